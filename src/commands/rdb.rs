//! DUMP and RESTORE: a value in RDB form (`crate::rdb`), exactly as Redis
//! 7.0 serializes it, with Redis's checks and error texts.

use super::flags::*;
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::number::parse_i64;
use crate::rdb::{self, Decoder};
use crate::server::{Client, Server};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dump", 2, READONLY, (1, 1, 1), dump, "generic").doc(
        "2.6.0",
        "Return a serialized version of the value stored at the specified key.",
        "key",
    ),
    CommandSpec::new(
        "restore",
        -4,
        WRITE | DENYOOM,
        (1, 1, 1),
        restore,
        "generic",
    )
    .doc(
        "2.6.0",
        "Create a key using the provided serialized value, previously obtained using DUMP.",
        "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]",
    ),
];

fn dump(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let opts = rdb::save_opts(&srv.config);
    match srv.store.lookup_read(c.db, &args[1]) {
        None => c.reply.null(),
        Some(v) => {
            let p = rdb::save::dump_payload(v, &opts);
            c.reply.bulk(&p);
        }
    }
    Ok(())
}

fn restore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let a = &args[j];
        let more = args.len() - j - 1;
        if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if a.eq_ignore_ascii_case(b"absttl") {
            absttl = true;
        } else if a.eq_ignore_ascii_case(b"idletime") && more >= 1 && freq.is_none() {
            let v = parse_i64(&args[j + 1]).ok_or(CmdError::NotInteger)?;
            if v < 0 {
                return Err(CmdError::Static("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if a.eq_ignore_ascii_case(b"freq") && more >= 1 && idle.is_none() {
            let v = parse_i64(&args[j + 1]).ok_or(CmdError::NotInteger)?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::Static(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let key = &args[1];
    if !replace && srv.store.contains(c.db, key) {
        return Err(CmdError::Static("BUSYKEY Target key name already exists."));
    }
    let ttl = parse_i64(&args[2]).ok_or(CmdError::NotInteger)?;
    if ttl < 0 {
        return Err(CmdError::Static("ERR Invalid TTL value, must be >= 0"));
    }
    let payload = &args[3];
    if !rdb::save::verify_dump_payload(payload) {
        return Err(CmdError::Static(
            "ERR DUMP payload version or checksum are wrong",
        ));
    }
    let lim = rdb::load_limits(&srv.config);
    // Like Redis, the value is read from the whole payload: a body that
    // runs into the footer is not detected here (the checksum matched).
    let mut d = Decoder::new(payload);
    let value = match d.byte().and_then(|ty| d.value(ty, &lim)) {
        Ok(Some(v)) => v,
        _ => return Err(CmdError::Static("ERR Bad data format")),
    };
    let mut at = ttl as u64;
    if ttl > 0 && !absttl {
        at = at.saturating_add(srv.store.now());
    }
    if ttl > 0 && at <= srv.store.now() {
        // Already expired: the key is only deleted (when REPLACE found one).
        if replace && srv.store.remove(c.db, key).is_some() {
            srv.store.prop.rewrite_as_one([&b"DEL"[..], key]);
        }
        c.reply.ok();
        return Ok(());
    }
    if replace {
        srv.store.remove(c.db, key);
    }
    srv.store
        .set_with_expiry(c.db, key, value, (ttl > 0).then_some(at));
    // LRU/LFU hints: memkv keeps no per-key access clock yet.
    let _ = (idle, freq);
    if ttl > 0 && !absttl {
        // Propagated with an absolute expiry, like Redis.
        let at_s = at.to_string();
        let mut parts: Vec<&[u8]> = args.iter().collect();
        parts[2] = at_s.as_bytes();
        parts.push(b"ABSTTL");
        srv.store.prop.rewrite_as_one(parts);
    }
    c.reply.ok();
    Ok(())
}
