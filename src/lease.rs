//! Leases: a lock lives exactly as long as its request, on any host.
//!
//! A lock is taken with a short TTL, the lease (`rustredis.lock_ttl_ms`, 2 s by default), and a
//! background thread of the holding process extends it every quarter lease while the request runs.
//! A process that dies (`kill -9`, the OOM killer, `request_terminate_timeout`) stops renewing,
//! so its locks free within one lease; a living request keeps its lock however long it runs, up
//! to `rustredis.lock_max_hold_ms`, so a request stuck in a living worker cannot hold a session
//! forever.
//!
//! One thread per process serves every lock the process holds (several at once in a ZTS build),
//! on connections of its own. It starts on the first lock, never in MINIT, so php-fpm's master
//! never has one. Every renewal is owner-checked in Redis (`SessionStore::renew`): a lock that
//! expired or that another request took is never extended. A [`Lease`] stops its renewals when
//! dropped, i.e. the moment its request releases the lock or ends.
//!
//! After `fork()` the child has no thread and a copy of its parent's registrations, which are the
//! parent's to renew: the child forgets them (without touching their sockets) and starts its own
//! thread for its own locks, with a registry of its own ([`after_fork_in_child`], which the
//! boundary registers with pthread_atfork), so it never waits on a lock its parent's thread held.
//! The thread never holds the registry while it talks to Redis.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

use crate::error::RedisCause;
use crate::protocol::{LockToken, Owned, SessionStore};
use crate::stats::STATS;
use crate::topology::{Backend, Dedicated};

/// A lease is renewed this many times per lease period, so two renewals in a row may fail (a
/// stalled Redis, a starved host) before the lock expires under a living request.
const RENEWALS_PER_LEASE: u32 = 4;
/// After a failed renewal, the next try comes this much sooner than a regular one would.
const RETRY_AFTER_ERROR: Duration = Duration::from_millis(100);
/// With nothing to renew, the thread still wakes this often (and exits when asked to).
const IDLE_WAKEUP: Duration = Duration::from_secs(60);

/// Where a lease stands, as the request sees it when its lock ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseState {
    /// Renewed on time so far.
    Renewing,
    /// Renewals stopped at `rustredis.lock_max_hold_ms`; the lock expires one lease later.
    MaxHoldReached(Duration),
    /// A renewal found the lock no longer ours (it expired and maybe another request took it).
    Lost,
    /// The last renewal failed for this reason (Redis down or slow); the next one is retried.
    Failing(String),
}

/// What the thread does with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// Extend the lease until the [`Lease`] is dropped.
    Renew,
    /// Release the lock (a request gave up on a reply that may have granted it), retrying while
    /// Redis does not answer, until this moment.
    Release { give_up_at: Instant },
}

/// How long the thread keeps trying to release a lock a request may have taken without knowing:
/// longer than any stall a request survives; a release that finds nothing does nothing.
const RELEASE_TRIES_FOR: Duration = Duration::from_secs(60);
/// At most this many releases wait for Redis at once (an outage must not pile them up).
const MAX_PENDING_RELEASES: usize = 64;

struct Entry {
    job: Job,
    pool: Backend,
    store: SessionStore,
    token: LockToken,
    lease: Duration,
    hold_until: Instant,
    max_hold: Duration,
    next_due: Instant,
    state: LeaseState,
}

struct Registry {
    pid: u32,
    next_id: u64,
    entries: HashMap<u64, Entry>,
    thread: Option<std::thread::JoinHandle<()>>,
    stopping: bool,
    /// Until when the thread sleeps, while it does (None: it is running, and looks at every
    /// entry before it sleeps again). A new entry due later needs no wake-up: waking the thread
    /// for every lock costs a context switch of the request's CPU.
    sleeping_until: Option<Instant>,
}

/// The registry and the condition variable the thread sleeps on, one pair per process.
struct Shared {
    registry: Mutex<Option<Registry>>,
    changed: Condvar,
}

