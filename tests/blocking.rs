//! Blocking list pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) through the
//! real protocol: immediate answers, waking on push, order of service,
//! atomicity of push + pops, timeouts, disconnects, CLIENT UNBLOCK / KILL,
//! MULTI, pipelining, rollback, and keys made ready by RENAME / MOVE /
//! SWAPDB. Every scenario that real Redis can run also runs against it (when
//! installed) with the same expected bytes, which keeps the expectations
//! honest.
//!
//! Determinism: nothing here asserts that something happened within some
//! time. A client is known to be blocked when INFO's `blocked_clients`
//! says so; a client is known to still be blocked when it is counted there
//! after the command that could have woken it has answered.

mod common;

use std::time::{Duration, Instant};

use std::io::Read;

use common::{Raw, Server};

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

/// The servers a scenario runs against: real Redis if installed, and memkv.
/// Redis goes first, so a wrong expectation fails as "redis" rather than
/// passing as a memkv bug.
fn targets(memkv: &[&str], redis: &[&str]) -> Vec<(&'static str, Server)> {
    let mut out = Vec::new();
    if let Some(r) = Server::start_redis(redis) {
        out.push(("redis", r));
    }
    out.push(("memkv", Server::start(memkv)));
    out
}

/// Splits a command line on spaces (no quoting needed here).
fn argv(line: &str) -> Vec<Vec<u8>> {
    line.split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

/// The RESP request for one command line.
fn req(line: &str) -> Vec<u8> {
    let a = argv(line);
    let parts: Vec<&[u8]> = a.iter().map(|v| v.as_slice()).collect();
    common::encode(&parts)
}

/// A raw connection that keeps bytes read past one reply for the next one
/// (pipelined replies can arrive in one read).
struct Conn {
    raw: Raw,
    buf: Vec<u8>,
}

impl Conn {
    fn new(s: &Server) -> Conn {
        Conn {
            raw: s.raw(),
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.raw.send(bytes);
    }

    /// One complete reply; panics if none arrives before the read timeout.
    fn read_reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = common::resp_len(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            let mut b = [0u8; 65536];
            match self.raw.s.read(&mut b) {
                Ok(0) => panic!(
                    "connection closed; partial reply {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(k) => self.buf.extend_from_slice(&b[..k]),
                Err(e) => panic!(
                    "no reply ({e}); partial reply {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// True if the server closed the connection (EOF with nothing pending).
    fn is_closed(&mut self) -> bool {
        self.buf.is_empty() && self.raw.is_closed()
    }
}

/// Sends one command without reading its reply.
fn send(r: &mut Conn, line: &str) {
    r.send(&req(line));
}

/// Reads one reply as a (lossy) string.
fn reply(r: &mut Conn) -> String {
    String::from_utf8_lossy(&r.read_reply()).into_owned()
}

/// Sends one command and returns its reply.
fn cmd(r: &mut Conn, line: &str) -> String {
    send(r, line);
    reply(r)
}

/// Switches a raw connection to RESP3.
fn hello3(r: &mut Conn) {
    let rep = cmd(r, "HELLO 3");
    assert!(rep.starts_with('%'), "HELLO 3 answered {rep:?}");
}

/// A field of `INFO clients`.
fn info_clients(ctl: &mut Conn, field: &str) -> usize {
    let rep = cmd(ctl, "INFO clients");
    let prefix = format!("{field}:");
    rep.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {rep:?}"))
}

fn blocked(ctl: &mut Conn) -> usize {
    info_clients(ctl, "blocked_clients")
}

/// Polls until `blocked_clients` is `n` (generous deadline: a failure here
/// means it never got there, not that it was slow).
fn wait_blocked(ctl: &mut Conn, n: usize) {
    wait_field(ctl, "blocked_clients", n);
}

fn wait_field(ctl: &mut Conn, field: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = usize::MAX;
    while Instant::now() < deadline {
        last = info_clients(ctl, field);
        if last == n {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{field} stayed at {last}, expected {n}");
}

/// The connection's client id.
fn client_id(r: &mut Conn) -> u64 {
    let rep = cmd(r, "CLIENT ID");
    rep.trim_start_matches(':')
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("CLIENT ID answered {rep:?}"))
}

/// Sends a blocking command on `w` and waits until the server counts one
/// more blocked client than `before`.
fn block(ctl: &mut Conn, w: &mut Conn, line: &str) {
    let before = blocked(ctl);
    send(w, line);
    wait_blocked(ctl, before + 1);
}

/// `*2 key elem` as RESP bytes.
fn kv(key: &str, elem: &str) -> String {
    format!(
        "*2\r\n${}\r\n{}\r\n${}\r\n{}\r\n",
        key.len(),
        key,
        elem.len(),
        elem
    )
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

// ---------------------------------------------------------------------------
// 1. Immediate answers when data exists.
// ---------------------------------------------------------------------------

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn immediate_script(name: &str, r: &mut Conn) {
    let steps: Vec<(&str, String)> = vec![
        ("FLUSHALL", "+OK\r\n".into()),
        ("RPUSH l a b c d e", ":5\r\n".into()),
        ("BLPOP nokey l 0", kv("l", "a")),
        ("BRPOP nokey l 0", kv("l", "e")),
        ("BLMOVE l d LEFT RIGHT 0", bulk("b")),
        ("BRPOPLPUSH l d 0", bulk("d")),
        ("LRANGE d 0 -1", "*2\r\n$1\r\nd\r\n$1\r\nb\r\n".into()),
        (
            "BLMPOP 0 2 nokey l LEFT COUNT 10",
            "*2\r\n$1\r\nl\r\n*1\r\n$1\r\nc\r\n".into(),
        ),
        ("EXISTS l", ":0\r\n".into()),
        (
            "BLMPOP 0 1 d RIGHT",
            "*2\r\n$1\r\nd\r\n*1\r\n$1\r\nb\r\n".into(),
        ),
        ("BLPOP d 1.5", kv("d", "d")),
        ("EXISTS d", ":0\r\n".into()),
        ("RPUSH r 1 2", ":2\r\n".into()),
        ("BLMOVE r r RIGHT LEFT 0", bulk("2")),
        ("LRANGE r 0 -1", "*2\r\n$1\r\n2\r\n$1\r\n1\r\n".into()),
        ("SET s x", "+OK\r\n".into()),
        ("BLPOP s 0", WRONGTYPE.into()),
        ("BRPOP nokey s 0", WRONGTYPE.into()),
        ("BLMOVE s d LEFT LEFT 0", WRONGTYPE.into()),
        ("BLMOVE r s LEFT LEFT 0", WRONGTYPE.into()),
        ("LLEN r", ":2\r\n".into()),
        ("BLMPOP 0 1 s LEFT", WRONGTYPE.into()),
        ("BLPOP r -1", "-ERR timeout is negative\r\n".into()),
        (
            "BLPOP r abc",
            "-ERR timeout is not a float or out of range\r\n".into(),
        ),
        (
            "BLMPOP 0 0 r LEFT",
            "-ERR numkeys should be greater than 0\r\n".into(),
        ),
        (
            "BLMPOP 0 1 r LEFT COUNT 0",
            "-ERR count should be greater than 0\r\n".into(),
        ),
        ("BLMPOP 0 1 r MIDDLE", "-ERR syntax error\r\n".into()),
        ("BLMOVE r d UP LEFT 0", "-ERR syntax error\r\n".into()),
        (
            "BLPOP r",
            "-ERR wrong number of arguments for 'blpop' command\r\n".into(),
        ),
    ];
    for (line, want) in steps {
        assert_eq!(cmd(r, line), want, "{name}: {line}");
    }
}

#[test]
fn immediate_answers_when_data_exists_resp2() {
    for (name, s) in targets(&[], &[]) {
        let mut r = Conn::new(&s);
        immediate_script(name, &mut r);
        let mut ctl = Conn::new(&s);
        assert_eq!(blocked(&mut ctl), 0, "{name}");
    }
}

#[test]
fn immediate_answers_when_data_exists_resp3() {
    for (name, s) in targets(&[], &[]) {
        let mut r = Conn::new(&s);
        hello3(&mut r);
        immediate_script(name, &mut r);
    }
}

// ---------------------------------------------------------------------------
// 2. Waking on push.
// ---------------------------------------------------------------------------

#[test]
fn blocked_client_is_served_by_a_push() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        // BLPOP: the first element, the rest stays.
        block(&mut ctl, &mut w, "BLPOP k 0");
        assert_eq!(cmd(&mut p, "RPUSH k a b"), ":2\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("k", "a"), "{name}");
        assert_eq!(cmd(&mut p, "LRANGE k 0 -1"), "*1\r\n$1\r\nb\r\n", "{name}");
        assert_eq!(cmd(&mut p, "DEL k"), ":1\r\n", "{name}");
        // BRPOP with a timeout that is not reached.
        block(&mut ctl, &mut w, "BRPOP k 100");
        assert_eq!(cmd(&mut p, "RPUSH k a b"), ":2\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("k", "b"), "{name}");
        assert_eq!(cmd(&mut p, "DEL k"), ":1\r\n", "{name}");
        // BLMPOP with COUNT takes up to COUNT.
        block(&mut ctl, &mut w, "BLMPOP 0 2 x k RIGHT COUNT 2");
        assert_eq!(cmd(&mut p, "RPUSH k a b c"), ":3\r\n", "{name}");
        assert_eq!(
            reply(&mut w),
            "*2\r\n$1\r\nk\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n",
            "{name}"
        );
        assert_eq!(cmd(&mut p, "LRANGE k 0 -1"), "*1\r\n$1\r\na\r\n", "{name}");
        assert_eq!(cmd(&mut p, "DEL k"), ":1\r\n", "{name}");
        // BLMOVE / BRPOPLPUSH reply the element and push it to the destination.
        block(&mut ctl, &mut w, "BLMOVE k d LEFT RIGHT 0");
        assert_eq!(cmd(&mut p, "LPUSH k a"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), bulk("a"), "{name}");
        block(&mut ctl, &mut w, "BRPOPLPUSH k d 0");
        assert_eq!(cmd(&mut p, "LPUSH k b"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), bulk("b"), "{name}");
        assert_eq!(
            cmd(&mut p, "LRANGE d 0 -1"),
            "*2\r\n$1\r\nb\r\n$1\r\na\r\n",
            "{name}"
        );
        assert_eq!(cmd(&mut p, "EXISTS k"), ":0\r\n", "{name}");
        assert_eq!(blocked(&mut ctl), 0, "{name}");
    }
}

#[test]
fn served_replies_in_resp3() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        hello3(&mut w);
        block(&mut ctl, &mut w, "BLMPOP 0 2 x1 x2 RIGHT COUNT 5");
        assert_eq!(cmd(&mut p, "RPUSH x2 1 2 3"), ":3\r\n", "{name}");
        assert_eq!(
            reply(&mut w),
            "*2\r\n$2\r\nx2\r\n*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n",
            "{name}"
        );
        block(&mut ctl, &mut w, "BLPOP x1 0");
        assert_eq!(cmd(&mut p, "RPUSH x1 1 2 3"), ":3\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("x1", "1"), "{name}");
        block(&mut ctl, &mut w, "BLMOVE y x1 RIGHT RIGHT 0");
        assert_eq!(cmd(&mut p, "RPUSH y z"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), bulk("z"), "{name}");
    }
}

#[test]
fn several_keys_first_ready_key_wins() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        block(&mut ctl, &mut w, "BLPOP k1 k2 k3 0");
        assert_eq!(cmd(&mut p, "RPUSH k3 c"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("k3", "c"), "{name}");
        block(&mut ctl, &mut w, "BLMPOP 0 3 k1 k2 k3 LEFT");
        assert_eq!(cmd(&mut p, "RPUSH k2 b"), ":1\r\n", "{name}");
        assert_eq!(
            reply(&mut w),
            "*2\r\n$2\r\nk2\r\n*1\r\n$1\r\nb\r\n",
            "{name}"
        );
        assert_eq!(blocked(&mut ctl), 0, "{name}");
    }
}

/// Two keys made ready by one step (a transaction): the waiter is served
/// from the key that became ready first, not from the first key in its own
/// argument list (Redis 7.0 serves per ready key, in signal order).
#[test]
fn several_keys_ready_in_one_transaction_follow_readiness_order() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        block(&mut ctl, &mut w, "BLPOP k1 k2 0");
        assert_eq!(cmd(&mut p, "MULTI"), "+OK\r\n");
        assert_eq!(cmd(&mut p, "RPUSH k2 a"), "+QUEUED\r\n");
        assert_eq!(cmd(&mut p, "RPUSH k1 b"), "+QUEUED\r\n");
        assert_eq!(cmd(&mut p, "EXEC"), "*2\r\n:1\r\n:1\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("k2", "a"), "{name}");
        assert_eq!(cmd(&mut p, "LLEN k1"), ":1\r\n", "{name}");
        assert_eq!(cmd(&mut p, "LLEN k2"), ":0\r\n", "{name}");
    }
}

#[test]
fn a_push_in_another_db_does_not_wake() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        assert_eq!(cmd(&mut w, "SELECT 3"), "+OK\r\n");
        block(&mut ctl, &mut w, "BLPOP k 0");
        assert_eq!(cmd(&mut p, "RPUSH k a"), ":1\r\n", "{name}");
        assert_eq!(blocked(&mut ctl), 1, "{name}");
        assert_eq!(cmd(&mut p, "LLEN k"), ":1\r\n", "{name}");
        assert_eq!(cmd(&mut p, "SELECT 3"), "+OK\r\n");
        assert_eq!(cmd(&mut p, "RPUSH k b"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("k", "b"), "{name}");
    }
}

/// BLMOVE pushes to its destination, which wakes a waiter there, and so on.
#[test]
fn blmove_wakes_waiters_on_its_destination_chained() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p) = (Conn::new(&s), Conn::new(&s));
        let (mut w1, mut w2, mut w3) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        block(&mut ctl, &mut w1, "BLMOVE list1 list2 RIGHT LEFT 0");
        block(&mut ctl, &mut w2, "BLMOVE list2 list3 LEFT RIGHT 0");
        block(&mut ctl, &mut w3, "BLPOP list3 0");
        assert_eq!(cmd(&mut p, "RPUSH list1 foo"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w1), bulk("foo"), "{name}");
        assert_eq!(reply(&mut w2), bulk("foo"), "{name}");
        assert_eq!(reply(&mut w3), kv("list3", "foo"), "{name}");
        for k in ["list1", "list2", "list3"] {
            assert_eq!(cmd(&mut p, &format!("EXISTS {k}")), ":0\r\n", "{name} {k}");
        }
        // Without a waiter at the end, the element rests in the last list.
        block(&mut ctl, &mut w1, "BRPOPLPUSH a b 0");
        block(&mut ctl, &mut w2, "BRPOPLPUSH b c 0");
        assert_eq!(cmd(&mut p, "LPUSH a x"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w1), bulk("x"), "{name}");
        assert_eq!(reply(&mut w2), bulk("x"), "{name}");
        assert_eq!(cmd(&mut p, "LRANGE c 0 -1"), "*1\r\n$1\r\nx\r\n", "{name}");
        assert_eq!(blocked(&mut ctl), 0, "{name}");
    }
}

/// BLMOVE served while its destination holds another type: WRONGTYPE for
/// the waiter, and the element stays in the source (Redis 7.0).
#[test]
fn blmove_served_with_wrong_destination_type() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        assert_eq!(cmd(&mut p, "SET dstr x"), "+OK\r\n");
        block(&mut ctl, &mut w, "BLMOVE src dstr LEFT LEFT 0");
        assert_eq!(cmd(&mut p, "RPUSH src v"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), WRONGTYPE, "{name}");
        assert_eq!(
            cmd(&mut p, "LRANGE src 0 -1"),
            "*1\r\n$1\r\nv\r\n",
            "{name}"
        );
        assert_eq!(blocked(&mut ctl), 0, "{name}");
    }
}

