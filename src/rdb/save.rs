//! Writing RDB with Redis 7.0's encodings: strings as integers when they
//! print back the same and LZF-compressed above 20 bytes (`rdbcompression`),
//! lists as quicklist2 (listpack nodes under `list-max-listpack-size`),
//! hashes as listpack or a plain table (as they are encoded), sets
//! as intset or a plain table, sorted sets as listpack or ZSET_2 with
//! binary scores, streams as listpacks 2 (`stream.rs`). Also the file
//! framing (header, aux fields, SELECTDB, RESIZEDB, EOF and CRC64) and DUMP
//! payloads.

use super::pack::{Entry, ListpackWriter, intset_blob};
use super::*;
use crate::number::parse_i64;
use crate::store::list::Iter as ListIter;
use crate::store::pack;
use crate::store::set::Set;
use crate::store::{List, Value, ZSet};

/// Encoding choices for saving (from the configuration).
#[derive(Clone, Copy, Debug)]
pub struct SaveOpts {
    pub compress: bool,
    /// `list-max-listpack-size`: negative = bytes class (-1 4 KiB .. -5
    /// 64 KiB), positive = elements per node.
    pub list_fill: i64,
    /// `list-compress-depth`: nodes this far from both ends stay plain; a
    /// quicklist holds the ones between LZF-compressed, and RDB saves them
    /// compressed even under `rdbcompression no`. 0: none compressed.
    pub list_depth: usize,
}

impl Default for SaveOpts {
    fn default() -> Self {
        SaveOpts {
            compress: true,
            list_fill: -2,
            list_depth: 0,
        }
    }
}

/// Longest listpack node a positive fill still allows (quicklist's
/// SIZE_SAFETY_LIMIT).
const SIZE_SAFETY_LIMIT: usize = 8192;
/// quicklistSetFill clamps the fill to -5..=FILL_MAX.
pub const FILL_MAX: i64 = (1 << 15) - 1;

