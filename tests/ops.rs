//! The operator's tools against real Redis: INFO (every section's field
//! names in Redis's order, commandstats / errorstats / latencystats
//! counters, section selectors, CONFIG RESETSTAT), SLOWLOG, LATENCY and
//! MONITOR. The same commands run on memkv and on Redis 7.0 and the
//! replies are compared with timestamps, durations and client ports masked.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::script::*;
use common::{Raw, Server};

/// INFO text -> [(section header, [(field, value)])].
type Info = Vec<(String, Vec<(String, String)>)>;

fn parse_info(text: &str) -> Info {
    let mut out: Info = Vec::new();
    for line in text.split("\r\n") {
        if let Some(h) = line.strip_prefix("# ") {
            out.push((h.to_string(), Vec::new()));
        } else if let Some((k, v)) = line.split_once(':') {
            out.last_mut()
                .expect("field before any section")
                .1
                .push((k.to_string(), v.to_string()));
        }
    }
    out
}

fn info(raw: &mut Raw, args: &[&str]) -> Info {
    let mut parts: Vec<&[u8]> = vec![b"INFO"];
    parts.extend(args.iter().map(|a| a.as_bytes()));
    let reply = raw.cmd(&parts);
    let text = render(&reply);
    // A bulk string rendered with {:?}: undo the escapes we need.
    let text = text
        .trim_matches('"')
        .replace("\\r\\n", "\r\n")
        .replace("\\\"", "\"");
    parse_info(&text)
}

fn section<'a>(i: &'a Info, name: &str) -> &'a [(String, String)] {
    i.iter()
        .find(|(h, _)| h == name)
        .map(|(_, f)| f.as_slice())
        .unwrap_or_else(|| panic!("no section {name}"))
}

fn names(fields: &[(String, String)]) -> Vec<&str> {
    fields.iter().map(|(k, _)| k.as_str()).collect()
}

/// Runs the same command lines on a connection, ignoring the replies.
fn run(raw: &mut Raw, lines: &[&str]) {
    for l in lines {
        send(raw, l);
    }
}

/// memkv with Redis's own transaction semantics, plus real Redis.
fn pair(extra: &[&str]) -> Option<(Server, Server)> {
    let mut args = vec!["--multi-rollback", "no"];
    args.extend_from_slice(extra);
    let m = Server::start(&args);
    let r = Server::start_redis(extra)?;
    Some((m, r))
}

/// The commands of the statistics tests: successes, failures inside
/// handlers, rejections (arity, unknown command and subcommand), errors
/// inside MULTI/EXEC and a script.
const WORKLOAD: &[&str] = &[
    "SET a 1",
    "GET a",
    "GET nokey",
    "LPUSH a x",
    "GET",
    "NOSUCHCOMMAND x",
    "CLIENT NOSUCH",
    "CLIENT SETNAME worker",
    "INCR a",
    "HSET a f v",
    "MULTI",
    "INCR a",
    "LPUSH a y",
    "EXEC",
    "MULTI",
    "GET",
    "EXEC",
    "EVAL \"return redis.call('get', KEYS[1])\" 1 a",
    "EVAL \"return redis.call('lpush', KEYS[1], 'x')\" 1 a",
    "EVAL \"return redis.pcall('lpush', KEYS[1], 'x')\" 1 a",
    "EVAL \"return redis.error_reply('MYERR custom')\" 0",
    "EVAL \"return {err='OTHER thing'}\" 0",
    "EVAL \"error('raw')\" 0",
    "SELECT 99",
    "OBJECT FREQ a",
];

