//! DEBUG: the testing helpers Redis clients and test suites rely on -
//! SLEEP, DIGEST, DIGEST-VALUE, OBJECT, SET-ACTIVE-EXPIRE, CLUSTER-HANDOVER, POPULATE, ERROR,
//! HELP - with Redis 7.0's replies (debug.c). DEBUG is one command with
//! arity -2 that parses its own subcommand, as in Redis. Like Redis 7 it is
//! refused unless `enable-debug-command` is `yes` (or `local` and the client
//! is on loopback).

use std::time::Duration;

use super::flags::*;
use super::keys::{encoding_name, is_shared_int};
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::number::parse_i64;
use crate::server::{Client, Server};
use crate::store::digest::to_hex;
use crate::store::evict::Policy;
use crate::store::{Sds, Value};

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "debug",
    -2,
    ADMIN | NOSCRIPT | LOADING | STALE,
    (0, 0, 0),
    debug,
    "server",
)
.doc("1.0.0", "A container for debugging commands", "")];

const HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "AOF-STALL <0|1>",
    "    memkv: with 1 the AOF writer thread stops writing (a stalled disk) until 0.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "PANIC",
    "    Panic inside the command handler: memkv answers -ERR internal error and",
    "    keeps running (Redis crashes on purpose; this shows the containment).",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix.",
    "CLUSTER-HANDOVER <0|1>",
    "    Setting it to 0 pauses moving keys to their new owners after a cluster",
    "    membership change (a missing key is still pulled when a command needs",
    "    it); 1 resumes (memkv).",
    "LOADAOF",
    "    Flush the Append Only File buffer to disk and reload the AOF in memory.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Options:",
    "    * MERGE: Merge the content of the RDB with the current dataset.",
    "    * NOFLUSH: Do not empty the current dataset before loading the RDB.",
    "    * NOSAVE: Do not save the current dataset before loading the RDB.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
];

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save the dataset to the RDB
/// file, empty memory and load the file back (debug.c), synchronously.
fn reload(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (mut flush, mut save, mut merge) = (true, true, false);
    for a in args.iter().skip(2) {
        match a.to_ascii_uppercase().as_slice() {
            b"MERGE" => merge = true,
            b"NOFLUSH" => flush = false,
            b"NOSAVE" => save = false,
            _ => {
                return Err(CmdError::Static(
                    "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                ));
            }
        }
    }
    if save && crate::rdb::persist::save_now(srv).is_err() {
        return Err(CmdError::Static("ERR"));
    }
    let path = crate::rdb::persist::rdb_path(&srv.config);
    let data = std::fs::read(&path).map_err(|_| {
        CmdError::Static("ERR Error trying to load the RDB dump, check server logs.")
    })?;
    if flush {
        srv.store.flush_all();
    }
    let lim = crate::rdb::load_limits(&srv.config);
    let check = srv.config.value("rdbchecksum").as_deref() != Some("no");
    let mut l = crate::rdb::file::FileLoader::new(data, false).map_err(|e| {
        log::warn!("DEBUG RELOAD: {e}");
        CmdError::Static("ERR Error trying to load the RDB dump, check server logs.")
    })?;
    // MERGE: keys that exist already are replaced instead of refused.
    l.merge = merge;
    l.step(&mut srv.store, &lim, usize::MAX, check)
        .map_err(|e| {
            log::warn!("DEBUG RELOAD: {e}");
            CmdError::Static("ERR Error trying to load the RDB dump, check server logs.")
        })?;
    srv.rdb.dirty_at_save = srv.store.dirty;
    log::warn!("DB reloaded by DEBUG RELOAD");
    c.reply.ok();
    Ok(())
}

/// Longest DEBUG SLEEP honoured (a day): a bigger value is surely a typo,
/// and `Duration` cannot hold arbitrary doubles.
const MAX_SLEEP_SECS: f64 = 86_400.0;

fn debug(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let allowed = match srv.config.value("enable-debug-command").as_deref() {
        Some("yes") => true,
        Some("local") => c.addr.ip().is_loopback(),
        _ => false,
    };
    if !allowed {
        return Err(CmdError::Static(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ));
    }
    let sub = &args[1];
    let argc = args.len();
    let is = |name: &str| sub.eq_ignore_ascii_case(name.as_bytes());
    if is("help") && argc == 2 {
        c.reply.array(HELP.len());
        for line in HELP {
            c.reply.simple(line);
        }
    } else if is("sleep") && argc == 3 {
        // Blocks the reactor on purpose, exactly like Redis.
        let secs = strtod_prefix(&args[2]);
        if secs > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(secs.min(MAX_SLEEP_SECS)));
        }
        c.reply.ok();
    } else if is("digest") && argc == 2 {
        let d = srv.store.dataset_digest();
        c.reply.simple(&to_hex(&d));
    } else if is("digest-value") {
        c.reply.array(argc - 2);
        for key in args.iter().skip(2) {
            let d = srv.store.digest_value(c.db, key);
            c.reply.simple(&to_hex(&d));
        }
    } else if is("cluster-handover") && argc == 3 {
        if let Some(t) = srv.cluster.as_mut() {
            t.handover.paused = atoi(&args[2]) == 0;
        }
        c.reply.ok();
    } else if is("set-active-expire") && argc == 3 {
        srv.store.active_expire_enabled = atoi(&args[2]) != 0;
        c.reply.ok();
    } else if is("object") && argc == 3 {
        let line = object_info(srv, c.db, &args[2]).ok_or(CmdError::NoSuchKey)?;
        c.reply.simple(&line);
    } else if is("error") && argc == 3 {
        // Redis 7.0 sends the text verbatim after '-' (no ERR prefix).
        let msg = String::from_utf8_lossy(&args[2]).into_owned();
        return Err(CmdError::Custom(msg));
    } else if is("aof-stall") && argc == 3 {
        // memkv only: the AOF writer writes nothing while on, as if the
        // disk stalled (to show writers waiting instead of memory growing).
        let on = atoi(&args[2]) != 0;
        crate::aof::STALL_WRITER.store(on, std::sync::atomic::Ordering::Relaxed);
        c.reply.ok();
    } else if is("panic") && argc == 2 {
        panic!("DEBUG PANIC");
    } else if is("populate") && (3..=5).contains(&argc) {
        populate(srv, c, args)?;
    } else if is("reload") {
        reload(srv, c, args)?;
    } else if is("loadaof") && argc == 2 {
        crate::aof::debug_loadaof(srv).map_err(|e| {
            log::warn!("DEBUG LOADAOF: {e}");
            CmdError::Custom(if e.starts_with("ERR") {
                e
            } else {
                format!("ERR {e}")
            })
        })?;
        c.reply.ok();
    } else {
        return Err(CmdError::Custom(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        )));
    }
    Ok(())
}

