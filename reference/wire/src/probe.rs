//! The key-first look at a request body (§1.4, §3.5): is it JSON, is it an envelope, which `k`
//! does it carry and how many ops, without building a single op.
//!
//! A node that parsed every op before checking the key spent memory for anyone who could
//! reach its port: a 60 MiB body of `[0,0,...]` became a gigabyte of JSON values, and a 64 KiB
//! gzip body inflated to the same. The probe streams the body (inflating gzip as it goes)
//! through serde_json with every op ignored, so its cost is the raw body plus a constant: the
//! inflater's window, the nesting stack (capped at [`MAX_JSON_DEPTH`]) and the envelope's own
//! strings (`k`, field names: capped at [`MAX_ENVELOPE_TOKEN`]). Only after the key matched does
//! the node parse the ops (`crate::ops::raw::parse_ops`), one borrowed raw op at a time into
//! typed ops, so an op's JSON never expands into a value tree either.

use std::io::Read;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::body::{BodyError, is_gzip};

/// Deepest nesting a body may have (serde_json's own recursion limit for typed parsing).
pub const MAX_JSON_DEPTH: usize = 128;
/// Longest string or number directly in the envelope (a field name, `k`, `t`, ...); ops and
/// their payloads are not bounded by this.
pub const MAX_ENVELOPE_TOKEN: usize = 64 << 10;

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `k` as sent (`null` and absent are `None`).
    pub k: Option<String>,
    /// How many ops `ops` holds, when it is there.
    pub ops: Option<usize>,
}

/// Why a body is not a usable envelope. `Display` is the reply's `e` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("bad json: {0}")]
    BadJson(String),
    #[error(transparent)]
    Body(#[from] BodyError),
}

/// Probes a batch body, plain or gzip (inflated up to `limit` bytes); `ops` must be an array.
pub fn probe_batch(body: &[u8], limit: usize) -> Result<Probe, ProbeError> {
    let probe = if is_gzip(body) {
        probe_reader(flate2::read::GzDecoder::new(body), limit)?
    } else {
        probe_reader(body, limit)?
    };
    if probe.ops.is_none() {
        return Err(ProbeError::BadJson("missing field `ops`".into()));
    }
    Ok(probe)
}

/// Probes a single-op body (plain JSON only): its `k`, nothing else.
pub fn probe_single(body: &[u8]) -> Result<Probe, ProbeError> {
    probe_reader(body, usize::MAX)
}

fn probe_reader<R: Read>(reader: R, limit: usize) -> Result<Probe, ProbeError> {
    let mut guard = Guard::new(reader, limit);
    let result = {
        let mut de = serde_json::Deserializer::from_reader(&mut guard);
        de.deserialize_map(EnvelopeVisitor)
            .and_then(|p| de.end().map(|()| p))
    };
    match (result, guard.tripped.take()) {
        (_, Some(trip)) => Err(trip),
        (Ok(p), None) => Ok(p),
        (Err(e), None) => Err(ProbeError::BadJson(e.to_string())),
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Probe;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an envelope object {\"k\":...,\"ops\":[...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
        let mut k: Option<Option<String>> = None;
        let mut ops: Option<usize> = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::K if k.is_some() => return Err(de::Error::duplicate_field("k")),
                Field::K => k = Some(map.next_value()?),
                Field::Ops if ops.is_some() => return Err(de::Error::duplicate_field("ops")),
                Field::Ops => ops = Some(map.next_value::<OpCount>()?.0),
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Probe {
            k: k.flatten(),
            ops,
        })
    }
}

enum Field {
    K,
    Ops,
    Other,
}

impl<'de> serde::Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "k" => Field::K,
                    "ops" => Field::Ops,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// An array, counted and otherwise ignored.
struct OpCount(usize);

impl<'de> serde::Deserialize<'de> for OpCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OpCount;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OpCount, A::Error> {
                let mut n = 0usize;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(OpCount(n))
            }
        }
        d.deserialize_seq(V)
    }
}

/// Reads through to serde_json while bounding what serde_json could buffer: the total
/// (inflated) size, the nesting depth, and tokens directly in the envelope. Exceeding one
/// stops the read with the reason kept in `tripped`.
struct Guard<R> {
    inner: R,
    limit: usize,
    total: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Length of the current capped string or bare token at depth 0 or 1.
    token: usize,
    max_token: usize,
    /// Where the scan is in the envelope's own keys and values.
    env: EnvelopeScan,
    /// The start of a UTF-8 sequence split across two reads.
    carry: Vec<u8>,
    tripped: Option<ProbeError>,
}

impl<R: Read> Guard<R> {
    fn new(inner: R, limit: usize) -> Self {
        Self {
            inner,
            limit,
            total: 0,
            depth: 0,
            in_string: false,
            escaped: false,
            token: 0,
            max_token: MAX_ENVELOPE_TOKEN,
            env: EnvelopeScan::default(),
            carry: Vec::new(),
            tripped: None,
        }
    }

