//! The sorted-set value: members ordered by (score, member bytes), with
//! Redis 7.0's two encodings.
//!
//! - `listpack` ([`Pack`]): one exactly sized buffer of entries
//!   `[varint len+tag][member][score]`, sorted, with the entry count in a
//!   varint header; every operation is a linear scan (Redis does the same on
//!   its listpack). Used while entries <= `zset-max-listpack-entries` and
//!   every member <= `zset-max-listpack-value` bytes.
//! - `skiplist` ([`SkipList`]): Redis's skiplist with spans (rank in
//!   O(log n)), its nodes in an arena indexed by `u32`, plus a hash table of
//!   node indexes keyed by member (member -> score in O(1), without storing
//!   each member twice). A node is 56 bytes: the member inline up to 22
//!   bytes, level 0 inside the node, higher levels in one shared array.
//!
//! Like Redis, a set converts listpack -> skiplist when it outgrows the
//! limits and never back (except results of *STORE commands, built with
//! [`ZSet::from_sorted`], which pick the encoding that fits).
//!
//! Ranks are 0-based in forward order everywhere; ranges are `start..end`
//! rank intervals, and every range query is "how many elements satisfy a
//! predicate that holds for a prefix" ([`ZSet::count_while`]).

use std::cell::Cell;
use std::cmp::Ordering;
use std::hash::BuildHasher;

use super::index::{self, PosIndex, full_capacity};

use super::buf::{PACK_MAX_BYTES, Vec32};
use super::{Key, KeyState, Sds};

/// The listpack limits (`zset-max-listpack-entries` / `-value`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            entries: 128,
            value: 64,
        }
    }
}

/// (score, member) order: score first, then member bytes (memcmp).
#[inline]
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

/// A sorted set.
#[derive(Clone, Debug)]
pub enum ZSet {
    Pack(Pack),
    Skip(Box<SkipList>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Pack(Pack::default())
    }
}

impl ZSet {
    /// An empty set for a first member of `member_len` bytes (Redis's ZADD:
    /// skiplist right away when the member or the limits exclude listpack).
    pub fn new_for(member_len: usize, lim: &Limits) -> ZSet {
        if lim.entries == 0 || member_len > lim.value {
            ZSet::Skip(Box::default())
        } else {
            ZSet::Pack(Pack::default())
        }
    }

    /// A set from entries sorted by (score, member) with distinct members,
    /// in the encoding that fits (zsetConvertToListpackIfNeeded).
    pub fn from_sorted(entries: Vec<(Sds, f64)>, lim: &Limits) -> ZSet {
        // As lpSafeToAdd, a pack stays below 1 GiB (an entry is its
        // member and at most ENTRY_OVERHEAD bytes).
        let fits = entries.len() <= lim.entries
            && entries.iter().all(|(m, _)| m.len() <= lim.value)
            && entries
                .iter()
                .map(|(m, _)| m.len() + ENTRY_OVERHEAD)
                .fold(0usize, usize::saturating_add)
                <= PACK_MAX_BYTES;
        if fits {
            let mut p = Pack::default();
            p.extend_sorted(entries.iter().map(|(m, s)| (&m[..], *s)));
            ZSet::Pack(p)
        } else {
            let mut s = SkipList::default();
            for (m, sc) in entries {
                s.insert_new(Key::new(&m), sc);
            }
            ZSet::Skip(Box::new(s))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.len(),
            ZSet::Skip(s) => s.len as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True for the listpack encoding.
    pub fn is_listpack(&self) -> bool {
        matches!(self, ZSet::Pack(_))
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => p.find(member).map(|(_, _, s)| s),
            ZSet::Skip(s) => s.find(member).map(|i| s.nodes[i as usize].score),
        }
    }

    /// Converts to the skiplist encoding.
    fn convert(&mut self) {
        if let ZSet::Pack(p) = self {
            let mut s = SkipList::default();
            p.for_each(|m, sc| s.insert_new(Key::new(m), sc));
            *self = ZSet::Skip(Box::new(s));
        }
    }

    /// Adds `member` or changes its score. Returns the previous score.
    pub fn insert(&mut self, member: &[u8], score: f64, lim: &Limits) -> Option<f64> {
        if let ZSet::Pack(p) = self {
            if let Some((off, end, old)) = p.find(member) {
                if old != score {
                    p.remove_at(off, end);
                    p.insert_sorted(member, score);
                }
                return Some(old);
            }
            if p.len() < lim.entries
                && member.len() <= lim.value
                && p.len() < u32::MAX as usize
                && p.buf.len() + member.len() + ENTRY_OVERHEAD <= PACK_MAX_BYTES
            {
                p.insert_sorted(member, score);
                return None;
            }
            self.convert();
        }
        match self {
            ZSet::Skip(s) => s.insert(member, score),
            ZSet::Pack(_) => None,
        }
    }

    /// Removes `member`; returns its score. The caller gives memory back
    /// once for the command (`shrink_after`).
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => {
                let (off, end, s) = p.find(member)?;
                p.remove_at(off, end);
                Some(s)
            }
            ZSet::Skip(s) => s.remove(member),
        }
    }

    /// After a command's removals (`removed` members, by `remove`): gives
    /// memory back (`SkipList::shrink_after`) - once a command, as Redis's
    /// zremrangeGeneric, not per member.
    pub fn shrink_after(&mut self, removed: usize) {
        if let ZSet::Skip(s) = self {
            s.shrink_after(removed);
        }
    }

    /// How many leading elements (in order) satisfy `pred`; `pred` must
    /// hold for a prefix of the set.
    pub fn count_while(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Pack(p) => {
                let mut n = 0;
                let mut off = p.start();
                while let Some((m, s, next)) = p.entry(off) {
                    if !pred(s, m) {
                        break;
                    }
                    n += 1;
                    off = next;
                }
                n
            }
            ZSet::Skip(s) => s.count_while(|sc, m| pred(sc, m.get())),
        }
    }

    /// `count_while` for a predicate on the score alone: a skiplist's
    /// search then reads no node at its upper levels (`Upper`).
    pub fn count_while_score(&self, mut pred: impl FnMut(f64) -> bool) -> usize {
        match self {
            ZSet::Pack(_) => self.count_while(|s, _| pred(s)),
            ZSet::Skip(s) => s.count_while(|sc, _| pred(sc)),
        }
    }

    /// The 0-based forward rank and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let score = self.score(member)?;
        let r = match self {
            ZSet::Pack(_) => {
                self.count_while(|s, m| cmp_entry(s, m, score, member) == Ordering::Less)
            }
            ZSet::Skip(s) => s.count_while(|sc, m| precedes(sc, m, score, member)),
        };
        Some((r, score))
    }

    /// The element at forward rank `r`.
    pub fn get(&self, r: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Pack(p) => p.iter().nth(r),
            ZSet::Skip(s) => {
                let i = s.by_rank(r)?;
                let n = &s.nodes[i as usize];
                Some((&n.member, n.score))
            }
        }
    }

    /// Visits the elements of ranks `start..end`, forward or (`rev`) from
    /// `end - 1` down to `start`.
    pub fn for_range<'a>(
        &'a self,
        start: usize,
        end: usize,
        rev: bool,
        mut f: impl FnMut(&'a [u8], f64),
    ) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match self {
            ZSet::Pack(p) => {
                if rev {
                    let offs: Vec<usize> = p.offsets().skip(start).take(end - start).collect();
                    for &o in offs.iter().rev() {
                        if let Some((m, s, _)) = p.entry(o) {
                            f(m, s);
                        }
                    }
                } else {
                    p.iter()
                        .skip(start)
                        .take(end - start)
                        .for_each(|(m, s)| f(m, s));
                }
            }
            ZSet::Skip(s) => {
                let first = if rev { end - 1 } else { start };
                let Some(mut x) = s.by_rank(first) else {
                    return;
                };
                for _ in start..end {
                    let n = &s.nodes[x as usize];
                    f(&n.member, n.score);
                    x = if rev { n.back } else { n.l0.next };
                    if x == NIL {
                        break;
                    }
                }
            }
        }
    }

    /// Every element in order.
    pub fn for_each<'a>(&'a self, f: impl FnMut(&'a [u8], f64)) {
        self.for_range(0, self.len(), false, f);
    }

    /// Removes the elements of ranks `start..end`; returns how many.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match self {
            ZSet::Pack(p) => {
                let offs: Vec<usize> = p.offsets().skip(start).take(end - start + 1).collect();
                let from = offs[0];
                let to = offs.get(end - start).copied().unwrap_or(p.buf.len());
                p.remove_span(from, to, end - start);
            }
            ZSet::Skip(_) => {
                // Collect the members first, then delete each (O(k log n)).
                let mut victims = Vec::with_capacity(end - start);
                self.for_range(start, end, false, |m, _| victims.push(Sds::new(m)));
                if let ZSet::Skip(s) = self {
                    for m in &victims {
                        s.remove(m);
                    }
                    // Once for the range, as Redis's zremrangeGeneric.
                    s.shrink_after(victims.len());
                }
            }
        }
        end - start
    }

    /// ZSCAN: a cursor step. A listpack is returned whole (cursor 0, like
    /// Redis); a skiplist is walked by arena slot from the top down (the
    /// cursor: the slots below it are still to visit; 0 starts at the top
    /// and ends the scan). A node keeps its slot (a rescore gets it back
    /// from the free list) except when a shrink moves it to a lower slot
    /// (`SkipList::compact`), which a downward walk still reaches: an
    /// element present for the whole scan is returned at least once (twice
    /// only if moved past the cursor, which SCAN allows).
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8], f64)) -> u64 {
        match self {
            ZSet::Pack(_) => {
                self.for_each(f);
                0
            }
            ZSet::Skip(s) => {
                let top = s.nodes.len();
                // Slots at or above a cursor beyond the arena were free
                // (truncated by a shrink) or never used.
                let mut i = match usize::try_from(cursor) {
                    Ok(0) | Err(_) => top,
                    Ok(c) => c.min(top),
                };
                // As Redis's dictScan (emptyVisitLimit), a call also ends
                // after 10 x COUNT free slots: a big set with scattered
                // free slots must not make one call walk them all.
                let (mut visited, mut empty) = (0, 0usize);
                let max_empty = count.saturating_mul(10);
                while i > 0 && visited < count && empty < max_empty {
                    i -= 1;
                    let n = &s.nodes[i];
                    if n.back != FREE {
                        f(&n.member, n.score);
                        visited += 1;
                    } else {
                        empty += 1;
                    }
                }
                i as u64
            }
        }
    }

    /// Bytes of heap used (approximate, for MEMORY USAGE-like reports).
    pub fn heap_size(&self) -> usize {
        match self {
            // One allocation, counted as malloc takes it (a 10-byte
            // listpack costs 32).
            ZSet::Pack(p) => match p.buf.capacity() {
                0 => 0,
                n => crate::memory::chunk_size(n),
            },
            ZSet::Skip(s) => {
                let alloc = |n: usize| match n {
                    0 => 0,
                    n => crate::memory::chunk_size(n),
                };
                alloc(std::mem::size_of::<SkipList>())
                    + alloc(s.nodes.capacity() * std::mem::size_of::<Node>())
                    + alloc(s.uppers.capacity() * std::mem::size_of::<Upper>())
                    + alloc(s.free_uppers.capacity() * std::mem::size_of::<Vec<u32>>())
                    + s.free_uppers
                        .iter()
                        .map(|v| alloc(v.capacity() * 4))
                        .sum::<usize>()
                    + s.dict
                        .allocations()
                        .into_iter()
                        .filter(|&n| n > 0)
                        .map(crate::memory::chunk_size)
                        .sum::<usize>()
                    + s.nodes
                        .iter()
                        .map(|n| {
                            if n.member.len() > 22 {
                                n.member.len()
                            } else {
                                0
                            }
                        })
                        .sum::<usize>()
            }
        }
    }
}

