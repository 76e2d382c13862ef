//! FUNCTION LOAD / DELETE / FLUSH / LIST / STATS / DUMP / RESTORE / KILL /
//! HELP and FCALL / FCALL_RO. The registry and payload codec are in
//! [`crate::scripting::functions`]; a function runs through the same
//! [`crate::scripting::run_in`] as EVAL (atomic step, journal, effects to
//! the AOF). FUNCTION LOAD / DELETE / FLUSH / RESTORE mark the store dirty,
//! so the dispatcher propagates them verbatim to the AOF, as Redis does.

use super::flags::*;
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::scripting::functions::{FLAG_NAMES, Functions, RestorePolicy};
use crate::scripting::{self, Target};
use crate::server::{Client, Server};

const FCALL_FLAGS: u32 = NOSCRIPT | SKIP_MONITOR | STALE;
const FCALL_SYNTAX: &str = "function numkeys [key [key ...]] [arg [arg ...]]";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "fcall",
        -3,
        FCALL_FLAGS | MAY_REPLICATE,
        (0, 0, 0),
        fcall,
        "scripting",
    )
    .doc("7.0.0", "Invoke a function", FCALL_SYNTAX),
    CommandSpec::new(
        "fcall_ro",
        -3,
        FCALL_FLAGS | READONLY,
        (0, 0, 0),
        fcall_ro,
        "scripting",
    )
    .doc("7.0.0", "Invoke a read-only function", FCALL_SYNTAX),
    CommandSpec::new(
        "function",
        -2,
        0,
        (0, 0, 0),
        function_container,
        "scripting",
    )
    .doc("7.0.0", "A container for function commands", "")
    .subs(FUNCTION_SUBS),
];

static FUNCTION_SUBS: &[CommandSpec] = &[
    CommandSpec::new(
        "function|delete",
        3,
        WRITE | NOSCRIPT,
        (0, 0, 0),
        function_delete,
        "scripting",
    )
    .doc("7.0.0", "Delete a function by name", "library-name"),
    CommandSpec::new(
        "function|dump",
        2,
        NOSCRIPT,
        (0, 0, 0),
        function_dump,
        "scripting",
    )
    .doc(
        "7.0.0",
        "Dump all functions into a serialized binary payload",
        "",
    ),
    CommandSpec::new(
        "function|flush",
        -2,
        WRITE | NOSCRIPT,
        (0, 0, 0),
        function_flush,
        "scripting",
    )
    .doc("7.0.0", "Deleting all functions", "[ASYNC | SYNC]"),
    CommandSpec::new(
        "function|help",
        2,
        LOADING | STALE,
        (0, 0, 0),
        function_help,
        "scripting",
    )
    .doc(
        "7.0.0",
        "Show helpful text about the different subcommands",
        "",
    ),
    CommandSpec::new(
        "function|kill",
        2,
        NOSCRIPT | ALLOW_BUSY,
        (0, 0, 0),
        function_kill,
        "scripting",
    )
    .doc("7.0.0", "Kill the function currently in execution.", ""),
    CommandSpec::new(
        "function|list",
        -2,
        NOSCRIPT,
        (0, 0, 0),
        function_list,
        "scripting",
    )
    .doc(
        "7.0.0",
        "List information about all the functions",
        "[LIBRARYNAME library-name-pattern] [WITHCODE]",
    ),
    CommandSpec::new(
        "function|load",
        -3,
        WRITE | DENYOOM | NOSCRIPT,
        (0, 0, 0),
        function_load,
        "scripting",
    )
    .doc(
        "7.0.0",
        "Create a function with the given arguments (name, code, description)",
        "[REPLACE] function-code",
    ),
    CommandSpec::new(
        "function|restore",
        -3,
        WRITE | DENYOOM | NOSCRIPT,
        (0, 0, 0),
        function_restore,
        "scripting",
    )
    .doc(
        "7.0.0",
        "Restore all the functions on the given payload",
        "serialized-value [FLUSH | APPEND | REPLACE]",
    ),
    CommandSpec::new(
        "function|stats",
        2,
        NOSCRIPT | ALLOW_BUSY,
        (0, 0, 0),
        function_stats,
        "scripting",
    )
    .doc(
        "7.0.0",
        "Return information about the function currently running (name, description, duration)",
        "",
    ),
];

