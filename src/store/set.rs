//! The set value: Redis 7.0's two encodings and the conversion between them.
//!
//! While every member is an integer (Redis's `string2ll` form) and there are
//! at most `set-max-intset-entries` of them, a set is an [`IntSet`]: sorted
//! integers packed at the narrowest width that holds them all (2, 4 or 8
//! bytes, like Redis's intset; the width only grows), in one exactly sized
//! allocation. Otherwise it is a hash table ([`Members`]: the keyspace's
//! `store::Table` of bare `Key`s - no stored hash, u32 positions - with O(1)
//! random access for SPOP/SRANDMEMBER and the SCAN cursor of
//! `store::scan`). Conversions happen exactly where Redis converts: an
//! intset becomes a table when a non-integer is added or it grows past the
//! limit; a table never becomes an intset again (only freshly built sets -
//! *STORE results, SPOP's rebuilt remainder - start as intsets).
//!
//! Iteration order is Redis's for intsets (ascending); for tables it is the
//! table's order, which Redis leaves unspecified. Tables only ever
//! `swap_remove`, which keeps SSCAN's guarantee.

use super::Key;
use super::table::Table;
use crate::number::{fmt_i64, parse_i64};

/// Members of a hash-table encoded set: per member a 24-byte `Key` slot
/// and a 4-byte index slot (+ control byte), where the `IndexMap<Key, ()>`
/// it replaces kept a stored hash and an 8-byte index slot too.
pub type Members = Table<Key>;

/// Redis's default `set-max-intset-entries`.
pub const DEFAULT_MAX_INTSET_ENTRIES: usize = 512;

/// A set value (16 bytes: `Value` stays 24).
#[derive(Clone, Debug)]
pub enum Set {
    Ints(IntSet),
    Table(Box<Members>),
}

/// One member as the set holds it: an integer of an intset or the bytes of
/// a table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Elem<'_> {
    /// Runs `f` on the member's bytes (an integer is formatted on the stack).
    #[inline]
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match *self {
            Elem::Bytes(b) => f(b),
            Elem::Int(v) => {
                let mut buf = [0u8; 20];
                f(fmt_i64(v, &mut buf))
            }
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }
}

impl Set {
    /// An empty set of the encoding Redis's `setTypeCreate` picks for a
    /// first member `m`.
    pub fn new_for(m: &[u8]) -> Set {
        if parse_i64(m).is_some() {
            Set::Ints(IntSet::default())
        } else {
            Set::Table(Box::default())
        }
    }

    /// An empty intset (Redis's `createIntsetObject`: *STORE results).
    pub fn new_ints() -> Set {
        Set::Ints(IntSet::default())
    }

    #[inline]
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Table(t) => t.len(),
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    #[inline]
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64(m).is_some_and(|v| s.contains(v)),
            Set::Table(t) => t.contains_key(m),
        }
    }

    /// Adds `m`; true if it was not there. Converts like Redis's
    /// `setTypeAdd` (non-integer, or more than `max_intset` members).
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        match self {
            Set::Ints(s) => match parse_i64(m) {
                Some(v) => {
                    if !s.insert(v) {
                        return false;
                    }
                    if s.len() > max_intset {
                        self.convert_to_table(0);
                    }
                    true
                }
                None => {
                    self.convert_to_table(1);
                    self.add(m, max_intset)
                }
            },
            // One hash; the member is copied only when it is new.
            Set::Table(t) => t.find_or_insert_with(m, || Key::new(m)).1,
        }
    }

    /// Removes `m`; true if it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64(m).is_some_and(|v| s.remove(v)),
            Set::Table(t) => t.swap_remove_entry_full(m).is_some(),
        }
    }

    /// Turns an intset into a table presized for its members (+ `extra`).
    fn convert_to_table(&mut self, extra: usize) {
        if let Set::Ints(s) = self {
            let mut t = Members::with_capacity(s.len() + extra);
            let mut buf = [0u8; 20];
            for v in s.iter() {
                // (An intset's members are distinct.)
                t.insert_unique(Key::new(fmt_i64(v, &mut buf)));
            }
            *self = Set::Table(Box::new(t));
        }
    }

    /// The member at position `i` (0 <= i < len) in iteration order.
    #[inline]
    pub fn get_index(&self, i: usize) -> Option<Elem<'_>> {
        match self {
            Set::Ints(s) => s.get(i).map(Elem::Int),
            Set::Table(t) => t.get_index(i).map(|k| Elem::Bytes(k.as_bytes())),
        }
    }

    /// Removes the member at position `i`, returning its bytes.
    pub fn remove_index(&mut self, i: usize) -> Option<Vec<u8>> {
        match self {
            Set::Ints(s) => {
                let v = s.get(i)?;
                s.remove(v);
                let mut buf = [0u8; 20];
                Some(fmt_i64(v, &mut buf).to_vec())
            }
            Set::Table(t) => t.swap_remove_index(i).map(|k| k.to_vec()),
        }
    }

    /// Members in iteration order.
    pub fn iter(&self) -> SetIter<'_> {
        SetIter { set: self, i: 0 }
    }

    /// Shrinks a table's allocation after many removals (Redis resizes its
    /// dict when it drops below 10% fill).
    pub fn maybe_shrink(&mut self) {
        if let Set::Table(t) = self
            && t.capacity() > 64
            && t.len() * 10 < t.capacity()
        {
            t.shrink_to_fit();
        }
    }
}

