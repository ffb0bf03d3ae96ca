//! The questions to sources outside the kernel (gateway, web echo), for all slots: at
//! most one runs per question, each asked under a ticket so that an answer is taken
//! only for the ask that is current (a reload or a newer ask makes older answers
//! stale); when each source is asked again without an event: after a failure with
//! backoff, otherwise at its safety-net interval. State private; driven with `now`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::types::Query;
use crate::model::Source;

#[derive(Debug, Default)]
struct Course {
    /// The ticket of the ask under way.
    running: Option<u64>,
    /// Asked again while it ran: its answer may predate what prompted the second.
    again: bool,
    /// Failures in a row, for the retry's backoff.
    failures: u32,
}

/// What became of an answer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Taken {
    /// Not the current ask of any question (a reload, or an older ask): dropped.
    Stale,
    /// The question was asked again while it ran: this answer is dropped and the
    /// question is out again under this ticket.
    Again(u64, Query),
    /// The answer to `Query`, to apply.
    Fresh(Query),
}

#[derive(Debug, Default)]
pub(super) struct Queries {
    next_ticket: u64,
    courses: HashMap<Query, Course>,
    /// Tickets out: their question, and whether the ask is still current (false once
    /// a reload made it belong to the old config).
    out: HashMap<u64, (Query, bool)>,
    /// When each source is asked again without an event.
    checks: HashMap<Source, Instant>,
}

impl Queries {
    /// Asks `q`: the ticket to send it under, or `None` if it runs already (then it is
    /// asked once more when that ends).
    pub(super) fn ask(&mut self, q: &Query) -> Option<u64> {
        let course = self.courses.entry(q.clone()).or_default();
        if course.running.is_some() {
            course.again = true;
            return None;
        }
        self.next_ticket += 1;
        course.running = Some(self.next_ticket);
        self.out.insert(self.next_ticket, (q.clone(), true));
        Some(self.next_ticket)
    }

    /// An answer arrived under `ticket`.
    pub(super) fn take(&mut self, ticket: u64) -> Taken {
        let Some((q, current)) = self.out.remove(&ticket) else {
            return Taken::Stale;
        };
        let course = self.courses.entry(q.clone()).or_default();
        if course.running != Some(ticket) {
            return Taken::Stale;
        }
        course.running = None;
        if std::mem::take(&mut course.again) {
            let t = self.ask(&q).expect("not running");
            return Taken::Again(t, q);
        }
        if !current {
            return Taken::Stale;
        }
        Taken::Fresh(q)
    }

    /// `q` answered: its source is asked again at `every` (the safety net; `None`: off).
    pub(super) fn succeeded(&mut self, now: Instant, q: &Query, every: Option<Duration>) {
        self.courses.entry(q.clone()).or_default().failures = 0;
        self.checks.remove(&q.source());
        if let Some(every) = every {
            self.checks.insert(q.source(), now + every);
        }
    }

    /// `q` failed: its source is asked again after `delay(failures in a row)`, but no
    /// later than the safety net. Returns the wait.
    pub(super) fn failed(
        &mut self,
        now: Instant,
        q: &Query,
        every: Option<Duration>,
        delay: impl FnOnce(u32) -> Duration,
    ) -> Duration {
        let course = self.courses.entry(q.clone()).or_default();
        course.failures += 1;
        let mut wait = delay(course.failures);
        if let Some(every) = every {
            wait = wait.min(every);
        }
        let at = now + wait;
        let t = self.checks.entry(q.source()).or_insert(at);
        *t = (*t).min(at);
        wait
    }

    /// A reload: asks under way belong to the old config and their answers are
    /// dropped. They still count as running, so that a flood of reloads does not
    /// become a flood of questions: one asked meanwhile goes out when they end.
    /// Failures are forgotten (the config may have fixed them).
    pub(super) fn reset(&mut self) {
        for (_, current) in self.out.values_mut() {
            *current = false;
        }
        for course in self.courses.values_mut() {
            course.failures = 0;
        }
    }

    /// Whether any ask is under way.
    pub(super) fn running(&self) -> bool {
        !self.out.is_empty()
    }

    /// When some source is asked again.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.checks.values().copied().min()
    }

    /// Whether some source's time has come by `now` (a dump asks them all again).
    pub(super) fn due(&mut self, now: Instant) -> bool {
        let before = self.checks.len();
        self.checks.retain(|_, t| *t > now);
        self.checks.len() < before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Family;

    const S: Duration = Duration::from_secs(1);

    fn web() -> Query {
        Query::Web { family: Family::V4 }
    }

    #[test]
    fn an_answer_is_taken_only_under_the_current_ticket() {
        let mut q = Queries::default();
        let t1 = q.ask(&web()).unwrap();
        assert_eq!(q.ask(&web()), None, "one at a time");
        let Taken::Again(t2, _) = q.take(t1) else {
            panic!("asked again while it ran")
        };
        assert_eq!(q.take(t1), Taken::Stale, "an older ask");
        assert_eq!(q.take(t2), Taken::Fresh(web()));
        assert!(!q.running());
    }

    #[test]
    fn after_a_reload_an_answer_to_an_earlier_ask_is_stale() {
        let mut q = Queries::default();
        let t1 = q.ask(&web()).unwrap();
        q.reset();
        assert_eq!(q.take(t1), Taken::Stale, "nobody asked since");
        let t2 = q.ask(&web()).unwrap();
        q.reset();
        q.reset();
        assert_eq!(q.ask(&web()), None, "reloads do not multiply the questions");
        let Taken::Again(t3, _) = q.take(t2) else {
            panic!("asked again under the new config")
        };
        assert_eq!(q.take(t3), Taken::Fresh(web()));
    }

    #[test]
    fn a_failed_source_is_asked_again_with_backoff_capped_by_its_safety_net() {
        let t0 = Instant::now();
        let mut q = Queries::default();
        let hour = Some(3600 * S);
        let double = |n: u32| 30 * S * 2u32.pow(n - 1);
        let mut waits = Vec::new();
        for _ in 0..9 {
            waits.push(q.failed(t0, &web(), hour, double).as_secs());
            assert!(q.due(t0 + 3600 * S));
        }
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        q.succeeded(t0, &web(), hour);
        assert_eq!(q.deadline(), Some(t0 + 3600 * S));
        assert_eq!(q.failed(t0, &web(), hour, double), 30 * S, "success resets");
    }
}