// ---------------------------------------------------------------------------
// listpack: one sorted buffer.
// ---------------------------------------------------------------------------

/// The most bytes of an entry besides its member: a 10-byte LEB128 header
/// and an 8-byte score (and a count header growing by a byte).
const ENTRY_OVERHEAD: usize = 20;

/// The packed encoding: `[LEB128 count]` then entries
/// `[LEB128 (member length << 2 | score tag)][member][score]` in (score,
/// member) order. The score is stored as small as it exactly fits (like
/// listpack's integer encodings): tag 0 a zigzag LEB128 integer, 1 an f32,
/// 2 an f64. An empty set has an empty buffer.
#[derive(Clone, Debug, Default)]
pub struct Pack {
    /// 16 bytes (u32 length and capacity), so that `ZSet` is 16 and
    /// `Value` 24; new members stay below `PACK_MAX_BYTES` (the
    /// conversions check; a rescore grows it in place unchecked, as in
    /// Redis 7.0: at most ~2.3x, still far below 4 GiB).
    buf: Vec32,
}

impl Pack {
    /// (entry count, header length): the count is a LEB128 header.
    #[inline]
    fn head(&self) -> (usize, usize) {
        read_varint(&self.buf).unwrap_or((0, 0))
    }

    pub fn len(&self) -> usize {
        self.head().0
    }

    /// Offset of the first entry.
    #[inline]
    fn start(&self) -> usize {
        self.head().1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rewrites the count header (the buffer always has one once built).
    fn set_len(&mut self, n: usize) {
        let mut hb = [0u8; 10];
        let hn = write_varint(n, &mut hb);
        let old = self.start();
        if hn == old {
            self.buf[..hn].copy_from_slice(&hb[..hn]);
        } else {
            self.buf.edit().splice(..old, hb[..hn].iter().copied());
        }
    }

    /// The entry at byte offset `off`: (member, score, next offset).
    #[inline]
    fn entry(&self, off: usize) -> Option<(&[u8], f64, usize)> {
        let b = self.buf.get(off..)?;
        let (hdr, n) = read_varint(b)?;
        let (len, tag) = (hdr >> 2, hdr & 3);
        let m = b.get(n..n + len)?;
        let rest = &b[n + len..];
        let (score, sn) = match tag {
            0 => {
                let (z, k) = read_varint(rest)?;
                let z = z as u64;
                (((z >> 1) as i64 ^ -((z & 1) as i64)) as f64, k)
            }
            1 => (
                f32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as f64,
                4,
            ),
            _ => (f64::from_le_bytes(rest.get(..8)?.try_into().ok()?), 8),
        };
        Some((m, score, off + n + len + sn))
    }

    /// Encodes one entry into `out` (member bytes go between header and
    /// score); returns (header length, score bytes, score length).
    fn encode(member_len: usize, score: f64) -> ([u8; 10], usize, [u8; 10], usize) {
        let mut sb = [0u8; 10];
        let (tag, sn) = if score.fract() == 0.0 && score.abs() < 9.0e15 {
            let i = score as i64;
            let z = ((i << 1) ^ (i >> 63)) as u64 as usize;
            (0, write_varint(z, &mut sb))
        } else if (score as f32) as f64 == score {
            sb[..4].copy_from_slice(&(score as f32).to_le_bytes());
            (1, 4)
        } else {
            sb[..8].copy_from_slice(&score.to_le_bytes());
            (2, 8)
        };
        let mut hb = [0u8; 10];
        let hn = write_varint((member_len << 2) | tag, &mut hb);
        (hb, hn, sb, sn)
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let mut off = self.start();
        std::iter::from_fn(move || {
            let (m, s, next) = self.entry(off)?;
            off = next;
            Some((m, s))
        })
    }

    fn offsets(&self) -> impl Iterator<Item = usize> + '_ {
        let mut off = self.start();
        std::iter::from_fn(move || {
            let (_, _, next) = self.entry(off)?;
            let here = off;
            off = next;
            Some(here)
        })
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        self.iter().for_each(|(m, s)| f(m, s));
    }

    /// (offset, end offset, score) of `member`.
    fn find(&self, member: &[u8]) -> Option<(usize, usize, f64)> {
        let mut off = self.start();
        while let Some((m, s, next)) = self.entry(off) {
            if m == member {
                return Some((off, next, s));
            }
            off = next;
        }
        None
    }

    fn remove_at(&mut self, off: usize, end: usize) {
        self.remove_span(off, end, 1);
    }

    fn remove_span(&mut self, off: usize, end: usize, n: usize) {
        self.buf.edit().drain(off..end);
        let len = self.len() - n;
        if len == 0 {
            self.buf = Vec32::new();
        } else {
            self.set_len(len);
            self.buf.edit().shrink_to_fit();
        }
    }

    fn insert_sorted(&mut self, member: &[u8], score: f64) {
        // Redis's listpack keeps a zero score as the integer 0: -0 is lost.
        let score = if score == 0.0 { 0.0 } else { score };
        if self.buf.is_empty() {
            self.buf = Vec32::from(vec![0]);
        }
        let mut off = self.start();
        while let Some((m, s, next)) = self.entry(off) {
            if cmp_entry(s, m, score, member) == Ordering::Greater {
                break;
            }
            off = next;
        }
        let (hb, hn, sb, sn) = Self::encode(member.len(), score);
        let size = hn + member.len() + sn;
        let len = self.len();
        // Open a gap of `size` bytes at `off` and fill it.
        {
            let mut b = self.buf.edit();
            b.reserve_exact(size);
            let old = b.len();
            b.resize(old + size, 0);
            b.copy_within(off..old, off + size);
        }
        self.buf[off..off + hn].copy_from_slice(&hb[..hn]);
        self.buf[off + hn..off + hn + member.len()].copy_from_slice(member);
        self.buf[off + hn + member.len()..off + size].copy_from_slice(&sb[..sn]);
        self.set_len(len + 1);
    }

    /// Appends entries already in order (building a new set).
    fn extend_sorted<'a>(&mut self, entries: impl Iterator<Item = (&'a [u8], f64)>) {
        let mut len = self.len();
        {
            let mut b = self.buf.edit();
            if b.is_empty() {
                b.push(0);
            }
            for (m, s) in entries {
                let s = if s == 0.0 { 0.0 } else { s };
                let (hb, hn, sb, sn) = Self::encode(m.len(), s);
                b.extend_from_slice(&hb[..hn]);
                b.extend_from_slice(m);
                b.extend_from_slice(&sb[..sn]);
                len += 1;
            }
        }
        if len == 0 {
            self.buf = Vec32::new();
        } else {
            self.set_len(len);
            self.buf.edit().shrink_to_fit();
        }
    }
}

fn write_varint(mut v: usize, out: &mut [u8]) -> usize {
    let mut i = 0;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out[i] = b;
            return i + 1;
        }
        out[i] = b | 0x80;
        i += 1;
    }
}

#[inline]
fn read_varint(b: &[u8]) -> Option<(usize, usize)> {
    let mut v = 0usize;
    for (i, &c) in b.iter().enumerate().take(10) {
        v |= ((c & 0x7f) as usize) << (7 * i);
        if c & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

// ---------------------------------------------------------------------------
// skiplist: Redis's zskiplist with spans, nodes in an arena.
// ---------------------------------------------------------------------------

const MAX_LEVEL: usize = 32;
/// No node.
const NIL: u32 = u32::MAX;
/// The header (not in the arena).
const HEAD: u32 = u32::MAX - 1;
/// `back` of a free arena slot.
const FREE: u32 = u32::MAX - 2;

#[derive(Clone, Copy, Debug)]
struct Level {
    next: u32,
    span: u32,
}

const EMPTY_LEVEL: Level = Level { next: NIL, span: 0 };

/// What a link at level 1 and up knows of the node it leads to (as
/// Redis's zskiplistNode has its levels inline, one cache miss a search
/// step): its score, compared without reading the node (a tie reads the
/// member), and its `upper`, where the step goes on. Meaningless where the
/// link ends (`next == NIL`). Every write of an upper link's `next` keeps
/// it right; a node moved to another slot keeps both (see `compact`).
/// Packed to 4-byte alignment: an upper entry takes 20 bytes, not 24
/// (the score is only ever copied out, an unaligned load on x86).
#[derive(Clone, Copy, Debug)]
#[repr(C, packed(4))]
struct Cache {
    upper: u32,
    score: f64,
}

const EMPTY_CACHE: Cache = Cache {
    upper: 0,
    score: 0.0,
};

/// An upper level's entry in `SkipList::uppers` (20 bytes).
#[derive(Clone, Copy, Debug)]
struct Upper {
    l: Level,
    c: Cache,
}

const EMPTY_UPPER: Upper = Upper {
    l: EMPTY_LEVEL,
    c: EMPTY_CACHE,
};
const _: () = assert!(std::mem::size_of::<Upper>() == 20);

/// A member read only if a comparison needs it (a score tie): a search
/// step at the upper levels has the next node's score from the link.
#[derive(Clone, Copy)]
struct LazyMember<'a> {
    nodes: &'a [Node],
    x: u32,
}

impl<'a> LazyMember<'a> {
    #[inline]
    fn get(self) -> &'a [u8] {
        &self.nodes[self.x as usize].member
    }
}

