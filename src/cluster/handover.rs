//! Membership change: keys a node holds but no longer owns move to their
//! new owners in the background (issue 9, item 8).
//!
//! A node restarted with a different member set reloads its AOF and may
//! hold keys another member now owns ("foreign" keys). Foreign keys are
//! never created afterwards (every write is routed to the owner), so each
//! one only has to leave once. The *owner* drives every move, so all the
//! values it receives come through its own reactor, in order:
//!
//! - **Walk.** For each peer it has not walked since it started, the owner
//!   sends `MEMKV.TAKE <me> <db> <cursor>` on the relay's control connection,
//!   one at a time. The holder visits a bounded slice of that database
//!   (SCAN's high-to-low cursor, which keeps its guarantee under the
//!   deletions it makes), and *gives* the keys the asker owns: serialized as
//!   the AOF rewrite does (value + TTL), deleted locally through the choke
//!   point (a `DEL` in its AOF). The owner installs each one only if the key
//!   is absent here (a newer write wins), as one MULTI ... EXEC in its AOF.
//!   The reply names the holder's run id: a holder that restarted mid-walk
//!   is walked again from the start.
//! - **Pull on miss.** Until every peer is walked, a command (from a client
//!   or relayed) touching a key this node owns that is missing here is
//!   deferred (parked, left in the query buffer) while `MEMKV.GIVE <db>
//!   key...` asks the peers not yet walked; what comes back is installed
//!   the same way and the command then runs once without asking again. A
//!   participant's `MEMKV.LOCK` on such a key answers TRYAGAIN while it
//!   pulls in the background (the coordinator retries with its backoff).
//!   TAKE and GIVE share one connection per peer (the relay's hand-over
//!   connection, whose failures do not mark the peer down), so a key given by a TAKE
//!   is installed before a later GIVE's "not here" is seen: nothing comes
//!   back after the owner has deleted it.
//! - A peer that is down or loading counts as holding nothing for a pull
//!   (its keys are unavailable, as its own keys are); its walk resumes when
//!   it answers again.
//!
//! Progress is in INFO `# Cluster` (`cluster_handover_*`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::relay::{Job, Waiter, encode_command};
use super::route::{Combine, Pending, Slot};
use crate::commands::{self, Args, CommandSpec, OwnedArgs};
use crate::resp::response::{ReplyLimits, Value, parse_value};
use crate::server::{Client, Park, Server};

/// The waiter id of background hand-over jobs (never a client id).
pub const WAITER: u64 = u64::MAX;
/// `Waiter::seq` of a walk step; a pull for a LOCK uses its own id (above).
const TAKE: u64 = 1;
/// Keys a TAKE step visits at most, and the serialized bytes after which
/// it stops early (one key at least).
const VISIT_MAX: usize = 1024;
const BYTES_MAX: usize = 4 << 20;
/// Pause before retrying a walk step that failed (peer down or loading).
const RETRY: Duration = Duration::from_millis(500);
/// A walk step unanswered for this long means a hung peer: pulls skip it
/// (a step serializes at most a few MB, normally answered in ms), so a
/// stopped peer does not cost every miss a node timeout.
const SLOW: Duration = Duration::from_secs(1);
/// Bound of the set of keys a pull for a LOCK found nowhere.
const CONFIRMED_MAX: usize = 1 << 16;
/// Park reason (routing's, so `route::may_resume` treats it alike).
const RELAY: &str = "relay";

/// The owner's walk of one peer's keyspace.
#[derive(Debug, Clone)]
struct Walk {
    done: bool,
    db: usize,
    /// Indexes not yet visited in `db` (u64::MAX: from the top).
    cursor: u64,
    in_flight: bool,
    sent_at: Option<Instant>,
    /// The last step failed after more than `SLOW` (a hung peer): pulls
    /// skip it until a step succeeds.
    slow: bool,
    retry_at: Option<Instant>,
    /// The peer's run id when the walk started.
    run_id: Option<Vec<u8>>,
}

