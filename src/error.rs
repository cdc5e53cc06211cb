//! What can go wrong in a session operation, and what is worth telling the operator although the
//! operation succeeded. The boundary shows both as PHP warnings (`rustredis: <message>`); every
//! message names the setting or the cause an operator can act on.

use std::fmt;
use std::time::Duration;

use crate::codec::SplitError;
use crate::config::SavePathError;
use crate::protocol::Holder;

/// How many fresh ids create_sid tries before reporting [`SessionError::IdCollision`].
pub const MAX_CREATE_ID_ATTEMPTS: usize = 3;

/// Why a session operation failed.
#[derive(Debug)]
pub enum SessionError {
    /// `session.save_path` could not be parsed.
    SavePath(SavePathError),
    /// The session id is not one PHP generates (empty, too long, or outside `A-Za-z0-9,-`): it
    /// never becomes a Redis key.
    InvalidId,
    /// Redis could not be reached, or failed or did not answer a command.
    Redis { endpoint: String, cause: RedisCause },
    /// Another request of this session held the lock for all of `rustredis.lock_wait_ms`.
    LockTimeout {
        waited: Duration,
        holder: Option<Holder>,
    },
    /// `rustredis.max_waiters` requests already wait for this session's lock.
    TooManyWaiters { max_waiters: u32, holder: Holder },
    /// This request's lock is no longer its own (see [`LostBecause`]): the write was skipped so
    /// that the newer data is kept.
    LockLost(LostBecause),
    /// The session was opened without write access after a lock timeout
    /// (`rustredis.on_lock_timeout=readonly`), so changes are refused.
    WritesRefused,
    /// Optimistic mode: a parallel request changed these top-level keys too (`keep_theirs`).
    Conflict { keys: Vec<String> },
    /// Optimistic mode: both sides changed a session that cannot be split into keys.
    WholeSessionConflict { reason: SplitError },
    /// Optimistic mode: parallel writers kept winning for all of `rustredis.lock_wait_ms`.
    TooManyWriters { merges: usize, waited: Duration },
    /// The data exceeds `rustredis.max_data_bytes`.
    TooLarge { size: usize, max: usize },
    /// Every id create_sid generated was taken (or could not be generated).
    IdCollision,
    /// `RustRedis\SessionHandler`: this id's read failed, so a write would replace data the
    /// request never saw (a framework that always saves must not clobber after a lock timeout).
    ReadFailedBefore,
}

/// Why this request's lock was gone when it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LostBecause {
    /// Its lease expired (the renewals stopped or came too late) and another request holds the
    /// lock now.
    Expired,
    /// There is no lock at all: the lease ran out and nobody took it since, or Redis lost it (a
    /// restart without persistence, a failover).
    Vanished,
    /// It was held longer than `rustredis.lock_max_hold_ms`, so its renewals stopped.
    MaxHold(Duration),
    /// The renewal thread could not reach Redis: this is its last error.
    RenewalFailed(String),
    /// The lock was given back already (a write after session_write_close).
    Released,
    /// A child of pcntl_fork() writing the session its parent locked: the lock is the parent's.
    InheritedThroughFork,
}

impl fmt::Display for LostBecause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LostBecause::Expired => f.write_str(
                "this request's session lock expired (its lease, rustredis.lock_ttl_ms, was not renewed in time) \
                 and another request holds it now",
            ),
            LostBecause::Vanished => f.write_str(
                "this request's session lock no longer exists in Redis and no other request holds it (its lease, \
                 rustredis.lock_ttl_ms, ran out before it was renewed, or Redis lost it: a restart or a failover)",
            ),
            LostBecause::MaxHold(max_hold) => write!(
                f,
                "this request held the session lock longer than rustredis.lock_max_hold_ms ({} ms), so its lease \
                 was no longer renewed and expired",
                max_hold.as_millis()
            ),
            LostBecause::RenewalFailed(cause) => write!(
                f,
                "this request's session lock expired because its lease could not be renewed ({cause})"
            ),
            LostBecause::Released => f.write_str("this request had already released the session lock"),
            LostBecause::InheritedThroughFork => f.write_str(
                "this process is a child of pcntl_fork() and the session lock is its parent's (a child starts \
                 sessions of its own)",
            ),
        }
    }
}

