//! The daemon's loop, in the manner of mini-redis' `select!` loops: netlink hints, the
//! work under way (a dump, sends), requests and reloads, the engine's deadline and the
//! netlink reconnection timer. Each arm is a named method of `Loop`.

use std::collections::HashMap;
use std::future::Future;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::oneshot;
use tracing::{debug, error, info, warn};

use super::{Announcements, Command, Commands, Done, Edges, Io, Kernel, Left, Outside, Watch, now};
use crate::config::Config;
use crate::engine::{Engine, Mode, RequestError, SlotReport};
use crate::model::{Interest, NetEvent};
use crate::notify::{self, Notifier};
use crate::provider::Publish;
use crate::provider::reply::Outcome;
use crate::state;

const RECONNECT_MAX: Duration = Duration::from_secs(60);
/// Events taken in one go before the loop looks at its other inputs.
const EVENT_BATCH: usize = 256;

type Waiter = oneshot::Sender<Result<Vec<SlotReport>, RequestError>>;

/// Runs until `shutdown` resolves. Fails only if the kernel cannot be watched at all at
/// start; every later failure is logged and retried. `make_publisher` builds the
/// publisher for a reloaded config; `ready` is called once the watch is in place.
pub async fn run<K: Kernel, P: Publish, O: Outside>(
    edges: Edges<K, P, O>,
    make_publisher: impl Fn(&Config) -> Result<P, String>,
    mut commands: Commands,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(),
) -> Result<(), String> {
    let mut edges = edges;
    let engine = Engine::new(
        Mode::Daemon,
        edges.config.timing(),
        edges.config.slot_specs(),
        &edges.state,
        now(),
        state::wall_now(),
        crate::random::seed(),
    );
    // Subscribed before the engine's first dump is taken (the loop below).
    let interest = engine.interest();
    let watch = edges
        .kernel
        .subscribe(&interest)
        .map_err(|e| format!("cannot subscribe to netlink link and address events: {e}"))?;
    info!(
        records = edges.config.records.len(),
        slots = engine.slot_keys().count(),
        "watching interfaces: {}",
        edges.config.interfaces()
    );
    ready();
    // Notifications (issue 20): a task of its own; the loop only hands it events.
    let notifier = Notifier::start(notify::Setup::from_config(
        &edges.config,
        edges.publisher.live(),
    ));
    let beat_every = beat_interval(&edges.config);
    let mut l = Loop {
        notifier,
        beat_every,
        beat_at: notify::heartbeat::next_due(beat_every, now()),
        edges,
        engine,
        io: Io::default(),
        watch: Some(watch),
        interest,
        announcements: None,
        listening: Vec::new(),
        listen_failed: false,
        waiting: HashMap::new(),
        next_ticket: 0,
        reconnect_at: None,
        reconnect_failures: 0,
    };
    let mut commands_open = true;
    tokio::pin!(shutdown);
    loop {
        l.drain_actions();
        l.drain_events();
        if let Some(verdict) = l.engine.poll_beat() {
            l.notifier.beat(verdict);
        }
        let deadline = l.engine.poll_timeout();
        tokio::select! {
            biased;
            () = &mut shutdown => {
                info!(in_flight = l.io.sending.len(), "stopping");
                return Ok(());
            }
            ev = next_event(&mut l.watch) => l.on_event(ev),
            done = l.io.next(), if !l.io.idle() => {
                l.tell(&done);
                l.edges.apply(&mut l.engine, done);
                while let Some(done) = l.io.finished() {
                    l.tell(&done);
                    l.edges.apply(&mut l.engine, done);
                }
                l.relisten();
            }
            from = next_announcement(&mut l.announcements) => {
                l.engine.handle_announcement(now(), from);
            }
            cmd = commands.recv(), if commands_open => match cmd {
                Some(cmd) => l.on_command(cmd, &make_publisher),
                // Every sender is gone: nothing more will come, keep serving.
                None => commands_open = false,
            },
            () = sleep_until(deadline), if deadline.is_some() => l.engine.handle_timeout(now()),
            () = sleep_until(l.reconnect_at), if l.reconnect_at.is_some() => l.on_reconnect(),
            () = sleep_until(l.beat_at), if l.beat_at.is_some() => {
                let t = now();
                l.beat_at = notify::heartbeat::next_due(l.beat_every, t);
                l.engine.check_dns(t);
            }
        }
    }
}

