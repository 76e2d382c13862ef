//! Redis 7.0 Functions: the library registry (libraries by name, functions
//! by case-insensitive name), FUNCTION LOAD's metadata and load steps with
//! Redis's error texts, `redis.register_function`, and the FUNCTION DUMP /
//! RESTORE payload (RDB_OPCODE_FUNCTION2 + the library code as an RDB
//! string, then the RDB version and Redis's CRC64), so payloads move both
//! ways between Redis and memkv.
//!
//! Libraries run in their own interpreter ([`Engine::new_functions`]), as
//! in Redis: EVAL's SCRIPT FLUSH does not touch them, and while a library's
//! code is loaded its globals are only the load API.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use mlua::{Function, Lua, MultiValue, Table, Value as LuaValue};

use super::{Engine, lua_error_text, lua_value_text, raise, script_flags};

/// Flag names in Redis's order (scripts_flags_def), as FUNCTION LIST shows them.
pub const FLAG_NAMES: &[(&str, u32)] = &[
    ("no-writes", script_flags::NO_WRITES),
    ("allow-oom", script_flags::ALLOW_OOM),
    ("allow-stale", script_flags::ALLOW_STALE),
    ("no-cluster", script_flags::NO_CLUSTER),
    ("allow-cross-slot-keys", script_flags::ALLOW_CROSS_SLOT),
];

use crate::rdb::{
    OP_FUNCTION as OPCODE_FUNCTION_PRE_GA, OP_FUNCTION2 as OPCODE_FUNCTION2, RDB_VERSION,
};

/// One registered function.
#[derive(Clone)]
pub struct FunctionDef {
    pub name: String,
    pub desc: Option<Vec<u8>>,
    pub flags: u32,
    pub func: Function,
}

/// A loaded library: its full code (shebang included) and functions in
/// registration order.
#[derive(Clone)]
pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: Vec<FunctionDef>,
}

/// Libraries by name (case-sensitive, as Redis's dict) and the index of
/// function names (case-insensitive, as Redis's) to their library.
#[derive(Default, Clone)]
pub struct Registry {
    pub libs: BTreeMap<String, Library>,
    funcs: HashMap<String, String>,
}

impl Registry {
    pub fn function_count(&self) -> usize {
        self.funcs.len()
    }

    /// Bytes of library code and names (INFO used_memory_functions).
    pub fn code_bytes(&self) -> usize {
        self.libs
            .values()
            .map(|l| {
                l.code.len()
                    + l.name.len()
                    + l.functions
                        .iter()
                        .map(|f| f.name.len() + f.desc.as_ref().map_or(0, Vec::len))
                        .sum::<usize>()
            })
            .sum()
    }

    /// The function `name` (any case) and its library.
    pub fn function(&self, name: &[u8]) -> Option<(&Library, &FunctionDef)> {
        let key = String::from_utf8_lossy(name).to_ascii_lowercase();
        let lib = self.libs.get(self.funcs.get(&key)?)?;
        let f = lib
            .functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&key))?;
        Some((lib, f))
    }

    fn link(&mut self, lib: Library) {
        for f in &lib.functions {
            self.funcs
                .insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    fn unlink(&mut self, name: &str) -> Option<Library> {
        let lib = self.libs.remove(name)?;
        for f in &lib.functions {
            self.funcs.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    /// The first function of `lib` whose name another library holds.
    fn collision<'a>(&self, lib: &'a Library) -> Option<&'a str> {
        lib.functions
            .iter()
            .find(|f| self.funcs.contains_key(&f.name.to_ascii_lowercase()))
            .map(|f| f.name.as_str())
    }

    /// RESP commands (FUNCTION LOAD per library) recreating the registry;
    /// what the AOF rewrite writes first, as Redis's rewriteFunctions.
    pub fn rewrite_commands(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for lib in self.libs.values() {
            crate::aof::propagate::encode_into(
                &mut out,
                [&b"FUNCTION"[..], b"LOAD", &lib.code].into_iter(),
            );
        }
        out
    }
}

/// The functions engine: its interpreter and the current libraries.
pub struct Functions {
    pub engine: Engine,
    pub reg: Registry,
    /// The registry before the running EXEC first changed it (with
    /// multi-rollback; the libraries hold their compiled functions, so a
    /// copy is cheap).
    pub undo: Option<Registry>,
}

thread_local! {
    /// Functions registered by the library being loaded; `None` outside
    /// FUNCTION LOAD (redis.register_function then raises).
    static PENDING: RefCell<Option<Vec<FunctionDef>>> = const { RefCell::new(None) };
}

/// How FUNCTION RESTORE treats existing libraries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    Flush,
    Append,
    Replace,
}

