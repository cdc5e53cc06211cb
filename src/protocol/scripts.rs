//! The Lua half of the lock protocol. Every script starts with [`PRELUDE`] (the keys by name and
//! the reply codes), then the named helpers it uses ([`OWNER`], [`RELEASE_HELPER`],
//! [`FREE_LOCK_WAITERS`]): a helper a script does not call is not defined on each of its runs.
//! Each script names its ARGV on its first line, in the order `SessionStore` passes them.

/// Shared by every script. KEYS are always passed in this order (see `SessionStore::script`):
/// the session's six keys, then for a script run with a lock token that token's handoff list
/// (MINE), then what the script names itself. Every script replies `{code, …}` with one of the
/// codes below.
const PRELUDE: &str = r#"
local DATA, LOCK, WAKE, WAITING, QUEUE, QUEUE_INFO = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local MINE = KEYS[7]
local OK, HELD, LOST, MISSING, CHANGED, TAKEN, BUSY = 1, 2, 3, 4, 5, 6, 7
"#;

/// For the scripts that need our lock.
const OWNER: &str = r#"
-- Whether the lock holds this request's token.
local function owns(token)
  return redis.call('GET', LOCK) == token
end

-- The reply of an owner-checked script that found the lock not ours: whether another request's
-- lock is there (1) or no lock at all (0: it expired unclaimed, or Redis lost it).
local function lost()
  return {LOST, redis.call('EXISTS', LOCK)}
end
"#;

/// For the scripts that end our lock.
const RELEASE_HELPER: &str = r#"
-- Ends this request's lock. The queue (QUEUE: tokens by arrival; QUEUE_INFO: each one's
-- `<alive until, Redis ms>|<lease ms>`) gives it to its oldest waiter that is still alive
-- (dead ones are dropped on the way): the lock becomes that waiter's token with the lease it
-- asked for, and MINE, the handoff list of this request on which that waiter blocks (it queued
-- right behind), gets `<its secret>+<data>` (`data`: the session as it is now, nil to read it,
-- false for none; `<its secret>-` for none), so the waiter's BLPOP reply is its acquire. The
-- list lives as long as that lease: while it exists, the lock is that waiter's. With nobody
-- alive in the queue the lock is deleted and, while requests wait for it to be free, one
-- wake-up signal is left (a one-element list that the longest-blocked pops; it outlives the
-- release by wake_ttl_ms).
local function release(wake_ttl_ms, data)
  if redis.call('EXISTS', QUEUE) == 1 then
    local time = redis.call('TIME')
    local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
    while true do
      local waiter = redis.call('ZPOPMIN', QUEUE)[1]
      if not waiter then break end
      local info = redis.call('HGET', QUEUE_INFO, waiter)
      local until_ms, lease_ms = string.match(info or '', '^(%d+)|(%d+)$')
      if until_ms and tonumber(until_ms) > now then
        redis.call('SET', LOCK, waiter, 'PX', lease_ms)
        if data == nil then data = redis.call('GET', DATA) end
        local secret = string.sub(waiter, 1, 32)
        -- One concatenation: the session is copied once.
        redis.call('RPUSH', MINE, data and (secret .. '+' .. data) or (secret .. '-'))
        redis.call('PEXPIRE', MINE, lease_ms)
        redis.call('HDEL', QUEUE_INFO, waiter)
        return
      end
      redis.call('HDEL', QUEUE_INFO, waiter)
    end
  end
  redis.call('DEL', LOCK)
  if redis.call('EXISTS', WAITING) == 1 then
    redis.call('LPUSH', WAKE, '1')
    redis.call('LTRIM', WAKE, 0, 0)
    redis.call('PEXPIRE', WAKE, wake_ttl_ms)
  end
end
"#;

/// For the requests that wait for the lock to be free without taking it (COMPARE_AND_SET,
/// DESTROY_UNOWNED).
const FREE_LOCK_WAITERS: &str = r#"
-- A request that waits for the lock to be free counts itself as waiting, once (waiter = 'new'
-- on its first attempt, 'waiting' after), so releases signal only while someone listens. The
-- count expires waiting_ttl_ms after the last attempt of the last waiter, should that one die.
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
local function held()
  return {HELD, redis.call('PTTL', LOCK), redis.call('GET', LOCK)}
