//! Exit codes: the one table lives on the ground floor (`crate::exit`), so that `cli`
//! can print it without reaching up into `app`.

pub use crate::exit::*;
