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
//!
//! Whole-database changes cost O(1) on the reactor: a database flushed
//! during the walk is *detached* with its unwalked part and handed to the
//! rewrite thread ([`Piece::Detached`]), which serializes and frees it
//! there; SWAPDB swaps the two databases' walk state and the db number
//! their entries are written under (`labels`). The walk's budget counts
//! elements, not keys, so a tick never serializes much more than its share:
//! a big list, hash, set or sorted set is written a slice per tick
//! (`partial`), and a write to it in the meantime first writes the rest.
//! (Handing a copy of the value to the rewrite thread instead was tried:
//! cloning a 3M-element list or a 1M-member sorted set cost the reactor
//! more than encoding it.)

use super::lazyfree::free_effort;
use super::{Db, Key, KeyHashSet, Store, Value};
use crate::aof::propagate::encode_into;
use crate::rdb::SaveOpts;
use crate::rdb::save as rdb_save;

/// Elements per RPUSH / HMSET / SADD command in a rewritten file (Redis's
/// AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

#[derive(Debug, Default)]
pub struct Snapshot {
    /// Per database: indexes below this are not walked yet.
    cursors: Vec<usize>,
    /// Per database index: the db number its entries had at the epoch (what
    /// SELECT names in the output); SWAPDB swaps two labels.
    labels: Vec<usize>,
    /// Database the walk is on.
    db: usize,
    /// Keys below a cursor that must not be walked (already serialized, or
    /// not part of the snapshot).
    done: KeyHashSet<(usize, Key)>,
    /// A big value the walk is writing a slice per tick.
    partial: Option<Partial>,
    /// Output ready to hand over, in order, before `out`.
    pieces: Vec<Piece>,
    out: Vec<u8>,
    selected: Option<usize>,
    /// Some: the output is RDB (a BGSAVE, or an AOF base with an RDB
    /// preamble) instead of AOF commands.
    rdb: Option<SaveOpts>,
}

/// A value being written in slices: elements before `next` are written.
#[derive(Debug)]
struct Partial {
    db: usize,
    key: Key,
    next: usize,
}

/// Values with more elements than this are written in slices.
const SLICE_ELEMENTS: usize = 4096;

/// Output of the walk, in file order.
#[derive(Debug)]
pub enum Piece {
    /// Serialized commands.
    Bytes(Vec<u8>),
    /// A flushed database whose unwalked entries still belong to the
    /// snapshot: serialized (and freed) by the rewrite thread.
    Detached(Box<DetachedDb>),
}

/// The part of a flushed database the walk had not reached.
#[derive(Debug)]
pub struct DetachedDb {
    /// db number of the entries at the epoch.
    label: usize,
    db: Db,
    /// Indexes below this are unwalked.
    upto: usize,
    /// Unwalked keys not to write (already written, or newer).
    skip: KeyHashSet<Key>,
    /// A walked key whose value was only partly written: the rest.
    partial: Option<(Key, usize)>,
    rdb: Option<SaveOpts>,
}

impl DetachedDb {
    /// Serializes the unwalked entries (after a SELECT) into `out`.
    pub fn serialize(&self, out: &mut Vec<u8>) {
        select_any(out, self.label, self.rdb.as_ref(), &self.db);
        if let Some((k, next)) = &self.partial
            && let Some(v) = self.db.keys.get(k)
        {
            let expiry = self.db.expires.get(k).copied();
            match &self.rdb {
                Some(o) => rdb_save::write_elements(out, v, *next, free_effort(v), o),
                None => serialize_rest(out, k, v, *next, expiry),
            }
        }
        let upto = self.upto.min(self.db.keys.len());
        for idx in (0..upto).rev() {
            if let Some((k, v)) = self.db.keys.get_index(idx) {
                if self.skip.contains(k) {
                    continue;
                }
                let expiry = self.db.expires.get(k).copied();
                match &self.rdb {
                    Some(o) => rdb_save::write_entry(out, k, v, expiry, o),
                    None => serialize_entry(out, k, v, expiry),
                }
            }
        }
    }
}

