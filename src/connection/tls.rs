//! TLS for `tls://` and `rediss://`: the connector the save_path's `stream[...]` parameters
//! describe, a handshake bounded by the connect deadline (it runs on a [`Deadline`] socket), and
//! messages that say which parameter would fix a failure. The server's certificate is always
//! verified: against `stream[cafile]` when set (instead of the system's CAs, as PHP does), for
//! the host or `stream[peer_name]` unless `stream[verify_peer_name]=0`.

use std::net::TcpStream;
use std::time::Instant;

use native_tls::{Certificate, HandshakeError, Identity, TlsConnector, TlsStream};

use super::Deadline;
use crate::config::TlsOptions;
use crate::error::RedisCause;

/// Runs the TLS handshake on `socket` for `host`, by `deadline`. `None`: the deadline passed.
pub(super) fn handshake(
    options: &TlsOptions,
    host: &str,
    socket: Deadline<TcpStream>,
    deadline: Instant,
) -> Result<TlsStream<Deadline<TcpStream>>, Option<RedisCause>> {
    let connector = connector(options).map_err(Some)?;
    let name = options.peer_name.as_deref().unwrap_or(host);
    match connector.connect(name, socket) {
        Ok(stream) => Ok(stream),
        // The socket reports the deadline as TimedOut, which OpenSSL turns into a failure;
        // WouldBlock would mean a non-blocking socket, which this is not.
        Err(HandshakeError::WouldBlock(_)) => Err(None),
        Err(HandshakeError::Failure(_)) if Instant::now() >= deadline => Err(None),
        Err(HandshakeError::Failure(err)) => {
            let detail = err.to_string();
            Err(Some(RedisCause::Tls {
                hint: hint(&detail, options),
                detail,
            }))
        }
    }
}

/// The connector for `options`, its files read now: a renewed certificate applies to the next
/// connection.
fn connector(options: &TlsOptions) -> Result<TlsConnector, RedisCause> {
    let mut builder = TlsConnector::builder();
    if let Some(cafile) = &options.cafile {
        let param = "stream[cafile]";
        let pem = read(param, cafile)?;
        let certs = Certificate::stack_from_pem(&pem)
            .map_err(|err| file_error(param, cafile, err.to_string()))?;
        if certs.is_empty() {
            return Err(file_error(
                param,
                cafile,
                "it holds no PEM certificate".into(),
            ));
        }
        builder.disable_built_in_roots(true);
        for cert in certs {
            builder.add_root_certificate(cert);
        }
    }
    if let Some(local_cert) = &options.local_cert {
        let cert = read("stream[local_cert]", local_cert)?;
        let (key_param, key_path) = match &options.local_pk {
            Some(local_pk) => ("stream[local_pk]", local_pk),
            None => ("stream[local_cert]", local_cert),
        };
        let key_file = read(key_param, key_path)?;
        let key = pkcs8_key(&key_file).ok_or_else(|| {
            let problem = if contains(&key_file, b"PRIVATE KEY-----") {
                "its private key is not an unencrypted PKCS#8 key ('BEGIN PRIVATE KEY'); convert it \
                 with openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.pkcs8.pem"
            } else if options.local_pk.is_none() {
                "it holds no private key; name the key's file with stream[local_pk]"
            } else {
                "it holds no private key"
            };
            file_error(key_param, key_path, problem.into())
        })?;
        let identity = Identity::from_pkcs8(&cert, key)
            .map_err(|err| file_error("stream[local_cert]", local_cert, err.to_string()))?;
        builder.identity(identity);
    }
    builder.danger_accept_invalid_hostnames(options.skip_peer_name_check);
    builder.build().map_err(|err| RedisCause::Tls {
        detail: format!("cannot set up TLS with these certificates: {err}"),
        hint: "",
    })
}

fn read(param: &'static str, path: &str) -> Result<Vec<u8>, RedisCause> {
    std::fs::read(path).map_err(|err| file_error(param, path, format!("cannot read it: {err}")))
}

fn file_error(param: &'static str, path: &str, problem: String) -> RedisCause {
    RedisCause::TlsFile {
        param,
        path: path.to_string(),
        problem,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The unencrypted PKCS#8 key block of a PEM file and what follows it (native-tls takes no other
/// form of key, and wants it first).
fn pkcs8_key(pem: &[u8]) -> Option<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN PRIVATE KEY-----";
    let start = pem.windows(BEGIN.len()).position(|w| w == BEGIN)?;
    Some(&pem[start..])
}

/// What would fix the TLS failure OpenSSL describes as `detail`, where that is known.
pub(super) fn hint(detail: &str, options: &TlsOptions) -> &'static str {
    let has = |option: &Option<String>| option.is_some();
    if detail.contains("hostname mismatch") || detail.contains("IP address mismatch") {
        if has(&options.peer_name) {
            "the server's certificate is not issued to stream[peer_name]"
        } else {
            "the server's certificate is not issued to this host: set stream[peer_name] to the name it carries"
        }
    } else if detail.contains("certificate verify failed") {
        if has(&options.cafile) {
            "the server's certificate is not signed by a CA in stream[cafile]"
        } else {
            "the server's certificate is not signed by a CA in the system's store: trust its CA with \
             stream[cafile]=/path/to/ca.pem"
        }
    } else if detail.contains("certificate required") {
        "the server requires a client certificate: set stream[local_cert] and stream[local_pk]"
    } else if detail.contains("unknown ca") || detail.contains("bad certificate") {
        "the server refused the client certificate (stream[local_cert])"
    } else if detail.contains("wrong version number") || detail.contains("packet length too long") {
        "the server did not answer in TLS: is this its TLS port?"
    } else {
        ""
    }
}

/// What a server that closes the connection right after the handshake most likely means.
pub(super) fn closed_after_handshake(options: &TlsOptions) -> &'static str {
    if options.local_cert.is_some() {
        "the server closed the connection right after the TLS handshake, as one that refuses the client \
         certificate does: check stream[local_cert] and stream[local_pk]"
    } else {
        "the server closed the connection right after the TLS handshake, as one that requires a client \
         certificate does: set stream[local_cert] and stream[local_pk]"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkcs8_key_is_found_after_a_certificate() {
        let pem = b"-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n\
                    -----BEGIN PRIVATE KEY-----\nMIG\n-----END PRIVATE KEY-----\n";
        assert!(pkcs8_key(pem)
            .unwrap()
            .starts_with(b"-----BEGIN PRIVATE KEY-----\nMIG"));
        assert_eq!(pkcs8_key(b"-----BEGIN RSA PRIVATE KEY-----\n"), None);
    }

    #[test]
    fn missing_files_name_the_parameter() {
        let options = TlsOptions {
            cafile: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        };
        let message = connector(&options).err().unwrap().to_string();
        assert!(
            message.starts_with("stream[cafile] '/nonexistent/ca.pem': cannot read it"),
            "{message}"
        );
    }
}
