//! Per-connection state: socket, query buffer, reply buffer, selected
//! database, authentication, names, and whether the client is parked.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Instant;

use mio::net::TcpStream;

use crate::commands::{CommandSpec, OwnedArgs};
use crate::resp::{ParseState, Reply};
use crate::store::Key;

/// Commands queued between MULTI and EXEC.
#[derive(Debug, Default)]
pub struct MultiState {
    pub queue: Vec<(&'static CommandSpec, OwnedArgs)>,
    /// A command was rejected while queuing: EXEC answers EXECABORT.
    pub aborted: bool,
    /// Memory of the queued arguments: counted with the query buffer
    /// against `client-query-buffer-limit` (Redis's `argv_len_sums`).
    pub bytes: usize,
    /// The same as Redis 7.0 counts it (CLIENT LIST `multi-mem`, Redis's
    /// `mstate.argv_len_sums`): argument bytes plus a pointer per argument.
    pub argv_len_sums: usize,
}

/// Why a client's command is waiting for an answer that is not ready yet.
/// While parked, its later pipelined commands stay queued, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Park {
    /// A blocking command (BLPOP...) waits for a key (see `blocking`).
    Blocked,
    /// Waiting for another part of the server (set by the feature that
    /// parked it; it also unparks it through the reactor).
    Waiting(&'static str),
}

/// One chunk of a client's sealed output: its own bytes, or a big Pub/Sub
/// payload shared by every subscriber it goes to (`push_shared`: one copy
/// in memory however many subscribers wait for it).
#[derive(Debug)]
pub(crate) enum Chunk {
    Own(Vec<u8>),
    Shared(bytes::Bytes),
}

impl std::ops::Deref for Chunk {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Chunk::Own(v) => v,
            Chunk::Shared(b) => b,
        }
    }
}

