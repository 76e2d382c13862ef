//! The slow log (SLOWLOG): commands that ran at least
//! `slowlog-log-slower-than` microseconds, newest first, at most
//! `slowlog-max-len`, each as Redis's slowlogCreateEntry stores it.

use std::collections::VecDeque;

use crate::commands::Args;
use crate::server::Client;

/// Redis's SLOWLOG_ENTRY_MAX_ARGC / SLOWLOG_ENTRY_MAX_STRING.
const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

#[derive(Debug, Clone)]
pub struct Entry {
    pub id: u64,
    /// Unix seconds.
    pub time: u64,
    pub usec: u64,
    pub argv: Vec<Vec<u8>>,
    pub peer: String,
    pub name: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct SlowLog {
    /// Newest first.
    pub entries: VecDeque<Entry>,
    next_id: u64,
}

impl SlowLog {
    /// slowlogPushEntryIfNeeded after the threshold check.
    pub fn push(&mut self, client: &Client, args: &Args, usec: u64, max_len: usize) {
        let redact = super::redacted(args);
        let argc = args.len().min(MAX_ARGC);
        let mut argv = Vec::with_capacity(argc);
        for j in 0..argc {
            if argc == MAX_ARGC && j == argc - 1 {
                let more = args.len() - argc + 1;
                argv.push(format!("... ({more} more arguments)").into_bytes());
                continue;
            }
            let a = super::shown_arg(args, &redact, j);
            if a.len() > MAX_STRING {
                let mut v = a[..MAX_STRING].to_vec();
                v.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                argv.push(v);
            } else {
                argv.push(a.to_vec());
            }
        }
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        // A script's client has no connection: Redis shows "?:0".
        let peer = if client.is_internal() {
            "?:0".to_string()
        } else {
            client.addr.to_string()
        };
        self.entries.push_front(Entry {
            id: self.next_id,
            time,
            usec,
            argv,
            peer,
            name: client.name.clone(),
        });
        self.next_id += 1;
        self.trim(max_len);
    }

    pub fn trim(&mut self, max_len: usize) {
        self.entries.truncate(max_len);
    }

    /// SLOWLOG RESET (ids keep counting, as in Redis).
    pub fn reset(&mut self) {
        self.entries.clear();
    }
}
