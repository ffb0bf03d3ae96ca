//! `dynhost update`: one round now. A running daemon does it, joined to its own
//! debounce; without one, this process runs the round itself under the state lock.

use std::time::Duration;

use super::{Error, Exit, Result};
use crate::config::Config;
use crate::control::{self, Reach, Refusal};
use crate::driver::oneshot::{self, RoundError};
use crate::driver::{Edges, Rtnetlink};
use crate::netlink;
use crate::provider::Sender;
use crate::request::UpdateRequest;
use crate::source::Sources;
use crate::state::Store;

/// How long a one-shot round waits for the state lock another process holds.
const LOCK_WAIT: Duration = Duration::from_secs(30);

pub async fn run(config: Config, request: &UpdateRequest, dry_run: bool) -> Result<Exit> {
    // A dry run never involves the daemon.
    if !dry_run {
        // The daemon's round: its debounce, one request, and its own retries.
        let wait = config.debounce_max + config.provider.timeout + Duration::from_secs(30);
        match control::ask(&config.control_socket, request, wait).await {
            Ok(Reach::NoDaemon) => {}
            Ok(Reach::Answer(Ok(reports))) => {
                crate::out!("{}", oneshot::summary(&reports, &Default::default(), true));
                return Ok(exit_for(oneshot::failed(&reports)));
            }
            Ok(Reach::Answer(Err(Refusal::NotFollowed(m)))) => return Err(Error::NotFollowed(m)),
            Ok(Reach::Answer(Err(Refusal::Error(m)))) => {
                return Err(Error::Failed(format!("the daemon refused: {m}")));
            }
            Err(e) => return Err(Error::Failed(e)),
        }
    }
    let publisher = Sender::new(&config, dry_run).map_err(Error::Config)?;
    let mut outside = Sources::new(&config).map_err(Error::Config)?;
    if dry_run {
        outside = outside.in_memory();
    }
    let mut store = Store::new(&config.state_dir, dry_run);
    let _lock = if dry_run {
        None
    } else {
        super::run::lock(&mut store, LOCK_WAIT)?
    };
    let state = super::run::load_state(&mut store);
    let mut edges = Edges {
        config,
        kernel: Rtnetlink {
            rcvbuf: netlink::DEFAULT_RCVBUF,
        },
        publisher,
        outside,
        store,
        state,
    };
    let round = oneshot::run(&mut edges, request)
        .await
        .map_err(|e| match e {
            RoundError::Request(e) => Error::NotFollowed(e.to_string()),
        })?;
    crate::out!("{}", round.summary());
    if !dry_run {
        super::notify::after_round(&edges.config, &round).await;
    }
    Ok(exit_for(round.failed()))
}

fn exit_for(failed: bool) -> Exit {
    if failed { Exit::Failure } else { Exit::Success }
}
