//! The usual stage for a test: a loopback provider, a scratch directory and a config,
//! usually with a bridge `br0` standing in for the WAN. Build it inside `in_netns`.

use std::path::PathBuf;
use std::time::Duration;

use super::agent::{Agent, Scratch, record, write_config};
use super::netns::{bridge, ip};
use super::provider::Provider;

pub struct Scene {
    pub provider: Provider,
    pub dir: Scratch,
    pub cfg: PathBuf,
}

impl Scene {
    /// A provider and a config with `body`; the test makes the interfaces.
    pub fn bare(name: &str, body: &str) -> Scene {
        let provider = Provider::start();
        let dir = Scratch::new(name);
        let cfg = write_config(&dir, &provider.url(), body);
        Scene { provider, dir, cfg }
    }

    /// `br0` holding `addr` (with its prefix, if any), and a config with `body`.
    pub fn new(name: &str, addr: Option<&str>, body: &str) -> Scene {
        bridge("br0");
        if let Some(a) = addr {
            ip(&["addr", "add", a, "dev", "br0"]);
        }
        Scene::bare(name, body)
    }

    /// One record, `home.example.com`, following `br0`.
    pub fn home(name: &str, addr: Option<&str>) -> Scene {
        Scene::new(name, addr, &record("home.example.com", "br0", ""))
    }

    /// One record, `home.example.com`, following `iface`, which the test makes.
    pub fn home_on(name: &str, iface: &str) -> Scene {
        Scene::bare(name, &record("home.example.com", iface, ""))
    }

    /// Starts `dynhost run` and waits until it has sent its first request and logged
    /// the first "published".
    pub fn start_published(&self, timeout: Duration) -> Agent {
        let agent = Agent::start(&self.cfg, &[]);
        self.provider.nth(1, timeout, "the first update");
        agent.wait_log("published", timeout);
        agent
    }
}