/// The loop's state between two wake-ups.
struct Loop<K: Kernel, P: Publish, O: Outside> {
    /// Notifications: fed events and signs that the network is back.
    notifier: Notifier,
    /// The heartbeat's interval (`notify.heartbeat`, with a `heartbeat_url`) and its
    /// next round: the one timer notifications add, off by default.
    beat_every: Option<Duration>,
    beat_at: Option<Instant>,
    edges: Edges<K, P, O>,
    engine: Engine,
    io: Io,
    watch: Option<K::Watch>,
    /// What the watch is subscribed to.
    interest: Interest,
    /// Gateway announcements, on the links in `listening`.
    announcements: Option<O::Listen>,
    listening: Vec<u32>,
    /// Listening failed and was said; said again only after it worked.
    listen_failed: bool,
    /// Requests whose round is not complete, by ticket.
    waiting: HashMap<u64, Waiter>,
    next_ticket: u64,
    reconnect_at: Option<Instant>,
    reconnect_failures: u32,
}

impl<K: Kernel, P: Publish, O: Outside> Loop<K, P, O> {
    /// A finished send: any answer from the provider means the network works
    /// (waiting deliveries go now). The events themselves come from the engine.
    fn tell(&self, done: &Done) {
        if let Done::Sent(_, _, Outcome::Reply(_)) = done {
            self.notifier.network_back();
        }
    }

    /// Hands the engine's events to the notifier (never blocks).
    fn drain_events(&mut self) {
        while let Some(ev) = self.engine.poll_event() {
            self.notifier.emit(ev);
        }
    }

    /// Listens for gateway announcements where records ask a gateway (after each piece
    /// of work: a snapshot may have moved them).
    fn relisten(&mut self) {
        let links = self.engine.announcement_links();
        if links == self.listening {
            return;
        }
        self.listening = links;
        self.announcements = None;
        if self.listening.is_empty() {
            return;
        }
        match self.edges.outside.listen(&self.listening) {
            Ok(l) => {
                debug!(links = ?self.listening, "listening for gateway announcements");
                self.announcements = Some(l);
                self.listen_failed = false;
            }
            Err(e) => {
                if !self.listen_failed {
                    warn!(error = %e, "cannot listen for the gateway's announcements; its \
                                       address is still asked at every change and by the \
                                       safety-net check (gateway.check)");
                }
                self.listen_failed = true;
            }
        }
    }

    /// Carries out everything the engine asks for now.
    fn drain_actions(&mut self) {
        while let Some(action) = self.engine.poll_action() {
            let kernel_ok = self.watch.is_some();
            match self
                .edges
                .execute(&mut self.engine, action, &mut self.io, kernel_ok)
            {
                Left::Nothing => {}
                Left::Report(ticket, results) => {
                    if let Some(tx) = self.waiting.remove(&ticket) {
                        let _ = tx.send(Ok(results));
                    }
                }
                Left::PersistFailed(e) => error!(
                    path = %self.edges.store.path().display(), error = %e,
                    "cannot write the state file; carrying on from memory"
                ),
            }
        }
    }

    /// A netlink hint, and whatever else is already queued behind it.
    fn on_event(&mut self, ev: Option<NetEvent>) {
        let Some(ev) = ev else {
            self.lost();
            return;
        };
        let t = now();
        // A link or address event may be the network coming back.
        self.notifier.network_back();
        self.engine.handle_net(t, ev);
        // Drain what is already queued without going round the loop.
        for _ in 0..EVENT_BATCH {
            match self.watch.as_mut().and_then(|w| w.next().now_or_never()) {
                Some(Some(ev)) => self.engine.handle_net(t, ev),
                Some(None) => {
                    self.lost();
                    break;
                }
                None => break,
            }
        }
    }

