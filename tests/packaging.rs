//! Packaging in contrib/: shell scripts that pass shellcheck, the systemd unit (verified,
//! hardened, sd_notify, credentials), the OpenWrt package (procd init script, default
//! UCI config, the Makefile's install recipe) and a UCI config end to end.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::agent::text as outputs;
use support::agent::{Agent, BIN, PASSWORD, Scratch, set_mode, settle};
use support::hooks::{Call, Shell, calls, redirect, run_hook_to_end};
use support::netns::{bridge, in_netns, ip};
use support::provider::Provider;
use support::repo::{busybox, contrib, openwrt_standin, root, tool};
use support::scene::Scene;

const T: Duration = Duration::from_secs(10);

fn show(out: &Output) -> String {
    let (o, e) = outputs(out);
    format!("exit {:?}\nstdout:\n{o}\nstderr:\n{e}", out.status.code())
}

// ---- shellcheck -------------------------------------------------------------------------

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A POSIX shell script: a `#!/bin/sh` line, or a `# shellcheck shell=sh` directive
/// (the sourced ones).
fn is_shell_script(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let first = text.lines().next().unwrap_or("");
    first.starts_with("#!/bin/sh") || first == "# shellcheck shell=sh"
}

#[test]
fn shellcheck_passes_on_every_shell_script() {
    let shellcheck = tool(
        "shellcheck",
        "shellcheck",
        "every shell script in contrib/ must pass `shellcheck -s sh`",
    );
    let mut files = Vec::new();
    files_under(&root().join("contrib"), &mut files);
    files_under(&root().join("tests/support/openwrt"), &mut files);
    files_under(&root().join("tests/support/fakebin"), &mut files);
    let mut scripts: Vec<PathBuf> = files.into_iter().filter(|p| is_shell_script(p)).collect();
    scripts.sort();
    let names: Vec<String> = scripts
        .iter()
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    for expected in [
        "contrib/ppp/ip-up",
        "contrib/ppp/ipv6-up",
        "contrib/networkmanager/90-dynhost",
        "contrib/dhcpcd/dynhost",
        "contrib/udhcpc/dynhost",
        "contrib/openwrt/files/dynhost.init",
        "contrib/openwrt/files/dynhost.hotplug",
        "tests/support/openwrt/rc.common",
        "tests/support/openwrt/functions.sh",
        "tests/support/openwrt/procd.sh",
        "tests/support/openwrt/hotplug-call",
        "tests/support/fakebin/dynhost",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} is not recognised as a shell script (found: {names:?})"
        );
    }
    let out = Command::new(shellcheck)
        .args(["-s", "sh", "-f", "gcc"])
        .args(&scripts)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "shellcheck -s sh:\n{}", show(&out));
}

// ---- systemd ------------------------------------------------------------------------------

fn unit_text() -> String {
    std::fs::read_to_string(contrib("systemd/dynhost.service")).unwrap()
}

/// `systemd-analyze verify` of `text` saved as dynhost.service; returns the complaints
/// about our unit (empty when clean).
fn verify_unit(text: &str) -> Vec<String> {
    let analyze = tool(
        "systemd-analyze",
        "systemd",
        "the unit must pass `systemd-analyze verify`",
    );
    let dir = Scratch::new("unit");
    let unit = dir.join("dynhost.service");
    // verify insists that ExecStart= exists and is executable: point it at the build.
    let text = text.replace("ExecStart=/usr/bin/dynhost", &format!("ExecStart={BIN}"));
    std::fs::write(&unit, text).unwrap();
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&unit)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let (o, e) = outputs(&out);
    let mut complaints: Vec<String> = format!("{o}{e}")
        .lines()
        .filter(|l| l.contains("dynhost"))
        .map(str::to_string)
        .collect();
    if !out.status.success() {
        complaints.push(format!("systemd-analyze verify failed: {}", show(&out)));
    }
    complaints
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let complaints = verify_unit(&unit_text());
    assert!(complaints.is_empty(), "{complaints:#?}");
    // The check sees mistakes: a misspelt directive is reported.
    let broken = unit_text().replace("ProtectHome=yes", "ProtectHom=yes");
    let complaints = verify_unit(&broken);
    assert!(
        complaints.iter().any(|c| c.contains("ProtectHom")),
        "systemd-analyze verify did not notice a misspelt directive: {complaints:#?}"
    );
}

