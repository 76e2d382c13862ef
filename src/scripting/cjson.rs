//! The `cjson` library Redis bundles (lua-cjson 2.1.0), ported: encode and
//! decode with its output form (`%.14g` numbers, `\/` escaped, empty table
//! as `{}`, arrays detected by positive integer keys) and its error texts,
//! and its settings (encode_sparse_array, encode/decode_max_depth,
//! encode_number_precision, encode_keep_buffer, encode/decode_invalid_numbers),
//! which last for the interpreter's life as in Redis, and `cjson.new()`
//! (another module with its own settings).

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::raise_here;

/// lua-cjson's json_config_t (the settings; its defaults).
#[derive(Clone, Copy)]
struct Cfg {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 off (error), 1 on (`inf` / `nan`), 2 `null`.
    encode_invalid_numbers: u8,
    decode_invalid_numbers: bool,
    keep_buffer: bool,
    precision: i32,
}

impl Default for Cfg {
    fn default() -> Cfg {
        Cfg {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: true,
            keep_buffer: true,
            precision: 14,
        }
    }
}

type Shared = Rc<RefCell<Cfg>>;

/// Nesting this port never goes past, whatever encode_max_depth /
/// decode_max_depth say: encode and decode recurse on the reactor's stack
/// (Redis stops near 8000, at the Lua C stack limit).
const HARD_DEPTH: i32 = 1000;

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// Installs `cjson` into `globals`.
pub fn install(lua: &Lua, globals: &Table, hidden: &Table) -> mlua::Result<()> {
    globals.raw_set("cjson", module(lua, hidden)?)
}

/// One cjson module table with its own settings (luaopen_cjson /
/// lua_cjson_new).
fn module(lua: &Lua, hidden: &Table) -> mlua::Result<Table> {
    let cfg: Shared = Rc::new(RefCell::new(Cfg::default()));
    let t = lua.create_table()?;
    let (h, c) = (hidden.clone(), cfg.clone());
    t.set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                raise_here(lua, &h, "bad argument #1 to 'encode' (expected 1 argument)")?;
            }
            let mut out = Vec::new();
            let v = args.front().cloned().unwrap_or(Value::Nil);
            let cfg = *c.borrow();
            if let Err(msg) = encode(&v, &mut out, 0, &cfg) {
                raise_here(lua, &h, &msg)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    let (h, c) = (hidden.clone(), cfg.clone());
    t.set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            let s = match args.front() {
                Some(Value::String(s)) if args.len() == 1 => s.as_bytes().to_vec(),
                _ => {
                    raise_here(lua, &h, "bad argument #1 to 'decode' (expected 1 argument)")?;
                    Vec::new()
                }
            };
            let cfg = *c.borrow();
            let mut p = Parser {
                s: &s,
                i: 0,
                lua,
                cfg,
            };
            match p.document() {
                Ok(v) => Ok(v),
                Err(msg) => {
                    raise_here(lua, &h, &msg)?;
                    Ok(Value::Nil)
                }
            }
        })?,
    )?;
    settings(lua, &t, hidden, &cfg)?;
    let h = hidden.clone();
    t.set("new", lua.create_function(move |lua, ()| module(lua, &h))?)?;
    t.set("null", null())?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

/// What a setting's argument was: absent (nil), or given.
enum Opt<'a> {
    Nil,
    Given(&'a Value),
}

/// json_arg_init: at most `n` arguments ("found too many arguments").
fn args_at_most<'a>(
    lua: &Lua,
    h: &Table,
    name: &str,
    args: &'a MultiValue,
    n: usize,
) -> mlua::Result<Vec<Opt<'a>>> {
    if args.len() > n {
        raise_here(
            lua,
            h,
            &format!(
                "bad argument #{} to '{name}' (found too many arguments)",
                n + 1
            ),
        )?;
    }
    Ok((0..n)
        .map(|i| match args.get(i) {
            None | Some(Value::Nil) => Opt::Nil,
            Some(v) => Opt::Given(v),
        })
        .collect())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Integer(_) | Value::Number(_) => "number",
        Value::LightUserData(_) => "userdata",
        other => other.type_name(),
    }
}

