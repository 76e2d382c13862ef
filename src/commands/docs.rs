//! Command metadata derived from the command table: the COMMAND DOCS argument
//! tree parsed from each [`CommandSpec::syntax`] string, and the Redis 7 key
//! specs (COMMAND INFO, COMMAND GETKEYS) derived from the legacy
//! (first, last, step) triple plus a `numkeys` argument in the syntax.
//!
//! The syntax notation is the Redis command reference's: `[...]` optional,
//! `<a | b>` one of, `x [x ...]` repetition, UPPER-case words are tokens,
//! lower-case words are arguments whose type is inferred from their name.
//! Everything is parsed once and cached ([`docs_for`]).

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{CommandSpec, flags, table};
use crate::resp::Reply;

/// An argument type as COMMAND DOCS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    Key,
    String,
    Integer,
    Double,
    Pattern,
    UnixTime,
    PureToken,
    OneOf,
    Block,
}

impl ArgType {
    pub fn name(self) -> &'static str {
        match self {
            ArgType::Key => "key",
            ArgType::String => "string",
            ArgType::Integer => "integer",
            ArgType::Double => "double",
            ArgType::Pattern => "pattern",
            ArgType::UnixTime => "unix-time",
            ArgType::PureToken => "pure-token",
            ArgType::OneOf => "oneof",
            ArgType::Block => "block",
        }
    }
}

/// Argument flags (COMMAND DOCS `flags`).
pub const OPTIONAL: u8 = 1;
pub const MULTIPLE: u8 = 2;
pub const MULTIPLE_TOKEN: u8 = 4;

/// One node of the COMMAND DOCS argument tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: String,
    pub kind: ArgType,
    pub token: Option<String>,
    pub flags: u8,
    pub key_spec_index: Option<usize>,
    /// Children of a oneof or block.
    pub args: Vec<Arg>,
}

impl Arg {
    fn new(name: &str, kind: ArgType) -> Arg {
        Arg {
            name: name.to_string(),
            kind,
            token: None,
            flags: 0,
            key_spec_index: None,
            args: Vec::new(),
        }
    }

    fn pure_token(tok: &str) -> Arg {
        let name = match tok {
            "\"\"" => "empty_string".to_string(),
            "*" => "auto_id".to_string(),
            "$" => "new_id".to_string(),
            "=" => "equal".to_string(),
            "~" => "approximately".to_string(),
            t => t.to_ascii_lowercase(),
        };
        let mut a = Arg::new(&name, ArgType::PureToken);
        a.token = Some(if tok == "\"\"" {
            String::new()
        } else {
            tok.to_string()
        });
        a
    }

    /// A bare pure token (no flags): the first word of `TOKEN value`.
    fn is_plain_token(&self) -> bool {
        self.kind == ArgType::PureToken && self.flags == 0
    }
}

/// Where a key spec starts looking for keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys from the begin index up to `lastkey` (relative; negative counts
    /// from the end), every `keystep`.
    Range { lastkey: i64, keystep: i64 },
    /// The argument at begin+`keynumidx` holds the number of keys, which
    /// start at begin+`firstkey`.
    Keynum {
        keynumidx: i64,
        firstkey: i64,
        keystep: i64,
    },
}

/// A Redis 7 key spec (begin_search is always `index`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub flags: &'static [&'static str],
    pub begin_index: i64,
    /// begin_search `keyword` (keyword, startfrom) instead of `index`.
    pub keyword: Option<(&'static str, i64)>,
    pub find: FindKeys,
}

/// Everything derived for one command (or subcommand).
#[derive(Debug, Clone, Default)]
pub struct CommandDocs {
    pub args: Vec<Arg>,
    pub key_specs: Vec<KeySpec>,
    /// Key positions depend on the arguments (a `numkeys` argument):
    /// COMMAND INFO shows the `movablekeys` flag.
    pub movablekeys: bool,
    /// With zero keys the command is still valid (`EVAL s 0`).
    pub keys_optional: bool,
}

/// Cached docs for a command by full name (`get`, `config|get`).
pub fn docs_for(spec: &CommandSpec) -> &'static CommandDocs {
    static CACHE: OnceLock<HashMap<&'static str, CommandDocs>> = OnceLock::new();
    static EMPTY: OnceLock<CommandDocs> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        let mut m = HashMap::new();
        for top in &table().all {
            m.insert(top.name, derive(top));
            for sub in top.subcommands {
                m.insert(sub.name, derive(sub));
            }
        }
        m
    });
    cache
        .get(spec.name)
        .unwrap_or_else(|| EMPTY.get_or_init(CommandDocs::default))
}

