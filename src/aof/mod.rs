//! AOF persistence: propagation of what executed ([`propagate`]), the
//! writer thread ([`writer`]), Redis 7's multi-part layout ([`manifest`]),
//! loading at start-up ([`loader`]) and the fork-free point-in-time rewrite
//! ([`rewrite`], with the snapshot walk in `store::snapshot`).
//!
//! The reactor drives it: after each poll round [`after_round`] hands the
//! propagated commands to the writer (every round under `always`, else
//! whenever the writer is idle) and advances a running rewrite by a
//! bounded slice; with `appendfsync always` the round's
//! replies are held until the writer confirms the fsync (group commit).
//!
//! Both threads' queues are bounded in bytes ([`Queue`]): when the disk
//! falls behind, write commands wait (parked, unexecuted, in order) until
//! the writer has caught up, and the rewrite walk pauses - nothing is
//! dropped or reordered and the reactor never blocks on a channel; reads
//! are served meanwhile. Redis instead blocks its whole event loop in
//! write(2) when the disk is slow.

pub mod loader;
pub mod manifest;
pub mod propagate;
pub mod rewrite;
pub mod writer;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use log::{info, warn};

use crate::config::{AppendFsync, Config};
use crate::server::Server;
use loader::Loader;
use manifest::{FileEntry, FileKind, Layout, Manifest};
use rewrite::RewriteMsg;
use writer::{Sizes, Writer, WriterMsg};

/// Elements (keys and the elements of their values) serialized per reactor
/// tick during a rewrite: small enough to keep every client's latency low,
/// the reactor loops without sleeping meanwhile.
const REWRITE_ELEMENTS_PER_TICK: usize = 4000;

/// Bytes handed to the writer (or the rewrite thread) and not yet written
/// beyond which writers wait, and below which they go on again.
const QUEUE_MAX: usize = 32 << 20;
const QUEUE_LOW: usize = 16 << 20;

/// Test hook (DEBUG AOF-STALL): the writer thread writes nothing while set,
/// as if the disk stalled.
pub static STALL_WRITER: AtomicBool = AtomicBool::new(false);

/// The byte count of a queue to another thread, shared with it: the
/// reactor adds what it sends, the thread subtracts what it wrote and, if
/// the reactor is waiting for room, wakes it once below `QUEUE_LOW`. The
/// thread also hands the emptied batch buffers back ([`Queue::recycle`]),
/// so the reactor fills warm memory instead of allocating (and faulting
/// in) a fresh buffer every round, and nothing is freed across threads.
#[derive(Debug, Default)]
pub struct Queue {
    bytes: AtomicUsize,
    waiting: AtomicBool,
    spares: Mutex<Spares>,
}

/// Emptied buffers on their way back to the producer.
#[derive(Debug, Default)]
struct Spares {
    bufs: Vec<Vec<u8>>,
    /// Their total capacity.
    bytes: usize,
}

/// The capacity kept for reuse (about what the writer coalesces into one
/// write under load), and the largest buffer kept: one grown by a huge
/// command is freed rather than pinned.
const SPARES_BYTES_MAX: usize = 8 << 20;
const SPARE_CAPACITY_MAX: usize = 1 << 20;

impl Queue {
    /// An emptied buffer to fill next, if one came back.
    pub(crate) fn spare(&self) -> Option<Vec<u8>> {
        let mut spares = self.spares.lock().ok()?;
        let b = spares.bufs.pop()?;
        spares.bytes -= b.capacity();
        Some(b)
    }

    /// Capacity of the emptied buffers kept for reuse (MEMORY STATS
    /// aof.buffer counts them).
    pub fn spare_bytes(&self) -> usize {
        self.spares.lock().map_or(0, |s| s.bytes)
    }

    /// The consumer is done with these buffers: keep some for the
    /// producer (emptied), drop the rest.
    pub(crate) fn recycle(&self, bufs: impl Iterator<Item = Vec<u8>>) {
        let Ok(mut spares) = self.spares.lock() else {
            return;
        };
        for mut b in bufs {
            let cap = b.capacity();
            if cap <= SPARE_CAPACITY_MAX && spares.bytes + cap <= SPARES_BYTES_MAX {
                b.clear();
                spares.bytes += cap;
                spares.bufs.push(b);
            }
        }
    }

    pub fn queued(&self) -> usize {
        self.bytes.load(Ordering::SeqCst)
    }

