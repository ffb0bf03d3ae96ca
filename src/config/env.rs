//! The config from the environment, for containers: every global setting as
//! `DYNHOST_<KEY>` (dots become `_`: `DYNHOST_VERIFY_ENABLED`), one record as
//! `DYNHOST_RECORD_<KEY>`, and every secret's `_FILE` variant (the table's `<key>_file`
//! setting, e.g. `DYNHOST_RECORD_PASSWORD_FILE`). The names come from the settings
//! table. The variables are written out as the TOML they stand for, one line each, and
//! read by the file's own reader: the same checks and the same errors, each naming the
//! variable instead of the line.
//!
//! Also here, because it is about the environment a container gives: the warning for a
//! record that follows a bridge network's veth (`bridge_warning`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use super::SETTINGS;
use super::checks::suggest;
use super::files::{Files, System};
use super::settings::{Kind, Setting};
use super::{Config, ConfigError, Loaded, Record, quote, walk};
use crate::model::{Family, Source};

pub const PREFIX: &str = "DYNHOST_";
/// How errors name where the config came from.
pub const ORIGIN: &str = "environment";
/// The program's own variables, which are not settings.
const NOT_SETTINGS: &[&str] = &[
    "DYNHOST_CONFIG",
    "DYNHOST_LOG",
    "DYNHOST_NETLINK_RCVBUF",
    "DYNHOST_SYSLOG",
];

/// The variable of setting `s`.
pub fn var(s: &Setting) -> String {
    format!("{PREFIX}{}", s.key.replace('.', "_").to_ascii_uppercase())
}

/// The process's `DYNHOST_` variables (a value that is not UTF-8 is read lossily, and
/// then fails its check).
pub fn vars() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            k.starts_with(PREFIX)
                .then(|| (k, v.to_string_lossy().into_owned()))
        })
        .collect()
}

/// Whether `vars` set any setting: then, without a config file, they are the config.
pub fn describes(vars: &[(String, String)]) -> bool {
    vars.iter()
        .any(|(k, _)| SETTINGS.iter().any(|s| var(s) == *k))
}

/// The config the process environment describes, when it describes one and there is
/// no config file (`path` absent and not chosen): a file, when there is one, wins.
pub fn instead_of(path: &Path, path_given: bool) -> Option<Result<Loaded, ConfigError>> {
    let vars = vars();
    (!path_given && !path.exists() && describes(&vars)).then(|| read(&vars, &System::new()))
}

/// The config `vars` describe; files (a password file) through `files`.
pub fn read(vars: &[(String, String)], files: &dyn Files) -> Result<Loaded, ConfigError> {
    let get = |name: &str| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // The TOML text, and the variable each line came from.
    let mut text = String::new();
    let mut lines: Vec<Option<String>> = Vec::new();
    let mut warnings = Vec::new();
    let mut push = |text: &mut String, line: String, from: Option<String>| {
        text.push_str(&line);
        text.push('\n');
        lines.push(from);
    };
    for (record, s) in SETTINGS
        .iter()
        .filter(|s| !s.is_record())
        .map(|s| (false, s))
        .chain(SETTINGS.iter().filter(|s| s.is_record()).map(|s| (true, s)))
    {
        let name = var(s);
        let Some(value) = get(&name) else { continue };
        // The first record setting opens the record's table.
        if record && !text.contains("[[record]]\n") {
            push(&mut text, "[[record]]".into(), None);
        }
        let key = if record { s.leaf() } else { s.key };
        push(
            &mut text,
            format!("{key} = {}", toml_value(&s.kind, value)),
            Some(name.clone()),
        );
        if matches!(s.kind, Kind::Secret) {
            warnings.push(format!(
                "{name} holds a secret inline: it shows in `docker inspect` and to anyone \
                 who can read the process's environment; use {name}_FILE"
            ));
        }
    }
    let known: Vec<String> = SETTINGS.iter().map(var).collect();
    let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
    for (k, _) in vars {
        if !known.contains(k) && !NOT_SETTINGS.contains(&k.as_str()) {
            let hint = suggest(k, &known_refs, "");
            warnings.push(format!("{k} is not a setting; it is ignored{hint}"));
        }
    }
    match walk::read(&text, None, files) {
        Ok(mut loaded) => {
            warnings.append(&mut loaded.warnings);
            loaded.warnings = warnings;
            loaded.config.source = None;
            loaded.config.from_env = true;
            Ok(loaded)
        }
        Err(mut e) => {
            e.origin = ORIGIN.into();
            for p in &mut e.problems {
                let by_line = p
                    .line
                    .checked_sub(1)
                    .and_then(|i| lines.get(i).cloned().flatten());
                p.key = match by_line {
                    Some(v) if p.key.is_empty() => v,
                    _ => var_for_key(&p.key),
                };
                p.line = 0;
                p.column = 0;
            }
            Err(e)
        }
    }
}

