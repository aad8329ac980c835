//! An in-process source/sink pair: this library's client and server in
//! one process over loopback TCP, moving a stream of zeros through one
//! session channel as fast as they can. It is the library row of `cargo
//! xtask bench --library`, measured beside russh's own pair
//! (`bench/russh-pair`, the same arguments and output).
//!
//! ```text
//! pair --cipher NAME --direction up|down --bytes N
//! ```
//!
//! - `up`: the client writes N bytes to `exec sink N`; the server counts
//!   them and answers exit status 0 when it got exactly N.
//! - `down`: `exec source N`: the server writes N bytes, the client
//!   counts them.
//! - Each side runs on a thread of its own ([`runtime::CurrentThread`]):
//!   a connection's driver and its application hand buffers over without
//!   waking another thread, as in `rssh`.
//! - The clock starts once the `exec` is accepted (the handshake is not
//!   timed) and stops when the transfer is confirmed. One line of JSON
//!   on stdout: the seconds and the process's CPU seconds (user and
//!   system, from `/proc/self/stat`) over that interval.
//!
//! NAME is a cipher name; `aes128-ctr` is paired with
//! `hmac-sha2-256-etm@openssh.com` and `aes256-ctr` with
//! `hmac-sha2-512-etm@openssh.com`, as in the bench's process rows.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::ssh_keys::{KeyType, PrivateKey};
use ssh_async::ssh_transport::Algorithms;
use ssh_async::ssh_wire::messages::ChannelRequestKind;
use ssh_async::{
    Channel, Client, ClientOptions, ExitStatus, Server, ServerHandler, ServerOptions,
    SimpleHandler, runtime,
};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Each write and read: 64 KiB.
const CHUNK: usize = 64 * 1024;
const USER: &str = "bench";
const PASSWORD: &str = "bench";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cipher, up, bytes) = match parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pair: {e}\nusage: pair --cipher NAME --direction up|down --bytes N");
            return ExitCode::from(2);
        }
    };
    match run(cipher, up, bytes) {
        Ok((seconds, cpu)) => {
            println!(
                "{{\"impl\":\"ssh-async\",\"cipher\":\"{cipher}\",\"direction\":\"{}\",\
                 \"bytes\":{bytes},\"seconds\":{seconds:.4},\"cpu_seconds\":{cpu:.3}}}",
                if up { "up" } else { "down" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pair: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The cipher's name (with its MAC), the direction (up?) and the size.
fn parse(args: &[String]) -> Result<(&'static str, bool, u64), String> {
    let (mut cipher, mut up, mut bytes) = (None, None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--cipher" => cipher = Some(value.as_str()),
            "--direction" => {
                up = Some(match value.as_str() {
                    "up" => true,
                    "down" => false,
                    other => return Err(format!("unknown direction {other}")),
                })
            }
            "--bytes" => bytes = Some(value.parse().map_err(|e| format!("--bytes: {e}"))?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let cipher = cipher.ok_or("--cipher is required")?;
    let known = [
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com",
        "aes128-ctr",
        "aes256-ctr",
    ];
    let cipher = known
        .into_iter()
        .find(|k| *k == cipher)
        .ok_or(format!("unknown cipher {cipher}"))?;
    Ok((
        cipher,
        up.ok_or("--direction is required")?,
        bytes.ok_or("--bytes is required")?,
    ))
}

/// Exactly this cipher (and its MAC) on both ends.
fn algorithms(mut a: Algorithms, cipher: &str) -> Algorithms {
    let mac = match cipher {
        "aes256-ctr" => "hmac-sha2-512-etm@openssh.com",
        _ => "hmac-sha2-256-etm@openssh.com",
    };
    a.kex = ["curve25519-sha256"].into_iter().collect();
    a.ciphers = [cipher].into_iter().collect();
    a.macs = [mac].into_iter().collect();
    a.compression = ["none"].into_iter().collect();
    a
}

fn run(cipher: &'static str, up: bool, bytes: u64) -> Res<(f64, f64)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let mut rng: rand::rngs::StdRng = rand::make_rng();
    let host_key = PrivateKey::generate(KeyType::Ed25519, &mut rng)?;
    let host_public = host_key.public().clone();

    let server = std::thread::Builder::new()
        .name("server".into())
        .spawn(move || {
            let rt = runtime::CurrentThread::new();
            let mut options = ServerOptions::new(vec![Box::new(host_key)]);
            options.auth.methods = vec!["password".into()];
            options.transport.algorithms = algorithms(options.transport.algorithms, cipher);
            options.runtime = Some(Arc::new(rt.clone()));
            rt.block_on(serve(listener, options))
        })?;

    let rt = runtime::CurrentThread::new();
    let mut options = ClientOptions::new(USER, vec![]);
    options.transport.algorithms = algorithms(options.transport.algorithms, cipher);
    options.runtime = Some(Arc::new(rt.clone()));
    let measured = rt.block_on(async move {
        let tcp = async_std::net::TcpStream::connect(("127.0.0.1", port)).await?;
        tcp.set_nodelay(true)?;
        let mut handler = SimpleHandler {
            host_key_check: Box::new(move |k| *k == host_public),
            keys: Vec::new(),
            password: Some(PASSWORD.into()),
        };
        options.methods = handler.methods();
        let client = Client::connect(tcp, options, &mut handler).await?;
        let negotiated = client.with_transport(|t| t.negotiated().map(|n| n.cipher_c2s.clone()));
        if negotiated.as_deref() != Some(cipher) {
            return Err(format!("negotiated {negotiated:?}, not {cipher}").into());
        }
        let ch = client.open_session().await?;
        let command = format!("{} {bytes}", if up { "sink" } else { "source" });
        ch.exec(&command).await?;
        let (start, cpu) = (Instant::now(), cpu_seconds()?);
        if up {
            send(&ch, bytes).await?;
            ch.send_eof()?;
        } else {
            let got = count(&ch).await?;
            if got != bytes {
                return Err(format!("received {got} bytes of {bytes}").into());
            }
        }
        let status = ch.wait_closed().await?;
        let measured = (start.elapsed().as_secs_f64(), cpu_seconds()? - cpu);
        if !matches!(status, Some(ExitStatus::Code(0))) {
            return Err(format!("the server's exit status: {status:?}").into());
        }
        client.disconnect().await?;
        Res::Ok(measured)
    })?;
    server
        .join()
        .map_err(|_| "the server's thread panicked")??;
    Ok(measured)
}

/// Accepts one connection and serves its one channel.
async fn serve(listener: std::net::TcpListener, options: ServerOptions) -> Res<()> {
    let listener = async_std::net::TcpListener::from(listener);
    let (tcp, _) = listener.accept().await?;
    tcp.set_nodelay(true)?;
    let conn = Server::accept(tcp, options, &mut Policy).await?;
    let incoming = conn.next_channel().await.ok_or("no channel")?;
    let ch = incoming.accept()?;
    let req = ch.next_request().await.ok_or("no request")?;
    let ChannelRequestKind::Exec { command } = &req.kind else {
        ch.reply(&req, false)?;
        return Err("not an exec".into());
    };
    let command = String::from_utf8_lossy(command).into_owned();
    ch.reply(&req, true)?;
    let status = match command.split_once(' ') {
        Some(("sink", n)) => u32::from(count(&ch).await? != n.parse::<u64>()?),
        Some(("source", n)) => {
            send(&ch, n.parse()?).await?;
            0
        }
        _ => 127,
    };
    ch.exit_status(status).await?;
    ch.send_eof()?;
    ch.close()?;
    conn.closed().await.or(Ok(()))
}

/// Writes `bytes` zeros, `CHUNK` at a time.
async fn send(ch: &Channel, bytes: u64) -> Res<()> {
    let buf = vec![0u8; CHUNK];
    let mut w = ch.writer();
    let mut left = bytes;
    while left > 0 {
        let n = usize::try_from(left.min(CHUNK as u64))?;
        w.write_all(buf.get(..n).ok_or("chunk")?).await?;
        left -= n as u64;
    }
    w.flush().await?;
    Ok(())
}

/// Reads the channel to its end; the number of bytes.
async fn count(ch: &Channel) -> Res<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut r = ch.reader();
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

struct Policy;

impl ServerHandler for Policy {
    async fn password(&mut self, user: &str, password: &str) -> bool {
        user == USER && password == PASSWORD
    }
}

/// This process's user and system CPU seconds (`/proc/self/stat`'s
/// `utime` and `stime`, in Linux's USER_HZ of 100 ticks a second).
fn cpu_seconds() -> Res<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after_name = stat.rsplit_once(')').ok_or("/proc/self/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3 of the line, utime 14, stime 15.
    let ticks =
        |i: usize| -> Res<f64> { Ok(fields.get(i).ok_or("/proc/self/stat")?.parse::<f64>()?) };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}
