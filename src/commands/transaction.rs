//! MULTI / EXEC / DISCARD / WATCH / UNWATCH.
//!
//! Queuing happens in the dispatcher ([`super::execute`]); EXEC runs the
//! queue as one step of the reactor, so no other client runs in between.
//! With `multi-rollback yes` (the default) a runtime error makes EXEC undo
//! every change of the transaction through the store's journal (and the
//! subscriptions it changed; nothing it did is announced to subscribers or
//! tracking clients) and answer an EXECABORT error naming the failing
//! command; with `no` it behaves exactly like Redis (errors in their slots,
//! the rest applied).

use super::flags::*;
use super::{Args, CmdError, CmdResult, CommandSpec, call};
use crate::server::client::MultiState;
use crate::server::{Client, Server};
use crate::store::Key;

const TXN: u32 = NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, TXN, (0, 0, 0), multi, "transactions").doc(
        "1.2.0",
        "Starts a transaction.",
        "",
    ),
    CommandSpec::new(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | super::flags::SKIP_SLOWLOG,
        (0, 0, 0),
        exec,
        "transactions",
    )
    .doc("1.2.0", "Executes all commands in a transaction.", ""),
    CommandSpec::new("discard", 1, TXN, (0, 0, 0), discard, "transactions").doc(
        "2.0.0",
        "Discards a transaction.",
        "",
    ),
    CommandSpec::new("watch", -2, TXN, (1, -1, 1), watch, "transactions").doc(
        "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.",
        "key [key ...]",
    ),
    CommandSpec::new("unwatch", 1, TXN, (0, 0, 0), unwatch, "transactions").doc(
        "2.2.0",
        "Forgets about watched keys of a transaction.",
        "",
    ),
];

/// True for the commands that run immediately inside MULTI instead of
/// being queued (Redis's exception list in processCommand).
#[inline]
pub fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

fn multi(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    if c.multi.is_some() {
        return Err(CmdError::Static("ERR MULTI calls can not be nested"));
    }
    c.multi = Some(MultiState::default());
    c.reply.ok();
    Ok(())
}

/// Drops the client's transaction state and watches (EXEC, DISCARD,
/// RESET, disconnect).
pub fn reset_transaction(srv: &mut Server, c: &mut Client) {
    c.multi = None;
    unwatch_all(srv, c);
}

fn unwatch_all(srv: &mut Server, c: &mut Client) {
    if !c.watched.is_empty() {
        let watched = std::mem::take(&mut c.watched);
        srv.store.unwatch_all(c.id, watched.iter());
    }
}

fn discard(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    if c.multi.is_none() {
        return Err(CmdError::Static("ERR DISCARD without MULTI"));
    }
    reset_transaction(srv, c);
    c.reply.ok();
    Ok(())
}

fn watch(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    if c.multi.is_some() {
        return Err(CmdError::Static("ERR WATCH inside MULTI is not allowed"));
    }
    for key in args.iter().skip(1) {
        if c.watched.insert((c.db, Key::new(key))) {
            srv.store.watch(c.id, c.db, key);
        }
    }
    c.reply.ok();
    Ok(())
}

fn unwatch(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    unwatch_all(srv, c);
    c.reply.ok();
    Ok(())
}

/// Redis's execCommand ACL check of a queued command: the NOPERM text, or
/// None when allowed.
fn acl_recheck(
    srv: &mut Server,
    c: &Client,
    spec: &'static super::CommandSpec,
    args: &Args,
) -> Option<String> {
    let user = srv.acl.user(c.user);
    if user.unrestricted || c.is_internal() {
        return None;
    }
    let d = user.check(spec, args).err()?;
    crate::acl::log_denial(srv, c, d, crate::acl::LogContext::Multi, spec, args);
    Some(format!(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {}",
        d.exec_reason()
    ))
}

fn exec(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let Some(state) = c.multi.take() else {
        return Err(CmdError::Static("ERR EXEC without MULTI"));
    };
    let watch_failed = !c.watched.is_empty() && srv.store.watch_failed(c.id, c.watched.iter());
    unwatch_all(srv, c);
    if state.aborted {
        return Err(CmdError::Static(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if watch_failed {
        c.reply.null_array();
        return Ok(());
    }
    let rollback = srv.config.multi_rollback;
    // SUBSCRIBE & co. run inside MULTI (as in Redis): a rollback undoes them.
    let subs = (rollback
        && state
            .queue
            .iter()
            .any(|(spec, _)| crate::pubsub::changes_subscriptions(spec)))
    .then(|| crate::pubsub::snapshot(c));
    let mark = c.reply.len();
    c.reply.array(state.queue.len());
    if rollback {
        srv.store.begin_journal();
    }
    let prop_mark = srv.store.prop.mark();
    let db_before = c.db;
    c.in_exec = true;
    let mut failure = None;
    for (i, (spec, args)) in state.queue.iter().enumerate() {
        let args = args.as_args();
        // ACL rules are checked again: they may have changed since queueing.
        let res = match acl_recheck(srv, c, spec, &args) {
            Some(msg) => {
                c.reply.error(&msg);
                Err(CmdError::Custom(msg))
            }
            None => call(srv, c, spec, &args),
        };
        if let Err(e) = res
            && rollback
        {
            failure = Some((i, *spec, e));
            break;
        }
    }
    c.in_exec = false;
    match failure {
        Some((i, spec, e)) => {
            srv.store.rollback_journal();
            crate::scripting::functions::end_transaction(srv, false);
            srv.store.prop.restore(prop_mark);
            crate::pubsub::notify::discard_transaction(srv);
            if let Some(snap) = subs {
                crate::pubsub::restore(srv, c, snap);
            }
            // The transaction never happened, SELECT included.
            c.db = db_before;
            c.reply.truncate(mark);
            Err(CmdError::Custom(format!(
                "EXECABORT Transaction rolled back: command #{} ({}) failed: {}",
                i + 1,
                spec.name.to_ascii_uppercase(),
                e
            )))
        }
        None => {
            srv.store.commit_journal();
            crate::scripting::functions::end_transaction(srv, true);
            srv.store.prop.wrap_multi(prop_mark);
            Ok(())
        }
    }
}
