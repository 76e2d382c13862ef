//! The reactor: one thread, one mio `Poll`, owning all data.
//!
//! Each poll round: accept connections, read each readable client once (at
//! most 16 KiB, more only for the rest of a big bulk argument, as Redis),
//! execute every complete command in its buffer in order (unless the
//! client is parked), then flush replies at the end of the round - at most
//! 64 KiB per client, registering WRITABLE interest only for sockets that
//! would block. Polling is edge-triggered, so a client whose read filled
//! the buffer (or whose write hit the cap) goes on a list served in the
//! next round, which then polls without sleeping: every client gets a
//! bounded share of each round, and nobody spins when there is no work.
//! A client whose unsent output is over a limit stops having its commands
//! run (and, past a query-buffer threshold, being read) until it reads.
//! Other threads reach the reactor only through [`Notice`]s plus the Waker.

use std::io::{self, ErrorKind, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant, SystemTime};

use log::{debug, info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use super::client::Chunk;
use super::{Client, Server, ShutdownRequest, Stats};
use crate::commands::{self, Args};
use crate::config::Config;
use crate::resp::{Limits, parse_command_resume};
use crate::store::Store;

const WAKER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);
const LISTENER_BASE: usize = usize::MAX - 64;

/// How much to read from a client per round (Redis's PROTO_IOBUF_LEN).
const READ_CHUNK: usize = 16 * 1024;
/// A bulk argument at least this big is read in one go (Redis's
/// PROTO_MBULK_BIG_ARG), up to `BIG_READ_MAX` per round.
const BIG_ARG: usize = 32 * 1024;
const BIG_READ_MAX: usize = 1 << 20;
/// Bytes written to one client per round (Redis's NET_MAX_WRITES_PER_EVENT):
/// one fast reader of a huge reply cannot hold up the round.
const WRITE_CHUNK: usize = 64 * 1024;
/// Unsent output over which a client's commands stop running until it has
/// read half of it; an unauthenticated client gets far less. Beyond Redis
/// (whose normal clients have no limit): a client pipelining GETs without
/// reading stays bounded instead of growing the server without end.
const OUTPUT_PAUSE: usize = 16 << 20;
const OUTPUT_PAUSE_NOAUTH: usize = 64 << 10;
/// While its commands are paused, a client is read only until its query
/// buffer holds this much: then TCP pushes back. Generous, so a client
/// that writes a whole pipeline before reading any reply (most client
/// libraries) can finish writing it.
const QUERY_PAUSE: usize = 64 << 20;
const QUERY_PAUSE_NOAUTH: usize = 64 << 10;
/// Query buffers larger than this are released when drained.
const QUERY_KEEP: usize = 64 * 1024;
/// Reply buffers larger than this are released when flushed.
const REPLY_KEEP: usize = 64 * 1024;
/// Unsent output up to this size is copied into the last sealed chunk
/// (bounded by `SEAL_CHUNK`) rather than given its own.
const SEAL_COPY: usize = 16 * 1024;
const SEAL_CHUNK: usize = 64 * 1024;

