//! The HyperLogLog family: PFADD, PFCOUNT, PFMERGE, PFDEBUG and
//! PFSELFTEST, as Redis 7.0's hyperloglog.c answers them. The values are
//! plain strings in Redis's exact layout (`store::hll`), so an HLL moves
//! between memkv and Redis through GET/SET or an AOF file unchanged.
//!
//! A write runs the store's choke point only when a register changes (or
//! PFCOUNT refreshes the cached cardinality, which Redis propagates too).
//! Every command that gets past the HLL check on one key (PFADD, PFCOUNT
//! of one key, PFMERGE's target, PFDEBUG) leaves the value marked raw,
//! written or not: Redis calls dbUnshareStringValue on it.

use super::flags::{ADMIN, DENYOOM, FAST, MAY_REPLICATE, READONLY, WRITE};
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::server::{Client, Server};
use crate::store::hll::{self, REGISTERS};
use crate::store::{Kind, Sds, Value};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "pfadd",
        -2,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        pfadd,
        "hyperloglog",
    )
    .doc(
        "2.8.9",
        "Adds the specified elements to the specified HyperLogLog.",
        "key [element [element ...]]",
    ),
    CommandSpec::new(
        "pfcount",
        -2,
        READONLY | MAY_REPLICATE,
        (1, -1, 1),
        pfcount,
        "hyperloglog",
    )
    .doc(
        "2.8.9",
        "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
        "key [key ...]",
    ),
    CommandSpec::new(
        "pfmerge",
        -2,
        WRITE | DENYOOM,
        (1, -1, 1),
        pfmerge,
        "hyperloglog",
    )
    .doc(
        "2.8.9",
        "Merge N different HyperLogLogs into a single one.",
        "destkey [sourcekey [sourcekey ...]]",
    ),
    CommandSpec::new(
        "pfdebug",
        3,
        WRITE | DENYOOM | ADMIN,
        (2, 2, 1),
        pfdebug,
        "hyperloglog",
    )
    .doc(
        "2.8.9",
        "Internal commands for debugging HyperLogLog values",
        "subcommand key",
    ),
    CommandSpec::new("pfselftest", 1, ADMIN, (0, 0, 0), pfselftest, "hyperloglog").doc(
        "2.8.9",
        "An internal command for testing HyperLogLog values",
        "",
    ),
];

