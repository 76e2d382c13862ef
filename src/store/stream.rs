//! The stream value: entries keyed by [`StreamId`] (ms-seq), the stream's
//! counters (last id, entries added, max deleted id, first id) and its
//! consumer groups with their pending entries lists, as Redis's `stream`
//! struct (src/t_stream.c) holds them.
//!
//! Layout: as Redis's radix tree of listpacks, `nodes` maps a block's
//! master (first appended) id to a [`Node`]: one byte buffer holding the
//! master entry's field names and then its entries, ids delta-encoded
//! against the master, values length-prefixed, names left out when they
//! are the master's (SAMEFIELDS). XDEL and exact trims set a deleted flag
//! in place; a block goes when its last live entry does. A node closes at
//! stream-node-max-entries entries or when Redis's listpack for it would
//! reach stream-node-max-bytes (sizes computed as Redis encodes them), so
//! `~` trimming, LIMIT and XINFO's radix-tree-keys answer as Redis does.
//! Commands read entries through [`Stream::get`], [`Stream::range`],
//! [`Stream::range_rev`] and [`Stream::iter`], which yield cheap
//! [`Fields`] views; [`Node::entries`] walks a block deleted entries
//! included (what an RDB listpack holds).

use std::collections::{BTreeMap, BTreeSet};

use super::Sds;

/// An entry id: milliseconds and sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The next id (Redis's streamIncrID); None past the last possible.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous id (Redis's streamDecrID); None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// `ms-seq`, as replies show it.
    pub fn to_text(self) -> String {
        format!("{}-{}", self.ms, self.seq)
    }

    /// [`StreamId::to_text`] into a stack buffer (every reply entry has
    /// an id: no allocation and no formatter on that path).
    pub fn text_into(self, buf: &mut [u8; 41]) -> &[u8] {
        let mut p = buf.len();
        for (i, mut v) in [self.seq, self.ms].into_iter().enumerate() {
            loop {
                p -= 1;
                buf[p] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            if i == 0 {
                p -= 1;
                buf[p] = b'-';
            }
        }
        &buf[p..]
    }
}

/// One pending entry of a group (Redis's streamNACK).
#[derive(Clone, Debug)]
pub struct Nack {
    pub consumer: Sds,
    pub delivery_time: u64,
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default)]
pub struct Consumer {
    pub seen_time: u64,
    /// Ids this consumer has pending (the group's PEL holds the details).
    pub pel: BTreeSet<StreamId>,
}

/// Redis's SCG_INVALID_ENTRIES_READ.
pub const ENTRIES_READ_INVALID: i64 = -1;

/// A consumer group.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    /// By name, in byte order as Redis's radix tree iterates them.
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

// ------------------------------------------------------------ packed blocks

/// Entry flag: deleted (XDEL, or an exact trim inside a node).
const FLAG_DELETED: u8 = 1;
/// Entry flag: the entry's field names are the master entry's, only the
/// values are stored (Redis's STREAM_ITEM_FLAG_SAMEFIELDS).
const FLAG_SAMEFIELDS: u8 = 2;
/// Redis's STREAM_LISTPACK_MAX_SIZE: the node byte limit when
/// stream-node-max-bytes is 0 or larger.
const LP_MAX_SIZE: u64 = 1 << 30;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Bytes of an entry's back-length: its length in 7-bit groups.
fn backlen_size(len: usize) -> usize {
    let mut n = 1;
    let mut l = len >> 7;
    while l > 0 {
        n += 1;
        l >>= 7;
    }
    n
}

/// An entry's length after it, readable from its last byte backwards (the
/// low group last; every byte but the first written has the high bit
/// set), so a block can be walked from its end as Redis's lp-count allows.
fn put_backlen(out: &mut Vec<u8>, len: usize) {
    let n = backlen_size(len);
    for i in (0..n).rev() {
        let group = ((len >> (7 * i)) & 0x7f) as u8;
        out.push(if i == n - 1 { group } else { group | 0x80 });
    }
}

/// Signed deltas (a sequence can go down when the ms goes up) as small
/// unsigned varints.
fn zigzag(v: u64) -> u64 {
    let v = v as i64;
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(u: u64) -> u64 {
    ((u >> 1) as i64 ^ -((u & 1) as i64)) as u64
}

/// A read position in a block. The bytes are ours (never client data), but
/// reading stays total: past the end it yields zeros and empty strings.
#[derive(Clone, Copy, Debug)]
struct Cur<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Cur<'a> {
    #[inline]
    fn varint(&mut self) -> u64 {
        let (mut v, mut shift) = (0u64, 0u32);
        while let Some(&byte) = self.b.get(self.p) {
            self.p += 1;
            if shift < 64 {
                v |= u64::from(byte & 0x7f) << shift;
            }
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        v
    }

    #[inline]
    fn bytes(&mut self) -> &'a [u8] {
        let n = usize::try_from(self.varint()).unwrap_or(usize::MAX);
        let start = self.p.min(self.b.len());
        let end = start.saturating_add(n).min(self.b.len());
        self.p = end;
        &self.b[start..end]
    }
}