// ---------------------------------------------------------------------------
// 3. Order of service and atomicity.
// ---------------------------------------------------------------------------

#[test]
fn waiters_are_served_in_blocking_order_one_element_each() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p) = (Conn::new(&s), Conn::new(&s));
        let n = 5;
        let mut ws: Vec<Conn> = (0..n).map(|_| Conn::new(&s)).collect();
        for w in ws.iter_mut() {
            block(&mut ctl, w, "BLPOP k 0");
        }
        assert_eq!(cmd(&mut p, "RPUSH k e0 e1 e2 e3 e4"), ":5\r\n", "{name}");
        for (i, w) in ws.iter_mut().enumerate() {
            assert_eq!(reply(w), kv("k", &format!("e{i}")), "{name} waiter {i}");
        }
        assert_eq!(cmd(&mut p, "EXISTS k"), ":0\r\n", "{name}");
        assert_eq!(blocked(&mut ctl), 0, "{name}");

        // One element serves only the first waiter; the others stay blocked.
        for w in ws.iter_mut().take(3) {
            block(&mut ctl, w, "BLPOP k 0");
        }
        assert_eq!(cmd(&mut p, "LPUSH k x"), ":1\r\n", "{name}");
        assert_eq!(blocked(&mut ctl), 2, "{name}");
        assert_eq!(reply(&mut ws[0]), kv("k", "x"), "{name}");
        assert_eq!(cmd(&mut p, "LPUSH k y"), ":1\r\n", "{name}");
        assert_eq!(blocked(&mut ctl), 1, "{name}");
        assert_eq!(reply(&mut ws[1]), kv("k", "y"), "{name}");
        // A waiter that blocks now queues behind the one still waiting.
        block(&mut ctl, &mut ws[0], "BLPOP k 0");
        assert_eq!(cmd(&mut p, "RPUSH k z"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut ws[2]), kv("k", "z"), "{name}");
        assert_eq!(cmd(&mut p, "RPUSH k w"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut ws[0]), kv("k", "w"), "{name}");
        assert_eq!(blocked(&mut ctl), 0, "{name}");
    }
}

