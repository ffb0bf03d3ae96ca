//! The one way dynhost changes a config file. Every writer (`dynhost setup` now, the
//! LuCI app later) goes through [`edit`], so that two writers at once, or a hand edit
//! while one runs, never lose a change:
//!
//! 1. a lock (`flock` on the file's directory: the file itself is replaced, so its
//!    inode cannot carry a lock) keeps two dynhost writers apart;
//! 2. under it, the file is read again. The writer's change was decided on the text it
//!    read first (the base). Text appended to the base since (a record another writer
//!    or a hand added) is merged: the change is made again on the newer text. Any other
//!    difference is refused with a message naming the file, and nothing is written;
//! 3. the result must pass `dynhost check`'s parser;
//! 4. it replaces the file atomically, after a last comparison with the text the change
//!    was made on (a hand edit between the read and the rename starts over at 2).
//!
//! A hand editor takes no lock: what it saves after our replace is its own text (an
//! editor warns that the file changed on disk).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::files::CONFIG_LIMIT;

/// How long a writer waits for another one to finish.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);
/// How many times a file that changes under the final comparison is read again.
const ATTEMPTS: usize = 5;

/// What [`edit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edited {
    /// The change was made on the text first read, and written.
    Written,
    /// Someone appended to the file meanwhile; the change was made on their text.
    Merged,
    /// The change found nothing to do on the text as it is now.
    Unchanged,
}

/// The writer's change: the new text from the text as it is (`None`: no file yet), or
/// `Ok(None)` when there is nothing to change, or why it cannot be made.
pub type Change<'a> = dyn Fn(Option<&str>) -> Result<Option<String>, String> + 'a;

