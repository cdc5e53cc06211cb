//! A master found through Redis Sentinel, with redis-rs's sentinel client (`redis::sentinel`): it
//! asks a Sentinel for the master monitored under a name and confirms with `ROLE` that the node
//! it names answers as a master, so a demoted master is never used.
//!
//! What this module adds around it:
//! - **Bounded time.** redis-rs's sync Sentinel client has no connect or read timeout, so one
//!   stopped Sentinel would hang the request. Each Sentinel is asked on a short-lived thread of
//!   its own, all at once; the first master confirmed wins, and whoever has not answered within
//!   the timeouts is given up on (its thread ends when its socket does; at most
//!   [`MAX_ASKING`] ask at a time per process).
//! - **One master per process.** The master found is remembered by the process (by pid: a forked
//!   child asks again) and its connections are `crate::pool`'s, pooled like one Redis's. Only
//!   the first session of a process, and the first after a failover, asks the Sentinels.
//! - **Failover.** A call that fails as a failover does (the master refuses or drops the
//!   connection, `READONLY` from a demoted master, `LOADING`, `MASTERDOWN`) forgets the master,
//!   asks the Sentinels again and runs once more on the master they name now. Every operation of
//!   the lock protocol may run twice (see `protocol`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::sentinel::SentinelNodeConnectionInfo;
use redis::{
    ConnectionAddr, ConnectionLike, ErrorKind, IntoConnectionInfo, RedisConnectionInfo, RedisError,
    RedisResult, TlsMode,
};

use super::{
    cause_is_failover, cause_is_timeout, run_pooled, Credentials, Failure, Node, SentinelTarget,
};
use crate::config::{Endpoint, RedisTarget, TlsOptions};
use crate::error::RedisCause;
use crate::pool::{pool_for, Pool, RedisConnection};

/// Threads asking Sentinels at once, per process.
const MAX_ASKING: usize = 16;
static ASKING: AtomicUsize = AtomicUsize::new(0);
/// Masters a process remembers (one per distinct sentinel save_path).
const MAX_MASTERS: usize = 16;

struct Shared {
    target: SentinelTarget,
    connect_timeout: Duration,
    read_timeout: Duration,
    max_data_bytes: usize,
}

/// A cheap handle to one Sentinel-monitored master; building it never connects.
#[derive(Clone)]
pub struct Sentinel(Arc<Shared>);

/// The masters this process found, by the pid that found them.
struct Masters {
    pid: u32,
    found: Vec<(SentinelTarget, Node)>,
}

static MASTERS: Mutex<Option<Masters>> = Mutex::new(None);

fn with_masters<T>(f: impl FnOnce(&mut Vec<(SentinelTarget, Node)>) -> T) -> T {
    let pid = std::process::id();
    let mut guard = MASTERS.lock();
    let masters = match guard.as_mut() {
        Some(masters) if masters.pid == pid => masters,
        _ => guard.insert(Masters {
            pid,
            found: Vec::new(),
        }),
    };
    f(&mut masters.found)
}

fn connection_settings(credentials: &Credentials, database: i64) -> RedisConnectionInfo {
    let mut settings = RedisConnectionInfo::default()
        .set_db(database)
        .set_skip_set_lib_name();
    if let Some(username) = &credentials.username {
        settings = settings.set_username(username);
    }
    if let Some(password) = &credentials.password {
        settings = settings.set_password(password);
    }
    settings
}

