//! Bound names: values a case captures (`{"$bind":"sid"}`) or the runner provides (fixture
//! addresses, `key`), substituted into later steps as `${name}`.
//!
//! A string that is exactly one placeholder takes the bound value with its JSON type, so
//! `"port": "${up.port}"` becomes a number; a placeholder inside a longer string is spliced in
//! as text.

use std::collections::BTreeMap;

use serde_json::Value;

/// A placeholder named something never bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`${{{0}}}` is not bound at this step (bind it earlier with {{\"$bind\":\"{0}\"}})")]
pub struct Unbound(pub String);

#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, Value>,
}

impl Vars {
    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        self.values.insert(name.into(), value);
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Replaces every placeholder in `v`.
    pub fn substitute(&self, v: &Value) -> Result<Value, Unbound> {
        Ok(match v {
            Value::String(s) => self.substitute_str(s)?,
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|x| self.substitute(x))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, x)| Ok((k.clone(), self.substitute(x)?)))
                    .collect::<Result<_, Unbound>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Substitutes placeholders in a string that must stay a string (a URL, a body).
    pub fn substitute_text(&self, s: &str) -> Result<String, Unbound> {
        Ok(match self.substitute_str(s)? {
            Value::String(s) => s,
            other => other.to_string(),
        })
    }

    fn substitute_str(&self, s: &str) -> Result<Value, Unbound> {
        if let Some(name) = whole_placeholder(s) {
            return self
                .values
                .get(name)
                .cloned()
                .ok_or_else(|| Unbound(name.to_string()));
        }
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            match self.values.get(name) {
                Some(Value::String(text)) => out.push_str(text),
                Some(other) => out.push_str(&other.to_string()),
                None => return Err(Unbound(name.to_string())),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(Value::String(out))
    }
}

fn whole_placeholder(s: &str) -> Option<&str> {
    let name = s.strip_prefix("${")?.strip_suffix('}')?;
    (!name.contains('}') && !name.contains("${")).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_placeholders_keep_their_type() {
        let mut v = Vars::default();
        v.set("up.port", json!(8080));
        v.set("sid", json!("abc"));
        let got = v
            .substitute(&json!({"port":"${up.port}","sid":"${sid}","note":"sid=${sid}:${up.port}"}))
            .unwrap();
        assert_eq!(got, json!({"port":8080,"sid":"abc","note":"sid=abc:8080"}));
    }

    #[test]
    fn unbound_names_are_errors() {
        let v = Vars::default();
        let err = v.substitute(&json!(["${nope}"])).unwrap_err();
        assert_eq!(err, Unbound("nope".into()));
        assert!(v.substitute(&json!("x ${nope} y")).is_err());
    }

    #[test]
    fn text_without_placeholders_is_untouched() {
        let v = Vars::default();
        assert_eq!(
            v.substitute(&json!("a $ {b} ${")).unwrap(),
            json!("a $ {b} ${")
        );
    }
}
