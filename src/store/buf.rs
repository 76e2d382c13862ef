//! Byte buffers with 32-bit lengths, 16 bytes each where `Vec<u8>` and
//! `Box<[u8]>` + a count take 24: they keep `Sds`, the packed list, hash and
//! sorted-set encodings at 16 bytes beside an enum tag, so `Value` is 24.
//!
//! - [`Vec32`]: a growable buffer (`ptr`, `len: u32`, `cap: u32`).
//! - [`CountedBytes`]: an exactly sized buffer (`ptr`, `len: u32`) with a
//!   spare `u32` for the owner's element count (a nested struct's padding is
//!   not reused, so the count must live in here to stay at 16).
//!
//! Both own an allocation made by `Vec<u8>` (capacity `cap`, resp. `len`)
//! and convert to and from `Vec<u8>` / `Box<[u8]>` without copying.
//! `Vec32` (and `Sds`) are written through an edit guard lending a
//! `Vec<u8>` rebuilt from the raw parts (so Vec's methods stay usable);
//! the guard stores the parts back on drop, also while unwinding.
//! `CountedBytes` is rebuilt whole by its owner (`pack::splice`: take the
//! Vec out, edit, `with_count` back). Lengths must stay below 4 GiB: the owners bound
//! them (packs convert at `PACK_MAX_BYTES`, long strings use `Sds::Huge`).

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// The most bytes a pack (list/hash/zset listpack encoding) may hold before
/// converting: Redis's LISTPACK_MAX_SAFETY_SIZE (1 GiB), well below the
/// 4 GiB these buffers can address. (Small in unit tests, which cross it.)
#[cfg(not(test))]
pub const PACK_MAX_BYTES: usize = 1 << 30;
#[cfg(test)]
pub const PACK_MAX_BYTES: usize = 4096;

/// A growable byte buffer with u32 length and capacity (16 bytes).
pub struct Vec32 {
    ptr: NonNull<u8>,
    len: u32,
    cap: u32,
}

// SAFETY: Vec32 uniquely owns its bytes, like Vec<u8>.
unsafe impl Send for Vec32 {}
// SAFETY: shared access only reads the bytes, like Vec<u8>.
unsafe impl Sync for Vec32 {}

impl Vec32 {
    pub const fn new() -> Vec32 {
        Vec32 {
            ptr: NonNull::dangling(),
            len: 0,
            cap: 0,
        }
    }

    /// `v` as a Vec32 without copying, or `v` back when its length does not
    /// fit in a u32 (a capacity beyond it is shrunk).
    #[inline]
    pub fn try_from_vec(v: Vec<u8>) -> Result<Vec32, Vec<u8>> {
        if v.capacity() > u32::MAX as usize {
            return Vec32::shrunk(v);
        }
        let mut v = ManuallyDrop::new(v);
        Ok(Vec32 {
            // A Vec's pointer is never null (dangling when unallocated).
            ptr: NonNull::new(v.as_mut_ptr()).unwrap_or(NonNull::dangling()),
            len: v.len() as u32,
            cap: v.capacity() as u32,
        })
    }

    /// `try_from_vec` of a Vec whose capacity passes u32.
    #[cold]
    fn shrunk(mut v: Vec<u8>) -> Result<Vec32, Vec<u8>> {
        if v.len() > u32::MAX as usize {
            return Err(v);
        }
        v.shrink_to(u32::MAX as usize);
        Vec32::try_from_vec(v)
    }

    /// The bytes as a Vec, same allocation.
    pub fn into_vec(self) -> Vec<u8> {
        let me = ManuallyDrop::new(self);
        // SAFETY: ptr/len/cap came from a Vec<u8> (try_from_vec) and are
        // handed back exactly once (self is not dropped).
        unsafe { Vec::from_raw_parts(me.ptr.as_ptr(), me.len as usize, me.cap as usize) }
    }

    #[inline]
    pub fn capacity(&self) -> usize {
        self.cap as usize
    }

    /// Appends `b` if it fits the spare capacity (no reallocation); false
    /// (and nothing done) otherwise.
    #[inline]
    pub fn push_within_capacity(&mut self, b: &[u8]) -> bool {
        if b.len() > (self.cap - self.len) as usize {
            return false;
        }
        // SAFETY: len + b.len() <= cap, so the destination is inside the
        // allocation, and `b` cannot overlap it (self is borrowed
        // uniquely).
        unsafe {
            std::ptr::copy_nonoverlapping(
                b.as_ptr(),
                self.ptr.as_ptr().add(self.len as usize),
                b.len(),
            );
        }
        self.len += b.len() as u32;
        true
    }

