//! Telling people: notifications to services (ntfy, Gotify, Discord, Slack, Telegram,
//! generic webhooks), a `command` hook, the heartbeat, the event history
//! (`status --history`) and the node_exporter metrics file.
//!
//! - [`event`]: what happened ([`Event`], pure).
//! - [`target`]: service URLs (shoutrrr syntax) and the requests they document (pure).
//! - The `[notify]` settings, the event kinds and the URL parser live in
//!   `config::notify` (reading a config needs them, not the notifier); re-exported here.
//! - [`queue`]: the persisted outbox; [`history`]; [`metrics`]; [`heartbeat`] (pure
//!   logic, thin file edges).
//! - `send`: the HTTP request and the command, bounded.
//!
//! # The seam
//!
//! The daemon and one-shot runs own one [`Notifier`]. Whoever learns that something
//! happened makes an [`Event`] and calls [`Notifier::emit`]; nothing else is needed.
//! The engine makes every record's event (`published`, `failed`, `recovered`,
//! `blocked`, `unavailable`, `visible`, `not_visible`, `drift`), each in the part that
//! owns the fact (`engine::told`); the daemon drains them after `poll_action()`, and
//! a one-shot round collects them for `app::notify::after_round`:
//!
//! ```text
//! while let Some(ev) = engine.poll_event() { notifier.emit(ev) }
//! ```
//!
//! [`Notifier::network_back`] is called on each link or address event and each answer
//! from the provider: deliveries waiting for a retry go at once.
//!
//! `emit` only hands the event to a task (never blocks the caller); that task writes
//! the queue, the history and the metrics file, and starts each delivery as its own
//! task, at most one per target and [`MAX_IN_FLIGHT`] in all, each bounded in time and
//! bytes. A slow or hostile target delays nothing but itself. With no `[notify]` and no
//! `metrics_file`, the task only keeps the history, and it sleeps without a timer.

pub mod event;
pub mod heartbeat;
pub mod history;
pub mod metrics;
pub mod queue;
mod send;
pub mod target;

pub use crate::config::notify::{
    Settings, check_command, check_events, check_heartbeat_url, check_urls,
};

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

pub use event::{Event, Kind};
pub use send::{COMMAND_TIMEOUT, HTTP_TIMEOUT};
pub use target::{Endpoints, Target};

/// Deliveries under way at once, all targets together.
pub const MAX_IN_FLIGHT: usize = 4;

/// Where one event goes.
#[derive(Clone, Debug)]
enum Sink {
    Service(Target),
    Command(Vec<String>),
}

/// A sink with its queue id and the name it is shown by (`notify.urls[0]`, `notify.command`).
#[derive(Clone, Debug)]
struct Place {
    id: String,
    at: String,
    sink: Sink,
}

impl Place {
    fn label(&self) -> String {
        match &self.sink {
            Sink::Service(t) => format!("{} ({})", t.label, self.at),
            Sink::Command(argv) => format!("{} ({})", argv[0], self.at),
        }
    }
}

fn places(s: &Settings) -> Vec<Place> {
    let mut out = Vec::new();
    for (i, u) in s.urls.iter().enumerate() {
        // Checked when the config was read; a URL failing here is skipped, not fatal.
        if let Ok(t) = target::parse(u.expose()) {
            out.push(Place {
                id: Target::id_of(u.expose()),
                at: format!("notify.urls[{i}]"),
                sink: Sink::Service(t),
            });
        }
    }
    if !s.command.is_empty() {
        out.push(Place {
            id: format!("command-{}", target::id_of(s.command.join("\0").as_bytes())),
            at: "notify.command".into(),
            sink: Sink::Command(s.command.clone()),
        });
    }
    out
}

/// What the notifier needs from the config.
#[derive(Clone, Debug)]
pub struct Setup {
    pub settings: Settings,
    pub state_dir: PathBuf,
    pub metrics_file: Option<PathBuf>,
    /// `false` for `--dry-run`: nothing written, nothing sent.
    pub live: bool,
    pub endpoints: Endpoints,
    pub command_timeout: Duration,
}

impl Setup {
    pub fn from_config(c: &crate::config::Config, live: bool) -> Setup {
        Setup {
            settings: c.notify.clone(),
            state_dir: c.state_dir.clone(),
            metrics_file: c.metrics_file.clone(),
            live,
            endpoints: Endpoints::real(),
            command_timeout: COMMAND_TIMEOUT,
        }
    }
}

