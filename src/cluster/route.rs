//! Routing: the one step of dispatch that decides where a command runs in
//! cluster mode, and the combining of answers that come back.
//!
//! Keys come from the one key extractor (`commands::command_keys`). All keys
//! here -> the caller runs the command as today. All on one peer -> the
//! command is relayed and the client parked until the reply arrives. Any
//! other command spanning nodes (MGET, MSET, RENAME, SUNIONSTORE...) takes
//! the atomic lock-fetch-compute-commit path of `tx` (blocking commands and
//! COPY ... DB are refused with CROSSSLOT). Whole-keyspace commands (DBSIZE,
//! KEYS, SCAN, RANDOMKEY, FLUSHDB, FLUSHALL, SWAPDB) gather a part from each
//! owner and combine them (the whole-keyspace writes are applied node by
//! node, not atomically across nodes). A MULTI whose keys are all on one
//! peer is relayed there as one unit; one spanning nodes is refused.
//!
//! The receiving side is here too: `MEMKV.HELLO` (the handshake, which
//! compares member-set fingerprints) and `MEMKV.RELAY <db> <proto> argv...`,
//! which runs argv with that database and protocol and never relays again.

use log::error;

use super::relay::{BlockingJob, Job, Waiter, encode_relay};
use crate::commands::{self, Args, CommandSpec, OwnedArgs, flags, transaction};
use crate::resp::response::{ReplyLimits, Value, parse_value, reply_len};
use crate::server::{Client, Park, Server};

/// How the parts of an operation become the client's reply.
#[derive(Debug)]
pub enum Combine {
    /// One part; its bytes are the reply.
    Verbatim,
    /// One part holding several replies: the last one is the reply (a
    /// relayed MULTI ... EXEC); if it ran, the client's database becomes
    /// the one its SELECTs left (as after a local EXEC).
    Last { db_after: usize },
    /// Integer replies added up (EXISTS, TOUCH, DBSIZE).
    Sum,
    /// Arrays concatenated (KEYS).
    Concat,
    /// One SCAN step on member `node` of `nodes`: the cursor is rewritten.
    Scan { node: usize, nodes: usize },
    /// One of the non-null replies at random (RANDOMKEY).
    Random,
    /// Every part must say OK (FLUSHDB, FLUSHALL).
    AllOk,
    /// A phase of an atomic cross-node command (`tx`): the reactor hands
    /// the finished operation to `tx::resume`.
    Tx(Box<super::tx::TxState>),
    /// Pub/Sub across nodes (`cluster::pubsub`): a part that failed (node
    /// down or timed out) counts as nothing.
    Live(Live),
    /// A pull of missing keys from peers still handing keys over
    /// (`handover`): the reactor hands it to `handover::pulled`.
    Pull,
}

/// How the live nodes' Pub/Sub answers combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// Integers added up (PUBLISH, SPUBLISH, PUBSUB NUMPAT).
    Sum,
    /// Name lists merged without duplicates (PUBSUB CHANNELS / SHARDCHANNELS).
    Union,
    /// `name count` pairs with the counts added up (PUBSUB NUMSUB /
    /// SHARDNUMSUB).
    NumSub,
    /// Name lists merged without duplicates, answered as their number
    /// (PUBSUB NUMPAT: a pattern subscribed on two nodes counts once).
    Count,
}

/// An operation in flight for a client.
#[derive(Debug)]
pub struct Pending {
    pub seq: u64,
    pub parts: Vec<Option<Result<Vec<u8>, String>>>,
    pub remaining: usize,
    pub combine: Combine,
}

/// An operation in a client's queue, and the replies of the local
/// commands that came after it (sent once it is answered).
#[derive(Debug)]
pub struct Slot {
    pub op: Pending,
    pub after: Vec<u8>,
}

/// Relayed commands a client may have in flight at once (its pipeline
/// keeps flowing); beyond this it waits.
const WINDOW: usize = 64;
/// Park reasons: `RELAY` waits for every operation in flight to finish
/// (gathers, barriers); `WINDOW_FULL` for a free place in the window.
pub(crate) const RELAY: &str = "relay";
const WINDOW_FULL: &str = "relay-window";

/// Whether a client parked by routing may run its next command now.
pub fn may_resume(c: &Client) -> bool {
    match &c.park {
        Some(Park::Waiting(r)) if *r == RELAY => c.relay.is_empty(),
        Some(Park::Waiting(r)) if *r == WINDOW_FULL => c.relay.len() < WINDOW,
        _ => false,
    }
}

