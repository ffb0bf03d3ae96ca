//! The footprint benchmark: the static release build of dynhost, side by side with
//! ddclient and inadyn. Each scenario runs in its own private network namespace against
//! the loopback provider of `tests/support`; nothing leaves the namespace.
//!
//! `bench/run` builds the binaries and runs this as root (`cargo bench --bench footprint
//! -- --bin PATH ...`). It prints one Markdown table on stdout; progress lines start with
//! `footprint:` on stderr, among the daemons' own logs. docs/benchmark.md has the method.
//!
//! Clocks: every timestamp is an `Instant` (CLOCK_MONOTONIC, shared by all processes).
//! The moment an address exists is the earlier of the ack of the netlink request that
//! added it and the RTM_NEWADDR notification this process receives on its own socket.
//! The provider stamps a request when its head is fully received.

#[allow(dead_code)]
#[path = "../tests/support/agent.rs"]
mod agent;
#[allow(dead_code)]
#[path = "../tests/support/netns.rs"]
mod netns;
#[path = "../tests/support/provider.rs"]
mod provider;

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use agent::{Agent, PASSWORD, Scratch};
use netns::{bridge, in_netns, ip};
use provider::{Provider, Request};

/// Every client publishes this name.
const HOST: &str = "bench.example.com";
/// The login of `agent::record`, used by every client.
const USER: &str = "example.com-test";
/// The peers' password: ddclient's config syntax takes `#` (in `PASSWORD`) as a comment.
const PEER_PASSWORD: &str = "pw-bench-Zq8-peer";
/// Changes of a flap.
const FLAP_CHANGES: usize = 20;
/// Spacing of a flap's changes: 20 of them span 0.855 s.
const FLAP_STEP: Duration = Duration::from_millis(45);
/// Changes on the followed interface in the middle of the mixed storm.
const STORM_FOLLOWED: usize = 10;
/// Pause between paced storm events.
const STORM_PACE: Duration = Duration::from_micros(250);
/// Targets.
const TARGET_SLACK: Duration = Duration::from_millis(50);
const TARGET_RSS_KIB: u64 = 3 * 1024;
const TARGET_HWM_KIB: u64 = 4 * 1024;
const TARGET_SIZE: u64 = 3 * 1024 * 1024;
const TARGET_STORM_NS: f64 = 20_000.0;

macro_rules! progress {
    ($($t:tt)*) => { eprintln!("footprint: {}", format_args!($($t)*)) };
}

// ---------------------------------------------------------------------------------------
// options

#[derive(Clone, Debug)]
struct Opts {
    bin: PathBuf,
    bin_aarch64: Option<PathBuf>,
    idle: Duration,
    /// Quiet time between the last update and the idle window.
    settle: Duration,
    changes: usize,
    peer_changes: usize,
    storm: usize,
    startups: usize,
    peers: bool,
    only: Option<Vec<String>>,
}

const USAGE: &str = "usage: footprint --bin PATH [--bin-aarch64 PATH] [--idle SECS] [--changes N]
                 [--peer-changes N] [--storm N] [--startups N] [--quick] [--peers|--no-peers]
                 [--only LIST]
  LIST: comma-separated among sizes,latency,v6noise,flap,storm,startup,idle,ddclient,
        inadyn,inadyn-1s";

fn parse_args() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Opts {
        bin: Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/x86_64-unknown-linux-musl/release/dynhost"),
        bin_aarch64: None,
        idle: Duration::from_secs(if quick { 3 } else { 300 }),
        settle: Duration::from_millis(if quick { 1500 } else { 5000 }),
        changes: if quick { 2 } else { 20 },
        peer_changes: if quick { 1 } else { 6 },
        storm: if quick { 1000 } else { 10_000 },
        startups: if quick { 2 } else { 5 },
        peers: !quick,
        only: None,
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
            "--idle" => o.idle = Duration::from_secs(number(i)?),
            "--changes" => o.changes = number(i)? as usize,
            "--peer-changes" => o.peer_changes = number(i)? as usize,
            "--storm" => o.storm = number(i)? as usize,
            "--startups" => o.startups = number(i)? as usize,
            "--only" => {
                o.only = Some(value(i)?.split(',').map(|s| s.trim().to_string()).collect());
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
    fn wants(&self, what: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|list| list.iter().any(|w| w == what))
    }
}

// ---------------------------------------------------------------------------------------
// rtnetlink: adding and deleting addresses, and watching them

