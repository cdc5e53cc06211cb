//! One open session handler: what PHP's open … close calls do, in plain Rust.
//!
//! PHP drives it as open → [validate_sid] → [create_sid] → read → write | update_timestamp →
//! close, with destroy, session_reset (open again, read again) and session_regenerate_id in
//! between. An uncontended locked request costs two round trips: validate_sid or create_sid does
//! the acquire+read that read then hands back, and write or update_timestamp releases the lock in
//! the same script that saves, so close has nothing left to do. The Redis side of every step is
//! in `protocol`.
//!
//! # States
//! The handler holds at most one *prefetch* (a read done ahead of PHP's read, by validate_sid or
//! create_sid) and at most one *active* session (the one PHP read), each with its
//! [`Access`]. During session_regenerate_id both exist: the old session is active while
//! create_sid prefetches the new id.
//!
//! | call | prefetch | active session |
//! |---|---|---|
//! | validate_sid(id) | replaced by the acquire+read of `id` (if it exists) | kept |
//! | create_sid | replaced by a reserved new id (locked when this request locks) | kept |
//! | read(id) | taken when it is `id` (its result is the read), else released | becomes `id`; the previous one is released; `id` again while locked = session_reset, re-read under the lock |
//! | write / update_timestamp(id) | taken when it is `id` | saved under its access, then `Released` |
//! | write / update_timestamp of an id never read | — | not involved: the write takes that id's lock itself |
//! | destroy(id) | taken when it is `id` | deleted under its access, then `Released` |
//! | close | released | released |
//!
//! "Released" means the lock goes back (compare-and-delete): nothing is left for close, and a
//! write after it reports a lost lock.

pub mod info;
mod optimistic;

use std::sync::Arc;
use std::time::Duration;

use redis::{ConnectionLike, RedisResult};

use crate::codec::SessionSerializer;
use crate::config::{LockMode, LockTimeoutAction, Settings};
use crate::error::MAX_CREATE_ID_ATTEMPTS;
pub use crate::error::{LostBecause, RedisCause, SessionError, SessionResult, Warning};
use crate::keys::{is_valid_session_id, KeyLayout, SessionKeys};
use crate::lease::{Lease, LeaseState};
use crate::protocol::{
    wait_for_lock, wait_while_held, Acquired, Backoff, Connections, HolderContext, LockRequest,
    LockToken, Owned, SessionStore, Waited, Which,
};
use crate::stats::STATS;
use crate::topology::{Backend, Failure, Location};

/// What the session_start() on the call stack asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadIntent {
    ReadWrite,
    /// `session_start(['read_and_close' => true])`: read without waiting for or taking the lock.
    ReadAndClose,
}

/// Who called read, as the boundary sees it on PHP's call stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// What the session_start() on the stack asked for (ReadWrite when there is none).
    pub intent: ReadIntent,
    /// Called through PHP's `\SessionHandler` class, i.e. by a userland wrapper (Symfony's
    /// StrictSessionHandler, Magento's SaveHandler\Native, any `extends \SessionHandler`).
    pub through_wrapper: bool,
}

/// PHP's session_start() calling the module directly.
impl From<ReadIntent> for Caller {
    fn from(intent: ReadIntent) -> Caller {
        Caller {
            intent,
            through_wrapper: false,
        }
    }
}

/// A lock this request holds: its token, and the lease that keeps it alive while the request
/// runs (dropping this stops the renewals).
#[derive(Debug)]
struct Locked {
    token: LockToken,
    lease: Lease,
}

impl Locked {
    fn new(redis: &Redis, store: &SessionStore, token: LockToken, settings: &Settings) -> Locked {
        STATS.locks_taken.incr();
        info::update(|i| i.locks_held += 1);
        let lease = Lease::start(
            &redis.backend,
            store,
            &token,
            settings.lock_ttl,
            settings.lock_max_hold,
        );
        Locked { token, lease }
    }