    /// Write access through a lent `Vec<u8>`; see the module doc.
    #[inline]
    pub fn edit(&mut self) -> Lent<'_, Vec32> {
        Lent::new(self)
    }
}

impl sealed::Sealed for Vec32 {}

impl LendVec for Vec32 {
    #[inline]
    fn take_vec(&mut self) -> Vec<u8> {
        std::mem::take(self).into_vec()
    }

    #[inline]
    fn put_vec(&mut self, v: Vec<u8>) {
        // The emptied self owns nothing: no drop needed.
        std::mem::forget(std::mem::replace(self, Vec32::from(v)));
    }
}

impl Default for Vec32 {
    fn default() -> Self {
        Vec32::new()
    }
}

impl Drop for Vec32 {
    fn drop(&mut self) {
        // SAFETY: the parts of a Vec<u8>, given back once (see into_vec).
        drop(unsafe {
            Vec::from_raw_parts(self.ptr.as_ptr(), self.len as usize, self.cap as usize)
        });
    }
}

impl From<Vec<u8>> for Vec32 {
    /// Panics beyond 4 GiB: callers bound their lengths (module doc).
    #[inline]
    fn from(v: Vec<u8>) -> Vec32 {
        match Vec32::try_from_vec(v) {
            Ok(b) => b,
            Err(v) => too_long(v.len()),
        }
    }
}

#[cold]
#[inline(never)]
fn too_long(n: usize) -> ! {
    panic!("a 32-bit buffer of {n} bytes")
}

impl Deref for Vec32 {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr is valid for len initialized bytes (dangling iff len
        // may be 0 and cap is 0, which from_raw_parts allows).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len as usize) }
    }
}

impl DerefMut for Vec32 {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as deref, and self is borrowed uniquely.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len as usize) }
    }
}

impl Clone for Vec32 {
    fn clone(&self) -> Self {
        Vec32::from(self.to_vec())
    }
}

impl fmt::Debug for Vec32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Only this module's buffers and `Sds` lend their bytes: `put_vec`
/// forgets what it replaces.
pub(super) mod sealed {
    pub trait Sealed {}
}

/// An owner of bytes that lends them as a `Vec<u8>` (`Lent`).
pub trait LendVec: sealed::Sealed {
    /// Moves the bytes out, leaving the owner empty (and valid).
    fn take_vec(&mut self) -> Vec<u8>;
    /// Moves them back into an owner emptied by `take_vec` (which may
    /// forget the empty value instead of dropping it).
    fn put_vec(&mut self, v: Vec<u8>);
}

/// The bytes of `T` lent as a `Vec<u8>`, so that Vec's methods work on
/// them; put back on drop, also while unwinding (the Vec is valid whatever
/// a panicking method left in it).
pub struct Lent<'a, T: LendVec> {
    owner: &'a mut T,
    v: Vec<u8>,
}

impl<'a, T: LendVec> Lent<'a, T> {
    #[inline]
    pub fn new(owner: &'a mut T) -> Lent<'a, T> {
        let v = owner.take_vec();
        Lent { owner, v }
    }
}

impl<T: LendVec> Deref for Lent<'_, T> {
    type Target = Vec<u8>;
    #[inline]
    fn deref(&self) -> &Vec<u8> {
        &self.v
    }
}

impl<T: LendVec> DerefMut for Lent<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.v
    }
}

impl<T: LendVec> Drop for Lent<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.owner.put_vec(std::mem::take(&mut self.v));
    }
}

/// An exactly sized byte buffer (u32 length) with the owner's u32 element
/// count beside it (16 bytes).
pub struct CountedBytes {
    ptr: NonNull<u8>,
    len: u32,
    /// The owner's element count (not interpreted here).
    pub count: u32,
}

// SAFETY: CountedBytes uniquely owns its bytes, like Box<[u8]>.
unsafe impl Send for CountedBytes {}
// SAFETY: shared access only reads the bytes, like Box<[u8]>.
unsafe impl Sync for CountedBytes {}

impl CountedBytes {
    pub const fn new() -> CountedBytes {
        CountedBytes {
            ptr: NonNull::dangling(),
            len: 0,
            count: 0,
        }
    }

    /// `b` with `count` (panics beyond 4 GiB: callers bound their lengths).
    #[inline]
    pub fn with_count(b: Box<[u8]>, count: u32) -> CountedBytes {
        if b.len() > u32::MAX as usize {
            too_long(b.len());
        }
        let len = b.len() as u32;
        let ptr = Box::into_raw(b) as *mut u8;
        CountedBytes {
            // Box::into_raw is never null (dangling for an empty slice).
            ptr: NonNull::new(ptr).unwrap_or(NonNull::dangling()),
            len,
            count,
        }
    }

