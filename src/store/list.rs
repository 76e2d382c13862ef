//! List values: a compact packed encoding for small lists (like Redis's
//! listpack) and a deque of packed chunks for everything else (like Redis's
//! quicklist).
//!
//! **Packed** (`Packed`): one exactly-sized heap buffer of entries (codec
//! in `store::pack`): a canonical integer element ("10", not "010") is an
//! integer entry of 1-9 bytes, like Redis's listpack integers; any other
//! element a length header (1 byte below 128 bytes) followed by its bytes;
//! plus an element count. A list of ten 2-byte strings costs 30 bytes of
//! heap, of the integers 0..9 10 bytes. Readers get an [`Elem`]: borrowed
//! bytes, or an integer entry's digits formatted inline. The buffer is reallocated to its exact size on every change (glibc
//! realloc mostly resizes in place), so there is no spare capacity. Access
//! by index, popping at the tail and inserting are O(n) scans/memmoves,
//! which the limits below keep small.
//!
//! **Chunked** (`Chunked`): a `VecDeque` of [`Chunk`]s, each a buffer in
//! the same entry format holding at most [`PACKED_MAX_LEN`] elements and
//! [`PACKED_MAX_BYTES`] bytes, except that an element bigger than the byte
//! limit gets a chunk of its own (Redis's plain nodes). A short element
//! costs its bytes, a 1-byte header and about 0.4 bytes of chunk overhead
//! (a 32-byte deque slot and a malloc header per up to 128 elements), where
//! a deque of 24-byte [`Key`]s cost 24-48 bytes. Pushes and pops touch only
//! an end chunk (a memmove of at most 8 KB at the head; at the tail, the
//! back chunk's entry offsets are cached - `Chunked::tail`, built by the
//! first tail pop of a chunk and kept by tail pushes and pops - so a run of
//! RPOPs costs one scan per chunk, not one per pop; the cache costs at most
//! 256 bytes per list, where listpack-style back-lengths would cost a byte
//! per element); the end chunks are `Vec`s that grow by doubling, and a
//! chunk is shrunk to its exact size when a new end chunk is started beside
//! it, so only the two end chunks carry spare capacity. Index access walks
//! the per-chunk counts from the nearer end, then scans within one chunk.
//! Splits (LINSERT/LSET into a full chunk) and merges (after LREM, and
//! around an element LSET made smaller) keep every chunk within the limits.
//!
//! **Limits.** A list is packed while it has at most [`PACKED_MAX_LEN`] (128)
//! elements and the buffer is at most [`PACKED_MAX_BYTES`] (8 KB, Redis's
//! default `list-max-listpack-size -2` node size). Any change that would
//! exceed a limit converts the list to chunks first; the packed buffer
//! becomes the first chunk as it is (the limits are the same).
//!
//! **Back to packed.** After a removal leaves a chunked list at half the
//! packed limits or less (<= 64 elements and <= 4 KB encoded), it is packed
//! again (as Redis 7.2 does with its quicklist). The gap between the two
//! thresholds makes conversions amortized O(1): between a repack and the
//! next unpack at least 64 elements or 4 KB of new data must arrive.
//!
//! The encoding is invisible to commands: every operation has the same
//! result in both forms, and OBJECT ENCODING reports `quicklist` for both
//! (Redis 7.0 has no listpack lists).

use std::collections::VecDeque;
use std::collections::vec_deque;

use super::buf::CountedBytes;
use super::bytes::Key;
use super::pack::{Elem, Enc, Needle, encode, entry_size, read_elem, splice};

/// Most elements a packed list (or a chunk) holds.
pub const PACKED_MAX_LEN: usize = 128;
/// Largest packed buffer (or chunk holding more than one element), in
/// bytes (headers included).
pub const PACKED_MAX_BYTES: usize = 8192;
/// A chunked list is repacked when a removal leaves it at most this long...
const REPACK_LEN: usize = PACKED_MAX_LEN / 2;
/// ...and at most this many encoded bytes.
const REPACK_BYTES: usize = PACKED_MAX_BYTES / 2;
/// A chunk deque with at least this capacity shrinks when a quarter full.
const SHRINK_MIN_CAP: usize = 64;

/// A list value (see the module docs for the two encodings).
#[derive(Clone, Default)]
pub struct List {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Packed(Packed),
    /// Boxed so that a `List` (and so a `Value`) stays small.
    Chunked(Box<Chunked>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed(Packed::default())
    }
}

#[derive(Clone, Default)]
struct Packed {
    /// Entries back to back, exactly sized; `buf.count` is the number of
    /// entries (<= PACKED_MAX_LEN). One 16-byte field, so that `List` is
    /// 16 bytes and `Value` 24.
    buf: CountedBytes,
}

/// One node of a chunked list: entries back to back (never empty). Public
/// only as a parameter of the iterator types.
#[derive(Clone, Default)]
pub struct Chunk {
    buf: Vec<u8>,
    count: u32,
}

#[derive(Clone, Default)]
struct Chunked {
    chunks: VecDeque<Chunk>,
    /// Total number of elements.
    len: usize,
    /// Byte offsets of the back chunk's entries, so that tail pops do not
    /// scan it from the front: built by the first tail pop of a chunk,
    /// kept by tail pushes and pops, emptied by any other change to the
    /// back chunk. Either empty or exactly `count` long, and always empty
    /// while there is one chunk (then the back chunk is the front one,
    /// and head pushes and pops need not check it). u16 is enough: a chunk
    /// of two or more entries is at most 8 KB, a lone entry is at 0.
    tail: Vec<u16>,
}

/// Byte offset of entry `i` of `buf` (`i` = count gives its end).
#[inline]
fn offset_in(buf: &[u8], i: usize) -> usize {
    let mut off = 0;
    for _ in 0..i {
        // Only the entry's first byte or header is read (the tail pop
        // of a chunk scans it).
        off += entry_size(&buf[off..]);
    }
    off
}

impl Packed {
    fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            left: self.buf.count as usize,
        }
    }

    /// Byte offset of entry `i` (`count` gives the end of the buffer).
    fn offset(&self, i: usize) -> usize {
        offset_in(&self.buf, i)
    }

    /// True if `n` more elements taking `bytes` encoded bytes stay within
    /// the packed limits.
    #[inline]
    fn fits(&self, n: usize, bytes: usize) -> bool {
        (self.buf.count as usize).saturating_add(n) <= PACKED_MAX_LEN
            && self.buf.len().saturating_add(bytes) <= PACKED_MAX_BYTES
    }

    /// Replaces the `old` bytes at `off` by `new` bytes (`pack::splice`).
    #[inline]
    fn splice(&mut self, off: usize, old: usize, new: usize) -> &mut [u8] {
        splice(&mut self.buf, off, old, new)
    }

    fn pop(&mut self, left: bool) -> Option<Key> {
        if self.buf.count == 0 {
            return None;
        }
        let off = if left {
            0
        } else {
            self.offset(self.buf.count as usize - 1)
        };
        let (e, size) = read_elem(&self.buf[off..]);
        let k = Key::new(&e);
        self.splice(off, size, 0);
        self.buf.count -= 1;
        Some(k)
    }
}

