//! The rollback journal of a transaction: before a key's first change the
//! choke point records its prior value and expiry; a whole-database change
//! (flush, swap) records the database itself; a string's encoding mark
//! changed without a write (OBJECT ENCODING `raw` after SETBIT of a bit
//! already set...) records the old mark. Undo replays the records in
//! reverse, so the data is exactly as before EXEC. Cost is proportional to
//! what the transaction touched, not to the dataset.
//!
//! Copying a key's prior value would make `MULTI; RPUSH biglist x; EXEC`
//! copy the whole list. Commands that change a container in place can
//! instead open the key with [`Store::get_mut_undo`] and log the *inverse*
//! of each change ([`InverseOp`]: pushed n -> pop n, popped items -> push
//! them back, field set -> old value or removal, field deleted -> put it
//! back at its index; set member added -> remove it, removed from index i
//! -> put it back there; sorted-set member added or rescored -> remove it
//! or restore its score, removed -> insert it again), so their journal costs
//! O(what they changed). Hashes, sets and sorted sets use inverses only in
//! their big encodings (hash table, skiplist): the compact ones are small
//! and their exact layout (listpack order, intset width) is cheapest kept
//! by a copy, which also covers a conversion. A later command on the key
//! that cannot log inverses falls back to copying the value as it is then;
//! replaying all records in reverse stays exact.

use super::set::Set;
use super::{
    Db, Hash, Key, KeyHashMap, KeyHashSet, Kind, Sds, Store, StrEnc, Value, WrongType, ZSet,
};

/// The inverse of one in-place change to a container.
#[derive(Debug)]
pub enum InverseOp {
    /// Undo a push of `n` elements at one end: pop them.
    ListPop { left: bool, n: usize },
    /// Undo pops from one end: push the popped items back (given in pop
    /// order).
    ListPush { left: bool, items: Vec<Key> },
    /// Undo setting a hash table's field: its old value, or None if it
    /// was new (then it is the table's last field when this is undone).
    HashSet { field: Sds, old: Option<Sds> },
    /// Undo deleting a hash table's field (the entry itself) that stood
    /// at `index` (by swap-remove).
    HashDel {
        entry: super::hash::fields::Entry,
        index: usize,
    },
    /// Undo adding a member to a set table (it is then the last one).
    SetRemove { member: Key },
    /// Undo removing a set table's member at `index` (by swap-remove).
    SetAdd { member: Key, index: usize },
    /// Undo replacing the whole set: the value it replaced.
    SetReplaced { old: Box<Set> },
    /// Undo a sorted-set insert or score change: the old score, or None
    /// if the member was new.
    ZSetScore { member: Sds, old: Option<f64> },
}

impl InverseOp {
    fn undo(self, v: &mut Value) {
        match (self, v) {
            (InverseOp::ListPop { left, n }, Value::List(l)) => l.pop_each(left, n, |_| {}),
            (InverseOp::ListPush { left, items }, Value::List(l)) => {
                for k in items.into_iter().rev() {
                    l.push_key(left, k);
                }
            }
            (InverseOp::HashSet { field, old }, Value::Hash(Hash::Table(t))) => match old {
                Some(old) => {
                    t.set(&field, &old);
                }
                None => {
                    t.remove(&field);
                }
            },
            (InverseOp::HashDel { entry, index }, Value::Hash(Hash::Table(t))) => {
                t.restore(entry, index)
            }
            // The member an add appended is last again by now (later ops
            // are undone first): a swap-remove of the last entry is a pop.
            (InverseOp::SetRemove { member }, Value::Set(Set::Table(t))) => {
                t.swap_remove_entry_full(member.as_bytes());
            }
            (InverseOp::SetAdd { member, index }, Value::Set(Set::Table(t))) => {
                t.restore_at(member, index)
            }
            (InverseOp::SetReplaced { old }, Value::Set(s)) => *s = *old,
            (InverseOp::ZSetScore { member, old }, Value::ZSet(z)) => match old {
                // The skiplist never converts back, so any limits do.
                Some(score) => {
                    z.insert(&member, score, &super::zset::Limits::default());
                }
                None => {
                    // Shrinks are deferred until the rollback ends: this
                    // notes one as due (`zset::take_skipped_shrink`).
                    if z.remove(&member).is_some() {
                        z.shrink_after(1);
                    }
                }
            },
            // Replaying in reverse always finds the type the op was logged
            // on; anything else is left alone rather than panicking.
            _ => {}
        }
    }
}

