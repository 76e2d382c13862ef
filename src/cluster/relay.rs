//! The relay pool: blocking connections to the other members, owned by a few
//! threads per peer, so the reactor never does network I/O to peers.
//!
//! The reactor queues [`Job`]s (already RESP-encoded `MEMKV.RELAY` requests)
//! on a bounded per-peer queue. A pipeline thread takes whatever is queued,
//! writes it as one pipeline, reads as many replies as the jobs expect and
//! posts each job's raw reply bytes back as a [`Notice::Relay`]; the reactor
//! appends them to the waiting client. Blocking commands (BLPOP...) get a
//! connection of their own and are re-issued in slices no longer than the
//! node timeout, so a hung peer is noticed and they never hold up others.
//!
//! Failure: connect, write and read time out after `cluster-node-timeout`;
//! the jobs in flight fail with `CLUSTERDOWN ... <node> ...`, the peer is
//! marked down and, while it is, new jobs fail at once (no queue grows). A
//! prober thread per peer reconnects with backoff and marks it up again.
//!
//! With `tls-cluster yes` every one of these connections is TLS (the
//! members' addresses are their `tls-port`s): [`connect`] does the TLS
//! handshake (`server::tls::connect_peer`) before the `MEMKV.HELLO` one, and
//! [`Stream`] hides which kind a connection is from the rest.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use log::{error, info, warn};

use crate::resp::response::{ReplyLimits, reply_len};
use crate::server::{Notice, Notifier};

/// Pipeline threads per peer.
const THREADS_PER_PEER: usize = 2;
/// Index of the extra pipeline thread per peer that carries only the
/// two-phase commit's LOCK / COMMIT / ABORT (see `tx`): those are answered
/// at once by the peer, so they never wait behind a relayed command that
/// is parked on a locked key.
const CONTROL: usize = THREADS_PER_PEER;
/// Index of the pipeline thread per peer that carries the membership
/// hand-over's TAKE / GIVE (see `handover`), in order on one connection.
/// Its failures do not mark the peer down: its first step runs at start-up,
/// when the peers may not be started yet.
const HANDOVER: usize = CONTROL + 1;
/// Jobs waiting per pipeline thread before new ones are refused.
const QUEUE_CAP: usize = 4096;
/// Jobs written as one pipeline at most.
const BATCH_MAX: usize = 512;
/// Concurrent blocking relays per peer.
const BLOCKING_MAX: usize = 128;
/// Reconnect backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Who waits for a job's result: a client id and the operation sequence
/// number it parked for (a late answer for an abandoned op is dropped).
#[derive(Debug, Clone, Copy)]
pub struct Waiter {
    pub client: u64,
    pub seq: u64,
    /// Which part of the operation this job is (gathers have several).
    pub part: usize,
}

/// One request to a peer.
#[derive(Debug)]
pub struct Job {
    pub waiter: Waiter,
    /// RESP-encoded commands, written as they are.
    pub payload: Vec<u8>,
    /// How many replies the payload produces.
    pub replies: usize,
}

/// A finished job: the raw bytes of its replies, or the error to answer.
#[derive(Debug)]
pub struct Done {
    pub waiter: Waiter,
    pub result: Result<Vec<u8>, String>,
}

/// A blocking command for a peer: `argv` is the client's command, the
/// timeout argument at `timeout_at` (seconds, Redis syntax).
#[derive(Debug)]
pub struct BlockingJob {
    pub waiter: Waiter,
    pub db: usize,
    pub proto: u8,
    pub argv: Vec<Vec<u8>>,
    pub timeout_at: usize,
}

/// Shared state of one peer.
struct Peer {
    member: usize,
    addr: String,
    /// One queue per pipeline thread; a client's jobs always use the same
    /// one, so they reach the peer in order on one connection.
    queues: Vec<Queue>,
    down: AtomicBool,
    blocking: AtomicUsize,
}

