//! Hash indexes through their incremental migrations at production size,
//! through the protocol, against real Redis 7.0 (differential; skipped
//! when redis-server is not installed). A hash, a set and a sorted set grow
//! to ~50k members and the keyspace to ~50k keys (a few thousand with
//! expiry times), far past the 1024 buckets where an index starts to
//! migrate in steps (`store::index`), with reads, deletes and overwrites
//! between the growth batches; SCAN / HSCAN / SSCAN / ZSCAN run to the end
//! while members are added and removed between their calls (every member
//! present for the whole scan must come back, at a size where the scan's
//! own growth starts a migration); MULTI/EXEC with a failing command is
//! compared with Redis under `multi-rollback no`, and under memkv's
//! default rollback must restore the state (sizes and values at once,
//! every member at the final compare, which Redis never saw changed) after
//! changes big enough to move migrations along. DEBUG DIGEST-VALUE of the
//! collections is compared after the first migrations; a final compare of
//! every id ever used (values, membership, scores, rank order, sizes)
//! ends it.
//! `activerehashing no` keeps migrations in flight between commands (the
//! cron would otherwise finish them). Seeded (fixed seed, `MEMKV_SEED`
//! replays another).

mod common;

use std::collections::{HashMap, HashSet};

use common::DEBUG;
use common::Raw;
use common::diff::Diff;
use common::script::Rng;

/// Members added per growth batch, and batches: ~50k members each.
const BATCH: usize = 500;
const ROUNDS: usize = 100;
/// The round after which every structure is scanned while it changes.
const SCAN_ROUND: usize = 54;
/// Rounds after which the digests of the collections are compared
/// (after the first migrations; the digest of 50k members costs a second
/// in a debug build, the member-by-member final compare covers the rest).
const DIGEST_ROUNDS: [usize; 2] = [5, 20];
/// An absolute expiry time far ahead (2100-01-01), so PEXPIRETIME replies
/// are the same on both servers.
const EXPIRE_AT: u64 = 4_102_444_800_000;

/// A RESP2 reply flattened: bulk and simple strings and integers, arrays
/// expanded in order; nil as `(nil)`. Panics on an error reply.
fn flat(b: &[u8]) -> Vec<String> {
    fn line(b: &[u8], pos: &mut usize) -> String {
        let end = *pos + b[*pos..].windows(2).position(|w| w == b"\r\n").unwrap();
        let s = String::from_utf8_lossy(&b[*pos + 1..end]).into_owned();
        *pos = end + 2;
        s
    }
    fn at(b: &[u8], pos: &mut usize, out: &mut Vec<String>) {
        let t = b[*pos];
        let head = line(b, pos);
        match t {
            b'*' => {
                for _ in 0..head.parse::<i64>().unwrap().max(0) {
                    at(b, pos, out);
                }
            }
            b'$' => {
                let n: i64 = head.parse().unwrap();
                if n < 0 {
                    out.push("(nil)".into());
                } else {
                    let n = n as usize;
                    out.push(String::from_utf8_lossy(&b[*pos..*pos + n]).into_owned());
                    *pos += n + 2;
                }
            }
            b'-' => panic!("error reply: {head}"),
            _ => out.push(head),
        }
    }
    let mut out = Vec::new();
    at(b, &mut 0, &mut out);
    out
}

fn cmd(r: &mut Raw, args: &[String]) -> Vec<u8> {
    let parts: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    r.cmd(&parts)
}

/// Sends argv to both servers and asserts byte-identical replies.
fn same(d: &mut Diff, args: &[String]) -> Vec<u8> {
    let (a, b) = (cmd(&mut d.ours, args), cmd(&mut d.redis, args));
    if a != b {
        let head: Vec<&str> = args.iter().take(6).map(|s| s.as_str()).collect();
        panic!(
            "{head:?}...: memkv {:?}\n  redis {:?}",
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b)
        );
    }
    a
}

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Live member ids of one structure: O(1) insert, remove and random pick.
#[derive(Default, Clone)]
struct Live {
    ids: Vec<usize>,
    pos: HashMap<usize, usize>,
}

