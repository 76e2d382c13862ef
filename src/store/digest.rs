//! DEBUG DIGEST / DIGEST-VALUE: Redis's dataset fingerprint, bit for bit.
//!
//! The scheme is Redis's (debug.c): SHA1 based; a key's digest mixes the key,
//! its type, its value and whether it has an expiry; a whole database is the
//! xor of its keys' digests (so insertion order does not matter) mixed with
//! the database number; an empty dataset is 20 zero bytes. Lists are mixed
//! in order, hash fields are xored (order-free). Because the bytes match
//! Redis, tests can compare DEBUG DIGEST of memkv and real Redis directly.
//! As in Redis, only the *presence* of an expiry is digested, not its time.
//! SHA1 is implemented here (no crate), it is only used for fingerprints.

use super::{Store, Value};

/// A streaming SHA1 (FIPS 180-1).
struct Sha1 {
    h: [u32; 5],
    buf: [u8; 64],
    buf_len: usize,
    total_len: u64,
}

impl Sha1 {
    fn new() -> Sha1 {
        Sha1 {
            h: [
                0x6745_2301,
                0xEFCD_AB89,
                0x98BA_DCFE,
                0x1032_5476,
                0xC3D2_E1F0,
            ],
            buf: [0; 64],
            buf_len: 0,
            total_len: 0,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.total_len = self.total_len.wrapping_add(data.len() as u64);
        if self.buf_len > 0 {
            let take = (64 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 64 {
                return;
            }
            let block = self.buf;
            self.compress(&block);
            self.buf_len = 0;
        }
        let mut chunks = data.chunks_exact(64);
        for block in &mut chunks {
            let mut b = [0u8; 64];
            b.copy_from_slice(block);
            self.compress(&b);
        }
        let rest = chunks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    fn finish(mut self) -> [u8; 20] {
        let bit_len = self.total_len.wrapping_mul(8);
        self.update(&[0x80]);
        while self.buf_len != 56 {
            self.update(&[0]);
        }
        self.update(&bit_len.to_be_bytes());
        let mut out = [0u8; 20];
        for (o, h) in out.chunks_exact_mut(4).zip(self.h) {
            o.copy_from_slice(&h.to_be_bytes());
        }
        out
    }

    fn compress(&mut self, block: &[u8; 64]) {
        let mut w = [0u32; 80];
        for (i, c) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = self.h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (h, v) in self.h.iter_mut().zip([a, b, c, d, e]) {
            *h = h.wrapping_add(v);
        }
    }
}

/// SHA1 of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut s = Sha1::new();
    s.update(data);
    s.finish()
}

/// Redis's `xorDigest`: digest ^= SHA1(data). Order-independent.
pub fn xor_digest(digest: &mut [u8; 20], data: &[u8]) {
    for (d, h) in digest.iter_mut().zip(sha1(data)) {
        *d ^= h;
    }
}

/// Redis's `mixDigest`: digest = SHA1(digest ^ SHA1(data)). Order-dependent.
pub fn mix_digest(digest: &mut [u8; 20], data: &[u8]) {
    xor_digest(digest, data);
    *digest = sha1(digest);
}

/// Redis's type number (OBJ_STRING 0, OBJ_LIST 1, OBJ_SET 2, OBJ_ZSET 3,
/// OBJ_HASH 4).
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Hash(_) => 4,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Stream(_) => 6,
    }
}

/// Redis's `xorObjectDigest`: mixes a value (type, contents, whether it
/// has an expiry) into `digest`.
pub fn mix_value(digest: &mut [u8; 20], value: &Value, has_expire: bool) {
    mix_digest(digest, &type_code(value).to_be_bytes());
    match value {
        Value::Str(s) => mix_digest(digest, s),
        Value::List(l) => {
            for e in l.iter() {
                mix_digest(digest, &e);
            }
        }
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                let mut ele = [0u8; 20];
                mix_digest(&mut ele, &f.cow());
                mix_digest(&mut ele, &v.cow());
                xor_digest(digest, &ele);
            }
        }
        // Members xored straight in (order-free), integers as their text.
        Value::Set(set) => {
            for e in set.iter() {
                e.with_bytes(|b| xor_digest(digest, b));
            }
        }
        // Redis 7.0: each element is SHA1-mixed member then `%.17g` score,
        // xored in (order-free).
        Value::ZSet(z) => z.for_each(|m, s| {
            let mut ele = [0u8; 20];
            mix_digest(&mut ele, m);
            mix_digest(&mut ele, crate::number::fmt_g17(s).as_bytes());
            xor_digest(digest, &ele);
        }),
        // Redis 7.0 digests the entries only: `ms.seq`, then each field
        // and value, mixed in order.
        Value::Stream(s) => {
            for (id, fields) in s.iter() {
                mix_digest(digest, format!("{}.{}", id.ms, id.seq).as_bytes());
                for f in fields.iter() {
                    mix_digest(digest, f);
                }
            }
        }
    }
    if has_expire {
        xor_digest(digest, b"!!expire!!");
    }
}

