//! Request parser: RESP multibulk and inline commands, zero-copy.
//!
//! [`parse_command`] is stateless: it looks at the start of the client's
//! query buffer and either finds one complete command there, says that more
//! bytes are needed, or reports a protocol error. [`parse_command_resume`]
//! gives the same answers but keeps a small [`ParseState`] between calls so
//! a big command arriving over many reads is scanned once (use it in the
//! server). Their decisions are those of
//! Redis 7.0 `processMultibulkBuffer` / `processInlineBuffer`
//! (networking.c) and `sdssplitargs` (sds.c):
//!
//! * A buffer starting with `*` is a multibulk request, anything else is an
//!   inline request.
//! * A header line (`*<count>` or `$<len>`) ends at the first `\r`; the byte
//!   after it is skipped without being checked, as Redis does. Numbers are
//!   parsed like Redis's `string2ll` (no `+`, no spaces, no leading zeros,
//!   at most 20 characters, must fit in an `i64`).
//! * A bulk payload is followed by two bytes that are skipped without being
//!   checked (Redis does not verify that they are `\r\n`).
//! * `*0` and any negative count (`*-1`) is an empty command, like a blank
//!   inline line.
//! * An inline line ends at `\n`; one `\r` before it is stripped; the line is
//!   split with `sdssplitargs` rules.
//!
//! Differences from Redis, all deliberate:
//!
//! * Line-length limits are checked deterministically, independent of how
//!   the bytes were chunked by `read()`: a header line or inline line longer
//!   than `max_inline_len` is the "too big" error even when its terminator
//!   is already in the buffer. This is what Redis answers when the bytes
//!   arrive in small reads (Redis only checks when a read leaves no line end
//!   in the buffer).
//! * A NUL byte is an ordinary byte. Redis searches line ends with `strchr`,
//!   which stops at NUL, so a NUL in a header or inline line makes Redis wait
//!   until the buffer passes 64 KiB; here the line is parsed normally (a NUL
//!   in a number makes it invalid; in an inline line it is argument data).
//! * The multibulk count limit is [`Limits::max_multibulk_len`] (Redis 7.0
//!   itself accepts counts up to `INT_MAX`).

use std::fmt;
use std::ops::Range;

use memchr::memchr;

/// Bounds applied while parsing; every length from the network is checked.
#[derive(Debug, Clone)]
pub struct Limits {
    /// proto-max-bulk-len (default 512 MiB).
    pub max_bulk_len: usize,
    /// Largest multibulk element count (Redis: 1024*1024).
    pub max_multibulk_len: usize,
    /// Largest inline request / header line without newline (Redis: 64 KiB).
    pub max_inline_len: usize,
    /// Before AUTH succeeds Redis caps multibulk at 10 and bulk at 16384.
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            max_inline_len: 64 * 1024,
            authenticated: true,
        }
    }
}

/// Largest multibulk count an unauthenticated client may send (Redis).
const UNAUTH_MAX_MULTIBULK: i64 = 10;
/// Largest bulk length an unauthenticated client may send (Redis).
const UNAUTH_MAX_BULK: i64 = 16384;
/// Cap on `args.reserve` from a declared count.
const ARGS_RESERVE_CAP: usize = 1024;

/// One complete command found at the start of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedFrame {
    /// Bytes of the input buffer the command occupied.
    pub consumed: usize,
    /// True for an inline command: the argument ranges then index `scratch`
    /// (unescaped copies), otherwise they index the input buffer.
    pub inline: bool,
}

/// A protocol violation; the client gets the error and is closed.
///
/// `Display` gives Redis's text without the leading `ERR `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// `*<count>` is not a number or is above `max_multibulk_len`.
    InvalidMultibulkLength,
    /// `*<count>` above 10 before authentication.
    UnauthenticatedMultibulkLength,
    /// `$<len>` is not a number, negative, or above `max_bulk_len`.
    InvalidBulkLength,
    /// `$<len>` above 16384 before authentication.
    UnauthenticatedBulkLength,
    /// A multibulk element header does not start with `$`; holds the byte.
    ExpectedDollar(u8),
    /// The `*<count>` line is longer than `max_inline_len`.
    TooBigMbulkCount,
    /// A `$<len>` line is longer than `max_inline_len`.
    TooBigBulkCount,
    /// An inline request line is longer than `max_inline_len`.
    TooBigInlineRequest,
    /// An inline request has an unterminated quote, or a closing quote not
    /// followed by a space.
    UnbalancedQuotes,
}

impl ProtocolError {
    /// Appends the exact bytes Redis sends after `-ERR ` (without CRLF).
    ///
    /// Same as `Display` except for [`ProtocolError::ExpectedDollar`] with a
    /// byte >= 0x80, which Redis sends raw (not valid UTF-8, so `Display`
    /// cannot).
    pub fn write_message(&self, out: &mut Vec<u8>) {
        match *self {
            ProtocolError::ExpectedDollar(b) => {
                out.extend_from_slice(b"Protocol error: expected '$', got '");
                // Redis formats with "%c" via sdscatvprintf: a NUL ends the
                // string there; then CR/LF are mapped to spaces.
                match b {
                    0 => return,
                    b'\r' | b'\n' => out.push(b' '),
                    b => out.push(b),
                }
                out.push(b'\'');
            }
            _ => out.extend_from_slice(self.static_message().as_bytes()),
        }
    }

