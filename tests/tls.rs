//! TLS on `tls-port`: the `redis` crate and redis-cli over TLS, client
//! certificate authentication (`tls-auth-clients yes|optional|no`), plain
//! and TLS ports side by side, `port 0` for TLS only, a plain client on the
//! TLS port rejected without disturbing anyone, and configuration errors;
//! `tls-cluster yes` (a TLS-only cluster, a node of another CA refused) and
//! encrypted private keys (`tls-key-file-pass`).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::cluster::member_args;
use common::tls::{Pki, start_tls_only, tls_server};
use common::{Server, free_port, temp_dir, which};

#[test]
fn redis_crate_over_tls_with_a_client_certificate() {
    let pki = Pki::create(&temp_dir("pki"));
    let (s, tls_port) = tls_server(&pki, &[]);
    let mut c = pki.connect(tls_port, true).expect("TLS connection");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut c)
        .expect("SET");
    let v: String = redis::cmd("GET").arg("k").query(&mut c).expect("GET");
    assert_eq!(v, "v");
    // A value bigger than any TLS record and socket buffer, both ways.
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut c)
        .expect("SET big");
    let back: Vec<u8> = redis::cmd("GET").arg("big").query(&mut c).expect("GET big");
    assert!(back == big, "big value changed over TLS");
    // A deep pipeline.
    let mut p = redis::pipe();
    for i in 0..2000 {
        p.cmd("INCR").arg("n").ignore();
        p.cmd("GET").arg(format!("missing{i}")).ignore();
    }
    p.cmd("GET").arg("n");
    let (n,): (i64,) = p.query(&mut c).expect("pipeline");
    assert_eq!(n, 2000);
    // The plain port serves the same data meanwhile.
    let mut plain = s.conn();
    let v: String = redis::cmd("GET")
        .arg("k")
        .query(&mut plain)
        .expect("GET plain");
    assert_eq!(v, "v");
    let v: i64 = redis::cmd("GET")
        .arg("n")
        .query(&mut plain)
        .expect("GET plain");
    assert_eq!(v, 2000);
}

#[test]
fn client_certificates_follow_tls_auth_clients() {
    let pki = Pki::create(&temp_dir("pki"));
    // yes (Redis's default): no certificate, no connection.
    let (_s, port) = tls_server(&pki, &[]);
    let refused = pki
        .connect(port, false)
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
    assert!(refused.is_err(), "connected without a client certificate");
    // optional: with or without.
    let (_s, port) = tls_server(&pki, &["--tls-auth-clients", "optional"]);
    for with_cert in [false, true] {
        let mut c = pki.connect(port, with_cert).expect("connect");
        let pong: String = redis::cmd("PING").query(&mut c).expect("PING");
        assert_eq!(pong, "PONG");
    }
    // no: no CA needed at all.
    let dir = temp_dir("memkv-tls-no");
    let tls_port = free_port();
    let port_s = tls_port.to_string();
    let args = [
        "--tls-port",
        &port_s,
        "--tls-cert-file",
        pki.server_cert.to_str().expect("utf-8"),
        "--tls-key-file",
        pki.server_key.to_str().expect("utf-8"),
        "--tls-auth-clients",
        "no",
    ];
    let _s = Server::start_in(&dir, &args);
    let mut c = pki.connect(tls_port, false).expect("connect");
    let pong: String = redis::cmd("PING").query(&mut c).expect("PING");
    assert_eq!(pong, "PONG");
}

/// Everything the server sends until it closes the connection (a read
/// timeout means it left the connection open: a failure).
fn read_until_closed(sock: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => {
                assert!(
                    e.kind() != std::io::ErrorKind::WouldBlock
                        && e.kind() != std::io::ErrorKind::TimedOut,
                    "connection left open: {e}"
                );
                return got;
            }
        }
    }
}

#[test]
fn plain_client_on_the_tls_port_is_rejected_and_others_are_unaffected() {
    let pki = Pki::create(&temp_dir("pki"));
    let (s, tls_port) = tls_server(&pki, &[]);
    let mut tls = pki.connect(tls_port, true).expect("TLS connection");
    let mut raw = TcpStream::connect(("127.0.0.1", tls_port)).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(10))).ok();
    raw.write_all(b"*1\r\n$4\r\nPING\r\n").expect("send");
    let buf = read_until_closed(&mut raw);
    assert!(
        !String::from_utf8_lossy(&buf).contains("PONG"),
        "plain text answered on the TLS port: {buf:?}"
    );
    let pong: String = redis::cmd("PING").query(&mut tls).expect("TLS PING");
    assert_eq!(pong, "PONG");
    let pong: String = redis::cmd("PING").query(&mut s.conn()).expect("plain PING");
    assert_eq!(pong, "PONG");
}