    pub(crate) fn add(&self, n: usize) {
        self.bytes.fetch_add(n, Ordering::SeqCst);
    }

    /// The consumer wrote `n` bytes.
    pub(crate) fn done(&self, n: usize, notifier: &crate::server::Notifier) {
        let left = self.bytes.fetch_sub(n, Ordering::SeqCst).saturating_sub(n);
        if left <= QUEUE_LOW && self.waiting.swap(false, Ordering::SeqCst) {
            notifier.send(crate::server::Notice::AofDrained);
        }
    }

    /// True if the producer must wait; then the consumer will wake it. The
    /// flag is set before the count is read again (the consumer does the
    /// opposite), so a drain cannot slip between them unnoticed.
    pub(crate) fn must_wait(&self) -> bool {
        if self.queued() <= QUEUE_MAX {
            return false;
        }
        self.waiting.store(true, Ordering::SeqCst);
        self.queued() > QUEUE_LOW
    }
}

/// A running rewrite, seen from the reactor.
struct Rewrite {
    tx: Sender<RewriteMsg>,
    queue: Arc<Queue>,
    thread: Option<JoinHandle<()>>,
    walk_done: bool,
    started: Instant,
    /// The first rewrite after CONFIG SET appendonly yes: until it is
    /// installed no file on disk holds the data, so shutdown completes it.
    initial: bool,
}

/// The AOF of a running server.
pub struct Aof {
    pub layout: Layout,
    writer: Sender<WriterMsg>,
    writer_thread: Option<JoinHandle<()>>,
    pub sizes: Arc<Sizes>,
    /// Bytes sent to the writer and not written yet.
    pub queue: Arc<Queue>,
    /// Clients whose write commands wait for the writer to catch up.
    pub(crate) waiting: Vec<usize>,
    pub policy: AppendFsync,
    /// Batches handed to the writer, and the last one confirmed fsynced.
    pub sent_seq: u64,
    pub synced_seq: u64,
    /// Set while the disk refuses writes: write commands get MISCONF.
    pub write_error: Option<String>,
    rewrite: Option<Rewrite>,
    /// BGREWRITEAOF asked while a rewrite runs... (Redis schedules it).
    pub rewrite_scheduled: bool,
    pub last_rewrite_ok: bool,
    pub last_rewrite_secs: i64,
    /// Unix time of the last successful rewrite or of start.
    pub last_rewrite_unix: u64,
    /// Started only to run BGREWRITEAOF with `appendonly no` (Redis writes
    /// the files then too); stopped once the rewrite is installed.
    standalone: bool,
}

/// What start-up must load, and how the layout looks afterwards.
pub struct StartupPlan {
    pub files: Vec<PathBuf>,
    manifest: Manifest,
    /// A legacy single file to move into the AOF directory after loading.
    legacy: Option<PathBuf>,
    persist_manifest: bool,
    layout: Layout,
}

impl Aof {
    pub fn rewrite_in_progress(&self) -> bool {
        self.rewrite.is_some()
    }

    /// Bytes queued for the writer and the rewrite thread (INFO
    /// aof_buffer_length).
    pub fn queued(&self) -> usize {
        self.queue.queued() + self.rewrite.as_ref().map_or(0, |r| r.queue.queued())
    }

    /// The "MISCONF" error write commands get while the disk fails.
    #[inline]
    pub fn misconf(&self) -> Option<String> {
        self.write_error
            .as_ref()
            .map(|e| format!("MISCONF Errors writing to the AOF file: {e}"))
    }
}

