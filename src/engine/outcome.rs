//! The provider's answer to a `Send`: published, retry later, or blocked.

use std::net::IpAddr;
use std::time::Instant;

use tracing::{debug, error, info, warn};

use super::Engine;
use super::slot::Phase;
use super::types::{LastReply, Published, Purpose, SlotKey};

/// The first DNS check after an update: within a second.
const FIRST_CHECK: std::time::Duration = std::time::Duration::from_secs(1);
use crate::provider::reply::{Class, Outcome, Reply, Transport};

/// Unrecognised answers in a row (HTML, garbage, empty) before a slot stops retrying.
pub const MAX_UNRECOGNISED: u32 = 8;

/// A delay as logged: to the millisecond (a 2 s retry less jitter is not "1s").
fn whole_ms(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(d.as_millis() as u64)
}

impl Engine {
    /// The answer to a `Send`. `wall` is the current Unix time, for the record.
    pub fn handle_outcome(
        &mut self,
        now: Instant,
        wall: u64,
        key: &SlotKey,
        addr: IpAddr,
        outcome: Outcome,
    ) {
        self.clock = (now, wall);
        let Some(i) = self.slots.iter().position(|s| s.spec.key == *key) else {
            debug!(record = %key, "answer for a record no longer configured; ignored");
            return;
        };
        let s = &mut self.slots[i];
        if s.phase != Phase::InFlight(addr) {
            debug!(record = %key, "answer for an update no longer awaited; ignored");
            return;
        }
        s.last_reply = Some(LastReply {
            token: outcome.token(),
            detail: outcome.to_string(),
            at: wall,
        });
        let echo = match &outcome {
            Outcome::Reply(Reply::Good(Some(e)) | Reply::NoChange(Some(e))) if *e != addr => {
                Some(*e)
            }
            _ => None,
        };
        let unrecognised = matches!(
            outcome,
            Outcome::Reply(Reply::Unparseable { .. } | Reply::Empty { .. })
        );
        s.unrecognised = if unrecognised { s.unrecognised + 1 } else { 0 };
        s.clock_wrong = matches!(outcome, Outcome::Transport(Transport::ClockWrong(_)));
        let class = match outcome.class() {
            // The provider says it holds another address: that is what is published,
            // and the one we sent is not. Retry it, within the budget.
            Class::Published if echo.is_some() => Class::Transient {
                floor: std::time::Duration::ZERO,
            },
            // Answers that never make sense stop being retried (a captive portal, a
            // wrong endpoint): bounded, like every retry.
            Class::Transient { .. } if s.unrecognised >= MAX_UNRECOGNISED => Class::Fatal,
            class => class,
        };
        match class {
            Class::Published => {
                let real = outcome != Outcome::DryRun;
                if real {
                    info!(record = %key, addr = %addr, reply = %outcome, "published");
                }
                s.published = Some(Published { addr, at: wall });
                s.phase = Phase::Idle;
                s.attempts = 0;
                // A one-shot run ends with its round; the daemon checks DNS.
                if real && self.mode == super::Mode::Daemon {
                    self.start_check(i, now, Purpose::AfterUpdate, addr, FIRST_CHECK);
                }
            }
            Class::Transient { floor } => {
                if let Some(echo) = echo {
                    warn!(record = %key, sent = %addr, echoed = %echo,
                          "the provider echoed another address than the one sent: it holds \
                           that one; the update is retried");
                    if crate::policy::classify(&echo).is_ok() {
                        s.published = Some(Published {
                            addr: echo,
                            at: wall,
                        });
                    }
                }
                s.attempts += 1;
                let delay = self.backoff.delay(s.attempts, floor);
                warn!(record = %key, addr = %addr, reply = %outcome, attempt = s.attempts,
                      retry_in = %crate::duration::format(whole_ms(delay)),
                      "update failed; will retry");
                s.phase = Phase::Waiting {
                    until: now + delay,
                    wall_until: wall.saturating_add(delay.as_secs()),
                };
            }
            Class::Fatal => {
                let hint = if unrecognised {
                    "the provider keeps answering what dynhost does not understand: check \
                     provider.url"
                } else {
                    outcome.hint().unwrap_or("check the record's settings")
                };
                error!(record = %key, addr = %addr, reply = %outcome, hint,
                       "update refused; this record is blocked until the config is reloaded");
                s.phase = Phase::Blocked { since: wall };
                if outcome.concerns_record() {
                    // The other family shares the login and the host: spare the provider
                    // a request that can only get the same answer.
                    let record = s.spec.record;
                    for other in self.slots.iter_mut().filter(|o| {
                        o.spec.record == record && !matches!(o.phase, Phase::Blocked { .. })
                    }) {
                        if !matches!(other.phase, Phase::InFlight(_)) {
                            other.phase = Phase::Blocked { since: wall };
                        }
                    }
                }
            }
        }
        self.mark_persist();
        // The address may have moved on while the request was out.
        self.evaluate(i, now);
        self.evaluate_queued(now);
        self.finish_tickets(now);
    }
}
