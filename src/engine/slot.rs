//! One slot (a record and a family): its spec and its three parts, each with its own
//! state and deadline: where the address comes from ([`Origin`]), what was published
//! and what is owed to the provider ([`Publish`]), what DNS says ([`DnsWatch`]). Here:
//! what it restores from the state file, and how it reports.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::dns::DnsWatch;
use super::origin::Origin;
use super::publish::Publish;
use super::types::{HOUR, Memory, Mode, Pending, SlotMemory, SlotReport, SlotSpec, Timing};

#[derive(Debug)]
pub(super) struct Slot {
    pub(super) spec: SlotSpec,
    pub(super) origin: Origin,
    pub(super) publish: Publish,
    pub(super) dns: DnsWatch,
    /// Whether this run works on the slot: always in the daemon; in a one-shot run,
    /// only once a request names it (the others are neither sent nor reported).
    pub(super) active: bool,
    /// The state file held stamps in the future, corrected here: write them back even
    /// if this run does not otherwise work on the slot.
    pub(super) corrected: bool,
}

impl Slot {
    /// A slot as the state file left it. Stamps in the future (the clock ran ahead,
    /// then NTP set it back: routers without an RTC do this at every boot) are
    /// corrected to now, and a wait longer than any this version would set is cut to
    /// the longest it would; `corrected` says so, and the correction is persisted.
    pub(super) fn restore(
        mode: Mode,
        timing: &Timing,
        spec: SlotSpec,
        memory: &Memory,
        now: Instant,
        wall: u64,
    ) -> Slot {
        let mut m = memory.get(&spec.key).cloned().unwrap_or_default();
        let mut corrected = false;
        let mut clamp = |t: &mut u64| {
            if *t > wall {
                *t = wall;
                corrected = true;
            }
        };
        m.sends.iter_mut().for_each(&mut clamp);
        m.blocked_since.iter_mut().for_each(&mut clamp);
        m.published.iter_mut().for_each(|p| clamp(&mut p.at));
        m.last_reply.iter_mut().for_each(|r| clamp(&mut r.at));
        // Sends of the last hour count against the budget again.
        let mut recent: Vec<u64> = m
            .sends
            .iter()
            .copied()
            .filter(|&t| wall - t < HOUR.as_secs())
            .collect();
        recent.sort_unstable();
        let keep = recent.len().min(timing.max_per_hour as usize);
        let sends: VecDeque<_> = recent[recent.len() - keep..]
            .iter()
            .map(|&t| {
                let age = Duration::from_secs(wall - t);
                (now.checked_sub(age).unwrap_or(now), t)
            })
            .collect();
        let mut wait = None;
        if let Some(at) = m.retry_at.filter(|at| *at > wall) {
            let cap = timing.longest_wait();
            let mut secs = Duration::from_secs(at - wall);
            if secs > cap {
                secs = cap;
                corrected = true;
            }
            wait = Some((
                now.checked_add(secs).unwrap_or(now),
                wall.saturating_add(secs.as_secs()),
            ));
        }
        // A restart of the daemon lifts a block; a one-shot run keeps it unless the
        // record's config changed since.
        let blocked = match (mode, m.blocked_since, spec.config_changed_at) {
            (Mode::OneShot, Some(since), Some(changed)) if since >= changed => Some(since),
            _ => None,
        };
        Slot {
            publish: Publish::restore(&m, sends, wait, blocked),
            dns: DnsWatch::restore(m.dns.clone(), mode == Mode::Daemon),
            origin: Origin::default(),
            spec,
            active: mode == Mode::Daemon,
            corrected,
        }
    }

    /// The earliest of its parts' deadlines.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.publish
            .deadline()
            .into_iter()
            .chain(self.dns.deadline())
            .min()
    }

    /// Whether an answer is awaited for it (a query, a send, or a send waiting room).
    pub(super) fn busy(&self) -> bool {
        self.publish.queued() || self.origin.waiting().is_some() || self.publish.in_flight()
    }

    /// The selected address, when the slot stands at its published address with
    /// nothing owed: what a drift check compares DNS with.
    pub(super) fn standing(&self) -> Option<std::net::IpAddr> {
        let addr = self.origin.addr()?;
        (self.publish.idle() && self.publish.published_addr() == Some(addr)).then_some(addr)
    }

    pub(super) fn memory(&self) -> SlotMemory {
        let (retry_at, blocked_since, sends) = self.publish.memory();
        SlotMemory {
            dns: self.dns.seen().cloned(),
            published: self.publish.published().cloned(),
            last_reply: self.publish.last_reply().cloned(),
            retry_at,
            blocked_since,
            sends,
            pending: self
                .publish
                .pending()
                .map(|(addr, at)| Pending { addr, at }),
        }
    }

    pub(super) fn report(&self, now: Instant) -> SlotReport {
        SlotReport {
            key: self.spec.key.clone(),
            result: self.publish.result(now, self.origin.selection()),
            last_reply: self.publish.last_reply().map(|r| r.detail.clone()),
        }
    }
}
