//! The cron's incremental rehashing (`Store::rehash_cycle`, Redis's
//! `activerehashing`): it moves on the index migrations (store/index.rs)
//! of the key tables and of collection values - hashes, sets and sorted
//! sets - that stopped receiving writes. A write moves its own value's
//! migration on, but reads take `&self` and do not (Redis's dictFind does a
//! rehash step), so an idle big collection would hold its old index until
//! its next write.
//!
//! Which collections migrate: `PosIndex` raises a flag when a migration
//! starts (`index::take_started`); before each command (and at each cron
//! tick) the store checks it and notes the key the previous command
//! looked up last (`Evict::last_touch`: a migration starts inside a
//! write, after that write's lookup) if its value migrates. The list is
//! best effort and small (`MAX_PENDING`): a key noted under a name it no
//! longer has (deleted, renamed, moved, flushed, lazily freed) is dropped
//! when looked up (one that points at the other db after SWAPDB is just
//! a miss), and a missed one (the second key of a command writing two,
//! COPY's clone) is moved on by its own next writes. With
//! `activerehashing no` the list is not drained; it stays at its cap. Moving
//! the index never moves an entry, so SCAN cursors, snapshots and the
//! journal's positions are unaffected, and it is not a write (no choke
//! point). The shrink after a finished migration may compact a sorted
//! set's node arena, and a big sorted set's compaction in steps rides on
//! the same list (its `migrate` / `migration_left` count free slots once
//! the index is done): its nodes only move down, which its downward ZSCAN
//! allows, and no journal records between commands.

use std::time::{Duration, Instant};

use super::index;
use super::set::Set;
use super::zset::ZSet;
use super::{Key, Store, Value};

/// Collections remembered at once; more are left to their own writes.
const MAX_PENDING: usize = 256;

/// Buckets moved between two looks at the clock: key tables' (short
/// keys)...
const BUCKETS: usize = 1024;
/// ...and collections' (members may be long: 128, near Redis's 100).
const COLLECTION_BUCKETS: usize = 128;

#[derive(Debug, Default)]
pub(crate) struct Rehashing {
    pending: Vec<Pending>,
}

#[derive(Debug)]
struct Pending {
    db: usize,
    key: Key,
    /// Positions its old index held at the last look: unchanged since
    /// means no write moved it (idle), so the cron does.
    left: usize,
}

/// Positions a collection value's migrating index still has to move (0:
/// not migrating, or not an indexed collection).
fn migration_left(v: &Value) -> usize {
    match v {
        Value::Hash(h) => h.table().map_or(0, |t| t.migration_left()),
        Value::Set(Set::Table(t)) => t.migration_left(),
        Value::ZSet(ZSet::Skip(z)) => z.migration_left(),
        _ => 0,
    }
}

/// Moves up to `buckets` buckets of the value's migration: true while it
/// still runs.
fn migrate(v: &mut Value, buckets: usize) -> bool {
    match v {
        Value::Hash(h) => h.table_mut().is_some_and(|t| t.migrate(buckets)),
        Value::Set(Set::Table(t)) => t.migrate(buckets),
        Value::ZSet(ZSet::Skip(z)) => z.migrate(buckets),
        _ => false,
    }
}

/// Gives back a hash's, set's or sorted set's spare entries / nodes after
/// many removals (their `maybe_shrink` waits while the index migrates).
fn shrink_if_sparse(v: &mut Value) {
    match v {
        Value::Hash(h) => h.maybe_shrink(),
        Value::Set(s) => s.maybe_shrink(),
        Value::ZSet(ZSet::Skip(z)) => z.maybe_shrink(),
        _ => {}
    }
}

impl Store {
    /// Before a command: if a migration started since the last check,
    /// notes the key the previous command looked up last.
    #[inline(always)]
    pub fn note_migrations(&mut self) {
        if index::take_started() {
            self.note_migration();
        }
    }

    /// A migration started since the last check: most likely in the value
    /// the last lookup was for.
    #[cold]
    #[inline(never)]
    fn note_migration(&mut self) {
        let Some((db, i)) = self.evict.last_touch else {
            return;
        };
        let Some((key, value)) = self.dbs.get(db).and_then(|d| d.keys.get_index(i)) else {
            return;
        };
        let left = migration_left(value);
        let pending = &mut self.rehashing.pending;
        if left == 0
            || pending.len() >= MAX_PENDING
            || pending.iter().any(|p| p.db == db && p.key == *key)
        {
            return;
        }
        pending.push(Pending {
            db,
            key: key.clone(),
            left,
        });
    }

    /// Moves the key tables' incremental index migrations on, then idle
    /// collections', for up to `budget` (Redis's `activerehashing`, ~1 ms
    /// a cron tick). A collection whose writes moved it by a batch or more
    /// since the last tick is left to them (the cron would only add its
    /// budget to their round); one written only now and then is helped.
    pub fn rehash_cycle(&mut self, budget: Duration) {
        let start = Instant::now();
        self.note_migrations();
        for db in &mut self.dbs {
            while db.keys.migrate(BUCKETS) | db.expires.migrate(BUCKETS) {
                if start.elapsed() >= budget {
                    return;
                }
            }
        }
        let mut n = 0;
        while n < self.rehashing.pending.len() {
            let p = &mut self.rehashing.pending[n];
            let value = self
                .dbs
                .get_mut(p.db)
                .and_then(|d| d.keys.get_index_of(&p.key).map(|i| (d, i)))
                .and_then(|(d, i)| d.keys.get_index_mut(i))
                .map(|(_, v)| v);
            let Some(value) = value else {
                // Deleted, renamed, moved or flushed since.
                self.rehashing.pending.swap_remove(n);
                continue;
            };
            let left = migration_left(value);
            if left == 0 {
                self.rehashing.pending.swap_remove(n);
                continue;
            }
            if p.left.saturating_sub(left) >= COLLECTION_BUCKETS {
                // Written since the last look: its writes move it.
                p.left = left;
                n += 1;
                continue;
            }
            while migrate(value, COLLECTION_BUCKETS) {
                if start.elapsed() >= budget {
                    p.left = migration_left(value);
                    return;
                }
            }
            // A shrink's migration is over: the entries can follow.
            shrink_if_sparse(value);
            self.rehashing.pending.swap_remove(n);
        }
    }
}
