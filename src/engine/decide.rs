//! The decision for one slot, from its parts: what its sources selected, what DNS
//! says (drift), and what the provider is owed ([`Publish::decide`]); the answer
//! becomes a `Send`, a persist, or nothing.
//!
//! [`Publish::decide`]: super::publish::Publish::decide

use std::time::Instant;

use super::Engine;
use super::publish::Decision;
use super::types::Action;

/// Requests under way at once, across all records.
pub const MAX_IN_FLIGHT: usize = 8;
/// Batched sends (API mode) under way at once.
pub const MAX_IN_FLIGHT_BATCHED: usize = 64;

impl Engine {
    /// Sends what waited for room (`MAX_IN_FLIGHT`), oldest slot first.
    pub(super) fn evaluate_queued(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            if self.slots[i].publish.take_queued() {
                self.evaluate(i, now);
            }
        }
    }

    /// Decides whether slot `i` must send now.
    pub(super) fn evaluate(&mut self, i: usize, now: Instant) {
        // Batched sends (API mode) have their own, larger room: the publisher bounds
        // their requests itself, and holding some back would cost a refresh each.
        let batched = self.slots[i].spec.batched;
        let in_flight = self
            .slots
            .iter()
            .filter(|s| s.publish.in_flight() && s.spec.batched == batched)
            .count();
        let wall = self.wall_at(now);
        let max = self.timing.max_per_hour;
        let s = &mut self.slots[i];
        let Some(addr) = s.origin.addr() else {
            return;
        };
        let drifted = s.dns.drifted();
        let room = in_flight
            < if batched {
                MAX_IN_FLIGHT_BATCHED
            } else {
                MAX_IN_FLIGHT
            };
        match s
            .publish
            .decide(now, wall, &s.spec.key, addr, drifted, max, room)
        {
            Decision::Nothing | Decision::Queued => {}
            // A throttle is persisted too: `status` says what waits, and until when.
            Decision::Settled | Decision::Throttled => self.persist_pending = true,
            Decision::Send(addr) => {
                s.dns.sending();
                self.actions.push_back(Action::Send {
                    key: s.spec.key.clone(),
                    addr,
                });
            }
        }
    }
}
