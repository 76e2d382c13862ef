//! ACL commands: ACL SETUSER / GETUSER / DELUSER / USERS / LIST / WHOAMI /
//! CAT / GENPASS / DRYRUN / LOG / LOAD / SAVE / HELP. The users and the
//! permission check live in `crate::acl`; this file is the command surface
//! and the side effects on connected clients (a deleted user's clients are
//! disconnected, a SETUSER that revokes channels disconnects the user's
//! subscribers, ACL LOAD disconnects every non-default user's clients).

use super::flags::{ADMIN, LOADING, NOSCRIPT, STALE};
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::acl::{self, Denied, User};
use crate::number::parse_i64;
use crate::server::{Client, Server};

const G: &str = "server";
const A: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const N: u32 = NOSCRIPT | LOADING | STALE;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("acl", -2, 0, (0, 0, 0), help, G)
    .doc("6.0.0", "A container for Access List Control commands", "")
    .subs(SUBS)];

const SUBS: &[CommandSpec] = &[
    CommandSpec::new("acl|cat", -2, N, (0, 0, 0), cat, G).doc(
        "6.0.0",
        "List the ACL categories or the commands inside a category",
        "[categoryname]",
    ),
    CommandSpec::new("acl|deluser", -3, A, (0, 0, 0), deluser, G).doc(
        "6.0.0",
        "Remove the specified ACL users and the associated rules",
        "username [username ...]",
    ),
    CommandSpec::new("acl|dryrun", -4, A, (0, 0, 0), dryrun, G).doc(
        "7.0.0",
        "Returns whether the user can execute the given command without executing the command.",
        "username command [arg [arg ...]]",
    ),
    CommandSpec::new("acl|genpass", -2, N, (0, 0, 0), genpass, G).doc(
        "6.0.0",
        "Generate a pseudorandom secure password to use for ACL users",
        "[bits]",
    ),
    CommandSpec::new("acl|getuser", 3, A, (0, 0, 0), getuser, G).doc(
        "6.0.0",
        "Get the rules for a specific ACL user",
        "username",
    ),
    CommandSpec::new("acl|help", 2, LOADING | STALE, (0, 0, 0), help, G).doc(
        "6.0.0",
        "Show helpful text about the different subcommands",
        "",
    ),
    CommandSpec::new("acl|list", 2, A, (0, 0, 0), list, G).doc(
        "6.0.0",
        "List the current ACL rules in ACL config file format",
        "",
    ),
    CommandSpec::new("acl|load", 2, A, (0, 0, 0), load, G).doc(
        "6.0.0",
        "Reload the ACLs from the configured ACL file",
        "",
    ),
    CommandSpec::new("acl|log", -2, A, (0, 0, 0), log, G).doc(
        "6.0.0",
        "List latest events denied because of ACLs in place",
        "[count | RESET]",
    ),
    CommandSpec::new("acl|save", 2, A, (0, 0, 0), save, G).doc(
        "6.0.0",
        "Save the current ACL rules in the configured ACL file",
        "",
    ),
    CommandSpec::new("acl|setuser", -3, A, (0, 0, 0), setuser, G).doc(
        "6.0.0",
        "Modify or create the rules for a specific ACL user",
        "username [rule [rule ...]]",
    ),
    CommandSpec::new("acl|users", 2, A, (0, 0, 0), users, G).doc(
        "6.0.0",
        "List the username of all the configured ACL rules",
        "",
    ),
    CommandSpec::new("acl|whoami", 2, N, (0, 0, 0), whoami, G).doc(
        "6.0.0",
        "Return the name of the user associated to the current connection",
        "",
    ),
];

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

