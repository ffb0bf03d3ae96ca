//! Start-up: process start → first request, over HTTP and HTTPS.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::agent::{PASSWORD, Scratch};
use crate::clients::{check, dynhost_config, start_dynhost};
use crate::provider::Provider;
use crate::wan::{Link, Wan};

#[derive(Clone, Debug)]
pub struct Startup {
    pub http: Vec<Duration>,
    pub https: Vec<Duration>,
}

/// Process start → first request, address present before start, fresh state each run.
pub fn dynhost_startup(bin: &Path, runs: usize, tls: bool) -> Vec<Duration> {
    let wan = Wan::create(Link::Bridge);
    let ca_dir = Scratch::new("startup-ca");
    let provider = if tls {
        Provider::start_tls(&ca_dir.path)
    } else {
        Provider::start()
    };
    let url = if tls {
        provider.url_localhost()
    } else {
        provider.url()
    };
    let ca = provider.ca_pem_path();
    let mut out = Vec::with_capacity(runs);
    for k in 1..=runs {
        let dir = Scratch::new("startup");
        let cfg = dynhost_config(&dir, &url, wan.name, None, ca.as_deref());
        let t0 = Instant::now();
        let agent = start_dynhost(bin, &cfg);
        let r = provider.nth(k, Duration::from_secs(15), "start-up");
        check(&r, wan.address(), PASSWORD, tls, "start-up");
        out.push(r.at - t0);
        assert!(agent.stop().success(), "dynhost exited with an error");
    }
    out
}
