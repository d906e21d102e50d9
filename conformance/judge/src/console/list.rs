//! `--list`: the selected cases with their level and title and, given a target, whether each
//! would run or why not (a feature the target lacks, `--quick`), instead of libtest's bare
//! `name: test` lines that hid every runtime ignore.

use serde_json::json;

use super::Console;
use super::select::Plan;
use crate::cli::Format;

/// Prints the plan; `targeted` says whether a target's features were known.
pub fn print(console: &Console, plan: &Plan, targeted: bool) {
    let name_w = plan.trials.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let status = |skip: &Option<super::select::Skip>| match skip {
        None => "run".to_string(),
        Some(s) => format!("ignored: {}", s.reason()),
    };
    let status_w = plan
        .trials
        .iter()
        .map(|t| status(&t.skip).len())
        .max()
        .unwrap_or(0);
    for t in &plan.trials {
        if console.format() == Format::Json {
            console.event(json!({
                "type": "case", "name": t.name, "id": t.id, "target": t.target_label,
                "level": t.level.word(), "title": t.title,
                "run": targeted.then_some(t.skip.is_none()),
                "reason": t.skip.as_ref().map(|s| s.reason()),
            }));
            continue;
        }
        let tag = format!("[{}]", t.level.word());
        let line = if targeted {
            format!(
                "{tag:<8} {:<name_w$}  {:<status_w$}  {}",
                t.name,
                status(&t.skip),
                t.title
            )
        } else {
            format!("{tag:<8} {:<name_w$}  {}", t.name, t.title)
        };
        console.line(&line);
    }
    let n = plan.trials.len();
    let run = plan.running().count();
    let summary = if targeted {
        format!(
            "\n{n} cases: {run} would run, {} ignored; {} filtered out",
            n - run,
            plan.filtered_out
        )
    } else {
        format!(
            "\n{n} cases; {} filtered out (give a target to see which would run)",
            plan.filtered_out
        )
    };
    console.line(&summary);
}