impl Chunk {
    /// True if one more entry of `bytes` encoded bytes may go in: an empty
    /// chunk takes anything (a big element gets a chunk of its own).
    #[inline]
    fn fits(&self, bytes: usize) -> bool {
        self.count == 0
            || ((self.count as usize) < PACKED_MAX_LEN
                && self.buf.len().saturating_add(bytes) <= PACKED_MAX_BYTES)
    }

    /// Opens a gap of `n` bytes at `off` (returned, to be filled).
    #[inline]
    fn gap(&mut self, off: usize, n: usize) -> &mut [u8] {
        let len = self.buf.len();
        self.buf.resize(len + n, 0);
        if off < len {
            self.buf.copy_within(off..len, off + n);
        }
        &mut self.buf[off..off + n]
    }

    /// Removes `n` bytes at `off`.
    #[inline]
    fn cut(&mut self, off: usize, n: usize) {
        let len = self.buf.len();
        if off + n < len {
            self.buf.copy_within(off + n..len, off);
        }
        self.buf.truncate(len - n);
    }

    #[inline]
    fn push(&mut self, left: bool, e: Enc<'_>) {
        let add = e.size();
        let off = if left { 0 } else { self.buf.len() };
        e.write(self.gap(off, add));
        self.count += 1;
    }

    #[inline]
    fn insert(&mut self, j: usize, e: Enc<'_>) {
        let off = offset_in(&self.buf, j);
        e.write(self.gap(off, e.size()));
        self.count += 1;
    }

    /// Removes the first entry (the tail is popped through
    /// `Chunked::tail`).
    #[inline]
    fn pop_front(&mut self) -> Key {
        let (e, size) = read_elem(&self.buf);
        let k = Key::new(&e);
        self.cut(0, size);
        self.count -= 1;
        k
    }

    /// Splits off entries `j..` into a new chunk (exactly sized).
    fn split_off(&mut self, j: usize) -> Chunk {
        let off = offset_in(&self.buf, j);
        let tail = Chunk {
            buf: self.buf[off..].to_vec(),
            count: self.count - j as u32,
        };
        self.buf.truncate(off);
        self.buf.shrink_to_fit();
        self.count = j as u32;
        tail
    }

    fn single(e: Enc<'_>) -> Chunk {
        let mut c = Chunk {
            buf: Vec::with_capacity(e.size()),
            count: 0,
        };
        c.push(false, e);
        c
    }
}

