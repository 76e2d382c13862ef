//! Paced latency probe for `scripts/bench.sh` (LATENCY=1): sends requests at
//! a fixed rate, open loop, spread over a few connections, and prints the
//! latency percentiles of the replies. Unlike redis-benchmark (closed loop:
//! every client waits for its reply, so the server is always saturated and
//! a slow reply delays the next requests instead of being seen), this shows
//! the tail at a chosen load, e.g. half of the peak.
//!
//! Usage: latency_probe PORT RATE SECONDS [CONNECTIONS] [COMMAND ARG...]
//! (default 8 connections, `GET probe:key`). Prints one line:
//! `sent measured p50_ms p99_ms p99.9_ms max_ms`: requests sent, replies
//! measured (the first second is warm-up, left out), and latencies from the
//! write of a request to its reply.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// Requests are sent in 1 ms ticks (the poll timeout's resolution).
const TICK: Duration = Duration::from_millis(1);

struct Conn {
    stream: TcpStream,
    /// Send times of the requests whose replies are still due, in order.
    due: VecDeque<Instant>,
    /// Request bytes the socket did not take yet.
    out: Vec<u8>,
    input: Vec<u8>,
}

fn encode(args: &[String]) -> Vec<u8> {
    let mut b = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        b.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    b
}

/// Length of the first complete reply in `b` (simple, error, integer, bulk,
/// or an array of those), or None if it is not all there yet.
fn reply_len(b: &[u8]) -> Option<usize> {
    let eol = b.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&b[1..eol]).ok();
    match b.first()? {
        b'+' | b'-' | b':' => Some(eol + 2),
        b'$' => {
            let n: i64 = head?.parse().ok()?;
            if n < 0 {
                return Some(eol + 2);
            }
            let end = eol + 2 + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' => {
            let n: i64 = head?.parse().ok()?;
            let mut at = eol + 2;
            for _ in 0..n.max(0) {
                at += reply_len(&b[at..])?;
            }
            Some(at)
        }
        _ => None,
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: latency_probe PORT RATE SECONDS [CONNECTIONS] [COMMAND ARG...]");
        std::process::exit(2);
    }
    let parse = |i: usize, what: &str| -> f64 {
        args[i].parse().unwrap_or_else(|_| {
            eprintln!("bad {what}: {}", args[i]);
            std::process::exit(2)
        })
    };
    let port = parse(1, "port") as u16;
    let rate = parse(2, "rate").max(1.0);
    let secs = parse(3, "seconds").max(2.0);
    let nconn = if args.len() > 4 {
        parse(4, "connections").max(1.0) as usize
    } else {
        8
    };
    let cmd = if args.len() > 5 {
        args[5..].to_vec()
    } else {
        vec!["GET".into(), "probe:key".into()]
    };
    let request = encode(&cmd);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut poll = Poll::new()?;
    let mut conns = Vec::new();
    for i in 0..nconn {
        let std_stream = std::net::TcpStream::connect(addr)?;
        std_stream.set_nodelay(true)?;
        std_stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std_stream);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE)?;
        conns.push(Conn {
            stream,
            due: VecDeque::new(),
            out: Vec::new(),
            input: Vec::new(),
        });
    }
    let start = Instant::now();
    let warm = start + Duration::from_secs(1);
    let end = start + Duration::from_secs_f64(secs);
    let mut samples: Vec<u64> = Vec::with_capacity((rate * secs) as usize);
    let mut events = Events::with_capacity(nconn);
    let (mut sent, mut next_conn, mut buf) = (0u64, 0usize, vec![0u8; 64 * 1024]);
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Open loop: whatever is due by now goes out, replies or not.
        let due = (now.duration_since(start).as_secs_f64() * rate) as u64;
        while sent < due {
            let c = &mut conns[next_conn];
            next_conn = (next_conn + 1) % nconn;
            c.out.extend_from_slice(&request);
            c.due.push_back(Instant::now());
            sent += 1;
        }
        for c in conns.iter_mut().filter(|c| !c.out.is_empty()) {
            match c.stream.write(&c.out) {
                Ok(n) => {
                    c.out.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        let next = start + Duration::from_secs_f64((sent + 1) as f64 / rate);
        let wait = next.saturating_duration_since(Instant::now()).min(TICK);
        poll.poll(&mut events, Some(wait))?;
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            loop {
                match c.stream.read(&mut buf) {
                    Ok(0) => return Err(std::io::Error::other("server closed the connection")),
                    Ok(n) => c.input.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            let now = Instant::now();
            let mut at = 0;
            while let Some(len) = reply_len(&c.input[at..]) {
                at += len;
                if let Some(t) = c.due.pop_front()
                    && t >= warm
                {
                    samples.push(now.duration_since(t).as_micros() as u64);
                }
            }
            c.input.drain(..at);
        }
    }
    let replies = samples.len();
    samples.sort_unstable();
    println!(
        "{sent} {replies} {:.3} {:.3} {:.3} {:.3}",
        percentile(&samples, 50.0),
        percentile(&samples, 99.0),
        percentile(&samples, 99.9),
        percentile(&samples, 100.0)
    );
    Ok(())
}
