//! The dashboard (`ui/dist`, built by `scripts/build-ui`) is embedded by rust-embed
//! (`src/api/ui.rs`). Rebuild when it changes; when the UI is not built, the folder is created
//! empty so that a later build of the UI is noticed (and `/` says how to build it meanwhile).

fn main() {
    let _ = std::fs::create_dir_all("../ui/dist");
    println!("cargo:rerun-if-changed=../ui/dist");
}