/// Iterator over a set's members.
pub struct SetIter<'a> {
    set: &'a Set,
    i: usize,
}

impl<'a> Iterator for SetIter<'a> {
    type Item = Elem<'a>;
    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        let e = self.set.get_index(self.i)?;
        self.i += 1;
        Some(e)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.set.len().saturating_sub(self.i);
        (n, Some(n))
    }
}

/// Redis's intset: sorted distinct integers, all stored at one width (2, 4
/// or 8 bytes, little endian) that only grows. `data[0]` is the width; an
/// empty set has no allocation at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntSet {
    data: Box<[u8]>,
}

/// The narrowest intset width holding `v`.
fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    #[inline]
    fn width(&self) -> usize {
        self.data.first().map_or(2, |&w| w as usize)
    }

    #[inline]
    pub fn len(&self) -> usize {
        match self.data.len() {
            0 => 0,
            n => (n - 1) / self.width(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes per element (Redis's intset encoding: 2, 4 or 8).
    pub fn encoding_width(&self) -> usize {
        self.width()
    }

    #[inline]
    fn read(&self, i: usize, w: usize) -> i64 {
        let at = 1 + i * w;
        let b = &self.data[at..at + w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<i64> {
        (i < self.len()).then(|| self.read(i, self.width()))
    }

    /// Binary search: Ok(position) or Err(insertion point).
    fn search(&self, v: i64) -> Result<usize, usize> {
        let w = self.width();
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let x = self.read(mid, w);
            match x.cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    #[inline]
    pub fn contains(&self, v: i64) -> bool {
        width_for(v) <= self.width() && self.search(v).is_ok()
    }

    /// Inserts `v`; false if present. One exactly sized reallocation.
    pub fn insert(&mut self, v: i64) -> bool {
        let w = self.width().max(width_for(v));
        let pos = if w == self.width() {
            match self.search(v) {
                Ok(_) => return false,
                Err(p) => p,
            }
        } else {
            // A value wider than all others is the new minimum or maximum.
            if v < 0 { 0 } else { self.len() }
        };
        let n = self.len();
        let mut out = Vec::with_capacity(1 + (n + 1) * w);
        out.push(w as u8);
        let old_w = self.width();
        let put = |out: &mut Vec<u8>, x: i64| match w {
            2 => out.extend_from_slice(&(x as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(x as i32).to_le_bytes()),
            _ => out.extend_from_slice(&x.to_le_bytes()),
        };
        if w == old_w && n > 0 {
            out.extend_from_slice(&self.data[1..1 + pos * w]);
            put(&mut out, v);
            out.extend_from_slice(&self.data[1 + pos * w..]);
        } else {
            for i in 0..n {
                if i == pos {
                    put(&mut out, v);
                }
                put(&mut out, self.read(i, old_w));
            }
            if pos == n {
                put(&mut out, v);
            }
        }
        self.data = out.into_boxed_slice();
        true
    }

    /// Removes `v`; false if absent. The width never shrinks (as Redis).
    pub fn remove(&mut self, v: i64) -> bool {
        if width_for(v) > self.width() {
            return false;
        }
        let Ok(pos) = self.search(v) else {
            return false;
        };
        let w = self.width();
        let mut out = Vec::with_capacity(self.data.len() - w);
        out.extend_from_slice(&self.data[..1 + pos * w]);
        out.extend_from_slice(&self.data[1 + (pos + 1) * w..]);
        self.data = out.into_boxed_slice();
        true
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        let w = self.width();
        (0..self.len()).map(move |i| self.read(i, w))
    }

    /// Serialized size of the blob (header 8 bytes + elements), as Redis's
    /// intset (DEBUG OBJECT).
    pub fn blob_len(&self) -> usize {
        8 + self.len() * self.width()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &Set) -> Vec<Vec<u8>> {
        s.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn value_stays_small() {
        assert_eq!(std::mem::size_of::<Set>(), 16);
    }

    #[test]
    fn intset_sorted_and_width_grows_only() {
        let mut s = IntSet::default();
        assert!(s.is_empty());
        for v in [5, -3, 100, 5, 7] {
            s.insert(v);
        }
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![-3, 5, 7, 100]);
        assert_eq!(s.encoding_width(), 2);
        assert!(s.insert(70_000));
        assert_eq!(s.encoding_width(), 4);
        assert!(s.insert(i64::MIN));
        assert_eq!(s.encoding_width(), 8);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![i64::MIN, -3, 5, 7, 100, 70_000]
        );
        assert!(s.contains(i64::MIN) && s.contains(70_000) && !s.contains(6));
        assert!(s.remove(i64::MIN) && !s.remove(i64::MIN));
        assert_eq!(s.encoding_width(), 8);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![-3, 5, 7, 100, 70_000]);
        for v in [-3, 5, 7, 100, 70_000] {
            assert!(s.remove(v));
        }
        assert_eq!(s.len(), 0);
        assert!(!IntSet::default().contains(1 << 40));
    }

    #[test]
    fn intset_matches_a_btreeset_under_random_ops() {
        let mut s = IntSet::default();
        let mut model = std::collections::BTreeSet::new();
        let mut x = 88172645463325252u64;
        for _ in 0..5000 {
            let x = crate::store::xorshift(&mut x);
            let v = match x % 3 {
                0 => (x >> 8) as i64 % 300,
                1 => (x >> 8) as i64 % 100_000,
                _ => (x >> 4) as i64,
            };
            if x % 5 < 3 {
                assert_eq!(s.insert(v), model.insert(v));
            } else {
                assert_eq!(s.remove(v), model.remove(&v));
            }
        }
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            model.into_iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn conversions_like_redis() {
        let mut s = Set::new_for(b"1");
        assert_eq!(s.encoding(), "intset");
        assert!(s.add(b"3", 3) && s.add(b"1", 3) && !s.add(b"3", 3));
        assert_eq!(members(&s), vec![b"1".to_vec(), b"3".to_vec()]);
        // "01" is not string2ll's form: a string member.
        assert!(!s.contains(b"01"));
        assert!(s.add(b"2", 3));
        assert_eq!(s.encoding(), "intset");
        assert!(s.add(b"4", 3));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"4") && s.contains(b"1"));
        // Never back to an intset.
        for m in [b"1", b"2", b"3"] {
            assert!(s.remove(m));
        }
        assert_eq!(s.encoding(), "hashtable");
        let mut s = Set::new_for(b"7");
        s.add(b"7", 512);
        assert!(s.add(b"a", 512));
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 2);
        assert_eq!(Set::new_for(b"x").encoding(), "hashtable");
        assert_eq!(Set::new_for(b"-0").encoding(), "hashtable");
    }

    #[test]
    fn intset_converts_to_a_table_in_order_with_every_position() {
        let mut s = Set::new_ints();
        for v in [30i64, -2, 7, 1 << 40] {
            s.add(v.to_string().as_bytes(), 512);
        }
        assert!(s.add(b"x", 512));
        assert_eq!(s.encoding(), "hashtable");
        let want: Vec<&[u8]> = vec![b"-2", b"7", b"30", b"1099511627776", b"x"];
        assert_eq!(members(&s), want);
        for (i, m) in want.iter().enumerate() {
            assert_eq!(s.get_index(i), Some(Elem::Bytes(m)));
            assert!(s.contains(m));
        }
        assert_eq!(s.get_index(want.len()), None);
        // Re-adding is a no-op that keeps positions.
        assert!(!s.add(b"7", 512));
        assert_eq!(members(&s), want);
    }

    /// SPOP/SRANDMEMBER address members by position: a removal by position
    /// or by value moves only the last member into the hole, and a
    /// journal restore puts every position back.
    #[test]
    fn positions_after_removals_and_restores() {
        let mut s = Set::new_for(b"a");
        for i in 0..200 {
            s.add(format!("m{i}").as_bytes(), 512);
        }
        let mut model = members(&s);
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        while !model.is_empty() {
            let r = crate::store::xorshift(&mut x) as usize;
            let i = r % model.len();
            let before = members(&s);
            let gone = if r.is_multiple_of(2) {
                s.remove_index(i).unwrap()
            } else {
                let m = model[i].clone();
                assert!(s.remove(&m));
                m
            };
            assert_eq!(gone, model.swap_remove(i));
            assert_eq!(members(&s), model);
            assert!(!s.contains(&gone));
            if r.is_multiple_of(3) {
                // Undo it as the journal does, then remove it again.
                let Set::Table(t) = &mut s else { panic!() };
                t.restore_at(Key::new(&gone), i);
                assert_eq!(members(&s), before);
                assert_eq!(s.remove_index(i).as_deref(), Some(&gone[..]));
                assert_eq!(members(&s), model);
            }
        }
        assert!(s.is_empty());
        assert_eq!(s.encoding(), "hashtable");
    }
}
