//! Redis's `long double` arithmetic for INCRBYFLOAT and HINCRBYFLOAT:
//! 80-bit extended precision emulated in software (Rust has no `f80`), with
//! Redis's parsing (`strtold` rules) and human-friendly formatting
//! (`%.17Lg`-style, trailing zeros trimmed), so results match Redis to the
//! digit.

use std::cmp::Ordering;

/// Exponent of the lowest mantissa bit of the smallest values
/// (subnormals and the smallest normal): 2^-16445.
const EMIN: i64 = -16445;
/// Exponent of the lowest mantissa bit of the largest finite values.
const EMAX: i64 = 16320;
/// `MAX_LONG_DOUBLE_CHARS` in Redis: longer inputs are rejected.
const MAX_CHARS: usize = 5 * 1024;

/// A finite or infinite long double: `mant * 2^exp` (zero when `mant`
/// is 0). Normal values keep the mantissa's top bit set; subnormals
/// have `exp == EMIN`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ld {
    neg: bool,
    inf: bool,
    mant: u64,
    exp: i64,
}

impl Ld {
    pub const ZERO: Ld = Ld {
        neg: false,
        inf: false,
        mant: 0,
        exp: 0,
    };

    fn zero(neg: bool) -> Ld {
        Ld { neg, ..Ld::ZERO }
    }

    fn inf(neg: bool) -> Ld {
        Ld {
            neg,
            inf: true,
            mant: 0,
            exp: 0,
        }
    }

    pub fn is_inf(&self) -> bool {
        self.inf
    }

    fn is_zero(&self) -> bool {
        !self.inf && self.mant == 0
    }

    /// Redis's `string2ld`: the whole string must be a `strtold`
    /// number (decimal, C99 hex, inf/infinity), no leading space, at
    /// most 5119 bytes, not NaN, and neither overflowing to infinity
    /// nor underflowing to zero.
    pub fn parse(s: &[u8]) -> Option<Ld> {
        if s.is_empty() || s.len() >= MAX_CHARS {
            return None;
        }
        if matches!(s[0], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Ld::inf(neg));
        }
        let r = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            parse_hex(neg, &body[2..])?
        } else {
            parse_dec(neg, body)?
        };
        // ERANGE: overflow to infinity or a non-zero input rounded to 0.
        (!r.inf).then_some(r)
    }

    /// `self * k`, rounded once.
    pub fn mul_u64(self, k: u64) -> Ld {
        if self.inf || self.mant == 0 || k == 0 {
            return if self.inf { self } else { Ld::zero(self.neg) };
        }
        round_pack(self.neg, self.mant as u128 * k as u128, self.exp, false)
    }

    /// `(long long) ceill(self)`, None when the result does not fit (C
    /// gives LLONG_MIN on x86 then).
    pub fn ceil_i64(self) -> Option<i64> {
        if self.inf {
            return None;
        }
        if self.mant == 0 {
            return Some(0);
        }
        let m = self.mant as u128;
        let magnitude: u128 = if self.exp >= 0 {
            if self.exp >= 64 {
                return None;
            }
            m << self.exp
        } else {
            let sh = (-self.exp) as u32;
            let (int, frac) = if sh >= 128 {
                (0, true)
            } else {
                (m >> sh, m & ((1u128 << sh) - 1) != 0)
            };
            // ceil rounds positive values up, negative ones toward 0.
            if self.neg { int } else { int + frac as u128 }
        };
        let v: i128 = if self.neg {
            -(magnitude as i128)
        } else {
            magnitude as i128
        };
        i64::try_from(v).ok()
    }

    /// `%.17Lf` with trailing zeros (and a bare '.') removed and "-0"
    /// shown as "0": Redis's `ld2string(..., LD_STR_HUMAN)`. Finite
    /// values only (callers reject infinity first).
    pub fn to_human(self) -> String {
        if self.mant == 0 || self.inf {
            return "0".to_string();
        }
        let mut n = Big::from_u128(self.mant as u128);
        n.mul_pow10(17);
        if self.exp >= 0 {
            n.shl(self.exp as u64);
        } else {
            let s = (-self.exp) as u64;
            let half = n.bit(s - 1);
            let sticky = n.any_below(s - 1);
            n.shr(s);
            if half && (sticky || n.bit(0)) {
                n.mul_add_small(1, 1);
            }
        }
        let mut digits = n.to_decimal();
        if digits.len() < 18 {
            digits = format!("{}{}", "0".repeat(18 - digits.len()), digits);
        }
        let (int, frac) = digits.split_at(digits.len() - 17);
        let frac = frac.trim_end_matches('0');
        let mut out = String::with_capacity(digits.len() + 2);
        if self.neg {
            out.push('-');
        }
        out.push_str(int);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        if out == "-0" {
            out.remove(0);
        }
        out
    }
}