#[test]
fn info_fields_match_redis_section_by_section() {
    let Some((m, r)) = pair(&[]) else { return };
    let (mut mr, mut rr) = (m.raw(), r.raw());
    run(&mut mr, WORKLOAD);
    run(&mut rr, WORKLOAD);
    let mi = info(&mut mr, &["everything"]);
    let ri = info(&mut rr, &["everything"]);
    let headers = |i: &Info| i.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>();
    assert_eq!(headers(&mi), headers(&ri));
    for (h, rf) in &ri {
        let mf = section(&mi, h);
        match h.as_str() {
            // Owned by the memory accounting work.
            "Memory" => {}
            "Server" => {
                let mut want = names(rf);
                let pos = want.iter().position(|n| *n == "redis_version").unwrap();
                want.insert(pos + 1, "memkv_version");
                assert_eq!(names(mf), want, "{h}");
            }
            // Per-command lines: the same commands, counted alike.
            "Commandstats" => {
                let mask = |f: &[(String, String)]| -> BTreeMap<String, String> {
                    f.iter()
                        .map(|(k, v)| {
                            let kept: Vec<&str> =
                                v.split(',').filter(|p| !p.starts_with("usec")).collect();
                            (k.clone(), kept.join(","))
                        })
                        .collect()
                };
                assert_eq!(mask(mf), mask(rf), "{h}");
            }
            "Latencystats" => {
                let keys = |f: &[(String, String)]| {
                    f.iter()
                        .map(|(k, v)| {
                            let ps: Vec<&str> =
                                v.split(',').map(|p| p.split('=').next().unwrap()).collect();
                            (k.clone(), ps.join(","))
                        })
                        .collect::<BTreeMap<_, _>>()
                };
                assert_eq!(keys(mf), keys(rf), "{h}");
            }
            "Errorstats" | "Keyspace" | "Modules" | "Cluster" => assert_eq!(mf, rf, "{h}"),
            _ => assert_eq!(names(mf), names(rf), "{h}"),
        }
    }
    // Counters both servers count the same way.
    for f in [
        "total_error_replies",
        "keyspace_hits",
        "keyspace_misses",
        "total_commands_processed",
        "expired_keys",
        "rejected_connections",
    ] {
        let get = |i: &Info| {
            section(i, "Stats")
                .iter()
                .find(|(k, _)| k == f)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get(&mi), get(&ri), "{f}");
    }
}

#[test]
fn info_selectors_match_redis() {
    let Some((m, r)) = pair(&[]) else { return };
    let (mut mr, mut rr) = (m.raw(), r.raw());
    run(&mut mr, &["SET a 1", "GET a"]);
    run(&mut rr, &["SET a 1", "GET a"]);
    for args in [
        vec![],
        vec!["default"],
        vec!["all"],
        vec!["everything"],
        vec!["server", "keyspace"],
        vec!["KEYSPACE", "errorstats", "commandstats"],
        vec!["latencystats"],
        vec!["nosuchsection"],
        vec!["default", "commandstats"],
        vec!["cpu", "cpu"],
    ] {
        let heads = |i: Info| i.into_iter().map(|(h, _)| h).collect::<Vec<_>>();
        assert_eq!(
            heads(info(&mut mr, &args)),
            heads(info(&mut rr, &args)),
            "INFO {args:?}"
        );
    }
}

#[test]
fn config_resetstat_resets_what_redis_resets() {
    let Some((m, r)) = pair(&[]) else { return };
    for s in [&m, &r] {
        let mut c = s.raw();
        run(&mut c, WORKLOAD);
        assert_eq!(send(&mut c, "CONFIG RESETSTAT"), "+OK");
    }
    let (mut mr, mut rr) = (m.raw(), r.raw());
    let mi = info(&mut mr, &["everything"]);
    let ri = info(&mut rr, &["everything"]);
    for h in ["Commandstats", "Errorstats"] {
        let strip = |f: &[(String, String)]| -> Vec<(String, String)> {
            f.iter()
                .map(|(k, v)| (k.clone(), v.split(",usec").next().unwrap().to_string()))
                .collect()
        };
        assert_eq!(strip(section(&mi, h)), strip(section(&ri, h)), "{h}");
    }
    for f in [
        "total_error_replies",
        "keyspace_hits",
        "keyspace_misses",
        "total_commands_processed",
        "total_connections_received",
        "expired_keys",
    ] {
        let get = |i: &Info| {
            section(i, "Stats")
                .iter()
                .find(|(k, _)| k == f)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get(&mi), get(&ri), "{f}");
    }
    let keys = |i: &Info| names(section(i, "Latencystats")).join(" ");
    assert_eq!(keys(&mi), keys(&ri));
}

