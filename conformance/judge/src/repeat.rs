//! `repeat` on a send step: the same ops once per index, so a case can fill a limit whose size
//! is a target parameter (the held replies of §7.10 are 32 on one node and 4 on another) without
//! a vector per size.

use serde::Deserialize;

use crate::expr::{Params, eval_u64};

/// Most copies a `repeat` makes: the node's default ops per batch (§9), so a vector cannot
/// build a body no node would take.
pub const MAX_REPEAT: u64 = 1024;

/// `{"count": EXPR, "from": EXPR}`: indexes `from..from + count` (`from` defaults to 0).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatSpec {
    pub count: String,
    #[serde(default)]
    pub from: Option<String>,
}

impl RepeatSpec {
    /// The indexes, evaluated against the target's parameters.
    pub fn range(&self, params: &Params) -> Result<std::ops::Range<u64>, String> {
        let count = eval_u64(&self.count, params).map_err(|e| e.to_string())?;
        if count > MAX_REPEAT {
            return Err(format!(
                "repeat count {count} (`{}`) is over {MAX_REPEAT}, the most ops a batch may carry",
                self.count
            ));
        }
        let from = match &self.from {
            Some(f) => eval_u64(f, params).map_err(|e| e.to_string())?,
            None => 0,
        };
        Ok(from..from + count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(count: &str, from: Option<&str>) -> RepeatSpec {
        RepeatSpec {
            count: count.into(),
            from: from.map(Into::into),
        }
    }

    #[test]
    fn counts_and_starts_from_parameters() {
        let p: Params = [("replay_max_held".to_string(), 4.0)].into();
        assert_eq!(spec("replay_max_held", None).range(&p), Ok(0..4));
        assert_eq!(spec("1", Some("replay_max_held")).range(&p), Ok(4..5));
        assert!(spec("nope", None).range(&p).unwrap_err().contains("nope"));
    }

    #[test]
    fn the_count_stops_at_max_repeat() {
        let p = Params::new();
        let at = MAX_REPEAT.to_string();
        assert_eq!(spec(&at, None).range(&p), Ok(0..MAX_REPEAT));
        let over = (MAX_REPEAT + 1).to_string();
        let e = spec(&over, None).range(&p).unwrap_err();
        assert!(e.contains("over 1024"), "{e}");
    }
}
