//! The one hasher of every table keyed by client-chosen bytes: the
//! keyspace (`Db::keys` / `Db::expires`), set members, the skiplist's
//! member index, WATCH / blocking / journal / snapshot bookkeeping.
//!
//! foldhash's `fast` hasher (the one hashbrown itself defaults to): a
//! folded multiply per 16 bytes, about a sixth of SipHash-1-3's time on
//! a 16-byte key (~220 instructions less per GET or SET). It is keyed:
//! the shared seed and each table's own seed come from std's
//! `RandomState`, which the OS seeds (getrandom), not from foldhash's
//! default (addresses and the time), so nobody outside the process knows
//! them and cannot precompute colliding keys (HashDoS).
//! Nothing a client sees follows hash order: `IndexMap`s iterate in
//! insertion order (SCAN, KEYS, RANDOMKEY, SPOP work on positions), and
//! the plain hash maps here are never iterated into a reply.
//!
//! Change the choice here only: everything else names `KeyState` or the
//! aliases below.

use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::SharedSeed;
use foldhash::fast::SeedableRandomState;

/// An `IndexMap` with the keyed hasher.
pub type KeyMap<K, V> = indexmap::IndexMap<K, V, KeyState>;
/// An `IndexSet` with the keyed hasher.
pub type KeySet<K> = indexmap::IndexSet<K, KeyState>;
/// A `std` hash map with the keyed hasher (never iterated into a reply).
pub type KeyHashMap<K, V> = std::collections::HashMap<K, V, KeyState>;
/// A `std` hash set with the keyed hasher (never iterated into a reply).
pub type KeyHashSet<K> = std::collections::HashSet<K, KeyState>;

/// The process's secret seeds: the shared one (six words derived from a
/// random u64) and the base the per-table seeds are drawn from.
struct Seeds {
    shared: SharedSeed,
    base: u64,
}

fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        // std's RandomState is SipHash keyed with OS randomness: its
        // output on a constant is an unpredictable 64-bit number.
        let os = std::hash::RandomState::new();
        Seeds {
            shared: SharedSeed::from_u64(os.hash_one(0x6d65_6d6b_7673_6565_u64)),
            base: os.hash_one(0x7461_626c_6573_6565_u64),
        }
    })
}

/// The keyed `BuildHasher` (16 bytes, as std's `RandomState`). Each new
/// table gets its own seed, so hash order never carries over from one
/// table to another (iterating a table into another of the same seed is
/// hashbrown's known quadratic case); clones keep theirs.
#[derive(Clone, Debug)]
pub struct KeyState(SeedableRandomState);

impl Default for KeyState {
    #[inline]
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let s = seeds();
        // A Weyl sequence over the secret base: distinct per table, as
        // unpredictable as the base.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let seed = s.base ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        KeyState(SeedableRandomState::with_seed(seed, &s.shared))
    }
}

impl BuildHasher for KeyState {
    type Hasher = foldhash::fast::FoldHasher<'static>;

    #[inline(always)]
    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_and_consistent() {
        let a = KeyState::default();
        let b = KeyState::default();
        // One table hashes a key the same way every time (and as a clone).
        assert_eq!(
            a.hash_one(b"key:1".as_slice()),
            a.hash_one(b"key:1".as_slice())
        );
        assert_eq!(a.clone().hash_one(7u64), a.hash_one(7u64));
        // Two tables hash with different seeds.
        let differ = (0u64..8).any(|i| a.hash_one(i) != b.hash_one(i));
        assert!(differ);
        assert_eq!(std::mem::size_of::<KeyState>(), 16);
    }

    #[test]
    fn maps_find_borrowed_keys() {
        let mut m: KeyMap<crate::store::Key, u32> = KeyMap::default();
        for i in 0..1000u32 {
            m.insert(crate::store::Key::new(i.to_string().as_bytes()), i);
        }
        for i in 0..1000u32 {
            assert_eq!(m.get(i.to_string().as_bytes()), Some(&i));
        }
    }
}
