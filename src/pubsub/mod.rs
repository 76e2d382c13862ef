//! Pub/Sub: the channel, pattern and shard-channel registry, message
//! delivery into other clients' reply buffers, and the output buffer limits
//! that keep a slow subscriber from costing unbounded memory
//! ([`limits`]). The commands live in `commands/pubsub.rs`; this module is
//! the one door through which anything (PUBLISH, keyspace notifications,
//! tracking invalidations, a future cluster relay) reaches subscribers.
//!
//! Subscribers are recorded by (client id, slab token): tokens are reused,
//! so a delivery checks the id. The running client is not in `srv.clients`
//! while its command runs; every delivery takes it as `me` and writes to it
//! directly when it is a target.

pub mod limits;
pub mod notify;
pub mod tracking;

use std::collections::HashMap;

use indexmap::{IndexMap, IndexSet};

use crate::resp::Reply;
use crate::server::{Client, Server};

/// Subscribers of one channel or pattern: client id -> slab token, in
/// subscription order (Redis appends to a list).
type Subscribers = IndexMap<u64, usize>;

/// Which of the three subscription spaces a command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }
    fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// Forwards a PUBLISH to the other cluster nodes (installed by the cluster
/// relay, `cluster::pubsub::forward`; `None` outside cluster mode). Called
/// once per PUBLISH/SPUBLISH run here by a handler (inside MULTI/EXEC or a
/// script; a plain PUBLISH is gathered by `cluster::pubsub::route`
/// instead), never for a relayed one.
pub type RelayHook = fn(&mut Server, shard: bool, channel: &[u8], message: &[u8]);

/// The server-wide registry.
#[derive(Default)]
pub struct PubSub {
    channels: HashMap<Vec<u8>, Subscribers>,
    shard_channels: HashMap<Vec<u8>, Subscribers>,
    patterns: IndexMap<Vec<u8>, Subscribers>,
    /// Output buffer limits, parsed from the config (refreshed on CONFIG SET).
    pub limits: limits::Limits,
    /// The cluster fan-out of PUBLISH (see [`RelayHook`]).
    pub relay: Option<RelayHook>,
    /// Keyspace notification settings and held events.
    pub notify: notify::Notify,
    /// Client-side caching: the tracking table and BCAST prefixes.
    pub tracking: tracking::Tracking,
    /// Tokens to flush after a delivery (reused).
    woken: Vec<usize>,
}

/// Per-client subscriptions and limit state (the client's `pubsub` field).
#[derive(Debug, Default)]
pub struct ClientSubs {
    pub channels: IndexSet<Vec<u8>>,
    pub patterns: IndexSet<Vec<u8>>,
    pub shard: IndexSet<Vec<u8>>,
    /// Redis's CLIENT_PUBSUB flag: set by any subscribe, cleared when the
    /// channel + pattern count drops to zero (as Redis 7.0 does, even with
    /// shard subscriptions left).
    pub flag: bool,
    /// CLIENT TRACKING state, None while tracking is off.
    pub tracking: Option<tracking::ClientTracking>,
    /// When the soft output limit was first exceeded (cleared below it).
    pub soft_since: Option<std::time::Instant>,
}

impl ClientSubs {
    /// Channels + patterns (the count SUBSCRIBE/PSUBSCRIBE replies carry).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    fn count_of(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            _ => self.count(),
        }
    }

    fn set_of(&mut self, kind: Kind) -> &mut IndexSet<Vec<u8>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }
}

/// True when RESP2 subscribed-mode rules apply to this client.
pub fn resp2_subscribed(c: &Client) -> bool {
    c.pubsub.flag && !c.reply.resp3
}

impl PubSub {
    fn map_of(&mut self, kind: Kind) -> &mut HashMap<Vec<u8>, Subscribers> {
        match kind {
            Kind::Shard => &mut self.shard_channels,
            _ => &mut self.channels,
        }
    }

    /// Channels with at least one subscriber matching `pattern` (all without).
    pub fn channel_names(&self, shard: bool, pattern: Option<&[u8]>) -> Vec<&[u8]> {
        let map = if shard {
            &self.shard_channels
        } else {
            &self.channels
        };
        map.keys()
            .map(Vec::as_slice)
            .filter(|ch| pattern.is_none_or(|p| crate::glob::glob_match(p, ch, false)))
            .collect()
    }

