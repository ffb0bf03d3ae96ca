//! `dynhost check`: validate the config and restate it, defaults filled in and secrets
//! redacted.

use super::{Error, Exit, Result};
use crate::config::Config;
use crate::provider::HttpPublisher;

pub fn run(config: &Config) -> Result<Exit> {
    // Building the HTTPS client validates ca_file too.
    HttpPublisher::new(&config.provider).map_err(Error::Config)?;
    crate::outln!("{}", report(config));
    Ok(Exit::Success)
}

/// What `check` prints.
pub fn report(config: &Config) -> String {
    let origin = config.source.as_ref().map_or(
        if config.from_env {
            "environment (DYNHOST_* variables)"
        } else {
            "embedded default"
        }
        .to_string(),
        |p| p.display().to_string(),
    );
    format!(
        "# {origin}: OK, {} record(s), {} enabled\n{config}",
        config.records.len(),
        config.records.iter().filter(|r| r.enabled).count()
    )
}
