//! What was published and what is owed to the provider, for one slot: the send under
//! way, the retry wait after a failure, the hourly budget and its throttle, a block.
//! State private; driven with `now` by the engine, which turns its answers into
//! actions. Its deadline: the end of a retry wait or of a throttle.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use super::backoff::Backoff;
use super::told::{Outbox, event, named};
use super::types::{HOUR, LastReply, Published, SlotKey, SlotMemory, SlotResult, THROTTLE_SPACING};
use crate::notify::Kind;
use crate::once::Said;
use crate::policy::Selection;
use crate::provider::reply::{Class, Outcome, Reply, Transport};

/// Unrecognised answers in a row (HTML, garbage, empty) before a slot stops retrying.
pub const MAX_UNRECOGNISED: u32 = 8;
/// Failed attempts in a row after which a transient failure is told (`failed`).
pub(super) const FAILED_AFTER: u32 = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    InFlight(IpAddr),
    Waiting {
        until: Instant,
        wall_until: u64,
    },
    /// Over the hourly budget: the next send waits (in memory only, not a failure).
    Throttled {
        until: Instant,
        wall_until: u64,
        addr: IpAddr,
    },
    Blocked {
        since: u64,
    },
}

/// What the decision came to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// Nothing to do (unchanged, waiting, blocked, under way).
    Nothing,
    /// Back at the published address: a wait or throttle ended (persist it).
    Settled,
    /// Over the hourly budget until then.
    Throttled,
    /// Ready, but no room among the requests under way.
    Queued,
    /// Send this address now.
    Send(IpAddr),
}

/// What an answer from the provider came to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Answered {
    /// Not the answer awaited (a reload, a force): ignored.
    Stale,
    /// Published (`real`: not a dry run).
    Published { real: bool },
    /// Failed for now; retried after the wait.
    Retry,
    /// Refused; `record`: the refusal concerns the record, so its other family too.
    Blocked { record: bool },
}

#[derive(Debug)]
pub(super) struct Publish {
    published: Option<Published>,
    last_reply: Option<LastReply>,
    phase: Phase,
    attempts: u32,
    force: bool,
    /// When the recent sends went out, and their Unix time (at most `max_per_hour`).
    sends: VecDeque<(Instant, u64)>,
    /// Unrecognised answers in a row.
    unrecognised: u32,
    /// The last attempt failed on the certificate's dates: retried when the clock is set.
    clock_wrong: bool,
    /// Ready to send, waiting for room among the requests under way.
    queued: bool,
    throttle: Said<()>,
    /// `failed` was told for this episode: the next success is `recovered`.
    failing_told: bool,
    /// Events not yet taken by the driver.
    pub(super) events: Outbox,
}

impl Publish {
    /// From the state file (stamps already corrected): the published address, the last
    /// answer, the sends of the last hour and a retry wait or block.
    pub(super) fn restore(
        m: &SlotMemory,
        sends: VecDeque<(Instant, u64)>,
        wait: Option<(Instant, u64)>,
        blocked: Option<u64>,
    ) -> Publish {
        let phase = match (blocked, wait) {
            (Some(since), _) => Phase::Blocked { since },
            (None, Some((until, wall_until))) => Phase::Waiting { until, wall_until },
            (None, None) => Phase::Idle,
        };
        Publish {
            published: m.published.clone(),
            last_reply: m.last_reply.clone(),
            phase,
            attempts: 0,
            force: false,
            sends,
            unrecognised: 0,
            clock_wrong: false,
            queued: false,
            throttle: Said::new(),
            failing_told: false,
            events: Outbox::new(),
        }
    }

    pub(super) fn published(&self) -> Option<&Published> {
        self.published.as_ref()
    }

    pub(super) fn published_addr(&self) -> Option<IpAddr> {
        self.published.as_ref().map(|p| p.addr)
    }

    pub(super) fn last_reply(&self) -> Option<&LastReply> {
        self.last_reply.as_ref()
    }

    /// A newer address held back by the hourly budget, and the Unix time it goes at:
    /// for the state file, so that `status` says it.
    pub(super) fn pending(&self) -> Option<(IpAddr, u64)> {
        match self.phase {
            Phase::Throttled {
                addr, wall_until, ..
            } => Some((addr, wall_until)),
            _ => None,
        }
    }

