//! Big index tables allocated off the reactor (issue 15). A `PosIndex`
//! (store/index.rs) that doubles allocates a `HashTable` of twice its
//! buckets and writes every control byte (hashbrown's EMPTY is 0xFF, so
//! zeroed pages will not do): at 16M buckets that memset and its page
//! faults took 2-8 ms of one event-loop round, every client waiting. A big
//! index nearing full asks this module for its next table instead
//! (`request`); one background thread allocates it and hands it back
//! through the returned `Ticket`, which the index's `migrate_to` takes if
//! it has arrived, and else allocates as before: the reactor never waits.
//!
//! This module owns the thread, the tickets and the rules for holding a
//! prepared table under `maxmemory`: asked for only far below the limit,
//! and every table prepared and not yet taken is freed at once when the
//! limit is crossed (`release_all`, before eviction picks a key), so a
//! prepared table never makes eviction free more data than without one.
//! Tables nobody takes (the index shrank, was cleared or freed before it
//! grew, or stopped growing: the cron gives back one waiting longer than
//! `STALE_AFTER`) go back to the same thread to be freed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use hashbrown::HashTable;

/// Where a requested table is handed over.
#[derive(Debug, Default)]
enum State {
    #[default]
    Waiting,
    /// Arrived at that instant (for `release_stale`).
    Ready(HashTable<u32>, Instant),
    /// Freed by `release_all` (or never coming): a table arriving now is
    /// dropped by the thread.
    Released,
}

type Slot = Mutex<State>;

/// Work for the thread.
enum Job {
    /// Allocate a table of this capacity into the slot, if still wanted.
    Alloc(usize, Weak<Slot>),
    /// A prepared table nobody took.
    Free(HashTable<u32>),
}

/// Every slot handed out and not dropped (for `release_all`); the reactor
/// alone touches it. Per thread in unit tests, which run in parallel.
fn with_slots<R>(f: impl FnOnce(&mut Vec<Weak<Slot>>) -> R) -> R {
    #[cfg(not(test))]
    {
        static SLOTS: Mutex<Vec<Weak<Slot>>> = Mutex::new(Vec::new());
        f(&mut SLOTS.lock().unwrap_or_else(|e| e.into_inner()))
    }
    #[cfg(test)]
    {
        thread_local! {
            static SLOTS: std::cell::RefCell<Vec<Weak<Slot>>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        SLOTS.with(|s| f(&mut s.borrow_mut()))
    }
}

/// Puts a table allocated for `slot` there; gives it back if nobody wants
/// it any more (the caller drops it).
fn deliver(slot: &Weak<Slot>, t: HashTable<u32>) -> Result<(), HashTable<u32>> {
    let Some(slot) = slot.upgrade() else {
        return Err(t);
    };
    let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
    match *s {
        State::Waiting => {
            *s = State::Ready(t, Instant::now());
            Ok(())
        }
        _ => Err(t),
    }
}

/// Frees every prepared table not taken yet, at once (used memory is over
/// `maxmemory`: they must not count against the data): how many.
pub fn release_all() -> usize {
    let slots = with_slots(std::mem::take);
    let mut n = 0;
    for slot in slots.iter().filter_map(Weak::upgrade) {
        let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(
            std::mem::replace(&mut *s, State::Released),
            State::Ready(..)
        ) {
            n += 1;
        }
    }
    n
}

/// A prepared table still not taken this long after it arrived is given
/// back: its index stopped growing inside the last 1/16 before its
/// doubling, and would otherwise hold it (up to ~160 MB at 16M buckets)
/// until it shrinks or is freed. Should it grow again, that one doubling
/// allocates on the reactor, as without a prepared table.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// The cron's sweep: prepared tables waiting since `STALE_AFTER` before
/// `now` go to the thread to be freed; how many.
pub fn release_stale(now: Instant) -> usize {
    let mut n = 0;
    with_slots(|slots| {
        slots.retain(|w| w.strong_count() > 0);
        for slot in slots.iter().filter_map(Weak::upgrade) {
            let Ok(mut s) = slot.try_lock() else {
                continue;
            };
            if let State::Ready(_, at) = &*s
                && now.saturating_duration_since(*at) >= STALE_AFTER
                && let State::Ready(t, _) = std::mem::replace(&mut *s, State::Released)
            {
                n += 1;
                if let Some(tx) = worker() {
                    let _ = tx.send(Job::Free(t));
                }
            }
        }
    });
    n
}

/// `maxmemory` as the store applies it (0: none), for `room_for`.
static MAXMEMORY: AtomicU64 = AtomicU64::new(0);

/// Called where the store applies `maxmemory`.
pub fn set_maxmemory(bytes: u64) {
    MAXMEMORY.store(bytes, Ordering::Relaxed);
}

/// Whether a table of `bytes` may be prepared now. It counts in
/// `used_memory` from the moment it is allocated, before the doubling it
/// replaces would have allocated it: under `maxmemory` only when it is
/// far from the limit (8 times the table's size left: the doubling of the
/// entries that follows is ~5 times it), so a prepared table does not
/// make eviction, or the key table's evict-rather-than-grow rule
/// (`Store::make_room`), start earlier than they do without one.
fn room_for(bytes: usize) -> bool {
    let max = MAXMEMORY.load(Ordering::Relaxed);
    max == 0
        || (crate::memory::used_memory() as u64).saturating_add((bytes as u64).saturating_mul(8))
            <= max
}

/// The thread's queue, started on first use; None if it cannot start.
fn worker() -> Option<&'static Sender<Job>> {
    static TX: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("memkv-tablealloc".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        // Not wanted any more: not allocated, or dropped
                        // here.
                        Job::Alloc(capacity, slot) if slot.strong_count() > 0 => {
                            let _ = deliver(&slot, HashTable::with_capacity(capacity));
                        }
                        Job::Alloc(..) => {}
                        Job::Free(t) => drop(t),
                    }
                }
            })
            .ok()
            .map(|_| tx)
    })
    .as_ref()
}

