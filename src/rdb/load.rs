//! Reading RDB: the value decoder shared by DUMP payloads and files, and
//! the item-by-item file reader (opcodes, aux fields, keys). Every length
//! is checked against the bytes that remain before anything is allocated,
//! so a damaged or hostile input gives an error, never a panic or a huge
//! allocation.

use std::borrow::Cow;

use super::pack::{self, Entry};
use super::*;
use crate::store::set::Members;
use crate::store::{Hash, Key, List, Sds, Set, Value, ZSet, zset};

/// Encoding limits a loaded value is built under (what Redis's
/// `rdbLoadObject` converts by).
#[derive(Clone, Copy, Debug)]
pub struct LoadLimits {
    pub max_intset: usize,
    pub zset: zset::Limits,
    pub hash: crate::store::hash::Limits,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_intset: crate::store::set::DEFAULT_MAX_INTSET_ENTRIES,
            zset: zset::Limits::default(),
            hash: crate::store::hash::DEFAULT_LIMITS,
        }
    }
}

/// LZF expands at most 264 bytes out of a 3-byte reference.
const LZF_MAX_RATIO: usize = 88;

/// One thing read from an RDB file.
#[derive(Debug)]
pub enum Item {
    Aux(Vec<u8>, Vec<u8>),
    SelectDb(usize),
    ResizeDb,
    /// A function library's code (FUNCTION2).
    Function(Vec<u8>),
    Key(KeyItem),
    Eof,
}

/// A key with its value and metadata.
#[derive(Debug)]
pub struct KeyItem {
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute unix ms.
    pub expire: Option<u64>,
    /// LRU idle seconds (RDB_OPCODE_IDLE).
    pub idle: Option<u64>,
    /// LFU counter (RDB_OPCODE_FREQ).
    pub freq: Option<u8>,
}