/// A message from another thread to the reactor.
#[derive(Debug)]
pub enum Notice {
    /// Ask the reactor to shut down gracefully (used by embedders/tests).
    Shutdown,
    /// The AOF writer fsynced every batch up to this one.
    AofSynced(u64),
    /// The AOF writer cannot write: refuse writes (MISCONF).
    AofWriteError(String),
    /// The AOF writer could write again.
    AofWriteOk,
    /// The AOF writer or the rewrite thread caught up: waiting writers and
    /// the rewrite walk go on.
    AofDrained,
    /// A rewrite ended: its base installed (ok) or abandoned.
    AofRewriteInstalled { ok: bool },
    /// The BGSAVE thread finished (renamed the file into place, or failed).
    BgsaveDone { ok: bool },
    /// A cluster relay job finished (for the client with that id).
    Relay(crate::cluster::relay::Done),
    /// A cluster member became reachable or unreachable.
    PeerState { member: usize, up: bool },
    /// Another thread took this long (ms) for a latency-monitor event
    /// (`aof-write`, `aof-fsync-always`).
    Latency(&'static str, u64),
    /// A MIGRATE worker finished talking to the target.
    Migrate(crate::commands::migrate::Done),
}

/// The event loop and the state it owns.
pub struct Reactor {
    poll: Poll,
    listeners: Vec<TcpListener>,
    /// Listeners from this index on are `tls-port`'s.
    tls_from: usize,
    notices: Receiver<Notice>,
    signals: Option<Signals>,
    srv: Server,
    next_cron: Instant,
    /// What start-up loads from the AOF, until loading completes.
    load_plan: Option<crate::aof::StartupPlan>,
}

/// Binds the listeners and builds the reactor without running it.
pub fn start(config: Config) -> io::Result<Reactor> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let (tx, rx) = channel();
    // Redis's `port 0`: no plain TCP listener (TLS only).
    let mut listeners = if config.port == 0 {
        Vec::new()
    } else {
        bind_all(&config, config.port)?
    };
    let tls_from = listeners.len();
    let tls = if super::tls::enabled(&config) {
        let cfg = super::tls::server_config(&config).map_err(|e| {
            log::error!("Failed to configure TLS: {e}");
            io::Error::other(format!(
                "Failed to configure TLS. Check logs for more info. ({e})"
            ))
        })?;
        listeners.extend(bind_all(&config, config.tls_port)?);
        Some(cfg)
    } else {
        None
    };
    if listeners.is_empty() {
        return Err(io::Error::other(
            "Configured to not listen anywhere, exiting.",
        ));
    }
    let mut port = config.port;
    for (i, l) in listeners.iter_mut().enumerate() {
        if i < tls_from {
            port = l.local_addr()?.port();
        }
        poll.registry()
            .register(l, Token(LISTENER_BASE + i), Interest::READABLE)?;
    }
    let signals = match Signals::new([SIGTERM, SIGINT]) {
        Ok(mut s) => {
            poll.registry()
                .register(&mut s, SIGNALS, Interest::READABLE)?;
            Some(s)
        }
        Err(e) => {
            warn!("cannot install signal handlers: {e}");
            None
        }
    };
    let cluster = crate::cluster::Topology::from_config(&config)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let acl = crate::acl::from_config(&config)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    crate::commands::install_renames(&config.rename_commands)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let srv = Server {
        acl,
        store: Store::new(config.databases),
        clients: Slab::new(),
        stats: Stats::default(),
        blocked: Default::default(),
        shutdown: None,
        started: Instant::now(),
        started_unix: SystemTime::now(),
        run_id: make_run_id(),
        port,
        next_client_id: 1,
        max_clients_seen: 0,
        notifier: super::Notifier {
            tx,
            waker: waker.clone(),
        },
        cluster,
        relay: None,
        client_ids: Default::default(),
        aof: None,
        loading: None,
        rdb: Default::default(),
        scripting: crate::scripting::Engine::new()
            .map_err(|e| log::error!("Lua interpreter: {e}"))
            .ok()
            .map(Box::new),
        functions: None,
        busy: crate::scripting::busy::Busy::new(poll.registry(), &listeners, tls_from),
        pending_writes: Vec::new(),
        read_ready: Default::default(),
        unparked: Vec::new(),
        walk_waiters: Vec::new(),
        pause: None,
        paused: Vec::new(),
        held: Vec::new(),
        migrate: Default::default(),
        pubsub: Default::default(),
        tls,
        ops: Default::default(),
        config,
    };
    let mut srv = srv;
    if let Some(t) = srv.cluster.as_ref().filter(|t| t.members.len() > 1) {
        let addrs: Vec<String> = t.members.iter().map(|m| m.addr.clone()).collect();
        let tls = super::tls::cluster_client_config(&srv.config).map_err(|e| {
            log::error!("Failed to configure TLS for the cluster links: {e}");
            io::Error::other(format!(
                "Failed to configure TLS. Check logs for more info. ({e})"
            ))
        })?;
        srv.relay = Some(crate::cluster::relay::RelayPool::start(
            &addrs,
            t.me,
            t.fingerprint,
            &srv.config.requirepass,
            srv.config.cluster_node_timeout,
            tls,
            srv.notifier.clone(),
        ));
        // PUBLISH inside MULTI / scripts reaches the other nodes too.
        srv.pubsub.relay = Some(crate::cluster::pubsub::forward);
    }
    crate::pubsub::config_changed(&mut srv);
    crate::memory::config_changed(&mut srv);
    crate::memory::mark_startup();
    crate::ops::config_changed(&mut srv);
    Ok(Reactor {
        poll,
        listeners,
        tls_from,
        notices: rx,
        signals,
        srv,
        next_cron: Instant::now(),
        load_plan: None,
    })
}

/// Starts the server and runs it until shutdown.
pub fn run(config: Config) -> io::Result<()> {
    let reactor = start(config)?;
    reactor.run()
}

fn make_run_id() -> String {
    // 40 hex chars like Redis; uniqueness, not secrecy, is what matters.
    let seed = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
        ^ (std::process::id() as u128) << 64;
    let mut x = seed as u64 ^ (seed >> 64) as u64 | 1;
    let mut s = String::with_capacity(40);
    while s.len() < 40 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!("{:016x}", x));
    }
    s.truncate(40);
    s
}

/// Binds every `bind` address on `port`. Addresses with Redis's `-` prefix
/// are optional: failing to bind them is logged, not fatal.
fn bind_all(config: &Config, port: u16) -> io::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    let mut bound_port = port;
    for (addr, optional) in config.bind_addrs() {
        let host = match addr.as_str() {
            "*" => "0.0.0.0",
            "::*" => "::",
            a => a,
        };
        let target = if host.contains(':') {
            format!("[{}]:{}", host, bound_port)
        } else {
            format!("{}:{}", host, bound_port)
        };
        let res = target
            .to_socket_addrs()
            .and_then(|mut it| {
                it.next()
                    .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "no address"))
            })
            .and_then(TcpListener::bind);
        match res {
            Ok(l) => {
                // With port 0 the first listener picks the port; the rest follow it.
                if bound_port == 0 {
                    bound_port = l.local_addr()?.port();
                }
                out.push(l);
            }
            Err(e) if optional => {
                debug!("skipping optional bind address {addr}: {e}");
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "Failed listening on port {} (tcp) for {}: {}",
                        bound_port, addr, e
                    ),
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(io::Error::new(
            ErrorKind::AddrNotAvailable,
            "Failed listening on any bind address",
        ));
    }
    Ok(out)
}

impl Reactor {
    /// The port the server listens on (useful with `port 0`).
    pub fn port(&self) -> u16 {
        self.srv.port
    }

