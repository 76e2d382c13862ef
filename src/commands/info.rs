//! INFO: the sections of Redis 7.0's INFO (server, clients, memory,
//! persistence, stats, replication, cpu, modules, commandstats, errorstats,
//! latencystats, cluster, keyspace), the section selectors (`default`, `all`,
//! `everything`, several names) and the text layout.
//!
//! Other modules contribute their lines through one call each from
//! [`section`]; the counters themselves live where they are counted.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Args, CmdResult};
use crate::server::{Client, Server};

/// `redis_mode` of INFO and `mode` of HELLO.
pub fn redis_mode(srv: &Server) -> &'static str {
    if srv.cluster.is_some() {
        "cluster"
    } else {
        "standalone"
    }
}

/// INFO sections in Redis's order: (name, header, in the default set).
const SECTIONS: &[(&str, &str, bool)] = &[
    ("server", "Server", true),
    ("clients", "Clients", true),
    ("memory", "Memory", true),
    ("persistence", "Persistence", true),
    ("stats", "Stats", true),
    ("replication", "Replication", true),
    ("cpu", "CPU", true),
    ("modules", "Modules", true),
    ("commandstats", "Commandstats", false),
    ("errorstats", "Errorstats", true),
    ("latencystats", "Latencystats", false),
    ("cluster", "Cluster", true),
    ("keyspace", "Keyspace", true),
];

pub(crate) fn info(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut wanted = [false; SECTIONS.len()];
    if args.len() == 1 {
        for (w, s) in wanted.iter_mut().zip(SECTIONS) {
            *w = s.2;
        }
    }
    for a in args.iter().skip(1) {
        let a = a.to_ascii_lowercase();
        match a.as_slice() {
            b"default" => {
                for (w, s) in wanted.iter_mut().zip(SECTIONS) {
                    *w |= s.2;
                }
            }
            b"all" | b"everything" => wanted = [true; SECTIONS.len()],
            name => {
                if let Some(i) = SECTIONS.iter().position(|s| s.0.as_bytes() == name) {
                    wanted[i] = true;
                }
            }
        }
    }
    let text = info_text(srv, c, &wanted);
    c.reply.verbatim(text.as_bytes());
    Ok(())
}

/// Builds the INFO text for the selected sections (CRLF line endings,
/// sections separated by an empty line, no trailing empty line).
fn info_text(srv: &Server, c: &Client, wanted: &[bool]) -> String {
    let mut out = String::with_capacity(4096);
    let mut first = true;
    for (i, &(name, header, _)) in SECTIONS.iter().enumerate() {
        if !wanted.get(i).copied().unwrap_or(false) {
            continue;
        }
        if !first {
            out.push_str("\r\n");
        }
        first = false;
        let _ = write!(out, "# {}\r\n", header);
        let mut lines = Vec::new();
        section(srv, c, name, &mut lines);
        for (k, v) in lines {
            let _ = write!(out, "{}:{}\r\n", k, v);
        }
    }
    out
}

