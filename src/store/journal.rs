//! The rollback journal of a transaction: before a key's first change the
//! choke point records its prior value and expiry; a whole-database change
//! (flush, swap) records the database itself. Undo replays the records in
//! reverse, so the data is exactly as before EXEC. Cost is proportional to
//! what the transaction touched, not to the dataset.

use std::collections::HashSet;

use super::{Db, Key, Store, Value};

#[derive(Debug)]
enum Undo {
    /// The key's prior state (None = it did not exist).
    Key {
        db: usize,
        key: Key,
        prior: Option<(Value, Option<u64>)>,
    },
    /// A database replaced wholesale (FLUSHDB / FLUSHALL).
    Db { db: usize, prior: Db },
    /// SWAPDB a b.
    Swap { a: usize, b: usize },
}

/// Below this many records a linear scan finds a recorded key faster than
/// hashing (most transactions touch a handful of keys).
const SCAN_LIMIT: usize = 16;

/// An open journal.
#[derive(Debug, Default)]
pub struct Journal {
    records: Vec<Undo>,
    /// Index into `records` of the last database-level record + 1: key
    /// records before it belong to a replaced database and do not count as
    /// "already recorded".
    since_db_change: usize,
    /// Keys already recorded, kept once the journal outgrows `SCAN_LIMIT`.
    seen: HashSet<(usize, Key)>,
    /// Other clients whose watches the transaction invalidates when it
    /// commits (decided at the moment of each change).
    dirty_watchers: Vec<u64>,
}

impl Journal {
    fn clear(&mut self) {
        self.records.clear();
        self.since_db_change = 0;
        self.seen.clear();
        self.dirty_watchers.clear();
    }

    /// True if (db, key) was recorded since the last database-level change.
    #[inline]
    fn recorded(&self, db: usize, key: &[u8]) -> bool {
        if self.records.len() - self.since_db_change <= SCAN_LIMIT {
            self.records[self.since_db_change..]
                .iter()
                .any(|r| matches!(r, Undo::Key { db: d, key: k, .. } if *d == db && **k == *key))
        } else {
            self.seen.contains(&(db, Key::new(key)))
        }
    }

    fn push_key(&mut self, db: usize, key: Key, prior: Option<(Value, Option<u64>)>) {
        let live = self.records.len() - self.since_db_change;
        if live == SCAN_LIMIT {
            // Switch to the set: index what the scan covered so far.
            for r in &self.records[self.since_db_change..] {
                if let Undo::Key { db, key, .. } = r {
                    self.seen.insert((*db, key.clone()));
                }
            }
        }
        if live >= SCAN_LIMIT {
            self.seen.insert((db, key.clone()));
        }
        self.records.push(Undo::Key { db, key, prior });
    }

    fn push_db_level(&mut self, rec: Undo) {
        self.records.push(rec);
        self.since_db_change = self.records.len();
        self.seen.clear();
    }

    /// Keys the transaction changed (for deferred WATCH invalidation).
    fn touched(&self) -> impl Iterator<Item = (usize, &Key)> {
        self.records.iter().filter_map(|r| match r {
            Undo::Key { db, key, .. } => Some((*db, key)),
            _ => None,
        })
    }
}

impl Store {
    /// Starts recording undo information (EXEC with rollback).
    pub fn begin_journal(&mut self) {
        // Reuse the last journal's allocations: EXEC is a hot path.
        let mut j = self.spare_journal.take().unwrap_or_default();
        j.clear();
        self.journal = Some(j);
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
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        if j.recorded(db, key) {
            return;
        }
        let d = &self.dbs[db];
        let prior = d
            .keys
            .get(key)
            .map(|v| (v.clone(), d.expires.get(key).copied()));
        j.push_key(db, Key::new(key), prior);
    }

    /// Records a whole database before it is replaced; returns true if a
    /// journal took ownership of `prior`.
    pub(crate) fn journal_db(&mut self, db: usize, prior: Db) -> Option<Db> {
        match self.journal.as_mut() {
            Some(j) => {
                j.push_db_level(Undo::Db { db, prior });
                None
            }
            None => Some(prior),
        }
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
            for (db, key) in j.touched() {
                self.watches.touch(db, key);
            }
            self.watches.mark_dirty(j.dirty_watchers.drain(..));
        }
        self.spare_journal = Some(j);
    }

    /// Undoes every change recorded since `begin_journal`, without running
    /// any hook: to the rest of the server the transaction never happened.
    pub fn rollback_journal(&mut self) {
        let Some(mut j) = self.journal.take() else {
            return;
        };
        for rec in j.records.drain(..).rev() {
            match rec {
                Undo::Key { db, key, prior } => {
                    self.snapshot_before_raw_change(db, &key);
                    let d = &mut self.dbs[db];
                    match prior {
                        Some((value, expiry)) => {
                            match d.keys.get_mut(&*key) {
                                Some(slot) => *slot = value,
                                None => {
                                    d.keys.insert(key.clone(), value);
                                }
                            }
                            match expiry {
                                Some(at) => {
                                    d.expires.insert(key, at);
                                }
                                None => {
                                    d.expires.swap_remove(&*key);
                                }
                            }
                        }
                        None => {
                            let d = &mut self.dbs[db];
                            d.keys.swap_remove(&*key);
                            d.expires.swap_remove(&*key);
                        }
                    }
                }
                Undo::Db { db, prior } => self.dbs[db] = prior,
                Undo::Swap { a, b } => self.dbs.swap(a, b),
            }
        }
        self.spare_journal = Some(j);
    }
}
