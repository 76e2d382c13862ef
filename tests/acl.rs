//! ACL through the real protocol, compared with real Redis 7.0 where it is
//! installed: every rule form in ACL SETUSER / GETUSER / LIST (outputs and
//! errors), the categories of every command against Redis's ACL CAT,
//! NOPERM texts and ACL LOG entries, MULTI/EXEC and scripts, AUTH/HELLO
//! with users, disconnection on user changes, ACL SAVE/LOAD with an
//! aclfile, the `user` directive and requirepass.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::script::{render, split};
use common::{Raw, Server};

fn send(r: &mut Raw, line: &str) -> String {
    let parts = split(line);
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    render(&r.cmd(&refs))
}

/// Redis emits single-command rules (`+get -set`) in its command
/// dictionary's hash order, which differs from run to run; categories and
/// everything else come in a fixed order. This sorts every run of
/// consecutive single-command tokens so outputs compare exactly otherwise.
fn normalize(text: &str) -> String {
    fn token_len(p: &str) -> usize {
        let b = p.as_bytes();
        if b.len() < 2 || !matches!(b[0], b'+' | b'-') || b[1] == b'@' {
            return 0;
        }
        let n = b[1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'|' | b'-'))
            .count();
        if n == 0 { 0 } else { n + 1 }
    }
    let pieces: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        let mut j = i;
        let mut toks = Vec::new();
        let mut suffix = "";
        while j < pieces.len() {
            let n = token_len(pieces[j]);
            if n == 0 {
                break;
            }
            toks.push(&pieces[j][..n]);
            suffix = &pieces[j][n..];
            j += 1;
            if !suffix.is_empty() {
                break;
            }
        }
        if toks.is_empty() {
            out.push(pieces[i].to_string());
            i += 1;
            continue;
        }
        toks.sort_unstable();
        let last = toks.len() - 1;
        for (k, t) in toks.iter().enumerate() {
            out.push(if k == last {
                format!("{t}{suffix}")
            } else {
                t.to_string()
            });
        }
        i = j;
    }
    mask_client_id(&out.join(" "))
}

