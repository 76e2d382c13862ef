//! Feeds arbitrary bytes to the ACL rule parser the ways the server does:
//! as ACL SETUSER arguments (split on 0x00 or newline, selectors merged
//! across arguments) and as an ACL file. Checks:
//!
//! * no panic, whatever the rules;
//! * a rule set that applies cleanly describes itself (ACL LIST form) so
//!   that applying the description to a fresh user gives the same
//!   description again (what ACL SAVE + ACL LOAD rely on);
//! * the permission check answers (no panic) for a few commands, and a
//!   user with `+@all ~* &*` added is allowed them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memkv::acl::{User, merge_selector_args, parse_file, user_from_rules};
use memkv::commands::{OwnedArgs, resolve};

const PROBES: &[&[&str]] = &[
    &["get", "k"],
    &["set", "k", "v"],
    &["set", "k", "v", "GET"],
    &["lmove", "a", "b", "LEFT", "RIGHT"],
    &["publish", "ch", "m"],
    &["psubscribe", "c*"],
    &["config", "get", "x"],
    &["select", "0"],
    &["sort", "k", "STORE", "d"],
    &["eval", "return 1", "1", "k"],
    &["auth", "x"],
];

fn probe(u: &User) -> Vec<bool> {
    PROBES
        .iter()
        .map(|argv| {
            let owned = OwnedArgs::from_slices(argv.iter().map(|a| a.as_bytes()));
            let args = owned.as_args();
            let spec = resolve(&args).expect("probe commands exist");
            u.check(spec, &args).is_ok()
        })
        .collect()
}

/// Description -> rules, as an ACL file line is split.
fn reparse(name: &[u8], descr: &str) -> User {
    let parts: Vec<&[u8]> = descr
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(|p| p.as_bytes())
        .collect();
    user_from_rules(name, &parts, false).expect("a description parses")
}

/// Whether a selector (`(` ... `)`, merged across arguments) holds text
/// its listed form cannot carry back: a quote (the selector is split with
/// sdssplitargs, so `(~'"a')` lists as `(~"a ...)`, an unbalanced quote)
/// or a rule ending in `)` before the selector's end (`(~x ~y))` lists as
/// `(~x ~y) ... -@all)`, whose first `)` closes the selector).
fn selector_rule_unlistable(rules: &[&[u8]]) -> bool {
    let Ok(merged) = merge_selector_args(rules) else {
        return false;
    };
    merged.iter().any(|op| {
        op.len() >= 2
            && op[0] == b'('
            && op[op.len() - 1] == b')'
            && op[1..op.len() - 1]
                .split(|&b| b == b' ')
                .any(|r| r.last() == Some(&b')') || r.iter().any(|&b| b == b'"' || b == b'\''))
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_file(data, "fuzz.acl", data.first().is_some_and(|b| b & 1 == 1));
    let rules: Vec<&[u8]> = data.split(|&b| b == 0 || b == b'\n').collect();
    if merge_selector_args(&rules).is_err() {
        return;
    }
    let Ok(u) = user_from_rules(b"fuzz", &rules, false) else {
        return;
    };
    let perms = probe(&u);
    // Text that does not survive ACL LIST's form cannot round-trip: bytes
    // that are not UTF-8, first-args (`+select|x y`) with whitespace, and
    // selector rules that ACL LIST cannot quote (Redis 7.0 lists and fails
    // to reload them the same way, checked against redis-server).
    let printable = rules
        .iter()
        .all(|r| std::str::from_utf8(r).is_ok() && !r.iter().any(|b| b.is_ascii_whitespace()))
        && !selector_rule_unlistable(&rules);
    if printable {
        let d = u.describe();
        let again = reparse(b"fuzz", &d);
        assert_eq!(again.describe(), d, "description round trip");
        assert_eq!(probe(&again), perms, "same permissions after round trip");
    }
    let mut all = u.clone();
    for op in ["on", "+@all", "~*", "&*"] {
        all.apply(op.as_bytes(), false).expect("valid rule");
    }
    assert!(probe(&all).iter().all(|&ok| ok), "{}", all.describe());
});
