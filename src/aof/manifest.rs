//! The multi-part AOF layout of Redis 7: a directory (`appenddirname`)
//! holding one base file, increment files, and a manifest naming them,
//! replaced atomically (temp file + fsync + rename + directory fsync).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file's role in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Base,
    Incr,
    History,
}

impl FileKind {
    fn code(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::Incr => 'i',
            FileKind::History => 'h',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}

/// The manifest: base first, then increments in order. History entries
/// (files a finished rewrite made obsolete, which Redis deletes in the
/// background) are kept so start-up can remove them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileEntry>,
    pub incrs: Vec<FileEntry>,
    pub history: Vec<FileEntry>,
}

/// Redis's `MANIFEST_MAX_LINE`: `fgets` reads at most this many bytes.
const MANIFEST_MAX_LINE: usize = 1024;

/// Why a manifest was refused, with Redis's words
/// (`aofLoadManifestFromFile`): the line number and trimmed line where
/// Redis prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    pub reason: &'static str,
    pub at: Option<(usize, String)>,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "*** FATAL AOF MANIFEST FILE ERROR ***")?;
        if let Some((n, line)) = &self.at {
            writeln!(f, "Reading the manifest file, at line {n}")?;
            writeln!(f, ">>> '{line}'")?;
        }
        write!(f, "{}", self.reason)
    }
}

/// C's `atoll`: leading blanks, a sign, digits; stops at anything else.
fn atoll(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        v = v.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
        i += 1;
    }
    if neg { v.wrapping_neg() } else { v }
}

impl Manifest {
    /// Parses Redis's manifest format (`file <name> seq <n> type <b|i|h>`
    /// per line, more key/value pairs allowed, `#` comments) as strictly as
    /// Redis 7.0 does: every case Redis refuses to start on is an error
    /// here, with Redis's message.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let fail = |reason, at| Err(ManifestError { reason, at });
        let mut m = Manifest::default();
        let mut maxseq = 0i64;
        let mut linenum = 0usize;
        let mut pos = 0usize;
        if text.is_empty() {
            return fail("Found an empty AOF manifest", None);
        }
        while pos < text.len() {
            // One `fgets` of at most MANIFEST_MAX_LINE bytes.
            let window = &text[pos..text.len().min(pos + MANIFEST_MAX_LINE)];
            let chunk = match memchr::memchr(b'\n', window) {
                Some(i) => &window[..=i],
                None => window,
            };
            pos += chunk.len();
            linenum += 1;
            if chunk[0] == b'#' {
                continue;
            }
            if chunk.last() != Some(&b'\n') {
                return fail("The AOF manifest file contains too long line", None);
            }
            let trimmed = trim(chunk);
            let at = Some((linenum, String::from_utf8_lossy(trimmed).into_owned()));
            if trimmed.is_empty() {
                return fail("Invalid AOF manifest file format", at);
            }
            let argv = match crate::config::split_args(trimmed) {
                Some(a) if a.len() >= 6 && a.len() % 2 == 0 => a,
                _ => return fail("Invalid AOF manifest file format", at),
            };
            let (mut name, mut seq, mut kind) = (None::<String>, 0i64, 0u8);
            for pair in argv.chunks_exact(2) {
                let (k, v) = (&pair[0], &pair[1]);
                if k.eq_ignore_ascii_case(b"file") {
                    if v.contains(&b'/') || v.contains(&b'\\') {
                        return fail("File can't be a path, just a filename", at);
                    }
                    name = Some(String::from_utf8_lossy(v).into_owned());
                } else if k.eq_ignore_ascii_case(b"seq") {
                    seq = atoll(v);
                } else if k.eq_ignore_ascii_case(b"type") {
                    kind = v.first().copied().unwrap_or(0);
                }
            }
            let Some(name) = name.filter(|_| seq != 0 && kind != 0) else {
                return fail("Invalid AOF manifest file format", at);
            };
            // A negative seq is accepted by Redis for base/history lines;
            // memkv keeps sequence numbers unsigned.
            let useq = seq.max(0) as u64;
            match kind {
                b'b' => {
                    if m.base.is_some() {
                        return fail("Found duplicate base file information", at);
                    }
                    m.base = Some(FileEntry {
                        name,
                        seq: useq,
                        kind: FileKind::Base,
                    });
                }
                b'h' => m.history.push(FileEntry {
                    name,
                    seq: useq,
                    kind: FileKind::History,
                }),
                b'i' => {
                    if seq <= maxseq {
                        return fail("Found a non-monotonic sequence number", at);
                    }
                    maxseq = seq;
                    m.incrs.push(FileEntry {
                        name,
                        seq: useq,
                        kind: FileKind::Incr,
                    });
                }
                _ => return fail("Unknown AOF file type", at),
            }
        }
        Ok(m)
    }

    /// Redis's layout: base, history, then increments; names that need
    /// quoting (spaces, quotes, control bytes) written as `sdscatrepr`.
    pub fn format(&self) -> String {
        let mut s = String::new();
        for e in self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter())
        {
            let name = if needs_repr(e.name.as_bytes()) {
                crate::config::repr(e.name.as_bytes())
            } else {
                e.name.clone()
            };
            s.push_str(&format!(
                "file {} seq {} type {}\n",
                name,
                e.seq,
                e.kind.code()
            ));
        }
        s
    }

    /// Every file the manifest names, base first.
    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.base.iter().chain(self.incrs.iter())
    }

    pub fn last_incr_seq(&self) -> u64 {
        self.incrs.last().map_or(0, |e| e.seq)
    }
}