/// Parses a spec's syntax and derives its key specs.
pub fn derive(spec: &CommandSpec) -> CommandDocs {
    let ctx = Ctx {
        command: spec.name,
        blocking: spec.has(flags::BLOCKING),
    };
    let mut args = parse_syntax(spec.syntax, &ctx);
    let mut key_specs = Vec::new();
    let base_name = spec.name.split('|').next().unwrap_or(spec.name);
    if spec.first_key > 0 && spec.last_key > spec.first_key && base_name != "lcs" {
        // A fixed set of distinct keys (RENAME key newkey, LMOVE source
        // destination): Redis has one spec per key.
        let mut pos = spec.first_key;
        while pos <= spec.last_key {
            key_specs.push(KeySpec {
                flags: key_flags_nth(spec, key_specs.len()),
                begin_index: pos as i64,
                keyword: None,
                find: FindKeys::Range {
                    lastkey: 0,
                    keystep: 1,
                },
            });
            pos += spec.step.max(1);
        }
    } else if spec.first_key > 0 {
        let lastkey = if spec.last_key >= 0 {
            (spec.last_key - spec.first_key) as i64
        } else {
            spec.last_key as i64
        };
        key_specs.push(KeySpec {
            flags: key_flags_nth(spec, 0),
            begin_index: spec.first_key as i64,
            keyword: None,
            find: FindKeys::Range {
                lastkey,
                keystep: spec.step.max(1) as i64,
            },
        });
    }
    let n_range = key_specs.len();
    let range_spec = if key_specs.is_empty() { None } else { Some(0) };
    let mut keynum_spec = None;
    let mut keys_optional = false;
    if let Some(pos) = numkeys_position(&args) {
        // argv index of numkeys: the command name is argv[0]; a container's
        // subcommand name takes one more slot.
        let base = if spec.name.contains('|') { 2 } else { 1 };
        if args.get(pos + 1).is_some_and(|a| a.kind == ArgType::Key) {
            keys_optional = args[pos + 1].flags & OPTIONAL != 0;
            keynum_spec = Some(key_specs.len());
            key_specs.push(KeySpec {
                flags: key_flags_nth(spec, key_specs.len()),
                begin_index: (base + pos) as i64,
                keyword: None,
                find: FindKeys::Keynum {
                    keynumidx: 0,
                    firstkey: 1,
                    keystep: 1,
                },
            });
        }
    }
    for a in args.iter_mut() {
        assign_key_specs(a, range_spec.or(keynum_spec));
    }
    // With one spec per key, the n-th top-level key argument uses the n-th.
    if n_range > 1 {
        let keys = args.iter_mut().filter(|a| a.kind == ArgType::Key);
        for (n, a) in keys.enumerate() {
            a.key_spec_index = Some(n.min(n_range - 1));
        }
    }
    // Top-level keys after `numkeys` belong to the keynum spec.
    if let (Some(pos), Some(k)) = (numkeys_position(&args), keynum_spec) {
        for a in args.iter_mut().skip(pos + 1) {
            assign_key_specs(a, Some(k));
        }
    }
    if base_name == "migrate" {
        // The keys after KEYS: a keyword spec (Redis marks it incomplete:
        // the keyword could be an AUTH password).
        key_specs.push(KeySpec {
            flags: key_flags_nth(spec, key_specs.len()),
            begin_index: 0,
            keyword: Some(("KEYS", -2)),
            find: FindKeys::Range {
                lastkey: -1,
                keystep: 1,
            },
        });
        if let Some(a) = args.last_mut() {
            assign_key_specs(a, Some(key_specs.len() - 1));
        }
    }
    CommandDocs {
        args,
        movablekeys: keynum_spec.is_some() || spec.keys_fn.is_some(),
        keys_optional,
        key_specs,
    }
}

/// Sets key_spec_index on every key-type argument in the subtree.
fn assign_key_specs(a: &mut Arg, idx: Option<usize>) {
    if a.kind == ArgType::Key {
        a.key_spec_index = idx;
    }
    for c in &mut a.args {
        assign_key_specs(c, idx);
    }
}

/// Index of a top-level `numkeys` argument whose argv position is fixed:
/// every argument before it is a required single word.
fn numkeys_position(args: &[Arg]) -> Option<usize> {
    let pos = args.iter().position(|a| a.name == "numkeys")?;
    let fixed = args[..pos].iter().all(|a| {
        a.flags == 0 && a.token.is_none() && !matches!(a.kind, ArgType::Block | ArgType::OneOf)
    });
    fixed.then_some(pos)
}

/// Key spec flags per key (Redis keeps them per command in its JSON
/// files): entry n applies to the n-th key spec and to the n-th key a
/// command names (the last entry to all further ones). The ACL reads the
/// same flags for `%R~` / `%W~` ([`acl_key_perm`]).
fn key_flags(spec: &CommandSpec) -> &'static [&'static [&'static str]] {
    let name = spec.name;
    match name {
        "set" => &[&["RW", "access", "update", "variable_flags"]],
        "setnx" | "msetnx" => &[&["OW", "insert"]],
        "setex" | "psetex" | "mset" => &[&["OW", "update"]],
        "getset" | "getex" | "incr" | "decr" | "incrby" | "decrby" | "incrbyfloat" | "move"
        | "hincrby" | "hincrbyfloat" | "zincrby" | "eval" | "evalsha" => {
            &[&["RW", "access", "update"]]
        }
        "getdel" | "lpop" | "rpop" | "lmpop" | "blpop" | "brpop" | "blmpop" | "spop"
        | "zpopmin" | "zpopmax" | "zmpop" | "bzpopmin" | "bzpopmax" | "bzmpop" => {
            &[&["RW", "access", "delete"]]
        }
        "append" | "lpush" | "rpush" | "lpushx" | "rpushx" | "linsert" | "hsetnx" | "sadd" => {
            &[&["RW", "insert"]]
        }
        "strlen" | "exists" | "type" | "touch" | "object|encoding" | "object|freq"
        | "object|idletime" | "object|refcount" | "llen" | "hlen" | "hstrlen" | "hexists"
        | "scard" | "sismember" | "zcard" | "watch" => &[&["RO"]],
        "del" | "unlink" => &[&["RM", "delete"]],
        "migrate" => &[
            &["RW", "access", "delete"],
            &["RW", "access", "delete", "incomplete"],
        ],
        "rename" => &[&["RW", "access", "delete"], &["OW", "update"]],
        "renamenx" => &[&["RW", "access", "delete"], &["OW", "insert"]],
        "copy" | "georadius" | "georadiusbymember" | "sort" => {
            &[&["RO", "access"], &["OW", "update"]]
        }
        "ltrim" | "lrem" | "hdel" | "srem" | "zrem" | "zremrangebyrank" | "zremrangebyscore"
        | "zremrangebylex" => &[&["RW", "delete"]],
        "lmove" | "rpoplpush" | "blmove" | "brpoplpush" | "smove" => {
            &[&["RW", "access", "delete"], &["RW", "insert"]]
        }
        "sinterstore" => &[&["RW", "update"], &["RO", "access"]],
        "sunionstore" | "sdiffstore" | "zrangestore" | "zunionstore" | "zinterstore"
        | "zdiffstore" | "geosearchstore" => &[&["OW", "update"], &["RO", "access"]],
        // Shard channels: positions for cluster routing, not keys.
        "ssubscribe" | "sunsubscribe" | "spublish" => &[&["not_key"]],
        _ if spec.has(flags::WRITE) => &[&["RW", "update"]],
        _ => &[&["RO", "access"]],
    }
}

