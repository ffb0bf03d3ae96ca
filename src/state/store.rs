//! The state directory: the state file, written atomically (temporary file, fsync,
//! rename, fsync of the directory) and only when its text changed, to spare a router's
//! flash; and the lock that keeps two processes from updating records at once.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::StateMap;
use super::format::{parse, render};

const FILE: &str = "state";
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

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Reads the state; a missing file is an empty state. A writable store also clears
    /// temporary files left by a process killed in the middle of a write.
    pub fn load(&mut self) -> Result<StateMap, String> {
        if !self.read_only {
            self.remove_leftovers();
        }
        let path = self.path();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let map = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                self.last = Some(render(&map));
                Ok(map)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(StateMap::new()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
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
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o644)
                .open(&tmp)?;
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
    pub fn lock(&self, wait: Duration) -> io::Result<Lock> {
        self.ensure_dir()?;
        let path = self.dir.join(LOCK);
        // flock needs no write access: open read-only, so that a lock file created by
        // root (a hook's one-shot) stays usable by a daemon running as another user.
        let open = || File::open(&path);
        let file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .open(&path)
                .and_then(|_| open()),
            other => other,
        }
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let deadline = Instant::now() + wait;
        loop {
            // SAFETY: flock on a descriptor we own; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(Lock { _file: file });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::WouldBlock {
                return Err(err);
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("{} is held by another dynhost process", path.display()),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Held while updating; released when dropped (or when the process dies).
pub struct Lock {
    _file: File,
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
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(held);
        assert!(store.lock(Duration::ZERO).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
