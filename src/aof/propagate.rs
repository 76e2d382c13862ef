//! Propagation: what actually executed, as RESP commands for the AOF.
//!
//! The dispatcher appends every write command that changed something; a
//! handler whose command is not deterministic on replay (relative expiry,
//! INCRBYFLOAT, blocking pops...) substitutes its own form with
//! [`Propagation::rewrite_as`]. Keys deleted by expiry become `DEL`. A
//! `SELECT` is written whenever the database changes.

use crate::commands::{Args, OwnedArgs};
use crate::resp::reply::write_header;

/// The pending propagation of the current poll round.
#[derive(Debug, Default)]
pub struct Propagation {
    /// Off while no AOF is on, and while loading one.
    pub enabled: bool,
    /// Encoded commands not yet handed to the writer.
    pub buf: Vec<u8>,
    /// Database of the last command written to the current file.
    selected: Option<usize>,
    /// What the running command propagates instead of its own argv.
    replacement: Option<Vec<OwnedArgs>>,
}

impl Propagation {
    /// A handler asks for `cmds` to be propagated instead of its argv
    /// (an empty list propagates nothing).
    pub fn rewrite_as(&mut self, cmds: Vec<OwnedArgs>) {
        if self.enabled {
            self.replacement = Some(cmds);
        }
    }

    /// Convenience for a single replacement command.
    pub fn rewrite_as_one<I, T>(&mut self, parts: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        if self.enabled {
            self.replacement = Some(vec![OwnedArgs::from_slices(parts)]);
        }
    }

    /// Drops a replacement the running command asked for (it failed or
    /// changed nothing).
    #[inline]
    pub fn clear_replacement(&mut self) {
        self.replacement = None;
    }

    /// Appends the command that just ran in `db` (or its replacement).
    #[inline]
    pub fn command(&mut self, db: usize, args: &Args) {
        if self.replacement.is_some() {
            return self.replaced(db);
        }
        match args.frame().and_then(|(buf, ranges)| wire(buf, ranges)) {
            // The client's own bytes are the canonical encoding: copy.
            Some(bytes) => {
                self.select(db);
                self.buf.extend_from_slice(bytes);
            }
            None => self.append(db, args.iter()),
        }
    }

    /// Appends the replacement the running command asked for (kept out
    /// of line: `command` is inlined into the dispatcher).
    #[inline(never)]
    fn replaced(&mut self, db: usize) {
        for a in self.replacement.take().iter().flatten() {
            self.append(db, a.as_args().iter());
        }
    }

    /// A key removed by expiry.
    pub fn del(&mut self, db: usize, key: &[u8]) {
        if self.enabled {
            self.append(db, [&b"DEL"[..], key].into_iter());
        }
    }

    /// Appends one command, preceded by SELECT when the database changes.
    pub fn append<'a>(&mut self, db: usize, parts: impl Iterator<Item = &'a [u8]> + Clone) {
        self.select(db);
        encode_into(&mut self.buf, parts);
    }

    /// Writes SELECT if the next command's database differs.
    #[inline]
    fn select(&mut self, db: usize) {
        if self.selected != Some(db) {
            let mut tmp = [0u8; 20];
            let n = crate::number::fmt_i64(db as i64, &mut tmp);
            encode_into(&mut self.buf, [&b"SELECT"[..], n].into_iter());
            self.selected = Some(db);
        }
    }

    /// The next command goes to a new file: SELECT must be written again.
    pub fn reset_selected(&mut self) {
        self.selected = None;
    }

    /// A position to return to (see [`Propagation::restore`]).
    pub fn mark(&self) -> (usize, Option<usize>) {
        (self.buf.len(), self.selected)
    }

    /// Forgets everything appended since `mark` (a rolled-back EXEC).
    pub fn restore(&mut self, mark: (usize, Option<usize>)) {
        self.buf.truncate(mark.0);
        self.selected = mark.1;
    }

    /// Wraps everything appended since `mark` in MULTI ... EXEC, so a
    /// transaction is replayed as one unit.
    pub fn wrap_multi(&mut self, mark: (usize, Option<usize>)) {
        if self.buf.len() <= mark.0 {
            return;
        }
        let multi = b"*1\r\n$5\r\nMULTI\r\n";
        self.buf.splice(mark.0..mark.0, multi.iter().copied());
        self.buf.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
    }

    /// Takes the round's batch, continuing in `next`: an emptied buffer
    /// the writer gave back (kept as it is: recycled buffers settle at the
    /// size rounds need), or a new one, which starts with room for twice
    /// this round (up to `TAKE_RESERVE_MAX`) - under load rounds are alike,
    /// and one allocation beats growing from empty.
    pub fn take(&mut self, mut next: Vec<u8>) -> Vec<u8> {
        next.clear();
        if next.capacity() == 0 {
            next.reserve((2 * self.buf.len()).min(TAKE_RESERVE_MAX));
        }
        std::mem::replace(&mut self.buf, next)
    }
}

/// Most a batch pre-allocates for the next round.
const TAKE_RESERVE_MAX: usize = 256 << 10;

