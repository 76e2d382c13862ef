//! MIGRATE (Redis 7.0's cluster.c `migrateCommand`): owns the command, its
//! key extractor, the worker threads that talk to the target and the cache
//! of connections to targets.
//!
//! The handler runs on the reactor only to parse, look the keys up and
//! serialize them (DUMP payloads from `crate::rdb`, sent as RESTORE with
//! the remaining TTL and REPLACE, after AUTH/AUTH2 and SELECT). It then
//! parks the client and hands the bytes to a worker thread, which does
//! every network step with `timeout` ms for connect, each write and each
//! read, and posts a `Notice::Migrate` back. The reactor then deletes the
//! acknowledged keys (unless COPY) with a DEL through the choke point, so
//! the AOF, keyspace notifications, tracking and WATCH see a DEL, and
//! answers the client.
//!
//! A key written by anyone while its migration was in flight is *not*
//! deleted: the target got the value that was dumped, and deleting the
//! newer local value would lose a write. Each key is watched in the store's
//! WATCH registry under an id of its own for the duration (bit 62 set, so
//! never a client id or the cluster's bit-63 watch ids).

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::flags::*;
use super::{Args, CmdError, CmdResult, CommandSpec, OwnedArgs};
use crate::server::{Client, Notice, Park, Server};
use crate::store::Key;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "migrate",
    -6,
    WRITE,
    (3, 3, 1),
    migrate,
    "generic",
)
.doc(
    "2.6.0",
    "Atomically transfer a key from a Redis instance to another one.",
    "host port <key | \"\"> destination-db timeout [COPY] [REPLACE] [AUTH password | AUTH2 username password] [KEYS key [key ...]]",
)
.keys_fn(migrate_keys)];

/// Why a migrating client is parked.
pub const MIGRATING: &str = "migrate";

/// Redis's MIGRATE_SOCKET_CACHE_ITEMS and MIGRATE_SOCKET_CACHE_TTL.
const CACHE_ITEMS: usize = 64;
const CACHE_TTL: Duration = Duration::from_secs(10);
/// Redis reads each reply line into a 1024-byte buffer.
const LINE_MAX: usize = 1024;
/// Writes go out in 64 KiB chunks, each with its own timeout (as Redis).
const WRITE_CHUNK: usize = 64 * 1024;
/// Watch ids of keys in flight: bit 62 set.
const WATCH_BASE: u64 = 1 << 62;

const ERR_CONNECT: &str = "IOERR error or timeout connecting to the client";
const ERR_WRITING: &str = "IOERR error or timeout writing to target instance";
const ERR_READING: &str = "IOERR error or timeout reading to target instance";

/// Key positions of a MIGRATE argv as Redis 7.0 reports them: the key
/// specs first (the `key` argument; the KEYS keyword searched from the
/// second-to-last argument backwards), and when that keyword spec matches
/// (it is INCOMPLETE) Redis's `migrateGetKeys`, which skips the arguments
/// of AUTH / AUTH2 and wants the `key` argument empty.
pub fn migrate_keys(argv: &[&[u8]]) -> Vec<(usize, bool)> {
    let argc = argv.len();
    if argc < 4 {
        return Vec::new();
    }
    let keyword = (1..argc - 1)
        .rev()
        .any(|i| argv[i].eq_ignore_ascii_case(b"keys"));
    if !keyword {
        return vec![(3, false)];
    }
    let (mut first, mut num) = (3, 1);
    if argc > 6 {
        let mut i = 6;
        while i < argc {
            let a = argv[i];
            if a.eq_ignore_ascii_case(b"keys") {
                if !argv[3].is_empty() {
                    return Vec::new();
                }
                first = i + 1;
                num = argc - first;
                break;
            } else if a.eq_ignore_ascii_case(b"auth") {
                i += 1;
            } else if a.eq_ignore_ascii_case(b"auth2") {
                i += 2;
            }
            i += 1;
        }
    }
    (first..first + num).map(|i| (i, false)).collect()
}

