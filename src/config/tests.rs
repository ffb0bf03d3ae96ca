//! The reader, end to end: good files, every error at once, UCI, password files.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::files::{Files, read_password_file};
use super::*;
#[cfg(feature = "gateway")]
use crate::model::Source;

/// Files for tests: real password files, a given network config and credentials dir.
#[derive(Default)]
struct Fake {
    network: Option<&'static str>,
    credentials: Option<PathBuf>,
}

impl Files for Fake {
    fn password(&self, path: &Path) -> Result<(Secret, Option<String>), String> {
        read_password_file(path)
    }
    fn ca(&self, _: &Path) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }
    fn credential(&self, name: &str) -> Option<PathBuf> {
        let p = self.credentials.as_ref()?.join(name);
        p.is_file().then_some(p)
    }
    fn network(&self, _: &Path) -> Option<String> {
        self.network.map(str::to_string)
    }
    fn modified(&self, _: &Path) -> Option<u64> {
        None
    }
}

fn parse_with(
    text: &str,
    path: Option<&Path>,
    credentials: Option<PathBuf>,
    network: Option<&'static str>,
) -> Result<Loaded, ConfigError> {
    read(
        text,
        path,
        &Fake {
            network,
            credentials,
        },
    )
}

const GOOD: &str = r#"
state_dir = "/tmp/dynhost-state"
debounce = "2s"
max_updates_per_hour = 6

[provider]
url = "http://127.0.0.1:8080/nic/update"
timeout = "20s"

[[record]]
hostname = "home.example.com"
username = "example.com-home"
password = "s3cret"
interface = "ppp0"

[[record]]
hostname = "v6.example.com"
username = "example.com-v6"
password = "other"
interface = "eth1"
ipv4 = false
ipv6 = true
enabled = false
"#;

#[test]
fn a_good_file_with_defaults() {
    let c = parse(GOOD, Some(Path::new("/etc/dynhost/config.toml")))
        .unwrap()
        .config;
    assert_eq!(c.state_dir, Path::new("/tmp/dynhost-state"));
    assert_eq!(c.debounce, Duration::from_secs(2));
    assert_eq!(c.debounce_max, Duration::from_secs(10));
    assert_eq!(c.retry.initial, Duration::from_secs(30));
    assert_eq!(c.max_updates_per_hour, 6);
    assert_eq!(c.provider.timeout, Duration::from_secs(20));
    assert_eq!(c.records.len(), 2);
    let r = &c.records[0];
    assert_eq!(r.hostname, "home.example.com");
    assert!(r.ipv4 && !r.ipv6 && r.enabled);
    assert_eq!(r.password.expose(), "s3cret");
    assert!(!c.records[1].enabled && c.records[1].ipv6);
}

#[test]
fn restated_config_parses_to_the_same() {
    let c = parse(GOOD, None).unwrap().config;
    let shown = c.to_string();
    assert!(!shown.contains("s3cret"), "{shown}");
    let again = parse(&shown.replace("\"<redacted>\"", "\"x\""), None)
        .unwrap()
        .config;
    assert_eq!(again.state_dir, c.state_dir);
    assert_eq!(again.debounce, c.debounce);
    assert_eq!(again.debounce_max, c.debounce_max);
    assert_eq!(again.max_updates_per_hour, c.max_updates_per_hour);
    assert_eq!(again.provider, c.provider);
    assert_eq!(again.retry, c.retry);
    for (a, b) in again.records.iter().zip(&c.records) {
        assert_eq!(
            (&a.hostname, &a.username, &a.interface),
            (&b.hostname, &b.username, &b.interface)
        );
        assert_eq!((a.ipv4, a.ipv6, a.enabled), (b.ipv4, b.ipv6, b.enabled));
    }
}

fn errors(text: &str) -> Vec<(usize, String, String)> {
    parse(text, Some(Path::new("/etc/dynhost/config.toml")))
        .expect_err("should fail")
        .problems
        .into_iter()
        .map(|p| (p.line, p.key, p.message))
        .collect()
}

