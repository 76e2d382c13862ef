//! Redis-compatible glob-style pattern matching.
//!
//! [`glob_match`] is a faithful port of `stringmatchlen()` from Redis's
//! `util.c` (the matcher behind KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET,
//! ...). It keeps Redis's exact semantics, including its quirks:
//!
//! - `*` matches any run of bytes, `?` exactly one byte;
//! - `[abc]`, `[^abc]` (negation), `[a-z]` ranges, reversed ranges (`[z-a]`
//!   is the same as `[a-z]`), `\x` escapes inside and outside classes;
//! - an unterminated class (`[abc`) is treated as if it ended at the end of
//!   the pattern, and a trailing lone backslash matches a literal backslash;
//! - with `nocase` ASCII letters compare case-insensitively, except that an
//!   escaped character inside a class is always compared exactly (as Redis
//!   does); range bounds compare as C `signed char`s, so bytes >= 0x80 sort
//!   below ASCII exactly like in Redis on x86/ARM Linux;
//! - once the string is exhausted only trailing `*`s may remain, but the
//!   main loop needs both a pattern and a string, so `*` (and `**`) do NOT
//!   match the empty string (Redis's KEYS special-cases the pattern `*`).
//!
//! Protection against abusive patterns is the same as Redis: once the rest of
//! a pattern after a `*` failed to match anywhere in the remaining string, no
//! enclosing `*` tries longer prefixes (`skipLongerMatches`), which makes
//! patterns like `a*a*a*a*...b` polynomial instead of exponential; and the
//! recursion depth is capped at 1000 nested `*`s (deeper means "no match").

/// Maximum nesting of `*` recursion, as in Redis (`nesting > 1000`).
const MAX_NESTING: usize = 1000;

/// Match `string` against the glob `pattern` exactly like Redis's
/// `stringmatchlen(pattern, string, nocase)`.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer_matches = false;
    match_impl(pattern, string, nocase, &mut skip_longer_matches, 0)
}

/// C `tolower()` in the "C" locale, applied to a (possibly negative)
/// `signed char` value promoted to int.
#[inline]
fn c_tolower(c: i32) -> i32 {
    if (b'A' as i32..=b'Z' as i32).contains(&c) {
        c + 32
    } else {
        c
    }
}

