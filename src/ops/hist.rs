//! The per-command latency histogram: the HdrHistogram layout Redis 7.0
//! uses for latencystats and LATENCY HISTOGRAM (values in nanoseconds from
//! 1 to 1 s, 2 significant figures: 256 exact sub-buckets, then 128 per
//! doubling), so percentiles and the log-bucket CDF come out digit for digit
//! like Redis's `hdr_value_at_percentile` and `hdr_iter_log`.

/// Redis's LATENCY_HISTOGRAM_MIN_VALUE / MAX_VALUE (ns).
const MIN_VALUE: u64 = 1;
const MAX_VALUE: u64 = 1_000_000_000;
/// 2 significant figures: sub_bucket_count = 256.
const SUB_BUCKET_COUNT_MAGNITUDE: u32 = 8;
const SUB_BUCKET_HALF_MAGNITUDE: u32 = SUB_BUCKET_COUNT_MAGNITUDE - 1;
const SUB_BUCKET_COUNT: u64 = 1 << SUB_BUCKET_COUNT_MAGNITUDE;
const SUB_BUCKET_HALF: u64 = SUB_BUCKET_COUNT / 2;
const SUB_BUCKET_MASK: u64 = SUB_BUCKET_COUNT - 1;
/// Buckets needed to reach MAX_VALUE (hdr's buckets_needed_to_cover_value).
const BUCKET_COUNT: usize = 23;
const COUNTS_LEN: usize = (BUCKET_COUNT + 1) * SUB_BUCKET_HALF as usize;

/// A histogram of durations (ns).
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; COUNTS_LEN]>,
    pub total: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Histogram(total={})", self.total)
    }
}

fn bucket_index(v: u64) -> u32 {
    let pow2ceiling = 64 - (v | SUB_BUCKET_MASK).leading_zeros();
    pow2ceiling - (SUB_BUCKET_HALF_MAGNITUDE + 1)
}

fn sub_bucket_index(v: u64, bucket: u32) -> u64 {
    v >> bucket
}

fn counts_index(bucket: u32, sub: u64) -> usize {
    let base = ((bucket as u64 + 1) << SUB_BUCKET_HALF_MAGNITUDE) as usize;
    base + sub as usize - SUB_BUCKET_HALF as usize
}

fn value_at_index(index: usize) -> u64 {
    let mut bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) as i64 - 1;
    let mut sub = (index as u64 & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
    if bucket < 0 {
        sub -= SUB_BUCKET_HALF;
        bucket = 0;
    }
    sub << bucket
}

fn lowest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    sub_bucket_index(v, b) << b
}

fn range_size(v: u64) -> u64 {
    let b = bucket_index(v);
    let s = sub_bucket_index(v, b);
    let adjusted = if s >= SUB_BUCKET_COUNT { b + 1 } else { b };
    1 << adjusted
}

fn highest_equivalent(v: u64) -> u64 {
    lowest_equivalent(v) + range_size(v) - 1
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; COUNTS_LEN]),
            total: 0,
        }
    }
}

impl Histogram {
    /// Records one duration in ns, clamped like Redis's
    /// updateCommandLatencyHistogram.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let v = ns.clamp(MIN_VALUE, MAX_VALUE);
        let b = bucket_index(v);
        let i = counts_index(b, sub_bucket_index(v, b));
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
            self.total += 1;
        }
    }

    /// hdr_value_at_percentile (ns).
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let p = percentile.min(100.0);
        let wanted = (((p / 100.0) * self.total as f64) + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut total = 0;
        let mut value = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            total += c;
            if total >= wanted {
                value = value_at_index(i);
                break;
            }
        }
        if percentile == 0.0 {
            lowest_equivalent(value)
        } else {
            highest_equivalent(value)
        }
    }

    /// LATENCY HISTOGRAM's `histogram_usec`: (usec, cumulative count) at
    /// each power-of-two level from 1024 ns where the count grew (Redis's
    /// `hdr_iter_log_init(&iter, h, 1024, 2)` walk in fillCommandCDF).
    pub fn log_cdf(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut level: u64 = 1024;
        let mut prev = 0;
        let mut cumulative = 0;
        let mut next = 0; // next counts index to add
        while prev < self.total && level <= MAX_VALUE * 4 {
            let leq = lowest_equivalent(level);
            // Walk to the first index whose value reaches the level.
            while next < COUNTS_LEN {
                cumulative += self.counts[next];
                let v = value_at_index(next);
                next += 1;
                if v >= leq {
                    break;
                }
            }
            if cumulative > prev {
                out.push((highest_equivalent(leq) / 1000, cumulative));
            }
            prev = cumulative;
            level *= 2;
        }
        out
    }
}

/// Redis's trimDoubleString of `%f`: `99.900000` -> `99.9`, `50.000000` -> `50`.
pub fn trim_double(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_redis_digits() {
        // Values seen from Redis 7.0.15: 13 us -> 13.055, 4 us -> 4.015,
        // 1 us -> 1.003, 0 us (clamped to 1 ns) -> 0.001.
        for (us, want) in [(13, 13055), (4, 4015), (1, 1003), (8, 8031), (37, 37119)] {
            let mut h = Histogram::default();
            h.record(us * 1000);
            assert_eq!(h.value_at_percentile(50.0), want, "{us}");
        }
        let mut h = Histogram::default();
        h.record(0);
        assert_eq!(h.value_at_percentile(99.9), 1);
        let mut h = Histogram::default();
        for _ in 0..99 {
            h.record(1000);
        }
        h.record(50_000);
        assert_eq!(h.value_at_percentile(50.0), 1003);
        assert_eq!(h.value_at_percentile(99.0), 1003);
        assert_eq!(h.value_at_percentile(99.9), 50175);
        assert_eq!(h.value_at_percentile(100.0), 50175);
        // Beyond 1 s is clamped, never out of the table.
        h.record(u64::MAX);
        assert_eq!(h.total, 101);
    }

    #[test]
    fn log_cdf_is_cumulative_per_power_of_two() {
        let mut h = Histogram::default();
        h.record(1);
        h.record(1000);
        h.record(3000);
        h.record(5000);
        h.record(5000);
        assert_eq!(h.log_cdf(), vec![(1, 2), (4, 3), (8, 5)]);
        let mut h = Histogram::default();
        h.record(MAX_VALUE);
        let cdf = h.log_cdf();
        assert_eq!(cdf.len(), 1);
        assert_eq!(cdf[0].1, 1);
    }

    #[test]
    fn trims_percentile_names() {
        assert_eq!(trim_double(50.0), "50");
        assert_eq!(trim_double(99.9), "99.9");
        assert_eq!(trim_double(99.99), "99.99");
    }
}