/// The functions engine, created on first use.
pub fn functions(srv: &mut Server) -> Result<&mut Functions, CmdError> {
    if srv.functions.is_none() {
        let f = Functions::new().map_err(|e| CmdError::Custom(format!("ERR {e}")))?;
        srv.functions = Some(Box::new(f));
    }
    srv.functions
        .as_deref_mut()
        .ok_or(CmdError::Static("ERR functions engine unavailable"))
}

/// The functions engine about to change: inside a journaled EXEC, keep the
/// registry as it was for a rollback.
fn changing(srv: &mut Server) -> Result<&mut Functions, CmdError> {
    let journaling = srv.store.journaling();
    let f = functions(srv)?;
    if journaling && f.undo.is_none() {
        f.undo = Some(f.reg.clone());
    }
    Ok(f)
}

fn fcall(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    fcall_generic(srv, c, args, false)
}

fn fcall_ro(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    fcall_generic(srv, c, args, true)
}

/// fcallCommandGeneric: function first, then numkeys, then the
/// read-only rule, then the run.
fn fcall_generic(srv: &mut Server, c: &mut Client, args: &Args, ro: bool) -> CmdResult {
    let (func, flags, name) = {
        let reg = &functions(srv)?.reg;
        let Some((_, f)) = reg.function(&args[1]) else {
            return Err(CmdError::Static("ERR Function not found"));
        };
        (f.func.clone(), f.flags, f.name.clone())
    };
    let numkeys = crate::number::parse_i64(&args[2])
        .ok_or(CmdError::Static("ERR Bad number of keys provided"))?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(CmdError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::Static("ERR Number of keys can't be negative"));
    }
    let numkeys = numkeys as usize;
    let all: Vec<&[u8]> = args.iter().collect();
    let keys = &all[3..3 + numkeys];
    let argv = &all[3 + numkeys..];
    let Some(mut f) = srv.functions.take() else {
        return Err(CmdError::Static("ERR functions engine unavailable"));
    };
    srv.busy.libraries = (f.reg.libs.len(), f.reg.function_count());
    let target = Target {
        func,
        flags,
        name: &name,
        fcall: true,
        command: &all,
    };
    let res = scripting::run_in(&mut f.engine, srv, c, target, keys, argv, ro);
    srv.functions = Some(f);
    res
}

fn function_container(_srv: &mut Server, _c: &mut Client, _args: &Args) -> CmdResult {
    Err(CmdError::WrongArity("function"))
}

fn function_load(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut replace = false;
    let mut pos = 2;
    while pos < args.len() - 1 {
        let a = &args[pos];
        pos += 1;
        if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
            continue;
        }
        return Err(CmdError::Custom(format!(
            "ERR Unknown option given: {}",
            String::from_utf8_lossy(a)
        )));
    }
    let name = changing(srv)?
        .load(&args[pos], replace)
        .map_err(|e| CmdError::Custom(format!("ERR {e}")))?;
    srv.store.dirty += 1;
    c.reply.bulk(name.as_bytes());
    Ok(())
}

fn function_delete(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if !changing(srv)?.delete(&args[2]) {
        return Err(CmdError::Static("ERR Library not found"));
    }
    srv.store.dirty += 1;
    c.reply.ok();
    Ok(())
}

fn function_flush(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand_syntax(args, "FUNCTION"));
    }
    if args.len() == 3
        && !args[2].eq_ignore_ascii_case(b"sync")
        && !args[2].eq_ignore_ascii_case(b"async")
    {
        return Err(CmdError::Static(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        ));
    }
    changing(srv)?.flush();
    srv.store.dirty += 1;
    c.reply.ok();
    Ok(())
}

