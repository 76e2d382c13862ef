//! RDB snapshots of the running server: SAVE (synchronous, like Redis),
//! BGSAVE without fork (the store's point-in-time snapshot walk in RDB
//! mode, a slice per poll round, written by a thread to a temp file that
//! is fsynced and renamed), `save <seconds> <changes>` points, the state
//! INFO persistence and LASTSAVE report, and stop-writes-on-bgsave-error.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

use log::{info, warn};

use super::file::{aux_fields, save_store, write_atomic};
use super::save::write_header;
use super::{CRC64, OP_EOF};
use crate::aof::rewrite::RewriteMsg;
use crate::server::{Notice, Server};

/// Elements the BGSAVE walk serializes per poll round.
const ELEMENTS_PER_TICK: usize = 4096;

/// What the RDB side of the server remembers.
#[derive(Debug)]
pub struct RdbState {
    /// Unix seconds of the last successful save (start time at first).
    pub last_save_unix: u64,
    /// `store.dirty` as of the last successful save.
    pub dirty_at_save: u64,
    pub bgsave: Option<Bgsave>,
    pub last_bgsave_ok: bool,
    pub last_bgsave_secs: i64,
    /// Unix seconds of the last BGSAVE attempt (failed ones retry after 5 s).
    pub last_bgsave_try_unix: u64,
    /// BGSAVE SCHEDULE while an AOF rewrite runs.
    pub bgsave_scheduled: bool,
    pub saves: u64,
    /// Keys loaded / dropped as expired by the last RDB load (INFO).
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    /// SHUTDOWN already decided about saving (the reactor must not save
    /// again on its way out).
    pub shutdown_save_done: bool,
}

impl Default for RdbState {
    fn default() -> Self {
        RdbState {
            last_save_unix: unix_secs(),
            dirty_at_save: 0,
            bgsave: None,
            last_bgsave_ok: true,
            last_bgsave_secs: -1,
            last_bgsave_try_unix: 0,
            bgsave_scheduled: false,
            saves: 0,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            shutdown_save_done: false,
        }
    }
}

/// A BGSAVE in progress.
#[derive(Debug)]
pub struct Bgsave {
    tx: Sender<RewriteMsg>,
    pub started: Instant,
    pub started_unix: u64,
    walk_done: bool,
    dirty_at_start: u64,
}

impl RdbState {
    pub fn bgsave_in_progress(&self) -> bool {
        self.bgsave.is_some()
    }

    /// The MISCONF error writes get after a failed BGSAVE.
    pub fn misconf(&self, srv_config: &crate::config::Config) -> Option<&'static str> {
        if self.last_bgsave_ok
            || srv_config.value("stop-writes-on-bgsave-error").as_deref() != Some("yes")
            || save_points(srv_config).is_empty()
        {
            return None;
        }
        Some(
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.",
        )
    }
}

pub fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `dir`/`dbfilename`.
pub fn rdb_path(config: &crate::config::Config) -> PathBuf {
    Path::new(&config.dir).join(
        config
            .value("dbfilename")
            .unwrap_or_else(|| "dump.rdb".into()),
    )
}