/// A rendered SLOWLOG GET with timestamps, durations and ports masked.
fn masked_slowlog(raw: &mut Raw, line: &str) -> String {
    let text = send(raw, line);
    let mut out = String::new();
    // Entries render as [id, time, duration, [args], "ip:port", "name"].
    let mut rest = text.as_str();
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i + 1]);
        rest = &rest[i + 1..];
        // An entry starts with ":id, :time, :duration, ".
        if let Some(stripped) = rest.strip_prefix(':') {
            let parts: Vec<&str> = stripped.splitn(4, ", ").collect();
            if parts.len() == 4 && parts[1].starts_with(':') && parts[2].starts_with(':') {
                out.push_str(&format!(":{}, :T, :D, ", parts[0]));
                rest = parts[3];
            }
        }
    }
    out.push_str(rest);
    let re_port = |s: &str| {
        let mut o = String::new();
        let mut it = s.split("\"127.0.0.1:");
        o.push_str(it.next().unwrap());
        for p in it {
            let digits = p.chars().take_while(|c| c.is_ascii_digit()).count();
            o.push_str("\"127.0.0.1:P");
            o.push_str(&p[digits..]);
        }
        o
    };
    re_port(&out)
}

#[test]
fn slowlog_matches_redis() {
    let Some((m, r)) = pair(&[]) else { return };
    let long = "x".repeat(200);
    let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let script = [
        "SLOWLOG RESET".to_string(),
        "CONFIG SET slowlog-log-slower-than 0".to_string(),
        "CLIENT SETNAME slowpoke".to_string(),
        format!("SET k {long}"),
        format!("RPUSH l {}", many.join(" ")),
        "MULTI".to_string(),
        "GET k".to_string(),
        "EXEC".to_string(),
        "AUTH nopass".to_string(),
        "EVAL \"return redis.call('set', 'x', '1')\" 0".to_string(),
        "CONFIG SET slowlog-log-slower-than -1".to_string(),
        "GET k".to_string(),
    ];
    let checks = [
        "SLOWLOG GET",
        "SLOWLOG GET 2",
        "SLOWLOG GET 0",
        "SLOWLOG GET -1",
        "SLOWLOG LEN",
        "SLOWLOG GET -2",
        "SLOWLOG GET x",
        "SLOWLOG LEN 1",
        "SLOWLOG NOSUCH",
        "SLOWLOG HELP",
        "CONFIG SET slowlog-max-len 2",
        "SLOWLOG LEN",
        "CONFIG SET slowlog-log-slower-than 0",
        "SLOWLOG LEN",
        "SLOWLOG RESET",
        "SLOWLOG LEN",
    ];
    let mut got = Vec::new();
    for s in [&m, &r] {
        let mut c = s.raw();
        for l in &script {
            send(&mut c, l);
        }
        let mut replies = Vec::new();
        for l in checks {
            replies.push(masked_slowlog(&mut c, l));
        }
        got.push(replies);
    }
    for (i, l) in checks.iter().enumerate() {
        assert_eq!(got[0][i], got[1][i], "{l}");
    }
    // The trimmed forms really are there.
    assert!(got[0][0].contains("... (72 more bytes)"), "{}", got[0][0]);
    assert!(
        got[0][0].contains("... (11 more arguments)"),
        "{}",
        got[0][0]
    );
    assert!(got[0][0].contains("\"(redacted)\""), "{}", got[0][0]);
    assert!(got[0][0].contains("\"?:0\""), "{}", got[0][0]);
}

