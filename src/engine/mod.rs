//! The decision core: which record to update, when, and what to do with the answer.
//!
//! Sans-I/O in the manner of quinn-proto: inputs arrive through `handle_*(now, ..)`,
//! the driver collects work with `poll_action()` and sleeps until `poll_timeout()`.
//! The engine never reads a clock, never sleeps and never touches a socket or a file,
//! so every scenario can be replayed with made-up instants.

mod backoff;
mod debounce;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::{debug, error, info, warn};

pub use backoff::Backoff;
pub use debounce::Debouncer;

use crate::model::{Family, NetEvent, Snapshot};
use crate::policy::{self, Selection, Skip, Unavailable};
use crate::reply::{Class, Outcome, Reply};

/// The identity of a slot: one hostname, one family. Stable across reloads.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotKey {
    pub hostname: String,
    pub family: Family,
}

impl fmt::Display for SlotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.hostname, self.family)
    }
}

/// What the engine needs to know about one record and family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotSpec {
    pub key: SlotKey,
    /// Which config record it belongs to: slots of one record share a login and a host.
    pub record: usize,
    pub interface: String,
    /// Unix time of the last change to this record's config (file mtimes). A block
    /// persisted before it is stale. `None`: unknown, blocks are not carried over.
    pub config_changed_at: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub debounce: Duration,
    pub debounce_max: Duration,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// Sends per slot in any hour before the slot is throttled.
    pub max_per_hour: u32,
}

/// Once a slot has sent `max_per_hour` times within an hour, it sends at most this
/// often: a link that flaps with a new address every few seconds must not turn into a
/// request every few seconds.
pub const THROTTLE_SPACING: Duration = Duration::from_secs(300);
const HOUR: Duration = Duration::from_secs(3600);

/// The daemon debounces events and forgets blocks at start; a one-shot run works on
/// the snapshot it is given and honours a block persisted under the same config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Daemon,
    OneShot,
}

/// What the last confirmed update was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub addr: IpAddr,
    /// Unix seconds.
    pub at: u64,
}

/// The last answer, whatever it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastReply {
    /// A short token: good, nochg, badauth, http-503...
    pub token: String,
    /// A human sentence, bounded and sanitised.
    pub detail: String,
    pub at: u64,
}

/// The persisted view of every slot.
pub type Memory = BTreeMap<SlotKey, SlotMemory>;

/// What survives a restart, per slot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotMemory {
    pub published: Option<Published>,
    pub last_reply: Option<LastReply>,
    /// Unix seconds before which no retry may be sent.
    pub retry_at: Option<u64>,
    /// Unix seconds since when the slot is blocked by a fatal answer.
    pub blocked_since: Option<u64>,
    /// Unix seconds of the sends of the last hour, oldest first: the hourly budget
    /// holds across restarts and one-shot runs.
    pub sends: Vec<u64>,
}

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
    },
    Blocked {
        since: u64,
    },
}

#[derive(Debug)]
struct Slot {
    spec: SlotSpec,
    published: Option<Published>,
    last_reply: Option<LastReply>,
    phase: Phase,
    attempts: u32,
    force: bool,
    /// `None` until the first snapshot.
    selection: Option<Selection>,
    /// The unavailability last reported, so that it is said once.
    reported: Option<Unavailable>,
    /// When the recent sends went out, and their Unix time (at most `max_per_hour` kept).
    sends: VecDeque<(Instant, u64)>,
}

/// Work for the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read all links and addresses, then call `handle_snapshot` (or `handle_dump_failed`).
    Dump,
    /// Send one update, then call `handle_outcome` with the same key and address.
    Send { key: SlotKey, addr: IpAddr },
    /// The persistent view changed: write `memory()` out.
    Persist,
    /// A trigger's round is complete.
    Report {
        ticket: u64,
        results: Vec<SlotReport>,
    },
}

