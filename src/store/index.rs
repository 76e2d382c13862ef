//! `PosIndex`: a hash index from a key's hash to its position (`u32`) in
//! a container that owns the keys (`Table`'s entries vector, the sorted
//! set's node arena), which grows and rebuilds incrementally, like Redis's
//! dict, instead of re-hashing every key at once.
//!
//! A full `hashbrown::HashTable` grows by re-hashing every key in one go:
//! ~50 ns a key, half a second at 10M keys, during which the server
//! answers nobody. Here, when the index is full, the current table becomes
//! `old` (in a `Migration`) and a fresh one of double the buckets (or the
//! same buckets, to drop deleted markers) takes its place; every later
//! insert and remove first moves the next `step` buckets of `old` into the
//! new table (re-hashing those positions' keys through the caller's
//! `rehash`), and `old` is dropped once empty. Inserts go to the new table;
//! lookups probe the new table, then `old`; removes and position rewrites
//! find the slot in whichever holds it. Removing a slot from a hashbrown
//! table never moves another one, so the bucket cursor stays valid.
//!
//! The step is sized when a migration starts so that `old` is empty before
//! the inserts it has to absorb can fill the new table: the new table
//! never grows by itself (an insert finding it full first finishes the
//! migration, which the sizing leaves empty). Tables under
//! `MIGRATE_MIN_BUCKETS` grow in place: a stop of at most ~1000 re-hashes.
//!
//! The migration lives behind an `Option<Box<_>>` so an index costs one
//! word more than a bare `HashTable` when not migrating, and the migrating
//! paths are out of line: a lookup of a present key, the common case, is
//! the bare hashbrown probe.
//!
//! The new table of a big doubling is allocated off the reactor
//! (store/prealloc.rs): an index of 256K buckets or more (`PREPARE_SHIFT`)
//! whose free room falls to ~1/16 of its capacity asks the background
//! thread for it, and `migrate_to` takes it if it has arrived (else it
//! allocates as before). The request rides in the same box, as a
//! `Migration` with an empty `table` (its "prepared" state, not a
//! migration: `is_migrating` is false), so an index that is neither near a
//! doubling nor migrating still costs no more than the one word. A
//! shrink, rebuild, `clear` or drop of the index cancels it.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;

use hashbrown::HashTable;

use super::prealloc::{self, Ticket};

/// A migration started since the last `take_started` (store/rehash.rs
/// then finds the collection it started in and has the cron finish it if
/// idle). A plain
/// static, not a thread-local (whose access cost every command ~10
/// instructions): the data has one thread, and elsewhere (unit tests) a
/// flag taken by the wrong thread only loses a best-effort note.
static STARTED: AtomicBool = AtomicBool::new(false);

/// Raises the flag for a collection's other incremental work the cron
/// should finish if its writes stop (a sorted set compacting in steps).
#[inline]
pub fn note_started() {
    STARTED.store(true, Relaxed);
}

/// True once after a migration started (a load when none did: every
/// command asks).
#[inline(always)]
pub fn take_started() -> bool {
    STARTED.load(Relaxed) && STARTED.swap(false, Relaxed)
}

/// From this many buckets up, growth and rebuilds are incremental; below
/// it hashbrown re-hashes in place (<= ~900 keys, tens of microseconds).
#[cfg(not(test))]
const MIGRATE_MIN_BUCKETS: usize = 1024;
/// Tests migrate small tables, slowly, so migrations are many and long.
#[cfg(test)]
const MIGRATE_MIN_BUCKETS: usize = 32;

/// A shrink moving at most this many positions out of a table of at most
/// `SHRINK_AT_ONCE_BUCKETS` buckets is done at once (tests keep shrinks
/// incremental).
#[cfg(not(test))]
const SHRINK_AT_ONCE_LEN: usize = 1024;
#[cfg(test)]
const SHRINK_AT_ONCE_LEN: usize = 2;
const SHRINK_AT_ONCE_BUCKETS: usize = 1 << 16;

