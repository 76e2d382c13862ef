//! Server commands through the real protocol: COMMAND (COUNT, INFO, DOCS,
//! LIST, GETKEYS, GETKEYSANDFLAGS), INFO, CONFIG, TIME, DBSIZE, LASTSAVE,
//! SAVE and SHUTDOWN, with exact reply bytes and differential checks
//! against real Redis when it is installed.

mod common;

use std::time::{Duration, Instant};

use common::{Raw, Server};

/// Sends a command (string parts) and returns the raw reply as text.
fn cmd(r: &mut Raw, parts: &[&str]) -> String {
    let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    String::from_utf8_lossy(&r.cmd(&parts)).into_owned()
}

/// A parsed RESP2/RESP3 value.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(String),
    Null,
    Arr(Vec<V>),
    Set(Vec<V>),
    Map(Vec<(V, V)>),
}

impl V {
    fn s(&self) -> &str {
        match self {
            V::Simple(s) | V::Bulk(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    fn items(&self) -> &[V] {
        match self {
            V::Arr(v) | V::Set(v) => v,
            other => panic!("not an aggregate: {other:?}"),
        }
    }

    /// Field of a RESP3 map, or of a RESP2 flat key/value array.
    fn get(&self, key: &str) -> Option<&V> {
        match self {
            V::Map(pairs) => pairs.iter().find(|(k, _)| k.s() == key).map(|(_, v)| v),
            V::Arr(flat) => flat
                .chunks(2)
                .find(|kv| matches!(&kv[0], V::Bulk(k) | V::Simple(k) if k == key))
                .map(|kv| &kv[1]),
            _ => None,
        }
    }

    fn at(&self, key: &str) -> &V {
        self.get(key)
            .unwrap_or_else(|| panic!("no field {key} in {self:?}"))
    }
}

fn parse(b: &[u8]) -> (V, usize) {
    let end = b.windows(2).position(|w| w == b"\r\n").expect("line");
    let line = std::str::from_utf8(&b[1..end]).expect("utf8 header");
    let after = end + 2;
    let n = || line.parse::<i64>().expect("length");
    match b[0] {
        b'+' => (V::Simple(line.into()), after),
        b'-' => (V::Err(line.into()), after),
        b':' => (V::Int(n()), after),
        b'_' => (V::Null, after),
        b'$' | b'=' => {
            if n() < 0 {
                return (V::Null, after);
            }
            let len = n() as usize;
            let s = String::from_utf8_lossy(&b[after..after + len]).into_owned();
            (V::Bulk(s), after + len + 2)
        }
        b'*' | b'~' | b'%' => {
            if n() < 0 {
                return (V::Null, after);
            }
            let count = if b[0] == b'%' { 2 * n() } else { n() } as usize;
            let mut pos = after;
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                let (v, used) = parse(&b[pos..]);
                items.push(v);
                pos += used;
            }
            let v = match b[0] {
                b'*' => V::Arr(items),
                b'~' => V::Set(items),
                _ => V::Map(
                    items
                        .chunks(2)
                        .map(|kv| (kv[0].clone(), kv[1].clone()))
                        .collect(),
                ),
            };
            (v, pos)
        }
        other => panic!("unexpected type byte {}", other as char),
    }
}

fn query(r: &mut Raw, parts: &[&str]) -> V {
    let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    parse(&r.cmd(&parts)).0
}

/// The payload of a RESP2 bulk or RESP3 verbatim reply.
fn payload(reply: &str) -> String {
    let body = &reply[reply.find("\r\n").expect("header") + 2..];
    let body = body.strip_suffix("\r\n").expect("trailing CRLF");
    body.strip_prefix("txt:").unwrap_or(body).to_string()
}

fn info(r: &mut Raw, sections: &[&str]) -> String {
    let mut parts = vec!["INFO"];
    parts.extend_from_slice(sections);
    payload(&cmd(r, &parts))
}

fn info_field(text: &str, key: &str) -> String {
    text.split("\r\n")
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {key} in INFO"))
        .to_string()
}

fn headers(text: &str) -> Vec<String> {
    text.split("\r\n")
        .filter(|l| l.starts_with("# "))
        .map(String::from)
        .collect()
}

// ------------------------------------------------------------------ COMMAND

#[test]
fn command_count_is_the_table_size() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let n = memkv::commands::table().all.len();
    assert_eq!(cmd(&mut r, &["COMMAND", "COUNT"]), format!(":{n}\r\n"));
    assert_eq!(
        cmd(&mut r, &["command", "count", "x"]),
        "-ERR wrong number of arguments for 'command|count' command\r\n"
    );
}

#[test]
fn bare_command_lists_every_command() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let all = query(&mut r, &["COMMAND"]);
    let n = memkv::commands::table().all.len();
    assert_eq!(all.items().len(), n);
    for entry in all.items() {
        let e = entry.items();
        assert_eq!(e.len(), 10);
        // redis-cli's help integration needs name, arity and first key.
        assert!(matches!(e[0], V::Bulk(_)));
        assert!(matches!(e[1], V::Int(_)));
        assert!(matches!(e[3], V::Int(_)));
    }
}

