//! Lua scripting: the one Lua 5.1 interpreter (mlua, vendored), its Redis
//! 7.0 sandbox and `redis.*` API, the SHA1-keyed script cache, and the
//! conversions between Redis replies and Lua values in both directions.
//!
//! The interpreter lives in [`Server::scripting`] and is taken out of it
//! while a script runs, so `redis.call` can borrow the server mutably (a
//! script can never start another script: EVAL & co. are `noscript`).
//! Commands a script runs go through [`crate::commands::call`] on a fake
//! client, so the store's choke point, WATCH, the journal and AOF
//! propagation see them exactly like client commands.

pub mod bit;
pub mod busy;
pub mod cjson;
pub mod cmsgpack;
pub mod functions;
pub mod rand48;
pub mod structlib;

use std::collections::HashMap;

use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value as LuaValue};

use crate::commands::{CmdError, CommandSpec, call, flags, resolve};
use crate::resp::Reply;
use crate::resp::response::{ReplyLimits, Value as RespValue, parse_value};
use crate::server::{Client, Server};

/// `#!lua flags=...` script flags (Redis's SCRIPT_FLAG_*).
pub mod script_flags {
    pub const NO_WRITES: u32 = 1 << 0;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    /// The script has a shebang (flags declared, keys must be declared).
    pub const SHEBANG: u32 = 1 << 5;
}

/// A compiled, cached script.
pub struct Script {
    pub body: Vec<u8>,
    pub func: Function,
    pub flags: u32,
}

/// The interpreter and the script cache.
pub struct Engine {
    lua: Lua,
    /// Backing table of the read-only globals (KEYS / ARGV are set here).
    globals: Table,
    /// Hidden table shared with the bootstrap chunk: `call` (per run),
    /// `run` (xpcall with Redis's handler), `resp` (redis.setresp).
    hidden: Table,
    pub scripts: HashMap<String, Script>,
    /// xpcall of a script with Redis's error handler (bootstrap's `run`).
    runner: Function,
    /// The client scripts run their commands as (Redis's lua client).
    fake: Box<Client>,
}

/// Deepest nesting of a table returned by a script (Redis stops at the
/// Lua stack limit; cycles must not recurse forever).
const MAX_DEPTH: usize = 1000;

impl Engine {
    /// A fresh interpreter with the sandbox installed (EVAL's).
    pub fn new() -> mlua::Result<Engine> {
        Engine::build(false)
    }

    /// The functions engine's interpreter: a second Lua state, as in Redis,
    /// whose globals switch to the load API while FUNCTION LOAD runs a
    /// library's code (see [`functions`]).
    pub fn new_functions() -> mlua::Result<Engine> {
        Engine::build(true)
    }

    fn build(functions: bool) -> mlua::Result<Engine> {
        // DEBUG is only used by the bootstrap (the error handler's
        // getinfo) and removed from the script's globals, as Redis does.
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: the debug library is not reachable from scripts (the
        // bootstrap keeps only `debug.getinfo` in a local of its own).
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };
        let native = lua.create_table()?;
        let hidden = lua.create_table()?;
        natives(&lua, &native, &hidden)?;
        if functions {
            functions::install_register(&lua, &native, &hidden)?;
        }
        bit::install(&lua, &lua.globals(), &hidden)?;
        cjson::install(&lua, &lua.globals(), &hidden)?;
        cmsgpack::install(&lua, &lua.globals(), &hidden)?;
        structlib::install(&lua, &lua.globals(), &hidden)?;
        native.set("version", crate::REDIS_VERSION)?;
        native.set("version_num", version_num(crate::REDIS_VERSION))?;
        let globals: Table = lua
            .load(include_str!("bootstrap.lua"))
            .set_name("=memkv")
            .call((hidden.clone(), native))?;
        let redis: Table = hidden.raw_get("redis")?;
        register_call(&lua, &redis, &hidden)?;
        let runner: Function = hidden.raw_get("run")?;
        Ok(Engine {
            runner,
            lua,
            globals,
            hidden,
            scripts: HashMap::new(),
            fake: Box::new(Client::internal(0)),
        })
    }

    /// Compiles `body` (after its shebang line) into the cache; returns
    /// its SHA1. Errors carry Redis's text.
    pub fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, skip) = parse_shebang(body)?;
        let func = self
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .into_function()
            .map_err(|e| {
                format!(
                    "ERR Error compiling script (new function): {}",
                    lua_error_text(&e)
                )
            })?;
        self.scripts.insert(
            sha.clone(),
            Script {
                body: body.to_vec(),
                func,
                flags,
            },
        );
        Ok(sha)
    }
}

/// Raises `{err = text}` from a Rust function: the table waits in the
/// hidden `err` slot, where Redis's error handler and pcall pick it up.
pub(crate) fn raise(lua: &Lua, hidden: &Table, text: &str) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.raw_set("err", text)?;
    hidden.raw_set("err", t)?;
    Err(mlua::Error::RuntimeError(text.to_string()))
}