/// A pipeline thread's queue: jobs arrive in batches (one per poll round),
/// and `queued` bounds how many wait.
struct Queue {
    tx: Sender<Vec<Job>>,
    queued: AtomicUsize,
}

/// What every connection needs to introduce itself.
#[derive(Clone)]
struct Hello {
    fingerprint: u64,
    me: String,
    password: String,
    timeout: Duration,
    /// `tls-cluster yes`: the TLS client configuration, shared by every
    /// thread and replaced by CONFIG SET tls-* (new connections use it).
    tls: Arc<RwLock<Option<Arc<rustls::ClientConfig>>>>,
}

/// The relay pool (one per server in cluster mode).
pub struct RelayPool {
    peers: Vec<Option<Arc<Peer>>>,
    hello: Hello,
    notifier: Notifier,
    /// Jobs submitted this poll round, by member and queue; handed to the
    /// threads in one batch each by [`RelayPool::flush`] (one wake-up per
    /// thread per round, not per command).
    outbox: Vec<Vec<Vec<Job>>>,
    /// Cancel flags of blocking relays, by client id.
    cancels: Arc<Mutex<HashMap<u64, Arc<AtomicBool>>>>,
}

/// The error a client gets when a node cannot answer.
pub fn down_error(addr: &str, why: &str) -> String {
    format!("CLUSTERDOWN node {addr} is not reachable ({why})")
}

impl RelayPool {
    /// Starts the threads for every member but `me`.
    pub fn start(
        members: &[String],
        me: usize,
        fingerprint: u64,
        password: &str,
        timeout_ms: u64,
        tls: Option<Arc<rustls::ClientConfig>>,
        notifier: Notifier,
    ) -> RelayPool {
        let hello = Hello {
            fingerprint,
            me: members.get(me).cloned().unwrap_or_default(),
            password: password.to_string(),
            timeout: Duration::from_millis(timeout_ms.max(1)),
            tls: Arc::new(RwLock::new(tls)),
        };
        let mut peers = Vec::with_capacity(members.len());
        for (i, addr) in members.iter().enumerate() {
            if i == me {
                peers.push(None);
                continue;
            }
            let (txs, rxs): (Vec<_>, Vec<_>) = (0..=HANDOVER)
                .map(|_| {
                    let (tx, rx) = channel();
                    (
                        Queue {
                            tx,
                            queued: AtomicUsize::new(0),
                        },
                        rx,
                    )
                })
                .unzip();
            let peer = Arc::new(Peer {
                member: i,
                addr: addr.clone(),
                queues: txs,
                down: AtomicBool::new(false),
                blocking: AtomicUsize::new(0),
            });
            for (t, rx) in rxs.into_iter().enumerate() {
                let (peer, hello, n) = (peer.clone(), hello.clone(), notifier.clone());
                let _ = std::thread::Builder::new()
                    .name(format!("relay-{i}-{t}"))
                    .spawn(move || pipeline_thread(peer, t, rx, hello, n));
            }
            let (p, h, n) = (peer.clone(), hello.clone(), notifier.clone());
            let _ = std::thread::Builder::new()
                .name(format!("relay-probe-{i}"))
                .spawn(move || prober_thread(p, h, n));
            peers.push(Some(peer));
        }
        let outbox = peers
            .iter()
            .map(|p| {
                let n = if p.is_some() { HANDOVER + 1 } else { 0 };
                (0..n).map(|_| Vec::new()).collect()
            })
            .collect();
        RelayPool {
            outbox,
            peers,
            hello,
            notifier,
            cancels: Default::default(),
        }
    }

    /// New TLS settings for the links opened from now on (CONFIG SET
    /// tls-*: rotated certificates); open links keep theirs.
    pub fn set_tls(&self, tls: Option<Arc<rustls::ClientConfig>>) {
        if let Ok(mut t) = self.hello.tls.write() {
            *t = tls;
        }
    }

