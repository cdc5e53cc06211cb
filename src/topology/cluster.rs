//! Redis Cluster through redis-rs's sync cluster client (`redis::cluster`): it keeps the slot
//! map, routes every command and script by its keys to the master of the slot (never a replica:
//! reads from replicas are not enabled), and follows `MOVED` and `ASK`.
//!
//! What this module adds around it:
//! - **Node connections that can be trusted** ([`NodeConnection`]). A connection that timed out
//!   is retired, as in `crate::pool`: redis-rs would otherwise retry on the same socket and read
//!   the late reply as the answer to the retry. A timeout is also not retried at all (it fails
//!   the call within the read timeout), and a connection that carried a reply over
//!   [`MAX_REUSED_REPLY_BYTES`] is reconnected rather than kept.
//! - **One retry after a failover.** A call that fails with a connection refused or reset, or
//!   `READONLY`, `LOADING`, `CLUSTERDOWN`, `TRYAGAIN` or `MASTERDOWN` after redis-rs's own retries
//!   drops the whole cluster connection and runs once more on a new one, which reads the slot map
//!   afresh from the seeds. Every operation of the lock protocol may run twice (see `protocol`).
//! - **Fork safety.** Nothing connects before a session needs the cluster; each process keeps a
//!   few idle cluster connections, remembering its pid, and forgets (without closing) those it
//!   inherited through fork, whose sockets belong to the parent.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redis::cluster::{ClusterClient, ClusterConnection, Connect};
use redis::{
    ConnectionInfo, ConnectionLike, ErrorKind, IntoConnectionInfo, RedisError, RedisResult, Value,
};

use super::{is_failover, ClusterTarget};
use crate::connection::{reply_size, MAX_REUSED_REPLY_BYTES};
use crate::error::{ConnectStage, RedisCause};
use crate::stats::STATS;

/// redis-rs's retries within one call (redirects, `TRYAGAIN` while a slot migrates, a reconnect):
/// with waits from [`MIN_RETRY_WAIT_MS`] doubling up to [`MAX_RETRY_WAIT_MS`], a few hundred ms.
const RETRIES: u32 = 5;
const MIN_RETRY_WAIT_MS: u64 = 10;
const MAX_RETRY_WAIT_MS: u64 = 200;

/// Idle cluster connections a process keeps per cluster (a PHP worker uses one at a time; ZTS
/// threads one each), and clusters it keeps them for.
const MAX_IDLE_PER_CLUSTER: usize = 4;
const MAX_CLUSTERS: usize = 4;

thread_local! {
    /// Set by a [`NodeConnection`] of this thread whose read or connect timed out.
    static TIMED_OUT: Cell<bool> = const { Cell::new(false) };
}

/// How a timeout travels through redis-rs: as an error it does not retry. [`take_timeout`] turns
/// it back into the timeout it was.
fn timed_out() -> RedisError {
    TIMED_OUT.with(|t| t.set(true));
    RedisError::from((ErrorKind::Client, "no reply in time"))
}

/// `err`, or the timeout it stands for (see [`timed_out`]).
fn take_timeout(err: RedisError) -> RedisError {
    if TIMED_OUT.with(|t| t.replace(false)) {
        std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply in time").into()
    } else {
        err
    }
}

/// What `err`, from a cluster connection whose commands get `read_timeout`, means.
pub(crate) fn cause(err: RedisError, read_timeout: Duration) -> RedisCause {
    if err.is_timeout() {
        RedisCause::Timeout { read_timeout }
    } else {
        RedisCause::Failed(err)
    }
}

/// redis-rs's "No connections found" after a fresh start from the seeds means they answered but
/// left it no node for the slot: say what that usually is.
fn explain(err: RedisError) -> RedisError {
    if err.kind() != ErrorKind::ClusterConnectionNotFound {
        return err;
    }
    RedisError::from((
        ErrorKind::ClusterConnectionNotFound,
        "no cluster node serves this session's slot",
        "the seeds answered but gave no slot map that covers it (are they cluster nodes, with \
         cluster-enabled yes, and are all 16384 slots assigned?)"
            .to_string(),
    ))
}

/// One node's connection inside a cluster connection (see the module documentation).
pub struct NodeConnection {
    inner: redis::Connection,
    /// Timed out, failed, or carried an oversized reply: never used again.
    retired: bool,
}

impl NodeConnection {
    fn track<T>(
        &mut self,
        result: RedisResult<T>,
        size: impl FnOnce(&T) -> usize,
    ) -> RedisResult<T> {
        match result {
            Ok(reply) => {
                if size(&reply) > MAX_REUSED_REPLY_BYTES {
                    self.retired = true;
                }
                Ok(reply)
            }
            Err(err) if err.is_timeout() => {
                self.retired = true;
                Err(timed_out())
            }
            Err(err) => {
                if err.is_io_error()
                    || err.is_connection_dropped()
                    || err.kind() == ErrorKind::Parse
                {
                    self.retired = true;
                }
                Err(err)
            }
        }
    }

