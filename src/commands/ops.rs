//! The operator's commands: SLOWLOG (GET / LEN / RESET / HELP), LATENCY
//! (LATEST / HISTORY / RESET / DOCTOR / GRAPH / HISTOGRAM / HELP) and
//! MONITOR, with Redis 7.0's replies. The state they read lives in
//! [`crate::ops`].

use super::flags::{ADMIN, LOADING, NOSCRIPT, STALE};
use super::{Args, CmdError, CmdResult, CommandSpec, lookup_sub, table};
use crate::number::parse_i64;
use crate::server::{Client, Server};

const G: &str = "server";
const LS: u32 = LOADING | STALE;
const ALS: u32 = ADMIN | LOADING | STALE;
const ANLS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("slowlog", -2, 0, (0, 0, 0), slowlog_help, G)
        .doc("2.2.12", "A container for slow log commands", "")
        .subs(SLOWLOG_SUBS),
    CommandSpec::new("latency", -2, 0, (0, 0, 0), latency_help, G)
        .doc("2.8.13", "A container for latency diagnostics commands", "")
        .subs(LATENCY_SUBS),
    CommandSpec::new("monitor", 1, ANLS, (0, 0, 0), monitor, G).doc(
        "1.0.0",
        "Listen for all requests received by the server in real time",
        "",
    ),
];

static SLOWLOG_SUBS: &[CommandSpec] = &[
    CommandSpec::new("slowlog|get", -2, ALS, (0, 0, 0), slowlog_get, G).doc(
        "2.2.12",
        "Get the slow log's entries",
        "[count]",
    ),
    CommandSpec::new("slowlog|help", 2, LS, (0, 0, 0), slowlog_help, G).doc(
        "6.2.0",
        "Show helpful text about the different subcommands",
        "",
    ),
    CommandSpec::new("slowlog|len", 2, ALS, (0, 0, 0), slowlog_len, G).doc(
        "2.2.12",
        "Get the slow log's length",
        "",
    ),
    CommandSpec::new("slowlog|reset", 2, ALS, (0, 0, 0), slowlog_reset, G).doc(
        "2.2.12",
        "Clear all entries from the slow log",
        "",
    ),
];

static LATENCY_SUBS: &[CommandSpec] = &[
    CommandSpec::new("latency|doctor", 2, ANLS, (0, 0, 0), latency_doctor, G).doc(
        "2.8.13",
        "Return a human readable latency analysis report.",
        "",
    ),
    CommandSpec::new("latency|graph", 3, ANLS, (0, 0, 0), latency_graph, G).doc(
        "2.8.13",
        "Return a latency graph for the event.",
        "event",
    ),
    CommandSpec::new("latency|help", 2, LS, (0, 0, 0), latency_help, G).doc(
        "2.8.13",
        "Show helpful text about the different subcommands.",
        "",
    ),
    CommandSpec::new(
        "latency|histogram",
        -2,
        ANLS,
        (0, 0, 0),
        latency_histogram,
        G,
    )
    .doc(
        "7.0.0",
        "Return the cumulative distribution of latencies of a subset of commands or all.",
        "[command [command ...]]",
    ),
    CommandSpec::new("latency|history", 3, ANLS, (0, 0, 0), latency_history, G).doc(
        "2.8.13",
        "Return timestamp-latency samples for the event.",
        "event",
    ),
    CommandSpec::new("latency|latest", 2, ANLS, (0, 0, 0), latency_latest, G).doc(
        "2.8.13",
        "Return the latest latency samples for all events.",
        "",
    ),
    CommandSpec::new("latency|reset", -2, ANLS, (0, 0, 0), latency_reset, G).doc(
        "2.8.13",
        "Reset latency data for one or more events.",
        "[event [event ...]]",
    ),
];

// ------------------------------------------------------------------ SLOWLOG

const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

fn slowlog_help(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    super::server::help(&mut c.reply, SLOWLOG_HELP);
    Ok(())
}

fn slowlog_get(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let log = &srv.ops.slowlog.entries;
    let mut count = 10usize;
    if let Some(a) = args.get(2) {
        let bad = CmdError::Static("ERR count should be greater than or equal to -1");
        count = match parse_i64(a) {
            Some(-1) => log.len(),
            Some(n) if n >= 0 => n as usize,
            _ => return Err(bad),
        };
    }
    let n = count.min(log.len());
    c.reply.array(n);
    for e in log.iter().take(n) {
        c.reply.array(6);
        c.reply.int(e.id as i64);
        c.reply.int(e.time as i64);
        c.reply.int(e.usec as i64);
        c.reply.array(e.argv.len());
        for a in &e.argv {
            c.reply.bulk(a);
        }
        c.reply.bulk(e.peer.as_bytes());
        c.reply.bulk(&e.name);
    }
    Ok(())
}

