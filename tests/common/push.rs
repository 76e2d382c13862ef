//! Reading a RESP3 stream in which push messages (`>`) arrive between
//! replies or between the elements of one (Redis 7.0 writes a client's own
//! keyspace events into the middle of its EXEC reply): [`exchange`] sends
//! a pipeline in one write and returns every byte it caused, in order.

use std::io::Read;

use super::script::split;
use super::{Raw, encode};

/// Length of the value at the start of `b` if complete; pushes found where
/// an aggregate's element is expected are taken in and not counted.
pub fn value_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let after = line_end + 2;
    match *b.first()? {
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = std::str::from_utf8(&b[1..line_end]).ok()?.parse().ok()?;
            let items = if matches!(b[0], b'%' | b'|') {
                2 * n.max(0)
            } else {
                n.max(0)
            };
            let mut pos = after;
            for _ in 0..items {
                while b.get(pos) == Some(&b'>') {
                    pos += value_len(&b[pos..])?;
                }
                pos += value_len(&b[pos..])?;
            }
            Some(pos)
        }
        _ => super::resp_len(b),
    }
}

/// Splits `b` into complete top-level values (pushes included).
pub fn values(b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(n) = value_len(&b[pos..]) {
        out.push(&b[pos..pos + n]);
        pos += n;
    }
    out
}

/// Sends `cmds` in one write and returns every byte the server sent for
/// them: their replies, the pushes among them, and the pushes that follow
/// the last one (a PING in a later event-loop round marks the end).
pub fn exchange(raw: &mut Raw, cmds: &[&str]) -> String {
    let mut req = Vec::new();
    for line in cmds {
        let parts = split(line);
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        req.extend_from_slice(&encode(&refs));
    }
    raw.send(&req);
    let mut buf = std::mem::take(&mut raw.pending);
    let replies = |buf: &[u8]| values(buf).iter().filter(|v| v[0] != b'>').count();
    while replies(&buf) < cmds.len() {
        read_more(raw, &mut buf);
    }
    raw.send(&encode(&[b"PING"]));
    while !buf.ends_with(b"+PONG\r\n") || values(&buf).last() != Some(&&b"+PONG\r\n"[..]) {
        read_more(raw, &mut buf);
    }
    buf.truncate(buf.len() - b"+PONG\r\n".len());
    String::from_utf8_lossy(&buf).into_owned()
}

fn read_more(raw: &mut Raw, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 65536];
    match raw.s.read(&mut chunk) {
        Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
        other => panic!(
            "connection ended or timed out ({other:?}) after {:?}",
            String::from_utf8_lossy(buf)
        ),
    }
}
