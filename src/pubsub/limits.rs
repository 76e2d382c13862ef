//! `client-output-buffer-limit` for the normal and pubsub classes: a client
//! whose unsent output passes the hard limit, or stays above the soft limit
//! for longer than its seconds, is closed (asynchronously, like Redis's
//! `closeClientOnOutputBufferLimitReached`: nothing more is written to it and
//! nothing more is queued for it).

use std::time::Instant;

use crate::config::Config;
use crate::server::Client;

/// One class's limits: hard bytes, soft bytes, soft seconds (0 = none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Class {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

/// The limits of the client classes memkv has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub normal: Class,
    pub pubsub: Class,
}

impl Default for Limits {
    /// Redis's defaults: `normal 0 0 0`, `pubsub 32mb 8mb 60`.
    fn default() -> Self {
        Limits {
            normal: Class::default(),
            pubsub: Class {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_secs: 60,
            },
        }
    }
}

impl Limits {
    /// Parses the config's `normal h s sec slave h s sec pubsub h s sec`.
    pub fn from_config(config: &Config) -> Limits {
        let mut out = Limits::default();
        let Some(v) = config.value("client-output-buffer-limit") else {
            return out;
        };
        let words: Vec<&str> = v.split_whitespace().collect();
        for chunk in words.chunks_exact(4) {
            let num = |s: &str| s.parse::<u64>().unwrap_or(0);
            let class = Class {
                hard: num(chunk[1]),
                soft: num(chunk[2]),
                soft_secs: num(chunk[3]),
            };
            match chunk[0] {
                "normal" => out.normal = class,
                "pubsub" => out.pubsub = class,
                _ => {}
            }
        }
        out
    }
}

/// Unsent output bytes of a client.
pub fn pending_bytes(c: &Client) -> u64 {
    c.unsent() as u64
}

/// Redis's checkClientOutputBufferLimits: true when `c` must be closed.
/// Tracks when the soft limit was first passed.
fn reached(class: &Class, c: &mut Client, now: Instant) -> bool {
    let used = pending_bytes(c);
    let hard = class.hard != 0 && used >= class.hard;
    let mut soft = class.soft != 0 && used >= class.soft;
    if soft {
        match c.pubsub.soft_since {
            None => {
                c.pubsub.soft_since = Some(now);
                soft = false;
            }
            Some(t) => {
                if now.duration_since(t).as_secs() <= class.soft_secs {
                    soft = false;
                }
            }
        }
    } else {
        c.pubsub.soft_since = None;
    }
    hard || soft
}

/// The limits `c` is held to, if its class has any (a normal client has
/// none by default).
#[inline]
fn class_of<'a>(limits: &'a Limits, c: &Client) -> Option<&'a Class> {
    if c.close_asap || c.is_internal() {
        return None;
    }
    let class = if c.pubsub.flag {
        &limits.pubsub
    } else {
        &limits.normal
    };
    (class.hard != 0 || class.soft != 0).then_some(class)
}

/// [`check`] after a command: the clock is read only for a client with
/// limits (it costs as much as a small command's own work).
#[inline]
pub fn check_after_command(limits: &Limits, c: &mut Client) {
    if class_of(limits, c).is_some() {
        check(limits, c, Instant::now());
    }
}

/// Checks `c` against its class's limits; when reached, marks it to be
/// closed without further output and logs it as Redis does.
pub fn check(limits: &Limits, c: &mut Client, now: Instant) {
    let Some(class) = class_of(limits, c) else {
        return;
    };
    if reached(class, c, now) {
        // Described before it is flagged for closing, as Redis logs it.
        log::warn!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            c.info_line(now)
        );
        c.close_asap = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config_value() {
        let mut cfg = Config::default();
        cfg.set_many(
            &[(
                "client-output-buffer-limit",
                "normal 1mb 2mb 3 pubsub 100 50 7",
            )],
            true,
        )
        .unwrap();
        let l = Limits::from_config(&cfg);
        assert_eq!(
            l.normal,
            Class {
                hard: 1 << 20,
                soft: 2 << 20,
                soft_secs: 3
            }
        );
        assert_eq!(
            l.pubsub,
            Class {
                hard: 100,
                soft: 50,
                soft_secs: 7
            }
        );
        assert_eq!(Limits::from_config(&Config::default()), Limits::default());
    }

    #[test]
    fn hard_and_soft_limits() {
        let limits = Limits {
            normal: Class {
                hard: 100,
                soft: 10,
                soft_secs: 5,
            },
            pubsub: Class::default(),
        };
        let now = Instant::now();
        let mut c = Client::internal(1);
        c.stream = None;
        // Internal clients are never closed.
        c.reply.raw(&[b'x'; 200]);
        check(&limits, &mut c, now);
        assert!(!c.close_asap);
        // The soft limit: first passing only starts the clock.
        let class = limits.normal;
        let mut c = Client::internal(2);
        c.reply.raw(&[b'x'; 20]);
        assert!(!reached(&class, &mut c, now));
        assert!(c.pubsub.soft_since.is_some());
        assert!(!reached(
            &class,
            &mut c,
            now + std::time::Duration::from_secs(5)
        ));
        assert!(reached(
            &class,
            &mut c,
            now + std::time::Duration::from_secs(6)
        ));
        // Dropping below resets the clock.
        c.sent = 15;
        assert!(!reached(
            &class,
            &mut c,
            now + std::time::Duration::from_secs(7)
        ));
        assert!(c.pubsub.soft_since.is_none());
        // The hard limit closes at once.
        c.reply.raw(&[b'x'; 100]);
        assert!(reached(&class, &mut c, now));
    }
}
