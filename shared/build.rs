//! Rebuild when a migration is added or changed: `sqlx::migrate!` embeds the files at compile
//! time but does not tell Cargo to watch the directory.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
