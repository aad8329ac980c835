//! Server-side forwarding: `direct-tcpip` and
//! `direct-streamlocal@openssh.com` channels, `tcpip-forward` and
//! `streamlocal-forward@openssh.com` listeners, under a policy.
