//! Compact owned byte strings for keys and string values.
//!
//! Short strings (the common case: keys like `key:000000001234` and small
//! values) live inline without a heap allocation; longer keys own exactly
//! their bytes, longer string values a growable buffer (APPEND amortizes).
//! Nothing here ever borrows from a network buffer.
//!
//! A string value also carries what OBJECT ENCODING needs beyond its bytes
//! ([`StrEnc`]): Redis 7.0 decides a string's encoding by its history, not
//! its bytes (SET gives `int` / `embstr` / `raw` by the bytes, but APPEND,
//! SETRANGE, SETBIT, BITFIELD, BITOP and the HyperLogLog commands leave it
//! `raw` however short or numeric, and INCRBYFLOAT `embstr` even for
//! "3"; and COPY of a shared integer 0..9999 makes an integer object of its
//! own, OBJECT REFCOUNT 1). The mark costs no space. `Sds` is a tag byte
//! (whose spare values are `Value`'s other variants' tags) and 23 bytes: an
//! inline string's data and length byte, which holds the mark in its spare
//! high bits (`InlineLen`: 0..=22 by the bytes, 32..=54 raw, 64..=86
//! embstr, 96..=118 unshared), or padding, a heap string's `raw` flag and
//! its `Vec32`. Only a heap string's lengths 23..=44 need the flag (longer
//! strings are raw anyway), and only inline strings the other marks (a
//! string that reads as an integer is at most 20 bytes). Not a fourth
//! variant: that made every match on a string (GET's, a value's drop) a
//! step longer.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use super::buf::{LendVec, Lent, Vec32};

/// The longest string held inline (`Key`, `Sds`).
pub const INLINE_CAP: usize = 22;

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

/// The length of an inline `Sds` (0..=22) and its [`StrEnc`] mark (bits
/// 5 and 6). An enum, not a u8, so that the compiler knows the length's
/// range (no bounds check slicing the data) and has a niche to spare.
#[repr(u8)]
#[derive(Clone, Copy)]
#[rustfmt::skip]
pub enum InlineLen {
    L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10, L11,
    L12, L13, L14, L15, L16, L17, L18, L19, L20, L21, L22,
    R0 = RAW_BIT, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11,
    R12, R13, R14, R15, R16, R17, R18, R19, R20, R21, R22,
    E0 = EMBSTR_BIT, E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11,
    E12, E13, E14, E15, E16, E17, E18, E19, E20, E21, E22,
    U0 = UNSHARED_BITS, U1, U2, U3, U4, U5, U6, U7, U8, U9, U10, U11,
    U12, U13, U14, U15, U16, U17, U18, U19, U20, U21, U22,
}

/// `InlineLen`'s mark bits (the length takes the low 5).
const RAW_BIT: u8 = 0x20;
const EMBSTR_BIT: u8 = 0x40;
const UNSHARED_BITS: u8 = 0x60;
const LEN_MASK: u8 = 0x1f;

impl InlineLen {
    /// `n` (at most `INLINE_CAP`), unmarked.
    #[inline]
    const fn new(n: usize) -> InlineLen {
        assert!(n <= INLINE_CAP);
        // SAFETY: InlineLen is repr(u8) with the variants 0..=22, and n is
        // one of them.
        unsafe { std::mem::transmute::<u8, InlineLen>(n as u8) }
    }

    #[inline]
    const fn get(self) -> usize {
        let n = (self as u8 & LEN_MASK) as usize;
        // SAFETY: every variant's low 5 bits are 0..=22 (the runs start at
        // multiples of 32); said so that slicing the data needs no bounds
        // check (GET's path).
        unsafe { std::hint::assert_unchecked(n <= INLINE_CAP) };
        n
    }

    /// The same length with mark `m`.
    #[inline]
    fn marked(self, m: StrEnc) -> InlineLen {
        let bits = match m {
            StrEnc::Derived => 0,
            StrEnc::Raw => RAW_BIT,
            StrEnc::Embstr => EMBSTR_BIT,
            StrEnc::Unshared => UNSHARED_BITS,
        };
        // SAFETY: the length is 0..=22 and `bits` one of the four runs'
        // starts: a variant.
        unsafe { std::mem::transmute::<u8, InlineLen>(self as u8 & LEN_MASK | bits) }
    }

    #[inline]
    fn mark(self) -> StrEnc {
        match self as u8 & !LEN_MASK {
            0 => StrEnc::Derived,
            RAW_BIT => StrEnc::Raw,
            EMBSTR_BIT => StrEnc::Embstr,
            _ => StrEnc::Unshared,
        }
    }
}

/// What a string value's history says about its Redis encoding (OBJECT
/// ENCODING, DEBUG OBJECT), where its bytes alone do not say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrEnc {
    /// As Redis's tryObjectEncoding leaves it (SET, MSET, INCR, RESTORE,
    /// an RDB load, ...): `int` if it reads as an i64 in at most 20
    /// bytes, else `embstr` up to 44 bytes, else `raw`.
    Derived,
    /// Changed in place or built by a command that makes a raw object
    /// (Redis's dbUnshareStringValue / createObject): `raw` at any length.
    Raw,
    /// INCRBYFLOAT's result (createStringObject without the integer
    /// check): `embstr` even when it reads as an integer, while at most 44
    /// bytes.
    Embstr,
    /// As `Derived`, but an integer 0..9999 is not Redis's shared object
    /// (COPY's dupStringObject): OBJECT REFCOUNT 1.
    Unshared,
}

