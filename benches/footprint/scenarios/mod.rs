//! The dynhost scenarios, each run by `main` in a fresh network namespace: change →
//! request latency (and with IPv6 noise), a flap, storms of unrelated events, start-up,
//! and idle cost with memory after HTTPS updates; then many records (`scale`), the
//! gateway as the address source (`gateway`, real miniupnpd) and DNS verification
//! (`verify`, real BIND). The peers' run is in `peers`.

pub mod api;
pub mod flap;
pub mod gateway;
pub mod idle;
pub mod latency;
pub mod scale;
pub mod startup;
pub mod storm;
pub mod verify;

use std::path::Path;
use std::time::Duration;

use crate::agent::{Agent, PASSWORD, Scratch};
use crate::clients::{check, dynhost_config, start_dynhost};
use crate::provider::Provider;
use crate::wan::Wan;

/// dynhost following `wan` against a plain-HTTP provider, its first update (of the
/// address present at start) received and checked. Fields drop in order: the daemon
/// first.
pub struct Running {
    pub agent: Agent,
    /// Its config file (hooks name it).
    pub cfg: std::path::PathBuf,
    /// Its config and state, removed on drop.
    _dir: Scratch,
    pub provider: Provider,
    pub wan: Wan,
}

impl Running {
    pub fn start(bin: &Path, wan: Wan, name: &str, debounce: Option<Duration>) -> Running {
        let provider = Provider::start();
        let dir = Scratch::new(name);
        let cfg = dynhost_config(&dir, &provider.url(), wan.name, debounce, None);
        let agent = start_dynhost(bin, &cfg);
        let first = provider.nth(1, Duration::from_secs(10), "first update");
        check(&first, wan.address(), PASSWORD, false, "first update");
        Running {
            agent,
            cfg,
            _dir: dir,
            provider,
            wan,
        }
    }
}

/// xorshift64*: jitter without a crate.
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Rng(t | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }

    pub fn duration_below(&mut self, d: Duration) -> Duration {
        Duration::from_micros(self.below(d.as_micros() as u64))
    }
}
