//! The lock protocol, both halves: what Redis runs ([`scripts`]) and how a request takes, waits
//! for, uses and gives back a session's lock ([`SessionStore`], [`wait_for_lock`],
//! [`wait_while_held`]).
//!
//! # Keys (one session; see `keys.rs`)
//! | key | holds | lives |
//! |---|---|---|
//! | `<prefix><id>` | the session data, as phpredis stores it | `session.gc_maxlifetime` |
//! | `<prefix><id>_LOCK` | the holder's token: a secret new per acquisition, and who holds it (`holder.rs`) | a lease of `rustredis.lock_ttl_ms`, renewed by the holder (`crate::lease`) |
//! | `<prefix><id>_LOCK_QUEUE` | the requests waiting to take the lock: a sorted set of their tokens, by arrival | 2 s after the last waiter's last attempt |
//! | `<prefix><id>_LOCK_QUEUE_INFO` | for each of them: until when it counts as alive (Redis time) and the lease it asks for | the same |
//! | `<prefix><id>_LOCK_HANDOFF_<secret>` | a one-element list through which the holder with that secret hands the lock to the waiter queued right behind it, with the data; or a waiter leaving the queue wakes the one behind it | the handed lock's lease (2 s) |
//! | `<prefix><id>_LOCK_WAITING` | how many requests wait for the lock to be free without taking it (an optimistic write, a destroy without our lock) | 2 s after the last attempt |
//! | `<prefix><id>_LOCK_WAKE` | a one-element list a release pushes to while those wait | 5 s |
//!
//! # A locked request (2 round trips)
//! 1. **Acquire**: `SET lock token NX PX ttl` and the data's `GET`, pipelined (no Lua; run by
//!    validate_sid or create_sid, whose read hands it over, or by read).
//! 2. While the request runs, its process's renewal thread extends the lease with **RENEW**
//!    (owner-checked: a lock that is no longer this token is left alone).
//! 3. Held by another request: at once **ACQUIRE** queues the request (or, when
//!    `rustredis.max_waiters` requests already wait, turns it away: `BUSY`) and says whom it
//!    queues behind: the closest live waiter ahead of it, or the holder. The request blocks with
//!    `BLPOP` on that one's handoff list. A release hands the lock to the oldest live waiter: the
//!    lock becomes its token with its lease, and the data comes as the reply of its `BLPOP`, so
//!    the waiter holds the lock with no further round trip (and no newcomer can slip in between:
//!    the lock is never free). A wait that brings nothing (a timeout, a waiter ahead that left)
//!    is followed by ACQUIRE again, which keeps the request's place, renews its liveness, takes
//!    the lock if it was handed over meanwhile or is free, and says whom to block on now. Out
//!    of budget, ACQUIRE leaves the queue, waking the one queued behind, unless it finds the lock
//!    handed to it just then (or free): then it takes it instead of stranding it.
//! 4. **WRITE** or **TOUCH** (lazy_write, data unchanged) saves and releases in one script, only
//!    while the lock still holds this request's token: a request that outlived its lock writes
//!    nothing (`LOST`). **DESTROY_OWNED** deletes under the same rule; **RELEASE** (close, on
//!    every other path) gives the lock back. Each of them hands the lock over as in 3.
//! 5. A waiter that died stops renewing its liveness: a release passes over it after 2 s. One
//!    that dies after it was handed the lock renews nothing, so that lock frees within its
//!    lease, like any holder's. Uncontended requests leave no queue, list or count behind.
//!
//! # Requests without a lock
//! read_and_close and optimistic reads are a plain `GET`. An optimistic write is
//! **COMPARE_AND_SET** (write only if the data still hashes like what was read, and no locking
//! request holds the session: then it waits for the lock to be free, counted in `_WAITING` and
//! woken through `_WAKE` by a release that frees the lock). A destroy without our lock is
//! **DESTROY_UNOWNED** (waits for a holder the same way). **RESERVE** creates a new id empty with
//! `SET NX` (and its lock) so no two requests can ever get one id.
//!
//! # Replicas (`rustredis.replicas`)
//! With [`Replicas`], every script that takes a lock or writes has `WAIT count timeout` pipelined
//! behind it (one round trip still). A write of session data (WRITE, WRITE_STAGED,
//! COMPARE_AND_SET, DESTROY_OWNED) that fewer replicas acknowledged fails ([`too_few_replicas`]):
//! the master has it, but a failover may lose it. A lock is waited for but not checked: a lock a
//! failover lost makes its holder's write report a lost lock, never clobber.
//!
//! # Replies
//! Every script replies `{code, …}`: `OK` (done; ACQUIRE adds the data), `HELD` + the lock's
//! remaining ms and value (another request holds it; ACQUIRE adds whom a queued request queues
//! behind; `BUSY` likewise, when too many wait), `LOST` + whether another request's lock is
//! there (our token is gone), `MISSING` (no such session), `CHANGED` + the current data
//! (compare-and-set lost), `TAKEN` (reserve found the id in use). A handoff list holds
//! `<secret>+<data>` or `<secret>-` (the lock handed to the request with that secret, with the
//! session or none) or `~` (the waiter ahead left). Every retry is idempotent: acquire finds its
//! own token or its own place in the queue, release and destroy find nothing left to do, a
//! write or compare-and-set reports a lost lock or a conflict it need not have — loud, never
//! silent.

