//! The command table and dispatch.
//!
//! [`table`] is the single source of every command's name, arity, flags, key
//! positions, documentation and handler: dispatch, COMMAND (INFO / DOCS /
//! COUNT / LIST), and later WATCH, rollback, AOF and cluster routing read it.
//! One file per command family holds the handlers and its slice of the table.

pub mod args;
pub mod error;

use std::collections::HashMap;
use std::sync::OnceLock;

pub use args::{Args, OwnedArgs};
pub use error::{CmdError, CmdResult};

use crate::server::{Client, Server};

/// A command implementation: runs against the server state for one client
/// and writes its reply into `client.reply`. On `Err` the dispatcher drops
/// anything the handler wrote and replies with the error instead.
pub type Handler = fn(&mut Server, &mut Client, &Args) -> CmdResult;

/// A per-command key extractor for commands whose keys the (first, last,
/// step) triple and a `numkeys` argument cannot describe (SORT's STORE):
/// argv (name included) -> (index, is the key written).
pub type KeysFn = fn(&[&[u8]]) -> Vec<(usize, bool)>;

/// Command flags (Redis's names, see COMMAND INFO).
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const FAST: u32 = 1 << 10;
    /// Allowed before AUTH (AUTH, HELLO, QUIT, RESET).
    pub const NO_AUTH: u32 = 1 << 11;
    /// Not allowed inside MULTI (WATCH, MULTI...).
    pub const NO_MULTI: u32 = 1 << 12;
    pub const ALLOW_BUSY: u32 = 1 << 13;
    /// Not a write, but its effect is propagated (PUBLISH, EVAL): CLIENT
    /// PAUSE WRITE postpones it too. Internal: Redis 7.0's COMMAND INFO
    /// does not show it.
    pub const MAY_REPLICATE: u32 = 1 << 14;
    /// Never logged in the slow log (EXEC: its commands are).
    pub const SKIP_SLOWLOG: u32 = 1 << 15;

    /// Flag names in COMMAND INFO order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// One row of the command table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name; a subcommand is named `container|sub` (Redis 7).
    pub name: &'static str,
    /// Redis convention: positive = exact argc (name included), negative =
    /// at least -arity.
    pub arity: i32,
    pub flags: u32,
    /// Key positions (argv indexes), Redis's legacy (first, last, step);
    /// last = -1 means the last argument. (0, 0, 0) = no keys.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub handler: Handler,
    /// COMMAND DOCS group: string, generic, list, hash, connection, server...
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    /// Argument syntax after the name, in the notation of the Redis command
    /// reference, e.g. `key value [NX | XX] [GET]`. COMMAND DOCS and the
    /// README are generated from it.
    pub syntax: &'static str,
    /// Subcommands (CLIENT LIST, CONFIG GET, ...); empty for plain commands.
    pub subcommands: &'static [CommandSpec],
    /// Key extractor for the odd ones (COMMAND INFO then says movablekeys).
    pub keys_fn: Option<KeysFn>,
}

impl CommandSpec {
    /// A table row without documentation; chain [`CommandSpec::doc`].
    /// `keys` is (first, last, step) as in COMMAND INFO.
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: u32,
        keys: (i32, i32, i32),
        handler: Handler,
        group: &'static str,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            first_key: keys.0,
            last_key: keys.1,
            step: keys.2,
            handler,
            group,
            since: "",
            summary: "",
            syntax: "",
            subcommands: &[],
            keys_fn: None,
        }
    }

    /// Attaches a key extractor (see [`KeysFn`]).
    pub const fn keys_fn(mut self, f: KeysFn) -> Self {
        self.keys_fn = Some(f);
        self
    }

    /// Adds COMMAND DOCS data: version introduced, summary, argument syntax.
    pub const fn doc(
        mut self,
        since: &'static str,
        summary: &'static str,
        syntax: &'static str,
    ) -> Self {
        self.since = since;
        self.summary = summary;
        self.syntax = syntax;
        self
    }

    /// Attaches subcommands (their names are `parent|sub`).
    pub const fn subs(mut self, subcommands: &'static [CommandSpec]) -> Self {
        self.subcommands = subcommands;
        self
    }

    /// The arity check Redis applies before running a command.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a >= 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }

    #[inline]
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Key argument indexes for a concrete argv, from (first, last, step).
    pub fn key_indexes(&self, argc: usize) -> impl Iterator<Item = usize> {
        let first = self.first_key.max(0) as usize;
        let last = if self.last_key < 0 {
            argc as i64 + self.last_key as i64
        } else {
            self.last_key as i64
        };
        let step = self.step.max(1) as usize;
        let end = if first == 0 {
            0
        } else {
            (last.max(0) as usize + 1).min(argc)
        };
        (first..end.max(first)).step_by(step)
    }
}

