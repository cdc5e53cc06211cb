//! One open session handler: what PHP's open … close calls do, in plain Rust.
//!
//! PHP drives it as open → [validate_sid] → [create_sid] → read → write | update_timestamp → close,
//! with destroy, session_reset (open again, read again) and session_regenerate_id in between. Redis work is fused so an uncontended locked request costs two round trips:
//! validate_sid or create_sid does the acquire+read that read then hands back, and write or
//! update_timestamp releases the lock in the same script that saves, so close has nothing left to do.

use std::fmt;
use std::time::{Duration, Instant};

use redis::{ConnectionLike, RedisError, RedisResult};

use crate::codec::SessionSerializer;
use crate::config::{LockMode, LockTimeoutAction, SavePath, Settings};
use crate::keys::{is_valid_session_id, SessionKeys};
use crate::merge::{three_way_merge, MergeMode, MergeOutcome};
use crate::pool::{pool_for, Pool};
use crate::store::{AcquireOutcome, CasOutcome, DestroyOutcome, LockToken, SessionStore};

/// Lock wait backoff: first retry after about 1 ms, doubling up to this cap (a release wakes the
/// waiter at once anyway; the cap only bounds how late an expired lock is noticed).
const FIRST_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(100);
/// An optimistic write merges and retries until it lands, within rustredis.lock_wait_ms: every
/// round some writer wins, so N parallel writers all land within N rounds. This cap only guards
/// against a pathological loop.
const MAX_MERGE_ATTEMPTS: usize = 10_000;
/// After this many lost rounds, a writer waits a little (random, growing) before trying again,
/// so a crowd of writers that finished together spreads out instead of colliding every round.
const MERGE_ROUNDS_BEFORE_BACKOFF: usize = 3;
/// How many fresh ids create_sid tries before reporting a failure.
const MAX_CREATE_ID_ATTEMPTS: usize = 3;

/// Why a session operation failed. The boundary shows the message as a PHP warning.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionError {
    SavePath(String),
    InvalidId,
    /// PHP asked to write a session this handler never read (so there is no lock or base).
    NotRead,
    Redis {
        endpoint: String,
        message: String,
    },
    LockTimeout {
        waited: Duration,
    },
    LockLost,
    ReadOnly,
    Conflict {
        keys: Vec<String>,
    },
    /// Both sides changed a session that cannot be merged key by key (the reason is said).
    WholeSessionConflict {
        reason: String,
    },
    TooManyWriters {
        merges: usize,
        waited: Duration,
    },
    TooLarge {
        size: usize,
        max: usize,
    },
    IdCollision,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::SavePath(msg) => write!(f, "{msg}"),
            SessionError::InvalidId => write!(
                f,
                "session id rejected: it is empty, longer than 256 characters or contains characters other than \
                 A-Z, a-z, 0-9, ',' and '-'"
            ),
            SessionError::NotRead => write!(
                f,
                "write skipped: this request did not read that session id, so it holds no lock or base to \
                 write against"
            ),
            SessionError::Redis { endpoint, message } => write!(f, "Redis at {endpoint} failed: {message}"),
            SessionError::LockTimeout { waited } => write!(
                f,
                "gave up waiting for the session lock after {} ms (rustredis.lock_wait_ms); another request of this \
                 session still holds it",
                waited.as_millis()
            ),
            SessionError::LockLost => write!(
                f,
                "lock lost, write skipped: this request's session lock expired (rustredis.lock_ttl_ms) and another \
                 request took it; this request's changes were not saved so the newer data is kept"
            ),
            SessionError::ReadOnly => write!(
                f,
                "write skipped: the session was opened read-only after a lock timeout \
                 (rustredis.on_lock_timeout=readonly)"
            ),
            SessionError::Conflict { keys } => write!(
                f,
                "write conflict on session key(s) {}: a parallel request changed them too; kept its values and \
                 dropped this request's changes (rustredis.on_conflict=keep_theirs)",
                quoted_list(keys)
            ),
            SessionError::WholeSessionConflict { reason } => write!(
                f,
                "write conflict on the whole session: a parallel request changed it too and it cannot be \
                 merged key by key ({reason}); kept its version and dropped this request's changes \
                 (rustredis.on_conflict=keep_theirs)"
            ),
            SessionError::TooManyWriters { merges, waited } => write!(
                f,
                "write skipped: parallel requests kept changing the session through {merges} merge attempts in {} \
                 ms (rustredis.lock_wait_ms)",
                waited.as_millis()
            ),
            SessionError::TooLarge { size, max } => write!(
                f,
                "write skipped: session data is {size} bytes, more than rustredis.max_data_bytes={max}"
            ),
            SessionError::IdCollision => write!(
                f,
                "could not create an unused session id in {MAX_CREATE_ID_ATTEMPTS} attempts"
            ),
        }
    }
}

