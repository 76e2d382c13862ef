//! Keyspace notifications (`notify-keyspace-events`).
//!
//! The store records what happened at its mutation choke point ([`Notes`]:
//! keys first written by this command and whether they existed, lazy and
//! active expiry, read misses), in order. After a command succeeds,
//! [`after_call`] turns those records into Redis's event stream: the
//! command's event name for each written key (Redis's names, by command and
//! key role), `new` for a key the command created, `del` for a container it
//! emptied, `expire` after a SET with an expiry, `expired`, `keymiss`.
//! Inside EXEC or a script every command's effects (events, and the keys
//! it changed or read for client-side caching) wait as a [`Step`] for the
//! end of the outermost command, then go out in order, the running
//! client's own events spliced into its reply where Redis 7.0 writes them;
//! a rolled-back transaction or script emits nothing. A failed command
//! emits nothing.

use crate::commands::{Args, CommandSpec};
use crate::server::{Client, Server};
use crate::store::{Key, KeyHashSet};

/// Redis's notification class flags.
pub const KEYSPACE: u32 = 1 << 0; // K
pub const KEYEVENT: u32 = 1 << 1; // E
pub const GENERIC: u32 = 1 << 2; // g
pub const STRING: u32 = 1 << 3; // $
pub const LIST: u32 = 1 << 4; // l
pub const SET: u32 = 1 << 5; // s
pub const HASH: u32 = 1 << 6; // h
pub const ZSET: u32 = 1 << 7; // z
pub const EXPIRED: u32 = 1 << 8; // x
pub const EVICTED: u32 = 1 << 9; // e
pub const STREAM: u32 = 1 << 10; // t
pub const KEY_MISS: u32 = 1 << 11; // m
pub const MODULE: u32 = 1 << 12; // d
pub const NEW: u32 = 1 << 13; // n
/// `A`: every class but `m` and `n`.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Parses a `notify-keyspace-events` value (already validated by the config).
pub fn parse_flags(s: &str) -> u32 {
    s.chars().fold(0, |acc, ch| {
        acc | match ch {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => 0,
        }
    })
}

/// One thing the store saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A key's first write in this command; whether it existed before.
    Write { db: usize, key: Key, existed: bool },
    /// Removed by lazy or active expiry.
    Expired { db: usize, key: Key },
    /// Removed by maxmemory eviction.
    Evicted { db: usize, key: Key },
    /// A read found no key.
    Miss { db: usize, key: Key },
    /// A database was flushed (FLUSHDB / FLUSHALL).
    Flush,
    /// A key added without a write's signals (`Store::add_unsignalled`):
    /// announced `new` only, no invalidation.
    Added { db: usize, key: Key },
}

/// The store's recorder (`Store::notes`). Off (and free) unless some
/// notification class is enabled.
#[derive(Debug, Default)]
pub struct Notes {
    /// Record anything at all.
    pub on: bool,
    /// Record read misses (`m`).
    pub misses: bool,
    pub list: Vec<Note>,
    /// Keys written by this command, once it wrote more than a few (a DEL
    /// of many keys stays linear).
    seen: KeyHashSet<(usize, Key)>,
}

/// Below this many notes the duplicate check is a scan.
const SCAN_MAX: usize = 16;

impl Notes {
    /// A write to `key` (the choke point); only the first per command counts.
    #[inline]
    pub fn write(&mut self, db: usize, key: &[u8], existed: bool) {
        let seen = if self.list.len() < SCAN_MAX {
            self.list
                .iter()
                .any(|n| matches!(n, Note::Write { db: d, key: k, .. } if *d == db && **k == *key))
        } else {
            if self.seen.is_empty() {
                for n in &self.list {
                    if let Note::Write { db, key, .. } = n {
                        self.seen.insert((*db, key.clone()));
                    }
                }
            }
            !self.seen.insert((db, Key::new(key)))
        };
        if !seen {
            self.list.push(Note::Write {
                db,
                key: Key::new(key),
                existed,
            });
        }
    }

