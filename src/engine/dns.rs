//! What DNS says about one slot: the check under way after an update (until the
//! address is visible), the drift check (at start, reload, reconnect and periodically:
//! was the record changed elsewhere?), and the link as last seen, to notice a
//! reconnect. State private; driven with `now`. Its deadline: the next question.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::told::{Outbox, event, named};
use super::types::{Checked, Dns, DnsSeen, Published, Purpose, SlotKey};
use crate::notify::Kind;
use crate::once::Said;

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
/// The first check after an update: within a second.
pub(super) const FIRST_CHECK: Duration = Duration::from_secs(1);

/// A check under way (or waiting for its time).
#[derive(Debug)]
struct Checking {
    purpose: Purpose,
    expected: IpAddr,
    /// When the update (or the drift check) began.
    started: Instant,
    attempt: usize,
    /// When to ask next; `None` while a question is out.
    next: Option<Instant>,
    warned: Said<()>,
}

/// What an answer came to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Not the answer awaited: ignored.
    Stale,
    /// Recorded (persist it).
    Seen,
    /// The record was changed elsewhere: publish again.
    Drifted,
}

#[derive(Debug, Default)]
pub(super) struct DnsWatch {
    checking: Option<Checking>,
    /// The last check's result, kept in the state file.
    seen: Option<DnsSeen>,
    /// DNS showed the record changed elsewhere: the published address is sent again.
    drifted: bool,
    /// Check once the slot stands at its published address (start, reload, reconnect).
    drift_due: bool,
    /// The periodic drift check.
    drift_at: Option<Instant>,
    /// The followed link as the last snapshot showed it (index, up), and whether it
    /// went down (or away) since.
    link_seen: Option<(u32, bool)>,
    bounced: bool,
    /// Events not yet taken by the driver.
    pub(super) events: Outbox,
}

impl DnsWatch {
    /// `seen`: from the state file; `drift_due`: check at start (the daemon).
    pub(super) fn restore(seen: Option<DnsSeen>, drift_due: bool) -> DnsWatch {
        DnsWatch {
            seen,
            drift_due,
            ..DnsWatch::default()
        }
    }

    pub(super) fn seen(&self) -> Option<&DnsSeen> {
        self.seen.as_ref()
    }

    pub(super) fn drifted(&self) -> bool {
        self.drifted
    }

    /// When the next question is due.
    pub(super) fn deadline(&self) -> Option<Instant> {
        let next = self.checking.as_ref().and_then(|c| c.next);
        next.into_iter().chain(self.drift_at).min()
    }

    /// Whether a drift check is under way (asked or about to be).
    pub(super) fn checking_drift(&self) -> bool {
        self.checking
            .as_ref()
            .is_some_and(|c| c.purpose == Purpose::Drift)
    }

    /// Check (again) once the slot stands at its published address.
    pub(super) fn want_drift_check(&mut self) {
        self.drift_due = true;
    }

    /// An update goes out: its own check follows its answer, no drift check.
    pub(super) fn sending(&mut self) {
        self.drifted = false;
        self.drift_due = false;
    }

    /// Checks whether `expected` is visible, the first question after `wait`.
    pub(super) fn start(
        &mut self,
        now: Instant,
        purpose: Purpose,
        expected: IpAddr,
        wait: Duration,
    ) {
        self.checking = Some(Checking {
            purpose,
            expected,
            started: now,
            attempt: 0,
            next: Some(now + wait),
            warned: Said::new(),
        });
    }

    /// The periodic drift check came due: a drift check is wanted.
    pub(super) fn drift_timer(&mut self, now: Instant) -> bool {
        if self.drift_at.is_some_and(|t| t <= now) {
            self.drift_at = None;
            self.drift_due = true;
            return true;
        }
        false
    }

    /// If a drift check is due and the slot stands at its published address
    /// (`standing`), starts it now.
    pub(super) fn maybe_drift(&mut self, now: Instant, standing: Option<IpAddr>) {
        if !self.drift_due || self.checking.is_some() {
            return;
        }
        if let Some(addr) = standing {
            self.drift_due = false;
            self.start(now, Purpose::Drift, addr, Duration::ZERO);
        }
    }

