//! The daemon's driver: runs the engine against the kernel, the provider, the state
//! file and the command channel, in the manner of mini-redis' `select!` loops.
//!
//! Generic over the kernel and the publisher, so that the whole loop can be run under
//! tokio's paused clock with fakes, as well as for real.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::engine::{Action, Engine, Mode, SlotKey, SlotReport, Trigger, TriggerError};
use crate::http::{Publish, UpdateRequest};
use crate::model::{Family, NetEvent, Snapshot};
use crate::netlink;
use crate::reply::Outcome;
use crate::state::{self, StateMap, Store};

/// Opens kernel watches (rtnetlink for real).
pub trait Kernel {
    type Watch: Watch;
    /// Links, and the addresses of `families`.
    fn subscribe(&mut self, families: &[Family]) -> io::Result<Self::Watch>;
}

/// A subscribed source of hints plus the ability to dump.
pub trait Watch {
    /// The next hint; `None` when the source is gone and must be reopened.
    fn next(&mut self) -> impl Future<Output = Option<NetEvent>>;
    fn dump(&self) -> impl Future<Output = Result<Snapshot, String>> + 'static;
}

/// The real kernel.
pub struct Rtnetlink {
    pub rcvbuf: usize,
}

impl Kernel for Rtnetlink {
    type Watch = netlink::Watcher;
    fn subscribe(&mut self, families: &[Family]) -> io::Result<netlink::Watcher> {
        netlink::Watcher::subscribe(self.rcvbuf, families)
    }
}

impl Watch for netlink::Watcher {
    fn next(&mut self) -> impl Future<Output = Option<NetEvent>> {
        netlink::Watcher::next(self)
    }
    fn dump(&self) -> impl Future<Output = Result<Snapshot, String>> + 'static {
        netlink::dump()
    }
}

/// What the outside world may ask of a running daemon.
pub enum Command {
    /// A new, already validated config (SIGHUP).
    Reload(Box<Config>),
    /// A round for a hook or `dynhost update`; answered when it is complete.
    Trigger {
        trigger: Trigger,
        reply: oneshot::Sender<Result<Vec<SlotReport>, TriggerError>>,
    },
}

pub type Commands = mpsc::UnboundedReceiver<Command>;

type Pending<T> = Pin<Box<dyn Future<Output = T>>>;

const RECONNECT_MAX: Duration = Duration::from_secs(60);
/// Events taken in one go before the loop looks at its other inputs.
const EVENT_BATCH: usize = 256;