/// Moves the reply bytes written since `mark` behind the last operation in
/// flight, so the client gets its replies in command order.
pub fn hold_behind(c: &mut Client, mark: usize) {
    if c.reply.len() <= mark {
        return;
    }
    if let Some(last) = c.relay.back_mut() {
        last.after.extend_from_slice(&c.reply.buf[mark..]);
        c.reply.truncate(mark);
    }
}

/// The command waits (unexecuted, parked) until `reason` is satisfied.
pub(crate) fn defer(c: &mut Client, reason: &'static str) -> bool {
    c.deferred = true;
    c.park = Some(Park::Waiting(reason));
    true
}

/// One part of an operation.
pub(crate) enum Part {
    /// Already computed here.
    Local(Vec<u8>),
    /// To be asked of a member.
    Remote {
        member: usize,
        payload: Vec<u8>,
        replies: usize,
    },
}

/// Bits of a SCAN cursor above this hold the member index.
const SCAN_NODE_SHIFT: u32 = 56;

const CROSS_WRITE: &str = "CROSSSLOT Keys in request don't hash to the same node (memkv: blocking commands and COPY ... DB across nodes are not supported; keep their keys on one node with a {hash tag})";
/// MIGRATE runs where its keys are: relaying it would hold a relay
/// connection for up to its timeout (past cluster-node-timeout).
const CROSS_MIGRATE: &str = "CROSSSLOT Keys in request don't hash to the same node (memkv cluster: MIGRATE moves keys of the node it is sent to; send it to the node owning them)";
const CROSS_MULTI: &str = "EXECABORT Transaction discarded because it runs a whole-keyspace command (DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHDB, FLUSHALL, SWAPDB) and its keys live on several cluster nodes (memkv cluster)";
const CROSS_MULTI_DB: &str = "EXECABORT Transaction discarded because it runs MOVE or COPY ... DB and its keys live on several cluster nodes (memkv cluster: use a {hash tag})";

/// Where a command's keys live.
enum Owners {
    /// No keys, or all here.
    Local,
    One(usize),
    Several,
}

fn owners_of(
    srv: &Server,
    spec: &'static CommandSpec,
    args: &Args,
    keys: &mut Vec<usize>,
) -> Owners {
    let Some(topo) = srv.cluster.as_ref() else {
        return Owners::Local;
    };
    if commands::command_keys(spec, args, keys).is_err() {
        // Bad numkeys: the handler answers Redis's error, here.
        return Owners::Local;
    }
    let mut owner = None;
    for &i in keys.iter() {
        let o = topo.owner_of_key(&args[i]);
        match owner {
            None => owner = Some(o),
            Some(p) if p != o => return Owners::Several,
            Some(_) => {}
        }
    }
    match owner {
        Some(o) if !topo.is_me(o) => Owners::One(o),
        _ => Owners::Local,
    }
}

/// The routing step (dispatch calls it for a client, not a peer, when the
/// cluster has other members). Returns true if the command was handled
/// here: relayed (client parked), gathered, or refused.
pub fn route(srv: &mut Server, c: &mut Client, spec: &'static CommandSpec, args: &Args) -> bool {
    if !c.relay.is_empty() {
        return route_behind(srv, c, spec, args);
    }
    match spec.name {
        "dbsize" | "keys" | "randomkey" | "flushdb" | "flushall" | "swapdb" => {
            return fan_out(srv, c, args);
        }
        "scan" => return scan(srv, c, args),
        "exec" => return exec(srv, c),
        // Watches of keys on other nodes end here too (then as locally).
        "unwatch" => super::tx::drop_watches(srv, c.id),
        "discard" if c.multi.is_some() => super::tx::drop_watches(srv, c.id),
        _ => {}
    }
    let mut keys = Vec::new();
    match owners_of(srv, spec, args, &mut keys) {
        Owners::Local => false,
        Owners::One(_) | Owners::Several if spec.name == "watch" => watch(srv, c, args),
        Owners::One(_) | Owners::Several if spec.name == "migrate" => {
            srv.stats.rejected_calls += 1;
            c.reply.error(CROSS_MIGRATE);
            true
        }
        Owners::One(member) => {
            if spec.has(flags::BLOCKING) && !c.in_transaction() {
                return relay_blocking(srv, c, spec, args, member);
            }
            relay_one(srv, c, args, member)
        }
        Owners::Several => match spec.name {
            _ if super::tx::unsupported(spec, args) => {
                srv.stats.rejected_calls += 1;
                c.reply.error(CROSS_WRITE);
                true
            }
            // Reads too: a read spanning nodes takes read locks, so it
            // never sees half of a cross-node write.
            _ => super::tx::begin(srv, c, spec, args, &keys),
        },
    }
}

