//! List values: a compact packed encoding for small lists (like Redis's
//! listpack) and a deque of elements for everything else.
//!
//! **Packed** (`Packed`): one exactly-sized heap buffer of entries, each a
//! LEB128 length followed by the element's bytes, plus an element count. A
//! list of ten 2-byte elements costs 30 bytes of heap instead of a deque
//! buffer of 16 x 32-byte slots. The buffer is reallocated to its exact size
//! on every change (glibc realloc mostly resizes in place), so there is no
//! spare capacity. Access by index, popping at the tail and inserting are
//! O(n) scans/memmoves, which the limits below keep small.
//!
//! **Deque** (`Deque`): a `VecDeque` of [`Key`]s (24 bytes, inline up to 22
//! bytes) with O(1) pushes and pops at both ends and O(1) indexing, plus the
//! total element bytes so the repack test below is O(1).
//!
//! **Limits.** A list is packed while it has at most [`PACKED_MAX_LEN`] (128)
//! elements and the buffer is at most [`PACKED_MAX_BYTES`] (8 KB, Redis's
//! default `list-max-listpack-size -2` node size). The count limit bounds
//! the O(n) index scans (LINDEX/LSET/RPOP walk at most 128 entries); the
//! byte limit bounds the memmove of a head push. Any change that would
//! exceed a limit converts the list to a deque first.
//!
//! **Back to packed.** After a removal leaves a deque at half the limits or
//! less (<= 64 elements and <= 4 KB encoded), it is packed again (as Redis
//! 7.2 does with its quicklist). The gap between the two thresholds makes
//! conversions amortized O(1): between a repack and the next unpack at
//! least 64 elements or 4 KB of new data must arrive. A large deque that
//! shrinks to a quarter of its capacity gives back half of it.
//!
//! The encoding is invisible to commands: every operation has the same
//! result in both forms, and OBJECT ENCODING reports `quicklist` for both
//! (Redis 7.0 has no listpack lists).

use std::collections::VecDeque;
use std::collections::vec_deque;

use super::bytes::Key;
use super::pack::{entry_len, read_entry, splice, write_entry};

/// Most elements a packed list holds.
pub const PACKED_MAX_LEN: usize = 128;
/// Largest packed buffer, in bytes (headers included).
pub const PACKED_MAX_BYTES: usize = 8192;
/// A deque is repacked when a removal leaves it at most this long...
const REPACK_LEN: usize = PACKED_MAX_LEN / 2;
/// ...and at most this many encoded bytes.
const REPACK_BYTES: usize = PACKED_MAX_BYTES / 2;
/// A deque with at least this capacity shrinks when a quarter full.
const SHRINK_MIN_CAP: usize = 256;

/// A list value (see the module docs for the two encodings).
#[derive(Clone, Default)]
pub struct List {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Packed(Packed),
    /// Boxed so that a `List` (and so a `Value`) stays small.
    Deque(Box<Deque>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed(Packed::default())
    }
}

#[derive(Clone, Default)]
struct Packed {
    /// Entries back to back, exactly sized.
    buf: Box<[u8]>,
    /// Number of entries (<= PACKED_MAX_LEN).
    count: u32,
}

#[derive(Clone)]
struct Deque {
    items: VecDeque<Key>,
    /// Sum of the element lengths (for the O(1) repack test).
    bytes: usize,
}

impl Packed {
    fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            left: self.count as usize,
        }
    }

    /// Byte offset of entry `i` (`count` gives the end of the buffer).
    fn offset(&self, i: usize) -> usize {
        let mut off = 0;
        for _ in 0..i {
            off += read_entry(&self.buf[off..]).1;
        }
        off
    }

    /// True if `n` more elements taking `bytes` encoded bytes stay within
    /// the packed limits.
    #[inline]
    fn fits(&self, n: usize, bytes: usize) -> bool {
        (self.count as usize).saturating_add(n) <= PACKED_MAX_LEN
            && self.buf.len().saturating_add(bytes) <= PACKED_MAX_BYTES
    }

    /// Replaces the `old` bytes at `off` by `new` bytes (`pack::splice`).
    #[inline]
    fn splice(&mut self, off: usize, old: usize, new: usize) -> &mut [u8] {
        splice(&mut self.buf, off, old, new)
    }

    fn pop(&mut self, left: bool) -> Option<Key> {
        if self.count == 0 {
            return None;
        }
        let off = if left {
            0
        } else {
            self.offset(self.count as usize - 1)
        };
        let (e, size) = read_entry(&self.buf[off..]);
        let k = Key::new(e);
        self.splice(off, size, 0);
        self.count -= 1;
        Some(k)
    }

    /// Packs the elements of `d` (the caller checked the limits).
    fn from_deque(d: &Deque) -> Packed {
        let size: usize = d.items.iter().map(|e| entry_len(e.len())).sum();
        let mut buf = vec![0u8; size].into_boxed_slice();
        let mut p = 0;
        for e in &d.items {
            p += write_entry(&mut buf[p..], e);
        }
        Packed {
            buf,
            count: d.items.len() as u32,
        }
    }
}