    /// Forgets everything noted (after a command, or when discarded).
    pub fn clear(&mut self) {
        self.list.clear();
        self.seen.clear();
    }

    /// `key` expired: an `expired` event instead of the write the removal
    /// went through (the last thing noted: time is frozen within a command,
    /// so the key was not written earlier in it).
    pub fn expired(&mut self, db: usize, key: &[u8]) {
        if matches!(self.list.last(), Some(Note::Write { db: d, key: k, .. }) if *d == db && **k == *key)
        {
            self.list.pop();
            self.seen.remove(&(db, Key::new(key)));
        }
        let note = Note::Expired {
            db,
            key: Key::new(key),
        };
        // The removal's own write already announced it (see before_write).
        if self.list.last() != Some(&note) {
            self.list.push(note);
        }
    }

    /// `key` was evicted: an `evicted` event instead of the write its
    /// removal went through.
    pub fn evicted(&mut self, db: usize, key: &[u8]) {
        if matches!(self.list.last(), Some(Note::Write { db: d, key: k, .. }) if *d == db && **k == *key)
        {
            self.list.pop();
            self.seen.remove(&(db, Key::new(key)));
        }
        self.list.push(Note::Evicted {
            db,
            key: Key::new(key),
        });
    }

    #[inline]
    pub fn miss(&mut self, db: usize, key: &[u8]) {
        if self.misses {
            self.list.push(Note::Miss {
                db,
                key: Key::new(key),
            });
        }
    }
}

/// Channel name and message of one notification.
type Event = (Vec<u8>, Vec<u8>);

/// A PUBLISH held with its transaction (see `pubsub::publish`).
#[derive(Debug)]
pub(crate) struct Published {
    pub shard: bool,
    /// Relay it to the other cluster nodes (not a peer's PUBLISH).
    pub forward: bool,
    pub channel: Vec<u8>,
    pub message: Vec<u8>,
}

/// What one command run inside EXEC or a script did, held until the
/// outermost command ends (sent then, in order; dropped if it is rolled
/// back, as nothing changed).
#[derive(Debug, Default)]
pub(crate) struct Step {
    /// Where the command's reply starts in the running client's buffer:
    /// its own events go there (Redis writes them while EXEC runs, between
    /// the array's elements). None for a script's command until the
    /// script's own command ends.
    mark: Option<usize>,
    events: Vec<Event>,
    /// Keys it changed and whether it flushed (client-side caching).
    changed: Vec<Vec<u8>>,
    flushed: bool,
    /// Keys a tracking client read (remembered in order with the changes).
    read: Vec<Vec<u8>>,
    /// A script's read-only command: Redis 7.0 then remembers the keys the
    /// script's caller declared (trackingRememberKeys on the caller's argv).
    script_read: bool,
    /// Its PUBLISH, delivered when the step is sent.
    published: Vec<Published>,
}

/// Held events of a running EXEC and the parsed flags.
#[derive(Debug, Default)]
pub struct Notify {
    pub flags: u32,
    /// Effects of the transaction or script running now.
    pub(crate) held: Vec<Step>,
    /// PUBLISHes of the running command, taken into its step.
    pub(crate) published: Vec<Published>,
    /// Being sent (reused).
    out: Vec<Event>,
}
/// Anything for [`after_call`] to do (cheap check on every command).
#[inline]
pub fn pending(srv: &Server) -> bool {
    let n = &srv.pubsub.notify;
    n.flags != 0 || !n.held.is_empty() || !n.published.is_empty() || super::tracking::active(srv)
}

/// Whether the store records notes: notifications or tracking need them.
pub fn refresh_recording(srv: &mut Server) {
    let flags = srv.pubsub.notify.flags;
    let notify = flags & (KEYSPACE | KEYEVENT) != 0 && flags & !(KEYSPACE | KEYEVENT) != 0;
    let on = notify || super::tracking::active(srv);
    srv.store.notes.on = on;
    srv.store.notes.misses = notify && flags & KEY_MISS != 0;
    if !on {
        srv.store.notes.clear();
    }
}

