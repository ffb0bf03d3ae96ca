//! The control socket: `dynhost update` through a running daemon, its debounce shared
//! with netlink, and a socket that refuses strangers and garbage.

mod support;

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use support::agent::{Agent, BIN, run, set_mode, settle, text};
use support::netns::{in_netns, move_addr};
use support::scene::Scene;

const T: Duration = Duration::from_secs(10);

#[test]
fn a_hook_and_the_netlink_event_for_the_same_address_give_one_request() {
    in_netns(|| {
        let scene = Scene::home("hook-join", Some("203.0.113.5/24"));
        let agent = scene.start_published(T);
        // What a PPP ip-up hook does right after the address changed.
        move_addr("br0", "203.0.113.5/24", "198.51.100.9/24");
        let out = run(
            &scene.cfg,
            &["update", "--interface", "br0", "--ip", "198.51.100.9"],
        );
        assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
        let (stdout, _) = text(&out);
        assert!(
            stdout.contains(
                "home.example.com ipv4: up to date (198.51.100.9; last reply: good 198.51.100.9)"
            ),
            "the hook waits for the round and reports it: {stdout}"
        );
        settle(Duration::from_secs(2));
        let reqs = scene.provider.requests();
        assert_eq!(
            reqs.len(),
            2,
            "one request for the hook and the event together"
        );
        assert_eq!(reqs[1].param("myip"), Some("198.51.100.9"));
        assert!(agent.log().contains("hook trigger"));
    });
}

#[test]
fn the_daemon_answers_a_trigger_for_an_interface_nobody_follows() {
    in_netns(|| {
        let Scene {
            provider,
            dir: _dir,
            cfg,
        } = Scene::home("hook-unknown", None);
        let _agent = Agent::start(&cfg, &[]);
        let out = run(&cfg, &["update", "--interface", "eth9"]);
        assert_eq!(
            out.status.code(),
            Some(3),
            "nothing to do has its own exit code"
        );
        let (_, stderr) = text(&out);
        assert!(
            stderr.contains("no enabled record follows interface \"eth9\"; nothing to do"),
            "{stderr}"
        );
        let out = run(&cfg, &["update", "--ip", "2001:db8::1"]);
        assert_eq!(out.status.code(), Some(3));
        assert!(text(&out).1.contains("no enabled record with ipv6"));
        assert_eq!(provider.count(), 0);
    });
}

/// Sends raw bytes (then end-of-file, if `eof`) and returns the whole answer.
fn exchange(path: &std::path::Path, bytes: &[u8], eof: bool) -> String {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let _ = s.write_all(bytes);
    if eof {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn the_socket_refuses_other_users_and_malformed_messages_and_keeps_running() {
    in_netns(|| {
        let Scene { provider, dir, cfg } = Scene::home("socket", Some("203.0.113.5/24"));
        let agent = Agent::start(&cfg, &[]);
        provider.nth(1, T, "the first update");
        let sock = dir.join("control.sock");
        let meta = std::fs::metadata(&sock).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "owner-only");

        // Another user cannot even connect to an owner-only socket.
        set_mode(&cfg, 0o644);
        set_mode(&dir.path, 0o755);
        let as_nobody = || {
            let mut c = Command::new(BIN);
            c.args(["-c", cfg.to_str().unwrap(), "update"])
                .uid(65534)
                .gid(65534);
            c.output().unwrap_or_else(|e| {
                panic!(
                    "cannot run a client as uid 65534 ({e}): this test needs real root; in a \
                     user namespace (unshare -rn) only root is mapped"
                )
            })
        };
        let out = as_nobody();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out).1.contains("permission denied"),
            "{:?}",
            text(&out)
        );
        // Even when the file is opened up, the daemon checks the peer's credentials.
        set_mode(&sock, 0o666);
        let out = as_nobody();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out)
                .1
                .contains("refused: uid 65534 may not control this daemon"),
            "{:?}",
            text(&out)
        );
        set_mode(&sock, 0o600);

        for (bytes, needle) in [
            (b"hello\n".to_vec(), "unknown%20request"),
            (b"update ip=10.1.1.1\n".to_vec(), "private"),
            (
                b"update interface=$(reboot)\n".to_vec(),
                "not%20an%20interface%20name",
            ),
            (vec![0xff, 0xfe, b'\n'], "not%20UTF-8"),
            (vec![b'u'; 100_000], "longer%20than%20512"),
            (b"update".to_vec(), "must%20end%20with%20a%20newline"),
        ] {
            let answer = exchange(&sock, &bytes, true);
            assert!(answer.starts_with("error "), "{answer}");
            assert!(answer.contains(needle), "{needle}: {answer}");
        }
        // A client that connects and says nothing is dropped after a while.
        let silent = exchange(&sock, b"", false);
        assert!(silent.contains("no%20request%20within"), "{silent}");

        assert_eq!(provider.count(), 1, "nothing reached the provider");
        let out = run(&cfg, &["update", "--force"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "still serving: {:?}",
            text(&out)
        );
        provider.nth(2, T, "the forced update");
        assert!(agent.stop().success());
        assert!(!sock.exists(), "the socket is removed at exit");
    });
}

#[test]
fn a_second_daemon_on_the_same_state_refuses_to_start() {
    in_netns(|| {
        let scene = Scene::home("second", None);
        let _first = Agent::start(&scene.cfg, &[]);
        let out = run(&scene.cfg, &["run"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out).1.contains("is dynhost already running?"),
            "{:?}",
            text(&out)
        );
    });
}
