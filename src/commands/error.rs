//! Command errors: an enum on the hot path, rendered to Redis's exact texts.

use std::fmt;

use crate::store::WrongType;

pub type CmdResult = Result<(), CmdError>;

/// A command failed; the dispatcher replies with `-{Display}`.
#[derive(Debug, Clone, PartialEq)]
pub enum CmdError {
    WrongType,
    /// `ERR value is not an integer or out of range`
    NotInteger,
    /// `ERR value is not a valid float`
    NotFloat,
    /// `ERR syntax error`
    Syntax,
    /// `ERR wrong number of arguments for '<name>' command`
    WrongArity(&'static str),
    /// `ERR no such key`
    NoSuchKey,
    /// `ERR DB index is out of range`
    DbIndexOutOfRange,
    /// `ERR increment or decrement would overflow`
    Overflow,
    /// `ERR invalid expire time in '<cmd>' command`
    InvalidExpire(&'static str),
    /// `ERR index out of range`
    IndexOutOfRange,
    /// Any other text, including its code (e.g. `ERR ...`, `NOPROTO ...`).
    Custom(String),
    Static(&'static str),
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            CmdError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CmdError::NotFloat => f.write_str("ERR value is not a valid float"),
            CmdError::Syntax => f.write_str("ERR syntax error"),
            CmdError::WrongArity(name) => {
                write!(f, "ERR wrong number of arguments for '{}' command", name)
            }
            CmdError::NoSuchKey => f.write_str("ERR no such key"),
            CmdError::DbIndexOutOfRange => f.write_str("ERR DB index is out of range"),
            CmdError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CmdError::InvalidExpire(cmd) => {
                write!(f, "ERR invalid expire time in '{}' command", cmd)
            }
            CmdError::IndexOutOfRange => f.write_str("ERR index out of range"),
            CmdError::Custom(s) => f.write_str(s),
            CmdError::Static(s) => f.write_str(s),
        }
    }
}

impl From<WrongType> for CmdError {
    fn from(_: WrongType) -> Self {
        CmdError::WrongType
    }
}

impl CmdError {
    /// Redis's addReplySubcommandSyntaxError: `container` is the upper-case
    /// parent (`PUBSUB`), the subcommand is shown as typed.
    pub fn subcommand_syntax(args: &super::Args, container: &str) -> CmdError {
        let sub = args.get(1).unwrap_or(b"");
        CmdError::Custom(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {container} HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        ))
    }
}
