//! The operator's view of the server: per-command statistics (INFO
//! commandstats / latencystats, LATENCY HISTOGRAM), error statistics (INFO
//! errorstats), the slow log, the latency monitor, MONITOR feeds and the
//! instantaneous rates of INFO stats.
//!
//! Everything is fed from a few places: [`after_call`] on the dispatch path
//! (one clock read per command - its start is the previous command's
//! end within a [`Batch`] - one table index, a histogram increment), [`rejected`] for refused commands, [`unblocked`]
//! for blocked commands that time out, [`latency_event`] and [`cron`]. Errors are counted where every error
//! reply is written (`Reply::error` -> [`note_error`]), like Redis's
//! afterErrorReply.

pub mod hist;
pub mod latency;
pub mod slowlog;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use crate::commands::{Args, CommandSpec, flags, table};
use crate::server::{Client, Server};

/// One command's counters (Redis's redisCommand stats fields).
#[derive(Debug, Default, Clone)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Created at the first tracked call, like Redis's lazy hdr_init.
    pub hist: Option<hist::Histogram>,
}

/// Identity-style hasher for spec addresses (static, 8-byte aligned).
#[derive(Default)]
struct PtrHasher(u64);

impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64 >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Every command and subcommand of the table, with its stats slot.
struct Index {
    slot: HashMap<usize, usize, BuildHasherDefault<PtrHasher>>,
    specs: Vec<&'static CommandSpec>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut specs = Vec::new();
        for top in &table().all {
            specs.push(*top);
            specs.extend(top.subcommands.iter());
        }
        let slot = specs
            .iter()
            .enumerate()
            .map(|(i, s)| (*s as *const CommandSpec as usize, i))
            .collect();
        Index { slot, specs }
    })
}

fn slot_lookup(addr: usize) -> Option<usize> {
    index().slot.get(&addr).copied()
}

/// Wall clock in microseconds (Redis's ustime), straight from
/// clock_gettime (about 50 ns on the benchmark VMs: the dispatch path
/// chains its readings, see [`Batch`]).
#[inline]
pub fn ustime() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000)
        .wrapping_add(ts.tv_nsec as u64 / 1000)
}

thread_local! {
    /// True while the reactor runs the commands of one read ([`Batch`]).
    static IN_BATCH: Cell<bool> = const { Cell::new(false) };
    /// Inside a batch: the clock reading that ended the last command, which
    /// starts the next one (0: none yet, or something ran since without
    /// reading the clock - the next command reads its own start).
    static LAST_READ: Cell<u64> = const { Cell::new(0) };
    /// Commands ended (clock reads at an end), for [`clock_settle`].
    static ENDS: Cell<u64> = const { Cell::new(0) };
}

/// One pipelined read's commands (the reactor's `process_input`): each
/// command's start is the reading that ended the previous one, so a
/// command costs one clock read instead of two. Outside a batch (timers,
/// notices, AOF loading) every call reads its own start.
pub struct Batch {
    outer: bool,
}

impl Batch {
    #[inline]
    pub fn start() -> Batch {
        let outer = IN_BATCH.with(|b| b.replace(true));
        if !outer {
            LAST_READ.with(|t| t.set(0));
        }
        Batch { outer }
    }
}

impl Drop for Batch {
    #[inline]
    fn drop(&mut self) {
        if !self.outer {
            IN_BATCH.with(|b| b.set(false));
            LAST_READ.with(|t| t.set(0));
        }
    }
}

/// A command's start time: the batch's last reading, or a fresh one.
#[inline]
pub fn call_started() -> u64 {
    match LAST_READ.with(|t| t.get()) {
        0 => ustime(),
        t => t,
    }
}

/// How many commands ended so far, for [`clock_settle`].
#[inline]
pub fn clock_mark() -> u64 {
    ENDS.with(|n| n.get())
}

/// After a command that may have run without reading the clock (refused,
/// queued in MULTI, routed): if the chain did not move, the time since its
/// last reading is not the next command's, so the next one reads afresh.
#[inline]
pub fn clock_settle(mark: u64) {
    if ENDS.with(|n| n.get()) == mark {
        LAST_READ.with(|t| t.set(0));
    }
}

/// Reads the clock at a command's end; inside a batch the reading starts
/// the next command.
#[inline]
fn call_ended() -> u64 {
    let now = ustime();
    if IN_BATCH.with(|b| b.get()) {
        LAST_READ.with(|t| t.set(now));
        ENDS.with(|n| n.set(n.get().wrapping_add(1)));
    }
    now
}

