//! Connection commands through the real protocol: PING, ECHO, QUIT, RESET,
//! SELECT, AUTH, HELLO and CLIENT, with exact reply bytes in RESP2 and RESP3,
//! plus a differential check against real Redis when it is installed.

mod common;

use common::{Raw, Server};

/// Sends a command (string parts) and returns the raw reply as text.
fn cmd(r: &mut Raw, parts: &[&str]) -> String {
    let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    String::from_utf8_lossy(&r.cmd(&parts)).into_owned()
}

/// The client id of a raw connection.
fn client_id(r: &mut Raw) -> u64 {
    let reply = cmd(r, &["CLIENT", "ID"]);
    reply
        .trim_start_matches(':')
        .trim_end()
        .parse()
        .expect("CLIENT ID integer")
}

/// The payload of a RESP2 bulk or RESP3 verbatim reply.
fn payload(reply: &str) -> &str {
    let body = &reply[reply.find("\r\n").expect("header") + 2..];
    let body = body.strip_suffix("\r\n").expect("trailing CRLF");
    body.strip_prefix("txt:").unwrap_or(body)
}

/// One `key=value` field of a CLIENT LIST / INFO line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_ascii_whitespace()
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no field {key} in {line}"))
}

/// The expected HELLO map for protocol `proto` and client `id`.
fn hello_reply(proto: u8, id: u64) -> String {
    let head = if proto == 3 { "%7" } else { "*14" };
    format!(
        "{head}\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    )
}

const NOAUTH: &str = "-NOAUTH Authentication required.\r\n";
const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
const HELLO_NOAUTH: &str = "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n";
const SETNAME_ERR: &str =
    "-ERR Client names cannot contain spaces, newlines or special characters.\r\n";

#[test]
fn ping_and_echo() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG\r\n");
    assert_eq!(cmd(&mut r, &["ping", "hello"]), "$5\r\nhello\r\n");
    assert_eq!(cmd(&mut r, &["PING", ""]), "$0\r\n\r\n");
    assert_eq!(
        cmd(&mut r, &["PING", "a", "b"]),
        "-ERR wrong number of arguments for 'ping' command\r\n"
    );
    assert_eq!(cmd(&mut r, &["ECHO", "hi"]), "$2\r\nhi\r\n");
    assert_eq!(cmd(&mut r, &["ECHO", ""]), "$0\r\n\r\n");
    assert_eq!(
        cmd(&mut r, &["ECHO"]),
        "-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ECHO", "a", "b"]),
        "-ERR wrong number of arguments for 'echo' command\r\n"
    );
    // Inline commands too.
    r.send(b"PING\r\n");
    assert_eq!(r.read_reply(), b"+PONG\r\n");
    // Binary-safe echo.
    assert_eq!(r.cmd(&[b"ECHO", b"a\r\n\x00b"]), b"$5\r\na\r\n\x00b\r\n");
}

#[test]
fn ping_echo_in_resp3() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let id = client_id(&mut r);
    assert_eq!(cmd(&mut r, &["HELLO", "3"]), hello_reply(3, id));
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG\r\n");
    assert_eq!(cmd(&mut r, &["PING", "hi"]), "$2\r\nhi\r\n");
    assert_eq!(cmd(&mut r, &["ECHO", "hi"]), "$2\r\nhi\r\n");
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "_\r\n");
    // HELLO without a version keeps the protocol; HELLO 2 switches back.
    assert_eq!(cmd(&mut r, &["HELLO"]), hello_reply(3, id));
    assert_eq!(cmd(&mut r, &["HELLO", "2"]), hello_reply(2, id));
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "$-1\r\n");
    assert_eq!(cmd(&mut r, &["HELLO"]), hello_reply(2, id));
}

#[test]
fn hello_errors_and_setname() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let id = client_id(&mut r);
    for v in ["4", "1", "0", "-1", "100"] {
        assert_eq!(
            cmd(&mut r, &["HELLO", v]),
            "-NOPROTO unsupported protocol version\r\n"
        );
    }
    for v in ["abc", "3.0", "", "99999999999999999999"] {
        assert_eq!(
            cmd(&mut r, &["HELLO", v]),
            "-ERR Protocol version is not an integer or out of range\r\n"
        );
    }
    assert_eq!(
        cmd(&mut r, &["HELLO", "3", "foo"]),
        "-ERR Syntax error in HELLO option 'foo'\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["HELLO", "3", "SETNAME"]),
        "-ERR Syntax error in HELLO option 'SETNAME'\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["HELLO", "3", "AUTH", "default"]),
        "-ERR Syntax error in HELLO option 'AUTH'\r\n"
    );
    assert_eq!(cmd(&mut r, &["HELLO", "3", "AUTH", "bob", "x"]), WRONGPASS);
    assert_eq!(cmd(&mut r, &["HELLO", "3", "SETNAME", "a b"]), SETNAME_ERR);
    // A failed HELLO does not switch the protocol.
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "$-1\r\n");
    // Without requirepass the default user accepts any password.
    assert_eq!(
        cmd(
            &mut r,
            &["hello", "3", "auth", "default", "whatever", "setname", "me"]
        ),
        hello_reply(3, id)
    );
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "$2\r\nme\r\n");
    // Redis 7.0 applies SETNAME as it parses, even if a later option fails.
    assert_eq!(
        cmd(&mut r, &["HELLO", "2", "SETNAME", "other", "bad"]),
        "-ERR Syntax error in HELLO option 'bad'\r\n"
    );
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "$5\r\nother\r\n");
}

