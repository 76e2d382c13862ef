//! The hot path of a script: `redis.call` / `redis.pcall` and the KEYS /
//! ARGV set-up, as raw Lua C functions (Redis's luaRedisGenericCommand,
//! luaCreateArray). The argv is read straight off the Lua stack into
//! buffers reused across calls, the command runs through
//! [`crate::commands::call`] on the fake client, and its reply is pushed as
//! Lua values straight from the RESP bytes the handler wrote (Redis's
//! redisProtocolToLuaType) - no mlua values, references or protected
//! closures per call.
//!
//! Each C function works in two phases: the Rust phase (reading the stack,
//! running the command) makes no Lua call that can raise; the push phase
//! only holds borrowed data, so a Lua error (out of memory, or the raised
//! error table of redis.call) never skips a Rust destructor.

use std::ffi::c_int;
use std::ops::Range;

use mlua::ffi;

use super::{ACTIVE, RunCtx};
use crate::commands::{CmdError, CommandSpec, call, flags, resolve};
use crate::server::{Client, Server};

/// Buffer capacity kept between redis.call calls.
const KEEP_BYTES: usize = 64 * 1024;

/// The deepest reply nesting pushed as Lua tables (bounded by the stack).
const MAX_DEPTH: usize = 1000;

/// What the Rust phase leaves for the push phase.
enum Outcome {
    /// The command ran: its reply is in the fake client's buffer.
    Reply,
    /// A check refused the command: the error table's text is `RunCtx::err`.
    Refused,
}

/// `redis.call`: raises the error table of a failed command.
pub(crate) unsafe extern "C-unwind" fn redis_call(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe { generic(l, true) }
}

/// `redis.pcall`: returns the error table instead.
pub(crate) unsafe extern "C-unwind" fn redis_pcall(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe { generic(l, false) }
}

unsafe fn generic(l: *mut ffi::lua_State, raise: bool) -> c_int {
    let Some(a) = ACTIVE.with(|c| c.take()) else {
        // SAFETY: `l` is the calling state; the literal is static.
        unsafe { push_err(l, b"ERR redis.call is only available while a script runs") };
        return finish(l, raise, true);
    };
    // Taken out while the command runs and put back after: a nested call
    // (impossible: scripts cannot start scripts) would find none instead
    // of aliasing the server.
    // SAFETY: the pointers come from `run_in`'s exclusive borrows, which
    // it does not use while the script runs, and ACTIVE is cleared before
    // `run_in` returns.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
        let (srv, fake, run) = (&mut *a.srv, &mut *a.fake, &mut *a.run);
        run_command(l, srv, fake, run)
    }));
    ACTIVE.with(|c| c.set(Some(a)));
    // SAFETY: as above; only shared borrows from here on.
    let (fake, run) = unsafe { (&*a.fake, &*a.run) };
    let is_err = match outcome {
        Ok(Outcome::Refused) => {
            // SAFETY: `l` is the calling state.
            unsafe { push_err(l, run.err.as_bytes()) };
            true
        }
        // SAFETY: `l` is the calling state; the buffer outlives the push.
        Ok(Outcome::Reply) => unsafe { push_reply(l, &fake.reply.buf, run.resp3) },
        Err(payload) => {
            // Dropped before a raise could skip its destructor.
            drop(payload);
            log::error!("Internal error in a command called from a script");
            // SAFETY: as above.
            unsafe { push_err(l, b"ERR internal error") };
            true
        }
    };
    // The buffers are kept for the next call, but not a huge one's (a
    // big argv or reply) for the rest of the interpreter's life.
    // SAFETY: as above; the shared borrows above are no longer used.
    unsafe {
        let (fake, run) = (&mut *a.fake, &mut *a.run);
        if fake.reply.buf.capacity() > KEEP_BYTES {
            fake.reply.buf = Default::default();
        }
        if run.data.capacity() > KEEP_BYTES {
            run.data = Vec::new();
        }
    }
    finish(l, raise, is_err)
}

/// Returns the pushed value, or raises it (redis.call of a failed command).
fn finish(l: *mut ffi::lua_State, raise: bool, is_err: bool) -> c_int {
    if is_err && raise {
        // SAFETY: the error table is on top of the stack; no Rust value
        // with a destructor lives in this frame or the callers up to Lua.
        unsafe { ffi::lua_error(l) }
    }
    1
}

