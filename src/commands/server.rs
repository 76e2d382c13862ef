//! Server commands: COMMAND (COUNT, INFO, DOCS, LIST, GETKEYS,
//! GETKEYSANDFLAGS, HELP), INFO, CONFIG (GET, SET, RESETSTAT, REWRITE, HELP),
//! TIME, DBSIZE, LASTSAVE, SAVE / BGSAVE (refused: memkv persists with AOF
//! only) and SHUTDOWN, with Redis 7.0's replies and error texts.
//!
//! Everything COMMAND reports comes from the command table
//! (`commands::table().all`) and the metadata derived from it in
//! [`super::docs`]; nothing here lists commands by hand.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::docs::{self, docs_for};
use super::flags::{ADMIN, ALLOW_BUSY, FAST, LOADING, NO_MULTI, NOSCRIPT, READONLY, STALE};
use super::{Args, CmdError, CmdResult, CommandSpec, lookup_sub, table};
use crate::resp::Reply;
use crate::server::{Client, Server, ShutdownRequest, Stats};

const G: &str = "server";
const LS: u32 = LOADING | STALE;
const CFG: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("command", -1, LS, (0, 0, 0), command, G)
        .doc("2.8.13", "Get array of Redis command details", "")
        .subs(COMMAND_SUBS),
    CommandSpec::new("info", -1, LS, (0, 0, 0), info, G).doc(
        "1.0.0",
        "Get information and statistics about the server",
        "[section [section ...]]",
    ),
    CommandSpec::new("config", -2, 0, (0, 0, 0), config_help, G)
        .doc("2.0.0", "A container for server configuration commands", "")
        .subs(CONFIG_SUBS),
    CommandSpec::new("time", 1, LS | FAST, (0, 0, 0), time, G).doc(
        "2.6.0",
        "Return the current server time",
        "",
    ),
    CommandSpec::new("dbsize", 1, READONLY | FAST, (0, 0, 0), dbsize, G).doc(
        "1.0.0",
        "Return the number of keys in the selected database",
        "",
    ),
    CommandSpec::new("lastsave", 1, LS | FAST, (0, 0, 0), lastsave, G).doc(
        "1.0.0",
        "Get the UNIX time stamp of the last successful save to disk",
        "",
    ),
    CommandSpec::new("save", 1, ADMIN | NOSCRIPT | NO_MULTI, (0, 0, 0), save, G).doc(
        "1.0.0",
        "Synchronously save the dataset to disk",
        "",
    ),
    CommandSpec::new("bgsave", -1, ADMIN | NOSCRIPT, (0, 0, 0), save, G).doc(
        "1.0.0",
        "Asynchronously save the dataset to disk",
        "[SCHEDULE]",
    ),
    CommandSpec::new(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LS | NO_MULTI | ALLOW_BUSY,
        (0, 0, 0),
        shutdown,
        G,
    )
    .doc(
        "1.0.0",
        "Synchronously save the dataset to disk and then shut down the server",
        "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]",
    ),
];

static COMMAND_SUBS: &[CommandSpec] = &[
    CommandSpec::new("command|count", 2, LS, (0, 0, 0), command_count, G).doc(
        "2.8.13",
        "Get total number of Redis commands",
        "",
    ),
    CommandSpec::new("command|docs", -2, LS, (0, 0, 0), command_docs, G).doc(
        "7.0.0",
        "Get array of specific Redis command documentation",
        "[command-name [command-name ...]]",
    ),
    CommandSpec::new("command|getkeys", -4, LS, (0, 0, 0), command_getkeys, G).doc(
        "2.8.13",
        "Extract keys given a full Redis command",
        "",
    ),
    CommandSpec::new(
        "command|getkeysandflags",
        -4,
        LS,
        (0, 0, 0),
        command_getkeysandflags,
        G,
    )
    .doc(
        "7.0.0",
        "Extract keys and access flags given a full Redis command",
        "",
    ),
    CommandSpec::new("command|help", 2, LS, (0, 0, 0), command_help, G).doc(
        "5.0.0",
        "Show helpful text about the different subcommands",
        "",
    ),
    CommandSpec::new("command|info", -2, LS, (0, 0, 0), command_info, G).doc(
        "2.8.13",
        "Get array of specific Redis command details, or all when no argument is given.",
        "[command-name [command-name ...]]",
    ),
    CommandSpec::new("command|list", -2, LS, (0, 0, 0), command_list, G).doc(
        "7.0.0",
        "Get an array of Redis command names",
        "[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]",
    ),
];

