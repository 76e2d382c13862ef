//! The MEMORY command family: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE,
//! HELP. The figures come from `crate::memory` (the counting allocator and
//! the per-entry size estimate).

use super::flags::*;
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::memory::{Overhead, rss_bytes, usage};
use crate::number::parse_i64;
use crate::server::{Client, Server};

const G: &str = "server";

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("memory", -2, 0, (0, 0, 0), help, G)
    .doc("4.0.0", "A container for memory diagnostics commands", "")
    .subs(SUBCOMMANDS)];

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("memory|doctor", 2, 0, (0, 0, 0), doctor, G).doc(
        "4.0.0",
        "Outputs memory problems report",
        "",
    ),
    CommandSpec::new("memory|help", 2, LOADING | STALE, (0, 0, 0), help, G).doc(
        "4.0.0",
        "Show helpful text about the different subcommands",
        "",
    ),
    CommandSpec::new("memory|malloc-stats", 2, 0, (0, 0, 0), malloc_stats, G).doc(
        "4.0.0",
        "Show allocator internal stats",
        "",
    ),
    CommandSpec::new("memory|purge", 2, 0, (0, 0, 0), purge, G).doc(
        "4.0.0",
        "Ask the allocator to release memory",
        "",
    ),
    CommandSpec::new("memory|stats", 2, 0, (0, 0, 0), stats, G).doc(
        "4.0.0",
        "Show memory usage details",
        "",
    ),
    CommandSpec::new("memory|usage", -3, READONLY, (2, 2, 1), usage_cmd, G).doc(
        "4.0.0",
        "Estimate the memory usage of a key",
        "key [SAMPLES count]",
    ),
];

const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

fn help(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.array(HELP.len());
    for line in HELP {
        c.reply.simple(line);
    }
    Ok(())
}

/// MEMORY USAGE key [SAMPLES count]: like Redis, the key is looked up
/// without expiring or touching it.
fn usage_cmd(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut samples = 5usize;
    let mut j = 3;
    while j < args.len() {
        if args[j].eq_ignore_ascii_case(b"samples") && j + 1 < args.len() {
            let n = parse_i64(&args[j + 1]).ok_or(CmdError::NotInteger)?;
            if n < 0 {
                return Err(CmdError::Syntax);
            }
            samples = if n == 0 { 0 } else { n as usize };
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    match srv.store.db(c.db).keys().get_key_value(&args[2][..]) {
        Some((k, v)) => c.reply.int(usage::entry_bytes(k, v, samples) as i64),
        None => c.reply.null(),
    }
    Ok(())
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn stats(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let o = Overhead::of(srv);
    let rss = rss_bytes() as usize;
    let r = &mut c.reply;
    r.map(27 + o.dbs.len());
    let num = |r: &mut crate::resp::Reply, k: &str, v: usize| {
        r.bulk(k.as_bytes());
        r.int(v as i64);
    };
    num(r, "peak.allocated", o.peak);
    num(r, "total.allocated", o.total);
    num(r, "startup.allocated", o.startup);
    num(r, "replication.backlog", 0);
    num(r, "clients.slaves", 0);
    num(r, "clients.normal", o.clients_normal);
    num(r, "cluster.links", 0);
    num(r, "aof.buffer", o.aof_buffer);
    num(r, "lua.caches", o.lua_caches);
    num(r, "functions.caches", 0);
    for &(db, main, expires) in &o.dbs {
        r.bulk(format!("db.{db}").as_bytes());
        r.map(2);
        num(r, "overhead.hashtable.main", main);
        num(r, "overhead.hashtable.expires", expires);
    }
    num(r, "overhead.total", o.overhead_total);
    num(r, "keys.count", o.keys);
    let net = o.total.saturating_sub(o.startup);
    let per_key = net.checked_div(o.keys).unwrap_or(0);
    num(r, "keys.bytes-per-key", per_key);
    num(r, "dataset.bytes", o.dataset);
    let dbl = |r: &mut crate::resp::Reply, k: &str, v: f64| {
        r.bulk(k.as_bytes());
        r.double(v);
    };
    dbl(r, "dataset.percentage", ratio(o.dataset * 100, net));
    dbl(r, "peak.percentage", ratio(o.total * 100, o.peak));
    num(r, "allocator.allocated", o.total);
    num(r, "allocator.active", o.total);
    num(r, "allocator.resident", rss);
    dbl(r, "allocator-fragmentation.ratio", 1.0);
    num(r, "allocator-fragmentation.bytes", 0);
    dbl(r, "allocator-rss.ratio", ratio(rss, o.total));
    num(r, "allocator-rss.bytes", rss.saturating_sub(o.total));
    dbl(r, "rss-overhead.ratio", 1.0);
    num(r, "rss-overhead.bytes", 0);
    dbl(r, "fragmentation", ratio(rss, o.total));
    num(r, "fragmentation.bytes", rss.saturating_sub(o.total));
    Ok(())
}

/// Redis's getMemoryDoctorReport, on memkv's figures.
fn doctor(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let o = Overhead::of(srv);
    let rss = rss_bytes() as usize;
    let clients = srv.client_count().max(1);
    let text = doctor_report(&o, rss, clients);
    c.reply.verbatim(text.as_bytes());
    Ok(())
}

fn doctor_report(o: &Overhead, rss: usize, clients: usize) -> String {
    if o.total < 5 << 20 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".into();
    }
    let big_peak = ratio(o.peak, o.total) > 1.5;
    let high_frag = ratio(rss, o.total) > 1.4 && rss.saturating_sub(o.total) > 10 << 20;
    let big_client_buf = o.clients_normal / clients > 200 * 1024;
    if !big_peak && !high_frag && !big_client_buf {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".into();
    }
    let mut s =
        String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    if big_peak {
        s.push_str(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
    }
    if high_frag {
        s.push_str(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n");
    }
    if big_client_buf {
        s.push_str(" * Big client buffers: The clients output buffers are in general too big, and clients input/output buffers combined are using a lot of memory. This is usually an application bug, or a client that is stalled and does not read the replies. Make sure that the clients output buffer limits are set to sensible values and that the application is not stalled.\n\n");
    }
    s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    s
}

/// Redis built with libc malloc answers this; memkv's counters are in
/// INFO memory and MEMORY STATS.
fn malloc_stats(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply
        .bulk(b"Stats not supported for the current allocator");
    Ok(())
}

/// Gives free heap pages back to the system (glibc's malloc_trim).
fn purge(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    // SAFETY: malloc_trim only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
    c.reply.ok();
    Ok(())
}
