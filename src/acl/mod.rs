//! ACL: users, their rules and the permission check (Redis 7.0's acl.c).
//!
//! A user has flags (on/off, nopass, payload sanitizing), SHA-256 password
//! hashes and selectors: the root selector (rules given outside
//! parentheses) plus any number of `(...)` selectors; a command is allowed
//! when one selector allows the command, all its keys and all its channels.
//! A selector keeps a bitmap of allowed command ids (every command and
//! subcommand of the table gets one, [`registry`]), key patterns with
//! read/write permissions, and channel patterns. Categories come from the
//! command table (`commands::docs::acl_category_bits`), so `+@read` and
//! COMMAND INFO can never disagree. Rule descriptions (ACL LIST, GETUSER,
//! SAVE) are rebuilt from the bitmaps with Redis's best-fit algorithm.
//!
//! The users live in [`Acl`] (on the server); a client refers to its user by
//! slot. `User::unrestricted` (every command, key and channel) lets the
//! dispatch path skip the check with one load for the default user. Once a
//! user's rules are applied, `User::compile` (run by `Acl::put`) builds its
//! [`Fast`] plan: an array by command id (which dispatch gets from
//! resolving the name) of the commands some selector allows outright, or
//! allows when their keys (fixed positions) match that selector's
//! patterns; the common check is the slot's load and one compare of its
//! argument (the key; for SET, against the patterns granting read and
//! write) with the first head its first byte selects in an 8 KB table
//! (length, then the masked first 8 bytes read from the client's
//! buffer); anything else is decided out of line. What the plan cannot prove allowed
//! (or a user not compiled yet) goes to the full check
//! (`User::check_full`), which also picks the denial to report, so NOPERM
//! texts and ACL LOG entries do not depend on the plan.

pub mod log;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::commands::{self, Args, CmdId, CommandSpec, docs, flags, table};
use crate::server::{Client, Server};

pub use log::{LogContext, LogEntry, Reason};

/// Redis's category names, in its order (bit i = CATEGORIES[i]).
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Bit of a category name (case-insensitive), as Redis's
/// ACLGetCommandCategoryFlagByName.
pub fn category_bit(name: &[u8]) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| 1u32 << i)
}

/// Size of a selector's command bitmap (Redis's USER_COMMAND_BITS_COUNT);
/// the last bit means "commands added later" and is set only by `+@all`.
const BITS: usize = 1024;
const WORDS: usize = BITS / 64;
const FUTURE: usize = BITS - 1;

/// Every command and subcommand with its id (its index), in table order:
/// a container is followed by its subcommands.
pub struct Registry {
    pub specs: Vec<&'static CommandSpec>,
    /// Category bits of each id.
    pub cats: Vec<u32>,
    /// Ids of each container's subcommands.
    pub subs: Vec<Vec<usize>>,
    pub is_sub: Vec<bool>,
    /// How to find each command's keys and the permission each needs.
    keys: Vec<KeyInfo>,
    /// Spec address -> id: open addressing, at most a quarter full, so a
    /// lookup is a multiply and usually one compare (for checks of a spec
    /// without its id: EXEC's queue, scripts, ACL DRYRUN).
    by_ptr: Vec<(usize, u32)>,
    ptr_shift: u32,
}

/// Per-command key facts, computed once so a check does no lookups.
struct KeyInfo {
    /// Shard channels in key positions: not keys for the ACL.
    channels: bool,
    /// No arguments are ever keys (no key positions, extractor or key
    /// specs): the key check has nothing to do.
    keyless: bool,
    /// (first, last, step) when the row's fixed positions give every key.
    fixed: Option<(i32, i32, i32)>,
    /// Permission of the n-th key (the last repeats).
    perms: Vec<u8>,
    /// SET: its key is read only with GET (flags vary by call).
    is_set: bool,
    chan: Chan,
}

/// Slot of a spec address in `Registry::by_ptr`, a table of `64 - shift`
/// bits (Fibonacci hashing).
#[inline(always)]
fn ptr_slot(p: usize, shift: u32) -> usize {
    ((p as u64 >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

/// The command id registry, built once from the table.
pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        let mut r = Registry {
            specs: Vec::new(),
            cats: Vec::new(),
            subs: Vec::new(),
            is_sub: Vec::new(),
            keys: Vec::new(),
            by_ptr: Vec::new(),
            ptr_shift: 64,
        };
        let add = |r: &mut Registry, s: &'static CommandSpec, sub: bool| {
            let id = r.specs.len();
            r.specs.push(s);
            r.cats.push(docs::acl_category_bits(s));
            r.subs.push(Vec::new());
            r.is_sub.push(sub);
            let fixed = (s.first_key > 0
                && s.subcommands.is_empty()
                && s.keys_fn.is_none()
                && !docs::docs_for(s).movablekeys)
                .then_some((s.first_key, s.last_key, s.step));
            let channels = docs::keys_are_channels(s);
            r.keys.push(KeyInfo {
                channels,
                keyless: channels
                    || (s.first_key == 0
                        && s.keys_fn.is_none()
                        && docs::docs_for(s).key_specs.is_empty()),
                fixed,
                perms: (0..4).map(|n| docs::acl_key_perm(s, n)).collect(),
                is_set: s.name == "set",
                chan: Chan::of(s),
            });
            id
        };
        let t = table();
        for (top, &tid) in t.all.iter().zip(&t.ids) {
            let id = add(&mut r, top, false);
            // Dispatch resolves names to these ids (`commands::CmdId`).
            assert_eq!(tid as usize, id, "command ids out of step");
            for sub in top.subcommands {
                let sid = add(&mut r, sub, true);
                r.subs[id].push(sid);
            }
        }
        assert!(r.specs.len() < FUTURE, "more commands than ACL bits");
        let bits = (r.specs.len() * 4).next_power_of_two().trailing_zeros();
        r.ptr_shift = 64 - bits;
        r.by_ptr = vec![(0, 0); 1 << bits];
        for (id, s) in r.specs.iter().enumerate() {
            let p = *s as *const CommandSpec as usize;
            let mut i = ptr_slot(p, r.ptr_shift);
            while r.by_ptr[i].0 != 0 {
                i = (i + 1) & (r.by_ptr.len() - 1);
            }
            r.by_ptr[i] = (p, id as u32);
        }
        r
    })
}

impl Registry {
    /// Id of a spec from the table (paths that have no id from resolving:
    /// EXEC's queue, scripts, ACL DRYRUN).
    #[inline]
    pub fn id(&self, spec: &'static CommandSpec) -> Option<usize> {
        let p = spec as *const CommandSpec as usize;
        let mask = self.by_ptr.len().checked_sub(1)?;
        let mut i = ptr_slot(p, self.ptr_shift);
        loop {
            let (k, id) = *self.by_ptr.get(i)?;
            if k == p {
                return Some(id as usize);
            }
            if k == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// `name` or `parent|sub`, case-insensitive (Redis's
    /// lookupCommandBySds: more than one `|` finds nothing).
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let mut parts = name.split(|&b| b == b'|');
        let first = parts.next()?;
        let second = parts.next();
        if parts.next().is_some() {
            return None;
        }
        let top = table().lookup_original(first)?;
        match second {
            None => self.id(top),
            Some(sub) => {
                if top.subcommands.is_empty() {
                    return None;
                }
                self.id(commands::lookup_sub(top, sub)?)
            }
        }
    }
}

/// Why a rule was refused (Redis's errno values in ACLSetUser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// ENOENT
    Unknown,
    /// EINVAL
    Syntax,
    /// EEXIST
    KeyAfterAll,
    /// EISDIR
    ChannelAfterAll,
    /// ENODEV
    NoSuchPassword,
    /// EBADMSG
    BadHash,
    /// ECHILD
    SubFirstArg,
    /// EALREADY
    Duplicate,
}

impl RuleError {
    /// Redis's ACLSetUserStringError.
    pub fn message(self) -> &'static str {
        match self {
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
            }
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
            RuleError::SubFirstArg => "Allowing first-arg of a subcommand is not supported",
            RuleError::Duplicate => {
                "Duplicate user found. A user can only be defined once in config files"
            }
        }
    }
}

const READ: u8 = 1;
const WRITE: u8 = 2;

/// A set of permissions: commands, keys, channels.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    root: bool,
    allkeys: bool,
    allchannels: bool,
    allcommands: bool,
    bits: [u64; WORDS],
    /// Command id -> first arguments allowed although the command is not
    /// (`+select|0`), in the order given.
    firstargs: BTreeMap<usize, Vec<Vec<u8>>>,
    /// Key patterns with READ / WRITE permission bits and their shape.
    patterns: Vec<(Vec<u8>, u8, Shape)>,
    channels: Vec<Vec<u8>>,
}

/// A key pattern's shape, so the common ones (`*`, `prefix*`, `*suffix`,
/// a plain name) match without the general glob matcher; same results as
/// `glob::glob_match`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    Exact,
    Prefix,
    /// `*tail`, the tail non-empty and plain.
    Suffix,
    Glob,
}

impl Shape {
    fn of(p: &[u8]) -> Shape {
        let special = |b: &u8| matches!(b, b'*' | b'?' | b'[' | b'\\');
        match (p.split_last(), p.split_first()) {
            _ if !p.iter().any(special) => Shape::Exact,
            (Some((b'*', head)), _) if !head.iter().any(special) => Shape::Prefix,
            (_, Some((b'*', tail))) if !tail.iter().any(special) => Shape::Suffix,
            _ => Shape::Glob,
        }
    }

