//! Ready keys: the store-side half of blocking commands. The server marks
//! keys that clients block on; the mutation choke point records writes to
//! those keys so the server can serve the waiters right after the command.

use super::{Key, KeyHashSet, KeySet, Store};

/// Keys with blocked clients, and those of them written since last asked
/// (a set in write order: marking a key costs O(1) however many are ready).
#[derive(Debug, Default)]
pub struct ReadyKeys {
    watched: KeyHashSet<(usize, Key)>,
    ready: KeySet<(usize, Key)>,
}

impl ReadyKeys {
    /// Called by the choke point for every write.
    /// Only the empty check inline: every write pays it (five callers).
    #[inline(always)]
    pub(crate) fn on_write(&mut self, db: usize, key: &[u8]) {
        if !self.watched.is_empty() {
            self.on_watched_write(db, key);
        }
    }

    #[inline(never)]
    fn on_watched_write(&mut self, db: usize, key: &[u8]) {
        let k = (db, Key::new(key));
        if self.watched.contains(&k) {
            self.ready.insert(k);
        }
    }

    /// Every watched key of `db` (flush, swap): all may have changed.
    pub(crate) fn on_db_change(&mut self, db: usize) {
        for k in &self.watched {
            if k.0 == db {
                self.ready.insert(k.clone());
            }
        }
    }
}

impl Store {
    /// Reports writes to `key` in `db` from now on (a client blocks on it).
    pub fn watch_ready(&mut self, db: usize, key: &[u8]) {
        self.ready.watched.insert((db, Key::new(key)));
    }

    /// Stops reporting writes to `key` (no client waits on it any more).
    pub fn unwatch_ready(&mut self, db: usize, key: &[u8]) {
        self.ready.watched.remove(&(db, Key::new(key)));
    }

    /// The watched keys written since the last call.
    #[inline]
    pub fn take_ready(&mut self) -> Vec<(usize, Key)> {
        if self.ready.ready.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut self.ready.ready).into_iter().collect()
    }
}
