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
mod call;
pub mod cjson;
pub mod cmsgpack;
pub mod functions;
pub mod rand48;
pub mod structlib;

use std::collections::HashMap;

use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value as LuaValue};

use crate::commands::{CmdError, CommandSpec};
use crate::resp::Reply;
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

/// Hashing of script ids for the cache. They are SHA1 hex digests, so a
/// multiply-fold of their bytes (seeded per process, finished with
/// murmur's mix) spreads them as well as SipHash at a fraction of the
/// cost, which EVALSHA pays on every call.
#[derive(Clone)]
pub struct ShaState(u64);

impl Default for ShaState {
    fn default() -> Self {
        use std::hash::BuildHasher;
        ShaState(std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64))
    }
}

impl std::hash::BuildHasher for ShaState {
    type Hasher = ShaHasher;
    fn build_hasher(&self) -> ShaHasher {
        ShaHasher(self.0)
    }
}

pub struct ShaHasher(u64);

impl std::hash::Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.0 =
                (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^ (x >> 33)
    }
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
    /// Hidden table shared with the bootstrap chunk: `run` / `run_fn`
    /// (xpcall with Redis's handler), `args` (KEYS / ARGV), `err`.
    hidden: Table,
    pub scripts: HashMap<String, Script, ShaState>,
    /// xpcall of a script with Redis's error handler (bootstrap's `run`).
    runner: Function,
    /// The same for a function: keys and args as parameters (`run_fn`).
    fn_runner: Function,
    /// The client scripts run their commands as (Redis's lua client).
    fake: Box<Client>,
    /// The running script's state, kept between runs for its buffers.
    ctx: RunCtx,
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
        call::register_args(&lua, &hidden)?;
        if functions {
            functions::install_register(&lua, &native, &hidden)?;
        }
        bit::install(&lua, &lua.globals(), &hidden)?;
        cjson::install(&lua, &lua.globals(), &hidden)?;
        cmsgpack::install(&lua, &lua.globals(), &hidden)?;
        structlib::install(&lua, &lua.globals(), &hidden)?;
        native.set("version", crate::REDIS_VERSION)?;
        native.set("version_num", version_num(crate::REDIS_VERSION))?;
        let _globals: Table = lua
            .load(include_str!("bootstrap.lua"))
            .set_name("=memkv")
            .call((hidden.clone(), native))?;
        let redis: Table = hidden.raw_get("redis")?;
        call::register(&lua, &redis)?;
        let runner: Function = hidden.raw_get("run")?;
        let fn_runner: Function = hidden.raw_get("run_fn")?;
        install_hook(&lua, &hidden);
        Ok(Engine {
            runner,
            fn_runner,
            lua,
            hidden,
            scripts: HashMap::default(),
            fake: Box::new(Client::internal(0)),
            ctx: RunCtx::default(),
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
            if let Some(a) = ACTIVE.with(|c| c.get()) {
                // SAFETY: only the flag is written; redis.call is not
                // running (this is a different native).
                unsafe { (*a.run).resp3 = v == 3 };
            }
            Ok(())
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

/// Raises a Lua library error as luaL_error does: a plain string, the
/// position of the calling Lua code then the message. pcall returns it as
/// is; uncaught, Redis's handler makes it `{err = 'ERR ' .. it}`.
pub(crate) fn raise_here(lua: &Lua, hidden: &Table, msg: &str) -> mlua::Result<()> {
    let text = format!("{}{msg}", lua_where(lua));
    hidden.raw_set("err", text.as_str())?;
    Err(mlua::Error::RuntimeError(text))
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
pub(crate) struct Active {
    pub(crate) srv: *mut Server,
    pub(crate) fake: *mut Client,
    pub(crate) run: *mut RunCtx,
    /// The script's keys and arguments (KEYS / ARGV, or FCALL's).
    pub(crate) keys: *const [&'static [u8]],
    pub(crate) argv: *const [&'static [u8]],
}

thread_local! {
    pub(crate) static ACTIVE: std::cell::Cell<Option<Active>> = const { std::cell::Cell::new(None) };
    /// The running script as the busy hook needs it (set per run, read
    /// every 100,000 instructions).
    static HOOK: std::cell::RefCell<HookRun> = std::cell::RefCell::new(HookRun::default());
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

/// What the instruction-count hook needs to know about the running code.
#[derive(Default)]
struct HookRun {
    /// When the running script started (None: no script runs).
    started: Option<std::time::Instant>,
    fcall: bool,
    /// The SHA1 or function name (reused buffer).
    name: String,
    /// FCALL's argv, for FUNCTION STATS while busy (copied only then;
    /// `run_in`'s borrow, valid while `started` is set).
    command: Option<*const [&'static [u8]]>,
    /// FUNCTION LOAD running a library's code since then.
    load_started: Option<std::time::Instant>,
    /// SCRIPT KILL replaced the hook: put the standard one back after.
    replaced: bool,
}

/// FUNCTION LOAD's time limit for a library's top-level code.
pub(crate) const LOAD_TIMEOUT_MS: u64 = 500;

/// FUNCTION LOAD runs a library's code (`on`) or is done: the hook then
/// enforces [`LOAD_TIMEOUT_MS`].
pub(crate) fn set_loading(on: bool) {
    HOOK.with(|h| h.borrow_mut().load_started = on.then(std::time::Instant::now));
}

/// The interpreter's one count hook, installed when it is created (not per
/// script: setting an mlua hook allocates a closure and registry entries).
/// Every 100,000 instructions it checks the clock against the running
/// script's busy-reply-threshold (or FUNCTION LOAD's timeout).
fn install_hook(lua: &Lua, hidden: &Table) {
    let h = hidden.clone();
    let _ = lua.set_hook(
        mlua::HookTriggers::new().every_nth_instruction(100_000),
        move |lua, _| busy_hook(lua, &h),
    );
}

fn busy_hook(lua: &Lua, h: &Table) -> mlua::Result<mlua::VmState> {
    let (started, load) = HOOK.with(|s| {
        let s = s.borrow();
        (s.started, s.load_started)
    });
    if let Some(st) = load {
        if st.elapsed().as_millis() as u64 > LOAD_TIMEOUT_MS {
            raise(lua, h, "ERR FUNCTION LOAD timeout")?;
        }
        return Ok(mlua::VmState::Continue);
    }
    let (Some(started), Some(a)) = (started, ACTIVE.with(|c| c.get())) else {
        return Ok(mlua::VmState::Continue);
    };
    // SAFETY: as in redis.call: the pointers are `run_in`'s exclusive
    // borrows, unused by it while Lua runs; a hook never runs inside
    // redis.call (no Lua code runs there).
    let (srv, run) = unsafe { (&mut *a.srv, &*a.run) };
    // Past busy-reply-threshold the script is busy, as in Redis: the hook
    // serves the other clients (BUSY to most commands; SCRIPT KILL /
    // FUNCTION KILL / SHUTDOWN NOSAVE work) until the script ends or is
    // killed (see `busy`). The setting is read here, not per script.
    let limit_ms = srv
        .config
        .value("busy-reply-threshold")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(5000);
    if started.elapsed() <= std::time::Duration::from_millis(limit_ms) {
        return Ok(mlua::VmState::Continue);
    }
    if srv.busy.running.is_none() {
        let (fcall, name, command) = HOOK.with(|s| {
            let s = s.borrow();
            // SAFETY: `command` is the running `run_in`'s borrowed argv
            // (the hook only fires while it runs).
            let command: &[&[u8]] = s.command.map_or(&[], |p| unsafe { &*p });
            (
                s.fcall,
                s.name.clone(),
                command.iter().map(|a| a.to_vec()).collect(),
            )
        });
        log::warn!(
            "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} KILL command. Script name is: {}.",
            started.elapsed().as_millis(),
            if fcall { "FUNCTION" } else { "SCRIPT" },
            name
        );
        srv.busy.running = Some(busy::Running {
            eval: !fcall,
            name,
            command,
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
    // From now on every instruction of the script raises, so a pcall in a
    // loop cannot catch its way past the kill (the sandbox's own code, the
    // error handler, still runs). `run_in` puts the standard hook back.
    let text = "ERR Script killed by user with SCRIPT KILL...";
    HOOK.with(|s| s.borrow_mut().replaced = true);
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
    raise(lua, h, text)?;
    Ok(mlua::VmState::Continue)
}

/// What a running script needs besides the interpreter; one per engine,
/// reset per run, so redis.call's buffers are reused.
#[derive(Default)]
pub(crate) struct RunCtx {
    pub(crate) read_only: bool,
    /// A write command ran (SCRIPT KILL then answers UNKILLABLE; past the
    /// OOM check).
    pub(crate) wrote: bool,
    /// Commands the script propagated (more than one: MULTI/EXEC).
    pub(crate) propagated: usize,
    /// redis.setresp(3) was called.
    pub(crate) resp3: bool,
    /// Over maxmemory when the script started and not `allow-oom`: its
    /// denyoom commands fail until it has written (scriptVerifyOOM).
    pub(crate) oom: bool,
    /// redis.call's argv buffer and ranges.
    pub(crate) data: Vec<u8>,
    pub(crate) ranges: Vec<std::ops::Range<usize>>,
    /// The error text of a refused redis.call.
    pub(crate) err: String,
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
                command: &[],
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
    pub command: &'a [&'a [u8]],
}

/// Whether a script with these flags is refused over maxmemory: one with
/// a shebang (or a function) that may write and does not declare
/// `allow-oom` (Redis's scriptFlagsToCmdFlags adding CMD_DENYOOM).
pub fn flags_deny_oom(flags: u32, fcall: bool) -> bool {
    (fcall || flags & script_flags::SHEBANG != 0)
        && flags & (script_flags::ALLOW_OOM | script_flags::NO_WRITES) == 0
}

/// Whether EVAL* / FCALL* `args` count as a denyoom command before they
/// run (Redis's evalGetCommandFlags / fcallGetCommandFlags): by the flags
/// of the script (cached, or the shebang of EVAL's body) or function.
pub fn command_denies_oom(srv: &Server, spec: &CommandSpec, args: &crate::commands::Args) -> bool {
    let Some(target) = args.get(1) else {
        return false;
    };
    match spec.name {
        "eval" | "eval_ro" => parse_shebang(target).is_ok_and(|(f, _)| flags_deny_oom(f, false)),
        "evalsha" | "evalsha_ro" => {
            let sha = String::from_utf8_lossy(target).to_ascii_lowercase();
            srv.scripting
                .as_ref()
                .and_then(|e| e.scripts.get(&sha))
                .is_some_and(|s| flags_deny_oom(s.flags, false))
        }
        "fcall" | "fcall_ro" => srv
            .functions
            .as_ref()
            .and_then(|f| f.reg.function(target).map(|(_, d)| d.flags))
            .is_some_and(|f| flags_deny_oom(f, true)),
        _ => false,
    }
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
    // Over maxmemory when the command started (the dispatcher evicted
    // first): scriptPrepareForRun refuses a flagged script that may write;
    // a script without shebang runs, its denyoom commands checked by
    // redis.call. The dispatcher already refused most such scripts as
    // denyoom commands; this covers the rest (e.g. loaded after queueing).
    let oom_at_start =
        srv.store.evict.maxmemory != 0 && !c.is_internal() && srv.store.evict.oom_before_command;
    if oom_at_start && flags_deny_oom(script_flags_, fcall) {
        return Err(CmdError::Static(
            "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
        ));
    }
    let read_only = read_only || script_flags_ & script_flags::NO_WRITES != 0;

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
    if fake.user_name != c.user_name {
        fake.user_name.clone_from(&c.user_name);
    }
    let run = &mut eng.ctx;
    run.read_only = read_only;
    run.wrote = false;
    run.propagated = 0;
    run.resp3 = false;
    run.oom = oom_at_start && script_flags_ & script_flags::ALLOW_OOM == 0;
    HOOK.with(|h| {
        let mut h = h.borrow_mut();
        h.started = Some(std::time::Instant::now());
        h.fcall = fcall;
        h.name.clear();
        h.name.push_str(sha);
        // SAFETY (lifetime erasure): read only while `started` is set,
        // which this function clears before returning.
        h.command =
            Some(unsafe { std::mem::transmute::<*const [&[u8]], *const [&'static [u8]]>(command) });
    });
    // SAFETY (lifetime erasure): ACTIVE holds these slices only while the
    // guard lives, inside this function, where they are borrowed.
    let (keys_ptr, argv_ptr) = unsafe {
        (
            std::mem::transmute::<*const [&[u8]], *const [&'static [u8]]>(keys),
            std::mem::transmute::<*const [&[u8]], *const [&'static [u8]]>(argv),
        )
    };
    // redis.call / pcall reach the server through ACTIVE for exactly the
    // duration of this call (see `Active`).
    let guard = ActiveGuard::set(Active {
        srv: srv as *mut Server,
        fake: &mut **fake as *mut Client,
        run: run as *mut RunCtx,
        keys: keys_ptr,
        argv: argv_ptr,
    });
    let runner = if fcall { &eng.fn_runner } else { &eng.runner };
    let result = runner.call::<(bool, LuaValue)>(func);
    drop(guard);
    let replaced = HOOK.with(|h| {
        let mut h = h.borrow_mut();
        h.started = None;
        h.command = None;
        std::mem::take(&mut h.replaced)
    });
    if replaced {
        install_hook(&eng.lua, &eng.hidden);
    }
    let killed_by_shutdown = srv.busy.running.take().is_some_and(|r| r.shutdown);
    let ctx = &eng.ctx;
    let outcome = match result {
        Ok((ok, val)) => {
            let mark = c.reply.len();
            let out = if ok {
                lua_to_reply(&val, &mut c.reply, ctx.resp3, 0)
            } else {
                if counted_already(&val) {
                    crate::ops::error_already_counted();
                }
                Err(error_table_text(&val, sha))
            };
            if out.is_err() {
                c.reply.truncate(mark);
            }
            out
        }
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
    g_fmt(n, 14)
}

/// C's `%.<precision>g` of a double (precision 1 to 17).
pub(crate) fn g_fmt(n: f64, precision: i32) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is large enough for any %g output of a double
    // with precision <= 17, and snprintf NUL-terminates within its size.
    let len = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%.*g".as_ptr(),
            precision.clamp(1, 17) as libc::c_int,
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

/// Whether an error table carries the already-counted mark.
fn counted_already(v: &LuaValue) -> bool {
    matches!(v, LuaValue::Table(t)
        if matches!(t.raw_get::<LuaValue>("ignore_error_stats_update"), Ok(LuaValue::Boolean(true))))
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
