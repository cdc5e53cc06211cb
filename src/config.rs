//! What the operator configured: `session.save_path` (phpredis syntax or a redis:// URL) and the
//! `rustredis.*` INI settings. Plain Rust; the PHP boundary hands in strings and gets back values
//! plus warnings that name the setting at fault.

use std::fmt;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::compression::{Algorithm, Compression};
use crate::merge::ConflictPolicy;
use crate::protocol::Replicas;

/// The key prefix phpredis uses, so a fleet can switch handlers without logging anyone out.
pub const DEFAULT_PREFIX: &str = "PHPREDIS_SESSION:";
const DEFAULT_PORT: u16 = 6379;

/// Where Redis listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Tcp { host: String, port: u16, tls: bool },
    Unix { path: String },
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port, tls } => {
                let scheme = if *tls { "tls" } else { "tcp" };
                if host.contains(':') {
                    write!(f, "{scheme}://[{host}]:{port}")
                } else {
                    write!(f, "{scheme}://{host}:{port}")
                }
            }
            Endpoint::Unix { path } => write!(f, "unix://{path}"),
        }
    }
}

/// How a `tls://` or `rediss://` connection checks the server and shows itself: the save_path's
/// `stream[...]` parameters, phpredis's names for PHP's SSL context options. The server's
/// certificate is always verified (`stream[verify_peer]=0` is refused).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    /// `stream[cafile]`: trust the CA certificates in this PEM file instead of the system's.
    pub cafile: Option<String>,
    /// `stream[local_cert]`: a client certificate (PEM, may hold its key too) for mutual TLS.
    pub local_cert: Option<String>,
    /// `stream[local_pk]`: the client certificate's key (PEM, PKCS#8), when not in local_cert.
    pub local_pk: Option<String>,
    /// `stream[peer_name]`: the name the server's certificate must carry (default: the host).
    pub peer_name: Option<String>,
    /// `stream[verify_peer_name]=0`: accept a certificate for any name, as long as a trusted CA
    /// signed it.
    pub skip_peer_name_check: bool,
}

/// The `stream[...]` parameters rustredis takes.
const STREAM_PARAMS: &str =
    "cafile, local_cert, local_pk, peer_name, verify_peer_name, verify_peer";

impl TlsOptions {
    /// Takes `stream[<option>]=<value>`.
    fn set(&mut self, option: &str, value: String) -> Result<(), SavePathError> {
        let param = format!("stream[{option}]");
        let path_or_name = |value: String| {
            if value.is_empty() {
                bad(format!("{param} is empty"))
            } else {
                Ok(Some(value))
            }
        };
        match option {
            "cafile" => self.cafile = path_or_name(value)?,
            "local_cert" => self.local_cert = path_or_name(value)?,
            "local_pk" => self.local_pk = path_or_name(value)?,
            "peer_name" => self.peer_name = path_or_name(value)?,
            "verify_peer_name" => self.skip_peer_name_check = !parse_flag(&param, &value)?,
            "verify_peer" => {
                if !parse_flag(&param, &value)? {
                    return bad(format!(
                        "{param}={value} is refused: rustredis always verifies the server's certificate. \
                         For a private or self-signed CA set stream[cafile]=/path/to/ca.pem, for a \
                         certificate issued to another name stream[peer_name]=<that name>"
                    ));
                }
            }
            _ => {
                return bad(format!(
                    "unknown parameter '{param}' (known stream[...] options: {STREAM_PARAMS})"
                ))
            }
        }
        Ok(())
    }
}

/// A boolean of PHP's SSL context options: 1/0, true/false, on/off, yes/no.
fn parse_flag(param: &str, value: &str) -> Result<bool, SavePathError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" | "" => Ok(false),
        _ => bad(format!("{param} '{value}' is not 0 or 1")),
    }
}

/// Everything needed to reach one Redis database. Two save paths that differ only in `prefix`
/// share the same connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedisTarget {
    pub endpoint: Endpoint,
    pub username: Option<String>,
    pub password: Option<String>,
    pub database: i64,
    /// From the save_path's `timeout`/`read_timeout`; `None` means "use the INI setting".
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    /// `stream[...]` (TLS endpoints only).
    pub tls: TlsOptions,
}

