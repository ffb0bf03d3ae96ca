//! What was last published, per record and family, kept across restarts: the file's
//! text (`format`, pure) and the directory that holds it (`store`).

pub mod format;
pub mod store;

use std::time::{SystemTime, UNIX_EPOCH};

use crate::engine::Memory;

pub use format::{Parsed, decode, encode, parse, render};
pub use store::{Lock, LockError, Store};

pub type StateMap = Memory;

/// Unix seconds now.
pub fn wall_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
