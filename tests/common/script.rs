//! Script-driven command tests: a script is a list of (command line,
//! expected reply rendered as text); it runs on memkv and, when installed,
//! on real Redis, so the expectations are checked against Redis itself.

use super::{Raw, Server};

/// Splits a command line on spaces; `"..."` quotes an argument (so `""` is
/// the empty string and `"a b"` has a space).
pub fn split(line: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut quoted = false;
    let mut had = false;
    for b in line.bytes() {
        match b {
            b'"' => {
                quoted = !quoted;
                had = true;
            }
            b' ' if !quoted => {
                if had || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                had = false;
            }
            _ => cur.push(b),
        }
    }
    if had || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A compact, type-exact rendering of one raw reply: `:1`, `+OK`, `-ERR x`,
/// `$-1`, `*-1`, `_`, `"bulk"`, `[a, b]`, `{k: v}`, `~[...]`, `,1.5`, `#t`.
pub fn render(b: &[u8]) -> String {
    let mut pos = 0;
    let s = render_at(b, &mut pos);
    assert_eq!(
        pos,
        b.len(),
        "trailing bytes in {:?}",
        String::from_utf8_lossy(b)
    );
    s
}

pub fn render_at(b: &[u8], pos: &mut usize) -> String {
    let end = b[*pos..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| *pos + i)
        .unwrap_or_else(|| panic!("incomplete reply {:?}", String::from_utf8_lossy(b)));
    let t = b[*pos];
    let head = String::from_utf8_lossy(&b[*pos + 1..end]).into_owned();
    *pos = end + 2;
    match t {
        b'+' | b'-' | b':' | b',' | b'#' | b'(' => format!("{}{}", t as char, head),
        b'_' => "_".into(),
        b'$' | b'=' => {
            let n: i64 = head.parse().unwrap();
            if n < 0 {
                return "$-1".into();
            }
            let data = &b[*pos..*pos + n as usize];
            *pos += n as usize + 2;
            format!("{:?}", String::from_utf8_lossy(data))
        }
        b'*' | b'~' | b'%' | b'>' => {
            let n: i64 = head.parse().unwrap();
            if n < 0 {
                return format!("{}-1", t as char);
            }
            let items = if t == b'%' { 2 * n } else { n };
            let parts: Vec<String> = (0..items).map(|_| render_at(b, pos)).collect();
            match t {
                b'%' => {
                    let pairs: Vec<String> = parts
                        .chunks(2)
                        .map(|p| format!("{}: {}", p[0], p[1]))
                        .collect();
                    format!("{{{}}}", pairs.join(", "))
                }
                b'~' => format!("~[{}]", parts.join(", ")),
                b'>' => format!(">[{}]", parts.join(", ")),
                _ => format!("[{}]", parts.join(", ")),
            }
        }
        _ => panic!("unknown reply type in {:?}", String::from_utf8_lossy(b)),
    }
}

pub fn send(raw: &mut Raw, line: &str) -> String {
    let parts = split(line);
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    render(&raw.cmd(&refs))
}

/// Runs `(command, expected rendering)` pairs; `@resp3` switches the
/// connection to RESP3 (HELLO 3) and `@resp2` back.
pub fn run_script(raw: &mut Raw, who: &str, script: &[(&str, &str)]) {
    for (line, want) in script {
        if *line == "@resp3" || *line == "@resp2" {
            let v: &[u8] = if *line == "@resp3" { b"3" } else { b"2" };
            raw.cmd(&[b"HELLO", v]);
            continue;
        }
        let got = send(raw, line);
        assert_eq!(got, *want, "[{who}] {line}");
    }
}

/// Runs a script on a fresh memkv, and on real Redis when installed.
pub fn both(script: &[(&str, &str)]) {
    let s = Server::start(&[]);
    run_script(&mut s.raw(), "memkv", script);
    if let Some(r) = Server::start_redis(&[]) {
        run_script(&mut r.raw(), "redis", script);
    }
}

/// DEBUG DIGEST, checked to be a real digest (not an error that would
/// compare equal to another error).
pub fn digest(c: &mut Raw) -> String {
    let d = send(c, "DEBUG DIGEST");
    let hex = d.trim_start_matches('+');
    assert!(
        hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "DEBUG DIGEST answered {d}"
    );
    d
}

pub const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOTINT: &str = "-ERR value is not an integer or out of range";
pub const SYNTAX: &str = "-ERR syntax error";

/// Splits a rendered flat array `[a, b, ...]` into its top-level items.
pub fn items(text: &str) -> Vec<String> {
    let inner = &text[1..text.len() - 1];
    let mut out = Vec::new();
    let mut depth = 0;
    let mut in_str = false;
    let mut esc = false;
    let mut cur = String::new();
    for ch in inner.chars() {
        if in_str {
            cur.push(ch);
            if esc {
                esc = false;
            } else if ch == '\\' {
                esc = true;
            } else if ch == '"' {
                in_str = false;
            }
            continue;
        }
        match ch {
            '"' => {
                in_str = true;
                cur.push(ch);
            }
            '[' | '{' => {
                depth += 1;
                cur.push(ch);
            }
            ']' | '}' => {
                depth -= 1;
                cur.push(ch);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(ch),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// Seeded xorshift64* for the differential runs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
    pub fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
}

/// The run's seed: `MEMKV_SEED`, or the clock.
pub fn seed() -> u64 {
    std::env::var("MEMKV_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1
}

/// One command as argv.
pub type Cmd<'a> = &'a [&'a str];

pub fn send_argv(raw: &mut Raw, argv: Cmd) -> String {
    let parts: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
    render(&raw.cmd(&parts))
}

/// Waits until a server that loads an AOF answers commands (convergence:
/// polls, never asserts on time).
pub fn until_loaded(raw: &mut Raw) {
    for _ in 0..600 {
        if !send_argv(raw, &["GET", "__probe__"]).starts_with("-LOADING") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("still loading");
}

/// Runs `cmds` on memkv and real Redis (fresh servers, same protocol) and
/// asserts every reply is the same. Returns memkv's replies.
pub fn differential(resp3: bool, cmds: &[Cmd]) -> Vec<String> {
    let m = Server::start(&[]);
    let mut mr = m.raw();
    let r = Server::start_redis(&[]);
    let mut rr = r.as_ref().map(|r| r.raw());
    if rr.is_none() {
        eprintln!("note: redis-server not installed; scripts run on memkv only");
    }
    if resp3 {
        mr.cmd(&[b"HELLO", b"3"]);
        if let Some(rr) = rr.as_mut() {
            rr.cmd(&[b"HELLO", b"3"]);
        }
    }
    let mut out = Vec::new();
    for argv in cmds {
        let got = send_argv(&mut mr, argv);
        if let Some(rr) = rr.as_mut() {
            let want = send_argv(rr, argv);
            assert_eq!(got, want, "resp3={resp3} {argv:?}");
        }
        out.push(got);
    }
    out
}
