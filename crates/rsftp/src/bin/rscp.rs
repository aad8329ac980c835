//! `rscp`: OpenSSH's `scp` command line, over SFTP.
fn main() {
    std::process::exit(rsftp::scp::main_with_args(std::env::args_os()));
}
