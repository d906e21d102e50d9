//! The vector format (vectors/README.md): one case per JSON file, its id the file's path under
//! `vectors/` without `.json`. Parsing is strict (unknown keys are errors) because a typo in a
//! vector would otherwise silently weaken it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

pub use crate::repeat::RepeatSpec;

/// Who the case tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Node,
    Client,
}

/// How binding the checked behaviour is (RFC 2119 words of docs/PROTOCOL.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Must,
    Should,
    May,
}

impl Level {
    /// The word vectors and reports use.
    pub fn word(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::May => "may",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub title: String,
    /// The docs/PROTOCOL.md section checked, e.g. `"7.4"`.
    pub section: String,
    pub role: Role,
    /// Features the target must have; otherwise the case is ignored with the reason.
    #[serde(default)]
    pub requires: Vec<String>,
    pub level: Level,
    /// Bug classes the case targets (Wycheproof style), e.g. `"seq-echo"`, `"index-shift"`.
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub notes: Option<String>,
    pub steps: Vec<Step>,
}

/// A loaded case.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub file: CaseFile,
}

/// One step. Each is a one-key object: `{"send": {...}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    // ---- node role: the runner plays client (and relay) and the upstream servers ----
    Upstream(UpstreamSpec),
    Send(SendSpec),
    Single(SingleSpec),
    Get(GetSpec),
    Await(String),
    Expect(ExpectSpec),
    Collect(CollectSpec),
    ExpectUpstream(UpstreamExpect),
    UpstreamSend(UpstreamPush),
    UpstreamClose(NameOnly),
    UdpSend(UpstreamPush),
    Sleep(String),
    // ---- client role: the runner plays the app, and the relay or node the client talks to ----
    AppOpen(AppOpen),
    AppOpened(AppOpened),
    AppSend(AppSend),
    AppExpect(AppExpect),
    AppHalfClose(NameOnly),
    AppClose(NameOnly),
    AppExpectClosed(AppExpectClosed),
    ExpectOp(ExpectOp),
    ExpectNoOp(ExpectNoOp),
    Reply(ReplySpec),
    Respond(RespondSpec),
    ExpectBatch(ExpectBatch),
    Release(ReleaseSpec),
    BodyLimit(BodyLimitSpec),
    Uploads(UploadsSpec),
    ExpectBodies(ExpectBodiesSpec),
}

/// How the app reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Socks5,
    Http,
}

/// The app connects to the client's front end and asks for `host:port`; the handshake's answer
/// is awaited later with `app_opened`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppOpen {
    pub name: String,
    pub via: Via,
    pub host: String,
    pub port: u16,
    /// SOCKS5 username/password (RFC 1929) instead of no authentication.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub pass: Option<String>,
    /// Bytes the app sends right after its request, without waiting for the answer (optimistic
    /// data, as a TLS client's first flight): what a client turns into `connect_data`.
    #[serde(default)]
    pub early: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppOpened {
    pub name: String,
    /// The front end granted the connection (default true).
    #[serde(default)]
    pub ok: Option<bool>,
    /// The exact SOCKS5 reply code (0 = succeeded).
    #[serde(default)]
    pub socks_reply: Option<u8>,
    /// The exact HTTP status of the CONNECT answer.
    #[serde(default)]
    pub http_status: Option<u16>,
    #[serde(default)]
    pub within: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSend {
    pub name: String,
    pub bytes: Value,
}

/// Everything the app has received so far (after the handshake) must equal `bytes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppExpect {
    pub name: String,
    pub bytes: Value,
    #[serde(default)]
    pub within: Option<String>,
    /// ... and still equal it this much later (nothing more, nothing reordered).
    #[serde(default)]
    pub stays: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppExpectClosed {
    pub name: String,
    #[serde(default)]
    pub within: Option<String>,
}

/// Waits for an op the client sent (from any batch, oldest first) that matches `op` and has
/// not been claimed yet; claims it as `as` and binds `${as.field}` for each of its fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectOp {
    pub op: Value,
    #[serde(default, rename = "as")]
    pub name: Option<String>,
    #[serde(default)]
    pub within: Option<String>,
    /// While waiting, answer other unclaimed ops matching this (e.g. the polls a legacy loop
    /// sends before the write the case waits for).
    #[serde(default)]
    pub answering: Option<AutoAnswer>,
}