/// Flags of the n-th key spec / key.
fn key_flags_nth(spec: &CommandSpec, n: usize) -> &'static [&'static str] {
    let all = key_flags(spec);
    all[n.min(all.len() - 1)]
}

/// Whether a command's "keys" are shard channels (not keys for the ACL).
pub fn keys_are_channels(spec: &CommandSpec) -> bool {
    key_flags(spec)[0] == ["not_key"]
}

/// The ACL permission the n-th key of a command needs: 1 = read (the
/// `access` flag), 2 = write (`insert`, `delete`, `update`), 0 = none
/// (EXISTS, TYPE...: any pattern matches), as Redis's ACLSelectorCheckKey.
pub fn acl_key_perm(spec: &CommandSpec, n: usize) -> u8 {
    let mut perm = 0;
    for f in key_flags_nth(spec, n) {
        match *f {
            "access" => perm |= 1,
            "insert" | "delete" | "update" => perm |= 2,
            _ => {}
        }
    }
    perm
}

/// ACL categories as COMMAND INFO lists them, in Redis's category order:
/// the implicit ones from the flags (@write, @read, @admin + @dangerous,
/// @fast / @slow, @blocking), the group's data-type category, and a few
/// per-command extras Redis declares explicitly.
pub fn acl_categories(spec: &CommandSpec) -> Vec<&'static str> {
    let base = spec.name.split('|').next().unwrap_or(spec.name);
    // Containers (CONFIG, CLIENT...) only get what their flags imply.
    let group_cat = match spec.group {
        _ if !spec.subcommands.is_empty() => None,
        // SORT reads lists, sets and sorted sets, not the keyspace.
        "generic" if !matches!(base, "sort" | "sort_ro") => Some("@keyspace"),
        "string" => Some("@string"),
        "list" => Some("@list"),
        "hash" => Some("@hash"),
        "set" => Some("@set"),
        "sorted-set" => Some("@sortedset"),
        "bitmap" => Some("@bitmap"),
        "hyperloglog" => Some("@hyperloglog"),
        "geo" => Some("@geo"),
        "stream" => Some("@stream"),
        // pubsub: the PUBSUB flag gives @pubsub (PUBSUB HELP has none).
        "connection" => Some("@connection"),
        "transactions" => Some("@transaction"),
        "scripting" => Some("@scripting"),
        _ => None,
    };
    let extra: &[&str] = match base {
        "command" | "asking" | "readonly" | "readwrite" => &["@connection"],
        "info" | "keys" | "migrate" | "restore" => &["@dangerous"],
        "sort" => &["@set", "@sortedset", "@list", "@dangerous"],
        "sort_ro" => &["@set", "@sortedset", "@list", "@dangerous"],
        "dbsize" | "flushdb" | "flushall" => &["@keyspace"],
        "swapdb" => &["@keyspace", "@dangerous"],
        "lastsave" => &["@admin", "@dangerous"],
        _ => &[],
    };
    let mut have: Vec<&'static str> = Vec::new();
    have.extend(group_cat);
    have.extend_from_slice(extra);
    if spec.has(flags::WRITE) {
        have.push("@write");
    }
    if spec.has(flags::READONLY) && spec.group != "scripting" {
        have.push("@read");
    }
    if spec.has(flags::ADMIN) {
        have.push("@admin");
        have.push("@dangerous");
    }
    if spec.has(flags::PUBSUB) {
        have.push("@pubsub");
    }
    if spec.has(flags::FAST) {
        have.push("@fast");
    } else {
        have.push("@slow");
    }
    if spec.has(flags::BLOCKING) {
        have.push("@blocking");
    }
    if matches!(base, "flushdb" | "flushall") {
        have.push("@dangerous");
    }
    const ORDER: &[&str] = &[
        "@keyspace",
        "@read",
        "@write",
        "@set",
        "@sortedset",
        "@list",
        "@hash",
        "@string",
        "@bitmap",
        "@hyperloglog",
        "@geo",
        "@stream",
        "@pubsub",
        "@admin",
        "@fast",
        "@slow",
        "@blocking",
        "@dangerous",
        "@connection",
        "@transaction",
        "@scripting",
    ];
    ORDER.iter().copied().filter(|c| have.contains(c)).collect()
}

/// The same categories as bits (bit i = `acl::CATEGORIES[i]`), for the ACL.
pub fn acl_category_bits(spec: &CommandSpec) -> u32 {
    acl_categories(spec)
        .iter()
        .filter_map(|c| crate::acl::category_bit(c.trim_start_matches('@').as_bytes()))
        .fold(0, |a, b| a | b)
}

/// Context for type inference.
pub struct Ctx<'a> {
    pub command: &'a str,
    pub blocking: bool,
}

// ---------------------------------------------------------------- parsing

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Open,
    Close,
    LAngle,
    RAngle,
    Pipe,
    Ellipsis,
    Word(&'a str),
}