#[test]
fn mixed_waiters_take_from_their_own_end_in_order() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p) = (Conn::new(&s), Conn::new(&s));
        let (mut w1, mut w2, mut w3) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        block(&mut ctl, &mut w1, "BRPOP k 0");
        block(&mut ctl, &mut w2, "BLMPOP 0 1 k LEFT COUNT 2");
        block(&mut ctl, &mut w3, "BLPOP k 0");
        assert_eq!(cmd(&mut p, "RPUSH k a b c d e"), ":5\r\n", "{name}");
        assert_eq!(reply(&mut w1), kv("k", "e"), "{name}");
        assert_eq!(
            reply(&mut w2),
            "*2\r\n$1\r\nk\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n",
            "{name}"
        );
        assert_eq!(reply(&mut w3), kv("k", "c"), "{name}");
        assert_eq!(cmd(&mut p, "LRANGE k 0 -1"), "*1\r\n$1\r\nd\r\n", "{name}");
    }
}

/// The push and the pops it serves are one step: nobody, not even the
/// pusher's next pipelined command, sees the pushed elements.
#[test]
fn push_and_pops_are_atomic() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut third) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        let mut ws: Vec<Conn> = (0..3).map(|_| Conn::new(&s)).collect();
        for w in ws.iter_mut() {
            block(&mut ctl, w, "BLPOP k 0");
        }
        let mut batch = req("RPUSH k a b c");
        batch.extend(req("LLEN k"));
        batch.extend(req("LRANGE k 0 -1"));
        p.send(&batch);
        assert_eq!(reply(&mut p), ":3\r\n", "{name}");
        assert_eq!(reply(&mut p), ":0\r\n", "{name}");
        assert_eq!(reply(&mut p), "*0\r\n", "{name}");
        assert_eq!(cmd(&mut third, "LLEN k"), ":0\r\n", "{name}");
        for (w, e) in ws.iter_mut().zip(["a", "b", "c"]) {
            assert_eq!(reply(w), kv("k", e), "{name}");
        }

        // More elements than waiters: the rest stays, in order.
        for w in ws.iter_mut().take(2) {
            block(&mut ctl, w, "BLPOP k 0");
        }
        assert_eq!(cmd(&mut p, "RPUSH k 1 2 3 4"), ":4\r\n", "{name}");
        assert_eq!(
            cmd(&mut third, "LRANGE k 0 -1"),
            "*2\r\n$1\r\n3\r\n$1\r\n4\r\n",
            "{name}"
        );
        assert_eq!(reply(&mut ws[0]), kv("k", "1"), "{name}");
        assert_eq!(reply(&mut ws[1]), kv("k", "2"), "{name}");
        assert_eq!(cmd(&mut p, "DEL k"), ":1\r\n");

        // Inside a transaction the push is visible to the transaction itself;
        // the waiter is served when EXEC ends.
        block(&mut ctl, &mut ws[0], "BLPOP k 0");
        assert_eq!(cmd(&mut p, "MULTI"), "+OK\r\n");
        assert_eq!(cmd(&mut p, "RPUSH k t"), "+QUEUED\r\n");
        assert_eq!(cmd(&mut p, "LLEN k"), "+QUEUED\r\n");
        assert_eq!(cmd(&mut p, "EXEC"), "*2\r\n:1\r\n:1\r\n", "{name}");
        assert_eq!(cmd(&mut third, "LLEN k"), ":0\r\n", "{name}");
        assert_eq!(reply(&mut ws[0]), kv("k", "t"), "{name}");

        // A transaction that pushes and pops the element itself wakes nobody.
        block(&mut ctl, &mut ws[0], "BLPOP k 0");
        assert_eq!(cmd(&mut p, "MULTI"), "+OK\r\n");
        assert_eq!(cmd(&mut p, "RPUSH k t"), "+QUEUED\r\n");
        assert_eq!(cmd(&mut p, "RPOP k"), "+QUEUED\r\n");
        assert_eq!(cmd(&mut p, "EXEC"), "*2\r\n:1\r\n$1\r\nt\r\n", "{name}");
        assert_eq!(blocked(&mut ctl), 1, "{name}");
        assert_eq!(cmd(&mut p, "RPUSH k u"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut ws[0]), kv("k", "u"), "{name}");
    }
}

