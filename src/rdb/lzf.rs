//! LZF, the compression RDB strings use (`rdbcompression`): the format of
//! liblzf 3.x (literal runs of up to 32 bytes, back references of 3 to 264
//! bytes up to 8 KiB back). The compressor is a plain greedy matcher over a
//! hash of the next three bytes; any LZF decoder (Redis's included) reads
//! its output. The decompressor checks every offset and length.

/// Longest literal run one control byte covers.
const MAX_LIT: usize = 32;
/// Farthest back a reference can point.
const MAX_OFF: usize = 1 << 13;
/// Longest back reference (7 + 255 + 2 bytes).
const MAX_REF: usize = 264;
const HASH_BITS: u32 = 14;

#[inline]
fn hash3(b: &[u8]) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize
}

fn push_literals(out: &mut Vec<u8>, mut lit: &[u8]) {
    while !lit.is_empty() {
        let n = lit.len().min(MAX_LIT);
        out.push((n - 1) as u8);
        out.extend_from_slice(&lit[..n]);
        lit = &lit[n..];
    }
}

/// Compresses `input`; None unless the result is at most `max_out` bytes.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n == 0 || max_out == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(max_out.min(n + n / 32 + 1));
    // Position + 1 of the last occurrence of each 3-byte hash (0 = none).
    let mut table = vec![0u32; 1 << HASH_BITS];
    let (mut i, mut lit_start) = (0usize, 0usize);
    while i + 2 < n {
        let h = hash3(&input[i..]);
        let cand = table[h] as usize;
        table[h] = (i + 1) as u32;
        if cand > 0 {
            let r = cand - 1;
            let off = i - r - 1;
            if off < MAX_OFF && input[r..r + 3] == input[i..i + 3] {
                let maxlen = (n - i).min(MAX_REF);
                let mut l = 3;
                while l < maxlen && input[r + l] == input[i + l] {
                    l += 1;
                }
                push_literals(&mut out, &input[lit_start..i]);
                let enc = l - 2;
                if enc < 7 {
                    out.push((off >> 8) as u8 | (enc as u8) << 5);
                } else {
                    out.push((off >> 8) as u8 | 7 << 5);
                    out.push((enc - 7) as u8);
                }
                out.push(off as u8);
                // Index the positions inside the match too (better ratio
                // on repetitive data, which is what compresses anyway).
                let end = i + l;
                let mut j = i + 1;
                while j + 2 < n && j < end {
                    table[hash3(&input[j..])] = (j + 1) as u32;
                    j += 1;
                }
                i = end;
                lit_start = i;
                if out.len() > max_out {
                    return None;
                }
                continue;
            }
        }
        i += 1;
    }
    push_literals(&mut out, &input[lit_start..]);
    (out.len() <= max_out).then_some(out)
}

/// Decompresses `input` into exactly `expected` bytes; None if the data is
/// damaged (a reference before the start, a run past either end, or a
/// different length).
pub fn decompress(input: &[u8], expected: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(expected);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let l = ctrl + 1;
            if ip + l > input.len() || out.len() + l > expected {
                return None;
            }
            out.extend_from_slice(&input[ip..ip + l]);
            ip += l;
        } else {
            let mut l = ctrl >> 5;
            if l == 7 {
                l += *input.get(ip)? as usize;
                ip += 1;
            }
            let off = ((ctrl & 0x1f) << 8) | *input.get(ip)? as usize;
            ip += 1;
            l += 2;
            if off + 1 > out.len() || out.len() + l > expected {
                return None;
            }
            let start = out.len() - off - 1;
            for k in 0..l {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == expected).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut inputs: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"abcabcabcabcabcabcabcabcabcabc hello world hello world hello".to_vec(),
            (0..5000u32).map(|i| (i % 7 + i / 300) as u8).collect(),
            (0..70000u32).map(|i| (i * 31 % 251) as u8).collect(),
        ];
        let mut x = 12345u64;
        inputs.push(
            (0..3000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 4) as u8 + b'a'
                })
                .collect(),
        );
        for inp in inputs {
            let c = compress(&inp, inp.len()).expect("compressible");
            assert!(c.len() < inp.len());
            assert_eq!(decompress(&c, inp.len()).as_deref(), Some(&inp[..]));
        }
    }

    #[test]
    fn incompressible_and_damaged() {
        assert!(compress(b"abcdefgh", 4).is_none());
        // A reference before the start of the output.
        assert!(decompress(&[0x20, 0x05], 3).is_none());
        // A literal run past the input.
        assert!(decompress(&[0x05, b'a'], 6).is_none());
        // Wrong length.
        assert!(decompress(&[0x00, b'a'], 2).is_none());
        assert_eq!(
            decompress(&[0x00, b'a', 0x20, 0x00], 4).as_deref(),
            Some(&b"aaaa"[..])
        );
    }

    /// The long back-reference form (len 7 + extra byte), overlapping.
    #[test]
    fn decodes_long_reference() {
        // literal 'a'; reference of 7 + 28 + 2 = 37 bytes at offset 0;
        // literal 'a' 'a'.
        let data = [0x00, b'a', 0xe0, 0x1c, 0x00, 0x01, b'a', b'a'];
        assert_eq!(decompress(&data, 40).as_deref(), Some(&[b'a'; 40][..]));
    }
}
