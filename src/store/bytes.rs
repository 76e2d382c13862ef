//! Compact owned byte strings for keys and string values.
//!
//! Short strings (the common case: keys like `key:000000001234` and small
//! values) live inline without a heap allocation; longer ones own exactly
//! their bytes. Nothing here ever borrows from a network buffer.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

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

/// A mutable owned byte string (string values, list elements, hash fields):
/// inline up to 22 bytes, a growable Vec beyond (APPEND / SETRANGE amortize).
#[derive(Clone)]
pub enum Sds {
    Inline { len: u8, data: [u8; INLINE_CAP] },
    Heap(Vec<u8>),
}

impl Default for Sds {
    fn default() -> Self {
        Sds::Inline {
            len: 0,
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
                len: b.len() as u8,
                data,
            }
        } else {
            Sds::Heap(b.to_vec())
        }
    }

    pub fn from_vec(v: Vec<u8>) -> Sds {
        if v.len() <= INLINE_CAP {
            Sds::new(&v)
        } else {
            Sds::Heap(v)
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Sds::Inline { len, data } => &data[..*len as usize],
            Sds::Heap(v) => v,
        }
    }

    /// Mutable access as a Vec (moves an inline string to the heap).
    pub fn make_vec(&mut self) -> &mut Vec<u8> {
        if let Sds::Inline { len, data } = self {
            let v = data[..*len as usize].to_vec();
            *self = Sds::Heap(v);
        }
        match self {
            Sds::Heap(v) => v,
            Sds::Inline { .. } => unreachable!("converted above"),
        }
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
    fn sizes_stay_small() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        assert!(std::mem::size_of::<Sds>() <= 32);
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
    }
}
