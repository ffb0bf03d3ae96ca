//! The machine and the programs under test, as the report's header and footer name
//! them.

use std::path::Path;
use std::process::Command;
use std::thread;

use crate::proc::kib_field;

#[derive(Clone, Debug, Default)]
pub struct Versions {
    pub dynhost: String,
    pub ddclient: String,
    pub inadyn: String,
}

pub fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("").trim().to_string();
    (!first.is_empty()).then_some(first)
}

pub fn versions(bin: &Path) -> Versions {
    let dpkg = |p: &str| command_output("dpkg-query", &["-W", "-f=${Version}", p]);
    Versions {
        dynhost: command_output(&bin.display().to_string(), &["--version"])
            .unwrap_or_else(|| "dynhost ?".into()),
        ddclient: dpkg("ddclient").unwrap_or_else(|| "?".into()),
        inadyn: command_output("inadyn", &["-v"]).unwrap_or_else(|| "?".into()),
    }
}

pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("?".to_string(), |(_, m)| m.trim().to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|s| s.trim_matches('"').to_string())
        .unwrap_or_default();
    let mem = kib_field(
        &std::fs::read_to_string("/proc/meminfo").unwrap_or_default(),
        "MemTotal:",
    );
    let rustc = command_output("rustc", &["--version"]).unwrap_or_else(|| "rustc ?".into());
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cpus} CPUs ({model}), {} GiB RAM, {os}, kernel {}, {rustc}",
        mem / (1024 * 1024),
        kernel.trim()
    )
}