/// Where one slot stands, for `update` and for `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotReport {
    pub key: SlotKey,
    pub result: SlotResult,
    /// The last answer for this slot, whenever it came.
    pub last_reply: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotResult {
    /// The provider has this address.
    UpToDate(IpAddr),
    /// Nothing publishable: nothing sent.
    Unavailable(String),
    /// The last attempt failed; the next one waits.
    Retrying { reply: String, in_secs: u64 },
    /// A fatal answer: nothing is sent until the config changes.
    Blocked { reply: String },
    /// No snapshot has been seen yet, or a send is under way.
    Pending,
}

impl SlotResult {
    /// Whether this counts as a failure to publish for `update`'s exit code.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            SlotResult::Retrying { .. } | SlotResult::Blocked { .. }
        )
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum TriggerError {
    /// No enabled slot on this interface (empty: any) with this family (`None`: any).
    NoRecordFollows(String, Option<Family>),
}

impl fmt::Display for TriggerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TriggerError::NoRecordFollows(i, family) => {
                f.write_str("no enabled record")?;
                if !i.is_empty() {
                    write!(f, " follows interface {i:?}")?;
                }
                if let Some(family) = family {
                    write!(f, " with {family}")?;
                }
                Ok(())
            }
        }
    }
}

/// A request to look again now (a hook, an operator).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trigger {
    /// Only records following this interface; all when `None`.
    pub interface: Option<String>,
    /// Only this family (a hook that reports an IPv4 address); both when `None`.
    pub family: Option<Family>,
    /// Send even if the address is unchanged, waiting or blocked.
    pub force: bool,
    /// Ask for a `Report` once the round is done.
    pub ticket: Option<u64>,
}

#[derive(Debug)]
struct Ticket {
    id: u64,
    slots: Vec<SlotKey>,
    /// The round is done once a dump numbered above this one has been applied.
    after_dump: u64,
    /// `--force`: once this round is settled, a force it could not use is dropped.
    forced: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum DumpPhase {
    Idle,
    Wanted,
    Running { again: bool },
}

pub struct Engine {
    mode: Mode,
    timing: Timing,
    slots: Vec<Slot>,
    /// ifindex -> name, to tell events on followed interfaces from the rest.
    links: HashMap<u32, String>,
    /// Followed interface -> the families its records publish.
    watched: HashMap<String, Vec<Family>>,
    debounce: Debouncer,
    dump: DumpPhase,
    dumps_started: u64,
    dumps_applied: u64,
    dump_failures: u32,
    dump_retry_at: Option<Instant>,
    backoff: Backoff,
    tickets: Vec<Ticket>,
    actions: VecDeque<Action>,
    persist_pending: bool,
    /// A recent (monotonic, Unix) pair, to stamp sends with wall time.
    clock: (Instant, u64),
}

const DUMP_RETRY_MAX: Duration = Duration::from_secs(60);

impl Engine {
    /// `memory` is what was persisted (looked up by key); `wall` is the current Unix time.
    pub fn new(
        mode: Mode,
        timing: Timing,
        specs: Vec<SlotSpec>,
        memory: &Memory,
        now: Instant,
        wall: u64,
        seed: u64,
    ) -> Engine {
        let mut e = Engine {
            mode,
            timing,
            slots: Vec::new(),
            links: HashMap::new(),
            watched: HashMap::new(),
            debounce: Debouncer::new(timing.debounce, timing.debounce_max),
            dump: DumpPhase::Wanted,
            dumps_started: 0,
            dumps_applied: 0,
            dump_failures: 0,
            dump_retry_at: None,
            backoff: Backoff::new(timing.retry_initial, timing.retry_max, seed),
            tickets: Vec::new(),
            actions: VecDeque::new(),
            persist_pending: false,
            clock: (now, wall),
        };
        e.slots = specs
            .into_iter()
            .map(|spec| e.restore(spec, memory, now, wall))
            .collect();
        e.rebuild_watched();
        match mode {
            // A one-shot run dumps when asked (not at all with `--ip`).
            Mode::OneShot => e.dump = DumpPhase::Idle,
            // Blocks from before the restart are lifted: say so in the file too.
            Mode::Daemon => e.persist_pending = true,
        }
        e
    }

