//! The one "said once" latch: an operator message is given when a situation begins or
//! changes, and not again while it stays the same (cloudflare-ddns's `InfoOncef` /
//! `Suppress`, reduced to a value). Every "say it once" in the daemon goes through it.

/// Remembers what was last said about one situation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Said<T>(Option<T>);

impl<T> Default for Said<T> {
    fn default() -> Said<T> {
        Said(None)
    }
}

impl<T: PartialEq> Said<T> {
    pub const fn new() -> Said<T> {
        Said(None)
    }

    /// True when `what` is new (nothing said yet, or something else said last): say
    /// it now. False while the same thing goes on.
    pub fn first(&mut self, what: T) -> bool {
        if self.0.as_ref() == Some(&what) {
            return false;
        }
        self.0 = Some(what);
        true
    }

    /// The situation ended; true if something had been said about it.
    pub fn clear(&mut self) -> bool {
        self.0.take().is_some()
    }

    /// What was said last, while it goes on.
    pub fn last(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_each_situation_once_until_it_changes_or_ends() {
        let mut s = Said::new();
        assert!(s.first("503"));
        assert!(!s.first("503"));
        assert!(s.first("timeout"), "a change is said");
        assert_eq!(s.last(), Some(&"timeout"));
        assert!(s.clear());
        assert!(!s.clear());
        assert!(s.first("timeout"), "a new episode is said again");
    }
}
