//! The daemon's driver loop under tokio's paused clock, with a fake kernel and a fake
//! provider: hours of retries and reconnects play out in milliseconds, and every wait
//! must go through tokio's timers for these tests to pass at all.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use dynhost::config::{self, Config};
use dynhost::driver::{Announcements, Command, Edges, Kernel, Outside, Watch, daemon};
use dynhost::engine::{Checked, Dns, Found, Query, SlotMemory};
use dynhost::model::{
    AddrFlags, AddrInfo, Family, Interest, LinkInfo, NetEvent, RouteInfo, Scope, Snapshot,
};
use dynhost::provider::reply::{Code, Outcome, Reply};
use dynhost::provider::{Publish, Update};
use dynhost::state::{StateMap, Store};

/// What the fake kernel shows and whether its socket works.
#[derive(Default)]
struct World {
    addrs: Vec<&'static str>,
    /// Events waiting for the subscribed watch.
    events: VecDeque<NetEvent>,
    /// Each subscription, in order; `false` entries fail to open.
    subscribe_ok: VecDeque<bool>,
    subscriptions: usize,
    /// The address families of each successful subscription.
    families: Vec<Vec<Family>>,
    dumps: usize,
    /// Ends the current watch's stream (the socket died).
    kill_watch: bool,
    notify: Option<mpsc::UnboundedSender<()>>,
    /// The next hop of ppp0's default route.
    gateway: Option<&'static str>,
    /// ppp0 is down (`true` unless a test says otherwise).
    link_down: bool,
}

type Shared = Rc<RefCell<World>>;

fn snapshot(w: &World) -> Snapshot {
    Snapshot {
        links: vec![LinkInfo {
            index: 7,
            name: "ppp0".into(),
            up: !w.link_down,
        }],
        addrs: w
            .addrs
            .iter()
            .map(|a| AddrInfo {
                index: 7,
                addr: a.parse().unwrap(),
                prefix_len: 32,
                scope: Scope::Global,
                flags: AddrFlags::default(),
            })
            .collect(),
        routes: w
            .gateway
            .iter()
            .map(|g| RouteInfo {
                index: 7,
                gateway: Some(g.parse().unwrap()),
            })
            .collect(),
    }
}

/// Sources outside the kernel, scripted: each question gets the next answer (or an
/// error once they run out); announcements come from `announce`.
#[derive(Clone, Default)]
struct FakeOutside {
    asked: Rc<RefCell<Vec<(Instant, Query)>>>,
    answers: Rc<RefCell<VecDeque<Result<Found, String>>>>,
    announce: Rc<RefCell<Option<mpsc::UnboundedSender<Ipv4Addr>>>>,
    listened: Rc<RefCell<Vec<Vec<u32>>>>,
    /// DNS checks: when each was asked, and the answers to give (unknown when out).
    checked: Rc<RefCell<Vec<(Instant, IpAddr)>>>,
    dns: Rc<RefCell<VecDeque<Checked>>>,
    /// How long each source takes to answer (none: at once).
    slow: Rc<RefCell<Option<Duration>>>,
}

struct FakeListen(mpsc::UnboundedReceiver<Ipv4Addr>);

impl Announcements for FakeListen {
    async fn next(&mut self) -> Ipv4Addr {
        match self.0.recv().await {
            Some(a) => a,
            None => std::future::pending().await,
        }
    }
}

impl Outside for FakeOutside {
    type Listen = FakeListen;
    fn find(&self, q: &Query) -> impl Future<Output = Result<Found, String>> + 'static {
        self.asked.borrow_mut().push((Instant::now(), q.clone()));
        let answer = self
            .answers
            .borrow_mut()
            .pop_front()
            .unwrap_or(Err("no answer scripted".into()));
        let slow = *self.slow.borrow();
        async move {
            if let Some(d) = slow {
                tokio::time::sleep(d).await;
            }
            answer
        }
    }
    fn listen(&mut self, links: &[u32]) -> io::Result<FakeListen> {
        self.listened.borrow_mut().push(links.to_vec());
        let (tx, rx) = mpsc::unbounded_channel();
        *self.announce.borrow_mut() = Some(tx);
        Ok(FakeListen(rx))
    }
    fn reconfigure(&mut self, _: &Config) -> Result<(), String> {
        Ok(())
    }
    fn verify(
        &self,
        _: &str,
        _: Family,
        expected: IpAddr,
    ) -> impl Future<Output = Checked> + 'static {
        self.checked.borrow_mut().push((Instant::now(), expected));
        let answer = self.dns.borrow_mut().pop_front().unwrap_or(Checked {
            dns: Dns::Unknown,
            server: "no answer scripted".into(),
        });
        std::future::ready(answer)
    }
}