    fn restore(&self, spec: SlotSpec, memory: &Memory, now: Instant, wall: u64) -> Slot {
        let m = memory.get(&spec.key).cloned().unwrap_or_default();
        // Sends of the last hour count against the budget again. A stamp in the future
        // (the clock went back) counts as now: the safe side.
        let mut recent: Vec<u64> = m
            .sends
            .iter()
            .copied()
            .filter(|&t| wall.saturating_sub(t) < HOUR.as_secs())
            .collect();
        recent.sort_unstable();
        let keep = recent.len().min(self.timing.max_per_hour as usize);
        let sends = recent[recent.len() - keep..]
            .iter()
            .map(|&t| {
                let age = Duration::from_secs(wall.saturating_sub(t));
                (now.checked_sub(age).unwrap_or(now), t)
            })
            .collect();
        let mut phase = Phase::Idle;
        if let Some(at) = m.retry_at.filter(|at| *at > wall) {
            // No wait longer than any this version would set: a clock that booted
            // behind (no RTC) or a damaged file must not freeze the record.
            let cap = self
                .timing
                .retry_max
                .max(crate::reply::PROVIDER_TROUBLE_FLOOR);
            let wait = Duration::from_secs(at - wall).min(cap);
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
        }
    }

    /// Applies a new config (SIGHUP): slots that remain keep what they know, including
    /// a running backoff; blocks are lifted; a dump is taken at once. Slots new to this
    /// process (a record added, enabled, or given a family) start from `memory`, the
    /// state file, as at start-up.
    pub fn reconfigure(
        &mut self,
        timing: Timing,
        specs: Vec<SlotSpec>,
        memory: &Memory,
        now: Instant,
        wall: u64,
    ) {
        self.timing = timing;
        let mut old: HashMap<SlotKey, Slot> = self
            .slots
            .drain(..)
            .map(|s| (s.spec.key.clone(), s))
            .collect();
        self.slots = specs
            .into_iter()
            .map(|spec| match old.remove(&spec.key) {
                Some(mut s) => {
                    if matches!(s.phase, Phase::Blocked { .. }) {
                        info!(record = %s.spec.key, "config reloaded: the record is unblocked");
                        s.phase = Phase::Idle;
                        s.attempts = 0;
                    }
                    if s.spec.interface != spec.interface {
                        s.selection = None;
                        s.reported = None;
                    }
                    s.spec = spec;
                    s
                }
                None => self.restore(spec, memory, now, wall),
            })
            .collect();
        self.debounce = Debouncer::new(timing.debounce, timing.debounce_max);
        self.backoff = self
            .backoff
            .with_limits(timing.retry_initial, timing.retry_max);
        self.rebuild_watched();
        self.want_dump();
        self.mark_persist();
    }

    fn rebuild_watched(&mut self) {
        self.watched.clear();
        for s in &self.slots {
            let families = self.watched.entry(s.spec.interface.clone()).or_default();
            if !families.contains(&s.spec.key.family) {
                families.push(s.spec.key.family);
            }
        }
    }

    // ---- inputs -------------------------------------------------------------------