impl Live {
    fn insert(&mut self, id: usize) {
        if !self.pos.contains_key(&id) {
            self.pos.insert(id, self.ids.len());
            self.ids.push(id);
        }
    }
    fn extend(&mut self, ids: &[usize]) {
        ids.iter().for_each(|&id| self.insert(id));
    }
    fn remove(&mut self, id: &usize) {
        if let Some(i) = self.pos.remove(id) {
            self.ids.swap_remove(i);
            if let Some(&moved) = self.ids.get(i) {
                self.pos.insert(moved, i);
            }
        }
    }
    fn len(&self) -> usize {
        self.ids.len()
    }
    fn iter(&self) -> impl Iterator<Item = &usize> {
        self.ids.iter()
    }
}

/// The dataset as the test knows it: live member ids per structure.
#[derive(Default)]
struct Model {
    next: usize,
    hash: Live,
    set: Live,
    zset: Live,
    keys: Live,
}

fn set_member(id: usize) -> String {
    // Integers and strings: the set is never an intset past 512 anyway.
    if id.is_multiple_of(3) {
        id.to_string()
    } else {
        format!("m{id}")
    }
}

/// `n` distinct ids picked from `live` (all of them when fewer).
fn pick(rng: &mut Rng, live: &Live, n: usize) -> Vec<usize> {
    if live.len() <= n {
        return live.ids.clone();
    }
    let mut chosen = HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let id = live.ids[rng.below(live.len())];
        if chosen.insert(id) {
            out.push(id);
        }
    }
    out
}

/// The structures a scan walks: the command, its key, whether replies
/// pair each member with a value/score, and the member names.
#[derive(Clone, Copy)]
enum Kind {
    Keys,
    Hash,
    Set,
    ZSet,
}

impl Kind {
    fn live<'a>(&self, m: &'a Model) -> &'a Live {
        match self {
            Kind::Keys => &m.keys,
            Kind::Hash => &m.hash,
            Kind::Set => &m.set,
            Kind::ZSet => &m.zset,
        }
    }
    fn name(&self, id: usize) -> String {
        match self {
            Kind::Keys => format!("k{id}"),
            Kind::Hash => format!("f{id}"),
            Kind::Set => set_member(id),
            Kind::ZSet => format!("m{id}"),
        }
    }
    fn scan(&self, cursor: &str) -> Vec<String> {
        let mut a = match self {
            Kind::Keys => argv(&["SCAN"]),
            Kind::Hash => argv(&["HSCAN", "h"]),
            Kind::Set => argv(&["SSCAN", "s"]),
            Kind::ZSet => argv(&["ZSCAN", "z"]),
        };
        a.extend(argv(&[cursor, "COUNT", "2000"]));
        a
    }
    fn paired(&self) -> bool {
        matches!(self, Kind::Hash | Kind::ZSet)
    }
}

/// Adds `ids` to `kind` on both servers.
fn add(d: &mut Diff, rng: &mut Rng, kind: Kind, ids: &[usize]) {
    let mut a = match kind {
        Kind::Keys => argv(&["MSET"]),
        Kind::Hash => argv(&["HSET", "h"]),
        Kind::Set => argv(&["SADD", "s"]),
        Kind::ZSet => argv(&["ZADD", "z"]),
    };
    for &id in ids {
        match kind {
            Kind::Keys | Kind::Hash => {
                a.push(kind.name(id));
                a.push(format!("v{}", rng.below(1_000_000)));
            }
            Kind::Set => a.push(kind.name(id)),
            Kind::ZSet => {
                a.push(format!("{}", rng.below(20_000) as f64 / 4.0));
                a.push(kind.name(id));
            }
        }
    }
    same(d, &a);
}

/// Removes `ids` from `kind` on both servers.
fn remove(d: &mut Diff, kind: Kind, ids: &[usize]) {
    let mut a = match kind {
        Kind::Keys => argv(&["DEL"]),
        Kind::Hash => argv(&["HDEL", "h"]),
        Kind::Set => argv(&["SREM", "s"]),
        Kind::ZSet => argv(&["ZREM", "z"]),
    };
    a.extend(ids.iter().map(|&id| kind.name(id)));
    same(d, &a);
}

