//! TLS on the client port (`tls-port`), with rustls driven by the reactor:
//! the server configuration built from Redis's `tls-*` directives (private
//! keys may be encrypted PKCS#8, `tls-key-file-pass`), and the
//! non-blocking record I/O the reactor calls instead of read(2)/write(2) for
//! a TLS client (generic over the socket so the fuzz target can drive it).
//! Nothing here blocks: a handshake or a record that cannot be written yet
//! waits for the socket's next WRITABLE event. Also the client side of
//! `tls-cluster yes` ([`cluster_client_config`], [`connect_peer`]): the
//! cluster links are blocking sockets on relay threads, so they use
//! rustls's blocking `StreamOwned`.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    ServerConfig, ServerConnection, SignatureScheme, StreamOwned, SupportedProtocolVersion,
};

use crate::config::Config;

/// Plaintext handed to rustls per call: bounds what one client buffers as
/// encrypted records beyond its reply buffer.
const WRITE_CHUNK: usize = 64 * 1024;

/// Whether any `tls-*` directive asks for TLS on the client port.
pub fn enabled(config: &Config) -> bool {
    config.tls_port != 0
}

/// Builds the rustls server configuration from the `tls-*` directives.
/// Errors name the directive and the cause, for the log; Redis answers a
/// failed start with "Failed to configure TLS. Check logs for more info.".
pub fn server_config(config: &Config) -> Result<Arc<ServerConfig>, String> {
    if config.tls_cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if config.tls_key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    let auth = config.tls_auth_clients.as_str();
    if (auth != "no" || config.tls_cluster)
        && config.tls_ca_cert_file.is_empty()
        && config.tls_ca_cert_dir.is_empty()
    {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
    }
    let certs = load_certs(&config.tls_cert_file)?;
    let key = load_key(
        &config.tls_key_file,
        &config.tls_key_file_pass,
        "tls-key-file-pass",
    )?;
    let provider = Arc::new(provider(config)?);
    let versions = protocols(&config.tls_protocols)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?;
    let builder = if auth == "no" {
        builder.with_no_client_auth()
    } else {
        let roots = Arc::new(load_roots(config)?);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
        let verifier = if auth == "optional" {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        let verifier = verifier
            .build()
            .map_err(|e| format!("Failed to configure client certificate verification: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("Failed to use the certificate and key: {e}"))?;
    cfg.ignore_client_order = config.tls_prefer_server_ciphers;
    if config.tls_session_caching {
        // OpenSSL's cache size 0 means unlimited; rustls needs a bound.
        let size = match config.tls_session_cache_size {
            0 => 1 << 20,
            n => n.min(1 << 20) as usize,
        };
        cfg.session_storage = ServerSessionMemoryCache::new(size);
    } else {
        cfg.session_storage = Arc::new(NoServerSessionStorage {});
        cfg.send_tls13_tickets = 0;
    }
    Ok(Arc::new(cfg))
}

/// Loads the private key of `path` (PEM). `pass` decrypts an encrypted
/// PKCS#8 key ("BEGIN ENCRYPTED PRIVATE KEY", what `openssl genpkey
/// -aes256` and OpenSSL 3's `genrsa -aes256` write; PBES2 with PBKDF2 or
/// scrypt and AES-CBC) in pure Rust; `directive` names the password
/// directive in errors. A key that is not encrypted loads whatever `pass`
/// says, as OpenSSL does. OpenSSL's legacy encrypted PEM ("Proc-Type:
/// 4,ENCRYPTED", MD5-based key derivation) is refused with how to convert.
fn load_key(path: &str, pass: &str, directive: &str) -> Result<PrivateKeyDer<'static>, String> {
    let fail = |why: &dyn std::fmt::Display| format!("Failed to load private key: {path}: {why}");
    let text = std::fs::read(path).map_err(|e| fail(&e))?;
    const BEGIN: &[u8] = b"-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &[u8] = b"-----END ENCRYPTED PRIVATE KEY-----";
    if let Some(start) = memchr::memmem::find(&text, BEGIN) {
        if pass.is_empty() {
            return Err(fail(&format!(
                "the key is encrypted and {directive} is not set"
            )));
        }
        let end = memchr::memmem::find(&text[start..], END)
            .map(|e| start + e + END.len())
            .ok_or_else(|| fail(&"unterminated ENCRYPTED PRIVATE KEY block"))?;
        let (_, der) = pkcs8::der::pem::decode_vec(&text[start..end])
            .map_err(|e| fail(&format!("bad PEM: {e}")))?;
        let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
            .map_err(|e| fail(&format!("bad encrypted PKCS#8 key: {e}")))?;
        let plain = info.decrypt(pass.as_bytes()).map_err(|e| {
            fail(&format!(
                "cannot decrypt the key with {directive} (wrong password?): {e}"
            ))
        })?;
        let der = plain.as_bytes().to_vec();
        return Ok(PrivateKeyDer::Pkcs8(der.into()));
    }
    if memchr::memmem::find(&text, b"Proc-Type: 4,ENCRYPTED").is_some() {
        return Err(fail(&format!(
            "legacy PEM encryption (Proc-Type: 4,ENCRYPTED) is not supported; convert the key to encrypted PKCS#8 (openssl pkcs8 -topk8 -v2 aes-256-cbc -in old.key -out new.key) and use it with {directive}"
        )));
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| fail(&e))
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("Failed to load certificate: {path}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("Failed to load certificate: {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "Failed to load certificate: {path}: no certificate found"
        ));
    }
    Ok(certs)
}

/// The CA certificates client certificates must chain to: the file and
/// every PEM file of the directory.
fn load_roots(config: &Config) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    // (path, found in tls-ca-cert-dir)
    let mut files = Vec::new();
    if !config.tls_ca_cert_file.is_empty() {
        files.push((config.tls_ca_cert_file.clone(), false));
    }
    if !config.tls_ca_cert_dir.is_empty() {
        let dir = std::fs::read_dir(&config.tls_ca_cert_dir).map_err(|e| {
            format!(
                "Failed to configure CA certificate(s) file/directory: {}: {e}",
                config.tls_ca_cert_dir
            )
        })?;
        for entry in dir.flatten() {
            let p = entry.path();
            if p.is_file() {
                files.push((p.to_string_lossy().into_owned(), true));
            }
        }
    }
    for (f, from_dir) in &files {
        match load_certs(f) {
            Ok(certs) => {
                for c in certs {
                    roots.add(c).map_err(|e| {
                        format!("Failed to configure CA certificate(s) file/directory: {f}: {e}")
                    })?;
                }
            }
            // A directory may hold other files (hash links, keys).
            Err(_) if *from_dir => continue,
            Err(e) => {
                return Err(format!(
                    "Failed to configure CA certificate(s) file/directory: {e}"
                ));
            }
        }
    }
    if roots.is_empty() {
        return Err(
            "Failed to configure CA certificate(s) file/directory: no certificate found".into(),
        );
    }
    Ok(roots)
}

/// `tls-protocols "TLSv1.2 TLSv1.3"`; empty = every version rustls has.
/// TLSv1 and TLSv1.1 are insecure and rustls does not implement them.
fn protocols(spec: &str) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    if spec.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut out = Vec::new();
    for p in spec.split_whitespace() {
        match p.to_ascii_lowercase().as_str() {
            "tlsv1.3" => out.push(&rustls::version::TLS13),
            "tlsv1.2" => out.push(&rustls::version::TLS12),
            "tlsv1" | "tlsv1.1" => {
                log::warn!("tls-protocols: {p} is not supported (only TLSv1.2 and TLSv1.3)")
            }
            _ => {
                return Err(format!(
                    "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'. ({p})"
                ));
            }
        }
    }
    if out.is_empty() {
        return Err("Failed to configure protocols: none of tls-protocols is supported".into());
    }
    Ok(out)
}

