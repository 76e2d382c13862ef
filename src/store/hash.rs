//! The hash value: Redis 7.0's two encodings and the one-way conversion
//! between them.
//!
//! While a hash has at most `hash-max-listpack-entries` fields and every
//! field and value is at most `hash-max-listpack-value` bytes, it is a
//! [`Pack`]: fields and values alternating in one exactly sized buffer
//! (the entry codec of `store::pack`, shared with packed lists), in
//! insertion order like Redis's listpack; lookups are linear scans, as in
//! Redis. Beyond the limits it is a hash table ([`fields::Table`]: one slot
//! per field holding field and value together, O(1) random access for
//! HRANDFIELD and HSCAN's cursor, `store::scan`).
//! A hash converts exactly where Redis converts (a field or value too
//! long, one field too many) and never back: only fresh hashes start packed.
//!
//! Deleting from a pack keeps the order (the bytes after close the gap);
//! a table uses `swap_remove`, which only moves entries to lower indices
//! and so keeps HSCAN's guarantee.

pub mod fields;

use std::ops::Range;

use super::buf::{CountedBytes, PACK_MAX_BYTES};
use super::pack::{LONG_STR, entry_len, entry_size, read_entry, splice, write_entry};
pub use fields::Table;

/// The listpack limits (`hash-max-listpack-entries` / `-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

/// Redis 7.0.15's defaults (512 fields, 64 bytes).
pub const DEFAULT_LIMITS: Limits = Limits {
    entries: 512,
    value: 64,
};

impl Default for Limits {
    fn default() -> Self {
        DEFAULT_LIMITS
    }
}

/// A hash value (16 bytes: `Value` stays 24 without boxing it).
#[derive(Clone, Debug)]
pub enum Hash {
    Pack(Pack),
    Table(Box<Table>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Pack(Pack::default())
    }
}

/// The packed encoding: `count` (field, value) pairs as 2 x `count`
/// entries back to back. An empty pack has no allocation.
///
/// Entries are front coded against an anchor: fields against the last
/// field written whole before them, values likewise against the last whole
/// value (fields of one hash share prefixes - `user:name`, `user:email` -,
/// and so do many values: timestamps, ids, URLs). An entry's first byte:
///
/// | first byte  | entry                                                   |
/// |-------------|---------------------------------------------------------|
/// | `0x00-0x7f` | anchor: a string of that many bytes, bytes follow        |
/// | `0xff`      | anchor of 128 bytes or more: LEB128 length, bytes        |
/// | `0x80-0xfd` | `0x80 + n`, then `p`: the anchor's first `p` bytes       |
/// |             | (0-255) and `n` more (0-125) that follow                 |
/// | `0xfe`      | then `p`, then the rest as a string entry of 126 bytes   |
/// |             | or more (`store::pack::write_entry`)                     |
///
/// (Every short entry's size is in its first byte: a scan skips values
/// without reading further.)
///
/// So an entry is at most two slices of the buffer ([`Parts`]) and nothing
/// is rebuilt to read it; a lookup compares the needle with the anchor's
/// prefix once per anchor. Appends take a prefix of 2 bytes or more, else
/// write an anchor (so a hash whose entries share nothing costs what it did
/// unpacked: 1 byte + the string). A changed value that is not an anchor is
/// re-coded against its anchor (`p` may be 0 there: it must not become an
/// anchor); a changed anchor stays in place when it keeps the prefix its
/// dependents read, and a removal splices the pair out unless it takes
/// away an anchor something reads: else the pack is re-coded whole.
#[derive(Clone, Debug, Default)]
pub struct Pack {
    /// The entries; `buf.count` is the number of pairs. One 16-byte field,
    /// so that `Hash` is 16 bytes and `Value` 24.
    buf: CountedBytes,
}

/// First byte of an entry coded against its anchor: `DEP + n` (`n` <=
/// `MAX_SHORT` bytes after the prefix), or `DEP_LONG`.
const DEP: u8 = 0x80;
const DEP_LONG: u8 = 0xfe;
const MAX_SHORT: usize = (DEP_LONG - DEP - 1) as usize;
/// The longest shared prefix an entry records (one byte).
const MAX_PREFIX: usize = 255;
/// A prefix saves bytes from 2 on (the prefix byte costs one).
const MIN_PREFIX: usize = 2;

/// A string held as two slices (an anchor's prefix and the rest); the
/// head is empty for an anchor and for table entries.
#[derive(Clone, Copy, Debug, Default)]
pub struct Parts<'a> {
    pub head: &'a [u8],
    pub tail: &'a [u8],
}

impl<'a> From<&'a [u8]> for Parts<'a> {
    #[inline]
    fn from(b: &'a [u8]) -> Parts<'a> {
        Parts { head: &[], tail: b }
    }
}

