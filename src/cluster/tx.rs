//! Atomic cross-node commands: lock, fetch, compute, commit (design.md,
//! "Cross-node execution"). Owns the lock table, the participant side
//! (`MEMKV.LOCK` / `MEMKV.COMMIT` / `MEMKV.ABORT` / `MEMKV.WATCH` /
//! `MEMKV.UNWATCH`, accepted only on peer connections) and the
//! coordinator's state machine.
//!
//! Coordinator (the node the client talks to), for a command whose keys
//! live on several nodes:
//! 1. lock its own keys in the lock table and send every other owner
//!    `MEMKV.LOCK txid w|r wid db key [db key ...]` (on the relay's control
//!    connection); each answers the current state of its keys (the AOF
//!    rewrite's `serialize_entry` commands, or null for a missing key) or
//!    `TRYAGAIN` when a key is held by another transaction (no waiting: the
//!    coordinator aborts everywhere and retries after a jittered backoff,
//!    bounded by `cluster-node-timeout`, so there is no deadlock);
//! 2. install the fetched keys in its store under the rollback journal, run
//!    the command there, read back every key's new state, roll it all back
//!    (nothing propagated): the reply is kept;
//! 3. send `MEMKV.COMMIT txid db key blob ...` to each owner whose keys
//!    changed (an empty blob deletes), `MEMKV.ABORT` to the others; once
//!    every COMMIT is acknowledged it applies its own part and answers.
//!
//! Participant: a locked key parks every other command that touches it
//! (reads too, under a write lock; writes only, under a read lock) until
//! the unlock. COMMIT applies the changes through the store's choke point as
//! one MULTI ... EXEC in the AOF (WATCH invalidated, blocked clients served)
//! and unlocks. A lock with no decision after half of
//! `cluster-node-timeout` is dropped by the cron, so no lock outlives a dead
//! coordinator (and a relayed command parked on it is answered before its
//! relay times out).
//!
//! WATCH of a key on another node: the owner watches it on the client's
//! behalf under a watch id (`MEMKV.WATCH` / `MEMKV.UNWATCH`); EXEC carries
//! that id in its LOCK, and the owner answers `WATCHFAILED` if it changed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::relay::{Job, Waiter, encode_command};
use super::route::{Combine, Pending, Slot};
use crate::commands::{self, Args, CommandSpec, OwnedArgs, flags, transaction};
use crate::resp::response::{ReplyLimits, Value, parse_value};
use crate::server::{Client, Park, Server};

/// A transaction id (unique per coordinator start and counter).
pub type Txid = Vec<u8>;
type DbKey = (usize, Vec<u8>);
/// A key's new state: (db, key, blob); an empty blob deletes it.
type Change = (usize, Vec<u8>, Vec<u8>);

/// How long a writer refused by readers keeps new readers out.
const WRITER_INTENT: Duration = Duration::from_millis(50);
/// Park reason of a command waiting for a lock to go.
const LOCKED: &str = "cluster-lock";
/// Park reason of the coordinating client (same as routing's, so
/// `route::may_resume` treats it alike).
const RELAY: &str = "relay";

#[derive(Debug, Clone)]
struct Holder {
    exclusive: bool,
    txs: Vec<Txid>,
}

/// The lock table of one node: keys held by cross-node transactions.
#[derive(Debug, Clone)]
pub struct Locks {
    keys: HashMap<DbKey, Holder>,
    /// Each transaction's deadline and keys.
    txs: HashMap<Txid, (Instant, Vec<DbKey>)>,
    /// Clients parked on a locked key (ids): all retry at any unlock.
    waiters: Vec<u64>,
    /// Keys a writer was refused on because readers held them: new read
    /// locks are refused until then, so readers cannot starve writers.
    intents: HashMap<DbKey, Instant>,
    /// WATCHes held here for clients of other nodes: watch id -> keys.
    peer_watches: HashMap<u64, Vec<(usize, crate::store::Key)>>,
    /// Keys on other nodes watched by clients here: client id -> (member,
    /// db, key).
    watching: HashMap<u64, Vec<(usize, usize, Vec<u8>)>>,
    prefix: String,
    next: u64,
}