/// SELECT (AOF) or SELECTDB + RESIZEDB (RDB).
fn select_any(out: &mut Vec<u8>, label: usize, rdb: Option<&SaveOpts>, d: &Db) {
    match rdb {
        Some(_) => rdb_save::write_select(out, label, d.keys.len(), d.expires.len()),
        None => select_cmd(out, label),
    }
}

fn select_cmd(out: &mut Vec<u8>, db: usize) {
    let n = db.to_string();
    encode_into(out, [&b"SELECT"[..], n.as_bytes()].into_iter());
}

impl Snapshot {
    fn select(&mut self, db: usize, d: &Db) {
        let label = self.labels[db];
        if self.selected != Some(label) {
            select_any(&mut self.out, label, self.rdb.as_ref(), d);
            self.selected = Some(label);
        }
    }

    fn serialize(&mut self, db: usize, d: &Db, key: &[u8], value: &Value, expiry: Option<u64>) {
        self.select(db, d);
        match &self.rdb {
            Some(o) => rdb_save::write_entry(&mut self.out, key, value, expiry, o),
            None => serialize_entry(&mut self.out, key, value, expiry),
        }
    }

    /// Writes up to `budget` more elements of the partial value (in `d`);
    /// returns what is left of the budget. The partial ends when the value
    /// is complete or gone.
    fn continue_partial(&mut self, d: &Db, budget: usize) -> usize {
        let Some(p) = self.partial.take() else {
            return budget;
        };
        if budget == 0 {
            // Nothing written yet stays nothing written (`next == 0` means
            // the RDB head is still to come).
            self.partial = Some(p);
            return 0;
        }
        let Some(v) = d.keys.get(&p.key) else {
            return budget;
        };
        self.select(p.db, d);
        let len = free_effort(v);
        let end = p.next.saturating_add(budget).min(len);
        if let Some(o) = &self.rdb {
            // RDB: the count and expiry go first, the elements follow.
            if p.next == 0 {
                let expiry = d.expires.get(&p.key).copied();
                rdb_save::write_entry_head(&mut self.out, &p.key, v, expiry, o);
            }
            rdb_save::write_elements(&mut self.out, v, p.next, end, o);
        } else {
            serialize_slice(&mut self.out, &p.key, v, p.next, end);
        }
        if end >= len {
            if self.rdb.is_none()
                && let Some(at) = d.expires.get(&p.key)
            {
                pexpireat(&mut self.out, &p.key, *at);
            }
            budget.saturating_sub(end - p.next)
        } else {
            self.partial = Some(Partial { next: end, ..p });
            0
        }
    }

    /// Writes the rest of the partial value if it is (db, key).
    fn finish_partial_of(&mut self, d: &Db, db: usize, key: &[u8]) {
        if self
            .partial
            .as_ref()
            .is_some_and(|p| p.db == db && *p.key == *key)
        {
            self.continue_partial(d, usize::MAX);
        }
    }

    /// Moves what `out` holds into the ordered pieces.
    fn seal_bytes(&mut self) {
        if !self.out.is_empty() {
            self.pieces
                .push(Piece::Bytes(std::mem::take(&mut self.out)));
        }
    }
}

fn pexpireat(out: &mut Vec<u8>, key: &[u8], at: u64) {
    let at = at.to_string();
    encode_into(out, [&b"PEXPIREAT"[..], key, at.as_bytes()].into_iter());
}