fn section(srv: &Server, c: &Client, name: &str, l: &mut Vec<(String, String)>) {
    let mut kv = |k: &str, v: String| l.push((k.to_string(), v));
    match name {
        "server" => {
            let uptime = srv.started.elapsed().as_secs();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            kv("redis_version", crate::REDIS_VERSION.into());
            kv("memkv_version", env!("CARGO_PKG_VERSION").into());
            kv("redis_git_sha1", "00000000".into());
            kv("redis_git_dirty", "0".into());
            kv("redis_build_id", "0".into());
            kv("redis_mode", redis_mode(srv).into());
            kv("os", os_name());
            kv("arch_bits", (usize::BITS).to_string());
            kv("monotonic_clock", "POSIX clock_gettime".into());
            kv("multiplexing_api", "epoll".into());
            kv("atomicvar_api", "c11-builtin".into());
            kv("gcc_version", "0.0.0".into());
            kv("process_id", std::process::id().to_string());
            kv("process_supervised", "no".into());
            kv("run_id", srv.run_id.clone());
            kv("tcp_port", srv.port.to_string());
            kv("server_time_usec", now.as_micros().to_string());
            kv("uptime_in_seconds", uptime.to_string());
            kv("uptime_in_days", (uptime / 86400).to_string());
            kv("hz", srv.config.hz.to_string());
            kv("configured_hz", srv.config.hz.to_string());
            kv("lru_clock", ((now.as_secs()) & ((1 << 24) - 1)).to_string());
            kv(
                "executable",
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
            kv(
                "config_file",
                srv.config
                    .config_file
                    .as_ref()
                    .map(|p| {
                        std::fs::canonicalize(p)
                            .unwrap_or_else(|_| p.clone())
                            .display()
                            .to_string()
                    })
                    .unwrap_or_default(),
            );
            kv("io_threads_active", "0".into());
        }
        "clients" => {
            let others = srv.clients.iter().filter_map(|(_, c)| c.as_deref());
            let mut max_in = c.query_len();
            let mut max_out = c.unsent();
            let mut blocked = c.park.is_some() as usize;
            for o in others {
                max_in = max_in.max(o.query_len());
                max_out = max_out.max(o.unsent());
                blocked += o.park.is_some() as usize;
            }
            kv("connected_clients", srv.client_count().to_string());
            kv("cluster_connections", "0".into());
            kv("maxclients", srv.config.maxclients.to_string());
            kv("client_recent_max_input_buffer", max_in.to_string());
            kv("client_recent_max_output_buffer", max_out.to_string());
            kv("blocked_clients", blocked.to_string());
            kv("tracking_clients", srv.pubsub.tracking.clients.to_string());
            kv("clients_in_timeout_table", "0".into());
        }
        "memory" => crate::memory::info_section(srv, &mut kv),
        "persistence" => {
            let started = unix_secs(srv.started_unix);
            kv("loading", (srv.loading.is_some() as u8).to_string());
            kv("async_loading", "0".into());
            if let Some(ld) = &srv.loading {
                let perc = if ld.bytes_total == 0 {
                    100.0
                } else {
                    ld.bytes_done as f64 * 100.0 / ld.bytes_total as f64
                };
                kv("loading_start_time", started.to_string());
                kv("loading_total_bytes", ld.bytes_total.to_string());
                kv("loading_rdb_used_mem", "0".into());
                kv("loading_loaded_bytes", ld.bytes_done.to_string());
                kv("loading_loaded_perc", format!("{:.2}", perc));
                kv("loading_eta_seconds", "1".into());
            }
            kv("current_cow_peak", "0".into());
            kv("current_cow_size", "0".into());
            kv("current_cow_size_age", "0".into());
            kv("current_fork_perc", "0.00".into());
            kv("current_save_keys_processed", "0".into());
            kv("current_save_keys_total", "0".into());
            for (k, v) in crate::rdb::persist::info_fields(srv) {
                kv(k, v);
            }
            let aof = srv.aof.as_ref();
            let in_progress = aof.is_some_and(|a| a.rewrite_in_progress());
            let flag = |b: bool| (b as u8).to_string();
            kv("aof_enabled", flag(aof.is_some()));
            kv("aof_rewrite_in_progress", flag(in_progress));
            kv(
                "aof_rewrite_scheduled",
                flag(aof.is_some_and(|a| a.rewrite_scheduled)),
            );
            kv(
                "aof_last_rewrite_time_sec",
                aof.map_or(-1, |a| a.last_rewrite_secs).to_string(),
            );
            // The start of a running rewrite is private to the AOF module.
            kv(
                "aof_current_rewrite_time_sec",
                if in_progress { "0" } else { "-1" }.into(),
            );
            let ok = |b: bool| if b { "ok" } else { "err" }.to_string();
            kv(
                "aof_last_bgrewrite_status",
                ok(aof.is_none_or(|a| a.last_rewrite_ok)),
            );
            kv("aof_rewrites", "0".into());
            kv("aof_rewrites_consecutive_failures", "0".into());
            kv(
                "aof_last_write_status",
                ok(aof.is_none_or(|a| a.write_error.is_none())),
            );
            kv("aof_last_cow_size", "0".into());
            kv("module_fork_in_progress", "0".into());
            kv("module_fork_last_cow_size", "0".into());
            if let Some(a) = aof {
                use std::sync::atomic::Ordering::Relaxed;
                kv(
                    "aof_current_size",
                    a.sizes.current.load(Relaxed).to_string(),
                );
                kv("aof_base_size", a.sizes.base.load(Relaxed).to_string());
                kv("aof_pending_rewrite", flag(a.rewrite_scheduled));
                // Queued for the threads plus this round's appends, not yet
                // handed over.
                let held = srv.store.prop.buf.len();
                kv("aof_buffer_length", (a.queued() + held).to_string());
                kv("aof_pending_bio_fsync", "0".into());
                kv("aof_delayed_fsync", "0".into());
            }
        }
        "stats" => {
            let st = &srv.stats;
            let (ops, in_kbps, out_kbps) = srv.ops.instantaneous();
            kv(
                "total_connections_received",
                st.connections_received.to_string(),
            );
            kv(
                "total_commands_processed",
                st.commands_processed.to_string(),
            );
            kv("instantaneous_ops_per_sec", ops.to_string());
            kv("total_net_input_bytes", st.net_input_bytes.to_string());
            kv("total_net_output_bytes", st.net_output_bytes.to_string());
            kv("total_net_repl_input_bytes", "0".into());
            kv("total_net_repl_output_bytes", "0".into());
            kv("instantaneous_input_kbps", format!("{:.2}", in_kbps));
            kv("instantaneous_output_kbps", format!("{:.2}", out_kbps));
            kv("instantaneous_input_repl_kbps", "0.00".into());
            kv("instantaneous_output_repl_kbps", "0.00".into());
            kv("rejected_connections", st.rejected_connections.to_string());
            kv("sync_full", "0".into());
            kv("sync_partial_ok", "0".into());
            kv("sync_partial_err", "0".into());
            kv("expired_keys", srv.store.expired_keys.to_string());
            kv("expired_stale_perc", "0.00".into());
            kv("expired_time_cap_reached_count", "0".into());
            kv("expire_cycle_cpu_milliseconds", "0".into());
            kv("evicted_keys", srv.store.evicted_keys.to_string());
            kv(
                "evicted_clients",
                srv.store.evict.evicted_clients.to_string(),
            );
            kv("total_eviction_exceeded_time", "0".into());
            kv("current_eviction_exceeded_time", "0".into());
            kv("keyspace_hits", srv.store.keyspace_hits.to_string());
            kv("keyspace_misses", srv.store.keyspace_misses.to_string());
            let (channels, patterns, shard) = srv.pubsub.counts();
            kv("pubsub_channels", channels.to_string());
            kv("pubsub_patterns", patterns.to_string());
            kv("pubsubshard_channels", shard.to_string());
            kv("latest_fork_usec", "0".into());
            kv("total_forks", "0".into());
            kv(
                "migrate_cached_sockets",
                srv.migrate.cache.len().to_string(),
            );
            kv("slave_expires_tracked_keys", "0".into());
            kv("active_defrag_hits", "0".into());
            kv("active_defrag_misses", "0".into());
            kv("active_defrag_key_hits", "0".into());
            kv("active_defrag_key_misses", "0".into());
            kv("total_active_defrag_time", "0".into());
            kv("current_active_defrag_time", "0".into());
            let (keys, items, prefixes) = srv.pubsub.tracking.totals();
            kv("tracking_total_keys", keys.to_string());
            kv("tracking_total_items", items.to_string());
            kv("tracking_total_prefixes", prefixes.to_string());
            kv("unexpected_error_replies", "0".into());
            kv("total_error_replies", crate::ops::error_total().to_string());
            kv("dump_payload_sanitizations", "0".into());
            kv("total_reads_processed", srv.ops.reads.to_string());
            kv("total_writes_processed", srv.ops.writes.to_string());
            kv("io_threaded_reads_processed", "0".into());
            kv("io_threaded_writes_processed", "0".into());
            kv("reply_buffer_shrinks", "0".into());
            kv("reply_buffer_expands", "0".into());
        }
        "replication" => {
            kv("role", "master".into());
            kv("connected_slaves", "0".into());
            kv("master_failover_state", "no-failover".into());
            kv("master_replid", replid(&srv.run_id));
            kv("master_replid2", "0".repeat(40));
            kv("master_repl_offset", "0".into());
            kv("second_repl_offset", "-1".into());
            kv("repl_backlog_active", "0".into());
            kv("repl_backlog_size", "1048576".into());
            kv("repl_backlog_first_byte_offset", "0".into());
            kv("repl_backlog_histlen", "0".into());
        }
        "cpu" => {
            let (s, u) = rusage(libc::RUSAGE_SELF);
            let (cs, cu) = rusage(libc::RUSAGE_CHILDREN);
            let (ts, tu) = rusage(libc::RUSAGE_THREAD);
            kv("used_cpu_sys", s);
            kv("used_cpu_user", u);
            kv("used_cpu_sys_children", cs);
            kv("used_cpu_user_children", cu);
            kv("used_cpu_sys_main_thread", ts);
            kv("used_cpu_user_main_thread", tu);
        }
        "cluster" => super::cluster::info_section(srv, &mut kv),
        "keyspace" => {
            for i in 0..srv.store.db_count() {
                let db = srv.store.db(i);
                if !db.is_empty() {
                    l.push((
                        format!("db{}", i),
                        format!("keys={},expires={},avg_ttl=0", db.len(), db.expires_len()),
                    ));
                }
            }
        }
        "commandstats" => {
            for (spec, st) in srv.ops.stats() {
                if st.calls == 0 && st.failed == 0 && st.rejected == 0 {
                    continue;
                }
                l.push((
                    format!("cmdstat_{}", spec.name),
                    format!(
                        "calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}",
                        st.calls,
                        st.usec,
                        if st.calls == 0 {
                            0.0
                        } else {
                            st.usec as f64 / st.calls as f64
                        },
                        st.rejected,
                        st.failed
                    ),
                ));
            }
        }
        "errorstats" => {
            for (code, n) in crate::ops::error_counts() {
                l.push((format!("errorstat_{code}"), format!("count={n}")));
            }
        }
        "latencystats" => {
            let pcts = &srv.ops.settings.percentiles;
            for (spec, st) in srv.ops.stats() {
                let Some(h) = &st.hist else { continue };
                let mut v = String::new();
                for (i, &p) in pcts.iter().enumerate() {
                    if i > 0 {
                        v.push(',');
                    }
                    let _ = write!(
                        v,
                        "p{}={:.3}",
                        crate::ops::hist::trim_double(p),
                        h.value_at_percentile(p) as f64 / 1000.0
                    );
                }
                l.push((format!("latency_percentiles_usec_{}", spec.name), v));
            }
        }
        // modules: none.
        _ => {}
    }
}

fn os_name() -> String {
    // SAFETY: utsname is plain old data, valid when zeroed.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return std::env::consts::OS.to_string();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

/// Redis's bytesToHuman: `123B`, `1.23K`, `12.09M`, ...
pub(crate) fn bytes_to_human(n: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (1 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for &(size, unit) in UNITS {
        if n >= size {
            return format!("{:.2}{}", n as f64 / size as f64, unit);
        }
    }
    format!("{}B", n)
}

pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A replication id distinct from the run id (Redis draws both at random).
fn replid(run_id: &str) -> String {
    run_id.chars().rev().collect()
}

/// (sys, user) CPU seconds as Redis prints them (`%ld.%06ld`).
fn rusage(who: libc::c_int) -> (String, String) {
    // SAFETY: rusage is plain old data, valid when zeroed.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return ("0.000000".into(), "0.000000".into());
    }
    let f = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    (f(ru.ru_stime), f(ru.ru_utime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1286832), "1.23M");
        assert_eq!(bytes_to_human(12681216), "12.09M");
        assert_eq!(bytes_to_human(25276502016), "23.54G");
    }
}