/// Pipelined commands share clock readings (a command starts when the one
/// before it ended): a slow command's time stays its own, and time spent
/// on a command refused or queued before it is not lent to the next one.
/// Same slow log and commandstats call counts as Redis.
#[test]
fn pipelined_durations_stay_with_their_command() {
    let Some((m, r)) = pair(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut logs = Vec::new();
    for s in [&m, &r] {
        let mut c = s.raw();
        run(
            &mut c,
            &[
                "CONFIG SET slowlog-log-slower-than 100000",
                "SLOWLOG RESET",
                "CONFIG RESETSTAT",
            ],
        );
        // One write: sleep, then fast commands, an unknown command, a
        // MULTI whose commands are queued, and more fast commands.
        let mut batch = Vec::new();
        for parts in [
            &[&b"DEBUG"[..], b"SLEEP", b"0.2"][..],
            &[b"PING"],
            &[b"NOSUCHCOMMAND"],
            &[b"SET", b"k", b"v"],
            &[b"MULTI"],
            &[b"DEBUG", b"SLEEP", b"0"],
            &[b"GET", b"k"],
            &[b"EXEC"],
            &[b"INCR", b"n"],
        ] {
            batch.extend(common::encode(parts));
        }
        c.send(&batch);
        for _ in 0..9 {
            c.read_reply();
        }
        logs.push(masked_slowlog(&mut c, "SLOWLOG GET"));
        let stats = info(&mut c, &["commandstats"]);
        for (k, v) in section(&stats, "Commandstats") {
            let usec: u64 = v
                .split(',')
                .find_map(|p| p.strip_prefix("usec="))
                .and_then(|u| u.parse().ok())
                .unwrap_or_else(|| panic!("{k}:{v}"));
            if k == "cmdstat_debug" {
                assert!(usec >= 200_000, "{k}:{v}");
            } else {
                assert!(usec < 100_000, "{k}:{v}");
            }
        }
    }
    assert_eq!(logs[0], logs[1]);
    assert!(logs[0].contains("\"SLEEP\""), "{}", logs[0]);
    assert_eq!(logs[0].matches("\"127.0.0.1:P\"").count(), 1, "{}", logs[0]);
}

#[test]
fn latency_commands_match_redis() {
    let Some((m, r)) = pair(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let lines = [
        "LATENCY LATEST",
        "LATENCY HISTORY command",
        "LATENCY RESET",
        "LATENCY RESET command nosuch",
        "LATENCY GRAPH command",
        "LATENCY DOCTOR",
        "LATENCY HELP",
        "LATENCY NOSUCH",
        "LATENCY HISTORY",
        "LATENCY LATEST x",
        "LATENCY HISTOGRAM nosuch",
    ];
    let (mut mr, mut rr) = (m.raw(), r.raw());
    for l in lines {
        assert_eq!(send(&mut mr, l), send(&mut rr, l), "{l}");
    }
    // Events above the threshold: DEBUG SLEEP is a slow command.
    let mut shapes = Vec::new();
    for c in [&mut mr, &mut rr] {
        send(c, "CONFIG SET latency-monitor-threshold 5");
        assert_eq!(send(c, "DEBUG SLEEP 0.02"), "+OK");
        assert_eq!(send(c, "DEBUG SLEEP 0.03"), "+OK");
        let latest = send(c, "LATENCY LATEST");
        let items_ = items(&items(&latest)[0]);
        assert_eq!(items_[0], "\"command\"");
        let ms: i64 = items_[2][1..].parse().unwrap();
        let max: i64 = items_[3][1..].parse().unwrap();
        assert!(ms >= 20 && max >= 30, "{latest}");
        let hist = send(c, "LATENCY HISTORY command");
        let samples = items(&hist);
        assert!(!samples.is_empty() && samples.len() <= 2, "{hist}");
        let graph = send(c, "LATENCY GRAPH command");
        assert!(graph.starts_with("\"command - high "), "{graph}");
        let doctor = send(c, "LATENCY DOCTOR");
        assert!(
            doctor.starts_with("\"Dave, I have observed latency spikes"),
            "{doctor}"
        );
        assert!(doctor.contains("1. command: "), "{doctor}");
        send(c, "SET k v");
        send(c, "SET k w");
        let h = send(c, "LATENCY HISTOGRAM set nosuch config");
        // {"set": {"calls": 2, "histogram_usec": {...}}, "config|set": ...}
        let shape: Vec<&str> = h.split('"').skip(1).step_by(2).collect();
        shapes.push(shape.join(" "));
        assert!(h.contains("\"calls\", :2"), "{h}");
        assert_eq!(send(c, "LATENCY RESET"), ":1");
        assert_eq!(send(c, "LATENCY LATEST"), "[]");
    }
    assert_eq!(shapes[0], shapes[1]);
}

/// Reads `n` MONITOR lines, masked: "+T [db ADDR] args" ("lua" kept).
fn monitor_lines(mon: &mut Raw, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let line = String::from_utf8_lossy(&mon.read_reply()).into_owned();
            let line = line.trim_end_matches("\r\n");
            let (_, rest) = line.split_once(' ').expect("timestamp");
            let (db_addr, args) = rest.split_once("] ").unwrap_or((rest, ""));
            let db = db_addr.trim_start_matches('[').split(' ').next().unwrap();
            let who = if db_addr.ends_with("lua") {
                "lua"
            } else {
                "ADDR"
            };
            format!("+T [{db} {who}] {args}")
        })
        .collect()
}

