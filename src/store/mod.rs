//! The keyspace: databases of owned keys to values, with expiry.
//!
//! Every mutation passes through [`Store::before_write`] (or the flush/swap
//! paths next to it): the single choke point where WATCH invalidation, the
//! transaction rollback journal, blocked-client wake-ups and the dirty
//! counter hang. Commands never reach into a `Db` map to change it directly.

pub mod buf;
pub mod bytes;
pub mod digest;
pub mod evict;
pub mod expire;
pub mod hash;
pub mod hasher;
pub mod hll;
pub mod index;
pub mod journal;
pub mod lazyfree;
pub mod list;
pub mod pack;
pub mod prealloc;
pub mod ready;
mod rehash;
pub mod scan;
pub mod set;
pub mod snapshot;
pub mod stream;
pub mod table;
pub mod watch;
pub mod zset;

use std::time::{SystemTime, UNIX_EPOCH};

pub use bytes::{Key, Sds, StrEnc};
pub use hasher::{KeyHashMap, KeyHashSet, KeyMap, KeySet, KeyState};
pub use table::{Table, TableEntry};

/// A database's key table: each key with its value (`table.rs`).
pub type KeyTable = Table<(Key, Value)>;
/// A database's expiry table: each volatile key with its unix-ms expiry.
pub type ExpireTable = Table<(Key, u64)>;

/// A hash value: listpack or hash table (src/store/hash.rs).
pub use hash::Hash;
/// A list value: packed while small, a deque beyond (src/store/list.rs).
pub use list::List;
/// A set value: intset or hash table (src/store/set.rs).
pub use set::Set;
/// A stream value (src/store/stream.rs).
pub use stream::Stream;
/// A sorted-set value: listpack or skiplist (src/store/zset.rs).
pub use zset::ZSet;

/// A stored value.
#[derive(Clone, Debug)]
pub enum Value {
    Str(Sds),
    /// Not boxed: a `List` is 16 bytes.
    List(List),
    /// Not boxed: a `Hash` is 16 bytes.
    Hash(Hash),
    /// Not boxed: a `Set` is 16 bytes.
    Set(Set),
    /// 16 bytes (a buffer, or a boxed skiplist).
    ZSet(ZSet),
    Stream(Box<Stream>),
}

// 24 bytes: the other variants (16 bytes each) sit beside the inline
// string's length byte, whose unused values hold the tag (`bytes.rs`,
// `buf.rs`). Every key slot pays this.
const _: () = assert!(std::mem::size_of::<Value>() == 24);
const _: () = assert!(std::mem::size_of::<Option<Value>>() == 24);

/// The value types, as TYPE names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    List,
    Hash,
    Set,
    ZSet,
    Stream,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::Stream => "stream",
        }
    }
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Str(_) => Kind::String,
            Value::List(_) => Kind::List,
            Value::Hash(_) => Kind::Hash,
            Value::Set(_) => Kind::Set,
            Value::ZSet(_) => Kind::ZSet,
            Value::Stream(_) => Kind::Stream,
        }
    }
}

/// A key held a value of another type than the command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// One database: keys to values, and keys to absolute expiry (unix ms).
/// Expiries live in their own map (like Redis's `db->expires`) so active
/// expiry samples only keys that have one.
#[derive(Default, Debug, Clone)]
pub struct Db {
    pub(crate) keys: KeyTable,
    pub(crate) expires: ExpireTable,
    /// Each key's access clock, index for index with `keys` (LRU seconds
    /// or LFU counter: `evict`). Kept beside the map, not in it, so a
    /// key costs 4 bytes more, not a padded 8.
    pub(crate) lru: Vec<u32>,
    /// Active expiry walks `expires` from high to low indices, like SCAN;
    /// this is how many indices of the current pass are still unvisited.
    pub(crate) expire_cursor: usize,
}

