//! The benchmark's options. `bench/run` passes them through and documents them in its
//! `--help`; `--quick` changes the defaults, explicit options still win.

use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Opts {
    pub bin: PathBuf,
    pub bin_aarch64: Option<PathBuf>,
    /// Container images measured by bench/run (contrib/container/build): label, bytes
    /// compressed.
    pub images: Vec<(String, u64)>,
    pub idle: Duration,
    /// Quiet time between the last update and the idle window.
    pub settle: Duration,
    pub changes: usize,
    pub peer_changes: usize,
    pub storm: usize,
    pub startups: usize,
    pub peers: bool,
    pub only: Option<Vec<String>>,
    /// `--quick`: smaller loads where a scenario has no option of its own.
    pub quick: bool,
}

const USAGE: &str = "usage: footprint --bin PATH [--bin-aarch64 PATH] [--image LABEL=BYTES]... [--idle SECS] [--changes N]
                 [--peer-changes N] [--storm N] [--startups N] [--quick] [--peers|--no-peers]
                 [--only LIST]
  LIST: comma-separated among sizes,latency,v6noise,ppphook,flap,storm,startup,idle,scale,
        gateway,verify,api,ddclient,inadyn,inadyn-1s";

/// What `--only` accepts.
const SCENARIOS: [&str; 15] = [
    "sizes",
    "latency",
    "v6noise",
    "ppphook",
    "flap",
    "storm",
    "startup",
    "idle",
    "scale",
    "gateway",
    "verify",
    "api",
    "ddclient",
    "inadyn",
    "inadyn-1s",
];

/// The options from the command line; `Err` holds what to print (usage included).
pub fn parse_args() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Opts {
        bin: Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/x86_64-unknown-linux-musl/release/dynhost"),
        bin_aarch64: None,
        images: Vec::new(),
        idle: Duration::from_secs(if quick { 3 } else { 300 }),
        settle: Duration::from_millis(if quick { 1500 } else { 5000 }),
        changes: if quick { 2 } else { 20 },
        peer_changes: if quick { 1 } else { 6 },
        storm: if quick { 1000 } else { 10_000 },
        startups: if quick { 2 } else { 5 },
        peers: !quick,
        only: None,
        quick,
    };
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let value = |i: usize| {
            args.get(i + 1)
                .cloned()
                .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))
        };
        let number = |i: usize| {
            value(i)?
                .parse::<u64>()
                .map_err(|e| format!("{a}: {e}\n{USAGE}"))
        };
        let mut skip = 2;
        match a {
            // `cargo bench` appends --bench to a harness-less target.
            "--bench" | "--quick" => skip = 1,
            "--peers" => (o.peers, skip) = (true, 1),
            "--no-peers" => (o.peers, skip) = (false, 1),
            "--bin" => o.bin = PathBuf::from(value(i)?),
            "--bin-aarch64" => o.bin_aarch64 = Some(PathBuf::from(value(i)?)),
            "--image" => {
                let v = value(i)?;
                let (label, bytes) = v
                    .split_once('=')
                    .and_then(|(l, b)| Some((l.to_string(), b.parse().ok()?)))
                    .ok_or_else(|| format!("--image {v:?}: want LABEL=BYTES\n{USAGE}"))?;
                o.images.push((label, bytes));
            }
            "--idle" => o.idle = Duration::from_secs(number(i)?),
            "--changes" => o.changes = number(i)? as usize,
            "--peer-changes" => o.peer_changes = number(i)? as usize,
            "--storm" => o.storm = number(i)? as usize,
            "--startups" => o.startups = number(i)? as usize,
            "--only" => {
                let list: Vec<String> =
                    value(i)?.split(',').map(|s| s.trim().to_string()).collect();
                if let Some(bad) = list.iter().find(|w| !SCENARIOS.contains(&w.as_str())) {
                    return Err(format!("--only: no scenario {bad:?}\n{USAGE}"));
                }
                o.only = Some(list);
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
        i += skip;
    }
    if o.changes == 0 || o.peer_changes == 0 || o.startups == 0 || o.storm < 100 {
        return Err(format!(
            "--changes, --peer-changes and --startups must be at least 1, --storm at least 100\n{USAGE}"
        ));
    }
    // Pairs of add + delete.
    o.storm += o.storm % 2;
    Ok(o)
}

impl Opts {
    /// Whether `--only` (if given) names `what`.
    pub fn wants(&self, what: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|list| list.iter().any(|w| w == what))
    }
}
