//! One connection to Redis, of our own: every step of it ends by a wall-clock deadline.
//!
//! redis-rs's sync `Connection` bounds each socket read, not a whole reply, and runs the TLS
//! handshake on a socket without timeouts, so a server that accepts and stays silent, or one that
//! drips a byte now and then, holds a PHP worker forever. Here:
//!
//! - **Connecting** — resolving, the TCP connect to each address in turn, the TLS handshake and
//!   AUTH/SELECT — shares one deadline, the connect timeout. A failure names the stage that ran
//!   out of time.
//! - **A command** gets the read timeout for sending it, and the read timeout again for its whole
//!   reply. A blocking command (the lock wait's `BLPOP`) blocks for less than that (see
//!   `protocol::Backoff`).
//!
//! - **A command's replies** may take [`max_reply_bytes`] (`rustredis.max_data_bytes` plus
//!   [`REPLY_SLACK_BYTES`]) and announce at most [`MAX_REPLY_ELEMENTS`] elements each, checked
//!   on the bytes before redis-rs's parser builds anything from them (see `scan`).
//!
//! The deadlines work the same way: the socket is wrapped in a `Deadline`, which before every read and
//! write sets the socket's timeout to the time left, so no single read can outlast the deadline
//! however the bytes arrive. TLS runs on top of that wrapper, so the handshake and every record
//! are bounded too. Commands are packed by redis-rs and replies parsed by redis-rs's own
//! [`redis::Parser`], one reply at a time; a bulk reply of [`DIRECT_BULK_BYTES`] or more (a large
//! session) is read from the socket straight into its own buffer instead. AUTH and SELECT are
//! sent here.
//!
//! A connection that failed in any way other than a Redis error reply (I/O, a timeout, a reply
//! that does not parse) is retired: a late reply must never be read as the answer to the next
//! command. It also remembers a reply too large to keep the connection for (see `pool`), and the
//! process that opened it, so that a forked child never uses its parent's socket.

mod scan;
mod tls;

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use redis::{ConnectionLike, RedisError, RedisResult, Value};

use crate::config::{Endpoint, RedisTarget, TlsOptions};
use crate::error::{ConnectStage, RedisCause};
pub use scan::MAX_REPLY_ELEMENTS;
use scan::{ReplyScanner, TooManyElements};

/// A connection that carried a larger reply is closed after use (see `pool`).
pub const MAX_REUSED_REPLY_BYTES: usize = 1 << 20;
/// What a command's replies may take beyond `rustredis.max_data_bytes`: the protocol, the lock
/// holder and the status codes that come with the session data.
pub const REPLY_SLACK_BYTES: usize = 1 << 20;

/// The byte budget of one command's replies for `rustredis.max_data_bytes`.
pub fn max_reply_bytes(max_data_bytes: usize) -> usize {
    max_data_bytes.saturating_add(REPLY_SLACK_BYTES)
}

/// A socket's timeouts, which [`Deadline`] adjusts before each use.
trait Socket: Read + Write {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

impl Socket for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
}

impl Socket for UnixStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_write_timeout(self, timeout)
    }
}

/// When a [`Deadline`] runs out, and whether it did.
#[derive(Debug)]
struct Clock {
    until: Instant,
    expired: bool,
}

/// A socket whose every read and write returns by `clock.until`: each waits at most the time
/// left, and once it is gone they fail with `TimedOut` (never `WouldBlock`, which OpenSSL would
/// take for a non-blocking socket).
struct Deadline<S> {
    socket: S,
    clock: Clock,
}

impl<S: Socket> Deadline<S> {
    fn new(socket: S, until: Instant) -> Self {
        Deadline {
            socket,
            clock: Clock {
                until,
                expired: false,
            },
        }
    }

    fn within<T>(
        &mut self,
        writing: bool,
        mut op: impl FnMut(&mut S) -> io::Result<T>,
    ) -> io::Result<T> {
        loop {
            let left = self.clock.until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.expire());
            }
            if writing {
                self.socket.set_write_timeout(Some(left))?;
            } else {
                self.socket.set_read_timeout(Some(left))?;
            }
            match op(&mut self.socket) {
                // A signal (PHP's timers): carry on with the time left.
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(self.expire())
                }
                other => return other,
            }
        }
    }

    fn expire(&mut self) -> io::Error {
        self.clock.expired = true;
        io::Error::new(io::ErrorKind::TimedOut, "deadline passed")
    }
}

impl<S: Socket> Read for Deadline<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.within(false, |socket| socket.read(buf))
    }
}