#[test]
fn select_range_and_errors() {
    let s = Server::start(&["--databases", "4"]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["SELECT", "3"]), "+OK\r\n");
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    assert_eq!(field(payload(&info), "db"), "3");
    assert_eq!(
        cmd(&mut r, &["SELECT", "4"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["SELECT", "-1"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["SELECT", "2147483647"]),
        "-ERR DB index is out of range\r\n"
    );
    for bad in ["abc", "1.5", "", " 1", "9223372036854775808"] {
        assert_eq!(
            cmd(&mut r, &["SELECT", bad]),
            "-ERR value is not an integer or out of range\r\n",
            "SELECT {bad:?}"
        );
    }
    assert_eq!(
        cmd(&mut r, &["SELECT", "4294967296"]),
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["SELECT"]),
        "-ERR wrong number of arguments for 'select' command\r\n"
    );
    // Failed SELECTs left db 3 selected.
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    assert_eq!(field(payload(&info), "db"), "3");
    assert_eq!(cmd(&mut r, &["SELECT", "0"]), "+OK\r\n");
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    assert_eq!(field(payload(&info), "db"), "0");
}

#[test]
fn auth_without_requirepass() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        cmd(&mut r, &["AUTH", "x"]),
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    assert_eq!(cmd(&mut r, &["AUTH", "default", "x"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["AUTH", "bob", "x"]), WRONGPASS);
    assert_eq!(cmd(&mut r, &["AUTH", "Default", "x"]), WRONGPASS);
    assert_eq!(
        cmd(&mut r, &["AUTH", "a", "b", "c"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["AUTH"]),
        "-ERR wrong number of arguments for 'auth' command\r\n"
    );
}

#[test]
fn auth_flow_with_requirepass() {
    let s = Server::start(&["--requirepass", "secret"]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["PING"]), NOAUTH);
    assert_eq!(cmd(&mut r, &["CLIENT", "ID"]), NOAUTH);
    assert_eq!(cmd(&mut r, &["SELECT", "1"]), NOAUTH);
    assert_eq!(cmd(&mut r, &["ECHO", "x"]), NOAUTH);
    // Arity and unknown-command errors come before the auth check.
    assert_eq!(
        cmd(&mut r, &["ECHO"]),
        "-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_eq!(cmd(&mut r, &["HELLO"]), HELLO_NOAUTH);
    assert_eq!(cmd(&mut r, &["HELLO", "3"]), HELLO_NOAUTH);
    assert_eq!(cmd(&mut r, &["HELLO", "3", "SETNAME", "x"]), HELLO_NOAUTH);
    assert_eq!(
        cmd(&mut r, &["HELLO", "3", "AUTH", "default", "wrong"]),
        WRONGPASS
    );
    assert_eq!(cmd(&mut r, &["AUTH", "wrong"]), WRONGPASS);
    assert_eq!(cmd(&mut r, &["AUTH", "default", "wrong"]), WRONGPASS);
    assert_eq!(cmd(&mut r, &["AUTH", "bob", "secret"]), WRONGPASS);
    assert_eq!(cmd(&mut r, &["AUTH", "secre"]), WRONGPASS);
    assert_eq!(cmd(&mut r, &["AUTH", "secret1"]), WRONGPASS);
    assert_eq!(cmd(&mut r, &["PING"]), NOAUTH);
    assert_eq!(cmd(&mut r, &["AUTH", "secret"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG\r\n");
    // A failed AUTH keeps an authenticated connection authenticated.
    assert_eq!(cmd(&mut r, &["AUTH", "wrong"]), WRONGPASS);
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG\r\n");
    // RESET drops the authentication.
    assert_eq!(cmd(&mut r, &["RESET"]), "+RESET\r\n");
    assert_eq!(cmd(&mut r, &["PING"]), NOAUTH);
    assert_eq!(cmd(&mut r, &["AUTH", "default", "secret"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG\r\n");

    // HELLO AUTH authenticates and switches protocol in one step.
    let mut r2 = s.raw();
    assert_eq!(cmd(&mut r2, &["CLIENT", "ID"]), NOAUTH);
    let reply = cmd(
        &mut r2,
        &["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "nm"],
    );
    assert!(reply.starts_with("%7\r\n$6\r\nserver\r\n"), "{reply}");
    assert_eq!(cmd(&mut r2, &["CLIENT", "GETNAME"]), "$2\r\nnm\r\n");
    assert_eq!(cmd(&mut r2, &["CLIENT", "INFO"]).as_bytes()[0], b'=');

    // QUIT works before authentication.
    let mut r3 = s.raw();
    assert_eq!(cmd(&mut r3, &["QUIT"]), "+OK\r\n");
    assert!(r3.is_closed());

    // Client libraries: the redis crate authenticates from the URL.
    let url = format!("redis://:secret@127.0.0.1:{}/", s.port);
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn reset_restores_connection_defaults() {
    let s = Server::start(&["--databases", "4"]);
    let mut r = s.raw();
    let id = client_id(&mut r);
    assert_eq!(cmd(&mut r, &["SELECT", "2"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["CLIENT", "SETNAME", "foo"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["CLIENT", "NO-TOUCH", "on"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["HELLO", "3"]), hello_reply(3, id));
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    let line = payload(&info);
    assert_eq!(field(line, "db"), "2");
    assert_eq!(field(line, "name"), "foo");
    assert_eq!(field(line, "flags"), "eT");
    assert_eq!(field(line, "resp"), "3");

    assert_eq!(cmd(&mut r, &["RESET"]), "+RESET\r\n");
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    assert!(info.starts_with('$'), "RESP2 again: {info}");
    let line = payload(&info);
    assert_eq!(field(line, "id"), id.to_string());
    assert_eq!(field(line, "db"), "0");
    assert_eq!(field(line, "name"), "");
    assert_eq!(field(line, "flags"), "N");
    assert_eq!(field(line, "resp"), "2");
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "$-1\r\n");
    assert_eq!(
        cmd(&mut r, &["RESET", "x"]),
        "-ERR wrong number of arguments for 'reset' command\r\n"
    );
}

#[test]
fn quit_replies_ok_then_closes() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["QUIT"]), "+OK\r\n");
    assert!(r.is_closed());

    // Extra arguments are accepted (arity -1).
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["QUIT", "now"]), "+OK\r\n");
    assert!(r.is_closed());

    // Commands pipelined after QUIT are not run.
    let mut r = s.raw();
    r.send(b"PING\r\nQUIT\r\nPING\r\n");
    assert_eq!(r.read_n(usize::MAX), b"+PONG\r\n+OK\r\n");

    // The server is still fine.
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG\r\n");
}

#[test]
fn client_setname_getname() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "$-1\r\n");
    for bad in ["a b", "a\nb", "a\r", "\x7f", "é", "\t"] {
        assert_eq!(
            cmd(&mut r, &["CLIENT", "SETNAME", bad]),
            SETNAME_ERR,
            "{bad:?}"
        );
    }
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "$-1\r\n");
    assert_eq!(cmd(&mut r, &["client", "setname", "~!x"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "$3\r\n~!x\r\n");
    // A bad name keeps the old one.
    assert_eq!(cmd(&mut r, &["CLIENT", "SETNAME", "a b"]), SETNAME_ERR);
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "$3\r\n~!x\r\n");
    // The empty string clears it.
    assert_eq!(cmd(&mut r, &["CLIENT", "SETNAME", ""]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "$-1\r\n");
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETNAME", "x", "y"]),
        "-ERR wrong number of arguments for 'client|setname' command\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "GETNAME", "x"]),
        "-ERR wrong number of arguments for 'client|getname' command\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT"]),
        "-ERR wrong number of arguments for 'client' command\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "FOO"]),
        "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"
    );
}

#[test]
fn client_setinfo_like_redis_7_2() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // The handshake redis-py, go-redis and Jedis pipeline on connect.
    r.send(&common::encode(&[
        b"CLIENT",
        b"SETINFO",
        b"LIB-NAME",
        b"redis-py",
    ]));
    r.send(&common::encode(&[
        b"CLIENT", b"SETINFO", b"LIB-VER", b"5.0.1",
    ]));
    assert_eq!(r.read_n(10), b"+OK\r\n+OK\r\n");
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    assert_eq!(field(payload(&info), "lib-name"), "redis-py");
    assert_eq!(field(payload(&info), "lib-ver"), "5.0.1");
    assert_eq!(
        cmd(
            &mut r,
            &["CLIENT", "SETINFO", "lib-name", "go-redis(,go1.21)"]
        ),
        "+OK\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETINFO", "foo", "x"]),
        "-ERR Unrecognized option 'foo'\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETINFO", "Lib-Name", "a b"]),
        "-ERR Lib-Name cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETINFO", "lib-ver", "1\n2"]),
        "-ERR lib-ver cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETINFO", "lib-name"]),
        "-ERR wrong number of arguments for 'client|setinfo' command\r\n"
    );
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    assert_eq!(field(payload(&info), "lib-name"), "go-redis(,go1.21)");
    assert_eq!(field(payload(&info), "lib-ver"), "5.0.1");
    // Empty clears.
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETINFO", "LIB-VER", ""]),
        "+OK\r\n"
    );
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    assert_eq!(field(payload(&info), "lib-ver"), "");
}

