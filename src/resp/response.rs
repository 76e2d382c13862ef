//! Reply parser: splits a byte stream of RESP2/RESP3 *replies* (what a server
//! sends back) into complete replies, and decodes one into a [`Value`] when a
//! caller must look inside (cluster gathers, tests). Every length, count and
//! nesting depth read from the wire is bounded by [`ReplyLimits`]; a breach or
//! malformed input is an error, never a panic or an unbounded allocation.

use memchr::memchr;

/// Bounds on what a peer may send.
#[derive(Debug, Clone, Copy)]
pub struct ReplyLimits {
    /// Largest bulk string / verbatim / blob error payload.
    pub max_bulk: usize,
    /// Largest element count of one aggregate (map pairs count twice).
    pub max_elems: usize,
    /// Deepest nesting of aggregates.
    pub max_depth: usize,
    /// Longest simple line (+, -, :, ...).
    pub max_line: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits {
            max_bulk: 512 * 1024 * 1024,
            max_elems: 1 << 28,
            max_depth: 128,
            max_line: 64 * 1024 * 1024,
        }
    }
}

/// Why a reply stream cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// Not RESP (bad type byte, bad number, missing CRLF).
    Protocol(&'static str),
    /// A declared length, count or depth exceeds the limits.
    TooLarge(&'static str),
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyError::Protocol(m) => write!(f, "protocol error in reply: {m}"),
            ReplyError::TooLarge(m) => write!(f, "reply exceeds limits: {m}"),
        }
    }
}

/// A decoded reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    /// RESP2 null bulk / null array, RESP3 `_`.
    Null,
    Array(Vec<Value>),
    Set(Vec<Value>),
    Push(Vec<Value>),
    Map(Vec<(Value, Value)>),
    /// RESP3 double, as its text.
    Double(Vec<u8>),
    Bool(bool),
    BigNumber(Vec<u8>),
    /// RESP3 verbatim string including its `txt:` prefix.
    Verbatim(Vec<u8>),
}

type Step<T> = Result<Option<T>, ReplyError>;

/// Reads a CRLF-terminated line at `pos`; returns (line, position after CRLF).
fn line<'a>(buf: &'a [u8], pos: usize, lim: &ReplyLimits) -> Step<(&'a [u8], usize)> {
    let rest = &buf[pos..];
    match memchr(b'\r', rest) {
        Some(i) => {
            if i > lim.max_line {
                return Err(ReplyError::TooLarge("line"));
            }
            match rest.get(i + 1) {
                None => Ok(None),
                Some(b'\n') => Ok(Some((&rest[..i], pos + i + 2))),
                Some(_) => Err(ReplyError::Protocol("CR without LF")),
            }
        }
        None if rest.len() > lim.max_line => Err(ReplyError::TooLarge("line")),
        None => Ok(None),
    }
}

fn int(b: &[u8]) -> Result<i64, ReplyError> {
    crate::number::parse_i64(b).ok_or(ReplyError::Protocol("bad integer"))
}

/// A length header: -1 (null) or 0..=max.
fn length(b: &[u8], max: usize, what: &'static str) -> Result<Option<usize>, ReplyError> {
    let n = int(b)?;
    if n == -1 {
        return Ok(None);
    }
    if n < 0 {
        return Err(ReplyError::Protocol("negative length"));
    }
    if n as u64 > max as u64 {
        return Err(ReplyError::TooLarge(what));
    }
    Ok(Some(n as usize))
}

/// The byte length of the first complete reply in `buf`, or `None` if more
/// bytes are needed.
pub fn reply_len(buf: &[u8], lim: &ReplyLimits) -> Result<Option<usize>, ReplyError> {
    // An explicit stack of "elements still to skip" keeps deep nesting off
    // the call stack.
    let mut pending: Vec<usize> = Vec::new();
    let mut pos = 0;
    loop {
        let Some(&t) = buf.get(pos) else {
            return Ok(None);
        };
        let Some((l, next)) = line(buf, pos + 1, lim)? else {
            return Ok(None);
        };
        pos = next;
        let mut children = 0usize;
        match t {
            b':' => {
                int(l)?;
            }
            b'+' | b'-' | b'_' | b',' | b'#' | b'(' => {}
            b'$' | b'!' | b'=' => {
                if let Some(n) = length(l, lim.max_bulk, "bulk length")? {
                    if buf.len() < pos + n + 2 {
                        return Ok(None);
                    }
                    if &buf[pos + n..pos + n + 2] != b"\r\n" {
                        return Err(ReplyError::Protocol("bulk not followed by CRLF"));
                    }
                    pos += n + 2;
                }
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = length(l, lim.max_elems, "aggregate count")?.unwrap_or(0);
                children = if matches!(t, b'%' | b'|') {
                    n.checked_mul(2)
                        .filter(|&m| m <= lim.max_elems)
                        .ok_or(ReplyError::TooLarge("aggregate count"))?
                } else {
                    n
                };
                if t == b'|' {
                    // An attribute precedes the reply it annotates.
                    children += 1;
                }
            }
            _ => return Err(ReplyError::Protocol("unknown reply type")),
        }
        if children > 0 {
            if pending.len() >= lim.max_depth {
                return Err(ReplyError::TooLarge("nesting depth"));
            }
            pending.push(children);
            continue;
        }
        // One element finished: pop every aggregate it completes.
        loop {
            match pending.last_mut() {
                None => return Ok(Some(pos)),
                Some(left) => {
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                    pending.pop();
                }
            }
        }
    }
}

