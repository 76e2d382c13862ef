//! The packed blobs inside RDB values: listpack (read and write), ziplist,
//! zipmap and intset (read; Redis 7.0 writes none of them). Every reader
//! checks the blob's own header, every entry's bounds and the terminator,
//! and fails with `None` on anything inconsistent - a damaged blob never
//! reads past its end.

use crate::number::parse_i64;

/// One element of a packed blob.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Entry<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Entry<'_> {
    /// The element as bytes (integers in decimal, as Redis prints them).
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Entry::Str(s) => s.to_vec(),
            Entry::Int(v) => v.to_string().into_bytes(),
        }
    }

    /// The element as a score (strings with strtod's grammar).
    pub fn to_f64(self) -> Option<f64> {
        match self {
            Entry::Int(v) => Some(v as f64),
            Entry::Str(s) => crate::number::parse_f64(s).filter(|d| !d.is_nan()),
        }
    }
}

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |acc, &x| acc << 8 | x as u64)
}

/// Sign-extends the low `bits` bits of `v`.
fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

// ---------------------------------------------------------------- listpack

const LP_HDR: usize = 6;
const LP_EOF: u8 = 0xFF;

/// Bytes the back-length of an entry of `l` bytes takes.
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// The back-length of an entry of `l` bytes, and how many bytes of it.
fn backlen(l: usize) -> ([u8; 5], usize) {
    let n = backlen_size(l);
    let mut b = [0u8; 5];
    // Most significant 7-bit group first; every byte but the first has the
    // high bit set (the blob is walked backwards from the last byte).
    for (k, i) in (0..n).rev().enumerate() {
        let group = ((l >> (7 * i)) & 127) as u8;
        b[k] = if i == n - 1 { group } else { group | 128 };
    }
    (b, n)
}

fn push_backlen(out: &mut Vec<u8>, l: usize) {
    let (b, n) = backlen(l);
    out.extend_from_slice(&b[..n]);
}

/// A listpack being built.
#[derive(Debug)]
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        ListpackWriter {
            buf: vec![0; LP_HDR],
            count: 0,
        }
    }
}

