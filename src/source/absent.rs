//! Stand-ins for the parts a build left out (Cargo features `gateway`, `verify`), with
//! the real ones' signatures, so that `Sources` and its callers need no cfg of their
//! own. `check` refuses a config that needs them, so these answer only by mistake.
// A build that lacks one part uses only that part's stand-ins.
#![allow(dead_code)]

use std::future::{Future, pending, ready};
use std::net::{IpAddr, Ipv4Addr};

use crate::config;
use crate::driver::Announcements;
use crate::engine::{Checked, Dns, Query};
use crate::model::Family;

/// Why a gateway or web question has no answer in this build.
pub fn find(q: &Query) -> String {
    let _ = q;
    "this dynhost was built without the `gateway` feature".to_string()
}

/// No gateway is asked, so none is listened to.
#[derive(Clone, Default)]
pub struct Gateways(());

/// Never hears an announcement.
pub struct GatewayListener;

impl GatewayListener {
    pub fn new(_links: Vec<u32>, _gateways: Gateways) -> GatewayListener {
        GatewayListener
    }
}

impl Announcements for GatewayListener {
    fn next(&mut self) -> impl Future<Output = Ipv4Addr> {
        pending()
    }
}

/// The DNS check without the `verify` feature: nothing is known.
pub struct Verifier;

impl Verifier {
    pub fn new(_settings: &config::Verify) -> Verifier {
        Verifier
    }

    pub fn check(
        &self,
        _hostname: &str,
        _family: Family,
        _expected: IpAddr,
    ) -> impl Future<Output = Checked> + 'static {
        ready(Checked {
            dns: Dns::Unknown,
            server: "this dynhost was built without the `verify` feature".to_string(),
        })
    }
}
