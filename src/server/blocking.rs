//! Blocking commands (BLPOP and friends): parking a client on keys, waking
//! waiters in the order they blocked when a key becomes ready, and timeouts.
//!
//! A blocked client is parked: its command is kept (owned argv) and re-run
//! when one of its keys is written, right after the command that wrote it
//! and before any other client runs, so the push and the pops it serves are
//! one atomic step. The store's choke point reports which watched keys were
//! written ([`crate::store::Store::take_ready`]).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::{Client, Park, Server};
use crate::commands::{self, Args, OwnedArgs};
use crate::store::{Key, KeyHashMap, Kind, Value};

/// One parked client's blocking state.
#[derive(Debug)]
struct Waiter {
    token: usize,
    db: usize,
    keys: Vec<Key>,
    deadline: Option<Instant>,
    args: OwnedArgs,
}

/// The registry of blocked clients.
#[derive(Debug, Default)]
pub struct Blocked {
    /// (db, key) -> ids of the clients waiting on it, in blocking order.
    by_key: KeyHashMap<(usize, Key), VecDeque<u64>>,
    waiters: HashMap<u64, Waiter>,
    deadlines: BTreeSet<(Instant, u64)>,
}

impl Blocked {
    /// Number of blocked clients (INFO blocked_clients).
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// The earliest timeout, for the poll timeout.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(t, _)| *t)
    }

    /// Restores a re-blocked waiter's deadline and argv.
    fn rearm(&mut self, id: u64, deadline: Option<Instant>, args: OwnedArgs) {
        let Some(w) = self.waiters.get_mut(&id) else {
            return;
        };
        if let Some(d) = w.deadline.take() {
            self.deadlines.remove(&(d, id));
        }
        if let Some(d) = deadline {
            self.deadlines.insert((d, id));
        }
        w.deadline = deadline;
        w.args = args;
    }

    /// True if client `id` is blocked.
    pub fn contains(&self, id: u64) -> bool {
        self.waiters.contains_key(&id)
    }

    /// Forgets client `id` (woken, timed out, or disconnected). Returns its
    /// state and the keys nobody waits on any more.
    fn remove(&mut self, id: u64) -> Option<(Waiter, Vec<(usize, Key)>)> {
        let w = self.waiters.remove(&id)?;
        if let Some(d) = w.deadline {
            self.deadlines.remove(&(d, id));
        }
        let mut orphaned = Vec::new();
        for k in &w.keys {
            let slot = (w.db, k.clone());
            if let Some(q) = self.by_key.get_mut(&slot) {
                q.retain(|&x| x != id);
                if q.is_empty() {
                    self.by_key.remove(&slot);
                    orphaned.push(slot);
                }
            }
        }
        Some((w, orphaned))
    }
}

impl Server {
    /// Parks `c` until one of `keys` (in its current db) is written, then
    /// re-runs `args`; after `timeout` (None or zero = forever) it replies
    /// with the null array instead.
    pub fn block_on_keys(
        &mut self,
        c: &mut Client,
        keys: &[&[u8]],
        timeout: Option<Duration>,
        args: &Args,
    ) {
        let deadline = timeout
            .filter(|d| !d.is_zero())
            .and_then(|d| Instant::now().checked_add(d));
        let mut owned_keys: Vec<Key> = Vec::with_capacity(keys.len());
        // A key named twice blocks once; a set keeps that O(keys).
        let mut seen: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        for k in keys {
            if !seen.insert(k) {
                continue;
            }
            let key = Key::new(k);
            self.store.watch_ready(c.db, k);
            self.blocked
                .by_key
                .entry((c.db, key.clone()))
                .or_default()
                .push_back(c.id);
            owned_keys.push(key);
        }
        if let Some(d) = deadline {
            self.blocked.deadlines.insert((d, c.id));
        }
        self.blocked.waiters.insert(
            c.id,
            Waiter {
                token: c.token,
                db: c.db,
                keys: owned_keys,
                deadline,
                args: args.to_owned_args(),
            },
        );
        c.park = Some(Park::Blocked);
        // A blocked client keeps its command's arguments (CLIENT LIST
        // argv-mem, as Redis).
        c.argv_mem = args.iter().map(<[u8]>::len).sum();
    }

    /// Unblocks client `id` without running its command. Returns false if
    /// it was not blocked.
    fn forget_blocked(&mut self, id: u64) -> Option<Waiter> {
        let (w, orphaned) = self.blocked.remove(id)?;
        for (db, key) in orphaned {
            self.store.unwatch_ready(db, &key);
        }
        Some(w)
    }

    /// A client is going away: drop any blocking state it has.
    pub fn on_client_gone(&mut self, id: u64) {
        self.forget_blocked(id);
    }

    /// Unblocks a client that is not running (CLIENT UNBLOCK): replies the
    /// null array (`error` None) or the given error. Returns false if it was
    /// not blocked.
    pub fn unblock_client(&mut self, id: u64, error: Option<&str>) -> bool {
        let Some(w) = self.forget_blocked(id) else {
            return false;
        };
        if let Some(Some(c)) = self.clients.get_mut(w.token) {
            c.park = None;
            c.argv_mem = 0;
            match error {
                Some(e) => c.reply.error(e),
                None => c.reply.null_array(),
            }
        }
        crate::ops::unblocked(self, &w.args, error.is_some());
        self.unparked.push(w.token);
        self.wake_writer(w.token);
        true
    }

