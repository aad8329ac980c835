//! `cargo xtask bench`'s numbers: sizes, the cipher rows and pairs, the
//! report (cells, ratios against OpenSSH's own pair) and its table. The
//! runner that fills it is [`crate::bench`].

use std::fmt::Write as _;

use serde::Serialize;

/// Parses a size: a number of bytes with an optional `K`, `M` or `G`
/// suffix (binary multiples), optionally followed by `iB` or `B`
/// (`64M`, `64MiB`, `2G`, `512k`, `1048576`).
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (number, suffix) = t.split_at(digits);
    let Ok(n) = number.parse::<u64>() else {
        return Err(format!("{text:?}: not a size (e.g. 2G, 64M, 512K, 4096)"));
    };
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("{text:?}: unknown suffix {suffix:?} (K, M or G)")),
    };
    let Some(bytes) = n.checked_mul(1 << shift) else {
        return Err(format!("{text:?}: too large"));
    };
    if bytes == 0 {
        return Err(format!("{text:?}: the size must not be zero"));
    }
    Ok(bytes)
}

/// A size for people: `2 GiB`, `64 MiB`, `1000 bytes`.
pub fn format_size(bytes: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

/// A cipher row: the cipher and, for non-AEAD ciphers, the MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CipherRow {
    /// The `-c` argument.
    pub cipher: &'static str,
    /// The `-m` argument; `None` for AEAD ciphers (the MAC is implicit).
    pub mac: Option<&'static str>,
}

impl CipherRow {
    /// `cipher` or `cipher + mac`.
    pub fn label(&self) -> String {
        match self.mac {
            Some(mac) => format!("{} + {mac}", self.cipher),
            None => self.cipher.to_owned(),
        }
    }
}

/// The cipher rows, in table order; `--quick` takes the first
/// [`QUICK_CIPHERS`].
pub const CIPHERS: [CipherRow; 6] = [
    CipherRow {
        cipher: "chacha20-poly1305@openssh.com",
        mac: None,
    },
    CipherRow {
        cipher: "aes128-gcm@openssh.com",
        mac: None,
    },
    CipherRow {
        cipher: "aes256-gcm@openssh.com",
        mac: None,
    },
    CipherRow {
        cipher: "aes128-ctr",
        mac: Some("hmac-sha2-256-etm@openssh.com"),
    },
    CipherRow {
        cipher: "aes256-ctr",
        mac: Some("hmac-sha2-512-etm@openssh.com"),
    },
    CipherRow {
        cipher: "aes128-ctr",
        mac: Some("hmac-sha2-256"),
    },
];

/// The cipher of the sftp rows and of the long-fat-path rows.
pub const PATH_CIPHER: CipherRow = CipherRow {
    cipher: "aes128-gcm@openssh.com",
    mac: None,
};

/// A client program: in the sftp rows, `Ssh` is OpenSSH's `sftp` and
/// `Rssh` our `rsftp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// OpenSSH's `ssh`.
    Ssh,
    /// Ours.
    Rssh,
}

/// A server program: in the sftp rows `Sshd` runs OpenSSH's
/// `sftp-server`, `Rsshd` its own `internal-sftp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// OpenSSH's `sshd`.
    Sshd,
    /// Ours, run by root: privilege-separated.
    Rsshd,
    /// Ours as one process (`rsshd1`: run by the bench account, so not
    /// separated); measured in the connection rows only.
    RsshdOneProcess,
}

/// The pairs, OpenSSH's own first (the baseline of the ratios).
pub const PAIRS: [(ClientKind, ServerKind); 6] = [
    (ClientKind::Ssh, ServerKind::Sshd),
    (ClientKind::Rssh, ServerKind::Sshd),
    (ClientKind::Ssh, ServerKind::Rsshd),
    (ClientKind::Rssh, ServerKind::Rsshd),
    (ClientKind::Ssh, ServerKind::RsshdOneProcess),
    (ClientKind::Rssh, ServerKind::RsshdOneProcess),
];

/// The error of a one-process pair's cell in a row it is not measured
/// in.
pub const CONNECTIONS_ONLY: &str = "connection rows only";