#[test]
fn redis_cli_connects_with_tls() {
    let Some(cli) = which("redis-cli") else {
        eprintln!("redis-cli not installed; skipping");
        return;
    };
    let pki = Pki::create(&temp_dir("pki"));
    let (_s, tls_port) = tls_server(&pki, &[]);
    let out = Command::new(cli)
        .args(["--tls", "-h", "127.0.0.1", "-p", &tls_port.to_string()])
        .args(["--cacert", pki.ca_cert.to_str().expect("utf-8")])
        .args(["--cert", pki.client_cert.to_str().expect("utf-8")])
        .args(["--key", pki.client_key.to_str().expect("utf-8")])
        .args(["SET", "cli", "over tls"])
        .output()
        .expect("run redis-cli");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n", "{out:?}");
    let mut c = pki.connect(tls_port, true).expect("connect");
    let v: String = redis::cmd("GET").arg("cli").query(&mut c).expect("GET");
    assert_eq!(v, "over tls");
}

/// Runs memkv with `args` expecting it to exit by itself; returns whether
/// it succeeded and what it printed.
fn run_to_exit(args: &[&str]) -> (bool, String) {
    let dir = temp_dir("memkv-tls-bad");
    let mut all = vec!["--bind", "127.0.0.1", "--dir", dir.to_str().expect("utf-8")];
    all.extend(args);
    let (status, text) = common::exit::run_to_exit(&dir, &all);
    (status.success(), text)
}

#[test]
fn bad_tls_configuration_refuses_to_start() {
    let pki = Pki::create(&temp_dir("pki"));
    let port = free_port().to_string();
    let tls_port = free_port().to_string();
    let (ok, out) = run_to_exit(&["--port", &port, "--tls-port", &tls_port]);
    assert!(
        !ok && out.contains("Failed to configure TLS")
            && out.contains("No tls-cert-file configured!"),
        "{out}"
    );
    let (ok, out) = run_to_exit(&[
        "--port",
        &port,
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        pki.server_cert.to_str().expect("utf-8"),
        "--tls-key-file",
        pki.server_key.to_str().expect("utf-8"),
    ]);
    assert!(
        !ok && out.contains("Either tls-ca-cert-file or tls-ca-cert-dir must be specified"),
        "{out}"
    );
    let (ok, out) = run_to_exit(&["--port", "0"]);
    assert!(
        !ok && out.contains("Configured to not listen anywhere, exiting."),
        "{out}"
    );
}

#[test]
fn port_0_serves_tls_only() {
    let pki = Pki::create(&temp_dir("pki"));
    let tls_port = free_port();
    let mut args = pki.server_args(tls_port);
    args.extend(["--port".into(), "0".into()]);
    let _s = start_tls_only(&pki, tls_port, &args).expect("no TLS listener");
    let mut conn = pki.connect(tls_port, true).expect("connect");
    let port: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("port")
        .query(&mut conn)
        .expect("CONFIG GET");
    assert_eq!(port, vec!["port".to_string(), "0".to_string()]);
}

