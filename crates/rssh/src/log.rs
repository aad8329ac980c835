//! Diagnostics as `ssh` prints them: `LogLevel` (and `-q`, `-v`) decides
//! what is shown, on stderr or in the `-E` file; debug lines carry
//! OpenSSH's `debug1:` .. `debug3:` prefixes, messages of the other
//! crates their module path.

use std::fmt;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use ssh_config::LogLevel;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The terminal is in raw mode: lines end with `\r\n`.
static RAW: AtomicBool = AtomicBool::new(false);

/// `LogLevel VERBOSE` or more: [`verbose`] lines are shown.
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// A `verbose()` line of OpenSSH: shown without a prefix from `LogLevel
/// VERBOSE` (and `-v`) on.
pub fn verbose(msg: &str) {
    if VERBOSE.load(Ordering::Relaxed) {
        tracing::info!("{msg}");
    }
}

/// Says whether the local terminal is in raw mode (log lines then end
/// with `\r\n`, as OpenSSH's).
pub fn set_raw(raw: bool) {
    RAW.store(raw, Ordering::Relaxed);
}

/// The line end for messages printed now.
pub fn eol() -> &'static str {
    if RAW.load(Ordering::Relaxed) {
        "\r\n"
    } else {
        "\n"
    }
}

struct SshFormat;

impl<S, N> FormatEvent<S, N> for SshFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        // ssh_client_kit reports as ssh does ("channel N: open
        // failed: ..."): shown as ours.
        let ours = meta.target().starts_with("rssh") || meta.target().starts_with(FORWARD);
        let prefix = match *meta.level() {
            Level::TRACE => "debug3: ",
            Level::DEBUG if ours => "debug1: ",
            Level::DEBUG => "debug2: ",
            _ => "",
        };
        writer.write_str(prefix)?;
        if !ours {
            write!(writer, "{}: ", meta.target())?;
        }
        // Messages carry what servers send (certificate key ids and
        // principals, version strings, ...). tracing-subscriber escapes
        // ESC and the like; a carriage return (which lets a line overwrite
        // itself) and the rest of the control characters go here, as
        // OpenSSH's log passes everything through strnvis. Newlines and
        // tabs stay: our own messages have several lines.
        let mut text = String::new();
        ctx.field_format()
            .format_fields(Writer::new(&mut text), event)?;
        let clean: String = text
            .chars()
            .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
            .collect();
        writer.write_str(&clean)?;
        writer.write_str(eol())
    }
}

/// The library module whose messages are the client's own.
const FORWARD: &str = "ssh_client_kit";

/// The filter for a `LogLevel`: ours and the other crates'.
fn filter(level: LogLevel) -> Targets {
    let (mine, others) = match level {
        LogLevel::Quiet => (LevelFilter::OFF, LevelFilter::OFF),
        LogLevel::Fatal | LogLevel::Error => (LevelFilter::ERROR, LevelFilter::ERROR),
        LogLevel::Info | LogLevel::Verbose => (LevelFilter::INFO, LevelFilter::ERROR),
        LogLevel::Debug | LogLevel::Debug1 => (LevelFilter::DEBUG, LevelFilter::INFO),
        LogLevel::Debug2 => (LevelFilter::DEBUG, LevelFilter::DEBUG),
        _ => (LevelFilter::TRACE, LevelFilter::TRACE),
    };
    Targets::new()
        .with_default(others)
        .with_target("rssh", mine)
        .with_target(FORWARD, mine)
}

/// Installs the subscriber: to stderr, or appended to `file`.
pub fn init(level: LogLevel, file: Option<&Path>) -> std::io::Result<()> {
    VERBOSE.store(level >= LogLevel::Verbose, Ordering::Relaxed);
    let writer = match file {
        Some(p) => {
            let f = OpenOptions::new().create(true).append(true).open(p)?;
            BoxMakeWriter::new(Mutex::new(f))
        }
        None => BoxMakeWriter::new(std::io::stderr),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false)
        .event_format(SshFormat);
    // A second initialisation (tests) keeps the first.
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter(level)))
        .try_init();
    Ok(())
}

use tracing_subscriber::Layer as _;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::SshFormat;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Terminal escapes in what a server sends that reaches a log line (a
    /// host certificate's key id and principals, at debug level): shown
    /// escaped (tracing-subscriber's field formatting since 0.3.20,
    /// RUSTSEC-2025-0055) or removed (a carriage return, by our
    /// formatter), never raw.
    #[test]
    fn terminal_escapes_in_log_lines_are_sanitized() {
        let out = Capture::default();
        let sink = out.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .event_format(SshFormat);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let key_id = "host\x1b]0;pwned\x07\x1b[2J\u{9b}1m\rroot#";
            tracing::debug!(target: "rssh", "Server host certificate ID \"{key_id}\"");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let line = text.strip_suffix('\n').unwrap();
        assert!(line.starts_with("debug1: Server host certificate ID"));
        assert!(!line.chars().any(char::is_control), "{line:?}");
    }
}