    #[inline]
    fn matches(self, p: &[u8], key: &[u8]) -> bool {
        match self {
            Shape::Exact => p == key,
            // As stringmatchlen: `*` alone does not match the empty key
            // (its loop never starts), `a*` matches `a`. A byte loop:
            // prefixes are short and most fail at once.
            Shape::Prefix => {
                let n = p.len() - 1;
                key.len() >= n
                    && (n > 0 || !key.is_empty())
                    && p[..n].iter().zip(key).all(|(a, b)| a == b)
            }
            // Never the empty key: the tail is not empty.
            Shape::Suffix => key.ends_with(&p[1..]),
            Shape::Glob => crate::glob::glob_match(p, key, false),
        }
    }
}

/// Redis's ACLStringHasSpaces.
fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | 0))
}

impl Selector {
    fn new(root: bool, pubsub_all: bool) -> Selector {
        Selector {
            root,
            allkeys: false,
            allchannels: pubsub_all,
            allcommands: false,
            bits: [0; WORDS],
            firstargs: BTreeMap::new(),
            patterns: Vec::new(),
            channels: Vec::new(),
        }
    }

    #[inline]
    fn bit(&self, id: usize) -> bool {
        id < BITS && self.bits[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if id >= BITS {
            return;
        }
        if on {
            self.bits[id / 64] |= 1 << (id % 64);
        } else {
            self.bits[id / 64] &= !(1 << (id % 64));
            self.allcommands = false;
        }
    }

    /// ACLChangeSelectorPerm: a container takes its subcommands along.
    fn change_perm(&mut self, id: usize, on: bool) {
        let r = registry();
        self.set_bit(id, on);
        self.firstargs.remove(&id);
        for &s in &r.subs[id] {
            self.set_bit(s, on);
        }
    }

    fn set_category(&mut self, cat: u32, on: bool) {
        let r = registry();
        for id in 0..r.specs.len() {
            if r.cats[id] & cat != 0 {
                self.change_perm(id, on);
            }
        }
    }

    fn all_commands(&mut self, on: bool) {
        self.bits = if on { [u64::MAX; WORDS] } else { [0; WORDS] };
        self.allcommands = on;
        self.firstargs.clear();
    }

    /// Redis's ACLSetSelector.
    fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        let c0 = op.first().copied().unwrap_or(0);
        let c1 = op.get(1).copied().unwrap_or(0);
        if is("allkeys") || op == b"~*" {
            self.allkeys = true;
            self.patterns.clear();
        } else if is("resetkeys") {
            self.allkeys = false;
            self.patterns.clear();
        } else if is("allchannels") || op == b"&*" {
            self.allchannels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.allchannels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.all_commands(true);
        } else if is("nocommands") || is("-@all") {
            self.all_commands(false);
        } else if c0 == b'~' || c0 == b'%' {
            if self.allkeys {
                return Err(RuleError::KeyAfterAll);
            }
            let mut perm = 0u8;
            let mut offset = 1;
            if c0 == b'%' {
                while offset < op.len() {
                    let c = op[offset].to_ascii_uppercase();
                    if c == b'R' && perm & READ == 0 {
                        perm |= READ;
                    } else if c == b'W' && perm & WRITE == 0 {
                        perm |= WRITE;
                    } else if c == b'~' {
                        offset += 1;
                        break;
                    } else {
                        return Err(RuleError::Syntax);
                    }
                    offset += 1;
                }
                if perm == 0 {
                    return Err(RuleError::Syntax);
                }
            } else {
                perm = READ | WRITE;
            }
            let pat = &op[offset.min(op.len())..];
            if has_spaces(pat) {
                return Err(RuleError::Syntax);
            }
            match self.patterns.iter_mut().find(|(p, _, _)| p == pat) {
                Some((_, f, _)) => *f |= perm,
                None => self.patterns.push((pat.to_vec(), perm, Shape::of(pat))),
            }
            self.allkeys = false;
        } else if c0 == b'&' {
            if self.allchannels {
                return Err(RuleError::ChannelAfterAll);
            }
            let pat = &op[1..];
            if has_spaces(pat) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|p| p == pat) {
                self.channels.push(pat.to_vec());
            }
            self.allchannels = false;
        } else if c0 == b'+' && c1 != b'@' {
            let name = &op[1..];
            let r = registry();
            match name.iter().rposition(|&b| b == b'|') {
                None => {
                    let id = r.lookup(name).ok_or(RuleError::Unknown)?;
                    self.change_perm(id, true);
                }
                Some(bar) => {
                    let (base, sub) = (&name[..bar], &name[bar + 1..]);
                    let id = r.lookup(base).ok_or(RuleError::Unknown)?;
                    if r.is_sub[id] {
                        return Err(RuleError::SubFirstArg);
                    }
                    if sub.is_empty() {
                        return Err(RuleError::Syntax);
                    }
                    if !r.subs[id].is_empty() {
                        let sid = r.lookup(name).ok_or(RuleError::Unknown)?;
                        self.change_perm(sid, true);
                    } else {
                        log::warn_first_arg(name);
                        let list = self.firstargs.entry(id).or_default();
                        if !list.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                            list.push(sub.to_vec());
                        }
                    }
                }
            }
        } else if c0 == b'-' && c1 != b'@' {
            let id = registry().lookup(&op[1..]).ok_or(RuleError::Unknown)?;
            self.change_perm(id, false);
        } else if (c0 == b'+' || c0 == b'-') && c1 == b'@' {
            let cat = category_bit(&op[2..]).ok_or(RuleError::Unknown)?;
            self.set_category(cat, c0 == b'+');
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// (allowed, denied) counts of the commands in a category.
    fn count_category(&self, cat: u32) -> (usize, usize) {
        let r = registry();
        let (mut on, mut off) = (0, 0);
        for id in 0..r.specs.len() {
            if r.cats[id] & cat != 0 {
                if self.bit(id) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    /// Redis's ACLDescribeSelectorCommandRules: `+@all`/`-@all`, then the
    /// categories that fit best, then single commands until the bitmap
    /// is exactly reproduced.
    fn describe_commands(&self) -> String {
        let r = registry();
        let mut rules = String::new();
        let mut fake = Selector::new(false, false);
        let additive = !self.bit(FUTURE);
        if additive {
            rules.push_str("-@all ");
            fake.all_commands(false);
        } else {
            rules.push_str("+@all ");
            fake.all_commands(true);
        }
        let mut temp = Selector::new(false, false);
        temp.bits = self.bits;
        let mut applied = [false; CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0usize);
            for (j, done) in applied.iter().enumerate() {
                if *done {
                    continue;
                }
                let (on, off) = temp.count_category(1 << j);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            fake.set_category(1 << j, additive);
            temp.set_category(1 << j, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(CATEGORIES[j]);
            rules.push(' ');
            applied[j] = true;
        }
        for id in 0..r.specs.len() {
            let user = self.bit(id);
            if user != fake.bit(id) {
                rules.push(if user { '+' } else { '-' });
                rules.push_str(r.specs[id].name);
                rules.push(' ');
                fake.change_perm(id, user);
            }
            if !user && let Some(args) = self.firstargs.get(&id) {
                for a in args {
                    rules.push('+');
                    rules.push_str(r.specs[id].name);
                    rules.push('|');
                    rules.push_str(&String::from_utf8_lossy(a));
                    rules.push(' ');
                }
            }
        }
        rules.pop();
        rules
    }

    /// Key patterns as GETUSER shows them (`~a %R~b`).
    fn describe_keys(&self) -> String {
        if self.allkeys {
            return "~*".to_string();
        }
        let mut out = String::new();
        for (i, (p, perm, _)) in self.patterns.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(match *perm {
                READ => "%R~",
                WRITE => "%W~",
                _ => "~",
            });
            out.push_str(&String::from_utf8_lossy(p));
        }
        out
    }

    fn describe_channels(&self) -> String {
        if self.allchannels {
            return "&*".to_string();
        }
        let mut out = String::new();
        for (i, p) in self.channels.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push('&');
            out.push_str(&String::from_utf8_lossy(p));
        }
        out
    }

    /// Redis's ACLDescribeSelector (the ACL LIST form).
    fn describe(&self) -> String {
        let mut res = String::new();
        if self.allkeys {
            res.push_str("~* ");
        } else {
            for (p, perm, _) in &self.patterns {
                res.push_str(match *perm {
                    READ => "%R~",
                    WRITE => "%W~",
                    _ => "~",
                });
                res.push_str(&String::from_utf8_lossy(p));
                res.push(' ');
            }
        }
        if self.allchannels {
            res.push_str("&* ");
        } else {
            res.push_str("resetchannels ");
            for p in &self.channels {
                res.push('&');
                res.push_str(&String::from_utf8_lossy(p));
                res.push(' ');
            }
        }
        res.push_str(&self.describe_commands());
        res
    }

    fn unrestricted(&self) -> bool {
        self.allcommands && self.allkeys && self.allchannels
    }

    /// Redis's ACLSelectorCheckCmd. `keys` is computed once per check
    /// (shared by the selectors). Err carries the denial and argv index.
    fn check(
        &self,
        id: usize,
        spec: &'static CommandSpec,
        args: &Args,
        keys: &mut Keys,
    ) -> Result<(), Denied> {
        if !self.allcommands && !spec.has(flags::NO_AUTH) && !self.bit(id) {
            let idx = if registry().is_sub[id] { 2 } else { 1 };
            let ok = args.len() >= 2
                && self.firstargs.get(&id).is_some_and(|list| {
                    args.get(idx)
                        .is_some_and(|a| list.iter().any(|f| f.eq_ignore_ascii_case(a)))
                });
            if !ok {
                return Err(Denied::Command);
            }
        }
        if !self.allkeys {
            if !keys.done {
                command_key_perms(id, spec, args, &mut keys.list);
                keys.done = true;
            }
            for &(idx, need) in keys.list.iter() {
                let key = args.get(idx).unwrap_or(b"");
                let ok = self
                    .patterns
                    .iter()
                    .any(|(p, perm, shape)| perm & need == need && shape.matches(p, key));
                if !ok {
                    return Err(Denied::Key(idx));
                }
            }
        }
        if !self.allchannels {
            let (from, to, literal) = registry().keys[id].chan.args(args.len());
            for idx in from..to {
                let ch = args.get(idx).unwrap_or(b"");
                let ok = self.channels.iter().any(|p| {
                    if literal {
                        p.as_slice() == ch
                    } else {
                        crate::glob::glob_match(p, ch, false)
                    }
                });
                if !ok {
                    return Err(Denied::Channel(idx));
                }
            }
        }
        Ok(())
    }
}

/// Which arguments of a command are channels the ACL checks (Redis's
/// ACLDoesCommandHaveChannels); unsubscribing is always allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chan {
    None,
    /// PUBLISH / SPUBLISH: argv[1].
    Publish,
    /// SUBSCRIBE / SSUBSCRIBE: every argument.
    Subscribe,
    /// PSUBSCRIBE: every argument, compared literally with the patterns.
    Psubscribe,
}

impl Chan {
    fn of(spec: &CommandSpec) -> Chan {
        match spec.name {
            "publish" | "spublish" => Chan::Publish,
            "subscribe" | "ssubscribe" => Chan::Subscribe,
            "psubscribe" => Chan::Psubscribe,
            _ => Chan::None,
        }
    }

    /// The argv range of the channels, and whether literal.
    fn args(self, argc: usize) -> (usize, usize, bool) {
        match self {
            Chan::None => (0, 0, false),
            Chan::Publish => (1, 2.min(argc), false),
            Chan::Subscribe => (1, argc, false),
            Chan::Psubscribe => (1, argc, true),
        }
    }
}

/// The keys of the command being checked, computed once for all
/// selectors (Redis's aclKeyResultCache).
struct Keys {
    done: bool,
    list: Vec<(usize, u8)>,
}

thread_local! {
    /// Reused between checks: no allocation per command.
    static KEYS: RefCell<Vec<(usize, u8)>> = const { RefCell::new(Vec::new()) };
    /// The key specs' argv indexes, reused the same way.
    static KEY_IDX: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Keys of a command with the permissions each needs (READ for keys the
/// command reads, WRITE for keys it inserts into, updates or deletes).
fn command_key_perms(
    id: usize,
    spec: &'static CommandSpec,
    args: &Args,
    out: &mut Vec<(usize, u8)>,
) {
    out.clear();
    let info = &registry().keys[id];
    if info.channels {
        return;
    }
    let perm = |n: usize| info.perms[n.min(info.perms.len() - 1)];
    // SET's flags vary (Redis's setGetKeys): it reads the key only with GET.
    let set_without_get =
        info.is_set && !args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
    if let Some((first, last, step)) = info.fixed {
        let argc = args.len() as i64;
        let last = if last < 0 {
            argc + last as i64
        } else {
            last as i64
        };
        let mut i = first as i64;
        let mut n = 0;
        while i <= last.min(argc - 1) {
            let p = if set_without_get { WRITE } else { perm(n) };
            out.push((i as usize, p));
            i += step.max(1) as i64;
            n += 1;
        }
        return;
    }
    // SORT ... STORE: the row's own extractor knows which key is written.
    if let Some(f) = spec.keys_fn {
        let argv: Vec<&[u8]> = args.iter().collect();
        out.extend(f(&argv).into_iter().map(|(i, written)| match written {
            true => (i, WRITE),
            // MIGRATE reads and deletes its keys (RW access delete).
            false if spec.name == "migrate" => (i, READ | WRITE),
            false => (i, READ),
        }));
        return;
    }
    KEY_IDX.with(|buf| {
        let mut idx = std::mem::take(&mut *buf.borrow_mut());
        idx.clear();
        // Arguments the key specs cannot parse: no keys (the command then
        // fails on its own), as Redis's getKeysFromCommandWithSpecs.
        if commands::command_keys(spec, args, &mut idx).is_ok() {
            out.extend(idx.iter().enumerate().map(|(n, &i)| (i, perm(n))));
        }
        *buf.borrow_mut() = idx;
    });
}

/// Why a command was refused, with the argv index of the key or channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, i),
            Denied::Channel(i) => (4, i),
        }
    }

    /// The NOPERM reply Redis gives at the top level (processCommand).
    pub fn error(self, spec: &CommandSpec) -> String {
        match self {
            Denied::Command => format!(
                "NOPERM this user has no permissions to run the '{}' command",
                spec.name
            ),
            Denied::Key(_) => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .to_string()
            }
            Denied::Channel(_) => "NOPERM this user has no permissions to access one of the channels used as arguments".to_string(),
        }
    }

    /// The reason EXEC gives when rules changed after queueing.
    pub fn exec_reason(self) -> &'static str {
        match self {
            Denied::Command => "no permission to execute the command or subcommand",
            Denied::Key(_) => "no permission to touch the specified keys",
            Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        }
    }

    /// The error a script gets from redis.call (scriptVerifyACL).
    pub fn script_error(self) -> &'static str {
        match self {
            Denied::Command => "The user executing the script can't run this command or subcommand",
            Denied::Key(_) => {
                "The user executing the script can't access at least one of the keys mentioned in the command arguments"
            }
            Denied::Channel(_) => {
                "The user executing the script can't publish to the channel mentioned in the command"
            }
        }
    }

    pub fn reason(self) -> Reason {
        match self {
            Denied::Command => Reason::Command,
            Denied::Key(_) => Reason::Key,
            Denied::Channel(_) => Reason::Channel,
        }
    }
}