/// All top-level commands, family by family.
fn families() -> impl Iterator<Item = &'static CommandSpec> {
    [
        crate::commands::connection::COMMANDS,
        crate::commands::server::COMMANDS,
        crate::commands::string::COMMANDS,
        crate::commands::bitmap::COMMANDS,
        crate::commands::hyperloglog::COMMANDS,
        crate::commands::keys::COMMANDS,
        crate::commands::debug::COMMANDS,
        crate::commands::list::COMMANDS,
        crate::commands::hash::COMMANDS,
        crate::commands::set::COMMANDS,
        crate::commands::sort::COMMANDS,
        crate::commands::zset::COMMANDS,
        crate::commands::geo::COMMANDS,
        crate::commands::stream::COMMANDS,
        crate::commands::transaction::COMMANDS,
        crate::commands::persistence::COMMANDS,
        crate::commands::cluster::COMMANDS,
        crate::commands::pubsub::COMMANDS,
        crate::commands::memory::COMMANDS,
        crate::commands::scripting::COMMANDS,
        crate::commands::ops::COMMANDS,
        crate::commands::rdb::COMMANDS,
        crate::commands::migrate::COMMANDS,
        crate::commands::functions::COMMANDS,
        crate::commands::acl::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

pub mod acl;
pub mod bitmap;
pub mod cluster;
pub mod connection;
pub mod debug;
pub mod docs;
pub mod functions;
pub mod geo;
pub mod geohash;
pub mod hash;
pub mod hyperloglog;
pub mod info;
pub mod keys;
pub mod list;
pub mod memory;
pub mod migrate;
pub mod ops;
pub mod persistence;
pub mod pubsub;
pub mod rdb;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod transaction;
pub mod zset;

/// Lookup table from name to spec, built once: open addressing over a
/// power-of-two array, hashed from the length and the first eight bytes
/// lower-cased as one word (SWAR, no per-byte calls); a name of up to
/// eight bytes is then checked by one word compare, a longer one by a
/// case-insensitive compare of the rest. The table is fixed at start-up
/// and never grows from client input, so an unkeyed hash cannot be
/// flooded; a miss ends at the first empty slot (the table is at most a
/// quarter full). std's HashMap with FNV cost ~160 instructions per
/// command, this ~50.
/// A `NameIndex` entry: (lower-cased head word, spec, command id).
type NameSlot = (u64, &'static CommandSpec, CmdId);

pub struct NameIndex {
    slots: Box<[Option<NameSlot>]>,
    mask: usize,
}

impl NameIndex {
    fn new(specs: &[(&'static CommandSpec, CmdId)]) -> NameIndex {
        let size = (specs.len() * 4).next_power_of_two().max(16);
        let mut idx = NameIndex {
            slots: vec![None; size].into_boxed_slice(),
            mask: size - 1,
        };
        for &(spec, id) in specs {
            let word = Self::word(spec.name.as_bytes());
            let mut i = Self::hash(word, spec.name.len()) & idx.mask;
            while idx.slots[i].is_some() {
                i = (i + 1) & idx.mask;
            }
            idx.slots[i] = Some((word, spec, id));
        }
        idx
    }

    /// The first eight bytes (zero-padded), ASCII upper case folded to
    /// lower case in all eight lanes at once.
    #[inline(always)]
    fn word(name: &[u8]) -> u64 {
        let mut w = 0u64;
        for (i, &b) in name.iter().take(8).enumerate() {
            w |= u64::from(b) << (8 * i);
        }
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let low = w & LOW7;
        // A lane's high bit is set when its 7-bit value is >= 'A' (0x41)
        // / > 'Z' (0x5a); no carry crosses lanes (at most 0x7f + 0x3f).
        let ge_a = low + 0x3f3f_3f3f_3f3f_3f3f;
        let gt_z = low + 0x2525_2525_2525_2525;
        let upper = ge_a & !gt_z & !w & HIGH;
        w | (upper >> 2)
    }

    #[inline(always)]
    fn hash(word: u64, len: usize) -> usize {
        ((word ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize
    }

    #[inline(always)]
    fn get(&self, name: &[u8]) -> Option<(&'static CommandSpec, CmdId)> {
        let word = Self::word(name);
        let mut i = Self::hash(word, name.len()) & self.mask;
        loop {
            let (w, spec, id) = self.slots[i]?;
            if w == word
                && spec.name.len() == name.len()
                && (name.len() <= 8 || spec.name.as_bytes()[8..].eq_ignore_ascii_case(&name[8..]))
            {
                return Some((spec, id));
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// A command's dense id: every command and subcommand of the table in
/// table order, a container followed by its subcommands (the ACL's command
/// bit and the index of a user's dispatch plan, `acl::registry`).
/// Resolving a name yields it, so the ACL check needs no lookup of its own.
pub type CmdId = u32;

pub struct Table {
    by_name: NameIndex,
    pub all: Vec<&'static CommandSpec>,
    /// Id of each of `all` (its subcommands follow it).
    pub ids: Vec<CmdId>,
}

/// The command table.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let all: Vec<&'static CommandSpec> = families().collect();
        let mut ids = Vec::with_capacity(all.len());
        let mut next = 0;
        for spec in &all {
            ids.push(next);
            next += 1 + spec.subcommands.len() as CmdId;
        }
        let pairs: Vec<_> = all.iter().copied().zip(ids.iter().copied()).collect();
        Table {
            by_name: NameIndex::new(&pairs),
            all,
            ids,
        }
    })
}

impl Table {
    /// Case-insensitive lookup of a top-level command by the name clients
    /// use (after `rename-command`).
    #[inline]
    pub fn lookup(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.lookup_id(name).map(|(spec, _)| spec)
    }

    /// `lookup`, with the command's id.
    #[inline]
    pub fn lookup_id(&self, name: &[u8]) -> Option<(&'static CommandSpec, CmdId)> {
        let Some(renamed) = RENAMED.get() else {
            return self.by_name.get(name);
        };
        renamed.get(&name.to_ascii_lowercase()).copied()
    }

    /// Lookup by the command's own name, whatever `rename-command` did
    /// (the ACL works on original names, as Redis's orig_commands).
    #[inline(always)]
    pub fn lookup_original(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.by_name.get(name).map(|(spec, _)| spec)
    }
}

/// Dispatch names after `rename-command` (None: no command was renamed).
static RENAMED: OnceLock<HashMap<Vec<u8>, (&'static CommandSpec, CmdId)>> = OnceLock::new();

/// Applies the `rename-command old new` directives (`new` empty: the
/// command is gone) to dispatch, once at start-up, with Redis's errors.
/// Only top-level commands can be renamed, as in Redis.
pub fn install_renames(pairs: &[(String, String)]) -> Result<(), String> {
    if pairs.is_empty() {
        return Ok(());
    }
    let t = table();
    let mut m: HashMap<Vec<u8>, (&'static CommandSpec, CmdId)> = t
        .all
        .iter()
        .zip(&t.ids)
        .map(|(spec, &id)| (spec.name.as_bytes().to_vec(), (*spec, id)))
        .collect();
    for (from, to) in pairs {
        let Some(spec) = m.remove(from.to_ascii_lowercase().as_bytes()) else {
            return Err("No such command in rename-command".to_string());
        };
        if !to.is_empty() {
            let to = to.to_ascii_lowercase().into_bytes();
            if m.contains_key(&to) {
                return Err("Target command name already exists".to_string());
            }
            m.insert(to, spec);
        }
    }
    let _ = RENAMED.set(m);
    Ok(())
}

/// Finds a subcommand of `parent` by name (case-insensitive).
pub fn lookup_sub(parent: &'static CommandSpec, sub: &[u8]) -> Option<&'static CommandSpec> {
    lookup_sub_index(parent, sub).map(|i| &parent.subcommands[i])
}

/// Index of a subcommand in `parent.subcommands` (its id is the parent's
/// + 1 + this index).
fn lookup_sub_index(parent: &'static CommandSpec, sub: &[u8]) -> Option<usize> {
    let plen = parent.name.len() + 1;
    parent
        .subcommands
        .iter()
        .position(|s| s.name.len() > plen && s.name.as_bytes()[plen..].eq_ignore_ascii_case(sub))
}

/// The one key extractor: the argv indexes of the keys a concrete command
/// names, in argument order. Cluster routing (and later ACL key patterns,
/// scripts' declared keys, tracking) read keys through this function only.
/// Fixed positions come from the row's (first, last, step); commands whose
/// keys move (a `numkeys` argument: LMPOP, BLMPOP, ZUNIONSTORE, EVAL...) use
/// the key specs derived from the row's syntax ([`docs::keys_of`]).
pub fn command_keys(
    spec: &'static CommandSpec,
    args: &Args,
    out: &mut Vec<usize>,
) -> Result<(), docs::BadKeyArgs> {
    out.clear();
    // Keyword-located keys (XREAD ... STREAMS k1 k2 id1 id2, MIGRATE's
    // KEYS, whose key spec is incomplete).
    if let Some(f) = spec.keys_fn
        && (spec.first_key == 0 || spec.name == "migrate")
    {
        let argv: Vec<&[u8]> = args.iter().collect();
        out.extend(f(&argv).into_iter().map(|(i, _)| i));
        return Ok(());
    }
    if spec.first_key > 0 && spec.subcommands.is_empty() && !docs::docs_for(spec).movablekeys {
        out.extend(spec.key_indexes(args.len()));
        return Ok(());
    }
    let d = docs::docs_for(spec);
    if d.key_specs.is_empty() {
        return Ok(());
    }
    let argv: Vec<&[u8]> = args.iter().collect();
    let mut found = docs::keys_of(d, &argv)?;
    found.sort_unstable_by_key(|&(i, _)| i);
    found.dedup_by_key(|&mut (i, _)| i);
    out.extend(found.into_iter().map(|(i, _)| i));
    Ok(())
}

/// Redis's text for an unknown command: the name and the first arguments,
/// quoted, bounded to about 128 bytes.
pub fn unknown_command_error(args: &Args) -> String {
    let mut tail = String::new();
    for a in args.iter().skip(1) {
        if tail.len() >= 128 {
            break;
        }
        let room = 128 - tail.len();
        let shown = &a[..a.len().min(room)];
        tail.push('\'');
        tail.push_str(&sanitize(shown));
        tail.push_str("' ");
    }
    let name = args.get(0).unwrap_or(b"");
    let name = &name[..name.len().min(128)];
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        sanitize(name),
        tail
    )
}

/// Lossy text for error messages: newlines become spaces.
fn sanitize(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// Resolves argv to a runnable spec (following subcommands), or the error
/// Redis gives for an unknown command, unknown subcommand or wrong arity.
pub fn resolve(args: &Args) -> Result<&'static CommandSpec, CmdError> {
    resolve_id(args).map(|(spec, _)| spec)
}

/// `resolve`, with the command's id (see [`CmdId`]).
#[inline]
pub fn resolve_id(args: &Args) -> Result<(&'static CommandSpec, CmdId), CmdError> {
    let name = args.get(0).unwrap_or(b"");
    let Some((spec, id)) = table().lookup_id(name) else {
        return Err(CmdError::Custom(unknown_command_error(args)));
    };
    if spec.subcommands.is_empty() {
        if !spec.arity_ok(args.len()) {
            return Err(CmdError::WrongArity(spec.name));
        }
        return Ok((spec, id));
    }
    // A container command: its own arity is checked, then the subcommand's.
    // Some run without a subcommand (bare COMMAND, arity -1).
    if args.len() < 2 {
        if spec.arity_ok(args.len()) {
            return Ok((spec, id));
        }
        return Err(CmdError::WrongArity(spec.name));
    }
    match lookup_sub_index(spec, &args[1]) {
        Some(i) => {
            let sub = &spec.subcommands[i];
            if !sub.arity_ok(args.len()) {
                return Err(CmdError::WrongArity(sub.name));
            }
            Ok((sub, id + 1 + i as CmdId))
        }
        None => Err(CmdError::Custom(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            sanitize(&args[1][..args[1].len().min(128)]),
            spec.name.to_ascii_uppercase()
        ))),
    }
}

/// Runs one command for `client`: resolve, check, call, and turn a handler
/// error into an error reply. Returns the spec that ran (None if rejected).
#[inline]
pub fn execute(srv: &mut Server, client: &mut Client, args: &Args) -> Option<&'static CommandSpec> {
    // A command refused or queued does not read the clock: the next one
    // must not count the time it took (`ops::Batch`).
    let mark = crate::ops::clock_mark();
    let out = dispatch(srv, client, args);
    crate::ops::clock_settle(mark);
    out
}

/// A command `resolve` refused: the cluster handshake, or the error reply.
/// Out of line, taking the error by value, so the dispatch path has no
/// drop of it.
#[cold]
#[inline(never)]
fn unresolved(
    srv: &mut Server,
    client: &mut Client,
    args: &Args,
    e: CmdError,
) -> Option<&'static CommandSpec> {
    // The cluster handshake is not a table command (not listed by
    // COMMAND, never propagated).
    if client.authenticated
        && args
            .get(0)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"memkv.hello"))
    {
        crate::cluster::route::hello(srv, client, args);
        return None;
    }
    // An arity error names a known command: its rejected_calls.
    let known = match &e {
        CmdError::WrongArity(_) => args.get(0).and_then(|n| table().lookup(n)).map(|t| {
            args.get(1)
                .filter(|_| !t.subcommands.is_empty())
                .and_then(|s| lookup_sub(t, s))
                .unwrap_or(t)
        }),
        _ => None,
    };
    reject(srv, client, known, args, &e.to_string())
}

fn dispatch(srv: &mut Server, client: &mut Client, args: &Args) -> Option<&'static CommandSpec> {
    if client.peer
        && args
            .get(0)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"memkv.relay"))
    {
        crate::cluster::route::serve_relay(srv, client, args);
        return None;
    }
    // The two-phase commit's messages (peer connections only).
    if client.peer && crate::cluster::tx::serve(srv, client, args) {
        return None;
    }
    // Membership change: the hand-over's messages (peer connections only).
    if client.peer && crate::cluster::handover::serve(srv, client, args) {
        return None;
    }
    // PUBSUB NUMPAT's pattern list (peer connections only).
    if client.peer && crate::cluster::pubsub::serve(srv, client, args) {
        return None;
    }
    let (spec, id) = match resolve_id(args) {
        Ok(s) => s,
        Err(e) => return unresolved(srv, client, args, e),
    };
    if !client.authenticated && !spec.has(flags::NO_AUTH) {
        return reject(
            srv,
            client,
            Some(spec),
            args,
            "NOAUTH Authentication required.",
        );
    }
    // A MONITOR client is a replica to Redis: no keyspace access.
    if client.monitor && spec.has(flags::WRITE | flags::READONLY | flags::MAY_REPLICATE) {
        let msg = "ERR Replica can't interact with the keyspace";
        return reject(srv, client, Some(spec), args, msg);
    }
    // ACL: one load and branch for a user allowed everything (default);
    // then the user's plan (most allowed commands end there), and only
    // then the exemptions and the full check.
    let user = srv.acl.user(client.user);
    if !user.unrestricted
        && !user.plan_allows(id, args)
        && !client.is_internal()
        && !client.peer
        && let Err(d) = user.check_unplanned(id, spec, args)
    {
        // The ACL LOG's client info names the command (Redis sets c->cmd
        // before the check); `call` sets it for commands that run.
        client.last_cmd = spec.name;
        let ctx = if client.multi.is_some() {
            crate::acl::LogContext::Multi
        } else {
            crate::acl::LogContext::Toplevel
        };
        crate::acl::log_denial(srv, client, d, ctx, spec, args);
        return reject(srv, client, Some(spec), args, &d.error(spec));
    }
    if srv.loading.is_some() && !spec.has(flags::LOADING) && !client.is_internal() {
        let msg = "LOADING Redis is loading the dataset in memory";
        return reject(srv, client, Some(spec), args, msg);
    }
    if let Some(msg) = crate::scripting::busy::reject(srv, spec) {
        return reject(srv, client, Some(spec), args, msg);
    }
    if spec.has(flags::WRITE)
        && let Some(aof) = &srv.aof
        && aof.write_error.is_some()
        && let Some(e) = aof.misconf()
    {
        return reject(srv, client, Some(spec), args, &e);
    }
    if spec.has(flags::WRITE)
        && let Some(e) = srv.rdb.misconf(&srv.config)
    {
        return reject(srv, client, Some(spec), args, e);
    }
    if let Some(e) = crate::pubsub::subscribed_mode_error(client, spec) {
        return reject(srv, client, Some(spec), args, &e);
    }
    // maxmemory: evict, or refuse a command that could grow memory.
    if srv.store.evict.maxmemory != 0 && crate::memory::must_refuse(srv, client, spec, args) {
        return reject(srv, client, Some(spec), args, crate::memory::OOM_ERROR);
    }
    // CLIENT PAUSE: one Option check when there is none.
    if srv.pause.is_some() && srv.postpone_if_paused(client, spec) {
        return Some(spec);
    }
    // The disk is behind: writes wait for the AOF writer.
    if srv.aof.is_some() && crate::aof::postpone_if_lagging(srv, client, spec) {
        return Some(spec);
    }
    // A rewrite or BGSAVE walk still owes a big value this write touches:
    // wait while the walk writes it in slices.
    if srv.store.snapshot_active()
        && crate::server::snapshot_wait::postpone(srv, client, spec, args)
    {
        return Some(spec);
    }
    // Pub/Sub in a cluster: PUBLISH reaches every node's subscribers and
    // PUBSUB introspection covers every node (`cluster::pubsub`);
    // subscriptions are served by the node the client talks to.
    if spec.has(flags::PUBSUB)
        && client.multi.is_none()
        && !client.peer
        && !client.is_internal()
        && srv.cluster.as_ref().is_some_and(|t| t.members.len() > 1)
        && crate::cluster::pubsub::route(srv, client, spec, args)
    {
        return Some(spec);
    }
    // Cluster routing: one Option check when there is no cluster.
    if let Some(topo) = srv.cluster.as_ref()
        && topo.members.len() > 1
        && !client.is_internal()
        && !spec.has(flags::PUBSUB)
    {
        // A key locked by a cross-node transaction: wait (parked) for it.
        if !topo.locks.is_empty() && crate::cluster::tx::must_wait(srv, client, spec, args) {
            return Some(spec);
        }
        // A key of ours a peer may still hold (membership change): pull it
        // first (parked).
        if srv.cluster.as_ref().is_some_and(|t| t.handover.active)
            && crate::cluster::handover::must_pull(srv, client, spec, args)
        {
            return Some(spec);
        }
        if client.peer {
            // A relayed request is never relayed again.
            if let Some(e) = crate::cluster::route::foreign_key(srv, spec, args) {
                return reject(srv, client, Some(spec), args, &e);
            }
        } else if (client.multi.is_none() || transaction::runs_inside_multi(spec))
            && crate::cluster::route::route(srv, client, spec, args)
        {
            return Some(spec);
        }
    }
    if let Some(m) = client.multi.as_mut()
        && !transaction::runs_inside_multi(spec)
    {
        // Like Redis, an aborted transaction keeps nothing more (EXEC
        // will refuse it anyway).
        if !m.aborted {
            let owned = args.to_owned_args();
            m.bytes += owned.mem();
            m.argv_len_sums += args.iter().map(|a| a.len() + 8).sum::<usize>();
            m.queue.push((spec, owned));
        }
        client.reply.simple("QUEUED");
        return Some(spec);
    }
    // The reply holds any error: only its drop is left, kept off the Ok
    // path (a `let _ =` called the drop glue for every command).
    if let Err(e) = call(srv, client, spec, args) {
        drop(e);
    }
    Some(spec)
}

/// Refuses a command before it runs; inside MULTI this also dooms the
/// transaction (EXEC will answer EXECABORT), as in Redis.
fn reject(
    srv: &mut Server,
    client: &mut Client,
    spec: Option<&'static CommandSpec>,
    args: &Args,
    msg: &str,
) -> Option<&'static CommandSpec> {
    srv.stats.rejected_calls += 1;
    let out = reject_reply(srv, client, args, msg);
    crate::ops::rejected(srv, spec);
    out
}