/// Finds the files to load for `appendonly yes` the way Redis 7.0's
/// `loadAppendOnlyFiles` does: the manifest's files (every one must exist:
/// starting with part of the data would be silent loss), or a legacy
/// `appendonly.aof` in `dir` to upgrade into the directory (also resuming an
/// upgrade a crash interrupted), or a fresh layout. A damaged manifest is
/// refused with Redis's message.
pub fn plan_startup(config: &Config) -> Result<StartupPlan, String> {
    let layout = Layout::new(&config.dir, &config.appenddirname, &config.appendfilename);
    cleanup_temp_files(&layout.dir);
    let dir_exists = layout.dir.is_dir();
    let manifest = if dir_exists {
        layout.load_manifest().map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData {
                e.to_string()
            } else {
                format!(
                    "Fatal error: can't open the AOF manifest file {} for reading: {}",
                    layout.manifest_path().display(),
                    strerror(&e)
                )
            }
        })?
    } else {
        None
    };
    let mut m = manifest.unwrap_or_default();
    // History files are what a finished rewrite left for deletion.
    let had_history = !m.history.is_empty();
    for h in m.history.drain(..) {
        let _ = fs::remove_file(layout.path(&h.name));
    }
    let legacy = Path::new(&config.dir).join(&config.appendfilename);
    let empty = m.base.is_none() && m.incrs.is_empty();
    let interrupted_upgrade = m.incrs.is_empty()
        && m.base
            .as_ref()
            .is_some_and(|b| b.name == config.appendfilename && !layout.path(&b.name).exists());
    if legacy.is_file() && (!dir_exists || empty || interrupted_upgrade) {
        let manifest = Manifest {
            base: Some(FileEntry {
                name: config.appendfilename.clone(),
                seq: 1,
                kind: FileKind::Base,
            }),
            incrs: vec![FileEntry {
                name: layout.incr_name(1),
                seq: 1,
                kind: FileKind::Incr,
            }],
            history: Vec::new(),
        };
        return Ok(StartupPlan {
            files: vec![legacy.clone()],
            manifest,
            legacy: Some(legacy),
            persist_manifest: true,
            layout,
        });
    }
    if !empty {
        let mut files = Vec::new();
        for e in m.files() {
            let p = layout.path(&e.name);
            if let Err(err) = fs::metadata(&p) {
                return Err(format!(
                    "Unable to obtain the AOF file {} length. stat: {}",
                    e.name,
                    strerror(&err)
                ));
            }
            files.push(p);
        }
        return Ok(StartupPlan {
            files,
            manifest: m,
            legacy: None,
            persist_manifest: had_history,
            layout,
        });
    }
    // Nothing yet: an empty base and the first increment, as Redis 7 does.
    let manifest = Manifest {
        base: Some(FileEntry {
            name: layout.base_name(1),
            seq: 1,
            kind: FileKind::Base,
        }),
        incrs: vec![FileEntry {
            name: layout.incr_name(1),
            seq: 1,
            kind: FileKind::Incr,
        }],
        history: Vec::new(),
    };
    Ok(StartupPlan {
        files: Vec::new(),
        manifest,
        legacy: None,
        persist_manifest: true,
        layout,
    })
}