/// Lower-case hex of a digest (40 characters).
pub fn to_hex(d: &[u8; 20]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(40);
    for b in d {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl Store {
    /// DEBUG DIGEST-VALUE for one key: its value digest, or zeros if it is
    /// not in the map. Like Redis it looks at the map directly, so a
    /// logically expired key that is still there is digested.
    pub fn digest_value(&self, db: usize, key: &[u8]) -> [u8; 20] {
        let mut d = [0u8; 20];
        let db = &self.dbs[db];
        if let Some(v) = db.keys.get(key) {
            mix_value(&mut d, v, db.expires.contains_key(key));
        }
        d
    }

    /// DEBUG DIGEST: the fingerprint of every live key of every database.
    /// Logically expired keys are left out (what a client can read is what
    /// is fingerprinted).
    pub fn dataset_digest(&self) -> [u8; 20] {
        let mut fin = [0u8; 20];
        for (j, db) in self.dbs.iter().enumerate() {
            let live = |k: &[u8]| !matches!(db.expires.get(k), Some(&at) if at <= self.now);
            if !db.keys.keys().any(|k| live(k)) {
                continue;
            }
            mix_digest(&mut fin, &(j as u32).to_be_bytes());
            for (k, v) in db.keys.iter() {
                if !live(k) {
                    continue;
                }
                let mut d = [0u8; 20];
                mix_digest(&mut d, k);
                mix_value(&mut d, v, db.expires.contains_key(k.as_bytes()));
                xor_digest(&mut fin, &d);
            }
        }
        fin
    }
}

#[cfg(test)]
mod tests {
    use super::super::Sds;
    use super::*;

    #[test]
    fn sha1_known_vectors() {
        assert_eq!(
            to_hex(&sha1(b"")),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(
            to_hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            to_hex(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        let mut s = Sha1::new();
        for _ in 0..10_000 {
            s.update(&[b'a'; 100]);
        }
        assert_eq!(
            to_hex(&s.finish()),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }

    #[test]
    fn order_independent_and_sensitive_to_changes() {
        let mut a = Store::new(2);
        let mut b = Store::new(2);
        assert_eq!(to_hex(&a.dataset_digest()), "0".repeat(40));
        for i in 0..50 {
            a.set(0, format!("k{i}").as_bytes(), Value::Str(Sds::new(b"v")));
        }
        for i in (0..50).rev() {
            b.set(0, format!("k{i}").as_bytes(), Value::Str(Sds::new(b"v")));
        }
        assert_eq!(a.dataset_digest(), b.dataset_digest());
        b.set(0, b"k7", Value::Str(Sds::new(b"w")));
        assert_ne!(a.dataset_digest(), b.dataset_digest());
        b.set(0, b"k7", Value::Str(Sds::new(b"v")));
        assert_eq!(a.dataset_digest(), b.dataset_digest());
        b.move_key(0, b"k7", 1);
        assert_ne!(a.dataset_digest(), b.dataset_digest());
    }

    /// Values computed by Redis 7.0.15 (`SET k hello`, `RPUSH l a b c`).
    #[test]
    fn matches_redis() {
        let mut s = Store::new(16);
        s.set(0, b"k", Value::Str(Sds::new(b"hello")));
        let mut l = super::super::List::new();
        for e in [b"a", b"b", b"c"] {
            l.push_back(e);
        }
        s.set(0, b"l", Value::List(l));
        assert_eq!(
            to_hex(&s.dataset_digest()),
            "196be15337c123de885cc960c4549c4853efa610"
        );
        assert_eq!(
            to_hex(&s.digest_value(0, b"k")),
            "36b23a1456b2dce2c3ed252c456761301dba8060"
        );
        assert_eq!(
            to_hex(&s.digest_value(0, b"l")),
            "8bf72d812571eea9b927f3c11beb0c4165a6ff89"
        );
        assert_eq!(to_hex(&s.digest_value(0, b"x")), "0".repeat(40));
    }
}