fn help(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    super::server::help(&mut c.reply, HELP);
    Ok(())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Disconnects the clients authenticated as the user in `slot` (Redis's
/// ACLFreeUserAndKillClients): they fall back to the unauthenticated
/// default user and are closed; the caller gets its reply first.
fn kill_user_clients(srv: &mut Server, me: &mut Client, slot: usize) {
    let victims: Vec<usize> = srv
        .clients
        .iter()
        .filter_map(|(_, c)| c.as_deref())
        .filter(|c| c.user == slot && !c.is_internal())
        .map(|c| c.token)
        .collect();
    for token in victims {
        if let Some(Some(cl)) = srv.clients.get_mut(token) {
            demote(cl);
            cl.close_asap = true;
        }
        srv.wake_writer(token);
    }
    if me.user == slot {
        demote(me);
        me.close_after_reply = true;
    }
}

fn demote(c: &mut Client) {
    c.user = acl::DEFAULT;
    c.user_name = String::from("default");
    c.authenticated = false;
}

/// After a SETUSER: the user's subscribers whose channels or patterns the
/// new rules no longer allow are disconnected (ACLKillPubsubClientsIfNeeded).
fn kill_revoked_subscribers(srv: &mut Server, me: &mut Client, slot: usize) {
    let user = srv.acl.user(slot);
    let violates = |c: &Client| {
        let ps = &c.pubsub;
        ps.patterns.iter().any(|p| !user.channel_allowed(p, true))
            || ps
                .channels
                .iter()
                .chain(ps.shard.iter())
                .any(|ch| !user.channel_allowed(ch, false))
    };
    let victims: Vec<usize> = srv
        .clients
        .iter()
        .filter_map(|(_, c)| c.as_deref())
        .filter(|c| c.user == slot && violates(c))
        .map(|c| c.token)
        .collect();
    let me_too = me.user == slot && violates(me);
    for token in victims {
        if let Some(Some(cl)) = srv.clients.get_mut(token) {
            cl.close_asap = true;
        }
        srv.wake_writer(token);
    }
    if me_too {
        me.close_after_reply = true;
    }
}

fn setuser(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let name = &args[2];
    if name
        .iter()
        .any(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | 0))
    {
        return Err(CmdError::Static(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    let rules: Vec<&[u8]> = args.iter().skip(3).collect();
    let merged = acl::merge_selector_args(&rules).map_err(|i| {
        CmdError::Custom(format!(
            "ERR Unmatched parenthesis in acl selector starting at '{}'.",
            lossy(rules.get(i).copied().unwrap_or(b""))
        ))
    })?;
    let pubsub_all = acl::pubsub_all(&srv.config);
    let existing = srv.acl.get(name).cloned();
    let mut user = existing
        .clone()
        .unwrap_or_else(|| User::new(name, pubsub_all));
    for op in &merged {
        user.apply(op, pubsub_all).map_err(|e| {
            CmdError::Custom(format!(
                "ERR Error in ACL SETUSER modifier '{}': {}",
                lossy(op),
                e.message()
            ))
        })?;
    }
    let narrowed = existing
        .as_ref()
        .is_some_and(|old| old.channels_narrowed(&user));
    let slot = srv.acl.put(user);
    if narrowed {
        kill_revoked_subscribers(srv, c, slot);
    }
    c.reply.ok();
    Ok(())
}

fn deluser(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.iter().skip(2).any(|n| n == b"default") {
        return Err(CmdError::Static("ERR The 'default' user cannot be removed"));
    }
    let mut deleted = 0;
    for name in args.iter().skip(2) {
        if let Some(slot) = srv.acl.remove(name) {
            kill_user_clients(srv, c, slot);
            deleted += 1;
        }
    }
    c.reply.int(deleted);
    Ok(())
}

fn getuser(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    // Redis 7.0 answers a null for an unknown user.
    let Some(u) = srv.acl.get(&args[2]) else {
        c.reply.null();
        return Ok(());
    };
    let r = &mut c.reply;
    r.map(6);
    r.bulk(b"flags");
    let flags = u.flags();
    r.set(flags.len());
    for f in flags {
        r.bulk(f.as_bytes());
    }
    r.bulk(b"passwords");
    r.array(u.passwords().len());
    for p in u.passwords() {
        r.bulk(p.as_bytes());
    }
    let sels = u.selector_descriptions();
    let write_sel = |r: &mut crate::resp::Reply, s: &[String; 3]| {
        for (k, v) in ["commands", "keys", "channels"].iter().zip(s.iter()) {
            r.bulk(k.as_bytes());
            r.bulk(v.as_bytes());
        }
    };
    write_sel(r, &sels[0]);
    r.bulk(b"selectors");
    r.array(sels.len() - 1);
    for s in &sels[1..] {
        r.map(3);
        write_sel(r, s);
    }
    Ok(())
}

fn list(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.array(srv.acl.user_count());
    for u in srv.acl.users() {
        let mut line = b"user ".to_vec();
        line.extend_from_slice(&u.name);
        line.push(b' ');
        line.extend_from_slice(u.describe().as_bytes());
        c.reply.bulk(&line);
    }
    Ok(())
}

fn users(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.array(srv.acl.user_count());
    for u in srv.acl.users() {
        c.reply.bulk(&u.name);
    }
    Ok(())
}

fn whoami(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let name = c.user_name.clone();
    c.reply.bulk(name.as_bytes());
    Ok(())
}

fn cat(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(subcommand_syntax(args));
    }
    let Some(name) = args.get(2) else {
        c.reply.array(acl::CATEGORIES.len());
        for cat in acl::CATEGORIES {
            c.reply.bulk(cat.as_bytes());
        }
        return Ok(());
    };
    let Some(bit) = acl::category_bit(name) else {
        return Err(CmdError::Custom(format!(
            "ERR Unknown category '{}'",
            lossy(&name[..name.len().min(128)])
        )));
    };
    let r = acl::registry();
    let names: Vec<&str> = (0..r.specs.len())
        .filter(|&id| r.cats[id] & bit != 0)
        .map(|id| r.specs[id].name)
        .collect();
    c.reply.array(names.len());
    for n in names {
        c.reply.bulk(n.as_bytes());
    }
    Ok(())
}

/// Redis's addReplySubcommandSyntaxError.
fn subcommand_syntax(args: &Args) -> CmdError {
    CmdError::Custom(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
        lossy(&args[1][..args[1].len().min(128)])
    ))
}

fn genpass(_srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(subcommand_syntax(args));
    }
    let bits = match args.get(2) {
        Some(a) => parse_i64(a).ok_or(CmdError::NotInteger)?,
        None => 256,
    };
    if bits <= 0 || bits > 4096 {
        return Err(CmdError::Static(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
        ));
    }
    let chars = ((bits + 3) / 4) as usize;
    let mut raw = vec![0u8; chars.div_ceil(2)];
    random_bytes(&mut raw);
    let mut hex = String::with_capacity(raw.len() * 2);
    for b in &raw {
        hex.push_str(&format!("{b:02x}"));
    }
    hex.truncate(chars);
    c.reply.bulk(hex.as_bytes());
    Ok(())
}

/// Bytes from the kernel's CSPRNG.
fn random_bytes(buf: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open("/dev/urandom")
        && f.read_exact(buf).is_ok()
    {
        return;
    }
    // No /dev/urandom: hash the clock and a counter (never reached on Linux).
    let seed = format!("{:?}{:p}", std::time::SystemTime::now(), buf);
    let h = acl::hash_password(seed.as_bytes());
    for (d, s) in buf.iter_mut().zip(h.bytes().cycle()) {
        *d = s;
    }
}

fn log(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(subcommand_syntax(args));
    }
    let mut count: i64 = 10;
    if let Some(a) = args.get(2) {
        if a.eq_ignore_ascii_case(b"reset") {
            srv.acl.log.reset();
            c.reply.ok();
            return Ok(());
        }
        count = parse_i64(a).ok_or(CmdError::NotInteger)?.max(0);
    }
    let n = (count as usize).min(srv.acl.log.entries.len());
    let now = crate::store::unix_ms();
    let r = &mut c.reply;
    r.array(n);
    for e in srv.acl.log.entries.iter().take(n) {
        r.map(7);
        r.bulk(b"count");
        r.int(e.count as i64);
        r.bulk(b"reason");
        r.bulk(e.reason.name().as_bytes());
        r.bulk(b"context");
        r.bulk(e.context.name().as_bytes());
        r.bulk(b"object");
        r.bulk(&e.object);
        r.bulk(b"username");
        r.bulk(&e.username);
        r.bulk(b"age-seconds");
        r.double(now.saturating_sub(e.ctime) as f64 / 1000.0);
        r.bulk(b"client-info");
        r.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

fn dryrun(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let Some(u) = srv.acl.get(&args[2]) else {
        return Err(CmdError::Custom(format!(
            "ERR User '{}' not found",
            lossy(&args[2])
        )));
    };
    let inner = args.tail(3);
    let spec = match super::resolve(&inner) {
        Ok(s) => s,
        Err(CmdError::WrongArity(name)) => {
            return Err(CmdError::Custom(format!(
                "ERR wrong number of arguments for '{name}' command"
            )));
        }
        Err(_) => {
            return Err(CmdError::Custom(format!(
                "ERR Command '{}' not found",
                lossy(&args[3])
            )));
        }
    };
    match u.check(spec, &inner) {
        Ok(()) => c.reply.ok(),
        Err(d) => {
            let text = match d {
                Denied::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    spec.name
                ),
                Denied::Key(i) => format!(
                    "This user has no permissions to access the '{}' key",
                    lossy(inner.get(i).unwrap_or(b""))
                ),
                Denied::Channel(i) => format!(
                    "This user has no permissions to access the '{}' channel",
                    lossy(inner.get(i).unwrap_or(b""))
                ),
            };
            c.reply.bulk(text.as_bytes());
        }
    }
    Ok(())
}

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn aclfile(srv: &Server) -> Result<String, CmdError> {
    match srv.config.value("aclfile") {
        Some(f) if !f.is_empty() => Ok(f),
        _ => Err(CmdError::Static(NO_ACLFILE)),
    }
}

fn load(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let path = aclfile(srv)?;
    let text = std::fs::read(&path).map_err(|e| {
        CmdError::Custom(format!(
            "ERR Error loading ACLs, opening file '{path}': {}",
            crate::config::strerror(&e)
        ))
    })?;
    let users = acl::parse_file(&text, &path, acl::pubsub_all(&srv.config))
        .map_err(|e| CmdError::Custom(format!("ERR {e}")))?;
    // Every user but `default` is a new one: their clients are
    // disconnected, as Redis frees the old users.
    let freed = srv.acl.replace_all(users);
    for slot in freed {
        kill_user_clients(srv, c, slot);
    }
    c.reply.ok();
    Ok(())
}

fn save(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let path = aclfile(srv)?;
    let text = srv.acl.to_file_text();
    let tmp = format!(
        "{path}.tmp-{}-{}",
        std::process::id(),
        crate::store::unix_ms()
    );
    let res = std::fs::write(&tmp, text.as_bytes()).and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = res {
        ::log::warn!(
            "Writing ACL file for ACL SAVE: {}",
            crate::config::strerror(&e)
        );
        let _ = std::fs::remove_file(&tmp);
        return Err(CmdError::Static(
            "ERR There was an error trying to save the ACLs. Please check the server logs for more information",
        ));
    }
    c.reply.ok();
    Ok(())
}
