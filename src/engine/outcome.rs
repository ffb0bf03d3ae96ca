//! The provider's answer to a `Send`: published, retry later, or blocked.

use std::net::IpAddr;
use std::time::Instant;

use tracing::{debug, error, info, warn};

use super::Engine;
use super::slot::{Phase, round_secs};
use super::types::{LastReply, Published, SlotKey};
use crate::provider::reply::{Class, Outcome, Reply};

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
        match outcome.class() {
            Class::Published => {
                if let Outcome::Reply(Reply::Good(Some(echo)) | Reply::NoChange(Some(echo))) =
                    &outcome
                    && *echo != addr
                {
                    warn!(record = %key, sent = %addr, echoed = %echo,
                          "the provider echoed another address than the one sent");
                }
                if outcome != Outcome::DryRun {
                    info!(record = %key, addr = %addr, reply = %outcome, "published");
                }
                s.published = Some(Published { addr, at: wall });
                s.phase = Phase::Idle;
                s.attempts = 0;
            }
            Class::Transient { floor } => {
                s.attempts += 1;
                let delay = self.backoff.delay(s.attempts, floor);
                warn!(record = %key, addr = %addr, reply = %outcome, attempt = s.attempts,
                      retry_in = %crate::duration::format(round_secs(delay)),
                      "update failed; will retry");
                s.phase = Phase::Waiting {
                    until: now + delay,
                    wall_until: wall.saturating_add(delay.as_secs()),
                };
            }
            Class::Fatal => {
                let hint = outcome.hint().unwrap_or("check the record's settings");
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
        self.finish_tickets(now);
    }
}
