//! dynhost: keeps OVH DynHost records pointed at a router's WAN address, driven by
//! netlink events rather than a polling timer.
//!
//! # Layout
//!
//! Pure decision code (no I/O, time passed in):
//! - [`policy`]: which address on an interface may be published, and which one is.
//! - [`reply`]: the provider's answer, parsed into a closed set of outcomes.
//! - [`engine`]: debounce, send decisions, retries and blocks, as a sans-I/O state machine.
//! - [`config`]: the TOML file to a validated config, all errors at once.
//! - [`uci`]: OpenWrt's UCI format, translated into the same checks.
//! - [`state`] (format half): the persisted last-published view.
//!
//! Thin edges:
//! - [`netlink`]: rtnetlink subscription and dumps, converted to [`model`] types.
//! - [`http`]: the HTTPS request to the provider (reqwest + rustls/ring).
//! - [`state`] (file half): atomic writes and the state-directory lock.
//! - [`daemon`] / [`oneshot`]: the async drivers that run the engine against the edges.
//! - [`control`]: the Unix socket hooks use to reach the daemon (pure protocol + socket).
//! - [`notify`]: systemd readiness.
//! - [`cli`], [`logging`], [`status`]: the command line and what it prints.

pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod duration;
pub mod engine;
pub mod http;
pub mod logging;
pub mod model;
pub mod netlink;
pub mod notify;
pub mod oneshot;
pub mod ovh;
pub mod policy;
pub mod reply;
pub mod secret;
pub mod setup;
pub mod state;
pub mod status;
pub mod uci;