#[test]
fn client_info_resp2_and_resp3() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let id = client_id(&mut r);
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    assert!(info.starts_with('$'), "{info}");
    let line = payload(&info);
    assert!(
        line.ends_with('\n') && line.matches('\n').count() == 1,
        "{line:?}"
    );
    let line = line.trim_end();
    assert_eq!(field(line, "id"), id.to_string());
    assert_eq!(field(line, "addr"), r.s.local_addr().unwrap().to_string());
    assert_eq!(field(line, "laddr"), r.s.peer_addr().unwrap().to_string());
    assert_eq!(field(line, "cmd"), "client|info");
    assert_eq!(field(line, "db"), "0");
    assert_eq!(field(line, "user"), "default");
    assert_eq!(field(line, "resp"), "2");
    // The bulk length matches the payload.
    let len: usize = info[1..info.find("\r\n").unwrap()].parse().unwrap();
    assert_eq!(len, payload(&info).len());

    cmd(&mut r, &["HELLO", "3"]);
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    assert!(info.starts_with('='), "{info}");
    let len: usize = info[1..info.find("\r\n").unwrap()].parse().unwrap();
    assert_eq!(len, payload(&info).len() + 4);
    assert!(info[info.find("\r\n").unwrap() + 2..].starts_with("txt:id="));
    assert_eq!(field(payload(&info).trim_end(), "resp"), "3");
}

