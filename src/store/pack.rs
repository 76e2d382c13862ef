//! The packed entry codec shared by the compact encodings of lists
//! (`store::list`) and hashes (`store::hash`): entries back to back in one
//! exactly sized buffer. The buffers are built only by this code, so
//! decoding trusts them.
//!
//! An entry's first byte says what it is (one compare tells a short string
//! from the rest, so scans over short strings cost what they did when every
//! entry was a string):
//!
//! | first byte  | entry                                                  |
//! |-------------|--------------------------------------------------------|
//! | `0x00-0x7f` | string of that many bytes (0-127), bytes follow         |
//! | `0x80-0xbf` | integer 0..=63 in the low 6 bits (1 byte in all)        |
//! | `0xc0-0xdf` | 13-bit signed integer: low 5 bits + 1 byte (2 bytes)    |
//! | `0xe0-0xef` | 20-bit signed integer: low 4 bits + 2 bytes (3 bytes)   |
//! | `0xf0`      | 24-bit signed integer, 3 bytes little-endian            |
//! | `0xf1`      | 32-bit signed integer, 4 bytes little-endian            |
//! | `0xf2`      | 64-bit signed integer, 8 bytes little-endian            |
//! | `0xff`      | string of 128 bytes or more: LEB128 length, then bytes  |
//!
//! Integer entries are written only for list elements (`encode`) that are
//! canonical integers by Redis's `string2ll` rule (what its listpack stores
//! as an integer: "10", "-3", not "010", "+1", " 1" or "-0"), so they read
//! back byte-identical. Where Redis's listpack spends a back-length byte
//! per entry on top of its encoding, these entries have none (1 byte for
//! 0..63, 2 for a 4-digit number, 3 for a 5- or 6-digit one below 524288).
//!
//! Hash packs (`store::hash`) are another format: they take only this
//! string entry (`write_entry`, `read_entry`, `entry_size`) for their whole
//! entries, and there first bytes `0x80-0xfe` mark front-coded entries, not
//! integers - so this module's element readers (`read_elem`, `read_int`,
//! `entry_int`, `Needle`) must never be applied to a hash pack.

use std::ops::Deref;

use super::buf::CountedBytes;

/// First byte of a string entry of 128 bytes or more.
pub const LONG_STR: u8 = 0xff;
const TAG_I24: u8 = 0xf0;
const TAG_I32: u8 = 0xf1;
const TAG_I64: u8 = 0xf2;

