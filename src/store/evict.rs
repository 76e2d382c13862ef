//! maxmemory: each key's access clock and eviction, as Redis approximates
//! them (evict.c).
//!
//! Every key carries a 24-bit clock like Redis's `robj->lru`, kept in
//! `Db::lru` beside the key map (index for index, 4 bytes a key): under an
//! LRU policy the last access in seconds, under an LFU policy 16 bits of
//! minutes (last decrement) and an 8-bit logarithmic counter. Lookups touch
//! it unless the command or client says not to (`Evict::no_touch`).
//! Eviction samples `maxmemory-samples` keys per database into a pool of
//! the 16 best candidates and evicts the best, until the counted memory is
//! under `maxmemory` or the time budget of `maxmemory-eviction-tenacity`
//! runs out; the cron then continues.

use std::time::{Duration, Instant};

use super::{Key, Store, lazyfree};

pub const EVPOOL_SIZE: usize = 16;
/// Initial LFU counter of a new key (LFU_INIT_VAL).
pub const LFU_INIT_VAL: u32 = 5;
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// The eight `maxmemory-policy` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

impl Policy {
    pub fn from_name(s: &str) -> Option<Policy> {
        Some(match s {
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            "allkeys-lru" => Policy::AllkeysLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            "noeviction" => Policy::NoEviction,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
            Policy::AllkeysLru => "allkeys-lru",
            Policy::AllkeysLfu => "allkeys-lfu",
            Policy::AllkeysRandom => "allkeys-random",
            Policy::NoEviction => "noeviction",
        }
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::VolatileLfu | Policy::AllkeysLfu)
    }

    fn allkeys(self) -> bool {
        matches!(
            self,
            Policy::AllkeysLru | Policy::AllkeysLfu | Policy::AllkeysRandom
        )
    }

    fn random(self) -> bool {
        matches!(self, Policy::AllkeysRandom | Policy::VolatileRandom)
    }
}

/// One eviction pool slot: a candidate and its score (higher = better).
#[derive(Debug, Clone)]
struct Candidate {
    idle: u64,
    db: usize,
    key: Key,
}

/// The eviction settings and state (`Store::evict`).
#[derive(Debug)]
pub struct Evict {
    pub maxmemory: u64,
    pub policy: Policy,
    pub samples: usize,
    pub tenacity: u32,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    pub lazy: bool,
    /// `policy.is_lfu()`, read on every lookup.
    pub lfu: bool,
    /// Set for the running command: lookups leave the clock alone (TYPE,
    /// TTL, EXISTS, OBJECT; CLIENT NO-TOUCH clients).
    pub no_touch: bool,
    /// The key the running command touched last: a command that looks a
    /// key up twice (read, then write) counts one access, as Redis's one
    /// lookupKeyWrite does. Cleared per command.
    pub last_touch: Option<(usize, usize)>,
    /// A cycle stopped at its time limit with memory still above the
    /// limit: the cron goes on (Redis's evictionTimeProc).
    pub running: bool,
    /// Clients closed by `maxmemory-clients` (INFO evicted_clients).
    pub evicted_clients: u64,
    /// Memory stayed above maxmemory after the running client command's
    /// eviction (Redis's pre_command_oom_state): scripts check it.
    pub oom_before_command: bool,
    pool: Vec<Candidate>,
    next_db: usize,
}

impl Default for Evict {
    fn default() -> Self {
        Evict {
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
            tenacity: 10,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            lazy: false,
            lfu: false,
            no_touch: false,
            last_touch: None,
            running: false,
            evicted_clients: 0,
            oom_before_command: false,
            pool: Vec::with_capacity(EVPOOL_SIZE),
            next_db: 0,
        }
    }
}

/// What an eviction cycle achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Under the limit (or no limit).
    Ok,
    /// Out of time with memory still above the limit; the cron continues.
    Running,
    /// Above the limit and nothing (more) can be evicted.
    Fail,
}

/// Redis's LRU clock (seconds, 24 bits) at unix time `ms`.
#[inline]
pub fn lru_clock(ms: u64) -> u32 {
    ((ms / 1000) as u32) & LRU_CLOCK_MAX
}

