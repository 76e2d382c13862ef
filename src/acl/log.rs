//! The ACL LOG: recent denials (commands, keys, channels, failed AUTH),
//! newest first, similar ones within 60 s folded into one entry with a
//! count, bounded by `acllog-max-len` (Redis's addACLLogEntry).

use std::collections::VecDeque;

/// What was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Auth,
    Channel,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Auth => "auth",
            Reason::Channel => "channel",
        }
    }
}

/// Where the refused command ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogContext {
    Toplevel,
    Multi,
    Lua,
}

impl LogContext {
    pub fn name(self) -> &'static str {
        match self {
            LogContext::Toplevel => "toplevel",
            LogContext::Multi => "multi",
            LogContext::Lua => "lua",
        }
    }
}

/// One ACL LOG entry.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub count: u64,
    pub reason: Reason,
    pub context: LogContext,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// Unix ms of the last occurrence.
    pub ctime: u64,
    /// CLIENT LIST line of the last client.
    pub client_info: String,
}

/// Entries newer than this (ms) with the same reason, context, object and
/// user are folded together.
const GROUPING_MS: u64 = 60_000;

#[derive(Debug, Default)]
pub struct Log {
    /// Newest first.
    pub entries: VecDeque<LogEntry>,
}

impl Log {
    /// Adds an entry (or bumps a similar one among the 10 newest), then
    /// trims to `max_len`.
    pub fn add(&mut self, e: LogEntry, max_len: usize) {
        let found = self.entries.iter().take(10).position(|o| {
            o.reason == e.reason
                && o.context == e.context
                && o.ctime.abs_diff(e.ctime) <= GROUPING_MS
                && o.object == e.object
                && o.username == e.username
        });
        match found {
            Some(i) => {
                if let Some(mut o) = self.entries.remove(i) {
                    o.count += 1;
                    o.ctime = e.ctime;
                    o.client_info = e.client_info;
                    self.entries.push_front(o);
                }
            }
            None => {
                self.entries.push_front(e);
                self.entries.truncate(max_len);
            }
        }
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

/// Redis logs this warning for `+cmd|firstarg` rules.
pub(super) fn warn_first_arg(rule: &[u8]) {
    log::warn!(
        "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{})",
        String::from_utf8_lossy(rule)
    );
}

/// Redis's notice for a user configured without `on`.
pub(super) fn notice_disabled(name: &str) {
    log::info!(
        "The user '{name}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: &str, ctime: u64) -> LogEntry {
        LogEntry {
            count: 1,
            reason: Reason::Key,
            context: LogContext::Toplevel,
            object: object.as_bytes().to_vec(),
            username: b"u".to_vec(),
            ctime,
            client_info: String::new(),
        }
    }

    #[test]
    fn folds_similar_entries_and_trims() {
        let mut l = Log::default();
        l.add(entry("a", 1000), 3);
        l.add(entry("b", 1000), 3);
        l.add(entry("a", 2000), 3);
        assert_eq!(l.entries.len(), 2);
        assert_eq!(l.entries[0].object, b"a");
        assert_eq!(l.entries[0].count, 2);
        // Past the grouping window: a new entry.
        l.add(entry("a", 2000 + GROUPING_MS + 1), 3);
        assert_eq!(l.entries.len(), 3);
        l.add(entry("c", 100_000), 3);
        assert_eq!(l.entries.len(), 3);
        assert_eq!(l.entries[2].object, b"a");
    }
}
