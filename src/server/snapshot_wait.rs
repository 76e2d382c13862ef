//! Writers that would stall the reactor on the snapshot walk.
//!
//! The first change to a key the AOF rewrite / BGSAVE walk has not reached
//! makes the choke point serialize the key's epoch value right there. For a
//! big value (a 3M-element list) that is a long synchronous encoding, and in
//! RDB mode any such write must first finish the big value the walk is in
//! the middle of. So at dispatch, a write command whose keys would cost that
//! is parked instead ([`postpone`]): the walk takes the value up next and
//! writes it a slice per tick while everyone else is served, and the writer
//! runs, in order, once the walk is through with it ([`after_round`]).
//! Writes the dispatch check cannot see (keys a script did not declare,
//! expiry, eviction, cross-node commits) still serialize synchronously.

use super::{Client, Park, Server};
use crate::commands::{self, Args, CommandSpec, flags, transaction};

/// Park reason of a writer waiting for the walk.
const WALK: &str = "walk";

/// Dispatch: true if `spec` from `c` must wait for the walk (the client is
/// then parked with the command unexecuted).
pub fn postpone(srv: &mut Server, c: &mut Client, spec: &'static CommandSpec, args: &Args) -> bool {
    if c.is_internal() || (c.multi.is_some() && !transaction::runs_inside_multi(spec)) {
        return false;
    }
    let mut keys = Vec::new();
    let store = &mut srv.store;
    let mut stalls = |spec: &'static CommandSpec, args: &Args, db: usize| {
        if !spec.has(flags::WRITE) || commands::command_keys(spec, args, &mut keys).is_err() {
            return false;
        }
        // Every key is claimed (not just the first) so the walk can take
        // them up one after the other.
        let mut any = false;
        for &i in &keys {
            any |= store.snapshot_claim(db, &args[i]);
        }
        any
    };
    let wait = match (spec.name, c.multi.as_ref()) {
        ("exec", Some(m)) => m
            .queue
            .iter()
            .fold(false, |w, (s, a)| stalls(s, &a.as_args(), c.db) | w),
        _ => stalls(spec, args, c.db),
    };
    if wait {
        c.deferred = true;
        c.park = Some(Park::Waiting(WALK));
        srv.walk_waiters.push(c.token);
    }
    wait
}

/// Once per poll round: when the walk is no longer in the middle of a big
/// value, the waiting writers go on (one that still has a value owed waits
/// again, and the walk takes that one up).
pub fn after_round(srv: &mut Server) {
    if srv.walk_waiters.is_empty() || srv.store.snapshot_partial_active() {
        return;
    }
    for token in std::mem::take(&mut srv.walk_waiters) {
        if let Some(Some(c)) = srv.clients.get_mut(token)
            && c.park == Some(Park::Waiting(WALK))
        {
            c.park = None;
            srv.unparked.push(token);
        }
    }
}
