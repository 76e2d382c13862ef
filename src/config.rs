//! redis.conf syntax -> typed [`Config`]; redis-server style command line;
//! CONFIG GET / CONFIG SET semantics.
//!
//! The parser follows Redis 7.0 (`config.c`, `sds.c`, `util.c`):
//!
//! - one directive per line, `#` comments, blank lines, arguments split like
//!   `sdssplitargs` (double quotes with `\n \r \t \b \a \xHH \\ \"` escapes,
//!   single quotes with `\'`), directive names case-insensitive, later lines
//!   override earlier ones (`save` lines accumulate, as in Redis);
//! - `include path` (relative to the working directory, which a preceding
//!   `dir` changes - exactly like Redis, which `chdir`s while parsing), glob
//!   patterns allowed in the include path;
//! - every Redis 7.0 directive is known (the full `standardConfig` table of
//!   7.0.15 with its types, bounds, enums, flags and defaults) and validated
//!   with Redis's own error texts; the ones memkv implements become typed
//!   fields of [`Config`], every other one is accepted, remembered in its
//!   normalized Redis form (for CONFIG GET) and listed in [`Config::ignored`];
//! - anything else stops start-up with Redis's FATAL CONFIG FILE ERROR block.
//!
//! The typed struct is filled through serde: the directive map (canonical
//! name -> normalized argument list) is deserialized into
//! `#[derive(Deserialize)] Config` by the small deserializer at the end of
//! this file, which parses each value for the requested field type.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, IntoDeserializer};

use crate::glob::glob_match;

/// The banner used where Redis prints "Redis 7.0.15".
const BANNER: &str = concat!("memkv ", env!("CARGO_PKG_VERSION"));

/// Redis's `CONFIG_DEFAULT_PID_FILE`, used when daemonized without `pidfile`.
pub const DEFAULT_PID_FILE: &str = "/var/run/redis.pid";

/// File descriptors Redis keeps in reserve besides clients
/// (`CONFIG_MIN_RESERVED_FDS`).
pub const MIN_RESERVED_FDS: u64 = 32;

// ---------------------------------------------------------------------------
// Typed values
// ---------------------------------------------------------------------------

/// `loglevel debug|verbose|notice|warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Verbose,
    #[default]
    Notice,
    Warning,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `appendfsync always|everysec|no`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppendFsync {
    Always,
    #[default]
    Everysec,
    No,
}

impl AppendFsync {
    pub fn as_str(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::Everysec => "everysec",
            AppendFsync::No => "no",
        }
    }
}

impl fmt::Display for AppendFsync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The server configuration.
///
/// Fields are the directives memkv implements; every other Redis directive
/// is kept (normalized) for CONFIG GET and reachable through
/// [`Config::value`]. Change values at run time through [`Config::set`] so
/// validation and formatting stay Redis-exact.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Config {
    /// Raw `bind` addresses; a leading `-` marks an optional address (see
    /// [`Config::bind_addrs`]). Default (no config) is Redis's `* -::*`:
    /// all IPv4 interfaces plus, optionally, all IPv6 ones.
    pub bind: Vec<String>,
    pub port: u16,
    pub daemonize: bool,
    /// Empty = none (but see [`Config::pidfile_path`]).
    pub pidfile: String,
    pub protected_mode: bool,
    /// Empty = no password.
    pub requirepass: String,
    /// Client idle timeout in seconds, 0 = never.
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub databases: usize,
    pub maxclients: usize,
    pub loglevel: LogLevel,
    /// Empty = standard output.
    pub logfile: String,
    /// Working directory. After a `dir` directive this is the absolute,
    /// canonical path (Redis `chdir`s there while parsing); the default is ".".
    pub dir: String,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    /// Clamped to 1..=500 like Redis.
    pub hz: u64,
    pub appendonly: bool,
    pub appendfsync: AppendFsync,
    pub appendfilename: String,
    pub appenddirname: String,
    pub aof_load_truncated: bool,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    /// memkv's own directive: roll back a transaction whose command fails.
    pub multi_rollback: bool,
    /// Largest set kept in the intset encoding (Redis's directive).
    pub set_max_intset_entries: usize,
    /// Sorted sets stay `listpack` up to this many members ...
    pub zset_max_listpack_entries: usize,
    /// ... each at most this many bytes.
    pub zset_max_listpack_value: usize,
    /// Cluster: this node's `host:port` (directive `self`).
    #[serde(rename = "self")]
    pub self_addr: Option<String>,
    /// Cluster: the other nodes' `host:port` (directive `peers`).
    pub peers: Vec<String>,
    /// Cluster: how long a peer may take before a client gets CLUSTERDOWN
    /// (ms). memkv's default is 5000, not Redis's 15000: a plain client
    /// should not wait that long for a dead node.
    pub cluster_node_timeout: u64,
    /// Absolute path of the config file given on the command line.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
    /// Known Redis directives that were set but memkv does not implement,
    /// in first-seen order, each once (canonical names). See
    /// [`Config::log_ignored`].
    #[serde(skip)]
    pub ignored: Vec<String>,
    /// `rename-command old new` pairs (accepted, not applied by the config
    /// layer).
    #[serde(skip)]
    pub rename_commands: Vec<(String, String)>,
    /// Normalized values of the non-typed directives that were set.
    #[serde(skip)]
    other: BTreeMap<&'static str, Vec<String>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["*".to_string(), "-::*".to_string()],
            port: 6379,
            daemonize: false,
            pidfile: String::new(),
            protected_mode: true,
            requirepass: String::new(),
            timeout: 0,
            tcp_keepalive: 300,
            databases: 16,
            maxclients: 10000,
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            dir: ".".to_string(),
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            hz: 10,
            appendonly: false,
            appendfsync: AppendFsync::Everysec,
            appendfilename: "appendonly.aof".to_string(),
            appenddirname: "appendonlydir".to_string(),
            aof_load_truncated: true,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            multi_rollback: true,
            set_max_intset_entries: crate::store::set::DEFAULT_MAX_INTSET_ENTRIES,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            self_addr: None,
            peers: Vec::new(),
            cluster_node_timeout: 5000,
            config_file: None,
            ignored: Vec::new(),
            rename_commands: Vec::new(),
            other: BTreeMap::new(),
        }
    }
}

/// Formatting of typed field values the way CONFIG GET prints them.
trait ConfigValue {
    fn to_config_string(&self) -> String;
}

impl ConfigValue for bool {
    fn to_config_string(&self) -> String {
        if *self { "yes" } else { "no" }.to_string()
    }
}
macro_rules! int_config_value {
    ($($t:ty),*) => {$(
        impl ConfigValue for $t {
            fn to_config_string(&self) -> String { self.to_string() }
        }
    )*};
}
int_config_value!(u16, u64, usize);
impl ConfigValue for String {
    fn to_config_string(&self) -> String {
        self.clone()
    }
}
impl ConfigValue for Vec<String> {
    fn to_config_string(&self) -> String {
        self.join(" ")
    }
}
impl ConfigValue for Option<String> {
    fn to_config_string(&self) -> String {
        self.clone().unwrap_or_default()
    }
}
impl ConfigValue for LogLevel {
    fn to_config_string(&self) -> String {
        self.as_str().to_string()
    }
}
impl ConfigValue for AppendFsync {
    fn to_config_string(&self) -> String {
        self.as_str().to_string()
    }
}

/// The directives backed by typed fields: directive name => field. (serde
/// derives the same names from the field names; a unit test checks that the
/// two agree.)
macro_rules! typed_fields {
    ($($name:literal => $field:ident),* $(,)?) => {
        const TYPED_NAMES: &[&str] = &[$($name),*];

        impl Config {
            fn typed_get(&self, name: &str) -> Option<String> {
                match name {
                    $($name => Some(self.$field.to_config_string()),)*
                    _ => None,
                }
            }

            fn typed_set(&mut self, name: &str, args: &[String]) -> Option<Result<(), String>> {
                match name {
                    $($name => Some(
                        Deserialize::deserialize(ArgsDeserializer { args })
                            .map(|v| self.$field = v)
                            .map_err(|e: DeError| e.0),
                    ),)*
                    _ => None,
                }
            }
        }
    };
}