mod holder;
pub mod reply;
mod scripts;

pub use holder::{Holder, HolderContext, HolderDetails, LockToken};

use std::time::{Duration, Instant};

use redis::{ConnectionLike, RedisError, RedisResult, ScriptInvocation, Value};

pub use reply::{is_protocol_error, shape};

use crate::error::SessionResult;
use crate::keys::{KeyLayout, SessionKeys};
use scripts::Lua;

/// Sessions at least this large are written through a staging key (see `write_staged`): copying
/// them into a Lua string costs more than the extra command.
pub const STAGED_WRITE_BYTES: usize = 32 * 1024;
/// A staging key left behind (the writer died between its two commands) expires after this.
const STAGING_TTL_MS: u64 = 60_000;

/// How long the wake-up list outlives a release, so a waiter that goes to sleep just after a
/// release still finds the signal.
const WAKE_TTL_MS: u64 = 5_000;
/// How long the waiter count lives after the last waiter's last attempt: longer than the longest
/// wait between two attempts, so a release during any wait is signalled.
const WAITING_TTL_MS: u64 = 2_000;
/// How long a request queued for the lock counts as alive after its last attempt: far longer
/// than the longest wait between two attempts (MAX_BACKOFF), so only a waiter that died, or
/// whose process hung that long, is passed over by a release.
const WAITER_ALIVE: Duration = Duration::from_millis(WAITING_TTL_MS);

/// Whether a request waiting for the lock to be free (COMPARE_AND_SET, DESTROY_UNOWNED) already
/// counts itself among the waiters (the scripts' `waiter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiter {
    /// First attempt: not counted yet.
    New,
    /// A previous attempt found the lock held and joined the count.
    Waiting,
}

impl Waiter {
    fn arg(self) -> &'static str {
        match self {
            Waiter::New => "new",
            Waiter::Waiting => "waiting",
        }
    }
}

/// Where a request that wants the lock stands in the session's queue of waiters (ACQUIRE's
/// `waiter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockWaiter {
    /// Not queued: an attempt that finds the lock held queues it (or turns it away, BUSY).
    New,
    /// Queued, and blocked on the handoff list `blocked_on` since its last attempt.
    Queued { blocked_on: Vec<u8> },
    /// Queued, blocked on `blocked_on`, and out of budget: the attempt takes the lock if it was
    /// handed over meanwhile or is free, and leaves the queue otherwise.
    Leaving { blocked_on: Vec<u8> },
}

impl LockWaiter {
    fn arg(&self) -> &'static str {
        match self {
            LockWaiter::New => "new",
            LockWaiter::Queued { .. } => "queued",
            LockWaiter::Leaving { .. } => "leaving",
        }
    }
}

/// What a wait on a handoff list brought.
#[derive(Debug, PartialEq, Eq)]
pub enum Handoff {
    /// A release handed the lock over: it holds this request's token now, with the request's
    /// lease. The session's data (None: no such key).
    Handed(Option<Vec<u8>>),
    /// Woken without the lock (the waiter ahead left the queue, or a handoff meant for another
    /// request): the next attempt finds where things stand.
    Woken,
    TimedOut,
}

/// Which sessions ACQUIRE may lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Any id (read): an unknown id is locked as an empty session.
    Any,
    /// Only an id that exists (validate_sid must not lock ids it is about to refuse).
    Existing,
}

/// Another request's lock, as an attempt found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBy {
    /// How long it may still be held (None: it has no TTL).
    pub expires_in: Option<Duration>,
    pub holder: Holder,
    /// Whether the attempt counted this request among the waiters (the scripts do; the
    /// pipelined first attempt does not, nor an attempt that left the queue).
    pub joined: bool,
    /// For a request queued for the lock: whom it queues behind (the token of the closest live
    /// waiter ahead of it, or the lock's value), whose handoff list it blocks on.
    pub behind: Option<Vec<u8>>,
}

/// The answer to an attempt that may find the lock held by another request.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt<T> {
    Done(T),
    Held(HeldBy),
}

/// What ACQUIRE found, once it got past any holder.
#[derive(Debug, PartialEq, Eq)]
pub enum Acquired {
    /// The lock is ours; the session's data (None: no such key).
    Locked(Option<Vec<u8>>),
    /// [`Which::Existing`] was asked and there is no session with this id.
    Missing,
    /// `max_waiters` requests already wait for this lock: this one was turned away without
    /// joining them.
    TooManyWaiters(HeldBy),
}

