//! The server: shared state every command can reach ([`Server`]) and the
//! single-threaded mio reactor that owns it ([`reactor`]).

pub mod blocking;
pub mod client;
pub mod pause;
pub mod reactor;
pub mod snapshot_wait;
pub mod tls;

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Instant, SystemTime};

use slab::Slab;

pub use client::{Client, Park};
pub use reactor::{Notice, run, start};

/// How other threads reach the reactor: a message plus a wake-up.
#[derive(Clone)]
pub struct Notifier {
    pub(crate) tx: Sender<Notice>,
    pub(crate) waker: Arc<mio::Waker>,
}

impl Notifier {
    pub fn send(&self, n: Notice) {
        if self.tx.send(n).is_ok() {
            let _ = self.waker.wake();
        }
    }

    /// Posts several relay results with one wake-up.
    pub fn send_all(&self, done: Vec<crate::cluster::relay::Done>) {
        if done.is_empty() {
            return;
        }
        for d in done {
            if self.tx.send(Notice::Relay(d)).is_err() {
                return;
            }
        }
        let _ = self.waker.wake();
    }
}

use crate::config::Config;
use crate::store::Store;

/// Counters reported by INFO stats (reset by CONFIG RESETSTAT).
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub commands_processed: u64,
    pub connections_received: u64,
    pub rejected_connections: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
}

/// How a shutdown was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownRequest {
    /// SIGTERM / SIGINT / SHUTDOWN: flush what must be flushed, then exit 0.
    Graceful,
}

/// Everything a command can reach besides the calling client: the store,
/// the configuration, the other clients, counters.
pub struct Server {
    pub store: Store,
    pub config: Config,
    /// Connected clients by token. The client whose commands are running is
    /// temporarily taken out (its slot is `None`); the others are present.
    pub clients: Slab<Option<Box<Client>>>,
    pub stats: Stats,
    /// Clients parked by blocking commands.
    pub blocked: blocking::Blocked,
    pub shutdown: Option<ShutdownRequest>,
    pub started: Instant,
    pub started_unix: SystemTime,
    pub run_id: String,
    /// The port actually listened on.
    pub port: u16,
    pub next_client_id: u64,
    /// Highest number of connected clients seen.
    pub max_clients_seen: usize,
    /// For other threads to hand results back to the reactor.
    pub notifier: Notifier,
    /// Cluster mode: the members and the slot table (None without `self`).
    pub cluster: Option<crate::cluster::Topology>,
    /// Connections to the other members (cluster mode with peers).
    pub relay: Option<crate::cluster::relay::RelayPool>,
    /// Client id -> slab token, so other threads address clients by id
    /// (tokens are reused).
    pub(crate) client_ids: std::collections::HashMap<u64, usize>,
    /// The AOF, when `appendonly yes`.
    pub aof: Option<crate::aof::Aof>,
    /// Set while the AOF is being loaded at start-up.
    pub loading: Option<crate::aof::loader::Loader>,
    /// RDB snapshots: SAVE/BGSAVE state, save points (`crate::rdb::persist`).
    pub rdb: crate::rdb::persist::RdbState,
    /// ACL users and the ACL LOG (`crate::acl`).
    pub acl: crate::acl::Acl,
    /// Pub/Sub registry, notifications, output limits (`crate::pubsub`).
    pub pubsub: crate::pubsub::PubSub,
    /// TLS settings for connections accepted on `tls-port` (`server::tls`);
    /// rebuilt by CONFIG SET tls-*, used by the next handshakes.
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// The Lua interpreter and script cache (taken out while a script runs).
    pub scripting: Option<Box<crate::scripting::Engine>>,
    /// The functions engine and its libraries (created on first use).
    pub functions: Option<Box<crate::scripting::functions::Functions>>,
    /// The script running past busy-reply-threshold, and what serving
    /// others meanwhile needs.
    pub busy: crate::scripting::busy::Busy,
    /// Tokens of clients with output to flush after this poll round.
    pub(crate) pending_writes: Vec<usize>,
    /// Tokens of clients to read from next round (their socket may hold
    /// more than the last read took).
    pub(crate) read_ready: std::collections::VecDeque<usize>,
    /// Tokens of clients that got unparked and may have queued commands.
    pub(crate) unparked: Vec<usize>,
    /// Tokens of writers waiting for the snapshot walk to write a big value
    /// (`snapshot_wait`).
    pub(crate) walk_waiters: Vec<usize>,
    /// CLIENT PAUSE in force, and the tokens of the clients it postponed.
    pub pause: Option<pause::Pause>,
    pub(crate) paused: Vec<usize>,
    /// Tokens of clients whose replies wait for an AOF fsync.
    pub(crate) held: Vec<usize>,
    /// Command/error statistics, slow log, latency monitor, MONITOR.
    pub ops: crate::ops::Ops,
    /// MIGRATE operations in flight and cached target connections.
    pub migrate: crate::commands::migrate::State,
}

impl Server {
    /// Number of connected clients.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Marks a client (not the running one) for output flushing.
    pub fn wake_writer(&mut self, token: usize) {
        if let Some(Some(c)) = self.clients.get_mut(token)
            && !c.pending_write
        {
            c.pending_write = true;
            self.pending_writes.push(token);
        }
    }

    /// Finds a connected client (other than the running one) by id.
    pub fn client_by_id_mut(&mut self, id: u64) -> Option<&mut Client> {
        let token = *self.client_ids.get(&id)?;
        self.clients
            .get_mut(token)
            .and_then(|c| c.as_deref_mut())
            .filter(|c| c.id == id)
    }
}
