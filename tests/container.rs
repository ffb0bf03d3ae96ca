//! The container image (contrib/container/build) and the configuration from the
//! environment it relies on.
//!
//! The podman tests need podman and buildah (Debian's packages) and the static
//! x86_64 release binary (`DYNHOST_CONTAINER_BIN`, by default
//! target/x86_64-unknown-linux-musl/release/dynhost): a scratch image cannot hold the
//! dynamic debug build. So this file is not part of a plain `cargo test` (`test = false`
//! in Cargo.toml): .ci/run's container step runs it by name after its release builds
//! (`cargo test --test container`), installing podman and buildah when missing. Missing
//! either, its tests fail, saying what to install or build.
//!
//! podman runs with a private configuration and storage under a scratch directory
//! (never the machine's /etc/containers), with the settings these machines need
//! (docs: cgroupfs, no journald, runc, bounded ulimits). Every podman call that starts
//! a container runs from the test's network namespace, so `--network host` is that
//! namespace: the loopback provider, the test's `br0`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::agent::{BIN, PASSWORD, Scratch, assert_no_secret};
use support::netns::{bridge, in_netns, ip};
use support::provider::{Provider, Reply};
use support::repo::{contrib, root, tool};

const IMAGE: &str = "localhost/dynhost:latest";
/// The uid the image runs as.
const UID: u32 = 65532;

/// podman tests share /run/runc and /var/lib/containers/cache: one at a time.
static PODMAN: Mutex<()> = Mutex::new(());

/// podman and buildah with a private configuration and storage.
struct Podman {
    dir: Scratch,
    /// Machine paths podman writes outside its configuration, absent before we came.
    created: Vec<PathBuf>,
}

impl Podman {
    fn new() -> Podman {
        tool(
            "podman",
            "podman",
            "the image is run with podman (.ci/run installs it)",
        );
        tool(
            "buildah",
            "buildah",
            "the image is built with buildah (.ci/run installs it)",
        );
        tool("runc", "runc", "podman runs containers with runc here");
        let dir = Scratch::new("podman");
        let d = dir.path.display();
        // At most the caller's hard limits: podman's default nofile fails here.
        let hard = |res| {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes into `l`.
            unsafe { libc::getrlimit(res, &mut l) };
            l.rlim_max
        };
        let nofile = hard(libc::RLIMIT_NOFILE).min(20000);
        let nproc = hard(libc::RLIMIT_NPROC).min(32768);
        for sub in ["tmp", "net", "graph", "run", "volumes"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(
            dir.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = [\"nofile={nofile}:{nofile}\", \
                 \"nproc={nproc}:{nproc}\"]\nlog_driver = \"k8s-file\"\n\
                 [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{d}/events.log\"\nruntime = \"runc\"\n\
                 tmp_dir = \"{d}/tmp\"\nvolume_path = \"{d}/volumes\"\n\
                 [network]\nnetwork_config_dir = \"{d}/net\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{d}/graph\"\n\
                 runroot = \"{d}/run\"\n"
            ),
        )
        .unwrap();
        // No registry to search or pull from: a mistake fails instead of going out.
        std::fs::write(
            dir.join("registries.conf"),
            "unqualified-search-registries = []\n",
        )
        .unwrap();
        // Deepest first: parents are removed only when empty.
        let created = [
            "/var/lib/containers/cache",
            "/var/lib/containers",
            "/run/containers/networks",
            "/run/containers",
            "/run/runc",
        ]
        .iter()
        .map(PathBuf::from)
        .filter(|p| !p.exists())
        .collect();
        Podman { dir, created }
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"))
            .env(
                "CONTAINERS_REGISTRIES_CONF",
                self.dir.join("registries.conf"),
            )
            .env("TMPDIR", self.dir.join("tmp"));
        c
    }

    /// Runs `program ARGS`, and fails the test with its output if it fails.
    fn ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.cmd(program).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {}: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn podman(&self, args: &[&str]) -> Output {
        self.cmd("podman").args(args).output().unwrap()
    }

    /// Builds the image from the static binary, for this machine's architecture.
    fn build(&self, extra: &[&str]) -> String {
        let bin = static_binary();
        let out = self
            .cmd("bash")
            .arg(contrib("container/build"))
            .args(["--arch", "amd64"])
            .args(extra)
            .env("DYNHOST_BIN_AMD64", &bin)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "contrib/container/build: {text}");
        text
    }

