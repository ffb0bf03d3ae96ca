//! The outbox: every event waiting for some target, persisted in the state directory
//! (`notify-queue`, JSON) before anything is sent, so that an event made while the link
//! is down, or just before a `kill -9`, is delivered later. Bounded in entries (the
//! oldest dropped, and the drop said in the next message) and in age (24 h).
//!
//! The logic is pure (time passed in); `load` and `save` are the file edges (bounded
//! read, write-then-rename).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::event::Event;

/// Events kept at most; the oldest goes first.
pub const MAX_EVENTS: usize = 100;
/// An event not delivered after this is dropped.
pub const EXPIRY: u64 = 24 * 3600;
/// The file's size bound (100 events of a few hundred bytes, with room).
const MAX_BYTES: usize = 256 * 1024;
/// First retry delay, doubled per failure up to `RETRY_MAX`.
pub const RETRY_FIRST: Duration = Duration::from_secs(5);
pub const RETRY_MAX: Duration = Duration::from_secs(600);

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Increasing per queue; names the entry in delivery results.
    pub id: u64,
    pub event: Event,
    /// Ids of the targets still owed this event.
    pub pending: BTreeSet<String>,
    /// Events dropped (full queue) just before this one was queued.
    pub dropped_before: u64,
    /// Failures per target id, and when it may be tried again (not persisted: after a
    /// restart every pending target is due at once).
    pub attempts: Vec<(String, u32, Instant)>,
    /// Targets whose last failure was no answer at all: the network coming back
    /// retries them at once.
    pub unreached: BTreeSet<String>,
}

impl Entry {
    /// The text sent: the event's sentence, after the note of any drop.
    pub fn text(&self) -> String {
        match self.dropped_before {
            0 => self.event.message.clone(),
            n => format!(
                "({n} older notification{} dropped: the queue was full) {}",
                if n == 1 { " was" } else { "s were" },
                self.event.message
            ),
        }
    }

    fn due(&self, target: &str, now: Instant) -> bool {
        self.attempts
            .iter()
            .find(|(t, _, _)| t == target)
            .is_none_or(|(_, _, at)| *at <= now)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Queue {
    pub entries: Vec<Entry>,
    next_id: u64,
}

impl Queue {
    /// Adds an event owed to `targets`; drops the oldest beyond `MAX_EVENTS`.
    pub fn push(&mut self, event: Event, targets: &[String]) -> u64 {
        let mut dropped = 0;
        while self.entries.len() >= MAX_EVENTS {
            let old = self.entries.remove(0);
            dropped += 1 + old.dropped_before;
        }
        self.next_id += 1;
        self.entries.push(Entry {
            id: self.next_id,
            event,
            pending: targets.iter().cloned().collect(),
            dropped_before: dropped,
            attempts: Vec::new(),
            unreached: BTreeSet::new(),
        });
        self.next_id
    }

    /// The (entry id, target id) pairs that may be tried at `now`, oldest first.
    pub fn due(&self, now: Instant) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        for e in &self.entries {
            for t in &e.pending {
                if e.due(t, now) {
                    out.push((e.id, t.clone()));
                }
            }
        }
        out
    }

    /// When the next delivery now waiting for its retry delay may be tried (`None`:
    /// nothing waits).
    pub fn next_retry(&self, now: Instant) -> Option<Instant> {
        self.entries
            .iter()
            .flat_map(|e| {
                e.attempts
                    .iter()
                    .filter(|(t, _, at)| e.pending.contains(t) && *at > now)
                    .map(|(_, _, at)| *at)
            })
            .min()
    }

    /// `target` took entry `id`: nothing more owed there. Returns whether it changed.
    pub fn delivered(&mut self, id: u64, target: &str) -> bool {
        let Some(e) = self.entries.iter_mut().find(|e| e.id == id) else {
            return false;
        };
        let changed = e.pending.remove(target);
        self.entries.retain(|e| !e.pending.is_empty());
        changed
    }

    /// `target` failed entry `id`: try again after a doubling delay. `network`: it
    /// did not answer at all.
    pub fn failed(&mut self, id: u64, target: &str, now: Instant, network: bool) {
        let Some(e) = self.entries.iter_mut().find(|e| e.id == id) else {
            return;
        };
        if network {
            e.unreached.insert(target.to_string());
        } else {
            e.unreached.remove(target);
        }
        let n = match e.attempts.iter_mut().find(|(t, _, _)| t == target) {
            Some(a) => {
                a.1 += 1;
                a.1
            }
            None => {
                e.attempts.push((target.to_string(), 1, now));
                1
            }
        };
        let delay = RETRY_FIRST
            .saturating_mul(1 << (n - 1).min(16))
            .min(RETRY_MAX);
        if let Some(a) = e.attempts.iter_mut().find(|(t, _, _)| t == target) {
            a.2 = now + delay;
        }
    }

    /// The network is back: what waits because it got no answer is due now (counts are
    /// kept); a target that answered with a refusal keeps its backoff.
    pub fn network_back(&mut self, now: Instant) {
        for e in &mut self.entries {
            for a in &mut e.attempts {
                if e.unreached.contains(&a.0) {
                    a.2 = a.2.min(now);
                }
            }
        }
    }

    /// Drops events older than `EXPIRY` at `wall` (Unix seconds), and targets no longer
    /// configured. Returns how many events went.
    pub fn prune(&mut self, wall: u64, targets: &[String]) -> usize {
        let before = self.entries.len();
        for e in &mut self.entries {
            e.pending.retain(|t| targets.contains(t));
        }
        self.entries
            .retain(|e| !e.pending.is_empty() && e.event.time + EXPIRY > wall);
        before - self.entries.len()
    }

    pub fn entry(&self, id: u64) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    pub fn to_json(&self) -> Value {
        let entries: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                json!({
                    "event": e.event.to_json(),
                    "pending": e.pending.iter().collect::<Vec<_>>(),
                    "dropped_before": e.dropped_before,
                })
            })
            .collect();
        json!({ "version": 1, "events": entries })
    }

    /// Reads what `to_json` wrote; unreadable entries are skipped.
    pub fn from_json(v: &Value) -> Queue {
        let mut q = Queue::default();
        for e in v["events"].as_array().into_iter().flatten() {
            let Some(event) = Event::from_json(&e["event"]) else {
                continue;
            };
            let pending: BTreeSet<String> = e["pending"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(String::from))
                .collect();
            q.next_id += 1;
            q.entries.push(Entry {
                id: q.next_id,
                event,
                pending,
                dropped_before: e["dropped_before"].as_u64().unwrap_or(0),
                attempts: Vec::new(),
                unreached: BTreeSet::new(),
            });
        }
        q.entries.truncate(MAX_EVENTS);
        q
    }
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("notify-queue")
}