impl std::ops::Add for Ld {
    type Output = Ld;

    /// `self + o`, rounded once. Infinity plus anything (NaN included,
    /// which callers treat the same way) is infinity.
    fn add(self, o: Ld) -> Ld {
        if self.inf || o.inf {
            return Ld::inf(if self.inf { self.neg } else { o.neg });
        }
        if o.is_zero() {
            return if self.is_zero() {
                Ld::zero(self.neg && o.neg)
            } else {
                self
            };
        }
        if self.is_zero() {
            return o;
        }
        let (hi, lo) = if self.exp >= o.exp {
            (self, o)
        } else {
            (o, self)
        };
        let d = (hi.exp - lo.exp) as u64;
        // `lo` is below a quarter ulp of the normalized `hi`: no effect.
        if d > 200 {
            return hi;
        }
        let mut a = Big::from_u128(hi.mant as u128);
        a.shl(d);
        let mut b = Big::from_u128(lo.mant as u128);
        let (neg, sum) = if hi.neg == lo.neg {
            a.add_assign(&b);
            (hi.neg, a)
        } else {
            match a.cmp(&b) {
                Ordering::Greater => {
                    a.sub_assign(&b);
                    (hi.neg, a)
                }
                Ordering::Less => {
                    b.sub_assign(&a);
                    (lo.neg, b)
                }
                Ordering::Equal => return Ld::ZERO,
            }
        };
        let (top, sh, sticky) = sum.top128();
        round_pack(neg, top, sh + lo.exp, sticky)
    }
}

/// Rounds `m * 2^e` (plus a non-zero tail below it when `sticky`) to
/// the nearest long double, ties to even; overflow gives infinity and
/// underflow zero (with the sign).
fn round_pack(neg: bool, m: u128, e: i64, sticky: bool) -> Ld {
    if m == 0 {
        return Ld::zero(neg);
    }
    let lz = m.leading_zeros();
    let m = m << lz;
    let e = e - lz as i64;
    // Exponent if we keep the top 64 bits; subnormals keep fewer.
    let ex64 = e + 64;
    let sh: i64 = if ex64 < EMIN { 64 + (EMIN - ex64) } else { 64 };
    let (mut q, half, low) = if sh >= 129 {
        (0u128, false, true)
    } else if sh == 128 {
        (0u128, m >> 127 == 1, (m << 1) != 0)
    } else {
        let sh = sh as u32;
        (
            m >> sh,
            (m >> (sh - 1)) & 1 == 1,
            m & ((1u128 << (sh - 1)) - 1) != 0,
        )
    };
    let low = low || sticky;
    if half && (low || q & 1 == 1) {
        q += 1;
    }
    let mut exp = ex64 + (sh - 64);
    if q >> 64 != 0 {
        q >>= 1;
        exp += 1;
    }
    if q == 0 {
        return Ld::zero(neg);
    }
    if exp > EMAX {
        return Ld::inf(neg);
    }
    Ld {
        neg,
        inf: false,
        mant: q as u64,
        exp,
    }
}

