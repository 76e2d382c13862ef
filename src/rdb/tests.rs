//! Codec round trips and hand-built Redis encodings.

use super::load::{Decoder, LoadLimits};
use super::save::{self, SaveOpts};
use super::*;
use crate::store::digest::mix_value;
use crate::store::{Hash, List, Sds, Set, Store, Value, ZSet, zset};

fn digest(v: &Value) -> [u8; 20] {
    let mut d = [0u8; 20];
    mix_value(&mut d, v, false);
    d
}

fn samples() -> Vec<Value> {
    let mut out = vec![
        Value::Str(Sds::new(b"hello")),
        Value::Str(Sds::new(b"12345")),
        Value::Str(Sds::new(b"-7")),
        Value::Str(Sds::new(b"2147483648")),
        Value::Str(Sds::new(b"007")),
        Value::Str(Sds::new(&[b'x'; 300])),
        Value::Str(Sds::new(b"")),
    ];
    let mut l = List::new();
    for i in 0..5000 {
        l.push_back(format!("item-{}", i % 37).as_bytes());
        l.push_back(i.to_string().as_bytes());
    }
    out.push(Value::List(l));
    let mut small = List::new();
    small.push_back(b"a");
    small.push_back(b"-100000");
    out.push(Value::List(small));
    let lim = crate::store::hash::DEFAULT_LIMITS;
    let mut h = Hash::default();
    h.set(b"f", b"v", &lim);
    h.set(b"n", b"42", &lim);
    out.push(Value::Hash(h));
    let mut big = Hash::default();
    for i in 0..1000 {
        big.set(format!("field{i}").as_bytes(), &vec![b'v'; i % 90], &lim);
    }
    out.push(Value::Hash(big));
    let mut s = Set::new_ints();
    for v in [-5i64, 3, 1 << 40] {
        s.add(v.to_string().as_bytes(), 512);
    }
    out.push(Value::Set(s));
    let mut t = Set::new_for(b"x");
    for m in ["x", "y", "12"] {
        t.add(m.as_bytes(), 512);
    }
    out.push(Value::Set(t));
    let lim = zset::Limits::default();
    let entries = vec![
        (Sds::new(b"a"), -1.5),
        (Sds::new(b"b"), 0.0),
        (Sds::new(b"c"), 3.0),
        (Sds::new(b"d"), f64::INFINITY),
    ];
    out.push(Value::ZSet(ZSet::from_sorted(entries, &lim)));
    let mut many: Vec<(Sds, f64)> = (0..500)
        .map(|i| (Sds::new(format!("m{i:04}").as_bytes()), i as f64 / 7.0))
        .collect();
    many.sort_by(|a, b| zset::cmp_entry(a.1, &a.0, b.1, &b.0));
    out.push(Value::ZSet(ZSet::from_sorted(many, &lim)));
    out
}

#[test]
fn crc64_matches_redis() {
    // crc64.c's test vector.
    assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
}

#[test]
fn values_round_trip_with_and_without_compression() {
    for compress in [true, false] {
        let o = SaveOpts {
            compress,
            ..SaveOpts::default()
        };
        for v in samples() {
            let mut buf = Vec::new();
            save::write_value(&mut buf, &v, &o);
            let mut d = Decoder::new(&buf);
            let ty = d.byte().expect("type");
            let got = d
                .value(ty, &LoadLimits::default())
                .expect("decodes")
                .expect("non-empty");
            assert_eq!(d.pos, buf.len());
            assert_eq!(digest(&got), digest(&v), "{v:?}");
            assert_eq!(got.kind(), v.kind());
        }
    }
}

#[test]
fn dump_payload_verifies_and_detects_damage() {
    let v = Value::Str(Sds::new(b"bar"));
    let p = save::dump_payload(&v, &SaveOpts::default());
    // What Redis 7.0 answers to DUMP of "bar".
    assert_eq!(
        p,
        b"\x00\x03bar\x0a\x00\xe6\xbe\x49\x60\xee\x66\xfd\x17".to_vec()
    );
    assert!(save::verify_dump_payload(&p));
    let mut bad = p.clone();
    bad[2] ^= 1;
    assert!(!save::verify_dump_payload(&bad));
    assert!(!save::verify_dump_payload(&p[..9]));
}

#[test]
fn every_truncation_and_byte_flip_is_an_error_not_a_panic() {
    let o = SaveOpts::default();
    for v in samples().into_iter().take(14) {
        let mut buf = Vec::new();
        save::write_value(&mut buf, &v, &o);
        if buf.len() > 3000 {
            continue;
        }
        for cut in 0..buf.len() {
            let mut d = Decoder::new(&buf[..cut]);
            if let Ok(ty) = d.byte() {
                assert!(d.value(ty, &LoadLimits::default()).is_err() || cut == buf.len());
            }
        }
        for i in 0..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0xA5;
            let mut d = Decoder::new(&b);
            if let Ok(ty) = d.byte() {
                let _ = d.value(ty, &LoadLimits::default());
            }
        }
    }
}

