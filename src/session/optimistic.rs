//! Optimistic writes: compare-and-set against what the request read, and when another request
//! wrote since, a three-way merge and another try.

use std::time::Duration;

use super::{SessionError, SessionHandler, SessionResult, Warning};
use crate::merge::{three_way_merge, MergeMode, MergeOutcome};
use crate::protocol::{wait_while_held, Backoff, Cas, SessionStore, Waited};
use crate::stats::STATS;

/// An optimistic write merges and retries until it lands, within rustredis.lock_wait_ms: every
/// round some writer wins, so N parallel writers all land within N rounds. This cap only guards
/// against a pathological loop.
const MAX_MERGE_ATTEMPTS: usize = 10_000;
/// After this many lost rounds, a writer waits a little (random, growing) before trying again,
/// so a crowd of writers that finished together spreads out instead of colliding every round.
const MERGE_ROUNDS_BEFORE_BACKOFF: usize = 3;

impl SessionHandler {
    /// Writes `mine` (plain), based on `base` (as stored, compressed or not): one round trip when
    /// nobody else wrote. A locking request
    /// between its read and its write is waited for (its write is based on what it read), and
    /// that wait and the spreading-out of a crowd of writers share the one budget
    /// rustredis.lock_wait_ms.
    pub(super) fn merge_and_write(
        &mut self,
        store: &SessionStore,
        mut base: Vec<u8>,
        mut mine: Vec<u8>,
        ttl: Duration,
    ) -> SessionResult<()> {
        let mut lock_backoff = Backoff::new(self.settings.lock_wait, self.redis.read_timeout);
        let mut crowd_backoff = Backoff::new(self.settings.lock_wait, self.redis.read_timeout);
        let mut merges = 0;
        loop {
            let theirs =
                match wait_while_held(&self.redis, store, &mut lock_backoff, |conn, waiter| {
                    let stored = self.settings.compression.encode(&mine);
                    store.compare_and_set(conn, &base, &stored, ttl, waiter)
                })? {
                    Waited::Done(Cas::Written) => return Ok(()),
                    Waited::Done(Cas::Changed(theirs)) => theirs,
                    Waited::TimedOut(waited, held) => {
                        return Err(SessionError::LockTimeout {
                            waited,
                            holder: Some(held.holder),
                        })
                    }
                };
            merges += 1;
            STATS.optimistic_merges.incr();
            if merges > MERGE_ROUNDS_BEFORE_BACKOFF {
                match crowd_backoff.next_wait(None) {
                    Some(wait) if merges <= MAX_MERGE_ATTEMPTS => std::thread::sleep(wait),
                    _ => {
                        let waited = crowd_backoff.waited();
                        STATS.conflicts_too_many_writers.incr();
                        return Err(SessionError::TooManyWriters { merges, waited });
                    }
                }
            }
            // Merged as PHP sees them (a header that does not decode stays as it is: it cannot be
            // split, so any parallel change is a whole-session conflict).
            let max = self.settings.max_data_bytes;
            let plain = |stored: &[u8]| match crate::compression::decode(stored, max) {
                Ok(plain) => plain.into_owned(),
                Err(_) => stored.to_vec(),
            };
            let merge = three_way_merge(
                &self.serializer,
                &plain(&base),
                &mine,
                &plain(&theirs),
                self.settings.on_conflict,
            );
            if !merge.overridden_keys.is_empty() {
                STATS
                    .overridden_keys
                    .add(merge.overridden_keys.len() as u64);
                self.warnings.push(Warning::ReplacedTheirs {
                    keys: merge.overridden_keys,
                });
            }
            match (merge.outcome, merge.mode) {
                (MergeOutcome::Merged(merged), _) => {
                    mine = merged;
                    base = theirs;
                }
                (MergeOutcome::Conflict { .. }, MergeMode::WholeSession(reason)) => {
                    STATS.conflicts_whole_session.incr();
                    return Err(SessionError::WholeSessionConflict { reason });
                }
                (MergeOutcome::Conflict { keys }, _) => {
                    STATS.conflicts_keys.incr();
                    return Err(SessionError::Conflict { keys });
                }
            }
        }
    }
}
