//! Sessions beyond one Redis: Redis Cluster and Redis Sentinel.
//!
//! `session.save_path` names one of three topologies ([`Location::parse`]):
//! - one Redis (`tcp://`, `tls://`, `unix://`, `redis://`, `rediss://`: [`SavePath`]);
//! - a Redis Cluster, in phpredis's `rediscluster` syntax (`seed[]=h1:7000&seed[]=h2:7000&…`,
//!   so an existing save_path works unchanged) or as a URL (`cluster://h1:7000,h2:7000?…`,
//!   `clusters://` for TLS);
//! - a master found through Redis Sentinel (`sentinel://h1:26379,h2:26379?master=<name>&…`,
//!   `sentinels://` for TLS, both to the Sentinels and to the master).
//!
//! Every form is parsed completely before anything connects; a malformed one is refused with one
//! message that names what is wrong.

pub mod cluster;
pub mod sentinel;

use std::fmt;
use std::time::Duration;

use redis::{ConnectionLike, ErrorKind, RedisError, RedisResult, ServerErrorKind, Value};

use crate::config::{
    apply_auth, bad, decode, parse_database, parse_seconds, split_host_port, RedisTarget, SavePath,
    SavePathError, DEFAULT_PREFIX, IGNORED_PHPREDIS_PARAMS,
};
use crate::error::RedisCause;
use crate::keys::{cluster_prefix_problem, KeyLayout};
use crate::pool::{pool_for, Pool, RedisConnection};
use crate::stats::STATS;

/// The prefix phpredis's `rediscluster` session handler uses, so a fleet can switch handlers
/// without logging anyone out. Both cluster forms default to it.
pub const CLUSTER_DEFAULT_PREFIX: &str = "PHPREDIS_CLUSTER_SESSION:";
const CLUSTER_DEFAULT_PORT: u16 = 6379;
const SENTINEL_DEFAULT_PORT: u16 = 26379;

/// One server of a list (a cluster seed, a Sentinel).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Node {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn node_list(nodes: &[Node]) -> String {
    nodes
        .iter()
        .map(Node::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A user name and password (either may be absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
}

/// A Redis Cluster: where to start discovering it, and how to talk to every node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClusterTarget {
    pub seeds: Vec<Node>,
    pub tls: bool,
    pub auth: Credentials,
    /// From the save_path's `timeout`/`read_timeout`; `None` means "use the INI setting".
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
}

/// A master known to a set of Sentinels by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SentinelTarget {
    pub sentinels: Vec<Node>,
    /// TLS to the Sentinels and to the master.
    pub tls: bool,
    /// The name the Sentinels monitor the master under (`master=`).
    pub master: String,
    pub database: i64,
    /// The master's credentials (`auth`).
    pub auth: Credentials,
    /// The Sentinels' credentials (`sentinel_auth`).
    pub sentinel_auth: Credentials,
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
}

/// Where the sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    Standalone(RedisTarget),
    Cluster(ClusterTarget),
    Sentinel(SentinelTarget),
}

impl Topology {
    /// The save_path's `timeout`, if it has one.
    pub fn connect_timeout(&self) -> Option<Duration> {
        match self {
            Topology::Standalone(target) => target.connect_timeout,
            Topology::Cluster(cluster) => cluster.connect_timeout,
            Topology::Sentinel(sentinel) => sentinel.connect_timeout,
        }
    }

    /// The save_path's `read_timeout`, if it has one.
    pub fn read_timeout(&self) -> Option<Duration> {
        match self {
            Topology::Standalone(target) => target.read_timeout,
            Topology::Cluster(cluster) => cluster.read_timeout,
            Topology::Sentinel(sentinel) => sentinel.read_timeout,
        }
    }
}

impl Topology {
    /// How the keys of a session are named here.
    pub fn key_layout(&self) -> KeyLayout {
        match self {
            Topology::Cluster(_) => KeyLayout::Cluster,
            Topology::Standalone(_) | Topology::Sentinel(_) => KeyLayout::Phpredis,
        }
    }
}

impl fmt::Display for Topology {
    /// How warnings name the endpoint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topology::Standalone(target) => write!(f, "{}", target.endpoint),
            Topology::Cluster(cluster) => write!(
                f,
                "{}://{}",
                if cluster.tls { "clusters" } else { "cluster" },
                node_list(&cluster.seeds)
            ),
            Topology::Sentinel(sentinel) => write!(
                f,
                "{}://{} (master '{}')",
                if sentinel.tls {
                    "sentinels"
                } else {
                    "sentinel"
                },
                node_list(&sentinel.sentinels),
                sentinel.master
            ),
        }
    }
}

