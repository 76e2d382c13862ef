//! The rewrite thread: receives serialized chunks of the snapshot from the
//! reactor, writes them to a temp base file, fsyncs it, and hands it to the
//! writer thread to install (manifest swap). A crash at any point leaves the
//! old manifest, which still names a complete set of files.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use log::{error, info};

use super::Queue;
use super::writer::WriterMsg;
use crate::server::{Notice, Notifier};

#[derive(Debug)]
pub enum RewriteMsg {
    Chunk(Vec<u8>),
    /// A database flushed during the walk: serialize its unwalked entries
    /// here, then free it (both off the reactor).
    Detached(Box<crate::store::snapshot::DetachedDb>),
    /// The walk is complete: fsync and install.
    Finish,
    /// Give up (AOF turned off, shutdown): remove the temp file.
    Abort,
}

/// With `aof-use-rdb-preamble yes` the base is an RDB file: its header
/// (aux fields) comes first, EOF and CRC64 (when `checksum`) last.
pub(crate) struct RdbBase {
    pub head: Vec<u8>,
    pub checksum: bool,
}

pub(crate) fn run(
    temp: PathBuf,
    rx: Receiver<RewriteMsg>,
    writer: Sender<WriterMsg>,
    queue: Arc<Queue>,
    notifier: Notifier,
    rdb: Option<RdbBase>,
) {
    let is_rdb = rdb.is_some();
    match write_base(&temp, &rx, &queue, &notifier, rdb) {
        Ok(true) => {
            info!("Background AOF rewrite: base file written, installing");
            if writer
                .send(WriterMsg::InstallBase {
                    temp: temp.clone(),
                    rdb: is_rdb,
                })
                .is_err()
            {
                let _ = fs::remove_file(&temp);
                notifier.send(Notice::AofRewriteInstalled { ok: false });
            }
        }
        Ok(false) => {
            let _ = fs::remove_file(&temp);
        }
        Err(e) => {
            error!("Background AOF rewrite failed: {e}");
            let _ = fs::remove_file(&temp);
            notifier.send(Notice::AofRewriteInstalled { ok: false });
        }
    }
}

/// Returns Ok(true) when complete and durable, Ok(false) when aborted.
fn write_base(
    temp: &PathBuf,
    rx: &Receiver<RewriteMsg>,
    queue: &Queue,
    notifier: &Notifier,
    rdb: Option<RdbBase>,
) -> io::Result<bool> {
    if let Some(dir) = temp.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut out = BufWriter::with_capacity(1 << 20, File::create(temp)?);
    let mut crc = crate::rdb::CRC64.digest();
    if let Some(r) = &rdb {
        crc.update(&r.head);
        out.write_all(&r.head)?;
    }
    loop {
        match rx.recv() {
            Ok(RewriteMsg::Chunk(data)) => {
                crc.update(&data);
                out.write_all(&data)?;
                queue.done(data.len(), notifier);
            }
            Ok(RewriteMsg::Detached(d)) => {
                let mut data = Vec::new();
                d.serialize(&mut data);
                crc.update(&data);
                out.write_all(&data)?;
            }
            Ok(RewriteMsg::Finish) => {
                if let Some(r) = &rdb {
                    crc.update(&[crate::rdb::OP_EOF]);
                    out.write_all(&[crate::rdb::OP_EOF])?;
                    let sum = if r.checksum { crc.finalize() } else { 0 };
                    out.write_all(&sum.to_le_bytes())?;
                }
                let f = out.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()?;
                return Ok(true);
            }
            Ok(RewriteMsg::Abort) | Err(_) => return Ok(false),
        }
    }
}
