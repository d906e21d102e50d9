//! The `--script` and `--pattern` formats.
//!
//! Scripts are how exact fault tests are written, so a typo in one must fail loudly: an
//! unknown action or a field the action does not take is an error, never ignored.

use serde::Deserialize;

use super::{
    Action, DEFAULT_HOLD_AFTER, DEFAULT_SERVER_ERROR_STATUS, DuplicateReply, KINDS, PlanError,
    default_hold_max_ms,
};

/// A script entry before its fields are checked against its action. serde's
/// `deny_unknown_fields` does not reach the unit variants of a tagged enum, and a typo such as
/// `{"action":"drop_reply","after":1}` must fail loudly rather than be ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAction {
    action: String,
    reply: Option<DuplicateReply>,
    after: Option<u64>,
    max_ms: Option<u64>,
    status: Option<u16>,
    keep: Option<usize>,
    at: Option<usize>,
    entries: Option<[usize; 2]>,
}

impl TryFrom<RawAction> for Action {
    type Error = String;

    fn try_from(raw: RawAction) -> Result<Self, String> {
        let given = [
            ("reply", raw.reply.is_some()),
            ("after", raw.after.is_some()),
            ("max_ms", raw.max_ms.is_some()),
            ("status", raw.status.is_some()),
            ("keep", raw.keep.is_some()),
            ("at", raw.at.is_some()),
            ("entries", raw.entries.is_some()),
        ];
        let (action, allowed): (Action, &[&str]) = match raw.action.as_str() {
            "pass" => (Action::Pass, &[]),
            "drop_request" => (Action::DropRequest, &[]),
            "drop_reply" => (Action::DropReply, &[]),
            "duplicate" => (
                Action::Duplicate {
                    reply: raw.reply.unwrap_or_default(),
                },
                &["reply"],
            ),
            "hold_back" => (
                Action::HoldBack {
                    after: raw.after.unwrap_or(DEFAULT_HOLD_AFTER),
                    max_ms: raw.max_ms.unwrap_or_else(default_hold_max_ms),
                },
                &["after", "max_ms"],
            ),
            "decoy" => (Action::Decoy, &[]),
            "server_error" => (
                Action::ServerError {
                    status: raw.status.unwrap_or(DEFAULT_SERVER_ERROR_STATUS),
                },
                &["status"],
            ),
            "short_reply" => (Action::ShortReply { keep: raw.keep }, &["keep"]),
            "strip_unknown" => (Action::StripUnknown, &[]),
            "extra_entry" => (Action::ExtraEntry { at: raw.at }, &["at"]),
            "swap_entries" => (
                Action::SwapEntries {
                    entries: raw.entries,
                },
                &["entries"],
            ),
            other => return Err(format!("unknown action {other:?}; known: {KINDS}")),
        };
        match given
            .iter()
            .find(|(name, set)| *set && !allowed.contains(name))
        {
            Some((name, _)) => Err(format!("action {:?} takes no field {name:?}", raw.action)),
            None => Ok(action),
        }
    }
}

/// Parses a `--script` file: a JSON list of actions.
pub fn parse_script(text: &str) -> Result<Vec<Action>, PlanError> {
    serde_json::from_str(text).map_err(|e| PlanError::Script(e.to_string()))
}

/// Parses a `--pattern`: action names separated by commas, each with default parameters.
pub fn parse_pattern(text: &str) -> Result<Vec<Action>, PlanError> {
    let list = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|kind| Action::from_kind(kind).ok_or_else(|| PlanError::UnknownAction(kind.into())))
        .collect::<Result<Vec<_>, _>>()?;
    if list.is_empty() {
        return Err(PlanError::EmptyPattern);
    }
    Ok(list)
}
