//! Requests that wait for their round (`dynhost update` through the daemon): when a
//! round is complete, and what it reports.

use std::time::Instant;

use super::Engine;
use super::slot::Slot;
use super::types::{Action, SlotKey};

#[derive(Debug)]
pub(super) struct Ticket {
    pub(super) id: u64,
    pub(super) slots: Vec<SlotKey>,
    /// The round is done once a dump numbered above this one has been applied.
    pub(super) after_dump: u64,
    /// `--force`: once this round is settled, a force it could not use is dropped.
    pub(super) forced: bool,
}

impl Engine {
    /// Slot `key` was held back from the dump just applied: requests naming it wait
    /// for the next one.
    pub(super) fn hold_tickets(&mut self, key: &SlotKey) {
        for t in self.tickets.iter_mut().filter(|t| t.slots.contains(key)) {
            t.after_dump = t.after_dump.max(self.dumps_applied);
        }
    }

    /// Answers the triggers whose round is complete: a dump taken after the trigger has
    /// been applied and none of its slots has a send under way.
    pub(super) fn finish_tickets(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.tickets.len() {
            let t = &self.tickets[i];
            let slots: Vec<&Slot> = self
                .slots
                .iter()
                .filter(|s| t.slots.contains(&s.spec.key))
                .collect();
            let settled = self.dumps_applied > t.after_dump && slots.iter().all(|s| !s.busy());
            if settled {
                let results = slots.iter().map(|s| s.report(now)).collect();
                let t = self.tickets.remove(i);
                if t.forced {
                    // Nothing could be sent (no address, say): the force must not
                    // linger and send an unchanged address at some later change.
                    for s in self
                        .slots
                        .iter_mut()
                        .filter(|s| t.slots.contains(&s.spec.key))
                    {
                        let wanted = self
                            .tickets
                            .iter()
                            .any(|o| o.forced && o.slots.contains(&s.spec.key));
                        if !wanted {
                            s.publish.drop_force();
                        }
                    }
                }
                self.actions.push_back(Action::Report {
                    ticket: t.id,
                    results,
                });
            } else {
                i += 1;
            }
        }
    }
}