#[test]
fn config_set_reloads_certificates_and_refuses_bad_ones() {
    let pki = Pki::create(&temp_dir("pki"));
    let (s, tls_port) = tls_server(&pki, &[]);
    let mut plain = s.conn();
    // A new PKI: clients trusting only the new CA connect once it is set.
    let next = Pki::create(&temp_dir("pki2"));
    let r: redis::RedisResult<()> = redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-cert-file")
        .arg(next.server_cert.to_str().expect("utf-8"))
        .arg("tls-key-file")
        .arg(next.server_key.to_str().expect("utf-8"))
        .arg("tls-ca-cert-file")
        .arg(next.ca_cert.to_str().expect("utf-8"))
        .query(&mut plain);
    r.expect("CONFIG SET new certificates");
    assert!(
        next.connect(tls_port, true).is_ok(),
        "new certificate not used"
    );
    assert!(
        pki.connect(tls_port, true)
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_err(),
        "old CA still accepted"
    );
    // A missing file is refused and nothing changes.
    let reply = s.raw().cmd(&[
        b"CONFIG",
        b"SET",
        b"tls-cert-file",
        b"/nonexistent/cert.pem",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.\r\n"
    );
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("tls-cert-file")
        .query(&mut plain)
        .expect("CONFIG GET");
    assert_eq!(v[1], next.server_cert.display().to_string());
    assert!(
        next.connect(tls_port, true).is_ok(),
        "TLS broken by a refused CONFIG SET"
    );
}

/// A `tls-cluster yes` cluster of TLS-only nodes: node `i` uses `pkis[i]`
/// (certificate, key and CA) and `extra[i]`. Returns the nodes and their
/// addresses (`127.0.0.1:<tls-port>`).
fn tls_cluster(pkis: &[&Pki], extra: &[Vec<String>]) -> (Vec<Server>, Vec<String>) {
    'attempt: for _ in 0..5 {
        let ports: Vec<u16> = pkis.iter().map(|_| free_port()).collect();
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut nodes = Vec::new();
        for (i, pki) in pkis.iter().enumerate() {
            let mut args = pki.server_args(ports[i]);
            args.extend(["--tls-cluster".into(), "yes".into()]);
            args.extend(["--cluster-node-timeout".into(), "2000".into()]);
            let extra: Vec<&str> = extra[i].iter().map(String::as_str).collect();
            args.extend(member_args(&addrs[i], &addrs, &extra));
            match start_tls_only(pki, ports[i], &args) {
                Some(s) => nodes.push(s),
                None => continue 'attempt,
            }
        }
        return (nodes, addrs);
    }
    panic!("TLS cluster did not start");
}

/// A key owned by member `i` of the member set `addrs`.
fn key_owned_by(addrs: &[String], i: usize, prefix: &str) -> String {
    let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let t = memkv::cluster::Topology::new(&refs, refs[0]).expect("topology");
    let port: u16 = addrs[i]
        .rsplit(':')
        .next()
        .expect("port")
        .parse()
        .expect("port");
    (0..100_000)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| t.members[t.owner_of_key(k.as_bytes())].port == port)
        .expect("some key lands on every node")
}

#[test]
fn tls_cluster_links_carry_keys_to_every_node() {
    let pki = Pki::create(&temp_dir("pki"));
    // Node 0 presents the client certificate, its key encrypted
    // (tls-client-key-file-pass); the others their server certificate.
    let key = temp_dir("client-key").join("client-enc.key");
    std::fs::create_dir_all(key.parent().expect("dir")).expect("dir");
    std::fs::write(&key, encrypted_key(&pki.client_key, "client pw", false)).expect("write");
    let own = vec![
        "--tls-client-cert-file".to_string(),
        pki.client_cert.display().to_string(),
        "--tls-client-key-file".to_string(),
        key.display().to_string(),
        "--tls-client-key-file-pass".to_string(),
        "client pw".to_string(),
    ];
    let (nodes, addrs) = tls_cluster(&[&pki, &pki, &pki], &[own, Vec::new(), Vec::new()]);
    // One TLS client on node 0 writes and reads keys owned by every node
    // (node 0 relays over its TLS links to the others).
    let mut c = pki.connect(nodes[0].port, true).expect("connect node 0");
    for (i, node) in nodes.iter().enumerate() {
        let k = key_owned_by(&addrs, i, "tlsk");
        let _: () = redis::cmd("SET")
            .arg(&k)
            .arg(format!("v{i}"))
            .query(&mut c)
            .expect("SET through node 0");
        let v: String = redis::cmd("GET").arg(&k).query(&mut c).expect("GET");
        assert_eq!(v, format!("v{i}"));
        // Read back from the owner itself and through the next node (a
        // link between two other nodes).
        for n in [node, &nodes[(i + 1) % nodes.len()]] {
            let mut other = pki.connect(n.port, true).expect("connect");
            let v: String = redis::cmd("GET").arg(&k).query(&mut other).expect("GET");
            assert_eq!(v, format!("v{i}"));
        }
    }
    // A fan-out over every node: DBSIZE sums the three.
    let total: i64 = redis::cmd("DBSIZE").query(&mut c).expect("DBSIZE");
    assert_eq!(total, 3);
}