impl Deque {
    /// Cheap pre-test for `List::after_remove`: small enough to repack,
    /// or far below capacity.
    #[inline]
    fn may_shrink(&self) -> bool {
        let n = self.items.len();
        n <= REPACK_LEN || n < self.items.capacity() / 4
    }

    #[inline]
    fn push(&mut self, left: bool, e: Key) {
        self.bytes += e.len();
        if left {
            self.items.push_front(e);
        } else {
            self.items.push_back(e);
        }
    }

    #[inline(always)]
    fn pop(&mut self, left: bool) -> Option<Key> {
        let e = if left {
            self.items.pop_front()
        } else {
            self.items.pop_back()
        }?;
        self.bytes -= e.len();
        Some(e)
    }
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.count as usize,
            Repr::Deque(d) => d.items.len(),
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// For MEMORY USAGE (`crate::memory::usage`): (bytes of the list's own
    /// allocations, heap bytes of its first `samples` elements, how many
    /// elements were sampled).
    pub fn mem_parts(&self, samples: usize) -> (usize, usize, usize) {
        use crate::memory::{chunk_size, usage::key_heap};
        match &self.repr {
            Repr::Packed(p) if p.buf.is_empty() => (0, 0, 0),
            Repr::Packed(p) => (chunk_size(p.buf.len()), 0, 0),
            Repr::Deque(d) => {
                let n = samples.min(d.items.len());
                let own = chunk_size(std::mem::size_of::<Deque>())
                    + chunk_size(d.items.capacity() * std::mem::size_of::<Key>());
                (own, d.items.iter().take(n).map(key_heap).sum(), n)
            }
        }
    }

    /// True while the list uses the packed encoding.
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    /// Converts a packed list to a deque with room for `extra` more.
    fn unpack(&mut self, extra: usize) {
        if let Repr::Packed(p) = &self.repr {
            let mut items = VecDeque::with_capacity(p.count as usize + extra);
            let mut bytes = 0;
            for e in p.iter() {
                bytes += e.len();
                items.push_back(Key::new(e));
            }
            self.repr = Repr::Deque(Box::new(Deque { items, bytes }));
        }
    }

    /// After a removal: repack a deque that is down to half the packed
    /// limits, or give back memory of one far below its capacity.
    #[inline]
    fn after_remove(&mut self) {
        let Repr::Deque(d) = &mut self.repr else {
            return;
        };
        let n = d.items.len();
        // Every element is <= REPACK_BYTES < 2^14, so a header is <= 2 bytes.
        if n <= REPACK_LEN && d.bytes + 2 * n <= REPACK_BYTES {
            self.repr = Repr::Packed(Packed::from_deque(d));
        } else if d.items.capacity() >= SHRINK_MIN_CAP && n < d.items.capacity() / 4 {
            d.items.shrink_to(n * 2);
        }
    }

    /// Pushes one element at the head (`left`) or the tail.
    #[inline]
    pub fn push(&mut self, left: bool, e: &[u8]) {
        self.push_all(left, std::iter::once(e));
    }

    pub fn push_front(&mut self, e: &[u8]) {
        self.push(true, e);
    }

    pub fn push_back(&mut self, e: &[u8]) {
        self.push(false, e);
    }

