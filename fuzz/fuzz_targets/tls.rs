//! Feeds arbitrary bytes, split into arbitrary reads, to a server-side TLS
//! session through `memkv::server::tls::read` / `write` - the path every
//! byte from a `tls-port` client takes (bad handshakes, truncated and
//! corrupt records, plain text on the TLS port) - with a socket that
//! sometimes refuses writes. Checks: no panic, no plaintext out of a
//! session that never completed a handshake, and a failed session stays
//! failed.
#![no_main]

use std::io::{self, ErrorKind, Read, Write};
use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use memkv::config::Config;
use memkv::server::tls;

static SERVER: LazyLock<Arc<rustls::ServerConfig>> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("memkv-fuzz-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let (cert_path, key_path) = (dir.join("c.pem"), dir.join("k.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    let mut config = Config::default();
    config.tls_port = 1;
    config.tls_auth_clients = "no".into();
    config.tls_cert_file = cert_path.display().to_string();
    config.tls_key_file = key_path.display().to_string();
    tls::server_config(&config).expect("server config")
});

/// A socket: reads give the next chunk, then WouldBlock; every third write
/// would block.
struct Socket<'a> {
    chunks: Vec<&'a [u8]>,
    next: usize,
    writes: usize,
}

impl Read for Socket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(chunk) = self.chunks.get_mut(self.next) else {
            return Err(ErrorKind::WouldBlock.into());
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        *chunk = &chunk[n..];
        if chunk.is_empty() {
            self.next += 1;
        }
        Ok(n)
    }
}

impl Write for Socket<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes += 1;
        if self.writes % 3 == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    // First byte: read size; the rest is what the "client" sends.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let size = usize::from(split).max(1);
    let mut socket = Socket {
        chunks: rest.chunks(size).filter(|c| !c.is_empty()).collect(),
        next: 0,
        writes: 0,
    };
    let Some(mut conn) = tls::accept(&SERVER) else {
        return;
    };
    let mut plain = Vec::new();
    let mut failed = false;
    for _ in 0..rest.len() + 2 {
        match tls::read(&mut conn, &mut socket, &mut plain, 16 * 1024) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    // Completing a handshake needs the client's keys: random bytes cannot.
    assert!(
        plain.is_empty(),
        "plaintext from a session without a handshake"
    );
    let _ = tls::write(&mut conn, &mut socket, b"+OK\r\n");
    let _ = tls::write(&mut conn, &mut socket, b"");
    if failed {
        let mut more = Vec::new();
        let r = tls::read(&mut conn, &mut socket, &mut more, 16 * 1024);
        assert!(
            more.is_empty(),
            "a failed session produced plaintext: {r:?}"
        );
    }
});
