//! The clients under test as child processes: dynhost (through the test harness's
//! `Agent`) and the peers (`Proc`), their configs, and the check of what they send.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::agent::{Agent, Scratch};
use crate::provider::Request;

/// Every client publishes this name.
pub const HOST: &str = "bench.example.com";
/// The login of `agent::record`, used by every client.
pub const USER: &str = "example.com-test";
/// The peers' password: ddclient's config syntax takes `#` (in `PASSWORD`) as a comment.
pub const PEER_PASSWORD: &str = "pw-bench-Zq8-peer";

/// The child dies with the thread that started it, even if this process is killed.
pub fn die_with_parent(cmd: &mut Command) {
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
pub struct Proc {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).expect("peer log");
        let err = out.try_clone().expect("peer log");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { child, name, log }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn log_text(&self) -> String {
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

pub fn start_dynhost(bin: &Path, config: &Path) -> Agent {
    let mut cmd = Command::new(bin);
    cmd.arg("-c").arg(config).arg("run");
    die_with_parent(&mut cmd);
    Agent::spawn(cmd)
}

/// `[verify]` for the scenarios that measure the netlink, gateway or provider path: DNS
/// verification (on by default) would ask after every update, and with no DNS server in
/// the namespace it would go on asking (1 s, 5 s, 30 s, ...) into the idle windows.
pub const VERIFY_OFF: &str = "[verify]\nenabled = false\n";

/// A dynhost config in `dir` with one record for `HOST` on `iface`, verification off:
/// state and control socket there too.
pub fn dynhost_config(
    dir: &Scratch,
    url: &str,
    iface: &str,
    debounce: Option<Duration>,
    ca: Option<&Path>,
) -> PathBuf {
    let records = crate::agent::record(HOST, iface, "");
    dynhost_config_with(dir, url, debounce, &records, VERIFY_OFF, ca)
}

/// A dynhost config in `dir`: the top-level keys, `records` (`[[record]]` tables),
/// `tables` (`[verify]`, `[gateway]`, ...), then `[provider]`.
pub fn dynhost_config_with(
    dir: &Scratch,
    url: &str,
    debounce: Option<Duration>,
    records: &str,
    tables: &str,
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
    text.push_str(records);
    text.push('\n');
    text.push_str(tables);
    writeln!(text, "\n[provider]\nurl = \"{url}\"").unwrap();
    if let Some(ca) = ca {
        writeln!(text, "ca_file = \"{}\"", ca.display()).unwrap();
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    crate::agent::set_mode(&path, 0o600);
    path
}

/// Checks that a request is an update of `HOST` to `ip` with the right credentials.
pub fn check(r: &Request, ip: Ipv4Addr, password: &str, tls: bool, what: &str) {
    check_host(r, HOST, ip, password, tls, what);
}

/// Checks that a request is an update of `host` to `ip` with the right credentials.
pub fn check_host(r: &Request, host: &str, ip: Ipv4Addr, password: &str, tls: bool, what: &str) {
    let ip = ip.to_string();
    assert_eq!(
        r.param("myip"),
        Some(ip.as_str()),
        "{what}: the request carries the wrong address: {}",
        r.target
    );
    assert_eq!(r.param("hostname"), Some(host), "{what}: {}", r.target);
    assert_eq!(r.path, "/nic/update", "{what}: {}", r.target);
    assert!(
        r.basic_auth == Some((USER.to_string(), password.to_string())),
        "{what}: wrong or missing credentials"
    );
    assert_eq!(r.tls, tls, "{what}: TLS {} expected", tls);
}