/// Re-reads `notify-keyspace-events` (start-up and CONFIG SET).
pub fn config_changed(srv: &mut Server) {
    let flags = srv.config.keyspace_events_raw().map_or(0, parse_flags);
    srv.pubsub.notify.flags = flags;
    refresh_recording(srv);
}

/// Queues one event (class `class`) for `key` in `db`, if enabled.
fn emit(out: &mut Vec<Event>, flags: u32, class: u32, event: &str, db: usize, key: &[u8]) {
    if flags & class == 0 {
        return;
    }
    if flags & KEYSPACE != 0 {
        let mut ch = format!("__keyspace@{db}__:").into_bytes();
        ch.extend_from_slice(key);
        out.push((ch, event.as_bytes().to_vec()));
    }
    if flags & KEYEVENT != 0 {
        let ch = format!("__keyevent@{db}__:{event}").into_bytes();
        out.push((ch, key.to_vec()));
    }
}

fn has_arg(args: &Args, from: usize, words: &[&[u8]]) -> bool {
    args.iter()
        .skip(from)
        .any(|a| words.iter().any(|w| a.eq_ignore_ascii_case(w)))
}

/// What a command does to a key it wrote: the event name and class, plus
/// whether it also emits `expire` after it (SET ... EX).
#[derive(Clone, Copy)]
struct Effect {
    event: &'static str,
    class: u32,
    expire_after: bool,
}

const fn ev(event: &'static str, class: u32) -> Option<Effect> {
    Some(Effect {
        event,
        class,
        expire_after: false,
    })
}

