//! Pooled Redis connections: each process keeps a few idle connections to the targets it used
//! last.
//!
//! php-fpm runs MINIT in the master and then forks workers, so nothing here connects until the
//! first session of a process needs Redis. The idle connections remember the pid that kept them,
//! and each connection the pid that opened it: a process that finds idle connections kept by its
//! parent (fork) forgets them without dropping them, because their sockets are shared with the
//! parent, and a connection on loan across a fork is forgotten too rather than pooled or closed.
//!
//! A PHP worker runs one request at a time, so a pool is a small stack of idle connections: no
//! helper threads (which would not survive a fork), and a failed connect fails at once, where a
//! general-purpose pool such as r2d2 retries until its timeout even when Redis refuses the
//! connection or the password, making every request of an outage wait.
//!
//! What a process keeps is bounded whatever its save_paths name (a target is the server, the
//! credentials, the database and both timeouts, so every distinct `?timeout=` is one): idle
//! connections to at most [`MAX_POOLS`] targets, the least recently used one closed first, at most
//! [`MAX_IDLE_PER_POOL`] per target and [`MAX_IDLE`] in all. A [`Pool`] handle holds no
//! connection, so a handler whose target was dropped meanwhile keeps working: it connects anew,
//! and what it gives back is kept again. A connection that carried a reply over
//! [`MAX_REUSED_REPLY_BYTES`] is closed after use instead of kept: redis-rs's parser, which reads
//! each connection's replies, keeps a buffer with the capacity of the largest one for the
//! connection's lifetime and has no way to shrink it, so only closing the connection gives that
//! memory back.
//!
//! What a connection is — its deadlines on connecting and on every command, TLS, AUTH/SELECT, and
//! retiring one that failed — is `connection`'s business.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::config::RedisTarget;
use crate::connection::max_reply_bytes;
pub use crate::connection::{RedisConnection, MAX_REUSED_REPLY_BYTES};
use crate::error::RedisCause;

/// Opens connections to one target with its timeouts and reply budget.
#[derive(Debug)]
struct Connector {
    target: RedisTarget,
    connect_timeout: Duration,
    read_timeout: Duration,
    max_reply_bytes: usize,
}

impl Connector {
    fn connect(&self, read_timeout: Duration) -> Result<RedisConnection, RedisCause> {
        crate::stats::STATS.connections_opened.incr();
        crate::connection::connect(
            &self.target,
            self.connect_timeout,
            read_timeout,
            self.max_reply_bytes,
        )
    }
}

/// Targets a process keeps idle connections to; beyond it, the least recently used is closed.
pub const MAX_POOLS: usize = 16;
/// Idle connections kept per target: a PHP worker uses one at a time; a few spare ones cost nothing.
pub const MAX_IDLE_PER_POOL: usize = 4;
/// Idle connections a process keeps, all targets together.
pub const MAX_IDLE: usize = 16;
/// Everything that makes two connections interchangeable.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PoolKey {
    target: RedisTarget,
    connect_timeout: Duration,
    read_timeout: Duration,
}

/// Idle connections `C` by target `K`, within the bounds of the module documentation. Targets are
/// in order of use, the least recently used first. A cluster's connections are kept the same way
/// (`topology::cluster`).
pub(crate) struct Idle<K, C> {
    pools: Vec<(K, Vec<C>)>,
}

impl<K: PartialEq, C> Idle<K, C> {
    const fn new() -> Self {
        Idle { pools: Vec::new() }
    }

    /// `key`'s idle connections, now the most recently used.
    fn touch(&mut self, key: &K) -> Option<&mut Vec<C>> {
        let position = self.pools.iter().position(|(k, _)| k == key)?;
        let pool = self.pools.remove(position);
        self.pools.push(pool);
        self.pools.last_mut().map(|(_, conns)| conns)
    }

    /// The most recently kept idle connection to `key`.
    pub(crate) fn take(&mut self, key: &K) -> Option<C> {
        self.touch(key)?.pop()
    }