fn reject_reply(
    srv: &mut Server,
    client: &mut Client,
    args: &Args,
    msg: &str,
) -> Option<&'static CommandSpec> {
    if args.get(0).is_some_and(|n| n.eq_ignore_ascii_case(b"exec")) {
        // A rejected EXEC ends the transaction (Redis's execCommandAbort,
        // with or without MULTI: e.g. in RESP2 subscribed mode).
        transaction::reset_transaction(srv, client);
        let reason = msg.strip_prefix("ERR ").unwrap_or(msg);
        client.reply.error(&format!(
            "EXECABORT Transaction discarded because of: {reason}"
        ));
        return None;
    }
    if let Some(m) = client.multi.as_mut() {
        m.aborted = true;
    }
    client.reply.error(msg);
    None
}

/// Calls a resolved command's handler; the reply is written by the handler,
/// or replaced by the error it returns.
#[inline]
pub fn call(
    srv: &mut Server,
    client: &mut Client,
    spec: &'static CommandSpec,
    args: &Args,
) -> CmdResult {
    let mark = client.reply.len();
    // One clock reading serves the store's "now" and the command's start
    // (Redis's ustime() in call()); in a pipelined batch it is the previous
    // command's end (`ops::Batch`).
    let started = crate::ops::call_started();
    // A transaction runs at one instant: keys cannot expire half-way.
    if !client.in_exec {
        srv.store.set_now(started / 1000);
    }
    client.last_cmd = spec.name;
    // CLIENT NO-TOUCH: lookups leave the access clock alone (TOUCH still
    // touches); handlers of TYPE, TTL, EXISTS and OBJECT set it too.
    srv.store.evict.no_touch = client.no_touch && spec.name != "touch";
    // Before `last_touch` goes: the key the last command wrote may have
    // started an index migration the cron should finish if it goes idle.
    srv.store.note_migrations();
    srv.store.evict.last_touch = None;
    let dirty = srv.store.dirty;
    crate::ops::mark_errors();
    if !srv.ops.monitors.is_empty() {
        crate::ops::before_call(srv, client, spec, args);
    }
    let res = call_contained(srv, client, spec, args);
    // Counted after running, as Redis does (INFO does not count itself).
    srv.stats.commands_processed += 1;
    match &res {
        Err(e) => {
            srv.stats.failed_calls += 1;
            client.reply.truncate(mark);
            client.reply.error(&e.to_string());
            srv.store.prop.clear_replacement();
            crate::pubsub::notify::failed(srv, client, mark);
        }
        // What executed and changed something goes to the AOF.
        Ok(()) if srv.store.prop.enabled && srv.store.dirty != dirty && spec.has(flags::WRITE) => {
            srv.store.prop.command(client.db, args);
        }
        Ok(()) => srv.store.prop.clear_replacement(),
    }
    if res.is_ok() && crate::pubsub::notify::pending(srv) {
        crate::pubsub::notify::after_call(srv, client, spec, args, mark);
    }
    crate::ops::after_call(srv, client, spec, args, started);
    res
}