#[test]
fn all_errors_at_once_with_lines_and_keys() {
    let text = r#"debounce = "fast"
debouncemax = "1s"

[provider]
url = "http://dns.eu.ovhapis.com/nic/update"

[[record]]
hostname = "home"
username = "a:b"
password = "x"
interface = "ppp0"
ipv4 = "yes"

[[record]]
hostname = "b.example.com"
interface = "a very long interface name"
"#;
    let errs = errors(text);
    let keys: Vec<(usize, &str)> = errs.iter().map(|(l, k, _)| (*l, k.as_str())).collect();
    assert_eq!(
        keys,
        vec![
            (1, "debounce"),
            (2, "debouncemax"),
            (5, "provider.url"),
            (8, "record[1].hostname"),
            (9, "record[1].username"),
            (12, "record[1].ipv4"),
            (14, "record[2].username"),
            (14, "record[2].password"),
            (16, "record[2].interface"),
        ],
        "{errs:#?}"
    );
    assert!(errs[1].2.contains("did you mean `debounce_max`"));
    assert!(errs[2].2.contains("plain http"));
    assert!(errs[3].2.contains("not fully qualified"));
}

#[test]
fn display_names_file_line_and_key() {
    let err = parse("bogus = 1\n[[record]]\n", Some(Path::new("/x/c.toml"))).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("/x/c.toml: "), "{text}");
    assert!(text.contains("/x/c.toml:1:1: bogus: unknown key"), "{text}");
}

#[test]
fn syntax_errors_are_located() {
    let errs = errors("debounce = \"1s\"\n[[record]\nhostname = \n");
    assert!(errs.iter().any(|(l, _, _)| *l == 2), "{errs:#?}");
}

#[test]
fn no_records_is_an_error() {
    let errs = errors("debounce = \"1s\"\n");
    assert_eq!(errs[0].1, "record");
}

#[test]
fn duplicates_fight() {
    let rec = "[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\npassword = \"p\"\ninterface = \"ppp0\"\n";
    let errs = errors(&format!("{rec}{rec}"));
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].0, 7);
    assert!(errs[0].2.contains("already published"));
    // A disabled duplicate does not fight.
    let ok = format!("{rec}{rec}enabled = false\n");
    assert!(parse(&ok, None).is_ok());
}

