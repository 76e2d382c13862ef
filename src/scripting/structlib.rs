//! The `struct` library Redis bundles (Roberto Ierusalimschy's struct 0.2),
//! ported: struct.pack / unpack / size over the format options
//! `< > ! x b B h H l L T i[n] I[n] c[n] s f d` on a 64-bit little-endian
//! host, with its error texts.

use mlua::{Lua, MultiValue, Table, Value};

use super::raise_here;

/// MAXINTSIZE.
const MAX_INT: usize = 32;

struct Opt {
    code: u8,
    size: usize,
}

/// Parser state of a format string (endianness and alignment).
struct Fmt<'a> {
    f: &'a [u8],
    i: usize,
    little: bool,
    align: usize,
    /// The Lua function (argument errors name it).
    fname: &'static str,
}

impl Fmt<'_> {
    /// getnum: a size after an option, at most INT_MAX.
    fn num(&mut self, default: usize) -> Result<usize, String> {
        if self.i >= self.f.len() || !self.f[self.i].is_ascii_digit() {
            return Ok(default);
        }
        let mut n = 0usize;
        while self.i < self.f.len() && self.f[self.i].is_ascii_digit() {
            n = n * 10 + (self.f[self.i] - b'0') as usize;
            if n > i32::MAX as usize {
                return Err("integral size overflow".into());
            }
            self.i += 1;
        }
        Ok(n)
    }

    /// The next option with a size (None at the end); endianness and
    /// alignment options are applied here.
    fn next(&mut self) -> Result<Option<Opt>, String> {
        while self.i < self.f.len() {
            let c = self.f[self.i];
            self.i += 1;
            let size = match c {
                b' ' => continue,
                b'<' => {
                    self.little = true;
                    continue;
                }
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'=' => {
                    self.little = true;
                    continue;
                }
                b'!' => {
                    self.align = self.num(8)?;
                    continue;
                }
                b'x' | b'b' | b'B' => 1,
                b'h' | b'H' => 2,
                b'l' | b'L' | b'T' | b'd' => 8,
                b'f' => 4,
                b'i' | b'I' => {
                    let n = self.num(4)?;
                    if n > MAX_INT {
                        return Err(format!(
                            "integral size {n} is larger than limit of {MAX_INT}"
                        ));
                    }
                    n
                }
                b'c' => self.num(1)?,
                b's' => 0,
                other => {
                    return Err(format!(
                        "bad argument #1 to '{}' (invalid format option '{}')",
                        self.fname, other as char
                    ));
                }
            };
            return Ok(Some(Opt { code: c, size }));
        }
        Ok(None)
    }

    fn to_align(&self, len: usize, opt: &Opt) -> usize {
        if opt.size == 0 || opt.code == b'c' {
            return 0;
        }
        let size = opt.size.min(self.align).max(1);
        if !size.is_power_of_two() {
            return 0;
        }
        (size - (len & (size - 1))) & (size - 1)
    }
}

fn fmt_of<'a>(s: &'a [u8], fname: &'static str) -> Fmt<'a> {
    Fmt {
        f: s,
        i: 0,
        little: true,
        align: 1,
        fname,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v {
        Some(Value::Integer(i)) => Some(*i as f64),
        Some(Value::Number(n)) => Some(*n),
        Some(Value::String(s)) => std::str::from_utf8(&s.as_bytes()).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn put_int(out: &mut Vec<u8>, n: f64, size: usize, little: bool) {
    let v: i64 = if n < 0.0 { n as i64 } else { n as u64 as i64 };
    let mut bytes: Vec<u8> = (0..size)
        .map(|k| {
            if k < 8 {
                (v >> (8 * k)) as u8
            } else if v < 0 {
                0xff
            } else {
                0
            }
        })
        .collect();
    if !little {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

fn pack(args: &MultiValue) -> Result<Vec<u8>, String> {
    let fmt = match args.front() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        _ => return Err("bad argument #1 to 'pack' (string expected, got no value)".into()),
    };
    let mut f = fmt_of(&fmt, "pack");
    let mut out = Vec::new();
    let mut arg = 1;
    while let Some(opt) = f.next()? {
        let pad = f.to_align(out.len(), &opt);
        out.extend(std::iter::repeat_n(0u8, pad));
        match opt.code {
            b'x' => out.push(0),
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = number(args.get(arg)).ok_or_else(|| {
                    format!(
                        "bad argument #{} to 'pack' (number expected, got {})",
                        arg + 1,
                        pack_type_name(args.get(arg))
                    )
                })?;
                put_int(&mut out, n, opt.size, f.little);
                arg += 1;
            }
            b'f' | b'd' => {
                let n = number(args.get(arg)).ok_or_else(|| {
                    format!(
                        "bad argument #{} to 'pack' (number expected, got {})",
                        arg + 1,
                        pack_type_name(args.get(arg))
                    )
                })?;
                let mut b = if opt.code == b'f' {
                    (n as f32).to_le_bytes().to_vec()
                } else {
                    n.to_le_bytes().to_vec()
                };
                if !f.little {
                    b.reverse();
                }
                out.extend_from_slice(&b);
                arg += 1;
            }
            b'c' | b's' => {
                let s = match args.get(arg) {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    Some(v @ (Value::Integer(_) | Value::Number(_))) => {
                        super::lua_value_text(v).unwrap_or_default().into_bytes()
                    }
                    other => {
                        return Err(format!(
                            "bad argument #{} to 'pack' (string expected, got {})",
                            arg + 1,
                            pack_type_name(other)
                        ));
                    }
                };
                if opt.code == b'c' {
                    let size = if opt.size == 0 { s.len() } else { opt.size };
                    if s.len() < size {
                        // struct.c names the argument after this one here.
                        return Err(format!(
                            "bad argument #{} to 'pack' (string too short)",
                            arg + 2
                        ));
                    }
                    out.extend_from_slice(&s[..size]);
                } else {
                    out.extend_from_slice(&s);
                    out.push(0);
                }
                arg += 1;
            }
            _ => {}
        }
    }
    Ok(out)
}

/// struct.pack pushes a nil after its arguments: a missing one is "nil".
fn pack_type_name(v: Option<&Value>) -> &'static str {
    v.map_or("nil", |v| v.type_name())
}

fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(v) => v.type_name(),
    }
}