#[test]
fn monitor_lines_match_redis() {
    let Some((m, r)) = pair(&[]) else { return };
    let script: &[&str] = &[
        "SET \"a b\" \"x\ty\"",
        "GET nokey",
        "AUTH secret",
        "AUTH user secret",
        "HELLO 2 AUTH default pw SETNAME n",
        "CONFIG GET port",
        "SELECT 3",
        "MULTI",
        "SET k 1",
        "INCR k",
        "EXEC",
        "EVAL \"return redis.call('set', 'x', '1')\" 0",
        "NOSUCH cmd",
        "GET",
        "PING",
    ];
    let mut all = Vec::new();
    for s in [&m, &r] {
        let mut raw_mon = s.raw();
        raw_mon
            .s
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(send(&mut raw_mon, "MONITOR"), "+OK");
        let mut c = s.raw();
        for l in script {
            send(&mut c, l);
        }
        // The monitor itself: a keyspace command is refused, PING is fine.
        let mut lines = monitor_lines(&mut raw_mon, 13);
        send(&mut c, "SET \"\\x00\" \"\u{e9}\"");
        lines.extend(monitor_lines(&mut raw_mon, 1));
        assert_eq!(
            send(&mut raw_mon, "GET a"),
            "-ERR Replica can't interact with the keyspace"
        );
        assert_eq!(send(&mut raw_mon, "RESET"), "+RESET");
        assert_eq!(send(&mut raw_mon, "GET a"), "$-1");
        all.push(lines);
    }
    assert_eq!(all[0], all[1]);
    assert!(all[0].iter().any(|l| l.contains("(redacted)")));
    assert!(all[0].iter().any(|l| l.contains("[3 lua]")));
}

/// A config file with the user's comments, blank lines, indentation, an
/// include and directives set twice.
fn user_config(dir: &std::path::Path) -> String {
    let inc = dir.join("included.conf");
    std::fs::write(&inc, "# nothing here\n").unwrap();
    format!(
        "# My server\n\n   port 7777\n# memory\nmaxmemory 100mb\n\nsave 900 1\nsave 300 10\n  \t\n\n\
         timeout 0\nclient-output-buffer-limit pubsub 32mb 8mb 60\nhz 15\n\
         include {}\n# end\n",
        inc.display()
    )
}

/// Port and dir differ between the two servers.
fn mask_conf_line(l: &str) -> String {
    if l.starts_with("port ") {
        "port P".into()
    } else if l.starts_with("dir ") {
        "dir D".into()
    } else if l.starts_with("include ") {
        "include I".into()
    } else {
        l.to_string()
    }
}

