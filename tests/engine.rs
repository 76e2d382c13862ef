//! The engine's promises under hostile or unusual clients: work that
//! arrives with the client's end-of-file is still done and answered, and
//! commands whose size is chosen by the client cost time linear in it.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::Server;

/// Sends `bytes`, half-closes, and reads everything until the server
/// closes.
fn send_and_half_close(srv: &Server, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .expect("server closes after answering");
    out
}

#[test]
fn commands_sent_with_the_fin_are_run_and_answered() {
    let srv = Server::start(&[]);
    let got = send_and_half_close(&srv, b"SET k v\r\nINCR n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    assert_eq!(got, b"+OK\r\n:1\r\n$1\r\nv\r\n");
    let mut c = srv.conn();
    let n: i64 = redis::cmd("GET").arg("n").query(&mut c).unwrap();
    assert_eq!(n, 1);
    // A command cut short by the FIN is dropped, what came before it runs.
    let got = send_and_half_close(&srv, b"INCR n\r\n*2\r\n$4\r\nINCR\r\n$1\r\n");
    assert_eq!(got, b":2\r\n");
    // Nothing to answer: the connection just closes.
    assert_eq!(send_and_half_close(&srv, b""), b"");
    // A big pipeline whose replies do not fit the socket buffers at once.
    let mut req = Vec::new();
    for _ in 0..20_000 {
        req.extend_from_slice(b"INCR big\r\n");
    }
    let got = send_and_half_close(&srv, &req);
    assert!(got.ends_with(b":20000\r\n"), "{}", got.len());
    let mut c = srv.conn();
    let n: i64 = redis::cmd("GET").arg("big").query(&mut c).unwrap();
    assert_eq!(n, 20_000);
}

#[test]
fn fin_behaviour_matches_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        return;
    };
    let memkv = Server::start(&[]);
    let req = b"SET a 1\r\nPING\r\nGET a\r\nQUIT\r\nPING\r\n";
    assert_eq!(
        send_and_half_close(&memkv, req),
        send_and_half_close(&redis, req)
    );
    let req = b"BLPOP nolist 0\r\n";
    assert_eq!(
        send_and_half_close(&memkv, req),
        send_and_half_close(&redis, req)
    );
}
