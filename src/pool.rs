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
    ConnectionAddr, ConnectionInfo, ConnectionLike, IntoConnectionInfo, RedisConnectionInfo,
};

use crate::config::{Endpoint, RedisTarget};

pub type Pool = r2d2::Pool<RedisConnector>;
pub type PooledConnection = r2d2::PooledConnection<RedisConnector>;

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
    type Connection = redis::Connection;
    type Error = redis::RedisError;

    fn connect(&self) -> Result<redis::Connection, redis::RedisError> {
        let client = redis::Client::open(self.info.clone())?;
        let conn = client.get_connection_with_timeout(self.connect_timeout)?;
        conn.set_read_timeout(Some(self.read_timeout))?;
        conn.set_write_timeout(Some(self.read_timeout))?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut redis::Connection) -> Result<(), redis::RedisError> {
        redis::cmd("PING").query::<()>(conn)
    }

    fn has_broken(&self, conn: &mut redis::Connection) -> bool {
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