/// Redis's event for the `nth` key (in write order) that `name` wrote,
/// `same_as_first` when it is the same key as the first one.
fn effect_of(name: &str, args: &Args, nth: usize, same_db: bool) -> Option<Effect> {
    let dir = |i: usize, left: &'static str, right: &'static str| {
        if args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(b"left")) {
            left
        } else {
            right
        }
    };
    match name {
        "set" => Some(Effect {
            event: "set",
            class: STRING,
            expire_after: has_arg(args, 3, &[b"ex", b"px", b"exat", b"pxat"]),
        }),
        "setex" | "psetex" => Some(Effect {
            event: "set",
            class: STRING,
            expire_after: true,
        }),
        "setnx" | "getset" | "mset" | "msetnx" => ev("set", STRING),
        // Redis 7.0 announces DECR and DECRBY as `incrby` too.
        "incr" | "incrby" | "decr" | "decrby" => ev("incrby", STRING),
        "incrbyfloat" => ev("incrbyfloat", STRING),
        "append" => ev("append", STRING),
        "setrange" => ev("setrange", STRING),
        "setbit" | "bitfield" => ev("setbit", STRING),
        // BITOP with an empty result deletes the destination (emit_write).
        "bitop" => ev("set", STRING),
        // PFMERGE announces itself as a mass PFADD, like Redis.
        "pfadd" | "pfmerge" => ev("pfadd", STRING),
        "getdel" | "del" | "unlink" => ev("del", GENERIC),
        "getex" => {
            if has_arg(args, 2, &[b"persist"]) {
                ev("persist", GENERIC)
            } else {
                ev("expire", GENERIC)
            }
        }
        "expire" | "pexpire" | "expireat" | "pexpireat" => ev("expire", GENERIC),
        "persist" => ev("persist", GENERIC),
        "rename" | "renamenx" => match nth {
            0 => ev("rename_from", GENERIC),
            _ => ev("rename_to", GENERIC),
        },
        "move" => {
            if same_db {
                ev("move_from", GENERIC)
            } else {
                ev("move_to", GENERIC)
            }
        }
        "copy" => ev("copy_to", GENERIC),
        "lpush" | "lpushx" => ev("lpush", LIST),
        "rpush" | "rpushx" => ev("rpush", LIST),
        "lpop" | "blpop" => ev("lpop", LIST),
        "rpop" | "brpop" => ev("rpop", LIST),
        "lmpop" => ev(dir(mpop_dir(args, 1), "lpop", "rpop"), LIST),
        "blmpop" => ev(dir(mpop_dir(args, 2), "lpop", "rpop"), LIST),
        "lset" => ev("lset", LIST),
        "ltrim" => ev("ltrim", LIST),
        "lrem" => ev("lrem", LIST),
        "linsert" => ev("linsert", LIST),
        // Written in order source (pop), destination (push).
        "rpoplpush" => match nth {
            0 => ev("rpop", LIST),
            _ => ev("lpush", LIST),
        },
        "lmove" | "blmove" => match nth {
            0 => ev(dir(3, "lpop", "rpop"), LIST),
            _ => ev(dir(4, "lpush", "rpush"), LIST),
        },
        "brpoplpush" => match nth {
            0 => ev("rpop", LIST),
            _ => ev("lpush", LIST),
        },
        "hset" | "hmset" | "hsetnx" => ev("hset", HASH),
        "hdel" => ev("hdel", HASH),
        "hincrby" => ev("hincrby", HASH),
        "hincrbyfloat" => ev("hincrbyfloat", HASH),
        "sadd" => ev("sadd", SET),
        "srem" => ev("srem", SET),
        "spop" => ev("spop", SET),
        "smove" => match nth {
            0 => ev("srem", SET),
            _ => ev("sadd", SET),
        },
        "sinterstore" => ev("sinterstore", SET),
        "sunionstore" => ev("sunionstore", SET),
        "sdiffstore" => ev("sdiffstore", SET),
        "sort" => ev("sortstore", LIST),
        // Sorted sets (Redis 7.0's names, ready for the zset family).
        "zadd" => {
            if has_arg(args, 2, &[b"incr"]) {
                ev("zincr", ZSET)
            } else {
                ev("zadd", ZSET)
            }
        }
        "zincrby" => ev("zincr", ZSET),
        "zrem" => ev("zrem", ZSET),
        "zremrangebyscore" => ev("zremrangebyscore", ZSET),
        "zremrangebyrank" => ev("zremrangebyrank", ZSET),
        "zremrangebylex" => ev("zremrangebylex", ZSET),
        "zpopmin" | "bzpopmin" => ev("zpopmin", ZSET),
        "zpopmax" | "bzpopmax" => ev("zpopmax", ZSET),
        "zmpop" | "bzmpop" => {
            let at = mpop_dir(args, if name == "zmpop" { 1 } else { 2 });
            if args.get(at).is_some_and(|a| a.eq_ignore_ascii_case(b"min")) {
                ev("zpopmin", ZSET)
            } else {
                ev("zpopmax", ZSET)
            }
        }
        "zunionstore" => ev("zunionstore", ZSET),
        "zinterstore" => ev("zinterstore", ZSET),
        "zdiffstore" => ev("zdiffstore", ZSET),
        "zrangestore" => ev("zrangestore", ZSET),
        // GEOADD is ZADD underneath; the STORE forms name themselves.
        "geoadd" => ev("zadd", ZSET),
        "geosearchstore" => ev("geosearchstore", ZSET),
        "georadius" | "georadiusbymember" => ev("georadiusstore", ZSET),
        "restore" => ev("restore", GENERIC),
        // Streams (XADD's trim announces no second `xtrim` event here).
        "xadd" => ev("xadd", STREAM),
        "xtrim" => ev("xtrim", STREAM),
        "xdel" => ev("xdel", STREAM),
        "xsetid" => ev("xsetid", STREAM),
        "xgroup|create" => ev("xgroup-create", STREAM),
        "xgroup|setid" => ev("xgroup-setid", STREAM),
        "xgroup|destroy" => ev("xgroup-destroy", STREAM),
        "xgroup|createconsumer" => ev("xgroup-createconsumer", STREAM),
        "xgroup|delconsumer" => ev("xgroup-delconsumer", STREAM),
        _ => None,
    }
}