pub fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A string the way `rdbSaveRawString` writes it.
pub fn write_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11
        && let Some(v) = parse_i64(s)
    {
        if let Ok(b) = i8::try_from(v) {
            out.extend_from_slice(&[0xC0 | ENC_INT8, b as u8]);
            return;
        }
        if let Ok(h) = i16::try_from(v) {
            out.push(0xC0 | ENC_INT16);
            out.extend_from_slice(&h.to_le_bytes());
            return;
        }
        if let Ok(w) = i32::try_from(v) {
            out.push(0xC0 | ENC_INT32);
            out.extend_from_slice(&w.to_le_bytes());
            return;
        }
    }
    if compress
        && s.len() > 20
        && let Some(c) = super::lzf::compress(s, s.len() - 4)
    {
        out.push(0xC0 | ENC_LZF);
        write_len(out, c.len() as u64);
        write_len(out, s.len() as u64);
        out.extend_from_slice(&c);
        return;
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn write_raw(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    // Blobs (listpacks, intsets) never look like integers: same path.
    write_string(out, s, compress);
}

/// The RDB type byte `value` is written with.
pub fn value_type(v: &Value) -> u8 {
    match v {
        Value::Str(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST_QUICKLIST_2,
        Value::Hash(h) if h.is_packed() => TYPE_HASH_LISTPACK,
        Value::Hash(_) => TYPE_HASH,
        Value::Set(Set::Ints(_)) => TYPE_SET_INTSET,
        Value::Set(_) => TYPE_SET,
        Value::ZSet(z) if z.is_listpack() => TYPE_ZSET_LISTPACK,
        Value::ZSet(_) => TYPE_ZSET_2,
        Value::Stream(_) => TYPE_STREAM_LISTPACKS_2,
    }
}

/// Writes the type byte and the payload of `value`.
pub fn write_value(out: &mut Vec<u8>, value: &Value, o: &SaveOpts) {
    let ty = value_type(value);
    out.push(ty);
    write_payload(out, value, ty, o);
}

fn write_payload(out: &mut Vec<u8>, value: &Value, ty: u8, o: &SaveOpts) {
    let c = o.compress;
    match value {
        Value::Str(s) => write_string(out, s, c),
        Value::Stream(s) => super::stream::write(out, s, c),
        Value::List(l) => {
            // The node count comes first: the nodes go to a buffer of
            // their own, one node in memory at a time besides it.
            let mut body = Vec::new();
            let count = visit_list_nodes(l, o.list_fill, o.list_depth, |n, interior| {
                write_list_node(&mut body, n, interior, c)
            });
            write_len(out, count as u64);
            out.extend_from_slice(&body);
        }
        Value::Hash(h) => {
            if ty == TYPE_HASH_LISTPACK {
                let mut w = ListpackWriter::default();
                let mut scratch = Vec::new();
                for (f, v) in h.iter() {
                    w.push(f.join(&mut scratch));
                    w.push(v.join(&mut scratch));
                }
                write_raw(out, &w.finish(), c);
            } else {
                write_len(out, h.len() as u64);
                for (f, v) in h.iter() {
                    write_string(out, &f.cow(), c);
                    write_string(out, &v.cow(), c);
                }
            }
        }
        Value::Set(Set::Ints(is)) => {
            let m: Vec<i64> = is.iter().collect();
            write_raw(out, &intset_blob(m.iter().copied()), c)
        }
        Value::Set(s) => {
            write_len(out, s.len() as u64);
            for m in s.iter() {
                m.with_bytes(|b| write_string(out, b, c));
            }
        }
        Value::ZSet(z) => write_zset(out, z, c),
    }
}

fn write_zset(out: &mut Vec<u8>, z: &ZSet, c: bool) {
    let mut items: Vec<(&[u8], f64)> = Vec::with_capacity(z.len());
    z.for_each(|m, s| items.push((m, s)));
    if z.is_listpack() {
        let mut w = ListpackWriter::default();
        for (m, s) in items {
            w.push(m);
            w.push(score_text(s).as_bytes());
        }
        write_raw(out, &w.finish(), c);
    } else {
        // Tail to head, as Redis writes them (loading then inserts at the
        // head of the skiplist).
        write_len(out, items.len() as u64);
        for (m, s) in items.into_iter().rev() {
            write_string(out, m, c);
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
}

/// A score as a listpack holds it (Redis's `d2string`: integral values
/// in range as integers, else `%.17g`).
fn score_text(s: f64) -> String {
    if s.is_infinite() {
        return if s > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if s == 0.0 {
        return if s.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    if s.fract() == 0.0 && s.abs() < (1u64 << 52) as f64 {
        return (s as i64).to_string();
    }
    crate::number::fmt_g17(s)
}

/// A quicklist node as `__quicklistCompressNode` compresses it: at least
/// 48 bytes (MIN_COMPRESS_BYTES) and 8 bytes smaller (MIN_COMPRESS_IMPROVE).
fn node_lzf(node: &[u8]) -> Option<Vec<u8>> {
    if node.len() < 48 {
        return None;
    }
    super::lzf::compress(node, node.len()).filter(|z| z.len() + 8 < node.len())
}

/// One quicklist node as RDB saves it: a node the quicklist holds
/// compressed (`interior`) as its LZF blob (rdbSaveLzfBlob, also under
/// `rdbcompression no`), else as a string.
fn write_list_node(out: &mut Vec<u8>, node: &[u8], interior: bool, compress: bool) {
    write_len(out, QUICKLIST_PACKED);
    match interior.then(|| node_lzf(node)).flatten() {
        Some(z) => {
            out.push(0xC0 | ENC_LZF);
            write_len(out, z.len() as u64);
            write_len(out, node.len() as u64);
            out.extend_from_slice(&z);
        }
        None => write_raw(out, node, compress),
    }
}

/// The length `write_list_node` writes for `node`, without writing it
/// (DEBUG OBJECT's serializedlength: no copy of every node). A node is a
/// listpack: never an integer string (it ends in 0xFF).
fn list_node_len(node: &[u8], interior: bool, compress: bool) -> usize {
    let len_len = |n: usize| match n {
        0..=63 => 1,
        64..=16383 => 2,
        _ if n as u64 <= u32::MAX as u64 => 5,
        _ => 9,
    };
    let lzf = |z: Vec<u8>| 1 + len_len(z.len()) + len_len(node.len()) + z.len();
    let body = if let Some(z) = interior.then(|| node_lzf(node)).flatten() {
        lzf(z)
    } else if let Some(z) = (compress && node.len() > 20)
        .then(|| super::lzf::compress(node, node.len() - 4))
        .flatten()
    {
        lzf(z)
    } else {
        len_len(node.len()) + node.len()
    };
    len_len(QUICKLIST_PACKED as usize) + body
}

/// Splits list elements into listpack nodes the way Redis 7.0's quicklist
/// fills them by tail pushes (RPUSH, RESTORE of a plain list), with its
/// `_quicklistNodeAllowInsert`: an element joins the last node if the
/// node's size plus the element's string length plus 8 (its estimated
/// entry overhead) stays within the fill's byte class (negative fill), else
/// within SIZE_SAFETY_LIMIT and under the fill's count (positive fill).
/// A list filled otherwise (LPUSH, LINSERT, removals) may have other
/// node boundaries in Redis. Elements of 1 GiB or more (Redis's plain
/// nodes) are not told apart.
///
/// Calls `f` with each node in order and whether the quicklist would hold
/// it compressed: more than `depth` nodes from both ends, none when
/// `depth` is 0 (quicklistAllowsCompression). Only the last `depth` nodes
/// are held back (their place is known at the end); returns the count.
///
/// Reads the list's entries raw (`store::pack`'s codec, chunk by chunk):
/// an integer entry becomes a listpack integer directly, its string length
/// counted from the value (no formatting the digits and parsing them back),
/// a string entry a listpack string (a list never holds a canonical
/// integer as a string entry). A 5M-element list's DEBUG OBJECT spends its
/// time here and in LZF.
pub fn visit_list_nodes(
    l: &List,
    fill: i64,
    depth: usize,
    mut f: impl FnMut(&[u8], bool),
) -> usize {
    let fill = fill.clamp(-5, FILL_MAX);
    let mut held: std::collections::VecDeque<Vec<u8>> = std::collections::VecDeque::new();
    let mut count = 0;
    let mut node_done = |node: Vec<u8>, count: &mut usize| {
        *count += 1;
        if depth == 0 {
            f(&node, false);
            return;
        }
        held.push_back(node);
        // `depth` nodes follow the front one: it is not near the tail, and
        // near the head only among the first `depth`.
        if held.len() > depth
            && let Some(n) = held.pop_front()
        {
            f(&n, *count - held.len() > depth);
        }
    };
    let mut cur = ListpackWriter::default();
    for (buf, n) in list_segments(l) {
        let mut p = 0;
        for _ in 0..n {
            let b0 = buf[p];
            let (e, size) = if b0 < 0x80 {
                let len = b0 as usize;
                (Entry::Str(&buf[p + 1..p + 1 + len]), 1 + len)
            } else if b0 == pack::LONG_STR {
                let (s, size) = pack::read_entry(&buf[p..]);
                (Entry::Str(s), size)
            } else {
                let (v, size) = pack::read_int(&buf[p..]);
                (Entry::Int(v), size)
            };
            p += size;
            // The quicklist weighs an element by its string's length.
            let sz = match e {
                Entry::Str(s) => s.len(),
                Entry::Int(v) => decimal_len(v),
            };
            // `bytes` leaves out the terminator lpBytes counts.
            if cur.count() > 0 && !node_allows_insert(cur.bytes() + 1, cur.count(), sz, fill) {
                // The next node is likely as big as this one.
                let next = ListpackWriter::with_capacity(cur.bytes() + 16);
                node_done(std::mem::replace(&mut cur, next).finish(), &mut count);
            }
            match e {
                Entry::Str(s) => cur.push_str(s),
                Entry::Int(v) => cur.push_int(v),
            }
        }
    }
    if cur.count() > 0 {
        node_done(cur.finish(), &mut count);
    }
    for n in held {
        f(&n, false);
    }
    count
}

/// The raw entries of `l`, a buffer and an entry count per chunk.
fn list_segments(l: &List) -> Box<dyn Iterator<Item = (&[u8], usize)> + '_> {
    match l.iter() {
        ListIter::Packed(it) => Box::new(std::iter::once(it.segment())),
        ListIter::Chunked(it) => Box::new(it.segments()),
    }
}

/// Length of `v` in decimal.
fn decimal_len(v: i64) -> usize {
    let digits = v
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1);
    digits + usize::from(v < 0)
}

/// quicklist.c's `_quicklistNodeAllowInsert` (7.0) for a node of `node_sz`
/// bytes and `count` entries and an element of `sz` bytes.
fn node_allows_insert(node_sz: usize, count: usize, sz: usize, fill: i64) -> bool {
    // SIZE_ESTIMATE_OVERHEAD: an entry's header and back-length, over-
    // estimated.
    let new_sz = node_sz + sz + 8;
    let class = match fill {
        -1 => Some(4096),
        -2 => Some(8192),
        -3 => Some(16384),
        -4 => Some(32768),
        f if f <= -5 => Some(65536),
        _ => None,
    };
    if class.is_some_and(|max| new_sz <= max) {
        true
    } else if new_sz > SIZE_SAFETY_LIMIT {
        false
    } else {
        (count as i64) < fill
    }
}

/// Bytes `value`'s RDB payload takes (type byte and key left out), as
/// Redis's `rdbSavedObjectLen` counts for DEBUG OBJECT's serializedlength.
pub fn payload_len(value: &Value, o: &SaveOpts) -> usize {
    if let Value::List(l) = value {
        return list_stats(l, o).payload;
    }
    let mut out = Vec::new();
    write_payload(&mut out, value, value_type(value), o);
    out.len()
}

/// What DEBUG OBJECT says of a list, from the nodes Redis 7.0 would hold.
pub struct ListStats {
    /// ql_nodes.
    pub nodes: usize,
    /// The nodes' listpack bytes (ql_uncompressed_size).
    pub size: usize,
    /// The RDB payload's length (serializedlength).
    pub payload: usize,
}

/// [`ListStats`] in one pass over the list, one node's encoding in memory
/// at a time (a big list's DEBUG OBJECT neither builds its payload nor its
/// nodes at once).
pub fn list_stats(l: &List, o: &SaveOpts) -> ListStats {
    let (mut size, mut payload) = (0, 0);
    let nodes = visit_list_nodes(l, o.list_fill, o.list_depth, |n, interior| {
        size += n.len();
        payload += list_node_len(n, interior, o.compress);
    });
    let mut scratch = Vec::new();
    write_len(&mut scratch, nodes as u64);
    ListStats {
        nodes,
        size,
        payload: payload + scratch.len(),
    }
}

/// One key as a file holds it: `[EXPIRETIME_MS]` type key payload.
pub fn write_entry(
    out: &mut Vec<u8>,
    key: &[u8],
    value: &Value,
    expire: Option<u64>,
    o: &SaveOpts,
) {
    if let Some(at) = expire {
        out.push(OP_EXPIRETIME_MS);
        out.extend_from_slice(&at.to_le_bytes());
    }
    let ty = value_type(value);
    out.push(ty);
    write_string(out, key, o.compress);
    write_payload(out, value, ty, o);
}

/// The start of a big list, hash, set or sorted set written in slices: the plain
/// (element-by-element) encodings, so the count can precede elements that
/// are written later.
pub fn write_entry_head(
    out: &mut Vec<u8>,
    key: &[u8],
    value: &Value,
    expire: Option<u64>,
    o: &SaveOpts,
) {
    if let Some(at) = expire {
        out.push(OP_EXPIRETIME_MS);
        out.extend_from_slice(&at.to_le_bytes());
    }
    let (ty, n) = match value {
        Value::List(l) => (TYPE_LIST, l.len()),
        Value::Hash(h) if !h.is_packed() => (TYPE_HASH, h.len()),
        Value::Set(s) if !matches!(s, Set::Ints(_)) => (TYPE_SET, s.len()),
        Value::ZSet(z) if !z.is_listpack() => (TYPE_ZSET_2, z.len()),
        _ => return write_entry(out, key, value, None, o),
    };
    out.push(ty);
    write_string(out, key, o.compress);
    write_len(out, n as u64);
}

/// Elements `from..to` of a list, hash, set or sorted set whose head `write_entry_head`
/// wrote.
pub fn write_elements(out: &mut Vec<u8>, value: &Value, from: usize, to: usize, o: &SaveOpts) {
    match value {
        Value::List(l) => {
            for e in l.range(from, to) {
                write_string(out, &e, o.compress);
            }
        }
        Value::Hash(h) => {
            for i in from..to.min(h.len()) {
                if let Some((f, v)) = h.get_index(i) {
                    write_string(out, &f.cow(), o.compress);
                    write_string(out, &v.cow(), o.compress);
                }
            }
        }
        Value::Set(s) => {
            for i in from..to.min(s.len()) {
                if let Some(m) = s.get_index(i) {
                    m.with_bytes(|b| write_string(out, b, o.compress));
                }
            }
        }
        // Tail to head, as `write_zset` writes them: position i is rank
        // len - 1 - i.
        Value::ZSet(z) => {
            let (len, to) = (z.len(), to.min(z.len()));
            if from < to {
                z.for_range(len - to, len - from, true, |m, s| {
                    write_string(out, m, o.compress);
                    out.extend_from_slice(&s.to_le_bytes());
                });
            }
        }
        _ => {}
    }
}

/// `REDIS0010` and the aux fields Redis writes.
pub fn write_header(out: &mut Vec<u8>, aux: &[(&str, String)]) {
    out.extend_from_slice(b"REDIS");
    out.extend_from_slice(format!("{RDB_VERSION:04}").as_bytes());
    for (k, v) in aux {
        out.push(OP_AUX);
        write_string(out, k.as_bytes(), false);
        write_string(out, v.as_bytes(), false);
    }
}

pub fn write_select(out: &mut Vec<u8>, db: usize, keys: usize, expires: usize) {
    out.push(OP_SELECTDB);
    write_len(out, db as u64);
    out.push(OP_RESIZEDB);
    write_len(out, keys as u64);
    write_len(out, expires as u64);
}

pub fn write_function(out: &mut Vec<u8>, code: &[u8]) {
    out.push(OP_FUNCTION2);
    write_string(out, code, false);
}

/// DUMP's payload: type, value, RDB version (2 bytes LE), CRC64 (8 bytes
/// LE) of all that.
pub fn dump_payload(value: &Value, o: &SaveOpts) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, value, o);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Redis's `verifyDumpPayload`: long enough, a version this server reads,
/// and a matching checksum.
pub fn verify_dump_payload(p: &[u8]) -> bool {
    if p.len() < 10 {
        return false;
    }
    let footer = &p[p.len() - 10..];
    let ver = u16::from_le_bytes([footer[0], footer[1]]);
    if ver > RDB_VERSION {
        return false;
    }
    let crc = crc64(&p[..p.len() - 8]);
    crc.to_le_bytes() == footer[2..10]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_node_len_is_what_write_list_node_writes() {
        let mut x = 12345u64;
        let mut rand = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let node = |elems: &mut dyn Iterator<Item = Vec<u8>>| {
            let mut w = ListpackWriter::default();
            elems.for_each(|e| w.push(&e));
            w.finish()
        };
        let nodes = [
            node(&mut std::iter::once(b"a".to_vec())),
            node(&mut (0..5).map(|i| i.to_string().into_bytes())),
            node(&mut (0..3000).map(|i| (i % 100).to_string().into_bytes())),
            node(&mut (0..500).map(|_| rand().to_le_bytes().to_vec())),
            node(&mut (0..3000).map(|i| format!("value-{i}").into_bytes())),
        ];
        for n in &nodes {
            for (interior, compress) in [(false, false), (false, true), (true, false), (true, true)]
            {
                let mut out = Vec::new();
                write_list_node(&mut out, n, interior, compress);
                assert_eq!(
                    list_node_len(n, interior, compress),
                    out.len(),
                    "{} bytes interior {interior} compress {compress}",
                    n.len()
                );
            }
        }
    }
}
