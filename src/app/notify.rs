//! `dynhost notify --test` and `dynhost status --history`.

use serde_json::{Value, json};

use super::{Error, Exit, Result};
use crate::config::Config;
use crate::notify::{self, Event, history};
use crate::state::{rfc3339, wall_now};

/// Sends a `test` event to every target now. Exit 1 with one located sentence per
/// failing target.
pub async fn test(config: &Config) -> Result<Exit> {
    if !config.notify.is_active() {
        return Err(Error::Config(
            "no [notify] target is configured (notify.urls, notify.command or \
             notify.heartbeat_url)"
                .into(),
        ));
    }
    let setup = notify::Setup::from_config(config, true);
    let results = notify::test_all(&setup, wall_now()).await;
    let mut failed = 0;
    for r in &results {
        match r {
            Ok(m) => crate::outln!("{m}"),
            Err(m) => {
                failed += 1;
                eprintln!("dynhost: {m}");
            }
        }
    }
    if failed > 0 {
        return Err(Error::Failed(format!(
            "{failed} of {} notification targets failed",
            results.len()
        )));
    }
    Ok(Exit::Success)
}

/// How long a one-shot `dynhost update` waits for its notifications before leaving
/// them queued for the daemon.
const ONE_SHOT_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// After a one-shot round: the events its engine told and anything still queued are
/// delivered, or left in the queue for the daemon after `ONE_SHOT_WAIT`.
pub async fn after_round(config: &Config, round: &crate::driver::oneshot::Round) {
    let notifier = notify::Notifier::start(notify::Setup::from_config(config, true));
    for ev in &round.events {
        notifier.emit(ev.clone());
    }
    let owed = notifier
        .flush(std::time::Instant::now() + ONE_SHOT_WAIT)
        .await;
    if owed > 0 {
        tracing::warn!(
            deliveries = owed,
            "notifications not delivered yet; left queued for the daemon"
        );
    }
}

/// The last events of each configured record, oldest first.
pub fn history(config: &Config, json_out: bool) -> Result<Exit> {
    let events = history::load(&config.state_dir).map_err(Error::Failed)?;
    crate::out!("{}", render(config, &events, json_out));
    Ok(Exit::Success)
}

fn render(config: &Config, events: &[Event], json_out: bool) -> String {
    let names: Vec<&str> = config.records.iter().map(|r| r.hostname.as_str()).collect();
    if json_out {
        let records: Vec<Value> = names
            .iter()
            .map(|n| {
                let evs: Vec<Value> = events
                    .iter()
                    .filter(|e| e.hostname == *n)
                    .map(Event::to_json)
                    .collect();
                json!({ "hostname": n, "events": evs })
            })
            .collect();
        return format!("{}\n", json!({ "records": records }));
    }
    let mut out = String::new();
    for n in names {
        out.push_str(&format!("{n}\n"));
        let mine: Vec<&Event> = events.iter().filter(|e| e.hostname == n).collect();
        if mine.is_empty() {
            out.push_str("  no events recorded\n");
        }
        for e in mine {
            let fam = if e.family.is_some() {
                format!(" {}", e.family_str())
            } else {
                String::new()
            };
            out.push_str(&format!(
                "  {}  {}{fam}  {}\n",
                rfc3339(e.time),
                e.kind.as_str(),
                e.message
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Kind;

    #[test]
    fn history_lists_each_record_in_order() {
        let c = crate::notify::one_record();
        let evs = vec![
            Event::new(Kind::Published, "a.example.com", "first", 0),
            Event::new(Kind::Blocked, "other.example.com", "not ours", 1),
            Event::new(Kind::Failed, "a.example.com", "second", 60),
        ];
        let text = render(&c, &evs, false);
        assert_eq!(
            text,
            "a.example.com\n  1970-01-01T00:00:00Z  published  first\n  \
             1970-01-01T00:01:00Z  failed  second\n"
        );
        let v: Value = serde_json::from_str(&render(&c, &evs, true)).unwrap();
        assert_eq!(v["records"][0]["events"][1]["event"], "failed");
    }
}