/// This process's [`Shared`] is `GENERATIONS[GENERATION]`. A forked child must not use its
/// parent's: the lock in it may be held by a thread that does not exist in the child. So the
/// child moves on to the next, fresh one ([`after_fork_in_child`]), leaving its parent's copy
/// unused. Past `MAX_FORK_DEPTH` nested forks the last one is reused (a fork at the very moment
/// the renewal thread holds it, for microseconds twice a second, would then hang the child).
const MAX_FORK_DEPTH: usize = 32;
static GENERATIONS: [OnceLock<Shared>; MAX_FORK_DEPTH] =
    [const { OnceLock::new() }; MAX_FORK_DEPTH];
static GENERATION: AtomicUsize = AtomicUsize::new(0);

fn shared() -> &'static Shared {
    let generation = GENERATION.load(Ordering::Acquire).min(MAX_FORK_DEPTH - 1);
    GENERATIONS[generation].get_or_init(|| Shared {
        registry: Mutex::new(None),
        changed: Condvar::new(),
    })
}

fn lock() -> MutexGuard<'static, Option<Registry>> {
    // A panic while holding it cannot leave the registry half-updated in a way that matters
    // more than stopping renewals would.
    shared()
        .registry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The registry of this process, forgetting one inherited through fork.
fn registry<'g>(guard: &'g mut MutexGuard<'_, Option<Registry>>) -> &'g mut Registry {
    let pid = std::process::id();
    if guard.as_ref().is_some_and(|r| r.pid != pid) {
        // The parent's: its thread does not exist here, its entries are the parent's to renew,
        // and the sockets of its connections are shared with the parent.
        std::mem::forget(guard.take());
    }
    guard.get_or_insert_with(|| Registry {
        pid,
        next_id: 1,
        entries: HashMap::new(),
        thread: None,
        stopping: false,
        sleeping_until: None,
    })
}

/// One lock's renewals; dropping it stops them.
#[derive(Debug)]
pub struct Lease {
    id: u64,
    pid: u32,
}

impl Lease {
    /// Starts renewing `token`'s lock on `store` every quarter `lease` until dropped or until
    /// `max_hold` has passed. Starts the process's renewal thread on first use.
    pub fn start(
        pool: &Backend,
        store: &SessionStore,
        token: &LockToken,
        lease: Duration,
        max_hold: Duration,
    ) -> Lease {
        let now = Instant::now();
        let (id, pid) = register(Entry {
            job: Job::Renew,
            pool: pool.clone(),
            store: store.clone(),
            token: token.clone(),
            lease,
            hold_until: now + max_hold,
            max_hold,
            next_due: now + lease / RENEWALS_PER_LEASE,
            state: LeaseState::Renewing,
        });
        Lease { id, pid }
    }

    /// Made by another process: this one is a child of pcntl_fork() holding its parent's copy.
    pub fn inherited(&self) -> bool {
        self.pid != std::process::id()
    }

    pub fn state(&self) -> LeaseState {
        let mut guard = lock();
        let registry = registry(&mut guard);
        match registry.entries.get(&self.id) {
            Some(entry) if registry.pid == self.pid => entry.state.clone(),
            // Made by the parent of this process (fork): the parent renews it.
            _ => LeaseState::Renewing,
        }
    }
}

/// Hands the release of a lock this request may hold without knowing it (the reply to its
/// acquire timed out, so Redis may still run it) to the thread, which releases it, owner-checked,
/// as soon as Redis answers again. Without this the lock would stay until its lease ran out.
pub fn release_later(pool: &Backend, store: &SessionStore, token: &LockToken, lease: Duration) {
    let pending = {
        let mut guard = lock();
        let registry = registry(&mut guard);
        registry
            .entries
            .values()
            .filter(|e| e.job != Job::Renew)
            .count()
    };
    if pending >= MAX_PENDING_RELEASES {
        // Redis has not answered for a while: these locks expire with their lease anyway.
        return;
    }
    let now = Instant::now();
    register(Entry {
        job: Job::Release {
            give_up_at: now + RELEASE_TRIES_FOR,
        },
        pool: pool.clone(),
        store: store.clone(),
        token: token.clone(),
        lease,
        hold_until: now + RELEASE_TRIES_FOR,
        max_hold: RELEASE_TRIES_FOR,
        next_due: now,
        state: LeaseState::Renewing,
    });
}