static CONFIG_SUBS: &[CommandSpec] = &[
    CommandSpec::new("config|get", -3, CFG, (0, 0, 0), config_get, G).doc(
        "2.0.0",
        "Get the values of configuration parameters",
        "parameter [parameter ...]",
    ),
    CommandSpec::new("config|help", 2, LS, (0, 0, 0), config_help, G).doc(
        "5.0.0",
        "Show helpful text about the different subcommands",
        "",
    ),
    CommandSpec::new("config|resetstat", 2, CFG, (0, 0, 0), config_resetstat, G).doc(
        "2.0.0",
        "Reset the stats returned by INFO",
        "",
    ),
    CommandSpec::new("config|rewrite", 2, CFG, (0, 0, 0), config_rewrite, G).doc(
        "2.8.0",
        "Rewrite the configuration file with the in memory configuration",
        "",
    ),
    CommandSpec::new("config|set", -4, CFG, (0, 0, 0), config_set, G).doc(
        "2.0.0",
        "Set configuration parameters to the given values",
        "parameter value [parameter value ...]",
    ),
];

// ------------------------------------------------------------------ COMMAND

/// Finds a command by name; `parent|sub` names a subcommand (Redis 7).
fn find_command(name: &[u8]) -> Option<&'static CommandSpec> {
    match name.iter().position(|&b| b == b'|') {
        None => table().lookup(name),
        Some(i) => {
            let parent = table().lookup(&name[..i])?;
            lookup_sub(parent, &name[i + 1..])
        }
    }
}

/// Bare COMMAND: COMMAND INFO for every command.
fn command(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let all = &table().all;
    c.reply.array(all.len());
    for spec in all {
        write_info(&mut c.reply, spec);
    }
    Ok(())
}

fn command_count(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.int(table().all.len() as i64);
    Ok(())
}

fn command_info(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() == 2 {
        return command(srv, c, args);
    }
    c.reply.array(args.len() - 2);
    for name in args.iter().skip(2) {
        match find_command(name) {
            Some(spec) => write_info(&mut c.reply, spec),
            None => c.reply.null(),
        }
    }
    Ok(())
}

fn command_docs(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let specs: Vec<&'static CommandSpec> = if args.len() == 2 {
        table().all.clone()
    } else {
        args.iter().skip(2).filter_map(find_command).collect()
    };
    c.reply.map(specs.len());
    for spec in specs {
        c.reply.bulk(spec.name.as_bytes());
        docs::write_docs(&mut c.reply, spec);
    }
    Ok(())
}

