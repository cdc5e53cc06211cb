//! A TCP proxy on loopback that makes Redis look one LAN hop away, for `bench/` (the kernel here
//! has no netem). Every chunk is forwarded half the added round-trip time after it arrived, in
//! each direction, and a connection's first request waits one more round trip, as a TCP
//! handshake costs a client that connects.
//!
//!   cargo run --release --example delay_proxy -- LISTEN_PORT UPSTREAM_HOST:PORT ADDED_RTT_US
//!
//! It prints "ready" once it listens. The last 200 µs of each wait yield the CPU in a loop
//! instead of sleeping (a sleep wakes up late); the benchmark still measures the round trip the
//! proxy really adds instead of trusting ADDED_RTT_US.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// A kernel sleep wakes up to ~100 µs late (timer slack, scheduling): sleep until shortly before
/// `release`, then yield the CPU until it is reached.
fn wait_until(release: Instant) {
    const SPIN: Duration = Duration::from_micros(200);
    let now = Instant::now();
    if release > now + SPIN {
        thread::sleep(release - now - SPIN);
    }
    while Instant::now() < release {
        thread::yield_now();
    }
}

fn forward(mut from: TcpStream, mut to: TcpStream, half_rtt: Duration, first_extra: Duration) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut extra = first_extra;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let release = Instant::now() + half_rtt + std::mem::take(&mut extra);
        wait_until(release);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: delay_proxy LISTEN_PORT UPSTREAM_HOST:PORT ADDED_RTT_US");
        std::process::exit(2);
    }
    let listener =
        TcpListener::bind(("127.0.0.1", args[1].parse::<u16>().expect("a port"))).expect("listen");
    let upstream = args[2].clone();
    let rtt = Duration::from_micros(args[3].parse().expect("microseconds"));
    println!("ready");
    for client in listener.incoming().flatten() {
        let upstream = upstream.clone();
        thread::spawn(move || {
            let Ok(server) = TcpStream::connect(&upstream) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (c2, s2) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            // The handshake's round trip, paid by the first request.
            let up = thread::spawn(move || forward(client, server, rtt / 2, rtt));
            forward(s2, c2, rtt / 2, Duration::ZERO);
            let _ = up.join();
        });
    }
}