#[test]
fn client_list_shows_every_connection() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    let a_id = client_id(&mut a);
    let b_id = client_id(&mut b);
    assert_eq!(cmd(&mut a, &["CLIENT", "SETNAME", "alpha"]), "+OK\r\n");
    assert_eq!(cmd(&mut a, &["SELECT", "5"]), "+OK\r\n");
    assert_eq!(cmd(&mut b, &["CLIENT", "SETNAME", "beta"]), "+OK\r\n");

    let list = cmd(&mut b, &["CLIENT", "LIST"]);
    assert!(list.starts_with('$'), "{list}");
    let body = payload(&list);
    assert!(body.ends_with('\n'));
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 2, "{body}");
    // Oldest connection first, like Redis.
    assert_eq!(field(lines[0], "id"), a_id.to_string());
    assert_eq!(field(lines[0], "name"), "alpha");
    assert_eq!(field(lines[0], "db"), "5");
    assert_eq!(field(lines[0], "cmd"), "select");
    assert_eq!(
        field(lines[0], "addr"),
        a.s.local_addr().unwrap().to_string()
    );
    assert_eq!(field(lines[1], "id"), b_id.to_string());
    assert_eq!(field(lines[1], "name"), "beta");
    assert_eq!(field(lines[1], "cmd"), "client|list");
    assert_eq!(
        field(lines[1], "addr"),
        b.s.local_addr().unwrap().to_string()
    );
    for l in &lines {
        assert_eq!(field(l, "flags"), "N");
        assert_eq!(field(l, "laddr"), format!("127.0.0.1:{}", s.port));
    }

    // TYPE filters.
    let list = cmd(&mut b, &["CLIENT", "LIST", "TYPE", "normal"]);
    assert_eq!(payload(&list).lines().count(), 2);
    for t in ["master", "replica", "slave", "pubsub", "PUBSUB"] {
        assert_eq!(cmd(&mut b, &["CLIENT", "LIST", "TYPE", t]), "$0\r\n\r\n");
    }
    assert_eq!(
        cmd(&mut b, &["CLIENT", "LIST", "TYPE", "foo"]),
        "-ERR Unknown client type 'foo'\r\n"
    );
    // ID filters, in argument order; unknown ids are skipped.
    let list = cmd(
        &mut b,
        &[
            "CLIENT",
            "LIST",
            "ID",
            &b_id.to_string(),
            "99999",
            &a_id.to_string(),
        ],
    );
    let lines: Vec<&str> = payload(&list).lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(field(lines[0], "id"), b_id.to_string());
    assert_eq!(field(lines[1], "id"), a_id.to_string());
    assert_eq!(
        cmd(&mut b, &["CLIENT", "LIST", "ID", "99999"]),
        "$0\r\n\r\n"
    );
    assert_eq!(
        cmd(&mut b, &["CLIENT", "LIST", "ID", "1", "abc"]),
        "-ERR Invalid client ID\r\n"
    );
    for bad in [
        &["CLIENT", "LIST", "TYPE"][..],
        &["CLIENT", "LIST", "ID"],
        &["CLIENT", "LIST", "foo"],
        &["CLIENT", "LIST", "TYPE", "normal", "x"],
        &["CLIENT", "LIST", "TYPE", "normal", "ID", "1"],
    ] {
        assert_eq!(cmd(&mut b, bad), "-ERR syntax error\r\n", "{bad:?}");
    }

    // RESP3: a verbatim string.
    cmd(&mut b, &["HELLO", "3"]);
    let list = cmd(&mut b, &["CLIENT", "LIST"]);
    assert!(list.starts_with('='), "{list}");
    assert!(list.contains("\r\ntxt:id="));
    assert_eq!(payload(&list).lines().count(), 2);

    // A closed connection disappears from the list.
    drop(a);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let list = cmd(&mut b, &["CLIENT", "LIST"]);
        if payload(&list).lines().count() == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{list}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn client_kill_by_id_closes_the_other_connection() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    let a_id = client_id(&mut a);
    let b_id = client_id(&mut b);
    assert_eq!(
        cmd(&mut b, &["CLIENT", "KILL", "ID", &a_id.to_string()]),
        ":1\r\n"
    );
    assert!(a.is_closed());
    // Already gone.
    assert_eq!(
        cmd(&mut b, &["CLIENT", "KILL", "ID", &a_id.to_string()]),
        ":0\r\n"
    );
    // SKIPME defaults to yes: killing yourself by id does nothing...
    assert_eq!(
        cmd(&mut b, &["CLIENT", "KILL", "ID", &b_id.to_string()]),
        ":0\r\n"
    );
    assert_eq!(cmd(&mut b, &["PING"]), "+PONG\r\n");
    let list = cmd(&mut b, &["CLIENT", "LIST"]);
    assert_eq!(payload(&list).lines().count(), 1, "{list}");
    // ...unless SKIPME no: the reply still arrives, then the connection closes.
    assert_eq!(
        cmd(
            &mut b,
            &["CLIENT", "KILL", "ID", &b_id.to_string(), "SKIPME", "no"]
        ),
        ":1\r\n"
    );
    assert!(b.is_closed());
}