    fn peer(&self, member: usize) -> Result<&Arc<Peer>, String> {
        self.peers
            .get(member)
            .and_then(Option::as_ref)
            .ok_or_else(|| "ERR memkv cluster: no such peer".to_string())
    }

    /// Queues a job; fails at once when the peer is known to be down or its
    /// queue is full (the caller answers the error, nothing waits).
    pub fn submit(&mut self, member: usize, job: Job) -> Result<(), String> {
        let qi = job.waiter.client as usize % THREADS_PER_PEER;
        self.submit_to(member, qi, job)
    }

    /// Queues a message nobody waits for on the connection client `id`'s
    /// relayed commands use, so it stays ordered behind them (MEMKV.UNWATCH
    /// must not overtake the client's next MEMKV.WATCH).
    pub fn submit_for_client(&mut self, member: usize, id: u64, job: Job) -> Result<(), String> {
        self.submit_to(member, id as usize % THREADS_PER_PEER, job)
    }

    /// Queues a two-phase-commit message on the peer's control connection.
    pub fn submit_control(&mut self, member: usize, job: Job) -> Result<(), String> {
        self.submit_to(member, CONTROL, job)
    }

    /// Queues a hand-over message on the peer's hand-over connection.
    pub fn submit_handover(&mut self, member: usize, job: Job) -> Result<(), String> {
        self.submit_to(member, HANDOVER, job)
    }

    /// Posts `Done { waiter, Ok(empty) }` after `delay` (a retry backoff).
    pub fn after(&self, delay: Duration, waiter: Waiter) {
        let n = self.notifier.clone();
        let spawned = std::thread::Builder::new()
            .name("relay-backoff".into())
            .spawn(move || {
                std::thread::sleep(delay);
                n.send(Notice::Relay(Done {
                    waiter,
                    result: Ok(Vec::new()),
                }));
            });
        if spawned.is_err() {
            self.notifier.send(Notice::Relay(Done {
                waiter,
                result: Ok(Vec::new()),
            }));
        }
    }

    fn submit_to(&mut self, member: usize, qi: usize, job: Job) -> Result<(), String> {
        let peer = self.peer(member)?.clone();
        if peer.down.load(Ordering::Acquire) {
            return Err(down_error(
                &peer.addr,
                "marked down, retrying in the background",
            ));
        }
        let waiting = peer.queues[qi].queued.load(Ordering::Acquire);
        let Some(out) = self.outbox.get_mut(member).and_then(|o| o.get_mut(qi)) else {
            return Err("ERR memkv cluster: no such peer".to_string());
        };
        if waiting + out.len() >= QUEUE_CAP {
            return Err(down_error(&peer.addr, "relay queue full"));
        }
        out.push(job);
        Ok(())
    }

    /// Hands this round's jobs to the pipeline threads (end of each poll
    /// round, like the reply flush).
    pub fn flush(&mut self) {
        for (member, queues) in self.outbox.iter_mut().enumerate() {
            let Some(Some(peer)) = self.peers.get(member) else {
                continue;
            };
            for (qi, out) in queues.iter_mut().enumerate() {
                if out.is_empty() {
                    continue;
                }
                let jobs = std::mem::take(out);
                let q = &peer.queues[qi];
                q.queued.fetch_add(jobs.len(), Ordering::AcqRel);
                if let Err(e) = q.tx.send(jobs) {
                    let why = down_error(&peer.addr, "relay stopped");
                    let done =
                        e.0.into_iter()
                            .map(|j| Done {
                                waiter: j.waiter,
                                result: Err(why.clone()),
                            })
                            .collect();
                    self.notifier.send_all(done);
                }
            }
        }
    }