impl<'a> Parts<'a> {
    #[inline]
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        v.extend_from_slice(self.head);
        v.extend_from_slice(self.tail);
        v
    }

    /// The bytes in one slice: `tail` when `head` is empty, else joined in
    /// `scratch`.
    #[inline]
    pub fn join<'s>(&self, scratch: &'s mut Vec<u8>) -> &'s [u8]
    where
        'a: 's,
    {
        if self.head.is_empty() {
            return self.tail;
        }
        scratch.clear();
        scratch.extend_from_slice(self.head);
        scratch.extend_from_slice(self.tail);
        scratch
    }

    /// The bytes in one slice: borrowed when they are one already.
    pub fn cow(&self) -> std::borrow::Cow<'a, [u8]> {
        if self.head.is_empty() {
            std::borrow::Cow::Borrowed(self.tail)
        } else {
            std::borrow::Cow::Owned(self.to_vec())
        }
    }

    /// The bytes from `n` on.
    #[inline]
    fn skip(&self, n: usize) -> Parts<'a> {
        if n <= self.head.len() {
            Parts {
                head: &self.head[n..],
                tail: self.tail,
            }
        } else {
            Parts {
                head: &[],
                tail: &self.tail[n - self.head.len()..],
            }
        }
    }

    /// Bytes shared at the start with `a`.
    fn common_prefix(&self, a: &[u8]) -> usize {
        let h = lcp(self.head, a);
        if h < self.head.len() {
            return h;
        }
        h + lcp(self.tail, &a[h..])
    }
}

impl PartialEq<[u8]> for Parts<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.len() == other.len()
            && *self.head == other[..self.head.len()]
            && *self.tail == other[self.head.len()..]
    }
}

impl PartialEq<&[u8]> for Parts<'_> {
    fn eq(&self, other: &&[u8]) -> bool {
        *self == **other
    }
}

impl PartialEq for Parts<'_> {
    fn eq(&self, other: &Parts<'_>) -> bool {
        self.len() == other.len() && self.to_vec() == other.to_vec()
    }
}

/// Length of the common prefix of `a` and `b`.
#[inline]
fn lcp(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// One decoded entry.
struct Ent<'a> {
    val: Parts<'a>,
    /// Encoded size.
    size: usize,
    /// Prefix taken from the anchor; None for an anchor.
    prefix: Option<usize>,
}

/// Decodes the entry at the start of `buf` against `anchor`.
#[inline(always)]
fn read<'a>(buf: &'a [u8], anchor: &'a [u8]) -> Ent<'a> {
    let b0 = buf[0];
    if b0 < DEP {
        let e = &buf[..1 + b0 as usize];
        return Ent {
            val: Parts::from(&e[1..]),
            size: e.len(),
            prefix: None,
        };
    }
    if b0 < DEP_LONG {
        let e = &buf[..2 + (b0 - DEP) as usize];
        let p = e[1] as usize;
        return Ent {
            val: Parts {
                head: &anchor[..p],
                tail: &e[2..],
            },
            size: e.len(),
            prefix: Some(p),
        };
    }
    read_long(buf, anchor)
}

/// `read` of an entry with a long string.
#[inline(never)]
fn read_long<'a>(buf: &'a [u8], anchor: &'a [u8]) -> Ent<'a> {
    if buf[0] == LONG_STR {
        let (s, size) = read_entry(buf);
        return Ent {
            val: Parts::from(s),
            size,
            prefix: None,
        };
    }
    let p = buf[1] as usize;
    let (s, size) = read_entry(&buf[2..]);
    Ent {
        val: Parts {
            head: &anchor[..p],
            tail: s,
        },
        size: 2 + size,
        prefix: Some(p),
    }
}

/// Encoded size of the entry at the start of `buf`, and its prefix (None
/// for an anchor).
#[inline(always)]
fn size_of_entry(buf: &[u8]) -> (usize, Option<usize>) {
    match buf[0] {
        b0 @ 0..DEP => (1 + b0 as usize, None),
        b0 @ DEP..DEP_LONG => (2 + (b0 - DEP) as usize, Some(buf[1] as usize)),
        DEP_LONG => (2 + entry_size(&buf[2..]), Some(buf[1] as usize)),
        _ => (entry_size(buf), None),
    }
}

/// The prefix to code `s` with against `anchor` (None: as an anchor).
#[inline]
fn choose(anchor: &[u8], s: &[u8]) -> Option<usize> {
    let q = lcp(anchor, s).min(MAX_PREFIX);
    (q >= MIN_PREFIX).then_some(q)
}

/// Encoded size of `len` bytes coded with `prefix`.
#[inline]
fn coded_len(prefix: Option<usize>, len: usize) -> usize {
    match prefix {
        Some(p) if len - p <= MAX_SHORT => 2 + len - p,
        Some(p) => 2 + entry_len(len - p),
        None => entry_len(len),
    }
}

/// Writes `s` coded with `prefix` at the start of `out`; returns the size.
#[inline]
fn write_coded(out: &mut [u8], prefix: Option<usize>, s: &[u8]) -> usize {
    let Some(p) = prefix else {
        return write_entry(out, s);
    };
    let rest = &s[p..];
    out[1] = p as u8;
    if rest.len() <= MAX_SHORT {
        out[0] = DEP + rest.len() as u8;
        out[2..2 + rest.len()].copy_from_slice(rest);
        2 + rest.len()
    } else {
        out[0] = DEP_LONG;
        2 + write_entry(&mut out[2..], rest)
    }
}

/// Appends a string entry's length header (`write_entry`'s format).
fn push_header(out: &mut Vec<u8>, mut n: usize) {
    if n >= 0x80 {
        out.push(LONG_STR);
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
    }
    out.push(n as u8);
}

/// Codes pairs into a new buffer (the greedy rule of appends).
#[derive(Default)]
struct Writer {
    out: Vec<u8>,
    /// The anchors' bytes in `out`: field, value.
    anchors: [Range<usize>; 2],
}

