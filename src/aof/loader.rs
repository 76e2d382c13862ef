//! Loading the AOF at start-up: base then increments, replayed through the
//! normal command path by an internal client (nothing is re-propagated).
//! The reactor runs the loader in slices, answering other clients with
//! `-LOADING` meanwhile. A truncated tail (last file only) is cut off when
//! `aof-load-truncated yes`; an incomplete MULTI at the tail is dropped;
//! corruption anywhere else stops start-up naming file and offset.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::ops::Range;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::{info, warn};

use crate::commands::{self, Args};
use crate::resp::{Limits, parse_command};
use crate::server::{Client, Server};

const READ_CHUNK: usize = 1 << 20;

struct Open {
    path: PathBuf,
    file: File,
    last: bool,
    buf: Vec<u8>,
    /// Parse position in `buf`.
    pos: usize,
    /// File offset of `buf[0]`.
    base_offset: u64,
    eof: bool,
    /// File offset where the pending MULTI began.
    multi_at: Option<u64>,
}

/// An RDB image being loaded: a dump.rdb, or an AOF base file in RDB
/// format (which may go on with AOF commands after the RDB part).
struct RdbOpen {
    path: PathBuf,
    loader: crate::rdb::file::FileLoader,
    last: bool,
}

/// An AOF being loaded.
pub struct Loader {
    files: VecDeque<PathBuf>,
    open: Option<Open>,
    rdb: Option<RdbOpen>,
    /// Loading a dump.rdb (not an AOF): expired keys are dropped.
    rdb_only: bool,
    client: Client,
    ranges: Vec<Range<usize>>,
    scratch: Vec<u8>,
    pub bytes_total: u64,
    pub bytes_done: u64,
    pub commands: u64,
    started: Instant,
    last_log: Instant,
}

impl Loader {
    pub fn new(files: Vec<PathBuf>) -> Loader {
        let bytes_total = files
            .iter()
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .sum();
        Loader {
            files: files.into(),
            open: None,
            rdb: None,
            rdb_only: false,
            client: Client::internal(0),
            ranges: Vec::new(),
            scratch: Vec::new(),
            bytes_total,
            bytes_done: 0,
            commands: 0,
            started: Instant::now(),
            last_log: Instant::now(),
        }
    }

    /// A loader for a dump.rdb (`appendonly no`).
    pub fn rdb_file(path: PathBuf) -> Loader {
        let mut l = Loader::new(vec![path]);
        l.rdb_only = true;
        l
    }

    /// Replays commands for about `budget`. Ok(true) when everything is
    /// loaded; Err with Redis-style text on a fatal problem.
    pub fn step(&mut self, srv: &mut Server, budget: Duration) -> Result<bool, String> {
        let start = Instant::now();
        let truncated_ok = srv.config.aof_load_truncated;
        loop {
            if self.rdb.is_some() {
                self.rdb_some(srv)?;
                if start.elapsed() >= budget {
                    return Ok(false);
                }
                continue;
            }
            if self.open.is_none() {
                let Some(path) = self.files.pop_front() else {
                    if self.rdb_only {
                        info!(
                            "DB loaded from disk: {:.3} seconds",
                            self.started.elapsed().as_secs_f64()
                        );
                    } else {
                        info!(
                            "DB loaded from append only file: {:.3} seconds ({} commands)",
                            self.started.elapsed().as_secs_f64(),
                            self.commands
                        );
                    }
                    return Ok(true);
                };
                if self.rdb_only || starts_with_rdb_magic(&path) {
                    let data = std::fs::read(&path)
                        .map_err(|e| format!("Can't open the RDB file {}: {e}", path.display()))?;
                    let loader = crate::rdb::file::FileLoader::new(data, !self.rdb_only)
                        .map_err(|e| rdb_error(&path, 0, &e))?;
                    info!("Loading RDB produced by {}", path.display());
                    self.rdb = Some(RdbOpen {
                        path,
                        loader,
                        last: self.files.is_empty(),
                    });
                    continue;
                }
                let file = File::open(&path).map_err(|e| {
                    format!("Can't open the append-only file {}: {e}", path.display())
                })?;
                self.open = Some(Open {
                    path,
                    file,
                    last: self.files.is_empty(),
                    buf: Vec::new(),
                    pos: 0,
                    base_offset: 0,
                    eof: false,
                    multi_at: None,
                });
                self.client = Client::internal(0);
            }
            if start.elapsed() >= budget {
                return Ok(false);
            }
            if self.last_log.elapsed() >= Duration::from_secs(2) {
                self.last_log = Instant::now();
                info!(
                    "Loading AOF: {} of {} bytes",
                    self.bytes_done, self.bytes_total
                );
            }
            let done_file = self.run_some(srv, truncated_ok)?;
            if done_file {
                self.open = None;
            }
        }
    }