/// C's `strerror` text of an I/O error (Rust appends " (os error N)").
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn cleanup_temp_files(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        if name.to_string_lossy().starts_with("temp-") {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// A loader for the plan's files.
pub fn loader_for(plan: &StartupPlan) -> Loader {
    Loader::new(plan.files.clone())
}

/// After loading: upgrade a legacy file, create missing files, start the
/// writer and turn propagation on.
pub fn open_after_load(srv: &mut Server, plan: StartupPlan) -> Result<(), String> {
    let StartupPlan {
        manifest,
        legacy,
        persist_manifest,
        layout,
        ..
    } = plan;
    fs::create_dir_all(&layout.dir).map_err(|e| {
        format!(
            "Can't create the AOF directory {}: {e}",
            layout.dir.display()
        )
    })?;
    if let Some(old) = legacy {
        let to = layout.path(&srv.config.appendfilename);
        fs::rename(&old, &to)
            .map_err(|e| format!("Can't move {} into {}: {e}", old.display(), to.display()))?;
        info!(
            "Legacy AOF {} upgraded into {}",
            old.display(),
            layout.dir.display()
        );
    }
    if let Some(b) = &manifest.base {
        let p = layout.path(&b.name);
        if !p.exists() {
            fs::write(&p, b"").map_err(|e| format!("Can't create {}: {e}", p.display()))?;
        }
    }
    start_writer(srv, layout, manifest, persist_manifest)
}

fn start_writer(
    srv: &mut Server,
    layout: Layout,
    manifest: Manifest,
    persist: bool,
) -> Result<(), String> {
    let sizes = Arc::new(Sizes::default());
    let queue = Arc::new(Queue::default());
    let policy = srv.config.appendfsync;
    let w = Writer::open(
        layout.clone(),
        manifest,
        policy,
        sizes.clone(),
        queue.clone(),
        srv.notifier.clone(),
        persist,
    )
    .map_err(|e| format!("Can't open the AOF in {}: {e}", layout.dir.display()))?;
    let (tx, rx) = channel();
    let handle = std::thread::Builder::new()
        .name("aof-writer".into())
        .spawn(move || w.run(rx))
        .map_err(|e| format!("Can't start the AOF writer thread: {e}"))?;
    srv.aof = Some(Aof {
        layout,
        writer: tx,
        writer_thread: Some(handle),
        sizes,
        queue,
        waiting: Vec::new(),
        policy,
        sent_seq: 0,
        synced_seq: 0,
        write_error: None,
        rewrite: None,
        rewrite_scheduled: false,
        last_rewrite_ok: true,
        last_rewrite_secs: -1,
        last_rewrite_unix: unix_secs(),
        standalone: false,
    });
    srv.store.prop.enabled = true;
    srv.store.prop.reset_selected();
    Ok(())
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Once per poll round: hand the propagated commands to the writer and
/// advance a running rewrite.
pub fn after_round(srv: &mut Server) {
    hand_over(srv);
}

/// Hands the propagation buffer to the writer as one batch, every round
/// that propagated something: under every policy a reply's write reaches
/// the writer thread in the round that answered it (holding rounds back
/// while the writer is busy would save wake-ups, but would leave
/// acknowledged writes in the reactor for a millisecond or more - lost to
/// a SIGKILL that Redis, which writes before it replies, survives). The
/// writer writes what is queued with one writev(2) and hands the emptied
/// buffers back (`Queue::recycle`), so no buffer is allocated per batch.
fn hand_over(srv: &mut Server) {
    let Some(aof) = srv.aof.as_mut() else {
        return;
    };
    if !srv.store.prop.buf.is_empty() {
        let batch = srv.store.prop.take(aof.queue.spare().unwrap_or_default());
        aof.sent_seq += 1;
        aof.queue.add(batch.len());
        let _ = aof.writer.send(WriterMsg::Batch {
            seq: aof.sent_seq,
            data: batch,
        });
    }
    if let Some(rw) = aof.rewrite.as_mut() {
        // What writes to unwalked keys serialized goes out in any case
        // (it must precede their later changes).
        let forced = srv.store.snapshot_pending();
        send_pieces(rw, forced);
    }
    if let Some(rw) = aof.rewrite.as_mut()
        && !rw.walk_done
        && !rw.queue.must_wait()
    {
        let (pieces, done) = srv.store.snapshot_step(REWRITE_ELEMENTS_PER_TICK);
        send_pieces(rw, pieces);
        if done {
            rw.walk_done = true;
            let _ = rw.tx.send(RewriteMsg::Finish);
        }
    }
}

/// True while a rewrite walk still has work it may do now (the reactor
/// then polls without sleeping; a walk waiting for the rewrite thread to
/// write is woken by it).
pub fn busy(srv: &Server) -> bool {
    srv.aof
        .as_ref()
        .and_then(|a| a.rewrite.as_ref())
        .is_some_and(|r| !r.walk_done && r.queue.queued() <= QUEUE_MAX)
}

/// Dispatch: true if the write command `spec` from `c` must wait because
/// the disk is behind; the client is then parked with the command left
/// unexecuted, and runs it (in order) once the writer caught up.
#[inline(always)]
pub fn postpone_if_lagging(
    srv: &mut Server,
    c: &mut crate::server::Client,
    spec: &'static crate::commands::CommandSpec,
) -> bool {
    // Every command passes here: two loads decide the usual case inline.
    match &srv.aof {
        Some(aof)
            if aof.queue.queued() > QUEUE_MAX
                || aof
                    .rewrite
                    .as_ref()
                    .is_some_and(|r| r.queue.queued() > 2 * QUEUE_MAX) =>
        {
            postpone_lagging(srv, c, spec)
        }
        _ => false,
    }
}

/// `postpone_if_lagging` once a queue is over its limit.
#[inline(never)]
fn postpone_lagging(
    srv: &mut Server,
    c: &mut crate::server::Client,
    spec: &'static crate::commands::CommandSpec,
) -> bool {
    let Some(aof) = srv.aof.as_mut() else {
        return false;
    };
    // The queues first: they are almost never full.
    let lagging = aof.queue.must_wait()
        || aof
            .rewrite
            .as_ref()
            .is_some_and(|r| r.queue.queued() > 2 * QUEUE_MAX && r.queue.must_wait());
    if !lagging || c.is_internal() || !crate::server::pause::writes(c, spec) {
        return false;
    }
    c.deferred = true;
    c.park = Some(crate::server::Park::Waiting(LAGGING));
    aof.waiting.push(c.token);
    true
}

/// Park reason of a client whose write waits for the AOF writer.
const LAGGING: &str = "aof";

/// A queue drained (Notice::AofDrained, and every cron tick as a safety
/// net): waiting writers go on once the writer is below its low mark.
pub fn drained(srv: &mut Server) {
    let Some(aof) = srv.aof.as_mut() else {
        return;
    };
    if aof.waiting.is_empty() || aof.queue.queued() > QUEUE_LOW {
        return;
    }
    let waiting = std::mem::take(&mut aof.waiting);
    resume_waiting(srv, waiting);
}

fn resume_waiting(srv: &mut Server, tokens: Vec<usize>) {
    for token in tokens {
        if let Some(Some(c)) = srv.clients.get_mut(token)
            && c.park == Some(crate::server::Park::Waiting(LAGGING))
        {
            c.park = None;
            srv.unparked.push(token);
        }
    }
}

/// BGREWRITEAOF. Err with Redis's text if one is already running.
pub fn start_rewrite(srv: &mut Server) -> Result<(), String> {
    start_rewrite_inner(srv, true)
}

/// `rotate`: start a new increment file at the epoch (false when the AOF
/// was just turned on and its only increment already starts there).
fn start_rewrite_inner(srv: &mut Server, rotate: bool) -> Result<(), String> {
    // Everything propagated so far belongs before the epoch.
    hand_over(srv);
    // Function libraries come first in the base: FUNCTION2 records of an
    // RDB base, or FUNCTION LOAD commands.
    let preamble = srv.config.value("aof-use-rdb-preamble").as_deref() != Some("no");
    let library_codes = crate::rdb::persist::library_codes(srv);
    let libraries = if preamble {
        Vec::new()
    } else {
        srv.functions
            .as_ref()
            .map(|f| f.reg.rewrite_commands())
            .unwrap_or_default()
    };
    let Some(aof) = srv.aof.as_mut() else {
        return Err("ERR Background append only file rewriting not possible: AOF is off".into());
    };
    if aof.rewrite.is_some() {
        return Err("ERR Background append only file rewriting already in progress".into());
    }
    if srv.rdb.bgsave_in_progress() {
        // One snapshot walk at a time: the cron starts it after the BGSAVE.
        aof.rewrite_scheduled = true;
        return Err("ERR Background save in progress: AOF rewrite scheduled".into());
    }
    if rotate {
        let _ = aof.writer.send(WriterMsg::Rotate);
    }
    let (tx, rx) = channel();
    let temp = aof.layout.temp_rewrite_path();
    let writer = aof.writer.clone();
    let notifier = srv.notifier.clone();
    // aof-use-rdb-preamble (Redis's default yes): the base is an RDB file.
    let rdb_opts = preamble.then(|| crate::rdb::save_opts(&srv.config));
    let rdb_base = rdb_opts.map(|_| {
        let mut head = Vec::new();
        crate::rdb::save::write_header(&mut head, &crate::rdb::file::aux_fields(0, true));
        for code in &library_codes {
            crate::rdb::save::write_function(&mut head, code);
        }
        rewrite::RdbBase {
            head,
            checksum: srv.config.value("rdbchecksum").as_deref() != Some("no"),
        }
    });
    let rw_queue = Arc::new(Queue::default());
    let q = rw_queue.clone();
    let thread = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || rewrite::run(temp, rx, writer, q, notifier, rdb_base))
        .map_err(|e| format!("ERR Can't start the rewrite thread: {e}"))?;
    if !libraries.is_empty() {
        let _ = tx.send(RewriteMsg::Chunk(libraries));
    }
    aof.rewrite = Some(Rewrite {
        tx,
        queue: rw_queue,
        thread: Some(thread),
        walk_done: false,
        started: Instant::now(),
        initial: !rotate,
    });
    aof.rewrite_scheduled = false;
    srv.store.begin_snapshot_as(rdb_opts);
    srv.store.prop.reset_selected();
    info!("Background append only file rewriting started");
    Ok(())
}

/// The writer installed (or failed to install) the rewritten base.
pub fn rewrite_finished(srv: &mut Server, ok: bool) {
    let Some(aof) = srv.aof.as_mut() else {
        return;
    };
    if let Some(rw) = aof.rewrite.take() {
        aof.last_rewrite_secs = rw.started.elapsed().as_secs() as i64;
    }
    srv.store.abort_snapshot();
    aof.last_rewrite_ok = ok;
    if ok {
        aof.last_rewrite_unix = unix_secs();
        info!("Background AOF rewrite finished successfully");
    } else {
        warn!("Background AOF rewrite terminated with error");
    }
    if aof.standalone && !srv.config.appendonly {
        stop(srv);
    }
}

/// BGREWRITEAOF with `appendonly no`: like Redis, write a base of the
/// current data and a manifest naming it, without appending afterwards.
pub fn rewrite_with_aof_off(srv: &mut Server) -> Result<(), String> {
    enable_at_runtime(srv)?;
    srv.store.prop.enabled = false;
    if let Some(aof) = srv.aof.as_mut() {
        aof.standalone = true;
    }
    Ok(())
}

/// Automatic rewrite: when the AOF grew by `auto-aof-rewrite-percentage`
/// over the base and is at least `auto-aof-rewrite-min-size`.
pub fn maybe_auto_rewrite(srv: &mut Server) {
    let Some(aof) = srv.aof.as_ref() else {
        return;
    };
    if aof.rewrite.is_some() {
        return;
    }
    let pct = srv.config.auto_aof_rewrite_percentage;
    let current = aof.sizes.current.load(std::sync::atomic::Ordering::Relaxed);
    let base = aof
        .sizes
        .base
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(1);
    let scheduled = aof.rewrite_scheduled;
    let grown = pct > 0
        && current >= srv.config.auto_aof_rewrite_min_size
        && (current - base.min(current)) * 100 / base >= pct;
    if scheduled || grown {
        if grown {
            info!("Starting automatic rewriting of AOF on {}% growth", pct);
        }
        let _ = start_rewrite(srv);
    }
}

/// Applies CONFIG SET appendonly / appendfsync to the running AOF.
pub fn reconcile_config(srv: &mut Server) {
    if srv.loading.is_some() {
        return;
    }
    match (srv.config.appendonly, srv.aof.is_some()) {
        (true, false) => {
            if let Err(e) = enable_at_runtime(srv) {
                warn!("Can't turn the AOF on: {e}");
                srv.config.appendonly = false;
            }
        }
        // A standalone BGREWRITEAOF stops by itself when installed.
        (false, true) if srv.aof.as_ref().is_some_and(|a| a.standalone) => {}
        (false, true) => stop_in_background(srv),
        (true, true) if srv.aof.as_ref().is_some_and(|a| a.standalone) => {
            // appendonly turned on while a standalone rewrite runs: from
            // now on appends count too.
            if let Some(aof) = srv.aof.as_mut() {
                aof.standalone = false;
            }
            srv.store.prop.enabled = true;
        }
        _ => {}
    }
    if let Some(aof) = srv.aof.as_mut()
        && aof.policy != srv.config.appendfsync
    {
        aof.policy = srv.config.appendfsync;
        let _ = aof.writer.send(WriterMsg::SetPolicy(aof.policy));
    }
}

/// CONFIG SET appendonly yes: a new increment file plus an initial rewrite
/// of the current dataset as the base (the manifest names them once the
/// base is complete).
fn enable_at_runtime(srv: &mut Server) -> Result<(), String> {
    let layout = Layout::new(
        &srv.config.dir,
        &srv.config.appenddirname,
        &srv.config.appendfilename,
    );
    let old = layout.load_manifest().ok().flatten().unwrap_or_default();
    let seq = old.last_incr_seq() + 1;
    // The old increments are listed too, so installing the new base
    // removes them with the old base.
    let manifest = Manifest {
        base: old.base.clone(),
        incrs: old
            .incrs
            .iter()
            .cloned()
            .chain([FileEntry {
                name: layout.incr_name(seq),
                seq,
                kind: FileKind::Incr,
            }])
            .collect(),
        history: Vec::new(),
    };
    start_writer(srv, layout, manifest, false)?;
    start_rewrite_inner(srv, false)
}

/// CONFIG SET appendonly no: appending stops at once and a running
/// rewrite (the initial one too) is abandoned; the writer thread writes and
/// fsyncs what it was handed and exits on its own when its channel closes.
/// The reactor neither waits for that fsync nor joins the thread (clients
/// whose replies wait for an fsync get them when it is done).
fn stop_in_background(srv: &mut Server) {
    hand_over(srv);
    srv.store.prop.enabled = false;
    srv.store.abort_snapshot();
    let Some(mut aof) = srv.aof.take() else {
        return;
    };
    if let Some(rw) = aof.rewrite.take() {
        let _ = rw.tx.send(RewriteMsg::Abort);
    }
    // Writers waiting for the disk go on: nothing is appended any more.
    resume_waiting(srv, std::mem::take(&mut aof.waiting));
    info!("AOF turned off: the writer finishes in the background");
    // Dropping the sender closes the writer's channel; dropping the join
    // handle detaches the thread.
}

/// Stops the AOF at shutdown: completes an initial rewrite, aborts a later
/// one, writes and fsyncs everything and joins the writer.
pub fn stop(srv: &mut Server) {
    hand_over(srv);
    srv.store.prop.enabled = false;
    if srv
        .aof
        .as_ref()
        .and_then(|a| a.rewrite.as_ref())
        .is_some_and(|r| r.initial)
    {
        finish_rewrite_now(srv);
    }
    srv.store.abort_snapshot();
    let Some(mut aof) = srv.aof.take() else {
        return;
    };
    if let Some(rw) = aof.rewrite.take() {
        // A later rewrite is abandoned: the manifest on disk still names
        // a complete set of files.
        let _ = rw.tx.send(RewriteMsg::Abort);
    }
    let (ack_tx, ack_rx) = channel();
    if aof.writer.send(WriterMsg::Sync(ack_tx)).is_ok() {
        let _ = ack_rx.recv();
    }
    drop(aof.writer);
    if let Some(h) = aof.writer_thread.take() {
        let _ = h.join();
    }
}

/// Hands the walk's output to the rewrite thread, in order.
fn send_pieces(rw: &Rewrite, pieces: Vec<crate::store::snapshot::Piece>) {
    use crate::store::snapshot::Piece;
    for p in pieces {
        let _ = rw.tx.send(match p {
            Piece::Bytes(b) => {
                rw.queue.add(b.len());
                RewriteMsg::Chunk(b)
            }
            Piece::Detached(d) => RewriteMsg::Detached(d),
        });
    }
}

/// Completes a running rewrite synchronously and waits until the writer
/// installed it (shutdown during the initial rewrite).
fn finish_rewrite_now(srv: &mut Server) {
    let Some(rw) = srv.aof.as_mut().and_then(|a| a.rewrite.as_mut()) else {
        return;
    };
    if !rw.walk_done {
        loop {
            let (pieces, done) = srv.store.snapshot_step(usize::MAX);
            send_pieces(rw, pieces);
            if done {
                break;
            }
        }
        rw.walk_done = true;
        let _ = rw.tx.send(RewriteMsg::Finish);
    }
    // The rewrite thread hands the base to the writer before it ends; the
    // writer handles it before the Sync that `stop` sends next.
    if let Some(t) = rw.thread.take() {
        let _ = t.join();
    }
    info!("Initial AOF rewrite completed at shutdown");
}

/// DEBUG LOADAOF: everything written so far made durable, memory emptied,
/// and the AOF directory replayed (synchronously, like Redis). Nothing is
/// propagated while replaying.
pub fn debug_loadaof(srv: &mut Server) -> Result<(), String> {
    if srv.aof.as_ref().is_some_and(|a| a.rewrite.is_some()) || srv.rdb.bgsave_in_progress() {
        return Err("ERR Background save or AOF rewrite in progress, try again later".into());
    }
    hand_over(srv);
    if let Some(aof) = srv.aof.as_ref() {
        let (ack_tx, ack_rx) = channel();
        if aof.writer.send(WriterMsg::Sync(ack_tx)).is_ok() {
            let _ = ack_rx.recv();
        }
    }
    let plan = plan_startup(&srv.config)?;
    srv.store.flush_all();
    let propagating = srv.store.prop.enabled;
    srv.store.prop.enabled = false;
    let mut loader = Loader::new(plan.files.clone());
    let r = loop {
        match loader.step(srv, std::time::Duration::from_secs(3600)) {
            Ok(true) => break Ok(()),
            Ok(false) => continue,
            Err(e) => break Err(e),
        }
    };
    srv.store.prop.enabled = propagating;
    srv.store.prop.reset_selected();
    r.map(|_| warn!("Append Only File loaded by DEBUG LOADAOF"))
}
