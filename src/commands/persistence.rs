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
        if c.in_exec {
            return Err(CmdError::Static(
                "ERR Background append only file rewriting not possible inside a transaction with appendonly no",
            ));
        }
        // With the AOF off Redis still writes a base and a manifest.
        crate::aof::rewrite_with_aof_off(srv).map_err(CmdError::Custom)?;
        c.reply
            .simple("Background append only file rewriting started");
        return Ok(());
    };
    if srv.rdb.bgsave_in_progress() {
        // The store has one snapshot walk: the rewrite starts after it.
        aof.rewrite_scheduled = true;
        c.reply
            .simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    if aof.rewrite_in_progress() {
        return Err(CmdError::Static(
            "ERR Background append only file rewriting already in progress",
        ));
    }
    // Like Redis: never inside EXEC (the transaction's propagation must
    // stay one unit in one file); the cron starts it right after.
    if c.in_exec {
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
