//! Our connections (`rustredis::connection`) against servers that misbehave: a tiny fake server
//! that accepts and stays silent, or drips a reply byte by byte. Every connect and every command
//! ends within its timeout, with a cause that names what ran out. The bounds asserted are generous
//! ("did not hang"), not measurements.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use rustredis::config::SavePath;
use rustredis::error::{ConnectStage, RedisCause};
use rustredis::pool::{self, PooledConnection};

/// Ten times the timeouts used below: anything slower hung.
const DID_NOT_HANG: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_millis(500);
const MAX_DATA_BYTES: usize = 1 << 20;

/// A server that accepts every connection and then runs `serve` on it, on a thread of its own.
fn fake_server(serve: fn(TcpStream)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve(stream));
        }
    });
    port
}

/// Accepts, reads what comes, answers nothing.
fn silent(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

/// Reads a command, then sends an endless bulk string, one byte every 50 ms.
fn drip(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let _ = stream.write_all(b"$1000000\r\n");
    while stream.write_all(b"x").is_ok() {
        thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `f`, checking it did not hang.
fn bounded<T>(f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = f();
    assert!(
        started.elapsed() < DID_NOT_HANG,
        "took {:?}",
        started.elapsed()
    );
    result
}

/// Reads a command, then sends a bulk string that never ends, as fast as it can.
fn endless_bulk_string(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let _ = stream.write_all(b"$99999999999\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    while stream.write_all(&chunk).is_ok() {}
}

/// Reads a command, then sends an array of 64 Mi integers.
fn huge_array(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let _ = stream.write_all(b"*67108864\r\n");
    let chunk = b":1\r\n".repeat(16 * 1024);
    while stream.write_all(&chunk).is_ok() {}
}

fn get(save_path: &str) -> Result<PooledConnection, RedisCause> {
    let target = SavePath::parse(save_path).unwrap().target;
    pool::pool_for(&target, TIMEOUT, TIMEOUT, MAX_DATA_BYTES).get()
}

fn connect_timeout_stage(result: Result<PooledConnection, RedisCause>) -> ConnectStage {
    match result {
        Err(RedisCause::ConnectTimeout {
            stage,
            connect_timeout,
        }) => {
            assert_eq!(connect_timeout, TIMEOUT);
            stage
        }
        Err(other) => panic!("expected a connect timeout, got {other}"),
        Ok(_) => panic!("expected a connect timeout, got a connection"),
    }
}

/// Runs GET on a connection to a fake server that answers with `serve`: it fails within the
/// bounds and retires the connection. Returns why it failed.
fn get_fails(serve: fn(TcpStream)) -> RedisCause {
    let port = fake_server(serve);
    let mut conn = get(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let err = bounded(|| {
        redis::cmd("GET")
            .arg("k")
            .query::<Option<Vec<u8>>>(&mut *conn)
            .unwrap_err()
    });
    assert!(!conn.reusable());
    conn.cause(err)
}

#[test]
fn tls_to_a_silent_server_times_out_in_the_handshake() {
    let port = fake_server(silent);
    let stage = bounded(|| connect_timeout_stage(get(&format!("tls://127.0.0.1:{port}"))));
    assert_eq!(stage, ConnectStage::TlsHandshake);
    let message = RedisCause::ConnectTimeout {
        stage,
        connect_timeout: TIMEOUT,
    }
    .to_string();
    assert!(
        message.contains("TLS handshake timed out")
            && message.contains("rustredis.connect_timeout_ms"),
        "{message}"
    );
}

#[test]
fn auth_to_a_silent_server_times_out_within_the_connect_timeout() {
    let port = fake_server(silent);
    let stage =
        bounded(|| connect_timeout_stage(get(&format!("tcp://127.0.0.1:{port}?auth=secret"))));
    assert_eq!(stage, ConnectStage::Setup);
}

#[test]
fn a_command_to_a_silent_server_times_out_and_retires_the_connection() {
    let cause = get_fails(silent);
    assert!(
        matches!(cause, RedisCause::Timeout { read_timeout } if read_timeout == TIMEOUT),
        "{cause}"
    );
}

#[test]
fn a_dripping_reply_ends_at_the_read_timeout() {
    // Each byte arrives well within the read timeout; only the whole reply's deadline ends it.
    let cause = get_fails(drip);
    assert!(matches!(cause, RedisCause::Timeout { .. }), "{cause}");
    assert!(
        cause
            .to_string()
            .contains("no complete reply within 500 ms"),
        "{cause}"
    );
}

#[test]
fn an_endless_bulk_string_stops_at_the_byte_budget() {
    let cause = get_fails(endless_bulk_string);
    let limit = rustredis::connection::max_reply_bytes(MAX_DATA_BYTES);
    assert!(
        matches!(cause, RedisCause::ReplyTooLarge { limit: l } if l == limit),
        "{cause}"
    );
    assert!(
        cause.to_string().contains("rustredis.max_data_bytes"),
        "{cause}"
    );
}

#[test]
fn a_reply_announcing_millions_of_elements_is_refused_at_once() {
    let cause = get_fails(huge_array);
    assert!(
        matches!(cause, RedisCause::TooManyElements { limit } if limit == rustredis::connection::MAX_REPLY_ELEMENTS),
        "{cause}"
    );
}

/// Reads a command, then answers it twice in one write: a stray reply of the right shape first.
fn stray_reply(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let _ = stream.write_all(b"$6\r\nforged\r\n$-1\r\n");
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

#[test]
fn a_stray_reply_before_the_real_one_fails_the_command() {
    let cause = get_fails(stray_reply);
    assert!(matches!(cause, RedisCause::Malformed(_)), "{cause}");
    assert!(cause.to_string().contains("a stray reply"), "{cause}");
}

/// The bytes of a large bulk reply (read straight into its buffer, not through redis-rs's
/// parser) that a test can recognise: 300 KB, not one repeated byte.
fn large_payload() -> Vec<u8> {
    (0..300_000u32).map(|i| (i % 251) as u8).collect()
}

/// Answers each read with a large bulk string and a small one, in uneven pieces: the length
/// line split, the payload in odd chunks with pauses, the small reply in the last piece.
fn large_bulk_in_pieces(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let payload = large_payload();
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {
        let mut reply = b"$300000\r\n".to_vec();
        reply.extend_from_slice(&payload);
        reply.extend_from_slice(b"\r\n$2\r\nok\r\n");
        let (head, rest) = reply.split_at(3);
        let _ = stream.write_all(head);
        thread::sleep(Duration::from_millis(5));
        for piece in rest.chunks(77_777) {
            let _ = stream.write_all(piece);
            thread::sleep(Duration::from_millis(2));
        }
    }
}

#[test]
fn a_large_bulk_reply_in_pieces_is_read_whole_and_the_connection_kept() {
    let port = fake_server(large_bulk_in_pieces);
    let mut conn = get(&format!("tcp://127.0.0.1:{port}")).unwrap();
    for _ in 0..2 {
        let (big, small): (Vec<u8>, String) = bounded(|| {
            redis::pipe()
                .cmd("GET")
                .arg("big")
                .cmd("GET")
                .arg("small")
                .query(&mut *conn)
                .unwrap()
        });
        assert!(big == large_payload(), "{} bytes read", big.len());
        assert_eq!(small, "ok");
        assert!(conn.reusable());
    }
}

/// Answers with a large bulk string that runs on past its length.
fn large_bulk_too_long(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let mut reply = b"$70000\r\n".to_vec();
    reply.resize(reply.len() + 70_001, b'x');
    reply.extend_from_slice(b"\r\n");
    let _ = stream.write_all(&reply);
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

#[test]
fn a_large_bulk_reply_longer_than_its_length_is_malformed() {
    let cause = get_fails(large_bulk_too_long);
    assert!(matches!(cause, RedisCause::Malformed(_)), "{cause}");
}

/// Answers with the first half of a large bulk string and closes.
fn large_bulk_cut_short(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let mut reply = b"$100000\r\n".to_vec();
    reply.resize(reply.len() + 50_000, b'x');
    let _ = stream.write_all(&reply);
}

#[test]
fn a_large_bulk_reply_cut_short_fails_the_command() {
    let cause = get_fails(large_bulk_cut_short);
    assert!(matches!(cause, RedisCause::Dropped(_)), "{cause}");
}
