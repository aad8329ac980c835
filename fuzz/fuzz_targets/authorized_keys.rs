//! `authorized_keys` files (`ssh-auth`'s `AuthorizedKeys::parse`) and
//! their option strings (`KeyOptions::parse`). Every line is a key, an
//! error or a comment; options that parse alone parse in front of a
//! key too; options parsed re-encode (in a canonical spelling
//! written here) to options that parse equal, alone and in front of the
//! key on a whole line, which reads back to the same key and comment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_auth::authorized_keys::{AuthorizedKeys, KeyOptions};

/// The ed25519 test key of ssh-auth's fixtures.
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFW8QMCf0XRbtjywQicXU/DZbpmWagNfDNZDiB4pG9iY";

fn quoted(name: &str, value: &str) -> String {
    format!("{name}=\"{}\"", value.replace('"', "\\\""))
}

/// Options in a canonical spelling: every flag explicit.
fn encode(o: &KeyOptions) -> String {
    let flag = |on: bool, name: &str| {
        if on {
            name.to_owned()
        } else {
            format!("no-{name}")
        }
    };
    let mut v = vec![
        flag(o.pty, "pty"),
        flag(o.port_forwarding, "port-forwarding"),
        flag(o.agent_forwarding, "agent-forwarding"),
        flag(o.x11_forwarding, "x11-forwarding"),
        flag(o.user_rc, "user-rc"),
    ];
    if let Some(c) = &o.command {
        v.push(quoted("command", c));
    }
    if let Some(f) = &o.from {
        v.push(quoted("from", f));
    }
    for p in &o.permit_open {
        v.push(quoted("permitopen", p));
    }
    for p in &o.permit_listen {
        v.push(quoted("permitlisten", p));
    }
    for (k, val) in &o.environment {
        v.push(quoted("environment", &format!("{k}={val}")));
    }
    if let Some(t) = &o.expiry_time {
        v.push(quoted(
            "expiry-time",
            &format!(
                "{:04}{:02}{:02}{:02}{:02}{:02}{}",
                t.year,
                t.month,
                t.day,
                t.hour,
                t.minute,
                t.second,
                if t.utc { "Z" } else { "" }
            ),
        ));
    }
    if let Some(p) = &o.principals {
        v.push(quoted("principals", p));
    }
    if o.cert_authority {
        v.push("cert-authority".to_owned());
    }
    if let Some(t) = o.tunnel {
        v.push(quoted("tunnel", &t.to_string()));
    }
    if o.no_touch_required {
        v.push("no-touch-required".to_owned());
    }
    if o.verify_required {
        v.push("verify-required".to_owned());
    }
    v.join(",")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(opts) = KeyOptions::parse(text) {
        let enc = encode(&opts);
        assert_eq!(
            KeyOptions::parse(&enc).expect("canonical options parse"),
            opts,
            "{enc}"
        );
        // Options that parse alone parse in front of a key, on one line.
        if !text.contains(['\n', '\r']) {
            let file = AuthorizedKeys::parse(&format!("{text} {KEY} c"));
            let [one] = file.keys() else {
                panic!("{text:?} in front of a key: {:?}", file.errors());
            };
            assert_eq!(one.options, opts);
        }
    }
    let file = AuthorizedKeys::parse(text);
    let lines = text.lines().count();
    assert!(file.keys().len() + file.errors().len() <= lines);
    let mut last = 0;
    for k in file.keys() {
        assert!(k.line > last && k.line <= lines);
        last = k.line;
        let _ = k.options.allows_from(Some("host.example"), "192.0.2.1");
        if let Some(t) = &k.options.expiry_time {
            let _ = t.is_expired(1_800_000_000, 3600);
        }
        if !k.options.cert_authority {
            let found = file.find(&k.key).expect("a listed key is found");
            assert_eq!(found.key, k.key);
        }
        // Comments holding a line break cannot be written on one line.
        if k.comment.contains(['\r', '\n']) {
            continue;
        }
        let line = format!("{} {}", encode(&k.options), k.key.to_openssh(&k.comment));
        let again = AuthorizedKeys::parse(&line);
        let [one] = again.keys() else {
            panic!("{line:?} does not read back: {:?}", again.errors());
        };
        assert_eq!(one.options, k.options);
        assert_eq!(one.key, k.key);
        assert_eq!(one.comment, k.comment);
    }
});
