//! The string command family: GET, SET (and its options), SETNX, SETEX,
//! PSETEX, GETSET, GETDEL, GETEX, MGET, MSET, MSETNX, INCR/DECR/INCRBY/
//! DECRBY, INCRBYFLOAT, APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE and LCS,
//! with Redis 7.0's replies, error texts and edge cases (t_string.c).
//!
//! INCRBYFLOAT does its arithmetic in x87 80-bit extended precision (the
//! `long double` Redis uses on x86-64), emulated in software in [`ld`], so
//! that results such as 0.1+0.1+0.1 print exactly as Redis prints them.

use super::flags::{DENYOOM, FAST, READONLY, WRITE};
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::long_double::Ld;
use crate::number::{fmt_i64, parse_i64};
use crate::server::{Client, Server};
use crate::store::bytes::INLINE_CAP;
use crate::store::{Kind, Sds, StrEnc, Value};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, (1, 1, 1), get, "string").doc(
        "1.0.0",
        "Get the value of a key",
        "key",
    ),
    CommandSpec::new("set", -3, WRITE | DENYOOM, (1, 1, 1), set, "string").doc(
        "1.0.0",
        "Set the string value of a key",
        "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
    ),
    CommandSpec::new("setnx", 3, WRITE | DENYOOM | FAST, (1, 1, 1), setnx, "string").doc(
        "1.0.0",
        "Set the value of a key, only if the key does not exist",
        "key value",
    ),
    CommandSpec::new("setex", 4, WRITE | DENYOOM, (1, 1, 1), setex, "string").doc(
        "2.0.0",
        "Set the value and expiration of a key",
        "key seconds value",
    ),
    CommandSpec::new("psetex", 4, WRITE | DENYOOM, (1, 1, 1), psetex, "string").doc(
        "2.6.0",
        "Set the value and expiration in milliseconds of a key",
        "key milliseconds value",
    ),
    CommandSpec::new("getset", 3, WRITE | DENYOOM | FAST, (1, 1, 1), getset, "string").doc(
        "1.0.0",
        "Set the string value of a key and return its old value",
        "key value",
    ),
    CommandSpec::new("getdel", 2, WRITE | FAST, (1, 1, 1), getdel, "string").doc(
        "6.2.0",
        "Get the value of a key and delete the key",
        "key",
    ),
    CommandSpec::new("getex", -2, WRITE | FAST, (1, 1, 1), getex, "string").doc(
        "6.2.0",
        "Get the value of a key and optionally set its expiration",
        "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]",
    ),
    CommandSpec::new("mget", -2, READONLY | FAST, (1, -1, 1), mget, "string").doc(
        "1.0.0",
        "Get the values of all the given keys",
        "key [key ...]",
    ),
    CommandSpec::new("mset", -3, WRITE | DENYOOM, (1, -1, 2), mset, "string").doc(
        "1.0.1",
        "Set multiple keys to multiple values",
        "key value [key value ...]",
    ),
    CommandSpec::new("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), msetnx, "string").doc(
        "1.0.1",
        "Set multiple keys to multiple values, only if none of the keys exist",
        "key value [key value ...]",
    ),
    CommandSpec::new("incr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), incr, "string").doc(
        "1.0.0",
        "Increment the integer value of a key by one",
        "key",
    ),
    CommandSpec::new("decr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), decr, "string").doc(
        "1.0.0",
        "Decrement the integer value of a key by one",
        "key",
    ),
    CommandSpec::new("incrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), incrby, "string").doc(
        "1.0.0",
        "Increment the integer value of a key by the given amount",
        "key increment",
    ),
    CommandSpec::new("decrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), decrby, "string").doc(
        "1.0.0",
        "Decrement the integer value of a key by the given number",
        "key decrement",
    ),
    CommandSpec::new(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        incrbyfloat,
        "string",
    )
    .doc(
        "2.6.0",
        "Increment the float value of a key by the given amount",
        "key increment",
    ),
    CommandSpec::new("append", 3, WRITE | DENYOOM | FAST, (1, 1, 1), append, "string").doc(
        "2.0.0",
        "Append a value to a key",
        "key value",
    ),
    CommandSpec::new("strlen", 2, READONLY | FAST, (1, 1, 1), strlen, "string").doc(
        "2.2.0",
        "Get the length of the value stored in a key",
        "key",
    ),
    CommandSpec::new("getrange", 4, READONLY, (1, 1, 1), getrange, "string").doc(
        "2.4.0",
        "Get a substring of the string stored at a key",
        "key start end",
    ),
    CommandSpec::new("substr", 4, READONLY, (1, 1, 1), getrange, "string").doc(
        "1.0.0",
        "Get a substring of the string stored at a key",
        "key start end",
    ),
    CommandSpec::new("setrange", 4, WRITE | DENYOOM, (1, 1, 1), setrange, "string").doc(
        "2.2.0",
        "Overwrite part of a string at key starting at the specified offset",
        "key offset value",
    ),
    CommandSpec::new("lcs", -3, READONLY, (1, 2, 1), lcs, "string").doc(
        "7.0.0",
        "Find longest common substring",
        "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]",
    ),
];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The largest string a command may build (APPEND, SETRANGE), and the bound
/// on LCS's transient table: `proto-max-bulk-len`, as in Redis 7.
#[inline]
fn max_string_len(srv: &Server) -> u64 {
    srv.config.proto_max_bulk_len
}

