//! The decision core: which record to update, when, and what to do with the answer.
//!
//! Sans-I/O in the manner of quinn-proto: inputs arrive through `handle_*(now, ..)`,
//! the driver collects work with `poll_action()` and sleeps until `poll_timeout()`.
//! The engine never reads a clock, never sleeps and never touches a socket or a file,
//! so every scenario can be replayed with made-up instants.
//!
//! Each slot (a record and a family) is three parts with private state, their own
//! methods taking `now`, their own deadline and tests, as quinn-proto's `mtud.rs`:
//! [`origin`](origin::Origin) (where the address comes from), [`publish`]
//! (what was published and what is owed to the provider: retry, budget, block) and
//! [`dns`] (what DNS says: the checks after an update, drift). Across slots:
//! `queries` (the questions to outside sources, their tickets and retries),
//! [`debounce`], [`backoff`], `tickets` (requests waiting for their round), `confirm`
//! (addresses hooks vouch for, published without the quiet time). Only the
//! engine's top level loops over slots and turns the parts' answers into actions:
//! here (construction, outputs), `inputs` (hints, requests, snapshots, timers),
//! `sources` (choosing and asking), `decide`, `outcome` and `verify` (the answers).

mod backoff;
mod beat;
mod confirm;
mod debounce;
pub(crate) mod decide;
mod dns;
mod inputs;
mod origin;
pub(crate) mod outcome;
pub(crate) mod publish;
mod queries;
mod slot;
mod sources;
mod tickets;
mod told;
mod types;
mod verify;

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use tracing::{info, warn};

pub use backoff::Backoff;
pub use debounce::Debouncer;
pub use publish::MAX_UNRECOGNISED;
pub use sources::query_for;
pub use types::*;

use crate::model::{Family, Interest, Snapshot, Source};
use confirm::Confirms;
use queries::Queries;
use slot::Slot;
use tickets::Ticket;

#[derive(Debug, PartialEq, Eq)]
enum DumpPhase {
    Idle,
    Wanted,
    Running { again: bool },
}