    /// Runs a blocking command on a connection of its own.
    pub fn submit_blocking(&self, member: usize, job: BlockingJob) -> Result<(), String> {
        let peer = self.peer(member)?.clone();
        if peer.down.load(Ordering::Acquire) {
            return Err(down_error(
                &peer.addr,
                "marked down, retrying in the background",
            ));
        }
        if peer.blocking.fetch_add(1, Ordering::AcqRel) >= BLOCKING_MAX {
            peer.blocking.fetch_sub(1, Ordering::AcqRel);
            return Err(down_error(&peer.addr, "too many blocked relays"));
        }
        let cancel = Arc::new(AtomicBool::new(false));
        if let Ok(mut m) = self.cancels.lock() {
            m.insert(job.waiter.client, cancel.clone());
        }
        let (hello, notifier, cancels) = (
            self.hello.clone(),
            self.notifier.clone(),
            self.cancels.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name(format!("relay-block-{member}"))
            .spawn(move || {
                let client = job.waiter.client;
                let waiter = job.waiter;
                let result = run_blocking(&peer, &hello, job, &cancel);
                peer.blocking.fetch_sub(1, Ordering::AcqRel);
                if let Ok(mut m) = cancels.lock()
                    && m.get(&client).is_some_and(|c| Arc::ptr_eq(c, &cancel))
                {
                    m.remove(&client);
                }
                if !cancel.load(Ordering::Acquire) {
                    notifier.send(Notice::Relay(Done { waiter, result }));
                }
            });
        spawned
            .map(|_| ())
            .map_err(|e| format!("ERR memkv cluster: cannot start relay thread: {e}"))
    }

    /// The client went away: stop its blocking relay, if any.
    pub fn cancel(&self, client: u64) {
        if let Ok(mut m) = self.cancels.lock()
            && let Some(c) = m.remove(&client)
        {
            c.store(true, Ordering::Release);
        }
    }
}

/// RESP encoding of one command.
pub fn encode_command<'a>(out: &mut Vec<u8>, argv: impl Iterator<Item = &'a [u8]> + Clone) {
    push_header(out, b'*', argv.clone().count());
    for a in argv {
        push_header(out, b'$', a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn push_header(out: &mut Vec<u8>, t: u8, n: usize) {
    out.push(t);
    push_decimal(out, n);
    out.extend_from_slice(b"\r\n");
}

/// Decimal digits without allocating (this runs per relayed argument).
fn push_decimal(out: &mut Vec<u8>, n: usize) {
    let (digits, start) = decimal(n);
    out.extend_from_slice(&digits[start..]);
}

/// `n` in decimal: the digits are `buf[start..]`.
fn decimal(mut n: usize) -> ([u8; 20], usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return (buf, i);
        }
    }
}

fn push_bulk(out: &mut Vec<u8>, a: &[u8]) {
    push_header(out, b'$', a.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b"\r\n");
}

/// `MEMKV.RELAY <db> <proto> argv...`: how a relayed command travels.
pub fn encode_relay<'a>(
    out: &mut Vec<u8>,
    db: usize,
    proto: u8,
    argv: impl Iterator<Item = &'a [u8]> + Clone,
) {
    let (n, bytes) = argv
        .clone()
        .fold((0, 0), |(n, b), a| (n + 1, b + a.len() + 16));
    out.reserve(bytes + 48);
    push_header(out, b'*', n + 3);
    push_bulk(out, b"MEMKV.RELAY");
    let (digits, start) = decimal(db);
    push_bulk(out, &digits[start..]);
    push_bulk(out, if proto == 3 { b"3" } else { b"2" });
    for a in argv {
        push_bulk(out, a);
    }
}

/// A socket to a peer: plain, or TLS with `tls-cluster yes`.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }

    /// Writes all of `data` and, over TLS, every record it made.
    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(data),
            Stream::Tls(s) => {
                s.write_all(data)?;
                s.flush()
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

/// A connection to a peer that has passed the handshake.
struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    /// Start of the unread part of `buf`.
    pos: usize,
}

/// Why a connection attempt or exchange failed.
enum Fail {
    /// The peer answered but refuses us (fingerprint mismatch): no retry.
    Refused(String),
    Io(String),
}

