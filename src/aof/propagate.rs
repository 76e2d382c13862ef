//! Propagation: what actually executed, as RESP commands for the AOF.
//!
//! The dispatcher appends every write command that changed something; a
//! handler whose command is not deterministic on replay (relative expiry,
//! INCRBYFLOAT, blocking pops...) substitutes its own form with
//! [`Propagation::rewrite_as`]. Keys deleted by expiry become `DEL`. A
//! `SELECT` is written whenever the database changes.

use crate::commands::{Args, OwnedArgs};

/// The pending propagation of the current poll round.
#[derive(Debug, Default)]
pub struct Propagation {
    /// Off while no AOF is on, and while loading one.
    pub enabled: bool,
    /// Encoded commands not yet handed to the writer.
    pub buf: Vec<u8>,
    /// Database of the last command written to the current file.
    selected: Option<usize>,
    /// What the running command propagates instead of its own argv.
    replacement: Option<Vec<OwnedArgs>>,
}

impl Propagation {
    /// A handler asks for `cmds` to be propagated instead of its argv
    /// (an empty list propagates nothing).
    pub fn rewrite_as(&mut self, cmds: Vec<OwnedArgs>) {
        if self.enabled {
            self.replacement = Some(cmds);
        }
    }

    /// Convenience for a single replacement command.
    pub fn rewrite_as_one<I, T>(&mut self, parts: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        if self.enabled {
            self.replacement = Some(vec![OwnedArgs::from_slices(parts)]);
        }
    }

    /// Drops a replacement the running command asked for (it failed or
    /// changed nothing).
    #[inline]
    pub fn clear_replacement(&mut self) {
        self.replacement = None;
    }

    /// Appends the command that just ran in `db` (or its replacement).
    pub fn command(&mut self, db: usize, args: &Args) {
        match self.replacement.take() {
            Some(list) => {
                for a in &list {
                    self.append(db, a.as_args().iter());
                }
            }
            None => self.append(db, args.iter()),
        }
    }

    /// A key removed by expiry.
    pub fn del(&mut self, db: usize, key: &[u8]) {
        if self.enabled {
            self.append(db, [&b"DEL"[..], key].into_iter());
        }
    }

    /// Appends one command, preceded by SELECT when the database changes.
    pub fn append<'a>(&mut self, db: usize, parts: impl Iterator<Item = &'a [u8]> + Clone) {
        if self.selected != Some(db) {
            let n = db.to_string();
            encode_into(&mut self.buf, [&b"SELECT"[..], n.as_bytes()].into_iter());
            self.selected = Some(db);
        }
        encode_into(&mut self.buf, parts);
    }

    /// The next command goes to a new file: SELECT must be written again.
    pub fn reset_selected(&mut self) {
        self.selected = None;
    }

    /// A position to return to (see [`Propagation::restore`]).
    pub fn mark(&self) -> (usize, Option<usize>) {
        (self.buf.len(), self.selected)
    }

    /// Forgets everything appended since `mark` (a rolled-back EXEC).
    pub fn restore(&mut self, mark: (usize, Option<usize>)) {
        self.buf.truncate(mark.0);
        self.selected = mark.1;
    }

    /// Wraps everything appended since `mark` in MULTI ... EXEC, so a
    /// transaction is replayed as one unit.
    pub fn wrap_multi(&mut self, mark: (usize, Option<usize>)) {
        if self.buf.len() <= mark.0 {
            return;
        }
        let multi = b"*1\r\n$5\r\nMULTI\r\n";
        self.buf.splice(mark.0..mark.0, multi.iter().copied());
        self.buf.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
    }

    /// Takes the round's batch.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

/// Encodes argv as a RESP multibulk command.
pub fn encode_into<'a>(out: &mut Vec<u8>, parts: impl Iterator<Item = &'a [u8]> + Clone) {
    use std::io::Write;
    // Formatting into the Vec directly: no allocation per argument.
    let n = parts.clone().count();
    let _ = write!(out, "*{n}\r\n");
    for p in parts {
        let _ = write!(out, "${}\r\n", p.len());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_only_on_change_and_multi_wrap() {
        let mut p = Propagation {
            enabled: true,
            ..Default::default()
        };
        let a = OwnedArgs::from_slices(["SET", "k", "v"]);
        p.command(0, &a.as_args());
        let m = p.mark();
        p.command(0, &a.as_args());
        p.wrap_multi(m);
        let s = String::from_utf8(p.take()).unwrap();
        assert_eq!(
            s,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
             *1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nEXEC\r\n"
        );
    }
}