    /// Pushes each element in turn at the head (`left`, so they end up in
    /// reverse order, as LPUSH does) or the tail.
    pub fn push_all<'a, I>(&mut self, left: bool, elems: I)
    where
        I: Iterator<Item = &'a [u8]> + Clone,
    {
        if let Repr::Deque(d) = &mut self.repr {
            // The hot path of a long list.
            for e in elems {
                d.push(left, Key::new(e));
            }
            return;
        }
        let mut n = 0usize;
        if let Repr::Packed(p) = &mut self.repr {
            let mut bytes = 0usize;
            for e in elems.clone() {
                n += 1;
                bytes = bytes.saturating_add(entry_len(e.len()));
            }
            if p.fits(n, bytes) {
                if left {
                    let slot = p.splice(0, 0, bytes);
                    // The first element pushed ends up nearest the old head.
                    let mut end = bytes;
                    for e in elems {
                        end -= entry_len(e.len());
                        write_entry(&mut slot[end..], e);
                    }
                } else {
                    let off = p.buf.len();
                    let slot = p.splice(off, 0, bytes);
                    let mut pos = 0;
                    for e in elems {
                        pos += write_entry(&mut slot[pos..], e);
                    }
                }
                p.count += n as u32;
                return;
            }
            self.unpack(n);
        }
        // Packed limits exceeded: `unpack` made room for all `n`.
        if let Repr::Deque(d) = &mut self.repr {
            for e in elems {
                d.push(left, Key::new(e));
            }
        }
    }

    /// Pushes an owned element (moved into a deque without copying).
    pub fn push_key(&mut self, left: bool, e: Key) {
        match &mut self.repr {
            Repr::Deque(d) => d.push(left, e),
            Repr::Packed(_) => self.push(left, &e),
        }
    }

    /// Removes and returns the first (`left`) or last element.
    #[inline(always)]
    pub fn pop(&mut self, left: bool) -> Option<Key> {
        match &mut self.repr {
            Repr::Packed(p) => p.pop(left),
            Repr::Deque(d) => {
                let e = d.pop(left);
                if d.may_shrink() {
                    self.after_remove();
                }
                e
            }
        }
    }

    pub fn pop_front(&mut self) -> Option<Key> {
        self.pop(true)
    }

    pub fn pop_back(&mut self) -> Option<Key> {
        self.pop(false)
    }

    /// Pops up to `n` elements from the head (`left`) or the tail, calling
    /// `f` with each in pop order.
    pub fn pop_each(&mut self, left: bool, n: usize, mut f: impl FnMut(&[u8])) {
        match &mut self.repr {
            Repr::Packed(p) => {
                let n = n.min(p.count as usize);
                if left {
                    let mut off = 0;
                    for _ in 0..n {
                        let (e, size) = read_entry(&p.buf[off..]);
                        f(e);
                        off += size;
                    }
                    p.splice(0, off, 0);
                } else {
                    let start = p.offset(p.count as usize - n);
                    {
                        let tail = PackedIter {
                            buf: &p.buf[start..],
                            left: n,
                        };
                        let tail: Vec<&[u8]> = tail.collect();
                        for e in tail.into_iter().rev() {
                            f(e);
                        }
                    }
                    let len = p.buf.len();
                    p.splice(start, len - start, 0);
                }
                p.count -= n as u32;
            }
            Repr::Deque(d) => {
                for _ in 0..n {
                    match d.pop(left) {
                        Some(e) => f(&e),
                        None => break,
                    }
                }
            }
        }
        self.after_remove();
    }