/// The Rust phase: argv from the stack, the checks of Redis's scriptCall
/// (in its order), then the command. Leaves the reply in `fake.reply.buf`.
unsafe fn run_command(
    l: *mut ffi::lua_State,
    srv: &mut Server,
    fake: &mut Client,
    ctx: &mut RunCtx,
) -> Outcome {
    let refuse = |ctx: &mut RunCtx, text: &str| {
        ctx.err.clear();
        ctx.err.push_str(text);
        Outcome::Refused
    };
    // SAFETY: `l` is valid; gettop / type / tolstring of a string /
    // tonumber neither allocate nor raise.
    let n = unsafe { ffi::lua_gettop(l) };
    if n <= 0 {
        return refuse(
            ctx,
            "ERR Please specify at least one argument for this redis lib call",
        );
    }
    // The argv in one reused buffer and its ranges.
    ctx.data.clear();
    ctx.ranges.clear();
    for i in 1..=n {
        let start = ctx.data.len();
        match unsafe { ffi::lua_type(l, i) } {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = unsafe { ffi::lua_tolstring(l, i, &mut len) };
                if !p.is_null() {
                    // SAFETY: Lua strings are `len` bytes at `p`, alive
                    // while on the stack (for this whole function).
                    let s = unsafe { std::slice::from_raw_parts(p as *const u8, len) };
                    ctx.data.extend_from_slice(s);
                }
            }
            ffi::LUA_TNUMBER => {
                // Not lua_tolstring: its %.14g loses precision (Redis
                // prints %.17g).
                let v = unsafe { ffi::lua_tonumber(l, i) };
                ctx.data
                    .extend_from_slice(crate::number::fmt_g17(v).as_bytes());
            }
            _ => {
                return refuse(
                    ctx,
                    "ERR Lua redis lib command arguments must be strings or integers",
                );
            }
        }
        ctx.ranges.push(start..ctx.data.len());
    }
    let data = std::mem::take(&mut ctx.data);
    let ranges = std::mem::take(&mut ctx.ranges);
    let out = dispatch(srv, fake, ctx, &data, &ranges);
    ctx.data = data;
    ctx.ranges = ranges;
    out
}

fn dispatch(
    srv: &mut Server,
    fake: &mut Client,
    ctx: &mut RunCtx,
    data: &[u8],
    ranges: &[Range<usize>],
) -> Outcome {
    let refuse = |ctx: &mut RunCtx, text: &str| {
        ctx.err.clear();
        ctx.err.push_str(text);
        Outcome::Refused
    };
    let args = crate::commands::Args::new(data, ranges);
    let spec: &'static CommandSpec = match resolve(&args) {
        Ok(s) => s,
        Err(CmdError::WrongArity(_)) => {
            return refuse(
                ctx,
                "ERR Wrong number of args calling Redis command from script",
            );
        }
        Err(_) => return refuse(ctx, "ERR Unknown Redis command called from script"),
    };
    if spec.has(flags::NOSCRIPT) {
        return refuse(ctx, "ERR This Redis command is not allowed from script");
    }
    let user = srv.acl.user(fake.user);
    if !user.unrestricted
        && let Err(d) = user.check(spec, &args)
    {
        crate::acl::log_denial(srv, fake, d, crate::acl::LogContext::Lua, spec, &args);
        let text = format!("ERR {}", d.script_error());
        return refuse(ctx, &text);
    }
    let write = spec.has(flags::WRITE);
    if write && ctx.read_only {
        return refuse(
            ctx,
            "ERR Write commands are not allowed from read-only scripts.",
        );
    }
    // scriptVerifyOOM: over maxmemory when the script started, a command
    // that may grow memory is refused until the script has written (a
    // script that already changed data cannot stop half-way).
    if ctx.oom && !ctx.wrote && spec.has(flags::DENYOOM) {
        return refuse(ctx, crate::memory::OOM_ERROR);
    }
    if write {
        ctx.wrote = true;
    }
    // In a cluster a script runs on the node owning its declared keys; a
    // key it touches elsewhere is Redis's error (never a silent local write).
    if srv.cluster.as_ref().is_some_and(|t| t.members.len() > 1)
        && crate::cluster::route::foreign_key(srv, spec, &args).is_some()
    {
        return refuse(
            ctx,
            "ERR Script attempted to access a non local key in a cluster node",
        );
    }
    fake.reply.buf.clear();
    fake.reply.resp3 = ctx.resp3;
    let before = srv.store.prop.buf.len();
    let _ = call(srv, fake, spec, &args);
    if srv.store.prop.buf.len() > before {
        ctx.propagated += 1;
    }
    Outcome::Reply
}

