//! SORT and SORT_RO (Redis's sort.c): BY (with `nosort` and `->field` hash
//! patterns), LIMIT, GET (`#`, key patterns, `->field`), ASC/DESC, ALPHA
//! and STORE, over lists and sets; sorted sets plug in through
//! [`elements_of`].
//!
//! Semantics kept from Redis: options are parsed before the key is looked
//! up; numeric keys are read with `strtod` rules (leading blanks, `""` is
//! 0, overflow/underflow/NaN fail with "One or more scores can't be
//! converted into double"); equal scores are ordered by the elements'
//! bytes; missing BY keys in ALPHA mode sort first, in input order (Redis's
//! glibc qsort is a stable merge sort there); `BY` without `*` means no
//! sorting at all, and then DESC reverses a list's native order; an
//! unsorted set is sorted anyway when the result is STOREd, so it does not
//! depend on hash order. A STORE is propagated as DEL + RPUSH of the result
//! (replay never depends on iteration order or on other keys).

use std::cmp::Ordering;

use super::flags::{DENYOOM, READONLY, WRITE};
use super::{Args, CmdError, CmdResult, CommandSpec, OwnedArgs};
use crate::server::{Client, Server};
use crate::store::{List, Value};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, WRITE | DENYOOM, (1, 1, 1), sort, "generic")
        .doc(
            "1.0.0",
            "Sort the elements in a list, set or sorted set",
            "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]",
        )
        .keys_fn(sort_keys),
    CommandSpec::new("sort_ro", -2, READONLY, (1, 1, 1), sort_ro, "generic")
        .doc(
            "7.0.0",
            "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
            "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]",
        )
        .keys_fn(sort_ro_keys),
];

/// Elements per RPUSH when a STORE result is propagated.
const RPUSH_BATCH: usize = 1024;

/// Key positions of a SORT argv (Redis's `sortGetKeys`): the key, and the
/// argument after the *last* STORE, skipping the arguments of LIMIT, GET
/// and BY. The bool is true for the written (STORE) key.
pub fn sort_keys(argv: &[&[u8]]) -> Vec<(usize, bool)> {
    let mut keys = vec![(1, false)];
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < argv.len() {
            store = Some(i + 1);
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        }
        i += 1;
    }
    if let Some(s) = store {
        keys.push((s, true));
    }
    keys
}

/// SORT_RO has one key (Redis still marks it movablekeys).
pub fn sort_ro_keys(argv: &[&[u8]]) -> Vec<(usize, bool)> {
    if argv.len() > 1 {
        vec![(1, false)]
    } else {
        vec![]
    }
}

/// The elements SORT works on, in the value's native order (a sorted set's
/// members by rank, ascending: `BY nosort` then reverses with DESC exactly
/// as for lists), or None for a type SORT refuses (WRONGTYPE).
fn elements_of(v: &Value) -> Option<Source> {
    match v {
        Value::List(l) => Some(Source {
            elems: l.iter().map(|e| e.to_vec()).collect(),
            kind: SourceKind::List,
        }),
        Value::Set(s) => Some(Source {
            elems: super::set::members(s),
            kind: SourceKind::Set,
        }),
        Value::ZSet(z) => {
            let mut elems = Vec::with_capacity(z.len());
            z.for_each(|m, _| elems.push(m.to_vec()));
            Some(Source {
                elems,
                kind: SourceKind::SortedSet,
            })
        }
        _ => None,
    }
}

/// What SORT reads: the elements and where they came from.
struct Source {
    elems: Vec<Vec<u8>>,
    kind: SourceKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    /// Ordered containers: `BY nosort DESC` reverses them (lists, zsets).
    List,
    SortedSet,
    /// No meaningful order: sorted anyway when the result is stored.
    Set,
}

impl SourceKind {
    fn reversible(self) -> bool {
        matches!(self, SourceKind::List | SourceKind::SortedSet)
    }
}

struct Options<'a> {
    desc: bool,
    alpha: bool,
    /// LIMIT offset count (Redis's defaults: 0, -1 = all).
    offset: i64,
    count: i64,
    by: Option<&'a [u8]>,
    dontsort: bool,
    get: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

