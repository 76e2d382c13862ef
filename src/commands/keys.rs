//! Generic keyspace commands: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN,
//! RANDOMKEY, RENAME(NX), the EXPIRE and TTL families, PERSIST, TOUCH, COPY,
//! MOVE, FLUSHDB, FLUSHALL, SWAPDB and OBJECT - Redis 7.0 semantics (db.c,
//! expire.c, object.c). They work on every `Value` kind; every change goes
//! through the Store's methods (the choke point).

use super::flags::*;
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::glob::glob_match;
use crate::number::parse_i64;
use crate::server::{Client, Server};
use crate::store::scan::{self, ScanOptionError};
use crate::store::{StrEnc, Value, lazyfree};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, (1, -1, 1), del, "generic").doc(
        "1.0.0",
        "Delete a key",
        "key [key ...]",
    ),
    CommandSpec::new("unlink", -2, WRITE | FAST, (1, -1, 1), del, "generic").doc(
        "4.0.0",
        "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        "key [key ...]",
    ),
    CommandSpec::new("exists", -2, READONLY | FAST, (1, -1, 1), exists, "generic").doc(
        "1.0.0",
        "Determine if a key exists",
        "key [key ...]",
    ),
    CommandSpec::new("type", 2, READONLY | FAST, (1, 1, 1), type_cmd, "generic").doc(
        "1.0.0",
        "Determine the type stored at key",
        "key",
    ),
    CommandSpec::new("keys", 2, READONLY, (0, 0, 0), keys, "generic").doc(
        "1.0.0",
        "Find all keys matching the given pattern",
        "pattern",
    ),
    CommandSpec::new("scan", -2, READONLY, (0, 0, 0), scan_cmd, "generic").doc(
        "2.8.0",
        "Incrementally iterate the keys space",
        "cursor [MATCH pattern] [COUNT count] [TYPE type]",
    ),
    CommandSpec::new("randomkey", 1, READONLY, (0, 0, 0), randomkey, "generic").doc(
        "1.0.0",
        "Return a random key from the keyspace",
        "",
    ),
    CommandSpec::new("rename", 3, WRITE, (1, 2, 1), rename, "generic").doc(
        "1.0.0",
        "Rename a key",
        "key newkey",
    ),
    CommandSpec::new("renamenx", 3, WRITE | FAST, (1, 2, 1), renamenx, "generic").doc(
        "1.0.0",
        "Rename a key, only if the new key does not exist",
        "key newkey",
    ),
    CommandSpec::new("expire", -3, WRITE | FAST, (1, 1, 1), expire, "generic").doc(
        "1.0.0",
        "Set a key's time to live in seconds",
        "key seconds [NX | XX | GT | LT]",
    ),
    CommandSpec::new("pexpire", -3, WRITE | FAST, (1, 1, 1), pexpire, "generic").doc(
        "2.6.0",
        "Set a key's time to live in milliseconds",
        "key milliseconds [NX | XX | GT | LT]",
    ),
    CommandSpec::new("expireat", -3, WRITE | FAST, (1, 1, 1), expireat, "generic").doc(
        "1.2.0",
        "Set the expiration for a key as a UNIX timestamp",
        "key unix-time-seconds [NX | XX | GT | LT]",
    ),
    CommandSpec::new("pexpireat", -3, WRITE | FAST, (1, 1, 1), pexpireat, "generic").doc(
        "2.6.0",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        "key unix-time-milliseconds [NX | XX | GT | LT]",
    ),
    CommandSpec::new("ttl", 2, READONLY | FAST, (1, 1, 1), ttl, "generic").doc(
        "1.0.0",
        "Get the time to live for a key in seconds",
        "key",
    ),
    CommandSpec::new("pttl", 2, READONLY | FAST, (1, 1, 1), pttl, "generic").doc(
        "2.6.0",
        "Get the time to live for a key in milliseconds",
        "key",
    ),
    CommandSpec::new("expiretime", 2, READONLY | FAST, (1, 1, 1), expiretime, "generic").doc(
        "7.0.0",
        "Get the expiration Unix timestamp for a key",
        "key",
    ),
    CommandSpec::new("pexpiretime", 2, READONLY | FAST, (1, 1, 1), pexpiretime, "generic").doc(
        "7.0.0",
        "Get the expiration Unix timestamp for a key in milliseconds",
        "key",
    ),
    CommandSpec::new("persist", 2, WRITE | FAST, (1, 1, 1), persist, "generic").doc(
        "2.2.0",
        "Remove the expiration from a key",
        "key",
    ),
    CommandSpec::new("touch", -2, READONLY | FAST, (1, -1, 1), touch, "generic").doc(
        "3.2.1",
        "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        "key [key ...]",
    ),
    CommandSpec::new("copy", -3, WRITE | DENYOOM, (1, 2, 1), copy, "generic").doc(
        "6.2.0",
        "Copy a key",
        "source destination [DB destination-db] [REPLACE]",
    ),
    CommandSpec::new("move", 3, WRITE | FAST, (1, 1, 1), move_cmd, "generic").doc(
        "1.0.0",
        "Move a key to another database",
        "key db",
    ),
    CommandSpec::new("flushdb", -1, WRITE, (0, 0, 0), flushdb, "server").doc(
        "1.0.0",
        "Remove all keys from the current database",
        "[ASYNC | SYNC]",
    ),
    CommandSpec::new("flushall", -1, WRITE, (0, 0, 0), flushall, "server").doc(
        "1.0.0",
        "Remove all keys from all databases",
        "[ASYNC | SYNC]",
    ),
    CommandSpec::new("swapdb", 3, WRITE | FAST, (0, 0, 0), swapdb, "server").doc(
        "4.0.0",
        "Swaps two Redis databases",
        "index1 index2",
    ),
    CommandSpec::new("object", -2, 0, (0, 0, 0), object_help, "generic")
        .doc("2.2.3", "A container for object introspection commands", "")
        .subs(OBJECT_SUBCOMMANDS),
];