/// The configured `save` points as (seconds, changes).
pub fn save_points(config: &crate::config::Config) -> Vec<(u64, u64)> {
    let v = config.value("save").unwrap_or_default();
    let nums: Vec<u64> = v
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    nums.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

fn checksum_on(srv: &Server) -> bool {
    srv.config.value("rdbchecksum").as_deref() != Some("no")
}

/// Changes since the last successful save (INFO rdb_changes_since_last_save).
pub fn changes_since_save(srv: &Server) -> u64 {
    srv.store.dirty.saturating_sub(srv.rdb.dirty_at_save)
}

/// The function libraries' code, as RDB files carry them (FUNCTION2
/// records before the databases).
pub fn library_codes(srv: &Server) -> Vec<Vec<u8>> {
    srv.functions
        .as_ref()
        .map(|f| f.reg.libs.values().map(|l| l.code.clone()).collect())
        .unwrap_or_default()
}

/// SAVE: the whole dataset, now, on this thread (Redis blocks too).
pub fn save_now(srv: &mut Server) -> Result<(), String> {
    let path = rdb_path(&srv.config);
    let opts = super::save_opts(&srv.config);
    let libs = library_codes(srv);
    let img = save_store(
        &srv.store,
        &libs,
        &opts,
        &aux_fields(0, false),
        checksum_on(srv),
    );
    match write_atomic(&path, &img) {
        Ok(()) => {
            info!("DB saved on disk");
            srv.rdb.dirty_at_save = srv.store.dirty;
            srv.rdb.last_save_unix = unix_secs();
            srv.rdb.last_bgsave_ok = true;
            srv.rdb.saves += 1;
            Ok(())
        }
        Err(e) => {
            warn!("Failed saving the DB: {e}");
            Err(e.to_string())
        }
    }
}

/// Starts a BGSAVE. The caller checks that no other snapshot runs.
pub fn start_bgsave(srv: &mut Server) -> Result<(), String> {
    let path = rdb_path(&srv.config);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let temp = dir.join(format!("temp-bgsave-{}.rdb", std::process::id()));
    let opts = super::save_opts(&srv.config);
    let mut head = Vec::new();
    write_header(&mut head, &aux_fields(0, false));
    for code in library_codes(srv) {
        super::save::write_function(&mut head, &code);
    }
    let (tx, rx) = channel();
    let notifier = srv.notifier.clone();
    let checksum = checksum_on(srv);
    std::thread::Builder::new()
        .name("rdb-bgsave".into())
        .spawn(move || {
            let r = write_file(&temp, &path, head, checksum, &rx);
            let ok = match r {
                Ok(true) => true,
                Ok(false) => {
                    let _ = fs::remove_file(&temp);
                    return;
                }
                Err(e) => {
                    warn!("Background saving error: {e}");
                    let _ = fs::remove_file(&temp);
                    false
                }
            };
            notifier.send(Notice::BgsaveDone { ok });
        })
        .map_err(|e| format!("Can't start the BGSAVE thread: {e}"))?;
    srv.rdb.last_bgsave_try_unix = unix_secs();
    srv.store.begin_snapshot_as(Some(opts));
    srv.rdb.bgsave = Some(Bgsave {
        tx,
        started: Instant::now(),
        started_unix: unix_secs(),
        walk_done: false,
        dirty_at_start: srv.store.dirty,
    });
    info!("Background saving started");
    Ok(())
}

/// The BGSAVE thread: header, the walk's chunks, EOF + CRC64, fsync,
/// rename over the real name. Ok(false) when aborted.
fn write_file(
    temp: &Path,
    path: &Path,
    head: Vec<u8>,
    checksum: bool,
    rx: &Receiver<RewriteMsg>,
) -> io::Result<bool> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(temp)?);
    let mut crc = CRC64.digest();
    let mut put = |out: &mut BufWriter<File>, data: &[u8]| -> io::Result<()> {
        crc.update(data);
        out.write_all(data)
    };
    put(&mut out, &head)?;
    loop {
        match rx.recv() {
            Ok(RewriteMsg::Chunk(data)) => put(&mut out, &data)?,
            Ok(RewriteMsg::Detached(d)) => {
                let mut data = Vec::new();
                d.serialize(&mut data);
                put(&mut out, &data)?;
            }
            Ok(RewriteMsg::Finish) => break,
            Ok(RewriteMsg::Abort) | Err(_) => return Ok(false),
        }
    }
    put(&mut out, &[OP_EOF])?;
    let sum = if checksum { crc.finalize() } else { 0 };
    out.write_all(&sum.to_le_bytes())?;
    let f = out.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    drop(f);
    fs::rename(temp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
    {
        let _ = d.sync_all();
    }
    Ok(true)
}

/// Once per poll round: a slice of a running BGSAVE walk.
pub fn after_round(srv: &mut Server) {
    let Some(bg) = srv.rdb.bgsave.as_mut() else {
        return;
    };
    if bg.walk_done {
        return;
    }
    let (pieces, done) = srv.store.snapshot_step(ELEMENTS_PER_TICK);
    for p in pieces {
        let msg = match p {
            crate::store::snapshot::Piece::Bytes(b) => RewriteMsg::Chunk(b),
            crate::store::snapshot::Piece::Detached(d) => RewriteMsg::Detached(d),
        };
        let _ = bg.tx.send(msg);
    }
    if done {
        bg.walk_done = true;
        let _ = bg.tx.send(RewriteMsg::Finish);
    }
}