/// A parsed `session.save_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavePath {
    pub target: RedisTarget,
    pub prefix: Vec<u8>,
}

/// Why a save_path was refused; the message names the part at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavePathError(pub String);

impl fmt::Display for SavePathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid session.save_path: {}", self.0)
    }
}

impl std::error::Error for SavePathError {}

pub(crate) fn bad<T>(msg: impl Into<String>) -> Result<T, SavePathError> {
    Err(SavePathError(msg.into()))
}

/// phpredis parameters that mean nothing here (we always pool connections per process);
/// accepted so that a phpredis save_path works unchanged.
pub(crate) const IGNORED_PHPREDIS_PARAMS: &[&str] = &[
    "persistent",
    "persistent_id",
    "weight",
    "retry_interval",
    "failover",
];

impl SavePath {
    /// Parses `tcp://host:port?…`, `tls://…`, `unix:///path?…`, `redis://user:pass@host:port/db?…`,
    /// `rediss://…` or a bare `host:port`.
    pub fn parse(raw: &str) -> Result<SavePath, SavePathError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return bad("it is empty; set it to tcp://host:port or unix:///path/to/redis.sock");
        }
        if raw.contains(',') {
            return bad(format!(
                "'{raw}' lists several servers; for Redis Cluster use cluster://h1:port,h2:port or \
                 seed[]=h1:port&seed[]=h2:port, for Sentinel sentinel://h1:port,h2:port?master=<name>"
            ));
        }
        let (scheme, rest) = match raw.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None if raw.starts_with("unix:") => ("unix".to_string(), &raw["unix:".len()..]),
            None if raw.starts_with('/') => ("unix".to_string(), raw),
            None => ("tcp".to_string(), raw),
        };
        let (location, query) = match rest.split_once('?') {
            Some((location, query)) => (location, Some(query)),
            None => (rest, None),
        };
        let mut target = RedisTarget {
            endpoint: Endpoint::Unix {
                path: String::new(),
            },
            username: None,
            password: None,
            database: 0,
            connect_timeout: None,
            read_timeout: None,
            tls: TlsOptions::default(),
        };
        match scheme.as_str() {
            "unix" => {
                if !location.starts_with('/') {
                    return bad(format!("unix socket path '{location}' must be absolute (unix:///path/to/redis.sock)"));
                }
                target.endpoint = Endpoint::Unix {
                    path: location.to_string(),
                };
            }
            "tcp" | "tls" | "redis" | "rediss" => {
                let tls = scheme == "tls" || scheme == "rediss";
                let (authority, path) = match location.split_once('/') {
                    Some((authority, path)) => (authority, path),
                    None => (location, ""),
                };
                let host_port = match authority.rsplit_once('@') {
                    Some((userinfo, host_port)) => {
                        let (user, pass) = match userinfo.split_once(':') {
                            Some((user, pass)) => (user, Some(pass)),
                            None => ("", Some(userinfo)),
                        };
                        if !user.is_empty() {
                            target.username = Some(decode(user, "user name")?);
                        }
                        if let Some(pass) = pass.filter(|p| !p.is_empty()) {
                            target.password = Some(decode(pass, "password")?);
                        }
                        host_port
                    }
                    None => authority,
                };
                let (host, port) = split_host_port(host_port, DEFAULT_PORT)?;
                target.endpoint = Endpoint::Tcp { host, port, tls };
                if !path.is_empty() {
                    target.database = parse_database(path)?;
                }
            }
            other => {
                return bad(format!(
                "unknown scheme '{other}://' (use tcp://, tls://, unix://, redis:// or rediss://)"
            ))
            }
        }
        let mut prefix = DEFAULT_PREFIX.as_bytes().to_vec();
        let mut auth_parts: Vec<String> = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            // Decoded like the value: PHP's own query parser reads stream%5Bcafile%5D as stream[cafile].
            let name = decode(name, "a parameter name")?;
            let name = name.as_str();
            let value = decode(value, name)?;
            match name {
                "auth" => auth_parts = vec![value],
                "auth[]" => auth_parts.push(value),
                "user" | "username" => target.username = Some(value),
                "database" | "db" => target.database = parse_database(&value)?,
                "prefix" => prefix = value.into_bytes(),
                "timeout" => target.connect_timeout = Some(parse_seconds(name, &value)?),
                "read_timeout" => target.read_timeout = Some(parse_seconds(name, &value)?),
                _ if IGNORED_PHPREDIS_PARAMS.contains(&name) => {}
                _ if name.starts_with("stream[") && name.ends_with(']') => {
                    target.tls.set(&name["stream[".len()..name.len() - 1], value)?
                }
                _ => return bad(format!("unknown parameter '{name}' (known: auth, user, database, prefix, timeout, read_timeout, stream[...])")),
            }
        }
        apply_auth(
            auth_parts,
            "auth",
            &mut target.username,
            &mut target.password,
        )?;
        let tls = matches!(target.endpoint, Endpoint::Tcp { tls: true, .. });
        if !tls && target.tls != TlsOptions::default() {
            return bad(format!(
                "stream[...] parameters ({STREAM_PARAMS}) apply to tls:// and rediss:// only"
            ));
        }
        if target.tls.local_pk.is_some() && target.tls.local_cert.is_none() {
            return bad("stream[local_pk] is set without stream[local_cert] (the certificate it is the key of)");
        }
        Ok(SavePath { target, prefix })
    }
}

