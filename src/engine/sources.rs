//! Where a slot's address comes from: the interface (the snapshot), or a source outside
//! the kernel (the gateway, web echo services) asked through `Action::Query`. Sources
//! are tried in the record's order; a failure falls through to the next, and only when
//! all fail is the slot unavailable, said once.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use tracing::{debug, info, warn};

use super::Engine;
use super::Mode;
use super::slot::report_availability;
use super::types::{Found, Query};
use crate::model::{Family, Snapshot, Source};
use crate::policy::{self, Selection, Unavailable};

/// A query's course: at most one runs per question; one asked while it runs is asked
/// again when it ends (its answer may predate what prompted the second).
#[derive(Debug, Default)]
pub(super) struct QueryState {
    running: bool,
    again: bool,
}

impl Engine {
    /// Chooses slot `i`'s address from its sources, starting at `from`: the snapshot
    /// answers for the interface; other sources are asked and answer later.
    pub(super) fn choose(&mut self, i: usize, now: Instant, from: usize) {
        let Some(snapshot) = self.snapshot.clone() else {
            return;
        };
        let sources = self.slots[i].spec.sources.clone();
        for (at, source) in sources.iter().enumerate().skip(from) {
            let last = at + 1 == sources.len();
            let s = &mut self.slots[i];
            if at == 0 {
                s.source_errors.clear();
            }
            s.source_at = at;
            match source {
                Source::Interface => {
                    let published = s.published.as_ref().map(|p| p.addr);
                    let spec = &s.spec;
                    let sel = policy::select_with(
                        &snapshot,
                        &spec.interface,
                        spec.key.family,
                        published,
                        spec.suffix,
                    );
                    match sel {
                        Selection::Unavailable(u) if !last => {
                            s.source_errors
                                .push(format!("interface {}: {u}", s.spec.interface));
                            continue;
                        }
                        sel => {
                            self.settle(i, now, sel);
                            return;
                        }
                    }
                }
                Source::Gateway | Source::Web => match query_for(&snapshot, &s.spec, *source) {
                    Ok(q) => {
                        s.waiting = Some(q.clone());
                        self.ask(q);
                        return;
                    }
                    Err(why) => s.source_errors.push(why),
                },
            }
        }
        let reasons = std::mem::take(&mut self.slots[i].source_errors);
        self.settle(
            i,
            now,
            Selection::Unavailable(Unavailable::NoSource(reasons)),
        );
    }

    /// A source answered (or failed) the question `q`.
    pub fn handle_found(&mut self, now: Instant, q: &Query, found: Result<Found, String>) {
        let state = self.queries.entry(q.clone()).or_default();
        state.running = false;
        if std::mem::take(&mut state.again) {
            // Something changed while it ran: its answer may be stale.
            self.ask(q.clone());
            return;
        }
        let interval = match q.source() {
            Source::Gateway => self.timing.gateway_check,
            Source::Web => self.timing.web_check,
            Source::Interface => None,
        };
        if let (Mode::Daemon, Some(every)) = (self.mode, interval) {
            self.checks.insert(q.source(), now + every);
        }
        match &found {
            Ok(f) => debug!(query = %q, addr = %f.addr, via = %f.via, "source answered"),
            Err(e) => debug!(query = %q, error = %e, "source failed"),
        }
        for i in 0..self.slots.len() {
            if self.slots[i].waiting.as_ref() != Some(q) {
                continue;
            }
            self.slots[i].waiting = None;
            let family = self.slots[i].spec.key.family;
            let result = found.clone().and_then(|f| {
                if Family::of(&f.addr) == family {
                    Ok(f)
                } else {
                    Err(format!(
                        "{} answered {}, not an {family} address",
                        f.via, f.addr
                    ))
                }
            });
            match result {
                Ok(f) => {
                    let s = &mut self.slots[i];
                    if s.source_at == 0 {
                        s.fell_through = None;
                    }
                    if s.via.as_ref() != Some(&(f.addr, f.via.clone())) {
                        info!(record = %s.spec.key, addr = %f.addr, via = %f.via,
                              "{} reports our public address", describe(q));
                        s.via = Some((f.addr, f.via));
                    }
                    self.settle(i, now, Selection::Addr(f.addr));
                }
                Err(e) => {
                    let s = &mut self.slots[i];
                    let what = format!("{}: {e}", describe(q));
                    let next = s.source_at + 1;
                    if let Some(then) = s.spec.sources.get(next)
                        && s.fell_through.as_ref() != Some(&what)
                    {
                        // Said once while it stays so, not at every round.
                        warn!(record = %s.spec.key, "{what}; trying the next source ({then})");
                        s.fell_through = Some(what.clone());
                    }
                    s.source_errors.push(what);
                    self.choose(i, now, next);
                }
            }
        }
        self.finish_tickets(now);
    }

