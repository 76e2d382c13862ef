//! The hash family: HSET, HSETNX, HGET, HMGET, HMSET, HDEL, HLEN, HSTRLEN,
//! HEXISTS, HKEYS, HVALS, HGETALL, HINCRBY, HINCRBYFLOAT, HSCAN and
//! HRANDFIELD, with Redis 7.0's replies, error texts and argument-checking
//! order (src/t_hash.c); plus [`ld`], the C `long double` arithmetic that
//! HINCRBYFLOAT and the blocking-command timeouts need to match Redis digit
//! for digit.
//!
//! Invariants: a hash key is never empty (the key goes with its last
//! field); a command that changes nothing does not pass the store's
//! mutation choke point. The value's two encodings (listpack, hashtable)
//! and their conversion live in `store::hash`; here a listpack is answered
//! in its order (HSCAN whole in one call, HRANDFIELD's distinct picks in
//! listpack order, as Redis), a table through its indices.

use std::collections::HashSet;

use super::flags::{DENYOOM, FAST, READONLY, WRITE};
use super::list::parse_long;
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::number::{fmt_i64, parse_i64};
use crate::server::{Client, Server};
use crate::store::hash::{Limits, Parts};
use crate::store::journal::{InverseOp, UndoLog};
use crate::store::scan::parse_cursor;
use crate::store::{Hash, Kind, Sds, Value};

use crate::long_double::Ld;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), hset, "hash").doc(
        "2.0.0",
        "Set the string value of a hash field",
        "key field value [field value ...]",
    ),
    CommandSpec::new(
        "hsetnx",
        4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        hsetnx,
        "hash",
    )
    .doc(
        "2.0.0",
        "Set the value of a hash field, only if the field does not exist",
        "key field value",
    ),
    CommandSpec::new("hget", 3, READONLY | FAST, (1, 1, 1), hget, "hash").doc(
        "2.0.0",
        "Get the value of a hash field",
        "key field",
    ),
    CommandSpec::new("hmget", -3, READONLY | FAST, (1, 1, 1), hmget, "hash").doc(
        "2.0.0",
        "Get the values of all the given hash fields",
        "key field [field ...]",
    ),
    CommandSpec::new(
        "hmset",
        -4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        hmset,
        "hash",
    )
    .doc(
        "2.0.0",
        "Set multiple hash fields to multiple values",
        "key field value [field value ...]",
    ),
    CommandSpec::new("hdel", -3, WRITE | FAST, (1, 1, 1), hdel, "hash").doc(
        "2.0.0",
        "Delete one or more hash fields",
        "key field [field ...]",
    ),
    CommandSpec::new("hlen", 2, READONLY | FAST, (1, 1, 1), hlen, "hash").doc(
        "2.0.0",
        "Get the number of fields in a hash",
        "key",
    ),
    CommandSpec::new("hstrlen", 3, READONLY | FAST, (1, 1, 1), hstrlen, "hash").doc(
        "3.2.0",
        "Get the length of the value of a hash field",
        "key field",
    ),
    CommandSpec::new("hexists", 3, READONLY | FAST, (1, 1, 1), hexists, "hash").doc(
        "2.0.0",
        "Determine if a hash field exists",
        "key field",
    ),
    CommandSpec::new("hkeys", 2, READONLY, (1, 1, 1), hkeys, "hash").doc(
        "2.0.0",
        "Get all the fields in a hash",
        "key",
    ),
    CommandSpec::new("hvals", 2, READONLY, (1, 1, 1), hvals, "hash").doc(
        "2.0.0",
        "Get all the values in a hash",
        "key",
    ),
    CommandSpec::new("hgetall", 2, READONLY, (1, 1, 1), hgetall, "hash").doc(
        "2.0.0",
        "Get all the fields and values in a hash",
        "key",
    ),
    CommandSpec::new(
        "hincrby",
        4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        hincrby,
        "hash",
    )
    .doc(
        "2.0.0",
        "Increment the integer value of a hash field by the given number",
        "key field increment",
    ),
    CommandSpec::new(
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        hincrbyfloat,
        "hash",
    )
    .doc(
        "2.6.0",
        "Increment the float value of a hash field by the given amount",
        "key field increment",
    ),
    CommandSpec::new("hscan", -3, READONLY, (1, 1, 1), hscan, "hash").doc(
        "2.8.0",
        "Incrementally iterate hash fields and associated values",
        "key cursor [MATCH pattern] [COUNT count] [NOVALUES]",
    ),
    CommandSpec::new("hrandfield", -2, READONLY, (1, 1, 1), hrandfield, "hash").doc(
        "6.2.0",
        "Get one or multiple random fields from a hash",
        "key [count [WITHVALUES]]",
    ),
];