static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "object|encoding",
        3,
        READONLY,
        (2, 2, 1),
        object_encoding,
        "generic",
    )
    .doc(
        "2.2.3",
        "Inspect the internal encoding of a Redis object",
        "key",
    ),
    CommandSpec::new(
        "object|freq",
        3,
        READONLY,
        (2, 2, 1),
        object_freq,
        "generic",
    )
    .doc(
        "4.0.0",
        "Get the logarithmic access frequency counter of a Redis object",
        "key",
    ),
    CommandSpec::new(
        "object|idletime",
        3,
        READONLY,
        (2, 2, 1),
        object_idletime,
        "generic",
    )
    .doc(
        "2.2.3",
        "Get the time since a Redis object was last accessed",
        "key",
    ),
    CommandSpec::new(
        "object|refcount",
        3,
        READONLY,
        (2, 2, 1),
        object_refcount,
        "generic",
    )
    .doc(
        "2.2.3",
        "Get the number of references to the value of the key",
        "key",
    ),
    CommandSpec::new(
        "object|help",
        2,
        LOADING | STALE,
        (0, 0, 0),
        object_help,
        "generic",
    )
    .doc(
        "6.2.0",
        "Show helpful text about the different subcommands",
        "",
    ),
];

// ---------------------------------------------------------------- helpers

/// Parses a C `int` argument (Redis's getIntFromObjectOrReply).
fn parse_int(b: &[u8]) -> Option<i32> {
    parse_i64(b).and_then(|v| i32::try_from(v).ok())
}

/// A database index argument: `ERR value is not an integer or out of range`
/// if not an int, `ERR DB index is out of range` if no such database.
fn parse_db(srv: &Server, b: &[u8]) -> Result<usize, CmdError> {
    let id = parse_int(b).ok_or(CmdError::NotInteger)?;
    usize::try_from(id)
        .ok()
        .filter(|&i| i < srv.store.db_count())
        .ok_or(CmdError::DbIndexOutOfRange)
}

/// A config value through the generic CONFIG GET interface.
pub(crate) fn config_value(srv: &Server, name: &str) -> Option<String> {
    srv.config.value(name)
}

// ---------------------------------------------------------------- DEL etc.

/// DEL and UNLINK: the same here, since a big value is always freed off
/// the reactor (src/store/lazyfree.rs).
fn del(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut n = 0;
    for key in args.iter().skip(1) {
        if srv.store.delete(c.db, key) {
            n += 1;
        }
    }
    c.reply.int(n);
    Ok(())
}

/// EXISTS does not count as an access of the key (Redis's LOOKUP_NOTOUCH);
/// TOUCH does.
fn exists(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    srv.store.evict.no_touch = true;
    count_existing(srv, c, args)
}