/// The free room (of the current table's capacity `cap`) below which an
/// index prepares its next table: ~cap/16 for tables whose capacity
/// (7/8 of their buckets) is at least `1 << PREPARE_SHIFT`, 0 below -
/// two shifts on the insert path, no branch. At 16M buckets that is ~900K inserts before the doubling; the
/// allocation takes milliseconds.
#[inline(always)]
fn prepare_window(cap: usize) -> usize {
    (cap >> PREPARE_SHIFT) << (PREPARE_SHIFT - 4)
}
/// Tables of 256K buckets and up prepare their next table off the
/// reactor (allocating 512K buckets took ~0.25 ms, 1M 0.5 ms, 16M 3-10 ms
/// on a loaded machine); smaller ones allocate at the doubling.
#[cfg(not(test))]
const PREPARE_SHIFT: u32 = 17;
/// Tests prepare from 512 buckets up (capacity 448 >= 256).
#[cfg(test)]
const PREPARE_SHIFT: u32 = 8;
#[cfg(test)]
const PREPARE_MIN_BUCKETS: usize = 512;

/// Buckets of the old table moved per write while migrating, at least.
/// Few, as Redis's one bucket a step: a moved position costs a re-hash
/// and two cache misses (~0.3 us), and 32 a write made a 16-deep pipeline
/// round of 50 clients take milliseconds while a big table migrated
/// (STALL=1's probe). Not fewer: while migrating, an insert's miss probes
/// both tables and a step call has its fixed cost, so a growth migration
/// spanning 4/7 of the inserts until the next doubling (2) cost SET/HSET
/// of new keys 2-3% more instructions; at 4 it spans 2/7 of them. The step is sized
/// up from the slack (`migrate_to`).
#[cfg(not(test))]
const STEP_BUCKETS: usize = 4;
#[cfg(test)]
const STEP_BUCKETS: usize = 2;

/// How many entries a hashbrown table of `buckets` buckets holds before
/// it must grow (its load factor: 7/8, or buckets - 1 when tiny).
#[inline]
pub fn full_capacity(buckets: usize) -> usize {
    if buckets == 0 {
        0
    } else if buckets < 8 {
        buckets - 1
    } else {
        buckets / 8 * 7
    }
}

/// The incrementally growing position index (see the module doc).
#[derive(Debug, Default)]
pub struct PosIndex {
    cur: HashTable<u32>,
    old: Option<Box<Migration>>,
}

/// A table being emptied into `PosIndex::cur`; or, with an empty `table`,
/// no migration but the request for the next table (module doc).
#[derive(Debug)]
struct Migration {
    table: HashTable<u32>,
    /// Buckets below this one are moved (empty).
    next: usize,
    /// Buckets moved per step.
    step: usize,
    /// The next table, being prepared (only while `table` is empty).
    next_table: Option<Ticket>,
}

impl Clone for PosIndex {
    /// A copy has no request of its own (its next doubling asks again).
    fn clone(&self) -> Self {
        PosIndex {
            cur: self.cur.clone(),
            old: self.old.as_ref().filter(|m| !m.table.is_empty()).map(|m| {
                Box::new(Migration {
                    table: m.table.clone(),
                    next: m.next,
                    step: m.step,
                    next_table: None,
                })
            }),
        }
    }
}

