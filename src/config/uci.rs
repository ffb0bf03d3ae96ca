//! OpenWrt's UCI format (`/etc/config/dynhost`), read directly so that the init script
//! stays a few lines of procd boilerplate. Pure: text in, sections out, then a
//! translation into the same spanned tree the TOML walker validates, so that both
//! formats get the same checks and the same located errors.
//!
//! ```text
//! config dynhost 'global'
//!     option debounce '1s'
//! config record 'home'
//!     option hostname 'home.example.com'
//!     option interface 'wan'        # a logical name: mapped to its device (pppoe-wan)
//! ```

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::checks::suggest;
use super::settings::{Kind, SETTINGS, Setting};

/// One `option` or `list` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub name: String,
    pub name_span: Range<usize>,
    /// Values with their spans; one for `option`, any number for `list`.
    pub values: Vec<(String, Range<usize>)>,
    pub list: bool,
}

/// One `config TYPE ['NAME']` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub kind: String,
    pub name: Option<String>,
    pub span: Range<usize>,
    pub options: Vec<Opt>,
}

impl Section {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|o| o.name == name && !o.list)
            .and_then(|o| o.values.first())
            .map(|(v, _)| v.as_str())
    }
}

/// A problem at a place in the text.
pub type Problem = (Range<usize>, String);

/// Whether `text` looks like UCI rather than TOML: its first statement is
/// `config`/`package` followed by a word, with no `=`.
pub fn looks_like_uci(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| {
            let word = l.split_whitespace().next().unwrap_or("");
            (word == "config" || word == "package") && !l.contains('=')
        })
}

/// Parses UCI text. Keeps going after errors, so that all of them are reported.
pub fn parse(text: &str) -> (Vec<Section>, Vec<Problem>) {
    let mut sections: Vec<Section> = Vec::new();
    let mut problems = Vec::new();
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let words = match words(line, start) {
            Ok(w) => w,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let Some((keyword, kspan)) = words.first() else {
            continue;
        };
        let args = &words[1..];
        match (keyword.as_str(), args) {
            ("package", [_]) => {}
            ("config", [kind, rest @ ..]) if rest.len() <= 1 => {
                if !is_ident(&kind.0) {
                    problems.push((
                        kind.1.clone(),
                        format!("{:?} is not a section type", kind.0),
                    ));
                }
                sections.push(Section {
                    kind: kind.0.clone(),
                    name: rest.first().map(|(n, _)| n.clone()),
                    span: kspan.start..start + line.len(),
                    options: Vec::new(),
                });
            }
            ("option" | "list", [name, value]) => {
                let Some(section) = sections.last_mut() else {
                    problems.push((
                        kspan.clone(),
                        format!("'{keyword}' before any 'config' section"),
                    ));
                    continue;
                };
                if !is_ident(&name.0) {
                    problems.push((
                        name.1.clone(),
                        format!("{:?} is not an option name", name.0),
                    ));
                    continue;
                }
                let list = keyword == "list";
                match section
                    .options
                    .iter_mut()
                    .find(|o| o.name == name.0 && o.list && list)
                {
                    Some(o) => o.values.push(value.clone()),
                    None => section.options.push(Opt {
                        name: name.0.clone(),
                        name_span: name.1.clone(),
                        values: vec![value.clone()],
                        list,
                    }),
                }
            }
            ("config" | "option" | "list" | "package", _) => problems.push((
                kspan.start..start + line.len(),
                format!("wrong number of words after '{keyword}'"),
            )),
            (other, _) => problems.push((
                kspan.clone(),
                format!("unknown keyword {other:?} (expected config, option or list)"),
            )),
        }
    }
    (sections, problems)
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Splits a line into words with UCI quoting: '…' (literal), "…" (backslash escapes),
/// bare words (backslash escapes), adjacent pieces joined; `#` starts a comment where
/// a word would start.
fn words(line: &str, at: usize) -> Result<Vec<(String, Range<usize>)>, Problem> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| *c == ' ' || *c == '\t').is_some() {}
        let Some(&(start, first)) = chars.peek() else {
            break;
        };
        if first == '#' {
            break;
        }
        let mut word = String::new();
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            match c {
                ' ' | '\t' => break,
                '\'' | '"' => {
                    chars.next();
                    let mut closed = false;
                    while let Some((j, d)) = chars.next() {
                        if d == c {
                            closed = true;
                            end = j + 1;
                            break;
                        }
                        if d == '\\' && c == '"' {
                            match chars.next() {
                                Some((_, e)) => word.push(e),
                                None => break,
                            }
                        } else {
                            word.push(d);
                        }
                    }
                    if !closed {
                        return Err((at + i..at + line.len(), "unterminated quote".into()));
                    }
                }
                '\\' => {
                    chars.next();
                    match chars.next() {
                        Some((j, e)) => {
                            word.push(e);
                            end = j + e.len_utf8();
                        }
                        None => {
                            return Err((
                                at + i..at + line.len(),
                                "a backslash ends the line".into(),
                            ));
                        }
                    }
                }
                _ => {
                    chars.next();
                    word.push(c);
                    end = i + c.len_utf8();
                }
            }
        }
        out.push((word, at + start..at + end));
    }
    Ok(out)
}