/// The Redis side of a [`SessionError::Redis`].
#[derive(Debug)]
pub enum RedisCause {
    /// A command was not sent, or its whole reply did not arrive, within the read timeout in
    /// force (each has all of it).
    Timeout { read_timeout: Duration },
    /// The connect (TCP, TLS handshake, AUTH/SELECT) did not finish within the connect timeout.
    ConnectTimeout {
        stage: ConnectStage,
        connect_timeout: Duration,
    },
    /// TLS failed: the handshake, the server's certificate, or the server refusing ours. `hint`
    /// says what to change, when it is known.
    Tls { detail: String, hint: &'static str },
    /// A file a `stream[...]` parameter of the save_path names cannot be used.
    TlsFile {
        param: &'static str,
        path: String,
        problem: String,
    },
    /// A command's replies took more than `limit` bytes (`rustredis.max_data_bytes` plus
    /// `connection::REPLY_SLACK_BYTES`).
    ReplyTooLarge { limit: usize },
    /// A reply announced more than `limit` elements, more than any command of ours gets.
    TooManyElements { limit: u64 },
    /// Redis refused the AUTH or SELECT of a new connection.
    Refused {
        command: &'static str,
        reply: String,
    },
    /// The server wants a password and the save_path gives none.
    AuthRequired,
    /// A reply that no command of rustredis can get from Redis (see `protocol::reply`), or bytes
    /// that are no reply at all; the connection was closed.
    Malformed(redis::RedisError),
    /// The connection was closed or reset before a complete reply arrived.
    Dropped(redis::RedisError),
    /// Any other failure, as the client library reports it.
    Failed(redis::RedisError),
}

/// Where a connect was when it ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectStage {
    Tcp,
    TlsHandshake,
    /// AUTH and SELECT, which a new connection sends before anything else.
    Setup,
}

impl fmt::Display for ConnectStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectStage::Tcp => "TCP connect",
            ConnectStage::TlsHandshake => "TLS handshake",
            ConnectStage::Setup => "AUTH/SELECT after connecting",
        })
    }
}

impl RedisCause {
    /// What `err` says, when the connection noted nothing more precise (see
    /// `connection::RedisConnection::cause`).
    pub fn of(err: redis::RedisError) -> Self {
        if is_auth_required(&err) {
            RedisCause::AuthRequired
        } else if crate::protocol::is_protocol_error(&err) {
            RedisCause::Malformed(err)
        } else if err.is_connection_dropped() && !err.is_connection_refusal() {
            RedisCause::Dropped(err)
        } else {
            RedisCause::Failed(err)
        }
    }
}

/// NOAUTH, or what Redis answers an unauthenticated client whose first command has more than 10
/// arguments (every rustredis script call has): "Protocol error: unauthenticated multibulk
/// length", after which it closes the connection.
fn is_auth_required(err: &redis::RedisError) -> bool {
    err.code() == Some("NOAUTH")
        || (err.code() == Some("ERR")
            && err
                .detail()
                .is_some_and(|d| d.starts_with("Protocol error: unauthenticated")))
}