    /// Number of subscribers of one channel.
    pub fn numsub(&self, shard: bool, channel: &[u8]) -> usize {
        let map = if shard {
            &self.shard_channels
        } else {
            &self.channels
        };
        map.get(channel).map_or(0, IndexMap::len)
    }

    /// INFO stats: channels, patterns, shard channels with subscribers.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.channels.len(),
            self.patterns.len(),
            self.shard_channels.len(),
        )
    }

    /// Number of distinct patterns subscribed to.
    pub fn numpat(&self) -> usize {
        self.patterns.len()
    }

    /// The distinct patterns subscribed to (a cluster's NUMPAT merges them).
    pub fn pattern_names(&self) -> impl Iterator<Item = &[u8]> {
        self.patterns.keys().map(Vec::as_slice)
    }
}

/// Writes a subscribe/unsubscribe confirmation (`[word, name|null, count]`).
fn confirm(r: &mut Reply, word: &[u8], name: Option<&[u8]>, count: usize) {
    r.push(3);
    r.bulk(word);
    match name {
        Some(n) => r.bulk(n),
        None => r.null(),
    }
    r.int(count as i64);
}

/// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE one name for `c`, with its reply.
pub fn subscribe(srv: &mut Server, c: &mut Client, kind: Kind, name: &[u8]) {
    if c.pubsub.set_of(kind).insert(name.to_vec()) {
        let subs = match kind {
            Kind::Pattern => srv.pubsub.patterns.entry(name.to_vec()).or_default(),
            _ => srv.pubsub.map_of(kind).entry(name.to_vec()).or_default(),
        };
        subs.insert(c.id, c.token);
    }
    c.pubsub.flag = true;
    let count = c.pubsub.count_of(kind);
    confirm(&mut c.reply, kind.subscribe_word(), Some(name), count);
}

/// Removes one subscription; with `reply` writes its confirmation. Returns
/// whether the client was subscribed.
pub fn unsubscribe(srv: &mut Server, c: &mut Client, kind: Kind, name: &[u8], reply: bool) -> bool {
    let had = c.pubsub.set_of(kind).shift_remove(name);
    if had {
        let map_entry = match kind {
            Kind::Pattern => {
                let gone = srv.pubsub.patterns.get_mut(name).is_some_and(|s| {
                    s.shift_remove(&c.id);
                    s.is_empty()
                });
                if gone {
                    srv.pubsub.patterns.shift_remove(name);
                }
                None
            }
            _ => Some(srv.pubsub.map_of(kind)),
        };
        if let Some(map) = map_entry
            && map.get_mut(name).is_some_and(|s| {
                s.shift_remove(&c.id);
                s.is_empty()
            })
        {
            map.remove(name);
        }
    }
    if reply {
        let count = c.pubsub.count_of(kind);
        confirm(&mut c.reply, kind.unsubscribe_word(), Some(name), count);
    }
    had
}

/// Removes every subscription of one kind (UNSUBSCRIBE without arguments,
/// RESET, disconnection). With `reply`: one confirmation per name, or one
/// with a null name when there was none.
pub fn unsubscribe_all(srv: &mut Server, c: &mut Client, kind: Kind, reply: bool) {
    let names: Vec<Vec<u8>> = c.pubsub.set_of(kind).iter().cloned().collect();
    for name in &names {
        unsubscribe(srv, c, kind, name, reply);
    }
    if reply && names.is_empty() {
        let count = c.pubsub.count_of(kind);
        confirm(&mut c.reply, kind.unsubscribe_word(), None, count);
    }
}

/// After an (S|P)UNSUBSCRIBE: Redis 7.0 clears the Pub/Sub flag when
/// channels + patterns reach zero (SUNSUBSCRIBE looks at shards too).
pub fn update_flag(c: &mut Client, kind: Kind) {
    let total = match kind {
        Kind::Shard => c.pubsub.count() + c.pubsub.shard.len(),
        _ => c.pubsub.count(),
    };
    if total == 0 {
        c.pubsub.flag = false;
    }
}