/// The kernel device behind an OpenWrt logical interface (`wan` → `pppoe-wan`), from
/// `/etc/config/network`, following netifd's naming. `None` if `name` is not a
/// logical interface there (it is then taken as a device name).
pub fn device_of(network: &[Section], name: &str) -> Option<String> {
    device_of_depth(network, name, 0)
}

fn device_of_depth(network: &[Section], name: &str, depth: usize) -> Option<String> {
    let s = network
        .iter()
        .rev()
        .find(|s| s.kind == "interface" && s.name.as_deref() == Some(name))?;
    let proto = s.get("proto").unwrap_or("none");
    // netifd names the devices of PPP and tunnel protocols "<proto>-<interface>".
    const NAMED_BY_PROTO: &[&str] = &[
        "pppoe", "pppoa", "pptp", "l2tp", "ppp", "3g", "6in4", "6to4", "6rd", "dslite", "map",
    ];
    if NAMED_BY_PROTO.contains(&proto) {
        return Some(format!("{proto}-{name}"));
    }
    if proto == "wireguard" {
        return Some(name.to_string());
    }
    if s.get("type") == Some("bridge") {
        return Some(format!("br-{name}"));
    }
    let dev = s.get("device").or_else(|| s.get("ifname"))?;
    match dev.strip_prefix('@') {
        // An alias (wan6 on top of wan): the other interface's device.
        Some(other) if depth < 8 => device_of_depth(network, other, depth + 1),
        Some(_) => None,
        None => Some(dev.split_whitespace().next().unwrap_or(dev).to_string()),
    }
}

/// Translates dynhost's UCI sections into the tree the config walker validates: a
/// `config dynhost` option goes where its setting's key says (`url` to
/// `provider.url`), a `config record` section becomes a `[[record]]`. Record
/// interfaces that name a logical interface in `network` become its device; `aliases`
/// receives (record index, logical name) for each such mapping.
pub fn to_table(
    sections: &[Section],
    network: &[Section],
    aliases: &mut Vec<(usize, String)>,
) -> (DeTable<'static>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut root = DeTable::new();
    let mut tables: Vec<(&'static str, DeTable<'static>)> = Vec::new();
    let mut records = DeArray::new();
    let mut seen_global = false;
    let key = |k: &str, span: &Range<usize>| Spanned::new(span.clone(), Cow::Owned(k.to_string()));
    let globals: Vec<&'static Setting> = SETTINGS.iter().filter(|s| !s.is_record()).collect();
    for s in sections {
        match s.kind.as_str() {
            "dynhost" => {
                if seen_global {
                    problems.push((
                        s.span.clone(),
                        "only one 'config dynhost' section is allowed".into(),
                    ));
                }
                seen_global = true;
                for o in &s.options {
                    let Some(setting) = globals.iter().find(|g| g.uci == o.name) else {
                        let names: Vec<&str> = globals.iter().map(|g| g.uci).collect();
                        let hint = suggest(&o.name, &names, "");
                        problems.push((
                            o.name_span.clone(),
                            format!("{}: unknown option{hint}", o.name),
                        ));
                        continue;
                    };
                    let Some(value) = single(o, setting, &mut problems) else {
                        continue;
                    };
                    let leaf = key(setting.leaf(), &o.name_span);
                    match setting.section() {
                        "" => {
                            root.insert(leaf, value);
                        }
                        section => {
                            let i = match tables.iter().position(|(n, _)| *n == section) {
                                Some(i) => i,
                                None => {
                                    tables.push((section, DeTable::new()));
                                    tables.len() - 1
                                }
                            };
                            tables[i].1.insert(leaf, value);
                        }
                    }
                }
            }
            "record" => {
                let mut t = DeTable::new();
                for o in &s.options {
                    let setting = SETTINGS.iter().find(|r| r.is_record() && r.uci == o.name);
                    // An unknown option is kept: the walker reports it with the others.
                    let Some(mut value) = single_any(o, setting, &mut problems) else {
                        continue;
                    };
                    if o.name == "interface"
                        && let DeValue::String(name) = value.get_ref()
                        && let Some(dev) = device_of(network, name)
                    {
                        aliases.push((records.len(), name.to_string()));
                        value = Spanned::new(value.span(), DeValue::String(Cow::Owned(dev)));
                    }
                    let name = setting.map_or(o.name.as_str(), |s| s.leaf());
                    t.insert(key(name, &o.name_span), value);
                }
                records.push(Spanned::new(s.span.clone(), DeValue::Table(t)));
            }
            other => problems.push((
                s.span.clone(),
                format!("unknown section type {other:?} (expected 'dynhost' or 'record')"),
            )),
        }
    }
    for (name, table) in tables {
        root.insert(
            key(name, &(0..0)),
            Spanned::new(0..0, DeValue::Table(table)),
        );
    }
    if !records.is_empty() {
        root.insert(
            key("record", &(0..0)),
            Spanned::new(0..0, DeValue::Array(records)),
        );
    }
    (root, problems)
}