/// A parsed `session.save_path`: the topology and the key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub topology: Topology,
    pub prefix: Vec<u8>,
}

/// Which of the save_path forms is being parsed (for the parameters it knows and its messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    PhpredisCluster,
    ClusterUrl,
    Sentinel,
}

impl Form {
    fn known(self) -> &'static str {
        match self {
            Form::PhpredisCluster => "seed[], auth, user, prefix, timeout, read_timeout",
            Form::ClusterUrl => "auth, user, prefix, timeout, read_timeout",
            Form::Sentinel => {
                "master, database, auth, user, sentinel_auth, prefix, timeout, read_timeout"
            }
        }
    }
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Form::PhpredisCluster => "a cluster save_path (seed[]=…)",
            Form::ClusterUrl => "cluster://",
            Form::Sentinel => "sentinel://",
        })
    }
}

/// The query parameters of the cluster and Sentinel forms.
#[derive(Debug, Default)]
struct Params {
    seeds: Vec<String>,
    auth: Vec<String>,
    sentinel_auth: Vec<String>,
    user: Option<String>,
    prefix: Option<Vec<u8>>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    database: Option<i64>,
    master: Option<String>,
}

impl Params {
    fn parse(query: &str, form: Form) -> Result<Params, SavePathError> {
        let mut params = Params::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            // PHP decodes the names too (seed%5B%5D is seed[]).
            let name = decode(name, "a parameter name")?;
            let value = decode(value, &name)?;
            let sentinel = form == Form::Sentinel;
            match name.as_str() {
                "seed[]" if form == Form::PhpredisCluster => params.seeds.push(value),
                "seed" if form == Form::PhpredisCluster => {
                    return bad("seed must be a list: seed[]=host:port&seed[]=host:port")
                }
                "auth" => params.auth = vec![value],
                "auth[]" => params.auth.push(value),
                "sentinel_auth" if sentinel => params.sentinel_auth = vec![value],
                "sentinel_auth[]" if sentinel => params.sentinel_auth.push(value),
                "user" | "username" => params.user = Some(value),
                "prefix" => params.prefix = Some(value.into_bytes()),
                "timeout" => params.connect_timeout = Some(parse_seconds(&name, &value)?),
                "read_timeout" => params.read_timeout = Some(parse_seconds(&name, &value)?),
                "database" | "db" => params.database = Some(parse_database(&value)?),
                "master" if sentinel => params.master = Some(value),
                _ if IGNORED_PHPREDIS_PARAMS.contains(&name.as_str()) => {}
                _ => {
                    return bad(format!(
                        "unknown parameter '{name}' for {form} (known: {})",
                        form.known()
                    ))
                }
            }
        }
        Ok(params)
    }

    /// `auth`/`auth[]` and `user`, then the credentials a URL's `user:password@` gave.
    fn credentials(
        &mut self,
        from_url: Credentials,
        sentinel: bool,
    ) -> Result<Credentials, SavePathError> {
        let (parts, param) = if sentinel {
            (std::mem::take(&mut self.sentinel_auth), "sentinel_auth")
        } else {
            (std::mem::take(&mut self.auth), "auth")
        };
        let mut credentials = from_url;
        if !sentinel && self.user.is_some() {
            credentials.username = self.user.take();
        }
        apply_auth(
            parts,
            param,
            &mut credentials.username,
            &mut credentials.password,
        )?;
        Ok(credentials)
    }
}

/// `h1:p1,h2:p2` (IPv6 in brackets); `what` names the list in errors.
fn parse_nodes(list: &str, default_port: u16, what: &str) -> Result<Vec<Node>, SavePathError> {
    let mut nodes = Vec::new();
    for item in list.split(',').map(str::trim) {
        if item.is_empty() {
            return bad(format!("an empty entry in the {what} list '{list}'"));
        }
        let (host, port) = split_host_port(item, default_port)?;
        nodes.push(Node { host, port });
    }
    Ok(nodes)
}

/// The scheme of `raw` (`tcp`, `cluster`, …) and the rest after `://`, if it has one.
fn split_scheme(raw: &str) -> Option<(String, &str)> {
    let (scheme, rest) = raw.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
    valid.then(|| (scheme.to_ascii_lowercase(), rest))
}