/// Bytes of the LEB128 encoding of `n`.
#[inline]
pub fn varint_len(mut n: usize) -> usize {
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

/// Encoded size of a string entry holding `n` bytes.
#[inline]
pub fn entry_len(n: usize) -> usize {
    if n < 0x80 {
        1 + n
    } else {
        1 + varint_len(n) + n
    }
}

/// Writes the string entry for `e` at the start of `out` (which is at least
/// `entry_len(e.len())` long); returns the bytes written.
#[inline]
pub fn write_entry(out: &mut [u8], e: &[u8]) -> usize {
    let mut n = e.len();
    let mut p = 0;
    if n >= 0x80 {
        out[0] = LONG_STR;
        p = 1;
        while n >= 0x80 {
            out[p] = (n as u8) | 0x80;
            n >>= 7;
            p += 1;
        }
    }
    out[p] = n as u8;
    p += 1;
    out[p..p + e.len()].copy_from_slice(e);
    p + e.len()
}

/// The length header of the string entry at the start of `buf`: (string
/// length, header bytes). Short strings (< 128 bytes) have a 1-byte header,
/// read without the varint loop (scans of hashes skip them this way).
#[inline(always)]
pub fn read_header(buf: &[u8]) -> (usize, usize) {
    let b0 = buf[0];
    if b0 < 0x80 {
        return (b0 as usize, 1);
    }
    debug_assert_eq!(b0, LONG_STR, "a string entry");
    long_header(buf)
}

/// `read_header` of a long string (first byte `LONG_STR`).
#[cold]
#[inline(never)]
fn long_header(buf: &[u8]) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut h = 1;
    loop {
        let b = buf[h];
        h += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    (n, h)
}

/// Decodes the string entry at the start of `buf`: its bytes and encoded
/// size.
#[inline]
pub fn read_entry(buf: &[u8]) -> (&[u8], usize) {
    let (n, h) = read_header(buf);
    (&buf[h..h + n], h + n)
}

/// Encoded size of the entry (string or integer) at the start of `buf`.
#[inline(always)]
pub fn entry_size(buf: &[u8]) -> usize {
    let b0 = buf[0];
    if b0 < 0x80 {
        return 1 + b0 as usize;
    }
    other_size(buf)
}

/// `entry_size` of an integer or long string entry.
#[inline]
fn other_size(buf: &[u8]) -> usize {
    match buf[0] {
        0x80..=0xbf => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        TAG_I24 => 4,
        TAG_I32 => 5,
        TAG_I64 => 9,
        _ => {
            let (n, h) = long_header(buf);
            h + n
        }
    }
}

/// Sign-extends the low `bits` bits of `raw`.
#[inline]
fn sext(raw: u64, bits: u32) -> i64 {
    ((raw << (64 - bits)) as i64) >> (64 - bits)
}

/// Decodes the integer entry at the start of `buf` (first byte 0x80 to
/// `TAG_I64`): its value and encoded size.
#[inline]
pub fn read_int(buf: &[u8]) -> (i64, usize) {
    let b0 = buf[0];
    match b0 {
        0x80..=0xbf => ((b0 & 0x3f) as i64, 1),
        0xc0..=0xdf => (sext(((b0 as u64 & 0x1f) << 8) | buf[1] as u64, 13), 2),
        0xe0..=0xef => {
            let raw = ((b0 as u64 & 0x0f) << 16) | ((buf[1] as u64) << 8) | buf[2] as u64;
            (sext(raw, 20), 3)
        }
        TAG_I24 => {
            let raw = buf[1] as u64 | (buf[2] as u64) << 8 | (buf[3] as u64) << 16;
            (sext(raw, 24), 4)
        }
        TAG_I32 => {
            let mut b = [0u8; 4];
            b.copy_from_slice(&buf[1..5]);
            (i32::from_le_bytes(b) as i64, 5)
        }
        _ => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[1..9]);
            (i64::from_le_bytes(b), 9)
        }
    }
}

/// Encoded size of an integer entry holding `v`.
#[inline]
fn int_len(v: i64) -> usize {
    match v {
        0..=63 => 1,
        -4096..=4095 => 2,
        -524_288..=524_287 => 3,
        -8_388_608..=8_388_607 => 4,
        _ if v == v as i32 as i64 => 5,
        _ => 9,
    }
}

/// Writes the integer entry for `v` at the start of `out`; returns the
/// bytes written (`int_len(v)`).
#[inline]
fn write_int(out: &mut [u8], v: i64) -> usize {
    let u = v as u64;
    match int_len(v) {
        1 => out[0] = 0x80 | u as u8,
        2 => {
            out[0] = 0xc0 | ((u >> 8) as u8 & 0x1f);
            out[1] = u as u8;
        }
        3 => {
            out[0] = 0xe0 | ((u >> 16) as u8 & 0x0f);
            out[1] = (u >> 8) as u8;
            out[2] = u as u8;
        }
        4 => {
            out[0] = TAG_I24;
            out[1..4].copy_from_slice(&(v as i32).to_le_bytes()[..3]);
        }
        5 => {
            out[0] = TAG_I32;
            out[1..5].copy_from_slice(&(v as i32).to_le_bytes());
        }
        _ => {
            out[0] = TAG_I64;
            out[1..9].copy_from_slice(&v.to_le_bytes());
        }
    }
    int_len(v)
}

/// An element about to be written as a list entry: an integer when it is a
/// canonical integer string (Redis's listpack rule), else its bytes.
#[derive(Clone, Copy)]
pub enum Enc<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

/// Chooses the entry kind for list element `e`.
#[inline]
pub fn encode(e: &[u8]) -> Enc<'_> {
    // Most strings fail at the first byte; `parse_i64` is string2ll
    // (length <= 20, no leading zeros, "-0" not an integer).
    match e.first() {
        Some(b'-' | b'0'..=b'9') => match crate::number::parse_i64(e) {
            Some(v) => Enc::Int(v),
            None => Enc::Bytes(e),
        },
        _ => Enc::Bytes(e),
    }
}

impl Enc<'_> {
    /// Encoded size of the entry.
    #[inline]
    pub fn size(&self) -> usize {
        match *self {
            Enc::Bytes(b) => entry_len(b.len()),
            Enc::Int(v) => int_len(v),
        }
    }

    /// Writes the entry at the start of `out` (at least `size()` long);
    /// returns the bytes written.
    #[inline]
    pub fn write(&self, out: &mut [u8]) -> usize {
        match *self {
            Enc::Bytes(b) => write_entry(out, b),
            Enc::Int(v) => write_int(out, v),
        }
    }
}