    /// The bytes as a Vec (capacity = length), same allocation; the count
    /// is dropped.
    pub fn into_vec(self) -> Vec<u8> {
        let me = ManuallyDrop::new(self);
        // SAFETY: ptr/len came from a Box<[u8]> of len bytes, whose layout
        // is a Vec<u8>'s with capacity len; given back once.
        unsafe { Vec::from_raw_parts(me.ptr.as_ptr(), me.len as usize, me.len as usize) }
    }
}

impl Default for CountedBytes {
    fn default() -> Self {
        CountedBytes::new()
    }
}

impl Drop for CountedBytes {
    fn drop(&mut self) {
        // SAFETY: as into_vec; given back once.
        drop(unsafe {
            Vec::from_raw_parts(self.ptr.as_ptr(), self.len as usize, self.len as usize)
        });
    }
}

impl Deref for CountedBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr is valid for len initialized bytes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len as usize) }
    }
}

impl DerefMut for CountedBytes {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as deref, and self is borrowed uniquely.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len as usize) }
    }
}

impl Clone for CountedBytes {
    fn clone(&self) -> Self {
        CountedBytes::with_count(Box::from(&**self), self.count)
    }
}

impl fmt::Debug for CountedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} entries ", self.count)?;
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(std::mem::size_of::<Vec32>(), 16);
        assert_eq!(std::mem::size_of::<CountedBytes>(), 16);
        assert_eq!(std::mem::size_of::<Option<Vec32>>(), 16);
    }

    #[test]
    fn vec32_grows_and_converts() {
        let mut b = Vec32::new();
        assert!(b.is_empty() && b.capacity() == 0);
        for i in 0..10_000u32 {
            b.edit().push(i as u8);
        }
        assert_eq!(b.len(), 10_000);
        assert!(b.iter().enumerate().all(|(i, &x)| x == i as u8));
        let c = b.clone();
        assert_eq!(&*c, &*b);
        let cap = b.capacity();
        let p = b.as_ptr();
        let v = b.into_vec();
        assert_eq!((v.as_ptr(), v.capacity(), v.len()), (p, cap, 10_000));
        let mut b = Vec32::from(v);
        assert_eq!(b.as_ptr(), p);
        b.edit().clear();
        assert!(b.push_within_capacity(b"xy") && &*b == b"xy");
        assert!(!b.push_within_capacity(&vec![0u8; b.capacity()]));
        assert_eq!(&*b, b"xy");
        let mut z = Vec32::from(Vec::new());
        z.edit().extend_from_slice(b"");
        assert!(z.is_empty());
        drop(Vec32::from(b"abc".to_vec()));
        drop(Vec32::default().clone());
    }

    #[test]
    fn vec32_guard_ops() {
        let mut b = Vec32::from(b"hello world".to_vec());
        b.edit().splice(0..5, b"HELLO!".iter().copied());
        assert_eq!(&*b, b"HELLO! world");
        b.edit().drain(6..);
        assert_eq!(&*b, b"HELLO!");
        b.edit().insert(0, b'>');
        b[1] = b'h';
        assert_eq!(&*b, b">hELLO!");
        b.edit().shrink_to_fit();
        assert_eq!(b.capacity(), b.len());
    }

    #[test]
    fn vec32_guard_writes_back_on_panic() {
        let mut b = Vec32::from(b"ab".to_vec());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut g = b.edit();
            g.extend_from_slice(&[b'c'; 100]);
            panic!("inside the guard");
        }));
        assert!(r.is_err());
        assert_eq!(b.len(), 102);
        assert_eq!(&b[..3], b"abc");
    }

    #[test]
    fn counted_exact_and_keeps_count() {
        let mut c = CountedBytes::with_count(Box::from(&b"xyz"[..]), 3);
        c.count += 1;
        // As `pack::splice` edits: out as a Vec, back exactly sized.
        let count = c.count;
        let mut v = std::mem::take(&mut c).into_vec();
        v.reserve(1000);
        v.push(b'!');
        c = CountedBytes::with_count(v.into_boxed_slice(), count);
        assert_eq!((&*c, c.count), (&b"xyz!"[..], 4));
        let d = c.clone();
        assert_eq!((&*d, d.count), (&b"xyz!"[..], 4));
        let p = c.as_ptr();
        let v = c.into_vec();
        assert_eq!((v.as_ptr(), v.capacity()), (p, 4));
        let e = CountedBytes::default();
        assert!(e.is_empty() && e.into_vec().is_empty());
        let z = CountedBytes::with_count(Box::default(), 0);
        assert!(z.clone().is_empty());
    }
}