fn string_too_long() -> CmdError {
    CmdError::Static("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// A stored string value from owned-or-borrowed bytes.
#[inline]
fn str_value(b: &[u8]) -> Value {
    Value::Str(Sds::new(b))
}

/// Redis compares option words as C strings: an embedded NUL ends them.
#[inline]
fn cstr(b: &[u8]) -> &[u8] {
    match memchr::memchr(0, b) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// `getLongLongFromObjectOrReply` on an argument.
#[inline]
fn arg_i64(b: &[u8]) -> Result<i64, CmdError> {
    parse_i64(b).ok_or(CmdError::NotInteger)
}

// SET / GETEX option flags (t_string.c OBJ_*).
const OPT_NX: u32 = 1 << 0;
const OPT_XX: u32 = 1 << 1;
const OPT_EX: u32 = 1 << 2;
const OPT_PX: u32 = 1 << 3;
const OPT_KEEPTTL: u32 = 1 << 4;
const OPT_GET: u32 = 1 << 5;
const OPT_EXAT: u32 = 1 << 6;
const OPT_PXAT: u32 = 1 << 7;
const OPT_PERSIST: u32 = 1 << 8;

/// Parsed SET / GETEX options.
struct ExtArgs<'a> {
    flags: u32,
    /// The expiry argument, if EX/PX/EXAT/PXAT was given.
    expire: Option<&'a [u8]>,
    /// True for EX/EXAT (seconds), false for PX/PXAT.
    seconds: bool,
}

/// `parseExtendedStringArgumentsOrReply`: the same acceptance rules (an
/// option conflicting with an earlier one is a syntax error, a repeated
/// compatible one is accepted and the last expiry wins).
fn parse_ext_args<'a>(args: &Args<'a>, for_set: bool) -> Result<ExtArgs<'a>, CmdError> {
    let mut flags = 0u32;
    let mut expire = None;
    let mut seconds = true;
    let mut j = if for_set { 3 } else { 2 };
    let n = args.len();
    while j < n {
        let opt = cstr(args.get(j).unwrap_or(b""));
        let next = if j + 1 < n { args.get(j + 1) } else { None };
        let is = |w: &[u8]| opt.eq_ignore_ascii_case(w);
        if is(b"nx") && flags & OPT_XX == 0 && for_set {
            flags |= OPT_NX;
        } else if is(b"xx") && flags & OPT_NX == 0 && for_set {
            flags |= OPT_XX;
        } else if is(b"get") && for_set {
            flags |= OPT_GET;
        } else if is(b"keepttl")
            && flags & (OPT_PERSIST | OPT_EX | OPT_EXAT | OPT_PX | OPT_PXAT) == 0
            && for_set
        {
            flags |= OPT_KEEPTTL;
        } else if is(b"persist")
            && !for_set
            && flags & (OPT_EX | OPT_EXAT | OPT_PX | OPT_PXAT | OPT_KEEPTTL) == 0
        {
            flags |= OPT_PERSIST;
        } else if is(b"ex")
            && flags & (OPT_KEEPTTL | OPT_PERSIST | OPT_EXAT | OPT_PX | OPT_PXAT) == 0
            && next.is_some()
        {
            flags |= OPT_EX;
            expire = next;
            seconds = true;
            j += 1;
        } else if is(b"px")
            && flags & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_EXAT | OPT_PXAT) == 0
            && next.is_some()
        {
            flags |= OPT_PX;
            expire = next;
            seconds = false;
            j += 1;
        } else if is(b"exat")
            && flags & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_PX | OPT_PXAT) == 0
            && next.is_some()
        {
            flags |= OPT_EXAT;
            expire = next;
            seconds = true;
            j += 1;
        } else if is(b"pxat")
            && flags & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_EXAT | OPT_PX) == 0
            && next.is_some()
        {
            flags |= OPT_PXAT;
            expire = next;
            seconds = false;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(ExtArgs {
        flags,
        expire,
        seconds,
    })
}

