//! dynhost: keeps OVH DynHost records pointed at a router's WAN address, driven by
//! netlink events rather than a polling timer.
//!
//! # Layout, in the order data flows
//!
//! 1. [`netlink`]: rtnetlink notifications become hints ([`model::NetEvent`]); dumps
//!    become a [`model::Snapshot`] (`netlink::wire` decodes bytes, pure).
//! 2. [`engine`]: the sans-I/O state machine. Hints and requests arm the debounce; a
//!    snapshot goes through [`policy`] (which address may be published) and the
//!    decision (send, wait, throttle); the provider's answer is classed; the memory to
//!    persist comes out. Pure: time is passed in.
//! 3. [`provider`]: the request, the HTTPS client, and the reply parser (pure).
//! 4. [`state`]: the state file's format (pure) and its atomic store.
//!
//! Around them:
//! - [`driver`]: runs the engine against the edges: `daemon` (the `select!` loop) and
//!   `oneshot` (`dynhost update` without a daemon) share the execution of actions.
//! - [`request`]: `dynhost update`'s one request type, from the command line through
//!   [`control`] (the daemon's Unix socket: pure protocol plus socket) to the engine.
//! - [`config`]: the one settings table, the TOML and UCI readers (pure but for the
//!   file I/O of `config::files`), `check`'s restatement.
//! - [`source`] and [`gateway`]: addresses from outside the kernel, for a host behind
//!   another router (NAT-PMP, PCP, UPnP IGD, web echo services); the engine treats
//!   them as it treats netlink (`engine::sources`, `engine::queries`).
//! - [`verify`]: what the zone's authoritative servers answer, and what that means for
//!   the published address (`engine::dns` schedules the checks).
//! - [`ovh`] and [`setup`]: the OVH API client and `dynhost setup`.
//! - [`app`]: the use cases (`run`, `update`, `check`, `status`, `verify`) and the exit
//!   codes; [`cli`] parses arguments; `main.rs` only wires.
//! - [`notify`]: telling people: service notifications, the command hook, the
//!   heartbeat, the event history and the metrics file (a task of its own, fed events).
//! - The ground floor, which every layer may use: [`model`] (families, the kernel's view,
//!   record keys and what the state file keeps), [`date`], [`server`] (a DNS server as
//!   written), [`exit`] (the exit codes), [`once`] (the "said once" latch), [`random`] (the
//!   one source of randomness), [`https`] (what every HTTPS client shares), [`logging`],
//!   [`systemd`] (readiness), [`clock`] (clock-set events), [`bounded`] (every file read),
//!   [`secret`], [`duration`].
//!
//! Optional parts (Cargo features, all on by default): `setup` ([`setup`]; its API
//! client [`ovh`] stays, for API mode),
//! `gateway` ([`gateway`] and the gateway and web halves of [`source`]), `verify`
//! ([`verify`]). The rest reaches them only through `source::Sources`, `app` and
//! `cli`; `config::checks::built_with` rejects a config that needs a missing one.
//!
//! A module uses its own layer and those below only, and no two modules or files
//! import each other: README's "Development" section has the layers, and
//! `contrib/dev/imports.py` counts cycles and upward imports.
//!
//! # Errors
//!
//! One policy, as mini-redis states its own at its crate root:
//!
//! - **Typed at a module boundary.** A function another module calls returns a plain
//!   `enum` (or a unit struct) when it can fail: the caller branches on the kind, or maps
//!   it to an exit code, and `Display` gives the operator's words. Examples:
//!   [`exit::Error`], `ovh::ApiError`, `engine::RequestError`, [`random::Unavailable`].
//!   No `thiserror`: it is not built for Linux today (the lock file has it only for
//!   Android's TLS verifier, through `jni`); it would add a proc-macro build (`syn`)
//!   for code the same size as the few hand-written `Display` impls it replaces.
//! - **A `String` only where a message is finally shown**: a config check's reason
//!   (the settings table's `check` functions return the words `check` prints next to
//!   the key), a line for the log or the terminal. Such a result with a `String` error
//!   says why in a comment; inside a module, private helpers may pass strings along to
//!   the edge that shows them.
//! - **One application error**, [`exit::Error`]: every command, `dynhost setup`
//!   included, ends in it, and its kind is the exit code (`exit::TABLE`). `app`
//!   re-exports it as `app::Error`.
//! - Secrets never enter an error's text (see [`secret`]).

pub mod app;
pub mod bounded;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod date;
pub mod driver;
pub mod duration;
pub mod engine;
pub mod exit;
#[cfg(feature = "gateway")]
pub mod gateway;
pub mod https;
pub mod logging;
pub mod model;
pub mod netlink;
pub mod notify;
pub mod once;
pub mod ovh;
pub mod policy;
pub mod provider;
pub mod random;
pub mod request;
pub mod secret;
pub mod server;
#[cfg(feature = "setup")]
pub mod setup;
pub mod source;
pub mod state;
pub mod systemd;
#[cfg(feature = "verify")]
pub mod verify;
