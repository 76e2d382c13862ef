//! The bitmap family on string values: SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD and BITFIELD_RO, with Redis 7.0's replies, argument
//! order of checks, bounds (`proto-max-bulk-len`) and error texts
//! (bitops.c). Bit 0 is the most significant bit of the first byte.
//!
//! Growing a string for a far offset zero-fills it like Redis's
//! `sdsgrowzero`; a new key gets a fresh zeroed buffer (calloc'd pages,
//! so SETBIT at 2^32-1 on a missing key does not touch 512 MB).

use super::flags::{DENYOOM, FAST, READONLY, WRITE};
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::number::parse_i64;
use crate::server::{Client, Server};
use crate::store::{Kind, Sds, Value};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, WRITE | DENYOOM, (1, 1, 1), setbit, "bitmap").doc(
        "2.2.0",
        "Sets or clears the bit at offset in the string value stored at key",
        "key offset value",
    ),
    CommandSpec::new("getbit", 3, READONLY | FAST, (1, 1, 1), getbit, "bitmap").doc(
        "2.2.0",
        "Returns the bit value at offset in the string value stored at key",
        "key offset",
    ),
    CommandSpec::new("bitcount", -2, READONLY, (1, 1, 1), bitcount, "bitmap").doc(
        "2.6.0",
        "Count set bits in a string",
        "key [start end [BYTE | BIT]]",
    ),
    CommandSpec::new("bitpos", -3, READONLY, (1, 1, 1), bitpos, "bitmap").doc(
        "2.8.7",
        "Find first bit set or clear in a string",
        "key bit [start [end [BYTE | BIT]]]",
    ),
    CommandSpec::new("bitop", -4, WRITE | DENYOOM, (2, -1, 1), bitop, "bitmap").doc(
        "2.6.0",
        "Perform bitwise operations between strings",
        "operation destkey key [key ...]",
    ),
    CommandSpec::new("bitfield", -2, WRITE | DENYOOM, (1, 1, 1), bitfield, "bitmap").doc(
        "3.2.0",
        "Perform arbitrary bitfield integer operations on strings",
        "key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset value | INCRBY encoding offset increment> [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset value | INCRBY encoding offset increment> ...]]",
    ),
    CommandSpec::new("bitfield_ro", -2, READONLY | FAST, (1, 1, 1), bitfield_ro, "bitmap").doc(
        "6.0.0",
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        "key [GET encoding offset [GET encoding offset ...]]",
    ),
];

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// `getBitOffsetFromArgument`: a bit offset below proto-max-bulk-len bytes;
/// with `bits` > 0 (BITFIELD) `#n` means n * bits.
fn bit_offset(srv: &Server, arg: &[u8], bits: u32) -> Result<u64, CmdError> {
    let (hash, digits) = match arg.first() {
        Some(b'#') if bits > 0 => (true, &arg[1..]),
        _ => (false, arg),
    };
    let mut off = parse_i64(digits).ok_or(CmdError::Static(BAD_OFFSET))?;
    if hash {
        off = off.wrapping_mul(bits as i64);
    }
    if off < 0 || (off as u64 >> 3) >= srv.config.proto_max_bulk_len {
        return Err(CmdError::Static(BAD_OFFSET));
    }
    Ok(off as u64)
}

/// `lookupStringForBitCommand` + the write: runs `f` on the string of
/// `key`, created or zero-padded so that bit `maxbit` exists. Either way
/// the string is left raw (createObject / dbUnshareStringValue).
fn with_bits<R>(
    srv: &mut Server,
    db: usize,
    key: &[u8],
    maxbit: u64,
    f: impl FnOnce(&mut [u8]) -> R,
) -> Result<R, CmdError> {
    let need = (maxbit >> 3) as usize + 1;
    match srv.store.get_mut(db, key, Kind::String)? {
        Some(Value::Str(s)) => Ok(pad_bits(s, need, f)),
        _ => {
            let mut v = vec![0u8; need];
            let r = f(&mut v);
            srv.store.set(db, key, Value::Str(Sds::raw_from_vec(v)));
            Ok(r)
        }
    }
}