impl<S: Socket> Write for Deadline<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.within(true, |socket| socket.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.socket.flush()
    }
}

/// What a connection talks through.
enum Transport {
    Tcp(Deadline<TcpStream>),
    Tls(Box<native_tls::TlsStream<Deadline<TcpStream>>>),
    Unix(Deadline<UnixStream>),
}

impl Transport {
    fn clock(&mut self) -> &mut Clock {
        match self {
            Transport::Tcp(socket) => &mut socket.clock,
            Transport::Tls(stream) => &mut stream.get_mut().clock,
            Transport::Unix(socket) => &mut socket.clock,
        }
    }

    /// Reads and writes from now on end by `until`.
    fn set_deadline(&mut self, until: Instant) {
        *self.clock() = Clock {
            until,
            expired: false,
        };
    }

    /// Whether the deadline ran out since it was set.
    fn expired(&mut self) -> bool {
        self.clock().expired
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(socket) => socket.read(buf),
            Transport::Tls(stream) => stream.read(buf),
            Transport::Unix(socket) => socket.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(socket) => socket.write(buf),
            Transport::Tls(stream) => stream.write(buf),
            Transport::Unix(socket) => socket.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Tcp(socket) => socket.flush(),
            Transport::Tls(stream) => stream.flush(),
            Transport::Unix(socket) => socket.flush(),
        }
    }
}

/// How much is read from the server at a time, for replies (or their first bytes) that go on to
/// redis-rs's parser.
const READ_CHUNK: usize = 16 * 1024;

/// A bulk reply at least this large is read straight into its own buffer instead of through
/// redis-rs's parser, which gathers a reply whole in a buffer of its own (zero-filled as it
/// grows) and then copies it out: two more passes over a large session than it needs.
pub const DIRECT_BULK_BYTES: usize = 64 * 1024;

/// Bytes read from the server that no reply was handed yet: the start of the next reply.
#[derive(Debug, Default)]
struct ReadAhead {
    bytes: Vec<u8>,
    start: usize,
}

impl ReadAhead {
    fn pending(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    fn is_empty(&self) -> bool {
        self.start == self.bytes.len()
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.is_empty() {
            self.bytes.clear();
            self.start = 0;
        }
    }
}

/// The bytes of one command's replies on their way to the parser, within the limits: at most
/// `budget` bytes, and replies that announce at most [`MAX_REPLY_ELEMENTS`] elements. The parser
/// is handed one reply at a time, never the start of the next (which stays in `ahead`), so a
/// large bulk reply can be read past it (see [`Incoming::direct_bulk`]).
struct Incoming<'a> {
    transport: &'a mut Transport,
    scanner: &'a mut ReplyScanner,
    ahead: &'a mut ReadAhead,
    budget: usize,
    exceeded: Option<Exceeded>,
    /// The reply being read ended: the parser gets nothing of the next one.
    reply_ended: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exceeded {
    Bytes,
    Elements,
}

impl Incoming<'_> {
    fn exceed(&mut self, what: Exceeded) -> io::Error {
        self.exceeded = Some(what);
        io::Error::other("reply over the limits")
    }

