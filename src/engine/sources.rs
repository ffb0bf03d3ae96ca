//! Where a slot's address comes from: the interface (the snapshot), or a source outside
//! the kernel (the gateway, web echo services) asked through `Action::Query`. Sources
//! are tried in the record's order; a failure falls through to the next, and only when
//! all fail is the slot unavailable, said once. A failed source is asked again with
//! backoff (`queries`), and at once on the next event.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use tracing::debug;

use super::Engine;
use super::Mode;
use super::queries::Taken;
use super::types::{Action, Found, Query};
use crate::model::{Family, Snapshot, Source};
use crate::policy::{self, Selection, Unavailable};

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
            s.origin.try_source(at);
            match source {
                Source::Interface => {
                    let published = s.publish.published_addr();
                    let spec = &s.spec;
                    let choice = policy::Choice {
                        suffix: spec.suffix,
                        allow_private: spec.allow_private,
                    };
                    let sel = policy::select_with(
                        &snapshot,
                        &spec.interface,
                        spec.key.family,
                        published,
                        &choice,
                    );
                    match sel {
                        Selection::Unavailable(u) if !last => {
                            let why = format!("interface {}: {u}", s.spec.interface);
                            s.origin.failed(why);
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
                        s.origin.wait_for(q.clone());
                        self.ask(q);
                        return;
                    }
                    Err(why) => s.origin.failed(why),
                },
            }
        }
        let reasons = self.slots[i].origin.take_errors();
        self.settle(
            i,
            now,
            Selection::Unavailable(Unavailable::NoSource(reasons)),
        );
    }

    /// A source answered (or failed) the question asked under `ticket`. An answer to
    /// an ask that is no longer current (the config was reloaded since, or the
    /// question was asked again) is dropped.
    pub fn handle_found(&mut self, now: Instant, ticket: u64, found: Result<Found, String>) {
        let q = match self.queries.take(ticket) {
            Taken::Stale => {
                debug!(ticket, "an answer to a question no longer asked; dropped");
                return;
            }
            Taken::Again(ticket, q) => {
                // Something changed while it ran: its answer may be stale.
                self.actions.push_back(Action::Query { ticket, query: q });
                return;
            }
            Taken::Fresh(q) => q,
        };
        let every = match (self.mode, q.source()) {
            (Mode::Daemon, Source::Gateway) => self.timing.gateway_check,
            (Mode::Daemon, Source::Web) => self.timing.web_check,
            _ => None,
        };
        match &found {
            Ok(f) => {
                debug!(query = %q, addr = %f.addr, via = %f.via, "source answered");
                if self.mode == Mode::Daemon {
                    self.queries.succeeded(now, &q, every);
                }
            }
            Err(e) if self.mode == Mode::Daemon => {
                let backoff = &mut self.backoff;
                let wait = self
                    .queries
                    .failed(now, &q, every, |n| backoff.delay(n, Duration::ZERO));
                debug!(query = %q, error = %e, retry_in = ?wait, "source failed");
            }
            Err(e) => debug!(query = %q, error = %e, "source failed"),
        }
        for i in 0..self.slots.len() {
            if !self.slots[i].origin.answered(&q) {
                continue;
            }
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
            let s = &mut self.slots[i];
            match result {
                Ok(f) => {
                    s.origin.found(&s.spec.key, &q, f.addr, f.via);
                    self.settle(i, now, Selection::Addr(f.addr));
                }
                Err(e) => {
                    let what = format!("{q}: {e}");
                    let next = s.origin.at() + 1;
                    let then = s.spec.sources.get(next).map(|t| t.to_string());
                    s.origin.source_failed(&s.spec.key, &what, then);
                    s.origin.failed(what);
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

    /// Asks `q`, unless it is already being asked (then once more when that ends).
    fn ask(&mut self, q: Query) {
        if let Some(ticket) = self.queries.ask(&q) {
            self.actions.push_back(Action::Query { ticket, query: q });
        }
    }

    /// Slot `i` has its selection: said once if it is unavailable; then decide, and
    /// check DNS if that is due.
    fn settle(&mut self, i: usize, now: Instant, sel: Selection) {
        let wall = self.wall_at(now);
        let s = &mut self.slots[i];
        s.origin.settle(&s.spec.key, &s.spec.interface, sel, wall);
        self.evaluate(i, now);
        self.maybe_drift_check(i, now);
    }
}

/// The question source `source` asks for a slot, from what the snapshot shows
/// (`dynhost explain` asks the same).
pub fn query_for(snap: &Snapshot, spec: &super::SlotSpec, source: Source) -> Result<Query, String> {
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