/// The redis.* functions that can raise errors (Redis's C functions).
fn natives(lua: &Lua, native: &Table, hidden: &Table) -> mlua::Result<()> {
    let h = hidden.clone();
    native.set(
        "sha1hex",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                raise(lua, &h, "ERR wrong number of arguments")?;
            }
            let data = match args.front() {
                Some(LuaValue::String(s)) => s.as_bytes().to_vec(),
                Some(v @ (LuaValue::Integer(_) | LuaValue::Number(_))) => {
                    lua_value_text(v).unwrap_or_default().into_bytes()
                }
                _ => Vec::new(),
            };
            Ok(sha1_hex(&data))
        })?,
    )?;
    let h = hidden.clone();
    native.set(
        "log",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() < 2 {
                raise(lua, &h, "ERR redis.log() requires two arguments or more.")?;
            }
            let level = match args.front() {
                Some(LuaValue::Integer(i)) => *i,
                Some(LuaValue::Number(n)) => *n as i64,
                _ => return raise(lua, &h, "ERR First argument must be a number (log level)."),
            };
            if !(0..=3).contains(&level) {
                raise(lua, &h, "ERR Invalid debug level.")?;
            }
            let text: Vec<String> = args.iter().skip(1).filter_map(lua_value_text).collect();
            let text = text.join(" ");
            match level {
                0 => log::debug!("{text}"),
                1 | 2 => log::info!("{text}"),
                _ => log::warn!("{text}"),
            }
            Ok(())
        })?,
    )?;
    let h = hidden.clone();
    native.set(
        "setresp",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                raise(lua, &h, "ERR redis.setresp() requires one argument.")?;
            }
            let v = match args.front() {
                Some(LuaValue::Integer(i)) => *i,
                Some(LuaValue::Number(n)) => *n as i64,
                _ => 0,
            };
            if v != 2 && v != 3 {
                raise(lua, &h, "ERR RESP version must be 2 or 3.")?;
            }
            h.raw_set("resp", v)
        })?,
    )?;
    let h = hidden.clone();
    native.set(
        "random",
        lua.create_function(move |lua, args: mlua::Variadic<f64>| {
            rand48::lua_random(&args).or_else(|msg| {
                raise_here(lua, &h, msg)?;
                Ok(0.0)
            })
        })?,
    )?;
    native.set(
        "randomseed",
        lua.create_function(|_, n: f64| {
            rand48::seed(n as i64 as i32);
            Ok(())
        })?,
    )?;
    let h = hidden.clone();
    native.set(
        "acl_check_cmd",
        lua.create_function(move |lua, args: MultiValue| {
            // memkv has one user with every permission: a known command
            // is allowed, an unknown one is Redis's error.
            if args.is_empty() {
                raise(
                    lua,
                    &h,
                    "ERR Please specify at least one argument for this redis lib call",
                )?;
            }
            let mut parts = Vec::with_capacity(args.len());
            for a in args.iter() {
                match a {
                    LuaValue::String(s) => parts.push(s.as_bytes().to_vec()),
                    LuaValue::Integer(_) | LuaValue::Number(_) => {
                        parts.push(lua_value_text(a).unwrap_or_default().into_bytes())
                    }
                    _ => raise(
                        lua,
                        &h,
                        "ERR Lua redis lib command arguments must be strings or integers",
                    )?,
                }
            }
            let known = crate::commands::table()
                .lookup(&parts[0])
                .is_some_and(|spec| {
                    spec.subcommands.is_empty()
                        || parts.len() < 2
                        || crate::commands::lookup_sub(spec, &parts[1]).is_some()
                });
            if !known {
                raise(
                    lua,
                    &h,
                    "ERR Invalid command passed to redis.acl_check_cmd()",
                )?;
            }
            Ok(true)
        })?,
    )?;
    let h = hidden.clone();
    native.set(
        "set_repl",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                raise(lua, &h, "ERR redis.set_repl() requires two arguments.")?;
            }
            let v = match args.front() {
                Some(LuaValue::Integer(i)) => *i,
                Some(LuaValue::Number(n)) => *n as i64,
                _ => -1,
            };
            if !(0..=3).contains(&v) {
                raise(
                    lua,
                    &h,
                    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                )?;
            }
            Ok(())
        })?,
    )?;
    Ok(())
}

/// Raises a Lua library error (luaL_error: position of the calling Lua
/// code, then the message), as Redis's handler reports it.
pub(crate) fn raise_here(lua: &Lua, hidden: &Table, msg: &str) -> mlua::Result<()> {
    raise(lua, hidden, &format!("ERR {}{msg}", lua_where(lua)))
}