impl Chunked {
    /// The chunk holding element `i` (< len) and its index there, walking
    /// the chunk counts from the nearer end.
    fn locate(&self, i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            let mut i = i;
            for (ci, c) in self.chunks.iter().enumerate() {
                let n = c.count as usize;
                if i < n {
                    return (ci, i);
                }
                i -= n;
            }
        } else {
            let mut back = self.len - i; // 1-based distance from the tail
            for (ci, c) in self.chunks.iter().enumerate().rev() {
                let n = c.count as usize;
                if back <= n {
                    return (ci, n - back);
                }
                back -= n;
            }
        }
        unreachable!("index within len")
    }

    #[inline]
    fn push(&mut self, left: bool, e: Enc<'_>) {
        if left {
            self.push_end::<true>(e);
        } else {
            self.push_end::<false>(e);
        }
    }

    /// `push` for one end, so that head pushes carry no tail bookkeeping.
    #[inline]
    fn push_end<const LEFT: bool>(&mut self, e: Enc<'_>) {
        let left = LEFT;
        let add = e.size();
        let end = if left {
            self.chunks.front_mut()
        } else {
            self.chunks.back_mut()
        };
        match end {
            Some(c) if c.fits(add) => {
                if !left && !self.tail.is_empty() {
                    // < 8 KB: the chunk had room.
                    self.tail.push(c.buf.len() as u16);
                }
                c.push(left, e);
            }
            end => {
                // A new end chunk: the old one is done growing.
                if let Some(c) = end {
                    c.buf.shrink_to_fit();
                }
                let c = Chunk::single(e);
                if left {
                    self.chunks.push_front(c);
                } else {
                    self.tail.clear();
                    self.chunks.push_back(c);
                }
            }
        }
        self.len += 1;
    }

    /// Fills `tail` with the back chunk's entry offsets if it is empty
    /// (callers empty it again when there is one chunk); the back chunk's
    /// count.
    #[inline]
    fn tail_offsets(&mut self) -> usize {
        let Some(c) = self.chunks.back() else {
            return 0;
        };
        if self.tail.is_empty() {
            // A chunk holds at most 128 entries: one allocation of 256
            // bytes, kept for the list's later back chunks.
            self.tail.reserve_exact(PACKED_MAX_LEN);
            let mut off = 0;
            for _ in 0..c.count {
                debug_assert!(off <= u16::MAX as usize);
                self.tail.push(off as u16);
                off += entry_size(&c.buf[off..]);
            }
        }
        c.count as usize
    }

    #[inline]
    fn pop(&mut self, left: bool) -> Option<Key> {
        let k = if left {
            let c = self.chunks.front_mut()?;
            let k = c.pop_front();
            if c.count == 0 {
                self.chunks.pop_front();
                if self.chunks.len() == 1 {
                    self.tail.clear();
                }
            }
            k
        } else {
            let off = if self.chunks.len() > 1 {
                self.tail_offsets();
                self.tail.pop().map_or(0, usize::from)
            } else {
                let c = self.chunks.back()?;
                offset_in(&c.buf, c.count as usize - 1)
            };
            let c = self.chunks.back_mut()?;
            let k = Key::new(&read_elem(&c.buf[off..]).0);
            c.buf.truncate(off);
            c.count -= 1;
            if c.count == 0 {
                self.chunks.pop_back();
            }
            k
        };
        self.len -= 1;
        Some(k)
    }

    /// Drops chunks that became empty and merges neighbours whose entries
    /// fit in one chunk (after removals in the middle).
    fn compact(&mut self) {
        let old = std::mem::take(&mut self.chunks);
        let mut out: VecDeque<Chunk> = VecDeque::with_capacity(old.len());
        for c in old {
            if c.count == 0 {
                continue;
            }
            if let Some(last) = out.back_mut() {
                if (last.count + c.count) as usize <= PACKED_MAX_LEN
                    && last.buf.len() + c.buf.len() <= PACKED_MAX_BYTES
                {
                    last.buf.extend_from_slice(&c.buf);
                    last.count += c.count;
                    continue;
                }
                last.buf.shrink_to_fit();
            }
            out.push_back(c);
        }
        if let Some(last) = out.back_mut() {
            last.buf.shrink_to_fit();
        }
        self.chunks = out;
    }

    /// Merges chunk `ci` into its neighbours while the entries fit in one
    /// chunk (keeps a list edited in place from fragmenting).
    fn merge_around(&mut self, mut ci: usize) {
        let fit = |a: &Chunk, b: &Chunk| {
            (a.count + b.count) as usize <= PACKED_MAX_LEN
                && a.buf.len() + b.buf.len() <= PACKED_MAX_BYTES
        };
        if ci > 0
            && fit(&self.chunks[ci - 1], &self.chunks[ci])
            && let Some(c) = self.chunks.remove(ci)
        {
            ci -= 1;
            let to = &mut self.chunks[ci];
            to.buf.extend_from_slice(&c.buf);
            to.count += c.count;
        }
        if ci + 1 < self.chunks.len()
            && fit(&self.chunks[ci], &self.chunks[ci + 1])
            && let Some(c) = self.chunks.remove(ci + 1)
        {
            let to = &mut self.chunks[ci];
            to.buf.extend_from_slice(&c.buf);
            to.count += c.count;
        }
        if ci + 1 == self.chunks.len() {
            self.tail.clear();
        }
        if ci != 0 && ci + 1 != self.chunks.len() {
            self.chunks[ci].buf.shrink_to_fit();
        }
    }

    fn iter(&self) -> ChunkIter<'_> {
        ChunkIter {
            rest: self.chunks.range(..),
            cur: PackedIter { buf: &[], left: 0 },
            left: self.len,
        }
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
            Repr::Packed(p) => p.buf.count as usize,
            Repr::Chunked(d) => d.len,
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// For MEMORY USAGE (`crate::memory::usage`): (bytes of the list's own
    /// allocations, heap bytes of its first `samples` elements, how many
    /// elements were sampled). Elements live inside the list's buffers, so
    /// the second and third parts are 0. A chunked list samples its first
    /// `samples` chunks and extrapolates over all of them, as Redis's
    /// objectComputeSize does with quicklist nodes (a list of 10M elements
    /// has ~78k chunks).
    pub fn mem_parts(&self, samples: usize) -> (usize, usize, usize) {
        use crate::memory::chunk_size;
        match &self.repr {
            Repr::Packed(p) if p.buf.is_empty() => (0, 0, 0),
            Repr::Packed(p) => (chunk_size(p.buf.len()), 0, 0),
            Repr::Chunked(d) => {
                let seen = samples.clamp(1, d.chunks.len().max(1));
                let sampled: usize = d
                    .chunks
                    .iter()
                    .take(seen)
                    .map(|c| chunk_size(c.buf.capacity()))
                    .sum();
                let chunks = if seen >= d.chunks.len() {
                    sampled
                } else {
                    crate::memory::usage::extrapolate(sampled, seen, d.chunks.len())
                };
                let tail = match d.tail.capacity() {
                    0 => 0,
                    n => chunk_size(n * std::mem::size_of::<u16>()),
                };
                let own = chunk_size(std::mem::size_of::<Chunked>())
                    + chunk_size(d.chunks.capacity() * std::mem::size_of::<Chunk>())
                    + tail
                    + chunks;
                (own, 0, 0)
            }
        }
    }

    /// True while the list uses the packed encoding.
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    /// Converts a packed list to chunks: its buffer becomes the first one.
    fn unpack(&mut self) {
        if let Repr::Packed(p) = &mut self.repr {
            let mut d = Chunked {
                chunks: VecDeque::with_capacity(4),
                len: p.buf.count as usize,
                tail: Vec::new(),
            };
            if p.buf.count > 0 {
                let count = p.buf.count;
                d.chunks.push_back(Chunk {
                    buf: std::mem::take(&mut p.buf).into_vec(),
                    count,
                });
            }
            self.repr = Repr::Chunked(Box::new(d));
        }
    }

    /// After a removal: repack a chunked list that is down to half the
    /// packed limits, or give back memory of a chunk deque far below its
    /// capacity.
    #[inline]
    fn after_remove(&mut self) {
        let Repr::Chunked(d) = &mut self.repr else {
            return;
        };
        let n = d.len;
        // At most REPACK_LEN non-empty chunks: the sum is cheap.
        if n <= REPACK_LEN && d.chunks.iter().map(|c| c.buf.len()).sum::<usize>() <= REPACK_BYTES {
            let mut buf = Vec::with_capacity(d.chunks.iter().map(|c| c.buf.len()).sum());
            for c in &d.chunks {
                buf.extend_from_slice(&c.buf);
            }
            self.repr = Repr::Packed(Packed {
                buf: CountedBytes::with_count(buf.into_boxed_slice(), n as u32),
            });
        } else {
            let cap = d.chunks.capacity();
            if cap >= SHRINK_MIN_CAP && d.chunks.len() < cap / 4 {
                d.chunks.shrink_to(d.chunks.len() * 2);
            }
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
        if let Repr::Chunked(d) = &mut self.repr {
            // The hot path of a long list.
            if left {
                elems.for_each(|e| d.push_end::<true>(encode(e)));
            } else {
                elems.for_each(|e| d.push_end::<false>(encode(e)));
            }
            return;
        }
        if let Repr::Packed(p) = &mut self.repr {
            let mut n = 0usize;
            let mut bytes = 0usize;
            for e in elems.clone() {
                n += 1;
                bytes = bytes.saturating_add(encode(e).size());
            }
            if p.fits(n, bytes) {
                if left {
                    let slot = p.splice(0, 0, bytes);
                    // The first element pushed ends up nearest the old head.
                    let mut end = bytes;
                    for e in elems {
                        let e = encode(e);
                        end -= e.size();
                        e.write(&mut slot[end..]);
                    }
                } else {
                    let off = p.buf.len();
                    let slot = p.splice(off, 0, bytes);
                    let mut pos = 0;
                    for e in elems {
                        pos += encode(e).write(&mut slot[pos..]);
                    }
                }
                p.buf.count += n as u32;
                return;
            }
            self.unpack();
        }
        // Packed limits exceeded: push onto the chunks.
        if let Repr::Chunked(d) = &mut self.repr {
            for e in elems {
                d.push(left, encode(e));
            }
        }
    }

    /// Pushes an owned element.
    pub fn push_key(&mut self, left: bool, e: Key) {
        self.push(left, &e);
    }

    /// Removes and returns the first (`left`) or last element.
    #[inline(always)]
    pub fn pop(&mut self, left: bool) -> Option<Key> {
        match &mut self.repr {
            Repr::Packed(p) => p.pop(left),
            Repr::Chunked(d) => {
                let e = d.pop(left);
                if d.len <= REPACK_LEN || d.chunks.len() < d.chunks.capacity() / 4 {
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
                let n = n.min(p.buf.count as usize);
                if left {
                    let mut off = 0;
                    for _ in 0..n {
                        let (e, size) = read_elem(&p.buf[off..]);
                        f(&e);
                        off += size;
                    }
                    p.splice(0, off, 0);
                } else if n > 0 {
                    // Entry offsets on the stack (a packed list is at most
                    // 128 entries of 8 KB), handed out last first.
                    let mut offs = [0u16; PACKED_MAX_LEN];
                    let count = p.buf.count as usize;
                    let mut off = 0;
                    for o in &mut offs[..count] {
                        *o = off as u16;
                        off += entry_size(&p.buf[off..]);
                    }
                    for &o in offs[count - n..count].iter().rev() {
                        f(&read_elem(&p.buf[o as usize..]).0);
                    }
                    let start = offs[count - n] as usize;
                    let len = p.buf.len();
                    p.splice(start, len - start, 0);
                }
                p.buf.count -= n as u32;
            }
            Repr::Chunked(d) => {
                let mut n = n.min(d.len);
                d.len -= n;
                while n > 0 {
                    let count = if left { 0 } else { d.tail_offsets() };
                    let Some(c) = (if left {
                        d.chunks.front_mut()
                    } else {
                        d.chunks.back_mut()
                    }) else {
                        break;
                    };
                    let k = n.min(c.count as usize);
                    if left {
                        let mut off = 0;
                        for _ in 0..k {
                            let (e, size) = read_elem(&c.buf[off..]);
                            f(&e);
                            off += size;
                        }
                        c.cut(0, off);
                    } else {
                        let start = d.tail[count - k] as usize;
                        for _ in 0..k {
                            let off = d.tail.pop().map_or(0, usize::from);
                            f(&read_elem(&c.buf[off..]).0);
                        }
                        c.buf.truncate(start);
                    }
                    c.count -= k as u32;
                    n -= k;
                    if c.count == 0 {
                        if left {
                            d.chunks.pop_front();
                        } else {
                            d.chunks.pop_back();
                        }
                    }
                    if d.chunks.len() == 1 {
                        d.tail.clear();
                    }
                }
            }
        }
        self.after_remove();
    }

    /// The element at index `i` (0 = head).
    #[inline]
    pub fn get(&self, i: usize) -> Option<Elem<'_>> {
        match &self.repr {
            Repr::Packed(p) => {
                if i >= p.buf.count as usize {
                    return None;
                }
                // Skipped entries are sized, not decoded.
                Some(read_elem(&p.buf[p.offset(i)..]).0)
            }
            Repr::Chunked(d) => {
                if i >= d.len {
                    return None;
                }
                let (ci, j) = d.locate(i);
                let c = &d.chunks[ci];
                let off = match d.tail.get(j) {
                    Some(&o) if ci + 1 == d.chunks.len() => o as usize,
                    _ => offset_in(&c.buf, j),
                };
                Some(read_elem(&c.buf[off..]).0)
            }
        }
    }

    /// Replaces the element at index `i`; false if `i` is out of range.
    pub fn set(&mut self, i: usize, e: &[u8]) -> bool {
        if i >= self.len() {
            return false;
        }
        let e = encode(e);
        if let Repr::Packed(p) = &mut self.repr {
            let off = p.offset(i);
            let old = entry_size(&p.buf[off..]);
            let new = e.size();
            if p.buf.len() - old + new <= PACKED_MAX_BYTES {
                e.write(p.splice(off, old, new));
                return true;
            }
            self.unpack();
        }
        if let Repr::Chunked(d) = &mut self.repr {
            let (ci, j) = d.locate(i);
            if ci + 1 == d.chunks.len() {
                d.tail.clear();
            }
            let c = &mut d.chunks[ci];
            let off = offset_in(&c.buf, j);
            let old = entry_size(&c.buf[off..]);
            let new = e.size();
            if c.count == 1 || c.buf.len() - old + new <= PACKED_MAX_BYTES {
                if new == old {
                    e.write(&mut c.buf[off..off + new]);
                    return true;
                }
                c.cut(off, old);
                e.write(c.gap(off, new));
                // A lone element that shrank may now fit beside a
                // neighbour (LSET of a big element back to a small one).
                d.merge_around(ci);
            } else {
                // Too big for its chunk: the element gets a chunk of its
                // own between the entries before it and those after it
                // (each copied once).
                let rest = Chunk {
                    buf: c.buf[off + old..].to_vec(),
                    count: c.count - j as u32 - 1,
                };
                c.buf.truncate(off);
                c.buf.shrink_to_fit();
                c.count = j as u32;
                let mut at = ci + 1;
                if j == 0 {
                    d.chunks.remove(ci);
                    at = ci;
                }
                d.chunks.insert(at, Chunk::single(e));
                if rest.count > 0 {
                    d.chunks.insert(at + 1, rest);
                }
            }
        }
        true
    }

    /// Inserts `e` so that it becomes element `i` (`i` >= len appends).
    pub fn insert(&mut self, i: usize, e: &[u8]) {
        let i = i.min(self.len());
        let e = encode(e);
        if let Repr::Packed(p) = &mut self.repr {
            let add = e.size();
            if p.fits(1, add) {
                let off = p.offset(i);
                e.write(p.splice(off, 0, add));
                p.buf.count += 1;
                return;
            }
            self.unpack();
        }
        let Repr::Chunked(d) = &mut self.repr else {
            return;
        };
        if i == 0 || i == d.len {
            d.push(i == 0, e);
            return;
        }
        let add = e.size();
        let (ci, j) = d.locate(i);
        let last = d.chunks.len() - 1;
        if ci == last {
            d.tail.clear();
        }
        if d.chunks[ci].fits(add) {
            let c = &mut d.chunks[ci];
            c.insert(j, e);
            if ci != 0 && ci != last {
                c.buf.shrink_to_fit();
            }
        } else if j == 0 && ci > 0 && d.chunks[ci - 1].fits(add) {
            let c = &mut d.chunks[ci - 1];
            c.push(false, e);
            if ci - 1 != 0 {
                c.buf.shrink_to_fit();
            }
        } else if j == 0 {
            d.chunks.insert(ci, Chunk::single(e));
        } else {
            // Split the full chunk at `j`; the element joins a half that
            // has room, or goes between them.
            let mut tail = d.chunks[ci].split_off(j);
            if d.chunks[ci].fits(add) {
                d.chunks[ci].push(false, e);
                d.chunks[ci].buf.shrink_to_fit();
            } else if tail.fits(add) {
                tail.push(true, e);
                tail.buf.shrink_to_fit();
            } else {
                d.chunks.insert(ci + 1, Chunk::single(e));
                d.chunks.insert(ci + 2, tail);
                d.len += 1;
                return;
            }
            d.chunks.insert(ci + 1, tail);
        }
        d.len += 1;
    }

    /// Forward iteration over the elements.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Packed(p) => Iter::Packed(p.iter()),
            Repr::Chunked(d) => Iter::Chunked(d.iter()),
        }
    }

    /// Iteration from the tail to the head.
    pub fn iter_rev(&self) -> RevIter<'_> {
        match &self.repr {
            Repr::Packed(p) => RevIter {
                rest: Default::default(),
                cur: RevEntries(p.iter().collect()),
                left: p.buf.count as usize,
            },
            Repr::Chunked(d) => RevIter {
                rest: d.chunks.range(..).rev(),
                cur: RevEntries::default(),
                left: d.len,
            },
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
            Repr::Chunked(d) => {
                if start == stop {
                    return Iter::Packed(PackedIter { buf: &[], left: 0 });
                }
                let (ci, j) = d.locate(start);
                let c = &d.chunks[ci];
                Iter::Chunked(ChunkIter {
                    rest: d.chunks.range(ci + 1..),
                    cur: PackedIter {
                        buf: &c.buf[offset_in(&c.buf, j)..],
                        left: c.count as usize - j,
                    },
                    left: stop - start,
                })
            }
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
                    b += entry_size(&p.buf[b..]);
                }
                let mut v = std::mem::take(&mut p.buf).into_vec();
                v.copy_within(a..b, 0);
                v.truncate(b - a);
                p.buf = CountedBytes::with_count(v.into_boxed_slice(), (stop - start) as u32);
            }
            Repr::Chunked(d) => {
                d.tail.clear();
                // Whole chunks go at both ends, then the partial end ones
                // are cut.
                let mut drop_back = len - stop;
                while let Some(c) = d.chunks.back_mut() {
                    let n = c.count as usize;
                    if drop_back >= n {
                        drop_back -= n;
                        d.chunks.pop_back();
                    } else {
                        if drop_back > 0 {
                            let keep = n - drop_back;
                            c.buf.truncate(offset_in(&c.buf, keep));
                            c.count = keep as u32;
                        }
                        break;
                    }
                }
                let mut drop_front = start;
                while let Some(c) = d.chunks.front_mut() {
                    let n = c.count as usize;
                    if drop_front >= n {
                        drop_front -= n;
                        d.chunks.pop_front();
                    } else {
                        if drop_front > 0 {
                            let off = offset_in(&c.buf, drop_front);
                            c.cut(0, off);
                            c.count -= drop_front as u32;
                        }
                        break;
                    }
                }
                d.len = stop - start;
            }
        }
        self.after_remove();
    }

    /// Walks at most `scan` elements from the head (or `from_tail`),
    /// calling `f` with the index of each one equal to `ele` (Redis's
    /// comparison: an integer entry equals its canonical digits) until it
    /// returns true. LPOS, LREM's and LINSERT's searches: entries are
    /// compared where they lie (as bytes, with the needle encoded once:
    /// `pack::Needle`), none formatted.
    pub fn find(&self, ele: &[u8], from_tail: bool, scan: usize, mut f: impl FnMut(usize) -> bool) {
        let ele = Needle::new(ele);
        // Chunks are walked lazily: a search stops at its first match
        // without touching the rest of a long list.
        match &self.repr {
            Repr::Packed(p) => {
                let one = std::iter::once((&p.buf[..], p.buf.count as usize));
                find_in(one, &ele, from_tail, scan, self.len(), &mut f);
            }
            Repr::Chunked(d) => {
                let chunks = d.chunks.iter().map(|c| (&c.buf[..], c.count as usize));
                find_in(chunks, &ele, from_tail, scan, self.len(), &mut f);
            }
        }
    }

    /// Removes every element.
    pub fn clear(&mut self) {
        self.repr = Repr::default();
    }

    /// LREM: removes elements equal to `ele`, at most `limit` of them
    /// (0 = all), the first ones or (`from_tail`) the last ones. Returns
    /// how many were removed.
    pub fn remove(&mut self, ele: &[u8], limit: u64, from_tail: bool) -> u64 {
        let mut left = if limit == 0 { u64::MAX } else { limit };
        let mut removed = 0u64;
        let ele = Needle::new(ele);
        match &mut self.repr {
            Repr::Packed(p) => {
                if let Some((buf, gone)) = filter(&p.buf, p.buf.count, &ele, from_tail, &mut left) {
                    let count = p.buf.count - gone;
                    p.buf = CountedBytes::with_count(buf.into_boxed_slice(), count);
                    removed = gone as u64;
                }
            }
            Repr::Chunked(d) => {
                let edit = |c: &mut Chunk, left: &mut u64| {
                    let (buf, gone) = filter(&c.buf, c.count, &ele, from_tail, left)?;
                    c.buf = buf;
                    c.count -= gone;
                    Some(gone as u64)
                };
                // Chunks are visited in the direction of the removals and
                // the walk stops at the limit.
                if from_tail {
                    for c in d.chunks.iter_mut().rev() {
                        removed += edit(c, &mut left).unwrap_or(0);
                        if left == 0 {
                            break;
                        }
                    }
                } else {
                    for c in d.chunks.iter_mut() {
                        removed += edit(c, &mut left).unwrap_or(0);
                        if left == 0 {
                            break;
                        }
                    }
                }
                if removed > 0 {
                    d.len -= removed as usize;
                    d.tail.clear();
                    d.compact();
                }
            }
        }
        if removed > 0 {
            self.after_remove();
        }
        removed
    }
}