fn tokenize(s: &str) -> Vec<Tok<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'[' => {
                out.push(Tok::Open);
                i += 1;
            }
            b']' => {
                out.push(Tok::Close);
                i += 1;
            }
            b'<' => {
                out.push(Tok::LAngle);
                i += 1;
            }
            b'>' => {
                out.push(Tok::RAngle);
                i += 1;
            }
            b'|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            _ => {
                let start = i;
                while i < b.len()
                    && !matches!(
                        b[i],
                        b' ' | b'\t' | b'\n' | b'\r' | b'[' | b']' | b'<' | b'>' | b'|'
                    )
                {
                    i += 1;
                }
                let w = &s[start..i];
                out.push(if w == "..." {
                    Tok::Ellipsis
                } else {
                    Tok::Word(w)
                });
            }
        }
    }
    out
}

/// The raw syntax tree.
#[derive(Debug, Clone, PartialEq)]
enum Node<'a> {
    Word(&'a str),
    Ellipsis,
    /// `[a | b c]`: alternatives, each a sequence.
    Opt(Vec<Vec<Node<'a>>>),
    /// `<a | b c>`.
    Group(Vec<Vec<Node<'a>>>),
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    /// Alternatives until `close` (or the end: unbalanced input is accepted).
    fn alts(&mut self, close: Option<&Tok<'a>>, depth: usize) -> Vec<Vec<Node<'a>>> {
        let mut alts = vec![Vec::new()];
        while let Some(t) = self.toks.get(self.pos).cloned() {
            self.pos += 1;
            if Some(&t) == close {
                break;
            }
            let cur = alts.last_mut();
            let Some(cur) = cur else { break };
            match t {
                Tok::Word(w) => cur.push(Node::Word(w)),
                Tok::Ellipsis => cur.push(Node::Ellipsis),
                Tok::Pipe => alts.push(Vec::new()),
                Tok::Open if depth < 32 => {
                    let inner = self.alts(Some(&Tok::Close), depth + 1);
                    cur.push(Node::Opt(inner));
                }
                Tok::LAngle if depth < 32 => {
                    let inner = self.alts(Some(&Tok::RAngle), depth + 1);
                    cur.push(Node::Group(inner));
                }
                // Stray closers or too deep nesting: ignored.
                _ => {}
            }
        }
        alts
    }
}

/// Parses a command-reference syntax string into COMMAND DOCS arguments.
pub fn parse_syntax(syntax: &str, ctx: &Ctx) -> Vec<Arg> {
    let mut p = Parser {
        toks: tokenize(syntax),
        pos: 0,
    };
    let alts = p.alts(None, 0);
    if alts.len() == 1 {
        let seq = alts.into_iter().next().unwrap_or_default();
        seq_to_args(&seq, ctx)
    } else {
        // A top-level `a | b` (unusual): one oneof argument.
        vec![alts_to_arg(&alts, ctx)]
    }
}

/// A sequence item after repetition detection.
enum Unit<'n, 'a> {
    One(&'n Node<'a>),
    /// `x y [x y ...]`: the repeated items; `optional` for a lone `[x ...]`.
    Repeat(Vec<Node<'a>>, bool),
}

fn units<'n, 'a>(seq: &'n [Node<'a>]) -> Vec<Unit<'n, 'a>> {
    let mut out: Vec<Unit<'n, 'a>> = Vec::new();
    for node in seq {
        if let Node::Ellipsis = node {
            continue;
        }
        if let Some(body) = repetition_body(node) {
            let k = body.len();
            let matches = k > 0
                && out.len() >= k
                && out[out.len() - k..]
                    .iter()
                    .zip(&body)
                    .all(|(u, b)| matches!(u, Unit::One(n) if *n == b));
            if matches {
                out.truncate(out.len() - k);
                out.push(Unit::Repeat(body, false));
            } else {
                out.push(Unit::Repeat(body, true));
            }
            continue;
        }
        out.push(Unit::One(node));
    }
    out
}

/// For `[x y ...]` (or `[a | b ...]`), the repeated items without the `...`.
fn repetition_body<'a>(node: &Node<'a>) -> Option<Vec<Node<'a>>> {
    let Node::Opt(alts) = node else { return None };
    let last = alts.last()?;
    if last.last() != Some(&Node::Ellipsis) {
        return None;
    }
    if alts.len() == 1 {
        return Some(last[..last.len() - 1].to_vec());
    }
    let mut stripped = alts.clone();
    if let Some(l) = stripped.last_mut() {
        l.pop();
    }
    Some(vec![Node::Group(stripped)])
}

/// For `a | b | c [a | b | c ...]` (the repetition glued to the last
/// choice), the choices without the repetition.
fn repeated_choice<'a>(alts: &[Vec<Node<'a>>]) -> Option<Vec<Vec<Node<'a>>>> {
    let last = alts.last()?;
    let body = repetition_body(last.last()?)?;
    let mut choices = alts.to_vec();
    if let Some(l) = choices.last_mut() {
        l.pop();
    }
    (body == [Node::Group(choices.clone())]).then_some(choices)
}

fn seq_to_args(seq: &[Node], ctx: &Ctx) -> Vec<Arg> {
    let mut args: Vec<Arg> = units(seq)
        .into_iter()
        .map(|u| unit_to_arg(u, ctx))
        .collect();
    // LMOVE-style `<LEFT | RIGHT> <LEFT | RIGHT>`: Redis names them
    // wherefrom and whereto.
    let wheres: Vec<usize> = (0..args.len())
        .filter(|&i| args[i].name == "where" && args[i].args.iter().any(|a| a.name == "left"))
        .collect();
    if let [from, to] = wheres[..] {
        args[from].name = "wherefrom".into();
        args[to].name = "whereto".into();
    }
    args
}