/// Direct-mapped cache in front of the spec -> slot map (a pipeline
/// alternates a few commands; this makes the lookup a compare).
const SLOT_CACHE: usize = 64;

/// Directive values read on every command, cached (refreshed after CONFIG
/// SET by [`config_changed`]).
#[derive(Debug, Clone)]
pub struct Settings {
    pub slowlog_slower_than: i64,
    pub slowlog_max_len: usize,
    pub latency_threshold_ms: u64,
    pub latency_tracking: bool,
    pub percentiles: Vec<f64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            slowlog_slower_than: 10_000,
            slowlog_max_len: 128,
            latency_threshold_ms: 0,
            latency_tracking: true,
            percentiles: vec![50.0, 99.0, 99.9],
        }
    }
}

/// Samples of the instantaneous metrics (Redis's STATS_METRIC_SAMPLES).
const METRIC_SAMPLES: usize = 16;

#[derive(Debug, Default, Clone)]
struct Metric {
    last_at_ms: u64,
    last_value: u64,
    samples: [u64; METRIC_SAMPLES],
    idx: usize,
}

impl Metric {
    /// trackInstantaneousMetric: the rate since the previous sample.
    fn track(&mut self, value: u64, now_ms: u64) {
        if self.last_at_ms != 0 {
            let dt = now_ms.saturating_sub(self.last_at_ms).max(1);
            let dv = value.saturating_sub(self.last_value);
            self.samples[self.idx] = dv * 1000 / dt;
            self.idx = (self.idx + 1) % METRIC_SAMPLES;
        }
        self.last_at_ms = now_ms;
        self.last_value = value;
    }

    fn average(&self) -> u64 {
        self.samples.iter().sum::<u64>() / METRIC_SAMPLES as u64
    }
}

/// The state behind INFO's operator sections, SLOWLOG, LATENCY, MONITOR.
#[derive(Debug, Default)]
pub struct Ops {
    pub cmd: Vec<CmdStat>,
    pub settings: Settings,
    pub slowlog: slowlog::SlowLog,
    pub latency: latency::Monitor,
    /// Ids of clients in MONITOR mode, in the order they asked.
    pub monitors: Vec<u64>,
    ops_metric: Metric,
    in_metric: Metric,
    out_metric: Metric,
    last_sample_ms: u64,
    /// (spec address, stat slot), see [`SLOT_CACHE`].
    slot_cache: Vec<(usize, usize)>,
    /// Set while a blocked command is run again to serve it.
    pub reprocessing: bool,
    /// `total_reads_processed` / `total_writes_processed`.
    pub reads: u64,
    pub writes: u64,
}

impl Ops {
    #[inline(always)]
    fn stat_mut(&mut self, spec: &'static CommandSpec) -> Option<&mut CmdStat> {
        let addr = spec as *const CommandSpec as usize;
        let way = (addr >> 4) % SLOT_CACHE;
        let i = match self.slot_cache.get(way) {
            Some(&(a, i)) if a == addr => i,
            _ => {
                let i = slot_lookup(addr)?;
                if self.slot_cache.len() != SLOT_CACHE {
                    self.slot_cache = vec![(0, 0); SLOT_CACHE];
                }
                self.slot_cache[way] = (addr, i);
                i
            }
        };
        if self.cmd.is_empty() {
            self.cmd = vec![CmdStat::default(); index().specs.len()];
        }
        self.cmd.get_mut(i)
    }

    /// (spec, stat) of every command with a stat slot, table order.
    pub fn stats(&self) -> impl Iterator<Item = (&'static CommandSpec, &CmdStat)> {
        index().specs.iter().copied().zip(self.cmd.iter())
    }

    /// Instantaneous ops/sec, input and output kbps.
    pub fn instantaneous(&self) -> (u64, f64, f64) {
        (
            self.ops_metric.average(),
            self.in_metric.average() as f64 / 1024.0,
            self.out_metric.average() as f64 / 1024.0,
        )
    }

    /// CONFIG RESETSTAT: command and error tables, instantaneous samples.
    pub fn reset_stats(&mut self) {
        self.cmd.clear();
        self.ops_metric = Metric::default();
        self.in_metric = Metric::default();
        self.out_metric = Metric::default();
        self.reads = 0;
        self.writes = 0;
        reset_errors();
    }
}