/// luaL_where(L, 1): "chunk:line: " of the Lua code calling a native.
fn lua_where(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let src = d.source();
        match (src.short_src, d.current_line()) {
            (Some(s), Some(l)) if l > 0 => format!("{s}:{l}: "),
            _ => String::new(),
        }
    })
    .unwrap_or_default()
}

/// The server state redis.call works on while a script runs. Raw pointers
/// because the functions are registered once in the interpreter (creating
/// scoped closures per script cost a third of EVALSHA's time) while the
/// borrows they stand for exist only during `run_in`.
#[derive(Clone, Copy)]
struct Active {
    srv: *mut Server,
    fake: *mut Client,
    run: *mut RunCtx,
}

thread_local! {
    static ACTIVE: std::cell::Cell<Option<Active>> = const { std::cell::Cell::new(None) };
}

/// Sets ACTIVE for one script run; clears it on every exit path.
struct ActiveGuard;

impl ActiveGuard {
    fn set(a: Active) -> ActiveGuard {
        ACTIVE.with(|c| c.set(Some(a)));
        ActiveGuard
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        ACTIVE.with(|c| c.set(None));
    }
}

/// redis.call (raise = true) / redis.pcall, registered once.
fn register_call(lua: &Lua, redis: &Table, hidden: &Table) -> mlua::Result<()> {
    for (name, raise) in [("call", true), ("pcall", false)] {
        let h = hidden.clone();
        let f = lua.create_function(move |lua, args: MultiValue| {
            let Some(a) = ACTIVE.with(|c| c.take()) else {
                return Err(mlua::Error::RuntimeError(
                    "redis.call is only available while a script runs".into(),
                ));
            };
            // Taken out while the command runs and put back after: a
            // nested call (impossible: scripts cannot start scripts) would
            // find none instead of aliasing the server.
            // SAFETY: the pointers come from `run_in`'s exclusive borrows,
            // which it does not use while the script runs, and ACTIVE is
            // cleared before `run_in` returns.
            let (srv, fake, run) = unsafe { (&mut *a.srv, &mut *a.fake, &mut *a.run) };
            let res = redis_call(lua, srv, fake, &h, run, args);
            ACTIVE.with(|c| c.set(Some(a)));
            let (v, is_err) = res?;
            if is_err && raise {
                h.raw_set("err", v)?;
                return Err(mlua::Error::RuntimeError("redis.call failed".into()));
            }
            Ok(v)
        })?;
        redis.raw_set(name, f)?;
    }
    Ok(())
}

/// What a running script needs besides the interpreter.
struct RunCtx {
    read_only: bool,
    /// A write command ran (SCRIPT KILL then answers UNKILLABLE).
    wrote: bool,
    /// Commands the script propagated (more than one: MULTI/EXEC).
    propagated: usize,
}

/// Runs cached script `sha` for client `c` with `keys` and `argv`, writing
/// its reply into `c.reply`. `read_only` is EVAL_RO / EVALSHA_RO.
pub fn run(
    srv: &mut Server,
    c: &mut Client,
    sha: &str,
    keys: &[&[u8]],
    argv: &[&[u8]],
    read_only: bool,
) -> Result<(), CmdError> {
    let Some(mut eng) = srv.scripting.take() else {
        return Err(CmdError::Static("ERR scripting engine unavailable"));
    };
    let res = match eng.scripts.get(sha) {
        None => Err(CmdError::Static(
            "NOSCRIPT No matching script. Please use EVAL.",
        )),
        Some(script) => {
            let target = Target {
                func: script.func.clone(),
                flags: script.flags,
                name: sha,
                fcall: false,
                command: Vec::new(),
            };
            run_in(&mut eng, srv, c, target, keys, argv, read_only)
        }
    };
    srv.scripting = Some(eng);
    res
}

/// What `run_in` runs: a cached script (EVAL*) or a library's function
/// (FCALL*, which gets keys and arguments as parameters, not globals).
pub(crate) struct Target<'a> {
    pub func: Function,
    pub flags: u32,
    /// The SHA1 or the function name, as error texts name it.
    pub name: &'a str,
    pub fcall: bool,
    /// The caller's argv, as FUNCTION STATS shows it while busy (FCALL).
    pub command: Vec<Vec<u8>>,
}