/// Index of the LEFT|RIGHT argument of LMPOP/BLMPOP (after numkeys keys).
fn mpop_dir(args: &Args, numkeys_at: usize) -> usize {
    let n = args
        .get(numkeys_at)
        .and_then(crate::number::parse_i64)
        .unwrap_or(0)
        .clamp(0, args.len() as i64) as usize;
    numkeys_at + 1 + n
}

/// Commands whose event replaces the trailing `del` of an emptied key.
fn removes_itself(event: &str) -> bool {
    matches!(event, "del" | "rename_from" | "move_from" | "expired")
}

/// Turns the store's notes of the command that just succeeded into events
/// and sends them (or holds them while EXEC runs).
/// `mark` is where the command's reply starts in `me`'s buffer: Redis 7.0
/// announces a client's own writes to it before the command's reply.
pub fn after_call(
    srv: &mut Server,
    me: &mut Client,
    spec: &'static CommandSpec,
    args: &Args,
    mark: usize,
) {
    // Inside EXEC or a script every effect waits for the end of the
    // outermost command (`release`), or for a rollback that drops it.
    let hold = me.in_exec;
    if hold || !srv.pubsub.notify.held.is_empty() {
        let mut step = Step {
            mark: (!me.is_internal()).then_some(mark),
            script_read: me.is_internal() && spec.has(crate::commands::flags::READONLY),
            published: std::mem::take(&mut srv.pubsub.notify.published),
            ..Step::default()
        };
        if super::tracking::active(srv) {
            (step.changed, step.flushed) = changed_keys(srv);
            step.read = super::tracking::read_keys(me, spec, args);
        }
        if !srv.store.notes.list.is_empty() {
            let mut out = std::mem::take(&mut srv.pubsub.notify.out);
            events_of(srv, me, spec, args, &mut out);
            step.events = out;
        }
        srv.store.notes.clear();
        if step.mark.is_some() {
            // A script's commands are announced before the script's reply.
            let keys = if super::tracking::active(srv) {
                super::tracking::declared_keys(me, spec, args)
            } else {
                Vec::new()
            };
            for s in srv.pubsub.notify.held.iter_mut().rev() {
                if s.mark.is_some() {
                    break;
                }
                s.mark = step.mark;
                if s.script_read {
                    s.read.clone_from(&keys);
                }
            }
        }
        let empty = step.events.is_empty()
            && step.changed.is_empty()
            && !step.flushed
            && step.read.is_empty()
            && !step.script_read
            && step.published.is_empty();
        if !empty {
            srv.pubsub.notify.held.push(step);
        }
        if !hold {
            release(srv, me);
        }
        return;
    }
    if super::tracking::active(srv) {
        track(srv, Some(&mut *me), Some((spec, args)));
    }
    if srv.store.notes.list.is_empty() {
        return;
    }
    let mut out = std::mem::take(&mut srv.pubsub.notify.out);
    events_of(srv, me, spec, args, &mut out);
    srv.store.notes.clear();
    send_before_reply(srv, me, out, mark);
}

