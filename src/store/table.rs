//! `Table<T>`: the insertion-ordered, index-addressable hash table behind
//! the keyspace (`Db::keys`, `Db::expires`), and reusable for any table
//! keyed by client-chosen bytes (hash fields, set members).
//!
//! It is `IndexMap`'s layout minus the stored hash: entries live densely in
//! a `Vec<T>` (what SCAN, eviction sampling, active expiry and RANDOMKEY
//! address by position), and a `PosIndex` (store/index.rs: a
//! `hashbrown::HashTable<u32>` that grows incrementally) maps a key's hash
//! to its entry's position. IndexMap keeps a 64-bit hash beside every
//! entry and a `usize` per index slot; here an entry is only `T` and an
//! index slot 4 bytes, 12 bytes less per key (MEMORY USAGE and RSS count
//! them). The price: growing the index and moving an entry in
//! `swap_remove` re-hash keys instead of reading a stored hash (a short
//! key's foldhash is a few multiplies).
//!
//! Hashing uses the table's own keyed foldhash state (`KeyState`, a secret
//! per-table seed), so HashDoS stays impossible.
//!
//! Order rules (SCAN's guarantee rests on them, see `store/scan.rs`):
//! entries are appended; `swap_remove*` moves only the *last* entry into the
//! hole; nothing else ever moves an entry, including `purge_tombstones` and
//! `rebuild_index`, which only rebuild the hash index.
//!
//! Capacity: the entries vector grows to the index's capacity (as indexmap
//! does), so it never doubles blindly past what the index holds.
//!
//! A new table has no index until its second entry (its one entry is
//! found by comparing its key, as `get_index_of` always did for one
//! entry) and an entries vector of exactly one: a hash holding one
//! big field costs 48 + 48 bytes less (one 24-byte slot instead of three,
//! no 4-bucket index). The second insert builds the index. Invariant: the
//! index maps every entry, or it is unallocated and `len() <= 1`.
//! Positions are `u32`: a table holds at most 2^32 - 1 entries (a keyspace
//! that size needs > 200 GB; reaching it is a capacity overflow, like
//! `Vec`'s).

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hasher};

use super::hasher::KeyState;
use super::index::PosIndex;
#[cfg(test)]
use super::index::full_capacity;

/// An entry of a [`Table`]: it knows its key's bytes.
pub trait TableEntry {
    fn key(&self) -> &[u8];
}

impl<K: Borrow<[u8]>, V> TableEntry for (K, V) {
    #[inline(always)]
    fn key(&self) -> &[u8] {
        self.0.borrow()
    }
}

impl TableEntry for super::Key {
    #[inline(always)]
    fn key(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// The insertion-ordered hash table (see the module doc).
#[derive(Clone, Debug)]
pub struct Table<T> {
    entries: Vec<T>,
    index: PosIndex,
    state: KeyState,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            entries: Vec::new(),
            index: PosIndex::new(),
            state: KeyState::default(),
        }
    }
}

/// The hash of a key under `state`: one `write`, no length prefix
/// (foldhash mixes the length in itself; every lookup and insert of a
/// table hashes the same way).
#[inline(always)]
fn hash_key(state: &KeyState, key: &[u8]) -> u64 {
    let mut h = state.build_hasher();
    h.write(key);
    h.finish()
}

#[inline(always)]
fn pos(i: usize) -> u32 {
    // Past 2^32 - 1 entries is a capacity overflow (module doc).
    u32::try_from(i).expect("table capacity overflow")
}