/// The queue in `state_dir`; empty if there is none or it cannot be read (said in the log).
pub fn load(state_dir: &Path) -> Queue {
    let p = path(state_dir);
    match crate::bounded::read_text(&p, MAX_BYTES) {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(v) => Queue::from_json(&v),
            Err(e) => {
                tracing::warn!(file = %p.display(), "notification queue unreadable, starting empty: {e}");
                Queue::default()
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Queue::default(),
        Err(e) => {
            tracing::warn!(file = %p.display(), "notification queue unreadable, starting empty: {e}");
            Queue::default()
        }
    }
}

pub fn save(state_dir: &Path, q: &Queue) -> std::io::Result<()> {
    let p = path(state_dir);
    if q.entries.is_empty() {
        return match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    super::write_atomic(&p, q.to_json().to_string().as_bytes(), 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::Kind;

    fn ev(t: u64) -> Event {
        Event::new(Kind::Published, "h.example.com", "m", t)
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_target_is_owed_until_it_answers() {
        let now = Instant::now();
        let mut q = Queue::default();
        let id = q.push(ev(1), &ids(&["a", "b", "c"]));
        assert_eq!(q.due(now).len(), 3);
        q.failed(id, "c", now, false);
        q.failed(id, "a", now, true);
        assert!(q.delivered(id, "b"));
        assert_eq!(q.due(now), vec![]);
        assert_eq!(q.next_retry(now), Some(now + RETRY_FIRST));
        q.failed(id, "a", now, true);
        assert_eq!(q.next_retry(now), Some(now + RETRY_FIRST));
        q.network_back(now);
        // The unreached target goes now; the one that refused keeps its backoff.
        assert_eq!(q.due(now), vec![(id, "a".to_string())]);
        assert!(q.delivered(id, "a"));
        assert!(q.delivered(id, "c"));
        assert!(q.entries.is_empty() && q.next_retry(now).is_none());
    }

    #[test]
    fn full_queue_drops_the_oldest_and_says_so() {
        let mut q = Queue::default();
        for i in 0..MAX_EVENTS as u64 + 3 {
            q.push(ev(i), &ids(&["a"]));
        }
        assert_eq!(q.entries.len(), MAX_EVENTS);
        assert_eq!(q.entries[0].event.time, 3);
        let last = q.entries.last().unwrap();
        assert_eq!(last.dropped_before, 1);
        assert!(last.text().starts_with("(1 older notification was dropped"));
    }

    #[test]
    fn old_events_and_removed_targets_expire() {
        let mut q = Queue::default();
        q.push(ev(0), &ids(&["a"]));
        q.push(ev(EXPIRY), &ids(&["a", "b"]));
        assert_eq!(q.prune(EXPIRY + 1, &ids(&["b"])), 1);
        assert_eq!(q.entries.len(), 1);
        assert_eq!(q.entries[0].pending, ["b".to_string()].into());
    }

    #[test]
    fn survives_a_round_trip_through_the_file() {
        let dir = std::env::temp_dir().join(format!("dynhost-queue-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut q = Queue::default();
        q.push(ev(5), &ids(&["a", "b"]));
        save(&dir, &q).unwrap();
        let back = load(&dir);
        assert_eq!(back.entries.len(), 1);
        assert_eq!(back.entries[0].event, ev(5));
        assert_eq!(back.entries[0].pending.len(), 2);
        save(&dir, &Queue::default()).unwrap();
        assert!(!path(&dir).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
