//! Logging set-up (simplelog) driven by `loglevel` / `logfile`.
//!
//! Level mapping (Redis has four levels, `log` has five):
//! `debug` -> Debug, `verbose` -> Info, `notice` -> Info, `warning` -> Warn.
//! Errors are always shown. Lines look like
//! `2026-11-25T17:07:22.069214331+01:00 [INFO] message` (local time when the
//! offset can be determined, else UTC).
//!
//! The logger itself accepts every level; the effective level is the global
//! `log::max_level()`, so [`set_level`] (CONFIG SET loglevel) takes effect
//! immediately.

use std::fs::OpenOptions;
use std::io::{self, LineWriter};

use log::LevelFilter;
use simplelog::{ConfigBuilder, LevelPadding, WriteLogger};

use crate::config::LogLevel;

/// The `log` filter for a Redis log level.
pub fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Debug => LevelFilter::Debug,
        LogLevel::Verbose => LevelFilter::Info,
        LogLevel::Notice => LevelFilter::Info,
        LogLevel::Warning => LevelFilter::Warn,
    }
}

/// Install the global logger: standard output when `logfile` is empty,
/// otherwise append to `logfile` (created if missing). Call once, early
/// (before other threads exist: the local UTC offset can only be read then).
pub fn init(level: LogLevel, logfile: &str) -> io::Result<()> {
    let mut builder = ConfigBuilder::new();
    builder
        .set_time_format_rfc3339()
        .set_level_padding(LevelPadding::Off)
        .set_thread_level(LevelFilter::Off)
        .set_target_level(LevelFilter::Off)
        .set_location_level(LevelFilter::Off)
        // Only memkv's own messages (not its dependencies' debug chatter).
        .add_filter_allow_str("memkv");
    let _ = builder.set_time_offset_to_local();
    let config = builder.build();

    let result = if logfile.is_empty() {
        WriteLogger::init(LevelFilter::Trace, config, LineWriter::new(io::stdout()))
    } else {
        let file = OpenOptions::new().create(true).append(true).open(logfile)?;
        WriteLogger::init(LevelFilter::Trace, config, LineWriter::new(file))
    };
    result.map_err(|e| io::Error::other(format!("logger already initialized: {e}")))?;
    set_level(level);
    Ok(())
}

/// Change the effective log level (CONFIG SET loglevel).
pub fn set_level(level: LogLevel) {
    log::set_max_level(level_filter(level));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(level_filter(LogLevel::Debug), LevelFilter::Debug);
        assert_eq!(level_filter(LogLevel::Verbose), LevelFilter::Info);
        assert_eq!(level_filter(LogLevel::Notice), LevelFilter::Info);
        assert_eq!(level_filter(LogLevel::Warning), LevelFilter::Warn);
    }
}