impl fmt::Display for RedisCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisCause::Timeout { read_timeout } => write!(
                f,
                "no complete reply within {} ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)",
                read_timeout.as_millis()
            ),
            RedisCause::ConnectTimeout {
                stage,
                connect_timeout,
            } => write!(
                f,
                "{stage} timed out: connecting took longer than {} ms (rustredis.connect_timeout_ms, or timeout \
                 in session.save_path)",
                connect_timeout.as_millis()
            ),
            RedisCause::Tls { detail, hint } => {
                write!(f, "TLS failed: {detail}")?;
                if !hint.is_empty() {
                    write!(f, "; {hint}")?;
                }
                Ok(())
            }
            RedisCause::TlsFile {
                param,
                path,
                problem,
            } => write!(f, "{param} '{path}': {problem}"),
            RedisCause::ReplyTooLarge { limit } => write!(
                f,
                "reply larger than {limit} bytes (rustredis.max_data_bytes plus {} MiB for the protocol); \
                 stopped reading it and closed the connection",
                crate::connection::REPLY_SLACK_BYTES >> 20
            ),
            RedisCause::TooManyElements { limit } => write!(
                f,
                "reply with more than {limit} elements, more than any command of a session handler gets \
                 (is this a Redis server?); stopped reading it and closed the connection"
            ),
            RedisCause::Refused { command, reply } => {
                let what = if *command == "AUTH" {
                    "the credentials in session.save_path"
                } else {
                    "the database in session.save_path"
                };
                write!(f, "{command} refused ({what}): {reply}")
            }
            RedisCause::AuthRequired => f.write_str(
                "authentication required: the server wants a password and session.save_path gives none \
                 (add auth=PASSWORD, or auth[]=USER&auth[]=PASSWORD for an ACL user)",
            ),
            RedisCause::Malformed(err) if err.kind() == redis::ErrorKind::Parse => {
                // The parser's detail spans lines ("Parse error at 1\nUnexpected `2`\n…").
                let detail = err.detail().unwrap_or_default().trim().replace('\n', "; ");
                write!(
                    f,
                    "unreadable reply, not RESP ({detail}); the connection was closed"
                )
            }
            RedisCause::Malformed(err) => write!(
                f,
                "{}; the connection was closed",
                err.detail().unwrap_or("malformed reply")
            ),
            RedisCause::Dropped(err) => write!(
                f,
                "the connection was closed or reset before a complete reply arrived ({err})"
            ),
            RedisCause::Failed(err) => write!(f, "{err}"),
        }
    }
}

fn quoted_list(keys: &[String]) -> String {
    keys.iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::SavePath(err) => write!(f, "{err}"),
            SessionError::InvalidId => f.write_str(
                "session id rejected: it is empty, longer than 256 characters or contains characters other than \
                 A-Z, a-z, 0-9, ',' and '-'",
            ),
            SessionError::Redis { endpoint, cause } => {
                write!(f, "Redis at {endpoint} failed: {cause}")
            }
            SessionError::LockTimeout { waited, holder } => {
                write!(
                    f,
                    "gave up waiting for the session lock after {} ms (rustredis.lock_wait_ms); ",
                    waited.as_millis()
                )?;
                match holder {
                    Some(holder) => write!(f, "{holder}"),
                    None => f.write_str("another request of this session still holds it"),
                }
            }
            SessionError::TooManyWaiters {
                max_waiters,
                holder,
            } => write!(
                f,
                "session not started: {max_waiters} requests already wait for this session's lock \
                 (rustredis.max_waiters); it is {holder}"
            ),
            SessionError::LockLost(because) => {
                write!(
                    f,
                    "lock lost, write skipped: {because}; this request's changes were not saved"
                )?;
                match because {
                    LostBecause::Expired => f.write_str(" so the newer data is kept"),
                    LostBecause::Released | LostBecause::InheritedThroughFork => Ok(()),
                    _ => f.write_str(
                        ", so that nothing another request may have written meanwhile is overwritten",
                    ),
                }
            }
            SessionError::WritesRefused => f.write_str(
                "write skipped: the session was opened read-only after a lock timeout \
                 (rustredis.on_lock_timeout=readonly)",
            ),
            SessionError::Conflict { keys } => write!(
                f,
                "write conflict on session key(s) {}: a parallel request changed them too; kept its values and \
                 dropped this request's changes (rustredis.on_conflict=keep_theirs)",
                quoted_list(keys)
            ),
            SessionError::WholeSessionConflict { reason } => write!(
                f,
                "write conflict on the whole session: a parallel request changed it too and it cannot be \
                 merged key by key ({reason}); kept its version and dropped this request's changes \
                 (rustredis.on_conflict=keep_theirs)"
            ),
            SessionError::TooManyWriters { merges, waited } => write!(
                f,
                "write skipped: parallel requests kept changing the session through {merges} merge attempts in {} \
                 ms (rustredis.lock_wait_ms)",
                waited.as_millis()
            ),
            SessionError::TooLarge { size, max } => write!(
                f,
                "write skipped: session data is {size} bytes, more than rustredis.max_data_bytes={max}"
            ),
            SessionError::IdCollision => write!(
                f,
                "could not create an unused session id in {MAX_CREATE_ID_ATTEMPTS} attempts"
            ),
            SessionError::ReadFailedBefore => f.write_str(
                "write skipped: reading this session failed, so writing would replace data this request never saw",
            ),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::SavePath(err) => Some(err),
            SessionError::Redis {
                cause:
                    RedisCause::Failed(err) | RedisCause::Malformed(err) | RedisCause::Dropped(err),
                ..
            } => Some(err),
            SessionError::WholeSessionConflict { reason } => Some(reason),
            _ => None,
        }
    }
}

