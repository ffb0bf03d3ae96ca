//! `dynhost explain [HOSTNAME]`: why a name is right or wrong, the whole chain in order,
//! for a person: each address of the record's interface and whether it may be
//! published, each configured source's answer, the request that would be sent (password
//! redacted), the last reply and state from the state file, what each authoritative
//! server answers, and a verdict in one sentence. Exit 0 when every name explained is
//! right, 1 otherwise.
//!
//! It only reads. The sources and the servers are asked once each ([`Asked`]); a dry
//! round of the engine, fed those same answers and one netlink dump, decides what
//! would be sent, so that the explanation is the daemon's own decision. Nothing is
//! sent, and nothing is written.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;

use serde_json::{Value, json};

use super::status::{self, Row};
use super::verify::{lines, verdict_text};
use super::{Error, Exit, Result};
use crate::config::{Config, Record};
use crate::driver::{Announcements, Edges, Kernel, Outside, oneshot};
use crate::engine::{self, Checked, Dns, Found, Query, SlotKey, SlotReport, SlotResult, SlotSpec};
use crate::model::{Family, Interest, Snapshot, Source};
use crate::netlink;
use crate::policy::{self, Selection};
use crate::provider::reply::Outcome;
use crate::provider::{Publish, Update};
use crate::request::UpdateRequest;
use crate::source::Sources;
use crate::state::{self, Store, rfc3339};
use crate::verify::Verifier;
use crate::verify::run::{Answers, judge};

/// A source's answer: the address and who gave it, or why it gave none.
type Said = std::result::Result<(IpAddr, String), String>;

pub async fn run(mut config: Config, hostname: Option<&str>, json_out: bool) -> Result<Exit> {
    if let Some(h) = hostname {
        config
            .records
            .retain(|r| r.hostname.eq_ignore_ascii_case(h));
        if config.records.is_empty() {
            return Err(Error::Usage(format!(
                "no record in the config has the hostname {h:?}"
            )));
        }
    }
    let state = Store::new(&config.state_dir, true)
        .load()
        .map_err(Error::Failed)?;
    let snapshot = netlink::dump_with(true).await.map_err(Error::Failed)?;
    let sources = Sources::new(&config).map_err(Error::Config)?.in_memory();
    let asked = Asked::new(sources, Verifier::new(&config.verify));
    let rows = status::rows(&config, &state);

    // Every source and every server, once each, in the chain's order.
    let mut slots = Vec::new();
    for spec in config.slot_specs() {
        let published = state
            .get(&spec.key)
            .and_then(|m| m.published.as_ref())
            .map(|p| p.addr);
        let mut said = Vec::new();
        for source in &spec.sources {
            said.push((
                *source,
                ask(&asked, &snapshot, &spec, *source, published).await,
            ));
        }
        let dns = asked.servers(&spec.key).await;
        slots.push((spec, said, dns));
    }

    // What the engine would do with those answers: a dry round, nothing sent.
    let (reports, requests) = decide(&config, snapshot.clone(), &asked, &state).await?;

    let now = state::wall_now();
    let mut explained = Vec::new();
    for (spec, said, dns) in slots {
        let key = spec.key.clone();
        let result = reports
            .iter()
            .find(|r| r.key == key)
            .map_or(SlotResult::Pending, |r| r.result.clone());
        let row = rows
            .iter()
            .find(|r| r.hostname == key.hostname && r.family == key.family);
        explained.push(Explained {
            request: requests.borrow().get(&key).cloned(),
            state: row.map_or_else(|| "-".into(), |r| r.state(now)),
            row,
            key,
            said,
            result,
            dns,
        });
    }
    let right = !explained.is_empty() && explained.iter().all(|e| e.verdict().0);
    if json_out {
        let records: Vec<Value> = config
            .records
            .iter()
            .map(|r| record_json(r, &snapshot, &explained))
            .collect();
        crate::out!("{}\n", json!({ "right": right, "records": records }));
    } else {
        let mut out = String::new();
        for r in &config.records {
            record_text(&mut out, r, &snapshot, &explained);
        }
        crate::out!("{out}");
    }
    Ok(if right { Exit::Success } else { Exit::Failure })
}