/// `sdsneedsrepr`.
fn needs_repr(s: &[u8]) -> bool {
    s.iter().any(|&c| {
        matches!(c, b'\\' | b'"' | b'\n' | b'\r' | b'\t' | 7 | 8)
            || !(0x20..=0x7e).contains(&c)
            || c == b' '
    })
}

/// Redis trims manifest lines of `" \t\r\n"` only.
fn trim(b: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |i| i + 1);
    &b[start..end]
}

/// Names files the way Redis 7 does for `appendfilename`.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `dir/appenddirname`
    pub dir: PathBuf,
    pub filename: String,
}

impl Layout {
    pub fn new(dir: &str, dirname: &str, filename: &str) -> Layout {
        Layout {
            dir: Path::new(dir).join(dirname),
            filename: filename.to_string(),
        }
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.filename))
    }

    pub fn base_name(&self, seq: u64) -> String {
        format!("{}.{}.base.aof", self.filename, seq)
    }

    pub fn incr_name(&self, seq: u64) -> String {
        format!("{}.{}.incr.aof", self.filename, seq)
    }

    pub fn temp_rewrite_path(&self) -> PathBuf {
        self.dir
            .join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads the manifest, if there is one.
    pub fn load_manifest(&self) -> io::Result<Option<Manifest>> {
        match fs::read(self.manifest_path()) {
            Ok(t) => Manifest::parse(&t)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces the manifest atomically: a crash leaves the old or the new.
    pub fn persist_manifest(&self, m: &Manifest) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!("temp-{}.manifest", self.filename));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(m.format().as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.manifest_path())?;
        fsync_dir(&self.dir)
    }
}