/// `ssh>sshd`, `rssh>rsshd`, ...
pub fn pair_name((client, server): (ClientKind, ServerKind)) -> &'static str {
    match (client, server) {
        (ClientKind::Ssh, ServerKind::Sshd) => "ssh>sshd",
        (ClientKind::Rssh, ServerKind::Sshd) => "rssh>sshd",
        (ClientKind::Ssh, ServerKind::Rsshd) => "ssh>rsshd",
        (ClientKind::Rssh, ServerKind::Rsshd) => "rssh>rsshd",
        (ClientKind::Ssh, ServerKind::RsshdOneProcess) => "ssh>rsshd1",
        (ClientKind::Rssh, ServerKind::RsshdOneProcess) => "rssh>rsshd1",
    }
}

/// What a row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// Client to server through one channel, in MB/s.
    Upload,
    /// Server to client through one channel, in MB/s.
    Download,
    /// Sequential `CLIENT host true`, in connections per second.
    Connections,
    /// `sftp -b` with `get FILE /dev/null`, in MB/s.
    SftpGet,
    /// `sftp -b` with `put FILE /dev/null`, in MB/s.
    SftpPut,
}

impl Measure {
    /// The unit of the row's values.
    pub const fn unit(self) -> &'static str {
        match self {
            Self::Upload | Self::Download | Self::SftpGet | Self::SftpPut => "MB/s",
            Self::Connections => "connections/s",
        }
    }

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Download => "download",
            Self::Connections => "connections/s",
            Self::SftpGet => "sftp get",
            Self::SftpPut => "sftp put",
        }
    }
}

/// The emulated long fat path of a row (`cargo xtask bench --rtt`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PathReport {
    /// `100 ms RTT, 1 Gbit/s`.
    pub description: String,
    /// The round trip the delay proxy adds, in milliseconds.
    pub rtt_ms: f64,
    /// The link rate of each direction, if capped.
    pub rate_bits_per_second: Option<u64>,
    /// The proxy's in-flight bound per direction.
    pub buffer_bytes: u64,
    /// With a rate: the queue in front of the link, in milliseconds of
    /// its time.
    pub link_queue_ms: Option<f64>,
}

/// One pair's measurement in one round.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// MB/s or connections/s.
    pub value: f64,
    /// How long the pipeline took.
    pub seconds: f64,
    /// CPU seconds (user + system) of the client process(es).
    pub client_cpu_seconds: Option<f64>,
    /// CPU seconds of the server, its per-connection processes and the
    /// remote command (the same command for both servers).
    pub server_cpu_seconds: Option<f64>,
}

/// What one row divides CPU time by: gigabytes moved (10^9 bytes), or
/// connections made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CpuBasis {
    /// CPU seconds per GB of `bytes`.
    PerGb { bytes: u64 },
    /// CPU milliseconds per connection, of `connections`.
    PerConnection { connections: u32 },
}

impl CpuBasis {
    /// The unit of the CPU figures.
    pub const fn unit(self) -> &'static str {
        match self {
            Self::PerGb { .. } => "CPU s/GB",
            Self::PerConnection { .. } => "CPU ms/connection",
        }
    }

    fn per_unit(self, cpu_seconds: f64) -> f64 {
        match self {
            Self::PerGb { bytes } => cpu_seconds / (bytes as f64 / 1e9),
            Self::PerConnection { connections } => {
                cpu_seconds * 1000.0 / f64::from(connections.max(1))
            }
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count);
/// `None` if there are none.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => values.get(n / 2).copied(),
        _ => Some((values.get(n / 2 - 1)? + values.get(n / 2)?) / 2.0),
    }
}

/// One pair's measurements of one row, over every round.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cell {
    /// `ssh>sshd`, ...
    pub pair: &'static str,
    /// Per round, in order: the sample, or `None` where it failed.
    pub rounds: Vec<Option<Sample>>,
    /// The median of the rounds' values; `None` if none was measured.
    pub value: Option<f64>,
    /// The median client CPU, in the row's `cpu_unit`.
    pub client_cpu: Option<f64>,
    /// The median server CPU, in the row's `cpu_unit`.
    pub server_cpu: Option<f64>,
    /// Why the last failed round failed (`rssh not built`, ...).
    pub error: Option<String>,
}

