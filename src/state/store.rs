//! The state directory: the state file, written atomically (temporary file, fsync,
//! rename, fsync of the directory) and only when its text changed, to spare a router's
//! flash; and the lock that keeps two processes from updating records at once.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::warn;

use super::StateMap;
use super::format::{parse, render};
use crate::bounded;

const FILE: &str = "state";
/// The largest state file read: a hundred records take about 40 KiB.
pub const LIMIT: usize = 1 << 20;
const LOCK: &str = "lock";

/// The state directory: the state file and the lock.
pub struct Store {
    dir: PathBuf,
    /// `--dry-run`: nothing is ever written.
    read_only: bool,
    /// The text last written or read, to skip writes that change nothing.
    last: Option<String>,
}

impl Store {
    pub fn new(dir: &Path, read_only: bool) -> Store {
        Store {
            dir: dir.to_path_buf(),
            read_only,
            last: None,
        }
    }

    /// From now on, nothing is written: the state directory cannot be.
    pub fn keep_in_memory(&mut self) {
        self.read_only = true;
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Reads the state; a missing file is an empty state. Lines that cannot be read
    /// are skipped, said once here, and dropped at the next write. A writable store
    /// also clears temporary files left by a process killed in the middle of a write.
    pub fn load(&mut self) -> Result<StateMap, String> {
        if !self.read_only {
            self.remove_leftovers();
        }
        let path = self.path();
        let text = match bounded::read_text(&path, LIMIT) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(StateMap::new()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let parsed = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        const SHOWN: usize = 5;
        for why in parsed.skipped.iter().take(SHOWN) {
            warn!(path = %path.display(), "state file: {why}; that entry is dropped");
        }
        if parsed.skipped.len() > SHOWN {
            warn!(path = %path.display(), "state file: {} more unreadable lines dropped",
                  parsed.skipped.len() - SHOWN);
        }
        // A clean file is not rewritten until something changes; a damaged one is.
        self.last = parsed.skipped.is_empty().then(|| render(&parsed.map));
        Ok(parsed.map)
    }

    /// Writes `map` atomically, unless it is what the file already holds.
    /// Returns whether a write happened.
    pub fn save(&mut self, map: &StateMap) -> io::Result<bool> {
        let text = render(map);
        if self.read_only || self.last.as_deref() == Some(text.as_str()) {
            return Ok(false);
        }
        self.ensure_dir()?;
        let tmp = self.dir.join(format!(".{FILE}.{}.tmp", std::process::id()));
        let result = (|| {
            let mut f = create_new(&tmp, self.owner())?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.path())?;
            File::open(&self.dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result?;
        self.last = Some(text);
        Ok(true)
    }

    /// Who files created here belong to: the directory's owner, when that is another
    /// user and we are root. A root hook's one-shot round then leaves the state file
    /// and the lock to the daemon's (systemd `DynamicUser=`) user, not to root.
    fn owner(&self) -> Option<(u32, u32)> {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let m = std::fs::metadata(&self.dir).ok()?;
        (m.uid() != 0).then(|| (m.uid(), m.gid()))
    }

    fn remove_leftovers(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&format!(".{FILE}.")) && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    fn ensure_dir(&self) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create state directory {}: {e}", self.dir.display()),
            )
        })
    }