/// json_integer_option: luaL_checkinteger, then the range check.
fn int_option(
    lua: &Lua,
    h: &Table,
    name: &str,
    argn: usize,
    opt: &Opt,
    setting: &mut i32,
    (min, max): (i32, i32),
) -> mlua::Result<()> {
    let Opt::Given(v) = opt else {
        return Ok(());
    };
    let n = match v {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        Value::String(s) => match crate::number::parse_f64(&s.as_bytes()) {
            Some(n) => n,
            None => {
                return raise_here(
                    lua,
                    h,
                    &format!("bad argument #{argn} to '{name}' (number expected, got string)"),
                );
            }
        },
        other => {
            return raise_here(
                lua,
                h,
                &format!(
                    "bad argument #{argn} to '{name}' (number expected, got {})",
                    type_name(other)
                ),
            );
        }
    };
    // lua_tointeger's cast, then C's int.
    let value = n as i64 as i32;
    if !(min <= value && value <= max) {
        // luaL_argcheck names argument 1 for every option (as lua-cjson).
        return raise_here(
            lua,
            h,
            &format!("bad argument #1 to '{name}' (expected integer between {min} and {max})"),
        );
    }
    *setting = value;
    Ok(())
}

/// json_enum_option: a boolean (when `bool_true`), or one of `options`.
fn enum_option(
    lua: &Lua,
    h: &Table,
    name: &str,
    argn: usize,
    opt: &Opt,
    setting: &mut u8,
    options: &[&str],
) -> mlua::Result<()> {
    let Opt::Given(v) = opt else {
        return Ok(());
    };
    let text = match v {
        Value::Boolean(b) => {
            *setting = *b as u8;
            return Ok(());
        }
        Value::String(s) => s.to_string_lossy(),
        Value::Integer(_) | Value::Number(_) => super::lua_value_text(v).unwrap_or_default(),
        other => {
            return raise_here(
                lua,
                h,
                &format!(
                    "bad argument #{argn} to '{name}' (string expected, got {})",
                    type_name(other)
                ),
            );
        }
    };
    match options.iter().position(|o| *o == text) {
        Some(i) => *setting = i as u8,
        None => {
            return raise_here(
                lua,
                h,
                &format!("bad argument #{argn} to '{name}' (invalid option '{text}')"),
            );
        }
    }
    Ok(())
}