impl Functions {
    pub fn new() -> mlua::Result<Functions> {
        Ok(Functions {
            engine: Engine::new_functions()?,
            reg: Registry::default(),
            undo: None,
        })
    }

    /// FUNCTION LOAD: compiles and registers `code`; returns the library
    /// name. Errors are Redis's texts without the "ERR " prefix.
    pub fn load(&mut self, code: &[u8], replace: bool) -> Result<String, String> {
        create(&self.engine, &mut self.reg, code, replace)
    }

    /// FUNCTION DELETE.
    pub fn delete(&mut self, name: &[u8]) -> bool {
        let name = String::from_utf8_lossy(name);
        self.reg.unlink(&name).is_some()
    }

    /// FUNCTION FLUSH.
    pub fn flush(&mut self) {
        self.reg = Registry::default();
    }

    /// FUNCTION DUMP's payload.
    pub fn dump(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for lib in self.reg.libs.values() {
            crate::rdb::save::write_function(&mut out, &lib.code);
        }
        out.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crate::rdb::crc64(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// FUNCTION RESTORE: every library of the payload is loaded into a
    /// scratch registry first; nothing changes unless all of it applies.
    pub fn restore(&mut self, payload: &[u8], policy: RestorePolicy) -> Result<(), String> {
        if !crate::rdb::save::verify_dump_payload(payload) {
            return Err("DUMP payload version or checksum are wrong".into());
        }
        let body = &payload[..payload.len() - 10];
        let mut scratch = Registry::default();
        let mut pos = 0;
        while pos < body.len() {
            let kind = body[pos];
            pos += 1;
            if kind == OPCODE_FUNCTION_PRE_GA {
                return Err("Pre-GA function format not supported".into());
            }
            if kind != OPCODE_FUNCTION2 {
                return Err("given type is not a function".into());
            }
            let mut d = crate::rdb::load::Decoder::at(body, pos);
            let code = d
                .string()
                .map_err(|_| String::from("Failed loading library payload"))?
                .into_owned();
            pos = d.pos;
            create(&self.engine, &mut scratch, &code, false)?;
        }
        if policy == RestorePolicy::Flush {
            self.reg = scratch;
            return Ok(());
        }
        // libraryJoin: name clashes first, then function clashes against
        // what remains; on error the registry is as it was.
        let mut removed = Vec::new();
        for name in scratch.libs.keys() {
            if self.reg.libs.contains_key(name) {
                if policy == RestorePolicy::Append {
                    return Err(format!("Library {name} already exists"));
                }
                removed.push(name.clone());
            }
        }
        let old: Vec<Library> = removed.iter().filter_map(|n| self.reg.unlink(n)).collect();
        let clash = scratch
            .libs
            .values()
            .find_map(|l| self.reg.collision(l).map(str::to_string));
        if let Some(f) = clash {
            for lib in old {
                self.reg.link(lib);
            }
            return Err(format!("Function {f} already exists"));
        }
        for (_, lib) in std::mem::take(&mut scratch.libs) {
            self.reg.link(lib);
        }
        Ok(())
    }
}

/// EXEC ended: a rolled-back transaction restores the libraries it
/// changed, a committed one keeps them.
pub fn end_transaction(srv: &mut crate::server::Server, committed: bool) {
    if let Some(f) = srv.functions.as_mut()
        && let Some(before) = f.undo.take()
        && !committed
    {
        f.reg = before;
    }
}

/// Library and function names: `[a-zA-Z0-9_]+`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// functionExtractLibMetaData: (engine, library name, offset of the code
/// after the shebang - its newline kept, so line numbers stay the user's).
fn metadata(code: &[u8]) -> Result<(String, String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = memchr::memchr(b'\n', code) else {
        return Err("Invalid library metadata".into());
    };
    let parts = match crate::config::split_args(&code[..end]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("Invalid library metadata".into()),
    };
    let engine = String::from_utf8_lossy(parts[0].get(2..).unwrap_or_default()).into_owned();
    let mut name: Option<String> = None;
    for p in &parts[1..] {
        if p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(String::from_utf8_lossy(&p[5..]).into_owned());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(p)
        ));
    }
    let name = name.ok_or_else(|| String::from("Library name was not given"))?;
    Ok((engine, name, end))
}

