//! The list family: LPUSH/RPUSH(X), LPOP/RPOP, LLEN, LINDEX, LSET, LRANGE,
//! LTRIM, LREM, LINSERT, LPOS, LMOVE, RPOPLPUSH, LMPOP and the blocking
//! variants BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, with Redis 7.0's
//! replies, error texts and argument-checking order (src/t_list.c).
//!
//! Invariants: a list key is never empty (the key is removed with its last
//! element); a command that changes nothing does not pass the store's
//! mutation choke point (so WATCH is not invalidated, as in Redis).
//!
//! Blocking: when no listed key has data, the handler parks the client with
//! [`Server::block_on_keys`]; the server re-runs the very same command when
//! a key is written, so every handler here is re-entrant (on re-run it pops
//! like the non-blocking form, or parks again).

use std::time::Duration;

use super::flags::{BLOCKING, DENYOOM, FAST, NOSCRIPT, READONLY, WRITE};
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::long_double as ld;
use crate::number::parse_i64;
use crate::resp::Reply;
use crate::server::{Client, Server};
use crate::store::journal::{InverseOp, UndoLog};
use crate::store::list::Iter as ListIter;
use crate::store::{Key, Kind, List, Value};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpush, "list").doc(
        "1.0.0",
        "Prepend one or multiple elements to a list",
        "key element [element ...]",
    ),
    CommandSpec::new("rpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpush, "list").doc(
        "1.0.0",
        "Append one or multiple elements to a list",
        "key element [element ...]",
    ),
    CommandSpec::new("lpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpushx, "list").doc(
        "2.2.0",
        "Prepend an element to a list, only if the list exists",
        "key element [element ...]",
    ),
    CommandSpec::new("rpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpushx, "list").doc(
        "2.2.0",
        "Append an element to a list, only if the list exists",
        "key element [element ...]",
    ),
    CommandSpec::new("lpop", -2, WRITE | FAST, (1, 1, 1), lpop, "list").doc(
        "1.0.0",
        "Remove and get the first elements in a list",
        "key [count]",
    ),
    CommandSpec::new("rpop", -2, WRITE | FAST, (1, 1, 1), rpop, "list").doc(
        "1.0.0",
        "Remove and get the last elements in a list",
        "key [count]",
    ),
    CommandSpec::new("llen", 2, READONLY | FAST, (1, 1, 1), llen, "list").doc(
        "1.0.0",
        "Get the length of a list",
        "key",
    ),
    CommandSpec::new("lindex", 3, READONLY, (1, 1, 1), lindex, "list").doc(
        "1.0.0",
        "Get an element from a list by its index",
        "key index",
    ),
    CommandSpec::new("lset", 4, WRITE | DENYOOM, (1, 1, 1), lset, "list").doc(
        "1.0.0",
        "Set the value of an element in a list by its index",
        "key index element",
    ),
    CommandSpec::new("lrange", 4, READONLY, (1, 1, 1), lrange, "list").doc(
        "1.0.0",
        "Get a range of elements from a list",
        "key start stop",
    ),
    CommandSpec::new("ltrim", 4, WRITE, (1, 1, 1), ltrim, "list").doc(
        "1.0.0",
        "Trim a list to the specified range",
        "key start stop",
    ),
    CommandSpec::new("lrem", 4, WRITE, (1, 1, 1), lrem, "list").doc(
        "1.0.0",
        "Remove elements from a list",
        "key count element",
    ),
    CommandSpec::new("linsert", 5, WRITE | DENYOOM, (1, 1, 1), linsert, "list").doc(
        "2.2.0",
        "Insert an element before or after another element in a list",
        "key <BEFORE | AFTER> pivot element",
    ),
    CommandSpec::new("lpos", -3, READONLY, (1, 1, 1), lpos, "list").doc(
        "6.0.6",
        "Return the index of matching elements on a list",
        "key element [RANK rank] [COUNT num-matches] [MAXLEN len]",
    ),
    CommandSpec::new("lmove", 5, WRITE | DENYOOM, (1, 2, 1), lmove, "list").doc(
        "6.2.0",
        "Pop an element from a list, push it to another list and return it",
        "source destination <LEFT | RIGHT> <LEFT | RIGHT>",
    ),
    CommandSpec::new("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), rpoplpush, "list").doc(
        "1.2.0",
        "Remove the last element in a list, prepend it to another list and return it",
        "source destination",
    ),
    // Keys are movable (numkeys); Redis's legacy triple is (0, 0, 0).
    CommandSpec::new("lmpop", -4, WRITE, (0, 0, 0), lmpop, "list").doc(
        "7.0.0",
        "Pop elements from a list",
        "numkeys key [key ...] <LEFT | RIGHT> [COUNT count]",
    ),
    CommandSpec::new("blpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), blpop, "list").doc(
        "2.0.0",
        "Remove and get the first element in a list, or block until one is available",
        "key [key ...] timeout",
    ),
    CommandSpec::new("brpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), brpop, "list").doc(
        "2.0.0",
        "Remove and get the last element in a list, or block until one is available",
        "key [key ...] timeout",
    ),
    CommandSpec::new(
        "blmove",
        6,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        (1, 2, 1),
        blmove,
        "list",
    )
    .doc(
        "6.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        "source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout",
    ),
    CommandSpec::new(
        "brpoplpush",
        4,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        (1, 2, 1),
        brpoplpush,
        "list",
    )
    .doc(
        "2.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        "source destination timeout",
    ),
    // Keys are movable (numkeys); Redis's legacy triple is (0, 0, 0).
    CommandSpec::new("blmpop", -5, WRITE | BLOCKING, (0, 0, 0), blmpop, "list").doc(
        "7.0.0",
        "Pop elements from a list, or block until one is available",
        "timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]",
    ),
];

