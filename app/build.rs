//! Tauri's build step (config, capabilities, icons, the embedded UI) for the `shell` feature; nothing otherwise.

fn main() {
    #[cfg(feature = "shell")]
    tauri_build::build();
    // Without the shell there is nothing to redo when other files change.
    #[cfg(not(feature = "shell"))]
    println!("cargo::rerun-if-changed=build.rs");
}