/// Pushes `{err = text, ignore_error_stats_update = true}`: the error was
/// counted when the command failed (or is a script-side refusal Redis
/// does not count again either).
unsafe fn push_err(l: *mut ffi::lua_State, text: &[u8]) {
    // Redis's luaPushErrorBuff trims the reply's line end.
    let mut end = text.len();
    while end > 0 && matches!(text[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    // SAFETY: `l` is valid with room for 3 slots (LUA_MINSTACK for a C
    // function; the push phase of nested values checks its own).
    unsafe {
        ffi::lua_createtable(l, 0, 2);
        push_bytes(l, b"err");
        push_bytes(l, &text[..end]);
        ffi::lua_rawset(l, -3);
        push_bytes(l, b"ignore_error_stats_update");
        ffi::lua_pushboolean(l, 1);
        ffi::lua_rawset(l, -3);
    }
}

unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    // SAFETY: a (pointer, length) pair of a live slice; Lua copies it.
    unsafe { ffi::lua_pushlstring_(l, b.as_ptr() as *const _, b.len()) }
}

/// `{field = <value on top>}`: wraps the top value in a one-field table.
unsafe fn wrap(l: *mut ffi::lua_State, field: &[u8]) {
    // SAFETY: a value is on top; two more slots were checked by the caller.
    unsafe {
        ffi::lua_createtable(l, 0, 1);
        push_bytes(l, field);
        ffi::lua_pushvalue(l, -3);
        ffi::lua_rawset(l, -3);
        ffi::lua_replace(l, -2);
    }
}

/// Pushes the command's reply as one Lua value; true if it is an error.
/// A reply this cannot read (never produced by the encoder) becomes an
/// error table instead of a panic.
unsafe fn push_reply(l: *mut ffi::lua_State, buf: &[u8], resp3: bool) -> bool {
    // SAFETY: `l` is valid; `push_value` keeps the stack balanced.
    unsafe {
        let top = ffi::lua_gettop(l);
        let mut pos = 0;
        if buf.first() == Some(&b'-') {
            let end = memchr::memchr(b'\r', buf).unwrap_or(buf.len());
            push_err(l, &buf[1..end]);
            return true;
        }
        if push_value(l, buf, &mut pos, resp3, 0).is_none() {
            ffi::lua_settop(l, top);
            push_err(l, b"ERR internal error: unparsable reply");
            return true;
        }
        false
    }
}

/// The header line after a type byte at `*pos`; moves past its CRLF.
fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let start = *pos + 1;
    let rest = buf.get(start..)?;
    let n = memchr::memchr(b'\r', rest)?;
    if rest.get(n + 1) != Some(&b'\n') {
        return None;
    }
    *pos = start + n + 2;
    Some(&rest[..n])
}

fn number(text: &[u8]) -> Option<i64> {
    crate::number::parse_i64(text)
}

/// A `$`-style length-prefixed payload after its header at `*pos`.
fn payload<'a>(buf: &'a [u8], pos: &mut usize, len: usize) -> Option<&'a [u8]> {
    let body = buf.get(*pos..pos.checked_add(len)?)?;
    if buf.get(*pos + len..*pos + len + 2)? != b"\r\n" {
        return None;
    }
    *pos += len + 2;
    Some(body)
}

