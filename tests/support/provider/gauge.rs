//! A gauge of the requests open at once, and its high-water mark: how many requests a
//! client had under way together (a daemon that caps them must never exceed its cap).
//!
//! A request opens when its head has been recorded and closes once its reply is fully
//! written (for replies that never complete, `Hang`, `StallBody`, the resets: when its
//! connection ends). It does not wait for the client to close its end, so a client that
//! starts its next request as soon as it has read an answer is not over-counted.

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Default)]
pub(super) struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    /// Counts one more open request until the returned guard is dropped.
    pub(super) fn enter(&self) -> Open<'_> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        Open(self)
    }

    pub(super) fn now(&self) -> usize {
        self.now.load(Ordering::SeqCst)
    }

    pub(super) fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    /// Starts a new high-water mark at the number open now; returns the previous mark.
    pub(super) fn reset_max(&self) -> usize {
        self.max.swap(self.now(), Ordering::SeqCst)
    }
}

/// One open request; closes on drop.
pub(super) struct Open<'a>(&'a Gauge);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}
