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

use super::buf::{CountedBytes, PACK_MAX_BYTES};
use super::pack::{entry_len, read_entry, read_header, splice, write_entry};
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
#[derive(Clone, Debug, Default)]
pub struct Pack {
    /// The entries; `buf.count` is the number of pairs. One 16-byte field,
    /// so that `Hash` is 16 bytes and `Value` 24.
    buf: CountedBytes,
}

/// Where a field sits in a pack.
struct Found<'a> {
    /// Offset of the field's entry.
    at: usize,
    /// Offset and encoded size of the value's entry.
    val_at: usize,
    val_size: usize,
    value: &'a [u8],
}

impl Pack {
    fn iter(&self) -> PackIter<'_> {
        PackIter {
            buf: &self.buf,
            left: self.buf.count as usize,
        }
    }

    /// The hot path of HGET/HSET on a small hash: a linear scan (as Redis's
    /// listpack), which reads only the lengths of the entries it skips and
    /// compares a field's last byte before its bytes (fields of one hash
    /// tend to share a prefix, not an ending).
    #[inline]
    fn find(&self, field: &[u8]) -> Option<Found<'_>> {
        let buf = &self.buf[..];
        let n = field.len();
        let last = field.last().copied().unwrap_or(0);
        let mut off = 0;
        while off < buf.len() {
            let (flen, fh) = read_header(&buf[off..]);
            let fat = off + fh;
            let vat = fat + flen;
            let (vlen, vh) = read_header(&buf[vat..]);
            let end = vat + vh + vlen;
            if flen == n && (n == 0 || buf[vat - 1] == last) && buf[fat..vat] == *field {
                return Some(Found {
                    at: off,
                    val_at: vat,
                    val_size: vh + vlen,
                    value: &buf[vat + vh..end],
                });
            }
            off = end;
        }
        None
    }

    /// Sets a field (limits already checked); true if it is new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let new = entry_len(value.len());
        if let Some(f) = self.find(field) {
            // In place, like lpReplace: the order does not change.
            let (at, size) = (f.val_at, f.val_size);
            write_entry(splice(&mut self.buf, at, size, new), value);
            return false;
        }
        let off = self.buf.len();
        let slot = splice(&mut self.buf, off, 0, entry_len(field.len()) + new);
        let n = write_entry(slot, field);
        write_entry(&mut slot[n..], value);
        self.buf.count += 1;
        true
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let Some(f) = self.find(field) else {
            return false;
        };
        let (at, end) = (f.at, f.val_at + f.val_size);
        splice(&mut self.buf, at, end - at, 0);
        self.buf.count -= 1;
        true
    }
}

/// The pairs of a pack in order.
pub struct PackIter<'a> {
    buf: &'a [u8],
    left: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (f, fs) = read_entry(self.buf);
        let (v, vs) = read_entry(&self.buf[fs..]);
        self.buf = &self.buf[fs + vs..];
        Some((f, v))
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
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Pack(p) => p.next(),
            Iter::Table(t) => t.next(),
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
        let size: usize = pairs
            .clone()
            .map(|(f, v)| entry_len(f.len()) + entry_len(v.len()))
            .sum();
        let mut buf = vec![0u8; size].into_boxed_slice();
        let mut p = 0;
        for (f, v) in pairs {
            if !seen.insert(f) {
                return None;
            }
            p += write_entry(&mut buf[p..], f);
            p += write_entry(&mut buf[p..], v);
        }
        Some(Hash::Pack(Pack {
            buf: CountedBytes::with_count(buf, n as u32),
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
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Pack(p) => p.find(field).map(|f| f.value),
            Hash::Table(t) => t.get(field),
        }
    }

    #[inline]
    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => p.find(field).is_some(),
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
                && p.buf.len() + entry_len(field.len()) + entry_len(value.len()) <= PACK_MAX_BYTES
            {
                let created = p.set(field, value);
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
        match self {
            Hash::Pack(p) => p.remove(field),
            Hash::Table(t) => t.remove(field),
        }
    }

    /// Turns a pack into a table (order kept), with room for one more.
    fn convert(&mut self) {
        if let Hash::Pack(p) = self {
            let mut t = Table::with_capacity(p.buf.count as usize + 1);
            for (f, v) in p.iter() {
                // (A pack's fields are distinct.)
                let _ = t.push(fields::Entry::new(f, v));
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

    /// The pair at position `i`: O(1) in a table, O(i) in a pack (take
    /// [`Hash::iter`] for many).
    pub fn get_index(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Pack(p) => p.iter().nth(i),
            Hash::Table(t) => t.get_index(i),
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
        let value = [b'v'; 300];
        let mut h = Hash::default();
        let mut n = 0;
        while h.is_packed() {
            let Hash::Pack(p) = &h else { unreachable!() };
            assert!(p.buf.len() <= PACK_MAX_BYTES);
            h.set(format!("f{n}").as_bytes(), &value, &lim);
            n += 1;
        }
        assert!((12..=14).contains(&n), "{n} fields");
        assert_eq!(h.len(), n);
        let fields: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
        let pairs: Vec<(&[u8], &[u8])> =
            fields.iter().map(|f| (f.as_bytes(), &value[..])).collect();
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
        assert_eq!(h.get(b"a"), Some(&b"long-ish"[..]));
        assert!(h.remove(b"b") && !h.remove(b"b"));
        assert_eq!(
            pairs(&h),
            vec![
                (b"a".to_vec(), b"long-ish".to_vec()),
                (b"c".to_vec(), b"3".to_vec())
            ]
        );
        assert_eq!(h.get_index(1), Some((&b"c"[..], &b"3"[..])));
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
            if !x.is_multiple_of(3) {
                let created = h.set(&f, &v, &lim);
                assert_eq!(created, model_set(&mut model, f, v).is_none());
            } else {
                let pos = model.iter().position(|(k, _)| *k == f);
                assert_eq!(h.remove(&f), pos.is_some());
                if let Some(p) = pos {
                    model.remove(p);
                }
            }
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
}
