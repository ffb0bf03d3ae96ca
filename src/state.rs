//! What was last published, per record and family, kept across restarts.
//!
//! The format half is pure (text to map and back); the file half writes atomically
//! (temporary file, fsync, rename, fsync of the directory) and only when the text
//! changed, to spare a router's flash. A lock file in the same directory keeps two
//! processes from updating records at once.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::engine::{LastReply, Memory, Published, SlotKey, SlotMemory};
use crate::model::Family;

pub type StateMap = Memory;

const MAGIC: &str = "dynhost-state 1";
const FILE: &str = "state";
const LOCK: &str = "lock";

/// Unix seconds now.
pub fn wall_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// ---- format -----------------------------------------------------------------------

pub fn render(map: &StateMap) -> String {
    let mut out = String::from(
        "# dynhost: last published address per record and family. Written atomically by\n\
         # dynhost; deleting it makes the next round send every record once.\n",
    );
    out.push_str(MAGIC);
    out.push('\n');
    for (k, m) in map {
        let _ = write!(out, "{} {}", k.hostname, k.family);
        if let Some(p) = &m.published {
            let _ = write!(out, " published={}@{}", p.addr, p.at);
        }
        if let Some(r) = &m.last_reply {
            let _ = write!(
                out,
                " reply={}@{} detail={}",
                encode(&r.token),
                r.at,
                encode(&r.detail)
            );
        }
        if let Some(t) = m.retry_at {
            let _ = write!(out, " retry_at={t}");
        }
        if let Some(t) = m.blocked_since {
            let _ = write!(out, " blocked_since={t}");
        }
        if let Some((first, rest)) = m.sends.split_first() {
            let _ = write!(out, " sent={first}");
            for t in rest {
                let _ = write!(out, ",{t}");
            }
        }
        out.push('\n');
    }
    out
}

pub fn parse(text: &str) -> Result<StateMap, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    match lines.next() {
        Some((_, l)) if l.trim() == MAGIC => {}
        Some((n, _)) => return Err(format!("line {}: not a dynhost state file", n + 1)),
        None => return Ok(StateMap::new()),
    }
    let mut map = StateMap::new();
    for (n, line) in lines {
        let (key, mem) = parse_entry(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        map.insert(key, mem);
    }
    Ok(map)
}

fn parse_entry(line: &str) -> Result<(SlotKey, SlotMemory), String> {
    let mut words = line.split_ascii_whitespace();
    let hostname = words.next().ok_or("empty entry")?.to_string();
    let family = words
        .next()
        .and_then(Family::parse)
        .ok_or("expected ipv4 or ipv6 after the hostname")?;
    let mut m = SlotMemory::default();
    let mut detail = None;
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("{w:?} is not key=value"))?;
        let num = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| format!("{k}: bad number {s:?}"))
        };
        let stamped = |v: &str| -> Result<(String, u64), String> {
            let (a, t) = v
                .rsplit_once('@')
                .ok_or_else(|| format!("{k}: expected value@time"))?;
            Ok((a.to_string(), num(t)?))
        };
        match k {
            "published" => {
                let (a, at) = stamped(v)?;
                let addr: IpAddr = a.parse().map_err(|_| format!("bad address {a:?}"))?;
                m.published = Some(Published { addr, at });
            }
            "reply" => {
                let (token, at) = stamped(v)?;
                m.last_reply = Some(LastReply {
                    token: decode(&token)?,
                    detail: String::new(),
                    at,
                });
            }
            "detail" => detail = Some(decode(v)?),
            "retry_at" => m.retry_at = Some(num(v)?),
            "blocked_since" => m.blocked_since = Some(num(v)?),
            "sent" => m.sends = v.split(',').map(num).collect::<Result<_, _>>()?,
            // Written by a newer version: keep going with what we understand.
            _ => {}
        }
    }
    if let (Some(r), Some(d)) = (&mut m.last_reply, detail) {
        r.detail = d;
    }
    Ok((SlotKey { hostname, family }, m))
}

/// Percent-encodes everything but a safe ASCII set, so that a value is one word.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.:!/()[]<>,'".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Reverses `encode`.
pub fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("truncated escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad escape")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "bad UTF-8 in escape".to_string())
}

// ---- files ------------------------------------------------------------------------

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

    fn sample() -> StateMap {
        let mut map = StateMap::new();
        map.insert(
            SlotKey {
                hostname: "home.example.com".into(),
                family: Family::V4,
            },
            SlotMemory {
                published: Some(Published {
                    addr: "203.0.113.5".parse().unwrap(),
                    at: 1_800_000_000,
                }),
                last_reply: Some(LastReply {
                    token: "good".into(),
                    detail: "good 203.0.113.5".into(),
                    at: 1_800_000_000,
                }),
                retry_at: None,
                blocked_since: None,
                sends: vec![1_799_999_000, 1_800_000_000],
            },
        );
        map.insert(
            SlotKey {
                hostname: "home.example.com".into(),
                family: Family::V6,
            },
            SlotMemory {
                published: None,
                last_reply: Some(LastReply {
                    token: "error-400".into(),
                    detail: "HTTP 400 Client::BadRequest: \"{'system': ['Missing data']}\" 100%\n"
                        .into(),
                    at: 1_800_000_100,
                }),
                retry_at: Some(1_800_001_900),
                blocked_since: Some(1_800_000_100),
                sends: vec![],
            },
        );
        map
    }

    #[test]
    fn round_trips() {
        let map = sample();
        let text = render(&map);
        assert_eq!(parse(&text).unwrap(), map);
        for line in text.lines().filter(|l| l.starts_with("home")) {
            assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn rejects_foreign_and_broken_files() {
        assert!(
            parse("hello\n")
                .unwrap_err()
                .contains("not a dynhost state file")
        );
        let bad = format!("{MAGIC}\nhome.example.com ipv5\n");
        assert!(parse(&bad).unwrap_err().contains("line 2"));
        let bad = format!("{MAGIC}\nhome.example.com ipv4 published=nope@1\n");
        assert!(parse(&bad).is_err());
        assert_eq!(parse("").unwrap(), StateMap::new());
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let text = format!("{MAGIC}\nh.example.com ipv4 future=1 retry_at=5\n");
        let map = parse(&text).unwrap();
        assert_eq!(map.values().next().unwrap().retry_at, Some(5));
    }

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
