//! TLS test fixtures: certificates generated at run time with rcgen (no
//! key material is committed): a CA, a server certificate for 127.0.0.1 /
//! localhost and a client certificate, all signed by the CA, written as PEM
//! files into a directory; and memkv servers started with them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Server, free_port, spawn_memkv, temp_dir};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// PEM files of one test PKI.
pub struct Pki {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    /// Creates the files under `dir`.
    pub fn create(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).expect("cert dir");
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "memkv test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf = |names: Vec<String>, cn: &str| {
            let key = KeyPair::generate().expect("leaf key");
            let mut params = CertificateParams::new(names).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, cn);
            let cert = params.signed_by(&key, &issuer).expect("leaf cert");
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key) = leaf(
            vec!["localhost".to_string(), "127.0.0.1".to_string()],
            "memkv server",
        );
        let (client_pem, client_key) = leaf(vec!["client".to_string()], "memkv client");
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).expect("write pem");
            p
        };
        Pki {
            ca_cert: write("ca.crt", &ca_cert.pem()),
            server_cert: write("server.crt", &server_pem),
            server_key: write("server.key", &server_key),
            client_cert: write("client.crt", &client_pem),
            client_key: write("client.key", &client_key),
        }
    }

    /// The `--tls-*` arguments for a server using these files on `port`.
    pub fn server_args(&self, port: u16) -> Vec<String> {
        vec![
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            self.server_cert.display().to_string(),
            "--tls-key-file".into(),
            self.server_key.display().to_string(),
            "--tls-ca-cert-file".into(),
            self.ca_cert.display().to_string(),
        ]
    }

    /// What the `redis` crate needs to verify the server and, with
    /// `client_cert`, to present the client certificate.
    pub fn client_certs(&self, client_cert: bool) -> redis::TlsCertificates {
        let read = |p: &PathBuf| std::fs::read(p).expect("read pem");
        redis::TlsCertificates {
            client_tls: client_cert.then(|| redis::ClientTlsConfig {
                client_cert: read(&self.client_cert),
                client_key: read(&self.client_key),
            }),
            root_cert: Some(read(&self.ca_cert)),
        }
    }

    /// A connection over TLS to `port`.
    pub fn connect(&self, port: u16, client_cert: bool) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::build_with_tls(
            format!("rediss://127.0.0.1:{port}"),
            self.client_certs(client_cert),
        )?;
        client.get_connection_with_timeout(std::time::Duration::from_secs(10))
    }
}

/// memkv with a plain port and TLS on a fresh `tls-port` with `pki`'s
/// files, plus `extra`; returns the server and its TLS port.
pub fn tls_server(pki: &Pki, extra: &[&str]) -> (Server, u16) {
    for _ in 0..5 {
        let tls_port = free_port();
        let mut args = pki.server_args(tls_port);
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let dir = temp_dir("memkv-tls");
        if let Some(s) = Server::try_start_on(free_port(), &dir, None, &args) {
            return (s, tls_port);
        }
    }
    panic!("memkv with TLS did not start");
}

/// Starts memkv with `args` and no plain port (`port 0`), waiting until
/// `tls_port` answers a TLS PING with `pki`'s client certificate.
pub fn start_tls_only(pki: &Pki, tls_port: u16, args: &[String]) -> Option<Server> {
    let dir = temp_dir("memkv-tls-node");
    let mut all = vec!["--port", "0", "--bind", "127.0.0.1"];
    all.extend(["--dir", dir.to_str().expect("utf-8")]);
    all.extend(["--loglevel", "warning"]);
    all.extend(args.iter().map(String::as_str));
    let mut child = spawn_memkv(&dir, &all);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        let pong = pki
            .connect(tls_port, true)
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
        if pong.is_ok() {
            return Some(Server {
                child,
                port: tls_port,
                dir,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}