#[test]
fn command_info_get_and_set() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // Byte-exact Redis 7.0 reply for GET.
    let get = "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
               *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n\
               *1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n\
               $12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n\
               $9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n\
               *6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";
    assert_eq!(cmd(&mut r, &["COMMAND", "INFO", "get"]), get);

    let set = query(&mut r, &["COMMAND", "INFO", "SET", "nosuchcmd"]);
    let items = set.items();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1], V::Null);
    let e = items[0].items();
    assert_eq!(e[0].s(), "set");
    assert_eq!(e[1], V::Int(-3));
    let flags: Vec<&str> = e[2].items().iter().map(V::s).collect();
    assert_eq!(flags, ["write", "denyoom"]);
    assert_eq!(&e[3..6], &[V::Int(1), V::Int(1), V::Int(1)]);
    let cats: Vec<&str> = e[6].items().iter().map(V::s).collect();
    assert_eq!(cats, ["@write", "@string", "@slow"]);
    let spec = &e[8].items()[0];
    assert_eq!(spec.at("begin_search").at("spec").at("index"), &V::Int(1));
    assert_eq!(spec.at("find_keys").at("type").s(), "range");
    assert_eq!(e[9], V::Arr(vec![]));

    // RESP3: flags, categories, tips and key specs are sets.
    let mut r3 = s.raw3();
    let reply = cmd(&mut r3, &["COMMAND", "INFO", "get"]);
    assert!(
        reply.starts_with("*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n"),
        "{reply}"
    );
    assert!(reply.ends_with("~0\r\n"), "{reply}");
    assert!(reply.contains("~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n"));
}

#[test]
fn command_info_containers_and_subcommands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let v = query(&mut r, &["COMMAND", "INFO", "config", "config|get"]);
    let config = v.items()[0].items();
    assert_eq!(config[0].s(), "config");
    assert_eq!(config[1], V::Int(-2));
    let subs: Vec<&str> = config[9].items().iter().map(|e| e.items()[0].s()).collect();
    for name in [
        "config|get",
        "config|set",
        "config|resetstat",
        "config|rewrite",
        "config|help",
    ] {
        assert!(subs.contains(&name), "{name} in {subs:?}");
    }
    let get = v.items()[1].items();
    assert_eq!(get[0].s(), "config|get");
    assert_eq!(get[1], V::Int(-3));
    let flags: Vec<&str> = get[2].items().iter().map(V::s).collect();
    assert_eq!(flags, ["admin", "noscript", "loading", "stale"]);
    let cats: Vec<&str> = get[6].items().iter().map(V::s).collect();
    assert_eq!(cats, ["@admin", "@slow", "@dangerous"]);
}

/// Argument tree of COMMAND DOCS without `since` (memkv has no per-argument
/// history), as comparable text.
fn args_tree(args: &V) -> Vec<String> {
    args.items()
        .iter()
        .map(|a| {
            let mut s = format!("{}:{}", a.at("name").s(), a.at("type").s());
            if let Some(t) = a.get("token") {
                s += &format!("[{}]", t.s());
            }
            if let Some(k) = a.get("key_spec_index") {
                s += &format!("#{k:?}");
            }
            if let Some(f) = a.get("flags") {
                let f: Vec<&str> = f.items().iter().map(V::s).collect();
                s += &format!("{{{}}}", f.join(","));
            }
            if let Some(sub) = a.get("arguments") {
                s += &format!("({})", args_tree(sub).join(" "));
            }
            s
        })
        .collect()
}