/// Ops matching `op` are answered with `with`, in which `${op.field}` names the answered op's
/// fields; `seq` is echoed automatically when the op had one and `with` does not set it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoAnswer {
    pub op: Value,
    #[serde(rename = "with")]
    pub reply: Value,
}

/// No unclaimed op matching `op` arrives during `during`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectNoOp {
    pub op: Value,
    pub during: String,
}

/// Sets the reply to a claimed op; a batch is answered once all its ops have replies (`close`
/// ops are answered `{"sid":S,"eof":true}` automatically).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplySpec {
    pub to: String,
    #[serde(rename = "with")]
    pub reply: Value,
    /// Copy the op's `seq` into the reply (when it had one and `with` does not set it).
    #[serde(default)]
    pub echo_seq: bool,
    /// An entry the batch holding the op gets besides one per op, as a hop that rewrites `r`
    /// would add it (§3.1).
    #[serde(default)]
    pub extra: Option<ExtraEntry>,
}

/// One entry added to a batch's `r`, at its start or its end.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraEntry {
    pub at: ExtraAt,
    pub entry: Value,
}

/// Where an [`ExtraEntry`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtraAt {
    Start,
    End,
}

/// Answers the whole batch holding op `to` at once, however the case needs: an explicit `r`
/// (shorter, reordered), another HTTP status, a raw body (the Apps Script decoy page), gzip, HTML
/// around the JSON, or a redirect to a one-time URL first.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RespondSpec {
    pub to: String,
    #[serde(default)]
    pub r: Option<Vec<Value>>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub raw: Option<String>,
    #[serde(default)]
    pub gzip: bool,
    #[serde(default)]
    pub html_wrap: bool,
    #[serde(default)]
    pub redirect: bool,
}

/// Checks the envelope of the batch that carried op `of`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectBatch {
    pub of: String,
    pub json: Value,
}

/// Answers every op still waiting: `empty` (`{"sid":S,"eof":false}`), `eof`, or `error`.
/// From now on the fake node refuses any request body over `max` bytes as a deployed node
/// does: HTTP 413 (or, in the outer dialect, a relay's `{"e":"tunnel batch HTTP 413"}`), and
/// none of its ops is recorded, since none ran.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyLimitSpec {
    pub max: String,
}

/// One session's upload: app `app` writes `bytes`, which must arrive on session `sid`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadSpec {
    pub app: String,
    pub sid: String,
    pub bytes: Value,
}

/// Every app writes its bytes while the fake node answers every `data` op of these sessions as
/// it arrives (`{"sid":S,"eof":false}`, `seq` echoed); their payloads, in `seq` order (arrival
/// order without `seq`), must be exactly the app's bytes: nothing lost, nothing twice, nothing
/// reordered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadsSpec {
    pub sessions: Vec<UploadSpec>,
    #[serde(default)]
    pub within: Option<String>,
}