/// The crypto provider with the cipher suites `tls-ciphersuites` (TLS 1.3,
/// IANA names) and `tls-ciphers` (TLS 1.2, OpenSSL names) allow.
fn provider(config: &Config) -> Result<CryptoProvider, String> {
    let mut p = rustls::crypto::ring::default_provider();
    let v13 = config.tls_ciphersuites.trim();
    let v12 = config.tls_ciphers.trim();
    if v13.is_empty() && v12.is_empty() {
        return Ok(p);
    }
    let wanted13: Vec<String> = v13.split(':').map(|s| s.trim().to_string()).collect();
    let wanted12: Vec<String> = v12.split(':').map(|s| s.trim().to_string()).collect();
    p.cipher_suites.retain(|s| {
        let name = format!("{:?}", s.suite());
        match s.version().version {
            rustls::ProtocolVersion::TLSv1_3 => {
                v13.is_empty()
                    || wanted13
                        .iter()
                        .any(|w| name == w.replacen("TLS_", "TLS13_", 1))
            }
            _ => {
                v12.is_empty()
                    || wanted12
                        .iter()
                        .any(|w| openssl_name(&name) == Some(w.as_str()))
            }
        }
    });
    if p.cipher_suites.is_empty() {
        return Err("Failed to configure ciphers: no cipher suite left".into());
    }
    Ok(p)
}