#[test]
fn command_docs_set_shape() {
    let s = Server::start(&[]);
    let expected = [
        "key:key#Int(0)",
        "value:string",
        "condition:oneof{optional}(nx:pure-token[NX] xx:pure-token[XX])",
        "get:pure-token[GET]{optional}",
        "expiration:oneof{optional}(seconds:integer[EX] milliseconds:integer[PX] \
         unix-time-seconds:unix-time[EXAT] unix-time-milliseconds:unix-time[PXAT] \
         keepttl:pure-token[KEEPTTL])",
    ];
    // RESP2: a flat array name -> flat key/value array.
    let mut r = s.raw();
    let raw2 = cmd(&mut r, &["COMMAND", "DOCS", "set"]);
    assert!(raw2.starts_with("*2\r\n$3\r\nset\r\n*"), "{raw2}");
    let v2 = parse(raw2.as_bytes()).0;
    let doc = &v2.items()[1];
    assert_eq!(doc.at("group").s(), "string");
    assert!(doc.get("summary").is_some());
    assert_eq!(args_tree(doc.at("arguments")), expected);
    assert!(raw2.contains("$5\r\nflags\r\n*1\r\n+optional\r\n"));

    // RESP3: maps and a set of flags.
    let mut r3 = s.raw3();
    let raw3 = cmd(&mut r3, &["COMMAND", "DOCS", "set"]);
    assert!(raw3.starts_with("%1\r\n$3\r\nset\r\n%"), "{raw3}");
    assert!(raw3.contains("$5\r\nflags\r\n~1\r\n+optional\r\n"));
    let v3 = parse(raw3.as_bytes()).0;
    assert_eq!(args_tree(v3.at("set").at("arguments")), expected);

    // Unknown names are left out; containers list their subcommands.
    assert_eq!(cmd(&mut r, &["COMMAND", "DOCS", "nosuchcmd"]), "*0\r\n");
    let cfg = query(&mut r, &["COMMAND", "DOCS", "config"]);
    let subs = cfg.items()[1].at("subcommands");
    assert!(subs.get("config|get").is_some(), "{subs:?}");
    let all = query(&mut r, &["COMMAND", "DOCS"]);
    assert_eq!(all.items().len(), 2 * memkv::commands::table().all.len());
}

/// memkv's COMMAND DOCS argument trees equal real Redis's (ignoring
/// per-argument `since`) for commands whose names Redis's JSON spells the
/// way the syntax notation does.
#[test]
fn command_docs_match_real_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        return;
    };
    let s = Server::start(&[]);
    let mut mine = s.raw3();
    let mut theirs = redis.raw3();
    for name in [
        "get",
        "set",
        "getex",
        "mset",
        "del",
        "expire",
        "incrbyfloat",
        "scan",
        "hset",
        "lpos",
        "lmove",
        "blmpop",
        "flushdb",
        "info",
        "shutdown",
        "command|docs",
    ] {
        if memkv::commands::table()
            .lookup(name.split('|').next().unwrap_or(name).as_bytes())
            .is_none()
        {
            continue;
        }
        let a = query(&mut mine, &["COMMAND", "DOCS", name]);
        let b = query(&mut theirs, &["COMMAND", "DOCS", name]);
        let (Some(a), Some(b)) = (a.get(name), b.get(name)) else {
            panic!("{name}: {a:?} / {b:?}");
        };
        assert_eq!(a.at("group"), b.at("group"), "{name}");
        assert_eq!(a.at("since"), b.at("since"), "{name}");
        let tree = |d: &V| d.get("arguments").map(args_tree).unwrap_or_default();
        assert_eq!(tree(a), tree(b), "{name}");
    }
}

#[test]
fn command_list_and_filters() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let names = |v: V| -> Vec<String> { v.items().iter().map(|x| x.s().to_string()).collect() };
    let all = names(query(&mut r, &["COMMAND", "LIST"]));
    let table = memkv::commands::table();
    let expected: usize = table.all.iter().map(|c| 1 + c.subcommands.len()).sum();
    assert_eq!(all.len(), expected);
    assert!(all.contains(&"config|get".to_string()));
    let conf = names(query(
        &mut r,
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "CONF*"],
    ));
    assert!(conf.contains(&"config".to_string()) && conf.contains(&"config|set".to_string()));
    assert!(conf.iter().all(|n| n.starts_with("config")));
    let admin = names(query(
        &mut r,
        &["command", "list", "filterby", "aclcat", "ADMIN"],
    ));
    assert!(admin.contains(&"shutdown".to_string()), "{admin:?}");
    assert!(!admin.contains(&"get".to_string()));
    assert_eq!(
        cmd(&mut r, &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]),
        "*0\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["COMMAND", "LIST", "FILTERBY", "aclcat", "nosuch"]),
        "*0\r\n"
    );
    for bad in [
        &["COMMAND", "LIST", "FILTERBY"][..],
        &["COMMAND", "LIST", "foo"],
        &["COMMAND", "LIST", "FILTERBY", "foo", "x"],
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "x", "y"],
    ] {
        assert_eq!(cmd(&mut r, bad), "-ERR syntax error\r\n", "{bad:?}");
    }
}