pub(crate) fn run_in(
    eng: &mut Engine,
    srv: &mut Server,
    c: &mut Client,
    target: Target,
    keys: &[&[u8]],
    argv: &[&[u8]],
    read_only: bool,
) -> Result<(), CmdError> {
    let Target {
        func,
        flags: script_flags_,
        name: sha,
        fcall,
        command,
    } = target;
    if script_flags_ & script_flags::NO_CLUSTER != 0
        && srv.cluster.as_ref().is_some_and(|t| t.members.len() > 1)
    {
        return Err(CmdError::Static(
            "ERR Can not run script on cluster, 'no-cluster' flag is set.",
        ));
    }
    // A script with flags (shebang) or a function declares whether it
    // writes: without no-writes it cannot run from a *_RO command.
    if read_only
        && (fcall || script_flags_ & script_flags::SHEBANG != 0)
        && script_flags_ & script_flags::NO_WRITES == 0
    {
        return Err(CmdError::Static(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let read_only = read_only || script_flags_ & script_flags::NO_WRITES != 0;
    let lua = &eng.lua;
    let seq = |items: &[&[u8]]| -> mlua::Result<Table> {
        lua.create_sequence_from(
            items
                .iter()
                .map(|k| lua.create_string(k))
                .collect::<mlua::Result<Vec<_>>>()?,
        )
    };
    let fn_args = if fcall {
        let k = seq(keys).map_err(|e| CmdError::Custom(format!("ERR {e}")))?;
        let a = seq(argv).map_err(|e| CmdError::Custom(format!("ERR {e}")))?;
        Some((k, a))
    } else {
        None
    };
    let setup = || -> mlua::Result<()> {
        if fcall {
            eng.hidden.raw_set("resp", 2)?;
            eng.hidden.raw_set("err", LuaValue::Nil)?;
            return Ok(());
        }
        eng.globals.raw_set(
            "KEYS",
            lua.create_sequence_from(
                keys.iter()
                    .map(|k| lua.create_string(k))
                    .collect::<mlua::Result<Vec<_>>>()?,
            )?,
        )?;
        eng.globals.raw_set(
            "ARGV",
            lua.create_sequence_from(
                argv.iter()
                    .map(|k| lua.create_string(k))
                    .collect::<mlua::Result<Vec<_>>>()?,
            )?,
        )?;
        eng.hidden.raw_set("resp", 2)?;
        eng.hidden.raw_set("err", LuaValue::Nil)?;
        Ok(())
    };
    setup().map_err(|e| CmdError::Custom(format!("ERR {e}")))?;

    // A script is one atomic step: with multi-rollback its writes are
    // journaled like EXEC's (inside EXEC, EXEC's journal covers them).
    let nested = c.in_exec;
    let own_journal = srv.config.multi_rollback && !srv.store.journaling();
    if own_journal {
        srv.store.begin_journal();
    }
    let prop_mark = srv.store.prop.mark();
    let fake = &mut eng.fake;
    fake.db = c.db;
    fake.in_exec = true;
    fake.authenticated = true;
    // Commands the script runs are checked against the caller's ACL user.
    fake.user = c.user;
    fake.user_name.clone_from(&c.user_name);
    let ctx = RunCtx {
        read_only,
        wrote: false,
        propagated: 0,
    };
    let hidden = eng.hidden.clone();
    let runner = eng.runner.clone();
    let fn_runner: Option<Function> = if fcall {
        hidden.raw_get("run_fn").ok()
    } else {
        None
    };
    let mut run = ctx;
    // redis.call / pcall reach the server through ACTIVE for exactly the
    // duration of this call (see `Active`).
    let guard = ActiveGuard::set(Active {
        srv: srv as *mut Server,
        fake: &mut **fake as *mut Client,
        run: &mut run as *mut RunCtx,
    });
    // Past busy-reply-threshold the script is busy, as in Redis: the hook
    // serves the other clients (BUSY to most commands; SCRIPT KILL /
    // FUNCTION KILL / SHUTDOWN NOSAVE work) until the script ends or is
    // killed (see `busy`).
    let limit_ms = srv
        .config
        .value("busy-reply-threshold")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(5000);
    {
        let started = std::time::Instant::now();
        let limit = std::time::Duration::from_millis(limit_ms);
        let h = hidden.clone();
        let name = sha.to_string();
        let command = std::cell::RefCell::new(Some(command));
        let _ = lua.set_hook(
            mlua::HookTriggers::new().every_nth_instruction(100_000),
            move |lua, _| {
                if started.elapsed() <= limit {
                    return Ok(mlua::VmState::Continue);
                }
                let Some(a) = ACTIVE.with(|c| c.get()) else {
                    return Ok(mlua::VmState::Continue);
                };
                // SAFETY: as in redis.call: the pointers are `run_in`'s
                // exclusive borrows, unused by it while Lua runs; a hook
                // never runs inside redis.call (no Lua code runs there).
                let (srv, run) = unsafe { (&mut *a.srv, &*a.run) };
                if srv.busy.running.is_none() {
                    log::warn!(
                        "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} KILL command. Script name is: {}.",
                        started.elapsed().as_millis(),
                        if fcall { "FUNCTION" } else { "SCRIPT" },
                        name
                    );
                    srv.busy.running = Some(busy::Running {
                        eval: !fcall,
                        name: name.clone(),
                        command: command.borrow_mut().take().unwrap_or_default(),
                        started,
                        wrote: false,
                        killed: false,
                        shutdown: false,
                    });
                }
                if let Some(r) = srv.busy.running.as_mut() {
                    r.wrote = run.wrote;
                }
                busy::serve(srv);
                if !srv.busy.running.as_ref().is_some_and(|r| r.killed) {
                    return Ok(mlua::VmState::Continue);
                }
                log::warn!("Lua script killed by user with SCRIPT KILL.");
                // From now on every instruction of the script raises, so a
                // pcall in a loop cannot catch its way past the kill (the
                // sandbox's own code, the error handler, still runs).
                let text = "ERR Script killed by user with SCRIPT KILL...";
                let h2 = h.clone();
                let _ = lua.set_hook(
                    mlua::HookTriggers::new().every_nth_instruction(1),
                    move |lua, _| {
                        let ours = lua
                            .inspect_stack(0, |d| d.source().source.as_deref() == Some("=memkv"))
                            .unwrap_or(false);
                        if ours {
                            return Ok(mlua::VmState::Continue);
                        }
                        raise(lua, &h2, text)?;
                        Ok(mlua::VmState::Continue)
                    },
                );
                raise(lua, &h, text)?;
                Ok(mlua::VmState::Continue)
            },
        );
    }
    let result = (|| -> mlua::Result<Result<(), String>> {
        let (ok, val): (bool, LuaValue) = match (&fn_runner, fn_args) {
            (Some(r), Some((k, a))) => r.call((func, k, a))?,
            _ => runner.call(func)?,
        };
        let mark = c.reply.len();
        let out = if ok {
            let resp3 = hidden.raw_get::<i64>("resp").unwrap_or(2) == 3;
            lua_to_reply(&val, &mut c.reply, resp3, 0)
        } else {
            if counted_already(&val) {
                crate::ops::error_already_counted();
            }
            Err(error_table_text(&val, sha))
        };
        if out.is_err() {
            c.reply.truncate(mark);
        }
        Ok(out)
    })();
    drop(guard);
    lua.remove_hook();
    let killed_by_shutdown = srv.busy.running.take().is_some_and(|r| r.shutdown);
    let ctx = run;
    let outcome = match result {
        Ok(r) => r,
        Err(e) => Err(format!("ERR {}", lua_error_text(&e))),
    };
    match &outcome {
        // SHUTDOWN NOSAVE stopped it: exit without its effects (Redis
        // propagates a script's effects when it ends; it never ends).
        Err(_) if killed_by_shutdown => {
            if own_journal {
                srv.store.commit_journal();
            }
            srv.store.prop.restore(prop_mark);
            // Redis exits inside the script: the caller gets no reply.
            c.close_asap = true;
        }
        Err(_) if own_journal => {
            srv.store.rollback_journal();
            srv.store.prop.restore(prop_mark);
        }
        _ => {
            if own_journal {
                srv.store.commit_journal();
            }
            if ctx.propagated > 1 && !nested {
                srv.store.prop.wrap_multi(prop_mark);
            }
        }
    }
    outcome.map_err(CmdError::Custom)
}

/// The error text of an error table raised by a script (Redis's
/// luaCallFunction: the message, plus where the user code raised it).
fn error_table_text(v: &LuaValue, sha: &str) -> String {
    let LuaValue::Table(t) = v else {
        return format!(
            "ERR Error running script: {}",
            lua_value_text(v).unwrap_or_default()
        );
    };
    let msg = t
        .raw_get::<LuaValue>("err")
        .ok()
        .and_then(|m| lua_value_text(&m))
        .unwrap_or_default();
    let source = t
        .raw_get::<LuaValue>("source")
        .ok()
        .and_then(|m| lua_value_text(&m));
    let line = t
        .raw_get::<LuaValue>("line")
        .ok()
        .and_then(|m| lua_value_text(&m));
    match (source, line) {
        (Some(s), Some(l)) => format!("{msg} script: {sha}, on {s}:{l}."),
        _ => msg,
    }
}

/// Text of a Lua string or number value.
pub(crate) fn lua_value_text(v: &LuaValue) -> Option<String> {
    match v {
        LuaValue::String(s) => Some(s.to_string_lossy()),
        LuaValue::Integer(i) => Some(lua_number_text(*i as f64)),
        LuaValue::Number(n) => Some(lua_number_text(*n)),
        _ => None,
    }
}

/// Lua 5.1's `%.14g` of a number (tostring).
pub(crate) fn lua_number_text(n: f64) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is large enough for any %.14g output and
    // snprintf always NUL-terminates within the given size.
    let len = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%.14g".as_ptr(),
            n,
        )
    };
    String::from_utf8_lossy(&buf[..(len.max(0) as usize).min(buf.len() - 1)]).into_owned()
}