/// Re-reads the cached directives (start-up and after CONFIG SET).
pub fn config_changed(srv: &mut Server) {
    let get = |n: &str| srv.config.value(n).unwrap_or_default();
    let s = &mut srv.ops.settings;
    s.slowlog_slower_than = get("slowlog-log-slower-than").parse().unwrap_or(10_000);
    s.slowlog_max_len = get("slowlog-max-len").parse().unwrap_or(128);
    s.latency_threshold_ms = get("latency-monitor-threshold").parse().unwrap_or(0);
    s.latency_tracking = get("latency-tracking") != "no";
    s.percentiles = get("latency-tracking-info-percentiles")
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    // A lower slowlog-max-len applies at the next push, as in Redis.
}

// ------------------------------------------------------------------ errors

/// Most distinct error codes tracked (Redis 7.2's ERROR_STATS_NUMBER; a
/// script can invent codes without end).
const MAX_ERROR_KINDS: usize = 128;

// Error counters live with the thread that writes replies (the reactor):
// `Reply::error` has no access to the Server. Servers embedded in one
// process on one thread (unit tests) would share them.
thread_local! {
    static ERROR_TOTAL: Cell<u64> = const { Cell::new(0) };
    static ERROR_SEEN: Cell<u64> = const { Cell::new(0) };
    static ERRORS: RefCell<BTreeMap<String, u64>> = const { RefCell::new(BTreeMap::new()) };
    /// The next error reply repeats one already counted (a script's
    /// redis.call error): Redis's ERR_REPLY_FLAG_NO_STATS_UPDATE.
    static SKIP_NEXT: Cell<bool> = const { Cell::new(false) };
    /// Such a reply was written: the running command still failed.
    static FAILED_UNCOUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Marks the next error reply as already counted.
pub fn error_already_counted() {
    SKIP_NEXT.with(|s| s.set(true));
}

/// Counts one error reply by its code: the first word (within the first
/// 32 bytes), or ERR without one - Redis's afterErrorReply rule.
pub fn note_error(msg: &str) {
    if SKIP_NEXT.with(|s| s.replace(false)) {
        FAILED_UNCOUNTED.with(|f| f.set(true));
        return;
    }
    ERROR_TOTAL.with(|t| t.set(t.get() + 1));
    let head = &msg.as_bytes()[..msg.len().min(32)];
    let code = match head.iter().position(|&b| b == b' ') {
        Some(i) => &msg[..i],
        None => "ERR",
    };
    ERRORS.with(|e| {
        let mut e = e.borrow_mut();
        if let Some(n) = e.get_mut(code) {
            *n += 1;
        } else if e.len() < MAX_ERROR_KINDS {
            e.insert(code.to_string(), 1);
        }
    });
}

/// `total_error_replies`.
pub fn error_total() -> u64 {
    ERROR_TOTAL.with(|t| t.get())
}

/// (code, count) in code order (INFO errorstats).
pub fn error_counts() -> Vec<(String, u64)> {
    ERRORS.with(|e| e.borrow().iter().map(|(k, v)| (k.clone(), *v)).collect())
}

fn reset_errors() {
    ERROR_TOTAL.with(|t| t.set(0));
    ERROR_SEEN.with(|t| t.set(0));
    ERRORS.with(|e| e.borrow_mut().clear());
}

/// Redis's incrCommandStatsOnError: whether error replies were written
/// since the last check (the check itself moves the mark).
#[inline]
fn new_errors() -> bool {
    let total = error_total();
    let uncounted = FAILED_UNCOUNTED.with(|f| f.replace(false));
    ERROR_SEEN.with(|s| {
        let fresh = total > s.get();
        s.set(total);
        fresh || uncounted
    })
}

/// Marks the errors written so far as seen (before a command runs).
#[inline]
pub fn mark_errors() {
    SKIP_NEXT.with(|s| s.set(false));
    FAILED_UNCOUNTED.with(|f| f.set(false));
    let total = error_total();
    ERROR_SEEN.with(|s| s.set(total));
}

// ---------------------------------------------------------------- dispatch

/// A command refused before running (arity, NOAUTH, ...): rejected_calls.
pub fn rejected(srv: &mut Server, spec: Option<&'static CommandSpec>) {
    let fresh = new_errors();
    if let Some(spec) = spec
        && fresh
        && let Some(st) = srv.ops.stat_mut(spec)
    {
        st.rejected += 1;
    }
}

/// After a handler ran: calls, time, failures, histogram, slow log,
/// latency monitor, MONITOR feed.
#[inline]
pub fn after_call(
    srv: &mut Server,
    client: &mut Client,
    spec: &'static CommandSpec,
    args: &Args,
    started_us: u64,
) {
    // AOF replay is not a client's command (Redis's isAOFLoadingContext).
    if srv.loading.is_some() && client.is_internal() {
        return;
    }
    let usec = call_ended().saturating_sub(started_us);
    let failed = new_errors();
    // A command that blocked is counted when it is served (Redis's
    // CLIENT_BLOCKED rule); MONITOR sees it once, when it was sent.
    if client.park.is_some() {
        if !srv.ops.monitors.is_empty() && !srv.ops.reprocessing {
            feed_monitors(srv, client, args);
        }
        return;
    }
    let tracking = srv.ops.settings.latency_tracking;
    if let Some(st) = srv.ops.stat_mut(spec) {
        st.calls += 1;
        st.usec += usec;
        st.failed += failed as u64;
        if tracking {
            st.hist
                .get_or_insert_with(hist::Histogram::default)
                .record(usec * 1000);
        }
    }
    let s = &srv.ops.settings;
    if s.slowlog_slower_than >= 0
        && usec as i64 >= s.slowlog_slower_than
        && !spec.has(flags::SKIP_SLOWLOG)
    {
        let max = s.slowlog_max_len;
        srv.ops.slowlog.push(client, args, usec, max);
    }
    let threshold = srv.ops.settings.latency_threshold_ms;
    if threshold > 0 && usec / 1000 >= threshold {
        let event = if spec.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        srv.ops.latency.add(event, usec / 1000);
    }
    if !srv.ops.monitors.is_empty()
        && !srv.ops.reprocessing
        && !spec.has(flags::SKIP_MONITOR)
        && !spec.has(flags::ADMIN)
    {
        feed_monitors(srv, client, args);
    }
}

/// A blocked command ended without being served (timeout, CLIENT
/// UNBLOCK): Redis's updateStatsOnUnblock counts the call then.
pub fn unblocked(srv: &mut Server, argv: &crate::commands::OwnedArgs, failed: bool) {
    let Ok(spec) = crate::commands::resolve(&argv.as_args()) else {
        return;
    };
    srv.stats.commands_processed += 1;
    let tracking = srv.ops.settings.latency_tracking;
    if let Some(st) = srv.ops.stat_mut(spec) {
        st.calls += 1;
        st.failed += failed as u64;
        if tracking {
            st.hist
                .get_or_insert_with(hist::Histogram::default)
                .record(0);
        }
    }
    // The error reply was counted when written; it is this call's.
    mark_errors();
}

/// Before a handler runs: scripts (skip_monitor) are shown to MONITOR
/// before the commands they run, as Redis's evalGenericCommand does.
pub fn before_call(srv: &mut Server, client: &mut Client, spec: &'static CommandSpec, args: &Args) {
    if spec.has(flags::SKIP_MONITOR) && spec.group == "scripting" && !srv.ops.reprocessing {
        feed_monitors(srv, client, args);
    }
}

/// Reports an event's duration to the latency monitor when it reaches
/// `latency-monitor-threshold` (latencyAddSampleIfNeeded).
pub fn latency_event(srv: &mut Server, event: &'static str, ms: u64) {
    let t = srv.ops.settings.latency_threshold_ms;
    if t > 0 && ms >= t {
        srv.ops.latency.add(event, ms);
    }
}

// ----------------------------------------------------------------- monitor

/// Redis's sdscatrepr: a quoted string with C-style escapes.
pub fn repr(out: &mut String, s: &[u8]) {
    out.push_str(&crate::config::repr(s));
}

/// Arguments Redis 7.0 replaces by `(redacted)` (AUTH's password, HELLO's
/// AUTH user and password, MIGRATE's AUTH/AUTH2): their argv indexes.
fn redacted(args: &Args) -> Vec<usize> {
    let name = args.get(0).unwrap_or(b"");
    let mut out = Vec::new();
    if name.eq_ignore_ascii_case(b"auth") {
        out.extend(1..args.len());
    } else if name.eq_ignore_ascii_case(b"hello") {
        let mut i = 2;
        while i < args.len() {
            if args[i].eq_ignore_ascii_case(b"auth") && i + 2 < args.len() {
                out.extend([i + 1, i + 2]);
                i += 3;
            } else if args[i].eq_ignore_ascii_case(b"setname") {
                i += 2;
            } else {
                i += 1;
            }
        }
    } else if name.eq_ignore_ascii_case(b"migrate") {
        let mut i = 6;
        while i < args.len() {
            if args[i].eq_ignore_ascii_case(b"auth") {
                out.push(i + 1);
                i += 2;
            } else if args[i].eq_ignore_ascii_case(b"auth2") {
                out.extend([i + 1, i + 2]);
                i += 3;
            } else if args[i].eq_ignore_ascii_case(b"keys") {
                break;
            } else {
                i += 1;
            }
        }
    }
    out
}

/// The argv as logged (SLOWLOG) and shown (MONITOR): redacted arguments
/// replaced.
pub fn shown_arg<'a>(args: &Args<'a>, redact: &[usize], i: usize) -> &'a [u8] {
    if redact.contains(&i) {
        b"(redacted)"
    } else {
        args.get(i).unwrap_or(b"")
    }
}

