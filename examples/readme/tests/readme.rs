//! The README's Rust example is this crate's `main.rs`, word for word, and it runs.

#![allow(clippy::unwrap_used)] // tests fail loudly

/// The first ```rust block of the README section "Use it from Rust".
fn readme_example() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme
        .split_once("## Use it from Rust")
        .expect("README has a \"Use it from Rust\" section")
        .1;
    let block = section
        .split_once("```rust\n")
        .expect("the section has a ```rust block")
        .1;
    block.split_once("```").unwrap().0.to_string()
}

#[test]
fn the_readme_example_is_this_program() {
    let main =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/main.rs")).unwrap();
    assert_eq!(
        readme_example(),
        main,
        "README.md's example and examples/readme/src/main.rs differ: keep them identical"
    );
}

#[test]
fn the_readme_example_runs() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_readme-example"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("created "), "{stdout}");
    assert!(
        stdout.contains("pushing to rtmp://backup.example.com/live/show68"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("deleted"), "{stdout}");
}

#[test]
fn it_depends_on_the_facade_only() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let deps = manifest.split_once("[dependencies]").unwrap().1;
    let deps = deps.split("\n[").next().unwrap();
    assert!(!deps.contains("agora-rest-"), "a layer crate in:\n{deps}");
    assert!(deps.contains("agora-rest ="), "{deps}");
}