impl ListpackWriter {
    /// An empty listpack with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        let mut buf = Vec::with_capacity(n.max(LP_HDR + 1));
        buf.resize(LP_HDR, 0);
        ListpackWriter { buf, count: 0 }
    }

    /// Bytes so far (header included, terminator not).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Appends an element; strings that are canonical integers are stored
    /// as integers, as Redis's `lpAppend` does.
    pub fn push(&mut self, s: &[u8]) {
        match parse_i64(s) {
            Some(v) if s.len() <= 20 => self.push_int(v),
            _ => self.push_str(s),
        }
    }

    pub fn push_int(&mut self, v: i64) {
        // Built on the stack and appended at once: this is the hot loop of
        // a big list's DUMP / DEBUG OBJECT.
        let mut e = [0u8; 10];
        let l = if (0..=127).contains(&v) {
            e[0] = v as u8;
            1
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1fff;
            e[0] = 0xC0 | (u >> 8) as u8;
            e[1] = u as u8;
            2
        } else if (-32768..=32767).contains(&v) {
            e[0] = 0xF1;
            e[1..3].copy_from_slice(&(v as i16).to_le_bytes());
            3
        } else if (-8_388_608..=8_388_607).contains(&v) {
            e[0] = 0xF2;
            e[1..4].copy_from_slice(&(v as i32).to_le_bytes()[..3]);
            4
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            e[0] = 0xF3;
            e[1..5].copy_from_slice(&(v as i32).to_le_bytes());
            5
        } else {
            e[0] = 0xF4;
            e[1..9].copy_from_slice(&v.to_le_bytes());
            9
        };
        // The back-length of an entry under 128 bytes is its length.
        e[l] = l as u8;
        // Fixed-size copies (a variable one is a memcpy call).
        match l {
            1 => self.buf.extend_from_slice(&e[..2]),
            2 => self.buf.extend_from_slice(&e[..3]),
            3 => self.buf.extend_from_slice(&e[..4]),
            4 => self.buf.extend_from_slice(&e[..5]),
            5 => self.buf.extend_from_slice(&e[..6]),
            _ => self.buf.extend_from_slice(&e[..10]),
        }
        self.count += 1;
    }

    pub fn push_str(&mut self, s: &[u8]) {
        let n = s.len();
        if n < 64 {
            // One header byte, and a one-byte back-length (at most 64).
            self.buf.reserve(n + 2);
            self.buf.push(0x80 | n as u8);
            if n <= 16 {
                // Byte by byte: short elements are the common case, and a
                // variable-length copy is a memcpy call.
                self.buf.extend(s.iter().copied());
            } else {
                self.buf.extend_from_slice(s);
            }
            self.buf.push(n as u8 + 1);
            self.count += 1;
            return;
        }
        let start = self.buf.len();
        let b = &mut self.buf;
        if n < 4096 {
            b.push(0xE0 | (n >> 8) as u8);
            b.push(n as u8);
        } else {
            b.push(0xF0);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        let l = b.len() - start;
        push_backlen(b, l);
        self.count += 1;
    }

    /// Appends every element of `other` (elements are self-contained, so
    /// their bytes move as they are).
    pub fn append(&mut self, other: ListpackWriter) {
        self.buf.extend_from_slice(&other.buf[LP_HDR..]);
        self.count += other.count;
    }

    /// The finished blob: header (total bytes, element count or 65535 when
    /// it does not fit) and terminator.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(LP_EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = if self.count < 65535 {
            self.count as u16
        } else {
            65535
        };
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// The elements of a listpack, validated (header, entries, back-lengths,
/// count, terminator).
pub fn listpack_entries(lp: &[u8]) -> Option<Vec<Entry<'_>>> {
    if lp.len() < LP_HDR + 1 || le(&lp[0..4]) != lp.len() as u64 {
        return None;
    }
    let count = le(&lp[4..6]) as usize;
    let mut out = Vec::with_capacity(count.min(lp.len()));
    let mut p = LP_HDR;
    loop {
        let b = *lp.get(p)?;
        if b == LP_EOF {
            break;
        }
        let (entry, size) = if b & 0x80 == 0 {
            (Entry::Int((b & 0x7f) as i64), 1)
        } else if b & 0xC0 == 0x80 {
            let n = (b & 0x3f) as usize;
            (Entry::Str(lp.get(p + 1..p + 1 + n)?), 1 + n)
        } else if b & 0xE0 == 0xC0 {
            let u = ((b & 0x1f) as u64) << 8 | *lp.get(p + 1)? as u64;
            (Entry::Int(sign_extend(u, 13)), 2)
        } else if b & 0xF0 == 0xE0 {
            let n = ((b & 0x0f) as usize) << 8 | *lp.get(p + 1)? as usize;
            (Entry::Str(lp.get(p + 2..p + 2 + n)?), 2 + n)
        } else {
            match b {
                0xF0 => {
                    let n = le(lp.get(p + 1..p + 5)?) as usize;
                    let end = (p + 5).checked_add(n)?;
                    (Entry::Str(lp.get(p + 5..end)?), 5 + n)
                }
                0xF1 => (Entry::Int(sign_extend(le(lp.get(p + 1..p + 3)?), 16)), 3),
                0xF2 => (Entry::Int(sign_extend(le(lp.get(p + 1..p + 4)?), 24)), 4),
                0xF3 => (Entry::Int(sign_extend(le(lp.get(p + 1..p + 5)?), 32)), 5),
                0xF4 => (Entry::Int(le(lp.get(p + 1..p + 9)?) as i64), 9),
                _ => return None,
            }
        };
        // Checked without allocating: this runs once per element.
        let (expect, n) = backlen(size);
        if lp.get(p + size..p + size + n)? != &expect[..n] {
            return None;
        }
        p += size + n;
        out.push(entry);
    }
    if p != lp.len() - 1 || (count != 65535 && count != out.len()) {
        return None;
    }
    Some(out)
}

// ----------------------------------------------------------------- ziplist

