//! Redis's HyperLogLog representation (hyperloglog.c), byte for byte: the
//! 16-byte `HYLL` header (magic, encoding, 3 unused bytes, the cached
//! cardinality in 8 little-endian bytes whose top bit marks it stale), the
//! sparse encoding (ZERO / XZERO / VAL opcodes, promoted to dense past
//! `hll-sparse-max-bytes` or a register above 32) and the dense one (16384
//! registers of 6 bits), MurmurHash64A with Redis's seed, and the 7.0
//! cardinality estimator (Ertl's improved raw estimator).
//!
//! An HLL is a plain string value; everything here works on its bytes and
//! reports corruption as [`Invalid`] instead of trusting lengths or runs.

/// Registers are addressed by the low `P` bits of the hash.
const P: u32 = 14;
/// Hash bits left for the run of zeroes.
const Q: usize = 64 - P as usize;
pub const REGISTERS: usize = 1 << P;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
pub const HDR_SIZE: usize = 16;
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * BITS).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const MAX_ENCODING: u8 = 1;

const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The value is not a well-formed HLL (bad sparse runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

/// MurmurHash2, 64-bit version, as Redis's (little-endian word reads).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let len = key.len();
    let mut h = seed ^ (len as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// `hllPatLen`: the register an element maps to and its run length
/// (zeroes after the index bits, plus one).
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A fresh HLL: sparse, all registers zero (XZERO runs), cache valid at 0.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR_SIZE + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.resize(HDR_SIZE, 0);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(SPARSE_XZERO_MAX_LEN);
        push_xzero(&mut v, n);
        left -= n;
    }
    v
}

/// `isHLLObjectOrReply`'s checks: magic, a known encoding, and the exact
/// size for dense.
pub fn is_hll(v: &[u8]) -> bool {
    v.len() >= HDR_SIZE
        && &v[..4] == b"HYLL"
        && v[4] <= MAX_ENCODING
        && (v[4] != DENSE || v.len() == DENSE_SIZE)
}

pub fn encoding(v: &[u8]) -> u8 {
    v[4]
}

/// The cached cardinality, unless it is stale.
pub fn cached(v: &[u8]) -> Option<u64> {
    if v[15] & 0x80 != 0 {
        return None;
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&v[8..16]);
    Some(u64::from_le_bytes(b))
}

pub fn set_cached(v: &mut [u8], card: u64) {
    v[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate_cache(v: &mut [u8]) {
    v[15] |= 0x80;
}

// ------------------------------------------------------------------ dense

/// Register `i` of the dense array `regs` (the byte past the end reads as
/// 0, like the SDS terminator Redis relies on).
#[inline]
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = regs.get(byte).copied().unwrap_or(0) as u32;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

#[inline]
pub fn dense_set(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = val as u32;
    if let Some(b) = regs.get_mut(byte) {
        *b &= !((REGISTER_MAX as u32) << fb) as u8;
        *b |= (v << fb) as u8;
    }
    if let Some(b) = regs.get_mut(byte + 1) {
        *b &= !((REGISTER_MAX as u32) >> (8 - fb)) as u8;
        *b |= (v >> (8 - fb)) as u8;
    }
}

/// The dense registers as 24-bit words of four (three bytes hold four
/// 6-bit registers, least significant bits first): the whole-array loops
/// (PFCOUNT's histogram, PFMERGE) read them a word at a time, as Redis's
/// hllDenseRegHisto does, instead of two bounds-checked bytes per
/// register. None for a short array (callers fall back to `dense_get`).
#[inline]
fn dense_words(regs: &[u8]) -> Option<impl Iterator<Item = u32> + '_> {
    let regs = regs.get(..REGISTERS * BITS / 8)?;
    Some(
        regs.chunks_exact(3)
            .map(|c| u32::from(c[0]) | u32::from(c[1]) << 8 | u32::from(c[2]) << 16),
    )
}

/// `hllDenseSet`: raises register `i` to `count`; true if it changed.
fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_set(regs, i, count);
        true
    } else {
        false
    }
}

// ----------------------------------------------------------------- sparse

