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
//! `#[derive(Deserialize)] Config` by the small deserializer in
//! `deserialize.rs`, which parses each value for the requested field type.
//!
//! This module owns the typed [`Config`] struct, its value types, errors and
//! the public API; the directive table lives in `directives.rs`, the
//! redis.conf / command-line parser in `parse.rs`, CONFIG SET validation and
//! normalization in `set.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::glob::glob_match;

mod deserialize;
mod directives;
mod parse;
mod rewrite;
mod set;

use deserialize::*;
use directives::*;
use parse::*;
pub use parse::{memtoull, repr, split_args, strerror, string2ll};
use set::*;

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
    /// Hashes stay `listpack` up to this many fields ...
    pub hash_max_listpack_entries: usize,
    /// ... each field and value at most this many bytes.
    pub hash_max_listpack_value: usize,
    /// Sorted sets stay `listpack` up to this many members ...
    pub zset_max_listpack_entries: usize,
    /// ... each at most this many bytes.
    pub zset_max_listpack_value: usize,
    /// A sparse HyperLogLog is promoted to dense past this many bytes.
    pub hll_sparse_max_bytes: usize,
    /// A stream node closes at this many entries (0: no limit) ...
    pub stream_node_max_entries: u64,
    /// ... or when its listpack would reach this many bytes (0: no limit).
    pub stream_node_max_bytes: u64,
    /// Cluster: this node's `host:port` (directive `self`).
    #[serde(rename = "self")]
    pub self_addr: Option<String>,
    /// Cluster: the other nodes' `host:port` (directive `peers`).
    pub peers: Vec<String>,
    /// Cluster: how long a peer may take before a client gets CLUSTERDOWN
    /// (ms). memkv's default is 5000, not Redis's 15000: a plain client
    /// should not wait that long for a dead node.
    pub cluster_node_timeout: u64,
    /// TLS on the client port (0 = none); see `server::tls`.
    pub tls_port: u16,
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub tls_key_file_pass: String,
    pub tls_ca_cert_file: String,
    pub tls_ca_cert_dir: String,
    /// `yes`, `no` or `optional`.
    pub tls_auth_clients: String,
    pub tls_protocols: String,
    pub tls_ciphers: String,
    pub tls_ciphersuites: String,
    pub tls_prefer_server_ciphers: bool,
    pub tls_session_caching: bool,
    pub tls_session_cache_size: u64,
    /// Cluster links (relay, control, hand-over, prober connections) over
    /// TLS to the peers' `tls-port`s; see `cluster::relay`.
    pub tls_cluster: bool,
    /// The certificate and key cluster links present as a client (Redis's
    /// client context); empty: `tls-cert-file` / `tls-key-file`.
    pub tls_client_cert_file: String,
    pub tls_client_key_file: String,
    pub tls_client_key_file_pass: String,
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
    /// `user <name> rules...` directives (name first), loaded into the ACL
    /// at start-up.
    #[serde(skip)]
    pub users: Vec<Vec<String>>,
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
            hash_max_listpack_entries: crate::store::hash::DEFAULT_LIMITS.entries,
            hash_max_listpack_value: crate::store::hash::DEFAULT_LIMITS.value,
            zset_max_listpack_value: 64,
            hll_sparse_max_bytes: 3000,
            stream_node_max_entries: 100,
            stream_node_max_bytes: 4096,
            self_addr: None,
            peers: Vec::new(),
            cluster_node_timeout: 5000,
            tls_port: 0,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_key_file_pass: String::new(),
            tls_ca_cert_file: String::new(),
            tls_ca_cert_dir: String::new(),
            tls_auth_clients: "yes".to_string(),
            tls_protocols: String::new(),
            tls_ciphers: String::new(),
            tls_ciphersuites: String::new(),
            tls_prefer_server_ciphers: false,
            tls_session_caching: true,
            tls_session_cache_size: 20480,
            tls_cluster: false,
            tls_client_cert_file: String::new(),
            tls_client_key_file: String::new(),
            tls_client_key_file_pass: String::new(),
            config_file: None,
            ignored: Vec::new(),
            rename_commands: Vec::new(),
            users: Vec::new(),
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
    "hash-max-listpack-entries" => hash_max_listpack_entries,
    "hash-max-listpack-value" => hash_max_listpack_value,
    "appendonly" => appendonly,
    "appendfsync" => appendfsync,
    "appendfilename" => appendfilename,
    "appenddirname" => appenddirname,
    "aof-load-truncated" => aof_load_truncated,
    "auto-aof-rewrite-percentage" => auto_aof_rewrite_percentage,
    "auto-aof-rewrite-min-size" => auto_aof_rewrite_min_size,
    "multi-rollback" => multi_rollback,
    "set-max-intset-entries" => set_max_intset_entries,
    "hll-sparse-max-bytes" => hll_sparse_max_bytes,
    "stream-node-max-entries" => stream_node_max_entries,
    "stream-node-max-bytes" => stream_node_max_bytes,
    "self" => self_addr,
    "peers" => peers,
    "cluster-node-timeout" => cluster_node_timeout,
    "tls-port" => tls_port,
    "tls-cert-file" => tls_cert_file,
    "tls-key-file" => tls_key_file,
    "tls-key-file-pass" => tls_key_file_pass,
    "tls-ca-cert-file" => tls_ca_cert_file,
    "tls-ca-cert-dir" => tls_ca_cert_dir,
    "tls-auth-clients" => tls_auth_clients,
    "tls-protocols" => tls_protocols,
    "tls-ciphers" => tls_ciphers,
    "tls-ciphersuites" => tls_ciphersuites,
    "tls-prefer-server-ciphers" => tls_prefer_server_ciphers,
    "tls-session-caching" => tls_session_caching,
    "tls-session-cache-size" => tls_session_cache_size,
    "tls-cluster" => tls_cluster,
    "tls-client-cert-file" => tls_client_cert_file,
    "tls-client-key-file" => tls_client_key_file,
    "tls-client-key-file-pass" => tls_client_key_file_pass,
}