#[test]
fn password_files() {
    let dir = std::env::temp_dir().join(format!("dynhost-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("home.secret");
    std::fs::write(&secret, "pa ss\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let text = "[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\npassword_file = \"home.secret\"\ninterface = \"ppp0\"\n";
    let cfg_path = dir.join("config.toml");
    let loaded = parse(text, Some(&cfg_path)).unwrap();
    assert_eq!(loaded.config.records[0].password.expose(), "pa ss");
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].contains(&format!("chmod 600 {}", secret.display())));
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(parse(text, Some(&cfg_path)).unwrap().warnings.is_empty());
    std::fs::write(&secret, "line1\nline2\n").unwrap();
    let err = parse(text, Some(&cfg_path)).unwrap_err().to_string();
    assert!(
        err.contains("control character") && !err.contains("line1"),
        "{err}"
    );
    std::fs::remove_file(&secret).unwrap();
    let err = parse(text, Some(&cfg_path)).unwrap_err().to_string();
    assert!(err.contains("cannot read"), "{err}");
    // A disabled record only warns: it sends nothing.
    let disabled = format!("{text}enabled = false\n");
    let loaded = parse(&disabled, Some(&cfg_path)).unwrap();
    assert!(
        loaded.warnings[0].contains("is disabled"),
        "{:?}",
        loaded.warnings
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn uci_files_get_the_same_checks_and_located_errors() {
    let network = "config interface 'wan'\n\toption device 'eth1'\n\toption proto 'pppoe'\n";
    let text = "config dynhost\n\toption debounce '3s'\n\toption url 'http://127.0.0.1:9/nic/update'\n\n\
                config record 'home'\n\toption hostname 'home.example.com'\n\
                \toption username 'u'\n\toption password 'p'\n\toption interface 'wan'\n\
                \toption ipv6 '1'\n";
    let c = parse_with(
        text,
        Some(Path::new("/etc/config/dynhost")),
        None,
        Some(network),
    )
    .unwrap()
    .config;
    assert_eq!(c.debounce, Duration::from_secs(3));
    assert_eq!(c.provider.url.as_str(), "http://127.0.0.1:9/nic/update");
    // OpenWrt has no /run: the UCI default socket is under /var/run (tmpfs).
    assert_eq!(c.control_socket, Path::new("/var/run/dynhost/control.sock"));
    let mine = text.replace(
        "option debounce '3s'",
        "option control_socket '/tmp/d.sock'",
    );
    let c2 = parse(&mine, Some(Path::new("/etc/config/dynhost"))).unwrap();
    assert_eq!(c2.config.control_socket, Path::new("/tmp/d.sock"));
    let r = &c.records[0];
    assert_eq!(r.interface, "pppoe-wan");
    assert_eq!(r.interface_alias.as_deref(), Some("wan"));
    assert!(r.ipv4 && r.ipv6 && r.enabled);
    assert!(
        c.to_string()
            .contains("interface = \"pppoe-wan\"  # OpenWrt interface \"wan\"")
    );

    let bad = "config record\n\toption hostname 'home'\n\toption username 'u'\n\
               \toption password 'p'\n\toption interface 'ppp0'\n\toption ipv6 'maybe'\n";
    let err = parse_with(bad, Some(Path::new("/etc/config/dynhost")), None, None).unwrap_err();
    let found: Vec<(usize, &str)> = err
        .problems
        .iter()
        .map(|p| (p.line, p.key.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![(2, "record[1].hostname"), (6, "record[1].ipv6")],
        "{err}"
    );
}

#[test]
fn relative_password_files_come_from_systemd_credentials_first() {
    let dir = std::env::temp_dir().join(format!("dynhost-cred-{}", std::process::id()));
    let creds = dir.join("creds");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(dir.join("home.secret"), "from-etc\n").unwrap();
    std::fs::write(creds.join("home.secret"), "from-systemd\n").unwrap();
    let text = "[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\n\
                password_file = \"home.secret\"\ninterface = \"ppp0\"\n";
    let cfg = dir.join("config.toml");
    let with = parse_with(text, Some(&cfg), Some(creds.clone()), None).unwrap();
    assert_eq!(with.config.records[0].password.expose(), "from-systemd");
    let without = parse_with(text, Some(&cfg), None, None).unwrap();
    assert_eq!(without.config.records[0].password.expose(), "from-etc");
    std::fs::remove_file(creds.join("home.secret")).unwrap();
    let fallback = parse_with(text, Some(&cfg), Some(creds), None).unwrap();
    assert_eq!(fallback.config.records[0].password.expose(), "from-etc");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn embedded_default_is_valid() {
    let c = embedded_default("eth0");
    assert_eq!(c.records[0].interface, "eth0");
    assert!(c.source.is_none());
}

/// Implicit defaults are explicit values: a file that spells out every default reads
/// back (ranges included) to the same config as a file that omits them.
#[test]
fn every_default_reads_back_as_if_written() {
    let mut top = String::new();
    let mut tables: Vec<(&str, String)> = Vec::new();
    let mut record = String::from(REC);
    for s in super::SETTINGS {
        let text = match s.default {
            settings::Default::Value(v) | settings::Default::Derived { value: v, .. } => v,
            _ => continue,
        };
        // Without the `verify` feature the check is off, and asking for it an error.
        if s.key == "verify.enabled" && !cfg!(feature = "verify") {
            continue;
        }
        let line = match s.kind {
            settings::Kind::Bool | settings::Kind::Count { .. } => {
                format!("{} = {text}\n", s.leaf())
            }
            _ => format!("{} = {}\n", s.leaf(), quote(text)),
        };
        match s.section() {
            "" => top.push_str(&line),
            "record" => record.push_str(&line),
            section => match tables.iter_mut().find(|(n, _)| *n == section) {
                Some((_, t)) => t.push_str(&line),
                None => tables.push((section, format!("[{section}]\n{line}"))),
            },
        }
    }
    let mut explicit = top;
    for (_, t) in &tables {
        explicit.push_str(t);
    }
    explicit.push_str(&record);
    let spelled = parse_with(&explicit, None, None, None)
        .unwrap_or_else(|e| panic!("{e}\n{explicit}"))
        .config;
    let implicit = parse_with(REC, None, None, None).unwrap().config;
    assert_eq!(spelled.to_string(), implicit.to_string());
}

const REC: &str = "[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\npassword = \"p\"\ninterface = \"ppp0\"\n";

#[test]
fn keys_and_uci_options_are_unique() {
    let mut keys = std::collections::HashSet::new();
    let mut uci = std::collections::HashSet::new();
    for s in super::SETTINGS {
        assert!(keys.insert(s.key), "{} twice", s.key);
        assert!(
            uci.insert((s.is_record(), s.uci)),
            "UCI option {} twice",
            s.uci
        );
        assert!(!s.help.is_empty(), "{} has no help", s.key);
        assert_eq!(s.is_record(), s.section() == "record", "{}", s.key);
    }
}

/// README's settings table is rendered from the table; this holds the two together.
#[test]
fn the_readme_lists_every_setting_as_the_table_says() {
    let readme = include_str!("../../README.md");
    let table = super::table::markdown_table();
    assert!(
        readme.contains(&table),
        "README.md's settings table differs from src/config/settings.rs; paste this:\n\n{table}"
    );
}

/// 80,000 unknown keys once took minutes (each problem rescanned the text); now the
/// list is bounded and every shown problem is still located exactly.
#[test]
fn a_flood_of_errors_is_bounded_and_still_located() {
    let n = 70_000;
    let mut text = String::with_capacity(n * 16);
    for i in 0..n {
        text.push_str(&format!("junk{i} = 1\n"));
    }
    let err = parse_with(&text, None, None, None).unwrap_err();
    assert_eq!(err.problems.len(), 50);
    // Every unknown key, and the missing [[record]].
    assert_eq!(err.problems.len() + err.omitted, n + 1);
    // The first problems of the file, in order, each where it is (the missing
    // [[record]] is at the top too).
    assert!(err.problems.iter().any(|p| p.key == "record"));
    let junk: Vec<_> = err.problems.iter().filter(|p| p.key != "record").collect();
    for (i, p) in junk.iter().enumerate() {
        assert_eq!((p.line, p.column), (i + 1, 1), "{p:?}");
        assert_eq!(p.key, format!("junk{i}"), "{p:?}");
    }
    let shown = err.to_string();
    assert!(
        shown.contains(&format!("{} errors", n + 1)),
        "{}",
        &shown[..80]
    );
    assert!(shown.ends_with(&format!("... and {} more", n + 1 - 50)));
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_password() {
    let dir = std::env::temp_dir().join(format!("dynhost-bom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("home.secret");
    std::fs::write(&secret, "\u{feff}pa55\r\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = "[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\n\
                password_file = \"home.secret\"\ninterface = \"ppp0\"\n";
    let loaded = parse_with(text, Some(&dir.join("config.toml")), None, None).unwrap();
    assert_eq!(loaded.config.records[0].password.expose(), "pa55");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn oversized_and_special_password_files_are_refused_clearly() {
    let dir = std::env::temp_dir().join(format!("dynhost-pwbig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("big.secret"), "x".repeat(10_000)).unwrap();
    for (file, needle) in [
        ("big.secret", "larger than 4096 bytes"),
        ("/dev/zero", "not a regular file"),
    ] {
        let text = format!(
            "[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\n\
             password_file = \"{file}\"\ninterface = \"ppp0\"\n"
        );
        let err = parse_with(&text, Some(&dir.join("config.toml")), None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{file}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[cfg(feature = "gateway")]
fn sources_behind_nat_in_toml() {
    let text = "[gateway]\ncheck = \"off\"\n[web]\nurls = [\"https://ip.example.net/\", \
                \"http://127.0.0.1:8/trace\"]\ncheck = \"2h\"\n\
                [[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\npassword = \"p\"\n\
                interface = \"eth0\"\nipv4_source = [\"gateway\", \"web\"]\nipv6 = true\n\
                ipv6_suffix = \"::1234\"\n";
    let c = parse_with(text, None, None, None).unwrap().config;
    assert_eq!(c.gateway_check, None);
    assert_eq!(c.web.check, Some(Duration::from_secs(7200)));
    assert_eq!(c.web.urls.len(), 2);
    let r = &c.records[0];
    assert_eq!(r.ipv4_source, [Source::Gateway, Source::Web]);
    assert_eq!(r.ipv6_source, [Source::Interface], "the default");
    assert_eq!(r.ipv6_suffix, Some("::1234".parse().unwrap()));
    // Restated and read back.
    let again = parse_with(
        &c.to_string().replace("\"<redacted>\"", "\"p\""),
        None,
        None,
        None,
    )
    .unwrap()
    .config;
    assert_eq!(again.records[0].ipv4_source, r.ipv4_source);
    assert_eq!(again.gateway_check, None);
    assert_eq!(again.web, c.web);
    // The defaults: the interface, a gateway check every 10 minutes, a web one hourly.
    let d = parse_with(REC, None, None, None).unwrap().config;
    assert_eq!(d.records[0].ipv4_source, [Source::Interface]);
    assert_eq!(d.gateway_check, Some(Duration::from_secs(600)));
    assert_eq!(d.web.check, Some(Duration::from_secs(3600)));
}

#[test]
#[cfg(feature = "gateway")]
fn sources_that_cannot_work_are_errors_at_their_key() {
    let rec = |extra: &str| format!("{REC}{extra}\n");
    for (text, key, needle) in [
        (
            rec("ipv4_source = \"web\""),
            "record[1].ipv4_source",
            "no echo service",
        ),
        (
            rec("ipv4_source = \"magic\""),
            "record[1].ipv4_source",
            "not a source here",
        ),
        (
            rec("ipv6 = true\nipv6_source = \"gateway\""),
            "record[1].ipv6_source",
            "not a source here",
        ),
        (
            rec("ipv4_source = [\"gateway\", \"gateway\"]"),
            "record[1].ipv4_source",
            "listed twice",
        ),
        (rec("ipv4_source = []"), "record[1].ipv4_source", "empty"),
        (
            rec("ipv6 = true\nipv6_suffix = \"2001:db8::1\""),
            "record[1].ipv6_suffix",
            "low 64 bits",
        ),
        (
            rec("ipv6_suffix = \"::1\""),
            "record[1].ipv6_suffix",
            "ipv6 = true",
        ),
        (
            rec(
                "ipv6 = true\nipv6_suffix = \"::1\"\nipv6_source = \"web\"\n[web]\nurls = [\"https://x.example/\"]",
            ),
            "record[1].ipv6_suffix",
            "ipv6_source = \"interface\"",
        ),
        (
            format!("[web]\nurls = [\"http://ip.example.net/\"]\n{REC}"),
            "web.urls",
            "plain http",
        ),
        (
            format!("[gateway]\ncheck = \"10s\"\n{REC}"),
            "gateway.check",
            "out of range",
        ),
        (
            format!("[gateway]\ncheck = \"never\"\n{REC}"),
            "gateway.check",
            "or \"off\"",
        ),
    ] {
        let err = parse_with(&text, None, None, None).unwrap_err();
        let p = err
            .problems
            .iter()
            .find(|p| p.key == key)
            .unwrap_or_else(|| panic!("{key} not in {err}"));
        assert!(p.message.contains(needle), "{key}: {}", p.message);
    }
}

#[test]
#[cfg(feature = "gateway")]
fn sources_behind_nat_in_uci() {
    let text = "config dynhost\n\toption gateway_check '5m'\n\tlist web_url 'https://a.example/'\n\
                \tlist web_url 'https://b.example/'\n\n\
                config record 'home'\n\toption hostname 'home.example.com'\n\
                \toption username 'u'\n\toption password 'p'\n\toption interface 'eth0'\n\
                \tlist ipv4_source 'gateway'\n\tlist ipv4_source 'web'\n";
    let c = parse_with(text, Some(Path::new("/etc/config/dynhost")), None, None)
        .unwrap()
        .config;
    assert_eq!(c.gateway_check, Some(Duration::from_secs(300)));
    assert_eq!(c.web.urls.len(), 2);
    assert_eq!(c.records[0].ipv4_source, [Source::Gateway, Source::Web]);
    let one = text.replace(
        "\tlist ipv4_source 'gateway'\n\tlist ipv4_source 'web'\n",
        "\toption ipv4_source 'gateway'\n",
    );
    let c = parse_with(&one, Some(Path::new("/etc/config/dynhost")), None, None)
        .unwrap()
        .config;
    assert_eq!(c.records[0].ipv4_source, [Source::Gateway]);
}

/// API mode: no login, wildcards and the apex allowed; a DynHost record gets neither.
#[test]
fn api_records_need_no_login_and_may_be_wildcards_or_the_apex() {
    let ok = parse(
        "[ovh]\nendpoint = \"ovh-eu\"\napplication_key = \"abc\"\n\
         [[record]]\nhostname = \"*.home.example.com\"\nprovider = \"ovh-api\"\ninterface = \"ppp0\"\n\
         [[record]]\nhostname = \"example.com\"\nprovider = \"ovh-api\"\nreplace_all = true\ninterface = \"ppp0\"\n",
        None,
    )
    .unwrap()
    .config;
    assert_eq!(ok.records[0].provider, Publisher::OvhApi);
    assert!(ok.records[1].replace_all);
    assert!(ok.slot_specs().iter().all(|s| s.batched));
    assert_eq!(ok.ovh.endpoint.as_deref(), Some("ovh-eu"));
    let e = errors(
        "[ovh]\nendpoint = \"ovh-mars\"\n\
         [[record]]\nhostname = \"*.home.example.com\"\nusername = \"u\"\npassword = \"p\"\ninterface = \"ppp0\"\n\
         [[record]]\nhostname = \"example.com\"\nusername = \"u\"\npassword = \"p\"\ninterface = \"ppp0\"\n\
         [[record]]\nhostname = \"a.example.com\"\nprovider = \"ovh-api\"\nusername = \"u\"\ninterface = \"ppp0\"\n\
         [[record]]\nhostname = \"b.example.com\"\nprovider = \"nsupdate\"\ninterface = \"ppp0\"\n\
         [[record]]\nhostname = \"c.example.com\"\npassword = \"p\"\ninterface = \"ppp0\"\n",
    );
    let keys: Vec<&str> = e.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "ovh.endpoint",
            "record[1].hostname",
            "record[2].hostname",
            "record[3].username",
            // An unknown provider is read as the default, dyndns, and checked as one.
            "record[4].username",
            "record[4].password",
            "record[4].provider",
            "record[5].username"
        ],
        "{e:?}"
    );
    assert!(
        e[1].2.contains("wildcard") && e[2].2.contains("apex"),
        "{e:?}"
    );
}

/// A config that needs a part the build lacks names the feature at its key.
#[test]
fn a_part_the_build_lacks_is_an_error_naming_the_feature() {
    let gateway = format!("{REC}ipv4_source = \"gateway\"\n");
    let verify = format!("[verify]\nenabled = true\n{REC}");
    for (text, key, feature) in [
        (gateway, "record[1].ipv4_source", "gateway"),
        (verify, "verify.enabled", "verify"),
    ] {
        let got = parse_with(&text, None, None, None);
        if cfg!(feature = "gateway") && feature == "gateway"
            || cfg!(feature = "verify") && feature == "verify"
        {
            assert!(got.is_ok(), "{text}");
            continue;
        }
        let e = got.expect_err(&text).to_string();
        let want = format!("{key}: this dynhost was built without the `{feature}` feature");
        assert!(e.contains(&want), "{e}");
    }
    // Left unsaid, the check is simply off.
    let c = parse_with(REC, None, None, None).unwrap().config;
    assert_eq!(c.verify.enabled, cfg!(feature = "verify"));
}