/// Size of an integer element in a Redis listpack (encoding + back-length).
fn lp_int_size(v: i64) -> u64 {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (-32768..=32767).contains(&v) {
        3
    } else if (-8_388_608..=8_388_607).contains(&v) {
        4
    } else if (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&v) {
        5
    } else {
        9
    };
    enc + 1
}

/// Size of a string element in a Redis listpack (`lpAppend` stores a
/// canonical integer as an integer).
fn lp_str_size(s: &[u8]) -> u64 {
    if let Some(v) = crate::number::parse_i64(s) {
        return lp_int_size(v);
    }
    let n = s.len() as u64;
    let enc = match n {
        0..=63 => 1 + n,
        64..=4095 => 2 + n,
        _ => 5 + n,
    };
    let backlen = match enc {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    enc + backlen
}

/// One block (Redis's listpack under a radix tree key): the master entry's
/// field names, then every entry appended to it, deleted ones included.
///
/// Bytes: `varint nfields, nfields x (varint len, name)`, then per entry
/// `flags u8, varint ms-delta, varint zigzag(seq-delta)` (deltas against
/// the master id, the node's key) and either the values alone
/// (SAMEFIELDS: `(varint len, value)` per master field) or `varint npairs,
/// npairs x (len, field, len, value)`, then the entry's length as a
/// back-length (read from its last byte), so XREVRANGE walks a block from
/// its end as Redis walks a listpack by lp-count.
#[derive(Clone, Debug, Default)]
pub struct Node {
    /// Entries in the block, live and deleted (Redis's count + deleted).
    pub total: u64,
    pub live: u64,
    /// The last id appended to it (a deleted one included, as in Redis).
    pub last: StreamId,
    /// Redis's lpBytes of this listpack without its count and deleted
    /// elements (those change size as they grow): the byte limit is
    /// Redis's rule on Redis's sizes, so nodes split where Redis's do.
    lp_rest: u64,
    data: Vec<u8>,
}

impl Node {
    /// A block whose master entry has the field names of `fields`.
    fn with_master<'f>(fields: impl Iterator<Item = &'f [u8]> + Clone) -> Node {
        let pairs = fields.clone().count() / 2;
        let mut data = Vec::with_capacity(64);
        put_varint(&mut data, pairs as u64);
        // Header, terminator, num-fields and the master's "0" end marker.
        let mut lp = 7 + lp_int_size(pairs as i64) + lp_int_size(0);
        for f in fields.step_by(2).take(pairs) {
            put_bytes(&mut data, f);
            lp += lp_str_size(f);
        }
        Node {
            lp_rest: lp,
            data,
            ..Node::default()
        }
    }

    /// Redis's lpBytes of this node's listpack.
    pub fn lp_bytes(&self) -> u64 {
        self.lp_rest + lp_int_size(self.live as i64) + lp_int_size((self.total - self.live) as i64)
    }

    /// Heap bytes of the block.
    pub fn heap_size(&self) -> usize {
        self.data.capacity()
    }

    /// The master entry's field names.
    pub fn master_fields(&self) -> FieldsIter<'_> {
        let mut c = Cur {
            b: &self.data,
            p: 0,
        };
        let n = c.varint() as usize;
        FieldsIter {
            master: c,
            body: c,
            left: n,
            same: false,
            value_next: false,
            names_only: true,
        }
    }

    /// Every entry of the block in order, deleted ones included; `master`
    /// is the node's key.
    pub fn entries(&self, master: StreamId) -> NodeIter<'_> {
        let mut c = Cur {
            b: &self.data,
            p: 0,
        };
        let master_n = c.varint() as usize;
        let from = c.p;
        for _ in 0..master_n {
            c.bytes();
        }
        NodeIter {
            master_id: master,
            master: &self.data[from..c.p],
            master_n,
            b: &self.data,
            front: c.p,
            back: self.data.len(),
        }
    }

    /// Appends an entry (deltas against `master`, the node's key).
    fn push_entry<'f>(
        &mut self,
        master: StreamId,
        id: StreamId,
        fields: impl Iterator<Item = &'f [u8]> + Clone,
    ) {
        let pairs = fields.clone().count() / 2;
        let fields = fields.take(pairs * 2);
        let same = {
            let mut m = self.master_fields();
            m.len() == pairs && fields.clone().step_by(2).all(|f| m.next() == Some(f))
        };
        let (ms, seq) = (
            id.ms.wrapping_sub(master.ms),
            id.seq.wrapping_sub(master.seq),
        );
        let d = &mut self.data;
        let at = d.len();
        d.push(if same { FLAG_SAMEFIELDS } else { 0 });
        put_varint(d, ms);
        put_varint(d, zigzag(seq));
        // flags, ms-diff, seq-diff and the closing lp-count.
        let mut lp = 2 + lp_int_size(ms as i64) + lp_int_size(seq as i64);
        if same {
            for v in fields.skip(1).step_by(2) {
                put_bytes(d, v);
                lp += lp_str_size(v);
            }
            lp += lp_int_size(pairs as i64 + 3);
        } else {
            put_varint(d, pairs as u64);
            lp += lp_int_size(pairs as i64);
            for f in fields {
                put_bytes(d, f);
                lp += lp_str_size(f);
            }
            lp += lp_int_size(2 * pairs as i64 + 4);
        }
        put_backlen(d, d.len() - at);
        self.lp_rest += lp;
        self.total += 1;
        self.live += 1;
        self.last = id;
    }

    /// Marks the entry whose flags byte is at `at` deleted.
    fn mark_deleted(&mut self, at: usize) {
        if let Some(b) = self.data.get_mut(at) {
            *b |= FLAG_DELETED;
        }
    }

    /// The entry `id` (deleted ones too) within this node.
    fn find(&self, master: StreamId, id: StreamId) -> Option<RawEntry<'_>> {
        if id > self.last {
            return None;
        }
        self.entries(master)
            .take_while(|e| e.id <= id)
            .find(|e| e.id == id)
    }
}

