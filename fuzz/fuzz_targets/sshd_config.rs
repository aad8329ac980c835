//! `sshd_config` files (`ssh-config`'s `ServerConfig::parse` and
//! `resolve`): the input up to its first NUL is the file, the rest what
//! every Include reads. Parsing and resolving are deterministic; what
//! parses resolves globally and for a connection, and its `sshd -T` dump
//! is one lowercase keyword a line. (The dump is not a config file:
//! values are unquoted, so reading it back is not asserted.)
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ssh_config::server::{ConnectionQuery, ServerConfig};

#[path = "../common/config.rs"]
mod config;

fuzz_target!(|data: &[u8]| {
    let Some((main, included)) = config::split(data) else {
        return;
    };
    let origin = Path::new("/etc/ssh/sshd_config");
    let mut loader = config::OneFile(included.to_owned());
    let Ok(cfg) = ServerConfig::parse(main, origin, &mut loader) else {
        return;
    };
    assert_eq!(
        ServerConfig::parse(main, origin, &mut loader).expect("parses twice"),
        cfg
    );
    let query = ConnectionQuery {
        user: "alice".to_owned(),
        groups: vec!["staff".to_owned()],
        address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        host: None,
        local_address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        local_port: 22,
    };
    let _ = cfg.resolve(Some(&query));
    let settings = cfg.resolve(None);
    let dump = settings.dump(&|_, spec| spec.as_str().to_owned());
    for line in dump.lines() {
        let kw = line.split(' ').next().unwrap_or("");
        assert!(
            !kw.is_empty()
                && kw
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{line:?}"
        );
    }
    assert_eq!(
        cfg.resolve(None).dump(&|_, spec| spec.as_str().to_owned()),
        dump
    );
});
