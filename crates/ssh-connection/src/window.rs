//! Flow-control arithmetic (RFC 4254 §5.2), in one checked type.
//!
//! Each window has exactly one owner: the send window ([`Window`] in the
//! channel, debited when we send, credited by the peer's WINDOW_ADJUST) and
//! the receive window ([`RecvWindow`], debited when data arrives, re-opened
//! when the application consumes data).

use core::fmt;

/// A flow-control violation by the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WindowError {
    /// The peer sent more data than the window allowed.
    Overrun {
        /// Bytes sent.
        len: u64,
        /// Bytes the window allowed.
        available: u32,
    },
    /// A WINDOW_ADJUST took the window past 2^32-1 (RFC 4254 §5.2: "the
    /// window MUST NOT be increased above 2^32 - 1 bytes").
    Overflow {
        /// The window before.
        window: u32,
        /// The bytes to add.
        add: u32,
    },
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Overrun { len, available } => {
                write!(f, "{len} bytes sent with a window of {available}")
            }
            Self::Overflow { window, add } => {
                write!(f, "window of {window} adjusted by {add}, above 2^32-1")
            }
        }
    }
}

/// A flow-control window: how many bytes may still be sent. Never negative
/// and never above 2^32-1; every change is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window(u32);

impl Window {
    /// A window of `size` bytes.
    pub const fn new(size: u32) -> Self {
        Self(size)
    }

    /// The bytes left.
    pub const fn available(self) -> u32 {
        self.0
    }

    /// Takes `len` bytes off; an overrun is an error and leaves the window
    /// unchanged.
    pub fn debit(&mut self, len: usize) -> Result<(), WindowError> {
        let overrun = WindowError::Overrun {
            len: u64::try_from(len).unwrap_or(u64::MAX),
            available: self.0,
        };
        let len = u32::try_from(len).map_err(|_| overrun)?;
        self.0 = self.0.checked_sub(len).ok_or(overrun)?;
        Ok(())
    }

    /// Adds `add` bytes; going past 2^32-1 is an error and leaves the window
    /// unchanged.
    pub fn credit(&mut self, add: u32) -> Result<(), WindowError> {
        self.0 = self.0.checked_add(add).ok_or(WindowError::Overflow {
            window: self.0,
            add,
        })?;
        Ok(())
    }
}

/// The receive side of a channel: the window the peer may still fill, the
/// bytes buffered for the application, and the target size.
///
/// Invariant: `window + buffered <= target` except after the target was
/// lowered, and a credit is only announced for bytes the application has
/// consumed, so a stalled reader stops its own channel and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvWindow {
    window: Window,
    buffered: u32,
    target: u32,
    divisor: u32,
    /// Bytes received since the window was made (data and extended data).
    received: u64,
}

impl RecvWindow {
    /// A window of `size` bytes, re-opened once `size / divisor` bytes were
    /// consumed.
    pub const fn new(size: u32, divisor: u32) -> Self {
        Self {
            window: Window::new(size),
            buffered: 0,
            target: size,
            divisor: if divisor == 0 { 1 } else { divisor },
            received: 0,
        }
    }

    /// The bytes the peer may still send.
    pub const fn available(&self) -> u32 {
        self.window.available()
    }

    /// The bytes received and not consumed.
    pub const fn buffered(&self) -> u32 {
        self.buffered
    }

    /// The target window size.
    pub const fn target(&self) -> u32 {
        self.target
    }

    /// `len` bytes arrived and wait for the application.
    pub fn receive(&mut self, len: usize) -> Result<(), WindowError> {
        self.window.debit(len)?;
        // Cannot overflow: buffered + window <= u32::MAX is kept by credit().
        self.buffered = self
            .buffered
            .saturating_add(u32::try_from(len).unwrap_or(u32::MAX));
        self.received = self
            .received
            .saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
        Ok(())
    }

    /// The application consumed `len` buffered bytes (clamped to what is
    /// buffered).
    pub fn consume(&mut self, len: usize) {
        let len = u32::try_from(len).unwrap_or(u32::MAX).min(self.buffered);
        self.buffered -= len;
    }

    /// The credit to announce now, if it is worth a WINDOW_ADJUST: the gap
    /// between the target and what the peer may send or has buffered, once
    /// it reaches `target / divisor` (h2's "half the window" rule). The
    /// credit is applied to the window here; the caller sends it.
    pub fn take_credit(&mut self) -> Option<u32> {
        let used = u64::from(self.window.available()) + u64::from(self.buffered);
        let gap = u64::from(self.target).saturating_sub(used);
        let gap = u32::try_from(gap).unwrap_or(0);
        let threshold = (self.target / self.divisor).max(1);
        if gap == 0 || gap < threshold {
            return None;
        }
        self.window.credit(gap).ok()?;
        Some(gap)
    }

    /// Bytes received since the window was made.
    pub const fn received(&self) -> u64 {
        self.received
    }

    /// Sets a new target size (the hook for growing the window, e.g. from
    /// a bandwidth-delay estimate). Returns the credit to announce now when
    /// the window grew; a smaller target takes effect as data is consumed.
    pub fn set_target(&mut self, target: u32) -> Option<u32> {
        let grow = target.saturating_sub(self.target);
        self.target = target;
        if grow == 0 {
            return None;
        }
        let room = u32::MAX - self.window.available().max(self.buffered);
        let grow = grow.min(room);
        self.window.credit(grow).ok()?;
        (grow > 0).then_some(grow)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn debit_and_credit_are_checked() {
        let mut w = Window::new(10);
        w.debit(4).unwrap();
        assert_eq!(w.available(), 6);
        assert_eq!(
            w.debit(7),
            Err(WindowError::Overrun {
                len: 7,
                available: 6
            })
        );
        assert_eq!(w.available(), 6);
        w.credit(u32::MAX - 6).unwrap();
        assert_eq!(w.available(), u32::MAX);
        assert_eq!(
            w.credit(1),
            Err(WindowError::Overflow {
                window: u32::MAX,
                add: 1
            })
        );
        assert!(w.debit(usize::MAX).is_err());
    }

    #[test]
    fn recv_window_credits_after_half_consumed() {
        let mut r = RecvWindow::new(100, 2);
        r.receive(60).unwrap();
        assert_eq!(r.available(), 40);
        assert_eq!(r.take_credit(), None);
        r.consume(49);
        assert_eq!(r.take_credit(), None, "49 < 50");
        r.consume(1);
        assert_eq!(r.take_credit(), Some(50));
        assert_eq!(r.available(), 90);
        assert_eq!(r.buffered(), 10);
        assert!(r.receive(91).is_err());
    }

    #[test]
    fn recv_window_target_grows_and_shrinks() {
        let mut r = RecvWindow::new(100, 2);
        assert_eq!(r.set_target(300), Some(200));
        assert_eq!(r.available(), 300);
        assert_eq!(r.set_target(50), None);
        r.receive(300).unwrap();
        r.consume(300);
        assert_eq!(r.take_credit(), Some(50));
        assert_eq!(r.available(), 50);
    }

    #[test]
    fn received_counts_every_byte() {
        let mut r = RecvWindow::new(100, 2);
        r.receive(60).unwrap();
        r.consume(60);
        r.take_credit();
        r.receive(30).unwrap();
        assert_eq!(r.received(), 90);
    }
}