/// An mlua error as the plain Lua message (no "runtime error:" prefix).
pub(crate) fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// The error table redis.call / pcall produce (`{err = text}`), marked as
/// already counted in INFO errorstats (Redis 7.0's field): when the script
/// returns or raises it, the error is not counted a second time.
fn err_table(lua: &Lua, text: &str) -> mlua::Result<(LuaValue, bool)> {
    let t = lua.create_table()?;
    t.raw_set("err", text)?;
    t.raw_set("ignore_error_stats_update", true)?;
    Ok((LuaValue::Table(t), true))
}

/// Whether an error table carries the already-counted mark.
fn counted_already(v: &LuaValue) -> bool {
    matches!(v, LuaValue::Table(t)
        if matches!(t.raw_get::<LuaValue>("ignore_error_stats_update"), Ok(LuaValue::Boolean(true))))
}

/// redis.call / redis.pcall: runs one command; returns (reply, is error).
fn redis_call(
    lua: &Lua,
    srv: &mut Server,
    fake: &mut Client,
    hidden: &Table,
    ctx: &mut RunCtx,
    args: MultiValue,
) -> mlua::Result<(LuaValue, bool)> {
    if args.is_empty() {
        return err_table(
            lua,
            "ERR Please specify at least one argument for this redis lib call",
        );
    }
    // One buffer and its ranges: the argv of the command, without a copy
    // per argument.
    let mut data: Vec<u8> = Vec::new();
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::with_capacity(args.len());
    for a in args.iter() {
        let start = data.len();
        match a {
            LuaValue::String(s) => data.extend_from_slice(&s.as_bytes()),
            LuaValue::Integer(i) => {
                data.extend_from_slice(crate::number::fmt_g17(*i as f64).as_bytes())
            }
            LuaValue::Number(n) => data.extend_from_slice(crate::number::fmt_g17(*n).as_bytes()),
            _ => {
                return err_table(
                    lua,
                    "ERR Lua redis lib command arguments must be strings or integers",
                );
            }
        }
        ranges.push(start..data.len());
    }
    let args = crate::commands::Args::new(&data, &ranges);
    let spec: &'static CommandSpec = match resolve(&args) {
        Ok(s) => s,
        Err(CmdError::WrongArity(_)) => {
            return err_table(
                lua,
                "ERR Wrong number of args calling Redis command from script",
            );
        }
        Err(_) => return err_table(lua, "ERR Unknown Redis command called from script"),
    };
    if spec.has(flags::NOSCRIPT) {
        return err_table(lua, "ERR This Redis command is not allowed from script");
    }
    if spec.has(flags::WRITE) && ctx.read_only {
        return err_table(
            lua,
            "ERR Write commands are not allowed from read-only scripts.",
        );
    }
    if spec.has(flags::WRITE) {
        ctx.wrote = true;
    }
    // In a cluster a script runs on the node owning its declared keys; a
    // key it touches elsewhere is Redis's error (never a silent local write).
    if srv.cluster.as_ref().is_some_and(|t| t.members.len() > 1)
        && crate::cluster::route::foreign_key(srv, spec, &args).is_some()
    {
        return err_table(
            lua,
            "ERR Script attempted to access a non local key in a cluster node",
        );
    }
    let user = srv.acl.user(fake.user);
    if !user.unrestricted
        && let Err(d) = user.check(spec, &args)
    {
        crate::acl::log_denial(srv, fake, d, crate::acl::LogContext::Lua, spec, &args);
        return err_table(lua, &format!("ERR {}", d.script_error()));
    }
    let resp: i64 = hidden.raw_get("resp").unwrap_or(2);
    fake.reply.buf.clear();
    fake.reply.resp3 = resp == 3;
    let before = srv.store.prop.buf.len();
    let _ = call(srv, fake, spec, &args);
    if srv.store.prop.buf.len() > before {
        ctx.propagated += 1;
    }
    let limits = ReplyLimits::default();
    let value = match parse_value(&fake.reply.buf, &limits) {
        Ok(Some((v, _))) => v,
        _ => RespValue::Error(b"ERR internal error: unparsable reply".to_vec()),
    };
    fake.reply.buf.clear();
    if let RespValue::Error(e) = &value {
        let text = String::from_utf8_lossy(e);
        return err_table(lua, text.trim_end_matches(['\r', '\n']));
    }
    Ok((resp_to_lua(lua, value, resp == 3)?, false))
}