/// The elements of a ziplist (Redis < 7), validated (header, prevlen
/// chain, encodings, count, terminator).
pub fn ziplist_entries(zl: &[u8]) -> Option<Vec<Entry<'_>>> {
    const HDR: usize = 10;
    if zl.len() < HDR + 1 || le(&zl[0..4]) != zl.len() as u64 {
        return None;
    }
    let tail = le(&zl[4..8]) as usize;
    let count = le(&zl[8..10]) as usize;
    let mut out = Vec::with_capacity(count.min(zl.len()));
    let (mut p, mut prev_size, mut last) = (HDR, 0usize, HDR);
    loop {
        let b = *zl.get(p)?;
        if b == 0xFF {
            break;
        }
        last = p;
        let start = p;
        let prevlen = if b < 254 {
            p += 1;
            b as usize
        } else if b == 254 {
            let v = le(zl.get(p + 1..p + 5)?) as usize;
            p += 5;
            v
        } else {
            return None;
        };
        if prevlen != prev_size {
            return None;
        }
        let e = *zl.get(p)?;
        let (entry, size) = match e >> 6 {
            0 => {
                let n = (e & 0x3f) as usize;
                (Entry::Str(zl.get(p + 1..p + 1 + n)?), 1 + n)
            }
            1 => {
                let n = ((e & 0x3f) as usize) << 8 | *zl.get(p + 1)? as usize;
                (Entry::Str(zl.get(p + 2..p + 2 + n)?), 2 + n)
            }
            2 => {
                if e != 0x80 {
                    return None;
                }
                let l = zl.get(p + 1..p + 5)?;
                let n = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                let end = (p + 5).checked_add(n)?;
                (Entry::Str(zl.get(p + 5..end)?), 5 + n)
            }
            _ => match e {
                0xC0 => (Entry::Int(sign_extend(le(zl.get(p + 1..p + 3)?), 16)), 3),
                0xD0 => (Entry::Int(sign_extend(le(zl.get(p + 1..p + 5)?), 32)), 5),
                0xE0 => (Entry::Int(le(zl.get(p + 1..p + 9)?) as i64), 9),
                0xF0 => (Entry::Int(sign_extend(le(zl.get(p + 1..p + 4)?), 24)), 4),
                0xFE => (Entry::Int(*zl.get(p + 1)? as i8 as i64), 2),
                0xF1..=0xFD => (Entry::Int((e & 0x0f) as i64 - 1), 1),
                _ => return None,
            },
        };
        p += size;
        prev_size = p - start;
        out.push(entry);
    }
    let tail_ok = if out.is_empty() {
        tail == HDR
    } else {
        tail == last
    };
    if p != zl.len() - 1 || !tail_ok || (count != 65535 && count != out.len()) {
        return None;
    }
    Some(out)
}

// ------------------------------------------------------------------ zipmap

/// The field/value pairs of a zipmap (Redis < 2.6 hashes), flattened.
pub fn zipmap_entries(zm: &[u8]) -> Option<Vec<Entry<'_>>> {
    let mut out = Vec::new();
    let mut p = 1; // zmlen: a hint only
    let read_len = |p: &mut usize| -> Option<usize> {
        let b = *zm.get(*p)?;
        if b < 254 {
            *p += 1;
            Some(b as usize)
        } else if b == 254 {
            let v = le(zm.get(*p + 1..*p + 5)?) as usize;
            *p += 5;
            Some(v)
        } else {
            None
        }
    };
    loop {
        if *zm.get(p)? == 0xFF {
            break;
        }
        let klen = read_len(&mut p)?;
        let key = zm.get(p..p.checked_add(klen)?)?;
        p += klen;
        let vlen = read_len(&mut p)?;
        let free = *zm.get(p)? as usize;
        p += 1;
        let val = zm.get(p..p.checked_add(vlen)?)?;
        p += vlen + free;
        out.push(Entry::Str(key));
        out.push(Entry::Str(val));
    }
    (p == zm.len() - 1).then_some(out)
}

// ------------------------------------------------------------------ intset

/// The members of an intset blob, checked to be strictly increasing.
pub fn intset_members(is: &[u8]) -> Option<Vec<i64>> {
    if is.len() < 8 {
        return None;
    }
    let width = le(&is[0..4]) as usize;
    let len = le(&is[4..8]) as usize;
    if !matches!(width, 2 | 4 | 8) || len.checked_mul(width)?.checked_add(8)? != is.len() {
        return None;
    }
    let mut out: Vec<i64> = Vec::with_capacity(len);
    for c in is[8..].chunks_exact(width) {
        let v = sign_extend(le(c), 8 * width as u32);
        if out.last().is_some_and(|&l| l >= v) {
            return None;
        }
        out.push(v);
    }
    Some(out)
}