    /// Keeps `conn` idle for `key`. Returns what the bounds leave out, to be closed: `conn`
    /// itself when `key` has enough spare ones, else the least recently used target beyond
    /// [`MAX_POOLS`] and the oldest connections of the least recently used ones beyond [`MAX_IDLE`].
    pub(crate) fn put(&mut self, key: K, conn: C) -> Vec<C> {
        let conns = match self.touch(&key) {
            Some(conns) => conns,
            None => {
                self.pools.push((key, Vec::new()));
                &mut self.pools.last_mut().expect("just pushed").1
            }
        };
        if conns.len() >= MAX_IDLE_PER_POOL {
            return vec![conn];
        }
        conns.push(conn);
        let mut closed = Vec::new();
        while self.pools.len() > MAX_POOLS {
            closed.extend(self.pools.remove(0).1);
        }
        let mut excess = self.idle().saturating_sub(MAX_IDLE);
        for (_, conns) in &mut self.pools {
            let oldest = excess.min(conns.len());
            closed.extend(conns.drain(..oldest));
            excess -= oldest;
        }
        closed
    }

    fn idle(&self) -> usize {
        self.pools.iter().map(|(_, conns)| conns.len()).sum()
    }
}

/// The idle connections of the process `pid`.
pub(crate) struct ProcessIdle<K, C> {
    pid: u32,
    idle: Idle<K, C>,
}

/// Runs `f` on this process's idle connections in `slot`. Those inherited through fork are
/// forgotten first: the parent still owns their sockets.
pub(crate) fn with_process_idle<K: PartialEq, C, T>(
    slot: &Mutex<Option<ProcessIdle<K, C>>>,
    f: impl FnOnce(&mut Idle<K, C>) -> T,
) -> T {
    let pid = std::process::id();
    let mut guard = slot.lock();
    if guard.as_ref().is_some_and(|process| process.pid != pid) {
        std::mem::forget(guard.take());
    }
    let process = guard.get_or_insert_with(|| ProcessIdle {
        pid,
        idle: Idle::new(),
    });
    f(&mut process.idle)
}

static IDLE: Mutex<Option<ProcessIdle<Arc<PoolKey>, RedisConnection>>> = Mutex::new(None);

fn with_idle<T>(f: impl FnOnce(&mut Idle<Arc<PoolKey>, RedisConnection>) -> T) -> T {
    with_process_idle(&IDLE, f)
}

/// What this process keeps: for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Targets with a pool (which may be empty while its connections are on loan).
    pub pools: usize,
    /// Idle connections, all targets together.
    pub idle_connections: usize,
}

pub fn stats() -> PoolStats {
    with_idle(|idle| PoolStats {
        pools: idle.pools.len(),
        idle_connections: idle.idle(),
    })
}

struct Target {
    key: Arc<PoolKey>,
    connector: Connector,
}

/// A cheap handle to one target's connections. It holds none itself: they are kept for the
/// process (see the module documentation).
#[derive(Clone)]
pub struct Pool(Arc<Target>);

impl Pool {
    /// An idle connection, or a new one (bounded by the connect timeout, no retries).
    pub fn get(&self) -> Result<PooledConnection, RedisCause> {
        let idle = with_idle(|idle| idle.take(&self.0.key));
        let reused = idle.is_some();
        let conn = match idle {
            Some(mut conn) => {
                // Kept for a handler of another rustredis.max_data_bytes, maybe.
                conn.set_max_reply_bytes(self.0.connector.max_reply_bytes);
                conn
            }
            None => self.0.connector.connect(self.0.connector.read_timeout)?,
        };
        Ok(PooledConnection {
            conn: Some(conn),
            target: Arc::clone(&self.0),
            reused,
        })
    }

    /// A connection of the caller's own, outside the pool (the lease renewal thread's), with
    /// this read timeout.
    pub fn dedicated(&self, read_timeout: Duration) -> Result<RedisConnection, RedisCause> {
        self.0.connector.connect(read_timeout)
    }