/// Applies `change` to the config at `path`, whose text was `base` when the writer
/// decided it (see the module's comment).
pub fn edit(path: &Path, base: Option<&str>, change: &Change<'_>) -> Result<Edited, String> {
    let _lock = lock(path, LOCK_WAIT)?;
    for _ in 0..ATTEMPTS {
        let now = read(path)?;
        let merged = match relation(base, now.as_deref()) {
            Relation::Same => false,
            Relation::Appended => true,
            Relation::Other => return Err(changed(path)),
        };
        let Some(text) = change(now.as_deref())? else {
            return Ok(Edited::Unchanged);
        };
        super::parse(&text, Some(path)).map_err(|e| {
            format!(
                "{} with this change does not pass check, so it was not written:\n{e}",
                path.display()
            )
        })?;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644);
        match replace_checked(path, text.as_bytes(), mode, Some(now.as_deref()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?
        {
            true if merged => return Ok(Edited::Merged),
            true => return Ok(Edited::Written),
            // Changed between the read and the rename: judge it again.
            false => continue,
        }
    }
    Err(format!(
        "{} kept changing while it was being written; nothing was written to it. Run the \
         command again once nothing else edits it",
        path.display()
    ))
}

fn changed(path: &Path) -> String {
    format!(
        "{} changed since it was read (edited by hand or by another program) in a way that \
         cannot be merged with this change, so it was not written. Look at it, then run the \
         command again: it starts from the file as it is",
        path.display()
    )
}

#[derive(Debug, PartialEq, Eq)]
enum Relation {
    Same,
    /// The newer text is the base plus whole lines after it (its last line untouched).
    Appended,
    Other,
}

fn relation(base: Option<&str>, now: Option<&str>) -> Relation {
    let base = base.unwrap_or("");
    let now = now.unwrap_or("");
    if now == base {
        Relation::Same
    } else if let Some(rest) = now.strip_prefix(base)
        && (base.is_empty() || base.ends_with('\n') || rest.starts_with('\n'))
    {
        Relation::Appended
    } else {
        Relation::Other
    }
}

fn read(path: &Path) -> Result<Option<String>, String> {
    match crate::bounded::read_text(path, CONFIG_LIMIT) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Held while a writer works on the config; released when dropped (or at exit).
pub struct Lock {
    _dir: File,
}

/// Takes the writers' lock for the config at `path`, waiting up to `wait`.
pub fn lock(path: &Path, wait: Duration) -> Result<Lock, String> {
    let dir = dir_of(path);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(&dir)
        .map_err(|e| format!("cannot lock {}: {e}", dir.display()))?;
    let deadline = Instant::now() + wait;
    loop {
        // SAFETY: flock on a descriptor we own; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Lock { _dir: file });
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::WouldBlock {
            return Err(format!("cannot lock {}: {err}", dir.display()));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "another dynhost command has been writing {} for {} s; try again once it \
                 is done",
                path.display(),
                wait.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A random name part for temporary files.
fn nonce() -> String {
    // A failed RNG still leaves O_EXCL to keep the name from being someone else's file.
    let b = crate::random::bytes::<8>().unwrap_or_default();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Writes `bytes` to `path` atomically with `mode` (and the owner of the file it
/// replaces, when we may): never through a symlink.
pub fn replace_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    replace_checked(path, bytes, mode, None).map(drop)
}

/// [`replace_atomically`], but when `expect` is given the file must still hold that
/// text (`None`: no file) just before the rename; `Ok(false)` when it does not (nothing
/// was replaced).
fn replace_checked(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    expect: Option<Option<&str>>,
) -> io::Result<bool> {
    let dir = dir_of(path);
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    remove_leftovers(&dir, &name);
    let tmp = dir.join(format!(".{name}.{}.tmp", nonce()));
    let owner = std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| (m.uid(), m.gid()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        // The umask may have narrowed the mode; set it exactly.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        if let Some((uid, gid)) = owner {
            // Keeps a config's owner; only root may change it, and only then it matters.
            let _ = std::os::unix::fs::fchown(&f, Some(uid), Some(gid));
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        if let Some(expect) = expect {
            let now = read(path).map_err(io::Error::other)?;
            if now.as_deref() != expect {
                return Ok(false);
            }
        }
        std::fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()?;
        Ok(true)
    })();
    if !matches!(result, Ok(true)) {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes temporary files a killed run left next to `name` (they may hold a password).
fn remove_leftovers(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for e in entries.flatten() {
        let file = e.file_name();
        let file = file.to_string_lossy();
        let ours = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .is_some_and(|n| n.len() == 16 && n.bytes().all(|b| b.is_ascii_hexdigit()));
        if ours {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "debounce = \"2s\"\n";
    const REC: &str = "\n[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\n\
                       password = \"p\"\ninterface = \"eth0\"\n";

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dynhost-write-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn append(rec: &'static str) -> impl Fn(Option<&str>) -> Result<Option<String>, String> {
        move |now| Ok(Some(format!("{}{rec}", now.unwrap_or(""))))
    }

    #[test]
    fn relations() {
        assert_eq!(relation(Some(BASE), Some(BASE)), Relation::Same);
        assert_eq!(relation(None, None), Relation::Same);
        assert_eq!(relation(None, Some(BASE)), Relation::Appended);
        let more = format!("{BASE}{REC}");
        assert_eq!(relation(Some(BASE), Some(&more)), Relation::Appended);
        assert_eq!(relation(Some(&more), Some(BASE)), Relation::Other);
        // A change inside the last line is not an append of lines.
        assert_eq!(
            relation(Some("debounce = \"2"), Some("debounce = \"2s\"\n")),
            Relation::Other
        );
        assert_eq!(
            relation(Some(BASE), Some("debounce = \"3s\"\n")),
            Relation::Other
        );
    }

    #[test]
    fn an_append_by_someone_else_is_merged_and_any_other_change_refused() {
        let d = scratch("merge");
        let path = d.join("config.toml");
        std::fs::write(&path, BASE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        // Someone appends a record after we read BASE.
        let theirs = REC.replace("a.example.com", "b.example.com");
        std::fs::write(&path, format!("{BASE}{theirs}")).unwrap();
        assert_eq!(edit(&path, Some(BASE), &append(REC)), Ok(Edited::Merged));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{BASE}{theirs}{REC}"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        // A rewrite is refused, and the file keeps the other writer's text.
        std::fs::write(&path, "debounce = \"5s\"\n").unwrap();
        let e = edit(&path, Some(BASE), &append(REC)).unwrap_err();
        assert!(
            e.contains(&path.display().to_string()) && e.contains("not written"),
            "{e}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "debounce = \"5s\"\n"
        );
        // A result that does not parse is never written.
        let e = edit(&path, Some("debounce = \"5s\"\n"), &append("bogus = 1\n")).unwrap_err();
        assert!(e.contains("does not pass check"), "{e}");
        // Nothing to do: nothing written.
        assert_eq!(
            edit(&path, Some("debounce = \"5s\"\n"), &|_| Ok(None)),
            Ok(Edited::Unchanged)
        );
        let left = std::fs::read_dir(&d).unwrap().count();
        assert_eq!(left, 1, "no temporary file is left");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn writers_wait_for_each_other() {
        let d = scratch("lock");
        let path = d.join("config.toml");
        let held = lock(&path, Duration::ZERO).unwrap();
        let e = lock(&path, Duration::from_millis(100)).err().unwrap();
        assert!(e.contains("another dynhost command"), "{e}");
        drop(held);
        assert!(lock(&path, Duration::ZERO).is_ok());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