#[test]
fn client_kill_filters_and_old_form() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    let mut c = s.raw();
    let a_addr = a.s.local_addr().unwrap().to_string();
    let laddr = format!("127.0.0.1:{}", s.port);

    // Old form: +OK or an error.
    assert_eq!(
        cmd(&mut c, &["CLIENT", "KILL", "1.2.3.4:5"]),
        "-ERR No such client\r\n"
    );
    assert_eq!(cmd(&mut c, &["CLIENT", "KILL", &a_addr]), "+OK\r\n");
    assert!(a.is_closed());

    // Errors, checked option by option.
    for (args, err) in [
        (
            &["CLIENT", "KILL", "ID", "0"][..],
            "-ERR client-id should be greater than 0\r\n",
        ),
        (
            &["CLIENT", "KILL", "ID", "-1"],
            "-ERR client-id should be greater than 0\r\n",
        ),
        (
            &["CLIENT", "KILL", "ID", "abc"],
            "-ERR client-id should be greater than 0\r\n",
        ),
        (
            &["CLIENT", "KILL", "ID", "1", "foo"],
            "-ERR syntax error\r\n",
        ),
        (&["CLIENT", "KILL", "foo", "bar"], "-ERR syntax error\r\n"),
        (
            &["CLIENT", "KILL", "SKIPME", "maybe"],
            "-ERR syntax error\r\n",
        ),
        (&["CLIENT", "KILL", "MAXAGE", "5"], "-ERR syntax error\r\n"),
        (
            &["CLIENT", "KILL", "USER", "bob"],
            "-ERR No such user 'bob'\r\n",
        ),
        (
            &["CLIENT", "KILL", "TYPE", "foo"],
            "-ERR Unknown client type 'foo'\r\n",
        ),
        (
            &["CLIENT", "KILL"],
            "-ERR wrong number of arguments for 'client|kill' command\r\n",
        ),
    ] {
        assert_eq!(cmd(&mut c, args), err, "{args:?}");
    }
    // Filters that match nobody.
    assert_eq!(cmd(&mut c, &["CLIENT", "KILL", "TYPE", "master"]), ":0\r\n");
    assert_eq!(
        cmd(&mut c, &["CLIENT", "KILL", "ADDR", "1.2.3.4:5"]),
        ":0\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["CLIENT", "KILL", "LADDR", "1.2.3.4:5"]),
        ":0\r\n"
    );
    assert_eq!(cmd(&mut b, &["PING"]), "+PONG\r\n");

    // LADDR + USER default + TYPE normal match everybody but the caller.
    let mut d = s.raw();
    // A round trip makes sure the server has accepted `d`.
    assert_eq!(cmd(&mut d, &["PING"]), "+PONG\r\n");
    assert_eq!(
        cmd(
            &mut c,
            &[
                "CLIENT", "KILL", "LADDR", &laddr, "USER", "default", "TYPE", "normal"
            ]
        ),
        ":2\r\n"
    );
    assert!(b.is_closed());
    assert!(d.is_closed());
    assert_eq!(cmd(&mut c, &["PING"]), "+PONG\r\n");

    // The old form may kill the caller itself.
    let c_addr = c.s.local_addr().unwrap().to_string();
    assert_eq!(cmd(&mut c, &["CLIENT", "KILL", &c_addr]), "+OK\r\n");
    assert!(c.is_closed());
}