/// Where a command opened with [`Store::get_mut_undo`] logs its inverse
/// changes; inert when no transaction records or the key's prior value is
/// already recorded.
pub struct UndoLog<'a>(Option<&'a mut Vec<InverseOp>>);

impl UndoLog<'_> {
    /// True if inverses must be logged (skip computing them otherwise).
    #[inline]
    pub fn on(&self) -> bool {
        self.0.is_some()
    }

    #[inline]
    pub fn push(&mut self, op: InverseOp) {
        if let Some(ops) = self.0.as_mut() {
            ops.push(op);
        }
    }
}

#[derive(Debug)]
enum Undo {
    /// The key's prior state (None = it did not exist).
    Key {
        db: usize,
        key: Key,
        prior: Option<(Value, Option<u64>)>,
    },
    /// In-place changes to a key, undone by replaying their inverses in
    /// reverse.
    Ops {
        db: usize,
        key: Key,
        ops: Vec<InverseOp>,
    },
    /// A database replaced wholesale (FLUSHDB / FLUSHALL); boxed so that
    /// every record stays small to move.
    Db { db: usize, prior: Box<Db> },
    /// SWAPDB a b.
    Swap { a: usize, b: usize },
    /// A string's encoding mark before a command changed it without a
    /// write ([`Store::mark_str`]: Redis's dbUnshareStringValue before a
    /// change that changed nothing): a rollback puts it back.
    Mark { db: usize, key: Key, old: StrEnc },
}

/// Below this many recorded keys a linear scan of their fingerprints finds
/// one faster than hashing (most transactions touch a handful of keys).
const SCAN_LIMIT: usize = 32;

/// A cheap stand-in for (db, key) that differs for most different keys:
/// the scan compares it before the bytes. Its first and last 8 (or 4) bytes and
/// its length (names that differ only in the middle compare their bytes).
#[inline]
fn fingerprint(db: usize, key: &[u8]) -> u64 {
    let n = key.len();
    let (head, tail) = if n >= 8 {
        let head = key.first_chunk::<8>().map_or(0, |b| u64::from_le_bytes(*b));
        let tail = key.last_chunk::<8>().map_or(0, |b| u64::from_le_bytes(*b));
        (head, tail)
    } else if n >= 4 {
        let head = key.first_chunk::<4>().map_or(0, |b| u32::from_le_bytes(*b));
        let tail = key.last_chunk::<4>().map_or(0, |b| u32::from_le_bytes(*b));
        (u64::from(head), u64::from(tail))
    } else {
        (key.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)), 0)
    };
    head ^ tail.rotate_left(29) ^ ((n as u64) << 40) ^ (db as u64).rotate_right(8)
}

/// The Bloom bit of a fingerprint: its top 6 bits once mixed.
#[inline]
fn bloom_bit(fp: u64) -> u64 {
    1 << (fp.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58)
}