/// Hand-over state of this node, both as owner and as holder.
#[derive(Debug, Clone)]
pub struct Handover {
    walks: Vec<Walk>,
    /// Some peer is not walked yet: misses pull.
    pub active: bool,
    /// DEBUG CLUSTER-HANDOVER 0: no walk steps (pulls still run).
    pub paused: bool,
    /// Keys pulled for a LOCK and found nowhere (the retried LOCK goes on).
    confirmed: HashSet<(usize, Vec<u8>)>,
    /// Pulls for LOCKs in flight: id -> (db, answers awaited, keys).
    pulls: HashMap<u64, (usize, usize, Vec<Vec<u8>>)>,
    /// Keys those pulls ask for (a retried LOCK waits, asks nothing new).
    pulling: HashSet<(usize, Vec<u8>)>,
    next_pull: u64,
    /// Keys received from peers / given to peers since start.
    pub received: u64,
    pub sent: u64,
    /// Holder side: foreign keys held here, by owner (counted after the
    /// AOF is loaded, lowered as they are given).
    left: Vec<u64>,
}

impl Handover {
    pub fn new(members: usize, me: usize) -> Handover {
        let walks = (0..members)
            .map(|m| Walk {
                done: m == me,
                db: 0,
                cursor: u64::MAX,
                in_flight: false,
                sent_at: None,
                slow: false,
                retry_at: None,
                run_id: None,
            })
            .collect();
        Handover {
            walks,
            active: members > 1,
            paused: false,
            confirmed: HashSet::new(),
            pulls: HashMap::new(),
            pulling: HashSet::new(),
            next_pull: TAKE + 1,
            received: 0,
            sent: 0,
            left: vec![0; members],
        }
    }

    /// Foreign keys still held here.
    pub fn keys_left(&self) -> u64 {
        self.left.iter().sum()
    }

    /// Peers whose keyspace this node has not walked yet.
    pub fn peers_pending(&self) -> usize {
        self.walks.iter().filter(|w| !w.done).count()
    }

    fn refresh(&mut self) {
        self.active = self.walks.iter().any(|w| !w.done);
        if !self.active && self.pulls.is_empty() {
            self.confirmed = HashSet::new();
            self.pulling = HashSet::new();
        }
    }
}

/// After the AOF is loaded: counts the foreign keys held here, by owner
/// (for INFO; the moves themselves do not depend on it).
pub fn census(srv: &mut Server) {
    let Some(t) = srv.cluster.as_mut() else {
        return;
    };
    let mut left = vec![0u64; t.members.len()];
    for db in 0..srv.store.db_count() {
        for k in srv.store.db(db).keys().keys() {
            let o = t.owner_of_key(k);
            if o != t.me {
                left[o] += 1;
            }
        }
    }
    let n: u64 = left.iter().sum();
    if n > 0 {
        log::warn!(
            "Cluster membership changed: {n} keys loaded here belong to other nodes now; handing them over in the background"
        );
    }
    t.handover.left = left;
}

// ---- owner side -------------------------------------------------------------

/// Peers that may still hold keys of ours and can be asked now.
fn askable(srv: &Server) -> Vec<usize> {
    let Some(t) = srv.cluster.as_ref() else {
        return Vec::new();
    };
    let now = Instant::now();
    (0..t.members.len())
        .filter(|&m| {
            let w = &t.handover.walks[m];
            let hung = w.slow || (w.in_flight && w.sent_at.is_some_and(|s| now - s > SLOW));
            !w.done && t.up[m] && !hung
        })
        .collect()
}

fn missing(srv: &Server, db: usize, key: &[u8]) -> bool {
    !srv.store.db(db).keys().contains_key(key) || srv.store.is_expired(db, key)
}

fn give_request(db: usize, keys: &[&[u8]]) -> Vec<u8> {
    let db = db.to_string();
    let mut p = Vec::new();
    encode_command(
        &mut p,
        [&b"MEMKV.GIVE"[..], db.as_bytes()]
            .into_iter()
            .chain(keys.iter().copied()),
    );
    p
}