/// phpredis's `rediscluster` save_path: a query string with `seed[]` entries and no scheme.
fn is_phpredis_cluster(raw: &str) -> bool {
    split_scheme(raw).is_none()
        && raw.split('&').any(|pair| {
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            matches!(
                name.to_ascii_lowercase().as_str(),
                "seed[]" | "seed" | "seed%5b%5d"
            )
        })
}

/// A URL's `user:password@host,host/path?query`, split up: credentials, the host list, the path
/// and the query.
struct UrlParts<'a> {
    credentials: Credentials,
    hosts: &'a str,
    path: &'a str,
    query: &'a str,
}

fn split_url(rest: &str) -> Result<UrlParts<'_>, SavePathError> {
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = location.split_once('/').unwrap_or((location, ""));
    let mut credentials = Credentials::default();
    let hosts = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, pass) = userinfo.split_once(':').unwrap_or(("", userinfo));
            if !user.is_empty() {
                credentials.username = Some(decode(user, "user name")?);
            }
            if !pass.is_empty() {
                credentials.password = Some(decode(pass, "password")?);
            }
            hosts
        }
        None => authority,
    };
    Ok(UrlParts {
        credentials,
        hosts,
        path,
        query,
    })
}

fn only_database_zero(database: Option<i64>) -> Result<(), SavePathError> {
    match database {
        None | Some(0) => Ok(()),
        Some(db) => bad(format!(
            "database {db}: a Redis Cluster has only database 0 (remove database=)"
        )),
    }
}

impl Location {
    /// Parses every save_path form (see the module documentation).
    pub fn parse(raw: &str) -> Result<Location, SavePathError> {
        let raw = raw.trim();
        if is_phpredis_cluster(raw) {
            return Self::parse_phpredis_cluster(raw);
        }
        match split_scheme(raw) {
            Some((scheme, rest)) if scheme == "cluster" || scheme == "clusters" => {
                Self::parse_cluster_url(rest, scheme == "clusters")
            }
            Some((scheme, rest)) if scheme == "sentinel" || scheme == "sentinels" => {
                Self::parse_sentinel(rest, scheme == "sentinels")
            }
            _ => SavePath::parse(raw).map(|path| Location {
                topology: Topology::Standalone(path.target),
                prefix: path.prefix,
            }),
        }
    }

    fn cluster(
        seeds: Vec<Node>,
        tls: bool,
        from_url: Credentials,
        mut params: Params,
    ) -> Result<Location, SavePathError> {
        only_database_zero(params.database)?;
        let auth = params.credentials(from_url, false)?;
        let prefix = params
            .prefix
            .take()
            .unwrap_or_else(|| CLUSTER_DEFAULT_PREFIX.as_bytes().to_vec());
        if let Some(problem) = cluster_prefix_problem(&prefix) {
            return bad(problem);
        }
        Ok(Location {
            topology: Topology::Cluster(ClusterTarget {
                seeds,
                tls,
                auth,
                connect_timeout: params.connect_timeout,
                read_timeout: params.read_timeout,
            }),
            prefix,
        })
    }

    /// `seed[]=h1:7000&seed[]=h2:7000&timeout=1&read_timeout=2&auth=…&prefix=…&persistent=1&failover=error`
    fn parse_phpredis_cluster(raw: &str) -> Result<Location, SavePathError> {
        let mut params = Params::parse(raw, Form::PhpredisCluster)?;
        if params.seeds.is_empty() {
            return bad("no seed[]=host:port in the cluster save_path");
        }
        let mut seeds = Vec::new();
        let mut tls = None;
        for seed in std::mem::take(&mut params.seeds) {
            let (seed_tls, host_port) = match split_scheme(&seed) {
                Some((scheme, rest)) if scheme == "tcp" => (false, rest),
                Some((scheme, rest)) if scheme == "tls" => (true, rest),
                Some((scheme, _)) => {
                    return bad(format!(
                        "seed '{seed}': unknown scheme '{scheme}://' (use host:port or tls://host:port)"
                    ))
                }
                None => (false, seed.as_str()),
            };
            if tls.is_some_and(|tls| tls != seed_tls) {
                return bad("the seeds mix tls:// and plain TCP; use one for all");
            }
            tls = Some(seed_tls);
            seeds.extend(parse_nodes(host_port, CLUSTER_DEFAULT_PORT, "seed")?);
        }
        Self::cluster(seeds, tls == Some(true), Credentials::default(), params)
    }