/// The events of the store's notes for the command that just ran.
fn events_of(
    srv: &mut Server,
    me: &Client,
    spec: &'static CommandSpec,
    args: &Args,
    out: &mut Vec<Event>,
) {
    let notes = std::mem::take(&mut srv.store.notes.list);
    let flags = srv.pubsub.notify.flags;
    let name = spec.name;
    let mut nth = 0;
    let moving = matches!(name, "lmove" | "blmove" | "rpoplpush" | "brpoplpush");
    // Commands whose destination is created (dbAdd announces `new`) before
    // any of their own events.
    let news_first = matches!(name, "rename" | "renamenx" | "move");
    // RENAME and COPY replace an existing destination by deleting it and
    // adding the key anew: always `new`.
    let dst = matches!(name, "rename" | "renamenx" | "copy").then(|| args.get(2).unwrap_or(b""));
    let created = |db: usize, key: &Key, existed: bool| {
        (!existed || dst.is_some_and(|d| *d == **key)) && srv.store.db(db).keys().contains_key(key)
    };
    if news_first {
        for note in &notes {
            if let Note::Write { db, key, existed } = note
                && created(*db, key, *existed)
            {
                emit(out, flags, NEW, "new", *db, key);
            }
        }
    }
    for note in &notes {
        match note {
            Note::Expired { db, key } => emit(out, flags, EXPIRED, "expired", *db, key),
            Note::Evicted { db, key } => emit(out, flags, EVICTED, "evicted", *db, key),
            Note::Miss { db, key } => emit(out, flags, KEY_MISS, "keymiss", *db, key),
            Note::Added { db, key } => emit(out, flags, NEW, "new", *db, key),
            Note::Flush => {}
            Note::Write { .. } if moving => {}
            Note::Write { db, key, existed } => {
                let Some(eff) = effect_of(name, args, nth, *db == me.db) else {
                    continue;
                };
                nth += 1;
                // With `news_first` its `new` was announced already.
                let existed = news_first || (*existed && !created(*db, key, *existed));
                if name == "mset" || name == "msetnx" {
                    // A key given twice is announced twice.
                    let times = args.iter().skip(1).step_by(2).filter(|k| *k == &key[..]);
                    for i in 0..times.count() {
                        emit_write(srv, out, flags, name, eff, *db, key, existed || i > 0);
                    }
                    continue;
                }
                emit_write(srv, out, flags, name, eff, *db, key, existed);
            }
        }
    }
    if moving {
        // Redis announces the push to the destination, then the pop from
        // the source (then its `del`), whatever order the data changed in.
        let find = |k: &[u8]| {
            notes.iter().find_map(|n| match n {
                Note::Write { db, key, existed } if &key[..] == k => Some((*db, *existed)),
                _ => None,
            })
        };
        let (src, dst) = (args.get(1).unwrap_or(b""), args.get(2).unwrap_or(b""));
        if let (Some((db, src_existed)), Some(pop), Some(push)) = (
            find(src),
            effect_of(name, args, 0, true),
            effect_of(name, args, 1, true),
        ) {
            let (ddb, dst_existed) = find(dst).unwrap_or((db, true));
            emit_write(srv, out, flags, name, push, ddb, dst, dst_existed);
            emit_write(srv, out, flags, name, pop, db, src, src_existed);
        }
    }
    let mut notes = notes;
    notes.clear();
    srv.store.notes.list = notes;
}

/// Sends what the outermost command (EXEC, a script, or one after them)
/// and the commands it ran did, in order. The running client's own
/// keyspace events go at each command's place in its reply; its own
/// invalidations after the whole reply (Redis 7.0 defers them while it
/// executes a command).
fn release(srv: &mut Server, me: &mut Client) {
    let steps = std::mem::take(&mut srv.pubsub.notify.held);
    let base = steps.iter().find_map(|s| s.mark);
    let Some(base) = base.filter(|_| me.pubsub.flag) else {
        // No reply to place events in (an internal client), or none can
        // reach this client (not subscribed): in order, own invalidations
        // after the reply.
        srv.pubsub.tracking.defer_me = Some(me.id);
        for step in steps {
            send_step(srv, Some(&mut *me), step);
        }
        srv.pubsub.tracking.defer_me = None;
        super::tracking::send_deferred(srv, me);
        return;
    };
    let base = base.min(me.reply.buf.len());
    let tail = me.reply.buf.split_off(base);
    srv.pubsub.tracking.defer_me = Some(me.id);
    let mut pos = 0;
    for step in steps {
        let at = step
            .mark
            .map_or(pos, |m| m.saturating_sub(base).clamp(pos, tail.len()));
        me.reply.buf.extend_from_slice(&tail[pos..at]);
        pos = at;
        send_step(srv, Some(&mut *me), step);
    }
    me.reply.buf.extend_from_slice(&tail[pos..]);
    srv.pubsub.tracking.defer_me = None;
    super::tracking::send_deferred(srv, me);
}

