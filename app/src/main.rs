//! The desktop app's entry point; everything is in the library so mobile builds share it.

// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    nene_app::shell::run();
}
