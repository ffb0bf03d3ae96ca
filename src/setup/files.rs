//! The files setup writes: the DynHost password file and the `[[record]]` (or UCI
//! `config record` section) added to the config.
//!
//! The record is appended as text. Appending `[[record]]` at the end of a valid TOML
//! document keeps every other byte (comments, order, spacing); the result is then
//! validated with [`config::parse`] before it replaces the file, so setup never leaves a
//! config that `dynhost check` refuses. The config goes through the one config writer
//! ([`crate::config::write`]: a lock, the file read again, an append by someone else
//! merged, any other change refused). Both files are replaced atomically: a temporary
//! file created with `O_EXCL | O_NOFOLLOW` in the same directory, fsync, rename, fsync
//! of the directory. A planted symlink is never followed.

use std::io;
use std::path::{Path, PathBuf};

use crate::config::uci;
pub use crate::config::write::{Edited, replace_atomically};
use crate::config::{self, Config};
use crate::secret::Secret;

/// Config files larger than this are refused (a real one is a few KiB).
pub const MAX_CONFIG: u64 = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Toml,
    Uci,
}

/// The config file setup adds to.
#[derive(Clone, Debug)]
pub struct Target {
    /// The file written (a symlink's target).
    pub path: PathBuf,
    pub format: Format,
    /// The text now; `None` when the file does not exist yet.
    pub text: Option<String>,
}

/// Which file: the one given, else `/etc/dynhost/config.toml`, else OpenWrt's
/// `/etc/config/dynhost` (existing, or to create on OpenWrt).
pub fn locate(path: &Path, given: bool) -> Result<Target, String> {
    let openwrt = Path::new(config::OPENWRT_PATH);
    let path = if !given
        && !path.exists()
        && (openwrt.exists() || Path::new("/etc/openwrt_release").exists())
    {
        openwrt.to_path_buf()
    } else {
        path.to_path_buf()
    };
    // An administrator's symlink is kept: the file it points to is the one replaced.
    let path = match std::fs::canonicalize(&path) {
        Ok(real) => real,
        Err(e) if e.kind() == io::ErrorKind::NotFound => path,
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let text = read_bounded(&path, MAX_CONFIG)?;
    let format = match &text {
        Some(t) if uci::looks_like_uci(t) => Format::Uci,
        Some(t) if !t.trim().is_empty() => Format::Toml,
        _ if path.starts_with("/etc/config") => Format::Uci,
        _ => Format::Toml,
    };
    Ok(Target { path, format, text })
}

/// A file's text, `None` if it does not exist; read through [`crate::bounded`].
pub fn read_bounded(path: &Path, max: u64) -> Result<Option<String>, String> {
    match crate::bounded::read_text(path, max as usize) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Where the password file goes by default: next to a TOML config; for UCI, in
/// `/etc/dynhost` (the sibling of `/etc/config`: files in `/etc/config` are UCI packages).
pub fn default_password_file(target: &Target, hostname: &str) -> PathBuf {
    let name = format!("{hostname}.secret");
    let dir = target.path.parent().unwrap_or(Path::new("/"));
    match target.format {
        Format::Toml => dir.join(name),
        Format::Uci => dir
            .parent()
            .map_or_else(|| PathBuf::from("/etc/dynhost"), |p| p.join("dynhost"))
            .join(name),
    }
}

/// The record setup writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordSpec {
    pub hostname: String,
    pub username: String,
    /// Absolute path of the password file.
    pub password_file: PathBuf,
    /// As given (for UCI, possibly a logical interface such as `wan`).
    pub interface: String,
    pub ipv6: bool,
}

/// How the record names its password in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordRef {
    /// `password_file`: the real record.
    File,
    /// An inline placeholder, to validate the result before the password file exists.
    Placeholder,
}

/// A value that can be written between quotes in both formats without escaping.
pub fn check_value(what: &str, s: &str) -> Result<(), String> {
    if s.chars()
        .any(|c| c.is_control() || matches!(c, '"' | '\'' | '\\'))
    {
        Err(format!(
            "{what} holds a quote, a backslash or a control character; choose a plainer one"
        ))
    } else {
        Ok(())
    }
}

