//! The SOCKS5 front end (RFC 1928 `CONNECT`, RFC 1929 username/password).
//!
//! Written here rather than taken from a crate: the handshake is a few fixed-size reads, and
//! the reply must wait for the node's connect result and carry the §6.1 code, which the server
//! crates we looked at either decide themselves (they dial the target) or hide behind their own
//! connection abstractions.

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::{FrontError, Target};

const VERSION: u8 = 0x05;
const NO_AUTH: u8 = 0x00;
const USER_PASS: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xff;
const AUTH_VERSION: u8 = 0x01;
const CMD_CONNECT: u8 = 0x01;
const ATYP_V4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_V6: u8 = 0x04;
/// Reply codes used outside §6.1's table.
pub const REP_SUCCEEDED: u8 = 0x00;
pub const REP_COMMAND_NOT_SUPPORTED: u8 = 0x07;
pub const REP_ADDRESS_NOT_SUPPORTED: u8 = 0x08;

/// Runs the handshake up to and including the `CONNECT` request.
pub async fn handshake<S>(s: &mut S, auth: Option<&(String, String)>) -> Result<Target, FrontError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await?;
    if head[0] != VERSION {
        return Err(FrontError::Protocol(format!(
            "SOCKS version {} is not 5",
            head[0]
        )));
    }
    let mut methods = vec![0u8; head[1] as usize];
    s.read_exact(&mut methods).await?;
    let wanted = if auth.is_some() { USER_PASS } else { NO_AUTH };
    if !methods.contains(&wanted) {
        s.write_all(&[VERSION, NO_ACCEPTABLE]).await?;
        return Err(FrontError::Protocol(if auth.is_some() {
            "the app offered no username/password authentication (set it in the app, or drop --socks-user)".into()
        } else {
            "the app offered no 'no authentication' method".into()
        }));
    }
    s.write_all(&[VERSION, wanted]).await?;
    if let Some((user, pass)) = auth {
        sub_negotiation(s, user, pass).await?;
    }
    request(s).await
}

async fn sub_negotiation<S>(s: &mut S, user: &str, pass: &str) -> Result<(), FrontError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let ver = s.read_u8().await?;
    if ver != AUTH_VERSION {
        return Err(FrontError::Protocol(format!("auth version {ver} is not 1")));
    }
    let ulen = s.read_u8().await?;
    let mut u = vec![0u8; ulen as usize];
    s.read_exact(&mut u).await?;
    let plen = s.read_u8().await?;
    let mut p = vec![0u8; plen as usize];
    s.read_exact(&mut p).await?;
    let ok = u == user.as_bytes() && p == pass.as_bytes();
    s.write_all(&[AUTH_VERSION, if ok { 0 } else { 1 }]).await?;
    if ok {
        Ok(())
    } else {
        Err(FrontError::Protocol(
            "wrong SOCKS5 username or password".into(),
        ))
    }
}

async fn request<S>(s: &mut S) -> Result<Target, FrontError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await?;
    if head[0] != VERSION {
        return Err(FrontError::Protocol(format!(
            "request version {} is not 5",
            head[0]
        )));
    }
    let host = match head[3] {
        ATYP_V4 => {
            let mut a = [0u8; 4];
            s.read_exact(&mut a).await?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        ATYP_V6 => {
            let mut a = [0u8; 16];
            s.read_exact(&mut a).await?;
            std::net::Ipv6Addr::from(a).to_string()
        }
        ATYP_DOMAIN => {
            let len = s.read_u8().await?;
            let mut name = vec![0u8; len as usize];
            s.read_exact(&mut name).await?;
            match String::from_utf8(name) {
                Ok(name) if !name.is_empty() => name,
                _ => {
                    reply(s, REP_ADDRESS_NOT_SUPPORTED).await?;
                    return Err(FrontError::Protocol(
                        "an empty or non-UTF-8 domain name".into(),
                    ));
                }
            }
        }
        other => {
            reply(s, REP_ADDRESS_NOT_SUPPORTED).await?;
            return Err(FrontError::Protocol(format!("address type {other}")));
        }
    };
    let port = s.read_u16().await?;
    if head[1] != CMD_CONNECT {
        reply(s, REP_COMMAND_NOT_SUPPORTED).await?;
        return Err(FrontError::Protocol(format!(
            "SOCKS5 command {} (only CONNECT is supported)",
            head[1]
        )));
    }
    if port == 0 {
        reply(s, REP_ADDRESS_NOT_SUPPORTED).await?;
        return Err(FrontError::Protocol("port 0".into()));
    }
    Ok(Target { host, port })
}

/// Sends a reply with `rep` and an all-zero IPv4 bound address.
pub async fn reply<S>(s: &mut S, rep: u8) -> std::io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    s.write_all(&[VERSION, rep, 0, ATYP_V4, 0, 0, 0, 0, 0, 0])
        .await?;
    s.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(
        input: &[u8],
        auth: Option<(String, String)>,
    ) -> (Result<Target, FrontError>, Vec<u8>) {
        let (mut app, mut srv) = tokio::io::duplex(1024);
        app.write_all(input).await.unwrap();
        let res = handshake(&mut srv, auth.as_ref()).await;
        drop(srv);
        let mut out = Vec::new();
        app.read_to_end(&mut out).await.unwrap();
        (res, out)
    }

    #[tokio::test]
    async fn connect_with_each_address_type() {
        let (t, out) = run(&[5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90], None).await;
        assert_eq!(
            t.unwrap(),
            Target {
                host: "127.0.0.1".into(),
                port: 8080
            }
        );
        assert_eq!(out, [5, 0]);
        let mut v6 = vec![5, 1, 0, 5, 1, 0, 4];
        v6.extend(std::net::Ipv6Addr::LOCALHOST.octets());
        v6.extend([0, 80]);
        assert_eq!(run(&v6, None).await.0.unwrap().host, "::1");
        let mut dom = vec![5, 1, 0, 5, 1, 0, 3, 11];
        dom.extend(b"example.com");
        dom.extend([1, 187]);
        assert_eq!(
            run(&dom, None).await.0.unwrap(),
            Target {
                host: "example.com".into(),
                port: 443
            }
        );
    }

    #[tokio::test]
    async fn username_and_password() {
        let auth = Some(("u".to_string(), "pw".to_string()));
        let mut ok = vec![5, 2, 0, 2, 1, 1, b'u', 2, b'p', b'w'];
        ok.extend([5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
        let (t, out) = run(&ok, auth.clone()).await;
        assert!(t.is_ok());
        assert_eq!(out, [5, 2, 1, 0]);
        let bad = [5, 1, 2, 1, 1, b'u', 2, b'p', b'x'];
        let (t, out) = run(&bad, auth.clone()).await;
        assert!(t.is_err());
        assert_eq!(out, [5, 2, 1, 1]);
        let (t, out) = run(&[5, 1, 0], auth).await;
        assert!(t.unwrap_err().to_string().contains("--socks-user"));
        assert_eq!(out, [5, 0xff]);
    }

    #[tokio::test]
    async fn other_commands_and_address_types_are_refused_with_their_codes() {
        let (t, out) = run(&[5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80], None).await;
        assert!(t.is_err());
        assert_eq!(out[2..4], [5, REP_COMMAND_NOT_SUPPORTED]);
        let (t, out) = run(&[5, 1, 0, 5, 1, 0, 9], None).await;
        assert!(t.is_err());
        assert_eq!(out[2..4], [5, REP_ADDRESS_NOT_SUPPORTED]);
        let (t, _) = run(&[4, 1, 0], None).await;
        assert!(t.is_err());
    }
}
