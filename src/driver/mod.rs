//! The drivers: they run the engine against the edges. `daemon` is the long-running
//! `select!` loop; `oneshot` is one `dynhost update` round without a daemon. Both carry
//! out the engine's actions here, through the same traits (`Kernel` for netlink,
//! `Publish` for the provider), so that tests run either under tokio's paused clock
//! with fakes, as well as for real.

pub mod daemon;
pub mod oneshot;

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::time::Instant;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot as reply};
use tracing::error;

use crate::config::Config;
use crate::engine::{
    Action, Checked, Engine, Found, Purpose, Query, RequestError, SlotKey, SlotReport,
};
use crate::model::{Family, Interest, NetEvent, Snapshot};
use crate::netlink;
use crate::provider::reply::Outcome;
use crate::provider::{Publish, Update};
use crate::request::UpdateRequest;
use crate::state::{self, StateMap, Store};

/// The kernel: watches for link and address changes, and full dumps.
pub trait Kernel {
    type Watch: Watch;
    /// Links, the addresses of the families asked, default routes if asked.
    fn subscribe(&mut self, interest: &Interest) -> io::Result<Self::Watch>;
    /// Every link and address (and default route, with `routes`), now.
    fn dump(&self, routes: bool) -> impl Future<Output = Result<Snapshot, String>> + 'static;
}

/// Sources outside the kernel: the gateway (NAT-PMP, PCP, UPnP IGD) and web echo
/// services, and the gateway's change announcements.
pub trait Outside {
    type Listen: Announcements;
    /// Answers one question.
    fn find(&self, q: &Query) -> impl Future<Output = Result<Found, String>> + 'static;
    /// Listens for gateway announcements on these links.
    fn listen(&mut self, links: &[u32]) -> io::Result<Self::Listen>;
    /// Takes a reloaded config's settings (echo URLs, extra roots, DNS servers).
    fn reconfigure(&mut self, config: &Config) -> Result<(), String>;
    /// What the zone's authoritative servers answer for `hostname` and `family`,
    /// judged against `expected`. Bounded in time.
    fn verify(
        &self,
        hostname: &str,
        family: Family,
        expected: IpAddr,
    ) -> impl Future<Output = Checked> + 'static;
}

/// A source of gateway announcements.
pub trait Announcements {
    /// Where the next announcement came from (the engine judges whether it is ours).
    fn next(&mut self) -> impl Future<Output = Ipv4Addr>;
}

/// A subscribed source of hints.
pub trait Watch {
    /// The next hint; `None` when the source is gone and must be reopened.
    fn next(&mut self) -> impl Future<Output = Option<NetEvent>>;
}

/// The real kernel.
pub struct Rtnetlink {
    pub rcvbuf: usize,
}

impl Kernel for Rtnetlink {
    type Watch = netlink::Watcher;
    fn subscribe(&mut self, interest: &Interest) -> io::Result<netlink::Watcher> {
        netlink::Watcher::subscribe(self.rcvbuf, interest)
    }
    fn dump(&self, routes: bool) -> impl Future<Output = Result<Snapshot, String>> + 'static {
        netlink::dump_with(routes)
    }
}

impl Watch for netlink::Watcher {
    fn next(&mut self) -> impl Future<Output = Option<NetEvent>> {
        netlink::Watcher::next(self)
    }
}

/// What the outside world may ask of a running daemon.
pub enum Command {
    /// A new, already validated config (SIGHUP).
    Reload(Box<Config>),
    /// The system clock was set (a step, not the steady tick).
    ClockSet,
    /// A round for a hook or `dynhost update`; answered when it is complete.
    Update {
        request: UpdateRequest,
        reply: reply::Sender<Result<Vec<SlotReport>, RequestError>>,
    },
}

pub type Commands = mpsc::UnboundedReceiver<Command>;

/// The edges the engine's actions are carried out against.
pub struct Edges<K: Kernel, P: Publish, O: Outside> {
    pub config: Config,
    pub kernel: K,
    pub publisher: P,
    pub outside: O,
    pub store: Store,
    /// What the state file holds, so that records this process does not own are kept.
    pub state: StateMap,
}

type Pending<T> = Pin<Box<dyn Future<Output = T>>>;

/// Work under way for the engine: at most one dump, any number of sends.
#[derive(Default)]
struct Io {
    dumping: Option<Pending<Result<Snapshot, String>>>,
    sending: FuturesUnordered<Pending<(SlotKey, IpAddr, Outcome)>>,
    finding: FuturesUnordered<Pending<(u64, Result<Found, String>)>>,
    checking: FuturesUnordered<Pending<(SlotKey, IpAddr, Purpose, Checked)>>,
}

