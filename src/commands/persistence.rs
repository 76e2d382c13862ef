//! Persistence commands: BGREWRITEAOF (the AOF itself lives in `crate::aof`).

use super::flags::*;
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::server::{Client, Server};

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "bgrewriteaof",
    1,
    ADMIN | NOSCRIPT,
    (0, 0, 0),
    bgrewriteaof,
    "server",
)
.doc(
    "1.0.0",
    "Asynchronously rewrites the append-only file to disk.",
    "",
)];

fn bgrewriteaof(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let Some(aof) = srv.aof.as_mut() else {
        // Redis answers the same way when AOF is off: it writes a fresh AOF
        // only once turned on; memkv needs the AOF on to rewrite it.
        return Err(CmdError::Static(
            "ERR Background append only file rewriting is only possible with appendonly yes",
        ));
    };
    if aof.rewrite_in_progress() {
        aof.rewrite_scheduled = true;
        c.reply
            .simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    crate::aof::start_rewrite(srv).map_err(CmdError::Custom)?;
    c.reply
        .simple("Background append only file rewriting started");
    Ok(())
}