/// Before a command runs here (client or relayed) while a hand-over is
/// active: true if a key of this node it touches is missing and may still
/// be on a peer; the command was then deferred until the peers answered.
pub fn must_pull(
    srv: &mut Server,
    c: &mut Client,
    spec: &'static CommandSpec,
    args: &Args,
) -> bool {
    if std::mem::take(&mut c.handover_pulled) {
        return false; // this (re-run) command already asked
    }
    let mut idx = Vec::new();
    if commands::command_keys(spec, args, &mut idx).is_err() || idx.is_empty() {
        return false;
    }
    let Some(t) = srv.cluster.as_ref() else {
        return false;
    };
    let db = c.db;
    let mut want: Vec<&[u8]> = Vec::new();
    for &i in &idx {
        let k = &args[i];
        if t.is_me(t.owner_of_key(k)) && missing(srv, db, k) && !want.contains(&k) {
            want.push(k);
        }
    }
    if want.is_empty() {
        return false;
    }
    if !c.relay.is_empty() {
        // Ask once the operations in flight are answered.
        c.deferred = true;
        c.park = Some(Park::Waiting(RELAY));
        return true;
    }
    let peers = askable(srv);
    if peers.is_empty() {
        return false;
    }
    c.relay_seq += 1;
    let seq = c.relay_seq;
    let mut op = Pending {
        seq,
        parts: Vec::with_capacity(peers.len()),
        remaining: 0,
        combine: Combine::Pull,
    };
    let payload = give_request(db, &want);
    let Some(pool) = srv.relay.as_mut() else {
        return false;
    };
    for (part, &m) in peers.iter().enumerate() {
        let job = Job {
            waiter: Waiter {
                client: c.id,
                seq,
                part,
            },
            payload: payload.clone(),
            replies: 1,
        };
        match pool.submit_handover(m, job) {
            Ok(()) => {
                op.parts.push(None);
                op.remaining += 1;
            }
            // Down: holds nothing we can reach.
            Err(_) => op.parts.push(Some(Ok(Vec::new()))),
        }
    }
    if op.remaining == 0 {
        return false;
    }
    c.relay.push_back(Slot {
        op,
        after: Vec::new(),
    });
    c.deferred = true;
    c.park = Some(Park::Waiting(RELAY));
    true
}

/// A client's pull finished (reactor): installs what came back and lets
/// the deferred command run.
pub fn pulled(srv: &mut Server, token: usize) {
    let Some(mut c) = srv.clients.get_mut(token).and_then(Option::take) else {
        return;
    };
    if let Some(s) = c.relay.pop_front() {
        for r in s.op.parts.into_iter().flatten().flatten() {
            install_reply(srv, c.db, &r);
        }
        c.handover_pulled = true;
    }
    let resumes = c.relay.is_empty() && c.park == Some(Park::Waiting(RELAY));
    if resumes {
        c.park = None;
    }
    if let Some(slot) = srv.clients.get_mut(token) {
        *slot = Some(c);
    }
    if resumes {
        srv.unparked.push(token);
    }
    srv.handle_ready_keys();
}

/// For a participant's LOCK: true if one of `keys` (all ours) is missing
/// and may still be on a peer; it is then pulled in the background and the
/// LOCK answers TRYAGAIN (the coordinator retries). Once the pull is
/// answered the key is here or, if it was nowhere, the retried LOCK goes on.
pub fn lock_must_wait(srv: &mut Server, keys: &[(usize, Vec<u8>)]) -> bool {
    if !srv.cluster.as_ref().is_some_and(|t| t.handover.active) {
        return false;
    }
    let mut wait = false;
    let mut per_db: Vec<(usize, Vec<Vec<u8>>)> = Vec::new();
    for (db, key) in keys {
        if !missing(srv, *db, key) {
            continue;
        }
        let Some(t) = srv.cluster.as_mut() else {
            return false;
        };
        let h = &mut t.handover;
        let dk = (*db, key.clone());
        if h.confirmed.remove(&dk) {
            continue;
        }
        wait = true;
        if h.pulling.contains(&dk) {
            continue;
        }
        match per_db.iter_mut().find(|(d, _)| d == db) {
            Some((_, ks)) => ks.push(key.clone()),
            None => per_db.push((*db, vec![key.clone()])),
        }
    }
    let peers = askable(srv);
    if per_db.is_empty() {
        return wait;
    }
    if peers.is_empty() {
        return false;
    }
    for (db, ks) in per_db {
        let Some(t) = srv.cluster.as_mut() else {
            return false;
        };
        let h = &mut t.handover;
        let id = h.next_pull;
        h.next_pull += 1;
        let refs: Vec<&[u8]> = ks.iter().map(|k| &k[..]).collect();
        let payload = give_request(db, &refs);
        let mut sent = 0;
        if let Some(pool) = srv.relay.as_mut() {
            for &m in &peers {
                let job = Job {
                    waiter: Waiter {
                        client: WAITER,
                        seq: id,
                        part: m,
                    },
                    payload: payload.clone(),
                    replies: 1,
                };
                sent += pool.submit_handover(m, job).is_ok() as usize;
            }
        }
        let Some(t) = srv.cluster.as_mut() else {
            return false;
        };
        let h = &mut t.handover;
        if sent == 0 {
            // Nobody to ask: the keys are nowhere we can reach.
            for k in ks {
                h.confirmed.insert((db, k));
            }
            continue;
        }
        for k in &ks {
            h.pulling.insert((db, k.clone()));
        }
        h.pulls.insert(id, (db, sent, ks));
    }
    true
}