fn unit_to_arg(u: Unit, ctx: &Ctx) -> Arg {
    match u {
        Unit::One(node) => node_to_arg(node, ctx),
        Unit::Repeat(body, optional) => {
            let inner = seq_to_args(&body, ctx);
            let mut a = if inner.len() == 2
                && inner[0].is_plain_token()
                && inner[1].token.is_none()
                && inner[1].flags == 0
                && inner[1].kind != ArgType::PureToken
            {
                // `GET pattern [GET pattern ...]`
                let mut it = inner.into_iter();
                let tok = it.next().and_then(|t| t.token);
                let mut a = it
                    .next()
                    .unwrap_or_else(|| Arg::new("arg", ArgType::String));
                a.token = tok;
                a.flags |= MULTIPLE_TOKEN;
                a
            } else {
                combine(inner)
            };
            a.flags |= MULTIPLE;
            if optional {
                a.flags |= OPTIONAL;
            }
            a
        }
    }
}

fn node_to_arg(node: &Node, ctx: &Ctx) -> Arg {
    match node {
        Node::Word(w) => word_to_arg(w, ctx),
        Node::Ellipsis => Arg::new("arg", ArgType::String),
        Node::Opt(alts) => {
            let mut a = alts_to_arg(alts, ctx);
            a.flags |= OPTIONAL;
            a
        }
        Node::Group(alts) => alts_to_arg(alts, ctx),
    }
}

fn alts_to_arg(alts: &[Vec<Node>], ctx: &Ctx) -> Arg {
    if alts.len() == 1 {
        return combine(seq_to_args(&alts[0], ctx));
    }
    if let Some(choices) = repeated_choice(alts) {
        // `<a | b [a | b ...]>` (CLIENT KILL): a oneof that repeats.
        let mut a = alts_to_arg(&choices, ctx);
        a.flags |= MULTIPLE;
        return a;
    }
    let children: Vec<Arg> = alts.iter().map(|s| combine(seq_to_args(s, ctx))).collect();
    let mut a = Arg::new(&oneof_name(&children), ArgType::OneOf);
    a.args = children;
    a
}

/// Turns the arguments of one bracketed sequence into a single argument:
/// `TOKEN value` -> value with a token, `TOKEN a b` -> a block with a token,
/// `a b` -> a block.
fn combine(mut args: Vec<Arg>) -> Arg {
    match args.len() {
        0 => Arg::new("arg", ArgType::String),
        1 => args
            .pop()
            .unwrap_or_else(|| Arg::new("arg", ArgType::String)),
        n => {
            if args[0].is_plain_token() {
                if n == 2
                    && args[1].token.is_none()
                    && args[1].flags & OPTIONAL == 0
                    && args[1].kind != ArgType::PureToken
                {
                    let tok = args.remove(0).token;
                    let mut a = args
                        .pop()
                        .unwrap_or_else(|| Arg::new("arg", ArgType::String));
                    a.token = tok;
                    return a;
                }
                let tok = args.remove(0).token;
                let mut a = Arg::new(&join_names(&args, "_"), ArgType::Block);
                a.token = tok;
                a.args = args;
                return a;
            }
            let mut a = Arg::new(&join_names(&args, "_"), ArgType::Block);
            a.args = args;
            a
        }
    }
}

fn join_names(args: &[Arg], sep: &str) -> String {
    args.iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(sep)
}

/// Redis's names for common choices; otherwise the choices joined by `_`.
fn oneof_name(children: &[Arg]) -> String {
    let mut names: Vec<&str> = children.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    let known = match names.as_slice() {
        ["nx", "xx"] | ["gt", "lt", "nx", "xx"] => Some("condition"),
        ["async", "sync"] => Some("async"),
        ["gt", "lt"] => Some("comparison"),
        ["left", "right"] | ["after", "before"] => Some("where"),
        ["asc", "desc"] => Some("order"),
        _ if names.contains(&"seconds") && names.contains(&"milliseconds") => Some("expiration"),
        _ => None,
    };
    match known {
        Some(k) => k.to_string(),
        None => join_names(children, "_"),
    }
}

/// UPPER-case words and bare symbols (`*`, `=`, `~`, `""`) are tokens.
fn is_token(w: &str) -> bool {
    let has_upper = w.bytes().any(|b| b.is_ascii_uppercase());
    let has_lower = w.bytes().any(|b| b.is_ascii_lowercase());
    let has_alnum = w.bytes().any(|b| b.is_ascii_alphanumeric());
    (has_upper && !has_lower) || !has_alnum
}

fn word_to_arg(w: &str, ctx: &Ctx) -> Arg {
    if is_token(w) {
        return Arg::pure_token(w);
    }
    Arg::new(w, infer_type(w, ctx))
}

/// Argument type from its name (and a few per-command exceptions).
pub fn infer_type(name: &str, ctx: &Ctx) -> ArgType {
    let base = ctx.command.split('|').next().unwrap_or(ctx.command);
    let key_like = matches!(
        name,
        "key" | "destination" | "source" | "dst" | "src" | "newkey"
    ) || (name.ends_with("key") && !name.ends_with("numkey"))
        || (name.starts_with("key")
            && name.len() > 3
            && name[3..].bytes().all(|b| b.is_ascii_digit()));
    if key_like {
        return ArgType::Key;
    }
    match name {
        "pattern" => ArgType::Pattern,
        n if n.starts_with("unix-time") => ArgType::UnixTime,
        "timeout" if ctx.blocking => ArgType::Double,
        "increment" | "decrement" if base.contains("float") || base == "zincrby" => ArgType::Double,
        "score" | "longitude" | "latitude" | "radius" | "width" | "height" => ArgType::Double,
        "count" | "index" | "index1" | "index2" | "start" | "stop" | "end" | "db" | "numkeys"
        | "offset" | "rank" | "len" | "num-matches" | "port" | "cursor" | "numreplicas"
        | "seconds" | "milliseconds" | "timeout" | "increment" | "decrement" | "client-id"
        | "protover" | "destination-db" | "bit" | "numlocal" | "number" => ArgType::Integer,
        n if n.ends_with("-db") || n.ends_with("-count") || n.ends_with("-len") => ArgType::Integer,
        _ => ArgType::String,
    }
}