/// One held step: its invalidations, the keys it read, its events.
fn send_step(srv: &mut Server, me: Option<&mut Client>, step: Step) {
    let mut me = me;
    if super::tracking::active(srv) {
        super::tracking::apply(
            srv,
            me.as_deref_mut(),
            &step.changed,
            step.flushed,
            &step.read,
        );
    }
    if !step.events.is_empty() {
        send(srv, me.as_deref_mut(), step.events);
    }
    for p in step.published {
        super::deliver_published(
            srv,
            me.as_deref_mut(),
            p.shard,
            p.forward,
            &p.channel,
            &p.message,
        );
    }
}

/// Sends events; those for `me` go before its reply from `mark` on.
fn send_before_reply(srv: &mut Server, me: &mut Client, events: Vec<Event>, mark: usize) {
    if me.pubsub.flag && mark <= me.reply.buf.len() {
        let tail = me.reply.buf.split_off(mark);
        send(srv, Some(me), events);
        me.reply.buf.extend_from_slice(&tail);
    } else {
        send(srv, Some(me), events);
    }
}

/// The events of one key a command wrote: `new` if it created it, its
/// event, `expire` after SET ... EX, `del` if it emptied it.
#[allow(clippy::too_many_arguments)]
fn emit_write(
    srv: &Server,
    out: &mut Vec<Event>,
    flags: u32,
    name: &str,
    eff: Effect,
    db: usize,
    key: &[u8],
    existed: bool,
) {
    let exists = srv.store.db(db).keys().contains_key(key);
    let ev = eff.event;
    let is_expire = matches!(
        name,
        "expire" | "pexpire" | "expireat" | "pexpireat" | "getex"
    );
    if is_expire && !exists {
        // An expiry in the past deletes the key.
        emit(out, flags, GENERIC, "del", db, key);
        return;
    }
    if !existed && exists {
        emit(out, flags, NEW, "new", db, key);
    }
    if (ev.ends_with("store") || name == "bitop") && !exists {
        // An empty result deletes the destination.
        if existed {
            emit(out, flags, GENERIC, "del", db, key);
        }
        return;
    }
    emit(out, flags, eff.class, ev, db, key);
    if eff.expire_after {
        emit(out, flags, GENERIC, "expire", db, key);
    }
    if existed && !exists && !removes_itself(ev) {
        emit(out, flags, GENERIC, "del", db, key);
    }
}

/// The keys the store's notes say changed, and whether a flush happened.
fn changed_keys(srv: &Server) -> (Vec<Vec<u8>>, bool) {
    let mut flushed = false;
    let mut changed: Vec<Vec<u8>> = Vec::new();
    for n in &srv.store.notes.list {
        match n {
            Note::Write { key, .. } | Note::Expired { key, .. } | Note::Evicted { key, .. } => {
                changed.push(key.to_vec())
            }
            Note::Flush => flushed = true,
            Note::Miss { .. } | Note::Added { .. } => {}
        }
    }
    (changed, flushed)
}