/// Writes elements `from..to` of a list, hash table, set table or
/// skiplist (RPUSH / HMSET / SADD / ZADD chunks of `ITEMS_PER_CMD`); other
/// values are written whole when `from` is 0.
fn serialize_slice(out: &mut Vec<u8>, key: &[u8], value: &Value, from: usize, to: usize) {
    match value {
        Value::List(l) => {
            // Integer entries are formatted into the collected elements.
            let items: Vec<_> = l.range(from, to).collect();
            for chunk in items.chunks(ITEMS_PER_CMD) {
                let head = [&b"RPUSH"[..], key];
                encode_into(out, head.into_iter().chain(chunk.iter().map(|e| &e[..])));
            }
        }
        // A packed hash is written whole, like the values below.
        Value::Hash(h) if !h.is_packed() => {
            let pairs: Vec<_> = (from..to.min(h.len()))
                .filter_map(|i| h.get_index(i))
                .flat_map(|(f, v)| [f.cow(), v.cow()])
                .collect();
            for chunk in pairs.chunks(ITEMS_PER_CMD * 2) {
                let head = [&b"HMSET"[..], key];
                encode_into(out, head.into_iter().chain(chunk.iter().map(|e| &e[..])));
            }
        }
        Value::Set(set) => {
            let items: Vec<Vec<u8>> = (from..to.min(set.len()))
                .filter_map(|i| set.get_index(i).map(|e| e.to_vec()))
                .collect();
            for chunk in items.chunks(ITEMS_PER_CMD) {
                let head = [&b"SADD"[..], key];
                encode_into(out, head.into_iter().chain(chunk.iter().map(|m| &m[..])));
            }
        }
        Value::ZSet(z) => {
            let mut items: Vec<(String, &[u8])> = Vec::with_capacity(to.saturating_sub(from));
            z.for_range(from, to, false, |m, s| {
                items.push((crate::number::fmt_g17(s), m))
            });
            zadd_chunks(out, key, &items);
        }
        _ if from == 0 => serialize_entry(out, key, value, None),
        _ => {}
    }
}

/// ZADD key score member ..., scores in `%.17g` (exact round trip).
fn zadd_chunks(out: &mut Vec<u8>, key: &[u8], items: &[(String, &[u8])]) {
    for chunk in items.chunks(ITEMS_PER_CMD) {
        let head = [&b"ZADD"[..], key];
        let body = chunk.iter().flat_map(|(s, m)| [s.as_bytes(), *m]);
        encode_into(out, head.into_iter().chain(body));
    }
}

/// Writes elements `from..` of a value, then its expiry.
fn serialize_rest(out: &mut Vec<u8>, key: &[u8], value: &Value, from: usize, expiry: Option<u64>) {
    serialize_slice(out, key, value, from, free_effort(value));
    if let Some(at) = expiry {
        pexpireat(out, key, at);
    }
}

/// True for the values the walk writes in slices.
fn sliceable(v: &Value) -> bool {
    let kind = match v {
        Value::List(_) => true,
        Value::Hash(h) => !h.is_packed(),
        Value::Set(s) => !matches!(s, super::set::Set::Ints(_)),
        Value::ZSet(z) => !z.is_listpack(),
        Value::Str(_) | Value::Stream(_) => false,
    };
    kind && free_effort(v) > SLICE_ELEMENTS
}

/// Writes the commands that recreate one key.
pub fn serialize_entry(out: &mut Vec<u8>, key: &[u8], value: &Value, expiry: Option<u64>) {
    match value {
        Value::Str(s) => encode_into(out, [&b"SET"[..], key, s].into_iter()),
        Value::List(l) => {
            let items: Vec<_> = l.iter().collect();
            for chunk in items.chunks(ITEMS_PER_CMD) {
                let head = [&b"RPUSH"[..], key];
                encode_into(out, head.into_iter().chain(chunk.iter().map(|e| &e[..])));
            }
        }
        Value::Hash(h) => {
            let pairs: Vec<_> = h.iter().flat_map(|(f, v)| [f.cow(), v.cow()]).collect();
            for chunk in pairs.chunks(ITEMS_PER_CMD * 2) {
                let head = [&b"HMSET"[..], key];
                encode_into(out, head.into_iter().chain(chunk.iter().map(|e| &e[..])));
            }
        }
        Value::Set(set) => {
            let items: Vec<Vec<u8>> = set.iter().map(|e| e.to_vec()).collect();
            for chunk in items.chunks(ITEMS_PER_CMD) {
                let head = [&b"SADD"[..], key];
                encode_into(out, head.into_iter().chain(chunk.iter().map(|m| &m[..])));
            }
        }
        Value::ZSet(z) => {
            let mut items: Vec<(String, &[u8])> = Vec::with_capacity(z.len());
            z.for_each(|m, s| items.push((crate::number::fmt_g17(s), m)));
            zadd_chunks(out, key, &items);
        }
        Value::Stream(s) => super::stream::serialize(out, key, s),
    }
    if let Some(at) = expiry {
        let at = at.to_string();
        encode_into(out, [&b"PEXPIREAT"[..], key, at.as_bytes()].into_iter());
    }
}