// ------------------------------------------------------------------ replies

/// Writes an argument list as COMMAND DOCS does (RESP3 maps / RESP2 flat
/// arrays, flags as a set of status strings).
pub fn write_args(r: &mut Reply, args: &[Arg]) {
    r.array(args.len());
    for a in args {
        let nested = matches!(a.kind, ArgType::OneOf | ArgType::Block);
        let len = 2
            + a.key_spec_index.is_some() as usize
            + a.token.is_some() as usize
            + (a.flags != 0) as usize
            + nested as usize;
        r.map(len);
        r.bulk(b"name");
        r.bulk(a.name.as_bytes());
        r.bulk(b"type");
        r.bulk(a.kind.name().as_bytes());
        if let Some(k) = a.key_spec_index {
            r.bulk(b"key_spec_index");
            r.int(k as i64);
        }
        if let Some(t) = &a.token {
            r.bulk(b"token");
            r.bulk(t.as_bytes());
        }
        if a.flags != 0 {
            r.bulk(b"flags");
            let names: Vec<&str> = [
                (OPTIONAL, "optional"),
                (MULTIPLE, "multiple"),
                (MULTIPLE_TOKEN, "multiple_token"),
            ]
            .iter()
            .filter(|(f, _)| a.flags & f != 0)
            .map(|&(_, n)| n)
            .collect();
            r.set(names.len());
            for n in names {
                r.simple(n);
            }
        }
        if nested {
            r.bulk(b"arguments");
            write_args(r, &a.args);
        }
    }
}

/// Writes one command's COMMAND DOCS map (summary, since, group, arguments,
/// subcommands).
pub fn write_docs(r: &mut Reply, spec: &CommandSpec) {
    let docs = docs_for(spec);
    let len = 1
        + !spec.summary.is_empty() as usize
        + !spec.since.is_empty() as usize
        + !docs.args.is_empty() as usize
        + !spec.subcommands.is_empty() as usize;
    r.map(len);
    if !spec.summary.is_empty() {
        r.bulk(b"summary");
        r.bulk(spec.summary.as_bytes());
    }
    if !spec.since.is_empty() {
        r.bulk(b"since");
        r.bulk(spec.since.as_bytes());
    }
    r.bulk(b"group");
    r.bulk(spec.group.as_bytes());
    if !docs.args.is_empty() {
        r.bulk(b"arguments");
        write_args(r, &docs.args);
    }
    if !spec.subcommands.is_empty() {
        r.bulk(b"subcommands");
        r.map(spec.subcommands.len());
        for sub in spec.subcommands {
            r.bulk(sub.name.as_bytes());
            write_docs(r, sub);
        }
    }
}

/// Writes the key specs of COMMAND INFO (a set of maps).
pub fn write_key_specs(r: &mut Reply, specs: &[KeySpec]) {
    r.set(specs.len());
    for ks in specs {
        r.map(3);
        r.bulk(b"flags");
        r.set(ks.flags.len());
        for f in ks.flags {
            r.simple(f);
        }
        r.bulk(b"begin_search");
        r.map(2);
        r.bulk(b"type");
        if let Some((word, from)) = ks.keyword {
            r.bulk(b"keyword");
            r.bulk(b"spec");
            r.map(2);
            r.bulk(b"keyword");
            r.bulk(word.as_bytes());
            r.bulk(b"startfrom");
            r.int(from);
        } else {
            r.bulk(b"index");
            r.bulk(b"spec");
            r.map(1);
            r.bulk(b"index");
            r.int(ks.begin_index);
        }
        r.bulk(b"find_keys");
        r.map(2);
        r.bulk(b"type");
        match ks.find {
            FindKeys::Range { lastkey, keystep } => {
                r.bulk(b"range");
                r.bulk(b"spec");
                r.map(3);
                r.bulk(b"lastkey");
                r.int(lastkey);
                r.bulk(b"keystep");
                r.int(keystep);
                r.bulk(b"limit");
                r.int(0);
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                r.bulk(b"keynum");
                r.bulk(b"spec");
                r.map(3);
                r.bulk(b"keynumidx");
                r.int(keynumidx);
                r.bulk(b"firstkey");
                r.int(firstkey);
                r.bulk(b"keystep");
                r.int(keystep);
            }
        }
    }
}

/// The arguments contradict a key spec (a bad or too large `numkeys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadKeyArgs;

