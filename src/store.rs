//! The Redis side of a session: every operation is one round trip (one script or one command),
//! and every write made under a lock checks, inside the same script, that the lock is still ours.

use std::sync::LazyLock;
use std::time::Duration;

use redis::{ConnectionLike, RedisResult, Script, ScriptInvocation, Value};

use crate::keys::SessionKeys;

/// A lock token: 128 random bits from the OS, hex-encoded. Each acquisition gets a fresh one, so a
/// request can only ever release or write under the lock it took itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockToken(String);

impl LockToken {
    pub fn random() -> LockToken {
        let mut bytes = [0u8; 16];
        // The kernel's RNG is per process by construction, so forked php-fpm workers can never
        // share a token (a userspace RNG copied by fork could).
        getrandom::fill(&mut bytes).expect("the OS random number generator is available");
        LockToken(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long the wake-up list outlives a release, so a waiter that goes to sleep just after a
/// release still finds the signal.
const WAKE_TTL_MS: u64 = 5_000;
/// How long the waiter count lives after the last waiter's last attempt: longer than the longest
/// wait between two attempts, so a release during any wait is signalled.
const WAITING_TTL_MS: u64 = 2_000;

// Every script gets the same keys, in this order (see SessionStore::script):
// KEYS[1] data, KEYS[2] lock, KEYS[3] wake-up list, KEYS[4] waiter count.

/// The shared tail of every script that ends ownership of a lock: delete it and, while anyone
/// waits, wake one. The wake-up list TTL is the script's last argument.
macro_rules! release_lua {
    () => {
        "redis.call('DEL', KEYS[2])
         if redis.call('EXISTS', KEYS[4]) == 1 then
           redis.call('LPUSH', KEYS[3], '1')
           redis.call('LTRIM', KEYS[3], 0, 0)
           redis.call('PEXPIRE', KEYS[3], ARGV[#ARGV])
         end"
    };
}

/// Bookkeeping of the waiter count in KEYS[4]. ARGV[5] says whether this request already counts
/// itself as waiting: it joins on its first failed attempt and leaves when it stops waiting, so
/// releases signal only while someone waits. The count expires if a waiter dies. The last waiter
/// to leave also drops a signal nobody consumed (it took the lock between two waits).
macro_rules! stop_waiting_lua {
    () => {
        "if ARGV[5] == '1' and redis.call('DECR', KEYS[4]) <= 0 then redis.call('DEL', KEYS[4], KEYS[3]) end\n"
    };
}
macro_rules! keep_waiting_lua {
    () => {
        "if ARGV[5] ~= '1' then redis.call('INCR', KEYS[4]) end
         redis.call('PEXPIRE', KEYS[4], ARGV[4])\n"
    };
}

/// ARGV: token, lock ttl ms, only_if_exists ("1"/"0"), waiting ttl ms, already waiting ("1"/"0").
/// Returns {1, data|nil} when the lock was taken, {0, lock pttl} when someone holds it,
/// {2} when only_if_exists and there is no such session. Finding our own token counts as taken,
/// so a retry after a connection dropped mid-reply does not wait for its own lock.
static ACQUIRE_AND_READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        "if ARGV[3] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then\n",
        stop_waiting_lua!(),
        "  return {2}
         end
         if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
            or redis.call('GET', KEYS[2]) == ARGV[1] then\n",
        stop_waiting_lua!(),
        "  return {1, redis.call('GET', KEYS[1])}
         end\n",
        keep_waiting_lua!(),
        "return {0, redis.call('PTTL', KEYS[2])}"
    ))
});

/// ARGV: token, data, ttl seconds, wake ttl ms. Returns 1, or 0 when the lock is no longer ours
/// (expired, maybe taken by another request): then nothing is written. (Equal bytes in Redis do
/// not make a lost lock a success: two requests that both turned n=0 into n=1 lost an increment.)
static WRITE_AND_RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        "if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
         redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])\n",
        release_lua!(),
        "\nreturn 1"
    ))
});