    /// What the state file keeps: (retry at, blocked since, send times).
    pub(super) fn memory(&self) -> (Option<u64>, Option<u64>, Vec<u64>) {
        let (retry_at, blocked_since) = match self.phase {
            Phase::Waiting { wall_until, .. } => (Some(wall_until), None),
            Phase::Blocked { since } => (None, Some(since)),
            _ => (None, None),
        };
        let sends = self.sends.iter().map(|&(_, wall)| wall).collect();
        (retry_at, blocked_since, sends)
    }

    /// When a wait or a throttle ends.
    pub(super) fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Waiting { until, .. } | Phase::Throttled { until, .. } => Some(until),
            _ => None,
        }
    }

    /// A wait or throttle that ended by `now` is lifted; true if so.
    pub(super) fn expire(&mut self, now: Instant) -> bool {
        if self.deadline().is_some_and(|t| t <= now) {
            self.phase = Phase::Idle;
            return true;
        }
        false
    }

    pub(super) fn in_flight(&self) -> bool {
        matches!(self.phase, Phase::InFlight(_))
    }

    pub(super) fn idle(&self) -> bool {
        self.phase == Phase::Idle
    }

    pub(super) fn blocked(&self) -> bool {
        matches!(self.phase, Phase::Blocked { .. })
    }

    pub(super) fn queued(&self) -> bool {
        self.queued
    }

    /// `--force`: send even if unchanged, and now even if waiting or blocked.
    pub(super) fn force(&mut self) {
        self.force = true;
        if matches!(
            self.phase,
            Phase::Waiting { .. } | Phase::Throttled { .. } | Phase::Blocked { .. }
        ) {
            self.phase = Phase::Idle;
        }
    }

    /// A force whose round found nothing to send must not linger.
    pub(super) fn drop_force(&mut self) {
        self.force = false;
    }

    /// A reload lifts a block; true if there was one.
    pub(super) fn unblock(&mut self) -> bool {
        if self.blocked() {
            self.phase = Phase::Idle;
            self.attempts = 0;
            return true;
        }
        false
    }

    /// The other family of a refused record: blocked too, unless a send is out.
    pub(super) fn block_with_sibling(&mut self, wall: u64) {
        if !self.blocked() && !self.in_flight() {
            self.phase = Phase::Blocked { since: wall };
        }
    }

    /// The clock was set: a wait caused by the certificate's dates ends; true if so.
    pub(super) fn clock_set(&mut self) -> bool {
        if self.clock_wrong && matches!(self.phase, Phase::Waiting { .. }) {
            self.phase = Phase::Idle;
            self.clock_wrong = false;
            return true;
        }
        false
    }

    /// Whether `addr` must be sent now. `drifted`: DNS showed the record changed
    /// elsewhere, so even the published address is sent; `room`: fewer requests under
    /// way than the limit.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn decide(
        &mut self,
        now: Instant,
        wall: u64,
        key: &SlotKey,
        addr: IpAddr,
        drifted: bool,
        max_per_hour: u32,
        room: bool,
    ) -> Decision {
        match self.phase {
            Phase::InFlight(_) | Phase::Blocked { .. } => return Decision::Nothing,
            // A throttle is re-derived below from the send times, so that going back
            // to the published address ends it; a retry wait (911 floor) is not.
            Phase::Waiting { until, .. } if until > now => return Decision::Nothing,
            Phase::Waiting { .. } | Phase::Throttled { .. } | Phase::Idle => {}
        }
        let unchanged = self.published_addr() == Some(addr) && !drifted;
        if unchanged && !self.force {
            // Back at the published address after a told failure: nothing is owed.
            if std::mem::take(&mut self.failing_told) {
                let who = named(key);
                let msg = format!("{who} is back at its published address {addr}.");
                let mut e = event(Kind::Recovered, key, wall, msg);
                e.address = addr.to_string();
                self.events.push_back(e);
            }
            if matches!(self.phase, Phase::Waiting { .. } | Phase::Throttled { .. }) {
                self.phase = Phase::Idle;
                self.attempts = 0;
                self.throttle.clear();
                return Decision::Settled;
            }
            return Decision::Nothing;
        }
        let max = max_per_hour as usize;
        while self
            .sends
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= HOUR)
        {
            self.sends.pop_front();
        }
        if !self.force
            && self.sends.len() >= max
            && let Some(until) = self.sends.back().map(|(t, _)| *t + THROTTLE_SPACING)
            && until > now
        {
            if self.throttle.first(()) {
                warn!(record = %key, addr = %addr, limit = max_per_hour,
                      wait = %crate::duration::format(round_secs(until - now)),
                      "the address keeps changing: throttling this record to one update \
                       per 5 minutes");
            }
            let wall_until = wall.saturating_add((until - now).as_secs());
            self.phase = Phase::Throttled {
                until,
                wall_until,
                addr,
            };
            return Decision::Throttled;
        }
        // A router with many names: never more than a few requests at once, however
        // many records one change concerns. The rest go as answers come back.
        if !room {
            self.queued = true;
            return Decision::Queued;
        }
        self.queued = false;
        self.force = false;
        self.throttle.clear();
        self.phase = Phase::InFlight(addr);
        self.sends.push_back((now, wall));
        if self.sends.len() > max {
            self.sends.pop_front();
        }
        Decision::Send(addr)
    }

    /// Takes the queued mark (the engine evaluates the slot again).
    pub(super) fn take_queued(&mut self) -> bool {
        std::mem::take(&mut self.queued)
    }

    /// The provider's answer to the send of `addr`. Logs the operator message.
    pub(super) fn answer(
        &mut self,
        now: Instant,
        wall: u64,
        key: &SlotKey,
        addr: IpAddr,
        outcome: &Outcome,
        backoff: &mut Backoff,
    ) -> Answered {
        if self.phase != Phase::InFlight(addr) {
            return Answered::Stale;
        }
        let who = named(key);
        self.last_reply = Some(LastReply {
            token: outcome.token(),
            detail: outcome.to_string(),
            at: wall,
        });
        let echo = match outcome {
            Outcome::Reply(Reply::Good(Some(e)) | Reply::NoChange(Some(e))) if *e != addr => {
                Some(*e)
            }
            _ => None,
        };
        let unrecognised = matches!(
            outcome,
            Outcome::Reply(Reply::Unparseable { .. } | Reply::Empty { .. })
        );
        self.unrecognised = if unrecognised {
            self.unrecognised + 1
        } else {
            0
        };
        self.clock_wrong = matches!(outcome, Outcome::Transport(Transport::ClockWrong(_)));
        let class = match outcome.class() {
            // The provider says it holds another address: that is what is published,
            // and the one we sent is not. Retry it, within the budget.
            Class::Published if echo.is_some() => Class::Transient {
                floor: Duration::ZERO,
            },
            // Answers that never make sense stop being retried (a captive portal, a
            // wrong endpoint): bounded, like every retry.
            Class::Transient { .. } if self.unrecognised >= MAX_UNRECOGNISED => Class::Fatal,
            class => class,
        };
        match class {
            Class::Published => {
                let real = *outcome != Outcome::DryRun;
                if real {
                    info!(record = %key, addr = %addr, reply = %outcome, "published");
                    self.tell_published(wall, key, addr, outcome);
                }
                self.published = Some(Published { addr, at: wall });
                self.phase = Phase::Idle;
                self.attempts = 0;
                Answered::Published { real }
            }
            Class::Transient { floor } => {
                if let Some(echo) = echo {
                    warn!(record = %key, sent = %addr, echoed = %echo,
                          "the provider echoed another address than the one sent: it holds \
                           that one; the update is retried");
                    if crate::policy::classify(&echo).is_ok() {
                        self.published = Some(Published {
                            addr: echo,
                            at: wall,
                        });
                    }
                }
                self.attempts += 1;
                let delay = backoff.delay(self.attempts, floor);
                warn!(record = %key, addr = %addr, reply = %outcome, attempt = self.attempts,
                      retry_in = %crate::duration::format(whole_ms(delay)),
                      "update failed; will retry");
                self.phase = Phase::Waiting {
                    until: now + delay,
                    wall_until: wall.saturating_add(delay.as_secs()),
                };
                if self.attempts >= FAILED_AFTER && !self.failing_told {
                    self.failing_told = true;
                    let msg = format!(
                        "{who} could not be published after {} attempts ({outcome}); \
                         dynhost keeps retrying (next in {}).",
                        self.attempts,
                        crate::duration::format(round_secs(delay))
                    );
                    let mut e = event(Kind::Failed, key, wall, msg);
                    e.address = addr.to_string();
                    e.reply = outcome.to_string();
                    self.events.push_back(e);
                }
                Answered::Retry
            }
            Class::Fatal => {
                let hint = if unrecognised {
                    "the provider keeps answering what dynhost does not understand: check \
                     provider.url"
                } else {
                    outcome.hint().unwrap_or("check the record's settings")
                };
                error!(record = %key, addr = %addr, reply = %outcome, hint,
                       "update refused; this record is blocked until the config is reloaded");
                self.phase = Phase::Blocked { since: wall };
                let msg = format!(
                    "{who} was refused ({outcome}): {hint}; dynhost sends nothing more for \
                     it until the config is reloaded."
                );
                let mut e = event(Kind::Blocked, key, wall, msg);
                e.address = addr.to_string();
                e.reply = outcome.to_string();
                self.events.push_back(e);
                Answered::Blocked {
                    record: outcome.concerns_record(),
                }
            }
        }
    }

    /// `published` for a new address the provider took (`good`), with the one it
    /// replaces; `recovered` too if `failed` was told.
    fn tell_published(&mut self, wall: u64, key: &SlotKey, addr: IpAddr, outcome: &Outcome) {
        let who = named(key);
        let previous = self.published_addr().filter(|p| *p != addr);
        if matches!(outcome, Outcome::Reply(Reply::Good(_))) {
            let msg = match previous {
                Some(p) => format!("{who} now points to {addr} (was {p})."),
                None => format!("{who} now points to {addr}."),
            };
            let mut e = event(Kind::Published, key, wall, msg);
            e.address = addr.to_string();
            e.previous = previous.map(|p| p.to_string()).unwrap_or_default();
            e.reply = outcome.to_string();
            self.events.push_back(e);
        }
        if std::mem::take(&mut self.failing_told) {
            let msg = format!("{who} is published again ({addr}, {outcome}).");
            let mut e = event(Kind::Recovered, key, wall, msg);
            e.address = addr.to_string();
            e.reply = outcome.to_string();
            self.events.push_back(e);
        }
    }

    /// Where the slot stands, given what its sources selected.
    pub(super) fn result(&self, now: Instant, selection: Option<&Selection>) -> SlotResult {
        let reply = || {
            self.last_reply
                .as_ref()
                .map_or_else(String::new, |r| r.detail.clone())
        };
        match (&self.phase, selection) {
            (Phase::Blocked { .. }, _) => SlotResult::Blocked { reply: reply() },
            (Phase::Waiting { until, .. }, Some(Selection::Addr(a)))
                if self.published_addr() != Some(*a) =>
            {
                SlotResult::Retrying {
                    reply: reply(),
                    in_secs: until.saturating_duration_since(now).as_secs(),
                }
            }
            (Phase::Throttled { until, .. }, Some(Selection::Addr(_))) => SlotResult::Retrying {
                reply: "throttled: the address changed too often in the last hour".into(),
                in_secs: until.saturating_duration_since(now).as_secs(),
            },
            (Phase::InFlight(_), _) | (_, None) => SlotResult::Pending,
            (_, Some(Selection::Unavailable(u))) => SlotResult::Unavailable(u.to_string()),
            (_, Some(Selection::Addr(a))) => {
                if self.published_addr() == Some(*a) {
                    SlotResult::UpToDate(*a)
                } else {
                    SlotResult::Pending
                }
            }
        }
    }
}