    /// A netlink notification. Only those about followed interfaces (or unknown ones,
    /// to be safe), and for addresses only of a family they publish, start the
    /// debounce; the rest cost a hash lookup.
    pub fn handle_net(&mut self, now: Instant, event: NetEvent) {
        let relevant = match event {
            NetEvent::Link {
                index,
                name,
                removed,
            } => {
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
            NetEvent::Resync => true,
        };
        if relevant && self.mode == Mode::Daemon {
            self.debounce.poke(now);
        }
    }

    /// A hook or an operator asks for a round. Joins the same debounce as netlink.
    pub fn handle_trigger(&mut self, now: Instant, trigger: Trigger) -> Result<(), TriggerError> {
        let slots: Vec<SlotKey> = self
            .slots
            .iter()
            .filter(|s| {
                trigger
                    .interface
                    .as_ref()
                    .is_none_or(|i| *i == s.spec.interface)
            })
            .filter(|s| trigger.family.is_none_or(|f| f == s.spec.key.family))
            .map(|s| s.spec.key.clone())
            .collect();
        if slots.is_empty() {
            return Err(TriggerError::NoRecordFollows(
                trigger.interface.unwrap_or_default(),
                trigger.family,
            ));
        }
        if trigger.force {
            for s in self
                .slots
                .iter_mut()
                .filter(|s| slots.contains(&s.spec.key))
            {
                s.force();
            }
        }
        if let Some(id) = trigger.ticket {
            self.tickets.push(Ticket {
                id,
                slots,
                after_dump: self.dumps_started,
                forced: trigger.force,
            });
        }
        match self.mode {
            Mode::Daemon => self.debounce.poke(now),
            Mode::OneShot => self.want_dump(),
        }
        Ok(())
    }

    /// Replaces what the interface says with an address given by the caller (`update
    /// --ip`, one-shot), for the slots of its family on `interface` (all when `None`).
    pub fn handle_override(
        &mut self,
        now: Instant,
        interface: Option<&str>,
        addr: IpAddr,
        force: bool,
    ) {
        let family = Family::of(&addr);
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            if s.spec.key.family == family && interface.is_none_or(|n| n == s.spec.interface) {
                if force {
                    s.force();
                }
                s.selection = Some(Selection::Addr(addr));
                self.evaluate(i, now);
            }
        }
        self.finish_tickets(now);
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
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            let published = s.published.as_ref().map(|p| p.addr);
            let sel = policy::select(snapshot, &s.spec.interface, s.spec.key.family, published);
            report_availability(s, &sel);
            s.selection = Some(sel);
            self.evaluate(i, now);
        }
        self.finish_tickets(now);
    }

    pub fn handle_dump_failed(&mut self, now: Instant, error: &str) {
        self.dump_failures += 1;
        let delay = Duration::from_secs(1 << self.dump_failures.min(6)).min(DUMP_RETRY_MAX);
        warn!(error, retry_in = ?delay, "reading interfaces from the kernel failed");
        self.dump = DumpPhase::Idle;
        self.dump_retry_at = Some(now + delay);
    }

    /// The answer to a `Send`. `wall` is the current Unix time, for the record.
    pub fn handle_outcome(
        &mut self,
        now: Instant,
        wall: u64,
        key: &SlotKey,
        addr: IpAddr,
        outcome: Outcome,
    ) {
        self.clock = (now, wall);
        let Some(i) = self.slots.iter().position(|s| s.spec.key == *key) else {
            debug!(record = %key, "answer for a record no longer configured; ignored");
            return;
        };
        let s = &mut self.slots[i];
        if s.phase != Phase::InFlight(addr) {
            debug!(record = %key, "answer for an update no longer awaited; ignored");
            return;
        }
        s.last_reply = Some(LastReply {
            token: outcome.token(),
            detail: outcome.to_string(),
            at: wall,
        });
        match outcome.class() {
            Class::Published => {
                if let Outcome::Reply(Reply::Good(Some(echo)) | Reply::NoChange(Some(echo))) =
                    &outcome
                    && *echo != addr
                {
                    warn!(record = %key, sent = %addr, echoed = %echo,
                          "the provider echoed another address than the one sent");
                }
                if outcome != Outcome::DryRun {
                    info!(record = %key, addr = %addr, reply = %outcome, "published");
                }
                s.published = Some(Published { addr, at: wall });
                s.phase = Phase::Idle;
                s.attempts = 0;
            }
            Class::Transient { floor } => {
                s.attempts += 1;
                let delay = self.backoff.delay(s.attempts, floor);
                warn!(record = %key, addr = %addr, reply = %outcome, attempt = s.attempts,
                      retry_in = %crate::duration::format(round_secs(delay)),
                      "update failed; will retry");
                s.phase = Phase::Waiting {
                    until: now + delay,
                    wall_until: wall.saturating_add(delay.as_secs()),
                };
            }
            Class::Fatal => {
                let hint = outcome.hint().unwrap_or("check the record's settings");
                error!(record = %key, addr = %addr, reply = %outcome, hint,
                       "update refused; this record is blocked until the config is reloaded");
                s.phase = Phase::Blocked { since: wall };
                if outcome.concerns_record() {
                    // The other family shares the login and the host: spare the provider
                    // a request that can only get the same answer.
                    let record = s.spec.record;
                    for other in self.slots.iter_mut().filter(|o| {
                        o.spec.record == record && !matches!(o.phase, Phase::Blocked { .. })
                    }) {
                        if !matches!(other.phase, Phase::InFlight(_)) {
                            other.phase = Phase::Blocked { since: wall };
                        }
                    }
                }
            }
        }
        self.mark_persist();
        // The address may have moved on while the request was out.
        self.evaluate(i, now);
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
        for i in 0..self.slots.len() {
            if let Phase::Waiting { until, .. } | Phase::Throttled { until } = self.slots[i].phase
                && until <= now
            {
                self.slots[i].phase = Phase::Idle;
                self.evaluate(i, now);
            }
        }
        self.finish_tickets(now);
    }