    /// Inherited through fork(): the parent's lock, which the child must not write under,
    /// release or renew.
    fn inherited(&self) -> bool {
        self.lease.inherited()
    }

    /// Why an owner-checked call found the lock gone (`found`: another request's lock, or none
    /// at all), as far as the lease knows.
    fn lost(&self, found: Owned) -> SessionError {
        STATS.locks_lost.incr();
        SessionError::LockLost(match self.lease.state() {
            LeaseState::MaxHoldReached(max_hold) => LostBecause::MaxHold(max_hold),
            LeaseState::Failing(cause) => LostBecause::RenewalFailed(cause),
            LeaseState::Renewing | LeaseState::Lost if found == Owned::Vanished => {
                LostBecause::Vanished
            }
            LeaseState::Renewing | LeaseState::Lost => LostBecause::Expired,
        })
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        info::update(|i| i.locks_held = i.locks_held.saturating_sub(1));
    }
}

/// How this request holds a session it read.
#[derive(Debug)]
enum Access {
    /// We hold the lock.
    Locked(Locked),
    /// Read without a lock; writes compare-and-set against this base and merge (optimistic
    /// mode, read_and_close).
    Snapshot(Arc<Vec<u8>>),
    /// rustredis.locking=off: writes overwrite.
    Unlocked,
    /// Read after a lock timeout with on_lock_timeout=readonly: writes are refused.
    WritesRefused,
    /// Saved and released; nothing is left to do in close.
    Released,
}

/// A read's result: how the session is held, and its data.
#[derive(Debug)]
struct Loaded {
    access: Access,
    /// Shared with [`Access::Snapshot`]: a large session is not copied to keep its base.
    data: Arc<Vec<u8>>,
}

#[derive(Debug)]
struct Session {
    id: Vec<u8>,
    store: SessionStore,
    access: Access,
}

/// Who made a prefetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// validate_sid found the session (and locked it when this request locks).
    Validated,
    /// create_sid reserved this new id: PHP's collision check in session_regenerate_id must not
    /// take it for someone else's session.
    Reserved,
}

/// A read done ahead of PHP's read call (by validate_sid or create_sid), handed over by read.
#[derive(Debug)]
struct Prefetch {
    id: Vec<u8>,
    store: SessionStore,
    origin: Origin,
    result: SessionResult<Loaded>,
}

/// A handler's way to Redis: its backend (one Redis, a cluster, a Sentinel master), and how
/// failures are reported.
struct Redis {
    backend: Backend,
    endpoint: String,
    /// The socket read timeout in force (the save_path's, else rustredis.read_timeout_ms).
    read_timeout: Duration,
}

impl Redis {
    fn failed(&self, failure: Failure) -> SessionError {
        let Failure { cause, at } = failure;
        STATS.record_cause(&cause);
        SessionError::Redis {
            endpoint: at.unwrap_or_else(|| self.endpoint.clone()),
            cause,
        }
    }
}

impl Connections for Redis {
    /// Runs one command on the backend (see `topology`: a connection that died while idle, or a
    /// failover, is retried once; every operation is idempotent, see `protocol`).
    fn run<T>(
        &self,
        op: &mut dyn FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
    ) -> SessionResult<T> {
        self.backend
            .run(op, &|| self.count_round_trip())
            .map_err(|failure| self.failed(failure))
    }
}

impl Redis {
    fn count_round_trip(&self) {
        info::update(|i| i.round_trips += 1);
    }
}

pub struct SessionHandler {
    settings: Settings,
    prefix: Vec<u8>,
    layout: KeyLayout,
    redis: Redis,
    /// session.serialize_handler, which PHP does not let change while a session is open.
    serializer: SessionSerializer,
    active: Option<Session>,
    prefetched: Option<Prefetch>,
    warnings: Vec<Warning>,
    /// Lines for PHP's error log (rustredis.slow_lock_ms).
    log_lines: Vec<String>,
    /// Who this request is, as its locks record it.
    holder: HolderContext,
}