mod nl {
    use std::net::Ipv4Addr;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Condvar, Mutex};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use netlink_sys::protocols::NETLINK_ROUTE;
    use netlink_sys::{Socket, SocketAddr};

    const NLMSG_ERROR: u16 = 2;
    const RTM_NEWADDR: u16 = 20;
    const RTM_DELADDR: u16 = 21;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_ACK: u16 = 0x4;
    const NLM_F_EXCL: u16 = 0x200;
    const NLM_F_CREATE: u16 = 0x400;
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    const RTNLGRP_IPV4_IFADDR: u32 = 5;
    const HEADER: usize = 16;

    /// An IPv4 address as `ip addr add LOCAL/PREFIX [peer PEER]` gives it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct V4 {
        pub local: Ipv4Addr,
        pub prefix: u8,
        pub peer: Option<Ipv4Addr>,
    }

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes([b[at], b[at + 1]])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    fn attr(b: &mut Vec<u8>, kind: u16, data: &[u8]) {
        let len = 4 + data.len();
        b.extend_from_slice(&(len as u16).to_ne_bytes());
        b.extend_from_slice(&kind.to_ne_bytes());
        b.extend_from_slice(data);
        b.resize(b.len().next_multiple_of(4), 0);
    }

    /// Walks the netlink messages of one datagram: (type, seq, payload).
    fn messages(buf: &[u8]) -> impl Iterator<Item = (u16, u32, &[u8])> {
        let mut off = 0;
        std::iter::from_fn(move || {
            if off + HEADER > buf.len() {
                return None;
            }
            let len = u32_at(buf, off) as usize;
            if len < HEADER || off + len > buf.len() {
                return None;
            }
            let item = (
                u16_at(buf, off + 4),
                u32_at(buf, off + 8),
                &buf[off + HEADER..off + len],
            );
            off += len.next_multiple_of(4);
            Some(item)
        })
    }

    /// A socket that adds and deletes addresses, one acknowledged request at a time.
    pub struct Rtnl {
        socket: Socket,
        seq: u32,
        buf: Vec<u8>,
    }

    impl Rtnl {
        /// In the calling thread's network namespace.
        pub fn new() -> Rtnl {
            let mut socket = Socket::new(NETLINK_ROUTE).expect("netlink socket");
            socket.bind_auto().expect("netlink bind");
            Rtnl {
                socket,
                seq: 0,
                buf: Vec::with_capacity(64 * 1024),
            }
        }

        /// Adds (or deletes) `a` on `ifindex`; returns when the kernel's ack arrived.
        /// Panics if the kernel refuses.
        pub fn addr(&mut self, add: bool, ifindex: u32, a: V4) -> Instant {
            self.seq += 1;
            let (kind, flags) = if add {
                (
                    RTM_NEWADDR,
                    NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                )
            } else {
                (RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK)
            };
            let mut b = Vec::with_capacity(64);
            b.extend_from_slice(&0u32.to_ne_bytes());
            b.extend_from_slice(&kind.to_ne_bytes());
            b.extend_from_slice(&flags.to_ne_bytes());
            b.extend_from_slice(&self.seq.to_ne_bytes());
            b.extend_from_slice(&0u32.to_ne_bytes());
            // struct ifaddrmsg: family, prefixlen, flags, scope (universe), index.
            b.extend_from_slice(&[libc::AF_INET as u8, a.prefix, 0, 0]);
            b.extend_from_slice(&ifindex.to_ne_bytes());
            attr(&mut b, IFA_LOCAL, &a.local.octets());
            attr(&mut b, IFA_ADDRESS, &a.peer.unwrap_or(a.local).octets());
            let len = b.len() as u32;
            b[..4].copy_from_slice(&len.to_ne_bytes());
            self.socket
                .send_to(&b, &SocketAddr::new(0, 0), 0)
                .expect("netlink send");
            loop {
                self.buf.clear();
                self.socket.recv(&mut self.buf, 0).expect("netlink ack");
                let at = Instant::now();
                for (t, seq, payload) in messages(&self.buf) {
                    if t == NLMSG_ERROR && seq == self.seq && payload.len() >= 4 {
                        let errno = -(u32_at(payload, 0) as i32);
                        assert!(
                            errno == 0,
                            "netlink {} {a:?} on ifindex {ifindex}: {}",
                            if add { "add" } else { "delete" },
                            std::io::Error::from_raw_os_error(errno)
                        );
                        return at;
                    }
                }
            }
        }
    }

    /// `setsockopt(fd, SOL_SOCKET, opt, value)`, or a panic naming `what`.
    fn set_sockopt<T>(fd: std::os::fd::RawFd, opt: libc::c_int, value: &T, what: &str) {
        // SAFETY: `value` is a live, correctly sized option value for `opt`; `fd` is ours.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (value as *const T).cast(),
                size_of::<T>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "{what}: {}", std::io::Error::last_os_error());
    }

    /// One IPv4 address notification, as received.
    #[derive(Clone, Copy, Debug)]
    pub struct Event {
        pub at: Instant,
        pub new: bool,
        pub ifindex: u32,
        /// IFA_LOCAL (our end on a point-to-point link), else IFA_ADDRESS.
        pub local: Ipv4Addr,
    }

    #[derive(Default)]
    struct Log {
        events: Mutex<Vec<Event>>,
        grew: Condvar,
        overrun: AtomicBool,
    }

    /// A thread receiving RTNLGRP_IPV4_IFADDR notifications and stamping each on arrival.
    pub struct Monitor {
        log: Arc<Log>,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl Monitor {
        /// Subscribes in the calling thread's network namespace.
        pub fn start() -> Monitor {
            let mut socket = Socket::new(NETLINK_ROUTE).expect("netlink socket");
            socket.bind_auto().expect("netlink bind");
            socket
                .add_membership(RTNLGRP_IPV4_IFADDR)
                .expect("netlink membership");
            let fd = socket.as_raw_fd();
            // Room for a whole storm (root may exceed rmem_max), and a timeout to stop.
            let size: libc::c_int = 64 << 20;
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 200_000,
            };
            set_sockopt(fd, libc::SO_RCVBUFFORCE, &size, "SO_RCVBUFFORCE");
            set_sockopt(fd, libc::SO_RCVTIMEO, &tv, "SO_RCVTIMEO");
            let log = Arc::new(Log::default());
            let stop = Arc::new(AtomicBool::new(false));
            let thread = {
                let (log, stop) = (log.clone(), stop.clone());
                std::thread::spawn(move || receive(&socket, &log, &stop))
            };
            Monitor {
                log,
                stop,
                thread: Some(thread),
            }
        }

        /// The position of the next event.
        pub fn mark(&self) -> usize {
            self.log.events.lock().unwrap().len()
        }

        /// The first event from position `from` on that satisfies `pred`.
        pub fn wait(
            &self,
            from: usize,
            timeout: Duration,
            pred: impl Fn(&Event) -> bool,
        ) -> Option<Event> {
            let deadline = Instant::now() + timeout;
            let mut events = self.log.events.lock().unwrap();
            loop {
                if let Some(e) = events.iter().skip(from).find(|e| pred(e)) {
                    return Some(*e);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                events = self.log.grew.wait_timeout(events, left).unwrap().0;
            }
        }

        /// Waits until `n` events from `from` on satisfy `pred`; returns how many did.
        pub fn wait_count(
            &self,
            from: usize,
            n: usize,
            timeout: Duration,
            pred: impl Fn(&Event) -> bool,
        ) -> usize {
            let deadline = Instant::now() + timeout;
            let mut events = self.log.events.lock().unwrap();
            loop {
                let count = events.iter().skip(from).filter(|e| pred(e)).count();
                let left = deadline.saturating_duration_since(Instant::now());
                if count >= n || left.is_zero() {
                    return count;
                }
                events = self.log.grew.wait_timeout(events, left).unwrap().0;
            }
        }

        /// Whether the kernel dropped notifications for us (counts are then low).
        pub fn overrun(&self) -> bool {
            self.log.overrun.load(Ordering::SeqCst)
        }
    }

    impl Drop for Monitor {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn receive(socket: &Socket, log: &Log, stop: &AtomicBool) {
        let mut buf = Vec::with_capacity(256 * 1024);
        while !stop.load(Ordering::SeqCst) {
            buf.clear();
            match socket.recv(&mut buf, 0) {
                Ok(_) => {
                    let at = Instant::now();
                    let mut events = log.events.lock().unwrap();
                    for (kind, _, p) in messages(&buf) {
                        if let Some(e) = parse(kind, p, at) {
                            events.push(e);
                        }
                    }
                    log.grew.notify_all();
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    log.overrun.store(true, Ordering::SeqCst);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => panic!("netlink monitor: {e}"),
            }
        }
    }

    fn parse(kind: u16, p: &[u8], at: Instant) -> Option<Event> {
        let new = match kind {
            RTM_NEWADDR => true,
            RTM_DELADDR => false,
            _ => return None,
        };
        if p.len() < 8 || i32::from(p[0]) != libc::AF_INET {
            return None;
        }
        let ifindex = u32_at(p, 4);
        let (mut local, mut address) = (None, None);
        let mut off = 8;
        while off + 4 <= p.len() {
            let len = usize::from(u16_at(p, off));
            if len < 4 || off + len > p.len() {
                break;
            }
            let data = &p[off + 4..off + len];
            if let Ok(octets) = <[u8; 4]>::try_from(data) {
                match u16_at(p, off + 2) & 0x3fff {
                    IFA_LOCAL => local = Some(Ipv4Addr::from(octets)),
                    IFA_ADDRESS => address = Some(Ipv4Addr::from(octets)),
                    _ => {}
                }
            }
            off += len.next_multiple_of(4);
        }
        Some(Event {
            at,
            new,
            ifindex,
            local: local.or(address)?,
        })
    }
}

use nl::{Monitor, Rtnl, V4};

// ---------------------------------------------------------------------------------------
// /proc

fn clk_tck() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// CPU and scheduling counters of one process, all threads.
#[derive(Clone, Debug, Default)]
struct Sample {
    /// utime + stime of the process (exited threads included), in clock ticks.
    ticks: u64,
    /// cutime + cstime: children it waited for (ddclient's shell and `ip`).
    child_ticks: u64,
    /// Summed over /proc/PID/task/*/status.
    voluntary: u64,
    nonvoluntary: u64,
    /// Summed over /proc/PID/task/*/schedstat: time on a CPU, ns (live threads only).
    run_ns: u64,
    tids: Vec<u32>,
}

fn sample(pid: i32) -> Sample {
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
fn kib_field(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// (VmRSS, VmHWM) in KiB.
fn memory(pid: i32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    (kib_field(&status, "VmRSS:"), kib_field(&status, "VmHWM:"))
}

/// Distinct files mapped by the process (its binary and shared libraries) and their size.
fn mapped_files(pid: i32) -> (usize, u64) {
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

fn ms_of_ticks(ticks: u64) -> f64 {
    ticks as f64 * 1000.0 / clk_tck() as f64
}

// ---------------------------------------------------------------------------------------
// processes

/// The child dies with the thread that started it, even if this process is killed.
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A peer daemon: SIGTERM then SIGKILL on drop, also on panic.
struct Proc {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).expect("peer log");
        let err = out.try_clone().expect("peer log");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { child, name, log }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            sleep(Duration::from_millis(20));
        }
        progress!("{} ignored SIGTERM for 5 s; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_dynhost(bin: &Path, config: &Path) -> Agent {
    let mut cmd = Command::new(bin);
    cmd.arg("-c").arg(config).arg("run");
    die_with_parent(&mut cmd);
    Agent::spawn(cmd)
}

/// A dynhost config in `dir`: state and control socket there too.
fn dynhost_config(
    dir: &Scratch,
    url: &str,
    iface: &str,
    debounce: Option<Duration>,
    ca: Option<&Path>,
) -> PathBuf {
    let mut text = format!(
        "state_dir = \"{}\"\ncontrol_socket = \"{}\"\nmax_updates_per_hour = 3600\n",
        dir.join("state").display(),
        dir.join("control.sock").display()
    );
    if let Some(d) = debounce {
        writeln!(text, "debounce = \"{}ms\"", d.as_millis()).unwrap();
    }
    text.push('\n');
    text.push_str(&agent::record(HOST, iface, ""));
    writeln!(text, "\n[provider]\nurl = \"{url}\"").unwrap();
    if let Some(ca) = ca {
        writeln!(text, "ca_file = \"{}\"", ca.display()).unwrap();
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    agent::set_mode(&path, 0o600);
    path
}

/// Checks that a request is an update of `HOST` to `ip` with the right credentials.
fn check(r: &Request, ip: Ipv4Addr, password: &str, tls: bool, what: &str) {
    let ip = ip.to_string();
    assert_eq!(
        r.param("myip"),
        Some(ip.as_str()),
        "{what}: the request carries the wrong address: {}",
        r.target
    );
    assert_eq!(r.param("hostname"), Some(HOST), "{what}: {}", r.target);
    assert_eq!(r.path, "/nic/update", "{what}: {}", r.target);
    assert!(
        r.basic_auth == Some((USER.to_string(), password.to_string())),
        "{what}: wrong or missing credentials"
    );
    assert_eq!(r.tls, tls, "{what}: TLS {} expected", tls);
}

/// Waits for request number `n` (1-based) and returns it.
fn nth_request(provider: &Provider, n: usize, timeout: Duration, what: &str) -> Request {
    let reqs = provider.wait_for(n, timeout);
    assert!(
        reqs.len() >= n,
        "{what}: request {n} did not arrive within {timeout:?} ({} so far)",
        reqs.len()
    );
    reqs[n - 1].clone()
}

fn if_index(name: &str) -> u32 {
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    assert!(i != 0, "no interface {name}");
    i
}

/// xorshift64*: jitter without a crate.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Rng(t | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }

    fn duration_below(&mut self, d: Duration) -> Duration {
        Duration::from_micros(self.below(d.as_micros() as u64))
    }
}

// ---------------------------------------------------------------------------------------
// the WAN interface

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Bridge,
    Ppp,
}

/// The followed interface and its address plan, in the current namespace.
struct Wan {
    link: Link,
    name: &'static str,
    ifindex: u32,
    rtnl: Rtnl,
    monitor: Monitor,
    current: V4,
    /// Largest gap seen between the ack and our notification for an added address.
    skew: Duration,
}

impl Wan {
    /// Creates the interface with address 0 on it.
    fn create(link: Link) -> Wan {
        let name = match link {
            Link::Bridge => {
                bridge("br-wan");
                "br-wan"
            }
            Link::Ppp => {
                ip(&["tuntap", "add", "dev", "ppp0", "mode", "tun"]);
                ip(&["link", "set", "ppp0", "up"]);
                "ppp0"
            }
        };
        let mut wan = Wan {
            link,
            name,
            ifindex: if_index(name),
            rtnl: Rtnl::new(),
            monitor: Monitor::start(),
            current: Wan::plan(link, 0),
            skew: Duration::ZERO,
        };
        wan.rtnl.addr(true, wan.ifindex, wan.current);
        if link == Link::Bridge {
            wan.settle_ipv6();
        }
        wan
    }

    /// Waits for the bridge's own IPv6 link-local address. The kernel notifies it once,
    /// when its DAD completes 1 to 2 s after the link comes up. dynhost ignores it when
    /// no record publishes IPv6, but the wait keeps every scenario's start the same
    /// for records that do. The v6noise scenario checks that IPv6 events do not delay
    /// an IPv4-only record.
    fn settle_ipv6(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let args = [
            "-6",
            "-o",
            "addr",
            "show",
            "dev",
            self.name,
            "scope",
            "link",
            "-tentative",
        ];
        while command_output("ip", &args).is_none() {
            assert!(
                Instant::now() < deadline,
                "no IPv6 link-local address on {} within 10 s (IPv6 disabled?)",
                self.name
            );
            sleep(Duration::from_millis(50));
        }
        // Its notification is on its way to every subscriber.
        sleep(Duration::from_millis(200));
    }

    /// Address `i`: 203.0.113.x/24 on a bridge, 198.51.100.x peer 192.0.2.1 on ppp0.
    fn plan(link: Link, i: usize) -> V4 {
        let x = 10 + (i % 240) as u8;
        match link {
            Link::Bridge => V4 {
                local: Ipv4Addr::new(203, 0, 113, x),
                prefix: 24,
                peer: None,
            },
            Link::Ppp => V4 {
                local: Ipv4Addr::new(198, 51, 100, x),
                prefix: 32,
                peer: Some(Ipv4Addr::new(192, 0, 2, 1)),
            },
        }
    }

    fn address(&self) -> Ipv4Addr {
        self.current.local
    }

    /// Replaces the address by plan entry `i` (delete, then add), and returns the moment
    /// the new one exists: the earlier of the ack and our RTM_NEWADDR.
    fn change(&mut self, i: usize) -> Instant {
        let next = Wan::plan(self.link, i);
        assert_ne!(next, self.current, "a change must change the address");
        self.rtnl.addr(false, self.ifindex, self.current);
        let mark = self.monitor.mark();
        let ack = self.rtnl.addr(true, self.ifindex, next);
        let ifindex = self.ifindex;
        let ev = self
            .monitor
            .wait(mark, Duration::from_secs(5), |e| {
                e.new && e.ifindex == ifindex && e.local == next.local
            })
            .expect("no RTM_NEWADDR for the added address");
        self.current = next;
        self.skew = self.skew.max(if ack > ev.at {
            ack - ev.at
        } else {
            ev.at - ack
        });
        ack.min(ev.at)
    }
}

// ---------------------------------------------------------------------------------------
// dynhost scenarios

#[derive(Clone, Debug)]
struct Latency {
    samples: Vec<Duration>,
    skew: Duration,
    rss_kib: u64,
    hwm_kib: u64,
}

/// Change → request latency over `n` spaced changes.
fn dynhost_latency(bin: &Path, link: Link, debounce: Option<Duration>, n: usize) -> Latency {
    let mut wan = Wan::create(link);
    let provider = Provider::start();
    let dir = Scratch::new("latency");
    let cfg = dynhost_config(&dir, &provider.url(), wan.name, debounce, None);
    let agent = start_dynhost(bin, &cfg);
    let quiet = debounce.unwrap_or(Duration::from_secs(1));
    let first = nth_request(&provider, 1, Duration::from_secs(10), "first update");
    check(&first, wan.address(), PASSWORD, false, "first update");
    assert_eq!(first.param("system"), Some("dyndns"));
    let mut rng = Rng::new();
    let mut samples = Vec::with_capacity(n);
    for i in 1..=n {
        // Well apart: the previous update is answered and stored, and changes never
        // fall into one debounce.
        sleep(Duration::from_millis(300) + rng.duration_below(Duration::from_millis(200)));
        let t0 = wan.change(i);
        let what = format!("{} change {i}", wan.name);
        let r = nth_request(&provider, i + 1, quiet + Duration::from_secs(10), &what);
        check(&r, wan.address(), PASSWORD, false, &what);
        assert!(r.at >= t0, "{what}: request stamped before the change");
        samples.push(r.at - t0);
    }
    sleep(quiet + Duration::from_millis(500));
    assert_eq!(
        provider.count(),
        n + 1,
        "one request per change, no more: {:?}",
        provider
            .requests()
            .iter()
            .map(|r| r.target.clone())
            .collect::<Vec<_>>()
    );
    let (rss_kib, hwm_kib) = memory(agent.pid());
    assert!(agent.stop().success(), "dynhost exited with an error");
    Latency {
        samples,
        skew: wan.skew,
        rss_kib,
        hwm_kib,
    }
}

/// The gap between an IPv4 change and the IPv6 address event that follows it.
const V6_GAP: Duration = Duration::from_millis(500);

/// Change → request for an IPv4-only record when one IPv6 address event (another family,
/// 2001:db8::N/64 added without DAD) follows the IPv4 change on the same interface by
/// `V6_GAP`, as after a real reconnect (link-local DAD, SLAAC). Default debounce.
fn dynhost_v6_noise(bin: &Path, n: usize) -> Vec<Duration> {
    let mut wan = Wan::create(Link::Bridge);
    let provider = Provider::start();
    let dir = Scratch::new("v6noise");
    let cfg = dynhost_config(&dir, &provider.url(), wan.name, None, None);
    let agent = start_dynhost(bin, &cfg);
    let first = nth_request(&provider, 1, Duration::from_secs(10), "first update");
    check(&first, wan.address(), PASSWORD, false, "first update");
    let mut samples = Vec::with_capacity(n);
    for i in 1..=n {
        sleep(Duration::from_millis(500));
        let t0 = wan.change(i);
        sleep((t0 + V6_GAP).saturating_duration_since(Instant::now()));
        let v6 = format!("2001:db8::{i}/64");
        ip(&["-6", "addr", "add", &v6, "dev", wan.name, "nodad"]);
        let what = format!("v6 noise change {i}");
        let r = nth_request(&provider, i + 1, Duration::from_secs(15), &what);
        check(&r, wan.address(), PASSWORD, false, &what);
        samples.push(r.at - t0);
    }
    sleep(Duration::from_millis(1500));
    assert_eq!(provider.count(), n + 1, "one request per change, no more");
    assert!(agent.stop().success(), "dynhost exited with an error");
    samples
}

#[derive(Clone, Debug)]
struct Flap {
    span: Duration,
    /// The address each request carried.
    sent: Vec<String>,
    last: Ipv4Addr,
    /// Last change → the request carrying the last address.
    latency: Option<Duration>,
}

impl Flap {
    fn ok(&self) -> bool {
        self.sent.len() == 1 && self.sent[0] == self.last.to_string()
    }
}

/// `FLAP_CHANGES` changes, `FLAP_STEP` apart; then waits `wait` for a request and
/// `settle` more for any other.
fn flap(
    wan: &mut Wan,
    provider: &Provider,
    first: usize,
    wait: Duration,
    settle: Duration,
) -> Flap {
    let before = provider.count();
    let start = Instant::now();
    let mut last = start;
    for k in 0..FLAP_CHANGES {
        sleep((start + FLAP_STEP * k as u32).saturating_duration_since(Instant::now()));
        last = wan.change(first + k);
    }
    let span = last - start;
    provider.wait_for(before + 1, wait);
    sleep(settle);
    let reqs = provider.requests();
    let after = &reqs[before..];
    let final_ip = wan.address().to_string();
    Flap {
        span,
        sent: after
            .iter()
            .map(|r| r.param("myip").unwrap_or("?").to_string())
            .collect(),
        last: wan.address(),
        latency: after
            .iter()
            .find(|r| r.param("myip") == Some(final_ip.as_str()))
            .map(|r| r.at.saturating_duration_since(last)),
    }
}

fn dynhost_flap(bin: &Path) -> Flap {
    let mut wan = Wan::create(Link::Bridge);
    let provider = Provider::start();
    let dir = Scratch::new("flap");
    let cfg = dynhost_config(&dir, &provider.url(), wan.name, None, None);
    let agent = start_dynhost(bin, &cfg);
    let first = nth_request(&provider, 1, Duration::from_secs(10), "first update");
    check(&first, wan.address(), PASSWORD, false, "first update");
    sleep(Duration::from_millis(500));
    let f = flap(
        &mut wan,
        &provider,
        1,
        Duration::from_secs(15),
        Duration::from_secs(3),
    );
    assert!(agent.stop().success(), "dynhost exited with an error");
    f
}

#[derive(Clone, Debug)]
struct StormPhase {
    /// Notifications the kernel sent for the unfollowed interface (seen by our monitor).
    events: usize,
    cpu_ms: f64,
    run_ns: u64,
    wall: Duration,
    /// Addresses carried by the requests sent during the phase.
    sent: Vec<String>,
    /// The followed interface's final address, when it changed during the phase.
    followed_last: Option<Ipv4Addr>,
    rss_kib: u64,
    hwm_kib: u64,
    monitor_overrun: bool,
}

impl StormPhase {
    fn ns_per_event(&self) -> f64 {
        self.cpu_ms * 1e6 / self.events.max(1) as f64
    }

    fn sched_ns_per_event(&self) -> f64 {
        self.run_ns as f64 / self.events.max(1) as f64
    }

    fn requests_ok(&self) -> bool {
        match self.followed_last {
            None => self.sent.is_empty(),
            Some(ip) => self.sent.len() == 1 && self.sent[0] == ip.to_string(),
        }
    }
}

#[derive(Clone, Debug)]
struct Storm {
    burst: StormPhase,
    paced: StormPhase,
    mixed: StormPhase,
}

fn dynhost_storm(bin: &Path, n: usize) -> Storm {
    let mut wan = Wan::create(Link::Bridge);
    bridge("br-lan");
    let lan = if_index("br-lan");
    let provider = Provider::start();
    let dir = Scratch::new("storm");
    let cfg = dynhost_config(&dir, &provider.url(), wan.name, None, None);
    let agent = start_dynhost(bin, &cfg);
    let first = nth_request(&provider, 1, Duration::from_secs(10), "first update");
    check(&first, wan.address(), PASSWORD, false, "first update");
    sleep(Duration::from_millis(1500));
    let pid = agent.pid();
    let mut phase = |pace: Option<Duration>, followed: bool| {
        let before = provider.count();
        let mark = wan.monitor.mark();
        let s0 = sample(pid);
        let start = Instant::now();
        let mut changed = 0;
        for k in 0..n {
            if followed && k >= n / 2 && (k - n / 2).is_multiple_of(50) && changed < STORM_FOLLOWED
            {
                changed += 1;
                wan.change(changed);
            }
            // add X, delete X, add Y, delete Y, ... : /32s of 192.0.2.0/24 on br-lan.
            let a = V4 {
                local: Ipv4Addr::new(192, 0, 2, 1 + ((k / 2) % 250) as u8),
                prefix: 32,
                peer: None,
            };
            wan.rtnl.addr(k % 2 == 0, lan, a);
            if let Some(p) = pace {
                sleep(p);
            }
        }
        let wall = start.elapsed();
        let events = wan
            .monitor
            .wait_count(mark, n, Duration::from_secs(30), |e| e.ifindex == lan);
        // A debounce (1 s, after an overrun's resync or the followed changes), the
        // request, and margin.
        sleep(Duration::from_secs(3));
        let s1 = sample(pid);
        let (rss_kib, hwm_kib) = memory(pid);
        let sent = provider.requests()[before..]
            .iter()
            .map(|r| r.param("myip").unwrap_or("?").to_string())
            .collect();
        StormPhase {
            events,
            cpu_ms: ms_of_ticks(s1.ticks - s0.ticks),
            run_ns: s1.run_ns.saturating_sub(s0.run_ns),
            wall,
            sent,
            followed_last: followed.then(|| wan.address()),
            rss_kib,
            hwm_kib,
            monitor_overrun: wan.monitor.overrun(),
        }
    };
    let burst = phase(None, false);
    progress!("storm: burst done");
    let paced = phase(Some(STORM_PACE), false);
    progress!("storm: paced done");
    let mixed = phase(None, true);
    assert!(agent.stop().success(), "dynhost exited with an error");
    Storm {
        burst,
        paced,
        mixed,
    }
}

#[derive(Clone, Debug)]
struct Startup {
    http: Vec<Duration>,
    https: Vec<Duration>,
}

/// Process start → first request, address present before start, fresh state each run.
fn dynhost_startup(bin: &Path, runs: usize, tls: bool) -> Vec<Duration> {
    let wan = Wan::create(Link::Bridge);
    let ca_dir = Scratch::new("startup-ca");
    let provider = if tls {
        Provider::start_tls(&ca_dir.path)
    } else {
        Provider::start()
    };
    let url = if tls {
        provider.url_localhost()
    } else {
        provider.url()
    };
    let ca = provider.ca_pem_path();
    let mut out = Vec::with_capacity(runs);
    for k in 1..=runs {
        let dir = Scratch::new("startup");
        let cfg = dynhost_config(&dir, &url, wan.name, None, ca.as_deref());
        let t0 = Instant::now();
        let agent = start_dynhost(bin, &cfg);
        let r = nth_request(&provider, k, Duration::from_secs(15), "start-up");
        check(&r, wan.address(), PASSWORD, tls, "start-up");
        out.push(r.at - t0);
        assert!(agent.stop().success(), "dynhost exited with an error");
    }
    out
}

#[derive(Clone, Debug, Default)]
struct Idle {
    window: Duration,
    cpu_ms: f64,
    child_cpu_ms: f64,
    run_ns: u64,
    voluntary: u64,
    nonvoluntary: u64,
    threads: usize,
    threads_changed: bool,
    requests: usize,
    rss_kib: u64,
    hwm_kib: u64,
}

impl Idle {
    fn per_min(&self, v: f64) -> f64 {
        v * 60.0 / self.window.as_secs_f64()
    }
}

/// Measures `pid` over `window`, after `settle` of quiet.
fn idle_window(pid: i32, provider: &Provider, window: Duration, settle: Duration) -> Idle {
    sleep(settle);
    let before = provider.count();
    let s0 = sample(pid);
    let t0 = Instant::now();
    sleep(window);
    let s1 = sample(pid);
    let elapsed = t0.elapsed();
    let (rss_kib, hwm_kib) = memory(pid);
    Idle {
        window: elapsed,
        cpu_ms: ms_of_ticks(s1.ticks - s0.ticks),
        child_cpu_ms: ms_of_ticks(s1.child_ticks - s0.child_ticks),
        run_ns: s1.run_ns.saturating_sub(s0.run_ns),
        voluntary: s1.voluntary.saturating_sub(s0.voluntary),
        nonvoluntary: s1.nonvoluntary.saturating_sub(s0.nonvoluntary),
        threads: s1.tids.len(),
        threads_changed: s0.tids != s1.tids,
        requests: provider.count() - before,
        rss_kib,
        hwm_kib,
    }
}

#[derive(Clone, Debug)]
struct DynIdle {
    idle: Idle,
    /// VmHWM right after the HTTPS updates.
    hwm_https_kib: u64,
    rss_https_kib: u64,
    /// Threads just after the last HTTPS update (the resolver thread lingers 1 s).
    threads_after_update: usize,
    https_updates: usize,
    mapped: (usize, u64),
}

/// HTTPS updates (TLS provider, its CA in ca_file, host name `localhost` as in
/// production a name is resolved), then the idle window.
fn dynhost_idle(bin: &Path, window: Duration, settle: Duration) -> DynIdle {
    let mut wan = Wan::create(Link::Bridge);
    let dir = Scratch::new("idle");
    let provider = Provider::start_tls(&dir.join("tls"));
    let ca = provider.ca_pem_path().expect("ca.pem");
    let cfg = dynhost_config(&dir, &provider.url_localhost(), wan.name, None, Some(&ca));
    let agent = start_dynhost(bin, &cfg);
    let first = nth_request(&provider, 1, Duration::from_secs(15), "first HTTPS update");
    check(&first, wan.address(), PASSWORD, true, "first HTTPS update");
    for i in 1..=2 {
        sleep(Duration::from_millis(300));
        wan.change(i);
        let r = nth_request(&provider, i + 1, Duration::from_secs(15), "HTTPS update");
        check(&r, wan.address(), PASSWORD, true, "HTTPS update");
    }
    sleep(Duration::from_millis(300));
    let (rss_https_kib, hwm_https_kib) = memory(agent.pid());
    let threads_after_update = sample(agent.pid()).tids.len();
    let mapped = mapped_files(agent.pid());
    // Our own notification thread stops before the window.
    let Wan { monitor, .. } = wan;
    drop(monitor);
    let idle = idle_window(agent.pid(), &provider, window, settle);
    assert!(agent.stop().success(), "dynhost exited with an error");
    DynIdle {
        idle,
        hwm_https_kib,
        rss_https_kib,
        threads_after_update,
        https_updates: 3,
        mapped,
    }
}

// ---------------------------------------------------------------------------------------
// peers

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    Ddclient,
    /// inadyn with this `period` (seconds).
    Inadyn(u32),
}

impl Peer {
    fn period(self) -> Duration {
        match self {
            // ddclient raises any shorter `daemon` to 60 s.
            Peer::Ddclient => Duration::from_secs(60),
            Peer::Inadyn(p) => Duration::from_secs(u64::from(p)),
        }
    }

    fn slug(self) -> String {
        match self {
            Peer::Ddclient => "ddclient".into(),
            Peer::Inadyn(30) => "inadyn".into(),
            Peer::Inadyn(p) => format!("inadyn-{p}s"),
        }
    }

    fn header(self, versions: &Versions) -> String {
        match self {
            Peer::Ddclient => format!("ddclient {} (daemon=60)", versions.ddclient),
            Peer::Inadyn(p) => format!("inadyn {} (period={p})", versions.inadyn),
        }
    }

    fn command(self, dir: &Scratch, port: u16, iface: &str) -> (Command, &'static str) {
        match self {
            Peer::Ddclient => {
                let conf = dir.join("ddclient.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "daemon=60\nssl=no\nuse=if, if={iface}\nprotocol=dyndns2\n\
                         server=127.0.0.1:{port}\nscript=/nic/update\nlogin={USER}\n\
                         password='{PEER_PASSWORD}'\n{HOST}\n"
                    ),
                )
                .unwrap();
                agent::set_mode(&conf, 0o600);
                let mut cmd = Command::new("ddclient");
                cmd.arg("-foreground")
                    .arg("-file")
                    .arg(&conf)
                    .arg("-cache")
                    .arg(dir.join("ddclient.cache"));
                (cmd, "ddclient")
            }
            Peer::Inadyn(period) => {
                let conf = dir.join("inadyn.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "period = {period}\niface = {iface}\n\
                         custom bench {{\n  ddns-server = \"127.0.0.1:{port}\"\n  \
                         ddns-path = \"/nic/update?hostname=%h&myip=%i\"\n  ssl = false\n  \
                         username = \"{USER}\"\n  password = \"{PEER_PASSWORD}\"\n  \
                         hostname = \"{HOST}\"\n}}\n"
                    ),
                )
                .unwrap();
                agent::set_mode(&conf, 0o600);
                let cache = dir.join("cache");
                std::fs::create_dir_all(&cache).unwrap();
                let mut cmd = Command::new("inadyn");
                cmd.arg("-f")
                    .arg(&conf)
                    .arg("-n")
                    .arg("-l")
                    .arg("debug")
                    .arg("--cache-dir")
                    .arg(&cache)
                    .arg("-P")
                    .arg(dir.join("inadyn.pid"));
                (cmd, "inadyn")
            }
        }
    }
}

#[derive(Clone, Debug)]
struct PeerResult {
    startup: Duration,
    samples: Vec<Duration>,
    flap: Flap,
    idle: Idle,
    mapped: (usize, u64),
    exe: String,
}

fn peer_bench(peer: Peer, changes: usize, window: Duration, settle: Duration) -> PeerResult {
    let mut wan = Wan::create(Link::Bridge);
    let provider = Provider::start();
    let dir = Scratch::new(&peer.slug());
    let (cmd, exe_name) = peer.command(&dir, provider.addr().port(), wan.name);
    let name = peer.slug();
    let period = peer.period();
    let t0 = Instant::now();
    let daemon = Proc::spawn(exe_name, cmd, dir.join("peer.log"));
    let what = format!("{name}: first update");
    let first = provider.wait_for(1, period + Duration::from_secs(60));
    assert!(
        !first.is_empty(),
        "{what}: nothing within {:?}; its log:\n{}",
        period + Duration::from_secs(60),
        daemon.log_text()
    );
    check(&first[0], wan.address(), PEER_PASSWORD, false, &what);
    let startup = first[0].at - t0;
    // Not a wrapper: the process we measure is the one that polls.
    let exe = std::fs::read_link(format!("/proc/{}/exe", daemon.pid()))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut rng = Rng::new();
    let mut samples = Vec::with_capacity(changes);
    for i in 1..=changes {
        // A uniformly random phase against the polling clock.
        sleep(rng.duration_below(period));
        let t = wan.change(i);
        let what = format!("{name} change {i}");
        let r = nth_request(&provider, i + 1, period + Duration::from_secs(30), &what);
        check(&r, wan.address(), PEER_PASSWORD, false, &what);
        samples.push(r.at.saturating_duration_since(t));
        progress!(
            "{name}: change {i}/{changes}: {:.1} s",
            samples[i - 1].as_secs_f64()
        );
    }
    sleep(rng.duration_below(period));
    let flap = flap(
        &mut wan,
        &provider,
        changes + 1,
        period + Duration::from_secs(30),
        Duration::from_secs(3).max(period / 4),
    );
    progress!("{name}: flap sent {:?}", flap.sent);
    let Wan { monitor, .. } = wan;
    drop(monitor);
    let mapped = mapped_files(daemon.pid());
    let idle = idle_window(daemon.pid(), &provider, window, settle);
    PeerResult {
        startup,
        samples,
        flap,
        idle,
        mapped,
        exe,
    }
}

// ---------------------------------------------------------------------------------------
// binaries

#[derive(Clone, Debug)]
struct Elf {
    size: u64,
    machine: &'static str,
    is_static: bool,
    stripped: bool,
}

fn elf(path: &Path) -> Result<Elf, String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 || b[5] != 1 {
        return Err(format!(
            "{}: not a 64-bit little-endian ELF",
            path.display()
        ));
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let machine = match u16_at(18) {
        62 => "x86_64",
        183 => "aarch64",
        _ => "other",
    };
    let (phoff, phsize, phnum) = (u64_at(32) as usize, usize::from(u16_at(54)), u16_at(56));
    let (shoff, shsize, shnum) = (u64_at(40) as usize, usize::from(u16_at(58)), u16_at(60));
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    const SHT_SYMTAB: u32 = 2;
    let mut is_static = true;
    for i in 0..usize::from(phnum) {
        let o = phoff + i * phsize;
        if o + 4 <= b.len() && matches!(u32_at(o), PT_DYNAMIC | PT_INTERP) {
            is_static = false;
        }
    }
    let mut stripped = true;
    for i in 0..usize::from(shnum) {
        let o = shoff + i * shsize;
        if o + 8 <= b.len() && u32_at(o + 4) == SHT_SYMTAB {
            stripped = false;
        }
    }
    Ok(Elf {
        size: b.len() as u64,
        machine,
        is_static,
        stripped,
    })
}

// ---------------------------------------------------------------------------------------
// running and reporting

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Runs `body` in a fresh network namespace; a panic becomes an error for the table.
fn attempt<T: Send + 'static>(
    what: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    progress!("{what}: start");
    let t = Instant::now();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| in_netns(body)));
    match r {
        Ok(v) => {
            progress!("{what}: done in {:.1} s", t.elapsed().as_secs_f64());
            Ok(v)
        }
        Err(p) => {
            let msg = panic_message(p.as_ref());
            progress!("{what}: FAILED: {msg}");
            Err(msg.lines().next().unwrap_or("failed").to_string())
        }
    }
}