    /// A handle other threads use to stop the server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            notifier: self.srv.notifier.clone(),
        }
    }

    /// Runs the event loop until a shutdown is requested.
    pub fn run(mut self) -> io::Result<()> {
        let c = &self.srv.config;
        info!(
            "memkv {} (Redis {} compatible) started, pid={}, port={}, config={}",
            env!("CARGO_PKG_VERSION"),
            crate::REDIS_VERSION,
            std::process::id(),
            self.srv.port,
            c.config_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none".into())
        );
        if self.srv.config.appendonly {
            let plan = crate::aof::plan_startup(&self.srv.config).map_err(io::Error::other)?;
            self.srv.loading = Some(crate::aof::loader_for(&plan));
            self.load_plan = Some(plan);
        } else if let Some(p) = crate::rdb::persist::startup_file(&self.srv.config) {
            self.srv.loading = Some(crate::aof::loader::Loader::rdb_file(p));
        }
        info!("Ready to accept connections tcp");
        let mut events = Events::with_capacity(1024);
        loop {
            let wake_at = match self.srv.blocked.next_deadline() {
                Some(d) => d.min(self.next_cron),
                None => self.next_cron,
            };
            let mut timeout = wake_at.saturating_duration_since(Instant::now());
            if self.srv.loading.is_some()
                || crate::aof::busy(&self.srv)
                || crate::rdb::persist::busy(&self.srv)
                || self.more_work()
            {
                timeout = Duration::ZERO;
            }
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            // Clients left with unread bytes last round; those reported
            // again by this poll are served once, from this list.
            let read_backlog = std::mem::take(&mut self.srv.read_ready);
            for ev in events.iter() {
                match ev.token() {
                    WAKER => self.drain_notices(),
                    SIGNALS => self.handle_signals(),
                    Token(t) if t >= LISTENER_BASE => self.accept(t - LISTENER_BASE),
                    Token(t) => {
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.handle_readable(t, ev.is_read_closed() || ev.is_error());
                        }
                        if ev.is_writable() {
                            self.queue_flush(t);
                        }
                    }
                }
            }
            self.serve_read_backlog(read_backlog);
            if self.srv.loading.is_some() {
                self.load_step()?;
            }
            let now = Instant::now();
            if self.srv.blocked.next_deadline().is_some_and(|d| d <= now) {
                self.srv.expire_blocked(now);
            }
            self.resume_unparked();
            if now >= self.next_cron {
                self.cron();
            }
            crate::aof::after_round(&mut self.srv);
            crate::cluster::handover::tick(&mut self.srv);
            crate::rdb::persist::after_round(&mut self.srv);
            crate::server::snapshot_wait::after_round(&mut self.srv);
            if let Some(relay) = self.srv.relay.as_mut() {
                relay.flush();
            }
            crate::pubsub::tracking::after_round(&mut self.srv);
            self.flush_pending();
            if self.srv.shutdown.is_some() {
                return self.shutdown();
            }
        }
    }

    fn drain_notices(&mut self) {
        while let Ok(n) = self.notices.try_recv() {
            match n {
                Notice::Shutdown => self.srv.shutdown = Some(ShutdownRequest::Graceful),
                Notice::Latency(event, ms) => crate::ops::latency_event(&mut self.srv, event, ms),
                Notice::AofSynced(seq) => {
                    if let Some(aof) = self.srv.aof.as_mut() {
                        aof.synced_seq = aof.synced_seq.max(seq);
                    }
                    self.release_held();
                }
                Notice::AofWriteError(e) => {
                    if let Some(aof) = self.srv.aof.as_mut() {
                        aof.write_error = Some(e);
                    }
                }
                Notice::AofWriteOk => {
                    if let Some(aof) = self.srv.aof.as_mut() {
                        aof.write_error = None;
                    }
                }
                Notice::AofDrained => crate::aof::drained(&mut self.srv),
                Notice::AofRewriteInstalled { ok } => {
                    crate::aof::rewrite_finished(&mut self.srv, ok)
                }
                Notice::BgsaveDone { ok } => {
                    crate::rdb::persist::bgsave_finished(&mut self.srv, ok)
                }
                Notice::Relay(done) => self.relay_done(done),
                Notice::Migrate(done) => crate::commands::migrate::finished(&mut self.srv, done),
                Notice::PeerState { member, up } => {
                    if let Some(u) = self.srv.cluster.as_mut().and_then(|t| t.up.get_mut(member)) {
                        *u = up;
                    }
                }
            }
        }
    }

    /// A relay result: fills its part of the client's operation; every
    /// finished operation at the head of the client's queue writes its reply
    /// (then the local replies that waited behind it), and a client parked
    /// for the relay resumes once what it waits for is answered.
    fn relay_done(&mut self, done: crate::cluster::relay::Done) {
        if done.waiter.client == crate::cluster::handover::WAITER {
            return crate::cluster::handover::done(&mut self.srv, done);
        }
        let Some(&token) = self.srv.client_ids.get(&done.waiter.client) else {
            return; // the client left
        };
        let Some(Some(c)) = self.srv.clients.get_mut(token) else {
            return;
        };
        let Some(slot) = c.relay.iter_mut().find(|s| s.op.seq == done.waiter.seq) else {
            return; // an abandoned operation
        };
        if let Some(part) = slot.op.parts.get_mut(done.waiter.part)
            && part.is_none()
        {
            *part = Some(done.result);
            slot.op.remaining -= 1;
        }
        if c.relay.front().is_some_and(|s| {
            s.op.remaining == 0 && matches!(s.op.combine, crate::cluster::route::Combine::Tx(_))
        }) {
            // The next phase of an atomic cross-node command.
            return crate::cluster::tx::resume(&mut self.srv, token);
        }
        if c.relay.front().is_some_and(|s| {
            s.op.remaining == 0 && matches!(s.op.combine, crate::cluster::route::Combine::Pull)
        }) {
            // Missing keys pulled from peers: the deferred command runs.
            return crate::cluster::handover::pulled(&mut self.srv, token);
        }
        let mut progressed = false;
        while c.relay.front().is_some_and(|s| s.op.remaining == 0) {
            if let Some(s) = c.relay.pop_front() {
                crate::cluster::route::finish(c, s.op);
                c.reply.buf.extend_from_slice(&s.after);
                progressed = true;
            }
        }
        if !progressed {
            return;
        }
        if crate::cluster::route::may_resume(c) {
            c.park = None;
            self.srv.unparked.push(token);
        }
        self.srv.wake_writer(token);
    }

    fn handle_signals(&mut self) {
        let Some(signals) = self.signals.as_mut() else {
            return;
        };
        for sig in signals.pending() {
            let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
            warn!("Received {name} scheduling shutdown...");
            self.srv.shutdown = Some(ShutdownRequest::Graceful);
        }
    }

    fn accept(&mut self, idx: usize) {
        loop {
            let Some(listener) = self.listeners.get(idx) else {
                return;
            };
            match listener.accept() {
                Ok((stream, addr)) => {
                    let tls = idx >= self.tls_from;
                    self.add_client(stream, addr, tls)
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!("Accepting client connection: {e}");
                    return;
                }
            }
        }
    }

    fn add_client(&mut self, stream: TcpStream, addr: SocketAddr, tls: bool) {
        add_client(&mut self.srv, self.poll.registry(), stream, addr, tls);
    }

    /// True when the next round has work without any new event: clients
    /// to read or write more, or to resume.
    fn more_work(&self) -> bool {
        !self.srv.read_ready.is_empty()
            || !self.srv.pending_writes.is_empty()
            || !self.srv.unparked.is_empty()
    }

    /// A readable event: reads the client once and runs what arrived.
    /// `hup`: the peer closed (or the socket failed); a short read does
    /// not mean the end was seen, so the client is read again until it is.
    fn handle_readable(&mut self, token: usize, hup: bool) {
        let Some(mut c) = self.srv.clients.get_mut(token).and_then(Option::take) else {
            return;
        };
        c.hup |= hup;
        if c.in_read_list {
            // Served from the backlog this round, like everyone else.
            c.unread = true;
            self.put_back(c, true);
            return;
        }
        self.read_client(c);
    }

    /// Reads once more from each client that had unread bytes.
    fn serve_read_backlog(&mut self, list: std::collections::VecDeque<usize>) {
        for token in list {
            let Some(mut c) = self.srv.clients.get_mut(token).and_then(Option::take) else {
                continue;
            };
            c.in_read_list = false;
            self.read_client(c);
        }
    }

    /// One read (unless the client is paused on its output), then its
    /// complete commands run.
    fn read_client(&mut self, mut c: Box<Client>) {
        if !may_read(&c) {
            // Resumed (and read) once it has read its replies.
            c.unread = true;
            self.put_back(c, true);
            return;
        }
        match read_once(&mut c, &mut self.srv) {
            ReadOutcome::Open => {
                c.unread |= c.hup;
                process_input(&mut self.srv, &mut c);
                self.settle(c);
            }
            ReadOutcome::PeerClosed => {
                c.eof = true;
                c.unread = false;
                if c.park.is_none() {
                    process_input(&mut self.srv, &mut c);
                }
                self.settle(c);
            }
            ReadOutcome::Closed => self.put_back(c, false),
        }
    }

    /// After a client's commands ran: queue it for another read if its
    /// socket may hold more, or close a half-closed one that is done.
    fn settle(&mut self, mut c: Box<Client>) {
        if c.eof {
            // The peer half-closed after sending: run what it sent and
            // answer it (Redis does; dropping it would lose acknowledged
            // work the client may still read), then close once the
            // replies are written. A client still waiting on a parked
            // command is closed at once, as Redis frees it; one paused on
            // its output goes on once it has read.
            if c.out_paused && c.park.is_none() {
                self.put_back(c, true);
                return;
            }
            let answered = c.park.is_none() && c.unsent() > 0;
            c.close_after_reply = true;
            self.put_back(c, answered);
            return;
        }
        if c.unread && !c.in_read_list && may_read(&c) {
            c.in_read_list = true;
            self.srv.read_ready.push_back(c.token);
        }
        self.put_back(c, true);
    }

    /// Returns a taken-out client to its slot, or closes it.
    fn put_back(&mut self, mut c: Box<Client>, open: bool) {
        if !open || c.close_asap {
            self.close_client(c);
            return;
        }
        let tls_out = c.tls.as_deref().is_some_and(super::tls::wants_write);
        if (!c.reply.is_empty() || tls_out) && !c.pending_write {
            c.pending_write = true;
            self.srv.pending_writes.push(c.token);
        }
        let token = c.token;
        if let Some(slot) = self.srv.clients.get_mut(token) {
            *slot = Some(c);
        }
    }

    fn close_client(&mut self, mut c: Box<Client>) {
        self.srv.on_client_gone(c.id);
        self.srv.client_ids.remove(&c.id);
        if !c.relay.is_empty()
            && let Some(pool) = self.srv.relay.as_ref()
        {
            pool.cancel(c.id);
        }
        crate::cluster::tx::drop_watches(&mut self.srv, c.id);
        crate::commands::transaction::reset_transaction(&mut self.srv, &mut c);
        crate::pubsub::forget_client(&mut self.srv, &mut c);
        if let Some(stream) = c.stream.as_mut() {
            let _ = self.poll.registry().deregister(stream);
        }
        if self.srv.clients.contains(c.token) {
            self.srv.clients.remove(c.token);
        }
        debug!("Client closed id={} addr={}", c.id, c.addr);
    }

    /// Resumes clients that were unparked: they may have queued commands.
    fn resume_unparked(&mut self) {
        while let Some(token) = self.srv.unparked.pop() {
            let Some(mut c) = self.srv.clients.get_mut(token).and_then(Option::take) else {
                continue;
            };
            if c.park.is_none() {
                process_input(&mut self.srv, &mut c);
            }
            self.settle(c);
        }
    }

    fn queue_flush(&mut self, token: usize) {
        self.srv.wake_writer(token);
    }

    /// Writes every pending reply; registers WRITABLE only where a socket
    /// would block.
    fn flush_pending(&mut self) {
        let pending = std::mem::take(&mut self.srv.pending_writes);
        // appendfsync always: nothing is answered before the writes it may
        // reflect are on disk (group commit: one fsync per round).
        let hold = match &self.srv.aof {
            Some(aof) if aof.policy == crate::config::AppendFsync::Always => {
                (aof.synced_seq < aof.sent_seq).then_some(aof.sent_seq)
            }
            _ => None,
        };
        for &token in &pending {
            let Some(mut c) = self.srv.clients.get_mut(token).and_then(Option::take) else {
                continue;
            };
            c.pending_write = false;
            if let Some(seq) = hold
                && !c.close_asap
            {
                c.hold_seq = seq;
                self.srv.held.push(token);
                let token = c.token;
                if let Some(slot) = self.srv.clients.get_mut(token) {
                    *slot = Some(c);
                }
                continue;
            }
            if c.close_asap {
                // Killed: Redis does not write to a client it is freeing.
                self.close_client(c);
                continue;
            }
            let open = self.write_client(&mut c);
            // Replies still expected from peers come before closing.
            let done = c.close_after_reply && c.unsent() == 0 && c.relay.is_empty();
            self.put_back(c, open && !done);
        }
        let mut pending = pending;
        pending.clear();
        if self.srv.pending_writes.is_empty() {
            self.srv.pending_writes = pending;
        }
    }

    /// Writes up to `WRITE_CHUNK` of the client's output. Returns false if
    /// the connection is gone. What the socket did not take is sealed (see
    /// `Client::sealed`); a client stopped by the cap rather than by the
    /// socket is written again next round.
    fn write_client(&mut self, c: &mut Client) -> bool {
        write_out(&mut self.srv, self.poll.registry(), c)
    }

    /// Periodic work, `hz` times a second.
    fn cron(&mut self) {
        let hz = self.srv.config.hz.clamp(1, 500);
        self.next_cron = Instant::now() + Duration::from_millis(1000 / hz);
        self.close_idle_clients();
        self.srv.pause_tick();
        crate::aof::reconcile_config(&mut self.srv);
        crate::aof::drained(&mut self.srv);
        crate::aof::maybe_auto_rewrite(&mut self.srv);
        crate::rdb::persist::cron(&mut self.srv);
        self.srv.store.set_now(crate::store::unix_ms());
        let expire_start = Instant::now();
        self.srv
            .store
            .active_expire_cycle(Duration::from_micros(25_000 / hz));
        let ms = expire_start.elapsed().as_millis() as u64;
        crate::ops::latency_event(&mut self.srv, "expire-cycle", ms);
        if self.srv.config.value("activerehashing").as_deref() == Some("yes") {
            self.srv.store.rehash_cycle(Duration::from_millis(1));
        }
        crate::pubsub::notify::after_cron(&mut self.srv);
        crate::cluster::tx::cron(&mut self.srv);
        crate::memory::cron(&mut self.srv);
        crate::ops::cron(&mut self.srv);
        self.srv.migrate.cache.prune();
        crate::store::prealloc::release_stale(Instant::now());
    }

    fn close_idle_clients(&mut self) {
        let timeout = self.srv.config.timeout;
        if timeout == 0 {
            return;
        }
        let now = Instant::now();
        let idle: Vec<usize> = self
            .srv
            .clients
            .iter()
            .filter_map(|(t, c)| c.as_ref().map(|c| (t, c)))
            .filter(|(_, c)| {
                c.park.is_none()
                    && !c.peer
                    && now.duration_since(c.last_interaction).as_secs() > timeout
            })
            .map(|(t, _)| t)
            .collect();
        for t in idle {
            if let Some(c) = self.srv.clients.get_mut(t).and_then(Option::take) {
                debug!("Closing idle client id={}", c.id);
                self.close_client(c);
            }
        }
    }

    /// Queues for writing the held replies whose AOF batch is now durable.
    fn release_held(&mut self) {
        let synced = self.srv.aof.as_ref().map_or(u64::MAX, |a| a.synced_seq);
        let held = std::mem::take(&mut self.srv.held);
        for token in held {
            let ready = match self.srv.clients.get_mut(token) {
                Some(Some(c)) => c.hold_seq <= synced,
                _ => continue,
            };
            if ready {
                self.srv.wake_writer(token);
            } else {
                self.srv.held.push(token);
            }
        }
    }

    /// Replays a slice of the AOF; at the end opens the AOF for appending.
    fn load_step(&mut self) -> io::Result<()> {
        let Some(mut loader) = self.srv.loading.take() else {
            return Ok(());
        };
        match loader.step(&mut self.srv, Duration::from_millis(20)) {
            Ok(false) => {
                self.srv.loading = Some(loader);
                Ok(())
            }
            Ok(true) => {
                // What was just loaded is what is on disk.
                self.srv.rdb.dirty_at_save = self.srv.store.dirty;
                if let Some(plan) = self.load_plan.take() {
                    crate::aof::open_after_load(&mut self.srv, plan).map_err(io::Error::other)?;
                }
                crate::cluster::handover::census(&mut self.srv);
                Ok(())
            }
            Err(e) => Err(io::Error::other(e)),
        }
    }

    fn shutdown(mut self) -> io::Result<()> {
        warn!("User requested shutdown...");
        crate::rdb::persist::abort_bgsave(&mut self.srv);
        if !self.srv.rdb.shutdown_save_done
            && !crate::rdb::persist::save_points(&self.srv.config).is_empty()
            && self.srv.loading.is_none()
        {
            info!("Saving the final RDB snapshot before exiting.");
            let _ = crate::rdb::persist::save_now(&mut self.srv);
        }
        if self.srv.aof.is_some() {
            info!("Calling fsync() on the AOF file.");
            crate::aof::stop(&mut self.srv);
            self.release_held();
        }
        self.flush_pending();
        for l in &mut self.listeners {
            let _ = self.poll.registry().deregister(l);
        }
        info!("memkv is now ready to exit, bye bye...");
        Ok(())
    }
}

