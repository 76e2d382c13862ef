//! Feeds arbitrary bytes to the RDB codec the three ways the server does -
//! a RESTORE payload value (`Decoder::value`), a whole file
//! (`FileLoader`, checksum on and off) and the packed blob readers - and
//! checks: no panic, no read past the input, and every value that decodes
//! re-encodes to bytes that decode to the same digest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memkv::rdb::{self, Decoder, LoadLimits, SaveOpts, file, pack};
use memkv::store::Store;
use memkv::store::digest::mix_value;

fuzz_target!(|data: &[u8]| {
    let lim = LoadLimits::default();
    if let Some((&ty, rest)) = data.split_first() {
        let mut d = Decoder::new(rest);
        if let Ok(Some(v)) = d.value(ty, &lim) {
            assert!(d.pos <= rest.len());
            let mut a = [0u8; 20];
            mix_value(&mut a, &v, false);
            let mut out = Vec::new();
            rdb::save::write_value(&mut out, &v, &SaveOpts::default());
            let mut d2 = Decoder::new(&out[1..]);
            let v2 = d2
                .value(out[0], &lim)
                .expect("re-encoded value decodes")
                .expect("non-empty");
            let mut b = [0u8; 20];
            mix_value(&mut b, &v2, false);
            assert_eq!(a, b);
        }
    }
    for check in [true, false] {
        let mut body = b"REDIS0010".to_vec();
        body.extend_from_slice(data);
        let mut store = Store::new(16);
        let _ = file::load_all(body, &mut store, &lim, check);
    }
    let _ = pack::listpack_entries(data);
    let _ = pack::ziplist_entries(data);
    let _ = pack::zipmap_entries(data);
    let _ = pack::intset_members(data);
});
