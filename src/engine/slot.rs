//! One slot (a record and a family): where it stands, what it restores from the state
//! file, how it reports, and the one message it gives when it has nothing to publish.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::types::{HOUR, LastReply, Memory, Published, SlotReport, SlotResult, SlotSpec};
use super::{Engine, Mode};
use crate::policy::{Selection, Skip, Unavailable};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Idle,
    InFlight(IpAddr),
    Waiting {
        until: Instant,
        wall_until: u64,
    },
    /// Over the hourly budget: the next send waits (in memory only, not a failure).
    Throttled {
        until: Instant,
    },
    Blocked {
        since: u64,
    },
}

#[derive(Debug)]
pub(super) struct Slot {
    pub(super) spec: SlotSpec,
    pub(super) published: Option<Published>,
    pub(super) last_reply: Option<LastReply>,
    pub(super) phase: Phase,
    pub(super) attempts: u32,
    pub(super) force: bool,
    /// `None` until the first snapshot.
    pub(super) selection: Option<Selection>,
    /// The unavailability last reported, so that it is said once.
    pub(super) reported: Option<Unavailable>,
    /// When the recent sends went out, and their Unix time (at most `max_per_hour` kept).
    pub(super) sends: VecDeque<(Instant, u64)>,
    /// Whether this run works on the slot: always in the daemon; in a one-shot run,
    /// only once a request names it (the others are neither sent nor reported).
    pub(super) active: bool,
    /// The state file held stamps in the future, corrected here: write them back even
    /// if this run does not otherwise work on the slot.
    pub(super) corrected: bool,
    /// Unrecognised answers in a row.
    pub(super) unrecognised: u32,
    /// The last attempt failed on the certificate's dates: retried when the clock is set.
    pub(super) clock_wrong: bool,
    /// Ready to send, waiting for room among the requests under way.
    pub(super) queued: bool,
    /// Which of the spec's sources the current selection comes from (or is asked).
    pub(super) source_at: usize,
    /// The question whose answer the slot waits for.
    pub(super) waiting: Option<crate::engine::Query>,
    /// What the sources tried so far in this round said.
    pub(super) source_errors: Vec<String>,
    /// The last address a source outside the kernel gave, and who gave it.
    pub(super) via: Option<(IpAddr, String)>,
    /// The failure of a first source that was said (the next one used instead).
    pub(super) fell_through: Option<String>,
    /// A DNS check under way or waiting, and the last one's result.
    pub(super) checking: Option<super::verify::Checking>,
    pub(super) dns: Option<crate::engine::DnsSeen>,
    /// DNS showed the record changed elsewhere: the published address is sent again.
    pub(super) drifted: bool,
    /// Check DNS once the slot stands at its published address (start, reload,
    /// reconnect), and when (the periodic check).
    pub(super) drift_due: bool,
    pub(super) drift_at: Option<Instant>,
    /// The followed link as the last snapshot showed it (index, up), to see a reconnect,
    /// and whether it went down (or away) since.
    pub(super) link_seen: Option<(u32, bool)>,
    pub(super) bounced: bool,
}

impl Engine {
    /// A slot as the state file left it. Stamps in the future (the clock ran ahead,
    /// then NTP set it back: routers without an RTC do this at every boot) are
    /// corrected to now, and a wait longer than any this version would set is cut to
    /// the longest it would; `corrected` says so, and the correction is persisted.
    pub(super) fn restore(&self, spec: SlotSpec, memory: &Memory, now: Instant, wall: u64) -> Slot {
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
        let keep = recent.len().min(self.timing.max_per_hour as usize);
        let sends = recent[recent.len() - keep..]
            .iter()
            .map(|&t| {
                let age = Duration::from_secs(wall - t);
                (now.checked_sub(age).unwrap_or(now), t)
            })
            .collect();
        let mut phase = Phase::Idle;
        if let Some(at) = m.retry_at.filter(|at| *at > wall) {
            let cap = self.timing.longest_wait();
            let mut wait = Duration::from_secs(at - wall);
            if wait > cap {
                wait = cap;
                corrected = true;
            }
            phase = Phase::Waiting {
                until: now.checked_add(wait).unwrap_or(now),
                wall_until: wall.saturating_add(wait.as_secs()),
            };
        }
        // A restart of the daemon lifts a block; a one-shot run keeps it unless the
        // record's config changed since.
        if let (Mode::OneShot, Some(since), Some(changed)) =
            (self.mode, m.blocked_since, spec.config_changed_at)
            && since >= changed
        {
            phase = Phase::Blocked { since };
        }
        Slot {
            spec,
            published: m.published,
            last_reply: m.last_reply,
            phase,
            attempts: 0,
            force: false,
            selection: None,
            reported: None,
            sends,
            active: self.mode == Mode::Daemon,
            corrected,
            unrecognised: 0,
            clock_wrong: false,
            queued: false,
            source_at: 0,
            waiting: None,
            source_errors: Vec::new(),
            via: None,
            fell_through: None,
            checking: None,
            dns: m.dns,
            drifted: false,
            drift_due: self.mode == Mode::Daemon,
            drift_at: None,
            link_seen: None,
            bounced: false,
        }
    }
}