fn found(addr: &str, via: &str) -> Result<Found, String> {
    Ok(Found {
        addr: addr.parse().unwrap(),
        via: via.into(),
    })
}

struct FakeKernel(Shared);

struct FakeWatch {
    world: Shared,
    wake: mpsc::UnboundedReceiver<()>,
}

impl Kernel for FakeKernel {
    type Watch = FakeWatch;
    fn subscribe(&mut self, interest: &Interest) -> io::Result<FakeWatch> {
        let families = &interest.families;
        let mut w = self.0.borrow_mut();
        w.subscriptions += 1;
        if !w.subscribe_ok.pop_front().unwrap_or(true) {
            return Err(io::Error::other("ENOMEM (simulated)"));
        }
        w.families.push(families.to_vec());
        w.kill_watch = false;
        let (tx, rx) = mpsc::unbounded_channel();
        w.notify = Some(tx);
        Ok(FakeWatch {
            world: self.0.clone(),
            wake: rx,
        })
    }

    fn dump(&self, _routes: bool) -> impl Future<Output = Result<Snapshot, String>> + 'static {
        let world = self.0.clone();
        async move {
            let mut w = world.borrow_mut();
            w.dumps += 1;
            Ok(snapshot(&w))
        }
    }
}

impl Watch for FakeWatch {
    async fn next(&mut self) -> Option<NetEvent> {
        loop {
            {
                let mut w = self.world.borrow_mut();
                if w.kill_watch {
                    return None;
                }
                if let Some(ev) = w.events.pop_front() {
                    return Some(ev);
                }
            }
            self.wake.recv().await?;
        }
    }
}

/// Changes the kernel's addresses and tells the watch, as netlink would.
fn set_addrs(world: &Shared, addrs: &[&'static str]) {
    let mut w = world.borrow_mut();
    w.addrs = addrs.to_vec();
    w.events.push_back(NetEvent::Addr {
        index: 7,
        family: Some(Family::V4),
    });
    if let Some(n) = &w.notify {
        let _ = n.send(());
    }
}

/// Takes ppp0 down or brings it back with its addresses unchanged, as netlink would.
fn set_link(world: &Shared, up: bool) {
    let mut w = world.borrow_mut();
    w.link_down = !up;
    w.events.push_back(NetEvent::Link {
        index: 7,
        name: Some("ppp0".into()),
        removed: false,
        up,
    });
    if let Some(n) = &w.notify {
        let _ = n.send(());
    }
}

fn kill_watch(world: &Shared) {
    let mut w = world.borrow_mut();
    w.kill_watch = true;
    if let Some(n) = &w.notify {
        let _ = n.send(());
    }
}

/// A provider that answers from a script, after an optional delay per hostname.
#[derive(Clone, Default)]
struct FakeProvider {
    log: Rc<RefCell<Vec<(Instant, String, IpAddr)>>>,
    script: Rc<RefCell<VecDeque<Outcome>>>,
    slow: Rc<RefCell<Option<(String, Duration)>>>,
}

impl Publish for FakeProvider {
    fn publish(&self, req: Update) -> impl Future<Output = Outcome> + 'static {
        let me = self.clone();
        async move {
            me.log
                .borrow_mut()
                .push((Instant::now(), req.key.hostname.clone(), req.addr));
            let delay = me
                .slow
                .borrow()
                .as_ref()
                .filter(|(h, _)| *h == req.key.hostname || h == "*")
                .map(|(_, d)| *d);
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            let scripted = me.script.borrow_mut().pop_front();
            scripted.unwrap_or(Outcome::Reply(Reply::Good(Some(req.addr))))
        }
    }
}

fn test_config(dir: &std::path::Path, records: &[&str]) -> Config {
    let mut text = format!("state_dir = \"{}\"\n", dir.display());
    for host in records {
        text.push_str(&format!(
            "[[record]]\nhostname = \"{host}\"\nusername = \"u\"\npassword = \"p\"\ninterface = \"ppp0\"\n"
        ));
    }
    config::parse(&text, None).unwrap().config
}

struct Harness {
    world: Shared,
    provider: FakeProvider,
    outside: FakeOutside,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    commands: mpsc::UnboundedSender<Command>,
    dir: Dir,
}

