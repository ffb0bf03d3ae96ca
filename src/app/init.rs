//! dynhost as PID 1 (a container's only process): the kernel gives PID 1 two duties a
//! daemon does not have. Signals without a handler are ignored, and every orphaned
//! process in the namespace becomes its child, to be reaped. The first process
//! therefore stays a minimal init: it forks the daemon, forwards the stop and reload
//! signals to it, reaps every child (the daemon's orphaned grandchildren included), and
//! exits with the daemon's status. Elsewhere (systemd, procd, a shell) nothing changes.

/// Signals forwarded to the daemon; `SIGCHLD` is the init's own.
const FORWARDED: [libc::c_int; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Returns in the daemon; when this process is PID 1, only after forking it, the
/// first process staying behind as its init (and never returning). Call before any
/// thread starts.
pub fn become_init_if_pid1() {
    if std::process::id() != 1 {
        return;
    }
    // SAFETY: plain libc calls on local sigsets, before any other thread exists; the
    // child only restores its signal mask and returns to single-threaded code.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED.into_iter().chain([libc::SIGCHLD]) {
            libc::sigaddset(&mut set, s);
        }
        // Blocked, they wait for sigwaitinfo instead of being lost (PID 1 ignores
        // signals it has no handler for).
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        let daemon = libc::fork();
        if daemon <= 0 {
            // The daemon (or no fork possible: run without an init).
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            return;
        }
        loop {
            let sig = libc::sigwaitinfo(&set, std::ptr::null_mut());
            if sig == libc::SIGCHLD {
                if let Some(code) = reap(daemon) {
                    libc::_exit(code);
                }
            } else if sig > 0 {
                libc::kill(daemon, sig);
            }
        }
    }
}

/// Reaps every child that has ended; the daemon's exit code if it was one of them.
fn reap(daemon: libc::pid_t) -> Option<libc::c_int> {
    let mut code = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return code;
        }
        if pid == daemon {
            code = Some(exit_code(status));
        }
    }
}

/// A wait status as a shell reports it: the exit code, or 128 + the signal.
fn exit_code(status: libc::c_int) -> libc::c_int {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_become_exit_codes() {
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(libc::SIGKILL), 128 + 9);
    }
}
