//! Boolean flags that also come from the environment.
//!
//! clap's default parser for a `SetTrue` flag accepts only `true`/`false` from the variable,
//! so `MHRV_DIAGNOSTIC=1` (as mhrv-rs documents it) stopped the binaries with "invalid value
//! '1' for '--diagnostic'", which does not even say that the value came from a variable. This
//! parser accepts the usual spellings and names the variable when it refuses one.

use std::ffi::OsStr;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;

/// Spellings of true and false, compared case-insensitively after trimming.
pub const TRUE_WORDS: [&str; 4] = ["1", "true", "yes", "on"];
pub const FALSE_WORDS: [&str; 5] = ["0", "false", "no", "off", ""];

/// The value parser for `#[arg(long, env = "X", action = ArgAction::SetTrue, value_parser =
/// env_bool())]`.
pub fn env_bool() -> EnvBool {
    EnvBool
}

/// See [`env_bool`].
#[derive(Debug, Clone, Copy)]
pub struct EnvBool;

/// `Some(b)` for a recognised spelling.
pub fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim().to_ascii_lowercase();
    if TRUE_WORDS.contains(&t.as_str()) {
        Some(true)
    } else if FALSE_WORDS.contains(&t.as_str()) {
        Some(false)
    } else {
        None
    }
}

impl TypedValueParser for EnvBool {
    type Value = bool;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<bool, clap::Error> {
        let text = value.to_string_lossy();
        if let Some(b) = parse_bool(&text) {
            return Ok(b);
        }
        let flag = arg.map_or_else(|| "the flag".to_string(), |a| format!("--{}", a.get_id()));
        let source = match arg.and_then(clap::Arg::get_env) {
            Some(var) => format!("{}={text:?}", var.to_string_lossy()),
            None => format!("{flag} {text:?}"),
        };
        let msg = format!(
            "{source} is not a boolean (for {flag}): use 1/0, true/false, yes/no or on/off\n"
        );
        Err(clap::Error::raw(ErrorKind::InvalidValue, msg).with_cmd(cmd))
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn cmd() -> Command {
        Command::new("t").arg(
            Arg::new("diagnostic")
                .long("diagnostic")
                .env("SEQTUN_RUNTIME_TEST_BOOL")
                .action(ArgAction::SetTrue)
                .value_parser(env_bool()),
        )
    }

    #[test]
    fn every_spelling() {
        for t in ["1", "true", "TRUE", "yes", "On", " on "] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for t in ["0", "false", "No", "off", ""] {
            assert_eq!(parse_bool(t), Some(false), "{t}");
        }
        for t in ["2", "maybe", "y e s"] {
            assert_eq!(parse_bool(t), None, "{t}");
        }
    }

    #[test]
    fn the_flag_and_a_bad_value_naming_the_variable() {
        let m = cmd().try_get_matches_from(["t", "--diagnostic"]).unwrap();
        assert!(m.get_flag("diagnostic"));
        let c = cmd();
        let arg = c.get_arguments().next().unwrap();
        let err = env_bool()
            .parse_ref(&c, Some(arg), OsStr::new("maybe"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("SEQTUN_RUNTIME_TEST_BOOL=\"maybe\""), "{err}");
        assert!(err.contains("1/0, true/false, yes/no or on/off"), "{err}");
        assert!(
            env_bool()
                .parse_ref(&c, Some(arg), OsStr::new("1"))
                .unwrap()
        );
    }
}
