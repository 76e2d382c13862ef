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
use crate::number::parse_i64;
use crate::server::{Client, Server};
use crate::store::{Kind, Sds, Value};

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

/// Formats `n` in decimal into `buf`, returning the digits (no allocation).
#[inline]
fn fmt_i64(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut pos = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
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
    if ext.flags & OPT_GET == 0 {
        match replies {
            SetReplies::OkNull => c.reply.ok(),
            SetReplies::OneZero => c.reply.int(1),
        }
    }
    Ok(())
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
    Ok(())
}

fn getdel(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if get_generic(srv, c, &args[1])? {
        srv.store.remove(c.db, &args[1]);
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
    } else if ext.flags & OPT_PERSIST != 0 && srv.store.expiry(db, key).is_some() {
        srv.store.set_expiry(db, key, None);
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

/// `incrDecrCommand`: reads without touching the store, so a failed INCR
/// (wrong type, not an integer, overflow) changes nothing; the new value is
/// formatted on the stack and stored inline, keeping the TTL.
#[inline]
fn incr_decr(srv: &mut Server, c: &mut Client, key: &[u8], delta: i64) -> CmdResult {
    let db = c.db;
    let old = match srv.store.get(db, key) {
        None => 0,
        Some(Value::Str(s)) => parse_i64(s).ok_or(CmdError::NotInteger)?,
        Some(_) => return Err(CmdError::WrongType),
    };
    let new = old.checked_add(delta).ok_or(CmdError::Overflow)?;
    let mut buf = [0u8; 20];
    srv.store
        .set_keep_ttl(db, key, str_value(fmt_i64(new, &mut buf)));
    c.reply.int(new);
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
        None => ld::Num::Finite(ld::F80::ZERO),
        Some(Value::Str(s)) => ld::parse(s).ok_or(CmdError::NotFloat)?,
        Some(_) => return Err(CmdError::WrongType),
    };
    let by = ld::parse(&args[2]).ok_or(CmdError::NotFloat)?;
    let nan_or_inf = || CmdError::Static("ERR increment would produce NaN or Infinity");
    let (ld::Num::Finite(a), ld::Num::Finite(b)) = (old, by) else {
        return Err(nan_or_inf());
    };
    let sum = ld::add(a, b).ok_or_else(nan_or_inf)?;
    let text = ld::format_human(sum);
    c.reply.bulk(&text);
    srv.store
        .set_keep_ttl(db, key, Value::Str(Sds::from_vec(text)));
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
            // Short results stay inline.
            let mut buf = [0u8; 32];
            let old = s.len();
            buf[..old].copy_from_slice(s);
            buf[old..total as usize].copy_from_slice(tail);
            *s = Sds::new(&buf[..total as usize]);
        } else {
            s.make_vec().extend_from_slice(tail);
        }
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
            srv.store.set(db, key, Value::Str(Sds::from_vec(v)));
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
        let v = s.make_vec();
        let need = need as usize;
        if v.len() < need {
            v.resize(need, 0);
        }
        v[offset as usize..need].copy_from_slice(value);
        total = v.len();
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

/// Software x87 extended precision: 64-bit significand, exponent range of
/// the 80-bit format (with subnormals), round-to-nearest-even everywhere.
/// Covers exactly what INCRBYFLOAT needs: `strtold`, one addition, and
/// printf `%.17Lf` followed by Redis's trimming (ld2string LD_STR_HUMAN).
/// A cold path, so a tiny bignum keeps it obviously exact.
pub(crate) mod ld {
    use std::cmp::Ordering;

    /// Lowest exponent of the least significant bit (the smallest
    /// subnormal is 2^-16445).
    const MIN_LSB: i64 = -16445;
    /// Every finite value is below 2^16384.
    const MAX_EXP: i64 = 16384;
    /// `MAX_LONG_DOUBLE_CHARS`: longer inputs are not valid floats.
    const MAX_CHARS: usize = 5 * 1024;

    /// A finite value: (-1)^neg * mant * 2^exp.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct F80 {
        pub neg: bool,
        pub mant: u64,
        pub exp: i64,
    }

    impl F80 {
        pub const ZERO: F80 = F80 {
            neg: false,
            mant: 0,
            exp: 0,
        };
    }

    /// A parsed number: finite, or an infinity (NaN is never accepted).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Num {
        Finite(F80),
        Inf,
    }

    /// Unsigned bignum, little-endian 32-bit limbs, no high zero limbs.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    struct Big(Vec<u32>);

    impl Big {
        fn from_u128(v: u128) -> Big {
            let mut b = Big(vec![
                v as u32,
                (v >> 32) as u32,
                (v >> 64) as u32,
                (v >> 96) as u32,
            ]);
            b.trim();
            b
        }

        fn trim(&mut self) {
            while self.0.last() == Some(&0) {
                self.0.pop();
            }
        }

        fn is_zero(&self) -> bool {
            self.0.is_empty()
        }

        fn bitlen(&self) -> u64 {
            match self.0.last() {
                None => 0,
                Some(&top) => (self.0.len() as u64 - 1) * 32 + (32 - top.leading_zeros() as u64),
            }
        }

        fn mul_small(&mut self, m: u32) {
            let mut carry = 0u64;
            for l in &mut self.0 {
                let v = *l as u64 * m as u64 + carry;
                *l = v as u32;
                carry = v >> 32;
            }
            if carry != 0 {
                self.0.push(carry as u32);
            }
            self.trim();
        }

        fn add_small(&mut self, a: u32) {
            let mut carry = a as u64;
            for l in &mut self.0 {
                if carry == 0 {
                    break;
                }
                let v = *l as u64 + carry;
                *l = v as u32;
                carry = v >> 32;
            }
            if carry != 0 {
                self.0.push(carry as u32);
            }
        }

        fn mul_pow10(&mut self, mut k: u64) {
            while k >= 9 {
                self.mul_small(1_000_000_000);
                k -= 9;
            }
            if k > 0 {
                self.mul_small(10u32.pow(k as u32));
            }
        }

        fn shl(&self, bits: u64) -> Big {
            if self.is_zero() {
                return Big::default();
            }
            let limbs = (bits / 32) as usize;
            let b = (bits % 32) as u32;
            let mut out = vec![0u32; limbs];
            out.reserve(self.0.len() + 1);
            if b == 0 {
                out.extend_from_slice(&self.0);
            } else {
                let mut carry = 0u32;
                for &l in &self.0 {
                    out.push((l << b) | carry);
                    carry = l >> (32 - b);
                }
                if carry != 0 {
                    out.push(carry);
                }
            }
            Big(out)
        }

        fn shr(&self, bits: u64) -> Big {
            let limbs = (bits / 32) as usize;
            if limbs >= self.0.len() {
                return Big::default();
            }
            let b = (bits % 32) as u32;
            let src = &self.0[limbs..];
            let mut out = Vec::with_capacity(src.len());
            for i in 0..src.len() {
                let lo = src[i] >> b;
                let hi = if b == 0 {
                    0
                } else {
                    src.get(i + 1).map_or(0, |&n| n << (32 - b))
                };
                out.push(lo | hi);
            }
            let mut r = Big(out);
            r.trim();
            r
        }

        fn bit(&self, i: u64) -> bool {
            let limb = (i / 32) as usize;
            limb < self.0.len() && (self.0[limb] >> (i % 32)) & 1 == 1
        }

        /// True if any bit below position `i` is set.
        fn any_below(&self, i: u64) -> bool {
            let full = ((i / 32) as usize).min(self.0.len());
            if self.0[..full].iter().any(|&l| l != 0) {
                return true;
            }
            let rem = i % 32;
            rem > 0 && full < self.0.len() && self.0[full] & ((1u32 << rem) - 1) != 0
        }

        /// The low 128 bits.
        fn low_u128(&self) -> u128 {
            self.0
                .iter()
                .take(4)
                .enumerate()
                .fold(0u128, |acc, (i, &l)| acc | (l as u128) << (32 * i))
        }

        fn cmp_big(&self, o: &Big) -> Ordering {
            self.0
                .len()
                .cmp(&o.0.len())
                .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
        }

        /// self -= o; requires self >= o.
        fn sub_assign(&mut self, o: &Big) {
            let mut borrow = 0i64;
            for i in 0..self.0.len() {
                let v = self.0[i] as i64 - o.0.get(i).copied().unwrap_or(0) as i64 - borrow;
                if v < 0 {
                    self.0[i] = (v + (1i64 << 32)) as u32;
                    borrow = 1;
                } else {
                    self.0[i] = v as u32;
                    borrow = 0;
                }
            }
            self.trim();
        }

        fn add(&self, o: &Big) -> Big {
            let n = self.0.len().max(o.0.len());
            let mut out = Vec::with_capacity(n + 1);
            let mut carry = 0u64;
            for i in 0..n {
                let v = self.0.get(i).copied().unwrap_or(0) as u64
                    + o.0.get(i).copied().unwrap_or(0) as u64
                    + carry;
                out.push(v as u32);
                carry = v >> 32;
            }
            if carry != 0 {
                out.push(carry as u32);
            }
            let mut r = Big(out);
            r.trim();
            r
        }

        /// Divides in place, returning the remainder.
        fn divmod_small(&mut self, d: u32) -> u32 {
            let mut rem = 0u64;
            for l in self.0.iter_mut().rev() {
                let cur = (rem << 32) | *l as u64;
                *l = (cur / d as u64) as u32;
                rem = cur % d as u64;
            }
            self.trim();
            rem as u32
        }

        fn to_decimal(&self) -> Vec<u8> {
            if self.is_zero() {
                return b"0".to_vec();
            }
            let mut n = self.clone();
            let mut chunks = Vec::new();
            while !n.is_zero() {
                chunks.push(n.divmod_small(1_000_000_000));
            }
            let mut out = Vec::with_capacity(chunks.len() * 9);
            for (i, ch) in chunks.iter().rev().enumerate() {
                let s = ch.to_string();
                if i > 0 {
                    out.extend(std::iter::repeat_n(b'0', 9 - s.len()));
                }
                out.extend_from_slice(s.as_bytes());
            }
            out
        }

        /// (floor(self / d), self % d != 0) when the quotient fits 128 bits.
        fn div_sticky(&self, d: &Big) -> (u128, bool) {
            let (nl, dl) = (self.bitlen(), d.bitlen());
            if nl < dl {
                return (0, !self.is_zero());
            }
            let mut rem = self.clone();
            let mut q = 0u128;
            for i in (0..=(nl - dl)).rev() {
                let t = d.shl(i);
                if rem.cmp_big(&t) != Ordering::Less {
                    rem.sub_assign(&t);
                    q |= 1u128 << i;
                }
            }
            (q, !rem.is_zero())
        }
    }

    /// Rounds the exact value n * 2^e2 (plus a little more if `sticky`) to
    /// the nearest representable value, ties to even. None on overflow.
    fn round(neg: bool, n: &Big, e2: i64, sticky: bool) -> Option<F80> {
        let l = n.bitlen() as i64;
        if l == 0 {
            return Some(F80 {
                neg,
                mant: 0,
                exp: 0,
            });
        }
        let mut lsb = (e2 + l - 64).max(MIN_LSB);
        let shift = lsb - e2;
        let mut q: u128;
        if shift <= 0 {
            // Exact (at most 64 significant bits, in range).
            q = n.low_u128();
            lsb = e2;
        } else {
            let sh = shift as u64;
            q = if sh >= l as u64 {
                0
            } else {
                n.shr(sh).low_u128()
            };
            let half = n.bit(sh - 1);
            let rest = sticky || (sh >= 2 && n.any_below(sh - 1));
            if half && (rest || q & 1 == 1) {
                q += 1;
            }
            if q == 1u128 << 64 {
                q >>= 1;
                lsb += 1;
            }
        }
        if q != 0 && lsb + (128 - q.leading_zeros() as i64) > MAX_EXP {
            return None;
        }
        Some(F80 {
            neg,
            mant: q as u64,
            exp: lsb,
        })
    }

    fn is_c_space(b: u8) -> bool {
        matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
    }

    /// Redis's `string2ld`: `strtold` over the whole string, no leading
    /// space, no NaN, overflow and underflow to zero rejected.
    pub fn parse(s: &[u8]) -> Option<Num> {
        if s.is_empty() || s.len() >= MAX_CHARS || is_c_space(s[0]) {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Num::Inf);
        }
        let v = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            parse_hex(neg, &body[2..])?
        } else {
            parse_dec(neg, body)?
        };
        Some(Num::Finite(v))
    }

    /// Reads `[+-]digits` as a saturated exponent; None if malformed.
    fn parse_exp(s: &[u8]) -> Option<i64> {
        let (neg, d) = match s.first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut v: i64 = 0;
        for &c in d {
            v = (v * 10 + (c - b'0') as i64).min(1 << 40);
        }
        Some(if neg { -v } else { v })
    }

    fn parse_dec(neg: bool, s: &[u8]) -> Option<F80> {
        let mut d = Big::default();
        let mut ndigits: i64 = 0; // significant digits in d
        let mut frac: i64 = 0; // digits after the point
        let mut seen_digit = false;
        let mut seen_point = false;
        let mut i = 0;
        while i < s.len() {
            let c = s[i];
            if c.is_ascii_digit() {
                seen_digit = true;
                if seen_point {
                    frac += 1;
                }
                if ndigits > 0 || c != b'0' {
                    d.mul_small(10);
                    d.add_small((c - b'0') as u32);
                    ndigits += 1;
                }
            } else if c == b'.' && !seen_point {
                seen_point = true;
            } else {
                break;
            }
            i += 1;
        }
        if !seen_digit {
            return None;
        }
        let mut exp10 = 0i64;
        if i < s.len() {
            if s[i] | 0x20 != b'e' {
                return None;
            }
            exp10 = parse_exp(&s[i + 1..])?;
        }
        if d.is_zero() {
            return Some(F80 {
                neg,
                mant: 0,
                exp: 0,
            });
        }
        let k = exp10 - frac;
        // Clearly out of range: overflow, or below half the smallest
        // subnormal (rounds to zero: ERANGE, rejected).
        if ndigits - 1 + k >= 4933 || ndigits + k <= -4952 {
            return None;
        }
        let r = if k >= 0 {
            d.mul_pow10(k as u64);
            round(neg, &d, 0, false)
        } else {
            let mut m = Big::from_u128(1);
            m.mul_pow10((-k) as u64);
            // Scale so the quotient has 66 bits, plus a sticky remainder.
            let s = m.bitlen() as i64 - d.bitlen() as i64 + 66;
            let (q, sticky) = if s >= 0 {
                d.shl(s as u64).div_sticky(&m)
            } else {
                d.div_sticky(&m.shl((-s) as u64))
            };
            round(neg, &Big::from_u128(q), -s, sticky)
        }?;
        if r.mant == 0 { None } else { Some(r) }
    }

    fn parse_hex(neg: bool, s: &[u8]) -> Option<F80> {
        let mut h = Big::default();
        let mut frac: i64 = 0;
        let mut seen_digit = false;
        let mut seen_point = false;
        let mut lead = true;
        let mut i = 0;
        while i < s.len() {
            let c = s[i];
            if let Some(v) = (c as char).to_digit(16) {
                seen_digit = true;
                if seen_point {
                    frac += 1;
                }
                // Leading zeros are skipped; after the point they still
                // count in `frac`.
                if !(lead && v == 0) {
                    lead = false;
                    h.mul_small(16);
                    h.add_small(v);
                }
            } else if c == b'.' && !seen_point {
                seen_point = true;
            } else {
                break;
            }
            i += 1;
        }
        if !seen_digit {
            return None;
        }
        let mut exp2 = 0i64;
        if i < s.len() {
            if s[i] | 0x20 != b'p' {
                return None;
            }
            exp2 = parse_exp(&s[i + 1..])?;
        }
        if h.is_zero() {
            return Some(F80 {
                neg,
                mant: 0,
                exp: 0,
            });
        }
        let e2 = exp2 - 4 * frac;
        if h.bitlen() as i64 + e2 > MAX_EXP {
            return None;
        }
        let r = round(neg, &h, e2, false)?;
        if r.mant == 0 { None } else { Some(r) }
    }

    /// a + b rounded to nearest even; None if it overflows to infinity.
    pub fn add(a: F80, b: F80) -> Option<F80> {
        if a.mant == 0 && b.mant == 0 {
            return Some(F80 {
                neg: a.neg && b.neg,
                mant: 0,
                exp: 0,
            });
        }
        if a.mant == 0 {
            return Some(b);
        }
        if b.mant == 0 {
            return Some(a);
        }
        let top = |x: &F80| x.exp + (64 - x.mant.leading_zeros() as i64);
        // Far apart: the smaller is below a quarter ulp of the larger,
        // which is exact already, so the sum rounds to the larger.
        if top(&a) - top(&b) > 130 {
            return Some(a);
        }
        if top(&b) - top(&a) > 130 {
            return Some(b);
        }
        let e = a.exp.min(b.exp);
        let ba = Big::from_u128(a.mant as u128).shl((a.exp - e) as u64);
        let bb = Big::from_u128(b.mant as u128).shl((b.exp - e) as u64);
        if a.neg == b.neg {
            return round(a.neg, &ba.add(&bb), e, false);
        }
        match ba.cmp_big(&bb) {
            Ordering::Equal => Some(F80::ZERO),
            Ordering::Greater => {
                let mut d = ba;
                d.sub_assign(&bb);
                round(a.neg, &d, e, false)
            }
            Ordering::Less => {
                let mut d = bb;
                d.sub_assign(&ba);
                round(b.neg, &d, e, false)
            }
        }
    }

    /// printf("%.17Lf") then Redis's LD_STR_HUMAN trimming: trailing zeros
    /// after the point and a bare point removed, "-0" becomes "0".
    pub fn format_human(v: F80) -> Vec<u8> {
        // q = round(|v| * 10^17), ties to even.
        let q = if v.exp >= 0 {
            let mut n = Big::from_u128(v.mant as u128).shl(v.exp as u64);
            n.mul_pow10(17);
            n
        } else {
            let mut n = Big::from_u128(v.mant as u128);
            n.mul_pow10(17);
            let t = (-v.exp) as u64;
            if t > n.bitlen() + 1 {
                Big::default()
            } else {
                let mut q = n.shr(t);
                let half = n.bit(t - 1);
                let rest = t >= 2 && n.any_below(t - 1);
                if half && (rest || q.bit(0)) {
                    q.add_small(1);
                }
                q
            }
        };
        let digits = q.to_decimal();
        let mut out = Vec::with_capacity(digits.len() + 3);
        if v.neg {
            out.push(b'-');
        }
        if digits.len() <= 17 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', 17 - digits.len()));
            out.extend_from_slice(&digits);
        } else {
            let (int, fr) = digits.split_at(digits.len() - 17);
            out.extend_from_slice(int);
            out.push(b'.');
            out.extend_from_slice(fr);
        }
        while out.last() == Some(&b'0') {
            out.pop();
        }
        if out.last() == Some(&b'.') {
            out.pop();
        }
        if out == b"-0" {
            out = b"0".to_vec();
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn incr(a: &str, b: &str) -> Option<String> {
            let (Num::Finite(x), Num::Finite(y)) = (parse(a.as_bytes())?, parse(b.as_bytes())?)
            else {
                return None;
            };
            add(x, y).map(|r| String::from_utf8(format_human(r)).unwrap())
        }

        #[test]
        fn like_redis_long_double() {
            assert_eq!(incr("10.5", "0.1").unwrap(), "10.6");
            assert_eq!(incr("0.2", "0.1").unwrap(), "0.3");
            assert_eq!(incr("0", "3.0e3").unwrap(), "3000");
            assert_eq!(incr("3000", "5.0e3").unwrap(), "8000");
            assert_eq!(incr("0", "0x10").unwrap(), "16");
            assert_eq!(incr("0", "-0").unwrap(), "0");
            assert_eq!(incr("-0", "-0").unwrap(), "0");
            assert_eq!(incr("1", "-1").unwrap(), "0");
            assert_eq!(incr("0", "1e-4940").unwrap(), "0");
            assert_eq!(incr("0", "-1.5").unwrap(), "-1.5");
            assert_eq!(incr("5", "-1e-20").unwrap(), "5");
            assert_eq!(
                incr("0", "1e400").unwrap(),
                "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880"
            );
            assert!(parse(b"1e-5000").is_none());
            assert!(parse(b"1e5000").is_none());
            assert_eq!(parse(b"inf"), Some(Num::Inf));
            assert!(parse(b"nan").is_none());
            assert!(parse(b" 1").is_none());
            assert!(parse(b"1 ").is_none());
            assert!(parse(b"1e").is_none());
            assert!(parse(b"0x").is_none());
            assert!(parse(b".").is_none());
            assert_eq!(incr("0", ".5").unwrap(), "0.5");
            assert_eq!(incr("0", "5.").unwrap(), "5");
            assert_eq!(incr("0", "0x1.8p1").unwrap(), "3");
            assert_eq!(
                incr("0", "1.18973149535723176502e+4932").map(|s| s.len()),
                Some(4933)
            );
            assert!(
                incr(
                    "1.18973149535723176502e+4932",
                    "1.18973149535723176502e+4932"
                )
                .is_none()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn itoa_on_stack() {
        let mut b = [0u8; 20];
        assert_eq!(fmt_i64(0, &mut b), b"0");
        assert_eq!(fmt_i64(-42, &mut b), b"-42");
        assert_eq!(fmt_i64(i64::MIN, &mut b), b"-9223372036854775808");
        assert_eq!(fmt_i64(i64::MAX, &mut b), b"9223372036854775807");
    }

    #[test]
    fn c_string_options() {
        assert_eq!(cstr(b"nx\0zz"), b"nx");
        assert_eq!(cstr(b"nx"), b"nx");
    }
}
