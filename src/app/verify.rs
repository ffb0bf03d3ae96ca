//! `dynhost verify`: asks the zone's authoritative servers now and prints, per record
//! and family, the address dynhost would publish, the one published, and what each
//! server answers (with its TTL). Exit 0 when all agree, 1 otherwise: for monitoring.
//! `--json` prints the same as one JSON object (the LuCI app's "verify now").

use std::fmt::Write as _;
use std::net::IpAddr;

use serde_json::{Value, json};

use super::{Error, Exit, Result};
use crate::config::Config;
use crate::driver::oneshot;
use crate::driver::{Edges, Rtnetlink};
use crate::engine::{Dns, Published, SlotKey, SlotResult};
use crate::model::Family;
use crate::netlink;
use crate::provider::reply::Outcome;
use crate::provider::{Publish, Update};
use crate::request::UpdateRequest;
use crate::source::Sources;
use crate::state::{Store, rfc3339};
use crate::verify::Verifier;
use crate::verify::run::{Answers, judge};

pub async fn run(config: Config, json_out: bool) -> Result<Exit> {
    // What dynhost would publish now: a dry round, from its sources, writing nothing.
    let mut store = Store::new(&config.state_dir, true);
    let state = store.load().map_err(Error::Failed)?;
    let verifier = Verifier::new(&config.verify);
    let mut edges = Edges {
        outside: Sources::new(&config).map_err(Error::Config)?.in_memory(),
        publisher: Quiet,
        kernel: Rtnetlink {
            rcvbuf: netlink::DEFAULT_RCVBUF,
        },
        store,
        state: state.clone(),
        config,
    };
    let round = oneshot::run(&mut edges, &UpdateRequest::default())
        .await
        .map_err(|e| Error::NotFollowed(e.to_string()))?;
    let mut agree = true;
    let mut out = String::new();
    let mut rows = Vec::new();
    for report in &round.reports {
        let key = &report.key;
        let would = match &report.result {
            SlotResult::UpToDate(a) => Some(*a),
            _ => None,
        };
        let published = state.get(key).and_then(|m| m.published.clone());
        let expected = would.or(published.as_ref().map(|p| p.addr));
        let _ = write!(out, "{key}: would publish {}", shown(would));
        match &published {
            Some(p) => {
                let _ = write!(out, "; published {} at {}", p.addr, rfc3339(p.at));
            }
            None => out.push_str("; never published"),
        }
        let Some(expected) = expected else {
            let why = match &report.result {
                SlotResult::Unavailable(why) => why.clone(),
                _ => "nothing to compare with".into(),
            };
            let _ = writeln!(out, "; DNS not asked: {why}");
            rows.push(row(key, would, published.as_ref(), None, &[], &why));
            agree = false;
            continue;
        };
        let (verdict, lines) = ask(&verifier, key, expected).await;
        agree &= verdict == Dns::Visible;
        let text = verdict_text(&verdict, expected);
        let _ = writeln!(out, "; DNS: {text}");
        for l in &lines {
            let _ = writeln!(out, "  {l}");
        }
        rows.push(row(
            key,
            would,
            published.as_ref(),
            Some(&verdict),
            &lines,
            &text,
        ));
    }
    if json_out {
        crate::out!("{}\n", json!({ "agree": agree, "records": rows }));
    } else {
        crate::out!("{out}");
    }
    Ok(if agree { Exit::Success } else { Exit::Failure })
}

/// `verify` only wants what would be published: nothing is sent, and nothing is said
/// about the request a dry run would log.
struct Quiet;

impl Publish for Quiet {
    fn publish(&self, _: Update) -> impl Future<Output = Outcome> + 'static {
        std::future::ready(Outcome::DryRun)
    }
}

/// The verdict for `expected`, and one line per server.
async fn ask(v: &Verifier, key: &SlotKey, expected: IpAddr) -> (Dns, Vec<String>) {
    match v.ask(&key.hostname, key.family).await {
        Ok(answers) => (judge(expected, &answers).dns, lines(&answers)),
        Err(why) => (Dns::Unknown, vec![why]),
    }
}

/// One line per server: its name (if known), address and answer.
pub(super) fn lines(answers: &Answers) -> Vec<String> {
    answers
        .iter()
        .map(|(name, addr, r)| {
            let d = crate::verify::describe(addr, r);
            if name.is_empty() {
                d
            } else {
                format!("{name} {d}")
            }
        })
        .collect()
}

/// One record and family in `--json`: `verdict` is `None` when DNS was not asked.
fn row(
    key: &SlotKey,
    would: Option<IpAddr>,
    published: Option<&Published>,
    verdict: Option<&Dns>,
    servers: &[String],
    text: &str,
) -> Value {
    let (name, answer) = match verdict {
        None => ("not_asked", None),
        Some(Dns::Visible) => ("visible", None),
        Some(Dns::Missing) => ("missing", None),
        Some(Dns::Differs(a)) => ("differs", Some(a.to_string())),
        Some(Dns::Unknown) => ("unknown", None),
    };
    json!({
        "hostname": key.hostname,
        "family": key.family.as_str(),
        "would_publish": would.map(|a| a.to_string()),
        "published": published.map(|p| json!({"address": p.addr.to_string(), "at": rfc3339(p.at)})),
        "verdict": name,
        "answer": answer,
        "text": text,
        "servers": servers,
    })
}

fn shown(a: Option<IpAddr>) -> String {
    a.map_or_else(|| "nothing".into(), |a| a.to_string())
}

pub(super) fn verdict_text(d: &Dns, expected: IpAddr) -> String {
    let family = Family::of(&expected);
    match d {
        Dns::Visible => format!("the authoritative servers answer {expected}"),
        Dns::Missing => format!("the authoritative servers have no {family} address for it"),
        Dns::Differs(a) => format!("the authoritative servers answer {a}, not {expected}"),
        Dns::Unknown => "unknown (see below)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Family;

    #[test]
    fn a_json_row_names_the_verdict_and_the_servers_answers() {
        let key = SlotKey {
            hostname: "home.example.com".into(),
            family: Family::V4,
        };
        let p = Published {
            addr: "203.0.113.5".parse().unwrap(),
            at: 1_795_708_831,
        };
        let other: IpAddr = "203.0.113.9".parse().unwrap();
        let servers = vec!["ns1.example.com 192.0.2.53:53 answers 203.0.113.9 (TTL 60)".into()];
        let v = row(
            &key,
            Some(p.addr),
            Some(&p),
            Some(&Dns::Differs(other)),
            &servers,
            &verdict_text(&Dns::Differs(other), p.addr),
        );
        assert_eq!(v["verdict"], "differs");
        assert_eq!(v["answer"], "203.0.113.9");
        assert_eq!(v["family"], "ipv4");
        assert_eq!(v["published"]["address"], "203.0.113.5");
        assert_eq!(v["published"]["at"], "2026-11-26T16:00:31Z");
        assert_eq!(v["servers"][0], servers[0].as_str());
        assert!(
            v["text"].as_str().unwrap().contains("not 203.0.113.5"),
            "{v}"
        );
        let none = row(&key, None, None, None, &[], "interface down");
        assert_eq!(none["verdict"], "not_asked");
        assert!(none["published"].is_null() && none["would_publish"].is_null());
    }
}
