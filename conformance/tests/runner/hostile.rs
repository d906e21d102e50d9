//! A hostile or broken target cannot hurt the runner: a node answering an endless chunked body,
//! 1 GiB, a gzip bomb, or nothing at all leaves the runner in bounded memory, within its
//! timeouts, and stopped at the failed probe (exit 2) instead of running every case against it.
//! Measured before: past 6 GiB within 9-13 s, and 120 s per exchange for a silent target.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use seqtun_conform::builtin::KEY;

#[derive(Clone, Copy, Debug)]
enum Hostile {
    Endless,
    OneGib,
    GzipBomb,
    Silent,
}

/// A gzip bomb built cheaply: the start of a gzip stream of zeros, and one sync-flushed block
/// of 1 MiB of zeros that can be repeated (each copy, about 1 KiB, inflates to 1 MiB more).
fn bomb_parts() -> (Vec<u8>, Vec<u8>) {
    use flate2::{Compress, Compression, FlushCompress};
    let mut c = Compress::new(Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut chunk = |out: &mut Vec<u8>| {
        out.reserve(64 * 1024);
        let before = c.total_in();
        while c.total_in() - before < zeros.len() as u64 {
            let at = (c.total_in() - before) as usize;
            c.compress_vec(&zeros[at..], out, FlushCompress::Sync)
                .unwrap();
            out.reserve(64 * 1024);
        }
    };
    let mut first = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    chunk(&mut first);
    let mut again = Vec::new();
    chunk(&mut again);
    let mut repeat = Vec::new();
    chunk(&mut repeat);
    first.extend_from_slice(&again);
    (first, repeat)
}

async fn serve(mode: Hostile, listener: TcpListener) {
    let (head, repeat) = bomb_parts();
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let (head, repeat) = (head.clone(), repeat.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = s.read(&mut buf).await;
            let zeros = vec![b'0'; 64 * 1024];
            match mode {
                Hostile::Silent => tokio::time::sleep(Duration::from_secs(600)).await,
                Hostile::Endless => {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n").await;
                    let chunk =
                        [format!("{:x}\r\n", zeros.len()).as_bytes(), &zeros, b"\r\n"].concat();
                    while s.write_all(&chunk).await.is_ok() {}
                }
                Hostile::OneGib => {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n").await;
                    while s.write_all(&zeros).await.is_ok() {}
                }
                Hostile::GzipBomb => {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n").await;
                    let frame =
                        |b: &[u8]| [format!("{:x}\r\n", b.len()).as_bytes(), b, b"\r\n"].concat();
                    // About 3 MiB on the wire, inflating to 3 GiB.
                    let _ = s.write_all(&frame(&head)).await;
                    let repeat = frame(&repeat);
                    for _ in 0..3000 {
                        if s.write_all(&repeat).await.is_err() {
                            return;
                        }
                    }
                    let _ = s.write_all(b"0\r\n\r\n").await;
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
            }
        });
    }
}

/// The runner's peak resident memory in KiB (VmHWM), polled until it exits.
fn run_measured(url: &str, limit: Duration) -> (std::process::Output, u64, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_seqtun-conform"))
        .args([
            "node",
            "--url",
            url,
            "--key",
            KEY,
            "--profile",
            "fast",
            "--request-timeout",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            let hwm = status.lines().find_map(|l| l.strip_prefix("VmHWM:"));
            if let Some(kib) =
                hwm.and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (out, peak, started.elapsed())
}

/// Most memory the runner may use against a hostile target: its own baseline plus one reply
/// at the default read budget (64 MiB), with room for a debug build's allocator.
const PEAK_LIMIT_KIB: u64 = 256 * 1024;

#[test]
fn a_hostile_node_cannot_take_the_runners_memory_or_time() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for mode in [
        Hostile::Endless,
        Hostile::OneGib,
        Hostile::GzipBomb,
        Hostile::Silent,
    ] {
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        rt.spawn(serve(mode, listener));
        let (out, peak_kib, took) = run_measured(&url, Duration::from_secs(90));
        let t = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{mode:?}: {t}");
        assert!(
            peak_kib < PEAK_LIMIT_KIB,
            "{mode:?}: peak {peak_kib} KiB: {t}"
        );
        assert!(
            took < Duration::from_secs(60),
            "{mode:?}: took {took:?}: {t}"
        );
        assert!(
            !t.contains("\nrunning "),
            "{mode:?}: the failed probe stops the run: {t}"
        );
        eprintln!(
            "{mode:?}: exit 2 after {took:?}, peak {} MiB",
            peak_kib / 1024
        );
        let says = match mode {
            Hostile::Silent => "within 3s",
            Hostile::GzipBomb => "once inflated",
            _ => "is over 67108864 bytes",
        };
        assert!(t.contains(says), "{mode:?}: {t}");
    }
}

/// The fake node a client under test talks to reads at most its budget of a request body,
/// plain or inflated: a gzip bomb or an endless chunked upload is refused with 413.
#[test]
fn the_fake_node_bounds_request_bodies_and_their_inflation() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let limit = 1 << 20;
        let fake = seqtun_conform::client::fake::FakeNode::start_with_limit(limit).await.unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&vec![b' '; limit + 1]).unwrap();
        let bomb = enc.finish().unwrap();
        let mut fitting = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        fitting.write_all(&[br#"{"k":"k","ops":[]}"#.as_slice(), &vec![b' '; limit - 100]].concat()).unwrap();
        let fitting = fitting.finish().unwrap();
        for (body, want) in [(bomb, "413"), (fitting, "200")] {
            let mut s = tokio::net::TcpStream::connect(fake.addr).await.unwrap();
            let head = format!("POST /tunnel/batch HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            s.write_all(head.as_bytes()).await.unwrap();
            s.write_all(&body).await.unwrap();
            let mut reply = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut reply)).await;
            let reply = String::from_utf8_lossy(&reply);
            assert!(reply.starts_with(&format!("HTTP/1.1 {want}")), "{want}: {reply}");
        }
        // An upload that never ends is cut at the limit, not read forever.
        let mut s = tokio::net::TcpStream::connect(fake.addr).await.unwrap();
        s.write_all(b"POST /tunnel/batch HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n").await.unwrap();
        let chunk = [b"10000\r\n".as_slice(), &vec![b' '; 0x10000], b"\r\n"].concat();
        let (mut rd, mut wr) = s.into_split();
        let writer = tokio::spawn(async move { while wr.write_all(&chunk).await.is_ok() {} });
        let mut reply = vec![0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(10), rd.read(&mut reply)).await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&reply[..n]).starts_with("HTTP/1.1 413"));
        writer.abort();
        let junk = fake.state.lock().unwrap().junk.clone();
        assert!(junk.iter().any(|j| j.contains("gzip inflates to more than 1048576 bytes")), "{junk:?}");
        assert!(junk.iter().any(|j| j.contains("a body over 1048576 bytes")), "{junk:?}");
    });
}