/// One source's answer for one slot. The interface is read from the dump (the
/// policy's selection); the others are asked.
async fn ask(
    asked: &Asked,
    snapshot: &Snapshot,
    spec: &SlotSpec,
    source: Source,
    published: Option<IpAddr>,
) -> Said {
    if source == Source::Interface {
        let choice = policy::Choice {
            suffix: spec.suffix,
            allow_private: spec.allow_private,
        };
        let family = spec.key.family;
        return match policy::select_with(snapshot, &spec.interface, family, published, &choice) {
            Selection::Addr(a) => Ok((a, format!("the address of {}", spec.interface))),
            Selection::Unavailable(u) => Err(u.to_string()),
        };
    }
    let q = engine::query_for(snapshot, spec, source)?;
    asked.source(&q).await.map(|f| (f.addr, f.via))
}

/// The engine's decision for every slot, from the dump and the answers already had,
/// with the request each send would make (password redacted).
async fn decide(
    config: &Config,
    snapshot: Snapshot,
    asked: &Asked,
    state: &state::StateMap,
) -> Result<(Vec<SlotReport>, Requests)> {
    let requests = Requests::default();
    if config.slot_specs().is_empty() {
        return Ok((Vec::new(), requests));
    }
    let mut edges = Edges {
        outside: asked.clone(),
        publisher: Capture(requests.clone()),
        kernel: Fixed(snapshot),
        store: Store::new(&config.state_dir, true),
        state: state.clone(),
        config: config.clone(),
    };
    let round = oneshot::run(&mut edges, &UpdateRequest::default())
        .await
        .map_err(|e| Error::Failed(e.to_string()))?;
    Ok((round.reports, requests))
}

/// One record and family, explained.
struct Explained<'a> {
    key: SlotKey,
    said: Vec<(Source, Said)>,
    result: SlotResult,
    /// The request a send would make now, if the engine would send.
    request: Option<String>,
    row: Option<&'a Row>,
    state: String,
    dns: std::result::Result<Answers, String>,
}

impl Explained<'_> {
    /// The address the record should have: the first source that answered (sources
    /// are tried in order, as the engine tries them).
    fn current(&self) -> Option<IpAddr> {
        self.said
            .iter()
            .find_map(|(_, s)| s.as_ref().ok().map(|(a, _)| *a))
    }

    fn dns(&self) -> Option<Dns> {
        let current = self.current()?;
        Some(match &self.dns {
            Ok(answers) => judge(current, answers).dns,
            Err(_) => Dns::Unknown,
        })
    }

    fn servers(&self) -> Vec<String> {
        match &self.dns {
            Ok(answers) => lines(answers),
            Err(why) => vec![why.clone()],
        }
    }

    /// What would be sent now, in words.
    fn would_send(&self) -> String {
        if let Some(r) = &self.request {
            return r.clone();
        }
        match &self.result {
            SlotResult::UpToDate(a) => format!("nothing: the provider has {a} already"),
            SlotResult::Unavailable(why) => format!("nothing: {why}"),
            SlotResult::Retrying { reply, in_secs } => format!(
                "nothing yet: the last attempt failed ({reply}); the next is allowed in \
                 {in_secs} s"
            ),
            SlotResult::Blocked { reply } => {
                format!("nothing: blocked after {reply:?} until the record's config changes")
            }
            SlotResult::Pending => "nothing: no decision yet".into(),
        }
    }

    /// Whether the name is right, and the verdict in one sentence.
    fn verdict(&self) -> (bool, String) {
        verdict(
            &self.key,
            self.current(),
            &self.said,
            self.dns().as_ref(),
            self.request.is_some(),
            &self.result,
            self.row
                .and_then(|r| r.published.as_ref())
                .map(|p| (p.addr, p.at)),
        )
    }
}