/// How a TOML record names the password file: relative when it sits next to the config
/// (it is then also found in systemd's `$CREDENTIALS_DIRECTORY`), absolute otherwise.
pub fn password_file_in_config(target: &Target, file: &Path) -> String {
    match (target.format, file.parent(), target.path.parent()) {
        (Format::Toml, Some(a), Some(b)) if a == b => file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into(),
        ),
        _ => file.display().to_string(),
    }
}

/// The config text with the record added: the old text unchanged, then the record.
pub fn with_record(target: &Target, spec: &RecordSpec, password: PasswordRef) -> String {
    let old = target.text.as_deref().unwrap_or("");
    let mut out = String::with_capacity(old.len() + 400);
    out.push_str(old);
    if !old.is_empty() && !old.ends_with('\n') {
        out.push('\n');
    }
    let file = password_file_in_config(target, &spec.password_file);
    match target.format {
        Format::Toml => {
            if old.trim().is_empty() {
                out.push_str(
                    "# dynhost configuration: `dynhost check` validates it; see README.md.\n",
                );
            }
            out.push_str(&format!(
                "\n# Added by `dynhost setup` (DynHost login {}).\n[[record]]\n\
                 hostname = \"{}\"\nusername = \"{}\"\n",
                spec.username, spec.hostname, spec.username
            ));
            match password {
                PasswordRef::File => out.push_str(&format!("password_file = \"{file}\"\n")),
                PasswordRef::Placeholder => out.push_str("password = \"placeholder\"\n"),
            }
            out.push_str(&format!("interface = \"{}\"\n", spec.interface));
            if spec.ipv6 {
                out.push_str("ipv6 = true\n");
            }
        }
        Format::Uci => {
            out.push_str(&format!(
                "\n# Added by `dynhost setup` (DynHost login {}).\nconfig record '{}'\n\
                 \toption hostname '{}'\n\toption username '{}'\n",
                spec.username,
                uci_section_name(old, &spec.hostname),
                spec.hostname,
                spec.username
            ));
            match password {
                PasswordRef::File => out.push_str(&format!("\toption password_file '{file}'\n")),
                PasswordRef::Placeholder => out.push_str("\toption password 'placeholder'\n"),
            }
            out.push_str(&format!("\toption interface '{}'\n", spec.interface));
            if spec.ipv6 {
                out.push_str("\toption ipv6 '1'\n");
            }
        }
    }
    out
}

/// A UCI section name for the hostname (`[A-Za-z0-9_]` only), unique in `existing`.
pub fn uci_section_name(existing: &str, hostname: &str) -> String {
    let base: String = hostname
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let taken: Vec<String> = uci::parse(existing)
        .0
        .into_iter()
        .filter_map(|s| s.name)
        .collect();
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

/// The kernel device a record's interface names (UCI maps `wan` to `pppoe-wan`, say).
pub fn device_of(target: &Target, interface: &str) -> String {
    if target.format != Format::Uci {
        return interface.to_string();
    }
    let network = target
        .path
        .parent()
        .and_then(|d| read_bounded(&d.join("network"), MAX_CONFIG).ok().flatten());
    // A device netifd names itself (qmi, mbim...) cannot be guessed: keep the name.
    network
        .and_then(|n| uci::device_of(&uci::parse(&n).0, interface))
        .and_then(Result::ok)
        .unwrap_or_else(|| interface.to_string())
}

/// Parses `text` as the config at `target.path` would be.
pub fn validate(target: &Target, text: &str) -> Result<Config, String> {
    config::parse(text, Some(&target.path))
        .map(|l| l.config)
        .map_err(|e| e.to_string())
}

/// The existing config, parsed, if there is one. A file whose only problem is that it
/// has no record yet counts as empty.
pub fn existing(target: &Target) -> Result<Option<Config>, String> {
    let Some(text) = &target.text else {
        return Ok(None);
    };
    match config::parse(text, Some(&target.path)) {
        Ok(l) => Ok(Some(l.config)),
        Err(e)
            if e.problems
                .iter()
                .all(|p| p.message.starts_with("no [[record]]")) =>
        {
            Ok(None)
        }
        Err(e) => Err(format!(
            "{e}\nsetup only adds to a config that passes `dynhost check`: fix it first"
        )),
    }
}

/// Whether a usable password file is at `path` (regular, readable, one non-empty line).
/// A symlink is an error: setup never follows one.
pub fn password_file_state(path: &Path) -> Result<bool, String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("{}: {e}", path.display())),
        Ok(m) if m.file_type().is_symlink() => Err(format!(
            "{} is a symbolic link; setup never writes through one. Remove it, or choose \
             another --password-file",
            path.display()
        )),
        Ok(m) if !m.is_file() => Err(format!(
            "{} exists and is not a regular file; choose another --password-file",
            path.display()
        )),
        Ok(_) => Ok(read_bounded(path, 4096)
            .ok()
            .flatten()
            .map(|t| t.trim_end_matches(['\n', '\r']).to_string())
            .is_some_and(|t| !t.is_empty() && !t.chars().any(char::is_control))),
    }
}