impl<T: TableEntry> Table<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        let mut t = Self::default();
        t.reserve(n);
        t
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries the table holds before its next insert must purge deleted
    /// slots or grow (`len() == capacity()` means full), as IndexMap's.
    #[inline]
    pub fn capacity(&self) -> usize {
        if self.indexed() {
            self.index.capacity()
        } else {
            // No index yet: the one slot of the entries vector, if any.
            self.entries.capacity().min(1)
        }
    }

    /// The index exists (module doc: else `len() <= 1`). hashbrown's
    /// unallocated table reports one bucket, an allocated one at least 4.
    #[inline(always)]
    fn indexed(&self) -> bool {
        self.index.num_buckets() > 1
    }

    /// The hash `key` has in this table.
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        hash_key(&self.state, key)
    }

    /// `key`'s position (`hash` is its hash).
    #[inline]
    fn find_pos(&self, hash: u64, key: &[u8]) -> Option<usize> {
        if !self.indexed() {
            return self.entries.first().filter(|e| e.key() == key).map(|_| 0);
        }
        self.find_indexed(hash, key)
    }

    /// `find_pos` on a table known to have its index.
    #[inline]
    fn find_indexed(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(hash, |j| entries[j as usize].key() == key)
            .map(|j| j as usize)
    }

    /// The position of `key`'s entry.
    #[inline]
    pub fn get_index_of(&self, key: &[u8]) -> Option<usize> {
        // As IndexMap: no hashing for an empty or one-entry table.
        match self.entries.as_slice() {
            [] => None,
            [only] => (only.key() == key).then_some(0),
            // Two or more entries: the index exists (module doc).
            _ => self.find_indexed(self.hash(key), key),
        }
    }

    #[inline]
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get_index_of(key).is_some()
    }

    /// `key`'s entry.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<&T> {
        let i = self.get_index_of(key)?;
        self.entries.get(i)
    }

    #[inline]
    pub fn find_mut(&mut self, key: &[u8]) -> Option<&mut T> {
        let i = self.get_index_of(key)?;
        self.entries.get_mut(i)
    }

    /// `key`'s entry with its position.
    #[inline]
    pub fn find_full(&self, key: &[u8]) -> Option<(usize, &T)> {
        let i = self.get_index_of(key)?;
        self.entries.get(i).map(|e| (i, e))
    }

    #[inline]
    pub fn find_full_mut(&mut self, key: &[u8]) -> Option<(usize, &mut T)> {
        let i = self.get_index_of(key)?;
        self.entries.get_mut(i).map(|e| (i, e))
    }

    /// The entry at position `i`.
    #[inline]
    pub fn get_index(&self, i: usize) -> Option<&T> {
        self.entries.get(i)
    }

    #[inline]
    pub fn get_index_mut(&mut self, i: usize) -> Option<&mut T> {
        self.entries.get_mut(i)
    }

    /// All entries in order (position `i` is `as_slice()[i]`).
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        &self.entries
    }

    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.entries.iter()
    }

    /// Appends an entry whose key is known to be absent; its position.
    pub fn insert_unique(&mut self, entry: T) -> usize {
        debug_assert!(!self.contains_key(entry.key()));
        let h = self.hash(entry.key());
        self.push(h, entry)
    }

    /// Inserts `entry`, or replaces the whole entry of an equal key in
    /// place (its position kept): (position, replaced entry).
    pub fn insert_entry_full(&mut self, entry: T) -> (usize, Option<T>) {
        let h = self.hash(entry.key());
        match self.find_pos(h, entry.key()) {
            Some(i) => (i, Some(std::mem::replace(&mut self.entries[i], entry))),
            None => (self.push(h, entry), None),
        }
    }

    /// `key`'s position, after appending `make()` (which must have that
    /// key) if it was absent; true if it was appended.
    pub fn find_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> T) -> (usize, bool) {
        let h = self.hash(key);
        if let Some(i) = self.find_pos(h, key) {
            return (i, false);
        }
        let e = make();
        debug_assert!(e.key() == key);
        (self.push(h, e), true)
    }

    /// Appends an entry of hash `h`; its key is absent.
    fn push(&mut self, h: u64, entry: T) -> usize {
        let i = self.entries.len();
        let p = pos(i);
        if !self.indexed() {
            if i == 0 {
                // The first entry: no index, one slot (module doc).
                self.entries.reserve_exact(1);
                self.entries.push(entry);
                return 0;
            }
            // The second: index the first one now.
            self.index_first(2);
        }
        // A full index grows or drops its deleted markers incrementally
        // (store/index.rs); every indexed position names its entry here.
        let (entries, state) = (&self.entries, &self.state);
        self.index
            .insert(h, p, |j| hash_key(state, entries[j as usize].key()));
        if self.entries.len() == self.entries.capacity() {
            // Match the index's capacity (indexmap's rule): the vector
            // grows with the index, never past it.
            let want = self.index.capacity().max(i + 1);
            self.entries.reserve_exact(want - i);
        }
        self.entries.push(entry);
        i
    }

    /// Puts back an entry that a swap-remove took from position `index`
    /// (a rollback's undo): it returns to `index` and the entry the removal
    /// moved there goes back last, so every position is as before. Nothing
    /// if its key is present.
    pub fn restore_at(&mut self, entry: T, index: usize) {
        if self.contains_key(entry.key()) {
            return;
        }
        let last = self.insert_unique(entry);
        if index < last
            && let Some(moved) = self.swap_remove_index(index)
        {
            // The restored entry (last) now fills `index`.
            self.insert_unique(moved);
        }
    }

    /// Removes `key`'s entry by moving the last entry into its place:
    /// (its former position, the entry).
    pub fn swap_remove_entry_full(&mut self, key: &[u8]) -> Option<(usize, T)> {
        if self.entries.is_empty() {
            return None;
        }
        if !self.indexed() {
            let i = self.find_pos(0, key)?;
            return Some((i, self.entries.swap_remove(i)));
        }
        self.tick();
        let h = self.hash(key);
        let entries = &self.entries;
        let i = self.index.remove(h, |j| entries[j as usize].key() == key)? as usize;
        Some((i, self.swap_remove_finish(i)))
    }

    /// Removes the entry at position `i`, moving the last entry there.
    pub fn swap_remove_index(&mut self, i: usize) -> Option<T> {
        self.entries.get(i)?;
        if !self.indexed() {
            return Some(self.entries.swap_remove(i));
        }
        self.tick();
        let h = self.hash(self.entries[i].key());
        let removed = self.index.remove(h, |j| j as usize == i);
        debug_assert!(removed.is_some(), "position {i} not indexed");
        Some(self.swap_remove_finish(i))
    }

    /// The index no longer names position `i`: point the last entry's
    /// slot at `i` and move that entry there.
    fn swap_remove_finish(&mut self, i: usize) -> T {
        let last = self.entries.len() - 1;
        if i < last {
            let h = self.hash(self.entries[last].key());
            let slot = self.index.find_mut(h, |j| j as usize == last);
            debug_assert!(slot.is_some(), "last position {last} not indexed");
            if let Some(slot) = slot {
                *slot = pos(i);
            }
        }
        self.entries.swap_remove(i)
    }

    /// Allocates the index of a table that has none (module doc), with
    /// room for `additional` more entries, and indexes its entry if any.
    #[cold]
    #[inline(never)]
    fn index_first(&mut self, additional: usize) {
        let (entries, state) = (&self.entries, &self.state);
        let rehash = |j: u32| hash_key(state, entries[j as usize].key());
        self.index.reserve(entries.len() + additional, rehash);
        if let Some(e) = entries.first() {
            self.index.insert(hash_key(state, e.key()), 0, rehash);
        }
    }

    /// While the index migrates, moves its next step of buckets (before a
    /// removal, while every indexed position still names its entry).
    #[inline(always)]
    fn tick(&mut self) {
        if self.index.is_migrating() {
            self.step();
        }
    }

    #[inline(never)]
    fn step(&mut self) {
        let (entries, state) = (&self.entries, &self.state);
        self.index
            .tick(|j| hash_key(state, entries[j as usize].key()));
    }

    /// Background work for an idle table: moves up to `buckets` buckets of
    /// a running index migration; true if it still runs.
    pub fn migrate(&mut self, buckets: usize) -> bool {
        let (entries, state) = (&self.entries, &self.state);
        self.index
            .migrate(buckets, |j| hash_key(state, entries[j as usize].key()))
    }

    /// The index is moving into a bigger (or rebuilt) table.
    #[inline]
    pub fn is_migrating(&self) -> bool {
        self.index.is_migrating()
    }

    /// Positions the index's old table still holds (0: not migrating).
    #[inline]
    pub fn migration_left(&self) -> usize {
        self.index.migration_left()
    }

    /// Makes room for `additional` more entries (at once: bulk loads).
    pub fn reserve(&mut self, additional: usize) {
        if additional == 0 {
            return;
        }
        if !self.indexed() {
            if self.entries.len() + additional <= 1 {
                // Room for one entry needs no index (module doc).
                self.entries.reserve_exact(additional);
                return;
            }
            self.index_first(additional);
        }
        let (entries, state) = (&self.entries, &self.state);
        self.index
            .reserve(additional, |j| hash_key(state, entries[j as usize].key()));
        let want = self.index.capacity().max(self.entries.len() + additional);
        self.entries
            .reserve_exact(want.saturating_sub(self.entries.len()));
    }

    /// Gives back memory: the entries vector at once (a realloc), the
    /// index in place when small, else by an incremental migration into a
    /// table of 5/4 the entries (store/index.rs); not while it migrates.
    pub fn shrink_to_fit(&mut self) {
        if self.index.is_migrating() {
            // Tried again by the next caller (`maybe_shrink` after a
            // removal) once the migration ends; shrinking the entries
            // alone would reallocate them on every removal meanwhile.
            return;
        }
        let (entries, state) = (&self.entries, &self.state);
        self.index
            .shrink(|j| hash_key(state, entries[j as usize].key()));
        self.entries.shrink_to_fit();
    }

    /// Removes every entry, keeping the allocations.
    pub fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
    }

    /// Index slots lost to deleted markers (hashbrown tombstones left by
    /// removals): they count against growth although no entry uses them.
    #[inline]
    pub fn tombstones(&self) -> usize {
        self.index.tombstones()
    }

    /// The table is full (`len() == capacity()`): if deleted markers are
    /// what fills it, rebuild the index in place instead of letting the
    /// next insert double it. Redis's chained dict has no tombstones; under
    /// maxmemory churn the doubling cost ~10% of the keys held. Only when
    /// tombstones are at least 1/32 of the table, so a rebuild wins back
    /// at least n/32 slots (amortized O(1) per insert; a table full of
    /// live entries is left to grow). True if it rebuilt.
    /// Not while the index migrates (its new table has no markers but
    /// those of removals since).
    pub fn purge_tombstones(&mut self) -> bool {
        let full = super::index::full_capacity(self.index.num_buckets());
        if self.index.is_migrating() || self.tombstones() < full / 32 || self.tombstones() == 0 {
            return false;
        }
        self.rebuild_index();
        true
    }

    /// Rebuilds the hash index at its size without deleted markers: a
    /// fresh table, filled incrementally (store/index.rs) once the table is
    /// big, at once when small. No entry moves (every position stays
    /// valid).
    pub fn rebuild_index(&mut self) {
        let (entries, state) = (&self.entries, &self.state);
        self.index
            .rebuild(|j| hash_key(state, entries[j as usize].key()));
    }

    /// Heap bytes of the table as the allocator counts them: the entries
    /// vector and the index.
    pub fn heap_bytes(&self) -> usize {
        let v = self.entries.capacity() * std::mem::size_of::<T>();
        let c = |n: usize| {
            if n == 0 {
                0
            } else {
                crate::memory::chunk_size(n)
            }
        };
        c(v) + self.index.allocations().into_iter().map(c).sum::<usize>()
    }
}

