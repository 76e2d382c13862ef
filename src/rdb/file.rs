//! Whole RDB files: writing a store (SAVE, DEBUG RELOAD, the base file of
//! an AOF rewrite) and loading one into a store in slices (start-up,
//! DEBUG RELOAD, RDB-preamble AOF bases).

use std::path::Path;

use super::load::{Decoder, Item, LoadLimits};
use super::save::{self, SaveOpts};
use super::{Error, OP_EOF, crc64};
use crate::store::Store;

/// The aux fields Redis writes at the top of a file.
pub fn aux_fields(used_mem: u64, aof_base: bool) -> Vec<(&'static str, String)> {
    let ctime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    vec![
        ("redis-ver", crate::REDIS_VERSION.to_string()),
        ("redis-bits", (usize::BITS).to_string()),
        ("ctime", ctime.to_string()),
        ("used-mem", used_mem.to_string()),
        ("aof-base", (aof_base as u8).to_string()),
    ]
}

/// A whole store as an RDB file (a synchronous SAVE). Expired-but-present
/// keys are written too, as Redis does; loading drops them.
pub fn save_store(
    store: &Store,
    libraries: &[Vec<u8>],
    o: &SaveOpts,
    aux: &[(&str, String)],
    checksum: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    save::write_header(&mut out, aux);
    for code in libraries {
        save::write_function(&mut out, code);
    }
    for i in 0..store.db_count() {
        let d = store.db(i);
        if d.is_empty() {
            continue;
        }
        save::write_select(&mut out, i, d.len(), d.expires_len());
        for (k, v) in d.keys() {
            let exp = d.expires().get(k).copied();
            save::write_entry(&mut out, k, v, exp, o);
        }
    }
    finish(&mut out, checksum);
    out
}

/// EOF and the CRC64 of everything before it (zero with `rdbchecksum no`).
pub fn finish(out: &mut Vec<u8>, checksum: bool) {
    out.push(OP_EOF);
    let crc = if checksum { crc64(out) } else { 0 };
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Writes `data` to `path` safely: a temp file in the same directory,
/// fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    let r = f.write_all(data).and_then(|_| f.sync_all());
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    drop(f);
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// An RDB image being loaded into a store, a slice at a time.
pub struct FileLoader {
    data: Vec<u8>,
    pos: usize,
    version: u32,
    db: usize,
    /// Loading an AOF base: expired keys are kept (the AOF's own commands
    /// decide), and the file may go on after the RDB part.
    preamble: bool,
    done: bool,
    pub keys_loaded: u64,
    pub expired_skipped: u64,
    /// Function libraries found (FUNCTION2), for the scripting side.
    pub functions: Vec<Vec<u8>>,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// DEBUG RELOAD MERGE: a key that exists already is replaced.
    pub merge: bool,
}

impl FileLoader {
    /// Checks the header of `data`.
    pub fn new(data: Vec<u8>, preamble: bool) -> Result<FileLoader, Error> {
        let mut d = Decoder::new(&data);
        let version = d.header()?;
        let pos = d.pos;
        Ok(FileLoader {
            data,
            pos,
            version,
            db: 0,
            preamble,
            done: false,
            keys_loaded: 0,
            expired_skipped: 0,
            functions: Vec::new(),
            aux: Vec::new(),
            merge: false,
        })
    }

    pub fn bytes_total(&self) -> usize {
        self.data.len()
    }

    /// Bytes consumed so far (after the end: where an AOF tail begins).
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// The whole image, for a caller that goes on after the RDB part.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Loads up to `max_items` items. Ok(true) once EOF and the checksum
    /// are read.
    pub fn step(
        &mut self,
        store: &mut Store,
        lim: &LoadLimits,
        max_items: usize,
        check: bool,
    ) -> Result<bool, Error> {
        if self.done {
            return Ok(true);
        }
        let mut d = Decoder::at(&self.data, self.pos);
        let now = store.now();
        for _ in 0..max_items {
            match d.item(lim)? {
                Item::Eof => {
                    d.trailer(self.version, check)?;
                    self.pos = d.pos;
                    self.done = true;
                    return Ok(true);
                }
                Item::SelectDb(db) => {
                    if db >= store.db_count() {
                        return Err(Error::Unsupported(format!(
                            "FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting\n",
                            store.db_count()
                        )));
                    }
                    self.db = db;
                }
                Item::ResizeDb => {}
                Item::Aux(k, v) => self.aux.push((k, v)),
                Item::Function(code) => self.functions.push(code),
                Item::Key(k) => {
                    if !self.preamble && k.expire.is_some_and(|at| at < now) {
                        self.expired_skipped += 1;
                        continue;
                    }
                    if !self.merge && store.db(self.db).keys().contains_key(&k.key[..]) {
                        return Err(Error::corrupt(format!(
                            "Duplicate key '{}' in DB {}",
                            String::from_utf8_lossy(&k.key),
                            self.db
                        )));
                    }
                    store.set_with_expiry(self.db, &k.key, k.value, k.expire);
                    // RDB_OPCODE_IDLE / FREQ, as Redis applies them on load.
                    let idle = k.idle.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
                    store.set_clock_hint(self.db, &k.key, idle, k.freq.map(i64::from));
                    self.keys_loaded += 1;
                }
            }
        }
        self.pos = d.pos;
        Ok(false)
    }
}

/// Loads a whole file into `store` at once (DEBUG RELOAD, tests).
pub fn load_all(
    data: Vec<u8>,
    store: &mut Store,
    lim: &LoadLimits,
    check: bool,
) -> Result<FileLoader, Error> {
    let mut l = FileLoader::new(data, false)?;
    while !l.step(store, lim, usize::MAX, check)? {}
    Ok(l)
}
