//! The end of a run: `dynhost check` on the config as it is now, what was done and what
//! to do next; or, in a dry run, the config as it would be and what would change.

use super::Error;
use super::files::{self, PasswordRef, RecordSpec, Target};
use super::plan::{Action, Plan};
use super::progress::{Names, done_text};
use crate::config;

/// Step 7: `dynhost check` on the file as it is now.
pub(super) fn check(target: &Target) -> Result<String, Error> {
    let loaded = config::load(&target.path).map_err(|e| Error::Config(e.to_string()))?;
    for w in &loaded.warnings {
        crate::outln!("warning: {w}");
    }
    crate::provider::HttpPublisher::new(&loaded.config.provider).map_err(Error::Config)?;
    let c = &loaded.config;
    Ok(format!(
        "check: {}: OK, {} record(s), {} enabled",
        target.path.display(),
        c.records.len(),
        c.records.iter().filter(|r| r.enabled).count()
    ))
}

pub(super) fn report(plan: &Plan, n: &Names, target: &Target, spec: &RecordSpec, checked: &str) {
    if plan.actions.is_empty() {
        crate::outln!("dynhost setup: {}: nothing to change", n.hostname);
        for u in &plan.unchanged {
            crate::outln!("  {u}");
        }
    } else {
        crate::outln!("dynhost setup: {}: done", n.hostname);
        for a in &plan.actions {
            crate::outln!("  {}", done_text(a, n));
        }
    }
    for note in &plan.notes {
        crate::outln!("note: {note}");
    }
    crate::outln!("{checked}");
    if plan.actions.is_empty() {
        return;
    }
    match target.format {
        files::Format::Uci => crate::outln!(
            "next: /etc/init.d/dynhost reload (or start) so that the daemon takes the record"
        ),
        files::Format::Toml => crate::outln!(
            "next: if dynhost runs, reload it (systemctl reload dynhost, or send it SIGHUP); \
             otherwise start it (systemctl enable --now dynhost, or dynhost run)"
        ),
    }
    let in_config = files::password_file_in_config(target, &spec.password_file);
    if target.format == files::Format::Toml && !in_config.contains('/') {
        crate::outln!(
            "  with the systemd unit from contrib/systemd, hand it the password: systemctl \
             edit dynhost, and under [Service] add LoadCredential={in_config}:{}",
            spec.password_file.display()
        );
    }
}

/// The end of a dry run: the checked config as it would be, and what would change.
pub(super) fn dry_run_summary(
    plan: &Plan,
    n: &Names,
    target: &Target,
    spec: &RecordSpec,
) -> Result<(), Error> {
    for note in &plan.notes {
        crate::outln!("note: {note}");
    }
    if plan.actions.contains(&Action::AddToConfig) {
        let text = files::with_record(target, spec, PasswordRef::Placeholder);
        files::validate(target, &text).map_err(Error::Config)?;
        crate::outln!(
            "check (the config as it would be): {}: OK",
            target.path.display()
        );
    } else {
        crate::outln!("{}", check(target)?);
    }
    if plan.actions.is_empty() {
        crate::outln!("dry run: {}: nothing to change", n.hostname);
        for u in &plan.unchanged {
            crate::outln!("  {u}");
        }
    } else {
        crate::outln!(
            "dry run: nothing was changed; setup would make {} change(s)",
            plan.actions.len()
        );
    }
    Ok(())
}
