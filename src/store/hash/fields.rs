//! The hash-table encoding of a hash: [`Table`], an insertion-ordered,
//! index-addressable table of [`Entry`]s, each a field together with its
//! value in one 24-byte slot.
//!
//! A field costs one slot plus, when field and value together are longer
//! than [`INLINE`] bytes, one exactly sized allocation holding both - not
//! two 24-byte strings and a stored hash as a map of `Sds` to `Sds` would
//! (Redis: a 24-byte dictEntry, two sds and a bucket pointer).
//! `swap_remove` only moves the last entry to a lower index, which keeps
//! HSCAN's guarantee (`store::scan`); HRANDFIELD picks by index.

use crate::memory::chunk_size;
use crate::store::scan::scan_indices;
use crate::store::table::TableEntry;
use crate::store::{self, Sds};

/// Field + value bytes kept in the slot itself.
pub const INLINE: usize = 21;

/// One field and its value.
#[derive(Clone, Debug)]
pub enum Entry {
    /// `data[..flen]` is the field, `data[flen..len]` the value.
    Inline {
        len: u8,
        flen: u8,
        data: [u8; INLINE],
    },
    /// One exactly sized allocation: the field, then the value.
    Heap { flen: u32, data: Box<[u8]> },
    /// A field of 4 GiB or more (its length does not fit `flen`).
    Huge(Box<[Box<[u8]>; 2]>),
}

impl Entry {
    pub fn new(field: &[u8], value: &[u8]) -> Entry {
        let len = field.len() + value.len();
        if len <= INLINE {
            let mut data = [0; INLINE];
            data[..field.len()].copy_from_slice(field);
            data[field.len()..len].copy_from_slice(value);
            return Entry::Inline {
                len: len as u8,
                flen: field.len() as u8,
                data,
            };
        }
        match u32::try_from(field.len()) {
            Ok(flen) => {
                let mut data = Vec::with_capacity(len);
                data.extend_from_slice(field);
                data.extend_from_slice(value);
                Entry::Heap {
                    flen,
                    data: data.into_boxed_slice(),
                }
            }
            Err(_) => Entry::Huge(Box::new([field.into(), value.into()])),
        }
    }

    #[inline(always)]
    pub fn field(&self) -> &[u8] {
        match self {
            Entry::Inline { flen, data, .. } => &data[..*flen as usize],
            Entry::Heap { flen, data } => &data[..*flen as usize],
            Entry::Huge(b) => &b[0],
        }
    }

    #[inline(always)]
    pub fn value(&self) -> &[u8] {
        match self {
            Entry::Inline { len, flen, data } => &data[*flen as usize..*len as usize],
            Entry::Heap { flen, data } => &data[*flen as usize..],
            Entry::Huge(b) => &b[1],
        }
    }

    /// (field, value).
    #[inline(always)]
    pub fn pair(&self) -> (&[u8], &[u8]) {
        match self {
            Entry::Inline { len, flen, data } => data[..*len as usize].split_at(*flen as usize),
            Entry::Heap { flen, data } => data.split_at(*flen as usize),
            Entry::Huge(b) => (&b[0], &b[1]),
        }
    }

    /// Replaces the value in place (HSET on an existing field, HINCRBY):
    /// no allocation while the size stays or it still fits the slot; a
    /// heap entry is reallocated to its new exact size.
    #[inline(always)]
    pub fn set_value(&mut self, value: &[u8]) {
        // The common case inline, the rest out of line.
        if let Entry::Inline { len, flen, data } = self
            && *flen as usize + value.len() <= INLINE
        {
            let f = *flen as usize;
            data[f..f + value.len()].copy_from_slice(value);
            *len = (f + value.len()) as u8;
            return;
        }
        self.set_value_slow(value)
    }

    fn set_value_slow(&mut self, value: &[u8]) {
        match self {
            Entry::Heap { flen, data } if *flen as usize + value.len() > INLINE => {
                let f = *flen as usize;
                if data.len() == f + value.len() {
                    data[f..].copy_from_slice(value);
                } else {
                    let mut v = std::mem::take(data).into_vec();
                    v.truncate(f);
                    v.reserve_exact(value.len());
                    v.extend_from_slice(value);
                    *data = v.into_boxed_slice();
                }
            }
            Entry::Huge(b) => b[1] = value.into(),
            // Inline <-> heap.
            _ => *self = Entry::new(self.field(), value),
        }
    }

    /// Allocator bytes this entry owns besides its slot.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Entry::Inline { .. } => 0,
            Entry::Heap { data, .. } => chunk_size(data.len()),
            Entry::Huge(b) => {
                chunk_size(std::mem::size_of::<[Box<[u8]>; 2]>())
                    + chunk_size(b[0].len())
                    + chunk_size(b[1].len())
            }
        }
    }
}

impl TableEntry for Entry {
    #[inline(always)]
    fn key(&self) -> &[u8] {
        self.field()
    }
}

/// The fields of a hash-table encoded hash, in insertion order (as moved
/// by `swap_remove`).
#[derive(Clone, Debug, Default)]
pub struct Table {
    map: store::table::Table<Entry>,
}

