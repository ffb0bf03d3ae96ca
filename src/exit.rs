//! Exit codes, in one table, and the one application error that maps to them: `app`
//! and `setup` return [`Error`], `--help` (`cli`) prints the table. Ground floor: they
//! all use it, none owns it.

use std::fmt::Write as _;

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// Something could not be done (for `update`: a record could not be published; for
    /// `verify` and `explain`: a name is not right).
    Failure,
    /// The command line was wrong (clap exits with it).
    Usage,
    /// `update`: no enabled record follows that interface or family; nothing to do.
    NotFollowed,
    /// The configuration is invalid (sysexits' EX_CONFIG).
    Config,
}

/// The one application error: why a command (`dynhost setup` too) stopped. Closed:
/// each kind has its exit code; the text is the operator's message, shown as is.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// The config, or a file it names, is invalid.
    Config(String),
    /// `update` for an interface or family no enabled record follows.
    NotFollowed(String),
    /// Arguments that cannot work together (those clap cannot see).
    Usage(String),
    /// Anything else that kept the command from doing its work.
    Failed(String),
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Config(_) => Exit::Config,
            Error::NotFollowed(_) => Exit::NotFollowed,
            Error::Usage(_) => Exit::Usage,
            Error::Failed(_) => Exit::Failure,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Config(m) | Error::Failed(m) | Error::Usage(m) => f.write_str(m),
            Error::NotFollowed(m) => write!(f, "{m}; nothing to do"),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Every exit code with its meaning, in order.
pub const TABLE: &[(Exit, u8, &str)] = &[
    (Exit::Success, 0, "success"),
    (
        Exit::Failure,
        1,
        "failure (e.g. a record could not be published; verify, explain: a name is not right)",
    ),
    (Exit::Usage, 2, "usage error"),
    (
        Exit::NotFollowed,
        3,
        "no enabled record follows the interface (or family) given to update",
    ),
    (Exit::Config, 78, "configuration error"),
];

impl Exit {
    pub fn code(self) -> u8 {
        TABLE
            .iter()
            .find(|(e, _, _)| *e == self)
            .map_or(1, |(_, c, _)| *c)
    }
}

/// The exit codes as `--help` shows them.
pub fn help() -> String {
    let mut out = String::from("Exit codes:");
    for (i, (_, code, meaning)) in TABLE.iter().enumerate() {
        let sep = if i == 0 { " " } else { ", " };
        let _ = write!(out, "{sep}{code} {meaning}");
    }
    out.push('.');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for (e, code, meaning) in TABLE {
            assert!(seen.insert(*code), "{code} twice");
            assert_eq!(e.code(), *code);
            assert!(help().contains(&format!("{code} {meaning}")));
        }
        assert_eq!(Exit::Config.code(), 78);
        assert_eq!(Exit::NotFollowed.code(), 3);
    }
}