/// A Redis reply as a Lua value (Redis's redisProtocolToLuaType).
fn resp_to_lua(lua: &Lua, v: RespValue, resp3: bool) -> mlua::Result<LuaValue> {
    Ok(match v {
        RespValue::Int(i) => LuaValue::Number(i as f64),
        RespValue::Bulk(b) => LuaValue::String(lua.create_string(&b)?),
        RespValue::Simple(s) => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(&s)?)?;
            LuaValue::Table(t)
        }
        RespValue::Error(e) => {
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(&e)?)?;
            LuaValue::Table(t)
        }
        RespValue::Null => {
            if resp3 {
                LuaValue::Nil
            } else {
                LuaValue::Boolean(false)
            }
        }
        RespValue::Array(items) | RespValue::Push(items) => {
            let t = lua.create_table()?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, resp_to_lua(lua, item, resp3)?)?;
            }
            LuaValue::Table(t)
        }
        RespValue::Set(items) => {
            let inner = lua.create_table()?;
            for item in items {
                inner.raw_set(resp_to_lua(lua, item, resp3)?, true)?;
            }
            let t = lua.create_table()?;
            t.raw_set("set", inner)?;
            LuaValue::Table(t)
        }
        RespValue::Map(pairs) => {
            let inner = lua.create_table()?;
            for (k, v) in pairs {
                inner.raw_set(resp_to_lua(lua, k, resp3)?, resp_to_lua(lua, v, resp3)?)?;
            }
            let t = lua.create_table()?;
            t.raw_set("map", inner)?;
            LuaValue::Table(t)
        }
        RespValue::Double(d) => {
            let n = crate::number::parse_f64(&d).unwrap_or(0.0);
            let t = lua.create_table()?;
            t.raw_set("double", n)?;
            LuaValue::Table(t)
        }
        RespValue::Bool(b) => LuaValue::Boolean(b),
        RespValue::BigNumber(b) => {
            let t = lua.create_table()?;
            t.raw_set("big_number", lua.create_string(&b)?)?;
            LuaValue::Table(t)
        }
        RespValue::Verbatim(v) => {
            let (fmt, text) = if v.len() >= 4 && v[3] == b':' {
                (&v[..3], &v[4..])
            } else {
                (&b"txt"[..], &v[..])
            };
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(fmt)?)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            let t = lua.create_table()?;
            t.raw_set("verbatim_string", inner)?;
            LuaValue::Table(t)
        }
    })
}

