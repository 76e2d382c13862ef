//! A script running past `busy-reply-threshold`: Redis's busy state. The
//! Lua count hook calls [`serve`] every 100,000 instructions from then on;
//! it accepts connections and reads the other clients' commands, which the
//! dispatcher answers `-BUSY ...` unless they are allowed while busy
//! (ALLOW_BUSY: SCRIPT KILL, FUNCTION KILL / STATS, SHUTDOWN NOSAVE),
//! and writes the replies - a mini event loop over the reactor's clients
//! without the reactor (which is on the stack, running the script).
//!
//! The socket events these reads and accepts consume stay queued in the
//! reactor's poll: afterwards it finds nothing new to read and goes on.

use std::io::ErrorKind;
use std::time::Instant;

use crate::commands::{CmdError, CommandSpec, flags};
use crate::server::Server;

/// The reply to others while an EVAL script is busy (shared.slowevalerr).
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// The same while a function is busy (shared.slowscripterr).
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// What the hook needs to serve clients: a handle on the reactor's poll
/// registry and duplicates of its listening sockets.
pub struct Io {
    registry: mio::Registry,
    listeners: Vec<std::net::TcpListener>,
    /// Listeners from this index on are `tls-port`'s.
    tls_from: usize,
}

/// The busy script, from the moment it passed the threshold.
pub struct Running {
    pub eval: bool,
    /// SHA1 or function name.
    pub name: String,
    /// The caller's command (FUNCTION STATS shows it).
    pub command: Vec<Vec<u8>>,
    pub started: Instant,
    /// The script ran a write command: SCRIPT KILL cannot stop it.
    pub wrote: bool,
    /// SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE asked it to stop.
    pub killed: bool,
    /// Stopped by SHUTDOWN NOSAVE: its effects are not propagated.
    pub shutdown: bool,
}

/// `Server::busy`.
#[derive(Default)]
pub struct Busy {
    io: Option<Io>,
    pub running: Option<Running>,
    /// (libraries, functions) while a function runs (the registry is out
    /// of the server then; FUNCTION STATS still counts them).
    pub libraries: (usize, usize),
}

impl Busy {
    /// Busy serving with the reactor's registry and listeners (without
    /// them a busy script still gets killed by nobody: it runs to its end).
    pub fn new(
        registry: &mio::Registry,
        listeners: &[mio::net::TcpListener],
        tls_from: usize,
    ) -> Busy {
        use std::os::fd::{AsRawFd, FromRawFd};
        let Ok(registry) = registry.try_clone() else {
            return Busy::default();
        };
        let mut dup = Vec::with_capacity(listeners.len());
        for l in listeners {
            // SAFETY: dup(2) of a valid listening socket; the new fd is
            // owned by the TcpListener built from it (closed on drop). It
            // shares the non-blocking file description with the original.
            let fd = unsafe { libc::dup(l.as_raw_fd()) };
            if fd < 0 {
                return Busy::default();
            }
            dup.push(unsafe { std::net::TcpListener::from_raw_fd(fd) });
        }
        Busy {
            io: Some(Io {
                registry,
                listeners: dup,
                tls_from,
            }),
            running: None,
            libraries: (0, 0),
        }
    }
}

/// The dispatcher's gate: the error for a command that may not run now.
pub fn reject(srv: &Server, spec: &CommandSpec) -> Option<&'static str> {
    let r = srv.busy.running.as_ref()?;
    if spec.has(flags::ALLOW_BUSY) {
        return None;
    }
    Some(if r.eval { BUSY_EVAL } else { BUSY_FUNCTION })
}

/// SCRIPT KILL (`eval`) / FUNCTION KILL: Redis's scriptKill.
pub fn kill(srv: &mut Server, eval: bool) -> Result<(), CmdError> {
    let Some(r) = srv.busy.running.as_mut() else {
        return Err(CmdError::Static(
            "NOTBUSY No scripts in execution right now.",
        ));
    };
    if r.wrote {
        return Err(CmdError::Static(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        ));
    }
    if eval != r.eval {
        return Err(CmdError::Static(if r.eval {
            BUSY_EVAL
        } else {
            BUSY_FUNCTION
        }));
    }
    r.killed = true;
    Ok(())
}

/// SHUTDOWN while busy: NOSAVE stops the script (its writes are not
/// propagated) and the server exits after it; anything else is refused.
pub fn shutdown(srv: &mut Server, nosave: bool) -> Result<(), CmdError> {
    let Some(r) = srv.busy.running.as_mut() else {
        return Ok(());
    };
    if !nosave {
        return Err(CmdError::Static(if r.eval {
            BUSY_EVAL
        } else {
            BUSY_FUNCTION
        }));
    }
    r.killed = true;
    r.shutdown = true;
    Ok(())
}

/// One round of the mini event loop: new connections, then every client
/// with input (its commands answered through the busy gate), replies
/// written as far as the sockets take them (the reactor writes the rest).
pub fn serve(srv: &mut Server) {
    let Some(io) = srv.busy.io.take() else {
        return;
    };
    for (i, l) in io.listeners.iter().enumerate() {
        loop {
            match l.accept() {
                Ok((stream, addr)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let stream = mio::net::TcpStream::from_std(stream);
                    let tls = i >= io.tls_from;
                    crate::server::reactor::add_client(srv, &io.registry, stream, addr, tls);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    }
    // The script's pending keyspace events belong to it: keep them out of
    // reach of the commands served meanwhile (sent when it ends).
    let held = std::mem::take(&mut srv.pubsub.notify.held);
    let notes = std::mem::take(&mut srv.store.notes.list);
    serve_clients(srv, &io.registry);
    let mut after = std::mem::replace(&mut srv.pubsub.notify.held, held);
    srv.pubsub.notify.held.append(&mut after);
    let mut later = std::mem::replace(&mut srv.store.notes.list, notes);
    srv.store.notes.list.append(&mut later);
    srv.busy.io = Some(io);
}

/// Reads, runs (through the busy gate) and answers every other client.
fn serve_clients(srv: &mut Server, registry: &mio::Registry) {
    let tokens: Vec<usize> = srv
        .clients
        .iter()
        .filter(|(_, c)| c.is_some())
        .map(|(t, _)| t)
        .collect();
    for token in tokens {
        let Some(mut c) = srv.clients.get_mut(token).and_then(Option::take) else {
            continue;
        };
        // Replies that may wait for an fsync (appendfsync always) go first,
        // from the reactor: this client's BUSY waits behind them. Other
        // replies queued earlier in the round are written now with it.
        let always = srv
            .aof
            .as_ref()
            .is_some_and(|a| a.policy == crate::config::AppendFsync::Always);
        let unsent = (always && c.unsent() > 0) || srv.held.contains(&token);
        // Cluster peers' relayed commands would run inside the script:
        // their input waits for the reactor.
        if c.park.is_none() && !c.close_asap && !c.peer {
            // EOF and errors are left for the reactor to find again.
            let _ = crate::server::reactor::read_once(&mut c, srv);
            crate::server::reactor::process_input(srv, &mut c);
        }
        if unsent {
            if !c.pending_write && !srv.held.contains(&token) {
                c.pending_write = true;
                srv.pending_writes.push(token);
            }
        } else {
            // The reactor's writer (TLS, sealed output, WRITABLE
            // registration); a dead socket is left for the reactor to close.
            let _ = crate::server::reactor::write_out(srv, registry, &mut c);
        }
        if let Some(slot) = srv.clients.get_mut(token) {
            *slot = Some(c);
        }
    }
}
