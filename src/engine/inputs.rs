//! The engine's inputs: netlink hints, requests, a dump's result or failure, the
//! clock being set, and the timer. Each `handle_*` takes the current instant and only
//! queues actions; the driver collects them with `poll_action`.

use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::tickets::Ticket;
use super::{DumpPhase, Engine, Mode, RequestError};
use crate::model::{NetEvent, Snapshot};
use crate::policy::Selection;
use crate::request::UpdateRequest;

const DUMP_RETRY_MAX: Duration = Duration::from_secs(60);

impl Engine {
    /// A netlink notification. Only those about followed interfaces (or unknown ones,
    /// to be safe), and for addresses only of a family they publish, start the
    /// debounce; the rest cost a hash lookup.
    pub fn handle_net(&mut self, now: Instant, event: NetEvent) {
        let relevant = match event {
            NetEvent::Link {
                index,
                name,
                removed,
                up,
            } => {
                // Down or gone: when it is back, check that DNS still shows what we
                // published (a reconnect whose events the debounce folds into one).
                if removed || !up {
                    let iface = name.as_ref().or_else(|| self.links.get(&index));
                    if let Some(iface) = iface.cloned() {
                        for s in self.slots.iter_mut().filter(|s| s.spec.interface == iface) {
                            s.dns.bounce();
                        }
                    }
                }
                let old = if removed {
                    self.links.remove(&index)
                } else if let Some(name) = &name {
                    self.links.insert(index, name.clone())
                } else {
                    None
                };
                old.is_some_and(|n| self.watched.contains_key(&n))
                    || name.is_some_and(|n| self.watched.contains_key(&n))
            }
            NetEvent::Addr { index, family } => match self.links.get(&index) {
                None => true,
                Some(n) => self
                    .watched
                    .get(n)
                    .is_some_and(|fs| family.is_none_or(|f| fs.contains(&f))),
            },
            NetEvent::Route { index } => self
                .links
                .get(&index)
                .is_none_or(|n| self.watched.contains_key(n)),
            NetEvent::Resync => true,
        };
        if relevant && self.mode == Mode::Daemon {
            self.debounce.poke(now);
        }
    }

    /// A hook or an operator asks for a round (`dynhost update`). The engine alone
    /// decides which slots it concerns: those following `interface` (all when `None`)
    /// and publishing the family of `ip` (both when `None`). In the daemon it joins the
    /// netlink debounce; in a one-shot run it dumps at once, or with `ip` publishes that
    /// address instead of reading the interface. `ticket` asks for a `Report` once the
    /// round is done.
    pub fn handle_request(
        &mut self,
        now: Instant,
        req: &UpdateRequest,
        ticket: Option<u64>,
    ) -> Result<(), RequestError> {
        let family = req.family();
        let slots: Vec<usize> = (0..self.slots.len())
            .filter(|&i| {
                let s = &self.slots[i].spec;
                req.interface.as_ref().is_none_or(|n| *n == s.interface)
                    && family.is_none_or(|f| f == s.key.family)
            })
            .collect();
        if slots.is_empty() {
            return Err(RequestError::NoRecordFollows {
                interface: req.interface.clone(),
                family,
            });
        }
        for &i in &slots {
            self.slots[i].active = true;
            if req.force {
                self.slots[i].publish.force();
            }
        }
        if let Some(id) = ticket {
            self.tickets.push(Ticket {
                id,
                slots: slots
                    .iter()
                    .map(|&i| self.slots[i].spec.key.clone())
                    .collect(),
                after_dump: self.dumps_started,
                forced: req.force,
            });
        }
        match (self.mode, req.ip) {
            (Mode::Daemon, ip) => {
                self.debounce.poke(now);
                // A hook's address (ip-up runs once it is final): if the kernel shows
                // it, its slots need no quiet time. Dump now to see.
                if let (Some(iface), Some(addr)) = (&req.interface, ip) {
                    self.confirms.add(iface, addr, self.dumps_started);
                    self.want_dump();
                }
            }
            (Mode::OneShot, None) => self.want_dump(),
            (Mode::OneShot, Some(addr)) => {
                let wall = self.wall_at(now);
                for i in slots {
                    let s = &mut self.slots[i];
                    let sel = Selection::Addr(addr);
                    s.origin.settle(&s.spec.key, &s.spec.interface, sel, wall);
                    self.evaluate(i, now);
                }
                self.finish_tickets(now);
            }
        }
        Ok(())
    }

