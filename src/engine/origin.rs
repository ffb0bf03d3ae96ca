//! Where one slot's address comes from: which of its sources is in use or asked, the
//! question it waits for, what the sources said in this round, and the selection it
//! came to. State private; the engine asks the questions (`engine::queries` owns
//! them) and hands the answers here. It says once what is worth saying: nothing
//! publishable, a first source that failed, a source's new answer.

use std::net::IpAddr;

use tracing::{debug, info, warn};

use super::told::{Outbox, event, named};
use super::types::{Query, SlotKey};
use crate::notify::Kind;
use crate::once::Said;
use crate::policy::{Selection, Skip, Unavailable};

/// Consecutive answers that each differ from the one before, after which a source's
/// answers are taken as changing at every query: said once, then quiet.
const RESTLESS: u32 = 3;

#[derive(Debug, Default)]
pub(super) struct Origin {
    /// `None` until the first snapshot.
    selection: Option<Selection>,
    /// The unavailability last said (its kind and the addresses involved).
    unavailable: Said<(std::mem::Discriminant<Unavailable>, Vec<IpAddr>)>,
    /// Which of the spec's sources the current selection comes from (or is asked).
    at: usize,
    /// The question whose answer the slot waits for.
    waiting: Option<Query>,
    /// What the sources tried so far in this round said.
    errors: Vec<String>,
    /// The last address a source outside the kernel gave, and who gave it.
    via: Option<(IpAddr, String)>,
    /// Answers in a row that differed from the one before.
    changes: u32,
    restless: Said<()>,
    /// Each failing source (by its place in the spec), said once while it fails the
    /// same way.
    failing: Vec<Said<String>>,
    /// `unavailable` was told for this episode: a publishable address again is
    /// `recovered`.
    unavailable_told: bool,
    /// Events not yet taken by the driver.
    pub(super) events: Outbox,
}

impl Origin {
    pub(super) fn selection(&self) -> Option<&Selection> {
        self.selection.as_ref()
    }

    /// The address selected, if any.
    pub(super) fn addr(&self) -> Option<IpAddr> {
        match self.selection {
            Some(Selection::Addr(a)) => Some(a),
            _ => None,
        }
    }

    /// The interface changed (a reload): what was selected and said no longer holds.
    pub(super) fn forget(&mut self) {
        *self = Origin::default();
    }

    /// A reload: a question asked under the old config is no longer awaited.
    pub(super) fn stop_waiting(&mut self) {
        self.waiting = None;
    }

    /// Source number `at` is tried now (0 starts a round).
    pub(super) fn try_source(&mut self, at: usize) {
        if at == 0 {
            self.errors.clear();
        }
        self.at = at;
    }

    pub(super) fn at(&self) -> usize {
        self.at
    }

    /// Source `at` failed with `why`; the next one is tried.
    pub(super) fn failed(&mut self, why: String) {
        self.errors.push(why);
    }

    /// What every source said, for the unavailability that ends the round.
    pub(super) fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }

    pub(super) fn wait_for(&mut self, q: Query) {
        self.waiting = Some(q);
    }

    pub(super) fn waiting(&self) -> Option<&Query> {
        self.waiting.as_ref()
    }

    /// Takes the wait if it is for `q`.
    pub(super) fn answered(&mut self, q: &Query) -> bool {
        if self.waiting.as_ref() == Some(q) {
            self.waiting = None;
            return true;
        }
        false
    }

    /// `q` answered `addr` (said by `via`): an INFO line when it changes, and when it
    /// changes at every query, one WARN for the episode and quiet until it settles.
    pub(super) fn found(&mut self, key: &SlotKey, q: &Query, addr: IpAddr, via: String) {
        // This source and those after it answer again; those before still fail.
        self.failing.iter_mut().skip(self.at).for_each(|f| {
            f.clear();
        });
        let new = (addr, via);
        if self.via.as_ref() == Some(&new) {
            self.changes = 0;
            self.restless.clear();
            return;
        }
        if self.via.is_some() {
            self.changes += 1;
        }
        if self.changes < RESTLESS {
            info!(record = %key, addr = %addr, via = %new.1, "{q} reports our public address");
        } else if self.restless.first(()) {
            warn!(record = %key, addr = %addr, via = %new.1,
                  "{q} reports another address at every query; further changes are logged \
                   at debug level until it settles");
        } else {
            debug!(record = %key, addr = %addr, via = %new.1, "{q} reports our public address");
        }
        self.via = Some(new);
    }

    /// `q` failed with `what`; `next`: the source tried instead, if any. Said once at
    /// WARN while it fails the same way (so that `-q` still shows it).
    pub(super) fn source_failed(&mut self, key: &SlotKey, what: &str, next: Option<String>) {
        if self.failing.len() <= self.at {
            self.failing.resize_with(self.at + 1, Said::new);
        }
        if !self.failing[self.at].first(what.to_string()) {
            return;
        }
        match next {
            Some(then) => warn!(record = %key, "{what}; trying the next source ({then})"),
            None => warn!(record = %key, "{what}"),
        }
    }

    /// The slot's selection: says once if nothing is publishable, at a level that
    /// matches how unusual it is; again only when the addresses involved change. Tells
    /// `unavailable` once per episode (addresses none of which may be published, every
    /// source refused; not a link down or a wait on duplicate address detection) and
    /// `recovered` when an address is publishable again.
    pub(super) fn settle(&mut self, key: &SlotKey, iface: &str, sel: Selection, wall: u64) {
        let who = named(key);
        match &sel {
            Selection::Unavailable(u) => {
                let waiting = report_unavailable(&mut self.unavailable, key, iface, u);
                // Addresses that may not be published, or sources that all refused: a
                // link down or without an address (a reconnect) is not news.
                let told = matches!(u, Unavailable::OnlySkipped(_) | Unavailable::NoSource(_));
                if told && !waiting && !self.unavailable_told {
                    self.unavailable_told = true;
                    let msg = format!(
                        "{who}: no address can be published ({u}); nothing is sent and the \
                         record keeps its address."
                    );
                    self.events
                        .push_back(event(Kind::Unavailable, key, wall, msg));
                }
            }
            Selection::Addr(a) => {
                self.unavailable.clear();
                if std::mem::take(&mut self.unavailable_told) {
                    let msg = format!("{who} has a publishable address again ({a}).");
                    let mut e = event(Kind::Recovered, key, wall, msg);
                    e.address = a.to_string();
                    self.events.push_back(e);
                }
            }
        }
        self.selection = Some(sel);
    }

    /// Whether an unavailability has been said (and not ended since).
    #[cfg(test)]
    pub(super) fn said_unavailable(&self) -> bool {
        self.unavailable.last().is_some()
    }
}

