//! Transactions (MULTI / EXEC / DISCARD / WATCH / UNWATCH) through the real
//! binary: queue-time behaviour and WATCH invalidation compared byte for
//! byte with real Redis 7 (when installed), memkv's rollback (exact
//! EXECABORT text; data, TTLs and types identical afterwards, for every write
//! command of the server's own command table and for seeded random
//! transactions), `multi-rollback no` against Redis, isolation under
//! concurrent readers, AOF propagation, and an ignored throughput benchmark
//! (`cargo test --release --test transaction -- --ignored --nocapture bench`).
//! `MEMKV_SEED` replays a randomized run.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::script::split;
use common::{Raw, Server};

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const EXECABORT: &[u8] = b"-EXECABORT Transaction discarded because of previous errors.\r\n";

/// memkv with DEBUG enabled plus `extra` directives.
fn memkv(extra: &[&str]) -> Server {
    let mut args = vec!["--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Real Redis with DEBUG enabled, if installed.
fn redis() -> Option<Server> {
    Server::start_redis(&["--enable-debug-command", "yes"])
}

/// RESP request bytes for a command line.
fn encode_line(line: &str) -> Vec<u8> {
    let parts = split(line);
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    common::encode(&refs)
}

/// Sends one command line, returns the raw reply.
fn q(r: &mut Raw, line: &str) -> Vec<u8> {
    r.send(&encode_line(line));
    r.read_reply()
}

/// Sends one command line, returns the reply as (lossy) text.
fn qs(r: &mut Raw, line: &str) -> String {
    String::from_utf8_lossy(&q(r, line)).into_owned()
}

/// Sends all lines in one write, then reads one reply per line.
fn pipeline<S: AsRef<str>>(r: &mut Raw, lines: &[S]) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    for l in lines {
        buf.extend_from_slice(&encode_line(l.as_ref()));
    }
    r.send(&buf);
    lines.iter().map(|_| r.read_reply()).collect()
}

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// The EXECABORT error memkv answers when command `pos` (1-based) of a
/// transaction fails at EXEC time and everything is rolled back
/// (src/commands/transaction.rs, `exec`).
fn rolled_back(pos: usize, name: &str, err: &str) -> Vec<u8> {
    format!("-EXECABORT Transaction rolled back: command #{pos} ({name}) failed: {err}\r\n")
        .into_bytes()
}

/// A parsed RESP reply (enough for the structured parts of these tests).
#[derive(Debug, Clone, PartialEq)]
enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Arr(Vec<V>),
}

impl V {
    fn arr(&self) -> &[V] {
        match self {
            V::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }
    fn text(&self) -> String {
        match self {
            V::Simple(s) | V::Err(s) => s.clone(),
            V::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            V::Int(i) => i.to_string(),
            other => panic!("not text: {other:?}"),
        }
    }
    fn int(&self) -> i64 {
        match self {
            V::Int(i) => *i,
            other => panic!("not an integer: {other:?}"),
        }
    }
}

fn parse(b: &[u8]) -> V {
    let mut pos = 0;
    let v = parse_at(b, &mut pos);
    assert_eq!(pos, b.len(), "trailing bytes in {}", show(b));
    v
}

fn parse_at(b: &[u8], pos: &mut usize) -> V {
    let end = b[*pos..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| *pos + i)
        .unwrap_or_else(|| panic!("incomplete reply {}", show(b)));
    let t = b[*pos];
    let head = String::from_utf8_lossy(&b[*pos + 1..end]).into_owned();
    *pos = end + 2;
    match t {
        b'+' => V::Simple(head),
        b'-' => V::Err(head),
        b':' => V::Int(head.parse().expect("integer reply")),
        b'_' => V::Nil,
        b'$' => {
            let n: i64 = head.parse().expect("bulk length");
            if n < 0 {
                return V::Nil;
            }
            let data = b[*pos..*pos + n as usize].to_vec();
            *pos += n as usize + 2;
            V::Bulk(data)
        }
        b'*' | b'~' => {
            let n: i64 = head.parse().expect("array length");
            if n < 0 {
                return V::Nil;
            }
            V::Arr((0..n).map(|_| parse_at(b, pos)).collect())
        }
        _ => panic!("unexpected reply type in {}", show(b)),
    }
}

/// The items of a raw array reply, each as its own raw bytes.
fn array_items(b: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(b[0], b'*', "not an array: {}", show(b));
    let head_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
    let n: usize = std::str::from_utf8(&b[1..head_end])
        .unwrap()
        .parse()
        .unwrap();
    let mut pos = head_end + 2;
    let mut out = Vec::new();
    for _ in 0..n {
        let len = common::resp_len(&b[pos..]).expect("complete item");
        out.push(b[pos..pos + len].to_vec());
        pos += len;
    }
    assert_eq!(pos, b.len());
    out
}

/// Polls `f` until it is true; panics naming `what` after 15 s.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The server clock (TIME) in unix ms.
fn server_ms(r: &mut Raw) -> u64 {
    let v = parse(&q(r, "TIME"));
    let a = v.arr();
    let secs: u64 = a[0].text().parse().unwrap();
    let micros: u64 = a[1].text().parse().unwrap();
    secs * 1000 + micros / 1000
}

/// A field of INFO (`name:value`).
fn info_field(r: &mut Raw, section: &str, name: &str) -> String {
    let text = parse(&q(r, &format!("INFO {section}"))).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("INFO has no {name}"))
        .trim()
        .to_string()
}

fn digest(r: &mut Raw) -> String {
    qs(r, "DEBUG DIGEST")
}

/// How TTLs are rendered in a [`dump`].
#[derive(Clone, Copy, PartialEq)]
enum Ttl {
    /// The absolute expiry (PEXPIRETIME): an exact restore keeps it.
    Exact,
    /// Only whether there is one (two runs at different times).
    Class,
}

/// Every key of databases `0..dbs` with its type, value and expiry, read
/// through a fresh connection (so the caller's selected db is untouched).
fn dump(srv: &Server, dbs: usize, ttl: Ttl) -> BTreeMap<(usize, Vec<u8>), String> {
    let mut r = srv.raw();
    let mut out = BTreeMap::new();
    for db in 0..dbs {
        q(&mut r, &format!("SELECT {db}"));
        let keys: Vec<Vec<u8>> = match parse(&r.cmd(&[b"KEYS", b"*"])) {
            V::Arr(a) => a
                .into_iter()
                .map(|k| match k {
                    V::Bulk(b) => b,
                    other => panic!("key {other:?}"),
                })
                .collect(),
            other => panic!("KEYS {other:?}"),
        };
        for k in keys {
            let t = parse(&r.cmd(&[b"TYPE", &k])).text();
            let value = match t.as_str() {
                "string" => show(&r.cmd(&[b"GET", &k])),
                "list" => show(&r.cmd(&[b"LRANGE", &k, b"0", b"-1"])),
                "hash" => {
                    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
                    let v = parse(&r.cmd(&[b"HGETALL", &k]));
                    for p in v.arr().chunks(2) {
                        let f = match &p[0] {
                            V::Bulk(b) => b.clone(),
                            o => panic!("{o:?}"),
                        };
                        let x = match &p[1] {
                            V::Bulk(b) => b.clone(),
                            o => panic!("{o:?}"),
                        };
                        pairs.push((f, x));
                    }
                    pairs.sort();
                    format!("{pairs:?}")
                }
                "set" => {
                    let mut m: Vec<Vec<u8>> = match parse(&r.cmd(&[b"SMEMBERS", &k])) {
                        V::Arr(a) => a
                            .into_iter()
                            .map(|e| match e {
                                V::Bulk(b) => b,
                                o => panic!("{o:?}"),
                            })
                            .collect(),
                        o => panic!("SMEMBERS {o:?}"),
                    };
                    m.sort();
                    format!("{m:?}")
                }
                "zset" => show(&r.cmd(&[b"ZRANGE", &k, b"0", b"-1", b"WITHSCORES"])),
                // Entries, counters and groups (not the clock-dependent parts).
                "stream" => [
                    r.cmd(&[b"XRANGE", &k, b"-", b"+"]),
                    r.cmd(&[b"XINFO", b"STREAM", &k]),
                    r.cmd(&[b"XINFO", b"GROUPS", &k]),
                ]
                .iter()
                .map(|x| show(x))
                .collect::<Vec<_>>()
                .join(" "),
                "none" => continue,
                other => format!("<{other}>"),
            };
            let at = parse(&r.cmd(&[b"PEXPIRETIME", &k])).int();
            let at = match ttl {
                Ttl::Exact => at.to_string(),
                Ttl::Class if at < 0 => at.to_string(),
                Ttl::Class => "has-ttl".to_string(),
            };
            out.insert((db, k), format!("{t} {value} expiry={at}"));
        }
    }
    out
}