enum Msg {
    Event(Event),
    NetworkBack,
    /// The heartbeat's verdict: `None` all well, else the reason.
    Beat(Option<String>),
    Reconfigure(Box<Setup>),
    /// Deliver what is due and answer when nothing is in flight or at the deadline.
    Flush(Instant, oneshot::Sender<usize>),
}

/// The handle the daemon and one-shot runs hold. Cheap to clone; dropping every handle
/// ends the task.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<Msg>,
}

impl Notifier {
    /// Starts the notifier's task on the current runtime.
    pub fn start(setup: Setup) -> Notifier {
        let (tx, rx) = mpsc::unbounded_channel();
        let worker = Worker::new(setup);
        tokio::spawn(worker.run(rx));
        Notifier { tx }
    }

    /// Queues `event` for every target that wants it; returns at once.
    pub fn emit(&self, event: Event) {
        let _ = self.tx.send(Msg::Event(event));
    }

    /// A sign that the network works: retry waiting deliveries now.
    pub fn network_back(&self) {
        let _ = self.tx.send(Msg::NetworkBack);
    }

    /// The heartbeat round's verdict (the daemon's `notify.heartbeat` timer, after the
    /// authoritative servers answered): pings the heartbeat URL, or `<url>/fail` with
    /// the reason.
    pub fn beat(&self, failure: Option<String>) {
        let _ = self.tx.send(Msg::Beat(failure));
    }

    pub fn reconfigure(&self, setup: Setup) {
        let _ = self.tx.send(Msg::Reconfigure(Box::new(setup)));
    }

    /// Delivers what is due, waiting at most until `deadline`; returns how many
    /// deliveries are still owed (left in the queue for the daemon).
    pub async fn flush(&self, deadline: Instant) -> usize {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(deadline, tx)).is_err() {
            return 0;
        }
        rx.await.unwrap_or(0)
    }
}

/// Sends a `test` event to every target now, outside the queue: one result per target,
/// `Err` with a located sentence (`ntfy://ntfy.sh/<redacted> (notify.urls[0]): HTTP 500`).
pub async fn test_all(setup: &Setup, wall: u64) -> Vec<Result<String, String>> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let event = Event::new(
        Kind::Test,
        host.trim(),
        "This is a test notification from dynhost (dynhost notify --test).",
        wall,
    );
    let http = match send::Http::new() {
        Ok(h) => h,
        Err(e) => return vec![Err(e)],
    };
    let mut out = Vec::new();
    let mut jobs = Vec::new();
    for p in places(&setup.settings) {
        let (http, event, ends, t) = (
            http.clone(),
            event.clone(),
            setup.endpoints.clone(),
            setup.command_timeout,
        );
        jobs.push(tokio::spawn(async move {
            let r = deliver(&http, &p.sink, &event, &event.message, &ends, t).await;
            match r {
                Ok(()) => Ok(format!("{}: delivered", p.label())),
                Err(f) => Err(format!("{}: {}", p.label(), f.text)),
            }
        }));
    }
    if let Some(url) = &setup.settings.heartbeat_url {
        let req = heartbeat::ping(url.expose(), None);
        let shown = format!("{} (notify.heartbeat_url)", heartbeat::label(url.expose()));
        out.push(match http.send(&req).await {
            Ok((s, _)) if (200..300).contains(&s) => Ok(format!("{shown}: pinged")),
            Ok((s, b)) => Err(format!("{shown}: {}", send::describe(s, &b))),
            Err(e) => Err(format!("{shown}: {e}")),
        });
    }
    for j in jobs {
        out.push(
            j.await
                .unwrap_or_else(|e| Err(format!("delivery task failed: {e}"))),
        );
    }
    out
}

/// Why a delivery failed; `network`: no answer came (the network may be down), so the
/// next sign that it is back retries at once. A refusal (500) waits for its backoff.
#[derive(Debug)]
struct Failure {
    text: String,
    network: bool,
}

impl Failure {
    fn local(text: String) -> Failure {
        Failure {
            text,
            network: false,
        }
    }
}

