//! An SSH client on Tokio: `tokio-client PORT USER KEY_FILE HOST_KEY_FILE
//! COMMAND` connects to 127.0.0.1:PORT, checks the server's key against
//! the public key in HOST_KEY_FILE, logs in as USER with the private key
//! in KEY_FILE, runs COMMAND with this program's stdin, and prints its
//! output; it exits with the command's status.
//!
//! `ssh-async` is built with `default-features = false, features =
//! ["tokio"]`: its driver runs on this program's Tokio runtime, and no
//! async-std is in the dependency tree.

use std::io::{Read, Write};
use std::process::ExitCode;

use ssh_async::ssh_auth::keyfile::{KeyPair, parse_public_key_file};
use ssh_async::{Client, ClientOptions, SimpleHandler};
use tokio_util::compat::TokioAsyncReadCompatExt;

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("tokio-client: {e}");
            ExitCode::from(255)
        }
    }
}

fn run() -> Result<u8, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, user, key_file, host_key_file, command] = args.as_slice() else {
        return Err("usage: tokio-client PORT USER KEY_FILE HOST_KEY_FILE COMMAND".into());
    };
    let port: u16 = port.parse()?;
    let key = KeyPair::from_file_text(&std::fs::read_to_string(key_file)?, None)?;
    let (host_key, _) = parse_public_key_file(&std::fs::read_to_string(host_key_file)?)?;
    let mut stdin = Vec::new();
    std::io::stdin().read_to_end(&mut stdin)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let out = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        tcp.set_nodelay(true)?;
        let mut handler = SimpleHandler {
            host_key_check: Box::new(move |k| *k == host_key),
            keys: vec![key.into_private_key()],
            password: None,
        };
        let options = ClientOptions::new(user, handler.methods());
        // No runtime named: the default is the Tokio runtime we are in.
        let client = Client::connect(tcp.compat(), options, &mut handler).await?;
        let out = client.exec_with_stdin(command, &stdin).await?;
        client.disconnect().await?;
        Ok::<_, Box<dyn std::error::Error>>(out)
    })?;
    std::io::stdout().write_all(&out.stdout)?;
    std::io::stderr().write_all(&out.stderr)?;
    let status = out.exit_status.ok_or("no exit status")?;
    Ok(u8::try_from(status).unwrap_or(255))
}