/// A string that is not an HLL (bad magic, encoding or dense size).
fn not_hll() -> CmdError {
    CmdError::Static("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

/// An HLL whose sparse runs are corrupt.
fn corrupt() -> CmdError {
    CmdError::Static("INVALIDOBJ Corrupted HLL object detected")
}

/// `isHLLObjectOrReply` on a looked-up value.
fn check_hll(v: &Value) -> Result<&[u8], CmdError> {
    match v {
        Value::Str(s) if hll::is_hll(s) => Ok(s),
        Value::Str(_) => Err(not_hll()),
        _ => Err(CmdError::WrongType),
    }
}

fn pfadd(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let key = &args[1];
    let db = c.db;
    let max = srv.config.hll_sparse_max_bytes;
    let elems = args.tail(2);
    match srv.store.get(db, key) {
        None => {
            let mut v = hll::new_sparse();
            for e in elems.iter() {
                hll::add(&mut v, e, max).map_err(|_| corrupt())?;
            }
            hll::invalidate_cache(&mut v);
            // createHLLObject: raw.
            srv.store.set(db, key, Value::Str(Sds::raw_from_vec(v)));
            c.reply.int(1);
            return Ok(());
        }
        Some(v) => {
            let s = check_hll(v)?;
            // Touch the key (WATCH, AOF, events) only if a register rises.
            // A corrupt value is an error and no write (Redis answers
            // INVALIDOBJ without signalling the key or counting a change).
            let mut grows = false;
            let mut corrupted = false;
            for e in elems.iter() {
                match hll::would_add(s, e) {
                    // The add below hashes every element: stop here.
                    Ok(true) => {
                        grows = true;
                        break;
                    }
                    Ok(false) => {}
                    Err(_) => {
                        corrupted = true;
                        break;
                    }
                }
            }
            if corrupted || !grows {
                // Redis unshared it all the same (module doc), before it
                // found the corruption too.
                srv.store.mark_raw(db, key);
                if corrupted {
                    return Err(corrupt());
                }
                c.reply.int(0);
                return Ok(());
            }
        }
    }
    if let Ok(Some(Value::Str(s))) = srv.store.get_mut(db, key, Kind::String) {
        let mut v = s.make_vec();
        for e in elems.iter() {
            hll::add(&mut v, e, max).map_err(|_| corrupt())?;
        }
        hll::invalidate_cache(&mut v);
        drop(v);
        s.mark_raw();
    }
    c.reply.int(1);
    Ok(())
}

fn pfcount(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let db = c.db;
    if args.len() > 2 {
        // The union's cardinality, nothing written.
        let mut max = vec![0u8; REGISTERS];
        for key in args.iter().skip(1) {
            let Some(v) = srv.store.lookup_read(db, key) else {
                continue;
            };
            hll::merge(&mut max, check_hll(v)?).map_err(|_| corrupt())?;
        }
        c.reply.int(hll::count_raw(&max) as i64);
        return Ok(());
    }
    let key = &args[1];
    let card = match srv.store.lookup_read(db, key) {
        None => {
            c.reply.int(0);
            return Ok(());
        }
        Some(v) => {
            let s = check_hll(v)?;
            if let Some(card) = hll::cached(s) {
                srv.store.mark_raw(db, key);
                c.reply.int(card as i64);
                return Ok(());
            }
            match hll::count(s) {
                Ok(card) => card,
                Err(_) => {
                    // Redis unshared it before finding the corruption.
                    srv.store.mark_raw(db, key);
                    return Err(corrupt());
                }
            }
        }
    };
    // Refresh the cache: a change to the value, propagated like Redis.
    if let Ok(Some(Value::Str(s))) = srv.store.get_mut(db, key, Kind::String) {
        hll::set_cached(&mut s.make_vec(), card);
        s.mark_raw();
    }
    if srv.store.prop.enabled {
        srv.store.prop.append(db, args.iter());
    }
    c.reply.int(card as i64);
    Ok(())
}

fn pfmerge(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let db = c.db;
    let mut max = vec![0u8; REGISTERS];
    let mut use_dense = false;
    for key in args.iter().skip(1) {
        let Some(v) = srv.store.lookup_read(db, key) else {
            continue;
        };
        let s = check_hll(v)?;
        use_dense |= hll::encoding(s) == hll::DENSE;
        hll::merge(&mut max, s).map_err(|_| corrupt())?;
    }
    let dest = &args[1];
    let limit = srv.config.hll_sparse_max_bytes;
    let fill = |v: &mut Vec<u8>| -> CmdResult {
        if use_dense {
            hll::sparse_to_dense(v).map_err(|_| corrupt())?;
        }
        for (j, &m) in max.iter().enumerate() {
            if m != 0 {
                // Redis ignores a failed set here too (inputs were checked).
                let _ = hll::set(v, j, m, limit);
            }
        }
        hll::invalidate_cache(v);
        Ok(())
    };
    if srv.store.contains(db, dest) {
        if let Ok(Some(Value::Str(s))) = srv.store.get_mut(db, dest, Kind::String) {
            let r = fill(&mut s.make_vec());
            s.mark_raw();
            r?;
        }
    } else {
        let mut v = hll::new_sparse();
        fill(&mut v)?;
        srv.store.set(db, dest, Value::Str(Sds::raw_from_vec(v)));
    }
    c.reply.ok();
    Ok(())
}

fn pfdebug(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let db = c.db;
    let key = &args[2];
    let sub = &args[1];
    let encoding = match srv.store.get(db, key) {
        None => return Err(CmdError::Static("ERR The specified key does not exist")),
        Some(v) => hll::encoding(check_hll(v)?),
    };
    // Redis unshares the value before looking at the subcommand.
    srv.store.mark_raw(db, key);
    let is = |w: &[u8]| sub.eq_ignore_ascii_case(w);
    if is(b"getreg") || is(b"todense") {
        let converted = encoding == hll::SPARSE;
        if converted {
            // Converting is a write (Redis propagates it).
            if let Ok(Some(Value::Str(s))) = srv.store.get_mut(db, key, Kind::String) {
                hll::sparse_to_dense(&mut s.make_vec()).map_err(|_| corrupt())?;
            }
        }
        if is(b"todense") {
            c.reply.int(converted as i64);
            return Ok(());
        }
        let Some(Value::Str(s)) = srv.store.get(db, key) else {
            return Err(corrupt());
        };
        let regs = &s[hll::HDR_SIZE..];
        c.reply.array(REGISTERS);
        for i in 0..REGISTERS {
            c.reply.int(hll::dense_get(regs, i) as i64);
        }
    } else if is(b"decode") {
        if encoding != hll::SPARSE {
            return Err(CmdError::Static("ERR HLL encoding is not sparse"));
        }
        let Some(Value::Str(s)) = srv.store.get(db, key) else {
            return Err(corrupt());
        };
        c.reply.bulk(hll::decode(s).as_bytes());
    } else if is(b"encoding") {
        c.reply.simple(if encoding == hll::DENSE {
            "dense"
        } else {
            "sparse"
        });
    } else {
        return Err(CmdError::Custom(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        )));
    }
    Ok(())
}

/// PFSELFTEST: Redis's two checks - dense registers read back what was
/// written without disturbing neighbours, and sparse and dense HLLs fed
/// the same 10M elements agree and stay within 6 standard errors.
fn pfselftest(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let mut seed = crate::store::random_index(usize::MAX) as u64 | 1;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut dense = hll::new_sparse();
    hll::sparse_to_dense(&mut dense).map_err(|_| corrupt())?;
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (rand() & 63) as u8;
            hll::dense_set(&mut dense[hll::HDR_SIZE..], i, *b);
        }
        for (i, b) in bytes.iter().enumerate() {
            let got = hll::dense_get(&dense[hll::HDR_SIZE..], i);
            if got != *b {
                return Err(CmdError::Custom(format!(
                    "TESTFAILED Register {i} should be {b} but is {got}"
                )));
            }
        }
    }
    dense[hll::HDR_SIZE..].fill(0);
    let mut sparse = hll::new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint = 1u64;
    let base = rand();
    for j in 1..=10_000_000u64 {
        let ele = (j ^ base).to_le_bytes();
        let _ = hll::add(&mut dense, &ele, 3000);
        let _ = hll::add(&mut sparse, &ele, 3000);
        if j != checkpoint {
            continue;
        }
        if j < 1500 && hll::encoding(&sparse) != hll::SPARSE {
            return Err(CmdError::Static("TESTFAILED sparse encoding not used"));
        }
        let d = hll::count(&dense).map_err(|_| corrupt())?;
        if Ok(d) != hll::count(&sparse) {
            return Err(CmdError::Static("TESTFAILED dense/sparse disagree"));
        }
        let abserr = (checkpoint as i64 - d as i64).unsigned_abs();
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(CmdError::Custom(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            )));
        }
        checkpoint *= 10;
    }
    c.reply.ok();
    Ok(())
}