impl Locks {
    pub fn new(me: usize) -> Locks {
        Locks {
            keys: HashMap::new(),
            txs: HashMap::new(),
            waiters: Vec::new(),
            intents: HashMap::new(),
            peer_watches: HashMap::new(),
            watching: HashMap::new(),
            // A restarted coordinator never reuses an id a peer may still hold.
            prefix: format!("{me}.{}", crate::store::unix_ms()),
            next: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    fn next_txid(&mut self) -> Txid {
        self.next += 1;
        format!("{}.{}", self.prefix, self.next).into_bytes()
    }

    /// Locks every key or none: false if one is held by another
    /// transaction in a conflicting mode.
    pub fn try_lock(
        &mut self,
        tx: &[u8],
        exclusive: bool,
        keys: &[DbKey],
        deadline: Instant,
    ) -> bool {
        let now = Instant::now();
        for k in keys {
            if let Some(h) = self.keys.get(k) {
                let only_mine = h.txs.iter().all(|t| t == tx);
                if !only_mine && (exclusive || h.exclusive) {
                    if exclusive && !h.exclusive {
                        self.intents.insert(k.clone(), now + WRITER_INTENT);
                    }
                    return false;
                }
            }
            if !exclusive && self.intents.get(k).is_some_and(|&until| until > now) {
                return false;
            }
        }
        if exclusive {
            for k in keys {
                self.intents.remove(k);
            }
        }
        if self.intents.len() > 1024 {
            self.intents.retain(|_, until| *until > now);
        }
        let entry = self
            .txs
            .entry(tx.to_vec())
            .or_insert_with(|| (deadline, Vec::new()));
        for k in keys {
            let h = self.keys.entry(k.clone()).or_insert_with(|| Holder {
                exclusive,
                txs: Vec::new(),
            });
            h.exclusive |= exclusive;
            if !h.txs.iter().any(|t| t == tx) {
                h.txs.push(tx.to_vec());
                entry.1.push(k.clone());
            }
        }
        true
    }

    pub fn holds(&self, tx: &[u8]) -> bool {
        self.txs.contains_key(tx)
    }

    /// Drops a transaction's locks; false if it held none.
    pub fn release(&mut self, tx: &[u8]) -> bool {
        let Some((_, keys)) = self.txs.remove(tx) else {
            return false;
        };
        for k in keys {
            if let Some(h) = self.keys.get_mut(&k) {
                h.txs.retain(|t| t != tx);
                if h.txs.is_empty() {
                    self.keys.remove(&k);
                }
            }
        }
        true
    }

    /// Whether a plain command reading (or writing) `key` must wait.
    pub fn blocks(&self, db: usize, key: &[u8], write: bool) -> bool {
        self.keys
            .get(&(db, key.to_vec()))
            .is_some_and(|h| write || h.exclusive)
    }

    fn expired(&self, now: Instant) -> Vec<Txid> {
        self.txs
            .iter()
            .filter(|(_, (d, _))| *d <= now)
            .map(|(t, _)| t.clone())
            .collect()
    }
}

fn locks(srv: &mut Server) -> Option<&mut Locks> {
    srv.cluster.as_mut().map(|t| &mut t.locks)
}

fn node_timeout(srv: &Server) -> Duration {
    Duration::from_millis(srv.config.cluster_node_timeout.max(1))
}

/// How long a lock may wait for its decision: half the node timeout, so a
/// relayed command parked on it is answered before its relay times out
/// (which would mark this node down).
fn lock_timeout(srv: &Server) -> Duration {
    node_timeout(srv) / 2
}

/// Releases `tx` here and lets the clients parked on locks retry.
fn unlock(srv: &mut Server, tx: &[u8]) -> bool {
    let Some(l) = locks(srv) else { return false };
    let held = l.release(tx);
    let waiters = std::mem::take(&mut l.waiters);
    for id in waiters {
        if let Some(&tok) = srv.client_ids.get(&id)
            && let Some(Some(w)) = srv.clients.get_mut(tok)
            && w.park == Some(Park::Waiting(LOCKED))
        {
            w.park = None;
            srv.unparked.push(tok);
        }
    }
    held
}

/// Cron: drops the locks whose transaction heard no decision in time.
pub fn cron(srv: &mut Server) {
    let Some(l) = locks(srv) else { return };
    if l.is_empty() {
        return;
    }
    for tx in l.expired(Instant::now()) {
        log::warn!(
            "Cluster transaction {} heard no decision within cluster-node-timeout: aborted",
            String::from_utf8_lossy(&tx)
        );
        unlock(srv, &tx);
    }
}

/// Before a command runs here: true if it touches a locked key, in which
/// case it was deferred (parked, unexecuted) until an unlock.
pub fn must_wait(
    srv: &mut Server,
    c: &mut Client,
    spec: &'static CommandSpec,
    args: &Args,
) -> bool {
    let Some(topo) = srv.cluster.as_ref() else {
        return false;
    };
    let l = &topo.locks;
    if l.is_empty() || (c.multi.is_some() && !transaction::runs_inside_multi(spec)) {
        return false;
    }
    let mut keys = Vec::new();
    let touches = |spec: &'static CommandSpec, args: &Args, db: usize, keys: &mut Vec<usize>| {
        if matches!(spec.name, "flushdb" | "flushall" | "swapdb") {
            return true;
        }
        if commands::command_keys(spec, args, keys).is_err() {
            return false;
        }
        let write = spec.has(flags::WRITE);
        keys.iter().any(|&i| l.blocks(db, &args[i], write))
    };
    let wait = match (spec.name, c.multi.as_ref()) {
        ("exec", Some(m)) => m
            .queue
            .iter()
            .any(|(s, a)| touches(s, &a.as_args(), c.db, &mut keys)),
        _ => touches(spec, args, c.db, &mut keys),
    };
    if wait {
        if let Some(l) = locks(srv) {
            l.waiters.push(c.id);
        }
        c.deferred = true;
        c.park = Some(Park::Waiting(LOCKED));
    }
    wait
}

// ---- the codec: a key's state as the commands that recreate it ----------

/// The state of `key` as `serialize_entry` commands (None: no such key).
fn entry_blob(srv: &mut Server, db: usize, key: &[u8]) -> Option<Vec<u8>> {
    srv.store.expire_if_needed(db, key);
    let d = srv.store.db(db);
    let v = d.keys().get(key)?;
    let mut out = Vec::new();
    crate::store::snapshot::serialize_entry(&mut out, key, v, d.expires().get(key).copied());
    Some(out)
}

/// The commands `serialize_entry` may write (nothing else is applied).
const ENTRY_COMMANDS: &[&[u8]] = &[b"SET", b"RPUSH", b"HMSET", b"SADD", b"ZADD", b"PEXPIREAT"];

/// Decodes a blob of `key`: each command must be one `serialize_entry`
/// writes, on that key.
pub fn decode_blob(key: &[u8], blob: &[u8]) -> Result<Vec<OwnedArgs>, String> {
    let bad = || "ERR memkv cluster: malformed key state from a peer".to_string();
    let lim = ReplyLimits::default();
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < blob.len() {
        let Ok(Some((Value::Array(items), n))) = parse_value(&blob[pos..], &lim) else {
            return Err(bad());
        };
        pos += n;
        let mut argv = Vec::with_capacity(items.len());
        for it in items {
            let Value::Bulk(b) = it else {
                return Err(bad());
            };
            argv.push(b);
        }
        let ok = argv.len() >= 3
            && ENTRY_COMMANDS
                .iter()
                .any(|c| argv[0].eq_ignore_ascii_case(c))
            && argv[1] == key;
        if !ok {
            return Err(bad());
        }
        out.push(OwnedArgs::from_slices(argv.iter()));
    }
    Ok(out)
}

/// Runs an internal command (no lock check, propagated as executed).
fn run(srv: &mut Server, tmp: &mut Client, argv: &OwnedArgs) {
    let a = argv.as_args();
    if let Ok(spec) = commands::resolve(&a) {
        let _ = commands::call(srv, tmp, spec, &a);
    }
    tmp.reply.buf.clear();
}

/// Applies new key states (empty blob: deleted) through the choke point,
/// as one MULTI ... EXEC in the AOF.
fn apply(srv: &mut Server, changes: &[Change]) -> Result<(), String> {
    let mut decoded = Vec::with_capacity(changes.len());
    for (db, key, blob) in changes {
        if *db >= srv.store.db_count() {
            return Err("ERR DB index is out of range".into());
        }
        decoded.push((*db, key, decode_blob(key, blob)?));
    }
    let mark = srv.store.prop.mark();
    let mut tmp = Client::internal(0);
    for (db, key, cmds) in decoded {
        tmp.db = db;
        run(srv, &mut tmp, &OwnedArgs::from_slices([&b"DEL"[..], key]));
        for argv in &cmds {
            run(srv, &mut tmp, argv);
        }
    }
    srv.store.prop.wrap_multi(mark);
    Ok(())
}

// ---- participant ----------------------------------------------------------

/// `MEMKV.LOCK` / `MEMKV.COMMIT` / `MEMKV.ABORT` from a peer connection.
/// Returns false if `args` is none of them.
pub fn serve(srv: &mut Server, c: &mut Client, args: &Args) -> bool {
    let name = &args[0];
    if name.eq_ignore_ascii_case(b"memkv.lock") {
        serve_lock(srv, c, args);
    } else if name.eq_ignore_ascii_case(b"memkv.commit") {
        serve_commit(srv, c, args);
    } else if name.eq_ignore_ascii_case(b"memkv.watch") {
        serve_watch(srv, c, args);
    } else if name.eq_ignore_ascii_case(b"memkv.unwatch") {
        match args.get(1).and_then(parse_u64) {
            Some(wid) => {
                peer_unwatch(srv, wid);
                c.reply.ok();
            }
            None => c.reply.error("ERR memkv cluster: malformed UNWATCH"),
        }
    } else if name.eq_ignore_ascii_case(b"memkv.abort") {
        match args.get(1) {
            Some(tx) => {
                let tx = tx.to_vec();
                unlock(srv, &tx);
                c.reply.ok();
            }
            None => c.reply.error("ERR memkv cluster: malformed ABORT"),
        }
    } else {
        return false;
    }
    true
}

/// Watch ids use all 64 bits.
fn parse_u64(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn parse_db(srv: &Server, b: &[u8]) -> Option<usize> {
    crate::number::parse_i64(b)
        .filter(|&d| d >= 0 && (d as usize) < srv.store.db_count())
        .map(|d| d as usize)
}

/// `MEMKV.WATCH wid db key...`: WATCH on behalf of a client of another
/// node (`wid` is its node-wide watch id, never a local client id).
fn serve_watch(srv: &mut Server, c: &mut Client, args: &Args) {
    let wid = args.get(1).and_then(parse_u64);
    let db = args.get(2).and_then(|b| parse_db(srv, b));
    let (Some(wid), Some(db)) = (wid, db) else {
        return c.reply.error("ERR memkv cluster: malformed WATCH");
    };
    for key in args.iter().skip(3) {
        let k = (db, crate::store::Key::new(key));
        let Some(l) = locks(srv) else { break };
        let ks = l.peer_watches.entry(wid).or_default();
        if !ks.contains(&k) {
            ks.push(k);
            srv.store.watch(wid, db, key);
        }
    }
    c.reply.ok();
}

fn peer_unwatch(srv: &mut Server, wid: u64) {
    if let Some(keys) = locks(srv).and_then(|l| l.peer_watches.remove(&wid)) {
        srv.store.unwatch_all(wid, keys.iter());
    }
}

/// The watch id under which other nodes watch keys for client `id` of
/// member `me` (bit 63 set: never a client id there).
pub fn watch_id(me: usize, id: u64) -> u64 {
    (1 << 63) | ((me as u64 & 0x7fff) << 48) | (id & ((1 << 48) - 1))
}

/// Records that client `id` watches `key` (db) on `member`; false if it
/// already did.
pub fn note_watch(srv: &mut Server, id: u64, member: usize, db: usize, key: &[u8]) -> bool {
    let Some(l) = locks(srv) else { return false };
    let w = l.watching.entry(id).or_default();
    if w.iter()
        .any(|(m, d, k)| *m == member && *d == db && k == key)
    {
        return false;
    }
    w.push((member, db, key.to_vec()));
    true
}

pub fn has_watches(srv: &Server, id: u64) -> bool {
    srv.cluster
        .as_ref()
        .is_some_and(|t| t.locks.watching.contains_key(&id))
}

/// UNWATCH, DISCARD, EXEC, disconnect: forgets client `id`'s watches of
/// keys on other nodes (and tells those nodes).
pub fn drop_watches(srv: &mut Server, id: u64) {
    let Some(w) = locks(srv).and_then(|l| l.watching.remove(&id)) else {
        return;
    };
    let mut members: Vec<usize> = w.iter().map(|(m, _, _)| *m).collect();
    members.sort_unstable();
    members.dedup();
    unwatch_members(srv, id, &members);
}

fn unwatch_members(srv: &mut Server, id: u64, members: &[usize]) {
    let wid = watch_id(me(srv), id).to_string();
    for &m in members {
        let mut p = Vec::new();
        encode_command(&mut p, [&b"MEMKV.UNWATCH"[..], wid.as_bytes()].into_iter());
        // On the client's own relay connection, where its MEMKV.WATCH went:
        // a late UNWATCH of the last transaction must not reach the peer
        // after the next WATCH (it would find that watch already dirty).
        if let Some(pool) = srv.relay.as_mut() {
            let job = Job {
                waiter: Waiter {
                    client: 0,
                    seq: 0,
                    part: 0,
                },
                payload: p,
                replies: 1,
            };
            let _ = pool.submit_for_client(m, id, job);
        }
    }
}

/// `MEMKV.LOCK txid w|r wid [db key ...]` (wid 0: no WATCH to check).
fn serve_lock(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() < 4 || !(args.len() - 4).is_multiple_of(2) {
        return c.reply.error("ERR memkv cluster: malformed LOCK");
    }
    let tx = args[1].to_vec();
    let exclusive = &args[2] == b"w";
    let Some(wid) = parse_u64(&args[3]) else {
        return c.reply.error("ERR memkv cluster: malformed LOCK");
    };
    if wid == 0 && args.len() == 4 {
        return c.reply.error("ERR memkv cluster: malformed LOCK");
    }
    let mut keys = Vec::with_capacity((args.len() - 4) / 2);
    for i in (4..args.len()).step_by(2) {
        let Some(db) = parse_db(srv, &args[i]) else {
            return c.reply.error("ERR DB index is out of range");
        };
        keys.push((db, args[i + 1].to_vec()));
    }
    // A key a peer may still hold after a membership change: pulled in
    // the background, and the coordinator retries.
    if crate::cluster::handover::lock_must_wait(srv, &keys) {
        return c.reply.error(BUSY);
    }
    let deadline = Instant::now() + lock_timeout(srv);
    let Some(l) = locks(srv) else {
        return c
            .reply
            .error("ERR memkv cluster: this node is not in cluster mode");
    };
    if !l.try_lock(&tx, exclusive, &keys, deadline) {
        return c.reply.error(BUSY);
    }
    if wid != 0 {
        // A watch lost here (say, by a restart) counts as changed.
        let failed = match l.peer_watches.get(&wid).cloned() {
            Some(w) => srv.store.watch_failed(wid, w.iter()),
            None => true,
        };
        if failed {
            unlock(srv, &tx);
            return c
                .reply
                .error("WATCHFAILED memkv cluster: a watched key changed");
        }
    }
    c.reply.array(keys.len());
    for (db, key) in &keys {
        match entry_blob(srv, *db, key) {
            Some(b) => c.reply.bulk(&b),
            None => c.reply.null(),
        }
    }
}

/// `MEMKV.COMMIT txid db key blob [db key blob ...]`.
fn serve_commit(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() < 2 || !(args.len() - 2).is_multiple_of(3) {
        return c.reply.error("ERR memkv cluster: malformed COMMIT");
    }
    let tx = args[1].to_vec();
    if !srv.cluster.as_ref().is_some_and(|t| t.locks.holds(&tx)) {
        return c.reply.error(&format!(
            "ERR memkv cluster: transaction {} holds no lock here (timed out or aborted)",
            String::from_utf8_lossy(&tx)
        ));
    }
    let mut changes = Vec::with_capacity((args.len() - 2) / 3);
    for i in (2..args.len()).step_by(3) {
        let Some(db) = parse_db(srv, &args[i]) else {
            unlock(srv, &tx);
            return c.reply.error("ERR DB index is out of range");
        };
        changes.push((db, args[i + 1].to_vec(), args[i + 2].to_vec()));
    }
    let r = apply(srv, &changes);
    unlock(srv, &tx);
    match r {
        Ok(()) => c.reply.ok(),
        Err(e) => c.reply.error(&e),
    }
}

const BUSY: &str = "TRYAGAIN memkv cluster: a key is locked by another cross-node transaction";

// ---- coordinator ----------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Locking,
    Backoff,
    Committing,
}

/// A cross-node command in flight (inside the client's relay queue).
pub struct TxState {
    txid: Txid,
    work: Work,
    db: usize,
    exclusive: bool,
    /// Keys by owner (self included), deduplicated.
    owners: Vec<(usize, Vec<DbKey>)>,
    /// The member each part of the pending operation was sent to.
    asked: Vec<usize>,
    phase: Phase,
    attempt: u32,
    started: Instant,
    reply: Vec<u8>,
    local: Vec<Change>,
    /// Members holding WATCHes of the client (checked in their LOCK).
    watched: Vec<usize>,
}

/// What the transaction runs.
enum Work {
    /// One command.
    Command(&'static CommandSpec, OwnedArgs),
    /// A MULTI queue; the client's database after it (its SELECTs).
    Exec {
        queue: Vec<(&'static CommandSpec, OwnedArgs)>,
        db_after: usize,
    },
}

impl std::fmt::Debug for TxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.work {
            Work::Command(spec, _) => spec.name,
            Work::Exec { .. } => "exec",
        };
        write!(
            f,
            "Tx({} {what} {:?})",
            String::from_utf8_lossy(&self.txid),
            self.phase
        )
    }
}

/// Whether a command spanning nodes cannot take the atomic path.
pub fn unsupported(spec: &'static CommandSpec, args: &Args) -> bool {
    spec.has(flags::BLOCKING) || writes_other_db(spec, args)
}

/// MOVE and COPY ... DB write a key in another database, which is not among
/// the keys the transaction locks and commits.
pub fn writes_other_db(spec: &'static CommandSpec, args: &Args) -> bool {
    spec.name == "move"
        || (spec.name == "copy" && args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"db")))
}