/// An intset blob of sorted, distinct members, at the narrowest width.
pub fn intset_blob(members: impl Iterator<Item = i64> + Clone) -> Vec<u8> {
    let width = members.clone().fold(2usize, |w, v| {
        let need = if i16::try_from(v).is_ok() {
            2
        } else if i32::try_from(v).is_ok() {
            4
        } else {
            8
        };
        w.max(need)
    });
    let len = members.clone().count();
    let mut out = Vec::with_capacity(8 + width * len);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    for v in members {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trip_every_encoding() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -4097,
            32767,
            -32768,
            32768,
            8_388_607,
            -8_388_608,
            8_388_608,
            i32::MAX as i64,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i64::MAX,
            i64::MIN,
        ];
        let strs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"hello".to_vec(),
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 4096],
            vec![b'v'; 70000],
            b"007".to_vec(),
            b"-0".to_vec(),
        ];
        let mut w = ListpackWriter::default();
        for v in ints {
            w.push(v.to_string().as_bytes());
        }
        for s in &strs {
            w.push(s);
        }
        let blob = w.finish();
        let got = listpack_entries(&blob).expect("valid");
        let mut want: Vec<Entry> = ints.iter().map(|&v| Entry::Int(v)).collect();
        want.extend(strs.iter().map(|s| Entry::Str(&s[..])));
        assert_eq!(got, want);
    }

    #[test]
    fn listpack_known_bytes() {
        // What Redis builds for RPUSH l a 1 -> listpack: 81 61 02 | 01 01 | ff.
        let mut w = ListpackWriter::default();
        w.push(b"a");
        w.push(b"1");
        let blob = w.finish();
        assert_eq!(blob, [0x0c, 0, 0, 0, 2, 0, 0x81, b'a', 2, 1, 1, 0xff]);
    }

    #[test]
    fn listpack_damage_is_refused() {
        let mut w = ListpackWriter::default();
        for s in [&b"abc"[..], b"12345678", b"-5"] {
            w.push(s);
        }
        let blob = w.finish();
        for i in 0..blob.len() {
            for delta in [1u8, 0x80, 0xff] {
                let mut d = blob.clone();
                d[i] = d[i].wrapping_add(delta);
                // Never panics; most single-byte damage is caught.
                let _ = listpack_entries(&d);
            }
            assert!(listpack_entries(&blob[..i]).is_none());
        }
    }

    #[test]
    fn ziplist_decodes() {
        // A ziplist with "a", 5 (4-bit immediate), 300 (int16), "bb".
        let mut zl = vec![0u8; 10];
        let mut prev = 0usize;
        let entries: Vec<Vec<u8>> = vec![
            vec![0x01, b'a'],
            vec![0xF6],
            vec![0xC0, 0x2c, 0x01],
            vec![0x02, b'b', b'b'],
        ];
        let mut last = 10;
        for e in entries {
            last = zl.len();
            let start = zl.len();
            zl.push(prev as u8);
            zl.extend_from_slice(&e);
            prev = zl.len() - start;
        }
        zl.push(0xFF);
        let n = zl.len() as u32;
        zl[0..4].copy_from_slice(&n.to_le_bytes());
        zl[4..8].copy_from_slice(&(last as u32).to_le_bytes());
        zl[8..10].copy_from_slice(&4u16.to_le_bytes());
        assert_eq!(
            ziplist_entries(&zl).expect("valid"),
            vec![
                Entry::Str(b"a"),
                Entry::Int(5),
                Entry::Int(300),
                Entry::Str(b"bb")
            ]
        );
        for i in 0..zl.len() {
            assert!(ziplist_entries(&zl[..i]).is_none());
        }
    }

    #[test]
    fn intset_round_trip() {
        let m = [-70000i64, -3, 0, 5, 1 << 40];
        let blob = intset_blob(m.iter().copied());
        assert_eq!(&blob[0..4], &8u32.to_le_bytes());
        assert_eq!(intset_members(&blob).expect("valid"), m);
        let small = intset_blob([1i64, 2].iter().copied());
        assert_eq!(small, [2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0]);
        assert!(intset_members(&intset_blob([2i64, 1].iter().copied())).is_none());
    }

    #[test]
    fn zipmap_decodes() {
        let zm = [1u8, 1, b'f', 1, 1, b'v', b'x', 0xFF];
        assert_eq!(
            zipmap_entries(&zm).expect("valid"),
            vec![Entry::Str(b"f"), Entry::Str(b"v")]
        );
        assert!(zipmap_entries(&zm[..6]).is_none());
    }
}