    /// Checks that `bytes`, continuing what came before, are UTF-8. serde_json checks the text
    /// it keeps but not the strings it skips, so without this a body that is not JSON (JSON is
    /// UTF-8) would pass the probe whenever its bad bytes sit inside an op.
    fn utf8(&mut self, mut bytes: &[u8]) -> bool {
        while !self.carry.is_empty() {
            let Some((&b, rest)) = bytes.split_first() else {
                return true;
            };
            self.carry.push(b);
            bytes = rest;
            match std::str::from_utf8(&self.carry) {
                Ok(_) => self.carry.clear(),
                Err(e) if e.error_len().is_some() || self.carry.len() >= 4 => return false,
                Err(_) => {}
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => true,
            Err(e) if e.error_len().is_some() => false,
            Err(e) => {
                self.carry.extend_from_slice(&bytes[e.valid_up_to()..]);
                true
            }
        }
    }

    fn trip(&mut self, why: ProbeError) -> std::io::Error {
        let e = std::io::Error::other(why.to_string());
        self.tripped.get_or_insert(why);
        e
    }

    /// Follows the lexical structure of `bytes`; the reason to stop, if any.
    fn scan(&mut self, bytes: &[u8]) -> Option<ProbeError> {
        for &b in bytes {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                    self.env.key_escaped |= self.env.in_key;
                } else if b == b'"' {
                    self.in_string = false;
                    self.token = 0;
                    self.env.key_closed();
                } else if self.env.in_key {
                    self.env.key_byte(b);
                }
            } else {
                match b {
                    b'"' => {
                        self.in_string = true;
                        self.token = 0;
                        self.env.string_opens(self.depth);
                    }
                    b'{' | b'[' => {
                        self.depth += 1;
                        self.token = 0;
                        self.env.expect_key = self.depth == 1 && b == b'{';
                        if self.depth > MAX_JSON_DEPTH {
                            return Some(ProbeError::BadJson(format!(
                                "nested deeper than {MAX_JSON_DEPTH} levels"
                            )));
                        }
                    }
                    b'}' | b']' => {
                        self.depth = self.depth.saturating_sub(1);
                        self.token = 0;
                    }
                    b',' | b':' => {
                        self.token = 0;
                        if self.depth == 1 {
                            self.env.separator(b);
                        }
                    }
                    b' ' | b'\t' | b'\r' | b'\n' => self.token = 0,
                    _ => {}
                }
            }
            let counted = if self.in_string {
                self.env.string_capped
            } else {
                !b.is_ascii_whitespace()
            };
            if self.depth <= 1 && counted {
                self.token += 1;
                if self.token > self.max_token {
                    return Some(ProbeError::BadJson(format!(
                        "a string or number in the envelope is longer than {MAX_ENVELOPE_TOKEN} bytes"
                    )));
                }
            }
        }
        None
    }
}

/// Which strings directly in the envelope serde_json will buffer, so the guard caps only
/// those: every field name, and the value of `k` (or of a name written with escapes, which
/// could spell `k`). The values of other fields are skipped unbuffered, so a client may pad its
/// envelope with an unknown field of any size (§3.3; vector
/// `node/transport/accepts-a-2-mib-body` pads with 1 MiB).
#[derive(Default)]
struct EnvelopeScan {
    /// The next string at depth 1 is a field name.
    expect_key: bool,
    in_key: bool,
    key_len: usize,
    key_first: u8,
    key_escaped: bool,
    /// The value after the current name is buffered (`k`, or an escaped name).
    value_kept: bool,
    /// The string being read counts against the token cap.
    string_capped: bool,
}

impl EnvelopeScan {
    fn string_opens(&mut self, depth: usize) {
        self.in_key = depth == 1 && self.expect_key;
        self.string_capped = depth == 0 || self.in_key || (depth == 1 && self.value_kept);
        if self.in_key {
            self.key_len = 0;
            self.key_escaped = false;
        }
    }

    fn key_byte(&mut self, b: u8) {
        if self.key_len == 0 {
            self.key_first = b;
        }
        self.key_len += 1;
    }

    fn key_closed(&mut self) {
        if self.in_key {
            self.in_key = false;
            self.value_kept = self.key_escaped || (self.key_len == 1 && self.key_first == b'k');
        }
    }

    fn separator(&mut self, b: u8) {
        self.expect_key = b == b',';
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.tripped.is_some() {
            return Err(std::io::Error::other("probe stopped"));
        }
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => return Err(self.trip(BodyError::Gzip(e.to_string()).into())),
        };
        self.total = self.total.saturating_add(n);
        if self.total > self.limit {
            let limit = self.limit;
            return Err(self.trip(BodyError::TooLarge { limit }.into()));
        }
        if !self.utf8(&buf[..n]) || (n == 0 && !self.carry.is_empty()) {
            let why = ProbeError::BadJson(format!("invalid UTF-8 after {} bytes", self.total));
            return Err(self.trip(why));
        }
        if let Some(why) = self.scan(&buf[..n]) {
            return Err(self.trip(why));
        }
        Ok(n)
    }
}

/// True when `json` nests no deeper than [`MAX_JSON_DEPTH`] levels (strings are skipped; the
/// text need not be valid JSON). A relay checks this before it lets serde skip over a body it
/// has not parsed yet: skipping keeps one byte per open level.
pub fn nesting_within_limit(json: &[u8]) -> bool {
    let mut g = Guard::new(std::io::empty(), usize::MAX);
    g.max_token = usize::MAX;
    g.scan(json).is_none()
}

#[cfg(test)]
mod tests;
