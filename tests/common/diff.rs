//! Seeded differential runs against real Redis: owns the pair of servers
//! (memkv and Redis, same directives), a RESP2 and a RESP3 connection to
//! each, and the loop that sends the same random commands to both (30% on
//! RESP3) and stops at the first divergence with the seed and the recent
//! commands. The per-type test files bring only their command generator,
//! their reply normalization and their final-state checks.

use super::script::{Rng, digest, seed, send};
use super::{Raw, Server};

/// How many of the last commands a divergence report shows.
const SHOWN: usize = 20;

/// One differential run: memkv and Redis with their connections.
pub struct Diff {
    pub seed: u64,
    /// The run's generator: setup steps draw from it before `run`.
    pub rng: Rng,
    /// RESP2 connection to memkv (setup and final checks go here).
    pub ours: Raw,
    /// RESP2 connection to Redis.
    pub redis: Raw,
    ours3: Raw,
    redis3: Raw,
    history: Vec<String>,
    // Last: the connections close before the servers are killed.
    _servers: (Server, Server),
}

impl Diff {
    /// Starts memkv and Redis with `extra` directives and prints the seed
    /// (`MEMKV_SEED` replays it); None when redis-server is not installed.
    pub fn start(name: &str, extra: &[&str]) -> Option<Diff> {
        let Some(redis_server) = Server::start_redis(extra) else {
            eprintln!("redis-server not installed: differential test skipped");
            return None;
        };
        let ours_server = Server::start(extra);
        let seed = seed();
        eprintln!("{name} differential seed: {seed} (MEMKV_SEED={seed} to replay)");
        let (ours, redis) = (ours_server.raw(), redis_server.raw());
        let (ours3, redis3) = (ours_server.raw3(), redis_server.raw3());
        Some(Diff {
            seed,
            rng: Rng(seed),
            ours,
            redis,
            ours3,
            redis3,
            history: Vec::new(),
            _servers: (ours_server, redis_server),
        })
    }

    /// Sends `line` to both on RESP2 and asserts the same reply (setup
    /// steps and final checks); returns it.
    pub fn same(&mut self, line: &str) -> String {
        let got = send(&mut self.ours, line);
        let want = send(&mut self.redis, line);
        assert_eq!(got, want, "seed {}: {line}", self.seed);
        got
    }

    /// Asserts both datasets are the same (DEBUG DIGEST, checked to be a
    /// real digest on each side).
    pub fn same_digest(&mut self) {
        let ours = digest(&mut self.ours);
        let redis = digest(&mut self.redis);
        assert_eq!(ours, redis, "seed {}: final digest", self.seed);
    }

    /// Sends `line` to both on RESP2 and asserts `want` from each.
    pub fn both(&mut self, line: &str, want: &str) {
        assert_eq!(send(&mut self.ours, line), want, "memkv: {line}");
        assert_eq!(send(&mut self.redis, line), want, "redis: {line}");
    }

    /// Runs `n` command lines from `next`, each on RESP2 or RESP3; each
    /// side's reply goes through `canon` (command line, the generator's
    /// tag, the connection it came on for follow-up queries, the rendered
    /// reply) and the results must be equal.
    pub fn run<K>(
        &mut self,
        n: usize,
        mut next: impl FnMut(&mut Rng) -> (String, K),
        mut canon: impl FnMut(&str, &K, &mut Raw, String) -> String,
    ) {
        for i in 0..n {
            let (line, tag) = next(&mut self.rng);
            let resp3 = self.rng.chance(30);
            let (a, b) = self.pair(resp3);
            let got = send(a, &line);
            let got_canon = canon(&line, &tag, a, got.clone());
            let want = send(b, &line);
            let want_canon = canon(&line, &tag, b, want.clone());
            self.record(resp3, &line);
            if got_canon != want_canon {
                let compared = if got_canon != got || want_canon != want {
                    format!("\n  compared: {got_canon}\n        vs: {want_canon}")
                } else {
                    String::new()
                };
                self.diverged(i, &line, &format!("{got}\n  redis: {want}{compared}"));
            }
        }
    }

    /// Runs `n` command lines from `next`; the rendered replies (exact
    /// type and value) must be equal.
    pub fn run_lines(&mut self, n: usize, mut next: impl FnMut(&mut Rng) -> String) {
        self.run(n, |r| (next(r), ()), |_, _, _, reply| reply);
    }

    /// Runs `n` raw argvs from `next`; the reply bytes must be equal.
    pub fn run_argv(&mut self, n: usize, mut next: impl FnMut(&mut Rng) -> Vec<Vec<u8>>) {
        for i in 0..n {
            let argv = next(&mut self.rng);
            let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
            let resp3 = self.rng.chance(30);
            let (a, b) = self.pair(resp3);
            let got = a.cmd(&refs);
            let want = b.cmd(&refs);
            let line: Vec<String> = argv
                .iter()
                .map(|x| String::from_utf8_lossy(x).into_owned())
                .collect();
            let line = line.join(" ");
            self.record(resp3, &line);
            if got != want {
                self.diverged(
                    i,
                    &line,
                    &format!(
                        "{:?}\n  redis: {:?}",
                        String::from_utf8_lossy(&got),
                        String::from_utf8_lossy(&want)
                    ),
                );
            }
        }
    }

    fn pair(&mut self, resp3: bool) -> (&mut Raw, &mut Raw) {
        if resp3 {
            (&mut self.ours3, &mut self.redis3)
        } else {
            (&mut self.ours, &mut self.redis)
        }
    }

    /// Adds `text` (a phase change, say) to the recent commands a
    /// divergence report shows.
    pub fn note(&mut self, text: &str) {
        self.history.push(format!("-- {text}"));
    }

    fn record(&mut self, resp3: bool, line: &str) {
        let proto = if resp3 { "[resp3] " } else { "" };
        // Long values would drown the report.
        let line: String = line.chars().take(120).collect();
        self.history.push(format!("{proto}{line}"));
    }

    fn diverged(&self, i: usize, line: &str, replies: &str) -> ! {
        let from = self.history.len().saturating_sub(SHOWN);
        panic!(
            "seed {}: divergence at command {i}: {line}\n  memkv: {replies}\nrecent commands:\n  {}",
            self.seed,
            self.history[from..].join("\n  ")
        );
    }
}