/// True when this client may not block (Redis's CLIENT_DENY_BLOCKING:
/// inside MULTI/EXEC, or the connection-less AOF loader): a blocking pop
/// with no data then answers like a timeout instead of parking.
fn must_not_block(c: &Client) -> bool {
    c.in_transaction() || c.is_internal()
}

// ---------------------------------------------------------------------------
// Shared helpers (argument parsing, typed lookups).
// ---------------------------------------------------------------------------

/// Redis's getLongFromObjectOrReply: `ERR value is not an integer or out of range`.
#[inline]
pub(crate) fn parse_long(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// Redis's getRangeLongFromObjectOrReply: `msg` (if any) is the error for
/// both an unparsable value and one outside `min..=max`.
pub(crate) fn parse_range_long(
    arg: &[u8],
    min: i64,
    max: i64,
    msg: Option<&'static str>,
) -> Result<i64, CmdError> {
    let v = match parse_i64(arg) {
        Some(v) => v,
        None => return Err(msg.map_or(CmdError::NotInteger, CmdError::Static)),
    };
    if v < min || v > max {
        return Err(match msg {
            Some(m) => CmdError::Static(m),
            None => CmdError::Custom(format!(
                "ERR value is out of range, value must between {} and {}",
                min, max
            )),
        });
    }
    Ok(v)
}

/// Redis's getPositiveLongFromObjectOrReply with no custom message.
fn parse_positive(arg: &[u8]) -> Result<i64, CmdError> {
    parse_range_long(
        arg,
        0,
        i64::MAX,
        Some("ERR value is out of range, must be positive"),
    )
}

/// LEFT / RIGHT (case-insensitive) -> true for LEFT.
fn parse_where(arg: &[u8]) -> Result<bool, CmdError> {
    if arg.eq_ignore_ascii_case(b"left") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Upper bound for a blocking timeout: keeps `Instant + timeout` far from
/// overflow while being "forever" for every practical purpose.
const MAX_TIMEOUT_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// Redis's getTimeoutFromObjectOrReply (seconds): parsed as a C long
/// double, times 1000, rounded up to whole milliseconds; a value that does
/// not fit a long long (inf, >= 2^63 ms) wraps to LLONG_MIN on x86 and is
/// reported as negative, exactly as Redis 7.0 does. `None` = forever.
pub(crate) fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = ld::Ld::parse(arg).ok_or(CmdError::Static(
        "ERR timeout is not a float or out of range",
    ))?;
    match secs.mul_u64(1000).ceil_i64() {
        Some(0) => Ok(None),
        Some(ms) if ms > 0 => Ok(Some(Duration::from_millis((ms as u64).min(MAX_TIMEOUT_MS)))),
        _ => Err(CmdError::Static("ERR timeout is negative")),
    }
}

/// Normalizes a (possibly negative) index into `0..len`.
#[inline]
fn norm_index(idx: i64, len: usize) -> Option<usize> {
    let i = if idx < 0 { len as i64 + idx } else { idx };
    (i >= 0 && (i as u64) < len as u64).then_some(i as usize)
}

/// Redis's start/stop range rules (negative from the end, clamped);
/// inclusive bounds, None when the range is empty.
#[inline]
fn norm_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut s = if start < 0 { llen + start } else { start };
    let mut e = if end < 0 { llen + end } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= llen {
        return None;
    }
    if e >= llen {
        e = llen - 1;
    }
    Some((s as usize, e as usize))
}