/// An entry as a block holds it.
#[derive(Clone, Copy, Debug)]
pub struct RawEntry<'a> {
    pub id: StreamId,
    pub deleted: bool,
    pub fields: Fields<'a>,
    /// Where its flags byte is (XDEL sets the deleted bit in place).
    flags_at: usize,
}

/// Walks a block's entries, from either end.
#[derive(Clone, Debug)]
pub struct NodeIter<'a> {
    master_id: StreamId,
    /// The master field names (after their count).
    master: &'a [u8],
    master_n: usize,
    /// The block; entries not yet walked are `b[front..back]`.
    b: &'a [u8],
    front: usize,
    back: usize,
}

impl<'a> NodeIter<'a> {
    /// Decodes the entry whose flags byte is at `at`; also returns where
    /// the next one starts (past its back-length).
    #[inline]
    fn decode(&self, at: usize) -> Option<(RawEntry<'a>, usize)> {
        let mut c = Cur { b: self.b, p: at };
        let flags = *self.b.get(at)?;
        c.p += 1;
        let ms = self.master_id.ms.wrapping_add(c.varint());
        let seq = self.master_id.seq.wrapping_add(unzigzag(c.varint()));
        let same = flags & FLAG_SAMEFIELDS != 0;
        let pairs = if same {
            self.master_n
        } else {
            c.varint() as usize
        };
        let from = c.p;
        let strings = if same { pairs } else { pairs.saturating_mul(2) };
        for _ in 0..strings {
            if c.p >= self.b.len() {
                break;
            }
            c.bytes();
        }
        let next = (c.p + backlen_size(c.p - at)).min(self.b.len());
        let e = RawEntry {
            id: StreamId::new(ms, seq),
            deleted: flags & FLAG_DELETED != 0,
            fields: Fields {
                master: self.master,
                body: &self.b[from..c.p],
                pairs,
                same,
            },
            flags_at: at,
        };
        Some((e, next))
    }
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = RawEntry<'a>;

    #[inline]
    fn next(&mut self) -> Option<RawEntry<'a>> {
        if self.front >= self.back {
            return None;
        }
        let (e, next) = self.decode(self.front)?;
        self.front = next;
        Some(e)
    }
}

impl<'a> DoubleEndedIterator for NodeIter<'a> {
    /// The last entry: its back-length says where it starts.
    fn next_back(&mut self) -> Option<RawEntry<'a>> {
        if self.back <= self.front {
            return None;
        }
        let (mut p, mut len, mut shift) = (self.back, 0usize, 0u32);
        loop {
            p = p.checked_sub(1)?;
            let byte = *self.b.get(p)?;
            len |= usize::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let start = p.checked_sub(len).filter(|s| *s >= self.front)?;
        let (e, _) = self.decode(start)?;
        self.back = start;
        Some(e)
    }
}

/// An entry's fields and values, decoded lazily from its block.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    master: &'a [u8],
    body: &'a [u8],
    pairs: usize,
    same: bool,
}

impl<'a> Fields<'a> {
    /// Strings: fields and values (what a reply's array counts).
    pub fn len(&self) -> usize {
        self.pairs * 2
    }

    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }

    /// Whether the names are the master entry's (Redis's SAMEFIELDS).
    pub fn same_fields(&self) -> bool {
        self.same
    }

    /// Field, value, field, value...
    #[inline]
    pub fn iter(&self) -> FieldsIter<'a> {
        FieldsIter {
            master: Cur {
                b: self.master,
                p: 0,
            },
            body: Cur { b: self.body, p: 0 },
            left: self.pairs * 2,
            same: self.same,
            value_next: false,
            names_only: false,
        }
    }

    pub fn to_vec(&self) -> Vec<Sds> {
        self.iter().map(Sds::new).collect()
    }
}

/// Iterates [`Fields`] (or a master entry's names).
#[derive(Clone, Debug)]
pub struct FieldsIter<'a> {
    master: Cur<'a>,
    body: Cur<'a>,
    left: usize,
    same: bool,
    value_next: bool,
    names_only: bool,
}

impl<'a> Iterator for FieldsIter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let s = if self.names_only || (self.same && !self.value_next) {
            self.master.bytes()
        } else {
            self.body.bytes()
        };
        self.value_next = !self.value_next;
        Some(s)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for FieldsIter<'_> {}