    fn static_message(&self) -> &'static str {
        match self {
            ProtocolError::InvalidMultibulkLength => "Protocol error: invalid multibulk length",
            ProtocolError::UnauthenticatedMultibulkLength => {
                "Protocol error: unauthenticated multibulk length"
            }
            ProtocolError::InvalidBulkLength => "Protocol error: invalid bulk length",
            ProtocolError::UnauthenticatedBulkLength => {
                "Protocol error: unauthenticated bulk length"
            }
            ProtocolError::ExpectedDollar(_) => "Protocol error: expected '$'",
            ProtocolError::TooBigMbulkCount => "Protocol error: too big mbulk count string",
            ProtocolError::TooBigBulkCount => "Protocol error: too big bulk count string",
            ProtocolError::TooBigInlineRequest => "Protocol error: too big inline request",
            ProtocolError::UnbalancedQuotes => "Protocol error: unbalanced quotes in request",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ProtocolError::ExpectedDollar(b) => {
                f.write_str("Protocol error: expected '$', got '")?;
                match b {
                    0 => Ok(()),
                    b'\r' | b'\n' => f.write_str(" '"),
                    // Bytes >= 0x80 come out as the Latin-1 char (see
                    // `write_message` for Redis's raw byte).
                    b => write!(f, "{}'", char::from(b)),
                }
            }
            _ => f.write_str(self.static_message()),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Parses one command from the start of `buf`.
///
/// * `Ok(None)`: `buf` does not hold a complete command yet (read more and
///   call again with the grown buffer).
/// * `Ok(Some(frame))`: the command took `frame.consumed` (> 0) bytes;
///   `args` holds one range per argument, into `buf` for multibulk or into
///   `scratch` for inline (`frame.inline`). Zero arguments means an empty
///   command (blank line, `*0`, `*-1`) that the caller skips.
/// * `Err(e)`: protocol error; reply `-ERR {e}` and close the client.
///
/// `args` is left empty unless `Ok(Some(_))` is returned. `scratch` is
/// cleared and refilled for inline requests and untouched otherwise.
///
/// Each call starts over at `buf[0]`: a command with many arguments that
/// arrives over many reads is re-scanned each time (quadratic). The server
/// should prefer [`parse_command_resume`], which gives the same results in
/// linear time.
#[inline]
pub fn parse_command(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Range<usize>>,
    scratch: &mut Vec<u8>,
) -> Result<Option<ParsedFrame>, ProtocolError> {
    args.clear();
    let r = match buf.first() {
        None => return Ok(None),
        Some(b'*') => parse_multibulk(buf, limits, args),
        Some(_) => parse_inline(buf, limits, args, scratch, 0),
    };
    match r {
        Ok(Step::Done(frame)) => Ok(Some(frame)),
        Ok(Step::Incomplete(_)) => {
            args.clear();
            Ok(None)
        }
        Err(e) => {
            args.clear();
            Err(e)
        }
    }
}

/// Progress on a command that is still arriving, kept between calls of
/// [`parse_command_resume`] (one per client).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseState {
    /// Multibulk: offset of the next bulk header; 0 = nothing saved.
    pos: usize,
    /// Multibulk: bulks still to read.
    remaining: usize,
    /// Multibulk: `args.len()` when saved (the bulks already read).
    nargs: usize,
    /// Inline: `buf[..scanned]` holds no `\n`.
    scanned: usize,
}

impl ParseState {
    /// No progress saved.
    pub const fn new() -> Self {
        ParseState {
            pos: 0,
            remaining: 0,
            nargs: 0,
            scanned: 0,
        }
    }

    /// Forgets saved progress (only needed if the caller changes the front
    /// of the buffer other than by consuming a returned frame).
    pub fn reset(&mut self) {
        *self = ParseState::new();
    }