/// WATCH of keys owned by other nodes: each owner watches them on the
/// client's behalf (`MEMKV.WATCH`); EXEC then checks them in its LOCK step
/// (`tx`), so a write through any node invalidates the WATCH.
fn watch(srv: &mut Server, c: &mut Client, args: &Args) -> bool {
    if c.multi.is_some() {
        return false; // the local handler answers Redis's error
    }
    let Some(topo) = srv.cluster.as_ref() else {
        return false;
    };
    let me = topo.me;
    let mut per: Vec<(usize, Vec<&[u8]>)> = Vec::new();
    for key in args.iter().skip(1) {
        let o = topo.owner_of_key(key);
        match per.iter_mut().find(|(m, _)| *m == o) {
            Some((_, ks)) => ks.push(key),
            None => per.push((o, vec![key])),
        }
    }
    let wid = super::tx::watch_id(me, c.id).to_string();
    let db = c.db.to_string();
    let mut parts = Vec::new();
    for (m, keys) in per {
        if m == me {
            for key in keys {
                if c.watched.insert((c.db, crate::store::Key::new(key))) {
                    srv.store.watch(c.id, c.db, key);
                }
            }
            continue;
        }
        for key in &keys {
            super::tx::note_watch(srv, c.id, m, c.db, key);
        }
        let argv = [&b"MEMKV.WATCH"[..], wid.as_bytes(), db.as_bytes()]
            .into_iter()
            .chain(keys.iter().copied());
        let mut payload = Vec::new();
        super::relay::encode_command(&mut payload, argv);
        parts.push(Part::Remote {
            member: m,
            payload,
            replies: 1,
        });
    }
    start(srv, c, parts, Combine::AllOk, true)
}

/// Routing while operations are in flight: a command on keys of one node
/// (here or a peer) goes ahead at once - its reply is ordered behind the
/// ones in flight, and a peer gets a client's commands in order on one
/// connection; anything else (no keys, several nodes, blocking, MULTI...)
/// waits until the client's operations are answered.
fn route_behind(srv: &mut Server, c: &mut Client, spec: &'static CommandSpec, args: &Args) -> bool {
    if spec.has(flags::BLOCKING)
        || c.multi.is_some()
        || matches!(
            spec.name,
            "dbsize"
                | "keys"
                | "randomkey"
                | "flushdb"
                | "flushall"
                | "swapdb"
                | "scan"
                | "exec"
                | "watch"
                // Answered later, by its worker: not behind relays.
                | "migrate"
        )
    {
        return defer(c, RELAY);
    }
    let mut keys = Vec::new();
    match owners_of(srv, spec, args, &mut keys) {
        Owners::Local if !keys.is_empty() => false,
        Owners::One(member) if c.relay.len() < WINDOW => relay_one(srv, c, args, member),
        Owners::One(_) => defer(c, WINDOW_FULL),
        _ => defer(c, RELAY),
    }
}

/// Relays one command to `member` without stopping the client's pipeline.
fn relay_one(srv: &mut Server, c: &mut Client, args: &Args, member: usize) -> bool {
    let mut payload = Vec::new();
    encode_relay(&mut payload, c.db, c.protocol(), args.iter());
    let part = Part::Remote {
        member,
        payload,
        replies: 1,
    };
    start(srv, c, vec![part], Combine::Verbatim, false)
}

/// Runs argv here for a part of a gather, with the client's db and protocol.
pub(crate) fn run_local(srv: &mut Server, c: &Client, argv: &Args) -> Vec<u8> {
    let mut tmp = Client::internal(c.id);
    tmp.db = c.db;
    tmp.reply.resp3 = c.reply.resp3;
    match commands::resolve(argv) {
        Ok(spec) => {
            let _ = commands::call(srv, &mut tmp, spec, argv);
        }
        Err(e) => tmp.reply.error(&e.to_string()),
    }
    std::mem::take(&mut tmp.reply.buf)
}

