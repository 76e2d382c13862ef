//! Placement: key -> slot exactly as Redis Cluster computes it, and
//! slot -> member by consistent hashing over the member set.
//!
//! `key_slot` is Redis's `keyHashSlot`: CRC16 (XMODEM) of the key, or of the
//! first non-empty `{...}` hash tag, modulo 16384. So hash tags and CLUSTER
//! KEYSLOT agree with Redis.
//!
//! The ring: every member gets [`POINTS_PER_MEMBER`] points on a 64-bit
//! circle, at positions hashed from its address; slot `s` sits at position
//! `s * 2^64 / 16384` and belongs to the first point at or after it. Slots
//! therefore come in contiguous ranges (what CLUSTER SLOTS describes), the
//! table depends only on the *set* of addresses (never on the order a
//! config file lists them), adding a member takes over only the arcs its
//! points land in, and removing one hands only its own arcs to their
//! successors.

/// Number of hash slots, as in Redis Cluster.
pub const SLOTS: usize = 16384;

/// Virtual points per member. The share of a member with V points varies
/// by about 1/sqrt(V) of its expected share: 1024 keeps each of 3 members
/// within 33% +- 3% with a wide margin, at ~2,000 slot ranges in all.
pub const POINTS_PER_MEMBER: u32 = 1024;

/// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0 - Redis's
/// crc16.c. The table is computed at compile time.
const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// Redis's `crc16()`.
pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ CRC16_TABLE[(((crc >> 8) as u8) ^ b) as usize]
    })
}

/// The part of a key that is hashed: the content of the first `{...}` when
/// it is non-empty, else the whole key (Redis's rules exactly: `{}` or an
/// unclosed `{` hash the whole key).
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = memchr::memchr(b'{', key)
        && let Some(len) = memchr::memchr(b'}', &key[open + 1..])
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

/// Redis Cluster's hash slot of a key.
#[inline]
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOTS as u16 - 1)
}

/// FNV-1a, 64-bit: a stable hash of bytes (the same on every platform and
/// build, unlike std's hasher), used for ring points and fingerprints.
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64's finalizer: spreads FNV's output over all 64 bits.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Builds the slot -> member table for `members` (addresses). Indexes in
/// the result refer to `members` as given; callers pass them sorted so that
/// indexes agree across nodes too.
pub fn build_table(members: &[&str]) -> Vec<u16> {
    if members.is_empty() {
        return vec![0; SLOTS];
    }
    let mut points: Vec<(u64, u16)> =
        Vec::with_capacity(members.len() * POINTS_PER_MEMBER as usize);
    for (m, addr) in members.iter().enumerate() {
        let base = fnv1a(addr.as_bytes());
        for i in 0..POINTS_PER_MEMBER {
            let pos = mix64(base ^ mix64(i as u64 + 1));
            points.push((pos, m as u16));
        }
    }
    // Ties (practically impossible) are broken by the member's address so
    // the table still depends only on the set.
    points.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| members[a.1 as usize].cmp(members[b.1 as usize]))
    });
    let step = 1u64 << (64 - SLOTS.trailing_zeros());
    let mut table = Vec::with_capacity(SLOTS);
    let mut p = 0;
    for slot in 0..SLOTS as u64 {
        let pos = slot * step;
        while p < points.len() && points[p].0 < pos {
            p += 1;
        }
        let owner = points.get(p).unwrap_or(&points[0]).1;
        table.push(owner);
    }
    table
}