    fn on_command(&mut self, cmd: Command, make_publisher: &impl Fn(&Config) -> Result<P, String>) {
        match cmd {
            Command::Reload(config) => self.on_reload(*config, make_publisher),
            Command::ClockSet => self
                .engine
                .handle_clock_set(now(), crate::state::wall_now()),
            Command::Update { request, reply } => {
                self.next_ticket += 1;
                let ticket = self.next_ticket;
                match self.engine.handle_request(now(), &request, Some(ticket)) {
                    Ok(()) => {
                        self.waiting.insert(ticket, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
        }
    }

    /// SIGHUP with a config that already passed its checks.
    fn on_reload(
        &mut self,
        config: Config,
        make_publisher: &impl Fn(&Config) -> Result<P, String>,
    ) {
        let publisher = match make_publisher(&config) {
            Ok(p) => p,
            Err(e) => {
                error!(error = %e, "reload failed; keeping the running config");
                return;
            }
        };
        let e = &mut self.edges;
        if let Err(err) = e.outside.reconfigure(&config) {
            error!(error = %err, "reload failed; keeping the running config");
            return;
        }
        if config.state_dir != e.config.state_dir {
            warn!("state_dir changed: the new directory is used after a restart");
        }
        if config.control_socket != e.config.control_socket {
            warn!("control_socket changed: the new socket is used after a restart");
        }
        let (state_dir, control_socket) =
            (e.config.state_dir.clone(), e.config.control_socket.clone());
        e.config = config;
        e.config.state_dir = state_dir;
        e.config.control_socket = control_socket;
        e.publisher = publisher;
        self.notifier
            .reconfigure(notify::Setup::from_config(&e.config, e.publisher.live()));
        let every = beat_interval(&e.config);
        if every != self.beat_every {
            self.beat_every = every;
            self.beat_at = notify::heartbeat::next_due(every, now());
        }
        self.engine.reconfigure(
            e.config.timing(),
            e.config.slot_specs(),
            &e.state,
            now(),
            state::wall_now(),
        );
        info!(
            records = e.config.records.len(),
            "config reloaded; watching interfaces: {}",
            e.config.interfaces()
        );
        let interest = self.engine.interest();
        if interest != self.interest {
            // The new socket replaces the old before the reload's dump.
            debug!(now_interest = ?interest, "what netlink must tell changed; resubscribing");
            self.interest = interest;
            match self.edges.kernel.subscribe(&self.interest) {
                Ok(w) => self.watch = Some(w),
                Err(e) => {
                    warn!(error = %e, "cannot resubscribe to netlink");
                    self.lost();
                }
            }
        }
    }

    fn on_reconnect(&mut self) {
        self.reconnect_at = None;
        match self.edges.kernel.subscribe(&self.interest) {
            Ok(w) => {
                info!("netlink socket reopened; resyncing");
                self.watch = Some(w);
                self.reconnect_failures = 0;
                self.engine.handle_net(now(), NetEvent::Resync);
            }
            Err(e) => {
                warn!(error = %e, "cannot reopen the netlink socket");
                self.schedule_reconnect();
            }
        }
    }

    /// The netlink socket is gone: drop it and try again later.
    fn lost(&mut self) {
        self.watch = None;
        self.schedule_reconnect();
    }

    /// When to try again: 1 s, doubling, at most a minute.
    fn schedule_reconnect(&mut self) {
        self.reconnect_failures += 1;
        let delay =
            Duration::from_secs(1 << (self.reconnect_failures - 1).min(6)).min(RECONNECT_MAX);
        warn!(retry_in = ?delay, "the netlink socket closed; reopening");
        self.reconnect_at = Some(now() + delay);
    }
}

async fn next_event<W: Watch>(watch: &mut Option<W>) -> Option<NetEvent> {
    match watch {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}

async fn next_announcement<A: Announcements>(listener: &mut Option<A>) -> Ipv4Addr {
    match listener {
        Some(l) => l.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// The heartbeat's interval: `notify.heartbeat`, when there is a URL to ping.
fn beat_interval(config: &Config) -> Option<Duration> {
    config
        .notify
        .heartbeat_url
        .as_ref()
        .and(config.notify.heartbeat)
}