/// The verdict for one record and family (pure): `current` is the address it should
/// have, `dns` what the servers answer judged against it, `sends` whether the engine
/// would send now, `published` what the state file says was accepted, and when.
fn verdict(
    key: &SlotKey,
    current: Option<IpAddr>,
    said: &[(Source, Said)],
    dns: Option<&Dns>,
    sends: bool,
    result: &SlotResult,
    published: Option<(IpAddr, u64)>,
) -> (bool, String) {
    let name = format!("{} ({})", key.hostname, key.family);
    let (Some(current), Some(dns)) = (current, dns) else {
        let why: Vec<String> = said
            .iter()
            .filter_map(|(s, r)| r.as_ref().err().map(|e| format!("{s}: {e}")))
            .collect();
        return (
            false,
            format!(
                "{name} cannot be checked: no source gives an address to publish ({})",
                why.join("; ")
            ),
        );
    };
    if *dns == Dns::Visible {
        return (
            true,
            format!(
                "{name} is right: the authoritative servers answer {current}, this host's \
                 public address."
            ),
        );
    }
    let wrong = match dns {
        Dns::Unknown => format!(
            "{name} cannot be confirmed: the authoritative servers gave no clear answer \
             (see above)"
        ),
        other => format!("{name} is wrong: {}", verdict_text(other, current)),
    };
    let next = match result {
        _ if sends => format!("; dynhost would publish {current} now."),
        SlotResult::UpToDate(a) if *a == current => match published {
            Some((p, at)) if p == current => format!(
                "; the provider accepted {current} at {}: the record was changed \
                 elsewhere, or the servers have not caught up yet.",
                rfc3339(at)
            ),
            _ => ".".into(),
        },
        SlotResult::Retrying { reply, in_secs } => {
            format!("; the last update failed ({reply}) and is retried in {in_secs} s.")
        }
        SlotResult::Blocked { reply } => format!(
            "; updates are blocked after the provider answered {reply:?}: fix the record's \
             config."
        ),
        _ => ".".into(),
    };
    (false, format!("{wrong}{next}"))
}

/// Each address of `record`'s interface and whether it may be published, and the
/// interface's state: `missing`, `up` or `down`.
fn addresses(record: &Record, snapshot: &Snapshot) -> (&'static str, Vec<(String, Value)>) {
    let Some(link) = snapshot.link_named(&record.interface) else {
        return ("missing", Vec::new());
    };
    let head = if link.up { "up" } else { "down" };
    let list = snapshot
        .addrs_of(link.index)
        .map(|a| {
            let family = Family::of(&a.addr);
            let judged = policy::judge_for(a, record.allow_private);
            let mut why = match judged {
                Ok(()) => "publishable".to_string(),
                Err(skip) => format!("not publishable: {skip}"),
            };
            if !record.publishes(family) {
                let _ = write!(why, " (this record does not publish {family})");
            }
            let shown = format!("{}/{}", a.addr, a.prefix_len);
            let v = json!({
                "address": a.addr.to_string(),
                "prefix_len": a.prefix_len,
                "family": family.as_str(),
                "publishable": judged.is_ok(),
                "reason": judged.err().map(|s| s.to_string()),
                "published_family": record.publishes(family),
            });
            (format!("{shown}: {why}"), v)
        })
        .collect();
    (head, list)
}

fn record_text(out: &mut String, record: &Record, snapshot: &Snapshot, all: &[Explained]) {
    let _ = writeln!(out, "{}", record.hostname);
    if !record.enabled {
        let _ = writeln!(
            out,
            "  disabled in the config (enabled = false): dynhost publishes nothing for it\n"
        );
        return;
    }
    let (link, list) = addresses(record, snapshot);
    let _ = match link {
        "missing" => writeln!(out, "  interface {} does not exist", record.interface),
        up_down => writeln!(out, "  interface {} is {up_down}", record.interface),
    };
    for (line, _) in &list {
        let _ = writeln!(out, "    {line}");
    }
    for e in all.iter().filter(|e| e.key.hostname == record.hostname) {
        let _ = writeln!(out, "  {}:", e.key.family);
        for (source, said) in &e.said {
            let _ = match said {
                Ok((a, via)) => writeln!(out, "    source {source}: {a} ({via})"),
                Err(why) => writeln!(out, "    source {source}: nothing: {why}"),
            };
        }
        let _ = writeln!(out, "    would send: {}", e.would_send());
        let published = e.row.and_then(|r| r.published.as_ref());
        let _ = match published {
            Some(p) => writeln!(out, "    published: {} at {}", p.addr, rfc3339(p.at)),
            None => writeln!(out, "    published: never"),
        };
        let _ = match e.row.and_then(|r| r.last_reply.as_ref()) {
            Some(l) => writeln!(out, "    last reply: {} at {}", l.detail, rfc3339(l.at)),
            None => writeln!(out, "    last reply: none"),
        };
        let _ = writeln!(out, "    state: {}", e.state);
        let _ = writeln!(out, "    authoritative servers:");
        for l in e.servers() {
            let _ = writeln!(out, "      {l}");
        }
        let _ = writeln!(out, "    verdict: {}", e.verdict().1);
    }
    out.push('\n');
}