/// A piece of work that finished.
enum Done {
    Dump(Result<Snapshot, String>),
    Sent(SlotKey, IpAddr, Outcome),
    Found(u64, Result<Found, String>),
    Checked(SlotKey, IpAddr, Purpose, Checked),
}

impl Io {
    fn idle(&self) -> bool {
        self.dumping.is_none()
            && self.sending.is_empty()
            && self.finding.is_empty()
            && self.checking.is_empty()
    }

    /// Work that has finished already, without waiting. Applying a burst of answers in
    /// one turn costs one state write (temporary file, fsync, rename) instead of one
    /// each: with a hundred records on slow flash, that is what paces the requests.
    fn finished(&mut self) -> Option<Done> {
        futures::FutureExt::now_or_never(self.next())
    }

    /// The next piece of work to finish; never resolves while there is none.
    async fn next(&mut self) -> Done {
        if self.idle() {
            return std::future::pending().await;
        }
        let dump = async {
            match self.dumping.as_mut() {
                Some(d) => d.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            res = dump => {
                self.dumping = None;
                Done::Dump(res)
            }
            Some((key, addr, outcome)) = self.sending.next(), if !self.sending.is_empty() => {
                Done::Sent(key, addr, outcome)
            }
            Some((ticket, found)) = self.finding.next(), if !self.finding.is_empty() => {
                Done::Found(ticket, found)
            }
            Some((k, a, p, c)) = self.checking.next(), if !self.checking.is_empty() => {
                Done::Checked(k, a, p, c)
            }
        }
    }
}

/// What carrying out an action left for the driver to handle itself.
enum Left {
    Nothing,
    /// A request's round is complete.
    Report(u64, Vec<SlotReport>),
    /// The state file could not be written.
    PersistFailed(io::Error),
}

impl<K: Kernel, P: Publish, O: Outside> Edges<K, P, O> {
    /// Carries out `action`: a dump or a send starts in `io` (a dump only if
    /// `kernel_ok`, else it fails at once), a persist writes the state file.
    fn execute(
        &mut self,
        engine: &mut Engine,
        action: Action,
        io: &mut Io,
        kernel_ok: bool,
    ) -> Left {
        match action {
            Action::Dump if kernel_ok => {
                let routes = engine.interest().routes;
                io.dumping = Some(Box::pin(self.kernel.dump(routes)));
            }
            Action::Query { ticket, query } => {
                let fut = self.outside.find(&query);
                io.finding
                    .push(Box::pin(async move { (ticket, fut.await) }));
            }
            Action::Verify {
                key,
                expected,
                purpose,
            } => {
                let fut = self.outside.verify(&key.hostname, key.family, expected);
                io.checking
                    .push(Box::pin(async move { (key, expected, purpose, fut.await) }));
            }
            Action::Dump => engine.handle_dump_failed(now(), "the netlink socket is closed"),
            Action::Send { key, addr } => match Update::new(&self.config, &key, addr) {
                Some(req) => {
                    let fut = self.publisher.publish(req);
                    io.sending
                        .push(Box::pin(async move { (key, addr, fut.await) }));
                }
                None => error!(record = %key, "no record for this slot (bug)"),
            },
            Action::Persist => {
                if let Err(e) = self.persist(engine) {
                    return Left::PersistFailed(e);
                }
            }
            Action::Report { ticket, results } => return Left::Report(ticket, results),
        }
        Left::Nothing
    }

    /// Feeds finished work back to the engine.
    fn apply(&mut self, engine: &mut Engine, done: Done) {
        match done {
            Done::Dump(Ok(snap)) => {
                tracing::debug!(links = snap.links.len(), addrs = snap.addrs.len(), "dump");
                engine.handle_snapshot(now(), &snap);
            }
            Done::Dump(Err(e)) => engine.handle_dump_failed(now(), &e),
            Done::Sent(key, addr, outcome) => {
                engine.handle_outcome(now(), state::wall_now(), &key, addr, outcome);
            }
            Done::Found(ticket, found) => engine.handle_found(now(), ticket, found),
            Done::Checked(key, expected, purpose, checked) => {
                engine.handle_checked(now(), state::wall_now(), &key, expected, purpose, checked);
            }
        }
    }

    /// Writes the engine's memory, keeping the entries of records the config still has
    /// that this engine does not own (a one-shot round covers a few).
    fn persist(&mut self, engine: &Engine) -> io::Result<bool> {
        let mut map = self.state.clone();
        map.retain(|k, _| self.config.records.iter().any(|r| r.hostname == k.hostname));
        map.extend(engine.memory());
        let wrote = self.store.save(&map)?;
        if wrote {
            tracing::debug!(path = %self.store.path().display(), "state written");
        }
        self.state = map;
        Ok(wrote)
    }
}

/// The driver's clock, tokio's so that tests can pause it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}