/// A list element encoded as its entry, to find it among a list's entries
/// by comparing bytes: a given element has exactly one entry (integers take
/// their smallest form, lengths their shortest header, and lists write
/// every canonical integer as an integer entry), so an entry holds the
/// element exactly when its bytes are these. This is Redis's comparison:
/// an integer entry equals its canonical digits ("10" finds 10, "010" does
/// not).
pub struct Needle {
    small: [u8; 48],
    big: Vec<u8>,
    len: usize,
}

impl Needle {
    pub fn new(e: &[u8]) -> Needle {
        let enc = encode(e);
        let len = enc.size();
        let mut n = Needle {
            small: [0; 48],
            big: Vec::new(),
            len,
        };
        if len <= n.small.len() {
            enc.write(&mut n.small);
        } else {
            n.big = vec![0; len];
            enc.write(&mut n.big);
        }
        n
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        if self.len <= self.small.len() {
            &self.small[..self.len]
        } else {
            &self.big
        }
    }

    /// Whether the entry at the start of `buf` holds the element, and the
    /// entry's encoded size (one pass for scans).
    #[inline(always)]
    pub fn match_entry(&self, buf: &[u8]) -> (bool, usize) {
        let size = entry_size(buf);
        let want = self.bytes();
        // The last bytes first: most entries of the needle's size differ
        // there, which saves the memcmp call.
        let hit = size == self.len && buf[size - 1] == want[size - 1] && buf[..size] == *want;
        (hit, size)
    }
}

/// A list element read from its entry: borrowed bytes, or an integer
/// entry's digits formatted inline. Derefs to the element's bytes.
#[derive(Clone, Copy)]
pub enum Elem<'a> {
    Bytes(&'a [u8]),
    Int(Digits),
}

/// An integer's decimal digits (at most 20; an `Elem` stays 24 bytes).
#[derive(Clone, Copy)]
pub struct Digits {
    buf: [u8; 20],
    start: u8,
}

impl Digits {
    #[inline]
    pub fn new(v: i64) -> Digits {
        let mut buf = [0u8; 20];
        let start = crate::number::write_i64(v, &mut buf, 20) as u8;
        Digits { buf, start }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start as usize..]
    }
}

impl<'a> Elem<'a> {
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Elem::Bytes(b) => b,
            Elem::Int(d) => d.as_bytes(),
        }
    }
}

impl Deref for Elem<'_> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Elem<'_> {
    fn eq(&self, other: &Elem<'_>) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<[u8]> for Elem<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialEq<&[u8]> for Elem<'_> {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_bytes() == *other
    }
}

impl std::fmt::Debug for Elem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        String::from_utf8_lossy(self.as_bytes()).fmt(f)
    }
}

/// Decodes the list entry (string or integer) at the start of `buf`: the
/// element and the entry's encoded size.
#[inline(always)]
pub fn read_elem(buf: &[u8]) -> (Elem<'_>, usize) {
    let b0 = buf[0];
    if b0 < 0x80 {
        let n = b0 as usize;
        return (Elem::Bytes(&buf[1..1 + n]), 1 + n);
    }
    read_other(buf)
}

/// `read_elem` of an integer or long string entry.
#[inline(never)]
fn read_other(buf: &[u8]) -> (Elem<'_>, usize) {
    if buf[0] == LONG_STR {
        let (e, size) = read_entry(buf);
        return (Elem::Bytes(e), size);
    }
    let (v, size) = read_int(buf);
    (Elem::Int(Digits::new(v)), size)
}

/// The integer held by the entry at the start of `buf`, if it is an
/// integer entry.
#[cfg(test)]
pub fn entry_int(buf: &[u8]) -> Option<i64> {
    match buf[0] {
        0x80..=TAG_I64 => Some(read_int(buf).0),
        _ => None,
    }
}