/// A client's subscriptions before a transaction that may be rolled back
/// (SUBSCRIBE and friends run inside MULTI, as in Redis).
pub struct Snapshot {
    channels: IndexSet<Vec<u8>>,
    patterns: IndexSet<Vec<u8>>,
    shard: IndexSet<Vec<u8>>,
    flag: bool,
}

/// Whether `spec` changes the running client's subscriptions.
pub fn changes_subscriptions(spec: &crate::commands::CommandSpec) -> bool {
    spec.has(crate::commands::flags::PUBSUB) && spec.name.contains("subscribe")
}

pub fn snapshot(c: &Client) -> Snapshot {
    Snapshot {
        channels: c.pubsub.channels.clone(),
        patterns: c.pubsub.patterns.clone(),
        shard: c.pubsub.shard.clone(),
        flag: c.pubsub.flag,
    }
}

/// A rolled-back transaction: the client is told EXECABORT, so its
/// subscriptions go back to what they were (and RESP2 subscribed mode
/// with them).
pub fn restore(srv: &mut Server, c: &mut Client, snap: Snapshot) {
    for (kind, before) in [
        (Kind::Channel, &snap.channels),
        (Kind::Pattern, &snap.patterns),
        (Kind::Shard, &snap.shard),
    ] {
        let now: Vec<Vec<u8>> = c.pubsub.set_of(kind).iter().cloned().collect();
        for name in now.iter().filter(|n| !before.contains(*n)) {
            unsubscribe(srv, c, kind, name, false);
        }
        for name in before
            .iter()
            .filter(|n| !c.pubsub.set_of(kind).contains(*n))
        {
            let subs = match kind {
                Kind::Pattern => srv.pubsub.patterns.entry(name.clone()).or_default(),
                _ => srv.pubsub.map_of(kind).entry(name.clone()).or_default(),
            };
            subs.insert(c.id, c.token);
        }
        *c.pubsub.set_of(kind) = before.clone();
    }
    c.pubsub.flag = snap.flag;
}

/// Drops every subscription without replies (RESET, disconnection).
pub fn forget_client(srv: &mut Server, c: &mut Client) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        unsubscribe_all(srv, c, kind, false);
    }
    c.pubsub.flag = false;
    c.pubsub.soft_since = None;
    tracking::disable(srv, c);
}

/// Payloads from this size on are shared between the subscribers' output
/// queues instead of copied into each (a 1 MB PUBLISH costs one copy).
const SHARE_MIN: usize = 16 * 1024;

/// Big payload buffers whose last subscriber has written them out, kept for
/// the next big message (fresh memory costs a page fault per 4 KiB): one,
/// of at most `SPARE_MAX` bytes.
const SPARE_MAX: usize = 4 << 20;

thread_local! {
    static SPARE: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// A shared payload's buffer; given back to `SPARE` when the last
/// subscriber's chunk is dropped.
struct Recycled(Vec<u8>);

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.0);
        if v.capacity() <= SPARE_MAX {
            let _ = SPARE.try_with(|s| *s.borrow_mut() = Some(v));
        }
    }
}

/// One shared copy of a big payload, in a recycled buffer when one fits.
fn shared_copy(payload: &[u8]) -> bytes::Bytes {
    let spare = SPARE
        .try_with(|s| {
            let mut s = s.borrow_mut();
            if s.as_ref().is_some_and(|v| v.capacity() >= payload.len()) {
                s.take()
            } else {
                None
            }
        })
        .ok()
        .flatten();
    let mut v = spare.unwrap_or_default();
    v.clear();
    v.extend_from_slice(payload);
    bytes::Bytes::from_owner(Recycled(v))
}

/// A message encoded once for all its receivers: the header up to the
/// payload's bulk length (RESP2 and RESP3 differ only in its first byte,
/// `*` array vs `>` push), the payload, and a shared copy of a big payload
/// made on the first delivery that can use it.
struct Encoded<'a> {
    head: Vec<u8>,
    payload: &'a [u8],
    shared: Option<bytes::Bytes>,
}

