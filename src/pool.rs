//! Pooled Redis connections, one pool per Redis target per process.
//!
//! php-fpm runs MINIT in the master and then forks workers, so nothing here connects until the
//! first session of a process needs Redis. Each pool remembers the pid that built it; a process
//! that finds pools built by its parent (fork) forgets them without dropping them, because their
//! sockets are shared with the parent and their helper threads do not exist in the child.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use redis::{
    ConnectionAddr, ConnectionInfo, ConnectionLike, ErrorKind, IntoConnectionInfo,
    RedisConnectionInfo, RedisResult, Value,
};

use crate::config::{Endpoint, RedisTarget};

pub type Pool = r2d2::Pool<RedisConnector>;
pub type PooledConnection = r2d2::PooledConnection<RedisConnector>;

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

/// Opens connections with a connect timeout and sets the read/write timeouts on them, which the
/// stock `redis::Client` manager does not do.
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

impl r2d2::ManageConnection for RedisConnector {
    type Connection = RedisConnection;
    type Error = redis::RedisError;

    fn connect(&self) -> Result<RedisConnection, redis::RedisError> {
        let client = redis::Client::open(self.info.clone())?;
        let conn = client.get_connection_with_timeout(self.connect_timeout)?;
        conn.set_read_timeout(Some(self.read_timeout))?;
        conn.set_write_timeout(Some(self.read_timeout))?;
        Ok(RedisConnection {
            inner: conn,
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut RedisConnection) -> Result<(), redis::RedisError> {
        redis::cmd("PING").query::<()>(conn)
    }

    fn has_broken(&self, conn: &mut RedisConnection) -> bool {
        !conn.is_open()
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
        // Inherited through fork: the parent still owns these sockets and threads.
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
            r2d2::Pool::builder()
                // One PHP worker runs one request at a time; a few spare slots cover ZTS builds.
                .max_size(8)
                .min_idle(Some(0))
                // A PING per checkout would double the round trips; broken sockets are caught by
                // has_broken, and a connection that died while idle is retried once by the store.
                .test_on_check_out(false)
                .connection_timeout(connect_timeout)
                .build_unchecked(RedisConnector::new(target, connect_timeout, read_timeout))
        })
        .clone()
}
