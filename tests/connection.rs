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

fn get(save_path: &str) -> Result<PooledConnection, RedisCause> {
    let target = SavePath::parse(save_path).unwrap().target;
    pool::pool_for(&target, TIMEOUT, TIMEOUT).get()
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

/// Runs GET and returns why it failed.
fn get_fails(conn: &mut PooledConnection) -> RedisCause {
    let err = redis::cmd("GET")
        .arg("k")
        .query::<Option<Vec<u8>>>(&mut **conn)
        .unwrap_err();
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
    let port = fake_server(silent);
    let mut conn = get(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let cause = bounded(|| get_fails(&mut conn));
    assert!(
        matches!(cause, RedisCause::Timeout { read_timeout } if read_timeout == TIMEOUT),
        "{cause}"
    );
    assert!(!conn.reusable());
}

#[test]
fn a_dripping_reply_ends_at_the_read_timeout() {
    let port = fake_server(drip);
    let mut conn = get(&format!("tcp://127.0.0.1:{port}")).unwrap();
    // Each byte arrives well within the read timeout; only the whole reply's deadline ends it.
    let cause = bounded(|| get_fails(&mut conn));
    assert!(matches!(cause, RedisCause::Timeout { .. }), "{cause}");
    assert!(
        cause
            .to_string()
            .contains("no complete reply within 500 ms"),
        "{cause}"
    );
    assert!(!conn.reusable());
}