struct Stats {
    n: usize,
    min: Duration,
    median: Duration,
    p95: Duration,
    max: Duration,
}

fn stats(v: &[Duration]) -> Option<Stats> {
    let mut s = v.to_vec();
    s.sort_unstable();
    let n = s.len();
    if n == 0 {
        return None;
    }
    // Nearest rank: the smallest sample with at least 95 % of them at or below it.
    let p95 = s[(n * 95).div_ceil(100).clamp(1, n) - 1];
    Some(Stats {
        n,
        min: s[0],
        median: (s[(n - 1) / 2] + s[n / 2]) / 2,
        p95,
        max: s[n - 1],
    })
}

fn fmt_stats(st: &Stats) -> String {
    if st.max >= Duration::from_secs(10) {
        let s = |d: Duration| format!("{:.1}", d.as_secs_f64());
        format!(
            "{} / {} / {} / {} s (n={})",
            s(st.min),
            s(st.median),
            s(st.p95),
            s(st.max),
            st.n
        )
    } else {
        let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
        format!(
            "{} / {} / {} / {} ms (n={})",
            ms(st.min),
            ms(st.median),
            ms(st.p95),
            ms(st.max),
            st.n
        )
    }
}

fn fmt_dur(d: Duration) -> String {
    if d >= Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    }
}

