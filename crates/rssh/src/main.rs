//! `rssh`: see the library crate for everything.

fn main() {
    std::process::exit(rssh::main_with_args(std::env::args_os()));
}
