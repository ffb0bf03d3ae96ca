//! Shared test harness. Each integration test file includes it with `mod support;`;
//! not every file uses every part.
//!
//! - `netns`: private network namespaces, and `ip` to shape them.
//! - `provider/`: the loopback DynHost provider (HTTP, TLS, scripted replies, faults).
//! - `agent`: the real `dynhost` binary as a child, its log, the password-leak check.
//! - `scene`: the usual stage (an interface, a provider, a config) and its first round.
//! - `hooks`: the contrib/ hooks run as their callers run them, the fake dynhost's log.
//! - `repo`: paths into the repository, and the system tools tests need.
//! - `clock`: stepping the wall clock (as NTP does at boot).
//! - `forge`: a hostile LAN host sending datagrams with another host's source address.
//! - `bind`: real BIND servers (authoritative and recursive) for the DNS checks.
//! - `openwrt/`: the OpenWrt package installed into a scratch root, run under stand-ins.
#![allow(dead_code)]

pub mod agent;
pub mod bind;
pub mod clock;
pub mod forge;
pub mod hooks;
pub mod hostile;
pub mod miniupnpd;
pub mod netns;
pub mod openwrt;
pub mod ovh_api;
pub mod provider;
pub mod repo;
pub mod scene;
pub mod stun;
