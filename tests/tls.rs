//! TLS on `tls-port`: the `redis` crate and redis-cli over TLS, client
//! certificate authentication (`tls-auth-clients yes|optional|no`), plain
//! and TLS ports side by side, `port 0` for TLS only, a plain client on the
//! TLS port rejected without disturbing anyone, and configuration errors.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::tls::Pki;
use common::{Server, free_port, temp_dir, which};

fn tls_server(pki: &Pki, extra: &[&str]) -> (Server, u16) {
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

#[test]
fn plain_client_on_the_tls_port_is_rejected_and_others_are_unaffected() {
    let pki = Pki::create(&temp_dir("pki"));
    let (s, tls_port) = tls_server(&pki, &[]);
    let mut tls = pki.connect(tls_port, true).expect("TLS connection");
    let mut raw = TcpStream::connect(("127.0.0.1", tls_port)).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(10))).ok();
    raw.write_all(b"*1\r\n$4\r\nPING\r\n").expect("send");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match raw.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                assert!(
                    e.kind() != std::io::ErrorKind::WouldBlock
                        && e.kind() != std::io::ErrorKind::TimedOut,
                    "connection left open: {e}"
                );
                break;
            }
        }
    }
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_memkv"))
        .args(["--bind", "127.0.0.1", "--dir", dir.to_str().expect("utf-8")])
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("memkv kept running with {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut text);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
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
    let dir = temp_dir("memkv-tls-only");
    let tls_port = free_port();
    let mut args = pki.server_args(tls_port);
    args.extend(["--port".into(), "0".into()]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_memkv"))
        .args(["--bind", "127.0.0.1", "--dir", dir.to_str().expect("utf-8")])
        .args(&args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut conn = loop {
        match pki.connect(tls_port, true) {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no TLS listener: {e}");
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let port: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("port")
        .query(&mut conn)
        .expect("CONFIG GET");
    let _ = child.kill();
    let _ = child.wait();
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
