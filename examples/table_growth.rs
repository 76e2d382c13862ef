//! Growth-stall probe for `store::table::Table` (issue 15 target 7): inserts
//! N keys (default 10,000,000) into a `Table<(Key, u64)>` as the keyspace
//! does and reports the slowest single insert in thread CPU time
//! (CLOCK_THREAD_CPUTIME_ID, so time the machine's other load steals is
//! not counted): a table that re-hashes every key at once when it grows
//! shows it here as one insert of hundreds of milliseconds.
//!
//! Usage: table_growth [N]. Prints `inserts max_us p99.9_us over_1ms total_s`.

use memkv::store::Key;
use memkv::store::table::Table;

fn cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let mut t: Table<(Key, u64)> = Table::new();
    let mut lat = Vec::with_capacity(n as usize);
    let start = cpu_ns();
    for i in 0..n {
        let key = Key::new(format!("key:{i:012}").as_bytes());
        let t0 = cpu_ns();
        t.insert_unique((key, i));
        lat.push(cpu_ns() - t0);
    }
    let total = cpu_ns() - start;
    lat.sort_unstable();
    let max = lat.last().copied().unwrap_or(0);
    let p999 = lat.get(lat.len() * 999 / 1000).copied().unwrap_or(0);
    let over = lat.iter().filter(|&&x| x > 1_000_000).count();
    println!(
        "{} {:.1} {:.1} {} {:.2}",
        t.len(),
        max as f64 / 1e3,
        p999 as f64 / 1e3,
        over,
        total as f64 / 1e9
    );
}
