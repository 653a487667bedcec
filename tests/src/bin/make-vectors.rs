//! Writes `spec/vectors/*.json` from the reference model.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

fn main() -> std::io::Result<()> {
    let dir = thicket_tests::vectors::dir();
    for (name, value) in thicket_tests::generate::all() {
        let path = dir.join(name);
        std::fs::write(&path, thicket_tests::vectors::render(&value))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