/// Adds an entry for the thread (starting the thread on first use); its id and this pid.
fn register(mut entry: Entry) -> (u64, u32) {
    let mut guard = lock();
    let registry = registry(&mut guard);
    let id = registry.next_id;
    registry.next_id += 1;
    if registry.thread.is_none() {
        match std::thread::Builder::new()
            .name("rustredis-lease".into())
            .spawn(renewal_thread)
        {
            Ok(handle) => registry.thread = Some(handle),
            Err(err) => {
                entry.state =
                    LeaseState::Failing(format!("could not start the renewal thread: {err}"))
            }
        }
    }
    let wake = registry
        .sleeping_until
        .is_some_and(|until| entry.next_due.min(entry.hold_until) < until);
    registry.entries.insert(id, entry);
    if wake {
        shared().changed.notify_all();
    }
    (id, registry.pid)
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut guard = lock();
        let registry = registry(&mut guard);
        if registry.pid == self.pid {
            registry.entries.remove(&self.id);
        }
    }
}

/// A renewal to do, taken out of the registry so Redis is not called under its lock.
struct Due {
    id: u64,
    job: Job,
    pool: Backend,
    store: SessionStore,
    token: LockToken,
    lease: Duration,
}

/// Run first by the renewal thread (the boundary blocks signals there).
static THREAD_SETUP: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

pub fn set_thread_setup(setup: fn()) {
    let _ = THREAD_SETUP.set(setup);
}

/// What a helper thread of this library runs first (the boundary blocks signals there).
pub fn run_thread_setup() {
    if let Some(setup) = THREAD_SETUP.get() {
        setup();
    }
}

fn renewal_thread() {
    run_thread_setup();
    // A panic must not end renewals silently: the leases say so, and their requests warn.
    if std::panic::catch_unwind(renew_until_stopped).is_err() {
        let mut guard = lock();
        let registry = registry(&mut guard);
        registry.thread = None;
        for entry in registry.entries.values_mut() {
            entry.state = LeaseState::Failing("internal error in the renewal thread".to_string());
        }
    }
}

