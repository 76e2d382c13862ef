//! The sorted-set family (Redis 7.0's t_zset.c): ZADD, ZINCRBY, ZREM,
//! ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZCOUNT, ZLEXCOUNT, the ZRANGE
//! family (unified and legacy forms, ZRANGESTORE), ZREMRANGEBY*, ZUNION /
//! ZINTER / ZDIFF (+STORE), ZINTERCARD, ZPOPMIN/MAX, ZMPOP, ZRANDMEMBER,
//! ZSCAN and the blocking BZPOPMIN/BZPOPMAX/BZMPOP, with Redis's replies,
//! error texts and argument-checking order.
//!
//! Invariants: a zset key is never empty (the key goes with its last
//! member); a command that changes nothing does not pass the mutation choke
//! point (ZADD decides that against the current set before writing).
//! Scores are printed with `%.17g` like Redis 7.0 (`number::fmt_g17`).
//! Range queries are rank intervals computed by `ZSet::count_while`.

use std::collections::HashMap;
use std::collections::HashSet;
use std::time::Duration;

use super::flags::{BLOCKING, DENYOOM, FAST, NOSCRIPT, READONLY, WRITE};
use super::list::{Mpop, parse_long, parse_mpop, parse_range_long, parse_timeout};
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::number::{fmt_g17, parse_f64};
use crate::resp::Reply;
use crate::server::{Client, Server};
use crate::store::journal::{InverseOp, UndoLog};
use crate::store::scan::parse_cursor;
use crate::store::zset::{Limits, cmp_entry};
use crate::store::{Kind, Sds, Set, Value, ZSet};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, WRITE | DENYOOM | FAST, (1, 1, 1), zadd, "sorted-set").doc(
        "1.2.0",
        "Add one or more members to a sorted set, or update its score if it already exists",
        "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]",
    ),
    CommandSpec::new("zincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), zincrby, "sorted-set").doc(
        "1.2.0",
        "Increment the score of a member in a sorted set",
        "key increment member",
    ),
    CommandSpec::new("zrem", -3, WRITE | FAST, (1, 1, 1), zrem, "sorted-set").doc(
        "1.2.0",
        "Remove one or more members from a sorted set",
        "key member [member ...]",
    ),
    CommandSpec::new("zcard", 2, READONLY | FAST, (1, 1, 1), zcard, "sorted-set").doc(
        "1.2.0",
        "Get the number of members in a sorted set",
        "key",
    ),
    CommandSpec::new("zscore", 3, READONLY | FAST, (1, 1, 1), zscore, "sorted-set").doc(
        "1.2.0",
        "Get the score associated with the given member in a sorted set",
        "key member",
    ),
    CommandSpec::new("zmscore", -3, READONLY | FAST, (1, 1, 1), zmscore, "sorted-set").doc(
        "6.2.0",
        "Get the score associated with the given members in a sorted set",
        "key member [member ...]",
    ),
    CommandSpec::new("zrank", 3, READONLY | FAST, (1, 1, 1), zrank, "sorted-set").doc(
        "2.0.0",
        "Determine the index of a member in a sorted set",
        "key member",
    ),
    CommandSpec::new("zrevrank", 3, READONLY | FAST, (1, 1, 1), zrevrank, "sorted-set").doc(
        "2.0.0",
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
        "key member",
    ),
    CommandSpec::new("zcount", 4, READONLY | FAST, (1, 1, 1), zcount, "sorted-set").doc(
        "2.0.0",
        "Count the members in a sorted set with scores within the given values",
        "key min max",
    ),
    CommandSpec::new("zlexcount", 4, READONLY | FAST, (1, 1, 1), zlexcount, "sorted-set").doc(
        "2.8.9",
        "Count the number of members in a sorted set between a given lexicographical range",
        "key min max",
    ),
    CommandSpec::new("zrange", -4, READONLY, (1, 1, 1), zrange, "sorted-set").doc(
        "1.2.0",
        "Return a range of members in a sorted set",
        "key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]",
    ),
    CommandSpec::new("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), zrangestore, "sorted-set")
        .doc(
            "6.2.0",
            "Store a range of members from sorted set into another key",
            "dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]",
        ),
    CommandSpec::new("zrevrange", -4, READONLY, (1, 1, 1), zrevrange, "sorted-set").doc(
        "1.2.0",
        "Return a range of members in a sorted set, by index, with scores ordered from high to low",
        "key start stop [WITHSCORES]",
    ),
    CommandSpec::new("zrangebyscore", -4, READONLY, (1, 1, 1), zrangebyscore, "sorted-set").doc(
        "1.0.5",
        "Return a range of members in a sorted set, by score",
        "key min max [WITHSCORES] [LIMIT offset count]",
    ),
    CommandSpec::new(
        "zrevrangebyscore",
        -4,
        READONLY,
        (1, 1, 1),
        zrevrangebyscore,
        "sorted-set",
    )
    .doc(
        "2.2.0",
        "Return a range of members in a sorted set, by score, with scores ordered from high to low",
        "key max min [WITHSCORES] [LIMIT offset count]",
    ),
    CommandSpec::new("zrangebylex", -4, READONLY, (1, 1, 1), zrangebylex, "sorted-set").doc(
        "2.8.9",
        "Return a range of members in a sorted set, by lexicographical range",
        "key min max [LIMIT offset count]",
    ),
    CommandSpec::new("zrevrangebylex", -4, READONLY, (1, 1, 1), zrevrangebylex, "sorted-set")
        .doc(
            "2.8.9",
            "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
            "key max min [LIMIT offset count]",
        ),
    CommandSpec::new("zremrangebyrank", 4, WRITE, (1, 1, 1), zremrangebyrank, "sorted-set").doc(
        "2.0.0",
        "Remove all members in a sorted set within the given indexes",
        "key start stop",
    ),
    CommandSpec::new("zremrangebyscore", 4, WRITE, (1, 1, 1), zremrangebyscore, "sorted-set")
        .doc(
            "1.2.0",
            "Remove all members in a sorted set within the given scores",
            "key min max",
        ),
    CommandSpec::new("zremrangebylex", 4, WRITE, (1, 1, 1), zremrangebylex, "sorted-set").doc(
        "2.8.9",
        "Remove all members in a sorted set between the given lexicographical range",
        "key min max",
    ),
    CommandSpec::new("zunion", -3, READONLY, (0, 0, 0), zunion, "sorted-set").doc(
        "6.2.0",
        "Add multiple sorted sets",
        "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]",
    ),
    CommandSpec::new("zinter", -3, READONLY, (0, 0, 0), zinter, "sorted-set").doc(
        "6.2.0",
        "Intersect multiple sorted sets",
        "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]",
    ),
    CommandSpec::new("zdiff", -3, READONLY, (0, 0, 0), zdiff, "sorted-set").doc(
        "6.2.0",
        "Subtract multiple sorted sets",
        "numkeys key [key ...] [WITHSCORES]",
    ),
    CommandSpec::new("zunionstore", -4, WRITE | DENYOOM, (1, 1, 1), zunionstore, "sorted-set")
        .doc(
            "2.0.0",
            "Add multiple sorted sets and store the resulting sorted set in a new key",
            "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]",
        ),
    CommandSpec::new("zinterstore", -4, WRITE | DENYOOM, (1, 1, 1), zinterstore, "sorted-set")
        .doc(
            "2.0.0",
            "Intersect multiple sorted sets and store the resulting sorted set in a new key",
            "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]",
        ),
    CommandSpec::new("zdiffstore", -4, WRITE | DENYOOM, (1, 1, 1), zdiffstore, "sorted-set").doc(
        "6.2.0",
        "Subtract multiple sorted sets and store the resulting sorted set in a new key",
        "destination numkeys key [key ...]",
    ),
    CommandSpec::new("zintercard", -3, READONLY, (0, 0, 0), zintercard, "sorted-set").doc(
        "7.0.0",
        "Intersect multiple sorted sets and return the cardinality of the result",
        "numkeys key [key ...] [LIMIT limit]",
    ),
    CommandSpec::new("zpopmin", -2, WRITE | FAST, (1, 1, 1), zpopmin, "sorted-set").doc(
        "5.0.0",
        "Remove and return members with the lowest scores in a sorted set",
        "key [count]",
    ),
    CommandSpec::new("zpopmax", -2, WRITE | FAST, (1, 1, 1), zpopmax, "sorted-set").doc(
        "5.0.0",
        "Remove and return members with the highest scores in a sorted set",
        "key [count]",
    ),
    CommandSpec::new("zmpop", -4, WRITE, (0, 0, 0), zmpop, "sorted-set").doc(
        "7.0.0",
        "Remove and return members with scores in a sorted set",
        "numkeys key [key ...] <MIN | MAX> [COUNT count]",
    ),
    CommandSpec::new(
        "bzpopmin",
        -3,
        WRITE | NOSCRIPT | FAST | BLOCKING,
        (1, -2, 1),
        bzpopmin,
        "sorted-set",
    )
    .doc(
        "5.0.0",
        "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
        "key [key ...] timeout",
    ),
    CommandSpec::new(
        "bzpopmax",
        -3,
        WRITE | NOSCRIPT | FAST | BLOCKING,
        (1, -2, 1),
        bzpopmax,
        "sorted-set",
    )
    .doc(
        "5.0.0",
        "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
        "key [key ...] timeout",
    ),
    CommandSpec::new("bzmpop", -5, WRITE | BLOCKING, (0, 0, 0), bzmpop, "sorted-set").doc(
        "7.0.0",
        "Remove and return members with scores in a sorted set or block until one is available",
        "timeout numkeys key [key ...] <MIN | MAX> [COUNT count]",
    ),
    CommandSpec::new("zrandmember", -2, READONLY, (1, 1, 1), zrandmember, "sorted-set").doc(
        "6.2.0",
        "Get one or multiple random elements from a sorted set",
        "key [count [WITHSCORES]]",
    ),
    CommandSpec::new("zscan", -3, READONLY, (1, 1, 1), zscan, "sorted-set").doc(
        "2.8.0",
        "Incrementally iterate sorted sets elements and associated scores",
        "key cursor [MATCH pattern] [COUNT count]",
    ),
];

