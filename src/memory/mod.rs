//! Memory accounting: the counting global allocator behind `used_memory`,
//! the process figures (RSS, peak, system total), INFO's `# Memory`
//! section and the MEMORY command's reports (STATS, DOCTOR, MALLOC-STATS).
//!
//! The allocator wraps the system malloc (glibc) and keeps one relaxed
//! atomic counter, like Redis's zmalloc: what it adds per allocation is the
//! size of the chunk glibc really hands out (header and 16-byte rounding
//! included, page-rounded for mmap-sized blocks), so `used_memory` is what
//! the heap holds, not just what was asked for.

pub mod usage;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::commands::info::bytes_to_human;
use crate::server::Server;

/// The counting allocator (installed as `#[global_allocator]` in lib.rs).
pub struct Counting;

static USED: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static STARTUP: AtomicUsize = AtomicUsize::new(0);

/// glibc's mmap threshold: blocks this big are mapped pages.
const MMAP_THRESHOLD: usize = 128 * 1024;

/// What glibc's malloc really takes for a request of `size` bytes: an
/// 8-byte header, 16-byte granularity, a 32-byte minimum; whole pages
/// (plus a 16-byte header) for big blocks.
#[inline(always)]
pub const fn chunk_size(size: usize) -> usize {
    if size >= MMAP_THRESHOLD {
        (size + 16 + 4095) & !4095
    } else {
        let c = (size + 8 + 15) & !15;
        if c < 32 { 32 } else { c }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counter is bookkeeping only.
unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            USED.fetch_add(chunk_size(layout.size()), Ordering::Relaxed);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            USED.fetch_add(chunk_size(layout.size()), Ordering::Relaxed);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        USED.fetch_sub(chunk_size(layout.size()), Ordering::Relaxed);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            let (old, new) = (chunk_size(layout.size()), chunk_size(new_size));
            if new >= old {
                USED.fetch_add(new - old, Ordering::Relaxed);
            } else {
                USED.fetch_sub(old - new, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Bytes the heap holds now (INFO `used_memory`).
#[inline]
pub fn used_memory() -> usize {
    USED.load(Ordering::Relaxed)
}

/// Records a new peak if memory is above it (cron, INFO, eviction);
/// returns the peak.
pub fn update_peak() -> usize {
    let used = used_memory();
    PEAK.fetch_max(used, Ordering::Relaxed).max(used)
}

/// Remembers the memory used once the server is up (`used_memory_startup`).
pub fn mark_startup() {
    STARTUP.store(used_memory(), Ordering::Relaxed);
}

pub fn startup_memory() -> usize {
    STARTUP.load(Ordering::Relaxed)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// Resident set size from /proc/self/statm.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * page_size())
        .unwrap_or(0)
}

pub fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    if pages > 0 {
        pages as u64 * page_size()
    } else {
        0
    }
}

/// Where the memory goes (Redis's getMemoryOverheadData).
pub struct Overhead {
    pub peak: usize,
    pub total: usize,
    pub startup: usize,
    pub clients_normal: usize,
    pub aof_buffer: usize,
    pub lua_caches: usize,
    /// (db, main table, expires table) for each non-empty database.
    pub dbs: Vec<(usize, usize, usize)>,
    pub overhead_total: usize,
    pub keys: usize,
    pub dataset: usize,
}

impl Overhead {
    pub fn of(srv: &Server) -> Overhead {
        let total = used_memory();
        let peak = update_peak();
        let startup = startup_memory();
        let clients_normal: usize = srv
            .clients
            .iter()
            .filter_map(|(_, c)| c.as_deref())
            .map(|c| c.query_len() + c.reply.len())
            .sum();
        // The propagation buffer and the AOF writer's spare buffers.
        let aof_buffer =
            srv.store.prop.buf.capacity() + srv.aof.as_ref().map_or(0, |a| a.queue.spare_bytes());
        let mut dbs = Vec::new();
        let mut keys = 0;
        let mut tables = 0;
        for i in 0..srv.store.db_count() {
            let d = srv.store.db(i);
            if d.is_empty() {
                continue;
            }
            keys += d.len();
            let (main, exp) = (d.main_table_bytes(), d.expires_table_bytes());
            tables += main + exp;
            dbs.push((i, main, exp));
        }
        let overhead_total = startup + clients_normal + aof_buffer + tables;
        Overhead {
            peak,
            total,
            startup,
            clients_normal,
            aof_buffer,
            lua_caches: 0,
            dbs,
            overhead_total,
            keys,
            dataset: total.saturating_sub(overhead_total),
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// INFO `# Memory`, with Redis 7.0's field names and order. memkv has no
/// allocator arenas of its own, so the allocator_* figures are the
/// counted heap and RSS.
pub fn info_section(srv: &Server, kv: &mut dyn FnMut(&str, String)) {
    let o = Overhead::of(srv);
    let rss = rss_bytes();
    let total = total_system_memory();
    let used = o.total as u64;
    let startup = o.startup as u64;
    kv("used_memory", used.to_string());
    kv("used_memory_human", bytes_to_human(used));
    kv("used_memory_rss", rss.to_string());
    kv("used_memory_rss_human", bytes_to_human(rss));
    kv("used_memory_peak", o.peak.to_string());
    kv("used_memory_peak_human", bytes_to_human(o.peak as u64));
    kv(
        "used_memory_peak_perc",
        format!("{:.2}%", ratio(used * 100, o.peak as u64)),
    );
    kv("used_memory_overhead", o.overhead_total.to_string());
    kv("used_memory_startup", startup.to_string());
    kv("used_memory_dataset", o.dataset.to_string());
    let net = used.saturating_sub(startup);
    kv(
        "used_memory_dataset_perc",
        format!("{:.2}%", ratio(o.dataset as u64 * 100, net)),
    );
    kv("allocator_allocated", used.to_string());
    kv("allocator_active", used.to_string());
    kv("allocator_resident", rss.to_string());
    kv("total_system_memory", total.to_string());
    kv("total_system_memory_human", bytes_to_human(total));
    for (k, v) in crate::scripting::info_memory(srv) {
        kv(k, v);
    }
    let ev = &srv.store.evict;
    kv("maxmemory", ev.maxmemory.to_string());
    kv("maxmemory_human", bytes_to_human(ev.maxmemory));
    kv("maxmemory_policy", ev.policy.name().into());
    kv("allocator_frag_ratio", "1.00".into());
    kv("allocator_frag_bytes", "0".into());
    kv("allocator_rss_ratio", format!("{:.2}", ratio(rss, used)));
    kv(
        "allocator_rss_bytes",
        (rss as i64 - used as i64).to_string(),
    );
    kv("rss_overhead_ratio", "1.00".into());
    kv("rss_overhead_bytes", "0".into());
    kv(
        "mem_fragmentation_ratio",
        format!("{:.2}", ratio(rss, used)),
    );
    kv(
        "mem_fragmentation_bytes",
        (rss as i64 - used as i64).to_string(),
    );
    kv("mem_not_counted_for_evict", "0".into());
    kv("mem_replication_backlog", "0".into());
    kv("mem_total_replication_buffers", "0".into());
    kv("mem_clients_slaves", "0".into());
    kv("mem_clients_normal", o.clients_normal.to_string());
    kv("mem_cluster_links", "0".into());
    kv("mem_aof_buffer", o.aof_buffer.to_string());
    kv("mem_allocator", "libc".into());
    kv("active_defrag_running", "0".into());
    kv(
        "lazyfree_pending_objects",
        crate::store::lazyfree::pending().to_string(),
    );
    kv(
        "lazyfreed_objects",
        crate::store::lazyfree::freed().to_string(),
    );
}

/// The directives `config_changed` reads (honored, though not typed
/// fields of `Config`).
pub const DIRECTIVES: &[&str] = &[
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "maxmemory-eviction-tenacity",
    "lfu-log-factor",
    "lfu-decay-time",
    "maxmemory-clients",
];

/// Reads the maxmemory directives into the store (start-up and CONFIG SET).
pub fn config_changed(srv: &mut Server) {
    use crate::store::evict::Policy;
    let num = |name: &str, default: u64| {
        srv.config
            .value(name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    let maxmemory = num("maxmemory", 0);
    let samples = num("maxmemory-samples", 5) as usize;
    let tenacity = num("maxmemory-eviction-tenacity", 10) as u32;
    let log_factor = num("lfu-log-factor", 10) as u32;
    let decay = num("lfu-decay-time", 1) as u32;
    let policy = srv
        .config
        .value("maxmemory-policy")
        .and_then(|p| Policy::from_name(&p))
        .unwrap_or(Policy::NoEviction);
    let lazy = srv.config.value("lazyfree-lazy-eviction").as_deref() == Some("yes");
    let e = &mut srv.store.evict;
    if maxmemory != 0 && maxmemory != e.maxmemory {
        let used = used_memory() as u64;
        if used > maxmemory {
            log::warn!(
                "WARNING: the new maxmemory value set via CONFIG SET ({maxmemory}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy."
            );
        }
        // Evict from the cron right away, not only before writes.
        e.running = true;
    }
    e.maxmemory = maxmemory;
    crate::store::prealloc::set_maxmemory(maxmemory);
    e.policy = policy;
    e.lfu = policy.is_lfu();
    e.samples = samples.max(1);
    e.tenacity = tenacity.min(100);
    e.lfu_log_factor = log_factor;
    e.lfu_decay_time = decay;
    e.lazy = lazy;
}

/// Redis's shared.oomerr.
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Before a client's command (processCommand): with maxmemory set, evict
/// what the policy allows; true if the command must then be refused with
/// [`OOM_ERROR`] - a denyoom command (an EVAL / FCALL of a script whose
/// flags make it one, or an EXEC queueing one), or any command but
/// EXEC/DISCARD/QUIT/RESET inside MULTI. Remembers whether memory stayed
/// over the limit, for the scripts the command runs.
pub fn must_refuse(
    srv: &mut Server,
    client: &crate::server::Client,
    spec: &crate::commands::CommandSpec,
    args: &crate::commands::Args,
) -> bool {
    use crate::commands::flags::DENYOOM;
    srv.store.evict.oom_before_command = false;
    // Like isSafeToPerformEvictions: not while loading or paused (the
    // dataset must stay still).
    if srv.loading.is_some() || srv.pause.is_some() || client.is_internal() {
        return false;
    }
    let outcome = srv.store.perform_evictions();
    crate::pubsub::notify::after_cron(srv);
    if outcome != crate::store::evict::Outcome::Fail {
        return false;
    }
    srv.store.evict.oom_before_command = true;
    let name = spec.name;
    let exec = name == "exec";
    let script = |s: &crate::commands::CommandSpec, a: &crate::commands::Args| {
        s.group == "scripting" && crate::scripting::command_denies_oom(srv, s, a)
    };
    let denyoom = spec.has(DENYOOM)
        || script(spec, args)
        || (exec
            && client.multi.as_ref().is_some_and(|m| {
                m.queue
                    .iter()
                    .any(|(s, a)| s.has(DENYOOM) || script(s, &a.as_args()))
            }));
    let in_multi = client.multi.is_some() && !matches!(name, "exec" | "discard" | "quit" | "reset");
    denyoom || in_multi
}

/// What a client holds (CLIENT LIST `tot-mem`, what `maxmemory-clients`
/// weighs): its buffers, its unsent output, and as Redis's
/// getClientMemoryUsage the current command's arguments and the queued
/// MULTI commands.
pub fn client_memory(c: &crate::server::Client) -> usize {
    c.query.capacity() + c.reply.buf.capacity() + c.sealed_bytes + c.argv_mem + c.multi_mem()
}

/// `maxmemory-clients` in bytes (a percentage is of maxmemory); 0 = off.
fn clients_limit(srv: &Server) -> u64 {
    let v = srv.config.value("maxmemory-clients").unwrap_or_default();
    match v.strip_suffix('%') {
        Some(p) => srv.store.evict.maxmemory * p.parse::<u64>().unwrap_or(0) / 100,
        None => v.parse().unwrap_or(0),
    }
}

/// Client eviction (`maxmemory-clients`): while the clients' buffers
/// together hold more than the limit, close the biggest client that is not
/// CLIENT NO-EVICT (Redis's evictClients).
pub fn evict_clients(srv: &mut Server) {
    let limit = clients_limit(srv) as usize;
    if limit == 0 {
        return;
    }
    let mut total = 0;
    let mut candidates = Vec::new();
    for (token, c) in srv.clients.iter() {
        let Some(c) = c.as_deref() else { continue };
        let mem = client_memory(c);
        total += mem;
        if !c.no_evict && !c.is_internal() && !c.peer && !c.close_asap {
            candidates.push((mem, token));
        }
    }
    if total <= limit {
        return;
    }
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    let now = std::time::Instant::now();
    for (mem, token) in candidates {
        if total <= limit {
            break;
        }
        if let Some(Some(c)) = srv.clients.get_mut(token) {
            log::info!("Evicting client: {}", c.info_line(now));
            c.close_asap = true;
            total -= mem;
            srv.store.evict.evicted_clients += 1;
            srv.wake_writer(token);
        }
    }
}

/// The cron's share: continue an eviction cycle that ran out of time,
/// client eviction, and the memory peak.
pub fn cron(srv: &mut Server) {
    update_peak();
    evict_clients(srv);
    if srv.store.evict.running && srv.pause.is_none() && srv.loading.is_none() {
        srv.store.perform_evictions();
        crate::pubsub::notify::after_cron(srv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_follow_glibc() {
        assert_eq!(chunk_size(0), 32);
        assert_eq!(chunk_size(24), 32);
        assert_eq!(chunk_size(25), 48);
        assert_eq!(chunk_size(40), 48);
        assert_eq!(chunk_size(1000), 1008);
        assert_eq!(chunk_size(200_000), 200_704);
    }

    #[test]
    fn counter_follows_allocations() {
        // Other test threads allocate too: look for a large, exact-ish step.
        let before = used_memory();
        let v: Vec<u8> = Vec::with_capacity(64 << 20);
        let during = used_memory();
        assert!(during >= before + (60 << 20), "{before} -> {during}");
        drop(v);
        assert!(used_memory() < during - (60 << 20) + (8 << 20));
    }
}