/// OpenSSL's names for the TLS 1.2 suites rustls implements.
fn openssl_name(rustls_name: &str) -> Option<&'static str> {
    Some(match rustls_name {
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => return None,
    })
}

/// A new server-side session for an accepted connection.
pub fn accept(cfg: &Arc<ServerConfig>) -> Option<Box<ServerConnection>> {
    match ServerConnection::new(cfg.clone()) {
        Ok(c) => Some(Box::new(c)),
        Err(e) => {
            log::warn!("Error accepting a TLS connection: {e}");
            None
        }
    }
}

/// Reads decrypted bytes into `buf` (appending), like `read(2)` on the
/// plain path: `Ok(n > 0)` data, `Ok(0)` the peer closed, `WouldBlock`
/// nothing more for now. See [`read_round`].
pub fn read<S: Read + Write>(
    conn: &mut ServerConnection,
    stream: &mut S,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<usize> {
    read_round(conn, stream, buf, max).map(|(n, _)| n)
}

thread_local! {
    /// Ciphertext scratch for [`read_round`] (the reactor's thread): one
    /// buffer, zeroed once, instead of a zeroed chunk per read.
    static CIPHER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One `read(2)` of up to `max` (at least 16 KiB) ciphertext, all of it
/// decrypted into `buf` (appending; a little more than `max` may come).
/// Also says whether the socket may hold more (the read filled the
/// chunk): when not, the reactor need not try again this round, so a
/// round costs one read(2) as on the plain path. Handshake messages
/// rustls wants to send are written as far as the socket takes them; the
/// rest goes out with the next write (the caller checks [`wants_write`]).
pub fn read_round<S: Read + Write>(
    conn: &mut ServerConnection,
    stream: &mut S,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<(usize, bool)> {
    CIPHER.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let want = max.clamp(16 * 1024, 1024 * 1024);
        if scratch.len() < want {
            scratch.resize(want, 0);
        }
        let start = buf.len();
        // Plaintext is always taken whole, so rustls holds none: its
        // reader says only whether close_notify came (Ok(0)).
        let mut probe = [0u8; 1];
        match conn.reader().read(&mut probe) {
            Ok(0) => return Ok((0, false)),
            Ok(_) => buf.push(probe[0]),
            Err(_) => {}
        }
        loop {
            let n = stream.read(&mut scratch[..want])?;
            if n == 0 {
                return Ok((0, false));
            }
            let more = n == want;
            let mut rest = &scratch[..n];
            let mut closed = false;
            while !rest.is_empty() {
                // rustls takes at most a few KiB per call, and nothing
                // after a close_notify: stop there (bytes past it are
                // dropped, as the connection ends).
                if conn.read_tls(&mut rest)? == 0 {
                    closed = true;
                    break;
                }
                let st = match conn.process_new_packets() {
                    Ok(st) => st,
                    Err(e) => {
                        // Send the alert rustls queued, then give up.
                        let _ = conn.write_tls(stream);
                        return Err(io::Error::new(ErrorKind::InvalidData, e));
                    }
                };
                let avail = st.plaintext_bytes_to_read();
                if avail > 0 {
                    let at = buf.len();
                    buf.resize(at + avail, 0);
                    let got = conn.reader().read(&mut buf[at..]).unwrap_or(0);
                    buf.truncate(at + got);
                }
                closed |= st.peer_has_closed();
            }
            if conn.wants_write() {
                flush(conn, stream)?;
            }
            let got = buf.len() - start;
            if got > 0 {
                return Ok((got, more || closed));
            }
            if closed {
                return Ok((0, false));
            }
            if !more {
                return Err(ErrorKind::WouldBlock.into());
            }
        }
    })
}

/// Encrypts up to `WRITE_CHUNK` bytes of `data` after flushing the records
/// already queued. `WouldBlock` while queued records remain; with empty
/// `data` it only flushes, returning `Ok(0)` once everything is out.
pub fn write<S: Write>(
    conn: &mut ServerConnection,
    stream: &mut S,
    data: &[u8],
) -> io::Result<usize> {
    if !flush(conn, stream)? {
        return Err(ErrorKind::WouldBlock.into());
    }
    if data.is_empty() {
        return Ok(0);
    }
    let n = conn.writer().write(&data[..data.len().min(WRITE_CHUNK)])?;
    flush(conn, stream)?;
    Ok(n)
}

/// Writes queued records until done (`true`) or the socket would block.
fn flush<S: Write>(conn: &mut ServerConnection, stream: &mut S) -> io::Result<bool> {
    while conn.wants_write() {
        match conn.write_tls(stream) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Records waiting for the socket (handshake, alerts, encrypted replies).
pub fn wants_write(conn: &ServerConnection) -> bool {
    conn.wants_write()
}

/// The client side of `tls-cluster yes`: what this node's links to the
/// other members (relay, control, hand-over, blocking and prober
/// connections, `cluster::relay`) use. It presents `tls-client-cert-file` /
/// `tls-client-key-file` when both are set, else the server's own
/// certificate (as Redis's client context), and verifies the peer against
/// `tls-ca-cert-file` / `tls-ca-cert-dir`. `None` with `tls-cluster no`.
pub fn cluster_client_config(config: &Config) -> Result<Option<Arc<ClientConfig>>, String> {
    if !config.tls_cluster {
        return Ok(None);
    }
    if config.tls_port == 0 {
        return Err(
            "tls-cluster yes needs tls-port: the members' addresses (self, peers) name their TLS ports"
                .into(),
        );
    }
    let own = !config.tls_client_cert_file.is_empty() && !config.tls_client_key_file.is_empty();
    let (cert, key, pass, directive) = if own {
        (
            &config.tls_client_cert_file,
            &config.tls_client_key_file,
            &config.tls_client_key_file_pass,
            "tls-client-key-file-pass",
        )
    } else {
        (
            &config.tls_cert_file,
            &config.tls_key_file,
            &config.tls_key_file_pass,
            "tls-key-file-pass",
        )
    };
    let certs = load_certs(cert)?;
    let key = load_key(key, pass, directive)?;
    let provider = Arc::new(provider(config)?);
    let versions = protocols(&config.tls_protocols)?;
    let roots = Arc::new(load_roots(config)?);
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| format!("Failed to configure peer certificate verification: {e}"))?;
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PeerVerifier(webpki)))
        .with_client_auth_cert(certs, key)
        .map_err(|e| format!("Failed to use the client certificate and key: {e}"))?;
    Ok(Some(Arc::new(cfg)))
}

/// Verifies a cluster peer's certificate chain against the configured CAs
/// but not its name: members are addressed by whatever `self` / `peers`
/// say (often bare IPs), and Redis's cluster bus checks the chain only.
#[derive(Debug)]
struct PeerVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain before the name: a name error means the
        // chain is good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A cluster link over TLS: the handshake with the peer at `addr`
/// (`host:port`) on the connected blocking socket `tcp`, whose timeouts
/// bound it. Errors say why (an unknown CA, a refused client certificate).
pub fn connect_peer(
    cfg: &Arc<ClientConfig>,
    addr: &str,
    mut tcp: TcpStream,
) -> io::Result<StreamOwned<ClientConnection, TcpStream>> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    // The name only travels as SNI (PeerVerifier does not check it).
    let name = ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    let mut conn = ClientConnection::new(cfg.clone(), name).map_err(io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| {
            if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut {
                e
            } else {
                io::Error::other(format!("TLS handshake failed: {e}"))
            }
        })?;
    }
    Ok(StreamOwned::new(conn, tcp))
}