impl PosIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Positions held (in both tables while migrating).
    #[inline]
    pub fn len(&self) -> usize {
        self.cur.len()
            + match &self.old {
                Some(m) => m.table.len(),
                None => 0,
            }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Positions the index holds before the next insert must grow or
    /// rebuild it: the current table's capacity (positions still in `old`
    /// count against it, they all move there).
    #[inline]
    pub fn capacity(&self) -> usize {
        self.cur.capacity()
    }

    /// Buckets of the current table.
    #[inline]
    pub fn num_buckets(&self) -> usize {
        self.cur.num_buckets()
    }

    /// A migration runs (not merely a next table being prepared).
    #[inline]
    pub fn is_migrating(&self) -> bool {
        self.old.as_ref().is_some_and(|m| !m.table.is_empty())
    }

    /// The next table has been asked for and not taken yet.
    pub fn is_preparing(&self) -> bool {
        self.old.as_ref().is_some_and(|m| m.next_table.is_some())
    }

    /// Positions the old table still holds (0 when not migrating).
    #[inline]
    pub fn migration_left(&self) -> usize {
        self.old.as_ref().map_or(0, |m| m.table.len())
    }

    /// Slots of the current table lost to deleted markers.
    #[inline]
    pub fn tombstones(&self) -> usize {
        // Saturating: `full_capacity` mirrors hashbrown's load factor; a
        // hashbrown that differs must not make this underflow.
        full_capacity(self.cur.num_buckets()).saturating_sub(self.cur.capacity())
    }

    /// Heap allocations as requested sizes: the current table, and while
    /// migrating the old one plus its box.
    pub fn allocations(&self) -> [usize; 3] {
        match &self.old {
            None => [self.cur.allocation_size(), 0, 0],
            Some(m) => [
                self.cur.allocation_size(),
                m.table.allocation_size(),
                std::mem::size_of::<Migration>(),
            ],
        }
    }

    /// The position of hash `h` that `eq` accepts.
    #[inline]
    pub fn find(&self, h: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        match self.cur.find(h, |&j| eq(j)) {
            Some(&j) => Some(j),
            // Out of line, `old` included: a hit costs the bare probe.
            None => self.find_old(h, eq),
        }
    }

    #[cold]
    #[inline(never)]
    fn find_old(&self, h: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let m = self.old.as_ref()?;
        m.table.find(h, |&j| eq(j)).copied()
    }

    /// The slot of hash `h` that `eq` accepts, to rewrite its position.
    #[inline]
    pub fn find_mut(&mut self, h: u64, mut eq: impl FnMut(u32) -> bool) -> Option<&mut u32> {
        if let Some(slot) = self.cur.find_mut(h, |&j| eq(j)) {
            return Some(slot);
        }
        match &mut self.old {
            None => None,
            Some(m) => find_old_mut(&mut m.table, h, eq),
        }
    }

    /// Removes the slot of hash `h` that `eq` accepts: its position.
    #[inline]
    pub fn remove(&mut self, h: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        match self.cur.find_entry(h, |&j| eq(j)) {
            Ok(e) => Some(e.remove().0),
            Err(_) if self.old.is_some() => self.remove_old(h, eq),
            Err(_) => None,
        }
    }

    #[inline(never)]
    fn remove_old(&mut self, h: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let m = self.old.as_mut()?;
        let j = m.table.find_entry(h, |&j| eq(j)).ok()?.remove().0;
        if m.table.is_empty() {
            self.old = None;
        }
        Some(j)
    }

    /// Adds position `p` of hash `h` (not present). `rehash(j)` is the hash
    /// of the key at position `j`: every position already in the index must
    /// name its key when this is called (a migration step re-hashes some).
    #[inline]
    pub fn insert(&mut self, h: u64, p: u32, rehash: impl Fn(u32) -> u64) {
        if self.old.is_some() {
            return self.insert_migrating(h, p, &rehash);
        }
        // Not migrating: the current table holds every position.
        let cap = self.cur.capacity();
        if self.cur.len() + prepare_window(cap) >= cap {
            self.make_room(&rehash);
        }
        // Room is guaranteed: hashbrown never resizes here.
        self.cur.insert_unique(h, p, |&j| rehash(j));
    }

    /// `insert` while a migration runs (or a next table is prepared):
    /// a step first, and the positions left in `old` count.
    #[inline(never)]
    fn insert_migrating(&mut self, h: u64, p: u32, rehash: &impl Fn(u32) -> u64) {
        self.step(rehash);
        let cap = self.cur.capacity();
        if self.len() + prepare_window(cap) >= cap {
            self.make_room(rehash);
        }
        self.cur.insert_unique(h, p, |&j| rehash(j));
    }

    /// While migrating, moves the next step of buckets (callers that
    /// remove call this first, while every position names its key).
    #[inline]
    pub fn tick(&mut self, rehash: impl Fn(u32) -> u64) {
        if self.old.is_some() {
            self.step(&rehash);
        }
    }

    /// Moves up to `buckets` buckets of a running migration (an idle
    /// table's background work): true if one is still running.
    pub fn migrate(&mut self, buckets: usize, rehash: impl Fn(u32) -> u64) -> bool {
        if let Some(m) = &mut self.old {
            let step = m.step;
            m.step = buckets.max(1);
            self.step(&rehash);
            if let Some(m) = &mut self.old {
                m.step = step;
            }
        }
        self.is_migrating()
    }

    /// Moves one step of buckets from `old` to `cur`.
    #[inline(never)]
    fn step(&mut self, rehash: &impl Fn(u32) -> u64) {
        let Self { cur, old } = self;
        let Some(m) = old else { return };
        if m.table.is_empty() {
            // Only a next table being prepared.
            return;
        }
        let end = (m.next + m.step).min(m.table.num_buckets());
        for b in m.next..end {
            if let Ok(e) = m.table.get_bucket_entry(b) {
                let (j, _) = e.remove();
                cur.insert_unique(rehash(j), j, |&x| rehash(x));
            }
        }
        m.next = end;
        if m.table.is_empty() || end == m.table.num_buckets() {
            debug_assert!(m.table.is_empty());
            *old = None;
        }
    }

    /// Completes a running migration at once.
    fn finish(&mut self, rehash: &impl Fn(u32) -> u64) {
        if let Some(m) = &mut self.old {
            m.step = usize::MAX / 2;
            self.step(rehash);
        }
    }

    /// Replaces the current table with an empty one of `capacity` and
    /// starts moving into it (finished at once for a small table).
    fn migrate_to(&mut self, capacity: usize, rehash: &impl Fn(u32) -> u64) {
        self.finish(rehash);
        // Left in the box after `finish`: at most a prepared next table.
        let ready = self
            .old
            .take()
            .and_then(|m| m.next_table)
            .and_then(|t| t.take(capacity));
        let fresh = ready.unwrap_or_else(|| HashTable::with_capacity(capacity));
        let table = std::mem::replace(&mut self.cur, fresh);
        let len = table.len();
        let buckets = table.num_buckets();
        // Enough buckets per step that `old` empties within 3/4 of the
        // inserts the new table has room for, so the remainder `finish`
        // would move at once stays zero.
        let slack = self.cur.capacity().saturating_sub(len).max(1);
        let step = STEP_BUCKETS.max((4 * buckets).div_ceil(3 * slack));
        if len == 0 {
            return;
        }
        self.old = Some(Box::new(Migration {
            table,
            next: 0,
            step,
            next_table: None,
        }));
        if buckets < MIGRATE_MIN_BUCKETS {
            self.finish(rehash);
        } else {
            STARTED.store(true, Relaxed);
        }
    }

    /// The index is full: rebuild it at the same size if deleted markers
    /// are at least 1/32 of it (the rebuild wins back n/32 slots: amortized
    /// O(1) per insert), else double it. Nearly full (a big table within
    /// `prepare_window` of it): ask for the doubled table.
    #[cold]
    #[inline(never)]
    fn make_room(&mut self, rehash: &impl Fn(u32) -> u64) {
        if self.len() < self.cur.capacity() {
            if self.old.is_none() {
                self.prepare();
            }
            return;
        }
        self.finish(rehash);
        let full = full_capacity(self.cur.num_buckets());
        let tomb = self.tombstones();
        if tomb > 0 && tomb >= full / 32 {
            self.migrate_to(full, rehash);
        } else if self.cur.num_buckets() < MIGRATE_MIN_BUCKETS {
            self.cur.reserve(1, |&j| rehash(j));
        } else {
            self.migrate_to(full * 2, rehash);
        }
    }

    /// Asks the background thread for the table the next doubling needs.
    #[cold]
    fn prepare(&mut self) {
        // Deleted markers also bring the index to full, and then it is
        // rebuilt at its size unless they are under 1/32 of it
        // (`make_room`): under delete/insert churn a table of stable size
        // would ask for (and drop) a doubled table every rebuild. Ask only
        // when the live positions alone are near the doubling.
        let full = full_capacity(self.cur.num_buckets());
        if self.cur.len() + full / 32 + prepare_window(full) < full {
            return;
        }
        let buckets = 2 * self.cur.num_buckets();
        let capacity = 2 * full_capacity(self.cur.num_buckets());
        // Its control bytes and slots (for the maxmemory rule).
        let bytes = buckets * (1 + std::mem::size_of::<u32>());
        if let Some(t) = prealloc::request(capacity, bytes) {
            self.old = Some(Box::new(Migration {
                table: HashTable::new(),
                next: 0,
                step: 0,
                next_table: Some(t),
            }));
        }
    }

    /// Rebuilds the index at its size without deleted markers, moving
    /// buckets incrementally (at once for a small table). Nothing when
    /// there are none: it would win no room.
    pub fn rebuild(&mut self, rehash: impl Fn(u32) -> u64) {
        let full = full_capacity(self.cur.num_buckets());
        // The deleted markers are the new table's only free room, and the
        // migration must end within it: with fewer than 1/256 of the
        // table, a step would move hundreds of buckets or the whole table
        // (a stall); the caller's next insert grows the index instead.
        let tomb = self.tombstones();
        if tomb == 0 || tomb * 256 < full {
            return;
        }
        self.migrate_to(full.max(self.len()), &rehash);
    }

    /// Makes room for `additional` more positions at once (bulk loads).
    pub fn reserve(&mut self, additional: usize, rehash: impl Fn(u32) -> u64) {
        if self.len() + additional > self.cur.capacity() {
            self.finish(&rehash);
            // A prepared table would be the wrong size after this.
            self.old = None;
            self.cur.reserve(additional, |&j| rehash(j));
        }
    }

    /// Gives back memory: a small index shrinks in place; a large one
    /// migrates into a table of 5/4 of its length when that has fewer
    /// buckets. Nothing while migrating (the caller tries again later).
    pub fn shrink(&mut self, rehash: impl Fn(u32) -> u64) {
        if self.is_migrating() {
            return;
        }
        // A prepared next table is for growth: cancelled.
        self.old = None;
        if self.cur.num_buckets() < MIGRATE_MIN_BUCKETS {
            self.cur.shrink_to_fit(|&j| rehash(j));
            return;
        }
        let want = self.len() + self.len() / 4;
        let buckets = self.cur.num_buckets();
        if want <= full_capacity(buckets) / 2 {
            self.migrate_to(want, &rehash);
            // Few positions left in a table that is not huge (HDEL of all
            // but a few fields): moving them now costs tens of
            // microseconds, where waiting for later writes or the cron
            // would hold both tables and the caller's entries unshrunk.
            if self.len() <= SHRINK_AT_ONCE_LEN && buckets <= SHRINK_AT_ONCE_BUCKETS {
                self.finish(&rehash);
            }
        }
    }

    /// Removes every position, keeping the current table's allocation.
    pub fn clear(&mut self) {
        self.old = None;
        self.cur.clear();
    }
}

