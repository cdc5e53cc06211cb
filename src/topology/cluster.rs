//! Redis Cluster through redis-rs's sync cluster client (`redis::cluster`): it keeps the slot
//! map, routes every command and script by its keys to the master of the slot (never a replica:
//! reads from replicas are not enabled), and follows `MOVED` and `ASK`.
//!
//! What this module adds around it:
//! - **Our own node connections** ([`NodeConnection`]): redis-rs opens every node's connection
//!   through its `Connect` trait, which here opens a `crate::connection::RedisConnection`, the
//!   one-Redis connection type. So a cluster gets the same deadlines (the connect, TLS handshake
//!   and AUTH within the connect timeout; each command and its whole reply within the read
//!   timeout), the same reply limits (`rustredis.max_data_bytes`), and the same retirement of a
//!   connection that failed: redis-rs would otherwise retry on the same socket and read the late
//!   reply as the answer to the retry. A failure other than Redis's own (a timeout, a reply over
//!   the limits, TLS) reaches redis-rs as an error it does not retry, so it fails the call at
//!   once, and leaves this module as the [`RedisCause`] it was. A node connection that carried a
//!   reply over [`crate::connection::MAX_REUSED_REPLY_BYTES`] is reconnected rather than kept.
//! - **One retry after a failover.** A call that fails with a connection refused or reset, or
//!   `READONLY`, `LOADING`, `CLUSTERDOWN`, `TRYAGAIN` or `MASTERDOWN` after redis-rs's own retries
//!   drops the whole cluster connection and runs once more on a new one, which reads the slot map
//!   afresh from the seeds. Every operation of the lock protocol may run twice (see `protocol`).
//! - **Fork safety.** Nothing connects before a session needs the cluster; each process keeps a
//!   few idle cluster connections, remembering its pid, and forgets (without closing) those it
//!   inherited through fork, whose sockets belong to the parent.

use std::cell::{Cell, RefCell};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redis::cluster::{ClusterClient, ClusterConnection, Connect};
use redis::{
    ConnectionAddr, ConnectionInfo, ConnectionLike, ErrorKind, IntoConnectionInfo, RedisError,
    RedisResult, Value,
};

use super::{cause_is_failover, ClusterTarget};
use crate::config::{Endpoint, RedisTarget, Settings, TlsOptions};
use crate::connection::{max_reply_bytes, RedisConnection};
use crate::error::RedisCause;
use crate::pool::{with_process_idle, Idle, ProcessIdle};
use crate::stats::STATS;

/// redis-rs's retries within one call (redirects, `TRYAGAIN` while a slot migrates, a reconnect):
/// with waits from [`MIN_RETRY_WAIT_MS`] doubling up to [`MAX_RETRY_WAIT_MS`], a few hundred ms.
const RETRIES: u32 = 5;
const MIN_RETRY_WAIT_MS: u64 = 10;
const MAX_RETRY_WAIT_MS: u64 = 200;

/// How the error that stands for a [`RedisCause`] inside redis-rs begins.
const CAUSE_MARK: &str = "rustredis connection";

thread_local! {
    /// The reply budget of the node connections of this thread's cluster call (see [`within`]).
    static MAX_REPLY_BYTES: Cell<Option<usize>> = const { Cell::new(None) };
    /// What a [`NodeConnection`] of this thread met that a redis-rs error cannot carry.
    static CAUSE: RefCell<Option<RedisCause>> = const { RefCell::new(None) };
}

/// How a failure other than Redis's own travels through redis-rs: as an error it does not retry,
/// whose text says what happened (redis-rs puts it into its own messages, such as the one about
/// every seed failing). [`within`] turns it back into the cause it was.
fn stash(cause: RedisCause) -> RedisError {
    let err = RedisError::from((ErrorKind::Client, CAUSE_MARK, cause.to_string()));
    CAUSE.with(|c| *c.borrow_mut() = Some(cause));
    err
}

/// Runs `f`, a call into redis-rs's cluster client, with node connections that take
/// `max_reply_bytes` per reply. Its error means what [`meaning`] says.
fn with_budget<T>(max_reply_bytes: usize, f: impl FnOnce() -> RedisResult<T>) -> RedisResult<T> {
    CAUSE.with(|c| c.borrow_mut().take());
    let outer = MAX_REPLY_BYTES.with(|m| m.replace(Some(max_reply_bytes)));
    let result = f();
    MAX_REPLY_BYTES.with(|m| m.set(outer));
    result
}

/// What `err`, from the last call into redis-rs on this thread, means.
fn meaning(err: RedisError) -> RedisCause {
    match CAUSE.with(|c| c.borrow_mut().take()) {
        // The error itself, not one of redis-rs's that quotes it (every seed failing).
        Some(cause)
            if err.kind() == ErrorKind::Client && err.to_string().starts_with(CAUSE_MARK) =>
        {
            cause
        }
        _ => RedisCause::of(err),
    }
}