fn function_list(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if !with_code && a.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && a.eq_ignore_ascii_case(b"libraryname") {
            if i >= args.len() - 1 {
                return Err(CmdError::Static("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(&args[i]);
        } else {
            return Err(CmdError::Custom(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(a)
            )));
        }
        i += 1;
    }
    let reg = &functions(srv)?.reg;
    let libs: Vec<_> = reg
        .libs
        .values()
        .filter(|l| pattern.is_none_or(|p| crate::glob::glob_match(p, l.name.as_bytes(), true)))
        .collect();
    let r = &mut c.reply;
    r.array(libs.len());
    for lib in libs {
        r.map(if with_code { 4 } else { 3 });
        r.bulk(b"library_name");
        r.bulk(lib.name.as_bytes());
        r.bulk(b"engine");
        r.bulk(b"LUA");
        r.bulk(b"functions");
        r.array(lib.functions.len());
        for f in &lib.functions {
            r.map(3);
            r.bulk(b"name");
            r.bulk(f.name.as_bytes());
            r.bulk(b"description");
            match &f.desc {
                Some(d) => r.bulk(d),
                None => r.null(),
            }
            r.bulk(b"flags");
            let names: Vec<&str> = FLAG_NAMES
                .iter()
                .filter(|(_, bit)| f.flags & bit != 0)
                .map(|(n, _)| *n)
                .collect();
            r.set(names.len());
            for n in names {
                r.simple(n);
            }
        }
        if with_code {
            r.bulk(b"library_code");
            r.bulk(&lib.code);
        }
    }
    Ok(())
}

fn function_stats(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    if srv.busy.running.as_ref().is_some_and(|r| r.eval) {
        return Err(CmdError::Static(scripting::busy::BUSY_EVAL));
    }
    let (libs, funcs) = match srv.functions.as_ref() {
        Some(f) => (f.reg.libs.len(), f.reg.function_count()),
        None => srv.busy.libraries,
    };
    let r = &mut c.reply;
    r.map(2);
    r.bulk(b"running_script");
    // A busy function (this runs from its mini event loop).
    match srv.busy.running.as_ref() {
        None => r.null(),
        Some(run) => {
            r.map(3);
            r.bulk(b"name");
            r.bulk(run.name.as_bytes());
            r.bulk(b"command");
            r.array(run.command.len());
            for a in &run.command {
                r.bulk(a);
            }
            r.bulk(b"duration_ms");
            r.int(run.started.elapsed().as_millis() as i64);
        }
    }
    r.bulk(b"engines");
    r.map(1);
    r.bulk(b"LUA");
    r.map(2);
    r.bulk(b"libraries_count");
    r.int(libs as i64);
    r.bulk(b"functions_count");
    r.int(funcs as i64);
    Ok(())
}

fn function_dump(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let payload = functions(srv)?.dump();
    c.reply.bulk(&payload);
    Ok(())
}

fn function_restore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::subcommand_syntax(args, "FUNCTION"));
    }
    let policy = if args.len() == 4 {
        let p = &args[3];
        if p.eq_ignore_ascii_case(b"append") {
            RestorePolicy::Append
        } else if p.eq_ignore_ascii_case(b"replace") {
            RestorePolicy::Replace
        } else if p.eq_ignore_ascii_case(b"flush") {
            RestorePolicy::Flush
        } else {
            return Err(CmdError::Static(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ));
        }
    } else {
        RestorePolicy::Append
    };
    changing(srv)?
        .restore(&args[2], policy)
        .map_err(|e| CmdError::Custom(format!("ERR {e}")))?;
    srv.store.dirty += 1;
    c.reply.ok();
    Ok(())
}

fn function_kill(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    // Reached only from a busy script's mini event loop (or NOTBUSY).
    scripting::busy::kill(srv, false)?;
    c.reply.ok();
    Ok(())
}

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

fn function_help(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    super::server::help(&mut c.reply, FUNCTION_HELP);
    Ok(())
}