/// Milliseconds since `lru` was last set (estimateObjectIdleTime).
pub fn idle_ms(lru: u32, now_ms: u64) -> u64 {
    let clock = lru_clock(now_ms);
    let lru = lru & LRU_CLOCK_MAX;
    if clock >= lru {
        (clock - lru) as u64 * 1000
    } else {
        (clock as u64 + (LRU_CLOCK_MAX - lru) as u64) * 1000
    }
}

/// LFUGetTimeInMinutes.
#[inline]
fn lfu_minutes(ms: u64) -> u32 {
    ((ms / 60_000) & 0xFFFF) as u32
}

/// The counter after decay (LFUDecrAndReturn): one per `decay_time`
/// minutes since the last decrement.
pub fn lfu_decr(lru: u32, now_ms: u64, decay_time: u32) -> u32 {
    let ldt = lru >> 8;
    let counter = lru & 255;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = elapsed.checked_div(decay_time).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// LFULogIncr: the higher the counter, the less likely an increment.
fn lfu_log_incr(counter: u32, log_factor: u32, r: f64) -> u32 {
    if counter == 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if r < p { counter + 1 } else { counter }
}

/// Redis's eviction time budget per cycle (evictionTimeLimitUs).
pub fn time_limit(tenacity: u32) -> Option<Duration> {
    if tenacity <= 10 {
        Some(Duration::from_micros(50 * tenacity as u64))
    } else if tenacity < 100 {
        Some(Duration::from_micros(
            (500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64,
        ))
    } else {
        None
    }
}

impl Store {
    /// The clock a new key starts with.
    #[inline]
    pub(crate) fn new_clock(&self) -> u32 {
        if self.evict.lfu {
            (lfu_minutes(self.now) << 8) | LFU_INIT_VAL
        } else {
            lru_clock(self.now)
        }
    }

    /// A lookup of the key at `idx` of `db` (Redis's lookupKey touch).
    #[inline]
    pub(crate) fn touch_index(&mut self, db: usize, idx: usize) {
        if self.evict.last_touch == Some((db, idx)) {
            return;
        }
        // Recorded for a CLIENT NO-TOUCH client too: the cron's note of a
        // migrating collection (store/rehash.rs) reads it.
        self.evict.last_touch = Some((db, idx));
        if self.evict.no_touch {
            return;
        }
        let clock = if self.evict.lfu {
            let Some(&old) = self.dbs[db].lru.get(idx) else {
                return;
            };
            let e = &self.evict;
            let counter = lfu_decr(old, self.now, e.lfu_decay_time);
            let r = (self.random_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let counter = lfu_log_incr(counter, self.evict.lfu_log_factor, r);
            (lfu_minutes(self.now) << 8) | counter
        } else {
            lru_clock(self.now)
        };
        if let Some(slot) = self.dbs[db].lru.get_mut(idx) {
            *slot = clock;
        }
    }

    /// The stored clock of a live key (OBJECT IDLETIME / FREQ): never
    /// touches.
    pub fn clock_of(&mut self, db: usize, key: &[u8]) -> Option<u32> {
        if self.expired_for_read(db, key) {
            return None;
        }
        let d = &self.dbs[db];
        d.keys.get_index_of(key).and_then(|i| d.lru.get(i).copied())
    }

    /// RESTORE's IDLETIME / FREQ and an RDB's IDLE / FREQ records
    /// (objectSetLRUOrLFU): FREQ under an LFU policy, IDLETIME (seconds)
    /// otherwise; the other hint is ignored, as Redis does.
    pub fn set_clock_hint(
        &mut self,
        db: usize,
        key: &[u8],
        idle_secs: Option<i64>,
        freq: Option<i64>,
    ) {
        let clock = if self.evict.lfu {
            match freq {
                Some(f) => (lfu_minutes(self.now) << 8) | (f.clamp(0, 255) as u32),
                None => return,
            }
        } else {
            match idle_secs {
                Some(idle) if idle >= 0 => {
                    let now = i64::from(lru_clock(self.now));
                    let abs = now - idle;
                    if abs < 0 {
                        // A wrapped clock: as idle as it can look.
                        ((now + i64::from(LRU_CLOCK_MAX) / 2) % i64::from(LRU_CLOCK_MAX)) as u32
                    } else {
                        abs as u32
                    }
                }
                _ => return,
            }
        };
        let d = &mut self.dbs[db];
        if let Some(slot) = d.keys.get_index_of(key).and_then(|i| d.lru.get_mut(i)) {
            *slot = clock;
        }
    }

    /// Used memory is above maxmemory: evict by policy until it is not,
    /// within the tenacity time budget (performEvictions).
    pub fn perform_evictions(&mut self) -> Outcome {
        let max = self.evict.maxmemory;
        let mut used = crate::memory::used_memory() as u64;
        // Index tables prepared ahead of a doubling (store/prealloc.rs)
        // go first: no key is evicted to keep them.
        if max != 0 && used > max && super::prealloc::release_all() > 0 {
            used = crate::memory::used_memory() as u64;
        }
        if max == 0 || used <= max {
            self.evict.running = false;
            return Outcome::Ok;
        }
        if self.evict.policy == Policy::NoEviction {
            return Outcome::Fail;
        }
        self.set_now(super::unix_ms());
        let to_free = (used - max) as i64;
        let limit = time_limit(self.evict.tenacity);
        let start = Instant::now();
        let mut freed: i64 = 0;
        let mut keys_freed = 0u64;
        while freed < to_free {
            let picked = if self.evict.policy.random() {
                self.pick_random()
            } else {
                self.pick_from_pool()
            };
            let Some((db, key)) = picked else {
                self.evict.running = false;
                return Outcome::Fail;
            };
            freed += self.evict_key(db, &key);
            keys_freed += 1;
            if keys_freed.is_multiple_of(16) {
                if crate::memory::used_memory() as u64 <= max {
                    break;
                }
                if limit.is_some_and(|l| start.elapsed() > l) {
                    self.evict.running = true;
                    return Outcome::Running;
                }
            }
        }
        self.evict.running = false;
        Outcome::Ok
    }

    /// Removes `key` as eviction does: DEL to the AOF, the choke point
    /// (WATCH, journal, snapshot), an `evicted` event; big values are
    /// freed off the reactor. Returns the bytes it freed.
    fn evict_key(&mut self, db: usize, key: &[u8]) -> i64 {
        let before = crate::memory::used_memory() as i64;
        self.prop.del(db, key);
        self.before_write(db, key);
        let d = &mut self.dbs[db];
        if !d.expires.is_empty() {
            d.expires.swap_remove(key);
        }
        let mut handed_off = 0;
        if let Some((k, v)) = d.remove_entry(key)
            && lazyfree::free_effort(&v) > lazyfree::LAZYFREE_THRESHOLD
        {
            // Freed by the background thread: count what it will free.
            handed_off = crate::memory::usage::entry_bytes(&k, &v, 5) as i64;
            lazyfree::free(v);
        }
        self.evicted_keys += 1;
        if self.notes.on {
            self.notes.evicted(db, key);
        }
        before - crate::memory::used_memory() as i64 + handed_off
    }

    /// A new key is about to be added to a full key table of `db`: rather
    /// than doubling the table past maxmemory (one allocation of tens of
    /// MB for a big keyspace), evict keys of `db` by the policy so the new
    /// one takes a slot - as Redis 7.0 refuses a dict expansion that would
    /// cross maxmemory. An evicted key's slot may stay marked deleted (it
    /// still counts against the table's growth), so a batch of 1/128 of the
    /// table goes at once, and if no slot came free the index is rebuilt:
    /// at most one O(n) rebuild per n/128 inserts, not one per insert.
    pub(crate) fn make_room(&mut self, db: usize) {
        let policy = self.evict.policy;
        if policy == Policy::NoEviction {
            return;
        }
        let cap = self.dbs[db].keys.capacity();
        // Per slot: the entry, its clock, and the index's u32 + control byte.
        let slot = std::mem::size_of::<Key>() + std::mem::size_of::<super::Value>();
        let growth = (cap * (slot + 4 + 5)) as u64;
        let fits =
            || (crate::memory::used_memory() as u64).saturating_add(growth) <= self.evict.maxmemory;
        // Tables prepared for coming doublings (store/prealloc.rs) count
        // in used_memory: they go before any key does.
        if fits() || (super::prealloc::release_all() > 0 && fits()) {
            return;
        }
        for _ in 0..(cap / 128).max(1) {
            if !self.evict_for_room(db) {
                break;
            }
        }
        // Most erased slots become free again; only when none did is the
        // index rebuilt.
        let d = &mut self.dbs[db];
        if d.keys.len() >= d.keys.capacity() {
            d.keys.rebuild_index();
        }
    }

    /// Evicts the policy's best of `maxmemory-samples` keys of `db`; false
    /// if there was none to evict.
    fn evict_for_room(&mut self, db: usize) -> bool {
        let policy = self.evict.policy;
        let allkeys = policy.allkeys();
        let d = &self.dbs[db];
        let len = if allkeys {
            d.keys.len()
        } else {
            d.expires.len()
        };
        if len == 0 {
            return false;
        }
        // The best of `maxmemory-samples` keys of this database.
        let mut best: Option<(u64, usize)> = None;
        for _ in 0..self.evict.samples.max(1) {
            let i = (self.random_u64() % len as u64) as usize;
            let d = &self.dbs[db];
            let (lru, at) = if allkeys {
                (d.lru.get(i).copied().unwrap_or(0), 0)
            } else {
                let Some(&(ref k, at)) = d.expires.get_index(i) else {
                    continue;
                };
                let j = d.keys.get_index_of(k);
                (j.and_then(|j| d.lru.get(j).copied()).unwrap_or(0), at)
            };
            let s = if policy.random() {
                0
            } else {
                score(policy, lru, at, self.now, self.evict.lfu_decay_time)
            };
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, i));
            }
        }
        let Some((_, i)) = best else { return false };
        let d = &self.dbs[db];
        let key = if allkeys {
            d.keys.get_index(i).map(|(k, _)| k.clone())
        } else {
            d.expires.get_index(i).map(|(k, _)| k.clone())
        };
        match key {
            Some(k) => {
                self.evict_key(db, &k);
                true
            }
            None => false,
        }
    }

    /// allkeys-random / volatile-random: one random key, databases in turn.
    fn pick_random(&mut self) -> Option<(usize, Key)> {
        let n = self.dbs.len();
        let allkeys = self.evict.policy.allkeys();
        for _ in 0..n {
            self.evict.next_db = (self.evict.next_db + 1) % n;
            let j = self.evict.next_db;
            let len = if allkeys {
                self.dbs[j].keys.len()
            } else {
                self.dbs[j].expires.len()
            };
            if len == 0 {
                continue;
            }
            let i = (self.random_u64() % len as u64) as usize;
            let d = &self.dbs[j];
            let key = if allkeys {
                d.keys.get_index(i).map(|(k, _)| k.clone())
            } else {
                d.expires.get_index(i).map(|(k, _)| k.clone())
            };
            if let Some(k) = key {
                return Some((j, k));
            }
        }
        None
    }

    /// LRU / LFU / TTL: refill the pool from every database, then take the
    /// best candidate that still exists (ghosts are skipped).
    fn pick_from_pool(&mut self) -> Option<(usize, Key)> {
        let allkeys = self.evict.policy.allkeys();
        loop {
            let mut total = 0;
            for i in 0..self.dbs.len() {
                let len = if allkeys {
                    self.dbs[i].keys.len()
                } else {
                    self.dbs[i].expires.len()
                };
                if len > 0 {
                    self.pool_populate(i);
                    total += len;
                }
            }
            if total == 0 {
                return None;
            }
            while let Some(c) = self.evict.pool.pop() {
                let d = &self.dbs[c.db];
                let exists = if allkeys {
                    d.keys.contains_key(&c.key)
                } else {
                    d.expires.contains_key(&c.key)
                };
                if exists {
                    return Some((c.db, c.key));
                }
            }
        }
    }

    /// evictionPoolPopulate: samples keys of `db` and inserts those that
    /// beat the pool's worst (the pool is kept sorted by ascending score).
    fn pool_populate(&mut self, db: usize) {
        let policy = self.evict.policy;
        let allkeys = policy.allkeys();
        let samples = self.evict.samples.max(1);
        let now = self.now;
        let decay = self.evict.lfu_decay_time;
        for _ in 0..samples {
            let d = &self.dbs[db];
            let len = if allkeys {
                d.keys.len()
            } else {
                d.expires.len()
            };
            if len == 0 {
                return;
            }
            let i = (self.random_u64() % len as u64) as usize;
            let d = &self.dbs[db];
            let (key, idle) = if allkeys {
                // The clock first (4 bytes, likely cached): a sample that
                // cannot enter a full pool never loads its map slot.
                let lru = d.lru.get(i).copied().unwrap_or(0);
                let idle = score(policy, lru, 0, now, decay);
                let pool = &self.evict.pool;
                if pool.len() == EVPOOL_SIZE && pool.first().is_some_and(|c| c.idle >= idle) {
                    continue;
                }
                let Some((k, _)) = d.keys.get_index(i) else {
                    continue;
                };
                (k, idle)
            } else {
                let Some(&(ref k, at)) = d.expires.get_index(i) else {
                    continue;
                };
                let lru = d
                    .keys
                    .get_index_of(k)
                    .and_then(|j| d.lru.get(j).copied())
                    .unwrap_or(0);
                (k, score(policy, lru, at, now, decay))
            };
            let pool = &mut self.evict.pool;
            if pool.iter().any(|c| c.db == db && *c.key == **key) {
                continue;
            }
            // First slot whose score is not smaller than ours.
            let k = pool
                .iter()
                .position(|c| c.idle >= idle)
                .unwrap_or(pool.len());
            if pool.len() == EVPOOL_SIZE {
                if k == 0 {
                    // Worse than every candidate of a full pool.
                    continue;
                }
                // Drop the worst (lowest score) to make room.
                pool.remove(0);
                pool.insert(
                    k - 1,
                    Candidate {
                        idle,
                        db,
                        key: key.clone(),
                    },
                );
            } else {
                pool.insert(
                    k,
                    Candidate {
                        idle,
                        db,
                        key: key.clone(),
                    },
                );
            }
        }
    }
}

