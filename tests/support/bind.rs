//! Debian's BIND (`named`) in the test's private network namespace: the authoritative
//! servers of `example.com`, and a recursive resolver that finds them through a
//! delegation, so that discovery walks the real thing.
//!
//! - Authoritative (`recursion no;`): `example.com` (RFC 2136 updates allowed with a
//!   TSIG key) and `broken.test` (a zone file that does not load: SERVFAIL), listening on
//!   127.0.0.1, 127.0.0.2 and ::1, port 53. The zone's NS are `ns1` (127.0.0.1) and
//!   `ns2` (127.0.0.2 and ::1), so the three addresses are its three servers.
//! - Resolver (`recursion yes;`) on 127.0.0.53: it serves the root zone itself, which
//!   delegates `example.com` to ns1/ns2 with glue and `lame.test` to ns1 (which does not
//!   serve it). Asked with RD=1, it resolves by following the delegation, as a real
//!   resolver does; nothing leaves the namespace.
//!
//! Both run in the foreground (`named -g`) with their own config and working directory
//! in a scratch directory, and are stopped when the `Bind` is dropped. Start it inside
//! `netns::in_netns`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dynhost::model::Family;

use super::agent::Scratch;
use super::netns::ip;

pub const ZONE: &str = "example.com";
/// The zone's SOA minimum: how long NXDOMAIN and NODATA may be cached.
pub const NEGATIVE_TTL: u32 = 60;
const KEY_NAME: &str = "dynhost-test";
/// A fixed test key: it only ever opens the zone of this scratch server.
const KEY_SECRET: &str = "c2VjcmV0LWZvci1keW5ob3N0LXRlc3RzLW9ubHkhIQ==";
const INSTALL: &str = "install BIND with `apt-get install bind9 bind9-dnsutils` (tests/run does)";

pub struct Bind {
    dir: Scratch,
    auth: Option<Child>,
    resolver: Option<Child>,
}