/// An open journal.
#[derive(Debug, Default)]
pub struct Journal {
    records: Vec<Undo>,
    /// (fingerprint, index into `records`) of each key record since the
    /// last database change, scanned while not `indexed`.
    fps: Vec<(u64, usize)>,
    /// One bit per fingerprint in `fps` (a 64-bit Bloom filter): a key
    /// whose bit is clear - the usual case, a transaction's writes go to
    /// different keys - is not recorded, without a scan.
    bloom: u64,
    /// Keys already recorded, kept once the journal outgrows `SCAN_LIMIT`.
    seen: KeyHashSet<(usize, Key)>,
    /// Whether `seen` indexes the key records since the last database
    /// change (the journal outgrew `SCAN_LIMIT`).
    indexed: bool,
    /// Other clients whose watches the transaction invalidates when it
    /// commits (decided at the moment of each change).
    dirty_watchers: Vec<u64>,
    /// Keys first recorded by a change Redis does not signal
    /// ([`Store::get_mut_unsignalled`]) and not written since, with the
    /// index of that record in `records`: the commit leaves the watchers
    /// of that record's key alone (a FLUSHDB or SWAPDB starts recording
    /// keys anew, so another record of the same key may be a real write).
    quiet: KeyHashMap<(usize, Key), usize>,
}

impl Journal {
    fn clear(&mut self) {
        // Prior values can be big: freed the way the store frees values
        // (a string is one allocation at most: dropped here, no call).
        for rec in self.records.drain(..) {
            match rec {
                Undo::Key {
                    prior: Some((v, _)),
                    ..
                } if !matches!(v, Value::Str(_)) => super::lazyfree::drop_value(v),
                // A database a committed FLUSHDB/FLUSHALL replaced: freed
                // off the reactor, as `flush_db` frees it without a journal.
                Undo::Db { prior, .. } => super::lazyfree::free(prior),
                _ => {}
            }
        }
        self.fps.clear();
        self.bloom = 0;
        self.seen.clear();
        self.indexed = false;
        self.dirty_watchers.clear();
        self.quiet.clear();
    }

    /// True if (db, key), of fingerprint `fp`, was recorded since the last
    /// database-level change.
    #[inline(always)]
    fn recorded(&self, db: usize, key: &[u8], fp: u64) -> bool {
        if !self.indexed {
            if self.bloom & bloom_bit(fp) == 0 {
                return false;
            }
            self.fps.iter().any(|&(f, i)| {
                f == fp
                    && matches!(&self.records[i], Undo::Key { db: d, key: k, .. } if *d == db && **k == *key)
            })
        } else {
            self.seen.contains(&(db, Key::new(key)))
        }
    }

    // Inlined, like `journal_prior`: the record is then built in place
    // rather than moved through each call.
    #[inline(always)]
    fn push_key(&mut self, db: usize, key: Key, fp: u64, prior: Option<(Value, Option<u64>)>) {
        if !self.indexed && self.fps.len() >= SCAN_LIMIT {
            self.index_keys();
        }
        if self.indexed {
            self.seen.insert((db, key.clone()));
        } else {
            self.fps.push((fp, self.records.len()));
            self.bloom |= bloom_bit(fp);
        }
        self.records.push(Undo::Key { db, key, prior });
    }

    /// Switches from the scan to the set: indexes what the scan covered.
    #[cold]
    fn index_keys(&mut self) {
        for &(_, i) in &self.fps {
            if let Undo::Key { db, key, .. } = &self.records[i] {
                self.seen.insert((*db, key.clone()));
            }
        }
        self.indexed = true;
    }

    /// Opens an inverse-op record for `key`; its ops are filled in by the
    /// command.
    fn push_ops(&mut self, db: usize, key: Key) -> &mut Vec<InverseOp> {
        self.records.push(Undo::Ops {
            db,
            key,
            ops: Vec::new(),
        });
        match self.records.last_mut() {
            Some(Undo::Ops { ops, .. }) => ops,
            _ => unreachable!("just pushed"),
        }
    }

    fn push_db_level(&mut self, rec: Undo) {
        self.records.push(rec);
        self.fps.clear();
        self.bloom = 0;
        self.seen.clear();
        self.indexed = false;
    }