/// A candidate's score under `policy`: higher is evicted first.
fn score(policy: Policy, lru: u32, expire_at: u64, now: u64, decay: u32) -> u64 {
    match policy {
        Policy::VolatileTtl => u64::MAX - expire_at,
        p if p.is_lfu() => 255 - lfu_decr(lru, now, decay) as u64,
        _ => idle_ms(lru, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_idle_wraps_like_redis() {
        let now = 1_700_000_000_000u64;
        assert_eq!(idle_ms(lru_clock(now), now), 0);
        assert_eq!(idle_ms(lru_clock(now - 5000), now), 5000);
        // A clock from before the 24-bit wrap.
        let lru = LRU_CLOCK_MAX - 2;
        let at = ((now / 1000) & !(LRU_CLOCK_MAX as u64)) * 1000 + 3000;
        assert_eq!(idle_ms(lru, at), (3 + 2) * 1000);
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        assert_eq!(lfu_log_incr(LFU_INIT_VAL, 10, 0.999), LFU_INIT_VAL + 1);
        assert_eq!(lfu_log_incr(LFU_INIT_VAL + 1, 10, 0.5), LFU_INIT_VAL + 1);
        assert_eq!(lfu_log_incr(LFU_INIT_VAL + 1, 10, 0.05), LFU_INIT_VAL + 2);
        assert_eq!(lfu_log_incr(255, 0, 0.0), 255);
        let now = 10 * 60_000;
        let lru = (lfu_minutes(now - 3 * 60_000) << 8) | 20;
        assert_eq!(lfu_decr(lru, now, 1), 17);
        assert_eq!(lfu_decr(lru, now, 2), 19);
        assert_eq!(lfu_decr(lru, now, 0), 20);
        assert_eq!(lfu_decr(lru, now, 1) as u64, 17);
    }

    #[test]
    fn tenacity_budget() {
        assert_eq!(time_limit(10), Some(Duration::from_micros(500)));
        assert_eq!(time_limit(0), Some(Duration::ZERO));
        assert_eq!(time_limit(100), None);
        assert!(time_limit(99).unwrap() > Duration::from_secs(100));
    }

    #[test]
    fn pool_keeps_the_best_sixteen() {
        let mut s = Store::new(1);
        s.evict.policy = Policy::AllkeysLru;
        s.evict.samples = 64;
        let now = 1_700_000_000_000u64;
        for i in 0..64u64 {
            s.set_now(now - (i + 1) * 1000);
            s.set(
                0,
                format!("k{i}").as_bytes(),
                super::super::Value::Str(super::super::Sds::new(b"v")),
            );
        }
        s.set_now(now);
        // Enough draws to have seen every key.
        for _ in 0..20 {
            s.pool_populate(0);
        }
        assert_eq!(s.evict.pool.len(), EVPOOL_SIZE);
        let scores: Vec<u64> = s.evict.pool.iter().map(|c| c.idle).collect();
        assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
        // The oldest key (k63) is the best candidate.
        assert_eq!(&*s.evict.pool.last().unwrap().key, b"k63");
    }
}
