//! The provider's answer to a `Send`, through the slot's [`Publish`] part: published
//! (then DNS is checked), retry later, or blocked (with the record's other family
//! when the refusal concerns the record).
//!
//! [`Publish`]: super::publish::Publish

use std::net::IpAddr;
use std::time::Instant;

use tracing::debug;

use super::dns::FIRST_CHECK;
use super::publish::Answered;
use super::types::{Purpose, SlotKey};
use super::{Engine, Mode};
use crate::provider::reply::Outcome;

impl Engine {
    /// The answer to a `Send`. `wall` is the current Unix time, for the record.
    pub fn handle_outcome(
        &mut self,
        now: Instant,
        wall: u64,
        key: &SlotKey,
        addr: IpAddr,
        outcome: Outcome,
    ) {
        self.clock = (now, wall);
        let Some(i) = self.slots.iter().position(|s| s.spec.key == *key) else {
            debug!(record = %key, "answer for a record no longer configured; ignored");
            return;
        };
        let s = &mut self.slots[i];
        let answered = s
            .publish
            .answer(now, wall, key, addr, &outcome, &mut self.backoff);
        match answered {
            Answered::Stale => {
                debug!(record = %key, "answer for an update no longer awaited; ignored");
                return;
            }
            // A one-shot run ends with its round; the daemon checks DNS.
            Answered::Published { real: true } if self.mode == Mode::Daemon => {
                if self.timing.verify {
                    s.dns.start(now, Purpose::AfterUpdate, addr, FIRST_CHECK);
                }
            }
            Answered::Published { .. } | Answered::Retry => {}
            Answered::Blocked { record: true } => {
                // The other family shares the login and the host: spare the provider
                // a request that can only get the same answer.
                let record = s.spec.record;
                for other in self.slots.iter_mut().filter(|o| o.spec.record == record) {
                    other.publish.block_with_sibling(wall);
                }
            }
            Answered::Blocked { record: false } => {}
        }
        self.mark_persist();
        // The address may have moved on while the request was out.
        self.evaluate(i, now);
        self.evaluate_queued(now);
        self.finish_tickets(now);
    }
}
