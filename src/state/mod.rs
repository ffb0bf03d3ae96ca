//! What was last published, per record and family, kept across restarts: the file's
//! text (`format`, pure) and the directory that holds it (`store`).

pub mod format;
pub mod store;

pub use crate::date::{civil_from_days, rfc3339, wall_now};
use crate::model::Memory;

pub use format::{Parsed, decode, encode, parse, render};
pub use store::{Lock, LockError, Store};

pub type StateMap = Memory;