/// The variable a problem's key (`record[1].hostname`, `provider.url`) stands for.
fn var_for_key(key: &str) -> String {
    let key = match key.strip_prefix("record[") {
        Some(rest) => match rest.split_once(']') {
            Some((_, "")) | None => "record",
            Some((_, leaf)) => return var_for_key(&format!("record{leaf}")),
        },
        None => key,
    };
    match SETTINGS.iter().find(|s| s.key == key) {
        Some(s) => var(s),
        None if key == "record" => format!("{PREFIX}RECORD_*"),
        None => key.to_string(),
    }
}

/// The TOML for a variable's text: lists are comma-separated, a number of seconds or a
/// count may be bare, true and false are booleans; anything else is a string, and
/// fails or passes the setting's check as that string would in a file.
fn toml_value(kind: &Kind, text: &str) -> String {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.len() < 12;
    match kind {
        Kind::Bool if text == "true" || text == "false" => text.to_string(),
        Kind::Count { .. } | Kind::Duration { .. } | Kind::Interval { .. } if digits => {
            text.to_string()
        }
        Kind::Sources(_)
        | Kind::Urls
        | Kind::Hosts { many: true }
        | Kind::Strings { many: true, .. } => {
            let items: Vec<String> = text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(quote)
                .collect();
            format!("[{}]", items.join(", "))
        }
        _ => quote(text),
    }
}

/// The warning for record `r` following interface `iface` when that is a veth (`veth`)
/// holding the private IPv4 addresses `v4`: on a container's bridge network, the
/// container's own end of the pair, whose address is never the public one.
pub fn bridge_warning(r: &Record, veth: bool, v4: &[Ipv4Addr]) -> Option<String> {
    if !veth || !r.enabled || !r.publishes(Family::V4) {
        return None;
    }
    if !r.ipv4_source.contains(&Source::Interface) {
        return None;
    }
    let private = v4.iter().find(|a| {
        a.is_private() || a.is_link_local() || (a.octets()[0] == 100 && a.octets()[1] & 0xc0 == 64)
    })?;
    Some(format!(
        "record {} follows {} with the interface source, but {} is a veth with the private \
         address {private}: on a container's bridge network that is the container's own \
         address, never the public one. Run the container with the host's network \
         (network_mode: host), or learn the public address from outside: \
         ipv4_source = [\"gateway\", \"web\"] (DYNHOST_RECORD_IPV4_SOURCE=gateway,web; \
         gateway only where the router is the container's gateway, web with web.urls)",
        r.hostname, r.interface, r.interface
    ))
}

/// Whether `name` is one end of a veth pair: its driver, as ethtool asks it in this
/// network namespace (sysfs may show another namespace's interfaces).
fn is_veth(name: &str) -> bool {
    /// `struct ethtool_drvinfo` (linux/ethtool.h); only `driver` is read.
    #[repr(C)]
    struct DrvInfo {
        cmd: u32,
        driver: [u8; 32],
        rest: [u8; 32 * 4 + 12 + 4 * 5],
    }
    const ETHTOOL_GDRVINFO: u32 = 3;
    if name.len() >= libc::IFNAMSIZ {
        return false;
    }
    let mut info = DrvInfo {
        cmd: ETHTOOL_GDRVINFO,
        driver: [0; 32],
        rest: [0; 32 * 4 + 12 + 4 * 5],
    };
    // SAFETY: a zeroed ifreq is valid; the name fits (checked) with its NUL.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    req.ifr_ifru.ifru_data = (&raw mut info).cast();
    // SAFETY: a plain datagram socket, closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return false;
    }
    // SAFETY: SIOCETHTOOL reads `req` and writes at most a `DrvInfo` into `info`.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCETHTOOL as _, &mut req) };
    // SAFETY: `fd` is ours.
    unsafe { libc::close(fd) };
    rc == 0 && info.driver.starts_with(b"veth\0")
}