pub type SessionResult<T> = Result<T, SessionError>;

/// A random number in [0, 1], for jitter.
fn random_fraction() -> f64 {
    f64::from(getrandom::u32().unwrap_or(0)) / f64::from(u32::MAX)
}

/// The waits between attempts on a held lock: about 1 ms at first, doubling up to MAX_BACKOFF,
/// with jitter on the upper half so waiters of one session do not poll in step. A wait never
/// outlasts the budget left, the holder's remaining TTL, or half the socket read timeout (a
/// blocking BLPOP must return before the read timeout would cut it off). A release wakes a
/// blocked waiter at once; the backoff only bounds how late an expired lock is noticed.
struct Backoff {
    started: Instant,
    budget: Duration,
    max_block: Duration,
    next: Duration,
}

impl Backoff {
    fn new(budget: Duration, read_timeout: Duration) -> Backoff {
        Backoff {
            started: Instant::now(),
            budget,
            max_block: (read_timeout / 2).max(Duration::from_millis(1)),
            next: FIRST_BACKOFF,
        }
    }

    fn waited(&self) -> Duration {
        self.started.elapsed()
    }

    /// How long to wait before the next attempt, or None when the budget is spent.
    fn next_wait(&mut self, holder_expires_in: Option<Duration>) -> Option<Duration> {
        let waited = self.waited();
        if waited >= self.budget {
            return None;
        }
        let mut wait = self
            .next
            .mul_f64(0.5 + random_fraction() / 2.0)
            .min(self.budget - waited)
            .min(self.max_block);
        if let Some(expires_in) = holder_expires_in {
            wait = wait.min(expires_in + Duration::from_millis(1));
        }
        self.next = (self.next * 2).min(MAX_BACKOFF);
        Some(wait)
    }
}