/// Writes the DynHost password file: mode 0600, one line.
pub fn write_password_file(path: &Path, password: &Secret) -> Result<(), String> {
    let mut bytes = password.expose().as_bytes().to_vec();
    bytes.push(b'\n');
    let result = replace_atomically(path, &bytes, 0o600)
        .map_err(|e| format!("cannot write the password file {}: {e}", path.display()));
    bytes.fill(0);
    result
}

/// Adds the record to the config through the one config writer
/// ([`config::write::edit`]): under its lock, on the file as it is now. A record for the
/// same name that another run added meanwhile is taken when it is ours, refused
/// otherwise.
pub fn add_record(target: &Target, spec: &RecordSpec) -> Result<Edited, String> {
    let change = |now: Option<&str>| {
        let t = Target {
            text: now.map(str::to_string),
            ..target.clone()
        };
        if let Some(c) = existing(&t)?
            && let Some(r) = c.records.iter().find(|r| r.hostname == spec.hostname)
        {
            let file = r.password_file.as_deref();
            return if r.username == spec.username && file == Some(spec.password_file.as_path()) {
                Ok(None)
            } else {
                Err(format!(
                    "{} got a record for {} while setup ran, and it is not the one setup \
                     would write: nothing was added. Look at it, then run setup again",
                    target.path.display(),
                    spec.hostname
                ))
            };
        }
        Ok(Some(with_record(&t, spec, PasswordRef::File)))
    };
    config::write::edit(&target.path, target.text.as_deref(), &change)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn spec() -> RecordSpec {
        RecordSpec {
            hostname: "home.example.com".into(),
            username: "example.com-home".into(),
            password_file: "/etc/dynhost/home.example.com.secret".into(),
            interface: "ppp0".into(),
            ipv6: false,
        }
    }

    fn toml(text: Option<&str>) -> Target {
        Target {
            path: "/etc/dynhost/config.toml".into(),
            format: Format::Toml,
            text: text.map(str::to_string),
        }
    }

    const COMMENTED: &str = "# my router\nstate_dir = \"/var/lib/dynhost\" # keep\n\n\
                             [provider]\n# the default endpoint\ntimeout = \"20s\"";

    #[test]
    fn appending_keeps_every_byte_and_validates() {
        let t = toml(Some(COMMENTED));
        let out = with_record(&t, &spec(), PasswordRef::Placeholder);
        assert!(out.starts_with(COMMENTED), "{out}");
        let c = validate(&t, &out).expect("valid");
        assert_eq!(c.records.len(), 1);
        assert_eq!(c.provider.timeout, std::time::Duration::from_secs(20));
        assert_eq!(c.records[0].username, "example.com-home");
        let real = with_record(&t, &spec(), PasswordRef::File);
        assert!(
            real.contains("password_file = \"home.example.com.secret\"\n"),
            "next to the config, relative: {real}"
        );
        // A fresh file gets a header, and IPv6 when asked.
        let fresh = with_record(
            &toml(None),
            &RecordSpec {
                ipv6: true,
                ..spec()
            },
            PasswordRef::Placeholder,
        );
        assert!(fresh.starts_with("# dynhost configuration"));
        let c = validate(&toml(None), &fresh).unwrap();
        assert!(c.records[0].ipv6 && c.records[0].ipv4);
    }

    #[test]
    fn a_config_that_cannot_take_the_record_fails_validation() {
        let t = toml(Some("record = []\n"));
        let out = with_record(&t, &spec(), PasswordRef::Placeholder);
        assert!(validate(&t, &out).is_err());
    }

    #[test]
    fn uci_sections() {
        let existing = "config dynhost\n\toption debounce '2s'\n\nconfig record 'home_example_com'\n\
                        \toption hostname 'other.example.com'\n\toption username 'u'\n\
                        \toption password 'p'\n\toption interface 'eth0'\n";
        assert_eq!(
            uci_section_name(existing, "home.example.com"),
            "home_example_com_2"
        );
        let t = Target {
            path: "/etc/config/dynhost".into(),
            format: Format::Uci,
            text: Some(existing.into()),
        };
        let out = with_record(&t, &spec(), PasswordRef::File);
        assert!(out.starts_with(existing));
        assert!(
            out.contains(
                "config record 'home_example_com_2'\n\toption hostname 'home.example.com'"
            ) && out.contains("\toption password_file '/etc/dynhost/home.example.com.secret'\n"),
            "{out}"
        );
        let placeholder = with_record(&t, &spec(), PasswordRef::Placeholder);
        let c = validate(&t, &placeholder).expect("valid UCI");
        assert_eq!(c.records.len(), 2);
        assert_eq!(
            default_password_file(&t, "home.example.com"),
            Path::new("/etc/dynhost/home.example.com.secret")
        );
    }

    #[test]
    fn values_that_need_quoting_are_refused() {
        assert!(check_value("x", "/etc/dynhost/a.secret").is_ok());
        for bad in ["a\"b", "a'b", "a\\b", "a\nb"] {
            assert!(check_value("x", bad).is_err(), "{bad:?}");
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dynhost-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_password_file_is_0600_and_never_follows_a_symlink() {
        let d = scratch("pw");
        let file = d.join("home.secret");
        write_password_file(&file, &Secret::new("s3cret".into())).unwrap();
        let m = std::fs::metadata(&file).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "s3cret\n");
        assert!(password_file_state(&file).unwrap());
        // A symlink planted at the path is refused up front...
        let victim = d.join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let link = d.join("planted.secret");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(
            password_file_state(&link)
                .unwrap_err()
                .contains("symbolic link")
        );
        // ...and a write that races with one replaces the link, not its target.
        write_password_file(&link, &Secret::new("x".into())).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // A temporary file left by a killed run goes with the next write; none is left.
        let leftover = d.join(".home.secret.0123456789abcdef.tmp");
        std::fs::write(&leftover, "old secret").unwrap();
        write_password_file(&file, &Secret::new("s3cret".into())).unwrap();
        assert!(!leftover.exists());
        let left: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty());
        std::fs::write(d.join("empty.secret"), "\n").unwrap();
        assert!(!password_file_state(&d.join("empty.secret")).unwrap());
        assert!(!password_file_state(&d.join("missing.secret")).unwrap());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_config_keeps_its_mode_and_is_only_written_valid() {
        let d = scratch("cfg");
        let path = d.join("config.toml");
        std::fs::write(&path, COMMENTED).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let t = locate(&path, true).unwrap();
        assert_eq!(t.format, Format::Toml);
        let ours = RecordSpec {
            password_file: d.join("home.secret"),
            ..spec()
        };
        write_password_file(&ours.password_file, &Secret::new("s3cret".into())).unwrap();
        let bad = RecordSpec {
            interface: "not an interface!".into(),
            ..ours.clone()
        };
        assert!(add_record(&t, &bad).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), COMMENTED);
        let good = with_record(&t, &ours, PasswordRef::File);
        assert_eq!(add_record(&t, &ours), Ok(Edited::Written));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), good);
        // The same record added again (another run got there first): nothing to do.
        assert_eq!(add_record(&t, &ours), Ok(Edited::Unchanged));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn existing_configs() {
        assert!(existing(&toml(None)).unwrap().is_none());
        // Settings without a record yet count as empty.
        assert!(existing(&toml(Some(COMMENTED))).unwrap().is_none());
        let broken = existing(&toml(Some("debounce = \"soon\"\n"))).unwrap_err();
        assert!(broken.contains("fix it first"), "{broken}");
    }
}
