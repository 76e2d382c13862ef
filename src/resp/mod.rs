//! RESP wire format: the request parser (multibulk and inline) and the reply
//! writer (RESP2, and RESP3 after `HELLO 3`).

pub mod parser;
pub mod reply;

pub use parser::{Limits, ParsedFrame, ProtocolError, parse_command};
pub use reply::Reply;