end
"#;

/// `script!([helpers…], body)`: PRELUDE, the helpers, the body.
macro_rules! script {
    ([$($helper:expr),*], $body:expr) => {
        std::sync::LazyLock::new(|| {
            redis::Script::new(&[PRELUDE, $($helper,)* $body].concat())
        })
    };
}
pub(super) type Lua = std::sync::LazyLock<redis::Script>;

/// Takes the lock and reads the data in one step, for a request that found the lock held by
/// the pipelined attempt (`waiter` = 'new': it joins the queue), that waits in the queue
/// ('queued') or whose budget is spent ('leaving': it leaves the queue). The lock is taken when
/// it holds this request's token already (a release handed it over while the request was not
/// blocked on its handoff list, or a retry after a lost reply) or is free. Otherwise a queued
/// request renews its liveness (alive_ms) and learns whom it queues behind: the closest waiter
/// ahead of it still alive (dead ones are dropped), or the holder; it blocks on that one's
/// handoff list (KEYS[8] on its next attempt: whatever is left there is for it, and is
/// dropped). A request that leaves the queue without the lock wakes the one queued right behind
/// it (through MINE), which then queues behind whoever is ahead now. `which` = 'existing' leaves
/// an unknown id alone (validate_sid). A newcomer that finds `max_waiters` requests already
/// waiting (0 = no cap) is turned away.
/// {OK, data|false} | {HELD, pttl, holder, ahead} ('new', 'queued') | {HELD, pttl, holder}
/// ('leaving') | {BUSY, pttl, holder} ('new') | {MISSING}
pub(super) static ACQUIRE: Lua = script!(
    [],
    r#"
local token, lock_ttl_ms, which, waiter, alive_ms, max_waiters =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local BLOCKED_ON = KEYS[8]
if BLOCKED_ON then redis.call('DEL', BLOCKED_ON) end

local function dequeue(member)
  redis.call('ZREM', QUEUE, member)
  redis.call('HDEL', QUEUE_INFO, member)
end

-- Leaves the queue without the lock, waking the waiter queued right behind.
local function leave()
  local rank = redis.call('ZRANK', QUEUE, token)
  if not rank then return end
  if rank < redis.call('ZCARD', QUEUE) - 1 then
    redis.call('RPUSH', MINE, '~')
    redis.call('PEXPIRE', MINE, alive_ms)
  end
  dequeue(token)
end

local current = redis.call('GET', LOCK)
if current == token then
  dequeue(token)
  return {OK, redis.call('GET', DATA)}
end
if which == 'existing' and redis.call('EXISTS', DATA) == 0 then
  leave()
  return {MISSING}
end
if not current then
  -- Free. The one queued right behind (if any) blocks on MINE: the holder's list now.
  redis.call('SET', LOCK, token, 'PX', lock_ttl_ms)
  dequeue(token)
  return {OK, redis.call('GET', DATA)}
end
if waiter == 'leaving' then
  leave()
  return {HELD, redis.call('PTTL', LOCK), current}
end
local queued = redis.call('ZSCORE', QUEUE, token)
if waiter == 'new' and not queued and max_waiters > 0 and redis.call('ZCARD', QUEUE)
    + (tonumber(redis.call('GET', WAITING)) or 0) >= max_waiters then
  return {BUSY, redis.call('PTTL', LOCK), current}
end
if not queued then
  -- At the tail (a waiter dropped as dead that comes back queues again, whatever the cap).
  local last = redis.call('ZRANGE', QUEUE, -1, -1, 'WITHSCORES')
  redis.call('ZADD', QUEUE, (tonumber(last[2]) or 0) + 1, token)
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('HSET', QUEUE_INFO, token, (now + alive_ms) .. '|' .. lock_ttl_ms)
redis.call('PEXPIRE', QUEUE, alive_ms)
redis.call('PEXPIRE', QUEUE_INFO, alive_ms)
local ahead = current
local rank = redis.call('ZRANK', QUEUE, token)
while rank > 0 do
  local before = redis.call('ZRANGE', QUEUE, rank - 1, rank - 1)[1]
  local until_ms = string.match(redis.call('HGET', QUEUE_INFO, before) or '', '^(%d+)|')
  if until_ms and tonumber(until_ms) > now then
    ahead = before
    break
  end
  dequeue(before)
  rank = rank - 1
end
return {HELD, redis.call('PTTL', LOCK), current, ahead}
"#
);