    /// The question to ask now, if its time has come: (expected, purpose).
    pub(super) fn ask(&mut self, now: Instant) -> Option<(IpAddr, Purpose)> {
        let c = self.checking.as_mut()?;
        if c.next.is_some_and(|t| t <= now) {
            c.next = None;
            return Some((c.expected, c.purpose));
        }
        None
    }

    /// The followed link as a snapshot shows it (index, up; `None`: absent). Back up,
    /// or new (a PPP reconnect): DNS is checked again.
    pub(super) fn link(&mut self, now_seen: Option<(u32, bool)>) {
        if let (Some(before), Some((_, true))) = (self.link_seen, now_seen)
            && (!before.1 || Some(before) != now_seen || self.bounced)
        {
            self.drift_due = true;
        }
        if matches!(now_seen, Some((_, true))) {
            self.bounced = false;
        }
        self.link_seen = Some(now_seen.unwrap_or((0, false)));
    }

    /// The link went down or away (an event the debounce may fold into its return).
    pub(super) fn bounce(&mut self) {
        self.bounced = true;
    }

    /// What the servers answered. `interval`: the periodic drift check, if any.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn checked(
        &mut self,
        now: Instant,
        wall: u64,
        key: &SlotKey,
        expected: IpAddr,
        purpose: Purpose,
        checked: &Checked,
        published: Option<&Published>,
        interval: Option<Duration>,
    ) -> Verdict {
        let Some(c) = self.checking.as_mut() else {
            return Verdict::Stale;
        };
        if c.expected != expected || c.purpose != purpose || c.next.is_some() {
            debug!(record = %key, "a DNS answer no longer awaited; ignored");
            return Verdict::Stale;
        }
        let elapsed = now.saturating_duration_since(c.started);
        let who = named(key);
        let seen_addr = match checked.dns {
            Dns::Visible => Some(expected),
            Dns::Differs(a) => Some(a),
            Dns::Missing | Dns::Unknown => None,
        };
        let visible = checked.dns == Dns::Visible;
        let after_ms =
            (visible && purpose == Purpose::AfterUpdate).then_some(elapsed.as_millis() as u64);
        self.seen = Some(DnsSeen {
            addr: seen_addr,
            visible,
            at: wall,
            server: checked.server.clone(),
            after_ms: after_ms.or_else(|| self.seen.as_ref().and_then(|d| d.after_ms)),
        });
        let mut verdict = Verdict::Seen;
        match (purpose, &checked.dns) {
            (Purpose::AfterUpdate, Dns::Visible) => {
                info!(record = %key, addr = %expected, after_ms = elapsed.as_millis() as u64,
                      server = %checked.server, "visible in DNS");
                self.checking = None;
                let msg = format!(
                    "{who}: the authoritative servers answer {expected}, {} after the update.",
                    crate::duration::format(Duration::from_secs(elapsed.as_secs()))
                );
                tell(
                    &mut self.events,
                    Kind::Visible,
                    key,
                    wall,
                    msg,
                    expected,
                    None,
                    checked,
                );
            }
            (Purpose::AfterUpdate, _) => {
                debug!(record = %key, dns = ?checked.dns, server = %checked.server,
                       "not visible in DNS yet");
                if elapsed >= WARN_AFTER && c.warned.first(()) {
                    let after = crate::duration::format(Duration::from_secs(elapsed.as_secs()));
                    warn!(record = %key, addr = %expected, server = %checked.server,
                          "not visible in DNS {after} after the update; nothing is sent again \
                           for it (a new DynHost can take up to a day to appear)");
                    let msg = format!(
                        "{who}: published {expected} {after} ago, and the authoritative servers \
                         still do not answer it (a new DynHost can take up to a day)."
                    );
                    let shown = seen_addr.filter(|a| *a != expected);
                    tell(
                        &mut self.events,
                        Kind::NotVisible,
                        key,
                        wall,
                        msg,
                        expected,
                        shown,
                        checked,
                    );
                }
                c.attempt += 1;
                if elapsed >= GIVE_UP_AFTER {
                    debug!(record = %key, "not visible after a day; stopped asking");
                    self.checking = None;
                } else {
                    let wait = SCHEDULE[c.attempt.min(SCHEDULE.len() - 1)];
                    c.next = Some(now + wait);
                }
            }
            (Purpose::Drift, Dns::Differs(_) | Dns::Missing) => {
                self.checking = None;
                let published = published.map(|p| (p.addr, p.at));
                warn!(record = %key, dns = %checked.server, published = ?published.map(|p| p.0),
                      published_at = %published.map_or_else(String::new, |p| crate::date::rfc3339(p.1)),
                      "the record was changed elsewhere (DNS answers another thing than we \
                       published); publishing it again");
                self.drifted = true;
                verdict = Verdict::Drifted;
                let msg = format!(
                    "{who} was changed elsewhere (DNS answers {}); dynhost puts back {expected}.",
                    seen_addr.map_or_else(|| "no address".to_string(), |a| a.to_string())
                );
                tell(
                    &mut self.events,
                    Kind::Drift,
                    key,
                    wall,
                    msg,
                    expected,
                    seen_addr,
                    checked,
                );
            }
            (Purpose::Drift, Dns::Visible) => {
                debug!(record = %key, server = %checked.server, "DNS agrees");
                self.checking = None;
            }
            (Purpose::Drift, Dns::Unknown) => {
                info!(record = %key, why = %checked.server,
                      "could not tell what DNS answers; nothing is changed");
                self.checking = None;
            }
        }
        if let (Some(every), None) = (interval, &self.checking) {
            self.drift_at = Some(now + every);
        }
        verdict
    }
}