/// One sparse opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// `00xxxxxx`: 1..=64 zero registers.
    Zero(usize),
    /// `01xxxxxx yyyyyyyy`: 1..=16384 zero registers.
    XZero(usize),
    /// `1vvvvvxx`: 1..=4 registers of value 1..=32.
    Val(u8, usize),
}

impl Op {
    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }
    fn bytes(self) -> usize {
        if matches!(self, Op::XZero(_)) { 2 } else { 1 }
    }
}

/// Decodes the opcode at `p` (a truncated XZERO reads a 0 second byte, as
/// Redis reads the SDS terminator).
#[inline]
fn op_at(s: &[u8], p: usize) -> Op {
    let b = s[p];
    if b & 0xc0 == 0 {
        Op::Zero((b & 0x3f) as usize + 1)
    } else if b & 0x80 == 0 {
        let lo = s.get(p + 1).copied().unwrap_or(0) as usize;
        Op::XZero((((b & 0x3f) as usize) << 8 | lo) + 1)
    } else {
        Op::Val(((b >> 2) & 0x1f) + 1, (b & 3) as usize + 1)
    }
}

fn val_byte(val: u8, len: usize) -> u8 {
    (((val - 1) << 2) | (len as u8 - 1)) | 0x80
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push((l >> 8) as u8 | 0x40);
    v.push((l & 0xff) as u8);
}

/// The run of zero registers of length `len`, ZERO or XZERO as Redis picks.
fn push_zeros(v: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        push_xzero(v, len);
    } else {
        v.push((len - 1) as u8);
    }
}

/// The value of register `index` in a sparse HLL (Err if the runs do not
/// cover it).
fn sparse_get(v: &[u8], index: usize) -> Result<u8, Invalid> {
    let mut p = HDR_SIZE;
    let mut first = 0usize;
    while p < v.len() {
        let op = op_at(v, p);
        if index < first + op.span() {
            return Ok(match op {
                Op::Val(val, _) => val,
                _ => 0,
            });
        }
        first += op.span();
        p += op.bytes();
    }
    Err(Invalid)
}

/// `hllSparseToDense` (in place): Err if the runs do not add up to exactly
/// 16384 registers. The cached cardinality is kept.
pub fn sparse_to_dense(v: &mut Vec<u8>) -> Result<(), Invalid> {
    if v[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR_SIZE].copy_from_slice(&v[..HDR_SIZE]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR_SIZE..];
    let mut idx = 0usize;
    let mut p = HDR_SIZE;
    while p < v.len() {
        let op = op_at(v, p);
        p += op.bytes();
        match op {
            Op::Zero(n) | Op::XZero(n) => idx += n,
            Op::Val(val, n) => {
                if idx + n > REGISTERS {
                    break;
                }
                for i in idx..idx + n {
                    dense_set(regs, i, val);
                }
                idx += n;
            }
        }
    }
    if idx != REGISTERS {
        return Err(Invalid);
    }
    *v = dense;
    Ok(())
}

