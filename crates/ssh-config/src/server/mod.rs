//! sshd_config (to come).