#[inline]
fn eq_byte(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn match_impl(
    pat: &[u8],
    s: &[u8],
    nocase: bool,
    skip_longer_matches: &mut bool,
    nesting: usize,
) -> bool {
    // Protection against abusive patterns.
    if nesting > MAX_NESTING {
        return false;
    }
    let plen = pat.len();
    // The C code may read the byte right after the pattern (the NUL
    // terminator of the sds string); `at` reproduces that with a 0.
    let at = |i: usize| -> u8 { pat.get(i).copied().unwrap_or(0) };
    let mut p = 0usize; // pattern position; C's patternLen == plen - p
    let mut i = 0usize; // string position; C's stringLen == s.len() - i

    while p < plen && i < s.len() {
        match pat[p] {
            b'*' => {
                while p + 1 < plen && pat[p + 1] == b'*' {
                    p += 1;
                }
                if plen - p == 1 {
                    return true; // trailing star: match
                }
                while i < s.len() {
                    if match_impl(
                        &pat[p + 1..],
                        &s[i..],
                        nocase,
                        skip_longer_matches,
                        nesting + 1,
                    ) {
                        return true;
                    }
                    if *skip_longer_matches {
                        return false;
                    }
                    i += 1;
                }
                // The rest of the pattern matched nowhere in the rest of the
                // string: an enclosing '*' trying a longer prefix would need
                // it to match even later, which cannot succeed either.
                *skip_longer_matches = true;
                return false;
            }
            b'?' => {
                i += 1;
            }
            b'[' => {
                p += 1;
                let not = at(p) == b'^';
                if not {
                    p += 1;
                }
                let mut matched = false;
                loop {
                    if at(p) == b'\\' && plen - p >= 2 {
                        p += 1;
                        if pat[p] == s[i] {
                            matched = true;
                        }
                    } else if at(p) == b']' {
                        break;
                    } else if p >= plen {
                        // Unterminated class: step back so the increment
                        // after the switch lands on the end of the pattern.
                        p -= 1;
                        break;
                    } else if plen - p >= 3 && pat[p + 1] == b'-' {
                        // Bytes are C `char`s (signed on the platforms Redis
                        // is built for), so compare them as i8.
                        let mut start = pat[p] as i8 as i32;
                        let mut end = pat[p + 2] as i8 as i32;
                        let mut c = s[i] as i8 as i32;
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = c_tolower(start);
                            end = c_tolower(end);
                            c = c_tolower(c);
                        }
                        p += 2;
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if eq_byte(pat[p], s[i], nocase) {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                i += 1;
            }
            c => {
                let c = if c == b'\\' && plen - p >= 2 {
                    p += 1;
                    pat[p]
                } else {
                    c
                };
                if !eq_byte(c, s[i], nocase) {
                    return false;
                }
                i += 1;
            }
        }
        p += 1;
        if i == s.len() {
            while at(p) == b'*' {
                p += 1;
            }
            break;
        }
    }
    p >= plen && i == s.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }
    fn mi(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), true)
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("hello", "hello"));
        assert!(!m("hello", "hell"));
        assert!(!m("hell", "hello"));
        assert!(m("h?llo", "hello"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("*", "anything"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(m("*a*", "bab"));
        assert!(!m("*a*", "bbb"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("a", ""));
    }

    #[test]
    fn empty_string_quirks() {
        // The main loop needs both a pattern and a string.
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(!m("?", ""));
        assert!(!m("[a]", ""));
        // Trailing stars after the string is consumed are skipped.
        assert!(m("a*", "a"));
        assert!(m("a***", "a"));
        assert!(!m("a*b", "a"));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        // Reversed range.
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("[z-a]", "q"));
        // Escapes inside a class.
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        assert!(!m("[\\-]", "a"));
        // A leading '-' is literal...
        assert!(m("[-a]", "-"));
        // ...but "a-]" is the range a..']' (an unterminated class), as in
        // Redis: ']' < 'a' so it covers "]^_`a".
        assert!(!m("[a-]", "-"));
        assert!(m("[a-]", "^"));
        assert!(m("[a-]", "a"));
        // Unterminated class: runs to the end of the pattern.
        assert!(m("[abc", "b"));
        assert!(!m("[abc", "d"));
        assert!(!m("x[", "x"));
        // Negated unterminated class with nothing in it matches anything.
        assert!(m("[^", "z"));
        // Empty class "[]" never matches ("]" closes it immediately).
        assert!(!m("[]", "a"));
        assert!(!m("[]a", "a"));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("\\?", "?"));
        assert!(m("a\\[b", "a[b"));
        // A trailing backslash matches itself.
        assert!(m("a\\", "a\\"));
        assert!(!m("a\\", "ab"));
    }

    #[test]
    fn nocase() {
        assert!(mi("HeLLo", "hello"));
        assert!(!m("HeLLo", "hello"));
        assert!(mi("h[A-Z]llo", "hello"));
        assert!(mi("h[E]llo", "hello"));
        assert!(mi("MAXMEM*", "maxmemory-policy"));
        // Escaped chars inside a class compare exactly even with nocase.
        assert!(!mi("[\\E]", "e"));
        assert!(mi("[\\e]", "e"));
    }

    #[test]
    fn high_bytes_compare_as_signed_chars() {
        // As C signed chars 0xff == -1 < 'a', so [\xff-a] covers 'A'..'a'
        // and everything from -1 up to 'a'.
        assert!(glob_match(b"[\xff-a]", b"A", false));
        assert!(glob_match(b"[\xff-a]", b"\xff", false));
        assert!(!glob_match(b"[\xff-a]", b"\x80", false));
        assert!(!glob_match(b"[\xff-a]", b"b", false));
        assert!(glob_match(b"\xe9t\xe9", b"\xe9t\xe9", true));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let pattern = "a*".repeat(40) + "b";
        let string = "a".repeat(5000);
        let t = std::time::Instant::now();
        assert!(!m(&pattern, &string));
        let pattern = "*a".repeat(30) + "*b*";
        assert!(!m(&pattern, &string));
        assert!(m(&("*a".repeat(30) + "*"), &string));
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn nesting_limit() {
        let string = "a".repeat(1100);
        // 999 stars nest fine...
        assert!(m(&"*a".repeat(999), &string));
        // ...but more than 1000 nested stars give up, like Redis.
        assert!(!m(&"*a".repeat(1050), &string));
        // Consecutive stars collapse and do not count as nesting.
        assert!(m(&("*".repeat(50_000) + "a"), "a"));
    }
}