/// `hllSparseSet`: raises register `index` to `count`, splitting the
/// opcode that covers it and merging equal neighbours, or promotes to
/// dense (count above 32, or the value would pass `max_bytes`). Ok(true)
/// if a register changed.
pub fn sparse_set(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Invalid> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    // Step 1: the opcode covering `index`.
    let mut p = HDR_SIZE;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut found = None;
    while p < v.len() {
        let op = op_at(v, p);
        if index < first + op.span() {
            found = Some(op);
            break;
        }
        prev = Some(p);
        first += op.span();
        p += op.bytes();
    }
    let Some(op) = found else {
        return Err(Invalid);
    };
    let span = op.span();
    // Step 2: trivial in-place cases.
    let mut done = false;
    match op {
        Op::Val(old, len) => {
            if old >= count {
                return Ok(false);
            }
            if len == 1 {
                v[p] = val_byte(count, 1);
                done = true;
            }
        }
        Op::Zero(1) => {
            v[p] = val_byte(count, 1);
            done = true;
        }
        _ => {}
    }
    if !done {
        // General case: split the opcode into up to three.
        let last = first + span - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        match op {
            Op::Zero(_) | Op::XZero(_) => {
                if index != first {
                    push_zeros(&mut seq, index - first);
                }
                seq.push(val_byte(count, 1));
                if index != last {
                    push_zeros(&mut seq, last - index);
                }
            }
            Op::Val(cur, _) => {
                if index != first {
                    seq.push(val_byte(cur, index - first));
                }
                seq.push(val_byte(count, 1));
                if index != last {
                    seq.push(val_byte(cur, last - index));
                }
            }
        }
        let oldlen = op.bytes();
        if seq.len() > oldlen && v.len() + seq.len() - oldlen > max_bytes {
            return promote(v, index, count);
        }
        let end = (p + oldlen).min(v.len());
        v.splice(p..end, seq);
    }
    // Step 4: merge adjacent equal VAL opcodes, up to 5 opcodes from prev.
    let mut p = prev.unwrap_or(HDR_SIZE);
    let mut scan = 5;
    while p < v.len() && scan > 0 {
        scan -= 1;
        let op = op_at(v, p);
        let Op::Val(v1, l1) = op else {
            p += op.bytes();
            continue;
        };
        if p + 1 < v.len()
            && let Op::Val(v2, l2) = op_at(v, p + 1)
            && v1 == v2
            && l1 + l2 <= SPARSE_VAL_MAX_LEN
        {
            v[p + 1] = val_byte(v1, l1 + l2);
            v.remove(p);
            continue;
        }
        p += 1;
    }
    invalidate_cache(v);
    Ok(true)
}

/// Converts to dense, then sets the register there.
fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Invalid> {
    sparse_to_dense(v)?;
    Ok(dense_raise(&mut v[HDR_SIZE..], index, count))
}

/// `hllAdd`: Ok(true) if the element raised a register.
pub fn add(v: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, Invalid> {
    let (index, count) = pat_len(ele);
    set(v, index, count, max_bytes)
}

/// Raises register `index` to `count` in either encoding.
pub fn set(v: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Invalid> {
    match v[4] {
        DENSE => Ok(dense_raise(&mut v[HDR_SIZE..], index, count)),
        SPARSE => sparse_set(v, index, count, max_bytes),
        _ => Err(Invalid),
    }
}

/// Would adding `ele` change anything? (Err: corrupt, the add reports it.)
pub fn would_add(v: &[u8], ele: &[u8]) -> Result<bool, Invalid> {
    let (index, count) = pat_len(ele);
    match v[4] {
        DENSE => Ok(count > dense_get(&v[HDR_SIZE..], index)),
        SPARSE => Ok(count > sparse_get(v, index)?),
        _ => Err(Invalid),
    }
}

// ------------------------------------------------------------------ count

/// Register histogram of an HLL (Err: sparse runs not 16384 registers).
fn histogram(v: &[u8]) -> Result<[u32; 64], Invalid> {
    let mut h = [0u32; 64];
    match v[4] {
        DENSE => {
            let regs = &v[HDR_SIZE..];
            match dense_words(regs) {
                Some(words) => {
                    for w in words {
                        h[(w & 63) as usize] += 1;
                        h[(w >> 6 & 63) as usize] += 1;
                        h[(w >> 12 & 63) as usize] += 1;
                        h[(w >> 18) as usize] += 1;
                    }
                }
                None => {
                    for i in 0..REGISTERS {
                        h[dense_get(regs, i) as usize] += 1;
                    }
                }
            }
        }
        SPARSE => {
            let mut idx = 0usize;
            let mut p = HDR_SIZE;
            while p < v.len() {
                let op = op_at(v, p);
                p += op.bytes();
                let (val, n) = match op {
                    Op::Zero(n) | Op::XZero(n) => (0, n),
                    Op::Val(val, n) => (val as usize, n),
                };
                idx += n;
                h[val] = h[val].wrapping_add(n as u32);
            }
            if idx != REGISTERS {
                return Err(Invalid);
            }
        }
        _ => return Err(Invalid),
    }
    Ok(h)
}

/// Ertl's sigma.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let zp = z;
        z += x * y;
        y += y;
        if zp == z {
            return z;
        }
    }
}

