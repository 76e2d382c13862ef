//! The AOF writer thread: appends each poll round's batch to the current
//! increment file and fsyncs by policy (always: every batch, confirming
//! through the reactor's Waker; everysec: once a second; no: never). It owns
//! every AOF file operation of a running AOF: opening increment files at a
//! rewrite's epoch and installing a finished base (manifest swap, removal of
//! the files it replaces). The reactor never writes or fsyncs an AOF file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use log::{error, info, warn};

use super::manifest::{FileEntry, FileKind, Layout, Manifest};
use crate::config::AppendFsync;
use crate::server::{Notice, Notifier};

/// With everysec / no, how long the writer lets rounds accumulate after a
/// write (the reactor never waits for it).
const COALESCE: Duration = Duration::from_micros(500);

/// Work for the writer, in order.
#[derive(Debug)]
pub enum WriterMsg {
    /// Append a batch of propagated commands; batches are numbered.
    Batch {
        seq: u64,
        data: Vec<u8>,
    },
    /// A rewrite's epoch: later batches go to a new increment file.
    Rotate,
    /// A rewrite's base file is complete and fsynced at `temp`: make it
    /// the base, keeping only the increments opened since its epoch.
    InstallBase {
        temp: PathBuf,
        /// The base is in RDB format (`aof-use-rdb-preamble`): `.base.rdb`.
        rdb: bool,
    },
    SetPolicy(AppendFsync),
    /// Fsync now and acknowledge (shutdown, appendonly no).
    Sync(std::sync::mpsc::Sender<()>),
}

/// Counters the reactor reads for INFO and the auto-rewrite rule.
#[derive(Debug, Default)]
pub struct Sizes {
    pub current: AtomicU64,
    pub base: AtomicU64,
}

pub(crate) struct Writer {
    layout: Layout,
    manifest: Manifest,
    file: File,
    /// Length of `file` known to hold only complete writes.
    file_len: u64,
    policy: AppendFsync,
    /// Bytes written and not yet fsynced.
    unsynced: bool,
    last_fsync: Instant,
    /// Batches not written yet (queued, or refused by a disk error and
    /// retried), written as they are with one writev(2) - never copied
    /// together - and then handed back to the reactor for reuse.
    backlog: Vec<Vec<u8>>,
    /// Their total length.
    backlog_len: usize,
    backlog_seq: u64,
    failing: bool,
    /// First increment seq belonging to the running rewrite's epoch.
    rewrite_from_incr: Option<u64>,
    sizes: Arc<Sizes>,
    /// Bytes the reactor queued and this thread has not written yet.
    queue: Arc<super::Queue>,
    notifier: Notifier,
}

impl Writer {
    /// Opens (creating if needed) the last increment file of `manifest`.
    pub(crate) fn open(
        layout: Layout,
        mut manifest: Manifest,
        policy: AppendFsync,
        sizes: Arc<Sizes>,
        queue: Arc<super::Queue>,
        notifier: Notifier,
        persist: bool,
    ) -> io::Result<Writer> {
        fs::create_dir_all(&layout.dir)?;
        if manifest.incrs.is_empty() {
            let seq = manifest.last_incr_seq() + 1;
            manifest.incrs.push(FileEntry {
                name: layout.incr_name(seq),
                seq,
                kind: FileKind::Incr,
            });
        }
        let name = manifest
            .incrs
            .last()
            .map(|e| e.name.clone())
            .unwrap_or_default();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(layout.path(&name))?;
        let file_len = file.metadata()?.len();
        if persist {
            layout.persist_manifest(&manifest)?;
        }
        let mut total = 0;
        for e in manifest.files() {
            total += fs::metadata(layout.path(&e.name)).map_or(0, |m| m.len());
        }
        sizes.current.store(total, Ordering::Relaxed);
        if let Some(b) = &manifest.base {
            let n = fs::metadata(layout.path(&b.name)).map_or(0, |m| m.len());
            sizes.base.store(n, Ordering::Relaxed);
        }
        Ok(Writer {
            layout,
            manifest,
            file,
            file_len,
            policy,
            unsynced: false,
            last_fsync: Instant::now(),
            backlog: Vec::new(),
            backlog_len: 0,
            backlog_seq: 0,
            failing: false,
            rewrite_from_incr: None,
            sizes,
            queue,
            notifier,
        })
    }