typed_fields! {
    "bind" => bind,
    "port" => port,
    "daemonize" => daemonize,
    "pidfile" => pidfile,
    "protected-mode" => protected_mode,
    "requirepass" => requirepass,
    "timeout" => timeout,
    "tcp-keepalive" => tcp_keepalive,
    "databases" => databases,
    "maxclients" => maxclients,
    "loglevel" => loglevel,
    "logfile" => logfile,
    "dir" => dir,
    "proto-max-bulk-len" => proto_max_bulk_len,
    "client-query-buffer-limit" => client_query_buffer_limit,
    "hz" => hz,
    "zset-max-listpack-entries" => zset_max_listpack_entries,
    "zset-max-listpack-value" => zset_max_listpack_value,
    "appendonly" => appendonly,
    "appendfsync" => appendfsync,
    "appendfilename" => appendfilename,
    "appenddirname" => appenddirname,
    "aof-load-truncated" => aof_load_truncated,
    "auto-aof-rewrite-percentage" => auto_aof_rewrite_percentage,
    "auto-aof-rewrite-min-size" => auto_aof_rewrite_min_size,
    "multi-rollback" => multi_rollback,
    "set-max-intset-entries" => set_max_intset_entries,
    "self" => self_addr,
    "peers" => peers,
    "cluster-node-timeout" => cluster_node_timeout,
}

fn is_typed(name: &str) -> bool {
    TYPED_NAMES.contains(&name)
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Where a configuration line came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// A string given to [`Config::parse`].
    Text,
    /// A config file (main or included).
    File(PathBuf),
    /// Configuration read from standard input (`-` argument).
    Stdin,
    /// `--name value` command line options.
    CommandLine,
}

/// A fatal configuration error. `Display` renders Redis's
/// `*** FATAL CONFIG FILE ERROR ***` block (print it to stderr after an empty
/// line, then exit 1, as redis-server does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the offending line is; `None` when the error is not about a line
    /// (e.g. the main config file cannot be opened).
    pub origin: Option<ConfigOrigin>,
    /// 1-based line number within `origin`.
    pub line: Option<usize>,
    /// The offending line, trimmed, as shown after `>>> `.
    pub text: Option<String>,
    /// What is wrong, in Redis's words.
    pub message: String,
    /// Whether the FATAL header is printed when there is no line.
    header: bool,
}

impl ConfigError {
    fn at(origin: &ConfigOrigin, line: usize, text: &str, message: impl Into<String>) -> Self {
        ConfigError {
            origin: Some(origin.clone()),
            line: Some(line),
            text: Some(text.to_string()),
            message: message.into(),
            header: true,
        }
    }

    /// An error not tied to a line, printed like Redis's `serverLog` fatal
    /// messages (no header).
    fn plain(message: impl Into<String>) -> Self {
        ConfigError {
            origin: None,
            line: None,
            text: None,
            message: message.into(),
            header: false,
        }
    }