// ---------------------------------------------------------------------------
// 4. Timeouts.
// ---------------------------------------------------------------------------

#[test]
fn timeout_answers_the_null_array() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut w, mut w3) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        hello3(&mut w3);
        for line in [
            "BLPOP k 0.2",
            "BRPOP k1 k2 0.2",
            "BLMOVE k d LEFT RIGHT 0.2",
            "BRPOPLPUSH k d 0.2",
            "BLMPOP 0.2 2 k k2 LEFT COUNT 3",
        ] {
            assert_eq!(cmd(&mut w, line), "*-1\r\n", "{name}: {line}");
            assert_eq!(cmd(&mut w3, line), "_\r\n", "{name}: RESP3 {line}");
        }
        assert_eq!(blocked(&mut ctl), 0, "{name}");
        assert_eq!(cmd(&mut ctl, "EXISTS d"), ":0\r\n", "{name}");
        // The client answers its pipelined commands after the timeout.
        let mut batch = req("BLPOP k 0.1");
        batch.extend(req("PING"));
        w.send(&batch);
        assert_eq!(reply(&mut w), "*-1\r\n", "{name}");
        assert_eq!(reply(&mut w), "+PONG\r\n", "{name}");
    }
}

#[test]
fn timeout_errors() {
    for (name, s) in targets(&[], &[]) {
        let mut r = Conn::new(&s);
        let neg = "-ERR timeout is negative\r\n";
        let bad = "-ERR timeout is not a float or out of range\r\n";
        for (line, want) in [
            ("BLPOP k -1", neg),
            ("BLPOP k -0.5", neg),
            ("BRPOP k abc", bad),
            ("BLPOP k 1x", bad),
            ("BLMOVE k d LEFT LEFT -1", neg),
            ("BLMOVE k d LEFT LEFT x", bad),
            ("BRPOPLPUSH k d -3", neg),
            ("BRPOPLPUSH k d nope", bad),
            ("BLMPOP -1 1 k LEFT", neg),
            ("BLMPOP x 1 k LEFT", bad),
        ] {
            assert_eq!(cmd(&mut r, line), want, "{name}: {line}");
        }
        let mut ctl = Conn::new(&s);
        assert_eq!(blocked(&mut ctl), 0, "{name}");
    }
}