#[test]
fn config_rewrite_keeps_layout_like_redis() {
    if common::which("redis-server").is_none() {
        return;
    }
    let sets: &[(&str, &str)] = &[
        ("maxmemory", "0"),
        ("save", ""),
        ("hz", "20"),
        ("slowlog-max-len", "1025"),
        ("notify-keyspace-events", "KEA"),
        ("client-output-buffer-limit", "normal 1mb 2mb 60"),
        ("maxmemory-policy", "allkeys-lru"),
        ("latency-tracking-info-percentiles", "50 99.99"),
        ("list-max-listpack-size", "-3"),
        ("maxmemory-clients", "10%"),
    ];
    let mut files = Vec::new();
    for redis in [false, true] {
        let dir = common::temp_dir("rewrite");
        let conf = dir.join("server.conf");
        std::fs::write(&conf, user_config(&dir)).unwrap();
        let s = if redis {
            Server::start_redis_with_config(Some(&conf), &["--loglevel", "warning"]).unwrap()
        } else {
            Server::start_with_config(&dir, Some(&conf), &[])
        };
        let mut c = s.raw();
        for (k, v) in sets {
            let r = c.cmd(&[b"CONFIG", b"SET", k.as_bytes(), v.as_bytes()]);
            assert_eq!(render(&r), "+OK", "{k}");
        }
        assert_eq!(send(&mut c, "CONFIG REWRITE"), "+OK");
        files.push((std::fs::read_to_string(&conf).unwrap(), conf, s));
    }
    let split = |text: &str| -> (Vec<String>, Vec<String>) {
        let (head, tail) = text
            .split_once("# Generated by CONFIG REWRITE\n")
            .expect("signature");
        let head = head.lines().map(mask_conf_line).collect();
        let mut tail: Vec<String> = tail.lines().map(mask_conf_line).collect();
        // Redis appends in its dict's (random) order.
        tail.sort();
        (head, tail)
    };
    let (mh, mt) = split(&files[0].0);
    let (rh, rt) = split(&files[1].0);
    assert_eq!(mh, rh, "kept part\n{}", files[0].0);
    assert_eq!(mt, rt, "appended part\n{}", files[0].0);
    assert!(mh.contains(&"maxmemory 0".to_string()), "{mh:?}");
    assert!(mh.contains(&"hz 20".to_string()), "{mh:?}");
    // memkv starts again from the rewritten file with the new values.
    // (The first server stays up: its directory holds the files.)
    let conf = files[0].1.clone();
    let dir = conf.parent().unwrap().to_path_buf();
    let s2 = Server::start_with_config(&dir, Some(&conf), &[]);
    let mut c = s2.raw();
    assert_eq!(send(&mut c, "CONFIG GET hz"), "[\"hz\", \"20\"]");
    assert_eq!(
        send(&mut c, "CONFIG GET maxmemory-policy"),
        "[\"maxmemory-policy\", \"allkeys-lru\"]"
    );
    assert_eq!(
        send(&mut c, "CONFIG GET client-output-buffer-limit"),
        "[\"client-output-buffer-limit\", \"normal 1048576 2097152 60 slave 268435456 67108864 60 pubsub 33554432 8388608 60\"]"
    );
    assert_eq!(send(&mut c, "CONFIG GET save"), "[\"save\", \"\"]");
}

#[test]
fn config_rewrite_errors_like_redis() {
    let s = Server::start(&[]);
    assert_eq!(
        send(&mut s.raw(), "CONFIG REWRITE"),
        "-ERR The server is running without a config file"
    );
    if let Some(r) = Server::start_redis(&[]) {
        assert_eq!(
            send(&mut r.raw(), "CONFIG REWRITE"),
            "-ERR The server is running without a config file"
        );
    }
    // A directory that cannot be written.
    let dir = common::temp_dir("rewrite-ro");
    let conf = dir.join("ro.conf");
    std::fs::write(&conf, "hz 10\n").unwrap();
    let s = Server::start_with_config(&dir, Some(&conf), &[]);
    let mut c = s.raw();
    std::fs::remove_file(&conf).unwrap();
    std::fs::create_dir(&conf).unwrap();
    let got = send(&mut c, "CONFIG REWRITE");
    assert!(got.starts_with("-ERR Rewriting config file: "), "{got}");
}

#[test]
fn a_monitor_that_stops_reading_meets_the_normal_limits() {
    // MONITOR clients are replicas to Redis but keep the normal class.
    let extra = ["--client-output-buffer-limit", "normal", "1mb", "0", "0"];
    let mut servers = vec![Server::start(&extra)];
    servers.extend(Server::start_redis(&extra));
    for s in &servers {
        let mut mon = s.raw();
        assert_eq!(send(&mut mon, "MONITOR"), "+OK");
        let mut c = s.raw();
        let listed = |c: &mut Raw| {
            let list = String::from_utf8_lossy(&c.cmd(&[b"CLIENT", b"LIST"])).into_owned();
            list.contains("flags=O ")
        };
        assert!(listed(&mut c), "the monitor is listed with flag O");
        // 20 MB of monitor output while the monitor reads nothing.
        let value = vec![b'x'; 100_000];
        let mut batch = Vec::new();
        for _ in 0..200 {
            batch.extend(common::encode(&[b"SET", b"k", &value]));
        }
        c.send(&batch);
        for _ in 0..200 {
            assert_eq!(render(&c.read_reply()), "+OK");
        }
        assert!(!listed(&mut c), "the monitor was disconnected");
    }
}