/// Client-side caching: invalidates the keys the notes say changed, and
/// remembers what a tracking client read (`read`: a command that ran).
fn track(srv: &mut Server, me: Option<&mut Client>, read: Option<(&'static CommandSpec, &Args)>) {
    let (changed, flushed) = changed_keys(srv);
    let read = read.filter(|(spec, _)| spec.has(crate::commands::flags::READONLY));
    super::tracking::after_command(srv, me, &changed, flushed, read);
}

/// A rolled-back transaction: nothing it did is announced.
pub fn discard_transaction(srv: &mut Server) {
    srv.store.notes.clear();
    srv.pubsub.notify.held.clear();
    srv.pubsub.notify.published.clear();
}

/// A failed command (`mark`: where its reply starts) emits nothing of its
/// own. A failed script's commands are dropped with its writes when
/// `multi-rollback` undid them, announced as Redis does otherwise.
pub fn failed(srv: &mut Server, me: &mut Client, mark: usize) {
    srv.store.notes.clear();
    srv.pubsub.notify.published.clear();
    // A script's failed command (redis.pcall) undoes nothing by itself.
    if srv.pubsub.notify.held.is_empty() || me.is_internal() {
        return;
    }
    let held = &mut srv.pubsub.notify.held;
    if srv.config.multi_rollback {
        while held.last().is_some_and(|s| s.mark.is_none()) {
            held.pop();
        }
    } else {
        for s in held.iter_mut().rev() {
            if s.mark.is_some() {
                break;
            }
            s.mark = Some(mark);
        }
    }
    if !me.in_exec && !srv.pubsub.notify.held.is_empty() {
        release(srv, me);
    }
}

/// Sends what the store noted outside any command (active expiry).
pub fn after_cron(srv: &mut Server) {
    if srv.store.notes.list.is_empty() {
        return;
    }
    if super::tracking::active(srv) {
        track(srv, None, None);
    }
    let notes = std::mem::take(&mut srv.store.notes.list);
    let flags = srv.pubsub.notify.flags;
    let mut out = Vec::new();
    for note in &notes {
        match note {
            Note::Expired { db, key } => emit(&mut out, flags, EXPIRED, "expired", *db, key),
            Note::Evicted { db, key } => emit(&mut out, flags, EVICTED, "evicted", *db, key),
            _ => {}
        }
    }
    srv.store.notes.clear();
    send(srv, None, out);
}

fn send(srv: &mut Server, mut me: Option<&mut Client>, mut events: Vec<Event>) {
    for (ch, msg) in events.drain(..) {
        super::publish_local(srv, me.as_deref_mut(), false, &ch, &msg);
    }
    srv.pubsub.notify.out = events;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_like_redis() {
        assert_eq!(parse_flags("KEA"), KEYSPACE | KEYEVENT | ALL);
        assert_eq!(parse_flags("Ex"), KEYEVENT | EXPIRED);
        assert_eq!(parse_flags("Kmn"), KEYSPACE | KEY_MISS | NEW);
        assert_eq!(parse_flags("A") & (KEY_MISS | NEW), 0);
        // The stored form keeps 'n' after 'A' (CONFIG GET hides it).
        let mut cfg = crate::config::Config::default();
        cfg.set_many(&[("notify-keyspace-events", "KEAmn")], true)
            .unwrap();
        assert_eq!(cfg.value("notify-keyspace-events").unwrap(), "AKEm");
        assert_ne!(parse_flags(cfg.keyspace_events_raw().unwrap()) & NEW, 0);
    }

    #[test]
    fn events_go_to_both_channels() {
        let mut out = Vec::new();
        emit(
            &mut out,
            KEYSPACE | KEYEVENT | STRING,
            STRING,
            "set",
            3,
            b"k",
        );
        assert_eq!(
            out,
            vec![
                (b"__keyspace@3__:k".to_vec(), b"set".to_vec()),
                (b"__keyevent@3__:set".to_vec(), b"k".to_vec()),
            ]
        );
        out.clear();
        emit(&mut out, KEYSPACE | KEYEVENT | LIST, STRING, "set", 0, b"k");
        assert!(out.is_empty());
    }

    #[test]
    fn notes_keep_first_write_and_expired_replaces_it() {
        let mut n = Notes {
            on: true,
            ..Default::default()
        };
        n.write(0, b"a", true);
        n.write(0, b"a", false);
        n.miss(0, b"b");
        assert_eq!(n.list.len(), 1);
        n.write(1, b"x", true);
        n.expired(1, b"x");
        n.expired(1, b"x");
        assert_eq!(
            n.list[1],
            Note::Expired {
                db: 1,
                key: Key::new(b"x")
            }
        );
        assert_eq!(n.list.len(), 2);
        // Past the scan threshold duplicates are found through the set.
        n.clear();
        for i in 0..100u32 {
            n.write(0, &i.to_be_bytes(), true);
            n.write(0, &(i / 2).to_be_bytes(), true);
        }
        assert_eq!(n.list.len(), 100);
    }
}