#[test]
fn tls_cluster_refuses_a_node_from_another_ca() {
    let pki = Pki::create(&temp_dir("pki"));
    let other = Pki::create(&temp_dir("pki-other"));
    let log = temp_dir("tls-cluster-log").join("node0.log");
    let extra = vec![
        vec!["--logfile".to_string(), log.display().to_string()],
        Vec::new(),
        Vec::new(),
    ];
    let (nodes, addrs) = tls_cluster(&[&pki, &pki, &other], &extra);
    let mut c = pki.connect(nodes[0].port, true).expect("connect node 0");
    // Node 1 shares the CA: its keys work.
    let k1 = key_owned_by(&addrs, 1, "ok");
    let _: () = redis::cmd("SET")
        .arg(&k1)
        .arg("v")
        .query(&mut c)
        .expect("SET on node 1");
    // Node 2's certificate is from another CA: node 0 refuses the link.
    let k2 = key_owned_by(&addrs, 2, "bad");
    let err = redis::cmd("SET")
        .arg(&k2)
        .arg("v")
        .query::<()>(&mut c)
        .expect_err("a node of another CA was trusted");
    assert_eq!(err.code(), Some("CLUSTERDOWN"), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&addrs[2]), "{text}");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains(&format!("Cluster node {} marked down", addrs[2]))
            && logged.contains("invalid peer certificate"),
        "{logged}"
    );
    // And node 2 refuses node 0's certificate the other way.
    let mut c2 = other.connect(nodes[2].port, true).expect("connect node 2");
    let k0 = key_owned_by(&addrs, 0, "back");
    let err = redis::cmd("SET")
        .arg(&k0)
        .arg("v")
        .query::<()>(&mut c2)
        .expect_err("node 2 reached node 0");
    assert_eq!(err.code(), Some("CLUSTERDOWN"), "{err:?}");
}

/// The key in `path` encrypted as PKCS#8 (PBES2: PBKDF2-SHA256 or
/// scrypt, AES-256-CBC) with `pass`, as PEM.
fn encrypted_key(path: &std::path::Path, pass: &str, scrypt: bool) -> String {
    use pkcs8::der::pem::LineEnding;
    use pkcs8::pkcs5::pbes2::Parameters;
    let pem = std::fs::read(path).expect("read key");
    let (_, der) = pkcs8::der::pem::decode_vec(&pem).expect("PEM");
    let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice()).expect("PKCS#8");
    let (salt, iv) = ([7u8; 16], [9u8; 16]);
    let params = if scrypt {
        let p = pkcs8::pkcs5::scrypt::Params::new(10, 8, 1).expect("scrypt params");
        Parameters::generate_scrypt_aes256cbc(p, &salt, iv).expect("scrypt")
    } else {
        Parameters::generate_pbkdf2_sha256_aes256cbc(2048, &salt, iv).expect("pbkdf2")
    };
    info.encrypt_with_params(params, pass)
        .expect("encrypt")
        .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .expect("PEM")
        .to_string()
}

#[test]
fn encrypted_private_keys_load_with_tls_key_file_pass() {
    let pki = Pki::create(&temp_dir("pki"));
    for scrypt in [false, true] {
        let key = temp_dir("enc-key").join("server-enc.key");
        std::fs::write(&key, encrypted_key(&pki.server_key, "s3cret pass", scrypt)).expect("write");
        let key_s = key.display().to_string();
        let (s, tls_port) = tls_server(
            &pki,
            &[
                "--tls-key-file",
                &key_s,
                "--tls-key-file-pass",
                "s3cret pass",
            ],
        );
        let mut c = pki
            .connect(tls_port, true)
            .expect("TLS with an encrypted key");
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query(&mut c)
            .expect("SET");
        let v: String = redis::cmd("GET").arg("k").query(&mut c).expect("GET");
        assert_eq!(v, "v");
        drop(s);
        // A wrong password, or none, refuses to start with a clear message.
        let port = free_port().to_string();
        let tls_port = free_port().to_string();
        let mut args: Vec<String> = Vec::new();
        for (k, v) in [
            ("--port", port.as_str()),
            ("--tls-port", tls_port.as_str()),
            ("--tls-cert-file", pki.server_cert.to_str().expect("utf-8")),
            ("--tls-key-file", key_s.as_str()),
            ("--tls-ca-cert-file", pki.ca_cert.to_str().expect("utf-8")),
        ] {
            args.extend([k.to_string(), v.to_string()]);
        }
        let mut wrong: Vec<&str> = args.iter().map(String::as_str).collect();
        wrong.extend(["--tls-key-file-pass", "not it"]);
        refuses_to_start(
            &wrong,
            &[
                "Failed to configure TLS",
                "cannot decrypt the key with tls-key-file-pass (wrong password?)",
            ],
        );
        let none: Vec<&str> = args.iter().map(String::as_str).collect();
        refuses_to_start(
            &none,
            &["the key is encrypted and tls-key-file-pass is not set"],
        );
    }
}

