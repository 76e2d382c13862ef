//! Pub/Sub across cluster nodes (issue 12): a message published through any
//! node reaches the subscribers of every node, and the PUBSUB introspection
//! subcommands describe the whole cluster.
//!
//! - PUBLISH / SPUBLISH from a client: delivered here at once, then relayed
//!   (`MEMKV.RELAY ... PUBLISH`, on the client's pipeline connection, so its
//!   messages keep their order) to every other member; the client is parked
//!   and answered with the receivers summed over the nodes that answered. A
//!   node that is down counts as nothing and costs nothing (it fails at
//!   submit); one that hangs costs at most `cluster-node-timeout`, then
//!   counts as nothing. A relayed PUBLISH is never forwarded again.
//! - Shard channels are not placed on the channel's slot owner: SSUBSCRIBE
//!   is served by the node the client talks to and SPUBLISH reaches every
//!   node, like PUBLISH (a plain client never needs to know the owner).
//! - PUBSUB CHANNELS / SHARDCHANNELS: the union of every node's names;
//!   NUMSUB / SHARDNUMSUB: counts summed (a subscriber is a connection to
//!   one node); NUMPAT: the number of distinct patterns over every node
//!   (each peer lists its patterns, `MEMKV.PATTERNS`), so a pattern
//!   subscribed on two nodes counts once, as in one Redis.
//! - Inside MULTI/EXEC or a script, PUBLISH is forwarded without waiting
//!   (`forward`, the `PubSub::relay` hook; with `multi-rollback yes` when
//!   the transaction commits, never if it rolls back) and its reply counts
//!   this node's receivers only.
//! - Keyspace notifications and CLIENT TRACKING invalidations stay local:
//!   each node reports the events of the keys it owns to its own clients.

use super::relay::{Job, Waiter, encode_relay};
use super::route::{self, Combine, Live, Part};
use crate::commands::{Args, CommandSpec};
use crate::server::{Client, Server};

/// The routing step for Pub/Sub commands (a client's, not a peer's, outside
/// MULTI). Returns true if the command was handled here.
pub fn route(srv: &mut Server, c: &mut Client, spec: &'static CommandSpec, args: &Args) -> bool {
    let live = match spec.name {
        "publish" | "spublish" => Live::Sum,
        "pubsub|numpat" => Live::Count,
        "pubsub|channels" | "pubsub|shardchannels" if args.len() <= 3 => Live::Union,
        "pubsub|numsub" | "pubsub|shardnumsub" => Live::NumSub,
        _ => return false,
    };
    if !c.relay.is_empty() {
        // Answered in order, after what is in flight.
        return route::defer(c, route::RELAY);
    }
    let Some(topo) = srv.cluster.as_ref() else {
        return false;
    };
    let (n, me) = (topo.members.len(), topo.me);
    let local = match live {
        Live::Sum => {
            let shard = spec.name == "spublish";
            let k = crate::pubsub::publish_local(srv, Some(c), shard, &args[1], &args[2]);
            format!(":{k}\r\n").into_bytes()
        }
        Live::Count => patterns_reply(srv),
        _ => route::run_local(srv, c, args),
    };
    let mut parts = vec![Part::Local(local)];
    for member in (0..n).filter(|&m| m != me) {
        let mut payload = Vec::new();
        if live == Live::Count {
            encode_relay(&mut payload, c.db, 2, [&b"MEMKV.PATTERNS"[..]].into_iter());
        } else {
            encode_relay(&mut payload, c.db, 2, args.iter());
        }
        parts.push(Part::Remote {
            member,
            payload,
            replies: 1,
        });
    }
    route::start(srv, c, parts, Combine::Live(live), true)
}

/// `PubSub::relay`: a PUBLISH run by a handler here (MULTI/EXEC, scripts)
/// goes to every other member without waiting for their counts.
pub fn forward(srv: &mut Server, shard: bool, channel: &[u8], message: &[u8]) {
    let Some(topo) = srv.cluster.as_ref() else {
        return;
    };
    let (n, me) = (topo.members.len(), topo.me);
    let cmd: &[u8] = if shard { b"SPUBLISH" } else { b"PUBLISH" };
    let Some(pool) = srv.relay.as_mut() else {
        return;
    };
    for member in (0..n).filter(|&m| m != me) {
        let mut payload = Vec::new();
        encode_relay(&mut payload, 0, 2, [cmd, channel, message].into_iter());
        // Client id 0: nobody waits for the answer.
        let job = Job {
            waiter: Waiter {
                client: 0,
                seq: 0,
                part: 0,
            },
            payload,
            replies: 1,
        };
        let _ = pool.submit(member, job);
    }
}

/// This node's distinct patterns as a RESP2 array of bulk strings.
fn patterns_reply(srv: &Server) -> Vec<u8> {
    let mut r = crate::resp::Reply::new();
    let names: Vec<&[u8]> = srv.pubsub.pattern_names().collect();
    r.array(names.len());
    for n in names {
        r.bulk(n);
    }
    r.buf
}

/// `MEMKV.PATTERNS` from a peer (its PUBSUB NUMPAT): this node's patterns.
/// Returns false for any other command.
pub fn serve(srv: &mut Server, c: &mut Client, args: &Args) -> bool {
    if !args
        .get(0)
        .is_some_and(|n| n.eq_ignore_ascii_case(b"memkv.patterns"))
    {
        return false;
    }
    let reply = patterns_reply(srv);
    c.reply.raw(&reply);
    true
}
