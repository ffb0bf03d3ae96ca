//! Warnings about a file's permissions (a password readable by group or others) are
//! said once per file and change, not at every command and SIGHUP: the file's identity
//! and mode (device, inode, mode, modification time) are remembered in the state
//! directory, and in memory when that cannot be written. A changed file (chmod, a new
//! copy) is warned about again. `check`, whose job is to list problems, always says it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;

use tracing::{debug, warn};

use crate::config::files::permission_warning_path;
use crate::config::write::replace_atomically;

/// The file in the state directory.
const FILE: &str = "warned";
/// At most this many files are remembered.
const KEEP: usize = 64;

/// What this process has said (when the state directory cannot be written).
static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Logs `warnings` at WARN, each permission warning once per file and change.
pub fn tell(warnings: &[String], state_dir: &Path, always: bool) {
    for w in warnings {
        let Some(key) = permission_warning_path(w).and_then(identity) else {
            warn!("{w}");
            continue;
        };
        if always || first_time(&key, state_dir) {
            warn!("{w}");
        } else {
            debug!("{w} (said before; said again when the file changes)");
        }
    }
}

/// `path`, then its device, inode, mode and modification time.
fn identity(path: &Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    Some(format!(
        "{}\t{}:{}:{:o}:{}.{}",
        path.display(),
        m.dev(),
        m.ino(),
        m.mode(),
        m.mtime(),
        m.mtime_nsec()
    ))
}

/// Whether `key` was never said; remembers it.
fn first_time(key: &str, state_dir: &Path) -> bool {
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    let path = state_dir.join(FILE);
    let text = crate::bounded::read_text(&path, 64 * 1024).unwrap_or_default();
    if said.iter().any(|k| k == key) || text.lines().any(|l| l == key) {
        return false;
    }
    said.push(key.to_string());
    // One line per file: the file's previous identity goes.
    let file = key.split('\t').next().unwrap_or(key);
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| l.split('\t').next() != Some(file))
        .collect();
    lines.push(key);
    let start = lines.len().saturating_sub(KEEP);
    let out = lines[start..].join("\n") + "\n";
    if let Err(e) = replace_atomically(&path, out.as_bytes(), 0o644) {
        debug!("cannot remember the warning in {}: {e}", path.display());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn once_per_file_and_change() {
        let d = std::env::temp_dir().join(format!("dynhost-warned-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("state")).unwrap();
        let pw = d.join("a.secret");
        std::fs::write(&pw, "x\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
        let state = d.join("state");
        let key = identity(&pw).unwrap();
        assert!(first_time(&key, &state));
        assert!(!first_time(&key, &state));
        // Another process (the file remembers it).
        SAID.lock().unwrap().clear();
        assert!(!first_time(&key, &state));
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o640)).unwrap();
        let changed = identity(&pw).unwrap();
        assert_ne!(changed, key);
        assert!(first_time(&changed, &state));
        let text = std::fs::read_to_string(state.join(FILE)).unwrap();
        assert_eq!(text.lines().count(), 1, "one line per file: {text}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
