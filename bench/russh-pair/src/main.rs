//! russh 0.65's in-process source/sink pair: a russh server and a russh
//! client in one process, over loopback TCP, on one two-worker tokio runtime,
//! move N bytes through one session channel (`exec sink` for `--direction
//! up`, `exec source N` for `down`) with the cipher (and, for the CTR
//! ciphers, the MAC) forced on both sides and checked after every key
//! exchange.
//!
//! It measures the transfer only: wall time and the process's CPU time
//! (getrusage, user + system, both sides together) from the exec request's
//! acceptance to the transfer's confirmation (up: the server's exit status;
//! down: N bytes and EOF). Windows, packet sizes and rekey limits are russh's
//! defaults. Output: one line of JSON on stdout.
//!
//! It exists only for `cargo xtask bench --library`, which builds and runs it;
//! it is its own workspace and CI does not build it.

use std::borrow::Cow;
use std::error::Error;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use russh::keys::{Algorithm, PrivateKey, PublicKey, PublicKeyOrCertificate};
use russh::server::{Auth, ChannelOpenHandle, Msg as ServerMsg};
use russh::{cipher, client, compression, kex, mac, server};
use russh::{Channel, ChannelId, ChannelMsg, Disconnect, Names, Preferred};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

type BoxError = Box<dyn Error + Send + Sync>;
type Algorithms = (cipher::Name, Option<mac::Name>);

const USER: &str = "bench";
const CHUNK: usize = 64 * 1024;
static ZEROS: [u8; CHUNK] = [0; CHUNK];
const USAGE: &str = "usage: russh-pair --cipher NAME --direction up|down --bytes N [--verbose]";

struct Options {
    cipher_name: String,
    /// The cipher, and the MAC to force (`None` for the AEAD ciphers).
    want: Algorithms,
    up: bool,
    bytes: u64,
    verbose: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let (mut cipher_name, mut up, mut bytes, mut verbose) = (None, None, None, false);
    while let Some(flag) = args.next() {
        if flag == "--verbose" {
            verbose = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--cipher" => cipher_name = Some(value),
            "--direction" if value == "up" || value == "down" => up = Some(value == "up"),
            "--bytes" => bytes = Some(value.parse().map_err(|_| format!("bad N {value:?}"))?),
            _ => return Err(format!("bad argument {flag} {value:?}")),
        }
    }
    let cipher_name = cipher_name.ok_or("--cipher is required")?;
    let want = match cipher_name.as_str() {
        "aes128-gcm@openssh.com" => (cipher::AES_128_GCM, None),
        "aes256-gcm@openssh.com" => (cipher::AES_256_GCM, None),
        "chacha20-poly1305@openssh.com" => (cipher::CHACHA20_POLY1305, None),
        "aes128-ctr" => (cipher::AES_128_CTR, Some(mac::HMAC_SHA256_ETM)),
        "aes256-ctr" => (cipher::AES_256_CTR, Some(mac::HMAC_SHA512_ETM)),
        _ => return Err(format!("unknown cipher {cipher_name:?}")),
    };
    let up = up.ok_or("--direction is required")?;
    let bytes = bytes.ok_or("--bytes is required")?;
    Ok(Options {
        cipher_name,
        want,
        up,
        bytes,
        verbose,
    })
}

/// The same lists on both sides: one kex, cipher and compression (and MAC for
/// the CTR ciphers), plus the ext-info and strict-kex markers of russh's
/// defaults. The AEAD ciphers keep the default MAC list; no MAC is used.
fn preferred((cipher, mac): Algorithms) -> Preferred {
    Preferred {
        kex: Cow::Owned(vec![
            kex::CURVE25519,
            kex::EXTENSION_SUPPORT_AS_CLIENT,
            kex::EXTENSION_SUPPORT_AS_SERVER,
            kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
            kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
        ]),
        cipher: Cow::Owned(vec![cipher]),
        mac: mac.map_or(Preferred::DEFAULT.mac, |m| Cow::Owned(vec![m])),
        compression: Cow::Owned(vec![compression::NONE]),
        ..Preferred::DEFAULT
    }
}