/// Queues the remote parts as one operation at the end of the client's
/// queue; with `park` the client's next commands wait for it. Answers at
/// once if every part is local or a peer is down.
pub(crate) fn start(
    srv: &mut Server,
    c: &mut Client,
    parts: Vec<Part>,
    combine: Combine,
    park: bool,
) -> bool {
    c.relay_seq += 1;
    let seq = c.relay_seq;
    let live = matches!(combine, Combine::Live(_));
    let mut pending = Pending {
        seq,
        parts: Vec::with_capacity(parts.len()),
        remaining: 0,
        combine,
    };
    let Some(pool) = srv.relay.as_mut() else {
        c.reply
            .error("CLUSTERDOWN memkv cluster: the relay is not running");
        return true;
    };
    for (i, p) in parts.into_iter().enumerate() {
        match p {
            Part::Local(bytes) => pending.parts.push(Some(Ok(bytes))),
            Part::Remote {
                member,
                payload,
                replies,
            } => {
                let job = Job {
                    waiter: Waiter {
                        client: c.id,
                        seq,
                        part: i,
                    },
                    payload,
                    replies,
                };
                if let Err(e) = pool.submit(member, job) {
                    if live {
                        // A node that is down counts as nothing.
                        pending.parts.push(Some(Err(e)));
                        continue;
                    }
                    // Parts already queued answer into a finished op
                    // (their seq no longer matches) and are dropped.
                    c.reply.error(&e);
                    return true;
                }
                pending.parts.push(None);
                pending.remaining += 1;
            }
        }
    }
    if pending.remaining == 0 {
        // Only operations that start with nothing in flight have local
        // parts, so this reply is in order.
        finish(c, pending);
    } else {
        c.relay.push_back(Slot {
            op: pending,
            after: Vec::new(),
        });
        if park {
            c.park = Some(Park::Waiting(RELAY));
        }
    }
    true
}

fn relay_blocking(
    srv: &mut Server,
    c: &mut Client,
    spec: &'static CommandSpec,
    args: &Args,
    member: usize,
) -> bool {
    let timeout_at = match spec.name {
        "blmpop" | "bzmpop" => 1,
        _ => args.len() - 1,
    };
    c.relay_seq += 1;
    let job = BlockingJob {
        waiter: Waiter {
            client: c.id,
            seq: c.relay_seq,
            part: 0,
        },
        db: c.db,
        proto: c.protocol(),
        argv: args.iter().map(<[u8]>::to_vec).collect(),
        timeout_at,
    };
    let Some(pool) = srv.relay.as_ref() else {
        c.reply
            .error("CLUSTERDOWN memkv cluster: the relay is not running");
        return true;
    };
    match pool.submit_blocking(member, job) {
        Ok(()) => {
            c.relay.push_back(Slot {
                op: Pending {
                    seq: c.relay_seq,
                    parts: vec![None],
                    remaining: 1,
                    combine: Combine::Verbatim,
                },
                after: Vec::new(),
            });
            c.park = Some(Park::Waiting(RELAY));
        }
        Err(e) => c.reply.error(&e),
    }
    true
}

/// Whole-keyspace commands: the same command on every member (FLUSH* and
/// SWAPDB apply on each member in turn; a member that is down fails the
/// command with CLUSTERDOWN after the others applied it).
fn fan_out(srv: &mut Server, c: &mut Client, args: &Args) -> bool {
    let Some(topo) = srv.cluster.as_ref() else {
        return false;
    };
    let (n, me) = (topo.members.len(), topo.me);
    let combine = match args[0].to_ascii_lowercase().as_slice() {
        b"dbsize" => Combine::Sum,
        b"keys" => Combine::Concat,
        b"randomkey" => Combine::Random,
        _ => Combine::AllOk,
    };
    let mut parts = Vec::with_capacity(n);
    for member in 0..n {
        if member == me {
            parts.push(Part::Local(run_local(srv, c, args)));
        } else {
            let mut payload = Vec::new();
            encode_relay(&mut payload, c.db, c.protocol(), args.iter());
            parts.push(Part::Remote {
                member,
                payload,
                replies: 1,
            });
        }
    }
    start(srv, c, parts, combine, true)
}