impl SessionHandler {
    // -- PHP's calls, in the order PHP makes them ---------------------------------------------

    pub fn open(
        save_path: &str,
        settings: Settings,
        serializer: SessionSerializer,
    ) -> SessionResult<SessionHandler> {
        let location = Location::parse(save_path).map_err(SessionError::SavePath)?;
        STATS.sessions_opened.incr();
        let topology = &location.topology;
        let connect_timeout = topology
            .connect_timeout()
            .unwrap_or(settings.connect_timeout);
        let read_timeout = topology.read_timeout().unwrap_or(settings.read_timeout);
        Ok(SessionHandler {
            redis: Redis {
                backend: Backend::new(
                    topology,
                    connect_timeout,
                    read_timeout,
                    settings.max_data_bytes,
                ),
                endpoint: topology.to_string(),
                read_timeout,
            },
            layout: topology.key_layout(),
            prefix: location.prefix,
            serializer,
            settings,
            active: None,
            prefetched: None,
            warnings: Vec::new(),
            log_lines: Vec::new(),
            holder: HolderContext::this_process("-"),
        })
    }

    /// What this request runs (`POST /checkout/pay`, a CLI script), as its locks record it.
    pub fn set_request(&mut self, request: &str) {
        self.holder.request = request.to_string();
    }

    /// open again without a close (session_reset): keep the session and lock we hold.
    pub fn reopen(&mut self, settings: Settings) {
        self.settings = settings;
    }

    /// PHP's validate_sid (strict mode): does a session with this id exist? When it does, the
    /// read (and lock) is done here, so read costs no further round trip.
    pub fn validate_id(&mut self, id: &[u8], intent: ReadIntent) -> SessionResult<bool> {
        if !is_valid_session_id(id) {
            return Ok(false);
        }
        if self.active.as_ref().is_some_and(|a| a.id == id) {
            // session_reset(): the session this request holds exists.
            return Ok(true);
        }
        if self
            .prefetched
            .as_ref()
            .is_some_and(|p| p.origin == Origin::Reserved && p.id == id)
        {
            // Our own fresh reservation, not yet read: not a collision with someone else's session.
            return Ok(false);
        }
        self.forget_prefetch()?;
        let store = self.store(id);
        let result = match self.load(id, &store, intent, Which::Existing) {
            Ok(None) => return Ok(false),
            Ok(Some(loaded)) => Ok(loaded),
            // Saying "invalid" would make PHP hand out a new id and log the user out; let read
            // report the failure instead, without trying again.
            Err(err) => Err(err),
        };
        self.prefetched = Some(Prefetch {
            id: id.to_vec(),
            store,
            origin: Origin::Validated,
            result,
        });
        Ok(true)
    }

    /// PHP's create_sid: `generate` makes ids the way PHP would (php_session_create_id); each is
    /// reserved in Redis so no two requests can ever get the same id, and locked when this request
    /// locks, so the read that follows costs nothing. Never fails once an id was generated: PHP
    /// turns a failed create_sid into an uncaught Error (and PHP 8.2's SessionHandler::create_sid
    /// crashes on it), so a failure is handed to read, which reports it.
    pub fn create_id(
        &mut self,
        generate: &mut dyn FnMut() -> Option<Vec<u8>>,
        intent: ReadIntent,
        ttl: Duration,
    ) -> SessionResult<Vec<u8>> {
        self.forget_prefetch()?;
        let mut last_taken = None;
        for _ in 0..MAX_CREATE_ID_ATTEMPTS {
            let Some(id) = generate().filter(|id| is_valid_session_id(id)) else {
                continue;
            };
            let store = self.store(&id);
            let token = self
                .wants_lock(intent)
                .then(|| LockToken::new(&self.holder));
            let lock_ttl = self.settings.lock_ttl;
            let result = match self
                .redis
                .run(&mut |conn| store.reserve(conn, ttl, token.as_ref(), lock_ttl))
            {
                Ok(false) => {
                    last_taken = Some((id, store));
                    continue;
                }
                Err(err) => {
                    if let Some(token) = &token {
                        self.release_if_unanswered(&err, &store, token);
                    }
                    Err(err)
                }
                Ok(true) => {
                    let data = Arc::default();
                    Ok(Loaded {
                        access: match token {
                            Some(token) => Access::Locked(Locked::new(
                                &self.redis,
                                &store,
                                token,
                                &self.settings,
                            )),
                            None => self.unlocked_access(&data),
                        },
                        data,
                    })
                }
            };
            let origin = if result.is_ok() {
                Origin::Reserved
            } else {
                Origin::Validated
            };
            self.prefetched = Some(Prefetch {
                id: id.clone(),
                store,
                origin,
                result,
            });
            return Ok(id);
        }
        let (id, store) = last_taken.ok_or(SessionError::IdCollision)?;
        self.prefetched = Some(Prefetch {
            id: id.clone(),
            store,
            origin: Origin::Validated,
            result: Err(SessionError::IdCollision),
        });
        Ok(id)
    }