/// Where an entry goes in a skiplist (`SkipList::path`), per level: the
/// node after which it goes, that node's `upper` (relinking above level 0
/// then reads no node) and its rank.
struct Path {
    node: [u32; MAX_LEVEL],
    upper: [u32; MAX_LEVEL],
    rank: [usize; MAX_LEVEL],
}

/// `cmp_entry(s, m, score, member) == Less`, reading `m` on a tie only.
#[inline]
fn precedes(s: f64, m: LazyMember<'_>, score: f64, member: &[u8]) -> bool {
    if s < score {
        true
    } else if s > score {
        false
    } else {
        m.get() < member
    }
}

/// A vacated arena slot.
const FREE_NODE: Node = Node {
    member: Key::Inline {
        len: 0,
        data: [0; 22],
    },
    score: 0.0,
    back: FREE,
    l0: EMPTY_LEVEL,
    upper: 0,
    levels: 0,
};

/// An index of at most this many positions never shrinks (as sets' and
/// hashes'): a small set does not thrash between growing and shrinking.
const SHRINK_MIN: usize = 64;
/// An arena of at most this many slots is never compacted for its free
/// slots alone (tiny arenas would compact at every few removals; above
/// it, a free slot is a whole 56-byte node worth giving back).
const ARENA_MIN: usize = 8;

/// Spare arena slots (or free-list entries) from which a compaction hands
/// the old allocation to the lazyfree thread (3.5 MB of nodes).
#[cfg(not(test))]
const LAZYFREE_SLOTS: usize = 1 << 16;
/// Tests' sets of a few thousand members take that path too.
#[cfg(test)]
const LAZYFREE_SLOTS: usize = 1 << 10;

/// A compaction in steps (`SkipList::compact_steps`) moves up to two nodes
/// per member a command removed (a move costs about what a removal does:
/// a path search, but only for the one node in four with upper levels),
/// plus `STEP_MOVES`, at most `STEP_MOVES_MAX` members' worth: the set's
/// own removals outpace it only in commands removing thousands.
const STEP_MOVES: usize = 2;
const STEP_MOVES_MAX: usize = 2048;
/// Spare arena slots (beyond an eighth of the length) from which the
/// compaction in steps gives capacity back (~230 KB).
#[cfg(not(test))]
const TRIM_SLOTS: usize = 1 << 12;
#[cfg(test)]
const TRIM_SLOTS: usize = 64;

/// Upper entries a repack (`SkipList::maybe_repack_uppers`) moves at
/// once: ~3/4 as many multi-level nodes, a cache miss each.
#[cfg(not(test))]
const UPPERS_AT_ONCE: usize = 1 << 14;
/// Tests' sets of a few thousand members repack too.
#[cfg(test)]
const UPPERS_AT_ONCE: usize = 1 << 12;

/// A compaction (`SkipList::compact`) moves up to this many nodes at once:
/// O(members) random accesses (~100-350 ns a moved node) plus a pass over
/// the free list's u32s, a few milliseconds at most.
#[cfg(not(test))]
const COMPACT_AT_ONCE: usize = 1 << 14;
/// Tests cross the limit with small sets.
#[cfg(test)]
const COMPACT_AT_ONCE: usize = 300;

#[derive(Clone, Debug)]
struct Node {
    /// A `Key` (24 bytes, inline up to 22): members never change.
    member: Key,
    score: f64,
    back: u32,
    l0: Level,
    /// Levels 1..`levels` live in `SkipList::uppers` from this index (the
    /// ~75% of nodes with one level use none): no allocation per node.
    upper: u32,
    levels: u8,
}

/// The big encoding: skiplist (order, ranks) + member index (lookups).
#[derive(Clone, Debug)]
pub struct SkipList {
    nodes: Vec<Node>,
    /// The free slots, a doubly linked list threaded through them (a free
    /// node's `l0.next` is the next free slot, its `upper` the previous):
    /// any one leaves the list in O(1), which the compaction in steps
    /// needs when it cuts a free slot off the arena's top. Last freed,
    /// first reused: a rescore or a rollback gets its node's slot back.
    free_head: u32,
    free_len: u32,
    /// A big set compacting in steps (`compact_steps`).
    compacting: bool,
    head: [Level; MAX_LEVEL],
    /// The header's links' caches (index = level; level 0's unused).
    head_cache: [Cache; MAX_LEVEL],
    tail: u32,
    len: u32,
    level: usize,
    /// Member hash -> node, growing incrementally (store/index.rs).
    dict: PosIndex,
    hasher: KeyState,
    /// Upper levels of all nodes, in blocks of `levels - 1`.
    uppers: Vec<Upper>,
    /// Freed blocks by size (index = block length - 1).
    free_uppers: Vec<Vec<u32>>,
}

impl Default for SkipList {
    fn default() -> Self {
        SkipList {
            nodes: Vec::new(),
            free_head: NIL,
            free_len: 0,
            compacting: false,
            head: [EMPTY_LEVEL; MAX_LEVEL],
            head_cache: [EMPTY_CACHE; MAX_LEVEL],
            tail: NIL,
            len: 0,
            level: 1,
            dict: PosIndex::new(),
            hasher: KeyState::default(),
            uppers: Vec::new(),
            free_uppers: Vec::new(),
        }
    }
}

thread_local! {
    static LEVEL_RNG: Cell<u64> = const { Cell::new(0x9E37_79B9_7F4A_7C15) };
    /// Set while a transaction journal records (store/journal.rs).
    static SHRINKS_DEFERRED: Cell<bool> = const { Cell::new(false) };
    /// A shrink was skipped since `defer_shrinks(true)`.
    static SHRINK_SKIPPED: Cell<bool> = const { Cell::new(false) };
}

/// While a transaction (MULTI/EXEC with rollback, a script) records undo
/// information, sorted sets do not shrink: a rollback re-inserts removed
/// members into the free slots they left (last out, first in), and a
/// compaction in between would have used those slots for moved nodes, so
/// the members would come back at the arena's top - above a ZSCAN cursor
/// in progress, which would then miss them. The journal's commit shrinks
/// the sorted sets it touched if one was skipped (`take_skipped_shrink`).
pub fn defer_shrinks(on: bool) {
    SHRINKS_DEFERRED.set(on);
    if on {
        SHRINK_SKIPPED.set(false);
    }
}

/// True once if a shrink was skipped while deferred.
pub fn take_skipped_shrink() -> bool {
    SHRINK_SKIPPED.replace(false)
}

/// Redis's zslRandomLevel: level k with probability 0.25^(k-1).
fn random_level() -> usize {
    LEVEL_RNG.with(|r| {
        let mut x = r.get();
        let mut level = 1;
        loop {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 48;
            if v >= 0x4000 || level >= MAX_LEVEL {
                break;
            }
            level += 1;
        }
        r.set(x);
        level
    })
}

impl SkipList {
    #[inline]
    fn lv(&self, x: u32, i: usize) -> Level {
        if x == HEAD {
            self.head[i]
        } else {
            let n = &self.nodes[x as usize];
            match i {
                0 => n.l0,
                _ => self.uppers[n.upper as usize + i - 1].l,
            }
        }
    }

    /// Link `i >= 1` of node `x` whose `upper` is `xu` (a search has it
    /// from the link it came by, not reading `x`).
    #[inline]
    fn up(&self, x: u32, xu: u32, i: usize) -> Upper {
        if x == HEAD {
            Upper {
                l: self.head[i],
                c: self.head_cache[i],
            }
        } else {
            self.uppers[xu as usize + i - 1]
        }
    }

