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
//! This module owns the thread, the tickets and the rule for when a
//! prepared table may be held under `maxmemory`. Tables nobody takes (the
//! index shrank, was cleared or freed before it grew) go back to the same
//! thread to be freed.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use hashbrown::HashTable;

/// Work for the thread.
enum Job {
    /// Allocate a table of this capacity and send it back.
    Alloc(usize, SyncSender<HashTable<u32>>),
    /// A prepared table nobody took.
    Free(HashTable<u32>),
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
                        Job::Alloc(capacity, back) => {
                            // A requester gone meanwhile: the send fails
                            // and the table is dropped here.
                            let _ = back.send(HashTable::with_capacity(capacity));
                        }
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
    rx: Receiver<HashTable<u32>>,
}

/// Asks for an empty table of `capacity` (`bytes` its size, for the
/// `maxmemory` rule): None when it may not be held now or no thread runs.
pub fn request(capacity: usize, bytes: usize) -> Option<Ticket> {
    if !room_for(bytes) {
        return None;
    }
    let (tx, rx) = sync_channel(1);
    #[cfg(test)]
    if test_hook::manual() {
        test_hook::queue(capacity, tx);
        return Some(Ticket { capacity, rx });
    }
    worker()?.send(Job::Alloc(capacity, tx)).ok()?;
    Some(Ticket { capacity, rx })
}

impl Ticket {
    /// The prepared table if it has arrived and is for `capacity` (else
    /// None: the caller allocates; an arrived table of another size is
    /// freed by the thread).
    pub fn take(self, capacity: usize) -> Option<HashTable<u32>> {
        if self.capacity != capacity {
            return None;
        }
        let t = self.rx.try_recv().ok();
        #[cfg(test)]
        if t.is_some() {
            test_hook::TAKEN.with(|n| n.set(n.get() + 1));
        }
        t
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Arrived and not taken: freeing a big table is for the thread
        // too. Not arrived yet: the thread's send fails and it drops it.
        if let Ok(t) = self.rx.try_recv()
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
        static QUEUE: RefCell<Vec<(usize, SyncSender<HashTable<u32>>)>> =
            const { RefCell::new(Vec::new()) };
    }

    /// Requests made on this thread from now on wait for `deliver`.
    pub fn set_manual(on: bool) {
        MANUAL.with(|m| m.set(on));
    }

    pub(super) fn manual() -> bool {
        MANUAL.with(|m| m.get())
    }

    pub(super) fn queue(capacity: usize, tx: SyncSender<HashTable<u32>>) {
        QUEUE.with(|q| q.borrow_mut().push((capacity, tx)));
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
            .filter(|(c, tx)| tx.send(HashTable::with_capacity(*c)).is_ok())
            .count()
    }

    /// Forgets every waiting request (the table never comes).
    pub fn discard() {
        QUEUE.with(|q| q.borrow_mut().clear());
    }
}