    /// Serves clients blocked on keys that were written, in the order they
    /// blocked, until the keys run dry. Runs after every command.
    pub fn handle_ready_keys(&mut self) {
        // A busy script's mini event loop must not serve blocked clients
        // with what the script pushed so far: they are served after it.
        if self.busy.running.is_some() {
            return;
        }
        loop {
            let ready = self.store.take_ready();
            if ready.is_empty() {
                return;
            }
            for (db, key) in ready {
                self.serve_key(db, &key);
            }
        }
    }

    fn serve_key(&mut self, db: usize, key: &Key) {
        let slot = (db, key.clone());
        // Each waiter is tried once per readiness, in blocking order; one
        // that blocks again (nothing for it after all) goes to the back.
        let ids: Vec<u64> = self
            .blocked
            .by_key
            .get(&slot)
            .map_or_else(Vec::new, |q| q.iter().copied().collect());
        for id in ids {
            // XREADGROUP waiters whose stream or group went away get
            // Redis 7.0's error (XREAD waiters just stay blocked).
            if let Some(w) = self.blocked.waiters.get(&id)
                && let Some(err) =
                    commands::stream::blocked_group_error(self.store.get(db, key), &w.args)
            {
                self.unblock_client(id, Some(err));
                continue;
            }
            // A key serves only the waiters of its type (BLPOP a list,
            // BZPOPMIN a sorted set); the others stay blocked, as in Redis.
            let Some(kind) = self.store.get(db, key).map(Value::kind) else {
                continue;
            };
            let Some(want) = self.blocked.waiters.get(&id).map(|w| waits_for(&w.args)) else {
                continue;
            };
            if want != kind {
                continue;
            }
            // The client that blocked in the very command that wrote the
            // key (XREADGROUP creating its consumer) is not in the slab
            // while it runs: it stays blocked and waits for a later write.
            let token = self.blocked.waiters.get(&id).map(|w| w.token);
            if !token.is_some_and(|t| matches!(self.clients.get(t), Some(Some(_)))) {
                continue;
            }
            let Some(w) = self.forget_blocked(id) else {
                continue;
            };
            let Some(mut c) = self.clients.get_mut(w.token).and_then(Option::take) else {
                continue;
            };
            c.park = None;
            c.argv_mem = 0;
            if c.close_asap {
                // Killed earlier in this round: it must not consume anything.
                if let Some(s) = self.clients.get_mut(w.token) {
                    *s = Some(c);
                }
                continue;
            }
            // Serve from the key that became ready, like Redis: it goes
            // first among the command's keys.
            let owned = ready_key_first(&w.args, key);
            let args = owned.as_ref().unwrap_or(&w.args).as_args();
            match commands::resolve(&args) {
                Ok(spec) => {
                    self.ops.reprocessing = true;
                    let _ = commands::call(self, &mut c, spec, &args);
                    self.ops.reprocessing = false;
                }
                Err(e) => c.reply.error(&e.to_string()),
            }
            if c.park.is_none() {
                self.unparked.push(c.token);
            } else {
                // Nothing for it after all: it waits on, with its original
                // deadline and its original argument order.
                self.blocked.rearm(c.id, w.deadline, w.args);
            }
            if !c.reply.is_empty() && !c.pending_write {
                c.pending_write = true;
                self.pending_writes.push(c.token);
            }
            let token = c.token;
            if let Some(s) = self.clients.get_mut(token) {
                *s = Some(c);
            }
        }
    }

    /// Replies the null array to blocked clients whose timeout passed.
    pub fn expire_blocked(&mut self, now: Instant) {
        while let Some(&(when, id)) = self.blocked.deadlines.first() {
            if when > now {
                return;
            }
            if !self.unblock_client(id, None) {
                self.blocked.deadlines.remove(&(when, id));
            }
        }
    }
}

/// The type of value a blocked command pops from.
fn waits_for(args: &OwnedArgs) -> Kind {
    match args.as_args().get(0) {
        Some(n) if n.len() > 2 && n[..2].eq_ignore_ascii_case(b"bz") => Kind::ZSet,
        Some(n) if n.first().is_some_and(|b| b.eq_ignore_ascii_case(&b'x')) => Kind::Stream,
        _ => Kind::List,
    }
}

/// The argv of a blocked command with `key` moved to the front of its keys
/// (None when it is already first or the command has one key).
fn ready_key_first(args: &OwnedArgs, key: &[u8]) -> Option<OwnedArgs> {
    let a = args.as_args();
    let name = a.get(0)?;
    let keys = if ["blpop", "brpop", "bzpopmin", "bzpopmax"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
    {
        1..a.len().checked_sub(1)?
    } else if name.eq_ignore_ascii_case(b"blmpop") || name.eq_ignore_ascii_case(b"bzmpop") {
        let n = crate::number::parse_i64(a.get(2)?)?;
        3..3usize.checked_add(usize::try_from(n).ok()?)?.min(a.len())
    } else {
        return None;
    };
    let pos = keys.clone().find(|&i| &a[i] == key)?;
    if pos == keys.start {
        return None;
    }
    let mut parts: Vec<&[u8]> = a.iter().collect();
    parts[keys.start..=pos].rotate_right(1);
    Some(OwnedArgs::from_slices(parts))
}
