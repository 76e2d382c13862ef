//! README's "Supported commands" list is generated from the command table;
//! this test fails (printing the expected text) when the two drift apart.

use std::collections::BTreeMap;

const BEGIN: &str = "<!-- commands -->";
const END: &str = "<!-- /commands -->";

/// The list as README should show it: one line per group, commands
/// upper-case, subcommands after their container.
fn expected() -> String {
    let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for spec in &memkv::commands::table().all {
        let mut name = spec.name.to_ascii_uppercase();
        if !spec.subcommands.is_empty() {
            let subs: Vec<String> = spec
                .subcommands
                .iter()
                .map(|s| s.name.rsplit('|').next().unwrap_or("").to_ascii_uppercase())
                .collect();
            name = format!("{name} ({})", subs.join(", "));
        }
        groups.entry(spec.group).or_default().push(name);
    }
    let mut out = String::new();
    for (group, mut names) in groups {
        names.sort();
        out.push_str(&format!("- **{group}**: {}\n", names.join(", ")));
    }
    out
}

#[test]
fn readme_lists_every_command_of_the_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find(BEGIN)
        .expect("README has the <!-- commands --> marker")
        + BEGIN.len();
    let end = readme[start..]
        .find(END)
        .map(|e| start + e)
        .expect("README has the <!-- /commands --> marker");
    let shown = readme[start..end].trim();
    let want = expected();
    assert!(
        shown == want.trim(),
        "README's command list is stale; put this between the markers:\n{want}"
    );
}