    pub fn read(&mut self, id: &[u8], caller: impl Into<Caller>) -> SessionResult<Arc<Vec<u8>>> {
        let caller = caller.into();
        if !is_valid_session_id(id) {
            if caller.through_wrapper {
                // A framework validates an id by reading it (Symfony's validateId): an id PHP
                // would never generate is no session, so it moves to a fresh id, as with phpredis.
                // The id still never becomes a key: a write of it is refused.
                return Ok(Arc::default());
            }
            return Err(SessionError::InvalidId);
        }
        if let Some(prefetch) = self.prefetched.take() {
            if prefetch.id == id {
                let loaded = prefetch.result?;
                self.activate(id, prefetch.store, loaded.access)?;
                return Ok(self.plain(loaded.data));
            }
            self.release_prefetch(prefetch)?;
        }
        if let Some(active) = &self.active {
            if active.id == id && matches!(active.access, Access::Locked(_)) {
                // session_reset(): we still hold the lock; read the data again under it.
                let data = self.redis.run(&mut |conn| active.store.read(conn))?;
                return Ok(self.plain(Arc::new(data.unwrap_or_default())));
            }
        }
        let store = self.store(id);
        let loaded = self
            .load(id, &store, caller.intent, Which::Any)?
            .expect("Which::Any always loads");
        self.activate(id, store, loaded.access)?;
        Ok(self.plain(loaded.data))
    }

    pub fn write(&mut self, id: &[u8], data: &[u8], ttl: Duration) -> SessionResult<()> {
        if data.len() > self.settings.max_data_bytes {
            return Err(SessionError::TooLarge {
                size: data.len(),
                max: self.settings.max_data_bytes,
            });
        }
        if !self.has_read(id)? {
            return self.write_unread(id, data, ttl);
        }
        let plain = data;
        let compression = self.settings.compression;
        let data = &*compression.encode(plain);
        STATS.bytes_written.add(data.len() as u64);
        self.with_active(|this, session, access| match access {
            Access::Locked(locked) => this.end_lock(session, locked, |conn, store, token| {
                store.write(conn, token, data, ttl)
            }),
            Access::Snapshot(base) => this.merge_and_write(
                &session.store,
                Arc::unwrap_or_clone(base),
                plain.to_vec(),
                ttl,
            ),
            Access::Unlocked => this
                .redis
                .run(&mut |conn| session.store.write_unlocked(conn, data, ttl)),
            Access::WritesRefused => {
                session.access = Access::WritesRefused;
                Err(SessionError::WritesRefused)
            }
            Access::Released => Err(SessionError::LockLost(LostBecause::Released)),
        })
    }

