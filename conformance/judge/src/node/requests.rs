//! Building and sending the requests a case describes, in the inner dialect or (through a
//! relay) the outer one.

use serde_json::{Map, Value, json};

use super::{Run, StepFail};
use crate::case::{GetSpec, SendSpec, SingleSpec, UpstreamPush};
use crate::http::{Exchange, HttpError, gzip};
use crate::matcher::bytes::produce;

impl Run<'_> {
    fn subst(&self, v: &Value) -> Result<Value, StepFail> {
        self.vars
            .substitute(v)
            .map_err(|e| StepFail::new("substitute placeholders", "bound names", e.to_string()))
    }

    fn key_value(&self, key: &Option<String>, omit: bool) -> Result<Option<Value>, StepFail> {
        if omit {
            return Ok(None);
        }
        Ok(Some(match key {
            Some(k) => self.subst(&Value::String(k.clone()))?,
            None => Value::String(self.target.key.clone()),
        }))
    }

    /// A send step's ops, placeholders substituted; with `repeat`, the list once per index,
    /// each copy with `${i}` bound to its index.
    fn ops_of(&self, spec: &SendSpec) -> Result<Value, StepFail> {
        let template = Value::Array(spec.ops.clone().unwrap_or_default());
        let Some(repeat) = &spec.repeat else {
            return self.subst(&template);
        };
        let range = repeat
            .range(&self.target.params)
            .map_err(|e| StepFail::new("repeat", "a count within the limit", e))?;
        let mut out = Vec::new();
        for i in range {
            let mut vars = self.vars.clone();
            vars.set("i", json!(i));
            match vars.substitute(&template) {
                Ok(Value::Array(ops)) => out.extend(ops),
                Ok(other) => out.push(other),
                Err(e) => {
                    return Err(StepFail::new(
                        "substitute placeholders",
                        "bound names",
                        e.to_string(),
                    ));
                }
            }
        }
        Ok(Value::Array(out))
    }

    pub(crate) async fn send(&mut self, spec: &SendSpec) -> Result<(), StepFail> {
        let via_relay = self.target.relay_url.is_some();
        let mut body = if let Some(raw) = &spec.raw {
            self.vars
                .substitute_text(raw)
                .map_err(|e| {
                    StepFail::new("substitute placeholders", "bound names", e.to_string())
                })?
                .into_bytes()
        } else if let Some(hex) = &spec.raw_hex {
            produce(&json!({"hex": hex}), &self.target.params)
                .map_err(|e| StepFail::new("decode raw_hex", "hex", e.to_string()))?
        } else if let Some(b) = &spec.body {
            self.subst(b)?.to_string().into_bytes()
        } else {
            let ops = encode_payloads(self.ops_of(spec)?, &self.target.params)?;
            let mut env = Map::new();
            if let Some(k) = self.key_value(&spec.key, spec.omit_key)? {
                env.insert("k".into(), k);
            }
            if via_relay {
                env.insert("t".into(), json!("batch"));
            }
            env.insert("ops".into(), ops);
            let body = Value::Object(env).to_string();
            match &spec.pad_to {
                Some(len) => pad_to(body, len, &self.target.params)?,
                None => body,
            }
            .into_bytes()
        };
        if spec.gzip {
            body = gzip(&body);
        }
        let url = match &self.target.relay_url {
            Some(r) => r.clone(),
            None => format!("{}/tunnel/batch", self.base),
        };
        let name = self.name_for(&spec.name);
        self.dispatch(name, url, body, spec.background).await
    }

    pub(crate) async fn single(&mut self, spec: &SingleSpec) -> Result<(), StepFail> {
        let op = self.subst(&spec.op)?;
        let mut obj = op
            .as_object()
            .cloned()
            .ok_or_else(|| StepFail::new("single op", "an object", op.to_string()))?;
        let key = self.key_value(&spec.key, spec.omit_key)?;
        let (url, body) = match &self.target.relay_url {
            // Outer single form: {k, t, h, p, sid, d} (§1.5).
            Some(r) => {
                let mut outer = Map::new();
                if let Some(k) = key {
                    outer.insert("k".into(), k);
                }
                for (from, to) in [
                    ("op", "t"),
                    ("host", "h"),
                    ("port", "p"),
                    ("sid", "sid"),
                    ("data", "d"),
                ] {
                    if let Some(v) = obj.remove(from) {
                        outer.insert(to.into(), v);
                    }
                }
                outer.extend(obj);
                (r.clone(), Value::Object(outer))
            }
            None => {
                if let Some(k) = key {
                    obj.insert("k".into(), k);
                }
                (format!("{}/tunnel", self.base), Value::Object(obj))
            }
        };
        let name = self.name_for(&spec.name);
        self.dispatch(name, url, body.to_string().into_bytes(), spec.background)
            .await
    }

    pub(crate) async fn get(&mut self, spec: &GetSpec) -> Result<(), StepFail> {
        let url = format!("{}{}", self.base, spec.path);
        let name = self.name_for(&spec.name);
        let ex = self.http.get(&url).await.map_err(transport)?;
        self.store(name, ex);
        Ok(())
    }

    async fn dispatch(
        &mut self,
        name: String,
        url: String,
        body: Vec<u8>,
        background: bool,
    ) -> Result<(), StepFail> {
        if background {
            let http = self.http.clone();
            let task = tokio::spawn(async move { http.post(&url, body).await });
            self.pending.insert(name.clone(), task);
            self.last = Some(name);
            return Ok(());
        }
        let ex = self.http.post(&url, body).await.map_err(transport)?;
        self.store(name, ex);
        Ok(())
    }

    fn store(&mut self, name: String, ex: Exchange) {
        if let Some(Value::Object(o)) = ex.json() {
            let echoed = o
                .get("r")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|x| x.get("seq").is_some()));
            self.saw_seq_echo |= echoed;
        }
        self.replies.insert(name.clone(), ex);
        self.last = Some(name);
    }

    pub(crate) async fn await_reply(&mut self, name: &str) -> Result<(), StepFail> {
        let task = self.pending.remove(name).ok_or_else(|| {
            StepFail::new(
                format!("await `{name}`"),
                "a request sent with \"async\": true",
                "no such pending request",
            )
        })?;
        let ex = task
            .await
            .map_err(|e| StepFail::new("await", "the request task", e.to_string()))?
            .map_err(transport)?;
        self.store(name.to_string(), ex);
        Ok(())
    }

    pub(crate) async fn upstream_send(&mut self, spec: &UpstreamPush) -> Result<(), StepFail> {
        let bytes = produce(&spec.bytes, &self.target.params)
            .map_err(|e| StepFail::new("upstream_send", "a byte spec", e.to_string()))?;
        let f = self
            .fixtures
            .tcp(&spec.name)
            .map_err(|e| StepFail::new("upstream_send", "a TCP fixture", e.to_string()))?;
        f.push(&bytes)
            .await
            .map_err(|e| StepFail::new("upstream_send", "an accepted connection", e))
    }

    pub(crate) async fn udp_send(&mut self, spec: &UpstreamPush) -> Result<(), StepFail> {
        let bytes = produce(&spec.bytes, &self.target.params)
            .map_err(|e| StepFail::new("udp_send", "a byte spec", e.to_string()))?;
        let f = self
            .fixtures
            .udp(&spec.name)
            .map_err(|e| StepFail::new("udp_send", "a UDP fixture", e.to_string()))?;
        for i in 0..spec.count.unwrap_or(1) {
            let mut d = bytes.clone();
            if spec.count.is_some() {
                d.extend_from_slice(format!("{i:04}").as_bytes());
            }
            f.push(&d)
                .await
                .map_err(|e| StepFail::new("udp_send", "a peer to send to", e))?;
        }
        Ok(())
    }
}

