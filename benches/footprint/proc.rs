//! Samples of a running process from /proc: CPU ticks, context switches and on-CPU
//! time over all its threads, memory, and the files it maps.

fn clk_tck() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// CPU and scheduling counters of one process, all threads.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// utime + stime of the process (exited threads included), in clock ticks.
    pub ticks: u64,
    /// cutime + cstime: children it waited for (ddclient's shell and `ip`).
    pub child_ticks: u64,
    /// Summed over /proc/PID/task/*/status.
    pub voluntary: u64,
    pub nonvoluntary: u64,
    /// Summed over /proc/PID/task/*/schedstat: time on a CPU, ns (live threads only).
    pub run_ns: u64,
    pub tids: Vec<u32>,
}

pub fn sample(pid: i32) -> Sample {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e} (did the process die?)"));
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); field n of proc(5) is f[n - 3].
    let field = |n: usize| f[n - 3].parse::<u64>().expect("stat field");
    let mut s = Sample {
        ticks: field(14) + field(15),
        child_ticks: field(16) + field(17),
        ..Sample::default()
    };
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir");
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        // A thread may end between the listing and the reads: skip it then.
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        s.voluntary += kib_field(&status, "voluntary_ctxt_switches:");
        s.nonvoluntary += kib_field(&status, "nonvoluntary_ctxt_switches:");
        if let Ok(sched) = std::fs::read_to_string(task.path().join("schedstat")) {
            s.run_ns += sched
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
        s.tids.push(tid);
    }
    s.tids.sort_unstable();
    s
}

/// The number after `key` in a /proc status text.
pub fn kib_field(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// (VmRSS, VmHWM) in KiB.
pub fn memory(pid: i32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    (kib_field(&status, "VmRSS:"), kib_field(&status, "VmHWM:"))
}

/// Distinct files mapped by the process (its binary and shared libraries) and their size.
pub fn mapped_files(pid: i32) -> (usize, u64) {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let mut paths: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/'))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let bytes = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    (paths.len(), bytes)
}

pub fn ms_of_ticks(ticks: u64) -> f64 {
    ticks as f64 * 1000.0 / clk_tck() as f64
}