struct Dir(std::path::PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the daemon loop on the current (paused) runtime.
fn start(name: &str, records: &[&str], addrs: &[&'static str]) -> Harness {
    let dir = std::env::temp_dir().join(format!("dynhost-driver-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = test_config(&dir, records);
    start_with(dir, config, addrs, None)
}

/// Starts the daemon loop with `config`, ppp0 holding `addrs`, its default route via
/// `gateway`.
fn start_with(
    dir: std::path::PathBuf,
    config: Config,
    addrs: &[&'static str],
    gateway: Option<&'static str>,
) -> Harness {
    start_from(dir, config, addrs, gateway, StateMap::new())
}

/// `start_with`, from a state file that says `state`.
fn start_from(
    dir: std::path::PathBuf,
    config: Config,
    addrs: &[&'static str],
    gateway: Option<&'static str>,
    state: StateMap,
) -> Harness {
    let world: Shared = Rc::new(RefCell::new(World {
        addrs: addrs.to_vec(),
        gateway,
        ..Default::default()
    }));
    let provider = FakeProvider::default();
    let outside = FakeOutside::default();
    let edges = Edges {
        store: Store::new(&config.state_dir, false),
        config,
        kernel: FakeKernel(world.clone()),
        publisher: provider.clone(),
        outside: outside.clone(),
        state,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (commands, rx) = mpsc::unbounded_channel();
    let p2 = provider.clone();
    tokio::task::spawn_local(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        daemon::run(edges, move |_| Ok(p2.clone()), rx, shutdown, || {})
            .await
            .unwrap();
    });
    Harness {
        world,
        provider,
        outside,
        stop: Some(stop),
        commands,
        dir: Dir(dir),
    }
}

impl Harness {
    fn sent(&self) -> Vec<(Instant, String, IpAddr)> {
        self.provider.log.borrow().clone()
    }

    fn addrs_sent(&self) -> Vec<String> {
        self.sent().iter().map(|(_, _, a)| a.to_string()).collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn run_for(d: Duration) {
    tokio::time::sleep(d).await;
}

fn local<F: Future<Output = ()>>(f: F) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f);
}

const S: Duration = Duration::from_secs(1);

#[test]
fn after_911_the_newest_address_goes_out_30_virtual_minutes_later() {
    local(async {
        let h = start("911", &["home.example.com"], &["203.0.113.1"]);
        h.provider
            .script
            .borrow_mut()
            .push_back(Outcome::Reply(Reply::Code(Code::Emergency)));
        run_for(S).await;
        let t911 = h.sent()[0].0;
        set_addrs(&h.world, &["203.0.113.2"]);
        run_for(10 * 60 * S).await;
        set_addrs(&h.world, &["203.0.113.3"]);
        run_for(19 * 60 * S).await;
        assert_eq!(h.sent().len(), 1, "nothing during the 30 minutes");
        run_for(2 * 60 * S).await;
        let sent = h.sent();
        assert_eq!(sent.len(), 2);
        assert!(sent[1].0 - t911 >= 30 * 60 * S);
        assert_eq!(sent[1].2.to_string(), "203.0.113.3", "the newest, not .2");
    });
}

#[test]
fn a_dead_netlink_socket_is_reopened_with_backoff_and_resynced() {
    local(async {
        let h = start("reopen", &["home.example.com"], &["203.0.113.1"]);
        run_for(S).await;
        assert_eq!(h.addrs_sent(), ["203.0.113.1"]);
        // The socket dies; the first two reopen attempts fail too.
        h.world
            .borrow_mut()
            .subscribe_ok
            .extend([false, false, true]);
        h.world.borrow_mut().addrs = vec!["203.0.113.9"];
        kill_watch(&h.world);
        // Attempts at +1 s, +1+2 s and +1+2+4 s.
        run_for(Duration::from_millis(1500)).await;
        assert_eq!(h.world.borrow().subscriptions, 2, "first reopen after 1 s");
        run_for(2 * S).await;
        assert_eq!(h.world.borrow().subscriptions, 3, "second 2 s later");
        assert_eq!(h.addrs_sent(), ["203.0.113.1"], "still deaf");
        run_for(4 * S).await;
        assert_eq!(
            h.world.borrow().subscriptions,
            4,
            "third 4 s later, and it works"
        );
        run_for(2 * S).await; // the resync joins the debounce
        assert_eq!(
            h.addrs_sent(),
            ["203.0.113.1", "203.0.113.9"],
            "the change made while deaf is found by the resync dump"
        );
    });
}

#[test]
fn a_hanging_request_for_one_record_does_not_delay_another() {
    local(async {
        let h = start(
            "indep",
            &["slow.example.com", "fast.example.com"],
            &["203.0.113.1"],
        );
        *h.provider.slow.borrow_mut() = Some(("slow.example.com".into(), 3600 * S));
        run_for(S).await;
        set_addrs(&h.world, &["203.0.113.2"]);
        run_for(3 * S).await;
        let fast: Vec<String> = h
            .sent()
            .iter()
            .filter(|(_, host, _)| host == "fast.example.com")
            .map(|(_, _, a)| a.to_string())
            .collect();
        assert_eq!(fast, ["203.0.113.1", "203.0.113.2"]);
    });
}

/// Answers that come back together are applied together: one state write (temporary
/// file, fsync, rename) for the burst, not one per answer.
#[test]
fn answers_that_arrive_together_cost_one_state_write() {
    let log = dynhost::logging::capture(|| {
        local(async {
            let hosts: Vec<String> = (0..8).map(|i| format!("h{i}.example.com")).collect();
            let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
            let h = start("burst", &hosts, &["203.0.113.1"]);
            *h.provider.slow.borrow_mut() = Some(("*".into(), 2 * S));
            run_for(S).await;
            assert_eq!(h.sent().len(), 8, "all eight under way at once");
            run_for(2 * S).await;
            let mut written = Store::new(&h.dir.0, false).load().unwrap();
            written.retain(|_, m| m.published.is_some());
            assert_eq!(written.len(), 8, "every answer is in the state file");
        });
    });
    // (The daemon writes the state once at start, before any answer.)
    let first = log.iter().position(|l| l.contains("published")).unwrap();
    let writes = log[first..]
        .iter()
        .filter(|l| l.contains("state written"))
        .count();
    assert_eq!(
        writes, 1,
        "eight answers at one instant, one write:\n{log:#?}"
    );
}

#[test]
fn an_idle_daemon_does_nothing_for_a_day() {
    local(async {
        let h = start("idle", &["home.example.com"], &["203.0.113.1"]);
        run_for(S).await;
        let dumps = h.world.borrow().dumps;
        run_for(24 * 3600 * S).await;
        assert_eq!(h.sent().len(), 1);
        assert_eq!(h.world.borrow().dumps, dumps, "no periodic re-reads");
    });
}

#[test]
fn backoff_grows_and_is_capped() {
    local(async {
        let h = start("backoff", &["home.example.com"], &["203.0.113.1"]);
        h.provider
            .script
            .borrow_mut()
            .extend((0..12).map(|_| Outcome::Reply(Reply::Status(503))));
        run_for(4 * 3600 * S).await;
        let times: Vec<Instant> = h.sent().iter().map(|s| s.0).collect();
        let gaps: Vec<u64> = times.windows(2).map(|w| (w[1] - w[0]).as_secs()).collect();
        // 30 s doubling (less up to 20 % jitter) up to the 1 h cap, then success.
        let bases = [30, 60, 120, 240, 480, 960, 1920, 3600, 3600];
        assert!(gaps.len() >= bases.len(), "{gaps:?}");
        for (gap, base) in gaps.iter().zip(bases) {
            assert!(*gap <= base && *gap >= base * 4 / 5 - 1, "{gaps:?}");
        }
    });
}

#[test]
fn the_address_families_subscribed_follow_the_records() {
    local(async {
        let h = start("families", &["home.example.com"], &["203.0.113.1"]);
        run_for(S).await;
        assert_eq!(h.world.borrow().families, [vec![Family::V4]]);
        let reload = |ipv6: bool| {
            let text = format!(
                "state_dir = \"{}\"\n[[record]]\nhostname = \"home.example.com\"\n\
                 username = \"u\"\npassword = \"p\"\ninterface = \"ppp0\"\nipv6 = {ipv6}\n",
                h.dir.0.display()
            );
            let config = config::parse(&text, None).unwrap().config;
            h.commands.send(Command::Reload(Box::new(config))).unwrap();
        };
        // IPv6 added: subscribed again with both families, and resynced.
        let dumps = h.world.borrow().dumps;
        reload(true);
        // The new socket is in place before the reload's dump: no failed dump and
        // no wait for a retry or a debounce.
        run_for(Duration::from_millis(100)).await;
        assert_eq!(
            h.world.borrow().families,
            [vec![Family::V4], vec![Family::V4, Family::V6]]
        );
        assert!(h.world.borrow().dumps > dumps, "a dump after the reload");
        // The same families again: the watch is kept.
        reload(true);
        run_for(5 * S).await;
        assert_eq!(h.world.borrow().subscriptions, 2);
        // Still followed: a change after the resubscription is published.
        set_addrs(&h.world, &["203.0.113.2"]);
        run_for(5 * S).await;
        assert_eq!(
            h.addrs_sent().last().map(String::as_str),
            Some("203.0.113.2")
        );
    });
}

// ---- the one-shot round (`dynhost update` without a daemon) ---------------------------

use dynhost::driver::oneshot::{self, RoundError};
use dynhost::engine::{SlotKey, SlotResult};
use dynhost::request::UpdateRequest;

/// A one-shot round's edges over the fake kernel and provider, with `state` on disk.
fn one_shot(
    name: &str,
    config_text: &str,
    addrs: &[&'static str],
    state: StateMap,
) -> (
    Edges<FakeKernel, FakeProvider, FakeOutside>,
    Shared,
    FakeProvider,
    Dir,
) {
    let dir = std::env::temp_dir().join(format!("dynhost-oneshot-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let world: Shared = Rc::new(RefCell::new(World {
        addrs: addrs.to_vec(),
        ..Default::default()
    }));
    let text = format!("state_dir = \"{}\"\n{config_text}", dir.display());
    let config = config::parse(&text, None).unwrap().config;
    let provider = FakeProvider::default();
    let edges = Edges {
        store: Store::new(&config.state_dir, false),
        config,
        kernel: FakeKernel(world.clone()),
        publisher: provider.clone(),
        outside: FakeOutside::default(),
        state,
    };
    (edges, world, provider, Dir(dir))
}

const HOME_PPP0: &str = "[[record]]\nhostname = \"home.example.com\"\nusername = \"u\"\n\
                         password = \"p\"\ninterface = \"ppp0\"\n";
const OTHER_ETH1: &str = "[[record]]\nhostname = \"other.example.com\"\nusername = \"u\"\n\
                          password = \"p\"\ninterface = \"eth1\"\n";

fn v4(host: &str) -> SlotKey {
    SlotKey {
        hostname: host.into(),
        family: Family::V4,
    }
}

#[test]
fn a_one_shot_round_dumps_once_sends_and_persists_what_it_published() {
    local(async {
        let (mut edges, world, provider, _dir) =
            one_shot("basic", HOME_PPP0, &["203.0.113.1"], StateMap::new());
        let round = oneshot::run(&mut edges, &UpdateRequest::default())
            .await
            .unwrap();
        assert_eq!(world.borrow().dumps, 1);
        assert_eq!(provider.log.borrow().len(), 1);
        assert_eq!(
            round.reports[0].result,
            SlotResult::UpToDate("203.0.113.1".parse().unwrap())
        );
        assert!(!round.failed());
        let saved = Store::new(&edges.config.state_dir, true).load().unwrap();
        let published = saved[&v4("home.example.com")].published.clone().unwrap();
        assert_eq!(published.addr.to_string(), "203.0.113.1");
        assert!(round.summary().contains("published 203.0.113.1"));
    });
}

#[test]
fn a_one_shot_round_with_an_address_reads_no_interface() {
    local(async {
        let (mut edges, world, provider, _dir) =
            one_shot("ip", HOME_PPP0, &["203.0.113.1"], StateMap::new());
        let request = UpdateRequest {
            ip: Some("198.51.100.7".parse().unwrap()),
            ..Default::default()
        };
        oneshot::run(&mut edges, &request).await.unwrap();
        assert_eq!(world.borrow().dumps, 0, "the hook gave the address");
        let sent: Vec<String> = provider
            .log
            .borrow()
            .iter()
            .map(|s| s.2.to_string())
            .collect();
        assert_eq!(sent, ["198.51.100.7"]);
    });
}

#[test]
fn a_one_shot_round_covers_only_the_records_the_request_names() {
    local(async {
        let text = format!("{HOME_PPP0}{OTHER_ETH1}");
        let mut state = StateMap::new();
        // A retry the other record waits for must survive a round that is not its own.
        let later = dynhost::state::wall_now() + 600;
        state.insert(
            v4("other.example.com"),
            SlotMemory {
                retry_at: Some(later),
                ..Default::default()
            },
        );
        let (mut edges, _world, provider, _dir) = one_shot("scope", &text, &["203.0.113.1"], state);
        let request = UpdateRequest {
            interface: Some("ppp0".into()),
            ..Default::default()
        };
        let round = oneshot::run(&mut edges, &request).await.unwrap();
        let hosts: Vec<&str> = round
            .reports
            .iter()
            .map(|r| r.key.hostname.as_str())
            .collect();
        assert_eq!(
            hosts,
            ["home.example.com"],
            "the other record is not reported"
        );
        let sent: Vec<String> = provider.log.borrow().iter().map(|s| s.1.clone()).collect();
        assert_eq!(sent, ["home.example.com"]);
        let saved = Store::new(&edges.config.state_dir, true).load().unwrap();
        assert_eq!(
            saved[&v4("other.example.com")].retry_at,
            Some(later),
            "the other record's state is kept as it was"
        );
    });
}

#[test]
fn a_one_shot_round_for_an_interface_nobody_follows_is_refused() {
    local(async {
        let (mut edges, world, _provider, _dir) =
            one_shot("refused", HOME_PPP0, &["203.0.113.1"], StateMap::new());
        let request = UpdateRequest {
            interface: Some("eth9".into()),
            ..Default::default()
        };
        let err = oneshot::run(&mut edges, &request).await.err().unwrap();
        assert!(matches!(err, RoundError::Request(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "no enabled record follows interface \"eth9\""
        );
        assert_eq!(world.borrow().dumps, 0);
    });
}

#[test]
fn a_one_shot_round_waits_out_a_retry_unless_forced() {
    local(async {
        let mut state = StateMap::new();
        let later = dynhost::state::wall_now() + 600;
        state.insert(
            v4("home.example.com"),
            SlotMemory {
                retry_at: Some(later),
                ..Default::default()
            },
        );
        let (mut edges, _world, provider, _dir) =
            one_shot("retry", HOME_PPP0, &["203.0.113.1"], state);
        let round = oneshot::run(&mut edges, &UpdateRequest::default())
            .await
            .unwrap();
        assert!(
            provider.log.borrow().is_empty(),
            "a hook cannot hammer the provider"
        );
        assert!(round.failed());
        let summary = round.summary();
        assert!(summary.contains("next attempt allowed in"), "{summary}");
        assert!(
            !summary.contains("daemon"),
            "no daemon runs here: {summary}"
        );
        let force = UpdateRequest {
            force: true,
            ..Default::default()
        };
        oneshot::run(&mut edges, &force).await.unwrap();
        assert_eq!(provider.log.borrow().len(), 1, "--force sends now");
    });
}

// ---- behind another router: the gateway and web sources ----------------------------

fn gateway_config(name: &str, extra: &str) -> (std::path::PathBuf, Config) {
    let dir = std::env::temp_dir().join(format!("dynhost-driver-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!(
        "state_dir = \"{}\"\n{extra}\n[[record]]\nhostname = \"home.example.com\"\n\
         username = \"u\"\npassword = \"p\"\ninterface = \"ppp0\"\n",
        dir.display()
    );
    let text = if text.contains("ipv4_source") {
        text
    } else {
        format!("{text}ipv4_source = \"gateway\"\n")
    };
    (dir.clone(), config::parse(&text, None).unwrap().config)
}

fn announce(h: &Harness, from: &str) {
    let tx = h.outside.announce.borrow().clone().expect("listening");
    tx.send(from.parse().unwrap()).unwrap();
}

fn queries(h: &Harness) -> Vec<Query> {
    h.outside
        .asked
        .borrow()
        .iter()
        .map(|(_, q)| q.clone())
        .collect()
}

#[test]
fn a_record_behind_nat_publishes_what_its_gateway_reports_and_follows_its_announcements() {
    local(async {
        let (dir, config) = gateway_config("gw", "");
        let h = start_with(dir, config, &["192.168.1.20"], Some("192.168.1.1"));
        h.outside.answers.borrow_mut().extend([
            found("203.0.113.7", "NAT-PMP"),
            found("203.0.113.8", "NAT-PMP"),
        ]);
        run_for(S).await;
        assert_eq!(h.addrs_sent(), ["203.0.113.7"]);
        assert_eq!(
            queries(&h),
            [Query::Gateway {
                interface: "ppp0".into(),
                link: 7,
                gateway: "192.168.1.1".parse().unwrap(),
                client: "192.168.1.20".parse().unwrap(),
            }]
        );
        assert_eq!(*h.outside.listened.borrow(), [vec![7]], "listening on ppp0");
        // Another host on the LAN cannot make us ask.
        announce(&h, "192.168.1.66");
        run_for(5 * S).await;
        assert_eq!(queries(&h).len(), 1);
        // The gateway's announcement joins the debounce: one question, one update.
        let t = Instant::now();
        announce(&h, "192.168.1.1");
        run_for(5 * S).await;
        assert_eq!(queries(&h).len(), 2);
        assert_eq!(h.addrs_sent(), ["203.0.113.7", "203.0.113.8"]);
        let took = h.sent()[1].0 - t;
        assert!(took <= S + Duration::from_millis(10), "{took:?}");
    });
}

#[test]
fn the_gateway_is_asked_again_without_an_event_only_at_the_safety_interval() {
    local(async {
        let (dir, config) = gateway_config("gw-idle", "[gateway]\ncheck = \"10m\"\n");
        let h = start_with(dir, config, &["192.168.1.20"], Some("192.168.1.1"));
        h.outside
            .answers
            .borrow_mut()
            .extend((0..200).map(|_| found("203.0.113.7", "NAT-PMP")));
        run_for(S).await;
        run_for(24 * 3600 * S).await;
        // Once at start, then every 10 minutes: 144 in a day, and nothing else.
        assert_eq!(queries(&h).len(), 1 + 144);
        assert_eq!(h.sent().len(), 1, "the same address is not sent again");
        let asked = h.outside.asked.borrow();
        for w in asked.windows(2) {
            assert_eq!(w[1].0 - w[0].0, 600 * S);
        }
    });
}

#[test]
fn a_silent_gateway_falls_through_to_the_web_source() {
    local(async {
        let (dir, config) = gateway_config("gw-web", "[web]\nurls = [\"http://127.0.0.1:9/\"]\n");
        let mut config = config;
        config.records[0].ipv4_source =
            vec![dynhost::model::Source::Gateway, dynhost::model::Source::Web];
        let h = start_with(dir, config, &["192.168.1.20"], Some("192.168.1.1"));
        h.outside.answers.borrow_mut().extend([
            Err("NAT-PMP: no answer within 3.75 s".to_string()),
            found("203.0.113.9", "http://127.0.0.1:9/"),
        ]);
        run_for(S).await;
        let asked = queries(&h);
        assert!(matches!(asked[0], Query::Gateway { .. }), "{asked:?}");
        assert_eq!(asked[1], Query::Web { family: Family::V4 });
        assert_eq!(h.addrs_sent(), ["203.0.113.9"]);
    });
}

#[test]
fn a_web_answer_that_arrives_after_a_reload_to_the_interface_is_dropped() {
    local(async {
        let (dir, config) =
            gateway_config("web-reload", "[web]\nurls = [\"http://127.0.0.1:9/\"]\n");
        let mut config = config;
        config.records[0].ipv4_source = vec![dynhost::model::Source::Web];
        let mut reloaded = config.clone();
        reloaded.records[0].ipv4_source = vec![dynhost::model::Source::Interface];
        let h = start_with(dir, config, &["203.0.113.5"], None);
        *h.outside.slow.borrow_mut() = Some(10 * S);
        h.outside
            .answers
            .borrow_mut()
            .push_back(found("198.51.100.7", "http://127.0.0.1:9/"));
        run_for(S).await;
        assert_eq!(queries(&h), [Query::Web { family: Family::V4 }]);
        // SIGHUP while the web echo is still answering: the record follows ppp0 now.
        h.commands
            .send(Command::Reload(Box::new(reloaded)))
            .unwrap();
        run_for(2 * S).await;
        assert_eq!(h.addrs_sent(), ["203.0.113.5"]);
        // The late answer (at 10 s) belongs to the old config: never published.
        run_for(60 * S).await;
        assert_eq!(h.addrs_sent(), ["203.0.113.5"]);
    });
}

// ---- trust, then verify: what the authoritative servers answer ------------------------

fn verify_config(name: &str) -> (std::path::PathBuf, Config) {
    let dir = std::env::temp_dir().join(format!("dynhost-driver-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!(
        "state_dir = \"{}\"\n[[record]]\nhostname = \"home.example.com\"\n\
         username = \"u\"\npassword = \"p\"\ninterface = \"ppp0\"\n",
        dir.display()
    );
    (dir, config::parse(&text, None).unwrap().config)
}

fn checked(dns: Dns) -> Checked {
    Checked {
        dns,
        server: "ns1.example.com 192.0.2.53:53 (scripted)".into(),
    }
}

fn checks(h: &Harness) -> Vec<Instant> {
    h.outside.checked.borrow().iter().map(|(t, _)| *t).collect()
}

#[test]
fn an_update_is_checked_within_a_second_then_on_a_schedule_until_it_is_visible() {
    local(async {
        let (dir, config) = verify_config("verify-after");
        let h = start_with(dir, config, &["203.0.113.1"], None);
        h.outside
            .dns
            .borrow_mut()
            .extend([checked(Dns::Missing), checked(Dns::Visible)]);
        run_for(S).await;
        let sent_at = h.sent()[0].0;
        run_for(60 * S).await;
        let at = checks(&h);
        assert_eq!(at.len(), 2, "asked until visible, then no more");
        assert_eq!(at[0] - sent_at, S, "the first check within a second");
        assert_eq!(at[1] - at[0], 5 * S, "then 5 s later");
        assert_eq!(h.sent().len(), 1, "slow DNS never sends again");
        run_for(24 * 3600 * S).await;
        assert_eq!(checks(&h).len(), 2, "nothing more while things agree");
    });
}

#[test]
fn an_update_never_visible_is_asked_on_the_schedule_for_a_day_and_never_resent() {
    local(async {
        let (dir, config) = verify_config("verify-never");
        let h = start_with(dir, config, &["203.0.113.1"], None);
        h.outside
            .dns
            .borrow_mut()
            .extend((0..100).map(|_| checked(Dns::Missing)));
        run_for(S).await;
        let sent_at = h.sent()[0].0;
        run_for(2 * 24 * 3600 * S).await;
        let gaps: Vec<u64> = std::iter::once(sent_at)
            .chain(checks(&h))
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs())
            .collect();
        assert_eq!(&gaps[..6], [1, 5, 30, 120, 600, 3600]);
        assert!(gaps[6..].iter().all(|g| *g == 3600), "{gaps:?}");
        let last = *checks(&h).last().unwrap();
        assert!(last - sent_at <= 25 * 3600 * S, "stopped after a day");
        assert_eq!(h.sent().len(), 1);
    });
}

fn published(addr: &str) -> StateMap {
    StateMap::from([(
        v4("home.example.com"),
        SlotMemory {
            published: Some(dynhost::engine::Published {
                addr: addr.parse().unwrap(),
                at: dynhost::state::wall_now() - 3600,
            }),
            ..Default::default()
        },
    )])
}

#[test]
fn a_record_changed_elsewhere_is_published_again_at_start() {
    local(async {
        let (dir, config) = verify_config("verify-drift");
        let h = start_from(
            dir,
            config,
            &["203.0.113.1"],
            None,
            published("203.0.113.1"),
        );
        h.outside
            .dns
            .borrow_mut()
            .push_back(checked(Dns::Differs("198.51.100.9".parse().unwrap())));
        run_for(S).await;
        assert_eq!(checks(&h).len(), 1, "checked at start");
        assert_eq!(h.addrs_sent(), ["203.0.113.1"], "published again");
        // And an unknown answer changes nothing.
        let (dir, config) = verify_config("verify-unknown");
        let h = start_from(
            dir,
            config,
            &["203.0.113.1"],
            None,
            published("203.0.113.1"),
        );
        run_for(10 * S).await;
        assert_eq!(checks(&h).len(), 1);
        assert!(h.sent().is_empty(), "unknown is never drift");
    });
}

#[test]
fn a_reconnect_with_the_same_address_checks_dns_again() {
    local(async {
        let (dir, config) = verify_config("verify-reconnect");
        let h = start_from(
            dir,
            config,
            &["203.0.113.1"],
            None,
            published("203.0.113.1"),
        );
        h.outside.dns.borrow_mut().extend([
            checked(Dns::Visible),
            checked(Dns::Differs("198.51.100.9".parse().unwrap())),
        ]);
        run_for(S).await;
        assert_eq!(checks(&h).len(), 1);
        assert!(h.sent().is_empty(), "DNS agrees: nothing to do");
        // The link goes down and comes back with the same address (a PPP reconnect).
        set_link(&h.world, false);
        run_for(5 * S).await;
        set_link(&h.world, true);
        run_for(5 * S).await;
        // Checked again after the reconnect (then, after the new update, once more).
        assert_eq!(
            checks(&h).len(),
            3,
            "the reconnect's check, then the update's"
        );
        assert_eq!(
            h.addrs_sent(),
            ["203.0.113.1"],
            "changed elsewhere: published again"
        );
    });
}