    /// An error not tied to a line but printed with the FATAL header, like
    /// Redis's "Can't open the log file" check.
    pub fn fatal(message: impl Into<String>) -> Self {
        ConfigError {
            header: true,
            ..ConfigError::plain(message)
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.header {
            writeln!(f, "*** FATAL CONFIG FILE ERROR ({BANNER}) ***")?;
        }
        if let (Some(line), Some(text)) = (self.line, &self.text) {
            match &self.origin {
                Some(ConfigOrigin::File(path)) => writeln!(
                    f,
                    "Reading the configuration file '{}', at line {line}",
                    path.display()
                )?,
                Some(ConfigOrigin::Stdin) => {
                    writeln!(f, "Reading the configuration from stdin, at line {line}")?
                }
                Some(ConfigOrigin::CommandLine) => {
                    writeln!(f, "Reading the command line options, at line {line}")?
                }
                Some(ConfigOrigin::Text) | None => {
                    writeln!(f, "Reading the configuration file, at line {line}")?
                }
            }
            writeln!(f, ">>> '{text}'")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------------------
// The Redis 7.0 directive table
// ---------------------------------------------------------------------------

const MODIFIABLE: u8 = 0;
const IMMUTABLE: u8 = 1;
const PROTECTED: u8 = 2;
const MULTI_ARG: u8 = 4;
const HIDDEN: u8 = 8;

const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
const UINT_MAX: i64 = u32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;
/// C's `ULLONG_MAX` stored in a `long long` bound, as Redis does.
const ULLONG_MAX: i64 = -1;

/// The C type backing a numeric config; decides signed/unsigned bound checks
/// and the truncation applied when Redis stores the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumTy {
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
enum NumFmt {
    Integer,
    Memory,
    MemoryPercent,
    Octal,
}

#[derive(Debug, Clone, Copy)]
struct Num {
    ty: NumTy,
    fmt: NumFmt,
    lower: i64,
    upper: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrCheck {
    None,
    DbFilename,
    AofFilename,
    AofDirname,
    Hostname,
    ProcTitleTemplate,
    HostPort,
}

type EnumValues = &'static [(&'static str, u32)];

#[derive(Debug, Clone, Copy)]
enum Kind {
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
struct Spec {
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    kind: Kind,
    /// The value CONFIG GET prints when the directive was never set (for
    /// `dir`: unused, the working directory is reported).
    default: &'static str,
}

impl Spec {
    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    fn default_args(&self) -> Vec<String> {
        if self.has(MULTI_ARG) {
            split_space(self.default)
        } else {
            vec![self.default.to_string()]
        }
    }
}

const fn bool_cfg(
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

const fn str_cfg(
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

const fn enum_cfg(
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
const fn num_cfg(
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

const fn int_cfg(
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

const fn special_cfg(
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

const SUPERVISED: EnumValues = &[("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)];
const SYSLOG_FACILITY: EnumValues = &[
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
const REPL_DISKLESS_LOAD: EnumValues = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
const LOGLEVELS: EnumValues = &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
const MAXMEMORY_POLICY: EnumValues = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
const AOF_FSYNC: EnumValues = &[("everysec", 2), ("always", 1), ("no", 0)];
const OOM_SCORE_ADJ: EnumValues = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const ACL_PUBSUB_DEFAULT: EnumValues = &[("allchannels", 1), ("resetchannels", 0)];
const SANITIZE_DUMP_PAYLOAD: EnumValues = &[("no", 0), ("yes", 1), ("clients", 2)];
const PROTECTED_ACTION: EnumValues = &[("no", 0), ("yes", 1), ("local", 2)];
const ENDPOINT_TYPE: EnumValues = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
const PROPAGATION_ERROR_BEHAVIOR: EnumValues =
    &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
const TLS_AUTH_CLIENTS: EnumValues = &[("no", 0), ("yes", 1), ("optional", 2)];
const SHUTDOWN_ON_SIG: EnumValues = &[
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
static SPECS: &[Spec] = &[
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
const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

/// Find a directive by name or alias, case-insensitively. Returns the spec
/// and the name it is registered under (the alias when found by alias).
fn lookup(name: &str) -> Option<(&'static Spec, &'static str)> {
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

// ---------------------------------------------------------------------------
// Low-level parsing helpers (ports of Redis's sds.c / util.c)
// ---------------------------------------------------------------------------

/// C `isspace` in the "C" locale.
fn c_isspace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Port of `sdssplitargs`: split a line into arguments honouring Redis's
/// quoting rules. Returns `None` on unbalanced quotes (or a closing quote
/// not followed by a space). Input is treated as a C string: it ends at the
/// first NUL byte.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let end = memchr::memchr(0, line).unwrap_or(line.len());
    let line = &line[..end];
    let at = |i: usize| -> u8 { line.get(i).copied().unwrap_or(0) };
    let mut args = Vec::new();
    let mut p = 0usize;
    loop {
        while p < line.len() && c_isspace(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let mut inq = false;
        let mut insq = false;
        let mut done = false;
        let mut current = Vec::new();
        while !done {
            let c = at(p);
            if inq {
                if c == b'\\'
                    && at(p + 1) == b'x'
                    && at(p + 2).is_ascii_hexdigit()
                    && at(p + 3).is_ascii_hexdigit()
                {
                    let hex = |b: u8| (b as char).to_digit(16).unwrap() as u8;
                    current.push(hex(at(p + 2)) * 16 + hex(at(p + 3)));
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    // The closing quote must be followed by a space or
                    // nothing at all.
                    if at(p + 1) != 0 && !c_isspace(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None; // unterminated quotes
                } else {
                    current.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !c_isspace(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    other => current.push(other),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        args.push(current);
    }
}

/// Port of `sdscatrepr`: quote a string so `split_args` reads it back.
fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &c in s {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

/// `sdssplitlen(value, " ")`: how CONFIG SET splits multi-argument values
/// (empty input gives no tokens; consecutive spaces give empty tokens).
fn split_space(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(' ').map(str::to_string).collect()
    }
}

/// Redis's `yesnotoi`.
fn yes_no(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// Port of Redis's `memtoull`: `123`, `1k` (1000), `1kb` (1024), `m`, `mb`,
/// `g`, `gb`, `b`; units case-insensitive. Overflowing digit strings
/// saturate like `strtoull`. Returns `None` where Redis sets `err`.
pub fn memtoull(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.first() == Some(&b'-') {
        return None;
    }
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = &s[digits..];
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits >= 128 {
        return None;
    }
    let mut val: u64 = 0;
    for &c in &b[..digits] {
        val = val
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as u64))
            .unwrap_or(u64::MAX);
        if val == u64::MAX {
            break;
        }
    }
    if val > u64::MAX / mul {
        return None;
    }
    Some(val * mul)
}

/// Port of Redis's strict `string2ll`: optional `-`, no leading zeros, no
/// `+`, no spaces, no overflow.
pub fn string2ll(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// C `strtoll(s, &end, base)`: returns the value (saturated on overflow),
/// whether all of `s` was consumed (`*end == '\0'`) and whether it
/// overflowed (`errno == ERANGE`).
fn c_strtoll(s: &str, base: u32) -> (i64, bool, bool) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && c_isspace(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut acc: i128 = 0;
    let mut overflow = false;
    while i < b.len() {
        let Some(d) = (b[i] as char).to_digit(base) else {
            break;
        };
        if !overflow {
            acc = acc * base as i128 + d as i128;
            if acc > i64::MAX as i128 + 1 {
                overflow = true;
            }
        }
        i += 1;
    }
    if i == start {
        // No conversion: end points at the start of the string.
        return (0, s.is_empty(), false);
    }
    let v = if neg { -acc } else { acc };
    let (v, of) = if v > i64::MAX as i128 {
        (i64::MAX, true)
    } else if v < i64::MIN as i128 {
        (i64::MIN, true)
    } else {
        (v as i64, overflow)
    };
    (v, i == b.len(), of)
}

/// Redis's `string2d` (strict strtod).
fn string2d(s: &str) -> Option<f64> {
    if s.is_empty() || c_isspace(s.as_bytes()[0]) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// `printf("%f")` followed by Redis's `trimDoubleString`.
fn format_percentile(v: f64) -> String {
    let mut s = format!("{v:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// Text of an OS error as `strerror` gives it (no "(os error N)" suffix).
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------------------
// Value validation and normalization (the `set` functions of config.c)
// ---------------------------------------------------------------------------

/// State a setter may need.
struct SetCtx {
    /// Reading a config file (affects how `save` lines accumulate).
    loading: bool,
    /// Whether a `save` line was already seen during this load.
    save_loaded: bool,
    /// The directory relative paths (dir, include) resolve against.
    cwd: PathBuf,
}

fn parse_numeric(n: &Num, v: &str) -> Result<i64, String> {
    if matches!(n.fmt, NumFmt::Memory | NumFmt::MemoryPercent)
        && let Some(x) = memtoull(v)
    {
        return Ok(x as i64);
    }
    if n.fmt == NumFmt::MemoryPercent
        && v.len() > 1
        && v.ends_with('%')
        && let Some(x) = string2ll(&v[..v.len() - 1])
        && x >= 0
    {
        // Percentages are stored as negative values.
        return Ok(-x);
    }
    if n.fmt == NumFmt::Octal {
        let (x, all, overflow) = c_strtoll(v, 8);
        if !overflow && all {
            return Ok(x);
        }
    }
    if n.fmt == NumFmt::Integer
        && let Some(x) = string2ll(v)
    {
        return Ok(x);
    }
    Err(match n.fmt {
        NumFmt::MemoryPercent => "argument must be a memory or percent value",
        NumFmt::Memory => "argument must be a memory value",
        NumFmt::Octal => "argument couldn't be parsed as an octal number",
        NumFmt::Integer => "argument couldn't be parsed into an integer",
    }
    .to_string())
}

fn numeric_bound_check(n: &Num, ll: i64) -> Result<(), String> {
    if matches!(n.ty, NumTy::ULongLong | NumTy::UInt | NumTy::SizeT) {
        let (v, lo, up) = (ll as u64, n.lower as u64, n.upper as u64);
        if v > up || v < lo {
            return Err(if n.fmt == NumFmt::Octal {
                format!("argument must be between {lo:o} and {up:o} inclusive")
            } else {
                format!("argument must be between {lo} and {up} inclusive")
            });
        }
    } else if n.fmt == NumFmt::MemoryPercent && ll < 0 {
        if ll < n.lower {
            return Err(format!(
                "percentage argument must be less or equal to {}",
                -n.lower
            ));
        }
    } else if ll > n.upper || ll < n.lower {
        return Err(format!(
            "argument must be between {} and {} inclusive",
            n.lower, n.upper
        ));
    }
    Ok(())
}

/// Store `ll` into the C type and read it back, then format it like
/// `numericConfigGet`.
fn numeric_format(n: &Num, ll: i64) -> String {
    let v = match n.ty {
        NumTy::Int => ll as i32 as i64,
        NumTy::UInt => ll as u32 as i64,
        _ => ll,
    };
    match n.fmt {
        NumFmt::MemoryPercent if v < 0 => format!("{}%", -v),
        NumFmt::Memory | NumFmt::MemoryPercent => (v as u64).to_string(),
        NumFmt::Octal => format!("{v:o}"),
        NumFmt::Integer => v.to_string(),
    }
}

fn enum_error(values: EnumValues) -> String {
    let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
    let mut s = format!(
        "argument(s) must be one of the following: {}",
        names.join(", ")
    );
    s.truncate(255);
    s
}

fn enum_lookup(values: EnumValues, s: &str) -> Option<u32> {
    values
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, v)| *v)
}

/// `configEnumGetName`: the name of a value; for bit flags, a perfect match
/// or the names of the flags, in table order.
fn enum_name(values: EnumValues, value: u32, bitflags: bool) -> Vec<String> {
    if let Some((n, _)) = values.iter().find(|(_, v)| *v == value) {
        return vec![n.to_string()];
    }
    let mut names = Vec::new();
    if bitflags {
        let mut unmatched = value;
        for (n, v) in values {
            if *v != 0 && *v == (unmatched & *v) {
                names.push(n.to_string());
                unmatched &= !*v;
            }
        }
    }
    if names.is_empty() {
        names.push("unknown".to_string());
    }
    names
}

fn check_string(check: StrCheck, v: &str) -> Result<(), String> {
    let is_base_name = |s: &str| !s.contains('/') && !s.contains('\\');
    match check {
        StrCheck::None => Ok(()),
        StrCheck::DbFilename => {
            if is_base_name(v) {
                Ok(())
            } else {
                Err("dbfilename can't be a path, just a filename".into())
            }
        }
        StrCheck::AofFilename => {
            if v.is_empty() {
                Err("appendfilename can't be empty".into())
            } else if !is_base_name(v) {
                Err("appendfilename can't be a path, just a filename".into())
            } else {
                Ok(())
            }
        }
        StrCheck::AofDirname => {
            if v.is_empty() {
                Err("appenddirname can't be empty".into())
            } else if !is_base_name(v) {
                Err("appenddirname can't be a path, just a dirname".into())
            } else {
                Ok(())
            }
        }
        StrCheck::Hostname => {
            if v.len() >= 256 {
                Err("Hostnames must be less than 256 characters".into())
            } else if !v
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
            {
                Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into())
            } else {
                Ok(())
            }
        }
        StrCheck::ProcTitleTemplate => {
            if proc_title_template_valid(v) {
                Ok(())
            } else {
                Err("template format is invalid or contains unknown variables".into())
            }
        }
        StrCheck::HostPort => {
            if v.is_empty() {
                Ok(())
            } else {
                check_host_port(v)
            }
        }
    }
}

/// `validateProcTitleTemplate`: expand with Redis's `sdstemplate` rules and
/// an empty title; the result (trimmed) must not be empty.
fn proc_title_template_valid(t: &str) -> bool {
    let mut out = String::new();
    let mut rest = t;
    while !rest.is_empty() {
        let Some(open) = rest.find('{') else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if after.is_empty() {
            return false;
        }
        if let Some(tail) = after.strip_prefix('{') {
            out.push('{');
            rest = tail;
            continue;
        }
        let Some(close) = after.find('}') else {
            return false;
        };
        let value = match &after[..close] {
            "title" | "server-mode" | "unixsocket" | "config-file" => "",
            "listen-addr" => "*:6379",
            "port" => "6379",
            "tls-port" => "0",
            _ => return false,
        };
        out.push_str(value);
        rest = &after[close + 1..];
    }
    !out.trim_matches(' ').is_empty()
}

fn check_host_port(v: &str) -> Result<(), String> {
    match v.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(format!("'{v}' is not a valid host:port address")),
    }
}

/// Validate `args` for `spec` and return the normalized argument list (what
/// CONFIG GET shows, space-joined). `current` is the present normalized
/// value (some directives merge into it).
fn set_value(
    spec: &Spec,
    args: &[String],
    current: &[String],
    ctx: &mut SetCtx,
) -> Result<Vec<String>, String> {
    // Single-argument kinds always get exactly one argument (checked by the
    // callers, as in Redis).
    let one = || args.first().map(String::as_str).unwrap_or("");
    match spec.kind {
        Kind::Bool => match yes_no(one()) {
            Some(b) => Ok(vec![b.to_config_string()]),
            None => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Str(check) => {
            check_string(check, one())?;
            Ok(vec![one().to_string()])
        }
        Kind::Enum(values) => match enum_lookup(values, one()) {
            Some(v) => Ok(enum_name(values, v, false)),
            None => Err(enum_error(values)),
        },
        Kind::EnumFlags(values) => {
            if args.is_empty() {
                return Err(enum_error(values));
            }
            let mut flags = 0;
            for a in args {
                flags |= enum_lookup(values, a).ok_or_else(|| enum_error(values))?;
            }
            // isValidShutdownOnSigFlags: SAVE (1) and NOSAVE (2).
            if flags & 3 == 3 {
                return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
            }
            Ok(enum_name(values, flags, true))
        }
        Kind::Num(n) => {
            let ll = parse_numeric(&n, one())?;
            numeric_bound_check(&n, ll)?;
            let mut out = numeric_format(&n, ll);
            if spec.name == "hz" {
                // updateHZ: out-of-range values are accepted but capped.
                out = ll.clamp(1, 500).to_string();
            }
            Ok(vec![out])
        }
        Kind::Dir => {
            if args.len() != 1 {
                return Err("wrong number of arguments".into());
            }
            if args[0].is_empty() {
                return Err("No such file or directory".into());
            }
            let path = ctx.cwd.join(&args[0]);
            match std::fs::metadata(&path) {
                Err(e) => return Err(strerror(&e)),
                Ok(m) if !m.is_dir() => return Err("Not a directory".into()),
                Ok(_) => {}
            }
            let canon = std::fs::canonicalize(&path).map_err(|e| strerror(&e))?;
            ctx.cwd = canon.clone();
            Ok(vec![canon.to_string_lossy().into_owned()])
        }
        Kind::Save => {
            if args.len() == 1 && args[0].is_empty() {
                // `save ""` clears the save points.
                ctx.save_loaded = true;
                return Ok(Vec::new());
            }
            if args.len() % 2 == 1 {
                return Err("Invalid save parameters".into());
            }
            let mut pairs = Vec::with_capacity(args.len());
            for (j, a) in args.iter().enumerate() {
                let (v, all, _) = c_strtoll(a, 10);
                if !all || (j % 2 == 0 && v < 1) || (j % 2 == 1 && v < 0) {
                    return Err("Invalid save parameters".into());
                }
                // seconds is a time_t, changes an int.
                pairs.push(if j % 2 == 0 {
                    v.to_string()
                } else {
                    (v as i32).to_string()
                });
            }
            let mut out = Vec::new();
            if ctx.loading && ctx.save_loaded {
                // Later `save` lines of a config file add save points.
                out.extend_from_slice(current);
            }
            ctx.save_loaded = true;
            out.extend(pairs);
            Ok(out)
        }
        Kind::ClientOutputBufferLimit => {
            if !args.len().is_multiple_of(4) {
                return Err("Wrong number of arguments in buffer limit configuration.".into());
            }
            // current: "normal h s sec slave h s sec pubsub h s sec"
            let mut classes: Vec<[String; 3]> = (0..3)
                .map(|c| {
                    let base = c * 4 + 1;
                    let get = |i: usize| current.get(base + i).cloned().unwrap_or_default();
                    [get(0), get(1), get(2)]
                })
                .collect();
            let mut updates = Vec::new();
            for chunk in args.chunks(4) {
                let class = match chunk[0].to_ascii_lowercase().as_str() {
                    "normal" => 0,
                    "slave" | "replica" => 1,
                    "pubsub" => 2,
                    _ => {
                        return Err(
                            "Invalid client class specified in buffer limit configuration.".into(),
                        );
                    }
                };
                let hard = memtoull(&chunk[1]);
                let soft = memtoull(&chunk[2]);
                let (secs, all, _) = c_strtoll(&chunk[3], 10);
                let secs = secs as i32; // stored in an int first
                let (Some(hard), Some(soft)) = (hard, soft) else {
                    return Err(cob_error());
                };
                if secs < 0 || !all {
                    return Err(cob_error());
                }
                updates.push((
                    class,
                    [hard.to_string(), soft.to_string(), secs.to_string()],
                ));
            }
            for (class, v) in updates {
                classes[class] = v;
            }
            let mut out = Vec::with_capacity(12);
            for (name, v) in ["normal", "slave", "pubsub"].iter().zip(classes) {
                out.push(name.to_string());
                out.extend(v);
            }
            Ok(out)
        }
        Kind::OomScoreAdjValues => {
            if args.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let mut out = Vec::with_capacity(3);
            for a in args {
                let (v, all, _) = c_strtoll(a, 10);
                if !all || !(-2000..=2000).contains(&v) {
                    return Err(
                        "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                            .into(),
                    );
                }
                out.push(v.to_string());
            }
            Ok(out)
        }
        Kind::NotifyKeyspaceEvents => {
            if args.len() != 1 {
                return Err("wrong number of arguments".into());
            }
            Ok(vec![normalize_keyspace_events(&args[0])?])
        }
        Kind::Bind => {
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            if args.len() == 1 && args[0].is_empty() {
                return Ok(Vec::new());
            }
            Ok(args.to_vec())
        }
        Kind::ReplicaOf => {
            if args.len() != 2 {
                return Err("wrong number of arguments".into());
            }
            if args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one") {
                return Ok(Vec::new());
            }
            let (port, all, _) = c_strtoll(&args[1], 10);
            if !all || !(0..=65535).contains(&port) {
                return Err("Invalid master port".into());
            }
            Ok(vec![args[0].clone(), port.to_string()])
        }
        Kind::LatencyTrackingInfoPercentiles => {
            if args.len() == 1 && args[0].is_empty() {
                return Ok(Vec::new());
            }
            let mut out = Vec::with_capacity(args.len());
            for a in args {
                let Some(p) = string2d(a) else {
                    return Err("Invalid latency-tracking-info-percentiles parameters".into());
                };
                if !(0.0..=100.0).contains(&p) {
                    return Err(
                        "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                            .into(),
                    );
                }
                out.push(format_percentile(p));
            }
            Ok(out)
        }
        Kind::Peers => {
            // `peers a:1, b:2`, `peers a:1,b:2` and `peers a:1 b:2` all
            // name the same members.
            // `--peers "a:1 b:2"` on the command line arrives as one
            // argument: split on white space as well as commas.
            let list: Vec<String> = args
                .iter()
                .flat_map(|a| a.split(|c: char| c == ',' || c.is_whitespace()))
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
            for a in &list {
                check_host_port(a)?;
            }
            Ok(list)
        }
    }
}

fn cob_error() -> String {
    "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into()
}

/// `keyspaceEventsStringToFlags` + `keyspaceEventsFlagsToString`.
fn normalize_keyspace_events(s: &str) -> Result<String, String> {
    const ALL: &str = "g$lshzxetd";
    let mut flags = std::collections::HashSet::new();
    for c in s.chars() {
        match c {
            'A' => flags.extend(ALL.chars()),
            'g' | '$' | 'l' | 's' | 'h' | 'z' | 'x' | 'e' | 'K' | 'E' | 't' | 'm' | 'd' | 'n' => {
                flags.insert(c);
            }
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        }
    }
    let mut out = String::new();
    if ALL.chars().all(|c| flags.contains(&c)) {
        // Like Redis, 'n' (not part of 'A') is not printed next to 'A'.
        out.push('A');
    } else {
        for c in "g$lshzxetdn".chars() {
            if flags.contains(&c) {
                out.push(c);
            }
        }
    }
    for c in "KEm".chars() {
        if flags.contains(&c) {
            out.push(c);
        }
    }
    // Redis keeps 'n' active next to 'A' without printing it: it is stored
    // last and hidden by `value_of`.
    if out.starts_with('A') && flags.contains(&'n') {
        out.push('n');
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

enum DirectiveError {
    Message(String),
    Nested(ConfigError),
}

impl From<String> for DirectiveError {
    fn from(s: String) -> Self {
        DirectiveError::Message(s)
    }
}

struct Loader {
    values: BTreeMap<&'static str, Vec<String>>,
    ignored: Vec<String>,
    rename_commands: Vec<(String, String)>,
    ctx: SetCtx,
    depth: usize,
}

/// Includes deeper than this are refused (Redis recurses until it crashes).
const MAX_INCLUDE_DEPTH: usize = 32;

impl Loader {
    fn new() -> Self {
        Loader {
            values: BTreeMap::new(),
            ignored: Vec::new(),
            rename_commands: Vec::new(),
            ctx: SetCtx {
                loading: true,
                save_loaded: false,
                cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            },
            depth: 0,
        }
    }

    fn note_ignored(&mut self, name: &str) {
        if !self.ignored.iter().any(|n| n == name) {
            self.ignored.push(name.to_string());
        }
    }

    fn current(&self, spec: &Spec) -> Vec<String> {
        self.values
            .get(spec.name)
            .cloned()
            .unwrap_or_else(|| spec.default_args())
    }

    /// `loadServerConfigFromString`.
    fn load_text(&mut self, text: &[u8], origin: &ConfigOrigin) -> Result<(), ConfigError> {
        if text.is_empty() {
            return Ok(());
        }
        for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
            let line = trim_bytes(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let err_at = |msg: String| ConfigError::at(origin, i + 1, &lossy(line), msg);
            let Some(argv) = split_args(line) else {
                return Err(err_at("Unbalanced quotes in configuration line".into()));
            };
            if argv.is_empty() {
                continue;
            }
            let argv: Vec<String> = argv.iter().map(|a| lossy(a)).collect();
            match self.directive(&argv) {
                Ok(()) => {}
                Err(DirectiveError::Message(m)) => return Err(err_at(m)),
                Err(DirectiveError::Nested(e)) => return Err(e),
            }
        }
        Ok(())
    }

    fn directive(&mut self, argv: &[String]) -> Result<(), DirectiveError> {
        let name = argv[0].to_ascii_lowercase();
        let argc = argv.len();
        if let Some((spec, _)) = lookup(&name) {
            if !spec.has(MULTI_ARG) && argc != 2 {
                return Err("wrong number of arguments".to_string().into());
            }
            let current = self.current(spec);
            let value = set_value(spec, &argv[1..], &current, &mut self.ctx)?;
            self.values.insert(spec.name, value);
            if !is_typed(spec.name) {
                self.note_ignored(spec.name);
            }
            return Ok(());
        }
        if DEPRECATED.contains(&name.as_str()) && argc == 2 {
            self.note_ignored(&name);
            return Ok(());
        }
        match name.as_str() {
            "include" if argc == 2 => self.include(&argv[1]),
            "rename-command" if argc == 3 => {
                self.rename_commands
                    .push((argv[1].clone(), argv[2].clone()));
                self.note_ignored("rename-command");
                Ok(())
            }
            "user" | "loadmodule" if argc >= 2 => {
                self.note_ignored(&name);
                Ok(())
            }
            n if n.contains('.') => {
                if argc != 2 {
                    return Err("Module config specified without value".to_string().into());
                }
                self.note_ignored(n);
                Ok(())
            }
            "sentinel" => {
                if argc != 1 {
                    return Err("sentinel directive while not in sentinel mode"
                        .to_string()
                        .into());
                }
                Ok(())
            }
            _ => Err("Bad directive or wrong number of arguments"
                .to_string()
                .into()),
        }
    }

    fn include(&mut self, path: &str) -> Result<(), DirectiveError> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(format!(
                "Too many nested include directives (more than {MAX_INCLUDE_DEPTH}), include loop?"
            )
            .into());
        }
        self.depth += 1;
        let r = self.load_path(path).map_err(DirectiveError::Nested);
        self.depth -= 1;
        r
    }

    /// `loadServerConfig(filename)`: a plain path must open; a path with
    /// glob characters loads every match (none is fine).
    fn load_path(&mut self, path: &str) -> Result<(), ConfigError> {
        let full = self.ctx.cwd.join(path);
        if path.contains(['*', '?', '[']) {
            for file in expand_glob(&full) {
                let text = std::fs::read(&file).map_err(|e| {
                    ConfigError::plain(format!(
                        "Fatal error, can't open config file '{}': {}",
                        file.display(),
                        strerror(&e)
                    ))
                })?;
                self.load_text(&text, &ConfigOrigin::File(file))?;
            }
            Ok(())
        } else {
            let text = std::fs::read(&full).map_err(|e| {
                ConfigError::plain(format!(
                    "Fatal error, can't open config file '{path}': {}",
                    strerror(&e)
                ))
            })?;
            self.load_text(&text, &ConfigOrigin::File(PathBuf::from(path)))
        }
    }

    fn finish(self, config_file: Option<PathBuf>) -> Result<Config, ConfigError> {
        let mut config = Config::deserialize(DirectiveMap {
            iter: self.values.iter(),
            value: None,
        })
        .map_err(|e| ConfigError::fatal(e.0))?;
        config.other = self
            .values
            .into_iter()
            .filter(|(k, _)| !is_typed(k))
            .collect();
        config.ignored = self.ignored;
        config.rename_commands = self.rename_commands;
        config.config_file = config_file;
        Ok(config)
    }
}

fn trim_bytes(b: &[u8]) -> &[u8] {
    let is_trim = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = b.iter().position(|c| !is_trim(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_trim(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

/// A small `glob(3)`: wildcards in any path component, matched with Redis's
/// matcher; hidden entries only match patterns starting with '.'; sorted.
fn expand_glob(pattern: &Path) -> Vec<PathBuf> {
    use std::path::Component;
    let mut paths = vec![PathBuf::new()];
    for comp in pattern.components() {
        let part = comp.as_os_str().to_string_lossy().into_owned();
        let wild = matches!(comp, Component::Normal(_)) && part.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for base in &paths {
            if !wild {
                next.push(base.join(comp.as_os_str()));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') || part.starts_with('.'))
                .filter(|n| glob_match(part.as_bytes(), n.as_bytes(), false))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        paths = next;
    }
    paths.retain(|p| p.is_file());
    paths
}

/// What a redis-server command line means: `[config-file] [-] [--name
/// value...]`.
struct CommandLine {
    config_file: Option<String>,
    stdin: bool,
    options: String,
}

/// Port of the argument handling of Redis's `main()`: options become
/// config text (`--port 6380` -> `port "6380"`), values quoted with
/// `sdscatrepr`, an option's values running up to the next `--name`.
fn parse_command_line(args: &[String]) -> CommandLine {
    let n = args.len();
    let mut j = 0;
    let mut config_file = None;
    if n > 0 && !args[0].starts_with('-') {
        config_file = Some(args[0].clone());
        j = 1;
    }
    let mut stdin = false;
    let mut options = String::new();
    let mut handled_last_config_arg = true;
    while j < n {
        let a = &args[j];
        if a == "-" && (j == 0 || j == n - 1) {
            stdin = true;
        } else if handled_last_config_arg && a.starts_with("--") {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(&a[2..]);
            options.push(' ');
            let argc = split_args(a.as_bytes()).map_or(0, |v| v.len());
            if argc == 1 {
                // Only an option name: its values follow.
                handled_last_config_arg = false;
                let next_is_option = j != n - 1 && args[j + 1].starts_with("--");
                if a.eq_ignore_ascii_case("--save") {
                    // `--save` with no value means `save ""`.
                    if next_is_option {
                        options.push_str("\"\"");
                        handled_last_config_arg = true;
                    } else if j == n - 1 {
                        options.push_str("\"\"");
                    }
                } else if a.eq_ignore_ascii_case("--sentinel") && next_is_option {
                    handled_last_config_arg = true;
                }
            } else {
                // Name and value in one argument, like "--port 6380".
                handled_last_config_arg = true;
            }
        } else {
            options.push_str(&repr(a.as_bytes()));
            options.push(' ');
            handled_last_config_arg = true;
        }
        j += 1;
    }
    CommandLine {
        config_file,
        stdin,
        options,
    }
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

impl Config {
    /// Build the configuration from redis-server style arguments (without
    /// the program name): an optional config file path first (when it does
    /// not start with `-`), `-` to also read config from stdin (first or last
    /// argument), then `--directive value [value...]` overrides applied after
    /// the file, e.g. `redis.conf --port 6380 --save "" --bind 127.0.0.1 ::1`.
    /// `--version`/`--help` are not handled here (see main.rs).
    pub fn from_args<I, S>(args: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let args: Vec<String> = args.into_iter().map(|a| a.as_ref().to_string()).collect();
        Config::load(parse_command_line(&args))
    }

    fn load(cl: CommandLine) -> Result<Config, ConfigError> {
        let mut loader = Loader::new();
        let mut config_file = None;
        if let Some(file) = &cl.config_file {
            let abs = std::path::absolute(file).unwrap_or_else(|_| PathBuf::from(file));
            loader.load_path(&abs.to_string_lossy())?;
            config_file = Some(abs);
        }
        if cl.stdin {
            let mut text = Vec::new();
            io::stdin().read_to_end(&mut text).map_err(|e| {
                ConfigError::plain(format!("Can't read config from stdin: {}", strerror(&e)))
            })?;
            loader.load_text(&text, &ConfigOrigin::Stdin)?;
        }
        loader.load_text(cl.options.as_bytes(), &ConfigOrigin::CommandLine)?;
        loader.finish(config_file)
    }

    /// Load a config file (like `memkv <path>`).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        Config::load(CommandLine {
            config_file: Some(path.as_ref().to_string_lossy().into_owned()),
            stdin: false,
            options: String::new(),
        })
    }

    /// Parse configuration text (relative `include`/`dir` resolve against
    /// the working directory).
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let mut loader = Loader::new();
        loader.load_text(text.as_bytes(), &ConfigOrigin::Text)?;
        loader.finish(None)
    }

    /// The bind addresses with Redis's optional marker decoded:
    /// `"-::1"` -> `("::1", true)` (failing to bind it is not fatal).
    /// `*` means all IPv4 interfaces and `::*` all IPv6 ones, as in Redis.
    pub fn bind_addrs(&self) -> Vec<(String, bool)> {
        self.bind
            .iter()
            .map(|a| match a.strip_prefix('-') {
                Some(rest) => (rest.to_string(), true),
                None => (a.clone(), false),
            })
            .collect()
    }

    /// The pid file to write, as redis-server decides: the configured
    /// `pidfile`, else `/var/run/redis.pid` when daemonized, else none.
    pub fn pidfile_path(&self) -> Option<PathBuf> {
        if !self.pidfile.is_empty() {
            Some(PathBuf::from(&self.pidfile))
        } else if self.daemonize {
            Some(PathBuf::from(DEFAULT_PID_FILE))
        } else {
            None
        }
    }

    /// Log each ignored directive once: at warning level when its value
    /// differs from Redis's default (memkv behaves differently from what the
    /// file asks), at info level otherwise. Call after logging is set up.
    pub fn log_ignored(&self) {
        for name in &self.ignored {
            match lookup(name) {
                Some((spec, _)) => {
                    let value = self.value_of(spec);
                    // memkv never writes RDB snapshots, so "no save points"
                    // is what it does anyway.
                    if value == spec.default || (spec.name == "save" && value.is_empty()) {
                        log::info!("ignoring unsupported directive '{name}' (value '{value}')");
                    } else {
                        log::warn!("ignoring unsupported directive '{name}' (value '{value}')");
                    }
                }
                None => log::warn!("ignoring unsupported directive '{name}'"),
            }
        }
    }

    /// `notify-keyspace-events` as stored (with a hidden trailing 'n' after
    /// 'A', which CONFIG GET does not show); None when never set.
    pub fn keyspace_events_raw(&self) -> Option<&str> {
        self.other
            .get("notify-keyspace-events")
            .and_then(|a| a.first())
            .map(String::as_str)
    }

    /// The current value of one known parameter (name or alias, any case,
    /// hidden ones included), formatted as CONFIG GET prints it.
    pub fn value(&self, name: &str) -> Option<String> {
        lookup(name).map(|(spec, _)| self.value_of(spec))
    }

    fn value_of(&self, spec: &Spec) -> String {
        if spec.name == "dir" {
            return std::fs::canonicalize(&self.dir)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| self.dir.clone());
        }
        if let Some(v) = self.typed_get(spec.name) {
            return v;
        }
        if spec.name == "notify-keyspace-events"
            && let Some(v) = self.other.get(spec.name).and_then(|a| a.first())
            && v.starts_with('A')
        {
            return v.trim_end_matches('n').to_string();
        }
        match self.other.get(spec.name) {
            Some(args) => args.join(" "),
            None => spec.default.to_string(),
        }
    }

    fn current_args(&self, spec: &Spec) -> Vec<String> {
        match self.other.get(spec.name) {
            Some(args) => args.clone(),
            None => spec.default_args(),
        }
    }

    /// CONFIG GET for one pattern: without `*?[` an exact, case-insensitive
    /// lookup (hidden parameters and aliases included; the name is echoed as
    /// given, like Redis); otherwise a case-insensitive glob over all
    /// non-hidden names and aliases. Sorted by name.
    pub fn get(&self, pattern: &str) -> Vec<(String, String)> {
        if !pattern.contains(['[', '*', '?']) {
            return match lookup(pattern) {
                Some((spec, _)) => vec![(pattern.to_string(), self.value_of(spec))],
                None => Vec::new(),
            };
        }
        let mut out = Vec::new();
        for spec in SPECS.iter().filter(|s| !s.has(HIDDEN)) {
            for name in std::iter::once(spec.name).chain(spec.alias) {
                if glob_match(pattern.as_bytes(), name.as_bytes(), true) {
                    out.push((name.to_string(), self.value_of(spec)));
                }
            }
        }
        out.sort();
        out
    }

    /// CONFIG SET of one parameter. Errors are Redis 7.0's texts without the
    /// leading '-', e.g.
    /// `ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer`.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        self.set_many(&[(name, value)], false)
    }

    /// CONFIG SET with several `name value` pairs, atomically (all or
    /// nothing) with Redis's checks in Redis's order: unknown, immutable,
    /// protected, duplicate; then values. `local_client` tells whether the
    /// caller is a local connection (for `enable-protected-configs local`).
    ///
    /// Side effects on success, as Redis applies them: `loglevel` updates the
    /// global log level, `dir` changes the working directory,
    /// `maxclients` raises the open files limit if needed (failing like
    /// Redis if the OS refuses).
    pub fn set_many(&mut self, pairs: &[(&str, &str)], local_client: bool) -> Result<(), String> {
        let protected_ok = match self.value("enable-protected-configs").as_deref() {
            Some("yes") => true,
            Some("local") => local_client,
            _ => false,
        };
        let mut found: Vec<(&'static Spec, &'static str, &str)> = Vec::with_capacity(pairs.len());
        for &(name, value) in pairs {
            let Some((spec, registered)) = lookup(name) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            let fail = |why: &str| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
            };
            if spec.has(IMMUTABLE) {
                return Err(fail("can't set immutable config"));
            }
            if spec.has(PROTECTED) && !protected_ok {
                return Err(fail("can't set protected config"));
            }
            if found.iter().any(|(s, _, _)| std::ptr::eq(*s, spec)) {
                return Err(fail("duplicate parameter"));
            }
            found.push((spec, registered, value));
        }

        let mut new = self.clone();
        let mut ctx = SetCtx {
            loading: false,
            save_loaded: false,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        for &(spec, registered, value) in &found {
            let fail = |why: String| {
                format!(
                    "ERR CONFIG SET failed (possibly related to argument '{registered}') - {why}"
                )
            };
            let args = if spec.has(MULTI_ARG) {
                split_space(value)
            } else {
                vec![value.to_string()]
            };
            let current = new.current_args(spec);
            let normalized = set_value(spec, &args, &current, &mut ctx).map_err(fail)?;
            if spec.name == "maxclients" {
                let wanted: usize = normalized[0].parse().unwrap_or(usize::MAX);
                let possible = adjust_open_files_limit(wanted);
                if possible < wanted {
                    return Err(fail(format!(
                        "The operating system is not able to handle the specified number of clients, try with {possible}"
                    )));
                }
            }
            match new.typed_set(spec.name, &normalized) {
                Some(r) => r.map_err(fail)?,
                None => {
                    new.other.insert(spec.name, normalized);
                }
            }
        }
        for &(spec, _, _) in &found {
            match spec.name {
                "loglevel" => crate::logging::set_level(new.loglevel),
                "dir" => {
                    std::env::set_current_dir(&new.dir).map_err(|e| {
                        format!(
                            "ERR CONFIG SET failed (possibly related to argument 'dir') - {}",
                            strerror(&e)
                        )
                    })?;
                }
                _ => {}
            }
        }
        *self = new;
        Ok(())
    }
}

/// Redis's `adjustOpenFilesLimit`: make sure the process may open
/// `maxclients + 32` files, raising RLIMIT_NOFILE if needed (never lowering
/// the hard limit). Returns the number of clients that fits (`maxclients`
/// when the limit is fine), logging like Redis when it had to reduce.
pub fn adjust_open_files_limit(maxclients: usize) -> usize {
    let maxfiles = (maxclients as u64).saturating_add(MIN_RESERVED_FDS);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == -1 {
        log::warn!(
            "Unable to obtain the current NOFILE limit ({}), assuming 1024 and setting the max clients configuration accordingly.",
            strerror(&io::Error::last_os_error())
        );
        return (1024 - MIN_RESERVED_FDS) as usize;
    }
    let oldlimit = limit.rlim_cur;
    if oldlimit >= maxfiles {
        return maxclients;
    }
    let mut bestlimit = maxfiles;
    let mut setrlimit_error = None;
    while bestlimit > oldlimit {
        let new = libc::rlimit {
            rlim_cur: bestlimit as libc::rlim_t,
            rlim_max: (bestlimit as libc::rlim_t).max(limit.rlim_max),
        };
        // SAFETY: setrlimit only reads the struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != -1 {
            break;
        }
        setrlimit_error = Some(io::Error::last_os_error());
        if bestlimit < 16 {
            bestlimit = oldlimit;
            break;
        }
        bestlimit -= 16;
    }
    bestlimit = bestlimit.max(oldlimit);
    if bestlimit < maxfiles {
        let reduced = bestlimit.saturating_sub(MIN_RESERVED_FDS) as usize;
        log::warn!(
            "You requested maxclients of {maxclients} requiring at least {maxfiles} max file descriptors."
        );
        log::warn!(
            "Server can't set maximum open files to {maxfiles} because of OS error: {}.",
            setrlimit_error.map(|e| strerror(&e)).unwrap_or_default()
        );
        log::warn!(
            "Current maximum open files is {bestlimit}. maxclients has been reduced to {reduced} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
        );
        reduced
    } else {
        log::info!(
            "Increased maximum number of open files to {maxfiles} (it was originally set to {oldlimit})."
        );
        maxclients
    }
}

// ---------------------------------------------------------------------------
// serde: directive map -> Config
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

/// Deserializes the directive map (name -> normalized args) as a map whose
/// keys are directive names; serde's derived `Config` picks its fields by
/// their kebab-case names and ignores the rest.
struct DirectiveMap<'a> {
    iter: std::collections::btree_map::Iter<'a, &'static str, Vec<String>>,
    value: Option<&'a [String]>,
}

impl<'de> de::Deserializer<'de> for DirectiveMap<'_> {
    type Error = DeError;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> de::MapAccess<'de> for DirectiveMap<'_> {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((name, args)) => {
                self.value = Some(args);
                let key: &str = name;
                seed.deserialize(key.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        let args = self.value.take().unwrap_or(&[]);
        seed.deserialize(ArgsDeserializer { args })
    }
}

/// Deserializes one directive's arguments into the requested type: yes/no
/// for bools, integers with Redis memory units for numbers, the joined
/// arguments for strings, each argument for sequences, lowercased names for
/// enums, "" / no arguments as `None`.
struct ArgsDeserializer<'a> {
    args: &'a [String],
}

impl ArgsDeserializer<'_> {
    fn joined(&self) -> String {
        self.args.join(" ")
    }

    fn unsigned(&self) -> Result<u64, DeError> {
        let s = self.joined();
        memtoull(&s).ok_or_else(|| DeError(format!("'{s}' is not a valid unsigned number")))
    }

    fn signed(&self) -> Result<i64, DeError> {
        let s = self.joined();
        string2ll(&s)
            .or_else(|| memtoull(&s).and_then(|v| i64::try_from(v).ok()))
            .ok_or_else(|| DeError(format!("'{s}' is not a valid integer")))
    }
}

impl<'de> de::Deserializer<'de> for ArgsDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_string(self.joined())
    }

    fn deserialize_bool<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match yes_no(&self.joined()) {
            Some(b) => visitor.visit_bool(b),
            None => Err(DeError("argument must be 'yes' or 'no'".into())),
        }
    }

    fn deserialize_u8<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u64(self.unsigned()?)
    }
    fn deserialize_u16<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u64(self.unsigned()?)
    }
    fn deserialize_u32<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u64(self.unsigned()?)
    }
    fn deserialize_u64<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u64(self.unsigned()?)
    }
    fn deserialize_i8<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_i64(self.signed()?)
    }
    fn deserialize_i16<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_i64(self.signed()?)
    }
    fn deserialize_i32<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_i64(self.signed()?)
    }
    fn deserialize_i64<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_i64(self.signed()?)
    }

    fn deserialize_f32<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }
    fn deserialize_f64<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let s = self.joined();
        match string2d(&s) {
            Some(v) => visitor.visit_f64(v),
            None => Err(DeError(format!("'{s}' is not a valid number"))),
        }
    }

    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.args.iter().all(String::is_empty) {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_seq<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(de::value::SeqDeserializer::new(self.args.iter().cloned()))
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let s: de::value::StringDeserializer<DeError> =
            self.joined().to_ascii_lowercase().into_deserializer();
        visitor.visit_enum(s)
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple
        tuple_struct map struct identifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| v.iter().map(|a| lossy(a)).collect())
    }

    #[test]
    fn split_args_like_sdssplitargs() {
        assert_eq!(split("a b  c"), Some(args(&["a", "b", "c"])));
        assert_eq!(split("  "), Some(vec![]));
        assert_eq!(
            split(r#"set "a b" 'c d'"#),
            Some(args(&["set", "a b", "c d"]))
        );
        assert_eq!(split(r#""\x41\n\t\"\\""#), Some(args(&["A\n\t\"\\"])));
        assert_eq!(split(r#""\q""#), Some(args(&["q"])));
        assert_eq!(split(r#"'it\'s'"#), Some(args(&["it's"])));
        assert_eq!(split(r#"'a\nb'"#), Some(args(&["a\\nb"])));
        assert_eq!(split(r#"ab"cd ef""#), Some(args(&["abcd ef"])));
        assert_eq!(split(r#""""#), Some(args(&[""])));
        assert_eq!(split(r#""abc"#), None);
        assert_eq!(split(r#"'abc"#), None);
        assert_eq!(split(r#""abc"def"#), None);
        assert_eq!(split("a\0b c"), Some(args(&["a"])));
        assert_eq!(split_args(br#""\xff""#), Some(vec![vec![0xff]]));
    }

    #[test]
    fn repr_round_trips() {
        for s in [
            "plain",
            "a b",
            "q\"uote",
            "back\\slash",
            "nl\nx",
            "\x01\x7f",
            "",
        ] {
            let quoted = repr(s.as_bytes());
            assert_eq!(split(&quoted), Some(vec![s.to_string()]), "{quoted}");
        }
        assert_eq!(repr(b"a\"b\x01"), r#""a\"b\x01""#);
    }

    #[test]
    fn memtoull_like_redis() {
        assert_eq!(memtoull("0"), Some(0));
        assert_eq!(memtoull("100"), Some(100));
        assert_eq!(memtoull("100k"), Some(100_000));
        assert_eq!(memtoull("100kb"), Some(102_400));
        assert_eq!(memtoull("512mb"), Some(512 << 20));
        assert_eq!(memtoull("1GB"), Some(1 << 30));
        assert_eq!(memtoull("1g"), Some(1_000_000_000));
        assert_eq!(memtoull("5b"), Some(5));
        assert_eq!(memtoull("0100"), Some(100));
        assert_eq!(memtoull(""), Some(0));
        assert_eq!(memtoull("gb"), Some(0));
        assert_eq!(memtoull("-1"), None);
        assert_eq!(memtoull("1.5gb"), None);
        assert_eq!(memtoull("abc"), None);
        assert_eq!(memtoull(" 1"), None);
        assert_eq!(memtoull("+1"), None);
        assert_eq!(memtoull("99999999999999999999"), Some(u64::MAX));
        assert_eq!(memtoull("99999999999999999999k"), None);
        assert_eq!(memtoull("17179869184gb"), None);
    }

    #[test]
    fn string2ll_is_strict() {
        assert_eq!(string2ll("0"), Some(0));
        assert_eq!(string2ll("-1"), Some(-1));
        assert_eq!(string2ll("9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll("-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "-",
            "+1",
            "01",
            "-0",
            " 1",
            "1 ",
            "9223372036854775808",
            "1k",
        ] {
            assert_eq!(string2ll(bad), None, "{bad}");
        }
    }

    #[test]
    fn c_strtoll_semantics() {
        assert_eq!(c_strtoll("10", 10), (10, true, false));
        assert_eq!(c_strtoll(" +10", 10), (10, true, false));
        assert_eq!(c_strtoll("010", 10), (10, true, false));
        assert_eq!(c_strtoll("", 10), (0, true, false));
        assert_eq!(c_strtoll("  ", 10), (0, false, false));
        assert_eq!(c_strtoll("12x", 10), (12, false, false));
        assert_eq!(c_strtoll("777", 8), (511, true, false));
        assert_eq!(c_strtoll("8", 8), (0, false, false));
        assert_eq!(
            c_strtoll("99999999999999999999", 10),
            (i64::MAX, true, true)
        );
        assert_eq!(
            c_strtoll("-99999999999999999999", 10),
            (i64::MIN, true, true)
        );
    }

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

    #[test]
    fn typed_defaults_match_table() {
        let c = Config::default();
        for name in TYPED_NAMES {
            if *name == "dir" {
                continue;
            }
            let (spec, _) = lookup(name).unwrap();
            assert_eq!(c.typed_get(name).unwrap(), spec.default, "{name}");
        }
        // Parsing nothing gives the defaults.
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn serde_names_match_typed_names() {
        // Give every typed directive a non-default value through the serde
        // path and check the field really changed.
        let samples: &[(&str, &[&str])] = &[
            ("bind", &["10.0.0.1", "-::1"]),
            ("port", &["7000"]),
            ("daemonize", &["yes"]),
            ("pidfile", &["/tmp/x.pid"]),
            ("protected-mode", &["no"]),
            ("requirepass", &["secret"]),
            ("timeout", &["5"]),
            ("tcp-keepalive", &["60"]),
            ("databases", &["4"]),
            ("maxclients", &["100"]),
            ("loglevel", &["debug"]),
            ("logfile", &["/tmp/x.log"]),
            ("dir", &["/tmp"]),
            ("proto-max-bulk-len", &["2097152"]),
            ("client-query-buffer-limit", &["2097152"]),
            ("hz", &["20"]),
            ("appendonly", &["yes"]),
            ("appendfsync", &["always"]),
            ("appendfilename", &["a.aof"]),
            ("appenddirname", &["aofdir"]),
            ("aof-load-truncated", &["no"]),
            ("auto-aof-rewrite-percentage", &["50"]),
            ("auto-aof-rewrite-min-size", &["1024"]),
            ("multi-rollback", &["no"]),
            ("set-max-intset-entries", &["7"]),
            ("zset-max-listpack-entries", &["16"]),
            ("zset-max-listpack-value", &["32"]),
            ("self", &["127.0.0.1:7000"]),
            ("peers", &["127.0.0.1:7001", "127.0.0.1:7002"]),
            ("cluster-node-timeout", &["700"]),
        ];
        assert_eq!(samples.len(), TYPED_NAMES.len());
        let mut map: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        for (name, v) in samples {
            let name: &'static str = TYPED_NAMES.iter().find(|n| *n == name).unwrap();
            map.insert(name, args(v));
        }
        let c = Config::deserialize(DirectiveMap {
            iter: map.iter(),
            value: None,
        })
        .unwrap();
        let d = Config::default();
        for (name, v) in samples {
            assert_ne!(
                c.typed_get(name),
                d.typed_get(name),
                "{name} not deserialized"
            );
            assert_eq!(c.typed_get(name).unwrap(), v.join(" "), "{name}");
        }
        assert_eq!(c.self_addr.as_deref(), Some("127.0.0.1:7000"));
        assert_eq!(c.loglevel, LogLevel::Debug);
        assert_eq!(c.appendfsync, AppendFsync::Always);
    }

    #[test]
    fn numeric_errors_like_redis() {
        let mut c = Config::default();
        let e = |c: &mut Config, n: &str, v: &str| c.set(n, v).unwrap_err();
        assert_eq!(
            e(&mut c, "timeout", "010"),
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"
        );
        assert_eq!(
            e(&mut c, "timeout", "-1"),
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive"
        );
        assert_eq!(
            e(&mut c, "maxmemory", "1.5gb"),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"
        );
        assert_eq!(
            e(&mut c, "proto-max-bulk-len", "18446744073709551615"),
            "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive"
        );
        assert_eq!(
            e(&mut c, "maxmemory-clients", "200%"),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100"
        );
        assert_eq!(
            e(&mut c, "maxmemory-clients", "-5"),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - argument must be a memory or percent value"
        );
        assert_eq!(
            e(&mut c, "maxclients", "0"),
            "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"
        );
        c.set("maxmemory", "99999999999999999999").unwrap();
        assert_eq!(c.value("maxmemory").unwrap(), "18446744073709551615");
        c.set("maxmemory-clients", "10%").unwrap();
        assert_eq!(c.value("maxmemory-clients").unwrap(), "10%");
        c.set("maxmemory-clients", "0%").unwrap();
        assert_eq!(c.value("maxmemory-clients").unwrap(), "0");
        c.set("hz", "1000").unwrap();
        assert_eq!((c.hz, c.value("hz").unwrap().as_str()), (500, "500"));
        c.set("hz", "0").unwrap();
        assert_eq!(c.hz, 1);
        c.set("list-max-listpack-size", "-5").unwrap();
        assert_eq!(c.value("list-max-ziplist-size").unwrap(), "-5");
    }

    #[test]
    fn special_values_like_redis() {
        let mut c = Config::default();
        c.set("save", "+10 01").unwrap();
        assert_eq!(c.value("save").unwrap(), "10 1");
        assert!(
            c.set("save", "10 1 20")
                .unwrap_err()
                .ends_with("Invalid save parameters")
        );
        assert!(c.set("save", "10  1").is_err());
        c.set("save", "").unwrap();
        assert_eq!(c.value("save").unwrap(), "");
        c.set("notify-keyspace-events", "KEA").unwrap();
        assert_eq!(c.value("notify-keyspace-events").unwrap(), "AKE");
        c.set("notify-keyspace-events", "Ex").unwrap();
        assert_eq!(c.value("notify-keyspace-events").unwrap(), "xE");
        c.set("notify-keyspace-events", "nKE").unwrap();
        assert_eq!(c.value("notify-keyspace-events").unwrap(), "nKE");
        c.set("notify-keyspace-events", "g$lshzxetdn").unwrap();
        assert_eq!(c.value("notify-keyspace-events").unwrap(), "A");
        assert!(
            c.set("notify-keyspace-events", "q")
                .unwrap_err()
                .ends_with("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        );
        c.set("shutdown-on-sigint", "force now nosave").unwrap();
        assert_eq!(c.value("shutdown-on-sigint").unwrap(), "nosave now force");
        c.set("shutdown-on-sigint", "default save").unwrap();
        assert_eq!(c.value("shutdown-on-sigint").unwrap(), "save");
        assert!(
            c.set("shutdown-on-sigint", "save nosave")
                .unwrap_err()
                .ends_with("shutdown options SAVE and NOSAVE can't be used simultaneously")
        );
        c.set("client-output-buffer-limit", "normal 1mb 2mb 3")
            .unwrap();
        assert_eq!(
            c.value("client-output-buffer-limit").unwrap(),
            "normal 1048576 2097152 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        c.set("client-output-buffer-limit", "replica 1 2 +5")
            .unwrap();
        assert_eq!(
            c.value("client-output-buffer-limit").unwrap(),
            "normal 1048576 2097152 3 slave 1 2 5 pubsub 33554432 8388608 60"
        );
        assert!(
            c.set("client-output-buffer-limit", "master 1 1 1")
                .unwrap_err()
                .ends_with("Invalid client class specified in buffer limit configuration.")
        );
        c.set("latency-tracking-info-percentiles", "50.5 99 99.900")
            .unwrap();
        assert_eq!(
            c.value("latency-tracking-info-percentiles").unwrap(),
            "50.5 99 99.9"
        );
        c.set("oom-score-adj", "relative").unwrap();
        assert_eq!(c.value("oom-score-adj").unwrap(), "yes");
        c.set("appendfsync", "ALWAYS").unwrap();
        assert_eq!(c.appendfsync, AppendFsync::Always);
        assert_eq!(
            c.set("loglevel", "foo").unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning"
        );
        assert!(c.set("proc-title-template", "{title}").is_err());
        c.set("proc-title-template", "x {title}").unwrap();
    }

    #[test]
    fn command_line_like_redis() {
        let cl = parse_command_line(&args(&[
            "redis.conf",
            "--port",
            "6380",
            "--loglevel",
            "debug",
        ]));
        assert_eq!(cl.config_file.as_deref(), Some("redis.conf"));
        assert_eq!(cl.options, "port \"6380\" \nloglevel \"debug\" ");
        let cl = parse_command_line(&args(&["--save", "--port", "1"]));
        assert_eq!(cl.options, "save \"\"\nport \"1\" ");
        let cl = parse_command_line(&args(&["--save"]));
        assert_eq!(cl.options, "save \"\"");
        let cl = parse_command_line(&args(&["--bind", "127.0.0.1", "::1"]));
        assert_eq!(cl.options, "bind \"127.0.0.1\" \"::1\" ");
        // A value may itself start with "--" when the option has no value yet.
        let cl = parse_command_line(&args(&["--requirepass", "--x"]));
        assert_eq!(cl.options, "requirepass \"--x\" ");
        let cl = parse_command_line(&args(&["--port 7000"]));
        assert_eq!(cl.options, "port 7000 ");
        let cl = parse_command_line(&args(&["-"]));
        assert!(cl.stdin && cl.config_file.is_none());
        let cl = parse_command_line(&args(&["x.conf", "--port", "1", "-"]));
        assert!(cl.stdin);
    }
}