/// Key positions of a concrete argv according to the key specs, each with
/// the index of its key spec.
pub fn keys_of(docs: &CommandDocs, argv: &[&[u8]]) -> Result<Vec<(usize, usize)>, BadKeyArgs> {
    let argc = argv.len() as i64;
    let mut out = Vec::new();
    for (si, ks) in docs.key_specs.iter().enumerate() {
        let mut begin = ks.begin_index;
        if let Some((word, from)) = ks.keyword {
            // Redis's keyword search: forwards from `from`, or backwards
            // from argc+`from`, never at index 0.
            let found = if from > 0 {
                (from..argc).find(|&i| argv[i as usize].eq_ignore_ascii_case(word.as_bytes()))
            } else {
                (1..=(argc + from).min(argc - 1))
                    .rev()
                    .find(|&i| argv[i as usize].eq_ignore_ascii_case(word.as_bytes()))
            };
            let Some(at) = found else {
                continue;
            };
            begin = at + 1;
        }
        if begin >= argc {
            continue;
        }
        match ks.find {
            FindKeys::Range { lastkey, keystep } => {
                let last = if lastkey >= 0 {
                    begin + lastkey
                } else {
                    argc + lastkey
                };
                let last = last.min(argc - 1);
                let mut i = begin;
                while i <= last {
                    out.push((i as usize, si));
                    i += keystep.max(1);
                }
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let idx = begin + keynumidx;
                let Some(raw) = argv.get(idx as usize) else {
                    return Err(BadKeyArgs);
                };
                let n = crate::number::parse_i64(raw).ok_or(BadKeyArgs)?;
                if n < 0 {
                    return Err(BadKeyArgs);
                }
                let first = begin + firstkey;
                let step = keystep.max(1);
                let last = n
                    .checked_sub(1)
                    .and_then(|m| m.checked_mul(step))
                    .and_then(|m| m.checked_add(first));
                match last {
                    None => {} // zero keys
                    Some(last) if last >= argc => return Err(BadKeyArgs),
                    Some(last) => {
                        let mut i = first;
                        while i <= last {
                            out.push((i as usize, si));
                            i += step;
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(cmd: &str) -> Ctx<'_> {
        Ctx {
            command: cmd,
            blocking: cmd.starts_with('b'),
        }
    }

    /// Compact rendering: name:type[TOKEN]{flags}(children).
    fn show(args: &[Arg]) -> String {
        args.iter()
            .map(|a| {
                let mut s = format!("{}:{}", a.name, a.kind.name());
                if let Some(t) = &a.token {
                    s.push_str(&format!("[{}]", t));
                }
                if a.flags != 0 {
                    let mut f = Vec::new();
                    if a.flags & OPTIONAL != 0 {
                        f.push("o");
                    }
                    if a.flags & MULTIPLE != 0 {
                        f.push("m");
                    }
                    if a.flags & MULTIPLE_TOKEN != 0 {
                        f.push("mt");
                    }
                    s.push_str(&format!("{{{}}}", f.join(",")));
                }
                if !a.args.is_empty() {
                    s.push_str(&format!("({})", show(&a.args)));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn parse(cmd: &str, syntax: &str) -> String {
        show(&parse_syntax(syntax, &ctx(cmd)))
    }

    #[test]
    fn set_syntax() {
        assert_eq!(
            parse(
                "set",
                "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"
            ),
            "key:key value:string condition:oneof{o}(nx:pure-token[NX] xx:pure-token[XX]) \
             get:pure-token[GET]{o} expiration:oneof{o}(seconds:integer[EX] milliseconds:integer[PX] \
             unix-time-seconds:unix-time[EXAT] unix-time-milliseconds:unix-time[PXAT] keepttl:pure-token[KEEPTTL])"
        );
    }

    #[test]
    fn mset_hset_zadd_blocks() {
        assert_eq!(
            parse("mset", "key value [key value ...]"),
            "key_value:block{m}(key:key value:string)"
        );
        assert_eq!(
            parse("hset", "key field value [field value ...]"),
            "key:key field_value:block{m}(field:string value:string)"
        );
        assert_eq!(
            parse(
                "zadd",
                "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]"
            ),
            "key:key condition:oneof{o}(nx:pure-token[NX] xx:pure-token[XX]) \
             comparison:oneof{o}(gt:pure-token[GT] lt:pure-token[LT]) ch:pure-token[CH]{o} \
             incr:pure-token[INCR]{o} score_member:block{m}(score:double member:string)"
        );
    }

    #[test]
    fn scan_lpos_tokens() {
        assert_eq!(
            parse("scan", "cursor [MATCH pattern] [COUNT count] [TYPE type]"),
            "cursor:integer pattern:pattern[MATCH]{o} count:integer[COUNT]{o} type:string[TYPE]{o}"
        );
        assert_eq!(
            parse(
                "lpos",
                "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"
            ),
            "key:key element:string rank:integer[RANK]{o} num-matches:integer[COUNT]{o} len:integer[MAXLEN]{o}"
        );
    }

    #[test]
    fn blmpop_keys_and_groups() {
        assert_eq!(
            parse(
                "blmpop",
                "timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"
            ),
            "timeout:double numkeys:integer key:key{m} where:oneof(left:pure-token[LEFT] right:pure-token[RIGHT]) \
             count:integer[COUNT]{o}"
        );
        assert_eq!(parse("del", "key [key ...]"), "key:key{m}");
        assert_eq!(
            parse("info", "[section [section ...]]"),
            "section:string{o,m}"
        );
    }

    #[test]
    fn sort_migrate_and_nested_tokens() {
        assert_eq!(
            parse(
                "sort",
                "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]"
            ),
            "key:key pattern:pattern[BY]{o} offset_count:block[LIMIT]{o}(offset:integer count:integer) \
             pattern:pattern[GET]{o,m,mt} order:oneof{o}(asc:pure-token[ASC] desc:pure-token[DESC]) \
             alpha:pure-token[ALPHA]{o} destination:key[STORE]{o}"
        );
        assert_eq!(
            parse(
                "migrate",
                "host port <key | \"\"> destination-db timeout [COPY] [REPLACE] [AUTH password | AUTH2 username password] [KEYS key [key ...]]"
            ),
            "host:string port:integer key_empty_string:oneof(key:key empty_string:pure-token[]) \
             destination-db:integer timeout:integer copy:pure-token[COPY]{o} replace:pure-token[REPLACE]{o} \
             password_username_password:oneof{o}(password:string[AUTH] username_password:block[AUTH2](username:string password:string)) \
             key:key[KEYS]{o,m}"
        );
        assert_eq!(
            parse(
                "command|list",
                "[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]"
            ),
            "module-name_category_pattern:oneof[FILTERBY]{o}(module-name:string[MODULE] \
             category:string[ACLCAT] pattern:pattern[PATTERN])"
        );
    }

    #[test]
    fn repeated_group_and_incrbyfloat() {
        assert_eq!(
            parse("x", "<A | B b> [A | B b ...]"),
            "a_b:oneof{m}(a:pure-token[A] b:string[B])"
        );
        assert_eq!(
            parse("incrbyfloat", "key increment"),
            "key:key increment:double"
        );
        assert_eq!(
            parse("incrby", "key increment"),
            "key:key increment:integer"
        );
        assert_eq!(
            parse("shutdown", "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]"),
            "nosave_save:oneof{o}(nosave:pure-token[NOSAVE] save:pure-token[SAVE]) now:pure-token[NOW]{o} \
             force:pure-token[FORCE]{o} abort:pure-token[ABORT]{o}"
        );
    }

    #[test]
    fn client_kill_repeated_filters_and_lmove() {
        assert_eq!(
            parse(
                "client|kill",
                "<ip:port | <[ID client-id] | [TYPE <NORMAL | MASTER>] | [SKIPME <YES | NO>] \
                 [[ID client-id] | [TYPE <NORMAL | MASTER>] | [SKIPME <YES | NO>] ...]>>"
            ),
            "ip:port_client-id_normal_master_yes_no:oneof(ip:port:string \
             client-id_normal_master_yes_no:oneof{m}(client-id:integer[ID]{o} \
             normal_master:oneof[TYPE]{o}(normal:pure-token[NORMAL] master:pure-token[MASTER]) \
             yes_no:oneof[SKIPME]{o}(yes:pure-token[YES] no:pure-token[NO])))"
        );
        assert_eq!(
            parse("lmove", "source destination <LEFT | RIGHT> <LEFT | RIGHT>"),
            "source:key destination:key wherefrom:oneof(left:pure-token[LEFT] right:pure-token[RIGHT]) \
             whereto:oneof(left:pure-token[LEFT] right:pure-token[RIGHT])"
        );
    }

    #[test]
    fn malformed_syntax_never_panics() {
        for s in [
            "[",
            "]",
            "<<",
            "[a |",
            "...",
            "a [...]",
            "| |",
            "[[[[",
            "<a | [b ...>]",
            "",
        ] {
            let _ = parse("x", s);
        }
        let deep = "[".repeat(1000);
        let _ = parse("x", &deep);
    }

    #[test]
    fn every_table_syntax_is_balanced() {
        for top in &table().all {
            for spec in std::iter::once(*top).chain(top.subcommands.iter()) {
                let mut depth = 0i32;
                for t in tokenize(spec.syntax) {
                    match t {
                        Tok::Open | Tok::LAngle => depth += 1,
                        Tok::Close | Tok::RAngle => depth -= 1,
                        _ => {}
                    }
                    assert!(depth >= 0, "{}: {}", spec.name, spec.syntax);
                }
                assert_eq!(depth, 0, "{}: {}", spec.name, spec.syntax);
            }
        }
    }

    #[test]
    fn one_key_spec_per_distinct_key() {
        fn nop(
            _: &mut crate::server::Server,
            _: &mut crate::server::Client,
            _: &crate::commands::Args,
        ) -> crate::commands::CmdResult {
            Ok(())
        }
        let lmove = CommandSpec::new("lmove", 5, flags::WRITE, (1, 2, 1), nop, "list").doc(
            "6.2.0",
            "",
            "source destination <LEFT | RIGHT> <LEFT | RIGHT>",
        );
        let d = derive(&lmove);
        assert_eq!(d.key_specs.len(), 2);
        assert_eq!(d.key_specs[1].begin_index, 2);
        assert_eq!(d.args[0].key_spec_index, Some(0));
        assert_eq!(d.args[1].key_spec_index, Some(1));
        let mget = CommandSpec::new("mget", -2, flags::READONLY, (1, -1, 1), nop, "string").doc(
            "1.0.0",
            "",
            "key [key ...]",
        );
        let d = derive(&mget);
        assert_eq!(d.key_specs.len(), 1);
        assert_eq!(
            d.key_specs[0].find,
            FindKeys::Range {
                lastkey: -1,
                keystep: 1
            }
        );
        let blmpop = CommandSpec::new("blmpop", -5, flags::BLOCKING, (0, 0, 0), nop, "list").doc(
            "7.0.0",
            "",
            "timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]",
        );
        let d = derive(&blmpop);
        assert!(d.movablekeys);
        assert_eq!(d.args[2].key_spec_index, Some(0));
        assert_eq!(
            d.key_specs,
            vec![KeySpec {
                flags: &["RW", "access", "delete"],
                begin_index: 2,
                keyword: None,
                find: FindKeys::Keynum {
                    keynumidx: 0,
                    firstkey: 1,
                    keystep: 1
                }
            }]
        );
    }

    #[test]
    fn keynum_specs() {
        let mut args = parse_syntax(
            "timeout numkeys key [key ...] <LEFT | RIGHT>",
            &ctx("blmpop"),
        );
        assert_eq!(numkeys_position(&args), Some(1));
        args.clear();
        let docs = CommandDocs {
            key_specs: vec![KeySpec {
                flags: &["RW"],
                begin_index: 2,
                keyword: None,
                find: FindKeys::Keynum {
                    keynumidx: 0,
                    firstkey: 1,
                    keystep: 1,
                },
            }],
            ..CommandDocs::default()
        };
        let argv: Vec<&[u8]> = vec![b"blmpop", b"0", b"2", b"a", b"b", b"left"];
        assert_eq!(keys_of(&docs, &argv), Ok(vec![(3, 0), (4, 0)]));
        let argv: Vec<&[u8]> = vec![b"blmpop", b"0", b"5", b"a", b"b", b"left"];
        assert_eq!(keys_of(&docs, &argv), Err(BadKeyArgs));
        let argv: Vec<&[u8]> = vec![b"blmpop", b"0", b"-1", b"a"];
        assert_eq!(keys_of(&docs, &argv), Err(BadKeyArgs));
    }
}
