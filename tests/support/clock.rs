//! The wall clock, stepped as NTP steps it after a boot without an RTC.

use std::sync::{Mutex, MutexGuard};

static STEPPING: Mutex<()> = Mutex::new(());

/// Held by a test that steps the clock or waits for a step: steps are seen by every
/// process on the machine, so two such tests of one binary must not overlap.
pub fn exclusive() -> MutexGuard<'static, ()> {
    STEPPING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets the wall clock to what it already says: for the kernel a step like any other
/// (a timerfd armed TFD_TIMER_CANCEL_ON_SET fires), and nothing else changes. Needs
/// CAP_SYS_TIME, so real root; fails clearly otherwise.
pub fn set_clock_to_itself() {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: reading and setting CLOCK_REALTIME with a valid timespec.
    unsafe {
        libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts);
        assert_eq!(
            libc::clock_settime(libc::CLOCK_REALTIME, &ts),
            0,
            "setting the clock needs root (CAP_SYS_TIME): {}",
            std::io::Error::last_os_error()
        );
    }
}