    /// Loads a slice of the RDB image being read; at its end, an AOF base
    /// file may go on with commands (an RDB preamble).
    fn rdb_some(&mut self, srv: &mut Server) -> Result<(), String> {
        let Some(r) = self.rdb.as_mut() else {
            return Ok(());
        };
        let lim = crate::rdb::load_limits(&srv.config);
        let check = srv.config.value("rdbchecksum").as_deref() != Some("no");
        let before = r.loader.offset();
        let done = r
            .loader
            .step(&mut srv.store, &lim, 1024, check)
            .map_err(|e| rdb_error(&r.path, r.loader.offset(), &e))?;
        self.bytes_done += (r.loader.offset() - before) as u64;
        if !done {
            return Ok(());
        }
        let Some(r) = self.rdb.take() else {
            return Ok(());
        };
        // Function libraries (FUNCTION2), as Redis loads them: replacing
        // a library of the same name; one that fails to load stops it.
        for code in &r.loader.functions {
            let loaded = crate::commands::functions::functions(srv)
                .map_err(|e| format!("{e:?}"))
                .and_then(|f| f.load(code, true));
            if let Err(e) = loaded {
                return Err(format!(
                    "Failed loading a function library from {}: {e}",
                    r.path.display()
                ));
            }
        }
        info!(
            "Done loading RDB, keys loaded: {}, keys expired: {}.",
            r.loader.keys_loaded, r.loader.expired_skipped
        );
        srv.rdb.last_load_keys_loaded = r.loader.keys_loaded;
        srv.rdb.last_load_keys_expired = r.loader.expired_skipped;
        let rest = &r.loader.data()[r.loader.offset()..];
        if !self.rdb_only && !rest.is_empty() {
            info!("Reading the remaining AOF tail...");
            let file = File::open(&r.path).map_err(|e| {
                format!("Can't open the append-only file {}: {e}", r.path.display())
            })?;
            self.open = Some(Open {
                path: r.path.clone(),
                file,
                last: r.last,
                buf: rest.to_vec(),
                pos: 0,
                base_offset: r.loader.offset() as u64,
                eof: true,
                multi_at: None,
            });
            self.client = Client::internal(0);
        }
        Ok(())
    }

