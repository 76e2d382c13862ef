//! Freeing memory off the reactor. Dropping a big value (a list of millions
//! of elements, a flushed database of millions of keys) walks every
//! allocation and can take hundreds of milliseconds; the store hands such
//! values to one background thread instead, whatever the `lazyfree-*`
//! settings say (they keep their meaning for what replies report). Small
//! values are dropped inline: sending them would cost more than freeing.

use std::any::Any;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};

use super::Value;

/// Values with more elements than this are freed in the background
/// (Redis's LAZYFREE_THRESHOLD).
pub const LAZYFREE_THRESHOLD: usize = 64;

/// Objects handed to the thread and not freed yet.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Objects the thread has freed since start.
static FREED: AtomicU64 = AtomicU64::new(0);

/// INFO's `lazyfree_pending_objects`.
pub fn pending() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// INFO's `lazyfreed_objects`.
pub fn freed() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// CONFIG RESETSTAT (Redis's lazyfreeResetStats).
pub fn reset_freed() {
    FREED.store(0, Ordering::Relaxed);
}

/// Drops `v` on the background thread. Falls back to dropping inline if
/// the thread cannot be started.
pub fn free<T: Send + 'static>(v: T) {
    static TX: OnceLock<Option<Sender<Box<dyn Any + Send>>>> = OnceLock::new();
    let tx = TX.get_or_init(|| {
        let (tx, rx) = channel::<Box<dyn Any + Send>>();
        std::thread::Builder::new()
            .name("memkv-lazyfree".into())
            .spawn(move || {
                for v in rx {
                    drop(v);
                    PENDING.fetch_sub(1, Ordering::Relaxed);
                    FREED.fetch_add(1, Ordering::Relaxed);
                }
            })
            .ok()
            .map(|_| tx)
    });
    if let Some(tx) = tx {
        PENDING.fetch_add(1, Ordering::Relaxed);
        // On a send error the value comes back inside the error and is
        // dropped here, which is still correct.
        if tx.send(Box::new(v)).is_err() {
            PENDING.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// How much work freeing `v` is: its number of elements (one allocation
/// for a packed hash, as Redis counts a listpack).
pub fn free_effort(v: &Value) -> usize {
    match v {
        Value::Str(_) => 1,
        Value::List(l) => l.len(),
        Value::Hash(h) if h.is_packed() => 1,
        Value::Hash(h) => h.len(),
        Value::Set(s) => s.len(),
        Value::ZSet(z) => z.len(),
        Value::Stream(s) => s.len(),
    }
}

/// Drops a value that left the keyspace: in the background when it is big.
#[inline]
pub fn drop_value(v: Value) {
    if free_effort(&v) > LAZYFREE_THRESHOLD {
        free(v);
    }
}