/// The process's CPU time (user + system) in seconds: `/proc/self/stat`'s
/// `utime` and `stime`, in Linux's USER_HZ of 100 ticks a second (read
/// from `/proc` rather than `getrusage`, so that no unsafe code is needed).
fn cpu_seconds() -> Result<f64, BoxError> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after_name = stat.rsplit_once(')').ok_or("/proc/self/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: the state is the line's field 3, utime 14, stime 15.
    let ticks = |i: usize| -> Result<f64, BoxError> {
        Ok(fields.get(i).ok_or("/proc/self/stat")?.parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// Writes `n` zero bytes in 64 KiB writes; russh splits them into packets
/// and waits for window as needed.
async fn send_zeros<S>(channel: &Channel<S>, n: u64) -> Result<(), russh::Error>
where
    S: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
{
    let mut left = n;
    while left > 0 {
        let len = left.min(CHUNK as u64) as usize;
        channel.data_bytes(&ZEROS[..len]).await?;
        left -= len as u64;
    }
    Ok(())
}

struct ServerHandler {
    bytes: u64,
    channel: Option<Channel<ServerMsg>>,
    /// Each exec's outcome, and the session's error if it fails.
    events: mpsc::UnboundedSender<Result<(), String>>,
}

impl server::Handler for ServerHandler {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, _: &str) -> Result<Auth, Self::Error> {
        Ok(if user == USER {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<ServerMsg>,
        reply: ChannelOpenHandle,
        _: &mut server::Session,
    ) -> Result<(), Self::Error> {
        self.channel = Some(channel);
        reply.accept().await;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        id: ChannelId,
        command: &[u8],
        session: &mut server::Session,
    ) -> Result<(), Self::Error> {
        // `Some(None)` for `sink`, `Some(Some(n))` for `source n`.
        let job = match std::str::from_utf8(command) {
            Ok("sink") => Some(None),
            Ok(c) => c
                .strip_prefix("source ")
                .and_then(|n| n.parse().ok())
                .map(Some),
            Err(_) => None,
        };
        let channel = self.channel.take().filter(|c| c.id() == id);
        let (Some(source), Some(channel)) = (job, channel) else {
            return session.channel_failure(id);
        };
        session.channel_success(id)?;
        let (expected, events) = (self.bytes, self.events.clone());
        tokio::spawn(async move {
            let result = serve(channel, source, expected).await;
            let _ = events.send(result.map_err(|e| format!("server channel: {e}")));
        });
        Ok(())
    }
}

/// `source n`: writes n bytes, exit status 0. `sink`: counts the bytes up to
/// EOF, exit status 0 if they are `expected`, 1 if not.
async fn serve(
    mut channel: Channel<ServerMsg>,
    source: Option<u64>,
    expected: u64,
) -> Result<(), russh::Error> {
    let status = match source {
        Some(n) => {
            send_zeros(&channel, n).await?;
            0
        }
        None => {
            let mut count = 0u64;
            loop {
                match channel.wait().await {
                    Some(ChannelMsg::Data { data }) => count += data.len() as u64,
                    Some(ChannelMsg::Eof) => break u32::from(count != expected),
                    Some(ChannelMsg::Close) | None => return Err(russh::Error::Disconnect),
                    Some(_) => {}
                }
            }
        }
    };
    channel.exit_status(status).await?;
    channel.eof().await?;
    channel.close().await
}

struct ClientHandler {
    host_key: PublicKey,
    want: Algorithms,
    verbose: bool,
    /// How many key exchanges (the first and any rekeys) were checked.
    kexes: Arc<AtomicUsize>,
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(matches!(key, PublicKeyOrCertificate::PublicKey { key, .. }
            if key.key_data() == self.host_key.key_data()))
    }

    /// Ends the connection unless exactly the algorithms asked for were
    /// negotiated.
    async fn kex_done(
        &mut self,
        _: Option<&[u8]>,
        n: &Names,
        _: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let (cipher, mac) = self.want;
        let exact = n.kex == kex::CURVE25519
            && n.key == Algorithm::Ed25519
            && n.cipher == cipher
            && mac.is_none_or(|m| n.client_mac == m && n.server_mac == m)
            && matches!(n.client_compression, compression::Compression::None)
            && matches!(n.server_compression, compression::Compression::None);
        if !exact {
            eprintln!("russh-pair: negotiated other algorithms than asked for: {n:?}");
            return Err(russh::Error::KexInit);
        } else if self.verbose {
            eprintln!("russh-pair: negotiated {n:?}");
        }
        self.kexes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The timed part: returns once the transfer is confirmed complete.
async fn transfer(channel: &mut Channel<client::Msg>, up: bool, n: u64) -> Result<(), BoxError> {
    if up {
        send_zeros(channel, n).await?;
        channel.eof().await?;
    }
    let mut count = 0u64;
    loop {
        match channel.wait().await {
            Some(ChannelMsg::Data { data }) if !up => count += data.len() as u64,
            Some(ChannelMsg::Eof) if !up && count == n => return Ok(()),
            Some(ChannelMsg::Eof) if !up => return Err(format!("got {count} bytes of {n}").into()),
            Some(ChannelMsg::ExitStatus { exit_status: 0 }) if up => return Ok(()),
            Some(ChannelMsg::ExitStatus { exit_status }) if up => {
                return Err(format!("sink exited with status {exit_status}").into())
            }
            Some(ChannelMsg::Close) | None => return Err("channel closed early".into()),
            Some(_) => {}
        }
    }
}

/// Returns (seconds, cpu_seconds) of the transfer.
async fn run(opts: &Options) -> Result<(f64, f64), BoxError> {
    let host_key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)?;
    let server_config = Arc::new(server::Config {
        keys: vec![host_key.clone()],
        preferred: preferred(opts.want),
        ..Default::default()
    });
    let client_config = Arc::new(client::Config {
        preferred: preferred(opts.want),
        ..Default::default()
    });

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (events, mut server_events) = mpsc::unbounded_channel();
    let handler = ServerHandler {
        bytes: opts.bytes,
        channel: None,
        events: events.clone(),
    };
    tokio::spawn(async move {
        let served = async {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            server::run_stream(server_config, stream, handler)
                .await?
                .await?;
            Ok::<_, BoxError>(())
        };
        if let Err(e) = served.await {
            let _ = events.send(Err(format!("server session: {e}")));
        }
    });

    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let kexes = Arc::new(AtomicUsize::new(0));
    let handler = ClientHandler {
        host_key: host_key.public_key().clone(),
        want: opts.want,
        verbose: opts.verbose,
        kexes: kexes.clone(),
    };
    let mut session = client::connect_stream(client_config, stream, handler).await?;
    if !session.authenticate_password(USER, "any").await?.success() {
        return Err("password authentication failed".into());
    }
    if kexes.load(Ordering::Relaxed) == 0 {
        return Err("no key exchange was checked".into());
    }
    let mut channel = session.channel_open_session().await?;
    let command = if opts.up {
        "sink".to_string()
    } else {
        format!("source {}", opts.bytes)
    };
    channel.exec(true, command).await?;
    loop {
        match channel.wait().await {
            Some(ChannelMsg::Success) => break,
            Some(ChannelMsg::Failure) => return Err("exec request refused".into()),
            Some(ChannelMsg::Close) | None => return Err("channel closed before exec reply".into()),
            Some(_) => {}
        }
    }

    let (cpu0, t0) = (cpu_seconds()?, Instant::now());
    // A server-side failure ends the wait; its successes do not.
    let server_failure = async {
        while let Some(event) = server_events.recv().await {
            if let Err(e) = event {
                return e;
            }
        }
        std::future::pending().await
    };
    tokio::select! {
        result = transfer(&mut channel, opts.up, opts.bytes) => result?,
        e = server_failure => return Err(e.into()),
    }
    let (seconds, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds()? - cpu0);

    let _ = session
        .disconnect(Disconnect::ByApplication, "", "en")
        .await;
    Ok((seconds, cpu))
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("russh-pair: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(BoxError::from)
        .and_then(|rt| rt.block_on(run(&opts)));
    let (seconds, cpu_seconds) = match result {
        Ok(measured) => measured,
        Err(e) => {
            eprintln!("russh-pair: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{{\"impl\":\"russh\",\"cipher\":\"{}\",\"direction\":\"{}\",\"bytes\":{},\
         \"seconds\":{seconds:.6},\"cpu_seconds\":{cpu_seconds:.6}}}",
        opts.cipher_name,
        if opts.up { "up" } else { "down" },
        opts.bytes,
    );
    ExitCode::SUCCESS
}