/// Decodes the first complete reply in `buf`: the value and its byte length,
/// or `None` if more bytes are needed.
pub fn parse_value(buf: &[u8], lim: &ReplyLimits) -> Step<(Value, usize)> {
    // Framing first, so decoding below never sees a partial reply.
    let Some(total) = reply_len(buf, lim)? else {
        return Ok(None);
    };
    let mut pos = 0;
    let v = decode(&buf[..total], &mut pos, lim, 0)?;
    Ok(Some((v, total)))
}

fn decode(
    buf: &[u8],
    pos: &mut usize,
    lim: &ReplyLimits,
    depth: usize,
) -> Result<Value, ReplyError> {
    let incomplete = ReplyError::Protocol("truncated");
    if depth > lim.max_depth {
        return Err(ReplyError::TooLarge("nesting depth"));
    }
    let t = *buf.get(*pos).ok_or(incomplete.clone())?;
    let (l, next) = line(buf, *pos + 1, lim)?.ok_or(incomplete.clone())?;
    *pos = next;
    Ok(match t {
        b'+' => Value::Simple(l.to_vec()),
        b'-' => Value::Error(l.to_vec()),
        b':' => Value::Int(int(l)?),
        b'_' => Value::Null,
        b',' => Value::Double(l.to_vec()),
        b'(' => Value::BigNumber(l.to_vec()),
        b'#' => match l {
            b"t" => Value::Bool(true),
            b"f" => Value::Bool(false),
            _ => return Err(ReplyError::Protocol("bad boolean")),
        },
        b'$' | b'!' | b'=' => match length(l, lim.max_bulk, "bulk length")? {
            None => Value::Null,
            Some(n) => {
                let data = buf.get(*pos..*pos + n).ok_or(incomplete)?.to_vec();
                *pos += n + 2;
                match t {
                    b'$' => Value::Bulk(data),
                    b'!' => Value::Error(data),
                    _ => Value::Verbatim(data),
                }
            }
        },
        b'*' | b'~' | b'>' => match length(l, lim.max_elems, "aggregate count")? {
            None => Value::Null,
            Some(n) => {
                // The frame is complete, so n elements follow: each takes at
                // least 3 bytes, which bounds the allocation by the input.
                let mut v = Vec::with_capacity(n.min(buf.len() / 3));
                for _ in 0..n {
                    v.push(decode(buf, pos, lim, depth + 1)?);
                }
                match t {
                    b'*' => Value::Array(v),
                    b'~' => Value::Set(v),
                    _ => Value::Push(v),
                }
            }
        },
        b'%' | b'|' => {
            let n = length(l, lim.max_elems, "aggregate count")?.unwrap_or(0);
            let mut v = Vec::with_capacity(n.min(buf.len() / 6));
            for _ in 0..n {
                let k = decode(buf, pos, lim, depth + 1)?;
                let val = decode(buf, pos, lim, depth + 1)?;
                v.push((k, val));
            }
            if t == b'|' {
                // Attributes are metadata: return the annotated reply.
                return decode(buf, pos, lim, depth + 1);
            }
            Value::Map(v)
        }
        _ => return Err(ReplyError::Protocol("unknown reply type")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> ReplyLimits {
        ReplyLimits::default()
    }

    #[test]
    fn frames_every_type_and_waits_for_more() {
        let replies: &[&[u8]] = &[
            b"+OK\r\n",
            b"-ERR bad\r\n",
            b":-12\r\n",
            b"$3\r\nfoo\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"*0\r\n",
            b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
            b"%1\r\n+k\r\n~2\r\n:1\r\n:2\r\n",
            b">2\r\n+message\r\n$0\r\n\r\n",
            b"_\r\n",
            b",3.5\r\n",
            b"#t\r\n",
            b"(123\r\n",
            b"=7\r\ntxt:abc\r\n",
            b"!3\r\nERR\r\n",
            b"|1\r\n+a\r\n+b\r\n:5\r\n",
        ];
        for r in replies {
            assert_eq!(reply_len(r, &lim()), Ok(Some(r.len())), "{r:?}");
            // Every strict prefix is incomplete, never an error.
            for cut in 0..r.len() {
                assert_eq!(reply_len(&r[..cut], &lim()), Ok(None), "{r:?} cut {cut}");
            }
        }
        let stream = b"+OK\r\n:1\r\n$2\r\nhi\r\n";
        assert_eq!(reply_len(stream, &lim()), Ok(Some(5)));
        assert_eq!(reply_len(&stream[5..], &lim()), Ok(Some(4)));
        assert_eq!(reply_len(&stream[9..], &lim()), Ok(Some(8)));
    }

    #[test]
    fn bulk_payload_may_contain_crlf() {
        let r = b"$4\r\n\r\n\r\n\r\n";
        assert_eq!(reply_len(r, &lim()), Ok(Some(r.len())));
        assert_eq!(
            parse_value(r, &lim()),
            Ok(Some((Value::Bulk(b"\r\n\r\n".to_vec()), r.len())))
        );
    }

    #[test]
    fn malformed_and_oversized_input_is_an_error() {
        assert!(matches!(
            reply_len(b"?x\r\n", &lim()),
            Err(ReplyError::Protocol(_))
        ));
        assert!(matches!(
            reply_len(b":x1\r\n", &lim()),
            Err(ReplyError::Protocol(_))
        ));
        assert!(matches!(
            reply_len(b"$3\r\nfooXY", &lim()),
            Err(ReplyError::Protocol(_))
        ));
        assert!(matches!(
            reply_len(b"$-5\r\n", &lim()),
            Err(ReplyError::Protocol(_))
        ));
        assert!(matches!(
            reply_len(b"+a\rb\r\n", &lim()),
            Err(ReplyError::Protocol(_))
        ));
        let small = ReplyLimits {
            max_bulk: 10,
            max_elems: 4,
            max_depth: 3,
            max_line: 16,
        };
        assert!(matches!(
            reply_len(b"$11\r\n", &small),
            Err(ReplyError::TooLarge(_))
        ));
        assert!(matches!(
            reply_len(b"*5\r\n", &small),
            Err(ReplyError::TooLarge(_))
        ));
        assert!(matches!(
            reply_len(b"%3\r\n", &small),
            Err(ReplyError::TooLarge(_))
        ));
        assert!(matches!(
            reply_len(b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", &small),
            Err(ReplyError::TooLarge(_))
        ));
        assert!(matches!(
            reply_len(b"+aaaaaaaaaaaaaaaaaaaaaaaa", &small),
            Err(ReplyError::TooLarge(_))
        ));
        // A huge declared count with no elements yet is just incomplete and
        // allocates nothing.
        assert_eq!(reply_len(b"*100000000\r\n", &lim()), Ok(None));
    }

    #[test]
    fn decodes_nested_values() {
        let r = b"*3\r\n:1\r\n$-1\r\n%1\r\n+k\r\n~1\r\n#f\r\n";
        let (v, n) = parse_value(r, &lim()).unwrap().unwrap();
        assert_eq!(n, r.len());
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Int(1),
                Value::Null,
                Value::Map(vec![(
                    Value::Simple(b"k".to_vec()),
                    Value::Set(vec![Value::Bool(false)])
                )]),
            ])
        );
        let (v, _) = parse_value(b"|1\r\n+a\r\n+b\r\n:5\r\n", &lim())
            .unwrap()
            .unwrap();
        assert_eq!(v, Value::Int(5));
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let alphabet = b"+-:$*%~>_,#(=!|\r\n0123456789-abc";
        for _ in 0..20_000 {
            let mut buf = Vec::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            for i in 0..len {
                let r = x.rotate_left(i as u32 * 5);
                buf.push(alphabet[(r % alphabet.len() as u64) as usize]);
            }
            let _ = reply_len(&buf, &lim());
            let _ = parse_value(&buf, &lim());
        }
    }
}
