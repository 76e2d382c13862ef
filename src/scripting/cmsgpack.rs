//! The `cmsgpack` library Redis bundles (lua_cmsgpack 0.4.0), ported:
//! pack / unpack / unpack_one / unpack_limit with its encoding choices
//! (smallest integer form, float32 when exact, arrays for 1..n tables,
//! nesting past 16 packed as nil) and its error texts.

use mlua::{Lua, MultiValue, Table, Value};

use super::raise_here;

/// LUACMSGPACK_MAX_NESTING.
const MAX_NESTING: usize = 16;

/// Installs `cmsgpack` into `globals`.
pub fn install(lua: &Lua, globals: &Table, hidden: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    let h = hidden.clone();
    t.set(
        "pack",
        lua.create_function(move |lua, args: MultiValue| {
            if args.is_empty() {
                raise_here(
                    lua,
                    &h,
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                )?;
            }
            let mut out = Vec::new();
            for v in args.iter() {
                encode(v, &mut out, 0);
            }
            lua.create_string(&out)
        })?,
    )?;
    for (name, fixed_limit) in [
        ("unpack", Some(0)),
        ("unpack_one", Some(1)),
        ("unpack_limit", None),
    ] {
        let h = hidden.clone();
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let data = match args.front() {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    _ => {
                        raise_here(
                            lua,
                            &h,
                            &format!("bad argument #1 to '{name}' (string expected, got no value)"),
                        )?;
                        Vec::new()
                    }
                };
                let num = |i: usize| match args.get(i) {
                    Some(Value::Integer(n)) => *n,
                    Some(Value::Number(n)) => *n as i64,
                    _ => 0,
                };
                let (limit, offset) = match fixed_limit {
                    Some(0) => (0, 0),
                    Some(l) => (l, num(1)),
                    None => (num(1), num(2)),
                };
                if offset < 0 || limit < 0 {
                    raise_here(
                        lua,
                        &h,
                        &format!(
                            "Invalid request to unpack with offset of {offset} and limit of {limit}."
                        ),
                    )?;
                }
                if offset as usize > data.len() {
                    raise_here(
                        lua,
                        &h,
                        &format!(
                            "Start offset {offset} greater than input length {}.",
                            data.len()
                        ),
                    )?;
                }
                let decode_all = limit == 0 && offset == 0;
                let mut pos = offset as usize;
                let mut out = Vec::new();
                while pos < data.len() && (limit == 0 || (out.len() as i64) < limit) {
                    match decode(lua, &data, &mut pos, 0) {
                        Ok(v) => out.push(v),
                        Err(msg) => {
                            raise_here(lua, &h, msg)?;
                        }
                    }
                }
                let mut ret = MultiValue::new();
                if !decode_all {
                    let next = if pos >= data.len() { -1 } else { pos as i64 };
                    ret.push_back(Value::Integer(next));
                }
                ret.extend(out);
                Ok(ret)
            })?,
        )?;
    }
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    globals.raw_set("cmsgpack", t)
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        let u = n as u64;
        if u < 128 {
            out.push(u as u8);
        } else if u < 256 {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u < 65536 {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= u32::MAX as u64 {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(d: f64, out: &mut Vec<u8>) {
    // IS_INT64_EQUIVALENT: finite and (int64_t)d == d.
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&d) && (d as i64) as f64 == d
    {
        encode_int(d as i64, out);
        return;
    }
    let f = d as f32;
    if f as f64 == d || (d.is_nan() && f.is_nan()) {
        out.push(0xca);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_bits().to_be_bytes());
    }
}

fn encode_len(
    out: &mut Vec<u8>,
    n: usize,
    fix: u8,
    fix_max: usize,
    b8: Option<u8>,
    b16: u8,
    b32: u8,
) {
    if n < fix_max {
        out.push(fix | n as u8);
    } else if let Some(b8) = b8.filter(|_| n <= 0xff) {
        out.extend_from_slice(&[b8, n as u8]);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode(v: &Value, out: &mut Vec<u8>, level: usize) {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(*i as f64, out),
        Value::Number(n) => encode_number(*n, out),
        Value::String(s) => {
            let b = s.as_bytes();
            encode_len(out, b.len(), 0xa0, 32, Some(0xd9), 0xda, 0xdb);
            out.extend_from_slice(&b);
        }
        Value::Table(t) if level < MAX_NESTING => {
            let pairs: Vec<(Value, Value)> =
                t.pairs::<Value, Value>().filter_map(|p| p.ok()).collect();
            // table_is_an_array: every key a positive integer and max == count.
            let mut max = 0f64;
            let mut array = true;
            for (k, _) in &pairs {
                let n = match k {
                    Value::Integer(i) => *i as f64,
                    Value::Number(n) => *n,
                    _ => {
                        array = false;
                        break;
                    }
                };
                if n <= 0.0 || n.floor() != n {
                    array = false;
                    break;
                }
                max = max.max(n);
            }
            if array && max as usize == pairs.len() {
                encode_len(out, pairs.len(), 0x90, 16, None, 0xdc, 0xdd);
                for i in 1..=pairs.len() {
                    let v: Value = t.raw_get(i).unwrap_or(Value::Nil);
                    encode(&v, out, level + 1);
                }
            } else {
                encode_len(out, pairs.len(), 0x80, 16, None, 0xde, 0xdf);
                for (k, v) in &pairs {
                    encode(k, out, level + 1);
                    encode(v, out, level + 1);
                }
            }
        }
        _ => out.push(0xc0),
    }
}

const MISSING: &str = "Missing bytes in input.";
const BAD: &str = "Bad data format in input.";

fn take<'a>(data: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], &'static str> {
    let s = data.get(*pos..*pos + n).ok_or(MISSING)?;
    *pos += n;
    Ok(s)
}

fn be(data: &[u8], pos: &mut usize, n: usize) -> Result<u64, &'static str> {
    Ok(take(data, pos, n)?
        .iter()
        .fold(0u64, |a, &b| (a << 8) | b as u64))
}

fn decode(lua: &Lua, data: &[u8], pos: &mut usize, depth: usize) -> Result<Value, &'static str> {
    if depth > 1000 {
        return Err(BAD);
    }
    let t = take(data, pos, 1)?[0];
    let num = |n: f64| Ok(Value::Number(n));
    let string = |b: &[u8]| lua.create_string(b).map(Value::String).map_err(|_| BAD);
    match t {
        0x00..=0x7f => num(t as f64),
        0xe0..=0xff => num(t as i8 as f64),
        0xc0 => Ok(Value::Nil),
        0xc2 => Ok(Value::Boolean(false)),
        0xc3 => Ok(Value::Boolean(true)),
        0xcc => num(be(data, pos, 1)? as f64),
        0xcd => num(be(data, pos, 2)? as f64),
        0xce => num(be(data, pos, 4)? as f64),
        0xcf => num(be(data, pos, 8)? as f64),
        0xd0 => num(be(data, pos, 1)? as u8 as i8 as f64),
        0xd1 => num(be(data, pos, 2)? as u16 as i16 as f64),
        0xd2 => num(be(data, pos, 4)? as u32 as i32 as f64),
        0xd3 => num(be(data, pos, 8)? as i64 as f64),
        0xca => num(f32::from_bits(be(data, pos, 4)? as u32) as f64),
        0xcb => num(f64::from_bits(be(data, pos, 8)?)),
        0xa0..=0xbf => string(take(data, pos, (t & 0x1f) as usize)?),
        0xd9 | 0xc4 => {
            let n = be(data, pos, 1)? as usize;
            string(take(data, pos, n)?)
        }
        0xda | 0xc5 => {
            let n = be(data, pos, 2)? as usize;
            string(take(data, pos, n)?)
        }
        0xdb | 0xc6 => {
            let n = be(data, pos, 4)? as usize;
            string(take(data, pos, n)?)
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let n = match t {
                0xdc => be(data, pos, 2)? as usize,
                0xdd => be(data, pos, 4)? as usize,
                _ => (t & 0x0f) as usize,
            };
            // Each element takes at least one byte: bounds the table.
            if n > data.len() - *pos {
                return Err(MISSING);
            }
            let tbl = lua.create_table().map_err(|_| BAD)?;
            for i in 1..=n {
                let v = decode(lua, data, pos, depth + 1)?;
                tbl.raw_set(i, v).map_err(|_| BAD)?;
            }
            Ok(Value::Table(tbl))
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let n = match t {
                0xde => be(data, pos, 2)? as usize,
                0xdf => be(data, pos, 4)? as usize,
                _ => (t & 0x0f) as usize,
            };
            if n > data.len() - *pos {
                return Err(MISSING);
            }
            let tbl = lua.create_table().map_err(|_| BAD)?;
            for _ in 0..n {
                let k = decode(lua, data, pos, depth + 1)?;
                let v = decode(lua, data, pos, depth + 1)?;
                if !matches!(k, Value::Nil) {
                    tbl.raw_set(k, v).map_err(|_| BAD)?;
                }
            }
            Ok(Value::Table(tbl))
        }
        _ => Err(BAD),
    }
}