/// The state machine behind every decision: one per process.
///
/// # How to drive it
///
/// Create it with [`Engine::new`] (the config's slots, what the state file remembers,
/// the current instant and Unix time, a jitter seed). Then loop:
///
/// 1. Take every [`Action`] from [`Engine::poll_action`] until it returns `None`, and
///    carry each out; each names the input that brings its result back:
///    - [`Action::Dump`]: read all links and addresses (and default routes when
///      [`Engine::interest`] asks), then call [`Engine::handle_snapshot`], or
///      [`Engine::handle_dump_failed`]. At most one dump is asked for at a time.
///    - [`Action::Query`]: ask that source outside the kernel (gateway, web echo),
///      then call [`Engine::handle_found`] with the same ticket. Answers under a
///      ticket no longer current (a reload since, a newer ask) are dropped.
///    - [`Action::Send`]: send that update, then call [`Engine::handle_outcome`] with
///      the same key and address. Sends for different slots may overlap.
///    - [`Action::Verify`]: ask the zone's authoritative servers, then call
///      [`Engine::handle_checked`] with the same key, address and purpose.
///    - [`Action::Persist`]: write [`Engine::memory`] to the state file.
///    - [`Action::Report`]: answer the request that carried that ticket.
/// 2. Sleep until [`Engine::poll_timeout`] (if `Some`) or until an input arrives. When
///    the deadline passes, call [`Engine::handle_timeout`]. `None` means that nothing is
///    pending: no timer runs while nothing changes. The deadline is the earliest of
///    the parts' deadlines (each slot's retry, throttle and DNS check; the debounce,
///    the dump's retry, the sources' retries and safety nets).
/// 3. Feed inputs as they come: netlink events to [`Engine::handle_net`]; requests
///    from hooks and the command line to [`Engine::handle_request`]; a gateway's
///    announcement (NAT-PMP, PCP) to [`Engine::handle_announcement`] (listen on
///    [`Engine::announcement_links`]); the system clock being set to
///    [`Engine::handle_clock_set`]; a new config to [`Engine::reconfigure`]. Every
///    input takes the current instant; the engine never reads a clock.
///
/// After any input, go back to step 1: inputs queue actions. In [`Mode::OneShot`], the
/// round is over when `poll_action` returns `None` and [`Engine::busy`] is false;
/// [`Engine::report`] then says where each slot stands.
///
/// The engine logs its operator messages (an update published, retried or refused,
/// nothing publishable, a failing source) through `tracing`, once per change of
/// situation ([`crate::once::Said`]).
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
    /// The last snapshot: the gateway of an interface, for sources tried in turn.
    snapshot: Option<Snapshot>,
    /// Questions to sources outside the kernel.
    queries: Queries,
    /// Addresses hooks vouched for, waiting for a dump to show them.
    confirms: Confirms,
    /// The heartbeat round under way.
    beat: Option<beat::Beat>,
}

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
            snapshot: None,
            queries: Queries::default(),
            confirms: Confirms::default(),
            beat: None,
        };
        e.slots = specs
            .into_iter()
            .map(|spec| Slot::restore(mode, &timing, spec, memory, now, wall))
            .collect();
        e.rebuild_watched();
        match mode {
            // A one-shot run dumps when asked (not at all with `--ip`).
            Mode::OneShot => e.dump = DumpPhase::Idle,
            // Blocks from before the restart are lifted: say so in the file too.
            Mode::Daemon => e.persist_pending = true,
        }
        if e.slots.iter().any(|s| s.corrected) {
            warn!(
                "the state file holds times in the future (the clock was set back?); \
                 they are taken as now"
            );
            e.persist_pending = true;
        }
        e
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
                    if s.publish.unblock() {
                        info!(record = %s.spec.key, "config reloaded: the record is unblocked");
                    }
                    if s.spec.interface != spec.interface || s.spec.sources != spec.sources {
                        s.origin.forget();
                    }
                    // A question asked under the old config is not awaited any more.
                    s.origin.stop_waiting();
                    s.spec = spec;
                    s
                }
                None => Slot::restore(self.mode, &timing, spec, memory, now, wall),
            })
            .collect();
        self.queries.reset();
        self.confirms.clear();
        self.debounce = Debouncer::new(timing.debounce, timing.debounce_max);
        self.backoff = self
            .backoff
            .with_limits(timing.retry_initial, timing.retry_max);
        self.rebuild_watched();
        for s in &mut self.slots {
            // A reloaded config: check once more that DNS shows what we published.
            s.dns.want_drift_check();
        }
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
        let slots = self.slots.iter().filter_map(Slot::deadline);
        slots
            .chain(self.debounce.deadline())
            .chain(self.dump_retry_at)
            .chain(self.queries.deadline())
            .min()
    }

    /// The persistent view, for the state file.
    pub fn memory(&self) -> Vec<(SlotKey, SlotMemory)> {
        self.slots
            .iter()
            .filter(|s| s.active || s.corrected)
            .map(|s| (s.spec.key.clone(), s.memory()))
            .collect()
    }

    /// Where every slot stands now.
    pub fn report(&self, now: Instant) -> Vec<SlotReport> {
        self.slots
            .iter()
            .filter(|s| s.active)
            .map(|s| s.report(now))
            .collect()
    }

    /// Whether anything is still under way (a dump or a send). A one-shot run stops when
    /// this is false and no action is left.
    pub fn busy(&self) -> bool {
        self.dump != DumpPhase::Idle
            || self.queries.running()
            || self.slots.iter().any(|s| s.publish.in_flight())
    }

    /// The address families some slot publishes, in order: what netlink must watch.
    pub fn families(&self) -> Vec<Family> {
        Family::ALL
            .into_iter()
            .filter(|f| self.watched.values().any(|fs| fs.contains(f)))
            .collect()
    }

    /// What netlink must tell: the families some slot publishes, and the default
    /// routes when some slot asks its gateway.
    pub fn interest(&self) -> Interest {
        Interest {
            families: self.families(),
            routes: self
                .slots
                .iter()
                .any(|s| s.spec.sources.contains(&Source::Gateway)),
        }
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
}

#[cfg(test)]
mod tests;
