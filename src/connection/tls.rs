//! TLS for `tls://` and `rediss://`: a handshake bounded by the connect deadline (it runs on a
//! [`Deadline`] socket), with the server's certificate verified against the system's CAs, and
//! messages that say what would fix a failure.

use std::net::TcpStream;
use std::time::Instant;

use native_tls::{HandshakeError, TlsConnector, TlsStream};

use super::Deadline;
use crate::error::RedisCause;

/// Runs the TLS handshake on `socket` for `host`, by `deadline`. `None`: the deadline passed.
pub(super) fn handshake(
    host: &str,
    socket: Deadline<TcpStream>,
    deadline: Instant,
) -> Result<TlsStream<Deadline<TcpStream>>, Option<RedisCause>> {
    let connector = TlsConnector::builder().build().map_err(|err| {
        Some(RedisCause::Tls {
            detail: format!("cannot set up TLS: {err}"),
            hint: "",
        })
    })?;
    match connector.connect(host, socket) {
        Ok(stream) => Ok(stream),
        // The socket reports the deadline as TimedOut, which OpenSSL turns into a failure;
        // WouldBlock would mean a non-blocking socket, which this is not.
        Err(HandshakeError::WouldBlock(_)) => Err(None),
        Err(HandshakeError::Failure(_)) if Instant::now() >= deadline => Err(None),
        Err(HandshakeError::Failure(err)) => {
            let detail = err.to_string();
            Err(Some(RedisCause::Tls {
                hint: hint(&detail),
                detail,
            }))
        }
    }
}

/// What would fix the TLS failure OpenSSL describes as `detail`, where that is known.
pub(super) fn hint(detail: &str) -> &'static str {
    if detail.contains("hostname mismatch") || detail.contains("IP address mismatch") {
        "the server's certificate is not issued to this host name"
    } else if detail.contains("certificate verify failed") {
        "the server's certificate is not signed by a CA in the system's store"
    } else if detail.contains("certificate required") {
        "the server requires a client certificate"
    } else if detail.contains("wrong version number") || detail.contains("packet length too long") {
        "the server did not answer in TLS: is this its TLS port?"
    } else {
        ""
    }
}