fn is_typed(name: &str) -> bool {
    TYPED_NAMES.contains(&name)
}

/// Directives memkv implements but reads as raw values (`Config::value`)
/// instead of typed fields: not "ignored".
pub(super) const READ_RAW: &[&str] = &[
    "save",
    "dbfilename",
    "rdbcompression",
    "rdbchecksum",
    "stop-writes-on-bgsave-error",
    "aof-use-rdb-preamble",
];

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
                    if value == spec.default {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
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
            ("hash-max-listpack-entries", &["16"]),
            ("hash-max-listpack-value", &["32"]),
            ("self", &["127.0.0.1:7000"]),
            ("peers", &["127.0.0.1:7001", "127.0.0.1:7002"]),
            ("cluster-node-timeout", &["700"]),
            ("hll-sparse-max-bytes", &["1000"]),
            ("stream-node-max-entries", &["7"]),
            ("stream-node-max-bytes", &["2048"]),
            ("tls-port", &["6380"]),
            ("tls-cert-file", &["/tmp/c.pem"]),
            ("tls-key-file", &["/tmp/k.pem"]),
            ("tls-key-file-pass", &["secret"]),
            ("tls-ca-cert-file", &["/tmp/ca.pem"]),
            ("tls-ca-cert-dir", &["/tmp/cas"]),
            ("tls-auth-clients", &["optional"]),
            ("tls-protocols", &["TLSv1.3"]),
            ("tls-ciphers", &["ECDHE-RSA-AES256-GCM-SHA384"]),
            ("tls-ciphersuites", &["TLS_AES_256_GCM_SHA384"]),
            ("tls-prefer-server-ciphers", &["yes"]),
            ("tls-session-caching", &["no"]),
            ("tls-session-cache-size", &["100"]),
            ("tls-cluster", &["yes"]),
            ("tls-client-cert-file", &["/tmp/cc.pem"]),
            ("tls-client-key-file", &["/tmp/ck.pem"]),
            ("tls-client-key-file-pass", &["secret2"]),
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
}