    /// The element at index `i` (0 = head).
    #[inline]
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed(p) => p.iter().nth(i),
            Repr::Deque(d) => d.items.get(i).map(|k| &k[..]),
        }
    }

    /// Replaces the element at index `i`; false if `i` is out of range.
    pub fn set(&mut self, i: usize, e: &[u8]) -> bool {
        if i >= self.len() {
            return false;
        }
        if let Repr::Packed(p) = &mut self.repr {
            let off = p.offset(i);
            let old = read_entry(&p.buf[off..]).1;
            let new = entry_len(e.len());
            if p.buf.len() - old + new <= PACKED_MAX_BYTES {
                write_entry(p.splice(off, old, new), e);
                return true;
            }
            self.unpack(0);
        }
        if let Repr::Deque(d) = &mut self.repr {
            let d = &mut **d;
            if let Some(slot) = d.items.get_mut(i) {
                d.bytes = d.bytes - slot.len() + e.len();
                *slot = Key::new(e);
            }
        }
        true
    }

    /// Inserts `e` so that it becomes element `i` (`i` >= len appends).
    pub fn insert(&mut self, i: usize, e: &[u8]) {
        let i = i.min(self.len());
        if let Repr::Packed(p) = &mut self.repr {
            let add = entry_len(e.len());
            if p.fits(1, add) {
                let off = p.offset(i);
                write_entry(p.splice(off, 0, add), e);
                p.count += 1;
                return;
            }
            self.unpack(1);
        }
        if let Repr::Deque(d) = &mut self.repr {
            d.bytes += e.len();
            d.items.insert(i, Key::new(e));
        }
    }

    /// Forward iteration over the elements.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Packed(p) => Iter::Packed(p.iter()),
            Repr::Deque(d) => Iter::Deque(d.items.iter()),
        }
    }

    /// Iteration from the tail to the head.
    pub fn iter_rev(&self) -> RevIter<'_> {
        match &self.repr {
            Repr::Packed(p) => RevIter::Packed(p.iter().collect::<Vec<_>>().into_iter().rev()),
            Repr::Deque(d) => RevIter::Deque(d.items.iter().rev()),
        }
    }

    /// Forward iteration over the elements with index in `start..stop`
    /// (clamped to the list).
    pub fn range(&self, start: usize, stop: usize) -> Iter<'_> {
        let stop = stop.min(self.len());
        let start = start.min(stop);
        match &self.repr {
            Repr::Packed(p) => Iter::Packed(PackedIter {
                buf: &p.buf[p.offset(start)..],
                left: stop - start,
            }),
            Repr::Deque(d) => Iter::Deque(d.items.range(start..stop)),
        }
    }

    /// Keeps only the elements with index in `start..stop` (clamped).
    pub fn keep_range(&mut self, start: usize, stop: usize) {
        let len = self.len();
        let stop = stop.min(len);
        let start = start.min(stop);
        if start == 0 && stop == len {
            return;
        }
        match &mut self.repr {
            Repr::Packed(p) => {
                let a = p.offset(start);
                let mut b = a;
                for _ in start..stop {
                    b += read_entry(&p.buf[b..]).1;
                }
                let mut v = std::mem::take(&mut p.buf).into_vec();
                v.copy_within(a..b, 0);
                v.truncate(b - a);
                p.buf = v.into_boxed_slice();
                p.count = (stop - start) as u32;
            }
            Repr::Deque(d) => {
                let d = &mut **d;
                for e in d.items.drain(stop..) {
                    d.bytes -= e.len();
                }
                for e in d.items.drain(..start) {
                    d.bytes -= e.len();
                }
            }
        }
        self.after_remove();
    }

    /// Removes every element.
    pub fn clear(&mut self) {
        self.repr = Repr::default();
    }

    /// LREM: removes elements equal to `ele`, at most `limit` of them
    /// (0 = all), the first ones or (`from_tail`) the last ones. Returns
    /// how many were removed.
    pub fn remove(&mut self, ele: &[u8], limit: u64, from_tail: bool) -> u64 {
        // Matches are numbered from the head; those in lo..hi go.
        let (lo, hi) = if limit == 0 {
            (0, u64::MAX)
        } else if from_tail {
            let m = self.iter().filter(|e| *e == ele).count() as u64;
            (m.saturating_sub(limit), m)
        } else {
            (0, limit)
        };
        let mut seen = 0u64;
        let mut removed = 0u64;
        let mut hit = |e: &[u8]| {
            if e != ele {
                return false;
            }
            let r = seen >= lo && seen < hi;
            seen += 1;
            removed += r as u64;
            r
        };
        match &mut self.repr {
            Repr::Packed(p) => {
                let mut out = Vec::with_capacity(p.buf.len());
                let mut off = 0;
                let mut kept = 0;
                while off < p.buf.len() {
                    let (e, size) = read_entry(&p.buf[off..]);
                    if !hit(e) {
                        out.extend_from_slice(&p.buf[off..off + size]);
                        kept += 1;
                    }
                    off += size;
                }
                if kept != p.count {
                    p.buf = out.into_boxed_slice();
                    p.count = kept;
                }
            }
            Repr::Deque(d) => {
                let d = &mut **d;
                let mut gone = 0;
                d.items.retain(|e| {
                    let h = hit(e);
                    gone += if h { e.len() } else { 0 };
                    !h
                });
                d.bytes -= gone;
            }
        }
        if removed > 0 {
            self.after_remove();
        }
        removed
    }
}

impl<'a> FromIterator<&'a [u8]> for List {
    fn from_iter<T: IntoIterator<Item = &'a [u8]>>(iter: T) -> List {
        let mut l = List::new();
        for e in iter {
            l.push_back(e);
        }
        l
    }
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}
impl Eq for List {}

impl std::fmt::Debug for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// Forward iterator over a packed buffer.
#[derive(Clone)]
pub struct PackedIter<'a> {
    buf: &'a [u8],
    /// Elements still to yield (a range may stop before the buffer ends).
    left: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 || self.buf.is_empty() {
            return None;
        }
        let (e, size) = read_entry(self.buf);
        self.buf = &self.buf[size..];
        self.left -= 1;
        Some(e)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for PackedIter<'_> {}

