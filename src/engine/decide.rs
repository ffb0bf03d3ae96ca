//! The decision: given what a slot selected and what it published, send now, wait,
//! throttle, or do nothing.

use std::time::Instant;

use tracing::warn;

use super::Engine;
use super::slot::{Phase, round_secs};
use super::types::{Action, HOUR, THROTTLE_SPACING};
use crate::policy::Selection;

/// Requests under way at once, across all records.
pub const MAX_IN_FLIGHT: usize = 8;

impl Engine {
    /// Sends what waited for room (`MAX_IN_FLIGHT`), oldest slot first.
    pub(super) fn evaluate_queued(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            if self.slots[i].queued {
                self.slots[i].queued = false;
                self.evaluate(i, now);
            }
        }
    }

    /// Decides whether slot `i` must send now.
    pub(super) fn evaluate(&mut self, i: usize, now: Instant) {
        let max_per_hour = self.timing.max_per_hour as usize;
        let in_flight = self
            .slots
            .iter()
            .filter(|s| matches!(s.phase, Phase::InFlight(_)))
            .count();
        let wall = self.wall_at(now);
        let s = &mut self.slots[i];
        match s.phase {
            Phase::InFlight(_) | Phase::Blocked { .. } => return,
            // A throttle is re-derived below from the send times, so that going back
            // to the published address ends it; a retry wait (911 floor) is not.
            Phase::Waiting { until, .. } if until > now => return,
            Phase::Waiting { .. } | Phase::Throttled { .. } | Phase::Idle => {}
        }
        let Some(Selection::Addr(addr)) = s.selection else {
            return;
        };
        let unchanged = s.published.as_ref().is_some_and(|p| p.addr == addr) && !s.drifted;
        if unchanged && !s.force {
            if matches!(s.phase, Phase::Waiting { .. } | Phase::Throttled { .. }) {
                // Back at the published address: nothing left to retry or hold back.
                s.phase = Phase::Idle;
                s.attempts = 0;
                self.persist_pending = true;
            }
            return;
        }
        while s
            .sends
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= HOUR)
        {
            s.sends.pop_front();
        }
        if !s.force
            && s.sends.len() >= max_per_hour
            && let Some(until) = s.sends.back().map(|(t, _)| *t + THROTTLE_SPACING)
            && until > now
        {
            if !matches!(s.phase, Phase::Throttled { .. }) {
                warn!(record = %s.spec.key, addr = %addr, limit = max_per_hour,
                      wait = %crate::duration::format(round_secs(until - now)),
                      "the address keeps changing: throttling this record to one update \
                       per 5 minutes");
            }
            s.phase = Phase::Throttled { until };
            return;
        }
        // A router with many names: never more than a few requests at once, however
        // many records one change concerns. The rest go as answers come back.
        if in_flight >= MAX_IN_FLIGHT {
            s.queued = true;
            return;
        }
        s.queued = false;
        s.force = false;
        s.drifted = false;
        // The update's own check follows its answer: no separate drift check.
        s.drift_due = false;
        s.phase = Phase::InFlight(addr);
        s.sends.push_back((now, wall));
        if s.sends.len() > max_per_hour {
            s.sends.pop_front();
        }
        self.actions.push_back(Action::Send {
            key: s.spec.key.clone(),
            addr,
        });
    }
}