/// The unit's `Key=Value` lines of the [Service] section.
fn service_directives() -> Vec<(String, String)> {
    let text = unit_text();
    let mut in_service = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_service = line == "[Service]";
            continue;
        }
        if !in_service || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once('=').expect("Key=Value");
        out.push((k.to_string(), v.to_string()));
    }
    out
}

#[test]
fn systemd_unit_runs_the_daemon_hardened_with_the_network_in_reach() {
    let directives = service_directives();
    let get = |k: &str| -> Vec<&str> {
        directives
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    for (k, v) in [
        ("Type", "notify"),
        ("ExecStart", "/usr/bin/dynhost run"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("Restart", "on-failure"),
        ("DynamicUser", "yes"),
        ("StateDirectory", "dynhost"),
        ("RuntimeDirectory", "dynhost"),
        (
            "LoadCredential",
            "dynhost.secret:/etc/dynhost/dynhost.secret",
        ),
        ("CapabilityBoundingSet", ""),
        (
            "RestrictAddressFamilies",
            "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        ),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictNamespaces", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("RestrictRealtime", "yes"),
        ("SystemCallArchitectures", "native"),
        ("SystemCallFilter", "@system-service"),
        ("UMask", "0077"),
    ] {
        assert_eq!(get(k), vec![v], "{k}= in dynhost.service");
    }
    for forbidden in ["PrivateNetwork", "IPAddressDeny", "PrivateUsers", "User"] {
        assert!(
            get(forbidden).is_empty(),
            "{forbidden}= must not be set: the daemon needs the host's netlink and network"
        );
    }
    // The control socket lives where the binary looks for it by default.
    assert!(
        "/run/dynhost/control.sock".starts_with(&format!("/run/{}/", get("RuntimeDirectory")[0]))
    );
}

/// The sample config with the unit's credential: the relative password_file is found in
/// $CREDENTIALS_DIRECTORY, and the state and socket paths are the unit's directories.
#[test]
fn systemd_sample_config_reads_its_password_from_the_credential() {
    let sample = contrib("systemd/config.toml");
    let text = std::fs::read_to_string(&sample).unwrap();
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with("password ")
                || l.trim_start().starts_with("password=")),
        "the world-readable config must hold no password"
    );
    let dir = Scratch::new("credentials");
    let creds = dir.join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    let secret = creds.join("dynhost.secret");
    std::fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
    set_mode(&secret, 0o600);
    let check = |creds: Option<&Path>| {
        let mut cmd = Command::new(BIN);
        cmd.arg("-c").arg(&sample).arg("check");
        cmd.env_remove("CREDENTIALS_DIRECTORY");
        if let Some(c) = creds {
            cmd.env("CREDENTIALS_DIRECTORY", c);
        }
        cmd.output().unwrap()
    };
    let out = check(Some(&creds));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let (stdout, _) = outputs(&out);
    assert!(
        stdout.contains(&format!("password_file = \"{}\"", secret.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("state_dir = \"/var/lib/dynhost\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("control_socket = \"/run/dynhost/control.sock\""),
        "{stdout}"
    );
    assert!(!stdout.contains(PASSWORD), "check redacts the secret");
    // Without the credential (and no file next to the config), it is a config error.
    let out = check(None);
    assert_eq!(out.status.code(), Some(78), "{}", show(&out));
    assert!(outputs(&out).1.contains("dynhost.secret"), "{}", show(&out));
}

#[test]
fn sd_notify_ready_once_started_and_stopping_at_sigterm() {
    for abstract_socket in [false, true] {
        in_netns(move || {
            let Scene { provider, dir, cfg } = Scene::home("notify", None);
            let (sock, addr) = if abstract_socket {
                use std::os::linux::net::SocketAddrExt;
                let name = format!("dynhost-test-notify-{}", std::process::id());
                let a =
                    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
                (UnixDatagram::bind_addr(&a).unwrap(), format!("@{name}"))
            } else {
                let path = dir.join("notify.sock");
                (
                    UnixDatagram::bind(&path).unwrap(),
                    path.display().to_string(),
                )
            };
            sock.set_read_timeout(Some(T)).unwrap();
            let mut cmd = Command::new(BIN);
            cmd.arg("-c")
                .arg(&cfg)
                .arg("run")
                .env("NOTIFY_SOCKET", &addr);
            let agent = Agent::spawn(cmd);
            let mut buf = [0u8; 256];
            let n = sock
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("no READY=1 on {addr}: {e}"));
            assert_eq!(&buf[..n], b"READY=1", "first notification on {addr}");
            // Ready means listening: an address added now is published.
            ip(&["addr", "add", "203.0.113.5/24", "dev", "br0"]);
            let reqs = provider.wait_for(1, T);
            assert_eq!(reqs.len(), 1);
            assert!(agent.stop().success());
            let n = sock
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("no STOPPING=1 on {addr}: {e}"));
            assert_eq!(&buf[..n], b"STOPPING=1");
        });
    }
}

// ---- OpenWrt ------------------------------------------------------------------------------

/// Runs `rc.common-stand-in INITSCRIPT ACTION` under busybox ash with UCI_CONFIG_DIR.
fn init(uci: &Path, action: &str) -> (i32, Vec<String>, String) {
    let out = Command::new(busybox())
        .arg("ash")
        .arg(openwrt_standin("rc.common"))
        .arg(contrib("openwrt/files/dynhost.init"))
        .arg(action)
        .env("UCI_CONFIG_DIR", uci)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (o, e) = outputs(&out);
    (
        out.status.code().unwrap_or(-1),
        o.lines().map(str::to_string).collect(),
        e,
    )
}

fn uci_dir(dir: &Scratch, dynhost: Option<&str>) -> PathBuf {
    let uci = dir.join("uci");
    std::fs::create_dir_all(&uci).unwrap();
    if let Some(text) = dynhost {
        std::fs::write(uci.join("dynhost"), text).unwrap();
    }
    uci
}

const UCI_RECORDS: &str = "config dynhost 'global'
\toption debounce '1s'

config record 'home'
\toption enabled '1'
\toption hostname 'home.example.com'
\toption interface 'wan'

config record 'home6'
\toption hostname 'home.example.com'
\toption interface 'wan6'
\toption ipv4 '0'
\toption ipv6 '1'

config record 'office'
\toption enabled '0'
\toption hostname 'office.example.com'
\toption interface 'lan'

config record
\toption enabled 'yes'
\toption hostname 'other.example.com'
\toption interface 'wan'
";

#[test]
fn openwrt_init_runs_dynhost_under_procd_with_its_triggers() {
    let dir = Scratch::new("init");
    let uci = uci_dir(&dir, Some(UCI_RECORDS));
    let initscript = contrib("openwrt/files/dynhost.init");
    let (code, lines, stderr) = init(&uci, "start");
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    assert_eq!(
        lines,
        [
            format!(
                "procd_open_service [dynhost.init] [{}]",
                initscript.display()
            ),
            "procd_open_instance".into(),
            "procd_set_param [command] [/usr/bin/dynhost] [-c] [/etc/config/dynhost] [run]".into(),
            "procd_set_param [respawn]".into(),
            "procd_set_param [stdout] [1]".into(),
            "procd_set_param [stderr] [1]".into(),
            "procd_set_param [file] [/etc/config/dynhost] [/etc/config/network]".into(),
            "procd_set_param [reload_signal] [HUP]".into(),
            "procd_close_instance".into(),
            "procd_add_reload_trigger [dynhost] [network]".into(),
            // wan once (two records follow it), wan6; not lan (its record is disabled).
            "procd_add_reload_interface_trigger [wan]".into(),
            "procd_add_reload_interface_trigger [wan6]".into(),
            "procd_close_service [set]".into(),
        ],
        "{stderr}"
    );
    // No reload_service: a reload re-submits the instance, and procd turns a changed
    // config file into SIGHUP (reload_signal) instead of a restart.
    let (code, reload, _) = init(&uci, "reload");
    assert_eq!(code, 0);
    assert_eq!(reload, lines);
    let text = std::fs::read_to_string(&initscript).unwrap();
    assert!(text.starts_with("#!/bin/sh /etc/rc.common\n"));
    for line in ["START=95", "USE_PROCD=1"] {
        assert!(text.lines().any(|l| l == line), "{line} in dynhost.init");
    }
}

#[test]
fn openwrt_init_starts_nothing_without_an_enabled_record() {
    let dir = Scratch::new("init-off");
    let disabled = "config dynhost 'global'\n\nconfig record 'home'\n\toption enabled '0'\n\
                    \toption interface 'wan'\n\nconfig record\n\toption enabled 'off'\n\
                    \toption interface 'wan6'\n";
    for (what, uci) in [
        ("all records disabled", uci_dir(&dir, Some(disabled))),
        ("no config file", {
            let empty = dir.join("empty");
            std::fs::create_dir_all(&empty).unwrap();
            empty
        }),
    ] {
        let (code, lines, stderr) = init(&uci, "start");
        assert_eq!(code, 0, "{what}: {lines:#?} {stderr}");
        assert!(
            !lines
                .iter()
                .any(|l| l.starts_with("procd_open_instance") || l.starts_with("procd_set_param")),
            "{what}: nothing may start: {lines:#?}"
        );
        // Enabling a record later (uci commit + reload_config) must still reach us.
        assert!(
            lines.contains(&"procd_add_reload_trigger [dynhost] [network]".to_string()),
            "{what}: {lines:#?}"
        );
        assert!(
            !lines.iter().any(|l| l.contains("interface_trigger")),
            "{what}: {lines:#?}"
        );
        assert!(stderr.contains("no enabled record"), "{what}: {stderr}");
    }
}

/// The shipped /etc/config/dynhost is valid for the binary: every option is known, and
/// the example record is disabled.
#[test]
fn openwrt_default_config_is_valid_and_disabled() {
    let dir = Scratch::new("uci-default");
    let text = std::fs::read_to_string(contrib("openwrt/files/dynhost.config")).unwrap();
    assert!(text.contains("option password_file '/etc/dynhost/home.secret'"));
    assert!(text.contains("option interface 'wan'"));
    // The secret is the user's to create: point the copy at one in the scratch dir.
    let secret = dir.join("home.secret");
    std::fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
    set_mode(&secret, 0o600);
    let cfg = dir.join("dynhost");
    std::fs::write(
        &cfg,
        text.replace("/etc/dynhost/home.secret", &secret.display().to_string()),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("-c")
        .arg(&cfg)
        .arg("check")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        outputs(&out).0.contains("OK, 1 record(s), 0 enabled"),
        "{}",
        show(&out)
    );
    // And the init script agrees: nothing to start.
    let uci = uci_dir(&dir, Some(&text));
    let (code, lines, _) = init(&uci, "start");
    assert_eq!(code, 0);
    assert!(
        !lines.iter().any(|l| l == "procd_open_instance"),
        "{lines:#?}"
    );
}

/// The Makefile under a stand-in SDK (tests/support/openwrt/sdk): its metadata, its
/// Build/Prepare (a complete crate) and its install recipe (paths and modes).
#[test]
fn openwrt_makefile_prepares_the_crate_and_installs_the_package_files() {
    let make = tool(
        "make",
        "make",
        "the OpenWrt Makefile is run under a stand-in SDK",
    );
    let dir = Scratch::new("openwrt-make");
    // As documented: the package directory is a link to contrib/openwrt.
    std::fs::create_dir_all(dir.join("package")).unwrap();
    std::os::unix::fs::symlink(contrib("openwrt"), dir.join("package/dynhost")).unwrap();
    let ipkg = dir.join("ipkg-install");
    std::fs::create_dir_all(ipkg.join("bin")).unwrap();
    std::fs::copy(BIN, ipkg.join("bin/dynhost")).unwrap();
    let destdir = dir.join("root");
    let build = dir.join("build");
    let run = |target: &str| {
        let out = Command::new(&make)
            .arg("-s")
            .arg("-C")
            .arg(dir.join("package/dynhost"))
            .arg(format!(
                "TOPDIR={}",
                root().join("tests/support/openwrt/sdk").display()
            ))
            .arg(format!("BUILD_DIR={}", build.display()))
            .arg(format!("PKG_INSTALL_DIR={}", ipkg.display()))
            .arg(format!("DESTDIR={}", destdir.display()))
            .arg(target)
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .output()
            .unwrap();
        assert!(out.status.success(), "make {target}:\n{}", show(&out));
        outputs(&out).0
    };

    let info = run("info");
    let version = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap();
    for line in [
        "NAME=dynhost".to_string(),
        format!("VERSION={version}"),
        "BUILD_DEPENDS=rust/host".into(),
        "SECTION=net".into(),
        "CATEGORY=Network".into(),
        "DEPENDS=@(aarch64||arm||i386||loongarch64||mips||mips64||mips64el||mipsel||powerpc||powerpc64||riscv64||x86_64) +ca-bundle".into(),
        "CONFFILES=/etc/config/dynhost".into(),
    ] {
        assert!(info.lines().any(|l| l == line), "{line} in:\n{info}");
    }
    let makefile = std::fs::read_to_string(contrib("openwrt/Makefile")).unwrap();
    for needle in [
        "include $(INCLUDE_DIR)/package.mk",
        "../../lang/rust/rust-package.mk",
        "$(eval $(call RustBinPackage,dynhost))",
        "$(eval $(call BuildPackage,dynhost))",
    ] {
        assert!(makefile.contains(needle), "{needle} in the Makefile");
    }

    run("prepare");
    let crate_dir = build.join(format!("dynhost-{version}"));
    for f in ["Cargo.toml", "Cargo.lock", "src/main.rs", "src/lib.rs"] {
        assert!(crate_dir.join(f).is_file(), "Build/Prepare copies {f}");
    }
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(crate_dir.join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo metadata:\n{}", show(&out));
    assert!(outputs(&out).0.contains("\"kind\":[\"bin\"]"));

    run("install");
    for (path, mode) in [
        ("usr/bin/dynhost", 0o755),
        ("etc/init.d/dynhost", 0o755),
        ("etc/config/dynhost", 0o600),
        ("etc/hotplug.d/iface/95-dynhost", 0o644),
    ] {
        let meta = std::fs::metadata(destdir.join(path))
            .unwrap_or_else(|e| panic!("the package installs /{path}: {e}"));
        assert_eq!(meta.permissions().mode() & 0o777, mode, "mode of /{path}");
    }
    for (installed, source) in [
        ("etc/init.d/dynhost", "openwrt/files/dynhost.init"),
        ("etc/config/dynhost", "openwrt/files/dynhost.config"),
        (
            "etc/hotplug.d/iface/95-dynhost",
            "openwrt/files/dynhost.hotplug",
        ),
    ] {
        assert_eq!(
            std::fs::read(destdir.join(installed)).unwrap(),
            std::fs::read(contrib(source)).unwrap(),
            "/{installed}"
        );
    }
}

/// A UCI config on a logical interface: the daemon maps `wan` to its device through the
/// `network` file next to the config, publishes it, and the hotplug script's trigger for
/// a new address reaches the daemon and gives one more request.
#[test]
fn uci_config_on_a_logical_interface_end_to_end() {
    in_netns(|| {
        // netifd names the bridge of a static `option type 'bridge'` interface br-<name>.
        bridge("br-wan");
        ip(&["addr", "add", "203.0.113.7/24", "dev", "br-wan"]);
        let provider = Provider::start();
        let dir = Scratch::new("uci-e2e");
        std::fs::write(
            dir.join("network"),
            "config interface 'loopback'\n\toption device 'lo'\n\toption proto 'static'\n\n\
             config interface 'wan'\n\toption type 'bridge'\n\toption proto 'static'\n\
             \toption ipaddr '203.0.113.7'\n\toption netmask '255.255.255.0'\n",
        )
        .unwrap();
        let cfg = dir.join("dynhost");
        std::fs::write(
            &cfg,
            format!(
                "config dynhost 'global'\n\
                 \toption state_dir '{state}'\n\
                 \toption control_socket '{sock}'\n\
                 \toption url '{url}'\n\
                 \toption debounce '500ms'\n\n\
                 config record 'home'\n\
                 \toption enabled '1'\n\
                 \toption hostname 'home.example.com'\n\
                 \toption username 'example.com-home'\n\
                 \toption password '{PASSWORD}'\n\
                 \toption interface 'wan'\n\
                 \toption ipv4 '1'\n\
                 \toption ipv6 '0'\n\n\
                 config record 'spare'\n\
                 \toption enabled '0'\n\
                 \toption hostname 'spare.example.com'\n\
                 \toption username 'example.com-spare'\n\
                 \toption password '{PASSWORD}'\n\
                 \toption interface 'lan'\n",
                state = dir.join("state").display(),
                sock = dir.join("control.sock").display(),
                url = provider.url(),
            ),
        )
        .unwrap();
        set_mode(&cfg, 0o600);
        let agent = Agent::start(&cfg, &[]);
        let reqs = provider.wait_for(1, T);
        assert_eq!(reqs.len(), 1, "{}", agent.log());
        assert_eq!(reqs[0].param("hostname"), Some("home.example.com"));
        assert_eq!(reqs[0].param("myip"), Some("203.0.113.7"));
        agent.wait_log("published", T);

        // netifd: a new address on wan, then `hotplug-call iface` with ifupdate.
        ip(&["addr", "del", "203.0.113.7/24", "dev", "br-wan"]);
        ip(&["addr", "add", "198.51.100.7/24", "dev", "br-wan"]);
        let log = dir.join("calls");
        let mut cmd = Shell::Ash.script(&openwrt_standin("hotplug-call"));
        cmd.arg(contrib("openwrt/files/dynhost.hotplug"))
            .env_clear()
            .env("UCI_CONFIG_DIR", dir.path.as_os_str())
            .env("ACTION", "ifupdate")
            .env("INTERFACE", "wan")
            .env("DEVICE", "br-wan")
            .env("IFUPDATE_ADDRESSES", "1");
        redirect(&mut cmd, Some(&cfg), &log, true);
        run_hook_to_end(cmd, "hotplug ifupdate wan");
        assert_eq!(
            calls(&log),
            vec![Call {
                config: cfg.display().to_string(),
                argv: "[-q] [update] [--interface] [br-wan]".into(),
                exit: Some(0),
            }]
        );
        assert!(
            agent.log().contains("control request"),
            "the trigger reached the daemon"
        );
        settle(Duration::from_millis(300));
        let reqs = provider.requests();
        assert_eq!(reqs.len(), 2, "one request for the new address");
        assert_eq!(reqs[1].param("myip"), Some("198.51.100.7"));
        assert!(agent.stop().success());
    });
}

// ---- docs -----------------------------------------------------------------------------------

/// docs/install.md names the contrib files that exist, and the paths the scripts use.
#[test]
fn the_install_guide_names_real_files() {
    let guide = std::fs::read_to_string(root().join("docs/install.md")).unwrap();
    let mut named = 0;
    for word in guide.split(|c: char| c.is_whitespace() || "`()[],:".contains(c)) {
        if let Some(rest) = word.strip_prefix("contrib/") {
            let rest = rest.trim_end_matches('.');
            assert!(
                contrib(rest).exists(),
                "docs/install.md names contrib/{rest}"
            );
            named += 1;
        }
    }
    assert!(named >= 8, "the guide names the contrib files ({named})");
    for path in [
        "/etc/ppp/ip-up.d/dynhost",
        "/etc/ppp/ipv6-up.d/dynhost",
        "/etc/hotplug.d/iface/95-dynhost",
        "/etc/init.d/dynhost",
        "/etc/config/dynhost",
        "/etc/NetworkManager/dispatcher.d/90-dynhost",
        "/etc/dhcpcd.exit-hook",
        "/etc/systemd/system/dynhost.service",
        "/etc/dynhost/config.toml",
        "/etc/dynhost/dynhost.secret",
    ] {
        assert!(guide.contains(path), "docs/install.md mentions {path}");
    }
}