    /// Takes the lock that keeps two dynhost processes from updating at once, waiting
    /// up to `wait` for another holder to finish.
    pub fn lock(&self, wait: Duration) -> Result<Lock, LockError> {
        let unwritable = |e: io::Error| LockError::Unwritable(e.to_string());
        self.ensure_dir().map_err(unwritable)?;
        let path = self.dir.join(LOCK);
        // flock needs no write access: open read-only, so that a lock file created by
        // root (a hook's one-shot) stays usable by a daemon running as another user.
        let open = || File::open(&path);
        let file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match create_new(&path, self.owner()) {
                    Ok(_) => open(),
                    // Another process created it first.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => open(),
                    Err(e) => Err(e),
                }
            }
            other => other,
        }
        .map_err(|e| LockError::Unwritable(format!("{}: {e}", path.display())))?;
        let deadline = Instant::now() + wait;
        loop {
            // SAFETY: flock on a descriptor we own; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(Lock { _file: file });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::WouldBlock {
                return Err(LockError::Unwritable(format!("{}: {err}", path.display())));
            }
            if Instant::now() >= deadline {
                return Err(LockError::Held(format!(
                    "{} is held by another dynhost process",
                    path.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Held while updating; released when dropped (or when the process dies).
pub struct Lock {
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum LockError {
    /// Another dynhost process holds it.
    Held(String),
    /// The state directory cannot be written (read-only, not ours): run from memory.
    Unwritable(String),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held(m) | LockError::Unwritable(m) => f.write_str(m),
        }
    }
}

/// Creates `path`, which must not exist yet, and never through a symlink: the state
/// directory may belong to another user (systemd's dynamic user) while root writes in
/// it. A leftover of ours is removed first. `owner` gets the file.
fn create_new(path: &Path, owner: Option<(u32, u32)>) -> io::Result<File> {
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
    };
    let file = match open() {
        // A temporary file left by a crash of a process with our pid, or a planted
        // link: removing it removes the link, never its target.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && is_tmp(path) => {
            std::fs::remove_file(path)?;
            open()?
        }
        other => other?,
    };
    if let Some((uid, gid)) = owner {
        // SAFETY: fchown on a descriptor we own.
        if unsafe { libc::fchown(file.as_raw_fd(), uid, gid) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(file)
}

fn is_tmp(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(&format!(".{FILE}.")) && n.ends_with(".tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::format::tests::sample;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dynhost-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn saves_atomically_and_only_on_change() {
        let dir = temp_dir("state");
        let mut store = Store::new(&dir, false);
        assert_eq!(store.load().unwrap(), StateMap::new());
        assert!(store.save(&sample()).unwrap());
        assert!(!store.save(&sample()).unwrap(), "unchanged: no write");
        let mut again = Store::new(&dir, false);
        assert_eq!(again.load().unwrap(), sample());
        assert!(!again.save(&sample()).unwrap(), "same as on disk: no write");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_write_cut_short_by_a_crash_leaves_the_old_state() {
        let dir = temp_dir("crash");
        let mut store = Store::new(&dir, false);
        store.save(&sample()).unwrap();
        // What a kill -9 between create and rename leaves behind.
        std::fs::write(dir.join(".state.4242.tmp"), "dynhost-state 1\nhome.exa").unwrap();
        let mut again = Store::new(&dir, false);
        assert_eq!(again.load().unwrap(), sample());
        assert!(
            !dir.join(".state.4242.tmp").exists(),
            "the leftover is removed"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_oversized_state_file_is_refused_not_read_whole() {
        let dir = temp_dir("state-big");
        std::fs::create_dir_all(&dir).unwrap();
        let big = "x".repeat(LIMIT + 1);
        std::fs::write(dir.join(FILE), big).unwrap();
        let err = Store::new(&dir, true).load().unwrap_err();
        assert!(err.contains("larger than"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_file_keeps_its_good_entries_and_is_rewritten_without_the_bad_line() {
        let dir = temp_dir("state-damaged");
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!("{}garbage ipv9\n", render(&sample()));
        std::fs::write(dir.join(FILE), &text).unwrap();
        let mut store = Store::new(&dir, false);
        let map = store.load().unwrap();
        assert_eq!(map, sample());
        assert!(
            store.save(&map).unwrap(),
            "the bad line goes at the next write"
        );
        let again = std::fs::read_to_string(dir.join(FILE)).unwrap();
        assert!(!again.contains("garbage"), "{again}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The state directory may belong to systemd's dynamic user while root hooks write
    /// in it: a link planted where the temporary file goes is removed, never followed.
    #[test]
    fn a_planted_link_at_the_temporary_path_is_not_followed() {
        let dir = temp_dir("state-link");
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let tmp = dir.join(format!(".{FILE}.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        let mut store = Store::new(&dir, false);
        assert!(store.save(&sample()).unwrap());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(
            std::fs::read_to_string(dir.join(FILE)).unwrap(),
            render(&sample())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Root writing into a state directory another user owns leaves the files to that
    /// user (the daemon's), not to root.
    #[test]
    fn files_root_creates_belong_to_the_directory_s_owner() {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            panic!("this test needs root (it chowns a directory); run it as root, as CI does");
        }
        let dir = temp_dir("state-owner");
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534))
            .expect("chown needs real root (not a user namespace's)");
        let mut store = Store::new(&dir, false);
        store.save(&sample()).unwrap();
        let _lock = store.lock(Duration::from_secs(1)).unwrap();
        for f in [FILE, LOCK] {
            let m = std::fs::metadata(dir.join(f)).unwrap();
            assert_eq!((m.uid(), m.gid()), (65534, 65534), "{f}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn read_only_stores_write_nothing() {
        let dir = temp_dir("ro");
        let mut store = Store::new(&dir, true);
        assert!(!store.save(&sample()).unwrap());
        assert!(!dir.exists());
    }

    #[test]
    fn the_lock_is_exclusive() {
        let dir = temp_dir("lock");
        let store = Store::new(&dir, false);
        let held = store.lock(Duration::ZERO).unwrap();
        let err = store.lock(Duration::from_millis(120)).err().unwrap();
        assert!(matches!(err, LockError::Held(_)), "{err}");
        drop(held);
        assert!(store.lock(Duration::ZERO).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