    /// session.lazy_write with unchanged data: renew the TTL and release, in one round trip. For
    /// an id this request never read, "unchanged" compares with another session's data, so `data`
    /// is written as `files` does when the file is missing.
    pub fn update_timestamp(&mut self, id: &[u8], data: &[u8], ttl: Duration) -> SessionResult<()> {
        if !self.has_read(id)? {
            return self.write(id, data, ttl);
        }
        self.with_active(|this, session, access| match access {
            Access::Locked(locked) => {
                match this.end_lock(session, locked, |conn, store, token| {
                    store.touch(conn, token, ttl)
                }) {
                    // Nothing of ours is lost (the data was unchanged), but the operator should
                    // know why the lock ended early.
                    Err(SessionError::LockLost(because)) => {
                        this.warnings.push(Warning::LockExpiredUnchanged(because));
                        Ok(())
                    }
                    other => other,
                }
            }
            // Unchanged data: renewing the TTL cannot overwrite anyone's write.
            Access::Snapshot(_) | Access::Unlocked => this
                .redis
                .run(&mut |conn| session.store.touch_unlocked(conn, ttl)),
            Access::WritesRefused => {
                session.access = Access::WritesRefused;
                Ok(())
            }
            Access::Released => Ok(()),
        })
    }

    /// session_destroy() / session_regenerate_id(true): delete the data, give back our lock.
    /// Deleting is a write: a request that lost its lock, or opened the session read-only after
    /// a lock timeout, must not delete what another request may have written since.
    pub fn destroy(&mut self, id: &[u8]) -> SessionResult<()> {
        if !is_valid_session_id(id) {
            return Ok(());
        }
        if !self.has_read(id)? {
            // A session this request did not read (PHP does not do this, but the id is valid):
            // destroy it as a request without a lock would.
            let store = self.store(id);
            return self.destroy_unowned(&store);
        }
        self.with_active(|this, session, access| match access {
            Access::WritesRefused => {
                session.access = Access::WritesRefused;
                Err(SessionError::WritesRefused)
            }
            Access::Locked(locked) => this.end_lock(session, locked, |conn, store, token| {
                store.destroy_owned(conn, token)
            }),
            Access::Unlocked => this
                .redis
                .run(&mut |conn| session.store.destroy_unlocked(conn)),
            Access::Snapshot(_) | Access::Released => this.destroy_unowned(&session.store),
        })
    }

    /// Every path ends here (abort, read_and_close, errors): give back whatever lock is still ours.
    pub fn close(&mut self) -> SessionResult<()> {
        let released = self.release_active();
        released.and(self.forget_prefetch())
    }

    /// Warnings of the calls so far that did not fail them (the boundary shows them).
    pub fn take_warnings(&mut self) -> Vec<Warning> {
        std::mem::take(&mut self.warnings)
    }

    /// What PHP gets for stored bytes: decompressed when they carry a compression header
    /// (whatever rustredis.compression is now). A header that does not decode gives a warning and
    /// a fresh session, never a crash.
    fn plain(&mut self, stored: Arc<Vec<u8>>) -> Arc<Vec<u8>> {
        STATS.bytes_read.add(stored.len() as u64);
        match crate::compression::decode(&stored, self.settings.max_data_bytes) {
            Ok(std::borrow::Cow::Borrowed(_)) => stored,
            Ok(std::borrow::Cow::Owned(plain)) => Arc::new(plain),
            Err(corrupt) => {
                self.warnings
                    .push(Warning::CorruptSession(corrupt.to_string()));
                Arc::default()
            }
        }
    }

