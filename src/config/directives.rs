//! The Redis 7.0 directive table: every `standardConfig` entry (name, alias,
//! type, bounds, enum values, flags, default) as a [`Spec`] row in `SPECS`,
//! the const constructors and enum value lists used to build it, the
//! deprecated directives Redis silently drops, and name/alias lookup.

use super::*;

// ---------------------------------------------------------------------------
// The Redis 7.0 directive table
// ---------------------------------------------------------------------------

pub(super) const MODIFIABLE: u8 = 0;
pub(super) const IMMUTABLE: u8 = 1;
pub(super) const PROTECTED: u8 = 2;
pub(super) const MULTI_ARG: u8 = 4;
pub(super) const HIDDEN: u8 = 8;

pub(super) const INT_MAX: i64 = i32::MAX as i64;
pub(super) const INT_MIN: i64 = i32::MIN as i64;
pub(super) const UINT_MAX: i64 = u32::MAX as i64;
pub(super) const LONG_MAX: i64 = i64::MAX;
/// C's `ULLONG_MAX` stored in a `long long` bound, as Redis does.
pub(super) const ULLONG_MAX: i64 = -1;

/// The C type backing a numeric config; decides signed/unsigned bound checks
/// and the truncation applied when Redis stores the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NumTy {
    Int,
    UInt,
    ULong,
    LongLong,
    ULongLong,
    SizeT,
    SSizeT,
    TimeT,
    OffT,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NumFmt {
    Integer,
    Memory,
    MemoryPercent,
    Octal,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Num {
    pub(super) ty: NumTy,
    pub(super) fmt: NumFmt,
    pub(super) lower: i64,
    pub(super) upper: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StrCheck {
    None,
    DbFilename,
    AofFilename,
    AofDirname,
    Hostname,
    ProcTitleTemplate,
    HostPort,
}

pub(super) type EnumValues = &'static [(&'static str, u32)];

#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Bool,
    Str(StrCheck),
    Enum(EnumValues),
    /// Multi-argument enum whose values are OR-ed bit flags.
    EnumFlags(EnumValues),
    Num(Num),
    Dir,
    Save,
    ClientOutputBufferLimit,
    OomScoreAdjValues,
    NotifyKeyspaceEvents,
    Bind,
    ReplicaOf,
    LatencyTrackingInfoPercentiles,
    Peers,
}

#[derive(Debug)]
pub(super) struct Spec {
    pub(super) name: &'static str,
    pub(super) alias: Option<&'static str>,
    pub(super) flags: u8,
    pub(super) kind: Kind,
    /// The value CONFIG GET prints when the directive was never set (for
    /// `dir`: unused, the working directory is reported).
    pub(super) default: &'static str,
}

impl Spec {
    pub(super) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    pub(super) fn default_args(&self) -> Vec<String> {
        if self.has(MULTI_ARG) {
            split_space(self.default)
        } else {
            vec![self.default.to_string()]
        }
    }
}

pub(super) const fn bool_cfg(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    default: bool,
) -> Spec {
    Spec {
        name,
        alias,
        flags,
        kind: Kind::Bool,
        default: if default { "yes" } else { "no" },
    }
}

pub(super) const fn str_cfg(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    default: &'static str,
    check: StrCheck,
) -> Spec {
    Spec {
        name,
        alias,
        flags,
        kind: Kind::Str(check),
        default,
    }
}