pub type SessionResult<T> = Result<T, SessionError>;

/// Something an operator should know although the call succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// `rustredis.on_lock_timeout=readonly`: the lock wait timed out (this is its message) and
    /// the session was read without it; this request's changes will not be saved.
    ContinuingReadOnly(String),
    /// `rustredis.on_conflict=mine_wins`: this request's values replaced a parallel request's.
    ReplacedTheirs { keys: Vec<String> },
    /// The lock was gone before an unchanged session was released: nothing was lost.
    LockExpiredUnchanged(LostBecause),
    /// The stored session could not be decoded (compression header): a fresh session was used.
    CorruptSession(String),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::ContinuingReadOnly(timeout) => write!(
                f,
                "{timeout}; continuing read-only (rustredis.on_lock_timeout=readonly): changes made by this \
                 request will not be saved"
            ),
            Warning::ReplacedTheirs { keys } => write!(
                f,
                "write conflict on session key(s) {}: this request's values replaced a parallel request's \
                 (rustredis.on_conflict=mine_wins)",
                quoted_list(keys)
            ),
            Warning::CorruptSession(cause) => write!(
                f,
                "{cause}; this request starts with an empty session (its next write replaces the stored one)"
            ),
            Warning::LockExpiredUnchanged(because) => write!(
                f,
                "the session lock ended before the request did: {because}; the session was unchanged, so \
                 nothing was lost"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> redis::RedisError {
        redis::RedisError::from(std::io::Error::new(kind, "test"))
    }

    #[test]
    fn a_refused_connection_is_not_a_dropped_one() {
        let refused = RedisCause::of(io(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(refused, RedisCause::Failed(_)), "{refused:?}");
        let reset = RedisCause::of(io(std::io::ErrorKind::UnexpectedEof));
        assert!(
            reset
                .to_string()
                .starts_with("the connection was closed or reset before a complete reply"),
            "{reset}"
        );
    }

    #[test]
    fn a_missing_password_says_to_set_auth() {
        let server = |code: &str, detail: &str| {
            redis::parse_redis_value(format!("-{code} {detail}\r\n").as_bytes())
                .unwrap()
                .extract_error()
                .unwrap_err()
        };
        for err in [
            server("NOAUTH", "Authentication required."),
            server("ERR", "Protocol error: unauthenticated multibulk length"),
        ] {
            let cause = RedisCause::of(err);
            assert!(matches!(cause, RedisCause::AuthRequired), "{cause:?}");
            assert!(cause.to_string().contains("add auth=PASSWORD"), "{cause}");
        }
        let other = RedisCause::of(server("ERR", "Protocol error: too big"));
        assert!(matches!(other, RedisCause::Failed(_)), "{other:?}");
    }

    #[test]
    fn a_lost_lock_claims_newer_data_only_when_another_request_holds_it() {
        let taken = SessionError::LockLost(LostBecause::Expired).to_string();
        assert!(taken.contains("another request holds it now"), "{taken}");
        assert!(taken.ends_with("so the newer data is kept"), "{taken}");
        let gone = SessionError::LockLost(LostBecause::Vanished).to_string();
        assert!(
            gone.contains("no longer exists in Redis and no other request holds it"),
            "{gone}"
        );
        assert!(
            !gone.contains("newer data") && !gone.contains("took"),
            "{gone}"
        );
        assert!(gone.ends_with("nothing another request may have written meanwhile is overwritten"));
    }
}
