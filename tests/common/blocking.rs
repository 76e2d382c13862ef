//! Blocking-command test helpers on raw connections: wait until a client
//! is parked (INFO blocked_clients), park one, read its reply, and the
//! servers a blocking scenario runs on (real Redis when installed, memkv).

use std::time::{Duration, Instant};

use super::script::{render, split};
use super::{Raw, Server};

pub fn info_blocked(ctl: &mut Raw) -> usize {
    let rep = String::from_utf8_lossy(&ctl.cmd(&[b"INFO", b"clients"])).into_owned();
    rep.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no blocked_clients in {rep:?}"))
}

/// Polls until `n` clients are blocked (a failure means never, not slow).
pub fn wait_blocked(ctl: &mut Raw, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if info_blocked(ctl) == n {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("blocked_clients never reached {n}");
}

/// Sends `line` on `w` without reading, then waits for it to block.
pub fn block(ctl: &mut Raw, w: &mut Raw, line: &str) {
    let before = info_blocked(ctl);
    let parts = split(line);
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    w.send(&super::encode(&refs));
    wait_blocked(ctl, before + 1);
}

/// The next reply on `w`, rendered.
pub fn next(w: &mut Raw) -> String {
    render(&w.read_reply())
}

/// Real Redis (when installed) and memkv, each named.
pub fn targets() -> Vec<(&'static str, Server)> {
    let mut out = Vec::new();
    if let Some(r) = Server::start_redis(&[]) {
        out.push(("redis", r));
    }
    out.push(("memkv", Server::start(&[])));
    out
}