/// functionsCreateWithLibraryCtx: loads `code` into `reg`.
fn create(eng: &Engine, reg: &mut Registry, code: &[u8], replace: bool) -> Result<String, String> {
    let (engine, name, body_at) = metadata(code)?;
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("Engine '{engine}' not found"));
    }
    if reg.libs.contains_key(&name) && !replace {
        return Err(format!("Library '{name}' already exists"));
    }
    let functions = run_library(eng, &code[body_at..])?;
    if functions.is_empty() {
        return Err("No functions registered".into());
    }
    let lib = Library {
        name: name.clone(),
        code: code.to_vec(),
        functions,
    };
    let old = reg.unlink(&name);
    if let Some(f) = reg.collision(&lib) {
        let err = format!("Function {f} already exists");
        if let Some(old) = old {
            reg.link(old);
        }
        return Err(err);
    }
    reg.link(lib);
    Ok(name)
}

/// Compiles a library's code and runs it with the load API as globals;
/// returns the functions it registered.
fn run_library(eng: &Engine, body: &[u8]) -> Result<Vec<FunctionDef>, String> {
    let lua = &eng.lua;
    let chunk = lua
        .load(body)
        .set_name("@user_function")
        .into_function()
        .map_err(|e| format!("Error compiling function: {}", lua_error_text(&e)))?;
    let hidden = &eng.hidden;
    let internal = |e: mlua::Error| format!("Error registering functions: ERR {e}");
    let mode: Function = hidden.raw_get("load_mode").map_err(internal)?;
    let load: Function = hidden.raw_get("load").map_err(internal)?;
    hidden.raw_set("err", LuaValue::Nil).map_err(internal)?;
    PENDING.with(|p| *p.borrow_mut() = Some(Vec::new()));
    mode.call::<()>(true).map_err(internal)?;
    // The interpreter's hook enforces Redis's LOAD_TIMEOUT_MS (500 ms): a
    // library's code must register and return.
    super::set_loading(true);
    let res = load.call::<(bool, LuaValue)>(chunk);
    super::set_loading(false);
    let _ = mode.call::<()>(false);
    let registered = PENDING.with(|p| p.borrow_mut().take()).unwrap_or_default();
    let (ok, err) = res.map_err(internal)?;
    if ok {
        return Ok(registered);
    }
    let msg = match &err {
        LuaValue::Table(t) => t
            .raw_get::<LuaValue>("err")
            .ok()
            .and_then(|m| lua_value_text(&m))
            .unwrap_or_default(),
        other => format!("ERR {}", lua_value_text(other).unwrap_or_default()),
    };
    Err(format!("Error registering functions: {msg}"))
}