/// The path of a BIND program, or a panic that says what to install.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/sbin".into()]);
    for dir in dirs {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` is not installed: {INSTALL}");
}

fn options(dir: &Path, listen: &str, listen_v6: &str, recursion: bool) -> String {
    let d = dir.display();
    let recursion = if recursion {
        "recursion yes;\n    allow-recursion { any; };"
    } else {
        "recursion no;"
    };
    format!(
        r#"options {{
    directory "{d}";
    pid-file none;
    session-keyfile none;
    managed-keys-directory "{d}";
    listen-on port 53 {{ {listen} }};
    listen-on-v6 port 53 {{ {listen_v6} }};
    {recursion}
    allow-query {{ any; }};
    dnssec-validation no;
    notify no;
    empty-zones-enable no;
    // BIND caps an RRset at 100 records by default; the tests go past dynhost's bound.
    max-records-per-type 150;
}};
controls {{ }};
"#
    )
}

const ZONE_FILE: &str = "$TTL 300
@ IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 60
@ NS ns1
@ NS ns2
ns1 A 127.0.0.1
ns2 A 127.0.0.2
ns2 AAAA ::1
alias CNAME host
";

const ROOT_FILE: &str = "$TTL 86400
. IN SOA a.root.test. hostmaster.root.test. 1 3600 600 86400 60
. NS a.root.test.
a.root.test. A 127.0.0.53
example.com. NS ns1.example.com.
example.com. NS ns2.example.com.
ns1.example.com. A 127.0.0.1
ns2.example.com. A 127.0.0.2
ns2.example.com. AAAA ::1
lame.test. NS ns1.example.com.
";

impl Bind {
    /// Starts both servers and waits until they answer. Panics with their log if they
    /// do not start, or with what to install if BIND is missing.
    pub fn start() -> Bind {
        let named = tool("named");
        tool("nsupdate");
        tool("dig");
        // All of 127/8 routes to lo, but named only listens on configured addresses.
        ip(&["addr", "add", "127.0.0.2/8", "dev", "lo"]);
        ip(&["addr", "add", "127.0.0.53/8", "dev", "lo"]);

        let dir = Scratch::new("bind");
        let auth_dir = dir.join("auth");
        let res_dir = dir.join("resolver");
        std::fs::create_dir_all(&auth_dir).unwrap();
        std::fs::create_dir_all(&res_dir).unwrap();
        let key =
            format!("key \"{KEY_NAME}\" {{ algorithm hmac-sha256; secret \"{KEY_SECRET}\"; }};\n");
        std::fs::write(dir.join("key.conf"), &key).unwrap();

        let auth_conf = format!(
            "{key}{}zone \"{ZONE}\" {{ type primary; file \"{}\"; allow-update {{ key \"{KEY_NAME}\"; }}; }};\n\
             zone \"broken.test\" {{ type primary; file \"{}\"; }};\n",
            options(&auth_dir, "127.0.0.1; 127.0.0.2;", "::1;", false),
            auth_dir.join("example.com.db").display(),
            auth_dir.join("broken.test.db").display(),
        );
        std::fs::write(auth_dir.join("named.conf"), auth_conf).unwrap();
        std::fs::write(auth_dir.join("example.com.db"), ZONE_FILE).unwrap();
        std::fs::write(auth_dir.join("broken.test.db"), "this is not a zone file\n").unwrap();

        let res_conf = format!(
            "{}zone \".\" {{ type primary; file \"{}\"; }};\n",
            options(&res_dir, "127.0.0.53;", "none;", true),
            res_dir.join("root.db").display(),
        );
        std::fs::write(res_dir.join("named.conf"), res_conf).unwrap();
        std::fs::write(res_dir.join("root.db"), ROOT_FILE).unwrap();

        let spawn = |conf: PathBuf, log: PathBuf| {
            let log = std::fs::File::create(log).unwrap();
            Command::new(&named)
                .arg("-g")
                .args(["-n", "1"])
                .arg("-c")
                .arg(conf)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run named: {e}; {INSTALL}"))
        };
        let auth = spawn(auth_dir.join("named.conf"), dir.join("auth.log"));
        let resolver = spawn(res_dir.join("named.conf"), dir.join("resolver.log"));
        let mut bind = Bind {
            dir,
            auth: Some(auth),
            resolver: Some(resolver),
        };
        bind.wait_ready();
        bind
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let exited = [(&mut self.auth, "auth"), (&mut self.resolver, "resolver")]
                .into_iter()
                .find_map(|(child, what)| match child.as_mut().map(|c| c.try_wait()) {
                    Some(Ok(Some(status))) => Some((what, status)),
                    _ => None,
                });
            if let Some((what, status)) = exited {
                panic!(
                    "named ({what}) exited at start ({status}):\n{}",
                    self.log_of(what)
                );
            }
            let auth = dig(&["+norec", "@127.0.0.1", ZONE, "SOA"]);
            let root = dig(&["+norec", "@127.0.0.53", ".", "SOA"]);
            if !auth.is_empty() && !root.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "named did not answer within 20 s:\n{}\n{}",
                self.log_of("auth"),
                self.log_of("resolver")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_of(&self, what: &str) -> String {
        std::fs::read_to_string(self.dir.join(&format!("{what}.log"))).unwrap_or_default()
    }

    /// What the authoritative server logged.
    pub fn log(&self) -> String {
        self.log_of("auth")
    }

    /// The zone's three authoritative server addresses.
    pub fn servers(&self) -> Vec<SocketAddr> {
        ["127.0.0.1:53", "127.0.0.2:53", "[::1]:53"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect()
    }

    pub fn primary(&self) -> SocketAddr {
        "127.0.0.1:53".parse().unwrap()
    }

    /// The recursive resolver (what resolv.conf would name).
    pub fn resolver(&self) -> SocketAddr {
        "127.0.0.53:53".parse().unwrap()
    }

    /// Replaces the `family` records of `name` (relative to the zone, or absolute with
    /// a trailing dot) with `addrs` at `ttl`, by RFC 2136 through `nsupdate`, and waits
    /// until the server answers exactly them. Returns how long that took.
    pub fn set(&self, name: &str, family: Family, addrs: &[IpAddr], ttl: u32) -> Duration {
        let owner = fqdn(name);
        let rtype = rtype(family);
        let mut lines = vec![format!("update delete {owner} {rtype}")];
        for a in addrs {
            assert_eq!(Family::of(a), family, "{a} is not {family}");
            lines.push(format!("update add {owner} {ttl} {rtype} {a}"));
        }
        let start = Instant::now();
        self.update(&lines);
        let mut want: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        want.sort();
        self.wait_answer(&owner, rtype, &want);
        start.elapsed()
    }

    /// Replaces several rrsets in one RFC 2136 update (what a zone refresh publishes at
    /// once), then waits until the server answers each.
    pub fn set_many(&self, sets: &[(String, Family, Vec<IpAddr>)], ttl: u32) {
        let mut lines = Vec::new();
        for (name, family, addrs) in sets {
            let (owner, rtype) = (fqdn(name), rtype(*family));
            lines.push(format!("update delete {owner} {rtype}"));
            for a in addrs {
                lines.push(format!("update add {owner} {ttl} {rtype} {a}"));
            }
        }
        self.update(&lines);
        for (name, family, addrs) in sets {
            let mut want: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            want.sort();
            self.wait_answer(&fqdn(name), rtype(*family), &want);
        }
    }

    /// Deletes the `family` records of `name` and waits until the server has none.
    pub fn delete(&self, name: &str, family: Family) -> Duration {
        let owner = fqdn(name);
        let rtype = rtype(family);
        let start = Instant::now();
        self.update(&[format!("update delete {owner} {rtype}")]);
        self.wait_answer(&owner, rtype, &[]);
        start.elapsed()
    }

    /// Sends one RFC 2136 update with these `update ...` lines.
    pub fn update(&self, lines: &[String]) {
        use std::io::Write;
        let mut script = format!("server 127.0.0.1 53\nzone {ZONE}\n");
        for l in lines {
            script.push_str(l);
            script.push('\n');
        }
        script.push_str("send\n");
        let mut child = Command::new(tool("nsupdate"))
            .arg("-k")
            .arg(self.dir.join("key.conf"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run nsupdate: {e}; {INSTALL}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nsupdate failed ({}):\n{script}{}{}\nnamed:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    fn wait_answer(&self, owner: &str, rtype: &str, want: &[String]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = dig(&["+norec", "+short", "@127.0.0.1", owner, rtype]);
            let mut got: Vec<String> = out.lines().map(str::to_string).collect();
            got.sort();
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "named does not answer {want:?} for {owner} {rtype} within 10 s, but {got:?}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The zone's SOA serial as the primary answers it.
    pub fn serial(&self) -> u32 {
        let out = dig(&["+norec", "+short", "@127.0.0.1", ZONE, "SOA"]);
        out.split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no SOA serial in {out:?}"))
    }

    /// Stops both servers.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        for child in [self.auth.take(), self.resolver.take()]
            .into_iter()
            .flatten()
        {
            stop_child(child);
        }
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        self.kill();
    }
}

/// SIGTERM, then SIGKILL if named has not exited within 5 s.
fn stop_child(mut child: Child) {
    // SAFETY: signalling a child we spawned and have not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.{ZONE}.")
    }
}

fn rtype(family: Family) -> &'static str {
    match family {
        Family::V4 => "A",
        Family::V6 => "AAAA",
    }
}

/// `dig ARGS`, one try of one second; its stdout ("" if it failed).
pub fn dig(args: &[&str]) -> String {
    let out = Command::new(tool("dig"))
        .args(["+time=1", "+tries=1"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run dig: {e}; {INSTALL}"));
    if !out.status.success() {
        return String::new();
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}
