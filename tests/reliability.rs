//! Reliability, round 2: what an adversarial review broke, each against the real binary
//! in a private network namespace with the loopback provider. State files from a clock
//! that ran ahead, damaged state, full and read-only disks (real tmpfs mounts in a
//! private mount namespace), hostile files given to a reload, a flood of idle control
//! clients, half-closed clients, certificates that are not valid yet, and replies that
//! must not count as published; round 3: `status` while the hourly budget holds an
//! address back.

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::agent::{
    Agent, Scratch, in_mount_namespace, record, run, run_command, settle, text, wait_until,
    write_config,
};
use support::clock::{exclusive, set_clock_to_itself};
use support::hostile::{Http, HttpServer};
use support::netns::{bridge, in_netns, ip, move_addr};
use support::provider::{Provider, Reply};
use support::scene::Scene;

const T: Duration = Duration::from_secs(10);

fn wall_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn state_text(scene: &Scene) -> String {
    std::fs::read_to_string(scene.dir.join("state/state")).unwrap_or_default()
}

fn write_state(scene: &Scene, lines: &str) {
    std::fs::create_dir_all(scene.dir.join("state")).unwrap();
    std::fs::write(
        scene.dir.join("state/state"),
        format!("dynhost-state 1\n{lines}"),
    )
    .unwrap();
}