/// SHA-256 of a password as 64 lowercase hex digits (ACLHashPassword).
pub fn hash_password(p: &[u8]) -> String {
    use sha2::Digest;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = sha2::Sha256::digest(p);
    let mut s = String::with_capacity(64);
    for b in d.iter() {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

/// ACLCheckPasswordHash: exactly 64 lowercase hex digits.
fn valid_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Compares without an early exit (time_independent_strcmp on digests).
fn secure_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// Payload sanitizing flag of a user (neither until set or `reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sanitize {
    Unset,
    On,
    Skip,
}

/// One ACL user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: Vec<u8>,
    enabled: bool,
    nopass: bool,
    sanitize: Sanitize,
    /// SHA-256 hex digests, in the order added.
    passwords: Vec<String>,
    /// selectors[0] is the root selector.
    selectors: Vec<Selector>,
    /// Every command, key and channel allowed: the dispatch check is
    /// skipped (the default user's common case).
    pub unrestricted: bool,
    /// The check's shortcut, compiled from `selectors` once a user's
    /// rules are all applied (`compile`, which `Acl::put` calls); a rule
    /// change drops it, and until compiled every check takes the full
    /// path (same answers, slower).
    fast: Fast,
}

/// How `Fast` decides a command (`Slot::how`).
const PLAN_ALLOW: u8 = 1; // allowed whatever the arguments
const PLAN_ONE_KEY: u8 = 2; // the key at `pos` (if any) must be granted `need`
const PLAN_SET_KEY: u8 = 3; // SET: as PLAN_ONE_KEY, needing WRITE unless a GET flag
const PLAN_KEYS: u8 = 4; // the keys at the row's fixed positions

/// How the plan decides one command (indexed by command id; the default,
/// all zero, is the full check): 8 bytes
/// (aligned so indexing is a shift), so a plan is under 3 KiB whatever
/// the user allows (332 ids today: 2.7 KB).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[repr(align(8))]
struct Slot {
    /// `Fast::pats` index of the patterns granting the key what it needs
    /// (selector * 4 + need); for SET, without a GET flag.
    pats: u16,
    /// PLAN_*; 0: the full check.
    how: u8,
    /// argv index of the one key (0, the command's name, for
    /// PLAN_ALLOW).
    pos: u8,
    /// `Fast::direct` table the argument at `pos` is compared with
    /// inline, whatever the argument count: a match proves the command
    /// allowed (`DIRECT_NONE`: never, `DIRECT_ALL`: always, else
    /// `DIRECT_PATS + pats`; for SET, the patterns granting read and
    /// write, enough with or without GET). Anything else goes out of line
    /// (`Fast::allows_other`).
    direct: u16,
}

/// `Slot::direct` of the full check and of PLAN_KEYS (no inline answer).
const DIRECT_NONE: u16 = 0;
/// `Slot::direct` of PLAN_ALLOW.
const DIRECT_ALL: u16 = 1;
/// `Slot::direct` of `Fast::pats[0]`.
const DIRECT_PATS: u16 = 2;

/// A user's permissions compiled for the dispatch path (see the module
/// comment). Derived from the selectors alone, so equal users have equal
/// plans. Commands it cannot decide have an empty slot (the full check).
#[derive(Debug, Clone, PartialEq, Default)]
struct Fast {
    /// By command id.
    slots: Box<[Slot]>,
    /// By selector, then by the permission a key needs (0..=3, READ |
    /// WRITE bits): the patterns granting it.
    pats: Box<[KeyPats]>,
    /// 256 `Lit`s per table (8 KB), by an argument's first byte b: at
    /// `Slot::direct * 256 + b`. Table `DIRECT_NONE` matches nothing,
    /// `DIRECT_ALL` everything, `DIRECT_PATS + p` holds `pats[p]`'s first
    /// head starting with b (`KeyPats::first`'s target, copied): the
    /// inline check is one bounds check and one head compare.
    direct: Box<[Lit]>,
    /// Compiled from the current rules (the default plan is empty: every
    /// command takes the full check).
    built: bool,
}

