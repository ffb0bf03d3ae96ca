//! Running the trigger hooks of contrib/ as their callers run them, and reading what
//! the fake dynhost (tests/support/fakebin/dynhost) recorded about its calls.
//!
//! Every hook run gets one extra descriptor, fd 3, the write end of a pipe that the hooks
//! never touch: every process the hook starts in the background inherits it, so the end
//! of file on the read end says that all of them are done. That makes "nothing was
//! called" a fact rather than a guess after a sleep.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::agent::{BIN, Scratch};
use super::netns::ppp;
use super::repo::{busybox, contrib, fake_dynhost};

/// How long a hook, and what it starts, may take at most.
pub const T: Duration = Duration::from_secs(10);
/// How long a hook may take to return: it must never hold up pppd, netifd or NM.
pub const QUICK: Duration = Duration::from_secs(1);

/// The shells every hook must work with.
#[derive(Clone, Copy, Debug)]
pub enum Shell {
    /// busybox ash, OpenWrt's /bin/sh.
    Ash,
    /// The system's /bin/sh (dash on Debian).
    Sh,
}

pub const SHELLS: [Shell; 2] = [Shell::Ash, Shell::Sh];

impl Shell {
    /// `SHELL SCRIPT`, as the kernel runs a `#!/bin/sh` script.
    pub fn script(self, script: &Path) -> Command {
        let mut cmd = self.bare();
        cmd.arg(script);
        cmd
    }

    /// The shell alone, for `-c`.
    pub fn bare(self) -> Command {
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
pub struct Ran {
    pub status: ExitStatus,
    pub took: Duration,
    /// Fires when every process the hook started has exited (fd 3 closed everywhere).
    all_done: mpsc::Receiver<()>,
    stdout: Option<mpsc::Receiver<(Vec<u8>, Duration)>>,
}

impl Ran {
    /// The hook returned quickly with status 0.
    pub fn assert_quick_success(&self, what: &str) {
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
    pub fn wait_all(&self, what: &str) {
        self.all_done.recv_timeout(T).unwrap_or_else(|_| {
            panic!("{what}: something the hook started was still running after {T:?}")
        });
    }

    /// A captured run's stdout then stderr, and how long after the start both were
    /// closed (by the hook and by all it started).
    pub fn output(&self, what: &str) -> (Vec<u8>, Duration) {
        let rx = self
            .stdout
            .as_ref()
            .unwrap_or_else(|| panic!("{what}: the hook ran without `capture`"));
        rx.recv_timeout(T)
            .unwrap_or_else(|_| panic!("{what}: stdout/stderr still open after {T:?}"))
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
pub fn run_hook(mut cmd: Command, what: &str, capture: bool) -> Ran {
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

/// Runs a hook without output (as pppd does), checks that it returned at once with
/// status 0, and waits until everything it started is done.
pub fn run_hook_to_end(cmd: Command, what: &str) -> Ran {
    let ran = run_hook(cmd, what, false);
    ran.assert_quick_success(what);
    ran.wait_all(what);
    ran
}

// ---- what the fake dynhost recorded ---------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
pub struct Call {
    /// `DYNHOST_CONFIG` as the call saw it.
    pub config: String,
    /// The arguments, each in [brackets].
    pub argv: String,
    /// The exit status, once the call is over.
    pub exit: Option<i32>,
}

/// The calls in the fake dynhost's log, in order.
pub fn calls(log: &Path) -> Vec<Call> {
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
                call.1.exit = Some(
                    rc.parse()
                        .unwrap_or_else(|_| panic!("exit status is not a number: {line:?}")),
                );
            }
            _ => panic!("unexpected line in the fake dynhost's log: {line:?}"),
        }
    }
    out.into_iter().map(|(_, c)| c).collect()
}

/// The argument lists of the finished calls; panics on an unfinished one.
pub fn argvs(log: &Path) -> Vec<String> {
    calls(log)
        .into_iter()
        .map(|c| {
            assert!(c.exit.is_some(), "a call never finished: {c:?}");
            c.argv
        })
        .collect()
}

// ---- the callers' environments ----------------------------------------------------------

/// pppd's environment for ip-up: empty except for its own variables (pppd.8, SCRIPTS).
pub fn pppd_env(cmd: &mut Command, ifname: &str, local: &str, remote: &str, ipparam: &str) {
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
pub fn redirect(cmd: &mut Command, config: Option<&Path>, log: &Path, real: bool) {
    cmd.env("DYNHOST_BIN", fake_dynhost())
        .env("FAKE_DYNHOST_LOG", log);
    if let Some(c) = config {
        cmd.env("DYNHOST_CONFIG", c);
    }
    if real {
        cmd.env("FAKE_DYNHOST_EXEC", BIN);
    }
}

/// What pppd does when the link comes up: it configures `ppp0` with `local` and the
/// peer `remote`, then runs ip-up exactly as `ip-up ppp0 /dev/ttyUSB0 115200 LOCAL
/// REMOTE wan`, here with the real binary behind the recorder and `config`. Runs the
/// hook to its end; returns the recorder's log (in `dir`).
pub fn pppd_link_up(
    dir: &Scratch,
    config: &Path,
    shell: Shell,
    local: &str,
    remote: &str,
    what: &str,
) -> PathBuf {
    ppp("ppp0", local, remote);
    let log = dir.join("calls");
    let mut cmd = shell.script(&contrib("ppp/ip-up"));
    cmd.args(["ppp0", "/dev/ttyUSB0", "115200", local, remote, "wan"]);
    pppd_env(&mut cmd, "ppp0", local, remote, "wan");
    redirect(&mut cmd, Some(config), &log, true);
    run_hook_to_end(cmd, what);
    log
}

/// dhcpcd-run-hooks in miniature: a shell that sources the hook, under `set -u`, with
/// positional parameters of its own, then shows that it carried on with its state intact.
pub fn dhcpcd_runner(shell: Shell) -> Command {
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