/// One delivery of `event` to `sink`.
async fn deliver(
    http: &send::Http,
    sink: &Sink,
    event: &Event,
    text: &str,
    ends: &Endpoints,
    command_timeout: Duration,
) -> Result<(), Failure> {
    match sink {
        Sink::Service(t) => {
            for req in t.requests(event, text, ends) {
                let (status, body) = http.send(&req).await.map_err(|text| Failure {
                    text,
                    network: true,
                })?;
                if !t.accepted(status, &body) {
                    return Err(Failure {
                        text: send::describe(status, &body),
                        network: false,
                    });
                }
            }
            Ok(())
        }
        Sink::Command(argv) => {
            // A thread of its own, not `spawn_blocking`: the runtime waits for those
            // at exit, and a hung command must not hold up a stop.
            let (argv, event) = (argv.clone(), event.clone());
            let (tx, rx) = oneshot::channel();
            std::thread::Builder::new()
                .name("notify-command".into())
                .spawn(move || {
                    let _ = tx.send(send::run_command(&argv, &event, command_timeout));
                })
                .map_err(|e| {
                    Failure::local(format!("cannot start a thread for the command: {e}"))
                })?;
            let out = rx
                .await
                .map_err(|_| Failure::local("the command's thread ended without a result".into()))?
                .map_err(Failure::local)?;
            if !out.is_empty() {
                info!(output = %out, "notify command output");
            }
            Ok(())
        }
    }
}

/// The entry id heartbeat pings report under (queue ids start at 1).
const BEAT: u64 = 0;

/// The task behind [`Notifier`].
struct Worker {
    setup: Setup,
    places: Vec<Place>,
    queue: queue::Queue,
    in_flight: HashSet<String>,
    http: Option<send::Http>,
    metrics: metrics::Metrics,
    /// What is wrong per record and family, for the heartbeat (`None`: all well).
    trouble: BTreeMap<(String, &'static str), String>,
    /// The queue file has been read.
    loaded: bool,
    /// Heartbeat pings under way (a flush waits for them too).
    beats: usize,
    done_tx: mpsc::UnboundedSender<(u64, String, Result<(), Failure>)>,
    done_rx: mpsc::UnboundedReceiver<(u64, String, Result<(), Failure>)>,
    flushes: Vec<(Instant, oneshot::Sender<usize>)>,
}

impl Worker {
    fn new(setup: Setup) -> Worker {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let mut w = Worker {
            places: Vec::new(),
            queue: queue::Queue::default(),
            in_flight: HashSet::new(),
            http: None,
            metrics: metrics::Metrics::default(),
            trouble: BTreeMap::new(),
            loaded: false,
            beats: 0,
            done_tx,
            done_rx,
            flushes: Vec::new(),
            setup,
        };
        w.configure();
        w
    }