/// replicationFeedMonitors: one `+<time> [<db> <addr>] "arg" ...` line to
/// every MONITOR client.
fn feed_monitors(srv: &mut Server, client: &mut Client, args: &Args) {
    use std::fmt::Write as _;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = String::with_capacity(64);
    let _ = write!(line, "{}.{:06} ", now.as_secs(), now.subsec_micros());
    if client.is_internal() {
        let _ = write!(line, "[{} lua] ", client.db);
    } else {
        let _ = write!(line, "[{} {}] ", client.db, client.addr);
    }
    let redact = redacted(args);
    for i in 0..args.len() {
        if i > 0 {
            line.push(' ');
        }
        repr(&mut line, shown_arg(args, &redact, i));
    }
    let mut live = Vec::with_capacity(srv.ops.monitors.len());
    let limits = srv.pubsub.limits;
    let now = std::time::Instant::now();
    for id in std::mem::take(&mut srv.ops.monitors) {
        if id == client.id && !client.is_internal() {
            client.reply.simple(&line);
            live.push(id);
            continue;
        }
        let Some(&token) = srv.client_ids.get(&id) else {
            continue;
        };
        if let Some(Some(m)) = srv.clients.get_mut(token)
            && m.id == id
        {
            live.push(id);
            if m.close_asap {
                continue;
            }
            m.reply.simple(&line);
            // A monitor that stops reading meets its class's limits
            // (normal: Redis's getClientType does not count it a replica).
            crate::pubsub::limits::check(&limits, m, now);
            srv.wake_writer(token);
        } else if srv.clients.get(token).is_some_and(|c| c.is_none()) {
            // Taken out of the slab while it runs (not this client): keep.
            live.push(id);
        }
    }
    srv.ops.monitors = live;
}

