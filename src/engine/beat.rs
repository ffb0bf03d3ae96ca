//! The heartbeat's question: does every record stand where it should, and do the
//! authoritative servers agree? [`Engine::check_dns`] starts a round (the driver's
//! `notify.heartbeat` timer); each record standing at its published address is
//! checked by its [`DnsWatch`] part, the others answer at once from where they stand;
//! [`Engine::poll_beat`] gives the verdict when every answer is in.
//!
//! [`DnsWatch`]: super::dns::DnsWatch

use std::time::Instant;

use super::Engine;
use super::told::named;
use super::types::{Checked, Dns, SlotKey, SlotResult};

/// A heartbeat round under way.
#[derive(Debug, Default)]
pub(super) struct Beat {
    /// Slots whose drift check is still out.
    waiting: Vec<SlotKey>,
    /// What is wrong, one sentence per record, in slot order.
    reasons: Vec<String>,
}

impl Engine {
    /// Starts a heartbeat round: each record is asked of the authoritative servers
    /// (when `verify.enabled`), or judged from where it stands. A round still under way
    /// is replaced.
    pub fn check_dns(&mut self, now: Instant) {
        let mut beat = Beat::default();
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            if !s.active {
                continue;
            }
            let who = named(&s.spec.key);
            match s.report(now).result {
                SlotResult::UpToDate(_) if self.timing.verify => {
                    let key = s.spec.key.clone();
                    self.slots[i].dns.want_drift_check();
                    self.maybe_drift_check(i, now);
                    if self.slots[i].dns.checking_drift() {
                        beat.waiting.push(key);
                    }
                }
                SlotResult::UpToDate(_) | SlotResult::Pending => {}
                SlotResult::Unavailable(why) => {
                    beat.reasons
                        .push(format!("{who}: no address can be published ({why})"));
                }
                SlotResult::Retrying { reply, .. } => {
                    beat.reasons
                        .push(format!("{who}: not published yet ({reply})"));
                }
                SlotResult::Blocked { reply } => {
                    beat.reasons
                        .push(format!("{who} is blocked after {reply:?}"));
                }
            }
        }
        self.beat = Some(beat);
    }

    /// The verdict of the heartbeat round once every answer is in: `Some(None)` when
    /// all is well, `Some(Some(reason))` otherwise; `None` while answers are out (or no
    /// round runs).
    pub fn poll_beat(&mut self) -> Option<Option<String>> {
        if !self.beat.as_ref().is_some_and(|b| b.waiting.is_empty()) {
            return None;
        }
        let b = self.beat.take()?;
        Some((!b.reasons.is_empty()).then(|| b.reasons.join("; ")))
    }

    /// A drift check answered for `key`: counts for the round if it waits for it.
    pub(super) fn beat_checked(&mut self, key: &SlotKey, checked: &Checked) {
        let Some(b) = self.beat.as_mut() else {
            return;
        };
        let Some(at) = b.waiting.iter().position(|k| k == key) else {
            return;
        };
        b.waiting.remove(at);
        let who = named(key);
        match checked.dns {
            Dns::Visible => {}
            Dns::Differs(a) => b.reasons.push(format!(
                "{who}: the authoritative servers answer {a} ({})",
                checked.server
            )),
            Dns::Missing => b.reasons.push(format!(
                "{who}: the authoritative servers answer no address ({})",
                checked.server
            )),
            Dns::Unknown => b.reasons.push(format!(
                "{who}: what the authoritative servers answer is unknown ({})",
                checked.server
            )),
        }
    }
}