/// `getExpireMillisecondsOrReply`: the absolute expiry in unix ms. Rejects
/// values <= 0, seconds that overflow when turned into ms, and relative
/// times that overflow when added to the command time.
fn expire_at(
    arg: &[u8],
    seconds: bool,
    relative: bool,
    now: u64,
    cmd: &'static str,
) -> Result<u64, CmdError> {
    let v = arg_i64(arg)?;
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(CmdError::InvalidExpire(cmd));
    }
    let mut ms = if seconds { v * 1000 } else { v };
    if relative {
        ms = match ms.checked_add(now as i64) {
            Some(m) if m > 0 => m,
            _ => return Err(CmdError::InvalidExpire(cmd)),
        };
    }
    Ok(ms as u64)
}

// ---------------------------------------------------------------------------
// GET / SET family
// ---------------------------------------------------------------------------

/// `getGenericCommand`: replies with the value or null; Err on wrong type.
/// Returns whether the key existed.
#[inline]
fn get_generic(srv: &mut Server, c: &mut Client, key: &[u8]) -> Result<bool, CmdError> {
    match srv.store.lookup_read(c.db, key) {
        None => {
            c.reply.null();
            Ok(false)
        }
        Some(Value::Str(s)) => {
            c.reply.bulk(s);
            Ok(true)
        }
        Some(_) => Err(CmdError::WrongType),
    }
}

fn get(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    get_generic(srv, c, &args[1]).map(|_| ())
}

/// How SET-like commands answer when they do / do not set.
#[derive(Clone, Copy)]
enum SetReplies {
    /// SET / SETEX / PSETEX: `+OK` or null.
    OkNull,
    /// SETNX: `:1` or `:0`.
    OneZero,
}

/// `setGenericCommand`.
fn set_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    ext: &ExtArgs,
    value: &[u8],
    cmd: &'static str,
    replies: SetReplies,
) -> CmdResult {
    let key = &args[1];
    let db = c.db;
    let expire = match ext.expire {
        Some(arg) => {
            let relative = ext.flags & (OPT_EX | OPT_PX) != 0;
            Some(expire_at(arg, ext.seconds, relative, srv.store.now(), cmd)?)
        }
        None => None,
    };
    let found = if ext.flags & OPT_GET != 0 {
        get_generic(srv, c, key)?
    } else if ext.flags & (OPT_NX | OPT_XX) != 0 {
        srv.store.contains(db, key)
    } else {
        false
    };
    if (ext.flags & OPT_NX != 0 && found) || (ext.flags & OPT_XX != 0 && !found) {
        // Nothing set (a lazy expiry on the way propagates its own DEL).
        srv.store.prop.rewrite_as(Vec::new());
        if ext.flags & OPT_GET == 0 {
            match replies {
                SetReplies::OkNull => c.reply.null(),
                SetReplies::OneZero => c.reply.int(0),
            }
        }
        return Ok(());
    }
    if ext.flags & OPT_KEEPTTL != 0 {
        srv.store.set_keep_ttl(db, key, str_value(value));
    } else {
        srv.store.set_with_expiry(db, key, str_value(value), expire);
    }
    if srv.store.prop.enabled {
        propagate_set(srv, args, ext, key, value, expire);
    }
    if ext.flags & OPT_GET == 0 {
        match replies {
            SetReplies::OkNull => c.reply.ok(),
            SetReplies::OneZero => c.reply.int(1),
        }
    }
    Ok(())
}