/// True while the reactor should not sleep (a walk to advance).
pub fn busy(srv: &Server) -> bool {
    srv.rdb.bgsave.as_ref().is_some_and(|b| !b.walk_done)
}

/// The thread reported the end of a BGSAVE.
pub fn bgsave_finished(srv: &mut Server, ok: bool) {
    let Some(bg) = srv.rdb.bgsave.take() else {
        return;
    };
    srv.rdb.last_bgsave_ok = ok;
    srv.rdb.last_bgsave_secs = bg.started.elapsed().as_secs() as i64;
    if ok {
        info!("Background saving terminated with success");
        srv.rdb.dirty_at_save = bg.dirty_at_start;
        srv.rdb.last_save_unix = bg.started_unix;
        srv.rdb.saves += 1;
    } else {
        warn!("Background saving error");
    }
}

/// Stops a running BGSAVE (shutdown, FLUSHALL): the temp file is removed.
pub fn abort_bgsave(srv: &mut Server) {
    if let Some(bg) = srv.rdb.bgsave.take() {
        if !bg.walk_done {
            srv.store.abort_snapshot();
        }
        let _ = bg.tx.send(RewriteMsg::Abort);
        warn!("Background saving aborted");
    }
}

/// True if another snapshot (an AOF rewrite) holds the store's walk.
pub fn other_snapshot_running(srv: &Server) -> bool {
    srv.aof.as_ref().is_some_and(|a| a.rewrite_in_progress())
}

/// Cron: save points and a scheduled BGSAVE.
pub fn cron(srv: &mut Server) {
    if srv.rdb.bgsave.is_some() || other_snapshot_running(srv) || srv.loading.is_some() {
        return;
    }
    if srv.rdb.bgsave_scheduled {
        srv.rdb.bgsave_scheduled = false;
        if let Err(e) = start_bgsave(srv) {
            warn!("{e}");
        }
        return;
    }
    let now = unix_secs();
    let changes = changes_since_save(srv);
    let elapsed = now.saturating_sub(srv.rdb.last_save_unix);
    let retry_ok = srv.rdb.last_bgsave_ok || now.saturating_sub(srv.rdb.last_bgsave_try_unix) > 5;
    for (secs, min_changes) in save_points(&srv.config) {
        if changes >= min_changes && elapsed >= secs && retry_ok {
            info!("{min_changes} changes in {secs} seconds. Saving...");
            if let Err(e) = start_bgsave(srv) {
                warn!("{e}");
            }
            return;
        }
    }
}

/// Start-up: the dump file to load with `appendonly no`, if there is one.
pub fn startup_file(config: &crate::config::Config) -> Option<PathBuf> {
    let p = rdb_path(config);
    p.is_file().then_some(p)
}

/// INFO persistence's rdb_* fields.
pub fn info_fields(srv: &Server) -> Vec<(&'static str, String)> {
    let r = &srv.rdb;
    let current = r
        .bgsave
        .as_ref()
        .map_or(-1, |b| b.started.elapsed().as_secs() as i64);
    vec![
        (
            "rdb_changes_since_last_save",
            changes_since_save(srv).to_string(),
        ),
        (
            "rdb_bgsave_in_progress",
            (r.bgsave.is_some() as u8).to_string(),
        ),
        ("rdb_last_save_time", r.last_save_unix.to_string()),
        (
            "rdb_last_bgsave_status",
            if r.last_bgsave_ok { "ok" } else { "err" }.to_string(),
        ),
        ("rdb_last_bgsave_time_sec", r.last_bgsave_secs.to_string()),
        ("rdb_current_bgsave_time_sec", current.to_string()),
        ("rdb_saves", r.saves.to_string()),
        ("rdb_last_cow_size", "0".to_string()),
        (
            "rdb_last_load_keys_expired",
            r.last_load_keys_expired.to_string(),
        ),
        (
            "rdb_last_load_keys_loaded",
            r.last_load_keys_loaded.to_string(),
        ),
    ]
}
