//! The control socket: how hooks and `dynhost update` reach a running daemon. The
//! line protocol (`protocol`) is pure; the socket halves (`server`, `client`) check the
//! peer's credentials and bound what they read and how long they wait.

pub mod client;
pub mod protocol;
pub mod server;

pub use client::{Reach, ask};
pub use protocol::{Answer, Refusal, parse_answer, parse_request, render_answer, render_request};
pub use server::{Listener, bind, serve};