/// Whether a script that needs our lock found it still ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owned {
    Yes,
    /// Our token is gone and another request's lock is there now: nothing was changed.
    Lost,
    /// Our token is gone and there is no lock at all (it expired and nobody took it, or Redis
    /// lost it: a restart, a failover): nothing was changed.
    Vanished,
}

/// The answer to an optimistic compare-and-set that got past any holder.
#[derive(Debug, PartialEq, Eq)]
pub enum Cas {
    Written,
    /// Someone wrote since our base; this is what Redis holds now.
    Changed(Vec<u8>),
}

/// `BLPOP key timeout`. Its timeout is in seconds with millisecond resolution; 0 would block
/// forever.
fn blpop(key: &[u8], timeout: Duration) -> redis::Cmd {
    let seconds = (millis(timeout) as f64) / 1000.0;
    let mut cmd = redis::cmd("BLPOP");
    cmd.arg(key).arg(format!("{seconds:.3}"));
    cmd
}

fn ttl_seconds(ttl: Duration) -> u64 {
    ttl.as_secs().max(1)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// `rustredis.replicas`: how many replicas must have a write before it counts as done, and how
/// long to wait for them (`WAIT count timeout`, pipelined behind the script: no extra round trip).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replicas {
    pub count: u32,
    pub timeout: Duration,
}

/// What a script's `WAIT` (with [`Replicas`]) means for its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// A write of session data: fewer replicas than asked for fail it ([`too_few_replicas`]).
    Required,
    /// A lock (acquire, reserve) or its release: waited for so a failover keeps it, but not
    /// checked. A lock a failover lost makes its holder's write report a lost lock, never clobber.
    Best,
}

/// The error of a write that fewer than `rustredis.replicas` replicas acknowledged in time: it
/// reached the master, but a failover now may lose it.
fn too_few_replicas(acked: i64, replicas: Replicas) -> RedisError {
    RedisError::from((
        redis::ErrorKind::Extension,
        "too few replicas acknowledged the write",
        format!(
            "{acked} of {} within {} ms (rustredis.replicas, rustredis.replicas_timeout_ms); the \
             master has it, a failover may lose it",
            replicas.count,
            replicas.timeout.as_millis()
        ),
    ))
}

/// Sends the `count` packed commands of `packed` in one round trip and returns their replies,
/// the first error reply as the error. Unlike `Pipeline::query` this runs on a cluster connection
/// too, which sends a pipeline whole to the master of its first command's key: the first command
/// must name a key of the session (every command here is of one session, so of one slot).
fn query_all(
    conn: &mut dyn ConnectionLike,
    packed: &[u8],
    count: usize,
) -> RedisResult<Vec<Value>> {
    let replies = conn.req_packed_commands(packed, 0, count)?;
    if let Some(Value::ServerError(err)) =
        replies.iter().find(|r| matches!(r, Value::ServerError(_)))
    {
        return Err(err.clone().into());
    }
    Ok(replies)
}

/// The most a thread keeps of the buffer a staged write is packed into, so that writes of large
/// sessions reuse memory already mapped: a new buffer per write costs a page fault per 4 KiB,
/// more than the copy into it.
const MAX_KEPT_WRITE_BUFFER: usize = 512 * 1024;

