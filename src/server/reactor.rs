//! The reactor: one thread, one mio `Poll`, owning all data.
//!
//! Each poll round: accept connections, read every readable client until
//! `WouldBlock`, execute every complete command in its buffer in order
//! (unless the client is parked), then flush all replies at the end of the
//! round - registering WRITABLE interest only for sockets that would block.
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

use super::{Client, Server, ShutdownRequest, Stats};
use crate::commands::{self, Args};
use crate::config::Config;
use crate::resp::{Limits, parse_command_resume};
use crate::store::Store;

const WAKER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);
const LISTENER_BASE: usize = usize::MAX - 64;

/// How much to read per `read(2)`.
const READ_CHUNK: usize = 16 * 1024;
/// Query buffers larger than this are released when drained.
const QUERY_KEEP: usize = 64 * 1024;
/// Reply buffers larger than this are released when flushed.
const REPLY_KEEP: usize = 64 * 1024;

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
    /// A rewrite ended: its base installed (ok) or abandoned.
    AofRewriteInstalled { ok: bool },
    /// A cluster relay job finished (for the client with that id).
    Relay(crate::cluster::relay::Done),
    /// A cluster member became reachable or unreachable.
    PeerState { member: usize, up: bool },
}

/// The event loop and the state it owns.
pub struct Reactor {
    poll: Poll,
    listeners: Vec<TcpListener>,
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
    let mut listeners = bind_all(&config)?;
    let mut port = config.port;
    for (i, l) in listeners.iter_mut().enumerate() {
        port = l.local_addr()?.port();
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
        scripting: crate::scripting::Engine::new()
            .map_err(|e| log::error!("Lua interpreter: {e}"))
            .ok()
            .map(Box::new),
        pending_writes: Vec::new(),
        unparked: Vec::new(),
        pause: None,
        paused: Vec::new(),
        held: Vec::new(),
        pubsub: Default::default(),
        config,
    };
    let mut srv = srv;
    if let Some(t) = srv.cluster.as_ref().filter(|t| t.members.len() > 1) {
        let addrs: Vec<String> = t.members.iter().map(|m| m.addr.clone()).collect();
        srv.relay = Some(crate::cluster::relay::RelayPool::start(
            &addrs,
            t.me,
            t.fingerprint,
            &srv.config.requirepass,
            srv.config.cluster_node_timeout,
            srv.notifier.clone(),
        ));
    }
    crate::pubsub::config_changed(&mut srv);
    Ok(Reactor {
        poll,
        listeners,
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
fn bind_all(config: &Config) -> io::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    let mut bound_port = config.port;
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
        }
        info!("Ready to accept connections tcp");
        let mut events = Events::with_capacity(1024);
        loop {
            let wake_at = match self.srv.blocked.next_deadline() {
                Some(d) => d.min(self.next_cron),
                None => self.next_cron,
            };
            let mut timeout = wake_at.saturating_duration_since(Instant::now());
            if self.srv.loading.is_some() || crate::aof::busy(&self.srv) {
                timeout = Duration::ZERO;
            }
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for ev in events.iter() {
                match ev.token() {
                    WAKER => self.drain_notices(),
                    SIGNALS => self.handle_signals(),
                    Token(t) if t >= LISTENER_BASE => self.accept(t - LISTENER_BASE),
                    Token(t) => {
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.handle_readable(t);
                        }
                        if ev.is_writable() {
                            self.queue_flush(t);
                        }
                    }
                }
            }
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
            if let Some(relay) = self.srv.relay.as_mut() {
                relay.flush();
            }
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
                Notice::AofRewriteInstalled { ok } => {
                    crate::aof::rewrite_finished(&mut self.srv, ok)
                }
                Notice::Relay(done) => self.relay_done(done),
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
                Ok((stream, addr)) => self.add_client(stream, addr),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!("Accepting client connection: {e}");
                    return;
                }
            }
        }
    }

    fn add_client(&mut self, mut stream: TcpStream, addr: SocketAddr) {
        let srv = &mut self.srv;
        srv.stats.connections_received += 1;
        if srv.clients.len() >= srv.config.maxclients {
            srv.stats.rejected_connections += 1;
            let _ = stream.write_all(b"-ERR max number of clients reached\r\n");
            return;
        }
        let nopass = srv.acl.default_user().nopass();
        if protected_mode_denies(&srv.config, nopass, &addr) {
            srv.stats.rejected_connections += 1;
            let _ = stream.write_all(DENIED_PROTECTED_MODE.as_bytes());
            return;
        }
        let _ = stream.set_nodelay(true);
        set_keepalive(&stream, srv.config.tcp_keepalive);
        let entry = srv.clients.vacant_entry();
        let token = entry.key();
        if token >= LISTENER_BASE - 1 {
            return;
        }
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(token), Interest::READABLE)
        {
            warn!("register client: {e}");
            return;
        }
        let id = srv.next_client_id;
        srv.next_client_id += 1;
        // Redis's createClient: the default user, authenticated when it
        // needs no password and is enabled.
        let d = srv.acl.default_user();
        let authenticated = d.nopass() && d.enabled();
        let client = Client::new(id, token, stream, addr, authenticated);
        entry.insert(Some(Box::new(client)));
        srv.client_ids.insert(id, token);
        srv.max_clients_seen = srv.max_clients_seen.max(srv.clients.len());
        debug!("Accepted {addr}");
    }

    /// Reads what the socket has and runs the complete commands.
    fn handle_readable(&mut self, token: usize) {
        let Some(mut c) = self.srv.clients.get_mut(token).and_then(Option::take) else {
            return;
        };
        match read_into(&mut c, &mut self.srv) {
            ReadOutcome::Open => {
                process_input(&mut self.srv, &mut c);
                self.put_back(c, true);
            }
            ReadOutcome::PeerClosed => {
                // The peer half-closed after sending: run what it sent and
                // answer it (Redis does; dropping it would lose acknowledged
                // work the client may still read), then close once the
                // replies are written. A client still waiting on a parked
                // command is closed at once, as Redis frees it.
                if c.park.is_none() {
                    process_input(&mut self.srv, &mut c);
                }
                let answered = c.park.is_none() && !c.reply.is_empty();
                c.close_after_reply = true;
                self.put_back(c, answered);
            }
            ReadOutcome::Closed => self.put_back(c, false),
        }
    }

    /// Returns a taken-out client to its slot, or closes it.
    fn put_back(&mut self, mut c: Box<Client>, open: bool) {
        if !open || c.close_asap {
            self.close_client(c);
            return;
        }
        if !c.reply.is_empty() && !c.pending_write {
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
            self.put_back(c, true);
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
            let done = c.close_after_reply && c.sent >= c.reply.len() && c.relay.is_empty();
            self.put_back(c, open && !done);
        }
        let mut pending = pending;
        pending.clear();
        if self.srv.pending_writes.is_empty() {
            self.srv.pending_writes = pending;
        }
    }

    /// Writes as much of the reply buffer as the socket takes. Returns false
    /// if the connection is gone.
    fn write_client(&mut self, c: &mut Client) -> bool {
        let Some(stream) = c.stream.as_mut() else {
            return false;
        };
        while c.sent < c.reply.len() {
            match stream.write(&c.reply.buf[c.sent..]) {
                Ok(0) => return false,
                Ok(n) => {
                    c.sent += n;
                    self.srv.stats.net_output_bytes += n as u64;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // A slow reader (a subscriber) never drains its buffer
                    // completely: drop the sent prefix once it is at least
                    // half, so memory is bounded by the unsent bytes
                    // (which the output buffer limits bound).
                    if c.sent >= REPLY_KEEP && c.sent * 2 >= c.reply.len() {
                        c.reply.buf.drain(..c.sent);
                        c.sent = 0;
                    }
                    if !c.writable_registered {
                        c.writable_registered = true;
                        let _ = self.poll.registry().reregister(
                            stream,
                            Token(c.token),
                            Interest::READABLE | Interest::WRITABLE,
                        );
                    }
                    return true;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        c.sent = 0;
        c.reply.buf.clear();
        if c.reply.buf.capacity() > REPLY_KEEP {
            c.reply.buf = Vec::new();
        }
        if c.writable_registered {
            c.writable_registered = false;
            let _ = self
                .poll
                .registry()
                .reregister(stream, Token(c.token), Interest::READABLE);
        }
        true
    }

    /// Periodic work, `hz` times a second.
    fn cron(&mut self) {
        let hz = self.srv.config.hz.clamp(1, 500);
        self.next_cron = Instant::now() + Duration::from_millis(1000 / hz);
        self.close_idle_clients();
        self.srv.pause_tick();
        crate::aof::reconcile_config(&mut self.srv);
        crate::aof::maybe_auto_rewrite(&mut self.srv);
        self.srv.store.set_now(crate::store::unix_ms());
        self.srv
            .store
            .active_expire_cycle(Duration::from_micros(25_000 / hz));
        crate::pubsub::notify::after_cron(&mut self.srv);
        crate::cluster::tx::cron(&mut self.srv);
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
                if let Some(plan) = self.load_plan.take() {
                    crate::aof::open_after_load(&mut self.srv, plan).map_err(io::Error::other)?;
                }
                Ok(())
            }
            Err(e) => Err(io::Error::other(e)),
        }
    }

    fn shutdown(mut self) -> io::Result<()> {
        warn!("User requested shutdown...");
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
enum ReadOutcome {
    /// Read until WouldBlock; the connection stays open.
    Open,
    /// End of file: the peer will send nothing more (what it sent before is
    /// in the query buffer), but may still read our replies.
    PeerClosed,
    /// A socket error or the query buffer limit: close now.
    Closed,
}

/// Reads until WouldBlock or end of file.
fn read_into(c: &mut Client, srv: &mut Server) -> ReadOutcome {
    let limit = srv.config.client_query_buffer_limit as usize;
    let Some(stream) = c.stream.as_mut() else {
        return ReadOutcome::Closed;
    };
    loop {
        let len = c.query.len();
        if len > limit {
            warn!(
                "Closing client that reached max query buffer length: id={} addr={} qbuf={}",
                c.id, c.addr, len
            );
            return ReadOutcome::Closed;
        }
        match read_spare(stream, &mut c.query) {
            Ok(0) => return ReadOutcome::PeerClosed,
            Ok(n) => {
                srv.stats.net_input_bytes += n as u64;
                c.last_interaction = Instant::now();
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return ReadOutcome::Open,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return ReadOutcome::Closed,
        }
    }
}

/// Reads up to `READ_CHUNK` bytes from the socket straight into the spare
/// capacity of `buf` (growing it first), appending what arrived. Unlike
/// `resize` + `read`, nothing is zero-filled: zeroing 16 KiB per read was
/// ~2,000 instructions per command at -P 16, a large share of a cheap one.
fn read_spare(stream: &TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    buf.reserve(READ_CHUNK);
    let spare = buf.spare_capacity_mut();
    let want = spare.len().min(READ_CHUNK);
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
    let query = std::mem::take(&mut c.query);
    let mut ranges = std::mem::take(&mut c.arg_ranges);
    let mut scratch = std::mem::take(&mut c.scratch);
    let mut pos = 0;
    let max_bulk_len = srv.config.proto_max_bulk_len as usize;
    while c.park.is_none() && !c.close_after_reply && !c.close_asap && pos < query.len() {
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
                    Args::new(&query[start..], &ranges)
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