/// The value json_enum_option returns: a boolean for off/on, else the name.
fn enum_value(lua: &Lua, setting: u8, options: &[&str]) -> mlua::Result<Value> {
    if setting <= 1 {
        return Ok(Value::Boolean(setting == 1));
    }
    Ok(Value::String(lua.create_string(options[setting as usize])?))
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

/// The configuration functions, each returning the current setting(s).
fn settings(lua: &Lua, t: &Table, hidden: &Table, cfg: &Shared) -> mlua::Result<()> {
    let (h, c) = (hidden.clone(), cfg.clone());
    t.set(
        "encode_sparse_array",
        lua.create_function(move |lua, args: MultiValue| {
            let name = "encode_sparse_array";
            let o = args_at_most(lua, &h, name, &args, 3)?;
            let mut cfg = c.borrow_mut();
            let mut convert = cfg.sparse_convert as u8;
            enum_option(lua, &h, name, 1, &o[0], &mut convert, BOOL_OPTIONS)?;
            cfg.sparse_convert = convert == 1;
            int_option(
                lua,
                &h,
                name,
                2,
                &o[1],
                &mut cfg.sparse_ratio,
                (0, i32::MAX),
            )?;
            int_option(lua, &h, name, 3, &o[2], &mut cfg.sparse_safe, (0, i32::MAX))?;
            Ok((cfg.sparse_convert, cfg.sparse_ratio, cfg.sparse_safe))
        })?,
    )?;
    type Field = fn(&mut Cfg) -> &mut i32;
    let ints: [(&'static str, Field, i32); 3] = [
        ("encode_max_depth", |c| &mut c.encode_max_depth, i32::MAX),
        ("decode_max_depth", |c| &mut c.decode_max_depth, i32::MAX),
        ("encode_number_precision", |c| &mut c.precision, 14),
    ];
    for (name, field, max) in ints {
        let (h, c) = (hidden.clone(), cfg.clone());
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let o = args_at_most(lua, &h, name, &args, 1)?;
                let mut cfg = c.borrow_mut();
                int_option(lua, &h, name, 1, &o[0], field(&mut cfg), (1, max))?;
                Ok(*field(&mut cfg))
            })?,
        )?;
    }
    type Flag = fn(&mut Cfg) -> (u8, &'static [&'static str]);
    type SetFlag = fn(&mut Cfg, u8);
    let enums: [(&'static str, Flag, SetFlag); 3] = [
        (
            "encode_keep_buffer",
            |c| (c.keep_buffer as u8, BOOL_OPTIONS),
            |c, v| c.keep_buffer = v == 1,
        ),
        (
            "encode_invalid_numbers",
            |c| (c.encode_invalid_numbers, &["off", "on", "null"]),
            |c, v| c.encode_invalid_numbers = v,
        ),
        (
            "decode_invalid_numbers",
            |c| (c.decode_invalid_numbers as u8, BOOL_OPTIONS),
            |c, v| c.decode_invalid_numbers = v == 1,
        ),
    ];
    for (name, get, set) in enums {
        let (h, c) = (hidden.clone(), cfg.clone());
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let o = args_at_most(lua, &h, name, &args, 1)?;
                let mut cfg = c.borrow_mut();
                let (mut v, options) = get(&mut cfg);
                enum_option(lua, &h, name, 1, &o[0], &mut v, options)?;
                set(&mut cfg, v);
                enum_value(lua, v, options)
            })?,
        )?;
    }
    Ok(())
}

/// json_append_number: invalid numbers per encode_invalid_numbers.
fn encode_number(n: f64, out: &mut Vec<u8>, cfg: &Cfg) -> Result<(), String> {
    match cfg.encode_invalid_numbers {
        0 if !n.is_finite() => {
            return Err("Cannot serialise number: must not be NaN or Inf".into());
        }
        1 if n.is_nan() => {
            out.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if !n.is_finite() => {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    out.extend_from_slice(super::g_fmt(n, cfg.precision).as_bytes());
    Ok(())
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize, cfg: &Cfg) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        // mlua shows integral numbers as Integer; Lua 5.1 has doubles only.
        Value::Integer(i) => encode_number(*i as f64, out, cfg)?,
        Value::Number(n) => encode_number(*n, out, cfg)?,
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth.clamp(0, HARD_DEPTH) as usize {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            let pairs: Vec<(Value, Value)> =
                t.pairs::<Value, Value>().filter_map(|p| p.ok()).collect();
            match array_length(&pairs, cfg)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                        encode(&v, out, depth, cfg)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    for (n, (k, v)) in pairs.iter().enumerate() {
                        if n > 0 {
                            out.push(b',');
                        }
                        match k {
                            Value::String(s) => encode_string(&s.as_bytes(), out),
                            Value::Integer(_) | Value::Number(_) => {
                                let x = match k {
                                    Value::Integer(i) => *i as f64,
                                    Value::Number(x) => *x,
                                    _ => 0.0,
                                };
                                out.push(b'"');
                                encode_number(x, out, cfg)?;
                                out.push(b'"');
                            }
                            other => {
                                return Err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    other.type_name()
                                ));
                            }
                        }
                        out.push(b':');
                        encode(v, out, depth, cfg)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ));
        }
    }
    Ok(())
}