#[inline(never)]
fn find_old_mut(
    t: &mut HashTable<u32>,
    h: u64,
    mut eq: impl FnMut(u32) -> bool,
) -> Option<&mut u32> {
    t.find_mut(h, |&j| eq(j))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(k: u64) -> u64 {
        // Any fixed mix will do: the index only needs equal keys to agree.
        let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 29;
        x.wrapping_mul(0xBF58_476D_1CE4_E5B9)
    }

    /// Positions into `keys` (the container), as Table uses the index:
    /// append, and swap_remove moving the last position into the hole.
    struct Model {
        idx: PosIndex,
        keys: Vec<u64>,
    }

    impl Model {
        fn find(&self, k: u64) -> Option<u32> {
            self.idx.find(hash(k), |j| self.keys[j as usize] == k)
        }
        fn insert(&mut self, k: u64) {
            let p = self.keys.len() as u32;
            let keys = &self.keys;
            self.idx.insert(hash(k), p, |j| hash(keys[j as usize]));
            self.keys.push(k);
        }
        fn remove(&mut self, k: u64) -> bool {
            let keys = &self.keys;
            self.idx.tick(|j| hash(keys[j as usize]));
            let Some(i) = self.idx.remove(hash(k), |j| keys[j as usize] == k) else {
                return false;
            };
            let last = self.keys.len() - 1;
            if (i as usize) < last {
                let slot = self
                    .idx
                    .find_mut(hash(self.keys[last]), |j| j as usize == last)
                    .expect("the last position is indexed");
                *slot = i;
            }
            self.keys.swap_remove(i as usize);
            true
        }
        /// Every key is found at its position, the count agrees, and the
        /// index never outgrew its current table.
        fn check(&self) {
            assert_eq!(self.idx.len(), self.keys.len());
            assert!(self.idx.len() <= self.idx.capacity());
            for (i, &k) in self.keys.iter().enumerate() {
                assert_eq!(self.find(k), Some(i as u32), "key {k}");
            }
        }
    }

    #[test]
    fn random_ops_across_many_migrations_match_a_model() {
        let mut m = Model {
            idx: PosIndex::new(),
            keys: Vec::new(),
        };
        let mut x = 0x2545_F491_4F6C_DD1D_u64;
        let (mut migrations, mut was) = (0, false);
        for step in 0..60_000u64 {
            // Grow to ~3000 keys, shrink back, grow again: growth,
            // rebuilds and shrinks all happen mid-migration.
            let phase = (step / 15_000) % 2 == 0;
            let k = crate::store::xorshift(&mut x) % 4000;
            let op = crate::store::xorshift(&mut x) % 10;
            let present = m.keys.contains(&k);
            if op < 6 && phase || op < 3 {
                if !present {
                    m.insert(k);
                }
            } else if op < 9 {
                assert_eq!(m.remove(k), present);
            } else {
                assert_eq!(m.find(k).is_some(), present);
            }
            if step % 500 == 0 {
                let keys = &m.keys;
                m.idx.shrink(|j| hash(keys[j as usize]));
            }
            if m.idx.is_migrating() && !was {
                migrations += 1;
            }
            was = m.idx.is_migrating();
            if step % 7 == 0 || was {
                m.check();
            }
        }
        m.check();
        assert!(migrations >= 8, "{migrations}");
    }

    #[test]
    fn growth_migrates_and_finishes_before_the_new_table_fills() {
        let mut m = Model {
            idx: PosIndex::new(),
            keys: Vec::new(),
        };
        let mut seen = 0;
        for k in 0..20_000u64 {
            let buckets = m.idx.num_buckets();
            let migrating = m.idx.is_migrating();
            m.insert(k);
            if m.idx.num_buckets() != buckets {
                // A new table only when the last migration was over (or
                // the table was too small to migrate).
                assert!(!migrating);
                if m.idx.is_migrating() {
                    seen += 1;
                    assert_eq!(m.idx.num_buckets(), 2 * buckets);
                }
            }
        }
        m.check();
        // 64 .. 32768 buckets: every doubling from MIGRATE_MIN_BUCKETS up.
        assert!(seen >= 9, "{seen}");
        // An idle index finishes through `migrate`.
        while m.idx.is_migrating() {
            let keys = &m.keys;
            m.idx.migrate(100, |j| hash(keys[j as usize]));
        }
        m.check();
    }

    #[test]
    fn rebuild_drops_deleted_markers_incrementally() {
        let mut m = Model {
            idx: PosIndex::new(),
            keys: Vec::new(),
        };
        for k in 0..3000u64 {
            m.insert(k);
        }
        while m.idx.is_migrating() {
            let keys = &m.keys;
            m.idx.migrate(64, |j| hash(keys[j as usize]));
        }
        for k in (0..3000u64).step_by(2) {
            m.remove(k);
        }
        let (buckets, cap) = (m.idx.num_buckets(), m.idx.capacity());
        let keys = &m.keys;
        m.idx.rebuild(|j| hash(keys[j as usize]));
        assert!(m.idx.is_migrating());
        assert_eq!(m.idx.tombstones(), 0);
        assert_eq!(m.idx.num_buckets(), buckets);
        assert!(m.idx.capacity() >= cap);
        m.check();
        for k in 3000..3400u64 {
            m.insert(k);
            m.check();
        }
        while m.idx.is_migrating() {
            let keys = &m.keys;
            m.idx.migrate(64, |j| hash(keys[j as usize]));
        }
        // Shrinking after mass removal: fewer buckets, every key kept.
        for k in 0..3400u64 {
            if k % 10 != 0 {
                m.remove(k);
            }
        }
        assert!(!m.idx.is_migrating());
        let keys = &m.keys;
        m.idx.shrink(|j| hash(keys[j as usize]));
        assert!(m.idx.is_migrating());
        assert!(m.idx.num_buckets() < buckets);
        m.check();
        m.idx.clear();
        assert!(m.idx.is_empty() && !m.idx.is_migrating());
    }

    fn grow_model() -> Model {
        Model {
            idx: PosIndex::new(),
            keys: Vec::new(),
        }
    }

    /// Inserts keys from `*k` on until `stop` holds (or 100K keys).
    fn insert_until(m: &mut Model, k: &mut u64, stop: impl Fn(&PosIndex) -> bool) {
        while !stop(&m.idx) {
            m.insert(*k);
            *k += 1;
            assert!(*k < 100_000, "never reached");
        }
    }

    /// A model grown (in manual delivery mode) to `min_buckets` or more,
    /// past its migration, until it asked for its next table; the next
    /// key to insert.
    fn preparing_model(min_buckets: usize) -> (Model, u64) {
        crate::store::prealloc::test_hook::set_manual(true);
        let mut m = grow_model();
        let mut k = 0;
        insert_until(&mut m, &mut k, |i| i.num_buckets() >= min_buckets);
        insert_until(&mut m, &mut k, |i| !i.is_migrating());
        insert_until(&mut m, &mut k, PosIndex::is_preparing);
        (m, k)
    }

    #[test]
    fn a_prepared_table_that_arrived_is_taken_by_the_doubling() {
        use crate::store::prealloc::test_hook as hook;
        let (mut m, mut k) = preparing_model(PREPARE_MIN_BUCKETS);
        // Asked within the window, not at the doubling; nothing migrates.
        let buckets = m.idx.num_buckets();
        assert!(m.idx.len() < m.idx.capacity());
        assert!(!m.idx.is_migrating());
        assert_eq!(hook::waiting(), 1);
        m.check();
        assert_eq!(hook::deliver(), 1);
        let taken = hook::taken();
        insert_until(&mut m, &mut k, PosIndex::is_migrating);
        assert_eq!(hook::taken(), taken + 1);
        assert_eq!(m.idx.num_buckets(), 2 * buckets);
        assert!(!m.idx.is_preparing());
        m.check();
        hook::set_manual(false);
    }

    #[test]
    fn a_prepared_table_late_or_never_leaves_the_doubling_to_allocate() {
        use crate::store::prealloc::test_hook as hook;
        for never in [false, true] {
            let (mut m, mut k) = preparing_model(PREPARE_MIN_BUCKETS);
            let buckets = m.idx.num_buckets();
            if never {
                hook::discard();
            }
            let taken = hook::taken();
            insert_until(&mut m, &mut k, PosIndex::is_migrating);
            // Not arrived: allocated at the doubling, as without one.
            assert_eq!(hook::taken(), taken);
            assert_eq!(m.idx.num_buckets(), 2 * buckets);
            assert!(!m.idx.is_preparing());
            m.check();
            // Arriving after that, it finds its requester gone.
            assert_eq!(hook::deliver(), 0);
            insert_until(&mut m, &mut k, |i| !i.is_migrating());
            m.check();
        }
        hook::set_manual(false);
    }

    #[test]
    fn shrink_rebuild_and_clear_cancel_a_prepared_table() {
        use crate::store::prealloc::test_hook as hook;
        for how in 0..3 {
            let (mut m, k) = preparing_model(2 * PREPARE_MIN_BUCKETS);
            let buckets = m.idx.num_buckets();
            match how {
                0 => {
                    // Removals then a shrink: fewer buckets, no request.
                    for j in 0..k {
                        if j % 8 != 0 {
                            m.remove(j);
                        }
                    }
                    assert!(m.idx.is_preparing());
                    let keys = &m.keys;
                    m.idx.shrink(|j| hash(keys[j as usize]));
                    assert!(m.idx.num_buckets() < buckets);
                    assert!(m.idx.is_migrating());
                }
                1 => {
                    // Removals leave deleted markers; a rebuild at the
                    // same size does not take the doubled table.
                    for j in (0..k).step_by(3) {
                        m.remove(j);
                    }
                    let keys = &m.keys;
                    m.idx.rebuild(|j| hash(keys[j as usize]));
                    assert_eq!(m.idx.num_buckets(), buckets);
                    assert!(m.idx.is_migrating());
                }
                _ => {
                    m.idx.clear();
                    m.keys.clear();
                    assert!(m.idx.is_empty());
                }
            }
            assert!(!m.idx.is_preparing());
            m.check();
            let taken = hook::taken();
            assert_eq!(hook::deliver(), 0);
            assert_eq!(hook::taken(), taken);
            while m.idx.is_migrating() {
                let keys = &m.keys;
                m.idx.migrate(64, |j| hash(keys[j as usize]));
            }
            m.check();
        }
        hook::set_manual(false);
    }

    #[test]
    fn a_clone_does_not_share_the_request() {
        use crate::store::prealloc::test_hook as hook;
        let (m, _) = preparing_model(PREPARE_MIN_BUCKETS);
        let c = m.idx.clone();
        assert!(!c.is_preparing() && !c.is_migrating());
        assert_eq!(c.len(), m.idx.len());
        hook::discard();
        hook::set_manual(false);
    }

    #[test]
    fn release_all_frees_prepared_tables_arrived_or_not() {
        use crate::store::prealloc::{release_all, test_hook as hook};
        for arrived in [true, false] {
            let (mut m, mut k) = preparing_model(PREPARE_MIN_BUCKETS);
            let buckets = m.idx.num_buckets();
            if arrived {
                assert_eq!(hook::deliver(), 1);
                assert_eq!(release_all(), 1);
            } else {
                assert_eq!(release_all(), 0);
                // Arriving after the release, nobody takes it.
                assert_eq!(hook::deliver(), 0);
            }
            let taken = hook::taken();
            insert_until(&mut m, &mut k, PosIndex::is_migrating);
            assert_eq!(hook::taken(), taken);
            assert_eq!(m.idx.num_buckets(), 2 * buckets);
            m.check();
        }
        hook::set_manual(false);
    }
}

