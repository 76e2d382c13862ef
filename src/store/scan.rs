//! SCAN-style cursors over a positional map (`Positional`: the keyspace's
//! `Table`, or an `IndexMap`): SCAN, HSCAN, SSCAN and ZSCAN.
//!
//! The cursor is the number of indices not yet visited in this scan: a call
//! visits indices `cursor-1` down to `cursor-count` and returns how many are
//! left. 0 means "start" on input and "done" on output; a cursor larger than
//! the map (it shrank, or a client made one up) is clamped to its length.
//!
//! Walking from high to low indices keeps Redis's guarantee that every
//! element present for the whole scan is returned at least once:
//! `swap_remove` fills a hole with the *last* element, so an element of the
//! unvisited low part either stays put or, if it is itself the last one,
//! moves further down - still unvisited. A visited element moved into the
//! unvisited part may be returned twice, which SCAN allows. Elements added
//! during the scan are appended above the cursor and may not be returned.
//! Nobody may use `shift_remove` or reorder a map that can be scanned.

use indexmap::IndexMap;

/// A map SCAN walks by position: an `IndexMap` or a `Table` of pairs.
pub trait Positional {
    type K: ?Sized;
    type V;
    /// How many positions (0..n) it has.
    fn positions(&self) -> usize;
    fn at(&self, i: usize) -> Option<(&Self::K, &Self::V)>;
}

impl<K, V, S> Positional for IndexMap<K, V, S> {
    type K = K;
    type V = V;
    #[inline]
    fn positions(&self) -> usize {
        IndexMap::len(self)
    }
    #[inline]
    fn at(&self, i: usize) -> Option<(&K, &V)> {
        self.get_index(i)
    }
}

impl<K: std::borrow::Borrow<[u8]>, V> Positional for super::Table<(K, V)> {
    type K = K;
    type V = V;
    #[inline]
    fn positions(&self) -> usize {
        super::Table::len(self)
    }
    #[inline]
    fn at(&self, i: usize) -> Option<(&K, &V)> {
        self.get_index(i).map(|(k, v)| (k, v))
    }
}

/// Parses a cursor the way Redis does (`strtoul` base 10): optional sign,
/// digits, nothing else; no leading white space; "" is 0; a negative value
/// wraps like C's `strtoul`. None means `ERR invalid cursor`.
pub fn parse_cursor(b: &[u8]) -> Option<u64> {
    let Some(&first) = b.first() else {
        return Some(0);
    };
    // C isspace: space, \t, \n, \v, \f, \r.
    if first.is_ascii_whitespace() || first == 0x0b {
        return None;
    }
    let (neg, digits) = match first {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// One SCAN step: visits at most `count` entries of `map` below `cursor`
/// (0 = from the top), calling `visit` for each, and returns the next cursor
/// (0 = the scan is complete). Work is bounded by `count`.
pub fn scan_step<M: Positional>(
    map: &M,
    cursor: u64,
    count: usize,
    mut visit: impl FnMut(&M::K, &M::V),
) -> u64 {
    scan_indices(map.positions(), cursor, count, |i| {
        if let Some((k, v)) = map.at(i) {
            visit(k, v);
        }
    })
}

/// The cursor walk of [`scan_step`] over any index-addressable container
/// of `len` entries: calls `visit` with each index to visit.
pub fn scan_indices(len: usize, cursor: u64, count: usize, mut visit: impl FnMut(usize)) -> u64 {
    let len = len as u64;
    let mut at = if cursor == 0 || cursor > len {
        len
    } else {
        cursor
    };
    let stop = at.saturating_sub(count.max(1) as u64);
    while at > stop {
        at -= 1;
        visit(at as usize);
    }
    at
}

/// The options shared by the SCAN family: `[MATCH pattern] [COUNT count]`
/// and, for SCAN only, `[TYPE type]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions<'a> {
    /// Entries visited per call (COUNT, default 10).
    pub count: usize,
    /// MATCH pattern; None when absent or `*`.
    pub pattern: Option<&'a [u8]>,
    /// TYPE filter (compared case-insensitively with the TYPE name).
    pub type_name: Option<&'a [u8]>,
}

/// Why the options were rejected (mapped to Redis's error texts by the
/// command: `ERR value is not an integer or out of range` / `ERR syntax error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanOptionError {
    NotInteger,
    Syntax,
}

/// Largest COUNT honoured; a bigger one still finishes any real map in one
/// call, and keeps the arithmetic away from overflow.
const MAX_COUNT: usize = 1 << 40;