/// `List::find` over the entry buffers `bufs` (with their counts) of a
/// list of `len` elements.
fn find_in<'a>(
    bufs: impl DoubleEndedIterator<Item = (&'a [u8], usize)>,
    ele: &Needle,
    from_tail: bool,
    mut scan: usize,
    len: usize,
    f: &mut impl FnMut(usize) -> bool,
) {
    if !from_tail {
        let mut base = 0;
        for (buf, count) in bufs {
            let mut off = 0;
            for j in 0..count {
                if scan == 0 {
                    return;
                }
                scan -= 1;
                let (hit, size) = ele.match_entry(&buf[off..]);
                if hit && f(base + j) {
                    return;
                }
                off += size;
            }
            base += count;
        }
        return;
    }
    let mut end = len;
    let mut offs = [0u32; PACKED_MAX_LEN];
    for (buf, count) in bufs.rev() {
        let count = count.min(PACKED_MAX_LEN);
        let base = end - count;
        let mut off = 0;
        for o in &mut offs[..count] {
            *o = off as u32;
            off += entry_size(&buf[off..]);
        }
        for j in (0..count).rev() {
            if scan == 0 {
                return;
            }
            scan -= 1;
            if ele.match_entry(&buf[offs[j] as usize..]).0 && f(base + j) {
                return;
            }
        }
        end = base;
    }
}

