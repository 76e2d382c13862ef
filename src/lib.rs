//! memkv: a Redis-compatible in-memory key-value server.
//!
//! Bird's-eye view: [`server`] runs a single-threaded mio reactor that owns
//! the [`store`]; bytes from clients go through [`resp`] into the command
//! table in [`commands`], whose handlers write replies back through
//! [`resp::Reply`]. [`config`] turns redis.conf into a typed Config.
//! See ARCHITECTURE.md for the code map and invariants.

pub mod acl;
pub mod aof;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod glob;
pub mod logging;
pub mod long_double;
pub mod memory;
pub mod number;
pub mod ops;
pub mod pubsub;
pub mod rdb;
pub mod resp;
pub mod scripting;
pub mod server;
pub mod store;

/// Every allocation is counted (INFO used_memory, maxmemory).
#[global_allocator]
static ALLOCATOR: memory::Counting = memory::Counting;

/// The Redis version memkv is compatible with (INFO redis_version, HELLO).
pub const REDIS_VERSION: &str = "7.0.15";