fn live_mut(m: &mut Model, kind: Kind) -> &mut Live {
    match kind {
        Kind::Keys => &mut m.keys,
        Kind::Hash => &mut m.hash,
        Kind::Set => &mut m.set,
        Kind::ZSet => &mut m.zset,
    }
}

/// The id in a member or key name (`k12`, `f12`, `m12`, `12`); None for
/// the three collection keys.
fn id_of(name: &str) -> Option<usize> {
    name.trim_start_matches(|c: char| c.is_ascii_lowercase())
        .parse()
        .ok()
}

/// One full scan of `kind` on each server, in lockstep, with members
/// added and removed on both between the calls. Every member present for
/// the whole scan must be returned by each; nothing never present may be.
/// (Bookkeeping by id in bitmaps: string sets cost seconds in a debug
/// build.)
fn scan_while_changing(d: &mut Diff, rng: &mut Rng, m: &mut Model, kind: Kind) {
    let start = m.next;
    // Grows with the ids added during the scan.
    let mut present_throughout = vec![false; start];
    let mut ever = vec![false; start];
    for &id in kind.live(m).iter() {
        present_throughout[id] = true;
        ever[id] = true;
    }
    let mut cursors = [Some("0".to_string()), Some("0".to_string())];
    let mut seen = [vec![false; start], vec![false; start]];
    for _ in 0..10_000 {
        for (side, cursor) in cursors.iter_mut().enumerate() {
            let Some(c) = cursor.take() else { continue };
            let r = if side == 0 { &mut d.ours } else { &mut d.redis };
            let reply = flat(&cmd(r, &kind.scan(&c)));
            let step = if kind.paired() { 2 } else { 1 };
            for name in reply[1..].iter().step_by(step) {
                match id_of(name) {
                    Some(id) if id < ever.len() && ever[id] => {
                        if id < start {
                            seen[side][id] = true;
                        }
                    }
                    None if matches!(kind, Kind::Keys)
                        && ["h", "s", "z"].contains(&name.as_str()) => {}
                    _ => panic!("side {side}: scan returned {name}, never present"),
                }
            }
            if reply[0] != "0" {
                *cursor = Some(reply[0].clone());
            }
        }
        if cursors.iter().all(Option::is_none) {
            break;
        }
        // Enough growth that an index starts migrating mid-scan.
        let gone = pick(rng, kind.live(m), 30);
        remove(d, kind, &gone);
        let fresh: Vec<usize> = (m.next..m.next + 500).collect();
        m.next += 500;
        add(d, rng, kind, &fresh);
        let live = live_mut(m, kind);
        for id in &gone {
            live.remove(id);
            if *id < start {
                present_throughout[*id] = false;
            }
        }
        live.extend(&fresh);
        ever.resize(m.next, true);
    }
    assert!(cursors.iter().all(Option::is_none), "scan never ended");
    for (side, who) in ["memkv", "redis"].iter().enumerate() {
        for id in 0..start {
            if present_throughout[id] && !seen[side][id] {
                panic!("{who}: scan missed {}", kind.name(id));
            }
        }
    }
}