/// A mutable owned byte string (string values, list elements, hash fields):
/// inline up to 22 bytes, a growable buffer beyond (APPEND / SETRANGE
/// amortize). 24 bytes: `Heap` has u32 length and capacity; a string whose
/// length or capacity passes u32 (proto-max-bulk-len allows it) is `Huge`.
/// `raw`: marked [`StrEnc::Raw`] (module doc).
#[derive(Clone)]
pub enum Sds {
    Inline {
        len: InlineLen,
        data: [u8; INLINE_CAP],
    },
    Heap {
        buf: Vec32,
        raw: bool,
    },
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
            Sds::Heap {
                buf: Vec32::from(v),
                raw: false,
            }
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
        if let Sds::Heap { buf, .. } = self
            && buf.push_within_capacity(tail)
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
            Sds::Heap { buf, .. } => buf,
            Sds::Huge(v) => v,
        }
    }

    /// The bytes for changing in place (length, place and mark stay).
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Sds::Inline { len, data } => &mut data[..len.get()],
            Sds::Heap { buf, .. } => buf,
            Sds::Huge(v) => v,
        }
    }

    /// The string's [`StrEnc`] mark.
    #[inline]
    pub fn enc(&self) -> StrEnc {
        match self {
            Sds::Inline { len, .. } => len.mark(),
            Sds::Heap { raw: true, .. } => StrEnc::Raw,
            Sds::Heap { .. } | Sds::Huge(_) => StrEnc::Derived,
        }
    }

    /// Marks the string raw (what Redis's dbUnshareStringValue makes of
    /// it). Edits through `make_vec` / `extend_from_slice` keep the mark.
    #[inline]
    pub fn mark_raw(&mut self) {
        self.mark(StrEnc::Raw);
    }

    /// Gives the string mark `m`. Only an inline string holds the marks
    /// other than `Raw` (module doc), and edits drop them.
    pub fn mark(&mut self, m: StrEnc) {
        match self {
            Sds::Inline { len, .. } => *len = len.marked(m),
            Sds::Heap { raw, .. } => *raw = m == StrEnc::Raw,
            Sds::Huge(_) => {}
        }
    }

    /// `v` as a string marked raw (a value Redis builds with createObject:
    /// SETRANGE / SETBIT on a missing key, BITOP, PFADD).
    pub fn raw_from_vec(v: Vec<u8>) -> Sds {
        let mut s = Sds::from_vec(v);
        s.mark_raw();
        s
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
            Sds::Heap { buf, .. } => buf.capacity(),
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
    v.reserve_exact(greedy_capacity(need) - v.len());
}

/// sdsMakeRoomFor's greedy size for `need` bytes: twice under 1 MB, 1 MB
/// more beyond.
pub fn greedy_capacity(need: usize) -> usize {
    const MB: usize = 1 << 20;
    if need < MB {
        need * 2
    } else {
        need.saturating_add(MB)
    }
}

impl super::buf::sealed::Sealed for Sds {}

impl LendVec for Sds {
    /// Leaves an empty string with the raw mark, if any, for `put_vec`.
    #[inline]
    fn take_vec(&mut self) -> Vec<u8> {
        let empty = if self.enc() == StrEnc::Raw {
            Sds::Inline {
                len: InlineLen::R0,
                data: [0; INLINE_CAP],
            }
        } else {
            Sds::default()
        };
        match std::mem::replace(self, empty) {
            Sds::Inline { len, data } => data[..len.get()].to_vec(),
            Sds::Heap { buf, .. } => buf.into_vec(),
            Sds::Huge(v) => *v,
        }
    }

    #[inline]
    fn put_vec(&mut self, v: Vec<u8>) {
        let raw = self.enc() == StrEnc::Raw;
        // The emptied self owns nothing: no drop needed.
        std::mem::forget(std::mem::replace(self, Sds::heap(v)));
        if raw {
            self.mark_raw();
        }
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
        assert!(matches!(s, Sds::Heap { .. }));
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
        assert!(matches!(&h, Sds::Heap { buf, .. } if &**buf == b"big!"));
    }

    #[test]
    fn marks_cost_no_space_and_survive_edits() {
        assert_eq!(std::mem::size_of::<Option<Sds>>(), 24);
        for n in [0, 1, 22, 23, 44, 100] {
            let mut s = Sds::new(&vec![b'7'; n]);
            assert_eq!(s.enc(), StrEnc::Derived);
            s.mark_raw();
            assert_eq!(
                (s.enc(), s.len(), s.is_inline()),
                (StrEnc::Raw, n, n <= INLINE_CAP)
            );
            assert_eq!(s.clone().enc(), StrEnc::Raw);
            // Edits keep the raw mark, inline or on the heap.
            s.extend_from_slice(b"1");
            s.make_vec().push(b'2');
            s.bytes_mut()[0] = b'x';
            assert_eq!((s.enc(), s.len()), (StrEnc::Raw, n + 2));
            assert_eq!(s[0], b'x');
            s.mark(StrEnc::Derived);
            assert_eq!(s.enc(), StrEnc::Derived);
        }
        for m in [StrEnc::Embstr, StrEnc::Unshared, StrEnc::Raw] {
            let mut s = Sds::new(b"12");
            s.mark(m);
            assert_eq!((s.enc(), &*s), (m, &b"12"[..]));
        }
        // The other marks are an inline string's only; edits drop them.
        let mut s = Sds::new(b"3");
        s.mark(StrEnc::Embstr);
        s.make_vec().push(b'4');
        assert_eq!((s.enc(), &*s), (StrEnc::Derived, &b"34"[..]));
        let mut h = Sds::new(&[1; 30]);
        h.mark(StrEnc::Embstr);
        assert_eq!(h.enc(), StrEnc::Derived);
        let r = Sds::raw_from_vec(vec![0; 3]);
        assert_eq!((r.enc(), r.len()), (StrEnc::Raw, 3));
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