/// lua_array_length: Some(max index) when every key is a positive
/// integer (None: an object); an excessively sparse array is an error, or
/// an object with encode_sparse_array's `convert`.
fn array_length(pairs: &[(Value, Value)], cfg: &Cfg) -> Result<Option<usize>, String> {
    // lua-cjson keeps the largest index in a C int: a key too big for it
    // (inf, 2^31) becomes INT_MIN on x86, so the table is an object.
    let mut max: i32 = 0;
    let mut items: i64 = 0;
    for (k, _) in pairs {
        let n = match k {
            Value::Integer(i) => *i as f64,
            Value::Number(n) => *n,
            _ => return Ok(None),
        };
        if n < 1.0 || n.floor() != n {
            return Ok(None);
        }
        if n > max as f64 {
            max = if n < 2_147_483_648.0 {
                n as i32
            } else {
                i32::MIN
            };
        }
        items += 1;
    }
    let max = max as i64;
    let ratio = cfg.sparse_ratio as i64;
    if ratio > 0 && max > items * ratio && max > cfg.sparse_safe as i64 {
        if !cfg.sparse_convert {
            return Err("Cannot serialise table: excessively sparse array".into());
        }
        return Ok(None);
    }
    Ok((max > 0).then_some(max as usize))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    lua: &'a Lua,
    cfg: Cfg,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    /// lua-cjson's parse error: `found` is the next token's type name,
    /// unless the token itself is malformed (`invalid ...` texts).
    fn err<T>(&self, expected: &str, found: &str) -> Result<T, String> {
        let rest = &self.s[self.i.min(self.s.len())..];
        let name = match rest.first() {
            _ if found != "invalid token" => found,
            None => "T_END",
            Some(b'{') => "T_OBJ_BEGIN",
            Some(b'}') => "T_OBJ_END",
            Some(b'[') => "T_ARR_BEGIN",
            Some(b']') => "T_ARR_END",
            Some(b'"') => "T_STRING",
            Some(b':') => "T_COLON",
            Some(b',') => "T_COMMA",
            Some(b'-' | b'0'..=b'9') => "T_NUMBER",
            Some(_) if rest.starts_with(b"true") || rest.starts_with(b"false") => "T_BOOLEAN",
            Some(_) if rest.starts_with(b"null") => "T_NULL",
            Some(_) => "invalid token",
        };
        Err(format!(
            "Expected {expected} but found {name} at character {}",
            self.i + 1
        ))
    }

    fn document(&mut self) -> Result<Value, String> {
        let v = self.value(0)?;
        self.ws();
        if self.i < self.s.len() {
            return self.err("the end", "invalid token");
        }
        Ok(v)
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        self.ws();
        let Some(&c) = self.s.get(self.i) else {
            return self.err("value", "invalid token");
        };
        let lua_err = |e: mlua::Error| e.to_string();
        match c {
            b'{' | b'[' => {
                let depth = depth + 1;
                if depth > self.cfg.decode_max_depth.clamp(0, HARD_DEPTH) as usize {
                    return Err(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        self.i + 1
                    ));
                }
                let t = self.lua.create_table().map_err(lua_err)?;
                self.i += 1;
                self.ws();
                let close = if c == b'{' { b'}' } else { b']' };
                if self.s.get(self.i) == Some(&close) {
                    self.i += 1;
                    return Ok(Value::Table(t));
                }
                let mut n = 1;
                loop {
                    if c == b'{' {
                        self.ws();
                        if self.s.get(self.i) != Some(&b'"') {
                            return self.err("object key string", "invalid token");
                        }
                        let k = self.string()?;
                        self.ws();
                        if self.s.get(self.i) != Some(&b':') {
                            return self.err("colon", "invalid token");
                        }
                        self.i += 1;
                        let v = self.value(depth)?;
                        t.raw_set(k, v).map_err(lua_err)?;
                    } else {
                        let v = self.value(depth)?;
                        t.raw_set(n, v).map_err(lua_err)?;
                        n += 1;
                    }
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(x) if *x == close => {
                            self.i += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => {
                            let what = if c == b'{' {
                                "comma or object end"
                            } else {
                                "comma or array end"
                            };
                            return self.err(what, "invalid token");
                        }
                    }
                }
            }
            b'"' => Ok(Value::String(self.string()?)),
            b't' if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Value::Boolean(true))
            }
            b'f' if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Value::Boolean(false))
            }
            b'n' if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(null())
            }
            b'-' | b'0'..=b'9' => {
                if !self.cfg.decode_invalid_numbers && self.invalid_number() {
                    return self.err("value", "invalid number");
                }
                self.number()
            }
            // Inf, NaN, hex and '+' numbers when decode_invalid_numbers is
            // on (only those: other bad tokens stay "invalid token").
            b'+' | b'i' | b'I' | b'n' | b'N'
                if self.cfg.decode_invalid_numbers && self.invalid_number() =>
            {
                self.number()
            }
            _ => self.err("value", "invalid token"),
        }
    }

    fn string(&mut self) -> Result<mlua::LuaString, String> {
        let start = self.i;
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                self.i = start;
                return self.err("value", "invalid token");
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        self.i = start;
                        return self.err("value", "invalid token");
                    };
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let Some(cp) = self.hex4() else {
                                self.i = start;
                                return self.err("value", "invalid unicode escape code");
                            };
                            let cp = if (0xD800..0xDC00).contains(&cp)
                                && self.s.get(self.i..self.i + 2) == Some(b"\\u")
                            {
                                self.i += 2;
                                match self.hex4() {
                                    Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                        0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                                    }
                                    _ => {
                                        self.i = start;
                                        return self.err("value", "invalid unicode escape code");
                                    }
                                }
                            } else {
                                cp
                            };
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            self.i = start;
                            return self.err("value", "invalid escape code");
                        }
                    }
                }
                _ => out.push(c),
            }
        }
        self.lua.create_string(&out).map_err(|e| e.to_string())
    }

    /// json_is_invalid_number: a number JSON does not allow (a '+' sign,
    /// hex, leading zeros, inf, nan) that strtod would still read.
    fn invalid_number(&self) -> bool {
        let rest = &self.s[self.i..];
        let mut p = 0;
        match rest.first() {
            Some(b'+') => return true,
            Some(b'-') => p = 1,
            _ => {}
        }
        match rest.get(p) {
            Some(b'0') => {
                matches!(rest.get(p + 1), Some(c) if (c | 0x20) == b'x' || c.is_ascii_digit())
            }
            Some(c) if *c <= b'9' => false,
            _ => {
                let word = rest.get(p..p + 3).map(|w| w.to_ascii_lowercase());
                matches!(word.as_deref(), Some(b"inf") | Some(b"nan"))
            }
        }
    }

    /// json_next_number_token: C's strtod from here (hex, inf, nan and
    /// all), as lua-cjson's fpconv_strtod in the C locale.
    fn number(&mut self) -> Result<Value, String> {
        // strtod reads at most the run of these characters ("nan(...)"
        // included); copying just that keeps decoding linear.
        let run = self.s[self.i..]
            .iter()
            .take_while(|&&c| {
                c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.' | b'(' | b')' | b'_')
            })
            .count();
        let mut buf = Vec::with_capacity(run + 1);
        buf.extend_from_slice(&self.s[self.i..self.i + run]);
        buf.push(0);
        let mut end: *mut libc::c_char = std::ptr::null_mut();
        // SAFETY: `buf` is NUL-terminated; strtod sets `end` inside it.
        let n = unsafe { libc::strtod(buf.as_ptr() as *const libc::c_char, &mut end) };
        let used = (end as usize)
            .saturating_sub(buf.as_ptr() as usize)
            .min(run);
        if used == 0 {
            return self.err("value", "invalid number");
        }
        self.i += used;
        Ok(Value::Number(n))
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
        self.i += 4;
        Some(v)
    }
}