/// `auth=password` (one part) or `auth[]=user&auth[]=password` (two), as phpredis reads them;
/// `param` names the parameter in the error. An empty password is none.
pub(crate) fn apply_auth(
    mut parts: Vec<String>,
    param: &str,
    username: &mut Option<String>,
    password: &mut Option<String>,
) -> Result<(), SavePathError> {
    match parts.len() {
        0 => {}
        1 => *password = Some(parts.remove(0)),
        2 => {
            *password = Some(parts.remove(1));
            *username = Some(parts.remove(0));
        }
        n => {
            return bad(format!(
                "{param}[] given {n} times; expected {param}[]=user&{param}[]=password"
            ))
        }
    }
    if password.as_deref() == Some("") {
        *password = None;
    }
    Ok(())
}

pub(crate) fn decode(value: &str, what: &str) -> Result<String, SavePathError> {
    percent_decode_str(value)
        .decode_utf8()
        .map(|v| v.into_owned())
        .or_else(|_| bad(format!("{what} is not valid UTF-8 after percent-decoding")))
}

pub(crate) fn split_host_port(
    host_port: &str,
    default_port: u16,
) -> Result<(String, u16), SavePathError> {
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| SavePathError(format!("unterminated IPv6 address in '{host_port}'")))?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return bad(format!("no host in '{host_port}'"));
    }
    let port = match port {
        None => default_port,
        Some(port) => match port.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return bad(format!("port '{port}' is not a number from 1 to 65535")),
        },
    };
    Ok((host.to_string(), port))
}

pub(crate) fn parse_database(value: &str) -> Result<i64, SavePathError> {
    match value.parse::<i64>() {
        Ok(db) if db >= 0 => Ok(db),
        _ => bad(format!("database '{value}' is not a number 0 or greater")),
    }
}

/// A timeout of the save_path, in seconds: at least 1 ms (a socket timeout of zero would mean
/// "none"), at most a year.
pub(crate) fn parse_seconds(name: &str, value: &str) -> Result<Duration, SavePathError> {
    const MAX_SECONDS: f64 = 86_400.0 * 365.0;
    match value.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= MAX_SECONDS => {
            let duration = Duration::from_secs_f64(secs);
            if duration < Duration::from_millis(1) {
                bad(format!(
                    "{name} '{value}' is less than 1 ms; give seconds from 0.001 to {MAX_SECONDS}"
                ))
            } else {
                Ok(duration)
            }
        }
        _ => bad(format!(
            "{name} '{value}' is not a number of seconds from 0.001 to {MAX_SECONDS}"
        )),
    }
}

/// How a request coordinates with parallel requests of the same session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Like PHP's `files`: read takes the lock, close releases it.
    Locked,
    /// No lock, last write wins (phpredis's default): only for endpoints that accept lost writes.
    Unlocked,
    /// No lock; write merges key by key with whatever parallel requests wrote.
    Optimistic,
}