    /// Reads what the server sends next onto `ahead`, at most `most` bytes and within the
    /// budget; 0: the server closed the connection.
    fn fill(&mut self, most: usize) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(self.exceed(Exceeded::Bytes));
        }
        let most = most.min(self.budget);
        read_onto(
            self.transport,
            &mut self.ahead.bytes,
            most,
            &mut self.budget,
        )
    }

    /// The next reply, when it is a bulk string of at least [`DIRECT_BULK_BYTES`] that fits the
    /// budget: read from the socket straight into the buffer it is returned in. None: anything
    /// else, for the parser (nothing of it consumed but its first bytes read ahead).
    fn direct_bulk(&mut self) -> RedisResult<Option<Vec<u8>>> {
        // The reply's first line: `$<length>\r\n` is at most 22 bytes.
        let header = loop {
            let pending = self.ahead.pending();
            if pending.first().is_some_and(|&b| b != b'$') {
                return Ok(None);
            }
            if let Some(end) = pending.iter().position(|&b| b == b'\n') {
                break end + 1;
            }
            if pending.len() > 22 || self.fill(READ_CHUNK)? == 0 {
                return Ok(None);
            }
        };
        let line = &self.ahead.pending()[1..header];
        let Some(digits) = line.strip_suffix(b"\r\n") else {
            return Ok(None);
        };
        let length = match std::str::from_utf8(digits).map(str::parse::<usize>) {
            Ok(Ok(length)) if digits.iter().all(u8::is_ascii_digit) => length,
            _ => return Ok(None),
        };
        let total = match length.checked_add(2) {
            Some(total) if length >= DIRECT_BULK_BYTES => total,
            _ => return Ok(None),
        };
        let have = self.ahead.pending().len() - header;
        if total > have && total - have > self.budget {
            // Over the budget: the parser reads up to it and reports the limit, as for any reply.
            return Ok(None);
        }
        self.feed(header)?;
        let mut data = Vec::with_capacity(total);
        let from_ahead = self.ahead.pending().len().min(total);
        data.extend_from_slice(&self.ahead.pending()[..from_ahead]);
        self.feed(from_ahead)?;
        while data.len() < total {
            let old = data.len();
            // Within the budget: checked above for the whole reply.
            let most = (total - old).min(4 * READ_CHUNK);
            if read_onto(self.transport, &mut data, most, &mut self.budget)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection in the middle of a reply",
                )
                .into());
            }
            // Counted like every other byte (the scanner skips a payload by its length).
            let (_, ended) = self
                .scanner
                .feed_reply(&data[old..])
                .map_err(|TooManyElements| self.exceed(Exceeded::Elements))?;
            debug_assert_eq!(ended, data.len() == total);
        }
        if !data.ends_with(b"\r\n") {
            return Err(RedisError::from((
                redis::ErrorKind::Parse,
                "malformed reply",
                "a bulk string longer than its length said".to_string(),
            )));
        }
        data.truncate(length);
        Ok(Some(data))
    }

    /// Hands the scanner the first `n` read-ahead bytes, consumed.
    fn feed(&mut self, n: usize) -> io::Result<()> {
        let bytes = &self.ahead.pending()[..n];
        match self.scanner.feed_reply(bytes) {
            Ok((used, _)) => {
                debug_assert_eq!(used, n);
                self.ahead.consume(n);
                Ok(())
            }
            Err(TooManyElements) => Err(self.exceed(Exceeded::Elements)),
        }
    }
}

/// Reads at most `most` (≤ `budget`) bytes from `transport` onto the end of `buf`, taking them
/// off `budget`; 0: the server closed the connection. The space is zero-filled just before the
/// kernel copies into it, a chunk at a time, so it is still in cache.
fn read_onto(
    transport: &mut Transport,
    buf: &mut Vec<u8>,
    most: usize,
    budget: &mut usize,
) -> io::Result<usize> {
    let old = buf.len();
    buf.resize(old + most, 0);
    let read = transport.read(&mut buf[old..]);
    let n = *read.as_ref().unwrap_or(&0);
    buf.truncate(old + n);
    *budget -= n;
    read
}

impl Read for Incoming<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.reply_ended || buf.is_empty() {
            return Ok(0);
        }
        if self.ahead.is_empty() && self.fill(READ_CHUNK)? == 0 {
            return Ok(0);
        }
        let pending = self.ahead.pending();
        let n = pending.len().min(buf.len());
        let (used, ended) = match self.scanner.feed_reply(&pending[..n]) {
            Ok(fed) => fed,
            Err(TooManyElements) => return Err(self.exceed(Exceeded::Elements)),
        };
        buf[..used].copy_from_slice(&pending[..used]);
        self.ahead.consume(used);
        self.reply_ended = ended;
        Ok(used)
    }
}

/// What may follow the replies a read asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rest {
    /// Nothing: bytes beyond them are a stray reply (the connection is out of step).
    None,
    /// The replies of the rest of a pipeline sent whole (redis-rs's cluster client reads them
    /// one at a time).
    MayFollow,
}

/// How long one exchange may take.
#[derive(Debug, Clone, Copy)]
enum Within {
    /// Sending, and then the replies, each within this (commands).
    Each(Duration),
    /// Everything by then (AUTH/SELECT, within the connect deadline).
    Until(Instant),
}

impl Within {
    /// When the step starting now must end.
    fn deadline(self) -> Instant {
        match self {
            Within::Each(timeout) => Instant::now() + timeout,
            Within::Until(deadline) => deadline,
        }
    }
}