pub struct Daemon<K: Kernel, P: Publish> {
    pub config: Config,
    pub kernel: K,
    pub publisher: P,
    pub store: Store,
    /// What the state file holds, so that records this process does not own are kept.
    pub state: StateMap,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl<K: Kernel, P: Publish> Daemon<K, P> {
    /// Runs until `shutdown` resolves. Fails only if the kernel cannot be watched at
    /// all at start; every later failure is logged and retried.
    pub async fn run(
        mut self,
        make_publisher: impl Fn(&Config) -> Result<P, String>,
        mut commands: Commands,
        shutdown: impl Future<Output = ()>,
        ready: impl FnOnce(),
    ) -> Result<(), String> {
        let seed = seed();
        let mut engine = Engine::new(
            Mode::Daemon,
            self.config.timing(),
            self.config.slot_specs(),
            &self.state,
            now(),
            state::wall_now(),
            seed,
        );
        // Subscribed before the engine's first dump is taken (the loop below).
        let mut families = engine.families();
        let mut watch =
            Some(self.kernel.subscribe(&families).map_err(|e| {
                format!("cannot subscribe to netlink link and address events: {e}")
            })?);
        info!(
            records = self.config.records.len(),
            slots = engine.slot_keys().count(),
            "watching interfaces: {}",
            interfaces(&self.config)
        );
        ready();

        let mut dumping: Option<Pending<Result<Snapshot, String>>> = None;
        let mut inflight: FuturesUnordered<Pending<(SlotKey, IpAddr, Outcome)>> =
            FuturesUnordered::new();
        let mut waiting: HashMap<u64, oneshot::Sender<Result<Vec<SlotReport>, TriggerError>>> =
            HashMap::new();
        let mut next_ticket = 0u64;
        let mut reconnect_at: Option<Instant> = None;
        let mut reconnect_failures = 0u32;
        let mut commands_open = true;
        tokio::pin!(shutdown);

        loop {
            while let Some(action) = engine.poll_action() {
                match action {
                    Action::Dump => match &watch {
                        Some(w) => dumping = Some(Box::pin(w.dump())),
                        None => engine.handle_dump_failed(now(), "the netlink socket is closed"),
                    },
                    Action::Send { key, addr } => {
                        match UpdateRequest::new(&self.config, &key, addr) {
                            Some(req) => {
                                let fut = self.publisher.publish(req);
                                inflight.push(Box::pin(async move { (key, addr, fut.await) }));
                            }
                            None => error!(record = %key, "no record for this slot (bug)"),
                        }
                    }
                    Action::Persist => self.persist(&engine),
                    Action::Report { ticket, results } => {
                        if let Some(tx) = waiting.remove(&ticket) {
                            let _ = tx.send(Ok(results));
                        }
                    }
                }
            }
            let deadline = engine.poll_timeout();
            tokio::select! {
                biased;
                () = &mut shutdown => {
                    info!(in_flight = inflight.len(), "stopping");
                    return Ok(());
                }
                ev = next_event(&mut watch) => match ev {
                    Some(ev) => {
                        let t = now();
                        engine.handle_net(t, ev);
                        // Drain what is already queued without going round the loop.
                        for _ in 0..EVENT_BATCH {
                            match watch.as_mut().and_then(|w| w.next().now_or_never()) {
                                Some(Some(ev)) => engine.handle_net(t, ev),
                                Some(None) => { watch = None; break; }
                                None => break,
                            }
                        }
                        if watch.is_none() {
                            reconnect_at = Some(lost(&mut reconnect_failures));
                        }
                    }
                    None => {
                        watch = None;
                        reconnect_at = Some(lost(&mut reconnect_failures));
                    }
                },
                res = async { dumping.as_mut().expect("guarded").await }, if dumping.is_some() => {
                    dumping = None;
                    match res {
                        Ok(snap) => {
                            debug!(links = snap.links.len(), addrs = snap.addrs.len(), "dump");
                            engine.handle_snapshot(now(), &snap);
                        }
                        Err(e) => engine.handle_dump_failed(now(), &e),
                    }
                }
                Some((key, addr, outcome)) = inflight.next(), if !inflight.is_empty() => {
                    engine.handle_outcome(now(), state::wall_now(), &key, addr, outcome);
                }
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(Command::Reload(config)) => {
                        self.reload(*config, &make_publisher, &mut engine);
                        let now_families = engine.families();
                        if now_families != families {
                            // The new socket replaces the old before the reload's dump.
                            debug!(?now_families, "address families changed; resubscribing");
                            families = now_families;
                            match self.kernel.subscribe(&families) {
                                Ok(w) => watch = Some(w),
                                Err(e) => {
                                    warn!(error = %e, "cannot resubscribe to netlink");
                                    watch = None;
                                    reconnect_at = Some(lost(&mut reconnect_failures));
                                }
                            }
                        }
                    }
                    Some(Command::Trigger { mut trigger, reply }) => {
                        next_ticket += 1;
                        trigger.ticket = Some(next_ticket);
                        match engine.handle_trigger(now(), trigger) {
                            Ok(()) => { waiting.insert(next_ticket, reply); }
                            Err(e) => { let _ = reply.send(Err(e)); }
                        }
                    }
                    // Every sender is gone: nothing more will come, keep serving.
                    None => commands_open = false,
                },
                () = sleep_until(deadline), if deadline.is_some() => {
                    engine.handle_timeout(now());
                }
                () = sleep_until(reconnect_at), if reconnect_at.is_some() => {
                    reconnect_at = None;
                    match self.kernel.subscribe(&families) {
                        Ok(w) => {
                            info!("netlink socket reopened; resyncing");
                            watch = Some(w);
                            reconnect_failures = 0;
                            engine.handle_net(now(), NetEvent::Resync);
                        }
                        Err(e) => {
                            warn!(error = %e, "cannot reopen the netlink socket");
                            reconnect_at = Some(lost(&mut reconnect_failures));
                        }
                    }
                }
            }
        }
    }

    fn persist(&mut self, engine: &Engine) {
        let mut map = self.state.clone();
        map.retain(|k, _| self.config.records.iter().any(|r| r.hostname == k.hostname));
        map.extend(engine.memory());
        match self.store.save(&map) {
            Ok(wrote) => {
                if wrote {
                    debug!(path = %self.store.path().display(), "state written");
                }
                self.state = map;
            }
            Err(e) => error!(path = %self.store.path().display(), error = %e,
                             "cannot write the state file; carrying on from memory"),
        }
    }

    fn reload(
        &mut self,
        config: Config,
        make_publisher: &impl Fn(&Config) -> Result<P, String>,
        engine: &mut Engine,
    ) {
        let publisher = match make_publisher(&config) {
            Ok(p) => p,
            Err(e) => {
                error!(error = %e, "reload failed; keeping the running config");
                return;
            }
        };
        if config.state_dir != self.config.state_dir {
            warn!("state_dir changed: the new directory is used after a restart");
        }
        if config.control_socket != self.config.control_socket {
            warn!("control_socket changed: the new socket is used after a restart");
        }
        let (state_dir, control_socket) = (
            self.config.state_dir.clone(),
            self.config.control_socket.clone(),
        );
        self.config = config;
        self.config.state_dir = state_dir;
        self.config.control_socket = control_socket;
        self.publisher = publisher;
        engine.reconfigure(
            self.config.timing(),
            self.config.slot_specs(),
            &self.state,
            now(),
            state::wall_now(),
        );
        info!(
            records = self.config.records.len(),
            "config reloaded; watching interfaces: {}",
            interfaces(&self.config)
        );
    }
}

async fn next_event<W: Watch>(watch: &mut Option<W>) -> Option<NetEvent> {
    match watch {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// The netlink socket is gone: when to try again (1 s, doubling, at most a minute).
fn lost(failures: &mut u32) -> Instant {
    *failures += 1;
    let delay = Duration::from_secs(1 << (*failures - 1).min(6)).min(RECONNECT_MAX);
    warn!(retry_in = ?delay, "the netlink socket closed; reopening");
    now() + delay
}

fn interfaces(config: &Config) -> String {
    let mut names: Vec<&str> = config
        .records
        .iter()
        .filter(|r| r.enabled)
        .map(|r| r.interface.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names.join(", ")
}

/// Jitter seed: different per process and start, no RNG crate needed.
fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ (u64::from(std::process::id()) << 32)
}