impl Db {
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }
    /// Read-only view of all keys (for SCAN/KEYS/digests; may include
    /// logically expired keys - callers filter with `is_expired`).
    pub fn keys(&self) -> &KeyTable {
        &self.keys
    }
    pub fn expires(&self) -> &ExpireTable {
        &self.expires
    }

    /// A key's access clock (DEBUG OBJECT), without touching it.
    pub fn clock(&self, key: &[u8]) -> Option<u32> {
        self.lru.get(self.keys.get_index_of(key)?).copied()
    }

    /// Adds a key that is not in the map, with its access clock.
    #[inline]
    pub(crate) fn insert_new(&mut self, key: Key, value: Value, clock: u32) {
        self.keys.insert_unique((key, value));
        self.lru.push(clock);
        debug_assert_eq!(self.keys.len(), self.lru.len());
    }

    /// Removes a key (not its expiry) and its access clock.
    #[inline]
    pub(crate) fn remove_entry(&mut self, key: &[u8]) -> Option<(Key, Value)> {
        let (i, k, v) = self.keys.swap_remove_full(key)?;
        self.lru.swap_remove(i);
        Some((k, v))
    }

    /// Removes the key at index `i` (not its expiry) and its access clock.
    #[inline]
    pub(crate) fn remove_index(&mut self, i: usize) -> Option<(Key, Value)> {
        let kv = self.keys.swap_remove_index(i)?;
        self.lru.swap_remove(i);
        Some(kv)
    }

    /// Bytes of the key map and the clocks (MEMORY STATS overhead).
    pub fn main_table_bytes(&self) -> usize {
        let lru = self.lru.capacity() * 4;
        self.keys.heap_bytes()
            + if lru == 0 {
                0
            } else {
                crate::memory::chunk_size(lru)
            }
    }

    /// Bytes of the expiry map.
    pub fn expires_table_bytes(&self) -> usize {
        self.expires.heap_bytes()
    }
}

/// Current wall clock in unix milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

thread_local! {
    /// xorshift64* state of `random_index` (the reactor is one thread).
    static RANDOM_STATE: std::cell::Cell<u64> = std::cell::Cell::new(seed_rng());
}

/// A pseudo-random index in `0..n` (HRANDFIELD, ZRANDMEMBER): xorshift64*,
/// not for anything that needs unpredictability. Needs no `&mut Store`, so
/// callers can hold a borrowed value while drawing.
pub fn random_index(n: usize) -> usize {
    RANDOM_STATE.with(|r| {
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
    })
}

/// A non-zero seed for the RANDOMKEY generator.
fn seed_rng() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let local = 0u8;
    let addr = &local as *const u8 as u64;
    (t ^ addr.rotate_left(32) ^ 0x9E37_79B9_7F4A_7C15) | 1
}

/// All databases plus the hooks run at the mutation choke point.
#[derive(Debug)]
pub struct Store {
    dbs: Vec<Db>,
    /// Command time in unix ms: fixed for one command (and a whole
    /// transaction) so a key cannot expire half-way through it.
    now: u64,
    /// Writes since start (INFO / auto-rewrite bookkeeping).
    pub dirty: u64,
    /// Keys removed by expiry, lazily or actively.
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Keys removed by maxmemory eviction (INFO evicted_keys).
    pub evicted_keys: u64,
    /// maxmemory settings and eviction state.
    pub evict: evict::Evict,
    /// DEBUG SET-ACTIVE-EXPIRE: when false the cron leaves expired keys to
    /// lazy expiry.
    pub active_expire_enabled: bool,
    /// CLIENT PAUSE: no key is deleted by expiry (active or lazy) meanwhile.
    pub expiry_paused: bool,
    /// Active expiry cycles that stopped because their time budget ran out.
    pub expired_time_cap_reached_count: u64,
    /// Next database the active expiry cycle looks at.
    expire_db_cursor: usize,
    /// State of the xorshift generator behind RANDOMKEY.
    rng: u64,
    /// Keys blocked clients wait on, and which of them were written.
    ready: ready::ReadyKeys,
    /// WATCHed keys and invalidated watchers.
    watches: watch::Watches,
    /// Undo records of the running transaction (EXEC with rollback).
    /// (Boxed: EXEC moves it in and out.)
    journal: Option<Box<journal::Journal>>,
    /// The last journal, kept for its allocations.
    spare_journal: Option<Box<journal::Journal>>,
    /// The AOF rewrite's point-in-time snapshot, while one runs.
    snapshot: Option<snapshot::Snapshot>,
    /// Executed writes on their way to the AOF.
    pub prop: crate::aof::propagate::Propagation,
    /// What the choke point saw, for keyspace notifications (recorded only
    /// while notifications are on; `crate::pubsub::notify`).
    pub notes: crate::pubsub::notify::Notes,
    /// Collections whose index migrates, for the cron (`rehash.rs`).
    rehashing: rehash::Rehashing,
}

