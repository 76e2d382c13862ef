//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
//! SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH and the PUBSUB container.
//! The registry and delivery are `crate::pubsub`; these handlers only parse
//! arguments and write the direct replies.

use super::flags::{FAST, LOADING, MAY_REPLICATE, NOSCRIPT, PUBSUB, STALE};
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::pubsub::{self, Kind};
use crate::server::{Client, Server};

const G: &str = "pubsub";
const SUBSCRIBE: u32 = PUBSUB | NOSCRIPT | LOADING | STALE;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("subscribe", -2, SUBSCRIBE, (0, 0, 0), subscribe, G).doc(
        "2.0.0",
        "Listen for messages published to the given channels",
        "channel [channel ...]",
    ),
    CommandSpec::new("unsubscribe", -1, SUBSCRIBE, (0, 0, 0), unsubscribe, G).doc(
        "2.0.0",
        "Stop listening for messages posted to the given channels",
        "[channel [channel ...]]",
    ),
    CommandSpec::new("psubscribe", -2, SUBSCRIBE, (0, 0, 0), psubscribe, G).doc(
        "2.0.0",
        "Listen for messages published to channels matching the given patterns",
        "pattern [pattern ...]",
    ),
    CommandSpec::new("punsubscribe", -1, SUBSCRIBE, (0, 0, 0), punsubscribe, G).doc(
        "2.0.0",
        "Stop listening for messages posted to channels matching the given patterns",
        "[pattern [pattern ...]]",
    ),
    CommandSpec::new("ssubscribe", -2, SUBSCRIBE, (1, -1, 1), ssubscribe, G).doc(
        "7.0.0",
        "Listen for messages published to the given shard channels",
        "shardchannel [shardchannel ...]",
    ),
    CommandSpec::new("sunsubscribe", -1, SUBSCRIBE, (1, -1, 1), sunsubscribe, G).doc(
        "7.0.0",
        "Stop listening for messages posted to the given shard channels",
        "[shardchannel [shardchannel ...]]",
    ),
    CommandSpec::new(
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        (0, 0, 0),
        publish,
        G,
    )
    .doc("2.0.0", "Post a message to a channel", "channel message"),
    CommandSpec::new(
        "spublish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        (1, 1, 1),
        spublish,
        G,
    )
    .doc(
        "7.0.0",
        "Post a message to a shard channel",
        "shardchannel message",
    ),
    CommandSpec::new("pubsub", -2, 0, (0, 0, 0), pubsub_help, G)
        .doc("2.8.0", "A container for Pub/Sub commands", "")
        .subs(PUBSUB_SUBCOMMANDS),
];

const SUB: u32 = PUBSUB | LOADING | STALE;

static PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pubsub|channels", -2, SUB, (0, 0, 0), pubsub_channels, G).doc(
        "2.8.0",
        "List active channels",
        "[pattern]",
    ),
    CommandSpec::new("pubsub|help", 2, LOADING | STALE, (0, 0, 0), pubsub_help, G).doc(
        "6.2.0",
        "Show helpful text about the different subcommands",
        "",
    ),
    CommandSpec::new("pubsub|numpat", 2, SUB, (0, 0, 0), pubsub_numpat, G).doc(
        "2.8.0",
        "Get the count of unique patterns pattern subscriptions",
        "",
    ),
    CommandSpec::new("pubsub|numsub", -2, SUB, (0, 0, 0), pubsub_numsub, G).doc(
        "2.8.0",
        "Get the count of subscribers for channels",
        "[channel [channel ...]]",
    ),
    CommandSpec::new(
        "pubsub|shardchannels",
        -2,
        SUB,
        (0, 0, 0),
        pubsub_shardchannels,
        G,
    )
    .doc("7.0.0", "List active shard channels", "[pattern]"),
    CommandSpec::new(
        "pubsub|shardnumsub",
        -2,
        SUB,
        (0, 0, 0),
        pubsub_shardnumsub,
        G,
    )
    .doc(
        "7.0.0",
        "Get the count of subscribers for shard channels",
        "[shardchannel [shardchannel ...]]",
    ),
];

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

fn subscribe_each(srv: &mut Server, c: &mut Client, args: &Args, kind: Kind) -> CmdResult {
    for name in args.iter().skip(1) {
        pubsub::subscribe(srv, c, kind, name);
    }
    Ok(())
}

fn unsubscribe_each(srv: &mut Server, c: &mut Client, args: &Args, kind: Kind) -> CmdResult {
    if args.len() == 1 {
        pubsub::unsubscribe_all(srv, c, kind, true);
    } else {
        for name in args.iter().skip(1) {
            pubsub::unsubscribe(srv, c, kind, name, true);
        }
    }
    pubsub::update_flag(c, kind);
    Ok(())
}

fn subscribe(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    subscribe_each(srv, c, args, Kind::Channel)
}

fn psubscribe(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    subscribe_each(srv, c, args, Kind::Pattern)
}

fn ssubscribe(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    // Redis 7.0 refuses SSUBSCRIBE where a reply per command is expected
    // (inside EXEC), unlike SUBSCRIBE which keeps MULTI for compatibility.
    if c.in_exec {
        return Err(CmdError::Static(
            "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    subscribe_each(srv, c, args, Kind::Shard)
}

fn unsubscribe(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    unsubscribe_each(srv, c, args, Kind::Channel)
}

fn punsubscribe(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    unsubscribe_each(srv, c, args, Kind::Pattern)
}

fn sunsubscribe(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    unsubscribe_each(srv, c, args, Kind::Shard)
}

fn publish(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let n = pubsub::publish(srv, c, false, &args[1], &args[2]);
    c.reply.int(n as i64);
    Ok(())
}

fn spublish(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let n = pubsub::publish(srv, c, true, &args[1], &args[2]);
    c.reply.int(n as i64);
    Ok(())
}

fn pubsub_help(_srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.array(PUBSUB_HELP.len());
    for line in PUBSUB_HELP {
        c.reply.simple(line);
    }
    Ok(())
}

fn channels(srv: &mut Server, c: &mut Client, args: &Args, shard: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand_syntax(args, "PUBSUB"));
    }
    let names = srv.pubsub.channel_names(shard, args.get(2));
    c.reply.array(names.len());
    for n in names {
        c.reply.bulk(n);
    }
    Ok(())
}

fn pubsub_channels(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    channels(srv, c, args, false)
}

fn pubsub_shardchannels(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    channels(srv, c, args, true)
}

fn numsub(srv: &mut Server, c: &mut Client, args: &Args, shard: bool) -> CmdResult {
    c.reply.array((args.len() - 2) * 2);
    for ch in args.iter().skip(2) {
        c.reply.bulk(ch);
        c.reply.int(srv.pubsub.numsub(shard, ch) as i64);
    }
    Ok(())
}

fn pubsub_numsub(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    numsub(srv, c, args, false)
}

fn pubsub_shardnumsub(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    numsub(srv, c, args, true)
}

fn pubsub_numpat(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    c.reply.int(srv.pubsub.numpat() as i64);
    Ok(())
}