/// The list at `key` for a read command (counts a keyspace hit or miss,
/// like lookupKeyRead).
#[inline]
fn read_list<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a List>, CmdError> {
    match srv.store.lookup_read(db, key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The list at `key` for a write command, without touching it (used to
/// decide whether anything will change before passing the choke point).
#[inline]
fn peek_list<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a List>, CmdError> {
    match srv.store.get(db, key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The list at `key` with intent to change it (passes the choke point).
#[inline]
fn write_list<'a>(
    srv: &'a mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a mut List>, CmdError> {
    match srv.store.get_mut(db, key, Kind::List)? {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The list at `key` with intent to change it in place, with the log its
/// inverse changes go to (see `store::journal`).
#[inline]
fn write_list_undo<'a>(
    srv: &'a mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<(&'a mut List, UndoLog<'a>)>, CmdError> {
    match srv.store.get_mut_undo(db, key, Kind::List)? {
        None => Ok(None),
        Some((Value::List(l), undo)) => Ok(Some((l, undo))),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Pops `n` (<= len) elements from one end, replying each as a bulk string
/// in pop order, and logs their inverse.
#[inline]
fn pop_n_reply(l: &mut List, left: bool, n: usize, reply: &mut Reply, undo: &mut UndoLog) {
    reply.array(n);
    if undo.on() {
        let mut items = Vec::with_capacity(n);
        l.pop_each(left, n, |e| {
            reply.bulk(e);
            items.push(Key::new(e));
        });
        undo.push(InverseOp::ListPush { left, items });
    } else {
        l.pop_each(left, n, |e| reply.bulk(e));
    }
}

/// Pops one element and logs its inverse.
#[inline]
fn pop_one(l: &mut List, left: bool, undo: &mut UndoLog) -> Option<Key> {
    let e = l.pop(left)?;
    if undo.on() {
        undo.push(InverseOp::ListPush {
            left,
            items: vec![e.clone()],
        });
    }
    Some(e)
}

// ---------------------------------------------------------------------------
// Push / pop.
// ---------------------------------------------------------------------------

fn push_generic(srv: &mut Server, c: &mut Client, args: &Args, left: bool, xx: bool) -> CmdResult {
    let key = &args[1];
    if let Some((l, mut undo)) = write_list_undo(srv, c.db, key)? {
        l.push_all(left, args.iter().skip(2));
        undo.push(InverseOp::ListPop {
            left,
            n: args.len() - 2,
        });
        c.reply.int(l.len() as i64);
        return Ok(());
    }
    if xx {
        c.reply.int(0);
        return Ok(());
    }
    let mut l = List::new();
    l.push_all(left, args.iter().skip(2));
    c.reply.int(l.len() as i64);
    srv.store.set(c.db, key, Value::List(l));
    Ok(())
}

fn lpush(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    push_generic(srv, c, args, true, false)
}

fn rpush(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    push_generic(srv, c, args, false, false)
}

fn lpushx(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    push_generic(srv, c, args, true, true)
}

fn rpushx(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    push_generic(srv, c, args, false, true)
}

fn pop_generic(srv: &mut Server, c: &mut Client, args: &Args, left: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::WrongArity(if left { "lpop" } else { "rpop" }));
    }
    let count = match args.get(2) {
        Some(a) => Some(parse_positive(a)?),
        None => None,
    };
    let key = &args[1];
    // An existing list is never empty, so a hit always changes it - except
    // for a count of 0, which must not pass the choke point.
    if count == Some(0) {
        match peek_list(srv, c.db, key)? {
            None => c.reply.null_array(),
            Some(_) => c.reply.array(0),
        }
        return Ok(());
    }
    let Some((l, mut undo)) = write_list_undo(srv, c.db, key)? else {
        if count.is_some() {
            c.reply.null_array();
        } else {
            c.reply.null();
        }
        return Ok(());
    };
    match count {
        None => match pop_one(l, left, &mut undo) {
            Some(e) => c.reply.bulk(&e),
            None => c.reply.null(),
        },
        Some(n) => {
            let n = (n as u64).min(l.len() as u64) as usize;
            pop_n_reply(l, left, n, &mut c.reply, &mut undo);
        }
    }
    if l.is_empty() {
        srv.store.delete(c.db, key);
    }
    Ok(())
}

fn lpop(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    pop_generic(srv, c, args, true)
}

fn rpop(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    pop_generic(srv, c, args, false)
}

// ---------------------------------------------------------------------------
// Reads.
// ---------------------------------------------------------------------------

fn llen(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let n = read_list(srv, c.db, &args[1])?.map_or(0, |l| l.len());
    c.reply.int(n as i64);
    Ok(())
}

fn lindex(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    // Redis looks the key up (and type-checks it) before parsing the index.
    let Some(l) = read_list(srv, c.db, &args[1])? else {
        c.reply.null();
        return Ok(());
    };
    let idx = parse_long(&args[2])?;
    match norm_index(idx, l.len()).and_then(|i| l.get(i)) {
        Some(e) => c.reply.bulk(&e),
        None => c.reply.null(),
    }
    Ok(())
}

fn lrange(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let start = parse_long(&args[2])?;
    let end = parse_long(&args[3])?;
    let Some(l) = read_list(srv, c.db, &args[1])? else {
        c.reply.array(0);
        return Ok(());
    };
    let Some((s, e)) = norm_range(start, end, l.len()) else {
        c.reply.array(0);
        return Ok(());
    };
    c.reply.array(e - s + 1);
    put_bulks(&mut c.reply.buf, l.range(s, e + 1));
    Ok(())
}

/// Appends `items` as RESP bulk strings in one pass over the list's raw
/// entries: room for the short elements' replies is reserved first, and
/// those are copied as fixed 16-byte blocks (when the entry buffer holds
/// 16 bytes from the element on) and cut back, which avoids a libc memcpy
/// call per element. LRANGE's hot path (LRANGE_600 spends its time here).
fn put_bulks(out: &mut Vec<u8>, items: ListIter<'_>) {
    match items {
        ListIter::Packed(it) => put_segment(out, it.segment()),
        ListIter::Chunked(it) => {
            for seg in it.segments() {
                put_segment(out, seg);
            }
        }
    }
}

/// Writes the first `n` entries of `seg` (see `put_bulks`).
fn put_segment(out: &mut Vec<u8>, (seg, n): (&[u8], usize)) {
    use crate::store::pack::{LONG_STR, read_entry, read_int};
    const BLOCK: usize = 16;
    // Room for short elements: `$`, up to 3 digits and two CRLFs per
    // entry, less its 1-byte header counted in `seg.len()` (longer ones
    // and integer entries, whose digits may outnumber their bytes, grow
    // the buffer as they go).
    out.reserve(seg.len() + n * 7 + BLOCK);
    let mut off = 0;
    for _ in 0..n {
        let b0 = seg[off];
        if b0 >= 0x80 {
            if b0 == LONG_STR {
                let (e, size) = read_entry(&seg[off..]);
                put_bulk(out, e);
                off += size;
            } else {
                let (v, size) = read_int(&seg[off..]);
                put_int(out, v);
                off += size;
            }
            continue;
        }
        // A short string (1-byte length header).
        let len = b0 as usize;
        if len < 10 {
            out.extend_from_slice(&[b'$', b'0' + len as u8, b'\r', b'\n']);
        } else {
            let mut h = [0u8; 24];
            h[22..].copy_from_slice(b"\r\n");
            let start = crate::number::write_i64(len as i64, &mut h, 22) - 1;
            h[start] = b'$';
            out.extend_from_slice(&h[start..]);
        }
        let from = off + 1;
        match seg[from..].first_chunk::<BLOCK>() {
            // A fixed-size copy, then the bytes past the element dropped.
            Some(block) if len <= BLOCK => {
                out.extend_from_slice(block);
                out.truncate(out.len() - (BLOCK - len));
            }
            _ => out.extend_from_slice(&seg[from..from + len]),
        }
        out.extend_from_slice(b"\r\n");
        off += 1 + len;
    }
}

/// The bulk string of an integer entry's digits: `$`, the length and the
/// digits written forward into a stack block that is appended whole (a
/// fixed-size copy, no memcpy call) and cut back.
#[inline]
fn put_int(out: &mut Vec<u8>, v: i64) {
    const BLOCK: usize = 32;
    let digits = v.unsigned_abs().checked_ilog10().unwrap_or(0) as usize + 1;
    let n = digits + (v < 0) as usize; // at most 20
    let mut b = [0u8; BLOCK];
    b[0] = b'$';
    let head = if n < 10 {
        b[1] = b'0' + n as u8;
        2
    } else {
        b[1] = b'0' + (n / 10) as u8;
        b[2] = b'0' + (n % 10) as u8;
        3
    };
    b[head..head + 2].copy_from_slice(b"\r\n");
    let end = head + 2 + n;
    crate::number::write_i64(v, &mut b, end); // sign included
    b[end..end + 2].copy_from_slice(b"\r\n");
    out.extend_from_slice(&b);
    out.truncate(out.len() - (BLOCK - end - 2));
}

/// One RESP bulk string.
fn put_bulk(out: &mut Vec<u8>, e: &[u8]) {
    let mut h = [0u8; 24];
    h[22..].copy_from_slice(b"\r\n");
    let start = crate::number::write_i64(e.len() as i64, &mut h, 22) - 1;
    h[start] = b'$';
    out.extend_from_slice(&h[start..]);
    out.extend_from_slice(e);
    out.extend_from_slice(b"\r\n");
}

fn lpos(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: i64 = -1; // -1: COUNT not given
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        let more = args.len() - 1 - j > 0;
        if opt.eq_ignore_ascii_case(b"rank") && more {
            j += 1;
            rank = parse_long(&args[j])?;
            if rank == 0 {
                return Err(CmdError::Static(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if opt.eq_ignore_ascii_case(b"count") && more {
            j += 1;
            count = parse_range_long(&args[j], 0, i64::MAX, Some("ERR COUNT can't be negative"))?;
        } else if opt.eq_ignore_ascii_case(b"maxlen") && more {
            j += 1;
            maxlen = parse_range_long(&args[j], 0, i64::MAX, Some("ERR MAXLEN can't be negative"))?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let from_tail = rank < 0;
    // Redis 7.0 negates LONG_MIN in place (it stays negative), so every
    // match qualifies and COUNT never stops the walk; mimic that.
    let wrapped = rank == i64::MIN;
    let rank = if wrapped { 1 } else { rank.unsigned_abs() };
    let Some(l) = read_list(srv, c.db, &args[1])? else {
        if count != -1 {
            c.reply.array(0);
        } else {
            c.reply.null();
        }
        return Ok(());
    };
    let ele = &args[2];
    let len = l.len();
    let scan = if maxlen == 0 {
        len
    } else {
        (maxlen as u64).min(len as u64) as usize
    };
    let mut matches: u64 = 0;
    let mut found: Vec<usize> = Vec::new();
    let mut single: Option<usize> = None;
    // Looks at the element at `pos`; true when the walk is over.
    let mut visit = |pos: usize| {
        matches += 1;
        if matches < rank {
            return false;
        }
        if count != -1 {
            found.push(pos);
            count != 0 && !wrapped && matches - rank + 1 >= count as u64
        } else {
            single = Some(pos);
            true
        }
    };
    l.find(ele, from_tail, scan, &mut visit);
    if count != -1 {
        c.reply.array(found.len());
        for p in found {
            c.reply.int(p as i64);
        }
    } else {
        match single {
            Some(p) => c.reply.int(p as i64),
            None => c.reply.null(),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// In-place changes.
// ---------------------------------------------------------------------------

fn lset(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let key = &args[1];
    let Some(l) = peek_list(srv, c.db, key)? else {
        return Err(CmdError::NoSuchKey);
    };
    let idx = parse_long(&args[2])?;
    let Some(i) = norm_index(idx, l.len()) else {
        return Err(CmdError::IndexOutOfRange);
    };
    if let Some(l) = write_list(srv, c.db, key)? {
        l.set(i, &args[3]);
    }
    c.reply.ok();
    Ok(())
}

fn ltrim(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let start = parse_long(&args[2])?;
    let end = parse_long(&args[3])?;
    let key = &args[1];
    // Redis signals the key as modified even when nothing is trimmed.
    let Some(l) = write_list(srv, c.db, key)? else {
        c.reply.ok();
        return Ok(());
    };
    match norm_range(start, end, l.len()) {
        None => l.clear(),
        Some((s, e)) => l.keep_range(s, e + 1),
    }
    if l.is_empty() {
        srv.store.delete(c.db, key);
    }
    c.reply.ok();
    Ok(())
}

fn lrem(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    // Redis 7.0 takes any long here; LONG_MIN means "all, from the tail".
    let toremove = parse_long(&args[2])?;
    let key = &args[1];
    let ele = &args[3];
    let Some(l) = peek_list(srv, c.db, key)? else {
        c.reply.int(0);
        return Ok(());
    };
    // Nothing to remove: reply without touching the key (no WATCH effect).
    let mut any = false;
    l.find(ele, false, usize::MAX, |_| {
        any = true;
        true
    });
    if !any {
        c.reply.int(0);
        return Ok(());
    }
    let Some(l) = write_list(srv, c.db, key)? else {
        c.reply.int(0);
        return Ok(());
    };
    // |count| elements (0 = all), from the tail when negative.
    let removed = l.remove(ele, toremove.unsigned_abs(), toremove < 0);
    if l.is_empty() {
        srv.store.delete(c.db, key);
    }
    c.reply.int(removed as i64);
    Ok(())
}

fn linsert(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let after = if args[2].eq_ignore_ascii_case(b"after") {
        true
    } else if args[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let key = &args[1];
    let Some(l) = peek_list(srv, c.db, key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let pivot = &args[3];
    let mut found = None;
    l.find(pivot, false, usize::MAX, |i| {
        found = Some(i);
        true
    });
    let Some(pos) = found else {
        c.reply.int(-1);
        return Ok(());
    };
    let Some(l) = write_list(srv, c.db, key)? else {
        c.reply.int(0);
        return Ok(());
    };
    l.insert(if after { pos + 1 } else { pos }, &args[4]);
    c.reply.int(l.len() as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// Moves between lists.
// ---------------------------------------------------------------------------

/// LMOVE's core once the arguments are parsed (Redis's lmoveGenericCommand):
/// a missing source answers a null bulk; the destination's type is checked
/// before anything changes; the moved element is the reply.
fn lmove_generic(
    srv: &mut Server,
    c: &mut Client,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> CmdResult {
    let db = c.db;
    if peek_list(srv, db, src)?.is_none() {
        c.reply.null();
        return Ok(());
    }
    // The destination's type is checked before anything changes.
    peek_list(srv, db, dst)?;
    if src == dst {
        if let Some(l) = write_list(srv, db, src)? {
            match l.pop(from_left) {
                Some(e) => {
                    c.reply.bulk(&e);
                    l.push_key(to_left, e);
                }
                None => c.reply.null(),
            }
        }
        return Ok(());
    }
    let Some(l) = write_list(srv, db, src)? else {
        c.reply.null();
        return Ok(());
    };
    let Some(e) = l.pop(from_left) else {
        c.reply.null();
        return Ok(());
    };
    let now_empty = l.is_empty();
    c.reply.bulk(&e);
    match write_list(srv, db, dst)? {
        Some(d) => d.push_key(to_left, e),
        None => {
            let mut d = List::new();
            d.push_key(to_left, e);
            srv.store.set(db, dst, Value::List(d));
        }
    }
    if now_empty {
        srv.store.delete(db, src);
    }
    Ok(())
}

fn lmove(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let from_left = parse_where(&args[3])?;
    let to_left = parse_where(&args[4])?;
    lmove_generic(srv, c, &args[1], &args[2], from_left, to_left)
}

fn rpoplpush(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    lmove_generic(srv, c, &args[1], &args[2], false, true)
}

// ---------------------------------------------------------------------------
// Multi-key pops (LMPOP, BLPOP, BRPOP, BLMPOP).
// ---------------------------------------------------------------------------

/// Parsed `numkeys key [key ...] <end> [COUNT count]` of LMPOP / BLMPOP
/// (ends LEFT | RIGHT) and ZMPOP / BZMPOP (MIN | MAX).
pub(crate) struct Mpop {
    pub first_key: usize,
    pub numkeys: usize,
    /// The first of the two end tokens was given (LEFT, MIN).
    pub first_end: bool,
    /// At least 1 (1 when COUNT is absent).
    pub count: i64,
}

/// Redis's lmpopGenericCommand / zmpopGenericCommand argument parsing
/// (before the timeout): numkeys at `numkeys_idx`, `ends` the two tokens
/// naming where to pop.
pub(crate) fn parse_mpop(
    args: &Args,
    numkeys_idx: usize,
    ends: [&[u8]; 2],
) -> Result<Mpop, CmdError> {
    let numkeys = parse_range_long(
        &args[numkeys_idx],
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    )?;
    let where_idx = match (numkeys_idx as u64).checked_add(numkeys as u64 + 1) {
        Some(w) if w < args.len() as u64 => w as usize,
        _ => return Err(CmdError::Syntax),
    };
    let end = &args[where_idx];
    let first_end = if end.eq_ignore_ascii_case(ends[0]) {
        true
    } else if end.eq_ignore_ascii_case(ends[1]) {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count: i64 = -1;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j > 0;
        if count == -1 && args[j].eq_ignore_ascii_case(b"count") && more {
            j += 1;
            count = parse_range_long(
                &args[j],
                1,
                i64::MAX,
                Some("ERR count should be greater than 0"),
            )?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(Mpop {
        first_key: numkeys_idx + 1,
        numkeys: numkeys as usize,
        first_end,
        count: if count == -1 { 1 } else { count },
    })
}

/// Pops from the first non-empty list among `keys`. `count` None: one
/// element, replied as `[key, element]`; Some(n): up to n elements, replied
/// as `[key, [elements...]]`. Returns false (nothing written) if every key
/// is missing; WRONGTYPE on the first key of another type met before that.
fn pop_first_nonempty<'k>(
    srv: &mut Server,
    c: &mut Client,
    keys: impl Iterator<Item = &'k [u8]>,
    left: bool,
    count: Option<i64>,
) -> Result<bool, CmdError> {
    let db = c.db;
    for key in keys {
        let Some((l, mut undo)) = write_list_undo(srv, db, key)? else {
            continue;
        };
        if l.is_empty() {
            continue;
        }
        c.reply.array(2);
        c.reply.bulk(key);
        let pop: &[u8] = if left { b"LPOP" } else { b"RPOP" };
        let popped = match count {
            None => {
                if let Some(e) = pop_one(l, left, &mut undo) {
                    c.reply.bulk(&e);
                }
                None
            }
            Some(n) => {
                let n = (n as u64).min(l.len() as u64) as usize;
                pop_n_reply(l, left, n, &mut c.reply, &mut undo);
                Some(n)
            }
        };
        if l.is_empty() {
            srv.store.delete(db, key);
        }
        // Propagated as the plain pop that happened (as Redis does).
        match popped {
            None => srv.store.prop.rewrite_as_one([pop, key]),
            Some(n) => {
                let n = n.to_string();
                srv.store.prop.rewrite_as_one([pop, key, n.as_bytes()]);
            }
        }
        return Ok(true);
    }
    Ok(false)
}

fn lmpop(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let m = parse_mpop(args, 1, [b"left", b"right"])?;
    let keys = args.iter().skip(m.first_key).take(m.numkeys);
    if !pop_first_nonempty(srv, c, keys, m.first_end, Some(m.count))? {
        c.reply.null_array();
    }
    Ok(())
}

/// No data for a blocking pop: answer like a timeout when blocking is not
/// allowed, otherwise park the client on `keys`.
fn block_or_null(
    srv: &mut Server,
    c: &mut Client,
    keys: &[&[u8]],
    timeout: Option<Duration>,
    args: &Args,
    null_bulk: bool,
) {
    if must_not_block(c) {
        if null_bulk {
            c.reply.null();
        } else {
            c.reply.null_array();
        }
        return;
    }
    srv.block_on_keys(c, keys, timeout, args);
}

fn bpop_generic(srv: &mut Server, c: &mut Client, args: &Args, left: bool) -> CmdResult {
    let last = args.len() - 1;
    let timeout = parse_timeout(&args[last])?;
    let keys = args.iter().skip(1).take(last - 1);
    if pop_first_nonempty(srv, c, keys, left, None)? {
        return Ok(());
    }
    let keys: Vec<&[u8]> = args.iter().skip(1).take(last - 1).collect();
    block_or_null(srv, c, &keys, timeout, args, false);
    Ok(())
}

fn blpop(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    bpop_generic(srv, c, args, true)
}

fn brpop(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    bpop_generic(srv, c, args, false)
}

fn blmpop(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let m = parse_mpop(args, 2, [b"left", b"right"])?;
    let timeout = parse_timeout(&args[1])?;
    let keys = args.iter().skip(m.first_key).take(m.numkeys);
    if pop_first_nonempty(srv, c, keys, m.first_end, Some(m.count))? {
        return Ok(());
    }
    let keys: Vec<&[u8]> = args.iter().skip(m.first_key).take(m.numkeys).collect();
    block_or_null(srv, c, &keys, timeout, args, false);
    Ok(())
}

/// BLMOVE / BRPOPLPUSH once parsed: Redis's blmoveGenericCommand.
fn blmove_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    from_left: bool,
    to_left: bool,
    timeout: Option<Duration>,
) -> CmdResult {
    let src = &args[1];
    if peek_list(srv, c.db, src)?.is_some() {
        lmove_generic(srv, c, src, &args[2], from_left, to_left)?;
        // Propagated as the non-blocking form (as Redis does).
        if args.len() == 6 {
            srv.store
                .prop
                .rewrite_as_one([&b"LMOVE"[..], src, &args[2], &args[3], &args[4]]);
        } else {
            srv.store
                .prop
                .rewrite_as_one([&b"RPOPLPUSH"[..], src, &args[2]]);
        }
        return Ok(());
    }
    // Inside MULTI Redis answers a null *bulk* here (a timeout is a null array).
    block_or_null(srv, c, &[src], timeout, args, true);
    Ok(())
}

fn blmove(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let from_left = parse_where(&args[3])?;
    let to_left = parse_where(&args[4])?;
    let timeout = parse_timeout(&args[5])?;
    blmove_generic(srv, c, args, from_left, to_left, timeout)
}

fn brpoplpush(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let timeout = parse_timeout(&args[3])?;
    blmove_generic(srv, c, args, false, true, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_like_redis() {
        assert_eq!(norm_range(0, -1, 3), Some((0, 2)));
        assert_eq!(norm_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(norm_range(2, 1, 3), None);
        assert_eq!(norm_range(3, 10, 3), None);
        assert_eq!(norm_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(norm_range(0, i64::MIN, 3), None);
        assert_eq!(norm_range(0, 0, 0), None);
        assert_eq!(norm_index(-1, 3), Some(2));
        assert_eq!(norm_index(-4, 3), None);
        assert_eq!(norm_index(3, 3), None);
        assert_eq!(norm_index(i64::MIN, 3), None);
        assert_eq!(norm_index(i64::MAX, 3), None);
    }

    #[test]
    fn put_bulks_matches_reply_bulk() {
        let items: Vec<Vec<u8>> = [
            "",
            "a",
            "0123456789",
            &"x".repeat(22),
            &"y".repeat(23),
            &"z".repeat(300),
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        // A packed list, and the same elements in chunks (past 128).
        let packed: List = items.iter().map(|e| &e[..]).collect();
        let mut deque: List = (0..200).map(|_| &b"pad"[..]).collect();
        deque.push_all(false, items.iter().map(|e| &e[..]));
        assert!(packed.is_packed() && !deque.is_packed());
        let mut want = Reply::new();
        for e in &items {
            want.bulk(e);
        }
        for (l, from) in [(&packed, 0), (&deque, 200)] {
            let mut got = b"prefix".to_vec();
            put_bulks(&mut got, l.range(from, from + items.len()));
            assert_eq!(&got[..6], b"prefix");
            assert_eq!(&got[6..], &want.buf[..]);
            let mut empty = Vec::new();
            put_bulks(&mut empty, l.range(from, from));
            assert!(empty.is_empty());
        }
    }

    #[test]
    fn timeouts_like_redis() {
        let ms = |s: &str| parse_timeout(s.as_bytes()).map(|d| d.map(|d| d.as_millis()));
        assert_eq!(ms("0"), Ok(None));
        assert_eq!(ms("-0.0001"), Ok(None));
        assert_eq!(ms("1.5"), Ok(Some(1500)));
        assert_eq!(ms("0.0000001"), Ok(Some(1)));
        assert_eq!(ms("1e-400"), Ok(Some(1)));
        assert_eq!(ms("0x10"), Ok(Some(16000)));
        assert_eq!(ms("+1"), Ok(Some(1000)));
        let neg = Err(CmdError::Static("ERR timeout is negative"));
        let bad = Err(CmdError::Static(
            "ERR timeout is not a float or out of range",
        ));
        assert_eq!(ms("-1"), neg);
        assert_eq!(ms("inf"), neg);
        assert_eq!(ms("1.5e400"), neg);
        assert_eq!(ms("9223372036854776"), neg);
        assert_eq!(ms("nan"), bad);
        assert_eq!(ms(""), bad);
        assert_eq!(ms(" 1"), bad);
        assert_eq!(ms("1 "), bad);
        assert_eq!(ms("1e5000"), bad);
        assert_eq!(ms("1e-5000"), bad);
        assert!(matches!(ms("9223372036854775"), Ok(Some(_))));
    }
}