impl Writer {
    fn push(&mut self, s: Parts<'_>, kind: usize) {
        let a = self.anchors[kind].clone();
        let q = s.common_prefix(&self.out[a]).min(MAX_PREFIX);
        if q >= MIN_PREFIX {
            let rest = s.skip(q);
            if rest.len() <= MAX_SHORT {
                self.out
                    .extend_from_slice(&[DEP + rest.len() as u8, q as u8]);
            } else {
                self.out.extend_from_slice(&[DEP_LONG, q as u8]);
                push_header(&mut self.out, rest.len());
            }
            self.out.extend_from_slice(rest.head);
            self.out.extend_from_slice(rest.tail);
        } else {
            push_header(&mut self.out, s.len());
            let start = self.out.len();
            self.out.extend_from_slice(s.head);
            self.out.extend_from_slice(s.tail);
            self.anchors[kind] = start..self.out.len();
        }
    }

    fn pair(&mut self, f: Parts<'_>, v: Parts<'_>) {
        self.push(f, 0);
        self.push(v, 1);
    }
}

/// Where a field sits in a pack (offsets into its buffer).
struct Found {
    /// Offset of the field's entry, and whether it is an anchor.
    at: usize,
    field_anchor: bool,
    /// Offset and encoded size of the value's entry.
    val_at: usize,
    val_size: usize,
    /// The value anchor in effect before the value's entry.
    va: Range<usize>,
}

/// The result of a scan: the field's place, or the anchors in effect at
/// the end (where a new pair goes).
enum Scan {
    Hit(Found),
    Miss { fa: Range<usize>, va: Range<usize> },
}

/// Offset range of `s` inside `buf` (`s` borrowed from it).
#[inline]
fn range_in(buf: &[u8], s: &[u8]) -> Range<usize> {
    let start = s.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + s.len()
}

