//! The progress meter `scp` shows on a terminal: name, percent, bytes,
//! rate, ETA, redrawn with `\r` at most five times a second.

use std::io::Write;
use std::time::{Duration, Instant};

/// Redraws no more often than this.
const EVERY: Duration = Duration::from_millis(200);

/// One file's meter.
pub struct Meter {
    name: String,
    total: u64,
    start: Instant,
    last: Option<Instant>,
    first: u64,
    enabled: bool,
}

impl Meter {
    /// A meter for `name` of `total` bytes, starting at `first` (a resumed
    /// transfer); drawn only when `enabled`.
    pub fn new(name: &str, total: u64, first: u64, enabled: bool) -> Self {
        Meter {
            name: name.to_owned(),
            total,
            start: Instant::now(),
            last: None,
            first,
            enabled,
        }
    }

    /// `done` bytes so far.
    pub fn update(&mut self, done: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self.last.is_some_and(|l| now.duration_since(l) < EVERY) {
            return;
        }
        self.last = Some(now);
        self.draw(done, false);
    }

    /// The transfer ended at `done` bytes.
    pub fn finish(&mut self, done: u64) {
        if self.enabled {
            self.draw(done, true);
        }
    }

    fn draw(&self, done: u64, end: bool) {
        let line = render(
            &self.name,
            done,
            self.total,
            self.first,
            self.start.elapsed(),
            end,
        );
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}");
        if end {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }
}

/// The meter's line.
pub fn render(
    name: &str,
    done: u64,
    total: u64,
    first: u64,
    elapsed: Duration,
    end: bool,
) -> String {
    let pct = if total == 0 {
        100
    } else {
        done.saturating_mul(100) / total.max(1)
    };
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = done.saturating_sub(first) as f64 / secs;
    let eta = if end {
        let s = elapsed.as_secs();
        format!("{:02}:{:02}    ", s / 60, s % 60)
    } else if rate > 0.0 && total > done {
        let s = ((total - done) as f64 / rate) as u64;
        format!("{:02}:{:02} ETA", s / 60, s % 60)
    } else {
        "--:-- ETA".to_owned()
    };
    let shown: String = name.chars().take(40).collect();
    format!(
        "{shown:<40} {pct:>3}% {:>8} {:>8}/s {eta}",
        human(done),
        human(rate as u64)
    )
}

/// Bytes as scp shows them: `123KB`, `4.5MB`.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    let unit = UNITS.get(u).copied().unwrap_or("B");
    if u == 0 || v >= 100.0 {
        format!("{}{unit}", v as u64)
    } else {
        format!("{v:.1}{unit}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let l = render("f", 512, 1024, 0, Duration::from_secs(1), false);
        assert!(l.contains(" 50%"), "{l}");
        assert!(l.contains("512B"), "{l}");
        assert_eq!(human(1536), "1.5KB");
        assert_eq!(human(200 * 1024 * 1024), "200MB");
    }
}
