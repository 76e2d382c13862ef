//! Client-side caching (CLIENT TRACKING): which client read which key, BCAST
//! prefixes, and the invalidation messages sent when a key changes (writes,
//! expiry, flushes), as RESP3 pushes or, for a RESP2 client, as messages on
//! `__redis__:invalidate` to the client it redirects to. Keys changing are
//! learned from the store's choke point notes (see `notify`), after each
//! command (after the outermost one inside EXEC or a script: a rolled-back
//! one invalidates nothing). As in Redis 7.0, the running client's own
//! invalidations follow its whole reply, and BCAST invalidations are
//! collected per prefix (each key once, sorted) and sent once per
//! event-loop round ([`after_round`], Redis's
//! trackingBroadcastInvalidationMessages in beforeSleep).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use indexmap::IndexMap;

use crate::commands::{Args, CmdError, CommandSpec, docs};
use crate::resp::Reply;
use crate::server::{Client, Server};

/// A client's tracking mode (the client's `pubsub.tracking`).
#[derive(Debug, Default, Clone)]
pub struct ClientTracking {
    /// Client id invalidations go to, 0 = this client.
    pub redirect: u64,
    redirect_token: usize,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// CLIENT CACHING yes/no for the next command.
    pub caching: bool,
    pub broken_redirect: bool,
    pub prefixes: BTreeSet<Vec<u8>>,
}

#[derive(Debug, Default)]
struct Prefix {
    /// BCAST clients of this prefix: id -> token.
    clients: IndexMap<u64, usize>,
    /// Keys changed since the last broadcast -> who changed them last (0:
    /// the server), sorted like Redis's radix tree.
    pending: BTreeMap<Vec<u8>, u64>,
}

/// An invalidation held for the running client (see `Tracking::defer_me`).
type Deferred = (u64, usize, Option<Vec<Vec<u8>>>);

/// The server-wide tracking table.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Clients with tracking on.
    pub clients: usize,
    /// Key -> clients that may cache it (id -> token).
    table: HashMap<Vec<u8>, IndexMap<u64, usize>>,
    prefixes: BTreeMap<Vec<u8>, Prefix>,
    /// `tracking-table-max-keys` (0 = no limit), refreshed on CONFIG SET.
    pub max_keys: usize,
    /// While set, invalidations that would land in this client's buffer
    /// wait in `deferred` (its reply is being assembled).
    pub(crate) defer_me: Option<u64>,
    deferred: Vec<Deferred>,
    /// Some prefix has pending keys (a cheap check for `after_round`).
    bcast_pending: bool,
}

impl Tracking {
    /// INFO stats: tracked keys, (key, client) pairs, BCAST prefixes.
    pub fn totals(&self) -> (usize, usize, usize) {
        let items = self.table.values().map(IndexMap::len).sum();
        (self.table.len(), items, self.prefixes.len())
    }
}

/// The client `(id, token)`: the running one or one in the slab.
fn client_mut<'a>(
    clients: &'a mut slab::Slab<Option<Box<Client>>>,
    me: &'a mut Option<&mut Client>,
    id: u64,
    token: usize,
) -> Option<&'a mut Client> {
    if let Some(m) = me.as_deref_mut()
        && m.id == id
    {
        return Some(m);
    }
    match clients.get_mut(token) {
        Some(Some(c)) if c.id == id => Some(c),
        _ => None,
    }
}

/// Finds a connected client's token by id (the running one included).
fn token_of(srv: &Server, me: &Client, id: u64) -> Option<usize> {
    if me.id == id {
        return Some(me.token);
    }
    srv.clients
        .iter()
        .find_map(|(t, c)| c.as_ref().filter(|c| c.id == id).map(|_| t))
}

