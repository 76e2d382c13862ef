//! The `bit` library Redis bundles (LuaBitOp 1.0.2), ported: 32-bit
//! operations on Lua numbers, results as signed 32-bit integers.

use mlua::{Lua, MultiValue, Table, Value};

/// LuaBitOp's normalisation: the number's low 32 bits after rounding
/// (the 2^52 + 2^51 trick), as a signed integer.
pub fn tobit(n: f64) -> i32 {
    let o = n + 6_755_399_441_055_744.0;
    o.to_bits() as u32 as i32
}

/// luaL_checknumber: the number, or Lua 5.1's error raised Redis's way.
fn arg(lua: &Lua, h: &Table, args: &MultiValue, i: usize, fname: &str) -> mlua::Result<f64> {
    let v = args.get(i).cloned().unwrap_or(Value::Nil);
    let n = match &v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => lua.coerce_number(Value::String(s.clone()))?,
        _ => None,
    };
    match n {
        Some(n) => Ok(n),
        None => {
            let got = match v {
                Value::Nil if i >= args.len() => "no value",
                other => other.type_name(),
            };
            super::raise_here(
                lua,
                h,
                &format!(
                    "bad argument #{} to '{fname}' (number expected, got {got})",
                    i + 1
                ),
            )?;
            Ok(0.0)
        }
    }
}

/// Installs `bit` into `globals` (the sandbox's backing table).
pub fn install(lua: &Lua, globals: &Table, hidden: &Table) -> mlua::Result<()> {
    let bit = lua.create_table()?;
    let h = hidden.clone();
    bit.set(
        "tobit",
        lua.create_function(move |lua, a: MultiValue| Ok(tobit(arg(lua, &h, &a, 0, "tobit")?)))?,
    )?;
    let h = hidden.clone();
    bit.set(
        "bnot",
        lua.create_function(move |lua, a: MultiValue| Ok(!tobit(arg(lua, &h, &a, 0, "bnot")?)))?,
    )?;
    let h = hidden.clone();
    bit.set(
        "bswap",
        lua.create_function(move |lua, a: MultiValue| {
            Ok(tobit(arg(lua, &h, &a, 0, "bswap")?).swap_bytes())
        })?,
    )?;
    type Fold = fn(i32, i32) -> i32;
    let folds: [(&str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, f) in folds {
        let h = hidden.clone();
        bit.set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let mut acc = tobit(arg(lua, &h, &a, 0, name)?);
                for i in 1..a.len() {
                    acc = f(acc, tobit(arg(lua, &h, &a, i, name)?));
                }
                Ok(acc)
            })?,
        )?;
    }
    type Shift = fn(u32, u32) -> u32;
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |x, n| x << (n & 31)),
        ("rshift", |x, n| x >> (n & 31)),
        ("arshift", |x, n| ((x as i32) >> (n & 31)) as u32),
        ("rol", |x, n| x.rotate_left(n & 31)),
        ("ror", |x, n| x.rotate_right(n & 31)),
    ];
    for (name, f) in shifts {
        let h = hidden.clone();
        bit.set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let x = tobit(arg(lua, &h, &a, 0, name)?) as u32;
                let n = tobit(arg(lua, &h, &a, 1, name)?) as u32;
                Ok(f(x, n) as i32)
            })?,
        )?;
    }
    let h = hidden.clone();
    bit.set(
        "tohex",
        lua.create_function(move |lua, a: MultiValue| {
            let x = tobit(arg(lua, &h, &a, 0, "tohex")?) as u32;
            let n = if a.len() > 1 && !matches!(a.get(1), Some(Value::Nil)) {
                tobit(arg(lua, &h, &a, 1, "tohex")?)
            } else {
                8
            };
            let upper = n < 0;
            let n = n.unsigned_abs().min(8) as usize;
            let s = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(s[8 - n..].to_string())
        })?,
    )?;
    globals.raw_set("bit", bit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tobit_wraps_and_rounds_like_luabitop() {
        assert_eq!(tobit(0xffff_ffff_u32 as f64), -1);
        assert_eq!(tobit(4_294_967_296.0 + 5.0), 5);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2.5), 2);
    }
}