/// Starts the atomic cross-node path for a command whose keys (argv
/// indexes `keys`) live on several nodes; the client stays parked until it
/// is answered.
pub fn begin(
    srv: &mut Server,
    c: &mut Client,
    spec: &'static CommandSpec,
    args: &Args,
    keys: &[usize],
) -> bool {
    let keys: Vec<DbKey> = keys.iter().map(|&i| (c.db, args[i].to_vec())).collect();
    let work = Work::Command(spec, args.to_owned_args());
    start(srv, c, work, keys, spec.has(flags::WRITE), Vec::new());
    true
}

/// Starts a MULTI queue whose keys live on several nodes as one atomic
/// cross-node transaction (EXEC's reply, rollback and EXECABORT as on one
/// node). The caller has checked WATCH and cleared the client's MULTI.
pub fn begin_exec(srv: &mut Server, c: &mut Client, queue: Vec<(&'static CommandSpec, OwnedArgs)>) {
    let mut keys = Vec::new();
    let mut idx = Vec::new();
    let mut db = c.db;
    let mut exclusive = false;
    for (spec, argv) in &queue {
        let args = argv.as_args();
        if spec.name == "select"
            && let Some(d) = args.get(1).and_then(|b| parse_db(srv, b))
        {
            db = d;
        }
        exclusive |= spec.has(flags::WRITE);
        if commands::command_keys(spec, &args, &mut idx).is_ok() {
            keys.extend(idx.iter().map(|&i| (db, args[i].to_vec())));
        }
    }
    let work = Work::Exec {
        queue,
        db_after: db,
    };
    let mut watched: Vec<usize> = locks(srv)
        .and_then(|l| l.watching.remove(&c.id))
        .unwrap_or_default()
        .into_iter()
        .map(|(m, _, _)| m)
        .collect();
    watched.sort_unstable();
    watched.dedup();
    start(srv, c, work, keys, exclusive, watched.clone());
    if c.relay.is_empty() {
        // Answered already (a peer is down): the watches are over.
        unwatch_members(srv, c.id, &watched);
    }
}

fn start(
    srv: &mut Server,
    c: &mut Client,
    work: Work,
    keys: Vec<DbKey>,
    exclusive: bool,
    watched: Vec<usize>,
) {
    let Some(topo) = srv.cluster.as_mut() else {
        return;
    };
    let mut owners: Vec<(usize, Vec<DbKey>)> = Vec::new();
    for k in keys {
        let o = topo.owner_of_key(&k.1);
        match owners.iter_mut().find(|(m, _)| *m == o) {
            Some((_, ks)) if ks.contains(&k) => {}
            Some((_, ks)) => ks.push(k),
            None => owners.push((o, vec![k])),
        }
    }
    for &m in &watched {
        if !owners.iter().any(|(o, _)| *o == m) {
            owners.push((m, Vec::new()));
        }
    }
    let st = TxState {
        txid: topo.locks.next_txid(),
        work,
        db: c.db,
        exclusive,
        owners,
        asked: Vec::new(),
        phase: Phase::Locking,
        attempt: 0,
        started: Instant::now(),
        reply: Vec::new(),
        local: Vec::new(),
        watched,
    };
    lock_phase(srv, c, st);
}

/// Sends a message nobody waits for (ABORT), on the control connection.
fn fire(srv: &mut Server, member: usize, payload: Vec<u8>) {
    if let Some(pool) = srv.relay.as_mut() {
        let job = Job {
            waiter: Waiter {
                client: 0,
                seq: 0,
                part: 0,
            },
            payload,
            replies: 1,
        };
        let _ = pool.submit_control(member, job);
    }
}

fn abort_msg(tx: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    encode_command(&mut p, [&b"MEMKV.ABORT"[..], tx].into_iter());
    p
}

/// Aborts everywhere: the remote members in `members`, and here.
fn abort_all(srv: &mut Server, st: &TxState, members: &[usize]) {
    for &m in members {
        fire(srv, m, abort_msg(&st.txid));
    }
    unlock(srv, &st.txid);
}

fn me(srv: &Server) -> usize {
    srv.cluster.as_ref().map_or(0, |t| t.me)
}

/// Queues `st` as the client's operation with `parts` remote jobs pending.
fn park(c: &mut Client, seq: u64, parts: usize, st: TxState) {
    c.relay.push_back(Slot {
        op: Pending {
            seq,
            parts: (0..parts).map(|_| None).collect(),
            remaining: parts,
            combine: Combine::Tx(Box::new(st)),
        },
        after: Vec::new(),
    });
    c.park = Some(Park::Waiting(RELAY));
}

fn lock_phase(srv: &mut Server, c: &mut Client, mut st: TxState) {
    let me = me(srv);
    let deadline = Instant::now() + lock_timeout(srv);
    st.phase = Phase::Locking;
    st.asked.clear();
    if let Some(local) = st.owners.iter().find(|(m, _)| *m == me).map(|(_, k)| k)
        && let Some(l) = srv.cluster.as_mut().map(|t| &mut t.locks)
        && !l.try_lock(&st.txid, st.exclusive, local, deadline)
    {
        return retry(srv, c, st);
    }
    c.relay_seq += 1;
    let seq = c.relay_seq;
    let mode: &[u8] = if st.exclusive { b"w" } else { b"r" };
    let wid = watch_id(me, c.id).to_string();
    let mut dbs = Vec::new();
    for (m, keys) in st.owners.iter().filter(|(m, _)| *m != me) {
        dbs.clear();
        dbs.extend(keys.iter().map(|(d, _)| d.to_string()));
        let w: &[u8] = if st.watched.contains(m) {
            wid.as_bytes()
        } else {
            b"0"
        };
        let argv = [&b"MEMKV.LOCK"[..], &st.txid, mode, w].into_iter().chain(
            keys.iter()
                .zip(&dbs)
                .flat_map(|((_, k), d)| [d.as_bytes(), k.as_slice()]),
        );
        let mut payload = Vec::new();
        encode_command(&mut payload, argv);
        let job = Job {
            waiter: Waiter {
                client: c.id,
                seq,
                part: st.asked.len(),
            },
            payload,
            replies: 1,
        };
        let sent = match srv.relay.as_mut() {
            Some(pool) => pool.submit_control(*m, job),
            None => Err("CLUSTERDOWN memkv cluster: the relay is not running".into()),
        };
        if let Err(e) = sent {
            let asked = st.asked.clone();
            abort_all(srv, &st, &asked);
            return c.reply.error(&e);
        }
        st.asked.push(*m);
    }
    let n = st.asked.len();
    park(c, seq, n, st);
}

/// A lock was refused: abort (done by the caller) and try again after a
/// jittered backoff, or give up once the node timeout has passed.
fn retry(srv: &mut Server, c: &mut Client, mut st: TxState) {
    unlock(srv, &st.txid);
    if st.started.elapsed() >= node_timeout(srv) {
        return c.reply.error(BUSY);
    }
    st.attempt += 1;
    let cap = 1u64 << st.attempt.min(6);
    let jitter = srv.store.random_u64() % (cap * 1000);
    let delay = Duration::from_micros(200 + jitter);
    if let Some(l) = locks(srv) {
        st.txid = l.next_txid();
    }
    st.phase = Phase::Backoff;
    c.relay_seq += 1;
    let seq = c.relay_seq;
    let Some(pool) = srv.relay.as_ref() else {
        return c
            .reply
            .error("CLUSTERDOWN memkv cluster: the relay is not running");
    };
    pool.after(
        delay,
        Waiter {
            client: c.id,
            seq,
            part: 0,
        },
    );
    park(c, seq, 1, st);
}

/// The client's transaction operation finished a phase (reactor, from a
/// relay notice): runs the next one.
pub fn resume(srv: &mut Server, token: usize) {
    let Some(mut c) = srv.clients.get_mut(token).and_then(Option::take) else {
        return;
    };
    if let Some(s) = c.relay.pop_front() {
        let Pending { parts, combine, .. } = s.op;
        if let Combine::Tx(st) = combine {
            let watched = st.watched.clone();
            advance(srv, &mut c, parts, *st);
            if c.relay.is_empty() && !watched.is_empty() {
                unwatch_members(srv, c.id, &watched);
            }
        }
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
    srv.wake_writer(token);
    srv.handle_ready_keys();
}

fn advance(
    srv: &mut Server,
    c: &mut Client,
    parts: Vec<Option<Result<Vec<u8>, String>>>,
    st: TxState,
) {
    match st.phase {
        Phase::Backoff => lock_phase(srv, c, st),
        Phase::Locking => locked(srv, c, parts, st),
        Phase::Committing => committed(srv, c, parts, st),
    }
}

/// LOCK answers are in: compute, or abort (and retry on a conflict).
fn locked(
    srv: &mut Server,
    c: &mut Client,
    parts: Vec<Option<Result<Vec<u8>, String>>>,
    st: TxState,
) {
    let mut busy = false;
    let mut watch_failed = false;
    let mut failure: Option<String> = None;
    let mut fetched: Vec<(usize, Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let member = st.asked.get(i).copied().unwrap_or(usize::MAX);
        let keys = st
            .owners
            .iter()
            .find(|(m, _)| *m == member)
            .map(|(_, k)| k.as_slice())
            .unwrap_or_default();
        let bytes = match part {
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                failure.get_or_insert(e);
                continue;
            }
            None => {
                failure.get_or_insert_with(|| "ERR memkv cluster: a part is missing".into());
                continue;
            }
        };
        match parse_value(&bytes, &ReplyLimits::default()) {
            Ok(Some((Value::Error(e), _))) if e.starts_with(b"TRYAGAIN") => busy = true,
            Ok(Some((Value::Error(e), _))) if e.starts_with(b"WATCHFAILED") => watch_failed = true,
            Ok(Some((Value::Error(e), _))) => {
                failure.get_or_insert_with(|| String::from_utf8_lossy(&e).into_owned());
            }
            Ok(Some((Value::Array(items), _))) if items.len() == keys.len() => {
                for ((db, key), v) in keys.iter().zip(items) {
                    let blob = match v {
                        Value::Bulk(b) => Some(b),
                        _ => None,
                    };
                    fetched.push((*db, key.clone(), blob));
                }
            }
            _ => {
                failure.get_or_insert_with(|| {
                    "ERR memkv cluster: malformed LOCK reply from a peer".into()
                });
            }
        }
    }
    if busy || watch_failed || failure.is_some() {
        let asked = st.asked.clone();
        abort_all(srv, &st, &asked);
        return match failure {
            Some(e) => c.reply.error(&e),
            // As EXEC after a failed WATCH: a null array.
            None if watch_failed => c.reply.null_array(),
            None => retry(srv, c, st),
        };
    }
    compute(srv, c, fetched, st);
}

/// Runs the command against the fetched values plus the local keys, keeps
/// its reply and every key's new state, and undoes it all; then commits.
fn compute(
    srv: &mut Server,
    c: &mut Client,
    fetched: Vec<(usize, Vec<u8>, Option<Vec<u8>>)>,
    mut st: TxState,
) {
    let me = me(srv);
    let local_keys: Vec<DbKey> = st
        .owners
        .iter()
        .filter(|(m, _)| *m == me)
        .flat_map(|(_, k)| k.iter().cloned())
        .collect();
    let mut installs = Vec::with_capacity(fetched.len());
    for (db, key, blob) in &fetched {
        match blob.as_ref().map(|b| decode_blob(key, b)).transpose() {
            Ok(cmds) => installs.push((*db, key, cmds.unwrap_or_default())),
            Err(e) => {
                let asked = st.asked.clone();
                abort_all(srv, &st, &asked);
                return c.reply.error(&e);
            }
        }
    }
    let before: Vec<Option<Vec<u8>>> = local_keys
        .iter()
        .map(|(db, k)| entry_blob(srv, *db, k))
        .collect();
    srv.store.begin_journal();
    let pm = srv.store.prop.mark();
    let mut tmp = Client::internal(c.id);
    for (db, key, cmds) in &installs {
        tmp.db = *db;
        run(srv, &mut tmp, &OwnedArgs::from_slices([&b"DEL"[..], key]));
        for argv in cmds {
            run(srv, &mut tmp, argv);
        }
    }
    let db_before = c.db;
    c.db = st.db;
    let mark = c.reply.len();
    let ok = match &st.work {
        Work::Command(spec, argv) => commands::call(srv, c, spec, &argv.as_args()).is_ok(),
        Work::Exec { queue, .. } => run_queue(srv, c, queue),
    };
    st.reply = c.reply.buf[mark..].to_vec();
    c.reply.truncate(mark);
    c.db = db_before;
    let remote_after: Vec<Option<Vec<u8>>> = fetched
        .iter()
        .map(|(db, k, _)| entry_blob(srv, *db, k))
        .collect();
    let local_after: Vec<Option<Vec<u8>>> = local_keys
        .iter()
        .map(|(db, k)| entry_blob(srv, *db, k))
        .collect();
    srv.store.rollback_journal();
    srv.store.prop.restore(pm);
    if !ok {
        let asked = st.asked.clone();
        abort_all(srv, &st, &asked);
        return c.reply.raw(&st.reply);
    }
    st.local = local_keys
        .into_iter()
        .zip(before.into_iter().zip(local_after))
        .filter(|(_, (b, a))| b != a)
        .map(|((db, k), (_, a))| (db, k, a.unwrap_or_default()))
        .collect();
    // Per member: the changed keys.
    let mut per: Vec<(usize, Vec<Change>)> = Vec::new();
    let topo_owner = |srv: &Server, k: &[u8]| srv.cluster.as_ref().map_or(0, |t| t.owner_of_key(k));
    for ((db, key, blob), after) in fetched.into_iter().zip(remote_after) {
        if blob == after {
            continue;
        }
        let m = topo_owner(srv, &key);
        let change = (db, key, after.unwrap_or_default());
        match per.iter_mut().find(|(x, _)| *x == m) {
            Some((_, v)) => v.push(change),
            None => per.push((m, vec![change])),
        }
    }
    c.relay_seq += 1;
    let seq = c.relay_seq;
    let asked = std::mem::take(&mut st.asked);
    for m in asked {
        let Some((_, changes)) = per.iter().find(|(x, _)| *x == m) else {
            // Nothing changed there: just unlock.
            fire(srv, m, abort_msg(&st.txid));
            continue;
        };
        let dbs: Vec<String> = changes.iter().map(|(d, _, _)| d.to_string()).collect();
        let argv = [&b"MEMKV.COMMIT"[..], &st.txid].into_iter().chain(
            changes
                .iter()
                .zip(&dbs)
                .flat_map(|((_, k, b), d)| [d.as_bytes(), k.as_slice(), b.as_slice()]),
        );
        let mut payload = Vec::new();
        encode_command(&mut payload, argv);
        let job = Job {
            waiter: Waiter {
                client: c.id,
                seq,
                part: st.asked.len(),
            },
            payload,
            replies: 1,
        };
        let sent = match srv.relay.as_mut() {
            Some(pool) => pool.submit_control(m, job),
            None => Err("CLUSTERDOWN memkv cluster: the relay is not running".into()),
        };
        match sent {
            Ok(()) => st.asked.push(m),
            Err(e) => {
                // Not sent: that node times its lock out. The others that
                // were already sent COMMIT apply it (see README, Cluster).
                fire(srv, m, abort_msg(&st.txid));
                log::warn!("Cluster commit not delivered: {e}");
                st.reply = format!("-{e}\r\n").into_bytes();
            }
        }
    }
    st.phase = Phase::Committing;
    if st.asked.is_empty() {
        return committed(srv, c, Vec::new(), st);
    }
    let n = st.asked.len();
    park(c, seq, n, st);
}

/// Every COMMIT is acknowledged (or failed): apply the local part, unlock,
/// answer.
fn committed(
    srv: &mut Server,
    c: &mut Client,
    parts: Vec<Option<Result<Vec<u8>, String>>>,
    mut st: TxState,
) {
    for p in parts {
        match p {
            Some(Ok(b)) if b.first() != Some(&b'-') => {}
            Some(Ok(b)) => st.reply = b,
            Some(Err(e)) => st.reply = format!("-{e}\r\n").into_bytes(),
            None => {}
        }
    }
    let still_locked = srv
        .cluster
        .as_ref()
        .is_some_and(|t| t.locks.holds(&st.txid))
        || !st.owners.iter().any(|(m, _)| *m == me(srv));
    if still_locked {
        if let Err(e) = apply(srv, &st.local) {
            st.reply = format!("-{e}\r\n").into_bytes();
        }
    } else {
        st.reply = b"-CLUSTERDOWN memkv cluster: the transaction's local locks timed out before the commit was confirmed\r\n".to_vec();
    }
    unlock(srv, &st.txid);
    if let Work::Exec { db_after, .. } = st.work
        && st.reply.first() == Some(&b'*')
    {
        // The transaction ran: its SELECTs stay, as after a local EXEC.
        c.db = db_after;
    }
    c.reply.raw(&st.reply);
}

/// EXEC's loop over the fetched and local keys (as `transaction::exec`,
/// inside this module's journal): false if a command failed and
/// `multi-rollback` discards the transaction (the reply is EXECABORT).
fn run_queue(
    srv: &mut Server,
    c: &mut Client,
    queue: &[(&'static CommandSpec, OwnedArgs)],
) -> bool {
    let mark = c.reply.len();
    c.reply.array(queue.len());
    c.in_exec = true;
    let rollback = srv.config.multi_rollback;
    let mut failure = None;
    for (i, (spec, args)) in queue.iter().enumerate() {
        if let Err(e) = commands::call(srv, c, spec, &args.as_args())
            && rollback
        {
            failure = Some((i, spec.name, e));
            break;
        }
    }
    c.in_exec = false;
    let Some((i, name, e)) = failure else {
        return true;
    };
    c.reply.truncate(mark);
    c.reply.error(&format!(
        "EXECABORT Transaction rolled back: command #{} ({}) failed: {}",
        i + 1,
        name.to_ascii_uppercase(),
        e
    ));
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::snapshot::serialize_entry;

    fn k(db: usize, s: &str) -> DbKey {
        (db, s.as_bytes().to_vec())
    }

    #[test]
    fn locks_conflict_by_mode_and_release_everything() {
        let mut l = Locks::new(0);
        let far = Instant::now() + Duration::from_secs(60);
        assert!(l.try_lock(b"t1", true, &[k(0, "a"), k(0, "b")], far));
        // All or nothing: b is held, so c is not locked either.
        assert!(!l.try_lock(b"t2", false, &[k(0, "c"), k(0, "b")], far));
        assert!(!l.blocks(0, b"c", true));
        assert!(l.blocks(0, b"a", false) && l.blocks(0, b"a", true));
        assert!(!l.blocks(1, b"a", true), "locks are per database");
        assert!(l.release(b"t1") && !l.release(b"t1"));
        assert!(l.is_empty() && !l.blocks(0, b"a", true));
        // Shared locks admit each other and readers, not writers.
        assert!(l.try_lock(b"r1", false, &[k(0, "a")], far));
        assert!(l.try_lock(b"r2", false, &[k(0, "a")], far));
        assert!(!l.try_lock(b"w", true, &[k(0, "a")], far));
        assert!(!l.blocks(0, b"a", false) && l.blocks(0, b"a", true));
        // ... and the refused writer keeps new readers out meanwhile.
        assert!(!l.try_lock(b"r3", false, &[k(0, "a")], far));
        l.release(b"r1");
        assert!(l.blocks(0, b"a", true));
        l.release(b"r2");
        assert!(l.try_lock(b"w", true, &[k(0, "a")], far));
        // Expiry.
        assert!(l.try_lock(b"old", true, &[k(0, "z")], Instant::now()));
        assert_eq!(l.expired(Instant::now()), vec![b"old".to_vec()]);
        assert_ne!(l.next_txid(), l.next_txid());
    }

    #[test]
    fn key_states_round_trip_and_garbage_is_refused() {
        let mut out = Vec::new();
        let list = crate::store::Value::Str(crate::store::Sds::new(b"v"));
        serialize_entry(&mut out, b"key", &list, Some(123));
        let cmds = decode_blob(b"key", &out).unwrap();
        let got: Vec<Vec<Vec<u8>>> = cmds
            .iter()
            .map(|a| a.as_args().iter().map(<[u8]>::to_vec).collect())
            .collect();
        assert_eq!(
            got,
            vec![
                vec![b"SET".to_vec(), b"key".to_vec(), b"v".to_vec()],
                vec![b"PEXPIREAT".to_vec(), b"key".to_vec(), b"123".to_vec()]
            ]
        );
        // Another key, another command, or broken framing: refused.
        assert!(decode_blob(b"other", &out).is_err());
        let mut flush = Vec::new();
        encode_command(&mut flush, [&b"FLUSHALL"[..], b"key", b"x"].into_iter());
        assert!(decode_blob(b"key", &flush).is_err());
        assert!(decode_blob(b"key", &out[..out.len() - 3]).is_err());
        assert!(decode_blob(b"key", b"").unwrap().is_empty());
    }
}