/// A literal key head of up to 8 bytes (an exact name, or `head*`),
/// compiled so a compare is a length compare and a masked word compare
/// (32 bytes: indexing is a shift). Longer heads are rare and go with the
/// wildcards.
#[derive(Debug, Clone, PartialEq)]
struct Lit {
    /// The head, little-endian, zero-padded.
    word: u64,
    /// Key lengths that can match: from the head's, `min`, to `min +
    /// span` (exact: span 0; prefix: any), one wrapping compare (a
    /// shorter key wraps past `span`).
    min: usize,
    span: usize,
    /// The bytes the head covers (its length's low bytes set).
    mask: u64,
}

/// A key's first 8 bytes as a little-endian word, zero-padded; bytes past
/// the key are never compared (`Lit::min` is checked first, and the
/// mask drops them).
#[inline(always)]
fn head_word(key: &[u8]) -> u64 {
    match key.first_chunk::<8>() {
        Some(w) => u64::from_le_bytes(*w),
        None => short_word(key),
    }
}

#[inline(never)]
fn short_word(key: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    for (d, s) in w.iter_mut().zip(key) {
        *d = *s;
    }
    u64::from_le_bytes(w)
}

impl Lit {
    /// `head` is 1 to 8 bytes.
    fn new(head: &[u8], exact: bool) -> Lit {
        let n = head.len().min(8);
        Lit {
            word: short_word(&head[..n]),
            mask: u64::MAX >> (64 - 8 * n as u32),
            min: n,
            span: if exact { 0 } else { usize::MAX - n },
        }
    }

    /// The head's first byte.
    fn first_byte(&self) -> u8 {
        self.word as u8
    }

    /// `KeyPats::lit[0]`: matches no key (no length is `usize::MAX`).
    const NONE: Lit = Lit {
        word: 0,
        mask: 0,
        min: usize::MAX,
        span: 0,
    };

    /// For a key of `len` bytes whose first ones are `word`'s (the bytes
    /// past the key, if any, are dropped by `shift`: `len >= min` first).
    #[inline(always)]
    fn matches(&self, len: usize, word: u64) -> bool {
        len.wrapping_sub(self.min) <= self.span && (word ^ self.word) & self.mask == 0
    }
}

/// Key patterns indexed by their first byte, so a key is compared only
/// with the literal-headed patterns that start like it (plus the few
/// that start with a wildcard): the cost does not grow with the number of
/// patterns that cannot match.
#[derive(Debug, Clone, PartialEq)]
struct KeyPats {
    /// `Lit::NONE`, then the exact names and `head*` patterns (heads of 1
    /// to 8 bytes), sorted by first byte (stable: in the order given).
    lit: Vec<Lit>,
    /// By a key's first byte b: the index in `lit` of the first head
    /// starting with b (0: none, `Lit::NONE`); its run ends at the first
    /// head starting otherwise.
    first: [u8; 256],
    /// Patterns starting with a wildcard, empty, or with a head longer
    /// than 8 bytes (or past the 255 `first` can index): tried for every
    /// key.
    wild: Vec<(Vec<u8>, Shape)>,
}

impl KeyPats {
    fn new<'a>(pats: impl Iterator<Item = (&'a [u8], Shape)>) -> KeyPats {
        let (mut heads, mut wild): (Vec<(&[u8], bool)>, _) = (Vec::new(), Vec::new());
        for (p, shape) in pats {
            match shape {
                Shape::Exact if (1..=8).contains(&p.len()) => heads.push((p, true)),
                // `Shape::Prefix`: p ends with the only `*`.
                Shape::Prefix if (2..=9).contains(&p.len()) => {
                    heads.push((&p[..p.len() - 1], false))
                }
                _ => wild.push((p.to_vec(), shape)),
            }
        }
        // Beyond what a byte indexes, the heads are tried as wildcards
        // (the same answer, only slower).
        for (h, exact) in heads.drain(heads.len().min(255)..) {
            let mut p = h.to_vec();
            if !exact {
                p.push(b'*');
            }
            wild.push((p, if exact { Shape::Exact } else { Shape::Prefix }));
        }
        heads.sort_by_key(|(p, _)| p[0]);
        let mut first = [0u8; 256];
        let mut lit: Vec<Lit> = Vec::with_capacity(heads.len() + 1);
        lit.push(Lit::NONE);
        for (i, &(h, exact)) in heads.iter().enumerate() {
            let b = usize::from(h[0]);
            if first[b] == 0 {
                first[b] = (i + 1) as u8;
            }
            lit.push(Lit::new(h, exact));
        }
        KeyPats { lit, first, wild }
    }

    /// No branch for "no head starts like the key" or an empty key: both
    /// meet a `Lit` that cannot match (`Lit::NONE`, or a length test).
    #[inline(always)]
    fn matches(&self, key: &[u8]) -> bool {
        let word = head_word(key);
        // The key's first byte (0 for an empty key).
        let i = usize::from(self.first[(word & 0xff) as usize]);
        if let Some(l) = self.lit.get(i) {
            if l.matches(key.len(), word) {
                return true;
            }
            if self
                .lit
                .get(i + 1)
                .is_some_and(|n| n.first_byte() == word as u8)
            {
                return self.more_matches(key, word, i + 1);
            }
        }
        !self.wild.is_empty() && self.wild_matches(key)
    }

    /// The heads after the first one starting like the key, then the
    /// wildcards (out of line: most keys meet one head).
    #[inline(never)]
    fn more_matches(&self, key: &[u8], word: u64, from: usize) -> bool {
        for l in self.lit.get(from..).unwrap_or_default() {
            if l.first_byte() != word as u8 {
                break;
            }
            if l.matches(key.len(), word) {
                return true;
            }
        }
        self.wild_matches(key)
    }

    #[inline(never)]
    fn wild_matches(&self, key: &[u8]) -> bool {
        self.wild.iter().any(|(p, shape)| shape.matches(p, key))
    }
}

impl Fast {
    fn build(selectors: &[Selector]) -> Fast {
        let r = registry();
        let mut slots = vec![Slot::default(); r.specs.len()].into_boxed_slice();
        // Selector indexes must fit a byte; beyond, the full check.
        let usable = &selectors[..selectors.len().min(usize::from(u8::MAX))];
        for (id, &spec) in r.specs.iter().enumerate() {
            let info = &r.keys[id];
            let mut e: Option<Slot> = None;
            for (si, s) in usable.iter().enumerate() {
                if !s.allcommands && !spec.has(flags::NO_AUTH) && !s.bit(id) {
                    continue; // first-argument grants: the full check
                }
                if info.chan != Chan::None && !s.allchannels {
                    continue;
                }
                if s.allkeys || info.keyless {
                    e = Some(Slot {
                        how: PLAN_ALLOW,
                        pos: 0,
                        direct: DIRECT_ALL,
                        ..Slot::default()
                    });
                    break;
                }
                let Some((first, last, _)) = info.fixed.filter(|_| !info.channels) else {
                    continue;
                };
                if e.is_some() {
                    continue; // an earlier selector's keys are tried
                }
                let base = (si * 4) as u16;
                let need = u16::from(info.perms[0] & 3);
                e = Some(match u8::try_from(first) {
                    // SET reads its key only with GET: a key granted read
                    // and write is allowed either way (inline); else
                    // out of line, by the flags.
                    Ok(pos) if first == last && info.is_set => Slot {
                        how: PLAN_SET_KEY,
                        pos,
                        pats: base + u16::from(WRITE),
                        direct: DIRECT_PATS + base + u16::from(READ | WRITE),
                    },
                    Ok(pos) if first == last => Slot {
                        how: PLAN_ONE_KEY,
                        pos,
                        pats: base + need,
                        direct: DIRECT_PATS + base + need,
                    },
                    _ => Slot {
                        how: PLAN_KEYS,
                        pats: base,
                        direct: DIRECT_NONE,
                        ..Slot::default()
                    },
                });
            }
            if let Some(e) = e {
                slots[id] = e;
            }
        }
        let pats: Box<[KeyPats]> = usable
            .iter()
            .flat_map(|s| {
                (0..4usize).map(|need| {
                    KeyPats::new(
                        s.patterns
                            .iter()
                            .filter(|(_, perm, _)| usize::from(*perm) & need == need)
                            .map(|(p, _, shape)| (p.as_slice(), *shape)),
                    )
                })
            })
            .collect();
        let all = Lit {
            word: 0,
            mask: 0,
            min: 0,
            span: usize::MAX,
        };
        let direct = std::iter::repeat_n(Lit::NONE, 256)
            .chain(std::iter::repeat_n(all, 256))
            .chain(
                pats.iter()
                    .flat_map(|p| p.first.iter().map(|&i| p.lit[usize::from(i)].clone())),
            )
            .collect();
        Fast {
            slots,
            pats,
            direct,
            built: true,
        }
    }