/// A cursor over RDB bytes.
pub struct Decoder<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8]) -> Decoder<'a> {
        Decoder { buf, pos: 0 }
    }

    pub fn at(buf: &'a [u8], pos: usize) -> Decoder<'a> {
        Decoder { buf, pos }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.remaining() {
            return Err(Error::Short);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn byte(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn le(&mut self, n: usize) -> Result<u64, Error> {
        let b = self.take(n)?;
        Ok(b.iter().rev().fold(0u64, |acc, &x| acc << 8 | x as u64))
    }

    /// A length, or the special-encoding tag of a string (`Err(tag)` in the
    /// inner result).
    fn length_or_enc(&mut self) -> Result<Result<u64, u8>, Error> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Ok((b & 0x3f) as u64),
            1 => Ok(((b & 0x3f) as u64) << 8 | self.byte()? as u64),
            2 => match b {
                0x80 => Ok(u32::from_be_bytes(self.array::<4>()?) as u64),
                0x81 => Ok(u64::from_be_bytes(self.array::<8>()?)),
                _ => {
                    return Err(Error::corrupt(format!(
                        "Unknown length encoding {b} in rdbLoadLen()"
                    )));
                }
            },
            _ => Err(b & 0x3f),
        })
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// A plain length.
    pub fn length(&mut self) -> Result<u64, Error> {
        match self.length_or_enc()? {
            Ok(n) => Ok(n),
            Err(_) => Err(Error::corrupt("Unexpected encoded length")),
        }
    }

    /// A count of items that each take at least `min_bytes`: bounded by
    /// what is left of the input.
    pub(super) fn count(&mut self, min_bytes: usize) -> Result<usize, Error> {
        let n = self.length()?;
        if n > (self.remaining() / min_bytes.max(1)) as u64 {
            return Err(Error::Short);
        }
        Ok(n as usize)
    }

    /// A string in any of RDB's encodings.
    pub fn string(&mut self) -> Result<Cow<'a, [u8]>, Error> {
        match self.length_or_enc()? {
            Ok(n) => {
                if n > self.remaining() as u64 {
                    return Err(Error::Short);
                }
                Ok(Cow::Borrowed(self.take(n as usize)?))
            }
            Err(ENC_INT8) => Ok(Cow::Owned((self.byte()? as i8).to_string().into_bytes())),
            Err(ENC_INT16) => Ok(Cow::Owned(
                i16::from_le_bytes(self.array()?).to_string().into_bytes(),
            )),
            Err(ENC_INT32) => Ok(Cow::Owned(
                i32::from_le_bytes(self.array()?).to_string().into_bytes(),
            )),
            Err(ENC_LZF) => {
                let clen = self.length()?;
                let len = self.length()?;
                if clen > self.remaining() as u64 {
                    return Err(Error::Short);
                }
                let data = self.take(clen as usize)?;
                if len > (clen as usize).saturating_mul(LZF_MAX_RATIO) as u64 + 32 {
                    return Err(Error::corrupt("Invalid LZF compressed string"));
                }
                super::lzf::decompress(data, len as usize)
                    .map(Cow::Owned)
                    .ok_or_else(|| Error::corrupt("Invalid LZF compressed string"))
            }
            Err(t) => Err(Error::corrupt(format!(
                "Unknown RDB string encoding type {t}"
            ))),
        }
    }

    fn sds(&mut self) -> Result<Sds, Error> {
        Ok(Sds::new(&self.string()?))
    }

    /// A score in the old text form (RDB_TYPE_ZSET): length byte, then
    /// text; 253/254/255 are nan/+inf/-inf.
    fn text_double(&mut self) -> Result<f64, Error> {
        let n = self.byte()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let t = self.take(n as usize)?;
                crate::number::parse_f64(t).ok_or_else(|| Error::corrupt("Invalid double value"))
            }
        }
    }

    fn binary_double(&mut self) -> Result<f64, Error> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A value of RDB type `ty`. `Ok(None)`: a valid but empty value (Redis
    /// skips such keys when loading a file; RESTORE refuses them).
    pub fn value(&mut self, ty: u8, lim: &LoadLimits) -> Result<Option<Value>, Error> {
        let v = match ty {
            TYPE_STRING => Value::Str(self.sds()?),
            TYPE_LIST => {
                let n = self.count(1)?;
                let mut l = List::new();
                for _ in 0..n {
                    l.push_back(&self.string()?);
                }
                Value::List(l)
            }
            TYPE_SET => {
                let n = self.count(1)?;
                let mut s = if n <= lim.max_intset {
                    Set::new_ints()
                } else {
                    Set::Table(Box::new(Members::with_capacity(n)))
                };
                for _ in 0..n {
                    if !s.add(&self.string()?, lim.max_intset) {
                        return Err(Error::corrupt("Duplicate set members detected"));
                    }
                }
                Value::Set(s)
            }
            TYPE_ZSET | TYPE_ZSET_2 => {
                let n = self.count(2)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let m = self.sds()?;
                    let s = if ty == TYPE_ZSET_2 {
                        self.binary_double()?
                    } else {
                        self.text_double()?
                    };
                    if s.is_nan() {
                        return Err(Error::corrupt("Zset with NAN score detected"));
                    }
                    entries.push((m, s));
                }
                zset_from(entries, lim)?
            }
            TYPE_HASH => {
                let n = self.count(2)?;
                let mut pairs = Vec::with_capacity(n);
                for _ in 0..n {
                    pairs.push((self.sds()?, self.sds()?));
                }
                let h = Hash::from_pairs(pairs.iter().map(|(f, v)| (&f[..], &v[..])), &lim.hash)
                    .ok_or_else(|| Error::corrupt("Duplicate hash fields detected"))?;
                Value::Hash(h)
            }
            TYPE_HASH_ZIPMAP => {
                let blob = self.string()?;
                let e = pack::zipmap_entries(&blob).ok_or_else(|| bad_blob("Zipmap"))?;
                hash_from(&e, lim, true)?
            }
            TYPE_LIST_ZIPLIST => {
                let blob = self.string()?;
                let e = pack::ziplist_entries(&blob).ok_or_else(|| bad_blob("Ziplist"))?;
                list_from(e.into_iter())
            }
            TYPE_SET_INTSET => {
                let blob = self.string()?;
                let m = pack::intset_members(&blob).ok_or_else(|| bad_blob("Intset"))?;
                let mut s = Set::new_ints();
                for v in m {
                    s.add(v.to_string().as_bytes(), lim.max_intset);
                }
                Value::Set(s)
            }
            TYPE_SET_LISTPACK => {
                let blob = self.string()?;
                let e = pack::listpack_entries(&blob).ok_or_else(|| bad_blob("Set listpack"))?;
                let mut s = Set::new_ints();
                for m in e {
                    if !s.add(&m.to_vec(), lim.max_intset) {
                        return Err(Error::corrupt("Duplicate set members detected"));
                    }
                }
                Value::Set(s)
            }
            TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
                let blob = self.string()?;
                let e = if ty == TYPE_ZSET_ZIPLIST {
                    pack::ziplist_entries(&blob).ok_or_else(|| bad_blob("Zset ziplist"))?
                } else {
                    pack::listpack_entries(&blob).ok_or_else(|| bad_blob("Zset listpack"))?
                };
                if !e.len().is_multiple_of(2) {
                    return Err(bad_blob("Zset listpack"));
                }
                let mut entries = Vec::with_capacity(e.len() / 2);
                for p in e.chunks_exact(2) {
                    let s = p[1].to_f64().ok_or_else(|| bad_blob("Zset listpack"))?;
                    entries.push((Sds::from_vec(p[0].to_vec()), s));
                }
                zset_from(entries, lim)?
            }
            TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
                let blob = self.string()?;
                let e = if ty == TYPE_HASH_ZIPLIST {
                    pack::ziplist_entries(&blob).ok_or_else(|| bad_blob("Hash ziplist"))?
                } else {
                    pack::listpack_entries(&blob).ok_or_else(|| bad_blob("Hash listpack"))?
                };
                hash_from(&e, lim, false)?
            }
            TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                let nodes = self.count(1)?;
                let mut l = List::new();
                for _ in 0..nodes {
                    let container = if ty == TYPE_LIST_QUICKLIST_2 {
                        self.length()?
                    } else {
                        QUICKLIST_PACKED
                    };
                    let blob = self.string()?;
                    match container {
                        QUICKLIST_PLAIN => l.push_back(&blob),
                        QUICKLIST_PACKED => {
                            let e = if ty == TYPE_LIST_QUICKLIST {
                                pack::ziplist_entries(&blob)
                            } else {
                                pack::listpack_entries(&blob)
                            }
                            .ok_or_else(|| bad_blob("Quicklist node"))?;
                            for x in e {
                                push_entry(&mut l, x);
                            }
                        }
                        _ => return Err(Error::corrupt("Quicklist integrity check failed.")),
                    }
                }
                Value::List(l)
            }
            TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
                Value::Stream(Box::new(super::stream::read(self, ty)?))
            }
            TYPE_MODULE | TYPE_MODULE_2 => {
                return Err(Error::Unsupported(
                    "module data types are not supported by memkv".into(),
                ));
            }
            _ => return Err(Error::corrupt(format!("Unknown RDB encoding type {ty}"))),
        };
        let empty = match &v {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            Value::Stream(_) => false,
        };
        Ok((!empty).then_some(v))
    }

    /// The `REDIS0010` header; returns the version.
    pub fn header(&mut self) -> Result<u32, Error> {
        let magic = self.take(9).map_err(|_| Error::Signature)?;
        if &magic[..5] != b"REDIS" {
            return Err(Error::Signature);
        }
        let v = std::str::from_utf8(&magic[5..])
            .ok()
            .and_then(|t| t.parse::<u32>().ok())
            .ok_or(Error::Signature)?;
        if !(1..=RDB_VERSION as u32).contains(&v) {
            return Err(Error::Version(v));
        }
        Ok(v)
    }

    /// The next item of a file body.
    pub fn item(&mut self, lim: &LoadLimits) -> Result<Item, Error> {
        let (mut expire, mut idle, mut freq) = (None, None, None);
        loop {
            let op = self.byte()?;
            match op {
                OP_EXPIRETIME_MS => expire = Some(self.le(8)?),
                OP_EXPIRETIME => expire = Some(self.le(4)?.saturating_mul(1000)),
                OP_IDLE => idle = Some(self.length()?),
                OP_FREQ => freq = Some(self.byte()?),
                OP_AUX => {
                    let k = self.string()?.into_owned();
                    let v = self.string()?.into_owned();
                    return Ok(Item::Aux(k, v));
                }
                OP_SELECTDB => {
                    let db = self.length()?;
                    return Ok(Item::SelectDb(usize::try_from(db).unwrap_or(usize::MAX)));
                }
                OP_RESIZEDB => {
                    self.length()?;
                    self.length()?;
                    return Ok(Item::ResizeDb);
                }
                OP_FUNCTION2 => return Ok(Item::Function(self.string()?.into_owned())),
                OP_FUNCTION => {
                    return Err(Error::Unsupported(
                        "Pre-release function format not supported.".into(),
                    ));
                }
                OP_MODULE_AUX => {
                    return Err(Error::Unsupported(
                        "module auxiliary data is not supported by memkv".into(),
                    ));
                }
                OP_EOF => return Ok(Item::Eof),
                ty => {
                    let key = self.string()?.into_owned();
                    let Some(value) = self.value(ty, lim)? else {
                        // Empty keys are skipped, like Redis does.
                        continue;
                    };
                    return Ok(Item::Key(KeyItem {
                        key,
                        value,
                        expire,
                        idle,
                        freq,
                    }));
                }
            }
        }
    }

    /// After EOF (version >= 5): the CRC64 of everything before it. A zero
    /// checksum means the file was written with `rdbchecksum no`.
    pub fn trailer(&mut self, version: u32, check: bool) -> Result<(), Error> {
        if version < 5 {
            return Ok(());
        }
        let end = self.pos;
        let stored = self.le(8)?;
        if check && stored != 0 {
            let actual = crc64(&self.buf[..end]);
            if actual != stored {
                return Err(Error::Checksum {
                    expected: stored,
                    got: actual,
                });
            }
        }
        Ok(())
    }
}

