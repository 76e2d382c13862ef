//! RESP wire format: the request parser (multibulk and inline) and the reply
//! writer (RESP2, and RESP3 after `HELLO 3`).

pub mod parser;
pub mod reply;

pub use parser::{
    Limits, ParseState, ParsedFrame, ProtocolError, parse_command, parse_command_resume,
};
pub use reply::Reply;