impl Store {
    /// Starts a snapshot at this instant (the rewrite's epoch).
    pub fn begin_snapshot(&mut self) {
        self.begin_snapshot_as(None);
    }

    /// Starts a snapshot whose output is RDB (`Some`) or AOF commands.
    pub fn begin_snapshot_as(&mut self, rdb: Option<SaveOpts>) {
        self.snapshot = Some(Snapshot {
            cursors: self.dbs.iter().map(|d| d.keys.len()).collect(),
            labels: (0..self.dbs.len()).collect(),
            rdb,
            ..Default::default()
        });
    }

    pub fn snapshot_active(&self) -> bool {
        self.snapshot.is_some()
    }

    pub fn abort_snapshot(&mut self) {
        self.snapshot = None;
    }

    /// Walks entries worth up to `max_elements` elements. Returns the output
    /// produced since the last call (walk, early serialization, detached
    /// databases), in order, and whether the walk is complete (the snapshot
    /// then ends).
    pub fn snapshot_step(&mut self, max_elements: usize) -> (Vec<Piece>, bool) {
        let Some(mut snap) = self.snapshot.take() else {
            return (Vec::new(), true);
        };
        let mut budget = max_elements;
        if let Some(p) = &snap.partial {
            let d = &self.dbs[p.db];
            budget = snap.continue_partial(d, budget);
        }
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
            budget = budget.saturating_sub(1);
            let Some((k, v)) = d.keys.get_index(idx) else {
                continue;
            };
            if !snap.done.is_empty() && snap.done.remove(&(db, k.clone())) {
                continue;
            }
            if sliceable(v) {
                snap.partial = Some(Partial {
                    db,
                    key: k.clone(),
                    next: 0,
                });
                budget = snap.continue_partial(d, budget);
                continue;
            }
            budget = budget.saturating_sub(free_effort(v));
            let expiry = d.expires.get(k).copied();
            snap.serialize(db, d, k, v, expiry);
        }
        snap.seal_bytes();
        let pieces = std::mem::take(&mut snap.pieces);
        let finished = snap.db >= self.dbs.len();
        if !finished {
            self.snapshot = Some(snap);
        }
        (pieces, finished)
    }

    /// What writes and flushes produced since the last call (early
    /// serializations, detached databases), in order, without walking: it
    /// goes out even while the walk waits for the rewrite thread.
    pub fn snapshot_pending(&mut self) -> Vec<Piece> {
        let Some(snap) = self.snapshot.as_mut() else {
            return Vec::new();
        };
        snap.seal_bytes();
        std::mem::take(&mut snap.pieces)
    }

    /// A flush is replacing `db` (outside a transaction): the unwalked part
    /// of `old` goes to the rewrite thread with it. Returns `old` back when
    /// no walk needs it.
    pub(crate) fn snapshot_detach(&mut self, db: usize, old: Db) -> Option<Db> {
        let Some(snap) = self.snapshot.as_mut() else {
            return Some(old);
        };
        // RDB output cannot interleave: a value written in slices is
        // completed before anything else is written.
        if snap.rdb.is_some()
            && let Some(p) = &snap.partial
        {
            let d = if p.db == db { &old } else { &self.dbs[p.db] };
            snap.continue_partial(d, usize::MAX);
        }
        let upto = snap.cursors[db].min(old.keys.len());
        snap.cursors[db] = 0;
        let partial = match snap.partial.take() {
            Some(p) if p.db == db => Some((p.key, p.next)),
            other => {
                snap.partial = other;
                None
            }
        };
        let mut skip = KeyHashSet::default();
        if !snap.done.is_empty() {
            snap.done.retain(|(d, k)| {
                if *d == db {
                    skip.insert(k.clone());
                    false
                } else {
                    true
                }
            });
        }
        if upto == 0 && partial.is_none() {
            return Some(old);
        }
        snap.seal_bytes();
        snap.pieces.push(Piece::Detached(Box::new(DetachedDb {
            label: snap.labels[db],
            db: old,
            upto,
            skip,
            partial,
            rdb: snap.rdb,
        })));
        // The rewrite thread writes a SELECT of its own.
        snap.selected = None;
        None
    }

    /// SWAPDB a b (also undoing one): each database keeps its walk state
    /// and the db number its epoch entries are written under.
    pub(crate) fn snapshot_swap(&mut self, a: usize, b: usize) {
        let Some(snap) = self.snapshot.as_mut() else {
            return;
        };
        snap.cursors.swap(a, b);
        snap.labels.swap(a, b);
        if let Some(p) = snap.partial.as_mut() {
            if p.db == a {
                p.db = b;
            } else if p.db == b {
                p.db = a;
            }
        }
        if !snap.done.is_empty() {
            let moved: Vec<(usize, Key)> = snap
                .done
                .iter()
                .filter(|(d, _)| *d == a || *d == b)
                .cloned()
                .collect();
            // Remove all, then insert all: a key name can be in both.
            for entry in &moved {
                snap.done.remove(entry);
            }
            for (d, k) in moved {
                snap.done.insert((if d == a { b } else { a }, k));
            }
        }
        // The walk may have passed one of them: go back to the lower one.
        snap.db = snap.db.min(a.min(b));
    }

    /// Choke-point hook: serialize `key` before its first change if the
    /// walk has not reached it, and protect the element a removal would
    /// move below the cursor.
    ///
    /// Only the check for a snapshot inline: every write pays it.
    #[inline(always)]
    pub(crate) fn snapshot_before_write(&mut self, db: usize, key: &[u8]) {
        if self.snapshot.is_some() {
            self.snapshot_before_write_walking(db, key);
        }
    }

    #[inline(never)]
    fn snapshot_before_write_walking(&mut self, db: usize, key: &[u8]) {
        let Some(snap) = self.snapshot.as_mut() else {
            return;
        };
        let d = &self.dbs[db];
        // A value being written in slices is completed before it changes
        // (in RDB mode before anything else is written: no interleaving).
        if let Some(p) = &snap.partial {
            if snap.rdb.is_some() {
                let pd = &self.dbs[p.db];
                snap.continue_partial(pd, usize::MAX);
            } else {
                snap.finish_partial_of(d, db, key);
            }
        }
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
                snap.serialize(db, d, key, v, expiry);
            }
            snap.done.insert((db, k));
        }
        guard_last(snap, d, db, j);
    }

    /// Dispatch check (`server::snapshot_wait`): true if changing `key` now
    /// would make the choke point encode a big value on the reactor - the
    /// value the walk is writing in slices, a big value it has not reached,
    /// or (RDB output, which cannot interleave) any value it owes while it
    /// is in the middle of another. A big value not reached yet becomes the
    /// walk's next one (written a slice per tick) when the walk is free.
    pub fn snapshot_claim(&mut self, db: usize, key: &[u8]) -> bool {
        let Some(snap) = self.snapshot.as_mut() else {
            return false;
        };
        if let Some(p) = &snap.partial
            && p.db == db
            && *p.key == *key
        {
            return true;
        }
        let d = &self.dbs[db];
        let Some((j, _, v)) = d.keys.get_full(key) else {
            return false;
        };
        if j >= snap.cursors[db].min(d.keys.len()) || snap.done.contains(&(db, Key::new(key))) {
            return false;
        }
        let big = sliceable(v);
        if snap.partial.is_some() {
            return big || snap.rdb.is_some();
        }
        if big {
            snap.done.insert((db, Key::new(key)));
            snap.partial = Some(Partial {
                db,
                key: Key::new(key),
                next: 0,
            });
        }
        big
    }

    /// True while the walk is in the middle of a big value.
    pub fn snapshot_partial_active(&self) -> bool {
        self.snapshot.as_ref().is_some_and(|s| s.partial.is_some())
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
        if let Some(p) = &snap.partial
            && (p.db == db || snap.rdb.is_some())
        {
            let pd = &self.dbs[p.db];
            snap.continue_partial(pd, usize::MAX);
        }
        let c = snap.cursors[db].min(d.keys.len());
        for idx in (0..c).rev() {
            if let Some((k, v)) = d.keys.get_index(idx) {
                if snap.done.remove(&(db, k.clone())) {
                    continue;
                }
                let expiry = d.expires.get(k).copied();
                snap.serialize(db, d, k, v, expiry);
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
        for seed in 1..200u64 {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = move |n: u64| crate::store::xorshift(&mut rng) % n;
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
                // Some rounds run as a transaction, committed or rolled back.
                let tx = next(3);
                if tx > 0 {
                    s.begin_journal();
                }
                for _ in 0..next(8) {
                    let db = next(2) as usize;
                    let k = format!("k{}", next(320));
                    match next(4) {
                        // (`delete` moves the value into a journal.)
                        0 if next(2) == 0 => {
                            s.remove(db, k.as_bytes());
                        }
                        0 => {
                            s.delete(db, k.as_bytes());
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
                        _ => match next(20) {
                            0 => s.flush_db(db),
                            1 => s.swap_dbs(0, 1),
                            _ => {}
                        },
                    }
                }
                match tx {
                    1 => s.commit_journal(),
                    2 => s.rollback_journal(),
                    _ => {}
                }
                let (pieces, done) = s.snapshot_step(1 + next(7) as usize);
                for p in pieces {
                    match p {
                        Piece::Bytes(b) => out.extend_from_slice(&b),
                        Piece::Detached(d) => d.serialize(&mut out),
                    }
                }
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

    /// Parses output into (db, key) -> canonical value text, for strings,
    /// lists (RPUSH) and hashes (HMSET, fields sorted).
    fn replay_values(out: &[u8]) -> Keyed<Vec<Vec<u8>>> {
        let mut map: Keyed<Vec<Vec<u8>>> = HashMap::new();
        let (mut pos, mut db) = (0, 0);
        let mut ranges = Vec::new();
        let mut scratch = Vec::new();
        while pos < out.len() {
            let f = parse_command(&out[pos..], &Limits::default(), &mut ranges, &mut scratch)
                .unwrap()
                .unwrap();
            let args: Vec<&[u8]> = ranges.iter().map(|r| &out[pos..][r.clone()]).collect();
            let k = || (db, args[1].to_vec());
            match args[0] {
                b"SELECT" => db = std::str::from_utf8(args[1]).unwrap().parse().unwrap(),
                b"SET" => {
                    assert!(map.insert(k(), vec![args[2].to_vec()]).is_none());
                }
                b"RPUSH" | b"HMSET" | b"SADD" | b"ZADD" => {
                    let e = map.entry(k()).or_default();
                    e.extend(args[2..].iter().map(|a| a.to_vec()));
                }
                b"PEXPIREAT" => {}
                other => panic!("unexpected {:?}", String::from_utf8_lossy(other)),
            }
            pos += f.consumed;
        }
        map
    }

    fn canonical(v: &Value) -> Vec<Vec<u8>> {
        match v {
            Value::Str(s) => vec![s.to_vec()],
            Value::List(l) => l.iter().map(|e| e.to_vec()).collect(),
            Value::Hash(h) => h
                .iter()
                .flat_map(|(f, v)| [f.to_vec(), v.to_vec()])
                .collect(),
            Value::Set(s) => s.iter().map(|e| e.to_vec()).collect(),
            Value::ZSet(z) => {
                let mut out = Vec::new();
                z.for_each(|m, s| {
                    out.push(crate::number::fmt_g17(s).into_bytes());
                    out.push(m.to_vec());
                });
                out
            }
            _ => unreachable!("the test holds no streams"),
        }
    }

    /// The dispatch check (`snapshot_claim`): a big value the walk owes is
    /// taken up next and claimed until written; small owed keys stall only
    /// RDB output (which cannot interleave) while the walk is inside a big
    /// value; nothing is claimed once written; the output stays the epoch.
    #[test]
    fn claiming_a_big_owed_value_makes_it_the_walks_next() {
        use crate::store::List;
        for rdb in [false, true] {
            let mut s = Store::new(1);
            let mut l = List::new();
            for i in 0..9000 {
                l.push(false, format!("e{i}").as_bytes());
            }
            s.set(0, b"big", Value::List(l));
            for i in 0..20 {
                s.set(0, format!("k{i}").as_bytes(), Value::Str(Sds::new(b"v")));
            }
            let epoch: Vec<Vec<u8>> = match s.db(0).keys().get(&b"big"[..]) {
                Some(v) => canonical(v),
                None => unreachable!(),
            };
            s.begin_snapshot_as(rdb.then(SaveOpts::default));
            assert!(!s.snapshot_claim(0, b"k3"), "a small owed key");
            assert!(!s.snapshot_claim(0, b"nope"), "a missing key");
            assert!(s.snapshot_claim(0, b"big"));
            assert!(s.snapshot_partial_active());
            assert!(s.snapshot_claim(0, b"big"), "claimed until written");
            let mut out = Vec::new();
            let (pieces, _) = s.snapshot_step(1000);
            for p in pieces {
                if let Piece::Bytes(b) = p {
                    out.extend_from_slice(&b);
                }
            }
            assert!(s.snapshot_partial_active(), "written a slice per step");
            assert_eq!(s.snapshot_claim(0, b"k3"), rdb, "RDB cannot interleave");
            loop {
                let (pieces, done) = s.snapshot_step(1000);
                for p in pieces {
                    if let Piece::Bytes(b) = p {
                        out.extend_from_slice(&b);
                    }
                }
                if !s.snapshot_partial_active() {
                    assert!(!s.snapshot_claim(0, b"big"), "written: nothing owed");
                }
                if done {
                    break;
                }
            }
            if !rdb {
                let got = replay_values(&out);
                assert_eq!(got.get(&(0, b"big".to_vec())), Some(&epoch));
                assert_eq!(got.len(), 21, "every key written once");
            }
        }
    }

    /// Big lists, hashes, sets and sorted sets are written a slice per
    /// step while they, and everything around them, keep changing: the
    /// output is still exactly the data as of the epoch.
    #[test]
    fn big_values_are_written_in_slices_at_the_epoch() {
        use crate::store::set::Set;
        use crate::store::zset::{Limits as ZLimits, ZSet};
        use crate::store::{Hash, Kind, List};
        let zlim = ZLimits::default();
        for seed in 1..12u64 {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = move |n: u64| crate::store::xorshift(&mut rng) % n;
            let mut s = Store::new(2);
            for db in 0..2 {
                let mut l = List::new();
                for i in 0..9000 {
                    l.push(false, format!("e{i}").as_bytes());
                }
                s.set(db, b"list", Value::List(l));
                let mut h = Hash::default();
                for i in 0..5000 {
                    h.set(
                        format!("f{i}").as_bytes(),
                        format!("v{i}").as_bytes(),
                        &Default::default(),
                    );
                }
                s.set(db, b"hash", Value::Hash(h));
                let mut set = Set::new_for(b"m");
                for i in 0..6000 {
                    set.add(format!("m{i}").as_bytes(), 512);
                }
                s.set(db, b"set", Value::Set(set));
                let mut z = ZSet::new_for(8, &zlim);
                for i in 0..7000 {
                    z.insert(format!("z{i}").as_bytes(), (i % 97) as f64 / 3.0, &zlim);
                }
                s.set(db, b"zset", Value::ZSet(z));
                // A listpack hash: written whole, in its order.
                let mut ph = Hash::default();
                for i in 0..10 {
                    ph.set(format!("p{i}").as_bytes(), b"v", &Default::default());
                }
                s.set(db, b"phash", Value::Hash(ph));
                for i in 0..50 {
                    s.set(db, format!("k{i}").as_bytes(), Value::Str(Sds::new(b"v")));
                }
            }
            let mut epoch = HashMap::new();
            for db in 0..2 {
                for (k, v) in s.db(db).keys() {
                    epoch.insert((db, k.to_vec()), canonical(v));
                }
            }
            s.begin_snapshot();
            let mut out = Vec::new();
            loop {
                for _ in 0..next(4) {
                    let db = next(2) as usize;
                    match next(12) {
                        0 => {
                            if let Ok(Some(Value::List(l))) = s.get_mut(db, b"list", Kind::List) {
                                l.push(next(2) == 0, b"new");
                            }
                        }
                        1 => {
                            if let Ok(Some(Value::List(l))) = s.get_mut(db, b"list", Kind::List) {
                                l.pop(next(2) == 0);
                            }
                        }
                        2 => {
                            if let Ok(Some(Value::Hash(h))) = s.get_mut(db, b"hash", Kind::Hash) {
                                let f = format!("f{}", next(6000));
                                h.set(f.as_bytes(), b"changed", &Default::default());
                            }
                        }
                        3 => {
                            let k: &[u8] = match next(4) {
                                0 => b"list",
                                1 => b"hash",
                                2 => b"set",
                                _ => b"zset",
                            };
                            s.remove(db, k);
                        }
                        7 => {
                            if let Ok(Some(Value::Set(st))) = s.get_mut(db, b"set", Kind::Set) {
                                let m = format!("m{}", next(7000));
                                if next(2) == 0 {
                                    st.add(m.as_bytes(), 512);
                                } else {
                                    st.remove(m.as_bytes());
                                }
                            }
                        }
                        8 => {
                            if let Ok(Some(Value::ZSet(z))) = s.get_mut(db, b"zset", Kind::ZSet) {
                                let m = format!("z{}", next(8000));
                                if next(2) == 0 {
                                    z.insert(m.as_bytes(), next(1000) as f64, &zlim);
                                } else {
                                    z.remove(m.as_bytes());
                                }
                            }
                        }
                        4 => {
                            s.remove(db, format!("k{}", next(60)).as_bytes());
                        }
                        9 => {
                            if let Ok(Some(Value::Hash(h))) = s.get_mut(db, b"phash", Kind::Hash) {
                                let f = format!("p{}", next(14));
                                match next(8) {
                                    0 => {
                                        h.remove(f.as_bytes());
                                    }
                                    // Now and then a value too long: the
                                    // hash converts to a table.
                                    1 if next(4) == 0 => {
                                        h.set(f.as_bytes(), &[b'x'; 80], &Default::default());
                                    }
                                    _ => {
                                        h.set(f.as_bytes(), b"changed", &Default::default());
                                    }
                                }
                            }
                        }
                        5 if next(6) == 0 => s.swap_dbs(0, 1),
                        6 if next(12) == 0 => s.flush_db(db),
                        _ => {}
                    }
                }
                let (pieces, done) = s.snapshot_step(1 + next(700) as usize);
                for p in pieces {
                    match p {
                        Piece::Bytes(b) => out.extend_from_slice(&b),
                        Piece::Detached(d) => d.serialize(&mut out),
                    }
                }
                if done {
                    break;
                }
            }
            let mut got = replay_values(&out);
            // Hash fields come in any order; compare them as pairs sorted.
            let sort_pairs = |v: &mut Vec<Vec<u8>>| {
                let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = v
                    .chunks(2)
                    .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default()))
                    .collect();
                pairs.sort();
                *v = pairs.into_iter().flat_map(|(a, b)| [a, b]).collect();
            };
            for ((_, k), v) in got.iter_mut().chain(epoch.iter_mut()) {
                match &k[..] {
                    b"hash" | b"zset" => sort_pairs(v),
                    b"set" => v.sort(),
                    _ => {}
                }
            }
            assert_eq!(got.len(), epoch.len(), "seed {seed}");
            for (k, v) in &epoch {
                assert!(got.get(k) == Some(v), "seed {seed}: {k:?} differs");
            }
        }
    }
}