/// Redis's redisProtocolToLuaType for one value at `*pos`. None: malformed
/// or too deep (the caller restores the stack top).
unsafe fn push_value(
    l: *mut ffi::lua_State,
    buf: &[u8],
    pos: &mut usize,
    resp3: bool,
    depth: usize,
) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    // SAFETY (whole body): `l` is valid and every push is preceded by a
    // checkstack of at least 4 slots.
    unsafe {
        if ffi::lua_checkstack(l, 4) == 0 {
            return None;
        }
        let kind = *buf.get(*pos)?;
        let head = line(buf, pos)?;
        match kind {
            b':' => ffi::lua_pushnumber(l, number(head)? as f64),
            b'$' => {
                let n = number(head)?;
                if n < 0 {
                    push_null(l, resp3);
                } else {
                    push_bytes(l, payload(buf, pos, n as usize)?);
                }
            }
            b'+' => {
                push_bytes(l, head);
                wrap(l, b"ok");
            }
            b'-' => push_err(l, head),
            b'_' => push_null(l, resp3),
            b'#' => ffi::lua_pushboolean(l, (head == b"t") as c_int),
            b',' => {
                ffi::lua_pushnumber(l, crate::number::parse_f64(head).unwrap_or(0.0));
                wrap(l, b"double");
            }
            b'(' => {
                push_bytes(l, head);
                wrap(l, b"big_number");
            }
            b'=' => {
                let v = payload(buf, pos, usize::try_from(number(head)?).ok()?)?;
                let (fmt, text) = if v.len() >= 4 && v[3] == b':' {
                    (&v[..3], &v[4..])
                } else {
                    (&b"txt"[..], v)
                };
                ffi::lua_createtable(l, 0, 2);
                push_bytes(l, b"format");
                push_bytes(l, fmt);
                ffi::lua_rawset(l, -3);
                push_bytes(l, b"string");
                push_bytes(l, text);
                ffi::lua_rawset(l, -3);
                wrap(l, b"verbatim_string");
            }
            b'*' | b'>' => {
                let n = number(head)?;
                if n < 0 {
                    push_null(l, resp3);
                    return Some(());
                }
                // Every element takes at least 3 bytes: a count the
                // buffer cannot hold is malformed, not an allocation.
                let n = usize::try_from(n).ok()?;
                if n > (buf.len() - *pos) / 3 {
                    return None;
                }
                ffi::lua_createtable(l, c_int::try_from(n).ok()?, 0);
                for i in 0..n {
                    push_value(l, buf, pos, resp3, depth + 1)?;
                    ffi::lua_rawseti_(l, -2, c_int::try_from(i + 1).ok()?);
                }
            }
            b'%' | b'~' => {
                let n = usize::try_from(number(head)?).ok()?;
                if n > (buf.len() - *pos) / 3 {
                    return None;
                }
                let map = kind == b'%';
                ffi::lua_createtable(l, 0, c_int::try_from(n).ok()?);
                for _ in 0..n {
                    push_value(l, buf, pos, resp3, depth + 1)?;
                    if map {
                        push_value(l, buf, pos, resp3, depth + 1)?;
                    } else {
                        ffi::lua_pushboolean(l, 1);
                    }
                    // A nil key cannot be stored (Lua would raise).
                    if ffi::lua_type(l, -2) == ffi::LUA_TNIL {
                        ffi::lua_settop(l, -3);
                    } else {
                        ffi::lua_rawset(l, -3);
                    }
                }
                wrap(l, if map { b"map" } else { b"set" });
            }
            _ => return None,
        }
    }
    Some(())
}

/// A null reply: `false` in RESP2 (Redis 7.0's scripts), nil in RESP3.
unsafe fn push_null(l: *mut ffi::lua_State, resp3: bool) {
    // SAFETY: the caller checked the stack.
    unsafe {
        if resp3 {
            ffi::lua_pushnil(l);
        } else {
            ffi::lua_pushboolean(l, 0);
        }
    }
}

/// `H.args()`: the KEYS and ARGV tables of the running script (Redis's
/// luaCreateArray), from the caller's argv.
pub(crate) unsafe extern "C-unwind" fn script_args(l: *mut ffi::lua_State) -> c_int {
    let Some(a) = ACTIVE.with(|c| c.get()) else {
        return 0;
    };
    // SAFETY: `run_in` keeps the slices alive while ACTIVE is set; the
    // pushes only borrow them.
    unsafe {
        let (keys, argv) = (&*a.keys, &*a.argv);
        for items in [keys, argv] {
            if ffi::lua_checkstack(l, 3) == 0 {
                return 0;
            }
            let n = c_int::try_from(items.len()).unwrap_or(c_int::MAX);
            ffi::lua_createtable(l, n, 0);
            for (i, item) in items.iter().enumerate().take(n as usize) {
                push_bytes(l, item);
                ffi::lua_rawseti_(l, -2, i as c_int + 1);
            }
        }
    }
    2
}

/// Registers `redis.call` and `redis.pcall` (after the bootstrap made the
/// `redis` table).
pub(crate) fn register(lua: &mlua::Lua, redis: &mlua::Table) -> mlua::Result<()> {
    // SAFETY: the functions follow the lua_CFunction contract (see the
    // module comment for how they raise).
    unsafe {
        redis.raw_set("call", lua.create_c_function(redis_call)?)?;
        redis.raw_set("pcall", lua.create_c_function(redis_pcall)?)
    }
}

/// Registers `H.args` (before the bootstrap, whose runners use it).
pub(crate) fn register_args(lua: &mlua::Lua, hidden: &mlua::Table) -> mlua::Result<()> {
    // SAFETY: as above; `script_args` never raises.
    unsafe { hidden.raw_set("args", lua.create_c_function(script_args)?) }
}