impl Slot {
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

    pub(super) fn report(&self, now: Instant) -> SlotReport {
        let s = self;
        let reply = || {
            s.last_reply
                .as_ref()
                .map_or_else(String::new, |r| r.detail.clone())
        };
        let result = match (&s.phase, &s.selection) {
            (Phase::Blocked { .. }, _) => SlotResult::Blocked { reply: reply() },
            (Phase::Waiting { until, .. }, Some(Selection::Addr(a)))
                if s.published.as_ref().is_none_or(|p| p.addr != *a) =>
            {
                let in_secs = until.saturating_duration_since(now).as_secs();
                SlotResult::Retrying {
                    reply: reply(),
                    in_secs,
                }
            }
            (Phase::Throttled { until }, Some(Selection::Addr(_))) => SlotResult::Retrying {
                reply: "throttled: the address changed too often in the last hour".into(),
                in_secs: until.saturating_duration_since(now).as_secs(),
            },
            (Phase::InFlight(_), _) | (_, None) => SlotResult::Pending,
            (_, Some(Selection::Unavailable(u))) => SlotResult::Unavailable(u.to_string()),
            (_, Some(Selection::Addr(a))) => {
                if s.published.as_ref().is_some_and(|p| p.addr == *a) {
                    SlotResult::UpToDate(*a)
                } else {
                    SlotResult::Pending
                }
            }
        };
        SlotReport {
            key: s.spec.key.clone(),
            result,
            last_reply: s.last_reply.as_ref().map(|r| r.detail.clone()),
        }
    }
}

/// Says once that a slot has nothing to publish, at a level that matches how unusual
/// it is. Repeats only when the addresses involved change, not their flags.
pub(super) fn report_availability(s: &mut Slot, sel: &Selection) {
    let u = match sel {
        Selection::Addr(_) => {
            s.reported = None;
            return;
        }
        Selection::Unavailable(u) => u,
    };
    let addrs = |u: &Unavailable| match u {
        Unavailable::OnlySkipped(list) => list.iter().map(|(a, _)| *a).collect(),
        _ => Vec::new(),
    };
    if let Some(prev) = &s.reported
        && std::mem::discriminant(prev) == std::mem::discriminant(u)
        && addrs(prev) == addrs(u)
    {
        return;
    }
    let (key, iface) = (&s.spec.key, &s.spec.interface);
    let msg = "no publishable address; nothing sent, the record is kept";
    let skipped = |pred: fn(Skip) -> bool| match u {
        Unavailable::OnlySkipped(list) => list.iter().any(|(_, why)| pred(*why)),
        _ => false,
    };
    if skipped(|w| w == Skip::Tentative) {
        // A NEWADDR follows when duplicate address detection ends.
        debug!(record = %key, interface = %iface, reason = %u, "waiting for duplicate address detection");
        return;
    }
    if skipped(|w| matches!(w, Skip::Private | Skip::SharedCgnat | Skip::UniqueLocal)) {
        warn!(record = %key, interface = %iface, reason = %u,
              "{msg} (is this interface behind NAT?)");
    } else {
        info!(record = %key, interface = %iface, reason = %u, "{msg}");
    }
    s.reported = Some(u.clone());
}

pub(super) fn round_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}
