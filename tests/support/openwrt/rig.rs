//! OpenWrt's real runtime for the tests: `tests/openwrt/build` (the vendored userland,
//! built once and cached under target/) booted by `tests/openwrt/boot` in namespaces
//! with the package installed as its Makefile installs it. ubusd, logd, procd (not PID
//! 1), rpcd, uhttpd (127.0.0.1:80 in the namespace) and netifd (`wan`: 203.0.113.7/24
//! on the veth `wan0`) run; the dynhost service is installed, not enabled.
//!
//! `Rig::boot` runs from a test thread inside its own network namespace
//! (`netns::in_netns`) and shares it: a loopback provider the test starts there is the
//! router's, and so is `wan0`.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::super::agent::{BIN, Scratch};
use super::super::repo::root;

/// A booted router; stopped (every process in it killed) on drop.
pub struct Rig {
    pid: u32,
    pub dir: Scratch,
}

fn script(name: &str) -> PathBuf {
    root().join("tests/openwrt").join(name)
}

impl Rig {
    /// Boots a router in the caller's network namespace.
    pub fn boot(name: &str) -> Rig {
        Rig::boot_with(name, &[])
    }

    /// Boots with more `boot start` options (`--http-port N`, `--root-password PW`).
    pub fn boot_with(name: &str, args: &[&str]) -> Rig {
        let dir = Scratch::new(&format!("openwrt-{name}"));
        let mut cmd = Command::new(script("boot"));
        cmd.arg("start")
            .arg(&dir.path)
            .arg("--same-net")
            .args(args)
            .stdin(Stdio::null());
        if std::env::var_os("DYNHOST_BIN").is_none() {
            cmd.env("DYNHOST_BIN", BIN);
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run tests/openwrt/boot: {e}"));
        assert!(
            out.status.success(),
            "tests/openwrt/boot start failed (OpenWrt's runtime is needed: see \
             tests/openwrt/build for its sources):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = std::fs::read_to_string(dir.join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Rig { pid, dir }
    }

    /// A path of the router's / as the test process sees it (through the mount
    /// namespace of the router's first process).
    pub fn path(&self, p: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.pid))
            .join(self.dir.path.strip_prefix("/").unwrap())
            .join("root")
            .join(p.trim_start_matches('/'))
    }

    pub fn read(&self, p: &str) -> String {
        std::fs::read_to_string(self.path(p)).unwrap_or_else(|e| panic!("router's {p}: {e}"))
    }

    pub fn write(&self, p: &str, text: &str, mode: u32) {
        let path = self.path(p);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("router's {p}: {e}"));
        super::super::agent::set_mode(&path, mode);
    }

    /// `sh -c SCRIPT` inside the router (its root, PATH, namespaces).
    pub fn sh(&self, script_text: &str) -> Output {
        Command::new(script("boot"))
            .arg("exec")
            .arg(&self.dir.path)
            .arg(script_text)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// A command that runs ARGV inside the router (not yet started).
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new(script("boot"));
        cmd.arg("exec").arg(&self.dir.path).args(argv);
        cmd
    }

    /// `sh -c SCRIPT` inside the router; fails the test unless it exits 0. Its stdout.
    pub fn ok(&self, script_text: &str) -> String {
        let out = self.sh(script_text);
        assert!(
            out.status.success(),
            "in the router: {script_text}\nexit {:?}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The real `logread`'s lines.
    pub fn logread(&self) -> String {
        self.ok("logread")
    }

    /// The pids of a procd service's running instances (`ubus call service list`).
    pub fn instance_pids(&self, service: &str) -> Vec<u32> {
        let out = self.sh(&format!(
            "ubus call service list '{{\"name\":\"{service}\"}}' | \
             jsonfilter -e '@.{service}.instances[*].pid'"
        ));
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect()
    }

    /// Waits until `cond` holds, re-checking every 100 ms; fails the test with `what`
    /// and the router's log after `timeout`.
    pub fn wait(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        let end = Instant::now() + timeout;
        while !cond() {
            if Instant::now() > end {
                panic!(
                    "router: {what}: not within {timeout:?}\nlogread:\n{}",
                    String::from_utf8_lossy(&self.sh("logread").stdout)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = Command::new(script("boot"))
            .arg("stop")
            .arg(&self.dir.path)
            .stdin(Stdio::null())
            .output();
    }
}