fn count_existing(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut n = 0;
    for key in args.iter().skip(1) {
        if srv.store.lookup_read(c.db, key).is_some() {
            n += 1;
        }
    }
    c.reply.int(n);
    Ok(())
}

fn touch(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    count_existing(srv, c, args)
}

fn type_cmd(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    srv.store.evict.no_touch = true;
    let name = srv
        .store
        .lookup_read(c.db, &args[1])
        .map_or("none", |v| v.kind().name());
    c.reply.simple(name);
    Ok(())
}

// ---------------------------------------------------------------- KEYS/SCAN

fn keys(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let pattern = &args[1];
    let all = pattern == b"*";
    let store = &srv.store;
    let db = store.db(c.db);
    // Like Redis, logically expired keys are skipped but not deleted here.
    let found: Vec<&[u8]> = db
        .keys()
        .keys()
        .map(|k| k.as_bytes())
        .filter(|k| (all || glob_match(pattern, k, false)) && !store.is_expired(c.db, k))
        .collect();
    c.reply.array(found.len());
    for k in found {
        c.reply.bulk(k);
    }
    Ok(())
}

fn scan_cmd(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let cursor = scan::parse_cursor(&args[1]).ok_or(CmdError::Static("ERR invalid cursor"))?;
    let opts = scan::parse_options(args.iter().skip(2), true).map_err(|e| match e {
        ScanOptionError::NotInteger => CmdError::NotInteger,
        ScanOptionError::Syntax => CmdError::Syntax,
    })?;
    let store = &srv.store;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut expired: Vec<Vec<u8>> = Vec::new();
    // Filters apply after sampling, in Redis's order: pattern, expiry, type.
    let next = scan::scan_step(store.db(c.db).keys(), cursor, opts.count, |k, v| {
        if let Some(p) = opts.pattern
            && !glob_match(p, k, false)
        {
            return;
        }
        if store.is_expired(c.db, k) {
            expired.push(k.to_vec());
            return;
        }
        if let Some(t) = opts.type_name
            && !t.eq_ignore_ascii_case(v.kind().name().as_bytes())
        {
            return;
        }
        found.push(k.to_vec());
    });
    // Expired keys met on the way are reclaimed through the choke point;
    // each removal fills its hole from the top, i.e. from visited indices.
    for k in &expired {
        srv.store.expired_for_read(c.db, k);
    }
    c.reply.array(2);
    c.reply.bulk(next.to_string().as_bytes());
    c.reply.array(found.len());
    for k in &found {
        c.reply.bulk(k);
    }
    Ok(())
}