    /// What a retired connection answers: "dropped", which makes redis-rs reconnect.
    fn retired_error() -> RedisError {
        std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            "connection retired after a timeout or a large reply",
        )
        .into()
    }
}

impl ConnectionLike for NodeConnection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        if self.retired {
            return Err(Self::retired_error());
        }
        let result = self.inner.req_packed_command(cmd);
        self.track(result, reply_size)
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        if self.retired {
            return Err(Self::retired_error());
        }
        let result = self.inner.req_packed_commands(cmd, offset, count);
        self.track(result, |replies| replies.iter().map(reply_size).sum())
    }

    fn get_db(&self) -> i64 {
        0
    }

    fn check_connection(&mut self) -> bool {
        !self.retired && self.inner.check_connection()
    }

    fn is_open(&self) -> bool {
        !self.retired && self.inner.is_open()
    }
}

impl Connect for NodeConnection {
    fn connect<T: IntoConnectionInfo>(info: T, timeout: Option<Duration>) -> RedisResult<Self> {
        STATS.connections_opened.incr();
        let info: ConnectionInfo = info.into_connection_info()?;
        let settings = info.redis_settings().clone().set_skip_set_lib_name();
        let client = redis::Client::open(info.set_redis_settings(settings))?;
        let connected = match timeout {
            Some(timeout) => client.get_connection_with_timeout(timeout),
            None => client.get_connection(),
        };
        match connected {
            Ok(inner) => Ok(NodeConnection {
                inner,
                retired: false,
            }),
            Err(err) if err.is_timeout() => Err(timed_out()),
            Err(err) => Err(err),
        }
    }

    fn send_packed_command(&mut self, cmd: &[u8]) -> RedisResult<()> {
        if self.retired {
            return Err(Self::retired_error());
        }
        let result = self.inner.send_packed_command(cmd);
        self.track(result, |_| 0)
    }

    fn set_write_timeout(&self, dur: Option<Duration>) -> RedisResult<()> {
        self.inner.set_write_timeout(dur)
    }

    fn set_read_timeout(&self, dur: Option<Duration>) -> RedisResult<()> {
        self.inner.set_read_timeout(dur)
    }

    fn recv_response(&mut self) -> RedisResult<Value> {
        if self.retired {
            return Err(Self::retired_error());
        }
        let result = self.inner.recv_response();
        self.track(result, reply_size)
    }
}

/// A connection to the whole cluster.
pub type Connection = ClusterConnection<NodeConnection>;

/// Everything that makes two cluster connections interchangeable.
#[derive(Debug, PartialEq, Eq)]
struct Key {
    target: ClusterTarget,
    connect_timeout: Duration,
    read_timeout: Duration,
}

struct Shared {
    key: Key,
    client: ClusterClient,
}

/// A cheap handle to one cluster; building it never connects.
#[derive(Clone)]
pub struct Cluster(Arc<Shared>);

/// The idle cluster connections of the process `pid`, the least recently used cluster first.
struct ProcessIdle {
    pid: u32,
    clusters: Vec<(Arc<Shared>, Vec<Connection>)>,
}

static IDLE: Mutex<Option<ProcessIdle>> = Mutex::new(None);

fn with_idle<T>(f: impl FnOnce(&mut Vec<(Arc<Shared>, Vec<Connection>)>) -> T) -> T {
    let pid = std::process::id();
    let mut guard = IDLE.lock();
    if guard.as_ref().is_some_and(|idle| idle.pid != pid) {
        // Inherited through fork: the parent still owns these sockets.
        std::mem::forget(guard.take());
    }
    let idle = guard.get_or_insert_with(|| ProcessIdle {
        pid,
        clusters: Vec::new(),
    });
    f(&mut idle.clusters)
}

/// A cluster connection on loan; [`Checkout::keep`] gives it back to the idle ones.
struct Checkout {
    conn: Option<Connection>,
    pid: u32,
}

impl Deref for Checkout {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl DerefMut for Checkout {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if self.pid != std::process::id() {
            // On loan across a fork: the parent still owns its sockets.
            std::mem::forget(self.conn.take());
        }
    }
}