/// Logs the unavailability once; true if it is only a wait for duplicate address
/// detection (no unavailability at all).
fn report_unavailable(
    said: &mut Said<(std::mem::Discriminant<Unavailable>, Vec<IpAddr>)>,
    key: &SlotKey,
    iface: &str,
    u: &Unavailable,
) -> bool {
    let addrs = match u {
        Unavailable::OnlySkipped(list) => list.iter().map(|(a, _)| *a).collect(),
        _ => Vec::new(),
    };
    let skipped = |pred: fn(Skip) -> bool| match u {
        Unavailable::OnlySkipped(list) => list.iter().any(|(_, why)| pred(*why)),
        _ => false,
    };
    if skipped(|w| w == Skip::Tentative) {
        // A NEWADDR follows when duplicate address detection ends.
        if said.last() != Some(&(std::mem::discriminant(u), addrs)) {
            debug!(record = %key, interface = %iface, reason = %u,
                   "waiting for duplicate address detection");
        }
        return true;
    }
    if !said.first((std::mem::discriminant(u), addrs)) {
        return false;
    }
    let msg = "no publishable address; nothing sent, the record is kept";
    if skipped(|w| matches!(w, Skip::Private | Skip::SharedCgnat | Skip::UniqueLocal)) {
        warn!(record = %key, interface = %iface, reason = %u,
              "{msg} (is this interface behind NAT?)");
    } else {
        info!(record = %key, interface = %iface, reason = %u, "{msg}");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::capture;
    use crate::model::Family;

    fn key() -> SlotKey {
        SlotKey {
            hostname: "home.example.org".into(),
            family: Family::V4,
        }
    }

    fn web() -> Query {
        Query::Web { family: Family::V4 }
    }

    fn count(log: &[String], level: &str) -> usize {
        log.iter().filter(|l| l.starts_with(level)).count()
    }

    #[test]
    fn a_source_that_answers_another_address_every_time_is_said_once_at_warn() {
        let mut o = Origin::default();
        let log = capture(|| {
            for n in 1..=20u8 {
                o.found(
                    &key(),
                    &web(),
                    IpAddr::from([198, 51, 100, n]),
                    "NAT-PMP".into(),
                );
            }
        });
        let said = (count(&log, "INFO"), count(&log, "WARN"));
        assert_eq!(said, (RESTLESS as usize, 1), "{log:#?}");
        // It settles, then starts again: a new episode is said again, once.
        let log = capture(|| {
            o.found(
                &key(),
                &web(),
                IpAddr::from([198, 51, 100, 20]),
                "NAT-PMP".into(),
            );
            for n in 30..=40u8 {
                o.found(
                    &key(),
                    &web(),
                    IpAddr::from([198, 51, 100, n]),
                    "NAT-PMP".into(),
                );
            }
        });
        assert_eq!(count(&log, "WARN"), 1, "{log:#?}");
    }

    #[test]
    fn a_failing_source_is_a_warning_once_per_episode() {
        let mut o = Origin::default();
        let why = "the web echo services over ipv4: HTTP 503";
        let log = capture(|| {
            for _ in 0..5 {
                o.source_failed(&key(), why, None);
            }
        });
        assert_eq!(count(&log, "WARN"), 1, "{log:#?}");
        let log = capture(|| {
            o.found(&key(), &web(), "198.51.100.1".parse().unwrap(), "x".into());
            o.source_failed(&key(), why, None);
        });
        assert_eq!(count(&log, "WARN"), 1, "a new episode: {log:#?}");
    }

    #[test]
    fn an_answer_counts_only_for_the_question_waited_for() {
        let mut o = Origin::default();
        o.wait_for(web());
        let other = Query::Web { family: Family::V6 };
        assert!(!o.answered(&other));
        assert!(o.answered(&web()));
        assert!(!o.answered(&web()), "once");
        o.wait_for(web());
        o.stop_waiting();
        assert!(!o.answered(&web()), "a reload drops the wait");
    }
}