/// A connection to Redis (see the module documentation).
pub struct RedisConnection {
    transport: Transport,
    /// For a TLS transport, how it was set up (what a failure's hint refers to).
    tls: Option<TlsOptions>,
    /// redis-rs's parser, handed one reply at a time (see [`Incoming`]).
    parser: redis::Parser,
    /// Follows the same bytes, for the limits.
    scanner: ReplyScanner,
    /// What was read of the next reply already (see [`Incoming`]).
    ahead: ReadAhead,
    /// The byte budget of one command's replies (see [`max_reply_bytes`]).
    max_reply_bytes: usize,
    db: i64,
    read_timeout: Duration,
    broken: bool,
    /// An exchange succeeded on it.
    exchanged: bool,
    /// A reply over [`MAX_REUSED_REPLY_BYTES`] went through.
    oversized: bool,
    /// Why the last exchange failed, where the client library's error would not say it.
    failure: Option<RedisCause>,
    /// The process that opened it.
    pid: u32,
}

/// Opens a connection to `target`: connect, TLS handshake and AUTH/SELECT, all within
/// `connect_timeout`. Its commands then get `read_timeout` each (see the module documentation),
/// and their replies `max_reply_bytes`.
pub fn connect(
    target: &RedisTarget,
    connect_timeout: Duration,
    read_timeout: Duration,
    max_reply_bytes: usize,
) -> Result<RedisConnection, RedisCause> {
    let deadline = Instant::now() + connect_timeout;
    let timed_out = |stage| RedisCause::ConnectTimeout {
        stage,
        connect_timeout,
    };
    let transport = match &target.endpoint {
        Endpoint::Tcp { host, port, tls } => {
            let tcp = tcp_connect(host, *port, deadline).map_err(|err| {
                if err.kind() == io::ErrorKind::TimedOut || Instant::now() >= deadline {
                    timed_out(ConnectStage::Tcp)
                } else {
                    RedisCause::Failed(err.into())
                }
            })?;
            // Commands go out in one write each; nothing is gained by delaying their last segment.
            let _ = tcp.set_nodelay(true);
            let socket = Deadline::new(tcp, deadline);
            if *tls {
                let stream = tls::handshake(&target.tls, host, socket, deadline)
                    .map_err(|err| err.unwrap_or_else(|| timed_out(ConnectStage::TlsHandshake)))?;
                Transport::Tls(Box::new(stream))
            } else {
                Transport::Tcp(socket)
            }
        }
        Endpoint::Unix { path } => {
            let socket = UnixStream::connect(path).map_err(|err| RedisCause::Failed(err.into()))?;
            Transport::Unix(Deadline::new(socket, deadline))
        }
    };
    let mut conn = RedisConnection {
        tls: matches!(transport, Transport::Tls(_)).then(|| target.tls.clone()),
        transport,
        parser: redis::Parser::new(),
        scanner: ReplyScanner::default(),
        ahead: ReadAhead::default(),
        max_reply_bytes,
        db: target.database,
        read_timeout,
        broken: false,
        exchanged: false,
        oversized: false,
        failure: None,
        pid: std::process::id(),
    };
    if let Some(password) = &target.password {
        let mut auth = redis::cmd("AUTH");
        if let Some(user) = &target.username {
            auth.arg(user);
        }
        auth.arg(password);
        conn.setup("AUTH", &auth, deadline)
            .map_err(|err| err.unwrap_or_else(|| timed_out(ConnectStage::Setup)))?;
    }
    if target.database != 0 {
        conn.setup(
            "SELECT",
            redis::cmd("SELECT").arg(target.database),
            deadline,
        )
        .map_err(|err| err.unwrap_or_else(|| timed_out(ConnectStage::Setup)))?;
    }
    Ok(conn)
}

/// A TCP connection to the first address of `host` that accepts by `deadline`.
fn tcp_connect(host: &str, port: u16, deadline: Instant) -> io::Result<TcpStream> {
    let mut last_error = None;
    for addr in (host, port).to_socket_addrs()? {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(tcp) => return Ok(tcp),
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("'{host}' resolves to no address"),
        )
    }))
}

impl RedisConnection {
    /// Sends a command of the connect (AUTH, SELECT) and checks that Redis said OK. `None`: the
    /// connect deadline passed.
    fn setup(
        &mut self,
        command: &'static str,
        cmd: &redis::Cmd,
        deadline: Instant,
    ) -> Result<(), Option<RedisCause>> {
        let reply = self
            .exchange(&cmd.get_packed_command(), 1, Within::Until(deadline))
            .map_err(|err| match self.failure.take() {
                Some(RedisCause::Timeout { .. }) => None,
                Some(cause) => Some(cause),
                None => Some(RedisCause::of(err)),
            })?;
        match reply.as_slice() {
            [Value::Okay] => Ok(()),
            [Value::ServerError(err)] => Err(Some(RedisCause::Refused {
                command,
                reply: format!("{} {}", err.code(), err.details().unwrap_or("")),
            })),
            other => Err(Some(RedisCause::Refused {
                command,
                // Its shape only: a hostile server's words are not repeated.
                reply: format!(
                    "an unexpected reply, {}",
                    crate::protocol::shape(&Value::Array(other.to_vec()))
                ),
            })),
        }
    }

