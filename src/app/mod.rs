//! The use cases behind the commands: `run`, `update`, `check`, `status`, `verify`,
//! `explain`. `main` only parses the command line, sets up logging and calls [`main`];
//! everything a command does is here, where tests reach it without the binary.

pub mod check;
#[cfg(all(feature = "gateway", feature = "verify"))]
pub mod explain;
pub use crate::exit;
pub mod health;
pub mod init;
pub mod notify;
pub mod out;
pub mod run;
pub mod status;
pub mod update;
#[cfg(feature = "verify")]
pub mod verify;
pub mod warned;

use std::path::Path;
use std::time::Duration;

use tracing::{info, warn};

use crate::cli::{Cli, Command};
use crate::config::{self, Config};
use crate::netlink;
#[cfg(feature = "setup")]
use crate::setup;
pub use exit::{Error, Exit, Result};

/// Makes a panic anywhere end the process, whatever the build profile: OpenWrt builds
/// with `panic = "unwind"`, under which a panic in a spawned task (the control server,
/// a reload) would end that task only, leaving a daemon that procd never restarts.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "dynhost: internal error, exiting so that the service manager restarts it: {info}"
        );
        std::process::abort();
    }));
}

/// Runs the command `cli` names. `config_given`: the config path was chosen (option or
/// environment), not defaulted.
pub fn main(cli: &Cli, config_given: bool) -> Result<Exit> {
    let rt = runtime()?;
    #[cfg(feature = "setup")]
    if let Command::Setup(args) = &cli.command {
        // Setup writes the config file: it must not need one.
        let done = setup::run(args, &cli.config, config_given, cli.dry_run);
        rt.block_on(done)?;
        return Ok(Exit::Success);
    }
    let config = rt.block_on(resolve_config(cli, config_given))?;
    if matches!(cli.command, Command::Run | Command::Check) {
        // A container on a bridge network following its own veth: say so once.
        for w in rt.block_on(config::env::bridge_warnings(&config)) {
            warn!("{w}");
        }
    }
    match &cli.command {
        Command::Check => check::run(&config),
        Command::Status {
            json,
            history: true,
            ..
        } => notify::history(&config, *json),
        Command::Status { health: true, .. } => health::show(&config),
        Command::Status { json, .. } => status::show(&config, *json),
        Command::Notify { .. } => rt.block_on(notify::test(&config)),
        Command::Update(request) => rt.block_on(update::run(config, request, cli.dry_run)),
        Command::Run => rt.block_on(run::run(config, cli.dry_run)),
        #[cfg(feature = "verify")]
        Command::Verify { json } => rt.block_on(verify::run(config, *json)),
        #[cfg(all(feature = "gateway", feature = "verify"))]
        Command::Explain { hostname, json } => {
            rt.block_on(explain::run(config, hostname.as_deref(), *json))
        }
        #[cfg(feature = "setup")]
        Command::Setup(_) => unreachable!("setup runs before a config is loaded"),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // getaddrinfo runs on a blocking thread; let it go soon after each update.
        .thread_keep_alive(Duration::from_secs(1))
        .build()
        .map_err(|e| Error::Failed(format!("cannot start the runtime: {e}")))
}

/// The config file; on OpenWrt, UCI's file when the TOML one does not exist; or, for a
/// dry run with no file at all, the embedded default on the default-route interface.
pub async fn resolve_config(cli: &Cli, config_given: bool) -> Result<Config> {
    let openwrt = Path::new(config::OPENWRT_PATH);
    let path = if !config_given && !cli.config.exists() && openwrt.exists() {
        openwrt
    } else {
        cli.config.as_path()
    };
    // No file, and DYNHOST_* variables describe the settings (a container).
    if let Some(loaded) = config::env::instead_of(path, config_given) {
        let loaded = loaded.map_err(|e| Error::Config(e.to_string()))?;
        // A health probe runs every few seconds: its log is for its verdict.
        if !matches!(cli.command, Command::Status { health: true, .. }) {
            let check = matches!(cli.command, Command::Check);
            warned::tell(&loaded.warnings, &loaded.config.state_dir, check);
        }
        return Ok(loaded.config);
    }
    if !config_given && cli.dry_run && !path.exists() {
        let iface = netlink::default_route_interface().await;
        let iface = iface.map_err(Error::Failed)?.ok_or_else(|| {
            Error::Config(format!(
                "no config file at {} and no default route to demonstrate on; \
                 pass --config PATH",
                cli.config.display()
            ))
        })?;
        info!(
            interface = %iface,
            "no config file at {}: dry run with the embedded default record on the \
             default-route interface",
            cli.config.display()
        );
        return Ok(config::embedded_default(&iface));
    }
    let loaded = config::load(path).map_err(|e| {
        let mut msg = e.to_string();
        if !config_given && !path.exists() {
            msg.push_str(
                "\nhint: write one (see README.md), or try `dynhost --dry-run run` to watch \
                 the default-route interface with an example record",
            );
        }
        Error::Config(msg)
    })?;
    let check = matches!(cli.command, Command::Check);
    warned::tell(&loaded.warnings, &loaded.config.state_dir, check);
    Ok(loaded.config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHILD: &str = "DYNHOST_PANIC_CHILD";

    /// The process side of the test below: a panic in a spawned task, in this test
    /// binary's unwinding build. Does nothing unless the parent asked for it.
    #[test]
    fn panic_child() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        install_panic_hook();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::spawn(async { panic!("boom in a task") });
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        });
        // Reaching here means the process survived its task's panic.
        std::process::exit(0);
    }

    #[test]
    fn a_panic_in_a_spawned_task_ends_the_process() {
        use std::os::unix::process::ExitStatusExt;
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "app::tests::panic_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGABRT),
            "{:?} {stderr}",
            out.status
        );
        assert!(
            stderr.contains("dynhost: internal error") && stderr.contains("boom in a task"),
            "{stderr}"
        );
    }
}