/// LREM within one buffer of `count` entries: drops the entries equal to
/// `ele`, visiting them first to last or (`rev`) last to first, at most
/// `left` of them (decremented). Returns the rebuilt buffer and how many
/// went, or None when none matched.
fn filter(
    buf: &[u8],
    count: u32,
    ele: &Needle,
    rev: bool,
    left: &mut u64,
) -> Option<(Vec<u8>, u32)> {
    // Entry starts and the end (a lone element may be past 64 KB).
    let count = (count as usize).min(PACKED_MAX_LEN);
    let mut offs = [0u32; PACKED_MAX_LEN + 1];
    let mut off = 0;
    for o in &mut offs[..=count] {
        *o = off as u32;
        if off < buf.len() {
            off += entry_size(&buf[off..]);
        }
    }
    let entry = |i: usize| &buf[offs[i] as usize..offs[i + 1] as usize];
    let mut drop = [false; PACKED_MAX_LEN];
    let (mut gone, mut gone_bytes) = (0u32, 0);
    for k in 0..count {
        if *left == 0 {
            break;
        }
        let i = if rev { count - 1 - k } else { k };
        if ele.match_entry(entry(i)).0 {
            drop[i] = true;
            gone += 1;
            gone_bytes += entry(i).len();
            *left -= 1;
        }
    }
    if gone == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(buf.len() - gone_bytes);
    for i in (0..count).filter(|&i| !drop[i]) {
        out.extend_from_slice(entry(i));
    }
    Some((out, gone))
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
        f.debug_list().entries(self.iter()).finish()
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
    type Item = Elem<'a>;

    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        if self.left == 0 || self.buf.is_empty() {
            return None;
        }
        let (e, size) = read_elem(self.buf);
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

/// Iteration over a chunked list in either direction: `rest` yields the
/// chunks still to visit, `cur` the entries of the current one.
#[derive(Clone)]
pub struct Chunks<R, C> {
    rest: R,
    cur: C,
    /// Elements still to yield.
    left: usize,
}

/// Walks the entries of one chunk (forward: [`PackedIter`]; backward:
/// [`RevEntries`]).
pub trait Cursor<'a>: Iterator<Item = Elem<'a>> {
    /// Starts on the `count` entries of `buf`.
    fn load(&mut self, buf: &'a [u8], count: usize);
}

impl<'a> Cursor<'a> for PackedIter<'a> {
    #[inline]
    fn load(&mut self, buf: &'a [u8], count: usize) {
        *self = PackedIter { buf, left: count };
    }
}

/// A chunk's entries last first: collected (at most 128) and handed out
/// from the end; the vector is reused from chunk to chunk.
#[derive(Clone, Default)]
pub struct RevEntries<'a>(Vec<Elem<'a>>);

