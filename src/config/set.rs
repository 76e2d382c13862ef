//! Value validation and normalization (the `set` functions of Redis's
//! `config.c`): numeric parsing and bound checks, enum lookup and naming,
//! string checks and the special directives (`save`,
//! `client-output-buffer-limit`, `notify-keyspace-events`, ...), producing
//! the normalized argument lists CONFIG GET shows and CONFIG SET stores.

use std::path::PathBuf;

use super::*;

// ---------------------------------------------------------------------------
// Value validation and normalization (the `set` functions of config.c)
// ---------------------------------------------------------------------------

/// State a setter may need.
pub(super) struct SetCtx {
    /// Reading a config file (affects how `save` lines accumulate).
    pub(super) loading: bool,
    /// Whether a `save` line was already seen during this load.
    pub(super) save_loaded: bool,
    /// The directory relative paths (dir, include) resolve against.
    pub(super) cwd: PathBuf,
}

pub(super) fn parse_numeric(n: &Num, v: &str) -> Result<i64, String> {
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

pub(super) fn numeric_bound_check(n: &Num, ll: i64) -> Result<(), String> {
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
pub(super) fn numeric_format(n: &Num, ll: i64) -> String {
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

pub(super) fn enum_error(values: EnumValues) -> String {
    let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
    let mut s = format!(
        "argument(s) must be one of the following: {}",
        names.join(", ")
    );
    s.truncate(255);
    s
}

pub(super) fn enum_lookup(values: EnumValues, s: &str) -> Option<u32> {
    values
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, v)| *v)
}

/// `configEnumGetName`: the name of a value; for bit flags, a perfect match
/// or the names of the flags, in table order.
pub(super) fn enum_name(values: EnumValues, value: u32, bitflags: bool) -> Vec<String> {
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

pub(super) fn check_string(check: StrCheck, v: &str) -> Result<(), String> {
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
pub(super) fn proc_title_template_valid(t: &str) -> bool {
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

pub(super) fn check_host_port(v: &str) -> Result<(), String> {
    match v.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(format!("'{v}' is not a valid host:port address")),
    }
}

/// Validate `args` for `spec` and return the normalized argument list (what
/// CONFIG GET shows, space-joined). `current` is the present normalized
/// value (some directives merge into it).
pub(super) fn set_value(
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
                // `-host:port`: a member that is leaving the cluster.
                check_host_port(a.strip_prefix('-').unwrap_or(a))?;
            }
            Ok(list)
        }
    }
}

pub(super) fn cob_error() -> String {
    "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into()
}

/// `keyspaceEventsStringToFlags` + `keyspaceEventsFlagsToString`.
pub(super) fn normalize_keyspace_events(s: &str) -> Result<String, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