/// Decimal `strtold` body (after the sign); None on any syntax error or
/// an underflow to zero.
fn parse_dec(neg: bool, b: &[u8]) -> Option<Ld> {
    let mut digits: Vec<u8> = Vec::with_capacity(b.len());
    let mut frac: i64 = 0;
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        digits.push(b[i] - b'0');
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            digits.push(b[i] - b'0');
            frac += 1;
            i += 1;
        }
    }
    if digits.is_empty() {
        return None;
    }
    let mut e10: i64 = 0;
    if i < b.len() && (b[i] | 0x20) == b'e' {
        let (e, used) = parse_exp(&b[i + 1..]);
        if used > 0 {
            e10 = e;
            i += 1 + used;
        }
    }
    if i != b.len() {
        return None;
    }
    let Some(first) = digits.iter().position(|&d| d != 0) else {
        return Some(Ld::zero(neg));
    };
    let last = digits.iter().rposition(|&d| d != 0).unwrap_or(first);
    let sig = &digits[first..=last];
    e10 += (digits.len() - 1 - last) as i64 - frac;
    let nd = sig.len() as i64;
    // value in [10^(nd-1+e10), 10^(nd+e10)): clearly out of range?
    if nd + e10 > 4934 {
        return Some(Ld::inf(neg));
    }
    if nd + e10 < -4952 {
        return None;
    }
    let mut n = Big::default();
    for chunk in sig.chunks(9) {
        let mut v = 0u32;
        for &d in chunk {
            v = v * 10 + d as u32;
        }
        n.mul_add_small(10u32.pow(chunk.len() as u32), v);
    }
    let r = if e10 >= 0 {
        n.mul_pow10(e10 as u32);
        let (top, sh, sticky) = n.top128();
        round_pack(neg, top, sh, sticky)
    } else {
        div_pow10(neg, n, (-e10) as u32)
    };
    (!r.is_zero()).then_some(r)
}

/// C99 hex float body after "0x": hex digits, optional fraction,
/// optional binary exponent `p[+-]digits`.
fn parse_hex(neg: bool, b: &[u8]) -> Option<Ld> {
    let mut n = Big::default();
    let mut any = false;
    let mut frac: i64 = 0;
    let mut i = 0;
    let hex = |c: u8| (c as char).to_digit(16);
    while i < b.len()
        && let Some(d) = hex(b[i])
    {
        n.mul_add_small(16, d);
        any = true;
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len()
            && let Some(d) = hex(b[i])
        {
            n.mul_add_small(16, d);
            any = true;
            frac += 1;
            i += 1;
        }
    }
    if !any {
        return None;
    }
    let mut e2: i64 = -4 * frac;
    if i < b.len() && (b[i] | 0x20) == b'p' {
        let (e, used) = parse_exp(&b[i + 1..]);
        if used > 0 {
            e2 += e;
            i += 1 + used;
        }
    }
    if i != b.len() {
        return None;
    }
    if n.is_zero() {
        return Some(Ld::zero(neg));
    }
    let bits = n.bit_len() as i64;
    if bits + e2 > EMAX + 66 {
        return Some(Ld::inf(neg));
    }
    if bits + e2 < EMIN - 2 {
        return None;
    }
    let (top, sh, sticky) = n.top128();
    let r = round_pack(neg, top, sh + e2, sticky);
    (!r.is_zero()).then_some(r)
}

/// An exponent `[+-]digits`; returns (value clamped to +-10^9, bytes
/// used), used = 0 when there is no digit (strtold then stops before
/// the 'e'/'p').
fn parse_exp(b: &[u8]) -> (i64, usize) {
    let (neg, start) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut i = start;
    let mut v: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        v = (v * 10 + (b[i] - b'0') as i64).min(1_000_000_000);
        i += 1;
    }
    if i == start {
        return (0, 0);
    }
    (if neg { -v } else { v }, i)
}

/// `num / 10^k` rounded: 127 quotient bits by binary long division,
/// plus a sticky remainder.
fn div_pow10(neg: bool, mut num: Big, k: u32) -> Ld {
    let mut den = Big::from_u128(1);
    den.mul_pow10(k);
    let sh = den.bit_len() as i64 - num.bit_len() as i64;
    if sh >= 0 {
        num.shl(sh as u64);
    } else {
        den.shl((-sh) as u64);
    }
    // Now num / den is in (1/2, 2); q = floor(num / den * 2^126).
    let mut q: u128 = 0;
    for _ in 0..127 {
        q <<= 1;
        if num.cmp(&den) != Ordering::Less {
            num.sub_assign(&den);
            q |= 1;
        }
        num.shl(1);
    }
    round_pack(neg, q, -126 - sh, !num.is_zero())
}

