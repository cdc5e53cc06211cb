//! The Lua half of the lock protocol. Every script starts with [`PRELUDE`]: the keys by name,
//! the reply codes, and the named helpers the scripts share. Each script names its ARGV on its
//! first line, in the order `SessionStore` passes them.

/// Shared by every script. KEYS are always passed in this order (see `SessionStore::script`).
/// Every script replies `{code, …}` with one of the codes below.
const PRELUDE: &str = r#"
local DATA, LOCK, WAKE, WAITING = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local OK, HELD, LOST, MISSING, CHANGED, TAKEN, BUSY = 1, 2, 3, 4, 5, 6, 7

-- Whether the lock holds this request's token.
local function owns(token)
  return redis.call('GET', LOCK) == token
end

-- The reply of an owner-checked script that found the lock not ours: whether another request's
-- lock is there (1) or no lock at all (0: it expired unclaimed, or Redis lost it).
local function lost()
  return {LOST, redis.call('EXISTS', LOCK)}
end

-- Ends this request's lock and, while anyone waits, leaves one wake-up signal (a one-element
-- list that the longest-blocked waiter pops). The signal outlives the release by wake_ttl_ms.
local function release(wake_ttl_ms)
  redis.call('DEL', LOCK)
  if redis.call('EXISTS', WAITING) == 1 then
    redis.call('LPUSH', WAKE, '1')
    redis.call('LTRIM', WAKE, 0, 0)
    redis.call('PEXPIRE', WAKE, wake_ttl_ms)
  end
end

-- A request that found the lock held counts itself as waiting, once (waiter = 'new' on its
-- first attempt, 'waiting' after), so releases signal only while someone listens. The count
-- expires waiting_ttl_ms after the last attempt of the last waiter, should that one die.
local function keep_waiting(waiter, waiting_ttl_ms)
  if waiter ~= 'waiting' then redis.call('INCR', WAITING) end
  redis.call('PEXPIRE', WAITING, waiting_ttl_ms)
end

-- A waiter that got what it waited for (or gave up) leaves the count; the last one to leave
-- also drops a signal nobody consumed.
local function stop_waiting(waiter)
  if waiter == 'waiting' and redis.call('DECR', WAITING) <= 0 then
    redis.call('DEL', WAITING, WAKE)
  end
end

-- The reply of an attempt that found another request's lock: how long it may still be held,
-- and the lock's value, which names its holder.
local function held(code)
  return {code or HELD, redis.call('PTTL', LOCK), redis.call('GET', LOCK)}
end
"#;

macro_rules! script {
    ($body:expr) => {
        std::sync::LazyLock::new(|| redis::Script::new(&format!("{}{}", PRELUDE, $body)))
    };
}
pub(super) type Lua = std::sync::LazyLock<redis::Script>;

/// Takes the lock and reads the data in one step. A retry after a reply was lost finds its own
/// token and counts as taken. `which` = 'existing' leaves an unknown id alone (validate_sid). A
/// newcomer that finds `max_waiters` requests already waiting (0 = no cap) is turned away.
/// {OK, data|false} | {HELD, pttl, holder} | {BUSY, pttl, holder} | {MISSING}
pub(super) static ACQUIRE: Lua = script!(
    r#"
local token, lock_ttl_ms, which, waiter, waiting_ttl_ms, max_waiters =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
if which == 'existing' and redis.call('EXISTS', DATA) == 0 then
  stop_waiting(waiter)
  return {MISSING}
end
if redis.call('SET', LOCK, token, 'NX', 'PX', lock_ttl_ms) or owns(token) then
  stop_waiting(waiter)
  return {OK, redis.call('GET', DATA)}
end
if waiter ~= 'waiting' and max_waiters > 0
    and (tonumber(redis.call('GET', WAITING)) or 0) >= max_waiters then
  return held(BUSY)
end
keep_waiting(waiter, waiting_ttl_ms)
return held()
"#
);

/// Extends the lease of a lock that still holds this request's token; a lock that expired or
/// that another request took is left alone. {OK} | {LOST, lock_exists}
pub(super) static RENEW: Lua = script!(
    r#"
local token, lease_ms = ARGV[1], ARGV[2]
if not owns(token) then return lost() end
redis.call('PEXPIRE', LOCK, lease_ms)
return {OK}
"#
);