impl Cell {
    /// A cell from its rounds, each a sample or why it failed.
    pub fn from_rounds(
        pair: &'static str,
        rounds: Vec<std::result::Result<Sample, String>>,
        basis: CpuBasis,
    ) -> Self {
        let error = rounds.iter().rev().find_map(|r| r.clone().err());
        let rounds: Vec<Option<Sample>> = rounds.into_iter().map(Result::ok).collect();
        let ok = || rounds.iter().flatten();
        Self {
            pair,
            value: median(ok().map(|s| s.value).collect()),
            client_cpu: median(ok().filter_map(|s| s.client_cpu_seconds).collect())
                .map(|c| basis.per_unit(c)),
            server_cpu: median(ok().filter_map(|s| s.server_cpu_seconds).collect())
                .map(|c| basis.per_unit(c)),
            error,
            rounds,
        }
    }

    /// The value of round `r`, if measured.
    fn round_value(&self, r: usize) -> Option<f64> {
        self.rounds.get(r).copied().flatten().map(|s| s.value)
    }
}

/// A pair's value divided by `ssh>sshd`'s.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ratio {
    /// `rssh>sshd`, `ssh>rsshd` or `rssh>rsshd`.
    pub pair: &'static str,
    /// The median over the rounds where both were measured of the
    /// round's ratio; higher is better for us. `None` if no round has
    /// both.
    pub ratio: Option<f64>,
    /// The per-round ratios the median is taken of.
    pub per_round: Vec<f64>,
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The row label: `aes128-gcm@openssh.com upload`, `connections/s`.
    pub name: String,
    /// The cipher (transfer rows).
    pub cipher: Option<&'static str>,
    /// The MAC (non-AEAD transfer rows).
    pub mac: Option<&'static str>,
    /// What is measured.
    pub measure: Measure,
    /// Through the delay proxy: the path it emulates. `None` on loopback.
    pub path: Option<PathReport>,
    /// `MB/s` or `connections/s`.
    pub unit: &'static str,
    /// The unit of the cells' CPU figures.
    pub cpu_unit: &'static str,
    /// One per pair, in [`PAIRS`] order.
    pub cells: Vec<Cell>,
    /// Ours against `ssh>sshd`, in [`PAIRS`] order without the first.
    pub ratios: Vec<Ratio>,
}