/// Writes a script's return value as a reply (Redis's
/// luaReplyToRedisReply). A top-level error table is returned as `Err`.
fn lua_to_reply(v: &LuaValue, r: &mut Reply, resp3: bool, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        r.error("ERR reached lua stack limit");
        return Ok(());
    }
    match v {
        LuaValue::String(s) => r.bulk(&s.as_bytes()),
        LuaValue::Boolean(b) => {
            // The script's protocol (redis.setresp) decides, not the caller's.
            if resp3 {
                r.boolean(*b);
            } else if *b {
                r.int(1);
            } else {
                r.null();
            }
        }
        LuaValue::Integer(i) => r.int(*i),
        LuaValue::Number(n) => r.int(lua_number_to_i64(*n)),
        LuaValue::Table(t) => {
            if let Ok(LuaValue::String(e)) = t.raw_get::<LuaValue>("err") {
                let text = e.to_string_lossy();
                if counted_already(v) {
                    crate::ops::error_already_counted();
                }
                if depth == 0 {
                    return Err(text);
                }
                r.error(&text);
                return Ok(());
            }
            if let Ok(LuaValue::String(s)) = t.raw_get::<LuaValue>("ok") {
                let text: String = s
                    .to_string_lossy()
                    .chars()
                    .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                    .collect();
                r.simple(&text);
                return Ok(());
            }
            match t.raw_get::<LuaValue>("double") {
                Ok(LuaValue::Number(d)) => {
                    r.double(d);
                    return Ok(());
                }
                Ok(LuaValue::Integer(d)) => {
                    r.double(d as f64);
                    return Ok(());
                }
                _ => {}
            }
            if let Ok(LuaValue::String(s)) = t.raw_get::<LuaValue>("big_number") {
                let text: Vec<u8> = s
                    .as_bytes()
                    .iter()
                    .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                    .collect();
                if r.resp3 {
                    r.raw(b"(");
                    r.raw(&text);
                    r.raw(b"\r\n");
                } else {
                    r.bulk(&text);
                }
                return Ok(());
            }
            if let Ok(LuaValue::Table(m)) = t.raw_get::<LuaValue>("map") {
                let pairs: Vec<(LuaValue, LuaValue)> = m
                    .pairs::<LuaValue, LuaValue>()
                    .filter_map(|p| p.ok())
                    .collect();
                r.map(pairs.len());
                for (k, v) in &pairs {
                    lua_to_reply(k, r, resp3, depth + 1)?;
                    lua_to_reply(v, r, resp3, depth + 1)?;
                }
                return Ok(());
            }
            if let Ok(LuaValue::Table(s)) = t.raw_get::<LuaValue>("set") {
                let members: Vec<LuaValue> = s
                    .pairs::<LuaValue, LuaValue>()
                    .filter_map(|p| p.ok().map(|(k, _)| k))
                    .collect();
                r.set(members.len());
                for k in &members {
                    lua_to_reply(k, r, resp3, depth + 1)?;
                }
                return Ok(());
            }
            let mut items = Vec::new();
            let mut i = 1;
            loop {
                match t.raw_get::<LuaValue>(i) {
                    Ok(LuaValue::Nil) | Err(_) => break,
                    Ok(v) => items.push(v),
                }
                i += 1;
            }
            r.array(items.len());
            for v in &items {
                lua_to_reply(v, r, resp3, depth + 1)?;
            }
        }
        _ => r.null(),
    }
    Ok(())
}