fn mib(kib: u64) -> String {
    format!("{:.2} MiB ({kib} KiB)", kib as f64 / 1024.0)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verdict(ok: bool) -> String {
    if ok { "PASS" } else { "FAIL" }.to_string()
}

fn err_cell(e: &str) -> String {
    format!("error: {}", e.replace('|', "/"))
}

#[derive(Clone, Debug, Default)]
struct Versions {
    dynhost: String,
    ddclient: String,
    inadyn: String,
}

fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("").trim().to_string();
    (!first.is_empty()).then_some(first)
}

fn versions(bin: &Path) -> Versions {
    let dpkg = |p: &str| command_output("dpkg-query", &["-W", "-f=${Version}", p]);
    Versions {
        dynhost: command_output(&bin.display().to_string(), &["--version"])
            .unwrap_or_else(|| "dynhost ?".into()),
        ddclient: dpkg("ddclient").unwrap_or_else(|| "?".into()),
        inadyn: command_output("inadyn", &["-v"]).unwrap_or_else(|| "?".into()),
    }
}

fn machine() -> String {
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

#[derive(Default)]
struct Results {
    sizes: Vec<(String, Result<Elf, String>)>,
    /// (link, debounce, result)
    latency: Vec<(Link, Option<Duration>, Result<Latency, String>)>,
    v6_noise: Option<Result<Vec<Duration>, String>>,
    flap: Option<Result<Flap, String>>,
    storm: Option<Result<Storm, String>>,
    startup: Option<Result<Startup, String>>,
    idle: Option<Result<DynIdle, String>>,
    peers: Vec<(Peer, Result<PeerResult, String>)>,
}

struct Row {
    metric: String,
    dynhost: String,
    peers: Vec<String>,
    target: String,
    verdict: String,
}

impl Row {
    fn new(metric: impl Into<String>, dynhost: impl Into<String>) -> Row {
        Row {
            metric: metric.into(),
            dynhost: dynhost.into(),
            peers: Vec::new(),
            target: String::new(),
            verdict: String::new(),
        }
    }

    fn target(mut self, target: impl Into<String>, ok: Option<bool>) -> Row {
        self.target = target.into();
        self.verdict = ok.map_or("—".to_string(), verdict);
        self
    }
}

fn render(r: &Results, opts: &Opts, versions: &Versions, elapsed: Duration) -> (String, bool) {
    let mut rows: Vec<Row> = Vec::new();
    let mut all_pass = true;
    let mut judge = |ok: bool| {
        all_pass &= ok;
        Some(ok)
    };
    let peer_cells = |f: &dyn Fn(&PeerResult) -> String| -> Vec<String> {
        r.peers
            .iter()
            .map(|(_, res)| match res {
                Ok(p) => f(p),
                Err(e) => err_cell(e),
            })
            .collect()
    };

    for (link, debounce, res) in &r.latency {
        let quiet = debounce.unwrap_or(Duration::from_secs(1));
        let name = match link {
            Link::Bridge => "bridge",
            Link::Ppp => "ppp0 (point-to-point tun)",
        };
        let label = match debounce {
            None => "debounce 1 s (default)".to_string(),
            Some(d) => format!("`debounce = \"{}s\"`", d.as_secs()),
        };
        let metric = format!("Change → request, {name}, {label}: min / median / p95 / max");
        let limit = quiet + TARGET_SLACK;
        let target = format!("p95 ≤ {}", fmt_dur(limit));
        let row = match res {
            Ok(l) => {
                let st = stats(&l.samples).expect("samples");
                let cell = format!(
                    "{} (t0 ack/notification skew ≤ {} µs)",
                    fmt_stats(&st),
                    l.skew.as_micros()
                );
                Row::new(metric, cell).target(target, judge(st.p95 <= limit))
            }
            Err(e) => Row::new(metric, err_cell(e)).target(target, judge(false)),
        };
        rows.push(row);
    }
    if let Some(res) = &r.v6_noise {
        let metric = format!(
            "Change → request, bridge, debounce 1 s, one IPv6 address event on the same \
             interface {} ms after the IPv4 change (record: IPv4 only)",
            V6_GAP.as_millis()
        );
        // Events of a family no record publishes are ignored: the IPv6 one must not
        // restart the debounce.
        let limit = Duration::from_secs(1) + TARGET_SLACK;
        let target = format!("p95 ≤ {} (the IPv6 event ignored)", fmt_dur(limit));
        let row = match res {
            Ok(v) => match stats(v) {
                Some(st) => Row::new(metric, fmt_stats(&st)).target(target, judge(st.p95 <= limit)),
                None => Row::new(metric, "no sample").target(target, judge(false)),
            },
            Err(e) => Row::new(metric, err_cell(e)).target(target, judge(false)),
        };
        rows.push(row);
    }
    if !r.peers.is_empty() {
        let mut row = Row::new(
            "Change → request, bridge, peers at the interval in their column header",
            "see the rows above",
        );
        row.peers =
            peer_cells(&|p| stats(&p.samples).map_or("no sample".into(), |s| fmt_stats(&s)));
        rows.push(row);
    }
    let flap_cell = |f: &Flap| {
        let last = f.sent.last().is_some_and(|ip| *ip == f.last.to_string());
        format!(
            "{} request(s) for {FLAP_CHANGES} changes in {:.0} ms; carries {}{}",
            f.sent.len(),
            f.span.as_secs_f64() * 1e3,
            f.sent.join(", "),
            if last {
                " = the last ✓"
            } else {
                " ≠ the last ✗"
            },
        ) + &f.latency.map_or(String::new(), |l| {
            format!("; the last address {} after its change", fmt_dur(l))
        })
    };
    if let Some(res) = &r.flap {
        let metric = format!("Flap: {FLAP_CHANGES} changes within 1 s → requests");
        let mut row = match res {
            Ok(f) => Row::new(&metric, flap_cell(f))
                .target("exactly 1, carrying the last address", judge(f.ok())),
            Err(e) => Row::new(&metric, err_cell(e)).target("exactly 1", judge(false)),
        };
        row.peers = peer_cells(&|p| flap_cell(&p.flap));
        rows.push(row);
    }
    if let Some(res) = &r.startup {
        let med = |v: &[Duration]| {
            stats(v).map_or("-".into(), |s| {
                format!(
                    "{} median ({} – {}, n={})",
                    fmt_dur(s.median),
                    fmt_dur(s.min),
                    fmt_dur(s.max),
                    s.n
                )
            })
        };
        let metric = "Start-up: process start → first request (address present before start)";
        let mut row = match res {
            Ok(s) => Row::new(
                metric,
                format!("HTTP: {}; HTTPS: {}", med(&s.http), med(&s.https)),
            ),
            Err(e) => Row::new(metric, err_cell(e)),
        }
        .target("", None);
        row.peers = peer_cells(&|p| format!("HTTP: {} (n=1)", fmt_dur(p.startup)));
        rows.push(row);
    }
    let idle_cpu = |i: &Idle| {
        let mut s = format!(
            "{:.0} ms in {:.0} s ({:.2} ms/min); on-CPU {:.3} ms",
            i.cpu_ms,
            i.window.as_secs_f64(),
            i.per_min(i.cpu_ms),
            i.run_ns as f64 / 1e6
        );
        if i.child_cpu_ms > 0.0 {
            write!(
                s,
                "; + children {:.0} ms ({:.2} ms/min)",
                i.child_cpu_ms,
                i.per_min(i.child_cpu_ms)
            )
            .unwrap();
        }
        s
    };
    let idle_wake = |i: &Idle| {
        format!(
            "{} voluntary ({:.1}/min), {} nonvoluntary; {} thread(s){}; {} request(s)",
            i.voluntary,
            i.per_min(i.voluntary as f64),
            i.nonvoluntary,
            i.threads,
            if i.threads_changed {
                ", thread set changed"
            } else {
                ""
            },
            i.requests
        )
    };
    if let Some(res) = &r.idle {
        let window = opts.idle.as_secs();
        let m1 = format!("Idle CPU (utime+stime) over {window} s after the last update");
        let m2 = format!("Idle wake-ups over {window} s (context switches, all threads)");
        let m3 = "Idle VmRSS";
        let m4 = "VmHWM after updates";
        match res {
            Ok(d) => {
                let i = &d.idle;
                let mut row = Row::new(m1, idle_cpu(i)).target("", None);
                row.peers = peer_cells(&|p| idle_cpu(&p.idle));
                rows.push(row);
                let cell = format!(
                    "{} ({} thread(s) 0.3 s after the last update)",
                    idle_wake(i),
                    d.threads_after_update
                );
                let mut row = Row::new(m2, cell)
                    .target("0 wake-ups", judge(i.voluntary == 0 && i.requests == 0));
                row.peers = peer_cells(&|p| idle_wake(&p.idle));
                rows.push(row);
                let mut row = Row::new(m3, mib(i.rss_kib))
                    .target("≤ 3 MiB", judge(i.rss_kib <= TARGET_RSS_KIB));
                row.peers = peer_cells(&|p| mib(p.idle.rss_kib));
                rows.push(row);
                let http_hwm = r
                    .latency
                    .iter()
                    .filter_map(|(_, _, l)| l.as_ref().ok())
                    .map(|l| (l.hwm_kib, l.rss_kib))
                    .max();
                let mut cell = format!(
                    "HTTPS ({} updates, ca_file + system roots): {}",
                    d.https_updates,
                    mib(d.hwm_https_kib.max(i.hwm_kib))
                );
                write!(cell, " (VmRSS just after: {})", mib(d.rss_https_kib)).unwrap();
                if let Some((hwm, rss)) = http_hwm {
                    write!(
                        cell,
                        "; plain HTTP, after {}+ updates: {} (VmRSS {})",
                        opts.changes + 1,
                        mib(hwm),
                        mib(rss)
                    )
                    .unwrap();
                }
                let mut row = Row::new(m4, cell).target(
                    "≤ 4 MiB after HTTPS",
                    judge(d.hwm_https_kib.max(i.hwm_kib) <= TARGET_HWM_KIB),
                );
                row.peers = peer_cells(&|p| format!("plain HTTP: {}", mib(p.idle.hwm_kib)));
                rows.push(row);
            }
            Err(e) => {
                rows.push(Row::new(m1, err_cell(e)).target("", None));
                rows.push(Row::new(m2, err_cell(e)).target("0 wake-ups", judge(false)));
                rows.push(Row::new(m3, err_cell(e)).target("≤ 3 MiB", judge(false)));
                rows.push(Row::new(m4, err_cell(e)).target("≤ 4 MiB", judge(false)));
            }
        }
    }
    if let Some(res) = &r.storm {
        let n = thousands(opts.storm as u64);
        let unrelated = |p: &StormPhase| {
            format!(
                "{:.1} µs/event ({:.0} ms for {} events; on-CPU {:.1} µs/event); {} request(s); sent in {:.2} s{}",
                p.ns_per_event() / 1e3,
                p.cpu_ms,
                thousands(p.events as u64),
                p.sched_ns_per_event() / 1e3,
                p.sent.len(),
                p.wall.as_secs_f64(),
                if p.monitor_overrun {
                    " (bench monitor overran: count low)"
                } else {
                    ""
                }
            )
        };
        let target = "≤ 20 µs/event, 0 requests";
        let phase_ok = |p: &StormPhase| {
            p.ns_per_event() <= TARGET_STORM_NS && p.requests_ok() && p.events >= opts.storm
        };
        let m1 = format!("Storm: {n} unrelated address events, back to back: CPU per event");
        let m2 = format!(
            "Storm: {n} unrelated events paced {} µs apart (each its own wake-up)",
            STORM_PACE.as_micros()
        );
        let m3 = format!(
            "Storm: {n} unrelated events + {STORM_FOLLOWED} changes on the followed interface mid-storm"
        );
        let na = || -> Vec<String> {
            r.peers
                .iter()
                .map(|_| "n/a: polls; never sees events".to_string())
                .collect()
        };
        match res {
            Ok(s) => {
                let mut row =
                    Row::new(m1, unrelated(&s.burst)).target(target, judge(phase_ok(&s.burst)));
                row.peers = na();
                rows.push(row);
                let mut row =
                    Row::new(m2, unrelated(&s.paced)).target(target, judge(phase_ok(&s.paced)));
                row.peers = na();
                rows.push(row);
                let m = &s.mixed;
                let cell = format!(
                    "{} request(s), carrying {} (last: {}); {:.1} µs CPU/event overall; after all storms VmRSS {}, VmHWM {}",
                    m.sent.len(),
                    m.sent.join(", "),
                    m.followed_last.map_or("-".into(), |ip| ip.to_string()),
                    m.ns_per_event() / 1e3,
                    mib(m.rss_kib),
                    mib(m.hwm_kib)
                );
                let mut row = Row::new(m3, cell).target(
                    "exactly 1, for the followed interface, last address",
                    judge(m.requests_ok()),
                );
                row.peers = na();
                rows.push(row);
            }
            Err(e) => {
                for m in [m1, m2, m3] {
                    rows.push(Row::new(m, err_cell(e)).target(target, judge(false)));
                }
            }
        }
    }
    for (label, res) in &r.sizes {
        let metric = format!("Binary, {label}, static release build, stripped");
        let row = match res {
            Ok(e) => Row::new(
                metric,
                format!(
                    "{} bytes ({:.2} MiB); {} ELF, {}, {}",
                    thousands(e.size),
                    e.size as f64 / 1048576.0,
                    e.machine,
                    if e.is_static { "static" } else { "DYNAMIC" },
                    if e.stripped {
                        "stripped"
                    } else {
                        "NOT stripped"
                    }
                ),
            )
            .target(
                "≤ 3 MiB (3,145,728 bytes)",
                judge(e.size <= TARGET_SIZE && e.is_static && e.stripped),
            ),
            Err(e) => Row::new(metric, err_cell(e)).target("≤ 3 MiB", judge(false)),
        };
        rows.push(row);
    }
    if let Some(Ok(d)) = &r.idle {
        let mut row = Row::new(
            "Files mapped by the running process (binary + shared libraries)",
            format!(
                "{} file(s), {}",
                d.mapped.0,
                thousands(d.mapped.1) + " bytes"
            ),
        )
        .target("", None);
        row.peers = peer_cells(&|p| {
            format!(
                "{} files, {} bytes ({})",
                p.mapped.0,
                thousands(p.mapped.1),
                p.exe
            )
        });
        rows.push(row);
    }

    let mut out = String::new();
    let mut header = vec![format!("dynhost ({})", versions.dynhost)];
    header.extend(r.peers.iter().map(|(p, _)| p.header(versions)));
    writeln!(
        out,
        "| Metric | {} | Target | Verdict |",
        header.join(" | ")
    )
    .unwrap();
    writeln!(out, "|---|{}---|---|", "---|".repeat(header.len())).unwrap();
    for row in &rows {
        let mut cells = vec![row.dynhost.clone()];
        for i in 0..r.peers.len() {
            cells.push(row.peers.get(i).cloned().unwrap_or_else(|| "—".into()));
        }
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            row.metric,
            cells.join(" | "),
            if row.target.is_empty() {
                "—"
            } else {
                &row.target
            },
            if row.verdict.is_empty() {
                "—"
            } else {
                &row.verdict
            }
        )
        .unwrap();
    }
    writeln!(
        out,
        "\nMachine: {}. Run took {:.1} min.",
        machine(),
        elapsed.as_secs_f64() / 60.0
    )
    .unwrap();
    (out, all_pass)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // dynhost's default log level, not the test harness's trace.
    // SAFETY: no other thread runs yet.
    unsafe { std::env::set_var("DYNHOST_LOG", "info") };
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("footprint: run as root (each scenario creates a network namespace)");
        std::process::exit(2);
    }
    if !opts.bin.is_file() {
        eprintln!(
            "footprint: no dynhost binary at {} (bench/run builds it)",
            opts.bin.display()
        );
        std::process::exit(2);
    }
    let versions = versions(&opts.bin);
    progress!(
        "{} at {}; options {:?}",
        versions.dynhost,
        opts.bin.display(),
        opts
    );
    let started = Instant::now();
    let mut r = Results::default();

    if opts.wants("sizes") {
        r.sizes.push(("x86_64".into(), elf(&opts.bin)));
        if let Some(a) = &opts.bin_aarch64 {
            r.sizes.push(("aarch64".into(), elf(a)));
        }
    }
    if opts.wants("latency") {
        for link in [Link::Bridge, Link::Ppp] {
            for debounce in [None, Some(Duration::ZERO)] {
                let (bin, n) = (opts.bin.clone(), opts.changes);
                let what = format!("latency {link:?} debounce {debounce:?}");
                let res = attempt(&what, move || dynhost_latency(&bin, link, debounce, n));
                if let Ok(l) = &res
                    && let Some(s) = stats(&l.samples)
                {
                    progress!("{what}: {}", fmt_stats(&s));
                }
                r.latency.push((link, debounce, res));
            }
        }
    }
    if opts.wants("v6noise") {
        let (bin, n) = (opts.bin.clone(), (opts.changes / 4).max(1));
        r.v6_noise = Some(attempt("IPv6 event after an IPv4 change", move || {
            dynhost_v6_noise(&bin, n)
        }));
    }
    if opts.wants("flap") {
        let bin = opts.bin.clone();
        r.flap = Some(attempt("flap", move || dynhost_flap(&bin)));
    }
    if opts.wants("storm") {
        let (bin, n) = (opts.bin.clone(), opts.storm);
        r.storm = Some(attempt("storm", move || dynhost_storm(&bin, n)));
    }
    if opts.wants("startup") {
        let runs = opts.startups;
        let bin = opts.bin.clone();
        let http = attempt("start-up http", move || dynhost_startup(&bin, runs, false));
        let bin = opts.bin.clone();
        let https = attempt("start-up https", move || dynhost_startup(&bin, runs, true));
        r.startup = Some(match (http, https) {
            (Ok(http), Ok(https)) => Ok(Startup { http, https }),
            (Err(e), _) | (_, Err(e)) => Err(e),
        });
    }
    if opts.wants("idle") {
        let (bin, window, settle) = (opts.bin.clone(), opts.idle, opts.settle);
        r.idle = Some(attempt("idle and memory (HTTPS)", move || {
            dynhost_idle(&bin, window, settle)
        }));
    }
    if opts.peers {
        let peers = [
            (Peer::Ddclient, opts.peer_changes),
            (Peer::Inadyn(30), opts.peer_changes),
            // inadyn 2.10 does not enforce its 30 s minimum: 1 s is accepted (0 spins).
            (Peer::Inadyn(1), opts.changes),
        ];
        for (peer, changes) in peers {
            if !opts.wants(&peer.slug()) {
                continue;
            }
            let (window, settle) = (opts.idle, opts.settle);
            let res = attempt(&peer.slug(), move || {
                peer_bench(peer, changes, window, settle)
            });
            r.peers.push((peer, res));
        }
    }

    let (table, pass) = render(&r, &opts, &versions, started.elapsed());
    println!("{table}");
    let failed = r.latency.iter().any(|(_, _, x)| x.is_err())
        || r.peers.iter().any(|(_, x)| x.is_err())
        || [
            r.flap.as_ref().map(|x| x.is_err()),
            r.storm.as_ref().map(|x| x.is_err()),
        ]
        .into_iter()
        .flatten()
        .any(|e| e)
        || matches!(r.idle, Some(Err(_)))
        || matches!(r.startup, Some(Err(_)));
    progress!(
        "finished in {:.1} min: {}",
        started.elapsed().as_secs_f64() / 60.0,
        if failed {
            "some scenarios failed (see above)"
        } else if pass {
            "every target met"
        } else {
            "some targets missed"
        }
    );
    if failed {
        std::process::exit(1);
    }
}