    fn configure(&mut self) {
        self.places = places(&self.setup.settings);
        if self.setup.settings.is_active() && self.http.is_none() {
            match send::Http::new() {
                Ok(h) => self.http = Some(h),
                Err(e) => warn!(error = %e, "notifications cannot be sent"),
            }
        }
        if self.setup.live && !self.places.is_empty() {
            // The file is read once; a reload keeps the queue in memory, whose entry
            // ids the deliveries under way answer to.
            let mut q = if self.loaded {
                std::mem::take(&mut self.queue)
            } else {
                queue::load(&self.setup.state_dir)
            };
            self.loaded = true;
            let ids: Vec<String> = self.places.iter().map(|p| p.id.clone()).collect();
            let gone = q.prune(crate::state::wall_now(), &ids);
            if gone > 0 {
                info!(
                    events = gone,
                    "notifications expired or no longer configured; dropped"
                );
            }
            if !q.entries.is_empty() {
                info!(
                    events = q.entries.len(),
                    "notifications still owed; delivering"
                );
            }
            self.queue = q;
            self.save_queue();
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        loop {
            self.dispatch();
            self.answer_flushes();
            let retry = self.queue.next_retry(Instant::now());
            let flush = self.flushes.iter().map(|(d, _)| *d).min();
            tokio::select! {
                m = rx.recv() => match m {
                    None => break,
                    Some(Msg::Event(e)) => self.on_event(e),
                    Some(Msg::NetworkBack) => self.queue.network_back(Instant::now()),
                    Some(Msg::Beat(failure)) => self.ping(failure),
                    Some(Msg::Reconfigure(s)) => {
                        self.setup = *s;
                        self.configure();
                    }
                    Some(Msg::Flush(deadline, tx)) => self.flushes.push((deadline, tx)),
                },
                Some((id, place, r)) = self.done_rx.recv() => self.on_done(id, &place, r),
                () = sleep_until(retry), if retry.is_some() => {}
                () = sleep_until(flush), if flush.is_some() => {}
            }
        }
    }

    fn on_event(&mut self, e: Event) {
        debug!(event = e.kind.as_str(), record = %e.hostname, "notify event");
        if !self.setup.live {
            return;
        }
        if let Err(err) = history::append(&self.setup.state_dir, &e) {
            warn!(error = %err, "cannot write the event history");
        }
        if let Some(path) = &self.setup.metrics_file
            && self.metrics.apply(&e)
            && let Err(err) = metrics::write(path, &self.metrics)
        {
            warn!(file = %path.display(), error = %err, "cannot write the metrics file");
        }
        self.track(&e);
        let wanted = e.kind == Kind::Test || self.setup.settings.events.contains(&e.kind);
        if wanted && !self.places.is_empty() {
            let ids: Vec<String> = self.places.iter().map(|p| p.id.clone()).collect();
            self.queue.push(e, &ids);
            self.save_queue();
        }
    }

    /// Health per record for the heartbeat; a publish pings at once.
    fn track(&mut self, e: &Event) {
        let key = (e.hostname.clone(), e.family_str());
        match e.kind {
            k if k.is_trouble() || k == Kind::Drift => {
                self.trouble.insert(key, e.message.clone());
            }
            Kind::Published | Kind::Visible | Kind::Recovered => {
                self.trouble.remove(&key);
            }
            _ => {}
        }
        // A publish is reported at once; so is trouble (healthchecks alerts on /fail).
        let urgent = e.kind == Kind::Published || e.kind.is_trouble() || e.kind == Kind::Drift;
        if urgent && self.setup.settings.heartbeat_url.is_some() {
            self.ping(self.trouble.values().next().cloned());
        }
    }

    /// One heartbeat ping: `reason` is what is wrong (`<url>/fail`), `None` all well.
    fn ping(&mut self, reason: Option<String>) {
        let (Some(url), Some(http)) = (&self.setup.settings.heartbeat_url, &self.http) else {
            return;
        };
        if !self.setup.live {
            return;
        }
        let req = heartbeat::ping(url.expose(), reason.as_deref());
        let shown = heartbeat::label(url.expose());
        let (http, done) = (http.clone(), self.done_tx.clone());
        self.beats += 1;
        tokio::spawn(async move {
            match http.send(&req).await {
                Ok((s, _)) if (200..300).contains(&s) => debug!(url = %shown, "heartbeat sent"),
                Ok((s, b)) => {
                    warn!(url = %shown, answer = %send::describe(s, &b), "heartbeat refused")
                }
                Err(e) => warn!(url = %shown, error = %e, "heartbeat not sent"),
            }
            let _ = done.send((BEAT, String::new(), Ok(())));
        });
    }

    /// Starts every due delivery whose target is free, within `MAX_IN_FLIGHT`.
    fn dispatch(&mut self) {
        let Some(http) = self.http.clone() else {
            return;
        };
        for (id, place_id) in self.queue.due(Instant::now()) {
            if self.in_flight.len() >= MAX_IN_FLIGHT {
                break;
            }
            if self.in_flight.contains(&place_id) {
                continue;
            }
            let (Some(place), Some(entry)) = (
                self.places.iter().find(|p| p.id == place_id),
                self.queue.entry(id),
            ) else {
                continue;
            };
            self.in_flight.insert(place_id.clone());
            let (sink, event, text) = (place.sink.clone(), entry.event.clone(), entry.text());
            let (ends, timeout, done) = (
                self.setup.endpoints.clone(),
                self.setup.command_timeout,
                self.done_tx.clone(),
            );
            let http = http.clone();
            tokio::spawn(async move {
                let r = deliver(&http, &sink, &event, &text, &ends, timeout).await;
                let _ = done.send((id, place_id, r));
            });
        }
    }

    fn on_done(&mut self, id: u64, place_id: &str, r: Result<(), Failure>) {
        if id == BEAT {
            self.beats -= 1;
            return;
        }
        self.in_flight.remove(place_id);
        let label = self
            .places
            .iter()
            .find(|p| p.id == place_id)
            .map_or_else(|| "a removed target".to_string(), Place::label);
        let kind = self.queue.entry(id).map_or("", |e| e.event.kind.as_str());
        match r {
            Ok(()) => {
                info!(target = %label, event = kind, "notification delivered");
                if self.queue.delivered(id, place_id) {
                    self.save_queue();
                }
            }
            Err(f) => {
                warn!(target = %label, event = kind, error = %f.text, "notification not delivered; will retry");
                self.queue.failed(id, place_id, Instant::now(), f.network);
            }
        }
    }

    fn answer_flushes(&mut self) {
        let now = Instant::now();
        let owed: usize = self.queue.entries.iter().map(|e| e.pending.len()).sum();
        let busy = !self.in_flight.is_empty() || self.beats > 0 || !self.queue.due(now).is_empty();
        let mut keep = Vec::new();
        for (deadline, tx) in self.flushes.drain(..) {
            if !busy || deadline <= now {
                let _ = tx.send(owed);
            } else {
                keep.push((deadline, tx));
            }
        }
        self.flushes = keep;
    }

    fn save_queue(&self) {
        if let Err(e) = queue::save(&self.setup.state_dir, &self.queue) {
            warn!(dir = %self.setup.state_dir.display(), error = %e, "cannot write the notification queue");
        }
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it (a name node_exporter
/// ignores), fsync, rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// A config with one record (`a.example.com`) and nothing else, for tests.
#[cfg(test)]
pub(crate) fn one_record() -> crate::config::Config {
    let text = "[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\npassword = \"p\"\n\
                interface = \"ppp0\"\n";
    crate::config::parse(text, None).unwrap().config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_uci_give_the_same_settings() {
        let toml = "[notify]\nurls = [\"ntfy://ntfy.sh/t1\", \"discord://tok@42\"]\n\
                    command = [\"/usr/bin/logger\", \"-t\", \"dynhost\"]\n\
                    events = [\"published\", \"visible\"]\n\
                    heartbeat_url = \"https://hc-ping.com/u\"\nheartbeat = \"1h\"\n\
                    [[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\n\
                    password = \"p\"\ninterface = \"ppp0\"\n";
        let uci = "config dynhost 'main'\n\tlist notify_url 'ntfy://ntfy.sh/t1'\n\
                   \tlist notify_url 'discord://tok@42'\n\tlist notify_command '/usr/bin/logger'\n\
                   \tlist notify_command '-t'\n\tlist notify_command 'dynhost'\n\
                   \tlist notify_event 'published'\n\tlist notify_event 'visible'\n\
                   \toption heartbeat_url 'https://hc-ping.com/u'\n\toption heartbeat '1h'\n\
                   config record\n\toption hostname 'a.example.com'\n\toption username 'u'\n\
                   \toption password 'p'\n\toption interface 'ppp0'\n";
        let t = crate::config::parse(toml, None).unwrap().config.notify;
        let u = crate::config::parse(uci, None)
            .unwrap_or_else(|e| panic!("{e}"))
            .config
            .notify;
        assert_eq!(t, u);
        assert_eq!(t.urls.len(), 2);
        assert_eq!(t.command, ["/usr/bin/logger", "-t", "dynhost"]);
        assert_eq!(t.events, [Kind::Published, Kind::Visible]);
        assert_eq!(t.heartbeat, Some(Duration::from_secs(3600)));
        assert!(t.is_active());
        // Debug never shows a token.
        assert!(!format!("{t:?}").contains("t1"), "{t:?}");
    }

    #[test]
    fn defaults_send_nothing_and_list_the_default_events() {
        let c = one_record();
        assert!(!c.notify.is_active());
        assert_eq!(c.notify.events, Kind::DEFAULT);
        assert_eq!(c.metrics_file, None);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(check_command(&["relative".into()]).is_err());
        assert!(check_command(&[]).is_err());
        assert!(check_events(&["published".into(), "published".into()]).is_err());
        assert!(check_events(&["test".into()]).is_err());
        assert!(
            check_urls(&["ntfy://ntfy.sh/t".into(), "x://y".into()])
                .unwrap_err()
                .starts_with("[1]")
        );
    }
}
