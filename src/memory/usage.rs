//! MEMORY USAGE: the bytes a key and its value take, counted as the
//! allocator counts them (`super::chunk_size` per allocation). Like Redis's
//! objectComputeSize, the elements of a collection are sampled (`SAMPLES`,
//! default 5, 0 = all) and the average extrapolated; the collection's own
//! tables are counted exactly.

use std::mem::size_of;

use super::chunk_size;
use crate::store::{Hash, Key, Sds, Set, Value};

/// What one keyspace entry costs besides the heap of its key and value:
/// the key table's slot (`Key` 24 bytes, `Value` 24; no stored hash,
/// `store/table.rs`) and the access clock: 52. Like Redis's dictEntry, the index slot pointing
/// at it (4 bytes + a control byte per bucket) is the table's, not the
/// key's.
pub const ENTRY_BYTES: usize = size_of::<Key>() + size_of::<Value>() + 4;

/// Heap bytes of a key (0 when it is inline).
#[inline]
pub fn key_heap(k: &Key) -> usize {
    match k {
        Key::Inline { .. } => 0,
        Key::Heap(b) => chunk_size(b.len()),
    }
}

/// Heap bytes of a string (0 when it is inline).
#[inline]
pub fn sds_heap(s: &Sds) -> usize {
    match s {
        Sds::Inline { .. } => 0,
        Sds::Heap { buf, .. } => chunk_size(buf.capacity()),
        Sds::Huge(v) => chunk_size(size_of::<Vec<u8>>()) + chunk_size(v.capacity()),
    }
}

/// Bytes of an `IndexMap` with `cap` slots of `slot` bytes: the entry
/// vector plus hashbrown's index table (8-byte indexes, 1 control byte per
/// bucket, buckets a power of two at 7/8 load).
pub fn index_map_bytes(cap: usize, slot: usize) -> usize {
    if cap == 0 {
        return 0;
    }
    let buckets = if cap < 4 {
        4
    } else if cap < 8 {
        8
    } else {
        (cap * 8 / 7).next_power_of_two()
    };
    chunk_size(cap * (8 + slot)) + chunk_size(buckets * 9 + 16)
}

/// Extrapolates `sampled` bytes over `n` elements from `seen` of them.
pub(crate) fn extrapolate(sampled: usize, seen: usize, n: usize) -> usize {
    if seen == 0 {
        0
    } else {
        (sampled as f64 / seen as f64 * n as f64) as usize
    }
}

/// Heap bytes of a value; collections sample `samples` elements (0: all).
pub fn value_heap(v: &Value, samples: usize) -> usize {
    let samples = if samples == 0 { usize::MAX } else { samples };
    match v {
        Value::Str(s) => sds_heap(s),
        Value::List(l) => {
            let (own, heap, seen) = l.mem_parts(samples);
            own + extrapolate(heap, seen, l.len())
        }
        Value::Hash(h @ Hash::Pack(_)) => match h.pack_bytes() {
            Some(0) | None => 0,
            Some(n) => chunk_size(n),
        },
        Value::Hash(Hash::Table(t)) => {
            let seen = samples.min(t.len());
            let heap: usize = t.entries().take(seen).map(|e| e.heap_bytes()).sum();
            t.own_bytes() + extrapolate(heap, seen, t.len())
        }
        Value::Set(Set::Ints(is)) => match is.len() {
            0 => 0,
            n => chunk_size(1 + n * is.encoding_width()),
        },
        Value::Set(Set::Table(m)) => {
            let seen = samples.min(m.len());
            let heap: usize = m.iter().take(seen).map(key_heap).sum();
            chunk_size(size_of::<crate::store::set::Members>())
                + m.heap_bytes()
                + extrapolate(heap, seen, m.len())
        }
        Value::ZSet(z) => z.heap_size(),
        Value::Stream(s) => chunk_size(size_of::<crate::store::Stream>()) + s.heap_size(),
    }
}

/// MEMORY USAGE of one entry: its slot, its key's heap and its value.
pub fn entry_bytes(key: &Key, v: &Value, samples: usize) -> usize {
    ENTRY_BYTES + key_heap(key) + value_heap(v, samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_string_entry_is_one_slot() {
        let k = Key::new(b"foo");
        let v = Value::Str(Sds::new(b"bar"));
        assert_eq!(entry_bytes(&k, &v, 5), ENTRY_BYTES);
        let big = Value::Str(Sds::new(&[b'x'; 100]));
        assert_eq!(entry_bytes(&k, &big, 5), ENTRY_BYTES + chunk_size(100));
    }

    #[test]
    fn slot_is_52_bytes() {
        // Redis: 48 for an integer under a key of up to 7 bytes.
        assert_eq!(ENTRY_BYTES, 52);
    }

    #[test]
    fn sampling_extrapolates() {
        assert_eq!(extrapolate(100, 5, 50), 1000);
        assert_eq!(extrapolate(0, 0, 50), 0);
    }
}