    /// True when the plan proves `args` allowed; false means "ask the
    /// full check" (which may still allow it). Keys are the ones
    /// `command_key_perms` finds, with the same needs.
    #[inline(always)]
    fn allows(&self, id: CmdId, args: &Args) -> bool {
        let Some(e) = self.slots.get(id as usize) else {
            return false;
        };
        // The argument at `pos` against the first head of the slot's
        // table starting like it, by its length and the 8 bytes from its
        // start in the client's buffer (past a shorter argument they are
        // never compared: `Lit::matches`).
        if let Some((len, word)) = args.len_and_head(usize::from(e.pos)) {
            let i = usize::from(e.direct) * 256 + (word & 0xff) as usize;
            if self.direct.get(i).is_some_and(|l| l.matches(len, word)) {
                return true;
            }
        }
        self.allows_other(e, id, args)
    }

    /// The key at `pos` (if any: else allowed) against `pats`, all of them.
    #[inline]
    fn key_allowed(&self, pats: u16, pos: u8, args: &Args) -> bool {
        let Some(key) = args.get(usize::from(pos)) else {
            return true;
        };
        self.pats
            .get(usize::from(pats))
            .is_some_and(|p| p.matches(key))
    }

    /// `allows` past the inline compare.
    #[inline(never)]
    fn allows_other(&self, e: &Slot, id: CmdId, args: &Args) -> bool {
        match e.how {
            PLAN_ALLOW => true,
            PLAN_ONE_KEY => self.key_allowed(e.pats, e.pos, args),
            // SET reads its key only with GET (Redis's setGetKeys).
            PLAN_SET_KEY if set_has_get(args) => self.key_allowed(set_get_pats(e, id), e.pos, args),
            PLAN_SET_KEY => self.key_allowed(e.pats, e.pos, args),
            PLAN_KEYS => self.keys_allowed(e, id, args),
            _ => false,
        }
    }

    /// `PLAN_KEYS`: every key at the row's fixed positions.
    #[inline]
    fn keys_allowed(&self, e: &Slot, id: CmdId, args: &Args) -> bool {
        let base = usize::from(e.pats);
        let (Some(pats), Some(info)) = (
            self.pats.get(base..base + 4),
            registry().keys.get(id as usize),
        ) else {
            return false;
        };
        let Some((first, last, step)) = info.fixed else {
            return false;
        };
        let argc = args.len() as i64;
        let last = if last < 0 {
            argc + i64::from(last)
        } else {
            i64::from(last)
        };
        let (mut i, mut n) = (i64::from(first), 0);
        while i <= last.min(argc - 1) {
            let need = info.perms[n.min(info.perms.len() - 1)];
            let key = args.get(i as usize).unwrap_or(b"");
            if !pats[usize::from(need & 3)].matches(key) {
                return false;
            }
            i += i64::from(step.max(1));
            n += 1;
        }
        true
    }
}

/// SET with a GET flag: the patterns granting its key the row's need (not
/// only WRITE), of the same selector.
#[inline(never)]
fn set_get_pats(e: &Slot, id: CmdId) -> u16 {
    let need = registry()
        .keys
        .get(id as usize)
        .map_or(READ | WRITE, |k| k.perms[0] & 3);
    (e.pats & !3) + u16::from(need)
}

/// A GET flag among SET's options.
#[inline(never)]
fn set_has_get(args: &Args) -> bool {
    (3..args.len()).any(|i| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(b"get")))
}

impl User {
    /// A new user: off, no passwords, no permissions (ACLCreateUser).
    pub fn new(name: &[u8], pubsub_all: bool) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: Sanitize::Unset,
            passwords: Vec::new(),
            selectors: vec![Selector::new(true, pubsub_all)],
            unrestricted: false,
            // Nothing allowed: the empty plan (full check) answers the
            // same until the rules are applied and compiled.
            fast: Fast::default(),
        }
    }

    /// The default user: `on nopass ~* &* +@all`.
    pub fn default_user() -> User {
        let mut u = User::new(b"default", false);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = u.apply(op.as_bytes(), false);
        }
        u.compile();
        u
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn nopass(&self) -> bool {
        self.nopass
    }

    /// Applies one rule (Redis's ACLSetUser); `pubsub_all` is
    /// `acl-pubsub-default allchannels`.
    /// The plan is not rebuilt here: a SETUSER of n rules would build it
    /// n times (quadratic in practice); call `compile` after the last.
    pub fn apply(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        let res = self.apply_inner(op, pubsub_all);
        self.unrestricted = self.selectors[0].unrestricted();
        if self.fast.built && !Self::flag_or_password(op) {
            self.fast = Fast::default();
        }
        res
    }

    /// Rules that leave the selectors as they are.
    fn flag_or_password(op: &[u8]) -> bool {
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        matches!(op.first(), Some(b'>' | b'<' | b'#' | b'!'))
            || [
                "on",
                "off",
                "nopass",
                "resetpass",
                "sanitize-payload",
                "skip-sanitize-payload",
            ]
            .iter()
            .any(|w| is(w))
    }

    /// Builds the dispatch plan from the rules, unless it is current.
    pub fn compile(&mut self) {
        if !self.fast.built {
            self.fast = Fast::build(&self.selectors);
        }
    }

    fn apply_inner(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        let c0 = op[0];
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = Sanitize::Skip;
        } else if is("sanitize-payload") {
            self.sanitize = Sanitize::On;
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if c0 == b'>' || c0 == b'#' {
            let h = if c0 == b'>' {
                hash_password(&op[1..])
            } else {
                if !valid_hash(&op[1..]) {
                    return Err(RuleError::BadHash);
                }
                String::from_utf8_lossy(&op[1..]).into_owned()
            };
            if !self.passwords.contains(&h) {
                self.passwords.push(h);
            }
            self.nopass = false;
        } else if c0 == b'<' || c0 == b'!' {
            let h = if c0 == b'<' {
                hash_password(&op[1..])
            } else {
                if !valid_hash(&op[1..]) {
                    return Err(RuleError::BadHash);
                }
                String::from_utf8_lossy(&op[1..]).into_owned()
            };
            let pos = self
                .passwords
                .iter()
                .position(|p| *p == h)
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(pos);
        } else if c0 == b'(' && op[op.len() - 1] == b')' {
            let inner = &op[1..op.len() - 1];
            // Redis splits the selector with sdssplitargs and, on unbalanced
            // quotes, applies no rule at all: an empty selector, not an error.
            let parts = crate::config::split_args(inner).unwrap_or_default();
            let mut s = Selector::new(false, pubsub_all);
            for p in &parts {
                s.apply(p)?;
            }
            self.selectors.push(s);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for op in ["resetpass", "resetkeys", "resetchannels"] {
                let _ = self.apply_inner(op.as_bytes(), pubsub_all);
            }
            if pubsub_all {
                let _ = self.apply_inner(b"allchannels", pubsub_all);
            }
            for op in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                let _ = self.apply_inner(op.as_bytes(), pubsub_all);
            }
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// ACLCheckUserCredentials for an existing user.
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let h = hash_password(pass);
        // Compare with every hash, no early exit.
        let mut ok = false;
        for p in &self.passwords {
            ok |= secure_eq(p.as_bytes(), h.as_bytes());
        }
        ok
    }

    /// Redis's ACLCheckAllUserCommandPerm: allowed if any selector allows
    /// it; otherwise the most relevant denial (channel > key > command,
    /// then the highest argv index). For callers without the id
    /// (`check_id` is the dispatch path's).
    pub fn check(&self, spec: &'static CommandSpec, args: &Args) -> Result<(), Denied> {
        match registry().id(spec) {
            Some(id) => self.check_id(id as CmdId, spec, args),
            None => Err(Denied::Command),
        }
    }

    /// `check` of a resolved command, `id` being its id (from
    /// `commands::resolve_id`). Inlined into the dispatch path: the common
    /// allowed case is a few dozen instructions, the rest is out of line.
    #[inline(always)]
    pub fn check_id(
        &self,
        id: CmdId,
        spec: &'static CommandSpec,
        args: &Args,
    ) -> Result<(), Denied> {
        if self.plan_allows(id, args) {
            return Ok(());
        }
        self.check_full(id as usize, spec, args)
    }

    /// The first half of `check_id`: true when the compiled plan proves
    /// the command allowed (false: ask `check_unplanned`). Dispatch runs
    /// it before its other exemption tests, so the common case costs
    /// nothing else.
    #[inline(always)]
    pub fn plan_allows(&self, id: CmdId, args: &Args) -> bool {
        self.fast.allows(id, args)
    }

    /// The second half of `check_id`: every selector, and the denial.
    pub fn check_unplanned(
        &self,
        id: CmdId,
        spec: &'static CommandSpec,
        args: &Args,
    ) -> Result<(), Denied> {
        self.check_full(id as usize, spec, args)
    }

    /// Every selector, in order, as Redis does it; also the denial.
    #[cold]
    #[inline(never)]
    fn check_full(&self, id: usize, spec: &'static CommandSpec, args: &Args) -> Result<(), Denied> {
        KEYS.with(|buf| {
            let mut keys = Keys {
                done: false,
                list: std::mem::take(&mut *buf.borrow_mut()),
            };
            let mut worst = Denied::Command;
            let mut res = Err(worst);
            for s in &self.selectors {
                match s.check(id, spec, args, &mut keys) {
                    Ok(()) => {
                        res = Ok(());
                        break;
                    }
                    Err(d) => {
                        if d.rank() > worst.rank() {
                            worst = d;
                        }
                        res = Err(worst);
                    }
                }
            }
            *buf.borrow_mut() = keys.list;
            res
        })
    }

    /// Flag names as ACL GETUSER lists them.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Sanitize::Skip => f.push("skip-sanitize-payload"),
            Sanitize::On => f.push("sanitize-payload"),
            Sanitize::Unset => {}
        }
        f
    }

    pub fn passwords(&self) -> &[String] {
        &self.passwords
    }

    /// Redis's ACLDescribeUser (ACL LIST and the ACL file).
    pub fn describe(&self) -> String {
        let mut res = String::new();
        for f in self.flags() {
            res.push_str(f);
            res.push(' ');
        }
        for p in &self.passwords {
            res.push('#');
            res.push_str(p);
            res.push(' ');
        }
        for s in &self.selectors {
            if s.root {
                res.push_str(&s.describe());
            } else {
                res.push_str(" (");
                res.push_str(&s.describe());
                res.push(')');
            }
        }
        res
    }

    /// The (commands, keys, channels) strings of each selector, root first
    /// (ACL GETUSER).
    pub fn selector_descriptions(&self) -> Vec<[String; 3]> {
        self.selectors
            .iter()
            .map(|s| {
                [
                    s.describe_commands(),
                    s.describe_keys(),
                    s.describe_channels(),
                ]
            })
            .collect()
    }

    /// Channel patterns over all selectors, or None if some selector
    /// allows every channel.
    fn channel_list(&self) -> Option<Vec<&[u8]>> {
        let mut out = Vec::new();
        for s in &self.selectors {
            if s.allchannels {
                return None;
            }
            out.extend(s.channels.iter().map(|c| c.as_slice()));
        }
        Some(out)
    }

    /// Whether a subscription (channel, or pattern compared literally)
    /// is still allowed by this user's channel rules.
    pub fn channel_allowed(&self, ch: &[u8], literal: bool) -> bool {
        let Some(list) = self.channel_list() else {
            return true;
        };
        list.iter().any(|p| {
            if literal {
                *p == ch
            } else {
                crate::glob::glob_match(p, ch, false)
            }
        })
    }

    /// Redis's ACLKillPubsubClientsIfNeeded shortcut: true when the new
    /// rules may revoke a channel the old ones allowed.
    pub fn channels_narrowed(&self, new: &User) -> bool {
        let Some(upcoming) = new.channel_list() else {
            return false;
        };
        let old: Vec<&[u8]> = self
            .selectors
            .iter()
            .flat_map(|s| s.channels.iter().map(|c| c.as_slice()))
            .collect();
        !old.iter().all(|o| upcoming.contains(o))
    }
}