    /// The keys the transaction changed, each with the database it is in
    /// now: a SWAPDB recorded after a key's change moved it (of `dbs`
    /// databases). Walked backwards, `now[d]` is where the database at
    /// index `d` at that point ends up.
    fn touched_now(&self, dbs: usize) -> Vec<(usize, &Key)> {
        let mut now: Vec<usize> = (0..dbs).collect();
        let mut out = Vec::new();
        for r in self.records.iter().rev() {
            match r {
                Undo::Key { db, key, .. } | Undo::Ops { db, key, .. } => {
                    out.push((now.get(*db).copied().unwrap_or(*db), key))
                }
                Undo::Swap { a, b } if *a < dbs && *b < dbs => now.swap(*a, *b),
                _ => {}
            }
        }
        out
    }
}

impl Store {
    /// Starts recording undo information (EXEC with rollback).
    pub fn begin_journal(&mut self) {
        // Reuse the last journal's allocations: EXEC is a hot path. Commit
        // and rollback leave it cleared.
        self.journal = Some(self.spare_journal.take().unwrap_or_default());
        super::zset::defer_shrinks(true);
    }

    /// Invalidates watchers now, or at commit while a transaction records.
    pub(crate) fn invalidate_watchers(&mut self, ids: Vec<u64>) {
        match self.journal.as_mut() {
            Some(j) => j.dirty_watchers.extend(ids),
            None => self.watches.mark_dirty(ids),
        }
    }

    /// Records the prior state of `key` before its first change.
    #[inline]
    pub(crate) fn journal_key(&mut self, db: usize, key: &[u8]) {
        let Some(fp) = self.journal_pending(db, key) else {
            return;
        };
        let d = &self.dbs[db];
        let prior = d
            .keys
            .get(key)
            .map(|v| (v.clone(), d.expires.get(key).copied()));
        self.journal_prior(db, key, fp, prior);
    }

    /// Some(fingerprint) if a transaction records and `key` has no record
    /// yet: its prior state must then be given to [`Store::journal_prior`]
    /// before anything else is recorded. A whole-value replacement (SET)
    /// moves the value it replaces there instead of copying it first.
    #[inline(always)]
    pub(crate) fn journal_pending(&self, db: usize, key: &[u8]) -> Option<u64> {
        let j = self.journal.as_ref()?;
        let fp = fingerprint(db, key);
        (!j.recorded(db, key, fp)).then_some(fp)
    }

    /// Records `key`'s prior state (None: it did not exist), after
    /// [`Store::journal_pending`] said it is wanted.
    #[inline(always)]
    pub(crate) fn journal_prior(
        &mut self,
        db: usize,
        key: &[u8],
        fp: u64,
        prior: Option<(Value, Option<u64>)>,
    ) {
        if let Some(j) = self.journal.as_mut() {
            j.push_key(db, Key::new(key), fp, prior);
        }
    }

    /// Opens `key` (of `kind`) to change it in place, like `get_mut`, for a
    /// command that logs the inverse of each change in the returned
    /// [`UndoLog`] instead of having the journal copy the prior value.
    pub fn get_mut_undo(
        &mut self,
        db: usize,
        key: &[u8],
        kind: Kind,
    ) -> Result<Option<(&mut Value, UndoLog<'_>)>, WrongType> {
        self.expire_if_needed(db, key);
        let i = match self.dbs[db].keys.get_full(key) {
            None => return Ok(None),
            Some((_, _, v)) if v.kind() != kind => return Err(WrongType),
            Some((i, _, _)) => i,
        };
        self.touch_index(db, i);
        self.before_write_hooks(db, key);
        let ops = match self.journal.as_mut() {
            Some(j) if !j.recorded(db, key, fingerprint(db, key)) => {
                Some(j.push_ops(db, Key::new(key)))
            }
            _ => None,
        };
        // As in `get_mut`: the hooks only read the maps, so `i` still
        // names the key (no second hash).
        let v = self.dbs[db].keys.get_index_mut(i).map(|(_, v)| v);
        Ok(v.map(|v| (v, UndoLog(ops))))
    }