    /// `cluster://[user:password@]h1:7000,h2:7000?auth=…&prefix=…`
    fn parse_cluster_url(rest: &str, tls: bool) -> Result<Location, SavePathError> {
        let url = split_url(rest)?;
        let mut params = Params::parse(url.query, Form::ClusterUrl)?;
        if !url.path.is_empty() {
            params.database = Some(parse_database(url.path)?);
        }
        if url.hosts.is_empty() {
            return bad("no nodes after cluster://; list them as cluster://h1:port,h2:port");
        }
        let seeds = parse_nodes(url.hosts, CLUSTER_DEFAULT_PORT, "cluster node")?;
        Self::cluster(seeds, tls, url.credentials, params)
    }

    /// `sentinel://h1:26379,h2:26379?master=mymaster&database=0&auth=…&sentinel_auth=…&prefix=…`
    fn parse_sentinel(rest: &str, tls: bool) -> Result<Location, SavePathError> {
        let url = split_url(rest)?;
        if url.credentials != Credentials::default() {
            return bad(
                "sentinel:// takes no user:password@; use auth= for the master and sentinel_auth= \
                 for the Sentinels",
            );
        }
        let mut params = Params::parse(url.query, Form::Sentinel)?;
        if url.hosts.is_empty() {
            return bad(
                "no Sentinels after sentinel://; list them as sentinel://h1:26379,h2:26379",
            );
        }
        let sentinels = parse_nodes(url.hosts, SENTINEL_DEFAULT_PORT, "Sentinel")?;
        let master = match params.master.take() {
            Some(master) if !master.is_empty() => master,
            _ => return bad(
                "sentinel:// needs master=<name>, the name the Sentinels monitor the master under",
            ),
        };
        let mut database = params.database.unwrap_or(0);
        if !url.path.is_empty() && params.database.is_none() {
            database = parse_database(url.path)?;
        }
        let auth = params.credentials(Credentials::default(), false)?;
        let sentinel_auth = params.credentials(Credentials::default(), true)?;
        Ok(Location {
            topology: Topology::Sentinel(SentinelTarget {
                sentinels,
                tls,
                master,
                database,
                auth,
                sentinel_auth,
                connect_timeout: params.connect_timeout,
                read_timeout: params.read_timeout,
            }),
            prefix: params
                .prefix
                .unwrap_or_else(|| DEFAULT_PREFIX.as_bytes().to_vec()),
        })
    }
}

/// Whether `err` says the servers changed under us (a master died or was demoted, a slot moved,
/// a cluster is electing), so that a fresh look at them may succeed where this one failed.
pub(crate) fn is_failover(err: &RedisError) -> bool {
    if err.is_timeout() {
        return false;
    }
    match err.kind() {
        ErrorKind::Io | ErrorKind::ClusterConnectionNotFound => true,
        ErrorKind::Server(kind) => matches!(
            kind,
            ServerErrorKind::ReadOnly
                | ServerErrorKind::BusyLoading
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::TryAgain
                | ServerErrorKind::MasterDown
                | ServerErrorKind::Moved
                | ServerErrorKind::Ask
        ),
        // redis-rs's "Slot refresh error", "Missing slot coverage": the slot map is incomplete.
        ErrorKind::Client => true,
        _ => false,
    }
}

/// Whether `cause` is a failure [`is_failover`] names.
pub(crate) fn cause_is_failover(cause: &RedisCause) -> bool {
    matches!(cause, RedisCause::Failed(err) | RedisCause::Dropped(err) if is_failover(err))
}

/// Whether `cause` is a connect or a command running out of time.
pub(crate) fn cause_is_timeout(cause: &RedisCause) -> bool {
    matches!(
        cause,
        RedisCause::Timeout { .. } | RedisCause::ConnectTimeout { .. }
    )
}

/// A call that failed, and where, when that is more precise than the save_path (the master the
/// Sentinels named).
#[derive(Debug)]
pub struct Failure {
    pub cause: RedisCause,
    pub at: Option<String>,
}

impl From<RedisCause> for Failure {
    fn from(cause: RedisCause) -> Failure {
        Failure { cause, at: None }
    }
}

/// How a handler reaches its sessions: a cheap handle that never connects when built.
#[derive(Clone)]
pub enum Backend {
    Standalone(Pool),
    Cluster(cluster::Cluster),
    Sentinel(sentinel::Sentinel),
}