/// What the AOF gets for an executed SET-like command, as Redis 7 does it:
/// any expiry but SET's own PXAT becomes `SET key value PXAT <abs ms>`
/// (replay must not depend on when it happens), and SET's GET option is
/// dropped; otherwise the command goes as sent.
fn propagate_set(
    srv: &mut Server,
    args: &Args,
    ext: &ExtArgs,
    key: &[u8],
    value: &[u8],
    expire: Option<u64>,
) {
    let is_set = args[0].eq_ignore_ascii_case(b"set");
    if let Some(at) = expire
        && (ext.flags & OPT_PXAT == 0 || !is_set)
    {
        let mut buf = [0u8; 20];
        let at = fmt_i64(at as i64, &mut buf);
        srv.store
            .prop
            .rewrite_as_one([&b"SET"[..], key, value, b"PXAT", at]);
    } else if is_set && ext.flags & OPT_GET != 0 {
        let kept = args
            .iter()
            .enumerate()
            .filter(|&(j, a)| j < 3 || !cstr(a).eq_ignore_ascii_case(b"get"))
            .map(|(_, a)| a);
        srv.store
            .prop
            .rewrite_as(vec![crate::commands::OwnedArgs::from_slices(kept)]);
    }
}

fn set(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() == 3 {
        // The common case, straight to the store.
        srv.store.set(c.db, &args[1], str_value(&args[2]));
        c.reply.ok();
        return Ok(());
    }
    let ext = parse_ext_args(args, true)?;
    set_generic(srv, c, args, &ext, &args[2], "set", SetReplies::OkNull)
}

fn setnx(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let ext = ExtArgs {
        flags: OPT_NX,
        expire: None,
        seconds: true,
    };
    set_generic(srv, c, args, &ext, &args[2], "setnx", SetReplies::OneZero)
}

fn setex(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let ext = ExtArgs {
        flags: OPT_EX,
        expire: args.get(2),
        seconds: true,
    };
    set_generic(srv, c, args, &ext, &args[3], "setex", SetReplies::OkNull)
}

fn psetex(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let ext = ExtArgs {
        flags: OPT_PX,
        expire: args.get(2),
        seconds: false,
    };
    set_generic(srv, c, args, &ext, &args[3], "psetex", SetReplies::OkNull)
}

fn getset(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    get_generic(srv, c, &args[1])?;
    srv.store.set(c.db, &args[1], str_value(&args[2]));
    srv.store
        .prop
        .rewrite_as_one([&b"SET"[..], &args[1], &args[2]]);
    Ok(())
}

fn getdel(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if get_generic(srv, c, &args[1])? {
        srv.store.delete(c.db, &args[1]);
        srv.store.prop.rewrite_as_one([&b"DEL"[..], &args[1]]);
    }
    Ok(())
}

fn getex(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let ext = parse_ext_args(args, false)?;
    let key = &args[1];
    let db = c.db;
    let now = srv.store.now();
    let expire = match srv.store.lookup_read(db, key) {
        None => {
            c.reply.null();
            return Ok(());
        }
        Some(Value::Str(s)) => {
            // Validated after the lookup, as Redis does: a missing key
            // answers null even with an invalid expiry.
            let expire = match ext.expire {
                Some(arg) => {
                    let relative = ext.flags & (OPT_EX | OPT_PX) != 0;
                    Some(expire_at(arg, ext.seconds, relative, now, "getex")?)
                }
                None => None,
            };
            c.reply.bulk(s);
            expire
        }
        Some(_) => return Err(CmdError::WrongType),
    };
    if let Some(at) = expire {
        // An absolute time already past deletes the key.
        srv.store.set_expiry(db, key, Some(at));
        if at <= now {
            srv.store.prop.rewrite_as_one([&b"DEL"[..], key]);
        } else if srv.store.prop.enabled {
            let mut buf = [0u8; 20];
            let at = fmt_i64(at as i64, &mut buf);
            srv.store.prop.rewrite_as_one([&b"PEXPIREAT"[..], key, at]);
        }
    } else if ext.flags & OPT_PERSIST != 0 && srv.store.expiry(db, key).is_some() {
        srv.store.set_expiry(db, key, None);
        srv.store.prop.rewrite_as_one([&b"PERSIST"[..], key]);
    }
    Ok(())
}

fn mget(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    c.reply.array(args.len() - 1);
    for key in args.iter().skip(1) {
        match srv.store.lookup_read(c.db, key) {
            Some(Value::Str(s)) => c.reply.bulk(s),
            _ => c.reply.null(),
        }
    }
    Ok(())
}

