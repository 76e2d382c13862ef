//! Feeds arbitrary register bytes behind a valid `HYLL` header (sparse or
//! dense, chosen by the first input byte) through every HyperLogLog
//! operation memkv runs on stored values - count, merge, add, promotion,
//! decode - and checks that none panics and that a value the add accepted
//! is still an HLL (corruption is reported, never trusted).
#![no_main]

use libfuzzer_sys::fuzz_target;
use memkv::store::hll;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut v = b"HYLL".to_vec();
    v.push(if mode & 1 == 0 {
        hll::SPARSE
    } else {
        hll::DENSE
    });
    v.resize(hll::HDR_SIZE, 0);
    if mode & 1 == 1 {
        // Dense values have one exact size; pad or cut the input to it.
        let mut regs = rest.to_vec();
        regs.resize(hll::DENSE_SIZE - hll::HDR_SIZE, 0);
        v.extend_from_slice(&regs);
    } else {
        v.extend_from_slice(rest);
    }
    if !hll::is_hll(&v) {
        return;
    }
    let _ = hll::count(&v);
    let mut max = vec![0u8; hll::REGISTERS];
    let _ = hll::merge(&mut max, &v);
    let _ = hll::decode(&v);
    let limit = if mode & 2 == 0 { 3000 } else { 40 };
    let mut w = v.clone();
    for i in 0..64u32 {
        if hll::add(&mut w, &i.to_le_bytes(), limit).is_err() {
            break;
        }
        assert!(hll::is_hll(&w));
    }
    let mut d = v;
    if hll::sparse_to_dense(&mut d).is_ok() {
        assert!(hll::is_hll(&d));
        assert!(hll::count(&d).is_ok());
    }
});