/// MULTI/EXEC with a command failing at run time. Under
/// `multi-rollback no` memkv must answer and end as Redis; under the
/// default rollback its state (digest) must be exactly the one before.
fn transactions(d: &mut Diff, rng: &mut Rng, m: &mut Model) {
    send_ours(d, &argv(&["CONFIG", "SET", "multi-rollback", "no"]));
    let fresh: Vec<usize> = (m.next..m.next + 300).collect();
    m.next += 300;
    let gone_h = pick(rng, &m.hash, 50);
    let gone_k = pick(rng, &m.keys, 50);
    same(d, &argv(&["MULTI"]));
    add(d, rng, Kind::Hash, &fresh);
    remove(d, Kind::Hash, &gone_h);
    same(d, &argv(&["INCR", "h"])); // WRONGTYPE at EXEC
    add(d, rng, Kind::Keys, &fresh);
    remove(d, Kind::Keys, &gone_k);
    same(d, &argv(&["EXEC"]));
    m.hash.extend(&fresh);
    m.keys.extend(&fresh);
    for id in &gone_h {
        m.hash.remove(id);
    }
    for id in &gone_k {
        m.keys.remove(id);
    }
    send_ours(d, &argv(&["CONFIG", "SET", "multi-rollback", "yes"]));

    // memkv alone: enough changes to move every index's migration along,
    // then a failure undoes them all. Redis never sees this transaction,
    // so every later compare (the final one covers every member) also
    // checks that nothing of it stayed.
    let counts = |d: &mut Diff| {
        ["HLEN h", "SCARD s", "ZCARD z", "DBSIZE"]
            .map(|line| send_ours(d, &line.split(' ').map(String::from).collect::<Vec<_>>()))
    };
    let before = counts(d);
    let big: Vec<String> = (m.next..m.next + 3000).map(|i| i.to_string()).collect();
    m.next += 3000;
    let mut queue = vec![argv(&["MULTI"])];
    for (cmd, key, pair) in [
        ("HSET", "h", true),
        ("SADD", "s", false),
        ("MSET", "", true),
    ] {
        let mut a = argv(&[cmd]);
        if !key.is_empty() {
            a.push(key.into());
        }
        for id in &big {
            a.push(format!("x{id}"));
            if pair {
                a.push("v".into());
            }
        }
        queue.push(a);
    }
    let mut z = argv(&["ZADD", "z"]);
    for id in &big {
        z.extend([id.clone(), format!("x{id}")]);
    }
    queue.push(z);
    let gone_h: Vec<String> = pick(rng, &m.hash, 500)
        .iter()
        .map(|&id| format!("f{id}"))
        .collect();
    let gone_k: Vec<String> = pick(rng, &m.keys, 500)
        .iter()
        .map(|&id| format!("k{id}"))
        .collect();
    let mut hmget = argv(&["HMGET", "h"]);
    hmget.extend(gone_h.iter().cloned());
    let mut mget = argv(&["MGET"]);
    mget.extend(gone_k.iter().cloned());
    let values = (send_ours(d, &hmget), send_ours(d, &mget));
    let mut hdel = argv(&["HDEL", "h"]);
    hdel.extend(gone_h);
    queue.push(hdel);
    let mut del = argv(&["DEL"]);
    del.extend(gone_k);
    queue.push(del);
    queue.push(argv(&["SADD", "h", "oops"])); // WRONGTYPE
    for a in &queue {
        send_ours(d, a);
    }
    let exec = send_ours(d, &argv(&["EXEC"]));
    assert!(
        exec.starts_with("-EXECABORT Transaction rolled back: command #7 (SADD) failed: WRONGTYPE"),
        "{exec}"
    );
    assert_eq!(counts(d), before, "the rollback left other sizes");
    assert_eq!((send_ours(d, &hmget), send_ours(d, &mget)), values);
}

fn send_ours(d: &mut Diff, a: &[String]) -> String {
    String::from_utf8_lossy(&cmd(&mut d.ours, a)).into_owned()
}

