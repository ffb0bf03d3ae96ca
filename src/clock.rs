//! The clock edge: an event when the system's wall clock is set (stepped by NTP, or by
//! hand), from a timerfd armed with `TFD_TIMER_CANCEL_ON_SET`. Nothing ticks: the
//! kernel wakes us only when the clock is set.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Resolves each time the wall clock is set.
pub struct ClockWatch {
    fd: AsyncFd<OwnedFd>,
}

impl ClockWatch {
    pub fn new() -> io::Result<ClockWatch> {
        // SAFETY: timerfd_create returns a new descriptor or -1.
        let raw = unsafe {
            libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor we own from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        arm(&fd)?;
        // SAFETY: an OwnedFd stays open, the same descriptor, for as long as it lives.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(ClockWatch { fd })
    }

    /// The next time the wall clock is set.
    pub async fn changed(&mut self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut buf = [0u8; 8];
            // SAFETY: reading 8 bytes into a buffer of 8 from our descriptor.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
            let err = io::Error::last_os_error();
            if n < 0 && err.raw_os_error() == Some(libc::ECANCELED) {
                // The clock was set: the timer is cancelled, arm it again.
                guard.clear_ready();
                arm(self.fd.get_ref())?;
                return Ok(());
            }
            if n < 0 && err.kind() == io::ErrorKind::WouldBlock {
                guard.clear_ready();
                continue;
            }
            // The far-future expiry itself (year 2100+): arm again and keep waiting.
            guard.clear_ready();
            arm(self.fd.get_ref())?;
        }
    }
}

/// `secs` as a `time_t`, or 2038-01-19 where `time_t` is 32 bits (armhf glibc). Generic
/// so that the type is inferred: naming `libc::time_t` is deprecated on musl.
fn saturate<T: TryFrom<i64> + From<i32>>(secs: i64) -> T {
    T::try_from(secs).unwrap_or_else(|_| T::from(i32::MAX))
}

/// Arms the timer at an absolute time far in the future, cancelled by a clock set.
fn arm(fd: &OwnedFd) -> io::Result<()> {
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            // 2100-01-01: it never fires on its own (and if it does, it is armed again).
            tv_sec: saturate(4_102_444_800),
            tv_nsec: 0,
        },
    };
    // SAFETY: timerfd_settime on our descriptor with a valid itimerspec.
    let rc = unsafe {
        libc::timerfd_settime(
            fd.as_raw_fd(),
            libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET,
            &spec,
            std::ptr::null_mut(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_far_expiry_fits_either_time_t() {
        assert_eq!(super::saturate::<i64>(4_102_444_800), 4_102_444_800);
        assert_eq!(super::saturate::<i32>(4_102_444_800), i32::MAX);
    }
}
