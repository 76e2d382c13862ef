//! RESP wire format: the request parser (multibulk and inline), the reply
//! writer (RESP2, and RESP3 after `HELLO 3`) and the reply parser (replies
//! read back from peers).

pub mod parser;
pub mod reply;
pub mod response;

pub use parser::{
    Limits, ParseState, ParsedFrame, ProtocolError, parse_command, parse_command_resume,
};
pub use reply::Reply;
