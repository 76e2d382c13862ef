//! memkv runs that are expected to end by themselves (a refused
//! configuration, a damaged data file): spawn the binary, collect what it
//! prints, and wait for the exit with a bound so a refusal that hangs
//! fails the test instead of stalling it.

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Runs memkv with exactly `args` (nothing is added, so a config file can
/// come first) in the working directory `dir`; returns its exit status and
/// everything it printed (stdout, then stderr). Panics, after killing it,
/// if it is still running after 30 s.
pub fn run_to_exit(dir: &Path, args: &[&str]) -> (ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_memkv"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn memkv");
    // Readers on their own threads: a full pipe must not block the exit.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = out.join().unwrap_or_default() + &err.join().unwrap_or_default();
    match status {
        Some(st) => (st, text),
        None => panic!("memkv kept running with {args:?} (expected it to exit); output:\n{text}"),
    }
}