fn mset_generic(srv: &mut Server, c: &mut Client, args: &Args, nx: bool) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(if nx { "msetnx" } else { "mset" }));
    }
    let db = c.db;
    if nx {
        let mut i = 1;
        while i < args.len() {
            if srv.store.contains(db, &args[i]) {
                c.reply.int(0);
                return Ok(());
            }
            i += 2;
        }
    }
    let mut i = 1;
    while i + 1 < args.len() {
        srv.store.set(db, &args[i], str_value(&args[i + 1]));
        i += 2;
    }
    if nx {
        c.reply.int(1);
    } else {
        c.reply.ok();
    }
    Ok(())
}

fn mset(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    mset_generic(srv, c, args, false)
}

fn msetnx(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    mset_generic(srv, c, args, true)
}

// ---------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------

/// `incrDecrCommand`, with one key lookup (`Store::update_keep_ttl`): a
/// failed INCR (wrong type, not an integer, overflow) changes nothing; the
/// new value is formatted on the stack and stored inline, keeping the TTL.
#[inline]
fn incr_decr(srv: &mut Server, c: &mut Client, key: &[u8], delta: i64) -> CmdResult {
    let mut buf = [0u8; 20];
    let mut start = buf.len();
    srv.store.update_keep_ttl(c.db, key, |v| {
        let old = match v {
            None => 0,
            Some(Value::Str(s)) => parse_i64(s).ok_or(CmdError::NotInteger)?,
            Some(_) => return Err(CmdError::WrongType),
        };
        let new = old.checked_add(delta).ok_or(CmdError::Overflow)?;
        let digits = fmt_i64(new, &mut buf);
        start = 20 - digits.len();
        Ok(str_value(digits))
    })?;
    // `fmt_i64` writes the digits at the end of `buf`.
    c.reply.int_digits(&buf[start..]);
    Ok(())
}

fn incr(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    incr_decr(srv, c, &args[1], 1)
}

fn decr(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    incr_decr(srv, c, &args[1], -1)
}

fn incrby(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let by = arg_i64(&args[2])?;
    incr_decr(srv, c, &args[1], by)
}

fn decrby(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let by = arg_i64(&args[2])?;
    if by == i64::MIN {
        return Err(CmdError::Static("ERR decrement would overflow"));
    }
    incr_decr(srv, c, &args[1], -by)
}