impl Fail {
    fn text(&self) -> &str {
        match self {
            Fail::Refused(s) | Fail::Io(s) => s,
        }
    }
}

fn io_fail(e: io::Error) -> Fail {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Fail::Io("timed out".into()),
        _ => Fail::Io(e.to_string()),
    }
}

fn resolve(addr: &str) -> Result<SocketAddr, Fail> {
    addr.to_socket_addrs()
        .map_err(io_fail)?
        .next()
        .ok_or_else(|| Fail::Io("address does not resolve".into()))
}

/// Connects and introduces ourselves: AUTH (if a password is set), then
/// `MEMKV.HELLO <fingerprint> <self>`, which the peer refuses when its
/// member set differs.
fn connect(addr: &str, hello: &Hello, read_timeout: Option<Duration>) -> Result<Conn, Fail> {
    let sa = resolve(addr)?;
    let stream = TcpStream::connect_timeout(&sa, hello.timeout).map_err(io_fail)?;
    let _ = stream.set_nodelay(true);
    stream
        .set_write_timeout(Some(hello.timeout))
        .map_err(io_fail)?;
    stream
        .set_read_timeout(Some(hello.timeout))
        .map_err(io_fail)?;
    let tls = hello.tls.read().ok().and_then(|t| t.clone());
    let stream = match tls {
        None => Stream::Plain(stream),
        Some(cfg) => Stream::Tls(Box::new(
            crate::server::tls::connect_peer(&cfg, addr, stream).map_err(io_fail)?,
        )),
    };
    let mut c = Conn {
        stream,
        buf: Vec::with_capacity(16 * 1024),
        pos: 0,
    };
    let mut req = Vec::new();
    let mut expect = 1;
    if !hello.password.is_empty() {
        encode_command(
            &mut req,
            [&b"AUTH"[..], hello.password.as_bytes()].into_iter(),
        );
        expect += 1;
    }
    let fp = hello.fingerprint.to_string();
    encode_command(
        &mut req,
        [&b"MEMKV.HELLO"[..], fp.as_bytes(), hello.me.as_bytes()].into_iter(),
    );
    c.stream.send(&req).map_err(io_fail)?;
    for _ in 0..expect {
        let r = c.read_replies(1)?;
        if r.first() == Some(&b'-') {
            let text = String::from_utf8_lossy(&r[1..]).trim_end().to_string();
            return Err(Fail::Refused(text));
        }
    }
    c.stream
        .tcp()
        .set_read_timeout(read_timeout)
        .map_err(io_fail)?;
    Ok(c)
}

impl Conn {
    /// Reads exactly `n` complete replies; returns their bytes.
    fn read_replies(&mut self, n: usize) -> Result<Vec<u8>, Fail> {
        let lim = ReplyLimits::default();
        let start = self.pos;
        let mut end = start;
        let mut got = 0;
        while got < n {
            match reply_len(&self.buf[end..], &lim) {
                Ok(Some(len)) => {
                    end += len;
                    got += 1;
                    continue;
                }
                Ok(None) => {}
                Err(e) => return Err(Fail::Io(e.to_string())),
            }
            self.fill()?;
        }
        let out = self.buf[start..end].to_vec();
        self.pos = end;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        Ok(out)
    }

    /// One read(2) into the buffer (compacting it first).
    fn fill(&mut self) -> Result<(), Fail> {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let len = self.buf.len();
        let want = (len / 2).clamp(16 * 1024, 4 * 1024 * 1024);
        self.buf.resize(len + want, 0);
        match self.stream.read(&mut self.buf[len..]) {
            Ok(0) => {
                self.buf.truncate(len);
                Err(Fail::Io("connection closed".into()))
            }
            Ok(k) => {
                self.buf.truncate(len + k);
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(len);
                if e.kind() == io::ErrorKind::Interrupted {
                    return Ok(());
                }
                Err(io_fail(e))
            }
        }
    }
}

