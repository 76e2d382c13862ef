//! The RDB format, version 10 (Redis 7.0): one codec for DUMP/RESTORE
//! payloads, dump.rdb files and RDB-preamble AOF base files.
//!
//! `load` reads every encoding Redis 7.0 reads (strings plain, integer and
//! LZF; lists quicklist/quicklist2/ziplist/plain; hashes
//! listpack/ziplist/zipmap/plain; sets intset/listpack/plain; sorted sets
//! listpack/ziplist/ZSET_2/ZSET; streams listpacks 1, 2 and 3) plus the
//! opcodes (expiry in ms and s, IDLE, FREQ, AUX, SELECTDB, RESIZEDB,
//! FUNCTION2, EOF + CRC64); `save` writes what Redis 7.0 writes. `stream`
//! is the stream encoding both ways, `pack` the packed blob formats and
//! `lzf` the compression. Module types are refused with a clear error
//! (memkv holds none).

pub mod file;
pub mod load;
pub mod lzf;
pub mod pack;
pub mod persist;
pub mod save;
pub mod stream;

pub use load::{Decoder, Item, KeyItem, LoadLimits};
pub use save::SaveOpts;

pub const RDB_VERSION: u16 = 10;

pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;

pub const OP_FUNCTION2: u8 = 245;
pub const OP_FUNCTION: u8 = 246;
pub const OP_MODULE_AUX: u8 = 247;
pub const OP_IDLE: u8 = 248;
pub const OP_FREQ: u8 = 249;
pub const OP_AUX: u8 = 250;
pub const OP_RESIZEDB: u8 = 251;
pub const OP_EXPIRETIME_MS: u8 = 252;
pub const OP_EXPIRETIME: u8 = 253;
pub const OP_SELECTDB: u8 = 254;
pub const OP_EOF: u8 = 255;

pub const ENC_INT8: u8 = 0;
pub const ENC_INT16: u8 = 1;
pub const ENC_INT32: u8 = 2;
pub const ENC_LZF: u8 = 3;

pub const QUICKLIST_PLAIN: u64 = 1;
pub const QUICKLIST_PACKED: u64 = 2;

/// Redis's CRC64 (Jones polynomial, reflected).
pub static CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

pub fn crc64(data: &[u8]) -> u64 {
    CRC64.checksum(data)
}

/// Why RDB input could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The input ended early.
    Short,
    /// Not an RDB file.
    Signature,
    /// A version this server cannot read.
    Version(u32),
    /// Damaged data (the text says what).
    Corrupt(String),
    /// Valid RDB that memkv cannot hold (streams, modules).
    Unsupported(String),
    Checksum {
        expected: u64,
        got: u64,
    },
}

impl Error {
    pub fn corrupt(s: impl Into<String>) -> Error {
        Error::Corrupt(s.into())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Short => write!(
                f,
                "Short read or OOM loading DB. Unrecoverable error, aborting now."
            ),
            Error::Signature => write!(f, "Wrong signature trying to load DB from file"),
            Error::Version(v) => write!(f, "Can't handle RDB format version {v}"),
            Error::Corrupt(s) => write!(f, "Internal error in RDB reading: {s}"),
            Error::Unsupported(s) => write!(f, "{s}"),
            Error::Checksum { expected, got } => write!(
                f,
                "Wrong RDB checksum expected: ({expected:x}) got ({got:x}). Aborting now."
            ),
        }
    }
}

#[cfg(test)]
mod tests;

/// The encoding choices of the current configuration.
pub fn save_opts(config: &crate::config::Config) -> SaveOpts {
    let num = |name: &str, default: i64| {
        config
            .value(name)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(default)
    };
    SaveOpts {
        compress: config.value("rdbcompression").as_deref() != Some("no"),
        list_fill: num("list-max-listpack-size", -2),
        // quicklist's COMPRESS_MAX.
        list_depth: num("list-compress-depth", 0).clamp(0, 65535) as usize,
    }
}

/// The encoding limits loaded values are built under.
pub fn load_limits(config: &crate::config::Config) -> LoadLimits {
    LoadLimits {
        max_intset: config.set_max_intset_entries,
        zset: crate::store::zset::Limits {
            entries: config.zset_max_listpack_entries,
            value: config.zset_max_listpack_value,
        },
        hash: crate::store::hash::Limits {
            entries: config.hash_max_listpack_entries,
            value: config.hash_max_listpack_value,
        },
    }
}
