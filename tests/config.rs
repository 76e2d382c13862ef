//! Config layer tests: redis.conf parsing, command line, CONFIG GET/SET.
//! No server needed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use memkv::config::{AppendFsync, Config, ConfigOrigin, LogLevel};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "memkv-config-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            name
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir.canonicalize().unwrap())
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn get1(c: &Config, name: &str) -> String {
    let v = c.get(name);
    assert_eq!(v.len(), 1, "{name}: {v:?}");
    v[0].1.clone()
}

#[test]
fn defaults_match_redis() {
    let c = Config::default();
    assert_eq!(c.bind, vec!["*", "-::*"]);
    assert_eq!(c.port, 6379);
    assert!(c.protected_mode);
    assert_eq!(c.databases, 16);
    assert_eq!(c.maxclients, 10000);
    assert_eq!(c.loglevel, LogLevel::Notice);
    assert_eq!(c.appendfsync, AppendFsync::Everysec);
    assert_eq!(c.proto_max_bulk_len, 512 << 20);
    assert_eq!(c.client_query_buffer_limit, 1 << 30);
    assert_eq!(c.auto_aof_rewrite_min_size, 64 << 20);
    assert!(c.multi_rollback);
    assert!(c.self_addr.is_none() && c.peers.is_empty());
    assert_eq!(get1(&c, "save"), "3600 1 300 100 60 10000");
    assert_eq!(get1(&c, "maxmemory"), "0");
    assert_eq!(get1(&c, "maxmemory-policy"), "noeviction");
    assert_eq!(get1(&c, "appendonly"), "no");
    assert_eq!(get1(&c, "bind"), "* -::*");
    assert_eq!(get1(&c, "tcp-keepalive"), "300");
    assert_eq!(
        get1(&c, "client-output-buffer-limit"),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    // `dir` reports the absolute working directory, like Redis.
    let cwd = std::env::current_dir().unwrap().canonicalize().unwrap();
    assert_eq!(get1(&c, "dir"), s(&cwd));
    assert_eq!(
        c.bind_addrs(),
        vec![("*".to_string(), false), ("::*".to_string(), true)]
    );
}

#[test]
fn own_config_file() {
    let dir = TempDir::new("own");
    let file = dir.write(
        "memkv.conf",
        "# a comment\n\
         \n\
         \t  # indented comment\n\
         PORT 7777\n\
         bind 127.0.0.1 -::1\n\
         timeout 10\n\
         Timeout 20\n\
         requirepass \"pa ss\\x21\"\n\
         loglevel VERBOSE\n\
         appendfsync always\r\n\
         appendonly yes\n\
         appendfilename 'my file.aof'\n\
         maxmemory 1gb\n\
         proto-max-bulk-len 2mb\n\
         client-query-buffer-limit 100mb\n\
         auto-aof-rewrite-min-size 100k\n\
         hz 1000\n\
         multi-rollback no\n\
         self 127.0.0.1:7000\n\
         peers 127.0.0.1:7001 127.0.0.1:7002\n",
    );
    let c = Config::from_file(&file).unwrap();
    assert_eq!(c.port, 7777);
    assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
    assert_eq!(
        c.bind_addrs(),
        vec![("127.0.0.1".to_string(), false), ("::1".to_string(), true)]
    );
    assert_eq!(c.timeout, 20, "later lines override earlier ones");
    assert_eq!(c.requirepass, "pa ss!");
    assert_eq!(c.loglevel, LogLevel::Verbose);
    assert_eq!(c.appendfsync, AppendFsync::Always);
    assert!(c.appendonly);
    assert_eq!(c.appendfilename, "my file.aof");
    assert_eq!(c.proto_max_bulk_len, 2 * 1024 * 1024);
    assert_eq!(c.client_query_buffer_limit, 100 * 1024 * 1024);
    assert_eq!(c.auto_aof_rewrite_min_size, 100_000);
    assert_eq!(c.hz, 500, "hz is capped like Redis");
    assert!(!c.multi_rollback);
    assert_eq!(c.self_addr.as_deref(), Some("127.0.0.1:7000"));
    assert_eq!(c.peers, vec!["127.0.0.1:7001", "127.0.0.1:7002"]);
    assert_eq!(c.config_file.as_deref(), Some(file.as_path()));
    // Memory values are reported as plain byte counts.
    assert_eq!(get1(&c, "maxmemory"), "1073741824");
    assert_eq!(get1(&c, "proto-max-bulk-len"), "2097152");
    assert_eq!(get1(&c, "loglevel"), "verbose");
    assert_eq!(get1(&c, "appendonly"), "yes");
    assert_eq!(get1(&c, "peers"), "127.0.0.1:7001 127.0.0.1:7002");
    // maxmemory is honored (not an ignored directive).
    assert!(c.ignored.is_empty(), "{:?}", c.ignored);
}

#[test]
fn save_lines_accumulate_and_reset() {
    let c = Config::parse("save 900 1\nsave 300 10\n").unwrap();
    assert_eq!(get1(&c, "save"), "900 1 300 10");
    let c = Config::parse("save 900 1\nsave \"\"\n").unwrap();
    assert_eq!(get1(&c, "save"), "");
    let c = Config::from_args(["--save", "--port", "7000"]).unwrap();
    assert_eq!((get1(&c, "save").as_str(), c.port), ("", 7000));
    let c = Config::from_args(["--save", ""]).unwrap();
    assert_eq!(get1(&c, "save"), "");
}

#[test]
fn include_and_dir() {
    let dir = TempDir::new("include");
    dir.write("inc/extra.conf", "port 7100\nmaxmemory 100mb\n");
    dir.write("conf.d/a.conf", "timeout 1\n");
    dir.write("conf.d/b.conf", "timeout 2\n");
    dir.write("conf.d/.hidden.conf", "timeout 3\n");
    dir.write("conf.d/skip.txt", "garbage\n");
    let main = dir.write(
        "main.conf",
        &format!(
            "port 7000\n\
             include {}\n\
             dir {}\n\
             include conf.d/*.conf\n\
             tcp-keepalive 5\n",
            s(&dir.path().join("inc/extra.conf")),
            s(dir.path()),
        ),
    );
    let c = Config::from_file(&main).unwrap();
    assert_eq!(c.port, 7100);
    assert_eq!(get1(&c, "maxmemory"), "104857600");
    // The relative glob include resolves against the new `dir`, sorted.
    assert_eq!(c.timeout, 2);
    assert_eq!(c.tcp_keepalive, 5);
    assert_eq!(c.dir, s(dir.path()));
    assert_eq!(get1(&c, "dir"), s(dir.path()));

    // A glob matching nothing is fine; a missing plain include is fatal.
    let c = Config::parse(&format!("include {}/nothing/*.conf\n", s(dir.path()))).unwrap();
    assert_eq!(c.port, 6379);
    let err = Config::parse(&format!("include {}/missing.conf\n", s(dir.path()))).unwrap_err();
    assert_eq!(
        err.message,
        format!(
            "Fatal error, can't open config file '{}/missing.conf': No such file or directory",
            s(dir.path())
        )
    );

    // Errors inside an included file name that file and its line.
    let bad = dir.write("bad.conf", "\nport 1\nnot-a-directive 1\n");
    let err = Config::parse(&format!("include {}\n", s(&bad))).unwrap_err();
    assert_eq!(err.origin, Some(ConfigOrigin::File(bad.clone())));
    assert_eq!(err.line, Some(3));

    // An include loop is reported instead of recursing forever.
    let looped = dir.write("loop.conf", "");
    std::fs::write(&looped, format!("include {}\n", s(&looped))).unwrap();
    assert!(Config::from_file(&looped).is_err());
}

#[test]
fn command_line_overrides_file() {
    let dir = TempDir::new("cli");
    let file = dir.write("c.conf", "port 7000\nloglevel warning\nbind 10.0.0.1\n");
    let args: Vec<String> = [
        s(&file).as_str(),
        "--port",
        "6380",
        "--loglevel",
        "debug",
        "--bind",
        "127.0.0.1",
        "::1",
        "--requirepass",
        "with space",
        "--peers",
        "h1:1",
        "h2:2",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let c = Config::from_args(&args).unwrap();
    assert_eq!(c.port, 6380);
    assert_eq!(c.loglevel, LogLevel::Debug);
    assert_eq!(c.bind, vec!["127.0.0.1", "::1"]);
    assert_eq!(c.requirepass, "with space");
    assert_eq!(c.peers, vec!["h1:1", "h2:2"]);
    assert_eq!(c.config_file.as_deref(), Some(file.as_path()));

    // The peer list in every spelling: commas, spaces, one quoted argument.
    for spelling in [
        &["--peers", "h1:1,h2:2"][..],
        &["--peers", "h1:1, h2:2"],
        &["--peers", "h1:1 h2:2"],
        &["--peers", "h1:1", "h2:2,"],
    ] {
        let c = Config::from_args(spelling).unwrap();
        assert_eq!(c.peers, vec!["h1:1", "h2:2"], "{spelling:?}");
    }
    let file2 = dir.write("peers.conf", "peers 127.0.0.1:7002, 127.0.0.1:7003\n");
    let c = Config::from_file(&file2).unwrap();
    assert_eq!(c.peers, vec!["127.0.0.1:7002", "127.0.0.1:7003"]);

    // No file: options only.
    let c = Config::from_args(["--port", "6390", "--appendonly", "yes"]).unwrap();
    assert_eq!(
        (c.port, c.appendonly, c.config_file.clone()),
        (6390, true, None)
    );

    // An option error is reported against the command line.
    let err = Config::from_args(["--port", "6390", "--timeout", "abc"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "*** FATAL CONFIG FILE ERROR (memkv {}) ***\n\
             Reading the command line options, at line 2\n\
             >>> 'timeout \"abc\"'\n\
             argument couldn't be parsed into an integer",
            env!("CARGO_PKG_VERSION")
        )
    );
    let err = Config::from_args(["--port"]).unwrap_err();
    assert_eq!(err.message, "wrong number of arguments");
}

#[test]
fn bad_directive_names_file_and_line() {
    let dir = TempDir::new("bad");
    let file = dir.write("bad.conf", "port 6380\nfoo bar\n");
    let err = Config::from_file(&file).unwrap_err();
    assert_eq!(err.line, Some(2));
    assert_eq!(err.text.as_deref(), Some("foo bar"));
    assert_eq!(err.message, "Bad directive or wrong number of arguments");
    assert_eq!(
        err.to_string(),
        format!(
            "*** FATAL CONFIG FILE ERROR (memkv {}) ***\n\
             Reading the configuration file '{}', at line 2\n\
             >>> 'foo bar'\n\
             Bad directive or wrong number of arguments",
            env!("CARGO_PKG_VERSION"),
            file.display()
        )
    );

    // Same texts as redis-server 7.0 for the other kinds of mistakes.
    let cases: &[(&str, usize, &str, &str)] = &[
        ("timeout 1 2", 1, "timeout 1 2", "wrong number of arguments"),
        (
            "\n  timeout abc  ",
            2,
            "timeout abc",
            "argument couldn't be parsed into an integer",
        ),
        (
            "requirepass \"abc",
            1,
            "requirepass \"abc",
            "Unbalanced quotes in configuration line",
        ),
        (
            "appendonly maybe",
            1,
            "appendonly maybe",
            "argument must be 'yes' or 'no'",
        ),
        (
            "appendfsync sometimes",
            1,
            "appendfsync sometimes",
            "argument(s) must be one of the following: everysec, always, no",
        ),
        (
            "maxmemory 1.5gb",
            1,
            "maxmemory 1.5gb",
            "argument must be a memory value",
        ),
        (
            "proto-max-bulk-len 1k",
            1,
            "proto-max-bulk-len 1k",
            "argument must be between 1048576 and 9223372036854775807 inclusive",
        ),
        (
            "port 70000",
            1,
            "port 70000",
            "argument must be between 0 and 65535 inclusive",
        ),
        ("save 10", 1, "save 10", "Invalid save parameters"),
        (
            "dir /nonexistent/memkv",
            1,
            "dir /nonexistent/memkv",
            "No such file or directory",
        ),
        (
            "include",
            1,
            "include",
            "Bad directive or wrong number of arguments",
        ),
        (
            "sentinel monitor m 127.0.0.1 6379 2",
            1,
            "sentinel monitor m 127.0.0.1 6379 2",
            "sentinel directive while not in sentinel mode",
        ),
        (
            "peers 127.0.0.1",
            1,
            "peers 127.0.0.1",
            "'127.0.0.1' is not a valid host:port address",
        ),
    ];
    for (text, line, shown, message) in cases {
        let err = Config::parse(text).unwrap_err();
        assert_eq!(err.line, Some(*line), "{text}");
        assert_eq!(err.text.as_deref(), Some(*shown), "{text}");
        assert_eq!(err.message, *message, "{text}");
        assert_eq!(err.origin, Some(ConfigOrigin::Text));
        // Without a file, the line reads exactly like Redis's.
        assert!(
            err.to_string().contains(&format!(
                "\nReading the configuration file, at line {line}\n"
            )),
            "{err}"
        );
    }

    let err = Config::from_file(dir.path().join("absent.conf")).unwrap_err();
    assert_eq!(err.line, None);
    assert!(
        err.to_string()
            .starts_with("Fatal error, can't open config file '"),
        "{err}"
    );
}

#[test]
fn ignored_redis_directives_are_kept() {
    let c = Config::parse(
        "maxmemory-policy allkeys-lru\n\
         slave-read-only no\n\
         client-output-buffer-limit replica 1gb 512mb 120\n\
         list-max-ziplist-entries 512\n\
         rename-command FLUSHALL \"\"\n\
         user alice on >pw ~* +@all\n\
         loadmodule /x/y.so arg\n\
         notify-keyspace-events KEA\n\
         maxmemory-policy volatile-lru\n",
    )
    .unwrap();
    // maxmemory-policy is honored, so not listed.
    assert_eq!(
        c.ignored,
        vec![
            "replica-read-only",
            "client-output-buffer-limit",
            "list-max-ziplist-entries",
            "loadmodule",
            "notify-keyspace-events",
        ]
    );
    assert_eq!(get1(&c, "maxmemory-policy"), "volatile-lru");
    assert_eq!(get1(&c, "replica-read-only"), "no");
    assert_eq!(get1(&c, "slave-read-only"), "no");
    assert_eq!(
        get1(&c, "client-output-buffer-limit"),
        "normal 0 0 0 slave 1073741824 536870912 120 pubsub 33554432 8388608 60"
    );
    assert_eq!(get1(&c, "notify-keyspace-events"), "AKE");
    // `user` lines are kept for the ACL, in order, name first.
    assert_eq!(c.users, vec![vec!["alice", "on", ">pw", "~*", "+@all"]]);
    assert_eq!(
        c.rename_commands,
        vec![("FLUSHALL".to_string(), String::new())]
    );
    // Logging them must not panic without a logger.
    c.log_ignored();
}

#[test]
fn debian_redis_conf_loads() {
    let path = Path::new("/etc/redis/redis.conf");
    if let Err(e) = std::fs::File::open(path) {
        println!("note: skipping, cannot read {}: {e}", path.display());
        return;
    }
    let c = Config::from_file(path).unwrap_or_else(|e| panic!("\n{e}"));
    // Directives memkv implements take effect.
    assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
    assert_eq!(c.port, 6379);
    assert!(c.daemonize);
    assert_eq!(c.pidfile, "/run/redis/redis-server.pid");
    assert_eq!(c.logfile, "/var/log/redis/redis-server.log");
    assert_eq!(c.appendfilename, "appendonly.aof");
    assert_eq!(c.appenddirname, "appendonlydir");
    assert_eq!(c.auto_aof_rewrite_min_size, 64 << 20);
    assert_eq!(
        c.pidfile_path().as_deref(),
        Some(Path::new("/run/redis/redis-server.pid"))
    );
    // The rest is accepted, remembered and listed as ignored.
    assert!(c.ignored.iter().any(|n| n == "tcp-backlog"));
    assert!(c.ignored.iter().any(|n| n == "replica-read-only"));
    assert_eq!(get1(&c, "tcp-backlog"), "511");
    assert_eq!(get1(&c, "oom-score-adj-values"), "0 200 800");
    assert_eq!(
        get1(&c, "proc-title-template"),
        "{title} {listen-addr} {server-mode}"
    );
    // With command line overrides on top.
    let c = Config::from_args([
        "/etc/redis/redis.conf",
        "--daemonize",
        "no",
        "--port",
        "7001",
    ])
    .unwrap();
    assert!(!c.daemonize);
    assert_eq!(c.port, 7001);
}

#[test]
fn bundled_redis_conf_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("redis.conf");
    let c = Config::from_file(&path).unwrap_or_else(|e| panic!("\n{e}"));
    assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
    assert_eq!(c.port, 6379);
    assert!(c.protected_mode && !c.daemonize && !c.appendonly && c.multi_rollback);
    assert_eq!(c.loglevel, LogLevel::Notice);
    assert_eq!(c.logfile, "");
    assert_eq!(c.appendfsync, AppendFsync::Everysec);
    assert!(c.ignored.is_empty(), "{:?}", c.ignored);
    assert_eq!(c.pidfile_path(), None);
}

#[test]
fn config_get_globs() {
    let c = Config::parse("maxmemory 10mb\n").unwrap();
    let names: Vec<String> = c.get("maxmemory*").into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        vec![
            "maxmemory",
            "maxmemory-clients",
            "maxmemory-eviction-tenacity",
            "maxmemory-policy",
            "maxmemory-samples"
        ]
    );
    // Case-insensitive; aliases included.
    assert_eq!(c.get("MAXMEM*").len(), 5);
    let names: Vec<String> = c.get("*read-only").into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["replica-read-only", "slave-read-only"]);
    assert_eq!(
        c.get("p?rt"),
        vec![("port".to_string(), "6379".to_string())]
    );
    assert_eq!(c.get("[ab]ind").len(), 1);
    // Exact names echo the requested spelling, and reach hidden parameters.
    assert_eq!(
        c.get("Port"),
        vec![("Port".to_string(), "6379".to_string())]
    );
    assert_eq!(c.get("watchdog-period").len(), 1);
    assert!(c.get("watchdog*").is_empty());
    assert!(c.get("nosuchparam").is_empty());
    // Every Redis 7.0 parameter (and its aliases), plus memkv's own three.
    assert_eq!(c.get("*").len(), 192 + 3);
    assert_eq!(c.value("SAVE").as_deref(), Some("3600 1 300 100 60 10000"));
    assert_eq!(c.value("nope"), None);
}