/// SCAN: the cursor's high bits name the member being walked, the low bits
/// are that member's own cursor. Members are walked in index order, so
/// every key present for the whole scan is returned, as by Redis.
fn scan(srv: &mut Server, c: &mut Client, args: &Args) -> bool {
    let Some(topo) = srv.cluster.as_ref() else {
        return false;
    };
    let Some(cursor) = crate::store::scan::parse_cursor(&args[1]) else {
        return false; // the local handler answers "invalid cursor"
    };
    let (n, me) = (topo.members.len(), topo.me);
    let node = (cursor >> SCAN_NODE_SHIFT) as usize;
    let local = cursor & ((1u64 << SCAN_NODE_SHIFT) - 1);
    if node >= n {
        // Not a cursor we handed out: the walk is over.
        c.reply.array(2);
        c.reply.bulk(b"0");
        c.reply.array(0);
        return true;
    }
    let local = local.to_string();
    let argv: Vec<&[u8]> = args
        .iter()
        .enumerate()
        .map(|(i, a)| if i == 1 { local.as_bytes() } else { a })
        .collect();
    let part = if node == me {
        let owned = OwnedArgs::from_slices(argv.iter());
        Part::Local(run_local(srv, c, &owned.as_args()))
    } else {
        let mut payload = Vec::new();
        encode_relay(&mut payload, c.db, c.protocol(), argv.into_iter());
        Part::Remote {
            member: node,
            payload,
            replies: 1,
        }
    };
    start(srv, c, vec![part], Combine::Scan { node, nodes: n }, true)
}

/// EXEC in cluster mode: a transaction whose keys are all on one peer runs
/// there as one unit; one spanning members runs as an atomic cross-node
/// transaction (`tx`); one with a whole-keyspace command is refused.
fn exec(srv: &mut Server, c: &mut Client) -> bool {
    let Some(m) = c.multi.as_ref() else {
        return false;
    };
    let remote_watch = super::tx::has_watches(srv, c.id);
    if m.aborted {
        if remote_watch {
            super::tx::drop_watches(srv, c.id);
        }
        return false;
    }
    let Some(topo) = srv.cluster.as_ref() else {
        return false;
    };
    let mut target: Option<usize> = None;
    let mut spans = false;
    let mut keyspace = false;
    let mut other_db = false;
    let mut keys = Vec::new();
    for (spec, argv) in &m.queue {
        let args = argv.as_args();
        if matches!(
            spec.name,
            "dbsize" | "keys" | "randomkey" | "flushdb" | "flushall" | "swapdb" | "scan"
        ) {
            keyspace = true;
            break;
        }
        other_db |= super::tx::writes_other_db(spec, &args);
        if commands::command_keys(spec, &args, &mut keys).is_err() {
            continue;
        }
        for &i in &keys {
            let o = topo.owner_of_key(&args[i]);
            match target {
                None => target = Some(o),
                Some(t) if t != o => spans = true,
                Some(_) => {}
            }
        }
    }
    if keyspace || (spans && other_db) {
        super::tx::drop_watches(srv, c.id);
        transaction::reset_transaction(srv, c);
        srv.stats.rejected_calls += 1;
        c.reply.error(if keyspace {
            CROSS_MULTI
        } else {
            CROSS_MULTI_DB
        });
        return true;
    }
    // Watches of keys on other nodes are checked in the LOCK step.
    let spans = spans || remote_watch;
    let member = match target {
        Some(t) if !topo.is_me(t) || spans => t,
        None if spans => topo.me,
        _ => return false,
    };
    // Local WATCHes: checked here, as by EXEC.
    let watch_failed = !c.watched.is_empty() && srv.store.watch_failed(c.id, c.watched.iter());
    let Some(m) = c.multi.take() else {
        return false;
    };
    transaction::reset_transaction(srv, c);
    if watch_failed {
        super::tx::drop_watches(srv, c.id);
        c.reply.null_array();
        return true;
    }
    if spans {
        // Keys on several nodes: one atomic cross-node transaction.
        super::tx::begin_exec(srv, c, m.queue);
        return true;
    }
    let (db, proto) = (c.db, c.protocol());
    let mut db_after = db;
    for (spec, argv) in &m.queue {
        if spec.name == "select"
            && let Some(d) = argv.as_args().get(1).and_then(crate::number::parse_i64)
            && d >= 0
            && (d as usize) < srv.store.db_count()
        {
            db_after = d as usize;
        }
    }
    let mut payload = Vec::new();
    encode_relay(&mut payload, db, proto, [&b"MULTI"[..]].into_iter());
    for (_, argv) in &m.queue {
        let args = argv.as_args();
        encode_relay(&mut payload, db, proto, args.iter());
    }
    encode_relay(&mut payload, db, proto, [&b"EXEC"[..]].into_iter());
    let replies = m.queue.len() + 2;
    start(
        srv,
        c,
        vec![Part::Remote {
            member,
            payload,
            replies,
        }],
        Combine::Last { db_after },
        true,
    )
}