/// One answer to a LOCK's pull: installed; once every peer answered, the
/// keys still missing are known to be nowhere.
fn lock_pulled(srv: &mut Server, id: u64, result: Result<Vec<u8>, String>) {
    let Some(db) = srv
        .cluster
        .as_ref()
        .and_then(|t| t.handover.pulls.get(&id))
        .map(|p| p.0)
    else {
        return;
    };
    if let Ok(r) = result {
        install_reply(srv, db, &r);
        srv.handle_ready_keys();
    }
    let Some(t) = srv.cluster.as_mut() else {
        return;
    };
    let h = &mut t.handover;
    let Some(p) = h.pulls.get_mut(&id) else {
        return;
    };
    p.1 -= 1;
    if p.1 > 0 {
        return;
    }
    if let Some((db, _, ks)) = h.pulls.remove(&id) {
        if h.confirmed.len() > CONFIRMED_MAX {
            h.confirmed.clear();
        }
        for k in ks {
            h.pulling.remove(&(db, k.clone()));
            h.confirmed.insert((db, k));
        }
    }
}

/// Each poll round: starts the next walk step of every peer not walked
/// yet (one in flight per peer).
pub fn tick(srv: &mut Server) {
    if srv.loading.is_some() {
        return;
    }
    let Some(t) = srv.cluster.as_mut() else {
        return;
    };
    if !t.handover.active || t.handover.paused {
        return;
    }
    let now = Instant::now();
    let me = t.me.to_string();
    let mut jobs = Vec::new();
    for (m, w) in t.handover.walks.iter_mut().enumerate() {
        if w.done || w.in_flight || w.retry_at.is_some_and(|r| r > now) {
            continue;
        }
        let (db, cur) = (w.db.to_string(), w.cursor.to_string());
        let mut p = Vec::new();
        encode_command(
            &mut p,
            [
                &b"MEMKV.TAKE"[..],
                me.as_bytes(),
                db.as_bytes(),
                cur.as_bytes(),
            ]
            .into_iter(),
        );
        w.in_flight = true;
        w.sent_at = Some(now);
        jobs.push((m, p));
    }
    let Some(pool) = srv.relay.as_mut() else {
        return;
    };
    let mut failed = Vec::new();
    for (m, payload) in jobs {
        let job = Job {
            waiter: Waiter {
                client: WAITER,
                seq: TAKE,
                part: m,
            },
            payload,
            replies: 1,
        };
        if pool.submit_handover(m, job).is_err() {
            failed.push(m);
        }
    }
    if let Some(t) = srv.cluster.as_mut() {
        for m in failed {
            let w = &mut t.handover.walks[m];
            w.in_flight = false;
            w.retry_at = Some(now + RETRY);
        }
    }
}

/// A background hand-over job finished (reactor).
pub fn done(srv: &mut Server, d: super::relay::Done) {
    match d.waiter.seq {
        TAKE => walked(srv, d.waiter.part, d.result),
        id => lock_pulled(srv, id, d.result),
    }
}

fn walked(srv: &mut Server, member: usize, result: Result<Vec<u8>, String>) {
    let parsed = result.ok().and_then(|r| match parse(&r) {
        Some(Value::Array(items)) => Some(items),
        _ => None,
    });
    let Some(items) = parsed.filter(|i| i.len() >= 3 && i.len() % 2 == 1) else {
        if let Some(w) = walk_mut(srv, member) {
            let now = Instant::now();
            w.in_flight = false;
            w.slow = w.sent_at.is_some_and(|s| now - s > SLOW);
            w.retry_at = Some(now + RETRY);
        }
        return;
    };
    let mut it = items.into_iter();
    let (Some(Value::Bulk(run_id)), Some(Value::Int(db)), Some(Value::Int(cur))) =
        (it.next(), it.next(), it.next())
    else {
        return;
    };
    let db_guess = walk_mut(srv, member).map_or(0, |w| w.db);
    let entries: Vec<Value> = it.collect();
    install_entries(srv, db_guess, entries);
    srv.handle_ready_keys();
    let Some(t) = srv.cluster.as_mut() else {
        return;
    };
    let h = &mut t.handover;
    let w = &mut h.walks[member];
    w.in_flight = false;
    w.slow = false;
    w.retry_at = None;
    if w.run_id.as_ref().is_some_and(|r| *r != run_id) {
        // The peer restarted: its keyspace is walked again.
        log::info!(
            "Cluster hand-over: {} restarted, walking its keys again",
            t.members[member].addr
        );
        w.db = 0;
        w.cursor = u64::MAX;
        w.run_id = Some(run_id);
        return;
    }
    w.run_id = Some(run_id);
    if db < 0 {
        w.done = true;
        h.refresh();
        log::info!(
            "Cluster hand-over: every key {} held for this node has arrived",
            t.members[member].addr
        );
    } else {
        w.db = db as usize;
        w.cursor = cur.max(0) as u64;
    }
}

