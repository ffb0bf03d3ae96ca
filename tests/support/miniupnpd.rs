//! The real miniupnpd (Debian's package) as the upstream router, in network namespaces
//! the test creates:
//!
//! ```text
//!  isp: isp0 192.0.2.1 (STUN)        router: miniupnpd            client: eth0 192.168.77.2
//!       |                                wan0 192.0.2.2                (the code under test)
//!       +------------ veth --------------+  br-lan 192.168.77.1 ---- veth
//!                                             |                  rogue: eth0 192.168.77.3
//!                                             +------- veth ---- (another LAN host)
//! ```
//!
//! The namespaces are anonymous (held by file descriptors, entered with setns), so they
//! need no /run/netns (works as root and inside `unshare -rn`), cannot collide between
//! parallel tests, and vanish with the last process in them even if the test is killed.
//! Each `Upstream` has a label with the test's pid and a counter for its scratch files.
//!
//! miniupnpd's public address comes from the STUN stand-in ([`super::stun`]): 2.3.1
//! refuses documentation addresses on its WAN interface, so the WAN holds one (for the
//! "no public address" case) and STUN tells the public one. miniupnpd 2.3.1 has one
//! switch for NAT-PMP and PCP together (`enable_natpmp`); to offer only one of them the
//! router's firewall drops the other's requests by their version byte.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::agent::Scratch;
use super::stun::Stun;

pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 2);
pub const ROGUE: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 3);
pub const WAN: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const ISP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const STUN_PORT: u16 = 3478;
/// The public address miniupnpd learns unless the options say otherwise.
pub const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
/// The LAN interface in the client and rogue namespaces.
pub const LAN_IF: &str = "eth0";

const INSTALL: &str = "apt-get install miniupnpd nftables iproute2";

/// Panics with the install hint unless `program` is on PATH (or in /usr/sbin, /sbin).
pub fn require(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|dir| dir.join(program).is_file());
    assert!(
        found,
        "`{program}` is not installed; the gateway tests drive the real miniupnpd: {INSTALL}"
    );
}

/// A network namespace held open by a file descriptor.
pub struct Netns {
    file: File,
    pub label: String,
}

impl Netns {
    /// A new namespace with `lo` up.
    pub fn new(label: &str) -> Netns {
        let file = std::thread::spawn(|| {
            // SAFETY: unshare only changes this short-lived thread's namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                panic!(
                    "cannot create a network namespace (unshare(CLONE_NEWNET): {}): run the \
                     tests as root, or inside `unshare -rn` as `bash tests/run` does",
                    std::io::Error::last_os_error()
                );
            }
            File::open("/proc/thread-self/ns/net").expect("open /proc/thread-self/ns/net")
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let ns = Netns {
            file,
            label: label.to_string(),
        };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// A path `ip ... netns PATH` accepts for this namespace.
    pub fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.fd())
    }

    /// A command that runs in this namespace, killed if the spawning thread dies.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        let fd = self.fd();
        // SAFETY: only async-signal-safe syscalls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        cmd
    }

    /// Runs a command here; panics with its output if it fails.
    pub fn run_ok(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = self
            .command(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `{program}` ({INSTALL}): {e}"));
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "[{}] {program} {}: {}{}",
            self.label,
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn ip(&self, args: &[&str]) {
        self.run_ok("ip", args, None);
    }

    /// `ip -batch -`, one command per line.
    pub fn ip_batch(&self, lines: &[String]) {
        self.run_ok("ip", &["-batch", "-"], Some(&lines.join("\n")));
    }

    /// Runs `f` on a new thread inside this namespace and returns its result.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.spawn(f)
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }

    /// Starts `f` on a new thread inside this namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let fd = self.file.try_clone().expect("dup the namespace fd");
        std::thread::spawn(move || {
            // SAFETY: setns only changes this thread's network namespace.
            if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                panic!("setns: {}", std::io::Error::last_os_error());
            }
            drop(fd);
            f()
        })
    }

    /// The index of interface `name` here.
    pub fn ifindex(&self, name: &str) -> u32 {
        let name = name.to_string();
        self.run(move || {
            let c = std::ffi::CString::new(name.clone()).unwrap();
            // SAFETY: a valid C string.
            let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
            assert!(i != 0, "no interface {name}");
            i
        })
    }
}

/// Which protocols miniupnpd offers, and what it learns by STUN.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub natpmp: bool,
    pub pcp: bool,
    pub upnp: bool,
    /// With STUN, miniupnpd's public address is `public`; without, it reads its WAN
    /// interface, a documentation address 2.3.1 refuses (NAT-PMP result 3).
    pub stun: bool,
    pub public: Ipv4Addr,
    /// Run miniupnpd at all (false: just the namespaces, for servers of the test's own).
    pub daemon: bool,
}