/// Installs `native.register_function` (the bootstrap puts it in the load
/// API's `redis` table).
pub(crate) fn install_register(lua: &Lua, native: &Table, hidden: &Table) -> mlua::Result<()> {
    let h = hidden.clone();
    native.set(
        "register_function",
        lua.create_function(move |lua, args: MultiValue| {
            match read_register_args(&args) {
                Ok(def) => {
                    let err = PENDING.with(|p| match p.borrow_mut().as_mut() {
                        None => Some(
                            "ERR redis.register_function can only be called on FUNCTION LOAD command",
                        ),
                        Some(list) => {
                            if !valid_name(&def.name) {
                                Some("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
                            } else if list.iter().any(|f| f.name == def.name) {
                                Some("ERR Function already exists in the library")
                            } else {
                                list.push(def);
                                None
                            }
                        }
                    });
                    if let Some(e) = err {
                        raise(lua, &h, e)?;
                    }
                    Ok(())
                }
                Err(e) => raise(lua, &h, &format!("ERR {e}")),
            }
        })?,
    )
}

/// A Lua string or number as text (lua_isstring + tostring).
fn string_arg(v: &LuaValue) -> Option<String> {
    match v {
        LuaValue::String(_) | LuaValue::Integer(_) | LuaValue::Number(_) => lua_value_text(v),
        _ => None,
    }
}

/// luaRegisterFunctionReadArgs: positional (name, callback) or one table
/// of named arguments.
fn read_register_args(args: &MultiValue) -> Result<FunctionDef, &'static str> {
    if args.is_empty() || args.len() > 2 {
        return Err("wrong number of arguments to redis.register_function");
    }
    if args.len() == 2 {
        let name = args
            .front()
            .and_then(string_arg)
            .ok_or("first argument to redis.register_function must be a string")?;
        let Some(LuaValue::Function(func)) = args.get(1) else {
            return Err("second argument to redis.register_function must be a function");
        };
        return Ok(FunctionDef {
            name,
            desc: None,
            flags: 0,
            func: func.clone(),
        });
    }
    let Some(LuaValue::Table(t)) = args.front() else {
        return Err(
            "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
        );
    };
    let (mut name, mut desc, mut func, mut flags) = (None, None, None, 0u32);
    for pair in t.pairs::<LuaValue, LuaValue>() {
        let Ok((k, v)) = pair else {
            return Err("named argument key given to redis.register_function is not a string");
        };
        let key = string_arg(&k)
            .ok_or("named argument key given to redis.register_function is not a string")?;
        match key.to_ascii_lowercase().as_str() {
            "function_name" => {
                name = Some(string_arg(&v).ok_or(
                    "function_name argument given to redis.register_function must be a string",
                )?)
            }
            "description" => {
                let d = match &v {
                    LuaValue::String(s) => s.as_bytes().to_vec(),
                    other => string_arg(other)
                        .ok_or(
                            "description argument given to redis.register_function must be a string",
                        )?
                        .into_bytes(),
                };
                desc = Some(d)
            }
            "callback" => {
                let LuaValue::Function(f) = v else {
                    return Err(
                        "callback argument given to redis.register_function must be a function",
                    );
                };
                func = Some(f)
            }
            "flags" => {
                let LuaValue::Table(ft) = v else {
                    return Err(
                        "flags argument to redis.register_function must be a table representing function flags",
                    );
                };
                let mut i = 1;
                loop {
                    let f: LuaValue = ft.raw_get(i).map_err(|_| "unknown flag given")?;
                    if f.is_nil() {
                        break;
                    }
                    let s = string_arg(&f).ok_or("unknown flag given")?;
                    let bit = FLAG_NAMES
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(&s))
                        .ok_or("unknown flag given")?
                        .1;
                    flags |= bit;
                    i += 1;
                }
            }
            _ => return Err("unknown argument given to redis.register_function"),
        }
    }
    let name = name.ok_or("redis.register_function must get a function name argument")?;
    let func = func.ok_or("redis.register_function must get a callback argument")?;
    Ok(FunctionDef {
        name,
        desc,
        flags,
        func,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_errors_are_redis_texts() {
        assert_eq!(
            metadata(b"return 1").unwrap_err(),
            "Missing library metadata"
        );
        assert_eq!(
            metadata(b"#!lua name=a").unwrap_err(),
            "Invalid library metadata"
        );
        assert_eq!(
            metadata(b"#!lua\n").unwrap_err(),
            "Library name was not given"
        );
        assert_eq!(
            metadata(b"#!lua name=a x\n").unwrap_err(),
            "Invalid metadata value given: x"
        );
        assert_eq!(
            metadata(b"#!lua name=a NAME=b\n").unwrap_err(),
            "Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(
            metadata(b"#!LUA Name=lib\nx").unwrap(),
            ("LUA".to_string(), "lib".to_string(), 14)
        );
    }

    #[test]
    fn load_register_dump_restore() {
        let mut f = Functions::new().expect("engine");
        let code = b"#!lua name=lib\nredis.register_function('Hello', function(k, a) return 1 end)";
        assert_eq!(f.load(code, false).unwrap(), "lib");
        assert!(f.reg.function(b"HELLO").is_some());
        assert_eq!(
            f.load(code, false).unwrap_err(),
            "Library 'lib' already exists"
        );
        let other = b"#!lua name=other\nredis.register_function('hello', function() end)";
        assert_eq!(
            f.load(other, false).unwrap_err(),
            "Function hello already exists"
        );
        let dump = f.dump();
        assert_eq!(dump[0], OPCODE_FUNCTION2);
        f.flush();
        assert!(f.reg.function(b"hello").is_none());
        f.restore(&dump, RestorePolicy::Append).unwrap();
        assert_eq!(f.reg.libs["lib"].code, code.to_vec());
        assert_eq!(
            f.restore(&dump, RestorePolicy::Append).unwrap_err(),
            "Library lib already exists"
        );
        f.restore(&dump, RestorePolicy::Replace).unwrap();
        let mut bad = dump.clone();
        bad[3] ^= 1;
        assert_eq!(
            f.restore(&bad, RestorePolicy::Flush).unwrap_err(),
            "DUMP payload version or checksum are wrong"
        );
        assert_eq!(f.reg.function_count(), 1);
    }
}