/// Map-like access for tables of (key, value) pairs: IndexMap's names.
impl<K: Borrow<[u8]>, V> Table<(K, V)> {
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|(_, v)| v)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.find_mut(key).map(|(_, v)| v)
    }

    #[inline]
    pub fn get_key_value(&self, key: &[u8]) -> Option<(&K, &V)> {
        self.find(key).map(|(k, v)| (k, v))
    }

    #[inline]
    pub fn get_full(&self, key: &[u8]) -> Option<(usize, &K, &V)> {
        self.find_full(key).map(|(i, (k, v))| (i, k, v))
    }

    #[inline]
    pub fn get_full_mut(&mut self, key: &[u8]) -> Option<(usize, &K, &mut V)> {
        self.find_full_mut(key).map(|(i, (k, v))| (i, &*k, v))
    }

    /// Inserts or updates `key`'s value (an existing entry keeps its key
    /// and position): the old value.
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.insert_full(key, value).1
    }

    pub fn insert_full(&mut self, key: K, value: V) -> (usize, Option<V>) {
        let h = self.hash(key.borrow());
        match self.find_pos(h, key.borrow()) {
            Some(i) => (i, Some(std::mem::replace(&mut self.entries[i].1, value))),
            None => (self.push(h, (key, value)), None),
        }
    }

    #[inline]
    pub fn swap_remove(&mut self, key: &[u8]) -> Option<V> {
        self.swap_remove_entry_full(key).map(|(_, (_, v))| v)
    }

    #[inline]
    pub fn swap_remove_full(&mut self, key: &[u8]) -> Option<(usize, K, V)> {
        self.swap_remove_entry_full(key)
            .map(|(i, (k, v))| (i, k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }
}

impl<'a, T> IntoIterator for &'a Table<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Key;

    type Map = Table<(Key, u64)>;

    fn k(i: u64) -> Key {
        Key::new(format!("key:{i}").as_bytes())
    }

    /// Every entry is found at its position, and nothing else is.
    fn check(t: &Map) {
        if t.indexed() {
            assert_eq!(t.index.len(), t.len());
        } else {
            assert!(t.len() <= 1 && t.entries.capacity() <= 1);
        }
        for (i, (key, _)) in t.iter().enumerate() {
            assert_eq!(t.get_index_of(key), Some(i));
        }
        assert!(t.entries.capacity() <= full_capacity(t.index.num_buckets()).max(t.len()).max(4));
    }

    #[test]
    fn one_entry_has_no_index() {
        let mut t = Map::new();
        t.insert(k(1), 1);
        check(&t);
        assert!(!t.indexed());
        assert_eq!(
            t.heap_bytes(),
            crate::memory::chunk_size(std::mem::size_of::<(Key, u64)>())
        );
        assert_eq!((t.len(), t.capacity()), (1, 1));
        assert_eq!(t.insert(k(1), 2), Some(1));
        assert_eq!(t.swap_remove(&k(2)), None);
        // The second entry builds the index, holding both.
        t.insert(k(2), 3);
        assert!(t.indexed());
        check(&t);
        assert_eq!(t.swap_remove(&k(1)), Some(2));
        assert_eq!(t.get(&k(2)), Some(&3));
        check(&t);
        // Room for one entry (a hash converted from an empty pack) is no
        // index either; reserving more indexes the entry already there.
        let mut w = Map::with_capacity(1);
        assert!(!w.indexed() && w.capacity() == 1);
        w.insert(k(9), 9);
        assert!(!w.indexed());
        w.reserve(1);
        check(&w);
        assert!(w.indexed() && w.get(&k(9)) == Some(&9));
        let mut u = Map::new();
        u.insert(k(7), 7);
        u.reserve(10);
        check(&u);
        assert_eq!(u.get_index_of(&k(7)), Some(0));
        assert_eq!(u.swap_remove_index(0), Some((k(7), 7)));
        assert!(u.is_empty());
        let mut v = Map::new();
        v.insert(k(8), 8);
        assert_eq!(v.swap_remove_index(0), Some((k(8), 8)));
        assert!(v.is_empty() && v.get(&k(8)).is_none());
        check(&v);
    }

    #[test]
    fn random_ops_match_a_model() {
        // The model: a Vec with IndexMap's semantics (swap_remove moves the
        // last entry into the hole).
        let mut t = Map::new();
        let mut model: Vec<(Key, u64)> = Vec::new();
        let mut x = 0x1234_5678_9abc_def1_u64;
        let mut rnd = |n: u64| crate::store::xorshift(&mut x) % n;
        for step in 0..40_000u64 {
            let key = k(rnd(600));
            let mpos = model.iter().position(|(mk, _)| *mk == key);
            match rnd(6) {
                0 | 1 => {
                    let (i, old) = t.insert_full(key.clone(), step);
                    match mpos {
                        Some(p) => {
                            assert_eq!(i, p);
                            assert_eq!(old, Some(std::mem::replace(&mut model[p].1, step)));
                        }
                        None => {
                            assert_eq!((i, old), (model.len(), None));
                            model.push((key, step));
                        }
                    }
                }
                2 => {
                    let got = t.swap_remove_full(&key);
                    let want = mpos.map(|p| {
                        let (mk, mv) = model.swap_remove(p);
                        (p, mk, mv)
                    });
                    assert_eq!(got, want);
                }
                3 => {
                    if !model.is_empty() {
                        let p = rnd(model.len() as u64) as usize;
                        assert_eq!(t.swap_remove_index(p), Some(model.swap_remove(p)));
                    }
                    assert_eq!(t.swap_remove_index(model.len()), None);
                }
                4 => {
                    let (i, new) = t.find_or_insert_with(&key, || (key.clone(), step));
                    assert_eq!(new, mpos.is_none());
                    if new {
                        model.push((key.clone(), step));
                    }
                    assert_eq!(i, mpos.unwrap_or(model.len() - 1));
                }
                _ => {
                    assert_eq!(t.get(&key), mpos.map(|p| &model[p].1));
                    assert_eq!(t.get_full(&key).map(|(i, _, _)| i), mpos);
                    if let Some(v) = t.get_mut(&key) {
                        *v += 1;
                        model[mpos.unwrap()].1 += 1;
                    }
                }
            }
            assert_eq!(t.len(), model.len());
            // Mid-migration (tests migrate from 32 buckets, 2 a step):
            // every position findable in one table or the other.
            if step % 997 == 0 || (t.is_migrating() && step % 3 == 0) {
                check(&t);
                assert_eq!(t.as_slice(), &model[..]);
            }
        }
        assert_eq!(t.as_slice(), &model[..]);
        check(&t);
    }

    #[test]
    fn swap_remove_moves_only_the_last_entry() {
        let mut t = Map::new();
        for i in 0..10 {
            t.insert(k(i), i);
        }
        assert_eq!(t.swap_remove(&k(3)), Some(3));
        let order: Vec<u64> = t.values().copied().collect();
        assert_eq!(order, [0, 1, 2, 9, 4, 5, 6, 7, 8]);
        // Removing the last entry moves nothing.
        assert_eq!(t.swap_remove_index(8), Some((k(8), 8)));
        let order: Vec<u64> = t.values().copied().collect();
        assert_eq!(order, [0, 1, 2, 9, 4, 5, 6, 7]);
        assert_eq!(t.swap_remove_full(&k(0)), Some((0, k(0), 0)));
        assert_eq!(t.get_index(0), Some(&(k(7), 7)));
        assert_eq!(t.swap_remove(&k(42)), None);
        check(&t);
    }

    #[test]
    fn entries_grow_with_the_index_not_past_it() {
        let mut t = Map::new();
        for i in 0..100_000u64 {
            t.insert_unique((k(i), i));
            // The vector never holds more than the index can.
            assert!(t.entries.capacity() <= t.capacity().max(t.len()));
        }
        assert_eq!(t.capacity(), 114_688); // 2^17 buckets at 7/8
        assert_eq!(t.entries.capacity(), t.capacity());
        check(&t);
        t.shrink_to_fit();
        check(&t);
        assert_eq!(t.entries.capacity(), 100_000);
        let mut r = Map::with_capacity(1000);
        assert!(r.capacity() >= 1000 && r.entries.capacity() >= 1000);
        r.reserve(5000);
        assert!(r.capacity() >= 5000 && r.entries.capacity() >= 5000);
        r.clear();
        assert!(r.is_empty() && r.capacity() >= 5000);
    }

    #[test]
    fn churn_purges_tombstones_instead_of_growing() {
        let mut t = Map::new();
        let n = 3000u64;
        for i in 0..n {
            t.insert(k(i), i);
        }
        let buckets = t.index.num_buckets();
        for i in 0..20 * n {
            t.swap_remove(&k(i));
            t.insert(k(i + n), i);
        }
        // Same size, same index: deleted slots were reused or purged.
        assert_eq!(t.index.num_buckets(), buckets);
        check(&t);
    }

    #[test]
    fn rebuilding_keeps_every_position() {
        let mut t = Map::new();
        for i in 0..5000u64 {
            t.insert(k(i), i);
        }
        for i in (0..5000u64).step_by(3) {
            t.swap_remove(&k(i));
        }
        let before: Vec<(Key, u64)> = t.as_slice().to_vec();
        let cap = t.capacity();
        t.rebuild_index();
        assert_eq!(t.tombstones(), 0);
        assert!(t.capacity() >= cap);
        assert_eq!(t.as_slice(), &before[..]);
        check(&t);
        // A table without deleted markers is not rebuilt again.
        assert!(!t.purge_tombstones());
    }

    #[test]
    fn whole_entry_replacement_and_iteration() {
        let mut t: Table<Key> = Table::new();
        assert_eq!(t.insert_entry_full(Key::new(b"a")), (0, None));
        assert_eq!(t.insert_entry_full(Key::new(b"b")), (1, None));
        assert_eq!(
            t.insert_entry_full(Key::new(b"a")),
            (0, Some(Key::new(b"a")))
        );
        let keys: Vec<&[u8]> = t.iter().map(|k| k.as_bytes()).collect();
        assert_eq!(keys, [b"a".as_slice(), b"b"]);
        assert!(t.contains_key(b"b") && !t.contains_key(b"c"));
        assert_eq!(t.find_full(b"b").map(|(i, _)| i), Some(1));
        assert!(t.heap_bytes() > 0);
        assert_eq!(Table::<Key>::new().heap_bytes(), 0);
    }
}