fn unpack(lua: &Lua, args: &MultiValue) -> Result<MultiValue, String> {
    let (fmt, data) = match (args.front(), args.get(1)) {
        (Some(Value::String(f)), Some(Value::String(d))) => {
            (f.as_bytes().to_vec(), d.as_bytes().to_vec())
        }
        (Some(Value::String(_)), other) => {
            return Err(format!(
                "bad argument #2 to 'unpack' (string expected, got {})",
                type_name(other)
            ));
        }
        (other, _) => {
            return Err(format!(
                "bad argument #1 to 'unpack' (string expected, got {})",
                type_name(other)
            ));
        }
    };
    let mut pos = match number(args.get(2)) {
        Some(p) if p >= 1.0 => p as usize - 1,
        Some(_) => return Err("bad argument #3 to 'unpack' (offset must be 1 or greater)".into()),
        None => 0,
    };
    let mut f = fmt_of(&fmt, "unpack");
    let mut out = MultiValue::new();
    let mut last_num: Option<f64> = None;
    let short = || "bad argument #2 to 'unpack' (data string too short)".to_string();
    while let Some(opt) = f.next()? {
        pos += f.to_align(pos, &opt);
        if pos.checked_add(opt.size).is_none_or(|end| end > data.len()) {
            return Err(short());
        }
        match opt.code {
            b'x' => pos += 1,
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let mut bytes = data[pos..pos + opt.size].to_vec();
                if !f.little {
                    bytes.reverse();
                }
                let mut v: u64 = 0;
                for (k, b) in bytes.iter().enumerate().take(8) {
                    v |= (*b as u64) << (8 * k);
                }
                let signed = matches!(opt.code, b'b' | b'h' | b'l' | b'i');
                let n = if signed && opt.size < 8 && opt.size > 0 {
                    let shift = 64 - 8 * opt.size as u32;
                    ((v << shift) as i64 >> shift) as f64
                } else if signed {
                    v as i64 as f64
                } else {
                    v as f64
                };
                out.push_back(Value::Number(n));
                last_num = Some(n);
                pos += opt.size;
            }
            b'f' | b'd' => {
                let mut b = data[pos..pos + opt.size].to_vec();
                if !f.little {
                    b.reverse();
                }
                let n = if opt.code == b'f' {
                    f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64
                } else {
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                };
                out.push_back(Value::Number(n));
                pos += opt.size;
            }
            b'c' => {
                let size = if opt.size == 0 {
                    // The size read before is consumed, not returned.
                    match last_num.take() {
                        Some(n) if n >= 0.0 => {
                            out.pop_back();
                            n as usize
                        }
                        _ => return Err("format 'c0' needs a previous size".into()),
                    }
                } else {
                    opt.size
                };
                if pos.checked_add(size).is_none_or(|end| end > data.len()) {
                    return Err(short());
                }
                let s = lua
                    .create_string(&data[pos..pos + size])
                    .map_err(|e| e.to_string())?;
                out.push_back(Value::String(s));
                pos += size;
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err("unfinished string in data".into());
                };
                let s = lua
                    .create_string(&data[pos..pos + end])
                    .map_err(|e| e.to_string())?;
                out.push_back(Value::String(s));
                pos += end + 1;
            }
            _ => {}
        }
    }
    out.push_back(Value::Number((pos + 1) as f64));
    Ok(out)
}

fn size(args: &MultiValue) -> Result<f64, String> {
    let fmt = match args.front() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        other => {
            return Err(format!(
                "bad argument #1 to 'size' (string expected, got {})",
                type_name(other)
            ));
        }
    };
    let mut f = fmt_of(&fmt, "size");
    let mut pos = 0usize;
    while let Some(opt) = f.next()? {
        if opt.code == b's' {
            return Err("bad argument #1 to 'size' (option 's' has no fixed size)".into());
        }
        if opt.code == b'c' && opt.size == 0 {
            return Err("bad argument #1 to 'size' (option 'c0' has no fixed size)".into());
        }
        pos = pos.saturating_add(f.to_align(pos, &opt) + opt.size);
    }
    Ok(pos as f64)
}

/// Installs `struct` into `globals`.
pub fn install(lua: &Lua, globals: &Table, hidden: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    let h = hidden.clone();
    t.set(
        "pack",
        lua.create_function(move |lua, args: MultiValue| match pack(&args) {
            Ok(b) => lua.create_string(&b).map(Value::String),
            Err(msg) => raise_here(lua, &h, &msg).map(|_| Value::Nil),
        })?,
    )?;
    let h = hidden.clone();
    t.set(
        "unpack",
        lua.create_function(move |lua, args: MultiValue| match unpack(lua, &args) {
            Ok(v) => Ok(v),
            Err(msg) => raise_here(lua, &h, &msg).map(|_| MultiValue::new()),
        })?,
    )?;
    let h = hidden.clone();
    t.set(
        "size",
        lua.create_function(move |lua, args: MultiValue| match size(&args) {
            Ok(n) => Ok(n),
            Err(msg) => raise_here(lua, &h, &msg).map(|_| 0.0),
        })?,
    )?;
    globals.raw_set("struct", t)
}