/// A part's reply decoded, or its error reply as text.
fn decode(bytes: &[u8]) -> Result<Value, Vec<u8>> {
    match parse_value(bytes, &ReplyLimits::default()) {
        Ok(Some((Value::Error(e), _))) => Err(e),
        Ok(Some((v, _))) => Ok(v),
        _ => Err(b"ERR memkv cluster: malformed reply from a peer".to_vec()),
    }
}

fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Set(a) | Value::Push(a) => a,
        _ => Vec::new(),
    }
}

fn put(c: &mut Client, v: &Value) {
    match v {
        Value::Bulk(b) => c.reply.bulk(b),
        Value::Int(i) => c.reply.int(*i),
        Value::Simple(s) => {
            c.reply.buf.push(b'+');
            c.reply.buf.extend_from_slice(s);
            c.reply.buf.extend_from_slice(b"\r\n");
        }
        _ => c.reply.null(),
    }
}

/// Builds the client's reply from the finished parts.
pub fn finish(c: &mut Client, p: Pending) {
    if let Combine::Live(kind) = p.combine {
        return finish_live(c, kind, p.parts);
    }
    let mut bufs = Vec::with_capacity(p.parts.len());
    for part in p.parts {
        match part {
            Some(Ok(b)) => bufs.push(b),
            Some(Err(e)) => return c.reply.error(&e),
            None => {
                return c
                    .reply
                    .error("ERR memkv cluster: a part of the reply is missing");
            }
        }
    }
    let err = |c: &mut Client, e: Vec<u8>| c.reply.error(&String::from_utf8_lossy(&e));
    match p.combine {
        Combine::Verbatim => {
            for b in &bufs {
                c.reply.raw(b);
            }
        }
        Combine::Last { db_after } => {
            let Some(b) = bufs.first() else { return };
            let lim = ReplyLimits::default();
            let mut pos = 0;
            let mut last = 0;
            while let Ok(Some(len)) = reply_len(&b[pos..], &lim) {
                last = pos;
                pos += len;
            }
            if pos == 0 {
                return c
                    .reply
                    .error("ERR memkv cluster: malformed reply from a peer");
            }
            let exec = &b[last..pos];
            // An array: the transaction ran (not EXECABORT, not a WATCH null).
            if exec.first() == Some(&b'*') && !exec.starts_with(b"*-1") {
                c.db = db_after;
            }
            c.reply.raw(exec);
        }
        Combine::Sum => {
            let mut sum = 0i64;
            for b in &bufs {
                match decode(b) {
                    Ok(Value::Int(i)) => sum = sum.saturating_add(i),
                    Ok(_) => {}
                    Err(e) => return err(c, e),
                }
            }
            c.reply.int(sum);
        }
        Combine::Concat => {
            let mut all = Vec::new();
            for b in &bufs {
                match decode(b) {
                    Ok(v) => all.extend(items(v)),
                    Err(e) => return err(c, e),
                }
            }
            c.reply.array(all.len());
            for v in &all {
                put(c, v);
            }
        }
        Combine::Scan { node, nodes } => {
            let Some(b) = bufs.first() else { return };
            let v = match decode(b) {
                Ok(v) => items(v),
                Err(e) => return err(c, e),
            };
            let mut it = v.into_iter();
            let cursor = match it.next() {
                Some(Value::Bulk(b)) => crate::store::scan::parse_cursor(&b).unwrap_or(0),
                _ => 0,
            };
            let keys = it.next().map(items).unwrap_or_default();
            let next = if cursor != 0 {
                ((node as u64) << SCAN_NODE_SHIFT) | cursor
            } else if node + 1 < nodes {
                ((node + 1) as u64) << SCAN_NODE_SHIFT
            } else {
                0
            };
            c.reply.array(2);
            c.reply.bulk(next.to_string().as_bytes());
            c.reply.array(keys.len());
            for k in &keys {
                put(c, k);
            }
        }
        Combine::Random => {
            let mut found = Vec::new();
            for b in &bufs {
                match decode(b) {
                    Ok(Value::Bulk(k)) => found.push(k),
                    Ok(_) => {}
                    Err(e) => return err(c, e),
                }
            }
            if found.is_empty() {
                c.reply.null();
            } else {
                let pick = (clock_seed() % found.len() as u64) as usize;
                c.reply.bulk(&found[pick]);
            }
        }
        Combine::Tx(_) => c.reply.error("ERR memkv cluster: transaction state lost"),
        Combine::Pull | Combine::Live(_) => {}
        Combine::AllOk => {
            for b in &bufs {
                if b.first() == Some(&b'-') {
                    c.reply.raw(b);
                    return;
                }
            }
            if let Some(b) = bufs.first() {
                c.reply.raw(b);
            }
        }
    }
}

