//! The judge's command-line arguments: `node` and `client` point it at any implementation, and
//! [`Common`] holds what every run takes. The `seqtun-conform` binary puts them under its own
//! parser, beside its main job; another binary can embed them the same way.
//!
//! The case-selection flags are libtest's (`cargo test` passes them to the `reference` test
//! target too), but only the ones that mean something here are shown; the rest are accepted and
//! hidden so `cargo test -- --nocapture` and friends keep working.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Help headings, shared with the binaries that embed these arguments.
pub mod heading {
    pub const TARGET: &str = "Target";
    pub const SELECT: &str = "Selecting cases";
    pub const TIMING: &str = "Timing";
    pub const REPORTS: &str = "Reports";
    pub const OUTPUT: &str = "Output";
    pub const LIMITS: &str = "Limits";
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// How to start the client, with placeholders {relay_url} {key} {socks} {http}, e.g.
    /// 'seqtun-client --relay {relay_url} --key {key} --socks {socks} --http {http}'.
    /// The client must print `socks5 listening on ADDR` / `http listening on ADDR`; exit code 89
    /// means "unsupported". Each start gets a process group of its own, ended with the case.
    #[arg(long, help_heading = heading::TARGET)]
    pub cmd: String,
    /// The key to give the client (any value; the runner's fake node accepts it).
    #[arg(long, default_value = "conformance-key", help_heading = heading::TARGET)]
    pub key: String,
    /// Give the client an Apps Script style URL (outer dialect) instead of a node URL.
    #[arg(long, help_heading = heading::TARGET)]
    pub outer: bool,
    /// Timing parameters: seqtun, node-903, node-main, fast.
    #[arg(long, default_value = "seqtun", help_heading = heading::TIMING)]
    pub profile: String,
    /// Override one parameter, e.g. --param coalesce_max=200ms (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", help_heading = heading::TIMING)]
    pub params: Vec<String>,
    /// Claim a client feature the probe cannot see (repeatable).
    #[arg(long = "feature", value_name = "FEATURE", help_heading = heading::TARGET)]
    pub features: Vec<String>,
    /// Deny a client feature, e.g. --no-feature http-connect (repeatable).
    #[arg(long = "no-feature", value_name = "FEATURE", help_heading = heading::TARGET)]
    pub no_features: Vec<String>,
    /// How the client is named in reports [default: the command's first word].
    #[arg(long, help_heading = heading::TARGET)]
    pub label: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// A node's base URL, e.g. http://127.0.0.1:8080 (inner dialect). Repeat it (and
    /// --relay-url) to test several targets side by side.
    #[arg(long, value_name = "URL", help_heading = heading::TARGET)]
    pub url: Vec<String>,
    /// A relay's exec URL, e.g. https://…/macros/s/ID/exec (outer dialect); repeatable.
    #[arg(long, value_name = "URL", help_heading = heading::TARGET)]
    pub relay_url: Vec<String>,
    /// The key the first hop checks (node key, or relay key with --relay-url). Give it once for
    /// every target or once per target, in the order --url then --relay-url.
    #[arg(long, env = "SEQTUN_KEY", hide_env_values = true, help_heading = heading::TARGET)]
    pub key: Vec<String>,
    /// The same node started in diagnostic mode, for the cases that need it (one target only).
    #[arg(long, value_name = "URL", help_heading = heading::TARGET)]
    pub diagnostic_url: Option<String>,
    /// The node itself runs in diagnostic mode (wrong keys get JSON, not the 404 page).
    #[arg(long, help_heading = heading::TARGET)]
    pub diagnostic: bool,
    /// Timing and size parameters: seqtun, node-903, node-main, fast. Without it the runner
    /// measures each node's long-poll and picks the matching profile (else seqtun with the
    /// measured --param longpoll_deadline), and says which.
    #[arg(long, help_heading = heading::TIMING)]
    pub profile: Option<String>,
    /// Override one parameter, e.g. --param longpoll_deadline=4s (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", help_heading = heading::TIMING)]
    pub params: Vec<String>,
    /// Claim a feature the probe cannot see (repeatable).
    #[arg(long = "feature", value_name = "FEATURE", help_heading = heading::TARGET)]
    pub features: Vec<String>,
    /// Deny a feature, e.g. --no-feature udp (repeatable).
    #[arg(long = "no-feature", value_name = "FEATURE", help_heading = heading::TARGET)]
    pub no_features: Vec<String>,
    /// Address the fixtures listen on; the node must reach it.
    #[arg(long, env = "SEQTUN_FIXTURE_ADDR", default_value = "127.0.0.1", help_heading = heading::TARGET)]
    pub fixture_addr: IpAddr,
    /// How a target is named in reports [default: its URL]; repeat it once per target, in the
    /// order --url then --relay-url.
    #[arg(long, help_heading = heading::TARGET)]
    pub label: Vec<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Directory holding the vectors [default: SEQTUN_VECTORS, else vectors/ next to the
    /// binary, else the source tree's vectors/].
    #[arg(long, value_name = "DIR")]
    pub vectors: Option<PathBuf>,
    /// Fail the run on failed `should` cases too (otherwise they are soft failures).
    #[arg(long, help_heading = heading::SELECT)]
    pub strict: bool,
    /// Skip the cases that wait for deployed timeouts (idle reaping, seq-wait timeouts): with
    /// the seqtun profile they take minutes. The run says which it skipped and why.
    #[arg(long, help_heading = heading::SELECT)]
    pub quick: bool,
    /// Write a JSON report here (format: conformance/judge/report.schema.json).
    #[arg(long, value_name = "PATH", help_heading = heading::REPORTS)]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report here, for CI dashboards.
    #[arg(long, value_name = "PATH", help_heading = heading::REPORTS)]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML report here (one page, no network).
    #[arg(long, value_name = "PATH", help_heading = heading::REPORTS)]
    pub report_html: Option<PathBuf>,
    /// Known per-case results with reasons (format in the README); the run fails only on
    /// results that differ from them.
    #[arg(long, value_name = "PATH", help_heading = heading::REPORTS)]
    pub expect: Option<PathBuf>,
    /// Seconds before one HTTP exchange with a target is abandoned, body included.
    #[arg(long, value_name = "SECS", env = "SEQTUN_CONFORM_REQUEST_TIMEOUT", default_value_t = 120, help_heading = heading::LIMITS)]
    pub request_timeout: u64,
    /// Most bytes read from a target in one piece: a reply body (plain or once inflated), a
    /// client's request body, the stream one fixture or app connection records.
    #[arg(long, value_name = "BYTES", env = "SEQTUN_CONFORM_MAX_READ_BYTES", default_value_t = crate::limits::DEFAULT_MAX_READ, help_heading = heading::LIMITS)]
    pub max_read_bytes: usize,
    /// Print the parameters vectors may use, with the chosen profile's values, and exit.
    #[arg(long, help_heading = heading::OUTPUT)]
    pub list_params: bool,
    #[command(flatten)]
    pub test: TestArgs,
}

/// Output formats of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// One line per case.
    #[default]
    Pretty,
    /// One character per case.
    Terse,
    /// libtest-style JSON events, one per line, and nothing else on stdout (the rest goes to
    /// stderr).
    Json,
}