    /// The thread body: runs until every sender is gone.
    pub(crate) fn run(mut self, rx: Receiver<WriterMsg>) {
        loop {
            let msg = if self.unsynced || self.failing {
                match rx.recv_timeout(Duration::from_millis(250)) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => break,
                }
            };
            match msg {
                Some(WriterMsg::Batch { seq, data }) => {
                    self.add_batch(seq, data);
                    // Group commit: take every batch already queued too.
                    let mut more = Vec::new();
                    while let Ok(m) = rx.try_recv() {
                        match m {
                            WriterMsg::Batch { seq, data } => self.add_batch(seq, data),
                            other => {
                                more.push(other);
                                break;
                            }
                        }
                    }
                    self.write_backlog();
                    for m in more {
                        self.handle_control(m);
                    }
                    if self.policy != AppendFsync::Always {
                        // Under load, let rounds pile up briefly in the
                        // reactor's buffer (it hands over only once this
                        // thread has written all it had): one writev(2)
                        // then carries many rounds.
                        std::thread::sleep(COALESCE);
                    }
                }
                Some(other) => self.handle_control(other),
                None => {
                    if self.failing {
                        self.write_backlog();
                    }
                }
            }
            if self.unsynced
                && self.policy == AppendFsync::Everysec
                && self.last_fsync.elapsed() >= Duration::from_secs(1)
            {
                self.fsync();
            }
        }
        self.write_backlog();
        self.fsync();
    }

    fn handle_control(&mut self, msg: WriterMsg) {
        match msg {
            WriterMsg::Batch { .. } => {}
            WriterMsg::Rotate => {
                if let Err(e) = self.rotate() {
                    error!("AOF: cannot open a new increment file: {e}");
                }
            }
            WriterMsg::InstallBase { temp, rdb } => {
                let ok = match self.install_base(&temp, rdb) {
                    Ok(()) => true,
                    Err(e) => {
                        error!("AOF: cannot install the rewritten base: {e}");
                        let _ = fs::remove_file(&temp);
                        false
                    }
                };
                self.notifier.send(Notice::AofRewriteInstalled { ok });
            }
            WriterMsg::SetPolicy(p) => self.policy = p,
            WriterMsg::Sync(ack) => {
                self.write_backlog();
                self.fsync();
                let _ = ack.send(());
            }
        }
    }

    /// Queues a batch for the next write.
    fn add_batch(&mut self, seq: u64, data: Vec<u8>) {
        self.backlog_len += data.len();
        self.backlog.push(data);
        self.backlog_seq = seq;
    }

    /// Writes pending data; on error keeps it for a retry and tells the
    /// reactor (writes are refused until the disk recovers).
    fn write_backlog(&mut self) {
        if self.backlog.is_empty() {
            return;
        }
        while super::STALL_WRITER.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let started = Instant::now();
        let written = write_all_vectored(&mut self.file, &self.backlog);
        self.report_latency("aof-write", started);
        match written {
            Ok(()) => {
                let n = std::mem::take(&mut self.backlog_len);
                self.file_len += n as u64;
                self.sizes.current.fetch_add(n as u64, Ordering::Relaxed);
                self.queue.done(n, &self.notifier);
                self.queue.recycle(self.backlog.drain(..));
                self.unsynced = true;
                if self.failing {
                    self.failing = false;
                    info!("AOF write error looks solved, can write again.");
                    self.notifier.send(Notice::AofWriteOk);
                }
                if self.policy == AppendFsync::Always {
                    let started = Instant::now();
                    self.fsync();
                    self.report_latency("aof-fsync-always", started);
                    if !self.failing {
                        self.notifier.send(Notice::AofSynced(self.backlog_seq));
                    }
                }
            }
            Err(e) => {
                // Cut a partial write off so the retry cannot leave half a
                // command in the file.
                let _ = self.file.set_len(self.file_len);
                self.write_failed(e)
            }
        }
    }

    fn write_failed(&mut self, e: io::Error) {
        if self.policy == AppendFsync::Always {
            // Like Redis: with `always` an acknowledged write must be on
            // disk, and it cannot be - stop rather than lie.
            error!(
                "Can't recover from AOF write error when the AOF fsync policy is 'always': {e}. Exiting..."
            );
            std::process::exit(1);
        }
        if !self.failing {
            warn!("Error writing to the AOF file: {e}");
            self.failing = true;
            self.notifier.send(Notice::AofWriteError(e.to_string()));
        }
    }

    /// Tells the reactor's latency monitor about a slow disk operation
    /// (it applies `latency-monitor-threshold`).
    fn report_latency(&self, event: &'static str, started: Instant) {
        let ms = started.elapsed().as_millis() as u64;
        if ms > 0 {
            self.notifier.send(Notice::Latency(event, ms));
        }
    }

    fn fsync(&mut self) {
        if !self.unsynced {
            return;
        }
        match self.file.sync_data() {
            Ok(()) => {
                self.unsynced = false;
                self.last_fsync = Instant::now();
            }
            Err(e) => self.write_failed(e),
        }
    }

    /// Closes the current increment and opens the next one (the epoch of
    /// a rewrite); the manifest lists both until the new base is in.
    fn rotate(&mut self) -> io::Result<()> {
        self.write_backlog();
        self.fsync();
        let seq = self.manifest.last_incr_seq() + 1;
        let entry = FileEntry {
            name: self.layout.incr_name(seq),
            seq,
            kind: FileKind::Incr,
        };
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.layout.path(&entry.name))?;
        self.file_len = self.file.metadata()?.len();
        self.manifest.incrs.push(entry);
        self.layout.persist_manifest(&self.manifest)?;
        self.rewrite_from_incr = Some(seq);
        Ok(())
    }

    /// Renames the finished base into place and swaps the manifest to
    /// (new base, increments since the epoch); then removes old files.
    fn install_base(&mut self, temp: &std::path::Path, rdb: bool) -> io::Result<()> {
        let from = self
            .rewrite_from_incr
            .take()
            .unwrap_or_else(|| self.manifest.last_incr_seq());
        let seq = self.manifest.base.as_ref().map_or(0, |b| b.seq) + 1;
        let mut name = self.layout.base_name(seq);
        if rdb {
            // Redis names an RDB-format base `<appendfilename>.<seq>.base.rdb`.
            if let Some(stem) = name.strip_suffix(".aof") {
                name = format!("{stem}.rdb");
            }
        }
        fs::rename(temp, self.layout.path(&name))?;
        let old: Vec<FileEntry> = self
            .manifest
            .files()
            .filter(|e| e.kind == FileKind::Base || e.seq < from)
            .cloned()
            .collect();
        let mut next = Manifest {
            base: Some(FileEntry {
                name: name.clone(),
                seq,
                kind: FileKind::Base,
            }),
            incrs: self
                .manifest
                .incrs
                .iter()
                .filter(|e| e.seq >= from)
                .cloned()
                .collect(),
            history: Vec::new(),
        };
        if next.incrs.is_empty() {
            next.incrs = self.manifest.incrs.last().cloned().into_iter().collect();
        }
        self.layout.persist_manifest(&next)?;
        self.manifest = next;
        for e in old {
            if e.name != name {
                let _ = fs::remove_file(self.layout.path(&e.name));
            }
        }
        let base = fs::metadata(self.layout.path(&name)).map_or(0, |m| m.len());
        let mut total = 0;
        for e in self.manifest.files() {
            total += fs::metadata(self.layout.path(&e.name)).map_or(0, |m| m.len());
        }
        self.sizes.base.store(base, Ordering::Relaxed);
        self.sizes.current.store(total, Ordering::Relaxed);
        Ok(())
    }
}

/// Most buffers one writev(2) takes (Linux's IOV_MAX).
const IOV_MAX: usize = 1024;

/// Writes every byte of `bufs`, in order, with as few writev(2) calls as
/// the kernel allows (`Write::write_all_vectored` is unstable).
fn write_all_vectored(file: &mut File, bufs: &[Vec<u8>]) -> io::Result<()> {
    // Where the unwritten data starts: a buffer and an offset in it.
    let (mut i, mut off) = (0, 0);
    while i < bufs.len() {
        if off == bufs[i].len() {
            (i, off) = (i + 1, 0);
            continue;
        }
        let mut slices = Vec::with_capacity((bufs.len() - i).min(IOV_MAX));
        slices.push(io::IoSlice::new(&bufs[i][off..]));
        for b in bufs[i + 1..].iter().take(IOV_MAX - 1) {
            slices.push(io::IoSlice::new(b));
        }
        let mut n = match file.write_vectored(&slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        while n > 0 && i < bufs.len() {
            let step = n.min(bufs[i].len() - off);
            n -= step;
            off += step;
            if off == bufs[i].len() {
                (i, off) = (i + 1, 0);
            }
        }
    }
    Ok(())
}
