//! Numeric text conversions exactly as Redis does them (`string2ll`,
//! `strtod`-based float parsing), shared by every command family.

/// Parses a signed 64-bit integer with Redis's `string2ll` rules: optional
/// `-`, no `+`, no leading zeros, no spaces, no overflow.
#[inline]
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses a double as Redis's `getDoubleFromObject`: the whole string must
/// be a number (`strtod` syntax including inf/infinity and exponents), no
/// leading space, and not NaN.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    if let Some(v) = plain_f64(b) {
        return Some(v);
    }
    if b.is_empty() || b.len() > 5 * 1024 || b[0].is_ascii_whitespace() {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    // Rust accepts "nan" and "+nan"; strtod would too but Redis rejects NaN.
    let v: f64 = s.parse().ok().or_else(|| parse_hex_float(s))?;
    if v.is_nan() { None } else { Some(v) }
}

/// The common score or increment: an optional `-` and 1 to 15 decimal
/// digits, exact as a double, so `strtod`'s answer without its machinery
/// (leading zeros as strtod reads them; `-0` is -0.0).
#[inline]
pub fn plain_f64(b: &[u8]) -> Option<f64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    let v = v as f64;
    Some(if neg { -v } else { v })
}

/// `strtod` also accepts C99 hex floats (`0x1p3`); rare, but accepted by
/// Redis, so handle the simple forms.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let rest = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))?;
    let (mant, exp) = match rest.find(['p', 'P']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    Some(if neg { -v } else { v })
}

/// Formats `n` in decimal into `buf`, returning the digits: the one integer
/// formatter (replies, stored integers, AOF arguments) - no allocation and
/// no fmt machinery on hot paths.
#[inline]
pub fn fmt_i64(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let pos = write_i64(n, buf, 20);
    &buf[pos..]
}

/// Two digits at a time (half the divisions, as Redis's ll2string).
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `n` in decimal so that it ends just before `buf[end]`; returns
/// where it starts. `buf[..end]` must have room for 20 bytes.
#[inline]
pub fn write_i64(n: i64, buf: &mut [u8], end: usize) -> usize {
    let mut pos = end;
    let mut v = n.unsigned_abs();
    while v >= 100 {
        let r = (v % 100) as usize * 2;
        v /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[r..r + 2]);
    }
    if v >= 10 {
        let r = v as usize * 2;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[r..r + 2]);
    } else {
        pos -= 1;
        buf[pos] = b'0' + v as u8;
    }
    if n < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_format_without_allocating() {
        let mut b = [0u8; 20];
        assert_eq!(fmt_i64(0, &mut b), b"0");
        assert_eq!(fmt_i64(-42, &mut b), b"-42");
        assert_eq!(fmt_i64(i64::MIN, &mut b), b"-9223372036854775808");
        assert_eq!(fmt_i64(i64::MAX, &mut b), b"9223372036854775807");
        // Every digit count and both signs, against std's formatting.
        let mut n: i64 = 1;
        for _ in 0..19 {
            for v in [n - 1, n, n + 1, n * 5, -n, -n + 1, -n - 1] {
                assert_eq!(fmt_i64(v, &mut b), v.to_string().as_bytes());
            }
            n = n.saturating_mul(10);
        }
        for v in 0..1000 {
            assert_eq!(fmt_i64(v, &mut b), v.to_string().as_bytes());
            assert_eq!(fmt_i64(-v, &mut b), (-v).to_string().as_bytes());
        }
    }

    #[test]
    fn plain_scores_parse_as_strtod() {
        for t in [
            "0",
            "-0",
            "7",
            "-7",
            "007",
            "123456789012345",
            "-999999999999999",
            "10",
        ] {
            let want: f64 = t.parse().unwrap();
            let got = plain_f64(t.as_bytes()).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{t}");
            assert_eq!(parse_f64(t.as_bytes()).unwrap().to_bits(), want.to_bits());
        }
        for t in [
            "",
            "-",
            "+1",
            "1.5",
            "1e3",
            "1234567890123456",
            "inf",
            " 1",
            "1 ",
        ] {
            assert!(plain_f64(t.as_bytes()).is_none(), "{t}");
        }
    }

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"1.0",
            b"-",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_like_strtod() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1 "), None);
        assert_eq!(parse_f64(b"abc"), None);
    }
}

/// C's `%.17g` of a double, as Redis 7.0 prints scores (`addReplyDouble`,
/// `d2string`, DEBUG DIGEST, AOF rewrite): 17 significant digits, trailing
/// zeros dropped, exponent form below 1e-4 or from 1e17; `inf`/`-inf`/`nan`.
pub fn fmt_g17(d: f64) -> String {
    if d.is_nan() {
        return if d.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:.16e}` is exactly rounded: "d.dddddddddddddddde<exp>".
    let e = format!("{:.16e}", d.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::with_capacity(24);
    if d < 0.0 {
        out.push('-');
    }
    if !(-4..17).contains(&exp) {
        let frac = digits[1..].trim_end_matches('0');
        out.push_str(&digits[..1]);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(&a.to_string());
    } else if exp >= 0 {
        let (int, frac) = digits.split_at(exp as usize + 1);
        out.push_str(int);
        let frac = frac.trim_end_matches('0');
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
    } else {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

#[cfg(test)]
mod g17_tests {
    use super::fmt_g17;

    #[test]
    fn like_printf() {
        for (d, s) in [
            (1.1, "1.1000000000000001"),
            (3.0, "3"),
            (-2.5, "-2.5"),
            (1e17, "1e+17"),
            (1.5e17, "1.5e+17"),
            (99999999999999999.0, "1e+17"),
            (12345678901234567.0, "12345678901234568"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (0.1, "0.10000000000000001"),
            (1e300, "1.0000000000000001e+300"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (-0.0, "-0"),
            (123.456, "123.456"),
        ] {
            assert_eq!(fmt_g17(d), s, "{d:e}");
        }
    }
}