fn slowlog_len(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.int(srv.ops.slowlog.entries.len() as i64);
    Ok(())
}

fn slowlog_reset(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    srv.ops.slowlog.reset();
    c.reply.ok();
    Ok(())
}

// ------------------------------------------------------------------ LATENCY

const LATENCY_HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

fn latency_help(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    super::server::help(&mut c.reply, LATENCY_HELP);
    Ok(())
}

fn latency_latest(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let events = &srv.ops.latency.events;
    c.reply.array(events.len());
    for (name, ts) in events {
        let last = ts.latest();
        c.reply.array(4);
        c.reply.bulk(name.as_bytes());
        c.reply.int(last.time as i64);
        c.reply.int(last.ms as i64);
        c.reply.int(ts.max as i64);
    }
    Ok(())
}

fn latency_history(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    match srv.ops.latency.get(&args[2]) {
        None => c.reply.array(0),
        Some((_, ts)) => {
            let samples: Vec<_> = ts.history().collect();
            c.reply.array(samples.len());
            for s in samples {
                c.reply.array(2);
                c.reply.int(s.time as i64);
                c.reply.int(s.ms as i64);
            }
        }
    }
    Ok(())
}

fn latency_reset(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let n = if args.len() == 2 {
        srv.ops.latency.reset(None)
    } else {
        args.iter()
            .skip(2)
            .map(|e| srv.ops.latency.reset(Some(e)))
            .sum()
    };
    c.reply.int(n as i64);
    Ok(())
}

fn latency_doctor(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let ctx = crate::ops::latency::DoctorCtx {
        threshold_ms: srv.ops.settings.latency_threshold_ms,
        slowlog_slower_than: srv.ops.settings.slowlog_slower_than,
        fsync_always: srv.config.appendfsync == crate::config::AppendFsync::Always,
        hz: srv.config.hz,
        anon_huge_pages: crate::ops::latency::anon_huge_pages(),
    };
    let text = crate::ops::latency::doctor(&srv.ops.latency, &ctx);
    c.reply.verbatim(text.as_bytes());
    Ok(())
}

fn latency_graph(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    match srv.ops.latency.get(&args[2]) {
        None => Err(CmdError::Custom(format!(
            "ERR No samples available for event '{}'",
            String::from_utf8_lossy(&args[2])
        ))),
        Some((name, ts)) => {
            let g = crate::ops::latency::graph(name, ts);
            c.reply.verbatim(g.as_bytes());
            Ok(())
        }
    }
}

/// Finds a command by name, `parent|sub` for a subcommand (Redis's
/// lookupCommandBySds).
fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    match name.iter().position(|&b| b == b'|') {
        None => table().lookup(name),
        Some(i) => lookup_sub(table().lookup(&name[..i])?, &name[i + 1..]),
    }
}

fn latency_histogram(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut wanted: Vec<&'static CommandSpec> = Vec::new();
    if args.len() == 2 {
        wanted = srv
            .ops
            .stats()
            .filter(|(_, st)| st.hist.is_some())
            .map(|(s, _)| s)
            .collect();
    } else {
        for name in args.iter().skip(2) {
            if let Some(spec) = find(name) {
                wanted.push(spec);
                // A container also answers for each of its subcommands.
                wanted.extend(spec.subcommands.iter());
            }
        }
    }
    let with_data: Vec<(&'static str, &crate::ops::hist::Histogram)> = wanted
        .into_iter()
        .filter_map(|spec| {
            srv.ops
                .stats()
                .find(|(s, _)| std::ptr::eq(*s, spec))
                .and_then(|(s, st)| st.hist.as_ref().map(|h| (s.name, h)))
        })
        .collect();
    c.reply.map(with_data.len());
    for (name, h) in with_data {
        c.reply.bulk(name.as_bytes());
        c.reply.map(2);
        c.reply.bulk(b"calls");
        c.reply.int(h.total as i64);
        c.reply.bulk(b"histogram_usec");
        let cdf = h.log_cdf();
        c.reply.map(cdf.len());
        for (us, n) in cdf {
            c.reply.int(us as i64);
            c.reply.int(n as i64);
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ MONITOR

fn monitor(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    // Redis's CLIENT_DENY_BLOCKING: inside MULTI/EXEC (and scripts, which
    // cannot call it: noscript) a reply per command is expected.
    if c.in_exec {
        return Err(CmdError::Static(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    if c.monitor {
        return Ok(());
    }
    c.monitor = true;
    srv.ops.monitors.push(c.id);
    c.reply.ok();
    Ok(())
}

/// Leaves MONITOR mode (RESET).
pub fn stop_monitor(srv: &mut Server, c: &mut Client) {
    if c.monitor {
        c.monitor = false;
        srv.ops.monitors.retain(|&id| id != c.id);
    }
}