#[test]
fn command_getkeys() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        cmd(&mut r, &["COMMAND", "GETKEYS", "SET", "a", "b"]),
        "*1\r\n$1\r\na\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["COMMAND", "GETKEYSANDFLAGS", "get", "a"]),
        "*1\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["COMMAND", "GETKEYSANDFLAGS", "set", "a", "b"]),
        "*1\r\n*2\r\n$1\r\na\r\n*2\r\n+OW\r\n+update\r\n"
    );
    assert_eq!(
        cmd(
            &mut r,
            &["COMMAND", "GETKEYSANDFLAGS", "set", "a", "b", "get"]
        ),
        "*1\r\n*2\r\n$1\r\na\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["COMMAND", "GETKEYS", "nosuch", "a"]),
        "-ERR Invalid command specified\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["COMMAND", "GETKEYS", "config", "nosuch", "x"]),
        "-ERR Invalid command specified\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["COMMAND", "GETKEYS", "ping", "x"]),
        "-ERR The command has no key arguments\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["COMMAND", "GETKEYS", "get", "a", "b"]),
        "-ERR Invalid number of arguments specified for command\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["COMMAND", "GETKEYS", "get"]),
        "-ERR wrong number of arguments for 'command|getkeys' command\r\n"
    );
    if memkv::commands::table().lookup(b"mset").is_some() {
        assert_eq!(
            cmd(&mut r, &["COMMAND", "GETKEYS", "mset", "a", "1", "c", "2"]),
            "*2\r\n$1\r\na\r\n$1\r\nc\r\n"
        );
    }
}

#[test]
fn command_help() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let help = query(&mut r, &["COMMAND", "HELP"]);
    let lines = help.items();
    assert_eq!(
        lines[0],
        V::Simple("COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into())
    );
    assert_eq!(
        lines[lines.len() - 1],
        V::Simple("    Prints this help.".into())
    );
    assert_eq!(
        cmd(&mut r, &["COMMAND", "foo"]),
        "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n"
    );
}

// --------------------------------------------------------------------- INFO

