//! The stream family: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID,
//! XREAD, XGROUP (CREATE, CREATECONSUMER, DELCONSUMER, DESTROY, SETID,
//! HELP), XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO
//! (STREAM [FULL], GROUPS, CONSUMERS, HELP), with Redis 7.0's replies,
//! error texts and argument-checking order (src/t_stream.c).
//!
//! Propagation is deterministic as in Redis: XADD with the generated id
//! (and the trim argument actually applied for `~`), XREADGROUP, XCLAIM
//! and XAUTOCLAIM as XCLAIM ... FORCE JUSTID LASTID plus XGROUP SETID.
//!
//! Blocking XREAD/XREADGROUP park on the keys like BLPOP; the parked argv
//! is rewritten first (`$` resolved to the last id at blocking time, the
//! default COUNT of 1000 made explicit) so the re-run after an XADD means
//! what the original meant.

use std::time::Duration;

use super::flags::{BLOCKING, DENYOOM, FAST, READONLY, WRITE};
use super::{Args, CmdError, CmdResult, CommandSpec, OwnedArgs};
use crate::number::parse_i64;
use crate::resp::reply::Reply;
use crate::server::{Client, Server};
use crate::store::stream::{Consumer, ENTRIES_READ_INVALID, Fields, Group, Nack, Stream, StreamId};
use crate::store::{Kind, Sds, Value};

const G: &str = "stream";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, WRITE | DENYOOM | FAST, (1, 1, 1), xadd, G).doc(
        "5.0.0",
        "Appends a new entry to a stream",
        "key [NOMKSTREAM] [MAXLEN | MINID [= | ~] threshold [LIMIT count]] * | id field value [field value ...]",
    ),
    CommandSpec::new("xlen", 2, READONLY | FAST, (1, 1, 1), xlen, G).doc(
        "5.0.0",
        "Return the number of entries in a stream",
        "key",
    ),
    CommandSpec::new("xrange", -4, READONLY, (1, 1, 1), xrange, G).doc(
        "5.0.0",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval",
        "key start end [COUNT count]",
    ),
    CommandSpec::new("xrevrange", -4, READONLY, (1, 1, 1), xrevrange, G).doc(
        "5.0.0",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
        "key end start [COUNT count]",
    ),
    CommandSpec::new("xdel", -3, WRITE | FAST, (1, 1, 1), xdel, G).doc(
        "5.0.0",
        "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
        "key id [id ...]",
    ),
    CommandSpec::new("xtrim", -4, WRITE, (1, 1, 1), xtrim, G).doc(
        "5.0.0",
        "Trims the stream to (approximately if '~' is passed) a certain size",
        "key MAXLEN | MINID [= | ~] threshold [LIMIT count]",
    ),
    CommandSpec::new("xsetid", -3, WRITE | DENYOOM | FAST, (1, 1, 1), xsetid, G).doc(
        "5.0.0",
        "An internal command for replicating stream values",
        "key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]",
    ),
    CommandSpec::new("xread", -4, READONLY | BLOCKING, (0, 0, 0), xread, G)
        .doc(
            "5.0.0",
            "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
            "[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]",
        )
        .keys_fn(xread_keys),
    CommandSpec::new("xreadgroup", -7, WRITE | BLOCKING, (0, 0, 0), xreadgroup, G)
        .doc(
            "5.0.0",
            "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
            "GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]",
        )
        .keys_fn(xread_keys),
    CommandSpec::new("xack", -4, WRITE | FAST, (1, 1, 1), xack, G).doc(
        "5.0.0",
        "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
        "key group id [id ...]",
    ),
    CommandSpec::new("xpending", -3, READONLY, (1, 1, 1), xpending, G).doc(
        "5.0.0",
        "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
        "key group [[IDLE min-idle-time] start end count [consumer]]",
    ),
    CommandSpec::new("xclaim", -6, WRITE | FAST, (1, 1, 1), xclaim, G).doc(
        "5.0.0",
        "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
        "key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]",
    ),
    CommandSpec::new("xautoclaim", -6, WRITE | FAST, (1, 1, 1), xautoclaim, G).doc(
        "6.2.0",
        "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
        "key group consumer min-idle-time start [COUNT count] [JUSTID]",
    ),
    CommandSpec::new("xgroup", -2, 0, (0, 0, 0), xgroup_help, G)
        .doc("5.0.0", "A container for consumer groups commands", "")
        .subs(XGROUP_SUBS),
    CommandSpec::new("xinfo", -2, 0, (0, 0, 0), xinfo_help, G)
        .doc("5.0.0", "A container for stream introspection commands", "")
        .subs(XINFO_SUBS),
];

static XGROUP_SUBS: &[CommandSpec] = &[
    CommandSpec::new(
        "xgroup|create",
        -5,
        WRITE | DENYOOM,
        (2, 2, 1),
        xgroup_create,
        G,
    )
    .doc(
        "5.0.0",
        "Create a consumer group.",
        "key group id | $ [MKSTREAM] [ENTRIESREAD entries-read]",
    ),
    CommandSpec::new(
        "xgroup|createconsumer",
        5,
        WRITE | DENYOOM,
        (2, 2, 1),
        xgroup_createconsumer,
        G,
    )
    .doc(
        "6.2.0",
        "Create a consumer in a consumer group.",
        "key group consumer",
    ),
    CommandSpec::new(
        "xgroup|delconsumer",
        5,
        WRITE,
        (2, 2, 1),
        xgroup_delconsumer,
        G,
    )
    .doc(
        "5.0.0",
        "Delete a consumer from a consumer group.",
        "key group consumer",
    ),
    CommandSpec::new("xgroup|destroy", 4, WRITE, (2, 2, 1), xgroup_destroy, G).doc(
        "5.0.0",
        "Destroy a consumer group.",
        "key group",
    ),
    CommandSpec::new(
        "xgroup|help",
        2,
        super::flags::LOADING | super::flags::STALE,
        (0, 0, 0),
        xgroup_help,
        G,
    )
    .doc(
        "5.0.0",
        "Show helpful text about the different subcommands",
        "",
    ),
    CommandSpec::new("xgroup|setid", -5, WRITE, (2, 2, 1), xgroup_setid, G).doc(
        "5.0.0",
        "Set a consumer group to an arbitrary last delivered ID value.",
        "key group id | $ [ENTRIESREAD entries-read]",
    ),
];

static XINFO_SUBS: &[CommandSpec] = &[
    CommandSpec::new(
        "xinfo|consumers",
        4,
        READONLY,
        (2, 2, 1),
        xinfo_consumers,
        G,
    )
    .doc(
        "5.0.0",
        "List the consumers in a consumer group",
        "key group",
    ),
    CommandSpec::new("xinfo|groups", 3, READONLY, (2, 2, 1), xinfo_groups, G).doc(
        "5.0.0",
        "List the consumer groups of a stream",
        "key",
    ),
    CommandSpec::new(
        "xinfo|help",
        2,
        super::flags::LOADING | super::flags::STALE,
        (0, 0, 0),
        xinfo_help,
        G,
    )
    .doc(
        "5.0.0",
        "Show helpful text about the different subcommands",
        "",
    ),
    CommandSpec::new("xinfo|stream", -3, READONLY, (2, 2, 1), xinfo_stream, G).doc(
        "5.0.0",
        "Get information about a stream",
        "key [FULL [COUNT count]]",
    ),
];

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Keys of XREAD/XREADGROUP: the first half of the arguments after
/// STREAMS (Redis's keyword key spec).
pub fn xread_keys(argv: &[&[u8]]) -> Vec<(usize, bool)> {
    let Some(pos) = argv
        .iter()
        .skip(1)
        .position(|a| a.eq_ignore_ascii_case(b"streams"))
    else {
        return Vec::new();
    };
    let first = pos + 2;
    let n = argv.len().saturating_sub(first) / 2;
    (first..first + n).map(|i| (i, false)).collect()
}

