//! Giving freed memory back to the system. glibc's allocator keeps what
//! a burst of connections freed (in the arenas of the threads that served
//! them) until told otherwise; a server that held 5,000 connections would
//! keep their memory for its whole life.

/// Returns the free pages of every malloc arena to the kernel
/// (`malloc_trim(0)`); true when some memory was released. Elsewhere
/// than glibc, nothing to do: false.
#[allow(unsafe_code)]
pub fn release_free() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes no pointers and locks each arena
        // itself; it is safe to call from any thread at any time.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