impl Store {
    pub fn new(databases: usize) -> Store {
        Store {
            dbs: (0..databases.max(1)).map(|_| Db::default()).collect(),
            now: unix_ms(),
            dirty: 0,
            expired_keys: 0,
            keyspace_hits: 0,
            keyspace_misses: 0,
            evicted_keys: 0,
            evict: Default::default(),
            expiry_paused: false,
            active_expire_enabled: true,
            expired_time_cap_reached_count: 0,
            expire_db_cursor: 0,
            rng: seed_rng(),
            ready: Default::default(),
            watches: Default::default(),
            journal: None,
            spare_journal: None,
            snapshot: None,
            prop: Default::default(),
            notes: Default::default(),
            rehashing: Default::default(),
        }
    }

    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    pub fn db(&self, db: usize) -> &Db {
        &self.dbs[db]
    }

    /// Refreshes the command clock; the reactor calls it before each command.
    #[inline]
    pub fn set_now(&mut self, ms: u64) {
        self.now = ms;
    }

    #[inline]
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The choke point: called before any change to `key` in `db`.
    #[inline]
    fn before_write(&mut self, db: usize, key: &[u8]) {
        self.before_write_hooks(db, key);
        self.journal_key(db, key);
    }

    /// The choke point minus the rollback journal (which the caller takes
    /// care of: a copy of the prior value, or inverse ops).
    #[inline]
    fn before_write_hooks(&mut self, db: usize, key: &[u8]) {
        if self.notes.on {
            let present = self.dbs[db].keys.contains_key(key);
            let expired = present && self.is_expired(db, key);
            if expired {
                // Overwritten while logically expired (SET): Redis's
                // lookup expires it first, and announces it.
                self.notes.expired(db, key);
            }
            self.notes.write(db, key, present && !expired);
        }
        self.dirty += 1;
        self.ready.on_write(db, key);
        self.snapshot_before_write(db, key);
        // While a transaction records, other clients' watches are
        // invalidated only if EXEC commits.
        if self.journal.is_none() {
            self.watches.touch(db, key);
        } else if self.journal_has_quiet() {
            self.journal_signal(db, key);
        }
    }

    /// True if `key` has an expiry at or before the command time (the key
    /// is logically gone even if it is still in the map).
    #[inline]
    pub fn is_expired(&self, db: usize, key: &[u8]) -> bool {
        let d = &self.dbs[db];
        if d.expires.is_empty() {
            return false;
        }
        matches!(d.expires.get(key), Some(&at) if at <= self.now)
    }