fn bad_blob(what: &str) -> Error {
    Error::corrupt(format!("{what} integrity check failed."))
}

fn list_from<'e>(entries: impl Iterator<Item = Entry<'e>>) -> Value {
    let mut l = List::new();
    for e in entries {
        push_entry(&mut l, e);
    }
    Value::List(l)
}

/// Appends a ziplist/listpack element to a list: an integer is formatted
/// on the stack (the list stores it as an integer entry again).
fn push_entry(l: &mut List, e: Entry<'_>) {
    match e {
        Entry::Str(s) => l.push_back(s),
        Entry::Int(v) => l.push_back(crate::number::fmt_i64(v, &mut [0u8; 20])),
    }
}

/// A hash from a zipmap (`values`: converted by both limits, as Redis 7.0
/// does) or a ziplist/listpack (by the entry count only: Redis keeps a
/// loaded listpack's long values packed).
fn hash_from(e: &[Entry], lim: &LoadLimits, values: bool) -> Result<Value, Error> {
    if !e.len().is_multiple_of(2) {
        return Err(bad_blob("Hash listpack"));
    }
    let texts: Vec<Cow<[u8]>> = e
        .iter()
        .map(|x| match x {
            Entry::Str(s) => Cow::Borrowed(*s),
            Entry::Int(_) => Cow::Owned(x.to_vec()),
        })
        .collect();
    let pairs = texts.chunks_exact(2).map(|p| (&p[0][..], &p[1][..]));
    let hl = crate::store::hash::Limits {
        value: if values { lim.hash.value } else { usize::MAX },
        ..lim.hash
    };
    Hash::from_pairs(pairs, &hl)
        .map(Value::Hash)
        .ok_or_else(|| Error::corrupt("Duplicate hash fields detected"))
}

fn zset_from(mut entries: Vec<(Sds, f64)>, lim: &LoadLimits) -> Result<Value, Error> {
    entries.sort_by(|a, b| zset::cmp_entry(a.1, &a.0, b.1, &b.0));
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    for (m, _) in &entries {
        if !seen.insert(Key::new(m)) {
            return Err(Error::corrupt("Duplicate zset fields detected"));
        }
    }
    Ok(Value::ZSet(ZSet::from_sorted(entries, &lim.zset)))
}