/// A small unsigned bignum: little-endian 32-bit limbs, no leading
/// zero limbs. Only what the conversions above need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u128(mut v: u128) -> Big {
        let mut l = Vec::with_capacity(4);
        while v != 0 {
            l.push(v as u32);
            v >>= 32;
        }
        Big(l)
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    /// self = self * m + a.
    fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = a as u64;
        for x in self.0.iter_mut() {
            let t = *x as u64 * m as u64 + carry;
            *x = t as u32;
            carry = t >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut k: u32) {
        while k >= 9 {
            self.mul_add_small(1_000_000_000, 0);
            k -= 9;
        }
        if k > 0 {
            self.mul_add_small(10u32.pow(k), 0);
        }
    }

    fn bit_len(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u64 - 1) * 32 + (32 - top.leading_zeros()) as u64,
        }
    }

    fn bit(&self, i: u64) -> bool {
        let limb = (i / 32) as usize;
        limb < self.0.len() && (self.0[limb] >> (i % 32)) & 1 == 1
    }

    /// Any bit below position `i` set?
    fn any_below(&self, i: u64) -> bool {
        let full = ((i / 32) as usize).min(self.0.len());
        let rem = i % 32;
        self.0[..full].iter().any(|&x| x != 0)
            || (rem > 0 && full < self.0.len() && self.0[full] & ((1u32 << rem) - 1) != 0)
    }

    fn shl(&mut self, n: u64) {
        if self.is_zero() {
            return;
        }
        let bits = (n % 32) as u32;
        if bits > 0 {
            let mut carry = 0u32;
            for x in self.0.iter_mut() {
                let nx = (*x << bits) | carry;
                carry = *x >> (32 - bits);
                *x = nx;
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        let limbs = (n / 32) as usize;
        if limbs > 0 {
            self.0.splice(0..0, std::iter::repeat_n(0, limbs));
        }
    }

    fn shr(&mut self, n: u64) {
        let limbs = (n / 32) as usize;
        if limbs >= self.0.len() {
            self.0.clear();
            return;
        }
        self.0.drain(..limbs);
        let bits = (n % 32) as u32;
        if bits > 0 {
            let len = self.0.len();
            for i in 0..len {
                let hi = if i + 1 < len {
                    self.0[i + 1] << (32 - bits)
                } else {
                    0
                };
                self.0[i] = (self.0[i] >> bits) | hi;
            }
        }
        self.trim();
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    fn add_assign(&mut self, o: &Big) {
        if self.0.len() < o.0.len() {
            self.0.resize(o.0.len(), 0);
        }
        let mut carry = 0u64;
        for i in 0..self.0.len() {
            let t = self.0[i] as u64 + o.0.get(i).copied().unwrap_or(0) as u64 + carry;
            self.0[i] = t as u32;
            carry = t >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    /// self -= o; requires self >= o.
    fn sub_assign(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let mut t = self.0[i] as i64 - o.0.get(i).copied().unwrap_or(0) as i64 - borrow;
            borrow = 0;
            if t < 0 {
                t += 1 << 32;
                borrow = 1;
            }
            self.0[i] = t as u32;
        }
        self.trim();
    }

    fn low_u128(&self) -> u128 {
        self.0
            .iter()
            .take(4)
            .enumerate()
            .fold(0u128, |acc, (i, &x)| acc | (x as u128) << (32 * i))
    }

    /// The top 128 bits, the exponent of their lowest bit, and whether
    /// any bit below them is set.
    fn top128(&self) -> (u128, i64, bool) {
        let n = self.bit_len();
        if n <= 128 {
            return (self.low_u128(), 0, false);
        }
        let sh = n - 128;
        let mut t = self.clone();
        t.shr(sh);
        (t.low_u128(), sh as i64, self.any_below(sh))
    }

    /// self /= d, returning the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for x in self.0.iter_mut().rev() {
            let cur = (rem << 32) | *x as u64;
            *x = (cur / d as u64) as u32;
            rem = cur % d as u64;
        }
        self.trim();
        rem as u32
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".to_string();
        }
        let mut t = self.clone();
        let mut chunks = Vec::new();
        while !t.is_zero() {
            chunks.push(t.div_small(1_000_000_000));
        }
        let mut s = String::with_capacity(chunks.len() * 9);
        let mut it = chunks.iter().rev();
        if let Some(first) = it.next() {
            s.push_str(&first.to_string());
        }
        for c in it {
            s.push_str(&format!("{:09}", c));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> String {
        Ld::parse(s.as_bytes()).expect(s).to_human()
    }

    fn sum(a: &str, b: &str) -> String {
        let a = Ld::parse(a.as_bytes()).expect(a);
        let b = Ld::parse(b.as_bytes()).expect(b);
        (a + b).to_human()
    }

    #[test]
    fn formats_like_redis() {
        // Replies observed from Redis 7.0 HINCRBYFLOAT.
        assert_eq!(h("3.0"), "3");
        assert_eq!(h("0x10"), "16");
        assert_eq!(h("-0.0"), "0");
        assert_eq!(h("1e30"), "1000000000000000000024696061952");
        assert_eq!(h("1e-30"), "0");
        assert_eq!(h("12345678901234567890.123"), "12345678901234567890");
        assert_eq!(h("0.1"), "0.1");
        assert_eq!(h("10.5"), "10.5");
        assert_eq!(h("-1.25"), "-1.25");
        assert_eq!(h("1e-4940"), "0");
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("10.50", "0.1"), "10.6");
        assert_eq!(sum("5.0e3", "2.0e2"), "5200");
        assert_eq!(sum("1", "-1"), "0");
        let big = h("1.18e4932");
        assert_eq!(big.len(), 4933);
        assert!(big.starts_with("118000000000000000000065281291809369920269043714016047"));
    }

    #[test]
    fn parse_rules() {
        for bad in [
            "", " 1", "1 ", "abc", "nan", "-nan", "1e", "1e+", ".", "0x", "0xg", "1e5000",
            "1e-5000", "--1", "+-1", "1.2.3", "0x1p",
        ] {
            assert!(Ld::parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        for good in [
            "1",
            "+1",
            "-1",
            ".5",
            "5.",
            "1E5",
            "1e+5",
            "1e-5",
            "inf",
            "-Infinity",
            "0x1p3",
            "0x.8",
            "1e4932",
            "1e-4940",
        ] {
            assert!(Ld::parse(good.as_bytes()).is_some(), "{good:?}");
        }
        assert!(Ld::parse(b"1e4933").is_none());
        assert!(Ld::parse(&[b'1'; 5119]).is_none());
        assert!(Ld::parse(&[b'1'; 5000]).is_none()); // 10^5000: overflow
        let mut long = vec![b'0'; 5000];
        long[4999] = b'7';
        assert_eq!(Ld::parse(&long).map(|v| v.to_human()), Some("7".into()));
    }

    #[test]
    fn integers_and_ceil() {
        assert_eq!(h("-9223372036854775808"), "-9223372036854775808");
        assert_eq!(h("42"), "42");
        let c = |s: &str| Ld::parse(s.as_bytes()).unwrap().mul_u64(1000).ceil_i64();
        assert_eq!(c("1.5"), Some(1500));
        assert_eq!(c("0.0001"), Some(1));
        assert_eq!(c("-0.0001"), Some(0));
        assert_eq!(c("-1"), Some(-1000));
        assert_eq!(c("9223372036854775"), Some(9223372036854775000));
        assert_eq!(c("9223372036854776"), None);
        assert_eq!(c("inf"), None);
    }

    #[test]
    fn ties_round_to_even_when_printing() {
        // 2^-18 * 10^17 ends in exactly .5: glibc rounds to even.
        assert_eq!(h("0.000003814697265625"), "0.00000381469726562");
    }
}