    /// Sends `cmd` and reads `count` replies, within `within`.
    fn exchange(&mut self, cmd: &[u8], count: usize, within: Within) -> RedisResult<Vec<Value>> {
        self.send(cmd, within)?;
        self.receive(count, within, Rest::None)
    }

    /// An error unless the connection may still be used.
    fn usable(&self) -> RedisResult<()> {
        if self.broken {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "connection retired after an earlier failure",
            )
            .into());
        }
        Ok(())
    }

    /// Sends `cmd`, within `within`.
    fn send(&mut self, cmd: &[u8], within: Within) -> RedisResult<()> {
        self.usable()?;
        self.failure = None;
        self.transport.set_deadline(within.deadline());
        if let Err(err) = self
            .transport
            .write_all(cmd)
            .and_then(|()| self.transport.flush())
        {
            return Err(self.fail(err.into(), within, None));
        }
        Ok(())
    }

    /// Reads `count` replies, within `within`; `rest` says whether more may follow them.
    fn receive(&mut self, count: usize, within: Within, rest: Rest) -> RedisResult<Vec<Value>> {
        self.usable()?;
        self.transport.set_deadline(within.deadline());
        let mut incoming = Incoming {
            transport: &mut self.transport,
            scanner: &mut self.scanner,
            ahead: &mut self.ahead,
            budget: self.max_reply_bytes,
            exceeded: None,
            reply_ended: false,
        };
        let mut replies = Vec::with_capacity(count);
        while replies.len() < count {
            incoming.reply_ended = false;
            let reply = match incoming.direct_bulk() {
                Ok(Some(data)) => Ok(Value::BulkString(data)),
                Ok(None) => self.parser.parse_value(&mut incoming),
                Err(err) => Err(err),
            };
            match reply {
                // Out-of-band data (RESP3 only, never asked for): not a reply.
                Ok(Value::Push { .. }) => {}
                Ok(reply) => replies.push(reply),
                Err(err) => {
                    let exceeded = incoming.exceeded;
                    return Err(self.fail(err, within, exceeded));
                }
            }
        }
        // Bytes read beyond the replies asked for: the server answered more than was asked (a
        // stray reply), so the replies read may not be the answers to this command either.
        // The parser is handed one reply at a time, so they wait in `ahead`.
        let beyond = !incoming.ahead.is_empty() || incoming.scanner.mid_reply();
        if beyond && rest == Rest::None {
            let err = RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "malformed reply",
                format!(
                    "more bytes arrived than the {} asked for (a stray reply: is session.save_path \
                     a Redis server, or is something between rustredis and Redis?)",
                    if count == 1 {
                        "one reply".to_string()
                    } else {
                        format!("{count} replies")
                    }
                ),
            ));
            return Err(self.fail(err, within, None));
        }
        self.exchanged = true;
        if replies.iter().map(reply_size).sum::<usize>() > MAX_REUSED_REPLY_BYTES {
            self.oversized = true;
        }
        Ok(replies)
    }

    /// Retires the connection after `err` and notes what it means.
    fn fail(&mut self, err: RedisError, within: Within, exceeded: Option<Exceeded>) -> RedisError {
        self.broken = true;
        self.failure = if let Some(exceeded) = exceeded {
            Some(match exceeded {
                Exceeded::Bytes => RedisCause::ReplyTooLarge {
                    limit: self.max_reply_bytes,
                },
                Exceeded::Elements => RedisCause::TooManyElements {
                    limit: MAX_REPLY_ELEMENTS,
                },
            })
        } else if self.transport.expired() {
            Some(RedisCause::Timeout {
                read_timeout: match within {
                    Within::Each(timeout) => timeout,
                    Within::Until(_) => self.read_timeout,
                },
            })
        } else if let Some(options) = &self.tls {
            // TLS 1.3 servers check the client's certificate after the handshake, so refusing
            // it shows up here, in the first exchange: as their alert, or as a reset when our
            // command reached the server before it closed.
            let detail = err.to_string();
            let hint = match tls::hint(&detail, options) {
                // Reset, or a clean close (Valkey 8 with TLS 1.3 shows "unexpected EOF").
                "" if !self.exchanged && (err.is_connection_dropped() || err.is_io_error()) => {
                    tls::closed_after_handshake(options)
                }
                hint => hint,
            };
            (!hint.is_empty()).then_some(RedisCause::Tls { detail, hint })
        } else {
            None
        };
        err
    }

    /// What the failure behind `err`, an error of this connection's last command, means.
    pub fn cause(&mut self, err: RedisError) -> RedisCause {
        self.failure.take().unwrap_or_else(|| RedisCause::of(err))
    }

    /// Closes it once it is given back instead of keeping it idle: its caller found a reply it
    /// cannot trust (see `protocol::reply`), so it may be out of step with the server.
    pub fn retire(&mut self) {
        self.broken = true;
    }

    /// Sends `cmd` without reading its replies, within the read timeout; [`Self::receive_one`]
    /// reads them (redis-rs's cluster client pipelines so, see `topology::cluster`).
    pub fn send_packed(&mut self, cmd: &[u8]) -> RedisResult<()> {
        self.send(cmd, Within::Each(self.read_timeout))
    }

    /// Reads one reply of what [`Self::send_packed`] sent, within the read timeout.
    pub fn receive_one(&mut self) -> RedisResult<Value> {
        // More replies of the same pipeline may already be here: they are read next.
        let mut replies = self.receive(1, Within::Each(self.read_timeout), Rest::MayFollow)?;
        Ok(replies.pop().expect("one reply was read"))
    }

    /// Its commands get this read timeout from now on.
    pub fn set_read_timeout(&mut self, read_timeout: Duration) {
        self.read_timeout = read_timeout;
    }

    /// Its commands' replies get this budget from now on (see [`max_reply_bytes`]).
    pub fn set_max_reply_bytes(&mut self, max_reply_bytes: usize) {
        self.max_reply_bytes = max_reply_bytes;
    }

    /// Whether it may be kept idle for another checkout.
    pub fn reusable(&self) -> bool {
        !self.broken && !self.oversized
    }

    /// The process that opened it.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

