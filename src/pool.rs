//! Pooled Redis connections, one pool per Redis target per process.
//!
//! php-fpm runs MINIT in the master and then forks workers, so nothing here connects until the
//! first session of a process needs Redis. Each pool remembers the pid that built it; a process
//! that finds pools built by its parent (fork) forgets them without dropping them, because their
//! sockets are shared with the parent.
//!
//! A PHP worker runs one request at a time, so a pool is a small stack of idle connections: no
//! helper threads (which would not survive a fork), and a failed connect fails at once, where a
//! general-purpose pool such as r2d2 retries until its timeout even when Redis refuses the
//! connection or the password, making every request of an outage wait.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redis::{
    ConnectionAddr, ConnectionInfo, ConnectionLike, ErrorKind, IntoConnectionInfo,
    RedisConnectionInfo, RedisResult, Value,
};

use crate::config::{Endpoint, RedisTarget};

/// A pooled connection that remembers when it can no longer be trusted.
///
/// redis-rs keeps a connection open after a read timeout, but the late reply may still arrive and
/// would then be read as the answer to the next request's command. Any error that is not a plain
/// Redis error reply (I/O, timeout, protocol) therefore retires the connection.
pub struct RedisConnection {
    inner: redis::Connection,
    broken: bool,
}

impl RedisConnection {
    fn track<T>(&mut self, result: RedisResult<T>) -> RedisResult<T> {
        if let Err(err) = &result {
            if err.is_io_error()
                || err.is_timeout()
                || err.is_connection_dropped()
                || err.kind() == ErrorKind::Parse
            {
                self.broken = true;
            }
        }
        result
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        let result = self.inner.req_packed_command(cmd);
        self.track(result)
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        let result = self.inner.req_packed_commands(cmd, offset, count);
        self.track(result)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }

    fn check_connection(&mut self) -> bool {
        self.inner.check_connection()
    }

    fn is_open(&self) -> bool {
        !self.broken && self.inner.is_open()
    }
}

/// Opens connections with a connect timeout and the read/write timeouts set.
#[derive(Debug)]
pub struct RedisConnector {
    info: ConnectionInfo,
    connect_timeout: Duration,
    read_timeout: Duration,
}

impl RedisConnector {
    pub fn new(
        target: &RedisTarget,
        connect_timeout: Duration,
        read_timeout: Duration,
    ) -> RedisConnector {
        let addr = match &target.endpoint {
            Endpoint::Tcp {
                host,
                port,
                tls: false,
            } => ConnectionAddr::Tcp(host.clone(), *port),
            Endpoint::Tcp {
                host,
                port,
                tls: true,
            } => ConnectionAddr::TcpTls {
                host: host.clone(),
                port: *port,
                insecure: false,
                tls_params: None,
            },
            Endpoint::Unix { path } => ConnectionAddr::Unix(path.into()),
        };
        let mut redis_info = RedisConnectionInfo::default()
            .set_db(target.database)
            .set_skip_set_lib_name();
        if let Some(user) = &target.username {
            redis_info = redis_info.set_username(user);
        }
        if let Some(password) = &target.password {
            redis_info = redis_info.set_password(password);
        }
        let info = addr
            .into_connection_info()
            .expect("a ConnectionAddr always converts")
            .set_redis_settings(redis_info);
        RedisConnector {
            info,
            connect_timeout,
            read_timeout,
        }
    }
}

impl RedisConnector {
    fn connect(&self) -> RedisResult<RedisConnection> {
        crate::stats::STATS.connections_opened.incr();
        let client = redis::Client::open(self.info.clone())?;
        let conn = client.get_connection_with_timeout(self.connect_timeout)?;
        conn.set_read_timeout(Some(self.read_timeout))?;
        conn.set_write_timeout(Some(self.read_timeout))?;
        Ok(RedisConnection {
            inner: conn,
            broken: false,
        })
    }
}

/// Idle connections kept per target: a PHP worker uses one at a time; a few spare ones cost nothing.
const MAX_IDLE: usize = 4;

struct PoolInner {
    connector: RedisConnector,
    idle: Mutex<IdleConnections>,
}

/// Idle connections and the process that opened them: after a fork the child must not use (or
/// close) sockets it shares with its parent, even through a pool handle it already held.
struct IdleConnections {
    pid: u32,
    connections: Vec<RedisConnection>,
}

/// A cheap handle to one target's connections.
#[derive(Clone)]
pub struct Pool(Arc<PoolInner>);

impl Pool {
    /// An idle connection, or a new one (bounded by the connect timeout, no retries).
    pub fn get(&self) -> RedisResult<PooledConnection> {
        let idle = {
            let mut idle = self.0.idle.lock();
            let pid = std::process::id();
            if idle.pid != pid {
                std::mem::forget(std::mem::take(&mut idle.connections));
                idle.pid = pid;
            }
            idle.connections.pop()
        };
        let reused = idle.is_some();
        let conn = match idle {
            Some(conn) => conn,
            None => self.0.connector.connect()?,
        };
        Ok(PooledConnection {
            conn: Some(conn),
            pool: Arc::clone(&self.0),
            reused,
        })
    }

    /// A connection of the caller's own, outside the pool (the lease renewal thread's), with
    /// this read timeout.
    pub fn dedicated(&self, read_timeout: Duration) -> RedisResult<RedisConnection> {
        let conn = self.0.connector.connect()?;
        conn.inner.set_read_timeout(Some(read_timeout))?;
        conn.inner.set_write_timeout(Some(read_timeout))?;
        Ok(conn)
    }

    /// Identifies this pool among the process's pools while it lives.
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

/// A connection on loan; it goes back to the pool when dropped, unless it is broken.
pub struct PooledConnection {
    conn: Option<RedisConnection>,
    pool: Arc<PoolInner>,
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
        if let Some(conn) = self.conn.take() {
            let mut idle = self.pool.idle.lock();
            if conn.is_open() && idle.pid == std::process::id() && idle.connections.len() < MAX_IDLE
            {
                idle.connections.push(conn);
            }
        }
    }
}

/// Everything that makes two connections interchangeable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    target: RedisTarget,
    connect_timeout: Duration,
    read_timeout: Duration,
}

struct ProcessPools {
    pid: u32,
    pools: HashMap<PoolKey, Pool>,
}

static POOLS: Mutex<Option<ProcessPools>> = Mutex::new(None);

/// The pool for `target` in this process, built on first use. Building never connects: the first
/// checkout does, bounded by `connect_timeout`.
pub fn pool_for(target: &RedisTarget, connect_timeout: Duration, read_timeout: Duration) -> Pool {
    let key = PoolKey {
        target: target.clone(),
        connect_timeout,
        read_timeout,
    };
    let pid = std::process::id();
    let mut guard = POOLS.lock();
    if guard.as_ref().is_some_and(|p| p.pid != pid) {
        // Inherited through fork: the parent still owns these sockets.
        std::mem::forget(guard.take());
    }
    let process = guard.get_or_insert_with(|| ProcessPools {
        pid,
        pools: HashMap::new(),
    });
    process
        .pools
        .entry(key)
        .or_insert_with(|| {
            Pool(Arc::new(PoolInner {
                connector: RedisConnector::new(target, connect_timeout, read_timeout),
                idle: Mutex::new(IdleConnections {
                    pid,
                    connections: Vec::new(),
                }),
            }))
        })
        .clone()
}
