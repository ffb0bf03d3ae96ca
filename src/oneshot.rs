//! `dynhost update` without a daemon: one round with the same engine, then exit.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Instant;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::config::Config;
use crate::engine::{Action, Engine, Mode, SlotKey, SlotReport, SlotResult, Trigger};
use crate::http::{Publish, UpdateRequest};
use crate::model::Family;
use crate::netlink;
use crate::reply::Outcome;
use crate::state::{self, StateMap, Store};

/// Which records a round covers.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub interface: Option<String>,
    pub ip: Option<IpAddr>,
    pub force: bool,
}

impl Scope {
    /// The slots in scope, or why there are none.
    pub fn select(&self, config: &Config) -> Result<Vec<crate::engine::SlotSpec>, String> {
        let family = self.ip.as_ref().map(Family::of);
        let specs: Vec<_> = config
            .slot_specs()
            .into_iter()
            .filter(|s| self.interface.as_ref().is_none_or(|i| *i == s.interface))
            .filter(|s| family.is_none_or(|f| f == s.key.family))
            .collect();
        if !specs.is_empty() {
            return Ok(specs);
        }
        Err(match (&self.interface, family) {
            (Some(i), Some(f)) => format!("no enabled record follows interface {i:?} with {f}"),
            (Some(i), None) => format!("no enabled record follows interface {i:?}"),
            (None, Some(f)) => format!("no enabled record publishes {f}"),
            (None, None) => "no enabled record".to_string(),
        })
    }
}

/// What one round did.
pub struct Round {
    pub reports: Vec<SlotReport>,
    /// The answer to what was sent in this round, per slot.
    pub sent: BTreeMap<SlotKey, Outcome>,
}

impl Round {
    pub fn failed(&self) -> bool {
        failed(&self.reports)
    }

    pub fn summary(&self) -> String {
        summary(&self.reports, &self.sent)
    }
}

/// Whether some slot could not be published (for the exit code).
pub fn failed(reports: &[SlotReport]) -> bool {
    reports.iter().any(|r| r.result.is_failure())
}

/// One line per slot, for stdout. `sent` holds what this process sent itself.
pub fn summary(reports: &[SlotReport], sent: &BTreeMap<SlotKey, Outcome>) -> String {
    let mut out = String::new();
    for r in reports {
        let last = r.last_reply.as_deref().unwrap_or("no reply yet");
        let line = match (&r.result, sent.get(&r.key)) {
            (SlotResult::UpToDate(a), Some(Outcome::DryRun)) => {
                format!("dry run: would publish {a} (nothing sent)")
            }
            (SlotResult::UpToDate(a), Some(o)) => format!("published {a} ({o})"),
            (SlotResult::UpToDate(a), None) => format!("up to date ({a}; last reply: {last})"),
            (SlotResult::Unavailable(why), _) => format!("nothing to publish: {why}"),
            (SlotResult::Retrying { reply, in_secs }, _) => format!(
                "not published: {reply}; next attempt allowed in {in_secs}s (the daemon \
                 retries by itself; --force sends now)"
            ),
            (SlotResult::Blocked { reply }, _) => {
                format!("blocked after {reply:?}: fix the record's config (or pass --force)")
            }
            (SlotResult::Pending, _) => format!("no answer yet (last reply: {last})"),
        };
        let _ = writeln!(out, "{}: {line}", r.key);
    }
    out
}

/// Runs one round: read the interfaces (unless `--ip`), send what is needed, persist.
pub async fn run<P: Publish>(
    config: &Config,
    scope: &Scope,
    publisher: &P,
    store: &mut Store,
    state: StateMap,
) -> Result<Round, String> {
    let specs = scope.select(config)?;
    let now = || tokio::time::Instant::now().into_std();
    let mut engine = Engine::new(
        Mode::OneShot,
        config.timing(),
        specs,
        &state,
        now(),
        state::wall_now(),
        u64::from(std::process::id()),
    );
    let start: Instant = now();
    match scope.ip {
        Some(ip) => engine.handle_override(start, scope.interface.as_deref(), ip, scope.force),
        None => engine
            .handle_trigger(
                start,
                Trigger {
                    interface: scope.interface.clone(),
                    family: None,
                    force: scope.force,
                    ticket: None,
                },
            )
            .map_err(|e| e.to_string())?,
    }
    let mut persisted = state;
    let mut sent = BTreeMap::new();
    type InFlight = Pin<Box<dyn std::future::Future<Output = (SlotKey, IpAddr, Outcome)>>>;
    let mut inflight: FuturesUnordered<InFlight> = FuturesUnordered::new();
    loop {
        while let Some(action) = engine.poll_action() {
            match action {
                Action::Dump => {
                    let snap = netlink::dump()
                        .await
                        .map_err(|e| format!("cannot read the interfaces: {e}"))?;
                    engine.handle_snapshot(now(), &snap);
                }
                Action::Send { key, addr } => {
                    let req = UpdateRequest::new(config, &key, addr)
                        .ok_or_else(|| format!("no record for {key} (bug)"))?;
                    let fut = publisher.publish(req);
                    inflight.push(Box::pin(async move { (key, addr, fut.await) }));
                }
                Action::Persist => {
                    persisted.extend(engine.memory());
                    store
                        .save(&persisted)
                        .map_err(|e| format!("cannot write {}: {e}", store.path().display()))?;
                }
                Action::Report { .. } => {}
            }
        }
        let Some((key, addr, outcome)) = inflight.next().await else {
            break;
        };
        sent.insert(key.clone(), outcome.clone());
        engine.handle_outcome(now(), state::wall_now(), &key, addr, outcome);
    }
    Ok(Round {
        reports: engine.report(now()),
        sent,
    })
}