impl Pack {
    fn iter(&self) -> PackIter<'_> {
        PackIter {
            buf: &self.buf,
            left: self.buf.count as usize,
            anchors: [&[], &[]],
        }
    }

    /// Calls `f` with each pair in order (what HGETALL and friends take:
    /// a tighter loop than the iterator's).
    #[inline]
    fn for_each(&self, mut f: impl FnMut(Parts<'_>, Parts<'_>)) {
        let buf = &self.buf[..];
        let (mut fa, mut va): (&[u8], &[u8]) = (&[], &[]);
        let mut off = 0;
        while off < buf.len() {
            let fe = read(&buf[off..], fa);
            if fe.prefix.is_none() {
                fa = fe.val.tail;
            }
            off += fe.size;
            let ve = read(&buf[off..], va);
            if ve.prefix.is_none() {
                va = ve.val.tail;
            }
            off += ve.size;
            f(fe.val, ve.val);
        }
    }

    /// The hot path of HGET/HSET on a small hash: a linear scan (as Redis's
    /// listpack), which reads only the lengths of the entries it skips and
    /// compares a field's last byte before its bytes (fields of one hash
    /// tend to share a prefix, not an ending). A field coded against its
    /// anchor matches when the needle shares the anchor's first `p` bytes
    /// (`m`, the needle's common prefix with the anchor, is counted once
    /// per anchor, when first needed) and ends with the entry's bytes.
    ///
    /// `hit` gets the field's offset, its entry's size, whether it is an
    /// anchor and the value anchor before its value; `miss` the anchors in
    /// effect at the end.
    #[inline(always)]
    fn walk<R>(
        &self,
        field: &[u8],
        hit: impl FnOnce(usize, usize, bool, Range<usize>) -> R,
        miss: impl FnOnce(Range<usize>, Range<usize>) -> R,
    ) -> R {
        let buf = &self.buf[..];
        let n = field.len();
        let last = field.last().copied().unwrap_or(0);
        // The anchors in effect as offset ranges (cheaper to carry than
        // slices: nothing is sliced until a length matches); `m`: the
        // needle's common prefix with the field anchor.
        let (mut fa, mut va) = (0..0, 0..0);
        let mut m = usize::MAX;
        let mut off = 0;
        while off < buf.len() {
            let b0 = buf[off];
            // (The entry sliced once: its bytes are read without further
            // bounds checks.)
            let fsize = if b0 < DEP {
                let flen = b0 as usize;
                let e = &buf[off..off + 1 + flen];
                // (For n = 0 the "last byte" read is the length byte, 0.)
                if flen == n && e[flen] == last && e[1..] == *field {
                    return hit(off, e.len(), true, va);
                }
                fa = off + 1..off + e.len();
                m = usize::MAX;
                e.len()
            } else if b0 < DEP_LONG {
                // Coded against the anchor, a short rest: the usual case.
                let slen = (b0 - DEP) as usize;
                let e = &buf[off..off + 2 + slen];
                let p = e[1] as usize;
                if p + slen == n && (slen == 0 || e[1 + slen] == last) && e[2..] == field[p..] && {
                    if m == usize::MAX {
                        m = lcp(&buf[fa.clone()], field);
                    }
                    p <= m
                } {
                    return hit(off, e.len(), false, va);
                }
                e.len()
            } else {
                let e = read_long(&buf[off..], &buf[fa.clone()]);
                let found = match e.prefix {
                    None => {
                        fa = range_in(buf, e.val.tail);
                        m = usize::MAX;
                        e.val.tail == field
                    }
                    Some(p) => {
                        e.val.len() == n && *e.val.tail == field[p..] && {
                            if m == usize::MAX {
                                m = lcp(&buf[fa.clone()], field);
                            }
                            p <= m
                        }
                    }
                };
                if found {
                    return hit(off, e.size, e.prefix.is_none(), va);
                }
                e.size
            };
            let val_at = off + fsize;
            let v0 = buf[val_at];
            off = val_at
                + if v0 < DEP {
                    va = val_at + 1..val_at + 1 + v0 as usize;
                    1 + v0 as usize
                } else if v0 < DEP_LONG {
                    2 + (v0 - DEP) as usize
                } else {
                    let e = read_long(&buf[val_at..], &buf[va.clone()]);
                    if e.prefix.is_none() {
                        va = range_in(buf, e.val.tail);
                    }
                    e.size
                };
        }
        miss(fa, va)
    }

    /// Where `field` is (see `walk`).
    #[inline]
    fn scan(&self, field: &[u8]) -> Scan {
        self.walk(
            field,
            |at, fsize, anchor, va| self.hit(at, fsize, anchor, va),
            |fa, va| Scan::Miss { fa, va },
        )
    }

    /// The scan's answer for the field at `at` (`fsize` bytes); `va`: the
    /// value anchor before its value.
    #[inline]
    fn hit(&self, at: usize, fsize: usize, field_anchor: bool, va: Range<usize>) -> Scan {
        let val_at = at + fsize;
        Scan::Hit(Found {
            at,
            field_anchor,
            val_at,
            val_size: size_of_entry(&self.buf[val_at..]).0,
            va,
        })
    }

    /// The value of a found field.
    #[inline]
    fn value(&self, f: &Found) -> Parts<'_> {
        let buf = &self.buf[..];
        read(&buf[f.val_at..], &buf[f.va.clone()]).val
    }

    #[inline]
    fn get(&self, field: &[u8]) -> Option<Parts<'_>> {
        self.walk(
            field,
            |at, fsize, _, va| {
                let buf = &self.buf[..];
                Some(read(&buf[at + fsize..], &buf[va]).val)
            },
            |_, _| None,
        )
    }

    /// Whether an entry from `off` (a field's entry) on reads more than
    /// `keep[kind]` bytes of the anchor of its kind (0 fields, 1 values) in
    /// effect there; None: that kind is not asked about. Each kind is
    /// followed only up to its next anchor, and the walk stops at the first
    /// entry that reads more (a changed value anchor stops where the next
    /// value anchor is, even when every later field hangs on the first).
    fn reads_past(&self, mut off: usize, mut keep: [Option<usize>; 2]) -> bool {
        let buf = &self.buf[..];
        let mut kind = 0;
        while off < buf.len() && keep != [None, None] {
            let (size, prefix) = size_of_entry(&buf[off..]);
            if let Some(k) = keep[kind] {
                match prefix {
                    None => keep[kind] = None,
                    Some(p) if p > k => return true,
                    Some(_) => {}
                }
            }
            off += size;
            kind ^= 1;
        }
        false
    }

    /// Codes the pairs again, the pair at `skip` left out and the value of
    /// the pair at `replace` (field offsets) changed; false (nothing done)
    /// when the result would pass `PACK_MAX_BYTES` (re-coding can lose
    /// sharing an in-place anchor update kept: up to 255 bytes an entry).
    #[must_use]
    fn recode(&mut self, skip: Option<usize>, replace: Option<(usize, &[u8])>) -> bool {
        let mut w = Writer {
            out: Vec::with_capacity(self.buf.len() + replace.map_or(0, |r| r.1.len())),
            ..Writer::default()
        };
        let mut count = 0u32;
        let total = self.buf.len();
        let mut it = self.iter();
        loop {
            let off = total - it.buf.len();
            let Some((f, v)) = it.next() else { break };
            if skip == Some(off) {
                continue;
            }
            match replace {
                Some((at, nv)) if at == off => w.pair(f, Parts::from(nv)),
                _ => w.pair(f, v),
            }
            if w.out.len() > PACK_MAX_BYTES {
                return false;
            }
            count += 1;
        }
        self.buf = CountedBytes::with_count(w.out.into_boxed_slice(), count);
        true
    }

    /// Sets a field (limits already checked); true if it is new, None
    /// (nothing done) if the pack must become a table first.
    fn set(&mut self, field: &[u8], value: &[u8]) -> Option<bool> {
        let found = match self.scan(field) {
            Scan::Hit(f) => f,
            Scan::Miss { fa, va } => {
                let fp = choose(&self.buf[fa], field);
                let vp = choose(&self.buf[va], value);
                let (fs, vs) = (coded_len(fp, field.len()), coded_len(vp, value.len()));
                let off = self.buf.len();
                let slot = splice(&mut self.buf, off, 0, fs + vs);
                let n = write_coded(slot, fp, field);
                write_coded(&mut slot[n..], vp, value);
                self.buf.count += 1;
                return Some(true);
            }
        };
        // In place, like lpReplace: the order does not change.
        let (at, size) = (found.val_at, found.val_size);
        let prefix = if matches!(self.buf[at], 0..DEP | LONG_STR) {
            // An anchor: kept if its dependents still read the same bytes.
            // (No dependent reads more than the old value's length or
            // MAX_PREFIX: when the new value keeps that much, no walk.)
            let old = self.value(&found);
            let keep = old.common_prefix(value);
            if keep < old.len().min(MAX_PREFIX) && self.reads_past(at + size, [None, Some(keep)]) {
                return self.recode(None, Some((found.at, value))).then_some(false);
            }
            None
        } else {
            // Coded against the same anchor (p 0 allowed: it must not turn
            // into an anchor).
            Some(lcp(&self.buf[found.va.clone()], value).min(MAX_PREFIX))
        };
        let new = coded_len(prefix, value.len());
        write_coded(splice(&mut self.buf, at, size, new), prefix, value);
        Some(false)
    }

    /// Removes a field: true if it was there, None (nothing done) if the
    /// pack must become a table first.
    fn remove(&mut self, field: &[u8]) -> Option<bool> {
        let Scan::Hit(f) = self.scan(field) else {
            return Some(false);
        };
        let end = f.val_at + f.val_size;
        let value_anchor = size_of_entry(&self.buf[f.val_at..]).1.is_none();
        // Only a kind whose anchor goes is followed (any prefix read from
        // it forces the re-coding).
        let keep = [f.field_anchor.then_some(0), value_anchor.then_some(0)];
        if keep != [None, None] && self.reads_past(end, keep) {
            return self.recode(Some(f.at), None).then_some(true);
        }
        splice(&mut self.buf, f.at, end - f.at, 0);
        self.buf.count -= 1;
        Some(true)
    }
}

