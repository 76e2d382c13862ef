//! RDB commands: DUMP and RESTORE (a value in RDB form, exactly as Redis
//! 7.0 serializes it, with Redis's checks and error texts) and SAVE,
//! BGSAVE [SCHEDULE], LASTSAVE (`crate::rdb::persist`).

use super::flags::*;
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::number::parse_i64;
use crate::rdb::{self, Decoder, persist};
use crate::server::{Client, Server};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dump", 2, READONLY, (1, 1, 1), dump, "generic").doc(
        "2.6.0",
        "Return a serialized version of the value stored at the specified key.",
        "key",
    ),
    CommandSpec::new(
        "lastsave",
        1,
        LOADING | STALE | FAST,
        (0, 0, 0),
        lastsave,
        "server",
    )
    .doc(
        "1.0.0",
        "Get the UNIX time stamp of the last successful save to disk",
        "",
    ),
    CommandSpec::new(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_MULTI,
        (0, 0, 0),
        save,
        "server",
    )
    .doc("1.0.0", "Synchronously save the dataset to disk", ""),
    CommandSpec::new("bgsave", -1, ADMIN | NOSCRIPT, (0, 0, 0), bgsave, "server").doc(
        "1.0.0",
        "Asynchronously save the dataset to disk",
        "[SCHEDULE]",
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

fn lastsave(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.int(srv.rdb.last_save_unix as i64);
    Ok(())
}

fn save(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    if srv.rdb.bgsave_in_progress() {
        return Err(CmdError::Static("ERR Background save already in progress"));
    }
    persist::save_now(srv).map_err(|_| CmdError::Static("ERR"))?;
    c.reply.ok();
    Ok(())
}

fn bgsave(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let schedule = match args.len() {
        1 => false,
        2 if args[1].eq_ignore_ascii_case(b"schedule") => true,
        _ => return Err(CmdError::Syntax),
    };
    if srv.rdb.bgsave_in_progress() {
        return Err(CmdError::Static("ERR Background save already in progress"));
    }
    if persist::other_snapshot_running(srv) || c.in_exec {
        if schedule || c.in_exec {
            srv.rdb.bgsave_scheduled = true;
            c.reply.simple("Background saving scheduled");
            return Ok(());
        }
        return Err(CmdError::Static(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        ));
    }
    persist::start_bgsave(srv).map_err(CmdError::Custom)?;
    c.reply.simple("Background saving started");
    Ok(())
}

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
        if replace && srv.store.delete(c.db, key) {
            srv.store.prop.rewrite_as_one([&b"DEL"[..], key]);
        }
        c.reply.ok();
        return Ok(());
    }
    if replace {
        srv.store.delete(c.db, key);
    }
    srv.store
        .set_with_expiry(c.db, key, value, (ttl > 0).then_some(at));
    srv.store.set_clock_hint(c.db, key, idle, freq);
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