/// Live entries from `start` to `end`, in id order ([`Stream::range`]).
pub struct Range<'a> {
    nodes: std::collections::btree_map::Range<'a, StreamId, Node>,
    cur: Option<NodeIter<'a>>,
    start: StreamId,
    end: StreamId,
    done: bool,
}

impl<'a> Iterator for Range<'a> {
    type Item = (StreamId, Fields<'a>);

    #[inline]
    fn next(&mut self) -> Option<(StreamId, Fields<'a>)> {
        while !self.done {
            if let Some(it) = self.cur.as_mut() {
                for e in it.by_ref() {
                    if e.id > self.end {
                        self.done = true;
                        return None;
                    }
                    if !e.deleted && e.id >= self.start {
                        return Some((e.id, e.fields));
                    }
                }
            }
            match self.nodes.next() {
                Some((k, n)) => self.cur = Some(n.entries(*k)),
                None => self.done = true,
            }
        }
        None
    }
}

/// Live entries from `end` down to `start` ([`Stream::range_rev`]),
/// each block walked from its end by the entries' back-lengths.
pub struct RevRange<'a> {
    nodes: std::iter::Rev<std::collections::btree_map::Range<'a, StreamId, Node>>,
    cur: Option<NodeIter<'a>>,
    start: StreamId,
    end: StreamId,
    done: bool,
}

impl<'a> Iterator for RevRange<'a> {
    type Item = (StreamId, Fields<'a>);

    #[inline]
    fn next(&mut self) -> Option<(StreamId, Fields<'a>)> {
        while !self.done {
            if let Some(it) = self.cur.as_mut() {
                while let Some(e) = it.next_back() {
                    if e.id < self.start {
                        self.done = true;
                        return None;
                    }
                    if !e.deleted && e.id <= self.end {
                        return Some((e.id, e.fields));
                    }
                }
            }
            match self.nodes.next() {
                Some((k, n)) => self.cur = Some(n.entries(*k)),
                None => self.done = true,
            }
        }
        None
    }
}

/// A stream value.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// The blocks by their master (first appended) id, as Redis's radix
    /// tree keys its listpacks.
    pub nodes: BTreeMap<StreamId, Node>,
    /// Live entries.
    length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    /// By name, in byte order.
    pub groups: BTreeMap<Vec<u8>, Group>,
    /// The next append opens a node ([`Stream::start_node`]).
    seal: bool,
}

impl Stream {
    pub fn len(&self) -> usize {
        self.length as usize
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Appends an entry whose id is greater than `last_id` (checked by the
    /// caller). `node_max` is stream-node-max-entries, `node_max_bytes`
    /// stream-node-max-bytes (0 = no limit for either). Takes the boxed
    /// strings the RDB loader builds; commands use [`Stream::push`].
    #[allow(clippy::boxed_local)]
    pub fn append(&mut self, id: StreamId, fields: Box<[Sds]>, node_max: u64, node_max_bytes: u64) {
        self.push(id, fields.iter().map(|f| &f[..]), node_max, node_max_bytes);
    }

    /// [`Stream::append`] from borrowed strings (field, value, ...): the
    /// tail node takes it unless it holds `node_max` entries or its
    /// listpack bytes plus the new strings' bytes reach `node_max_bytes`
    /// (Redis's streamAppendItem rule); a full tail is shrunk to fit.
    pub fn push<'f>(
        &mut self,
        id: StreamId,
        fields: impl Iterator<Item = &'f [u8]> + Clone,
        node_max: u64,
        node_max_bytes: u64,
    ) {
        let elelen: u64 = fields.clone().map(|f| f.len() as u64).sum();
        let max_bytes = if node_max_bytes == 0 || node_max_bytes > LP_MAX_SIZE {
            LP_MAX_SIZE
        } else {
            node_max_bytes
        };
        let fresh = self.seal
            || match self.nodes.last_key_value() {
                None => true,
                Some((_, n)) => {
                    n.lp_bytes() + elelen >= max_bytes || (node_max != 0 && n.total >= node_max)
                }
            };
        self.seal = false;
        if fresh {
            if let Some(mut tail) = self.nodes.last_entry() {
                tail.get_mut().data.shrink_to_fit();
            }
            self.nodes.insert(id, Node::with_master(fields.clone()));
        }
        if let Some(mut tail) = self.nodes.last_entry() {
            let master = *tail.key();
            tail.get_mut().push_entry(master, id, fields);
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
    }

    /// Makes the next append open a new node whatever the limits (a loader
    /// reproducing another server's node layout).
    pub fn start_node(&mut self) {
        self.seal = true;
    }

    /// The node that would hold `id`, with its key.
    fn node_of(&self, id: StreamId) -> Option<(StreamId, &Node)> {
        self.nodes.range(..=id).next_back().map(|(k, n)| (*k, n))
    }

    /// A live entry's fields.
    pub fn get(&self, id: StreamId) -> Option<Fields<'_>> {
        let (master, n) = self.node_of(id)?;
        n.find(master, id).filter(|e| !e.deleted).map(|e| e.fields)
    }

    /// Whether `id` is a live entry.
    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// Live entries with `start <= id <= end`, in id order.
    pub fn range(&self, start: StreamId, end: StreamId) -> Range<'_> {
        let first = self.node_of(start).map_or(start, |(k, _)| k);
        Range {
            nodes: self.nodes.range(first..=end.max(first)),
            cur: None,
            start,
            end,
            done: start > end,
        }
    }

