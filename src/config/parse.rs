//! redis.conf syntax and the redis-server command line: ports of Redis's
//! low-level helpers (`sdssplitargs`, `sdscatrepr`, `memtoull`, `string2ll`,
//! `strtoll`, `string2d`), the loader that reads files, stdin and `include`s
//! (with glob expansion) into the directive map, and the `main()` style
//! command-line handling that turns options into config text.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::glob::glob_match;

use super::*;

// ---------------------------------------------------------------------------
// Low-level parsing helpers (ports of Redis's sds.c / util.c)
// ---------------------------------------------------------------------------

/// C `isspace` in the "C" locale.
pub(super) fn c_isspace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Port of `sdssplitargs`: split a line into arguments honouring Redis's
/// quoting rules. Returns `None` on unbalanced quotes (or a closing quote
/// not followed by a space). Input is treated as a C string: it ends at the
/// first NUL byte.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let end = memchr::memchr(0, line).unwrap_or(line.len());
    let line = &line[..end];
    let at = |i: usize| -> u8 { line.get(i).copied().unwrap_or(0) };
    let mut args = Vec::new();
    let mut p = 0usize;
    loop {
        while p < line.len() && c_isspace(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let mut inq = false;
        let mut insq = false;
        let mut done = false;
        let mut current = Vec::new();
        while !done {
            let c = at(p);
            if inq {
                if c == b'\\'
                    && at(p + 1) == b'x'
                    && at(p + 2).is_ascii_hexdigit()
                    && at(p + 3).is_ascii_hexdigit()
                {
                    let hex = |b: u8| (b as char).to_digit(16).unwrap() as u8;
                    current.push(hex(at(p + 2)) * 16 + hex(at(p + 3)));
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    // The closing quote must be followed by a space or
                    // nothing at all.
                    if at(p + 1) != 0 && !c_isspace(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None; // unterminated quotes
                } else {
                    current.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !c_isspace(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    other => current.push(other),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        args.push(current);
    }
}

/// Port of `sdscatrepr`: quote a string so `split_args` reads it back.
pub fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &c in s {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

/// `sdssplitlen(value, " ")`: how CONFIG SET splits multi-argument values
/// (empty input gives no tokens; consecutive spaces give empty tokens).
pub(super) fn split_space(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(' ').map(str::to_string).collect()
    }
}

/// Redis's `yesnotoi`.
pub(super) fn yes_no(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// Port of Redis's `memtoull`: `123`, `1k` (1000), `1kb` (1024), `m`, `mb`,
/// `g`, `gb`, `b`; units case-insensitive. Overflowing digit strings
/// saturate like `strtoull`. Returns `None` where Redis sets `err`.
pub fn memtoull(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.first() == Some(&b'-') {
        return None;
    }
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = &s[digits..];
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits >= 128 {
        return None;
    }
    let mut val: u64 = 0;
    for &c in &b[..digits] {
        val = val
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as u64))
            .unwrap_or(u64::MAX);
        if val == u64::MAX {
            break;
        }
    }
    if val > u64::MAX / mul {
        return None;
    }
    Some(val * mul)
}

/// Port of Redis's strict `string2ll`: optional `-`, no leading zeros, no
/// `+`, no spaces, no overflow.
pub fn string2ll(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// C `strtoll(s, &end, base)`: returns the value (saturated on overflow),
/// whether all of `s` was consumed (`*end == '\0'`) and whether it
/// overflowed (`errno == ERANGE`).
pub(super) fn c_strtoll(s: &str, base: u32) -> (i64, bool, bool) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && c_isspace(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut acc: i128 = 0;
    let mut overflow = false;
    while i < b.len() {
        let Some(d) = (b[i] as char).to_digit(base) else {
            break;
        };
        if !overflow {
            acc = acc * base as i128 + d as i128;
            if acc > i64::MAX as i128 + 1 {
                overflow = true;
            }
        }
        i += 1;
    }
    if i == start {
        // No conversion: end points at the start of the string.
        return (0, s.is_empty(), false);
    }
    let v = if neg { -acc } else { acc };
    let (v, of) = if v > i64::MAX as i128 {
        (i64::MAX, true)
    } else if v < i64::MIN as i128 {
        (i64::MIN, true)
    } else {
        (v as i64, overflow)
    };
    (v, i == b.len(), of)
}

/// Redis's `string2d` (strict strtod).
pub(super) fn string2d(s: &str) -> Option<f64> {
    if s.is_empty() || c_isspace(s.as_bytes()[0]) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// `printf("%f")` followed by Redis's `trimDoubleString`.
pub(super) fn format_percentile(v: f64) -> String {
    let mut s = format!("{v:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// Text of an OS error as `strerror` gives it (no "(os error N)" suffix).
pub fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

pub(super) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

pub(super) enum DirectiveError {
    Message(String),
    Nested(ConfigError),
}

impl From<String> for DirectiveError {
    fn from(s: String) -> Self {
        DirectiveError::Message(s)
    }
}

pub(super) struct Loader {
    pub(super) values: BTreeMap<&'static str, Vec<String>>,
    pub(super) ignored: Vec<String>,
    pub(super) rename_commands: Vec<(String, String)>,
    /// `user <name> rules...` lines, for the ACL at start-up.
    pub(super) users: Vec<Vec<String>>,
    pub(super) ctx: SetCtx,
    pub(super) depth: usize,
}

/// Includes deeper than this are refused (Redis recurses until it crashes).
pub(super) const MAX_INCLUDE_DEPTH: usize = 32;

impl Loader {
    pub(super) fn new() -> Self {
        Loader {
            values: BTreeMap::new(),
            ignored: Vec::new(),
            rename_commands: Vec::new(),
            users: Vec::new(),
            ctx: SetCtx {
                loading: true,
                save_loaded: false,
                cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            },
            depth: 0,
        }
    }

    fn note_ignored(&mut self, name: &str) {
        if !self.ignored.iter().any(|n| n == name) {
            self.ignored.push(name.to_string());
        }
    }

    fn current(&self, spec: &Spec) -> Vec<String> {
        self.values
            .get(spec.name)
            .cloned()
            .unwrap_or_else(|| spec.default_args())
    }

    /// `loadServerConfigFromString`.
    pub(super) fn load_text(
        &mut self,
        text: &[u8],
        origin: &ConfigOrigin,
    ) -> Result<(), ConfigError> {
        if text.is_empty() {
            return Ok(());
        }
        for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
            let line = trim_bytes(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let err_at = |msg: String| ConfigError::at(origin, i + 1, &lossy(line), msg);
            let Some(argv) = split_args(line) else {
                return Err(err_at("Unbalanced quotes in configuration line".into()));
            };
            if argv.is_empty() {
                continue;
            }
            let argv: Vec<String> = argv.iter().map(|a| lossy(a)).collect();
            match self.directive(&argv) {
                Ok(()) => {}
                Err(DirectiveError::Message(m)) => return Err(err_at(m)),
                Err(DirectiveError::Nested(e)) => return Err(e),
            }
        }
        Ok(())
    }

    fn directive(&mut self, argv: &[String]) -> Result<(), DirectiveError> {
        let name = argv[0].to_ascii_lowercase();
        let argc = argv.len();
        if let Some((spec, _)) = lookup(&name) {
            if !spec.has(MULTI_ARG) && argc != 2 {
                return Err("wrong number of arguments".to_string().into());
            }
            let current = self.current(spec);
            let value = set_value(spec, &argv[1..], &current, &mut self.ctx)?;
            self.values.insert(spec.name, value);
            if !is_typed(spec.name)
                && !crate::memory::DIRECTIVES.contains(&spec.name)
                && !super::READ_RAW.contains(&spec.name)
            {
                self.note_ignored(spec.name);
            }
            return Ok(());
        }
        if DEPRECATED.contains(&name.as_str()) && argc == 2 {
            self.note_ignored(&name);
            return Ok(());
        }
        match name.as_str() {
            "include" if argc == 2 => self.include(&argv[1]),
            "rename-command" if argc == 3 => {
                self.rename_commands
                    .push((argv[1].clone(), argv[2].clone()));
                Ok(())
            }
            "user" if argc >= 2 => {
                self.users.push(argv[1..].to_vec());
                Ok(())
            }
            "loadmodule" if argc >= 2 => {
                self.note_ignored(&name);
                Ok(())
            }
            n if n.contains('.') => {
                if argc != 2 {
                    return Err("Module config specified without value".to_string().into());
                }
                self.note_ignored(n);
                Ok(())
            }
            "sentinel" => {
                if argc != 1 {
                    return Err("sentinel directive while not in sentinel mode"
                        .to_string()
                        .into());
                }
                Ok(())
            }
            _ => Err("Bad directive or wrong number of arguments"
                .to_string()
                .into()),
        }
    }

    fn include(&mut self, path: &str) -> Result<(), DirectiveError> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(format!(
                "Too many nested include directives (more than {MAX_INCLUDE_DEPTH}), include loop?"
            )
            .into());
        }
        self.depth += 1;
        let r = self.load_path(path).map_err(DirectiveError::Nested);
        self.depth -= 1;
        r
    }

    /// `loadServerConfig(filename)`: a plain path must open; a path with
    /// glob characters loads every match (none is fine).
    pub(super) fn load_path(&mut self, path: &str) -> Result<(), ConfigError> {
        let full = self.ctx.cwd.join(path);
        if path.contains(['*', '?', '[']) {
            for file in expand_glob(&full) {
                let text = std::fs::read(&file).map_err(|e| {
                    ConfigError::plain(format!(
                        "Fatal error, can't open config file '{}': {}",
                        file.display(),
                        strerror(&e)
                    ))
                })?;
                self.load_text(&text, &ConfigOrigin::File(file))?;
            }
            Ok(())
        } else {
            let text = std::fs::read(&full).map_err(|e| {
                ConfigError::plain(format!(
                    "Fatal error, can't open config file '{path}': {}",
                    strerror(&e)
                ))
            })?;
            self.load_text(&text, &ConfigOrigin::File(PathBuf::from(path)))
        }
    }

    pub(super) fn finish(self, config_file: Option<PathBuf>) -> Result<Config, ConfigError> {
        let mut config = Config::deserialize(DirectiveMap {
            iter: self.values.iter(),
            value: None,
        })
        .map_err(|e| ConfigError::fatal(e.0))?;
        config.other = self
            .values
            .into_iter()
            .filter(|(k, _)| !is_typed(k))
            .collect();
        config.ignored = self.ignored;
        config.rename_commands = self.rename_commands;
        config.users = self.users;
        config.config_file = config_file;
        Ok(config)
    }
}

pub(super) fn trim_bytes(b: &[u8]) -> &[u8] {
    let is_trim = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = b.iter().position(|c| !is_trim(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_trim(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

/// A small `glob(3)`: wildcards in any path component, matched with Redis's
/// matcher; hidden entries only match patterns starting with '.'; sorted.
pub(super) fn expand_glob(pattern: &Path) -> Vec<PathBuf> {
    use std::path::Component;
    let mut paths = vec![PathBuf::new()];
    for comp in pattern.components() {
        let part = comp.as_os_str().to_string_lossy().into_owned();
        let wild = matches!(comp, Component::Normal(_)) && part.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for base in &paths {
            if !wild {
                next.push(base.join(comp.as_os_str()));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') || part.starts_with('.'))
                .filter(|n| glob_match(part.as_bytes(), n.as_bytes(), false))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        paths = next;
    }
    paths.retain(|p| p.is_file());
    paths
}

/// What a redis-server command line means: `[config-file] [-] [--name
/// value...]`.
pub(super) struct CommandLine {
    pub(super) config_file: Option<String>,
    pub(super) stdin: bool,
    pub(super) options: String,
}

/// Port of the argument handling of Redis's `main()`: options become
/// config text (`--port 6380` -> `port "6380"`), values quoted with
/// `sdscatrepr`, an option's values running up to the next `--name`.
pub(super) fn parse_command_line(args: &[String]) -> CommandLine {
    let n = args.len();
    let mut j = 0;
    let mut config_file = None;
    if n > 0 && !args[0].starts_with('-') {
        config_file = Some(args[0].clone());
        j = 1;
    }
    let mut stdin = false;
    let mut options = String::new();
    let mut handled_last_config_arg = true;
    while j < n {
        let a = &args[j];
        if a == "-" && (j == 0 || j == n - 1) {
            stdin = true;
        } else if handled_last_config_arg && a.starts_with("--") {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(&a[2..]);
            options.push(' ');
            let argc = split_args(a.as_bytes()).map_or(0, |v| v.len());
            if argc == 1 {
                // Only an option name: its values follow.
                handled_last_config_arg = false;
                let next_is_option = j != n - 1 && args[j + 1].starts_with("--");
                if a.eq_ignore_ascii_case("--save") {
                    // `--save` with no value means `save ""`.
                    if next_is_option {
                        options.push_str("\"\"");
                        handled_last_config_arg = true;
                    } else if j == n - 1 {
                        options.push_str("\"\"");
                    }
                } else if a.eq_ignore_ascii_case("--sentinel") && next_is_option {
                    handled_last_config_arg = true;
                }
            } else {
                // Name and value in one argument, like "--port 6380".
                handled_last_config_arg = true;
            }
        } else {
            options.push_str(&repr(a.as_bytes()));
            options.push(' ');
            handled_last_config_arg = true;
        }
        j += 1;
    }
    CommandLine {
        config_file,
        stdin,
        options,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| v.iter().map(|a| lossy(a)).collect())
    }

    #[test]
    fn split_args_like_sdssplitargs() {
        assert_eq!(split("a b  c"), Some(args(&["a", "b", "c"])));
        assert_eq!(split("  "), Some(vec![]));
        assert_eq!(
            split(r#"set "a b" 'c d'"#),
            Some(args(&["set", "a b", "c d"]))
        );
        assert_eq!(split(r#""\x41\n\t\"\\""#), Some(args(&["A\n\t\"\\"])));
        assert_eq!(split(r#""\q""#), Some(args(&["q"])));
        assert_eq!(split(r#"'it\'s'"#), Some(args(&["it's"])));
        assert_eq!(split(r#"'a\nb'"#), Some(args(&["a\\nb"])));
        assert_eq!(split(r#"ab"cd ef""#), Some(args(&["abcd ef"])));
        assert_eq!(split(r#""""#), Some(args(&[""])));
        assert_eq!(split(r#""abc"#), None);
        assert_eq!(split(r#"'abc"#), None);
        assert_eq!(split(r#""abc"def"#), None);
        assert_eq!(split("a\0b c"), Some(args(&["a"])));
        assert_eq!(split_args(br#""\xff""#), Some(vec![vec![0xff]]));
    }

    #[test]
    fn repr_round_trips() {
        for s in [
            "plain",
            "a b",
            "q\"uote",
            "back\\slash",
            "nl\nx",
            "\x01\x7f",
            "",
        ] {
            let quoted = repr(s.as_bytes());
            assert_eq!(split(&quoted), Some(vec![s.to_string()]), "{quoted}");
        }
        assert_eq!(repr(b"a\"b\x01"), r#""a\"b\x01""#);
    }

    #[test]
    fn memtoull_like_redis() {
        assert_eq!(memtoull("0"), Some(0));
        assert_eq!(memtoull("100"), Some(100));
        assert_eq!(memtoull("100k"), Some(100_000));
        assert_eq!(memtoull("100kb"), Some(102_400));
        assert_eq!(memtoull("512mb"), Some(512 << 20));
        assert_eq!(memtoull("1GB"), Some(1 << 30));
        assert_eq!(memtoull("1g"), Some(1_000_000_000));
        assert_eq!(memtoull("5b"), Some(5));
        assert_eq!(memtoull("0100"), Some(100));
        assert_eq!(memtoull(""), Some(0));
        assert_eq!(memtoull("gb"), Some(0));
        assert_eq!(memtoull("-1"), None);
        assert_eq!(memtoull("1.5gb"), None);
        assert_eq!(memtoull("abc"), None);
        assert_eq!(memtoull(" 1"), None);
        assert_eq!(memtoull("+1"), None);
        assert_eq!(memtoull("99999999999999999999"), Some(u64::MAX));
        assert_eq!(memtoull("99999999999999999999k"), None);
        assert_eq!(memtoull("17179869184gb"), None);
    }

    #[test]
    fn string2ll_is_strict() {
        assert_eq!(string2ll("0"), Some(0));
        assert_eq!(string2ll("-1"), Some(-1));
        assert_eq!(string2ll("9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll("-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "-",
            "+1",
            "01",
            "-0",
            " 1",
            "1 ",
            "9223372036854775808",
            "1k",
        ] {
            assert_eq!(string2ll(bad), None, "{bad}");
        }
    }

    #[test]
    fn c_strtoll_semantics() {
        assert_eq!(c_strtoll("10", 10), (10, true, false));
        assert_eq!(c_strtoll(" +10", 10), (10, true, false));
        assert_eq!(c_strtoll("010", 10), (10, true, false));
        assert_eq!(c_strtoll("", 10), (0, true, false));
        assert_eq!(c_strtoll("  ", 10), (0, false, false));
        assert_eq!(c_strtoll("12x", 10), (12, false, false));
        assert_eq!(c_strtoll("777", 8), (511, true, false));
        assert_eq!(c_strtoll("8", 8), (0, false, false));
        assert_eq!(
            c_strtoll("99999999999999999999", 10),
            (i64::MAX, true, true)
        );
        assert_eq!(
            c_strtoll("-99999999999999999999", 10),
            (i64::MIN, true, true)
        );
    }

    #[test]
    fn command_line_like_redis() {
        let cl = parse_command_line(&args(&[
            "redis.conf",
            "--port",
            "6380",
            "--loglevel",
            "debug",
        ]));
        assert_eq!(cl.config_file.as_deref(), Some("redis.conf"));
        assert_eq!(cl.options, "port \"6380\" \nloglevel \"debug\" ");
        let cl = parse_command_line(&args(&["--save", "--port", "1"]));
        assert_eq!(cl.options, "save \"\"\nport \"1\" ");
        let cl = parse_command_line(&args(&["--save"]));
        assert_eq!(cl.options, "save \"\"");
        let cl = parse_command_line(&args(&["--bind", "127.0.0.1", "::1"]));
        assert_eq!(cl.options, "bind \"127.0.0.1\" \"::1\" ");
        // A value may itself start with "--" when the option has no value yet.
        let cl = parse_command_line(&args(&["--requirepass", "--x"]));
        assert_eq!(cl.options, "requirepass \"--x\" ");
        let cl = parse_command_line(&args(&["--port 7000"]));
        assert_eq!(cl.options, "port 7000 ");
        let cl = parse_command_line(&args(&["-"]));
        assert!(cl.stdin && cl.config_file.is_none());
        let cl = parse_command_line(&args(&["x.conf", "--port", "1", "-"]));
        assert!(cl.stdin);
    }
}