    /// Identifies this pool among the process's pools while it lives.
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

/// A connection on loan; it goes back to the idle ones when dropped, if it may (see
/// [`RedisConnection`]).
pub struct PooledConnection {
    conn: Option<RedisConnection>,
    target: Arc<Target>,
    reused: bool,
}

impl PooledConnection {
    /// Whether it came from the idle stack (and so may have died while idle).
    pub fn reused(&self) -> bool {
        self.reused
    }
}

impl Deref for PooledConnection {
    type Target = RedisConnection;
    fn deref(&self) -> &RedisConnection {
        self.conn.as_ref().expect("present until drop")
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut RedisConnection {
        self.conn.as_mut().expect("present until drop")
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if conn.pid() != std::process::id() {
            // On loan across a fork: the parent still owns the socket.
            std::mem::forget(conn);
        } else if conn.reusable() {
            let key = Arc::clone(&self.target.key);
            // Closed once the lock is released.
            let closed = with_idle(|idle| idle.put(key, conn));
            drop(closed);
        }
    }
}

/// The pool for `target`. Building never connects: the first checkout does, bounded by
/// `connect_timeout`. Replies may take `max_data_bytes` (rustredis.max_data_bytes) plus what
/// the protocol needs around it.
pub fn pool_for(
    target: &RedisTarget,
    connect_timeout: Duration,
    read_timeout: Duration,
    max_data_bytes: usize,
) -> Pool {
    Pool(Arc::new(Target {
        key: Arc::new(PoolKey {
            target: target.clone(),
            connect_timeout,
            read_timeout,
        }),
        connector: Connector {
            target: target.clone(),
            connect_timeout,
            read_timeout,
            max_reply_bytes: max_reply_bytes(max_data_bytes),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_connections_are_reused_newest_first() {
        let mut idle = Idle::new();
        assert!(idle.put("a", 1).is_empty());
        assert!(idle.put("a", 2).is_empty());
        assert!(idle.put("b", 3).is_empty());
        assert_eq!(idle.take(&"a"), Some(2));
        assert_eq!(idle.take(&"a"), Some(1));
        assert_eq!(idle.take(&"a"), None);
        assert_eq!(idle.take(&"c"), None);
        assert_eq!((idle.pools.len(), idle.idle()), (2, 1));
    }

    #[test]
    fn a_target_keeps_a_few_spare_connections() {
        let mut idle = Idle::new();
        for conn in 0..MAX_IDLE_PER_POOL {
            assert!(idle.put("a", conn).is_empty());
        }
        assert_eq!(idle.put("a", 99), vec![99]);
        assert_eq!(idle.idle(), MAX_IDLE_PER_POOL);
    }

    #[test]
    fn the_least_recently_used_target_is_closed_first() {
        let mut idle = Idle::new();
        for target in 0..MAX_POOLS {
            assert!(idle.put(target, target * 100).is_empty());
        }
        // Using target 0 again leaves target 1 the least recently used.
        assert_eq!(idle.take(&0), Some(0));
        assert!(idle.put(0, 0).is_empty());
        assert_eq!(idle.put(MAX_POOLS, 1), vec![100]);
        assert_eq!(idle.pools.len(), MAX_POOLS);
        assert_eq!(idle.take(&1), None);
        assert_eq!(idle.take(&0), Some(0));
    }

    #[test]
    fn idle_connections_are_bounded_for_the_process() {
        let mut idle = Idle::new();
        let full_targets = MAX_IDLE / MAX_IDLE_PER_POOL;
        for target in 0..full_targets {
            for n in 0..MAX_IDLE_PER_POOL {
                assert!(idle.put(target, target * 10 + n).is_empty());
            }
        }
        assert_eq!(idle.idle(), MAX_IDLE);
        // Beyond it, the oldest connection of the least recently used target goes.
        assert_eq!(idle.put(full_targets, 1000), vec![0]);
        assert_eq!(idle.idle(), MAX_IDLE);
        assert_eq!(idle.take(&full_targets), Some(1000));
    }

    #[test]
    fn many_targets_stay_within_the_bounds() {
        let mut idle = Idle::new();
        let mut closed = 0;
        for target in 0..2_000 {
            assert_eq!(idle.take(&target), None);
            closed += idle.put(target, target).len();
            assert!(idle.pools.len() <= MAX_POOLS && idle.idle() <= MAX_IDLE);
        }
        assert_eq!(closed + idle.idle(), 2_000);
        assert_eq!(idle.take(&1_999), Some(1_999));
    }
}
