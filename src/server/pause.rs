//! CLIENT PAUSE / UNPAUSE: while a pause lasts, the commands it covers are
//! postponed - not executed, the client parked with the command still in
//! its query buffer - and run in order when the pause ends (by timeout,
//! checked every cron tick, or CLIENT UNPAUSE). `ALL` covers every command
//! (CLIENT UNPAUSE too, as in Redis 7.0); `WRITE` covers write commands,
//! commands that may replicate (PUBLISH, EVAL...) and an EXEC whose queue
//! holds one. Expiry is paused as well: expired keys look missing to
//! readers but are not deleted (no DEL reaches the AOF) until it ends.

use std::time::{Duration, Instant};

use super::{Client, Park, Server};
use crate::commands::{CommandSpec, flags};

/// Park reason of a postponed client.
const PAUSED: &str = "paused";

/// The pause in force.
#[derive(Debug, Clone, Copy)]
pub struct Pause {
    pub until: Instant,
    /// ALL (every command) rather than WRITE.
    pub all: bool,
}

impl Server {
    /// CLIENT PAUSE: the mode is replaced, the end is the later of the old
    /// and the new one (Redis's pauseClients).
    pub fn pause_clients(&mut self, for_ms: u64, all: bool) {
        let until = Instant::now() + Duration::from_millis(for_ms);
        let until = match self.pause {
            Some(p) if p.until > until => p.until,
            _ => until,
        };
        self.pause = Some(Pause { until, all });
        self.store.expiry_paused = true;
    }

    /// CLIENT UNPAUSE, or the end of the pause: postponed clients resume.
    pub fn unpause_clients(&mut self) {
        self.pause = None;
        self.store.expiry_paused = false;
        for token in std::mem::take(&mut self.paused) {
            if let Some(Some(c)) = self.clients.get_mut(token)
                && c.park == Some(Park::Waiting(PAUSED))
            {
                c.park = None;
                self.unparked.push(token);
            }
        }
    }

    /// Cron: ends a pause whose time is up.
    pub fn pause_tick(&mut self) {
        if self.pause.is_some_and(|p| p.until <= Instant::now()) {
            self.unpause_clients();
        }
    }

    /// Dispatch: true if `spec` from `c` must wait for the pause to end; the
    /// client is then parked with the command left unexecuted.
    #[inline]
    pub fn postpone_if_paused(&mut self, c: &mut Client, spec: &'static CommandSpec) -> bool {
        let Some(p) = self.pause else {
            return false;
        };
        if p.until <= Instant::now() {
            self.unpause_clients();
            return false;
        }
        let covered = p.all || writes(c, spec);
        if !covered || c.is_internal() {
            return false;
        }
        c.deferred = true;
        c.park = Some(Park::Waiting(PAUSED));
        self.paused.push(c.token);
        true
    }
}

/// True for a command that may write (or replicate): a write command,
/// PUBLISH/EVAL..., or an EXEC whose queue holds one.
#[inline]
pub fn writes(c: &Client, spec: &CommandSpec) -> bool {
    spec.has(flags::WRITE | flags::MAY_REPLICATE)
        || (spec.name == "exec"
            && c.multi.as_ref().is_some_and(|m| {
                m.queue
                    .iter()
                    .any(|(s, _)| s.has(flags::WRITE | flags::MAY_REPLICATE))
            }))
}
