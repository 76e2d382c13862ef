//! The set family: SADD, SREM, SCARD, SISMEMBER, SMISMEMBER, SMEMBERS,
//! SRANDMEMBER, SPOP, SMOVE, SINTER, SINTERCARD, SINTERSTORE, SUNION,
//! SUNIONSTORE, SDIFF, SDIFFSTORE and SSCAN, with Redis 7.0's replies
//! (RESP3 sets where Redis answers `~`), error texts and argument-checking
//! order (src/t_set.c). The value type and its encodings live in
//! `store::set`.
//!
//! Invariants: a set key is never empty (the key goes with its last
//! member); a command that changes nothing does not pass the store's
//! mutation choke point. SPOP is propagated as SREM (or DEL when it takes
//! the whole set), so AOF replay does not depend on random choices.

use std::collections::HashSet;

use super::flags::{DENYOOM, FAST, READONLY, WRITE};
use super::list::parse_range_long;
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::commands::OwnedArgs;
use crate::resp::Reply;
use crate::server::{Client, Server};
use crate::store::journal::{InverseOp, UndoLog};
use crate::store::scan::{ScanOptionError, parse_cursor, parse_options, scan_indices};
use crate::store::set::{Elem, Set};
use crate::store::{Key, Kind, Value};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, WRITE | DENYOOM | FAST, (1, 1, 1), sadd, "set").doc(
        "1.0.0",
        "Add one or more members to a set",
        "key member [member ...]",
    ),
    CommandSpec::new("srem", -3, WRITE | FAST, (1, 1, 1), srem, "set").doc(
        "1.0.0",
        "Remove one or more members from a set",
        "key member [member ...]",
    ),
    CommandSpec::new("scard", 2, READONLY | FAST, (1, 1, 1), scard, "set").doc(
        "1.0.0",
        "Get the number of members in a set",
        "key",
    ),
    CommandSpec::new("sismember", 3, READONLY | FAST, (1, 1, 1), sismember, "set").doc(
        "1.0.0",
        "Determine if a given value is a member of a set",
        "key member",
    ),
    CommandSpec::new(
        "smismember",
        -3,
        READONLY | FAST,
        (1, 1, 1),
        smismember,
        "set",
    )
    .doc(
        "6.2.0",
        "Returns the membership associated with the given elements for a set",
        "key member [member ...]",
    ),
    CommandSpec::new("smembers", 2, READONLY, (1, 1, 1), smembers, "set").doc(
        "1.0.0",
        "Get all the members in a set",
        "key",
    ),
    CommandSpec::new("srandmember", -2, READONLY, (1, 1, 1), srandmember, "set").doc(
        "1.0.0",
        "Get one or multiple random members from a set",
        "key [count]",
    ),
    CommandSpec::new("spop", -2, WRITE | FAST, (1, 1, 1), spop, "set").doc(
        "1.0.0",
        "Remove and return one or multiple random members from a set",
        "key [count]",
    ),
    CommandSpec::new("smove", 4, WRITE | FAST, (1, 2, 1), smove, "set").doc(
        "1.0.0",
        "Move a member from one set to another",
        "source destination member",
    ),
    CommandSpec::new("sinter", -2, READONLY, (1, -1, 1), sinter, "set").doc(
        "1.0.0",
        "Intersect multiple sets",
        "key [key ...]",
    ),
    CommandSpec::new("sintercard", -3, READONLY, (0, 0, 0), sintercard, "set").doc(
        "7.0.0",
        "Intersect multiple sets and return the cardinality of the result",
        "numkeys key [key ...] [LIMIT limit]",
    ),
    CommandSpec::new(
        "sinterstore",
        -3,
        WRITE | DENYOOM,
        (1, -1, 1),
        sinterstore,
        "set",
    )
    .doc(
        "1.0.0",
        "Intersect multiple sets and store the resulting set in a key",
        "destination key [key ...]",
    ),
    CommandSpec::new("sunion", -2, READONLY, (1, -1, 1), sunion, "set").doc(
        "1.0.0",
        "Add multiple sets",
        "key [key ...]",
    ),
    CommandSpec::new(
        "sunionstore",
        -3,
        WRITE | DENYOOM,
        (1, -1, 1),
        sunionstore,
        "set",
    )
    .doc(
        "1.0.0",
        "Add multiple sets and store the resulting set in a key",
        "destination key [key ...]",
    ),
    CommandSpec::new("sdiff", -2, READONLY, (1, -1, 1), sdiff, "set").doc(
        "1.0.0",
        "Subtract multiple sets",
        "key [key ...]",
    ),
    CommandSpec::new(
        "sdiffstore",
        -3,
        WRITE | DENYOOM,
        (1, -1, 1),
        sdiffstore,
        "set",
    )
    .doc(
        "1.0.0",
        "Subtract multiple sets and store the resulting set in a key",
        "destination key [key ...]",
    ),
    CommandSpec::new("sscan", -3, READONLY, (1, 1, 1), sscan, "set").doc(
        "2.8.0",
        "Incrementally iterate Set elements",
        "key cursor [MATCH pattern] [COUNT count]",
    ),
];