// ---------------------------------------------------------------------------
// Shared helpers.
// ---------------------------------------------------------------------------

/// The configured listpack limits.
pub(crate) fn limits(srv: &Server) -> Limits {
    Limits {
        entries: srv.config.zset_max_listpack_entries,
        value: srv.config.zset_max_listpack_value,
    }
}

/// The zset at `key` for a read command (counts a keyspace hit or miss).
#[inline]
fn read_zset<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a ZSet>, CmdError> {
    match srv.store.lookup_read(db, key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The zset at `key` for a write command, without touching it.
#[inline]
fn peek_zset<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a ZSet>, CmdError> {
    match srv.store.get(db, key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The zset at `key` with intent to change it (passes the choke point).
#[inline]
/// A skiplist logs the inverse of each change for rollback (see
/// `store::journal`); a listpack is small and copied instead.
fn write_zset<'a>(
    srv: &'a mut Server,
    db: usize,
    key: &[u8],
) -> Result<Option<(&'a mut ZSet, UndoLog<'a>)>, CmdError> {
    let big = |v: &Value| matches!(v, Value::ZSet(z) if !z.is_listpack());
    match srv.store.get_mut_undo_if(db, key, Kind::ZSet, big)? {
        None => Ok(None),
        Some((Value::ZSet(z), undo)) => Ok(Some((z, undo))),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Sets `member`'s score, logging the inverse; returns the old score.
fn insert_logged(
    z: &mut ZSet,
    undo: &mut UndoLog,
    member: &[u8],
    score: f64,
    lim: &Limits,
) -> Option<f64> {
    let old = z.insert(member, score, lim);
    if undo.on() {
        undo.push(InverseOp::ZSetScore {
            member: Sds::new(member),
            old,
        });
    }
    old
}

/// Removes `member`, logging the inverse; returns its score.
fn remove_logged(z: &mut ZSet, undo: &mut UndoLog, member: &[u8]) -> Option<f64> {
    let old = z.remove(member);
    if let Some(score) = old
        && undo.on()
    {
        undo.push(InverseOp::ZSetScore {
            member: Sds::new(member),
            old: Some(score),
        });
    }
    old
}

/// Removes ranks `a..b`, logging the removed entries (O(removed)).
fn remove_range_logged(z: &mut ZSet, undo: &mut UndoLog, a: usize, b: usize) -> usize {
    if undo.on() {
        z.for_range(a, b, false, |m, s| {
            undo.push(InverseOp::ZSetScore {
                member: Sds::new(m),
                old: Some(s),
            })
        });
    }
    z.remove_range(a, b)
}

/// Removes `key` if the zset there became empty.
fn drop_if_empty(srv: &mut Server, db: usize, key: &[u8]) {
    if matches!(srv.store.db(db).keys().get(key), Some(Value::ZSet(z)) if z.is_empty()) {
        srv.store.delete(db, key);
    }
}

/// A score as Redis 7.0 replies it (`addReplyDouble`: `%.17g`, a bulk
/// string in RESP2, a double in RESP3). Integral scores skip the formatter.
#[inline]
pub(crate) fn put_score(r: &mut Reply, s: f64) {
    if s.fract() == 0.0 && s.abs() < 1e15 && !(s == 0.0 && s.is_sign_negative()) {
        let i = s as i64;
        if r.resp3 {
            let mut b = [0u8; 20];
            r.raw(b",");
            r.raw(crate::number::fmt_i64(i, &mut b));
            r.raw(b"\r\n");
        } else {
            r.bulk_int(i);
        }
        return;
    }
    let t = fmt_g17(s);
    if r.resp3 {
        r.raw(b",");
        r.raw(t.as_bytes());
        r.raw(b"\r\n");
    } else {
        r.bulk(t.as_bytes());
    }
}

/// Header of a reply of `n` elements (with scores: pairs).
fn range_header(r: &mut Reply, n: usize, withscores: bool) {
    if withscores && !r.resp3 {
        r.array(2 * n);
    } else {
        r.array(n);
    }
}

/// One element of a range reply (RESP3 with scores: a [member, score] pair).
#[inline]
fn range_item(r: &mut Reply, m: &[u8], s: f64, withscores: bool) {
    if withscores {
        if r.resp3 {
            r.array(2);
        }
        r.bulk(m);
        put_score(r, s);
    } else {
        r.bulk(m);
    }
}

/// Redis's getDoubleFromObjectOrReply: `strtod` over the whole text, and
/// also refused when it overflows to +-inf or underflows to 0 (ERANGE).
fn parse_score(b: &[u8]) -> Result<f64, CmdError> {
    parse_score_opt(b).ok_or(CmdError::NotFloat)
}

fn parse_score_opt(b: &[u8]) -> Option<f64> {
    // Plain integers (the usual score) are exact: none of the checks below.
    if let Some(v) = crate::number::plain_f64(b) {
        return Some(v);
    }
    let v = parse_f64(b)?;
    if v.is_infinite() && !b.iter().any(|c| c.eq_ignore_ascii_case(&b'i')) {
        return None;
    }
    if v == 0.0 {
        let hex = b.iter().any(|c| c.eq_ignore_ascii_case(&b'x'));
        let mant = b.split(|c| !hex && c.eq_ignore_ascii_case(&b'e')).next()?;
        let mant = if hex {
            mant.split(|c| c.eq_ignore_ascii_case(&b'p')).next()?
        } else {
            mant
        };
        let digits = if hex { mant.get(2..)? } else { mant };
        if digits
            .iter()
            .any(|c| c.is_ascii_alphanumeric() && *c != b'0' && *c != b'x' && *c != b'X')
        {
            return None;
        }
    }
    Some(v)
}

/// A score interval (zrangespec).
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

impl ScoreRange {
    #[inline]
    fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }
    #[inline]
    fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// C's `strtod` over the whole text (leading white space allowed, empty is
/// 0), as zslParseRange uses it; NaN is refused.
fn strtod_all(b: &[u8]) -> Option<f64> {
    if b.is_empty() {
        return Some(0.0);
    }
    parse_f64(b.trim_ascii_start())
}

/// zslParseRange: `(` exclusive, `-inf`/`+inf`.
fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let err = CmdError::Static("ERR min or max is not a float");
    let one = |b: &[u8]| -> Option<(f64, bool)> {
        match b.first() {
            Some(b'(') => strtod_all(&b[1..]).map(|v| (v, true)),
            _ => strtod_all(b).map(|v| (v, false)),
        }
    };
    let (min, minex) = one(min).ok_or(err.clone())?;
    let (max, maxex) = one(max).ok_or(err)?;
    Ok(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

/// One end of a lex range.
#[derive(Clone, Copy, Debug)]
enum LexBound<'a> {
    NegInf,
    PosInf,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

#[derive(Clone, Copy, Debug)]
struct LexRange<'a> {
    min: LexBound<'a>,
    max: LexBound<'a>,
}

impl LexRange<'_> {
    #[inline]
    fn gte_min(&self, m: &[u8]) -> bool {
        match self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(x) => m >= x,
            LexBound::Excl(x) => m > x,
        }
    }
    #[inline]
    fn lte_max(&self, m: &[u8]) -> bool {
        match self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(x) => m <= x,
            LexBound::Excl(x) => m < x,
        }
    }
}

/// zslParseLexRange: `[` inclusive, `(` exclusive, `-` / `+` alone.
fn parse_lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, CmdError> {
    let one = |b: &'a [u8]| -> Option<LexBound<'a>> {
        match b.first()? {
            b'+' if b.len() == 1 => Some(LexBound::PosInf),
            b'-' if b.len() == 1 => Some(LexBound::NegInf),
            b'(' => Some(LexBound::Excl(&b[1..])),
            b'[' => Some(LexBound::Incl(&b[1..])),
            _ => None,
        }
    };
    match (one(min), one(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(CmdError::Static(
            "ERR min or max not valid string range item",
        )),
    }
}

/// The forward rank interval of a score range.
fn score_span(z: &ZSet, r: &ScoreRange) -> (usize, usize) {
    let a = z.count_while_score(|s| !r.gte_min(s));
    let b = z.count_while_score(|s| r.lte_max(s));
    (a, b.max(a))
}

/// The forward rank interval of a lex range.
fn lex_span(z: &ZSet, r: &LexRange) -> (usize, usize) {
    let a = z.count_while(|_, m| !r.gte_min(m));
    let b = z.count_while(|_, m| r.lte_max(m));
    (a, b.max(a))
}

/// Redis's start/stop rank rules (negative from the end); the forward
/// interval, or None when empty. `rev` counts from the highest score.
fn rank_span(start: i64, end: i64, len: usize, rev: bool) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut s = if start < 0 {
        llen.saturating_add(start)
    } else {
        start
    };
    let mut e = if end < 0 {
        llen.saturating_add(end)
    } else {
        end
    };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= llen {
        return None;
    }
    if e >= llen {
        e = llen - 1;
    }
    let (s, e) = (s as usize, e as usize);
    Some(if rev {
        (len - 1 - e, len - s)
    } else {
        (s, e + 1)
    })
}

/// LIMIT offset count over the forward interval a..b, walked forward or
/// backward: a negative offset selects nothing, a negative count all.
fn limit_window(a: usize, b: usize, rev: bool, offset: i64, count: i64) -> (usize, usize) {
    if offset < 0 {
        return (a, a);
    }
    let n = b - a;
    let off = (offset as u64).min(n as u64) as usize;
    let rest = n - off;
    let take = if count < 0 {
        rest
    } else {
        (count as u64).min(rest as u64) as usize
    };
    if rev {
        (b - off - take, b - off)
    } else {
        (a + off, a + off + take)
    }
}

// ---------------------------------------------------------------------------
// ZADD / ZINCRBY / ZREM.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What ZADD does to one member with current score `cur`: None = nothing,
/// Some(score) = the member gets `score`. Err(()) = NaN result.
#[inline]
fn add_outcome(f: &AddFlags, cur: Option<f64>, score: f64) -> Result<Option<f64>, ()> {
    match cur {
        None => Ok((!f.xx).then_some(score)),
        Some(_) if f.nx => Ok(None),
        Some(cur) => {
            let new = if f.incr { cur + score } else { score };
            if new.is_nan() {
                return Err(());
            }
            if (f.lt && new >= cur) || (f.gt && new <= cur) {
                return Ok(None);
            }
            Ok(Some(new))
        }
    }
}

const NAN_ERR: &str = "ERR resulting score is not a number (NaN)";

/// zaddGenericCommand; `scoreidx` is where the score/member pairs start.
fn zadd_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    mut f: AddFlags,
    mut scoreidx: usize,
) -> CmdResult {
    if !f.incr {
        while scoreidx < args.len() {
            let o = &args[scoreidx];
            if o.eq_ignore_ascii_case(b"nx") {
                f.nx = true;
            } else if o.eq_ignore_ascii_case(b"xx") {
                f.xx = true;
            } else if o.eq_ignore_ascii_case(b"ch") {
                f.ch = true;
            } else if o.eq_ignore_ascii_case(b"incr") {
                f.incr = true;
            } else if o.eq_ignore_ascii_case(b"gt") {
                f.gt = true;
            } else if o.eq_ignore_ascii_case(b"lt") {
                f.lt = true;
            } else {
                break;
            }
            scoreidx += 1;
        }
    }
    let elements = args.len() - scoreidx;
    if elements % 2 == 1 || elements == 0 {
        return Err(CmdError::Syntax);
    }
    let elements = elements / 2;
    if f.nx && f.xx {
        return Err(CmdError::Static(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(CmdError::Static(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && elements > 1 {
        return Err(CmdError::Static(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut scores = Vec::with_capacity(elements);
    for i in 0..elements {
        scores.push(parse_score(&args[scoreidx + 2 * i])?);
    }
    let key = &args[1];
    let db = c.db;
    let pairs = || (0..elements).map(|i| (scores[i], &args[scoreidx + 2 * i + 1]));
    // Decide against the current set whether anything changes: if no
    // member changes on its own, applying them in order changes nothing.
    let mut changes = false;
    match peek_zset(srv, db, key)? {
        None => changes = !f.xx,
        Some(z) => {
            for (s, m) in pairs() {
                let cur = z.score(m);
                match add_outcome(&f, cur, s) {
                    Err(()) => return Err(CmdError::Static(NAN_ERR)),
                    Ok(Some(new)) if cur != Some(new) => {
                        changes = true;
                        break;
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    if !changes {
        // Still report the INCR result of a member that stays as it is.
        if let (true, Some(z)) = (f.incr, peek_zset(srv, db, key)?) {
            let (s, m) = (scores[0], &args[scoreidx + 1]);
            if let Ok(Some(new)) = add_outcome(&f, z.score(m), s) {
                processed = 1;
                last = new;
            }
        }
    } else {
        let lim = limits(srv);
        if peek_zset(srv, db, key)?.is_none() {
            let first_len = args[scoreidx + 1].len();
            srv.store
                .set(db, key, Value::ZSet(ZSet::new_for(first_len, &lim)));
        }
        let Some((z, mut undo)) = write_zset(srv, db, key)? else {
            return Err(CmdError::WrongType);
        };
        for (s, m) in pairs() {
            let cur = z.score(m);
            match add_outcome(&f, cur, s) {
                Err(()) => return Err(CmdError::Static(NAN_ERR)),
                Ok(None) => {}
                Ok(Some(new)) => {
                    processed += 1;
                    last = new;
                    match cur {
                        None => {
                            insert_logged(z, &mut undo, m, new, &lim);
                            added += 1;
                        }
                        Some(cur) if cur != new => {
                            insert_logged(z, &mut undo, m, new, &lim);
                            updated += 1;
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        if f.incr && processed > 0 {
            // Propagated with the computed score: replay does no arithmetic.
            let s = fmt_g17(last);
            srv.store
                .prop
                .rewrite_as_one([&b"ZADD"[..], key, s.as_bytes(), &args[scoreidx + 1]]);
        }
    }
    if f.incr {
        if processed > 0 {
            put_score(&mut c.reply, last);
        } else {
            c.reply.null();
        }
    } else {
        c.reply.int(if f.ch { added + updated } else { added });
    }
    Ok(())
}

pub(crate) fn zadd(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    zadd_generic(srv, c, args, AddFlags::default(), 2)
}

fn zincrby(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let f = AddFlags {
        incr: true,
        ..Default::default()
    };
    zadd_generic(srv, c, args, f, 2)
}

fn zrem(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let key = &args[1];
    let Some(z) = peek_zset(srv, c.db, key)? else {
        c.reply.int(0);
        return Ok(());
    };
    if !args.iter().skip(2).any(|m| z.score(m).is_some()) {
        c.reply.int(0);
        return Ok(());
    }
    let Some((z, mut undo)) = write_zset(srv, c.db, key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let mut deleted = 0i64;
    for m in args.iter().skip(2) {
        if remove_logged(z, &mut undo, m).is_some() {
            deleted += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    z.shrink_after(deleted as usize);
    drop_if_empty(srv, c.db, key);
    c.reply.int(deleted);
    Ok(())
}

// ---------------------------------------------------------------------------
// Point reads.
// ---------------------------------------------------------------------------

fn zcard(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let n = read_zset(srv, c.db, &args[1])?.map_or(0, |z| z.len());
    c.reply.int(n as i64);
    Ok(())
}

fn zscore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    match read_zset(srv, c.db, &args[1])?.and_then(|z| z.score(&args[2])) {
        Some(s) => put_score(&mut c.reply, s),
        None => c.reply.null(),
    }
    Ok(())
}

fn zmscore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let z = read_zset(srv, c.db, &args[1])?;
    c.reply.array(args.len() - 2);
    for m in args.iter().skip(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => put_score(&mut c.reply, s),
            None => c.reply.null(),
        }
    }
    Ok(())
}

fn zrank_generic(srv: &mut Server, c: &mut Client, args: &Args, rev: bool) -> CmdResult {
    let z = read_zset(srv, c.db, &args[1])?;
    match z.and_then(|z| z.rank(&args[2]).map(|(r, _)| (r, z.len()))) {
        Some((r, len)) => c.reply.int(if rev { len - 1 - r } else { r } as i64),
        None => c.reply.null(),
    }
    Ok(())
}

fn zrank(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    zrank_generic(srv, c, args, false)
}

fn zrevrank(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    zrank_generic(srv, c, args, true)
}

fn zcount(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let r = parse_score_range(&args[2], &args[3])?;
    let n = read_zset(srv, c.db, &args[1])?.map_or(0, |z| {
        let (a, b) = score_span(z, &r);
        b - a
    });
    c.reply.int(n as i64);
    Ok(())
}

fn zlexcount(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let r = parse_lex_range(&args[2], &args[3])?;
    let n = read_zset(srv, c.db, &args[1])?.map_or(0, |z| {
        let (a, b) = lex_span(z, &r);
        b - a
    });
    c.reply.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// The ZRANGE family.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// zrangeGenericCommand: `first` is the index of the source key; `store`
/// the destination key of ZRANGESTORE.
fn zrange_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    first: usize,
    store: Option<&[u8]>,
    mut rtype: RangeType,
    mut dir: Direction,
) -> CmdResult {
    let key = &args[first];
    let (mut minidx, mut maxidx) = (first + 1, first + 2);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = first + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if store.is_none() && a.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
        } else if a.eq_ignore_ascii_case(b"limit") && left >= 2 {
            offset = parse_long(&args[j + 1])?;
            limit = parse_long(&args[j + 2])?;
            j += 2;
        } else if dir == Direction::Auto && a.eq_ignore_ascii_case(b"rev") {
            dir = Direction::Reverse;
        } else if rtype == RangeType::Auto && a.eq_ignore_ascii_case(b"bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && a.eq_ignore_ascii_case(b"byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if dir == Direction::Auto {
        dir = Direction::Forward;
    }
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    if limit != -1 && rtype == RangeType::Rank {
        return Err(CmdError::Static(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(CmdError::Static(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let rev = dir == Direction::Reverse;
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    enum Spec<'a> {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange<'a>),
    }
    let spec = match rtype {
        RangeType::Score => Spec::Score(parse_score_range(&args[minidx], &args[maxidx])?),
        RangeType::Lex => Spec::Lex(parse_lex_range(&args[minidx], &args[maxidx])?),
        _ => Spec::Rank(parse_long(&args[minidx])?, parse_long(&args[maxidx])?),
    };
    let z = match store {
        Some(_) => peek_zset(srv, c.db, key)?,
        None => read_zset(srv, c.db, key)?,
    };
    let (start, end) = match z {
        None => (0, 0),
        Some(z) => match spec {
            Spec::Rank(s, e) => rank_span(s, e, z.len(), rev).unwrap_or((0, 0)),
            Spec::Score(r) => {
                let (a, b) = score_span(z, &r);
                limit_window(a, b, rev, offset, limit)
            }
            Spec::Lex(r) => {
                let (a, b) = lex_span(z, &r);
                limit_window(a, b, rev, offset, limit)
            }
        },
    };
    match (store, z) {
        (None, None) => c.reply.array(0),
        (None, Some(z)) => {
            let r = &mut c.reply;
            range_header(r, end - start, withscores);
            z.for_range(start, end, rev, |m, s| range_item(r, m, s, withscores));
        }
        (Some(dst), z) => {
            let mut out: Vec<(Sds, f64)> = Vec::with_capacity(end - start);
            if let Some(z) = z {
                z.for_range(start, end, false, |m, s| out.push((Sds::new(m), s)));
            }
            // A rank range's length is known up front: too long, and
            // Redis starts a skiplist; otherwise it fills a listpack.
            let lim = limits(srv);
            if !(rtype == RangeType::Rank && out.len() > lim.entries) {
                unsign_packed_prefix(&mut out, rev, &lim);
            }
            let n = out.len();
            store_result(srv, c.db, dst, out);
            c.reply.int(n as i64);
        }
    }
    Ok(())
}

/// ZRANGESTORE's destination as Redis builds it: a listpack (unless a
/// rank range is known to be too long: the caller skips this) filled in
/// emission order until an element too many or too long converts it. A
/// -0 score stored while it is a listpack reads back as 0 (d2string), the
/// ones added after the conversion keep their sign.
fn unsign_packed_prefix(out: &mut [(Sds, f64)], rev: bool, lim: &Limits) {
    let n = out.len();
    for k in 0..n {
        let i = if rev { n - 1 - k } else { k };
        if k >= lim.entries || out[i].0.len() > lim.value {
            break;
        }
        if out[i].1 == 0.0 {
            out[i].1 = 0.0;
        }
    }
}

/// Stores a sorted, distinct result at `dst` (deleting it when empty).
fn store_result(srv: &mut Server, db: usize, dst: &[u8], out: Vec<(Sds, f64)>) {
    if out.is_empty() {
        srv.store.delete(db, dst);
    } else {
        let lim = limits(srv);
        srv.store
            .set(db, dst, Value::ZSet(ZSet::from_sorted(out, &lim)));
    }
}

fn zrange(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    zrange_generic(srv, c, args, 1, None, RangeType::Auto, Direction::Auto)
}

fn zrangestore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let dst = &args[1];
    zrange_generic(srv, c, args, 2, Some(dst), RangeType::Auto, Direction::Auto)
}

fn zrevrange(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    zrange_generic(srv, c, args, 1, None, RangeType::Rank, Direction::Reverse)
}

fn zrangebyscore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    zrange_generic(srv, c, args, 1, None, RangeType::Score, Direction::Forward)
}

fn zrevrangebyscore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    zrange_generic(srv, c, args, 1, None, RangeType::Score, Direction::Reverse)
}

fn zrangebylex(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    zrange_generic(srv, c, args, 1, None, RangeType::Lex, Direction::Forward)
}

fn zrevrangebylex(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    zrange_generic(srv, c, args, 1, None, RangeType::Lex, Direction::Reverse)
}

// ---------------------------------------------------------------------------
// ZREMRANGEBY*.
// ---------------------------------------------------------------------------

fn zremrange_finish(
    srv: &mut Server,
    c: &mut Client,
    key: &[u8],
    span: impl Fn(&ZSet) -> (usize, usize),
) -> CmdResult {
    let Some(z) = peek_zset(srv, c.db, key)? else {
        c.reply.int(0);
        return Ok(());
    };
    let (a, b) = span(z);
    if a >= b {
        c.reply.int(0);
        return Ok(());
    }
    let n = match write_zset(srv, c.db, key)? {
        Some((z, mut undo)) => remove_range_logged(z, &mut undo, a, b),
        None => 0,
    };
    drop_if_empty(srv, c.db, key);
    c.reply.int(n as i64);
    Ok(())
}

fn zremrangebyrank(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (s, e) = (parse_long(&args[2])?, parse_long(&args[3])?);
    zremrange_finish(srv, c, &args[1], |z| {
        rank_span(s, e, z.len(), false).unwrap_or((0, 0))
    })
}

fn zremrangebyscore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let r = parse_score_range(&args[2], &args[3])?;
    zremrange_finish(srv, c, &args[1], |z| score_span(z, &r))
}

fn zremrangebylex(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let r = parse_lex_range(&args[2], &args[3])?;
    zremrange_finish(srv, c, &args[1], |z| lex_span(z, &r))
}

// ---------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF and their STORE forms, ZINTERCARD.
// ---------------------------------------------------------------------------

/// One input of a set operation: a sorted set, or (scores 1) a set.
#[derive(Clone, Copy)]
enum Src<'a> {
    Missing,
    Z(&'a ZSet),
    /// A plain set: every member scores 1.0, as in Redis. Its members as
    /// bytes (an intset holds integers) are materialized by the caller.
    Set(&'a Set, &'a [Vec<u8>]),
}

impl<'a> Src<'a> {
    /// The input for a value, None for a type that cannot be an input;
    /// `members` are a set's members as bytes (empty for other types).
    fn of(v: Option<&'a Value>, members: &'a [Vec<u8>]) -> Option<Src<'a>> {
        match v {
            None => Some(Src::Missing),
            Some(Value::ZSet(z)) => Some(Src::Z(z)),
            Some(Value::Set(s)) => Some(Src::Set(s, members)),
            Some(_) => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::Set(s, _) => s.len(),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(m),
            Src::Set(s, _) => s.contains(m).then_some(1.0),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&'a [u8], f64)) {
        match self {
            Src::Missing => {}
            Src::Z(z) => z.for_each(f),
            Src::Set(_, members) => members.iter().for_each(|m| f(m, 1.0)),
        }
    }

    fn same(&self, o: &Src) -> bool {
        match (self, o) {
            (Src::Z(a), Src::Z(b)) => std::ptr::eq(*a, *b),
            (Src::Set(a, _), Src::Set(b, _)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// zunionInterAggregate (a NaN sum becomes 0).
#[inline]
fn aggregate(target: &mut f64, v: f64, a: Aggregate) {
    match a {
        Aggregate::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

/// The command name for error texts.
fn op_name(op: SetOp, store: bool, card: bool) -> &'static str {
    match (op, store, card) {
        (_, _, true) => "zintercard",
        (SetOp::Union, false, _) => "zunion",
        (SetOp::Inter, false, _) => "zinter",
        (SetOp::Diff, false, _) => "zdiff",
        (SetOp::Union, true, _) => "zunionstore",
        (SetOp::Inter, true, _) => "zinterstore",
        (SetOp::Diff, true, _) => "zdiffstore",
    }
}

/// zunionInterDiffGenericCommand. `nk` is the index of numkeys; `dst` the
/// destination of the STORE forms; `card` for ZINTERCARD.
fn setop_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    nk: usize,
    dst: Option<&[u8]>,
    op: SetOp,
    card: bool,
) -> CmdResult {
    let setnum = parse_long(&args[nk])?;
    if setnum < 1 {
        return Err(CmdError::Custom(format!(
            "ERR at least 1 input key is needed for '{}' command",
            op_name(op, dst.is_some(), card)
        )));
    }
    if setnum as u64 > (args.len() - nk - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let db = c.db;
    // Look the keys up (and check their types) before the options, as Redis.
    for i in 0..setnum {
        let k = &args[nk + 1 + i];
        let v = if dst.is_some() {
            srv.store.get(db, k)
        } else {
            srv.store.lookup_read(db, k)
        };
        if Src::of(v, &[]).is_none() {
            return Err(CmdError::WrongType);
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: u64 = 0;
    let mut j = nk + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = &args[j];
        if card {
            if remaining >= 2 && a.eq_ignore_ascii_case(b"limit") {
                limit = parse_range_long(
                    &args[j + 1],
                    0,
                    i64::MAX,
                    Some("ERR LIMIT can't be negative"),
                )? as u64;
                j += 2;
                continue;
            }
            return Err(CmdError::Syntax);
        }
        if op != SetOp::Diff && remaining > setnum && a.eq_ignore_ascii_case(b"weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = parse_score_opt(&args[j + 1 + i])
                    .ok_or(CmdError::Static("ERR weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff && remaining >= 2 && a.eq_ignore_ascii_case(b"aggregate") {
            let v = &args[j + 1];
            agg = if v.eq_ignore_ascii_case(b"sum") {
                Aggregate::Sum
            } else if v.eq_ignore_ascii_case(b"min") {
                Aggregate::Min
            } else if v.eq_ignore_ascii_case(b"max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if dst.is_none() && a.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let dbref = srv.store.db(db);
    let set_members: Vec<Vec<Vec<u8>>> = (0..setnum)
        .map(|i| match dbref.keys().get(&args[nk + 1 + i]) {
            Some(Value::Set(s)) => super::set::members(s),
            _ => Vec::new(),
        })
        .collect();
    let mut srcs: Vec<(Src, f64)> = (0..setnum)
        .map(|i| {
            let v = dbref.keys().get(&args[nk + 1 + i]);
            (
                Src::of(v, &set_members[i]).unwrap_or(Src::Missing),
                weights[i],
            )
        })
        .collect();
    if card {
        srcs.sort_by_key(|(s, _)| s.len());
        let mut n = 0u64;
        let (first, rest) = srcs.split_at(1);
        if !rest.iter().any(|(s, _)| matches!(s, Src::Missing)) {
            let mut done = false;
            first[0].0.for_each(|m, _| {
                if done {
                    return;
                }
                if rest.iter().all(|(s, _)| s.score(m).is_some()) {
                    n += 1;
                    if limit > 0 && n >= limit {
                        done = true;
                    }
                }
            });
        }
        c.reply.int(n as i64);
        return Ok(());
    }
    let mut out: Vec<(&[u8], f64)> = Vec::new();
    match op {
        SetOp::Inter => {
            // Smallest first (a stable sort keeps Redis's order for ties).
            srcs.sort_by_key(|(s, _)| s.len());
            if srcs[0].0.len() > 0 {
                let (first, rest) = srcs.split_at(1);
                let (s0, w0) = first[0];
                s0.for_each(|m, sc| {
                    let mut score = w0 * sc;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (s, w) in rest {
                        let v = if s.same(&s0) { Some(sc) } else { s.score(m) };
                        match v {
                            Some(v) => aggregate(&mut score, v * w, agg),
                            None => return,
                        }
                    }
                    out.push((m, score));
                });
            }
        }
        SetOp::Union => {
            srcs.sort_by_key(|(s, _)| s.len());
            let mut acc: HashMap<&[u8], f64> = HashMap::new();
            let mut order: Vec<&[u8]> = Vec::new();
            for (s, w) in &srcs {
                s.for_each(|m, sc| {
                    let mut score = w * sc;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m, score);
                            order.push(m);
                        }
                    }
                });
            }
            out = order.into_iter().map(|m| (m, acc[m])).collect();
        }
        SetOp::Diff => {
            let (first, rest) = srcs.split_at(1);
            first[0].0.for_each(|m, sc| {
                if !rest.iter().any(|(s, _)| s.score(m).is_some()) {
                    out.push((m, sc));
                }
            });
        }
    }
    out.sort_by(|a, b| cmp_entry(a.1, a.0, b.1, b.0));
    match dst {
        None => {
            let r = &mut c.reply;
            range_header(r, out.len(), withscores);
            for (m, s) in &out {
                range_item(r, m, *s, withscores);
            }
        }
        Some(dst) => {
            let owned: Vec<(Sds, f64)> = out.iter().map(|(m, s)| (Sds::new(m), *s)).collect();
            let n = owned.len();
            store_result(srv, db, dst, owned);
            c.reply.int(n as i64);
        }
    }
    Ok(())
}

fn zunion(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    setop_generic(srv, c, args, 1, None, SetOp::Union, false)
}

fn zinter(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    setop_generic(srv, c, args, 1, None, SetOp::Inter, false)
}

fn zdiff(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    setop_generic(srv, c, args, 1, None, SetOp::Diff, false)
}

fn zunionstore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    setop_generic(srv, c, args, 2, Some(&args[1]), SetOp::Union, false)
}

fn zinterstore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    setop_generic(srv, c, args, 2, Some(&args[1]), SetOp::Inter, false)
}

fn zdiffstore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    setop_generic(srv, c, args, 2, Some(&args[1]), SetOp::Diff, false)
}

fn zintercard(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    setop_generic(srv, c, args, 1, None, SetOp::Inter, true)
}

// ---------------------------------------------------------------------------
// Pops (plain, multi-key, blocking).
// ---------------------------------------------------------------------------

/// How a pop replies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PopShape {
    /// ZPOPMIN key: a flat [member, score].
    Single,
    /// ZPOPMIN key count: pairs (nested in RESP3).
    Counted,
    /// BZPOPMIN: [key, member, score].
    Blocking,
    /// ZMPOP / BZMPOP: [key, [[member, score], ...]].
    Nested,
}

/// genericZpopCommand over `keys`: pops up to `count` from the first
/// existing key. Returns false (nothing written) when every key is missing.
fn pop_first(
    srv: &mut Server,
    c: &mut Client,
    keys: &[&[u8]],
    max: bool,
    count: usize,
    shape: PopShape,
) -> Result<bool, CmdError> {
    let db = c.db;
    for &key in keys {
        let Some((z, mut undo)) = write_zset(srv, db, key)? else {
            continue;
        };
        let n = count.min(z.len());
        let (a, b) = if max { (z.len() - n, z.len()) } else { (0, n) };
        let r = &mut c.reply;
        match shape {
            PopShape::Single => r.array(2 * n),
            PopShape::Counted => range_header(r, n, true),
            PopShape::Blocking => {
                r.array(3);
                r.bulk(key);
            }
            PopShape::Nested => {
                r.array(2);
                r.bulk(key);
                r.array(n);
            }
        }
        z.for_range(a, b, max, |m, s| match shape {
            PopShape::Single | PopShape::Blocking => {
                r.bulk(m);
                put_score(r, s);
            }
            PopShape::Counted => range_item(r, m, s, true),
            PopShape::Nested => {
                r.array(2);
                r.bulk(m);
                put_score(r, s);
            }
        });
        remove_range_logged(z, &mut undo, a, b);
        drop_if_empty(srv, db, key);
        // Propagated as the plain pop that happened (as Redis does).
        let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        let n = n.to_string();
        srv.store.prop.rewrite_as_one([name, key, n.as_bytes()]);
        return Ok(true);
    }
    Ok(false)
}

fn zpop_generic(srv: &mut Server, c: &mut Client, args: &Args, max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let (count, shape) = match args.get(2) {
        Some(a) => {
            let n = parse_range_long(
                a,
                0,
                i64::MAX,
                Some("ERR value is out of range, must be positive"),
            )?;
            (n as usize, PopShape::Counted)
        }
        None => (1, PopShape::Single),
    };
    if count == 0 {
        // The type is checked, nothing is popped.
        peek_zset(srv, c.db, &args[1])?;
        c.reply.array(0);
        return Ok(());
    }
    if !pop_first(srv, c, &[&args[1]], max, count, shape)? {
        c.reply.array(0);
    } else if shape == PopShape::Single {
        // A single pop propagates as itself.
        srv.store.prop.clear_replacement();
    }
    Ok(())
}

fn zpopmin(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    zpop_generic(srv, c, args, false)
}

fn zpopmax(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    zpop_generic(srv, c, args, true)
}

/// ZMPOP's COUNT as a pop size.
fn mpop_count(m: &Mpop) -> usize {
    usize::try_from(m.count).unwrap_or(usize::MAX)
}

fn zmpop(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let m = parse_mpop(args, 1, [b"min", b"max"])?;
    let keys: Vec<&[u8]> = args.iter().skip(m.first_key).take(m.numkeys).collect();
    if !pop_first(
        srv,
        c,
        &keys,
        !m.first_end,
        mpop_count(&m),
        PopShape::Nested,
    )? {
        c.reply.null_array();
    }
    Ok(())
}

/// True when this client may not block (inside MULTI, or the AOF loader).
fn must_not_block(c: &Client) -> bool {
    c.in_transaction() || c.is_internal()
}

/// No data: answer the null array when blocking is not allowed, else park.
fn block_or_null(
    srv: &mut Server,
    c: &mut Client,
    keys: &[&[u8]],
    timeout: Option<Duration>,
    args: &Args,
) {
    if must_not_block(c) {
        c.reply.null_array();
        return;
    }
    srv.block_on_keys(c, keys, timeout, args);
}

fn bzpop_generic(srv: &mut Server, c: &mut Client, args: &Args, max: bool) -> CmdResult {
    let last = args.len() - 1;
    let timeout = parse_timeout(&args[last])?;
    let keys: Vec<&[u8]> = args.iter().skip(1).take(last - 1).collect();
    if pop_first(srv, c, &keys, max, 1, PopShape::Blocking)? {
        return Ok(());
    }
    block_or_null(srv, c, &keys, timeout, args);
    Ok(())
}

fn bzpopmin(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    bzpop_generic(srv, c, args, false)
}

fn bzpopmax(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    bzpop_generic(srv, c, args, true)
}

fn bzmpop(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let timeout = parse_timeout(&args[1])?;
    let m = parse_mpop(args, 2, [b"min", b"max"])?;
    let keys: Vec<&[u8]> = args.iter().skip(m.first_key).take(m.numkeys).collect();
    if pop_first(
        srv,
        c,
        &keys,
        !m.first_end,
        mpop_count(&m),
        PopShape::Nested,
    )? {
        return Ok(());
    }
    block_or_null(srv, c, &keys, timeout, args);
    Ok(())
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN.
// ---------------------------------------------------------------------------

/// Largest |count| served with repetitions: refuses replies of gigabytes.
const RANDMEMBER_MAX_REPEAT: u64 = 10_000_000;

fn zrandmember(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() < 3 {
        match read_zset(srv, c.db, &args[1])? {
            Some(z) => match z.get(crate::store::random_index(z.len())) {
                Some((m, _)) => c.reply.bulk(m),
                None => c.reply.null(),
            },
            None => c.reply.null(),
        }
        return Ok(());
    }
    let l = parse_range_long(&args[2], -i64::MAX, i64::MAX, None)?;
    if args.len() > 4 || (args.len() == 4 && !args[3].eq_ignore_ascii_case(b"withscores")) {
        return Err(CmdError::Syntax);
    }
    let withscores = args.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    if l < 0 && l.unsigned_abs() > RANDMEMBER_MAX_REPEAT {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    let Some(z) = read_zset(srv, c.db, &args[1])? else {
        c.reply.array(0);
        return Ok(());
    };
    let size = z.len();
    let count = l.unsigned_abs();
    let r = &mut c.reply;
    if count == 0 {
        r.array(0);
        return Ok(());
    }
    // With repetitions (negative count).
    if l < 0 {
        let n = count as usize;
        range_header(r, n, withscores);
        for _ in 0..n {
            if let Some((m, s)) = z.get(crate::store::random_index(size)) {
                range_item(r, m, s, withscores);
            }
        }
        return Ok(());
    }
    // The whole set, from the highest score down (Redis's zset iterator).
    if count >= size as u64 {
        range_header(r, size, withscores);
        z.for_range(0, size, true, |m, s| range_item(r, m, s, withscores));
        return Ok(());
    }
    let count = count as usize;
    range_header(r, count, withscores);
    if count * 3 > size {
        // Many: a partial Fisher-Yates shuffle of the ranks.
        let mut idx: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = i + crate::store::random_index(size - i);
            idx.swap(i, j);
            if let Some((m, s)) = z.get(idx[i]) {
                range_item(r, m, s, withscores);
            }
        }
    } else {
        let mut picked: HashSet<usize> = HashSet::with_capacity(count);
        while picked.len() < count {
            let i = crate::store::random_index(size);
            if picked.insert(i)
                && let Some((m, s)) = z.get(i)
            {
                range_item(r, m, s, withscores);
            }
        }
    }
    Ok(())
}

/// Largest COUNT honoured by ZSCAN.
const MAX_SCAN_COUNT: usize = 1 << 40;

fn zscan(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let cursor = parse_cursor(&args[2]).ok_or(CmdError::Static("ERR invalid cursor"))?;
    let Some(z) = read_zset(srv, c.db, &args[1])? else {
        c.reply.array(2);
        c.reply.bulk(b"0");
        c.reply.array(0);
        return Ok(());
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
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
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut items: Vec<(&[u8], f64)> = Vec::new();
    let next = z.scan(cursor, count, |m, s| {
        if pattern.is_none_or(|p| crate::glob::glob_match(p, m, false)) {
            items.push((m, s));
        }
    });
    let r = &mut c.reply;
    r.array(2);
    r.bulk(next.to_string().as_bytes());
    r.array(2 * items.len());
    for (m, s) in items {
        r.bulk(m);
        r.bulk(fmt_g17(s).as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_ranges_like_zslparserange() {
        let r = parse_score_range(b"(1", b"+inf").unwrap();
        assert!(r.minex && !r.maxex && r.min == 1.0 && r.max == f64::INFINITY);
        let r = parse_score_range(b"", b" 2").unwrap();
        assert!(r.min == 0.0 && r.max == 2.0);
        let r = parse_score_range(b"(", b"-inf").unwrap();
        assert!(r.minex && r.min == 0.0);
        assert!(parse_score_range(b"nan", b"1").is_err());
        assert!(parse_score_range(b"1x", b"1").is_err());
        assert!(parse_score_range(b"1", b"((1").is_err());
    }

    #[test]
    fn lex_ranges() {
        assert!(parse_lex_range(b"-", b"+").is_ok());
        assert!(parse_lex_range(b"[a", b"(b").is_ok());
        assert!(parse_lex_range(b"a", b"+").is_err());
        assert!(parse_lex_range(b"--", b"+").is_err());
        assert!(parse_lex_range(b"", b"+").is_err());
    }

    #[test]
    fn windows() {
        assert_eq!(limit_window(2, 10, false, 1, 3), (3, 6));
        assert_eq!(limit_window(2, 10, true, 1, 3), (6, 9));
        assert_eq!(limit_window(2, 10, false, -1, 3), (2, 2));
        assert_eq!(limit_window(2, 10, false, 5, -1), (7, 10));
        assert_eq!(limit_window(2, 10, true, 50, 1), (2, 2));
        assert_eq!(rank_span(0, -1, 5, true), Some((0, 5)));
        assert_eq!(rank_span(0, 0, 5, true), Some((4, 5)));
        assert_eq!(rank_span(i64::MIN, i64::MIN, 5, false), None);
    }

    #[test]
    fn score_replies() {
        let mut r = Reply::new();
        put_score(&mut r, 3.0);
        put_score(&mut r, -0.0);
        put_score(&mut r, 1.5);
        put_score(&mut r, f64::INFINITY);
        assert_eq!(r.buf, b"$1\r\n3\r\n$2\r\n-0\r\n$3\r\n1.5\r\n$3\r\ninf\r\n");
        let mut r = Reply::new();
        r.resp3 = true;
        put_score(&mut r, -12.0);
        put_score(&mut r, 0.1);
        assert_eq!(r.buf, b",-12\r\n,0.10000000000000001\r\n");
    }
}
