//! EVAL / EVALSHA / EVAL_RO / EVALSHA_RO and SCRIPT LOAD / EXISTS / FLUSH /
//! KILL. The interpreter, sandbox and conversions are in
//! [`crate::scripting`]; these handlers check arguments and the cache.

use super::flags::*;
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::scripting::{self, Engine};
use crate::server::{Client, Server};

const EVAL_FLAGS: u32 = NOSCRIPT | SKIP_MONITOR | STALE;
const EVAL_SYNTAX: &str = "script numkeys [key [key ...]] [arg [arg ...]]";
const EVALSHA_SYNTAX: &str = "sha1 numkeys [key [key ...]] [arg [arg ...]]";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "eval",
        -3,
        EVAL_FLAGS | MAY_REPLICATE,
        (0, 0, 0),
        eval,
        "scripting",
    )
    .doc("2.6.0", "Executes a server-side Lua script.", EVAL_SYNTAX),
    CommandSpec::new(
        "evalsha",
        -3,
        EVAL_FLAGS | MAY_REPLICATE,
        (0, 0, 0),
        evalsha,
        "scripting",
    )
    .doc(
        "2.6.0",
        "Executes a server-side Lua script by SHA1 digest.",
        EVALSHA_SYNTAX,
    ),
    CommandSpec::new(
        "eval_ro",
        -3,
        EVAL_FLAGS | READONLY,
        (0, 0, 0),
        eval_ro,
        "scripting",
    )
    .doc(
        "7.0.0",
        "Executes a read-only server-side Lua script.",
        EVAL_SYNTAX,
    ),
    CommandSpec::new(
        "evalsha_ro",
        -3,
        EVAL_FLAGS | READONLY,
        (0, 0, 0),
        evalsha_ro,
        "scripting",
    )
    .doc(
        "7.0.0",
        "Executes a read-only server-side Lua script by SHA1 digest.",
        EVALSHA_SYNTAX,
    ),
    CommandSpec::new("script", -2, 0, (0, 0, 0), script_help, "scripting")
        .doc(
            "2.6.0",
            "A container for Lua scripts management commands.",
            "",
        )
        .subs(SCRIPT_SUBS),
];

static SCRIPT_SUBS: &[CommandSpec] = &[
    CommandSpec::new(
        "script|help",
        2,
        LOADING | STALE,
        (0, 0, 0),
        script_help_sub,
        "scripting",
    )
    .doc(
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        "",
    ),
    CommandSpec::new(
        "script|exists",
        -3,
        NOSCRIPT,
        (0, 0, 0),
        script_exists,
        "scripting",
    )
    .doc(
        "2.6.0",
        "Determines whether server-side Lua scripts exist in the script cache.",
        "sha1 [sha1 ...]",
    ),
    CommandSpec::new(
        "script|flush",
        -2,
        NOSCRIPT,
        (0, 0, 0),
        script_flush,
        "scripting",
    )
    .doc(
        "2.6.0",
        "Removes all server-side Lua scripts from the script cache.",
        "[ASYNC | SYNC]",
    ),
    CommandSpec::new(
        "script|kill",
        2,
        NOSCRIPT | ALLOW_BUSY,
        (0, 0, 0),
        script_kill,
        "scripting",
    )
    .doc(
        "2.6.0",
        "Terminates a server-side Lua script during execution.",
        "",
    ),
    CommandSpec::new(
        "script|load",
        3,
        NOSCRIPT | STALE,
        (0, 0, 0),
        script_load,
        "scripting",
    )
    .doc(
        "2.6.0",
        "Loads a server-side Lua script to the script cache.",
        "script",
    ),
];

fn eval(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    eval_generic(srv, c, args, false, false)
}

fn evalsha(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    eval_generic(srv, c, args, true, false)
}

fn eval_ro(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    eval_generic(srv, c, args, false, true)
}

fn evalsha_ro(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    eval_generic(srv, c, args, true, true)
}

/// The engine, created on first use if SCRIPT FLUSH could not recreate it.
fn engine(srv: &mut Server) -> Result<&mut Engine, CmdError> {
    if srv.scripting.is_none() {
        let e = Engine::new().map_err(|e| CmdError::Custom(format!("ERR {e}")))?;
        srv.scripting = Some(Box::new(e));
    }
    srv.scripting
        .as_deref_mut()
        .ok_or(CmdError::Static("ERR scripting engine unavailable"))
}

fn eval_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    by_sha: bool,
    read_only: bool,
) -> CmdResult {
    let numkeys = crate::number::parse_i64(&args[2]).ok_or(CmdError::Static(
        "ERR value is not an integer or out of range",
    ))?;
    if numkeys < 0 {
        return Err(CmdError::Static("ERR Number of keys can't be negative"));
    }
    if numkeys as u64 > (args.len() - 3) as u64 {
        return Err(CmdError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let numkeys = numkeys as usize;
    const NOSCRIPT: CmdError = CmdError::Static("NOSCRIPT No matching script. Please use EVAL.");
    // EVALSHA's id lower-cased on the stack (it is looked up on every call).
    let mut hex = [0u8; 40];
    let loaded;
    let sha: &str = if by_sha {
        let s = &args[1];
        if s.len() != 40 {
            return Err(NOSCRIPT);
        }
        for (d, b) in hex.iter_mut().zip(s) {
            *d = b.to_ascii_lowercase();
        }
        std::str::from_utf8(&hex).map_err(|_| NOSCRIPT)?
    } else {
        loaded = engine(srv)?.load(&args[1]).map_err(CmdError::Custom)?;
        &loaded
    };
    let all: Vec<&[u8]> = args.iter().collect();
    let keys = &all[3..3 + numkeys];
    let argv = &all[3 + numkeys..];
    engine(srv)?;
    scripting::run(srv, c, sha, keys, argv, read_only)
}

fn script_help(_srv: &mut Server, _c: &mut Client, _args: &Args) -> CmdResult {
    Err(CmdError::WrongArity("script"))
}

const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

fn script_help_sub(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    super::server::help(&mut c.reply, SCRIPT_HELP);
    Ok(())
}

fn script_load(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let sha = engine(srv)?.load(&args[2]).map_err(CmdError::Custom)?;
    c.reply.bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let eng = engine(srv)?;
    c.reply.array(args.len() - 2);
    for a in args.iter().skip(2) {
        let sha = String::from_utf8_lossy(a).to_ascii_lowercase();
        c.reply.int(eng.scripts.contains_key(&sha) as i64);
    }
    Ok(())
}

fn script_flush(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() > 3
        || (args.len() == 3
            && !args[2].eq_ignore_ascii_case(b"sync")
            && !args[2].eq_ignore_ascii_case(b"async"))
    {
        return Err(CmdError::Static(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
        ));
    }
    // A new interpreter: the cache and every global a script left go.
    srv.scripting = None;
    let e = Engine::new().map_err(|e| CmdError::Custom(format!("ERR {e}")))?;
    srv.scripting = Some(Box::new(e));
    c.reply.ok();
    Ok(())
}

fn script_kill(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    // Reached only from a busy script's mini event loop (or NOTBUSY).
    scripting::busy::kill(srv, true)?;
    c.reply.ok();
    Ok(())
}