#[test]
fn old_encodings_decode() {
    // RDB_TYPE_ZSET (text scores), RDB_TYPE_LIST, RDB_TYPE_SET.
    let mut buf = vec![TYPE_ZSET, 2];
    buf.extend_from_slice(b"\x01a\x031.5\x01b\xfe");
    let mut d = Decoder::new(&buf);
    let ty = d.byte().expect("type");
    let v = d
        .value(ty, &LoadLimits::default())
        .expect("ok")
        .expect("some");
    let Value::ZSet(z) = v else { panic!("zset") };
    assert_eq!(z.score(b"a"), Some(1.5));
    assert_eq!(z.score(b"b"), Some(f64::INFINITY));
    // Integer-encoded and LZF strings.
    let buf = [TYPE_SET, 2, 0xC0, 5, 0xC1, 0x39, 0x30];
    let mut d = Decoder::new(&buf);
    let ty = d.byte().expect("type");
    let Some(Value::Set(s)) = d.value(ty, &LoadLimits::default()).expect("ok") else {
        panic!("set")
    };
    assert!(s.contains(b"5") && s.contains(b"12345"));
    assert_eq!(s.encoding(), "intset");
    // Duplicates are corruption.
    let buf = [TYPE_SET, 2, 0xC0, 5, 0xC0, 5];
    let mut d = Decoder::new(&buf);
    let ty = d.byte().expect("type");
    assert!(d.value(ty, &LoadLimits::default()).is_err());
    // Empty values load as None.
    let buf = [TYPE_LIST, 0];
    let mut d = Decoder::new(&buf);
    let ty = d.byte().expect("type");
    assert!(d.value(ty, &LoadLimits::default()).expect("ok").is_none());
}

