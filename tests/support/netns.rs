//! Private network namespaces for tests, and `ip` to shape them.
//!
//! A test body runs on a fresh thread that has unshared its network namespace: every
//! socket it opens and every process it spawns (`ip`, `dynhost`) lives there, with
//! its own loopback and interfaces, and nothing can reach the outside network.

use std::process::Command;

/// Runs `body` in a new network namespace with `lo` up. Panics, with a clear message,
/// if the namespace cannot be created: these tests must not pass without the kernel.
pub fn in_netns<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let thread = std::thread::spawn(move || {
        // SAFETY: unshare only changes this thread's namespace membership.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            panic!(
                "cannot create a private network namespace (unshare(CLONE_NEWNET): {err}).\n\
                 The netlink tests need one: run them as root (CI does), or as a user inside \
                 `unshare -rn`, e.g. `unshare -rn cargo test`."
            );
        }
        ip(&["link", "set", "lo", "up"]);
        body()
    });
    match thread.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Runs `ip ARGS...` in the current namespace; panics with its stderr on failure.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip` (install iproute2): {e}"));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `ip -batch -` with one command per line (much faster than one `ip` each).
pub fn ip_batch(lines: &[String]) {
    use std::io::Write;
    let mut child = Command::new("ip")
        .args(["-batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cannot run `ip -batch`");
    {
        let mut stdin = child.stdin.take().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ip -batch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bridge named `name`, up (a bridge without ports reports operstate UNKNOWN).
pub fn bridge(name: &str) {
    ip(&["link", "add", name, "type", "bridge"]);
    ip(&["link", "set", name, "up"]);
}

/// A point-to-point tun standing in for a PPP link: `local` is ours, `peer` the far end.
pub fn ppp(name: &str, local: &str, peer: &str) {
    ip(&["tuntap", "add", "dev", name, "mode", "tun"]);
    ip(&["addr", "add", local, "peer", peer, "dev", name]);
    ip(&["link", "set", name, "up"]);
}

/// Replaces address `from` with `to` on `dev` (both with their prefix).
pub fn move_addr(dev: &str, from: &str, to: &str) {
    ip(&["addr", "del", from, "dev", dev]);
    ip(&["addr", "add", to, "dev", dev]);
}