/// One connected client.
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    /// Slab key and mio token.
    pub token: usize,
    /// None for internal clients (the AOF loader).
    pub(crate) stream: Option<TcpStream>,
    /// The TLS session of a client accepted on `tls-port`: reads and
    /// writes go through it (`server::tls`).
    pub(crate) tls: Option<Box<rustls::ServerConnection>>,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: i32,
    /// Bytes read and not yet executed.
    pub(crate) query: Vec<u8>,
    pub(crate) arg_ranges: Vec<Range<usize>>,
    pub(crate) scratch: Vec<u8>,
    /// Parser progress on a command still arriving.
    pub(crate) parse_state: ParseState,
    /// Replies not yet written to the socket, and how much of them was.
    /// Commands append to `reply`; only when the socket takes less than
    /// is pending does the reactor move the unsent rest to `sealed`.
    pub reply: Reply,
    pub(crate) sent: usize,
    /// Output older than `reply`, written first: a slow reader's backlog as
    /// a queue of chunks, so draining it never moves bytes and appending
    /// never reallocates (and copies) a big buffer. `sent` is 0 whenever
    /// this is not empty.
    pub(crate) sealed: std::collections::VecDeque<Chunk>,
    /// Bytes of the front chunk already written.
    pub(crate) sealed_off: usize,
    /// Unsent bytes in `sealed`.
    pub(crate) sealed_bytes: usize,
    /// The socket may hold bytes not read yet (the last read filled its
    /// buffer, or reading was skipped): edge-triggered polling will not
    /// report them again, so the reactor comes back by itself.
    pub(crate) unread: bool,
    /// The poll reported the peer's end (or an error): a short read does
    /// not mean it was seen, so the client is read until it is.
    pub(crate) hup: bool,
    /// In the reactor's list of clients to read from next round.
    pub(crate) in_read_list: bool,
    /// Command execution stopped because the client's unsent output is over
    /// the limit; it resumes when the client has read enough of it.
    pub(crate) out_paused: bool,
    /// The peer half-closed; the connection closes once what it sent ran
    /// and was answered.
    pub(crate) eof: bool,
    /// Selected database.
    pub db: usize,
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub authenticated: bool,
    /// ACL user slot (`crate::acl`) and its name (CLIENT LIST `user=`).
    pub user: usize,
    pub user_name: String,
    pub created: Instant,
    pub last_interaction: Instant,
    /// Name of the last command run (CLIENT LIST `cmd=`).
    pub last_cmd: &'static str,
    /// Close once the pending replies are written (QUIT, protocol error).
    pub close_after_reply: bool,
    /// Close without writing anything more (CLIENT KILL).
    pub close_asap: bool,
    pub park: Option<Park>,
    /// Some between MULTI and EXEC/DISCARD.
    pub multi: Option<MultiState>,
    /// True while EXEC runs the queued commands (blocking commands must
    /// not block then).
    pub in_exec: bool,
    /// Keys this client WATCHes, by database.
    /// WATCHed (db, key)s: a set, so WATCH of n keys costs O(n).
    pub watched: crate::store::KeySet<(usize, Key)>,
    pub no_evict: bool,
    /// In MONITOR mode (Redis's CLIENT_MONITOR).
    pub monitor: bool,
    pub no_touch: bool,
    pub(crate) writable_registered: bool,
    pub(crate) pending_write: bool,
    /// With `appendfsync always`: the AOF batch that must be fsynced
    /// before this client's pending replies may be sent.
    pub(crate) hold_seq: u64,
    /// Pub/Sub subscriptions and output-limit state (owned by `pubsub`).
    pub pubsub: crate::pubsub::ClientSubs,
    /// A cluster peer's relay connection (after `MEMKV.HELLO`): may send
    /// `MEMKV.RELAY`, and its commands are never routed again.
    pub peer: bool,
    /// Cluster operations in flight, in command order; replies of later
    /// local commands wait behind them (`Slot::after`).
    pub relay: std::collections::VecDeque<crate::cluster::route::Slot>,
    /// Set by routing when a command must wait until the operations in
    /// flight are answered: the dispatcher leaves it in the query buffer.
    pub deferred: bool,
    /// The deferred command already pulled its missing keys from peers
    /// handing keys over (`cluster::handover`): it runs without asking again.
    pub handover_pulled: bool,
    /// Sequence number of the latest cluster operation (late answers to an
    /// abandoned one are recognised and dropped).
    pub relay_seq: u64,
    /// Bytes of the arguments of the command this client is in the middle
    /// of (Redis's `argv_len_sum`, CLIENT LIST `argv-mem`): the running
    /// CLIENT LIST / INFO itself, a blocked command, a MIGRATE in flight.
    /// 0 between commands.
    pub argv_mem: usize,
}

impl Client {
    pub(crate) fn new(
        id: u64,
        token: usize,
        stream: TcpStream,
        addr: SocketAddr,
        authenticated: bool,
    ) -> Client {
        let laddr = stream.local_addr().unwrap_or(addr);
        let fd = {
            use std::os::fd::AsRawFd;
            stream.as_raw_fd()
        };
        let mut c = Client::internal(id);
        c.token = token;
        c.stream = Some(stream);
        c.addr = addr;
        c.laddr = laddr;
        c.fd = fd;
        c.authenticated = authenticated;
        c
    }

