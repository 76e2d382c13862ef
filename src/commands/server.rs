//! Server commands: COMMAND (COUNT, INFO, DOCS, LIST, GETKEYS,
//! GETKEYSANDFLAGS, HELP), INFO (implemented in [`super::info`]), CONFIG (GET, SET, RESETSTAT, REWRITE, HELP),
//! TIME, DBSIZE, LASTSAVE, SAVE / BGSAVE (refused: memkv persists with AOF
//! only) and SHUTDOWN, with Redis 7.0's replies and error texts.
//!
//! Everything COMMAND reports comes from the command table
//! (`commands::table().all`) and the metadata derived from it in
//! [`super::docs`]; nothing here lists commands by hand.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use super::docs::{self, docs_for};
use super::flags::{ADMIN, ALLOW_BUSY, FAST, LOADING, NO_MULTI, NOSCRIPT, READONLY, STALE};
pub use super::info::redis_mode;
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
    CommandSpec::new("info", -1, LS, (0, 0, 0), super::info::info, G).doc(
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
        let cluster = match srv.relay {
            Some(_) => crate::server::tls::cluster_client_config(&srv.config),
            None => Ok(None),
        };
        match crate::server::tls::server_config(&srv.config).and_then(|c| Ok((c, cluster?))) {
            Ok((cfg, cluster)) => {
                srv.tls = Some(cfg);
                if let Some(r) = srv.relay.as_ref() {
                    r.set_tls(cluster);
                }
            }
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
    // requirepass is the default user's password (Redis 6+).
    if pairs
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("requirepass"))
    {
        let pass = srv.config.requirepass.clone();
        srv.acl.set_requirepass(pass.as_bytes());
    }
    crate::memory::config_changed(srv);
    crate::ops::config_changed(srv);
    c.reply.ok();
    Ok(())
}

/// What Redis's resetServerStats, resetCommandTableStats and
/// resetErrorTableStats reset: INFO stats counters, commandstats,
/// latencystats histograms, errorstats, instantaneous samples,
/// lazyfreed_objects. The slow log and the latency monitor stay.
fn config_resetstat(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    srv.stats = Stats::default();
    srv.store.expired_keys = 0;
    srv.store.evicted_keys = 0;
    srv.store.evict.evicted_clients = 0;
    srv.store.keyspace_hits = 0;
    srv.store.keyspace_misses = 0;
    srv.ops.reset_stats();
    crate::store::lazyfree::reset_freed();
    c.reply.ok();
    Ok(())
}

fn config_rewrite(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    if srv.config.config_file.is_none() {
        return Err(CmdError::Static(
            "ERR The server is running without a config file",
        ));
    }
    match srv.config.rewrite_file() {
        Ok(()) => {
            log::info!("CONFIG REWRITE executed with success.");
            c.reply.ok();
            Ok(())
        }
        Err(e) => {
            log::warn!("CONFIG REWRITE failed: {e}");
            Err(CmdError::Custom(format!("ERR Rewriting config file: {e}")))
        }
    }
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
    // During a busy script only NOSAVE, which stops it.
    crate::scripting::busy::shutdown(srv, nosave)?;
    // Redis's rule: save with SAVE, or when save points are set, unless
    // NOSAVE; a failed save keeps the server up (unless FORCE).
    let points = !crate::rdb::persist::save_points(&srv.config).is_empty();
    let force = args
        .iter()
        .skip(1)
        .any(|a| a.eq_ignore_ascii_case(b"force"));
    crate::rdb::persist::abort_bgsave(srv);
    if !nosave && (save || points) && srv.loading.is_none() {
        log::info!("Saving the final RDB snapshot before exiting.");
        let failed = crate::rdb::persist::save_now(srv).is_err();
        if failed && !force {
            log::warn!("Error trying to save the DB, can't exit.");
            return Err(CmdError::Static(
                "ERR Errors trying to SHUTDOWN. Check logs.",
            ));
        }
    }
    srv.rdb.shutdown_save_done = true;
    // No reply: the process exits once the reactor finishes this round.
    srv.shutdown = Some(ShutdownRequest::Graceful);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
