//! Compact owned byte strings for keys and string values.
//!
//! Short strings (the common case: keys like `key:000000001234` and small
//! values) live inline without a heap allocation; longer keys own exactly
//! their bytes, longer string values a growable buffer (APPEND amortizes).
//! Nothing here ever borrows from a network buffer.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use super::buf::{LendVec, Lent, Vec32};

const INLINE_CAP: usize = 22;

/// An immutable owned key: inline up to 22 bytes, boxed beyond.
#[derive(Clone)]
pub enum Key {
    Inline { len: u8, data: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

impl Key {
    #[inline]
    pub fn new(b: &[u8]) -> Key {
        if b.len() <= INLINE_CAP {
            let mut data = [0u8; INLINE_CAP];
            data[..b.len()].copy_from_slice(b);
            Key::Inline {
                len: b.len() as u8,
                data,
            }
        } else {
            Key::Heap(b.into())
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, data } => &data[..*len as usize],
            Key::Heap(b) => b,
        }
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Key {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hash for Key {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Key {}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl From<&[u8]> for Key {
    fn from(b: &[u8]) -> Key {
        Key::new(b)
    }
}

/// The length of an inline `Sds` (0..=22). An enum, not a u8, so that its
/// unused values (23..=255) are the niche holding `Sds`'s and `Value`'s
/// tags: `Sds` and `Value` stay 24 bytes.
#[repr(u8)]
#[derive(Clone, Copy)]
#[rustfmt::skip]
pub enum InlineLen {
    L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10, L11,
    L12, L13, L14, L15, L16, L17, L18, L19, L20, L21, L22,
}

impl InlineLen {
    /// `n` (at most `INLINE_CAP`).
    #[inline]
    const fn new(n: usize) -> InlineLen {
        assert!(n <= INLINE_CAP);
        // SAFETY: InlineLen is repr(u8) with the variants 0..=22, and n is
        // one of them.
        unsafe { std::mem::transmute::<u8, InlineLen>(n as u8) }
    }

    #[inline]
    const fn get(self) -> usize {
        self as usize
    }
}

/// A mutable owned byte string (string values, list elements, hash fields):
/// inline up to 22 bytes, a growable buffer beyond (APPEND / SETRANGE
/// amortize). 24 bytes: `Heap` has u32 length and capacity; a string whose
/// length or capacity passes u32 (proto-max-bulk-len allows it) is `Huge`.
#[derive(Clone)]
pub enum Sds {
    Inline {
        len: InlineLen,
        data: [u8; INLINE_CAP],
    },
    Heap(Vec32),
    Huge(Box<Vec<u8>>),
}

impl Default for Sds {
    fn default() -> Self {
        Sds::Inline {
            len: InlineLen::L0,
            data: [0; INLINE_CAP],
        }
    }
}

impl Sds {
    #[inline]
    pub fn new(b: &[u8]) -> Sds {
        if b.len() <= INLINE_CAP {
            let mut data = [0u8; INLINE_CAP];
            data[..b.len()].copy_from_slice(b);
            Sds::Inline {
                len: InlineLen::new(b.len()),
                data,
            }
        } else {
            Sds::heap(b.to_vec())
        }
    }

    /// `v` on the heap whatever its length (keeps its capacity).
    #[inline]
    fn heap(v: Vec<u8>) -> Sds {
        if v.capacity() <= u32::MAX as usize {
            Sds::Heap(Vec32::from(v))
        } else {
            Sds::huge(v)
        }
    }

    #[cold]
    fn huge(v: Vec<u8>) -> Sds {
        Sds::Huge(Box::new(v))
    }

    /// Appends `tail` (APPEND's hot path: into a heap string's spare
    /// capacity without lending it as a Vec).
    #[inline]
    pub fn extend_from_slice(&mut self, tail: &[u8]) {
        if let Sds::Heap(v) = self
            && v.push_within_capacity(tail)
        {
            return;
        }
        let mut v = self.make_vec();
        reserve_greedy(&mut v, tail.len());
        v.extend_from_slice(tail);
    }

    pub fn from_vec(v: Vec<u8>) -> Sds {
        if v.len() <= INLINE_CAP {
            Sds::new(&v)
        } else {
            Sds::heap(v)
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Sds::Inline { len, data } => &data[..len.get()],
            Sds::Heap(v) => v,
            Sds::Huge(v) => v,
        }
    }

    /// Mutable access as a Vec (moves an inline string to the heap): a
    /// guard lending the bytes as a `Vec<u8>`, stored back on drop (as
    /// `Huge` if it grew past u32).
    pub fn make_vec(&mut self) -> Lent<'_, Sds> {
        Lent::new(self)
    }

    /// True when the string lives inline (no heap allocation).
    pub fn is_inline(&self) -> bool {
        matches!(self, Sds::Inline { .. })
    }

    /// Heap bytes used beyond the struct itself.
    pub fn heap_size(&self) -> usize {
        match self {
            Sds::Inline { .. } => 0,
            Sds::Heap(v) => v.capacity(),
            Sds::Huge(v) => v.capacity() + std::mem::size_of::<Vec<u8>>(),
        }
    }
}

/// Room for `additional` more bytes of a growing string, as Redis's
/// sdsMakeRoomFor grows it: to twice the new length under 1 MB, else 1 MB
/// past it (Vec's doubling would leave up to the whole length spare on a
/// big string built by APPEND / SETRANGE).
pub fn reserve_greedy(v: &mut Vec<u8>, additional: usize) {
    let need = v.len().saturating_add(additional);
    if need <= v.capacity() {
        return;
    }
    const MB: usize = 1 << 20;
    let target = if need < MB {
        need * 2
    } else {
        need.saturating_add(MB)
    };
    v.reserve_exact(target - v.len());
}

impl super::buf::sealed::Sealed for Sds {}

impl LendVec for Sds {
    #[inline]
    fn take_vec(&mut self) -> Vec<u8> {
        match std::mem::take(self) {
            Sds::Inline { len, data } => data[..len.get()].to_vec(),
            Sds::Heap(v) => v.into_vec(),
            Sds::Huge(v) => *v,
        }
    }

    #[inline]
    fn put_vec(&mut self, v: Vec<u8>) {
        // The emptied self owns nothing: no drop needed.
        std::mem::forget(std::mem::replace(self, Sds::heap(v)));
    }
}

impl std::ops::Deref for Sds {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Sds {
    fn eq(&self, other: &Sds) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Sds {}

impl Hash for Sds {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl Borrow<[u8]> for Sds {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for Sds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_grow_like_sds() {
        // Under 1 MB: twice the new length; past it, 1 MB more.
        let mut s = Sds::new(&[b'a'; 30]);
        s.extend_from_slice(&[b'b'; 70]);
        assert!(
            s.heap_size() >= 200 && s.heap_size() < 256,
            "{}",
            s.heap_size()
        );
        let mut big = Sds::new(b"");
        for _ in 0..3000 {
            big.extend_from_slice(&[b'x'; 1000]);
        }
        let spare = big.heap_size() - big.len();
        assert!(spare <= (1 << 20) + 64, "{spare} bytes spare");
    }

    #[test]
    fn sizes_stay_small() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        assert_eq!(std::mem::size_of::<Sds>(), 24);
    }

    #[test]
    fn inline_and_heap_roundtrip() {
        let short = Key::new(b"key:000000000001");
        assert!(matches!(short, Key::Inline { .. }));
        assert_eq!(&*short, b"key:000000000001");
        let long = Key::new(&[7u8; 40]);
        assert!(matches!(long, Key::Heap(_)));
        assert_eq!(long.len(), 40);
        let mut s = Sds::new(b"abc");
        s.make_vec().extend_from_slice(&[1u8; 30]);
        assert_eq!(s.len(), 33);
        assert!(matches!(s, Sds::Heap(_)));
        assert_eq!(&s[..4], b"abc\x01");
        s.make_vec().truncate(2);
        assert_eq!(&*s, b"ab");
        for n in 0..=INLINE_CAP + 1 {
            let v = vec![b'q'; n];
            let s = Sds::from_vec(v.clone());
            assert_eq!((&*s, s.is_inline()), (&v[..], n <= INLINE_CAP));
            assert_eq!(&*s.clone(), &v[..]);
        }
        let mut a = Sds::new(b"x");
        for _ in 0..100 {
            a.extend_from_slice(b"yz");
        }
        assert_eq!((a.len(), &a[..5]), (201, &b"xyzyz"[..]));
        let huge = Sds::Huge(Box::new(b"big".to_vec()));
        assert_eq!(&*huge.clone(), b"big");
        let mut h = huge;
        h.make_vec().push(b'!');
        assert!(matches!(&h, Sds::Heap(v) if &**v == b"big!"));
    }

    #[test]
    fn make_vec_writes_back_on_panic() {
        let mut s = Sds::new(b"xy");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s.make_vec().extend_from_slice(b"z");
            let mut g = s.make_vec();
            g.push(b'!');
            panic!("inside the guard");
        }));
        assert!(r.is_err());
        assert_eq!(&*s, b"xyz!");
    }
}