impl<'a> Encoded<'a> {
    fn new(parts: &[&[u8]], payload: &'a [u8]) -> Encoded<'a> {
        let mut r = Reply {
            buf: Vec::with_capacity(parts.iter().map(|p| p.len() + 16).sum::<usize>() + 32),
            resp3: false,
        };
        r.push(parts.len() + 1);
        for p in parts {
            r.bulk(p);
        }
        r.buf.push(b'$');
        r.buf
            .extend_from_slice(payload.len().to_string().as_bytes());
        r.buf.extend_from_slice(b"\r\n");
        Encoded {
            head: r.buf,
            payload,
            shared: None,
        }
    }

    /// Appends the message to `c`'s output; `running`: `c` is the client
    /// whose command is running (its reply buffer is written in place).
    fn write_to(&mut self, c: &mut Client, running: bool) {
        if c.reply.resp3 {
            c.reply.raw(b">");
            c.reply.raw(&self.head[1..]);
        } else {
            c.reply.raw(&self.head);
        }
        if self.payload.len() >= SHARE_MIN && !running {
            let shared = self.shared.get_or_insert_with(|| shared_copy(self.payload));
            c.push_shared(shared);
        } else {
            c.reply.raw(self.payload);
        }
        c.reply.raw(b"\r\n");
    }
}

/// Where a delivery writes: the other clients, the limits, the flush list
/// (disjoint borrows of the server, so subscriber lists are not copied).
struct Sink<'a> {
    clients: &'a mut slab::Slab<Option<Box<Client>>>,
    limits: limits::Limits,
    woken: &'a mut Vec<usize>,
    now: std::time::Instant,
}

impl Sink<'_> {
    /// Appends `msg` to one subscriber (the running client `me` or one in
    /// the slab) unless it is being closed; checks its output limits.
    /// Returns whether it was delivered.
    fn deliver(
        &mut self,
        me: &mut Option<&mut Client>,
        id: u64,
        token: usize,
        msg: &mut Encoded,
    ) -> bool {
        let mut running = false;
        let c = if let Some(me) = me.as_deref_mut().filter(|m| m.id == id) {
            running = true;
            me
        } else {
            match self.clients.get_mut(token) {
                Some(Some(c)) if c.id == id => {
                    if !c.pending_write {
                        self.woken.push(token);
                    }
                    c
                }
                _ => return false,
            }
        };
        if c.close_asap {
            return false;
        }
        msg.write_to(c, running);
        limits::check(&self.limits, c, self.now);
        true
    }
}

fn flush_woken(srv: &mut Server) {
    let woken = std::mem::take(&mut srv.pubsub.woken);
    for &t in &woken {
        srv.wake_writer(t);
    }
    let mut woken = woken;
    woken.clear();
    srv.pubsub.woken = woken;
}

/// Delivers a message published on `channel` to channel subscribers and
/// (unless `shard`) matching pattern subscribers, on this node only.
/// Returns the number of receivers (PUBLISH's reply).
pub fn publish_local(
    srv: &mut Server,
    mut me: Option<&mut Client>,
    shard: bool,
    channel: &[u8],
    message: &[u8],
) -> usize {
    let Server {
        pubsub, clients, ..
    } = srv;
    let PubSub {
        channels,
        shard_channels,
        patterns,
        limits,
        woken,
        ..
    } = pubsub;
    let mut sink = Sink {
        clients,
        limits: *limits,
        woken,
        now: std::time::Instant::now(),
    };
    let mut receivers = 0;
    // A big payload's shared copy, made once for all its messages.
    let mut shared = None;
    let map = if shard { shard_channels } else { channels };
    if let Some(subs) = map.get(channel)
        && !subs.is_empty()
    {
        let word: &[u8] = if shard { b"smessage" } else { b"message" };
        let mut msg = Encoded::new(&[word, channel], message);
        for (&id, &token) in subs {
            receivers += sink.deliver(&mut me, id, token, &mut msg) as usize;
        }
        shared = msg.shared;
    }
    if !shard {
        for (pattern, subs) in patterns.iter() {
            if !crate::glob::glob_match(pattern, channel, false) {
                continue;
            }
            let mut msg = Encoded::new(&[b"pmessage", pattern, channel], message);
            msg.shared = shared.take();
            for (&id, &token) in subs {
                receivers += sink.deliver(&mut me, id, token, &mut msg) as usize;
            }
            shared = msg.shared;
        }
    }
    if !srv.pubsub.woken.is_empty() {
        flush_woken(srv);
    }
    receivers
}