#[test]
fn migrations_through_the_protocol_like_redis() {
    let Some(mut d) = Diff::start("index-migration", DEBUG) else {
        return;
    };
    let seed = std::env::var("MEMKV_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0f1d)
        | 1;
    eprintln!("index-migration seed {seed}");
    let mut rng = Rng(seed);
    // Accepted as in Redis (its effect on the cron is tested elsewhere).
    d.both("CONFIG SET activerehashing no", "+OK");
    d.both("CONFIG GET activerehashing", r#"["activerehashing", "no"]"#);
    let mut m = Model::default();
    let kinds = [Kind::Keys, Kind::Hash, Kind::Set, Kind::ZSet];
    for round in 0..ROUNDS {
        // Growth.
        let fresh: Vec<usize> = (m.next..m.next + BATCH).collect();
        m.next += BATCH;
        for kind in kinds {
            add(&mut d, &mut rng, kind, &fresh);
            live_mut(&mut m, kind).extend(&fresh);
        }
        // Reads of live and deleted members alike.
        let probe: Vec<usize> = (0..30).map(|_| rng.below(m.next)).collect();
        let names = |k: Kind| probe.iter().map(move |&id| k.name(id));
        let mut a = argv(&["HMGET", "h"]);
        a.extend(names(Kind::Hash));
        same(&mut d, &a);
        let mut a = argv(&["SMISMEMBER", "s"]);
        a.extend(names(Kind::Set));
        same(&mut d, &a);
        let mut a = argv(&["ZMSCORE", "z"]);
        a.extend(names(Kind::ZSet));
        same(&mut d, &a);
        let mut a = argv(&["MGET"]);
        a.extend(names(Kind::Keys));
        same(&mut d, &a);
        let at = rng.below(m.zset.len()).to_string();
        same(&mut d, &argv(&["ZRANGE", "z", &at, &at, "WITHSCORES"]));
        same(&mut d, &argv(&["ZRANK", "z", &Kind::ZSet.name(probe[0])]));
        same(&mut d, &argv(&["EXISTS", &Kind::Keys.name(probe[1])]));
        // Deletes and overwrites.
        for kind in kinds {
            let gone = pick(&mut rng, kind.live(&m), 40);
            remove(&mut d, kind, &gone);
            let live = live_mut(&mut m, kind);
            for id in &gone {
                live.remove(id);
            }
            let again = pick(&mut rng, kind.live(&m), 20);
            add(&mut d, &mut rng, kind, &again);
        }
        // Expiry times on live keys (the expire table migrates too).
        for id in pick(&mut rng, &m.keys, 10) {
            let k = Kind::Keys.name(id);
            same(&mut d, &argv(&["PEXPIREAT", &k, &EXPIRE_AT.to_string()]));
        }
        let k = Kind::Keys.name(probe[2]);
        same(&mut d, &argv(&["PEXPIRETIME", &k]));
        for a in [
            argv(&["HLEN", "h"]),
            argv(&["SCARD", "s"]),
            argv(&["ZCARD", "z"]),
            argv(&["DBSIZE"]),
        ] {
            same(&mut d, &a);
        }
        // ~25k members: the scan's own growth (~500 a call) crosses the
        // 28672 entries where a 32768-bucket index starts migrating.
        if round == SCAN_ROUND {
            for kind in kinds {
                scan_while_changing(&mut d, &mut rng, &mut m, kind);
            }
        }
        if DIGEST_ROUNDS.contains(&round) {
            same(&mut d, &argv(&["DEBUG", "DIGEST-VALUE", "h", "s", "z"]));
        }
        if round % 40 == 20 {
            transactions(&mut d, &mut rng, &mut m);
        }
    }
    // Final full compare, every id ever used, in chunks (one huge reply
    // costs the test client more than the servers).
    let ids: Vec<usize> = (0..m.next).collect();
    for chunk in ids.chunks(2000) {
        for (cmd, key, kind) in [
            ("HMGET", "h", Kind::Hash),
            ("SMISMEMBER", "s", Kind::Set),
            ("ZMSCORE", "z", Kind::ZSet),
            ("MGET", "", Kind::Keys),
        ] {
            let mut a = argv(&[cmd]);
            if !key.is_empty() {
                a.push(key.into());
            }
            a.extend(chunk.iter().map(|&id| kind.name(id)));
            same(&mut d, &a);
        }
    }
    for from in (0..m.zset.len()).step_by(2000) {
        let (from, to) = (from.to_string(), (from + 1999).to_string());
        same(&mut d, &argv(&["ZRANGE", "z", &from, &to, "WITHSCORES"]));
    }
    let sizes = [
        argv(&["HLEN", "h"]),
        argv(&["SCARD", "s"]),
        argv(&["ZCARD", "z"]),
        argv(&["DBSIZE"]),
    ]
    .map(|a| flat(&same(&mut d, &a))[0].clone());
    let want = [m.hash.len(), m.set.len(), m.zset.len(), m.keys.len() + 3].map(|n| n.to_string());
    assert_eq!(sizes, want);
    assert!(
        m.hash.len() > 45_000 && m.keys.len() > 45_000,
        "grew too little"
    );
}