    /// Starts loading node `x`: a walk that reaches it above level 0 (by
    /// the links' caches) reads it at level 0 if it stops there, a cache
    /// miss that overlaps the next step's this way.
    #[inline]
    fn prefetch(&self, x: u32) {
        #[cfg(target_arch = "x86_64")]
        if let Some(n) = self.nodes.get(x as usize) {
            // SAFETY: a prefetch is only a hint: it never faults and
            // changes no memory (SSE is baseline on x86_64).
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    std::ptr::from_ref(n).cast(),
                );
            }
        }
    }

    /// `up`'s entry to write.
    #[inline]
    fn up_mut(&mut self, x: u32, xu: u32, i: usize) -> (&mut Level, &mut Cache) {
        debug_assert!(i > 0);
        if x == HEAD {
            return (&mut self.head[i], &mut self.head_cache[i]);
        }
        let u = &mut self.uppers[xu as usize + i - 1];
        (&mut u.l, &mut u.c)
    }

    #[inline]
    fn lv_mut(&mut self, x: u32, i: usize) -> &mut Level {
        if x == HEAD {
            return &mut self.head[i];
        }
        let n = &mut self.nodes[x as usize];
        match i {
            0 => &mut n.l0,
            _ => &mut self.uppers[n.upper as usize + i - 1].l,
        }
    }

    #[inline]
    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        self.find_h(member, self.hash(member))
    }

    /// The cron's step for an idle sorted set (store/rehash.rs): moves up
    /// to `buckets` buckets of a running dict migration, or else that many
    /// nodes of a compaction in steps; true if either still runs.
    pub fn migrate(&mut self, buckets: usize) -> bool {
        if self.dict.is_migrating() {
            let (nodes, hasher) = (&self.nodes, &self.hasher);
            return self
                .dict
                .migrate(buckets, |i| hasher.hash_one(&nodes[i as usize].member[..]))
                || self.compacting;
        }
        self.compacting && self.compact_steps(buckets)
    }

    /// Positions the dict's old table still holds plus the free slots a
    /// compaction in steps still has to close (0: neither runs).
    pub fn migration_left(&self) -> usize {
        self.dict.migration_left()
            + if self.compacting {
                self.free_len as usize
            } else {
                0
            }
    }

    /// `find` with the member's hash already computed.
    fn find_h(&self, member: &[u8], h: u64) -> Option<u32> {
        let nodes = &self.nodes;
        self.dict
            .find(h, |i| &nodes[i as usize].member[..] == member)
    }

    /// Count of leading elements satisfying `pred` (a prefix property).
    fn count_while(&self, mut pred: impl FnMut(f64, LazyMember<'_>) -> bool) -> usize {
        let nodes = &self.nodes[..];
        let (mut x, mut xu, mut rank) = (HEAD, 0, 0usize);
        for i in (1..self.level).rev() {
            loop {
                let u = self.up(x, xu, i);
                if u.l.next == NIL || !pred(u.c.score, LazyMember { nodes, x: u.l.next }) {
                    break;
                }
                rank += u.l.span as usize;
                (x, xu) = (u.l.next, u.c.upper);
                self.prefetch(x);
            }
        }
        loop {
            let l = self.lv(x, 0);
            if l.next == NIL
                || !pred(
                    nodes[l.next as usize].score,
                    LazyMember { nodes, x: l.next },
                )
            {
                break;
            }
            rank += l.span as usize;
            x = l.next;
        }
        rank
    }

    /// The node at 0-based rank `r`.
    fn by_rank(&self, r: usize) -> Option<u32> {
        if r >= self.len as usize {
            return None;
        }
        let target = r + 1;
        let (mut x, mut xu, mut traversed) = (HEAD, 0, 0usize);
        for i in (1..self.level).rev() {
            loop {
                let u = self.up(x, xu, i);
                if u.l.next == NIL || traversed + u.l.span as usize > target {
                    break;
                }
                traversed += u.l.span as usize;
                (x, xu) = (u.l.next, u.c.upper);
                self.prefetch(x);
            }
            if traversed == target {
                return Some(x);
            }
        }
        loop {
            let l = self.lv(x, 0);
            if l.next == NIL || traversed + l.span as usize > target {
                break;
            }
            traversed += l.span as usize;
            x = l.next;
        }
        (traversed == target).then_some(x)
    }

    /// Where (score, member) goes (`Path`); levels `lowest` and up only
    /// (the others stay `HEAD`, 0).
    fn path(&self, score: f64, member: &[u8], lowest: usize) -> Path {
        let mut update = [HEAD; MAX_LEVEL];
        let mut upper = [0u32; MAX_LEVEL];
        let mut rank = [0usize; MAX_LEVEL];
        let nodes = &self.nodes[..];
        let (mut x, mut xu, mut r) = (HEAD, 0, 0usize);
        for i in (lowest.max(1)..self.level).rev() {
            loop {
                let u = self.up(x, xu, i);
                if u.l.next == NIL
                    || !precedes(u.c.score, LazyMember { nodes, x: u.l.next }, score, member)
                {
                    break;
                }
                r += u.l.span as usize;
                (x, xu) = (u.l.next, u.c.upper);
                self.prefetch(x);
            }
            update[i] = x;
            upper[i] = xu;
            rank[i] = r;
        }
        if lowest == 0 {
            loop {
                let l = self.lv(x, 0);
                if l.next == NIL {
                    break;
                }
                let n = &nodes[l.next as usize];
                if cmp_entry(n.score, &n.member, score, member) != Ordering::Less {
                    break;
                }
                r += l.span as usize;
                x = l.next;
            }
            update[0] = x;
            rank[0] = r;
        }
        Path {
            node: update,
            upper,
            rank,
        }
    }

    /// Inserts a member known to be absent.
    fn insert_new(&mut self, member: Key, score: f64) {
        let h = self.hash(&member);
        self.insert_new_h(member, score, h);
    }

    /// Inserts a member known to be absent whose hash is `h`.
    fn insert_new_h(&mut self, member: Key, score: f64, h: u64) {
        let Path {
            node: update,
            upper: ups,
            rank,
        } = self.path(score, &member, 0);
        let lvl = random_level();
        if lvl > self.level {
            // `path` left `HEAD` and rank 0 above `self.level`.
            for i in self.level..lvl {
                self.head[i].span = self.len;
            }
            self.level = lvl;
        }
        let upper = if lvl > 1 {
            let k = lvl - 1;
            match self.free_uppers.get_mut(k - 1).and_then(Vec::pop) {
                Some(at) => at,
                None => {
                    let at = self.uppers.len() as u32;
                    self.uppers.resize(self.uppers.len() + k, EMPTY_UPPER);
                    at
                }
            }
        } else {
            0
        };
        let node = Node {
            member,
            score,
            back: NIL,
            l0: EMPTY_LEVEL,
            upper,
            levels: lvl as u8,
        };
        let x = match self.pop_free() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        let u = self.lv(update[0], 0);
        self.nodes[x as usize].l0 = Level {
            next: u.next,
            span: u.span,
        };
        *self.lv_mut(update[0], 0) = Level { next: x, span: 1 };
        // Above level 0 the predecessors are addressed by their `upper`
        // from `path` (their nodes are not read).
        for i in 1..lvl {
            let d = (rank[0] - rank[i]) as u32;
            let (ul, uc) = self.up_mut(update[i], ups[i], i);
            let l = std::mem::replace(
                ul,
                Level {
                    next: x,
                    span: d + 1,
                },
            );
            let c = std::mem::replace(uc, Cache { upper, score });
            self.uppers[upper as usize + i - 1] = Upper {
                l: Level {
                    next: l.next,
                    span: l.span - d,
                },
                c,
            };
        }
        for i in lvl..self.level {
            self.up_mut(update[i], ups[i], i).0.span += 1;
        }
        let back = if update[0] == HEAD { NIL } else { update[0] };
        self.nodes[x as usize].back = back;
        let next = self.nodes[x as usize].l0.next;
        if next != NIL {
            self.nodes[next as usize].back = x;
        } else {
            self.tail = x;
        }
        self.len += 1;
        let nodes = &self.nodes;
        let hasher = &self.hasher;
        self.dict
            .insert(h, x, |i| hasher.hash_one(&nodes[i as usize].member[..]));
    }

    /// Adds or rescores `member` (hashed once). Like Redis's
    /// zslUpdateScore, a new score that keeps the node between its
    /// neighbours is written in place; otherwise the node moves.
    fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let h = self.hash(member);
        let Some(x) = self.find_h(member, h) else {
            self.insert_new_h(Key::new(member), score, h);
            return None;
        };
        let n = &self.nodes[x as usize];
        let old = n.score;
        let (back, next) = (n.back, n.l0.next);
        let after_prev = back == NIL || {
            let p = &self.nodes[back as usize];
            cmp_entry(p.score, &p.member, score, member) == Ordering::Less
        };
        let before_next = next == NIL || {
            let q = &self.nodes[next as usize];
            cmp_entry(q.score, &q.member, score, member) == Ordering::Greater
        };
        if after_prev && before_next {
            let levels = n.levels as usize;
            if levels > 1 {
                // The links to `x` cache its score.
                let p = self.path(old, member, 1);
                for i in 1..levels {
                    let (l, c) = self.up_mut(p.node[i], p.upper[i], i);
                    debug_assert_eq!(l.next, x);
                    c.score = score;
                }
            }
            self.nodes[x as usize].score = score;
            return Some(old);
        }
        let key = self.unlink(x, h);
        self.insert_new_h(key, score, h);
        Some(old)
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let h = self.hash(member);
        let x = self.find_h(member, h)?;
        let score = self.nodes[x as usize].score;
        self.unlink(x, h);
        Some(score)
    }

    /// Removes node `x` (member hash `h`) and hands back its member.
    fn unlink(&mut self, x: u32, h: u64) -> Key {
        if self.dict.is_migrating() {
            // A migration step re-hashes members: before `x`'s is taken.
            let (nodes, hasher) = (&self.nodes, &self.hasher);
            self.dict
                .tick(|i| hasher.hash_one(&nodes[i as usize].member[..]));
        }
        let n = &self.nodes[x as usize];
        let p = self.path(n.score, &n.member, 0);
        let member = std::mem::replace(&mut self.nodes[x as usize].member, Key::new(b""));
        let xl = self.nodes[x as usize].l0;
        let ul = self.lv_mut(p.node[0], 0);
        *ul = Level {
            next: xl.next,
            span: ul.span + xl.span - 1,
        };
        let (xu, levels) = (self.nodes[x as usize].upper, self.nodes[x as usize].levels);
        for i in 1..self.level {
            if i < levels as usize {
                // The predecessor takes over `x`'s link and its cache.
                let xe = self.uppers[xu as usize + i - 1];
                let (ul, uc) = self.up_mut(p.node[i], p.upper[i], i);
                debug_assert_eq!(ul.next, x);
                *ul = Level {
                    next: xe.l.next,
                    span: ul.span + xe.l.span - 1,
                };
                *uc = xe.c;
            } else {
                self.up_mut(p.node[i], p.upper[i], i).0.span -= 1;
            }
        }
        let (next, back) = (self.nodes[x as usize].l0.next, self.nodes[x as usize].back);
        if next != NIL {
            self.nodes[next as usize].back = back;
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.head[self.level - 1].next == NIL {
            self.level -= 1;
        }
        self.len -= 1;
        self.dict.remove(h, |i| i == x);
        let n = &self.nodes[x as usize];
        if n.levels > 1 {
            let (k, upper) = (n.levels as usize - 1, n.upper);
            if self.free_uppers.len() < k {
                self.free_uppers.resize_with(k, Vec::new);
            }
            self.free_uppers[k - 1].push(upper);
        }
        if self.len == 0 && !SHRINKS_DEFERRED.get() {
            // Start over: no free-list garbage in an emptied set (not
            // while a journal records: see `defer_shrinks`).
            // SAFETY: a shorter length only forgets initialized slots
            // (sound), and every slot is free now, owning nothing (see
            // `compact`): a big arena is not read slot by slot to drop it.
            unsafe { self.nodes.set_len(0) };
            let nodes = std::mem::take(&mut self.nodes);
            if nodes.capacity() >= LAZYFREE_SLOTS {
                // Unmapping a big arena takes milliseconds (as `compact`).
                super::lazyfree::free(nodes);
            }
            (self.free_head, self.free_len, self.compacting) = (NIL, 0, false);
            self.uppers = Vec::new();
            self.free_uppers = Vec::new();
        } else {
            self.push_free(x);
        }
        member
    }

    /// Makes slot `x` (vacated: its member taken) the free list's head.
    fn push_free(&mut self, x: u32) {
        let head = self.free_head;
        if head != NIL {
            self.nodes[head as usize].upper = x;
        }
        let n = &mut self.nodes[x as usize];
        n.back = FREE;
        n.l0 = Level {
            next: head,
            span: 0,
        };
        n.upper = NIL;
        n.levels = 0;
        self.free_head = x;
        self.free_len += 1;
    }

    /// Takes the free list's head (the slot freed last).
    fn pop_free(&mut self) -> Option<u32> {
        let x = self.free_head;
        if x == NIL {
            return None;
        }
        self.take_free(x);
        Some(x)
    }

    /// Takes free slot `x` out of the free list.
    fn take_free(&mut self, x: u32) {
        let n = &self.nodes[x as usize];
        let (next, prev) = (n.l0.next, n.upper);
        match prev {
            NIL => self.free_head = next,
            p => self.nodes[p as usize].l0.next = next,
        }
        if next != NIL {
            self.nodes[next as usize].upper = prev;
        }
        self.free_len -= 1;
        // Inserts may fill the last free slot: nothing left to compact.
        self.compacting &= self.free_len > 0;
    }

    /// Gives back memory after removals (the cron's and a journal's end
    /// call: a small budget of steps). See `shrink_after`.
    pub fn maybe_shrink(&mut self) {
        self.shrink_after(0);
    }

    /// Gives back memory after a command removed `removed` members. As
    /// Redis's zsetDel resizes the dict below 10% fill (htNeedsResize), the
    /// member index shrinks then (once it is not migrating; the cron calls
    /// this again when it finishes an idle one, store/rehash.rs). The node
    /// arena (a free slot costs a whole node; Redis frees each node):
    /// - with at most `COMPACT_AT_ONCE` members left it is compacted at
    ///   once (`compact`, O(members)) when the index is sparse or 3/4 of
    ///   the arena's slots are free;
    /// - a bigger set compacts in steps (`compact_steps`) from when a fifth
    ///   of its arena is free until no slot is: each removal command moves
    ///   a few top nodes down into free slots and cuts the free top off,
    ///   and the cron moves an idle set on (`migrate`).
    ///
    /// Nothing here is O(arena).
    pub fn shrink_after(&mut self, removed: usize) {
        let len = self.len as usize;
        let migrating = self.dict.is_migrating();
        // The table's size, not `capacity()`: deleted markers lower that,
        // which would put the shrink off.
        let cap = full_capacity(self.dict.num_buckets());
        let sparse_index = !migrating && cap > SHRINK_MIN && len * 10 < cap;
        let small = len <= COMPACT_AT_ONCE;
        let sparse_arena = small
            && !migrating
            && (self.nodes.len() > ARENA_MIN && len * 4 < self.nodes.len() || self.compacting);
        let start = !small && !self.compacting && self.free_len as usize * 4 > len;
        if !(sparse_index || sparse_arena || start || self.compacting) {
            return;
        }
        if SHRINKS_DEFERRED.get() {
            // Only a shrink that was due makes the journal's end look.
            SHRINK_SKIPPED.set(true);
            return;
        }
        self.compacting |= start;
        if small && (sparse_index || sparse_arena) {
            self.compact();
        } else if self.compacting
            && self.compact_steps(STEP_MOVES + 2 * removed.min(STEP_MOVES_MAX))
        {
            // The cron moves it on if its writes stop (store/rehash.rs);
            // noted at each step, not only at the start: inserts that
            // filled every free slot end a compaction and drop the note.
            index::note_started();
        }
        if sparse_index {
            let (nodes, hasher) = (&self.nodes, &self.hasher);
            self.dict
                .shrink(|i| hasher.hash_one(&nodes[i as usize].member[..]));
        }
    }

    /// Up to `moves` steps of the compaction of a big set: the arena's top
    /// slot is cut off if free, or its node moves into a free slot (below
    /// it: every free slot is) first - O(log n), to find the node's
    /// predecessors. Moves only go down (ZSCAN walks slots downward, see
    /// `ZSet::scan`). Free top slots are cheap (O(1)): up to 8 a move.
    /// Ends when no slot is free; true while it runs.
    fn compact_steps(&mut self, moves: usize) -> bool {
        let (mut moved, mut cut) = (0, 0);
        while self.free_len > 0 && moved < moves && cut < 8 * moves {
            let top = (self.nodes.len() - 1) as u32;
            if self.nodes[top as usize].back == FREE {
                self.take_free(top);
                cut += 1;
            } else {
                let Some(hole) = self.pop_free() else {
                    break;
                };
                self.move_node(top, hole);
                moved += 1;
            }
            // SAFETY: a shorter length (`top` < the length) only forgets
            // the last slot, free now, which owns nothing (see `compact`).
            unsafe { self.nodes.set_len(top as usize) };
        }
        self.trim_arena();
        if !self.compacting {
            self.maybe_repack_uppers();
        }
        self.compacting
    }

    /// Moves live node `x` into free slot `to` (taken off the free list):
    /// its predecessors at every level, its successor's `back`, the tail
    /// and the index learn the new slot; it keeps its upper levels.
    fn move_node(&mut self, x: u32, to: u32) {
        let n = &self.nodes[x as usize];
        let levels = n.levels as usize;
        let update = match self.preds_behind(x, levels) {
            Some(u) => u,
            None => self.path(n.score, &n.member, 0).node,
        };
        let h = self.hasher.hash_one(&n.member[..]);
        let moved = std::mem::replace(&mut self.nodes[x as usize], FREE_NODE);
        let next = moved.l0.next;
        self.nodes[to as usize] = moved;
        for (i, &u) in update.iter().enumerate().take(levels) {
            let l = self.lv_mut(u, i);
            debug_assert_eq!(l.next, x, "the path leads to the node");
            l.next = to;
        }
        match next {
            NIL => self.tail = to,
            q => self.nodes[q as usize].back = to,
        }
        let slot = self.dict.find_mut(h, |p| p == x);
        debug_assert!(slot.is_some(), "a live node is indexed");
        if let Some(slot) = slot {
            *slot = to;
        }
    }

    /// Once a compaction in steps ends: if most of `uppers` is freed blocks
    /// (a set cut down from a much bigger one keeps its peak's upper
    /// levels, 20 bytes an entry) and the live entries are few enough to
    /// move at once (`UPPERS_AT_ONCE`; one walk of the level-1 list, a
    /// cache miss a multi-level node), packs the live blocks in list order
    /// into an exact new array and drops the freed ones.
    fn maybe_repack_uppers(&mut self) {
        let free = self.free_upper_entries();
        let live = self.uppers.len() - free.min(self.uppers.len());
        if free <= live || live > UPPERS_AT_ONCE {
            return;
        }
        let mut uppers: Vec<Upper> = Vec::with_capacity(live);
        // Per level, the entry of `uppers` linking to the next node there
        // (`usize::MAX`: the header's).
        let mut last = [usize::MAX; MAX_LEVEL];
        let mut x = if self.level > 1 {
            self.head[1].next
        } else {
            NIL
        };
        while x != NIL {
            let n = &self.nodes[x as usize];
            let (old, k) = (n.upper as usize, n.levels as usize - 1);
            let new = uppers.len() as u32;
            for (i, at) in last.iter_mut().enumerate().skip(1).take(k) {
                // The link to `x` at level i caches its new block.
                match *at {
                    usize::MAX => self.head_cache[i].upper = new,
                    j => uppers[j].c.upper = new,
                }
                *at = new as usize + i - 1;
            }
            uppers.extend_from_slice(&self.uppers[old..old + k]);
            self.nodes[x as usize].upper = new;
            x = uppers[new as usize].l.next;
        }
        let old = std::mem::replace(&mut self.uppers, uppers);
        if old.capacity() >= LAZYFREE_SLOTS {
            super::lazyfree::free(old);
        }
        self.free_uppers = Vec::new();
    }

    /// Entries of `uppers` in freed blocks (`free_uppers[k]` holds blocks
    /// of k + 1 entries).
    fn free_upper_entries(&self) -> usize {
        self.free_uppers
            .iter()
            .enumerate()
            .map(|(k, v)| v.len() * (k + 1))
            .sum()
    }

    /// The predecessors of node `x` at its `levels` levels, found by walking
    /// back along level 0: at level i it is the nearest node behind with
    /// more than i levels, ~4^i nodes back (three nodes in four have one
    /// level: `back` alone). `None` past `WALK_BACK` nodes (a node of four
    /// levels or more, mostly): a path search from the head is cheaper.
    fn preds_behind(&self, x: u32, levels: usize) -> Option<[u32; MAX_LEVEL]> {
        const WALK_BACK: usize = 24;
        let mut update = [HEAD; MAX_LEVEL];
        let (mut found, mut y) = (0, self.nodes[x as usize].back);
        for _ in 0..WALK_BACK {
            if y == NIL {
                // The head precedes at every level not found yet.
                return Some(update);
            }
            let n = &self.nodes[y as usize];
            while found < levels.min(n.levels as usize) {
                update[found] = y;
                found += 1;
            }
            if found == levels {
                return Some(update);
            }
            y = n.back;
        }
        None
    }

    /// Gives the arena's spare capacity back once it is a big share (the
    /// allocator's realloc: an mmap'd arena shrinks in place, unmapping
    /// its tail); some room is kept for growth.
    fn trim_arena(&mut self) {
        let (len, cap) = (self.nodes.len(), self.nodes.capacity());
        if cap - len > TRIM_SLOTS + len / 8 {
            self.nodes.shrink_to(len + len / 16);
        }
    }

    /// A shrink whatever the fill (tests): compacts a small set at once, a
    /// big one by steps; shrinks the index if asked.
    #[cfg(test)]
    fn shrink(&mut self, index: bool) {
        if self.len as usize <= COMPACT_AT_ONCE {
            self.compact();
        } else {
            self.compacting = self.free_len > 0;
            self.compact_steps(STEP_MOVES);
        }
        if index && !self.dict.is_migrating() {
            let (nodes, hasher) = (&self.nodes, &self.hasher);
            self.dict
                .shrink(|i| hasher.hash_one(&nodes[i as usize].member[..]));
        }
    }

    /// The live slots in list order. A level-0 walk is a chain of
    /// dependent cache misses (~200 ns a node in a big arena); instead the
    /// list is cut into segments at the nodes of level 3 and up (whose
    /// spans give each segment's ranks), and `LANES` segments are walked in
    /// turn, so that their misses overlap.
    fn order(&self) -> Vec<u32> {
        const LANES: usize = 8;
        let len = self.len as usize;
        let mut order = vec![NIL; len];
        // Segment starts (slot, 0-based rank): the first node, then each
        // node of level `lv` after it.
        let lv = 2.min(self.level - 1);
        let mut starts = vec![(self.head[0].next, 0usize)];
        let (mut x, mut rank) = (HEAD, 0usize);
        loop {
            let l = self.lv(x, lv);
            if l.next == NIL {
                break;
            }
            rank += l.span as usize;
            x = l.next;
            if rank > 1 {
                starts.push((x, rank - 1));
            }
        }
        // Per lane: (slot, rank, end of its segment).
        let mut lanes = [(NIL, 0usize, 0usize); LANES];
        let mut seg = 0;
        loop {
            let mut stepped = false;
            for lane in lanes.iter_mut() {
                if lane.1 >= lane.2 {
                    let Some(&(x, r)) = starts.get(seg) else {
                        continue;
                    };
                    let end = starts.get(seg + 1).map_or(len, |t| t.1);
                    *lane = (x, r, end.min(len));
                    seg += 1;
                }
                if lane.0 == NIL || lane.1 >= len {
                    // Unreachable while spans are right.
                    lane.1 = lane.2;
                    continue;
                }
                order[lane.1] = lane.0;
                lane.1 += 1;
                lane.0 = self.nodes[lane.0 as usize].l0.next;
                stepped = true;
            }
            if !stepped {
                break;
            }
        }
        order
    }

    /// Moves the live nodes at slots `len` and up into the free slots below
    /// `len` (only ever down: ZSCAN walks slots downward, see `ZSet::scan`),
    /// cuts the arena to `len` slots and packs the upper blocks (freed
    /// blocks dropped); the free lists end empty. O(len), never a pass over
    /// the whole arena: the holes come from one pass over the slots below
    /// `len`, and one pass over the nodes in list order (`order`) finds the
    /// movers, moves each into the next hole and relinks every level as it
    /// goes (it knows each node's predecessor at every level), so no link
    /// is looked up twice; the tail is cut off without visiting its slots
    /// (nor the free list: it just ends), and a big old allocation is
    /// unmapped on the lazyfree thread.
    fn compact(&mut self) {
        let len = self.len as usize;
        let top = self.nodes.len();
        // Every slot below `top` is live or free, so there are as many
        // holes (free slots below `len`) as live nodes at `len` and up.
        let holes: Vec<u32> = (0..len as u32)
            .filter(|&i| self.nodes[i as usize].back == FREE)
            .collect();
        let mut holes = holes.into_iter();
        // ~1/3 of an upper level per node (levels with p = 1/4).
        let mut uppers: Vec<Upper> = Vec::with_capacity(len / 3 + MAX_LEVEL);
        // Per level, the entry of `uppers` linking to the next node there
        // (`usize::MAX`: the header's).
        let mut last = [usize::MAX; MAX_LEVEL];
        let mut stray = false;
        let mut prev = NIL;
        for x in self.order() {
            debug_assert_ne!(x, NIL, "spans cover the list");
            if x == NIL {
                continue;
            }
            let mut at = x;
            if x as usize >= len {
                match holes.next() {
                    Some(to) => {
                        let moved = std::mem::replace(&mut self.nodes[x as usize], FREE_NODE);
                        let h = self.hasher.hash_one(&moved.member[..]);
                        self.nodes[to as usize] = moved;
                        let slot = self.dict.find_mut(h, |p| p == x);
                        debug_assert!(slot.is_some(), "a live node is indexed");
                        if let Some(slot) = slot {
                            *slot = to;
                        }
                        at = to;
                    }
                    None => stray = true,
                }
            }
            // The node's links still name old slots: read before relinking.
            let n = &mut self.nodes[at as usize];
            let (old_upper, k) = (n.upper as usize, (n.levels as usize).saturating_sub(1));
            n.back = prev;
            n.upper = if k > 0 { uppers.len() as u32 } else { 0 };
            match prev {
                NIL => self.head[0].next = at,
                p => self.nodes[p as usize].l0.next = at,
            }
            // The links to it cache its new `upper` (its score stays).
            let new_upper = uppers.len() as u32;
            for (i, l) in self.uppers[old_upper..old_upper + k].iter().enumerate() {
                match last[i + 1] {
                    usize::MAX => {
                        self.head[i + 1].next = at;
                        self.head_cache[i + 1].upper = new_upper;
                    }
                    j => {
                        uppers[j].l.next = at;
                        uppers[j].c.upper = new_upper;
                    }
                }
                last[i + 1] = uppers.len();
                uppers.push(*l);
            }
            prev = at;
        }
        // The last node at each level kept its `NIL` next.
        self.tail = prev;
        debug_assert!(!stray, "as many holes as movers");
        (self.free_head, self.free_len, self.compacting) = (NIL, 0, false);
        if stray {
            // Unreachable while spans and the free slots' marks are right:
            // keep the arena and list its free slots again.
            for i in 0..top as u32 {
                if self.nodes[i as usize].back == FREE {
                    self.push_free(i);
                }
            }
        }
        let nodes = &mut self.nodes;
        if !stray && top > len {
            debug_assert!(
                nodes[len..]
                    .iter()
                    .all(|n| n.back == FREE && matches!(n.member, Key::Inline { .. })),
                "the tail is free slots owning nothing"
            );
            // SAFETY: `len < top`, the old length, so the slots kept are
            // initialized and the ones cut off are only forgotten (never
            // unsound). They own nothing either: every slot from `len`
            // up is free, vacated above (`FREE_NODE`) or unlinked
            // (`unlink` swaps its member for an empty, inline `Key`). A
            // `truncate` would read each one (56 bytes) for its drop.
            unsafe { nodes.set_len(len) };
        }
        if nodes.capacity() - nodes.len() >= LAZYFREE_SLOTS {
            // Unmapping tens of MB takes milliseconds (page by page): the
            // kept nodes move to an exact new arena (a copy of at most
            // `COMPACT_AT_ONCE` nodes) and the old, emptied allocation is
            // freed on the lazyfree thread.
            let mut kept = Vec::with_capacity(nodes.len());
            kept.append(nodes);
            super::lazyfree::free(std::mem::replace(nodes, kept));
        } else {
            // Growing back doubles as usual.
            nodes.shrink_to_fit();
        }
        uppers.shrink_to_fit();
        self.uppers = uppers;
        self.free_uppers = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With limits that allow any size, a pack still converts before
    /// `PACK_MAX_BYTES` (4096 in tests; 1 GiB, Redis's lpSafeToAdd, in
    /// the server), by ZADD and when built sorted.
    #[test]
    fn pack_converts_before_its_byte_limit() {
        let lim = Limits {
            entries: usize::MAX,
            value: usize::MAX,
        };
        let member = |i: usize| format!("{i:0300}");
        let mut z = ZSet::default();
        let mut n = 0;
        while z.is_listpack() {
            if let ZSet::Pack(p) = &z {
                assert!(p.buf.len() <= PACK_MAX_BYTES);
            }
            z.insert(member(n).as_bytes(), n as f64, &lim);
            n += 1;
        }
        assert!((12..=14).contains(&n), "{n} members");
        assert_eq!(z.len(), n);
        let entries = (0..n)
            .map(|i| (Sds::new(member(i).as_bytes()), i as f64))
            .collect();
        let built = ZSet::from_sorted(entries, &lim);
        assert!(!built.is_listpack());
        assert_eq!(built.len(), n);
    }

    fn collect(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        let mut v = Vec::new();
        z.for_each(|m, s| v.push((m.to_vec(), s)));
        v
    }

    fn check(z: &ZSet, model: &std::collections::BTreeMap<Vec<u8>, f64>) {
        let mut want: Vec<(Vec<u8>, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
        want.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
        assert_eq!(collect(z), want);
        assert_eq!(z.len(), want.len());
        for (r, (m, s)) in want.iter().enumerate() {
            assert_eq!(z.rank(m), Some((r, *s)));
            assert_eq!(
                z.get(r).map(|(m, s)| (m.to_vec(), s)),
                Some((m.clone(), *s))
            );
        }
        let mut rev = Vec::new();
        z.for_range(0, z.len(), true, |m, s| rev.push((m.to_vec(), s)));
        rev.reverse();
        assert_eq!(rev, want);
        // Score-only counts (their search reads the links' caches).
        for (_, s) in &want {
            for t in [*s, *s + 0.5] {
                let n = want.iter().filter(|(_, x)| *x < t).count();
                assert_eq!(z.count_while_score(|x| x < t), n);
            }
        }
        if let ZSet::Skip(s) = z {
            s.validate();
        }
    }

    #[test]
    fn random_against_model() {
        let mut seed = 12345u64;
        let mut rnd = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for lim in [
            Limits::default(),
            Limits {
                entries: 4,
                value: 3,
            },
        ] {
            let mut z = ZSet::new_for(1, &lim);
            let mut model = std::collections::BTreeMap::new();
            for step in 0..3000 {
                let m = format!("m{}", rnd(300)).into_bytes();
                match rnd(4) {
                    0 | 1 => {
                        let s = rnd(50) as f64 - 25.0;
                        assert_eq!(z.insert(&m, s, &lim), model.insert(m, s));
                    }
                    2 => assert_eq!(z.remove(&m), model.remove(&m)),
                    _ => {
                        let a = rnd(20) as usize;
                        let b = a + rnd(5) as usize;
                        let mut gone = Vec::new();
                        z.for_range(a, b, false, |m, _| gone.push(m.to_vec()));
                        assert_eq!(z.remove_range(a, b), gone.len());
                        for g in gone {
                            model.remove(&g);
                        }
                    }
                }
                if step % 97 == 0 {
                    check(&z, &model);
                }
            }
            check(&z, &model);
        }
    }

    #[test]
    fn converts_at_limits_and_value_stays_small() {
        let lim = Limits {
            entries: 3,
            value: 5,
        };
        let mut z = ZSet::new_for(1, &lim);
        for (i, m) in ["a", "b", "c"].iter().enumerate() {
            z.insert(m.as_bytes(), i as f64, &lim);
        }
        assert!(z.is_listpack());
        z.insert(b"d", 0.0, &lim);
        assert!(!z.is_listpack());
        let mut y = ZSet::new_for(1, &lim);
        y.insert(b"toolong", 1.0, &lim);
        assert!(!y.is_listpack());
        assert_eq!(std::mem::size_of::<ZSet>(), 16);
        assert_eq!(std::mem::size_of::<Node>(), 56);
    }

    #[test]
    fn pack_scores_round_trip_in_every_encoding() {
        let lim = Limits::default();
        let scores = [
            0.0,
            1.0,
            -1.0,
            1.5,
            -2.25,
            0.1,
            1e300,
            -1e-300,
            5e-324,
            8.9e15,
            -9.5e15,
            f64::INFINITY,
            f64::NEG_INFINITY,
            123456789.0,
            3.4e38,
            16777217.0,
        ];
        let mut z = ZSet::new_for(1, &lim);
        for (i, s) in scores.iter().enumerate() {
            z.insert(format!("m{i}").as_bytes(), *s, &lim);
        }
        assert!(z.is_listpack());
        for (i, s) in scores.iter().enumerate() {
            assert_eq!(z.score(format!("m{i}").as_bytes()), Some(*s), "{s:e}");
        }
        // Entries are as small as their score allows.
        let mut small = ZSet::new_for(1, &lim);
        small.insert(b"ab", 3.0, &lim);
        small.insert(b"cd", 1.5, &lim);
        if let ZSet::Pack(p) = &small {
            assert_eq!(p.buf.len(), 1 + (1 + 2 + 1) + (1 + 2 + 4));
        }
    }

    #[test]
    fn pack_count_header_grows_and_shrinks() {
        let lim = Limits {
            entries: 1000,
            value: 64,
        };
        let mut z = ZSet::new_for(1, &lim);
        for i in 0..300 {
            z.insert(format!("m{i:03}").as_bytes(), i as f64, &lim);
            assert_eq!(z.len(), i + 1);
        }
        assert!(z.is_listpack());
        assert_eq!(z.get(299).map(|(m, _)| m.to_vec()), Some(b"m299".to_vec()));
        assert_eq!(z.remove_range(0, 200), 200);
        assert_eq!(z.len(), 100);
        assert_eq!(z.get(0), Some((&b"m200"[..], 200.0)));
        assert_eq!(z.remove_range(0, 100), 100);
        assert!(z.is_empty());
    }

    impl SkipList {
        /// Every structural invariant: links and spans at every level,
        /// the upper links' caches, back pointers, tail, the free list, and
        /// the index naming each live node's slot.
        fn validate(&self) {
            let live = self.nodes.iter().filter(|n| n.back != FREE).count();
            assert_eq!(live, self.len as usize);
            assert_eq!(self.nodes.len(), live + self.free_len as usize);
            // The free list: every free slot once, linked both ways.
            let (mut f, mut prev, mut n) = (self.free_head, NIL, 0);
            while f != NIL {
                let node = &self.nodes[f as usize];
                assert_eq!(node.back, FREE);
                assert_eq!(node.upper, prev);
                n += 1;
                assert!(n <= self.free_len, "a free list without a cycle");
                (prev, f) = (f, node.l0.next);
            }
            assert_eq!(n, self.free_len);
            assert!(!self.compacting || self.free_len > 0);
            // `compact` cuts free slots off without dropping them.
            for n in &self.nodes {
                if n.back == FREE {
                    assert!(matches!(n.member, Key::Inline { len: 0, .. }));
                }
            }
            assert_eq!(self.dict.len(), live);
            for (i, n) in self.nodes.iter().enumerate() {
                if n.back != FREE {
                    assert_eq!(self.find(&n.member), Some(i as u32));
                }
            }
            // Level 0 in order, with back pointers; ranks for the spans.
            let mut rank = vec![0usize; self.nodes.len()];
            let (mut x, mut prev, mut r) = (self.head[0].next, NIL, 0);
            while x != NIL {
                let n = &self.nodes[x as usize];
                assert_ne!(n.back, FREE);
                assert_eq!(n.back, prev);
                if prev != NIL {
                    let p = &self.nodes[prev as usize];
                    assert_eq!(
                        cmp_entry(p.score, &p.member, n.score, &n.member),
                        Ordering::Less
                    );
                }
                r += 1;
                rank[x as usize] = r;
                prev = x;
                x = n.l0.next;
            }
            assert_eq!(r, live);
            assert_eq!(self.tail, prev);
            for i in 0..self.level {
                let (mut x, mut at) = (HEAD, 0);
                loop {
                    let l = self.lv(x, i);
                    if l.next == NIL {
                        break;
                    }
                    let n = &self.nodes[l.next as usize];
                    assert!(n.levels as usize > i);
                    assert_eq!(at + l.span as usize, rank[l.next as usize]);
                    if i > 0 {
                        // The link's cache: the next node's score and upper.
                        let c = match x {
                            HEAD => self.head_cache[i],
                            _ => self.uppers[self.nodes[x as usize].upper as usize + i - 1].c,
                        };
                        assert_eq!(c.score.to_bits(), n.score.to_bits());
                        assert_eq!(c.upper, n.upper);
                    }
                    at = rank[l.next as usize];
                    x = l.next;
                }
            }
        }
    }

    /// A ZSCAN stepped between writes: each finished scan must have
    /// returned every member present from its start to its end (`kept`:
    /// the caller removes what it deletes).
    struct ScanCheck {
        cursor: u64,
        started: bool,
        seen: std::collections::HashSet<Vec<u8>>,
        kept: std::collections::HashSet<Vec<u8>>,
    }

    impl ScanCheck {
        fn new(model: &std::collections::BTreeMap<Vec<u8>, f64>) -> ScanCheck {
            ScanCheck {
                cursor: 0,
                started: false,
                seen: std::collections::HashSet::new(),
                kept: model.keys().cloned().collect(),
            }
        }

        /// One scan call of `count`; true if it ended a scan (checked; the
        /// next one starts at the next step).
        fn step(
            &mut self,
            z: &ZSet,
            count: usize,
            model: &std::collections::BTreeMap<Vec<u8>, f64>,
            label: &str,
        ) -> bool {
            if self.started && self.cursor == 0 {
                return false;
            }
            self.started = true;
            self.cursor = z.scan(self.cursor, count, |m, _| {
                self.seen.insert(m.to_vec());
            });
            if self.cursor != 0 {
                return false;
            }
            self.check(label);
            self.started = false;
            self.seen.clear();
            self.kept = model.keys().cloned().collect();
            true
        }

        /// The scan in progress to its end (or a whole new one), checked.
        fn finish(&mut self, z: &ZSet, label: &str) {
            let mut fresh = !self.started;
            while fresh || self.cursor != 0 {
                fresh = false;
                self.cursor = z.scan(self.cursor, 7, |m, _| {
                    self.seen.insert(m.to_vec());
                });
            }
            self.check(label);
        }

        fn check(&self, label: &str) {
            for m in &self.kept {
                assert!(self.seen.contains(m), "{label}: scan missed a member");
            }
        }
    }

    /// Removals (ZREM, ranges, pops) shrinking the arena, the upper levels
    /// and the index at random points, against a model: the structure
    /// stays whole, memory falls back with the members, and a scan running
    /// across it all returns every member present from its start to its end.
    #[test]
    fn shrinks_keep_the_set_whole_and_scans_complete() {
        let lim = Limits {
            entries: 0,
            value: 0,
        };
        let mut seed = 99u64;
        let mut rnd = |n: u64| crate::store::xorshift(&mut seed) % n;
        let (mut shrinks, mut scans) = (0, 0);
        for round in 0..12 {
            let mut z = ZSet::new_for(1, &lim);
            let mut model = std::collections::BTreeMap::new();
            let peak = 200 + rnd(3000) as usize;
            for i in 0..peak {
                let m = format!("m{i}-{}", "x".repeat(rnd(30) as usize)).into_bytes();
                let s = rnd(100) as f64;
                z.insert(&m, s, &lim);
                model.insert(m, s);
            }
            let peak_heap = z.heap_size();
            // A scan started now, stepped between writes.
            let mut scan = ScanCheck::new(&model);
            let label = format!("round {round}");
            let mut step = 0;
            while model.len() > 3 {
                step += 1;
                // Free slots before this step: a compaction leaves none.
                let had_free = matches!(&z, ZSet::Skip(s) if s.free_len > 0);
                match rnd(10) {
                    // Random members (scattered slots).
                    0..=4 => {
                        let r = rnd(model.len() as u64) as usize;
                        let m = model.keys().nth(r).cloned().unwrap_or_default();
                        assert_eq!(z.remove(&m), model.remove(&m));
                        z.shrink_after(1);
                        scan.kept.remove(&m);
                    }
                    // A rank range (ZREMRANGEBYRANK / ZPOPMIN / ZPOPMAX).
                    5 | 6 => {
                        let a = rnd(model.len() as u64) as usize;
                        let b = a + 1 + rnd(model.len() as u64 / 8 + 1) as usize;
                        let mut gone = Vec::new();
                        z.for_range(a, b, false, |m, _| gone.push(m.to_vec()));
                        assert_eq!(z.remove_range(a, b), gone.len());
                        for g in gone {
                            model.remove(&g);
                            scan.kept.remove(&g);
                        }
                    }
                    // Rescores and new members now and then.
                    7 => {
                        let r = rnd(model.len() as u64) as usize;
                        let m = model.keys().nth(r).cloned().unwrap_or_default();
                        let s = rnd(100) as f64;
                        assert_eq!(z.insert(&m, s, &lim), model.insert(m, s));
                    }
                    8 => {
                        let m = format!("new{round}-{step}").into_bytes();
                        let s = rnd(100) as f64;
                        assert_eq!(z.insert(&m, s, &lim), model.insert(m, s));
                    }
                    // A shrink whatever the fill.
                    _ => {
                        if let ZSet::Skip(s) = &mut z {
                            s.shrink(rnd(2) == 0);
                        }
                    }
                }
                if let ZSet::Skip(s) = &z
                    && had_free
                    && s.free_len == 0
                    && s.nodes.len() == s.len as usize
                    && s.free_uppers.is_empty()
                {
                    shrinks += 1;
                }
                if scan.step(&z, 1 + rnd(20) as usize, &model, &label) {
                    scans += 1;
                }
                if step % 13 == 0 {
                    check(&z, &model);
                    if let ZSet::Skip(s) = &z {
                        s.validate();
                    }
                }
            }
            check(&z, &model);
            if let ZSet::Skip(s) = &mut z {
                s.validate();
                // Finish an index migration (as the cron would); the next
                // removal's check then shrinks.
                while s.migrate(64) {}
                s.maybe_shrink();
                s.validate();
            }
            // The scan in progress to its end (or a whole new one).
            scan.finish(&z, &label);
            assert!(
                z.heap_size() * 20 < peak_heap,
                "round {round}: {} bytes of {peak_heap} for {} members",
                z.heap_size(),
                z.len()
            );
        }
        assert!(shrinks > 100, "{shrinks}");
        assert!(scans > 50, "{scans}");
    }

    /// A compaction after removals in every slot pattern (holes only at
    /// the bottom, only at the top, interleaved, random, by rank from
    /// either end, all but one): movers found by the level-0 walk go only
    /// down, into the holes, and the list, the upper levels, the index and
    /// inline and heap members come out whole, with no free slot left.
    #[test]
    fn compaction_moves_down_in_every_pattern() {
        let lim = Limits {
            entries: 0,
            value: 0,
        };
        let mut seed = 7u64;
        let mut rnd = |n: u64| crate::store::xorshift(&mut seed) % n;
        for pattern in 0..8 {
            for n in [9usize, 40, 250] {
                let mut z = ZSet::new_for(1, &lim);
                let mut model = std::collections::BTreeMap::new();
                // Slot i holds the i-th member added (a fresh arena).
                let members: Vec<Vec<u8>> = (0..n)
                    .map(|i| format!("m{i}-{}", "y".repeat(rnd(40) as usize)).into_bytes())
                    .collect();
                for m in &members {
                    let sc = rnd(30) as f64;
                    z.insert(m, sc, &lim);
                    model.insert(m.clone(), sc);
                }
                let by_rank: Vec<Vec<u8>> = {
                    let mut v = Vec::new();
                    z.for_each(|m, _| v.push(m.to_vec()));
                    v
                };
                let gone: Vec<&Vec<u8>> = match pattern {
                    0 => members[..n / 2].iter().collect(),
                    1 => members[n / 2..].iter().collect(),
                    2 => members.iter().step_by(2).collect(),
                    3 => members.iter().filter(|_| rnd(3) != 0).collect(),
                    4 => by_rank[..n * 3 / 4].iter().collect(),
                    5 => by_rank[n / 4..].iter().collect(),
                    6 => members[1..].iter().collect(),
                    _ => members[..n - 1].iter().collect(),
                };
                let ZSet::Skip(s) = &mut z else {
                    unreachable!()
                };
                let before: std::collections::HashMap<Vec<u8>, u32> = members
                    .iter()
                    .map(|m| (m.clone(), s.find(m).unwrap_or(NIL)))
                    .collect();
                for m in gone {
                    assert_eq!(s.remove(m), model.remove(m));
                }
                s.validate();
                s.compact();
                s.validate();
                assert_eq!(s.nodes.len(), model.len());
                assert!(s.free_len == 0 && s.free_uppers.is_empty());
                for m in model.keys() {
                    let at = s.find(m).unwrap_or(NIL);
                    assert!(at <= before[m], "pattern {pattern}: moved up");
                }
                check(&z, &model);
                // Emptied: the arena is forgotten whole (`unlink`).
                for m in model.keys() {
                    z.remove(m);
                }
                let ZSet::Skip(s) = &z else { unreachable!() };
                assert!(s.len == 0 && s.nodes.is_empty() && s.free_len == 0);
            }
        }
    }

    /// A rescore that moves a node keeps its slot (ZSCAN's guarantee).
    /// A set above `COMPACT_AT_ONCE` cut down part way (random members,
    /// either end by rank, with inserts and rescores between) compacts in
    /// steps: the removals' own steps and then the cron's (`migrate`, for
    /// the idle set) leave no free slot and give the arena's capacity back,
    /// nodes only move down (a scan across it all returns every member
    /// present throughout), and a journal's deferral holds the steps.
    #[test]
    fn big_sets_compact_in_steps() {
        let lim = Limits {
            entries: 0,
            value: 0,
        };
        let mut seed = 0x5EEDu64;
        let mut rnd = |n: u64| crate::store::xorshift(&mut seed) % n;
        let mut stepped = 0;
        for pattern in 0..4 {
            let mut z = ZSet::new_for(1, &lim);
            let mut model = std::collections::BTreeMap::new();
            for i in 0..4000 {
                let m = format!("m{i}-{}", "z".repeat(rnd(30) as usize)).into_bytes();
                let sc = rnd(500) as f64;
                z.insert(&m, sc, &lim);
                model.insert(m, sc);
            }
            let peak_cap = match &z {
                ZSet::Skip(s) => s.nodes.capacity(),
                ZSet::Pack(_) => unreachable!("converted"),
            };
            let mut scan = ScanCheck::new(&model);
            let label = format!("pattern {pattern}");
            let mut step = 0;
            while model.len() > 1000 {
                step += 1;
                let removed = match (pattern, rnd(8)) {
                    (_, 0) if pattern == 3 => {
                        // Inserts and rescores fill free slots meanwhile.
                        let m = format!("n{step}").into_bytes();
                        let sc = rnd(500) as f64;
                        assert_eq!(z.insert(&m, sc, &lim), model.insert(m, sc));
                        let r = rnd(model.len() as u64) as usize;
                        let m = model.keys().nth(r).cloned().unwrap_or_default();
                        assert_eq!(z.insert(&m, 7.5, &lim), model.insert(m, 7.5));
                        0
                    }
                    (0 | 3, _) => {
                        let r = rnd(model.len() as u64) as usize;
                        let m = model.keys().nth(r).cloned().unwrap_or_default();
                        assert_eq!(z.remove(&m), model.remove(&m));
                        scan.kept.remove(&m);
                        1
                    }
                    _ => {
                        let n = 1 + rnd(6) as usize;
                        let a = if pattern == 1 { 0 } else { model.len() - n };
                        let mut gone = Vec::new();
                        z.for_range(a, a + n, false, |m, _| gone.push(m.to_vec()));
                        for g in &gone {
                            model.remove(g);
                            scan.kept.remove(g);
                        }
                        z.remove_range(a, a + n)
                    }
                };
                z.shrink_after(removed);
                if let ZSet::Skip(s) = &z {
                    stepped += usize::from(s.compacting);
                }
                scan.step(&z, 1 + rnd(10) as usize, &model, &label);
                if step % 97 == 0 {
                    check(&z, &model);
                    if let ZSet::Skip(s) = &z {
                        s.validate();
                    }
                }
            }
            let ZSet::Skip(s) = &mut z else {
                unreachable!("still big");
            };
            // A journal's deferral holds the steps and notes the skip.
            defer_shrinks(true);
            let (free, top) = (s.free_len, s.nodes.len());
            s.shrink_after(1);
            assert_eq!((s.free_len, s.nodes.len()), (free, top));
            let due = s.compacting || free as usize * 4 > s.len as usize;
            assert_eq!(take_skipped_shrink(), due);
            defer_shrinks(false);
            // The cron finishes an idle set's compaction; a quarter of the
            // members in free slots starts the next one.
            while s.migrate(64) {}
            s.validate();
            assert!(!s.compacting);
            assert!(
                s.free_len as usize * 4 <= s.len as usize,
                "pattern {pattern}"
            );
            assert_eq!(s.nodes.len(), (s.len + s.free_len) as usize);
            // The peak's upper levels went with its nodes.
            let free_uppers = s.free_upper_entries();
            assert!(
                free_uppers * 2 <= s.uppers.len(),
                "pattern {pattern}: {free_uppers} of {}",
                s.uppers.len()
            );
            assert!(
                s.nodes.capacity() <= s.nodes.len() * 9 / 8 + TRIM_SLOTS,
                "pattern {pattern}: {} slots for {} members (peak {peak_cap})",
                s.nodes.capacity(),
                s.len
            );
            check(&z, &model);
            scan.finish(&z, &label);
        }
        assert!(stepped > 100, "{stepped}");
    }

    #[test]
    fn rescore_keeps_the_slot() {
        let lim = Limits {
            entries: 0,
            value: 0,
        };
        let mut z = ZSet::new_for(1, &lim);
        for i in 0..100 {
            z.insert(format!("m{i}").as_bytes(), i as f64, &lim);
        }
        z.remove(b"m3");
        let ZSet::Skip(s) = &mut z else {
            unreachable!()
        };
        let before = s.find(b"m50");
        s.insert(b"m50", -1.0);
        assert_eq!(s.find(b"m50"), before);
        s.validate();
    }

    /// In-place rescores (the order holds) of nodes of every level: the
    /// links to each cache its new score.
    #[test]
    fn rescores_in_place_keep_the_links_caches() {
        let lim = Limits {
            entries: 0,
            value: 0,
        };
        let mut z = ZSet::new_for(1, &lim);
        let mut model = std::collections::BTreeMap::new();
        for i in 0..2000u32 {
            let m = format!("m{i}").into_bytes();
            z.insert(&m, f64::from(i) * 10.0, &lim);
            model.insert(m, f64::from(i) * 10.0);
        }
        let ZSet::Skip(s) = &z else { unreachable!() };
        assert!(s.level > 3, "nodes of several levels");
        for round in 1..4u32 {
            for i in (0..2000u32).step_by(3) {
                let m = format!("m{i}").into_bytes();
                let score = f64::from(i) * 10.0 + f64::from(round);
                let ZSet::Skip(s) = &mut z else {
                    unreachable!()
                };
                let slot = s.find(&m);
                assert!(s.insert(&m, score).is_some());
                assert_eq!(s.find(&m), slot, "in place");
                model.insert(m, score);
            }
            check(&z, &model);
        }
    }

    #[test]
    fn scan_visits_everything_once() {
        let lim = Limits {
            entries: 0,
            value: 0,
        };
        let mut z = ZSet::new_for(1, &lim);
        for i in 0..1000 {
            z.insert(format!("{i}").as_bytes(), i as f64, &lim);
        }
        let mut seen = std::collections::HashSet::new();
        let mut c = 0;
        loop {
            c = z.scan(c, 7, |m, _| assert!(seen.insert(m.to_vec())));
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }

    /// A big set (no compaction) with long runs of free slots: one ZSCAN
    /// call passes at most 10 x COUNT of them (and still goes down at
    /// least one slot), and the whole scan returns every member.
    #[test]
    fn a_scan_call_passes_at_most_ten_free_slots_per_count() {
        let lim = Limits {
            entries: 0,
            value: 0,
        };
        let mut z = ZSet::new_for(1, &lim);
        for i in 0..20_000 {
            z.insert(format!("{i}").as_bytes(), i as f64, &lim);
        }
        for i in (0..20_000).filter(|i| i % 50 != 0) {
            assert!(z.remove(format!("{i}").as_bytes()).is_some());
        }
        let top = match &z {
            ZSet::Skip(s) => s.nodes.len() as u64,
            ZSet::Pack(_) => panic!("a skiplist"),
        };
        assert!(top > 19_000, "no compaction above COMPACT_AT_ONCE: {top}");
        let mut seen = std::collections::HashSet::new();
        let (mut c, mut calls) = (0u64, 0);
        loop {
            let from = if c == 0 { top } else { c };
            c = z.scan(c, 1, |m, _| assert!(seen.insert(m.to_vec())));
            calls += 1;
            assert!(c < from && from - c <= 11, "{from} -> {c}");
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 400);
        assert!(calls > 1000, "{calls}");
    }
}
