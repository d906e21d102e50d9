//! Opening connections to a relay: plain TCP or TLS, optionally to a fronting address with a
//! chosen SNI while the HTTP `Host` stays the relay's (§1.5).
//!
//! hyper-util's pooled client takes any connector; ours ignores the URI's host when a front
//! address is set, because fronting means "talk to this IP, name that server in TLS, and ask
//! for the real host in HTTP". Existing HTTPS connectors tie SNI and the dialled host together.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A connection to a relay.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Dials relays, honouring `--front` and `--sni`.
#[derive(Clone)]
pub struct FrontConnector {
    front: Option<IpAddr>,
    sni: Option<String>,
    tls: TlsConnector,
}

impl FrontConnector {
    pub fn new(front: Option<IpAddr>, sni: Option<String>, tls: Arc<rustls::ClientConfig>) -> Self {
        Self {
            front,
            sni,
            tls: TlsConnector::from(tls),
        }
    }

    async fn connect(self, uri: Uri) -> io::Result<TokioIo<Stream>> {
        let invalid =
            |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{what} in {uri}"));
        let host = uri
            .host()
            .ok_or_else(|| invalid("no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']');
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid("unsupported scheme")),
        };
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        // Every failure says what was dialled: with fronting that is not the URL's host.
        let dialled = match self.front {
            Some(ip) => format!("{} (--front, for {host})", SocketAddr::new(ip, port)),
            None => format!("{host}:{port}"),
        };
        let tcp = match self.front {
            Some(ip) => TcpStream::connect(SocketAddr::new(ip, port)).await,
            None => TcpStream::connect((host, port)).await,
        }
        .map_err(|e| io::Error::new(e.kind(), format!("dialling {dialled}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        if !https {
            return Ok(TokioIo::new(Stream::Plain(tcp)));
        }
        let name = self.sni.as_deref().unwrap_or(host).to_string();
        let server_name = ServerName::try_from(name.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let tls = self
            .tls
            .connect(server_name, tcp)
            .await
            .map_err(|e| tls_error(e, &dialled, &name))?;
        Ok(TokioIo::new(Stream::Tls(Box::new(tls))))
    }
}

/// A TLS handshake failure, naming the address and server name, and the usual cause when
/// the peer answered in plain HTTP (a node URL given as https://).
fn tls_error(e: io::Error, dialled: &str, sni: &str) -> io::Error {
    let text = e.to_string();
    let plain = text.contains("InvalidContentType") || text.contains("corrupt message");
    let why = if plain {
        format!(
            "TLS handshake with {dialled} failed: it answered in plain HTTP, not TLS; the node speaks plain HTTP, use http:// in --relay"
        )
    } else {
        format!("TLS handshake with {dialled} (server name {sni}) failed: {text}")
    };
    io::Error::new(e.kind(), why)
}

impl tower_service::Service<Uri> for FrontConnector {
    type Response = TokioIo<Stream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<Stream>>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}

/// TLS settings: the webpki roots, plus the PEM certificates of `ca_file` if given.
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("--ca-file {}: {e}", path.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "--ca-file {}: no PEM certificate found",
                path.display()
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