fn record_json(record: &Record, snapshot: &Snapshot, all: &[Explained]) -> Value {
    let (link, list) = addresses(record, snapshot);
    let families: Vec<Value> = all
        .iter()
        .filter(|e| e.key.hostname == record.hostname)
        .map(|e| {
            let sources: Vec<Value> = e
                .said
                .iter()
                .map(|(s, said)| match said {
                    Ok((a, via)) => json!({"source": s.as_str(), "address": a.to_string(), "via": via}),
                    Err(why) => json!({"source": s.as_str(), "address": null, "error": why}),
                })
                .collect();
            let (right, verdict) = e.verdict();
            let published = e.row.and_then(|r| r.published.as_ref());
            let last = e.row.and_then(|r| r.last_reply.as_ref());
            json!({
                "family": e.key.family.as_str(),
                "sources": sources,
                "address": e.current().map(|a| a.to_string()),
                "request": e.request,
                "would_send": e.would_send(),
                "published": published.map(|p| json!({"address": p.addr.to_string(), "at": rfc3339(p.at)})),
                "last_reply": last.map(|l| json!({"code": l.token, "detail": l.detail, "at": rfc3339(l.at)})),
                "state": e.state,
                "servers": e.servers(),
                "dns": e.dns().map(|d| match d {
                    Dns::Visible => "visible",
                    Dns::Missing => "missing",
                    Dns::Differs(_) => "differs",
                    Dns::Unknown => "unknown",
                }),
                "right": right,
                "verdict": verdict,
            })
        })
        .collect();
    json!({
        "hostname": record.hostname,
        "enabled": record.enabled,
        "interface": record.interface,
        "link": link,
        "addresses": list.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "families": families,
    })
}

/// The sources outside the kernel and the authoritative servers, each asked at most
/// once per question: explain asks first, and the engine's round gets the same answers.
/// The one place that asks the gateway and web sources, and the one place that asks
/// the servers.
#[derive(Clone)]
struct Asked {
    sources: Rc<Sources>,
    verifier: Verifier,
    found: Rc<RefCell<HashMap<Query, std::result::Result<Found, String>>>>,
    answers: Rc<RefCell<HashMap<SlotKey, std::result::Result<Answers, String>>>>,
}

impl Asked {
    fn new(sources: Sources, verifier: Verifier) -> Asked {
        Asked {
            sources: Rc::new(sources),
            verifier,
            found: Rc::default(),
            answers: Rc::default(),
        }
    }

    async fn source(&self, q: &Query) -> std::result::Result<Found, String> {
        if let Some(f) = self.found.borrow().get(q) {
            return f.clone();
        }
        let f = self.sources.find(q).await;
        self.found.borrow_mut().insert(q.clone(), f.clone());
        f
    }

    async fn servers(&self, key: &SlotKey) -> std::result::Result<Answers, String> {
        if let Some(a) = self.answers.borrow().get(key) {
            return a.clone();
        }
        let a = self.verifier.ask(&key.hostname, key.family).await;
        self.answers.borrow_mut().insert(key.clone(), a.clone());
        a
    }
}

impl Outside for Asked {
    type Listen = Deaf;

    fn find(
        &self,
        q: &Query,
    ) -> impl Future<Output = std::result::Result<Found, String>> + 'static {
        let (me, q) = (self.clone(), q.clone());
        async move { me.source(&q).await }
    }

    fn listen(&mut self, _: &[u32]) -> io::Result<Deaf> {
        Err(io::Error::other("explain does not listen"))
    }

    fn reconfigure(&mut self, _: &Config) -> std::result::Result<(), String> {
        Ok(())
    }

    fn verify(
        &self,
        hostname: &str,
        family: Family,
        expected: IpAddr,
    ) -> impl Future<Output = Checked> + 'static {
        let me = self.clone();
        let key = SlotKey {
            hostname: hostname.to_string(),
            family,
        };
        async move {
            match me.servers(&key).await {
                Ok(answers) => judge(expected, &answers),
                Err(why) => Checked {
                    dns: Dns::Unknown,
                    server: why,
                },
            }
        }
    }
}