/// A cached connection to a target.
struct Conn {
    stream: TcpStream,
    /// Bytes read past the last reply line.
    buf: Vec<u8>,
    /// The database the target has selected (-1: unknown).
    last_dbid: i64,
    last_use: Instant,
}

/// Idle connections by `host:port`, shared with the workers (a worker
/// takes one out while it uses it).
#[derive(Default, Clone)]
pub struct Cache(Arc<Mutex<HashMap<Vec<u8>, Conn>>>);

impl Cache {
    /// INFO `migrate_cached_sockets`.
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes connections idle for more than 10 s (the cron calls this).
    pub fn prune(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.retain(|_, c| c.last_use.elapsed() <= CACHE_TTL);
        }
    }

    fn take(&self, name: &[u8]) -> Option<Conn> {
        self.0.lock().ok()?.remove(name)
    }

    fn put(&self, name: Vec<u8>, conn: Conn) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= CACHE_ITEMS && !m.contains_key(&name) {
                // Full: drop any one (Redis drops a random entry).
                if let Some(k) = m.keys().next().cloned() {
                    m.remove(&k);
                }
            }
            m.insert(name, conn);
        }
    }
}

/// A key in flight.
struct Moving {
    key: Key,
    watch_id: u64,
}

/// A migration in flight, by operation id.
struct Pending {
    client: u64,
    db: usize,
    copy: bool,
    keys: Vec<Moving>,
}

/// What the reactor keeps of migrations.
#[derive(Default)]
pub struct State {
    pub cache: Cache,
    pending: HashMap<u64, Pending>,
    next_id: u64,
}

/// A worker's answer.
#[derive(Debug)]
pub struct Done {
    id: u64,
    /// Per key sent: the target stored it.
    acked: Vec<bool>,
    /// None: +OK; else the error text.
    error: Option<String>,
}

/// What a worker needs.
struct Job {
    id: u64,
    host: Vec<u8>,
    port: Vec<u8>,
    timeout: Duration,
    /// (username, password) for AUTH / AUTH2.
    auth: Option<(Option<Vec<u8>>, Vec<u8>)>,
    dbid: i64,
    /// The RESTORE commands, one per key, already encoded.
    restores: Vec<u8>,
    nkeys: usize,
}