/// C `atoi`: optional white space and sign, then digits; 0 if none.
fn atoi(b: &[u8]) -> i64 {
    let s = b.trim_ascii_start();
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for &d in s.iter().take_while(|d| d.is_ascii_digit()) {
        v = v.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
    }
    if neg { v.wrapping_neg() } else { v }
}

/// C `strtod` on the longest numeric prefix; 0 if there is none (DEBUG
/// SLEEP does no validation either). NaN is treated as 0.
fn strtod_prefix(b: &[u8]) -> f64 {
    let s = b.trim_ascii_start();
    let mut end = 0;
    let mut best = 0.0;
    // Numeric prefixes are short; try each length and keep the longest that
    // parses (bounded to 64 bytes).
    while end < s.len().min(64) {
        end += 1;
        if let Some(v) = std::str::from_utf8(&s[..end])
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
        {
            best = v;
        }
    }
    if best.is_nan() { 0.0 } else { best }
}

/// The DEBUG OBJECT line for `key` (None: no such key). Like Redis it looks
/// at the map directly, so a logically expired key is still described.
fn object_info(srv: &Server, db: usize, key: &[u8]) -> Option<String> {
    let v = srv.store.db(db).keys().get(key)?;
    let mut clock = srv.store.db(db).clock(key).unwrap_or(0);
    let encoding = encoding_name(v);
    // Redis stores 0..9999 as its shared integer objects unless an LRU/LFU
    // maxmemory policy is on (OBJ_SHARED_INTEGERS): their refcount is
    // OBJ_SHARED_REFCOUNT and their LRU clock the one from server start
    // (Redis also sets it on every read of any key holding that integer;
    // memkv shows the start, as after no such read).
    let lru_or_lfu = !matches!(
        srv.store.evict.policy,
        Policy::VolatileRandom | Policy::VolatileTtl | Policy::AllkeysRandom | Policy::NoEviction
    );
    let shared = is_shared_int(v) && (srv.store.evict.maxmemory == 0 || !lru_or_lfu);
    let refcount = if shared { i32::MAX as i64 } else { 1 };
    if shared {
        let started =
            crate::store::unix_ms().saturating_sub(srv.started.elapsed().as_millis() as u64);
        clock = crate::store::evict::lru_clock(started);
    }
    // serializedlength is the RDB payload's length (rdbSavedObjectLen):
    // the writer is Redis's encodings byte for byte, so it is measured by
    // writing it, as Redis does.
    let opts = crate::rdb::save_opts(&srv.config);
    let (serialized, extra) = match v {
        Value::List(l) => {
            // The quicklist Redis would hold (save::visit_list_nodes); its
            // fill and compress depth are the configured ones (Redis keeps
            // the values a list was created with).
            let st = crate::rdb::save::list_stats(l, &opts);
            let extra = format!(
                " ql_nodes:{} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:{} ql_uncompressed_size:{}",
                st.nodes,
                l.len() as f64 / st.nodes as f64,
                opts.list_fill.clamp(-5, crate::rdb::save::FILL_MAX),
                u8::from(opts.list_depth != 0),
                st.size
            );
            (st.payload, extra)
        }
        _ => (crate::rdb::save::payload_len(v, &opts), String::new()),
    };
    Some(format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}{}",
        v as *const Value,
        refcount,
        encoding,
        serialized,
        clock,
        crate::store::evict::idle_ms(clock, crate::store::unix_ms()) / 1000,
        extra
    ))
}

