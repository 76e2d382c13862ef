//! LZF, the compression RDB strings use (`rdbcompression`): the format of
//! liblzf 3.x (literal runs of up to 32 bytes, back references of 3 to 264
//! bytes up to 8 KiB back). The compressor is liblzf's own algorithm as
//! Redis builds it, so compressed payloads are Redis's byte for byte (DUMP,
//! DEBUG OBJECT's serializedlength); any LZF decoder reads its output. The
//! decompressor checks every offset and length.

/// Longest literal run one control byte covers.
const MAX_LIT: usize = 1 << 5;
/// Farthest back a reference can point.
const MAX_OFF: usize = 1 << 13;
/// Longest back reference (7 + 255 + 2 bytes).
const MAX_REF: usize = (1 << 8) + (1 << 3);
/// Redis's lzfP.h: `HLOG 16`, `VERY_FAST 1`.
const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;

#[inline]
fn frst(b: &[u8], i: usize) -> u32 {
    (b[i] as u32) << 8 | b[i + 1] as u32
}

#[inline]
fn next(v: u32, b: &[u8], i: usize) -> u32 {
    v << 8 | b[i + 2] as u32
}

/// liblzf's `IDX` with `VERY_FAST`.
#[inline]
fn idx(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// liblzf's hash table, kept per thread and never cleared: a slot counts
/// only when it carries the current call's generation (Redis's table is
/// uninitialized stack; treating old slots as empty is what a fresh one
/// gives, and it keeps the output deterministic).
struct Htab {
    slots: Vec<u64>,
    generation: u32,
}

thread_local! {
    static HTAB: std::cell::RefCell<Htab> = const {
        std::cell::RefCell::new(Htab { slots: Vec::new(), generation: 0 })
    };
}

/// Compresses `input`; None unless the result is at most `max_out` bytes.
/// A transliteration of liblzf 3.6's `lzf_compress` as Redis builds it
/// (`HLOG 16`, `VERY_FAST`), so RDB payloads (and DEBUG OBJECT's
/// serializedlength) have Redis's lengths, bytes and give-up points.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let in_len = input.len();
    if in_len == 0 || max_out == 0 || in_len > u32::MAX as usize {
        return None;
    }
    HTAB.with(|t| {
        let mut t = t.borrow_mut();
        if t.slots.is_empty() {
            t.slots = vec![0; HSIZE];
        }
        t.generation = t.generation.wrapping_add(1);
        if t.generation == 0 {
            t.slots.iter_mut().for_each(|s| *s = 0);
            t.generation = 1;
        }
        let g = (t.generation as u64) << 32;
        lzf_compress(input, max_out, &mut t.slots, g)
    })
}

/// Copies one literal byte into the open run, closing it (its control byte
/// written) and starting the next once it holds MAX_LIT bytes.
#[inline]
fn literal(out: &mut [u8], op: &mut usize, lit: &mut usize, b: u8) {
    *lit += 1;
    out[*op] = b;
    *op += 1;
    if *lit == MAX_LIT {
        out[*op - *lit - 1] = (*lit - 1) as u8;
        *lit = 0;
        *op += 1;
    }
}

fn lzf_compress(input: &[u8], out_end: usize, htab: &mut [u64], g: u64) -> Option<Vec<u8>> {
    let in_len = input.len();
    let mut out = vec![0u8; out_end + 1];
    let (mut ip, mut op, mut lit) = (0usize, 1usize, 0usize);
    let mut hval = if in_len >= 2 { frst(input, 0) } else { 0 };
    while ip + 2 < in_len {
        hval = next(hval, input, ip);
        let slot = idx(hval);
        let old = htab[slot];
        htab[slot] = g | ip as u64;
        let r = (old >> 32 << 32 == g).then_some((old & 0xffff_ffff) as usize);
        if let Some(r) = r
            && ip - r - 1 < MAX_OFF
            && r > 0
            && input[r + 2] == input[ip + 2]
            && input[r..r + 2] == input[ip..ip + 2]
        {
            let off = ip - r - 1;
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            if op + 3 + 1 >= out_end && op - usize::from(lit == 0) + 3 + 1 >= out_end {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            op -= usize::from(lit == 0); // undo an empty run
            // liblzf unrolls 16 steps without the maxlen test first.
            let mut done = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[r + len] != input[ip + len] {
                        done = true;
                        break;
                    }
                }
            }
            if !done {
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2; // octets - 1
            ip += 1;
            if len < 7 {
                out[op] = (off >> 8) as u8 + ((len as u8) << 5);
                op += 1;
            } else {
                out[op] = (off >> 8) as u8 + (7 << 5);
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 2; // and start a run
            lit = 0;
            ip += len + 1;
            if ip + 2 >= in_len {
                break;
            }
            // VERY_FAST: hash the last two positions of the match.
            ip -= 2;
            hval = frst(input, ip);
            for _ in 0..2 {
                hval = next(hval, input, ip);
                htab[idx(hval)] = g | ip as u64;
                ip += 1;
            }
        } else {
            if op >= out_end {
                return None;
            }
            literal(&mut out, &mut op, &mut lit, input[ip]);
            ip += 1;
        }
    }
    if op + 3 > out_end {
        return None;
    }
    while ip < in_len {
        literal(&mut out, &mut op, &mut lit, input[ip]);
        ip += 1;
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(out)
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