// ---------------------------------------------------------------------------
// Id parsing.
// ---------------------------------------------------------------------------

/// Redis's string2ull: a long long >= 0, else strtoull's rules (leading
/// spaces, a sign, overflow refused).
fn parse_u64(s: &[u8]) -> Option<u64> {
    if let Some(n) = parse_i64(s) {
        return (n >= 0).then_some(n as u64);
    }
    let t = std::str::from_utf8(s).ok()?;
    let t = t.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: u64 = digits.parse().ok()?;
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Redis's streamGenericParseIDOrReply. Returns the id and whether the
/// sequence was given (false for `ms-*`, only accepted with `allow_star`).
fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_star: bool,
) -> Result<(StreamId, bool), CmdError> {
    let bad = || CmdError::Static(INVALID_ID);
    if arg.len() > 127 || arg.contains(&0) {
        return Err(bad());
    }
    if arg == b"-" || arg == b"+" {
        if strict {
            return Err(bad());
        }
        return Ok((
            if arg == b"-" {
                StreamId::MIN
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    match arg.iter().position(|&b| b == b'-') {
        Some(dash) => {
            let ms = parse_u64(&arg[..dash]).ok_or_else(bad)?;
            let rest = &arg[dash + 1..];
            if allow_star && rest == b"*" {
                return Ok((StreamId::new(ms, 0), false));
            }
            let seq = parse_u64(rest).ok_or_else(bad)?;
            Ok((StreamId::new(ms, seq), true))
        }
        None => Ok((
            StreamId::new(parse_u64(arg).ok_or_else(bad)?, missing_seq),
            true,
        )),
    }
}

/// streamParseStrictIDOrReply (`-` and `+` refused).
fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CmdError> {
    parse_id_full(arg, 0, true, false).map(|r| r.0)
}

/// streamParseIDOrReply.
fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    parse_id_full(arg, missing_seq, false, false).map(|r| r.0)
}

/// streamParseIntervalIDOrReply: `(id` is exclusive.
fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id_full(&arg[1..], missing_seq, true, false)?.0, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

/// An inclusive start from an interval argument.
fn range_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    let (id, ex) = parse_interval(arg, 0)?;
    if ex {
        return id
            .incr()
            .ok_or(CmdError::Static("ERR invalid start ID for the interval"));
    }
    Ok(id)
}

/// An inclusive end from an interval argument.
fn range_end(arg: &[u8]) -> Result<StreamId, CmdError> {
    let (id, ex) = parse_interval(arg, u64::MAX)?;
    if ex {
        return id
            .decr()
            .ok_or(CmdError::Static("ERR invalid end ID for the interval"));
    }
    Ok(id)
}

fn parse_ll(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

fn parse_ll_msg(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::Static(msg))
}

fn is_word(a: &[u8], w: &str) -> bool {
    a.eq_ignore_ascii_case(w.as_bytes())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------------------
// Lookups and replies.
// ---------------------------------------------------------------------------

/// A looked-up value as a stream (WRONGTYPE for another type).
fn as_stream(v: Option<&Value>) -> Result<Option<&Stream>, CmdError> {
    match v {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// A read access (counts a keyspace hit or miss, touches the key).
fn read_stream<'a>(
    srv: &'a mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a Stream>, CmdError> {
    as_stream(srv.store.lookup_read(db, key))
}

/// A look without the read's side effects.
fn peek_stream<'a>(
    srv: &'a mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a Stream>, CmdError> {
    as_stream(srv.store.get(db, key))
}

/// The stream with intent to change it (passes the choke point).
fn write_stream<'a>(
    srv: &'a mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a mut Stream>, CmdError> {
    match srv.store.get_mut(db, key, Kind::Stream)? {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

fn reply_id(r: &mut Reply, id: StreamId) {
    r.bulk(id.text_into(&mut [0; 41]));
}

fn reply_entry(r: &mut Reply, id: StreamId, fields: Fields<'_>) {
    r.array(2);
    reply_id(r, id);
    r.array(fields.len());
    for f in fields.iter() {
        r.bulk(f);
    }
}

/// An entry, or the null Redis emits for a missing one.
fn reply_entry_or(r: &mut Reply, s: &Stream, id: StreamId, null_array: bool) {
    match s.get(id) {
        Some(f) => reply_entry(r, id, f),
        None if null_array => r.null_array(),
        None => r.null(),
    }
}

fn node_max(srv: &Server) -> u64 {
    srv.config.stream_node_max_entries
}

fn node_max_bytes(srv: &Server) -> u64 {
    srv.config.stream_node_max_bytes
}

fn nogroup_key_group(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::Custom(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        lossy(key),
        lossy(group)
    ))
}

// ---------------------------------------------------------------------------
// XADD / XTRIM.
// ---------------------------------------------------------------------------

#[derive(Default)]
struct TrimArgs {
    /// 0 none, 1 maxlen, 2 minid.
    strategy: u8,
    approx: bool,
    maxlen: u64,
    minid: StreamId,
    limit: u64,
    /// argv index of the threshold.
    arg_idx: usize,
    nomkstream: bool,
    id: Option<(StreamId, bool)>,
}

/// Redis's streamParseAddOrTrimArgsOrReply; returns the args and the
/// index where the id is (XADD) / the end.
fn parse_add_trim(srv: &Server, args: &Args, xadd: bool) -> Result<(TrimArgs, usize), CmdError> {
    let mut t = TrimArgs::default();
    let mut limit_given = false;
    let argc = args.len();
    let mut i = 2;
    while i < argc {
        let more = argc - 1 - i;
        let opt = &args[i];
        if xadd && opt == b"*" {
            break;
        } else if (is_word(opt, "maxlen") || is_word(opt, "minid")) && more > 0 {
            if t.strategy != 0 {
                return Err(CmdError::Static(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            let maxlen = is_word(opt, "maxlen");
            t.approx = false;
            let next = &args[i + 1];
            if more >= 2 && next == b"~" {
                t.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            if maxlen {
                let n = parse_ll(&args[i + 1])?;
                if n < 0 {
                    return Err(CmdError::Static("ERR The MAXLEN argument must be >= 0."));
                }
                t.maxlen = n as u64;
                t.strategy = 1;
            } else {
                t.minid = parse_strict_id(&args[i + 1])?;
                t.strategy = 2;
            }
            i += 1;
            t.arg_idx = i;
        } else if is_word(opt, "limit") && more > 0 {
            let n = parse_ll(&args[i + 1])?;
            if n < 0 {
                return Err(CmdError::Static("ERR The LIMIT argument must be >= 0."));
            }
            t.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && is_word(opt, "nomkstream") {
            t.nomkstream = true;
        } else if xadd {
            t.id = Some(parse_id_full(opt, 0, true, true)?);
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if t.limit != 0 && t.strategy == 0 {
        return Err(CmdError::Static(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && t.strategy == 0 {
        return Err(CmdError::Static(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !t.approx {
            return Err(CmdError::Static(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if t.approx {
        let n = 100u64.saturating_mul(node_max(srv));
        t.limit = if n == 0 || n > 1_000_000 {
            1_000_000
        } else {
            n
        };
    } else {
        t.limit = 0;
    }
    Ok((t, i))
}

/// Applies a trim; the propagated argv gets `=` and the effective
/// threshold when the trim was approximate (Redis's
/// streamRewriteApproxSpecifier / streamRewriteTrimArgument).
fn apply_trim(s: &mut Stream, t: &TrimArgs, argv: &mut [Vec<u8>]) -> u64 {
    let minid = (t.strategy == 2).then_some(t.minid);
    let n = s.trim(t.maxlen, minid, t.approx, t.limit);
    if t.approx && t.arg_idx >= 1 && t.arg_idx < argv.len() {
        argv[t.arg_idx - 1] = b"=".to_vec();
        argv[t.arg_idx] = if t.strategy == 1 {
            s.len().to_string().into_bytes()
        } else {
            s.first_live_or(StreamId::MAX).to_text().into_bytes()
        };
    }
    n
}

fn xadd(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (t, idpos) = parse_add_trim(srv, args, true)?;
    let field_pos = idpos + 1;
    let nf = args.len().saturating_sub(field_pos);
    if nf < 2 || nf % 2 == 1 {
        return Err(CmdError::WrongArity("xadd"));
    }
    if let Some((id, true)) = t.id
        && id.is_zero()
    {
        return Err(CmdError::Static(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let key = &args[1];
    let exists = peek_stream(srv, c.db, key)?.is_some();
    if !exists {
        if t.nomkstream {
            c.reply.null();
            return Ok(());
        }
        srv.store.set(c.db, key, Value::Stream(Box::default()));
    }
    let (node_max, node_max_bytes) = (node_max(srv), node_max_bytes(srv));
    let now = srv.store.now();
    // Without an AOF (or with propagation off) the deterministic form is
    // never used: skip building it (XADD is a hot path).
    let propagate = srv.store.prop.enabled;
    let Some(s) = write_stream(srv, c.db, key)? else {
        return Ok(());
    };
    if s.last_id == StreamId::MAX {
        return Err(CmdError::Static(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let too_small = CmdError::Static(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item",
    );
    let id = match t.id {
        Some((id, true)) => id,
        Some((id, false)) => {
            if s.last_id.ms == id.ms {
                if s.last_id.seq == u64::MAX {
                    return Err(too_small);
                }
                StreamId::new(id.ms, s.last_id.seq + 1)
            } else {
                id
            }
        }
        None => {
            if now > s.last_id.ms {
                StreamId::new(now, 0)
            } else {
                s.last_id.incr().ok_or(CmdError::Static(
                    "ERR The stream has exhausted the last possible ID, unable to add more items",
                ))?
            }
        }
    };
    if id <= s.last_id {
        return Err(too_small);
    }
    s.push(id, args.iter().skip(field_pos), node_max, node_max_bytes);
    reply_id(&mut c.reply, id);
    if !propagate {
        if t.strategy != 0 {
            apply_trim(s, &t, &mut []);
        }
        return Ok(());
    }
    let mut argv: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
    if t.strategy != 0 {
        apply_trim(s, &t, &mut argv);
    }
    argv[idpos] = id.to_text().into_bytes();
    srv.store
        .prop
        .rewrite_as(vec![OwnedArgs::from_slices(argv)]);
    Ok(())
}

fn xtrim(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (t, _) = parse_add_trim(srv, args, false)?;
    let key = &args[1];
    let minid = (t.strategy == 2).then_some(t.minid);
    // Nothing to trim: reply without passing the choke point (no WATCH
    // effect, no event), as Redis.
    if !peek_stream(srv, c.db, key)?
        .is_some_and(|s| s.would_trim(t.maxlen, minid, t.approx, t.limit))
    {
        c.reply.int(0);
        return Ok(());
    }
    let Some(s) = write_stream(srv, c.db, key)? else {
        return Ok(());
    };
    let mut argv: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
    let n = apply_trim(s, &t, &mut argv);
    c.reply.int(n as i64);
    // Nothing trimmed: nothing to propagate.
    let cmds = if n == 0 {
        Vec::new()
    } else {
        vec![OwnedArgs::from_slices(argv)]
    };
    srv.store.prop.rewrite_as(cmds);
    Ok(())
}

fn xlen(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let n = read_stream(srv, c.db, &args[1])?.map_or(0, |s| s.len());
    c.reply.int(n as i64);
    Ok(())
}

fn xrange_generic(srv: &mut Server, c: &mut Client, args: &Args, rev: bool) -> CmdResult {
    let (sa, ea) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = range_start(sa)?;
    let end = range_end(ea)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is_word(&args[j], "count") && j + 1 < args.len() {
            count = parse_ll(&args[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let Some(s) = read_stream(srv, c.db, &args[1])? else {
        c.reply.array(0);
        return Ok(());
    };
    if count == 0 {
        c.reply.null_array();
        return Ok(());
    }
    let limit = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    if start > end {
        c.reply.array(0);
        return Ok(());
    }
    let items: Vec<_> = if rev {
        s.range_rev(start, end).take(limit).collect()
    } else {
        s.range(start, end).take(limit).collect()
    };
    c.reply.array(items.len());
    for (id, f) in items {
        reply_entry(&mut c.reply, id, f);
    }
    Ok(())
}

fn xrange(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    xrange_generic(srv, c, args, false)
}

fn xrevrange(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    xrange_generic(srv, c, args, true)
}

fn xdel(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let key = &args[1];
    let Some(s) = peek_stream(srv, c.db, key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let mut ids = Vec::with_capacity(args.len() - 2);
    for a in args.iter().skip(2) {
        ids.push(parse_strict_id(a)?);
    }
    if !ids.iter().any(|id| s.contains(*id)) {
        c.reply.int(0);
        return Ok(());
    }
    let Some(s) = write_stream(srv, c.db, key)? else {
        return Ok(());
    };
    let mut deleted = 0;
    let mut first_entry = false;
    for id in ids {
        if s.remove(id) {
            if id == s.first_id {
                first_entry = true;
            }
            if id > s.max_deleted {
                s.max_deleted = id;
            }
            deleted += 1;
        }
    }
    if s.is_empty() {
        s.first_id = StreamId::MIN;
    } else if first_entry {
        s.first_id = s.first_live_or(StreamId::MAX);
    }
    c.reply.int(deleted);
    Ok(())
}

fn xsetid(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let id = parse_strict_id(&args[2])?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is_word(&args[i], "entriesadded") && more > 0 {
            entries_added = parse_ll(&args[i + 1])?;
            if entries_added < 0 {
                return Err(CmdError::Static("ERR entries_added must be positive"));
            }
            i += 2;
        } else if is_word(&args[i], "maxdeletedid") && more > 0 {
            max_xdel = parse_strict_id(&args[i + 1])?;
            if id < max_xdel {
                return Err(CmdError::Static(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let key = &args[1];
    let Some(s) = peek_stream(srv, c.db, key)? else {
        return Err(CmdError::NoSuchKey);
    };
    if !s.is_empty() {
        if id < s.last_live() {
            return Err(CmdError::Static(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added != -1 && s.len() as i64 > entries_added {
            return Err(CmdError::Static(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    let Some(s) = write_stream(srv, c.db, key)? else {
        return Ok(());
    };
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.max_deleted = max_xdel;
    }
    c.reply.ok();
    Ok(())
}

// ---------------------------------------------------------------------------
// XREAD / XREADGROUP.
// ---------------------------------------------------------------------------

/// Default COUNT of a blocked XREAD (Redis's XREAD_BLOCKED_DEFAULT_COUNT).
const BLOCKED_DEFAULT_COUNT: i64 = 1000;

fn must_not_block(c: &Client) -> bool {
    c.in_transaction() || c.is_internal()
}

fn xread(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    xread_generic(srv, c, args, false)
}

fn xreadgroup(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    xread_generic(srv, c, args, true)
}

/// A pending entry delivered to `consumer` (new, or moved from another
/// consumer as Redis does when the group id was set back).
fn deliver(g: &mut Group, consumer: &[u8], id: StreamId, now: u64) {
    if let Some(old) = g.pel.get(&id).map(|n| n.consumer.clone())
        && let Some(oc) = g.consumers.get_mut(&old[..])
    {
        oc.pel.remove(&id);
    }
    g.pel.insert(
        id,
        Nack {
            consumer: Sds::new(consumer),
            delivery_time: now,
            delivery_count: 1,
        },
    );
    if let Some(cons) = g.consumers.get_mut(consumer) {
        cons.pel.insert(id);
    }
}

/// XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID l
/// (Redis's streamPropagateXCLAIM).
fn xclaim_prop(key: &[u8], group: &[u8], g: &Group, id: StreamId, n: &Nack) -> OwnedArgs {
    OwnedArgs::from_slices([
        &b"XCLAIM"[..],
        key,
        group,
        &n.consumer,
        b"0",
        id.to_text().as_bytes(),
        b"TIME",
        n.delivery_time.to_string().as_bytes(),
        b"RETRYCOUNT",
        n.delivery_count.to_string().as_bytes(),
        b"FORCE",
        b"JUSTID",
        b"LASTID",
        g.last_id.to_text().as_bytes(),
    ])
}

fn setid_prop(key: &[u8], group: &[u8], g: &Group) -> OwnedArgs {
    OwnedArgs::from_slices([
        &b"XGROUP"[..],
        b"SETID",
        key,
        group,
        g.last_id.to_text().as_bytes(),
        b"ENTRIESREAD",
        g.entries_read.to_string().as_bytes(),
    ])
}

fn xread_generic(srv: &mut Server, c: &mut Client, args: &Args, group_cmd: bool) -> CmdResult {
    let mut timeout: Option<Option<Duration>> = None;
    let mut count: i64 = 0;
    let mut streams_arg = 0;
    let mut nstreams = 0;
    let mut noack = false;
    let mut group: Option<(&[u8], &[u8])> = None;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = &args[i];
        if is_word(o, "block") && more > 0 {
            i += 1;
            timeout = Some(parse_block_ms(&args[i], srv.store.now())?);
        } else if is_word(o, "count") && more > 0 {
            i += 1;
            count = parse_ll(&args[i])?.max(0);
        } else if is_word(o, "streams") && more > 0 {
            streams_arg = i + 1;
            let n = args.len() - streams_arg;
            if !n.is_multiple_of(2) {
                // Redis 7.0 names XREAD and `$` for XREADGROUP too.
                return Err(CmdError::Custom(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.".into(),
                ));
            }
            nstreams = n / 2;
            break;
        } else if is_word(o, "group") && more >= 2 {
            if !group_cmd {
                return Err(CmdError::Static(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            group = Some((&args[i + 1], &args[i + 2]));
            i += 2;
        } else if is_word(o, "noack") {
            if !group_cmd {
                return Err(CmdError::Static(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if streams_arg == 0 {
        return Err(CmdError::Syntax);
    }
    if group_cmd && group.is_none() {
        return Err(CmdError::Static("ERR Missing GROUP option for XREADGROUP"));
    }
    // Resolve ids (None = ">").
    let mut ids: Vec<Option<StreamId>> = Vec::with_capacity(nstreams);
    for k in 0..nstreams {
        let key = &args[streams_arg + k];
        let ida = &args[streams_arg + nstreams + k];
        let s = match srv.store.lookup_read(c.db, key) {
            None => None,
            Some(Value::Stream(s)) => Some(s),
            Some(_) => return Err(CmdError::WrongType),
        };
        if let Some((g, _)) = group
            && !s.is_some_and(|s| s.groups.contains_key(g))
        {
            return Err(CmdError::Custom(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                lossy(key),
                lossy(g)
            )));
        }
        if ida == b"$" {
            if group_cmd {
                return Err(CmdError::Static(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            ids.push(Some(s.map_or(StreamId::MIN, |s| s.last_id)));
            continue;
        }
        if ida == b">" {
            if !group_cmd {
                return Err(CmdError::Static(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            ids.push(None);
            continue;
        }
        ids.push(Some(parse_strict_id(ida)?));
    }
    let now = srv.store.now();
    let resp3 = c.reply.resp3;
    let limit = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    // Which streams are served decides the header, so it comes first.
    let mut serve = vec![false; nstreams];
    for (k, gt) in ids.iter().enumerate() {
        let Some(s) = peek_stream(srv, c.db, &args[streams_arg + k])? else {
            continue;
        };
        serve[k] = match (group, gt) {
            (None, gt) => !s.is_empty() && s.last_live() > gt.unwrap_or(StreamId::MAX),
            (Some(_), Some(_)) => true,
            (Some((g, _)), None) => {
                let glast = s.groups.get(g).map(|g| g.last_id).unwrap_or_default();
                !s.is_empty() && s.last_live() > glast
            }
        };
    }
    let served = serve.iter().filter(|&&b| b).count();
    if served > 0 {
        if resp3 {
            c.reply.map(served);
        } else {
            c.reply.array(served);
        }
    }
    let mut props: Vec<OwnedArgs> = Vec::new();
    for (k, gt) in ids.iter().enumerate() {
        let key = &args[streams_arg + k];
        let Some((gname, cname)) = group else {
            if !serve[k] {
                continue;
            }
            let Some(s) = peek_stream(srv, c.db, key)? else {
                continue;
            };
            let start = gt.and_then(|g| g.incr()).unwrap_or(StreamId::MAX);
            if !resp3 {
                c.reply.array(2);
            }
            c.reply.bulk(key);
            let items: Vec<_> = s.range(start, StreamId::MAX).take(limit).collect();
            c.reply.array(items.len());
            for (id, f) in items {
                reply_entry(&mut c.reply, id, f);
            }
            continue;
        };
        // XREADGROUP: as in Redis 7.0 the consumer is looked up (and
        // created) only for a stream that is served now; a parked client
        // gets it when an XADD serves it.
        if !serve[k] {
            continue;
        }
        let Some(s) = write_stream(srv, c.db, key)? else {
            continue;
        };
        let mut stream = std::mem::take(s);
        let Some(mut g) = stream.groups.remove(gname) else {
            *s = stream;
            continue;
        };
        if !g.consumers.contains_key(cname) {
            props.push(OwnedArgs::from_slices([
                &b"XGROUP"[..],
                b"CREATECONSUMER",
                key,
                gname,
                cname,
            ]));
        }
        g.consumers.entry(cname.to_vec()).or_default().seen_time = now;
        if serve[k] {
            if !resp3 {
                c.reply.array(2);
            }
            c.reply.bulk(key);
            if let Some(gt) = gt {
                // History: this consumer's own pending entries.
                let start = gt.incr().unwrap_or(StreamId::MAX);
                let pel: Vec<StreamId> = g
                    .consumers
                    .get(cname)
                    .map(|cn| cn.pel.range(start..).take(limit).copied().collect())
                    .unwrap_or_default();
                c.reply.array(pel.len());
                for id in pel {
                    match stream.get(id) {
                        Some(f) => {
                            reply_entry(&mut c.reply, id, f);
                            if let Some(n) = g.pel.get_mut(&id) {
                                n.delivery_time = now;
                                n.delivery_count += 1;
                            }
                        }
                        None => {
                            c.reply.array(2);
                            reply_id(&mut c.reply, id);
                            c.reply.null_array();
                        }
                    }
                }
            } else {
                let start = g.last_id.incr().unwrap_or(StreamId::MAX);
                let items: Vec<_> = stream.range(start, StreamId::MAX).take(limit).collect();
                c.reply.array(items.len());
                for &(id, f) in &items {
                    stream.advance_group(&mut g, id);
                    reply_entry(&mut c.reply, id, f);
                    if !noack {
                        deliver(&mut g, cname, id, now);
                        if let Some(n) = g.pel.get(&id) {
                            props.push(xclaim_prop(key, gname, &g, id, n));
                        }
                    }
                }
                if !items.is_empty() {
                    props.push(setid_prop(key, gname, &g));
                }
            }
        }
        stream.groups.insert(gname.to_vec(), g);
        *s = stream;
    }
    srv.store.prop.rewrite_as(props);
    if served > 0 {
        return Ok(());
    }
    let Some(timeout) = timeout else {
        c.reply.null_array();
        return Ok(());
    };
    if must_not_block(c) {
        c.reply.null_array();
        return Ok(());
    }
    // Park with `$` resolved and the blocked default COUNT explicit.
    let mut parts: Vec<Vec<u8>> = vec![args[0].to_vec()];
    if let Some((g, cn)) = group {
        parts.extend([b"GROUP".to_vec(), g.to_vec(), cn.to_vec()]);
    }
    if noack {
        parts.push(b"NOACK".to_vec());
    }
    let count = if count == 0 {
        BLOCKED_DEFAULT_COUNT
    } else {
        count
    };
    parts.extend([b"COUNT".to_vec(), count.to_string().into_bytes()]);
    parts.extend([b"BLOCK".to_vec(), args[streams_arg - 2].to_vec()]);
    parts.push(b"STREAMS".to_vec());
    for k in 0..nstreams {
        parts.push(args[streams_arg + k].to_vec());
    }
    for id in &ids {
        parts.push(match id {
            Some(id) => id.to_text().into_bytes(),
            None => b">".to_vec(),
        });
    }
    let owned = OwnedArgs::from_slices(parts);
    let keys: Vec<&[u8]> = (0..nstreams).map(|k| &args[streams_arg + k]).collect();
    srv.block_on_keys(c, &keys, timeout, &owned.as_args());
    Ok(())
}

/// The error a parked XREADGROUP gets when its key was written: the
/// stream is gone (deleted or replaced) or its group was destroyed. None
/// for other commands, or when it may be served / wait on.
pub fn blocked_group_error(value: Option<&Value>, args: &OwnedArgs) -> Option<&'static str> {
    let a = args.as_args();
    if !a.get(0)?.eq_ignore_ascii_case(b"xreadgroup") {
        return None;
    }
    let Some(Value::Stream(s)) = value else {
        return Some("UNBLOCKED the stream key no longer exists");
    };
    // The parked argv is ours: XREADGROUP GROUP <group> ...
    let group = a.get(2)?;
    (!s.groups.contains_key(group))
        .then_some("NOGROUP the consumer group this client was blocked on no longer exists")
}

/// BLOCK milliseconds: Redis's getTimeoutFromObjectOrReply in ms.
fn parse_block_ms(arg: &[u8], now: u64) -> Result<Option<Duration>, CmdError> {
    let ms = parse_i64(arg).ok_or(CmdError::Static(
        "ERR timeout is not an integer or out of range",
    ))?;
    if ms < 0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    if ms > i64::MAX - now as i64 {
        return Err(CmdError::Static("ERR timeout is out of range"));
    }
    Ok((ms > 0).then(|| Duration::from_millis((ms as u64).min(100 * 365 * 24 * 3600 * 1000))))
}

// ---------------------------------------------------------------------------
// XGROUP.
// ---------------------------------------------------------------------------

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

fn xgroup_help(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    super::server::help(&mut c.reply, XGROUP_HELP);
    Ok(())
}

fn xinfo_help(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    super::server::help(&mut c.reply, XINFO_HELP);
    Ok(())
}

/// The common head of XGROUP: options (CREATE/SETID), key and group
/// checks in Redis's order. Returns (mkstream, entries_read, exists).
fn xgroup_prelude(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    sub: &str,
) -> Result<(bool, i64, bool), CmdError> {
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_INVALID;
    if sub == "create" || sub == "setid" {
        let mut i = 5;
        while i < args.len() {
            if sub == "create" && is_word(&args[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if is_word(&args[i], "entriesread") && i + 1 < args.len() {
                entries_read = parse_ll(&args[i + 1])?;
                if entries_read < 0 && entries_read != ENTRIES_READ_INVALID {
                    return Err(CmdError::Static(
                        "ERR value for ENTRIESREAD must be positive or -1",
                    ));
                }
                i += 2;
            } else {
                return Err(CmdError::subcommand_syntax(args, "XGROUP"));
            }
        }
    }
    let (key, gname) = (&args[2], &args[3]);
    let s = peek_stream(srv, c.db, key)?;
    let exists = s.is_some();
    if !mkstream {
        let Some(s) = s else {
            return Err(CmdError::Static(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        };
        if !s.groups.contains_key(gname)
            && matches!(sub, "setid" | "createconsumer" | "delconsumer")
        {
            return Err(CmdError::Custom(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                lossy(gname),
                lossy(key)
            )));
        }
    }
    Ok((mkstream, entries_read, exists))
}

fn xgroup_create(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() > 8 {
        return Err(CmdError::subcommand_syntax(args, "XGROUP"));
    }
    let (_, entries_read, exists) = xgroup_prelude(srv, c, args, "create")?;
    let (key, gname) = (&args[2], &args[3]);
    let id = if &args[4] == b"$" {
        peek_stream(srv, c.db, key)?.map_or(StreamId::MIN, |s| s.last_id)
    } else {
        parse_strict_id(&args[4])?
    };
    if exists && peek_stream(srv, c.db, key)?.is_some_and(|s| s.groups.contains_key(gname)) {
        return Err(CmdError::Static(
            "BUSYGROUP Consumer Group name already exists",
        ));
    }
    if !exists {
        srv.store.set(c.db, key, Value::Stream(Box::default()));
    }
    let Some(s) = write_stream(srv, c.db, key)? else {
        return Ok(());
    };
    s.groups.insert(
        gname.to_vec(),
        Group {
            last_id: id,
            entries_read,
            ..Default::default()
        },
    );
    c.reply.ok();
    Ok(())
}

fn xgroup_setid(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() != 5 && args.len() != 7 {
        // Options are parsed first (as Redis), then the arity.
        xgroup_prelude(srv, c, args, "setid")?;
        return Err(CmdError::subcommand_syntax(args, "XGROUP"));
    }
    let (_, entries_read, _) = xgroup_prelude(srv, c, args, "setid")?;
    let (key, gname) = (&args[2], &args[3]);
    let id = if &args[4] == b"$" {
        peek_stream(srv, c.db, key)?.map_or(StreamId::MIN, |s| s.last_id)
    } else {
        parse_id(&args[4], 0)?
    };
    let Some(s) = write_stream(srv, c.db, key)? else {
        return Ok(());
    };
    if let Some(g) = s.groups.get_mut(gname) {
        g.last_id = id;
        g.entries_read = entries_read;
    }
    c.reply.ok();
    Ok(())
}

fn xgroup_destroy(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    xgroup_prelude(srv, c, args, "destroy")?;
    let (key, gname) = (&args[2], &args[3]);
    if !peek_stream(srv, c.db, key)?.is_some_and(|s| s.groups.contains_key(gname)) {
        c.reply.int(0);
        return Ok(());
    }
    if let Some(s) = write_stream(srv, c.db, key)? {
        s.groups.remove(gname);
    }
    c.reply.int(1);
    Ok(())
}

fn xgroup_createconsumer(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    xgroup_prelude(srv, c, args, "createconsumer")?;
    let (key, gname, cname) = (&args[2], &args[3], &args[4]);
    let exists = peek_stream(srv, c.db, key)?
        .and_then(|s| s.groups.get(gname))
        .is_some_and(|g| g.consumers.contains_key(cname));
    if exists {
        c.reply.int(0);
        return Ok(());
    }
    let now = srv.store.now();
    if let Some(g) = write_stream(srv, c.db, key)?.and_then(|s| s.groups.get_mut(gname)) {
        g.consumers.insert(
            cname.to_vec(),
            Consumer {
                seen_time: now,
                ..Default::default()
            },
        );
    }
    c.reply.int(1);
    Ok(())
}

fn xgroup_delconsumer(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    xgroup_prelude(srv, c, args, "delconsumer")?;
    let (key, gname, cname) = (&args[2], &args[3], &args[4]);
    let mut pending = 0;
    if let Some(g) = write_stream(srv, c.db, key)?.and_then(|s| s.groups.get_mut(gname))
        && let Some(cons) = g.consumers.remove(cname)
    {
        pending = cons.pel.len();
        for id in cons.pel {
            g.pel.remove(&id);
        }
    }
    c.reply.int(pending as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// XACK / XPENDING / XCLAIM / XAUTOCLAIM.
// ---------------------------------------------------------------------------

fn xack(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (key, gname) = (&args[1], &args[2]);
    let has_group = match read_stream(srv, c.db, key)? {
        Some(s) => s.groups.contains_key(gname),
        None => false,
    };
    if !has_group {
        c.reply.int(0);
        return Ok(());
    }
    let mut ids = Vec::with_capacity(args.len() - 3);
    for a in args.iter().skip(3) {
        ids.push(parse_strict_id(a)?);
    }
    let any = peek_stream(srv, c.db, key)?
        .and_then(|s| s.groups.get(gname))
        .is_some_and(|g| ids.iter().any(|id| g.pel.contains_key(id)));
    if !any {
        c.reply.int(0);
        return Ok(());
    }
    let mut acked = 0;
    if let Some(g) = write_stream(srv, c.db, key)?.and_then(|s| s.groups.get_mut(gname)) {
        for id in ids {
            if let Some(n) = g.pel.remove(&id) {
                if let Some(cons) = g.consumers.get_mut(&n.consumer[..]) {
                    cons.pel.remove(&id);
                }
                acked += 1;
            }
        }
    }
    c.reply.int(acked);
    Ok(())
}

fn xpending(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let argc = args.len();
    let justinfo = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CmdError::Syntax);
    }
    let (key, gname) = (&args[1], &args[2]);
    let mut minidle = 0i64;
    let mut range = (StreamId::MIN, StreamId::MAX, 0i64);
    let mut consumer: Option<&[u8]> = None;
    if argc >= 6 {
        let mut startidx = 3;
        if is_word(&args[3], "idle") {
            minidle = parse_ll(&args[4])?;
            if argc < 8 {
                return Err(CmdError::Syntax);
            }
            startidx += 2;
        }
        let count = parse_ll(&args[startidx + 2])?.max(0);
        let start = range_start(&args[startidx])?;
        let end = range_end(&args[startidx + 1])?;
        range = (start, end, count);
        if startidx + 3 < argc {
            consumer = Some(&args[startidx + 3]);
        }
    }
    let now = srv.store.now();
    let s = read_stream(srv, c.db, key)?;
    let Some(g) = s.and_then(|s| s.groups.get(gname)) else {
        return Err(nogroup_key_group(key, gname));
    };
    let r = &mut c.reply;
    if justinfo {
        r.array(4);
        r.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(a), Some(b)) => {
                reply_id(r, *a);
                reply_id(r, *b);
                let with: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pel.is_empty())
                    .collect();
                r.array(with.len());
                for (name, cons) in with {
                    r.array(2);
                    r.bulk(name);
                    r.bulk(cons.pel.len().to_string().as_bytes());
                }
            }
            _ => {
                r.null();
                r.null();
                r.null_array();
            }
        }
        return Ok(());
    }
    let (start, end, mut count) = range;
    let ids: Vec<StreamId> = match consumer {
        Some(cn) => match g.consumers.get(cn) {
            None => {
                r.array(0);
                return Ok(());
            }
            Some(cons) if start <= end => cons.pel.range(start..=end).copied().collect(),
            Some(_) => Vec::new(),
        },
        None if start <= end => g.pel.range(start..=end).map(|(k, _)| *k).collect(),
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for id in ids {
        if count == 0 {
            break;
        }
        let Some(n) = g.pel.get(&id) else { continue };
        let idle = now as i64 - n.delivery_time as i64;
        if minidle != 0 && idle < minidle {
            continue;
        }
        count -= 1;
        out.push((id, n, idle.max(0)));
    }
    r.array(out.len());
    for (id, n, idle) in out {
        r.array(4);
        reply_id(r, id);
        r.bulk(&n.consumer);
        r.int(idle);
        r.int(n.delivery_count as i64);
    }
    Ok(())
}

fn xclaim(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (key, gname, cname) = (&args[1], &args[2], &args[3]);
    let has = match read_stream(srv, c.db, key)? {
        Some(s) => s.groups.contains_key(gname),
        None => false,
    };
    if !has {
        return Err(nogroup_key_group(key, gname));
    }
    let minidle = parse_ll_msg(&args[4], "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_strict_id(&args[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = srv.store.now() as i64;
    let mut retrycount: i64 = -1;
    let mut deliverytime: i64 = -1;
    let (mut force, mut justid) = (false, false);
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let o = &args[j];
        if is_word(o, "force") {
            force = true;
        } else if is_word(o, "justid") {
            justid = true;
        } else if is_word(o, "idle") && more > 0 {
            j += 1;
            deliverytime =
                now - parse_ll_msg(&args[j], "ERR Invalid IDLE option argument for XCLAIM")?;
        } else if is_word(o, "time") && more > 0 {
            j += 1;
            deliverytime = parse_ll_msg(&args[j], "ERR Invalid TIME option argument for XCLAIM")?;
        } else if is_word(o, "retrycount") && more > 0 {
            j += 1;
            retrycount = parse_ll_msg(
                &args[j],
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?;
        } else if is_word(o, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(&args[j])?;
        } else {
            return Err(CmdError::Custom(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                lossy(o)
            )));
        }
        j += 1;
    }
    if deliverytime < 0 || deliverytime > now {
        deliverytime = now;
    }
    let Some(s) = write_stream(srv, c.db, key)? else {
        return Ok(());
    };
    let mut stream = std::mem::take(s);
    let Some(mut g) = stream.groups.remove(gname) else {
        *s = stream;
        return Ok(());
    };
    let mut props = Vec::new();
    let mut propagate_last = false;
    if last_id > g.last_id {
        g.last_id = last_id;
        propagate_last = true;
    }
    let mut claimed: Vec<StreamId> = Vec::new();
    for id in ids {
        let exists = stream.contains(id);
        if !exists {
            if let Some(n) = g.pel.remove(&id) {
                props.push(xclaim_prop(key, gname, &g, id, &n));
                propagate_last = false;
                if let Some(cons) = g.consumers.get_mut(&n.consumer[..]) {
                    cons.pel.remove(&id);
                }
            }
            continue;
        }
        let mut fresh = false;
        if force && !g.pel.contains_key(&id) {
            g.pel.insert(
                id,
                Nack {
                    consumer: Sds::new(b""),
                    delivery_time: now as u64,
                    delivery_count: 0,
                },
            );
            fresh = true;
        }
        let Some(n) = g.pel.get(&id) else { continue };
        if !fresh && minidle != 0 && now - (n.delivery_time as i64) < minidle {
            continue;
        }
        let old = n.consumer.clone();
        let cons = g.consumers.entry(cname.to_vec()).or_default();
        cons.seen_time = now as u64;
        cons.pel.insert(id);
        if !fresh
            && &old[..] != cname
            && let Some(oc) = g.consumers.get_mut(&old[..])
        {
            oc.pel.remove(&id);
        }
        if let Some(n) = g.pel.get_mut(&id) {
            n.consumer = Sds::new(cname);
            n.delivery_time = deliverytime as u64;
            if retrycount >= 0 {
                n.delivery_count = retrycount as u64;
            } else if !justid {
                n.delivery_count += 1;
            }
        }
        claimed.push(id);
        if let Some(n) = g.pel.get(&id) {
            props.push(xclaim_prop(key, gname, &g, id, n));
        }
        propagate_last = false;
    }
    if propagate_last {
        props.push(setid_prop(key, gname, &g));
    }
    c.reply.array(claimed.len());
    for id in claimed {
        if justid {
            reply_id(&mut c.reply, id);
        } else {
            reply_entry_or(&mut c.reply, &stream, id, false);
        }
    }
    stream.groups.insert(gname.to_vec(), g);
    *s = stream;
    srv.store.prop.rewrite_as(props);
    Ok(())
}

fn xautoclaim(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (key, gname, cname) = (&args[1], &args[2], &args[3]);
    let minidle = parse_ll_msg(
        &args[4],
        "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    )?
    .max(0);
    let start = range_start(&args[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is_word(&args[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match parse_i64(&args[j + 1]) {
                Some(n) if (1..=max).contains(&n) => n,
                _ => return Err(CmdError::Static("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if is_word(&args[j], "justid") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let has = match read_stream(srv, c.db, key)? {
        Some(s) => s.groups.contains_key(gname),
        None => false,
    };
    if !has {
        return Err(nogroup_key_group(key, gname));
    }
    let now = srv.store.now();
    let Some(s) = write_stream(srv, c.db, key)? else {
        return Ok(());
    };
    let mut stream = std::mem::take(s);
    let Some(mut g) = stream.groups.remove(gname) else {
        *s = stream;
        return Ok(());
    };
    let keys: Vec<StreamId> = g.pel.range(start..).map(|(k, _)| *k).collect();
    let mut attempts = count.saturating_mul(10);
    let mut i = 0;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut props = Vec::new();
    loop {
        let go = attempts != 0;
        attempts -= 1;
        if !go || count == 0 || i >= keys.len() {
            break;
        }
        let id = keys[i];
        i += 1;
        if !stream.contains(id) {
            if let Some(n) = g.pel.remove(&id) {
                props.push(xclaim_prop(key, gname, &g, id, &n));
                if let Some(cons) = g.consumers.get_mut(&n.consumer[..]) {
                    cons.pel.remove(&id);
                }
            }
            deleted.push(id);
            count -= 1;
            continue;
        }
        let Some(n) = g.pel.get(&id) else { continue };
        if minidle != 0 && (now as i64 - n.delivery_time as i64) < minidle {
            continue;
        }
        let old = n.consumer.clone();
        let cons = g.consumers.entry(cname.to_vec()).or_default();
        cons.seen_time = now;
        cons.pel.insert(id);
        if &old[..] != cname
            && let Some(oc) = g.consumers.get_mut(&old[..])
        {
            oc.pel.remove(&id);
        }
        if let Some(n) = g.pel.get_mut(&id) {
            n.consumer = Sds::new(cname);
            n.delivery_time = now;
            if !justid {
                n.delivery_count += 1;
            }
        }
        if let Some(n) = g.pel.get(&id) {
            props.push(xclaim_prop(key, gname, &g, id, n));
        }
        claimed.push(id);
        count -= 1;
    }
    let cursor = keys.get(i).copied().unwrap_or(StreamId::MIN);
    let r = &mut c.reply;
    r.array(3);
    reply_id(r, cursor);
    r.array(claimed.len());
    for id in claimed {
        if justid {
            reply_id(r, id);
        } else {
            reply_entry_or(r, &stream, id, false);
        }
    }
    r.array(deleted.len());
    for id in deleted {
        reply_id(r, id);
    }
    stream.groups.insert(gname.to_vec(), g);
    *s = stream;
    srv.store.prop.rewrite_as(props);
    Ok(())
}

// ---------------------------------------------------------------------------
// XINFO.
// ---------------------------------------------------------------------------

fn info_stream<'a>(srv: &'a mut Server, c: &Client, key: &[u8]) -> Result<&'a Stream, CmdError> {
    read_stream(srv, c.db, key)?.ok_or(CmdError::NoSuchKey)
}

fn xinfo_stream(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let key = &args[2];
    let s = info_stream(srv, c, key)?;
    let extra = args.len() - 3;
    let mut full = false;
    let mut count: i64 = 10;
    if extra > 0 {
        if (extra != 1 && extra != 3) || !is_word(&args[3], "full") {
            return Err(CmdError::subcommand_syntax(args, "XINFO"));
        }
        full = true;
        if extra == 3 {
            if !is_word(&args[4], "count") {
                return Err(CmdError::subcommand_syntax(args, "XINFO"));
            }
            count = parse_ll(&args[5])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let r = &mut c.reply;
    r.map(if full { 9 } else { 10 });
    r.bulk(b"length");
    r.int(s.len() as i64);
    r.bulk(b"radix-tree-keys");
    r.int(s.nodes.len() as i64);
    r.bulk(b"radix-tree-nodes");
    r.int(radix_nodes_estimate(s));
    r.bulk(b"last-generated-id");
    reply_id(r, s.last_id);
    r.bulk(b"max-deleted-entry-id");
    reply_id(r, s.max_deleted);
    r.bulk(b"entries-added");
    r.int(s.entries_added as i64);
    r.bulk(b"recorded-first-entry-id");
    reply_id(r, s.first_id);
    let limit = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    if !full {
        r.bulk(b"groups");
        r.int(s.groups.len() as i64);
        r.bulk(b"first-entry");
        match s.first_entry() {
            Some((id, f)) => reply_entry(r, id, f),
            None => r.null(),
        }
        r.bulk(b"last-entry");
        match s.last_entry() {
            Some((id, f)) => reply_entry(r, id, f),
            None => r.null(),
        }
        return Ok(());
    }
    r.bulk(b"entries");
    let items: Vec<_> = s.iter().take(limit).collect();
    r.array(items.len());
    for (id, f) in items {
        reply_entry(r, id, f);
    }
    r.bulk(b"groups");
    r.array(s.groups.len());
    for (name, g) in &s.groups {
        r.map(7);
        r.bulk(b"name");
        r.bulk(name);
        r.bulk(b"last-delivered-id");
        reply_id(r, g.last_id);
        r.bulk(b"entries-read");
        if g.entries_read != ENTRIES_READ_INVALID {
            r.int(g.entries_read);
        } else {
            r.null();
        }
        r.bulk(b"lag");
        match s.group_lag(g) {
            Some(l) => r.int(l),
            None => r.null(),
        }
        r.bulk(b"pel-count");
        r.int(g.pel.len() as i64);
        r.bulk(b"pending");
        let pel: Vec<_> = g.pel.iter().take(limit).collect();
        r.array(pel.len());
        for (id, n) in pel {
            r.array(4);
            reply_id(r, *id);
            r.bulk(&n.consumer);
            r.int(n.delivery_time as i64);
            r.int(n.delivery_count as i64);
        }
        r.bulk(b"consumers");
        r.array(g.consumers.len());
        for (cname, cons) in &g.consumers {
            r.map(4);
            r.bulk(b"name");
            r.bulk(cname);
            r.bulk(b"seen-time");
            r.int(cons.seen_time as i64);
            r.bulk(b"pel-count");
            r.int(cons.pel.len() as i64);
            r.bulk(b"pending");
            let pel: Vec<_> = cons.pel.iter().take(limit).collect();
            r.array(pel.len());
            for id in pel {
                let n = g.pel.get(id);
                r.array(3);
                reply_id(r, *id);
                r.int(n.map_or(0, |n| n.delivery_time) as i64);
                r.int(n.map_or(0, |n| n.delivery_count) as i64);
            }
        }
    }
    Ok(())
}

/// Redis's radix tree node count is not simulated: one node per listpack
/// plus the root is what small streams show.
fn radix_nodes_estimate(s: &Stream) -> i64 {
    if s.nodes.is_empty() {
        1
    } else {
        s.nodes.len() as i64 + 1
    }
}

fn xinfo_groups(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let s = info_stream(srv, c, &args[2])?;
    let r = &mut c.reply;
    r.array(s.groups.len());
    for (name, g) in &s.groups {
        r.map(6);
        r.bulk(b"name");
        r.bulk(name);
        r.bulk(b"consumers");
        r.int(g.consumers.len() as i64);
        r.bulk(b"pending");
        r.int(g.pel.len() as i64);
        r.bulk(b"last-delivered-id");
        reply_id(r, g.last_id);
        r.bulk(b"entries-read");
        if g.entries_read != ENTRIES_READ_INVALID {
            r.int(g.entries_read);
        } else {
            r.null();
        }
        r.bulk(b"lag");
        match s.group_lag(g) {
            Some(l) => r.int(l),
            None => r.null(),
        }
    }
    Ok(())
}

fn xinfo_consumers(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (key, gname) = (&args[2], &args[3]);
    let now = srv.store.now();
    let s = info_stream(srv, c, key)?;
    let Some(g) = s.groups.get(gname) else {
        return Err(CmdError::Custom(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            lossy(gname),
            lossy(key)
        )));
    };
    let r = &mut c.reply;
    r.array(g.consumers.len());
    for (name, cons) in &g.consumers {
        r.map(3);
        r.bulk(b"name");
        r.bulk(name);
        r.bulk(b"pending");
        r.int(cons.pel.len() as i64);
        r.bulk(b"idle");
        r.int((now as i64 - cons.seen_time as i64).max(0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_like_redis() {
        assert_eq!(parse_strict_id(b"5").unwrap(), StreamId::new(5, 0));
        assert_eq!(
            parse_id(b"5", u64::MAX).unwrap(),
            StreamId::new(5, u64::MAX)
        );
        assert!(parse_strict_id(b"-").is_err());
        assert_eq!(parse_id(b"+", 0).unwrap(), StreamId::MAX);
        assert!(parse_strict_id(b"1-").is_err());
        assert!(parse_strict_id(b"-1").is_err());
        assert_eq!(
            parse_strict_id(b"18446744073709551615-1").unwrap(),
            StreamId::new(u64::MAX, 1)
        );
        assert!(parse_strict_id(b"18446744073709551616").is_err());
        assert_eq!(
            parse_id_full(b"7-*", 0, true, true).unwrap(),
            (StreamId::new(7, 0), false)
        );
        assert!(parse_strict_id(b"7-*").is_err());
    }

    #[test]
    fn xread_keys_after_streams() {
        let v: Vec<&[u8]> = vec![b"xread", b"count", b"1", b"streams", b"a", b"b", b"0", b"0"];
        assert_eq!(xread_keys(&v), vec![(4, false), (5, false)]);
    }
}
