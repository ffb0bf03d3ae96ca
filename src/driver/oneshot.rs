//! `dynhost update` without a daemon: one round with the same engine and the same
//! action execution as the daemon, then exit.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use tracing::warn;

use super::{Done, Edges, Io, Kernel, Left, Outside, now};
use crate::engine::{Engine, Mode, RequestError, SlotKey, SlotReport, SlotResult};
use crate::notify::Event;
use crate::provider::Publish;
use crate::provider::reply::Outcome;
use crate::request::UpdateRequest;
use crate::state;

/// What one round did.
pub struct Round {
    pub reports: Vec<SlotReport>,
    /// The answer to what was sent in this round, per slot.
    pub sent: BTreeMap<SlotKey, Outcome>,
    /// Why the state file could not be written, if it could not: what was published
    /// then is not remembered, and the next round sends it again.
    pub unsaved: Option<String>,
    /// What the engine told in this round (`published`, `blocked`...), in order.
    pub events: Vec<Event>,
}

impl Round {
    pub fn failed(&self) -> bool {
        failed(&self.reports) || self.unsaved.is_some()
    }

    pub fn summary(&self) -> String {
        let mut out = summary(&self.reports, &self.sent, false);
        if let Some(e) = &self.unsaved {
            let _ = writeln!(
                out,
                "state not saved: {e}; the next round sends these records again"
            );
        }
        out
    }
}

/// Why a round could not run.
#[derive(Debug)]
pub enum RoundError {
    /// The engine refused the request: no record follows it.
    Request(RequestError),
}

impl std::fmt::Display for RoundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoundError::Request(e) => e.fmt(f),
        }
    }
}

/// Whether some slot could not be published (for the exit code).
pub fn failed(reports: &[SlotReport]) -> bool {
    reports.iter().any(|r| r.result.is_failure())
}

/// One line per slot, for stdout. `sent` holds what this process sent itself;
/// `daemon`: the reports came from a running daemon (which retries by itself).
pub fn summary(reports: &[SlotReport], sent: &BTreeMap<SlotKey, Outcome>, daemon: bool) -> String {
    let retries = if daemon {
        "the daemon retries by itself; --force sends now"
    } else {
        "--force sends now"
    };
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
            (SlotResult::Retrying { reply, in_secs }, _) => {
                format!("not published: {reply}; next attempt allowed in {in_secs}s ({retries})")
            }
            (SlotResult::Blocked { reply }, _) => {
                format!("blocked after {reply:?}: fix the record's config (or pass --force)")
            }
            (SlotResult::Pending, _) => format!("no answer yet (last reply: {last})"),
        };
        let _ = writeln!(out, "{}: {line}", r.key);
    }
    out
}

/// Runs one round: read the interfaces (unless the request gives the address), send
/// what is needed, persist.
pub async fn run<K: Kernel, P: Publish, O: Outside>(
    edges: &mut Edges<K, P, O>,
    request: &UpdateRequest,
) -> Result<Round, RoundError> {
    let mut engine = Engine::new(
        Mode::OneShot,
        edges.config.timing(),
        edges.config.slot_specs(),
        &edges.state,
        now(),
        state::wall_now(),
        u64::from(std::process::id()),
    );
    engine
        .handle_request(now(), request, None)
        .map_err(RoundError::Request)?;
    let mut io = Io::default();
    let mut sent = BTreeMap::new();
    // A failed write (ENOSPC) does not end the round: every record is still sent and
    // reported, and the state is written again at the end.
    let mut unsaved = None;
    let mut events = Vec::new();
    loop {
        while let Some(action) = engine.poll_action() {
            match edges.execute(&mut engine, action, &mut io, true) {
                Left::Nothing | Left::Report(..) => {}
                Left::PersistFailed(e) => {
                    if unsaved.is_none() {
                        warn!(path = %edges.store.path().display(), error = %e,
                              "cannot write the state file; finishing the round");
                    }
                    unsaved = Some(format!(
                        "cannot write {}: {e}",
                        edges.store.path().display()
                    ));
                }
            }
        }
        events.extend(std::iter::from_fn(|| engine.poll_event()));
        if io.idle() {
            break;
        }
        let first = io.next().await;
        for done in std::iter::once(first).chain(std::iter::from_fn(|| io.finished())) {
            if let Done::Sent(key, _, outcome) = &done {
                sent.insert(key.clone(), outcome.clone());
            }
            edges.apply(&mut engine, done);
        }
    }
    if unsaved.is_some() {
        unsaved = edges
            .persist(&engine)
            .err()
            .map(|e| format!("cannot write {}: {e}", edges.store.path().display()));
    }
    Ok(Round {
        reports: engine.report(now()),
        sent,
        unsaved,
        events,
    })
}