/// A client served before its timeout is not answered again when the
/// timeout would have passed (its deadline went with its blocking state).
#[test]
fn served_client_forgets_its_timeout() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        block(&mut ctl, &mut w, "BLPOP k 0.3");
        assert_eq!(cmd(&mut p, "RPUSH k a"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("k", "a"), "{name}");
        // Block forever on another key; let the old deadline pass.
        block(&mut ctl, &mut w, "BLPOP other 0");
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(blocked(&mut ctl), 1, "{name}");
        assert_eq!(cmd(&mut p, "RPUSH other b"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("other", "b"), "{name}");
    }
}

// ---------------------------------------------------------------------------
// 5. Disconnects and CLIENT KILL.
// ---------------------------------------------------------------------------

#[test]
fn disconnected_waiter_is_forgotten() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p) = (Conn::new(&s), Conn::new(&s));
        let base = info_clients(&mut ctl, "connected_clients");
        let mut dead = Conn::new(&s);
        block(&mut ctl, &mut dead, "BLPOP k 0");
        let mut w2 = Conn::new(&s);
        block(&mut ctl, &mut w2, "BLPOP k2 0");
        let _ = dead.raw.s.shutdown(std::net::Shutdown::Both);
        drop(dead);
        wait_blocked(&mut ctl, 1);
        wait_field(&mut ctl, "connected_clients", base + 1);
        assert_eq!(cmd(&mut p, "RPUSH k v"), ":1\r\n", "{name}");
        assert_eq!(cmd(&mut p, "LRANGE k 0 -1"), "*1\r\n$1\r\nv\r\n", "{name}");
        // The surviving waiter still works.
        assert_eq!(cmd(&mut p, "RPUSH k2 v2"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w2), kv("k2", "v2"), "{name}");
        assert_eq!(blocked(&mut ctl), 0, "{name}");

        // First of two waiters on one key leaves: the second gets the push.
        let (mut a, mut b) = (Conn::new(&s), Conn::new(&s));
        block(&mut ctl, &mut a, "BLPOP q 0");
        block(&mut ctl, &mut b, "BLPOP q 0");
        drop(a);
        wait_blocked(&mut ctl, 1);
        assert_eq!(cmd(&mut p, "RPUSH q 1 2"), ":2\r\n", "{name}");
        assert_eq!(reply(&mut b), kv("q", "1"), "{name}");
        assert_eq!(cmd(&mut p, "LRANGE q 0 -1"), "*1\r\n$1\r\n2\r\n", "{name}");
    }
}