#[test]
fn config_set_like_redis() {
    let mut c = Config::default();
    assert_eq!(
        c.set("foo", "bar").unwrap_err(),
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    );
    assert_eq!(
        c.set("port", "6380").unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
    );
    assert_eq!(
        c.set("Databases", "4").unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'Databases') - can't set immutable config"
    );
    assert_eq!(
        c.set("dir", "/tmp").unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    assert_eq!(
        c.set("timeout", "abc").unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"
    );
    assert_eq!(
        c.set("appendonly", "1").unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'"
    );
    // Errors name the alias when set through it.
    assert_eq!(
        c.set("SLAVE-READ-ONLY", "maybe").unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'slave-read-only') - argument must be 'yes' or 'no'"
    );

    c.set("timeout", "30").unwrap();
    c.set("tcp-keepalive", "60").unwrap();
    c.set("loglevel", "warning").unwrap();
    c.set("requirepass", "s3cret").unwrap();
    c.set("protected-mode", "no").unwrap();
    c.set("proto-max-bulk-len", "1gb").unwrap();
    c.set("client-query-buffer-limit", "2mb").unwrap();
    c.set("hz", "100").unwrap();
    c.set("appendonly", "yes").unwrap();
    c.set("appendfsync", "no").unwrap();
    c.set("aof-load-truncated", "no").unwrap();
    c.set("auto-aof-rewrite-percentage", "50").unwrap();
    c.set("auto-aof-rewrite-min-size", "1mb").unwrap();
    c.set("multi-rollback", "no").unwrap();
    c.set("maxclients", "100").unwrap();
    c.set("save", "60 100").unwrap();
    c.set("maxmemory-policy", "ALLKEYS-LRU").unwrap();
    assert_eq!(c.timeout, 30);
    assert_eq!(c.tcp_keepalive, 60);
    assert_eq!(c.loglevel, LogLevel::Warning);
    assert_eq!(c.requirepass, "s3cret");
    assert!(!c.protected_mode);
    assert_eq!(c.proto_max_bulk_len, 1 << 30);
    assert_eq!(c.client_query_buffer_limit, 2 << 20);
    assert_eq!(c.hz, 100);
    assert!(c.appendonly);
    assert_eq!(c.appendfsync, AppendFsync::No);
    assert!(!c.aof_load_truncated);
    assert_eq!(c.auto_aof_rewrite_percentage, 50);
    assert_eq!(c.auto_aof_rewrite_min_size, 1 << 20);
    assert!(!c.multi_rollback);
    assert_eq!(c.maxclients, 100);
    assert_eq!(get1(&c, "save"), "60 100");
    assert_eq!(get1(&c, "maxmemory-policy"), "allkeys-lru");
    assert_eq!(get1(&c, "requirepass"), "s3cret");
    c.set("requirepass", "").unwrap();
    assert_eq!(c.requirepass, "");
    memkv::logging::set_level(LogLevel::Notice);

    // Several pairs: all or nothing, duplicates refused.
    let before = c.clone();
    assert_eq!(
        c.set_many(&[("timeout", "5"), ("hz", "x")], false)
            .unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"
    );
    assert_eq!(c, before);
    assert_eq!(
        c.set_many(&[("timeout", "5"), ("TIMEOUT", "6")], false)
            .unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'TIMEOUT') - duplicate parameter"
    );
    c.set_many(&[("timeout", "5"), ("hz", "20")], false)
        .unwrap();
    assert_eq!((c.timeout, c.hz), (5, 20));
}

#[test]
fn config_dir_and_pidfile() {
    let dir = TempDir::new("dir");
    let c = Config::parse(&format!("dir {}\n", s(dir.path()))).unwrap();
    assert_eq!(c.dir, s(dir.path()));
    assert_eq!(get1(&c, "dir"), s(dir.path()));
    let c = Config::parse("daemonize yes\n").unwrap();
    assert_eq!(
        c.pidfile_path().as_deref(),
        Some(Path::new(memkv::config::DEFAULT_PID_FILE))
    );
    let c = Config::parse("pidfile /tmp/memkv-test.pid\n").unwrap();
    assert_eq!(
        c.pidfile_path().as_deref(),
        Some(Path::new("/tmp/memkv-test.pid"))
    );
}