/// PUBLISH / SPUBLISH from a client: local delivery plus the cluster hook.
pub fn publish(
    srv: &mut Server,
    me: &mut Client,
    shard: bool,
    channel: &[u8],
    msg: &[u8],
) -> usize {
    // A PUBLISH relayed by a peer is never forwarded again.
    let forward = !me.peer;
    if me.in_exec && srv.store.journaling() {
        // In a transaction or script `multi-rollback` may still undo: the
        // message waits with the other effects (`notify::Step`) and is
        // dropped by a rollback; the reply counts who would receive it.
        let n = receivers(srv, me, shard, channel);
        let p = notify::Published {
            shard,
            forward,
            channel: channel.to_vec(),
            message: msg.to_vec(),
        };
        srv.pubsub.notify.published.push(p);
        return n;
    }
    deliver_published(srv, Some(me), shard, forward, channel, msg)
}

/// Local delivery plus the cluster hook (`forward`: not a peer's PUBLISH).
pub(crate) fn deliver_published(
    srv: &mut Server,
    me: Option<&mut Client>,
    shard: bool,
    forward: bool,
    channel: &[u8],
    msg: &[u8],
) -> usize {
    let n = publish_local(srv, me, shard, channel, msg);
    if forward && let Some(relay) = srv.pubsub.relay {
        relay(srv, shard, channel, msg);
    }
    n
}

/// How many clients a message on `channel` reaches now (PUBLISH's reply):
/// channel subscribers plus matching pattern subscribers, as delivered.
fn receivers(srv: &Server, me: &Client, shard: bool, channel: &[u8]) -> usize {
    let live = |(&id, &token): (&u64, &usize)| {
        if id == me.id {
            return !me.close_asap;
        }
        matches!(srv.clients.get(token), Some(Some(c)) if c.id == id && !c.close_asap)
    };
    let map = if shard {
        &srv.pubsub.shard_channels
    } else {
        &srv.pubsub.channels
    };
    let mut n = map
        .get(channel)
        .map_or(0, |s| s.iter().filter(|e| live(*e)).count());
    if !shard {
        for (pattern, subs) in &srv.pubsub.patterns {
            if crate::glob::glob_match(pattern, channel, false) {
                n += subs.iter().filter(|e| live(*e)).count();
            }
        }
    }
    n
}

/// Re-reads the settings this module caches (at start and after CONFIG SET).
pub fn config_changed(srv: &mut Server) {
    srv.pubsub.limits = limits::Limits::from_config(&srv.config);
    srv.pubsub.tracking.max_keys = srv
        .config
        .value("tracking-table-max-keys")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    notify::config_changed(srv);
}

/// After each command of the running client: its own output limits (a
/// client that pipelines huge replies and never reads).
#[inline]
pub fn after_command(srv: &Server, c: &mut Client) {
    tracking::after_command_reset(c);
    if !c.close_asap {
        limits::check_after_command(&srv.pubsub.limits, c);
    }
}

/// Commands a RESP2 client in subscribed mode may run.
const SUBSCRIBED_MODE_ALLOWED: &[&str] = &[
    "ping",
    "subscribe",
    "ssubscribe",
    "unsubscribe",
    "sunsubscribe",
    "psubscribe",
    "punsubscribe",
    "quit",
    "reset",
];

/// Redis's subscribed-mode rule (RESP2 only): the error for any other
/// command, `None` when it may run.
pub fn subscribed_mode_error(c: &Client, spec: &crate::commands::CommandSpec) -> Option<String> {
    if !resp2_subscribed(c) || SUBSCRIBED_MODE_ALLOWED.contains(&spec.name) {
        return None;
    }
    Some(format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        spec.name
    ))
}