/// What read does when the lock wait budget runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockTimeoutAction {
    /// session_start() fails with a warning.
    Fail,
    /// The session is read without the lock and nothing this request changes is saved.
    ReadOnly,
}

/// The `rustredis.*` settings in force for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub lock_mode: LockMode,
    pub lock_ttl: Duration,
    pub lock_wait: Duration,
    pub on_lock_timeout: LockTimeoutAction,
    pub on_conflict: ConflictPolicy,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub max_data_bytes: usize,
    /// How long this request's renewal thread keeps extending its lock's lease.
    pub lock_max_hold: Duration,
    /// A wait for the lock longer than this is logged (None: never).
    pub slow_lock: Option<Duration>,
    /// How many requests may wait for one session's lock (0: no cap).
    pub max_waiters: u32,
    /// How sessions are stored (`rustredis.compression*`).
    pub compression: Compression,
    /// How many replicas a write waits for (`rustredis.replicas*`; None: none).
    pub replicas: Option<Replicas>,
}

/// One `rustredis.*` INI entry: its name and default.
pub struct SettingSpec {
    pub name: &'static str,
    pub default: &'static str,
}

pub const SETTING_LOCKING: &str = "rustredis.locking";
pub const SETTING_LOCK_TTL: &str = "rustredis.lock_ttl_ms";
pub const SETTING_LOCK_WAIT: &str = "rustredis.lock_wait_ms";
pub const SETTING_ON_LOCK_TIMEOUT: &str = "rustredis.on_lock_timeout";
pub const SETTING_ON_CONFLICT: &str = "rustredis.on_conflict";
pub const SETTING_CONNECT_TIMEOUT: &str = "rustredis.connect_timeout_ms";
pub const SETTING_READ_TIMEOUT: &str = "rustredis.read_timeout_ms";
pub const SETTING_MAX_DATA: &str = "rustredis.max_data_bytes";
pub const SETTING_LOCK_MAX_HOLD: &str = "rustredis.lock_max_hold_ms";
pub const SETTING_SLOW_LOCK: &str = "rustredis.slow_lock_ms";
pub const SETTING_MAX_WAITERS: &str = "rustredis.max_waiters";
pub const SETTING_COMPRESSION: &str = "rustredis.compression";
pub const SETTING_COMPRESSION_THRESHOLD: &str = "rustredis.compression_threshold";
pub const SETTING_COMPRESSION_LEVEL: &str = "rustredis.compression_level";
pub const SETTING_REPLICAS: &str = "rustredis.replicas";
pub const SETTING_REPLICAS_TIMEOUT: &str = "rustredis.replicas_timeout_ms";

/// `rustredis.lock_max_hold_ms=0` (the default): this many times `max_execution_time`, which on
/// Linux counts CPU time, so a request waiting on I/O runs longer than it in wall-clock time.
pub const AUTO_MAX_HOLD_FACTOR: u32 = 10;
/// ... or this, where `max_execution_time` is 0 (the CLI).
pub const AUTO_MAX_HOLD_UNLIMITED: Duration = Duration::from_secs(3600);
/// ... and never more than this, the most `rustredis.lock_max_hold_ms` takes.
pub const AUTO_MAX_HOLD_CAP: Duration = Duration::from_secs(86_400);

/// Every setting with its default; the boundary registers exactly these INI entries.
pub const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: SETTING_LOCKING,
        default: "on",
    },
    SettingSpec {
        name: SETTING_LOCK_TTL,
        default: "2000",
    },
    SettingSpec {
        name: SETTING_LOCK_WAIT,
        default: "30000",
    },
    SettingSpec {
        name: SETTING_ON_LOCK_TIMEOUT,
        default: "fail",
    },
    SettingSpec {
        name: SETTING_ON_CONFLICT,
        default: "keep_theirs",
    },
    SettingSpec {
        name: SETTING_CONNECT_TIMEOUT,
        default: "1000",
    },
    SettingSpec {
        name: SETTING_READ_TIMEOUT,
        default: "3000",
    },
    SettingSpec {
        name: SETTING_MAX_DATA,
        default: "67108864",
    },
    SettingSpec {
        name: SETTING_LOCK_MAX_HOLD,
        default: "0",
    },
    SettingSpec {
        name: SETTING_SLOW_LOCK,
        default: "1000",
    },
    SettingSpec {
        name: SETTING_MAX_WAITERS,
        default: "32",
    },
    SettingSpec {
        name: SETTING_COMPRESSION,
        default: "none",
    },
    SettingSpec {
        name: SETTING_COMPRESSION_THRESHOLD,
        default: "2048",
    },
    SettingSpec {
        name: SETTING_COMPRESSION_LEVEL,
        default: "3",
    },
    SettingSpec {
        name: SETTING_REPLICAS,
        default: "0",
    },
    SettingSpec {
        name: SETTING_REPLICAS_TIMEOUT,
        default: "500",
    },
];

