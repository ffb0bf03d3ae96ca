//! The reader against libuci's quirks, the interface mapping and the translation, on
//! files as users write them.

use super::network::resolve;
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
    let (mut net, _) = parse(NETWORK);
    let (more, _) = parse(
        "config interface 'aftr'\n\toption proto 'dslite'\n\
         config interface 'lte'\n\toption proto 'qmi'\n\toption device '/dev/cdc-wdm0'\n\
         config interface 'clat'\n\toption proto '464xlat'\n",
    );
    net.extend(more);
    for (logical, device) in [
        ("wan", Some(Ok("pppoe-wan"))),
        ("wan6", Some(Ok("pppoe-wan"))),
        ("lan", Some(Ok("br-lan"))),
        ("iot", Some(Ok("eth1"))),
        ("oldlan", Some(Ok("br-oldlan"))),
        ("vpn", Some(Ok("vpn"))),
        ("loopback", Some(Ok("lo"))),
        ("aftr", Some(Ok("ds-aftr"))),
        ("clat", Some(Ok("464-clat"))),
        ("lte", Some(Err("qmi"))),
        ("eth0.2", None),
    ] {
        let got = device_of(&net, logical);
        let got = got
            .as_ref()
            .map(|r| r.as_ref().map(String::as_str).map_err(String::as_str));
        assert_eq!(got, device, "{logical}");
    }
    let (loops, _) = parse(
        "config interface 'a'\n\toption device '@b'\nconfig interface 'b'\n\toption device '@a'\n",
    );
    assert_eq!(device_of(&loops, "a"), None, "alias loops end");
}

/// netifd's answer wins; a guess stands in for it only with a note; a modem's
/// device is never guessed.
#[test]
fn netifd_is_asked_first() {
    let (net, _) = parse(NETWORK);
    let (more, _) = parse("config interface 'lte'\n\toption proto 'qmi'\n");
    let net: Vec<Section> = net.into_iter().chain(more).collect();
    let netifd = |name: &str| match name {
        "wan" => Ok("pppoe-wan".to_string()),
        "wan_6" => Ok("pppoe-wan".to_string()),
        "lte" | "lan" => Err("netifd reports no device for it (it is down)".to_string()),
        _ => Err("netifd does not know it".to_string()),
    };
    for (name, want, noted) in [
        ("wan", Some("pppoe-wan"), false),
        ("wan_6", Some("pppoe-wan"), false),
        ("lan", Some("br-lan"), true),
        ("lte", None, true),
        ("eth0.2", None, false),
    ] {
        let mut notes = Vec::new();
        assert_eq!(
            resolve(name, &net, &netifd, &mut notes).as_deref(),
            want,
            "{name}"
        );
        assert_eq!(notes.len(), usize::from(noted), "{name}: {notes:?}");
        if noted {
            assert!(notes[0].contains("it is down"), "{notes:?}");
        }
    }
}

/// Sections as `uci export` prints them (anonymous ones unnamed), for comparisons.
pub(crate) fn export(sections: &[Section]) -> String {
    let q = |v: &str| format!("'{}'", v.replace('\'', r"'\''"));
    let mut out = String::new();
    for s in sections {
        out.push_str(&format!("config {}", s.kind));
        if let Some(n) = &s.name {
            out.push_str(&format!(" {}", q(n)));
        }
        out.push('\n');
        for o in &s.options {
            let word = if o.list { "list" } else { "option" };
            for (v, _) in &o.values {
                out.push_str(&format!("\t{word} {} {}\n", o.name, q(v)));
            }
        }
    }
    out
}

/// The line of each problem.
fn lines(text: &str, problems: &[Problem]) -> Vec<usize> {
    problems
        .iter()
        .map(|(span, _)| text[..span.start.min(text.len())].matches('\n').count() + 1)
        .collect()
}