    /// Lines for PHP's error log of the calls so far (rustredis.slow_lock_ms).
    pub fn take_log_lines(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log_lines)
    }

    // -- Reading ------------------------------------------------------------------------------

    fn store(&self, id: &[u8]) -> SessionStore {
        SessionStore::new(SessionKeys::with_layout(self.layout, &self.prefix, id))
            .with_replicas(self.settings.replicas)
    }

    fn wants_lock(&self, intent: ReadIntent) -> bool {
        self.settings.lock_mode == LockMode::Locked && intent == ReadIntent::ReadWrite
    }

    fn unlocked_access(&self, data: &Arc<Vec<u8>>) -> Access {
        match self.settings.lock_mode {
            LockMode::Unlocked => Access::Unlocked,
            // read_and_close and optimistic: a write that comes anyway must merge, never overwrite.
            LockMode::Locked | LockMode::Optimistic => Access::Snapshot(Arc::clone(data)),
        }
    }

    /// Reads `store`'s session as `intent` asks. With [`Which::Existing`], None for an unknown id.
    fn load(
        &mut self,
        id: &[u8],
        store: &SessionStore,
        intent: ReadIntent,
        which: Which,
    ) -> SessionResult<Option<Loaded>> {
        if self.wants_lock(intent) {
            return self.lock_and_read(id, store, which);
        }
        let data = self.redis.run(&mut |conn| store.read(conn))?;
        info::update(|i| {
            i.mode = match (intent, self.settings.lock_mode) {
                (ReadIntent::ReadAndClose, _) => "read_and_close",
                (_, LockMode::Optimistic) => "optimistic",
                _ => "unlocked",
            }
        });
        if intent == ReadIntent::ReadAndClose {
            STATS.read_and_close_reads.incr();
        }
        Ok(match data {
            None if which == Which::Existing => None,
            data => {
                let data = Arc::new(data.unwrap_or_default());
                Some(Loaded {
                    access: self.unlocked_access(&data),
                    data,
                })
            }
        })
    }

    /// Takes the lock and reads, waiting within rustredis.lock_wait_ms.
    fn lock_and_read(
        &mut self,
        id: &[u8],
        store: &SessionStore,
        which: Which,
    ) -> SessionResult<Option<Loaded>> {
        let token = LockToken::new(&self.holder);
        let max_waiters = self.settings.max_waiters;
        let mut backoff = Backoff::new(self.settings.lock_wait, self.redis.read_timeout);
        let request = LockRequest {
            token: &token,
            lock_ttl: self.settings.lock_ttl,
            which,
            max_waiters,
        };
        let waited = wait_for_lock(&self.redis, store, &mut backoff, request);
        self.note_wait(id, &backoff);
        if let Err(err) = &waited {
            self.release_if_unanswered(err, store, &token);
        }
        let (waited, held) = match waited? {
            Waited::Done(Acquired::Locked(data)) => {
                info::update(|i| i.mode = "locked");
                let locked = Locked::new(&self.redis, store, token, &self.settings);
                return Ok(Some(Loaded {
                    access: Access::Locked(locked),
                    data: Arc::new(data.unwrap_or_default()),
                }));
            }
            Waited::Done(Acquired::Missing) => return Ok(None),
            Waited::Done(Acquired::TooManyWaiters(held)) => {
                STATS.waiters_turned_away.incr();
                return Err(SessionError::TooManyWaiters {
                    max_waiters,
                    holder: held.holder,
                });
            }
            Waited::TimedOut(waited, held) => (waited, held),
        };
        STATS.lock_timeouts.incr();
        let timeout = SessionError::LockTimeout {
            waited,
            holder: Some(held.holder),
        };
        match self.settings.on_lock_timeout {
            LockTimeoutAction::Fail => Err(timeout),
            LockTimeoutAction::ReadOnly => {
                let data = self.redis.run(&mut |conn| store.read(conn))?;
                if which == Which::Existing && data.is_none() {
                    return Ok(None);
                }
                info::update(|i| i.mode = "readonly");
                self.warnings
                    .push(Warning::ContinuingReadOnly(timeout.to_string()));
                Ok(Some(Loaded {
                    access: Access::WritesRefused,
                    data: Arc::new(data.unwrap_or_default()),
                }))
            }
        }
    }

    /// A command that may have taken or kept our lock got no reply in time: Redis may still run
    /// it, and nobody would release that lock until its lease ran out. The lease thread releases
    /// it (owner-checked) as soon as Redis answers again. So it does after a failover of a
    /// cluster or Sentinel master: the lock may live on in the replica promoted.
    fn release_if_unanswered(&self, err: &SessionError, store: &SessionStore, token: &LockToken) {
        let unanswered = match err {
            SessionError::Redis {
                cause: RedisCause::Timeout { .. },
                ..
            } => true,
            SessionError::Redis { cause, .. } => {
                self.redis.backend.fails_over() && crate::topology::cause_is_failover(cause)
            }
            _ => false,
        };
        if unanswered {
            crate::lease::release_later(&self.redis.backend, store, token, self.settings.lock_ttl);
        }
    }

    /// Counts a wait for another request's lock, and logs it when it took longer than
    /// rustredis.slow_lock_ms.
    fn note_wait(&mut self, id: &[u8], backoff: &Backoff) {
        let Some(held) = backoff.last_held() else {
            return;
        };
        let waited = backoff.waited();
        STATS.record_wait(waited);
        let holder = held.holder.to_string();
        info::update(|i| {
            i.waited += waited;
            i.held_attempts += backoff.held_attempts();
            i.waited_for = holder.clone();
        });
        if self.settings.slow_lock.is_some_and(|slow| waited > slow) {
            let shown = String::from_utf8_lossy(&id[..id.len().min(8)]).into_owned();
            self.log_lines.push(format!(
                "rustredis: waited {} ms for the lock of session {shown}… (rustredis.slow_lock_ms={}); it was {holder}",
                waited.as_millis(),
                self.settings.slow_lock.map_or(0, |d| d.as_millis()),
            ));
        }
    }

    /// Whether this request read `id`. A read done ahead by validate_sid or create_sid counts
    /// even when PHP's read never came for it (a wrapper answered that read from its own cache),
    /// and becomes the active session here.
    fn has_read(&mut self, id: &[u8]) -> SessionResult<bool> {
        if self.active.as_ref().is_some_and(|a| a.id == id) {
            return Ok(true);
        }
        if self.prefetched.as_ref().is_some_and(|p| p.id == id) {
            let prefetch = self.prefetched.take().expect("checked above");
            let loaded = prefetch.result?;
            self.activate(id, prefetch.store, loaded.access)?;
            return Ok(true);
        }
        Ok(false)
    }

    fn activate(&mut self, id: &[u8], store: SessionStore, access: Access) -> SessionResult<()> {
        self.release_active()?;
        self.active = Some(Session {
            id: id.to_vec(),
            store,
            access,
        });
        Ok(())
    }

    // -- Writing ------------------------------------------------------------------------------

    /// Runs `op` on the active session (which [`Self::has_read`] established) with its access
    /// taken out: it stays `Released` unless `op` puts one back.
    fn with_active<T>(
        &mut self,
        op: impl FnOnce(&mut Self, &mut Session, Access) -> SessionResult<T>,
    ) -> SessionResult<T> {
        let mut session = self
            .active
            .take()
            .expect("has_read made the session active");
        let access = std::mem::replace(&mut session.access, Access::Released);
        let result = op(self, &mut session, access);
        self.active = Some(session);
        result
    }

    /// Runs the Redis call that ends our lock (write, touch or destroy). When the call itself
    /// fails, the token is put back so close() still releases the lock instead of leaving it to
    /// expire; releasing is a compare-and-delete, so doing it after a call that did run is harmless.
    /// `Owned::Lost` becomes [`SessionError::LockLost`], with what the lease knows of why.
    fn end_lock(
        &self,
        session: &mut Session,
        locked: Locked,
        mut op: impl FnMut(&mut dyn ConnectionLike, &SessionStore, &LockToken) -> RedisResult<Owned>,
    ) -> SessionResult<()> {
        if locked.inherited() {
            return Err(SessionError::LockLost(LostBecause::InheritedThroughFork));
        }
        match self
            .redis
            .run(&mut |conn| op(conn, &session.store, &locked.token))
        {
            Ok(Owned::Yes) => Ok(()),
            Ok(found) => Err(locked.lost(found)),
            Err(err) => {
                session.access = Access::Locked(locked);
                Err(err)
            }
        }
    }

    /// A write (or update_timestamp) of an id this request never read. PHP's `files` handler
    /// locks the file at write time and saves; so does this, in every mode: a wrapper that answered
    /// PHP's read from its own cache (Symfony's StrictSessionHandler after strict mode replaced an
    /// unknown id), or that read another id than PHP writes, must not lose the write.
    /// - locking=on: take the lock for `id` now (waiting for a holder as a read would), write and
    ///   release: 2 round trips.
    /// - optimistic: compare-and-set against the empty session, which is what the application saw;
    ///   a parallel writer's keys are merged, never overwritten.
    /// - locking=off: a plain write.
    fn write_unread(&mut self, id: &[u8], data: &[u8], ttl: Duration) -> SessionResult<()> {
        if !is_valid_session_id(id) {
            return Err(SessionError::InvalidId);
        }
        let store = self.store(id);
        let plain = data;
        let compression = self.settings.compression;
        let data = &*compression.encode(plain);
        match self.settings.lock_mode {
            LockMode::Locked => {
                let loaded = self
                    .lock_and_read(id, &store, Which::Any)?
                    .expect("Which::Any always loads");
                let Access::Locked(locked) = loaded.access else {
                    return Err(SessionError::WritesRefused);
                };
                match self
                    .redis
                    .run(&mut |conn| store.write(conn, &locked.token, data, ttl))?
                {
                    Owned::Yes => Ok(()),
                    found => Err(locked.lost(found)),
                }
            }
            LockMode::Optimistic => self.merge_and_write(&store, Vec::new(), plain.to_vec(), ttl),
            LockMode::Unlocked => self
                .redis
                .run(&mut |conn| store.write_unlocked(conn, data, ttl)),
        }
    }

    /// Destroys without a lock of ours: waits until no locking request is between its read and
    /// its write, then deletes.
    fn destroy_unowned(&self, store: &SessionStore) -> SessionResult<()> {
        let mut backoff = Backoff::new(self.settings.lock_wait, self.redis.read_timeout);
        match wait_while_held(&self.redis, store, &mut backoff, |conn, waiter| {
            store.destroy_unowned(conn, waiter)
        })? {
            Waited::Done(()) => Ok(()),
            Waited::TimedOut(waited, held) => Err(SessionError::LockTimeout {
                waited,
                holder: Some(held.holder),
            }),
        }
    }

    // -- Releasing ----------------------------------------------------------------------------

    fn release_active(&mut self) -> SessionResult<()> {
        if let Some(session) = self.active.take() {
            if let Access::Locked(locked) = session.access {
                if !locked.inherited() {
                    self.release(&session.store, &locked)?;
                }
            }
        }
        Ok(())
    }

    /// Gives back our lock; when Redis does not answer in time, the lease thread does it later.
    fn release(&self, store: &SessionStore, locked: &Locked) -> SessionResult<()> {
        let released = self
            .redis
            .run(&mut |conn| store.release(conn, &locked.token));
        if let Err(err) = &released {
            self.release_if_unanswered(err, store, &locked.token);
        }
        released.map(|_| ())
    }

    /// Drops a prefetch that is about to be replaced, giving back its lock.
    fn forget_prefetch(&mut self) -> SessionResult<()> {
        match self.prefetched.take() {
            Some(prefetch) => self.release_prefetch(prefetch),
            None => Ok(()),
        }
    }

    /// A prefetch PHP did not go on to use (it read another id): give back its lock.
    fn release_prefetch(&mut self, prefetch: Prefetch) -> SessionResult<()> {
        if let Ok(Loaded {
            access: Access::Locked(locked),
            ..
        }) = prefetch.result
        {
            if !locked.inherited() {
                self.release(&prefetch.store, &locked)?;
            }
        }
        Ok(())
    }
}