/// Asks one Sentinel for the master of `target` (and checks its ROLE): redis-rs's
/// `Sentinel::master_for`.
fn ask(target: &SentinelTarget, sentinel: &Node) -> RedisResult<Node> {
    let (host, port) = (sentinel.host.clone(), sentinel.port);
    let addr = if target.tls {
        ConnectionAddr::TcpTls {
            host,
            port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(host, port)
    };
    let info = addr
        .into_connection_info()?
        .set_redis_settings(connection_settings(&target.sentinel_auth, 0));
    let mut node_info = SentinelNodeConnectionInfo::default()
        .set_redis_connection_info(connection_settings(&target.auth, target.database));
    if target.tls {
        node_info = node_info.set_tls_mode(TlsMode::Secure);
    }
    let client = redis::sentinel::Sentinel::build(vec![info])?
        .master_for(&target.master, Some(&node_info))?;
    match client.get_connection_info().addr() {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => Ok(Node {
            host: host.clone(),
            port: *port,
        }),
        _ => Err(RedisError::from((
            ErrorKind::Client,
            "the Sentinel named a master that is not a TCP address",
        ))),
    }
}

impl Sentinel {
    pub fn new(
        target: &SentinelTarget,
        connect_timeout: Duration,
        read_timeout: Duration,
        max_data_bytes: usize,
    ) -> Sentinel {
        Sentinel(Arc::new(Shared {
            target: target.clone(),
            connect_timeout,
            read_timeout,
            max_data_bytes,
        }))
    }

    /// Identifies this handle while it lives.
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// The master this process knows, or the one the Sentinels name now.
    fn master(&self) -> RedisResult<Node> {
        let known = with_masters(|found| {
            found
                .iter()
                .find(|(target, _)| *target == self.0.target)
                .map(|(_, master)| master.clone())
        });
        if let Some(master) = known {
            return Ok(master);
        }
        let master = self.ask_all()?;
        with_masters(|found| {
            found.retain(|(target, _)| *target != self.0.target);
            if found.len() >= MAX_MASTERS {
                found.remove(0);
            }
            found.push((self.0.target.clone(), master.clone()));
        });
        Ok(master)
    }

    /// Forgets `master` (if it is still the one remembered): the next call asks the Sentinels.
    fn forget(&self, master: Option<&Node>) {
        with_masters(|found| {
            found.retain(|(target, known)| {
                *target != self.0.target || master.is_some_and(|m| m != known)
            })
        });
    }

    /// Asks every Sentinel at once (see the module documentation); the first confirmed master
    /// wins. The error names every Sentinel's answer, or that it gave none in time.
    fn ask_all(&self) -> RedisResult<Node> {
        let started_at = Instant::now();
        let deadline = started_at + self.0.connect_timeout * 2 + self.0.read_timeout;
        let (sender, answers) = std::sync::mpsc::channel();
        let mut asked = Vec::new();
        for sentinel in &self.0.target.sentinels {
            if ASKING.fetch_add(1, Ordering::AcqRel) >= MAX_ASKING {
                ASKING.fetch_sub(1, Ordering::AcqRel);
                continue;
            }
            let (sender, target, node) = (sender.clone(), self.0.target.clone(), sentinel.clone());
            let spawned = std::thread::Builder::new()
                .name("rustredis-sentinel".into())
                .spawn(move || {
                    crate::lease::run_thread_setup();
                    let answer = ask(&target, &node);
                    ASKING.fetch_sub(1, Ordering::AcqRel);
                    let _ = sender.send((node, answer));
                });
            match spawned {
                Ok(_) => asked.push(sentinel.clone()),
                Err(_) => {
                    ASKING.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
        drop(sender);
        let mut failures: Vec<(Node, String)> = Vec::new();
        while failures.len() < asked.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match answers.recv_timeout(left) {
                Ok((_, Ok(master))) => return Ok(master),
                Ok((sentinel, Err(err))) => failures.push((sentinel, err.to_string())),
                Err(_) => break,
            }
        }
        let waited = started_at.elapsed().as_millis();
        for sentinel in &self.0.target.sentinels {
            if !failures.iter().any(|(s, _)| s == sentinel) {
                let why = if asked.contains(sentinel) {
                    format!("no answer within {waited} ms")
                } else {
                    "not asked: too many Sentinel requests still unanswered".to_string()
                };
                failures.push((sentinel.clone(), why));
            }
        }
        let detail = failures
            .iter()
            .map(|(sentinel, why)| format!("{sentinel}: {why}"))
            .collect::<Vec<_>>()
            .join("; ");
        Err(RedisError::from((
            ErrorKind::Io,
            "no Sentinel named a reachable master",
            format!("master '{}' ({detail})", self.0.target.master),
        )))
    }

    fn pool(&self, master: &Node) -> Pool {
        let target = RedisTarget {
            endpoint: Endpoint::Tcp {
                host: master.host.clone(),
                port: master.port,
                tls: self.0.target.tls,
            },
            username: self.0.target.auth.username.clone(),
            password: self.0.target.auth.password.clone(),
            database: self.0.target.database,
            connect_timeout: None,
            read_timeout: None,
            tls: TlsOptions::default(),
        };
        pool_for(
            &target,
            self.0.connect_timeout,
            self.0.read_timeout,
            self.0.max_data_bytes,
        )
    }

    fn failure_at(&self, master: &Node, cause: RedisCause) -> Failure {
        let scheme = if self.0.target.tls { "tls" } else { "tcp" };
        Failure {
            cause,
            at: Some(format!(
                "{scheme}://{master} (master '{}' named by the Sentinels)",
                self.0.target.master
            )),
        }
    }

    fn run_on<T>(
        &self,
        master: &Node,
        op: &mut dyn FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
        trip: &dyn Fn(),
    ) -> Result<T, RedisCause> {
        run_pooled(&self.pool(master), op, trip)
    }

    /// Runs `op` on the master, once more on the master the Sentinels name after a failover.
    pub fn run<T>(
        &self,
        op: &mut dyn FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
        trip: &dyn Fn(),
    ) -> Result<T, Failure> {
        let master = self.master().map_err(RedisCause::Failed)?;
        match self.run_on(&master, op, trip) {
            Ok(value) => Ok(value),
            Err(cause) if cause_is_failover(&cause) => {
                self.forget(Some(&master));
                let now = self.master().map_err(RedisCause::Failed)?;
                self.run_on(&now, op, trip)
                    .map_err(|cause| self.failure_at(&now, cause))
            }
            Err(cause) => {
                if cause_is_timeout(&cause) {
                    // A master that stopped answering may be on its way out.
                    self.forget(Some(&master));
                }
                Err(self.failure_at(&master, cause))
            }
        }
    }

    /// A connection of the caller's own (the lease renewal thread's) to the master.
    pub fn dedicated(&self, read_timeout: Duration) -> Result<RedisConnection, RedisCause> {
        let master = self.master().map_err(RedisCause::Failed)?;
        self.pool(&master).dedicated(read_timeout)
    }

    /// A call on a [`Self::dedicated`] connection failed with `cause`.
    pub fn failed(&self, cause: &RedisCause) {
        if cause_is_failover(cause) || cause_is_timeout(cause) {
            self.forget(None);
        }
    }
}
