//! The migrations are embedded by `sqlx::migrate!`, which cannot tell cargo to watch a folder: without this, a new
//! migration file would not rebuild the server.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