/// Runs `f` on `s` zero-padded to `need` bytes, and leaves it raw.
fn pad_bits<R>(s: &mut Sds, need: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    if need <= s.len() {
        // In place (an inline string stays inline).
        let r = f(s.bytes_mut());
        s.mark_raw();
        return r;
    }
    let mut v = s.make_vec();
    if need > v.capacity() {
        // A fresh zeroed buffer (calloc: untouched pages stay free) instead
        // of realloc + memset of the whole growth; greedy like
        // sdsMakeRoomFor so growing bit by bit is amortized.
        let mut grown = vec![0u8; crate::store::bytes::greedy_capacity(need)];
        grown.truncate(need);
        grown[..v.len()].copy_from_slice(&v);
        *v = grown;
    } else {
        v.resize(need, 0);
    }
    let r = f(&mut v);
    drop(v);
    s.mark_raw();
    r
}

/// A looked-up string for reading (None: missing key).
fn read_str<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a [u8]>, CmdError> {
    match srv.store.lookup_read(db, key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

fn setbit(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let off = bit_offset(srv, &args[2], 0)?;
    const BAD_BIT: &str = "ERR bit is not an integer or out of range";
    let on = parse_i64(&args[3]).ok_or(CmdError::Static(BAD_BIT))?;
    if on & !1 != 0 {
        return Err(CmdError::Static(BAD_BIT));
    }
    let byte = (off >> 3) as usize;
    let mask = 1u8 << (7 - (off & 7));
    // A bit that already has the value, inside the string, is no write
    // (no event, WATCH untouched, nothing propagated), as in Redis 7.0.15;
    // but Redis unshared the string first: it is raw now.
    if let Some(Value::Str(s)) = srv.store.get(c.db, &args[1])
        && let Some(b) = s.get(byte)
        && (b & mask != 0) == (on == 1)
    {
        srv.store.mark_raw(c.db, &args[1]);
        c.reply.int(on);
        return Ok(());
    }
    let old = with_bits(srv, c.db, &args[1], off, |v| {
        let old = v[byte] & mask != 0;
        if on == 1 {
            v[byte] |= mask;
        } else {
            v[byte] &= !mask;
        }
        old
    })?;
    c.reply.int(old as i64);
    Ok(())
}

fn getbit(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let off = bit_offset(srv, &args[2], 0)?;
    let byte = (off >> 3) as usize;
    let bit = read_str(srv, c.db, &args[1])?
        .and_then(|s| s.get(byte))
        .is_some_and(|b| b & (1 << (7 - (off & 7))) != 0);
    c.reply.int(bit as i64);
    Ok(())
}

/// Set bits in `p` (word at a time).
fn popcount(p: &[u8]) -> u64 {
    let mut chunks = p.chunks_exact(8);
    let mut n: u64 = 0;
    for w in &mut chunks {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        n += u64::from_ne_bytes(b).count_ones() as u64;
    }
    n + chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>()
}

/// The BYTE | BIT unit argument.
fn is_bit_unit(arg: &[u8]) -> Result<bool, CmdError> {
    if arg.eq_ignore_ascii_case(b"bit") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"byte") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Redis's range normalization: negative indexes from the end, clamped
/// to the string (in bits when `bit`). Returns (start, end) in the unit.
fn normalize(start: i64, end: i64, len: u64, bit: bool) -> (i64, i64) {
    let total = if bit { (len as i64) << 3 } else { len as i64 };
    let mut s = if start < 0 { total + start } else { start };
    let mut e = if end < 0 { total + end } else { end };
    s = s.max(0);
    e = e.max(0);
    if e >= total {
        e = total - 1;
    }
    (s, e)
}

fn bitcount(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let n = args.len();
    let Some(s) = read_str(srv, c.db, &args[1])? else {
        c.reply.int(0);
        return Ok(());
    };
    // Bit range [lo, hi] over the string.
    let (lo, hi) = match n {
        2 => (0i64, ((s.len() as i64) << 3) - 1),
        4 | 5 => {
            let start = parse_i64(&args[2]).ok_or(CmdError::NotInteger)?;
            let end = parse_i64(&args[3]).ok_or(CmdError::NotInteger)?;
            if start < 0 && end < 0 && start > end {
                c.reply.int(0);
                return Ok(());
            }
            let bit = if n == 5 {
                is_bit_unit(&args[4])?
            } else {
                false
            };
            let (s0, e0) = normalize(start, end, s.len() as u64, bit);
            if bit || s0 > e0 {
                // (An empty range stays empty; a huge start must not
                // overflow when turned into bits.)
                (s0, e0)
            } else {
                (s0 << 3, (e0 << 3) + 7)
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    if lo > hi {
        c.reply.int(0);
        return Ok(());
    }
    c.reply.int(count_bits(s, lo as u64, hi as u64) as i64);
    Ok(())
}

/// Set bits in the bit range [lo, hi] (inside `s`).
fn count_bits(s: &[u8], lo: u64, hi: u64) -> u64 {
    let (b0, b1) = ((lo >> 3) as usize, (hi >> 3) as usize);
    let mut n = popcount(&s[b0..=b1]);
    // Minus the bits of the edge bytes outside the range.
    n -= (s[b0] & !(0xffu8 >> (lo & 7))).count_ones() as u64;
    let after = 0xffu8.checked_shr((hi & 7) as u32 + 1).unwrap_or(0);
    n -= (s[b1] & after).count_ones() as u64;
    n
}

/// First bit equal to `bit` in the bit range [lo, hi] of `s`.
fn find_bit(s: &[u8], lo: u64, hi: u64, bit: bool) -> Option<u64> {
    let skip = if bit { 0u8 } else { 0xff };
    let mut i = lo;
    while i <= hi {
        let byte = (i >> 3) as usize;
        if i & 7 == 0 && i + 7 <= hi {
            // Whole bytes: skip runs that cannot match, a word at a time.
            let last = ((hi + 1) >> 3) as usize; // exclusive whole-byte end
            let mut b = byte;
            let wskip = if bit { 0u64 } else { u64::MAX };
            while b + 8 <= last {
                let mut w = [0u8; 8];
                w.copy_from_slice(&s[b..b + 8]);
                if u64::from_ne_bytes(w) != wskip {
                    break;
                }
                b += 8;
            }
            while b < last && s[b] == skip {
                b += 1;
            }
            if b > byte {
                i = (b as u64) << 3;
                continue;
            }
        }
        if ((s[byte] >> (7 - (i & 7))) & 1 == 1) == bit {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn bitpos(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let n = args.len();
    let bit = parse_i64(&args[2]).ok_or(CmdError::NotInteger)?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::Static("ERR The bit argument must be 1 or 0."));
    }
    let bit = bit == 1;
    let Some(s) = read_str(srv, c.db, &args[1])? else {
        c.reply.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let len = s.len() as u64;
    let mut end_given = false;
    let (lo, hi) = match n {
        3 => (0i64, ((len as i64) << 3) - 1),
        4..=6 => {
            let start = parse_i64(&args[3]).ok_or(CmdError::NotInteger)?;
            let unit_bit = if n == 6 {
                is_bit_unit(&args[5])?
            } else {
                false
            };
            let end = if n >= 5 {
                end_given = true;
                parse_i64(&args[4]).ok_or(CmdError::NotInteger)?
            } else {
                len as i64 - 1
            };
            let (s0, e0) = normalize(start, end, len, unit_bit);
            if unit_bit {
                (s0, e0)
            } else if s0 > e0 {
                (1, 0)
            } else {
                (s0 << 3, (e0 << 3) + 7)
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    if lo > hi {
        c.reply.int(-1);
        return Ok(());
    }
    let pos = match find_bit(s, lo as u64, hi as u64, bit) {
        Some(p) => p as i64,
        None if bit || end_given => -1,
        // Looking for a clear bit with no end: the string is padded with
        // zeroes on the right.
        None => ((hi as u64 >> 3) + 1) as i64 * 8,
    };
    c.reply.int(pos);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let name = &args[1];
    let op = if name.eq_ignore_ascii_case(b"and") {
        BitOp::And
    } else if name.eq_ignore_ascii_case(b"or") {
        BitOp::Or
    } else if name.eq_ignore_ascii_case(b"xor") {
        BitOp::Xor
    } else if name.eq_ignore_ascii_case(b"not") {
        BitOp::Not
    } else {
        return Err(CmdError::Syntax);
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::Static(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let db = c.db;
    let mut srcs: Vec<Option<Vec<u8>>> = Vec::with_capacity(args.len() - 3);
    for key in args.iter().skip(3) {
        srcs.push(read_str(srv, db, key)?.map(<[u8]>::to_vec));
    }
    let maxlen = srcs.iter().flatten().map(Vec::len).max().unwrap_or(0);
    let dest = &args[2];
    if maxlen == 0 {
        srv.store.delete(db, dest);
        c.reply.int(0);
        return Ok(());
    }
    let at =
        |s: &Option<Vec<u8>>, j: usize| s.as_ref().and_then(|v| v.get(j)).copied().unwrap_or(0);
    let mut res = match &srcs[0] {
        Some(v) => {
            let mut r = v.clone();
            r.resize(maxlen, 0);
            r
        }
        None => vec![0u8; maxlen],
    };
    match op {
        BitOp::Not => res.iter_mut().for_each(|b| *b = !*b),
        _ => {
            for s in &srcs[1..] {
                let len = s.as_ref().map_or(0, Vec::len);
                match op {
                    BitOp::And => {
                        for (j, r) in res.iter_mut().enumerate() {
                            *r &= if j < len { at(s, j) } else { 0 };
                        }
                    }
                    BitOp::Or => {
                        for (r, b) in res.iter_mut().zip(s.iter().flatten()) {
                            *r |= b;
                        }
                    }
                    BitOp::Xor => {
                        for (r, b) in res.iter_mut().zip(s.iter().flatten()) {
                            *r ^= b;
                        }
                    }
                    BitOp::Not => {}
                }
            }
        }
    }
    // createObject(OBJ_STRING, res): raw.
    srv.store.set(db, dest, Value::Str(Sds::raw_from_vec(res)));
    c.reply.int(maxlen as i64);
    Ok(())
}

// ---------------------------------------------------------------- BITFIELD

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set,
    Incr,
}

struct Field {
    op: FieldOp,
    offset: u64,
    value: i64,
    signed: bool,
    bits: u32,
    overflow: Overflow,
}

/// `getBitfieldTypeFromArgument`: i1..i64 or u1..u63.
fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    const ERR: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(CmdError::Static(ERR)),
    };
    // Redis reads the digits as a C string.
    let digits = &arg[1..];
    let digits = &digits[..memchr::memchr(0, digits).unwrap_or(digits.len())];
    match parse_i64(digits) {
        Some(b) if b >= 1 && ((signed && b <= 64) || (!signed && b <= 63)) => {
            Ok((signed, b as u32))
        }
        _ => Err(CmdError::Static(ERR)),
    }
}

fn get_unsigned(p: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for j in 0..bits as u64 {
        let o = offset + j;
        let byte = p[(o >> 3) as usize];
        v = (v << 1) | ((byte >> (7 - (o & 7))) & 1) as u64;
    }
    v
}

fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let mut v = get_unsigned(p, offset, bits) as i64;
    if bits < 64 && v & (1i64 << (bits - 1)) != 0 {
        v |= -1i64 << bits;
    }
    v
}

fn set_unsigned(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits as u64 {
        let bitval = (value >> (bits as u64 - 1 - j)) & 1;
        let o = offset + j;
        let byte = &mut p[(o >> 3) as usize];
        let bit = 7 - (o & 7);
        *byte &= !(1 << bit);
        *byte |= (bitval as u8) << bit;
    }
}

/// `checkSignedBitfieldOverflow`: Some(replacement) on overflow (None
/// with FAIL), the sign of the overflow aside.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<Option<i64>> {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    let high =
        value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr);
    let low = !high
        && (value < min
            || (bits != 64 && incr < minincr)
            || (value < 0 && incr < 0 && incr < minincr));
    if !high && !low {
        return None;
    }
    Some(match ow {
        Overflow::Wrap => Some(wrap()),
        Overflow::Sat => Some(if high { max } else { min }),
        Overflow::Fail => None,
    })
}

/// `checkUnsignedBitfieldOverflow`.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<Option<u64>> {
    let max: u64 = (1u64 << bits) - 1;
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let high = value > max || (incr > 0 && incr > maxincr);
    let low = !high && incr < 0 && incr < minincr;
    if !high && !low {
        return None;
    }
    Some(match ow {
        Overflow::Wrap => Some(value.wrapping_add(incr as u64) & !(u64::MAX << bits)),
        Overflow::Sat => Some(if high { max } else { 0 }),
        Overflow::Fail => None,
    })
}

fn bitfield(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    bitfield_generic(srv, c, args, false)
}

fn bitfield_ro(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    bitfield_generic(srv, c, args, true)
}

fn bitfield_generic(srv: &mut Server, c: &mut Client, args: &Args, ro: bool) -> CmdResult {
    let n = args.len();
    let mut ops: Vec<Field> = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut readonly = true;
    let mut highest = 0u64;
    let mut j = 2;
    while j < n {
        let rem = n - j - 1;
        let sub = &args[j];
        let is = |w: &[u8]| sub.eq_ignore_ascii_case(w);
        let op = if is(b"get") && rem >= 2 {
            FieldOp::Get
        } else if is(b"set") && rem >= 3 {
            FieldOp::Set
        } else if is(b"incrby") && rem >= 3 {
            FieldOp::Incr
        } else if is(b"overflow") && rem >= 1 {
            let t = &args[j + 1];
            overflow = if t.eq_ignore_ascii_case(b"wrap") {
                Overflow::Wrap
            } else if t.eq_ignore_ascii_case(b"sat") {
                Overflow::Sat
            } else if t.eq_ignore_ascii_case(b"fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::Static("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = field_type(&args[j + 1])?;
        let offset = bit_offset(srv, &args[j + 2], bits)?;
        let mut value = 0;
        if op != FieldOp::Get {
            readonly = false;
            highest = highest.max(offset + bits as u64 - 1);
            value = parse_i64(&args[j + 3]).ok_or(CmdError::NotInteger)?;
        }
        ops.push(Field {
            op,
            offset,
            value,
            signed,
            bits,
            overflow,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    let db = c.db;
    if readonly {
        let s = read_str(srv, db, &args[1])?.unwrap_or(&[]);
        c.reply.array(ops.len());
        for f in &ops {
            reply_get(c, s, f);
        }
        return Ok(());
    }
    if ro {
        return Err(CmdError::Static(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    // Run the ops against an overlay of changed bytes first: the key is
    // written (WATCH, AOF, event) only if a field changes or it must grow.
    let (grow, replies, overlay, changes) = {
        let need = (highest >> 3) as usize + 1;
        let (base, grow): (&[u8], bool) = match srv.store.get(db, &args[1]) {
            None => (&[], true),
            Some(Value::Str(s)) => (s, s.len() < need),
            Some(_) => return Err(CmdError::WrongType),
        };
        let mut ov = Overlay {
            base,
            over: Vec::new(),
        };
        let mut replies = Vec::with_capacity(ops.len());
        let mut changes = 0usize;
        for f in &ops {
            if f.op == FieldOp::Get {
                replies.push(Some(ov.get_field(f.offset, f.bits, f.signed)));
                continue;
            }
            let old = ov.get_field(f.offset, f.bits, f.signed);
            let new_ret = if f.signed {
                let (new, ret) = if f.op == FieldOp::Incr {
                    match signed_overflow(old, f.value, f.bits, f.overflow) {
                        None => (Some(old.wrapping_add(f.value)), None),
                        Some(w) => (w, None),
                    }
                } else {
                    match signed_overflow(f.value, 0, f.bits, f.overflow) {
                        None => (Some(f.value), Some(old)),
                        Some(w) => (w, Some(old)),
                    }
                };
                new.map(|n| (n as u64, ret.unwrap_or(n)))
            } else {
                let old = old as u64;
                let (new, ret) = if f.op == FieldOp::Incr {
                    match unsigned_overflow(old, f.value, f.bits, f.overflow) {
                        None => (Some(old.wrapping_add(f.value as u64)), None),
                        Some(w) => (w, None),
                    }
                } else {
                    match unsigned_overflow(f.value as u64, 0, f.bits, f.overflow) {
                        None => (Some(f.value as u64), Some(old as i64)),
                        Some(w) => (w, Some(old as i64)),
                    }
                };
                new.map(|n| (n, ret.unwrap_or(n as i64)))
            };
            match new_ret {
                Some((new, ret)) => {
                    replies.push(Some(ret));
                    let mask = if f.bits == 64 {
                        u64::MAX
                    } else {
                        (1u64 << f.bits) - 1
                    };
                    if grow || (old as u64 & mask) != (new & mask) {
                        changes += 1;
                    }
                    ov.set_field(f.offset, f.bits, new);
                }
                // OVERFLOW FAIL: nothing written, a null reply.
                None => replies.push(None),
            }
        }
        (grow, replies, ov.over, changes)
    };
    if changes > 0 {
        with_bits(srv, db, &args[1], highest, |p| {
            // In write order, so the last write of a byte wins.
            for &(i, b) in &overlay {
                p[i] = b;
            }
        })?;
    } else if grow {
        // No field changed (every write failed), but Redis's
        // lookupStringForBitCommand created or padded the string: no write
        // (nothing propagated, WATCH untouched, only a new key announced).
        let need = (highest >> 3) as usize + 1;
        match srv.store.get_mut_unsignalled(db, &args[1]) {
            Some(Value::Str(s)) => pad_bits(s, need, |_| ()),
            _ => {
                let v = Sds::raw_from_vec(vec![0u8; need]);
                srv.store.add_unsignalled(db, &args[1], Value::Str(v));
            }
        }
    } else {
        // No write, but Redis's lookupStringForBitCommand unshared the
        // (existing: else `grow`) string: raw.
        srv.store.mark_raw(db, &args[1]);
    }
    c.reply.array(replies.len());
    for r in replies {
        match r {
            Some(v) => c.reply.int(v),
            None => c.reply.null(),
        }
    }
    Ok(())
}

/// A string seen through the bytes BITFIELD's ops changed so far (a few
/// per op: a list searched from the newest write is enough).
struct Overlay<'a> {
    base: &'a [u8],
    over: Vec<(usize, u8)>,
}

impl Overlay<'_> {
    fn byte(&self, i: usize) -> u8 {
        match self.over.iter().rev().find(|(at, _)| *at == i) {
            Some((_, b)) => *b,
            None => self.base.get(i).copied().unwrap_or(0),
        }
    }

    fn get_field(&self, offset: u64, bits: u32, signed: bool) -> i64 {
        let first = (offset >> 3) as usize;
        let mut buf = [0u8; 9];
        for (k, b) in buf.iter_mut().enumerate() {
            *b = self.byte(first + k);
        }
        let off = offset & 7;
        if signed {
            get_signed(&buf, off, bits)
        } else {
            get_unsigned(&buf, off, bits) as i64
        }
    }

    fn set_field(&mut self, offset: u64, bits: u32, value: u64) {
        let first = (offset >> 3) as usize;
        let mut buf = [0u8; 9];
        for (k, b) in buf.iter_mut().enumerate() {
            *b = self.byte(first + k);
        }
        set_unsigned(&mut buf, offset & 7, bits, value);
        let touched = ((offset & 7) + bits as u64).div_ceil(8) as usize;
        for (k, b) in buf.iter().enumerate().take(touched) {
            self.over.push((first + k, *b));
        }
    }
}

/// A GET of BITFIELD reads up to 9 bytes copied from the string, zero
/// padded past its end.
fn field_get(s: &[u8], f: &Field) -> i64 {
    let byte = (f.offset >> 3) as usize;
    let mut buf = [0u8; 9];
    for (i, b) in buf.iter_mut().enumerate() {
        match s.get(byte + i) {
            Some(v) if byte + i < s.len() => *b = *v,
            _ => break,
        }
    }
    let off = f.offset - (byte as u64) * 8;
    if f.signed {
        get_signed(&buf, off, f.bits)
    } else {
        get_unsigned(&buf, off, f.bits) as i64
    }
}

fn reply_get(c: &mut Client, s: &[u8], f: &Field) {
    c.reply.int(field_get(s, f));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_bits_matches_a_naive_count() {
        let s: Vec<u8> = (0..37u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let naive = |lo: u64, hi: u64| {
            (lo..=hi)
                .filter(|&i| (s[(i >> 3) as usize] >> (7 - (i & 7))) & 1 == 1)
                .count() as u64
        };
        for lo in 0..(s.len() as u64 * 8) {
            for hi in lo..(s.len() as u64 * 8) {
                assert_eq!(count_bits(&s, lo, hi), naive(lo, hi), "{lo}..{hi}");
            }
        }
    }

    #[test]
    fn find_bit_matches_a_naive_scan() {
        let mut s = vec![0u8; 40];
        s[33] = 0x10;
        let mut t = vec![0xffu8; 40];
        t[17] = 0xfe;
        for (buf, bit) in [(&s, true), (&t, false)] {
            for lo in (0..320u64).step_by(3) {
                for hi in (lo..320u64).step_by(5) {
                    let naive = (lo..=hi)
                        .find(|&i| ((buf[(i >> 3) as usize] >> (7 - (i & 7))) & 1 == 1) == bit);
                    assert_eq!(find_bit(buf, lo, hi, bit), naive, "{lo}..{hi}");
                }
            }
        }
    }

    #[test]
    fn bitfield_overflow_rules() {
        // i8: 127 + 1 wraps to -128, saturates at 127, fails.
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), Some(Some(-128)));
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Sat), Some(Some(127)));
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Fail), Some(None));
        assert_eq!(
            signed_overflow(-128, -1, 8, Overflow::Sat),
            Some(Some(-128))
        );
        assert_eq!(signed_overflow(5, 1, 8, Overflow::Wrap), None);
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            Some(Some(i64::MIN))
        );
        assert_eq!(unsigned_overflow(255, 1, 8, Overflow::Wrap), Some(Some(0)));
        assert_eq!(unsigned_overflow(0, -1, 8, Overflow::Sat), Some(Some(0)));
        assert_eq!(unsigned_overflow(0, -1, 8, Overflow::Wrap), Some(Some(255)));
        let mut p = [0u8; 9];
        set_unsigned(&mut p, 3, 64, 0x8000_0000_0000_0001);
        assert_eq!(get_unsigned(&p, 3, 64), 0x8000_0000_0000_0001);
        assert_eq!(get_signed(&p, 3, 4), -8);
    }
}