#[test]
fn client_misc_subcommands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let id = client_id(&mut r);
    assert_eq!(cmd(&mut r, &["CLIENT", "ID"]), format!(":{id}\r\n"));
    assert_eq!(cmd(&mut r, &["CLIENT", "GETREDIR"]), ":-1\r\n");
    assert_eq!(
        cmd(&mut r, &["CLIENT", "ID", "x"]),
        "-ERR wrong number of arguments for 'client|id' command\r\n"
    );

    // NO-EVICT / NO-TOUCH flags.
    assert_eq!(cmd(&mut r, &["CLIENT", "NO-EVICT", "ON"]), "+OK\r\n");
    assert_eq!(
        field(payload(&cmd(&mut r, &["CLIENT", "INFO"])), "flags"),
        "e"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "NO-EVICT", "maybe"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(cmd(&mut r, &["CLIENT", "NO-EVICT", "off"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["CLIENT", "NO-TOUCH", "on"]), "+OK\r\n");
    assert_eq!(
        field(payload(&cmd(&mut r, &["CLIENT", "INFO"])), "flags"),
        "T"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "NO-TOUCH", "x"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(cmd(&mut r, &["CLIENT", "NO-TOUCH", "OFF"]), "+OK\r\n");
    assert_eq!(
        field(payload(&cmd(&mut r, &["CLIENT", "INFO"])), "flags"),
        "N"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "NO-EVICT"]),
        "-ERR wrong number of arguments for 'client|no-evict' command\r\n"
    );

    // Tracking argument checks (tests/tracking.rs covers the feature).
    assert_eq!(cmd(&mut r, &["CLIENT", "TRACKING", "off"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut r, &["CLIENT", "TRACKING", "off", "bcast", "optin"]),
        "+OK\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "TRACKING", "foo"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "TRACKING", "off", "prefix"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "TRACKING", "on", "redirect", "99999"]),
        "-ERR The client ID you want redirect to does not exist\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "CACHING", "yes"]),
        "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "TRACKINGINFO"]),
        "*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n"
    );

    // PAUSE / UNPAUSE / UNBLOCK validation.
    assert_eq!(
        cmd(&mut r, &["CLIENT", "PAUSE", "abc"]),
        "-ERR timeout is not an integer or out of range\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "PAUSE", "-1"]),
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "PAUSE", "abc", "foo"]),
        "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "PAUSE", "1", "all", "x"]),
        "-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(cmd(&mut r, &["CLIENT", "PAUSE", "0", "WRITE"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut r, &["CLIENT", "UNBLOCK", "abc"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "UNBLOCK", "1", "foo"]),
        "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "UNBLOCK", &id.to_string()]),
        ":0\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "UNBLOCK", "99999", "error"]),
        ":0\r\n"
    );

    // HELP: Redis's lines as simple strings.
    let help = cmd(&mut r, &["CLIENT", "HELP"]);
    assert!(
        help.starts_with(
            "*54\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+CACHING (YES|NO)\r\n"
        ),
        "{help}"
    );
    assert!(help.contains("\r\n+SETINFO <option> <value>\r\n"));
    assert!(help.ends_with("\r\n+HELP\r\n+    Prints this help.\r\n"));

    // RESP3 shapes.
    cmd(&mut r, &["HELLO", "3"]);
    assert_eq!(
        cmd(&mut r, &["CLIENT", "TRACKINGINFO"]),
        "%3\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n"
    );
    assert_eq!(cmd(&mut r, &["CLIENT", "ID"]), format!(":{id}\r\n"));
    assert!(cmd(&mut r, &["CLIENT", "HELP"]).starts_with("*54\r\n+CLIENT "));
}