/// Makes a rename durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_redis_format() {
        let text = "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.aof");
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.format(), text);
    }

    #[test]
    fn names_with_spaces_are_quoted_as_redis_writes_them() {
        let text = "file \"my file.aof.1.base.rdb\" seq 1 type b\nfile \"my file.aof.1.incr.aof\" seq 1 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "my file.aof.1.base.rdb");
        assert_eq!(m.format(), text);
    }

    fn refused(text: &str) -> (String, Option<usize>) {
        let e = Manifest::parse(text.as_bytes()).unwrap_err();
        (e.reason.to_string(), e.at.map(|a| a.0))
    }

    /// Each case and message checked against redis-server 7.0.15.
    #[test]
    fn refuses_what_redis_refuses() {
        let inv = "Invalid AOF manifest file format";
        let b = "file a seq 1 type b\n";
        assert_eq!(refused(""), ("Found an empty AOF manifest".into(), None));
        assert_eq!(
            refused(&format!("{b}\nfile i seq 1 type i\n")),
            (inv.into(), Some(2))
        );
        assert_eq!(
            refused(&format!("{b}file i seq 1 type x\n")),
            ("Unknown AOF file type".into(), Some(2))
        );
        assert_eq!(
            refused(&format!("{b}file i2 seq 2 type i\nfile i1 seq 1 type i\n")),
            ("Found a non-monotonic sequence number".into(), Some(3))
        );
        assert_eq!(
            refused(&format!("{b}file i2 seq 2 type i\nfile i3 seq 2 type i\n")),
            ("Found a non-monotonic sequence number".into(), Some(3))
        );
        assert_eq!(
            refused(&format!("{b}file b seq 2 type b\n")),
            ("Found duplicate base file information".into(), Some(2))
        );
        assert_eq!(refused("file a seq 1 type b x\n"), (inv.into(), Some(1)));
        assert_eq!(refused("file a seq 1\n"), (inv.into(), Some(1)));
        assert_eq!(refused("file a seq 0 type b\n"), (inv.into(), Some(1)));
        assert_eq!(refused("file a seq one type b\n"), (inv.into(), Some(1)));
        assert_eq!(refused("file a seq 1 type \"\"\n"), (inv.into(), Some(1)));
        assert_eq!(refused("fyle a seq 1 type b\n"), (inv.into(), Some(1)));
        assert_eq!(refused("file \"a seq 1 type b\n"), (inv.into(), Some(1)));
        assert_eq!(
            refused("file ../a seq 1 type b\n"),
            ("File can't be a path, just a filename".into(), Some(1))
        );
        assert_eq!(
            refused("file a\\\\b seq 1 type b\n"),
            ("File can't be a path, just a filename".into(), Some(1))
        );
        // No newline at the end, or a line longer than fgets' buffer.
        let long = "file a seq 1 type b";
        assert_eq!(
            refused(long),
            ("The AOF manifest file contains too long line".into(), None)
        );
        let long = format!("file {} seq 1 type b\n", "x".repeat(1100));
        assert_eq!(
            refused(&long),
            ("The AOF manifest file contains too long line".into(), None)
        );
        // Only a '#' in the first column is a comment.
        assert_eq!(refused(&format!("  # c\n{b}")), (inv.into(), Some(1)));
        let e = Manifest::parse(b"  # c\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "*** FATAL AOF MANIFEST FILE ERROR ***\nReading the manifest file, at line 1\n>>> '# c'\nInvalid AOF manifest file format"
        );
    }

    #[test]
    fn accepts_what_redis_accepts() {
        // Comments only: no AOF yet (Redis starts fresh).
        let m = Manifest::parse(b"# hello\n").unwrap();
        assert!(m.base.is_none() && m.incrs.is_empty());
        // Increments without a base, history entries, extra key/value
        // pairs (Redis 7.2's offsets), keys in any case, "seq 1x" (atoll).
        let m = Manifest::parse(
            b"FILE i1 SEQ 1x TYPE i startoffset 0 endoffset 5\nfile h seq 1 type h\n#x\n",
        )
        .unwrap();
        assert_eq!(m.incrs[0].name, "i1");
        assert_eq!(m.incrs[0].seq, 1);
        assert_eq!(m.history.len(), 1);
        // A comment line longer than the fgets buffer is skipped chunk by
        // chunk only while chunks start with '#'.
        let text = format!("#{}\n{}", "#".repeat(1500), "file a seq 1 type b\n");
        assert!(Manifest::parse(text.as_bytes()).is_ok());
    }
}