/// Reads settings through a lookup, replacing a bad value by the default and saying so.
struct SettingReader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    warnings: Vec<String>,
}

impl SettingReader<'_> {
    fn get<T>(
        &mut self,
        name: &'static str,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> T {
        let default = SETTINGS
            .iter()
            .find(|s| s.name == name)
            .map_or("", |s| s.default);
        let fallback = || parse(default).expect("every default in SETTINGS parses");
        match (self.lookup)(name) {
            None => fallback(),
            Some(raw) => parse(raw.trim()).unwrap_or_else(|| {
                self.warnings.push(format!(
                    "{name}: invalid value '{raw}' (expected {expected}); using the default '{default}'"
                ));
                fallback()
            }),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from_lookup(|_| None).0
    }
}

impl Settings {
    /// Reads every setting through `lookup` (None = not set). A bad value is replaced by the
    /// default and reported in the returned warnings, which name the setting and the value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Settings, Vec<String>) {
        let mut reader = SettingReader {
            lookup: &lookup,
            warnings: Vec::new(),
        };
        let millis = |min: u64, max: u64| {
            move |v: &str| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .map(Duration::from_millis)
            }
        };
        let settings = Settings {
            lock_mode: reader.get(SETTING_LOCKING, "on, off or optimistic", |v| {
                match v.to_ascii_lowercase().as_str() {
                    // php.ini turns on/yes/true into "1" and off/no/false/none into "".
                    "1" | "on" | "yes" | "true" => Some(LockMode::Locked),
                    "0" | "off" | "no" | "false" | "none" | "" => Some(LockMode::Unlocked),
                    "optimistic" => Some(LockMode::Optimistic),
                    _ => None,
                }
            }),
            lock_ttl: reader.get(
                SETTING_LOCK_TTL,
                "milliseconds from 100 to 86400000",
                millis(100, 86_400_000),
            ),
            lock_wait: reader.get(
                SETTING_LOCK_WAIT,
                "milliseconds from 0 to 86400000",
                millis(0, 86_400_000),
            ),
            on_lock_timeout: reader.get(SETTING_ON_LOCK_TIMEOUT, "fail or readonly", |v| {
                match v.to_ascii_lowercase().as_str() {
                    "fail" => Some(LockTimeoutAction::Fail),
                    "readonly" => Some(LockTimeoutAction::ReadOnly),
                    _ => None,
                }
            }),
            on_conflict: reader.get(SETTING_ON_CONFLICT, "keep_theirs or mine_wins", |v| match v
                .to_ascii_lowercase()
                .as_str()
            {
                "keep_theirs" => Some(ConflictPolicy::KeepTheirs),
                "mine_wins" => Some(ConflictPolicy::MineWins),
                _ => None,
            }),
            connect_timeout: reader.get(
                SETTING_CONNECT_TIMEOUT,
                "milliseconds from 1 to 600000",
                millis(1, 600_000),
            ),
            read_timeout: reader.get(
                SETTING_READ_TIMEOUT,
                "milliseconds from 1 to 600000",
                millis(1, 600_000),
            ),
            max_data_bytes: reader.get(SETTING_MAX_DATA, "bytes from 1 to 536870912", |v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=512 * 1024 * 1024).contains(n))
            }),
            lock_max_hold: reader.get(
                SETTING_LOCK_MAX_HOLD,
                "0 (ten times max_execution_time) or milliseconds up to 86400000",
                millis(0, 86_400_000),
            ),
            slow_lock: Some(reader.get(
                SETTING_SLOW_LOCK,
                "0 (off) or milliseconds up to 86400000",
                millis(0, 86_400_000),
            ))
            .filter(|d| !d.is_zero()),
            max_waiters: reader.get(SETTING_MAX_WAITERS, "0 (no cap) to 100000", |v| {
                v.parse::<u32>().ok().filter(|n| *n <= 100_000)
            }),
            compression: Compression {
                algorithm: reader.get(SETTING_COMPRESSION, "none, lz4 or zstd", |v| {
                    match v.to_ascii_lowercase().as_str() {
                        "none" | "" | "0" | "off" => Some(None),
                        "lz4" => Some(Some(Algorithm::Lz4)),
                        "zstd" => Some(Some(Algorithm::Zstd)),
                        _ => None,
                    }
                }),
                threshold: reader.get(
                    SETTING_COMPRESSION_THRESHOLD,
                    "bytes from 0 to 536870912",
                    |v| v.parse::<usize>().ok().filter(|n| *n <= 512 * 1024 * 1024),
                ),
                level: reader.get(SETTING_COMPRESSION_LEVEL, "1 to 19 (zstd)", |v| {
                    v.parse::<i32>().ok().filter(|n| (1..=19).contains(n))
                }),
            },
            replicas: {
                let count = reader.get(SETTING_REPLICAS, "0 (no waiting) to 100", |v| {
                    v.parse::<u32>().ok().filter(|n| *n <= 100)
                });
                let timeout = reader.get(
                    SETTING_REPLICAS_TIMEOUT,
                    "milliseconds from 1 to 60000",
                    millis(1, 60_000),
                );
                (count > 0).then_some(Replicas { count, timeout })
            },
        };
        let mut settings = settings;
        if settings.lock_max_hold.is_zero() {
            let max_execution_time = lookup("max_execution_time")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
            settings.lock_max_hold = if max_execution_time == 0 {
                AUTO_MAX_HOLD_UNLIMITED
            } else {
                // A huge max_execution_time must not overflow: capped like explicit values.
                Duration::from_secs(max_execution_time)
                    .checked_mul(AUTO_MAX_HOLD_FACTOR)
                    .unwrap_or(Duration::MAX)
                    .min(AUTO_MAX_HOLD_CAP)
            };
        }
        let warnings = reader.warnings;
        (settings, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Endpoint {
        Endpoint::Tcp {
            host: host.into(),
            port,
            tls: false,
        }
    }

    #[test]
    fn phpredis_tcp_syntax() {
        let p = SavePath::parse("tcp://127.0.0.1:6380?database=3&prefix=APP:&auth=s%40cret&timeout=2.5&read_timeout=0.5")
            .unwrap();
        assert_eq!(p.target.endpoint, tcp("127.0.0.1", 6380));
        assert_eq!(p.target.database, 3);
        assert_eq!(p.prefix, b"APP:");
        assert_eq!(p.target.password.as_deref(), Some("s@cret"));
        assert_eq!(p.target.username, None);
        assert_eq!(p.target.connect_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(p.target.read_timeout, Some(Duration::from_millis(500)));
    }

    #[test]
    fn defaults_match_phpredis() {
        let p = SavePath::parse("tcp://redis.local").unwrap();
        assert_eq!(p.target.endpoint, tcp("redis.local", 6379));
        assert_eq!(p.prefix, DEFAULT_PREFIX.as_bytes());
        assert_eq!(p.target.database, 0);
        assert_eq!(
            SavePath::parse("10.0.0.5:7000").unwrap().target.endpoint,
            tcp("10.0.0.5", 7000)
        );
    }

    #[test]
    fn acl_user_and_password() {
        let p = SavePath::parse("redis://app:pw@[::1]:6390/2?prefix=S:").unwrap();
        assert_eq!(p.target.endpoint, tcp("::1", 6390));
        assert_eq!(p.target.username.as_deref(), Some("app"));
        assert_eq!(p.target.password.as_deref(), Some("pw"));
        assert_eq!(p.target.database, 2);
        let p = SavePath::parse("tcp://h:1?auth[]=u&auth[]=p").unwrap();
        assert_eq!(
            (p.target.username.as_deref(), p.target.password.as_deref()),
            (Some("u"), Some("p"))
        );
        let p = SavePath::parse("rediss://:only-pw@h").unwrap();
        assert_eq!(
            p.target.endpoint,
            Endpoint::Tcp {
                host: "h".into(),
                port: 6379,
                tls: true
            }
        );
        assert_eq!(
            (p.target.username, p.target.password.as_deref()),
            (None, Some("only-pw"))
        );
    }

    #[test]
    fn unix_and_tls() {
        let p = SavePath::parse("unix:///run/redis/redis.sock?database=1&persistent=1").unwrap();
        assert_eq!(
            p.target.endpoint,
            Endpoint::Unix {
                path: "/run/redis/redis.sock".into()
            }
        );
        assert_eq!(p.target.database, 1);
        let p = SavePath::parse("tls://cache:6379").unwrap();
        assert_eq!(
            p.target.endpoint,
            Endpoint::Tcp {
                host: "cache".into(),
                port: 6379,
                tls: true
            }
        );
    }

    #[test]
    fn tls_stream_options() {
        let p = SavePath::parse(
            "tls://10.0.0.5:6380?stream[cafile]=/etc/ca.pem&stream[local_cert]=/etc/c%20d.pem\
             &stream%5Blocal_pk%5D=/etc/k.pem&stream[peer_name]=redis.internal&stream[verify_peer]=1",
        )
        .unwrap();
        assert_eq!(
            p.target.tls,
            TlsOptions {
                cafile: Some("/etc/ca.pem".into()),
                local_cert: Some("/etc/c d.pem".into()),
                local_pk: Some("/etc/k.pem".into()),
                peer_name: Some("redis.internal".into()),
                skip_peer_name_check: false,
            }
        );
        let p = SavePath::parse("rediss://h?stream[verify_peer_name]=0").unwrap();
        assert!(p.target.tls.skip_peer_name_check);
        // Part of the target: connections with other TLS options are not interchangeable.
        assert_ne!(
            SavePath::parse("tls://h?stream[cafile]=/a").unwrap().target,
            SavePath::parse("tls://h?stream[cafile]=/b").unwrap().target
        );
    }

    #[test]
    fn malformed_paths_name_the_problem() {
        let cases = [
            ("", "empty"),
            ("tcp://h:99999", "port '99999'"),
            ("tcp://h:abc", "port 'abc'"),
            ("tcp://:6379", "no host"),
            ("tcp://h?database=x", "database 'x'"),
            ("tcp://h?database=-1", "database '-1'"),
            ("tcp://h?timeout=0", "timeout '0'"),
            (
                "tcp://h?timeout=1e-300",
                "timeout '1e-300' is less than 1 ms",
            ),
            (
                "tcp://h?read_timeout=0.0004",
                "read_timeout '0.0004' is less than 1 ms",
            ),
            (
                "tcp://h?timeout=inf",
                "timeout 'inf' is not a number of seconds",
            ),
            (
                "tcp://h?read_timeout=NaN",
                "read_timeout 'NaN' is not a number",
            ),
            ("tcp://h?timeout=-1", "timeout '-1'"),
            ("tcp://h?timeout=1e10", "timeout '1e10'"),
            ("tcp://h?bogus=1", "unknown parameter 'bogus'"),
            ("http://h", "unknown scheme 'http://'"),
            ("unix://relative.sock", "must be absolute"),
            ("tcp://a:1, tcp://b:2", "several servers"),
            ("tcp://[::1:6379", "unterminated IPv6"),
            (
                "tls://h?stream[verify_peer]=0",
                "stream[verify_peer]=0 is refused",
            ),
            ("tls://h?stream[verify_peer]=false", "stream[cafile]"),
            ("tls://h?stream[verify_peer_name]=maybe", "not 0 or 1"),
            (
                "tls://h?stream[allow_self_signed]=1",
                "unknown parameter 'stream[allow_self_signed]'",
            ),
            ("tls://h?stream[cafile]=", "stream[cafile] is empty"),
            (
                "tcp://h?stream[cafile]=/ca.pem",
                "apply to tls:// and rediss:// only",
            ),
            ("unix:///r.sock?stream[peer_name]=x", "apply to tls://"),
            (
                "tls://h?stream[local_pk]=/k.pem",
                "without stream[local_cert]",
            ),
        ];
        for (raw, needle) in cases {
            let err = SavePath::parse(raw).unwrap_err().to_string();
            assert!(
                err.contains(needle),
                "{raw:?} gave {err:?}, expected it to mention {needle:?}"
            );
        }
    }

    #[test]
    fn settings_defaults_and_bad_values() {
        let (s, warnings) = Settings::from_lookup(|_| None);
        assert!(warnings.is_empty());
        assert_eq!(s.lock_mode, LockMode::Locked);
        assert_eq!(s.lock_ttl, Duration::from_secs(2));
        assert_eq!(s.on_lock_timeout, LockTimeoutAction::Fail);
        assert_eq!(s.lock_max_hold, AUTO_MAX_HOLD_UNLIMITED);
        assert_eq!(s.slow_lock, Some(Duration::from_secs(1)));
        assert_eq!(s.max_waiters, 32);
        assert_eq!(s.replicas, None);
        let (s, warnings) = Settings::from_lookup(|name| match name {
            SETTING_LOCKING => Some("optimistic".into()),
            SETTING_LOCK_WAIT => Some("soon".into()),
            SETTING_ON_LOCK_TIMEOUT => Some("readonly".into()),
            _ => None,
        });
        assert_eq!(s.lock_mode, LockMode::Optimistic);
        assert_eq!(s.on_lock_timeout, LockTimeoutAction::ReadOnly);
        assert_eq!(s.lock_wait, Duration::from_secs(30));
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("rustredis.lock_wait_ms") && warnings[0].contains("'soon'"),
            "{warnings:?}"
        );
        let (s, _) =
            Settings::from_lookup(|name| (name == SETTING_LOCKING).then(|| "0".to_string()));
        assert_eq!(s.lock_mode, LockMode::Unlocked);
    }

    #[test]
    fn replicas_wait_only_when_asked() {
        let (s, warnings) = Settings::from_lookup(|name| match name {
            SETTING_REPLICAS => Some("1".into()),
            SETTING_REPLICAS_TIMEOUT => Some("250".into()),
            _ => None,
        });
        assert!(warnings.is_empty());
        assert_eq!(
            s.replicas,
            Some(Replicas {
                count: 1,
                timeout: Duration::from_millis(250)
            })
        );
        let (s, warnings) =
            Settings::from_lookup(|name| (name == SETTING_REPLICAS).then(|| "-1".into()));
        assert_eq!(s.replicas, None);
        assert!(warnings[0].contains("rustredis.replicas"), "{warnings:?}");
    }

    #[test]
    fn max_hold_follows_max_execution_time_unless_set() {
        let with = |max_execution_time: &str, max_hold: Option<&str>| {
            let (max_execution_time, max_hold) =
                (max_execution_time.to_string(), max_hold.map(str::to_string));
            Settings::from_lookup(move |name| match name {
                "max_execution_time" => Some(max_execution_time.clone()),
                SETTING_LOCK_MAX_HOLD => max_hold.clone(),
                _ => None,
            })
            .0
        };
        assert_eq!(with("30", None).lock_max_hold, Duration::from_secs(300));
        assert_eq!(with("0", None).lock_max_hold, AUTO_MAX_HOLD_UNLIMITED);
        // Found by fuzz/save_path: this overflowed the multiplication (a panic).
        assert_eq!(
            with("2000000000000000000", None).lock_max_hold,
            AUTO_MAX_HOLD_CAP
        );
        assert_eq!(with("8640", None).lock_max_hold, AUTO_MAX_HOLD_CAP);
        assert_eq!(
            with("30", Some("0")).lock_max_hold,
            Duration::from_secs(300)
        );
        assert_eq!(
            with("30", Some("90000")).lock_max_hold,
            Duration::from_secs(90)
        );
        assert_eq!(
            with("18446744073709551615", None).lock_max_hold,
            Duration::from_millis(86_400_000),
            "no overflow"
        );
        let (s, _) = Settings::from_lookup(|name| (name == SETTING_SLOW_LOCK).then(|| "0".into()));
        assert_eq!(s.slow_lock, None);
    }
}
