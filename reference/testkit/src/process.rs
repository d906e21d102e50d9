//! Starting a seqtun binary and learning its addresses: every binary prints `listening on ADDR`
//! on stdout once it accepts connections (`ROLE listening on ADDR` where it has several
//! listeners), and tests start them on port 0, so that line is how a test finds the port.

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};

/// The role and address of a `[ROLE ]listening on ADDR` line (role "" when there is none).
pub fn parse(line: &str) -> Option<(String, SocketAddr)> {
    let (role, addr) = line.trim().split_once("listening on ")?;
    Some((role.trim().to_string(), addr.parse().ok()?))
}

/// Reads one line and returns the address of its plain `listening on ADDR`; panics with the
/// line otherwise.
pub fn listening(out: &mut impl BufRead) -> SocketAddr {
    role_listening(out, "")
}

/// Reads one line and returns the address of its `ROLE listening on ADDR`; panics with the line
/// otherwise.
pub fn role_listening(out: &mut impl BufRead, role: &str) -> SocketAddr {
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    match parse(&line) {
        Some((r, addr)) if r == role => addr,
        _ => panic!("wanted `{role} listening on ADDR`, got {line:?}"),
    }
}

/// Reads lines until `n` `[ROLE ]listening on ADDR` lines were seen, skipping any other line;
/// panics if stdout ends first. Returns them in the order printed.
pub fn listeners(out: &mut impl BufRead, n: usize) -> Vec<(String, SocketAddr)> {
    let mut found = Vec::new();
    while found.len() < n {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the process exited after {} of {n} listening lines",
            found.len()
        );
        found.extend(parse(&line));
    }
    found
}

/// Starts `cmd` with stdout piped and waits for its plain `listening on ADDR` line; returns the
/// child, the address, and stdout for the lines that follow.
pub fn spawn_listening(cmd: &mut Command) -> (Child, SocketAddr, std::io::BufReader<ChildStdout>) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let addr = listening(&mut out);
    (child, addr, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_give_their_role_and_address() {
        let a: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(
            parse("listening on 127.0.0.1:80\n"),
            Some((String::new(), a))
        );
        assert_eq!(
            parse("socks5 listening on 127.0.0.1:80"),
            Some(("socks5".into(), a))
        );
        assert_eq!(parse("listening on nowhere"), None);
        let mut out =
            "starting\nlistening on 127.0.0.1:80\nmetrics listening on 127.0.0.1:80\n".as_bytes();
        assert_eq!(listeners(&mut out, 2).len(), 2);
        assert_eq!(
            role_listening(
                &mut "metrics listening on 127.0.0.1:80".as_bytes(),
                "metrics"
            ),
            a
        );
    }
}
