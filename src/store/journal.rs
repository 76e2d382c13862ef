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

/// An open journal.
#[derive(Debug, Default)]
pub struct Journal {
    records: Vec<Undo>,
    /// Keys already recorded since the last database-level record.
    seen: HashSet<(usize, Key)>,
}

impl Journal {
    /// Keys the transaction changed (for deferred WATCH invalidation).
    pub(crate) fn touched(&self) -> impl Iterator<Item = (usize, &Key)> {
        self.records.iter().filter_map(|r| match r {
            Undo::Key { db, key, .. } => Some((*db, key)),
            _ => None,
        })
    }

    /// Databases changed wholesale.
    pub(crate) fn touched_dbs(&self) -> impl Iterator<Item = usize> + '_ {
        self.records.iter().flat_map(|r| match r {
            Undo::Db { db, .. } => vec![*db],
            Undo::Swap { a, b } => vec![*a, *b],
            Undo::Key { .. } => vec![],
        })
    }
}

impl Store {
    /// Starts recording undo information (EXEC with rollback).
    pub fn begin_journal(&mut self) {
        self.journal = Some(Journal::default());
    }

    /// Records the prior state of `key` before its first change.
    #[inline]
    pub(crate) fn journal_key(&mut self, db: usize, key: &[u8]) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        let k = Key::new(key);
        if j.seen.contains(&(db, k.clone())) {
            return;
        }
        let d = &self.dbs[db];
        let prior = d
            .keys
            .get(key)
            .map(|v| (v.clone(), d.expires.get(key).copied()));
        j.seen.insert((db, k.clone()));
        j.records.push(Undo::Key { db, key: k, prior });
    }

    /// Records a whole database before it is replaced; returns true if a
    /// journal took ownership of `prior`.
    pub(crate) fn journal_db(&mut self, db: usize, prior: Db) -> Option<Db> {
        match self.journal.as_mut() {
            Some(j) => {
                j.seen.retain(|(d, _)| *d != db);
                j.records.push(Undo::Db { db, prior });
                None
            }
            None => Some(prior),
        }
    }

    pub(crate) fn journal_swap(&mut self, a: usize, b: usize) {
        if let Some(j) = self.journal.as_mut() {
            j.seen.retain(|(d, _)| *d != a && *d != b);
            j.records.push(Undo::Swap { a, b });
        }
    }

    /// True while a transaction records undo information.
    pub fn journaling(&self) -> bool {
        self.journal.is_some()
    }

    /// Ends the journal keeping every change, and applies what was
    /// deferred while recording (WATCH invalidation of other clients).
    pub fn commit_journal(&mut self) {
        let Some(j) = self.journal.take() else {
            return;
        };
        if self.watches.is_empty() {
            return;
        }
        for (db, key) in j.touched() {
            self.watches.touch(db, key);
        }
        for db in j.touched_dbs() {
            self.watches.touch_db(db, |_| true);
        }
    }

    /// Undoes every change recorded since `begin_journal`, without running
    /// any hook: to the rest of the server the transaction never happened.
    pub fn rollback_journal(&mut self) {
        let Some(j) = self.journal.take() else {
            return;
        };
        for rec in j.records.into_iter().rev() {
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
    }
}