enum ListFilter<'a> {
    All,
    Module,
    AclCat(&'a [u8]),
    Pattern(&'a [u8]),
}

fn command_list(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut filter = ListFilter::All;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if args[i].eq_ignore_ascii_case(b"filterby") && more == 2 {
            let arg = &args[i + 2];
            filter = match args[i + 1].to_ascii_lowercase().as_slice() {
                b"module" => ListFilter::Module,
                b"aclcat" => ListFilter::AclCat(arg),
                b"pattern" => ListFilter::Pattern(arg),
                _ => return Err(CmdError::Syntax),
            };
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keep = |spec: &CommandSpec| match filter {
        ListFilter::All => true,
        ListFilter::Module => false,
        ListFilter::AclCat(cat) => docs::acl_categories(spec)
            .iter()
            .any(|c| c.as_bytes()[1..].eq_ignore_ascii_case(cat)),
        ListFilter::Pattern(p) => crate::glob::glob_match(p, spec.name.as_bytes(), true),
    };
    let mut names = Vec::new();
    for top in &table().all {
        for spec in std::iter::once(*top).chain(top.subcommands.iter()) {
            if keep(spec) {
                names.push(spec.name);
            }
        }
    }
    c.reply.array(names.len());
    for n in names {
        c.reply.bulk(n.as_bytes());
    }
    Ok(())
}

/// Resolves the command of COMMAND GETKEYS and its keys: (argv index, spec
/// index) pairs, or Redis's error.
/// (argv index, key spec index) of each key.
type KeyPositions = Vec<(usize, usize)>;

fn getkeys_common(args: &Args) -> Result<(KeyPositions, &'static CommandSpec), CmdError> {
    let argv: Vec<&[u8]> = args.iter().skip(2).collect();
    let top = argv.first().and_then(|n| table().lookup(n));
    let spec = match top {
        Some(t) if !t.subcommands.is_empty() && argv.len() >= 2 => lookup_sub(t, argv[1]),
        other => other,
    };
    let Some(spec) = spec else {
        return Err(CmdError::Static("ERR Invalid command specified"));
    };
    let d = docs_for(spec);
    // Redis's doesCommandHaveKeys: some spec not marked not_key.
    if spec.keys_fn.is_none() && d.key_specs.iter().all(|k| k.flags.contains(&"not_key")) {
        return Err(CmdError::Static("ERR The command has no key arguments"));
    }
    if !spec.arity_ok(argv.len()) {
        return Err(CmdError::Static(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let invalid = CmdError::Static("ERR Invalid arguments specified for command");
    let keys = match spec.keys_fn {
        // A written key from an extractor is reported after the specs
        // (`getkeysandflags` flags it OW update).
        Some(f) => f(&argv)
            .into_iter()
            .map(|(i, w)| (i, if w { d.key_specs.len() } else { 0 }))
            .collect(),
        None => docs::keys_of(d, &argv).map_err(|_| invalid.clone())?,
    };
    if keys.is_empty() && !d.keys_optional {
        return Err(invalid);
    }
    Ok((keys, spec))
}

fn command_getkeys(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (keys, _) = getkeys_common(args)?;
    c.reply.array(keys.len());
    for (i, _) in keys {
        c.reply.bulk(&args[i + 2]);
    }
    Ok(())
}

fn command_getkeysandflags(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (keys, spec) = getkeys_common(args)?;
    let d = docs_for(spec);
    c.reply.array(keys.len());
    for (i, si) in keys {
        c.reply.array(2);
        c.reply.bulk(&args[i + 2]);
        let mut flags = d
            .key_specs
            .get(si)
            .map(|k| k.flags)
            .unwrap_or(&["OW", "update"]);
        if flags.contains(&"variable_flags") {
            // SET: a plain overwrite unless GET reads the old value.
            let get = args.iter().skip(5).any(|a| a.eq_ignore_ascii_case(b"get"));
            flags = if get {
                &["RW", "access", "update"]
            } else {
                &["OW", "update"]
            };
        }
        c.reply.set(flags.len());
        for f in flags {
            c.reply.simple(f);
        }
    }
    Ok(())
}

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

fn command_help(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    help(&mut c.reply, COMMAND_HELP);
    Ok(())
}

pub(crate) fn help(r: &mut Reply, lines: &[&str]) {
    r.array(lines.len());
    for l in lines {
        r.simple(l);
    }
}

/// One COMMAND INFO entry: the 10-element Redis 7 form.
fn write_info(r: &mut Reply, spec: &CommandSpec) {
    let d = docs_for(spec);
    r.array(10);
    r.bulk(spec.name.as_bytes());
    r.int(spec.arity as i64);
    let mut flag_names: Vec<&str> = Vec::new();
    for &(f, name) in super::flags::NAMES {
        if f == ALLOW_BUSY && d.movablekeys {
            flag_names.push("movablekeys");
        }
        if spec.has(f) {
            flag_names.push(name);
        }
    }
    if d.movablekeys && !flag_names.contains(&"movablekeys") {
        flag_names.push("movablekeys");
    }
    r.set(flag_names.len());
    for f in flag_names {
        r.simple(f);
    }
    r.int(spec.first_key as i64);
    r.int(spec.last_key as i64);
    r.int(spec.step as i64);
    let cats = docs::acl_categories(spec);
    r.set(cats.len());
    for cat in cats {
        r.simple(cat);
    }
    r.set(0); // tips
    docs::write_key_specs(r, &d.key_specs);
    if spec.subcommands.is_empty() {
        r.set(0);
    } else {
        r.array(spec.subcommands.len());
        for sub in spec.subcommands {
            write_info(r, sub);
        }
    }
}

// --------------------------------------------------------------------- INFO

/// `redis_mode` of INFO and `mode` of HELLO.
pub fn redis_mode(srv: &Server) -> &'static str {
    if srv.cluster.is_some() {
        "cluster"
    } else {
        "standalone"
    }
}

/// INFO sections in Redis's order: (name, header, in the default set).
const SECTIONS: &[(&str, &str, bool)] = &[
    ("server", "Server", true),
    ("clients", "Clients", true),
    ("memory", "Memory", true),
    ("persistence", "Persistence", true),
    ("stats", "Stats", true),
    ("replication", "Replication", true),
    ("cpu", "CPU", true),
    ("modules", "Modules", true),
    ("commandstats", "Commandstats", false),
    ("errorstats", "Errorstats", true),
    ("latencystats", "Latencystats", false),
    ("cluster", "Cluster", true),
    ("keyspace", "Keyspace", true),
];

fn info(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut wanted = [false; SECTIONS.len()];
    if args.len() == 1 {
        for (w, s) in wanted.iter_mut().zip(SECTIONS) {
            *w = s.2;
        }
    }
    for a in args.iter().skip(1) {
        let a = a.to_ascii_lowercase();
        match a.as_slice() {
            b"default" => {
                for (w, s) in wanted.iter_mut().zip(SECTIONS) {
                    *w |= s.2;
                }
            }
            b"all" | b"everything" => wanted = [true; SECTIONS.len()],
            name => {
                if let Some(i) = SECTIONS.iter().position(|s| s.0.as_bytes() == name) {
                    wanted[i] = true;
                }
            }
        }
    }
    let text = info_text(srv, c, &wanted);
    c.reply.verbatim(text.as_bytes());
    Ok(())
}

/// Builds the INFO text for the selected sections (CRLF line endings,
/// sections separated by an empty line, no trailing empty line).
fn info_text(srv: &Server, c: &Client, wanted: &[bool]) -> String {
    let mut out = String::with_capacity(4096);
    let mut first = true;
    for (i, &(name, header, _)) in SECTIONS.iter().enumerate() {
        if !wanted.get(i).copied().unwrap_or(false) {
            continue;
        }
        if !first {
            out.push_str("\r\n");
        }
        first = false;
        let _ = write!(out, "# {}\r\n", header);
        let mut lines = Vec::new();
        section(srv, c, name, &mut lines);
        for (k, v) in lines {
            let _ = write!(out, "{}:{}\r\n", k, v);
        }
    }
    out
}

fn section(srv: &Server, c: &Client, name: &str, l: &mut Vec<(String, String)>) {
    let mut kv = |k: &str, v: String| l.push((k.to_string(), v));
    match name {
        "server" => {
            let uptime = srv.started.elapsed().as_secs();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            kv("redis_version", crate::REDIS_VERSION.into());
            kv("memkv_version", env!("CARGO_PKG_VERSION").into());
            kv("redis_git_sha1", "00000000".into());
            kv("redis_git_dirty", "0".into());
            kv("redis_build_id", "0".into());
            kv("redis_mode", redis_mode(srv).into());
            kv("os", os_name());
            kv("arch_bits", (usize::BITS).to_string());
            kv("monotonic_clock", "POSIX clock_gettime".into());
            kv("multiplexing_api", "epoll".into());
            kv("atomicvar_api", "c11-builtin".into());
            kv("gcc_version", "0.0.0".into());
            kv("process_id", std::process::id().to_string());
            kv("process_supervised", "no".into());
            kv("run_id", srv.run_id.clone());
            kv("tcp_port", srv.port.to_string());
            kv("server_time_usec", now.as_micros().to_string());
            kv("uptime_in_seconds", uptime.to_string());
            kv("uptime_in_days", (uptime / 86400).to_string());
            kv("hz", srv.config.hz.to_string());
            kv("configured_hz", srv.config.hz.to_string());
            kv("lru_clock", ((now.as_secs()) & ((1 << 24) - 1)).to_string());
            kv(
                "executable",
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
            kv(
                "config_file",
                srv.config
                    .config_file
                    .as_ref()
                    .map(|p| {
                        std::fs::canonicalize(p)
                            .unwrap_or_else(|_| p.clone())
                            .display()
                            .to_string()
                    })
                    .unwrap_or_default(),
            );
            kv("io_threads_active", "0".into());
        }
        "clients" => {
            let others = srv.clients.iter().filter_map(|(_, c)| c.as_deref());
            let mut max_in = c.query_len();
            let mut max_out = c.reply.len();
            let mut blocked = c.park.is_some() as usize;
            for o in others {
                max_in = max_in.max(o.query_len());
                max_out = max_out.max(o.reply.len());
                blocked += o.park.is_some() as usize;
            }
            kv("connected_clients", srv.client_count().to_string());
            kv("cluster_connections", "0".into());
            kv("maxclients", srv.config.maxclients.to_string());
            kv("client_recent_max_input_buffer", max_in.to_string());
            kv("client_recent_max_output_buffer", max_out.to_string());
            kv("blocked_clients", blocked.to_string());
            kv("tracking_clients", srv.pubsub.tracking.clients.to_string());
            kv("clients_in_timeout_table", "0".into());
        }
        "memory" => crate::memory::info_section(srv, &mut kv),
        "persistence" => {
            let started = unix_secs(srv.started_unix);
            kv("loading", (srv.loading.is_some() as u8).to_string());
            kv("async_loading", "0".into());
            if let Some(ld) = &srv.loading {
                let perc = if ld.bytes_total == 0 {
                    100.0
                } else {
                    ld.bytes_done as f64 * 100.0 / ld.bytes_total as f64
                };
                kv("loading_start_time", started.to_string());
                kv("loading_total_bytes", ld.bytes_total.to_string());
                kv("loading_rdb_used_mem", "0".into());
                kv("loading_loaded_bytes", ld.bytes_done.to_string());
                kv("loading_loaded_perc", format!("{:.2}", perc));
                kv("loading_eta_seconds", "1".into());
            }
            kv("current_cow_peak", "0".into());
            kv("current_cow_size", "0".into());
            kv("current_cow_size_age", "0".into());
            kv("current_fork_perc", "0.00".into());
            kv("current_save_keys_processed", "0".into());
            kv("current_save_keys_total", "0".into());
            kv("rdb_changes_since_last_save", srv.store.dirty.to_string());
            kv("rdb_bgsave_in_progress", "0".into());
            kv("rdb_last_save_time", started.to_string());
            kv("rdb_last_bgsave_status", "ok".into());
            kv("rdb_last_bgsave_time_sec", "-1".into());
            kv("rdb_current_bgsave_time_sec", "-1".into());
            kv("rdb_saves", "0".into());
            kv("rdb_last_cow_size", "0".into());
            kv("rdb_last_load_keys_expired", "0".into());
            kv("rdb_last_load_keys_loaded", "0".into());
            let aof = srv.aof.as_ref();
            let in_progress = aof.is_some_and(|a| a.rewrite_in_progress());
            let flag = |b: bool| (b as u8).to_string();
            kv("aof_enabled", flag(aof.is_some()));
            kv("aof_rewrite_in_progress", flag(in_progress));
            kv(
                "aof_rewrite_scheduled",
                flag(aof.is_some_and(|a| a.rewrite_scheduled)),
            );
            kv(
                "aof_last_rewrite_time_sec",
                aof.map_or(-1, |a| a.last_rewrite_secs).to_string(),
            );
            // The start of a running rewrite is private to the AOF module.
            kv(
                "aof_current_rewrite_time_sec",
                if in_progress { "0" } else { "-1" }.into(),
            );
            let ok = |b: bool| if b { "ok" } else { "err" }.to_string();
            kv(
                "aof_last_bgrewrite_status",
                ok(aof.is_none_or(|a| a.last_rewrite_ok)),
            );
            kv("aof_rewrites", "0".into());
            kv("aof_rewrites_consecutive_failures", "0".into());
            kv(
                "aof_last_write_status",
                ok(aof.is_none_or(|a| a.write_error.is_none())),
            );
            kv("aof_last_cow_size", "0".into());
            kv("module_fork_in_progress", "0".into());
            kv("module_fork_last_cow_size", "0".into());
            if let Some(a) = aof {
                use std::sync::atomic::Ordering::Relaxed;
                kv(
                    "aof_current_size",
                    a.sizes.current.load(Relaxed).to_string(),
                );
                kv("aof_base_size", a.sizes.base.load(Relaxed).to_string());
                kv("aof_pending_rewrite", flag(a.rewrite_scheduled));
                kv("aof_buffer_length", "0".into());
                kv("aof_pending_bio_fsync", "0".into());
                kv("aof_delayed_fsync", "0".into());
            }
        }
        "stats" => {
            let st = &srv.stats;
            let (ops, in_kbps, out_kbps) = instantaneous(st, srv.started.elapsed().as_secs_f64());
            kv(
                "total_connections_received",
                st.connections_received.to_string(),
            );
            kv(
                "total_commands_processed",
                st.commands_processed.to_string(),
            );
            kv("instantaneous_ops_per_sec", ops.to_string());
            kv("total_net_input_bytes", st.net_input_bytes.to_string());
            kv("total_net_output_bytes", st.net_output_bytes.to_string());
            kv("total_net_repl_input_bytes", "0".into());
            kv("total_net_repl_output_bytes", "0".into());
            kv("instantaneous_input_kbps", format!("{:.2}", in_kbps));
            kv("instantaneous_output_kbps", format!("{:.2}", out_kbps));
            kv("instantaneous_input_repl_kbps", "0.00".into());
            kv("instantaneous_output_repl_kbps", "0.00".into());
            kv("rejected_connections", st.rejected_connections.to_string());
            kv("sync_full", "0".into());
            kv("sync_partial_ok", "0".into());
            kv("sync_partial_err", "0".into());
            kv("expired_keys", srv.store.expired_keys.to_string());
            kv("expired_stale_perc", "0.00".into());
            kv("expired_time_cap_reached_count", "0".into());
            kv("evicted_keys", srv.store.evicted_keys.to_string());
            kv(
                "evicted_clients",
                srv.store.evict.evicted_clients.to_string(),
            );
            kv("keyspace_hits", srv.store.keyspace_hits.to_string());
            kv("keyspace_misses", srv.store.keyspace_misses.to_string());
            let (channels, patterns, shard) = srv.pubsub.counts();
            kv("pubsub_channels", channels.to_string());
            kv("pubsub_patterns", patterns.to_string());
            kv("pubsubshard_channels", shard.to_string());
            kv("latest_fork_usec", "0".into());
            kv("total_forks", "0".into());
            kv("migrate_cached_sockets", "0".into());
            let (keys, items, prefixes) = srv.pubsub.tracking.totals();
            kv("tracking_total_keys", keys.to_string());
            kv("tracking_total_items", items.to_string());
            kv("tracking_total_prefixes", prefixes.to_string());
            kv("unexpected_error_replies", "0".into());
            kv(
                "total_error_replies",
                (st.failed_calls + st.rejected_calls).to_string(),
            );
        }
        "replication" => {
            kv("role", "master".into());
            kv("connected_slaves", "0".into());
            kv("master_failover_state", "no-failover".into());
            kv("master_replid", replid(&srv.run_id));
            kv("master_replid2", "0".repeat(40));
            kv("master_repl_offset", "0".into());
            kv("second_repl_offset", "-1".into());
            kv("repl_backlog_active", "0".into());
            kv("repl_backlog_size", "1048576".into());
            kv("repl_backlog_first_byte_offset", "0".into());
            kv("repl_backlog_histlen", "0".into());
        }
        "cpu" => {
            let (s, u) = rusage(libc::RUSAGE_SELF);
            let (cs, cu) = rusage(libc::RUSAGE_CHILDREN);
            let (ts, tu) = rusage(libc::RUSAGE_THREAD);
            kv("used_cpu_sys", s);
            kv("used_cpu_user", u);
            kv("used_cpu_sys_children", cs);
            kv("used_cpu_user_children", cu);
            kv("used_cpu_sys_main_thread", ts);
            kv("used_cpu_user_main_thread", tu);
        }
        "cluster" => super::cluster::info_section(srv, &mut kv),
        "keyspace" => {
            for i in 0..srv.store.db_count() {
                let db = srv.store.db(i);
                if !db.is_empty() {
                    l.push((
                        format!("db{}", i),
                        format!("keys={},expires={},avg_ttl=0", db.len(), db.expires_len()),
                    ));
                }
            }
        }
        // modules, commandstats, errorstats, latencystats: not tracked.
        _ => {}
    }
}

fn os_name() -> String {
    // SAFETY: utsname is plain old data, valid when zeroed.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return std::env::consts::OS.to_string();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

/// Redis's bytesToHuman: `123B`, `1.23K`, `12.09M`, ...
pub(crate) fn bytes_to_human(n: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (1 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for &(size, unit) in UNITS {
        if n >= size {
            return format!("{:.2}{}", n as f64 / size as f64, unit);
        }
    }
    format!("{}B", n)
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A replication id distinct from the run id (Redis draws both at random).
fn replid(run_id: &str) -> String {
    run_id.chars().rev().collect()
}

/// (sys, user) CPU seconds as Redis prints them (`%ld.%06ld`).
fn rusage(who: libc::c_int) -> (String, String) {
    // SAFETY: rusage is plain old data, valid when zeroed.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return ("0.000000".into(), "0.000000".into());
    }
    let f = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    (f(ru.ru_stime), f(ru.ru_utime))
}

/// The counters at the previous INFO stats, for the instantaneous rates.
struct Sample {
    at: Instant,
    commands: u64,
    input: u64,
    output: u64,
}

static LAST_SAMPLE: Mutex<Option<Sample>> = Mutex::new(None);

/// Ops/sec and kbps since the previous INFO that included stats (Redis
/// samples every 100 ms in its cron; memkv measures between INFO calls,
/// which is what monitoring tools polling INFO see).
fn instantaneous(st: &Stats, uptime_secs: f64) -> (u64, f64, f64) {
    let now = Instant::now();
    let Ok(mut guard) = LAST_SAMPLE.lock() else {
        return (0, 0.0, 0.0);
    };
    let rates = match guard.as_ref() {
        Some(prev) if now.duration_since(prev.at).as_secs_f64() > 0.001 => {
            let secs = now.duration_since(prev.at).as_secs_f64();
            let ops = st.commands_processed.saturating_sub(prev.commands) as f64 / secs;
            let inp = st.net_input_bytes.saturating_sub(prev.input) as f64 / secs / 1024.0;
            let out = st.net_output_bytes.saturating_sub(prev.output) as f64 / secs / 1024.0;
            (ops as u64, inp, out)
        }
        // First sample: the average since start is the best estimate.
        _ => {
            let secs = uptime_secs.max(1.0);
            (
                (st.commands_processed as f64 / secs) as u64,
                st.net_input_bytes as f64 / secs / 1024.0,
                st.net_output_bytes as f64 / secs / 1024.0,
            )
        }
    };
    *guard = Some(Sample {
        at: now,
        commands: st.commands_processed,
        input: st.net_input_bytes,
        output: st.net_output_bytes,
    });
    rates
}

// ------------------------------------------------------------------- CONFIG

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

/// CONFIG HELP; also the container's own handler (dispatch never calls it
/// without a subcommand).
fn config_help(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    help(&mut c.reply, CONFIG_HELP);
    Ok(())
}

fn config_get(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut seen = HashSet::new();
    let mut pairs = Vec::new();
    for pattern in args.iter().skip(2) {
        for (k, v) in srv.config.get(&String::from_utf8_lossy(pattern)) {
            if seen.insert(k.to_ascii_lowercase()) {
                pairs.push((k, v));
            }
        }
    }
    c.reply.map(pairs.len());
    for (k, v) in pairs {
        c.reply.bulk(k.as_bytes());
        c.reply.bulk(v.as_bytes());
    }
    Ok(())
}

fn config_set(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let owned: Vec<String> = args
        .iter()
        .skip(2)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let pairs: Vec<(&str, &str)> = owned
        .chunks_exact(2)
        .map(|p| (p[0].as_str(), p[1].as_str()))
        .collect();
    // Atomic (all or nothing), with Redis's checks and side effects.
    let local = c.addr.ip().is_loopback()
        || matches!(c.addr.ip(), std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()));
    let tls_touched = pairs
        .iter()
        .find(|(n, _)| n.len() > 4 && n[..4].eq_ignore_ascii_case("tls-"));
    let before = tls_touched.map(|_| srv.config.clone());
    srv.config
        .set_many(&pairs, local)
        .map_err(CmdError::Custom)?;
    // New certificates (rotation) apply to the next handshakes, as Redis
    // reloads its TLS context; a bad set is undone.
    if let (Some((name, _)), Some(before)) = (tls_touched, before)
        && srv.tls.is_some()
    {
        match crate::server::tls::server_config(&srv.config) {
            Ok(cfg) => srv.tls = Some(cfg),
            Err(e) => {
                log::warn!("Failed to update TLS configuration: {e}");
                srv.config = before;
                return Err(CmdError::Custom(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - Unable to update TLS configuration. Check server logs."
                )));
            }
        }
    }
    // appendonly / appendfsync take effect now, as in Redis (inside EXEC
    // the reactor applies them right after the transaction).
    if !c.in_exec {
        crate::aof::reconcile_config(srv);
    }
    crate::pubsub::config_changed(srv);
    crate::memory::config_changed(srv);
    c.reply.ok();
    Ok(())
}

fn config_resetstat(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    srv.stats = Stats::default();
    srv.store.expired_keys = 0;
    srv.store.evicted_keys = 0;
    srv.store.evict.evicted_clients = 0;
    srv.store.keyspace_hits = 0;
    srv.store.keyspace_misses = 0;
    if let Ok(mut g) = LAST_SAMPLE.lock() {
        *g = None;
    }
    c.reply.ok();
    Ok(())
}

fn config_rewrite(srv: &mut Server, _c: &mut Client, _args: &Args) -> CmdResult {
    if srv.config.config_file.is_none() {
        return Err(CmdError::Static(
            "ERR The server is running without a config file",
        ));
    }
    Err(CmdError::Static(
        "ERR Rewriting config file: CONFIG REWRITE is not supported by memkv",
    ))
}

// ------------------------------------------------------------- misc server

fn time(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    c.reply.array(2);
    c.reply.bulk_int(now.as_secs() as i64);
    c.reply.bulk_int(now.subsec_micros() as i64);
    Ok(())
}

fn dbsize(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.int(srv.store.db(c.db).len() as i64);
    Ok(())
}

fn lastsave(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.int(unix_secs(srv.started_unix) as i64);
    Ok(())
}

/// SAVE / BGSAVE: memkv has no RDB snapshots.
fn save(_srv: &mut Server, _c: &mut Client, _args: &Args) -> CmdResult {
    Err(CmdError::Static(
        "ERR memkv does not support RDB snapshots; persistence is AOF only (appendonly yes, BGREWRITEAOF)",
    ))
}

fn shutdown(srv: &mut Server, _c: &mut Client, args: &Args) -> CmdResult {
    let (mut nosave, mut save, mut abort, mut other) = (false, false, false, false);
    for a in args.iter().skip(1) {
        match a.to_ascii_lowercase().as_slice() {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"now" | b"force" => other = true,
            b"abort" => abort = true,
            _ => return Err(CmdError::Syntax),
        }
    }
    if (abort && (nosave || save || other)) || (nosave && save) {
        return Err(CmdError::Syntax);
    }
    if abort {
        // Shutdown is immediate in memkv: there is never one in progress.
        return Err(CmdError::Static("ERR No shutdown in progress."));
    }
    // No reply: the process exits once the reactor finishes this round.
    srv.shutdown = Some(ShutdownRequest::Graceful);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1286832), "1.23M");
        assert_eq!(bytes_to_human(12681216), "12.09M");
        assert_eq!(bytes_to_human(25276502016), "23.54G");
    }

    #[test]
    fn find_command_handles_subcommands() {
        assert_eq!(
            find_command(b"CONFIG|get").map(|s| s.name),
            Some("config|get")
        );
        assert_eq!(find_command(b"info").map(|s| s.name), Some("info"));
        assert!(find_command(b"config|nosuch").is_none());
        assert!(find_command(b"|").is_none());
    }

    #[test]
    fn help_texts_end_like_redis() {
        for h in [COMMAND_HELP, CONFIG_HELP] {
            assert_eq!(h[h.len() - 1], "    Prints this help.");
        }
    }
}