/// A DNS event: `address` is what was published, `previous` what DNS showed instead,
/// `dns` what the servers answered.
#[allow(clippy::too_many_arguments)]
fn tell(
    events: &mut Outbox,
    kind: Kind,
    key: &SlotKey,
    wall: u64,
    message: String,
    address: IpAddr,
    previous: Option<IpAddr>,
    checked: &Checked,
) {
    let mut e = event(kind, key, wall, message);
    e.address = address.to_string();
    e.previous = previous.map(|a| a.to_string()).unwrap_or_default();
    e.dns = checked.server.clone();
    events.push_back(e);
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

    fn answer(dns: Dns) -> Checked {
        Checked {
            dns,
            server: "ns1".into(),
        }
    }

    #[test]
    fn after_an_update_it_asks_on_its_schedule_until_visible() {
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let mut w = DnsWatch::default();
        w.start(t0, Purpose::AfterUpdate, a, FIRST_CHECK);
        assert_eq!(w.deadline(), Some(t0 + S));
        assert_eq!(w.ask(t0), None);
        assert_eq!(w.ask(t0 + S), Some((a, Purpose::AfterUpdate)));
        assert_eq!(w.deadline(), None, "no timer while the question is out");
        let v = w.checked(
            t0 + S,
            1,
            &key(),
            a,
            Purpose::AfterUpdate,
            &answer(Dns::Missing),
            None,
            None,
        );
        assert_eq!(v, Verdict::Seen);
        assert_eq!(w.deadline(), Some(t0 + 6 * S));
        w.ask(t0 + 6 * S);
        w.checked(
            t0 + 6 * S,
            6,
            &key(),
            a,
            Purpose::AfterUpdate,
            &answer(Dns::Visible),
            None,
            None,
        );
        assert_eq!(w.deadline(), None);
        assert!(w.seen().unwrap().visible);
    }

    #[test]
    fn a_reconnect_makes_a_drift_check_due_and_a_different_answer_is_drift() {
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let mut w = DnsWatch::default();
        w.link(Some((5, true)));
        w.maybe_drift(t0, Some(a));
        assert_eq!(w.deadline(), None, "nothing due yet");
        w.bounce();
        w.link(Some((5, true)));
        w.maybe_drift(t0, Some(a));
        assert_eq!(w.ask(t0), Some((a, Purpose::Drift)));
        let other = answer(Dns::Differs("198.51.100.1".parse().unwrap()));
        let v = w.checked(
            t0,
            0,
            &key(),
            a,
            Purpose::Drift,
            &other,
            None,
            Some(3600 * S),
        );
        assert_eq!(v, Verdict::Drifted);
        assert!(w.drifted());
        assert_eq!(w.deadline(), Some(t0 + 3600 * S), "the periodic check");
    }
}
