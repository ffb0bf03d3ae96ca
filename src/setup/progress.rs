//! What a failure half-way leaves: the steps done and the steps left, in the words the
//! operator reads.

use std::fmt;
use std::path::PathBuf;

use super::Error;
use super::plan::Action;

/// What a failure half-way leaves, for the operator.
pub(super) struct Progress {
    pub(super) done: Vec<String>,
    pub(super) todo: Vec<String>,
}

impl Progress {
    pub(super) fn fail(&self, error: impl fmt::Display, unknown: Option<String>) -> Error {
        let mut m = error.to_string();
        if self.done.is_empty() && unknown.is_none() {
            m.push_str("\nNothing was changed.");
        } else {
            m.push_str("\nWhat exists now:");
            for d in &self.done {
                m.push_str(&format!("\n  - {d}"));
            }
            if let Some(u) = unknown {
                m.push_str(&format!("\n  - {u}"));
            }
        }
        if !self.todo.is_empty() {
            m.push_str("\nNot done yet:");
            for t in &self.todo {
                m.push_str(&format!("\n  - {t}"));
            }
            m.push_str(
                "\nRun the same command again once the cause is fixed: it reads what exists \
                 and completes the rest.",
            );
        }
        Error::Failed(m)
    }
}

pub(super) struct Names {
    pub(super) zone: String,
    pub(super) sub: String,
    pub(super) hostname: String,
    pub(super) password_file: PathBuf,
    pub(super) config: PathBuf,
}

pub(super) fn todo_text(a: &Action, n: &Names) -> String {
    let file = n.password_file.display();
    match a {
        Action::CreateLogin { login, .. } => format!(
            "create the DynHost login {login} for {} and write its password to {file}",
            n.hostname
        ),
        Action::ChangePassword { login, .. } => {
            format!("set a new password on the DynHost login {login} and write it to {file}")
        }
        Action::DeleteOrdinary(r) => format!("delete the ordinary {r} of {}", n.hostname),
        Action::CreateRecord { ip } => {
            format!("create the DynHost record {} → {ip}", n.hostname)
        }
        Action::UpdateRecord { id, from, to } => {
            format!("point the DynHost record {id} from {from} to {to}")
        }
        Action::Refresh => format!(
            "refresh the zone {} (applies the changes on OVH's DNS servers)",
            n.zone
        ),
        Action::AddToConfig => format!(
            "add the record for {} to {}",
            n.hostname,
            n.config.display()
        ),
    }
}

pub(super) fn done_text(a: &Action, n: &Names) -> String {
    let file = n.password_file.display();
    match a {
        Action::CreateLogin { login, .. } => format!(
            "the DynHost login {login} for {}; its password is in {file} (mode 0600)",
            n.hostname
        ),
        Action::ChangePassword { login, .. } => {
            format!("a new password on the DynHost login {login}, written to {file} (mode 0600)")
        }
        Action::DeleteOrdinary(r) => format!("the ordinary {r} of {} was deleted", n.hostname),
        Action::CreateRecord { ip } => format!("the DynHost record {} → {ip}", n.hostname),
        Action::UpdateRecord { id, to, .. } => {
            format!("the DynHost record {id} points to {to}")
        }
        Action::Refresh => format!("the zone {} was refreshed", n.zone),
        Action::AddToConfig => format!("the record for {} in {}", n.hostname, n.config.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_half_way_says_what_exists_and_what_is_left() {
        let p = Progress {
            done: vec!["the DynHost login example.com-home".into()],
            todo: vec!["create the DynHost record".into(), "refresh".into()],
        };
        let m = p.fail("OVH failed", None).to_string();
        assert!(
            m.contains("What exists now:\n  - the DynHost login")
                && m.contains("Not done yet:\n  - create the DynHost record\n  - refresh")
                && m.contains("Run the same command again"),
            "{m}"
        );
        let none = Progress {
            done: vec![],
            todo: vec![],
        };
        assert!(
            none.fail("x", None)
                .to_string()
                .ends_with("Nothing was changed.")
        );
    }
}