#[test]
fn openssl_encrypted_keys_load_and_legacy_pem_encryption_is_refused() {
    let pki = Pki::create(&temp_dir("pki"));
    let dir = temp_dir("enc-key-openssl");
    std::fs::create_dir_all(&dir).expect("dir");
    // OpenSSL's own encrypted PKCS#8 (what `genpkey -aes256` writes), when
    // the openssl tool is installed (CI installs only redis).
    if let Some(openssl) = which("openssl") {
        let key = dir.join("openssl-enc.key");
        let st = Command::new(openssl)
            .args([
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-passout",
                "pass:from openssl",
            ])
            .args(["-in", pki.server_key.to_str().expect("utf-8")])
            .args(["-out", key.to_str().expect("utf-8")])
            .status()
            .expect("run openssl");
        assert!(st.success());
        let key_s = key.display().to_string();
        let (_s, tls_port) = tls_server(
            &pki,
            &[
                "--tls-key-file",
                &key_s,
                "--tls-key-file-pass",
                "from openssl",
            ],
        );
        let mut c = pki.connect(tls_port, true).expect("TLS with openssl's key");
        let pong: String = redis::cmd("PING").query(&mut c).expect("PING");
        assert_eq!(pong, "PONG");
    } else {
        eprintln!("openssl not installed; skipping its part");
    }
    // OpenSSL's traditional encrypted PEM: refused, saying how to convert.
    let legacy = dir.join("legacy.key");
    std::fs::write(
        &legacy,
        "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END EC PRIVATE KEY-----\n",
    )
    .expect("write");
    let (port, tls_port) = (free_port().to_string(), free_port().to_string());
    refuses_to_start(
        &[
            "--port",
            &port,
            "--tls-port",
            &tls_port,
            "--tls-cert-file",
            pki.server_cert.to_str().expect("utf-8"),
            "--tls-key-file",
            legacy.to_str().expect("utf-8"),
            "--tls-key-file-pass",
            "x",
            "--tls-ca-cert-file",
            pki.ca_cert.to_str().expect("utf-8"),
        ],
        &["legacy PEM encryption (Proc-Type: 4,ENCRYPTED) is not supported"],
    );
}

/// memkv with `args` exits by itself, having printed every one of `texts`.
fn refuses_to_start(args: &[&str], texts: &[&str]) {
    let (ok, out) = run_to_exit(args);
    assert!(!ok && texts.iter().all(|t| out.contains(t)), "{out}");
}

#[test]
fn bytes_after_close_notify_close_the_connection_and_nothing_hangs() {
    use std::sync::Arc;
    let pki = Pki::create(&temp_dir("pki"));
    let (s, tls_port) = tls_server(&pki, &["--tls-auth-clients", "no"]);
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(&pki.ca_cert).expect("read CA");
    let ca = rustls::pki_types::pem::PemObject::from_pem_slice(&ca).expect("CA PEM");
    roots.add(ca).expect("add CA");
    let cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut conn = rustls::ClientConnection::new(Arc::new(cfg), name).expect("client");
    let mut sock = TcpStream::connect(("127.0.0.1", tls_port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10))).ok();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).expect("handshake");
    }
    // A command, close_notify, then more bytes in the same segment.
    conn.writer()
        .write_all(b"*1\r\n$4\r\nPING\r\n")
        .expect("plaintext");
    conn.send_close_notify();
    let mut wire = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut wire).expect("records");
    }
    // More than rustls takes in one step (4 KiB), so some arrives after
    // it has seen the close_notify.
    for _ in 0..3 {
        wire.extend_from_slice(&[0x17, 0x03, 0x03, 0x0f, 0xa0]);
        wire.extend(std::iter::repeat_n(7u8, 4000));
    }
    sock.write_all(&wire).expect("send");
    // The server answers the PING and closes; it keeps serving others.
    let got = read_until_closed(&mut sock);
    let mut rest = &got[..];
    let mut plain = Vec::new();
    while !rest.is_empty() && conn.read_tls(&mut rest).unwrap_or(0) > 0 {
        if conn.process_new_packets().is_err() {
            break;
        }
        let mut chunk = [0u8; 1024];
        while let Ok(n @ 1..) = conn.reader().read(&mut chunk) {
            plain.extend_from_slice(&chunk[..n]);
        }
    }
    assert_eq!(plain, b"+PONG\r\n");
    let pong: String = redis::cmd("PING").query(&mut s.conn()).expect("plain PING");
    assert_eq!(pong, "PONG");
    let mut c = pki.connect(tls_port, false).expect("TLS again");
    let pong: String = redis::cmd("PING").query(&mut c).expect("TLS PING");
    assert_eq!(pong, "PONG");
}