/// CLIENT KILL of a blocked client followed, in the same pipeline, by a
/// push: the killed client is gone at once (Redis frees it in CLIENT KILL)
/// and must not consume the element.
#[test]
fn killed_waiter_does_not_consume_a_push_in_the_same_pipeline() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        let id = client_id(&mut w);
        block(&mut ctl, &mut w, "BLPOP k 0");
        let mut batch = req(&format!("CLIENT KILL ID {id}"));
        batch.extend(req("RPUSH k v"));
        batch.extend(req("LLEN k"));
        p.send(&batch);
        assert_eq!(reply(&mut p), ":1\r\n", "{name}");
        assert_eq!(reply(&mut p), ":1\r\n", "{name}");
        assert_eq!(
            reply(&mut p),
            ":1\r\n",
            "{name}: element consumed by a killed client"
        );
        assert!(w.is_closed(), "{name}");
        wait_blocked(&mut ctl, 0);
    }
}

// ---------------------------------------------------------------------------
// 6. Many clients.
// ---------------------------------------------------------------------------

#[test]
fn a_thousand_waiters_while_others_are_served() {
    let s = Server::start(&["--maxclients", "2000"]);
    let n = 1000;
    let (mut ctl, mut p) = (Conn::new(&s), Conn::new(&s));
    let mut ws: Vec<Conn> = Vec::with_capacity(n);
    for i in 0..n {
        let mut w = Conn::new(&s);
        w.raw.s.set_read_timeout(Some(Duration::from_secs(60))).ok();
        send(&mut w, "BLPOP k 0");
        ws.push(w);
        // Other clients keep getting answers while waiters pile up.
        if i % 100 == 0 {
            assert_eq!(cmd(&mut p, "PING"), "+PONG\r\n");
        }
    }
    wait_blocked(&mut ctl, n);
    for i in 0..200 {
        assert_eq!(cmd(&mut p, "PING"), "+PONG\r\n");
        assert_eq!(cmd(&mut p, &format!("SET s{i} v{i}")), "+OK\r\n");
        assert_eq!(cmd(&mut p, &format!("GET s{i}")), bulk(&format!("v{i}")));
    }
    let mut other = Conn::new(&s);
    assert_eq!(cmd(&mut other, "LLEN k"), ":0\r\n");
    assert_eq!(blocked(&mut ctl), n);

    let elems: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
    let push = format!("RPUSH k {}", elems.join(" "));
    assert_eq!(cmd(&mut p, &push), format!(":{n}\r\n"));
    assert_eq!(cmd(&mut other, "LLEN k"), ":0\r\n");
    let mut got: Vec<String> = Vec::with_capacity(n);
    for (i, w) in ws.iter_mut().enumerate() {
        let r = reply(w);
        let prefix = "*2\r\n$1\r\nk\r\n$";
        assert!(r.starts_with(prefix), "waiter {i} got {r:?}");
        let elem = r.split("\r\n").nth(4).unwrap_or_default().to_string();
        assert_eq!(r, kv("k", &elem), "waiter {i}");
        got.push(elem);
    }
    got.sort();
    got.dedup();
    assert_eq!(got.len(), n, "every waiter got a distinct element");
    let mut want = elems.clone();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(blocked(&mut ctl), 0);
    assert_eq!(cmd(&mut p, "EXISTS k"), ":0\r\n");
    // Everyone can talk again.
    for w in ws.iter_mut().step_by(97) {
        assert_eq!(cmd(w, "PING"), "+PONG\r\n");
    }
}

// ---------------------------------------------------------------------------
// 7. MULTI.
// ---------------------------------------------------------------------------

#[test]
fn blocking_commands_inside_multi_do_not_block() {
    for (name, s) in targets(&[], &[]) {
        let (mut r, mut r3) = (Conn::new(&s), Conn::new(&s));
        hello3(&mut r3);
        for (line, want2, want3) in [
            ("BLPOP empty 0", "*1\r\n*-1\r\n", "*1\r\n_\r\n"),
            ("BRPOP empty 0", "*1\r\n*-1\r\n", "*1\r\n_\r\n"),
            ("BLMOVE empty d LEFT LEFT 0", "*1\r\n$-1\r\n", "*1\r\n_\r\n"),
            ("BRPOPLPUSH empty d 0", "*1\r\n$-1\r\n", "*1\r\n_\r\n"),
            ("BLMPOP 0 1 empty LEFT", "*1\r\n*-1\r\n", "*1\r\n_\r\n"),
        ] {
            for (r, want) in [(&mut r, want2), (&mut r3, want3)] {
                assert_eq!(cmd(r, "MULTI"), "+OK\r\n", "{name}");
                assert_eq!(cmd(r, line), "+QUEUED\r\n", "{name}: {line}");
                assert_eq!(cmd(r, "EXEC"), want, "{name}: {line}");
                assert_eq!(cmd(r, "PING"), "+PONG\r\n", "{name}: after {line}");
            }
        }
        // With data they pop as usual.
        assert_eq!(cmd(&mut r, "RPUSH l a b"), ":2\r\n");
        assert_eq!(cmd(&mut r, "MULTI"), "+OK\r\n");
        assert_eq!(cmd(&mut r, "BLPOP l 0"), "+QUEUED\r\n");
        assert_eq!(cmd(&mut r, "BLPOP l 0"), "+QUEUED\r\n");
        assert_eq!(cmd(&mut r, "BLPOP l 0"), "+QUEUED\r\n");
        assert_eq!(
            cmd(&mut r, "EXEC"),
            format!("*3\r\n{}{}*-1\r\n", kv("l", "a"), kv("l", "b")),
            "{name}"
        );
        let mut ctl = Conn::new(&s);
        assert_eq!(blocked(&mut ctl), 0, "{name}");
    }
}