/// Replaces every `{"$b64_of": BYTES}` in the ops with the base64 of those bytes, so a case can
/// send payloads of any size (`{"pattern": {"len": "1536KiB", "seed": 1}}`).
fn encode_payloads(v: Value, params: &crate::expr::Params) -> Result<Value, StepFail> {
    use base64::Engine as _;
    Ok(match v {
        Value::Object(o) if o.len() == 1 && o.contains_key("$b64_of") => {
            let bytes = produce(&o["$b64_of"], params)
                .map_err(|e| StepFail::new("$b64_of", "a byte spec", e.to_string()))?;
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| encode_payloads(v, params).map(|v| (k, v)))
                .collect::<Result<_, _>>()?,
        ),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|v| encode_payloads(v, params))
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}

/// Pads a JSON object body with an unknown top-level `_pad` field (§3.3: ignored) so the body
/// is exactly `len` bytes.
fn pad_to(body: String, len: &str, params: &crate::expr::Params) -> Result<String, StepFail> {
    let want = crate::expr::eval_u64(len, params)
        .map_err(|e| StepFail::new("pad_to", "a size expression", e.to_string()))?
        as usize;
    const FIELD: usize = r#","_pad":"""#.len();
    let Some(head) = body.strip_suffix('}') else {
        return Err(StepFail::new("pad_to", "a JSON object body", body));
    };
    let Some(fill) = want.checked_sub(body.len() + FIELD) else {
        return Err(StepFail::new(
            "pad_to",
            format!("a body of at most {want} bytes before padding"),
            format!("{} bytes", body.len()),
        ));
    };
    Ok(format!(r#"{head},"_pad":"{}"}}"#, "p".repeat(fill)))
}

fn transport(e: HttpError) -> StepFail {
    StepFail::new("HTTP exchange", "a reply", e.to_string())
}