/// Extends the lease of a lock that still holds this request's token; a lock that expired or
/// that another request took is left alone. {OK} | {LOST, lock_exists}
pub(super) static RENEW: Lua = script!(
    [OWNER],
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
    [OWNER, RELEASE_HELPER],
    r#"
local token, data, ttl_s, wake_ttl_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if not owns(token) then return lost() end
redis.call('SET', DATA, data, 'EX', ttl_s)
release(wake_ttl_ms, data)
return {OK}
"#
);

/// WRITE for a large session, without copying it through Lua (unless a waiter is handed it):
/// the data was SET on the staging key (KEYS[8]) in the same pipeline, and is renamed onto the
/// data key while the lock is ours. {OK} | {LOST, lock_exists}
pub(super) static WRITE_STAGED: Lua = script!(
    [OWNER, RELEASE_HELPER],
    r#"
local token, ttl_s, wake_ttl_ms = ARGV[1], ARGV[2], ARGV[3]
local STAGED = KEYS[8]
if not owns(token) then
  redis.call('DEL', STAGED)
  return lost()
end
redis.call('RENAME', STAGED, DATA)
redis.call('EXPIRE', DATA, ttl_s)
release(wake_ttl_ms, nil)
return {OK}
"#
);

/// WRITE for an unchanged session (session.lazy_write): renews the TTL only. {OK} | {LOST, lock_exists}
pub(super) static TOUCH: Lua = script!(
    [OWNER, RELEASE_HELPER],
    r#"
local token, ttl_s, wake_ttl_ms = ARGV[1], ARGV[2], ARGV[3]
if not owns(token) then return lost() end
redis.call('EXPIRE', DATA, ttl_s)
release(wake_ttl_ms, nil)
return {OK}
"#
);

/// Compare-and-delete of the lock (or its handoff). {OK} | {LOST, lock_exists}
pub(super) static RELEASE: Lua = script!(
    [OWNER, RELEASE_HELPER],
    r#"
local token, wake_ttl_ms = ARGV[1], ARGV[2]
if not owns(token) then return lost() end
release(wake_ttl_ms, nil)
return {OK}
"#
);

/// Deletes the session under our lock and releases it: deleting is a write. {OK} | {LOST, lock_exists}
pub(super) static DESTROY_OWNED: Lua = script!(
    [OWNER, RELEASE_HELPER],
    r#"
local token, wake_ttl_ms = ARGV[1], ARGV[2]
if not owns(token) then return lost() end
redis.call('DEL', DATA)
release(wake_ttl_ms, false)
return {OK}
"#
);

/// Deletes a session this request holds no lock on, once no other request holds one (a locking
/// request between its read and its write would otherwise write the session back).
/// {OK} | {HELD, pttl, holder}
pub(super) static DESTROY_UNOWNED: Lua = script!(
    [FREE_LOCK_WAITERS],
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

/// A waiter for a free lock (COMPARE_AND_SET, DESTROY_UNOWNED) that gives up leaves the count.
/// {OK}
pub(super) static STOP_WAITING: Lua = script!(
    [FREE_LOCK_WAITERS],
    r#"
stop_waiting('waiting')
return {OK}
"#
);

/// Creates the session empty if and only if the id is unused, and takes its lock when a token
/// is given ('' = none). {OK} | {TAKEN}
pub(super) static RESERVE: Lua = script!(
    [],
    r#"
local ttl_s, token, lock_ttl_ms = ARGV[1], ARGV[2], ARGV[3]
if not redis.call('SET', DATA, '', 'NX', 'EX', ttl_s) then return {TAKEN} end
if token ~= '' then redis.call('SET', LOCK, token, 'PX', lock_ttl_ms) end
return {OK}
"#
);

/// Optimistic write: only when Redis still holds the data the writer based its change on (by
/// SHA-1) and no locking request is between its read and its write.
/// {OK} | {CHANGED, current data} | {HELD, pttl, holder}
pub(super) static COMPARE_AND_SET: Lua = script!(
    [FREE_LOCK_WAITERS],
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