fn migrate(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (mut copy, mut replace) = (false, false);
    let mut auth: Option<(Option<Vec<u8>>, Vec<u8>)> = None;
    let (mut first_key, mut num_keys) = (3, 1);
    let mut j = 6;
    while j < args.len() {
        let a = &args[j];
        let more = args.len() - 1 - j;
        if a.eq_ignore_ascii_case(b"copy") {
            copy = true;
        } else if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if a.eq_ignore_ascii_case(b"auth") {
            if more == 0 {
                return Err(CmdError::Syntax);
            }
            j += 1;
            auth = Some((None, args[j].to_vec()));
        } else if a.eq_ignore_ascii_case(b"auth2") {
            if more < 2 {
                return Err(CmdError::Syntax);
            }
            auth = Some((Some(args[j + 1].to_vec()), args[j + 2].to_vec()));
            j += 2;
        } else if a.eq_ignore_ascii_case(b"keys") {
            if !args[3].is_empty() {
                return Err(CmdError::Static(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            first_key = j + 1;
            num_keys = args.len() - j - 1;
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let timeout = crate::number::parse_i64(&args[5]).ok_or(CmdError::NotInteger)?;
    let dbid = crate::number::parse_i64(&args[4]).ok_or(CmdError::NotInteger)?;
    let timeout = if timeout <= 0 { 1000 } else { timeout };
    // The network round trip must not run on the reactor, and a client
    // inside EXEC or a script cannot wait for it.
    if c.in_transaction() || c.is_internal() {
        return Err(CmdError::Static(
            "ERR MIGRATE is not supported inside MULTI/EXEC or scripts by memkv",
        ));
    }
    let opts = crate::rdb::save_opts(&srv.config);
    let now = srv.store.now();
    let mut restores = Vec::new();
    let mut found: Vec<&[u8]> = Vec::new();
    for key in (first_key..first_key + num_keys).map(|i| &args[i]) {
        let payload = match srv.store.lookup_read(c.db, key) {
            None => continue,
            Some(v) => crate::rdb::save::dump_payload(v, &opts),
        };
        let ttl = match srv.store.expiry(c.db, key) {
            Some(at) => at.saturating_sub(now).max(1),
            None => 0,
        };
        let ttl = ttl.to_string();
        let mut argv: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), &payload];
        if replace {
            argv.push(b"REPLACE");
        }
        crate::cluster::relay::encode_command(&mut restores, argv.into_iter());
        found.push(key);
    }
    if found.is_empty() {
        c.reply.simple("NOKEY");
        return Ok(());
    }
    let st = &mut srv.migrate;
    st.next_id += 1;
    let id = st.next_id;
    let mut keys = Vec::with_capacity(found.len());
    for key in &found {
        st.next_id += 1;
        keys.push(Moving {
            key: Key::new(key),
            watch_id: WATCH_BASE | st.next_id,
        });
    }
    let nkeys = keys.len();
    st.pending.insert(
        id,
        Pending {
            client: c.id,
            db: c.db,
            copy,
            keys,
        },
    );
    let cache = srv.migrate.cache.clone();
    if let Some(p) = srv.migrate.pending.get(&id) {
        for m in &p.keys {
            srv.store.watch(m.watch_id, p.db, &m.key);
        }
    }
    let job = Job {
        id,
        host: args[1].to_vec(),
        port: args[2].to_vec(),
        timeout: Duration::from_millis(timeout as u64),
        auth,
        dbid,
        restores,
        nkeys,
    };
    let notifier = srv.notifier.clone();
    let spawned = std::thread::Builder::new()
        .name("memkv-migrate".into())
        .spawn(move || {
            let done = run(&cache, job);
            notifier.send(Notice::Migrate(done));
        });
    if spawned.is_err() {
        forget(srv, id);
        return Err(CmdError::Static(ERR_CONNECT));
    }
    c.park = Some(Park::Waiting(MIGRATING));
    c.argv_mem = args.iter().map(<[u8]>::len).sum();
    Ok(())
}

/// Drops a pending migration and its watches.
fn forget(srv: &mut Server, id: u64) -> Option<Pending> {
    let p = srv.migrate.pending.remove(&id)?;
    for m in &p.keys {
        let slot = [(p.db, m.key.clone())];
        srv.store.unwatch_all(m.watch_id, slot.iter());
    }
    Some(p)
}

/// A worker's answer on the reactor: delete what the target stored (and
/// nobody changed meanwhile), answer the client and let it go on.
pub fn finished(srv: &mut Server, done: Done) {
    let Some(p) = srv.migrate.pending.get(&done.id) else {
        return;
    };
    let mut delete: Vec<Key> = Vec::new();
    if !p.copy {
        let ids: Vec<(u64, usize, Key)> = p
            .keys
            .iter()
            .zip(&done.acked)
            .filter(|(_, ok)| **ok)
            .map(|(m, _)| (m.watch_id, p.db, m.key.clone()))
            .collect();
        for (wid, db, key) in ids {
            let slot = [(db, key.clone())];
            if !srv.store.watch_failed(wid, slot.iter()) {
                delete.push(key);
            }
        }
    }
    let Some(p) = forget(srv, done.id) else {
        return;
    };
    if !delete.is_empty() {
        // DEL through dispatch: the choke point, the AOF, notifications.
        let mut tmp = Client::internal(p.client);
        tmp.db = p.db;
        let argv =
            OwnedArgs::from_slices(std::iter::once(&b"DEL"[..]).chain(delete.iter().map(|k| &**k)));
        let a = argv.as_args();
        if let Ok(spec) = super::resolve(&a) {
            let _ = super::call(srv, &mut tmp, spec, &a);
        }
    }
    let Some(&token) = srv.client_ids.get(&p.client) else {
        return; // the client left; its keys moved all the same
    };
    let Some(Some(c)) = srv.clients.get_mut(token) else {
        return;
    };
    if c.park != Some(Park::Waiting(MIGRATING)) {
        return;
    }
    match &done.error {
        None => c.reply.ok(),
        Some(e) => c.reply.error(e),
    }
    c.park = None;
    c.argv_mem = 0;
    srv.unparked.push(token);
    srv.wake_writer(token);
}

/// Redis's `atoi` on the port argument (leading digits, else 0).
fn atoi_port(p: &[u8]) -> u16 {
    let s = std::str::from_utf8(p).unwrap_or("").trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: u64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
    }
    let n = if neg { n.wrapping_neg() } else { n };
    n as u16
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Opens a connection: None when the address does not resolve (Redis's
/// "connecting" error); a failed connect is an error of the first write,
/// as in Redis (its non-blocking connect "succeeds" and the write fails).
fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Option<std::io::Result<Conn>> {
    let host = std::str::from_utf8(host).ok()?;
    let addr = (host, atoi_port(port)).to_socket_addrs().ok()?.next()?;
    Some(TcpStream::connect_timeout(&addr, timeout).and_then(|s| {
        s.set_nodelay(true)?;
        Ok(Conn {
            stream: s,
            buf: Vec::new(),
            last_dbid: -1,
            last_use: Instant::now(),
        })
    }))
}

impl Conn {
    fn write_all(&mut self, bytes: &[u8], timeout: Duration) -> std::io::Result<()> {
        self.stream.set_write_timeout(Some(timeout))?;
        for chunk in bytes.chunks(WRITE_CHUNK) {
            self.stream.write_all(chunk)?;
        }
        Ok(())
    }

    /// One reply line without its CRLF (at most 1023 bytes, like Redis's
    /// syncReadLine into a 1024-byte buffer).
    fn read_line(&mut self, timeout: Duration) -> std::io::Result<Vec<u8>> {
        self.stream.set_read_timeout(Some(timeout))?;
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() >= LINE_MAX - 1 {
                return Ok(self.buf.drain(..LINE_MAX - 1).collect());
            }
            let mut chunk = [0u8; 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// The worker: Redis's migrateCommand from "try_again" on, including its
/// one retry on a fresh connection after a socket error that is not a
/// timeout and happened before any RESTORE was answered.
fn run(cache: &Cache, job: Job) -> Done {
    let mut name = job.host.clone();
    name.push(b':');
    name.extend_from_slice(&job.port);
    let mut may_retry = true;
    let mut acked = vec![false; job.nkeys];
    loop {
        let conn = match cache.take(&name) {
            Some(c) => Ok(c),
            None => match connect(&job.host, &job.port, job.timeout) {
                None => {
                    return Done {
                        id: job.id,
                        acked,
                        error: Some(ERR_CONNECT.into()),
                    };
                }
                Some(c) => c,
            },
        };
        let mut cmd = Vec::new();
        if let Some((user, pass)) = &job.auth {
            let mut argv: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(u) = user {
                argv.push(u);
            }
            argv.push(pass);
            crate::cluster::relay::encode_command(&mut cmd, argv.into_iter());
        }
        let select = conn.as_ref().map_or(true, |c| c.last_dbid != job.dbid);
        if select {
            let db = job.dbid.to_string();
            crate::cluster::relay::encode_command(
                &mut cmd,
                [&b"SELECT"[..], db.as_bytes()].into_iter(),
            );
        }
        cmd.extend_from_slice(&job.restores);
        // Write everything, then read the replies (as Redis).
        let written = conn.and_then(|mut c| c.write_all(&cmd, job.timeout).map(|()| c));
        let mut conn = match written {
            Ok(c) => c,
            Err(e) => {
                if !is_timeout(&e) && may_retry {
                    may_retry = false;
                    continue;
                }
                return Done {
                    id: job.id,
                    acked,
                    error: Some(ERR_WRITING.into()),
                };
            }
        };
        let t = job.timeout;
        // The AUTH and SELECT replies, when sent.
        let heads = (|| {
            let a = job.auth.is_some().then(|| conn.read_line(t)).transpose()?;
            let s = select.then(|| conn.read_line(t)).transpose()?;
            Ok::<_, std::io::Error>((a, s))
        })();
        let (auth_line, select_line) = match heads {
            Ok(h) => h,
            Err(e) => {
                if !is_timeout(&e) && may_retry {
                    may_retry = false;
                    continue;
                }
                return io_reading(job.id, acked);
            }
        };
        let is_err = |l: &Option<Vec<u8>>| l.as_ref().is_some_and(|l| l.first() == Some(&b'-'));
        let mut error: Option<String> = None;
        let mut socket_error: Option<std::io::Error> = None;
        let mut answered = 0;
        for ack in acked.iter_mut() {
            let line = match conn.read_line(t) {
                Ok(l) => l,
                Err(e) => {
                    socket_error = Some(e);
                    break;
                }
            };
            answered += 1;
            if is_err(&auth_line) || is_err(&select_line) || line.first() == Some(&b'-') {
                if error.is_none() {
                    conn.last_dbid = -1;
                    let from = if is_err(&auth_line) {
                        auth_line.as_deref().unwrap_or_default()
                    } else if is_err(&select_line) {
                        select_line.as_deref().unwrap_or_default()
                    } else {
                        &line
                    };
                    error = Some(format!(
                        "ERR Target instance replied with error: {}",
                        String::from_utf8_lossy(&from[1..])
                    ));
                }
            } else {
                *ack = true;
            }
        }
        if let Some(e) = socket_error {
            if error.is_none() && answered == 0 && may_retry && !is_timeout(&e) {
                may_retry = false;
                continue;
            }
            // The connection is dropped (not cached).
            return Done {
                id: job.id,
                acked,
                error: error.or_else(|| Some(ERR_READING.into())),
            };
        }
        if error.is_none() {
            conn.last_dbid = job.dbid;
        }
        conn.last_use = Instant::now();
        cache.put(name, conn);
        return Done {
            id: job.id,
            acked,
            error,
        };
    }
}

fn io_reading(id: u64, acked: Vec<bool>) -> Done {
    Done {
        id,
        acked,
        error: Some(ERR_READING.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(s: &str) -> Vec<usize> {
        let v: Vec<&[u8]> = s
            .split(' ')
            .map(|p| if p == "''" { &b""[..] } else { p.as_bytes() })
            .collect();
        migrate_keys(&v).into_iter().map(|(i, _)| i).collect()
    }

    #[test]
    fn keys_like_redis_7_0() {
        assert_eq!(keys("migrate h 1 k 0 5"), vec![3]);
        assert_eq!(keys("migrate h 1 '' 0 5 KEYS a b"), vec![7, 8]);
        assert_eq!(keys("migrate h 1 '' 0 5 KEYS"), vec![3]);
        assert_eq!(keys("migrate h 1 k 0 5 KEYS a b"), Vec::<usize>::new());
        assert_eq!(keys("migrate h 1 '' 0 5 AUTH KEYS KEYS a b"), vec![9, 10]);
        assert_eq!(keys("migrate h 1 '' 0 5 AUTH KEYS a"), vec![3]);
        assert_eq!(keys("migrate h 1 '' 0 5 AUTH2 KEYS x KEYS a"), vec![10]);
        assert_eq!(keys("migrate h 1 '' 0 5 KEYS KEYS a"), vec![7, 8]);
        assert_eq!(keys("migrate h 1 k 0 5 KEYS KEYS a"), Vec::<usize>::new());
    }

    #[test]
    fn port_is_atoi() {
        assert_eq!(atoi_port(b"6379"), 6379);
        assert_eq!(atoi_port(b"abc"), 0);
        assert_eq!(atoi_port(b"12x"), 12);
    }
}
