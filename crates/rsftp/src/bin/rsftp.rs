//! `rsftp`: OpenSSH's `sftp` command line.
fn main() {
    std::process::exit(rsftp::sftp::main_with_args(std::env::args_os()));
}