fn quoted_list(keys: &[String]) -> String {
    keys.iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the caller asked to only read (session_start(['read_and_close' => true])).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadIntent {
    ReadWrite,
    ReadOnly,
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

/// How this request holds the session it read.
#[derive(Debug, Clone, PartialEq)]
enum Access {
    /// We hold the lock with this token.
    Locked(LockToken),
    /// Read without a lock; writes must merge against this base (optimistic mode, read_and_close).
    Snapshot(Vec<u8>),
    /// rustredis.locking=off: writes overwrite.
    Unlocked,
    /// Read after a lock timeout with on_lock_timeout=readonly: writes are refused.
    NoWrite,
    /// Saved and released; nothing is left to do in close.
    Done,
}

#[derive(Debug)]
struct ActiveSession {
    id: Vec<u8>,
    keys: SessionKeys,
    access: Access,
}

/// A read done ahead of PHP's read call (by validate_sid or create_sid), handed over by read.
#[derive(Debug)]
struct Prefetched {
    id: Vec<u8>,
    keys: SessionKeys,
    /// create_sid reserved this id: PHP's collision check in session_regenerate_id must not
    /// take it for someone else's session.
    reserved: bool,
    result: SessionResult<(Access, Vec<u8>)>,
}

pub struct SessionHandler {
    settings: Settings,
    save_path: SavePath,
    pool: Pool,
    endpoint: String,
    /// The socket read timeout in force (the save_path's, else rustredis.read_timeout_ms).
    read_timeout: Duration,
    /// session.serialize_handler, which PHP does not let change while a session is open.
    serializer: SessionSerializer,
    active: Option<ActiveSession>,
    prefetched: Option<Prefetched>,
    warnings: Vec<String>,
}

impl SessionHandler {
    pub fn open(
        save_path: &str,
        settings: Settings,
        serializer: SessionSerializer,
    ) -> SessionResult<SessionHandler> {
        let save_path =
            SavePath::parse(save_path).map_err(|e| SessionError::SavePath(e.to_string()))?;
        let connect_timeout = save_path
            .target
            .connect_timeout
            .unwrap_or(settings.connect_timeout);
        let read_timeout = save_path
            .target
            .read_timeout
            .unwrap_or(settings.read_timeout);
        let pool = pool_for(&save_path.target, connect_timeout, read_timeout);
        Ok(SessionHandler {
            endpoint: save_path.target.endpoint.to_string(),
            read_timeout,
            serializer,
            settings,
            save_path,
            pool,
            active: None,
            prefetched: None,
            warnings: Vec::new(),
        })
    }

    /// session_reset() opens again without closing: keep the session and lock we hold.
    pub fn reopen(&mut self, settings: Settings) {
        self.settings = settings;
    }

    /// Warnings that do not fail the call (the boundary shows them).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    fn keys(&self, id: &[u8]) -> SessionKeys {
        SessionKeys::new(&self.save_path.prefix, id)
    }

    fn redis_error(&self, err: RedisError) -> SessionError {
        let message = if err.is_timeout() {
            format!(
                "no reply within {} ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)",
                self.read_timeout.as_millis()
            )
        } else {
            err.to_string()
        };
        SessionError::Redis {
            endpoint: self.endpoint.clone(),
            message,
        }
    }

    /// Runs `op` on a pooled connection. A connection that died while idle in the pool (Redis
    /// restarted, an idle timeout) fails before Redis ran anything, so `op` is retried once on a
    /// fresh one. Should Redis have run it after all, the second run is harmless: acquire finds
    /// its own token, release and destroy find nothing left to do, and a write or compare-and-set
    /// reports a lost lock or a conflict it need not have — loud, never a silent loss.
    fn with_conn<T>(
        &self,
        mut op: impl FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
    ) -> SessionResult<T> {
        let mut conn = self.pool.get().map_err(|e| self.redis_error(e))?;
        match op(&mut *conn) {
            Err(err) if conn.reused() && err.is_connection_dropped() && !err.is_timeout() => {
                drop(conn);
                let mut fresh = self.pool.get().map_err(|e| self.redis_error(e))?;
                op(&mut *fresh).map_err(|e| self.redis_error(e))
            }
            other => other.map_err(|e| self.redis_error(e)),
        }
    }

    /// The access a new read gets, before any lock wait.
    fn wants_lock(&self, intent: ReadIntent) -> bool {
        self.settings.lock_mode == LockMode::Locked && intent == ReadIntent::ReadWrite
    }

    fn unlocked_access(&self, data: &[u8]) -> Access {
        match self.settings.lock_mode {
            LockMode::Unlocked => Access::Unlocked,
            // read_and_close and optimistic: a write that comes anyway must merge, never overwrite.
            LockMode::Locked | LockMode::Optimistic => Access::Snapshot(data.to_vec()),
        }
    }

    /// Takes the lock and reads, waiting within rustredis.lock_wait_ms. `only_if_exists` returns
    /// Ok(None) for an unknown id without locking it.
    fn lock_and_read(
        &mut self,
        keys: &SessionKeys,
        only_if_exists: bool,
    ) -> SessionResult<Option<(Access, Vec<u8>)>> {
        let store = SessionStore { keys };
        let token = LockToken::random();
        let lock_ttl = self.settings.lock_ttl;
        let mut backoff = Backoff::new(self.settings.lock_wait, self.read_timeout);
        let outcome = self.with_conn(|conn| {
            let mut waiting = false;
            loop {
                let outcome =
                    store.acquire_and_read(conn, &token, lock_ttl, only_if_exists, waiting)?;
                waiting = true;
                let holder_expires_in = match outcome {
                    AcquireOutcome::Acquired(data) => {
                        return Ok(Some(Ok(data.unwrap_or_default())))
                    }
                    AcquireOutcome::Missing => return Ok(None),
                    AcquireOutcome::Held(expires_in) => expires_in,
                };
                match backoff.next_wait(holder_expires_in) {
                    Some(wait) => {
                        store.wait_for_release(conn, wait)?;
                    }
                    None => {
                        store.stop_waiting(conn)?;
                        return Ok(Some(Err(backoff.waited())));
                    }
                }
            }
        })?;
        match outcome {
            None => Ok(None),
            Some(Ok(data)) => Ok(Some((Access::Locked(token), data))),
            Some(Err(waited)) => match self.settings.on_lock_timeout {
                LockTimeoutAction::Fail => Err(SessionError::LockTimeout { waited }),
                LockTimeoutAction::ReadOnly => {
                    let data = self.with_conn(|conn| store.read(conn))?;
                    if only_if_exists && data.is_none() {
                        return Ok(None);
                    }
                    self.warnings.push(format!(
                        "{}; continuing read-only (rustredis.on_lock_timeout=readonly): changes made by this request \
                         will not be saved",
                        SessionError::LockTimeout { waited }
                    ));
                    Ok(Some((Access::NoWrite, data.unwrap_or_default())))
                }
            },
        }
    }

    /// Reads without a lock. `only_if_exists` returns Ok(None) for an unknown id.
    fn read_unlocked(
        &self,
        keys: &SessionKeys,
        only_if_exists: bool,
    ) -> SessionResult<Option<(Access, Vec<u8>)>> {
        let data = self.with_conn(|conn| SessionStore { keys }.read(conn))?;
        match data {
            None if only_if_exists => Ok(None),
            data => {
                let data = data.unwrap_or_default();
                Ok(Some((self.unlocked_access(&data), data)))
            }
        }
    }

    fn load(
        &mut self,
        keys: &SessionKeys,
        intent: ReadIntent,
        only_if_exists: bool,
    ) -> SessionResult<Option<(Access, Vec<u8>)>> {
        if self.wants_lock(intent) {
            self.lock_and_read(keys, only_if_exists)
        } else {
            self.read_unlocked(keys, only_if_exists)
        }
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
            .is_some_and(|p| p.reserved && p.id == id)
        {
            // Our own fresh reservation, not yet read: not a collision with someone else's session.
            return Ok(false);
        }
        self.forget_stale_prefetch()?;
        let keys = self.keys(id);
        let result = match self.load(&keys, intent, true) {
            Ok(None) => return Ok(false),
            Ok(Some(loaded)) => Ok(loaded),
            // Saying "invalid" would make PHP hand out a new id and log the user out; let read
            // report the failure instead, without trying again.
            Err(err) => Err(err),
        };
        self.prefetched = Some(Prefetched {
            id: id.to_vec(),
            keys,
            reserved: false,
            result,
        });
        Ok(true)
    }

    /// PHP's create_sid: `generate` makes ids the way PHP would (php_session_create_id); each is
    /// reserved in Redis so no two requests can ever get the same id, and locked when this request
    /// locks, so the read that follows costs nothing.
    pub fn create_id(
        &mut self,
        generate: &mut dyn FnMut() -> Option<Vec<u8>>,
        intent: ReadIntent,
        ttl: Duration,
    ) -> SessionResult<Vec<u8>> {
        self.forget_stale_prefetch()?;
        let mut last_id = None;
        for _ in 0..MAX_CREATE_ID_ATTEMPTS {
            let Some(id) = generate().filter(|id| is_valid_session_id(id)) else {
                continue;
            };
            let keys = self.keys(&id);
            let token = self.wants_lock(intent).then(LockToken::random);
            let lock_ttl = self.settings.lock_ttl;
            let reserved = self.with_conn(|conn| {
                SessionStore { keys: &keys }.reserve(conn, ttl, token.as_ref(), lock_ttl)
            });
            let result = match reserved {
                Ok(false) => {
                    last_id = Some((id, keys));
                    continue;
                }
                Ok(true) => Ok((
                    match token {
                        Some(token) => Access::Locked(token),
                        None => self.unlocked_access(b""),
                    },
                    Vec::new(),
                )),
                Err(err) => Err(err),
            };
            self.prefetched = Some(Prefetched {
                id: id.clone(),
                keys,
                reserved: result.is_ok(),
                result,
            });
            return Ok(id);
        }
        // PHP turns a failed create_sid into an uncaught Error (and PHP 8.2's
        // SessionHandler::create_sid crashes on it). Hand it an id and let read report the
        // failure, so session_start() warns and returns false.
        let (id, keys) = last_id.ok_or(SessionError::IdCollision)?;
        self.prefetched = Some(Prefetched {
            id: id.clone(),
            keys,
            reserved: false,
            result: Err(SessionError::IdCollision),
        });
        Ok(id)
    }

    pub fn read(&mut self, id: &[u8], caller: impl Into<Caller>) -> SessionResult<Vec<u8>> {
        let caller = caller.into();
        if !is_valid_session_id(id) {
            if caller.through_wrapper {
                // A framework validates an id by reading it (Symfony's validateId): an id PHP
                // would never generate is no session, so it moves to a fresh id, as with phpredis.
                // The id still never becomes a key: a write of it is refused.
                return Ok(Vec::new());
            }
            return Err(SessionError::InvalidId);
        }
        if let Some(prefetched) = self.prefetched.take() {
            if prefetched.id == id {
                let (access, data) = prefetched.result?;
                self.activate(id, prefetched.keys, access)?;
                return Ok(data);
            }
            self.forget_prefetched(prefetched)?;
        }
        if let Some(active) = &self.active {
            if active.id == id && matches!(active.access, Access::Locked(_)) {
                // session_reset(): we still hold the lock; read the data again under it.
                let store = SessionStore { keys: &active.keys };
                let data = self.with_conn(|conn| store.read(conn))?;
                return Ok(data.unwrap_or_default());
            }
        }
        let keys = self.keys(id);
        let (access, data) = self
            .load(&keys, caller.intent, false)?
            .expect("only_if_exists=false always loads");
        self.activate(id, keys, access)?;
        Ok(data)
    }

    /// Whether this request read `id`. A read done ahead by validate_sid or create_sid counts
    /// even when PHP's read never came for it (a wrapper answered that read from its own cache),
    /// and becomes the active session here.
    fn has_read(&mut self, id: &[u8]) -> SessionResult<bool> {
        if self.active.as_ref().is_some_and(|a| a.id == id) {
            return Ok(true);
        }
        if self.prefetched.as_ref().is_some_and(|p| p.id == id) {
            let prefetched = self.prefetched.take().expect("checked above");
            let (access, _) = prefetched.result?;
            self.activate(id, prefetched.keys, access)?;
            return Ok(true);
        }
        Ok(false)
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
        let keys = self.keys(id);
        let store = SessionStore { keys: &keys };
        match self.settings.lock_mode {
            LockMode::Locked => {
                let (access, _) = self
                    .lock_and_read(&keys, false)?
                    .expect("only_if_exists=false always loads");
                let token = match access {
                    Access::Locked(token) => token,
                    _ => return Err(SessionError::ReadOnly),
                };
                if self.with_conn(|conn| store.write_and_release(conn, &token, data, ttl))? {
                    Ok(())
                } else {
                    Err(SessionError::LockLost)
                }
            }
            LockMode::Optimistic => self.merge_and_write(&store, Vec::new(), data.to_vec(), ttl),
            LockMode::Unlocked => self.with_conn(|conn| store.write_unlocked(conn, data, ttl)),
        }
    }

    /// Drops a prefetched read that is about to be replaced, giving back its lock.
    fn forget_stale_prefetch(&mut self) -> SessionResult<()> {
        match self.prefetched.take() {
            Some(prefetched) => self.forget_prefetched(prefetched),
            None => Ok(()),
        }
    }

    /// A prefetched read PHP did not go on to use (it read another id): give back its lock.
    fn forget_prefetched(&mut self, prefetched: Prefetched) -> SessionResult<()> {
        if let Ok((Access::Locked(token), _)) = prefetched.result {
            let store = SessionStore {
                keys: &prefetched.keys,
            };
            self.with_conn(|conn| store.release(conn, &token))?;
        }
        Ok(())
    }

    fn activate(&mut self, id: &[u8], keys: SessionKeys, access: Access) -> SessionResult<()> {
        self.release_active()?;
        self.active = Some(ActiveSession {
            id: id.to_vec(),
            keys,
            access,
        });
        Ok(())
    }

    /// Takes out the session PHP is writing, which must be the one it read; the caller puts it
    /// back (see `with_session`).
    fn checkout(&mut self, id: &[u8]) -> Option<ActiveSession> {
        if self.active.as_ref().is_some_and(|a| a.id == id) {
            self.active.take()
        } else {
            None
        }
    }

    /// Runs `op` on the session read as `id`, with its access taken out (left `Done` unless `op`
    /// puts a token back), and returns the session to `self.active` afterwards.
    fn with_session<T>(
        &mut self,
        id: &[u8],
        op: impl FnOnce(&mut Self, &mut ActiveSession, Access) -> SessionResult<T>,
    ) -> SessionResult<T> {
        let Some(mut session) = self.checkout(id) else {
            return Err(SessionError::NotRead);
        };
        let access = std::mem::replace(&mut session.access, Access::Done);
        let result = op(self, &mut session, access);
        self.active = Some(session);
        result
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
        self.with_session(id, |this, session, access| match access {
            Access::Locked(token) => {
                let written = this.end_lock(session, token, |conn, store, token| {
                    store.write_and_release(conn, token, data, ttl)
                })?;
                if written {
                    Ok(())
                } else {
                    Err(SessionError::LockLost)
                }
            }
            Access::Snapshot(base) => {
                let store = SessionStore {
                    keys: &session.keys,
                };
                this.merge_and_write(&store, base, data.to_vec(), ttl)
            }
            Access::Unlocked => {
                let store = SessionStore {
                    keys: &session.keys,
                };
                this.with_conn(|conn| store.write_unlocked(conn, data, ttl))
            }
            Access::NoWrite => Err(SessionError::ReadOnly),
            Access::Done => Err(SessionError::LockLost),
        })
    }

    /// Optimistic write: compare-and-set against what we read; when someone else wrote since,
    /// merge key by key and try again. One round trip when nobody else wrote.
    fn merge_and_write(
        &mut self,
        store: &SessionStore<'_>,
        mut base: Vec<u8>,
        mut mine: Vec<u8>,
        ttl: Duration,
    ) -> SessionResult<()> {
        // Waits for a locking request that holds the session, and the spreading-out of a crowd
        // of writers that keep beating each other, share the one budget rustredis.lock_wait_ms.
        let mut lock_backoff = Backoff::new(self.settings.lock_wait, self.read_timeout);
        let mut crowd_backoff = Backoff::new(self.settings.lock_wait, self.read_timeout);
        let mut merges = 0;
        let mut waiting = false;
        loop {
            let outcome =
                self.with_conn(|conn| store.compare_and_set(conn, &base, &mine, ttl, waiting))?;
            waiting = matches!(outcome, CasOutcome::Locked(_));
            match outcome {
                CasOutcome::Written => return Ok(()),
                CasOutcome::Changed(theirs) => {
                    merges += 1;
                    if merges > MERGE_ROUNDS_BEFORE_BACKOFF {
                        match crowd_backoff.next_wait(None) {
                            Some(wait) if merges <= MAX_MERGE_ATTEMPTS => std::thread::sleep(wait),
                            _ => {
                                let waited = crowd_backoff.waited();
                                return Err(SessionError::TooManyWriters { merges, waited });
                            }
                        }
                    }
                    let merge = three_way_merge(
                        &self.serializer,
                        &base,
                        &mine,
                        &theirs,
                        self.settings.on_conflict,
                    );
                    if !merge.overridden_keys.is_empty() {
                        self.warnings.push(format!(
                            "write conflict on session key(s) {}: this request's values replaced a parallel \
                             request's (rustredis.on_conflict=mine_wins)",
                            quoted_list(&merge.overridden_keys)
                        ));
                    }
                    match (merge.outcome, merge.mode) {
                        (MergeOutcome::Merged(merged), _) => {
                            mine = merged;
                            base = theirs;
                        }
                        (MergeOutcome::Conflict { .. }, MergeMode::WholeSession(reason)) => {
                            return Err(SessionError::WholeSessionConflict {
                                reason: reason.to_string(),
                            })
                        }
                        (MergeOutcome::Conflict { keys }, _) => {
                            return Err(SessionError::Conflict { keys })
                        }
                    }
                }
                // A locking request of this session is between its read and its write; its
                // write will be based on what it read, so ours has to wait for it.
                CasOutcome::Locked(expires_in) => {
                    self.wait_for_holder(store, &mut lock_backoff, expires_in)?
                }
            }
        }
    }

    /// session.lazy_write with unchanged data: renew the TTL and release, in one round trip. For
    /// an id this request never read, "unchanged" compares with another session's data, so `data`
    /// is written as `files` does when the file is missing.
    pub fn update_timestamp(&mut self, id: &[u8], data: &[u8], ttl: Duration) -> SessionResult<()> {
        if !self.has_read(id)? {
            return self.write(id, data, ttl);
        }
        self.with_session(id, |this, session, access| match access {
            Access::Locked(token) => {
                let touched = this.end_lock(session, token, |conn, store, token| {
                    store.touch_and_release(conn, token, ttl)
                })?;
                if !touched {
                    // Nothing of ours is lost (the data was unchanged), but the operator should
                    // know the lock TTL is shorter than their requests.
                    this.warnings.push(
                        "the session lock expired before the request ended (raise rustredis.lock_ttl_ms); the \
                         session was unchanged, so nothing was lost"
                            .to_string(),
                    );
                }
                Ok(())
            }
            // Unchanged data: renewing the TTL cannot overwrite anyone's write.
            Access::Snapshot(_) | Access::Unlocked => {
                let store = SessionStore { keys: &session.keys };
                this.with_conn(|conn| store.touch_unlocked(conn, ttl))
            }
            Access::NoWrite | Access::Done => Ok(()),
        })
    }

    /// session_destroy() / session_regenerate_id(true): delete the data, give back our lock.
    /// Deleting is a write: a request that lost its lock, or opened the session read-only after
    /// a lock timeout, must not delete what another request may have written since.
    pub fn destroy(&mut self, id: &[u8]) -> SessionResult<()> {
        if !is_valid_session_id(id) {
            return Ok(());
        }
        if self.active.as_ref().is_none_or(|a| a.id != id) {
            // A session this request did not read (PHP does not do this, but the id is valid):
            // destroy it as a request without a lock would.
            let keys = self.keys(id);
            return self.destroy_unowned(&SessionStore { keys: &keys });
        }
        self.with_session(id, |this, session, access| {
            let outcome = match access {
                Access::NoWrite => {
                    session.access = Access::NoWrite;
                    return Err(SessionError::ReadOnly);
                }
                Access::Locked(token) => this.end_lock(session, token, |conn, store, token| {
                    store.destroy(conn, Some(token), false, false)
                })?,
                Access::Unlocked => {
                    let store = SessionStore {
                        keys: &session.keys,
                    };
                    this.with_conn(|conn| store.destroy(conn, None, true, false))?
                }
                Access::Snapshot(_) | Access::Done => {
                    return this.destroy_unowned(&SessionStore {
                        keys: &session.keys,
                    })
                }
            };
            match outcome {
                DestroyOutcome::Destroyed => Ok(()),
                DestroyOutcome::LockLost | DestroyOutcome::Locked(_) => Err(SessionError::LockLost),
            }
        })
    }

    /// Destroys without a lock of ours: waits until no locking request is between its read and
    /// its write, then deletes.
    fn destroy_unowned(&self, store: &SessionStore<'_>) -> SessionResult<()> {
        let mut backoff = Backoff::new(self.settings.lock_wait, self.read_timeout);
        let mut waiting = false;
        loop {
            match self.with_conn(|conn| store.destroy(conn, None, false, waiting))? {
                DestroyOutcome::Locked(expires_in) => {
                    waiting = true;
                    self.wait_for_holder(store, &mut backoff, expires_in)?
                }
                DestroyOutcome::Destroyed => return Ok(()),
                DestroyOutcome::LockLost => return Err(SessionError::LockLost),
            }
        }
    }

    /// Runs the Redis call that ends our lock (write, touch or destroy). When the call itself
    /// fails, the token is put back so close() still releases the lock instead of leaving it to
    /// expire; releasing is a compare-and-delete, so doing it after a call that did run is harmless.
    fn end_lock<T>(
        &self,
        session: &mut ActiveSession,
        token: LockToken,
        mut op: impl FnMut(&mut dyn ConnectionLike, &SessionStore<'_>, &LockToken) -> RedisResult<T>,
    ) -> SessionResult<T> {
        let store = SessionStore {
            keys: &session.keys,
        };
        let result = self.with_conn(|conn| op(conn, &store, &token));
        if result.is_err() {
            session.access = Access::Locked(token);
        }
        result
    }

    /// Blocks until a lock holder releases or the backoff's next wait passes; once the budget is
    /// spent, leaves the waiter count and reports the timeout.
    fn wait_for_holder(
        &self,
        store: &SessionStore<'_>,
        backoff: &mut Backoff,
        expires_in: Option<Duration>,
    ) -> SessionResult<()> {
        match backoff.next_wait(expires_in) {
            Some(wait) => {
                self.with_conn(|conn| store.wait_for_release(conn, wait))?;
                Ok(())
            }
            None => {
                // Best effort: the count expires by itself within seconds anyway.
                let _ = self.with_conn(|conn| store.stop_waiting(conn));
                Err(SessionError::LockTimeout {
                    waited: backoff.waited(),
                })
            }
        }
    }

    fn release_active(&mut self) -> SessionResult<()> {
        if let Some(active) = self.active.take() {
            if let Access::Locked(token) = active.access {
                let store = SessionStore { keys: &active.keys };
                self.with_conn(|conn| store.release(conn, &token))?;
            }
        }
        Ok(())
    }

    /// Every path ends here (abort, read_and_close, errors): give back whatever lock is still ours.
    pub fn close(&mut self) -> SessionResult<()> {
        let released = self.release_active();
        released.and(self.forget_stale_prefetch())
    }
}