#[test]
fn info_sections() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let default = info(&mut r, &[]);
    assert_eq!(
        headers(&default),
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    // CRLF everywhere, an empty line between sections, none at the end.
    assert!(!default.replace("\r\n", "").contains('\n'));
    assert!(default.contains("\r\n\r\n# Clients\r\n"));
    assert!(!default.ends_with("\r\n\r\n"));
    assert_eq!(info_field(&default, "redis_version"), "7.0.15");
    assert_eq!(info_field(&default, "redis_mode"), "standalone");
    assert_eq!(info_field(&default, "tcp_port"), s.port.to_string());
    assert_eq!(info_field(&default, "process_id"), s.child.id().to_string());
    assert_eq!(info_field(&default, "loading"), "0");
    assert_eq!(info_field(&default, "role"), "master");
    assert_eq!(info_field(&default, "aof_enabled"), "0");
    assert_eq!(info_field(&default, "cluster_enabled"), "0");
    assert_eq!(info_field(&default, "maxmemory_policy"), "noeviction");
    // The harness's readiness probe may still be counted.
    assert!(
        info_field(&default, "connected_clients")
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert!(info_field(&default, "used_memory").parse::<u64>().unwrap() > 0);
    assert!(info_field(&default, "used_cpu_user").contains('.'));

    let all = info(&mut r, &["all"]);
    assert!(headers(&all).contains(&"# Commandstats".to_string()));
    assert_eq!(headers(&info(&mut r, &["everything"])), headers(&all));
    // Several sections, any case, Redis's order; unknown names ignored.
    assert_eq!(
        headers(&info(&mut r, &["CLIENTS", "server", "nosuch"])),
        ["# Server", "# Clients"]
    );
    assert_eq!(
        headers(&info(&mut r, &["default", "commandstats"])).len(),
        headers(&default).len() + 1
    );
    assert_eq!(cmd(&mut r, &["INFO", "nosuch"]), "$0\r\n\r\n");
    assert_eq!(
        cmd(&mut r, &["INFO", "cluster"]),
        "$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n"
    );
    // RESP3: a verbatim string.
    let mut r3 = s.raw3();
    assert_eq!(
        cmd(&mut r3, &["INFO", "cluster"]),
        "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"
    );
}

#[test]
fn info_stats_and_keyspace() {
    let s = Server::start(&["--appendonly", "no"]);
    let mut r = s.raw();
    assert_eq!(info(&mut r, &["keyspace"]), "# Keyspace\r\n");
    assert_eq!(cmd(&mut r, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["SET", "e", "v", "EX", "100"]), "+OK\r\n");
    assert_eq!(
        info(&mut r, &["keyspace"]),
        "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n"
    );
    assert_eq!(cmd(&mut r, &["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(cmd(&mut r, &["GET", "missing"]), "$-1\r\n");
    let stats = info(&mut r, &["stats"]);
    assert_eq!(info_field(&stats, "keyspace_hits"), "1");
    assert_eq!(info_field(&stats, "keyspace_misses"), "1");
    assert!(
        info_field(&stats, "total_commands_processed")
            .parse::<u64>()
            .unwrap()
            >= 5
    );
    assert!(
        info_field(&stats, "total_connections_received")
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let dirty = info_field(
        &info(&mut r, &["persistence"]),
        "rdb_changes_since_last_save",
    );
    assert!(dirty.parse::<u64>().unwrap() >= 2);
    assert_eq!(cmd(&mut r, &["CONFIG", "RESETSTAT"]), "+OK\r\n");
    let stats = info(&mut r, &["stats"]);
    assert_eq!(info_field(&stats, "keyspace_hits"), "0");
    assert_eq!(info_field(&stats, "keyspace_misses"), "0");
    assert_eq!(info_field(&stats, "total_error_replies"), "0");
}

// ------------------------------------------------------------------- CONFIG

#[test]
fn config_get() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // redis-benchmark needs exactly these two-element answers.
    let save = query(&mut r, &["CONFIG", "GET", "save"]);
    assert_eq!(save.items().len(), 2);
    assert_eq!(save.items()[0].s(), "save");
    assert_eq!(
        cmd(&mut r, &["CONFIG", "GET", "appendonly"]),
        "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
    );
    assert_eq!(cmd(&mut r, &["CONFIG", "GET", "nosuch"]), "*0\r\n");
    let port = s.port.to_string();
    assert_eq!(
        cmd(&mut r, &["CONFIG", "GET", "port", "PORT", "p?rt"]),
        format!("*2\r\n$4\r\nport\r\n${}\r\n{}\r\n", port.len(), port)
    );
    let glob = query(&mut r, &["CONFIG", "GET", "*max*"]);
    let keys: Vec<&str> = glob.items().chunks(2).map(|kv| kv[0].s()).collect();
    assert!(keys.contains(&"maxclients"), "{keys:?}");
    assert_eq!(
        cmd(&mut r, &["CONFIG", "GET"]),
        "-ERR wrong number of arguments for 'config|get' command\r\n"
    );
    let mut r3 = s.raw3();
    assert_eq!(
        cmd(&mut r3, &["CONFIG", "GET", "appendonly"]),
        "%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
    );
}

#[test]
fn config_set_and_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        cmd(&mut r, &["CONFIG", "SET", "hz", "20", "timeout", "30"]),
        "+OK\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CONFIG", "GET", "hz"]),
        "*2\r\n$2\r\nhz\r\n$2\r\n20\r\n"
    );
    assert_eq!(info_field(&info(&mut r, &["server"]), "hz"), "20");
    let cases: &[(&[&str], &str)] = &[
        (
            &["CONFIG", "SET", "nosuch", "1"],
            "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
        ),
        (
            &["CONFIG", "SET", "hz", "1", "timeout"],
            "-ERR syntax error\r\n",
        ),
        (
            &["CONFIG", "SET", "hz"],
            "-ERR wrong number of arguments for 'config|set' command\r\n",
        ),
        (
            &["CONFIG", "SET", "hz", "20", "HZ", "30"],
            "-ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter\r\n",
        ),
        (
            &["CONFIG", "SET", "daemonize", "yes"],
            "-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config\r\n",
        ),
        (
            &["CONFIG", "SET", "appendonly", "maybe"],
            "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'\r\n",
        ),
        (
            &["CONFIG", "SET", "timeout", "-1"],
            "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive\r\n",
        ),
        (
            &["CONFIG", "SET", "loglevel", "foo"],
            "-ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning\r\n",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(cmd(&mut r, args), *expected, "{args:?}");
    }
    // All or nothing: the valid hz before the bad timeout was not applied.
    assert!(cmd(&mut r, &["CONFIG", "SET", "hz", "50", "timeout", "-1"]).starts_with("-ERR"));
    assert_eq!(
        cmd(&mut r, &["CONFIG", "GET", "hz"]),
        "*2\r\n$2\r\nhz\r\n$2\r\n20\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CONFIG", "SET", "loglevel", "warning"]),
        "+OK\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CONFIG", "REWRITE"]),
        "-ERR The server is running without a config file\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CONFIG", "foo"]),
        "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CONFIG"]),
        "-ERR wrong number of arguments for 'config' command\r\n"
    );
    let help = query(&mut r, &["CONFIG", "HELP"]);
    assert_eq!(help.items().len(), 11);
}