thread_local! {
    static WRITE_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `send` on `SET key data PX STAGING_TTL_MS` packed (the data copied once, into the
/// thread's reused buffer), followed by the packed commands `rest`.
fn with_staged_set<T>(key: &[u8], data: &[u8], rest: &[u8], send: impl FnOnce(&[u8]) -> T) -> T {
    fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
    WRITE_BUFFER.with(|buffer| {
        let mut fresh = Vec::new();
        // A write that runs while another holds the buffer (it cannot, but no panic for it).
        let mut kept = buffer.try_borrow_mut();
        let out = kept.as_deref_mut().unwrap_or(&mut fresh);
        out.clear();
        out.reserve(data.len() + key.len() + rest.len() + 64);
        out.extend_from_slice(b"*5\r\n");
        bulk(out, b"SET");
        bulk(out, key);
        bulk(out, data);
        bulk(out, b"PX");
        bulk(out, STAGING_TTL_MS.to_string().as_bytes());
        out.extend_from_slice(rest);
        let result = send(out);
        if out.capacity() > MAX_KEPT_WRITE_BUFFER {
            *out = Vec::new();
        } else {
            out.clear();
        }
        result
    })
}

/// One session in Redis: its keys, and one method per script or command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStore {
    keys: SessionKeys,
    replicas: Option<Replicas>,
    waiter_alive: Duration,
}

impl SessionStore {
    pub fn new(keys: SessionKeys) -> SessionStore {
        SessionStore {
            keys,
            replicas: None,
            waiter_alive: WAITER_ALIVE,
        }
    }

    /// Writes wait for `replicas` (`rustredis.replicas`; None: they do not wait).
    pub fn with_replicas(mut self, replicas: Option<Replicas>) -> SessionStore {
        self.replicas = replicas;
        self
    }

    /// Runs `invocation`, after `SET staged.0 staged.1` when a large write is staged, and with
    /// `WAIT` behind it when writes wait for replicas, all in one round trip. A script Redis does
    /// not know yet is loaded and the whole pipeline run again (a staged write just stages again).
    fn run_script(
        &self,
        conn: &mut dyn ConnectionLike,
        staged: Option<(&[u8], &[u8])>,
        invocation: &ScriptInvocation,
        wait: Wait,
    ) -> RedisResult<Value> {
        if staged.is_none() && self.replicas.is_none() {
            return invocation.invoke(conn);
        }
        // The first command names a key of the session (see query_all): the staging SET, or
        // the script.
        let mut pipe = redis::pipe();
        pipe.invoke_script(invocation);
        let mut count = 1 + usize::from(staged.is_some());
        if let Some(replicas) = self.replicas {
            pipe.cmd("WAIT")
                .arg(replicas.count)
                .arg(millis(replicas.timeout));
            count += 1;
        }
        let rest = pipe.get_packed_pipeline();
        let mut run = |packed: &[u8]| match query_all(conn, packed, count) {
            Err(err)
                if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                invocation.load(conn)?;
                query_all(conn, packed, count)
            }
            other => other,
        };
        let replies = match staged {
            Some((key, data)) => with_staged_set(key, data, &rest, run)?,
            None => run(&rest)?,
        };
        // query_all gave exactly `count` replies: [SET's], the script's, [WAIT's].
        let mut replies = replies.into_iter().skip(usize::from(staged.is_some()));
        let reply = replies.next().unwrap_or(Value::Nil);
        if let Some(replicas) = self.replicas {
            let acked = reply::wait(replies.next().unwrap_or(Value::Nil))?;
            if wait == Wait::Required && acked < i64::from(replicas.count) {
                return Err(too_few_replicas(acked, replicas));
            }
        }
        Ok(reply)
    }

    /// How long a request this store queues for the lock counts as alive after each attempt
    /// (2 s; tests make waiters that die sooner).
    pub fn with_waiter_alive(self, waiter_alive: Duration) -> SessionStore {
        SessionStore {
            waiter_alive,
            ..self
        }
    }

    /// An invocation of `script` with this session's keys in the order the prelude names them.
    fn script<'s>(&self, script: &'s Lua) -> ScriptInvocation<'s> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(&self.keys.data)
            .key(&self.keys.lock)
            .key(&self.keys.wake)
            .key(&self.keys.waiting)
            .key(&self.keys.queue)
            .key(&self.keys.queue_info);
        invocation
    }

    /// [`Self::script`] for a script run with `token`: its handoff list (the prelude's MINE)
    /// follows the session's keys.
    fn script_with<'s>(&self, script: &'s Lua, token: &LockToken) -> ScriptInvocation<'s> {
        let mut invocation = self.script(script);
        invocation.key(self.keys.handoff(token.secret()));
        invocation
    }

    /// The handoff list a request with `token`, queued behind `ahead` (a waiter's token or the
    /// lock's value), blocks on: that one's. A lock value that is not ours (phpredis) hands
    /// nothing over; the request then blocks on its own list, where nothing comes for it.
    pub fn handoff_key(&self, token: &LockToken, ahead: Option<&[u8]>) -> Vec<u8> {
        let secret = ahead.and_then(holder::token_secret);
        self.keys.handoff(secret.unwrap_or(token.secret()))
    }

    /// ACQUIRE for a request that found the lock held by the pipelined attempt (`waiter` = New:
    /// it joins the queue), that is queued, or that leaves the queue. A lock handed over for an
    /// id that no longer exists (a destroy released it) is released again when `which` is
    /// [`Which::Existing`].
    pub fn acquire(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
        lock_ttl: Duration,
        which: Which,
        waiter: &LockWaiter,
        max_waiters: u32,
    ) -> RedisResult<Attempt<Acquired>> {
        let mut invocation = self.script_with(&scripts::ACQUIRE, token);
        if let LockWaiter::Queued { blocked_on } | LockWaiter::Leaving { blocked_on } = waiter {
            invocation.key(blocked_on);
        }
        invocation
            .arg(token.as_str()) // token
            .arg(millis(lock_ttl)) // lock_ttl_ms
            .arg(match which {
                Which::Any => "any",
                Which::Existing => "existing",
            }) // which
            .arg(waiter.arg()) // waiter
            .arg(millis(self.waiter_alive)) // alive_ms
            .arg(max_waiters); // max_waiters
        let reply = self.run_script(conn, None, &invocation, Wait::Best)?;
        match reply::acquire(waiter, reply)? {
            Attempt::Done(Acquired::Locked(data)) => {
                Ok(Attempt::Done(self.locked(conn, token, which, data)?))
            }
            other => Ok(other),
        }
    }

    /// The lock is ours with `data`: with [`Which::Existing`] and no such session, it is given
    /// back at once (a second round trip, for unknown ids only).
    fn locked(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
        which: Which,
        data: Option<Vec<u8>>,
    ) -> RedisResult<Acquired> {
        match (data, which) {
            (None, Which::Existing) => {
                self.release(conn, token)?;
                Ok(Acquired::Missing)
            }
            (data, _) => Ok(Acquired::Locked(data)),
        }
    }

    /// The first attempt to acquire: [`Self::acquire_pipelined`], or in a Redis Cluster the
    /// ACQUIRE script. A cluster follows `ASK` (a slot being migrated) for one command, not for a
    /// pipeline of several: the pipeline's `GET` could read the new node's copy before the data
    /// got there. A script's keys are checked together (`TRYAGAIN` while they are split).
    pub fn acquire_first(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
        lock_ttl: Duration,
        which: Which,
        max_waiters: u32,
    ) -> RedisResult<Attempt<Acquired>> {
        if self.keys.layout == KeyLayout::Cluster {
            self.acquire(conn, token, lock_ttl, which, &LockWaiter::New, max_waiters)
        } else {
            self.acquire_pipelined(conn, token, lock_ttl, which)
        }
    }

    /// The uncontended acquire without Lua: `SET lock NX PX` and the data's `GET` pipelined in one
    /// round trip (plus the lock's PTTL and value, for the case it is held). A lock found held
    /// does not count this request as waiting: the next attempt, by [`Self::acquire`], does. With
    /// [`Which::Existing`] and no such session, the lock just taken is given back (a second round
    /// trip, for unknown ids only).
    pub fn acquire_pipelined(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
        lock_ttl: Duration,
        which: Which,
    ) -> RedisResult<Attempt<Acquired>> {
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&self.keys.lock)
            .arg(token.as_str())
            .arg("NX")
            .arg("PX")
            .arg(millis(lock_ttl))
            .cmd("GET")
            .arg(&self.keys.data)
            .cmd("PTTL")
            .arg(&self.keys.lock)
            .cmd("GET")
            .arg(&self.keys.lock);
        if let Some(replicas) = self.replicas {
            // The lock taken reaches the replicas before the request goes on (Wait::Best).
            pipe.cmd("WAIT")
                .arg(replicas.count)
                .arg(millis(replicas.timeout))
                .ignore();
        }
        let replies: Vec<Value> = pipe.query(conn)?;
        match reply::acquire_pipelined(replies)? {
            Ok(data) => Ok(Attempt::Done(self.locked(conn, token, which, data)?)),
            Err(held) => Ok(Attempt::Held(held)),
        }
    }

    /// Blocks until a lock holder signals a release or `timeout` passes. Returns whether a signal
    /// arrived (it may be stale; the caller simply tries again).
    pub fn wait_for_release(
        &self,
        conn: &mut dyn ConnectionLike,
        timeout: Duration,
    ) -> RedisResult<bool> {
        let reply: Value = blpop(&self.keys.wake, timeout).query(conn)?;
        reply::blpop(self.keys.wake.as_ref(), reply)
    }

    /// Blocks on the handoff list `blocked_on` (see [`Self::handoff_key`]) until a release hands
    /// the lock to this request, the waiter ahead leaves, or `timeout` passes.
    pub fn wait_for_handoff(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
        blocked_on: &[u8],
        timeout: Duration,
    ) -> RedisResult<Handoff> {
        let reply: Value = blpop(blocked_on, timeout).query(conn)?;
        reply::handoff(blocked_on, token.secret(), reply)
    }

    /// A waiter that gives up stops counting itself, so releases stop signalling for it.
    pub fn stop_waiting(&self, conn: &mut dyn ConnectionLike) -> RedisResult<()> {
        reply::stop_waiting(self.script(&scripts::STOP_WAITING).invoke(conn)?)
    }

    /// Reads without any lock (read_and_close, optimistic and unlocked requests).
    pub fn read(&self, conn: &mut dyn ConnectionLike) -> RedisResult<Option<Vec<u8>>> {
        reply::get(redis::cmd("GET").arg(&self.keys.data).query(conn)?)
    }

    pub fn write(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
        data: &[u8],
        ttl: Duration,
    ) -> RedisResult<Owned> {
        // Not in a cluster: the staging SET and the script are two commands (see acquire_first).
        if data.len() >= STAGED_WRITE_BYTES && self.keys.layout != KeyLayout::Cluster {
            return self.write_staged(conn, token, data, ttl);
        }
        let reply = self.run_script(
            conn,
            None,
            self.script_with(&scripts::WRITE, token)
                .arg(token.as_str()) // token
                .arg(data) // data
                .arg(ttl_seconds(ttl)) // ttl_s
                .arg(WAKE_TTL_MS), // wake_ttl_ms
            Wait::Required,
        )?;
        reply::owned("the write script", reply)
    }

    /// A large write in one round trip without a copy through Lua: `SET` of the staging key, then
    /// WRITE_STAGED, pipelined. A retry (or a first run where Redis did not know the script)
    /// stages again: the rename only happens under our lock.
    fn write_staged(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
        data: &[u8],
        ttl: Duration,
    ) -> RedisResult<Owned> {
        let staging = self.keys.staging(token.secret());
        let mut invocation = self.script_with(&scripts::WRITE_STAGED, token);
        invocation
            .key(&staging)
            .arg(token.as_str()) // token
            .arg(ttl_seconds(ttl)) // ttl_s
            .arg(WAKE_TTL_MS); // wake_ttl_ms
        let reply = self.run_script(conn, Some((&staging, data)), &invocation, Wait::Required)?;
        reply::owned("the staged write script", reply)
    }

    pub fn touch(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
        ttl: Duration,
    ) -> RedisResult<Owned> {
        let reply = self.run_script(
            conn,
            None,
            self.script_with(&scripts::TOUCH, token)
                .arg(token.as_str()) // token
                .arg(ttl_seconds(ttl)) // ttl_s
                .arg(WAKE_TTL_MS), // wake_ttl_ms
            Wait::Best,
        )?;
        reply::owned("the touch script", reply)
    }

    /// Extends our lock's lease (the renewal thread's one command).
    pub fn renew(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
        lease: Duration,
    ) -> RedisResult<Owned> {
        let reply: Value = self
            .script(&scripts::RENEW)
            .arg(token.as_str()) // token
            .arg(millis(lease)) // lease_ms
            .invoke(conn)?;
        reply::owned("the renew script", reply)
    }

    pub fn release(&self, conn: &mut dyn ConnectionLike, token: &LockToken) -> RedisResult<Owned> {
        let reply: Value = self
            .script_with(&scripts::RELEASE, token)
            .arg(token.as_str()) // token
            .arg(WAKE_TTL_MS) // wake_ttl_ms
            .invoke(conn)?;
        reply::owned("the release script", reply)
    }

    pub fn destroy_owned(
        &self,
        conn: &mut dyn ConnectionLike,
        token: &LockToken,
    ) -> RedisResult<Owned> {
        let reply = self.run_script(
            conn,
            None,
            self.script_with(&scripts::DESTROY_OWNED, token)
                .arg(token.as_str()) // token
                .arg(WAKE_TTL_MS), // wake_ttl_ms
            Wait::Required,
        )?;
        reply::owned("the destroy script", reply)
    }

    pub fn destroy_unowned(
        &self,
        conn: &mut dyn ConnectionLike,
        waiter: Waiter,
    ) -> RedisResult<Attempt<()>> {
        let reply: Value = self
            .script(&scripts::DESTROY_UNOWNED)
            .arg(waiter.arg()) // waiter
            .arg(WAITING_TTL_MS) // waiting_ttl_ms
            .invoke(conn)?;
        reply::destroy_unowned(reply)
    }

    /// rustredis.locking=off: delete whatever the lock says (last write wins).
    pub fn destroy_unlocked(&self, conn: &mut dyn ConnectionLike) -> RedisResult<()> {
        reply::del(redis::cmd("DEL").arg(&self.keys.data).query(conn)?)
    }

    /// Creates the session empty if the id is unused (and takes its lock when `token` is given).
    /// Returns false when the id is taken.
    pub fn reserve(
        &self,
        conn: &mut dyn ConnectionLike,
        ttl: Duration,
        token: Option<&LockToken>,
        lock_ttl: Duration,
    ) -> RedisResult<bool> {
        let reply = self.run_script(
            conn,
            None,
            self.script(&scripts::RESERVE)
                .arg(ttl_seconds(ttl)) // ttl_s
                .arg(token.map(LockToken::as_str).unwrap_or("")) // token
                .arg(millis(lock_ttl)), // lock_ttl_ms
            Wait::Best,
        )?;
        reply::reserve(reply)
    }

    /// Plain write without a lock (rustredis.locking=off: last write wins).
    pub fn write_unlocked(
        &self,
        conn: &mut dyn ConnectionLike,
        data: &[u8],
        ttl: Duration,
    ) -> RedisResult<()> {
        reply::set(
            redis::cmd("SET")
                .arg(&self.keys.data)
                .arg(data)
                .arg("EX")
                .arg(ttl_seconds(ttl))
                .query(conn)?,
        )
    }

    pub fn touch_unlocked(&self, conn: &mut dyn ConnectionLike, ttl: Duration) -> RedisResult<()> {
        reply::expire(
            redis::cmd("EXPIRE")
                .arg(&self.keys.data)
                .arg(ttl_seconds(ttl))
                .query(conn)?,
        )
    }

    pub fn compare_and_set(
        &self,
        conn: &mut dyn ConnectionLike,
        base: &[u8],
        data: &[u8],
        ttl: Duration,
        waiter: Waiter,
    ) -> RedisResult<Attempt<Cas>> {
        let reply = self.run_script(
            conn,
            None,
            self.script(&scripts::COMPARE_AND_SET)
                .arg(sha1_hex(base)) // base_sha1
                .arg(data) // data
                .arg(ttl_seconds(ttl)) // ttl_s
                .arg(waiter.arg()) // waiter
                .arg(WAITING_TTL_MS), // waiting_ttl_ms
            Wait::Required,
        )?;
        reply::compare_and_set(reply)
    }
}