// ---------------------------------------------------------------------------
// 8. CLIENT UNBLOCK.
// ---------------------------------------------------------------------------

#[test]
fn client_unblock_timeout_and_error() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        let id = client_id(&mut w);
        let unblock = |p: &mut Conn, extra: &str| cmd(p, &format!("CLIENT UNBLOCK {id}{extra}"));
        assert_eq!(unblock(&mut p, ""), ":0\r\n", "{name}: not blocked");
        assert_eq!(cmd(&mut p, "CLIENT UNBLOCK 999999"), ":0\r\n", "{name}");
        assert_eq!(
            unblock(&mut p, " MAYBE"),
            "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n",
            "{name}"
        );

        block(&mut ctl, &mut w, "BLPOP k 0");
        assert_eq!(unblock(&mut p, ""), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), "*-1\r\n", "{name}");
        assert_eq!(blocked(&mut ctl), 0, "{name}");
        assert_eq!(unblock(&mut p, ""), ":0\r\n", "{name}: no longer blocked");

        block(&mut ctl, &mut w, "BLMOVE k d LEFT LEFT 0");
        assert_eq!(unblock(&mut p, " TIMEOUT"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), "*-1\r\n", "{name}");

        block(&mut ctl, &mut w, "BRPOP k 0");
        assert_eq!(unblock(&mut p, " ERROR"), ":1\r\n", "{name}");
        assert_eq!(
            reply(&mut w),
            "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
            "{name}"
        );

        // An unblocked client does not take a later push.
        block(&mut ctl, &mut w, "BLMPOP 0 1 k LEFT");
        assert_eq!(unblock(&mut p, " timeout"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), "*-1\r\n", "{name}");
        assert_eq!(cmd(&mut p, "RPUSH k v"), ":1\r\n", "{name}");
        assert_eq!(cmd(&mut p, "LLEN k"), ":1\r\n", "{name}");
        assert_eq!(cmd(&mut w, "PING"), "+PONG\r\n", "{name}");

        // RESP3: the null of the client's protocol.
        let mut w3 = Conn::new(&s);
        hello3(&mut w3);
        let id3 = client_id(&mut w3);
        block(&mut ctl, &mut w3, "BLPOP nokey 0");
        assert_eq!(
            cmd(&mut p, &format!("CLIENT UNBLOCK {id3}")),
            ":1\r\n",
            "{name}"
        );
        assert_eq!(reply(&mut w3), "_\r\n", "{name}");
    }
}

// ---------------------------------------------------------------------------
// 9. Pipelined commands behind a blocked one.
// ---------------------------------------------------------------------------