/// Colour on the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Color {
    #[default]
    Auto,
    Always,
    Never,
}

/// Case selection and console output, spelled as libtest spells them.
#[derive(Debug, Args, Default, Clone)]
pub struct TestArgs {
    /// Run only cases whose name contains FILTER (e.g. `seq/`); several filters: any matches.
    #[arg(value_name = "FILTER", help_heading = heading::SELECT)]
    pub filters: Vec<String>,
    /// FILTER must equal the case id as printed (`node/transport/health`) or its full name
    /// (`TARGET::node/transport/health`) instead of being contained in it.
    #[arg(long, help_heading = heading::SELECT)]
    pub exact: bool,
    /// Skip cases whose name contains this (repeatable).
    #[arg(long, value_name = "FILTER", help_heading = heading::SELECT)]
    pub skip: Vec<String>,
    /// Run only the cases a target would ignore (it lacks a feature they need).
    #[arg(long, conflicts_with = "include_ignored", help_heading = heading::SELECT)]
    pub ignored: bool,
    /// Also run the cases a target would ignore (it lacks a feature they need).
    #[arg(long, help_heading = heading::SELECT)]
    pub include_ignored: bool,
    /// List the selected cases (level, name, whether each would run or why not, title) and exit.
    #[arg(long, help_heading = heading::OUTPUT)]
    pub list: bool,
    /// How many cases run at once [default: 8; cases mostly wait on timers].
    #[arg(long, value_name = "N", env = "SEQTUN_CONFORM_THREADS", help_heading = heading::OUTPUT)]
    pub test_threads: Option<usize>,
    /// Console format.
    #[arg(long, value_enum, default_value_t, help_heading = heading::OUTPUT)]
    pub format: Format,
    /// One character per case (same as --format terse).
    #[arg(short, long, help_heading = heading::OUTPUT)]
    pub quiet: bool,
    /// Colour the console.
    #[arg(long, value_enum, default_value_t, help_heading = heading::OUTPUT)]
    pub color: Color,
    /// libtest compatibility, accepted and ignored (the runner never captures output).
    #[arg(long, hide = true)]
    pub nocapture: bool,
    /// libtest compatibility, accepted and ignored.
    #[arg(long, hide = true)]
    pub show_output: bool,
    /// libtest compatibility, accepted and ignored (there are no benchmarks).
    #[arg(long, hide = true)]
    pub test: bool,
    /// libtest compatibility: there are no benchmarks, so this runs nothing.
    #[arg(long, hide = true)]
    pub bench: bool,
    /// libtest compatibility, accepted and ignored.
    #[arg(short = 'Z', hide = true, value_name = "FLAG")]
    pub unstable: Vec<String>,
    /// libtest compatibility, accepted and ignored.
    #[arg(long, hide = true, value_name = "PATH")]
    pub logfile: Option<PathBuf>,
}

impl TestArgs {
    /// The console format after `--quiet`.
    pub fn format(&self) -> Format {
        if self.quiet && self.format == Format::Pretty {
            Format::Terse
        } else {
            self.format
        }
    }
}