// ---------------------------------------------------------------------------------------------
// The client half: waiting for a holder
// ---------------------------------------------------------------------------------------------

/// Lock wait backoff: first retry after about 1 ms, doubling up to this cap (a release wakes the
/// waiter at once anyway; the cap only bounds how late an expired lock is noticed).
const FIRST_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// A random number in [0, 1], for jitter.
fn random_fraction() -> f64 {
    f64::from(getrandom::u32().unwrap_or(0)) / f64::from(u32::MAX)
}

/// The waits between attempts on a held lock: about 1 ms at first, doubling up to MAX_BACKOFF,
/// with jitter on the upper half so waiters of one session do not poll in step. A wait never
/// outlasts the budget left, the holder's remaining TTL, or half the socket read timeout (a
/// blocking BLPOP must return before the read timeout would cut it off).
#[derive(Debug)]
pub struct Backoff {
    started: Instant,
    budget: Duration,
    max_block: Duration,
    next: Duration,
    /// Attempts that found the lock held, and the holder the last of them found.
    held_attempts: u32,
    last_held: Option<HeldBy>,
}

impl Backoff {
    pub fn new(budget: Duration, read_timeout: Duration) -> Backoff {
        Backoff {
            started: Instant::now(),
            budget,
            max_block: (read_timeout / 2).max(Duration::from_millis(1)),
            next: FIRST_BACKOFF,
            held_attempts: 0,
            last_held: None,
        }
    }