/// The bridge-network warnings for `config`, from the kernel's view now. Addresses are
/// read only when some record follows a veth: nothing else runs before the daemon.
pub async fn bridge_warnings(config: &Config) -> Vec<String> {
    let on_veth: Vec<&Record> = config
        .records
        .iter()
        .filter(|r| r.uses(Source::Interface) && is_veth(&r.interface))
        .collect();
    if on_veth.is_empty() {
        return Vec::new();
    }
    let Ok(snap) = crate::netlink::dump().await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in on_veth {
        let Some(link) = snap.link_named(&r.interface) else {
            continue;
        };
        let v4: Vec<Ipv4Addr> = snap
            .addrs_of(link.index)
            .filter_map(|a| match a.addr {
                IpAddr::V4(v) => Some(v),
                IpAddr::V6(_) => None,
            })
            .collect();
        if let Some(w) = bridge_warning(r, true, &v4) {
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use std::path::PathBuf;

    /// Files as the tests need them: one password file.
    struct OnePassword;

    impl Files for OnePassword {
        fn password(&self, path: &Path) -> Result<(Secret, Option<String>), String> {
            if path == Path::new("/run/secrets/dynhost") {
                Ok((Secret::new("s3cret-from-file".into()), None))
            } else {
                Err(format!("cannot read {}: No such file", path.display()))
            }
        }
        fn ca(&self, path: &Path) -> Result<Vec<u8>, String> {
            Err(format!("{}: absent", path.display()))
        }
        fn credential(&self, _: &str) -> Option<PathBuf> {
            None
        }
        fn network(&self, _: &Path) -> Option<String> {
            None
        }
        fn modified(&self, _: &Path) -> Option<u64> {
            None
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const RECORD: &[(&str, &str)] = &[
        ("DYNHOST_RECORD_HOSTNAME", "home.example.com"),
        ("DYNHOST_RECORD_USERNAME", "example.com-home"),
        ("DYNHOST_RECORD_PASSWORD_FILE", "/run/secrets/dynhost"),
        ("DYNHOST_RECORD_INTERFACE", "eth0"),
    ];

    fn with(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v = env(RECORD);
        v.extend(env(extra));
        v
    }

    #[test]
    fn every_setting_has_a_variable_and_every_secret_a_file_variant() {
        let names: Vec<String> = SETTINGS.iter().map(var).collect();
        assert!(names.contains(&"DYNHOST_DEBOUNCE".to_string()));
        assert!(names.contains(&"DYNHOST_VERIFY_ENABLED".to_string()));
        assert!(names.contains(&"DYNHOST_RECORD_IPV4_SOURCE".to_string()));
        for s in SETTINGS.iter().filter(|s| matches!(s.kind, Kind::Secret)) {
            let file = format!("{}_FILE", var(s));
            assert!(
                names.contains(&file),
                "secret {} needs a `{}_file` setting for {file}",
                s.key,
                s.key
            );
        }
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "two settings share a variable");
        for n in NOT_SETTINGS {
            assert!(!names.contains(&n.to_string()));
        }
    }

    #[test]
    #[cfg(feature = "gateway")]
    fn a_record_and_globals_from_the_environment() {
        let vars = with(&[
            ("DYNHOST_DEBOUNCE", "2s"),
            ("DYNHOST_MAX_UPDATES_PER_HOUR", "20"),
            ("DYNHOST_VERIFY_ENABLED", "false"),
            ("DYNHOST_PROVIDER_URL", "http://127.0.0.1:8080/nic/update"),
            ("DYNHOST_RECORD_IPV4_SOURCE", "gateway, web"),
            (
                "DYNHOST_WEB_URLS",
                "https://echo.example.net/,https://ip.example.org/",
            ),
            ("DYNHOST_RETRY_INITIAL", "45"),
            ("DYNHOST_LOG", "debug"),
        ]);
        let loaded = read(&vars, &OnePassword).unwrap();
        let c = &loaded.config;
        assert!(c.from_env);
        assert_eq!(c.debounce, std::time::Duration::from_secs(2));
        assert_eq!(c.max_updates_per_hour, 20);
        assert!(!c.verify.enabled);
        assert_eq!(c.retry.initial, std::time::Duration::from_secs(45));
        assert_eq!(c.provider.url.as_str(), "http://127.0.0.1:8080/nic/update");
        assert_eq!(c.web.urls.len(), 2);
        let r = &c.records[0];
        assert_eq!(r.hostname, "home.example.com");
        assert_eq!(r.interface, "eth0");
        assert_eq!(r.ipv4_source, vec![Source::Gateway, Source::Web]);
        assert_eq!(r.password.expose(), "s3cret-from-file");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        // `check` restates it, the secret redacted.
        let shown = c.to_string();
        assert!(shown.contains("debounce = \"2s\""), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn errors_name_the_variable() {
        let vars = with(&[
            ("DYNHOST_DEBOUNCE", "2 hours"),
            ("DYNHOST_VERIFY_ENABLED", "yes"),
            ("DYNHOST_RECORD_IPV4_SOURCE", "router"),
        ]);
        let e = read(&vars, &OnePassword).unwrap_err().to_string();
        assert!(e.starts_with("environment: 3 errors"), "{e}");
        assert!(e.contains("\n  environment: DYNHOST_DEBOUNCE: "), "{e}");
        assert!(
            e.contains("\n  environment: DYNHOST_VERIFY_ENABLED: expected true or false"),
            "{e}"
        );
        assert!(
            e.contains("\n  environment: DYNHOST_RECORD_IPV4_SOURCE: \"router\""),
            "{e}"
        );
    }

    #[test]
    fn missing_record_settings_are_named() {
        let vars = env(&[("DYNHOST_RECORD_HOSTNAME", "home.example.com")]);
        let e = read(&vars, &OnePassword).unwrap_err().to_string();
        assert!(
            e.contains("DYNHOST_RECORD_USERNAME: missing (required)"),
            "{e}"
        );
        assert!(
            e.contains("DYNHOST_RECORD_INTERFACE: missing (required)"),
            "{e}"
        );
        assert!(e.contains("DYNHOST_RECORD_PASSWORD: missing"), "{e}");
        let globals = env(&[("DYNHOST_DEBOUNCE", "2s")]);
        let e = read(&globals, &OnePassword).unwrap_err().to_string();
        assert!(e.contains("DYNHOST_RECORD_*: no [[record]]"), "{e}");
        let unreadable = env(&[
            ("DYNHOST_RECORD_HOSTNAME", "home.example.com"),
            ("DYNHOST_RECORD_USERNAME", "u"),
            ("DYNHOST_RECORD_INTERFACE", "eth0"),
            ("DYNHOST_RECORD_PASSWORD_FILE", "/run/secrets/other"),
        ]);
        let e = read(&unreadable, &OnePassword).unwrap_err().to_string();
        assert!(
            e.contains("DYNHOST_RECORD_PASSWORD_FILE: cannot read /run/secrets/other"),
            "{e}"
        );
    }

    #[test]
    fn an_inline_secret_warns_and_is_never_shown() {
        let mut vars = env(&RECORD[..2]);
        vars.extend(env(&[
            ("DYNHOST_RECORD_INTERFACE", "eth0"),
            ("DYNHOST_RECORD_PASSWORD", "inline-pw-123"),
        ]));
        let loaded = read(&vars, &OnePassword).unwrap();
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("use DYNHOST_RECORD_PASSWORD_FILE"));
        assert!(!loaded.config.to_string().contains("inline-pw-123"));
        let both = with(&[("DYNHOST_RECORD_PASSWORD", "inline-pw-123")]);
        let e = read(&both, &OnePassword).unwrap_err().to_string();
        assert!(
            e.contains("DYNHOST_RECORD_PASSWORD_FILE: give either"),
            "{e}"
        );
        assert!(!e.contains("inline-pw-123"), "{e}");
    }

    #[test]
    fn unknown_variables_warn_with_a_suggestion() {
        let vars = with(&[("DYNHOST_DEBOUNSE", "2s"), ("DYNHOST_CONFIG", "/x")]);
        let loaded = read(&vars, &OnePassword).unwrap();
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(
            loaded.warnings[0].contains("did you mean `DYNHOST_DEBOUNCE`?"),
            "{:?}",
            loaded.warnings
        );
        assert!(describes(&vars));
        assert!(!describes(&env(&[("DYNHOST_LOG", "debug")])));
    }

    #[test]
    fn a_veth_with_a_private_address_warns_once_per_record() {
        let r = read(&env(RECORD), &OnePassword).unwrap().config.records[0].clone();
        let private = ["10.88.0.5".parse().unwrap()];
        let w = bridge_warning(&r, true, &private).unwrap();
        assert!(
            w.contains("eth0 is a veth with the private address 10.88.0.5"),
            "{w}"
        );
        assert!(w.contains("DYNHOST_RECORD_IPV4_SOURCE=gateway,web"), "{w}");
        assert!(bridge_warning(&r, false, &private).is_none());
        assert!(bridge_warning(&r, true, &["203.0.113.5".parse().unwrap()]).is_none());
        let cgnat = ["100.64.1.2".parse().unwrap()];
        assert!(bridge_warning(&r, true, &cgnat).is_some());
        let gateway = Record {
            ipv4_source: vec![Source::Gateway],
            ..r.clone()
        };
        assert!(bridge_warning(&gateway, true, &private).is_none());
    }
}
