//! Feeds arbitrary bytes through `memkv::resp::parse_command` (and
//! `parse_command_resume`) the way the server does - consume frames from the
//! front until the parser needs more bytes or fails - and checks:
//!
//! * no panic, for any limits;
//! * a frame consumes at least one byte and no more than the buffer holds;
//! * argument ranges lie inside the buffer they index (input for
//!   multibulk, `scratch` for inline); `args` is empty when no frame is
//!   returned by `parse_command`;
//! * multibulk frames respect the count and bulk limits (10 / 16384 when
//!   unauthenticated), their ranges are ordered and inside the frame;
//! * proper prefixes of a complete frame are "need more bytes";
//! * the outcome does not depend on how the input is split into reads,
//!   and `parse_command_resume` gives exactly what `parse_command` gives.
#![no_main]

use std::ops::Range;

use libfuzzer_sys::fuzz_target;
use memkv::resp::parser::{ParseState, parse_command_resume};
use memkv::resp::{Limits, ParsedFrame, ProtocolError, parse_command};

type Command = (bool, Vec<Vec<u8>>);
/// Commands parsed, the error that stopped parsing (if any), bytes left.
type Fed = (Vec<Command>, Option<ProtocolError>, usize);

/// Checks one successful frame and returns its arguments.
fn check_frame(
    frame: ParsedFrame,
    buf: &[u8],
    limits: &Limits,
    args: &[Range<usize>],
    scratch: &[u8],
) -> Command {
    assert!(frame.consumed > 0, "empty frame");
    assert!(frame.consumed <= buf.len(), "consumed past the end");
    let src: &[u8] = if frame.inline { scratch } else { buf };
    let mut owned = Vec::with_capacity(args.len());
    for r in args {
        assert!(
            r.start <= r.end && r.end <= src.len(),
            "range {r:?} outside {}",
            src.len()
        );
        owned.push(src[r.clone()].to_vec());
    }
    if frame.inline {
        assert!(frame.consumed <= limits.max_inline_len.saturating_add(1));
    } else {
        assert!(args.len() <= limits.max_multibulk_len);
        if !limits.authenticated {
            assert!(args.len() <= 10);
        }
        let mut prev_end = 0;
        for r in args {
            assert!(r.start >= prev_end && r.end <= frame.consumed);
            assert!(r.end - r.start <= limits.max_bulk_len);
            if !limits.authenticated {
                assert!(r.end - r.start <= 16384);
            }
            prev_end = r.end;
        }
    }
    (frame.inline, owned)
}

/// Splits `data` into reads whose sizes come from `seed` (0 = one read) and
/// parses as a connection would, with `parse_command` or the resumable one.
fn feed(data: &[u8], limits: &Limits, mut seed: u32, resume: bool) -> Fed {
    let mut got = Vec::new();
    let mut args = Vec::new();
    let mut scratch = Vec::new();
    let mut state = ParseState::new();
    let mut start = 0;
    let mut end = 0;
    while end < data.len() {
        end = if seed == 0 {
            data.len()
        } else {
            // xorshift32: read sizes of 1..=64 bytes.
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (end + 1 + (seed % 64) as usize).min(data.len())
        };
        loop {
            let buf = &data[start..end];
            let r = if resume {
                parse_command_resume(buf, limits, &mut args, &mut scratch, &mut state)
            } else {
                parse_command(buf, limits, &mut args, &mut scratch)
            };
            match r {
                Ok(Some(frame)) => {
                    got.push(check_frame(frame, buf, limits, &args, &scratch));
                    start += frame.consumed;
                }
                Ok(None) => {
                    if !resume {
                        assert!(args.is_empty(), "args left behind with Ok(None)");
                    }
                    break;
                }
                Err(e) => {
                    assert!(args.is_empty(), "args left behind with Err");
                    assert!(e.to_string().starts_with("Protocol error: "));
                    return (got, Some(e), data.len() - start);
                }
            }
        }
    }
    (got, None, data.len() - start)
}

/// Proper prefixes of each complete frame must be "need more bytes".
fn check_prefixes(data: &[u8], limits: &Limits) {
    let mut args = Vec::new();
    let mut scratch = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let buf = &data[pos..];
        let Ok(Some(frame)) = parse_command(buf, limits, &mut args, &mut scratch) else {
            break;
        };
        let n = frame.consumed;
        for cut in [0, 1, n / 2, n.saturating_sub(2), n - 1] {
            if cut < n {
                let r = parse_command(&buf[..cut], limits, &mut args, &mut scratch);
                assert_eq!(r, Ok(None), "prefix of {n} cut at {cut}");
                assert!(args.is_empty());
            }
        }
        pos += n;
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the limits (small ones included) and the second
    // seeds the read sizes.
    let (sel, data) = match data.split_first() {
        Some((&s, rest)) => (s, rest),
        None => (0, data),
    };
    let limits = match sel % 4 {
        0 => Limits::default(),
        1 => Limits {
            authenticated: false,
            ..Limits::default()
        },
        2 => Limits {
            max_bulk_len: usize::from(sel >> 2) % 16,
            max_multibulk_len: usize::from(sel >> 4) % 8,
            max_inline_len: usize::from(sel >> 2) % 32,
            authenticated: true,
        },
        _ => Limits {
            max_bulk_len: usize::MAX,
            max_multibulk_len: usize::MAX,
            max_inline_len: usize::MAX,
            authenticated: sel & 4 == 0,
        },
    };
    let seed = u32::from(data.first().copied().unwrap_or(0)) | 0x100;

    let whole = feed(data, &limits, 0, false);
    assert_eq!(feed(data, &limits, 0, true), whole, "resume, one read");
    assert_eq!(feed(data, &limits, seed, false), whole, "split reads");
    assert_eq!(
        feed(data, &limits, seed, true),
        whole,
        "resume, split reads"
    );
    check_prefixes(data, &limits);
});