fn parse_options<'a>(args: &Args<'a>, readonly: bool) -> Result<Options<'a>, CmdError> {
    let mut o = Options {
        desc: false,
        alpha: false,
        offset: 0,
        count: -1,
        by: None,
        dontsort: false,
        get: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let a = &args[j];
        let left = args.len() - j - 1;
        if a.eq_ignore_ascii_case(b"asc") {
            o.desc = false;
        } else if a.eq_ignore_ascii_case(b"desc") {
            o.desc = true;
        } else if a.eq_ignore_ascii_case(b"alpha") {
            o.alpha = true;
        } else if a.eq_ignore_ascii_case(b"limit") && left >= 2 {
            o.offset = super::list::parse_long(&args[j + 1])?;
            o.count = super::list::parse_long(&args[j + 2])?;
            j += 2;
        } else if a.eq_ignore_ascii_case(b"store") && left >= 1 && !readonly {
            o.store = args.get(j + 1);
            j += 1;
        } else if a.eq_ignore_ascii_case(b"by") && left >= 1 {
            let p = args.get(j + 1).unwrap_or(b"");
            o.by = Some(p);
            // No '*': nothing to look up, so no sorting (sticky, as Redis).
            if !p.contains(&b'*') {
                o.dontsort = true;
            }
            j += 1;
        } else if a.eq_ignore_ascii_case(b"get") && left >= 1 {
            o.get.push(args.get(j + 1).unwrap_or(b""));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the
/// first `*` is replaced by the element, and a non-empty `->field` after
/// it reads a hash field instead of a string value.
fn lookup_pattern(srv: &mut Server, db: usize, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let (post, field) = match after.windows(2).position(|w| w == b"->") {
        Some(f) if f + 2 < after.len() => (&after[..f], Some(&after[f + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(star + elem.len() + post.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(post);
    match (srv.store.get(db, &key)?, field) {
        (Value::Hash(h), Some(f)) => h.get(f).map(|v| v.to_vec()),
        (Value::Str(s), None) => Some(s.to_vec()),
        _ => None,
    }
}

/// A numeric sort key read as C's `strtod` would for SORT: leading white
/// space is skipped, an empty string is 0, the rest must be consumed, and
/// NaN, overflow and underflow (ERANGE) are errors.
fn strtod_score(b: &[u8]) -> Option<f64> {
    if b.is_empty() {
        return Some(0.0);
    }
    let start = b
        .iter()
        .position(|&c| !(c == b' ' || (b'\t'..=b'\r').contains(&c)))?;
    let t = &b[start..];
    let v = crate::number::parse_f64(t)?;
    let text = String::from_utf8_lossy(t).to_ascii_lowercase();
    if v.is_infinite() && !text.contains("inf") {
        return None; // overflow
    }
    if v.is_finite() && v.abs() < f64::MIN_POSITIVE {
        // Zero is fine only when no digit of the mantissa is non-zero.
        let mantissa = text.split(['e', 'p']).next().unwrap_or("");
        let hex = mantissa.contains('x');
        let m = if hex {
            mantissa.split('x').nth(1).unwrap_or("")
        } else {
            mantissa
        };
        if v != 0.0 || m.bytes().any(|c| c.is_ascii_alphanumeric() && c != b'0') {
            return None; // underflow
        }
    }
    Some(v)
}

/// The key each element is sorted by.
enum SortKey {
    Score(f64),
    /// ALPHA: the BY value (None when missing) or the element itself.
    Alpha(Option<Vec<u8>>),
}

fn sort(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    sort_generic(srv, c, args, false)
}

fn sort_ro(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    sort_generic(srv, c, args, true)
}

fn sort_generic(srv: &mut Server, c: &mut Client, args: &Args, readonly: bool) -> CmdResult {
    let mut o = parse_options(args, readonly)?;
    let src = match srv.store.lookup_read(c.db, &args[1]) {
        None => Source {
            elems: Vec::new(),
            kind: SourceKind::List,
        },
        Some(v) => elements_of(v).ok_or(CmdError::WrongType)?,
    };
    // An unsorted set would store (and propagate) hash order: sort it.
    if o.dontsort && src.kind == SourceKind::Set && o.store.is_some() {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let mut elems = src.elems;
    if o.dontsort && o.desc && src.kind.reversible() {
        elems.reverse();
    }
    let len = elems.len() as i64;
    // Redis's LIMIT arithmetic, without its signed overflow.
    let mut start = o.offset.max(0);
    let mut end = if o.count < 0 {
        len - 1
    } else {
        start.saturating_add(o.count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    if !o.dontsort {
        let mut keyed: Vec<(Vec<u8>, SortKey)> = Vec::with_capacity(elems.len());
        let mut conversion_error = false;
        for e in elems {
            let by = match o.by {
                Some(p) => lookup_pattern(srv, c.db, p, &e),
                None => Some(e.clone()),
            };
            let key = if o.alpha {
                SortKey::Alpha(if o.by.is_some() { by } else { None })
            } else {
                match by.as_deref().map(strtod_score) {
                    Some(None) => {
                        conversion_error = true;
                        SortKey::Score(0.0)
                    }
                    Some(Some(v)) => SortKey::Score(v),
                    None => SortKey::Score(0.0),
                }
            };
            keyed.push((e, key));
        }
        if conversion_error {
            return Err(CmdError::Static(
                "ERR One or more scores can't be converted into double",
            ));
        }
        let by_pattern = o.by.is_some();
        let cmp = |a: &(Vec<u8>, SortKey), b: &(Vec<u8>, SortKey)| -> Ordering {
            match (&a.1, &b.1) {
                (SortKey::Score(x), SortKey::Score(y)) => x
                    .partial_cmp(y)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.0.cmp(&b.0)),
                (SortKey::Alpha(x), SortKey::Alpha(y)) if by_pattern => match (x, y) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                },
                _ => a.0.cmp(&b.0),
            }
        };
        // Stable, and DESC negates the comparison (ties keep input order).
        if o.desc {
            keyed.sort_by(|a, b| cmp(b, a));
        } else {
            keyed.sort_by(cmp);
        }
        elems = keyed.into_iter().map(|(e, _)| e).collect();
    }
    let range: &[Vec<u8>] = if end >= start && start >= 0 {
        &elems[start as usize..=end as usize]
    } else {
        &[]
    };
    let per = o.get.len().max(1);
    let outputlen = range.len() * per;
    let Some(dst) = o.store else {
        c.reply.array(outputlen);
        for e in range {
            if o.get.is_empty() {
                c.reply.bulk(e);
            }
            for p in &o.get {
                match lookup_pattern(srv, c.db, p, e) {
                    Some(v) => c.reply.bulk(&v),
                    None => c.reply.null(),
                }
            }
        }
        return Ok(());
    };
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(outputlen);
    for e in range {
        if o.get.is_empty() {
            out.push(e.clone());
        }
        for p in &o.get {
            out.push(lookup_pattern(srv, c.db, p, e).unwrap_or_default());
        }
    }
    let mut cmds = vec![OwnedArgs::from_slices([&b"DEL"[..], dst])];
    if out.is_empty() {
        srv.store.delete(c.db, dst);
    } else {
        let mut list = List::new();
        for v in &out {
            list.push_back(v);
        }
        srv.store.set(c.db, dst, Value::List(list));
        for chunk in out.chunks(RPUSH_BATCH) {
            let head = [&b"RPUSH"[..], dst];
            cmds.push(OwnedArgs::from_slices(
                head.into_iter().chain(chunk.iter().map(|v| &v[..])),
            ));
        }
    }
    srv.store.prop.rewrite_as(cmds);
    c.reply.int(outputlen as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_rules() {
        assert_eq!(strtod_score(b""), Some(0.0));
        assert_eq!(strtod_score(b" 2"), Some(2.0));
        assert_eq!(strtod_score(b"  "), None);
        assert_eq!(strtod_score(b"2 "), None);
        assert_eq!(strtod_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod_score(b"1e400"), None);
        assert_eq!(strtod_score(b"1e-400"), None);
        assert_eq!(strtod_score(b"0e-400"), Some(0.0));
        assert_eq!(strtod_score(b"nan"), None);
        assert_eq!(strtod_score(b"x"), None);
        assert_eq!(strtod_score(b"0.5"), Some(0.5));
    }

    #[test]
    fn sort_keys_like_redis() {
        let k = |s: &str| {
            let v: Vec<&[u8]> = s.split(' ').map(|p| p.as_bytes()).collect();
            sort_keys(&v)
        };
        assert_eq!(k("sort a"), vec![(1, false)]);
        assert_eq!(k("sort a by x store dst"), vec![(1, false), (5, true)]);
        assert_eq!(k("sort a store d1 store d2"), vec![(1, false), (5, true)]);
        assert_eq!(k("sort a get store store d"), vec![(1, false), (5, true)]);
        assert_eq!(k("sort a limit store 1 store"), vec![(1, false)]);
    }
}