    /// Removes `key` if it is logically expired. Returns true if removed.
    #[inline]
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        if !self.is_expired(db, key) {
            return false;
        }
        match self.dbs[db].keys.get_index_of(key) {
            Some(i) => {
                self.before_write_hooks(db, key);
                self.remove_moving(db, key, i);
            }
            None => {
                self.dbs[db].expires.swap_remove(key);
            }
        }
        self.expired_keys += 1;
        self.prop.del(db, key);
        if self.notes.on {
            self.notes.expired(db, key);
        }
        true
    }

    /// Lazy expiry for a read: true if the key is logically expired. It is
    /// removed, unless CLIENT PAUSE has paused expiry (then it only looks
    /// missing, as in Redis).
    #[inline]
    pub fn expired_for_read(&mut self, db: usize, key: &[u8]) -> bool {
        if self.expiry_paused {
            self.is_expired(db, key)
        } else {
            self.expire_if_needed(db, key)
        }
    }

    /// Looks a key up for reading (lazy expiry applies).
    #[inline]
    pub fn get(&mut self, db: usize, key: &[u8]) -> Option<&Value> {
        if self.expired_for_read(db, key) {
            return None;
        }
        let i = self.dbs[db].keys.get_index_of(key)?;
        self.touch_index(db, i);
        self.dbs[db].keys.get_index(i).map(|(_, v)| v)
    }

    /// Looks a key up for reading and counts a keyspace hit or miss.
    #[inline]
    pub fn lookup_read(&mut self, db: usize, key: &[u8]) -> Option<&Value> {
        let found = if self.expired_for_read(db, key) {
            None
        } else {
            self.dbs[db].keys.get_index_of(key)
        };
        if let Some(i) = found {
            self.touch_index(db, i);
        }
        let v = found.and_then(|i| self.dbs[db].keys.get_index(i).map(|(_, v)| v));
        if v.is_some() {
            self.keyspace_hits += 1;
        } else {
            self.keyspace_misses += 1;
            if self.notes.misses {
                self.notes.miss(db, key);
            }
        }
        v
    }

    /// Existence check (lazy expiry applies).
    #[inline]
    pub fn contains(&mut self, db: usize, key: &[u8]) -> bool {
        !self.expired_for_read(db, key) && self.dbs[db].keys.contains_key(key)
    }

    /// Mutable access to an existing key of kind `kind` with intent to
    /// change it: runs the choke point only when the type matches.
    #[inline]
    pub fn get_mut(
        &mut self,
        db: usize,
        key: &[u8],
        kind: Kind,
    ) -> Result<Option<&mut Value>, WrongType> {
        self.expire_if_needed(db, key);
        let i = match self.dbs[db].keys.get_full(key) {
            None => return Ok(None),
            Some((_, _, v)) if v.kind() != kind => return Err(WrongType),
            Some((i, _, _)) => i,
        };
        self.touch_index(db, i);
        self.before_write(db, key);
        // The hooks only read the maps: `i` still names the key, and a
        // second lookup would hash it again.
        Ok(self.dbs[db].keys.get_index_mut(i).map(|(_, v)| v))
    }

    /// Marks the string under `key` raw without writing it: Redis's
    /// dbUnshareStringValue before a change that turns out to change
    /// nothing (SETBIT of a bit already set, PFADD adding nothing, a PFCOUNT
    /// answered from the cache) still leaves OBJECT ENCODING `raw`.
    pub fn mark_raw(&mut self, db: usize, key: &[u8]) {
        self.mark_str(db, key, StrEnc::Raw);
    }

    /// Gives the string under `key` (if it is one) mark `m`: how Redis
    /// holds it, not its bytes, so no write: no hooks, nothing propagated;
    /// a recording transaction keeps the old mark for a rollback.
    pub fn mark_str(&mut self, db: usize, key: &[u8], m: StrEnc) {
        let Some(Value::Str(s)) = self.dbs[db].keys.get_mut(key) else {
            return;
        };
        let old = s.enc();
        s.mark(m);
        if s.enc() != old && self.journal.is_some() {
            self.journal_mark(db, key, old);
        }
    }

    /// Opens `key` for a change Redis makes without signalling it (BITFIELD
    /// whose field writes all failed still pads the string: its
    /// lookupStringForBitCommand): not a write - not counted dirty (so
    /// nothing propagated), no WATCH, tracking or event - but the journal
    /// records the key and a running rewrite's snapshot sees the change.
    pub fn get_mut_unsignalled(&mut self, db: usize, key: &[u8]) -> Option<&mut Value> {
        self.expire_if_needed(db, key);
        let i = self.dbs[db].keys.get_index_of(key)?;
        self.touch_index(db, i);
        self.snapshot_before_write(db, key);
        self.journal_quiet(db, key);
        self.journal_key(db, key);
        self.dbs[db].keys.get_index_mut(i).map(|(_, v)| v)
    }

    /// Adds the missing `key` as [`Store::get_mut_unsignalled`] changes
    /// one: only announced as `new` (Redis's dbAdd), no other signal.
    pub fn add_unsignalled(&mut self, db: usize, key: &[u8], value: Value) {
        if self.notes.on {
            self.notes.list.push(crate::pubsub::notify::Note::Added {
                db,
                key: Key::new(key),
            });
        }
        self.ready.on_write(db, key);
        self.snapshot_before_write(db, key);
        self.journal_quiet(db, key);
        // `put` journals the key as new.
        self.put(db, key, value);
    }

    /// Sets `key` to `value`, clearing any expiry (Redis's `setKey`).
    pub fn set(&mut self, db: usize, key: &[u8], value: Value) {
        self.set_with_expiry(db, key, value, None);
    }

    /// Sets `key` to `value` with an absolute expiry (None = persistent).
    pub fn set_with_expiry(&mut self, db: usize, key: &[u8], value: Value, expire: Option<u64>) {
        // `put` journals (moving the replaced value, no copy).
        self.before_write_hooks(db, key);
        self.put(db, key, value);
        let d = &mut self.dbs[db];
        match expire {
            Some(at) => {
                d.expires.insert(Key::new(key), at);
            }
            None => {
                if !d.expires.is_empty() {
                    d.expires.swap_remove(key);
                }
            }
        }
    }

    /// Replaces the value of `key`, keeping its expiry (SET KEEPTTL and
    /// in-place updates such as INCR).
    pub fn set_keep_ttl(&mut self, db: usize, key: &[u8], value: Value) {
        self.expire_if_needed(db, key);
        self.before_write_hooks(db, key);
        self.put(db, key, value);
    }

    /// Read-modify-write of `key` keeping its expiry (INCR and friends),
    /// with one hash lookup: `f` sees the live value (None if missing) and
    /// returns the new one, or an error that leaves everything unchanged
    /// (a found key still counts as accessed, as Redis's lookupKeyWrite).
    /// The choke point and the journal run as for `set_keep_ttl`.
    #[inline]
    pub fn update_keep_ttl<E>(
        &mut self,
        db: usize,
        key: &[u8],
        f: impl FnOnce(Option<&Value>) -> Result<Value, E>,
    ) -> Result<(), E> {
        self.expire_if_needed(db, key);
        let Some(i) = self.dbs[db].keys.get_index_of(key) else {
            let value = f(None)?;
            self.before_write_hooks(db, key);
            self.put(db, key, value);
            return Ok(());
        };
        self.touch_index(db, i);
        let value = f(self.dbs[db].keys.get_index(i).map(|(_, v)| v))?;
        self.before_write_hooks(db, key);
        let journal = self.journal_pending(db, key);
        // The hooks only read the maps: `i` still names the key.
        let Some((_, slot)) = self.dbs[db].keys.get_index_mut(i) else {
            return Ok(());
        };
        let old = std::mem::replace(slot, value);
        self.drop_replaced(db, key, journal, old);
        Ok(())
    }

    /// A value just replaced under `key`: the journal's record of the key
    /// (with its expiry) when `journal_pending` asked for one, else freed.
    #[inline(always)]
    fn drop_replaced(&mut self, db: usize, key: &[u8], journal: Option<u64>, old: Value) {
        match journal {
            Some(fp) => {
                let e = &self.dbs[db].expires;
                let expiry = if e.is_empty() {
                    None
                } else {
                    e.get(key).copied()
                };
                self.journal_prior(db, key, fp, Some((old, expiry)));
            }
            None => lazyfree::drop_value(old),
        }
    }

    /// Stores `value` under `key`: an overwrite counts as an access of
    /// the key, a new key gets a fresh clock. With a transaction recording,
    /// the replaced value becomes the journal's record of `key` (callers
    /// skip `journal_key`).
    #[inline]
    fn put(&mut self, db: usize, key: &[u8], value: Value) {
        let journal = self.journal_pending(db, key);
        match self.dbs[db].keys.get_full_mut(key) {
            Some((i, _, slot)) => {
                let old = std::mem::replace(slot, value);
                self.drop_replaced(db, key, journal, old);
                self.touch_index(db, i);
            }
            None => {
                // A full key table whose deleted slots (hashbrown
                // tombstones left by removals under churn) fill it rebuilds
                // its index in place rather than double at the next insert
                // (under maxmemory 20mb with ~100k keys, eviction churn
                // doubled it: +1.2 MB, 10% fewer keys held, bench.sh
                // ZIPF=1). Nothing moves: `lru`, SCAN and snapshot cursors
                // stay valid.
                if self.dbs[db].keys.len() == self.dbs[db].keys.capacity() {
                    self.dbs[db].keys.purge_tombstones();
                }
                let d = &self.dbs[db];
                if self.evict.maxmemory != 0 && d.keys.len() == d.keys.capacity() {
                    self.make_room(db);
                }
                let clock = self.new_clock();
                self.dbs[db].insert_new(Key::new(key), value, clock);
                // Creating a key is not an access: the command's own later
                // lookups of it (set, then get_mut) leave the fresh clock
                // alone, as Redis's dbAdd does.
                self.evict.last_touch = Some((db, self.dbs[db].keys.len() - 1));
                if let Some(fp) = journal {
                    self.journal_prior(db, key, fp, None);
                }
            }
        }
    }

    /// Removes `key`; returns its value if it existed (and was not expired).
    /// A recording transaction copies the value first (RENAME and MOVE
    /// hand it on): a caller that only drops it uses [`Store::delete`].
    pub fn remove(&mut self, db: usize, key: &[u8]) -> Option<Value> {
        if self.expire_if_needed(db, key) {
            return None;
        }
        let i = self.dbs[db].keys.get_index_of(key)?;
        self.before_write(db, key);
        let d = &mut self.dbs[db];
        if !d.expires.is_empty() {
            d.expires.swap_remove(key);
        }
        // The hooks only read the maps: `i` is still the key's index.
        d.remove_index(i).map(|(_, v)| v)
    }

    /// Deletes `key` (DEL, and commands that drop an emptied or replaced
    /// key); true if it existed (and was not expired). Unlike
    /// [`Store::remove`] the value is not handed back, so a recording
    /// transaction takes it as the key's prior state without a copy:
    /// `MULTI; DEL big; EXEC` (or emptying a big container) costs O(1).
    pub fn delete(&mut self, db: usize, key: &[u8]) -> bool {
        if self.expire_if_needed(db, key) {
            return false;
        }
        let Some(i) = self.dbs[db].keys.get_index_of(key) else {
            return false;
        };
        self.before_write_hooks(db, key);
        self.remove_moving(db, key, i);
        true
    }

    /// Removes the key at index `i` of `db` (and its expiry) after the
    /// choke point's hooks ran: the value becomes the journal's record of
    /// the key when a transaction wants one (moved, not copied), else it
    /// is freed (big values off the reactor).
    fn remove_moving(&mut self, db: usize, key: &[u8], i: usize) {
        let journal = self.journal_pending(db, key);
        let d = &mut self.dbs[db];
        let expiry = if d.expires.is_empty() {
            None
        } else {
            d.expires.swap_remove(key)
        };
        // The hooks only read the maps: `i` is still the key's index.
        let Some((_, v)) = d.remove_index(i) else {
            return;
        };
        match journal {
            Some(fp) => self.journal_prior(db, key, fp, Some((v, expiry))),
            None => lazyfree::drop_value(v),
        }
    }

    /// The absolute expiry of a live key, if any.
    pub fn expiry(&mut self, db: usize, key: &[u8]) -> Option<u64> {
        if self.expired_for_read(db, key) {
            return None;
        }
        self.dbs[db].expires.get(key).copied()
    }

    /// Sets (Some) or clears (None) the expiry of an existing key. Returns
    /// false if the key does not exist. An expiry in the past deletes the key.
    pub fn set_expiry(&mut self, db: usize, key: &[u8], at: Option<u64>) -> bool {
        if !self.contains(db, key) {
            return false;
        }
        if let Some(at) = at
            && at <= self.now
        {
            self.delete(db, key);
            return true;
        }
        self.before_write(db, key);
        let d = &mut self.dbs[db];
        match at {
            Some(at) => {
                d.expires.insert(Key::new(key), at);
            }
            None => {
                d.expires.swap_remove(key);
            }
        }
        true
    }

    /// Empties one database; its old contents are freed off the reactor.
    pub fn flush_db(&mut self, db: usize) {
        let old = self.take_db(db);
        if !old.is_empty() {
            lazyfree::free(old);
        }
    }

    /// Empties one database and hands back its old contents (FLUSHDB ASYNC
    /// frees them on another thread). The flush path: `flush_db` and
    /// `flush_all` go through here.
    pub fn take_db(&mut self, db: usize) -> Db {
        self.dirty += self.dbs[db].len() as u64;
        if self.notes.on {
            self.notes.list.push(crate::pubsub::notify::Note::Flush);
        }
        let journaling = self.journal.is_some();
        if journaling {
            // The journal keeps the old database for undo: a running
            // rewrite cannot have it, so it serializes the rest now.
            self.snapshot_finish_db(db);
        }
        let old = std::mem::take(&mut self.dbs[db]);
        if !self.watches.is_empty() {
            let ids = self
                .watches
                .watchers_in_db(db, |k| old.keys.contains_key(k));
            self.invalidate_watchers(ids);
        }
        if journaling {
            return self.journal_db(db, old).unwrap_or_default();
        }
        // A running rewrite takes what it has not written yet (O(1) here).
        self.snapshot_detach(db, old).unwrap_or_default()
    }

    /// Empties every database.
    pub fn flush_all(&mut self) {
        for i in 0..self.dbs.len() {
            self.flush_db(i);
        }
    }

    /// Swaps two databases (SWAPDB).
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        self.dirty += 1;
        if !self.watches.is_empty() {
            let (da, db_) = (&self.dbs[a], &self.dbs[b]);
            let exists = |k: &[u8]| da.keys.contains_key(k) || db_.keys.contains_key(k);
            let mut ids = self.watches.watchers_in_db(a, exists);
            ids.extend(self.watches.watchers_in_db(b, exists));
            self.invalidate_watchers(ids);
        }
        self.journal_swap(a, b);
        self.snapshot_swap(a, b);
        self.dbs.swap(a, b);
        self.ready.on_db_change(a);
        self.ready.on_db_change(b);
    }

    /// A pseudo-random number (xorshift64*) for RANDOMKEY; not for anything
    /// that needs unpredictability.
    pub fn random_u64(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A random live key of `db` (RANDOMKEY). Expired keys drawn on the way
    /// are deleted, so the loop ends: every miss shrinks the map.
    pub fn random_key(&mut self, db: usize) -> Option<Key> {
        let mut tries = 100;
        loop {
            let len = self.dbs[db].keys.len();
            if len == 0 {
                return None;
            }
            let i = (self.random_u64() % len as u64) as usize;
            let key = self.dbs[db].keys.get_index(i)?.0.clone();
            // While expiry is paused expired keys stay: if every key has a
            // TTL they may all be expired, so after some tries return one
            // anyway instead of looping forever (Redis's dbRandomKey).
            let all_volatile = self.dbs[db].expires.len() == len;
            if self.expiry_paused && all_volatile {
                tries -= 1;
                if tries == 0 {
                    return Some(key);
                }
            }
            if !self.expired_for_read(db, &key) {
                return Some(key);
            }
        }
    }

    /// RENAME / RENAMENX: moves the value of `src` to `dst` with its expiry,
    /// replacing `dst` unless `nx`. None if `src` does not exist, Some(false)
    /// if nothing was done (`nx` and `dst` exists, or `src == dst` with `nx`).
    pub fn rename(&mut self, db: usize, src: &[u8], dst: &[u8], nx: bool) -> Option<bool> {
        if !self.contains(db, src) {
            return None;
        }
        if src == dst {
            return Some(!nx);
        }
        if nx && self.contains(db, dst) {
            return Some(false);
        }
        let expire = self.expiry(db, src);
        let value = self.remove(db, src)?;
        self.set_with_expiry(db, dst, value, expire);
        Some(true)
    }

    /// COPY: duplicates `src` of `db` as `dst` of `dst_db`, expiry included.
    /// False if `src` is missing, or `dst` exists and not `replace`.
    pub fn copy(
        &mut self,
        db: usize,
        src: &[u8],
        dst_db: usize,
        dst: &[u8],
        replace: bool,
    ) -> bool {
        if !self.contains(db, src) {
            return false;
        }
        let expire = self.expiry(db, src);
        if self.contains(dst_db, dst) && !replace {
            return false;
        }
        let Some(value) = self.dbs[db].keys.get(src).cloned() else {
            return false;
        };
        self.set_with_expiry(dst_db, dst, value, expire);
        true
    }

    /// MOVE: transfers `key` with its expiry from `db` to `dst_db` unless it
    /// is missing there or already exists in the target.
    pub fn move_key(&mut self, db: usize, key: &[u8], dst_db: usize) -> bool {
        if !self.contains(db, key) {
            return false;
        }
        let expire = self.expiry(db, key);
        if self.contains(dst_db, key) {
            return false;
        }
        let Some(value) = self.remove(db, key) else {
            return false;
        };
        self.set_with_expiry(dst_db, key, value, expire);
        true
    }

    /// Total keys over all databases.
    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|d| d.len()).sum()
    }
}