fn walk_mut(srv: &mut Server, member: usize) -> Option<&mut Walk> {
    srv.cluster
        .as_mut()
        .and_then(|t| t.handover.walks.get_mut(member))
}

fn parse(r: &[u8]) -> Option<Value> {
    match parse_value(r, &ReplyLimits::default()) {
        Ok(Some((v, _))) => Some(v),
        _ => None,
    }
}

/// Installs a GIVE / TAKE reply's `key blob` pairs into `db`.
fn install_reply(srv: &mut Server, db: usize, r: &[u8]) {
    if let Some(Value::Array(items)) = parse(r) {
        install_entries(srv, db, items);
    }
}

/// Installs `key blob` pairs into `db`, each only if the key is absent
/// here (a write made here since wins), as one MULTI ... EXEC in the AOF.
fn install_entries(srv: &mut Server, db: usize, items: Vec<Value>) {
    if items.is_empty() || db >= srv.store.db_count() {
        return;
    }
    let mark = srv.store.prop.mark();
    let mut tmp = Client::internal(0);
    tmp.db = db;
    let mut it = items.into_iter();
    let mut n = 0;
    while let (Some(Value::Bulk(key)), Some(Value::Bulk(blob))) = (it.next(), it.next()) {
        srv.store.expire_if_needed(db, &key);
        if srv.store.db(db).keys().contains_key(&key[..]) {
            continue;
        }
        match super::tx::decode_blob(&key, &blob) {
            Ok(cmds) => {
                for argv in &cmds {
                    let a = argv.as_args();
                    if let Ok(spec) = commands::resolve(&a) {
                        let _ = commands::call(srv, &mut tmp, spec, &a);
                    }
                    tmp.reply.buf.clear();
                }
                n += 1;
            }
            Err(e) => log::warn!("Cluster hand-over: {e}"),
        }
    }
    srv.store.prop.wrap_multi(mark);
    if let Some(t) = srv.cluster.as_mut() {
        t.handover.received += n;
    }
}

// ---- holder side ------------------------------------------------------------

/// `MEMKV.TAKE` / `MEMKV.GIVE` from a peer connection. Returns false if
/// `args` is neither.
pub fn serve(srv: &mut Server, c: &mut Client, args: &Args) -> bool {
    let name = &args[0];
    let take = name.eq_ignore_ascii_case(b"memkv.take");
    if !take && !name.eq_ignore_ascii_case(b"memkv.give") {
        return false;
    }
    if srv.loading.is_some() {
        c.reply
            .error("LOADING Redis is loading the dataset in memory");
        return true;
    }
    if take {
        serve_take(srv, c, args);
    } else {
        serve_give(srv, c, args);
    }
    true
}