/// Combines the Pub/Sub answers of the nodes that answered (the first part
/// is this node's, always present).
fn finish_live(c: &mut Client, kind: Live, parts: Vec<Option<Result<Vec<u8>, String>>>) {
    let answers: Vec<Value> = parts
        .into_iter()
        .filter_map(|p| decode(&p?.ok()?).ok())
        .collect();
    match kind {
        Live::Sum => {
            let sum = answers.iter().fold(0i64, |s, v| match v {
                Value::Int(i) => s.saturating_add(*i),
                _ => s,
            });
            c.reply.int(sum);
        }
        Live::Union | Live::Count => {
            let mut seen = std::collections::HashSet::new();
            let mut names = Vec::new();
            for v in answers {
                for it in items(v) {
                    if let Value::Bulk(b) = it
                        && seen.insert(b.clone())
                    {
                        names.push(b);
                    }
                }
            }
            if kind == Live::Count {
                return c.reply.int(names.len() as i64);
            }
            c.reply.array(names.len());
            for n in &names {
                c.reply.bulk(n);
            }
        }
        Live::NumSub => {
            let mut it = answers.into_iter();
            let mut pairs: Vec<(Vec<u8>, i64)> = Vec::new();
            let mut first = it.next().map(items).unwrap_or_default().into_iter();
            while let (Some(Value::Bulk(name)), Some(Value::Int(n))) = (first.next(), first.next())
            {
                pairs.push((name, n));
            }
            for v in it {
                let mut rest = items(v).into_iter();
                let mut i = 0;
                while let (Some(Value::Bulk(name)), Some(Value::Int(n))) =
                    (rest.next(), rest.next())
                {
                    if let Some(p) = pairs.get_mut(i).filter(|p| p.0 == name) {
                        p.1 = p.1.saturating_add(n);
                    }
                    i += 1;
                }
            }
            c.reply.array(pairs.len() * 2);
            for (name, n) in &pairs {
                c.reply.bulk(name);
                c.reply.int(*n);
            }
        }
    }
}

fn clock_seed() -> u64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    super::slots::mix64(n)
}

// ---- the receiving side -------------------------------------------------

/// `MEMKV.HELLO <fingerprint> <addr>`: a peer introduces itself. Accepted
/// only if our member set has the same fingerprint; the connection is then
/// a peer connection that may send `MEMKV.RELAY`.
pub fn hello(srv: &mut Server, c: &mut Client, args: &Args) {
    let theirs = args
        .get(1)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.parse::<u64>().ok());
    let from = args.get(2).map(String::from_utf8_lossy).unwrap_or_default();
    match srv.cluster.as_ref() {
        None => {
            error!("Refusing cluster peer {from}: this node is not in cluster mode (no `self`)");
            c.reply
                .error("ERR memkv cluster: this node is not in cluster mode");
        }
        Some(t) if Some(t.fingerprint) != theirs => {
            error!(
                "Refusing cluster peer {from}: its member set differs from ours (fingerprint {} vs ours {}); every node must list the same members in `self` + `peers`",
                theirs.map_or("?".to_string(), |f| f.to_string()),
                t.fingerprint
            );
            c.reply.error(&format!(
                "ERR memkv cluster: member set mismatch (node {} has a different `self`/`peers` member set)",
                t.myself().addr
            ));
        }
        Some(_) => {
            c.peer = true;
            c.reply.ok();
        }
    }
}

