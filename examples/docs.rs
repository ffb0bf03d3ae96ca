//! Writes dynhost(8) and the shell completions from the command line's definition, the
//! settings table and the exit-code table, so that none of them is written twice:
//!
//!   cargo run --example docs -- OUTDIR
//!
//! OUTDIR gets `dynhost.8` (roff), `dynhost.bash`, `_dynhost` (zsh) and `dynhost.fish`.
//! The packages run it at build time (contrib/debian/build-deb, contrib/openwrt/Makefile);
//! clap_mangen and clap_complete are dev-dependencies, so none of this is in the binary.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Inline, Roff, bold, italic, roman};

use dynhost::cli::Cli;
use dynhost::config::SETTINGS;
use dynhost::config::settings::{doc_default, doc_range};
use dynhost::config::{DEFAULT_PATH, OPENWRT_PATH};
use dynhost::exit;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: cargo run --example docs -- OUTDIR");
        std::process::exit(2);
    };
    let out = PathBuf::from(out);
    if let Err(e) = write_all(&out) {
        eprintln!("docs: cannot write into {}: {e}", out.display());
        std::process::exit(1);
    }
}

fn write_all(out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("dynhost.8"), man_page()?)?;
    for (shell, name) in [
        (Shell::Bash, "dynhost.bash"),
        (Shell::Zsh, "_dynhost"),
        (Shell::Fish, "dynhost.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "dynhost", &mut buf);
        std::fs::write(out.join(name), buf)?;
    }
    Ok(())
}

/// Markdown-ish help text (`code` spans) as roff inlines: code in bold.
fn inlines(text: &str) -> Vec<Inline> {
    text.split('`')
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| if i % 2 == 1 { bold(s) } else { roman(s) })
        .collect()
}

fn section(roff: &mut Roff, title: &str) {
    roff.control("SH", [title]);
}

/// A `.TP` item: a bold term, then its text.
fn item(roff: &mut Roff, term: Vec<Inline>, text: Vec<Inline>) {
    roff.control("TP", []);
    roff.text(term);
    roff.text(text);
}

fn man_page() -> std::io::Result<Vec<u8>> {
    let cmd = Cli::command();
    let version = cmd.get_version().unwrap_or("").to_string();
    let man = Man::new(cmd.clone())
        .section("8")
        .source(format!("dynhost {version}"))
        .manual("System Administration");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;

    let mut roff = Roff::new();
    commands(&mut roff, &cmd);
    configuration(&mut roff);
    files(&mut roff);
    environment(&mut roff);
    signals(&mut roff);
    exit_status(&mut roff);
    section(&mut roff, "SEE ALSO");
    roff.text([roman(
        "systemd.exec(5), systemd-creds(1), pppd(8), NetworkManager-dispatcher(8), \
         dhcpcd-run-hooks(8); /usr/share/doc/dynhost/ and docs/install.md in the source.",
    )]);
    page.write_all(roff.render().as_bytes())?;
    // Each rendered piece repeats roff's preamble (the apostrophe string): keep the first.
    let text = String::from_utf8_lossy(&page).into_owned();
    let mut seen = std::collections::HashSet::new();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            !(l.starts_with(".ie \\n(.g") || l.starts_with(".el .ds Aq")) || seen.insert(*l)
        })
        .collect();
    Ok((lines.join("\n") + "\n").into_bytes())
}

fn commands(roff: &mut Roff, cmd: &clap::Command) {
    section(roff, "COMMANDS");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut usage = vec![bold(format!("dynhost {}", sub.get_name()))];
        for arg in sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_global_set())
        {
            if let Some(long) = arg.get_long() {
                usage.push(roman(" ["));
                usage.push(bold(format!("--{long}")));
                if arg.get_action().takes_values() {
                    let names = arg
                        .get_value_names()
                        .map(|v| v.join(" "))
                        .unwrap_or_default();
                    usage.push(roman(" "));
                    usage.push(italic(names));
                }
                usage.push(roman("]"));
            }
        }
        let about = sub
            .get_long_about()
            .or(sub.get_about())
            .map(|s| s.to_string())
            .unwrap_or_default();
        item(roff, usage, inlines(&about));
        for arg in sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_global_set())
        {
            let Some(long) = arg.get_long() else { continue };
            let mut term = vec![bold(format!("--{long}"))];
            if arg.get_action().takes_values() {
                let names = arg
                    .get_value_names()
                    .map(|v| v.join(" "))
                    .unwrap_or_default();
                term.push(roman(" "));
                term.push(italic(names));
            }
            let help = arg
                .get_long_help()
                .or(arg.get_help())
                .map(|s| s.to_string())
                .unwrap_or_default();
            roff.control("RS", []);
            item(roff, term, inlines(&help));
            roff.control("RE", []);
        }
    }
}