fn parse_num(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// `MEMKV.TAKE <asker> <db> <cursor>`: one slice of the walk; replies
/// `[run_id, next_db (-1: done), next_cursor, key, blob, ...]`.
fn serve_take(srv: &mut Server, c: &mut Client, args: &Args) {
    let asker = args.get(1).and_then(parse_num);
    let db = args.get(2).and_then(parse_num);
    let cursor = args.get(3).and_then(parse_num);
    let (Some(asker), Some(db), Some(cursor), 4) = (asker, db, cursor, args.len()) else {
        return c.reply.error("ERR memkv cluster: malformed TAKE");
    };
    let (asker, db) = (asker as usize, db as usize);
    let Some(t) = srv.cluster.as_ref() else {
        return c
            .reply
            .error("ERR memkv cluster: this node is not in cluster mode");
    };
    if asker >= t.members.len() || t.is_me(asker) {
        return c.reply.error("ERR memkv cluster: malformed TAKE");
    }
    let dbs = srv.store.db_count();
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let (next_db, next_cursor) = if db >= dbs {
        (-1, 0)
    } else {
        let d = srv.store.db(db);
        let map = d.keys();
        let mut at = cursor.min(map.len() as u64);
        let mut visited = 0;
        let mut bytes = 0;
        while at > 0 && visited < VISIT_MAX && bytes < BYTES_MAX {
            at -= 1;
            visited += 1;
            let Some((k, v)) = map.get_index(at as usize) else {
                continue;
            };
            if t.owner_of_key(k) != asker || srv.store.is_expired(db, k) {
                continue;
            }
            let mut blob = Vec::new();
            crate::store::snapshot::serialize_entry(&mut blob, k, v, d.expires().get(k).copied());
            bytes += blob.len() + k.len();
            out.push((k.to_vec(), blob));
        }
        match at {
            0 if db + 1 >= dbs => (-1, 0),
            0 => (db as i64 + 1, u64::MAX),
            _ => (db as i64, at),
        }
    };
    let keys: Vec<&[u8]> = out.iter().map(|(k, _)| &k[..]).collect();
    given(srv, db, asker, &keys);
    if next_db < 0
        && let Some(t) = srv.cluster.as_mut()
    {
        t.handover.left[asker] = 0;
    }
    c.reply.array(3 + out.len() * 2);
    c.reply.bulk(srv.run_id.as_bytes());
    c.reply.int(next_db);
    // A cursor above i64::MAX means "from the top": the asker's next
    // request clamps it to the map's length.
    c.reply.int(next_cursor.min(i64::MAX as u64) as i64);
    for (k, blob) in &out {
        c.reply.bulk(k);
        c.reply.bulk(blob);
    }
}

/// `MEMKV.GIVE <db> key...`: gives the listed keys held here that this
/// node does not own; replies `[key, blob, ...]` for those it had.
fn serve_give(srv: &mut Server, c: &mut Client, args: &Args) {
    let dbs = srv.store.db_count();
    let Some(db) = args
        .get(1)
        .and_then(parse_num)
        .map(|d| d as usize)
        .filter(|&d| d < dbs && args.len() > 2)
    else {
        return c.reply.error("ERR memkv cluster: malformed GIVE");
    };
    let Some(t) = srv.cluster.as_ref() else {
        return c
            .reply
            .error("ERR memkv cluster: this node is not in cluster mode");
    };
    let mut out: Vec<(Vec<u8>, Vec<u8>, usize)> = Vec::new();
    for key in args.iter().skip(2) {
        let owner = t.owner_of_key(key);
        if t.is_me(owner) || srv.store.is_expired(db, key) || out.iter().any(|o| o.0 == key) {
            continue;
        }
        let d = srv.store.db(db);
        let Some(v) = d.keys().get(key) else {
            continue;
        };
        let mut blob = Vec::new();
        crate::store::snapshot::serialize_entry(&mut blob, key, v, d.expires().get(key).copied());
        out.push((key.to_vec(), blob, owner));
    }
    for (k, _, owner) in &out {
        given(srv, db, *owner, &[k]);
    }
    c.reply.array(out.len() * 2);
    for (k, blob, _) in &out {
        c.reply.bulk(k);
        c.reply.bulk(blob);
    }
}

/// Deletes keys just given to `owner` through the choke point (a DEL in
/// this node's AOF).
fn given(srv: &mut Server, db: usize, owner: usize, keys: &[&[u8]]) {
    if keys.is_empty() {
        return;
    }
    let mut tmp = Client::internal(0);
    tmp.db = db;
    let argv = OwnedArgs::from_slices(std::iter::once(&b"DEL"[..]).chain(keys.iter().copied()));
    let a = argv.as_args();
    if let Ok(spec) = commands::resolve(&a) {
        let _ = commands::call(srv, &mut tmp, spec, &a);
    }
    if let Some(t) = srv.cluster.as_mut() {
        let n = keys.len() as u64;
        t.handover.sent += n;
        if let Some(l) = t.handover.left.get_mut(owner) {
            *l = l.saturating_sub(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_of_one_has_nothing_to_walk() {
        let h = Handover::new(1, 0);
        assert!(!h.active);
        assert_eq!(h.peers_pending(), 0);
        let mut h = Handover::new(3, 1);
        assert!(h.active);
        assert_eq!(h.peers_pending(), 2);
        h.walks[0].done = true;
        h.walks[2].done = true;
        h.refresh();
        assert!(!h.active);
    }
}
