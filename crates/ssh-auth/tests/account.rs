//! The account check after the methods (sshd's PAM account management:
//! an expired or locked account, `/etc/nologin`), asked before SUCCESS.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod pair;

use pair::*;

fn checked() -> ServerConfig {
    ServerConfig {
        check_account: true,
        ..ServerConfig::default()
    }
}

fn key_pair(config: ServerConfig) -> (ClientAuth, ServerAuth, Instant, ClientApp, ServerApp) {
    let key = ed25519(7);
    let (c, s, now) = pair(vec![ClientMethod::PublicKey(key.public().clone())], config);
    let sa = ServerApp {
        approved: vec![key.public().clone()],
        ..ServerApp::default()
    };
    let ca = ClientApp {
        keys: vec![key],
        ..ClientApp::default()
    };
    (c, s, now, ca, sa)
}

fn checks(ev: &[ServerEvent]) -> Vec<String> {
    ev.iter()
        .filter_map(|e| match e {
            ServerEvent::CheckAccount { user, method } => Some(format!("{user}/{method}")),
            _ => None,
        })
        .collect()
}

#[test]
fn an_allowed_account_is_asked_about_once_then_succeeds() {
    let (mut c, mut s, now, mut ca, mut sa) = key_pair(checked());
    let out = run(&mut c, &mut ca, &mut s, &mut sa, now);
    out.client.unwrap();
    out.server.unwrap();
    assert!(c.is_authenticated() && s.is_authenticated());
    assert_eq!(checks(&sa.events), vec!["alice/publickey"]);
    // The question comes before the success.
    let check = sa
        .events
        .iter()
        .position(|e| matches!(e, ServerEvent::CheckAccount { .. }));
    let success = sa
        .events
        .iter()
        .position(|e| matches!(e, ServerEvent::Success { .. }));
    assert!(check.unwrap() < success.unwrap());
}

#[test]
fn nothing_is_sent_while_the_account_is_checked() {
    let (mut c, mut s, now, mut ca, mut sa) = key_pair(checked());
    sa.account = None;
    let out = run(&mut c, &mut ca, &mut s, &mut sa, now);
    out.server.unwrap();
    assert_eq!(checks(&sa.events), vec!["alice/publickey"]);
    assert!(!s.is_authenticated() && !c.is_authenticated());
    assert_eq!(s.poll_outgoing(out.now), None);
    assert_eq!(successes(&sa.events), 0);
    // A late yes completes it.
    s.answer_account(out.now, AccountVerdict::Allow).unwrap();
    assert!(s.is_authenticated());
    let success = s.poll_outgoing(out.now).unwrap();
    c.handle_payload(&success).unwrap();
    assert!(c.is_authenticated());
}

#[test]
fn a_denied_account_gets_the_message_as_a_banner_and_no_success() {
    let (mut c, mut s, now, mut ca, mut sa) = key_pair(checked());
    let message = "Your account has expired; please contact your system administrator.\n";
    sa.account = Some(AccountVerdict::Deny {
        message: message.into(),
    });
    let out = run(&mut c, &mut ca, &mut s, &mut sa, now);
    assert_eq!(
        out.server,
        Err(AuthError::AccountDenied {
            user: "alice".into()
        })
    );
    assert_eq!(
        AuthError::AccountDenied {
            user: "alice".into()
        }
        .disconnect_reason(),
        Some(DisconnectReason::NO_MORE_AUTH_METHODS_AVAILABLE)
    );
    assert!(!s.is_authenticated() && !c.is_authenticated());
    assert_eq!(successes(&sa.events), 0);
    assert!(
        ca.events.iter().any(|e| matches!(
            e,
            ClientEvent::Banner { message: m, .. } if m == message
        )),
        "{:?}",
        ca.events
    );
    assert!(!ca.events.contains(&ClientEvent::Success));
    // Failed for good.
    assert!(s.answer_account(out.now, AccountVerdict::Allow).is_err());
}

/// PAM's account messages for an account that may log in (a password
/// that must change) reach the user as a banner before SUCCESS, as sshd
/// sends them.
#[test]
fn an_allowed_account_with_a_message_gets_the_banner_before_success() {
    let (mut c, mut s, now, mut ca, mut sa) = key_pair(checked());
    let message =
        "You are required to change your password immediately (administrator enforced).\n";
    sa.account = Some(AccountVerdict::AllowWithBanner {
        message: message.into(),
    });
    let out = run(&mut c, &mut ca, &mut s, &mut sa, now);
    out.client.unwrap();
    out.server.unwrap();
    assert!(c.is_authenticated() && s.is_authenticated());
    let banner = ca
        .events
        .iter()
        .position(|e| matches!(e, ClientEvent::Banner { message: m, .. } if m == message));
    let success = ca.events.iter().position(|e| *e == ClientEvent::Success);
    assert!(banner.unwrap() < success.unwrap(), "{:?}", ca.events);
}

#[test]
fn a_denial_without_a_message_sends_nothing() {
    let (mut c, mut s, now, mut ca, mut sa) = key_pair(checked());
    sa.account = None;
    let out = run(&mut c, &mut ca, &mut s, &mut sa, now);
    let r = s.answer_account(
        out.now,
        AccountVerdict::Deny {
            message: String::new(),
        },
    );
    assert!(matches!(r, Err(AuthError::AccountDenied { .. })));
    assert_eq!(s.poll_outgoing(out.now), None);
}

#[test]
fn with_several_methods_required_only_the_last_one_asks() {
    let key = ed25519(8);
    let config = ServerConfig {
        required: vec![vec!["publickey".into(), "password".into()]],
        ..checked()
    };
    let (mut c, mut s, now) = pair(
        vec![
            ClientMethod::PublicKey(key.public().clone()),
            ClientMethod::Password,
        ],
        config,
    );
    let mut sa = ServerApp {
        approved: vec![key.public().clone()],
        ..ServerApp::default()
    };
    let mut ca = ClientApp {
        keys: vec![key],
        passwords: vec!["correct horse".into()],
        ..ClientApp::default()
    };
    let out = run(&mut c, &mut ca, &mut s, &mut sa, now);
    out.server.unwrap();
    assert!(s.is_authenticated());
    assert_eq!(checks(&sa.events), vec!["alice/password"]);
}

#[test]
fn without_the_option_nothing_is_asked() {
    let (mut c, mut s, now, mut ca, mut sa) = key_pair(ServerConfig::default());
    sa.account = None;
    let out = run(&mut c, &mut ca, &mut s, &mut sa, now);
    out.server.unwrap();
    assert!(s.is_authenticated());
    assert!(checks(&sa.events).is_empty());
}

#[test]
fn an_unasked_verdict_is_misuse() {
    let (_, mut s, now) = pair(Vec::new(), checked());
    assert!(matches!(
        s.answer_account(now, AccountVerdict::Allow),
        Err(AuthError::Misuse(_))
    ));
}

#[test]
fn the_login_deadline_covers_the_account_check() {
    let (mut c, mut s, now, mut ca, mut sa) = key_pair(checked());
    sa.account = None;
    let out = run(&mut c, &mut ca, &mut s, &mut sa, now);
    out.server.unwrap();
    let late = out.now + ServerConfig::default().deadline;
    assert_eq!(s.handle_timeout(late), Err(AuthError::Timeout));
    assert!(!s.is_authenticated());
}