/// HELLO's `id` field is connection specific.
fn mask_client_id(s: &str) -> String {
    match s.find("\"id\": :") {
        Some(at) => {
            let start = at + 7;
            let end = s[start..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(s.len(), |e| start + e);
            format!("{}N{}", &s[..start], &s[end..])
        }
        None => s.to_string(),
    }
}

/// Runs each line on memkv and on Redis (when installed) and compares the
/// normalized replies; returns memkv's replies.
fn differential(mem_args: &[&str], redis_args: &[&str], lines: &[&str]) -> Vec<String> {
    let m = Server::start(mem_args);
    let mut mr = m.raw();
    let got: Vec<String> = lines.iter().map(|l| send(&mut mr, l)).collect();
    if let Some(r) = Server::start_redis(redis_args) {
        let mut rr = r.raw();
        for (line, mine) in lines.iter().zip(&got) {
            let want = send(&mut rr, line);
            assert_eq!(normalize(mine), normalize(&want), "{line}");
        }
    }
    got
}

/// Categories of every command: memkv's ACL CAT <cat> and COMMAND INFO
/// against Redis's ACL CAT <cat>, for each category.
#[test]
fn categories_of_every_command_match_redis() {
    let Some(r) = Server::start_redis(&[]) else {
        return;
    };
    let m = Server::start(&[]);
    let (mut mr, mut rr) = (m.raw(), r.raw());
    let parse_list = |s: String| -> BTreeSet<String> {
        let inner = s.trim_start_matches('[').trim_end_matches(']');
        inner
            .split(", ")
            .filter(|x| !x.is_empty())
            .map(|x| x.trim_matches('"').to_string())
            .collect()
    };
    let cats = send(&mut rr, "ACL CAT");
    assert_eq!(send(&mut mr, "ACL CAT"), cats, "category names and order");
    let names = parse_list(send(&mut mr, "COMMAND LIST"));
    let mut by_cmd: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut redis_names = BTreeSet::new();
    for cat in parse_list(cats) {
        let mine = parse_list(send(&mut mr, &format!("ACL CAT {cat}")));
        let theirs = parse_list(send(&mut rr, &format!("ACL CAT {cat}")));
        for c in &mine {
            by_cmd.entry(c.clone()).or_default().insert(cat.clone());
        }
        redis_names.extend(theirs.iter().cloned());
        // Every command memkv has is in the category iff it is in Redis's.
        let mine_known: BTreeSet<_> = mine
            .iter()
            .filter(|c| redis_has(c, &rr_all(&mut rr)))
            .cloned()
            .collect();
        let theirs_here: BTreeSet<_> = theirs
            .iter()
            .filter(|c| names.contains(c.split('|').next().unwrap_or(c)) && memkv_has(&mut mr, c))
            .cloned()
            .collect();
        assert_eq!(mine_known, theirs_here, "ACL CAT {cat}");
    }
    // COMMAND INFO shows the same categories as ACL CAT (one source).
    for (name, cats) in &by_cmd {
        let (top, sub) = match name.split_once('|') {
            Some((t, s)) => (t, Some(s)),
            None => (name.as_str(), None),
        };
        let info = send(&mut mr, &format!("COMMAND INFO {top}"));
        let needle = match sub {
            None => info.clone(),
            Some(s) => {
                let at = info
                    .find(&format!("\"{top}|{s}\""))
                    .unwrap_or_else(|| panic!("{name} in COMMAND INFO"));
                info[at..].to_string()
            }
        };
        for c in cats {
            assert!(needle.contains(&format!("+@{c}")), "{name} shows @{c}");
        }
    }
    // Only Redis 7.2's CLIENT NO-TOUCH / SETINFO are memkv commands Redis
    // 7.0 lacks.
    let extra: Vec<_> = by_cmd
        .keys()
        .filter(|c| !redis_names.contains(*c))
        .cloned()
        .collect();
    assert_eq!(extra, ["client|no-touch", "client|setinfo"]);
}

fn rr_all(rr: &mut Raw) -> String {
    send(rr, "ACL CAT slow") + &send(rr, "ACL CAT fast")
}

fn redis_has(name: &str, all: &str) -> bool {
    all.contains(&format!("\"{name}\""))
}

fn memkv_has(mr: &mut Raw, name: &str) -> bool {
    let all = send(mr, "ACL CAT slow") + &send(mr, "ACL CAT fast");
    all.contains(&format!("\"{name}\""))
}

/// Every rule form through ACL SETUSER, with GETUSER / LIST / USERS and
/// the errors, byte for byte (RESP2 and RESP3).
#[test]
fn setuser_getuser_list_every_rule_form() {
    let mut lines = vec![
        "ACL SETUSER u1 on nopass +get ~a*",
        "ACL SETUSER u2 %R~r* %W~w* ~both* &ch* +@hash -hset +client|list +select|0 (~x* +get)",
        "ACL SETUSER u3 reset",
        "ACL SETUSER u4 >secret >other <other #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b",
        "ACL SETUSER u5 on allkeys allchannels allcommands -@dangerous",
        "ACL SETUSER u6 +@all -@write -@read",
        "ACL SETUSER u7 -@all +@read +@write +@hash -hget",
        "ACL SETUSER u8 on (~a +get) (%R~b +set) clearselectors",
        "ACL SETUSER u9 on resetpass nopass resetkeys ~k1 ~k2 %R~k1 resetchannels &c1 &c2",
        "ACL SETUSER u10 nocommands +config|get +config|set -config|set +debug|object",
        "ACL SETUSER u11 skip-sanitize-payload on off",
        "ACL SETUSER u12 sanitize-payload OFF ON +GET ~X",
        "ACL SETUSER u13 (~a \"+get\") (~b +set)",
        "ACL SETUSER u14 %RW~rw %WR~wr %R~x %W~x",
        "ACL SETUSER u15 +@all -@admin +acl|whoami",
        "ACL SETUSER u16 ~a ~a &b &b >p >p",
        // A selector with unbalanced quotes is empty, not an error (Redis
        // splits it with sdssplitargs and applies nothing).
        "ACL SETUSER u17 '(~\"a +get)'",
        "ACL SETUSER u18 \"(~'\\\"b' ~c))\"",
        "ACL SETUSER u1 -get +set",
        "ACL SETUSER u2 (~y* +del)",
        // Errors: every ACLSetUserStringError, unmatched parentheses,
        // usernames with spaces; nothing is applied.
        "ACL SETUSER e1 (~a on",
        "ACL SETUSER e1 on \"bad rule\"",
        "ACL SETUSER e1 +nosuch",
        "ACL SETUSER e1 +@nosuch",
        "ACL SETUSER e1 -@nosuch",
        "ACL SETUSER e1 <nosuch",
        "ACL SETUSER e1 !0000000000000000000000000000000000000000000000000000000000000000",
        "ACL SETUSER e1 #abc",
        "ACL SETUSER e1 #2BB80D537B1DA3E38BD30361AA855686BDE0EACD7162FEF6A25FE97BF527A25B",
        "ACL SETUSER e1 ~* ~a",
        "ACL SETUSER e1 &* &a",
        "ACL SETUSER e1 +config|get|x",
        "ACL SETUSER e1 +select|",
        "ACL SETUSER e1 -select|0",
        "ACL SETUSER e1 +config|nosuch",
        "ACL SETUSER e1 %",
        "ACL SETUSER e1 %X~a",
        "ACL SETUSER e1 %RR~a",
        "ACL SETUSER e1 (+nosuch)",
        "ACL SETUSER e1 (~* ~a)",
        "ACL SETUSER \"a b\" on",
        "ACL SETUSER",
        "ACL GETUSER e1",
        "ACL GETUSER nosuch",
        "ACL DELUSER default",
        "ACL DELUSER u3 nosuch u3",
        "ACL USERS",
        "ACL LIST",
        "ACL WHOAMI",
        "ACL GENPASS 0",
        "ACL GENPASS 4097",
        "ACL GENPASS x",
        "ACL CAT nosuch",
        "ACL HELP",
        "ACL NOSUCH",
        "ACL LOAD",
        "ACL SAVE",
        "ACL LOG x",
        "ACL LOG RESET",
        "ACL LOG",
    ];
    let getusers: Vec<String> = (1..=16).map(|i| format!("ACL GETUSER u{i}")).collect();
    lines.extend(getusers.iter().map(|s| s.as_str()));
    lines.push("HELLO 3");
    lines.extend(getusers.iter().map(|s| s.as_str()));
    lines.push("ACL LIST");
    let got = differential(&[], &[], &lines);
    // Spot checks that the comparison above is not vacuous.
    assert_eq!(got[0], "+OK");
    assert!(
        got.iter()
            .any(|g| g.contains("user u2 off %R~r* %W~w* ~both* resetchannels &ch* -@all +@hash"))
    );
}

/// GENPASS lengths and randomness.
#[test]
fn genpass() {
    let m = Server::start(&[]);
    let mut r = m.raw();
    let a = send(&mut r, "ACL GENPASS");
    let b = send(&mut r, "ACL GENPASS");
    assert_eq!(a.len(), 64 + 2);
    assert_ne!(a, b);
    assert!(a.trim_matches('"').bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(send(&mut r, "ACL GENPASS 5").len(), 2 + 2);
    assert_eq!(send(&mut r, "ACL GENPASS 4096").len(), 1024 + 2);
}

/// NOPERM texts for commands, subcommands, keys (read/write patterns) and
/// channels, DRYRUN, then ACL LOG entries field by field.
#[test]
fn noperm_texts_dryrun_and_acl_log() {
    let setup = [
        "ACL SETUSER lim on >pw +get +set +publish +subscribe +psubscribe +config|get +lmove +exists +acl|whoami %R~r* %W~w* ~a* &ch*",
        "ACL DRYRUN lim get a1",
        "ACL DRYRUN lim get b1",
        "ACL DRYRUN lim set r1 v",
        "ACL DRYRUN lim set w1 v",
        "ACL DRYRUN lim get w1",
        "ACL DRYRUN lim exists w1",
        "ACL DRYRUN lim lmove r1 w1 LEFT RIGHT",
        "ACL DRYRUN lim lmove w1 r1 LEFT RIGHT",
        "ACL DRYRUN lim publish ch1 m",
        "ACL DRYRUN lim publish x m",
        "ACL DRYRUN lim del a",
        "ACL DRYRUN lim config set a b",
        "ACL DRYRUN lim config get a",
        "ACL DRYRUN lim nosuch",
        "ACL DRYRUN nosuch get a",
    ];
    let m = Server::start(&[]);
    let r = Server::start_redis(&[]);
    let (mut ma, mut ra) = (m.raw(), r.as_ref().map(|r| r.raw()));
    assert_eq!(send(&mut ma, "ACL SETUSER lim on"), "+OK");
    if let Some(ra) = ra.as_mut() {
        send(ra, "ACL SETUSER lim on");
    }
    for line in setup {
        let a = send(&mut ma, line);
        if let Some(ra) = ra.as_mut() {
            assert_eq!(a, send(ra, line), "{line}");
        }
    }
    let as_lim = [
        ("AUTH lim pw", "+OK"),
        ("ACL WHOAMI", "\"lim\""),
        ("GET a1", "$-1"),
        (
            "GET b1",
            "-NOPERM this user has no permissions to access one of the keys used as arguments",
        ),
        (
            "DEL a1",
            "-NOPERM this user has no permissions to run the 'del' command",
        ),
        (
            "CONFIG SET maxmemory 1",
            "-NOPERM this user has no permissions to run the 'config|set' command",
        ),
        (
            "SET r1 v",
            "-NOPERM this user has no permissions to access one of the keys used as arguments",
        ),
        ("SET w1 v", "+OK"),
        (
            "GET w1",
            "-NOPERM this user has no permissions to access one of the keys used as arguments",
        ),
        (
            "EXISTS w1 r1 zz",
            "-NOPERM this user has no permissions to access one of the keys used as arguments",
        ),
        ("EXISTS w1 r1", ":1"),
        (
            "PUBLISH x m",
            "-NOPERM this user has no permissions to access one of the channels used as arguments",
        ),
        ("PUBLISH ch1 m", ":0"),
        (
            "GET b1",
            "-NOPERM this user has no permissions to access one of the keys used as arguments",
        ),
    ];
    let mut ml = m.raw();
    common::script::run_script(&mut ml, "memkv", &as_lim);
    let mut rl = r.as_ref().map(|r| r.raw());
    if let Some(rl) = rl.as_mut() {
        common::script::run_script(rl, "redis", &as_lim);
    }
    // A failed AUTH (unknown user and wrong password alike) is logged.
    let wrong = "-WRONGPASS invalid username-password pair or user is disabled.";
    for line in ["AUTH nosuch pw", "AUTH lim bad", "HELLO 2 AUTH nosuch x"] {
        assert_eq!(send(&mut ml, line), wrong);
        if let Some(rl) = rl.as_mut() {
            assert_eq!(send(rl, line), wrong);
        }
    }
    // The log: newest first, similar entries folded (GET b1 twice);
    // every field equal to Redis's but the age and the client line.
    let mine = log_entries(&mut m.conn());
    assert_eq!(mine.len(), 10, "{mine:?}");
    assert_eq!(
        mine[3],
        [
            ("count", "2"),
            ("reason", "key"),
            ("context", "toplevel"),
            ("object", "b1"),
            ("username", "lim"),
            ("age-seconds", "<age>"),
            ("client-info", "<client lim>"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(log_entries(&mut m.conn3()), mine);
    if let Some(r) = r.as_ref() {
        assert_eq!(log_entries(&mut r.conn()), mine);
        assert_eq!(log_entries(&mut r.conn3()), mine);
        let mut ra = r.raw();
        assert_eq!(send(&mut ma, "ACL LOG 0"), send(&mut ra, "ACL LOG 0"));
        assert_eq!(send(&mut ma, "ACL LOG -5"), send(&mut ra, "ACL LOG -5"));
    }
    assert_eq!(send(&mut ma, "ACL LOG RESET"), "+OK");
    assert_eq!(send(&mut ma, "ACL LOG"), "[]");
}

/// ACL LOG entries as (field, value) pairs; the age must be a number (a
/// double in RESP3) and the client line must name the entry's user, and
/// are then replaced by placeholders.
fn log_entries(conn: &mut redis::Connection) -> Vec<Vec<(String, String)>> {
    use redis::Value;
    let v: Value = redis::cmd("ACL").arg("LOG").query(conn).expect("ACL LOG");
    let text = |v: &Value| -> String {
        match v {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            Value::SimpleString(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Double(d) => format!("double:{d}"),
            other => format!("{other:?}"),
        }
    };
    let Value::Array(entries) = v else {
        panic!("ACL LOG is an array: {v:?}")
    };
    entries
        .iter()
        .map(|e| {
            let pairs: Vec<(String, String)> = match e {
                Value::Array(items) => items
                    .chunks(2)
                    .map(|p| (text(&p[0]), text(&p[1])))
                    .collect(),
                Value::Map(items) => items.iter().map(|(k, v)| (text(k), text(v))).collect(),
                other => panic!("entry {other:?}"),
            };
            pairs
                .into_iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "age-seconds" => {
                            let n = v.trim_start_matches("double:");
                            assert!(n.parse::<f64>().is_ok_and(|x| x >= 0.0), "age {v}");
                            "<age>".to_string()
                        }
                        // The connection's own user (for a failed AUTH not
                        // the entry's username).
                        "client-info" => {
                            assert!(v.starts_with("id="), "{v}");
                            let who = v
                                .split(' ')
                                .find_map(|f| f.strip_prefix("user="))
                                .unwrap_or("?");
                            format!("<client {who}>")
                        }
                        _ => v,
                    };
                    (k, v)
                })
                .collect()
        })
        .collect()
}

/// acllog-max-len bounds the log.
#[test]
fn acllog_max_len() {
    let m = Server::start(&["--acllog-max-len", "3"]);
    let mut r = m.raw();
    send(&mut r, "ACL SETUSER x on nopass +get");
    let mut x = m.raw();
    send(&mut x, "AUTH x y");
    for i in 0..10 {
        send(&mut x, &format!("GET k{i}"));
    }
    let log = send(&mut r, "ACL LOG 100");
    assert_eq!(log.matches("\"count\"").count(), 3, "{log}");
}

/// NOPERM while queueing aborts the transaction; rules changed between
/// queueing and EXEC give Redis's EXEC-time NOPERM (with Redis's own
/// transaction semantics: multi-rollback no).
#[test]
fn multi_exec_and_scripts() {
    let admin = ["ACL SETUSER t on >pw +multi +exec +get +set +eval +evalsha ~a*"];
    let user = [
        ("AUTH t pw", "+OK"),
        ("MULTI", "+OK"),
        ("GET a", "+QUEUED"),
        (
            "GET b",
            "-NOPERM this user has no permissions to access one of the keys used as arguments",
        ),
        (
            "EXEC",
            "-EXECABORT Transaction discarded because of previous errors.",
        ),
        (
            "EVAL \"return redis.call('set','b','1')\" 0",
            "-ERR The user executing the script can't access at least one of the keys mentioned in the command arguments script: 5f5fd2f54d6d1b1c0ac20d2bb9e0e7a12f4d9f32, on @user_script:1.",
        ),
        (
            "EVAL \"return redis.call('del','a')\" 0",
            "-ERR The user executing the script can't run this command or subcommand script: 60e6a3d9f3c6b5a2b5a20ad6ea0c0d8b43e5bf5c, on @user_script:1.",
        ),
        (
            "EVAL \"return redis.pcall('get','b')\" 0",
            "-ERR The user executing the script can't access at least one of the keys mentioned in the command arguments",
        ),
        ("EVAL \"return redis.call('set','a1','v')\" 0", "+OK"),
        ("MULTI", "+OK"),
        ("GET a1", "+QUEUED"),
        ("SET a2 x", "+QUEUED"),
    ];
    let after = [(
        "EXEC",
        "[-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand, +OK]",
    )];
    let mut results = Vec::new();
    let m = Server::start(&["--multi-rollback", "no"]);
    let redis = Server::start_redis(&[]);
    for (who, s) in [("memkv", Some(&m)), ("redis", redis.as_ref())] {
        let Some(s) = s else { continue };
        let mut a = s.raw();
        for l in admin {
            assert_eq!(send(&mut a, l), "+OK");
        }
        let mut u = s.raw();
        // The script SHA1s are computed by the server: check the stable
        // part exactly and that both servers agree on the whole text.
        let mut got = Vec::new();
        for (line, want) in user {
            let g = send(&mut u, line);
            if want.contains("script: ") {
                let cut = want.find("script: ").unwrap_or(want.len());
                assert!(g.starts_with(&want[..cut]), "[{who}] {line}: {g}");
            } else {
                assert_eq!(g, want, "[{who}] {line}");
            }
            got.push(g);
        }
        assert_eq!(send(&mut a, "ACL SETUSER t -get"), "+OK");
        for (line, want) in after {
            assert_eq!(send(&mut u, line), want, "[{who}] {line}");
        }
        let log = send(&mut a, "ACL LOG 1");
        assert!(log.contains("\"context\", \"multi\""), "[{who}] {log}");
        assert!(log.contains("\"object\", \"get\""), "[{who}] {log}");
        let logs = send(&mut a, "ACL LOG");
        assert!(logs.contains("\"context\", \"lua\""), "[{who}] {logs}");
        results.push(got);
    }
    if results.len() == 2 {
        assert_eq!(results[0], results[1]);
    }
}

/// AUTH and HELLO with users, WRONGPASS that never tells whether the user
/// exists, disabled users, CLIENT LIST user=, CLIENT KILL USER, RESET.
#[test]
fn auth_hello_and_client_user() {
    let lines = [
        "ACL SETUSER alice on >apw +@all ~*",
        "ACL SETUSER bob off >bpw +@all ~*",
        "AUTH alice wrong",
        "AUTH nosuch apw",
        "AUTH bob bpw",
        "AUTH apw",
        "AUTH a b c",
        "HELLO 3 AUTH nosuch x",
        "HELLO 3 AUTH alice apw SETNAME cli",
        "ACL WHOAMI",
        "CLIENT KILL USER nosuch",
        "RESET",
        "ACL WHOAMI",
        "AUTH alice apw",
        "ACL WHOAMI",
    ];
    let got = differential(&[], &[], &lines);
    assert_eq!(got[9], "\"alice\"");
    let m = Server::start(&[]);
    let mut a = m.raw();
    send(&mut a, "ACL SETUSER carol on nopass +@all ~* &*");
    let mut c = m.raw();
    assert_eq!(send(&mut c, "AUTH carol anything"), "+OK");
    let list = send(&mut a, "CLIENT LIST");
    assert!(list.contains("user=carol"), "{list}");
    assert!(list.contains("user=default"), "{list}");
    assert_eq!(send(&mut a, "CLIENT KILL USER carol"), ":1");
    assert!(c.is_closed());
}

/// requirepass is the default user's password, both ways.
#[test]
fn requirepass_is_the_default_users_password() {
    let lines = [
        "CONFIG SET requirepass s3cret",
        "ACL GETUSER default",
        "ACL LIST",
        "AUTH s3cret",
        "AUTH default s3cret",
        "CONFIG SET requirepass \"\"",
        "ACL LIST",
        "AUTH x",
    ];
    differential(&[], &[], &lines);
    let m = Server::start(&["--requirepass", "pw"]);
    let mut r = m.raw();
    assert_eq!(send(&mut r, "GET a"), "-NOAUTH Authentication required.");
    assert_eq!(send(&mut r, "AUTH default pw"), "+OK");
    assert_eq!(
        send(&mut r, "ACL LIST"),
        format!(
            "[\"user default on #{} ~* &* +@all\"]",
            "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
        )
    );
}

/// Deleting a user disconnects its clients (the caller gets its reply
/// first); a SETUSER that revokes a subscriber's channel disconnects it,
/// one that does not keeps it; other users' clients are untouched.
#[test]
fn user_changes_disconnect_clients() {
    let m = Server::start(&[]);
    let mut admin = m.raw();
    send(&mut admin, "ACL SETUSER d on nopass +@all ~* &*");
    send(
        &mut admin,
        "ACL SETUSER s on nopass +@all ~* resetchannels &news.* &sport",
    );
    let mut d1 = m.raw();
    let mut d2 = m.raw();
    let mut other = m.raw();
    assert_eq!(send(&mut d1, "AUTH d x"), "+OK");
    assert_eq!(send(&mut d2, "AUTH d x"), "+OK");
    assert_eq!(send(&mut admin, "ACL DELUSER d"), ":1");
    assert!(d1.is_closed());
    assert!(d2.is_closed());
    assert_eq!(send(&mut other, "PING"), "+PONG");
    // Deleting the caller's own user: reply, then close.
    send(&mut admin, "ACL SETUSER me on nopass +@all ~*");
    let mut me = m.raw();
    send(&mut me, "AUTH me x");
    assert_eq!(send(&mut me, "ACL DELUSER me"), ":1");
    assert!(me.is_closed());

    let mut sub1 = m.raw();
    let mut sub2 = m.raw();
    send(&mut sub1, "AUTH s x");
    send(&mut sub2, "AUTH s x");
    send(&mut sub1, "SUBSCRIBE sport");
    send(&mut sub2, "PSUBSCRIBE news.*");
    // Adding a channel keeps both.
    assert_eq!(send(&mut admin, "ACL SETUSER s &extra"), "+OK");
    assert_eq!(send(&mut admin, "PUBLISH sport hi"), ":1");
    assert_eq!(
        render(&sub1.read_reply()),
        "[\"message\", \"sport\", \"hi\"]"
    );
    // Dropping `sport` disconnects only its subscriber.
    assert_eq!(
        send(&mut admin, "ACL SETUSER s resetchannels &news.* &extra"),
        "+OK"
    );
    assert!(sub1.is_closed());
    assert_eq!(send(&mut admin, "PUBLISH news.x hi"), ":1");
    assert_eq!(
        render(&sub2.read_reply()),
        "[\"pmessage\", \"news.*\", \"news.x\", \"hi\"]"
    );
}

/// ACL SAVE writes every user in ACL LIST form; ACL LOAD reads it back
/// (and a restart with the same aclfile); errors leave the rules as they
/// were; clients of non-default users are disconnected by LOAD. The
/// file is compared with what real Redis writes for the same users.
#[test]
fn aclfile_save_load_round_trip() {
    let users = [
        "ACL SETUSER a on >pa ~a* &c* +@read -get (%W~w* +set)",
        "ACL SETUSER b off nopass allkeys allchannels +@all -@dangerous",
        "ACL SETUSER c on #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b resetchannels -@all +select|0 +config|get",
    ];
    let run = |dir: &std::path::Path, s: &Server| -> (String, String) {
        let mut r = s.raw();
        for u in users {
            assert_eq!(send(&mut r, u), "+OK", "{u}");
        }
        let list = send(&mut r, "ACL LIST");
        assert_eq!(send(&mut r, "ACL SAVE"), "+OK");
        let file = std::fs::read_to_string(dir.join("users.acl")).expect("saved file");
        (list, file)
    };
    let dir = common::temp_dir("aclfile");
    std::fs::write(dir.join("users.acl"), "").unwrap();
    let m = Server::start_in(&dir, &["--aclfile", "users.acl"]);
    let (list, file) = run(&dir, &m);
    let from_list: String = list
        .trim_matches(|c| c == '[' || c == ']')
        .split("\", \"")
        .map(|l| format!("{}\n", l.trim_matches('"')))
        .collect();
    assert_eq!(file, from_list);
    let redis = common::which("redis-server").map(|_| {
        let rdir = common::temp_dir("aclfile-redis");
        std::fs::write(rdir.join("users.acl"), "").expect("acl file");
        let r = start_redis_in(&rdir, &["--aclfile", "users.acl"]).expect("redis starts");
        let (_, rfile) = run(&rdir, &r);
        assert_eq!(normalize(&file), normalize(&rfile));
        (rdir, r)
    });
    let mut admin = m.raw();
    let mut client_a = m.raw();
    assert_eq!(send(&mut client_a, "AUTH a pa"), "+OK");
    let mut client_default = m.raw();
    // Changes after SAVE are undone by LOAD; `a`'s client is disconnected.
    send(&mut admin, "ACL SETUSER a -@all");
    send(&mut admin, "ACL DELUSER b");
    send(&mut admin, "ACL SETUSER z on");
    assert_eq!(send(&mut admin, "ACL LOAD"), "+OK");
    assert_eq!(send(&mut admin, "ACL LIST"), list);
    assert!(client_a.is_closed());
    assert_eq!(send(&mut client_default, "PING"), "+PONG");
    // A broken file changes nothing and says why, as Redis.
    std::fs::write(
        dir.join("users.acl"),
        "user a on +nosuch\nuser a on\nfoo bar\nuser x (~a\n",
    )
    .unwrap();
    let err = send(&mut admin, "ACL LOAD");
    assert_eq!(
        err,
        "-ERR users.acl:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. WARNING: Duplicate user 'a' found on line 2. users.acl:3 should start with user keyword followed by the username. users.acl:4: Unmatched parenthesis in selector definition.WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
    );
    if let Some((rdir, r)) = &redis {
        let path = rdir.join("users.acl");
        std::fs::copy(dir.join("users.acl"), &path).expect("copy");
        let theirs = send(&mut r.raw(), "ACL LOAD");
        let path = path.to_str().expect("utf-8 path");
        assert_eq!(err, theirs.replace(path, "users.acl"));
    }
    assert_eq!(send(&mut admin, "ACL LIST"), list);
    // A restart with the saved file has the same users.
    let dir2 = common::temp_dir("aclfile-restart");
    std::fs::write(dir2.join("users.acl"), &file).unwrap();
    let m2 = Server::start_in(&dir2, &["--aclfile", "users.acl"]);
    assert_eq!(send(&mut m2.raw(), "ACL LIST"), list);
}

/// Real Redis in a given directory (for aclfile paths).
fn start_redis_in(dir: &std::path::Path, extra: &[&str]) -> Option<Server> {
    let d = dir.to_str()?;
    let mut args = vec!["--dir", d];
    args.extend_from_slice(extra);
    // start_redis sets its own --dir first; a later --dir wins.
    let abs = dir.join("users.acl");
    let abs = abs.to_str()?.to_string();
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            if *a == "users.acl" {
                abs.clone()
            } else {
                a.to_string()
            }
        })
        .collect();
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    Server::start_redis(&refs)
}

/// `user` directives in the config file define users at start-up; with
/// an aclfile too, the server refuses to start (as Redis).
#[test]
fn user_directive_in_config() {
    let dir = common::temp_dir("acl-conf");
    let conf = dir.join("memkv.conf");
    std::fs::write(
        &conf,
        "user default on nopass ~* &* +@all -flushall\nuser ops on >opspw ~* +@all (~x +get)\n",
    )
    .unwrap();
    let m = Server::start_with_config(&dir, Some(&conf), &[]);
    let mut r = m.raw();
    assert_eq!(
        send(&mut r, "ACL LIST"),
        "[\"user default on nopass ~* &* +@all -flushall\", \"user ops on #83ab1ed84bb1e1d1e3b2fb2b8bc6d33b8dfc68ad5e4c58f42fd6e3f7f4d1c5e7 ~* resetchannels +@all (~x resetchannels -@all +get)\"]"
            .replace(
                "83ab1ed84bb1e1d1e3b2fb2b8bc6d33b8dfc68ad5e4c58f42fd6e3f7f4d1c5e7",
                &sha256_hex("opspw")
            )
    );
    assert_eq!(
        send(&mut r, "FLUSHALL"),
        "-NOPERM this user has no permissions to run the 'flushall' command"
    );
    // users in redis.conf plus an aclfile: refused.
    std::fs::write(dir.join("u.acl"), "").unwrap();
    let port = common::free_port().to_string();
    let conf_arg = conf.to_str().expect("utf-8");
    let (status, text) =
        common::exit::run_to_exit(&dir, &[conf_arg, "--port", &port, "--aclfile", "u.acl"]);
    assert!(!status.success());
    assert!(text.contains("please define either an ACL file or declare users directly in your redis.conf, but not both"), "{text}");
}

/// The SHA-256 hex digest as Redis stores passwords, from the server
/// itself (ACL GETUSER of a throwaway user), so the test needs no hasher.
fn sha256_hex(p: &str) -> String {
    let m = Server::start(&[]);
    let mut r = m.raw();
    send(&mut r, &format!("ACL SETUSER h >{p}"));
    let g = send(&mut r, "ACL GETUSER h");
    let at = g.find("\"passwords\", [\"").expect("passwords") + 15;
    g[at..at + 64].to_string()
}

/// rename-command: the old name is gone, the new one runs the command,
/// an empty name removes it; ACL rules keep using the original names;
/// unknown source or taken target names stop the start-up.
#[test]
fn rename_command() {
    let conf = "rename-command flushall \"\"\nrename-command CONFIG cfg-9f2\n";
    let dir = common::temp_dir("rename");
    std::fs::write(dir.join("m.conf"), conf).unwrap();
    let lines = [
        "FLUSHALL",
        "CONFIG GET maxmemory",
        "cfg-9f2 GET maxmemory",
        "ACL SETUSER r on nopass +config|get ~*",
        "ACL SETUSER r +cfg-9f2",
        "ACL DRYRUN r config get maxmemory",
    ];
    let m = Server::start_with_config(&dir, Some(&dir.join("m.conf")), &[]);
    let mut mr = m.raw();
    let got: Vec<String> = lines.iter().map(|l| send(&mut mr, l)).collect();
    assert_eq!(
        got[0],
        "-ERR unknown command 'FLUSHALL', with args beginning with: "
    );
    assert_eq!(got[2], "[\"maxmemory\", \"0\"]");
    if let Some(r) = Server::start_redis(&[
        "--rename-command",
        "flushall",
        "",
        "--rename-command",
        "CONFIG",
        "cfg-9f2",
    ]) {
        let mut rr = r.raw();
        for (line, mine) in lines.iter().zip(&got) {
            assert_eq!(*mine, send(&mut rr, line), "{line}");
        }
    }
    for (conf, err) in [
        (
            "rename-command nosuch x\n",
            "No such command in rename-command",
        ),
        (
            "rename-command get set\n",
            "Target command name already exists",
        ),
    ] {
        std::fs::write(dir.join("bad.conf"), conf).unwrap();
        let port = common::free_port().to_string();
        let (status, text) = common::exit::run_to_exit(&dir, &["bad.conf", "--port", &port]);
        assert!(!status.success());
        assert!(text.contains(err), "{text}");
    }
}

/// enable-debug-command / enable-protected-configs: `no` refuses with
/// Redis's texts, `local` allows loopback clients (tests connect over
/// loopback only); both are immutable at run time.
#[test]
fn debug_and_protected_configs() {
    let dir = common::temp_dir("protected-cfg");
    let d = dir.to_str().expect("utf-8 dir").to_string();
    let set_dir = format!("CONFIG SET dir {d}");
    let lines_no = [
        "DEBUG SLEEP 0",
        set_dir.as_str(),
        "CONFIG SET enable-debug-command yes",
    ];
    let got = differential(&[], &[], &lines_no);
    assert!(
        got[0].starts_with("-ERR DEBUG command not allowed."),
        "{}",
        got[0]
    );
    assert_eq!(
        got[1],
        "-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    let local = [
        "--enable-debug-command",
        "local",
        "--enable-protected-configs",
        "local",
    ];
    let lines_local = [
        "DEBUG SLEEP 0",
        set_dir.as_str(),
        "CONFIG SET enable-protected-configs yes",
    ];
    let got = differential(&local, &local, &lines_local);
    assert_eq!(got[0], "+OK");
    assert_eq!(got[1], "+OK");
    assert_eq!(
        got[2],
        "-ERR CONFIG SET failed (possibly related to argument 'enable-protected-configs') - can't set immutable config"
    );
}