impl Options {
    pub fn all() -> Options {
        Options {
            natpmp: true,
            pcp: true,
            upnp: true,
            stun: true,
            public: PUBLIC,
            daemon: true,
        }
    }
    pub fn natpmp_only() -> Options {
        Options {
            pcp: false,
            upnp: false,
            ..Options::all()
        }
    }
    pub fn pcp_only() -> Options {
        Options {
            natpmp: false,
            upnp: false,
            ..Options::all()
        }
    }
    pub fn upnp_only() -> Options {
        Options {
            natpmp: false,
            pcp: false,
            ..Options::all()
        }
    }
    /// The topology without miniupnpd or STUN.
    pub fn no_daemon() -> Options {
        Options {
            daemon: false,
            stun: false,
            ..Options::all()
        }
    }
    pub fn without_stun(self) -> Options {
        Options {
            stun: false,
            ..self
        }
    }
    pub fn public(self, public: Ipv4Addr) -> Options {
        Options { public, ..self }
    }
}

pub struct Upstream {
    pub opts: Options,
    pub label: String,
    pub isp: Netns,
    pub router: Netns,
    pub client: Netns,
    pub rogue: Netns,
    stun: Option<Stun>,
    daemon: Option<Child>,
    dir: Scratch,
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

impl Upstream {
    /// Builds the namespaces and starts miniupnpd (unless `opts.daemon` is false),
    /// returning once it listens.
    pub fn start(opts: Options) -> Upstream {
        static N: AtomicUsize = AtomicUsize::new(0);
        for tool in ["ip", "nft", "miniupnpd"] {
            require(tool);
        }
        let label = format!(
            "gw{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let isp = Netns::new(&format!("{label}-isp"));
        let router = Netns::new(&format!("{label}-router"));
        let client = Netns::new(&format!("{label}-client"));
        let rogue = Netns::new(&format!("{label}-rogue"));
        router.ip_batch(&[
            format!(
                "link add wan0 type veth peer name isp0 netns {}",
                isp.path()
            ),
            format!(
                "link add lan1 type veth peer name {LAN_IF} netns {}",
                client.path()
            ),
            format!(
                "link add lan2 type veth peer name {LAN_IF} netns {}",
                rogue.path()
            ),
            "link add br-lan type bridge".into(),
            "link set lan1 master br-lan".into(),
            "link set lan2 master br-lan".into(),
            format!("addr add {WAN}/24 dev wan0"),
            format!("addr add {GATEWAY}/24 dev br-lan"),
            "link set wan0 up".into(),
            "link set lan1 up".into(),
            "link set lan2 up".into(),
            "link set br-lan up".into(),
            format!("route add default via {ISP}"),
        ]);
        isp.ip_batch(&[
            format!("addr add {ISP}/24 dev isp0"),
            "link set isp0 up".into(),
        ]);
        for (ns, addr) in [(&client, CLIENT), (&rogue, ROGUE)] {
            ns.ip_batch(&[
                format!("addr add {addr}/24 dev {LAN_IF}"),
                format!("link set {LAN_IF} up"),
                format!("route add default via {GATEWAY}"),
            ]);
        }
        router.run_ok("nft", &["-f", "-"], Some(&ruleset(&opts)));
        let dir = Scratch::new(&label);
        let mut up = Upstream {
            opts,
            label,
            isp,
            router,
            client,
            rogue,
            stun: None,
            daemon: None,
            dir,
        };
        if opts.stun {
            let public = opts.public;
            up.stun = Some(
                up.isp
                    .run(move || Stun::start(SocketAddr::from((ISP, STUN_PORT)), public)),
            );
        }
        if opts.daemon {
            up.start_daemon();
        }
        up
    }

    fn start_daemon(&mut self) {
        let o = self.opts;
        let conf = format!(
            "ext_ifname=wan0\nlistening_ip=br-lan\nhttp_port=0\n\
             enable_natpmp={}\nenable_upnp={}\n\
             ext_perform_stun={}\next_stun_host={ISP}\next_stun_port={STUN_PORT}\n\
             secure_mode=no\nsystem_uptime=no\nnotify_interval=900\n\
             uuid=3d6b1a8e-1c2b-4f7a-9c55-5a1d2e3f4a5b\n\
             lease_file={}\n\
             upnp_table_name=miniupnpd\nupnp_nat_table_name=miniupnpd\n\
             upnp_forward_chain=miniupnpd\nupnp_nat_chain=prerouting_miniupnpd\n\
             upnp_nat_postrouting_chain=postrouting_miniupnpd\n\
             allow 1024-65535 192.168.77.0/24 1024-65535\n\
             deny 0-65535 0.0.0.0/0 0-65535\n",
            yes(o.natpmp || o.pcp),
            yes(o.upnp),
            yes(o.stun),
            self.dir.join("upnp.leases").display(),
        );
        let conf_path = self.dir.join("miniupnpd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = File::create(self.log_path()).unwrap();
        let child = self
            .router
            .command("miniupnpd")
            .arg("-d")
            .arg("-f")
            .arg(&conf_path)
            .arg("-P")
            .arg(self.dir.join("miniupnpd.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start miniupnpd ({INSTALL}): {e}"));
        self.daemon = Some(child);
        let ready = if o.natpmp || o.pcp {
            "Listening for NAT-PMP/PCP traffic on port 5351"
        } else {
            "HTTP listening on port"
        };
        self.wait_log(ready, Duration::from_secs(15));
    }

    fn log_path(&self) -> std::path::PathBuf {
        self.dir.join("miniupnpd.log")
    }

    /// miniupnpd's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// How many lines of the log contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits until the log contains `needle`; panics with the log after `timeout`, or
    /// at once if miniupnpd exited.
    pub fn wait_log(&mut self, needle: &str, timeout: Duration) {
        let start = Instant::now();
        loop {
            if self.log().contains(needle) {
                return;
            }
            if let Some(child) = self.daemon.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "[{}] miniupnpd exited ({status}) before logging {needle:?}:\n{}",
                        self.label,
                        self.log()
                    );
                }
            }
            assert!(
                start.elapsed() < timeout,
                "[{}] miniupnpd did not log {needle:?} within {timeout:?}:\n{}",
                self.label,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// miniupnpd's pid, while it runs.
    pub fn pid(&self) -> Option<i32> {
        self.daemon.as_ref().map(|c| c.id() as i32)
    }

    /// Changes what STUN answers and tells miniupnpd (SIGUSR1), which then re-runs
    /// STUN and announces the new address.
    pub fn set_public(&self, public: Ipv4Addr) {
        self.stun
            .as_ref()
            .expect("set_public needs STUN (Options::stun)")
            .set(public);
        let pid = self.pid().expect("set_public needs miniupnpd running");
        // SAFETY: signals our own child.
        assert_eq!(
            unsafe { libc::kill(pid, libc::SIGUSR1) },
            0,
            "kill -USR1 {pid}"
        );
    }

    /// STUN requests answered so far.
    pub fn stun_requests(&self) -> usize {
        self.stun.as_ref().map_or(0, |s| s.requests())
    }

    /// Kills miniupnpd now: the gateway stops answering (the router stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills miniupnpd and starts it again (a gateway reboot), returning once it listens.
    pub fn restart(&mut self) {
        self.stop();
        std::fs::remove_file(self.log_path()).ok();
        self.start_daemon();
    }

    /// `nft ARGS` in the router; its output.
    pub fn nft(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.router.run_ok("nft", args, None).stdout).into_owned()
    }

    /// The port forwardings miniupnpd has installed (its DNAT chain).
    pub fn mappings(&self) -> String {
        self.nft(&["list", "chain", "inet", "miniupnpd", "prerouting_miniupnpd"])
    }

    /// Runs `f` in the client namespace (the LAN host the code under test runs on).
    pub fn in_client<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.client.run(f)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("[{}] miniupnpd log:\n{}", self.label, self.log());
        }
    }
}

/// The table miniupnpd expects (Debian's nft_init.sh is broken: it sources an iptables
/// helper), plus what the options need: LAN-to-LAN traffic passes the bridge (with
/// br_netfilter it crosses the forward chain), and to offer NAT-PMP or PCP alone the
/// other's requests are dropped by their first byte (0: NAT-PMP, 2: PCP).
fn ruleset(o: &Options) -> String {
    let filter = match (o.natpmp, o.pcp) {
        (true, false) => "udp dport 5351 @th,64,8 != 0 drop",
        (false, true) => "udp dport 5351 @th,64,8 0 drop",
        _ => "",
    };
    format!(
        "table inet miniupnpd {{
  chain input {{
    type filter hook input priority 0; policy accept;
    {filter}
  }}
  chain forward {{
    type filter hook forward priority 0; policy drop;
    iifname \"br-lan\" oifname \"br-lan\" accept
    jump miniupnpd
  }}
  chain miniupnpd {{
  }}
  chain prerouting {{
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }}
  chain postrouting {{
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
  }}
  chain prerouting_miniupnpd {{
  }}
  chain postrouting_miniupnpd {{
  }}
}}
"
    )
}