/// Redis's ACLMergeSelectorArguments: a selector may span arguments
/// (`(~a` `+get)`). Err carries the index of the unmatched `(`.
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, op) in args.iter().enumerate() {
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((j, op.to_vec()));
            continue;
        }
        if let Some((start, mut sel)) = open.take() {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.last() == Some(&b')') {
                out.push(sel);
            } else {
                open = Some((start, sel));
            }
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

/// Every user, the ACL log and the settings that shape new users.
pub struct Acl {
    /// Slots (a client refers to its user by slot); slot 0 is `default`.
    users: Vec<Option<User>>,
    by_name: BTreeMap<Vec<u8>, usize>,
    pub log: log::Log,
}

/// Slot of the default user.
pub const DEFAULT: usize = 0;

impl Default for Acl {
    fn default() -> Self {
        Acl::new()
    }
}

impl Acl {
    pub fn new() -> Acl {
        let mut by_name = BTreeMap::new();
        by_name.insert(b"default".to_vec(), DEFAULT);
        Acl {
            users: vec![Some(User::default_user())],
            by_name,
            log: log::Log::default(),
        }
    }

    /// The user in a slot (the default user for a freed slot, which no
    /// client keeps: deleting a user disconnects its clients).
    #[inline]
    pub fn user(&self, slot: usize) -> &User {
        match self.users.get(slot) {
            Some(Some(u)) => u,
            _ => self.users[DEFAULT].as_ref().expect("default user"),
        }
    }

    pub fn default_user(&self) -> &User {
        self.user(DEFAULT)
    }

    pub fn slot_of(&self, name: &[u8]) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn get(&self, name: &[u8]) -> Option<&User> {
        self.slot_of(name).map(|s| self.user(s))
    }

    /// Users in name order (Redis's rax order).
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.by_name.values().map(|&s| self.user(s))
    }

    pub fn user_count(&self) -> usize {
        self.by_name.len()
    }

    /// Creates or replaces a user; returns its slot.
    pub fn put(&mut self, mut user: User) -> usize {
        user.compile();
        if let Some(&slot) = self.by_name.get(&user.name) {
            self.users[slot] = Some(user);
            return slot;
        }
        let slot = match self.users.iter().position(|u| u.is_none()) {
            Some(s) => s,
            None => {
                self.users.push(None);
                self.users.len() - 1
            }
        };
        self.by_name.insert(user.name.clone(), slot);
        self.users[slot] = Some(user);
        slot
    }

    /// Removes a user (not `default`); returns its freed slot.
    pub fn remove(&mut self, name: &[u8]) -> Option<usize> {
        if name == b"default" {
            return None;
        }
        let slot = self.by_name.remove(name)?;
        self.users[slot] = None;
        Some(slot)
    }

    /// Replaces every user at once (ACL LOAD); the default user keeps its
    /// slot. Returns the slots that were freed.
    pub fn replace_all(&mut self, users: Vec<User>) -> Vec<usize> {
        let freed: Vec<usize> = self
            .by_name
            .values()
            .copied()
            .filter(|&s| s != DEFAULT)
            .collect();
        for &s in &freed {
            self.users[s] = None;
        }
        self.by_name.retain(|_, s| *s == DEFAULT);
        let mut have_default = false;
        for u in users {
            have_default |= u.name == b"default";
            self.put(u);
        }
        if !have_default {
            self.users[DEFAULT] = Some(User::default_user());
        }
        freed
    }

    /// requirepass: `resetpass` then `>pass`, or `nopass` when empty
    /// (ACLUpdateDefaultUserPassword).
    pub fn set_requirepass(&mut self, pass: &[u8]) {
        if let Some(Some(u)) = self.users.get_mut(DEFAULT) {
            let _ = u.apply(b"resetpass", false);
            if pass.is_empty() {
                let _ = u.apply(b"nopass", false);
            } else {
                let mut op = b">".to_vec();
                op.extend_from_slice(pass);
                let _ = u.apply(&op, false);
            }
            u.compile();
        }
    }

    /// ACLCheckUserCredentials: a missing user and a wrong password look
    /// the same to the caller.
    pub fn authenticate(&self, name: &[u8], pass: &[u8]) -> Option<usize> {
        let slot = self.slot_of(name)?;
        self.user(slot).password_ok(pass).then_some(slot)
    }

    /// The ACL file / ACL LIST text of every user.
    pub fn to_file_text(&self) -> String {
        let mut out = String::new();
        for u in self.users() {
            out.push_str("user ");
            out.push_str(&String::from_utf8_lossy(&u.name));
            out.push(' ');
            out.push_str(&u.describe());
            out.push('\n');
        }
        out
    }
}

/// sdstrim: drops the given bytes from both ends.
fn trim<'a>(b: &'a [u8], set: &[u8]) -> &'a [u8] {
    let start = b.iter().position(|c| !set.contains(c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !set.contains(c))
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// Builds a user from `user <name> rules...` arguments (ACL file line,
/// `user` directive). Err is Redis's message for the first bad rule.
pub fn user_from_rules(
    name: &[u8],
    rules: &[&[u8]],
    pubsub_all: bool,
) -> Result<User, (Vec<u8>, RuleError)> {
    let merged = merge_selector_args(rules).map_err(|i| (rules[i].to_vec(), RuleError::Syntax))?;
    let mut u = User::new(name, pubsub_all);
    for op in &merged {
        u.apply(op, pubsub_all).map_err(|e| (op.clone(), e))?;
    }
    u.compile();
    Ok(u)
}

/// Parses an ACL file (Redis's ACLLoadFromFile): every line `user <name>
/// rules...` or blank. Any error rejects the whole file; the message is
/// Redis's, `path` as given by `aclfile`.
pub fn parse_file(text: &[u8], path: &str, pubsub_all: bool) -> Result<Vec<User>, String> {
    let mut errors = String::new();
    let mut users: Vec<User> = Vec::new();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let linenum = i + 1;
        let line = trim(raw, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&[u8]> = line
            .split(|&b| b == b' ')
            .filter(|a| !a.is_empty())
            .collect();
        if argv.is_empty() {
            continue;
        }
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!(
                "{path}:{linenum} should start with user keyword followed by the username. "
            ));
            continue;
        }
        if has_spaces(argv[1]) {
            errors.push_str(&format!(
                "'{path}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(argv[1])
            ));
            continue;
        }
        if users.iter().any(|u| u.name == argv[1]) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(argv[1])
            ));
            continue;
        }
        let mut u = User::new(argv[1], pubsub_all);
        match merge_selector_args(&argv[2..]) {
            Err(_) => errors.push_str(&format!(
                "{path}:{linenum}: Unmatched parenthesis in selector definition."
            )),
            Ok(ops) => {
                for op in ops {
                    let op = trim(&op, b"\t\r\n");
                    if let Err(e) = u.apply(op, pubsub_all) {
                        errors.push_str(&format!(
                            "{path}:{linenum}: Error in applying operation '{}': {}. ",
                            String::from_utf8_lossy(op),
                            e.message()
                        ));
                    }
                }
            }
        }
        u.compile();
        users.push(u);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        Err(errors)
    }
}

