//! OpenWrt's UCI format (`/etc/config/dynhost`), read directly so that the init script
//! stays a few lines of procd boilerplate. Pure: text in, sections out, then a
//! translation into the same spanned tree the TOML walker validates, so that both
//! formats get the same checks and the same located errors.
//!
//! ```text
//! config dynhost 'global'
//!     option debounce '1s'
//! config record 'home'
//!     option hostname 'home.example.com'
//!     option interface 'wan'        # a logical name: mapped to its device (pppoe-wan)
//! ```
//!
//! Here: the sections and options, and [`looks_like_uci`]. Then:
//! - `reader`: [`parse`], libuci's file parser step for step, with spans.
//! - `network`: [`device_of`], the device behind a logical interface of
//!   `/etc/config/network`, and netifd asked first.
//! - `translate`: [`to_table`] / [`to_table_asking`], the sections as the tree the
//!   config walker reads.

mod network;
mod reader;
mod translate;

use std::ops::Range;

pub use network::device_of;
pub use reader::parse;
pub use translate::{to_table, to_table_asking};

/// One `option` or `list` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub name: String,
    pub name_span: Range<usize>,
    /// Values with their spans; one for `option`, any number for `list`.
    pub values: Vec<(String, Range<usize>)>,
    pub list: bool,
}

/// One `config TYPE ['NAME']` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub kind: String,
    pub name: Option<String>,
    pub span: Range<usize>,
    pub options: Vec<Opt>,
}

impl Section {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|o| o.name == name && !o.list)
            .and_then(|o| o.values.first())
            .map(|(v, _)| v.as_str())
    }
}

/// A problem at a place in the text.
pub type Problem = (Range<usize>, String);

/// Whether `text` looks like UCI rather than TOML: its first statement is
/// `config`/`package` followed by a word, with no `=`.
pub fn looks_like_uci(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| {
            let word = l.split_whitespace().next().unwrap_or("");
            // uci also takes the one-letter forms.
            let short = matches!(word, "c" | "p") && l.split_whitespace().nth(1).is_some();
            (word == "config" || word == "package" || short) && !l.contains('=')
        })
}

#[cfg(test)]
mod tests;