    pub fn waited(&self) -> Duration {
        self.started.elapsed()
    }

    /// How many attempts found the lock held.
    pub fn held_attempts(&self) -> u32 {
        self.held_attempts
    }

    /// The holder the last of those attempts found.
    pub fn last_held(&self) -> Option<&HeldBy> {
        self.last_held.as_ref()
    }

    /// Notes what an attempt found and says how long to wait before the next one, or None when
    /// the budget is spent.
    pub fn after_held(&mut self, held: HeldBy) -> Option<Duration> {
        let wait = self.next_wait(held.expires_in);
        self.held_attempts += 1;
        self.last_held = Some(held);
        wait
    }

    /// [`Self::after_held`] for a request queued for the lock: a release hands it over at once,
    /// so the waits need not start short; they bound how late a lock that expired, or a waiter
    /// ahead that died, is noticed.
    pub fn after_queued(&mut self, held: HeldBy) -> Option<Duration> {
        self.next = MAX_BACKOFF;
        self.after_held(held)
    }

    /// How long to wait before the next attempt, or None when the budget is spent.
    pub fn next_wait(&mut self, holder_expires_in: Option<Duration>) -> Option<Duration> {
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

/// Where the protocol gets a connection for each command: the session's pool, with its rule for
/// a pooled connection that died while idle.
pub trait Connections {
    fn run<T>(
        &self,
        op: &mut dyn FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
    ) -> SessionResult<T>;
}

/// How a wait for a holder ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Waited<T> {
    Done(T),
    /// The budget ran out after this long, the lock still held as the last attempt found;
    /// this request no longer counts as waiting.
    TimedOut(Duration, HeldBy),
}

/// What a request asks of a lock.
#[derive(Debug, Clone, Copy)]
pub struct LockRequest<'t> {
    pub token: &'t LockToken,
    pub lock_ttl: Duration,
    pub which: Which,
    pub max_waiters: u32,
}