/// ARGV: token, ttl seconds, wake ttl ms. Like WRITE_AND_RELEASE for an unchanged session
/// (session.lazy_write): only the TTL is renewed.
static TOUCH_AND_RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        "if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
         redis.call('EXPIRE', KEYS[1], ARGV[2])\n",
        release_lua!(),
        "\nreturn 1"
    ))
});

/// ARGV: token, wake ttl ms. Compare-and-delete.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        "if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end\n",
        release_lua!(),
        "\nreturn 1"
    ))
});

/// ARGV: token ('' = this request holds no lock), force ("1" = delete whatever the lock says),
/// unused, waiting ttl ms, already waiting ("1"/"0"), wake ttl ms. Deleting is a write, so it
/// follows the same ownership rule: {1} deleted (and our lock released); {0} our token is gone
/// (lock lost): nothing deleted; {2, pttl} another request holds the lock and we have none:
/// nothing deleted yet, and this request now counts as waiting.
static DESTROY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        "local holder = redis.call('GET', KEYS[2])
         if ARGV[1] ~= '' and holder ~= ARGV[1] then return {0} end
         if ARGV[1] == '' and holder and ARGV[2] ~= '1' then\n",
        keep_waiting_lua!(),
        "  return {2, redis.call('PTTL', KEYS[2])}
         end\n",
        stop_waiting_lua!(),
        "redis.call('DEL', KEYS[1])
         if ARGV[1] == '' then return {1} end\n",
        release_lua!(),
        "\nreturn {1}"
    ))
});

/// A waiter that gives up leaves the count (see stop_waiting_lua).
static STOP_WAITING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('DECR', KEYS[4]) <= 0 then redis.call('DEL', KEYS[4], KEYS[3]) end return 1",
    )
});

/// ARGV: ttl seconds, token ('' = take no lock), lock ttl ms.
/// Creates the session empty if and only if the id is unused; returns 1 when reserved.
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if not redis.call('SET', KEYS[1], '', 'NX', 'EX', ARGV[1]) then return 0 end
         if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
         return 1",
    )
});

/// ARGV: sha1 of the data the writer based its change on, new data, ttl seconds, waiting ttl ms,
/// already waiting ("1"/"0"). Writes only when Redis still holds that base and nobody holds the
/// lock. Returns {1} when written, {0, current data} when someone else wrote first, {2, lock pttl}
/// when a locking request holds the session (an optimistic writer must not slip in under its lock).
static COMPARE_AND_SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        "local holder_pttl = redis.call('PTTL', KEYS[2])
         if holder_pttl ~= -2 then\n",
        keep_waiting_lua!(),
        "  return {2, holder_pttl}
         end\n",
        stop_waiting_lua!(),
        "local current = redis.call('GET', KEYS[1]) or ''
         if redis.sha1hex(current) ~= ARGV[1] then return {0, current} end
         redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
         return {1}"
    ))
});

/// The answer to one lock attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum AcquireOutcome {
    /// The lock is ours; the session's data (None: no such key).
    Acquired(Option<Vec<u8>>),
    /// Someone else holds the lock; it expires in at most this long (None: it has no TTL).
    Held(Option<Duration>),
    /// `only_if_exists` was asked and there is no session with this id.
    Missing,
}

/// The answer to a destroy.
#[derive(Debug, PartialEq, Eq)]
pub enum DestroyOutcome {
    Destroyed,
    /// Our lock expired (maybe someone wrote since): nothing was deleted.
    LockLost,
    /// Another request holds the lock for at most this long: nothing was deleted yet.
    Locked(Option<Duration>),
}

/// The answer to an optimistic compare-and-set.
#[derive(Debug, PartialEq, Eq)]
pub enum CasOutcome {
    Written,
    /// Someone wrote since our base; this is what Redis holds now.
    Changed(Vec<u8>),
    /// A locking request holds the session for at most this long.
    Locked(Option<Duration>),
}

fn ttl_seconds(ttl: Duration) -> u64 {
    ttl.as_secs().max(1)
}