/// Redis's sendTrackingMessage: `keys` None is the null of a flush.
fn send(
    srv: &mut Server,
    me: &mut Option<&mut Client>,
    id: u64,
    token: usize,
    keys: Option<&[&[u8]]>,
) {
    let limits = srv.pubsub.limits;
    let now = std::time::Instant::now();
    let Some(c) = client_mut(&mut srv.clients, me, id, token) else {
        return;
    };
    let Some(t) = c.pubsub.tracking.as_ref() else {
        return;
    };
    let own_resp3 = c.reply.resp3;
    let (redirect, rtoken) = (t.redirect, t.redirect_token);
    let mut woken = (token != me.as_deref().map_or(usize::MAX, |m| m.token)).then_some(token);
    let mut target_id = id;
    let mut target_token = token;
    if redirect != 0 {
        if client_mut(&mut srv.clients, me, redirect, rtoken).is_none() {
            let Some(c) = client_mut(&mut srv.clients, me, id, token) else {
                return;
            };
            if let Some(t) = c.pubsub.tracking.as_mut() {
                t.broken_redirect = true;
            }
            if c.reply.resp3 {
                c.reply.push(2);
                c.reply.bulk(b"tracking-redir-broken");
                c.reply.int(redirect as i64);
            } else {
                woken = None;
            }
            if let Some(tok) = woken {
                srv.wake_writer(tok);
            }
            return;
        }
        target_id = redirect;
        target_token = rtoken;
        woken = (rtoken != me.as_deref().map_or(usize::MAX, |m| m.token)).then_some(rtoken);
    }
    if srv.pubsub.tracking.defer_me == Some(target_id) {
        let keys = keys.map(|k| k.iter().map(|k| k.to_vec()).collect());
        srv.pubsub.tracking.deferred.push((id, token, keys));
        return;
    }
    let Some(target) = client_mut(&mut srv.clients, me, target_id, target_token) else {
        return;
    };
    if target.close_asap {
        return;
    }
    let r: &mut Reply = &mut target.reply;
    if r.resp3 {
        r.push(2);
        r.bulk(b"invalidate");
    } else if redirect != 0 && target.pubsub.flag {
        r.array(3);
        r.bulk(b"message");
        r.bulk(b"__redis__:invalidate");
    } else {
        return;
    }
    match keys {
        Some(keys) => {
            r.array(keys.len());
            for k in keys {
                r.bulk(k);
            }
        }
        // The null of the tracking client's own protocol, as Redis sends.
        None if own_resp3 => r.raw(b"_\r\n"),
        None => r.raw(b"$-1\r\n"),
    }
    super::limits::check(&limits, target, now);
    if let Some(tok) = woken {
        srv.wake_writer(tok);
    }
}

/// Redis's trackingInvalidateKey: `key` changed (by client `by`, 0 = the
/// server itself).
fn invalidate_key(srv: &mut Server, me: &mut Option<&mut Client>, key: &[u8], by: u64) {
    let tr = &mut srv.pubsub.tracking;
    if !tr.prefixes.is_empty() {
        for (p, prefix) in tr.prefixes.iter_mut() {
            if key.starts_with(p) {
                prefix.pending.insert(key.to_vec(), by);
                tr.bcast_pending = true;
            }
        }
    }
    let Some(ids) = srv.pubsub.tracking.table.remove(key) else {
        return;
    };
    for (id, token) in ids {
        let Some(c) = client_mut(&mut srv.clients, me, id, token) else {
            continue;
        };
        // Tracking off since, or switched to BCAST: nothing to send.
        let Some(t) = c.pubsub.tracking.as_ref() else {
            continue;
        };
        if t.bcast || (t.noloop && id == by) {
            continue;
        }
        send(srv, me, id, token, Some(&[key]));
    }
}