/// C's `(long long)` cast of a double, saturating instead of undefined.
fn lua_number_to_i64(n: f64) -> i64 {
    if n.is_nan() { i64::MIN } else { n as i64 }
}

/// INFO memory's scripting fields, in Redis 7.0's order: the two
/// interpreters' heaps and the cached scripts / libraries.
pub fn info_memory(srv: &Server) -> Vec<(&'static str, String)> {
    use crate::commands::info::bytes_to_human;
    let eval_vm = srv.scripting.as_ref().map_or(0, |e| e.lua.used_memory());
    let (scripts, eval_bytes) = srv.scripting.as_ref().map_or((0, 0), |e| {
        (
            e.scripts.len(),
            e.scripts.values().map(|s| s.body.len() + 40).sum::<usize>(),
        )
    });
    let (funcs, libs, fn_vm, fn_bytes) = srv.functions.as_ref().map_or((0, 0, 0, 0), |f| {
        (
            f.reg.function_count(),
            f.reg.libs.len(),
            f.engine.lua.used_memory(),
            f.reg.code_bytes(),
        )
    });
    vec![
        ("used_memory_lua", eval_vm.to_string()),
        ("used_memory_vm_eval", eval_vm.to_string()),
        ("used_memory_lua_human", bytes_to_human(eval_vm as u64)),
        ("used_memory_scripts_eval", eval_bytes.to_string()),
        ("number_of_cached_scripts", scripts.to_string()),
        ("number_of_functions", funcs.to_string()),
        ("number_of_libraries", libs.to_string()),
        ("used_memory_vm_functions", fn_vm.to_string()),
        ("used_memory_vm_total", (eval_vm + fn_vm).to_string()),
        (
            "used_memory_vm_total_human",
            bytes_to_human((eval_vm + fn_vm) as u64),
        ),
        ("used_memory_functions", fn_bytes.to_string()),
        ("used_memory_scripts", (eval_bytes + fn_bytes).to_string()),
        (
            "used_memory_scripts_human",
            bytes_to_human((eval_bytes + fn_bytes) as u64),
        ),
    ]
}

/// Lower-case hex SHA1 (script ids, redis.sha1hex).
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// REDIS_VERSION_NUM: 0x00MMmmpp.
fn version_num(v: &str) -> i64 {
    let mut n = 0i64;
    for part in v.split('.').take(3) {
        n = (n << 8) | part.parse::<i64>().unwrap_or(0);
    }
    n
}

/// Parses a `#!lua [name=...] [flags=a,b]` first line: (flags, bytes of
/// the line to skip, newline kept so line numbers stay the user's).
pub fn parse_shebang(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((0, 0));
    }
    let end = memchr::memchr(b'\n', body).unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = script_flags::SHEBANG;
    for p in parts {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {p}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            flags |= match f {
                "no-writes" => script_flags::NO_WRITES,
                "allow-oom" => script_flags::ALLOW_OOM,
                "allow-stale" => script_flags::ALLOW_STALE,
                "no-cluster" => script_flags::NO_CLUSTER,
                "allow-cross-slot-keys" => script_flags::ALLOW_CROSS_SLOT,
                other => return Err(format!("ERR Unexpected flag in script shebang: {other}")),
            };
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_flags_and_errors() {
        assert_eq!(parse_shebang(b"return 1").unwrap(), (0, 0));
        let (f, skip) = parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert_eq!(
            f,
            script_flags::SHEBANG | script_flags::NO_WRITES | script_flags::ALLOW_OOM
        );
        assert_eq!(skip, 31);
        assert_eq!(
            parse_shebang(b"#!py\n").unwrap_err(),
            "ERR Unexpected engine in script shebang: #!py"
        );
        assert_eq!(
            parse_shebang(b"#!lua flags=foo\n").unwrap_err(),
            "ERR Unexpected flag in script shebang: foo"
        );
    }

    #[test]
    fn version_number_is_hex_packed() {
        assert_eq!(version_num("7.0.15"), 0x07000f);
    }

    #[test]
    fn sandbox_builds() {
        let mut e = Engine::new().expect("engine");
        let sha = e.load(b"return 1").expect("compiles");
        assert_eq!(sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
        assert!(
            e.load(b"return +")
                .unwrap_err()
                .starts_with("ERR Error compiling script")
        );
    }
}
