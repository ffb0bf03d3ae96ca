//! luci-app-dynhost (contrib/openwrt/luci-app-dynhost): in a real headless Chromium
//! against OpenWrt's real runtime (tests/openwrt/luci/test.py, which lists what it
//! checks), its translations, and its rpcd ACL against what its views call.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn app(path: &str) -> PathBuf {
    root().join("contrib/openwrt/luci-app-dynhost").join(path)
}

fn run_python(args: &[&str]) -> (bool, String) {
    let out = Command::new("python3")
        .args(args)
        .env("DYNHOST_BIN", support::agent::BIN)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for the LuCI tests: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Login, status, update now, verify now, an invalid hostname, a config `dynhost
/// check` refuses, edit + Save & Apply (SIGHUP, same PID, state kept), the password
/// file, Status -> Overview, the log, Dutch, no secret in any page or rpc answer, no
/// console error, a user without the ACL: all in one boot and one browser (about 30 s).
#[test]
fn luci_app_in_chromium_against_openwrts_runtime() {
    let (ok, out) = run_python(&["tests/openwrt/luci/test.py"]);
    // Each step with its time (shown with --nocapture).
    println!("{out}");
    assert!(ok, "tests/openwrt/luci/test.py:\n{out}");
}

#[test]
fn luci_app_translations_cover_every_string() {
    let (ok, out) = run_python(&["tests/openwrt/luci/i18n.py", "check"]);
    assert!(ok, "{out}");
    for lang in ["nl", "fr", "de"] {
        assert!(app(&format!("po/{lang}/dynhost.po")).is_file(), "{lang}");
    }
}

fn json(path: &str) -> Value {
    let text = std::fs::read_to_string(app(path)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The ACL grants what the views call and nothing more: exec of dynhost and logread
/// only, writes only to the password files and the file `check` reads, UCI write only
/// to dynhost; and the menu entry depends on it.
#[test]
fn luci_app_acl_grants_exactly_what_the_views_use() {
    let acl = json("root/usr/share/rpcd/acl.d/luci-app-dynhost.json");
    let acl = &acl["luci-app-dynhost"];
    let files_read = acl["read"]["file"].as_object().unwrap();
    let files_write = acl["write"]["file"].as_object().unwrap();
    let mut exec: Vec<&str> = files_read
        .iter()
        .filter(|(_, v)| names(v).contains(&"exec".to_string()))
        .map(|(k, _)| k.as_str())
        .collect();
    exec.sort();
    assert_eq!(exec, ["/sbin/logread", "/usr/bin/dynhost"]);
    let mut writes: Vec<&str> = files_write.keys().map(String::as_str).collect();
    writes.sort();
    assert_eq!(writes, ["/etc/dynhost/*", "/tmp/dynhost-luci-check"]);
    assert!(
        files_read
            .values()
            .chain(files_write.values())
            .all(|v| !names(v).contains(&"read".to_string())),
        "no file is readable through the app's ACL (password files included)"
    );
    assert_eq!(names(&acl["write"]["uci"]), ["dynhost"]);
    assert_eq!(names(&acl["read"]["uci"]), ["dynhost", "network"]);
    let text =
        std::fs::read_to_string(app("root/usr/share/rpcd/acl.d/luci-app-dynhost.json")).unwrap();
    assert!(!text.contains("\"*\""), "no wildcard right: {text}");

    // What the views exec and write is granted.
    let views = app("htdocs/luci-static/resources/view");
    let mut js = String::new();
    for f in [
        "dynhost/overview.js",
        "dynhost/log.js",
        "status/include/75_dynhost.js",
    ] {
        js.push_str(&std::fs::read_to_string(views.join(f)).unwrap());
    }
    for path in [
        "/usr/bin/dynhost",
        "/sbin/logread",
        "/tmp/dynhost-luci-check",
        "/etc/dynhost/",
    ] {
        assert!(js.contains(path), "{path} is used by the views");
    }
    assert!(!js.contains("fs.read("), "the views read no file");

    let menu = json("root/usr/share/luci/menu.d/luci-app-dynhost.json");
    assert_eq!(
        names(&menu["admin/services/dynhost"]["depends"]["acl"]),
        ["luci-app-dynhost"]
    );
}