/// Ertl's tau.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let zp = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if zp == z {
            return z / 3.0;
        }
    }
}

/// `hllCount`'s estimate from a register histogram.
fn estimate(h: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimated cardinality of one HLL.
pub fn count(v: &[u8]) -> Result<u64, Invalid> {
    Ok(estimate(&histogram(v)?))
}

/// The estimated cardinality of registers held one per byte (a merge).
pub fn count_raw(max: &[u8]) -> u64 {
    let mut h = [0u32; 64];
    for &r in max {
        h[(r & 63) as usize] += 1;
    }
    estimate(&h)
}

/// `hllMerge`: max[i] = max(max[i], register i of `v`).
pub fn merge(max: &mut [u8], v: &[u8]) -> Result<(), Invalid> {
    match v[4] {
        DENSE => {
            let regs = &v[HDR_SIZE..];
            match dense_words(regs) {
                Some(words) if max.len() >= REGISTERS => {
                    for (w, m) in words.zip(max.chunks_exact_mut(4)) {
                        let r = [w & 63, w >> 6 & 63, w >> 12 & 63, w >> 18];
                        for (m, r) in m.iter_mut().zip(r) {
                            *m = (*m).max(r as u8);
                        }
                    }
                }
                _ => {
                    for (i, m) in max.iter_mut().enumerate().take(REGISTERS) {
                        let r = dense_get(regs, i);
                        if r > *m {
                            *m = r;
                        }
                    }
                }
            }
            Ok(())
        }
        SPARSE => {
            let mut i = 0usize;
            let mut p = HDR_SIZE;
            while p < v.len() {
                let op = op_at(v, p);
                p += op.bytes();
                match op {
                    Op::Zero(n) | Op::XZero(n) => i += n,
                    Op::Val(val, n) => {
                        if i + n > REGISTERS {
                            break;
                        }
                        for m in &mut max[i..i + n] {
                            if val > *m {
                                *m = val;
                            }
                        }
                        i += n;
                    }
                }
            }
            if i != REGISTERS {
                return Err(Invalid);
            }
            Ok(())
        }
        _ => Err(Invalid),
    }
}

/// PFDEBUG DECODE's text of a sparse HLL.
pub fn decode(v: &[u8]) -> String {
    let mut out = String::new();
    let mut p = HDR_SIZE;
    while p < v.len() {
        let op = op_at(v, p);
        p += op.bytes();
        match op {
            Op::Zero(n) => out.push_str(&format!("z:{n} ")),
            Op::XZero(n) => out.push_str(&format!("Z:{n} ")),
            Op::Val(val, n) => out.push_str(&format!("v:{val},{n} ")),
        }
    }
    out.trim_matches(' ').to_string()
}

#[cfg(test)]
mod tests {

    #[test]
    fn dense_words_unpack_as_dense_get() {
        let mut regs = vec![0u8; REGISTERS * BITS / 8];
        let mut x: u32 = 12345;
        for i in 0..REGISTERS {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            dense_set(&mut regs, i, (x >> 16) as u8 & REGISTER_MAX);
        }
        let words: Vec<u32> = dense_words(&regs).unwrap().collect();
        assert_eq!(words.len(), REGISTERS / 4);
        for (j, w) in words.iter().enumerate() {
            let r = [w & 63, w >> 6 & 63, w >> 12 & 63, w >> 18];
            for (k, r) in r.iter().enumerate() {
                assert_eq!(*r as u8, dense_get(&regs, j * 4 + k));
            }
        }
        assert!(dense_words(&regs[1..]).is_none());
    }

    use super::*;

    fn add_all(v: &mut Vec<u8>, n: u64, max_bytes: usize) {
        for j in 0..n {
            let _ = add(v, &j.to_le_bytes(), max_bytes);
        }
    }

    #[test]
    fn registers_roundtrip_without_touching_neighbours() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR_SIZE];
        let mut want = vec![0u8; REGISTERS];
        let mut x = 0x1234_5678_9abc_def1u64;
        for _ in 0..3 {
            for (i, w) in want.iter_mut().enumerate() {
                let x = crate::store::xorshift(&mut x);
                *w = (x & 63) as u8;
                dense_set(&mut regs, i, *w);
            }
            for (i, w) in want.iter().enumerate() {
                assert_eq!(dense_get(&regs, i), *w, "register {i}");
            }
        }
    }

    #[test]
    fn sparse_and_dense_agree_and_promote() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        sparse_to_dense(&mut dense).unwrap();
        assert_eq!(dense.len(), DENSE_SIZE);
        let mut checkpoint = 1u64;
        for j in 1..=200_000u64 {
            let e = j.to_le_bytes();
            add(&mut sparse, &e, 3000).unwrap();
            add(&mut dense, &e, 3000).unwrap();
            if j == checkpoint {
                assert_eq!(count(&sparse).unwrap(), count(&dense).unwrap());
                let err = (j as f64 - count(&dense).unwrap() as f64).abs();
                assert!(
                    err <= (1.04 / 128.0 * 6.0 * j as f64).ceil().max(1.0),
                    "{j}"
                );
                checkpoint *= 10;
            }
        }
        assert_eq!(encoding(&sparse), DENSE);
        assert_eq!(sparse, {
            let mut d = dense.clone();
            // Both caches are stale; compare the registers.
            d[8..16].copy_from_slice(&sparse[8..16]);
            d
        });
    }

    #[test]
    fn sparse_stays_sparse_below_the_limit() {
        let mut v = new_sparse();
        add_all(&mut v, 100, 3000);
        assert_eq!(encoding(&v), SPARSE);
        assert!(v.len() <= 3000);
        let mut m = vec![0u8; REGISTERS];
        merge(&mut m, &v).unwrap();
        let mut d = v.clone();
        sparse_to_dense(&mut d).unwrap();
        for (i, r) in m.iter().enumerate() {
            assert_eq!(dense_get(&d[HDR_SIZE..], i), *r);
        }
        assert_eq!(count_raw(&m), count(&v).unwrap());
    }

    #[test]
    fn corrupt_values_are_errors_not_panics() {
        // Truncated sparse runs, overlong runs, stray bytes, odd lengths.
        let base = new_sparse();
        let mut cases: Vec<Vec<u8>> =
            vec![base[..HDR_SIZE].to_vec(), base[..HDR_SIZE + 1].to_vec()];
        let mut long = base.clone();
        long.extend_from_slice(&[0x7f, 0xff, 0xff]);
        cases.push(long);
        let mut vals = base[..HDR_SIZE].to_vec();
        vals.extend(std::iter::repeat_n(0xff, 5000));
        cases.push(vals);
        let mut x = 99u64;
        for _ in 0..300 {
            let mut v = base.clone();
            add_all(&mut v, 50, 3000);
            for _ in 0..3 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let at = HDR_SIZE + (x >> 33) as usize % (v.len() - HDR_SIZE);
                v[at] = (x >> 20) as u8;
            }
            if x & 1 == 0 {
                let cut = HDR_SIZE + (x >> 40) as usize % (v.len() - HDR_SIZE);
                v.truncate(cut);
            }
            cases.push(v);
        }
        for v in cases {
            assert!(is_hll(&v));
            let _ = count(&v);
            let mut m = vec![0u8; REGISTERS];
            let _ = merge(&mut m, &v);
            let _ = decode(&v);
            let mut w = v.clone();
            for j in 0..200u64 {
                if add(&mut w, &j.to_le_bytes(), 3000).is_err() {
                    break;
                }
            }
            let mut d = v.clone();
            let _ = sparse_to_dense(&mut d);
        }
        // A dense value of the wrong size is not an HLL at all.
        let mut d = new_sparse();
        sparse_to_dense(&mut d).unwrap();
        d.pop();
        assert!(!is_hll(&d));
        let mut bad = new_sparse();
        bad[4] = 2;
        assert!(!is_hll(&bad));
    }
}