/// A requested table: `take` it when the index doubles; dropping it
/// cancels the request.
#[derive(Debug)]
pub struct Ticket {
    capacity: usize,
    slot: Arc<Slot>,
}

/// Asks for an empty table of `capacity` (`bytes` its size, for the
/// `maxmemory` rule): None when it may not be held now or no thread runs.
pub fn request(capacity: usize, bytes: usize) -> Option<Ticket> {
    if !room_for(bytes) {
        return None;
    }
    let slot = Arc::new(Slot::default());
    let weak = Arc::downgrade(&slot);
    #[cfg(test)]
    if test_hook::manual() {
        test_hook::queue(capacity, weak.clone());
    } else {
        worker()?.send(Job::Alloc(capacity, weak.clone())).ok()?;
    }
    #[cfg(not(test))]
    worker()?.send(Job::Alloc(capacity, weak.clone())).ok()?;
    with_slots(|slots| {
        slots.retain(|w| w.strong_count() > 0);
        slots.push(weak);
    });
    Some(Ticket { capacity, slot })
}

impl Ticket {
    /// The prepared table if it has arrived and is for `capacity` (else
    /// None: the caller allocates; an arrived table of another size is
    /// freed by the thread).
    pub fn take(self, capacity: usize) -> Option<HashTable<u32>> {
        if self.capacity != capacity {
            return None;
        }
        let t = self.arrived();
        #[cfg(test)]
        if t.is_some() {
            test_hook::TAKEN.with(|n| n.set(n.get() + 1));
        }
        t
    }

    /// The table if it has arrived; never waits (the thread holds the
    /// lock only to put it there).
    fn arrived(&self) -> Option<HashTable<u32>> {
        let mut s = self.slot.try_lock().ok()?;
        match std::mem::replace(&mut *s, State::Released) {
            State::Ready(t, _) => Some(t),
            other => {
                *s = other;
                None
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Arrived and not taken: freeing a big table is for the thread
        // too. Not arrived yet: the thread finds the slot gone.
        if let Some(t) = self.arrived()
            && let Some(tx) = worker()
        {
            let _ = tx.send(Job::Free(t));
        }
    }
}

/// Unit tests deliver requests by hand (late, never) on their own thread.
#[cfg(test)]
pub mod test_hook {
    use super::*;
    use std::cell::{Cell, RefCell};

    thread_local! {
        static MANUAL: Cell<bool> = const { Cell::new(false) };
        pub(super) static TAKEN: Cell<usize> = const { Cell::new(0) };
        static QUEUE: RefCell<Vec<(usize, Weak<Slot>)>> =
            const { RefCell::new(Vec::new()) };
    }

    /// Requests made on this thread from now on wait for `deliver`.
    pub fn set_manual(on: bool) {
        MANUAL.with(|m| m.set(on));
    }

    pub(super) fn manual() -> bool {
        MANUAL.with(|m| m.get())
    }

    pub(super) fn queue(capacity: usize, slot: Weak<Slot>) {
        QUEUE.with(|q| q.borrow_mut().push((capacity, slot)));
    }

    /// Prepared tables taken by a doubling on this thread.
    pub fn taken() -> usize {
        TAKEN.with(|n| n.get())
    }

    /// Requests waiting (cancelled ones included).
    pub fn waiting() -> usize {
        QUEUE.with(|q| q.borrow().len())
    }

    /// Allocates every waiting request; how many requesters still wanted
    /// theirs.
    pub fn deliver() -> usize {
        let jobs = QUEUE.with(|q| std::mem::take(&mut *q.borrow_mut()));
        jobs.into_iter()
            .filter(|(c, slot)| super::deliver(slot, HashTable::with_capacity(*c)).is_ok())
            .count()
    }

    /// Forgets every waiting request (the table never comes).
    pub fn discard() {
        QUEUE.with(|q| q.borrow_mut().clear());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table that arrived and waited `STALE_AFTER` is given back by the
    /// cron's sweep (and not before); its ticket then yields nothing, so
    /// the doubling allocates as without one.
    #[test]
    fn stale_prepared_tables_are_released() {
        test_hook::set_manual(true);
        let t = request(1024, 0).expect("requested");
        assert_eq!(test_hook::deliver(), 1);
        let now = Instant::now();
        assert_eq!(release_stale(now), 0, "fresh: kept");
        assert_eq!(release_stale(now + STALE_AFTER), 1);
        assert_eq!(release_stale(now + STALE_AFTER * 2), 0, "once");
        assert!(t.take(1024).is_none());
        let fresh = request(1024, 0).expect("requested");
        assert_eq!(test_hook::deliver(), 1);
        assert!(fresh.take(1024).is_some(), "a fresh one is taken");
        test_hook::set_manual(false);
    }
}