/// Forward iterator over a list's elements. The variants are public so
/// that hot loops (LRANGE) can specialize on the deque's [`Key`]s.
#[derive(Clone)]
pub enum Iter<'a> {
    Packed(PackedIter<'a>),
    Deque(vec_deque::Iter<'a, Key>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Iter::Packed(it) => it.next(),
            Iter::Deque(it) => it.next().map(|k| &k[..]),
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Packed(it) => it.size_hint(),
            Iter::Deque(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Iterator from the tail to the head.
pub enum RevIter<'a> {
    Packed(std::iter::Rev<std::vec::IntoIter<&'a [u8]>>),
    Deque(std::iter::Rev<vec_deque::Iter<'a, Key>>),
}

impl<'a> Iterator for RevIter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            RevIter::Packed(it) => it.next(),
            RevIter::Deque(it) => it.next().map(|k| &k[..]),
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            RevIter::Packed(it) => it.size_hint(),
            RevIter::Deque(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for RevIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the encoding invariants and that `l` holds exactly `model`.
    fn check(l: &List, model: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), model.len());
        assert!(l.iter().eq(model.iter().map(|e| &e[..])));
        assert!(l.iter_rev().eq(model.iter().rev().map(|e| &e[..])));
        assert_eq!(l.iter().len(), model.len());
        match &l.repr {
            Repr::Packed(p) => {
                assert!(p.count as usize <= PACKED_MAX_LEN);
                assert!(p.buf.len() <= PACKED_MAX_BYTES);
                assert_eq!(p.offset(p.count as usize), p.buf.len());
            }
            Repr::Deque(d) => {
                assert_eq!(d.bytes, model.iter().map(|e| e.len()).sum::<usize>());
            }
        }
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
        }
        fn elem(&mut self) -> Vec<u8> {
            let n = match self.below(100) {
                0..=69 => self.below(4),
                70..=89 => 20 + self.below(6),
                90..=97 => 100 + self.below(200),
                _ => 3000 + self.below(7000),
            };
            // Few distinct values so LREM/LINSERT find matches.
            vec![b'a' + self.below(3) as u8; n]
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(std::mem::size_of::<List>(), 24);
        assert_eq!(std::mem::size_of::<crate::store::Value>(), 32);
    }

    #[test]
    fn varints_roundtrip() {
        for n in [0usize, 1, 127, 128, 255, 16383, 16384, 70000] {
            let e = vec![7u8; n];
            let mut buf = vec![0u8; entry_len(n)];
            assert_eq!(write_entry(&mut buf, &e), buf.len());
            let (got, size) = read_entry(&buf);
            assert_eq!((got, size), (&e[..], buf.len()));
        }
    }

    #[test]
    fn packed_then_deque_then_packed() {
        let mut l = List::new();
        for i in 0..PACKED_MAX_LEN {
            l.push_back(format!("e{i}").as_bytes());
        }
        assert!(l.is_packed());
        l.push_front(b"x");
        assert!(!l.is_packed());
        assert_eq!(l.get(0), Some(&b"x"[..]));
        assert_eq!(l.get(1), Some(&b"e0"[..]));
        while l.len() > REPACK_LEN + 1 {
            l.pop_back();
            assert!(!l.is_packed());
        }
        l.pop_back();
        assert!(l.is_packed());
        assert_eq!(l.len(), REPACK_LEN);
        // Ten small elements take an exactly sized buffer.
        let l: List = (0..10)
            .map(|i| if i % 2 == 0 { &b"a0"[..] } else { b"b1" })
            .collect();
        let Repr::Packed(p) = &l.repr else {
            panic!("not packed")
        };
        assert_eq!(p.buf.len(), 30);
        // One element past the byte limit goes straight to a deque.
        let mut l = List::new();
        l.push_back(&[b'z'; PACKED_MAX_BYTES]);
        assert!(!l.is_packed());
    }

    #[test]
    fn model_random_ops() {
        for seed in 1..=40u64 {
            let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            let (mut saw_packed, mut saw_deque, mut saw_repack) = (false, false, false);
            // Phases alternate growth and shrinking so both forms and both
            // conversions are exercised.
            for step in 0..3000 {
                let grow = (step / 300) % 2 == 0;
                let op = r.below(14);
                match op {
                    0..=3 if grow || r.below(3) == 0 => {
                        let left = r.below(2) == 0;
                        let big = r.below(10) == 0;
                        let n = 1 + r.below(if big { 40 } else { 3 });
                        let elems: Vec<Vec<u8>> = (0..n).map(|_| r.elem()).collect();
                        l.push_all(left, elems.iter().map(|e| &e[..]));
                        for e in elems {
                            if left {
                                m.push_front(e);
                            } else {
                                m.push_back(e);
                            }
                        }
                    }
                    0..=5 => {
                        let left = r.below(2) == 0;
                        let got = l.pop(left);
                        let want = if left { m.pop_front() } else { m.pop_back() };
                        assert_eq!(got.as_deref(), want.as_deref());
                    }
                    6 => {
                        let left = r.below(2) == 0;
                        let n = r.below(20);
                        let mut got = Vec::new();
                        l.pop_each(left, n, |e| got.push(e.to_vec()));
                        let mut want = Vec::new();
                        for _ in 0..n {
                            let e = if left { m.pop_front() } else { m.pop_back() };
                            want.extend(e);
                        }
                        assert_eq!(got, want);
                    }
                    7 => {
                        let i = r.below(m.len() + 2);
                        assert_eq!(l.get(i), m.get(i).map(|e| &e[..]));
                        let (a, b) = (r.below(m.len() + 2), r.below(m.len() + 2));
                        let want: Vec<&[u8]> = m
                            .iter()
                            .skip(a)
                            .take(b.saturating_sub(a))
                            .map(|e| &e[..])
                            .collect();
                        let got: Vec<&[u8]> = l.range(a, b).collect();
                        assert_eq!(got, want);
                        assert_eq!(l.range(a, b).len(), want.len());
                    }
                    8 => {
                        let i = r.below(m.len() + 2);
                        let e = r.elem();
                        assert_eq!(l.set(i, &e), i < m.len());
                        if let Some(slot) = m.get_mut(i) {
                            *slot = e;
                        }
                    }
                    9 => {
                        let i = r.below(m.len() + 2);
                        let e = r.elem();
                        l.insert(i, &e);
                        m.insert(i.min(m.len()), e);
                    }
                    10 if !grow || r.below(4) == 0 => {
                        let a = r.below(m.len() + 2);
                        let b = a + r.below(m.len() + 2);
                        l.keep_range(a, b);
                        let keep: VecDeque<Vec<u8>> = m
                            .iter()
                            .skip(a)
                            .take(b.saturating_sub(a))
                            .cloned()
                            .collect();
                        m = keep;
                    }
                    11 => {
                        let ele = r.elem();
                        let limit = [0u64, 1, 2, 5, u64::MAX][r.below(5)];
                        let from_tail = r.below(2) == 0;
                        let got = l.remove(&ele, limit, from_tail);
                        let idx: Vec<usize> = if from_tail {
                            let mut v: Vec<usize> =
                                (0..m.len()).rev().filter(|&i| m[i] == ele).collect();
                            if limit != 0 {
                                v.truncate(limit.min(v.len() as u64) as usize);
                            }
                            v
                        } else {
                            let mut v: Vec<usize> = (0..m.len()).filter(|&i| m[i] == ele).collect();
                            if limit != 0 {
                                v.truncate(limit.min(v.len() as u64) as usize);
                            }
                            v
                        };
                        assert_eq!(got, idx.len() as u64);
                        let mut i = 0;
                        m.retain(|_| {
                            let keep = !idx.contains(&i);
                            i += 1;
                            keep
                        });
                    }
                    12 => {
                        let c = l.clone();
                        assert_eq!(c, l);
                        check(&c, &m);
                        // LMOVE-like: pop at one end, push the owned element.
                        let (from_left, to_left) = (r.below(2) == 0, r.below(2) == 0);
                        if let Some(e) = l.pop(from_left) {
                            let me = if from_left {
                                m.pop_front()
                            } else {
                                m.pop_back()
                            };
                            let me = me.unwrap_or_default();
                            assert_eq!(&e[..], &me[..]);
                            l.push_key(to_left, e);
                            if to_left {
                                m.push_front(me);
                            } else {
                                m.push_back(me);
                            }
                        }
                    }
                    _ => {
                        if r.below(50) == 0 {
                            l.clear();
                            m.clear();
                        }
                    }
                }
                check(&l, &m);
                saw_repack |= saw_deque && l.is_packed() && l.len() > 10;
                saw_packed |= l.is_packed() && l.len() > 10;
                saw_deque |= !l.is_packed();
            }
            assert!(saw_packed && saw_deque && saw_repack, "seed {seed}");
        }
    }
}