#[test]
fn client_libraries_connect() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("lib")
        .query(&mut con)
        .unwrap();
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name.as_deref(), Some("lib"));
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(list.contains(" name=lib "), "{list}");

    let mut con3 = s.conn3();
    let pong: String = redis::cmd("PING").query(&mut con3).unwrap();
    assert_eq!(pong, "PONG");
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut con3).unwrap();
    assert!(info.contains(" resp=3"), "{info}");
    let echo: Vec<u8> = redis::cmd("ECHO")
        .arg(b"\x00\xff")
        .query(&mut con3)
        .unwrap();
    assert_eq!(echo, b"\x00\xff");
}

/// Replies that must be byte-identical to Redis 7.0 (where it is installed).
#[test]
fn same_replies_as_redis() {
    let Some(redis) = Server::start_redis(&["--databases", "4"]) else {
        eprintln!("redis-server not installed; skipping");
        return;
    };
    let memkv = Server::start(&["--databases", "4"]);
    let script: &[&[&str]] = &[
        &["PING"],
        &["PING", "x"],
        &["PING", "a", "b"],
        &["ECHO"],
        &["ECHO", "hello"],
        &["SELECT", "3"],
        &["SELECT", "4"],
        &["SELECT", "-1"],
        &["SELECT", "x"],
        &["SELECT", "4294967296"],
        &["AUTH", "x"],
        &["AUTH", "default", "x"],
        &["AUTH", "bob", "x"],
        &["AUTH", "a", "b", "c"],
        &["HELLO", "4"],
        &["HELLO", "x"],
        &["HELLO", "3", "foo"],
        &["HELLO", "3", "SETNAME", "a b"],
        &["HELLO", "3", "AUTH", "bob", "x"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME", "a b"],
        &["CLIENT", "SETNAME", "ok"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME", ""],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "FOO"],
        &["CLIENT"],
        &["CLIENT", "GETREDIR"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "LIST", "TYPE", "foo"],
        &["CLIENT", "LIST", "TYPE", "pubsub"],
        &["CLIENT", "LIST", "ID", "abc"],
        &["CLIENT", "LIST", "ID", "99999"],
        &["CLIENT", "LIST", "foo"],
        &["CLIENT", "NO-EVICT", "on"],
        &["CLIENT", "NO-EVICT", "x"],
        &["CLIENT", "NO-EVICT", "off"],
        &["CLIENT", "KILL", "1.2.3.4:5"],
        &["CLIENT", "KILL", "ID", "0"],
        &["CLIENT", "KILL", "ID", "99999"],
        &["CLIENT", "KILL", "USER", "bob"],
        &["CLIENT", "KILL", "USER", "default"],
        &["CLIENT", "KILL", "SKIPME", "x"],
        &["CLIENT", "KILL", "TYPE", "replica"],
        &["CLIENT", "PAUSE", "x"],
        &["CLIENT", "PAUSE", "-5"],
        &["CLIENT", "PAUSE", "1", "x"],
        &["CLIENT", "PAUSE", "1", "all", "x"],
        &["CLIENT", "UNPAUSE"],
        &["CLIENT", "UNBLOCK", "x"],
        &["CLIENT", "UNBLOCK", "99999"],
        &["CLIENT", "UNBLOCK", "1", "x"],
        &["CLIENT", "UNBLOCK", "1", "timeout", "x"],
        &["CLIENT", "TRACKING", "off"],
        &["CLIENT", "TRACKING", "x"],
        &["CLIENT", "TRACKING", "on", "redirect", "99999"],
        &["CLIENT", "TRACKING", "off", "redirect", "x"],
        &["CLIENT", "CACHING", "yes"],
        &["HELLO", "3", "SETNAME", "n", "bad"],
        &["CLIENT", "GETNAME"],
        &["HELLO", "3"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "GETREDIR"],
        &["PING"],
        &["RESET"],
        &["CLIENT", "GETNAME"],
        &["QUIT", "x"],
    ];
    let mut a = redis.raw();
    let mut b = memkv.raw();
    let (ida, idb) = (client_id(&mut a), client_id(&mut b));
    for line in script {
        let ra = cmd(&mut a, line);
        let rb = cmd(&mut b, line);
        // HELLO replies carry the client id.
        let rb = rb.replace(
            &format!("$2\r\nid\r\n:{idb}\r\n"),
            &format!("$2\r\nid\r\n:{ida}\r\n"),
        );
        assert_eq!(rb, ra, "{line:?}");
    }
    assert!(a.is_closed());
    assert!(b.is_closed());

    // The same with a password.
    let redis = Server::start_redis(&["--requirepass", "pw"]).expect("redis again");
    let memkv = Server::start(&["--requirepass", "pw"]);
    let script: &[&[&str]] = &[
        &["PING"],
        &["ECHO"],
        &["NOSUCHCMD"],
        &["CLIENT", "ID"],
        &["HELLO"],
        &["HELLO", "3"],
        &["HELLO", "9"],
        &["HELLO", "3", "AUTH", "default", "nope"],
        &["AUTH", "nope"],
        &["AUTH", "default", "nope"],
        &["AUTH", "pw"],
        &["PING"],
        &["AUTH", "nope"],
        &["PING"],
        &["RESET"],
        &["PING"],
        &["HELLO", "2", "AUTH", "default", "pw"],
        &["PING"],
        &["QUIT"],
    ];
    let mut a = redis.raw();
    let mut b = memkv.raw();
    for line in script {
        let ra = cmd(&mut a, line);
        let rb = cmd(&mut b, line);
        if line[0] == "HELLO" && ra.starts_with('*') {
            assert!(rb.starts_with("*14\r\n$6\r\nserver\r\n"), "{rb}");
            continue;
        }
        assert_eq!(rb, ra, "{line:?}");
    }
}

/// CLIENT LIST `argv-mem` and `multi-mem` as Redis 7.0 counts them: the
/// running command's argument bytes (CLIENT INFO shows its own; a blocked
/// BLPOP keeps its), and for queued MULTI commands their argument bytes
/// plus a pointer per argument - the same numbers from real Redis; both
/// back to 0 after EXEC, and counted in tot-mem.
#[test]
fn argv_mem_and_multi_mem_like_redis() {
    let memkv = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let mut got = Vec::new();
    for s in std::iter::once(&memkv).chain(redis.as_ref()) {
        let mut a = s.raw();
        let mut b = s.raw();
        let mut blocked = s.raw();
        cmd(&mut a, &["CLIENT", "SETNAME", "queuer"]);
        cmd(&mut blocked, &["CLIENT", "SETNAME", "blocked"]);
        let info = payload(&cmd(&mut a, &["CLIENT", "INFO"])).to_string();
        let own = field(&info, "argv-mem").to_string();
        let line = |b: &mut Raw, name: &str| -> String {
            let list = cmd(b, &["CLIENT", "LIST"]);
            payload(&list)
                .lines()
                .find(|l| field(l, "name") == name)
                .expect("client line")
                .to_string()
        };
        let idle = line(&mut b, "queuer");
        assert_eq!(field(&idle, "argv-mem"), "0");
        assert_eq!(field(&idle, "multi-mem"), "0");
        cmd(&mut a, &["MULTI"]);
        let mut arg_bytes = 0;
        for i in 0..100 {
            let (k, v) = (format!("key:{i}"), "v".repeat(i % 7));
            arg_bytes += 3 + k.len() + v.len();
            assert_eq!(cmd(&mut a, &["SET", &k, &v]), "+QUEUED\r\n");
        }
        let queued = line(&mut b, "queuer");
        let multi: usize = field(&queued, "multi-mem").parse().expect("number");
        assert!(multi > arg_bytes, "{multi} <= {arg_bytes}");
        let tot_before: usize = field(&idle, "tot-mem").parse().expect("number");
        let tot: usize = field(&queued, "tot-mem").parse().expect("number");
        assert!(tot >= tot_before + multi, "{tot} {tot_before} {multi}");
        a.send(&common::encode(&[b"EXEC"]));
        a.read_reply();
        let after = line(&mut b, "queuer");
        assert_eq!(field(&after, "multi-mem"), "0");
        blocked.send(&common::encode(&[b"BLPOP", b"nothing-here", b"0"]));
        let mut bl = line(&mut b, "blocked");
        for _ in 0..100 {
            if field(&bl, "flags") == "b" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            bl = line(&mut b, "blocked");
        }
        got.push((
            own,
            multi,
            field(&bl, "argv-mem").to_string(),
            field(&after, "argv-mem").to_string(),
        ));
    }
    assert_eq!(got[0].0, "10", "CLIENT INFO's own arguments");
    assert_eq!(got[0].2, "18", "BLPOP nothing-here 0");
    if got.len() == 2 {
        assert_eq!(got[0], got[1], "memkv vs Redis");
    }
}