/// A table's pairs in order.
pub struct Iter<'a>(std::slice::Iter<'a, Entry>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(Entry::pair)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl Table {
    pub fn with_capacity(n: usize) -> Table {
        Table {
            map: store::table::Table::with_capacity(n),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The cron's step for an idle hash (store/rehash.rs): moves up to
    /// `buckets` buckets of a running index migration; true if it still runs.
    pub fn migrate(&mut self, buckets: usize) -> bool {
        self.map.migrate(buckets)
    }

    /// Positions the index's old table still holds (0: not migrating).
    pub fn migration_left(&self) -> usize {
        self.map.migration_left()
    }

    // (Always inlined: HGET/HSET make one call, into the table's probe,
    // as they did into IndexMap's.)
    #[inline(always)]
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.map.find(field).map(Entry::value)
    }

    #[inline(always)]
    pub fn contains(&self, field: &[u8]) -> bool {
        self.map.contains_key(field)
    }

    /// The pair at position `i`.
    #[inline]
    pub fn get_index(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.map.get_index(i).map(Entry::pair)
    }

    /// Sets `field` to `value`; true if the field is new (then it is last).
    #[inline(always)]
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        // (Find, then insert: one probe call on the update path, which
        // `find_or_insert_with` makes costlier; a new field hashes twice.)
        match self.map.find_mut(field) {
            Some(e) => {
                e.set_value(value);
                false
            }
            None => {
                self.map.insert_unique(Entry::new(field, value));
                true
            }
        }
    }

    /// As [`Table::set`], giving back the old value (for the rollback
    /// journal): None if the field is new.
    pub fn replace(&mut self, field: &[u8], value: &[u8]) -> Option<Sds> {
        match self.map.find_mut(field) {
            Some(e) => {
                let old = Sds::new(e.value());
                e.set_value(value);
                Some(old)
            }
            None => {
                self.map.insert_unique(Entry::new(field, value));
                None
            }
        }
    }

    /// Appends an entry whose field is not in the table yet; gives it
    /// back if it is.
    pub fn push(&mut self, e: Entry) -> Result<usize, Entry> {
        if self.map.contains_key(e.field()) {
            return Err(e);
        }
        Ok(self.map.insert_unique(e))
    }

    /// Removes `field` by swap-remove; true if it was there.
    #[inline]
    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.map.swap_remove_entry_full(field).is_some()
    }

    /// Removes `field` by swap-remove, giving its index and its entry.
    pub fn remove_full(&mut self, field: &[u8]) -> Option<(usize, Entry)> {
        self.map.swap_remove_entry_full(field)
    }

    /// Puts back an entry that `remove_full` took from `index` (the
    /// journal's undo of a deletion): the entry swap-remove moved there
    /// goes back last.
    pub fn restore(&mut self, e: Entry, index: usize) {
        self.map.restore_at(e, index);
    }

    /// The pairs in order.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.map.iter())
    }

    /// The entries in order (MEMORY USAGE samples their heap).
    pub fn entries(&self) -> std::slice::Iter<'_, Entry> {
        self.map.iter()
    }

    /// One HSCAN step over indices (`store::scan`'s cursor).
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        scan_indices(self.len(), cursor, count, |i| {
            if let Some((f, v)) = self.get_index(i) {
                visit(f, v);
            }
        })
    }

    /// Allocator bytes of the table itself (boxed in `Hash`): slots and
    /// index, not the entries' own heap.
    pub fn own_bytes(&self) -> usize {
        chunk_size(std::mem::size_of::<Table>()) + self.map.heap_bytes()
    }

    /// Gives back memory after many deletions (Redis resizes a dict below
    /// 10% fill).
    pub fn maybe_shrink(&mut self) {
        let cap = self.map.capacity();
        if cap > 64 && self.len() * 10 < cap {
            self.map.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::model_set;
    use super::*;
    use crate::store::xorshift;

    #[test]
    fn entry_is_one_slot() {
        assert_eq!(std::mem::size_of::<Entry>(), 24);
    }

    #[test]
    fn entry_values_change_in_place_across_sizes() {
        let long = [b'x'; 100];
        let sizes: [&[u8]; 7] = [
            b"",
            b"1",
            &long[..3],
            &long,
            &long[..18],
            &long[..19],
            &long[..60],
        ];
        for field in [&b""[..], b"f", b"field-12", &long[..30]] {
            for first in sizes {
                for then in sizes {
                    let mut e = Entry::new(field, first);
                    assert_eq!(e.pair(), (field, first));
                    e.set_value(then);
                    assert_eq!((e.field(), e.value()), (field, then));
                    assert_eq!(e.pair(), (field, then));
                    let inline = field.len() + then.len() <= INLINE;
                    assert_eq!(matches!(e, Entry::Inline { .. }), inline);
                    assert_eq!(e.heap_bytes() == 0, inline);
                }
            }
        }
    }

    #[test]
    fn table_matches_a_model_under_random_ops() {
        let mut t = Table::default();
        let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5000 {
            let x = xorshift(&mut x);
            let f = format!("field-{}", x % 150).into_bytes();
            let v = vec![b'v'; (x >> 24) as usize % 40];
            match x % 5 {
                0 => {
                    let pos = model.iter().position(|(k, _)| *k == f);
                    let got = t.remove_full(&f);
                    assert_eq!(got.as_ref().map(|(i, _)| *i), pos);
                    if let Some(p) = pos {
                        model.swap_remove(p);
                        // Undo and redo, as the journal does.
                        let (i, e) = got.unwrap();
                        t.restore(e, i);
                        assert_eq!(t.get_index(p).unwrap().0, &f[..]);
                        assert!(t.remove(&f));
                    }
                }
                1 => {
                    let old = t.replace(&f, &v);
                    assert_eq!(old.as_deref(), model_set(&mut model, f, v).as_deref());
                }
                _ => {
                    let created = t.set(&f, &v);
                    assert_eq!(created, model_set(&mut model, f, v).is_none());
                }
            }
        }
        let got: Vec<_> = t.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(got, model);
        for (f, v) in &model {
            assert_eq!(t.get(f), Some(&v[..]));
        }
        assert!(t.push(Entry::new(&model[0].0, b"x")).is_err());
    }
}
