//! `dynhost verify`: asks the zone's authoritative servers now and prints, per record
//! and family, the address dynhost would publish, the one published, and what each
//! server answers (with its TTL). Exit 0 when all agree, 1 otherwise: for monitoring.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::{Error, Exit, Result};
use crate::config::Config;
use crate::driver::oneshot;
use crate::driver::{Edges, Rtnetlink};
use crate::engine::{Dns, SlotKey, SlotResult};
use crate::model::Family;
use crate::netlink;
use crate::provider::reply::Outcome;
use crate::provider::{Publish, Update};
use crate::request::UpdateRequest;
use crate::source::Sources;
use crate::state::{Store, rfc3339};
use crate::verify::Verifier;
use crate::verify::run::judge;

pub async fn run(config: Config) -> Result<Exit> {
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
            agree = false;
            continue;
        };
        let (verdict, lines) = ask(&verifier, key, expected).await;
        agree &= verdict == Dns::Visible;
        let _ = writeln!(out, "; DNS: {}", verdict_text(&verdict, expected));
        for l in lines {
            let _ = writeln!(out, "  {l}");
        }
    }
    crate::out!("{out}");
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
        Ok(answers) => {
            let lines = answers
                .iter()
                .map(|(name, addr, r)| {
                    let d = crate::verify::describe(addr, r);
                    if name.is_empty() {
                        d
                    } else {
                        format!("{name} {d}")
                    }
                })
                .collect();
            (judge(expected, &answers).dns, lines)
        }
        Err(why) => (Dns::Unknown, vec![why]),
    }
}

fn shown(a: Option<IpAddr>) -> String {
    a.map_or_else(|| "nothing".into(), |a| a.to_string())
}

fn verdict_text(d: &Dns, expected: IpAddr) -> String {
    let family = Family::of(&expected);
    match d {
        Dns::Visible => format!("the authoritative servers answer {expected}"),
        Dns::Missing => format!("the authoritative servers have no {family} address for it"),
        Dns::Differs(a) => format!("the authoritative servers answer {a}, not {expected}"),
        Dns::Unknown => "unknown (see below)".into(),
    }
}