    /// Live entries with `start <= id <= end`, highest id first.
    pub fn range_rev(&self, start: StreamId, end: StreamId) -> RevRange<'_> {
        let first = self.node_of(start).map_or(start, |(k, _)| k);
        let nodes = if start > end {
            self.nodes.range(first..first)
        } else {
            self.nodes.range(first..=end)
        };
        RevRange {
            nodes: nodes.rev(),
            cur: None,
            start,
            end,
            done: start > end,
        }
    }

    /// All live entries in order.
    pub fn iter(&self) -> Range<'_> {
        self.range(StreamId::MIN, StreamId::MAX)
    }

    /// The first live entry.
    pub fn first_entry(&self) -> Option<(StreamId, Fields<'_>)> {
        self.iter().next()
    }

    /// The last live entry.
    pub fn last_entry(&self) -> Option<(StreamId, Fields<'_>)> {
        self.range_rev(StreamId::MIN, StreamId::MAX).next()
    }

    /// The first live id, or `empty` if none (Redis's streamGetEdgeID).
    pub fn first_live_or(&self, empty: StreamId) -> StreamId {
        self.first_entry().map_or(empty, |(id, _)| id)
    }

    /// The last live id (0-0 if empty).
    pub fn last_live(&self) -> StreamId {
        self.last_entry().map_or(StreamId::MIN, |(id, _)| id)
    }

    /// Removes one entry: marks it deleted in its block, as Redis's XDEL
    /// does; a node whose last live entry goes is dropped, as Redis frees
    /// an emptied listpack. True if it was live.
    pub fn remove(&mut self, id: StreamId) -> bool {
        self.delete(id, true)
    }

    /// Marks a live entry deleted but keeps its node even when no live
    /// entry is left in it (a node an exact trim emptied, as a loaded RDB
    /// file may hold). True if it was live.
    pub fn mark_deleted(&mut self, id: StreamId) -> bool {
        self.delete(id, false)
    }

    fn delete(&mut self, id: StreamId, drop_empty: bool) -> bool {
        let Some((&master, n)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let Some(at) = n
            .find(master, id)
            .filter(|e| !e.deleted)
            .map(|e| e.flags_at)
        else {
            return false;
        };
        n.mark_deleted(at);
        n.live -= 1;
        self.length -= 1;
        if n.live == 0 && drop_empty {
            self.nodes.remove(&master);
        }
        true
    }

    /// Redis's streamTrim: by MAXLEN (`minid` None) or MINID, whole nodes
    /// first, then (unless `approx`) entries of the first node left are
    /// marked deleted (that node stays, even if none is left live, as in
    /// Redis); `limit` bounds the work (0 = none). Returns entries deleted.
    pub fn trim(&mut self, maxlen: u64, minid: Option<StreamId>, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some(mut first) = self.nodes.first_entry() {
            let master = *first.key();
            let node = first.get_mut();
            if minid.is_none() && self.length <= maxlen {
                break;
            }
            if limit != 0 && deleted + node.live > limit {
                break;
            }
            let remove_node = match minid {
                None => self.length - node.live >= maxlen,
                Some(min) => node.last < min,
            };
            if remove_node {
                deleted += node.live;
                self.length -= node.live;
                first.remove();
                continue;
            }
            if approx {
                break;
            }
            let mut length = self.length;
            let mut marks = Vec::new();
            for e in node.entries(master) {
                let stop = match minid {
                    None => length <= maxlen,
                    Some(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted {
                    marks.push(e.flags_at);
                    length -= 1;
                }
            }
            for &at in &marks {
                node.mark_deleted(at);
            }
            node.live -= marks.len() as u64;
            deleted += marks.len() as u64;
            self.length = length;
            break;
        }
        if deleted > 0 {
            self.first_id = self.first_live_or(StreamId::MIN);
        }
        deleted
    }

    /// Whether [`Stream::trim`] with these arguments would delete anything
    /// (its first step), so a no-op XTRIM need not pass the choke point.
    pub fn would_trim(
        &self,
        maxlen: u64,
        minid: Option<StreamId>,
        approx: bool,
        limit: u64,
    ) -> bool {
        let Some(node) = self.nodes.values().next() else {
            return false;
        };
        let len = self.length;
        if minid.is_none() && len <= maxlen {
            return false;
        }
        if limit != 0 && node.live > limit {
            return false;
        }
        let remove_node = match minid {
            None => len - node.live >= maxlen,
            Some(min) => node.last < min,
        };
        if remove_node {
            return true;
        }
        if approx {
            return false;
        }
        match minid {
            None => true,
            Some(min) => self.first_entry().is_some_and(|(id, _)| id < min),
        }
    }

    /// Redis's streamRangeHasTombstones from `start` to the end.
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.is_empty() || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted
    }

    /// Redis's streamEstimateDistanceFromFirstEverEntry.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        let added = self.entries_added as i64;
        if self.is_empty() && id <= self.last_id {
            return added;
        }
        if id == self.last_id {
            return added;
        } else if id > self.last_id {
            return ENTRIES_READ_INVALID;
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            if id < self.first_id {
                return added - self.length as i64;
            } else if id == self.first_id {
                return added - self.length as i64 + 1;
            }
        }
        ENTRIES_READ_INVALID
    }

    /// A group's lag (XINFO), None when it cannot be known.
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_INVALID && !self.has_tombstones_from(g.last_id) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let read = self.estimate_distance(g.last_id);
        (read != ENTRIES_READ_INVALID).then(|| self.entries_added as i64 - read)
    }

    /// A group delivered `id` (new, beyond its last id): moves the group's
    /// last id and read counter as Redis's streamReplyWithRange does.
    pub fn advance_group(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read != ENTRIES_READ_INVALID && !self.has_tombstones_from(id) {
            g.entries_read += 1;
        } else if self.entries_added != 0 {
            g.entries_read = self.estimate_distance(id);
        }
        g.last_id = id;
    }

    /// Approximate heap bytes (MEMORY USAGE, eviction accounting): the
    /// blocks, a B-tree slot per node (key, node, half-full B-tree nodes),
    /// and a rough figure per group and pending entry.
    pub fn heap_size(&self) -> usize {
        let slot = 2 * (std::mem::size_of::<StreamId>() + std::mem::size_of::<Node>());
        let mut n: usize = self.nodes.values().map(|b| b.heap_size() + slot).sum();
        for g in self.groups.values() {
            n += 128 + g.pel.len() * 96 + g.consumers.len() * 96;
        }
        n
    }
}

