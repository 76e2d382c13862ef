//! The packed entry codec shared by the compact encodings of lists
//! (`store::list`) and hashes (`store::hash`): entries back to back in one
//! exactly sized buffer, each a LEB128 length followed by its bytes (one
//! byte of overhead up to 127 bytes, where Redis's listpack spends two or
//! more). The buffers are built only by this code, so decoding trusts them.

/// Bytes of the LEB128 encoding of `n`.
#[inline]
pub fn varint_len(mut n: usize) -> usize {
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

/// Encoded size of an entry holding `n` bytes.
#[inline]
pub fn entry_len(n: usize) -> usize {
    varint_len(n) + n
}

/// Writes the entry for `e` at the start of `out` (which is at least
/// `entry_len(e.len())` long); returns the bytes written.
#[inline]
pub fn write_entry(out: &mut [u8], e: &[u8]) -> usize {
    let mut n = e.len();
    let mut p = 0;
    while n >= 0x80 {
        out[p] = (n as u8) | 0x80;
        n >>= 7;
        p += 1;
    }
    out[p] = n as u8;
    p += 1;
    out[p..p + e.len()].copy_from_slice(e);
    p + e.len()
}

/// The length header at the start of `buf`: (element length, header
/// bytes). Short elements (< 128 bytes) have a 1-byte header, read without
/// the varint loop (scans of packed lists and hashes skip them this way).
#[inline(always)]
pub fn read_header(buf: &[u8]) -> (usize, usize) {
    let b0 = buf[0];
    if b0 < 0x80 {
        return (b0 as usize, 1);
    }
    let mut n = (b0 & 0x7f) as usize;
    let mut shift = 7;
    let mut h = 1;
    loop {
        let b = buf[h];
        h += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    (n, h)
}

/// Decodes the entry at the start of `buf`: its element and encoded size.
#[inline]
pub fn read_entry(buf: &[u8]) -> (&[u8], usize) {
    let (n, h) = read_header(buf);
    (&buf[h..h + n], h + n)
}

/// Replaces the `old` bytes at `off` of `buf` by `new` bytes (returned,
/// to be filled by the caller), keeping the buffer exactly sized.
pub fn splice(buf: &mut Box<[u8]>, off: usize, old: usize, new: usize) -> &mut [u8] {
    let len = buf.len();
    if new != old {
        let mut v = std::mem::take(buf).into_vec();
        if new > old {
            v.reserve_exact(new - old);
            v.resize(len + new - old, 0);
            v.copy_within(off + old..len, off + new);
        } else {
            v.copy_within(off + old..len, off + new);
            v.truncate(len - (old - new));
        }
        *buf = v.into_boxed_slice();
    }
    &mut buf[off..off + new]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        for n in [0usize, 1, 127, 128, 300, 16383, 16384, 70_000] {
            let e = vec![b'x'; n];
            let mut buf = vec![0u8; entry_len(n)];
            assert_eq!(write_entry(&mut buf, &e), entry_len(n));
            let (got, size) = read_entry(&buf);
            assert_eq!((got.len(), size), (n, entry_len(n)));
        }
        let mut b: Box<[u8]> = Box::from(&b"abcdef"[..]);
        splice(&mut b, 2, 2, 3).copy_from_slice(b"XYZ");
        assert_eq!(&*b, b"abXYZef");
        splice(&mut b, 0, 3, 0);
        assert_eq!(&*b, b"YZef");
    }
}