impl Row {
    /// A row from its cells (in [`PAIRS`] order), computing the ratios
    /// round by round against the first cell.
    pub fn new(
        cipher: Option<CipherRow>,
        measure: Measure,
        path: Option<PathReport>,
        basis: CpuBasis,
        cells: Vec<Cell>,
    ) -> Self {
        let mut name = match cipher {
            Some(c) => format!("{} {}", c.label(), measure.name()),
            None => measure.name().to_owned(),
        };
        if let Some(p) = &path {
            let _ = write!(name, " via {}", p.description);
        }
        let ratios = match cells.split_first() {
            Some((base, ours)) => ours
                .iter()
                .map(|c| {
                    let per_round: Vec<f64> = (0..c.rounds.len())
                        .filter_map(|r| {
                            let b = base.round_value(r).filter(|b| *b > 0.0)?;
                            Some(c.round_value(r)? / b)
                        })
                        .collect();
                    Ratio {
                        pair: c.pair,
                        ratio: median(per_round.clone()),
                        per_round,
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        Self {
            name,
            cipher: cipher.map(|c| c.cipher),
            mac: cipher.and_then(|c| c.mac),
            measure,
            path,
            unit: measure.unit(),
            cpu_unit: basis.unit(),
            cells,
            ratios,
        }
    }
}

/// The whole result, as written to JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// When the run started, UTC (`2026-11-23T23:59:00Z`).
    pub date: String,
    /// The image's release.
    pub release: String,
    /// OpenSSH's version in that image.
    pub openssh: String,
    /// The cores this machine offers.
    pub cores: usize,
    /// Whose AES-GCM our binaries were built with ([`CRYPTO_DEFAULT`] or
    /// [`CRYPTO_AWS_LC`]).
    pub crypto: &'static str,
    /// Bytes per transfer.
    pub size_bytes: u64,
    /// Sequential connections per pair.
    pub connections: u32,
    /// Rounds: every pair measured once per row in each, interleaved.
    pub rounds: u32,
    /// The login shell of the account the clients log in to (no rc
    /// files run).
    pub login_shell: &'static str,
    /// Bytes in the MB of MB/s.
    pub mb_bytes: u64,
    /// The pairs, in column order.
    pub pairs: Vec<&'static str>,
    /// The path the delay proxy emulates for the rows through it
    /// (`--rtt`).
    pub path: Option<PathReport>,
    /// The rows, in table order.
    pub rows: Vec<Row>,
}

/// Our binaries' packet crypto as built by default.
pub const CRYPTO_DEFAULT: &str = "RustCrypto";
/// With their `aws-lc` feature (`--aws-lc`).
pub const CRYPTO_AWS_LC: &str =
    "AES-GCM and chacha20-poly1305 from AWS-LC (feature aws-lc), the rest RustCrypto";

/// Formats a value for the table: one decimal, or the short reason it is
/// missing.
pub(crate) fn cell_text(cell: &Cell) -> String {
    match (&cell.value, &cell.error) {
        (Some(v), _) => format!("{v:.1}"),
        (None, Some(e)) if e.ends_with("not built") => e.clone(),
        (None, Some(e)) if e == CONNECTIONS_ONLY => "-".to_owned(),
        (None, Some(e)) if e.contains("was killed") => "timed out".to_owned(),
        (None, _) => "failed".to_owned(),
    }
}

/// The table: rows of medians, columns of pairs, then the median
/// per-round ratios of ours to `ssh>sshd`; then the CPU table (client /
/// server per pair).
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}), {} cores, {} per transfer, {} connections, {} rounds interleaved; \
         login shell {}; MB = 10^6 bytes; medians, ratios are medians of per-round ratios",
        report.openssh,
        report.release,
        report.cores,
        format_size(report.size_bytes),
        report.connections,
        report.rounds,
        report.login_shell,
    );
    let _ = writeln!(out, "our crypto: {}", report.crypto);
    if report
        .rows
        .iter()
        .any(|r| matches!(r.measure, Measure::SftpGet | Measure::SftpPut))
    {
        let _ = writeln!(
            out,
            "sftp rows: ssh is OpenSSH's sftp (sshd runs sftp-server), \
             rssh is rsftp (rsshd runs its internal-sftp)"
        );
    }
    if report.pairs.iter().any(|p| p.ends_with("rsshd1")) {
        let _ = writeln!(
            out,
            "rsshd is privilege-separated (run by root); rsshd1 is one process \
             (run by the login account), in the connection rows only"
        );
    }
    if let Some(p) = &report.path {
        let _ = write!(
            out,
            "rows \"via\" a path: through a delay proxy on loopback ({}), \
             at most {} in flight per direction",
            p.description,
            format_size(p.buffer_bytes),
        );
        if let Some(q) = p.link_queue_ms {
            let _ = write!(out, ", {q} ms of queue in front of the link");
        }
        out.push('\n');
    }
    let label_width = report
        .rows
        .iter()
        .map(|r| r.name.len() + r.unit.len().max(r.cpu_unit.len()) + 3)
        .chain(std::iter::once(20))
        .max()
        .unwrap_or(20);
    let width = 14;
    let mut head = format!("{:label_width$}", "");
    for pair in &report.pairs {
        let _ = write!(head, " {pair:>width$}");
    }
    for pair in report.pairs.iter().skip(1) {
        let ratio = format!("{pair}/ssh>sshd");
        let _ = write!(head, " {ratio:>21}");
    }
    out.push_str(head.trim_end());
    out.push('\n');
    for row in &report.rows {
        let label = format!("{} ({})", row.name, row.unit);
        let mut line = format!("{label:label_width$}");
        for cell in &row.cells {
            let _ = write!(line, " {:>width$}", cell_text(cell));
        }
        for ratio in &row.ratios {
            let text = ratio
                .ratio
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"));
            let _ = write!(line, " {text:>21}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\nCPU, client / server (server: its processes and the remote command)"
    );
    let mut head = format!("{:label_width$}", "");
    for pair in &report.pairs {
        let _ = write!(head, " {pair:>width$}");
    }
    out.push_str(head.trim_end());
    out.push('\n');
    for row in &report.rows {
        let label = format!("{} ({})", row.name, row.cpu_unit);
        let mut line = format!("{label:label_width$}");
        for cell in &row.cells {
            let f = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
            let text = format!("{}/{}", f(cell.client_cpu), f(cell.server_cpu));
            let _ = write!(line, " {text:>width$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A UTC date and time from seconds since the Unix epoch:
/// `2026-11-23T23:59:00Z`.
pub fn utc_date(unix: u64) -> String {
    let days = unix / 86_400;
    let rem = unix % 86_400;
    // Days to a civil date (proleptic Gregorian), after H. Hinnant.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