// -------------------------------------------------------------------- cron

/// Cron work: the instantaneous metrics every 100 ms (Redis's
/// run_with_period(100) trackInstantaneousMetric).
pub fn cron(srv: &mut Server) {
    let now = crate::store::unix_ms();
    if now.saturating_sub(srv.ops.last_sample_ms) < 100 {
        return;
    }
    srv.ops.last_sample_ms = now;
    let st = &srv.stats;
    let (c, i, o) = (
        st.commands_processed,
        st.net_input_bytes,
        st.net_output_bytes,
    );
    srv.ops.ops_metric.track(c, now);
    srv.ops.in_metric.track(i, now);
    srv.ops.out_metric.track(o, now);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_escapes_like_sdscatrepr() {
        let mut s = String::new();
        repr(&mut s, b"a\"b\\c\n\r\t\x07\x08\x00\xff ~");
        assert_eq!(s, r#""a\"b\\c\n\r\t\a\b\x00\xff ~""#);
    }

    #[test]
    fn error_codes_follow_redis_rules() {
        reset_errors();
        note_error("WRONGTYPE Operation against a key");
        note_error("ERR syntax error");
        note_error("NOSPACEINTHEFIRST32BYTES_________________ x");
        note_error("NOSPACE");
        let counts = error_counts();
        assert_eq!(
            counts,
            vec![("ERR".to_string(), 3), ("WRONGTYPE".to_string(), 1)]
        );
        assert_eq!(error_total(), 4);
        assert!(new_errors());
        assert!(!new_errors());
    }

    #[test]
    fn metric_averages_rates() {
        let mut m = Metric::default();
        m.track(0, 1000);
        for k in 1..=16 {
            m.track(k * 100, 1000 + k * 100);
        }
        assert_eq!(m.average(), 1000);
    }
}