/// Takes the lock, waiting within `backoff`'s budget: the pipelined attempt, and if another
/// request holds the lock, at once the attempt that queues this request; then it blocks on the
/// handoff list of whom it queues behind, where a release hands it the lock with the data (no
/// round trip after that), and tries again after each wait that brought nothing. Out of
/// budget, it leaves the queue (or finds the lock was handed to it just then, or is free).
/// Each attempt and each wait is one command on a connection of its own checkout.
pub fn wait_for_lock(
    redis: &impl Connections,
    store: &SessionStore,
    backoff: &mut Backoff,
    request: LockRequest<'_>,
) -> SessionResult<Waited<Acquired>> {
    let LockRequest {
        token,
        lock_ttl,
        which,
        max_waiters,
    } = request;
    let attempt = |waiter: &LockWaiter| {
        redis.run(&mut |conn| store.acquire(conn, token, lock_ttl, which, waiter, max_waiters))
    };
    let mut held = match redis
        .run(&mut |conn| store.acquire_first(conn, token, lock_ttl, which, max_waiters))?
    {
        Attempt::Done(acquired) => return Ok(Waited::Done(acquired)),
        Attempt::Held(held) => held,
    };
    if held.behind.is_none() {
        // The pipelined attempt does not queue (in a Cluster the first attempt is ACQUIRE,
        // which did): the attempt that queues follows at once.
        if backoff.after_held(held.clone()).is_none() {
            return Ok(Waited::TimedOut(backoff.waited(), held));
        }
        held = match attempt(&LockWaiter::New)? {
            Attempt::Done(acquired) => return Ok(Waited::Done(acquired)),
            Attempt::Held(held) => held,
        };
    }
    loop {
        let blocked_on = store.handoff_key(token, held.behind.as_deref());
        // Behind a lock that is not ours (phpredis), nothing is handed over: its release is
        // only noticed by trying again, soon at first.
        let handed_over = held
            .behind
            .as_deref()
            .and_then(holder::token_secret)
            .is_some();
        let wait = if handed_over {
            backoff.after_queued(held.clone())
        } else {
            backoff.after_held(held.clone())
        };
        let Some(wait) = wait else {
            return Ok(match attempt(&LockWaiter::Leaving { blocked_on })? {
                Attempt::Done(acquired) => Waited::Done(acquired),
                Attempt::Held(held) => Waited::TimedOut(backoff.waited(), held),
            });
        };
        match redis.run(&mut |conn| store.wait_for_handoff(conn, token, &blocked_on, wait))? {
            Handoff::Handed(None) if which == Which::Existing => {
                // Handed over by a destroy: the id validate_sid asked about is gone.
                redis.run(&mut |conn| store.release(conn, token))?;
                return Ok(Waited::Done(Acquired::Missing));
            }
            Handoff::Handed(data) => return Ok(Waited::Done(Acquired::Locked(data))),
            Handoff::Woken | Handoff::TimedOut => {}
        }
        held = match attempt(&LockWaiter::Queued { blocked_on })? {
            Attempt::Done(acquired) => return Ok(Waited::Done(acquired)),
            Attempt::Held(held) => held,
        };
    }
}