pub(super) fn round_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

/// A delay as logged: to the millisecond (a 2 s retry less jitter is not "1s").
fn whole_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Family;

    const S: Duration = Duration::from_secs(1);

    fn key() -> SlotKey {
        SlotKey {
            hostname: "home.example.org".into(),
            family: Family::V4,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn fresh() -> Publish {
        Publish::restore(&SlotMemory::default(), VecDeque::new(), None, None)
    }

    #[test]
    fn sends_a_new_address_once_then_holds_it_until_the_answer() {
        let t0 = Instant::now();
        let mut p = fresh();
        let a = ip("192.0.2.1");
        assert_eq!(
            p.decide(t0, 0, &key(), a, false, 5, true),
            Decision::Send(a)
        );
        assert!(p.in_flight());
        assert_eq!(
            p.decide(t0, 0, &key(), a, false, 5, true),
            Decision::Nothing
        );
        let mut b = Backoff::new(30 * S, 3600 * S, 1);
        let good = Outcome::Reply(Reply::Good(None));
        assert_eq!(
            p.answer(t0, 0, &key(), ip("192.0.2.9"), &good, &mut b),
            Answered::Stale
        );
        assert_eq!(
            p.answer(t0, 0, &key(), a, &good, &mut b),
            Answered::Published { real: true }
        );
        assert_eq!(p.published_addr(), Some(a));
        assert_eq!(
            p.decide(t0, 0, &key(), a, false, 5, true),
            Decision::Nothing
        );
        assert_eq!(p.deadline(), None);
    }

    #[test]
    fn a_failure_waits_its_backoff_and_its_deadline_says_when() {
        let t0 = Instant::now();
        let mut p = fresh();
        let a = ip("192.0.2.1");
        p.decide(t0, 0, &key(), a, false, 5, true);
        let mut b = Backoff::new(30 * S, 3600 * S, 1);
        let fail = Outcome::Reply(Reply::Status(503));
        assert_eq!(p.answer(t0, 0, &key(), a, &fail, &mut b), Answered::Retry);
        let until = p.deadline().unwrap();
        assert!(until > t0 + 23 * S && until <= t0 + 30 * S);
        assert_eq!(
            p.decide(t0 + S, 1, &key(), a, false, 5, true),
            Decision::Nothing
        );
        assert!(!p.expire(until - S));
        assert!(p.expire(until));
        assert_eq!(
            p.decide(until, 30, &key(), a, false, 5, true),
            Decision::Send(a)
        );
    }

    #[test]
    fn over_the_budget_a_new_address_is_throttled_and_reported_as_pending() {
        let t0 = Instant::now();
        let mut p = fresh();
        let mut b = Backoff::new(30 * S, 3600 * S, 1);
        let good = Outcome::Reply(Reply::Good(None));
        for n in 1..=2u8 {
            let a = IpAddr::from([192, 0, 2, n]);
            assert_eq!(
                p.decide(t0, 0, &key(), a, false, 2, true),
                Decision::Send(a)
            );
            p.answer(t0, 0, &key(), a, &good, &mut b);
        }
        let newer = ip("192.0.2.3");
        assert_eq!(
            p.decide(t0, 0, &key(), newer, false, 2, true),
            Decision::Throttled
        );
        assert_eq!(p.deadline(), Some(t0 + THROTTLE_SPACING));
        let sel = Selection::Addr(newer);
        assert!(matches!(
            p.result(t0 + 60 * S, Some(&sel)),
            SlotResult::Retrying { in_secs: 240, .. }
        ));
        assert_eq!(
            p.pending(),
            Some((newer, 300)),
            "the state file says what waits"
        );
        // Back at the published address, the throttle ends.
        let back = ip("192.0.2.2");
        assert_eq!(
            p.decide(t0, 0, &key(), back, false, 2, true),
            Decision::Settled
        );
        assert_eq!(p.deadline(), None);
    }

    #[test]
    fn without_room_a_send_is_queued() {
        let t0 = Instant::now();
        let mut p = fresh();
        let a = ip("192.0.2.1");
        assert_eq!(
            p.decide(t0, 0, &key(), a, false, 5, false),
            Decision::Queued
        );
        assert!(p.take_queued());
        assert!(!p.queued());
    }
}
