//! WATCH bookkeeping: which clients watch which keys, and which clients'
//! watches a write has invalidated. Fed by the store's choke point.

use super::{Key, KeyHashMap, KeyHashSet, Store};

#[derive(Debug, Default)]
pub struct Watches {
    /// (db, key) -> ids of clients watching it.
    by_key: KeyHashMap<(usize, Key), Vec<u64>>,
    /// Clients whose watched keys changed since they WATCHed.
    dirty: KeyHashSet<u64>,
}

impl Watches {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// A write to (db, key): every watcher's transaction will fail.
    #[inline]
    pub(crate) fn touch(&mut self, db: usize, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        if let Some(ids) = self.by_key.get(&(db, Key::new(key))) {
            self.dirty.extend(ids.iter().copied());
        }
    }

    /// The watchers of keys in `db` for which `exists` says the change is
    /// real (a flush or swap changes only keys that existed).
    pub(crate) fn watchers_in_db(
        &self,
        db: usize,
        mut exists: impl FnMut(&[u8]) -> bool,
    ) -> Vec<u64> {
        let mut out = Vec::new();
        for ((d, k), ids) in &self.by_key {
            if *d == db && exists(k) {
                out.extend(ids.iter().copied());
            }
        }
        out
    }

    /// These clients' transactions will fail.
    pub(crate) fn mark_dirty(&mut self, ids: impl IntoIterator<Item = u64>) {
        self.dirty.extend(ids);
    }
}

impl Store {
    /// WATCH: client `id` watches `key` in `db`. A key that is already
    /// logically expired is removed first, so its later removal by expiry
    /// does not count as a change. The caller keeps the client's watched
    /// set and calls this once per (db, key), so no duplicate check (which
    /// would cost O(watchers) per key) is needed here.
    pub fn watch(&mut self, id: u64, db: usize, key: &[u8]) {
        self.expire_if_needed(db, key);
        self.watches
            .by_key
            .entry((db, Key::new(key)))
            .or_default()
            .push(id);
    }

    /// Forgets all watches of client `id` (EXEC, DISCARD, UNWATCH, close).
    pub fn unwatch_all<'a>(&mut self, id: u64, keys: impl Iterator<Item = &'a (usize, Key)>) {
        for (db, k) in keys {
            let slot = (*db, k.clone());
            if let Some(ids) = self.watches.by_key.get_mut(&slot) {
                ids.retain(|&x| x != id);
                if ids.is_empty() {
                    self.watches.by_key.remove(&slot);
                }
            }
        }
        self.watches.dirty.remove(&id);
    }

    /// True if a watched key of client `id` changed since WATCH. Watched
    /// keys that expired by time in the meantime count as changed: they
    /// are removed here through the choke point first.
    pub fn watch_failed<'a>(
        &mut self,
        id: u64,
        keys: impl Iterator<Item = &'a (usize, Key)>,
    ) -> bool {
        for (db, k) in keys {
            self.expire_if_needed(*db, k);
        }
        self.watches.dirty.contains(&id)
    }
}