fn pttl_duration(pttl: i64) -> Option<Duration> {
    u64::try_from(pttl).ok().map(Duration::from_millis)
}

fn unexpected<T>(what: &str, value: &Value) -> RedisResult<T> {
    Err(redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "unexpected reply from a rustredis script",
        format!("{what}: {value:?}"),
    )))
}

fn bytes_of(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        _ => None,
    }
}

pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// One request's view of one session in Redis.
pub struct SessionStore<'a> {
    pub keys: &'a SessionKeys,
}

impl SessionStore<'_> {
    /// An invocation of `script` with this session's keys in the order every script expects.
    fn script<'s>(&self, script: &'s Script) -> ScriptInvocation<'s> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(&self.keys.data)
            .key(&self.keys.lock)
            .key(&self.keys.wake)
            .key(&self.keys.waiting);
        invocation
    }

    pub fn acquire_and_read(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
        lock_ttl: Duration,
        only_if_exists: bool,
        already_waiting: bool,
    ) -> RedisResult<AcquireOutcome> {
        let reply: Vec<Value> = self
            .script(&ACQUIRE_AND_READ)
            .arg(token.as_str())
            .arg(lock_ttl.as_millis().max(1) as u64)
            .arg(if only_if_exists { "1" } else { "0" })
            .arg(WAITING_TTL_MS)
            .arg(if already_waiting { "1" } else { "0" })
            .invoke(conn)?;
        match reply.as_slice() {
            [Value::Int(1), data] => Ok(AcquireOutcome::Acquired(bytes_of(data))),
            [Value::Int(1)] => Ok(AcquireOutcome::Acquired(None)),
            [Value::Int(0), Value::Int(pttl)] => Ok(AcquireOutcome::Held(pttl_duration(*pttl))),
            [Value::Int(2)] => Ok(AcquireOutcome::Missing),
            _ => unexpected("acquire", &Value::Array(reply)),
        }
    }

    /// Blocks until a lock holder signals a release or `timeout` passes. Returns whether a signal
    /// arrived (it may be stale; the caller simply tries the lock again).
    pub fn wait_for_release(
        &self,
        conn: &mut dyn ConnectionLike,
        timeout: Duration,
    ) -> RedisResult<bool> {
        // BLPOP's timeout is in seconds with millisecond resolution; 0 would block forever.
        let seconds = (timeout.as_millis().max(1) as f64) / 1000.0;
        let popped: Option<(Vec<u8>, Vec<u8>)> = redis::cmd("BLPOP")
            .arg(&self.keys.wake)
            .arg(format!("{seconds:.3}"))
            .query(conn)?;
        Ok(popped.is_some())
    }

    /// Reads without any lock (read_and_close, optimistic and unlocked requests).
    pub fn read(&self, conn: &mut dyn ConnectionLike) -> RedisResult<Option<Vec<u8>>> {
        redis::cmd("GET").arg(&self.keys.data).query(conn)
    }

    /// Returns false, writing nothing, when the lock is no longer held by `token`.
    pub fn write_and_release(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
        data: &[u8],
        ttl: Duration,
    ) -> RedisResult<bool> {
        let written: i64 = self
            .script(&WRITE_AND_RELEASE)
            .arg(token.as_str())
            .arg(data)
            .arg(ttl_seconds(ttl))
            .arg(WAKE_TTL_MS)
            .invoke(conn)?;
        Ok(written == 1)
    }

    /// Returns false, touching nothing, when the lock is no longer held by `token`.
    pub fn touch_and_release(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
        ttl: Duration,
    ) -> RedisResult<bool> {
        let touched: i64 = self
            .script(&TOUCH_AND_RELEASE)
            .arg(token.as_str())
            .arg(ttl_seconds(ttl))
            .arg(WAKE_TTL_MS)
            .invoke(conn)?;
        Ok(touched == 1)
    }

    /// Returns false when the lock was no longer ours (nothing was deleted).
    pub fn release(&self, conn: &mut dyn ConnectionLike, token: &LockToken) -> RedisResult<bool> {
        let released: i64 = self
            .script(&RELEASE)
            .arg(token.as_str())
            .arg(WAKE_TTL_MS)
            .invoke(conn)?;
        Ok(released == 1)
    }

    /// Deletes the session under the same ownership rule as a write (see DESTROY).
    pub fn destroy(
        &self,
        conn: &mut dyn ConnectionLike,
        token: Option<&LockToken>,
        force: bool,
        already_waiting: bool,
    ) -> RedisResult<DestroyOutcome> {
        let reply: Vec<Value> = self
            .script(&DESTROY)
            .arg(token.map(LockToken::as_str).unwrap_or(""))
            .arg(if force { "1" } else { "0" })
            .arg("")
            .arg(WAITING_TTL_MS)
            .arg(if already_waiting { "1" } else { "0" })
            .arg(WAKE_TTL_MS)
            .invoke(conn)?;
        match reply.as_slice() {
            [Value::Int(1)] => Ok(DestroyOutcome::Destroyed),
            [Value::Int(0)] => Ok(DestroyOutcome::LockLost),
            [Value::Int(2), Value::Int(pttl)] => Ok(DestroyOutcome::Locked(pttl_duration(*pttl))),
            _ => unexpected("destroy", &Value::Array(reply)),
        }
    }

    /// A waiter that gives up stops counting itself, so releases stop signalling for it.
    pub fn stop_waiting(&self, conn: &mut dyn ConnectionLike) -> RedisResult<()> {
        let _: i64 = self.script(&STOP_WAITING).invoke(conn)?;
        Ok(())
    }

    /// Creates the session empty if the id is unused (and takes its lock when `token` is given).
    pub fn reserve(
        &self,
        conn: &mut dyn ConnectionLike,
        ttl: Duration,
        token: Option<&LockToken>,
        lock_ttl: Duration,
    ) -> RedisResult<bool> {
        let reserved: i64 = self
            .script(&RESERVE)
            .arg(ttl_seconds(ttl))
            .arg(token.map(LockToken::as_str).unwrap_or(""))
            .arg(lock_ttl.as_millis().max(1) as u64)
            .invoke(conn)?;
        Ok(reserved == 1)
    }

    /// Plain write without a lock (rustredis.locking=off: last write wins).
    pub fn write_unlocked(
        &self,
        conn: &mut dyn ConnectionLike,
        data: &[u8],
        ttl: Duration,
    ) -> RedisResult<()> {
        redis::cmd("SET")
            .arg(&self.keys.data)
            .arg(data)
            .arg("EX")
            .arg(ttl_seconds(ttl))
            .query(conn)
    }

    pub fn touch_unlocked(&self, conn: &mut dyn ConnectionLike, ttl: Duration) -> RedisResult<()> {
        redis::cmd("EXPIRE")
            .arg(&self.keys.data)
            .arg(ttl_seconds(ttl))
            .query(conn)
    }

    pub fn compare_and_set(
        &self,
        conn: &mut dyn ConnectionLike,
        base: &[u8],
        data: &[u8],
        ttl: Duration,
        already_waiting: bool,
    ) -> RedisResult<CasOutcome> {
        let reply: Vec<Value> = self
            .script(&COMPARE_AND_SET)
            .arg(sha1_hex(base))
            .arg(data)
            .arg(ttl_seconds(ttl))
            .arg(WAITING_TTL_MS)
            .arg(if already_waiting { "1" } else { "0" })
            .invoke(conn)?;
        match reply.as_slice() {
            [Value::Int(1)] => Ok(CasOutcome::Written),
            [Value::Int(0), current] => match bytes_of(current) {
                Some(current) => Ok(CasOutcome::Changed(current)),
                None => unexpected("compare-and-set", current),
            },
            [Value::Int(2), Value::Int(pttl)] => Ok(CasOutcome::Locked(pttl_duration(*pttl))),
            _ => unexpected("compare-and-set", &Value::Array(reply)),
        }
    }
}
