//! What binds an agent connection to the session
//! (`session-bind@openssh.com`): both sides hold the first exchange's host
//! key, session id and signature, which verifies, and re-keys keep them.

use super::*;

#[test]
fn the_first_exchange_s_proof_is_kept_on_both_sides_and_verifies() {
    let mut p = Pair::default_pair();
    assert!(p.c.session_binding().is_none());
    p.handshake();
    let (key, sid, sig) = p.c.session_binding().expect("bound after the first kex");
    assert_eq!(Some(sid), p.c.session_id());
    assert_eq!(p.s.session_binding(), Some((key, sid, sig)));
    crate::kex::verify_exchange_hash(
        ssh_keys::SignatureAlgorithm::Ed25519,
        key,
        sid,
        sig,
        &ssh_keys::VerifyPolicy::DEFAULT,
    )
    .expect("the signature of the session id verifies with the host key");
    let before = (key.to_vec(), sid.to_vec(), sig.to_vec());
    p.c.force_rekey().unwrap();
    p.drive().unwrap();
    assert_eq!(p.c.kex_count(), 2);
    let (k, s, g) = p.c.session_binding().unwrap();
    assert_eq!((k.to_vec(), s.to_vec(), g.to_vec()), before);
}