/// The bytes of a multibulk frame (`buf` from the parser, starting at `*`)
/// if they are exactly `encode_into` of `ranges`. The parser took every
/// header up to its `\r` (a `*` or `$` and the canonical digits of the
/// count or length) but skipped the byte after it, and the two bytes after
/// each argument, unchecked (as Redis does): those are checked here, and
/// anything unusual is left to the encoder.
#[inline]
fn wire<'a>(buf: &'a [u8], ranges: &[std::ops::Range<usize>]) -> Option<&'a [u8]> {
    let crlf = |p: usize| buf.get(p..).and_then(|s| s.first_chunk::<2>()) == Some(b"\r\n");
    // The count line's `\n`; then each header's `\n` (just before its
    // argument) and the `\r\n` after the argument.
    if ranges.is_empty()
        || buf.first() != Some(&b'*')
        || buf.get(2 + digits(ranges.len())) != Some(&b'\n')
    {
        return None;
    }
    let mut end = 0;
    for r in ranges {
        if r.start == 0 || buf.get(r.start - 1) != Some(&b'\n') || !crlf(r.end) {
            return None;
        }
        end = r.end + 2;
    }
    buf.get(..end)
}

/// Decimal digits of `n`.
#[inline]
fn digits(n: usize) -> usize {
    match n {
        0..10 => 1,
        10..100 => 2,
        100..1000 => 3,
        _ => n.ilog10() as usize + 1,
    }
}

/// Encodes argv as a RESP multibulk command.
pub fn encode_into<'a>(out: &mut Vec<u8>, parts: impl Iterator<Item = &'a [u8]> + Clone) {
    // Hand-rolled headers: `write!` through io::Write cost ~1,600
    // instructions per SET, doubling a write's price with the AOF on.
    let (mut n, mut size) = (0usize, 0usize);
    for p in parts.clone() {
        n += 1;
        size += p.len() + 16;
    }
    out.reserve(size + 16);
    write_header(out, b'*', n as i64);
    for p in parts {
        write_header(out, b'$', p.len() as i64);
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_only_on_change_and_multi_wrap() {
        let mut p = Propagation {
            enabled: true,
            ..Default::default()
        };
        let a = OwnedArgs::from_slices(["SET", "k", "v"]);
        p.command(0, &a.as_args());
        let m = p.mark();
        p.command(0, &a.as_args());
        p.wrap_multi(m);
        let s = String::from_utf8(p.take(Vec::new())).unwrap();
        assert_eq!(
            s,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
             *1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nEXEC\r\n"
        );
    }

    /// What `command` appends for `input` parsed by the real parser: the
    /// client's bytes when canonical, the encoder's otherwise - the same
    /// either way.
    fn propagated(input: &[u8]) -> (Vec<u8>, Vec<u8>, bool) {
        let mut ranges = Vec::new();
        let mut scratch = Vec::new();
        let limits = crate::resp::Limits::default();
        let frame = crate::resp::parse_command(input, &limits, &mut ranges, &mut scratch)
            .unwrap()
            .unwrap();
        assert!(!frame.inline);
        let args = Args::multibulk(input, &ranges);
        let copied = wire(input, &ranges).is_some();
        let mut p = Propagation {
            enabled: true,
            selected: Some(0),
            ..Default::default()
        };
        p.command(0, &args);
        let mut expected = Vec::new();
        encode_into(&mut expected, args.iter());
        (p.take(Vec::new()), expected, copied)
    }

    #[test]
    fn client_bytes_copied_only_when_canonical() {
        let long = "x".repeat(1234);
        let cases = [
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n".to_string(),
            format!("*2\r\n$4\r\nINCR\r\n$1234\r\n{long}\r\n"),
            // Redis (and the parser) skip the byte after a `\r` unchecked.
            "*2\r\n$4\r\nINCR\rX$1\r\nk\r\n".to_string(),
            "*2\rX$4\r\nINCR\r\n$1\r\nk\r\n".to_string(),
            "*2\r\n$4\r\nINCRxx$1\r\nk\r\n".to_string(),
            "*2\r\n$4\r\nINCR\r\n$1\r\nk\rZ".to_string(),
        ];
        for (i, c) in cases.iter().enumerate() {
            let (got, expected, copied) = propagated(c.as_bytes());
            assert_eq!(got, expected, "{c:?}");
            assert_eq!(copied, i < 2, "{c:?}");
        }
        let twelve: String = (0..12).map(|i| format!("$2\r\n{i:02}\r\n")).collect();
        let (got, expected, copied) = propagated(format!("*12\r\n{twelve}").as_bytes());
        assert_eq!(got, expected);
        assert!(copied);
        // A view of part of the argv is never copied as the whole frame.
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
        let mut ranges = Vec::new();
        let limits = crate::resp::Limits::default();
        crate::resp::parse_command(input, &limits, &mut ranges, &mut Vec::new()).unwrap();
        assert!(Args::multibulk(input, &ranges).tail(1).frame().is_none());
    }
}
