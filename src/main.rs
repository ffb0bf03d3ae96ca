//! Composition root: arguments, logging, config, edges, then the library does the work.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use dynhost::cli::{Cli, Command, UpdateArgs};
use dynhost::config::{self, Config};
use dynhost::daemon::{self, Daemon, Rtnetlink};
use dynhost::http::{self, Sender};
use dynhost::oneshot::{self, Scope};
use dynhost::state::{self, Store};
use dynhost::{control, logging, netlink, notify, setup, status};

/// Exit codes (sysexits for configuration).
const EXIT_FAILURE: u8 = 1;
const EXIT_NOT_FOLLOWED: u8 = 3;
const EXIT_CONFIG: u8 = 78;

enum Failure {
    Config(String),
    /// `update` for an interface or family no enabled record follows: nothing to do.
    NotFollowed(String),
    Other(String),
}

type Result<T> = std::result::Result<T, Failure>;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let config_given = matches.value_source("config") != Some(ValueSource::DefaultValue);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let log_env = std::env::var("DYNHOST_LOG").ok();
    if let Err(e) = logging::init(cli.verbose, cli.quiet, log_env.as_deref()) {
        eprintln!("dynhost: {e}");
        return ExitCode::from(EXIT_FAILURE);
    }
    match dispatch(&cli, config_given) {
        Ok(code) => code,
        Err(Failure::Config(msg)) => {
            eprintln!("dynhost: {msg}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(Failure::NotFollowed(msg)) => {
            eprintln!("dynhost: {msg}; nothing to do");
            ExitCode::from(EXIT_NOT_FOLLOWED)
        }
        Err(Failure::Other(msg)) => {
            eprintln!("dynhost: {msg}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // getaddrinfo runs on a blocking thread; let it go soon after each update.
        .thread_keep_alive(Duration::from_secs(1))
        .build()
        .map_err(|e| Failure::Other(format!("cannot start the runtime: {e}")))
}

fn dispatch(cli: &Cli, config_given: bool) -> Result<ExitCode> {
    let rt = runtime()?;
    if let Command::Setup(args) = &cli.command {
        // Setup writes the config file: it must not need one.
        return Ok(rt.block_on(setup::run(args, &cli.config, config_given, cli.dry_run)));
    }
    let config = rt.block_on(resolve_config(cli, config_given))?;
    match &cli.command {
        Command::Check => check(&config),
        Command::Status { json } => show_status(&config, *json),
        Command::Update(args) => rt.block_on(update(cli, config, args)),
        Command::Run => rt.block_on(run(cli, config)),
        Command::Setup(_) => unreachable!("setup is dispatched before the config is loaded"),
    }
}

/// The config file, or the embedded default for a dry run when no file exists.
async fn resolve_config(cli: &Cli, config_given: bool) -> Result<Config> {
    // On OpenWrt the config is UCI's /etc/config/dynhost; it is the default there.
    let openwrt = Path::new(config::OPENWRT_PATH);
    let path = if !config_given && !cli.config.exists() && openwrt.exists() {
        openwrt
    } else {
        cli.config.as_path()
    };
    if !config_given && cli.dry_run && !path.exists() {
        let iface = netlink::default_route_interface().await;
        let iface = iface.map_err(Failure::Other)?.ok_or_else(|| {
            Failure::Config(format!(
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
        Failure::Config(msg)
    })?;
    for w in &loaded.warnings {
        warn!("{w}");
    }
    Ok(loaded.config)
}

fn check(config: &Config) -> Result<ExitCode> {
    // Building the HTTPS client validates ca_file too.
    http::HttpPublisher::new(&config.provider).map_err(Failure::Config)?;
    let origin = config
        .source
        .as_ref()
        .map_or("embedded default".to_string(), |p| p.display().to_string());
    println!(
        "# {origin}: OK, {} record(s), {} enabled\n{config}",
        config.records.len(),
        config.records.iter().filter(|r| r.enabled).count()
    );
    Ok(ExitCode::SUCCESS)
}

fn show_status(config: &Config, json: bool) -> Result<ExitCode> {
    let mut store = Store::new(&config.state_dir, true);
    let state = store.load().map_err(Failure::Other)?;
    let rows = status::rows(config, &state);
    let now = state::wall_now();
    if json {
        print!("{}", status::json(&rows, now));
    } else {
        print!("{}", status::text(&rows, now));
    }
    Ok(ExitCode::SUCCESS)
}

fn load_state(store: &mut Store) -> state::StateMap {
    store.load().unwrap_or_else(|e| {
        warn!(error = %e, "state file unreadable; starting without it (records are sent once)");
        state::StateMap::new()
    })
}

async fn update(cli: &Cli, config: Config, args: &UpdateArgs) -> Result<ExitCode> {
    // A running daemon does the round itself, joined to its own debounce; a dry run
    // never involves it.
    if !cli.dry_run {
        let req = control::Request {
            interface: args.interface.clone(),
            ip: args.ip,
            force: args.force,
        };
        let wait = config.debounce_max + config.provider.timeout + Duration::from_secs(30);
        match control::ask(&config.control_socket, &req, wait).await {
            Ok(control::Reach::NoDaemon) => {}
            Ok(control::Reach::Answer(Ok(reports))) => {
                print!("{}", oneshot::summary(&reports, &Default::default()));
                return Ok(exit_for(oneshot::failed(&reports)));
            }
            Ok(control::Reach::Answer(Err(refusal))) if refusal.unfollowed => {
                return Err(Failure::NotFollowed(refusal.message));
            }
            Ok(control::Reach::Answer(Err(refusal))) => {
                return Err(Failure::Other(format!(
                    "the daemon refused: {}",
                    refusal.message
                )));
            }
            Err(e) => return Err(Failure::Other(e)),
        }
    }
    let scope = Scope {
        interface: args.interface.clone(),
        ip: args.ip,
        force: args.force,
    };
    scope.select(&config).map_err(Failure::NotFollowed)?;
    let publisher = Sender::new(&config, cli.dry_run).map_err(Failure::Config)?;
    let mut store = Store::new(&config.state_dir, cli.dry_run);
    let _lock = if cli.dry_run {
        None
    } else {
        Some(store.lock(Duration::from_secs(30)).map_err(|e| {
            Failure::Other(format!(
                "cannot take the state lock ({e}); is `dynhost run` running?"
            ))
        })?)
    };
    let state = load_state(&mut store);
    let round = oneshot::run(&config, &scope, &publisher, &mut store, state)
        .await
        .map_err(Failure::Other)?;
    print!("{}", round.summary());
    Ok(exit_for(round.failed()))
}

fn exit_for(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

async fn run(cli: &Cli, config: Config) -> Result<ExitCode> {
    let publisher = Sender::new(&config, cli.dry_run).map_err(Failure::Config)?;
    let mut store = Store::new(&config.state_dir, cli.dry_run);
    let (tx, rx) = mpsc::unbounded_channel();
    // Hooks reach us here; a dry run stays out of a real daemon's way. Binding first
    // also tells at once whether another daemon is already listening.
    let mut _lock = None;
    if !cli.dry_run {
        let listener = control::bind(&config.control_socket).map_err(|e| {
            Failure::Other(format!("control socket: {e}; is dynhost already running?"))
        })?;
        // A hook's one-shot round (at boot, a PPP link often comes up first) may hold
        // the lock for one request: wait for it rather than fail.
        let wait = config.provider.timeout + Duration::from_secs(10);
        _lock = Some(store.lock(wait).map_err(|e| {
            Failure::Other(format!(
                "cannot take the state lock: {e}; is dynhost already running?"
            ))
        })?);
        tokio::spawn(control::serve(listener, tx.clone()));
    }
    let state = load_state(&mut store);
    // The file the config came from (none for the embedded default).
    let reload_path = config.source.clone();
    let mut hup = signal(SignalKind::hangup()).map_err(io_failure)?;
    let mut term = signal(SignalKind::terminate()).map_err(io_failure)?;
    let mut int = signal(SignalKind::interrupt()).map_err(io_failure)?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            reload(reload_path.as_deref(), &tx);
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    };
    let dry_run = cli.dry_run;
    let daemon = Daemon {
        config,
        kernel: Rtnetlink {
            // A small buffer provokes overruns in tests (the resync path).
            rcvbuf: std::env::var("DYNHOST_NETLINK_RCVBUF")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(netlink::DEFAULT_RCVBUF),
        },
        publisher,
        store,
        state,
    };
    daemon
        .run(
            move |c: &Config| Sender::new(c, dry_run),
            rx,
            shutdown,
            || {
                info!("ready");
                notify::notify("READY=1");
            },
        )
        .await
        .map_err(Failure::Other)?;
    notify::notify("STOPPING=1");
    Ok(ExitCode::SUCCESS)
}

/// SIGHUP: load and validate; a broken file keeps the running config.
fn reload(path: Option<&Path>, tx: &mpsc::UnboundedSender<daemon::Command>) {
    let Some(path) = path else {
        warn!("SIGHUP: running on the embedded default, there is no file to reload");
        return;
    };
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                warn!("{w}");
            }
            info!(path = %path.display(), "SIGHUP: config loaded");
            let _ = tx.send(daemon::Command::Reload(Box::new(loaded.config)));
        }
        Err(e) => error!("SIGHUP: reload failed, keeping the running config: {e}"),
    }
}

fn io_failure(e: std::io::Error) -> Failure {
    Failure::Other(format!("cannot install signal handlers: {e}"))
}