    /// [`Store::get_mut_undo`] when `inverses(value)`: otherwise (a small
    /// or compact value) the journal copies it as for `get_mut`, and the
    /// returned log is inert.
    pub fn get_mut_undo_if(
        &mut self,
        db: usize,
        key: &[u8],
        kind: Kind,
        inverses: impl Fn(&Value) -> bool,
    ) -> Result<Option<(&mut Value, UndoLog<'_>)>, WrongType> {
        self.expire_if_needed(db, key);
        match self.dbs[db].keys.get_full(key) {
            None => Ok(None),
            Some((_, _, v)) if v.kind() != kind => Err(WrongType),
            Some((_, _, v)) if inverses(v) => self.get_mut_undo(db, key, kind),
            Some((i, _, _)) => {
                // A write is an access, as in `get_mut` (Redis's
                // lookupKeyWrite): LRU/LFU clocks move for small values too.
                self.touch_index(db, i);
                self.before_write(db, key);
                let v = self.dbs[db].keys.get_index_mut(i).map(|(_, v)| v);
                Ok(v.map(|v| (v, UndoLog(None))))
            }
        }
    }

    /// Records a whole database before it is replaced; returns true if a
    /// journal took ownership of `prior`.
    pub(crate) fn journal_db(&mut self, db: usize, prior: Db) -> Option<Db> {
        match self.journal.as_mut() {
            Some(j) => {
                j.push_db_level(Undo::Db {
                    db,
                    prior: Box::new(prior),
                });
                None
            }
            None => Some(prior),
        }
    }

    /// Records `key`'s string mark `old` before [`Store::mark_str`]
    /// changes it, unless the key's prior state is recorded already. A
    /// mark changes at most a few times, so this stays O(1) per key.
    pub(crate) fn journal_mark(&mut self, db: usize, key: &[u8], old: StrEnc) {
        if let Some(j) = self.journal.as_mut()
            && !j.recorded(db, key, fingerprint(db, key))
        {
            j.records.push(Undo::Mark {
                db,
                key: Key::new(key),
                old,
            });
        }
    }

    /// `key` is about to change without a write's signals: if the journal
    /// records it now (first change), the commit will not touch its
    /// watchers unless a signalled write follows ([`Store::journal_signal`]).
    pub(crate) fn journal_quiet(&mut self, db: usize, key: &[u8]) {
        if self.journal_pending(db, key).is_some()
            && let Some(j) = self.journal.as_mut()
        {
            // The key's record is the next one (the caller records it).
            let at = j.records.len();
            j.quiet.insert((db, Key::new(key)), at);
        }
    }

    /// A signalled write to `key` while a transaction records: it is no
    /// longer quiet (the caller checked a journal records).
    #[cold]
    pub(crate) fn journal_signal(&mut self, db: usize, key: &[u8]) {
        if let Some(j) = self.journal.as_mut() {
            j.quiet.remove(&(db, Key::new(key)));
        }
    }