/// About how many bytes a reply took to read: the strings in it.
fn reply_size(reply: &Value) -> usize {
    match reply {
        Value::BulkString(bytes) => bytes.len(),
        Value::SimpleString(text) | Value::VerbatimString { text, .. } => text.len(),
        Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => {
            items.iter().map(reply_size).sum()
        }
        Value::Map(pairs) => pairs_size(pairs),
        Value::Attribute { data, attributes } => reply_size(data) + pairs_size(attributes),
        _ => 0,
    }
}

fn pairs_size(pairs: &[(Value, Value)]) -> usize {
    pairs
        .iter()
        .map(|(key, value)| reply_size(key) + reply_size(value))
        .sum()
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        let mut replies = self.exchange(cmd, 1, Within::Each(self.read_timeout))?;
        Ok(replies.pop().expect("one reply was read"))
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        let mut replies = self.exchange(cmd, offset + count, Within::Each(self.read_timeout))?;
        // As redis-rs does: the first `offset` replies (MULTI's and the queued commands') are
        // not returned, but an error among them is.
        let skipped: Vec<Value> = replies.drain(..offset).collect();
        if let Some(Value::ServerError(err)) = skipped
            .into_iter()
            .find(|reply| matches!(reply, Value::ServerError(_)))
        {
            return Err(err.into());
        }
        Ok(replies)
    }

    fn get_db(&self) -> i64 {
        self.db
    }

    fn check_connection(&mut self) -> bool {
        redis::cmd("PING").query::<String>(self).is_ok()
    }

    fn is_open(&self) -> bool {
        !self.broken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_sizes_count_the_strings() {
        assert_eq!(reply_size(&Value::Okay), 0);
        assert_eq!(reply_size(&Value::Int(1 << 40)), 0);
        assert_eq!(
            reply_size(&Value::BulkString(vec![0; 2_000_000])),
            2_000_000
        );
        let nested = Value::Array(vec![
            Value::Int(1),
            Value::BulkString(vec![0; 10]),
            Value::Array(vec![Value::SimpleString("abc".into()), Value::Nil]),
            Value::Map(vec![(
                Value::BulkString(vec![0; 2]),
                Value::BulkString(vec![0; 5]),
            )]),
        ]);
        assert_eq!(reply_size(&nested), 20);
    }
}