/// No announcements: explain runs one round.
struct Deaf;

impl Announcements for Deaf {
    fn next(&mut self) -> impl Future<Output = Ipv4Addr> {
        std::future::pending()
    }
}

/// The kernel as one dump showed it: the round sees what the addresses listed.
struct Fixed(Snapshot);

impl Kernel for Fixed {
    type Watch = netlink::Watcher;

    fn subscribe(&mut self, _: &Interest) -> io::Result<netlink::Watcher> {
        Err(io::Error::other("explain reads one dump"))
    }

    fn dump(
        &self,
        _: bool,
    ) -> impl Future<Output = std::result::Result<Snapshot, String>> + 'static {
        std::future::ready(Ok(self.0.clone()))
    }
}

/// The request each send would make, password redacted.
type Requests = Rc<RefCell<BTreeMap<SlotKey, String>>>;

/// Sends nothing: keeps the request's description.
struct Capture(Requests);

impl Publish for Capture {
    fn publish(&self, update: Update) -> impl Future<Output = Outcome> + 'static {
        self.0
            .borrow_mut()
            .insert(update.key.clone(), update.describe());
        std::future::ready(Outcome::DryRun)
    }

    fn live(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SlotKey {
        SlotKey {
            hostname: "home.example.com".into(),
            family: Family::V4,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_visible_address_is_right() {
        let said = [(Source::Interface, Ok((ip("203.0.113.5"), "br0".into())))];
        let (right, text) = verdict(
            &key(),
            Some(ip("203.0.113.5")),
            &said,
            Some(&Dns::Visible),
            false,
            &SlotResult::UpToDate(ip("203.0.113.5")),
            Some((ip("203.0.113.5"), 1_795_708_831)),
        );
        assert!(right);
        assert!(
            text.contains("is right") && text.contains("203.0.113.5"),
            "{text}"
        );
    }

    #[test]
    fn a_record_changed_elsewhere_is_wrong_and_says_when_it_was_accepted() {
        let (right, text) = verdict(
            &key(),
            Some(ip("203.0.113.5")),
            &[],
            Some(&Dns::Differs(ip("198.51.100.9"))),
            false,
            &SlotResult::UpToDate(ip("203.0.113.5")),
            Some((ip("203.0.113.5"), 1_795_708_831)),
        );
        assert!(!right);
        assert!(
            text.contains("answer 198.51.100.9, not 203.0.113.5"),
            "{text}"
        );
        assert!(
            text.contains("accepted 203.0.113.5 at 2026-11-26T16:00:31Z"),
            "{text}"
        );
        assert!(text.contains("changed elsewhere"), "{text}");
    }

    #[test]
    fn a_new_address_is_wrong_until_sent_and_says_so() {
        let (right, text) = verdict(
            &key(),
            Some(ip("203.0.113.60")),
            &[],
            Some(&Dns::Missing),
            true,
            &SlotResult::UpToDate(ip("203.0.113.60")),
            None,
        );
        assert!(!right);
        assert!(text.contains("no ipv4 address"), "{text}");
        assert!(text.contains("would publish 203.0.113.60 now"), "{text}");
        let blocked = verdict(
            &key(),
            Some(ip("203.0.113.60")),
            &[],
            Some(&Dns::Missing),
            false,
            &SlotResult::Blocked {
                reply: "badauth".into(),
            },
            None,
        );
        assert!(
            blocked
                .1
                .contains("blocked after the provider answered \"badauth\"")
        );
    }

    #[test]
    fn no_address_from_any_source_cannot_be_checked() {
        let said = [
            (
                Source::Interface,
                Err("192.168.1.2 is private (RFC 1918)".into()),
            ),
            (Source::Web, Err("http://127.0.0.1:1/: refused".into())),
        ];
        let (right, text) = verdict(&key(), None, &said, None, false, &SlotResult::Pending, None);
        assert!(!right);
        assert!(text.contains("cannot be checked"), "{text}");
        assert!(text.contains("interface: 192.168.1.2 is private"), "{text}");
        assert!(text.contains("web: http://127.0.0.1:1/: refused"), "{text}");
    }
}