    /// When the command arriving in `buf` is inside a bulk argument of at
    /// least `big` bytes whose header was read, the bytes still missing for
    /// that argument (with its CRLF). Like Redis (`PROTO_MBULK_BIG_ARG`),
    /// the reactor then reads that much at once rather than 16 KiB.
    pub fn big_bulk_missing(&self, buf: &[u8], big: usize) -> Option<usize> {
        if self.pos == 0 || self.remaining == 0 || buf.get(self.pos) != Some(&b'$') {
            return None;
        }
        let rest = buf.get(self.pos + 1..)?;
        let digits = rest
            .iter()
            .take(20)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if rest.get(digits..digits + 2) != Some(b"\r\n") {
            return None;
        }
        let len: usize = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
        if len < big {
            return None;
        }
        let end = (self.pos + 1 + digits + 2)
            .checked_add(len)?
            .checked_add(2)?;
        Some(end.saturating_sub(buf.len()))
    }
}

/// [`parse_command`] that resumes where the previous call on the same
/// command stopped, so a command arriving over many reads costs linear
/// time (like Redis's incremental parser) instead of quadratic.
///
/// Same results as [`parse_command`] for the same `buf`, with this contract:
/// between a call that returns `Ok(None)` and the next call, `buf` must
/// start with the same bytes (it may have grown; it may have moved, since
/// offsets are relative to `buf[0]`), and `args` must be passed back
/// unchanged: after `Ok(None)` it holds the arguments read so far. After
/// `Ok(Some(_))` or `Err(_)` the state is reset by itself (the frame was
/// consumed, or the client is closed). A state that cannot belong to `buf`
/// (e.g. `buf` shorter than the saved offset) is ignored.
///
/// Limits are applied to each length once, when first read.
pub fn parse_command_resume(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Range<usize>>,
    scratch: &mut Vec<u8>,
    state: &mut ParseState,
) -> Result<Option<ParsedFrame>, ProtocolError> {
    let r = match buf.first() {
        None => {
            args.clear();
            state.reset();
            return Ok(None);
        }
        Some(b'*') => {
            if state.pos != 0 && state.pos <= buf.len() && state.nargs == args.len() {
                bulks(buf, limits, args, state.pos, state.remaining)
            } else {
                args.clear();
                parse_multibulk(buf, limits, args)
            }
        }
        Some(_) => {
            args.clear();
            let from = if state.pos == 0 && state.scanned <= buf.len() {
                state.scanned
            } else {
                0
            };
            parse_inline(buf, limits, args, scratch, from)
        }
    };
    match r {
        Ok(Step::Done(frame)) => {
            state.reset();
            Ok(Some(frame))
        }
        Ok(Step::Incomplete(progress)) => {
            *state = progress;
            Ok(None)
        }
        Err(e) => {
            state.reset();
            args.clear();
            Err(e)
        }
    }
}

/// Outcome of the internal parsing functions.
enum Step {
    Done(ParsedFrame),
    /// Need more bytes; what was learned so far.
    Incomplete(ParseState),
}

/// Finds the `\r` ending the header line that starts at `start`.
///
/// Returns the index of the `\r`, `Ok(None)` if the line (or the byte after
/// its `\r`) is not complete yet, or `Err(())` when the line is longer than
/// `max` (Redis: no `\r` and more than `max` bytes buffered).
#[inline(always)]
fn header_end(buf: &[u8], start: usize, max: usize) -> Result<Option<usize>, ()> {
    let rest = &buf[start..];
    // Only the first max + 1 bytes can hold the `\r` of an acceptable line.
    let window = &rest[..rest.len().min(max.saturating_add(1))];
    // Header lines are short: look at the first bytes directly before
    // paying for a memchr call.
    const QUICK: usize = 16;
    let quick = &window[..window.len().min(QUICK)];
    let found = match quick.iter().position(|&b| b == b'\r') {
        Some(i) => Some(i),
        None if window.len() > QUICK => memchr(b'\r', &window[QUICK..]).map(|i| i + QUICK),
        None => None,
    };
    match found {
        // Redis needs one more byte after the `\r` (it skips two bytes).
        Some(i) if i + 2 <= rest.len() => Ok(Some(start + i)),
        Some(_) => Ok(None),
        None if rest.len() > max => Err(()),
        None => Ok(None),
    }
}

/// Reads the header line (`*<n>` or `$<n>`) starting at `start`.
///
/// Returns the `string2ll` value of the bytes between the type byte and the
/// `\r` (`None` if not a valid number) and the index of the `\r`; see
/// [`header_end`] for `Ok(None)` and `Err(())`.
#[inline(always)]
fn read_header(buf: &[u8], start: usize, max: usize) -> Result<Option<(Option<i64>, usize)>, ()> {
    // The usual headers of a command - the argument count and short
    // arguments' lengths - have one or two digits: read them directly.
    if max >= 3 {
        match buf.get(start + 1..start + 5) {
            Some(&[d, b'\r', _, _]) if d.is_ascii_digit() => {
                return Ok(Some((Some(i64::from(d - b'0')), start + 2)));
            }
            Some(&[d1 @ b'1'..=b'9', d2, b'\r', _]) if d2.is_ascii_digit() => {
                let v = i64::from(d1 - b'0') * 10 + i64::from(d2 - b'0');
                return Ok(Some((Some(v), start + 3)));
            }
            _ => {}
        }
    }
    // Fast path for the usual line: 1 to 18 digits (no overflow possible),
    // no leading zero, then `\r` and one more byte, within `max`. Anything
    // else goes through the general code, which gives the same answer for
    // these lines.
    let digits_end = buf.len().min(start + 19);
    let mut i = start + 1;
    let mut v: u64 = 0;
    while i < digits_end {
        let d = buf[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v * 10 + u64::from(d);
        i += 1;
    }
    let ndigits = i - (start + 1);
    if ndigits > 0
        && i + 1 < buf.len()
        && buf[i] == b'\r'
        && (ndigits == 1 || buf[start + 1] != b'0')
        && i - start <= max
    {
        return Ok(Some((Some(v as i64), i)));
    }
    match header_end(buf, start, max)? {
        // cr == start when the line is just "\r" (then buf[start] is not
        // '$' and the caller reports that).
        Some(cr) => Ok(Some((buf.get(start + 1..cr).and_then(string2ll), cr))),
        None => Ok(None),
    }
}

/// Redis's `string2ll`: strict decimal `i64`.
#[inline(always)]
fn string2ll(s: &[u8]) -> Option<i64> {
    // Zero length, or 21+ characters (LONG_STR_SIZE), is not a number.
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let (&first, tail) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &c in tail {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    if negative {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

fn parse_multibulk(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Range<usize>>,
) -> Result<Step, ProtocolError> {
    let (count, cr) = match read_header(buf, 0, limits.max_inline_len) {
        Ok(Some(line)) => line,
        Ok(None) => return Ok(Step::Incomplete(ParseState::new())),
        Err(()) => return Err(ProtocolError::TooBigMbulkCount),
    };
    let count = match count {
        Some(n) if n <= 0 => {
            return Ok(Step::Done(ParsedFrame {
                consumed: cr + 2,
                inline: false,
            }));
        }
        Some(n) if (n as u64) <= limits.max_multibulk_len as u64 => n,
        _ => return Err(ProtocolError::InvalidMultibulkLength),
    };
    if count > UNAUTH_MAX_MULTIBULK && !limits.authenticated {
        return Err(ProtocolError::UnauthenticatedMultibulkLength);
    }
    // count <= max_multibulk_len, which is a usize.
    let count = count as usize;
    args.reserve(count.min(ARGS_RESERVE_CAP));
    bulks(buf, limits, args, cr + 2, count)
}

/// Reads `remaining` bulks starting with the header at `pos`.
#[inline(always)]
fn bulks(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Range<usize>>,
    mut pos: usize,
    remaining: usize,
) -> Result<Step, ProtocolError> {
    let max_line = limits.max_inline_len;
    let max_bulk = limits.max_bulk_len as u64;
    for done in 0..remaining {
        let incomplete = |pos, nargs| {
            Ok(Step::Incomplete(ParseState {
                pos,
                remaining: remaining - done,
                nargs,
                scanned: 0,
            }))
        };
        let (len, cr) = match read_header(buf, pos, max_line) {
            Ok(Some(line)) => line,
            Ok(None) => return incomplete(pos, args.len()),
            Err(()) => return Err(ProtocolError::TooBigBulkCount),
        };
        // A complete line was found at `pos`, so buf[pos] exists.
        if buf[pos] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[pos]));
        }
        let len = match len {
            Some(n) if n >= 0 && (n as u64) <= max_bulk => n,
            _ => return Err(ProtocolError::InvalidBulkLength),
        };
        if len > UNAUTH_MAX_BULK && !limits.authenticated {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        let start = cr + 2;
        // Payload plus the two bytes after it must be buffered. Compare in
        // u64 before casting: `len` is attacker-chosen.
        let avail = (buf.len() - start) as u64;
        if avail < len as u64 + 2 {
            return incomplete(pos, args.len());
        }
        // len + 2 <= avail, so it fits in usize.
        let end = start + len as usize;
        args.push(start..end);
        pos = end + 2;
    }
    Ok(Step::Done(ParsedFrame {
        consumed: pos,
        inline: false,
    }))
}

/// Parses an inline command; `buf[..from]` is known to hold no `\n`.
fn parse_inline(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Range<usize>>,
    scratch: &mut Vec<u8>,
    from: usize,
) -> Result<Step, ProtocolError> {
    let max = limits.max_inline_len;
    let window = &buf[..buf.len().min(max.saturating_add(1))];
    let from = from.min(window.len());
    let nl = match memchr(b'\n', &window[from..]) {
        Some(i) => from + i,
        None if buf.len() > max => return Err(ProtocolError::TooBigInlineRequest),
        None => {
            return Ok(Step::Incomplete(ParseState {
                scanned: window.len(),
                ..ParseState::new()
            }));
        }
    };
    let mut end = nl;
    if end > 0 && buf[end - 1] == b'\r' {
        end -= 1;
    }
    scratch.clear();
    split_args(&buf[..end], args, scratch)?;
    Ok(Step::Done(ParsedFrame {
        consumed: nl + 1,
        inline: true,
    }))
}

/// C `isspace` in the "C" locale.
#[inline(always)]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Ends an unquoted token (sdssplitargs: space, \n, \r, \t; not \v \f).
#[inline(always)]
fn ends_token(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

#[inline(always)]
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Redis's `sdssplitargs` over `line`, appending unescaped arguments to
/// `out` and their ranges to `args`.
fn split_args(
    line: &[u8],
    args: &mut Vec<Range<usize>>,
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let n = line.len();
    // Output never exceeds the input line (which is <= max_inline_len).
    out.reserve(n);
    let mut p = 0;
    loop {
        while p < n && is_space(line[p]) {
            p += 1;
        }
        if p == n {
            return Ok(());
        }
        let start = out.len();
        // Unquoted bytes up to a separator, a quote or the end of the line.
        let run = p;
        while p < n && !matches!(line[p], b' ' | b'\n' | b'\r' | b'\t' | b'"' | b'\'') {
            p += 1;
        }
        out.extend_from_slice(&line[run..p]);
        if p < n {
            // A quoted section ends the token: its closing quote must be
            // followed by a blank or the end of the line.
            p = match line[p] {
                b'"' => double_quoted(line, p + 1, out)?,
                b'\'' => single_quoted(line, p + 1, out)?,
                sep => {
                    debug_assert!(ends_token(sep));
                    p + 1
                }
            };
        }
        args.push(start..out.len());
    }
}

/// The inside of a `"..."` section starting at `p` (after the opening
/// quote); returns the position after the closing quote.
#[inline]
fn double_quoted(line: &[u8], mut p: usize, out: &mut Vec<u8>) -> Result<usize, ProtocolError> {
    let n = line.len();
    loop {
        if p == n {
            return Err(ProtocolError::UnbalancedQuotes);
        }
        let c = line[p];
        if c == b'\\' && p + 1 < n {
            if line[p + 1] == b'x'
                && p + 3 < n
                && let (Some(h), Some(l)) = (hex_val(line[p + 2]), hex_val(line[p + 3]))
            {
                out.push(h * 16 + l);
                p += 4;
                continue;
            }
            out.push(match line[p + 1] {
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'b' => 0x08,
                b'a' => 0x07,
                other => other,
            });
            p += 2;
        } else if c == b'"' {
            if p + 1 < n && !is_space(line[p + 1]) {
                return Err(ProtocolError::UnbalancedQuotes);
            }
            return Ok(p + 1);
        } else {
            out.push(c);
            p += 1;
        }
    }
}

/// The inside of a `'...'` section starting at `p` (after the opening
/// quote): only `\'` is an escape. Returns the position after the closing
/// quote.
#[inline]
fn single_quoted(line: &[u8], mut p: usize, out: &mut Vec<u8>) -> Result<usize, ProtocolError> {
    let n = line.len();
    loop {
        if p == n {
            return Err(ProtocolError::UnbalancedQuotes);
        }
        let c = line[p];
        if c == b'\\' && p + 1 < n && line[p + 1] == b'\'' {
            out.push(b'\'');
            p += 2;
        } else if c == b'\'' {
            if p + 1 < n && !is_space(line[p + 1]) {
                return Err(ProtocolError::UnbalancedQuotes);
            }
            return Ok(p + 1);
        } else {
            out.push(c);
            p += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (consumed, inline, args) of one parsed command.
    type Parsed = Option<(usize, bool, Vec<Vec<u8>>)>;
    type Command = (bool, Vec<Vec<u8>>);

    fn parse_with(buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        let r = parse_command(buf, limits, &mut args, &mut scratch)?;
        Ok(r.map(|f| {
            let src: &[u8] = if f.inline { &scratch } else { buf };
            let v = args.iter().map(|r| src[r.clone()].to_vec()).collect();
            (f.consumed, f.inline, v)
        }))
    }

    fn parse(buf: &[u8]) -> Result<Parsed, ProtocolError> {
        parse_with(buf, &Limits::default())
    }

    fn args_of(buf: &[u8]) -> Vec<Vec<u8>> {
        parse(buf).unwrap().unwrap().2
    }

    fn v(items: &[&[u8]]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.to_vec()).collect()
    }

    fn err(buf: &[u8]) -> ProtocolError {
        parse(buf).unwrap_err()
    }

    /// Parses every command of a complete pipeline.
    fn parse_all(buf: &[u8], limits: &Limits) -> Result<Vec<Command>, ProtocolError> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < buf.len() {
            match parse_with(&buf[pos..], limits)? {
                Some((consumed, inline, a)) => {
                    assert!(consumed > 0 && consumed <= buf.len() - pos);
                    pos += consumed;
                    out.push((inline, a));
                }
                None => panic!("incomplete tail at {pos}: {:?}", &buf[pos..]),
            }
        }
        Ok(out)
    }

    // ---- multibulk ----

    #[test]
    fn multibulk_basic() {
        let buf = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let (consumed, inline, a) = parse(buf).unwrap().unwrap();
        assert_eq!(consumed, buf.len());
        assert!(!inline);
        assert_eq!(a, v(&[b"SET", b"k", b"hello"]));
    }

    #[test]
    fn multibulk_ranges_index_buf_zero_copy() {
        let buf = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        let f = parse_command(buf, &Limits::default(), &mut args, &mut scratch)
            .unwrap()
            .unwrap();
        assert_eq!(
            f,
            ParsedFrame {
                consumed: buf.len(),
                inline: false
            }
        );
        assert_eq!(args, vec![8..11, 17..20]);
        assert!(scratch.is_empty());
    }

    #[test]
    fn multibulk_binary_and_empty_args() {
        let buf = b"*3\r\n$0\r\n\r\n$4\r\n\r\n\x00\xff\r\n$2\r\n\"'\r\n";
        assert_eq!(args_of(buf), v(&[b"", b"\r\n\x00\xff", b"\"'"]));
    }

    #[test]
    fn multibulk_one_two_and_three_digit_headers() {
        for n in [1usize, 9, 10, 12, 99, 100, 123] {
            let arg = vec![b'a'; n];
            let mut buf = format!("*12\r\n${n}\r\n").into_bytes();
            buf.extend_from_slice(&arg);
            buf.extend_from_slice(b"\r\n");
            let mut want = vec![arg.clone()];
            for i in 0..11 {
                let a = vec![b'b'; i * 10];
                buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                buf.extend_from_slice(&a);
                buf.extend_from_slice(b"\r\n");
                want.push(a);
            }
            assert_eq!(args_of(&buf), want, "{n}");
        }
    }

    #[test]
    fn multibulk_empty_commands() {
        assert_eq!(parse(b"*0\r\n").unwrap(), Some((4, false, vec![])));
        assert_eq!(parse(b"*-1\r\n").unwrap(), Some((5, false, vec![])));
        assert_eq!(
            parse(b"*-10\r\nPING\r\n").unwrap(),
            Some((6, false, vec![]))
        );
        assert_eq!(
            parse(b"*-9223372036854775808\r\n").unwrap(),
            Some((23, false, vec![]))
        );
        // Negative counts are fine even before AUTH.
        let unauth = Limits {
            authenticated: false,
            ..Limits::default()
        };
        assert_eq!(
            parse_with(b"*-1\r\n", &unauth).unwrap(),
            Some((5, false, vec![]))
        );
    }

    #[test]
    fn multibulk_skips_two_bytes_without_checking_crlf() {
        // Redis skips the byte after the header's '\r' and the two bytes
        // after a payload without looking at them.
        let buf = b"*1\rX$4\rYPINGzw";
        let (consumed, _, a) = parse(buf).unwrap().unwrap();
        assert_eq!(consumed, buf.len());
        assert_eq!(a, v(&[b"PING"]));
        // '\n' inside a header line is not a line end.
        assert_eq!(parse(b"*1\n$4\n").unwrap(), None);
    }

    #[test]
    fn multibulk_incomplete() {
        for buf in [
            &b"*"[..],
            b"*1",
            b"*1\r",
            b"*1\r\n",
            b"*1\r\n$",
            b"*1\r\n$4",
            b"*1\r\n$4\r",
            b"*1\r\n$4\r\nPI",
            b"*1\r\n$4\r\nPING",
            b"*1\r\n$4\r\nPING\r",
            b"*2\r\n$4\r\nPING\r\n",
            b"*1\r\nfoo",
            b"*1\r\n\r",
        ] {
            assert_eq!(parse(buf).unwrap(), None, "{buf:?}");
        }
    }

    #[test]
    fn huge_declared_bulk_is_cheap_and_waits() {
        // 512 MiB declared, 10 bytes present: None without scanning or
        // allocating anything.
        let mut buf = b"*2\r\n$3\r\nSET\r\n$536870912\r\n".to_vec();
        buf.extend_from_slice(&[b'\r'; 10]);
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        assert_eq!(
            parse_command(&buf, &Limits::default(), &mut args, &mut scratch).unwrap(),
            None
        );
        assert!(args.capacity() <= 1024);
        // A declared count of a million reserves at most 1024 slots.
        let r = parse_command(b"*1000000\r\n", &Limits::default(), &mut args, &mut scratch);
        assert_eq!(r.unwrap(), None);
        assert!(args.capacity() <= 1024);
    }

    #[test]
    fn error_invalid_multibulk_length() {
        use ProtocolError::InvalidMultibulkLength as E;
        for buf in [
            &b"*\r\n"[..],
            b"*x\r\n",
            b"*+1\r\n",
            b"* 1\r\n",
            b"*1 \r\n",
            b"*01\r\n",
            b"*-0\r\n",
            b"*-\r\n",
            b"*1.0\r\n",
            b"*9223372036854775808\r\n",
            b"*-9223372036854775809\r\n",
            b"*000000000000000000001\r\n",
            b"*1048577\r\n",
            b"*20000000\r\n",
            b"*3000000000\r\n",
            b"*1\x00\r\n",
        ] {
            assert_eq!(err(buf), E, "{buf:?}");
        }
        // The limit itself is accepted.
        assert_eq!(parse(b"*1048576\r\n").unwrap(), None);
        assert_eq!(E.to_string(), "Protocol error: invalid multibulk length");
    }

    #[test]
    fn error_unauthenticated_multibulk_length() {
        let unauth = Limits {
            authenticated: false,
            ..Limits::default()
        };
        let e = parse_with(b"*11\r\n", &unauth).unwrap_err();
        assert_eq!(e, ProtocolError::UnauthenticatedMultibulkLength);
        assert_eq!(
            e.to_string(),
            "Protocol error: unauthenticated multibulk length"
        );
        assert_eq!(parse_with(b"*10\r\n", &unauth).unwrap(), None);
        // Not a number / over the hard limit: the invalid error comes first.
        assert_eq!(
            parse_with(b"*x\r\n", &unauth).unwrap_err(),
            ProtocolError::InvalidMultibulkLength
        );
        assert_eq!(
            parse_with(b"*3000000000\r\n", &unauth).unwrap_err(),
            ProtocolError::InvalidMultibulkLength
        );
    }

    #[test]
    fn error_invalid_bulk_length() {
        use ProtocolError::InvalidBulkLength as E;
        for buf in [
            &b"*1\r\n$\r\n"[..],
            b"*1\r\n$-1\r\n",
            b"*1\r\n$-0\r\n",
            b"*1\r\n$ 4\r\n",
            b"*1\r\n$+4\r\n",
            b"*1\r\n$04\r\n",
            b"*1\r\n$4x\r\n",
            b"*1\r\n$536870913\r\n",
            b"*1\r\n$99999999999999999999\r\n",
            b"*2\r\n$4\r\nPING\r\n$a\r\n",
        ] {
            assert_eq!(err(buf), E, "{buf:?}");
        }
        assert_eq!(parse(b"*1\r\n$536870912\r\n").unwrap(), None);
        let small = Limits {
            max_bulk_len: 3,
            ..Limits::default()
        };
        assert_eq!(parse_with(b"*1\r\n$4\r\n", &small).unwrap_err(), E);
        assert_eq!(
            parse_with(b"*1\r\n$3\r\nabc\r\n", &small)
                .unwrap()
                .unwrap()
                .2,
            v(&[b"abc"])
        );
        assert_eq!(E.to_string(), "Protocol error: invalid bulk length");
    }

    #[test]
    fn error_unauthenticated_bulk_length() {
        let unauth = Limits {
            authenticated: false,
            ..Limits::default()
        };
        let e = parse_with(b"*1\r\n$16385\r\n", &unauth).unwrap_err();
        assert_eq!(e, ProtocolError::UnauthenticatedBulkLength);
        assert_eq!(e.to_string(), "Protocol error: unauthenticated bulk length");
        assert_eq!(parse_with(b"*1\r\n$16384\r\n", &unauth).unwrap(), None);
        assert_eq!(
            parse_with(b"*1\r\n$100000000\r\n", &unauth).unwrap_err(),
            ProtocolError::UnauthenticatedBulkLength
        );
        assert_eq!(
            parse_with(b"*1\r\n$600000000\r\n", &unauth).unwrap_err(),
            ProtocolError::InvalidBulkLength
        );
    }

    #[test]
    fn error_expected_dollar() {
        let e = err(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n");
        assert_eq!(e, ProtocolError::ExpectedDollar(b'f'));
        assert_eq!(e.to_string(), "Protocol error: expected '$', got 'f'");
        // Redis maps CR/LF to spaces; a NUL truncates "%c" output.
        assert_eq!(err(b"*1\r\n\r\n"), ProtocolError::ExpectedDollar(b'\r'));
        assert_eq!(
            err(b"*1\r\n\r\n").to_string(),
            "Protocol error: expected '$', got ' '"
        );
        assert_eq!(
            err(b"*1\r\n\n\r\n").to_string(),
            "Protocol error: expected '$', got ' '"
        );
        assert_eq!(
            err(b"*1\r\n\x00\r\n").to_string(),
            "Protocol error: expected '$', got '"
        );
        let mut raw = Vec::new();
        err(b"*1\r\n\xe9\r\n").write_message(&mut raw);
        assert_eq!(raw, b"Protocol error: expected '$', got '\xe9'");
        // The check waits for the '\r' of the line first.
        assert_eq!(parse(b"*1\r\nfooz").unwrap(), None);
        // ... and for the byte after it.
        assert_eq!(parse(b"*1\r\nx\r").unwrap(), None);
    }

    #[test]
    fn error_too_big_count_strings() {
        let lim = Limits {
            max_inline_len: 8,
            ..Limits::default()
        };
        // More than 8 bytes and no '\r' in the first 9.
        assert_eq!(
            parse_with(b"*123456789", &lim).unwrap_err(),
            ProtocolError::TooBigMbulkCount
        );
        assert_eq!(parse_with(b"*1234567", &lim).unwrap(), None);
        assert_eq!(
            parse_with(b"*12345678", &lim).unwrap_err(),
            ProtocolError::TooBigMbulkCount
        );
        // A '\r' at offset 8 is within the line limit.
        assert_eq!(parse_with(b"*1234567\r", &lim).unwrap(), None);
        assert_eq!(
            parse_with(b"*1234567\r\n", &lim).unwrap_err(),
            ProtocolError::InvalidMultibulkLength
        );
        // ... but a '\r' past it is not (deterministic, whatever the reads).
        assert_eq!(
            parse_with(b"*12345678\r\n", &lim).unwrap_err(),
            ProtocolError::TooBigMbulkCount
        );
        assert_eq!(
            parse_with(b"*1\r\n$12345678", &lim).unwrap_err(),
            ProtocolError::TooBigBulkCount
        );
        assert_eq!(parse_with(b"*1\r\n$1234567", &lim).unwrap(), None);
        let e = parse_with(b"*1\r\n$1\r\nx\r\n", &lim).unwrap();
        assert_eq!(e.unwrap().2, v(&[b"x"]));
        // Default: 64 KiB.
        let mut big = b"*1\r\n$".to_vec();
        big.resize(big.len() + 64 * 1024, b'1');
        assert_eq!(parse(&big).unwrap_err(), ProtocolError::TooBigBulkCount);
        let mut big = b"*".to_vec();
        big.resize(64 * 1024 + 1, b'1');
        assert_eq!(parse(&big).unwrap_err(), ProtocolError::TooBigMbulkCount);
        big.pop();
        assert_eq!(parse(&big).unwrap(), None);
        assert_eq!(
            ProtocolError::TooBigMbulkCount.to_string(),
            "Protocol error: too big mbulk count string"
        );
        assert_eq!(
            ProtocolError::TooBigBulkCount.to_string(),
            "Protocol error: too big bulk count string"
        );
    }

    // ---- inline ----

    #[test]
    fn inline_basic() {
        let (consumed, inline, a) = parse(b"SET k v\r\nGET k\r\n").unwrap().unwrap();
        assert_eq!(consumed, 9);
        assert!(inline);
        assert_eq!(a, v(&[b"SET", b"k", b"v"]));
        assert_eq!(args_of(b"PING\n"), v(&[b"PING"]));
        assert_eq!(args_of(b"  GET \t  key  \r\n"), v(&[b"GET", b"key"]));
        // Only one '\r' is stripped; another one is a separator.
        assert_eq!(args_of(b"PING\r\r\n"), v(&[b"PING"]));
        assert_eq!(args_of(b"a\rb\n"), v(&[b"a", b"b"]));
        // \v and \f are skipped as leading blanks but are token bytes.
        assert_eq!(args_of(b"\x0bPING\x0b\r\n"), v(&[b"PING\x0b"]));
        assert_eq!(args_of(b"a\x0cb\n"), v(&[b"a\x0cb"]));
        // Binary and NUL bytes are data.
        assert_eq!(args_of(b"a\x00b \xff\n"), v(&[b"a\x00b", b"\xff"]));
    }

    #[test]
    fn inline_ranges_index_scratch() {
        let buf = b"SET \"a b\" c\r\n";
        let mut args = Vec::new();
        let mut scratch = b"garbage".to_vec();
        let f = parse_command(buf, &Limits::default(), &mut args, &mut scratch)
            .unwrap()
            .unwrap();
        assert_eq!(
            f,
            ParsedFrame {
                consumed: buf.len(),
                inline: true
            }
        );
        assert_eq!(scratch, b"SETa bc");
        assert_eq!(args, vec![0..3, 3..6, 6..7]);
    }

    #[test]
    fn inline_empty_lines() {
        assert_eq!(parse(b"\r\n").unwrap(), Some((2, true, vec![])));
        assert_eq!(parse(b"\n").unwrap(), Some((1, true, vec![])));
        assert_eq!(parse(b"   \t\r\n").unwrap(), Some((6, true, vec![])));
        assert_eq!(parse(b"\r\r\n").unwrap(), Some((3, true, vec![])));
    }

    #[test]
    fn inline_incomplete() {
        assert_eq!(parse(b"").unwrap(), None);
        assert_eq!(parse(b"PING").unwrap(), None);
        assert_eq!(parse(b"PING\r").unwrap(), None);
        assert_eq!(parse(b"SET \"a").unwrap(), None);
    }

    #[test]
    fn inline_double_quotes() {
        assert_eq!(args_of(b"SET \"a b\" \"\"\n"), v(&[b"SET", b"a b", b""]));
        assert_eq!(
            args_of(b"X \"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n"),
            v(&[b"X", b"\n\r\t\x08\x07\\\"q"])
        );
        assert_eq!(
            args_of(b"X \"\\x41\\x7a\\xfF\\x00\"\n"),
            v(&[b"X", b"Az\xff\x00"])
        );
        // \x without two hex digits is a plain escaped 'x'.
        assert_eq!(args_of(b"X \"\\xZZ\\x4\"\n"), v(&[b"X", b"xZZx4"]));
        // A quote may open in the middle of a token.
        assert_eq!(args_of(b"ab\"c d\" e\n"), v(&[b"abc d", b"e"]));
        // Closing quote followed by \v is fine (isspace), and ends the token.
        assert_eq!(args_of(b"\"a\"\x0bb\n"), v(&[b"a", b"b"]));
        // Single quotes inside double quotes are literal.
        assert_eq!(args_of(b"\"it's\"\n"), v(&[b"it's"]));
        // Raw CR inside quotes is data.
        assert_eq!(args_of(b"\"a\rb\"\r\n"), v(&[b"a\rb"]));
        assert_eq!(args_of(b"\"a\"\r\n"), v(&[b"a"]));
    }

    #[test]
    fn inline_single_quotes() {
        assert_eq!(args_of(b"SET 'a b' ''\n"), v(&[b"SET", b"a b", b""]));
        assert_eq!(args_of(b"'it\\'s'\n"), v(&[b"it's"]));
        // Other backslashes are literal in single quotes.
        assert_eq!(args_of(b"'a\\nb\\\\ c'\n"), v(&[b"a\\nb\\\\ c"]));
        // ... so a backslash before the closing quote escapes it.
        assert_eq!(err(b"'a\\\\'\n"), ProtocolError::UnbalancedQuotes);
        assert_eq!(args_of(b"'\"'\n"), v(&[b"\""]));
    }

    #[test]
    fn error_unbalanced_quotes() {
        use ProtocolError::UnbalancedQuotes as E;
        for buf in [
            &b"SET \"a\r\n"[..],
            b"SET 'a\r\n",
            b"\"\n",
            b"'\n",
            b"ECHO \"a\"b\r\n",
            b"ECHO 'a'b\r\n",
            b"ECHO \"a\"\"b\"\r\n",
            b"ECHO \"a\\\"\r\n",
            b"ECHO \"a\\\r\n",
            b"ECHO 'a\\'\r\n",
        ] {
            assert_eq!(err(buf), E, "{buf:?}");
        }
        assert_eq!(
            E.to_string(),
            "Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn error_too_big_inline_request() {
        let lim = Limits {
            max_inline_len: 8,
            ..Limits::default()
        };
        assert_eq!(
            parse_with(b"123456789", &lim).unwrap_err(),
            ProtocolError::TooBigInlineRequest
        );
        assert_eq!(parse_with(b"12345678", &lim).unwrap(), None);
        // '\n' at offset 8: an 8-byte line is fine.
        assert_eq!(
            parse_with(b"1234567 \n", &lim).unwrap().unwrap().2,
            v(&[b"1234567"])
        );
        // A 9-byte line is too big even with its '\n' present.
        assert_eq!(
            parse_with(b"123456789\n", &lim).unwrap_err(),
            ProtocolError::TooBigInlineRequest
        );
        let mut big = vec![b'A'; 100 * 1024];
        big.extend_from_slice(b"\r\n");
        assert_eq!(parse(&big).unwrap_err(), ProtocolError::TooBigInlineRequest);
        assert_eq!(
            ProtocolError::TooBigInlineRequest.to_string(),
            "Protocol error: too big inline request"
        );
    }

    #[test]
    fn string2ll_matches_redis() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"7"), Some(7));
        assert_eq!(string2ll(b"-7"), Some(-7));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"00",
            b"01",
            b"-0",
            b"-01",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(string2ll(bad), None, "{bad:?}");
        }
    }

    // ---- pipelines ----

    fn pipelines() -> Vec<Vec<u8>> {
        vec![
            b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"
                .to_vec(),
            b"PING\r\nSET \"a b\" 'c d'\r\n\r\n*0\r\n*-1\r\nGET x\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n".to_vec(),
            b"*2\r\n$4\r\nECHO\r\n$6\r\n\r\n\r\n\r\n\r\nECHO \"\\x00\\n\" x\r\n*1\rz$1\r\nA\r\n".to_vec(),
            {
                let mut p = Vec::new();
                for i in 0..20 {
                    let val = vec![b'v'; i * 7];
                    p.extend_from_slice(
                        format!("*3\r\n$3\r\nSET\r\n$4\r\nk{i:03}\r\n${}\r\n", val.len()).as_bytes(),
                    );
                    p.extend_from_slice(&val);
                    p.extend_from_slice(b"\r\n");
                    p.extend_from_slice(format!("GET k{i:03}\r\n").as_bytes());
                }
                p
            },
        ]
    }

    #[test]
    fn pipeline_parses_all_commands() {
        let got = parse_all(&pipelines()[0], &Limits::default()).unwrap();
        assert_eq!(
            got,
            vec![
                (false, v(&[b"PING"])),
                (false, v(&[b"SET", b"key", b"value"])),
                (false, v(&[b"GET", b"key"])),
            ]
        );
        let got = parse_all(&pipelines()[1], &Limits::default()).unwrap();
        assert_eq!(
            got,
            vec![
                (true, v(&[b"PING"])),
                (true, v(&[b"SET", b"a b", b"c d"])),
                (true, vec![]),
                (false, vec![]),
                (false, vec![]),
                (true, v(&[b"GET", b"x"])),
                (false, v(&[b"ECHO", b""])),
            ]
        );
        let got = parse_all(&pipelines()[2], &Limits::default()).unwrap();
        assert_eq!(
            got,
            vec![
                (false, v(&[b"ECHO", b"\r\n\r\n\r\n"])),
                (true, v(&[b"ECHO", b"\x00\n", b"x"])),
                (false, v(&[b"A"])),
            ]
        );
        assert_eq!(
            parse_all(&pipelines()[3], &Limits::default())
                .unwrap()
                .len(),
            40
        );
    }

    fn error_pipelines() -> Vec<Vec<u8>> {
        vec![
            b"*1\r\n$4\r\nPING\r\nGET \"a\r\n".to_vec(),
            b"PING\r\n*2\r\n$3\r\nGET\r\n$x\r\n".to_vec(),
            b"*1\r\n$4\r\nPING\r\n*1\r\nfooz\r\n".to_vec(),
            b"*1\r\n$4\r\nPING\r\n*01\r\n".to_vec(),
            {
                let mut p = b"*1\r\n$4\r\nPING\r\n".to_vec();
                // Over the 1 KiB line limit used by the split test.
                p.resize(p.len() + 1500, b'A');
                p
            },
        ]
    }

    type Fed = (Vec<Command>, Option<ProtocolError>, usize);

    /// Feeds `input` the way a connection sees it: the buffer grows to each
    /// offset in `cuts` (then to the end of `input`) and complete frames are
    /// consumed from its front after each growth. Returns the commands, the
    /// error if any, and the unconsumed byte count.
    fn feed(input: &[u8], limits: &Limits, cuts: &[usize], resume: bool) -> Fed {
        let mut got = Vec::new();
        let mut start = 0;
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        let mut state = ParseState::new();
        for &end in cuts.iter().chain(std::iter::once(&input.len())) {
            loop {
                let buf = &input[start..end.max(start)];
                let r = if resume {
                    parse_command_resume(buf, limits, &mut args, &mut scratch, &mut state)
                } else {
                    parse_command(buf, limits, &mut args, &mut scratch)
                };
                match r {
                    Err(e) => {
                        assert!(args.is_empty());
                        return (got, Some(e), input.len() - start);
                    }
                    Ok(None) => {
                        if !resume {
                            assert!(args.is_empty());
                        }
                        break;
                    }
                    Ok(Some(f)) => {
                        assert!(f.consumed > 0 && f.consumed <= buf.len());
                        let src: &[u8] = if f.inline { &scratch } else { buf };
                        let a = args.iter().map(|r| src[r.clone()].to_vec()).collect();
                        got.push((f.inline, a));
                        start += f.consumed;
                    }
                }
            }
        }
        (got, None, input.len() - start)
    }

    #[test]
    fn pipeline_split_at_every_byte() {
        let limits = Limits {
            max_inline_len: 1024,
            ..Limits::default()
        };
        for (i, input) in pipelines().into_iter().chain(error_pipelines()).enumerate() {
            let whole = feed(&input, &limits, &[], false);
            if i < pipelines().len() {
                assert_eq!(whole.1, None);
                assert_eq!(whole.2, 0);
                assert_eq!(whole.0, parse_all(&input, &limits).unwrap());
            } else {
                assert!(whole.1.is_some(), "pipeline {i} should fail");
            }
            for resume in [false, true] {
                // Prefix, then the whole.
                for k in 0..=input.len() {
                    let fed = feed(&input, &limits, &[k], resume);
                    assert_eq!(fed, whole, "pipeline {i} split at {k} (resume {resume})");
                }
                // One byte at a time.
                let cuts: Vec<usize> = (1..input.len()).collect();
                assert_eq!(feed(&input, &limits, &cuts, resume), whole, "pipeline {i}");
            }
        }

        // Every strict prefix of each single command is None, args empty.
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        for pipeline in pipelines() {
            let mut pos = 0;
            while pos < pipeline.len() {
                let rest = &pipeline[pos..];
                let full = parse_command(rest, &limits, &mut args, &mut scratch)
                    .unwrap()
                    .unwrap()
                    .consumed;
                for cut in 0..full {
                    assert_eq!(
                        parse_command(&rest[..cut], &limits, &mut args, &mut scratch).unwrap(),
                        None,
                        "prefix {:?}",
                        &rest[..cut]
                    );
                    assert!(args.is_empty());
                }
                pos += full;
            }
        }
    }

    #[test]
    fn big_bulk_missing_counts_the_rest_of_a_big_argument() {
        let limits = Limits::default();
        let (mut args, mut scratch, mut state) = (Vec::new(), Vec::new(), ParseState::new());
        let mut buf = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$40000\r\n".to_vec();
        let head = buf.len();
        buf.extend_from_slice(&[b'x'; 1000]);
        let r = parse_command_resume(&buf, &limits, &mut args, &mut scratch, &mut state);
        assert_eq!(r.unwrap(), None);
        // 40000 bytes + CRLF, 1000 of them already there.
        assert_eq!(state.big_bulk_missing(&buf, 32 * 1024), Some(40_002 - 1000));
        // Below the threshold: not a big argument.
        assert_eq!(state.big_bulk_missing(&buf, 50_000), None);
        // Header not complete yet, or nothing saved: unknown.
        let partial = &buf[..head - 3];
        let mut st = ParseState::new();
        let _ = parse_command_resume(partial, &limits, &mut args, &mut scratch, &mut st);
        assert_eq!(st.big_bulk_missing(partial, 32 * 1024), None);
        assert_eq!(ParseState::new().big_bulk_missing(&buf, 1), None);
    }

    #[test]
    fn resume_keeps_progress_and_resets() {
        let limits = Limits::default();
        let cmd = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        let mut state = ParseState::new();
        let r = parse_command_resume(&cmd[..25], &limits, &mut args, &mut scratch, &mut state);
        assert_eq!(r.unwrap(), None);
        // Two bulks read, the third header saved as the resume point.
        assert_eq!(args, vec![8..11, 17..18]);
        assert_eq!(state.pos, 20);
        assert_eq!(state.remaining, 1);
        let r = parse_command_resume(cmd, &limits, &mut args, &mut scratch, &mut state);
        assert_eq!(
            r.unwrap(),
            Some(ParsedFrame {
                consumed: cmd.len(),
                inline: false
            })
        );
        assert_eq!(args, vec![8..11, 17..18, 24..29]);
        assert_eq!(state, ParseState::new());

        // A state that cannot belong to the buffer is ignored.
        let r = parse_command_resume(&cmd[..25], &limits, &mut args, &mut scratch, &mut state);
        assert_eq!(r.unwrap(), None);
        let other = b"*1\r\n$4\r\nPING\r\n";
        let r = parse_command_resume(other, &limits, &mut args, &mut scratch, &mut state);
        assert_eq!(
            r.unwrap(),
            Some(ParsedFrame {
                consumed: other.len(),
                inline: false
            })
        );
        assert_eq!(args, vec![8..12]);

        // Inline: the scanned prefix is remembered, then reset.
        let r = parse_command_resume(b"GET ke", &limits, &mut args, &mut scratch, &mut state);
        assert_eq!(r.unwrap(), None);
        assert_eq!(state.scanned, 6);
        let r = parse_command_resume(b"GET key\r\n", &limits, &mut args, &mut scratch, &mut state);
        assert_eq!(
            r.unwrap(),
            Some(ParsedFrame {
                consumed: 9,
                inline: true
            })
        );
        assert_eq!(state, ParseState::new());

        // Errors reset the state and clear args.
        let r = parse_command_resume(
            b"*2\r\n$1\r\na\r\n",
            &limits,
            &mut args,
            &mut scratch,
            &mut state,
        );
        assert_eq!(r.unwrap(), None);
        let r = parse_command_resume(
            b"*2\r\n$1\r\na\r\n$-1\r\n",
            &limits,
            &mut args,
            &mut scratch,
            &mut state,
        );
        assert_eq!(r.unwrap_err(), ProtocolError::InvalidBulkLength);
        assert!(args.is_empty());
        assert_eq!(state, ParseState::new());
    }

    #[test]
    fn resume_is_linear_for_many_small_args() {
        // 100k one-byte args fed in 4 KiB reads: with resume every byte is
        // parsed about once. Count parsed bulks through args growth instead
        // of timing: each call may only add the bulks that became complete.
        let n = 100_000;
        let mut input = format!("*{n}\r\n").into_bytes();
        for _ in 0..n {
            input.extend_from_slice(b"$1\r\nx\r\n");
        }
        let limits = Limits::default();
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        let mut state = ParseState::new();
        let mut end = 0;
        let mut calls = 0;
        loop {
            end = (end + 4096).min(input.len());
            calls += 1;
            let before = args.len();
            let r =
                parse_command_resume(&input[..end], &limits, &mut args, &mut scratch, &mut state)
                    .unwrap();
            // Progress is kept: args only grows while incomplete.
            assert!(args.len() >= before);
            if let Some(f) = r {
                assert_eq!(f.consumed, input.len());
                break;
            }
            assert_eq!(args.len(), state.nargs);
        }
        assert_eq!(args.len(), n);
        assert_eq!(calls, input.len().div_ceil(4096));
    }

    #[test]
    fn error_display_all_variants() {
        let all = [
            (
                ProtocolError::InvalidMultibulkLength,
                "Protocol error: invalid multibulk length",
            ),
            (
                ProtocolError::UnauthenticatedMultibulkLength,
                "Protocol error: unauthenticated multibulk length",
            ),
            (
                ProtocolError::InvalidBulkLength,
                "Protocol error: invalid bulk length",
            ),
            (
                ProtocolError::UnauthenticatedBulkLength,
                "Protocol error: unauthenticated bulk length",
            ),
            (
                ProtocolError::ExpectedDollar(b'x'),
                "Protocol error: expected '$', got 'x'",
            ),
            (
                ProtocolError::TooBigMbulkCount,
                "Protocol error: too big mbulk count string",
            ),
            (
                ProtocolError::TooBigBulkCount,
                "Protocol error: too big bulk count string",
            ),
            (
                ProtocolError::TooBigInlineRequest,
                "Protocol error: too big inline request",
            ),
            (
                ProtocolError::UnbalancedQuotes,
                "Protocol error: unbalanced quotes in request",
            ),
        ];
        for (e, s) in all {
            assert_eq!(e.to_string(), s);
            let mut raw = Vec::new();
            e.write_message(&mut raw);
            assert_eq!(raw, s.as_bytes());
        }
    }
}