/// The stamps of a state line's `key=` field (`retry_at=`, `sent=`...).
fn stamps(line: &str, key: &str) -> Vec<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .map(|v| {
            v.split(',')
                .map(|t| t.rsplit('@').next().unwrap().parse().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_state_file_from_a_clock_that_ran_ahead_is_corrected_by_the_first_hook_run() {
    in_netns(|| {
        let scene = Scene::home("future", Some("203.0.113.5/24"));
        let year = wall_now() + 365 * 86_400;
        write_state(
            &scene,
            &format!(
                "home.example.com ipv4 published=203.0.113.1@{year} retry_at={year} \
                 sent={year},{year},{year}\n"
            ),
        );
        let before = wall_now();
        let out = run(&scene.cfg, &["update"]);
        let (stdout, _) = text(&out);
        // Still a retry that waits (the policy's longest wait), not a year.
        let line = state_text(&scene);
        let line = line.lines().find(|l| l.starts_with("home")).unwrap();
        let retry = stamps(line, "retry_at=")[0];
        assert!(retry <= wall_now() + 3600, "{line}");
        assert!(
            stamps(line, "sent=").iter().all(|t| *t <= wall_now()),
            "{line}"
        );
        assert!(
            stamps(line, "published=").iter().all(|t| *t <= wall_now()),
            "{line}"
        );
        let shown: u64 = stdout
            .split("next attempt allowed in ")
            .nth(1)
            .and_then(|r| r.split('s').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{stdout}"));
        assert!(shown <= 3600 + (wall_now() - before), "{stdout}");
    });
}

#[test]
fn a_damaged_state_line_costs_only_itself() {
    in_netns(|| {
        let scene = Scene::home("damaged", Some("203.0.113.5/24"));
        let now = wall_now();
        write_state(
            &scene,
            &format!(
                "home.example.com ipv4 published=203.0.113.5@{now}\n\
                 garbage line ipv9 with=stuff\n"
            ),
        );
        let agent = Agent::start(&scene.cfg, &[]);
        agent.wait_log("that entry is dropped", T);
        settle(Duration::from_millis(1500));
        assert_eq!(
            scene.provider.count(),
            0,
            "the published address survived the damaged line: nothing to send"
        );
        assert_eq!(agent.count("that entry is dropped"), 1);
        agent.stop();
        assert!(!state_text(&scene).contains("garbage"));
    });
}

/// Two records, each on its own name, so that a round has two replies.
fn two_records(name: &str) -> Scene {
    let body = format!(
        "{}{}",
        record("home.example.com", "br0", ""),
        record("other.example.com", "br0", "")
    );
    Scene::new(name, Some("203.0.113.5/24"), &body)
}

#[test]
fn a_full_disk_does_not_cut_a_one_shot_round_short() {
    in_netns(|| {
        let scene = two_records("enospc");
        let state = scene.dir.join("state");
        std::fs::create_dir_all(&state).unwrap();
        // A 4 KiB tmpfs filled up: the state write fails with ENOSPC.
        let setup = format!(
            "mount -t tmpfs -o size=4k tmpfs {0}\n\
             dd if=/dev/zero of={0}/filler bs=1k count=64 2>/dev/null || true",
            state.display()
        );
        let out = run_command(
            in_mount_namespace(&setup, &scene.cfg, &["update"]),
            &["update"],
        );
        let (stdout, _) = text(&out);
        assert_eq!(scene.provider.count(), 2, "both records sent: {stdout}");
        assert!(
            stdout.contains("home.example.com ipv4: published 203.0.113.5"),
            "{stdout}"
        );
        assert!(
            stdout.contains("other.example.com ipv4: published 203.0.113.5"),
            "{stdout}"
        );
        assert!(stdout.contains("state not saved"), "{stdout}");
        assert_eq!(out.status.code(), Some(1), "something could not be done");
    });
}

#[test]
fn a_read_only_state_directory_runs_from_memory() {
    in_netns(|| {
        let scene = Scene::home("rostate", Some("203.0.113.5/24"));
        let state = scene.dir.join("state");
        std::fs::create_dir_all(&state).unwrap();
        let setup = format!("mount -t tmpfs -o ro tmpfs {}", state.display());
        let agent = Agent::spawn(in_mount_namespace(&setup, &scene.cfg, &["run"]));
        agent.wait_log("running from memory", T);
        assert!(!agent.log().contains("already running"), "{}", agent.log());
        scene.provider.nth(1, T, "the update, sent from memory");
        agent.wait_log("published", T);
        agent.stop();
        // And a one-shot round too.
        let out = run_command(
            in_mount_namespace(&setup, &scene.cfg, &["update", "--force"]),
            &["update"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
        assert!(text(&out).1.contains("running from memory"));
    });
}

#[test]
fn a_reload_never_blocks_on_a_fifo_dev_zero_or_a_huge_password_file() {
    in_netns(|| {
        let scene = Scene::home("hostile-reload", Some("203.0.113.5/24"));
        let agent = scene.start_published(T);
        let fifo = scene.dir.join("pw.fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a path of our scratch directory.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let huge = scene.dir.join("huge.secret");
        std::fs::write(&huge, vec![b'x'; 10 << 20]).unwrap();
        let original = std::fs::read_to_string(&scene.cfg).unwrap();
        let password_line = original
            .lines()
            .find(|l| l.starts_with("password = "))
            .unwrap()
            .to_string();
        for (i, (file, needle)) in [
            (fifo.display().to_string(), "not a regular file"),
            ("/dev/zero".to_string(), "not a regular file"),
            (huge.display().to_string(), "larger than 4096 bytes"),
        ]
        .into_iter()
        .enumerate()
        {
            let text = original.replace(&password_line, &format!("password_file = \"{file}\""));
            std::fs::write(&scene.cfg, text).unwrap();
            agent.signal(libc::SIGHUP);
            agent.wait_count("SIGHUP: reload failed", i + 1, T);
            assert!(agent.log().contains(needle), "{file}: {}", agent.log());
        }
        // The loop never waited: an address change is still published at once.
        move_addr("br0", "203.0.113.5/24", "203.0.113.6/24");
        let r = scene
            .provider
            .nth(2, T, "the update after the hostile reloads");
        assert_eq!(r.param("myip"), Some("203.0.113.6"));
        agent.stop();
    });
}

fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[test]
fn thousands_of_idle_control_clients_cannot_take_the_daemon_s_descriptors() {
    in_netns(|| {
        let scene = Scene::home("flood", Some("203.0.113.5/24"));
        let agent = scene.start_published(T);
        let base = open_fds(agent.pid());
        let sock = scene.dir.join("control.sock");
        // Idle clients that connect and say nothing; the kernel's backlog takes those
        // the daemon does not accept. Nonblocking, so that a full backlog is no hang.
        let mut idle = Vec::new();
        for _ in 0..2000 {
            let s = socket2_connect(&sock);
            if let Some(s) = s {
                idle.push(s);
            }
        }
        assert!(idle.len() >= 64, "only {} clients connected", idle.len());
        settle(Duration::from_millis(300));
        let held = open_fds(agent.pid());
        assert!(
            held <= base + 34,
            "{held} descriptors open with {} idle clients (base {base})",
            idle.len()
        );
        // The daemon's own work goes on: netlink, HTTPS, the state file.
        move_addr("br0", "203.0.113.5/24", "203.0.113.6/24");
        let r = scene.provider.nth(2, T, "the update during the flood");
        assert_eq!(r.param("myip"), Some("203.0.113.6"));
        drop(idle);
        // Served again once they are gone.
        wait_until("a hook's round to be served", T, || {
            let out = run(&scene.cfg, &["update"]);
            out.status.code() == Some(0)
        });
        agent.stop();
    });
}

/// A connect that does not wait for room in a full backlog.
fn socket2_connect(path: &std::path::Path) -> Option<UnixStream> {
    use std::os::fd::FromRawFd;
    // SAFETY: a new socket we own; connect with a well-formed sockaddr_un.
    unsafe {
        let fd = libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in addr
            .sun_path
            .iter_mut()
            .zip(path.as_os_str().as_encoded_bytes())
        {
            *d = *s as libc::c_char;
        }
        let rc = libc::connect(
            fd,
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        );
        if rc != 0 {
            libc::close(fd);
            return None;
        }
        Some(UnixStream::from_raw_fd(fd))
    }
}

#[test]
fn a_client_that_half_closes_after_its_request_is_answered() {
    in_netns(|| {
        let scene = Scene::home("half-close", Some("203.0.113.5/24"));
        let agent = scene.start_published(T);
        let mut s = UnixStream::connect(scene.dir.join("control.sock")).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        s.write_all(b"update\n").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("report home.example.com ipv4 uptodate 203.0.113.5"),
            "{answer:?}"
        );
        assert!(answer.ends_with("end\n"), "{answer:?}");
        agent.stop();
    });
}

#[test]
fn a_certificate_not_valid_yet_is_the_clock_and_is_retried_when_the_clock_is_set() {
    let _steps = exclusive();
    in_netns(|| {
        support::netns::bridge("br0");
        support::netns::ip(&["addr", "add", "203.0.113.5/24", "dev", "br0"]);
        let dir = support::agent::Scratch::new("clock");
        let provider = Provider::start_tls_valid_from(&dir.join("tls"), 2099);
        let cfg = support::agent::write_config(
            &dir,
            &provider.url(),
            &record("home.example.com", "br0", ""),
        );
        let agent = Agent::start(&cfg, &[]);
        agent.wait_log("the clock is wrong", T);
        assert!(agent.log().contains("not valid yet"), "{}", agent.log());
        let attempts = provider.connections();
        assert_eq!(provider.count(), 0, "no request (and no password) sent");
        // The backoff is 30 s; the clock being set brings the retry now.
        set_clock_to_itself();
        agent.wait_log("the system clock was set", T);
        let now = provider.wait_for_connections(attempts + 1, Duration::from_secs(5));
        assert!(
            now > attempts,
            "a new handshake right after the clock was set"
        );
        agent.stop();
    });
}

#[test]
fn an_echo_of_another_address_is_recorded_as_what_the_provider_holds_and_retried() {
    in_netns(|| {
        let scene = Scene::new(
            "echo",
            Some("203.0.113.5/24"),
            &format!(
                "[retry]\ninitial = \"1s\"\n{}",
                record("home.example.com", "br0", "")
            ),
        );
        scene
            .provider
            .push(Reply::Text(200, "good 198.51.100.99".into()));
        let agent = Agent::start(&scene.cfg, &[]);
        agent.wait_log("echoed another address", T);
        wait_until("the state file", T, || {
            state_text(&scene).contains("published=198.51.100.99@")
        });
        // The address we sent is sent again, and then published.
        let r = scene.provider.nth(2, T, "the retry");
        assert_eq!(r.param("myip"), Some("203.0.113.5"));
        wait_until("the state file", T, || {
            state_text(&scene).contains("published=203.0.113.5@")
        });
        agent.stop();
    });
}

#[test]
fn only_a_reply_s_first_line_counts_and_a_failed_status_decides_by_itself() {
    in_netns(|| {
        let scene = Scene::new(
            "first-line",
            Some("203.0.113.5/24"),
            &format!(
                "[retry]\ninitial = \"1s\"\n{}",
                record("home.example.com", "br0", "")
            ),
        );
        // An HTML page holding a line that starts with "good": not published.
        scene.provider.push(Reply::Html(
            200,
            "<html>\n<body>\ngood 203.0.113.5\n</body></html>".into(),
        ));
        // A 5xx page that mentions "abuse": a retry, not a block.
        scene
            .provider
            .push(Reply::Text(503, "<h1>oops</h1>\nabuse\n".into()));
        let agent = Agent::start(&scene.cfg, &[]);
        agent.wait_log("unrecognised reply", T);
        assert!(!state_text(&scene).contains("published="));
        scene.provider.nth(3, T, "the third attempt, after the 503");
        agent.wait_log("published", T);
        assert!(!agent.log().contains("blocked"), "{}", agent.log());
        agent.stop();
    });
}

/// The timerfd edge alone: silent while the clock is left alone, an event for each step.
#[test]
fn a_clock_step_wakes_the_clock_watch_and_nothing_else_does() {
    let _steps = exclusive();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut w = dynhost::clock::ClockWatch::new().unwrap();
        let quiet = tokio::time::timeout(Duration::from_millis(200), w.changed()).await;
        assert!(quiet.is_err(), "no event while the clock is left alone");
        for _ in 0..2 {
            set_clock_to_itself();
            tokio::time::timeout(Duration::from_secs(5), w.changed())
                .await
                .expect("an event after the clock is set")
                .unwrap();
        }
    });
}

#[test]
fn status_says_which_newer_address_waits_for_the_hourly_budget_and_until_when() {
    in_netns(|| {
        let scene = Scene::new(
            "throttled",
            Some("203.0.113.5/24"),
            &format!(
                "max_updates_per_hour = 1\n{}",
                record("home.example.com", "br0", "")
            ),
        );
        let agent = Agent::start(&scene.cfg, &[]);
        scene.provider.nth(1, T, "the first update");
        wait_until("the state file", T, || {
            state_text(&scene).contains("published=203.0.113.5@")
        });
        move_addr("br0", "203.0.113.5/24", "203.0.113.6/24");
        agent.wait_log("throttling this record", T);
        wait_until("the state file", T, || {
            state_text(&scene).contains("pending=203.0.113.6@")
        });
        let (out, _) = text(&run(&scene.cfg, &["status"]));
        assert!(out.contains("throttled: 203.0.113.6 waits until "), "{out}");
        assert!(!out.contains(" ok "), "{out}");
        let (json, _) = text(&run(&scene.cfg, &["status", "--json"]));
        assert!(
            json.contains("\"pending\":{\"address\":\"203.0.113.6\""),
            "{json}"
        );
        assert_eq!(scene.provider.count(), 1, "nothing sent over the budget");
        agent.stop();
    });
}

#[test]
fn a_failing_web_echo_is_retried_with_backoff_and_said_once_at_warning_level() {
    in_netns(|| {
        bridge("br0");
        ip(&["addr", "add", "192.168.1.2/24", "dev", "br0"]);
        let asked = Arc::new(AtomicUsize::new(0));
        let count = asked.clone();
        let _echo = HttpServer::start_here(
            SocketAddr::from(([127, 0, 0, 1], 18_083)),
            Box::new(move |_, _| {
                // Still booting: 503 twice, then the address.
                if count.fetch_add(1, Ordering::SeqCst) < 2 {
                    Http::status(503, "text/plain", "busy")
                } else {
                    Http::ok("text/plain", "203.0.113.60")
                }
            }),
        );
        let provider = Provider::start();
        let dir = Scratch::new("echo-503");
        let body = format!(
            "[retry]\ninitial = \"1s\"\n[web]\nurls = [\"http://127.0.0.1:18083/\"]\n{}",
            record("home.example.com", "br0", "ipv4_source = \"web\"")
        );
        let cfg = write_config(&dir, &provider.url(), &body);
        let agent = Agent::start(&cfg, &[]);
        // Asked again after about 1 s and 2 s, not at the hourly safety net.
        let r = provider.nth(1, T, "the update once the echo answers");
        assert_eq!(r.param("myip"), Some("203.0.113.60"));
        assert_eq!(asked.load(Ordering::SeqCst), 3);
        let warned: Vec<String> = agent
            .log()
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("the web echo services over ipv4: "))
            .map(String::from)
            .collect();
        assert_eq!(
            warned.len(),
            1,
            "one warning (shown by -q):\n{}",
            agent.log()
        );
        agent.stop();
    });
}
