//! AlgorithmSpec (`+`, `-`, `^`, wildcards, unsupported names) and
//! forwarding specifications (`-L`, `-R`, `-D` forms and rejections).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use ssh_config::{AlgorithmSpec, Endpoint, Forward, ForwardKind, parse_forward_spec};

const DEFAULTS: &[&str] = &[
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes256-gcm@openssh.com",
];
const SUPPORTED: &[&str] = &[
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-cbc",
];

fn apply(raw: &str) -> Result<Vec<String>, String> {
    AlgorithmSpec::new(raw).apply(DEFAULTS, SUPPORTED)
}

#[test]
fn algorithm_lists() {
    assert_eq!(apply("").unwrap(), DEFAULTS);
    assert_eq!(
        apply("aes256-ctr,aes128-ctr").unwrap(),
        ["aes256-ctr", "aes128-ctr"]
    );
    assert_eq!(
        apply("+aes128-cbc,aes128-ctr").unwrap(),
        [DEFAULTS, &["aes128-cbc"]].concat()
    );
    assert_eq!(
        apply("^aes128-cbc,aes128-ctr").unwrap(),
        [
            "aes128-cbc",
            "aes128-ctr",
            "chacha20-poly1305@openssh.com",
            "aes256-gcm@openssh.com"
        ]
    );
    assert_eq!(apply("-*-gcm@openssh.com").unwrap(), &DEFAULTS[..2]);
    assert_eq!(
        apply("-aes128-ctr,nonexistent").unwrap(),
        ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com"]
    );
    // Wildcards expand against the supported list, in its order.
    assert_eq!(
        apply("aes*-ctr").unwrap(),
        ["aes128-ctr", "aes192-ctr", "aes256-ctr"]
    );
    assert_eq!(
        apply("aes128-?cm@openssh.com").unwrap(),
        ["aes128-gcm@openssh.com"]
    );
    assert_eq!(
        apply("+aes1??-c*").unwrap(),
        [DEFAULTS, &["aes192-ctr", "aes128-cbc"]].concat()
    );
    // Unsupported names are errors naming them; so are empty results.
    let e = apply("aes128-ctr,3des-cbc").unwrap_err();
    assert!(e.contains("3des-cbc"), "{e}");
    assert!(apply("+blowfish-cbc").unwrap_err().contains("blowfish-cbc"));
    assert!(apply("^rc4").is_err());
    assert!(apply("-*").is_err());
    assert!(apply("nomatch*").is_err());
    assert!(apply("aes128-ctr,,aes256-ctr").is_err());
    assert!(apply("+").is_err());
    // Duplicates collapse.
    assert_eq!(apply("aes128-ctr,aes128-ctr").unwrap(), ["aes128-ctr"]);
}

fn tcp(bind: Option<&str>, port: u16) -> Endpoint {
    Endpoint::Tcp {
        bind: bind.map(str::to_string),
        port,
    }
}

fn unix(p: &str) -> Endpoint {
    Endpoint::Unix(p.into())
}

#[test]
fn local_forward_forms() {
    let l = |s| parse_forward_spec(s, ForwardKind::Local);
    assert_eq!(
        l("8080:localhost:80").unwrap(),
        Forward {
            listen: tcp(None, 8080),
            connect: Some(tcp(Some("localhost"), 80))
        }
    );
    assert_eq!(
        l("127.0.0.1:8080:db:5432").unwrap(),
        Forward {
            listen: tcp(Some("127.0.0.1"), 8080),
            connect: Some(tcp(Some("db"), 5432))
        }
    );
    assert_eq!(l("*:8080:db:5432").unwrap().listen, tcp(Some("*"), 8080));
    assert_eq!(l(":8080:db:5432").unwrap().listen, tcp(Some(""), 8080));
    assert_eq!(
        l("[::1]:8080:[2001:db8::2]:443").unwrap(),
        Forward {
            listen: tcp(Some("::1"), 8080),
            connect: Some(tcp(Some("2001:db8::2"), 443))
        }
    );
    assert_eq!(
        l("8080:fe80\\:\\:1:80").unwrap().connect,
        Some(tcp(Some("fe80::1"), 80))
    );
    assert_eq!(
        l("/tmp/a.sock:remote:80").unwrap(),
        Forward {
            listen: unix("/tmp/a.sock"),
            connect: Some(tcp(Some("remote"), 80))
        }
    );
    assert_eq!(
        l("8080:/run/app.sock").unwrap(),
        Forward {
            listen: tcp(None, 8080),
            connect: Some(unix("/run/app.sock"))
        }
    );
    assert_eq!(
        l("localhost:8080:/run/app.sock").unwrap(),
        Forward {
            listen: tcp(Some("localhost"), 8080),
            connect: Some(unix("/run/app.sock"))
        }
    );
    assert_eq!(
        l("/tmp/a.sock:/run/b.sock").unwrap(),
        Forward {
            listen: unix("/tmp/a.sock"),
            connect: Some(unix("/run/b.sock"))
        }
    );
    // Rejections.
    for bad in [
        "8080",
        "8080:localhost",
        "0:localhost:80",
        "8080:localhost:0",
        "x:localhost:80",
        "8080:localhost:http",
        "70000:localhost:80",
        "a:b:c:d:e",
        "[::1:8080:h:80",
        "[::1]x:8080:h:80",
        "8080::80",
        "",
    ] {
        assert!(l(bad).is_err(), "accepted {bad:?}");
    }
}

#[test]
fn remote_and_dynamic_forms() {
    let r = |s| parse_forward_spec(s, ForwardKind::Remote);
    let d = |s| parse_forward_spec(s, ForwardKind::Dynamic);
    assert_eq!(
        r("0:localhost:22").unwrap(),
        Forward {
            listen: tcp(None, 0),
            connect: Some(tcp(Some("localhost"), 22))
        }
    );
    assert_eq!(
        r("[::]:2222:localhost:22").unwrap().listen,
        tcp(Some("::"), 2222)
    );
    assert_eq!(
        r("/remote.sock:localhost:22").unwrap().listen,
        unix("/remote.sock")
    );
    // -R [bind:]port alone is a remote dynamic (SOCKS) forwarding.
    assert_eq!(
        r("1080").unwrap(),
        Forward {
            listen: tcp(None, 1080),
            connect: None
        }
    );
    assert_eq!(
        r("0.0.0.0:1080").unwrap(),
        Forward {
            listen: tcp(Some("0.0.0.0"), 1080),
            connect: None
        }
    );
    assert_eq!(
        d("1080").unwrap(),
        Forward {
            listen: tcp(None, 1080),
            connect: None
        }
    );
    assert_eq!(d("[::1]:1080").unwrap().listen, tcp(Some("::1"), 1080));
    assert_eq!(
        d("/tmp/socks.sock").unwrap().listen,
        unix("/tmp/socks.sock")
    );
    for bad in ["0", "1080:h:80", "x", "", "h:1080:x"] {
        assert!(d(bad).is_err(), "dynamic accepted {bad:?}");
    }
    for bad in ["r:1:2:3:4", "1080:h:0", "p"] {
        assert!(r(bad).is_err(), "remote accepted {bad:?}");
    }
}

#[test]
fn endpoint_display_is_ssh_g_form() {
    assert_eq!(tcp(None, 80).to_string(), "80");
    assert_eq!(tcp(Some("::1"), 80).to_string(), "[::1]:80");
    assert_eq!(unix("/a/b").to_string(), "/a/b");
}