impl Backend {
    /// Replies may take `max_data_bytes` (rustredis.max_data_bytes) plus what the protocol
    /// needs around it.
    pub fn new(
        topology: &Topology,
        connect_timeout: Duration,
        read_timeout: Duration,
        max_data_bytes: usize,
    ) -> Backend {
        match topology {
            Topology::Standalone(target) => Backend::Standalone(pool_for(
                target,
                connect_timeout,
                read_timeout,
                max_data_bytes,
            )),
            Topology::Cluster(target) => Backend::Cluster(cluster::Cluster::new(
                target,
                connect_timeout,
                read_timeout,
                max_data_bytes,
            )),
            Topology::Sentinel(target) => Backend::Sentinel(sentinel::Sentinel::new(
                target,
                connect_timeout,
                read_timeout,
                max_data_bytes,
            )),
        }
    }

    /// Whether a failover can move its master (a cluster, a Sentinel master).
    pub fn fails_over(&self) -> bool {
        !matches!(self, Backend::Standalone(_))
    }

    /// Identifies this handle while it lives.
    pub fn id(&self) -> usize {
        match self {
            Backend::Standalone(pool) => pool.id(),
            Backend::Cluster(cluster) => cluster.id(),
            Backend::Sentinel(sentinel) => sentinel.id(),
        }
    }

    /// Runs one command (or pipeline, or script) `op`; `trip` is called before each run, so it
    /// counts round trips.
    pub fn run<T>(
        &self,
        op: &mut dyn FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
        trip: &dyn Fn(),
    ) -> Result<T, Failure> {
        match self {
            Backend::Standalone(pool) => run_pooled(pool, op, trip).map_err(Failure::from),
            Backend::Cluster(cluster) => cluster.run(op, trip).map_err(Failure::from),
            Backend::Sentinel(sentinel) => sentinel.run(op, trip),
        }
    }

    /// A connection of the caller's own (the lease renewal thread's), with this read timeout.
    pub fn dedicated(&self, read_timeout: Duration) -> Result<Dedicated, RedisCause> {
        Ok(match self {
            Backend::Standalone(pool) => Dedicated::One(pool.dedicated(read_timeout)?),
            Backend::Sentinel(sentinel) => Dedicated::One(sentinel.dedicated(read_timeout)?),
            Backend::Cluster(cluster) => Dedicated::Cluster(cluster.dedicated(read_timeout)?),
        })
    }

    /// A call on a [`Self::dedicated`] connection failed with `cause`: a Sentinel backend asks
    /// the Sentinels again next time.
    pub fn failed(&self, cause: &RedisCause) {
        if let Backend::Sentinel(sentinel) = self {
            sentinel.failed(cause);
        }
    }
}

/// Runs `op` on a pooled connection. A connection that died while idle in the pool (Redis
/// restarted, an idle timeout) fails before Redis ran anything, so `op` is retried once on a
/// fresh one; every operation is idempotent (see `protocol`), so the second run is harmless
/// should Redis have run the first after all.
pub(crate) fn run_pooled<T>(
    pool: &Pool,
    op: &mut dyn FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
    trip: &dyn Fn(),
) -> Result<T, RedisCause> {
    let mut conn = pool.get()?;
    trip();
    match op_on(&mut conn, op) {
        Err(err) if conn.reused() && err.is_connection_dropped() && !err.is_timeout() => {
            drop(conn);
            STATS.reconnects.incr();
            let mut fresh = pool.get()?;
            trip();
            op_on(&mut fresh, op).map_err(|err| fresh.cause(err))
        }
        other => other.map_err(|err| conn.cause(err)),
    }
}

/// `op` on `conn`; a malformed reply retires the connection, which may be out of step with the
/// server (a stray reply left unread would answer the next command).
fn op_on<T>(
    conn: &mut crate::pool::PooledConnection,
    op: &mut dyn FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
) -> RedisResult<T> {
    let result = op(&mut **conn);
    if let Err(err) = &result {
        if crate::protocol::is_protocol_error(err) {
            conn.retire();
        }
    }
    result
}

/// A connection outside the pools (see [`Backend::dedicated`]).
pub enum Dedicated {
    One(RedisConnection),
    Cluster(cluster::Dedicated),
}