/// Contiguous runs of slots with one owner: (first, last, member), in slot
/// order (CLUSTER SLOTS / NODES / SHARDS).
pub fn ranges(table: &[u16]) -> Vec<(u16, u16, u16)> {
    let mut out: Vec<(u16, u16, u16)> = Vec::new();
    for (slot, &owner) in table.iter().enumerate() {
        match out.last_mut() {
            Some(r) if r.2 == owner && r.1 as usize + 1 == slot => r.1 = slot as u16,
            _ => out.push((slot as u16, slot as u16, owner)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_of(addrs: &[&str]) -> (Vec<String>, Vec<u16>) {
        let mut sorted: Vec<&str> = addrs.to_vec();
        sorted.sort_unstable();
        (
            sorted.iter().map(|s| s.to_string()).collect(),
            build_table(&sorted),
        )
    }

    /// slot -> owner address.
    fn owners(addrs: &[&str]) -> Vec<String> {
        let (names, t) = table_of(addrs);
        t.iter().map(|&m| names[m as usize].clone()).collect()
    }

    #[test]
    fn crc16_matches_redis() {
        // The check value of CRC-16/XMODEM, and Redis's documented slots.
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"hello"), 866);
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn hash_tags_follow_redis_rules() {
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"{user1000}.followers"), key_slot(b"user1000"));
        // Empty tag: the whole key is hashed.
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        // Only the first '{' and the first '}' after it count.
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        // Unclosed.
        assert_eq!(hash_tag(b"foo{bar"), b"foo{bar");
        assert_eq!(hash_tag(b"}{x}"), b"x");
    }

    fn shares(addrs: &[&str]) -> Vec<f64> {
        let (_, t) = table_of(addrs);
        let mut counts = vec![0usize; addrs.len()];
        for m in t {
            counts[m as usize] += 1;
        }
        counts
            .into_iter()
            .map(|c| c as f64 / SLOTS as f64)
            .collect()
    }

    #[test]
    fn three_members_each_own_a_third() {
        // Many member sets, not one lucky one.
        for base in [7001u32, 6379, 30000, 12000, 40000, 50123] {
            let a: Vec<String> = (0..3).map(|i| format!("127.0.0.1:{}", base + i)).collect();
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            for s in shares(&refs) {
                assert!((s - 1.0 / 3.0).abs() <= 0.03, "{a:?}: share {s}");
            }
        }
        let hosts = ["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"];
        for s in shares(&hosts) {
            assert!((s - 1.0 / 3.0).abs() <= 0.03, "share {s}");
        }
    }

    #[test]
    fn order_of_the_list_does_not_matter() {
        let a = owners(&["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]);
        let b = owners(&["127.0.0.1:7003", "127.0.0.1:7001", "127.0.0.1:7002"]);
        assert_eq!(a, b);
    }

    #[test]
    fn adding_a_fourth_member_moves_at_most_30_percent() {
        for base in [7001u32, 6379, 30000] {
            let a: Vec<String> = (0..4).map(|i| format!("127.0.0.1:{}", base + i)).collect();
            let three: Vec<&str> = a[..3].iter().map(String::as_str).collect();
            let four: Vec<&str> = a.iter().map(String::as_str).collect();
            let before = owners(&three);
            let after = owners(&four);
            let moved = before.iter().zip(&after).filter(|(x, y)| x != y).count();
            assert!(moved as f64 <= 0.30 * SLOTS as f64, "moved {moved}");
            // Everything that moved went to the new member.
            for (x, y) in before.iter().zip(&after) {
                assert!(x == y || *y == a[3], "{x} -> {y}");
            }
        }
    }

    #[test]
    fn removing_a_member_moves_only_its_slots() {
        let all = ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"];
        let before = owners(&all);
        let after = owners(&all[..2]);
        for (x, y) in before.iter().zip(&after) {
            if x != "127.0.0.1:7003" {
                assert_eq!(x, y);
            }
        }
    }

    #[test]
    fn ranges_cover_every_slot_once() {
        let (_, t) = table_of(&["a:1", "b:2", "c:3"]);
        let r = ranges(&t);
        let mut next = 0usize;
        for &(first, last, owner) in &r {
            assert_eq!(first as usize, next);
            assert!(last >= first);
            for s in first..=last {
                assert_eq!(t[s as usize], owner);
            }
            next = last as usize + 1;
        }
        assert_eq!(next, SLOTS);
        assert!(r.len() < 4000, "{} ranges", r.len());
    }

    #[test]
    fn one_member_owns_everything() {
        let (_, t) = table_of(&["127.0.0.1:7001"]);
        assert!(t.iter().all(|&m| m == 0));
        assert_eq!(ranges(&t), vec![(0, 16383, 0)]);
    }
}