/// Checks the request bodies the client sent so far: each at most `max` bytes; `refused`
/// matches the number `body_limit` refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectBodiesSpec {
    #[serde(default)]
    pub max: Option<String>,
    #[serde(default)]
    pub refused: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSpec {
    #[serde(rename = "with")]
    pub how: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameOnly {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamKind {
    /// Echoes every byte.
    Echo,
    /// Records bytes, never answers.
    Sink,
    /// Sends `bytes` on accept, then closes (unless `close: false`).
    Source,
    /// Accepts and closes at once (FIN).
    Closer,
    /// Accepts and resets (RST) shortly after, once the node's connect has surely completed.
    Reset,
    /// Accepts, never reads, never writes.
    Silent,
    /// Follows `script`.
    Script,
    /// A port nothing listens on.
    Closed,
    /// Echoes every datagram.
    UdpEcho,
    /// A port whose TCP handshakes never complete, so connects to it time out.
    Blackhole,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    pub name: String,
    pub kind: UpstreamKind,
    #[serde(default)]
    pub bytes: Option<Value>,
    #[serde(default)]
    pub close: Option<bool>,
    #[serde(default)]
    pub script: Vec<Value>,
}

/// POST a batch. By default `{"k": KEY, "ops": ops}` (inner) or the outer form through a relay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendSpec {
    #[serde(default)]
    pub ops: Option<Vec<Value>>,
    /// The whole JSON body, replacing the envelope the runner would build.
    #[serde(default)]
    pub body: Option<Value>,
    /// A raw text body (malformed cases).
    #[serde(default)]
    pub raw: Option<String>,
    /// A raw body given as hex (binary cases).
    #[serde(default)]
    pub raw_hex: Option<String>,
    /// Use this key instead of the target's.
    #[serde(default)]
    pub key: Option<String>,
    /// Leave `k` out entirely.
    #[serde(default)]
    pub omit_key: bool,
    /// gzip the body.
    #[serde(default)]
    pub gzip: bool,
    /// Pad the envelope with an unknown `_pad` field to exactly this many bytes (before gzip).
    #[serde(default)]
    pub pad_to: Option<String>,
    #[serde(default, rename = "as")]
    pub name: Option<String>,
    /// Do not wait for the reply here; `await` it later.
    #[serde(default, rename = "async")]
    pub background: bool,
    /// Send `ops` once per index, `${i}` bound to it: for a case that fills a limit whose size
    /// is a target parameter (`"count": "replay_max_held"`).
    #[serde(default)]
    pub repeat: Option<RepeatSpec>,
}

/// POST one op to `/tunnel` in the single-op form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SingleSpec {
    pub op: Value,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub omit_key: bool,
    #[serde(default, rename = "as")]
    pub name: Option<String>,
    #[serde(default, rename = "async")]
    pub background: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetSpec {
    pub path: String,
    #[serde(default, rename = "as")]
    pub name: Option<String>,
}

/// Checks on a reply (the last one unless `of` names another).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    #[serde(default)]
    pub of: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    /// Prefix of the Content-Type header.
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub body_contains: Vec<String>,
    /// Matcher for the whole JSON body.
    #[serde(default)]
    pub json: Option<Value>,
    /// Matchers for `r`, one per op; `len(r)` must equal their count.
    #[serde(default)]
    pub r: Option<Vec<Value>>,
    /// The reply must arrive within this long after its request was sent (expression).
    #[serde(default)]
    pub within: Option<String>,
    /// ... and not before this long (expression).
    #[serde(default)]
    pub not_before: Option<String>,
}

/// Polls a session and checks the concatenated downlink: chunking legitimately differs between
/// nodes, the stream must not.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectSpec {
    pub sid: String,
    pub bytes: Value,
    /// Send seq'd polls starting at this seq (for pipelined sessions).
    #[serde(default)]
    pub seq_from: Option<u64>,
    /// Keep polling until `eof:true` (and require it).
    #[serde(default)]
    pub until_eof: bool,
    #[serde(default)]
    pub max_polls: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamExpect {
    pub name: String,
    #[serde(default)]
    pub bytes: Option<Value>,
    #[serde(default)]
    pub closed: Option<bool>,
    #[serde(default)]
    pub accepted: Option<u32>,
    /// How long to wait for the expectation to hold (default 5 s).
    #[serde(default)]
    pub within: Option<String>,
    /// After it holds, it must still hold this much later (nothing more arrives).
    #[serde(default)]
    pub stays: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamPush {
    pub name: String,
    pub bytes: Value,
    /// Datagrams only: send it this many times (numbered by appending nothing).
    #[serde(default)]
    pub count: Option<u32>,
}

/// Why the vectors could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0} is not a valid case: {1}")]
    Parse(PathBuf, serde_json::Error),
}

/// Loads every `*.json` case under `dir/<role>/`, sorted by id.
pub fn load_dir(root: &Path) -> Result<Vec<Case>, LoadError> {
    let mut files = Vec::new();
    walk(root, &mut files).map_err(|e| LoadError::Io(root.to_path_buf(), e))?;
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let Some(first) = rel.components().next() else {
            continue;
        };
        if !matches!(first.as_os_str().to_str(), Some("node" | "client")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| LoadError::Io(path.clone(), e))?;
        let file: CaseFile =
            serde_json::from_str(&text).map_err(|e| LoadError::Parse(path.clone(), e))?;
        let id = rel.with_extension("").to_string_lossy().replace('\\', "/");
        cases.push(Case { id, file });
    }
    Ok(cases)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// The default vectors directory: `$SEQTUN_VECTORS`, else `vectors/` next to the binary,
/// else the source tree's (see [`crate::vectors_dir`]).
pub fn default_dir() -> PathBuf {
    crate::vectors_dir::find(None).0
}
