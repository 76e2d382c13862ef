//! Connection commands: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO and the
//! CLIENT container (ID, SETNAME, GETNAME, SETINFO, INFO, LIST, KILL,
//! NO-EVICT, NO-TOUCH, GETREDIR, TRACKING, TRACKINGINFO, CACHING, PAUSE,
//! UNPAUSE, UNBLOCK, HELP), with Redis 7.0's replies and error texts
//! (SETINFO and NO-TOUCH follow Redis 7.2, which introduced them).
//!
//! The calling client is not in `srv.clients` while its command runs, so
//! every walk over "all clients" (CLIENT LIST / KILL) adds it explicitly.

use std::time::Instant;

use super::flags::{ADMIN, ALLOW_BUSY, FAST, LOADING, NO_AUTH, NOSCRIPT, STALE};
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::number::parse_i64;
use crate::server::{Client, Server};

const G: &str = "connection";
/// Flags Redis 7 gives AUTH, HELLO, QUIT and RESET.
const HANDSHAKE: u32 = NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, FAST, (0, 0, 0), ping, G).doc(
        "1.0.0",
        "Ping the server",
        "[message]",
    ),
    CommandSpec::new("echo", 2, LOADING | STALE | FAST, (0, 0, 0), echo, G).doc(
        "1.0.0",
        "Echo the given string",
        "message",
    ),
    CommandSpec::new("quit", -1, HANDSHAKE, (0, 0, 0), quit, G).doc(
        "1.0.0",
        "Close the connection",
        "",
    ),
    CommandSpec::new("reset", 1, HANDSHAKE, (0, 0, 0), reset, G).doc(
        "6.2.0",
        "Reset the connection",
        "",
    ),
    CommandSpec::new("select", 2, LOADING | STALE | FAST, (0, 0, 0), select, G).doc(
        "1.0.0",
        "Change the selected database for the current connection",
        "index",
    ),
    CommandSpec::new("auth", -2, HANDSHAKE, (0, 0, 0), auth, G).doc(
        "1.0.0",
        "Authenticate to the server",
        "[username] password",
    ),
    CommandSpec::new("hello", -1, HANDSHAKE, (0, 0, 0), hello, G).doc(
        "6.0.0",
        "Handshake with Redis",
        "[protover [AUTH username password] [SETNAME clientname]]",
    ),
    CommandSpec::new("client", -2, 0, (0, 0, 0), client_help, G)
        .doc("2.4.0", "A container for client connection commands", "")
        .subs(CLIENT_SUBCOMMANDS),
];

/// Flags of most CLIENT subcommands.
const SUB: u32 = NOSCRIPT | LOADING | STALE;

static CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("client|caching", 3, SUB, (0, 0, 0), client_caching, G).doc(
        "6.0.0",
        "Instruct the server about tracking or not keys in the next request",
        "<YES | NO>",
    ),
    CommandSpec::new("client|getname", 2, SUB, (0, 0, 0), client_getname, G).doc(
        "2.6.9",
        "Get the current connection name",
        "",
    ),
    CommandSpec::new("client|getredir", 2, SUB, (0, 0, 0), client_getredir, G).doc(
        "6.0.0",
        "Get tracking notifications redirection client ID if any",
        "",
    ),
    CommandSpec::new("client|help", 2, LOADING | STALE, (0, 0, 0), client_help, G).doc(
        "5.0.0",
        "Show helpful text about the different subcommands",
        "",
    ),
    CommandSpec::new("client|id", 2, SUB, (0, 0, 0), client_id, G).doc(
        "5.0.0",
        "Returns the client ID for the current connection",
        "",
    ),
    CommandSpec::new("client|info", 2, SUB, (0, 0, 0), client_info, G).doc(
        "6.2.0",
        "Returns information about the current client connection.",
        "",
    ),
    CommandSpec::new("client|kill", -3, ADMIN | SUB, (0, 0, 0), client_kill, G).doc(
        "2.4.0",
        "Kill the connection of a client",
        "<ip:port | <[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | [USER username] | [ADDR ip:port] | [LADDR ip:port] | [SKIPME <YES | NO>] [[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | [USER username] | [ADDR ip:port] | [LADDR ip:port] | [SKIPME <YES | NO>] ...]>>",
    ),
    CommandSpec::new("client|list", -2, ADMIN | SUB, (0, 0, 0), client_list, G).doc(
        "2.4.0",
        "Get the list of client connections",
        "[TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]",
    ),
    CommandSpec::new("client|no-evict", 3, ADMIN | SUB, (0, 0, 0), client_no_evict, G).doc(
        "7.0.0",
        "Set client eviction mode for the current connection",
        "<ON | OFF>",
    ),
    CommandSpec::new("client|no-touch", 3, SUB, (0, 0, 0), client_no_touch, G).doc(
        "7.2.0",
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys",
        "<ON | OFF>",
    ),
    CommandSpec::new("client|pause", -3, ADMIN | SUB, (0, 0, 0), client_pause, G).doc(
        "2.9.50",
        "Stop processing commands from clients for some time",
        "timeout [WRITE | ALL]",
    ),
    CommandSpec::new("client|setinfo", 4, SUB, (0, 0, 0), client_setinfo, G).doc(
        "7.2.0",
        "Set client or connection specific info",
        "<LIB-NAME libname | LIB-VER libver>",
    ),
    CommandSpec::new("client|setname", 3, SUB, (0, 0, 0), client_setname, G).doc(
        "2.6.9",
        "Set the current connection name",
        "connection-name",
    ),
    CommandSpec::new("client|tracking", -3, SUB, (0, 0, 0), client_tracking, G).doc(
        "6.0.0",
        "Enable or disable server assisted client side caching support",
        "<ON | OFF> [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]",
    ),
    CommandSpec::new("client|trackinginfo", 2, SUB, (0, 0, 0), client_trackinginfo, G).doc(
        "6.2.0",
        "Return information about server assisted client side caching for the current connection",
        "",
    ),
    CommandSpec::new("client|unblock", -3, ADMIN | SUB, (0, 0, 0), client_unblock, G).doc(
        "5.0.0",
        "Unblock a client blocked in a blocking command from a different connection",
        "client-id [TIMEOUT | ERROR]",
    ),
    CommandSpec::new("client|unpause", 2, ADMIN | SUB, (0, 0, 0), client_unpause, G).doc(
        "6.2.0",
        "Resume processing of clients that were paused",
        "",
    ),
];

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// Redis's ACLAuthenticateUser: on success the connection becomes the
/// user's; on failure an `auth` entry goes to the ACL LOG. A missing user
/// and a wrong password give the same answer (nothing leaks).
fn authenticate(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    user: &[u8],
    pass: &[u8],
) -> CmdResult {
    match srv.acl.authenticate(user, pass) {
        Some(slot) => {
            c.authenticated = true;
            c.user = slot;
            c.user_name = String::from_utf8_lossy(user).into_owned();
            Ok(())
        }
        None => {
            let ctx = if c.multi.is_some() {
                crate::acl::LogContext::Multi
            } else {
                crate::acl::LogContext::Toplevel
            };
            let object = args.get(0).unwrap_or(b"").to_vec();
            crate::acl::log_auth_failure(srv, c, ctx, user, object);
            Err(CmdError::Static(WRONGPASS))
        }
    }
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Redis accepts client names and SETINFO values made of printable ASCII
/// without spaces (`'!'..='~'`), so CLIENT LIST stays splittable.
fn valid_client_attr(v: &[u8]) -> bool {
    v.iter().all(|b| (b'!'..=b'~').contains(b))
}

/// Redis's clientSetNameOrReply: empty clears the name.
fn set_client_name(c: &mut Client, name: &[u8]) -> CmdResult {
    if !valid_client_attr(name) {
        return Err(CmdError::Static(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    c.name.clear();
    c.name.extend_from_slice(name);
    Ok(())
}

/// Lossy text of a client argument for an error message.
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Redis's addReplySubcommandSyntaxError, for the argument counts the
/// table's arity lets through but the subcommand rejects.
fn subcommand_syntax_error(args: &Args) -> CmdError {
    let sub = &args[1];
    CmdError::Custom(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
        lossy(&sub[..sub.len().min(128)])
    ))
}

/// Client classes of `CLIENT LIST TYPE` / `CLIENT KILL TYPE`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    PubSub,
}

/// Redis's getClientTypeByName.
fn client_type_by_name(name: &[u8]) -> Result<ClientType, CmdError> {
    let t = if name.eq_ignore_ascii_case(b"normal") {
        ClientType::Normal
    } else if name.eq_ignore_ascii_case(b"slave") || name.eq_ignore_ascii_case(b"replica") {
        ClientType::Replica
    } else if name.eq_ignore_ascii_case(b"master") {
        ClientType::Master
    } else if name.eq_ignore_ascii_case(b"pubsub") {
        ClientType::PubSub
    } else {
        return Err(CmdError::Custom(format!(
            "ERR Unknown client type '{}'",
            lossy(name)
        )));
    };
    Ok(t)
}

/// The class of a connected client. memkv has no replication, and until
/// Redis's getClientType: a client with subscriptions is of class pubsub.
fn client_type(c: &Client) -> ClientType {
    if c.pubsub.flag {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

/// Parses ON/OFF (case-insensitive) or gives a syntax error.
fn on_off(arg: &[u8]) -> Result<bool, CmdError> {
    if arg.eq_ignore_ascii_case(b"on") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Other connected clients, skipping those already killed (Redis frees a
/// killed client at once, so it never shows up again).
fn live_clients(srv: &Server) -> impl Iterator<Item = &Client> {
    srv.clients
        .iter()
        .filter_map(|(_, c)| c.as_deref())
        .filter(|c| !c.close_asap)
}

// ---------------------------------------------------------------------------
// PING, ECHO, QUIT, RESET, SELECT
// ---------------------------------------------------------------------------

fn ping(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() > 2 {
        return Err(CmdError::WrongArity("ping"));
    }
    // A subscribed RESP2 client gets ["pong", message] (Redis: pushes only).
    if crate::pubsub::resp2_subscribed(c) {
        c.reply.array(2);
        c.reply.bulk(b"pong");
        c.reply.bulk(args.get(1).unwrap_or(b""));
        return Ok(());
    }
    match args.get(1) {
        None => c.reply.simple("PONG"),
        Some(msg) => c.reply.bulk(msg),
    }
    Ok(())
}

fn echo(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    c.reply.bulk(&args[1]);
    Ok(())
}

fn quit(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.ok();
    c.close_after_reply = true;
    Ok(())
}

fn reset(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    // Redis's clearClientConnectionState: every per-connection feature
    // resets its state here (Pub/Sub, tracking and MONITOR when they exist).
    super::transaction::reset_transaction(srv, c);
    crate::pubsub::forget_client(srv, c);
    super::ops::stop_monitor(srv, c);
    c.db = 0;
    c.reply.resp3 = false;
    let d = srv.acl.default_user();
    c.authenticated = d.nopass() && d.enabled();
    c.user = crate::acl::DEFAULT;
    c.user_name = String::from("default");
    c.name.clear();
    c.no_evict = false;
    c.no_touch = false;
    c.reply.simple("RESET");
    Ok(())
}

fn select(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    // Redis's getIntFromObjectOrReply: a long long first, then int range.
    let n = parse_i64(&args[1]).ok_or(CmdError::NotInteger)?;
    if n < i32::MIN as i64 || n > i32::MAX as i64 {
        return Err(CmdError::Static(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    if n < 0 || n as usize >= srv.store.db_count() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    c.db = n as usize;
    c.reply.ok();
    Ok(())
}

// ---------------------------------------------------------------------------
// AUTH, HELLO
// ---------------------------------------------------------------------------

fn auth(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let (user, pass): (&[u8], &[u8]) = if args.len() == 2 {
        if srv.acl.default_user().nopass() {
            return Err(CmdError::Static(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            ));
        }
        (b"default", &args[1])
    } else {
        (&args[1], &args[2])
    };
    // A failed AUTH leaves an authenticated connection authenticated.
    authenticate(srv, c, args, user, pass)?;
    c.reply.ok();
    Ok(())
}

fn hello(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let mut proto = None;
    if let Some(v) = args.get(1) {
        let v = parse_i64(v).ok_or(CmdError::Static(
            "ERR Protocol version is not an integer or out of range",
        ))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::Static("NOPROTO unsupported protocol version"));
        }
        proto = Some(v);
    }
    // Options are applied as they are parsed, like Redis 7.0 does: AUTH
    // authenticates at once and SETNAME sets the name at once, even if a
    // later option fails.
    let mut j = 2;
    while j < args.len() {
        let opt = &args[j];
        let more = args.len() - 1 - j;
        if opt.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            authenticate(srv, c, args, &args[j + 1], &args[j + 2])?;
            j += 3;
        } else if opt.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            set_client_name(c, &args[j + 1])?;
            j += 2;
        } else {
            return Err(CmdError::Custom(format!(
                "ERR Syntax error in HELLO option '{}'",
                lossy(opt)
            )));
        }
    }
    if !c.authenticated {
        return Err(CmdError::Static(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(v) = proto {
        c.reply.resp3 = v == 3;
    }
    // The reply already uses the protocol just selected.
    let r = &mut c.reply;
    r.map(7);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(crate::REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.int(if r.resp3 { 3 } else { 2 });
    r.bulk(b"id");
    r.int(c.id as i64);
    r.bulk(b"mode");
    r.bulk(super::server::redis_mode(srv).as_bytes());
    r.bulk(b"role");
    r.bulk(b"master");
    r.bulk(b"modules");
    r.array(0);
    Ok(())
}

// ---------------------------------------------------------------------------
// CLIENT
// ---------------------------------------------------------------------------

/// CLIENT HELP (Redis 7.2's text, which lists SETINFO and NO-TOUCH).
const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Prints this help.",
];

/// CLIENT HELP; also the container's own handler (dispatch never calls it
/// without a subcommand, but the table needs one).
fn client_help(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.array(CLIENT_HELP.len());
    for line in CLIENT_HELP {
        c.reply.simple(line);
    }
    Ok(())
}

fn client_id(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.int(c.id as i64);
    Ok(())
}

fn client_getname(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    if c.name.is_empty() {
        c.reply.null();
    } else {
        let Client { reply, name, .. } = c;
        reply.bulk(name);
    }
    Ok(())
}

fn client_setname(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    set_client_name(c, &args[2])?;
    c.reply.ok();
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2; client libraries send
/// it on connect and ignore failures, but they must get +OK from a 7.x).
fn client_setinfo(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let attr = &args[2];
    let val = &args[3];
    let lib_name = if attr.eq_ignore_ascii_case(b"lib-name") {
        true
    } else if attr.eq_ignore_ascii_case(b"lib-ver") {
        false
    } else {
        return Err(CmdError::Custom(format!(
            "ERR Unrecognized option '{}'",
            lossy(attr)
        )));
    };
    if !valid_client_attr(val) {
        return Err(CmdError::Custom(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            lossy(attr)
        )));
    }
    let dest = if lib_name {
        &mut c.lib_name
    } else {
        &mut c.lib_ver
    };
    dest.clear();
    dest.extend_from_slice(val);
    c.reply.ok();
    Ok(())
}

/// Redis's `argv_len_sum` of the running command (CLIENT LIST / INFO show
/// their own arguments as `argv-mem`).
fn argv_len_sum(args: &Args) -> usize {
    args.iter().map(<[u8]>::len).sum()
}

fn client_info(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    c.argv_mem = argv_len_sum(args);
    let mut line = c.info_line(Instant::now());
    c.argv_mem = 0;
    line.push('\n');
    c.reply.verbatim(line.as_bytes());
    Ok(())
}

/// CLIENT LIST [TYPE type] | [ID id ...] (Redis 7.0 accepts one of the two).
fn client_list(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let now = Instant::now();
    let mut out = String::new();
    c.argv_mem = argv_len_sum(args);
    let res = client_list_lines(srv, c, args, now, &mut out);
    c.argv_mem = 0;
    res?;
    c.reply.verbatim(out.as_bytes());
    Ok(())
}

fn client_list_lines(
    srv: &Server,
    c: &Client,
    args: &Args,
    now: Instant,
    out: &mut String,
) -> CmdResult {
    if args.len() == 4 && args[2].eq_ignore_ascii_case(b"type") {
        let ty = client_type_by_name(&args[3])?;
        all_client_lines(srv, c, now, Some(ty), out);
    } else if args.len() > 3 && args[2].eq_ignore_ascii_case(b"id") {
        let mut ids = Vec::with_capacity(args.len() - 3);
        for a in args.iter().skip(3) {
            ids.push(parse_i64(a).ok_or(CmdError::Static("ERR Invalid client ID"))?);
        }
        // In argument order, like Redis (an id given twice is listed twice).
        // One pass over the clients builds the index: O(clients + ids).
        let by_id: std::collections::HashMap<i64, &Client> = live_clients(srv)
            .map(|o| (o.id as i64, o))
            .chain(std::iter::once((c.id as i64, c)))
            .collect();
        for id in ids {
            if let Some(cl) = by_id.get(&id) {
                out.push_str(&cl.info_line(now));
                out.push('\n');
            }
        }
    } else if args.len() != 2 {
        return Err(CmdError::Syntax);
    } else {
        all_client_lines(srv, c, now, None, out);
    }
    Ok(())
}

/// Every client's line (the caller included), oldest connection first as in
/// Redis's client list, optionally only one class.
fn all_client_lines(
    srv: &Server,
    me: &Client,
    now: Instant,
    ty: Option<ClientType>,
    out: &mut String,
) {
    let mut all: Vec<&Client> = live_clients(srv).collect();
    all.push(me);
    all.sort_unstable_by_key(|c| c.id);
    for cl in all {
        if ty.is_some_and(|t| t != client_type(cl)) {
            continue;
        }
        out.push_str(&cl.info_line(now));
        out.push('\n');
    }
}

/// The filters of CLIENT KILL.
#[derive(Default)]
struct KillFilter {
    addr: Option<Vec<u8>>,
    laddr: Option<Vec<u8>>,
    ty: Option<ClientType>,
    id: Option<u64>,
    user: Option<Vec<u8>>,
    skipme: bool,
}

impl KillFilter {
    fn matches(&self, cl: &Client) -> bool {
        if let Some(a) = &self.addr
            && cl.addr.to_string().as_bytes() != a.as_slice()
        {
            return false;
        }
        if let Some(a) = &self.laddr
            && cl.laddr.to_string().as_bytes() != a.as_slice()
        {
            return false;
        }
        if let Some(t) = self.ty
            && client_type(cl) != t
        {
            return false;
        }
        if let Some(id) = self.id
            && cl.id != id
        {
            return false;
        }
        if let Some(u) = &self.user
            && cl.user_name.as_bytes() != u.as_slice()
        {
            return false;
        }
        true
    }
}

/// CLIENT KILL ip:port (old form: +OK or an error) or
/// CLIENT KILL <filter> <value> ... (new form: number of clients killed).
fn client_kill(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let old_form = args.len() == 3;
    let mut f = KillFilter::default();
    if old_form {
        f.addr = Some(args[2].to_vec());
        // With the old form a client may kill itself.
        f.skipme = false;
    } else {
        f.skipme = true;
        let mut i = 2;
        while i < args.len() {
            let opt = &args[i];
            let Some(val) = args.get(i + 1) else {
                return Err(CmdError::Syntax);
            };
            if opt.eq_ignore_ascii_case(b"id") {
                let id = parse_i64(val)
                    .filter(|&n| n >= 1)
                    .ok_or(CmdError::Static("ERR client-id should be greater than 0"))?;
                f.id = Some(id as u64);
            } else if opt.eq_ignore_ascii_case(b"type") {
                f.ty = Some(client_type_by_name(val)?);
            } else if opt.eq_ignore_ascii_case(b"addr") {
                f.addr = Some(val.to_vec());
            } else if opt.eq_ignore_ascii_case(b"laddr") {
                f.laddr = Some(val.to_vec());
            } else if opt.eq_ignore_ascii_case(b"user") {
                if srv.acl.get(val).is_none() {
                    return Err(CmdError::Custom(format!(
                        "ERR No such user '{}'",
                        lossy(val)
                    )));
                }
                f.user = Some(val.to_vec());
            } else if opt.eq_ignore_ascii_case(b"skipme") {
                f.skipme = if val.eq_ignore_ascii_case(b"yes") {
                    true
                } else if val.eq_ignore_ascii_case(b"no") {
                    false
                } else {
                    return Err(CmdError::Syntax);
                };
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
    }

    let victims: Vec<usize> = live_clients(srv)
        .filter(|cl| f.matches(cl))
        .map(|cl| cl.token)
        .collect();
    let kill_me = !f.skipme && f.matches(c);
    for &token in &victims {
        if let Some(Some(cl)) = srv.clients.get_mut(token) {
            cl.close_asap = true;
        }
        // The reactor closes a close_asap client when it visits it.
        srv.wake_writer(token);
    }
    let killed = victims.len() + kill_me as usize;
    if old_form {
        if killed == 0 {
            return Err(CmdError::Static("ERR No such client"));
        }
        c.reply.ok();
    } else {
        c.reply.int(killed as i64);
    }
    // The caller still gets its reply, then is closed.
    if kill_me {
        c.close_after_reply = true;
    }
    Ok(())
}

fn client_no_evict(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    c.no_evict = on_off(&args[2])?;
    c.reply.ok();
    Ok(())
}

fn client_no_touch(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    c.no_touch = on_off(&args[2])?;
    c.reply.ok();
    Ok(())
}

fn client_getredir(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    crate::pubsub::tracking::client_getredir(c);
    Ok(())
}

/// CLIENT TRACKING (client-side caching lives in `crate::pubsub::tracking`).
fn client_tracking(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    crate::pubsub::tracking::client_tracking(srv, c, args)
}

fn client_trackinginfo(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    crate::pubsub::tracking::client_trackinginfo(c);
    Ok(())
}

fn client_caching(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    crate::pubsub::tracking::client_caching(c, args)
}

/// CLIENT PAUSE timeout [WRITE|ALL]: validated like Redis and acknowledged;
/// memkv does not pause clients yet.
fn client_pause(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() > 4 {
        return Err(subcommand_syntax_error(args));
    }
    if let Some(mode) = args.get(3)
        && !mode.eq_ignore_ascii_case(b"write")
        && !mode.eq_ignore_ascii_case(b"all")
    {
        return Err(CmdError::Static(
            "ERR CLIENT PAUSE mode must be WRITE or ALL",
        ));
    }
    let ms = parse_i64(&args[2]).ok_or(CmdError::Static(
        "ERR timeout is not an integer or out of range",
    ))?;
    if ms < 0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    let all = args.get(3).is_none_or(|m| m.eq_ignore_ascii_case(b"all"));
    srv.pause_clients(ms as u64, all);
    c.reply.ok();
    Ok(())
}

fn client_unpause(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    srv.unpause_clients();
    c.reply.ok();
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if a client blocked in a blocking
/// command was unblocked (it answers as on timeout, or with an error).
fn client_unblock(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() > 4 {
        return Err(subcommand_syntax_error(args));
    }
    let mut error = None;
    if let Some(reason) = args.get(3) {
        if reason.eq_ignore_ascii_case(b"error") {
            error = Some("UNBLOCKED client unblocked via CLIENT UNBLOCK");
        } else if !reason.eq_ignore_ascii_case(b"timeout") {
            return Err(CmdError::Static(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    }
    let id = parse_i64(&args[2]).ok_or(CmdError::NotInteger)?;
    // The caller itself is running, so it cannot be blocked.
    let done = id >= 1 && id as u64 != c.id && srv.unblock_client(id as u64, error);
    c.reply.int(done as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_attr_charset() {
        assert!(valid_client_attr(b""));
        assert!(valid_client_attr(b"redis-py"));
        assert!(valid_client_attr(b"~!"));
        assert!(!valid_client_attr(b"a b"));
        assert!(!valid_client_attr(b"a\nb"));
        assert!(!valid_client_attr(b"\x7f"));
        assert!(!valid_client_attr("é".as_bytes()));
    }

    #[test]
    fn client_types() {
        assert!(client_type_by_name(b"NORMAL") == Ok(ClientType::Normal));
        assert!(client_type_by_name(b"slave") == Ok(ClientType::Replica));
        assert!(client_type_by_name(b"replica") == Ok(ClientType::Replica));
        assert!(client_type_by_name(b"Master") == Ok(ClientType::Master));
        assert!(client_type_by_name(b"pubsub") == Ok(ClientType::PubSub));
        assert_eq!(
            client_type_by_name(b"x").err().map(|e| e.to_string()),
            Some("ERR Unknown client type 'x'".to_string())
        );
    }

    #[test]
    fn help_has_header_and_trailer() {
        assert_eq!(CLIENT_HELP.len(), 54);
        assert!(CLIENT_HELP[0].starts_with("CLIENT <subcommand>"));
        assert_eq!(CLIENT_HELP[CLIENT_HELP.len() - 1], "    Prints this help.");
    }
}