/// The wait loop for a lock to be free (compare-and-set, destroy without our lock): runs
/// `attempt` until it no longer finds the lock held by another request,
/// blocking on the wake-up list between attempts as `backoff` allows. Each attempt and each
/// wait is one command on a connection of its own checkout. `attempt` is told whether this
/// request already counts as waiting; the scripts keep the count, and the loop leaves it when
/// the budget is spent (best effort: the count expires by itself within seconds).
pub fn wait_while_held<T>(
    redis: &impl Connections,
    store: &SessionStore,
    backoff: &mut Backoff,
    mut attempt: impl FnMut(&mut dyn ConnectionLike, Waiter) -> RedisResult<Attempt<T>>,
) -> SessionResult<Waited<T>> {
    let mut waiter = Waiter::New;
    loop {
        let held = match redis.run(&mut |conn| attempt(conn, waiter))? {
            Attempt::Done(value) => return Ok(Waited::Done(value)),
            Attempt::Held(held) => held,
        };
        if held.joined {
            waiter = Waiter::Waiting;
        }
        match backoff.after_held(held.clone()) {
            Some(wait) => {
                redis.run(&mut |conn| store.wait_for_release(conn, wait))?;
            }
            None => {
                if waiter == Waiter::Waiting {
                    let _ = redis.run(&mut |conn| store.stop_waiting(conn));
                }
                return Ok(Waited::TimedOut(backoff.waited(), held));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_set_is_packed_as_redis_rs_packs_it() {
        for size in [0, 5, MAX_KEPT_WRITE_BUFFER + 1, 7] {
            let data = vec![b'x'; size];
            let mut expected = redis::cmd("SET")
                .arg(&b"k{1}"[..])
                .arg(&data)
                .arg("PX")
                .arg(STAGING_TTL_MS)
                .get_packed_command();
            expected.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
            let packed = with_staged_set(b"k{1}", &data, b"*1\r\n$4\r\nPING\r\n", <[u8]>::to_vec);
            assert_eq!(packed, expected, "{size} bytes");
            // A buffer over the limit is not kept; a smaller one is, empty.
            let kept = WRITE_BUFFER.with(|buffer| buffer.borrow().capacity());
            assert_eq!(
                kept > 0,
                size < MAX_KEPT_WRITE_BUFFER,
                "{size} bytes, {kept} kept"
            );
            assert!(WRITE_BUFFER.with(|buffer| buffer.borrow().is_empty()));
        }
    }
}