#[cfg(test)]
mod churn_tests {
    use super::*;
    use crate::store::prealloc::test_hook as hook;

    fn hash(k: u64) -> u64 {
        let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 29;
        x.wrapping_mul(0xBF58_476D_1CE4_E5B9)
    }

    /// A big index of stable size under delete + insert churn fills up
    /// with deleted markers and is rebuilt at its size, never doubled: it
    /// must not ask for a doubled table on the way (it would drop it at
    /// each rebuild, a big allocation on the other core every time).
    #[test]
    fn churn_at_a_stable_size_prepares_no_table() {
        hook::set_manual(true);
        for fill in [60usize, 80, 90] {
            let (mut idx, mut keys, mut next) = (PosIndex::new(), Vec::<u64>::new(), 0u64);
            while idx.num_buckets() < 4096 || idx.is_migrating() {
                let (p, ks) = (keys.len() as u32, &keys);
                idx.insert(hash(next), p, |j| hash(ks[j as usize]));
                keys.push(next);
                next += 1;
            }
            let buckets = idx.num_buckets();
            let target = full_capacity(buckets) * fill / 100;
            let mut x = 0x2545_F491_4F6C_DD1D ^ fill as u64;
            let mut asked = 0;
            let mut was = false;
            for _ in 0..200_000 {
                if keys.len() > target {
                    let i = (crate::store::xorshift(&mut x) % keys.len() as u64) as usize;
                    let k = keys[i];
                    let ks = &keys;
                    idx.tick(|j| hash(ks[j as usize]));
                    assert_eq!(idx.remove(hash(k), |j| ks[j as usize] == k), Some(i as u32));
                    let last = keys.len() - 1;
                    if i < last {
                        let slot = idx.find_mut(hash(keys[last]), |j| j as usize == last);
                        *slot.expect("indexed") = i as u32;
                    }
                    keys.swap_remove(i);
                } else {
                    let (p, ks) = (keys.len() as u32, &keys);
                    idx.insert(hash(next), p, |j| hash(ks[j as usize]));
                    keys.push(next);
                    next += 1;
                }
                let now = idx.is_preparing();
                if now && !was {
                    asked += 1;
                    hook::deliver();
                }
                was = now;
            }
            assert_eq!(idx.num_buckets(), buckets, "fill {fill}%: never doubled");
            assert_eq!(asked, 0, "fill {fill}%: tables asked for");
        }
        hook::set_manual(false);
    }
}
