//! The `cjson` library Redis bundles (lua-cjson 2.1.0), ported: encode and
//! decode with its output form (`%.14g` numbers, `\/` escaped, empty table
//! as `{}`, arrays detected by positive integer keys) and its error texts.

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::raise_here;

/// Deepest nesting lua-cjson encodes / decodes (its default 1000).
const MAX_DEPTH: usize = 1000;

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// Installs `cjson` into `globals`.
pub fn install(lua: &Lua, globals: &Table, hidden: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    let h = hidden.clone();
    t.set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                raise_here(lua, &h, "bad argument #1 to 'encode' (expected 1 argument)")?;
            }
            let mut out = Vec::new();
            let v = args.front().cloned().unwrap_or(Value::Nil);
            if let Err(msg) = encode(&v, &mut out, 0) {
                raise_here(lua, &h, &msg)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    let h = hidden.clone();
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
            let mut p = Parser { s: &s, i: 0, lua };
            match p.document() {
                Ok(v) => Ok(v),
                Err(msg) => {
                    raise_here(lua, &h, &msg)?;
                    Ok(Value::Nil)
                }
            }
        })?,
    )?;
    t.set("null", null())?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    globals.raw_set("cjson", t)
}

fn number_text(n: f64) -> String {
    super::lua_number_text(n)
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

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        // mlua shows integral numbers as Integer; Lua 5.1 has doubles only.
        Value::Integer(i) => out.extend_from_slice(number_text(*i as f64).as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            out.extend_from_slice(number_text(*n).as_bytes());
        }
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > MAX_DEPTH {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            let pairs: Vec<(Value, Value)> =
                t.pairs::<Value, Value>().filter_map(|p| p.ok()).collect();
            match array_length(&pairs)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                        encode(&v, out, depth)?;
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
                            Value::Integer(i) => {
                                encode_string(number_text(*i as f64).as_bytes(), out)
                            }
                            Value::Number(x) => encode_string(number_text(*x).as_bytes(), out),
                            other => {
                                return Err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    other.type_name()
                                ));
                            }
                        }
                        out.push(b':');
                        encode(v, out, depth)?;
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
/// integer (None: an object); excessively sparse arrays are an error.
fn array_length(pairs: &[(Value, Value)]) -> Result<Option<usize>, String> {
    let mut max = 0usize;
    for (k, _) in pairs {
        let n = match k {
            Value::Integer(i) => *i as f64,
            Value::Number(n) => *n,
            _ => return Ok(None),
        };
        if n < 1.0 || n.floor() != n {
            return Ok(None);
        }
        max = max.max(n as usize);
    }
    let items = pairs.len();
    // encode_sparse_array defaults: convert = 0, ratio = 2, safe = 10.
    if max > 10 && max > items * 2 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    lua: &'a Lua,
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
                if depth > MAX_DEPTH {
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
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                match text.parse::<f64>() {
                    Ok(n) => Ok(Value::Number(n)),
                    Err(_) => {
                        self.i = start;
                        self.err("value", "invalid number")
                    }
                }
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

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
        self.i += 4;
        Some(v)
    }
}