/// [`with_budget`], and what its error means.
fn within<T>(max_reply_bytes: usize, f: impl FnOnce() -> RedisResult<T>) -> Result<T, RedisCause> {
    with_budget(max_reply_bytes, f).map_err(meaning)
}

/// The reply budget of a node connection used now.
fn current_max_reply_bytes() -> usize {
    MAX_REPLY_BYTES
        .with(Cell::get)
        .unwrap_or_else(|| max_reply_bytes(Settings::default().max_data_bytes))
}

/// redis-rs's "No connections found" after a fresh start from the seeds means they answered but
/// left it no node for the slot: say what that usually is.
fn explain(cause: RedisCause) -> RedisCause {
    match cause {
        RedisCause::Failed(err) if err.kind() == ErrorKind::ClusterConnectionNotFound => {
            RedisCause::Failed(RedisError::from((
                ErrorKind::ClusterConnectionNotFound,
                "no cluster node serves this session's slot",
                "the seeds answered but gave no slot map that covers it (are they cluster nodes, \
                 with cluster-enabled yes, and are all 16384 slots assigned?)"
                    .to_string(),
            )))
        }
        other => other,
    }
}

/// One node's connection inside a cluster connection (see the module documentation).
pub struct NodeConnection {
    inner: RedisConnection,
    /// What redis-rs set last (it sets it through `&self`); applied before each command.
    read_timeout: Cell<Duration>,
    /// Carried a reply over [`crate::connection::MAX_REUSED_REPLY_BYTES`]: reconnected before its next use.
    retired: bool,
}

impl NodeConnection {
    /// Runs `call` on the connection, with the read timeout and the reply budget in force now.
    fn call<T>(
        &mut self,
        call: impl FnOnce(&mut RedisConnection) -> RedisResult<T>,
    ) -> RedisResult<T> {
        if self.retired {
            // "Dropped", which makes redis-rs reconnect.
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "connection retired after a large reply",
            )
            .into());
        }
        self.inner.set_read_timeout(self.read_timeout.get());
        self.inner.set_max_reply_bytes(current_max_reply_bytes());
        match call(&mut self.inner) {
            Ok(reply) => {
                if !self.inner.reusable() {
                    self.retired = true;
                }
                Ok(reply)
            }
            // A dropped connection goes back to redis-rs as it is: it reconnects, and refreshes
            // the slots after a failover.
            Err(err) => match self.inner.cause(err) {
                RedisCause::Failed(err) | RedisCause::Dropped(err) => Err(err),
                cause => Err(stash(cause)),
            },
        }
    }
}

impl ConnectionLike for NodeConnection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.call(|conn| conn.req_packed_command(cmd))
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        self.call(|conn| conn.req_packed_commands(cmd, offset, count))
    }

    fn get_db(&self) -> i64 {
        0
    }

    fn check_connection(&mut self) -> bool {
        !self.retired
            && self
                .call(|conn| Ok(conn.check_connection()))
                .unwrap_or(false)
    }

    fn is_open(&self) -> bool {
        !self.retired && self.inner.is_open()
    }
}

/// The node redis-rs asks for, as a one-Redis target.
fn node_target(info: ConnectionInfo) -> RedisResult<RedisTarget> {
    let (host, port, tls) = match info.addr() {
        ConnectionAddr::Tcp(host, port) => (host.clone(), *port, false),
        ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port, true),
        other => {
            return Err(RedisError::from((
                ErrorKind::InvalidClientConfig,
                "a cluster node that is not a TCP address",
                other.to_string(),
            )))
        }
    };
    let settings = info.redis_settings();
    Ok(RedisTarget {
        endpoint: Endpoint::Tcp { host, port, tls },
        username: settings.username().map(str::to_string),
        password: settings.password().map(str::to_string),
        database: settings.db(),
        connect_timeout: None,
        read_timeout: None,
        // The server's certificate verified against the system's CAs, for the node's host.
        tls: TlsOptions::default(),
    })
}

impl Connect for NodeConnection {
    fn connect<T: IntoConnectionInfo>(info: T, timeout: Option<Duration>) -> RedisResult<Self> {
        STATS.connections_opened.incr();
        let target = node_target(info.into_connection_info()?)?;
        // redis-rs always passes the cluster's connection timeout; it sets the read timeout next.
        let timeout = timeout.unwrap_or(Duration::from_secs(1));
        match crate::connection::connect(&target, timeout, timeout, current_max_reply_bytes()) {
            Ok(inner) => Ok(NodeConnection {
                inner,
                read_timeout: Cell::new(timeout),
                retired: false,
            }),
            Err(RedisCause::Failed(err) | RedisCause::Dropped(err)) => Err(err),
            Err(cause) => Err(stash(cause)),
        }
    }

