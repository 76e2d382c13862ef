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

/// The manifest: base first, then increments in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileEntry>,
    pub incrs: Vec<FileEntry>,
}

impl Manifest {
    /// Parses Redis's manifest format: `file <name> seq <n> type <b|i|h>`
    /// per line; `#` comments. History entries are ignored.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts = crate::config::split_args(line.as_bytes())
                .ok_or_else(|| format!("Invalid AOF manifest file format at line {}", n + 1))?;
            let parts: Vec<String> = parts
                .into_iter()
                .map(|p| String::from_utf8_lossy(&p).into_owned())
                .collect();
            let (mut name, mut seq, mut kind) = (None, None, None);
            let mut i = 0;
            while i + 1 < parts.len() {
                match parts[i].as_str() {
                    "file" => name = Some(parts[i + 1].clone()),
                    "seq" => seq = parts[i + 1].parse::<u64>().ok(),
                    "type" => {
                        kind = match parts[i + 1].as_str() {
                            "b" => Some(FileKind::Base),
                            "i" => Some(FileKind::Incr),
                            "h" => Some(FileKind::History),
                            _ => None,
                        }
                    }
                    _ => {}
                }
                i += 2;
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(format!(
                    "Invalid AOF manifest file format at line {}",
                    n + 1
                ));
            };
            if name.contains('/') {
                return Err(format!("Invalid AOF file name '{name}' in manifest"));
            }
            let e = FileEntry { name, seq, kind };
            match kind {
                FileKind::Base => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base = Some(e)
                }
                FileKind::Incr => m.incrs.push(e),
                FileKind::History => {}
            }
        }
        m.incrs.sort_by_key(|e| e.seq);
        Ok(m)
    }

    pub fn format(&self) -> String {
        let mut s = String::new();
        for e in self.base.iter().chain(self.incrs.iter()) {
            s.push_str(&format!(
                "file {} seq {} type {}\n",
                e.name,
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
        match fs::read_to_string(self.manifest_path()) {
            Ok(t) => Manifest::parse(&t)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
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
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.aof");
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.format(), text);
        assert!(Manifest::parse("file x seq one type b\n").is_err());
        assert!(Manifest::parse("file ../x seq 1 type b\n").is_err());
    }
}