pub(super) const fn enum_cfg(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    values: EnumValues,
    default: &'static str,
) -> Spec {
    Spec {
        name,
        alias,
        flags,
        kind: Kind::Enum(values),
        default,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) const fn num_cfg(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    ty: NumTy,
    fmt: NumFmt,
    lower: i64,
    upper: i64,
    default: &'static str,
) -> Spec {
    Spec {
        name,
        alias,
        flags,
        kind: Kind::Num(Num {
            ty,
            fmt,
            lower,
            upper,
        }),
        default,
    }
}

pub(super) const fn int_cfg(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    lower: i64,
    upper: i64,
    default: &'static str,
) -> Spec {
    num_cfg(
        name,
        alias,
        flags,
        NumTy::Int,
        NumFmt::Integer,
        lower,
        upper,
        default,
    )
}

pub(super) const fn special_cfg(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    kind: Kind,
    default: &'static str,
) -> Spec {
    Spec {
        name,
        alias,
        flags,
        kind,
        default,
    }
}

pub(super) const SUPERVISED: EnumValues = &[("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)];
pub(super) const SYSLOG_FACILITY: EnumValues = &[
    ("user", 8),
    ("local0", 128),
    ("local1", 136),
    ("local2", 144),
    ("local3", 152),
    ("local4", 160),
    ("local5", 168),
    ("local6", 176),
    ("local7", 184),
];
pub(super) const REPL_DISKLESS_LOAD: EnumValues =
    &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
pub(super) const LOGLEVELS: EnumValues =
    &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
pub(super) const MAXMEMORY_POLICY: EnumValues = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
pub(super) const AOF_FSYNC: EnumValues = &[("everysec", 2), ("always", 1), ("no", 0)];
pub(super) const OOM_SCORE_ADJ: EnumValues =
    &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
pub(super) const ACL_PUBSUB_DEFAULT: EnumValues = &[("allchannels", 1), ("resetchannels", 0)];
pub(super) const SANITIZE_DUMP_PAYLOAD: EnumValues = &[("no", 0), ("yes", 1), ("clients", 2)];
pub(super) const PROTECTED_ACTION: EnumValues = &[("no", 0), ("yes", 1), ("local", 2)];
pub(super) const ENDPOINT_TYPE: EnumValues = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
pub(super) const PROPAGATION_ERROR_BEHAVIOR: EnumValues =
    &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
pub(super) const TLS_AUTH_CLIENTS: EnumValues = &[("no", 0), ("yes", 1), ("optional", 2)];
pub(super) const SHUTDOWN_ON_SIG: EnumValues = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];

use NumFmt::{Integer as INT, Memory as MEM};
use NumTy::*;

/// Every directive of Redis 7.0.15 (`standardConfig` table, TLS build), plus
/// memkv's own `multi-rollback`, `self` and `peers`.
///
/// memkv deviations from Redis's flags: `port` and `bind` are immutable (the
/// server does not re-bind at run time).
pub(super) static SPECS: &[Spec] = &[
    // Bool configs
    bool_cfg("rdbchecksum", None, IMMUTABLE, true),
    bool_cfg("daemonize", None, IMMUTABLE, false),
    bool_cfg("io-threads-do-reads", None, IMMUTABLE, false),
    bool_cfg("always-show-logo", None, IMMUTABLE, false),
    bool_cfg("protected-mode", None, MODIFIABLE, true),
    bool_cfg("rdbcompression", None, MODIFIABLE, true),
    bool_cfg("rdb-del-sync-files", None, MODIFIABLE, false),
    bool_cfg("activerehashing", None, MODIFIABLE, true),
    bool_cfg("stop-writes-on-bgsave-error", None, MODIFIABLE, true),
    bool_cfg("set-proc-title", None, IMMUTABLE, true),
    bool_cfg("dynamic-hz", None, MODIFIABLE, true),
    bool_cfg("lazyfree-lazy-eviction", None, MODIFIABLE, false),
    bool_cfg("lazyfree-lazy-expire", None, MODIFIABLE, false),
    bool_cfg("lazyfree-lazy-server-del", None, MODIFIABLE, false),
    bool_cfg("lazyfree-lazy-user-del", None, MODIFIABLE, false),
    bool_cfg("lazyfree-lazy-user-flush", None, MODIFIABLE, false),
    bool_cfg("repl-disable-tcp-nodelay", None, MODIFIABLE, false),
    bool_cfg("repl-diskless-sync", None, MODIFIABLE, true),
    bool_cfg("aof-rewrite-incremental-fsync", None, MODIFIABLE, true),
    bool_cfg("no-appendfsync-on-rewrite", None, MODIFIABLE, false),
    bool_cfg("cluster-require-full-coverage", None, MODIFIABLE, true),
    bool_cfg("rdb-save-incremental-fsync", None, MODIFIABLE, true),
    bool_cfg("aof-load-truncated", None, MODIFIABLE, true),
    bool_cfg("aof-use-rdb-preamble", None, MODIFIABLE, true),
    bool_cfg("aof-timestamp-enabled", None, MODIFIABLE, false),
    bool_cfg(
        "cluster-replica-no-failover",
        Some("cluster-slave-no-failover"),
        MODIFIABLE,
        false,
    ),
    bool_cfg(
        "replica-lazy-flush",
        Some("slave-lazy-flush"),
        MODIFIABLE,
        false,
    ),
    bool_cfg(
        "replica-serve-stale-data",
        Some("slave-serve-stale-data"),
        MODIFIABLE,
        true,
    ),
    bool_cfg(
        "replica-read-only",
        Some("slave-read-only"),
        MODIFIABLE,
        true,
    ),
    bool_cfg(
        "replica-ignore-maxmemory",
        Some("slave-ignore-maxmemory"),
        MODIFIABLE,
        true,
    ),
    bool_cfg("jemalloc-bg-thread", None, MODIFIABLE, true),
    bool_cfg("activedefrag", None, MODIFIABLE, false),
    bool_cfg("syslog-enabled", None, IMMUTABLE, false),
    bool_cfg("cluster-enabled", None, IMMUTABLE, false),
    bool_cfg("appendonly", None, MODIFIABLE, false),
    bool_cfg("cluster-allow-reads-when-down", None, MODIFIABLE, false),
    bool_cfg(
        "cluster-allow-pubsubshard-when-down",
        None,
        MODIFIABLE,
        true,
    ),
    bool_cfg("crash-log-enabled", None, MODIFIABLE, true),
    bool_cfg("crash-memcheck-enabled", None, MODIFIABLE, true),
    bool_cfg("use-exit-on-panic", None, MODIFIABLE | HIDDEN, false),
    bool_cfg("disable-thp", None, IMMUTABLE, true),
    bool_cfg("cluster-allow-replica-migration", None, MODIFIABLE, true),
    bool_cfg("replica-announced", None, MODIFIABLE, true),
    bool_cfg("latency-tracking", None, MODIFIABLE, true),
    bool_cfg("aof-disable-auto-gc", None, MODIFIABLE, false),
    bool_cfg("replica-ignore-disk-write-errors", None, MODIFIABLE, false),
    bool_cfg("tls-cluster", None, MODIFIABLE, false),
    bool_cfg("tls-replication", None, MODIFIABLE, false),
    bool_cfg("tls-prefer-server-ciphers", None, MODIFIABLE, false),
    bool_cfg("tls-session-caching", None, MODIFIABLE, true),
    // String configs
    str_cfg("aclfile", None, IMMUTABLE, "", StrCheck::None),
    str_cfg("unixsocket", None, IMMUTABLE, "", StrCheck::None),
    str_cfg("pidfile", None, IMMUTABLE, "", StrCheck::None),
    str_cfg(
        "replica-announce-ip",
        Some("slave-announce-ip"),
        MODIFIABLE,
        "",
        StrCheck::None,
    ),
    str_cfg("masteruser", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("cluster-announce-ip", None, MODIFIABLE, "", StrCheck::None),
    str_cfg(
        "cluster-config-file",
        None,
        IMMUTABLE,
        "nodes.conf",
        StrCheck::None,
    ),
    str_cfg(
        "cluster-announce-hostname",
        None,
        MODIFIABLE,
        "",
        StrCheck::Hostname,
    ),
    str_cfg("syslog-ident", None, IMMUTABLE, "redis", StrCheck::None),
    str_cfg(
        "dbfilename",
        None,
        MODIFIABLE | PROTECTED,
        "dump.rdb",
        StrCheck::DbFilename,
    ),
    str_cfg(
        "appendfilename",
        None,
        IMMUTABLE,
        "appendonly.aof",
        StrCheck::AofFilename,
    ),
    str_cfg(
        "appenddirname",
        None,
        IMMUTABLE,
        "appendonlydir",
        StrCheck::AofDirname,
    ),
    str_cfg("server_cpulist", None, IMMUTABLE, "", StrCheck::None),
    str_cfg("bio_cpulist", None, IMMUTABLE, "", StrCheck::None),
    str_cfg("aof_rewrite_cpulist", None, IMMUTABLE, "", StrCheck::None),
    str_cfg("bgsave_cpulist", None, IMMUTABLE, "", StrCheck::None),
    str_cfg("ignore-warnings", None, MODIFIABLE, "", StrCheck::None),
    str_cfg(
        "proc-title-template",
        None,
        MODIFIABLE,
        "{title} {listen-addr} {server-mode}",
        StrCheck::ProcTitleTemplate,
    ),
    str_cfg("bind-source-addr", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("logfile", None, IMMUTABLE, "", StrCheck::None),
    str_cfg("masterauth", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("requirepass", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("tls-cert-file", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("tls-key-file", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("tls-key-file-pass", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("tls-client-cert-file", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("tls-client-key-file", None, MODIFIABLE, "", StrCheck::None),
    str_cfg(
        "tls-client-key-file-pass",
        None,
        MODIFIABLE,
        "",
        StrCheck::None,
    ),
    str_cfg("tls-dh-params-file", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("tls-ca-cert-file", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("tls-ca-cert-dir", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("tls-protocols", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("tls-ciphers", None, MODIFIABLE, "", StrCheck::None),
    str_cfg("tls-ciphersuites", None, MODIFIABLE, "", StrCheck::None),
    // Enum configs
    enum_cfg("supervised", None, IMMUTABLE, SUPERVISED, "no"),
    enum_cfg(
        "syslog-facility",
        None,
        IMMUTABLE,
        SYSLOG_FACILITY,
        "local0",
    ),
    enum_cfg(
        "repl-diskless-load",
        None,
        MODIFIABLE,
        REPL_DISKLESS_LOAD,
        "disabled",
    ),
    enum_cfg("loglevel", None, MODIFIABLE, LOGLEVELS, "notice"),
    enum_cfg(
        "maxmemory-policy",
        None,
        MODIFIABLE,
        MAXMEMORY_POLICY,
        "noeviction",
    ),
    enum_cfg("appendfsync", None, MODIFIABLE, AOF_FSYNC, "everysec"),
    enum_cfg("oom-score-adj", None, MODIFIABLE, OOM_SCORE_ADJ, "no"),
    enum_cfg(
        "acl-pubsub-default",
        None,
        MODIFIABLE,
        ACL_PUBSUB_DEFAULT,
        "resetchannels",
    ),
    enum_cfg(
        "sanitize-dump-payload",
        None,
        MODIFIABLE,
        SANITIZE_DUMP_PAYLOAD,
        "no",
    ),
    enum_cfg(
        "enable-protected-configs",
        None,
        IMMUTABLE,
        PROTECTED_ACTION,
        "no",
    ),
    enum_cfg(
        "enable-debug-command",
        None,
        IMMUTABLE,
        PROTECTED_ACTION,
        "no",
    ),
    enum_cfg(
        "enable-module-command",
        None,
        IMMUTABLE,
        PROTECTED_ACTION,
        "no",
    ),
    enum_cfg(
        "cluster-preferred-endpoint-type",
        None,
        MODIFIABLE,
        ENDPOINT_TYPE,
        "ip",
    ),
    enum_cfg(
        "propagation-error-behavior",
        None,
        MODIFIABLE,
        PROPAGATION_ERROR_BEHAVIOR,
        "ignore",
    ),
    enum_cfg(
        "tls-auth-clients",
        None,
        MODIFIABLE,
        TLS_AUTH_CLIENTS,
        "yes",
    ),
    special_cfg(
        "shutdown-on-sigint",
        None,
        MODIFIABLE | MULTI_ARG,
        Kind::EnumFlags(SHUTDOWN_ON_SIG),
        "default",
    ),
    special_cfg(
        "shutdown-on-sigterm",
        None,
        MODIFIABLE | MULTI_ARG,
        Kind::EnumFlags(SHUTDOWN_ON_SIG),
        "default",
    ),
    // Integer configs
    int_cfg("databases", None, IMMUTABLE, 1, INT_MAX, "16"),
    int_cfg("port", None, IMMUTABLE, 0, 65535, "6379"),
    int_cfg("io-threads", None, IMMUTABLE, 1, 128, "1"),
    int_cfg(
        "auto-aof-rewrite-percentage",
        None,
        MODIFIABLE,
        0,
        INT_MAX,
        "100",
    ),
    int_cfg(
        "cluster-replica-validity-factor",
        Some("cluster-slave-validity-factor"),
        MODIFIABLE,
        0,
        INT_MAX,
        "10",
    ),
    int_cfg(
        "list-max-listpack-size",
        Some("list-max-ziplist-size"),
        MODIFIABLE,
        INT_MIN,
        INT_MAX,
        "-2",
    ),
    int_cfg("tcp-keepalive", None, MODIFIABLE, 0, INT_MAX, "300"),
    int_cfg(
        "cluster-migration-barrier",
        None,
        MODIFIABLE,
        0,
        INT_MAX,
        "1",
    ),
    int_cfg("active-defrag-cycle-min", None, MODIFIABLE, 1, 99, "1"),
    int_cfg("active-defrag-cycle-max", None, MODIFIABLE, 1, 99, "25"),
    int_cfg(
        "active-defrag-threshold-lower",
        None,
        MODIFIABLE,
        0,
        1000,
        "10",
    ),
    int_cfg(
        "active-defrag-threshold-upper",
        None,
        MODIFIABLE,
        0,
        1000,
        "100",
    ),
    int_cfg("lfu-log-factor", None, MODIFIABLE, 0, INT_MAX, "10"),
    int_cfg("lfu-decay-time", None, MODIFIABLE, 0, INT_MAX, "1"),
    int_cfg(
        "replica-priority",
        Some("slave-priority"),
        MODIFIABLE,
        0,
        INT_MAX,
        "100",
    ),
    int_cfg(
        "repl-diskless-sync-delay",
        None,
        MODIFIABLE,
        0,
        INT_MAX,
        "5",
    ),
    int_cfg("maxmemory-samples", None, MODIFIABLE, 1, INT_MAX, "5"),
    int_cfg(
        "maxmemory-eviction-tenacity",
        None,
        MODIFIABLE,
        0,
        100,
        "10",
    ),
    int_cfg("timeout", None, MODIFIABLE, 0, INT_MAX, "0"),
    int_cfg(
        "replica-announce-port",
        Some("slave-announce-port"),
        MODIFIABLE,
        0,
        65535,
        "0",
    ),
    int_cfg("tcp-backlog", None, IMMUTABLE, 0, INT_MAX, "511"),
    int_cfg("cluster-port", None, IMMUTABLE, 0, 65535, "0"),
    int_cfg("cluster-announce-bus-port", None, MODIFIABLE, 0, 65535, "0"),
    int_cfg("cluster-announce-port", None, MODIFIABLE, 0, 65535, "0"),
    int_cfg("cluster-announce-tls-port", None, MODIFIABLE, 0, 65535, "0"),
    int_cfg("repl-timeout", None, MODIFIABLE, 1, INT_MAX, "60"),
    int_cfg(
        "repl-ping-replica-period",
        Some("repl-ping-slave-period"),
        MODIFIABLE,
        1,
        INT_MAX,
        "10",
    ),
    int_cfg("list-compress-depth", None, MODIFIABLE, 0, INT_MAX, "0"),
    int_cfg(
        "rdb-key-save-delay",
        None,
        MODIFIABLE | HIDDEN,
        INT_MIN,
        INT_MAX,
        "0",
    ),
    int_cfg(
        "key-load-delay",
        None,
        MODIFIABLE | HIDDEN,
        INT_MIN,
        INT_MAX,
        "0",
    ),
    int_cfg("active-expire-effort", None, MODIFIABLE, 1, 10, "1"),
    int_cfg("hz", None, MODIFIABLE, 0, INT_MAX, "10"),
    int_cfg(
        "min-replicas-to-write",
        Some("min-slaves-to-write"),
        MODIFIABLE,
        0,
        INT_MAX,
        "0",
    ),
    int_cfg(
        "min-replicas-max-lag",
        Some("min-slaves-max-lag"),
        MODIFIABLE,
        0,
        INT_MAX,
        "10",
    ),
    int_cfg(
        "watchdog-period",
        None,
        MODIFIABLE | HIDDEN,
        0,
        INT_MAX,
        "0",
    ),
    int_cfg("shutdown-timeout", None, MODIFIABLE, 0, INT_MAX, "10"),
    int_cfg(
        "repl-diskless-sync-max-replicas",
        None,
        MODIFIABLE,
        0,
        INT_MAX,
        "0",
    ),
    int_cfg("tls-port", None, MODIFIABLE, 0, 65535, "0"),
    int_cfg(
        "tls-session-cache-size",
        None,
        MODIFIABLE,
        0,
        INT_MAX,
        "20480",
    ),
    int_cfg(
        "tls-session-cache-timeout",
        None,
        MODIFIABLE,
        0,
        INT_MAX,
        "300",
    ),
    // Unsigned int configs
    num_cfg(
        "maxclients",
        None,
        MODIFIABLE,
        UInt,
        INT,
        1,
        UINT_MAX,
        "10000",
    ),
    num_cfg(
        "unixsocketperm",
        None,
        IMMUTABLE,
        UInt,
        NumFmt::Octal,
        0,
        0o777,
        "0",
    ),
    num_cfg(
        "socket-mark-id",
        None,
        IMMUTABLE,
        UInt,
        INT,
        0,
        UINT_MAX,
        "0",
    ),
    // Unsigned long configs
    num_cfg(
        "active-defrag-max-scan-fields",
        None,
        MODIFIABLE,
        ULong,
        INT,
        1,
        LONG_MAX,
        "1000",
    ),
    num_cfg(
        "slowlog-max-len",
        None,
        MODIFIABLE,
        ULong,
        INT,
        0,
        LONG_MAX,
        "128",
    ),
    num_cfg(
        "acllog-max-len",
        None,
        MODIFIABLE,
        ULong,
        INT,
        0,
        LONG_MAX,
        "128",
    ),
    // Long long configs
    num_cfg(
        "busy-reply-threshold",
        Some("lua-time-limit"),
        MODIFIABLE,
        LongLong,
        INT,
        0,
        LONG_MAX,
        "5000",
    ),
    num_cfg(
        "cluster-node-timeout",
        None,
        MODIFIABLE,
        LongLong,
        INT,
        0,
        LONG_MAX,
        "5000",
    ),
    num_cfg(
        "slowlog-log-slower-than",
        None,
        MODIFIABLE,
        LongLong,
        INT,
        -1,
        LONG_MAX,
        "10000",
    ),
    num_cfg(
        "latency-monitor-threshold",
        None,
        MODIFIABLE,
        LongLong,
        INT,
        0,
        LONG_MAX,
        "0",
    ),
    num_cfg(
        "proto-max-bulk-len",
        None,
        MODIFIABLE,
        LongLong,
        MEM,
        1024 * 1024,
        LONG_MAX,
        "536870912",
    ),
    num_cfg(
        "stream-node-max-entries",
        None,
        MODIFIABLE,
        LongLong,
        INT,
        0,
        LONG_MAX,
        "100",
    ),
    num_cfg(
        "repl-backlog-size",
        None,
        MODIFIABLE,
        LongLong,
        MEM,
        1,
        LONG_MAX,
        "1048576",
    ),
    // Unsigned long long configs
    num_cfg(
        "maxmemory",
        None,
        MODIFIABLE,
        ULongLong,
        MEM,
        0,
        ULLONG_MAX,
        "0",
    ),
    num_cfg(
        "cluster-link-sendbuf-limit",
        None,
        MODIFIABLE,
        ULongLong,
        MEM,
        0,
        ULLONG_MAX,
        "0",
    ),
    // Size_t configs
    num_cfg(
        "hash-max-listpack-entries",
        Some("hash-max-ziplist-entries"),
        MODIFIABLE,
        SizeT,
        INT,
        0,
        LONG_MAX,
        "512",
    ),
    num_cfg(
        "set-max-intset-entries",
        None,
        MODIFIABLE,
        SizeT,
        INT,
        0,
        LONG_MAX,
        "512",
    ),
    num_cfg(
        "zset-max-listpack-entries",
        Some("zset-max-ziplist-entries"),
        MODIFIABLE,
        SizeT,
        INT,
        0,
        LONG_MAX,
        "128",
    ),
    num_cfg(
        "active-defrag-ignore-bytes",
        None,
        MODIFIABLE,
        SizeT,
        MEM,
        1,
        LONG_MAX,
        "104857600",
    ),
    num_cfg(
        "hash-max-listpack-value",
        Some("hash-max-ziplist-value"),
        MODIFIABLE,
        SizeT,
        MEM,
        0,
        LONG_MAX,
        "64",
    ),
    num_cfg(
        "stream-node-max-bytes",
        None,
        MODIFIABLE,
        SizeT,
        MEM,
        0,
        LONG_MAX,
        "4096",
    ),
    num_cfg(
        "zset-max-listpack-value",
        Some("zset-max-ziplist-value"),
        MODIFIABLE,
        SizeT,
        MEM,
        0,
        LONG_MAX,
        "64",
    ),
    num_cfg(
        "hll-sparse-max-bytes",
        None,
        MODIFIABLE,
        SizeT,
        MEM,
        0,
        LONG_MAX,
        "3000",
    ),
    num_cfg(
        "tracking-table-max-keys",
        None,
        MODIFIABLE,
        SizeT,
        INT,
        0,
        LONG_MAX,
        "1000000",
    ),
    num_cfg(
        "client-query-buffer-limit",
        None,
        MODIFIABLE,
        SizeT,
        MEM,
        1024 * 1024,
        LONG_MAX,
        "1073741824",
    ),
    num_cfg(
        "maxmemory-clients",
        None,
        MODIFIABLE,
        SSizeT,
        NumFmt::MemoryPercent,
        -100,
        LONG_MAX,
        "0",
    ),
    // Other numeric configs
    num_cfg(
        "repl-backlog-ttl",
        None,
        MODIFIABLE,
        TimeT,
        INT,
        0,
        LONG_MAX,
        "3600",
    ),
    num_cfg(
        "auto-aof-rewrite-min-size",
        None,
        MODIFIABLE,
        OffT,
        MEM,
        0,
        LONG_MAX,
        "67108864",
    ),
    num_cfg(
        "loading-process-events-interval-bytes",
        None,
        MODIFIABLE | HIDDEN,
        OffT,
        INT,
        1024,
        INT_MAX,
        "2097152",
    ),
    // Special configs
    special_cfg("dir", None, MODIFIABLE | PROTECTED, Kind::Dir, ""),
    special_cfg(
        "save",
        None,
        MODIFIABLE | MULTI_ARG,
        Kind::Save,
        "3600 1 300 100 60 10000",
    ),
    special_cfg(
        "client-output-buffer-limit",
        None,
        MODIFIABLE | MULTI_ARG,
        Kind::ClientOutputBufferLimit,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    special_cfg(
        "oom-score-adj-values",
        None,
        MODIFIABLE | MULTI_ARG,
        Kind::OomScoreAdjValues,
        "0 200 800",
    ),
    special_cfg(
        "notify-keyspace-events",
        None,
        MODIFIABLE,
        Kind::NotifyKeyspaceEvents,
        "",
    ),
    special_cfg("bind", None, IMMUTABLE | MULTI_ARG, Kind::Bind, "* -::*"),
    special_cfg(
        "replicaof",
        Some("slaveof"),
        IMMUTABLE | MULTI_ARG,
        Kind::ReplicaOf,
        "",
    ),
    special_cfg(
        "latency-tracking-info-percentiles",
        None,
        MODIFIABLE | MULTI_ARG,
        Kind::LatencyTrackingInfoPercentiles,
        "50 99 99.9",
    ),
    // memkv's own directives
    bool_cfg("multi-rollback", None, MODIFIABLE, true),
    str_cfg("self", None, IMMUTABLE, "", StrCheck::HostPort),
    special_cfg("peers", None, IMMUTABLE | MULTI_ARG, Kind::Peers, ""),
];

/// Directives Redis 7.0 accepts and silently drops (`deprecated_configs`),
/// each with exactly one argument.
pub(super) const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

/// Find a directive by name or alias, case-insensitively. Returns the spec
/// and the name it is registered under (the alias when found by alias).
pub(super) fn lookup(name: &str) -> Option<(&'static Spec, &'static str)> {
    for spec in SPECS {
        if spec.name.eq_ignore_ascii_case(name) {
            return Some((spec, spec.name));
        }
        if let Some(alias) = spec.alias
            && alias.eq_ignore_ascii_case(name)
        {
            return Some((spec, alias));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_table_is_consistent() {
        let mut names = std::collections::HashSet::new();
        for spec in SPECS {
            assert!(names.insert(spec.name), "duplicate {}", spec.name);
            if let Some(a) = spec.alias {
                assert!(names.insert(a), "duplicate {a}");
            }
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            // dir reports the working directory; replicaof's default (no
            // master) is what `replicaof no one` sets.
            if spec.name == "dir" || spec.name == "replicaof" {
                continue;
            }
            // Every default must be accepted by its own setter and come back
            // unchanged (it is what CONFIG GET prints).
            let mut ctx = SetCtx {
                loading: false,
                save_loaded: false,
                cwd: PathBuf::from("."),
            };
            let a = spec.default_args();
            let got = set_value(spec, &a, &a, &mut ctx)
                .unwrap_or_else(|e| panic!("{}: default rejected: {e}", spec.name));
            assert_eq!(got.join(" "), spec.default, "{}", spec.name);
        }
        for name in TYPED_NAMES {
            assert!(
                lookup(name).is_some(),
                "typed {name} missing from the table"
            );
        }
    }
}
