//! The trigger hooks in contrib/: PPP ip-up and ipv6-up, the OpenWrt hotplug script,
//! NetworkManager's dispatcher, dhcpcd and udhcpc. Each runs as its caller runs it, under
//! busybox ash (OpenWrt) and /bin/sh (Debian's dash): the PPP hook against the real
//! binary in a private network namespace, the others with a fake dynhost that records
//! its arguments (tests/support/fakebin/dynhost).
//!
//! Every hook run gets one extra descriptor, fd 3, the write end of a pipe that the hooks
//! never touch: every process the hook starts in the background inherits it, so the end
//! of file on the read end says that all of them are done. That makes "nothing was
//! called" a fact rather than a guess after a sleep.

mod support;

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::agent::{Agent, BIN, Scratch, record, settle, write_config};
use support::netns::{in_netns, ppp};
use support::provider::Provider;

const T: Duration = Duration::from_secs(10);
/// How long a hook may take to return: it must never hold up pppd, netifd or NM.
const QUICK: Duration = Duration::from_secs(1);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn contrib(path: &str) -> PathBuf {
    root().join("contrib").join(path)
}

fn fake_dynhost() -> PathBuf {
    root().join("tests/support/fakebin/dynhost")
}

fn openwrt_standin(name: &str) -> PathBuf {
    root().join("tests/support/openwrt").join(name)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// busybox, or a failure that says how to get it: these tests must not pass without it.
fn busybox() -> PathBuf {
    which("busybox").unwrap_or_else(|| {
        panic!(
            "busybox is not installed: the hooks must run under busybox ash, as on OpenWrt. \
             Install it: apt-get install busybox"
        )
    })
}

/// The shells every hook must work with.
#[derive(Clone, Copy, Debug)]
enum Shell {
    /// busybox ash, OpenWrt's /bin/sh.
    Ash,
    /// The system's /bin/sh (dash on Debian).
    Sh,
}

const SHELLS: [Shell; 2] = [Shell::Ash, Shell::Sh];

impl Shell {
    /// `SHELL SCRIPT`, as the kernel runs a `#!/bin/sh` script.
    fn script(self, script: &Path) -> Command {
        let mut cmd = self.bare();
        cmd.arg(script);
        cmd
    }

    fn bare(self) -> Command {
        match self {
            Shell::Ash => {
                let mut cmd = Command::new(busybox());
                cmd.arg("ash");
                cmd
            }
            Shell::Sh => Command::new("/bin/sh"),
        }
    }
}

// ---- running a hook ------------------------------------------------------------------

/// A hook that has returned; its background work may still be running.
struct Ran {
    status: ExitStatus,
    took: Duration,
    /// Fires when every process the hook started has exited (fd 3 closed everywhere).
    all_done: mpsc::Receiver<()>,
    stdout: Option<mpsc::Receiver<(Vec<u8>, Duration)>>,
}

impl Ran {
    /// The hook returned quickly with status 0.
    fn assert_quick_success(&self, what: &str) {
        assert!(
            self.status.success(),
            "{what}: the hook must always exit 0, got {:?}",
            self.status
        );
        assert!(
            self.took < QUICK,
            "{what}: the hook took {:?} to return; it must not wait for dynhost",
            self.took
        );
    }

    /// Waits until nothing the hook started is left.
    fn wait_all(&self, what: &str) {
        self.all_done.recv_timeout(T).unwrap_or_else(|_| {
            panic!("{what}: something the hook started was still running after {T:?}")
        });
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two new descriptors, which we then own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn wait_child(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + T;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("{what}: the hook itself did not return within {T:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs a prepared hook command with fd 3 as the "all done" witness and stdin on
/// /dev/null. Without `capture`, stdout and stderr are /dev/null too (as pppd has them);
/// with it, they are pipes whose end of file is timed, to show that the background work
/// does not hold them.
fn run_hook(mut cmd: Command, what: &str, capture: bool) -> Ran {
    let (r, w) = pipe();
    let wfd = w.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if wfd == 3 {
                if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(wfd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.stdin(Stdio::null());
    if capture {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot run the hook: {e}"));
    drop(w);
    let stdout = if capture {
        let (tx, rx) = mpsc::channel();
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.read_to_end(&mut buf);
            let _ = err.read_to_end(&mut buf);
            let _ = tx.send((buf, start.elapsed()));
        });
        Some(rx)
    } else {
        None
    };
    let status = wait_child(&mut child, what);
    let took = start.elapsed();
    let (tx, all_done) = mpsc::channel();
    std::thread::spawn(move || {
        let mut f = File::from(r);
        let mut sink = Vec::new();
        let _ = f.read_to_end(&mut sink);
        let _ = tx.send(());
    });
    Ran {
        status,
        took,
        all_done,
        stdout,
    }
}

// ---- what the fake dynhost recorded ---------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
struct Call {
    /// `DYNHOST_CONFIG` as the call saw it.
    config: String,
    /// The arguments, each in [brackets].
    argv: String,
    /// The exit status, once the call is over.
    exit: Option<i32>,
}

fn calls(log: &Path) -> Vec<Call> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out: Vec<(String, Call)> = Vec::new();
    for line in text.lines() {
        let mut words = line.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("call"), Some(pid), Some(rest)) => {
                let (config, argv) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push((
                    pid.to_string(),
                    Call {
                        config: config.trim_start_matches("config=").to_string(),
                        argv: argv.to_string(),
                        exit: None,
                    },
                ));
            }
            (Some("exit"), Some(pid), Some(rc)) => {
                let call = out
                    .iter_mut()
                    .find(|(p, _)| p == pid)
                    .unwrap_or_else(|| panic!("exit without a call: {line:?}"));
                call.1.exit = Some(rc.parse().unwrap());
            }
            _ => panic!("unexpected line in the fake dynhost's log: {line:?}"),
        }
    }
    out.into_iter().map(|(_, c)| c).collect()
}

/// The argument lists of the finished calls; panics on an unfinished one.
fn argvs(log: &Path) -> Vec<String> {
    calls(log)
        .into_iter()
        .map(|c| {
            assert!(c.exit.is_some(), "a call never finished: {c:?}");
            c.argv
        })
        .collect()
}

// ---- PPP ------------------------------------------------------------------------------

/// pppd's environment for ip-up: empty except for its own variables (pppd.8, SCRIPTS).
fn pppd_env(cmd: &mut Command, ifname: &str, local: &str, remote: &str, ipparam: &str) {
    cmd.env_clear();
    for (k, v) in [
        ("IFNAME", ifname),
        ("DEVICE", "/dev/ttyUSB0"),
        ("SPEED", "115200"),
        ("IPLOCAL", local),
        ("IPREMOTE", remote),
        ("PEERNAME", "isp"),
        ("ORIG_UID", "0"),
        ("PPPLOGNAME", "root"),
        ("PPPD_PID", "4242"),
        ("LINKNAME", ipparam),
        ("CALL_FILE", ipparam),
        ("UNIT", "0"),
        ("USEPEERDNS", "1"),
        ("DNS1", "192.0.2.53"),
        ("DNS2", "198.51.100.53"),
    ] {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
}

/// The test's only additions to a hook's environment: where dynhost and its config are,
/// and the recorder's settings. `real` runs the real binary behind the recorder.
fn redirect(cmd: &mut Command, config: Option<&Path>, log: &Path, real: bool) {
    cmd.env("DYNHOST_BIN", fake_dynhost())
        .env("FAKE_DYNHOST_LOG", log);
    if let Some(c) = config {
        cmd.env("DYNHOST_CONFIG", c);
    }
    if real {
        cmd.env("FAKE_DYNHOST_EXEC", BIN);
    }
}

/// ip-up exactly as pppd runs it: `ip-up ppp0 /dev/ttyUSB0 115200 LOCAL REMOTE wan`.
fn ppp_ip_up(shell: Shell, config: &Path, log: &Path, local: &str, remote: &str) -> Command {
    let mut cmd = shell.script(&contrib("ppp/ip-up"));
    cmd.args(["ppp0", "/dev/ttyUSB0", "115200", local, remote, "wan"]);
    pppd_env(&mut cmd, "ppp0", local, remote, "wan");
    redirect(&mut cmd, Some(config), log, true);
    cmd
}

#[test]
fn ppp_ip_up_with_the_daemon_running_gives_one_update() {
    for shell in SHELLS {
        let what = format!("ip-up under {shell:?}, daemon running");
        in_netns(move || {
            let provider = Provider::start();
            let dir = Scratch::new("ppp-daemon");
            let cfg = write_config(
                &dir,
                &provider.url(),
                &record("home.example.com", "ppp0", ""),
            );
            let agent = Agent::start(&cfg, &[]);
            // pppd configures the link with our address, then runs ip-up.
            ppp("ppp0", "203.0.113.7", "198.51.100.1");
            let log = dir.join("calls");
            let ran = run_hook(
                ppp_ip_up(shell, &cfg, &log, "203.0.113.7", "198.51.100.1"),
                &what,
                false,
            );
            ran.assert_quick_success(&what);
            ran.wait_all(&what);
            assert_eq!(
                calls(&log),
                vec![Call {
                    config: cfg.display().to_string(),
                    argv: "[-q] [update] [--interface] [ppp0] [--ip] [203.0.113.7]".into(),
                    exit: Some(0),
                }],
                "{what}"
            );
            assert!(
                agent.log().contains("hook trigger"),
                "{what}: the request went through the daemon"
            );
            // The hook's request was answered after its round: all that was sent is in.
            settle(Duration::from_millis(300));
            let reqs = provider.requests();
            assert_eq!(
                reqs.len(),
                1,
                "{what}: the hook and the netlink event give one request"
            );
            assert_eq!(reqs[0].param("myip"), Some("203.0.113.7"));
            assert_eq!(reqs[0].param("hostname"), Some("home.example.com"));
        });
    }
}

#[test]
fn ppp_ip_up_without_a_daemon_publishes_the_address_itself() {
    for shell in SHELLS {
        let what = format!("ip-up under {shell:?}, no daemon");
        in_netns(move || {
            let provider = Provider::start();
            let dir = Scratch::new("ppp-oneshot");
            let cfg = write_config(
                &dir,
                &provider.url(),
                &record("home.example.com", "ppp0", ""),
            );
            ppp("ppp0", "203.0.113.7", "198.51.100.1");
            let log = dir.join("calls");
            let ran = run_hook(
                ppp_ip_up(shell, &cfg, &log, "203.0.113.7", "198.51.100.1"),
                &what,
                false,
            );
            ran.assert_quick_success(&what);
            ran.wait_all(&what);
            let c = calls(&log);
            assert_eq!(c.len(), 1, "{what}: {c:?}");
            assert_eq!(c[0].exit, Some(0), "{what}: {c:?}");
            let reqs = provider.requests();
            assert_eq!(reqs.len(), 1, "{what}");
            assert_eq!(reqs[0].param("myip"), Some("203.0.113.7"));
            let state = std::fs::read_to_string(dir.join("state/state")).unwrap();
            assert!(state.contains("published=203.0.113.7@"), "{what}: {state}");
        });
    }
}

#[test]
fn ppp_ip_up_with_a_cgnat_address_sends_nothing_and_exits_0() {
    for shell in SHELLS {
        let what = format!("ip-up under {shell:?}, CGNAT address");
        in_netns(move || {
            let provider = Provider::start();
            let dir = Scratch::new("ppp-cgnat");
            let cfg = write_config(
                &dir,
                &provider.url(),
                &record("home.example.com", "ppp0", ""),
            );
            ppp("ppp0", "100.64.0.7", "100.64.0.1");
            let log = dir.join("calls");
            let ran = run_hook(
                ppp_ip_up(shell, &cfg, &log, "100.64.0.7", "100.64.0.1"),
                &what,
                false,
            );
            ran.assert_quick_success(&what);
            ran.wait_all(&what);
            assert_eq!(
                calls(&log),
                vec![Call {
                    config: cfg.display().to_string(),
                    argv: "[-q] [update] [--interface] [ppp0] [--ip] [100.64.0.7]".into(),
                    exit: Some(2),
                }],
                "{what}: dynhost refuses a non-global --ip as a usage error"
            );
            assert_eq!(provider.count(), 0, "{what}: nothing sent");
        });
    }
}

/// OpenWrt: netifd's ppp6-up runs /etc/ppp/ip-up.d/* with "$@", so ip-up sees the
/// IPv6 link-local address as $4. And Debian's ipv6-up.d hook gets the same arguments.
#[test]
fn ppp_ipv6_up_never_passes_a_link_local_address() {
    for shell in SHELLS {
        for hook in ["ppp/ip-up", "ppp/ipv6-up"] {
            let what = format!("{hook} for IPv6 under {shell:?}");
            in_netns(move || {
                let provider = Provider::start();
                let dir = Scratch::new("ppp6");
                let cfg = write_config(
                    &dir,
                    &provider.url(),
                    &record("home.example.com", "pppoe-wan", ""),
                );
                ppp("pppoe-wan", "203.0.113.9", "198.51.100.1");
                let log = dir.join("calls");
                let ll_local = "fe80::5054:ff:fe12:3456";
                let ll_remote = "fe80::1";
                let mut cmd = shell.script(&contrib(hook));
                cmd.args(["pppoe-wan", "eth1", "0", ll_local, ll_remote, "wan"]);
                pppd_env(&mut cmd, "pppoe-wan", "203.0.113.9", "198.51.100.1", "wan");
                cmd.env("LLLOCAL", ll_local)
                    .env("LLREMOTE", ll_remote)
                    .env("PPP_IPPARAM", "wan");
                redirect(&mut cmd, Some(&cfg), &log, true);
                let ran = run_hook(cmd, &what, false);
                ran.assert_quick_success(&what);
                ran.wait_all(&what);
                assert_eq!(
                    calls(&log),
                    vec![Call {
                        config: cfg.display().to_string(),
                        argv: "[-q] [update] [--interface] [pppoe-wan]".into(),
                        exit: Some(0),
                    }],
                    "{what}: a round on the interface, no --ip"
                );
                // Without a daemon, that round reads the interface and publishes its
                // global address.
                let reqs = provider.requests();
                assert_eq!(reqs.len(), 1, "{what}");
                assert_eq!(reqs[0].param("myip"), Some("203.0.113.9"));
            });
        }
    }
}

/// Debian's /etc/ppp/ip-up runs an executable ip-up.local instead of ip-up.d, as
/// `exec /etc/ppp/ip-up.local "$*"`: one word. install.md tells users to call our hook
/// from there with "$@"; the hook must read that word as the six arguments.
#[test]
fn ppp_hooks_called_from_debian_ip_up_local_with_one_word_still_work() {
    for shell in SHELLS {
        for (hook, local, argv) in [
            (
                "ppp/ip-up",
                "203.0.113.7",
                "[-q] [update] [--interface] [ppp0] [--ip] [203.0.113.7]",
            ),
            (
                "ppp/ipv6-up",
                "fe80::5054:ff:fe12:3456",
                "[-q] [update] [--interface] [ppp0]",
            ),
        ] {
            let what = format!("{hook} with \"$*\" under {shell:?}");
            let dir = Scratch::new("ppp-local");
            let log = dir.join("calls");
            let mut cmd = shell.script(&contrib(hook));
            // A `*` in ipparam must not be expanded against the current directory.
            cmd.arg(format!(
                "ppp0 /dev/ttyUSB0 115200 {local} 198.51.100.1 isp*"
            ))
            .current_dir(&dir.path);
            pppd_env(&mut cmd, "ppp0", "203.0.113.7", "198.51.100.1", "isp*");
            redirect(&mut cmd, Some(&dir.join("config.toml")), &log, false);
            let ran = run_hook(cmd, &what, false);
            ran.assert_quick_success(&what);
            ran.wait_all(&what);
            let c = calls(&log);
            assert_eq!(c.len(), 1, "{what}: {c:?}");
            assert_eq!(c[0].argv, argv, "{what}");
        }
    }
}

// ---- hooks that must not wait ----------------------------------------------------------

/// Every hook, with a dynhost that takes 2 s, returns at once and lets go of its stdout
/// and stderr; the call still happens, in the background.
#[test]
fn no_hook_waits_for_dynhost() {
    let dir = Scratch::new("slow");
    let uci = uci_fixture(&dir);
    let mut runs = Vec::new();
    for shell in SHELLS {
        let mut cases: Vec<(String, Command)> = Vec::new();
        let mut c = shell.script(&contrib("ppp/ip-up"));
        c.args([
            "ppp0",
            "/dev/ttyUSB0",
            "115200",
            "203.0.113.7",
            "198.51.100.1",
        ]);
        pppd_env(&mut c, "ppp0", "203.0.113.7", "198.51.100.1", "");
        cases.push(("ppp/ip-up".into(), c));
        let mut c = shell.script(&contrib("ppp/ipv6-up"));
        c.args(["ppp0", "/dev/ttyUSB0", "115200", "fe80::2", "fe80::1"]);
        pppd_env(&mut c, "ppp0", "", "", "");
        cases.push(("ppp/ipv6-up".into(), c));
        let mut c = shell.script(&contrib("networkmanager/90-dynhost"));
        c.args(["eth0", "up"]);
        cases.push(("networkmanager".into(), c));
        let mut c = shell.script(&contrib("udhcpc/dynhost"));
        c.arg("bound")
            .env("interface", "eth0")
            .env("ip", "203.0.113.30");
        cases.push(("udhcpc".into(), c));
        let mut c = dhcpcd_runner(shell);
        c.env("reason", "BOUND")
            .env("interface", "eth0")
            .env("new_ip_address", "203.0.113.20");
        cases.push(("dhcpcd".into(), c));
        let mut c = shell.script(&openwrt_standin("hotplug-call"));
        c.arg(contrib("openwrt/files/dynhost.hotplug"))
            .env("UCI_CONFIG_DIR", &uci)
            .env("ACTION", "ifup")
            .env("INTERFACE", "wan")
            .env("DEVICE", "pppoe-wan");
        cases.push(("openwrt hotplug".into(), c));
        for (name, mut cmd) in cases {
            let what = format!("{name} under {shell:?}");
            let log = dir.join(&format!("calls-{name}-{shell:?}").replace('/', "-"));
            redirect(&mut cmd, None, &log, false);
            cmd.env("FAKE_DYNHOST_SLEEP", "2").stdin(Stdio::null());
            let ran = run_hook(cmd, &what, true);
            ran.assert_quick_success(&what);
            let (out, eof) = ran
                .stdout
                .as_ref()
                .unwrap()
                .recv_timeout(T)
                .unwrap_or_else(|_| panic!("{what}: stdout/stderr still open after {T:?}"));
            assert!(
                eof < QUICK,
                "{what}: the hook's stdout/stderr stayed open {eof:?}: the background work \
                 must not hold them ({})",
                String::from_utf8_lossy(&out)
            );
            runs.push((what, log, ran));
        }
    }
    for (what, log, ran) in runs {
        ran.wait_all(&what);
        let c = calls(&log);
        assert_eq!(c.len(), 1, "{what}: the call happened anyway: {c:?}");
        assert_eq!(c[0].exit, Some(0), "{what}: and ran to its end");
    }
}

// ---- NetworkManager ---------------------------------------------------------------------

#[test]
fn networkmanager_dispatcher_acts_on_up_and_address_changes_only() {
    let dir = Scratch::new("nm");
    for shell in SHELLS {
        for (action, expect) in [
            ("up", true),
            ("dhcp4-change", true),
            ("dhcp6-change", true),
            ("reapply", true),
            ("down", false),
            ("pre-up", false),
            ("pre-down", false),
            ("vpn-up", false),
            ("vpn-down", false),
            ("hostname", false),
            ("connectivity-change", false),
            ("dns-change", false),
            ("", false),
        ] {
            let what = format!("NetworkManager {action:?} under {shell:?}");
            let log = dir.join(&format!("calls-{action}-{shell:?}"));
            let mut cmd = shell.script(&contrib("networkmanager/90-dynhost"));
            cmd.args(["wlp2s0", action])
                .env("NM_DISPATCHER_ACTION", action)
                .env("DEVICE_IFACE", "wlp2s0")
                .env("DEVICE_IP_IFACE", "wlp2s0")
                .env("CONNECTION_ID", "home");
            redirect(&mut cmd, None, &log, false);
            let ran = run_hook(cmd, &what, false);
            ran.assert_quick_success(&what);
            ran.wait_all(&what);
            let want: Vec<String> = if expect {
                vec!["[-q] [update] [--interface] [wlp2s0]".into()]
            } else {
                vec![]
            };
            assert_eq!(argvs(&log), want, "{what}");
        }
    }
}

// ---- dhcpcd -------------------------------------------------------------------------------

/// dhcpcd-run-hooks in miniature: a shell that sources the hook, under `set -u`, with
/// positional parameters of its own, then shows that it carried on with its state intact.
fn dhcpcd_runner(shell: Shell) -> Command {
    let mut cmd = shell.bare();
    cmd.arg("-c")
        .arg(
            r#"set -u
set -- first second
path_before=$PATH
. "$0"
status=$?
echo "after hook: status=$status args=$* path_same=$([ "$PATH" = "$path_before" ] && echo yes)"
command -v dynhost_dhcpcd_hook >/dev/null 2>&1 && echo "function left behind"
exit 0"#,
        )
        .arg(contrib("dhcpcd/dynhost"));
    cmd
}

#[test]
fn dhcpcd_hook_is_sourced_returns_and_acts_on_its_reasons() {
    let dir = Scratch::new("dhcpcd");
    let v4 = "[-q] [update] [--interface] [eth0] [--ip] [203.0.113.20]";
    let v6 = "[-q] [update] [--interface] [eth0]";
    for shell in SHELLS {
        for (reason, expect) in [
            ("BOUND", Some(v4)),
            ("RENEW", Some(v4)),
            ("REBIND", Some(v4)),
            ("REBOOT", Some(v4)),
            ("BOUND6", Some(v6)),
            ("RENEW6", Some(v6)),
            ("REBIND6", Some(v6)),
            ("REBOOT6", Some(v6)),
            ("ROUTERADVERT", Some(v6)),
            ("DELEGATED6", Some(v6)),
            ("PREINIT", None),
            ("CARRIER", None),
            ("NOCARRIER", None),
            ("EXPIRE", None),
            ("EXPIRE6", None),
            ("NAK", None),
            ("STOP", None),
            ("STOP6", None),
            ("STOPPED", None),
            ("DEPARTED", None),
            ("IPV4LL", None),
            ("TIMEOUT", None),
        ] {
            let what = format!("dhcpcd {reason} under {shell:?}");
            let log = dir.join(&format!("calls-{reason}-{shell:?}"));
            let mut cmd = dhcpcd_runner(shell);
            cmd.env("reason", reason)
                .env("interface", "eth0")
                .env(
                    "protocol",
                    if reason.ends_with('6') {
                        "dhcp6"
                    } else {
                        "dhcp"
                    },
                )
                .env("new_ip_address", "203.0.113.20")
                .stdin(Stdio::null());
            redirect(&mut cmd, None, &log, false);
            let ran = run_hook(cmd, &what, true);
            ran.assert_quick_success(&what);
            let (out, _) = ran.stdout.as_ref().unwrap().recv_timeout(T).unwrap();
            let out = String::from_utf8_lossy(&out);
            assert_eq!(
                out.trim_end(),
                "after hook: status=0 args=first second path_same=yes",
                "{what}: sourced, the hook returns, keeps the caller's arguments and PATH, \
                 and removes its function"
            );
            ran.wait_all(&what);
            let want: Vec<String> = expect.into_iter().map(String::from).collect();
            assert_eq!(argvs(&log), want, "{what}");
        }
    }
}

#[test]
fn dhcpcd_hook_without_an_ipv4_address_asks_for_a_round_on_the_interface() {
    let dir = Scratch::new("dhcpcd-noaddr");
    let log = dir.join("calls");
    let mut cmd = dhcpcd_runner(Shell::Ash);
    cmd.env("reason", "BOUND").env("interface", "eth0");
    redirect(&mut cmd, None, &log, false);
    let ran = run_hook(cmd, "dhcpcd BOUND without new_ip_address", false);
    ran.assert_quick_success("dhcpcd");
    ran.wait_all("dhcpcd");
    assert_eq!(argvs(&log), ["[-q] [update] [--interface] [eth0]"]);
}

// ---- udhcpc ---------------------------------------------------------------------------------

#[test]
fn udhcpc_hook_acts_on_bound_and_renew_with_the_leased_address() {
    let dir = Scratch::new("udhcpc");
    for shell in SHELLS {
        for (event, expect) in [
            ("bound", true),
            ("renew", true),
            ("deconfig", false),
            ("nak", false),
            ("leasefail", false),
            ("", false),
        ] {
            let what = format!("udhcpc {event:?} under {shell:?}");
            let log = dir.join(&format!("calls-{event}-{shell:?}"));
            let mut cmd = shell.script(&contrib("udhcpc/dynhost"));
            cmd.arg(event)
                .env("interface", "eth1")
                .env("ip", "203.0.113.30")
                .env("subnet", "255.255.255.0")
                .env("router", "203.0.113.1");
            redirect(&mut cmd, None, &log, false);
            let ran = run_hook(cmd, &what, false);
            ran.assert_quick_success(&what);
            ran.wait_all(&what);
            let want: Vec<String> = if expect {
                vec!["[-q] [update] [--interface] [eth1] [--ip] [203.0.113.30]".into()]
            } else {
                vec![]
            };
            assert_eq!(argvs(&log), want, "{what}");
        }
    }
}

// ---- OpenWrt hotplug --------------------------------------------------------------------------

/// /etc/config/dynhost for the hotplug and init tests: wan (logical) and eth0.2 (a device)
/// are followed by enabled records; lan only by a disabled one.
fn uci_fixture(dir: &Scratch) -> PathBuf {
    let uci = dir.join("uci");
    std::fs::create_dir_all(&uci).unwrap();
    std::fs::write(
        uci.join("dynhost"),
        "config dynhost 'global'\n\
         \toption debounce '1s'\n\n\
         config record 'home'\n\
         \toption enabled '1'\n\
         \toption hostname 'home.example.com'\n\
         \toption interface 'wan'\n\n\
         config record 'office'\n\
         \toption enabled '0'\n\
         \toption hostname 'office.example.com'\n\
         \toption interface 'lan'\n\n\
         config record\n\
         \toption hostname 'vlan.example.com'\n\
         \toption interface 'eth0.2'\n",
    )
    .unwrap();
    uci
}

#[test]
fn openwrt_hotplug_updates_followed_interfaces_on_ifup_and_ifupdate_only() {
    let dir = Scratch::new("hotplug");
    let uci = uci_fixture(&dir);
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let up = |dev: &str| Some(format!("[-q] [update] [--interface] [{dev}]"));
    for shell in SHELLS {
        for (n, (action, interface, device, config_dir, expect)) in [
            ("ifup", "wan", Some("pppoe-wan"), &uci, up("pppoe-wan")),
            ("ifupdate", "wan", Some("pppoe-wan"), &uci, up("pppoe-wan")),
            // Followed by its device name, whatever netifd calls the interface.
            ("ifup", "vlan", Some("eth0.2"), &uci, up("eth0.2")),
            ("ifdown", "wan", None, &uci, None),
            // netifd sets DEVICE only for ifup and ifupdate; the action decides anyway.
            ("ifdown", "wan", Some("pppoe-wan"), &uci, None),
            ("ifup-failed", "wan", None, &uci, None),
            ("iflink", "wan", Some("pppoe-wan"), &uci, None),
            ("ifup", "lan", Some("br-lan"), &uci, None),
            ("ifup", "guest", Some("br-guest"), &uci, None),
            ("ifup", "wan", Some("pppoe-wan"), &empty, None),
        ]
        .into_iter()
        .enumerate()
        {
            let what =
                format!("hotplug {action} {interface} {device:?} (case {n}) under {shell:?}");
            let log = dir.join(&format!("calls-{n}-{shell:?}"));
            let mut cmd = shell.script(&openwrt_standin("hotplug-call"));
            cmd.arg(contrib("openwrt/files/dynhost.hotplug"))
                .env("UCI_CONFIG_DIR", config_dir)
                .env("ACTION", action)
                .env("INTERFACE", interface)
                .env("HOTPLUG_TYPE", "iface");
            if let Some(d) = device {
                cmd.env("DEVICE", d);
            }
            redirect(&mut cmd, None, &log, false);
            let ran = run_hook(cmd, &what, false);
            ran.assert_quick_success(&what);
            ran.wait_all(&what);
            let got = calls(&log);
            match &expect {
                Some(argv) => {
                    assert_eq!(got.len(), 1, "{what}: {got:?}");
                    assert_eq!(&got[0].argv, argv, "{what}");
                    assert_eq!(
                        got[0].config, "/etc/config/dynhost",
                        "{what}: dynhost reads the UCI file the script looked at"
                    );
                }
                None => assert_eq!(got, vec![], "{what}"),
            }
        }
    }
}

#[test]
fn hooks_that_are_executed_are_executable() {
    for hook in [
        "ppp/ip-up",
        "ppp/ipv6-up",
        "networkmanager/90-dynhost",
        "udhcpc/dynhost",
        "openwrt/files/dynhost.init",
    ] {
        let mode = std::fs::metadata(contrib(hook))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "contrib/{hook} must be executable");
        assert_eq!(
            mode & 0o022,
            0,
            "contrib/{hook} must not be group/other-writable"
        );
    }
    let first = std::fs::read_to_string(contrib("ppp/ip-up")).unwrap();
    assert!(first.starts_with("#!/bin/sh\n"));
}
