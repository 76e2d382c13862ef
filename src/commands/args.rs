//! Command arguments: a zero-copy view over the parsed request, and an
//! owned copy for commands that must outlive the read buffer (MULTI queue,
//! parked clients).

use std::ops::{Index, Range};

/// Borrowed argv: ranges into a buffer (the client's query buffer).
#[derive(Clone, Copy)]
pub struct Args<'a> {
    buf: &'a [u8],
    ranges: &'a [Range<usize>],
    /// `buf` starts with the multibulk frame the parser read these ranges
    /// from (see [`Args::frame`]).
    framed: bool,
}

impl<'a> Args<'a> {
    #[inline]
    pub fn new(buf: &'a [u8], ranges: &'a [Range<usize>]) -> Args<'a> {
        Args {
            buf,
            ranges,
            framed: false,
        }
    }

    /// Args of a multibulk command read by `resp::parse_command*` from
    /// `buf`, which starts at the command's `*`: the AOF can then copy the
    /// client's bytes instead of encoding them again.
    #[inline]
    pub fn multibulk(buf: &'a [u8], ranges: &'a [Range<usize>]) -> Args<'a> {
        Args {
            buf,
            ranges,
            framed: true,
        }
    }

    /// The buffer and ranges of a command made by [`Args::multibulk`]
    /// (None otherwise): every length header in the frame is the canonical
    /// decimal of its range's length (the parser accepts no other), but the
    /// byte after each `\r` is not checked - `aof::propagate` does.
    #[inline]
    pub fn frame(&self) -> Option<(&'a [u8], &'a [Range<usize>])> {
        self.framed.then_some((self.buf, self.ranges))
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.ranges.get(i).map(|r| &self.buf[r.clone()])
    }

    /// Argument `i`'s length and the 8 bytes of the buffer from its start
    /// as a little-endian word: the ACL plan's key compare, without the
    /// bounds checks of slicing the argument (it masks what lies past a
    /// shorter argument). Near the buffer's end - a short last key, an
    /// unpipelined command - the argument's own bytes, zero-padded.
    #[inline(always)]
    pub fn len_and_head(&self, i: usize) -> Option<(usize, u64)> {
        let r = self.ranges.get(i)?;
        let len = r.end.wrapping_sub(r.start);
        let word = match self
            .buf
            .get(r.start..r.start.wrapping_add(8))
            .and_then(|b| b.first_chunk::<8>())
        {
            Some(w) => u64::from_le_bytes(*w),
            None => padded_head(self.buf.get(r.clone()).unwrap_or_default()),
        };
        Some((len, word))
    }

    /// The arguments after the first `n` (an argv wrapped in another).
    #[inline]
    pub fn tail(&self, n: usize) -> Args<'a> {
        Args {
            buf: self.buf,
            ranges: &self.ranges[n.min(self.ranges.len())..],
            framed: false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + Clone + '_ {
        self.ranges.iter().map(|r| &self.buf[r.clone()])
    }

    /// An owned copy.
    pub fn to_owned_args(&self) -> OwnedArgs {
        let mut data = Vec::with_capacity(self.ranges.iter().map(|r| r.len()).sum());
        let mut ranges = Vec::with_capacity(self.ranges.len());
        for a in self.iter() {
            let start = data.len();
            data.extend_from_slice(a);
            ranges.push(start..data.len());
        }
        OwnedArgs { data, ranges }
    }
}

impl Index<usize> for Args<'_> {
    type Output = [u8];
    #[inline]
    fn index(&self, i: usize) -> &[u8] {
        &self.buf[self.ranges[i].clone()]
    }
}

/// An owned argv.
#[derive(Clone, Debug, Default)]
pub struct OwnedArgs {
    data: Vec<u8>,
    ranges: Vec<Range<usize>>,
}

impl OwnedArgs {
    /// Bytes held: the arguments plus their index (what a queued MULTI
    /// command counts against the query buffer limit).
    pub fn mem(&self) -> usize {
        self.data.len() + self.ranges.len() * std::mem::size_of::<Range<usize>>()
    }

    pub fn from_slices<I, T>(parts: I) -> OwnedArgs
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut o = OwnedArgs::default();
        for p in parts {
            let start = o.data.len();
            o.data.extend_from_slice(p.as_ref());
            o.ranges.push(start..o.data.len());
        }
        o
    }

    pub fn as_args(&self) -> Args<'_> {
        Args::new(&self.data, &self.ranges)
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// Up to the first 8 bytes of `b`, zero-padded, as a little-endian word.
#[cold]
fn padded_head(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = b.len().min(8);
    w[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(w)
}