/// Saves and releases, only while the lock is still ours (equal bytes in Redis do not make a
/// lost lock a success: two requests that both turned n=0 into n=1 lost an increment).
/// {OK} | {LOST, lock_exists}
pub(super) static WRITE: Lua = script!(
    r#"
local token, data, ttl_s, wake_ttl_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if not owns(token) then return lost() end
redis.call('SET', DATA, data, 'EX', ttl_s)
release(wake_ttl_ms)
return {OK}
"#
);

/// WRITE for a large session, without copying it through Lua: the data was SET on the staging
/// key (KEYS[5]) in the same pipeline, and is renamed onto the data key while the lock is ours.
/// {OK} | {LOST, lock_exists}
pub(super) static WRITE_STAGED: Lua = script!(
    r#"
local token, ttl_s, wake_ttl_ms = ARGV[1], ARGV[2], ARGV[3]
local STAGED = KEYS[5]
if not owns(token) then
  redis.call('DEL', STAGED)
  return lost()
end
redis.call('RENAME', STAGED, DATA)
redis.call('EXPIRE', DATA, ttl_s)
release(wake_ttl_ms)
return {OK}
"#
);

/// WRITE for an unchanged session (session.lazy_write): renews the TTL only. {OK} | {LOST, lock_exists}
pub(super) static TOUCH: Lua = script!(
    r#"
local token, ttl_s, wake_ttl_ms = ARGV[1], ARGV[2], ARGV[3]
if not owns(token) then return lost() end
redis.call('EXPIRE', DATA, ttl_s)
release(wake_ttl_ms)
return {OK}
"#
);

/// Compare-and-delete of the lock. {OK} | {LOST, lock_exists}
pub(super) static RELEASE: Lua = script!(
    r#"
local token, wake_ttl_ms = ARGV[1], ARGV[2]
if not owns(token) then return lost() end
release(wake_ttl_ms)
return {OK}
"#
);

/// Deletes the session under our lock and releases it: deleting is a write. {OK} | {LOST, lock_exists}
pub(super) static DESTROY_OWNED: Lua = script!(
    r#"
local token, wake_ttl_ms = ARGV[1], ARGV[2]
if not owns(token) then return lost() end
redis.call('DEL', DATA)
release(wake_ttl_ms)
return {OK}
"#
);

/// Deletes a session this request holds no lock on, once no other request holds one (a locking
/// request between its read and its write would otherwise write the session back).
/// {OK} | {HELD, pttl}
pub(super) static DESTROY_UNOWNED: Lua = script!(
    r#"
local waiter, waiting_ttl_ms = ARGV[1], ARGV[2]
if redis.call('EXISTS', LOCK) == 1 then
  keep_waiting(waiter, waiting_ttl_ms)
  return held()
end
stop_waiting(waiter)
redis.call('DEL', DATA)
return {OK}
"#
);

/// A waiter that gives up leaves the count. {OK}
pub(super) static STOP_WAITING: Lua = script!(
    r#"
stop_waiting('waiting')
return {OK}
"#
);

/// Creates the session empty if and only if the id is unused, and takes its lock when a token
/// is given ('' = none). {OK} | {TAKEN}
pub(super) static RESERVE: Lua = script!(
    r#"
local ttl_s, token, lock_ttl_ms = ARGV[1], ARGV[2], ARGV[3]
if not redis.call('SET', DATA, '', 'NX', 'EX', ttl_s) then return {TAKEN} end
if token ~= '' then redis.call('SET', LOCK, token, 'PX', lock_ttl_ms) end
return {OK}
"#
);

/// Optimistic write: only when Redis still holds the data the writer based its change on (by
/// SHA-1) and no locking request is between its read and its write.
/// {OK} | {CHANGED, current data} | {HELD, pttl}
pub(super) static COMPARE_AND_SET: Lua = script!(
    r#"
local base_sha1, data, ttl_s, waiter, waiting_ttl_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', LOCK) == 1 then
  keep_waiting(waiter, waiting_ttl_ms)
  return held()
end
stop_waiting(waiter)
local current = redis.call('GET', DATA) or ''
if redis.sha1hex(current) ~= base_sha1 then return {CHANGED, current} end
redis.call('SET', DATA, data, 'EX', ttl_s)
return {OK}
"#
);