    /// A gateway announced that its public address changed (NAT-PMP, PCP ANNOUNCE).
    /// Heard only from a gateway some record asks; it joins the usual debounce.
    pub fn handle_announcement(&mut self, now: Instant, from: Ipv4Addr) {
        let ours = self.snapshot.as_ref().is_some_and(|snap| {
            self.slots.iter().any(|s| {
                s.spec.sources.contains(&Source::Gateway)
                    && snap.gateway_of(&s.spec.interface) == Some(from)
            })
        });
        if !ours {
            debug!(%from, "an announcement from a host that is not our gateway; ignored");
            return;
        }
        debug!(%from, "the gateway announced a change; asking it again");
        match self.mode {
            Mode::Daemon => self.debounce.poke(now),
            Mode::OneShot => self.want_dump(),
        }
    }

    /// The links to listen for gateway announcements on.
    pub fn announcement_links(&self) -> Vec<u32> {
        let Some(snap) = &self.snapshot else {
            return Vec::new();
        };
        let mut links: Vec<u32> = self
            .slots
            .iter()
            .filter(|s| s.spec.sources.contains(&Source::Gateway))
            .filter_map(|s| snap.link_named(&s.spec.interface).map(|l| l.index))
            .collect();
        links.sort_unstable();
        links.dedup();
        links
    }

    /// Whether a question is under way for any of the slots in `keys`.
    pub(super) fn querying(&self) -> bool {
        self.queries.values().any(|q| q.running)
    }

    /// Asks `q`, unless it is already being asked (then once more when that ends).
    fn ask(&mut self, q: Query) {
        let state = self.queries.entry(q.clone()).or_default();
        if state.running {
            state.again = true;
        } else {
            state.running = true;
            self.actions.push_back(super::Action::Query(q));
        }
    }

    /// Slot `i` has its selection: say once if it is unavailable, then decide.
    fn settle(&mut self, i: usize, now: Instant, sel: Selection) {
        let s = &mut self.slots[i];
        report_availability(s, &sel);
        s.selection = Some(sel);
        self.evaluate(i, now);
        self.maybe_drift_check(i, now);
    }
}

/// The question source `source` asks for a slot, from what the snapshot shows.
fn query_for(snap: &Snapshot, spec: &super::SlotSpec, source: Source) -> Result<Query, String> {
    match source {
        Source::Web => Ok(Query::Web {
            family: spec.key.family,
        }),
        Source::Gateway => {
            let iface = &spec.interface;
            let link = snap
                .link_named(iface)
                .ok_or_else(|| format!("gateway: the interface {iface} does not exist"))?;
            if !link.up {
                return Err(format!("gateway: the interface {iface} is down"));
            }
            let gateway = snap
                .gateway_of(iface)
                .ok_or_else(|| format!("gateway: no default route out of {iface}"))?;
            // Our LAN address: any IPv4 address on the interface will do as the source.
            let client = snap
                .addrs_of(link.index)
                .find_map(|a| match a.addr {
                    IpAddr::V4(v4) if !a.flags.tentative => Some(v4),
                    _ => None,
                })
                .ok_or_else(|| format!("gateway: {iface} has no IPv4 address to ask from"))?;
            Ok(Query::Gateway {
                interface: iface.clone(),
                link: link.index,
                gateway,
                client,
            })
        }
        Source::Interface => unreachable!("the interface is read from the snapshot"),
    }
}

fn describe(q: &Query) -> String {
    q.to_string()
}
