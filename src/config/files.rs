//! All the config's file I/O: the config file itself, password files, the CA file's
//! presence, modification times, systemd's credentials directory and OpenWrt's network
//! config. The reader (`walk`) sees these only through the `Files` trait, so that it
//! stays pure and its tests need no files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::checks::check_password;
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
    /// The layer-3 device netifd gives OpenWrt logical interface `name` (`l3_device` in
    /// `ubus call network.interface.NAME status`), or why there is none.
    fn l3_device(&self, name: &str) -> Result<String, String> {
        let _ = name;
        Err("netifd is not asked".into())
    }
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

    fn l3_device(&self, name: &str) -> Result<String, String> {
        netifd_l3_device(name)
    }
}

/// Asks netifd through `ubus` (OpenWrt), in bounded time and memory.
fn netifd_l3_device(name: &str) -> Result<String, String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    // An interface name is a UCI section name; anything else is not netifd's.
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("{name:?} is not a netifd interface name"));
    }
    let object = format!("network.interface.{name}");
    let mut child = Command::new("ubus")
        .args(["-t", "3", "call", &object, "status"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run ubus ({e}): netifd was not asked"))?;
    let mut out = Vec::new();
    let read = child
        .stdout
        .take()
        .map(|s| s.take(64 * 1024).read_to_end(&mut out));
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    match (status, read) {
        (Some(st), Some(Ok(_))) if st.success() => {}
        (Some(_), _) => return Err(format!("netifd does not know interface {name:?}")),
        (None, _) => return Err("ubus did not answer within 5 s".into()),
    }
    let text = String::from_utf8_lossy(&out);
    match json_string(&text, "l3_device") {
        Some(dev) if super::checks::check_interface(&dev).is_ok() => Ok(dev),
        Some(dev) => Err(format!(
            "netifd reported {dev:?}, which is not a device name"
        )),
        None => Err(format!(
            "netifd reports no device for {name:?} (it is down)"
        )),
    }
}

/// The string value of top-level `"key"` in a JSON text (ubus's answer), if any.
fn json_string(text: &str, key: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get(key)?.as_str().map(str::to_owned)
}

/// The file a "readable by group or others" warning (from [`load`] or a password
/// file) is about: such a warning is said once per file and change (`app::warned`).
pub fn permission_warning_path(warning: &str) -> Option<&Path> {
    if !warning.contains("is readable by group or others") {
        return None;
    }
    warning
        .rsplit_once("run: chmod 600 ")
        .map(|(_, p)| Path::new(p))
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

#[cfg(test)]
mod tests {
    use super::json_string;

    #[test]
    fn l3_device_from_ubus_answers() {
        let up = "{\n\t\"up\": true,\n\t\"l3_device\": \"pppoe-wan\",\n\t\"device\": \"wan\"\n}";
        assert_eq!(json_string(up, "l3_device").as_deref(), Some("pppoe-wan"));
        assert_eq!(json_string(up, "device").as_deref(), Some("wan"));
        for (text, want) in [
            ("{ \"up\": false, \"device\": \"wan\" }", None),
            ("{\"l3_device\":\"a\\\"b\"}", Some("a\"b")),
            ("{\"l3_device\": 5}", None),
            ("{\"l3_device\": \"unterminated", None),
            ("", None),
        ] {
            assert_eq!(json_string(text, "l3_device").as_deref(), want, "{text:?}");
        }
    }
}