/// Largest |count| HRANDFIELD serves with repetitions. Redis 7.0 has no
/// bound without WITHVALUES; we refuse absurd counts instead of building a
/// reply of gigabytes.
const RANDFIELD_MAX_REPEAT: u64 = 10_000_000;

// ---------------------------------------------------------------------------
// Typed lookups.
// ---------------------------------------------------------------------------

/// The hash at `key` for a read command (counts a keyspace hit or miss).
#[inline]
fn read_hash<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a Hash>, CmdError> {
    match srv.store.lookup_read(db, key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The hash at `key` for a write command, without touching it.
#[inline]
fn peek_hash<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a Hash>, CmdError> {
    match srv.store.get(db, key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The listpack limits of the configuration.
#[inline]
pub fn limits(srv: &Server) -> Limits {
    Limits {
        entries: srv.config.hash_max_listpack_entries,
        value: srv.config.hash_max_listpack_value,
    }
}

/// The hash at `key` with intent to change it in place, with the log its
/// inverse changes go to (see `store::journal`): a table logs inverses, a
/// pack is small and the journal copies it (which also covers a conversion).
#[inline]
fn write_hash_undo<'a>(
    srv: &'a mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<(&'a mut Hash, UndoLog<'a>)>, CmdError> {
    let table = |v: &Value| matches!(v, Value::Hash(Hash::Table(_)));
    match srv.store.get_mut_undo_if(db, key, Kind::Hash, table)? {
        None => Ok(None),
        Some((Value::Hash(h), undo)) => Ok(Some((h, undo))),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Sets a field of an existing hash and logs the inverse; true if the
/// field is new.
#[inline]
fn insert_field(
    h: &mut Hash,
    undo: &mut UndoLog,
    field: &[u8],
    value: &[u8],
    lim: &Limits,
) -> bool {
    if undo.on()
        && let Some(t) = h.table_mut()
    {
        let old = t.replace(field, value);
        let created = old.is_none();
        undo.push(InverseOp::HashSet {
            field: Sds::new(field),
            old,
        });
        return created;
    }
    h.set(field, value, lim)
}

/// Sets one field, creating the hash if needed (type already checked).
fn set_field(srv: &mut Server, db: usize, key: &[u8], field: &[u8], value: &[u8]) -> CmdResult {
    let lim = limits(srv);
    if let Some((h, mut undo)) = write_hash_undo(srv, db, key)? {
        insert_field(h, &mut undo, field, value, &lim);
    } else {
        let mut h = Hash::default();
        h.set(field, value, &lim);
        srv.store.set(db, key, Value::Hash(h));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Writes.
// ---------------------------------------------------------------------------

fn hset_generic(srv: &mut Server, c: &mut Client, args: &Args, name: &'static str) -> CmdResult {
    if args.len() % 2 == 1 {
        return Err(CmdError::WrongArity(name));
    }
    let key = &args[1];
    let lim = limits(srv);
    let mut created = 0i64;
    let pairs = (2..args.len()).step_by(2).map(|i| (&args[i], &args[i + 1]));
    if let Some((h, mut undo)) = write_hash_undo(srv, c.db, key)? {
        for (f, v) in pairs {
            created += insert_field(h, &mut undo, f, v, &lim) as i64;
        }
    } else {
        let mut h = Hash::default();
        for (f, v) in pairs {
            created += h.set(f, v, &lim) as i64;
        }
        srv.store.set(c.db, key, Value::Hash(h));
    }
    if name == "hset" {
        c.reply.int(created);
    } else {
        c.reply.ok();
    }
    Ok(())
}

fn hset(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    hset_generic(srv, c, args, "hset")
}

fn hmset(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    hset_generic(srv, c, args, "hmset")
}

fn hsetnx(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (key, field) = (&args[1], &args[2]);
    if peek_hash(srv, c.db, key)?.is_some_and(|h| h.contains(field)) {
        c.reply.int(0);
        return Ok(());
    }
    set_field(srv, c.db, key, field, &args[3])?;
    c.reply.int(1);
    Ok(())
}

fn hdel(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let key = &args[1];
    let Some(h) = peek_hash(srv, c.db, key)? else {
        c.reply.int(0);
        return Ok(());
    };
    // Nothing to delete: reply without touching the key (no WATCH effect).
    if !args.iter().skip(2).any(|f| h.contains(f)) {
        c.reply.int(0);
        return Ok(());
    }
    let Some((h, mut undo)) = write_hash_undo(srv, c.db, key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let mut deleted = 0i64;
    for f in args.iter().skip(2) {
        let removed = match h.table_mut() {
            Some(t) if undo.on() => match t.remove_full(f) {
                Some((index, entry)) => {
                    undo.push(InverseOp::HashDel { entry, index });
                    true
                }
                None => false,
            },
            _ => h.remove(f),
        };
        if removed {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if h.is_empty() {
        srv.store.delete(c.db, key);
    } else {
        // As Redis's hashTypeDelete resizes its dict below 10% fill (no
        // entry moves: the journal's positions stay valid).
        h.maybe_shrink();
    }
    c.reply.int(deleted);
    Ok(())
}

fn hincrby(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let incr = parse_long(&args[3])?;
    let (key, field) = (&args[1], &args[2]);
    let old = match peek_hash(srv, c.db, key)?.and_then(|h| h.get(field)) {
        Some(v) => {
            parse_i64(&v.cow()).ok_or(CmdError::Static("ERR hash value is not an integer"))?
        }
        None => 0,
    };
    let new = old.checked_add(incr).ok_or(CmdError::Overflow)?;
    let mut buf = [0u8; 20];
    let text = fmt_i64(new, &mut buf);
    set_field(srv, c.db, key, field, text)?;
    c.reply.int(new);
    Ok(())
}

fn hincrbyfloat(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let incr = Ld::parse(&args[3]).ok_or(CmdError::NotFloat)?;
    if incr.is_inf() {
        return Err(CmdError::Static("ERR value is NaN or Infinity"));
    }
    let (key, field) = (&args[1], &args[2]);
    let old = match peek_hash(srv, c.db, key)?.and_then(|h| h.get(field)) {
        Some(v) => Ld::parse(&v.cow()).ok_or(CmdError::Static("ERR hash value is not a float"))?,
        None => Ld::ZERO,
    };
    let new = old + incr;
    if new.is_inf() {
        return Err(CmdError::Static(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    let text = new.to_human();
    c.reply.bulk(text.as_bytes());
    // Propagated as HSET of the result (as Redis does): replay must not
    // depend on float arithmetic.
    srv.store
        .prop
        .rewrite_as_one([&b"HSET"[..], key, field, text.as_bytes()]);
    set_field(srv, c.db, key, field, text.as_bytes())
}

// ---------------------------------------------------------------------------
// Reads.
// ---------------------------------------------------------------------------

fn hget(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    match read_hash(srv, c.db, &args[1])?.and_then(|h| h.get(&args[2])) {
        Some(v) => c.reply.bulk2(v.head, v.tail),
        None => c.reply.null(),
    }
    Ok(())
}

fn hmget(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let h = read_hash(srv, c.db, &args[1])?;
    c.reply.array(args.len() - 2);
    for f in args.iter().skip(2) {
        match h.and_then(|h| h.get(f)) {
            Some(v) => c.reply.bulk2(v.head, v.tail),
            None => c.reply.null(),
        }
    }
    Ok(())
}

fn hlen(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let n = read_hash(srv, c.db, &args[1])?.map_or(0, |h| h.len());
    c.reply.int(n as i64);
    Ok(())
}

fn hstrlen(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let n = read_hash(srv, c.db, &args[1])?
        .and_then(|h| h.get(&args[2]))
        .map_or(0, |v| v.len());
    c.reply.int(n as i64);
    Ok(())
}

fn hexists(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let found = read_hash(srv, c.db, &args[1])?.is_some_and(|h| h.contains(&args[2]));
    c.reply.int(found as i64);
    Ok(())
}

fn hkeys(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let Some(h) = read_hash(srv, c.db, &args[1])? else {
        c.reply.array(0);
        return Ok(());
    };
    c.reply.array(h.len());
    h.for_each(|k, _| c.reply.bulk2(k.head, k.tail));
    Ok(())
}

fn hvals(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let Some(h) = read_hash(srv, c.db, &args[1])? else {
        c.reply.array(0);
        return Ok(());
    };
    c.reply.array(h.len());
    h.for_each(|_, v| c.reply.bulk2(v.head, v.tail));
    Ok(())
}

fn hgetall(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let Some(h) = read_hash(srv, c.db, &args[1])? else {
        c.reply.map(0);
        return Ok(());
    };
    c.reply.map(h.len());
    h.for_each(|k, v| {
        c.reply.bulk2(k.head, k.tail);
        c.reply.bulk2(v.head, v.tail);
    });
    Ok(())
}

/// Largest COUNT honoured by HSCAN (more finishes any real hash anyway).
const MAX_SCAN_COUNT: usize = 1 << 40;

fn hscan(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let cursor = parse_cursor(&args[2]).ok_or(CmdError::Static("ERR invalid cursor"))?;
    // Redis answers a missing key before looking at the options.
    let Some(h) = read_hash(srv, c.db, &args[1])? else {
        c.reply.array(2);
        c.reply.bulk(b"0");
        c.reply.array(0);
        return Ok(());
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut novalues = false;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - i >= 2;
        let opt = &args[i];
        if opt.eq_ignore_ascii_case(b"count") && more {
            let n = parse_long(&args[i + 1])?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = usize::try_from(n)
                .unwrap_or(MAX_SCAN_COUNT)
                .min(MAX_SCAN_COUNT);
            i += 2;
        } else if opt.eq_ignore_ascii_case(b"match") && more {
            let p = &args[i + 1];
            pattern = if p == b"*" { None } else { Some(p) };
            i += 2;
        } else if opt.eq_ignore_ascii_case(b"novalues") {
            // Redis 7.4's option; accepted here as a compatible extension.
            novalues = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    // A listpack is returned whole, in order, in one call whatever the
    // cursor, as Redis does; a table is walked from high to low indices.
    let walk = |visit: &mut dyn FnMut(Parts, Parts)| -> u64 {
        match h.table() {
            None => {
                h.for_each(&mut *visit);
                0
            }
            Some(t) => t.scan(cursor, count, |k, v| visit(k.into(), v.into())),
        }
    };
    let mut scratch = Vec::new();
    let mut matches =
        |f: Parts| pattern.is_none_or(|p| crate::glob::glob_match(p, f.join(&mut scratch), false));
    // Count first, then write: the reply header needs the length.
    let mut n = 0usize;
    let next = walk(&mut |k, _| {
        if matches(k) {
            n += 1;
        }
    });
    c.reply.array(2);
    let mut buf = [0u8; 20];
    c.reply.bulk(fmt_u64(next, &mut buf));
    c.reply.array(if novalues { n } else { 2 * n });
    let reply = &mut c.reply;
    walk(&mut |k, v| {
        if matches(k) {
            reply.bulk2(k.head, k.tail);
            if !novalues {
                reply.bulk2(v.head, v.tail);
            }
        }
    });
    Ok(())
}

/// Decimal text of an unsigned cursor in `buf`.
fn fmt_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

fn hrandfield(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() < 3 {
        let Some(h) = read_hash(srv, c.db, &args[1])? else {
            c.reply.null();
            return Ok(());
        };
        match h.get_index(crate::store::random_index(h.len().max(1))) {
            Some((k, _)) => c.reply.bulk2(k.head, k.tail),
            None => c.reply.null(),
        }
        return Ok(());
    }
    let l = parse_long(&args[2])?;
    if args.len() > 4 || (args.len() == 4 && !args[3].eq_ignore_ascii_case(b"withvalues")) {
        return Err(CmdError::Syntax);
    }
    let withvalues = args.len() == 4;
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    if l < 0 && l.unsigned_abs() > RANDFIELD_MAX_REPEAT {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    let resp3 = c.reply.resp3;
    let Some(h) = read_hash(srv, c.db, &args[1])? else {
        c.reply.array(0);
        return Ok(());
    };
    let size = h.len();
    let count = l.unsigned_abs();
    if count == 0 || size == 0 {
        c.reply.array(0);
        return Ok(());
    }
    // Random access: a table by index, a pack through its pairs listed
    // once (a pack is small).
    let packed: Vec<(Parts, Parts)> = match h.table() {
        Some(_) => Vec::new(),
        None => h.iter().collect(),
    };
    let at = |i: usize| match h.table() {
        Some(t) => t.get_index(i).map(|(k, v)| (k.into(), v.into())),
        None => packed.get(i).copied(),
    };
    let reply = &mut c.reply;
    let emit = |reply: &mut crate::resp::Reply, i: usize| {
        if let Some((k, v)) = at(i) {
            if withvalues && resp3 {
                reply.array(2);
            }
            reply.bulk2(k.head, k.tail);
            if withvalues {
                reply.bulk2(v.head, v.tail);
            }
        }
    };
    let header = |reply: &mut crate::resp::Reply, n: usize| {
        if withvalues && !resp3 {
            reply.array(2 * n);
        } else {
            reply.array(n);
        }
    };
    // Repetitions allowed (negative count), or a single pick.
    if l < 0 || count == 1 {
        let n = count as usize;
        header(reply, n);
        for _ in 0..n {
            emit(reply, crate::store::random_index(size));
        }
        return Ok(());
    }
    // The whole hash.
    if count >= size as u64 {
        header(reply, size);
        for i in 0..size {
            emit(reply, i);
        }
        return Ok(());
    }
    let count = count as usize;
    header(reply, count);
    if h.is_packed() {
        // Distinct picks in the listpack's order, as Redis's
        // lpRandomPairsUnique gives them (Floyd's sampling).
        let mut picked = vec![false; size];
        for j in size - count..size {
            let r = crate::store::random_index(j + 1);
            let i = if picked[r] { j } else { r };
            picked[i] = true;
        }
        for (i, _) in picked.iter().enumerate().filter(|(_, p)| **p) {
            emit(reply, i);
        }
    } else if count * 3 > size {
        // Many of them: a partial Fisher-Yates shuffle of all indices.
        let mut idx: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = i + crate::store::random_index(size - i);
            idx.swap(i, j);
            emit(reply, idx[i]);
        }
    } else {
        // Few of them: draw until `count` distinct ones (expected < 1.5
        // draws each since count <= size / 3).
        let mut picked: HashSet<usize> = HashSet::with_capacity(count);
        while picked.len() < count {
            let i = crate::store::random_index(size);
            if picked.insert(i) {
                emit(reply, i);
            }
        }
    }
    Ok(())
}