/// Digest plus exact dump: the whole observable dataset.
fn snapshot(srv: &Server, dbs: usize) -> (String, BTreeMap<(usize, Vec<u8>), String>) {
    let d = digest(&mut srv.raw());
    (d, dump(srv, dbs, Ttl::Exact))
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The seed of a randomized test: `MEMKV_SEED`, or the clock (printed).
fn seed(test: &str) -> u64 {
    let seed = std::env::var("MEMKV_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("{test}: MEMKV_SEED={seed}");
    seed
}

// ---------------------------------------------------------------------------
// Multi-client scripts (differential against real Redis).
// ---------------------------------------------------------------------------

/// Runs a multi-client script and returns a transcript of (step, reply).
///
/// Steps: `X: cmd` sends `cmd` on client X (connected on first use) and
/// reads its reply; `X> cmd` only sends (a command that blocks); `X<` reads
/// one reply; `X!` closes client X. Directives (on a control connection, no
/// transcript): `blocked N` waits until N clients are blocked, `gone KEY`
/// polls `PTTL KEY` (db 0) until -2, `pass MS` waits until MS ms of server
/// time passed, `dbsize N` waits until DBSIZE (db 0) is N.
fn run_script(srv: &Server, steps: &[&str]) -> Vec<(String, Vec<u8>)> {
    let mut clients: HashMap<String, Raw> = HashMap::new();
    let mut ctl = srv.raw();
    let mut out = Vec::new();
    for step in steps {
        let (head, rest) = step.split_once(' ').unwrap_or((step, ""));
        match head {
            "blocked" => wait_for(step, || {
                info_field(&mut ctl, "clients", "blocked_clients") == rest
            }),
            "gone" => wait_for(step, || q(&mut ctl, &format!("PTTL {rest}")) == b":-2\r\n"),
            "pass" => {
                let ms: u64 = rest.parse().unwrap();
                let t0 = server_ms(&mut ctl);
                wait_for(step, || server_ms(&mut ctl) >= t0 + ms);
            }
            "dbsize" => wait_for(step, || qs(&mut ctl, "DBSIZE") == format!(":{rest}\r\n")),
            _ => {
                let (who, mode) = head.split_at(head.len() - 1);
                if mode == "!" {
                    clients.remove(who);
                    continue;
                }
                let r = clients.entry(who.to_string()).or_insert_with(|| srv.raw());
                match mode {
                    ":" => {
                        let mut reply = q(r, rest);
                        // HELLO's map carries the connection id.
                        if rest.starts_with("HELLO") && reply.starts_with(b"%") {
                            reply = b"<hello map>".to_vec();
                        }
                        out.push((step.to_string(), reply));
                    }
                    ">" => r.send(&encode_line(rest)),
                    "<" => {
                        let reply = r.read_reply();
                        out.push((step.to_string(), reply));
                    }
                    _ => panic!("bad script step {step:?}"),
                }
            }
        }
    }
    out
}

fn transcript(t: &[(String, Vec<u8>)]) -> String {
    t.iter()
        .map(|(s, r)| format!("  {s:<40} -> {}\n", show(r)))
        .collect()
}

/// A script case: steps and the expected reply of its last step.
struct Case {
    name: &'static str,
    steps: Vec<&'static str>,
    last: &'static [u8],
}

/// Every case runs on `subject` (from a clean state: FLUSHALL, active
/// expiry on) and must end with its expected reply; if `reference` is given
/// (real Redis), the whole transcript must be byte-identical. Returns the
/// list of failures (so one run reports all of them).
fn run_cases(subject: &Server, reference: Option<&Server>, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let reset = |s: &Server| {
            let mut r = s.raw();
            q(&mut r, "FLUSHALL");
            q(&mut r, "DEBUG SET-ACTIVE-EXPIRE 1");
        };
        reset(subject);
        let got = run_script(subject, &case.steps);
        let last = got.last().map(|(_, r)| r.as_slice()).unwrap_or(b"");
        if last != case.last {
            failures.push(format!(
                "[{}] last reply {} expected {}\n{}",
                case.name,
                show(last),
                show(case.last),
                transcript(&got)
            ));
        }
        if let Some(reference) = reference {
            reset(reference);
            let want = run_script(reference, &case.steps);
            if got != want {
                failures.push(format!(
                    "[{}] differs from Redis\nmemkv:\n{}redis:\n{}",
                    case.name,
                    transcript(&got),
                    transcript(&want)
                ));
            }
        }
    }
    failures
}

fn assert_no_failures(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

macro_rules! case {
    ($name:expr, [$($step:expr),* $(,)?], $last:expr) => {
        Case { name: $name, steps: vec![$($step),*], last: $last }
    };
}

// ---------------------------------------------------------------------------
// 1. Queue-time behaviour, identical to Redis 7.
// ---------------------------------------------------------------------------

const ABORTED: &[u8] = b"*-1\r\n";
const RAN: &[u8] = b"*1\r\n+PONG\r\n";

fn queue_time_cases() -> Vec<Case> {
    vec![
        case!("queued and run", ["A: MULTI", "A: SET a 1", "A: GET a", "A: EXEC"], b"*2\r\n+OK\r\n$1\r\n1\r\n"),
        case!("lower case", ["A: multi", "A: incr a", "A: exec"], b"*1\r\n:1\r\n"),
        case!("empty transaction", ["A: MULTI", "A: EXEC"], b"*0\r\n"),
        case!("exec without multi", ["A: EXEC"], b"-ERR EXEC without MULTI\r\n"),
        case!("discard without multi", ["A: DISCARD"], b"-ERR DISCARD without MULTI\r\n"),
        case!("discard drops the queue", ["A: MULTI", "A: SET a 1", "A: DISCARD", "A: GET a"], b"$-1\r\n"),
        case!("exec after discard", ["A: MULTI", "A: DISCARD", "A: EXEC"], b"-ERR EXEC without MULTI\r\n"),
        case!("unknown command aborts", ["A: MULTI", "A: NOSUCH x y", "A: SET a 1", "A: EXEC"], EXECABORT),
        case!("nothing ran after abort", ["A: MULTI", "A: SET a 1", "A: NOSUCH", "A: EXEC", "A: GET a"], b"$-1\r\n"),
        case!("wrong arity aborts", ["A: MULTI", "A: SET a 1", "A: GET", "A: EXEC"], EXECABORT),
        case!("wrong arity fixed", ["A: MULTI", "A: INCR", "A: INCR a b", "A: EXEC"], EXECABORT),
        case!("unknown subcommand aborts", ["A: MULTI", "A: CONFIG NOSUCH", "A: EXEC"], EXECABORT),
        case!("abort ends multi", ["A: MULTI", "A: NOSUCH", "A: EXEC", "A: EXEC"], b"-ERR EXEC without MULTI\r\n"),
        case!("discard after queue error", ["A: MULTI", "A: NOSUCH", "A: DISCARD"], b"+OK\r\n"),
        case!("nested multi is an error", ["A: MULTI", "A: MULTI"], b"-ERR MULTI calls can not be nested\r\n"),
        case!("nested multi does not abort", ["A: MULTI", "A: SET a 1", "A: MULTI", "A: INCR a", "A: EXEC"], b"*2\r\n+OK\r\n:2\r\n"),
        case!("watch inside multi", ["A: MULTI", "A: WATCH a"], b"-ERR WATCH inside MULTI is not allowed\r\n"),
        case!("watch inside multi does not abort", ["A: MULTI", "A: WATCH a", "A: SET a 1", "A: EXEC"], b"*1\r\n+OK\r\n"),
        case!("watch inside multi watches nothing", ["A: MULTI", "A: WATCH a", "B: SET a 1", "A: PING", "A: EXEC"], RAN),
        case!("unwatch is queued", ["A: MULTI", "A: UNWATCH", "A: EXEC"], b"*1\r\n+OK\r\n"),
        case!("watch arity", ["A: WATCH"], b"-ERR wrong number of arguments for 'watch' command\r\n"),
        case!("multi arity", ["A: MULTI x"], b"-ERR wrong number of arguments for 'multi' command\r\n"),
        // Redis rejects a malformed EXEC by discarding the transaction
        // (execCommandAbort): the error names the reason, and MULTI ends.
        case!("exec arity inside multi", ["A: MULTI", "A: SET a 1", "A: EXEC x"], b"-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"),
        case!("exec arity inside multi ends it", ["A: MULTI", "A: SET a 1", "A: EXEC x", "A: EXEC", "A: GET a"], b"$-1\r\n"),
        case!("exec arity inside multi unwatches", ["A: WATCH w", "A: MULTI", "A: EXEC x", "B: SET w 1", "A: MULTI", "A: PING", "A: EXEC"], RAN),
        case!("discard arity inside multi", ["A: MULTI", "A: DISCARD x", "A: EXEC"], EXECABORT),
        case!("watch arity inside multi", ["A: MULTI", "A: WATCH", "A: EXEC"], EXECABORT),
        case!("reset inside multi", ["A: MULTI", "A: SET a 1", "A: RESET"], b"+RESET\r\n"),
        case!("reset drops the queue", ["A: MULTI", "A: SET a 1", "A: RESET", "A: GET a"], b"$-1\r\n"),
        case!("exec after reset", ["A: MULTI", "A: RESET", "A: EXEC"], b"-ERR EXEC without MULTI\r\n"),
        case!("reset clears watches", ["A: WATCH a", "A: RESET", "B: SET a 1", "A: MULTI", "A: PING", "A: EXEC"], RAN),
        case!("select inside multi persists", ["A: MULTI", "A: SELECT 2", "A: SET a 1", "A: EXEC", "A: GET a"], b"$1\r\n1\r\n"),
        case!("runtime reply kinds", ["A: SET s x", "A: MULTI", "A: GET s", "A: GET nokey", "A: LRANGE nolist 0 -1", "A: STRLEN s", "A: EXEC"], b"*4\r\n$1\r\nx\r\n$-1\r\n*0\r\n:1\r\n"),
        case!("resp3 failed watch is null", ["A: HELLO 3", "A: SET w 1", "A: WATCH w", "B: SET w 2", "A: MULTI", "A: GET w", "A: EXEC"], b"_\r\n"),
        case!("resp3 exec", ["A: HELLO 3", "A: MULTI", "A: SET w 1", "A: GET nokey", "A: EXEC"], b"*2\r\n+OK\r\n_\r\n"),
        case!("resp2 failed watch", ["A: SET w 1", "A: WATCH w", "B: SET w 2", "A: MULTI", "A: GET w", "A: EXEC"], ABORTED),
        case!("execabort beats failed watch", ["A: WATCH w", "B: SET w 2", "A: MULTI", "A: NOSUCH", "A: EXEC"], EXECABORT),
        case!("queue error clears watches", ["A: WATCH w", "A: MULTI", "A: NOSUCH", "A: EXEC", "B: SET w 2", "A: MULTI", "A: PING", "A: EXEC"], RAN),
    ]
}

#[test]
fn queue_time_behaviour_matches_redis() {
    let m = memkv(&[]);
    let r = redis();
    let failures = run_cases(&m, r.as_ref(), &queue_time_cases());
    // CLIENT LIST shows a client inside MULTI (flags=x, multi=<queued>).
    let mut a = m.raw();
    let mut b = m.raw();
    q(&mut a, "CLIENT SETNAME txclient");
    q(&mut a, "MULTI");
    q(&mut a, "PING");
    q(&mut a, "PING");
    let list = parse(&q(&mut b, "CLIENT LIST")).text();
    let line = list.lines().find(|l| l.contains("name=txclient")).unwrap();
    assert!(
        line.contains(" flags=x ") && line.contains(" multi=2 "),
        "{line}"
    );
    q(&mut a, "DISCARD");
    let list = parse(&q(&mut b, "CLIENT LIST")).text();
    let line = list.lines().find(|l| l.contains("name=txclient")).unwrap();
    assert!(
        line.contains(" flags=N ") && line.contains(" multi=-1 "),
        "{line}"
    );
    assert_no_failures(failures);
}

/// Blocking commands inside MULTI never block (Redis answers as if they
/// timed out, even with timeout 0).
#[test]
fn blocking_commands_inside_multi_do_not_block() {
    let m = memkv(&[]);
    let r = redis();
    let steps = vec![
        "A: MULTI",
        "A: SET a 1",
        "A: BLPOP nolist 0",
        "A: BRPOP nolist 0",
        "A: BRPOPLPUSH nolist dst 0",
        "A: BLMOVE nolist dst LEFT RIGHT 0",
        "A: BLMPOP 0 1 nolist LEFT",
        "A: SET b 2",
        "A: EXEC",
    ];
    let resp2: &[u8] = b"*7\r\n+OK\r\n*-1\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n+OK\r\n";
    let mut steps3 = vec!["A: HELLO 3"];
    steps3.extend(steps.iter().copied());
    let cases = vec![
        Case {
            name: "blocking in multi (resp2)",
            steps,
            last: resp2,
        },
        Case {
            name: "blocking in multi (resp3)",
            steps: steps3,
            last: b"*7\r\n+OK\r\n_\r\n_\r\n_\r\n_\r\n_\r\n+OK\r\n",
        },
    ];
    assert_no_failures(run_cases(&m, r.as_ref(), &cases));
    // With data the same commands pop as usual inside the transaction.
    let mut a = m.raw();
    q(&mut a, "RPUSH l x y z");
    let replies = pipeline(&mut a, &["MULTI", "BLPOP l 0", "BRPOPLPUSH l l2 0", "EXEC"]);
    assert_eq!(
        show(&replies[3]),
        show(b"*2\r\n*2\r\n$1\r\nl\r\n$1\r\nx\r\n$1\r\nz\r\n")
    );
}

// ---------------------------------------------------------------------------
// 2. WATCH invalidation.
// ---------------------------------------------------------------------------

/// WATCH cases shared by the default server and `multi-rollback no`: each
/// ends with client A's `MULTI; PING; EXEC`, answering `ABORTED` (a watched
/// key changed) or `RAN`.
fn watch_cases() -> Vec<Case> {
    vec![
        // ---- invalidated ----
        case!(
            "other client SET",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: SET k 2",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "SET to the same value",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: SET k 1",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "creating a watched key",
            ["A: WATCH k", "B: SET k 1", "A: MULTI", "A: PING", "A: EXEC"],
            ABORTED
        ),
        case!(
            "own write after WATCH",
            ["A: WATCH k", "A: SET k 2", "A: MULTI", "A: PING", "A: EXEC"],
            ABORTED
        ),
        case!(
            "DEL",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: DEL k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "UNLINK",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: UNLINK k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "GETDEL",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: GETDEL k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "INCR",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: INCR k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "APPEND",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: APPEND k x",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "EXPIRE",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: EXPIRE k 100",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "PERSIST",
            [
                "B: SET k 1 EX 100",
                "A: WATCH k",
                "B: PERSIST k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "RENAME into",
            [
                "B: SET k 1",
                "B: SET o 2",
                "A: WATCH k",
                "B: RENAME o k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "RENAME into missing",
            [
                "B: SET o 2",
                "A: WATCH k",
                "B: RENAME o k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "RENAME out of",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: RENAME k o",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "RENAMENX into",
            [
                "B: SET o 2",
                "A: WATCH k",
                "B: RENAMENX o k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "FLUSHDB",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: FLUSHDB",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "FLUSHALL",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: FLUSHALL",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "FLUSHALL from another db",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: SELECT 3",
                "B: FLUSHALL",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "SWAPDB (key in watched db)",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: SWAPDB 0 1",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "SWAPDB (key in the other db)",
            [
                "B: SELECT 1",
                "B: SET k 1",
                "A: WATCH k",
                "B: SWAPDB 1 0",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "MOVE out",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: MOVE k 1",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "MOVE into",
            [
                "A: SELECT 1",
                "A: WATCH k",
                "B: SET k 1",
                "B: MOVE k 1",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "COPY into",
            [
                "B: SET o 1",
                "A: WATCH k",
                "B: COPY o k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "LPOP",
            [
                "B: RPUSH k a b",
                "A: WATCH k",
                "B: LPOP k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "LPOP of the last element",
            [
                "B: RPUSH k a",
                "A: WATCH k",
                "B: LPOP k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "BLPOP with data",
            [
                "B: RPUSH k a b",
                "A: WATCH k",
                "B: BLPOP k 0",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "LMOVE destination",
            [
                "B: RPUSH src a",
                "A: WATCH k",
                "B: LMOVE src k LEFT RIGHT",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "blocked BLMOVE served into the watched key",
            [
                "A: WATCH k",
                "C> BLMOVE src k LEFT RIGHT 0",
                "blocked 1",
                "B: RPUSH src v",
                "C<",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "blocked BLPOP pops the watched key",
            [
                "C> BLPOP k 0",
                "blocked 1",
                "B: MULTI",
                "B: RPUSH k v",
                "B: SET other 1",
                "A: WATCH k",
                "B: EXEC",
                "C<",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "HSET",
            [
                "B: HSET k f v",
                "A: WATCH k",
                "B: HSET k g w",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "HDEL",
            [
                "B: HSET k f v",
                "A: WATCH k",
                "B: HDEL k f",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "write inside another client's EXEC",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: MULTI",
                "B: INCR k",
                "B: EXEC",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "FLUSHDB inside another client's EXEC",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: MULTI",
                "B: FLUSHDB",
                "B: EXEC",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "SWAPDB inside another client's EXEC",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: MULTI",
                "B: SWAPDB 0 5",
                "B: EXEC",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "SELECT + write inside another client's EXEC",
            [
                "A: SELECT 4",
                "A: WATCH k",
                "B: MULTI",
                "B: SELECT 4",
                "B: SET k 1",
                "B: EXEC",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "one of several watched keys",
            [
                "A: WATCH a b c",
                "B: SET b 1",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "watched twice",
            [
                "A: WATCH k",
                "A: WATCH k j",
                "B: SET k 1",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "WATCH remembers the db",
            [
                "A: SELECT 2",
                "A: WATCH k",
                "A: SELECT 0",
                "B: SELECT 2",
                "B: SET k 1",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "expired by time (lazy, PTTL polling)",
            [
                "B: SET k 1 PX 300",
                "A: WATCH k",
                "gone k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "expired by time (active expiry)",
            [
                "B: SET k 1 PX 300",
                "A: WATCH k",
                "dbsize 0",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "expired by time, active expiry off, lazy GET",
            [
                "B: DEBUG SET-ACTIVE-EXPIRE 0",
                "B: SET k 1 PX 300",
                "A: WATCH k",
                "gone k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "expired by time, active expiry off, untouched",
            [
                "B: DEBUG SET-ACTIVE-EXPIRE 0",
                "B: SET k 1 PX 300",
                "A: WATCH k",
                "pass 400",
                "B: DBSIZE",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "expired by time, found by EXEC inside MULTI",
            [
                "B: DEBUG SET-ACTIVE-EXPIRE 0",
                "B: SET k 1 PX 300",
                "A: WATCH k",
                "A: MULTI",
                "A: PING",
                "pass 400",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "expired at WATCH time, then set again",
            [
                "B: DEBUG SET-ACTIVE-EXPIRE 0",
                "B: SET k 1 PX 20",
                "pass 40",
                "A: WATCH k",
                "B: SET k 2",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        case!(
            "expired while another client's WATCH",
            [
                "B: DEBUG SET-ACTIVE-EXPIRE 0",
                "B: SET k 1 PX 300",
                "A: WATCH k",
                "pass 400",
                "C: WATCH k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            ABORTED
        ),
        // ---- not invalidated ----
        case!(
            "reads",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: GET k",
                "B: EXISTS k",
                "B: TYPE k",
                "B: STRLEN k",
                "B: TTL k",
                "B: MGET k k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "writes to other keys",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: SET j 1",
                "B: DEL j2",
                "B: RPUSH kk x",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "same key in another db",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: SELECT 1",
                "B: SET k 2",
                "B: DEL k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "FLUSHDB of another db",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: SELECT 1",
                "B: FLUSHDB",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "SWAPDB of other dbs",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: SWAPDB 1 2",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "DEL of a missing key",
            ["A: WATCH k", "B: DEL k", "A: MULTI", "A: PING", "A: EXEC"],
            RAN
        ),
        case!(
            "FLUSHDB with the key missing",
            [
                "B: SET j 1",
                "A: WATCH k",
                "B: FLUSHDB",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "FLUSHALL with the key missing",
            [
                "B: SET j 1",
                "A: WATCH k",
                "B: FLUSHALL",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "SWAPDB with the key missing",
            [
                "B: SET j 1",
                "A: WATCH k",
                "B: SWAPDB 0 1",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "FLUSHDB in another client's EXEC, key missing",
            [
                "B: SET j 1",
                "A: WATCH k",
                "B: MULTI",
                "B: FLUSHDB",
                "B: EXEC",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "FLUSHALL in another client's EXEC, key missing",
            [
                "B: SET j 1",
                "A: WATCH k",
                "B: MULTI",
                "B: FLUSHALL",
                "B: EXEC",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "SWAPDB in another client's EXEC, key missing",
            [
                "B: SET j 1",
                "A: WATCH k",
                "B: MULTI",
                "B: SWAPDB 0 1",
                "B: EXEC",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "reads inside another client's EXEC",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: MULTI",
                "B: GET k",
                "B: SET j 1",
                "B: EXEC",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "expired at WATCH time (active expiry off)",
            [
                "B: DEBUG SET-ACTIVE-EXPIRE 0",
                "B: SET k 1 PX 20",
                "pass 40",
                "A: WATCH k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "expired at WATCH time, then lazily deleted",
            [
                "B: DEBUG SET-ACTIVE-EXPIRE 0",
                "B: SET k 1 PX 20",
                "pass 40",
                "A: WATCH k",
                "gone k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "expired at WATCH time, then DEL",
            [
                "B: DEBUG SET-ACTIVE-EXPIRE 0",
                "B: SET k 1 PX 20",
                "pass 40",
                "A: WATCH k",
                "B: DEL k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "expired at WATCH time (active expiry on)",
            [
                "B: SET k 1 PX 20",
                "pass 40",
                "A: WATCH k",
                "dbsize 0",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        // ---- write commands that change nothing ----
        case!(
            "PERSIST without TTL",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: PERSIST k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "SETNX on an existing key",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: SETNX k 2",
                "B: SET k 3 NX",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "SET XX on a missing key",
            [
                "A: WATCH k",
                "B: SET k 3 XX",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "MSETNX that fails",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: MSETNX j 1 k 2",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "HDEL of a missing field",
            [
                "B: HSET k f v",
                "A: WATCH k",
                "B: HDEL k nofield",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "HSETNX on an existing field",
            [
                "B: HSET k f v",
                "A: WATCH k",
                "B: HSETNX k f w",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "LREM without match",
            [
                "B: RPUSH k a",
                "A: WATCH k",
                "B: LREM k 0 zz",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "LINSERT without pivot",
            [
                "B: RPUSH k a",
                "A: WATCH k",
                "B: LINSERT k BEFORE zz x",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "LPUSHX on a missing key",
            [
                "A: WATCH k",
                "B: LPUSHX k x",
                "B: RPUSHX k x",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "LPOP of a missing key",
            [
                "A: WATCH k",
                "B: LPOP k",
                "B: RPOP k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "EXPIRE of a missing key",
            [
                "A: WATCH k",
                "B: EXPIRE k 100",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "EXPIRE NX on a key with TTL",
            [
                "B: SET k 1 EX 100",
                "A: WATCH k",
                "B: EXPIRE k 200 NX",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "SETRANGE with an empty value",
            [
                "B: SET k abc",
                "A: WATCH k",
                "B: SETRANGE k 1 \"\"",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "RENAMENX onto an existing key",
            [
                "B: SET k 1",
                "B: SET o 2",
                "A: WATCH k",
                "B: RENAMENX o k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "COPY onto an existing key",
            [
                "B: SET k 1",
                "B: SET o 2",
                "A: WATCH k",
                "B: COPY o k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "MOVE onto an existing key",
            [
                "B: SET k 1",
                "B: SELECT 1",
                "B: SET k 2",
                "A: WATCH k",
                "B: MOVE k 0",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "GETEX without options",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: GETEX k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "failed write (WRONGTYPE)",
            [
                "B: SET k 1",
                "A: WATCH k",
                "B: LPUSH k x",
                "B: HSET k f v",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "failed write (not an integer)",
            [
                "B: SET k abc",
                "A: WATCH k",
                "B: INCR k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        // ---- watches are cleared ----
        case!(
            "EXEC clears watches",
            [
                "A: WATCH k",
                "A: MULTI",
                "A: EXEC",
                "B: SET k 1",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "failed EXEC clears watches",
            [
                "A: WATCH k",
                "B: SET k 1",
                "A: MULTI",
                "A: EXEC",
                "B: SET k 2",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "DISCARD clears watches",
            [
                "A: WATCH k",
                "A: MULTI",
                "A: DISCARD",
                "B: SET k 1",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "UNWATCH clears watches",
            [
                "A: WATCH k",
                "A: UNWATCH",
                "B: SET k 1",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "UNWATCH then WATCH again",
            [
                "A: WATCH k",
                "A: UNWATCH",
                "A: WATCH j",
                "B: SET k 1",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "invalidated then UNWATCH",
            [
                "A: WATCH k",
                "B: SET k 1",
                "A: UNWATCH",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "a disconnected watcher is forgotten",
            [
                "A: WATCH k",
                "A!",
                "B: SET k 1",
                "A: WATCH k",
                "A: MULTI",
                "A: PING",
                "A: EXEC"
            ],
            RAN
        ),
        case!(
            "own queued write does not abort own EXEC",
            [
                "A: SET k 1",
                "A: WATCH k",
                "A: MULTI",
                "A: INCR k",
                "A: EXEC"
            ],
            b"*1\r\n:2\r\n"
        ),
    ]
}

#[test]
fn watch_invalidation_matches_redis() {
    let m = memkv(&[]);
    let r = redis();
    assert_no_failures(run_cases(&m, r.as_ref(), &watch_cases()));
}

/// memkv only: a transaction that was rolled back changed nothing, so it
/// invalidates nobody's WATCH (Redis has no rollback to compare with).
#[test]
fn rolled_back_transactions_do_not_invalidate_watches() {
    let m = memkv(&[]);
    let fail = "B: INCR h";
    let mk = |name: &'static str, writes: &[&'static str]| {
        let mut steps = vec![
            "B: HSET h f v",
            "B: SET k 1",
            "B: RPUSH l a",
            "A: WATCH k l",
            "B: MULTI",
        ];
        steps.extend_from_slice(writes);
        steps.extend_from_slice(&[fail, "B: EXEC", "A: MULTI", "A: PING", "A: EXEC"]);
        Case {
            name,
            steps,
            last: RAN,
        }
    };
    let cases = vec![
        mk("SET", &["B: SET k 2"]),
        mk("DEL", &["B: DEL k l"]),
        mk("LPOP", &["B: LPOP l"]),
        mk("RENAME out", &["B: RENAME k o"]),
        mk("RENAME into", &["B: SET o 1", "B: RENAME o k"]),
        mk("MOVE", &["B: MOVE k 3"]),
        mk("EXPIRE", &["B: EXPIRE k 100"]),
        mk("FLUSHDB", &["B: FLUSHDB", "B: HSET h f v"]),
        mk("FLUSHALL", &["B: FLUSHALL", "B: HSET h f v"]),
        mk("SWAPDB", &["B: SWAPDB 0 1", "B: HSET h f v"]),
        mk("SWAPDB twice", &["B: SWAPDB 0 1", "B: SWAPDB 1 0"]),
        mk(
            "SELECT + FLUSHDB",
            &[
                "B: SELECT 1",
                "B: SET k 9",
                "B: FLUSHALL",
                "B: SELECT 0",
                "B: HSET h f v",
            ],
        ),
        mk(
            "many",
            &[
                "B: SET k 2",
                "B: DEL k",
                "B: RPUSH l b",
                "B: SET l x",
                "B: SET k 3 EX 100",
            ],
        ),
    ];
    let mut failures = run_cases(&m, None, &cases);
    // The watcher's own rolled-back EXEC clears its watches like any EXEC.
    let own = Case {
        name: "own rolled-back EXEC clears watches",
        steps: vec![
            "A: HSET h f v",
            "A: WATCH k",
            "A: MULTI",
            "A: SET k 1",
            "A: INCR h",
            "A: EXEC",
            "B: SET k 2",
            "A: MULTI",
            "A: PING",
            "A: EXEC",
        ],
        last: RAN,
    };
    failures.extend(run_cases(&m, None, &[own]));
    // The rolled-back transaction did answer EXECABORT each time.
    let t = run_script(
        &m,
        &[
            "B: HSET h f v",
            "A: WATCH k",
            "B: MULTI",
            "B: SET k 2",
            fail,
            "B: EXEC",
        ],
    );
    let last = &t.last().unwrap().1;
    if *last != rolled_back(2, "INCR", WRONGTYPE) {
        failures.push(format!("rollback reply {}", show(last)));
    }
    assert_no_failures(failures);
}

// ---------------------------------------------------------------------------
// 3. Rollback (memkv's default, `multi-rollback yes`).
// ---------------------------------------------------------------------------

/// A populated dataset: strings, integers, floats, lists and hashes, with
/// and without TTLs, in databases 0 and 1 (2 and 3 empty).
const POPULATE: &[&str] = &[
    "FLUSHALL",
    "SET s1 hello",
    "SET s2 world EX 5000",
    "SET n1 10",
    "SET n2 -3 PX 9000000",
    "SET f1 1.5",
    "SET big 9223372036854775807",
    "RPUSH l1 a b c d e",
    "RPUSH l2 x y z",
    "PEXPIRE l2 8000000",
    "HSET h1 f1 1 f2 two f3 3.5",
    "HSET h2 a 1 b 2",
    "EXPIRE h2 7000",
    "SADD st1 1 2 3",
    "SADD st2 a b 3",
    "SADD st3 x",
    "EXPIRE st2 6500",
    "ZADD z1 1 a 2 b 3 c 4.5 d",
    "ZADD z2 0 x 0 y 0 z",
    "PEXPIRE z2 6500000",
    "GEOADD g1 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
    "PFADD hll1 a b c",
    "XADD x1 1-1 a 1",
    "XADD x1 2-0 b 2",
    "XADD x1 3-0 c 3",
    "XGROUP CREATE x1 g1 0",
    "XREADGROUP GROUP g1 c1 COUNT 2 STREAMS x1 >",
    "SELECT 1",
    "SET s1 other-db",
    "RPUSH l1 q w",
    "HSET h9 k v",
    "SET t9 v EX 6000",
    "SELECT 0",
    "FUNCTION FLUSH",
    "FUNCTION LOAD \"#!lua name=txlib\nredis.register_function('txf', function() return 1 end)\"",
];
const DBS: usize = 4;

fn populate(r: &mut Raw) {
    for reply in pipeline(r, POPULATE) {
        assert!(!reply.starts_with(b"-"), "populate: {}", show(&reply));
    }
}

/// Sends `MULTI`, the commands and `EXEC` pipelined; checks the QUEUED
/// replies and returns EXEC's reply.
fn transaction<S: AsRef<str>>(r: &mut Raw, cmds: &[S]) -> Vec<u8> {
    let mut lines = vec!["MULTI".to_string()];
    lines.extend(cmds.iter().map(|c| c.as_ref().to_string()));
    lines.push("EXEC".to_string());
    let mut replies = pipeline(r, &lines);
    assert_eq!(show(&replies[0]), show(b"+OK\r\n"), "MULTI");
    for (i, rep) in replies[1..replies.len() - 1].iter().enumerate() {
        assert_eq!(
            show(rep),
            show(b"+QUEUED\r\n"),
            "queueing {}",
            cmds[i].as_ref()
        );
    }
    replies.pop().unwrap()
}

#[test]
fn rollback_error_names_command_position_and_error() {
    let m = memkv(&[]);
    let mut r = m.raw();
    let notint = "ERR value is not an integer or out of range";
    // (commands, failing position, command name, error text)
    let cases: &[(&[&str], usize, &str, &str)] = &[
        (&["SET a 1", "INCR h1"], 2, "INCR", WRONGTYPE),
        (&["INCR h1", "SET a 1"], 1, "INCR", WRONGTYPE),
        (&["incrby n1 notanumber"], 1, "INCRBY", notint),
        (&["SET a 1", "SET b 2", "INCR s1"], 3, "INCR", notint),
        (
            &["SET s9 v EX 0"],
            1,
            "SET",
            "ERR invalid expire time in 'set' command",
        ),
        (&["SET a b NX XX"], 1, "SET", "ERR syntax error"),
        (
            &["SET a 1", "SELECT 99"],
            2,
            "SELECT",
            "ERR DB index is out of range",
        ),
        (&["LSET nolist 0 v"], 1, "LSET", "ERR no such key"),
        (&["LSET l1 100 v"], 1, "LSET", "ERR index out of range"),
        (
            &["INCRBY big 1"],
            1,
            "INCRBY",
            "ERR increment or decrement would overflow",
        ),
        (
            &["HINCRBYFLOAT h1 f2 1"],
            1,
            "HINCRBYFLOAT",
            "ERR hash value is not a float",
        ),
        (
            &["HINCRBY h1 f2 1"],
            1,
            "HINCRBY",
            "ERR hash value is not an integer",
        ),
        (&["RENAME nokey x"], 1, "RENAME", "ERR no such key"),
        (&["LPUSH s1 x"], 1, "LPUSH", WRONGTYPE),
        (&["DEBUG ERROR boom"], 1, "DEBUG", "boom"),
        (
            &[
                "SET a 1",
                "SET b 1",
                "SET c 1",
                "SET d 1",
                "SET e 1",
                "SET f 1",
                "SET g 1",
                "SET h 1",
                "SET i 1",
                "SET j 1",
                "HGET s1 x",
            ],
            11,
            "HGET",
            WRONGTYPE,
        ),
    ];
    let mut failures = Vec::new();
    for (cmds, pos, name, err) in cases {
        populate(&mut r);
        let before = snapshot(&m, DBS);
        let got = transaction(&mut r, cmds);
        let want = rolled_back(*pos, name, err);
        if got != want {
            failures.push(format!("{cmds:?}: got {} want {}", show(&got), show(&want)));
        }
        if snapshot(&m, DBS) != before {
            failures.push(format!("{cmds:?}: data changed"));
        }
        // The transaction is over.
        let after = q(&mut r, "EXEC");
        if after != b"-ERR EXEC without MULTI\r\n" {
            failures.push(format!("{cmds:?}: EXEC afterwards {}", show(&after)));
        }
    }
    // A failing subcommand is named container|sub.
    let got = transaction(&mut r, &["SET a 1", "CONFIG SET nosuch x"]);
    let prefix = b"-EXECABORT Transaction rolled back: command #2 (CONFIG|SET) failed: ERR ";
    if !got.starts_with(prefix) {
        failures.push(format!("CONFIG SET: {}", show(&got)));
    }
    assert_no_failures(failures);
}

#[test]
fn rollback_restores_everything_across_databases() {
    let m = memkv(&[]);
    let mut r = m.raw();
    populate(&mut r);
    let before = snapshot(&m, DBS);
    let cmds = [
        "SET s1 changed",
        "DEL s2",
        "SET newkey v EX 100",
        "EXPIRE l1 500",
        "PERSIST l2",
        "PEXPIRE s1 123456",
        "RPUSH l1 z",
        "LPOP l2",
        "HSET h1 f9 v",
        "HDEL h2 a b",
        "RENAME h1 h1renamed",
        "MOVE n1 1",
        "SET l1 nowstring",
        "INCR n2",
        "APPEND f1 0",
        "SELECT 1",
        "SET s1 db1changed",
        "DEL l1",
        "COPY h9 h9copy DB 2",
        "SELECT 2",
        "SET x y",
        "SWAPDB 0 2",
        "FLUSHDB",
        "SELECT 0",
        "SET between flushes",
        "FLUSHALL",
        "SET after flush",
        "SWAPDB 1 3",
        "RPUSH l1 x",
        "SET s1 again",
        "HSET zz:fail f v",
        "INCR zz:fail",
    ];
    let got = transaction(&mut r, &cmds);
    assert_eq!(
        show(&got),
        show(&rolled_back(cmds.len(), "INCR", WRONGTYPE))
    );
    let after = snapshot(&m, DBS);
    assert_eq!(after.0, before.0, "DEBUG DIGEST changed");
    assert_eq!(after.1, before.1, "keys, values, types or TTLs changed");
    // Same again, but the failure comes right after a FLUSHALL / SWAPDB.
    let tails: [&[&str]; 2] = [
        &["FLUSHALL", "HSET zz f v", "INCR zz"],
        // db 1 now holds db 0's data, h1 included.
        &["SWAPDB 0 1", "INCR h1"],
    ];
    for tail in tails {
        let mut cmds = vec!["SELECT 0", "SET s1 x", "SELECT 1", "SET s1 y"];
        cmds.extend_from_slice(tail);
        let got = transaction(&mut r, &cmds);
        assert!(
            got.starts_with(b"-EXECABORT Transaction rolled back"),
            "{}",
            show(&got)
        );
        q(&mut r, "SELECT 0");
        let after = snapshot(&m, DBS);
        assert_eq!(after, before, "after {tail:?}");
    }
}

#[test]
fn rollback_restores_keys_that_were_expired_but_present() {
    let m = memkv(&[]);
    let mut r = m.raw();
    populate(&mut r);
    q(&mut r, "DEBUG SET-ACTIVE-EXPIRE 0");
    q(&mut r, "SET e1 v PX 10");
    q(&mut r, "RPUSH e2 a b");
    q(&mut r, "PEXPIRE e2 10");
    let t0 = server_ms(&mut r);
    wait_for("expiry time", || server_ms(&mut r) > t0 + 30);
    let size = qs(&mut r, "DBSIZE");
    let d = digest(&mut r);
    // Touching the expired keys deletes them (lazily) inside the
    // transaction; the rollback puts everything back as it was.
    let got = transaction(&mut r, &["GET e1", "RPUSH e2 c", "SET e1 new", "INCR h1"]);
    assert_eq!(show(&got), show(&rolled_back(4, "INCR", WRONGTYPE)));
    assert_eq!(qs(&mut r, "DBSIZE"), size);
    assert_eq!(digest(&mut r), d);
    // And they are still logically gone.
    assert_eq!(qs(&mut r, "GET e1"), "$-1\r\n");
    assert_eq!(qs(&mut r, "LLEN e2"), ":0\r\n");
}

#[test]
fn rollback_of_repeated_writes_to_one_key() {
    let m = memkv(&[]);
    let mut r = m.raw();
    populate(&mut r);
    let before = snapshot(&m, DBS);
    let cmds = [
        "SET s1 a",
        "APPEND s1 b",
        "DEL s1",
        "RPUSH s1 x",
        "DEL s1",
        "HSET s1 f v",
        "DEL s1",
        "SET s1 c EX 10",
        "PERSIST s1",
        "RENAME s1 s2",
        "RENAME s2 s1",
        "INCR h1",
    ];
    let got = transaction(&mut r, &cmds);
    assert_eq!(
        show(&got),
        show(&rolled_back(cmds.len(), "INCR", WRONGTYPE))
    );
    assert_eq!(snapshot(&m, DBS), before);
    // Afterwards transactions work normally and commit.
    let got = transaction(&mut r, &["SET s1 committed", "INCR n1", "GET s1"]);
    assert_eq!(show(&got), show(b"*3\r\n+OK\r\n:11\r\n$9\r\ncommitted\r\n"));
}

/// A transaction past the journal's fingerprint scan (32 keys; then a hash
/// set), writing keys twice, over existing and new keys, with names that
/// differ only in the middle (same fingerprint): undone exactly, and when
/// it commits every write stays.
#[test]
fn rollback_of_many_keys_written_twice() {
    let m = memkv(&[]);
    let mut r = m.raw();
    populate(&mut r);
    pipeline(&mut r, &["SET abcdefgh-07-stuvwxyz old", "SET many:3 old"]);
    let before = snapshot(&m, DBS);
    let mut cmds = Vec::new();
    for pass in ["a", "b"] {
        for i in 0..40 {
            cmds.push(format!("SET many:{i} {pass}"));
            cmds.push(format!("SET abcdefgh-{i:02}-stuvwxyz {pass}"));
        }
        cmds.push(format!("SET s1 {pass}"));
    }
    cmds.push("INCR h1".to_string());
    let got = transaction(&mut r, &cmds);
    assert_eq!(
        show(&got),
        show(&rolled_back(cmds.len(), "INCR", WRONGTYPE))
    );
    assert_eq!(snapshot(&m, DBS), before);
    cmds.pop();
    transaction(&mut r, &cmds);
    for key in ["many:0", "many:39", "abcdefgh-07-stuvwxyz", "s1"] {
        assert_eq!(qs(&mut r, &format!("GET {key}")), "$1\r\nb\r\n", "{key}");
    }
}

/// A client blocked on a key is not served by a push that is rolled back.
#[test]
fn rollback_does_not_wake_blocked_clients() {
    let m = memkv(&[]);
    let t = run_script(
        &m,
        &[
            "B: HSET h f v",
            "C> BLPOP l 0",
            "blocked 1",
            "B: MULTI",
            "B: LPUSH l rolled-back",
            "B: INCR h",
            "B: EXEC",
            "B: LLEN l",
            "B: INFO clients",
            "D: RPUSH l real",
            "C<",
        ],
    );
    assert_eq!(show(&t[4].1), show(&rolled_back(2, "INCR", WRONGTYPE)));
    assert_eq!(show(&t[5].1), show(b":0\r\n"));
    let info = parse(&t[6].1).text();
    assert!(info.contains("blocked_clients:1"), "{info}");
    assert_eq!(show(&t[8].1), show(b"*2\r\n$1\r\nl\r\n$4\r\nreal\r\n"));
}

#[test]
fn multi_rollback_directive_and_config_set() {
    let m = memkv(&[]);
    let mut r = m.raw();
    assert_eq!(
        show(&q(&mut r, "CONFIG GET multi-rollback")),
        show(b"*2\r\n$14\r\nmulti-rollback\r\n$3\r\nyes\r\n")
    );
    q(&mut r, "HSET h f v");
    let cmds = ["SET a 1", "INCR h", "SET b 2"];
    assert_eq!(
        show(&transaction(&mut r, &cmds)),
        show(&rolled_back(2, "INCR", WRONGTYPE))
    );
    assert_eq!(qs(&mut r, "MGET a b"), "*2\r\n$-1\r\n$-1\r\n");
    assert_eq!(qs(&mut r, "CONFIG SET multi-rollback no"), "+OK\r\n");
    let redis_like = format!("*3\r\n+OK\r\n-{WRONGTYPE}\r\n+OK\r\n");
    assert_eq!(
        show(&transaction(&mut r, &cmds)),
        show(redis_like.as_bytes())
    );
    assert_eq!(qs(&mut r, "MGET a b"), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(qs(&mut r, "CONFIG SET multi-rollback yes"), "+OK\r\n");
    q(&mut r, "DEL a b");
    assert_eq!(
        show(&transaction(&mut r, &cmds)),
        show(&rolled_back(2, "INCR", WRONGTYPE))
    );
    assert_eq!(qs(&mut r, "MGET a b"), "*2\r\n$-1\r\n$-1\r\n");
    // The directive at startup.
    let m2 = memkv(&["--multi-rollback", "no"]);
    let mut r2 = m2.raw();
    assert_eq!(
        show(&q(&mut r2, "CONFIG GET multi-rollback")),
        show(b"*2\r\n$14\r\nmulti-rollback\r\n$2\r\nno\r\n")
    );
    q(&mut r2, "HSET h f v");
    assert_eq!(
        show(&transaction(&mut r2, &cmds)),
        show(redis_like.as_bytes())
    );
}

// ---------------------------------------------------------------------------
// 4. Every write command of the server's table, rolled back and committed.
// ---------------------------------------------------------------------------

/// Example invocations of every write command, against [`POPULATE`]'s
/// data, each valid on its own (no errors, no blocking). A write command in
/// the server's table without an entry here fails the test: add one.
const WRITE_EXAMPLES: &[(&str, &[&str])] = &[
    ("xack", &["XACK x1 g1 1-1 2-0"]),
    (
        "xadd",
        &[
            "XADD x1 5-0 f v",
            "XADD x1 MAXLEN 1 9-0 f v",
            "XADD xnew 1-* f v",
        ],
    ),
    ("xautoclaim", &["XAUTOCLAIM x1 g1 c2 0 0"]),
    (
        "xclaim",
        &[
            "XCLAIM x1 g1 c2 0 1-1",
            "XCLAIM x1 g1 c3 0 3-0 FORCE JUSTID",
        ],
    ),
    ("xdel", &["XDEL x1 2-0 3-0"]),
    (
        "xgroup|create",
        &["XGROUP CREATE x1 g2 $", "XGROUP CREATE xnew g $ MKSTREAM"],
    ),
    ("xgroup|createconsumer", &["XGROUP CREATECONSUMER x1 g1 c9"]),
    ("xgroup|delconsumer", &["XGROUP DELCONSUMER x1 g1 c1"]),
    ("xgroup|destroy", &["XGROUP DESTROY x1 g1"]),
    ("xgroup|setid", &["XGROUP SETID x1 g1 0 ENTRIESREAD 0"]),
    (
        "xreadgroup",
        &[
            "XREADGROUP GROUP g1 c2 STREAMS x1 >",
            "XREADGROUP GROUP g1 c1 STREAMS x1 0",
        ],
    ),
    ("xsetid", &["XSETID x1 10-0 ENTRIESADDED 7"]),
    ("xtrim", &["XTRIM x1 MAXLEN 1", "XTRIM x1 MINID ~ 2"]),
    (
        "setbit",
        &["SETBIT s1 3 1", "SETBIT s2 100 1", "SETBIT newbits 7 1"],
    ),
    (
        "bitop",
        &[
            "BITOP AND dst s1 s2",
            "BITOP OR s2 s1 nokey",
            "BITOP XOR s1 nokey nokey2",
        ],
    ),
    (
        "bitfield",
        &[
            "BITFIELD s1 INCRBY u8 0 1 GET i4 4",
            "BITFIELD newbf OVERFLOW SAT SET i8 #3 -300",
        ],
    ),
    (
        "pfadd",
        &["PFADD hll1 x y z", "PFADD hll1 a", "PFADD newhll"],
    ),
    ("pfmerge", &["PFMERGE hll2 hll1 nokey", "PFMERGE hll1"]),
    ("pfdebug", &["PFDEBUG TODENSE hll1", "PFDEBUG GETREG hll1"]),
    ("sadd", &["SADD st1 4 x", "SADD newset a", "SADD st2 a"]),
    ("srem", &["SREM st1 1 9", "SREM st3 x", "SREM st2 zz"]),
    ("spop", &["SPOP st3", "SPOP st1 5", "SPOP st2 0"]),
    (
        "smove",
        &["SMOVE st1 st2 1", "SMOVE st3 newset x", "SMOVE st2 st2 a"],
    ),
    (
        "sinterstore",
        &["SINTERSTORE st1 st1 st2", "SINTERSTORE out st1 nokey"],
    ),
    (
        "sunionstore",
        &["SUNIONSTORE out st1 st2", "SUNIONSTORE st3 st1"],
    ),
    (
        "sdiffstore",
        &["SDIFFSTORE s1 st1 st2", "SDIFFSTORE st2 st2 st2"],
    ),
    (
        "sort",
        &[
            "SORT l1 ALPHA DESC STORE sorted",
            "SORT st2 BY nosort STORE l2",
            "SORT st1",
        ],
    ),
    (
        "append",
        &["APPEND s1 xyz", "APPEND newstr abc", "APPEND s2 !"],
    ),
    (
        "blmove",
        &["BLMOVE l1 l2 LEFT RIGHT 0", "BLMOVE l2 newl RIGHT LEFT 1"],
    ),
    (
        "blmpop",
        &[
            "BLMPOP 0 2 nolist l1 LEFT COUNT 2",
            "BLMPOP 1 1 l2 RIGHT COUNT 10",
        ],
    ),
    ("blpop", &["BLPOP nolist l1 0"]),
    ("brpop", &["BRPOP l2 0"]),
    (
        "brpoplpush",
        &["BRPOPLPUSH l1 l1 0", "BRPOPLPUSH l2 newl 0"],
    ),
    (
        "copy",
        &[
            "COPY s2 s2copy",
            "COPY l1 l2 REPLACE",
            "COPY h2 h2 DB 1",
            "COPY s1 s1 DB 1 REPLACE",
        ],
    ),
    // The payload is DUMP of the string "v361", whose bytes happen to be
    // all ASCII without spaces or quotes (so it fits a script line).
    (
        "restore",
        &[
            "RESTORE restored 0 \u{0}\u{4}v361\n\u{0}3%Hpy\u{16}6i",
            "RESTORE s1 100000 \u{0}\u{4}v361\n\u{0}3%Hpy\u{16}6i REPLACE",
        ],
    ),
    ("decr", &["DECR n1", "DECR newnum"]),
    ("decrby", &["DECRBY n2 100"]),
    ("del", &["DEL s1 l1 h2 nokey"]),
    (
        "expire",
        &["EXPIRE s1 100", "EXPIRE s2 0", "EXPIRE h1 100 NX"],
    ),
    ("expireat", &["EXPIREAT l1 99999999999", "EXPIREAT n1 1"]),
    ("flushall", &["FLUSHALL", "FLUSHALL ASYNC", "FLUSHALL SYNC"]),
    ("flushdb", &["FLUSHDB", "FLUSHDB ASYNC"]),
    (
        "function|load",
        &[
            "FUNCTION LOAD \"#!lua name=txlib2\nredis.register_function('txg', function() return 2 end)\"",
            "FUNCTION LOAD REPLACE \"#!lua name=txlib\nredis.register_function('txh', function() return 3 end)\"",
        ],
    ),
    ("function|delete", &["FUNCTION DELETE txlib"]),
    (
        "function|flush",
        &["FUNCTION FLUSH", "FUNCTION FLUSH ASYNC"],
    ),
    ("getdel", &["GETDEL s2"]),
    (
        "getex",
        &["GETEX s1 EX 100", "GETEX s2 PERSIST", "GETEX n1 PXAT 1"],
    ),
    ("getset", &["GETSET s2 new", "GETSET newstr v"]),
    ("hdel", &["HDEL h1 f1 nofield", "HDEL h2 a b"]),
    ("hincrby", &["HINCRBY h1 f1 5", "HINCRBY newh c 1"]),
    ("hincrbyfloat", &["HINCRBYFLOAT h1 f3 0.25"]),
    ("hmset", &["HMSET h1 f1 x f9 y"]),
    ("hset", &["HSET h2 c 3", "HSET newh a 1 b 2"]),
    ("hsetnx", &["HSETNX h1 f1 z", "HSETNX h1 new z"]),
    ("incr", &["INCR n1", "INCR n2"]),
    ("incrby", &["INCRBY n2 7"]),
    (
        "incrbyfloat",
        &["INCRBYFLOAT f1 2.25", "INCRBYFLOAT n2 1.5"],
    ),
    (
        "linsert",
        &["LINSERT l1 BEFORE c X", "LINSERT l2 AFTER z last"],
    ),
    (
        "lmove",
        &["LMOVE l1 l2 RIGHT LEFT", "LMOVE l2 l2 LEFT RIGHT"],
    ),
    ("lmpop", &["LMPOP 2 nolist l2 LEFT COUNT 3"]),
    ("lpop", &["LPOP l1", "LPOP l2 10"]),
    ("lpush", &["LPUSH l1 p q", "LPUSH newl v"]),
    ("lpushx", &["LPUSHX l2 v", "LPUSHX nolist v"]),
    ("lrem", &["LREM l1 0 c"]),
    ("lset", &["LSET l1 -1 Z"]),
    ("ltrim", &["LTRIM l1 1 2", "LTRIM l2 5 10"]),
    ("move", &["MOVE s2 2", "MOVE h1 1"]),
    ("mset", &["MSET s1 a s2 b new c"]),
    ("msetnx", &["MSETNX x1 a x2 b"]),
    ("persist", &["PERSIST s2"]),
    ("pexpire", &["PEXPIRE s1 100000"]),
    ("pexpireat", &["PEXPIREAT h1 99999999999999"]),
    ("psetex", &["PSETEX s1 100000 v"]),
    ("rename", &["RENAME s2 l1", "RENAME h1 brandnew"]),
    ("renamenx", &["RENAMENX l1 fresh", "RENAMENX l1 l2"]),
    ("rpop", &["RPOP l1 2"]),
    ("rpoplpush", &["RPOPLPUSH l2 l1"]),
    ("rpush", &["RPUSH l1 z", "RPUSH newl a b"]),
    ("rpushx", &["RPUSHX l2 v"]),
    (
        "set",
        &[
            "SET s1 v",
            "SET s2 v KEEPTTL",
            "SET l1 v",
            "SET new v EX 100",
            "SET s1 v NX GET",
            "SET s1 v XX PX 100000 GET",
        ],
    ),
    ("setex", &["SETEX s1 100 v"]),
    ("setnx", &["SETNX s1 v", "SETNX newstr v"]),
    ("setrange", &["SETRANGE s1 10 xyz", "SETRANGE newstr 3 ab"]),
    ("swapdb", &["SWAPDB 0 1", "SWAPDB 1 2"]),
    ("unlink", &["UNLINK s1 h1 l2"]),
    ("bzmpop", &["BZMPOP 0 2 nozset z1 MAX COUNT 2"]),
    ("bzpopmax", &["BZPOPMAX z1 0"]),
    ("bzpopmin", &["BZPOPMIN nozset z2 0"]),
    (
        "geoadd",
        &["GEOADD g1 CH 13 38 Palermo 1 2 new", "GEOADD newg 1 1 p"],
    ),
    (
        "georadius",
        &[
            "GEORADIUS g1 15 37 200 km STORE gd",
            "GEORADIUS g1 15 37 100 km STOREDIST z1",
        ],
    ),
    (
        "georadiusbymember",
        &["GEORADIUSBYMEMBER g1 Palermo 500 km STORE gd"],
    ),
    (
        "geosearchstore",
        &[
            "GEOSEARCHSTORE gd g1 FROMLONLAT 15 37 BYBOX 400 400 km",
            "GEOSEARCHSTORE z1 g1 FROMMEMBER Palermo BYRADIUS 1 m STOREDIST",
        ],
    ),
    (
        "zadd",
        &["ZADD z1 9 a 10 new", "ZADD newz 1 m", "ZADD z2 INCR 1 x"],
    ),
    (
        "zdiffstore",
        &["ZDIFFSTORE zd 2 z1 z2", "ZDIFFSTORE z2 1 z1"],
    ),
    ("zincrby", &["ZINCRBY z1 0.5 a", "ZINCRBY newz 1 m"]),
    (
        "zinterstore",
        &[
            "ZINTERSTORE zd 2 z1 z1 WEIGHTS 1 2",
            "ZINTERSTORE z1 2 z1 z2",
        ],
    ),
    ("zmpop", &["ZMPOP 2 nozset z1 MIN COUNT 2"]),
    ("zpopmax", &["ZPOPMAX z1", "ZPOPMAX z2 10"]),
    ("zpopmin", &["ZPOPMIN z1 2"]),
    (
        "zrangestore",
        &["ZRANGESTORE zd z1 0 1", "ZRANGESTORE z2 z1 (1 +inf BYSCORE"],
    ),
    ("zrem", &["ZREM z1 a b c d", "ZREM z2 x nope"]),
    ("zremrangebylex", &["ZREMRANGEBYLEX z2 [x (z"]),
    ("zremrangebyrank", &["ZREMRANGEBYRANK z1 0 1"]),
    ("zremrangebyscore", &["ZREMRANGEBYSCORE z1 -inf +inf"]),
    (
        "zunionstore",
        &[
            "ZUNIONSTORE zd 2 z1 z2 AGGREGATE MAX",
            "ZUNIONSTORE z1 1 nozset",
        ],
    ),
];

/// Names of the commands (and `container|sub` subcommands) whose COMMAND
/// INFO flags include `flag`, from the server itself.
fn commands_flagged(r: &mut Raw, flag: &str) -> Vec<String> {
    fn walk(entries: &[V], flag: &str, out: &mut Vec<String>) {
        for e in entries {
            let e = e.arr();
            let has = e[2].arr().iter().any(|f| f.text() == flag);
            if has {
                out.push(e[0].text().to_ascii_lowercase());
            }
            if let Some(subs) = e.get(9) {
                walk(subs.arr(), flag, out);
            }
        }
    }
    let table = parse(&q(r, "COMMAND INFO"));
    assert!(
        table.arr().len() > 50,
        "COMMAND INFO lists the command table"
    );
    let mut out = Vec::new();
    walk(table.arr(), flag, &mut out);
    out.sort();
    out
}

#[test]
fn every_write_command_rolls_back_and_commits_like_outside_multi() {
    let m = memkv(&[]);
    let mut r = m.raw();
    let writes = commands_flagged(&mut r, "write");
    assert!(writes.contains(&"set".to_string()), "{writes:?}");
    let examples: HashMap<&str, &[&str]> = WRITE_EXAMPLES.iter().copied().collect();
    // FUNCTION RESTORE's payload is binary (these examples are text lines):
    // its rollback is tested in tests/functions.rs. MIGRATE waits for the
    // network, which a transaction's one step cannot: memkv refuses it
    // inside MULTI (tests/migrate.rs).
    let writes: Vec<String> = writes
        .into_iter()
        .filter(|w| w != "function|restore" && w != "migrate")
        .collect();
    let missing: Vec<&String> = writes
        .iter()
        .filter(|w| !examples.contains_key(w.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "write commands without an example in WRITE_EXAMPLES (add one): {missing:?}"
    );
    let mut failures = Vec::new();
    let mut runs = 0;
    for name in &writes {
        for example in examples[name.as_str()] {
            runs += 1;
            // Rolled back: the data is exactly as before.
            populate(&mut r);
            let before = snapshot(&m, DBS);
            let got = transaction(&mut r, &[example, "HSET zz:fail f v", "INCR zz:fail"]);
            let want = rolled_back(3, "INCR", WRONGTYPE);
            if got != want {
                failures.push(format!("{example}: EXEC answered {}", show(&got)));
            }
            let after = snapshot(&m, DBS);
            if after.0 != before.0 {
                failures.push(format!(
                    "{example}: DEBUG DIGEST changed by a rolled-back transaction"
                ));
            }
            if after.1 != before.1 {
                failures.push(format!(
                    "{example}: data changed by a rolled-back transaction\nbefore {:?}\nafter  {:?}",
                    before.1, after.1
                ));
            }
            // Committed: same replies and data as outside a transaction.
            populate(&mut r);
            let in_multi = transaction(&mut r, &[example]);
            let d_multi = digest(&mut r);
            let dump_multi = dump(&m, DBS, Ttl::Class);
            populate(&mut r);
            let direct = q(&mut r, example);
            let d_direct = digest(&mut r);
            let dump_direct = dump(&m, DBS, Ttl::Class);
            if direct.starts_with(b"-") {
                failures.push(format!(
                    "{example}: the example itself fails: {}",
                    show(&direct)
                ));
            }
            let mut want = b"*1\r\n".to_vec();
            want.extend_from_slice(&direct);
            if in_multi != want {
                failures.push(format!(
                    "{example}: EXEC {} but alone {}",
                    show(&in_multi),
                    show(&direct)
                ));
            }
            if d_multi != d_direct || dump_multi != dump_direct {
                failures.push(format!(
                    "{example}: committed transaction differs from running it alone\nmulti  {dump_multi:?}\ndirect {dump_direct:?}"
                ));
            }
        }
    }
    println!("{} write commands, {runs} examples", writes.len());
    assert_no_failures(failures);
}

// ---------------------------------------------------------------------------
// 5. Randomized transactions (seeded; MEMKV_SEED replays).
// ---------------------------------------------------------------------------

/// Key families; in "typed" generation a family's keys only ever hold one
/// type (s: text, n: integers, f: floats, l: lists, h: hashes), so the
/// generated commands cannot fail by accident.
const FAMILIES: &[&str] = &["s", "n", "f", "l", "h"];
const VALUES: &[&str] = &["a", "b", "c", "d", "e"];

fn gen_key(rng: &mut Rng, fam: &str) -> String {
    format!("{fam}{}", rng.below(4))
}

/// Random setup commands for databases 0 and 1.
fn gen_setup(rng: &mut Rng) -> Vec<String> {
    let mut out = vec!["FLUSHALL".to_string()];
    for db in 0..2 {
        out.push(format!("SELECT {db}"));
        for fam in FAMILIES {
            for i in 0..4 {
                if !rng.chance(70) {
                    continue;
                }
                let k = format!("{fam}{i}");
                out.push(match *fam {
                    "s" => format!("SET {k} {}{}", rng.pick(VALUES), rng.below(1000)),
                    "n" => format!("SET {k} {}", rng.range(-100, 100)),
                    "f" => format!("SET {k} {}.5", rng.range(-10, 10)),
                    "l" => {
                        let n = rng.range(1, 6);
                        let vals: Vec<&str> = (0..n).map(|_| rng.pick(VALUES)).collect();
                        format!("RPUSH {k} {}", vals.join(" "))
                    }
                    _ => format!(
                        "HSET {k} f0 {} c {} x 0.5",
                        rng.pick(VALUES),
                        rng.range(-9, 9)
                    ),
                });
                if rng.chance(30) {
                    out.push(format!("EXPIRE {k} {}", rng.range(5000, 9000)));
                }
            }
        }
    }
    out.push("SELECT 0".to_string());
    out
}

/// One random command. `typed`: only commands that cannot fail (see
/// [`FAMILIES`]); otherwise any family goes with any command, so WRONGTYPE,
/// not-an-integer and friends happen. `db` tracks SELECT inside the
/// transaction (for MOVE / COPY targets).
fn gen_command(rng: &mut Rng, db: &mut usize, typed: bool) -> String {
    let mut fam = |want: &'static str| -> &'static str {
        if typed {
            want
        } else {
            FAMILIES[rng.below(FAMILIES.len() as u64) as usize]
        }
    };
    let s = fam("s");
    let n = fam("n");
    let f = fam("f");
    let l = fam("l");
    let h = fam("h");
    let any = FAMILIES[rng.below(FAMILIES.len() as u64) as usize];
    let other = 1 - *db;
    let v = rng.pick(VALUES);
    match rng.below(40) {
        0 => {
            let opt = rng.pick(&["", "EX 9000", "PX 8000000", "KEEPTTL", "NX", "XX", "GET"]);
            format!("SET {} {v}{} {opt}", gen_key(rng, s), rng.below(100))
        }
        1 => format!("APPEND {} {v}", gen_key(rng, s)),
        2 => format!("SETRANGE {} {} {v}", gen_key(rng, s), rng.below(8)),
        3 => format!("GETDEL {}", gen_key(rng, s)),
        4 => format!(
            "GETEX {} {}",
            gen_key(rng, s),
            rng.pick(&["", "PERSIST", "EX 9000"])
        ),
        5 => format!("MSET {} {v} {} x", gen_key(rng, s), gen_key(rng, s)),
        6 => format!("INCRBY {} {}", gen_key(rng, n), rng.range(-50, 50)),
        7 => format!("{} {}", rng.pick(&["INCR", "DECR"]), gen_key(rng, n)),
        8 => format!("SET {} {}", gen_key(rng, n), rng.range(-100, 100)),
        9 => format!("INCRBYFLOAT {} 1.5", gen_key(rng, f)),
        10 => format!(
            "{} {} {v} {}",
            rng.pick(&["LPUSH", "RPUSH"]),
            gen_key(rng, l),
            rng.pick(VALUES)
        ),
        11 => format!(
            "{} {} {}",
            rng.pick(&["LPOP", "RPOP"]),
            gen_key(rng, l),
            rng.range(1, 3)
        ),
        12 => format!(
            "LMOVE {} {} {} {}",
            gen_key(rng, l),
            gen_key(rng, l),
            rng.pick(&["LEFT", "RIGHT"]),
            rng.pick(&["LEFT", "RIGHT"])
        ),
        13 => format!("RPOPLPUSH {} {}", gen_key(rng, l), gen_key(rng, l)),
        14 => format!(
            "LTRIM {} {} {}",
            gen_key(rng, l),
            rng.range(0, 2),
            rng.range(-2, 3)
        ),
        15 => format!("LREM {} {} {v}", gen_key(rng, l), rng.range(-1, 1)),
        16 => format!(
            "LINSERT {} {} {v} x",
            gen_key(rng, l),
            rng.pick(&["BEFORE", "AFTER"])
        ),
        17 => format!(
            "{} {} {v}",
            rng.pick(&["LPUSHX", "RPUSHX"]),
            gen_key(rng, l)
        ),
        18 => format!("HSET {} f{} {v}", gen_key(rng, h), rng.below(3)),
        19 => format!(
            "HDEL {} f{} f{}",
            gen_key(rng, h),
            rng.below(3),
            rng.below(3)
        ),
        20 => format!("HINCRBY {} c {}", gen_key(rng, h), rng.range(-5, 5)),
        21 => format!("HSETNX {} f{} {v}", gen_key(rng, h), rng.below(3)),
        22 => format!("HINCRBYFLOAT {} x 0.5", gen_key(rng, h)),
        23 => format!(
            "{} {} {}",
            rng.pick(&["DEL", "UNLINK"]),
            gen_key(rng, any),
            gen_key(rng, any)
        ),
        24 => format!("EXPIRE {} {}", gen_key(rng, any), rng.range(5000, 9000)),
        25 => format!("PEXPIRE {} 8000000", gen_key(rng, any)),
        26 => format!("PERSIST {}", gen_key(rng, any)),
        27 => {
            let a = rng.below(4);
            let b = (a + 1 + rng.below(3)) % 4;
            format!("COPY {any}{a} {any}{b} REPLACE")
        }
        28 => format!(
            "COPY {} {} DB {other} REPLACE",
            gen_key(rng, any),
            gen_key(rng, any)
        ),
        29 => format!("MOVE {} {other}", gen_key(rng, any)),
        30 => {
            *db = other;
            format!("SELECT {other}")
        }
        31 if rng.chance(30) => "SWAPDB 0 1".to_string(),
        32 if rng.chance(10) => "FLUSHDB".to_string(),
        33 => format!("GET {}", gen_key(rng, s)),
        34 => format!("LRANGE {} 0 -1", gen_key(rng, l)),
        35 => format!("HMGET {} f0 f1 c x", gen_key(rng, h)),
        36 => format!("EXISTS {} {}", gen_key(rng, any), gen_key(rng, any)),
        37 => format!("TYPE {}", gen_key(rng, any)),
        38 if !typed => format!("LSET {} 0 {v}", gen_key(rng, l)),
        39 if !typed => format!("RENAME {} {}", gen_key(rng, any), gen_key(rng, any)),
        _ => format!("LLEN {}", gen_key(rng, l)),
    }
}

/// Commands that always fail at EXEC time: (commands, name, error). The
/// last command is the failing one.
const FAILURES: &[(&[&str], &str, &str)] = &[
    (
        &["INCRBY n0 notanumber"],
        "INCRBY",
        "ERR value is not an integer or out of range",
    ),
    (
        &["SET s0 v EX 0"],
        "SET",
        "ERR invalid expire time in 'set' command",
    ),
    (&["SELECT 99"], "SELECT", "ERR DB index is out of range"),
    (&["HSET zz:f f v", "LPUSH zz:f x"], "LPUSH", WRONGTYPE),
    (&["LSET zz:nolist 0 v"], "LSET", "ERR no such key"),
    (&["RENAME zz:nokey x"], "RENAME", "ERR no such key"),
];

/// Random transactions with an injected failure leave the data exactly as
/// before; without one they do what the same commands do outside MULTI on a
/// second server.
#[test]
fn random_transactions_roll_back_or_match_plain_execution() {
    let seed = seed("random_transactions_roll_back_or_match_plain_execution");
    let mut rng = Rng::new(seed);
    let subject = memkv(&[]);
    let reference = memkv(&[]);
    let (mut r1, mut r2) = (subject.raw(), reference.raw());
    let setup = gen_setup(&mut rng);
    pipeline(&mut r1, &setup);
    pipeline(&mut r2, &setup);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut failed, mut committed) = (0, 0);
    for t in 0..500 {
        if Instant::now() > deadline {
            break;
        }
        let ctx = |what: String, cmds: &[String]| {
            format!("MEMKV_SEED={seed} transaction #{t}: {what}\n  commands: {cmds:?}")
        };
        q(&mut r1, "SELECT 0");
        q(&mut r2, "SELECT 0");
        let mut db = 0;
        let len = rng.range(1, 10) as usize;
        let mut cmds: Vec<String> = (0..len)
            .map(|_| gen_command(&mut rng, &mut db, true))
            .collect();
        if rng.chance(50) {
            let (fail, name, err) = FAILURES[rng.below(FAILURES.len() as u64) as usize];
            let at = rng.below(len as u64 + 1) as usize;
            for (i, c) in fail.iter().enumerate() {
                cmds.insert(at + i, c.to_string());
            }
            let pos = at + fail.len();
            let exact = t % 10 == 0;
            let before_digest = digest(&mut r1);
            let before = exact.then(|| dump(&subject, 2, Ttl::Exact));
            let got = transaction(&mut r1, &cmds);
            let want = rolled_back(pos, name, err);
            assert_eq!(
                show(&got),
                show(&want),
                "{}",
                ctx("EXECABORT".into(), &cmds)
            );
            assert_eq!(
                digest(&mut r1),
                before_digest,
                "{}",
                ctx("digest changed by rollback".into(), &cmds)
            );
            if let Some(before) = before {
                assert_eq!(
                    dump(&subject, 2, Ttl::Exact),
                    before,
                    "{}",
                    ctx("data changed by rollback".into(), &cmds)
                );
            }
            failed += 1;
        } else {
            let got = transaction(&mut r1, &cmds);
            assert!(
                got.starts_with(b"*"),
                "{}",
                ctx(format!("EXEC answered {}", show(&got)), &cmds)
            );
            let items = array_items(&got);
            for (i, c) in cmds.iter().enumerate() {
                let direct = q(&mut r2, c);
                assert_eq!(
                    show(&items[i]),
                    show(&direct),
                    "{}",
                    ctx(format!("reply of {c}"), &cmds)
                );
            }
            committed += 1;
        }
        assert_eq!(
            digest(&mut r1),
            digest(&mut r2),
            "{}",
            ctx("digest differs from plain execution".into(), &cmds)
        );
        if t % 25 == 0 {
            assert_eq!(
                dump(&subject, 2, Ttl::Class),
                dump(&reference, 2, Ttl::Class),
                "{}",
                ctx("data differs from plain execution".into(), &cmds)
            );
        }
    }
    println!("{failed} rolled back, {committed} committed");
    assert!(
        failed + committed >= 100,
        "too few transactions in the time budget"
    );
}

// ---------------------------------------------------------------------------
// 6. `multi-rollback no`: exactly Redis.
// ---------------------------------------------------------------------------

fn runtime_error_cases() -> Vec<Case> {
    vec![
        case!("errors in their slots", [
            "A: HSET h f v", "A: MULTI", "A: SET a 1", "A: INCR h", "A: LPUSH a x", "A: SET b 2", "A: INCRBY b abc", "A: INCR b", "A: EXEC",
            "A: MGET a b", "A: DEBUG DIGEST"],
            b"+15ada97dabfa95ed4d448553d983483619dd7691\r\n"),
        case!("failed SELECT keeps the db", [
            "A: MULTI", "A: SELECT 1", "A: SET a 1", "A: SELECT 99", "A: SET b 2", "A: EXEC", "A: DBSIZE"], b":2\r\n"),
        case!("list errors", [
            "A: MULTI", "A: LSET nolist 0 v", "A: RPUSH l a", "A: LSET l 5 v", "A: LSET l 0 b", "A: LRANGE l 0 -1", "A: EXEC"],
            b"*5\r\n-ERR no such key\r\n:1\r\n-ERR index out of range\r\n+OK\r\n*1\r\n$1\r\nb\r\n"),
        case!("all commands fail", ["A: SET s x", "A: MULTI", "A: INCR s", "A: LPOP s", "A: HGET s f", "A: EXEC"],
            b"*3\r\n-ERR value is not an integer or out of range\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        case!("watch then runtime error", [
            "A: SET k 1", "A: WATCH k", "A: MULTI", "A: LPUSH k x", "A: INCR k", "A: EXEC"],
            b"*2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n"),
        case!("a partially applied transaction invalidates watchers", [
            "B: HSET h f v", "A: WATCH k", "B: MULTI", "B: SET k 1", "B: INCR h", "B: EXEC", "A: MULTI", "A: PING", "A: EXEC"], ABORTED),
        case!("flush then error", ["A: SET k 1", "A: MULTI", "A: FLUSHALL", "A: SET s x", "A: INCR s", "A: EXEC", "A: DBSIZE"], b":1\r\n"),
    ]
}

#[test]
fn rollback_no_matches_redis_scripts() {
    let m = memkv(&["--multi-rollback", "no"]);
    let r = redis();
    let mut cases = runtime_error_cases();
    cases.extend(watch_cases());
    cases.extend(queue_time_cases());
    let mut failures = run_cases(&m, r.as_ref(), &cases);
    // The same through CONFIG SET on a default server.
    let m2 = memkv(&[]);
    q(&mut m2.raw(), "CONFIG SET multi-rollback no");
    failures.extend(run_cases(&m2, r.as_ref(), &runtime_error_cases()));
    assert_no_failures(failures);
}

/// Random transactions with runtime errors (any command on any type) on
/// memkv with `multi-rollback no` and on Redis: identical EXEC replies and
/// DEBUG DIGEST after every transaction.
#[test]
fn rollback_no_random_transactions_match_redis() {
    let Some(redis) = redis() else {
        println!("redis-server not installed: skipped");
        return;
    };
    let seed = seed("rollback_no_random_transactions_match_redis");
    let mut rng = Rng::new(seed);
    let m = memkv(&["--multi-rollback", "no"]);
    let (mut a, mut b) = (m.raw(), redis.raw());
    let setup = gen_setup(&mut rng);
    pipeline(&mut a, &setup);
    pipeline(&mut b, &setup);
    assert_eq!(digest(&mut a), digest(&mut b), "MEMKV_SEED={seed}: setup");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    for t in 0..400 {
        if Instant::now() > deadline {
            break;
        }
        q(&mut a, "SELECT 0");
        q(&mut b, "SELECT 0");
        let mut db = 0;
        let len = rng.range(1, 10) as usize;
        let mut cmds: Vec<String> = (0..len)
            .map(|_| gen_command(&mut rng, &mut db, false))
            .collect();
        if rng.chance(5) {
            // A queue-time error: the whole transaction is discarded.
            let at = rng.below(len as u64 + 1) as usize;
            cmds.insert(at, rng.pick(&["GET", "NOSUCHCMD x", "SET k"]).to_string());
        }
        let mut lines = vec!["MULTI".to_string()];
        lines.extend(cmds.iter().cloned());
        lines.push("EXEC".to_string());
        let got = pipeline(&mut a, &lines);
        let want = pipeline(&mut b, &lines);
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(
                show(&got[i]),
                show(&want[i]),
                "MEMKV_SEED={seed} transaction #{t}, reply to {line}\n  commands: {cmds:?}"
            );
        }
        assert_eq!(
            digest(&mut a),
            digest(&mut b),
            "MEMKV_SEED={seed} transaction #{t}: DEBUG DIGEST\n  commands: {cmds:?}"
        );
        n += 1;
    }
    println!("{n} transactions identical to Redis");
}

// ---------------------------------------------------------------------------
// 7. Isolation: no client ever observes half a transaction.
// ---------------------------------------------------------------------------

/// One client moves amounts between `a` and `b` in transactions (some of
/// which fail and roll back); readers see `a + b` constant at all times.
fn transfers_are_atomic(extra: &[&str]) {
    let m = memkv(extra);
    let mut w = m.raw();
    q(&mut w, "MSET a 1000 b 1000");
    q(&mut w, "HSET h f v");
    let rollback = !extra.contains(&"no");
    let run_for = Duration::from_secs(3);
    let start = Instant::now();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (moved, reads) = std::thread::scope(|scope| {
        let mut readers = Vec::new();
        for kind in 0..4 {
            let mut r = m.raw();
            let stop = &stop;
            readers.push(scope.spawn(move || {
                let mut reads = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let replies = match kind {
                        // Pipelined MGETs.
                        0 => pipeline(&mut r, &["MGET a b"; 32]),
                        // A transaction that reads both.
                        1 => vec![transaction(&mut r, &["MGET a b"])[4..].to_vec()],
                        // One at a time.
                        _ => vec![q(&mut r, "MGET a b")],
                    };
                    for rep in replies {
                        let v = parse(&rep);
                        let a: i64 = v.arr()[0].text().parse().unwrap();
                        let b: i64 = v.arr()[1].text().parse().unwrap();
                        assert_eq!(a + b, 2000, "partial transaction observed: a={a} b={b}");
                        reads += 1;
                    }
                }
                reads
            }));
        }
        // The writer: batches of pipelined transfer transactions.
        let mut expected_a = 1000i64;
        let mut x = 1i64;
        while start.elapsed() < run_for {
            let mut lines = Vec::new();
            let mut plan = Vec::new();
            for i in 0..20 {
                x = (x * 7 + 3) % 97;
                let fail = i % 5 == 4;
                lines.push("MULTI".to_string());
                lines.push(format!("DECRBY a {x}"));
                lines.push("SET scratch 1".to_string());
                if fail {
                    lines.push("INCR h".to_string());
                }
                lines.push(format!("INCRBY b {x}"));
                lines.push("EXEC".to_string());
                plan.push((x, fail, lines.len() - 1));
            }
            let replies = pipeline(&mut w, &lines);
            for (x, fail, at) in plan {
                let rep = &replies[at];
                if fail && rollback {
                    assert!(
                        rep.starts_with(b"-EXECABORT Transaction rolled back"),
                        "{}",
                        show(rep)
                    );
                } else {
                    assert!(rep.starts_with(b"*"), "{}", show(rep));
                    expected_a -= x;
                }
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let reads: Vec<u64> = readers.into_iter().map(|h| h.join().unwrap()).collect();
        (1000 - expected_a, reads)
    });
    let mut r = m.raw();
    assert_eq!(
        qs(&mut r, "MGET a b"),
        format!(
            "*2\r\n${}\r\n{}\r\n${}\r\n{}\r\n",
            (1000 - moved).to_string().len(),
            1000 - moved,
            (1000 + moved).to_string().len(),
            1000 + moved
        )
    );
    println!("moved {moved}, reads per reader {reads:?}");
    assert!(reads.iter().all(|&n| n > 0), "every reader ran: {reads:?}");
}

#[test]
fn concurrent_readers_never_see_partial_transactions() {
    transfers_are_atomic(&[]);
}

#[test]
fn concurrent_readers_never_see_partial_transactions_rollback_no() {
    // With Redis semantics a failing transfer still moves the amount (the
    // failing INCR is in its own slot): the invariant holds as well.
    transfers_are_atomic(&["--multi-rollback", "no"]);
}

// ---------------------------------------------------------------------------
// 8. AOF: rolled back = nothing written; committed = one MULTI ... EXEC.
// ---------------------------------------------------------------------------

/// Parses RESP commands from AOF bytes.
fn aof_commands(mut b: &[u8]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let len = common::resp_len(b).unwrap_or_else(|| panic!("truncated AOF: {}", show(b)));
        let cmd = parse(&b[..len])
            .arr()
            .iter()
            .map(|p| p.text())
            .collect::<Vec<String>>();
        out.push(cmd);
        b = &b[len..];
    }
    out
}

/// The concatenated increment files of `dir/appendonlydir`.
fn aof_incr(dir: &std::path::Path) -> Vec<u8> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("appendonlydir"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p: &std::path::PathBuf| p.to_string_lossy().ends_with(".incr.aof"));
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let mut data = Vec::new();
        if let Ok(mut fh) = std::fs::File::open(&f) {
            fh.read_to_end(&mut data).unwrap();
        }
        out.extend(data);
    }
    out
}

#[test]
fn aof_gets_nothing_from_rollbacks_and_multi_exec_from_commits() {
    let dir = common::temp_dir("txaof");
    let m = Server::start_in(
        &dir,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut r = m.raw();
    q(&mut r, "SET pre 1");
    q(&mut r, "HSET h f v");
    // Rolled back, across databases and with a flush.
    let got = transaction(
        &mut r,
        &[
            "SET rb:1 x",
            "SELECT 3",
            "RPUSH rb:2 y",
            "FLUSHALL",
            "SELECT 0",
            "SET rb:3 z",
            "HSET rb:4 f v",
            "INCR rb:4",
        ],
    );
    assert!(
        got.starts_with(b"-EXECABORT Transaction rolled back"),
        "{}",
        show(&got)
    );
    q(&mut r, "SELECT 0");
    q(&mut r, "SET mid 1");
    // Committed, with a database change inside.
    let got = transaction(
        &mut r,
        &[
            "SET c:1 x",
            "RPUSH c:2 a b",
            "GET c:1",
            "SELECT 2",
            "SET c:3 z",
            "SELECT 0",
        ],
    );
    assert!(got.starts_with(b"*6\r\n"), "{}", show(&got));
    // A committed transaction that only read writes nothing.
    transaction(&mut r, &["GET c:1", "LRANGE c:2 0 -1"]);
    q(&mut r, "SET marker 1");
    wait_for("the AOF to contain the marker", || {
        aof_commands(&aof_incr(&dir))
            .iter()
            .any(|c| c.len() > 1 && c[1] == "marker")
    });
    let cmds = aof_commands(&aof_incr(&dir));
    let text = format!("{cmds:?}");
    assert!(
        !text.contains("rb:"),
        "rolled-back writes reached the AOF: {text}"
    );
    assert!(
        !cmds.iter().any(|c| c[0].eq_ignore_ascii_case("FLUSHALL")),
        "{text}"
    );
    let multis: Vec<usize> = (0..cmds.len())
        .filter(|&i| cmds[i][0].eq_ignore_ascii_case("MULTI"))
        .collect();
    assert_eq!(
        multis.len(),
        1,
        "one MULTI for the one committed writing transaction: {text}"
    );
    let execs: Vec<usize> = (0..cmds.len())
        .filter(|&i| cmds[i][0].eq_ignore_ascii_case("EXEC"))
        .collect();
    assert_eq!(execs.len(), 1, "{text}");
    let unit: Vec<String> = cmds[multis[0] + 1..execs[0]]
        .iter()
        .map(|c| c.join(" "))
        .collect();
    assert_eq!(
        unit,
        ["SET c:1 x", "RPUSH c:2 a b", "SELECT 2", "SET c:3 z"],
        "the committed unit: {text}"
    );
    let mid = cmds
        .iter()
        .position(|c| c.join(" ") == "SET mid 1")
        .expect("SET mid");
    assert!(mid < multis[0], "{text}");
    // Replaying the AOF gives the same data.
    let want = digest(&mut r);
    drop(r);
    let copy = common::temp_dir("txaof-replay");
    std::fs::create_dir_all(copy.join("appendonlydir")).unwrap();
    for e in std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(e.path(), copy.join("appendonlydir").join(e.file_name())).unwrap();
    }
    drop(m);
    let m2 = Server::start_in(
        &copy,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut r2 = m2.raw();
    wait_for("the AOF to load", || {
        !qs(&mut r2, "PING").starts_with("-LOADING")
    });
    assert_eq!(digest(&mut r2), want, "replayed AOF");
}

// ---------------------------------------------------------------------------
// 9. Benchmark (ignored; numbers for the issue note, nothing asserted):
//    cargo test --release --test transaction -- --ignored --nocapture bench
// ---------------------------------------------------------------------------

/// Transactions per second for `MULTI; SET x10; EXEC` from `conns`
/// connections, each pipelining `batch` transactions per round trip.
fn bench_target(srv: &Server, conns: usize, batch: usize, per_conn: usize) -> f64 {
    const REPLY_PER_TXN: usize = 5 + 10 * 9 + 5 + 10 * 5; // +OK, QUEUEDs, *10, OKs
    let start = Instant::now();
    std::thread::scope(|scope| {
        for c in 0..conns {
            let mut r = srv.raw();
            scope.spawn(move || {
                let mut one = encode_line("MULTI");
                for i in 0..10 {
                    one.extend(encode_line(&format!("SET bench:{c}:{i} xxx")));
                }
                one.extend(encode_line("EXEC"));
                let req = one.repeat(batch);
                let mut done = 0;
                while done < per_conn {
                    r.s.write_all(&req).unwrap();
                    let got = r.read_n(REPLY_PER_TXN * batch);
                    assert_eq!(got.len(), REPLY_PER_TXN * batch);
                    done += batch;
                }
            });
        }
    });
    (conns * per_conn) as f64 / start.elapsed().as_secs_f64()
}

#[test]
#[ignore]
fn bench_multi_exec_pipelined() {
    let yes = memkv(&[]);
    let no = memkv(&["--multi-rollback", "no"]);
    let redis = redis();
    let mut targets: Vec<(&str, &Server)> =
        vec![("memkv rollback=yes", &yes), ("memkv rollback=no", &no)];
    if let Some(r) = redis.as_ref() {
        targets.push(("redis 7", r));
    }
    for (conns, batch, per_conn) in [(1, 1, 20_000), (4, 16, 40_000), (50, 16, 4_000)] {
        let mut results: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
        // Interleaved rounds; the median is reported.
        for round in 0..6 {
            for (i, (_, srv)) in targets.iter().enumerate() {
                let tps = bench_target(srv, conns, batch, per_conn);
                if round > 0 {
                    results[i].push(tps);
                }
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            v[v.len() / 2]
        };
        let medians: Vec<f64> = results.iter_mut().map(median).collect();
        println!(
            "MULTI + 10 SET + EXEC, {conns} conns, {batch} transactions pipelined per round trip:"
        );
        for (i, (name, _)) in targets.iter().enumerate() {
            println!(
                "  {name:<20} {:>10.0} tx/s  {:>10.0} cmds/s",
                medians[i],
                medians[i] * 12.0
            );
        }
        println!("  rollback yes / no    {:.3}", medians[0] / medians[1]);
        if medians.len() > 2 {
            println!("  memkv(yes) / redis   {:.3}", medians[0] / medians[2]);
            println!("  memkv(no)  / redis   {:.3}", medians[1] / medians[2]);
        }
    }
}

/// Transactions (rolled back and committed, touching keys the rewrite has
/// not reached yet) while BGREWRITEAOF runs: after a restart the data is the
/// same as before.
#[test]
fn aof_rewrite_during_transactions_replays_to_the_same_data() {
    let dir = common::temp_dir("txaof-rewrite");
    let args = ["--appendonly", "yes", "--enable-debug-command", "yes"];
    let m = Server::start_in(&dir, &args);
    let mut r = m.raw();
    assert_eq!(qs(&mut r, "DEBUG POPULATE 100000 key 8"), "+OK\r\n");
    q(&mut r, "HSET h f v");
    q(&mut r, "SELECT 1");
    q(&mut r, "DEBUG POPULATE 1000 other 4");
    q(&mut r, "SELECT 0");
    let rewrite = qs(&mut r, "BGREWRITEAOF");
    assert!(rewrite.starts_with('+'), "{rewrite}");
    let mut rng = Rng::new(7);
    let (mut i, mut during) = (0, 0);
    loop {
        i += 1;
        let k = format!("key:{}", rng.below(100_000));
        let o = format!("other:{}", rng.below(1000));
        let fail = i % 2 == 0;
        let mut cmds = vec![
            format!("SET {k} t{i}"),
            format!("DEL key:{}", rng.below(100_000)),
            "SELECT 1".to_string(),
            format!("APPEND {o} x"),
            "SELECT 0".to_string(),
            format!("EXPIRE key:{} 9000", rng.below(100_000)),
        ];
        if i % 7 == 0 {
            cmds.push("SWAPDB 0 1".to_string());
            cmds.push("SWAPDB 0 1".to_string());
        }
        if fail {
            cmds.push("INCR h".to_string());
        }
        let got = transaction(&mut r, &cmds);
        assert_eq!(got.starts_with(b"-EXECABORT"), fail, "{}", show(&got));
        if info_field(&mut r, "persistence", "aof_rewrite_in_progress") == "1" {
            during += 1;
        } else if i >= 50 {
            break;
        }
        assert!(i < 200_000, "rewrite never finished");
    }
    println!("{during} of {i} transactions ran while the rewrite was in progress");
    let want = digest(&mut r);
    // Stop the server (its dir is removed on drop): copy the AOF first,
    // after the writer has flushed everything up to here.
    q(&mut r, "SET zz:last 1");
    let want_with_last = digest(&mut r);
    wait_for("the AOF to contain the last write", || {
        aof_commands(&aof_incr(&dir))
            .iter()
            .any(|c| c.len() > 1 && c[1] == "zz:last")
    });
    let copy = common::temp_dir("txaof-rewrite-replay");
    std::fs::create_dir_all(copy.join("appendonlydir")).unwrap();
    for e in std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(e.path(), copy.join("appendonlydir").join(e.file_name())).unwrap();
    }
    drop(r);
    drop(m);
    let m2 = Server::start_in(&copy, &args);
    let mut r2 = m2.raw();
    wait_for("the AOF to load", || {
        !qs(&mut r2, "PING").starts_with("-LOADING")
    });
    assert_ne!(want, want_with_last);
    assert_eq!(
        digest(&mut r2),
        want_with_last,
        "replayed AOF after {i} transactions"
    );
}