/// The same CONFIG SET error texts as real Redis.
#[test]
fn config_errors_match_real_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        return;
    };
    let s = Server::start(&[]);
    let mut mine = s.raw();
    let mut theirs = redis.raw();
    for args in [
        &["CONFIG", "SET", "nosuch", "1"][..],
        &["CONFIG", "SET", "maxmemory", "abc"],
        &["CONFIG", "SET", "hz", "1", "HZ", "2"],
        &["CONFIG", "SET", "databases", "5"],
        &["CONFIG", "SET", "maxclients", "0"],
        &["CONFIG", "SET", "hz", "1", "timeout"],
        &["CONFIG", "GET", "nosuch"],
        &["CONFIG", "RESETSTAT"],
        &["CONFIG", "HELP"],
        &["COMMAND", "HELP"],
        &["COMMAND", "GETKEYS", "get", "a", "b"],
        &["SHUTDOWN", "ABORT"],
        &["SHUTDOWN", "NOSAVE", "SAVE"],
        &["SHUTDOWN", "ABORT", "NOW"],
        &["SHUTDOWN", "bogus"],
        &["DBSIZE", "x"],
        &["TIME", "x"],
    ] {
        assert_eq!(cmd(&mut mine, args), cmd(&mut theirs, args), "{args:?}");
    }
}

// ------------------------------------------------------------ misc commands

#[test]
fn time_dbsize_lastsave_save() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let t = query(&mut r, &["TIME"]);
    let secs: u64 = t.items()[0].s().parse().unwrap();
    let usecs: u64 = t.items()[1].s().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2 && usecs < 1_000_000);
    assert_eq!(cmd(&mut r, &["DBSIZE"]), ":0\r\n");
    assert_eq!(cmd(&mut r, &["SET", "a", "1"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["DBSIZE"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["SELECT", "1"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["DBSIZE"]), ":0\r\n");
    let last = cmd(&mut r, &["LASTSAVE"]);
    let last: u64 = last.trim_start_matches(':').trim_end().parse().unwrap();
    assert!(last <= now + 1 && last + 600 > now);
    // SAVE / BGSAVE themselves are tested in tests/rdb.rs.
    assert_eq!(cmd(&mut r, &["SAVE"]), "+OK\r\n");
    let after: u64 = cmd(&mut r, &["LASTSAVE"])
        .trim_start_matches(':')
        .trim_end()
        .parse()
        .unwrap();
    assert!(after >= last);
}

#[test]
fn shutdown_exits_with_code_zero() {
    let mut s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        cmd(&mut r, &["SHUTDOWN", "ABORT"]),
        "-ERR No shutdown in progress.\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["SHUTDOWN", "NOSAVE", "SAVE"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(cmd(&mut r, &["SHUTDOWN", "bogus"]), "-ERR syntax error\r\n");
    r.send(&common::encode(&[b"SHUTDOWN", b"NOSAVE"]));
    // No reply: the connection just closes.
    assert!(r.is_closed());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "memkv did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn info_persistence_reflects_the_aof() {
    let s = Server::start(&["--appendonly", "yes"]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["SET", "k", "v"]), "+OK\r\n");
    let p = info(&mut r, &["persistence"]);
    assert_eq!(info_field(&p, "loading"), "0");
    assert_eq!(info_field(&p, "aof_enabled"), "1");
    assert_eq!(info_field(&p, "aof_last_write_status"), "ok");
    assert!(info_field(&p, "aof_current_size").parse::<u64>().is_ok());
    let s = Server::start(&[]);
    let mut r = s.raw();
    let p = info(&mut r, &["persistence"]);
    assert_eq!(info_field(&p, "aof_enabled"), "0");
    assert!(!p.contains("aof_current_size"));
}
