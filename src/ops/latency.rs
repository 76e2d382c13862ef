//! The latency monitor (LATENCY LATEST / HISTORY / RESET / DOCTOR / GRAPH):
//! per event a ring of the last 160 per-second maxima and the all-time
//! maximum, fed when an event reaches `latency-monitor-threshold` ms, plus
//! the DOCTOR report and the ASCII sparkline of Redis's latency.c.

/// Redis's LATENCY_TS_LEN.
const TS_LEN: usize = 160;

#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Unix seconds (0 = unused slot).
    pub time: u64,
    pub ms: u64,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub samples: [Sample; TS_LEN],
    pub idx: usize,
    pub max: u64,
}

impl Series {
    /// The used samples, oldest first.
    pub fn history(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..TS_LEN)
            .map(move |j| self.samples[(self.idx + j) % TS_LEN])
            .filter(|s| s.time != 0)
    }

    pub fn latest(&self) -> Sample {
        self.samples[(self.idx + TS_LEN - 1) % TS_LEN]
    }
}

/// Events in first-seen order.
#[derive(Debug, Default)]
pub struct Monitor {
    pub events: Vec<(String, Box<Series>)>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Monitor {
    pub fn get(&self, event: &[u8]) -> Option<(&str, &Series)> {
        self.events
            .iter()
            .find(|(n, _)| n.as_bytes() == event)
            .map(|(n, s)| (n.as_str(), &**s))
    }

    /// latencyAddSample: one sample per second per event (the highest).
    pub fn add(&mut self, event: &str, ms: u64) {
        self.add_at(event, ms, unix_now());
    }

    fn add_at(&mut self, event: &str, ms: u64, now: u64) {
        let pos = match self.events.iter().position(|(n, _)| n == event) {
            Some(p) => p,
            None => {
                self.events.push((
                    event.to_string(),
                    Box::new(Series {
                        samples: [Sample::default(); TS_LEN],
                        idx: 0,
                        max: 0,
                    }),
                ));
                self.events.len() - 1
            }
        };
        let ts = &mut self.events[pos].1;
        ts.max = ts.max.max(ms);
        let prev = (ts.idx + TS_LEN - 1) % TS_LEN;
        if ts.samples[prev].time == now {
            ts.samples[prev].ms = ts.samples[prev].ms.max(ms);
            return;
        }
        ts.samples[ts.idx] = Sample { time: now, ms };
        ts.idx = (ts.idx + 1) % TS_LEN;
    }

    /// latencyResetEvent: the event (case-insensitive), or all with None.
    pub fn reset(&mut self, event: Option<&[u8]>) -> usize {
        let before = self.events.len();
        self.events
            .retain(|(n, _)| event.is_some_and(|e| !n.as_bytes().eq_ignore_ascii_case(e)));
        before - self.events.len()
    }
}

/// The values DOCTOR reads from the configuration.
pub struct DoctorCtx {
    pub threshold_ms: u64,
    pub slowlog_slower_than: i64,
    pub fsync_always: bool,
    pub hz: u64,
    pub anon_huge_pages: bool,
}

/// analyzeLatencyForEvent: (samples, avg, mad, period).
fn analyze(ts: &Series, now: u64) -> (u64, u64, u64, u64) {
    let used: Vec<Sample> = ts.samples.iter().copied().filter(|s| s.time != 0).collect();
    if used.is_empty() {
        return (0, 0, 0, 0);
    }
    let n = used.len() as u64;
    let avg = used.iter().map(|s| s.ms).sum::<u64>() / n;
    let oldest = used.iter().map(|s| s.time).min().unwrap_or(now);
    let period = now.saturating_sub(oldest).max(1);
    let mad = used
        .iter()
        .map(|s| (avg as i64 - s.ms as i64).unsigned_abs())
        .sum::<u64>()
        / n;
    (n, avg, mad, period)
}

/// createLatencyReport: Redis's LATENCY DOCTOR text.
pub fn doctor(m: &Monitor, ctx: &DoctorCtx) -> String {
    use std::fmt::Write as _;
    let mut r = String::new();
    if m.events.is_empty() && ctx.threshold_ms == 0 {
        r.push_str("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n");
        return r;
    }
    #[derive(Default)]
    struct Advice {
        slowlog_enabled: bool,
        slowlog_tuning: bool,
        slowlog_inspect: bool,
        disk_contention: bool,
        scheduler: bool,
        data_writeback: bool,
        no_appendfsync: bool,
        local_disk: bool,
        ssd: bool,
        write_load_info: bool,
        hz: bool,
        large_objects: bool,
        mass_eviction: bool,
        relax_fsync: bool,
        disable_thp: bool,
    }
    let mut a = Advice::default();
    let mut advices = 0;
    let now = unix_now();
    for (num, (event, ts)) in m.events.iter().enumerate() {
        if num == 0 {
            r.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let (samples, avg, mad, period) = analyze(ts, now);
        let _ = write!(
            r,
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            num + 1,
            event,
            samples,
            avg,
            mad,
            period as f64 / samples.max(1) as f64,
            ts.max
        );
        match event.to_ascii_lowercase().as_str() {
            "command" => {
                if ctx.slowlog_slower_than < 0 {
                    a.slowlog_enabled = true;
                    advices += 1;
                } else if ctx.slowlog_slower_than / 1000 > ctx.threshold_ms as i64 {
                    a.slowlog_tuning = true;
                    advices += 1;
                }
                a.slowlog_inspect = true;
                a.large_objects = true;
                advices += 2;
            }
            "fast-command" => {
                a.scheduler = true;
                advices += 1;
            }
            "aof-write-pending-fsync" => {
                a.local_disk = true;
                a.disk_contention = true;
                a.ssd = true;
                a.data_writeback = true;
                advices += 4;
            }
            "aof-write-active-child" => {
                a.no_appendfsync = true;
                a.data_writeback = true;
                a.ssd = true;
                advices += 3;
            }
            "aof-write-alone" => {
                a.local_disk = true;
                a.data_writeback = true;
                a.ssd = true;
                advices += 3;
            }
            "aof-fsync-always" => {
                a.relax_fsync = true;
                advices += 1;
            }
            "aof-fstat" | "rdb-unlink-temp-file" => {
                a.disk_contention = true;
                a.local_disk = true;
                advices += 2;
            }
            "aof-rewrite-diff-write" | "aof-rename" => {
                a.write_load_info = true;
                a.data_writeback = true;
                a.ssd = true;
                a.local_disk = true;
                advices += 4;
            }
            "expire-cycle" => {
                a.hz = true;
                a.large_objects = true;
                advices += 2;
            }
            "eviction-del" => {
                a.large_objects = true;
                advices += 1;
            }
            "eviction-cycle" => {
                a.mass_eviction = true;
                advices += 1;
            }
            _ => {}
        }
        r.push('\n');
    }
    if ctx.anon_huge_pages {
        a.disable_thp = true;
        advices += 1;
    }
    if m.events.is_empty() && advices == 0 {
        r.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        return r;
    }
    if !m.events.is_empty() && advices == 0 {
        r.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        return r;
    }
    r.push_str("\nI have a few advices for you:\n\n");
    let us = ctx.threshold_ms * 1000;
    if a.slowlog_enabled {
        let _ = writeln!(
            r,
            "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {us}'. If the Slow log is disabled Redis is not able to log slow commands execution for you."
        );
    }
    if a.slowlog_tuning {
        let _ = writeln!(
            r,
            "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {us}'."
        );
    }
    if a.slowlog_inspect {
        r.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if a.scheduler {
        r.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
    }
    if a.local_disk {
        r.push_str("- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n");
    }
    if a.ssd {
        r.push_str("- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage and smaller final AOF rewrite buffer flushes). With extremely high write load SSD disks can be a good option. However Redis should perform reasonably with high load using normal disks. Use this advice as a last resort.\n");
    }
    if a.data_writeback {
        r.push_str("- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Redis restarts.\n");
    }
    if a.disk_contention {
        r.push_str("- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n");
    }
    if a.no_appendfsync {
        r.push_str("- Assuming from the point of view of data safety this is viable in your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be performed while there is a child rewriting the AOF file or producing an RDB file (the moment where there is high disk contention).\n");
    }
    if a.relax_fsync && ctx.fsync_always {
        r.push_str("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
    }
    if a.write_load_info {
        r.push_str("- Latency during the AOF atomic rename operation or when the final difference is flushed to the AOF file at the end of the rewrite, sometimes is caused by very high write load, causing the AOF buffer to get very large. If possible try to send less commands to accomplish the same work, or use Lua scripts to group multiple operations into a single EVALSHA call.\n");
    }
    if a.hz && ctx.hz < 100 {
        r.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
    }
    if a.large_objects {
        r.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    if a.mass_eviction {
        r.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
    }
    if a.disable_thp {
        r.push_str("- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n");
    }
    r
}

/// Whether the process has anonymous huge pages (smaps_rollup).
pub fn anon_huge_pages() -> bool {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("AnonHugePages:"))?;
            l.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .is_some_and(|kb| kb > 0)
}

/// latencyCommandGenSparkeline: the LATENCY GRAPH text.
pub fn graph(event: &str, ts: &Series) -> String {
    graph_at(event, ts, unix_now())
}

fn graph_at(event: &str, ts: &Series, now: u64) -> String {
    const COLS: usize = 80;
    let mut values = Vec::new();
    let mut labels = Vec::new();
    let (mut lo, mut hi) = (0, 0);
    for s in ts.history() {
        if values.is_empty() {
            lo = s.ms;
            hi = s.ms;
        } else {
            hi = hi.max(s.ms);
            lo = lo.min(s.ms);
        }
        let el = now.saturating_sub(s.time);
        labels.push(if el < 60 {
            format!("{el}s")
        } else if el < 3600 {
            format!("{}m", el / 60)
        } else if el < 86400 {
            format!("{}h", el / 3600)
        } else {
            format!("{}d", el / 86400)
        });
        values.push(s.ms as f64);
    }
    let mut out = format!(
        "{event} - high {hi} ms, low {lo} ms (all time high {} ms)\n",
        ts.max
    );
    out.push_str(&"-".repeat(COLS));
    out.push('\n');
    sparkline(&mut out, &values, &labels, COLS, 4);
    out
}

/// sparklineRender with SPARKLINE_FILL: `rows` rows of `_o#|` bars, a
/// blank line, then the labels written vertically.
fn sparkline(out: &mut String, values: &[f64], labels: &[String], cols: usize, rows: usize) {
    const FILL: &[u8] = b"_o#";
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut relmax = max - min;
    if relmax == 0.0 {
        relmax = 1.0;
    }
    let steps = (FILL.len() * rows) as i64;
    let has_labels = labels.iter().any(|l| !l.is_empty());
    let mut start = 0;
    while start < values.len() {
        let len = (values.len() - start).min(cols);
        if start != 0 {
            out.push('\n');
        }
        let mut row = 0;
        loop {
            let mut chars = vec![b' '; len];
            let mut more = false;
            for j in 0..len {
                let v = values[start + j] - min;
                // (int)(relval*steps)/relmax, truncated again into an int.
                let mut step = (((v * steps as f64) as i64) as f64 / relmax) as i64;
                step = step.clamp(0, steps - 1);
                if row < rows {
                    let idx = step - ((rows - row - 1) * FILL.len()) as i64;
                    more = true;
                    if idx >= 0 && (idx as usize) < FILL.len() {
                        chars[j] = FILL[idx as usize];
                    } else if idx >= FILL.len() as i64 {
                        chars[j] = b'|';
                    }
                } else {
                    if has_labels && row - rows < 1 {
                        more = true;
                        break;
                    }
                    let label = labels[start + j].as_bytes();
                    let at = row - rows - 1;
                    if label.len() > at {
                        more = true;
                        chars[j] = label[at];
                    }
                }
            }
            if !more {
                break;
            }
            row += 1;
            out.push_str(&String::from_utf8_lossy(&chars));
            out.push('\n');
        }
        start += cols;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeps_the_highest() {
        let mut m = Monitor::default();
        m.add_at("command", 5, 100);
        m.add_at("command", 9, 100);
        m.add_at("command", 3, 100);
        m.add_at("command", 4, 101);
        let (_, ts) = m.get(b"command").unwrap();
        let h: Vec<(u64, u64)> = ts.history().map(|s| (s.time, s.ms)).collect();
        assert_eq!(h, vec![(100, 9), (101, 4)]);
        assert_eq!(ts.max, 9);
        assert_eq!(ts.latest().ms, 4);
        // The ring keeps the last 160 seconds.
        for t in 0..200 {
            m.add_at("x", t + 1, 1000 + t);
        }
        let (_, ts) = m.get(b"x").unwrap();
        assert_eq!(ts.history().count(), TS_LEN);
        assert_eq!(ts.history().next().unwrap().ms, 41);
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert_eq!(m.reset(None), 1);
    }

    #[test]
    fn graph_layout() {
        let mut m = Monitor::default();
        m.add_at("command", 10, 100);
        m.add_at("command", 20, 101);
        m.add_at("command", 40, 102);
        let (_, ts) = m.get(b"command").unwrap();
        let g = graph_at("command", ts, 102);
        let lines: Vec<&str> = g.split('\n').collect();
        assert_eq!(
            lines[0],
            "command - high 40 ms, low 10 ms (all time high 40 ms)"
        );
        assert_eq!(lines[1].len(), 80);
        // Rows top to bottom, then a blank line, then labels "2s 1s 0s".
        assert_eq!(
            &lines[2..],
            ["  #", "  |", " o|", "_||", "   ", "210", "sss", ""]
        );
    }
}