impl Cluster {
    pub fn new(
        target: &ClusterTarget,
        connect_timeout: Duration,
        read_timeout: Duration,
    ) -> Cluster {
        let scheme = if target.tls { "rediss" } else { "redis" };
        let seeds: Vec<String> = target
            .seeds
            .iter()
            .map(|node| format!("{scheme}://{node}"))
            .collect();
        let mut builder = ClusterClient::builder(seeds)
            .connection_timeout(connect_timeout)
            .response_timeout(read_timeout)
            .retries(RETRIES)
            .min_retry_wait(MIN_RETRY_WAIT_MS)
            .max_retry_wait(MAX_RETRY_WAIT_MS);
        if let Some(username) = &target.auth.username {
            builder = builder.username(username);
        }
        if let Some(password) = &target.auth.password {
            builder = builder.password(password);
        }
        let client = builder
            .build()
            .expect("seeds from a parsed save_path always make a cluster client");
        Cluster(Arc::new(Shared {
            key: Key {
                target: target.clone(),
                connect_timeout,
                read_timeout,
            },
            client,
        }))
    }

    /// Identifies this cluster handle while it lives.
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// What `err`, from [`Self::connect`], means.
    fn connect_cause(&self, err: RedisError) -> RedisCause {
        if err.is_timeout() {
            RedisCause::ConnectTimeout {
                stage: ConnectStage::Tcp,
                connect_timeout: self.0.key.connect_timeout,
            }
        } else {
            RedisCause::Failed(err)
        }
    }

    /// A new cluster connection: a seed that answers, its slot map, a connection to every node.
    fn connect(&self) -> RedisResult<Connection> {
        TIMED_OUT.with(|t| t.set(false));
        self.0
            .client
            .get_generic_connection::<NodeConnection>()
            .map_err(take_timeout)
    }

    fn checkout(&self) -> RedisResult<Checkout> {
        let idle = with_idle(|clusters| {
            let position = clusters.iter().position(|(c, _)| c.key == self.0.key)?;
            let entry = clusters.remove(position);
            clusters.push(entry);
            clusters.last_mut().and_then(|(_, conns)| conns.pop())
        });
        let conn = match idle {
            Some(conn) => conn,
            None => self.connect()?,
        };
        Ok(Checkout {
            conn: Some(conn),
            pid: std::process::id(),
        })
    }

    fn keep(&self, mut checkout: Checkout) {
        let Some(conn) = checkout.conn.take() else {
            return;
        };
        if checkout.pid != std::process::id() {
            std::mem::forget(conn);
            return;
        }
        let closed = with_idle(|clusters| {
            let position = clusters.iter().position(|(c, _)| c.key == self.0.key);
            let conns = match position {
                Some(position) => {
                    let entry = clusters.remove(position);
                    clusters.push(entry);
                    &mut clusters.last_mut().expect("just pushed").1
                }
                None => {
                    clusters.push((Arc::clone(&self.0), Vec::new()));
                    &mut clusters.last_mut().expect("just pushed").1
                }
            };
            let mut closed = Vec::new();
            if conns.len() < MAX_IDLE_PER_CLUSTER {
                conns.push(conn);
            } else {
                closed.push(conn);
            }
            while clusters.len() > MAX_CLUSTERS {
                closed.extend(clusters.remove(0).1);
            }
            closed
        });
        // Closed once the lock is released.
        drop(closed);
    }

    /// Runs `op` on a cluster connection (see the module documentation for the one retry).
    /// `trip` is called before each run.
    pub fn run<T>(
        &self,
        op: &mut dyn FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
        trip: &dyn Fn(),
    ) -> Result<T, RedisCause> {
        self.run_once_more(op, trip)
            .map_err(|err| cause(err, self.0.key.read_timeout))
    }

    fn run_once_more<T>(
        &self,
        op: &mut dyn FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
        trip: &dyn Fn(),
    ) -> RedisResult<T> {
        let mut conn = self.checkout()?;
        trip();
        TIMED_OUT.with(|t| t.set(false));
        let err = match op(&mut *conn) {
            Ok(value) => {
                self.keep(conn);
                return Ok(value);
            }
            Err(err) => take_timeout(err),
        };
        if !is_failover(&err) {
            if !err.is_timeout() && conn.is_open() {
                self.keep(conn);
            }
            return Err(err);
        }
        drop(conn);
        STATS.reconnects.incr();
        let mut fresh = Checkout {
            conn: Some(self.connect()?),
            pid: std::process::id(),
        };
        trip();
        match op(&mut *fresh) {
            Ok(value) => {
                self.keep(fresh);
                Ok(value)
            }
            Err(err) => Err(explain(take_timeout(err))),
        }
    }

    /// A cluster connection of the caller's own (the lease renewal thread's), with this read
    /// timeout.
    pub fn dedicated(&self, read_timeout: Duration) -> Result<Connection, RedisCause> {
        let timeouts = |conn: &Connection| {
            conn.set_read_timeout(Some(read_timeout))?;
            conn.set_write_timeout(Some(read_timeout))
        };
        let conn = self.connect().map_err(|err| self.connect_cause(err))?;
        timeouts(&conn).map_err(|err| cause(err, read_timeout))?;
        Ok(conn)
    }
}
