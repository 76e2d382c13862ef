//! Reply encoder: writes RESP2 or RESP3 replies straight into a client's
//! output buffer. Commands call these methods; the protocol version decides
//! how aggregate and null types are spelled on the wire.

use crate::number::{fmt_i64, write_i64};
use std::io::Write;

/// `<prefix><n>\r\n` (a RESP header: `*3`, `$5`, `:42`...) appended to
/// `out` with one copy: the usual one- and two-digit counts and lengths
/// directly, others built on the stack. Shared by replies and the AOF's
/// command encoder.
#[inline(always)]
pub fn write_header(out: &mut Vec<u8>, prefix: u8, n: i64) {
    if (0..10).contains(&n) {
        out.extend_from_slice(&[prefix, b'0' + n as u8, b'\r', b'\n']);
    } else if (10..100).contains(&n) {
        let (t, u) = ((n / 10) as u8, (n % 10) as u8);
        out.extend_from_slice(&[prefix, b'0' + t, b'0' + u, b'\r', b'\n']);
    } else {
        let mut tmp = [0u8; 24];
        tmp[22] = b'\r';
        tmp[23] = b'\n';
        let start = write_i64(n, &mut tmp, 22) - 1;
        tmp[start] = prefix;
        out.extend_from_slice(&tmp[start..]);
    }
}

/// A client's pending output plus the protocol it speaks.
#[derive(Debug, Default)]
pub struct Reply {
    pub buf: Vec<u8>,
    /// True after `HELLO 3`.
    pub resp3: bool,
}

impl Reply {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops everything written after `mark` (a value of `len()` taken earlier).
    #[inline]
    pub fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }

    #[inline]
    fn header(&mut self, prefix: u8, n: i64) {
        write_header(&mut self.buf, prefix, n);
    }

    /// `+OK`.
    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string (`+text`). The text must not contain CR or LF.
    #[inline]
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error line. `msg` includes the code, e.g. `ERR syntax error`.
    /// CR and LF are replaced by spaces, as Redis does.
    pub fn error(&mut self, msg: &str) {
        // INFO errorstats / total_error_replies count every error reply.
        crate::ops::note_error(msg);
        self.buf.push(b'-');
        for &b in msg.as_bytes() {
            self.buf
                .push(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline(always)]
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    /// An integer already formatted (`digits` as [`fmt_i64`] writes them),
    /// for a handler that formats it for the store anyway (INCR).
    #[inline]
    pub fn int_digits(&mut self, digits: &[u8]) {
        self.buf.push(b':');
        self.buf.extend_from_slice(digits);
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string held in two pieces (a packed hash's front-coded
    /// entries: `store::hash::Parts`).
    /// (Inlined so that a one-piece string costs what `bulk` does.)
    #[inline(always)]
    pub fn bulk2(&mut self, head: &[u8], tail: &[u8]) {
        if head.is_empty() {
            self.bulk(tail)
        } else {
            self.bulk_split(head, tail)
        }
    }

    #[inline(never)]
    fn bulk_split(&mut self, head: &[u8], tail: &[u8]) {
        self.header(b'$', (head.len() + tail.len()) as i64);
        self.buf.extend_from_slice(head);
        self.buf.extend_from_slice(tail);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_int(&mut self, n: i64) {
        let mut tmp = [0u8; 20];
        self.bulk(fmt_i64(n, &mut tmp));
    }

    /// Null bulk string: `$-1` in RESP2, `_` in RESP3.
    #[inline]
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// Null array: `*-1` in RESP2, `_` in RESP3.
    #[inline]
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    #[inline]
    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `len` pairs: `%` in RESP3, a flat array of 2*len in RESP2.
    #[inline]
    pub fn map(&mut self, len: usize) {
        if self.resp3 {
            self.header(b'%', len as i64);
        } else {
            self.header(b'*', 2 * len as i64);
        }
    }

    /// A set: `~` in RESP3, an array in RESP2.
    #[inline]
    pub fn set(&mut self, len: usize) {
        if self.resp3 {
            self.header(b'~', len as i64);
        } else {
            self.header(b'*', len as i64);
        }
    }

    /// A push message header (`>` in RESP3, array in RESP2).
    pub fn push(&mut self, len: usize) {
        if self.resp3 {
            self.header(b'>', len as i64);
        } else {
            self.header(b'*', len as i64);
        }
    }

    /// A double: `,` in RESP3, a bulk string in RESP2, formatted as Redis
    /// does (`%.17g`-like shortest round-trip form, `inf`, `-inf`, `nan`).
    pub fn double(&mut self, d: f64) {
        let s = format_double(d);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// Verbatim text (`=len\r\ntxt:...`) in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Raw, already-encoded RESP bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bulk string from formatted text.
    pub fn bulk_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        let mut tmp = Vec::new();
        let _ = tmp.write_fmt(args);
        self.bulk(&tmp);
    }
}

/// Formats a double the way Redis replies with it: integers without a
/// fractional part when exact and small enough, otherwise the shortest
/// representation that round-trips (Redis 7 uses `%.17g` then trims; the
/// shortest round-trip form is what clients see for values set by users).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".to_string();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == d.trunc() && d.abs() < 1e17 {
        // Exact integers print without exponent or fraction.
        return format!("{}", d as i64);
    }
    let s = format!("{}", d);
    // Rust prints very large/small numbers without exponent; use %.17g-style
    // exponent form when Redis would.
    let abs = d.abs();
    if !(1e-5..1e17).contains(&abs) {
        return format_exp(d);
    }
    s
}

/// `%.17g`-like exponent form with the shortest round-trip mantissa,
/// e.g. `1.0000000000000001e+20` / `1e-07`.
fn format_exp(d: f64) -> String {
    let s = format!("{:e}", d); // e.g. "1e20", "1.5e-7"
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{}e{}{:02}", mant, sign, exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_follow_protocol() {
        let mut r = Reply::new();
        r.map(2);
        r.null();
        r.null_array();
        assert_eq!(r.buf, b"*4\r\n$-1\r\n*-1\r\n");
        let mut r = Reply {
            resp3: true,
            ..Reply::default()
        };
        r.map(2);
        r.null();
        r.boolean(true);
        r.double(1.5);
        assert_eq!(r.buf, b"%2\r\n_\r\n#t\r\n,1.5\r\n");
    }

    #[test]
    fn integers_and_errors() {
        let mut r = Reply::new();
        r.int(i64::MIN);
        r.int(0);
        r.error("ERR a\r\nb");
        assert_eq!(r.buf, b":-9223372036854775808\r\n:0\r\n-ERR a  b\r\n");
    }

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(10.5), "10.5");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(-0.1), "-0.1");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.5e-07");
    }
}
