//! authorized_keys parsing: options, quoting, bad lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

use ssh_auth::authorized_keys::{AuthorizedKeys, ExpiryTime, KeyOptions};
use ssh_keys::PublicKey;

fn key(name: &str) -> PublicKey {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/test-keys-DO-NOT-USE")
            .join(format!("{name}.pub")),
    )
    .unwrap();
    PublicKey::from_openssh(&text).unwrap().0
}

#[test]
fn options_are_parsed_into_data() {
    let (ed, ec, rsa) = (key("ed25519"), key("ecdsa256"), key("rsa2048"));
    let text = format!(
        "# my keys\n\
         {ed} plain key\n\
         restrict,pty,command=\"echo \\\"hi\\\", there\" {ec} restricted\n\
         from=\"*.example.com,!bad.example.com,10.0.0.*\",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc {rsa}\n\
         permitopen=\"db:5432\",permitopen=\"[::1]:80\",permitlisten=\"8080\",permitlisten=\"localhost:*\",environment=\"LANG=C.UTF-8\",expiry-time=\"20300102\" {ed} forwarder\n\
         cert-authority,principals=\"alice,bob\" {rsa} ca\n\
         ",
        ed = ed.to_openssh(""),
        ec = ec.to_openssh(""),
        rsa = rsa.to_openssh(""),
    );
    let ak = AuthorizedKeys::parse(&text);
    assert!(ak.errors().is_empty(), "{:?}", ak.errors());
    let keys = ak.keys();
    assert_eq!(keys.len(), 5);

    assert_eq!(keys[0].line, 2);
    assert_eq!(keys[0].options, KeyOptions::default());
    assert_eq!(keys[0].comment, "plain key");

    let r = &keys[1].options;
    assert_eq!(r.command.as_deref(), Some("echo \"hi\", there"));
    assert!(r.pty, "pty re-enabled after restrict");
    assert!(!r.port_forwarding && !r.agent_forwarding && !r.x11_forwarding && !r.user_rc);
    assert_eq!(keys[1].comment, "restricted");

    let f = &keys[2].options;
    assert!(!f.pty && !f.port_forwarding && !f.agent_forwarding && !f.x11_forwarding && !f.user_rc);
    assert!(f.allows_from(Some("www.example.com"), "192.0.2.1"));
    assert!(f.allows_from(None, "10.0.0.7"));
    assert!(!f.allows_from(Some("bad.example.com"), "10.0.0.7"));
    assert!(!f.allows_from(Some("www.example.org"), "192.0.2.1"));
    assert!(KeyOptions::default().allows_from(None, "192.0.2.1"));
    let cidr = KeyOptions::parse("from=\"192.0.2.0/24,!192.0.2.9\"").unwrap();
    assert!(cidr.allows_from(None, "192.0.2.1"));
    assert!(!cidr.allows_from(None, "192.0.2.9"));
    assert!(!cidr.allows_from(Some("x"), "198.51.100.1"));

    let p = &keys[3].options;
    assert_eq!(p.permit_open, vec!["db:5432", "[::1]:80"]);
    assert_eq!(p.permit_listen, vec!["8080", "localhost:*"]);
    assert_eq!(
        p.environment,
        vec![("LANG".to_owned(), "C.UTF-8".to_owned())]
    );
    let exp = p.expiry_time.unwrap();
    assert_eq!((exp.year, exp.month, exp.day, exp.hour), (2030, 1, 2, 0));
    assert!(p.pty && p.port_forwarding);

    let ca = &keys[4].options;
    assert!(ca.cert_authority);
    assert_eq!(ca.principals.as_deref(), Some("alice,bob"));
    // find() skips cert-authority lines.
    assert_eq!(ak.find(&rsa).unwrap().line, 4);
    assert_eq!(ak.find(&ed).unwrap().line, 2);
    assert_eq!(ak.cert_authorities().count(), 1);
}

#[test]
fn bad_lines_are_reported_and_skipped() {
    let ed = key("ed25519").to_openssh("");
    let text = format!(
        "{ed}\n\
         no-such-option {ed}\n\
         command=\"unterminated {ed}\n\
         command=unquoted {ed}\n\
         no-pty=\"x\" {ed}\n\
         permitopen=\"nohost\" {ed}\n\
         permitlisten=\"host:99999\" {ed}\n\
         environment=\"=x\" {ed}\n\
         expiry-time=\"2030\" {ed}\n\
         command=\"a\",command=\"b\" {ed}\n\
         ssh-ed25519 not-base64\n\
         restrict {ed}\n\
         "
    );
    let ak = AuthorizedKeys::parse(&text);
    let lines: Vec<usize> = ak.errors().iter().map(|e| e.0).collect();
    assert_eq!(lines, (2..=11).collect::<Vec<_>>(), "{:?}", ak.errors());
    assert_eq!(
        ak.keys().iter().map(|k| k.line).collect::<Vec<_>>(),
        vec![1, 12]
    );
}

#[test]
fn expiry_times() {
    let parse = |s: &str| {
        let ed = key("ed25519").to_openssh("");
        let ak = AuthorizedKeys::parse(&format!("expiry-time=\"{s}\" {ed}"));
        ak.keys().first().and_then(|k| k.options.expiry_time)
    };
    let t: ExpiryTime = parse("19700102").unwrap();
    assert_eq!(t.unix_seconds_utc(), 86_400);
    let t = parse("20000229123456Z").unwrap();
    assert!(t.utc);
    assert_eq!(t.unix_seconds_utc(), 951_827_696);
    assert!(t.is_expired(951_827_696, 0));
    assert!(!t.is_expired(951_827_695, 0));
    let local = parse("200002291234").unwrap();
    // Written in a zone one hour ahead of UTC: expires an hour earlier.
    assert!(local.is_expired(951_827_640 - 3600, 3600));
    assert!(parse("20001301").is_none());
    assert!(parse("2000010125").is_none());
}

/// The options field ends at the first blank outside quotes, where only
/// `\"` is an escape (as sshd's `sshkey_advance_past_options`): a command
/// holding a backslash right before an escaped quote (`\\"`, the value
/// `\"`) ended the field's quote early, and the line was refused though
/// its options parse. Found while writing the authorized_keys fuzz target.
#[test]
fn backslash_before_escaped_quote_keeps_the_options_field_quoted() {
    let ed = key("ed25519");
    let opts = r#"command="echo \\" done""#;
    let parsed = KeyOptions::parse(opts).unwrap();
    assert_eq!(parsed.command.as_deref(), Some(r#"echo \" done"#));
    let ak = AuthorizedKeys::parse(&format!("{opts} {}\n", ed.to_openssh("c")));
    assert!(ak.errors().is_empty(), "{:?}", ak.errors());
    assert_eq!(ak.keys().len(), 1);
    assert_eq!(ak.keys()[0].options, parsed);
}