    /// Executes the commands currently buffered (reading more as needed).
    /// Returns true when the open file is finished.
    fn run_some(&mut self, srv: &mut Server, truncated_ok: bool) -> Result<bool, String> {
        let Some(f) = self.open.as_mut() else {
            return Ok(true);
        };
        let limits = Limits {
            max_bulk_len: usize::MAX / 2,
            ..Limits::default()
        };
        let mut executed = 0;
        while executed < 1024 {
            // Annotations (`#...\n`, e.g. Redis's `#TS:`) are skipped
            // wherever they appear between commands, like Redis does.
            while f.pos < f.buf.len() && f.buf[f.pos] == b'#' {
                match memchr::memchr(b'\n', &f.buf[f.pos..]) {
                    Some(n) => {
                        f.pos += n + 1;
                        self.bytes_done += n as u64 + 1;
                    }
                    None if f.eof => break,
                    None => return refill(f).map(|_| false),
                }
            }
            let offset = f.base_offset + f.pos as u64;
            let parsed = parse_command(
                &f.buf[f.pos..],
                &limits,
                &mut self.ranges,
                &mut self.scratch,
            );
            match parsed {
                Ok(Some(frame)) if !frame.inline => {
                    let start = f.pos;
                    f.pos += frame.consumed;
                    self.bytes_done += frame.consumed as u64;
                    if self.ranges.is_empty() {
                        continue;
                    }
                    let args = Args::new(&f.buf[start..], &self.ranges);
                    if let Err(e) = commands::resolve(&args) {
                        return Err(format!(
                            "Unknown command '{}' reading the append only file {} at offset {offset}: {e}",
                            String::from_utf8_lossy(&args[0]),
                            f.path.display()
                        ));
                    }
                    if args[0].eq_ignore_ascii_case(b"multi") {
                        f.multi_at = Some(offset);
                    }
                    commands::execute(srv, &mut self.client, &args);
                    if args[0].eq_ignore_ascii_case(b"exec") {
                        f.multi_at = None;
                    }
                    self.client.reply.buf.clear();
                    self.commands += 1;
                    executed += 1;
                }
                Ok(Some(_)) | Err(_) => {
                    return Err(format!(
                        "Bad file format reading the append only file {} at offset {offset}",
                        f.path.display()
                    ));
                }
                Ok(None) => {
                    if !f.eof {
                        refill(f)?;
                        return Ok(false);
                    }
                    return finish_file(f, &mut self.client, truncated_ok);
                }
            }
        }
        Ok(false)
    }
}

/// True if the file starts like an RDB file ("REDIS").
fn starts_with_rdb_magic(path: &PathBuf) -> bool {
    let mut magic = [0u8; 5];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"REDIS"
}

/// Redis's start-up messages for an unreadable RDB file.
fn rdb_error(path: &std::path::Path, offset: usize, e: &crate::rdb::Error) -> String {
    use crate::rdb::Error;
    match e {
        Error::Short | Error::Corrupt(_) => format!(
            "{e} (Internal error in RDB reading offset {offset} of {}) Unrecoverable error, aborting now.",
            path.display()
        ),
        _ => format!("{e} ({})", path.display()),
    }
}

/// Reads the next chunk, dropping what was already executed.
fn refill(f: &mut Open) -> Result<(), String> {
    if f.pos > 0 {
        f.buf.drain(..f.pos);
        f.base_offset += f.pos as u64;
        f.pos = 0;
    }
    let len = f.buf.len();
    f.buf.resize(len + READ_CHUNK, 0);
    match f.file.read(&mut f.buf[len..]) {
        Ok(n) => {
            f.buf.truncate(len + n);
            if n == 0 {
                f.eof = true;
            }
            Ok(())
        }
        Err(e) => Err(format!(
            "Error reading the append only file {}: {e}",
            f.path.display()
        )),
    }
}

/// End of a file: a partial command or an open MULTI at the tail is a
/// truncation (allowed in the last file with aof-load-truncated).
fn finish_file(f: &mut Open, client: &mut Client, truncated_ok: bool) -> Result<bool, String> {
    let valid_end = f.base_offset + f.pos as u64;
    let partial = f.pos < f.buf.len();
    let open_multi = client.multi.is_some();
    if !partial && !open_multi {
        return Ok(true);
    }
    let cut_at = match (open_multi, f.multi_at) {
        (true, Some(at)) => at,
        _ => valid_end,
    };
    if !f.last || !truncated_ok {
        return Err(format!(
            "Unexpected end of file reading the append only file {} (valid up to offset {cut_at}). \
             You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename>. \
             2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
            f.path.display()
        ));
    }
    client.multi = None;
    warn!(
        "!!! Warning: short read while loading the AOF file {}!!! Truncating the AOF at offset {cut_at}",
        f.path.display()
    );
    let file = OpenOptions::new()
        .write(true)
        .open(&f.path)
        .map_err(|e| format!("Can't open {} to truncate it: {e}", f.path.display()))?;
    file.set_len(cut_at)
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("Error truncating the AOF file {}: {e}", f.path.display()))?;
    if open_multi {
        warn!("Revert incomplete MULTI/EXEC transaction in AOF file");
    }
    Ok(true)
}