    /// A client with no connection, for replaying commands (AOF loading);
    /// also the blank state every connection starts from.
    pub fn internal(id: u64) -> Client {
        let addr: SocketAddr = SocketAddr::from(([0, 0, 0, 0], 0));
        let now = Instant::now();
        Client {
            id,
            token: usize::MAX,
            stream: None,
            tls: None,
            addr,
            laddr: addr,
            fd: -1,
            query: Vec::new(),
            arg_ranges: Vec::new(),
            scratch: Vec::new(),
            parse_state: ParseState::default(),
            reply: Reply::new(),
            sent: 0,
            sealed: Default::default(),
            sealed_off: 0,
            sealed_bytes: 0,
            unread: false,
            hup: false,
            in_read_list: false,
            out_paused: false,
            eof: false,
            db: 0,
            name: Vec::new(),
            lib_name: Vec::new(),
            lib_ver: Vec::new(),
            authenticated: true,
            user: crate::acl::DEFAULT,
            user_name: String::from("default"),
            created: now,
            last_interaction: now,
            last_cmd: "NULL",
            close_after_reply: false,
            close_asap: false,
            park: None,
            multi: None,
            in_exec: false,
            watched: Default::default(),
            no_evict: false,
            monitor: false,
            no_touch: false,
            writable_registered: false,
            pending_write: false,
            hold_seq: 0,
            pubsub: Default::default(),
            peer: false,
            relay: Default::default(),
            deferred: false,
            handover_pulled: false,
            relay_seq: 0,
            argv_mem: 0,
        }
    }

    /// Appends `data` to the output, after everything queued, without
    /// copying it. Never for the running client: its reply buffer holds
    /// positions (marks) a command may still come back to.
    pub(crate) fn push_shared(&mut self, data: &bytes::Bytes) {
        super::reactor::seal(self);
        self.sealed_bytes += data.len();
        self.sealed.push_back(Chunk::Shared(data.clone()));
    }

    /// True inside MULTI (queuing) or while EXEC runs: blocking commands
    /// answer at once instead of blocking.
    pub fn in_transaction(&self) -> bool {
        self.multi.is_some() || self.in_exec
    }

    /// True for a client without a connection (the AOF loader).
    pub fn is_internal(&self) -> bool {
        self.stream.is_none()
    }

    /// RESP protocol version in use (2 or 3).
    pub fn protocol(&self) -> u8 {
        if self.reply.resp3 { 3 } else { 2 }
    }

    /// Bytes buffered in the query buffer.
    pub fn query_len(&self) -> usize {
        self.query.len()
    }

    /// Reply bytes not written to the socket yet.
    #[inline]
    pub fn unsent(&self) -> usize {
        self.sealed_bytes + self.reply.len().saturating_sub(self.sent)
    }

    /// CLIENT LIST `multi-mem`: Redis's multiStateMemOverhead.
    pub fn multi_mem(&self) -> usize {
        self.multi.as_ref().map_or(0, |m| m.argv_len_sums)
    }

    /// The CLIENT LIST / CLIENT INFO line for this client (without newline).
    pub fn info_line(&self, now: Instant) -> String {
        // Redis's catClientInfoString order.
        let mut flags = String::new();
        if self.monitor {
            flags.push('O');
        }
        if self.pubsub.flag {
            flags.push('P');
        }
        if self.multi.is_some() {
            flags.push('x');
        }
        if self.park.is_some() {
            flags.push('b');
        }
        if let Some(t) = &self.pubsub.tracking {
            flags.push('t');
            if t.broken_redirect {
                flags.push('R');
            }
            if t.bcast {
                flags.push('B');
            }
        }
        if self.close_after_reply || self.close_asap {
            flags.push('c');
        }
        if self.no_evict {
            flags.push('e');
        }
        if self.no_touch {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(&self.name),
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_interaction).as_secs(),
            flags,
            self.db,
            self.pubsub.channels.len(),
            self.pubsub.patterns.len(),
            self.pubsub.shard.len(),
            self.multi.as_ref().map_or(-1, |m| m.queue.len() as i64),
            self.query.len(),
            self.query.capacity() - self.query.len(),
            self.argv_mem,
            self.multi_mem(),
            self.query.capacity(),
            self.query.len(),
            self.reply.len() - self.sent.min(self.reply.len()),
            self.sealed.len(),
            self.sealed_bytes,
            crate::memory::client_memory(self),
            self.last_cmd,
            self.user_name,
            self.pubsub
                .tracking
                .as_ref()
                .map_or(-1, |t| t.redirect as i64),
            self.protocol(),
            String::from_utf8_lossy(&self.lib_name),
            String::from_utf8_lossy(&self.lib_ver),
        )
    }
}