    // ---- outputs ------------------------------------------------------------------

    pub fn poll_action(&mut self) -> Option<Action> {
        if let Some(a) = self.actions.pop_front() {
            return Some(a);
        }
        if self.dump == DumpPhase::Wanted {
            self.dump = DumpPhase::Running { again: false };
            self.dumps_started += 1;
            return Some(Action::Dump);
        }
        if self.persist_pending {
            self.persist_pending = false;
            return Some(Action::Persist);
        }
        None
    }

    /// The next instant at which `handle_timeout` has work; `None` means sleep until an
    /// input arrives (no wake-ups while nothing changes).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let waits = self.slots.iter().filter_map(|s| match s.phase {
            Phase::Waiting { until, .. } | Phase::Throttled { until } => Some(until),
            _ => None,
        });
        waits
            .chain(self.debounce.deadline())
            .chain(self.dump_retry_at)
            .min()
    }

    /// The persistent view, for the state file.
    pub fn memory(&self) -> Vec<(SlotKey, SlotMemory)> {
        self.slots
            .iter()
            .map(|s| {
                let (retry_at, blocked_since) = match s.phase {
                    Phase::Waiting { wall_until, .. } => (Some(wall_until), None),
                    Phase::Blocked { since } => (None, Some(since)),
                    _ => (None, None),
                };
                let m = SlotMemory {
                    published: s.published.clone(),
                    last_reply: s.last_reply.clone(),
                    retry_at,
                    blocked_since,
                    sends: s.sends.iter().map(|&(_, wall)| wall).collect(),
                };
                (s.spec.key.clone(), m)
            })
            .collect()
    }

    /// Where every slot stands now.
    pub fn report(&self, now: Instant) -> Vec<SlotReport> {
        self.slots.iter().map(|s| s.report(now)).collect()
    }

    /// Whether anything is still under way (a dump or a send). A one-shot run stops when
    /// this is false and no action is left.
    pub fn busy(&self) -> bool {
        self.dump != DumpPhase::Idle
            || self
                .slots
                .iter()
                .any(|s| matches!(s.phase, Phase::InFlight(_)))
    }

    /// The address families some slot publishes, in order: what netlink must watch.
    pub fn families(&self) -> Vec<Family> {
        Family::ALL
            .into_iter()
            .filter(|f| self.watched.values().any(|fs| fs.contains(f)))
            .collect()
    }

    pub fn slot_keys(&self) -> impl Iterator<Item = &SlotKey> {
        self.slots.iter().map(|s| &s.spec.key)
    }

    // ---- internals ----------------------------------------------------------------

    fn want_dump(&mut self) {
        match &mut self.dump {
            DumpPhase::Idle => self.dump = DumpPhase::Wanted,
            DumpPhase::Wanted => {}
            // The running dump may predate the change: take another one after it.
            DumpPhase::Running { again } => *again = true,
        }
    }

    fn mark_persist(&mut self) {
        self.persist_pending = true;
    }

    /// The Unix time at `now`, from the last known pair.
    fn wall_at(&self, now: Instant) -> u64 {
        let (at, wall) = self.clock;
        wall.saturating_add(now.saturating_duration_since(at).as_secs())
    }

    /// Decides whether slot `i` must send now.
    fn evaluate(&mut self, i: usize, now: Instant) {
        let max_per_hour = self.timing.max_per_hour as usize;
        let wall = self.wall_at(now);
        let s = &mut self.slots[i];
        match s.phase {
            Phase::InFlight(_) | Phase::Blocked { .. } => return,
            // A throttle is re-derived below from the send times, so that going back
            // to the published address ends it; a retry wait (911 floor) is not.
            Phase::Waiting { until, .. } if until > now => return,
            Phase::Waiting { .. } | Phase::Throttled { .. } | Phase::Idle => {}
        }
        let Some(Selection::Addr(addr)) = s.selection else {
            return;
        };
        let unchanged = s.published.as_ref().is_some_and(|p| p.addr == addr);
        if unchanged && !s.force {
            if matches!(s.phase, Phase::Waiting { .. } | Phase::Throttled { .. }) {
                // Back at the published address: nothing left to retry or hold back.
                s.phase = Phase::Idle;
                s.attempts = 0;
                self.persist_pending = true;
            }
            return;
        }
        while s
            .sends
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= HOUR)
        {
            s.sends.pop_front();
        }
        if !s.force
            && s.sends.len() >= max_per_hour
            && let Some(until) = s.sends.back().map(|(t, _)| *t + THROTTLE_SPACING)
            && until > now
        {
            if !matches!(s.phase, Phase::Throttled { .. }) {
                warn!(record = %s.spec.key, addr = %addr, limit = max_per_hour,
                      wait = %crate::duration::format(round_secs(until - now)),
                      "the address keeps changing: throttling this record to one update \
                       per 5 minutes");
            }
            s.phase = Phase::Throttled { until };
            return;
        }
        s.force = false;
        s.phase = Phase::InFlight(addr);
        s.sends.push_back((now, wall));
        if s.sends.len() > max_per_hour {
            s.sends.pop_front();
        }
        self.actions.push_back(Action::Send {
            key: s.spec.key.clone(),
            addr,
        });
    }

    /// Answers the triggers whose round is complete: a dump taken after the trigger has
    /// been applied and none of its slots has a send under way.
    fn finish_tickets(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.tickets.len() {
            let t = &self.tickets[i];
            let slots: Vec<&Slot> = self
                .slots
                .iter()
                .filter(|s| t.slots.contains(&s.spec.key))
                .collect();
            let settled = self.dumps_applied > t.after_dump
                && slots.iter().all(|s| !matches!(s.phase, Phase::InFlight(_)));
            if settled {
                let results = slots.iter().map(|s| s.report(now)).collect();
                let t = self.tickets.remove(i);
                if t.forced {
                    // Nothing could be sent (no address, say): the force must not
                    // linger and send an unchanged address at some later change.
                    for s in self
                        .slots
                        .iter_mut()
                        .filter(|s| t.slots.contains(&s.spec.key))
                    {
                        let wanted = self
                            .tickets
                            .iter()
                            .any(|o| o.forced && o.slots.contains(&s.spec.key));
                        if !wanted {
                            s.force = false;
                        }
                    }
                }
                self.actions.push_back(Action::Report {
                    ticket: t.id,
                    results,
                });
            } else {
                i += 1;
            }
        }
    }
}

impl Slot {
    /// `--force`: send even if unchanged, and now even if waiting or blocked.
    fn force(&mut self) {
        self.force = true;
        if matches!(
            self.phase,
            Phase::Waiting { .. } | Phase::Throttled { .. } | Phase::Blocked { .. }
        ) {
            self.phase = Phase::Idle;
        }
    }

    fn report(&self, now: Instant) -> SlotReport {
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
fn report_availability(s: &mut Slot, sel: &Selection) {
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

fn round_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

#[cfg(test)]
mod tests;
