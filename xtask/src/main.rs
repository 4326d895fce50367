//! Build tasks: `cargo xtask bundle counterpart --release` and friends.

fn main() -> nice_plug_xtask::Result<()> {
    nice_plug_xtask::main()
}