#[test]
fn pipelined_commands_wait_behind_the_blocked_one() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        let mut batch = req("BLPOP k 0");
        batch.extend(req("PING"));
        batch.extend(req("ECHO hello"));
        batch.extend(req("LLEN k"));
        w.send(&batch);
        wait_blocked(&mut ctl, 1);
        assert_eq!(cmd(&mut p, "RPUSH k a b"), ":2\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("k", "a"), "{name}");
        assert_eq!(reply(&mut w), "+PONG\r\n", "{name}");
        assert_eq!(reply(&mut w), bulk("hello"), "{name}");
        assert_eq!(reply(&mut w), ":1\r\n", "{name}");
        assert_eq!(cmd(&mut p, "DEL k"), ":1\r\n");

        // Two blocking commands in one write: the second blocks after the
        // first is served.
        let mut batch = req("BLPOP k 0");
        batch.extend(req("BRPOP k 0"));
        batch.extend(req("PING"));
        w.send(&batch);
        wait_blocked(&mut ctl, 1);
        assert_eq!(cmd(&mut p, "RPUSH k 1"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("k", "1"), "{name}");
        wait_blocked(&mut ctl, 1);
        assert_eq!(cmd(&mut p, "LLEN k"), ":0\r\n", "{name}");
        assert_eq!(cmd(&mut p, "RPUSH k 2 3"), ":2\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("k", "3"), "{name}");
        assert_eq!(reply(&mut w), "+PONG\r\n", "{name}");
        assert_eq!(blocked(&mut ctl), 0, "{name}");
    }
}

// ---------------------------------------------------------------------------
// 10. Rollback.
// ---------------------------------------------------------------------------

#[test]
fn rolled_back_push_does_not_wake() {
    let s = Server::start(&["--multi-rollback", "yes"]);
    let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
    assert_eq!(cmd(&mut p, "SET s str"), "+OK\r\n");
    block(&mut ctl, &mut w, "BLPOP k 0");
    assert_eq!(cmd(&mut p, "MULTI"), "+OK\r\n");
    assert_eq!(cmd(&mut p, "RPUSH k a"), "+QUEUED\r\n");
    assert_eq!(cmd(&mut p, "LPUSH s x"), "+QUEUED\r\n");
    assert_eq!(
        cmd(&mut p, "EXEC"),
        "-EXECABORT Transaction rolled back: command #2 (LPUSH) failed: WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(blocked(&mut ctl), 1);
    assert_eq!(cmd(&mut p, "EXISTS k"), ":0\r\n");
    // The waiter is still properly registered.
    assert_eq!(cmd(&mut p, "RPUSH k real"), ":1\r\n");
    assert_eq!(reply(&mut w), kv("k", "real"));
    assert_eq!(cmd(&mut p, "EXISTS k"), ":0\r\n");
}

/// With Redis's own semantics the push before the failing command stays,
/// and the waiter gets it.
#[test]
fn failed_transaction_without_rollback_wakes_like_redis() {
    for (name, s) in targets(&["--multi-rollback", "no"], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        assert_eq!(cmd(&mut p, "SET s str"), "+OK\r\n");
        block(&mut ctl, &mut w, "BLPOP rk 0");
        assert_eq!(cmd(&mut p, "MULTI"), "+OK\r\n");
        assert_eq!(cmd(&mut p, "RPUSH rk a"), "+QUEUED\r\n");
        assert_eq!(cmd(&mut p, "LPUSH s x"), "+QUEUED\r\n");
        assert_eq!(
            cmd(&mut p, "EXEC"),
            format!("*2\r\n:1\r\n{WRONGTYPE}"),
            "{name}"
        );
        assert_eq!(reply(&mut w), kv("rk", "a"), "{name}");
        assert_eq!(cmd(&mut p, "LLEN rk"), ":0\r\n", "{name}");
    }
}

// ---------------------------------------------------------------------------
// 11. Keys made ready by other commands; keys of another type.
// ---------------------------------------------------------------------------

#[test]
fn rename_into_a_waited_key_wakes() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        block(&mut ctl, &mut w, "BLPOP dst 0");
        assert_eq!(cmd(&mut p, "RPUSH src 1 2"), ":2\r\n");
        assert_eq!(cmd(&mut p, "RENAME src dst"), "+OK\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("dst", "1"), "{name}");
        assert_eq!(
            cmd(&mut p, "LRANGE dst 0 -1"),
            "*1\r\n$1\r\n2\r\n",
            "{name}"
        );
        assert_eq!(cmd(&mut p, "DEL dst"), ":1\r\n");
        // RENAMENX too.
        block(&mut ctl, &mut w, "BRPOP dst 0");
        assert_eq!(cmd(&mut p, "RPUSH src 1 2"), ":2\r\n");
        assert_eq!(cmd(&mut p, "RENAMENX src dst"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("dst", "2"), "{name}");
        assert_eq!(
            cmd(&mut p, "LRANGE dst 0 -1"),
            "*1\r\n$1\r\n1\r\n",
            "{name}"
        );
    }
}

#[test]
fn move_into_the_waiters_db_wakes() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        assert_eq!(cmd(&mut w, "SELECT 1"), "+OK\r\n");
        block(&mut ctl, &mut w, "BLPOP mk 0");
        assert_eq!(cmd(&mut p, "RPUSH mk v"), ":1\r\n");
        assert_eq!(
            blocked(&mut ctl),
            1,
            "{name}: a push in db 0 is not for db 1"
        );
        assert_eq!(cmd(&mut p, "MOVE mk 1"), ":1\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("mk", "v"), "{name}");
        assert_eq!(cmd(&mut p, "EXISTS mk"), ":0\r\n", "{name}");
        assert_eq!(cmd(&mut w, "EXISTS mk"), ":0\r\n", "{name}");
    }
}

#[test]
fn swapdb_making_the_key_exist_wakes() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        assert_eq!(cmd(&mut w, "SELECT 1"), "+OK\r\n");
        block(&mut ctl, &mut w, "BLPOP sk 0");
        assert_eq!(cmd(&mut p, "SELECT 2"), "+OK\r\n");
        assert_eq!(cmd(&mut p, "RPUSH sk v1 v2"), ":2\r\n");
        assert_eq!(cmd(&mut p, "SWAPDB 1 2"), "+OK\r\n", "{name}");
        assert_eq!(reply(&mut w), kv("sk", "v1"), "{name}");
        assert_eq!(cmd(&mut p, "LRANGE sk 0 -1"), "*0\r\n", "{name}");
        assert_eq!(
            cmd(&mut w, "LRANGE sk 0 -1"),
            "*1\r\n$2\r\nv2\r\n",
            "{name}"
        );
    }
}

/// A waited key that becomes a string does not wake its waiters in Redis
/// 7.0 (only lists signal list waiters); they stay blocked and are served
/// when it is a list again.
#[test]
fn key_becoming_another_type_keeps_waiters_blocked() {
    for (name, s) in targets(&[], &[]) {
        let (mut ctl, mut p, mut w) = (Conn::new(&s), Conn::new(&s), Conn::new(&s));
        block(&mut ctl, &mut w, "BLPOP k 0");
        assert_eq!(cmd(&mut p, "SET k str"), "+OK\r\n");
        assert_eq!(blocked(&mut ctl), 1, "{name}: SET woke the waiter");
        assert_eq!(cmd(&mut p, "DEL k"), ":1\r\n");
        assert_eq!(cmd(&mut p, "RPUSH k x"), ":1\r\n");
        assert_eq!(reply(&mut w), kv("k", "x"), "{name}");

        // Several keys: one turns into a string, another gets data.
        block(&mut ctl, &mut w, "BLPOP k1 k2 0");
        assert_eq!(cmd(&mut p, "SET k1 str"), "+OK\r\n");
        assert_eq!(cmd(&mut p, "RPUSH k2 y"), ":1\r\n");
        assert_eq!(reply(&mut w), kv("k2", "y"), "{name}");
        assert_eq!(blocked(&mut ctl), 0, "{name}");
    }
}