/// Sends the pending BCAST invalidations, one message per client and
/// prefix: once per event-loop round, after every command of the round.
pub fn after_round(srv: &mut Server) {
    if !srv.pubsub.tracking.bcast_pending {
        return;
    }
    srv.pubsub.tracking.bcast_pending = false;
    let mut jobs: Vec<(u64, usize, Vec<Vec<u8>>)> = Vec::new();
    for prefix in srv.pubsub.tracking.prefixes.values_mut() {
        if prefix.pending.is_empty() {
            continue;
        }
        let pending = std::mem::take(&mut prefix.pending);
        for (&id, &token) in &prefix.clients {
            let noloop = match srv.clients.get(token) {
                Some(Some(c)) if c.id == id => c.pubsub.tracking.as_ref().is_some_and(|t| t.noloop),
                _ => continue,
            };
            let keys: Vec<Vec<u8>> = pending
                .iter()
                .filter(|(_, by)| !(noloop && **by == id))
                .map(|(k, _)| k.clone())
                .collect();
            if !keys.is_empty() {
                jobs.push((id, token, keys));
            }
        }
    }
    for (id, token, keys) in jobs {
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        send(srv, &mut None, id, token, Some(&refs));
    }
}

/// Sends the running client's invalidations held while its reply was
/// assembled (after it, in order).
pub fn send_deferred(srv: &mut Server, me: &mut Client) {
    let deferred = std::mem::take(&mut srv.pubsub.tracking.deferred);
    let mut me = Some(me);
    for (id, token, keys) in deferred {
        match keys {
            Some(keys) => {
                let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                send(srv, &mut me, id, token, Some(&refs));
            }
            None => send(srv, &mut me, id, token, None),
        }
    }
}

