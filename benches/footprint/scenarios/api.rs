//! API mode (issue 23): the loopback fake of the OVH API (`tests/support/ovh_api.rs`,
//! signatures and rights checked) and Debian's BIND (`tests/support/bind.rs`). The fake
//! changes its records on `PUT`, and on `POST .../refresh` applies the zone's A records
//! to BIND by RFC 2136 before answering, as OVH's servers serve nothing before a refresh.
//!
//! t0 is the change, as the latency rows take it. t1 is the first moment BIND answers the
//! new address: the refresh hook asks the primary itself (no recursion, authoritative
//! answers only) right after nsupdate returns, every millisecond, and stamps it.

use std::net::Ipv4Addr;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::Rng;
use super::verify::first_answer;
use crate::agent::Scratch;
use crate::bind::Bind;
use crate::clients::{HOST, dynhost_config_with, start_dynhost};
use crate::ovh_api::OvhApi;
use crate::wan::{Link, Wan};

#[derive(Clone, Debug)]
pub struct ApiRun {
    /// Change → BIND answers the new address.
    pub visible: Vec<Duration>,
    /// The fake's refresh received → BIND answers (nsupdate and the zone's update).
    pub applied: Vec<Duration>,
    /// API calls per change (GET list, GET record, PUT, POST refresh).
    pub calls: usize,
}

type Seen = Arc<(Mutex<Vec<(Ipv4Addr, Instant, Option<Instant>)>>, Condvar)>;

/// `n` changes at `debounce = "0s"` for one API record.
pub fn dynhost_api(bin: &std::path::Path, n: usize) -> ApiRun {
    let mut wan = Wan::create(Link::Bridge);
    let bind = Arc::new(Bind::start());
    let dir = Scratch::new("api");
    let api = OvhApi::start(&dir.join("api"), 0);
    let zone = "example.com";
    let sub = HOST
        .strip_suffix(".example.com")
        .expect("HOST is in example.com");
    let rules = dynhost::ovh::zone::api_rules(zone)
        .into_iter()
        .map(|(m, p)| (m.as_str().to_string(), p))
        .collect();
    let ck = api.add_credential(rules, true);
    api.add_record(zone, "A", sub, "198.51.100.1");
    let seen: Seen = Arc::default();
    {
        let (bind, seen, primary) = (bind.clone(), seen.clone(), bind.primary());
        let rt = Mutex::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime"),
        );
        let sub = sub.to_string();
        api.on_refresh(Box::new(move |_, z| {
            let at = Instant::now();
            let Some(addr) = z
                .records
                .values()
                .find(|r| r.field_type == "A" && r.sub_domain == sub)
                .and_then(|r| r.target.parse::<Ipv4Addr>().ok())
            else {
                return;
            };
            let owner = format!("{HOST}.");
            bind.update(&[
                format!("update delete {owner} A"),
                format!("update add {owner} 60 A {addr}"),
            ]);
            let shown = first_answer(&rt.lock().unwrap(), primary, addr);
            seen.0.lock().unwrap().push((addr, at, shown));
            seen.1.notify_all();
        }));
    }
    std::fs::write(dir.join("app-secret"), &api.application_secret).unwrap();
    std::fs::write(dir.join("ck"), &ck).unwrap();
    let records = format!(
        "[[record]]\nhostname = \"{HOST}\"\nprovider = \"ovh-api\"\ninterface = \"{}\"\n",
        wan.name
    );
    let tables = format!(
        "[verify]\nresolver = \"{}\"\n\n[ovh]\nendpoint = \"{}\"\napplication_key = \"{}\"\n\
         application_secret_file = \"{}\"\nconsumer_key_file = \"{}\"\nca_file = \"{}\"\n",
        bind.resolver(),
        api.url(),
        api.application_key,
        dir.join("app-secret").display(),
        dir.join("ck").display(),
        api.ca_pem().display()
    );
    let cfg = dynhost_config_with(
        &dir,
        &api.url(),
        Some(Duration::ZERO),
        &records,
        &tables,
        None,
    );
    let agent = start_dynhost(bin, &cfg);

    let wait_seen = |addr: Ipv4Addr| -> (Instant, Instant) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut list = seen.0.lock().unwrap();
        loop {
            if let Some((_, at, shown)) = list.iter().find(|(a, _, _)| *a == addr) {
                let shown = shown.unwrap_or_else(|| panic!("BIND never answered {addr}"));
                return (*at, shown);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no refresh published {addr}");
            list = seen.1.wait_timeout(list, left).unwrap().0;
        }
    };
    wait_seen(wan.address());
    sleep(Duration::from_millis(1500));

    let mut rng = Rng::new();
    let mut run = ApiRun {
        visible: Vec::with_capacity(n),
        applied: Vec::with_capacity(n),
        calls: 0,
    };
    let calls_before = api.calls().len();
    for k in 1..=n {
        sleep(Duration::from_millis(300) + rng.duration_below(Duration::from_millis(200)));
        let t0 = wan.change(k);
        let (refresh, shown) = wait_seen(wan.address());
        run.visible.push(shown.saturating_duration_since(t0));
        run.applied.push(shown.saturating_duration_since(refresh));
    }
    // The checks after each update (GETs of the zone's servers) are DNS, not API calls.
    sleep(Duration::from_millis(500));
    run.calls = (api.calls().len() - calls_before) / n.max(1);
    assert_eq!(
        api.zone(zone).refreshes,
        n + 1,
        "one refresh per change (and one at start)"
    );
    assert!(agent.stop().success(), "dynhost exited with an error");
    run
}
