//! Durations and sizes in vectors are written in units of the target's parameters
//! (`"longpoll_deadline - 300ms"`, `"drain_max + 4096"`), so one vector fits a node with a
//! 15 s long-poll and one with 2 s.
//!
//! Grammar: `term (("+" | "-") term)*`; `term = [number "*"] atom`; `atom` is a parameter name,
//! a number, or a number with a unit (`ms`, `s`, `KiB`, `MiB`). Durations are milliseconds,
//! sizes are bytes; a parameter knows which one it is.

use std::collections::BTreeMap;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    #[error(
        "unknown parameter `{0}` in `{1}` (known: see --list-params, set with --param NAME=VALUE)"
    )]
    UnknownParam(String, String),
    #[error("cannot parse `{0}`: {1}")]
    Syntax(String, String),
}

/// Named numeric parameters of a target (milliseconds for durations, bytes for sizes).
pub type Params = BTreeMap<String, f64>;

/// Evaluates `text` against `params`.
pub fn eval(text: &str, params: &Params) -> Result<f64, ExprError> {
    let syntax = |why: &str| ExprError::Syntax(text.to_string(), why.to_string());
    let mut total = 0.0;
    let mut sign = 1.0;
    let mut expect_term = true;
    for raw in tokenize(text) {
        match raw.as_str() {
            "+" | "-" if !expect_term => {
                sign = if raw == "+" { 1.0 } else { -1.0 };
                expect_term = true;
            }
            _ if expect_term => {
                total += sign * term(&raw, text, params)?;
                expect_term = false;
            }
            _ => return Err(syntax("two terms without an operator between them")),
        }
    }
    if expect_term {
        return Err(syntax("expression ends where a term was expected"));
    }
    Ok(total)
}

/// Evaluates to a whole number (milliseconds, bytes, counts); negative results are clamped to 0.
pub fn eval_u64(text: &str, params: &Params) -> Result<u64, ExprError> {
    Ok(eval(text, params)?.max(0.0).round() as u64)
}

fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        match c {
            '+' | '-' => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
                out.push(c.to_string());
            }
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn term(raw: &str, text: &str, params: &Params) -> Result<f64, ExprError> {
    let (factor, atom) = match raw.split_once('*') {
        Some((f, a)) => (number(f.trim(), text)?, a.trim()),
        None => (1.0, raw.trim()),
    };
    Ok(factor * self::atom(atom, text, params)?)
}

fn number(s: &str, text: &str) -> Result<f64, ExprError> {
    s.parse::<f64>()
        .map_err(|_| ExprError::Syntax(text.to_string(), format!("`{s}` is not a number")))
}

fn atom(a: &str, text: &str, params: &Params) -> Result<f64, ExprError> {
    if a.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        let split = a
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(a.len());
        let (n, unit) = a.split_at(split);
        let n = number(n, text)?;
        let scale = match unit.trim() {
            "" | "ms" | "B" => 1.0,
            "s" => 1000.0,
            "KiB" => 1024.0,
            "MiB" => 1024.0 * 1024.0,
            other => {
                return Err(ExprError::Syntax(
                    text.to_string(),
                    format!("unknown unit `{other}`"),
                ));
            }
        };
        return Ok(n * scale);
    }
    params
        .get(a)
        .copied()
        .ok_or_else(|| ExprError::UnknownParam(a.to_string(), text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Params {
        [
            ("longpoll_deadline".to_string(), 15000.0),
            ("drain_max".to_string(), 16.0 * 1048576.0),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn units_params_and_arithmetic() {
        assert_eq!(eval("350ms", &p()).unwrap(), 350.0);
        assert_eq!(eval("2s", &p()).unwrap(), 2000.0);
        assert_eq!(eval("longpoll_deadline - 300ms", &p()).unwrap(), 14700.0);
        assert_eq!(eval("0.5*longpoll_deadline + 1s", &p()).unwrap(), 8500.0);
        assert_eq!(
            eval("drain_max + 4096", &p()).unwrap(),
            16.0 * 1048576.0 + 4096.0
        );
        assert_eq!(eval("2 * drain_max", &p()).unwrap(), 32.0 * 1048576.0);
        assert_eq!(eval("4KiB", &p()).unwrap(), 4096.0);
        assert_eq!(eval_u64("100ms - 1s", &p()).unwrap(), 0);
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(matches!(
            eval("nope", &p()),
            Err(ExprError::UnknownParam(..))
        ));
        assert!(matches!(eval("1 2", &p()), Err(ExprError::Syntax(..))));
        assert!(matches!(eval("1 +", &p()), Err(ExprError::Syntax(..))));
        assert!(matches!(eval("3parsecs", &p()), Err(ExprError::Syntax(..))));
        assert!(matches!(eval("", &p()), Err(ExprError::Syntax(..))));
    }
}
