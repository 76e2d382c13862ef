//! Active expiry: the cron's incremental reclaiming of expired keys that
//! nobody reads (lazy expiry on access lives in `Store::expire_if_needed`).
//!
//! Redis's adaptive cycle (expire.c, `activeExpireCycle`): per database, look
//! at up to 20 keys that have a TTL, delete the expired ones, and repeat while
//! more than a quarter of the sample had expired; stop when the time budget
//! is spent and resume from the same database next time. Like Redis 6+ the
//! sample is a cursor walk over `db.expires` (high to low indices, see
//! `scan.rs`) rather than random picks, so every key with a TTL is looked at
//! within one pass. Deletions go through the choke point
//! (`expire_if_needed`), which also counts `expired_keys`.

use std::time::{Duration, Instant};

use super::{Key, Store};

/// Keys with a TTL examined per loop (ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP).
const KEYS_PER_LOOP: usize = 20;
/// Repeat on a database while more than this percent of a sample expired.
const ACCEPTABLE_STALE_PERCENT: usize = 25;
/// Databases visited per call at most (CRON_DBS_PER_CALL).
const DBS_PER_CALL: usize = 16;

impl Store {
    /// Reclaims expired keys within `budget` (the reactor calls it `hz`
    /// times a second). Does nothing while DEBUG SET-ACTIVE-EXPIRE 0.
    pub fn active_expire_cycle(&mut self, budget: Duration) {
        if !self.active_expire_enabled || self.expiry_paused {
            return;
        }
        let start = Instant::now();
        let ndbs = self.dbs.len();
        for _ in 0..ndbs.min(DBS_PER_CALL) {
            let db = self.expire_db_cursor % ndbs;
            // Like Redis, advance first: a cycle cut short by the budget
            // continues with the next database, so none starves.
            self.expire_db_cursor = (db + 1) % ndbs;
            loop {
                let (sampled, expired) = self.expire_sample(db);
                if sampled == 0 {
                    break;
                }
                if start.elapsed() >= budget {
                    self.expired_time_cap_reached_count += 1;
                    return;
                }
                if expired * 100 <= sampled * ACCEPTABLE_STALE_PERCENT {
                    break;
                }
            }
        }
    }

    /// Examines the next (up to) 20 keys with a TTL in `db` and deletes the
    /// expired ones. Returns (examined, deleted).
    fn expire_sample(&mut self, db: usize) -> (usize, usize) {
        let now = self.now;
        let d = &mut self.dbs[db];
        let len = d.expires.len();
        if len == 0 {
            d.expire_cursor = 0;
            return (0, 0);
        }
        let mut at = if d.expire_cursor == 0 || d.expire_cursor > len {
            len
        } else {
            d.expire_cursor
        };
        let stop = at.saturating_sub(KEYS_PER_LOOP);
        let sampled = at - stop;
        let mut doomed: [Option<Key>; KEYS_PER_LOOP] = Default::default();
        let mut n = 0;
        while at > stop {
            at -= 1;
            if let Some(&(ref k, when)) = d.expires.get_index(at)
                && when <= now
            {
                doomed[n] = Some(k.clone());
                n += 1;
            }
        }
        d.expire_cursor = at;
        // Deleting after the walk: each removal moves the last element into
        // an already visited slot, so nothing unvisited is skipped.
        let mut expired = 0;
        for key in doomed.iter().take(n).flatten() {
            if self.expire_if_needed(db, key) {
                expired += 1;
            }
        }
        (sampled, expired)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Sds, Value};
    use super::*;

    fn v() -> Value {
        Value::Str(Sds::new(b"v"))
    }

    #[test]
    fn reclaims_all_expired_keys() {
        let mut s = Store::new(3);
        s.set_now(1_000);
        for i in 0..1000u32 {
            let k = format!("k{i}");
            // Half expire at 1500, a quarter never, a quarter much later.
            let exp = match i % 4 {
                0 | 1 => Some(1_500),
                2 => None,
                _ => Some(1_000_000),
            };
            s.set_with_expiry(i as usize % 3, k.as_bytes(), v(), exp);
        }
        s.set_now(2_000);
        for _ in 0..1000 {
            s.active_expire_cycle(Duration::from_secs(1));
            if s.expired_keys == 500 {
                break;
            }
        }
        assert_eq!(s.expired_keys, 500);
        assert_eq!(s.total_keys(), 500);
        let ttl: usize = (0..3).map(|d| s.db(d).expires_len()).sum();
        assert_eq!(ttl, 250);
    }

    #[test]
    fn disabled_does_nothing_and_budget_is_respected() {
        let mut s = Store::new(1);
        s.set_now(1_000);
        for i in 0..100u32 {
            s.set_with_expiry(0, format!("k{i}").as_bytes(), v(), Some(1_001));
        }
        s.set_now(5_000);
        s.active_expire_enabled = false;
        s.active_expire_cycle(Duration::from_secs(1));
        assert_eq!(s.db(0).len(), 100);
        s.active_expire_enabled = true;
        // A zero budget still makes progress (one sample) then stops.
        s.active_expire_cycle(Duration::ZERO);
        assert_eq!(s.db(0).len(), 80);
        assert_eq!(s.expired_time_cap_reached_count, 1);
        s.active_expire_cycle(Duration::from_secs(1));
        assert_eq!(s.db(0).len(), 0);
    }
}