impl<'a> Iterator for RevEntries<'a> {
    type Item = Elem<'a>;

    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        self.0.pop()
    }
}

impl<'a> Cursor<'a> for RevEntries<'a> {
    fn load(&mut self, buf: &'a [u8], count: usize) {
        self.0.clear();
        self.0.extend(PackedIter { buf, left: count });
    }
}

impl<'a, R, C> Iterator for Chunks<R, C>
where
    R: Iterator<Item = &'a Chunk>,
    C: Cursor<'a>,
{
    type Item = Elem<'a>;

    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        if self.left == 0 {
            return None;
        }
        loop {
            if let Some(e) = self.cur.next() {
                self.left -= 1;
                return Some(e);
            }
            let c = self.rest.next()?;
            self.cur.load(&c.buf, c.count as usize);
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a, R, C> ExactSizeIterator for Chunks<R, C>
where
    R: Iterator<Item = &'a Chunk>,
    C: Cursor<'a>,
{
}

/// Forward iterator over the chunks of a chunked list.
pub type ChunkIter<'a> = Chunks<vec_deque::Iter<'a, Chunk>, PackedIter<'a>>;

/// Iterator from the tail to the head (of either encoding).
pub type RevIter<'a> = Chunks<std::iter::Rev<vec_deque::Iter<'a, Chunk>>, RevEntries<'a>>;

impl<'a> PackedIter<'a> {
    /// The raw entries still to yield: a buffer starting at the next entry
    /// (it may run past the last one) and how many to take from it.
    pub fn segment(&self) -> (&'a [u8], usize) {
        (self.buf, self.left)
    }
}

impl<'a> ChunkIter<'a> {
    /// The raw entries still to yield, chunk by chunk (see
    /// [`PackedIter::segment`]); for reply building that copies entries
    /// without decoding them one call at a time.
    pub fn segments(self) -> impl Iterator<Item = (&'a [u8], usize)> {
        let mut left = self.left;
        let first = std::iter::once(self.cur.segment());
        let rest = self.rest.map(|c| (&c.buf[..], c.count as usize));
        first.chain(rest).map_while(move |(buf, n)| {
            if left == 0 {
                return None;
            }
            let n = n.min(left);
            left -= n;
            Some((buf, n))
        })
    }
}

/// Forward iterator over a list's elements (the variants are public so
/// that hot loops such as LRANGE's can specialize on each).
#[derive(Clone)]
pub enum Iter<'a> {
    Packed(PackedIter<'a>),
    Chunked(ChunkIter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        match self {
            Iter::Packed(it) => it.next(),
            Iter::Chunked(it) => it.next(),
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Packed(it) => it.size_hint(),
            Iter::Chunked(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry of `buf` that is a string is one Redis would not store
    /// as an integer (so by-value comparisons hold).
    fn check_kinds(buf: &[u8], count: u32) {
        let mut off = 0;
        for _ in 0..count {
            if crate::store::pack::entry_int(&buf[off..]).is_none() {
                let e = read_elem(&buf[off..]).0;
                assert!(matches!(encode(&e), Enc::Bytes(_)), "{e:?}");
            }
            off += entry_size(&buf[off..]);
        }
    }

    /// Checks the encoding invariants and that `l` holds exactly `model`.
    fn check(l: &List, model: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), model.len());
        assert!(l.iter().eq(model.iter().map(|e| &e[..])));
        assert!(l.iter_rev().eq(model.iter().rev().map(|e| &e[..])));
        assert_eq!(l.iter().len(), model.len());
        // `find` from either end against the model (by bytes).
        for needle in model.front().into_iter().chain(model.back()) {
            let want: Vec<usize> = (0..model.len()).filter(|&i| model[i] == *needle).collect();
            let mut got = Vec::new();
            l.find(needle, false, usize::MAX, |i| {
                got.push(i);
                false
            });
            assert_eq!(got, want);
            got.clear();
            l.find(needle, true, usize::MAX, |i| {
                got.push(i);
                false
            });
            got.reverse();
            assert_eq!(got, want);
        }
        match &l.repr {
            Repr::Packed(p) => {
                assert!(p.buf.count as usize <= PACKED_MAX_LEN);
                assert!(p.buf.len() <= PACKED_MAX_BYTES);
                assert_eq!(p.offset(p.buf.count as usize), p.buf.len());
                check_kinds(&p.buf, p.buf.count);
            }
            Repr::Chunked(d) => {
                assert_eq!(d.len, model.len());
                assert_eq!(
                    d.chunks.iter().map(|c| c.count as usize).sum::<usize>(),
                    d.len
                );
                // The tail cache is empty or the back chunk's offsets, and
                // empty while there is one chunk.
                assert!(d.tail.is_empty() || d.chunks.len() > 1);
                if let Some(b) = d.chunks.back().filter(|_| !d.tail.is_empty()) {
                    let want: Vec<u16> = (0..b.count as usize)
                        .map(|i| offset_in(&b.buf, i) as u16)
                        .collect();
                    assert_eq!(d.tail, want);
                }
                for c in &d.chunks {
                    assert!(c.count > 0 && c.count as usize <= PACKED_MAX_LEN);
                    assert!(c.count == 1 || c.buf.len() <= PACKED_MAX_BYTES);
                    assert_eq!(offset_in(&c.buf, c.count as usize), c.buf.len());
                    check_kinds(&c.buf, c.count);
                }
            }
        }
    }

    /// The model of LREM: drops the entries at `idx` (from the head).
    fn model_drop(m: &mut VecDeque<Vec<u8>>, idx: &[usize]) {
        let mut i = 0;
        m.retain(|_| {
            i += 1;
            !idx.contains(&(i - 1))
        });
    }

    /// The model of `keep_range(a, b)`.
    fn model_keep(m: &mut VecDeque<Vec<u8>>, a: usize, b: usize) {
        *m = m
            .iter()
            .skip(a)
            .take(b.saturating_sub(a))
            .cloned()
            .collect();
    }

    /// `pop_each` of `k` elements against the model.
    fn check_pop_each(l: &mut List, m: &mut VecDeque<Vec<u8>>, left: bool, k: usize) {
        let mut got = Vec::new();
        l.pop_each(left, k, |e| got.push(e.to_vec()));
        let want: Vec<Vec<u8>> = (0..k.min(m.len()))
            .filter_map(|_| if left { m.pop_front() } else { m.pop_back() })
            .collect();
        assert_eq!(got, want);
    }

    /// `pop` against the model.
    fn check_pop(l: &mut List, m: &mut VecDeque<Vec<u8>>, left: bool) {
        let got = l.pop(left);
        let want = if left { m.pop_front() } else { m.pop_back() };
        assert_eq!(got.as_deref(), want.as_deref());
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
            if self.below(10) < 3 {
                // Integer entries of every width among strings that look
                // like integers but are kept as strings (Redis's rule).
                const INTISH: [&str; 16] = [
                    "0",
                    "-1",
                    "63",
                    "64",
                    "-4096",
                    "524287",
                    "-8388608",
                    "2147483647",
                    "9223372036854775807",
                    "-9223372036854775808",
                    "007",
                    "+5",
                    "9223372036854775808",
                    "-0",
                    " 1",
                    "1e3",
                ];
                return INTISH[self.below(INTISH.len())].as_bytes().to_vec();
            }
            // Few distinct values so LREM/LINSERT find matches.
            vec![b'a' + self.below(3) as u8; n]
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(std::mem::size_of::<List>(), 16);
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
        assert_eq!(l.get(0).as_deref(), Some(&b"x"[..]));
        assert_eq!(l.get(1).as_deref(), Some(&b"e0"[..]));
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

    /// Chunk splitting and merging at the boundaries: long lists of tiny
    /// elements (many full chunks) with the odd element past the byte
    /// limit, edited in the middle, checked against a `VecDeque` model.
    #[test]
    fn chunks_model_random_ops() {
        for seed in 1..=12u64 {
            let mut r = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1);
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            let elem = |r: &mut Rng| match r.below(200) {
                0 => vec![b'b'; PACKED_MAX_BYTES + r.below(100)],
                1..=3 => vec![b'c'; 1000 + r.below(3000)],
                _ => vec![b'a' + r.below(3) as u8; r.below(3)],
            };
            let mut max_chunks = 0;
            for step in 0..4000 {
                let grow = (step / 1000) % 2 == 0;
                let n = m.len();
                match r.below(10) {
                    0..=2 if grow => {
                        let left = r.below(2) == 0;
                        let es: Vec<Vec<u8>> = (0..1 + r.below(30)).map(|_| elem(&mut r)).collect();
                        l.push_all(left, es.iter().map(|e| &e[..]));
                        for e in es {
                            if left {
                                m.push_front(e);
                            } else {
                                m.push_back(e);
                            }
                        }
                    }
                    0..=2 => {
                        let (left, k) = (r.below(2) == 0, r.below(40));
                        check_pop_each(&mut l, &mut m, left, k);
                    }
                    3 => {
                        // Around a chunk boundary when the list is chunked.
                        let i = (r.below(8) * PACKED_MAX_LEN + r.below(3)).saturating_sub(1);
                        let i = if r.below(2) == 0 { i } else { r.below(n + 1) };
                        let e = elem(&mut r);
                        l.insert(i, &e);
                        m.insert(i.min(n), e);
                    }
                    4 => {
                        let i = r.below(n + 1);
                        let e = elem(&mut r);
                        assert_eq!(l.set(i, &e), i < n);
                        if let Some(slot) = m.get_mut(i) {
                            *slot = e;
                        }
                    }
                    5 => {
                        let i = r.below(n + 1);
                        assert_eq!(l.get(i).as_deref(), m.get(i).map(|e| &e[..]));
                        let a = r.below(n + 1);
                        let b = a + r.below(300);
                        assert!(
                            l.range(a, b)
                                .eq(m.iter().skip(a).take(b - a).map(|e| &e[..]))
                        );
                    }
                    6 => {
                        let ele = vec![b'a' + r.below(3) as u8; r.below(3)];
                        let limit = [0u64, 1, 7, 100][r.below(4)];
                        let from_tail = r.below(2) == 0;
                        let mut idx: Vec<usize> = (0..n).filter(|&i| m[i] == ele).collect();
                        if from_tail {
                            idx.reverse();
                        }
                        if limit != 0 {
                            idx.truncate(limit as usize);
                        }
                        assert_eq!(l.remove(&ele, limit, from_tail), idx.len() as u64);
                        model_drop(&mut m, &idx);
                    }
                    7 if !grow => {
                        let a = r.below(PACKED_MAX_LEN * 2);
                        let b = n.saturating_sub(r.below(PACKED_MAX_LEN * 2));
                        l.keep_range(a, b);
                        model_keep(&mut m, a, b);
                    }
                    _ => {
                        let left = r.below(2) == 0;
                        check_pop(&mut l, &mut m, left);
                    }
                }
                check(&l, &m);
                if let Repr::Chunked(d) = &l.repr {
                    max_chunks = max_chunks.max(d.chunks.len());
                }
            }
            assert!(max_chunks >= 8, "seed {seed}: {max_chunks}");
        }
    }

    /// The back chunk's offset cache through every operation that can
    /// touch the back chunk, on lists of one to a few chunks (so that the
    /// front chunk is often the back one), against a `VecDeque` model.
    #[test]
    fn tail_cache_model() {
        for seed in 1..=16u64 {
            let mut r = Rng(seed.wrapping_mul(0xA076_1D64_78BD_642F) | 1);
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            // Seen a list of one chunk of several elements, a cached tail.
            let mut saw = [false; 2];
            let elem = |r: &mut Rng| match r.below(100) {
                0 => vec![b'b'; PACKED_MAX_BYTES + r.below(10)],
                1..=4 => vec![b'c'; 200 + r.below(3000)],
                _ => vec![b'a' + r.below(2) as u8; r.below(4)],
            };
            for step in 0..6000 {
                let n = m.len();
                // Phases push at one end and pop mostly at the other (queues
                // both ways), so a list is often down to one chunk.
                let bias = if (step / 1000) % 2 == 0 { 1 } else { 3 };
                let grow = (step / 100) % 2 == 0;
                match r.below(16) {
                    0..=3 if grow => {
                        let left = r.below(4) < bias;
                        for _ in 0..1 + r.below(8) {
                            let e = elem(&mut r);
                            l.push(left, &e);
                            if left {
                                m.push_front(e);
                            } else {
                                m.push_back(e);
                            }
                        }
                    }
                    0..=6 => {
                        let left = r.below(4) >= bias;
                        check_pop(&mut l, &mut m, left);
                    }
                    7 => {
                        let (left, k) = (r.below(3) == 0, r.below(12));
                        check_pop_each(&mut l, &mut m, left, k);
                    }
                    8 if n > 0 => {
                        let i = n - 1 - r.below(n.min(3));
                        let e = elem(&mut r);
                        assert!(l.set(i, &e));
                        m[i] = e;
                    }
                    9 => {
                        let i = n.saturating_sub(r.below(4));
                        let e = elem(&mut r);
                        l.insert(i, &e);
                        m.insert(i, e);
                    }
                    10 => {
                        let ele = vec![b'a'; r.below(2)];
                        let limit = 1 + r.below(3) as u64;
                        let mut idx: Vec<usize> = (0..n).rev().filter(|&i| m[i] == ele).collect();
                        idx.truncate(limit as usize);
                        assert_eq!(l.remove(&ele, limit, true), idx.len() as u64);
                        model_drop(&mut m, &idx);
                    }
                    11 => {
                        let (a, b) = (r.below(2), n.saturating_sub(r.below(5)));
                        l.keep_range(a, b);
                        model_keep(&mut m, a, b);
                    }
                    _ => {
                        assert_eq!(
                            l.get(n.wrapping_sub(1)).as_deref(),
                            m.back().map(|e| &e[..])
                        );
                    }
                }
                check(&l, &m);
                if let Repr::Chunked(d) = &l.repr {
                    saw[0] |= d.chunks.len() == 1 && d.len > 1;
                    saw[1] |= !d.tail.is_empty();
                }
            }
            assert_eq!(saw, [true, true], "seed {seed}");
        }
    }

    /// LSET of a big element into a full chunk splits it around the
    /// element; setting it small again merges the pieces back.
    #[test]
    fn set_splits_then_merges() {
        let mut l = List::new();
        for i in 0..300u32 {
            l.push_back(format!("{i:02}").as_bytes());
        }
        let chunks = |l: &List| match &l.repr {
            Repr::Chunked(d) => d.chunks.len(),
            Repr::Packed(_) => 0,
        };
        let before = chunks(&l);
        let mut m: VecDeque<Vec<u8>> = l.iter().map(|e| e.to_vec()).collect();
        l.set(150, &[b'x'; PACKED_MAX_BYTES]);
        m[150] = vec![b'x'; PACKED_MAX_BYTES];
        check(&l, &m);
        assert_eq!(chunks(&l), before + 2);
        l.set(150, b"y");
        m[150] = b"y".to_vec();
        check(&l, &m);
        assert_eq!(chunks(&l), before);
    }

    /// MEMORY USAGE samples the first chunks and extrapolates; SAMPLES 0
    /// (usize::MAX here) counts every chunk.
    #[test]
    fn mem_parts_samples_chunks() {
        let mut l = List::new();
        for i in 0..10_000u32 {
            l.push_back(format!("{i:08}").as_bytes());
        }
        let (all, five) = (l.mem_parts(usize::MAX).0, l.mem_parts(5).0);
        let ratio = five as f64 / all as f64;
        assert!((0.95..=1.05).contains(&ratio), "{five} vs {all}");
        assert!(l.mem_parts(1).0 > 0);
    }

    /// Long lists of short elements cost about their bytes plus a header.
    #[test]
    fn chunked_memory() {
        let mut l = List::new();
        for i in 0..100_000u32 {
            l.push_back(format!("{:010}", i).as_bytes());
        }
        let (own, heap, _) = l.mem_parts(5);
        assert_eq!(heap, 0);
        let per = own as f64 / 100_000.0;
        assert!(per < 12.0, "{per} bytes per element");
        let mut l2 = List::new();
        for i in 0..100_000u32 {
            l2.push_front(format!("{:010}", i).as_bytes());
        }
        let per = l2.mem_parts(5).0 as f64 / 100_000.0;
        assert!(per < 12.0, "{per} bytes per element");
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
                        check_pop(&mut l, &mut m, left);
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
                        assert_eq!(l.get(i).as_deref(), m.get(i).map(|e| &e[..]));
                        let (a, b) = (r.below(m.len() + 2), r.below(m.len() + 2));
                        let want: Vec<&[u8]> = m
                            .iter()
                            .skip(a)
                            .take(b.saturating_sub(a))
                            .map(|e| &e[..])
                            .collect();
                        let got: Vec<Vec<u8>> = l.range(a, b).map(|e| e.to_vec()).collect();
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
                        model_drop(&mut m, &idx);
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
