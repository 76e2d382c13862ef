//! Point-in-time snapshot for the fork-free AOF rewrite.
//!
//! At the epoch every database gets a cursor at its length. The reactor
//! walks each database from the top index down, a bounded slice per tick,
//! serializing entries into AOF commands. The choke point serializes an
//! entry below the cursor (not yet walked) just before its first change, so
//! every entry that existed at the epoch is written exactly once, with its
//! value as of the epoch. Keys created later are appended above the cursor
//! and never walked.
//!
//! `swap_remove` moves the last element into the hole. When that hole is
//! below the cursor, the moved element (already walked, or newer than the
//! epoch) is marked `done` so the walk skips it - the one way an element
//! can travel from the walked region into the unwalked one.

use std::collections::HashSet;

use super::{Key, Store, Value};
use crate::aof::propagate::encode_into;

/// Elements per RPUSH / HMSET command in a rewritten file (Redis's
/// AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

#[derive(Debug, Default)]
pub struct Snapshot {
    /// Per database: indexes below this are not walked yet.
    cursors: Vec<usize>,
    /// Database the walk is on.
    db: usize,
    /// Keys below a cursor that must not be walked (already serialized, or
    /// not part of the snapshot).
    done: HashSet<(usize, Key)>,
    out: Vec<u8>,
    selected: Option<usize>,
}

impl Snapshot {
    fn select(&mut self, db: usize) {
        if self.selected != Some(db) {
            let n = db.to_string();
            encode_into(&mut self.out, [&b"SELECT"[..], n.as_bytes()].into_iter());
            self.selected = Some(db);
        }
    }

    fn serialize(&mut self, db: usize, key: &[u8], value: &Value, expiry: Option<u64>) {
        self.select(db);
        serialize_entry(&mut self.out, key, value, expiry);
    }
}

/// Writes the commands that recreate one key.
pub fn serialize_entry(out: &mut Vec<u8>, key: &[u8], value: &Value, expiry: Option<u64>) {
    match value {
        Value::Str(s) => encode_into(out, [&b"SET"[..], key, s].into_iter()),
        Value::List(l) => {
            let items: Vec<&[u8]> = l.iter().collect();
            for chunk in items.chunks(ITEMS_PER_CMD) {
                let head = [&b"RPUSH"[..], key];
                encode_into(out, head.into_iter().chain(chunk.iter().copied()));
            }
        }
        Value::Hash(h) => {
            let pairs: Vec<&[u8]> = h.iter().flat_map(|(f, v)| [&f[..], &v[..]]).collect();
            for chunk in pairs.chunks(ITEMS_PER_CMD * 2) {
                let head = [&b"HMSET"[..], key];
                encode_into(out, head.into_iter().chain(chunk.iter().copied()));
            }
        }
        // ZADD key score member ..., scores in `%.17g` (exact round trip).
        Value::ZSet(z) => {
            let mut items: Vec<(String, &[u8])> = Vec::with_capacity(z.len());
            z.for_each(|m, s| items.push((crate::number::fmt_g17(s), m)));
            for chunk in items.chunks(ITEMS_PER_CMD) {
                let head = [&b"ZADD"[..], key];
                let body = chunk.iter().flat_map(|(s, m)| [s.as_bytes(), *m]);
                encode_into(out, head.into_iter().chain(body));
            }
        }
    }
    if let Some(at) = expiry {
        let at = at.to_string();
        encode_into(out, [&b"PEXPIREAT"[..], key, at.as_bytes()].into_iter());
    }
}

impl Store {
    /// Starts a snapshot at this instant (the rewrite's epoch).
    pub fn begin_snapshot(&mut self) {
        self.snapshot = Some(Snapshot {
            cursors: self.dbs.iter().map(|d| d.keys.len()).collect(),
            ..Default::default()
        });
    }

    pub fn snapshot_active(&self) -> bool {
        self.snapshot.is_some()
    }

    pub fn abort_snapshot(&mut self) {
        self.snapshot = None;
    }

    /// Walks up to `max_keys` entries. Returns the serialized commands
    /// produced since the last call (walk and early serialization) and
    /// whether the walk is complete (the snapshot then ends).
    pub fn snapshot_step(&mut self, max_keys: usize) -> (Vec<u8>, bool) {
        let Some(mut snap) = self.snapshot.take() else {
            return (Vec::new(), true);
        };
        let mut budget = max_keys;
        while budget > 0 && snap.db < self.dbs.len() {
            let db = snap.db;
            let d = &self.dbs[db];
            let c = snap.cursors[db].min(d.keys.len());
            if c == 0 {
                snap.cursors[db] = 0;
                snap.db += 1;
                continue;
            }
            let idx = c - 1;
            snap.cursors[db] = idx;
            budget -= 1;
            let Some((k, v)) = d.keys.get_index(idx) else {
                continue;
            };
            if !snap.done.is_empty() && snap.done.remove(&(db, k.clone())) {
                continue;
            }
            let expiry = d.expires.get(&**k).copied();
            snap.serialize(db, k, v, expiry);
        }
        let out = std::mem::take(&mut snap.out);
        let finished = snap.db >= self.dbs.len();
        if !finished {
            self.snapshot = Some(snap);
        }
        (out, finished)
    }

