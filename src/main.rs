//! The `memkv` binary: redis-server compatible command line.
//!
//! ```text
//! memkv [/path/to/redis.conf] [--directive value ...] [-]
//! ```

use std::io::Write;
use std::process::exit;

use memkv::config::{self, Config, ConfigError};
use memkv::logging;

fn version() -> ! {
    println!(
        "memkv server v={} sha=00000000:0 malloc=libc bits={} build=0",
        env!("CARGO_PKG_VERSION"),
        usize::BITS
    );
    exit(0);
}

fn usage() -> ! {
    eprint!(
        "\
Usage: ./memkv [/path/to/redis.conf] [options] [-]
       ./memkv - (read config from stdin)
       ./memkv -v or --version
       ./memkv -h or --help

Examples:
       ./memkv (run the server with default conf)
       echo 'maxmemory 128mb' | ./memkv -
       ./memkv /etc/redis/6379.conf
       ./memkv --port 7777
       ./memkv /etc/myredis.conf --loglevel verbose -
       ./memkv /etc/myredis.conf --loglevel verbose
       ./memkv redis.conf --self 127.0.0.1:7000 --peers 127.0.0.1:7001 127.0.0.1:7002
"
    );
    exit(1);
}

fn fatal(err: &ConfigError) -> ! {
    // Like redis-server: an empty line before the FATAL block.
    let text = err.to_string();
    if text.starts_with("***") {
        eprintln!("\n{text}");
    } else {
        eprintln!("{text}");
    }
    exit(1);
}

/// Redis's `daemonize()`: fork, the parent exits, the child starts a new
/// session and points stdin/stdout/stderr at /dev/null.
fn daemonize() {
    // SAFETY: called before any other thread exists; the child only goes on
    // running ordinary Rust code.
    unsafe {
        match libc::fork() {
            -1 => {
                eprintln!("Can't daemonize: {}", std::io::Error::last_os_error());
                exit(1);
            }
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR, 0);
        if fd != -1 {
            libc::dup2(fd, libc::STDIN_FILENO);
            libc::dup2(fd, libc::STDOUT_FILENO);
            libc::dup2(fd, libc::STDERR_FILENO);
            if fd > libc::STDERR_FILENO {
                libc::close(fd);
            }
        }
    }
}

/// An OS error as `strerror` words it (without Rust's "(os error N)").
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn write_pidfile(path: &std::path::Path) {
    let r = std::fs::File::create(path).and_then(|mut f| writeln!(f, "{}", std::process::id()));
    if let Err(e) = r {
        log::warn!("Failed to write PID file: {}", strerror(&e));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(first) = args.first() {
        match first.as_str() {
            "-v" | "--version" => version(),
            "-h" | "--help" => usage(),
            _ => {}
        }
    }

    let mut config = Config::from_args(&args).unwrap_or_else(|e| fatal(&e));

    // Redis chdirs to `dir` while reading the config (relative paths such as
    // the AOF directory are relative to it).
    if let Err(e) = std::env::set_current_dir(&config.dir) {
        fatal(&ConfigError::fatal(format!(
            "Can't chdir to '{}': {}",
            config.dir,
            strerror(&e)
        )));
    }
    // Like Redis, fail before daemonizing if the log file can't be opened.
    if !config.logfile.is_empty()
        && let Err(e) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.logfile)
    {
        fatal(&ConfigError::fatal(format!(
            "Can't open the log file: {}",
            strerror(&e)
        )));
    }

    if config.daemonize {
        daemonize();
    }

    if let Err(e) = logging::init(config.loglevel, &config.logfile) {
        eprintln!("Can't initialize logging: {e}");
        exit(1);
    }
    if args.is_empty() {
        log::warn!(
            "Warning: no config file specified, using the default config. In order to specify a config file use memkv /path/to/redis.conf"
        );
    } else {
        log::info!("Configuration loaded");
    }
    config.log_ignored();

    let wanted = config.maxclients;
    config.maxclients = config::adjust_open_files_limit(wanted);
    if config.maxclients == 0 {
        log::warn!("Your current 'ulimit -n' is not enough for the server to start. Exiting.");
        exit(1);
    }

    let pidfile = config.pidfile_path();
    if let Some(path) = &pidfile {
        write_pidfile(path);
    }

    let result = memkv::server::run(config);

    if let Some(path) = &pidfile {
        let _ = std::fs::remove_file(path);
    }
    if let Err(e) = result {
        log::error!("{e}");
        eprintln!("{e}");
        exit(1);
    }
}
