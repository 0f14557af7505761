//! Tauri's build step (config, capabilities, icons, the embedded UI) for the `shell` feature; nothing otherwise.

fn main() {
    #[cfg(feature = "shell")]
    tauri_build::build();
}
