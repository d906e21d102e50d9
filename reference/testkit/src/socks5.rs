//! A SOCKS5 test client (RFC 1928, with RFC 1929 username/password): what an app does to open a
//! connection through seqtun-client, byte by byte, so a test sees the exact reply.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// SOCKS5 `CONNECT` to `host:port` (an IPv4 or IPv6 literal, else a domain name) through
/// `proxy`; returns the reply code (0: granted) and the stream.
pub async fn connect(proxy: SocketAddr, host: &str, port: u16) -> (u8, TcpStream) {
    connect_auth(proxy, host, port, None).await
}

/// [`connect`], offering username/password `auth` when given (and asserting it is accepted).
pub async fn connect_auth(
    proxy: SocketAddr,
    host: &str,
    port: u16,
    auth: Option<(&str, &str)>,
) -> (u8, TcpStream) {
    let (reply, s) = request(proxy, host, port, auth).await;
    (reply[1], s)
}

/// A SOCKS5 `CONNECT` to `target` through `proxy`; panics unless it is granted.
pub async fn connect_addr(proxy: SocketAddr, target: SocketAddr) -> TcpStream {
    match try_connect_addr(proxy, target).await {
        Ok(s) => s,
        Err(reply) => panic!("SOCKS5 reply {reply:?}"),
    }
}

/// A SOCKS5 `CONNECT` to `target` through `proxy`: the stream, or the whole refusal reply.
pub async fn try_connect_addr(
    proxy: SocketAddr,
    target: SocketAddr,
) -> Result<TcpStream, [u8; 10]> {
    let (reply, s) = request(proxy, &target.ip().to_string(), target.port(), None).await;
    if reply[..2] == [5, 0] {
        Ok(s)
    } else {
        Err(reply)
    }
}

/// Greeting, optional authentication, then the `CONNECT` request; returns the reply's first 10
/// bytes (a reply with an IPv4 bound address, as seqtun-client sends) and the stream.
async fn request(
    proxy: SocketAddr,
    host: &str,
    port: u16,
    auth: Option<(&str, &str)>,
) -> ([u8; 10], TcpStream) {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    let method = if auth.is_some() { 2 } else { 0 };
    s.write_all(&[5, 1, method]).await.unwrap();
    let mut m = [0u8; 2];
    s.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, method], "method selection");
    if let Some((u, p)) = auth {
        let mut msg = vec![1, u.len() as u8];
        msg.extend(u.as_bytes());
        msg.push(p.len() as u8);
        msg.extend(p.as_bytes());
        s.write_all(&msg).await.unwrap();
        let mut st = [0u8; 2];
        s.read_exact(&mut st).await.unwrap();
        assert_eq!(st, [1, 0], "auth accepted");
    }
    s.write_all(&connect_request(host, port)).await.unwrap();
    let mut reply = [0u8; 10];
    s.read_exact(&mut reply).await.unwrap();
    (reply, s)
}

/// The `CONNECT` request for `host:port`: ATYP 1 or 4 for an IP literal, else 3.
fn connect_request(host: &str, port: u16) -> Vec<u8> {
    let mut req = vec![5, 1, 0];
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            req.push(1);
            req.extend(a.octets());
        }
        Ok(IpAddr::V6(a)) => {
            req.push(4);
            req.extend(a.octets());
        }
        Err(_) => {
            req.push(3);
            req.push(host.len() as u8);
            req.extend(host.as_bytes());
        }
    }
    req.extend(port.to_be_bytes());
    req
}

#[cfg(test)]
mod tests {
    use super::connect_request;

    #[test]
    fn requests_carry_the_address_type_the_host_is() {
        assert_eq!(
            connect_request("127.0.0.1", 80),
            [5, 1, 0, 1, 127, 0, 0, 1, 0, 80]
        );
        assert_eq!(
            connect_request("a.b", 443),
            [5, 1, 0, 3, 3, b'a', b'.', b'b', 1, 187]
        );
        let v6 = connect_request("::1", 1);
        assert_eq!((v6[3], v6.len(), v6[19]), (4, 22, 1));
    }
}