/// Largest DEBUG POPULATE value size accepted (Redis's default
/// proto-max-bulk-len): a client cannot make the server allocate more.
const MAX_POPULATE_VALUE: i64 = 512 * 1024 * 1024;

/// DEBUG POPULATE count [prefix] [size]: creates `prefix:N` = `value:N`
/// (zero-padded or cut to `size`) for N in 0..count, skipping existing keys.
fn populate(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let positive = |b: &[u8]| -> Result<i64, CmdError> {
        let n = parse_i64(b).ok_or(CmdError::NotInteger)?;
        if n < 0 {
            return Err(CmdError::Static(
                "ERR value is out of range, must be positive",
            ));
        }
        Ok(n)
    };
    let count = positive(&args[2])?;
    let size = match args.get(4) {
        Some(b) => positive(b)?,
        None => 0,
    };
    if size > MAX_POPULATE_VALUE {
        return Err(CmdError::Static(
            "ERR value is out of range, must be at most proto-max-bulk-len",
        ));
    }
    let prefix = args.get(3).unwrap_or(b"key");
    // Redis formats the key into a 128-byte buffer, cutting long prefixes.
    let mut key = Vec::with_capacity(64);
    let mut val = Vec::with_capacity(32);
    for j in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        key.push(b':');
        key.extend_from_slice(j.to_string().as_bytes());
        key.truncate(127);
        if srv.store.contains(c.db, &key) {
            continue;
        }
        val.clear();
        val.extend_from_slice(format!("value:{j}").as_bytes());
        if size > 0 {
            val.resize(size as usize, 0);
        }
        srv.store.set(c.db, &key, Value::Str(Sds::new(&val)));
    }
    c.reply.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_number_prefixes() {
        assert_eq!(atoi(b"1"), 1);
        assert_eq!(atoi(b" -3x"), -3);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(strtod_prefix(b"0.25"), 0.25);
        assert_eq!(strtod_prefix(b"1abc"), 1.0);
        assert_eq!(strtod_prefix(b"abc"), 0.0);
        assert_eq!(strtod_prefix(b"nan"), 0.0);
    }
}