/// After a command (or a cron step): invalidate what changed, remember
/// what a tracking client read, apply `tracking-table-max-keys`.
pub fn after_command(
    srv: &mut Server,
    me: Option<&mut Client>,
    changed: &[Vec<u8>],
    flushed: bool,
    read: Option<(&'static CommandSpec, &Args)>,
) {
    let keys = match (&me, read) {
        (Some(m), Some((spec, args))) => read_keys(m, spec, args),
        _ => Vec::new(),
    };
    apply(srv, me, changed, flushed, &keys);
}

/// Invalidates `changed` (and everything on a flush), then remembers the
/// keys `read` by the running client.
pub fn apply(
    srv: &mut Server,
    mut me: Option<&mut Client>,
    changed: &[Vec<u8>],
    flushed: bool,
    read: &[Vec<u8>],
) {
    let by = me.as_deref().map_or(0, |m| m.id);
    if flushed {
        // Redis's trackingInvalidateKeysOnFlush: every tracking client gets
        // a null, and the table is dropped.
        let mut all: Vec<(u64, usize)> = srv
            .clients
            .iter()
            .filter_map(|(t, c)| {
                c.as_ref()
                    .filter(|c| c.pubsub.tracking.is_some())
                    .map(|c| (c.id, t))
            })
            .collect();
        if let Some(m) = me.as_deref()
            && m.pubsub.tracking.is_some()
        {
            all.push((m.id, m.token));
        }
        for (id, token) in all {
            send(srv, &mut me, id, token, None);
        }
        srv.pubsub.tracking.table.clear();
    }
    for key in changed {
        invalidate_key(srv, &mut me, key, by);
    }
    if let Some(m) = me.as_deref()
        && !read.is_empty()
    {
        for k in read {
            srv.pubsub
                .tracking
                .table
                .entry(k.clone())
                .or_default()
                .insert(m.id, m.token);
        }
    }
    let max = srv.pubsub.tracking.max_keys;
    while max > 0 && srv.pubsub.tracking.table.len() > max {
        let Some(key) = srv.pubsub.tracking.table.keys().next().cloned() else {
            break;
        };
        invalidate_key(srv, &mut me, &key, 0);
    }
}

/// Redis's trackingRememberKeys: the keys a read-only command read, if the
/// client tracks them (none otherwise). A read-only script's KEYS are not
/// what it read: Redis leaves them out, and its commands are the script's.
pub fn read_keys(c: &Client, spec: &'static CommandSpec, args: &Args) -> Vec<Vec<u8>> {
    if !spec.has(crate::commands::flags::READONLY)
        || matches!(spec.name, "eval_ro" | "evalsha_ro" | "fcall_ro")
    {
        return Vec::new();
    }
    declared_keys(c, spec, args)
}

/// The keys `args` names, if the client tracks what it reads now.
pub fn declared_keys(c: &Client, spec: &'static CommandSpec, args: &Args) -> Vec<Vec<u8>> {
    let Some(t) = c.pubsub.tracking.as_ref() else {
        return Vec::new();
    };
    if t.bcast || (t.optin && !t.caching) || (t.optout && t.caching) {
        return Vec::new();
    }
    let argv: Vec<&[u8]> = args.iter().collect();
    let Ok(keys) = docs::keys_of(docs::docs_for(spec), &argv) else {
        return Vec::new();
    };
    keys.into_iter()
        .filter_map(|(i, _)| argv.get(i).map(|k| k.to_vec()))
        .collect()
}

/// Whether the tracking part of `after_command` has anything to do.
pub fn active(srv: &Server) -> bool {
    srv.pubsub.tracking.clients > 0
}

/// Redis's stringCheckPrefix: one is a prefix of the other.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN]
/// [OPTOUT] [NOLOOP], with Redis 7.0's checks and texts.
pub fn client_tracking(srv: &mut Server, c: &mut Client, args: &Args) -> Result<(), CmdError> {
    let mut redirect: i64 = 0;
    let mut redirect_token = usize::MAX;
    let (mut bcast, mut optin, mut optout, mut noloop) = (false, false, false, false);
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        let more = j + 1 < args.len();
        if opt.eq_ignore_ascii_case(b"redirect") && more {
            j += 1;
            if redirect != 0 {
                return Err(CmdError::Static(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            redirect = crate::number::parse_i64(&args[j]).ok_or(CmdError::NotInteger)?;
            match (redirect > 0)
                .then(|| token_of(srv, c, redirect as u64))
                .flatten()
            {
                Some(t) => redirect_token = t,
                None => {
                    return Err(CmdError::Static(
                        "ERR The client ID you want redirect to does not exist",
                    ));
                }
            }
        } else if opt.eq_ignore_ascii_case(b"bcast") {
            bcast = true;
        } else if opt.eq_ignore_ascii_case(b"optin") {
            optin = true;
        } else if opt.eq_ignore_ascii_case(b"optout") {
            optout = true;
        } else if opt.eq_ignore_ascii_case(b"noloop") {
            noloop = true;
        } else if opt.eq_ignore_ascii_case(b"prefix") && more {
            j += 1;
            prefixes.push(&args[j]);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if args[2].eq_ignore_ascii_case(b"off") {
        disable(srv, c);
        c.reply.ok();
        return Ok(());
    }
    if !args[2].eq_ignore_ascii_case(b"on") {
        return Err(CmdError::Syntax);
    }
    if !bcast && !prefixes.is_empty() {
        return Err(CmdError::Static(
            "ERR PREFIX option requires BCAST mode to be enabled",
        ));
    }
    if let Some(t) = &c.pubsub.tracking
        && t.bcast != bcast
    {
        return Err(CmdError::Static(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if bcast && (optin || optout) {
        return Err(CmdError::Static(
            "ERR OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if optin && optout {
        return Err(CmdError::Static(
            "ERR You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if let Some(t) = &c.pubsub.tracking
        && ((optin && t.optout) || (optout && t.optin))
    {
        return Err(CmdError::Static(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if bcast {
        for (i, p) in prefixes.iter().enumerate() {
            if let Some(t) = &c.pubsub.tracking
                && let Some(old) = t.prefixes.iter().find(|o| overlap(o, p))
            {
                return Err(CmdError::Custom(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    lossy(p),
                    lossy(old)
                )));
            }
            if let Some(other) = prefixes[i + 1..].iter().find(|o| overlap(p, o)) {
                return Err(CmdError::Custom(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    lossy(p),
                    lossy(other)
                )));
            }
        }
    }
    // Redis's enableTracking.
    let was_on = c.pubsub.tracking.is_some();
    let t = c.pubsub.tracking.get_or_insert_with(Default::default);
    t.redirect = redirect as u64;
    t.redirect_token = redirect_token;
    t.broken_redirect = false;
    t.bcast = bcast;
    t.optin = optin;
    t.optout = optout;
    t.noloop = noloop;
    if bcast {
        if prefixes.is_empty() {
            prefixes.push(b"");
        }
        for p in prefixes {
            if t.prefixes.insert(p.to_vec()) {
                let entry = srv.pubsub.tracking.prefixes.entry(p.to_vec()).or_default();
                entry.clients.insert(c.id, c.token);
            }
        }
    }
    if !was_on {
        srv.pubsub.tracking.clients += 1;
        super::notify::refresh_recording(srv);
    }
    c.reply.ok();
    Ok(())
}

/// Redis's disableTracking (CLIENT TRACKING OFF, RESET, disconnection).
pub fn disable(srv: &mut Server, c: &mut Client) {
    let Some(t) = c.pubsub.tracking.take() else {
        return;
    };
    for p in &t.prefixes {
        let gone = srv.pubsub.tracking.prefixes.get_mut(p).is_some_and(|e| {
            e.clients.shift_remove(&c.id);
            e.clients.is_empty()
        });
        if gone {
            srv.pubsub.tracking.prefixes.remove(p);
        }
    }
    srv.pubsub.tracking.clients -= 1;
    super::notify::refresh_recording(srv);
}

/// CLIENT CACHING YES|NO.
pub fn client_caching(c: &mut Client, args: &Args) -> Result<(), CmdError> {
    let Some(t) = c.pubsub.tracking.as_mut() else {
        return Err(CmdError::Static(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    };
    let opt = &args[2];
    if opt.eq_ignore_ascii_case(b"yes") {
        if !t.optin {
            return Err(CmdError::Static(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if opt.eq_ignore_ascii_case(b"no") {
        if !t.optout {
            return Err(CmdError::Static(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    t.caching = true;
    c.reply.ok();
    Ok(())
}

/// CLIENT CACHING applies to the next command only (CLIENT commands and
/// MULTI queuing keep it), as Redis's resetClient.
pub fn after_command_reset(c: &mut Client) {
    if let Some(t) = c.pubsub.tracking.as_mut()
        && t.caching
        && c.multi.is_none()
        && !c.last_cmd.starts_with("client")
    {
        t.caching = false;
    }
}

/// CLIENT TRACKINGINFO.
pub fn client_trackinginfo(c: &mut Client) {
    let t = c.pubsub.tracking.clone();
    let r = &mut c.reply;
    r.map(3);
    r.bulk(b"flags");
    let mut flags: Vec<&[u8]> = Vec::new();
    match &t {
        None => flags.push(b"off"),
        Some(t) => {
            flags.push(b"on");
            if t.bcast {
                flags.push(b"bcast");
            }
            if t.optin {
                flags.push(b"optin");
                if t.caching {
                    flags.push(b"caching-yes");
                }
            }
            if t.optout {
                flags.push(b"optout");
                if t.caching {
                    flags.push(b"caching-no");
                }
            }
            if t.noloop {
                flags.push(b"noloop");
            }
            if t.broken_redirect {
                flags.push(b"broken_redirect");
            }
        }
    }
    r.set(flags.len());
    for f in flags {
        r.bulk(f);
    }
    r.bulk(b"redirect");
    r.int(t.as_ref().map_or(-1, |t| t.redirect as i64));
    r.bulk(b"prefixes");
    match &t {
        Some(t) => {
            r.array(t.prefixes.len());
            for p in &t.prefixes {
                r.bulk(p);
            }
        }
        None => r.array(0),
    }
}

/// CLIENT GETREDIR.
pub fn client_getredir(c: &mut Client) {
    let v = c.pubsub.tracking.as_ref().map_or(-1, |t| t.redirect as i64);
    c.reply.int(v);
}