impl Dedicated {
    fn conn(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Dedicated::One(conn) => conn,
            Dedicated::Cluster(conn) => conn,
        }
    }

    /// What the failure behind `err`, an error of its last command, means.
    pub fn cause(&mut self, err: RedisError) -> RedisCause {
        match self {
            Dedicated::One(conn) => conn.cause(err),
            Dedicated::Cluster(conn) => conn.cause(err),
        }
    }
}

impl ConnectionLike for Dedicated {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.conn().req_packed_command(cmd)
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        self.conn().req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        match self {
            Dedicated::One(conn) => conn.get_db(),
            Dedicated::Cluster(conn) => conn.get_db(),
        }
    }

    fn check_connection(&mut self) -> bool {
        self.conn().check_connection()
    }

    fn is_open(&self) -> bool {
        match self {
            Dedicated::One(conn) => conn.is_open(),
            Dedicated::Cluster(conn) => conn.is_open(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Endpoint;

    fn node(host: &str, port: u16) -> Node {
        Node {
            host: host.into(),
            port,
        }
    }

    fn cluster(raw: &str) -> (ClusterTarget, Vec<u8>) {
        match Location::parse(raw).unwrap() {
            Location {
                topology: Topology::Cluster(cluster),
                prefix,
            } => (cluster, prefix),
            other => panic!("{raw:?} parsed as {other:?}"),
        }
    }

    fn sentinel(raw: &str) -> (SentinelTarget, Vec<u8>) {
        match Location::parse(raw).unwrap() {
            Location {
                topology: Topology::Sentinel(sentinel),
                prefix,
            } => (sentinel, prefix),
            other => panic!("{raw:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn phpredis_cluster_syntax_verbatim() {
        let (c, prefix) = cluster(
            "seed[]=10.0.0.1:7000&seed[]=10.0.0.2:7000&timeout=1&read_timeout=2&auth=s%40cret&prefix=APP:&persistent=1&failover=error",
        );
        assert_eq!(
            c.seeds,
            vec![node("10.0.0.1", 7000), node("10.0.0.2", 7000)]
        );
        assert!(!c.tls);
        assert_eq!(c.auth.password.as_deref(), Some("s@cret"));
        assert_eq!(c.auth.username, None);
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(1)));
        assert_eq!(c.read_timeout, Some(Duration::from_secs(2)));
        assert_eq!(prefix, b"APP:");
        // phpredis's cluster default prefix, percent-encoded names, ACL users, IPv6, TLS seeds.
        let (c, prefix) = cluster("seed%5B%5D=[::1]:7001&auth[]=app&auth[]=pw&failover=distribute");
        assert_eq!(prefix, CLUSTER_DEFAULT_PREFIX.as_bytes());
        assert_eq!(c.seeds, vec![node("::1", 7001)]);
        assert_eq!(
            (c.auth.username.as_deref(), c.auth.password.as_deref()),
            (Some("app"), Some("pw"))
        );
        let (c, _) = cluster("seed[]=tls://a:7000&seed[]=tls://b:7001");
        assert!(c.tls);
        assert_eq!(c.seeds, vec![node("a", 7000), node("b", 7001)]);
    }

    #[test]
    fn cluster_urls() {
        let (c, prefix) = cluster("cluster://h1:7000,h2:7001?auth=pw&prefix=S:&timeout=0.5");
        assert_eq!(c.seeds, vec![node("h1", 7000), node("h2", 7001)]);
        assert!(!c.tls);
        assert_eq!(c.auth.password.as_deref(), Some("pw"));
        assert_eq!(c.connect_timeout, Some(Duration::from_millis(500)));
        assert_eq!(prefix, b"S:");
        let (c, prefix) = cluster("clusters://app:pw@h1,[::1]:7002/0?user=other");
        assert!(c.tls);
        assert_eq!(c.seeds, vec![node("h1", 6379), node("::1", 7002)]);
        assert_eq!(
            (c.auth.username.as_deref(), c.auth.password.as_deref()),
            (Some("other"), Some("pw"))
        );
        assert_eq!(prefix, CLUSTER_DEFAULT_PREFIX.as_bytes());
        assert_eq!(
            Location::parse("CLUSTER://h:1")
                .unwrap()
                .topology
                .to_string(),
            "cluster://h:1"
        );
    }

    #[test]
    fn sentinel_urls() {
        let (s, prefix) = sentinel(
            "sentinel://h1:26379,h2:26380,h3?master=mymaster&database=2&auth=m%26pw&sentinel_auth=spw&prefix=P:&timeout=1.5&read_timeout=3",
        );
        assert_eq!(
            s.sentinels,
            vec![node("h1", 26379), node("h2", 26380), node("h3", 26379)]
        );
        assert!(!s.tls);
        assert_eq!(s.master, "mymaster");
        assert_eq!(s.database, 2);
        assert_eq!(s.auth.password.as_deref(), Some("m&pw"));
        assert_eq!(s.sentinel_auth.password.as_deref(), Some("spw"));
        assert_eq!(s.connect_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(s.read_timeout, Some(Duration::from_secs(3)));
        assert_eq!(prefix, b"P:");
        let (s, prefix) = sentinel(
            "sentinels://[::1]:5000/1?master=m&auth[]=u&auth[]=p&sentinel_auth[]=su&sentinel_auth[]=sp",
        );
        assert!(s.tls);
        assert_eq!(s.database, 1);
        assert_eq!(
            (s.auth.username.as_deref(), s.auth.password.as_deref()),
            (Some("u"), Some("p"))
        );
        assert_eq!(
            (
                s.sentinel_auth.username.as_deref(),
                s.sentinel_auth.password.as_deref()
            ),
            (Some("su"), Some("sp"))
        );
        assert_eq!(prefix, DEFAULT_PREFIX.as_bytes());
        assert_eq!(
            Location::parse("sentinel://a:1,b:2?master=x")
                .unwrap()
                .topology
                .to_string(),
            "sentinel://a:1,b:2 (master 'x')"
        );
    }

    #[test]
    fn one_server_forms_are_unchanged() {
        let location = Location::parse("tcp://127.0.0.1:6380?prefix=A:&database=1").unwrap();
        let Topology::Standalone(target) = location.topology else {
            panic!("not standalone");
        };
        assert_eq!(
            target.endpoint,
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 6380,
                tls: false
            }
        );
        assert_eq!((target.database, location.prefix), (1, b"A:".to_vec()));
        assert!(matches!(
            Location::parse("/run/redis.sock").unwrap().topology,
            Topology::Standalone(_)
        ));
    }

    #[test]
    fn malformed_forms_name_the_problem() {
        let cases = [
            ("seed=h:7000", "seed must be a list"),
            (
                "seed[]=h:7000&bogus=1",
                "unknown parameter 'bogus' for a cluster save_path",
            ),
            ("seed[]=h:99999", "port '99999'"),
            ("seed[]=", "an empty entry in the seed list"),
            ("seed[]=tls://a:1&seed[]=b:2", "mix tls://"),
            ("seed[]=http://a:1", "unknown scheme 'http://'"),
            ("seed[]=a:1&database=3", "only database 0"),
            ("seed[]=a:1&timeout=-1", "timeout '-1'"),
            (
                "seed[]=a:1&auth[]=a&auth[]=b&auth[]=c",
                "auth[] given 3 times",
            ),
            ("seed[]=a:1&master=x", "unknown parameter 'master'"),
            ("timeout=1&seed[]", "an empty entry"),
            ("cluster://", "no nodes after cluster://"),
            ("cluster://a:1,,b:2", "empty entry"),
            ("cluster://a:1/2", "only database 0"),
            (
                "cluster://a:1?seed[]=b:2",
                "unknown parameter 'seed[]' for cluster://",
            ),
            ("cluster://a:x", "port 'x'"),
            ("sentinel://a:1", "needs master=<name>"),
            ("sentinel://a:1?master=", "needs master=<name>"),
            ("sentinel://?master=m", "no Sentinels"),
            ("sentinel://u:p@a:1?master=m", "takes no user:password@"),
            ("sentinel://a:1?master=m&database=x", "database 'x'"),
            (
                "sentinel://a:1?master=m&seed[]=b",
                "unknown parameter 'seed[]' for sentinel://",
            ),
            (
                "sentinel://a:1?master=m&sentinel_auth[]=1&sentinel_auth[]=2&sentinel_auth[]=3",
                "sentinel_auth[] given 3 times",
            ),
            ("tcp://a:1,b:2", "for Redis Cluster use cluster://"),
            (
                "cluster://a:1?prefix=s%7D:",
                "no hash tag Redis Cluster can use",
            ),
        ];
        for (raw, needle) in cases {
            let err = Location::parse(raw).unwrap_err().to_string();
            assert!(
                err.contains(needle),
                "{raw:?} gave {err:?}, expected it to mention {needle:?}"
            );
        }
    }
}