/// The next number of a xorshift64 sequence: the random operations of the
/// store's unit tests (deterministic, no dependency).
#[cfg(test)]
pub(crate) fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cron finishes a migration that writes stopped feeding, and
    /// every key and TTL is still found.
    #[test]
    fn rehash_cycle_finishes_idle_migrations() {
        let mut s = Store::new(1);
        s.set_now(1000);
        let mut n = 0u32;
        while !s.db(0).keys.is_migrating() {
            assert!(n < 100_000, "no migration started");
            let exp = n.is_multiple_of(2).then_some(1_000_000);
            s.set_with_expiry(
                0,
                format!("k{n}").as_bytes(),
                Value::Str(Sds::new(b"v")),
                exp,
            );
            n += 1;
        }
        s.rehash_cycle(std::time::Duration::from_secs(10));
        assert!(!s.db(0).keys.is_migrating() && !s.db(0).expires.is_migrating());
        for i in 0..n {
            assert!(s.get(0, format!("k{i}").as_bytes()).is_some(), "k{i}");
        }
        assert_eq!(s.db(0).expires_len(), n.div_ceil(2) as usize);
    }

    #[test]
    fn lazy_expiry_removes_on_read() {
        let mut s = Store::new(2);
        s.set_now(1000);
        s.set_with_expiry(0, b"k", Value::Str(Sds::new(b"v")), Some(1500));
        assert!(s.get(0, b"k").is_some());
        s.set_now(1500);
        assert!(s.get(0, b"k").is_none());
        assert_eq!(s.db(0).len(), 0);
        assert_eq!(s.db(0).expires_len(), 0);
        assert_eq!(s.expired_keys, 1);
    }

    #[test]
    fn get_mut_checks_type() {
        let mut s = Store::new(1);
        s.set(0, b"k", Value::Str(Sds::new(b"v")));
        assert!(s.get_mut(0, b"k", Kind::List).is_err());
        assert!(matches!(s.get_mut(0, b"k", Kind::String), Ok(Some(_))));
        assert!(matches!(s.get_mut(0, b"x", Kind::String), Ok(None)));
    }

    #[test]
    fn past_expiry_deletes() {
        let mut s = Store::new(1);
        s.set_now(10_000);
        s.set(0, b"k", Value::Str(Sds::new(b"v")));
        assert!(s.set_expiry(0, b"k", Some(5)));
        assert!(!s.contains(0, b"k"));
    }
}