/// Runs the handler; a panic in it (a bug: no handler should panic) costs
/// this one command `-ERR internal error`, logged with the command name,
/// instead of the process and every key in memory. Effects the command made
/// before panicking stay, except inside a rolled-back transaction (EXEC
/// sees a failed command). Free on the normal path: unwinding only costs
/// when a panic happens.
#[inline]
fn call_contained(
    srv: &mut Server,
    client: &mut Client,
    spec: &'static CommandSpec,
    args: &Args,
) -> CmdResult {
    let run = std::panic::AssertUnwindSafe(|| (spec.handler)(srv, client, args));
    match std::panic::catch_unwind(run) {
        Ok(res) => res,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            log::error!(
                "Internal error in '{}' from client id={}: {what}; answered -ERR internal error",
                spec.name,
                client.id
            );
            Err(CmdError::Static("ERR internal error"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_sane() {
        let mut seen = std::collections::HashSet::new();
        for spec in families() {
            assert!(seen.insert(spec.name), "duplicate {}", spec.name);
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(spec.arity != 0, "{}", spec.name);
            for sub in spec.subcommands {
                assert!(
                    sub.name.starts_with(&format!("{}|", spec.name)),
                    "{}",
                    sub.name
                );
            }
        }
    }

    fn keys_for(argv: &[&str]) -> Result<Vec<String>, docs::BadKeyArgs> {
        let owned = OwnedArgs::from_slices(argv.iter().map(|a| a.as_bytes()));
        let args = owned.as_args();
        let spec = resolve(&args).expect("known command");
        let mut out = Vec::new();
        command_keys(spec, &args, &mut out)?;
        Ok(out.iter().map(|&i| argv[i].to_string()).collect())
    }

    #[test]
    fn key_extractor_covers_fixed_ranges_and_numkeys() {
        assert_eq!(keys_for(&["get", "a"]).unwrap(), ["a"]);
        assert_eq!(keys_for(&["mset", "a", "1", "b", "2"]).unwrap(), ["a", "b"]);
        assert_eq!(keys_for(&["del", "a", "b", "c"]).unwrap(), ["a", "b", "c"]);
        assert_eq!(keys_for(&["blpop", "a", "b", "0"]).unwrap(), ["a", "b"]);
        assert_eq!(
            keys_for(&["lmove", "s", "d", "LEFT", "RIGHT"]).unwrap(),
            ["s", "d"]
        );
        assert_eq!(
            keys_for(&["lmpop", "2", "x", "y", "LEFT"]).unwrap(),
            ["x", "y"]
        );
        assert_eq!(
            keys_for(&["blmpop", "0", "1", "x", "LEFT", "COUNT", "2"]).unwrap(),
            ["x"]
        );
        // numkeys larger than what follows: Redis's "Invalid arguments".
        assert!(keys_for(&["lmpop", "5", "x", "LEFT"]).is_err());
        assert!(keys_for(&["ping"]).unwrap().is_empty());
        assert!(keys_for(&["dbsize"]).unwrap().is_empty());
    }

    #[test]
    fn lookup_is_case_insensitive() {
        // The word folding is to_ascii_lowercase in every lane.
        for b in 0..=255u8 {
            for lane in 0..8 {
                let mut name = [b'x'; 8];
                name[lane] = b;
                let want = u64::from_le_bytes(name.map(|c| c.to_ascii_lowercase()));
                assert_eq!(NameIndex::word(&name), want, "{b} in lane {lane}");
            }
        }
        assert!(table().lookup(b"GeT").is_some());
        assert!(table().lookup(b"nosuchcommand").is_none());
        // Every name, in any case, finds its own spec (names sharing their
        // first eight bytes, such as zrangebyscore / zrangebylex, too);
        // the folding's neighbours and near misses find nothing.
        for spec in &table().all {
            let upper = spec.name.to_ascii_uppercase();
            for n in [spec.name.as_bytes(), upper.as_bytes()] {
                assert!(
                    std::ptr::eq(table().lookup(n).unwrap(), *spec),
                    "{}",
                    spec.name
                );
            }
            let mut longer = spec.name.as_bytes().to_vec();
            longer.push(b'#');
            assert!(table().lookup(&longer).is_none(), "{}", spec.name);
        }
        for n in [
            &b""[..],
            b"g\x05t",
            b"GE",
            b"@et",
            b"get\0",
            b"G\xc5T",
            b"\xc7ET",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
            b"ZRANGEBYSCORe_",
            b"zrangebyscorf",
        ] {
            assert!(table().lookup(n).is_none());
        }
    }
}