    /// The result of a `Dump`.
    pub fn handle_snapshot(&mut self, now: Instant, snapshot: &Snapshot) {
        if let DumpPhase::Running { again } = self.dump {
            self.dump = if again {
                DumpPhase::Wanted
            } else {
                DumpPhase::Idle
            };
        }
        self.dumps_applied = self.dumps_started;
        self.dump_failures = 0;
        self.dump_retry_at = None;
        self.links = snapshot
            .links
            .iter()
            .map(|l| (l.index, l.name.clone()))
            .collect();
        self.snapshot = Some(snapshot.clone());
        // A dump taken early for a hook's address, netlink's burst not yet quiet: only
        // the slots whose address it confirms move now; the others wait for the quiet
        // time (and their requests for the dump after it).
        let early = self.debounce.is_pending() && !self.confirms.is_empty();
        for i in 0..self.slots.len() {
            if !self.slots[i].active {
                continue;
            }
            let spec = &self.slots[i].spec;
            if early {
                if !self
                    .confirms
                    .confirmed(snapshot, &spec.interface, spec.key.family)
                {
                    let key = spec.key.clone();
                    self.hold_tickets(&key);
                    continue;
                }
                debug!(record = %spec.key, interface = %spec.interface,
                    "the hook's address is on the interface: no quiet time");
            }
            // A link that is up again, or new (a PPP reconnect): is DNS still right?
            let s = &mut self.slots[i];
            let now_seen = snapshot
                .link_named(&s.spec.interface)
                .map(|l| (l.index, l.up));
            s.dns.link(now_seen);
            self.choose(i, now, 0);
        }
        self.confirms.applied(self.dumps_applied);
        self.finish_tickets(now);
    }

    pub fn handle_dump_failed(&mut self, now: Instant, error: &str) {
        self.dump_failures += 1;
        let delay = Duration::from_secs(1 << self.dump_failures.min(6)).min(DUMP_RETRY_MAX);
        warn!(error, retry_in = ?delay, "reading interfaces from the kernel failed");
        self.dump = DumpPhase::Idle;
        self.dump_retry_at = Some(now + delay);
    }
    /// The system clock was set (NTP after a boot without an RTC): `wall` is the new
    /// Unix time. Records whose last attempt failed on the provider certificate's dates
    /// are retried now rather than after their backoff.
    pub fn handle_clock_set(&mut self, now: Instant, wall: u64) {
        self.clock = (now, wall);
        let mut retried = 0;
        for i in 0..self.slots.len() {
            if self.slots[i].publish.clock_set() {
                retried += 1;
                self.evaluate(i, now);
            }
        }
        if retried > 0 {
            info!(
                records = retried,
                "the system clock was set; retrying what failed on it"
            );
            self.mark_persist();
        }
        self.finish_tickets(now);
    }

    /// Call when `poll_timeout()` has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.debounce.fire(now) {
            self.want_dump();
        }
        if self.dump_retry_at.is_some_and(|t| t <= now) {
            self.dump_retry_at = None;
            self.want_dump();
        }
        self.due_checks(now);
        // A source outside the kernel is asked again (a retry after a failure, or the
        // safety net): a fresh dump asks them.
        if self.queries.due(now) {
            self.want_dump();
        }
        for i in 0..self.slots.len() {
            if self.slots[i].publish.expire(now) {
                self.evaluate(i, now);
            }
        }
        self.finish_tickets(now);
    }
}