#[test]
fn huge_counts_are_refused_without_allocating() {
    let buf = [
        TYPE_LIST, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    let mut d = Decoder::new(&buf);
    let ty = d.byte().expect("type");
    assert_eq!(
        d.value(ty, &LoadLimits::default()).err(),
        Some(Error::Short)
    );
    // LZF claiming a 4 GB result from 2 bytes.
    let buf = [TYPE_STRING, 0xC3, 2, 0x80, 0xff, 0xff, 0xff, 0xff, 0, b'a'];
    let mut d = Decoder::new(&buf);
    let ty = d.byte().expect("type");
    assert!(d.value(ty, &LoadLimits::default()).is_err());
}

#[test]
fn file_round_trip_with_expiry_and_checksum() {
    let mut s = Store::new(16);
    s.set_now(1_000);
    for (i, v) in samples().into_iter().enumerate() {
        s.set_with_expiry(
            i % 3,
            format!("k{i}").as_bytes(),
            v,
            (i % 2 == 0).then_some(10_000_000 + i as u64),
        );
    }
    s.set_with_expiry(5, b"gone", Value::Str(Sds::new(b"x")), Some(500));
    let img = file::save_store(
        &s,
        &[],
        &SaveOpts::default(),
        &file::aux_fields(0, false),
        true,
    );
    let mut t = Store::new(16);
    t.set_now(1_000);
    let l = file::load_all(img.clone(), &mut t, &LoadLimits::default(), true).expect("loads");
    assert_eq!(l.expired_skipped, 1);
    assert_eq!(t.total_keys(), s.total_keys() - 1);
    for db in 0..3 {
        for (k, _) in s.db(db).keys() {
            assert_eq!(t.digest_value(db, k), s.digest_value(db, k));
            assert_eq!(t.db(db).expires().get(k), s.db(db).expires().get(k));
        }
    }
    assert!(
        l.aux
            .iter()
            .any(|(k, v)| k == b"redis-ver" && v == crate::REDIS_VERSION.as_bytes())
    );
    // A flipped byte in the body fails the checksum.
    let mut bad = img.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    assert!(file::load_all(bad, &mut Store::new(16), &LoadLimits::default(), true).is_err());
    // Too few databases.
    assert!(matches!(
        file::load_all(img, &mut Store::new(1), &LoadLimits::default(), true),
        Err(Error::Unsupported(_))
    ));
    // Signature and version.
    assert_eq!(
        file::FileLoader::new(b"REDIX0010".to_vec(), false).err(),
        Some(Error::Signature)
    );
    assert_eq!(
        file::FileLoader::new(b"REDIS0011".to_vec(), false).err(),
        Some(Error::Version(11))
    );
}

/// The snapshot walk in RDB mode (BGSAVE, RDB-preamble rewrite) writes the
/// dataset as of the epoch, whatever happens during the walk: writes to a
/// big value being written in slices, deletions, a flushed database, a
/// SWAPDB.
#[test]
fn snapshot_walk_in_rdb_mode_is_point_in_time() {
    use crate::store::snapshot::Piece;
    let mut s = Store::new(4);
    s.set_now(1_000);
    let mut big = List::new();
    for i in 0..10_000 {
        big.push_back(format!("e{i}").as_bytes());
    }
    s.set_with_expiry(0, b"big", Value::List(big), Some(9_999_999));
    let mut h = Hash::default();
    for i in 0..6000 {
        h.set(format!("f{i}").as_bytes(), b"v", &Default::default());
    }
    s.set(0, b"bighash", Value::Hash(h));
    for (i, v) in samples().into_iter().enumerate() {
        s.set(i % 3, format!("k{i}").as_bytes(), v);
    }
    for i in 0..500 {
        s.set(1, format!("d1:{i}").as_bytes(), Value::Str(Sds::new(b"x")));
    }
    // Walked first (highest indexes): a big set and a big sorted set, both
    // changed while the walk is inside them.
    let zlim = crate::store::zset::Limits::default();
    let mut set = crate::store::set::Set::new_for(b"m");
    for i in 0..6000 {
        set.add(format!("m{i}").as_bytes(), 512);
    }
    s.set(0, b"bigset", Value::Set(set));
    let mut z = crate::store::zset::ZSet::new_for(8, &zlim);
    for i in 0..7000 {
        z.insert(format!("z{i}").as_bytes(), (i % 89) as f64 * 0.5, &zlim);
    }
    s.set(0, b"bigzset", Value::ZSet(z));
    let want = s.dataset_digest();
    let o = SaveOpts::default();
    s.begin_snapshot_as(Some(o));
    let mut out = Vec::new();
    save::write_header(&mut out, &[]);
    let mut step = 0;
    loop {
        let (pieces, done) = s.snapshot_step(700);
        for p in pieces {
            match p {
                Piece::Bytes(b) => out.extend_from_slice(&b),
                Piece::Detached(d) => d.serialize(&mut out),
            }
        }
        if done {
            break;
        }
        step += 1;
        match step {
            2 => {
                if let Ok(Some(Value::List(l))) = s.get_mut(0, b"big", crate::store::Kind::List) {
                    l.push_back(b"new");
                }
            }
            3 => {
                s.remove(0, b"k0");
                s.set(0, b"fresh", Value::Str(Sds::new(b"later")));
            }
            4 => s.flush_db(1),
            5 => s.swap_dbs(0, 2),
            6 => {
                if let Ok(Some(Value::ZSet(z))) = s.get_mut(2, b"bigzset", crate::store::Kind::ZSet)
                {
                    z.insert(b"z1", 1e9, &zlim);
                }
            }
            14 => {
                if let Ok(Some(Value::Set(m))) = s.get_mut(2, b"bigset", crate::store::Kind::Set) {
                    m.remove(b"m5");
                }
            }
            _ => {}
        }
    }
    file::finish(&mut out, true);
    let mut t = Store::new(4);
    t.set_now(1_000);
    file::load_all(out, &mut t, &LoadLimits::default(), true).expect("loads");
    assert_eq!(t.dataset_digest(), want);
}

/// A deterministic stand-in for the fuzz target (fuzz/fuzz_targets/rdb.rs)
/// that runs with the unit tests: random and mutated inputs through the
/// value decoder and the file loader never panic, and whatever decodes
/// re-encodes to the same value.
#[test]
fn random_and_mutated_inputs_never_panic() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let lim = LoadLimits::default();
    let o = SaveOpts::default();
    let seeds: Vec<Vec<u8>> = samples()
        .iter()
        .map(|v| {
            let mut b = Vec::new();
            save::write_value(&mut b, v, &o);
            b
        })
        .filter(|b| b.len() < 4000)
        .collect();
    for round in 0..20_000 {
        let input: Vec<u8> = if round % 2 == 0 {
            let n = (rnd() % 80) as usize;
            let mut b: Vec<u8> = (0..n).map(|_| rnd() as u8).collect();
            if let Some(first) = b.first_mut() {
                *first %= 22;
            }
            b
        } else {
            let mut b = seeds[(rnd() % seeds.len() as u64) as usize].clone();
            for _ in 0..1 + rnd() % 4 {
                let i = (rnd() % b.len() as u64) as usize;
                b[i] = rnd() as u8;
            }
            b
        };
        let Some((&ty, rest)) = input.split_first() else {
            continue;
        };
        let mut d = Decoder::new(rest);
        if let Ok(Some(v)) = d.value(ty, &lim) {
            let mut out = Vec::new();
            save::write_value(&mut out, &v, &o);
            let mut d2 = Decoder::new(&out[1..]);
            let v2 = d2
                .value(out[0], &lim)
                .expect("re-encoded")
                .expect("non-empty");
            assert_eq!(digest(&v2), digest(&v));
        }
        let mut file = b"REDIS0010".to_vec();
        file.extend_from_slice(&input);
        let _ = file::load_all(file, &mut Store::new(16), &lim, round % 3 == 0);
    }
}
