//! The usual stage for a test: a bridge `br0` standing in for the WAN, a loopback
//! provider, a scratch directory and a config. Call it inside `in_netns`.

use std::path::PathBuf;

use super::agent::{Scratch, record, write_config};
use super::netns::{bridge, ip};
use super::provider::Provider;

pub struct Scene {
    pub provider: Provider,
    pub dir: Scratch,
    pub cfg: PathBuf,
}

impl Scene {
    /// `br0` holding `addr` (with its prefix, if any), and a config with `body`.
    pub fn new(name: &str, addr: Option<&str>, body: &str) -> Scene {
        bridge("br0");
        if let Some(a) = addr {
            ip(&["addr", "add", a, "dev", "br0"]);
        }
        let provider = Provider::start();
        let dir = Scratch::new(name);
        let cfg = write_config(&dir, &provider.url(), body);
        Scene { provider, dir, cfg }
    }

    /// One record, `home.example.com`, following `br0`.
    pub fn home(name: &str, addr: Option<&str>) -> Scene {
        Scene::new(name, addr, &record("home.example.com", "br0", ""))
    }
}