fn configuration(roff: &mut Roff) {
    section(roff, "CONFIGURATION");
    roff.text(inlines(&format!(
        "The config is TOML at `{DEFAULT_PATH}` (or the file given with `--config` or \
         `DYNHOST_CONFIG`). When that file does not exist and `{OPENWRT_PATH}` does, \
         that OpenWrt UCI file is read instead. `dynhost check` validates the file, lists \
         every problem with its line and key, and prints the effective settings with \
         secrets redacted. Durations are written like \"500ms\", \"1s\", \"2m\", \"1h30m\". \
         Each key below is followed by its UCI option (in `config dynhost` for global \
         settings, in `config record` for records) and its default."
    )));
    for s in SETTINGS {
        let term = vec![bold(s.key), roman(" (UCI "), bold(s.uci), roman(")")];
        let mut text = inlines(s.help);
        text.extend(inlines(&doc_range(&s.kind)));
        text.push(roman(" Default: "));
        text.extend(inlines(&doc_default(s)));
        text.push(roman("."));
        item(roff, term, text);
    }
}

fn files(roff: &mut Roff) {
    section(roff, "FILES");
    for (path, what) in [
        (DEFAULT_PATH, "The config (TOML)."),
        (
            OPENWRT_PATH,
            "The config on OpenWrt (UCI), used when the TOML file does not exist. A record's \
             logical interface (wan) is followed as the device netifd gives it.",
        ),
        (
            "/etc/dynhost/*.secret",
            "Password files (one line, mode 600), named by password_file. A relative name \
             is looked up in $CREDENTIALS_DIRECTORY first.",
        ),
        (
            "/var/lib/dynhost/state",
            "The last published address per record and family, the last reply, retry and \
             block times, and the sends of the last hour (state_dir).",
        ),
        (
            "/var/lib/dynhost/lock",
            "Held by the daemon and by a one-shot update, so that only one process updates.",
        ),
        (
            "/run/dynhost/control.sock",
            "The running daemon's control socket (control_socket; /var/run/dynhost/control.sock \
             with a UCI config): `dynhost update` hands its request to the daemon there.",
        ),
    ] {
        item(roff, vec![italic(path)], inlines(what));
    }
}

fn environment(roff: &mut Roff) {
    section(roff, "ENVIRONMENT");
    for (name, what) in [
        ("DYNHOST_CONFIG", "The config file, as --config."),
        (
            "DYNHOST_LOG",
            "A log level (debug) or a target list (dynhost=debug,hyper=info); -v and -q win.",
        ),
        (
            "CREDENTIALS_DIRECTORY",
            "Set by systemd for LoadCredential=: relative password files are read there first.",
        ),
        (
            "NOTIFY_SOCKET",
            "Set by systemd for Type=notify: the daemon says READY=1 once it follows netlink.",
        ),
    ] {
        item(roff, vec![bold(name)], inlines(what));
    }
}

fn signals(roff: &mut Roff) {
    section(roff, "SIGNALS");
    item(
        roff,
        vec![bold("SIGHUP")],
        inlines(
            "dynhost run reloads its config. A broken file keeps the running config, and the \
             log says why. state_dir and control_socket change at the next start only.",
        ),
    );
    item(
        roff,
        vec![bold("SIGTERM"), roman(", "), bold("SIGINT")],
        inlines("Stop at once, even in the middle of a request."),
    );
}

fn exit_status(roff: &mut Roff) {
    section(roff, "EXIT STATUS");
    for (_, code, meaning) in exit::TABLE {
        item(roff, vec![bold(code.to_string())], inlines(meaning));
    }
}