    fn send_packed_command(&mut self, cmd: &[u8]) -> RedisResult<()> {
        self.call(|conn| conn.send_packed(cmd))
    }

    /// Sending gets the read timeout too, as every command of a `RedisConnection` does.
    fn set_write_timeout(&self, _dur: Option<Duration>) -> RedisResult<()> {
        Ok(())
    }

    fn set_read_timeout(&self, dur: Option<Duration>) -> RedisResult<()> {
        if let Some(dur) = dur {
            self.read_timeout.set(dur);
        }
        Ok(())
    }

    fn recv_response(&mut self) -> RedisResult<Value> {
        self.call(RedisConnection::receive_one)
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
    key: Arc<Key>,
    client: ClusterClient,
    /// What a node connection's replies may take (see `crate::connection`).
    max_reply_bytes: usize,
}

/// A cheap handle to one cluster; building it never connects.
#[derive(Clone)]
pub struct Cluster(Arc<Shared>);

/// The idle cluster connections of this process, kept within `crate::pool`'s bounds (a PHP worker
/// uses one at a time, ZTS threads one each): at most 4 per cluster and 16 in all.
static IDLE: Mutex<Option<ProcessIdle<Arc<Key>, Connection>>> = Mutex::new(None);

fn with_idle<T>(f: impl FnOnce(&mut Idle<Arc<Key>, Connection>) -> T) -> T {
    with_process_idle(&IDLE, f)
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
        max_data_bytes: usize,
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
            key: Arc::new(Key {
                target: target.clone(),
                connect_timeout,
                read_timeout,
            }),
            client,
            max_reply_bytes: max_reply_bytes(max_data_bytes),
        }))
    }

    /// Identifies this cluster handle while it lives.
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// A new cluster connection: a seed that answers, its slot map, a connection to every node.
    fn connect(&self) -> Result<Connection, RedisCause> {
        within(self.0.max_reply_bytes, || {
            self.0.client.get_generic_connection::<NodeConnection>()
        })
    }

    fn checkout(&self) -> Result<Checkout, RedisCause> {
        let idle = with_idle(|idle| idle.take(&self.0.key));
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
        let closed = with_idle(|idle| idle.put(Arc::clone(&self.0.key), conn));
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
        let budget = self.0.max_reply_bytes;
        let mut conn = self.checkout()?;
        trip();
        let cause = match within(budget, || op(&mut *conn)) {
            Ok(value) => {
                self.keep(conn);
                return Ok(value);
            }
            Err(cause) => cause,
        };
        if !cause_is_failover(&cause) {
            // A Redis error reply leaves the connection as good as it was.
            if matches!(cause, RedisCause::Failed(_)) && conn.is_open() {
                self.keep(conn);
            }
            return Err(cause);
        }
        drop(conn);
        STATS.reconnects.incr();
        let mut fresh = Checkout {
            conn: Some(self.connect()?),
            pid: std::process::id(),
        };
        trip();
        match within(budget, || op(&mut *fresh)) {
            Ok(value) => {
                self.keep(fresh);
                Ok(value)
            }
            Err(cause) => Err(explain(cause)),
        }
    }

    /// A cluster connection of the caller's own (the lease renewal thread's), with this read
    /// timeout.
    pub fn dedicated(&self, read_timeout: Duration) -> Result<Dedicated, RedisCause> {
        let conn = self.connect()?;
        conn.set_read_timeout(Some(read_timeout))
            .map_err(RedisCause::Failed)?;
        Ok(Dedicated {
            conn,
            max_reply_bytes: self.0.max_reply_bytes,
        })
    }
}

/// A cluster connection outside the idle ones (see [`Cluster::dedicated`]).
pub struct Dedicated {
    conn: Connection,
    max_reply_bytes: usize,
}

impl Dedicated {
    /// What `err`, the error of its last command, means.
    pub fn cause(&mut self, err: RedisError) -> RedisCause {
        meaning(err)
    }
}

impl ConnectionLike for Dedicated {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        with_budget(self.max_reply_bytes, || self.conn.req_packed_command(cmd))
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        with_budget(self.max_reply_bytes, || {
            self.conn.req_packed_commands(cmd, offset, count)
        })
    }

    fn get_db(&self) -> i64 {
        0
    }

    fn check_connection(&mut self) -> bool {
        with_budget(self.max_reply_bytes, || Ok(self.conn.check_connection())).unwrap_or(false)
    }

    fn is_open(&self) -> bool {
        self.conn.is_open()
    }
}
