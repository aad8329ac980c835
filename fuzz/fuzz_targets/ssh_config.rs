//! `ssh_config` files (`ssh-config`'s `ClientConfig::parse` and
//! `resolve`): the input up to its first NUL is the file, the rest what
//! every Include reads. Parsing and resolving are deterministic; what
//! parses resolves for a destination (or refuses with an error, never a
//! panic) and its `ssh -G` dump is one lowercase keyword a line. (The
//! dump is not a config file: values are unquoted and `%` tokens
//! expanded, so reading it back is not asserted.)
#![no_main]

use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use ssh_config::client::{ClientConfig, ClientQuery, resolve};

#[path = "../common/config.rs"]
mod config;

fn query() -> ClientQuery {
    ClientQuery {
        host: "host.example".to_owned(),
        user: None,
        port: None,
        local_user: "me".to_owned(),
        home: PathBuf::from("/home/me"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((main, included)) = config::split(data) else {
        return;
    };
    let origin = Path::new("/home/me/.ssh/config");
    let mut loader = config::OneFile(included.to_owned());
    let Ok(cfg) = ClientConfig::parse(main, origin, &mut loader) else {
        return;
    };
    assert_eq!(
        ClientConfig::parse(main, origin, &mut loader).expect("parses twice"),
        cfg
    );
    let Ok(settings) = resolve(std::slice::from_ref(&cfg), &[], &query()) else {
        return;
    };
    let dump = settings.dump(&|_, spec| spec.as_str().to_owned());
    check_dump(&dump);
    let again = resolve(std::slice::from_ref(&cfg), &[], &query()).expect("resolves twice");
    assert_eq!(again.dump(&|_, spec| spec.as_str().to_owned()), dump);
});

/// One `keyword value` a line, keywords in lowercase.
fn check_dump(dump: &str) {
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
}