fn mark(peer: &Peer, notifier: &Notifier, down: bool, why: &str) {
    if peer.down.swap(down, Ordering::AcqRel) != down {
        if down {
            warn!("Cluster node {} marked down: {why}", peer.addr);
        } else {
            info!("Cluster node {} is reachable again", peer.addr);
        }
        notifier.send(Notice::PeerState {
            member: peer.member,
            up: !down,
        });
    }
}

fn log_refusal(peer: &Peer, why: &str) {
    error!(
        "Cluster node {} refuses this node: {why} (its `self`/`peers` member set differs from ours; fix the configuration)",
        peer.addr
    );
}

fn pipeline_thread(
    peer: Arc<Peer>,
    qi: usize,
    rx: Receiver<Vec<Job>>,
    hello: Hello,
    notifier: Notifier,
) {
    let mut conn: Option<Conn> = None;
    let mut batch: Vec<Job> = Vec::new();
    // The hand-over's failures are its own business (it retries).
    let mark = |peer: &Peer, notifier: &Notifier, down: bool, why: &str| {
        if qi != HANDOVER {
            mark(peer, notifier, down, why);
        }
    };
    let mut payload: Vec<u8> = Vec::new();
    loop {
        match rx.recv() {
            Ok(jobs) => batch.extend(jobs),
            Err(_) => return,
        }
        while batch.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(jobs) => batch.extend(jobs),
                Err(_) => break,
            }
        }
        peer.queues[qi]
            .queued
            .fetch_sub(batch.len(), Ordering::AcqRel);
        let mut done: Vec<Done> = Vec::with_capacity(batch.len());
        if peer.down.load(Ordering::Acquire) {
            conn = None;
            let e = down_error(&peer.addr, "marked down, retrying in the background");
            for j in batch.drain(..) {
                done.push(Done {
                    waiter: j.waiter,
                    result: Err(e.clone()),
                });
            }
            notifier.send_all(done);
            continue;
        }
        payload.clear();
        for j in &batch {
            payload.extend_from_slice(&j.payload);
        }
        // A reused connection may have been closed by the peer while idle:
        // one retry on a fresh connection if nothing was answered yet.
        let mut attempt = 0;
        loop {
            let fresh = conn.is_none();
            if conn.is_none() {
                match connect(&peer.addr, &hello, Some(hello.timeout)) {
                    Ok(c) => conn = Some(c),
                    Err(f) => {
                        if let Fail::Refused(why) = &f {
                            log_refusal(&peer, why);
                        }
                        mark(&peer, &notifier, true, f.text());
                        let e = down_error(&peer.addr, f.text());
                        for j in batch.drain(..) {
                            done.push(Done {
                                waiter: j.waiter,
                                result: Err(e.clone()),
                            });
                        }
                        break;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { break };
            let mut answered = 0;
            let res = c.stream.send(&payload).map_err(io_fail).and_then(|_| {
                for j in &batch {
                    let r = c.read_replies(j.replies)?;
                    done.push(Done {
                        waiter: j.waiter,
                        result: Ok(r),
                    });
                    answered += 1;
                }
                Ok(())
            });
            match res {
                Ok(()) => {
                    batch.clear();
                    break;
                }
                Err(f) => {
                    conn = None;
                    if answered == 0
                        && !fresh
                        && attempt == 0
                        && !matches!(f, Fail::Io(ref s) if s == "timed out")
                    {
                        attempt += 1;
                        continue;
                    }
                    mark(&peer, &notifier, true, f.text());
                    let e = down_error(&peer.addr, f.text());
                    for j in batch.drain(answered..) {
                        done.push(Done {
                            waiter: j.waiter,
                            result: Err(e.clone()),
                        });
                    }
                    batch.clear();
                    break;
                }
            }
        }
        notifier.send_all(done);
    }
}

/// Reconnects a down peer with backoff; marks it up once a handshake works.
fn prober_thread(peer: Arc<Peer>, hello: Hello, notifier: Notifier) {
    let mut backoff = BACKOFF_MIN;
    loop {
        if Arc::strong_count(&peer) == 1 {
            return; // the pool is gone
        }
        if !peer.down.load(Ordering::Acquire) {
            backoff = BACKOFF_MIN;
            std::thread::sleep(BACKOFF_MIN);
            continue;
        }
        std::thread::sleep(backoff);
        match connect(&peer.addr, &hello, Some(hello.timeout)) {
            Ok(_) => mark(&peer, &notifier, false, ""),
            Err(f) => {
                if let Fail::Refused(why) = &f {
                    log_refusal(&peer, why);
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// Parses a Redis timeout (seconds, may be fractional).
fn parse_timeout(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    let v: f64 = s.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// True for a null reply of either protocol.
fn is_null(r: &[u8]) -> bool {
    matches!(r, b"*-1\r\n" | b"$-1\r\n" | b"_\r\n")
}

/// Runs a blocking command on its own connection in slices no longer than
/// the node timeout (so a hung peer is detected), until it is served, its
/// own timeout passes, or the client leaves.
fn run_blocking(
    peer: &Peer,
    hello: &Hello,
    job: BlockingJob,
    cancel: &AtomicBool,
) -> Result<Vec<u8>, String> {
    let slice = hello.timeout.max(Duration::from_millis(200)) / 2;
    let total = job.argv.get(job.timeout_at).and_then(|t| parse_timeout(t));
    let deadline = match total {
        Some(t) if t > 0.0 => Some(Instant::now() + Duration::from_secs_f64(t.min(1e9))),
        _ => None,
    };
    let mut conn = connect(&peer.addr, hello, Some(slice + hello.timeout))
        .map_err(|f| down_error(&peer.addr, f.text()))?;
    let mut argv = job.argv;
    loop {
        if cancel.load(Ordering::Acquire) {
            return Err("ERR client gone".into());
        }
        let last;
        if total.is_some() {
            // Re-issue with a bounded timeout; the peer's reply to the final
            // slice is the client's reply (null on timeout).
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let this = match left {
                Some(l) if l <= slice => {
                    last = true;
                    l.max(Duration::from_millis(1))
                }
                _ => {
                    last = false;
                    slice
                }
            };
            argv[job.timeout_at] = format!("{:.3}", this.as_secs_f64()).into_bytes();
        } else {
            // Not a valid timeout: the peer answers the error.
            last = true;
        }
        let mut req = Vec::new();
        encode_relay(
            &mut req,
            job.db,
            job.proto,
            argv.iter().map(|a| a.as_slice()),
        );
        let r = conn
            .stream
            .send(&req)
            .map_err(io_fail)
            .and_then(|_| conn.read_replies(1));
        match r {
            Ok(bytes) if last || !is_null(&bytes) => return Ok(bytes),
            Ok(_) => continue,
            Err(f) => return Err(down_error(&peer.addr, f.text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_encoding_wraps_argv_with_db_and_protocol() {
        for n in [0usize, 7, 10, 12345, usize::MAX] {
            let (d, i) = decimal(n);
            assert_eq!(&d[i..], n.to_string().as_bytes());
        }
        let mut out = Vec::new();
        encode_relay(&mut out, 3, 2, [&b"GET"[..], b"k"].into_iter());
        assert_eq!(
            out,
            b"*5\r\n$11\r\nMEMKV.RELAY\r\n$1\r\n3\r\n$1\r\n2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        );
    }

    #[test]
    fn timeouts_parse_like_redis_seconds() {
        assert_eq!(parse_timeout(b"0"), Some(0.0));
        assert_eq!(parse_timeout(b"1.5"), Some(1.5));
        assert_eq!(parse_timeout(b"-1"), None);
        assert_eq!(parse_timeout(b"abc"), None);
        assert!(is_null(b"*-1\r\n") && is_null(b"_\r\n") && !is_null(b"$0\r\n\r\n"));
    }
}