fn randomkey(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    match srv.store.random_key(c.db) {
        Some(k) => c.reply.bulk(&k),
        None => c.reply.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------- RENAME

fn rename(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    srv.store
        .rename(c.db, &args[1], &args[2], false)
        .ok_or(CmdError::NoSuchKey)?;
    c.reply.ok();
    Ok(())
}

fn renamenx(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let done = srv
        .store
        .rename(c.db, &args[1], &args[2], true)
        .ok_or(CmdError::NoSuchKey)?;
    c.reply.int(done as i64);
    Ok(())
}

// ---------------------------------------------------------------- EXPIRE

const EXPIRE_NX: u8 = 1;
const EXPIRE_XX: u8 = 2;
const EXPIRE_GT: u8 = 4;
const EXPIRE_LT: u8 = 8;

/// Parses `[NX | XX | GT | LT]...` like parseExtendedExpireArgumentsOrReply.
fn parse_expire_flags(args: &Args) -> Result<u8, CmdError> {
    let mut flags = 0;
    for opt in args.iter().skip(3) {
        flags |= if opt.eq_ignore_ascii_case(b"nx") {
            EXPIRE_NX
        } else if opt.eq_ignore_ascii_case(b"xx") {
            EXPIRE_XX
        } else if opt.eq_ignore_ascii_case(b"gt") {
            EXPIRE_GT
        } else if opt.eq_ignore_ascii_case(b"lt") {
            EXPIRE_LT
        } else {
            return Err(CmdError::Custom(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(&opt[..opt.len().min(128)])
            )));
        };
    }
    if flags & EXPIRE_NX != 0 && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT) != 0 {
        return Err(CmdError::Static(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if flags & EXPIRE_GT != 0 && flags & EXPIRE_LT != 0 {
        return Err(CmdError::Static(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(flags)
}

/// Redis's expireGenericCommand. `relative`: add the command time;
/// `seconds`: the argument is in seconds.
fn expire_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    name: &'static str,
    relative: bool,
    seconds: bool,
) -> CmdResult {
    let flags = parse_expire_flags(args)?;
    let mut when = parse_i64(&args[2]).ok_or(CmdError::NotInteger)?;
    if seconds {
        when = when
            .checked_mul(1000)
            .ok_or(CmdError::InvalidExpire(name))?;
    }
    if relative {
        let base = i64::try_from(srv.store.now()).unwrap_or(i64::MAX);
        when = when
            .checked_add(base)
            .ok_or(CmdError::InvalidExpire(name))?;
    }
    let key = &args[1];
    if !srv.store.contains(c.db, key) {
        c.reply.int(0);
        return Ok(());
    }
    if flags != 0 {
        let current = srv
            .store
            .expiry(c.db, key)
            .map(|at| i64::try_from(at).unwrap_or(i64::MAX));
        let refuse = (flags & EXPIRE_NX != 0 && current.is_some())
            || (flags & EXPIRE_XX != 0 && current.is_none())
            // No expiry counts as an infinite TTL: GT never beats it...
            || (flags & EXPIRE_GT != 0 && current.is_none_or(|cur| when <= cur))
            // ...and LT always does.
            || (flags & EXPIRE_LT != 0 && current.is_some_and(|cur| when >= cur));
        if refuse {
            c.reply.int(0);
            return Ok(());
        }
    }
    match u64::try_from(when) {
        Ok(at) if at > srv.store.now() => {
            srv.store.set_expiry(c.db, key, Some(at));
            // Replay must not depend on when it happens: absolute time.
            let at = at.to_string();
            srv.store
                .prop
                .rewrite_as_one([&b"PEXPIREAT"[..], key, at.as_bytes()]);
        }
        // Already in the past: the key is deleted (Redis replies 1 too).
        _ => {
            srv.store.delete(c.db, key);
            srv.store.prop.rewrite_as_one([&b"DEL"[..], key]);
        }
    }
    c.reply.int(1);
    Ok(())
}

fn expire(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    expire_generic(srv, c, args, "expire", true, true)
}

fn pexpire(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    expire_generic(srv, c, args, "pexpire", true, false)
}

fn expireat(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    expire_generic(srv, c, args, "expireat", false, true)
}

fn pexpireat(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    expire_generic(srv, c, args, "pexpireat", false, false)
}

/// Redis's ttlGenericCommand: -2 missing, -1 persistent, else the remaining
/// (or absolute, `abs`) time in ms or rounded seconds.
fn ttl_generic(srv: &mut Server, c: &mut Client, args: &Args, ms: bool, abs: bool) -> CmdResult {
    let key = &args[1];
    srv.store.evict.no_touch = true;
    if srv.store.lookup_read(c.db, key).is_none() {
        c.reply.int(-2);
        return Ok(());
    }
    let Some(at) = srv.store.expiry(c.db, key) else {
        c.reply.int(-1);
        return Ok(());
    };
    let at = i64::try_from(at).unwrap_or(i64::MAX);
    let now = i64::try_from(srv.store.now()).unwrap_or(i64::MAX);
    let ttl = if abs { at } else { at.saturating_sub(now) }.max(0);
    // Rounded seconds; wide arithmetic so i64::MAX ms does not overflow
    // (Redis 7.0 replies 9223372036854776 there).
    c.reply.int(if ms {
        ttl
    } else {
        ((i128::from(ttl) + 500) / 1000) as i64
    });
    Ok(())
}

fn ttl(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    ttl_generic(srv, c, args, false, false)
}

fn pttl(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    ttl_generic(srv, c, args, true, false)
}

fn expiretime(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    ttl_generic(srv, c, args, false, true)
}

fn pexpiretime(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    ttl_generic(srv, c, args, true, true)
}

fn persist(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let key = &args[1];
    let had = srv.store.expiry(c.db, key).is_some();
    if had {
        srv.store.set_expiry(c.db, key, None);
    }
    c.reply.int(had as i64);
    Ok(())
}

// ---------------------------------------------------------------- COPY/MOVE

fn copy(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut dst_db = c.db;
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        if opt.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"db") && j + 1 < args.len() {
            dst_db = parse_db(srv, &args[j + 1])?;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let (src, dst) = (&args[1], &args[2]);
    if dst_db == c.db && src == dst {
        return Err(CmdError::Static(
            "ERR source and destination objects are the same",
        ));
    }
    // Redis reads the source with a counted lookup.
    if srv.store.lookup_read(c.db, src).is_none() {
        c.reply.int(0);
        return Ok(());
    }
    let done = srv.store.copy(c.db, src, dst_db, dst, replace);
    // dupStringObject keeps raw / embstr / int, but an integer gets an
    // object of its own (a shared one no longer shared).
    if done
        && let Some(Value::Str(s)) = srv.store.db(dst_db).keys().get(dst)
        && s.enc() == StrEnc::Derived
    {
        srv.store.mark_str(dst_db, dst, StrEnc::Unshared);
    }
    c.reply.int(done as i64);
    Ok(())
}

fn move_cmd(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let dst_db = parse_db(srv, &args[2])?;
    if dst_db == c.db {
        return Err(CmdError::Static(
            "ERR source and destination objects are the same",
        ));
    }
    let done = srv.store.move_key(c.db, &args[1], dst_db);
    c.reply.int(done as i64);
    Ok(())
}

// ---------------------------------------------------------------- FLUSH/SWAP

/// `[ASYNC | SYNC]`: true for ASYNC.
fn parse_flush_mode(args: &Args) -> Result<bool, CmdError> {
    match args.len() {
        1 => Ok(false),
        2 if args[1].eq_ignore_ascii_case(b"async") => Ok(true),
        2 if args[1].eq_ignore_ascii_case(b"sync") => Ok(false),
        _ => Err(CmdError::Syntax),
    }
}

fn flushdb(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if parse_flush_mode(args)? {
        lazyfree::free(srv.store.take_db(c.db));
    } else {
        srv.store.flush_db(c.db);
    }
    c.reply.ok();
    Ok(())
}

fn flushall(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if parse_flush_mode(args)? {
        let old: Vec<_> = (0..srv.store.db_count())
            .map(|i| srv.store.take_db(i))
            .collect();
        lazyfree::free(old);
    } else {
        srv.store.flush_all();
    }
    c.reply.ok();
    Ok(())
}

fn swapdb(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let a = parse_int(&args[1]).ok_or(CmdError::Static("ERR invalid first DB index"))?;
    let b = parse_int(&args[2]).ok_or(CmdError::Static("ERR invalid second DB index"))?;
    let n = srv.store.db_count();
    let (Ok(a), Ok(b)) = (usize::try_from(a), usize::try_from(b)) else {
        return Err(CmdError::DbIndexOutOfRange);
    };
    if a >= n || b >= n {
        return Err(CmdError::DbIndexOutOfRange);
    }
    if a != b {
        srv.store.swap_dbs(a, b);
    }
    c.reply.ok();
    Ok(())
}

// ---------------------------------------------------------------- OBJECT

/// Redis's OBJ_SHARED_REFCOUNT (INT_MAX): what OBJECT REFCOUNT says for the
/// shared integers 0..9999.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Strings up to this many bytes are `embstr` (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
const EMBSTR_LIMIT: usize = 44;

/// The encoding name Redis would report for `v`: strings `int` / `embstr`
/// / `raw` by their bytes and their `StrEnc` mark (`store/bytes.rs`); lists
/// `quicklist` (Redis 7.0 has no listpack lists); hashes, sets and sorted
/// sets by their actual encoding.
pub fn encoding_name(v: &Value) -> &'static str {
    match v {
        Value::Str(s) => match s.enc() {
            StrEnc::Raw => "raw",
            // Only INCRBYFLOAT marks it, on a short result.
            StrEnc::Embstr => "embstr",
            StrEnc::Derived | StrEnc::Unshared => {
                if s.len() <= 20 && parse_i64(s).is_some() {
                    "int"
                } else if s.len() <= EMBSTR_LIMIT {
                    "embstr"
                } else {
                    "raw"
                }
            }
        },
        Value::List(_) => "quicklist",
        Value::Hash(h) => h.encoding(),
        Value::Set(s) => s.encoding(),
        Value::ZSet(z) => {
            if z.is_listpack() {
                "listpack"
            } else {
                "skiplist"
            }
        }
        Value::Stream(_) => "stream",
    }
}

/// True when Redis would hold `v` as one of its shared integer objects
/// 0..9999 (when no LRU/LFU maxmemory policy forbids them; the caller
/// checks that): an `int` string made by tryObjectEncoding or INCR, not a
/// COPY of one (`StrEnc::Unshared`).
pub fn is_shared_int(v: &Value) -> bool {
    matches!(v, Value::Str(s) if s.enc() == StrEnc::Derived
        && s.len() <= 4
        && parse_i64(s).is_some_and(|n| (0..10_000).contains(&n)))
}

fn object_encoding(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    srv.store.evict.no_touch = true;
    match srv.store.lookup_read(c.db, &args[2]) {
        Some(v) => c.reply.bulk(encoding_name(v).as_bytes()),
        None => c.reply.null(),
    }
    Ok(())
}

fn object_refcount(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    // Shared integers are not used when maxmemory evicts by LRU/LFU.
    let no_shared = config_value(srv, "maxmemory").is_some_and(|m| m != "0")
        && config_value(srv, "maxmemory-policy")
            .is_some_and(|p| p.contains("lru") || p.contains("lfu"));
    srv.store.evict.no_touch = true;
    match srv.store.lookup_read(c.db, &args[2]) {
        Some(v) if !no_shared && is_shared_int(v) => c.reply.int(SHARED_REFCOUNT),
        Some(_) => c.reply.int(1),
        None => c.reply.null(),
    }
    Ok(())
}

fn object_idletime(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    srv.store.evict.no_touch = true;
    // Redis looks the key up as a read (keyspace hits/misses count).
    let found = srv.store.lookup_read(c.db, &args[2]).is_some();
    let Some(clock) = srv.store.clock_of(c.db, &args[2]).filter(|_| found) else {
        c.reply.null();
        return Ok(());
    };
    if srv.store.evict.lfu {
        return Err(CmdError::Static(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    let idle = crate::store::evict::idle_ms(clock, crate::store::unix_ms());
    c.reply.int((idle / 1000) as i64);
    Ok(())
}

fn object_freq(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    srv.store.evict.no_touch = true;
    // Redis looks the key up as a read (keyspace hits/misses count).
    let found = srv.store.lookup_read(c.db, &args[2]).is_some();
    let Some(clock) = srv.store.clock_of(c.db, &args[2]).filter(|_| found) else {
        c.reply.null();
        return Ok(());
    };
    if !srv.store.evict.lfu {
        return Err(CmdError::Static(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    let decay = srv.store.evict.lfu_decay_time;
    let freq = crate::store::evict::lfu_decr(clock, crate::store::unix_ms(), decay);
    c.reply.int(freq as i64);
    Ok(())
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn object_help(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.array(OBJECT_HELP.len());
    for line in OBJECT_HELP {
        c.reply.simple(line);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Hash, Sds};

    #[test]
    fn encodings() {
        let s = |b: &[u8]| Value::Str(Sds::new(b));
        assert_eq!(encoding_name(&s(b"12345")), "int");
        assert_eq!(encoding_name(&s(b"-9223372036854775808")), "int");
        assert_eq!(encoding_name(&s(b"9223372036854775808")), "embstr");
        assert_eq!(encoding_name(&s(b"01")), "embstr");
        assert_eq!(encoding_name(&s(&[b'a'; 44])), "embstr");
        assert_eq!(encoding_name(&s(&[b'a'; 45])), "raw");
        let marked = |b: &[u8], raw: bool| {
            let mut v = Sds::new(b);
            if raw {
                v.mark_raw();
            } else {
                v.mark(StrEnc::Embstr);
            }
            Value::Str(v)
        };
        assert_eq!(encoding_name(&marked(b"1", true)), "raw");
        assert_eq!(encoding_name(&marked(&[b'a'; 30], true)), "raw");
        assert_eq!(encoding_name(&marked(b"3", false)), "embstr");
        assert_eq!(encoding_name(&marked(&[b'1'; 50], false)), "raw");
        assert_eq!(encoding_name(&Value::List(Default::default())), "quicklist");
        let lim = crate::store::hash::DEFAULT_LIMITS;
        let mut h = Hash::default();
        h.set(b"f", &[b'v'; 64], &lim);
        assert_eq!(encoding_name(&Value::Hash(h.clone())), "listpack");
        h.set(b"g", &[b'v'; 65], &lim);
        assert_eq!(encoding_name(&Value::Hash(h)), "hashtable");
    }
}