/// Parses `opts` (the arguments after the cursor) like Redis's
/// `scanGenericCommand`: later options override earlier ones, COUNT must be
/// an integer >= 1, TYPE is accepted only when `allow_type`.
pub fn parse_options<'a>(
    opts: impl IntoIterator<Item = &'a [u8]>,
    allow_type: bool,
) -> Result<ScanOptions<'a>, ScanOptionError> {
    let opts: Vec<&'a [u8]> = opts.into_iter().collect();
    let mut o = ScanOptions {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = 0;
    while i < opts.len() {
        let name = opts[i];
        let Some(&val) = opts.get(i + 1) else {
            return Err(ScanOptionError::Syntax);
        };
        if name.eq_ignore_ascii_case(b"count") {
            let n = crate::number::parse_i64(val).ok_or(ScanOptionError::NotInteger)?;
            if n < 1 {
                return Err(ScanOptionError::Syntax);
            }
            o.count = usize::try_from(n).unwrap_or(MAX_COUNT).min(MAX_COUNT);
        } else if name.eq_ignore_ascii_case(b"match") {
            o.pattern = if val == b"*" { None } else { Some(val) };
        } else if allow_type && name.eq_ignore_ascii_case(b"type") {
            o.type_name = Some(val);
        } else {
            return Err(ScanOptionError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn cursor_parsing_matches_strtoul() {
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"+7"), Some(7));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1 "), None);
        assert_eq!(parse_cursor(b"+"), None);
        assert_eq!(parse_cursor(b"abc"), None);
        assert_eq!(parse_cursor(b"0x10"), None);
    }

    #[test]
    fn options() {
        let p = |v: &[&'static [u8]]| parse_options(v.iter().copied(), true);
        assert_eq!(p(&[]).map(|o| o.count), Ok(10));
        assert_eq!(p(&[b"COUNT", b"0"]), Err(ScanOptionError::Syntax));
        assert_eq!(p(&[b"count", b"x"]), Err(ScanOptionError::NotInteger));
        assert_eq!(p(&[b"match"]), Err(ScanOptionError::Syntax));
        assert_eq!(p(&[b"match", b"*"]).map(|o| o.pattern), Ok(None));
        let o = p(&[b"MATCH", b"a*", b"type", b"list", b"count", b"3"]).unwrap();
        assert_eq!(
            (o.count, o.pattern, o.type_name),
            (3, Some(&b"a*"[..]), Some(&b"list"[..]))
        );
        assert_eq!(
            parse_options([&b"type"[..], b"string"], false),
            Err(ScanOptionError::Syntax)
        );
        assert_eq!(
            p(&[b"count", b"99999999999999999"]).map(|o| o.count),
            Ok(MAX_COUNT)
        );
    }

    #[test]
    fn full_scan_visits_everything_once_without_changes() {
        let map: IndexMap<u32, ()> = (0..1000).map(|i| (i, ())).collect();
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = scan_step(&map, cursor, 7, |k, _| seen.push(*k));
            if cursor == 0 {
                break;
            }
        }
        seen.sort();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn guarantee_holds_under_inserts_and_removes() {
        // Keys 0..500 stay for the whole scan; others come and go.
        let mut map: IndexMap<u32, ()> = (0..1000).map(|i| (i, ())).collect();
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut next = 1000;
        let mut rng = 12345u64;
        let mut step = || crate::store::xorshift(&mut rng);
        loop {
            cursor = scan_step(&map, cursor, 5, |k, _| {
                seen.insert(*k);
            });
            if cursor == 0 {
                break;
            }
            for _ in 0..8 {
                let r = step();
                if r % 2 == 0 {
                    map.insert(next, ());
                    next += 1;
                } else if map.len() > 500 {
                    // Remove a random transient key.
                    let idx = (r as usize) % map.len();
                    if map.get_index(idx).is_some_and(|(k, _)| *k >= 500) {
                        map.swap_remove_index(idx);
                    }
                }
            }
        }
        for k in 0..500 {
            assert!(seen.contains(&k), "key {k} missed");
        }
    }

    #[test]
    fn shrinking_below_cursor_is_clamped() {
        let mut map: IndexMap<u32, ()> = (0..100).map(|i| (i, ())).collect();
        let cursor = scan_step(&map, 0, 10, |_, _| {});
        assert_eq!(cursor, 90);
        map.truncate(20);
        let mut seen = Vec::new();
        let cursor = scan_step(&map, cursor, 100, |k, _| seen.push(*k));
        assert_eq!(cursor, 0);
        assert_eq!(seen.len(), 20);
        assert_eq!(scan_step(&IndexMap::<u32, ()>::new(), 0, 10, |_, _| {}), 0);
    }
}
