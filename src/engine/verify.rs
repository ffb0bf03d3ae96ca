//! Trust, then verify: what the zone's authoritative servers answer for a slot. After
//! each update, until it is visible (never a re-send because DNS is slow); at start,
//! reload and reconnect, to find a record changed elsewhere and publish it again
//! (within the hourly budget). Only a consistent authoritative answer counts; anything
//! doubtful is unknown and does nothing.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::Engine;
use super::slot::Phase;
use super::types::{Action, Checked, Dns, DnsSeen, Purpose, SlotKey};
use crate::policy::Selection;

/// The waits between checks after an update: it starts within a second and backs off.
const SCHEDULE: [Duration; 6] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(3600),
];
/// Not visible after this long: said once (naming what the servers answer).
const WARN_AFTER: Duration = Duration::from_secs(600);
/// OVH's guide warns a new DynHost can take up to a day; after that, stop asking until
/// the next update, start or reconnect.
const GIVE_UP_AFTER: Duration = Duration::from_secs(86_400);

/// A check under way (or waiting for its time).
#[derive(Debug)]
pub(super) struct Checking {
    purpose: Purpose,
    expected: IpAddr,
    /// When the update (or the drift check) began.
    started: Instant,
    attempt: usize,
    /// When to ask next; `None` while a question is out.
    next: Option<Instant>,
    warned: bool,
}

impl Engine {
    /// Starts checking slot `i` for `expected`, the first question after `wait`.
    pub(super) fn start_check(
        &mut self,
        i: usize,
        now: Instant,
        purpose: Purpose,
        expected: IpAddr,
        wait: Duration,
    ) {
        if !self.timing.verify {
            return;
        }
        self.slots[i].checking = Some(Checking {
            purpose,
            expected,
            started: now,
            attempt: 0,
            next: Some(now + wait),
            warned: false,
        });
    }

    /// When a check waits to ask next.
    pub(super) fn check_deadlines(&self) -> impl Iterator<Item = Instant> + '_ {
        let periodic = self.slots.iter().filter_map(|s| s.drift_at);
        self.slots
            .iter()
            .filter_map(|s| s.checking.as_ref().and_then(|c| c.next))
            .chain(periodic)
    }

    /// Asks the checks whose time has come (from `handle_timeout`).
    pub(super) fn due_checks(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            if self.slots[i].drift_at.is_some_and(|t| t <= now) {
                self.slots[i].drift_at = None;
                self.slots[i].drift_due = true;
                self.maybe_drift_check(i, now);
            }
            let s = &mut self.slots[i];
            let Some(c) = s.checking.as_mut() else {
                continue;
            };
            if c.next.is_some_and(|t| t <= now) {
                c.next = None;
                self.actions.push_back(Action::Verify {
                    key: s.spec.key.clone(),
                    expected: c.expected,
                    purpose: c.purpose,
                });
            }
        }
    }

    /// After a slot's selection settled: if a drift check is due and the slot stands at
    /// its published address, ask now.
    pub(super) fn maybe_drift_check(&mut self, i: usize, now: Instant) {
        let s = &self.slots[i];
        if !s.drift_due || !self.timing.verify || s.checking.is_some() {
            return;
        }
        let (Some(Selection::Addr(addr)), Some(p)) = (&s.selection, &s.published) else {
            return;
        };
        if *addr != p.addr || !matches!(s.phase, Phase::Idle) {
            return;
        }
        let addr = *addr;
        self.slots[i].drift_due = false;
        self.start_check(i, now, Purpose::Drift, addr, Duration::ZERO);
        self.due_checks_of(i, now);
    }

    fn due_checks_of(&mut self, i: usize, now: Instant) {
        let s = &mut self.slots[i];
        if let Some(c) = s.checking.as_mut()
            && c.next.is_some_and(|t| t <= now)
        {
            c.next = None;
            self.actions.push_back(Action::Verify {
                key: s.spec.key.clone(),
                expected: c.expected,
                purpose: c.purpose,
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
        let s = &mut self.slots[i];
        let Some(c) = s.checking.as_mut() else {
            return;
        };
        if c.expected != expected || c.purpose != purpose || c.next.is_some() {
            debug!(record = %key, "a DNS answer no longer awaited; ignored");
            return;
        }
        let elapsed = now.saturating_duration_since(c.started);
        let seen_addr = match checked.dns {
            Dns::Visible => Some(expected),
            Dns::Differs(a) => Some(a),
            Dns::Missing | Dns::Unknown => None,
        };
        let visible = checked.dns == Dns::Visible;
        let after_ms =
            (visible && purpose == Purpose::AfterUpdate).then_some(elapsed.as_millis() as u64);
        s.dns = Some(DnsSeen {
            addr: seen_addr,
            visible,
            at: wall,
            server: checked.server.clone(),
            after_ms: after_ms.or_else(|| s.dns.as_ref().and_then(|d| d.after_ms)),
        });
        self.persist_pending = true;
        match (purpose, &checked.dns) {
            (Purpose::AfterUpdate, Dns::Visible) => {
                info!(record = %key, addr = %expected, after_ms = elapsed.as_millis() as u64,
                      server = %checked.server, "visible in DNS");
                s.checking = None;
            }
            (Purpose::AfterUpdate, _) => {
                debug!(record = %key, dns = ?checked.dns, server = %checked.server,
                       "not visible in DNS yet");
                if elapsed >= WARN_AFTER && !c.warned {
                    c.warned = true;
                    warn!(record = %key, addr = %expected, server = %checked.server,
                          "not visible in DNS {} after the update; nothing is sent again for \
                           it (a new DynHost can take up to a day to appear)",
                          crate::duration::format(Duration::from_secs(elapsed.as_secs())));
                }
                c.attempt += 1;
                if elapsed >= GIVE_UP_AFTER {
                    debug!(record = %key, "not visible after a day; stopped asking");
                    s.checking = None;
                } else {
                    let wait = SCHEDULE[c.attempt.min(SCHEDULE.len() - 1)];
                    c.next = Some(now + wait);
                }
            }
            (Purpose::Drift, Dns::Differs(_) | Dns::Missing) => {
                s.checking = None;
                let published = s.published.as_ref().map(|p| (p.addr, p.at));
                warn!(record = %key, dns = %checked.server, published = ?published.map(|p| p.0),
                      published_at = %published.map_or_else(String::new, |p| crate::date::rfc3339(p.1)),
                      "the record was changed elsewhere (DNS answers another thing than we \
                       published); publishing it again");
                s.drifted = true;
                self.evaluate(i, now);
            }
            (Purpose::Drift, Dns::Visible) => {
                debug!(record = %key, server = %checked.server, "DNS agrees");
                s.checking = None;
            }
            (Purpose::Drift, Dns::Unknown) => {
                info!(record = %key, why = %checked.server,
                      "could not tell what DNS answers; nothing is changed");
                s.checking = None;
            }
        }
        if let (Some(every), None) = (self.timing.verify_interval, &self.slots[i].checking) {
            self.slots[i].drift_at = Some(now + every);
        }
    }
}