/// What uci reads, quirk by quirk (libuci's file parser): the sections as `uci
/// export` would print them, and the lines strict uci rejects.
#[test]
fn reads_what_uci_reads() {
    let cases: &[(&str, &str, &[usize])] = &[
        // Names: letters, digits, _. uci never opens 'my-home' and puts its options
        // into the previous section; dynhost refuses the file.
        (
            "config record 'home'\n\toption a '1'\nconfig record 'my-home'\n\toption b '2'\n",
            "config record 'home'\n\toption a '1'\n\toption b '2'\n",
            &[3],
        ),
        ("config record 'home 2'\n", "", &[1]),
        ("config record 'héme'\n", "", &[1]),
        (
            "config record\n\toption my-opt 'x'\n",
            "config record\n",
            &[2],
        ),
        // Types allow any printable character but space.
        ("config my-type 'a'\n", "config my-type 'a'\n", &[]),
        ("config 'my type' 'a'\n", "", &[1]),
        // A name given twice is one section; another type is refused.
        (
            "config r 'a'\n\toption x '1'\nconfig r 'a'\n\toption y '2'\n",
            "config r 'a'\n\toption x '1'\n\toption y '2'\n",
            &[],
        ),
        ("config r 'a'\nconfig s 'a'\n", "config s 'a'\n", &[2]),
        // Quoting: literal single quotes, double quotes with backslashes, pieces joined.
        (
            "config r\n\toption a 'it'\\''s'\n\toption b \"x\\\"y\\\\z\\n\"\n\toption c 'p\"w\\'\n",
            "config r\n\toption a 'it'\\''s'\n\toption b 'x\"y\\zn'\n\toption c 'p\"w\\'\n",
            &[],
        ),
        // A quoted value may span lines; a backslash at the end of a line continues it.
        (
            "config r\n\toption a 'one\ntwo'\n\toption b abc\\\ndef\n\toption c \"x\\\ny\"\n",
            "config r\n\toption a 'one\ntwo'\n\toption b 'abcdef'\n\toption c 'xy'\n",
            &[],
        ),
        // The text ends inside a quote: refused at the last line.
        (
            "config r\n\toption a 'x\n\toption b 'y'\n",
            "config r\n",
            &[3],
        ),
        // '#' ends the line wherever a word may, even inside an unquoted one.
        (
            "config r # comment\n\toption url http://x/#frag\n\toption v 'a'#b\n# config s\n",
            "config r\n\toption url 'http://x/'\n\toption v 'a'\n",
            &[],
        ),
        // ';' separates commands, but a bare word right before it swallows the rest.
        (
            "config r 'a'; option x '1'; option y 2 ; option z 3;option w 4\n",
            "config r 'a'\n\toption x '1'\n\toption y '2'\n\toption z '3'\n",
            &[],
        ),
        // One-letter commands.
        (
            "c r 'a'\no x '1'\nl y '2'\np dynhost\n",
            "config r 'a'\n\toption x '1'\n\tlist y '2'\n",
            &[],
        ),
        // An empty value sets nothing; a new value replaces; list after option makes
        // a list, option after list a single value.
        (
            "config r\n\toption a 'x'\n\toption a ''\n\toption b\n\toption c '1'\n\
             \tlist c '2'\n\tlist d ''\n\tlist e '1'\n\toption e '2'\n\toption f '1'\n\
             \toption g '1'\n\toption f '3'\n",
            "config r\n\toption a 'x'\n\tlist c '1'\n\tlist c '2'\n\tlist d ''\n\
             \toption e '2'\n\toption g '1'\n\toption f '3'\n",
            &[],
        ),
        // Windows line ends.
        (
            "config r 'a'\r\n\toption x 'y'\r\n",
            "config r 'a'\n\toption x 'y'\n",
            &[],
        ),
        // What strict uci rejects.
        ("option x 'y'\nconfig r\n", "config r\n", &[1]),
        ("config r 'a' 'b'\n", "", &[1]),
        ("config r\n\toption a b c\n", "config r\n", &[2]),
        ("config\nconfig r\n", "config r\n", &[1]),
        ("config r\n\toption\n\toptions a b\n", "config r\n", &[2, 3]),
        ("config r\n\toption a 'x' config s\n", "config r\n", &[2]),
        ("package 'my pkg'\nconfig r\n", "config r\n", &[1]),
        ("config r\n\tfrobnicate 1\n", "config r\n", &[2]),
        ("config r\n\toption a b\0c\n", "", &[2]),
        // A problem at the end of a multi-byte character (found by tests/properties.rs).
        (
            "config record\n\toption hostname '''\n\u{10ec2}",
            "config record\n",
            &[3],
        ),
    ];
    for (text, want, want_lines) in cases {
        let (sections, problems) = parse(text);
        assert_eq!(export(&sections), *want, "{text:?}");
        assert_eq!(
            lines(text, &problems),
            *want_lines,
            "{text:?}: {problems:?}"
        );
    }
}

#[test]
fn problems_say_what_and_what_to_do() {
    let text = "config record 'home'\nconfig record 'my-home'\n";
    let (_, problems) = parse(text);
    let (span, msg) = &problems[0];
    assert_eq!(&text[span.clone()], "'my-home'");
    assert!(msg.contains("\"my-home\" is refused by uci"), "{msg}");
    assert!(msg.contains("into the previous section"), "{msg}");
    assert!(msg.contains("\"my_home\""), "{msg}");
}

#[test]
fn detection() {
    assert!(looks_like_uci(DYNHOST));
    assert!(looks_like_uci(NETWORK));
    assert!(!looks_like_uci("state_dir = \"/x\"\n[[record]]\n"));
    assert!(!looks_like_uci("config = 1\n"));
    assert!(!looks_like_uci(""));
    assert!(looks_like_uci("c record 'a'\n"));
    assert!(looks_like_uci("# x\np dynhost\n"));
    assert!(!looks_like_uci("c = 1\n"));
    assert!(!looks_like_uci("c\n"));
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