#[test]
fn latency_tracking_settings_match_redis() {
    let Some((m, r)) = pair(&[]) else { return };
    let mut got = Vec::new();
    for s in [&m, &r] {
        let mut c = s.raw();
        let steps = [
            "CONFIG SET latency-tracking-info-percentiles \"50 99.99 100\"",
            "SET a 1",
        ];
        run(&mut c, &steps);
        let first = info(&mut c, &["latencystats"]);
        // Sorted: Redis lists commands in its dict's order.
        let keys = |i: &Info| -> Vec<String> {
            let mut v: Vec<String> = section(i, "Latencystats")
                .iter()
                .map(|(k, v)| {
                    let ps: Vec<&str> =
                        v.split(',').map(|p| p.split('=').next().unwrap()).collect();
                    format!("{k}:{}", ps.join(","))
                })
                .collect();
            v.sort();
            v
        };
        let a = keys(&first);
        run(
            &mut c,
            &[
                "CONFIG SET latency-tracking no",
                "CONFIG RESETSTAT",
                "GET a",
            ],
        );
        let b = keys(&info(&mut c, &["latencystats"]));
        assert_eq!(
            send(&mut c, "LATENCY HISTOGRAM get"),
            "[]",
            "no histogram while tracking is off"
        );
        got.push((a, b));
    }
    assert!(
        got[0]
            .0
            .iter()
            .any(|l| l == "latency_percentiles_usec_set:p50,p99.99,p100")
    );
    assert!(got[0].1.is_empty(), "{:?}", got[0].1);
    assert_eq!(got[0], got[1]);
}

#[test]
fn monitor_inside_multi_is_refused_like_redis() {
    let Some((m, r)) = pair(&[]) else { return };
    let script = [
        ("MULTI", "+OK"),
        ("MONITOR", "+QUEUED"),
        (
            "EXEC",
            "[-ERR MONITOR isn't allowed for DENY BLOCKING client]",
        ),
        (
            "MONITOR x",
            "-ERR wrong number of arguments for 'monitor' command",
        ),
    ];
    run_script(&mut m.raw(), "memkv", &script);
    run_script(&mut r.raw(), "redis", &script);
}

#[test]
fn blocked_commands_are_counted_like_redis() {
    let Some((m, r)) = pair(&[]) else { return };
    let mut got = Vec::new();
    for s in [&m, &r] {
        let mut c = s.raw();
        // Served at once, timed out, served after blocking, unblocked.
        run(&mut c, &["RPUSH l a", "BLPOP l 0", "BLPOP l 0.01"]);
        let mut w = s.raw();
        let id = send(&mut w, "CLIENT ID");
        // Waits until the BLPOP is parked (polling, not timing).
        let parked = |c: &mut Raw| loop {
            let i = info(c, &["clients"]);
            if section(&i, "Clients")
                .iter()
                .any(|(k, v)| k == "blocked_clients" && v == "1")
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        w.send(&common::encode(&[b"BLPOP", b"q", b"0"]));
        parked(&mut c);
        send(&mut c, "RPUSH q x");
        assert_eq!(render(&w.read_reply()), "[\"q\", \"x\"]");
        w.send(&common::encode(&[b"BLPOP", b"q", b"0"]));
        parked(&mut c);
        let unblock = format!("CLIENT UNBLOCK {} ERROR", &id[1..]);
        assert_eq!(send(&mut c, &unblock), ":1");
        let e = render(&w.read_reply());
        assert!(e.starts_with("-UNBLOCKED"), "{e}");
        let i = info(&mut c, &["commandstats", "errorstats"]);
        let mut lines: Vec<String> = section(&i, "Commandstats")
            .iter()
            .filter(|(k, _)| k.contains("blpop") || k.contains("rpush"))
            .map(|(k, v)| format!("{k}:{}", v.split(",usec=").next().unwrap()))
            .chain(
                section(&i, "Errorstats")
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}")),
            )
            .collect();
        lines.sort();
        got.push(lines);
    }
    assert_eq!(got[0], got[1]);
}