/// A cloneable handle to stop a running reactor from another thread.
#[derive(Clone)]
pub struct ShutdownHandle {
    notifier: super::Notifier,
}

impl ShutdownHandle {
    pub fn shutdown(&self) {
        self.notifier.send(Notice::Shutdown);
    }
}

/// What a read of a client socket found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// Read (or nothing to read); the connection stays open.
    Open,
    /// End of file: the peer will send nothing more (what it sent before is
    /// in the query buffer), but may still read our replies.
    PeerClosed,
    /// A socket error or the query buffer limit: close now.
    Closed,
}

/// Writes as much of a client's output as the socket and the per-round
/// cap take (the reactor's flush, and a busy script's mini event loop).
/// Returns false if the connection is gone. What the socket did not take is
/// sealed (see `Client::sealed`); a client stopped by the cap rather than by
/// the socket is written again next round.
pub(crate) fn write_out(srv: &mut Server, registry: &mio::Registry, c: &mut Client) -> bool {
    let Some(stream) = c.stream.as_mut() else {
        return false;
    };
    srv.ops.writes += 1;
    let mut budget = WRITE_CHUNK;
    let mut blocked = false;
    while budget > 0 {
        // A TLS client may have encrypted records queued with no
        // plaintext left: an empty write flushes them.
        let tls_out = c.tls.as_deref().is_some_and(super::tls::wants_write);
        let (chunk, sealed) = match c.sealed.front() {
            Some(f) => (&f[c.sealed_off.min(f.len())..], true),
            None if c.sent < c.reply.buf.len() => (&c.reply.buf[c.sent..], false),
            None if tls_out => (&[][..], false),
            None => break,
        };
        let want = chunk.len().min(budget);
        let res = match c.tls.as_deref_mut() {
            Some(t) => super::tls::write(t, stream, &chunk[..want]),
            None => stream.write(&chunk[..want]),
        };
        match res {
            Ok(0) if want > 0 => return false,
            Ok(n) => {
                budget -= n;
                srv.stats.net_output_bytes += n as u64;
                if sealed {
                    c.sealed_bytes -= n;
                    c.sealed_off += n;
                    if c.sealed.front().is_some_and(|f| c.sealed_off >= f.len()) {
                        c.sealed.pop_front();
                        c.sealed_off = 0;
                    }
                } else {
                    c.sent += n;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                blocked = true;
                break;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    let tls_out = c.tls.as_deref().is_some_and(super::tls::wants_write);
    if c.unsent() == 0 && !tls_out {
        c.sent = 0;
        c.reply.buf.clear();
        if c.reply.buf.capacity() > REPLY_KEEP {
            c.reply.buf = Vec::new();
        }
        if c.writable_registered
            && let Some(stream) = c.stream.as_mut()
        {
            c.writable_registered = false;
            let _ = registry.reregister(stream, Token(c.token), Interest::READABLE);
        }
    } else {
        seal(c);
        if blocked {
            if !c.writable_registered {
                c.writable_registered = true;
                if let Some(stream) = c.stream.as_mut() {
                    let _ = registry.reregister(
                        stream,
                        Token(c.token),
                        Interest::READABLE | Interest::WRITABLE,
                    );
                }
            }
        } else if !c.pending_write {
            c.pending_write = true;
            srv.pending_writes.push(c.token);
        }
    }
    if c.out_paused && c.unsent() <= output_pause(c) / 2 {
        // It read enough: its waiting commands run next round.
        c.out_paused = false;
        srv.unparked.push(c.token);
    }
    true
}

/// Registers an accepted connection as a client (the reactor's accept, and
/// a busy script's mini event loop); `tls` for `tls-port`'s listeners.
pub(crate) fn add_client(
    srv: &mut Server,
    registry: &mio::Registry,
    mut stream: TcpStream,
    addr: SocketAddr,
    tls: bool,
) {
    srv.stats.connections_received += 1;
    // Refusals are plain text: a TLS client just sees the close.
    if srv.clients.len() >= srv.config.maxclients {
        srv.stats.rejected_connections += 1;
        if !tls {
            let _ = stream.write_all(b"-ERR max number of clients reached\r\n");
        }
        return;
    }
    let nopass = srv.acl.default_user().nopass();
    if protected_mode_denies(&srv.config, nopass, &addr) {
        srv.stats.rejected_connections += 1;
        if !tls {
            let _ = stream.write_all(DENIED_PROTECTED_MODE.as_bytes());
        }
        return;
    }
    let session = match (tls, srv.tls.as_ref()) {
        (false, _) => None,
        (true, Some(cfg)) => match super::tls::accept(cfg) {
            Some(s) => Some(s),
            None => return,
        },
        (true, None) => return,
    };
    let _ = stream.set_nodelay(true);
    set_keepalive(&stream, srv.config.tcp_keepalive);
    let entry = srv.clients.vacant_entry();
    let token = entry.key();
    if token >= LISTENER_BASE - 1 {
        return;
    }
    if let Err(e) = registry.register(&mut stream, Token(token), Interest::READABLE) {
        warn!("register client: {e}");
        return;
    }
    let id = srv.next_client_id;
    srv.next_client_id += 1;
    // Redis's createClient: the default user, authenticated when it needs
    // no password and is enabled.
    let d = srv.acl.default_user();
    let authenticated = d.nopass() && d.enabled();
    let mut client = Client::new(id, token, stream, addr, authenticated);
    client.tls = session;
    entry.insert(Some(Box::new(client)));
    srv.client_ids.insert(id, token);
    srv.max_clients_seen = srv.max_clients_seen.max(srv.clients.len());
    debug!("Accepted {addr}");
}

/// Reads once: up to `READ_CHUNK`, or the rest of a big bulk argument.
/// Sets `c.unread` when the read filled what it asked for (the socket may
/// hold more, and edge-triggered polling will not say so again).
pub(crate) fn read_once(c: &mut Client, srv: &mut Server) -> ReadOutcome {
    let limit = srv.config.client_query_buffer_limit as usize;
    let Some(stream) = c.stream.as_ref() else {
        return ReadOutcome::Closed;
    };
    srv.ops.reads += 1;
    let want = c
        .parse_state
        .big_bulk_missing(&c.query, BIG_ARG)
        .filter(|&n| n > READ_CHUNK)
        .map_or(READ_CHUNK, |n| n.min(BIG_READ_MAX));
    loop {
        // (bytes, whether the socket may hold more)
        let got = match c.tls.as_deref_mut() {
            Some(t) => {
                let mut s = stream;
                super::tls::read_round(t, &mut s, &mut c.query, want)
            }
            None => read_spare(stream, &mut c.query, want).map(|n| (n, n == want)),
        };
        match got {
            Ok((0, _)) => return ReadOutcome::PeerClosed,
            Ok((n, more)) => {
                srv.stats.net_input_bytes += n as u64;
                c.last_interaction = Instant::now();
                c.unread = more;
                // Queued MULTI commands count too (as in Redis 7.2+).
                let queued = c.multi.as_ref().map_or(0, |m| m.bytes);
                if c.query.len() + queued > limit {
                    warn!(
                        "Closing client that reached max query buffer length: id={} addr={} qbuf={} multi-mem={}",
                        c.id,
                        c.addr,
                        c.query.len(),
                        queued
                    );
                    return ReadOutcome::Closed;
                }
                return ReadOutcome::Open;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                c.unread = false;
                return ReadOutcome::Open;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return ReadOutcome::Closed,
        }
    }
}

/// Unsent output over which the client's commands stop running.
fn output_pause(c: &Client) -> usize {
    if c.authenticated {
        OUTPUT_PAUSE
    } else {
        OUTPUT_PAUSE_NOAUTH
    }
}

/// False while the client is paused on its output and its query buffer
/// already holds enough: TCP then slows the sender down.
fn may_read(c: &Client) -> bool {
    let cap = if c.authenticated {
        QUERY_PAUSE
    } else {
        QUERY_PAUSE_NOAUTH
    };
    !(c.out_paused && c.query.len() >= cap)
}

/// Moves the unsent part of `c.reply` behind the sealed chunks: a small
/// rest is copied (into the last chunk while it is small), a big one is
/// moved whole, so nothing big is ever copied or shifted.
pub(crate) fn seal(c: &mut Client) {
    let unsent = c.reply.buf.len().saturating_sub(c.sent);
    if unsent == 0 {
        c.reply.buf.clear();
        c.sent = 0;
        return;
    }
    if unsent <= SEAL_COPY {
        let rest = &c.reply.buf[c.sent..];
        match c.sealed.back_mut() {
            Some(Chunk::Own(b)) if b.len() + unsent <= SEAL_CHUNK => b.extend_from_slice(rest),
            _ => {
                if c.sealed.is_empty() {
                    c.sealed_off = 0;
                }
                let mut chunk = Vec::with_capacity(SEAL_CHUNK.min(unsent.max(4096)));
                chunk.extend_from_slice(rest);
                c.sealed.push_back(Chunk::Own(chunk));
            }
        }
        c.reply.buf.clear();
        if c.reply.buf.capacity() > REPLY_KEEP {
            c.reply.buf = Vec::new();
        }
    } else {
        let b = std::mem::take(&mut c.reply.buf);
        if c.sealed.is_empty() {
            c.sealed_off = c.sent;
        }
        c.sealed.push_back(Chunk::Own(b));
    }
    c.sealed_bytes += unsent;
    c.sent = 0;
}

/// Reads up to `want` bytes from the socket straight into the spare
/// capacity of `buf` (growing it first), appending what arrived. Unlike
/// `resize` + `read`, nothing is zero-filled: zeroing 16 KiB per read was
/// ~2,000 instructions per command at -P 16, a large share of a cheap one.
fn read_spare(stream: &TcpStream, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    buf.reserve(want);
    let spare = buf.spare_capacity_mut();
    let want = spare.len().min(want);
    // SAFETY: the pointer and length describe `want` bytes of `buf`'s
    // allocated, unused capacity, which read(2) may write; the fd is a valid
    // socket owned by `stream` for the duration of the call.
    let n = unsafe { libc::read(stream.as_raw_fd(), spare.as_mut_ptr().cast(), want) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    // SAFETY: read(2) initialized the first `n` (<= `want`) spare bytes.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Executes every complete command in the client's query buffer, in order,
/// until it is parked, asked to close, or the buffer holds no full command.
pub(crate) fn process_input(srv: &mut Server, c: &mut Client) {
    // The commands of this read chain their clock readings.
    let _batch = crate::ops::Batch::start();
    let query = std::mem::take(&mut c.query);
    let mut ranges = std::mem::take(&mut c.arg_ranges);
    let mut scratch = std::mem::take(&mut c.scratch);
    let mut pos = 0;
    let max_bulk_len = srv.config.proto_max_bulk_len as usize;
    while c.park.is_none() && !c.close_after_reply && !c.close_asap && pos < query.len() {
        if c.unsent() > output_pause(c) {
            // The client is not reading its replies: stop until it does.
            c.out_paused = true;
            break;
        }
        let limits = Limits {
            max_bulk_len,
            authenticated: c.authenticated,
            ..Limits::default()
        };
        let start = pos;
        match parse_command_resume(
            &query[start..],
            &limits,
            &mut ranges,
            &mut scratch,
            &mut c.parse_state,
        ) {
            Ok(None) => break,
            Ok(Some(frame)) => {
                pos += frame.consumed;
                if ranges.is_empty() {
                    continue;
                }
                let args = if frame.inline {
                    Args::new(&scratch, &ranges)
                } else {
                    Args::multibulk(&query[start..], &ranges)
                };
                let mark = c.reply.len();
                commands::execute(srv, c, &args);
                if c.deferred {
                    // Waits (parked) for the cluster operations in flight;
                    // it runs when they are answered.
                    c.deferred = false;
                    pos = start;
                    break;
                }
                if !c.relay.is_empty() {
                    crate::cluster::route::hold_behind(c, mark);
                }
                crate::pubsub::after_command(srv, c);
                srv.handle_ready_keys();
            }
            Err(e) => {
                debug!(
                    "Protocol error ({e}) from client id={} addr={}",
                    c.id, c.addr
                );
                // Redis's exact bytes (a raw byte >= 0x80 in "got 'x'").
                let mark = c.reply.len();
                c.reply.buf.extend_from_slice(b"-ERR ");
                e.write_message(&mut c.reply.buf);
                crate::ops::note_error("ERR Protocol error");
                c.reply.buf.extend_from_slice(b"\r\n");
                if !c.relay.is_empty() {
                    crate::cluster::route::hold_behind(c, mark);
                }
                c.close_after_reply = true;
                pos = query.len();
            }
        }
    }
    let mut query = query;
    if pos >= query.len() {
        query.clear();
        if query.capacity() > QUERY_KEEP {
            query = Vec::new();
        }
    } else if pos > 0 {
        query.drain(..pos);
    }
    c.query = query;
    c.arg_ranges = ranges;
    c.scratch = scratch;
}

fn is_loopback(addr: &SocketAddr) -> bool {
    match addr {
        SocketAddr::V4(a) => a.ip().is_loopback(),
        SocketAddr::V6(a) => {
            a.ip().is_loopback() || a.ip().to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Redis's protected mode: with no password, only loopback clients may
/// talk to a server bound to a non-loopback address.
fn protected_mode_denies(config: &Config, default_nopass: bool, peer: &SocketAddr) -> bool {
    config.protected_mode && default_nopass && !is_loopback(peer)
}

fn set_keepalive(stream: &TcpStream, secs: u64) {
    use std::os::fd::AsRawFd;
    if secs == 0 {
        return;
    }
    let fd = stream.as_raw_fd();
    let on: libc::c_int = 1;
    let idle = secs.min(i32::MAX as u64) as libc::c_int;
    let intvl = (idle / 3).max(1);
    let cnt: libc::c_int = 3;
    let set = |level, name, val: &libc::c_int| {
        // SAFETY: fd is a valid socket owned by `stream`; the option value
        // is a c_int living for the duration of the call.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                val as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, &on);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, &idle);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, &intvl);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, &cnt);
}

/// Redis 7's reply to a non-loopback client in protected mode.
pub const DENIED_PROTECTED_MODE: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_mode_refuses_remote_clients_only_without_a_default_password() {
        let remote: SocketAddr = "192.0.2.7:5000".parse().expect("addr");
        let local: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().expect("addr");
        let mut c = Config::default();
        assert!(protected_mode_denies(&c, true, &remote));
        assert!(!protected_mode_denies(&c, true, &local));
        assert!(!protected_mode_denies(&c, true, &mapped));
        // A password for the default user (requirepass or ACL) opens it.
        assert!(!protected_mode_denies(&c, false, &remote));
        c.protected_mode = false;
        assert!(!protected_mode_denies(&c, true, &remote));
        assert!(DENIED_PROTECTED_MODE.starts_with("-DENIED Redis is running in protected mode"));
    }
}