/// The commands that recreate a stream (Redis's rewriteStreamObject): XADD
/// per entry (an empty stream via `XADD MAXLEN 0 0-1 x y`), XSETID with
/// the counters, then per group XGROUP CREATE ... ENTRIESREAD, and per
/// consumer XCLAIM ... FORCE for each pending entry, or XGROUP
/// CREATECONSUMER when it has none.
pub fn serialize(out: &mut Vec<u8>, key: &[u8], s: &Stream) {
    use crate::aof::propagate::encode_into;
    if s.is_empty() {
        let parts: [&[u8]; 7] = [b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"];
        encode_into(out, parts.into_iter());
    }
    for (id, fields) in s.iter() {
        let id = id.to_text();
        let head: [&[u8]; 3] = [b"XADD", key, id.as_bytes()];
        encode_into(out, head.into_iter().chain(fields.iter()));
    }
    let (last, added, maxdel) = (
        s.last_id.to_text(),
        s.entries_added.to_string(),
        s.max_deleted.to_text(),
    );
    let parts: [&[u8]; 7] = [
        b"XSETID",
        key,
        last.as_bytes(),
        b"ENTRIESADDED",
        added.as_bytes(),
        b"MAXDELETEDID",
        maxdel.as_bytes(),
    ];
    encode_into(out, parts.into_iter());
    for (name, g) in &s.groups {
        let (gid, read) = (g.last_id.to_text(), g.entries_read.to_string());
        let parts: [&[u8]; 7] = [
            b"XGROUP",
            b"CREATE",
            key,
            name,
            gid.as_bytes(),
            b"ENTRIESREAD",
            read.as_bytes(),
        ];
        encode_into(out, parts.into_iter());
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                let parts: [&[u8]; 5] = [b"XGROUP", b"CREATECONSUMER", key, name, cname];
                encode_into(out, parts.into_iter());
                continue;
            }
            for id in &c.pel {
                let Some(n) = g.pel.get(id) else { continue };
                let (id, time, count) = (
                    id.to_text(),
                    n.delivery_time.to_string(),
                    n.delivery_count.to_string(),
                );
                let parts: [&[u8]; 12] = [
                    b"XCLAIM",
                    key,
                    name,
                    cname,
                    b"0",
                    id.as_bytes(),
                    b"TIME",
                    time.as_bytes(),
                    b"RETRYCOUNT",
                    count.as_bytes(),
                    b"JUSTID",
                    b"FORCE",
                ];
                encode_into(out, parts.into_iter());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64) -> StreamId {
        StreamId::new(ms, 0)
    }

    fn filled(n: u64, node_max: u64) -> Stream {
        let mut s = Stream::default();
        for i in 1..=n {
            s.append(
                id(i),
                Box::new([Sds::new(b"f"), Sds::new(b"v")]),
                node_max,
                4096,
            );
        }
        s
    }

    #[test]
    fn approx_trim_removes_whole_nodes_only() {
        let mut s = filled(250, 100);
        assert_eq!(s.nodes.len(), 3);
        assert_eq!(s.trim(120, None, true, 0), 100);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(10, None, false, 0), 140);
        assert_eq!(s.len(), 10);
        assert_eq!(s.first_id, id(241));
    }

    #[test]
    fn minid_trim_and_ids() {
        let mut s = filled(10, 4);
        assert_eq!(s.trim(0, Some(id(6)), false, 0), 5);
        assert_eq!(s.first_id, id(6));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(id(2)));
        assert_eq!(id(0).decr(), None);
        for i in [
            StreamId::MIN,
            StreamId::MAX,
            StreamId::new(10, 0),
            StreamId::new(7, 99),
        ] {
            assert_eq!(i.text_into(&mut [0; 41]), i.to_text().as_bytes());
        }
    }

    #[test]
    fn would_trim_agrees_with_trim() {
        for (maxlen, minid, approx, limit) in [
            (5, None, false, 0),
            (20, None, false, 0),
            (5, None, true, 0),
            (3, None, true, 0),
            (0, Some(id(2)), true, 0),
            (0, Some(id(5)), true, 0),
            (0, Some(id(1)), false, 0),
            (0, None, true, 2),
        ] {
            let mut s = filled(10, 4);
            let predicted = s.would_trim(maxlen, minid, approx, limit);
            assert_eq!(predicted, s.trim(maxlen, minid, approx, limit) > 0);
        }
    }

    #[test]
    fn removing_last_live_entry_drops_node() {
        let mut s = filled(3, 100);
        assert!(s.remove(id(1)) && s.remove(id(2)) && s.remove(id(3)));
        assert!(s.nodes.is_empty());
        assert!(!s.remove(id(3)));
    }

    fn strs(f: Fields<'_>) -> Vec<Vec<u8>> {
        f.iter().map(<[u8]>::to_vec).collect()
    }

    fn push(s: &mut Stream, i: StreamId, fields: &[&[u8]], max: u64, max_bytes: u64) {
        s.push(i, fields.iter().copied(), max, max_bytes);
    }

    #[test]
    fn codec_round_trips_ids_and_fields() {
        let mut s = Stream::default();
        let big = vec![b'x'; 5000];
        let cases: Vec<(StreamId, Vec<&[u8]>)> = vec![
            (StreamId::new(5, 7), vec![b"a", b"1", b"b", b""]),
            // Same names: stored as SAMEFIELDS.
            (StreamId::new(5, 8), vec![b"a", b"-3", b"b", b"two"]),
            // Sequence lower than the master's, ms far away.
            (StreamId::new(1 << 40, 0), vec![b"a", b"x"]),
            (
                StreamId::new(1 << 40, u64::MAX),
                vec![b"", &big, b"k", b"v"],
            ),
            (StreamId::new(u64::MAX, 3), vec![b"a", b"1", b"b", b"2"]),
        ];
        for (i, f) in &cases {
            push(&mut s, *i, f, 0, 0);
        }
        assert_eq!(s.nodes.len(), 1);
        assert_eq!(s.len(), cases.len());
        let got: Vec<_> = s.iter().map(|(i, f)| (i, strs(f))).collect();
        let want: Vec<_> = cases
            .iter()
            .map(|(i, f)| (*i, f.iter().map(|x| x.to_vec()).collect::<Vec<_>>()))
            .collect();
        assert_eq!(got, want);
        let mut rev: Vec<_> = s
            .range_rev(StreamId::MIN, StreamId::MAX)
            .map(|(i, f)| (i, strs(f)))
            .collect();
        rev.reverse();
        assert_eq!(rev, want);
        // Walking a block from both ends meets in the middle.
        let node = s.nodes.values().next().expect("node");
        let mut it = node.entries(StreamId::new(5, 7));
        let (a, b) = (it.next().map(|e| e.id), it.next_back().map(|e| e.id));
        assert_eq!((a, b), (Some(cases[0].0), Some(cases[4].0)));
        let rest: Vec<_> = it.rev().map(|e| e.id).collect();
        assert_eq!(rest, [cases[3].0, cases[2].0, cases[1].0]);
        let node = s.nodes.values().next().expect("node");
        let flags: Vec<bool> = node
            .entries(StreamId::new(5, 7))
            .map(|e| e.fields.same_fields())
            .collect();
        assert_eq!(flags, [true, true, false, false, true]);
        assert_eq!(node.master_fields().collect::<Vec<_>>(), [&b"a"[..], b"b"]);
        assert_eq!(strs(s.get(StreamId::new(5, 8)).expect("entry"))[3], b"two");
        assert!(s.get(StreamId::new(5, 9)).is_none());
        assert_eq!(s.first_entry().map(|e| e.0), Some(StreamId::new(5, 7)));
        assert_eq!(
            s.last_entry().map(|e| e.0),
            Some(StreamId::new(u64::MAX, 3))
        );
        let mid: Vec<_> = s
            .range(StreamId::new(5, 8), StreamId::new(1 << 40, 0))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(mid, [StreamId::new(5, 8), StreamId::new(1 << 40, 0)]);
        assert_eq!(s.range(id(9), id(8)).count(), 0);
        assert_eq!(s.range_rev(id(9), id(8)).count(), 0);
    }

    #[test]
    fn deletes_are_flags_until_the_block_empties() {
        let mut s = filled(10, 5);
        assert_eq!(s.nodes.len(), 2);
        assert!(s.remove(id(3)));
        assert!(!s.remove(id(3)));
        assert!(!s.contains(id(3)) && s.contains(id(4)));
        let n = &s.nodes[&id(1)];
        assert_eq!((n.total, n.live), (5, 4));
        assert_eq!(n.entries(id(1)).filter(|e| e.deleted).count(), 1);
        let ids: Vec<_> = s.range(id(2), id(4)).map(|(i, _)| i).collect();
        assert_eq!(ids, [id(2), id(4)]);
        let ids: Vec<_> = s.range_rev(id(2), id(4)).map(|(i, _)| i).collect();
        assert_eq!(ids, [id(4), id(2)]);
        for i in [1, 2, 4, 5] {
            assert!(s.remove(id(i)));
        }
        assert_eq!(s.nodes.len(), 1);
        assert_eq!(s.len(), 5);
        assert_eq!(s.first_live_or(StreamId::MAX), id(6));
        assert_eq!(s.last_live(), id(10));
        for i in 6..=10 {
            assert!(s.mark_deleted(id(i)));
        }
        assert_eq!((s.nodes[&id(6)].total, s.nodes[&id(6)].live), (5, 0));
        assert!(s.is_empty() && s.iter().next().is_none());
        assert!(!s.mark_deleted(id(6)));
    }

    #[test]
    fn trims_across_blocks_mark_inside_the_first_left() {
        let mut s = filled(12, 5);
        assert_eq!(s.trim(6, None, false, 0), 6);
        // Node 1..5 went whole; 6 is marked deleted in node 6..10.
        assert_eq!(s.nodes.keys().copied().collect::<Vec<_>>(), [id(6), id(11)]);
        assert_eq!((s.nodes[&id(6)].total, s.nodes[&id(6)].live), (5, 4));
        assert_eq!(s.first_id, id(7));
        assert_eq!(s.iter().map(|(i, _)| i).collect::<Vec<_>>().len(), 6);
        // MINID past every live entry of the first node, not past its last
        // (deleted) one: the node stays with no live entry, as in Redis.
        assert!(s.remove(id(10)));
        assert_eq!(s.trim(0, Some(id(10)), false, 0), 3);
        assert_eq!(s.nodes[&id(6)].live, 0);
        assert_eq!(s.len(), 2);
        assert_eq!(s.first_live_or(StreamId::MAX), id(11));
        assert_eq!(s.trim(0, Some(id(12)), false, 0), 1);
        assert_eq!(s.nodes.len(), 1);
    }

    #[test]
    fn byte_limit_splits_as_redis_sizes_them() {
        // Master entry: header 6 + end 1 + count 2 + deleted 2 + nfields 2
        // + "f" 3 + terminator 2 = 18; a SAMEFIELDS entry with a 10-byte
        // value: flags 2 + ms 2 + seq 2 + value 12 + lp-count 2 = 20.
        let v = b"abcdefghij";
        let mut s = Stream::default();
        push(&mut s, id(1), &[b"f", v], 0, 0);
        assert_eq!(s.nodes[&id(1)].lp_bytes(), 38);
        // 38 + 11 bytes of strings reach a 49-byte limit, not a 50-byte one.
        push(&mut s, id(2), &[b"f", v], 0, 49);
        assert_eq!(s.nodes.len(), 2);
        push(&mut s, id(3), &[b"f", v], 0, 50);
        assert_eq!(s.nodes.len(), 2);
        assert_eq!(s.nodes[&id(2)].lp_bytes(), 58);
        // Integers are sized as integers: "1000" takes 3 bytes, not 6.
        let mut t = Stream::default();
        push(&mut t, id(1), &[b"f", b"1000"], 0, 0);
        assert_eq!(t.nodes[&id(1)].lp_bytes(), 18 + 2 + 2 + 2 + 3 + 2);
        // A different set of names: num-fields and names are stored.
        push(&mut t, id(2), &[b"g", b"1"], 0, 0);
        assert_eq!(t.nodes[&id(1)].lp_bytes(), 29 + 6 + 2 + 3 + 2 + 2);
        assert!(
            !t.nodes[&id(1)]
                .entries(id(1))
                .nth(1)
                .expect("e")
                .fields
                .same_fields()
        );
        // The count element grows past 127 entries.
        let mut u = Stream::default();
        for i in 1..=127 {
            push(&mut u, id(i), &[b"f", b"v"], 0, 0);
        }
        let before = u.nodes[&id(1)].lp_bytes();
        push(&mut u, id(128), &[b"f", b"v"], 0, 0);
        assert_eq!(u.nodes[&id(1)].lp_bytes(), before + 11 + 1);
    }

    #[test]
    fn start_node_forces_a_block() {
        let mut s = filled(3, 100);
        s.start_node();
        s.append(id(4), Box::new([Sds::new(b"f"), Sds::new(b"v")]), 100, 0);
        s.append(id(5), Box::new([Sds::new(b"f"), Sds::new(b"v")]), 100, 0);
        assert_eq!(s.nodes.keys().copied().collect::<Vec<_>>(), [id(1), id(4)]);
        assert_eq!(s.nodes[&id(1)].heap_size(), {
            // Shrunk to fit when closed: nfields + "f" + 3 entries of flags,
            // two deltas, "v" and the back-length.
            1 + 2 + 3 * 6
        });
    }
}
