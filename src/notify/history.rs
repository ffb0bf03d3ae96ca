//! `dynhost status --history`: the last [`PER_RECORD`] events of each record, kept in
//! the state directory (`history`, one JSON object per line, oldest first) so that they
//! survive restarts. Bounded: per record, in records, and in bytes read.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::event::Event;

pub const PER_RECORD: usize = 100;
/// Records remembered at most (a config with more keeps the most recent ones).
const MAX_RECORDS: usize = 64;
const MAX_BYTES: usize = 4 * 1024 * 1024;

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("history")
}

/// Adds `event` to `events` (oldest first) and trims each record to `PER_RECORD`. Pure.
pub fn add(events: &mut Vec<Event>, event: Event) {
    events.push(event);
    let mut names: Vec<&str> = Vec::new();
    let mut keep = vec![false; events.len()];
    let mut counts: Vec<usize> = Vec::new();
    // Newest first: the first PER_RECORD of each name stay, for the newest MAX_RECORDS names.
    for (i, e) in events.iter().enumerate().rev() {
        let slot = match names.iter().position(|n| *n == e.hostname) {
            Some(s) => s,
            None => {
                names.push(&e.hostname);
                counts.push(0);
                names.len() - 1
            }
        };
        if slot < MAX_RECORDS && counts[slot] < PER_RECORD {
            counts[slot] += 1;
            keep[i] = true;
        }
    }
    let mut i = 0;
    events.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

pub fn parse(text: &str) -> Vec<Event> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Event::from_json(&v))
        .collect()
}

pub fn render(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        out.push_str(&e.to_json().to_string());
        out.push('\n');
    }
    out
}

/// The history file's events; empty when there is none.
pub fn load(state_dir: &Path) -> Result<Vec<Event>, String> {
    let p = path(state_dir);
    match crate::bounded::read_text(&p, MAX_BYTES) {
        Ok(text) => Ok(parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
}

/// Appends one event to the file (read, add, write-then-rename).
pub fn append(state_dir: &Path, event: &Event) -> Result<(), String> {
    let mut events = load(state_dir).unwrap_or_default();
    add(&mut events, event.clone());
    super::write_atomic(&path(state_dir), render(&events).as_bytes(), 0o644)
        .map_err(|e| format!("{}: {e}", path(state_dir).display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::Kind;

    #[test]
    fn keeps_the_last_hundred_per_record() {
        let mut h = Vec::new();
        for i in 0..250 {
            add(&mut h, Event::new(Kind::Published, "a.example.com", "m", i));
            if i % 10 == 0 {
                add(&mut h, Event::new(Kind::Failed, "b.example.com", "m", i));
            }
        }
        let a: Vec<u64> = h
            .iter()
            .filter(|e| e.hostname == "a.example.com")
            .map(|e| e.time)
            .collect();
        assert_eq!(a.len(), PER_RECORD);
        assert_eq!((a[0], a[99]), (150, 249));
        assert_eq!(
            h.iter().filter(|e| e.hostname == "b.example.com").count(),
            25
        );
        assert_eq!(parse(&render(&h)), h);
    }

    #[test]
    fn survives_in_the_state_directory() {
        let dir = std::env::temp_dir().join(format!("dynhost-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = Event::new(Kind::Blocked, "a.example.com", "badauth", 7);
        append(&dir, &e).unwrap();
        append(&dir, &e).unwrap();
        assert_eq!(load(&dir).unwrap(), vec![e.clone(), e]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