/// Replaces the `old` bytes at `off` of `buf` by `new` bytes (returned,
/// to be filled by the caller), keeping the buffer exactly sized.
/// (The caller keeps the buffer below `buf::PACK_MAX_BYTES`.)
pub fn splice(buf: &mut CountedBytes, off: usize, old: usize, new: usize) -> &mut [u8] {
    let len = buf.len();
    if new != old {
        // Not through `buf.edit()`: its out-of-line drop cost LPUSH/HSET
        // ~20 instructions.
        let count = buf.count;
        let mut v = std::mem::take(buf).into_vec();
        if new > old {
            v.reserve_exact(new - old);
            v.resize(len + new - old, 0);
            v.copy_within(off + old..len, off + new);
        } else {
            v.copy_within(off + old..len, off + new);
            v.truncate(len - (old - new));
        }
        *buf = CountedBytes::with_count(v.into_boxed_slice(), count);
    }
    &mut buf[off..off + new]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        for n in [0usize, 1, 127, 128, 300, 16383, 16384, 70_000] {
            let e = vec![b'x'; n];
            let mut buf = vec![0u8; entry_len(n)];
            assert_eq!(write_entry(&mut buf, &e), entry_len(n));
            let (got, size) = read_entry(&buf);
            assert_eq!((got.len(), size), (n, entry_len(n)));
            assert_eq!(entry_size(&buf), size);
            let (got, size) = read_elem(&buf);
            assert_eq!((&*got, size), (&e[..], entry_len(n)));
        }
        let mut b = CountedBytes::with_count(Box::from(&b"abcdef"[..]), 7);
        splice(&mut b, 2, 2, 3).copy_from_slice(b"XYZ");
        assert_eq!(&*b, b"abXYZef");
        splice(&mut b, 0, 3, 0);
        assert_eq!((&*b, b.count), (&b"YZef"[..], 7));
    }

    /// A needle matches exactly the entries holding the same bytes (an
    /// integer entry matches its canonical digits only).
    #[test]
    fn needles_match_equal_elements() {
        let long = "x".repeat(200);
        let elems = [
            "10",
            "010",
            "+10",
            "-10",
            "0",
            "-0",
            "",
            "a",
            "63",
            "64",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            " 1",
            &long,
        ];
        for a in elems {
            let needle = Needle::new(a.as_bytes());
            for b in elems {
                let enc = encode(b.as_bytes());
                let mut buf = vec![0u8; enc.size() + 1];
                enc.write(&mut buf);
                assert_eq!(
                    needle.match_entry(&buf),
                    (a == b, enc.size()),
                    "{a:?} in {b:?}"
                );
            }
        }
    }

    /// Every integer width's bounds and neighbours read back as the same
    /// digits, in the smallest form; integer-looking strings that Redis
    /// keeps as strings stay strings.
    #[test]
    fn integers_round_trip() {
        let mut vals = vec![
            0i64,
            1,
            -1,
            i64::MIN,
            i64::MAX,
            i32::MIN as i64,
            i32::MAX as i64,
        ];
        for b in [6u32, 12, 19, 23, 31] {
            let hi = (1i64 << b) - 1;
            let lo = -(1i64 << b);
            vals.extend([hi, hi + 1, lo, lo - 1, hi - 1, lo + 1]);
        }
        for v in vals {
            let s = v.to_string();
            let enc = encode(s.as_bytes());
            assert!(matches!(enc, Enc::Int(x) if x == v), "{s}");
            let mut buf = vec![0u8; enc.size() + 3];
            assert_eq!(enc.write(&mut buf), enc.size());
            assert_eq!(entry_size(&buf), enc.size(), "{s}");
            assert_eq!(entry_int(&buf), Some(v));
            let (e, size) = read_elem(&buf);
            assert_eq!((&*e, size), (s.as_bytes(), enc.size()), "{s}");
        }
        assert_eq!(encode(b"63").size(), 1);
        assert_eq!(encode(b"64").size(), 2);
        assert_eq!(encode(b"-4096").size(), 2);
        assert_eq!(encode(b"99999").size(), 3);
        assert_eq!(encode(b"999999").size(), 4);
        for s in [
            "",
            "007",
            "+5",
            "-0",
            " 1",
            "1 ",
            "1e3",
            "-",
            "9223372036854775808",
            "-9223372036854775809",
            "00",
            "0x10",
            "１",
        ] {
            let enc = encode(s.as_bytes());
            assert!(matches!(enc, Enc::Bytes(_)), "{s:?}");
            let mut buf = vec![0u8; enc.size()];
            enc.write(&mut buf);
            assert_eq!(entry_int(&buf), None);
            assert_eq!(&*read_elem(&buf).0, s.as_bytes());
        }
    }
}