fn incrbyfloat(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let key = &args[1];
    let db = c.db;
    let old = match srv.store.get(db, key) {
        None => Ld::ZERO,
        Some(Value::Str(s)) => Ld::parse(s).ok_or(CmdError::NotFloat)?,
        Some(_) => return Err(CmdError::WrongType),
    };
    let by = Ld::parse(&args[2]).ok_or(CmdError::NotFloat)?;
    // Redis adds in long double and refuses an infinite or NaN result
    // (an infinite operand gives one).
    let sum = old + by;
    if old.is_inf() || by.is_inf() || sum.is_inf() {
        return Err(CmdError::Static(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    let text = sum.to_human().into_bytes();
    c.reply.bulk(&text);
    // Replayed as the exact resulting value, never as an increment.
    srv.store
        .prop
        .rewrite_as_one([&b"SET"[..], key, &text, b"KEEPTTL"]);
    // createStringObject: embstr even when the digits read as an integer.
    let mut s = Sds::from_vec(text);
    s.mark(StrEnc::Embstr);
    srv.store.set_keep_ttl(db, key, Value::Str(s));
    Ok(())
}

// ---------------------------------------------------------------------------
// Ranges and lengths
// ---------------------------------------------------------------------------

fn append(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let key = &args[1];
    let tail = &args[2];
    let db = c.db;
    let total = match srv.store.get(db, key) {
        None => {
            srv.store.set(db, key, str_value(tail));
            c.reply.int(tail.len() as i64);
            return Ok(());
        }
        Some(Value::Str(s)) => s.len() as u64 + tail.len() as u64,
        Some(_) => return Err(CmdError::WrongType),
    };
    if total > max_string_len(srv) {
        return Err(string_too_long());
    }
    if let Ok(Some(Value::Str(s))) = srv.store.get_mut(db, key, Kind::String) {
        if total as usize <= 32 && s.is_inline() {
            // Short results stay inline (or exactly sized: cheaper than
            // Redis's doubling of an unshared copy, 112 bytes for 30).
            let mut buf = [0u8; 32];
            let old = s.len();
            buf[..old].copy_from_slice(s);
            buf[old..total as usize].copy_from_slice(tail);
            *s = Sds::new(&buf[..total as usize]);
        } else {
            s.extend_from_slice(tail);
        }
        // dbUnshareStringValue: raw however short or numeric.
        s.mark_raw();
    }
    c.reply.int(total as i64);
    Ok(())
}

fn strlen(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    match srv.store.lookup_read(c.db, &args[1]) {
        None => c.reply.int(0),
        Some(Value::Str(s)) => c.reply.int(s.len() as i64),
        Some(_) => return Err(CmdError::WrongType),
    }
    Ok(())
}

fn getrange(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut start = arg_i64(&args[2])?;
    let mut end = arg_i64(&args[3])?;
    let s = match srv.store.lookup_read(c.db, &args[1]) {
        None => {
            c.reply.bulk(b"");
            return Ok(());
        }
        Some(Value::Str(s)) => s,
        Some(_) => return Err(CmdError::WrongType),
    };
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        c.reply.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        c.reply.bulk(b"");
    } else {
        c.reply.bulk(&s[start as usize..=end as usize]);
    }
    Ok(())
}

fn setrange(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let key = &args[1];
    let value = &args[3];
    let offset = arg_i64(&args[2])?;
    if offset < 0 {
        return Err(CmdError::Static("ERR offset is out of range"));
    }
    let db = c.db;
    let need = offset as u64 + value.len() as u64;
    match srv.store.get(db, key) {
        None => {
            if value.is_empty() {
                c.reply.int(0);
                return Ok(());
            }
            if need > max_string_len(srv) {
                return Err(string_too_long());
            }
            let mut v = vec![0u8; need as usize];
            v[offset as usize..].copy_from_slice(value);
            // createObject(OBJ_STRING, ...): raw.
            srv.store.set(db, key, Value::Str(Sds::raw_from_vec(v)));
            c.reply.int(need as i64);
            return Ok(());
        }
        Some(Value::Str(s)) => {
            if value.is_empty() {
                c.reply.int(s.len() as i64);
                return Ok(());
            }
        }
        Some(_) => return Err(CmdError::WrongType),
    }
    if need > max_string_len(srv) {
        return Err(string_too_long());
    }
    let mut total = 0;
    if let Ok(Some(Value::Str(s))) = srv.store.get_mut(db, key, Kind::String) {
        let need = need as usize;
        if need <= s.len() {
            s.bytes_mut()[offset as usize..need].copy_from_slice(value);
        } else if need <= INLINE_CAP && s.is_inline() {
            // Short results stay inline.
            let mut buf = [0u8; INLINE_CAP];
            buf[..s.len()].copy_from_slice(s);
            buf[offset as usize..need].copy_from_slice(value);
            *s = Sds::new(&buf[..need]);
        } else {
            let mut v = s.make_vec();
            let more = need - v.len();
            crate::store::bytes::reserve_greedy(&mut v, more);
            v.resize(need, 0);
            v[offset as usize..need].copy_from_slice(value);
        }
        // dbUnshareStringValue: raw however short or numeric.
        s.mark_raw();
        total = s.len();
    }
    c.reply.int(total as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// LCS
// ---------------------------------------------------------------------------

/// One matched range of LCS IDX: (a_start, a_end, b_start, b_end, len).
type LcsMatch = (u32, u32, u32, u32, u32);

fn lcs(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let db = c.db;
    let max_len = max_string_len(srv);
    let not_strings = || CmdError::Static("ERR The specified keys must contain string values");
    let a: Vec<u8> = match srv.store.lookup_read(db, &args[1]) {
        None => Vec::new(),
        Some(Value::Str(s)) => s.to_vec(),
        Some(_) => {
            // Redis looks up both keys before complaining.
            let _ = srv.store.lookup_read(db, &args[2]);
            return Err(not_strings());
        }
    };
    let b: &[u8] = match srv.store.lookup_read(db, &args[2]) {
        None => b"",
        Some(Value::Str(s)) => s,
        Some(_) => return Err(not_strings()),
    };

    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = cstr(&args[j]);
        let more = args.len() - 1 - j;
        if opt.eq_ignore_ascii_case(b"idx") {
            getidx = true;
        } else if opt.eq_ignore_ascii_case(b"len") {
            getlen = true;
        } else if opt.eq_ignore_ascii_case(b"withmatchlen") {
            withmatchlen = true;
        } else if opt.eq_ignore_ascii_case(b"minmatchlen") && more > 0 {
            minmatchlen = arg_i64(&args[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if getlen && getidx {
        return Err(CmdError::Static(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(CmdError::Static("ERR String too long for LCS"));
    }
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    if cells.saturating_mul(4) > max_len {
        return Err(CmdError::Static(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let alloc_failed =
        || CmdError::Static("ERR Insufficient memory, failed allocating transient memory for LCS");

    if getlen {
        // Only the length: two rows of the table are enough.
        let mut prev: Vec<u32> = Vec::new();
        let mut cur: Vec<u32> = Vec::new();
        if prev.try_reserve_exact(b.len() + 1).is_err()
            || cur.try_reserve_exact(b.len() + 1).is_err()
        {
            return Err(alloc_failed());
        }
        prev.resize(b.len() + 1, 0);
        cur.resize(b.len() + 1, 0);
        for &ca in &a {
            for (jj, &cb) in b.iter().enumerate() {
                cur[jj + 1] = if ca == cb {
                    prev[jj] + 1
                } else {
                    prev[jj + 1].max(cur[jj])
                };
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        c.reply.int(prev[b.len()] as i64);
        return Ok(());
    }

    // The full table, LCS(i,j) at j + (blen+1)*i, as Redis builds it.
    let alen = a.len();
    let blen = b.len();
    let mut table: Vec<u32> = Vec::new();
    if table.try_reserve_exact(cells as usize).is_err() {
        return Err(alloc_failed());
    }
    table.resize(cells as usize, 0);
    let w = blen + 1;
    for i in 1..=alen {
        for jj in 1..=blen {
            table[jj + w * i] = if a[i - 1] == b[jj - 1] {
                table[(jj - 1) + w * (i - 1)] + 1
            } else {
                table[jj + w * (i - 1)].max(table[(jj - 1) + w * i])
            };
        }
    }

    // Walk back from the end, building the LCS string and the ranges.
    let mut idx = table[blen + w * alen] as usize;
    let total_len = idx;
    let mut result = vec![0u8; idx];
    let mut matches: Vec<LcsMatch> = Vec::new();
    let alen32 = alen as u32;
    let (mut ar_start, mut ar_end, mut br_start, mut br_end) = (alen32, 0u32, 0u32, 0u32);
    let (mut i, mut jj) = (alen, blen);
    while i > 0 && jj > 0 {
        let mut emit = false;
        if a[i - 1] == b[jj - 1] {
            result[idx - 1] = a[i - 1];
            if ar_start == alen32 {
                ar_start = (i - 1) as u32;
                ar_end = (i - 1) as u32;
                br_start = (jj - 1) as u32;
                br_end = (jj - 1) as u32;
            } else if ar_start as usize == i && br_start as usize == jj {
                ar_start -= 1;
                br_start -= 1;
            } else {
                emit = true;
            }
            if ar_start == 0 || br_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            jj -= 1;
        } else {
            let lcs1 = table[jj + w * (i - 1)];
            let lcs2 = table[(jj - 1) + w * i];
            if lcs1 > lcs2 {
                i -= 1;
            } else {
                jj -= 1;
            }
            if ar_start != alen32 {
                emit = true;
            }
        }
        let match_len = ar_end.wrapping_sub(ar_start).wrapping_add(1);
        if emit {
            if (minmatchlen == 0 || match_len as i64 >= minmatchlen) && getidx {
                matches.push((ar_start, ar_end, br_start, br_end, match_len));
            }
            ar_start = alen32;
        }
    }
    drop(table);

    if getidx {
        c.reply.map(2);
        c.reply.bulk(b"matches");
        c.reply.array(matches.len());
        for &(a0, a1, b0, b1, ml) in &matches {
            c.reply.array(if withmatchlen { 3 } else { 2 });
            c.reply.array(2);
            c.reply.int(a0 as i64);
            c.reply.int(a1 as i64);
            c.reply.array(2);
            c.reply.int(b0 as i64);
            c.reply.int(b1 as i64);
            if withmatchlen {
                c.reply.int(ml as i64);
            }
        }
        c.reply.bulk(b"len");
        c.reply.int(total_len as i64);
    } else {
        c.reply.bulk(&result);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 80-bit extended precision ("long double") for INCRBYFLOAT
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_string_options() {
        assert_eq!(cstr(b"nx\0zz"), b"nx");
        assert_eq!(cstr(b"nx"), b"nx");
    }
}