/// `MEMKV.RELAY <db> <proto> argv...` from a peer: runs argv here with
/// that database and protocol. Inside a relayed MULTI the database stays
/// what the transaction made it.
pub fn serve_relay(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() < 4 {
        c.reply.error("ERR memkv cluster: malformed relay request");
        return;
    }
    let db = crate::number::parse_i64(&args[1])
        .filter(|&d| d >= 0)
        .map(|d| d as usize);
    let proto = &args[2];
    let Some(db) = db.filter(|&d| d < srv.store.db_count()) else {
        c.reply.error("ERR DB index is out of range");
        return;
    };
    if c.multi.is_none() {
        c.db = db;
    }
    c.reply.resp3 = proto == b"3";
    let inner = args.tail(3);
    commands::execute(srv, c, &inner);
}

/// For a relayed command: the first key this node does not own (a relayed
/// request is never relayed again; the sender's member set disagrees).
pub fn foreign_key(srv: &Server, spec: &'static CommandSpec, args: &Args) -> Option<String> {
    let topo = srv.cluster.as_ref()?;
    let mut keys = Vec::new();
    commands::command_keys(spec, args, &mut keys).ok()?;
    keys.iter().find_map(|&i| {
        let o = topo.owner_of_key(&args[i]);
        (!topo.is_me(o)).then(|| {
            format!(
                "ERR memkv cluster: key '{}' is owned by {}, not by this node",
                String::from_utf8_lossy(&args[i]),
                topo.members[o].addr
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(parts: &[&[u8]], combine: Combine) -> Pending {
        Pending {
            seq: 1,
            parts: parts.iter().map(|p| Some(Ok(p.to_vec()))).collect(),
            remaining: 0,
            combine,
        }
    }

    fn run(parts: &[&[u8]], combine: Combine, resp3: bool) -> Vec<u8> {
        let mut c = Client::internal(1);
        c.reply.resp3 = resp3;
        finish(&mut c, op(parts, combine));
        c.reply.buf
    }

    #[test]
    fn scan_cursors_carry_the_node_in_the_high_bits() {
        let step: &[u8] = b"*2\r\n$2\r\n17\r\n*1\r\n$1\r\nk\r\n";
        let done: &[u8] = b"*2\r\n$1\r\n0\r\n*0\r\n";
        let c = |n: u64| (n << SCAN_NODE_SHIFT).to_string();
        // Mid-walk on node 1: node 1, its cursor 17.
        let cur = ((1u64 << SCAN_NODE_SHIFT) | 17).to_string();
        let want = format!("*2\r\n${}\r\n{}\r\n*1\r\n$1\r\nk\r\n", cur.len(), cur);
        let got = run(&[step], Combine::Scan { node: 1, nodes: 3 }, false);
        assert_eq!(got, want.into_bytes());
        // Node 1 finished: node 2 from its start.
        let got = run(&[done], Combine::Scan { node: 1, nodes: 3 }, false);
        assert_eq!(
            got,
            format!("*2\r\n${}\r\n{}\r\n*0\r\n", c(2).len(), c(2)).into_bytes()
        );
        // The last node finished: the walk is over.
        assert_eq!(
            run(&[done], Combine::Scan { node: 2, nodes: 3 }, false),
            b"*2\r\n$1\r\n0\r\n*0\r\n"
        );
    }

    #[test]
    fn errors_and_sums_combine_like_one_server() {
        assert_eq!(run(&[b":2\r\n", b":3\r\n"], Combine::Sum, false), b":5\r\n");
        assert_eq!(
            run(
                &[b"+OK\r\n", b"-ERR syntax error\r\n"],
                Combine::AllOk,
                false
            ),
            b"-ERR syntax error\r\n"
        );
        assert_eq!(
            run(
                &[b"*1\r\n$1\r\na\r\n", b"*0\r\n", b"*1\r\n$1\r\nb\r\n"],
                Combine::Concat,
                false
            ),
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        // A transport error of any part is the reply.
        let mut c = Client::internal(1);
        let mut p = op(&[b":1\r\n"], Combine::Sum);
        p.parts.push(Some(Err(
            "CLUSTERDOWN node x:1 is not reachable (timed out)".into(),
        )));
        finish(&mut c, p);
        assert_eq!(
            c.reply.buf,
            b"-CLUSTERDOWN node x:1 is not reachable (timed out)\r\n"
        );
        // A relayed transaction: only EXEC's reply is the client's.
        assert_eq!(
            run(
                &[b"+OK\r\n+QUEUED\r\n*1\r\n:1\r\n"],
                Combine::Last { db_after: 0 },
                false
            ),
            b"*1\r\n:1\r\n"
        );
    }
}