    /// The container's log so far.
    fn logs(&self, name: &str) -> String {
        let out = self.podman(&["logs", name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Waits until the container's log holds `needle` `n` times.
    fn wait_log(&self, name: &str, needle: &str, n: usize, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let log = self.logs(name);
            if log.matches(needle).count() >= n {
                return log;
            }
            assert!(
                start.elapsed() < timeout,
                "{needle:?} ({n}x) not in the container's log after {timeout:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        self.ok("podman", &["inspect", "--format", format, name])
            .trim()
            .to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Containers, images and their overlay mounts go before the directory does.
        let _ = self.podman(&["rm", "--all", "--force", "--time", "0"]);
        let _ = self.cmd("buildah").args(["rm", "--all"]).output();
        let _ = self.podman(&["rmi", "--all", "--force"]);
        let _ = self.podman(&["system", "reset", "--force"]);
        for p in &self.created {
            if p.ends_with("cache") || p.ends_with("networks") {
                let _ = std::fs::remove_dir_all(p);
            } else {
                let _ = std::fs::remove_dir(p);
            }
        }
    }
}

/// The static x86_64 binary CI builds.
fn static_binary() -> PathBuf {
    let bin = std::env::var_os("DYNHOST_CONTAINER_BIN").map_or_else(
        || root().join("target/x86_64-unknown-linux-musl/release/dynhost"),
        PathBuf::from,
    );
    assert!(
        bin.is_file(),
        "no static binary at {}: build it first (cargo build --release --target \
         x86_64-unknown-linux-musl; .ci/run's container step does), or set \
         DYNHOST_CONTAINER_BIN",
        bin.display()
    );
    bin
}

#[test]
fn the_image_builds_offline_from_scratch_with_only_the_binary_and_ca_roots() {
    let _one = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    // In a namespace with nothing but loopback: a pull would fail.
    in_netns(|| {
        let p = Podman::new();
        let archive = p.dir.join("dynhost.oci.tar");
        let out = p.build(&["--oci-archive", archive.to_str().unwrap()]);
        println!("{out}");
        assert!(out.contains("localhost/dynhost:amd64: "), "{out}");
        assert!(archive.is_file(), "no OCI archive: {out}");
        // The image's contents: the binary, the CA roots, the state directory.
        let ctr = p.ok(
            "buildah",
            &["from", "--pull=never", "localhost/dynhost:amd64"],
        );
        let mnt = p.ok("buildah", &["mount", ctr.trim()]);
        let mnt = PathBuf::from(mnt.trim());
        let mut files = Vec::new();
        walk(&mnt, &mnt, &mut files);
        files.sort();
        assert_eq!(
            files,
            [
                "dynhost",
                "etc/",
                "etc/ssl/",
                "etc/ssl/certs/",
                "etc/ssl/certs/ca-certificates.crt",
                "var/",
                "var/lib/",
                "var/lib/dynhost/",
            ],
            "the image holds more than it should"
        );
        use std::os::unix::fs::MetadataExt;
        let state = std::fs::metadata(mnt.join("var/lib/dynhost")).unwrap();
        assert_eq!((state.uid(), state.gid()), (UID, UID));
        p.ok("buildah", &["umount", ctr.trim()]);
        p.ok("buildah", &["rm", ctr.trim()]);
        // The config: a non-root user, the volume, the health check, the socket.
        let cfg = p.inspect("localhost/dynhost:amd64", "{{json .Config}}");
        for want in [
            "\"User\":\"65532:65532\"",
            "\"/var/lib/dynhost\":{}",
            "DYNHOST_CONTROL_SOCKET=/var/lib/dynhost/control.sock",
            "\"Entrypoint\":[\"/dynhost\"]",
            "\"Cmd\":[\"run\"]",
        ] {
            assert!(cfg.contains(want), "{want} not in {cfg}");
        }
        let health = p.inspect("localhost/dynhost:amd64", "{{json .HealthCheck}}");
        assert!(
            health.contains("\"CMD\",\"/dynhost\",\"status\",\"--health\""),
            "{health}"
        );
        // The manifest list names the architecture.
        let list = p.ok("buildah", &["manifest", "inspect", IMAGE]);
        assert!(list.contains("\"architecture\": \"amd64\""), "{list}");
        // Reproducible: the same inputs give the same images, digest for digest.
        let index = |a: &Path| {
            let out = Command::new("tar")
                .args(["-xOf", a.to_str().unwrap(), "index.json"])
                .output()
                .unwrap();
            assert!(out.status.success(), "no index.json in {}", a.display());
            String::from_utf8(out.stdout).unwrap()
        };
        let again = p.dir.join("again.oci.tar");
        p.build(&["--oci-archive", again.to_str().unwrap()]);
        // The index names the manifests by digest, and they the layers and configs.
        assert_eq!(index(&archive), index(&again));
    });
}

/// Every path under `dir`, relative to `base`; directories end in `/`.
fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let rel = p.strip_prefix(base).unwrap().display().to_string();
        if e.file_type().unwrap().is_dir() {
            out.push(format!("{rel}/"));
            walk(base, &p, out);
        } else {
            out.push(rel);
        }
    }
}

/// Waits until `podman healthcheck run` exits with `want` (0 healthy, 1 unhealthy).
fn wait_health(p: &Podman, name: &str, want: i32, timeout: Duration) {
    let start = Instant::now();
    loop {
        let out = p.podman(&["healthcheck", "run", name]);
        if out.status.code() == Some(want) {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "health never became {want}: {:?} {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_container_publishes_once_reports_health_stops_at_once_and_keeps_state() {
    let _one = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    in_netns(|| {
        use std::os::unix::fs::{PermissionsExt, chown};
        let p = Podman::new();
        p.build(&[]);
        bridge("br0");
        let provider = Provider::start();
        let state = p.dir.join("state");
        std::fs::create_dir(&state).unwrap();
        chown(&state, Some(UID), Some(UID)).unwrap();
        let secret = p.dir.join("password");
        std::fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
        chown(&secret, Some(UID), Some(UID)).unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o400)).unwrap();
        let name = "dynhost-test";
        let url = format!("DYNHOST_PROVIDER_URL={}", provider.url());
        let volume = format!("{}:/var/lib/dynhost", state.display());
        let mount = format!("{}:/run/secrets/dynhost:ro", secret.display());
        p.ok(
            "podman",
            &[
                "run",
                "--detach",
                "--pull=never",
                "--name",
                name,
                "--network",
                "host",
                "--read-only",
                // Reading addresses and following their changes needs no capability.
                "--cap-drop",
                "all",
                "--security-opt",
                "no-new-privileges",
                "--volume",
                &volume,
                "--volume",
                &mount,
                "--env",
                "DYNHOST_RECORD_HOSTNAME=home.example.com",
                "--env",
                "DYNHOST_RECORD_USERNAME=example.com-test",
                "--env",
                "DYNHOST_RECORD_PASSWORD_FILE=/run/secrets/dynhost",
                "--env",
                "DYNHOST_RECORD_INTERFACE=br0",
                "--env",
                "DYNHOST_VERIFY_ENABLED=false",
                "--env",
                "DYNHOST_LOG=trace",
                "--env",
                &url,
                IMAGE,
            ],
        );
        p.wait_log(name, "ready", 1, Duration::from_secs(20));
        // Healthy with nothing to publish yet.
        wait_health(&p, name, 0, Duration::from_secs(10));

        // An address appears in this namespace: one update, with the file's password.
        ip(&["addr", "add", "203.0.113.5/24", "dev", "br0"]);
        let req = provider.nth(1, Duration::from_secs(20), "the update");
        assert_eq!(req.param("myip"), Some("203.0.113.5"));
        let auth = req.header("authorization").unwrap_or_default().to_string();
        assert!(auth.starts_with("Basic "), "{auth}");
        p.wait_log(name, "published", 1, Duration::from_secs(10));
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(provider.count(), 1, "exactly one update");
        wait_health(&p, name, 0, Duration::from_secs(10));

        // PID 1, not root, on a read-only root.
        let pid = p.inspect(name, "{{.State.Pid}}");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(field("Uid:")[0], UID.to_string(), "{status}");
        assert_eq!(field("NSpid:").last().map(String::as_str), Some("1"));
        let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
        let root_mount = mounts
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .unwrap();
        let opts = root_mount.split(' ').nth(5).unwrap();
        assert!(opts.split(',').any(|o| o == "ro"), "{root_mount}");
        // PID 1 reaps: an orphan in the container's namespace becomes its child, and
        // leaves no zombie once it ends.
        // Not through pipes: the orphan would hold them open until it ends.
        let st = Command::new("nsenter")
            .args(["-t", &pid, "-p", "--", "sh", "-c", "sleep 30 & exit 0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "nsenter: {st:?}");
        // PID 1's children (name, host pid), in `state` if given.
        let children = |state: Option<&str>| -> Vec<(String, i32)> {
            std::fs::read_dir("/proc")
                .unwrap()
                .flatten()
                .filter_map(|e| {
                    let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
                    Some((pid, std::fs::read_to_string(e.path().join("status")).ok()?))
                })
                .filter(|(_, st)| st.lines().any(|l| l == format!("PPid:\t{pid}")))
                .filter(|(_, st)| {
                    state.is_none_or(|want| {
                        st.lines()
                            .any(|l| l.starts_with("State:") && l.contains(want))
                    })
                })
                .map(|(p, st)| (st.lines().next().unwrap_or_default().to_string(), p))
                .collect()
        };
        let orphans = children(None)
            .into_iter()
            .filter(|(name, _)| name.ends_with("sleep"))
            .collect::<Vec<_>>();
        assert_eq!(
            orphans.len(),
            1,
            "the orphan is not PID 1's: {:?}",
            children(None)
        );
        // It ends: PID 1 reaps it.
        // SAFETY: a signal to the orphan, a process this test started.
        unsafe { libc::kill(orphans[0].1, libc::SIGTERM) };
        let start = Instant::now();
        while !children(None)
            .iter()
            .all(|(name, _)| !name.ends_with("sleep"))
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the orphan was not reaped: {:?}",
                children(Some("Z"))
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(children(Some("Z")), Vec::new(), "zombies left");
        // Everything written is in the volume.
        let mut written: Vec<String> = std::fs::read_dir(&state)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        written.sort();
        assert!(
            written.contains(&"state".to_string())
                && written.contains(&"lock".to_string())
                && written.contains(&"control.sock".to_string()),
            "{written:?}"
        );

        // SIGTERM stops PID 1 at once.
        let t = Instant::now();
        p.ok("podman", &["stop", "--time", "10", name]);
        let took = t.elapsed();
        assert!(took < Duration::from_secs(2), "podman stop took {took:?}");
        assert_eq!(p.inspect(name, "{{.State.ExitCode}}"), "0");

        // Restarted with the same address: the state says it is published.
        p.ok("podman", &["start", name]);
        p.wait_log(name, "ready", 2, Duration::from_secs(20));
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(provider.count(), 1, "a restart sent a request");

        // The provider refuses: unhealthy, saying why.
        provider.set_default(Reply::Text(200, "badauth".into()));
        ip(&["addr", "del", "203.0.113.5/24", "dev", "br0"]);
        ip(&["addr", "add", "203.0.113.6/24", "dev", "br0"]);
        provider.nth(2, Duration::from_secs(20), "the refused update");
        wait_health(&p, name, 1, Duration::from_secs(10));
        let why = p.inspect(name, "{{json .State.Health}}");
        assert!(why.contains("unhealthy: home.example.com ipv4"), "{why}");
        assert!(why.contains("badauth"), "{why}");

        // The secret never shows: not in the log, not in the container's description.
        let log = p.logs(name);
        assert_no_secret("the container's log", &log);
        assert_no_secret("podman inspect", &p.ok("podman", &["inspect", name]));
        let t = Instant::now();
        p.ok("podman", &["stop", "--time", "10", name]);
        assert!(t.elapsed() < Duration::from_secs(2));
    });
}