fn single(o: &Opt, s: &Setting, problems: &mut Vec<Problem>) -> Option<Spanned<DeValue<'static>>> {
    single_any(o, Some(s), problems)
}

/// The one value of an `option` line as a spanned TOML value (booleans for the
/// boolean settings, strings otherwise).
fn single_any(
    o: &Opt,
    setting: Option<&Setting>,
    problems: &mut Vec<Problem>,
) -> Option<Spanned<DeValue<'static>>> {
    let listed = setting.is_some_and(|s| {
        matches!(
            s.kind,
            Kind::Sources(_) | Kind::Urls | Kind::Hosts { many: true }
        )
    });
    if o.list && listed {
        // `list ipv4_source 'gateway'` then `list ipv4_source 'web'`: one array.
        let start = o.values.first()?.1.start;
        let items = o
            .values
            .iter()
            .map(|(v, span)| Spanned::new(span.clone(), DeValue::String(Cow::Owned(v.clone()))))
            .collect();
        return Some(Spanned::new(start..start, DeValue::Array(items)));
    }
    if o.list {
        problems.push((
            o.name_span.clone(),
            format!(
                "{}: 'list' is not used by dynhost; write 'option {}'",
                o.name, o.name
            ),
        ));
        return None;
    }
    let (v, span) = o.values.first()?;
    let value = if setting.is_some_and(|s| matches!(s.kind, Kind::Bool)) {
        match v.as_str() {
            "1" | "yes" | "on" | "true" | "enabled" => DeValue::Boolean(true),
            "0" | "no" | "off" | "false" | "disabled" => DeValue::Boolean(false),
            _ => DeValue::String(Cow::Owned(v.clone())),
        }
    } else {
        DeValue::String(Cow::Owned(v.clone()))
    };
    Some(Spanned::new(span.clone(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An /etc/config/dynhost as a user would write it.
    const DYNHOST: &str = r#"
# dynhost: one section per DynHost record.
config dynhost 'global'
	option debounce '2s'
	option state_dir "/var/lib/dynhost"   # tmpfs on OpenWrt

config record 'home'
	option enabled '1'
	option hostname 'home.example.com'
	option username example.com-home
	option password_file '/etc/dynhost/home.secret'
	option interface 'wan'
	option ipv6 '1'

config record
	option enabled 'no'
	option hostname "it's.example.com"
	option username 'a'\''b'
	option password 'p"w\x'
	option interface 'eth0.2'
"#;

    /// A realistic /etc/config/network (trimmed OpenWrt 23.05 default plus PPPoE).
    const NETWORK: &str = r#"
config interface 'loopback'
	option device 'lo'
	option proto 'static'
	option ipaddr '127.0.0.1'

config globals 'globals'
	option ula_prefix 'fd12:3456:789a::/48'

config device
	option name 'br-lan'
	option type 'bridge'
	list ports 'lan1'
	list ports 'lan2'

config interface 'lan'
	option device 'br-lan'
	option proto 'static'
	list dns '192.0.2.53'
	list dns '198.51.100.53'

config interface 'wan'
	option device 'wan'
	option proto 'pppoe'
	option username 'isp-user'
	option password 'isp-secret'
	option ipv6 'auto'

config interface 'wan6'
	option device '@wan'
	option proto 'dhcpv6'

config interface 'iot'
	option ifname 'eth1 eth2'
	option proto 'dhcp'

config interface 'oldlan'
	option type 'bridge'
	option ifname 'eth0'
	option proto 'static'

config interface 'vpn'
	option proto 'wireguard'
"#;

    #[test]
    fn sections_options_quoting_and_comments() {
        let (s, problems) = parse(DYNHOST);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[0].kind.as_str(), s[0].name.as_deref()),
            ("dynhost", Some("global"))
        );
        assert_eq!(s[0].get("state_dir"), Some("/var/lib/dynhost"));
        assert_eq!(s[1].get("username"), Some("example.com-home"));
        assert_eq!(s[2].name, None, "anonymous section");
        assert_eq!(s[2].get("hostname"), Some("it's.example.com"));
        assert_eq!(
            s[2].get("username"),
            Some("a'b"),
            "quoted pieces are joined"
        );
        assert_eq!(s[2].get("password"), Some("p\"w\\x"));
        // Spans point at the value in the text.
        let (v, span) = &s[1].options[1].values[0];
        assert_eq!(&DYNHOST[span.clone()], format!("'{v}'"));
    }

    #[test]
    fn lists_collect_their_values() {
        let (s, problems) = parse(NETWORK);
        assert!(problems.is_empty(), "{problems:?}");
        let lan = s.iter().find(|s| s.name.as_deref() == Some("lan")).unwrap();
        let dns = lan.options.iter().find(|o| o.name == "dns").unwrap();
        assert!(dns.list);
        let values: Vec<&str> = dns.values.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(values, ["192.0.2.53", "198.51.100.53"]);
    }

    #[test]
    fn logical_interfaces_map_to_devices() {
        let (net, _) = parse(NETWORK);
        for (logical, device) in [
            ("wan", Some("pppoe-wan")),
            ("wan6", Some("pppoe-wan")),
            ("lan", Some("br-lan")),
            ("iot", Some("eth1")),
            ("oldlan", Some("br-oldlan")),
            ("vpn", Some("vpn")),
            ("loopback", Some("lo")),
            ("eth0.2", None),
        ] {
            assert_eq!(device_of(&net, logical).as_deref(), device, "{logical}");
        }
        let (loops, _) = parse(
            "config interface 'a'\n\toption device '@b'\nconfig interface 'b'\n\toption device '@a'\n",
        );
        assert_eq!(device_of(&loops, "a"), None, "alias loops end");
    }

    #[test]
    fn errors_are_located() {
        let text = "option x 'y'\nconfig record\n\toption hostname 'unterminated\n\tfrobnicate 1\n\toption a b c\n";
        let (_, problems) = parse(text);
        let lines: Vec<usize> = problems
            .iter()
            .map(|(span, _)| text[..span.start].matches('\n').count() + 1)
            .collect();
        assert_eq!(lines, vec![1, 3, 4, 5], "{problems:?}");
        assert!(problems[1].1.contains("unterminated quote"));
    }

    #[test]
    fn detection() {
        assert!(looks_like_uci(DYNHOST));
        assert!(looks_like_uci(NETWORK));
        assert!(!looks_like_uci("state_dir = \"/x\"\n[[record]]\n"));
        assert!(!looks_like_uci("config = 1\n"));
        assert!(!looks_like_uci(""));
    }

    #[test]
    fn translation_maps_keys_and_interfaces() {
        let (s, _) = parse(DYNHOST);
        let (net, _) = parse(NETWORK);
        let mut aliases = Vec::new();
        let (t, problems) = to_table(&s, &net, &mut aliases);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(aliases, vec![(0, "wan".to_string())]);
        let records = t.get("record").unwrap().get_ref().as_array().unwrap();
        let home = records[0].get_ref().as_table().unwrap();
        assert_eq!(
            home.get("interface").unwrap().get_ref().as_str(),
            Some("pppoe-wan")
        );
        assert_eq!(home.get("ipv6").unwrap().get_ref().as_bool(), Some(true));
        let other = records[1].get_ref().as_table().unwrap();
        assert_eq!(
            other.get("enabled").unwrap().get_ref().as_bool(),
            Some(false)
        );
        assert_eq!(t.get("debounce").unwrap().get_ref().as_str(), Some("2s"));
    }

    #[test]
    fn translation_refuses_strangers() {
        let (s, _) = parse(
            "config dynhost\n\toption debounse '1s'\n\tlist url 'x'\nconfig dynhost\nconfig frob 'x'\n",
        );
        let (_, problems) = to_table(&s, &[], &mut Vec::new());
        let msgs: Vec<&str> = problems.iter().map(|(_, m)| m.as_str()).collect();
        assert!(msgs[0].contains("did you mean `debounce`"), "{msgs:?}");
        assert!(msgs[1].contains("'list' is not used"), "{msgs:?}");
        assert!(msgs[2].contains("only one 'config dynhost'"), "{msgs:?}");
        assert!(
            msgs[3].contains("unknown section type \"frob\""),
            "{msgs:?}"
        );
    }
}