/// `acllog-max-len`.
fn log_max_len(srv: &Server) -> usize {
    srv.config
        .value("acllog-max-len")
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

/// Records a refused command in the ACL LOG (object: the command's full
/// name, or the key / channel argument).
pub fn log_denial(
    srv: &mut Server,
    c: &Client,
    d: Denied,
    ctx: LogContext,
    spec: &CommandSpec,
    args: &Args,
) {
    let object = match d {
        Denied::Command => spec.name.as_bytes().to_vec(),
        Denied::Key(i) | Denied::Channel(i) => args.get(i).unwrap_or(b"").to_vec(),
    };
    let username = srv.acl.user(c.user).name.clone();
    add_entry(srv, c, d.reason(), ctx, object, username);
}

/// Records a failed AUTH / HELLO AUTH (object: the command as typed).
pub fn log_auth_failure(
    srv: &mut Server,
    c: &Client,
    ctx: LogContext,
    user: &[u8],
    object: Vec<u8>,
) {
    add_entry(srv, c, Reason::Auth, ctx, object, user.to_vec());
}

fn add_entry(
    srv: &mut Server,
    c: &Client,
    reason: Reason,
    context: LogContext,
    object: Vec<u8>,
    username: Vec<u8>,
) {
    let max = log_max_len(srv);
    let e = LogEntry {
        count: 1,
        reason,
        context,
        object,
        username,
        ctime: crate::store::unix_ms(),
        client_info: c.info_line(std::time::Instant::now()),
    };
    srv.acl.log.add(e, max);
}

/// `acl-pubsub-default allchannels`?
pub fn pubsub_all(config: &crate::config::Config) -> bool {
    config.value("acl-pubsub-default").as_deref() == Some("allchannels")
}

/// The ACL at start-up (Redis's ACLLoadUsersAtStartup): `requirepass`,
/// then the `user` directives or the `aclfile` (not both).
pub fn from_config(config: &crate::config::Config) -> Result<Acl, String> {
    let mut acl = Acl::new();
    acl.set_requirepass(config.requirepass.as_bytes());
    let pubsub = pubsub_all(config);
    let aclfile = config.value("aclfile").unwrap_or_default();
    if !aclfile.is_empty() && !config.users.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".to_string());
    }
    let mut seen: Vec<&str> = Vec::new();
    for line in &config.users {
        let Some((name, rules)) = line.split_first() else {
            continue;
        };
        if seen.contains(&name.as_str()) {
            return Err(format!(
                "Error in user declaration '{name}': {}",
                RuleError::Duplicate.message()
            ));
        }
        seen.push(name);
        if has_spaces(name.as_bytes()) {
            return Err("Spaces not allowed in ACL usernames".to_string());
        }
        let rules: Vec<&[u8]> = rules.iter().map(|r| r.as_bytes()).collect();
        // A `user default` line starts from `reset`, like Redis.
        let u = user_from_rules(name.as_bytes(), &rules, pubsub).map_err(|(op, e)| {
            format!(
                "Error loading ACL rule '{}' for the user named '{name}': {}",
                String::from_utf8_lossy(&op),
                e.message()
            )
        })?;
        if !u.enabled {
            log::notice_disabled(name);
        }
        acl.put(u);
    }
    if !aclfile.is_empty() {
        let text = std::fs::read(&aclfile).map_err(|e| {
            format!(
                "Error loading ACLs, opening file '{aclfile}': {}",
                crate::config::strerror(&e)
            )
        })?;
        let users = parse_file(&text, &aclfile, pubsub)
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        acl.replace_all(users);
    }
    Ok(acl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::OwnedArgs;

    fn user(rules: &[&str]) -> User {
        let r: Vec<&[u8]> = rules.iter().map(|r| r.as_bytes()).collect();
        user_from_rules(b"u", &r, false).expect("valid rules")
    }

    fn allowed(u: &User, argv: &[&str]) -> Result<(), Denied> {
        let owned = OwnedArgs::from_slices(argv.iter().map(|a| a.as_bytes()));
        let args = owned.as_args();
        let spec = commands::resolve(&args).expect("known command");
        u.check(spec, &args)
    }

    #[test]
    fn default_user_is_unrestricted_and_described_like_redis() {
        let u = User::default_user();
        assert!(u.unrestricted);
        assert_eq!(u.describe(), "on nopass ~* &* +@all");
        let mut u = u;
        u.apply(b"-get", false).unwrap();
        assert!(!u.unrestricted);
        assert_eq!(u.describe(), "on nopass ~* &* +@all -get");
    }

    #[test]
    fn commands_keys_and_channels() {
        let u = user(&["on", "+get", "+set", "+publish", "~a*", "%R~r*", "&ch*"]);
        assert_eq!(allowed(&u, &["get", "abc"]), Ok(()));
        assert_eq!(allowed(&u, &["get", "r1"]), Ok(()));
        assert_eq!(allowed(&u, &["set", "r1", "v"]), Err(Denied::Key(1)));
        assert_eq!(allowed(&u, &["get", "zz"]), Err(Denied::Key(1)));
        assert_eq!(allowed(&u, &["del", "a"]), Err(Denied::Command));
        assert_eq!(allowed(&u, &["publish", "chx", "m"]), Ok(()));
        assert_eq!(allowed(&u, &["publish", "x", "m"]), Err(Denied::Channel(1)));
        // AUTH is never refused (no_auth).
        assert_eq!(allowed(&u, &["auth", "p"]), Ok(()));
    }

    #[test]
    fn selectors_allow_when_any_selector_does() {
        let u = user(&["+get", "~a*", "(+set ~b*)"]);
        assert_eq!(allowed(&u, &["get", "a1"]), Ok(()));
        assert_eq!(allowed(&u, &["set", "b1", "x"]), Ok(()));
        assert_eq!(allowed(&u, &["set", "a1", "x"]), Err(Denied::Key(1)));
        assert_eq!(
            u.describe(),
            "off ~a* resetchannels -@all +get (~b* resetchannels -@all +set)"
        );
    }

    #[test]
    fn first_args_and_subcommands() {
        let u = user(&["-@all", "+select|0", "+config|get", "allkeys"]);
        assert_eq!(allowed(&u, &["select", "0"]), Ok(()));
        assert_eq!(allowed(&u, &["select", "1"]), Err(Denied::Command));
        assert_eq!(allowed(&u, &["config", "get", "x"]), Ok(()));
        assert_eq!(
            allowed(&u, &["config", "set", "x", "y"]),
            Err(Denied::Command)
        );
        let mut u2 = User::new(b"x", false);
        assert_eq!(
            u2.apply(b"+config|get|x", false),
            Err(RuleError::SubFirstArg)
        );
        assert_eq!(u2.apply(b"+select|", false), Err(RuleError::Syntax));
        assert_eq!(u2.apply(b"+nosuch", false), Err(RuleError::Unknown));
        assert_eq!(u2.apply(b"-@nosuch", false), Err(RuleError::Unknown));
        assert_eq!(u2.apply(b"%", false), Err(RuleError::Syntax));
        assert_eq!(u2.apply(b"%X~a", false), Err(RuleError::Syntax));
    }

    #[test]
    fn describe_reproduces_the_bitmap() {
        // Whatever the rules, the description applied to a fresh user
        // gives the same command bitmap (Redis panics otherwise).
        let sets: &[&[&str]] = &[
            &["+@all", "-@dangerous", "+flushdb"],
            &["-@all", "+@read", "-get", "+config|get"],
            &["+@hash", "+@string", "-@write", "+client"],
            &["allcommands", "-config|set", "-@pubsub"],
        ];
        for rules in sets {
            let u = user(rules);
            let d = u.selectors[0].describe_commands();
            let ops: Vec<&str> = d.split(' ').collect();
            let again = user(&ops);
            assert_eq!(
                again.selectors[0].bits, u.selectors[0].bits,
                "{rules:?} -> {d}"
            );
        }
    }

    #[test]
    fn passwords() {
        let mut u = user(&["on", ">secret"]);
        assert!(u.password_ok(b"secret"));
        assert!(!u.password_ok(b"other"));
        let h = hash_password(b"secret");
        assert_eq!(
            h,
            "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
        );
        assert_eq!(u.apply(b"<nope", false), Err(RuleError::NoSuchPassword));
        assert_eq!(u.apply(b"#abc", false), Err(RuleError::BadHash));
        u.apply(format!("!{h}").as_bytes(), false).unwrap();
        assert!(!u.password_ok(b"secret"));
        u.apply(b"off", false).unwrap();
        u.apply(b"nopass", false).unwrap();
        assert!(!u.password_ok(b"x"), "a disabled user cannot log in");
    }

    #[test]
    fn secure_eq_compares_whole_strings() {
        assert!(secure_eq(b"secret", b"secret"));
        assert!(!secure_eq(b"secret", b"secreT"));
        assert!(!secure_eq(b"secret", b"secret1"));
        assert!(!secure_eq(b"", b"x"));
        assert!(secure_eq(b"", b""));
    }

    #[test]
    fn pattern_shapes_agree_with_glob() {
        let pats: &[&[u8]] = &[
            b"*", b"key:*", b"key", b"", b"a?c", b"a[bc]", b"x\\*", b"*:*", b"ab*c", b"*c", b"*:1",
            b"*\\*",
        ];
        let keys: &[&[u8]] = &[
            b"", b"key", b"key:1", b"keyx", b"abc", b"ab", b"x*", b"a:b", b"abxc", b"c", b":1",
            b"*",
        ];
        for p in pats {
            for k in keys {
                assert_eq!(
                    Shape::of(p).matches(p, k),
                    crate::glob::glob_match(p, k, false),
                    "{:?} {:?}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(k)
                );
            }
        }
    }

    #[test]
    fn merge_selectors() {
        let a: Vec<&[u8]> = vec![b"on", b"(~a", b"+get)", b"+set"];
        assert_eq!(
            merge_selector_args(&a).unwrap(),
            vec![b"on".to_vec(), b"(~a +get)".to_vec(), b"+set".to_vec()]
        );
        let b: Vec<&[u8]> = vec![b"on", b"(~a"];
        assert_eq!(merge_selector_args(&b), Err(1));
    }

    #[test]
    fn resolved_ids_are_registry_ids() {
        let r = registry();
        for (id, spec) in r.specs.iter().enumerate() {
            // `parent|sub` -> argv [PARENT, Sub] (upper case: resolving
            // folds it), padded to the arity.
            // A container needing a subcommand never resolves to itself.
            if !spec.subcommands.is_empty() && !spec.arity_ok(1) {
                continue;
            }
            let mut argv: Vec<String> = spec.name.split('|').map(str::to_string).collect();
            argv[0] = argv[0].to_ascii_uppercase();
            while !spec.arity_ok(argv.len()) {
                argv.push("x".to_string());
            }
            let owned = OwnedArgs::from_slices(argv.iter().map(|a| a.as_bytes()));
            let (found, rid) = commands::resolve_id(&owned.as_args()).expect("resolves");
            assert!(std::ptr::eq(found, *spec), "{}", spec.name);
            assert_eq!(rid as usize, id, "{}", spec.name);
            assert_eq!(r.id(spec), Some(id), "{}", spec.name);
        }
    }

    #[test]
    fn fast_plan_agrees_with_the_full_check() {
        let users = [
            vec![
                "on",
                "nopass",
                "-@all",
                "+@hash",
                "+get",
                "+set",
                "~user:*",
                "%R~cache:*",
                "%W~log:*",
                "~key:*",
                "&news",
                "(~other:* +hget)",
            ],
            vec!["on", "+@all", "~*", "resetchannels", "&ch*"],
            vec!["on", "+@all", "%R~r*", "%W~w*", "~rw"],
            vec![
                "on",
                "+get",
                "+select|0",
                "+mset",
                "+subscribe",
                "+publish",
                "allkeys",
                "&a*",
            ],
            vec![
                "on",
                "allcommands",
                "~exact",
                "~pre*",
                "~g?ob*",
                "(+set ~*)",
            ],
            vec!["on", "-@all", "+ping", "+auth", "+client|id"],
            vec!["on", "+@all", "~*x", "~", "~ab*", "%R~a", "%W~b*"],
            // Heads longer and shorter than the 8-byte word, suffixes.
            vec![
                "on",
                "+@all",
                "~averylongprefix:*",
                "~exactly-eight",
                "~12345678",
                "~1234567*",
                "%R~*:suffix",
                "~*.tmp",
                "(%W~w* +set +mset)",
            ],
            // The inline compare reads 8 bytes of the client's buffer: a
            // key followed by the bytes that would complete a head.
            vec!["on", "+@all", "~abc", "~abcd*"],
        ];
        let argvs: [&[&str]; 53] = [
            &["set", "ab", "c"],
            // 8+ bytes follow the short key in the buffer, so the inline
            // compare reads them (masked) rather than a padded copy.
            &["set", "ab", "cdefghij"],
            &["get", "abcdefghijkl"],
            &["set", "abc", "d"],
            &["get", "ax"],
            &["get", "abc"],
            &["set", "a", "v"],
            &["set", "bz", "v", "get"],
            &["get", "key:1"],
            &["get", "user:"],
            &["get", "cache:x"],
            &["get", "log:x"],
            &["set", "log:x", "v"],
            &["set", "cache:x", "v"],
            &["set", "cache:x", "v", "GET"],
            &["set", "key:1", "v", "ex", "10"],
            &["set", "other:1", "v"],
            &["hget", "other:1", "f"],
            &["mset", "rw", "1", "r1", "2"],
            &["mset", "w1", "1", "w2", "2"],
            &["get", "rw"],
            &["get", "r"],
            &["get", ""],
            &["get", "exact"],
            &["get", "pre"],
            &["get", "gxob1"],
            &["select", "0"],
            &["select", "1"],
            &["subscribe", "a1", "b"],
            &["publish", "a", "m"],
            &["publish", "news", "m"],
            &["ping"],
            &["client", "id"],
            &["lpush", "key:1", "x"],
            &["get", "averylongprefix:1"],
            &["get", "averylongprefix:"],
            &["get", "averylongprefix"],
            &["get", "averylongprefiy:1"],
            &["get", "exactly-eight"],
            &["get", "exactly-eigh"],
            &["get", "exactly-eightx"],
            &["get", "12345678"],
            &["get", "1234567"],
            &["get", "123456"],
            &["set", "a:suffix", "v"],
            &["get", "a:suffix"],
            &["get", ":suffix"],
            &["get", "x.tmp"],
            &["set", ".tmp", "v"],
            &["get", "tmp"],
            &["set", "w1", "v"],
            &["mset", "w1", "1", "a.tmp", "2"],
            &["mget", "12345678", "x.tmp", "a:suffix"],
        ];
        for rules in &users {
            let u = user(rules);
            // Rules applied but not compiled: no plan, the same answers.
            let mut raw = User::new(b"u", false);
            for r in rules {
                raw.apply(r.as_bytes(), false).expect("valid rule");
            }
            assert!(!raw.fast.built && u.fast.built);
            for argv in argvs {
                let owned = OwnedArgs::from_slices(argv.iter().map(|a| a.as_bytes()));
                let args = owned.as_args();
                let (spec, id) = commands::resolve_id(&args).expect("known command");
                let full = u.check_full(id as usize, spec, &args);
                assert_eq!(u.check(spec, &args), full, "{rules:?} {argv:?}");
                assert_eq!(u.check_id(id, spec, &args), full, "{rules:?} {argv:?}");
                assert_eq!(raw.check(spec, &args), full, "{rules:?} {argv:?}");
                if u.fast.allows(id, &args) {
                    assert_eq!(full, Ok(()), "fast path allowed {argv:?} for {rules:?}");
                }
            }
        }
        // Password and flag rules keep the plan; others drop it.
        let mut u = user(&users[0]);
        u.apply(b">pw", false).expect("valid");
        u.apply(b"OFF", false).expect("valid");
        assert!(u.fast.built);
        u.apply(b"~more:*", false).expect("valid");
        assert!(!u.fast.built);
        u.compile();
        assert!(u.fast.built);
        // The common cases take the plan, not the full check.
        let u = user(&users[0]);
        for argv in [
            &["get", "key:1"][..],
            &["set", "log:1", "v"],
            &["hset", "key:1", "f", "v"],
        ] {
            let owned = OwnedArgs::from_slices(argv.iter().map(|a| a.as_bytes()));
            let args = owned.as_args();
            let (_, id) = commands::resolve_id(&args).expect("known command");
            assert!(u.fast.allows(id, &args), "{argv:?}");
        }
        let u = user(&users[7]);
        for argv in [
            &["get", "averylongprefix:1"][..],
            &["get", "exactly-eight"],
            &["get", "1234567"],
            &["set", "x.tmp", "v"],
        ] {
            let owned = OwnedArgs::from_slices(argv.iter().map(|a| a.as_bytes()));
            let args = owned.as_args();
            let (_, id) = commands::resolve_id(&args).expect("known command");
            assert!(u.fast.allows(id, &args), "{argv:?}");
        }
    }

    #[test]
    fn key_pats_agree_with_glob() {
        let pats: &[&[u8]] = &[
            b"key:*",
            b"k*",
            b"key",
            b"exactly8",
            b"12345678*",
            b"averylongprefix:*",
            b"averylongname",
            b"*:suffix",
            b"*x",
            b"a?c*",
            b"",
            // Heads ending in NUL bytes: a shorter key's zero padding
            // must not match them.
            b"a\0*",
            b"\0\0",
        ];
        let keys: &[&[u8]] = &[
            b"",
            b"k",
            b"ke",
            b"key",
            b"key:",
            b"key:1",
            b"kex:1",
            b"exactly8",
            b"exactly9",
            b"exactly",
            b"exactly8x",
            b"12345678",
            b"1234567",
            b"123456789",
            b"averylongprefix:",
            b"averylongprefix",
            b"averylongprefiy:1",
            b"averylongname",
            b"averylongnamf",
            b"a:suffix",
            b":suffix",
            b"suffix",
            b"x",
            b"abcx",
            b"\xffx",
            b"a",
            b"a\0",
            b"\0",
            b"\0\0",
        ];
        // Every subset of the patterns up to size 3, so buckets share
        // first bytes and mix with wildcards.
        let n = pats.len();
        for a in 0..n {
            for b in a..n {
                for c in b..n {
                    let set = [pats[a], pats[b], pats[c]];
                    let kp = KeyPats::new(set.iter().map(|p| (*p, Shape::of(p))));
                    for k in keys {
                        let want = set.iter().any(|p| crate::glob::glob_match(p, k, false));
                        assert_eq!(kp.matches(k), want, "{set:?} {k:?}");
                    }
                }
            }
        }
        // More literal heads than the first-byte index holds.
        let many: Vec<Vec<u8>> = (0..300).map(|i| format!("p{i}:*").into_bytes()).collect();
        let kp = KeyPats::new(many.iter().map(|p| (p.as_slice(), Shape::of(p))));
        for k in ["p0:x", "p254:", "p299:y", "p300:x", "p1", "q1:"] {
            let want = many
                .iter()
                .any(|p| crate::glob::glob_match(p, k.as_bytes(), false));
            assert_eq!(kp.matches(k.as_bytes()), want, "{k}");
        }
    }
}
