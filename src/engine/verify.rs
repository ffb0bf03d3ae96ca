//! Trust, then verify: the engine's side of the DNS checks. The slot's [`DnsWatch`]
//! part keeps the schedule and judges the answers; here its questions become
//! `Verify` actions and a drift becomes a new decision. Only a consistent
//! authoritative answer counts; anything doubtful is unknown and does nothing.
//!
//! [`DnsWatch`]: super::dns::DnsWatch

use std::net::IpAddr;
use std::time::Instant;

use super::Engine;
use super::dns::Verdict;
use super::types::{Action, Checked, Purpose, SlotKey};

impl Engine {
    /// Asks the checks whose time has come (from `handle_timeout`).
    pub(super) fn due_checks(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            if self.slots[i].dns.drift_timer(now) {
                self.maybe_drift_check(i, now);
            }
            self.ask_dns(i, now);
        }
    }

    /// After a slot's selection settled: if a drift check is due and the slot stands at
    /// its published address, ask now.
    pub(super) fn maybe_drift_check(&mut self, i: usize, now: Instant) {
        if !self.timing.verify {
            return;
        }
        let s = &mut self.slots[i];
        let standing = s.standing();
        s.dns.maybe_drift(now, standing);
        self.ask_dns(i, now);
    }

    fn ask_dns(&mut self, i: usize, now: Instant) {
        let s = &mut self.slots[i];
        if let Some((expected, purpose)) = s.dns.ask(now) {
            self.actions.push_back(Action::Verify {
                key: s.spec.key.clone(),
                expected,
                purpose,
            });
        }
    }

    /// What the authoritative servers answered for `key`.
    pub fn handle_checked(
        &mut self,
        now: Instant,
        wall: u64,
        key: &SlotKey,
        expected: IpAddr,
        purpose: Purpose,
        checked: Checked,
    ) {
        self.clock = (now, wall);
        let Some(i) = self.slots.iter().position(|s| s.spec.key == *key) else {
            return;
        };
        let interval = self.timing.verify_interval;
        let s = &mut self.slots[i];
        let published = s.publish.published().cloned();
        let verdict = s.dns.checked(
            now,
            wall,
            key,
            expected,
            purpose,
            &checked,
            published.as_ref(),
            interval,
        );
        if purpose == Purpose::Drift && verdict != Verdict::Stale {
            self.beat_checked(key, &checked);
        }
        match verdict {
            Verdict::Stale => {}
            Verdict::Seen => self.persist_pending = true,
            Verdict::Drifted => {
                self.persist_pending = true;
                self.evaluate(i, now);
            }
        }
    }
}
