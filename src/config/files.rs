//! All the config's file I/O: the config file itself, password files, the CA file's
//! presence, modification times, systemd's credentials directory and OpenWrt's network
//! config. The reader (`walk`) sees these only through the `Files` trait, so that it
//! stays pure and its tests need no files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::checks::check_password;
use super::{ConfigError, Loaded, Problem, walk};
use crate::bounded;
use crate::secret::Secret;

/// The largest config file read (the network file too).
pub const CONFIG_LIMIT: usize = 1 << 20;
/// The largest password file: a password is one line.
pub const PASSWORD_LIMIT: usize = 4096;
/// The largest CA bundle (Debian's whole store is about 200 KiB).
pub const CA_LIMIT: usize = 1 << 20;

/// What the reader may ask of the filesystem.
pub trait Files {
    /// The password in `path` (one line, its newline removed), and a warning to give
    /// when group or others may read the file.
    fn password(&self, path: &Path) -> Result<(Secret, Option<String>), String>;
    /// The CA bundle's bytes.
    fn ca(&self, path: &Path) -> Result<Vec<u8>, String>;
    /// systemd's credential `name` (`LoadCredential=`), when `$CREDENTIALS_DIRECTORY`
    /// holds one.
    fn credential(&self, name: &str) -> Option<PathBuf>;
    /// OpenWrt's `network` config, next to a UCI file at `config`.
    fn network(&self, config: &Path) -> Option<String>;
    /// The modification time of `path`, in Unix seconds.
    fn modified(&self, path: &Path) -> Option<u64>;
}

/// The real filesystem and environment.
pub struct System {
    credentials: Option<PathBuf>,
}

impl System {
    pub fn new() -> System {
        System {
            credentials: std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from),
        }
    }
}

impl Default for System {
    fn default() -> System {
        System::new()
    }
}

impl Files for System {
    fn password(&self, path: &Path) -> Result<(Secret, Option<String>), String> {
        read_password_file(path)
    }

    fn ca(&self, path: &Path) -> Result<Vec<u8>, String> {
        bounded::read(path, CA_LIMIT).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn credential(&self, name: &str) -> Option<PathBuf> {
        let p = self.credentials.as_ref()?.join(name);
        p.is_file().then_some(p)
    }

    fn network(&self, config: &Path) -> Option<String> {
        bounded::read_text(&config.parent()?.join("network"), CONFIG_LIMIT).ok()
    }

    fn modified(&self, path: &Path) -> Option<u64> {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
    }
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let origin = path.display().to_string();
    let text = bounded::read_text(path, CONFIG_LIMIT).map_err(|e| ConfigError {
        origin: origin.clone(),
        problems: vec![Problem {
            offset: 0,
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the config file: {e}"),
        }],
        omitted: 0,
    })?;
    // A byte order mark from a Windows editor is not part of the config.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut loaded = parse(text, Some(path))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let inline = loaded
            .config
            .records
            .iter()
            .any(|r| r.password_file.is_none());
        if inline && meta.permissions().mode() & 0o077 != 0 {
            loaded.warnings.push(format!(
                "{origin} holds a password and is readable by group or others (mode {:04o}); \
                 run: chmod 600 {origin}",
                meta.permissions().mode() & 0o7777
            ));
        }
    }
    Ok(loaded)
}

/// Parses config text (TOML, or OpenWrt UCI) against the real filesystem. `path`
/// locates relative paths and names the origin in errors.
pub fn parse(text: &str, path: Option<&Path>) -> Result<Loaded, ConfigError> {
    walk::read(text, path, &System::new())
}

/// Reads a password file: one line, trailing newline removed (and a byte order mark
/// some editors add). Warns when others can read it.
pub(super) fn read_password_file(path: &Path) -> Result<(Secret, Option<String>), String> {
    let shown = path.display();
    let bytes =
        bounded::read(path, PASSWORD_LIMIT).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut text =
        String::from_utf8(bytes).map_err(|_| format!("{shown} is not valid UTF-8 text"))?;
    if let Some(rest) = text.strip_prefix('\u{feff}') {
        text = rest.to_string();
    }
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    check_password(&text).map_err(|e| format!("{shown}: {e}"))?;
    let warning = std::fs::metadata(path).ok().and_then(|m| {
        let mode = m.permissions().mode();
        (mode & 0o077 != 0).then(|| {
            format!(
                "password file {shown} is readable by group or others (mode {:04o}); \
                 run: chmod 600 {shown}",
                mode & 0o7777
            )
        })
    });
    Ok((Secret::new(text), warning))
}