fn renew_until_stopped() {
    let pid = std::process::id();
    // The thread's own connections, one per pool; holding the pool keeps its id unique.
    let mut connections: HashMap<usize, (Backend, Dedicated)> = HashMap::new();
    loop {
        let due = {
            let mut guard = lock();
            let Some(registry) = guard.as_mut().filter(|r| r.pid == pid && !r.stopping) else {
                return;
            };
            let now = Instant::now();
            let mut due = Vec::new();
            let mut next_wakeup = now + IDLE_WAKEUP;
            registry.entries.retain(|_, entry| match entry.job {
                Job::Release { give_up_at } => now < give_up_at,
                Job::Renew => true,
            });
            for (id, entry) in registry.entries.iter_mut() {
                if !matches!(entry.state, LeaseState::Renewing | LeaseState::Failing(_)) {
                    continue;
                }
                if now >= entry.hold_until && entry.job == Job::Renew {
                    entry.state = LeaseState::MaxHoldReached(entry.max_hold);
                    STATS.lease_max_hold_reached.incr();
                    continue;
                }
                if entry.next_due <= now {
                    entry.next_due = now + entry.lease / RENEWALS_PER_LEASE;
                    due.push(Due {
                        id: *id,
                        job: entry.job,
                        pool: entry.pool.clone(),
                        store: entry.store.clone(),
                        token: entry.token.clone(),
                        lease: entry.lease,
                    });
                }
                next_wakeup = next_wakeup.min(entry.next_due).min(entry.hold_until);
            }
            if due.is_empty() {
                let in_use: Vec<usize> = registry.entries.values().map(|e| e.pool.id()).collect();
                connections.retain(|id, _| in_use.contains(id));
                let timeout = next_wakeup.saturating_duration_since(Instant::now());
                registry.sleeping_until = Some(next_wakeup);
                let mut guard = shared()
                    .changed
                    .wait_timeout(guard, timeout)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
                if let Some(registry) = guard.as_mut() {
                    registry.sleeping_until = None;
                }
                continue;
            }
            due
        };
        let results: Vec<(u64, Duration, Result<Owned, RedisCause>)> = due
            .into_iter()
            .map(|d| {
                let result = run_job(&mut connections, &d);
                (d.id, d.lease, result)
            })
            .collect();
        let mut guard = lock();
        let Some(registry) = guard.as_mut().filter(|r| r.pid == pid) else {
            return;
        };
        for (id, lease, result) in results {
            // Gone: the request released while we renewed, and the owner check made it harmless.
            let Some(entry) = registry.entries.get_mut(&id) else {
                continue;
            };
            if matches!(entry.job, Job::Release { .. }) && result.is_ok() {
                // Released a lock Redis had granted after all, or found nothing of ours.
                if matches!(result, Ok(Owned::Yes)) {
                    STATS.locks_released_late.incr();
                }
                registry.entries.remove(&id);
                continue;
            }
            match result {
                Ok(Owned::Yes) => {
                    STATS.lease_renewals.incr();
                    entry.state = LeaseState::Renewing;
                }
                Ok(Owned::Lost | Owned::Vanished) => entry.state = LeaseState::Lost,
                Err(cause) => {
                    STATS.lease_renewal_errors.incr();
                    STATS.record_cause(&cause);
                    entry.state = LeaseState::Failing(cause.to_string());
                    let sooner = (lease / RENEWALS_PER_LEASE).min(RETRY_AFTER_ERROR);
                    entry.next_due = Instant::now() + sooner;
                }
            }
        }
    }
}

/// One renewal or release on the thread's connection for its pool: a connection that fails is
/// replaced by a fresh one once (both are idempotent).
fn run_job(
    connections: &mut HashMap<usize, (Backend, Dedicated)>,
    due: &Due,
) -> Result<Owned, RedisCause> {
    use redis::ConnectionLike;
    // A renewal must come back well within the lease, whatever the request's read timeout.
    let timeout = (due.lease / 2).max(Duration::from_millis(10));
    let mut last_error = None;
    for _ in 0..2 {
        let mut conn = match connections.remove(&due.pool.id()) {
            Some((_, conn)) if conn.is_open() => conn,
            _ => due.pool.dedicated(timeout)?,
        };
        let result = match due.job {
            Job::Renew => due.store.renew(&mut conn, &due.token, due.lease),
            Job::Release { .. } => due.store.release(&mut conn, &due.token),
        };
        match result {
            Ok(owned) => {
                connections.insert(due.pool.id(), (due.pool.clone(), conn));
                return Ok(owned);
            }
            Err(err) => {
                let cause = conn.cause(err);
                due.pool.failed(&cause);
                last_error = Some(cause);
            }
        }
    }
    Err(last_error.expect("two attempts ran"))
}

/// MSHUTDOWN: stop the thread before the extension's code is unloaded.
pub fn shutdown() {
    let handle = {
        let mut guard = lock();
        let Some(registry) = guard.as_mut().filter(|r| r.pid == std::process::id()) else {
            return;
        };
        registry.stopping = true;
        registry.entries.clear();
        registry.thread.take()
    };
    shared().changed.notify_all();
    if let Some(handle) = handle {
        // Bounded: the thread's Redis calls time out within half a lease.
        let _ = handle.join();
    }
}

// -- fork (pthread_atfork, registered by the boundary) ------------------------------------------

/// After fork(), in the child (pthread_atfork, registered by the boundary): forget the parent's
/// registry; the next lease makes this process's own.
pub fn after_fork_in_child() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}