/// Largest |count| SRANDMEMBER serves with repetitions. Redis 7.0 has no
/// bound (and dies building such a reply); we refuse absurd counts.
const RANDMEMBER_MAX_REPEAT: u64 = 10_000_000;

/// SPOP rebuilds the set from the survivors when fewer than 1/5 remain
/// (Redis's SPOP_MOVE_STRATEGY_MUL).
const SPOP_MOVE_STRATEGY_MUL: usize = 5;

/// SRANDMEMBER copies the set and deletes random members when it asks for
/// more than 1/3 of it (Redis's SRANDMEMBER_SUB_STRATEGY_MUL).
const SRANDMEMBER_SUB_STRATEGY_MUL: usize = 3;

/// Members per propagated SREM of an SPOP with count.
const SREM_BATCH: usize = 1024;

// ---------------------------------------------------------------------------
// Typed lookups.
// ---------------------------------------------------------------------------

/// The set at `key` for a read command (counts a keyspace hit or miss).
#[inline]
fn read_set<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a Set>, CmdError> {
    match srv.store.lookup_read(db, key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The set at `key` for a write command, without touching it.
#[inline]
fn peek_set<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a Set>, CmdError> {
    match srv.store.get(db, key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The set at `key` with intent to change it (passes the choke point). A
/// table logs the inverse of each change for rollback (see
/// `store::journal`); an intset is compact and copied instead.
#[inline]
fn write_set<'a>(
    srv: &'a mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<(&'a mut Set, UndoLog<'a>)>, CmdError> {
    let table = |v: &Value| matches!(v, Value::Set(Set::Table(_)));
    match srv.store.get_mut_undo_if(db, key, Kind::Set, table)? {
        None => Ok(None),
        Some((Value::Set(s), undo)) => Ok(Some((s, undo))),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Adds `m`, logging the inverse; true if it was new.
#[inline]
fn add_logged(s: &mut Set, undo: &mut UndoLog, m: &[u8], max: usize) -> bool {
    let added = s.add(m, max);
    if added && undo.on() {
        undo.push(InverseOp::SetRemove {
            member: Key::new(m),
        });
    }
    added
}

/// Removes `m`, logging the inverse; true if it was there.
#[inline]
fn remove_logged(s: &mut Set, undo: &mut UndoLog, m: &[u8]) -> bool {
    if undo.on()
        && let Set::Table(t) = s
    {
        let Some((index, member)) = t.swap_remove_entry_full(m) else {
            return false;
        };
        undo.push(InverseOp::SetAdd { member, index });
        return true;
    }
    s.remove(m)
}

/// Removes the member at position `i`, logging the inverse.
#[inline]
fn remove_index_logged(s: &mut Set, undo: &mut UndoLog, i: usize) -> Option<Vec<u8>> {
    if undo.on()
        && let Set::Table(t) = s
    {
        let member = t.swap_remove_index(i)?;
        let out = member.to_vec();
        undo.push(InverseOp::SetAdd { member, index: i });
        return Some(out);
    }
    s.remove_index(i)
}

#[inline]
fn reply_elem(reply: &mut Reply, e: Elem<'_>) {
    match e {
        Elem::Int(v) => reply.bulk_int(v),
        Elem::Bytes(b) => reply.bulk(b),
    }
}

/// A random index below `n` (n > 0).
#[inline]
fn rand_below(srv: &mut Server, n: usize) -> usize {
    (srv.store.random_u64() % n as u64) as usize
}

// ---------------------------------------------------------------------------
// Writes.
// ---------------------------------------------------------------------------

fn sadd(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let key = &args[1];
    let max = srv.config.set_max_intset_entries;
    let members = args.iter().skip(2);
    // All present: no change, no choke point (no WATCH effect, nothing to
    // propagate), as Redis (added == 0).
    if let Some(s) = peek_set(srv, c.db, key)? {
        if members.clone().all(|m| s.contains(m)) {
            c.reply.int(0);
            return Ok(());
        }
    } else {
        let mut s = Set::new_for(&args[2]);
        let added = members.filter(|m| s.add(m, max)).count();
        srv.store.set(c.db, key, Value::Set(s));
        c.reply.int(added as i64);
        return Ok(());
    }
    let Some((s, mut undo)) = write_set(srv, c.db, key)? else {
        return Ok(());
    };
    let added = members.filter(|m| add_logged(s, &mut undo, m, max)).count();
    c.reply.int(added as i64);
    Ok(())
}

fn srem(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let key = &args[1];
    let Some(s) = peek_set(srv, c.db, key)? else {
        c.reply.int(0);
        return Ok(());
    };
    if !args.iter().skip(2).any(|m| s.contains(m)) {
        c.reply.int(0);
        return Ok(());
    }
    let Some((s, mut undo)) = write_set(srv, c.db, key)? else {
        return Ok(());
    };
    let mut deleted = 0i64;
    for m in args.iter().skip(2) {
        if remove_logged(s, &mut undo, m) {
            deleted += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    if s.is_empty() {
        srv.store.delete(c.db, key);
    } else {
        s.maybe_shrink();
    }
    c.reply.int(deleted);
    Ok(())
}

fn smove(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (src, dst, m) = (&args[1], &args[2], &args[3]);
    // A missing source answers 0 before any type check, as Redis.
    let Some(s) = peek_set(srv, c.db, src)? else {
        c.reply.int(0);
        return Ok(());
    };
    let in_src = s.contains(m);
    peek_set(srv, c.db, dst)?;
    if src == dst {
        c.reply.int(in_src as i64);
        return Ok(());
    }
    if !in_src {
        c.reply.int(0);
        return Ok(());
    }
    if let Some((s, mut undo)) = write_set(srv, c.db, src)? {
        remove_logged(s, &mut undo, m);
        if s.is_empty() {
            srv.store.delete(c.db, src);
        }
    }
    let max = srv.config.set_max_intset_entries;
    match write_set(srv, c.db, dst)? {
        Some((d, mut undo)) => {
            add_logged(d, &mut undo, m, max);
        }
        None => {
            let mut d = Set::new_for(m);
            d.add(m, max);
            srv.store.set(c.db, dst, Value::Set(d));
        }
    }
    c.reply.int(1);
    Ok(())
}

fn spop(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() == 3 {
        return spop_count(srv, c, args);
    }
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let key = &args[1];
    // The random draw comes first (the store's generator is out of reach
    // while the set is borrowed), so one keyspace lookup finds the set.
    let r = srv.store.random_u64();
    let Some((s, mut undo)) = write_set(srv, c.db, key)? else {
        c.reply.null();
        return Ok(());
    };
    let i = (r % s.len().max(1) as u64) as usize;
    let Some(m) = remove_index_logged(s, &mut undo, i) else {
        return Ok(());
    };
    if s.is_empty() {
        srv.store.delete(c.db, key);
    } else {
        s.maybe_shrink();
    }
    c.reply.bulk(&m);
    srv.store.prop.rewrite_as_one([&b"SREM"[..], key, &m]);
    Ok(())
}

fn spop_count(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let count = parse_range_long(
        &args[2],
        0,
        i64::MAX,
        Some("ERR value is out of range, must be positive"),
    )? as u64;
    let key = &args[1];
    let Some(s) = peek_set(srv, c.db, key)? else {
        c.reply.set(0);
        return Ok(());
    };
    if count == 0 {
        c.reply.set(0);
        return Ok(());
    }
    let size = s.len();
    // The whole set: reply it and delete the key (propagated as DEL).
    if count >= size as u64 {
        c.reply.set(size);
        for e in s.iter() {
            reply_elem(&mut c.reply, e);
        }
        srv.store.delete(c.db, key);
        srv.store.prop.rewrite_as_one([&b"DEL"[..], key]);
        return Ok(());
    }
    let count = count as usize;
    let remaining = size - count;
    let max = srv.config.set_max_intset_entries;
    // Random indices drawn before the choke point (it borrows the store).
    let mut popped: Vec<Vec<u8>> = Vec::with_capacity(count);
    if remaining * SPOP_MOVE_STRATEGY_MUL > count {
        // Few: pop random members one by one.
        let mut picks = Vec::with_capacity(count);
        for n in 0..count {
            picks.push(rand_below(srv, size - n));
        }
        let Some((s, mut undo)) = write_set(srv, c.db, key)? else {
            return Ok(());
        };
        for i in picks {
            if let Some(m) = remove_index_logged(s, &mut undo, i) {
                popped.push(m);
            }
        }
        s.maybe_shrink();
    } else {
        // Most of it: move the survivors into a new set (which starts as
        // an intset when its first member is an integer, as in Redis) and
        // reply what is left in the old one.
        let mut picks = Vec::with_capacity(remaining);
        for n in 0..remaining {
            picks.push(rand_below(srv, size - n));
        }
        let Some((s, mut undo)) = write_set(srv, c.db, key)? else {
            return Ok(());
        };
        let mut fresh: Option<Set> = None;
        for i in picks {
            if let Some(m) = remove_index_logged(s, &mut undo, i) {
                fresh.get_or_insert_with(|| Set::new_for(&m)).add(&m, max);
            }
        }
        popped.extend(s.iter().map(|e| e.to_vec()));
        if let Some(f) = fresh {
            let old = std::mem::replace(s, f);
            if undo.on() {
                undo.push(InverseOp::SetReplaced { old: Box::new(old) });
            }
        }
    }
    c.reply.set(popped.len());
    for m in &popped {
        c.reply.bulk(m);
    }
    let cmds = popped
        .chunks(SREM_BATCH)
        .map(|chunk| {
            let head = [&b"SREM"[..], key];
            OwnedArgs::from_slices(head.into_iter().chain(chunk.iter().map(|m| &m[..])))
        })
        .collect();
    srv.store.prop.rewrite_as(cmds);
    Ok(())
}

// ---------------------------------------------------------------------------
// Reads.
// ---------------------------------------------------------------------------

fn scard(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let n = read_set(srv, c.db, &args[1])?.map_or(0, |s| s.len());
    c.reply.int(n as i64);
    Ok(())
}

fn sismember(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let found = read_set(srv, c.db, &args[1])?.is_some_and(|s| s.contains(&args[2]));
    c.reply.int(found as i64);
    Ok(())
}

fn smismember(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let s = read_set(srv, c.db, &args[1])?;
    c.reply.array(args.len() - 2);
    for m in args.iter().skip(2) {
        c.reply.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

fn smembers(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let Some(s) = read_set(srv, c.db, &args[1])? else {
        c.reply.set(0);
        return Ok(());
    };
    c.reply.set(s.len());
    for e in s.iter() {
        reply_elem(&mut c.reply, e);
    }
    Ok(())
}

fn srandmember(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    if args.len() == 2 {
        let Some(s) = read_set(srv, c.db, &args[1])? else {
            c.reply.null();
            return Ok(());
        };
        let n = s.len().max(1);
        let i = (srv.store.random_u64() % n as u64) as usize;
        if let Some(Value::Set(s)) = srv.store.db(c.db).keys().get(&args[1]) {
            match s.get_index(i) {
                Some(e) => reply_elem(&mut c.reply, e),
                None => c.reply.null(),
            }
        }
        return Ok(());
    }
    let l = parse_range_long(&args[2], -i64::MAX, i64::MAX, None)?;
    if l < 0 && l.unsigned_abs() > RANDMEMBER_MAX_REPEAT {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    let Some(s) = read_set(srv, c.db, &args[1])? else {
        c.reply.array(0);
        return Ok(());
    };
    let size = s.len();
    let count = l.unsigned_abs();
    if count == 0 || size == 0 {
        c.reply.array(0);
        return Ok(());
    }
    // Indices first (the generator lives in the store), then the reply.
    let picks: Vec<usize>;
    if l < 0 || count == 1 {
        // Repetitions allowed.
        let n = count as usize;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(rand_below(srv, size));
        }
        picks = v;
    } else if count >= size as u64 {
        picks = (0..size).collect();
    } else if count as usize * SRANDMEMBER_SUB_STRATEGY_MUL > size {
        // Many: a partial Fisher-Yates shuffle of all indices.
        let count = count as usize;
        let mut idx: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = i + rand_below(srv, size - i);
            idx.swap(i, j);
        }
        idx.truncate(count);
        picks = idx;
    } else {
        // Few: draw until `count` distinct ones (expected < 1.5 draws each).
        let count = count as usize;
        let mut seen: HashSet<usize> = HashSet::with_capacity(count);
        let mut v = Vec::with_capacity(count);
        while v.len() < count {
            let i = rand_below(srv, size);
            if seen.insert(i) {
                v.push(i);
            }
        }
        picks = v;
    }
    let Some(Value::Set(s)) = srv.store.db(c.db).keys().get(&args[1]) else {
        c.reply.array(0);
        return Ok(());
    };
    c.reply.array(picks.len());
    for i in picks {
        if let Some(e) = s.get_index(i) {
            reply_elem(&mut c.reply, e);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Intersection, union, difference.
// ---------------------------------------------------------------------------

/// Looks every key up (lazy expiry, type check, keyspace statistics for
/// reads) and returns whether all of them hold a set; Redis checks every
/// key's type before it looks at what they contain.
fn check_sets<'k>(
    srv: &mut Server,
    db: usize,
    keys: impl Iterator<Item = &'k [u8]>,
    write: bool,
) -> Result<bool, CmdError> {
    let mut all = true;
    for k in keys {
        let found = if write {
            peek_set(srv, db, k)?.is_some()
        } else {
            read_set(srv, db, k)?.is_some()
        };
        all &= found;
    }
    Ok(all)
}

/// The sets at `keys` (None for a missing key); call after [`check_sets`].
fn sets_of<'a, 'k>(
    srv: &'a Server,
    db: usize,
    keys: impl Iterator<Item = &'k [u8]>,
) -> Vec<Option<&'a Set>> {
    let d = srv.store.db(db);
    keys.map(|k| match d.keys().get(k) {
        Some(Value::Set(s)) => Some(s),
        _ => None,
    })
    .collect()
}

/// Members of the intersection, in the order of the smallest set (Redis
/// iterates it and probes the others), stopping after `limit` (0 = all).
fn intersect<'a>(sets: &mut [&'a Set], limit: usize, mut visit: impl FnMut(Elem<'a>)) -> usize {
    sets.sort_by_key(|s| s.len());
    let Some((first, rest)) = sets.split_first() else {
        return 0;
    };
    let mut n = 0;
    for e in first.iter() {
        let all = rest
            .iter()
            .all(|o| std::ptr::eq(*o, *first) || e.with_bytes(|b| o.contains(b)));
        if all {
            visit(e);
            n += 1;
            if limit != 0 && n >= limit {
                break;
            }
        }
    }
    n
}

/// SINTER / SINTERSTORE.
fn sinter_generic(
    srv: &mut Server,
    c: &mut Client,
    keys: &[&[u8]],
    dst: Option<&[u8]>,
) -> CmdResult {
    let all = check_sets(srv, c.db, keys.iter().copied(), dst.is_some())?;
    let max = srv.config.set_max_intset_entries;
    if !all {
        // An empty input: the intersection is empty.
        match dst {
            Some(d) => {
                srv.store.delete(c.db, d);
                c.reply.int(0);
            }
            None => c.reply.set(0),
        }
        return Ok(());
    }
    let mut sets: Vec<&Set> = sets_of(srv, c.db, keys.iter().copied())
        .into_iter()
        .flatten()
        .collect();
    match dst {
        None => {
            let mut out: Vec<Elem<'_>> = Vec::new();
            intersect(&mut sets, 0, |e| out.push(e));
            c.reply.set(out.len());
            for e in out {
                reply_elem(&mut c.reply, e);
            }
        }
        Some(d) => {
            let mut result = Set::new_ints();
            intersect(&mut sets, 0, |e| {
                e.with_bytes(|b| result.add(b, max));
            });
            store_result(srv, c, d, result);
        }
    }
    Ok(())
}

/// Stores a *STORE result (replacing `dst`, or deleting it when empty) and
/// replies its size.
fn store_result(srv: &mut Server, c: &mut Client, dst: &[u8], result: Set) {
    let n = result.len();
    if n == 0 {
        srv.store.delete(c.db, dst);
    } else {
        srv.store.set(c.db, dst, Value::Set(result));
    }
    c.reply.int(n as i64);
}

fn sinter(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let keys: Vec<&[u8]> = args.iter().skip(1).collect();
    sinter_generic(srv, c, &keys, None)
}

fn sinterstore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let keys: Vec<&[u8]> = args.iter().skip(2).collect();
    sinter_generic(srv, c, &keys, Some(&args[1]))
}

fn sintercard(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let numkeys = parse_range_long(
        &args[1],
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    )?;
    if numkeys as u64 > (args.len() - 2) as u64 {
        return Err(CmdError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let numkeys = numkeys as usize;
    let mut limit = 0u64;
    let mut j = 2 + numkeys;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if args[j].eq_ignore_ascii_case(b"limit") && more > 0 {
            limit = parse_range_long(
                &args[j + 1],
                0,
                i64::MAX,
                Some("ERR LIMIT can't be negative"),
            )? as u64;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys: Vec<&[u8]> = args.iter().skip(2).take(numkeys).collect();
    if !check_sets(srv, c.db, keys.iter().copied(), false)? {
        c.reply.int(0);
        return Ok(());
    }
    let mut sets: Vec<&Set> = sets_of(srv, c.db, keys.iter().copied())
        .into_iter()
        .flatten()
        .collect();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let n = intersect(&mut sets, limit, |_| {});
    c.reply.int(n as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

/// SUNION / SDIFF and their STORE forms: the result is built as a new set
/// (an intset while it can be, like Redis's), then replied or stored.
fn sunion_diff_generic(
    srv: &mut Server,
    c: &mut Client,
    keys: &[&[u8]],
    dst: Option<&[u8]>,
    op: Op,
) -> CmdResult {
    check_sets(srv, c.db, keys.iter().copied(), dst.is_some())?;
    let max = srv.config.set_max_intset_entries;
    let sets = sets_of(srv, c.db, keys.iter().copied());
    let mut result = Set::new_ints();
    match op {
        Op::Union => {
            for s in sets.iter().flatten() {
                for e in s.iter() {
                    e.with_bytes(|b| result.add(b, max));
                }
            }
        }
        Op::Diff => {
            if let Some(Some(first)) = sets.first() {
                let others: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
                if !others.iter().any(|o| std::ptr::eq(*o, *first)) {
                    for e in first.iter() {
                        e.with_bytes(|b| {
                            if !others.iter().any(|o| o.contains(b)) {
                                result.add(b, max);
                            }
                        });
                    }
                }
            }
        }
    }
    match dst {
        None => {
            c.reply.set(result.len());
            for e in result.iter() {
                reply_elem(&mut c.reply, e);
            }
        }
        Some(d) => store_result(srv, c, d, result),
    }
    Ok(())
}

fn sunion(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let keys: Vec<&[u8]> = args.iter().skip(1).collect();
    sunion_diff_generic(srv, c, &keys, None, Op::Union)
}

fn sunionstore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let keys: Vec<&[u8]> = args.iter().skip(2).collect();
    sunion_diff_generic(srv, c, &keys, Some(&args[1]), Op::Union)
}

fn sdiff(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let keys: Vec<&[u8]> = args.iter().skip(1).collect();
    sunion_diff_generic(srv, c, &keys, None, Op::Diff)
}

fn sdiffstore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let keys: Vec<&[u8]> = args.iter().skip(2).collect();
    sunion_diff_generic(srv, c, &keys, Some(&args[1]), Op::Diff)
}

// ---------------------------------------------------------------------------
// SSCAN.
// ---------------------------------------------------------------------------

fn sscan(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let cursor = parse_cursor(&args[2]).ok_or(CmdError::Static("ERR invalid cursor"))?;
    // Redis answers a missing key before looking at the options.
    let Some(s) = read_set(srv, c.db, &args[1])? else {
        c.reply.array(2);
        c.reply.bulk(b"0");
        c.reply.array(0);
        return Ok(());
    };
    let opts = parse_options(args.iter().skip(3), false).map_err(|e| match e {
        ScanOptionError::NotInteger => CmdError::NotInteger,
        ScanOptionError::Syntax => CmdError::Syntax,
    })?;
    let matches = |b: &[u8]| {
        opts.pattern
            .is_none_or(|p| crate::glob::glob_match(p, b, false))
    };
    // An intset is returned whole in one call (cursor 0), as Redis does
    // for its compact encodings; a table is walked from high to low.
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = match s {
        Set::Ints(_) => {
            found.extend(
                s.iter()
                    .filter(|e| e.with_bytes(matches))
                    .map(|e| e.to_vec()),
            );
            0
        }
        Set::Table(t) => scan_indices(t.len(), cursor, opts.count, |i| {
            if let Some(k) = t.get_index(i)
                && matches(k)
            {
                found.push(k.to_vec());
            }
        }),
    };
    c.reply.array(2);
    c.reply.bulk(next.to_string().as_bytes());
    c.reply.array(found.len());
    for m in &found {
        c.reply.bulk(m);
    }
    Ok(())
}

/// Used by SORT: the members of a set, in its iteration order.
pub fn members(s: &Set) -> Vec<Vec<u8>> {
    s.iter().map(|e| e.to_vec()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersect_orders_by_size_and_honours_limit() {
        let mut a = Set::new_ints();
        let mut b = Set::new_ints();
        for i in 0..10 {
            a.add(i.to_string().as_bytes(), 512);
        }
        for i in (0..10).step_by(2) {
            b.add(i.to_string().as_bytes(), 512);
        }
        let mut out = Vec::new();
        let n = intersect(&mut [&a, &b], 0, |e| out.push(e.to_vec()));
        assert_eq!(n, 5);
        assert_eq!(
            out,
            vec![
                b"0".to_vec(),
                b"2".to_vec(),
                b"4".to_vec(),
                b"6".to_vec(),
                b"8".to_vec()
            ]
        );
        assert_eq!(intersect(&mut [&a, &b], 2, |_| {}), 2);
        assert_eq!(intersect(&mut [&a, &a], 0, |_| {}), 10);
    }
}