    /// True if some key is quiet (see [`Store::journal_quiet`]).
    #[inline]
    pub(crate) fn journal_has_quiet(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| !j.quiet.is_empty())
    }

    pub(crate) fn journal_swap(&mut self, a: usize, b: usize) {
        if let Some(j) = self.journal.as_mut() {
            j.push_db_level(Undo::Swap { a, b });
        }
    }

    /// True while a transaction records undo information.
    pub fn journaling(&self) -> bool {
        self.journal.is_some()
    }

    /// Ends the journal keeping every change, and applies what was
    /// deferred while recording (WATCH invalidation of other clients).
    pub fn commit_journal(&mut self) {
        let Some(mut j) = self.journal.take() else {
            return;
        };
        if !self.watches.is_empty() {
            for (i, rec) in j.records.iter().enumerate() {
                let (Undo::Key { db, key, .. } | Undo::Ops { db, key, .. }) = rec else {
                    continue;
                };
                if j.quiet.is_empty() || j.quiet.get(&(*db, key.clone())) != Some(&i) {
                    self.watches.touch(*db, key);
                }
            }
            self.watches.mark_dirty(j.dirty_watchers.drain(..));
        }
        // The sorted-set shrinks the transaction's removals put off, where
        // the sets are now (a SWAPDB may have moved them).
        let dbs = self.dbs.len();
        self.end_deferred_shrinks(|| j.touched_now(dbs));
        // The prior values are freed now, not kept until the next EXEC.
        j.clear();
        self.spare_journal = Some(j);
    }

    /// Ends `zset::defer_shrinks` with the journal; if a due shrink was
    /// skipped meanwhile, shrinks the sorted sets among `keys()` (asked
    /// for only then).
    fn end_deferred_shrinks<'a>(&mut self, keys: impl FnOnce() -> Vec<(usize, &'a Key)>) {
        super::zset::defer_shrinks(false);
        if super::zset::take_skipped_shrink() {
            for (db, key) in keys() {
                if let Some(Value::ZSet(ZSet::Skip(z))) = self.dbs[db].keys.get_mut(key) {
                    z.maybe_shrink();
                }
            }
        }
    }

    /// Undoes every change recorded since `begin_journal`, without running
    /// any hook: to the rest of the server the transaction never happened.
    pub fn rollback_journal(&mut self) {
        let Some(mut j) = self.journal.take() else {
            return;
        };
        // Sorted sets the undo touched (their shrinks are put off below).
        let mut zsets: Vec<(usize, Key)> = Vec::new();
        for rec in j.records.drain(..).rev() {
            match rec {
                Undo::Key { db, key, prior } => {
                    self.snapshot_before_raw_change(db, &key);
                    let clock = self.new_clock();
                    let d = &mut self.dbs[db];
                    match prior {
                        Some((value, expiry)) => {
                            match d.keys.get_mut(&key) {
                                Some(slot) => *slot = value,
                                None => d.insert_new(key.clone(), value, clock),
                            }
                            match expiry {
                                Some(at) => {
                                    d.expires.insert(key, at);
                                }
                                None => {
                                    d.expires.swap_remove(&key);
                                }
                            }
                        }
                        None => {
                            let d = &mut self.dbs[db];
                            d.remove_entry(&key);
                            d.expires.swap_remove(&key);
                        }
                    }
                }
                Undo::Ops { db, key, ops } => {
                    self.snapshot_before_raw_change(db, &key);
                    let mut zset = false;
                    if let Some(v) = self.dbs[db].keys.get_mut(&key) {
                        for op in ops.into_iter().rev() {
                            op.undo(v);
                        }
                        zset = matches!(v, Value::ZSet(ZSet::Skip(_)));
                    }
                    if zset {
                        zsets.push((db, key));
                    }
                }
                Undo::Db { db, prior } => self.dbs[db] = *prior,
                // Later changes are undone by now: the key holds the string
                // the mark was changed on (not a write: no snapshot hook).
                Undo::Mark { db, key, old } => {
                    if let Some(Value::Str(s)) = self.dbs[db].keys.get_mut(&key) {
                        s.mark(old);
                    }
                }
                Undo::Swap { a, b } => {
                    self.snapshot_swap(a, b);
                    self.dbs.swap(a, b);
                    // The sets undone so far moved with their database.
                    for (db, _) in &mut zsets {
                        if *db == a {
                            *db = b;
                        } else if *db == b {
                            *db = a;
                        }
                    }
                }
            }
        }
        // Undoing an add removes a member again: that shrink was put off
        // too. Members are back in their own slots by now, so a sorted
        // set the transaction grew shrinks (nodes only move down).
        self.end_deferred_shrinks(|| zsets.iter().map(|(db, key)| (*db, key)).collect());
        j.clear();
        self.spare_journal = Some(j);
    }
}