    /// Choke-point hook: serialize `key` before its first change if the
    /// walk has not reached it, and protect the element a removal would
    /// move below the cursor.
    #[inline]
    pub(crate) fn snapshot_before_write(&mut self, db: usize, key: &[u8]) {
        let Some(snap) = self.snapshot.as_mut() else {
            return;
        };
        let d = &self.dbs[db];
        // A cursor above the length would let the next insert land in the
        // unwalked region: every insert is preceded by this hook, so clamp.
        if snap.cursors[db] > d.keys.len() {
            snap.cursors[db] = d.keys.len();
        }
        let Some(j) = d.keys.get_index_of(key) else {
            return;
        };
        let cursor = snap.cursors[db];
        if j >= cursor {
            return;
        }
        let k = Key::new(key);
        if !snap.done.contains(&(db, k.clone())) {
            if let Some(v) = d.keys.get(key) {
                let expiry = d.expires.get(key).copied();
                snap.serialize(db, key, v, expiry);
            }
            snap.done.insert((db, k));
        }
        guard_last(snap, d, db, j);
    }

    /// Before a change that bypasses the choke point (a rollback): keep the
    /// cursor within the map and protect the element a removal would move
    /// into the hole.
    pub(crate) fn snapshot_before_raw_change(&mut self, db: usize, key: &[u8]) {
        let Some(snap) = self.snapshot.as_mut() else {
            return;
        };
        let d = &self.dbs[db];
        snap.cursors[db] = snap.cursors[db].min(d.keys.len());
        if let Some(j) = d.keys.get_index_of(key)
            && j < snap.cursors[db]
        {
            guard_last(snap, d, db, j);
        }
    }

    /// Serializes the whole unwalked part of `db` now (before a flush or a
    /// swap replaces the database wholesale).
    pub(crate) fn snapshot_finish_db(&mut self, db: usize) {
        let Some(mut snap) = self.snapshot.take() else {
            return;
        };
        let d = &self.dbs[db];
        let c = snap.cursors[db].min(d.keys.len());
        for idx in (0..c).rev() {
            if let Some((k, v)) = d.keys.get_index(idx) {
                if snap.done.remove(&(db, k.clone())) {
                    continue;
                }
                let expiry = d.expires.get(&**k).copied();
                snap.serialize(db, k, v, expiry);
            }
        }
        snap.cursors[db] = 0;
        snap.done.retain(|(d, _)| *d != db);
        self.snapshot = Some(snap);
    }
}

/// A removal at `j` (below the cursor) moves the last element into `j`;
/// if that element is above the cursor it must not be walked.
fn guard_last(snap: &mut Snapshot, d: &super::Db, db: usize, j: usize) {
    let n = d.keys.len();
    if n > 0
        && n - 1 != j
        && n > snap.cursors[db]
        && let Some((last, _)) = d.keys.get_index(n - 1)
    {
        snap.done.insert((db, last.clone()));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::resp::{Limits, parse_command};
    use crate::store::Sds;

    /// Parses serialized output into (db, key) -> value, counting how often
    /// each key was written.
    type Keyed<T> = HashMap<(usize, Vec<u8>), T>;

    fn replay(out: &[u8]) -> (Keyed<Vec<u8>>, Keyed<usize>) {
        let mut map = HashMap::new();
        let mut writes = HashMap::new();
        let (mut pos, mut db) = (0, 0);
        let mut ranges = Vec::new();
        let mut scratch = Vec::new();
        while pos < out.len() {
            let f = parse_command(&out[pos..], &Limits::default(), &mut ranges, &mut scratch)
                .unwrap()
                .unwrap();
            let args: Vec<&[u8]> = ranges.iter().map(|r| &out[pos..][r.clone()]).collect();
            match args[0] {
                b"SELECT" => db = std::str::from_utf8(args[1]).unwrap().parse().unwrap(),
                b"SET" => {
                    let k = (db, args[1].to_vec());
                    *writes.entry(k.clone()).or_insert(0) += 1;
                    map.insert(k, args[2].to_vec());
                }
                b"PEXPIREAT" => {}
                other => panic!("unexpected {:?}", String::from_utf8_lossy(other)),
            }
            pos += f.consumed;
        }
        (map, writes)
    }

    /// Random writes interleaved with the walk: the output is exactly the
    /// data as of the epoch, each key written once.
    #[test]
    fn snapshot_is_point_in_time_under_writes() {
        for seed in 1..40u64 {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = move |n: u64| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng % n
            };
            let mut s = Store::new(2);
            for i in 0..300 {
                let db = (i % 2) as usize;
                s.set(
                    db,
                    format!("k{i}").as_bytes(),
                    Value::Str(Sds::new(format!("v{i}").as_bytes())),
                );
            }
            let mut epoch = HashMap::new();
            for db in 0..2 {
                for (k, v) in s.db(db).keys() {
                    if let Value::Str(v) = v {
                        epoch.insert((db, k.to_vec()), v.to_vec());
                    }
                }
            }
            s.begin_snapshot();
            let mut out = Vec::new();
            let mut fresh = 1000;
            loop {
                for _ in 0..next(8) {
                    let db = next(2) as usize;
                    let k = format!("k{}", next(320));
                    match next(4) {
                        0 => {
                            s.remove(db, k.as_bytes());
                        }
                        1 => s.set(db, k.as_bytes(), Value::Str(Sds::new(b"changed"))),
                        2 => {
                            fresh += 1;
                            s.set(
                                db,
                                format!("n{fresh}").as_bytes(),
                                Value::Str(Sds::new(b"new")),
                            );
                        }
                        _ => {
                            if next(10) == 0 {
                                s.flush_db(db);
                            }
                        }
                    }
                }
                let (chunk, done) = s.snapshot_step(1 + next(7) as usize);
                out.extend_from_slice(&chunk);
                if done {
                    break;
                }
            }
            let (got, writes) = replay(&out);
            assert!(
                got == epoch,
                "seed {seed}: snapshot differs from the epoch's data"
            );
            assert!(
                writes.values().all(|&n| n == 1),
                "seed {seed}: a key written twice"
            );
        }
    }
}