/// The pairs of a pack in order.
pub struct PackIter<'a> {
    buf: &'a [u8],
    left: usize,
    /// The field and value anchors in effect.
    anchors: [&'a [u8]; 2],
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (Parts<'a>, Parts<'a>);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let f = read(self.buf, self.anchors[0]);
        if f.prefix.is_none() {
            self.anchors[0] = f.val.tail;
        }
        let v = read(&self.buf[f.size..], self.anchors[1]);
        if v.prefix.is_none() {
            self.anchors[1] = v.val.tail;
        }
        self.buf = &self.buf[f.size + v.size..];
        Some((f.val, v.val))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// A hash's (field, value) pairs in its order.
pub enum Iter<'a> {
    Pack(PackIter<'a>),
    Table(fields::Iter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (Parts<'a>, Parts<'a>);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Pack(p) => p.next(),
            Iter::Table(t) => t.next().map(|(f, v)| (f.into(), v.into())),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Pack(p) => p.size_hint(),
            Iter::Table(t) => t.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl Hash {
    /// A hash of `pairs` in the encoding Redis's RDB loading gives it
    /// under `lim`; None if a field repeats.
    pub fn from_pairs<'a>(
        pairs: impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])> + Clone,
        lim: &Limits,
    ) -> Option<Hash> {
        let n = pairs.len();
        let fits = n <= lim.entries
            && n < u32::MAX as usize
            && pairs
                .clone()
                .all(|(f, v)| f.len() <= lim.value && v.len() <= lim.value)
            // Redis's lpSafeToAdd: a listpack stays below 1 GiB.
            && pairs
                .clone()
                .map(|(f, v)| entry_len(f.len()) + entry_len(v.len()))
                .fold(0usize, usize::saturating_add)
                <= PACK_MAX_BYTES;
        if !fits {
            let mut t = Table::with_capacity(n);
            for (f, v) in pairs {
                t.push(fields::Entry::new(f, v)).ok()?;
            }
            return Some(Hash::Table(Box::new(t)));
        }
        let mut seen = std::collections::HashSet::with_capacity(n);
        let mut w = Writer::default();
        for (f, v) in pairs {
            if !seen.insert(f) {
                return None;
            }
            w.pair(f.into(), v.into());
        }
        Some(Hash::Pack(Pack {
            buf: CountedBytes::with_count(w.out.into_boxed_slice(), n as u32),
        }))
    }

    #[inline]
    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(p) => p.buf.count as usize,
            Hash::Table(t) => t.len(),
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True for the listpack encoding.
    #[inline]
    pub fn is_packed(&self) -> bool {
        matches!(self, Hash::Pack(_))
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    #[inline]
    pub fn get(&self, field: &[u8]) -> Option<Parts<'_>> {
        match self {
            Hash::Pack(p) => p.get(field),
            Hash::Table(t) => t.get(field).map(Parts::from),
        }
    }

    #[inline]
    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => matches!(p.scan(field), Scan::Hit(_)),
            Hash::Table(t) => t.contains(field),
        }
    }

    /// Sets `field` to `value`; true if the field is new. Converts like
    /// Redis's `hashTypeSet`: before, when the field or value is too long
    /// for a listpack; after, when the pack has one field too many.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: &Limits) -> bool {
        if let Hash::Pack(p) = self {
            // (The count is a u32: a pack that full converts whatever the
            // configured limit; and as lpSafeToAdd, a pack stays below
            // 1 GiB, so its u32 length holds.)
            if field.len() <= lim.value
                && value.len() <= lim.value
                && p.buf.count < u32::MAX
                // (+ 2: a changed value may take a prefix byte of 0.)
                && p.buf.len() + entry_len(field.len()) + entry_len(value.len()) + 2
                    <= PACK_MAX_BYTES
                // (None: a re-coding too big for a pack; nothing changed.)
                && let Some(created) = p.set(field, value)
            {
                if p.buf.count as usize > lim.entries {
                    self.convert();
                }
                return created;
            }
            self.convert();
        }
        match self {
            Hash::Table(t) => t.set(field, value),
            Hash::Pack(_) => false,
        }
    }

    /// Removes `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        if let Hash::Pack(p) = self {
            if let Some(removed) = p.remove(field) {
                return removed;
            }
            self.convert();
        }
        match self {
            Hash::Table(t) => t.remove(field),
            Hash::Pack(_) => false,
        }
    }

    /// Turns a pack into a table (order kept), with room for one more.
    fn convert(&mut self) {
        if let Hash::Pack(p) = self {
            let mut t = Table::with_capacity(p.buf.count as usize + 1);
            let (mut fb, mut vb) = (Vec::new(), Vec::new());
            for (f, v) in p.iter() {
                // (A pack's fields are distinct.)
                let _ = t.push(fields::Entry::new(f.join(&mut fb), v.join(&mut vb)));
            }
            *self = Hash::Table(Box::new(t));
        }
    }

    /// The pairs in order (insertion order for a pack).
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Pack(p) => Iter::Pack(p.iter()),
            Hash::Table(t) => Iter::Table(t.iter()),
        }
    }

    /// Calls `f` with each pair in order (cheaper than [`Hash::iter`] on a
    /// pack).
    #[inline]
    pub fn for_each(&self, mut f: impl FnMut(Parts<'_>, Parts<'_>)) {
        match self {
            Hash::Pack(p) => p.for_each(f),
            Hash::Table(t) => t.iter().for_each(|(k, v)| f(k.into(), v.into())),
        }
    }

    /// The pair at position `i`: O(1) in a table, O(i) in a pack (take
    /// [`Hash::iter`] for many).
    pub fn get_index(&self, i: usize) -> Option<(Parts<'_>, Parts<'_>)> {
        match self {
            Hash::Pack(p) => p.iter().nth(i),
            Hash::Table(t) => t.get_index(i).map(|(f, v)| (f.into(), v.into())),
        }
    }

    /// The table of a hash-table encoded hash.
    #[inline]
    pub fn table(&self) -> Option<&Table> {
        match self {
            Hash::Table(t) => Some(t),
            Hash::Pack(_) => None,
        }
    }

    #[inline]
    pub fn table_mut(&mut self) -> Option<&mut Table> {
        match self {
            Hash::Table(t) => Some(t),
            Hash::Pack(_) => None,
        }
    }

    /// Bytes of the pack's buffer (the listpack's own size in Redis).
    pub fn pack_bytes(&self) -> Option<usize> {
        match self {
            Hash::Pack(p) => Some(p.buf.len()),
            Hash::Table(_) => None,
        }
    }

    /// Gives back a table's memory after many deletions (Redis resizes a
    /// dict below 10% fill).
    pub fn maybe_shrink(&mut self) {
        if let Hash::Table(t) = self {
            t.maybe_shrink();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::xorshift;

    fn pairs(h: &Hash) -> Vec<(Vec<u8>, Vec<u8>)> {
        h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()
    }

    #[test]
    fn value_stays_small() {
        assert_eq!(std::mem::size_of::<Hash>(), 16);
    }

    /// With limits that allow any size, a pack still converts before
    /// `PACK_MAX_BYTES` (4096 in tests; 1 GiB, Redis's lpSafeToAdd, in
    /// the server), by HSET and when built from pairs.
    #[test]
    fn pack_converts_before_its_byte_limit() {
        let lim = Limits {
            entries: usize::MAX,
            value: usize::MAX,
        };
        // (Values that share no prefix: front coding leaves them whole.)
        let value = |i: usize| -> Vec<u8> { (0..300).map(|j| (i * 7 + j) as u8).collect() };
        let mut h = Hash::default();
        let mut n = 0;
        while h.is_packed() {
            let Hash::Pack(p) = &h else { unreachable!() };
            assert!(p.buf.len() <= PACK_MAX_BYTES);
            h.set(format!("f{n}").as_bytes(), &value(n), &lim);
            n += 1;
        }
        assert!((12..=14).contains(&n), "{n} fields");
        assert_eq!(h.len(), n);
        let fields: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
        let values: Vec<Vec<u8>> = (0..n).map(value).collect();
        let pairs: Vec<(&[u8], &[u8])> = fields
            .iter()
            .zip(&values)
            .map(|(f, v)| (f.as_bytes(), &v[..]))
            .collect();
        let packed = Hash::from_pairs(pairs.iter().copied(), &lim).expect("distinct");
        assert!(!packed.is_packed());
        assert_eq!(packed.len(), n);
    }

    #[test]
    fn pack_keeps_insertion_order_and_converts_one_way() {
        let lim = Limits {
            entries: 3,
            value: 8,
        };
        let mut h = Hash::default();
        assert!(h.set(b"a", b"1", &lim) && h.set(b"b", b"2", &lim) && h.set(b"c", b"3", &lim));
        assert!(!h.set(b"a", b"long-ish", &lim));
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.get(b"a").map(|v| v.to_vec()), Some(b"long-ish".to_vec()));
        assert!(h.remove(b"b") && !h.remove(b"b"));
        assert_eq!(
            pairs(&h),
            vec![
                (b"a".to_vec(), b"long-ish".to_vec()),
                (b"c".to_vec(), b"3".to_vec())
            ]
        );
        let (f, v) = h.get_index(1).expect("two pairs");
        assert!(f == b"c"[..] && v == b"3"[..]);
        h.set(b"d", b"4", &lim);
        assert!(h.set(b"e", b"5", &lim));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 4);
        for f in [&b"a"[..], b"c", b"d"] {
            assert!(h.remove(f));
        }
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::default();
        assert!(h.set(b"f", &[b'v'; 9], &lim));
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::default();
        h.set(
            b"f",
            b"v",
            &Limits {
                entries: 0,
                value: 64,
            },
        );
        assert_eq!(h.encoding(), "hashtable");
    }

    /// Sets `f` in an ordered (field, value) model: the old value, None
    /// if `f` is new (appended).
    pub(super) fn model_set(
        model: &mut Vec<(Vec<u8>, Vec<u8>)>,
        f: Vec<u8>,
        v: Vec<u8>,
    ) -> Option<Vec<u8>> {
        match model.iter_mut().find(|(k, _)| *k == f) {
            Some(e) => Some(std::mem::replace(&mut e.1, v)),
            None => {
                model.push((f, v));
                None
            }
        }
    }

    /// Sets `f` to `v` (`set`) or removes it in both `h` and the model,
    /// checking the answers agree.
    fn model_step(
        h: &mut Hash,
        model: &mut Vec<(Vec<u8>, Vec<u8>)>,
        set: bool,
        f: Vec<u8>,
        v: Vec<u8>,
        lim: &Limits,
    ) {
        if set {
            let created = h.set(&f, &v, lim);
            assert_eq!(created, model_set(model, f, v).is_none());
        } else {
            let pos = model.iter().position(|(k, _)| *k == f);
            assert_eq!(h.remove(&f), pos.is_some());
            if let Some(p) = pos {
                model.remove(p);
            }
        }
    }

    #[test]
    fn pack_matches_a_model_under_random_ops() {
        let lim = Limits {
            entries: 1000,
            value: 300,
        };
        let mut h = Hash::default();
        let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut x = 88172645463325252u64;
        for _ in 0..4000 {
            let x = xorshift(&mut x);
            let f = format!("f{}", x % 60).into_bytes();
            // 60 fields stay under the tests' PACK_MAX_BYTES.
            let v = vec![b'v'; (x >> 20) as usize % 50];
            model_step(&mut h, &mut model, !x.is_multiple_of(3), f, v, &lim);
        }
        assert!(h.is_packed());
        assert_eq!(pairs(&h), model);
        let again = Hash::from_pairs(model.iter().map(|(f, v)| (&f[..], &v[..])), &lim);
        assert_eq!(pairs(&again.unwrap()), model);
        let dup = [(&b"a"[..], &b"1"[..]), (&b"a"[..], &b"2"[..])];
        assert!(Hash::from_pairs(dup.iter().copied(), &lim).is_none());
        assert!(Hash::from_pairs(dup.iter().copied(), &Limits::default()).is_none());
        let big = Hash::from_pairs(
            dup[..1].iter().copied(),
            &Limits {
                entries: 0,
                value: 64,
            },
        );
        assert_eq!(big.unwrap().encoding(), "hashtable");
    }

    /// The pack's bytes (to check the coding itself).
    fn bytes(h: &Hash) -> Vec<u8> {
        let Hash::Pack(p) = h else { panic!("packed") };
        p.buf.to_vec()
    }

    /// Fields and values sharing a prefix with their anchor are coded as
    /// `DEP + n`, `p` and the `n` bytes after the prefix; a lookup never matches an entry through a
    /// prefix the needle does not share.
    #[test]
    fn front_coding_shares_prefixes() {
        let lim = Limits::default();
        let mut h = Hash::default();
        for i in 0..3 {
            h.set(
                format!("field:{i}").as_bytes(),
                format!("value:12:{i}").as_bytes(),
                &lim,
            );
        }
        let mut want = vec![7u8];
        want.extend_from_slice(b"field:0");
        want.push(10);
        want.extend_from_slice(b"value:12:0");
        for i in 1..3u8 {
            want.extend_from_slice(&[DEP + 1, 6, b'0' + i, DEP + 1, 9, b'0' + i]);
        }
        assert_eq!(bytes(&h), want);
        assert_eq!(
            h.get(b"field:2").map(|v| v.to_vec()),
            Some(b"value:12:2".to_vec())
        );
        // Same suffix and length, another prefix.
        for miss in [
            &b"fielX:2"[..],
            b"xield:2",
            b"field:",
            b"field:22",
            b"2",
            b"",
        ] {
            assert!(h.get(miss).is_none(), "{miss:?}");
        }
        // One byte in common: an anchor.
        h.set(b"fx", b"vx", &lim);
        assert_eq!(&bytes(&h)[want.len()..], b"\x02fx\x02vx");
        // Under a new anchor, the old one's prefix is not read.
        assert!(h.get(b"field:1").is_some() && h.get(b"fxeld:1").is_none());
        h.set(b"fxeld:1", b"v", &lim);
        assert_eq!(h.get(b"fxeld:1").map(|v| v.to_vec()), Some(b"v".to_vec()));
    }

    /// A changed value anchor stays in place while it keeps the prefix its
    /// dependents read (the common prefix with the old value is enough),
    /// else the pack is re-coded as from scratch; removals re-code only
    /// when an anchor something reads goes.
    #[test]
    fn anchor_changes_recode_only_when_read() {
        let lim = Limits::default();
        let mut model = Vec::new();
        let mut h = Hash::default();
        for i in 0..4u8 {
            let (f, v) = (format!("field:{i}"), format!("170000000{i}"));
            h.set(f.as_bytes(), v.as_bytes(), &lim);
            model.push((f.into_bytes(), v.into_bytes()));
        }
        let from_scratch = |m: &Vec<(Vec<u8>, Vec<u8>)>| {
            bytes(&Hash::from_pairs(m.iter().map(|(f, v)| (&f[..], &v[..])), &lim).unwrap())
        };
        let before = bytes(&h);
        // Keeps the 9 bytes the other values read: one byte changes.
        h.set(b"field:0", b"1700000009", &lim);
        let after = bytes(&h);
        assert_eq!(after.len(), before.len());
        assert_eq!(after.iter().zip(&before).filter(|(a, b)| a != b).count(), 1);
        // Keeps 5: re-coded.
        h.set(b"field:0", b"17000", &lim);
        model[0].1 = b"17000".to_vec();
        assert_eq!(pairs(&h), model);
        assert_eq!(bytes(&h), from_scratch(&model));
        // Neither entry an anchor: spliced out; both: re-coded.
        for (f, at) in [(&b"field:2"[..], 2), (b"field:0", 0)] {
            assert!(h.remove(f));
            model.remove(at);
            assert_eq!(pairs(&h), model);
        }
        assert_eq!(bytes(&h), from_scratch(&model));
    }

    /// A removal that re-codes the pack converts it instead when the new
    /// coding would pass `PACK_MAX_BYTES` (4 KiB in tests): an anchor
    /// updated in place shares less with what follows than the one removed.
    #[test]
    fn recoding_past_the_byte_limit_converts() {
        let lim = Limits {
            entries: 1000,
            value: 300,
        };
        let long = format!("b{}", "y".repeat(250));
        let mut h = Hash::default();
        h.set(b"f0", b"a", &lim);
        h.set(b"f1", long.as_bytes(), &lim);
        for i in 2..22 {
            h.set(
                format!("f{i}").as_bytes(),
                format!("{long}k{i}").as_bytes(),
                &lim,
            );
        }
        // In place: nothing reads f0's value.
        h.set(b"f0", b"byyyyy", &lim);
        assert!(h.is_packed() && bytes(&h).len() < 1000);
        assert!(h.remove(b"f1"));
        assert!(!h.is_packed());
        assert_eq!(h.len(), 21);
        assert_eq!(h.get(b"f0").map(|v| v.to_vec()), Some(b"byyyyy".to_vec()));
        assert_eq!(
            h.get(b"f7").map(|v| v.to_vec()),
            Some(format!("{long}k7").into_bytes())
        );
    }

    /// Random HSET / HDEL on prefix-heavy fields and values (prefix 0,
    /// whole-field prefixes, anchors changed and deleted, long values)
    /// match an ordered model, and the pack codes as it would from scratch
    /// or at least as small.
    #[test]
    fn front_coding_matches_a_model() {
        let lim = Limits {
            entries: 1000,
            value: 300,
        };
        let words: [&[u8]; 8] = [
            b"",
            b"a",
            b"ab",
            b"abc",
            b"abcd",
            b"user:",
            b"user:name",
            b"x",
        ];
        let mut x = 0x9E3779B97F4A7C15u64;
        let mut packed = 0;
        for round in 0..40 {
            let mut h = Hash::default();
            let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for _ in 0..300 {
                let r = xorshift(&mut x);
                let pick = |s: u64| -> Vec<u8> {
                    let mut v = words[(s % 8) as usize].to_vec();
                    match (s >> 3) % 16 {
                        0..=3 => {}
                        4..=8 => v.push(b'0' + (s >> 5) as u8 % 4),
                        9..=14 => v.extend_from_slice(format!("{}", (s >> 5) % 3).as_bytes()),
                        // Long: rests past 125 bytes, 128-byte headers.
                        _ => v.extend(std::iter::repeat_n(b'z', 120 + (s >> 5) as usize % 20)),
                    }
                    v
                };
                let f = pick(r >> 8);
                let v = pick(r >> 24);
                model_step(&mut h, &mut model, !r.is_multiple_of(4), f, v, &lim);
                assert_eq!(h.len(), model.len());
                for (k, v) in &model {
                    assert!(h.get(k).is_some_and(|g| g == v[..]), "round {round}");
                }
            }
            assert_eq!(pairs(&h), model);
            if !h.is_packed() {
                // (Past the tests' 4 KiB PACK_MAX_BYTES.)
                continue;
            }
            packed += 1;
            let again =
                Hash::from_pairs(model.iter().map(|(f, v)| (&f[..], &v[..])), &lim).unwrap();
            assert_eq!(pairs(&again), model);
            assert!(bytes(&h).len() <= bytes(&again).len() + model.len() * 2);
            let plain: usize = model
                .iter()
                .map(|(f, v)| entry_len(f.len()) + entry_len(v.len()))
                .sum();
            assert!(bytes(&again).len() <= plain);
        }
        assert!(packed >= 30, "{packed} rounds stayed packed");
    }
}
