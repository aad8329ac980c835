//! Known answers, computed independently by `kat_vectors.py` (Python's
//! `hashlib` and the `cryptography` package) and pasted here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use rand::SeedableRng;
use zeroize::Zeroizing;

use super::curve25519::X25519KeyPair;
use super::dh::{DhKeyPair, mpint_body};
use super::ecdh::EcdhSecret;
use super::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn x25519_pair(secret: &str) -> X25519KeyPair {
    X25519KeyPair::from_secret(Zeroizing::new(h(secret).try_into().unwrap()))
}

const ALICE: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const BOB: &str = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const ALICE_PUB: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const BOB_PUB: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const X25519_K: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

#[test]
fn x25519_rfc7748_section_6_1() {
    let alice = x25519_pair(ALICE);
    let bob = x25519_pair(BOB);
    assert_eq!(alice.public().as_slice(), h(ALICE_PUB));
    assert_eq!(bob.public().as_slice(), h(BOB_PUB));
    let k1 = alice.agree(bob.public()).unwrap();
    let k2 = bob.agree(alice.public()).unwrap();
    assert_eq!(k1, k2);
    assert_eq!(k1.as_bytes(), h(X25519_K));
    assert_eq!(k1.encoding(), SecretEncoding::Mpint);
}

#[test]
fn x25519_rfc7748_section_5_2() {
    // The two single-step test vectors of RFC 7748 §5.2, through the
    // wrapper (the scalar is the key pair's secret, u the peer value).
    let cases = [
        (
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        (
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
    ];
    for (k, u, out) in cases {
        let pair = x25519_pair(k);
        assert_eq!(*pair.agree_raw(&h(u)).unwrap(), h(out).as_slice());
    }
}

#[test]
fn ecdh_fixed_scalars() {
    let cases = [
        (
            EcdsaCurve::NistP256,
            "1111111111111111111111111111111111111111111111111111111111111111",
            "2222222222222222222222222222222222222222222222222222222222222222",
            "040217e617f0b6443928278f96999e69a23a4f2c152bdf6d6cdf66e5b80282d4ed194a7debcb97712d2dda3ca85aa8765a56f45fc758599652f2897c65306e5794",
            "04d65a93977caa3d1b081852ff57a79e465f1660577304baead505dd3a48589cf350185e895372df6221ea3a137557e473fddb6755f05bd507c3c533fce9c91285",
            "ccfc261f58193c98ca4ad4a53bbac6f0ee29bc4d48438090446908622ca79af6",
        ),
        (
            EcdsaCurve::NistP384,
            "111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111",
            "222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222",
            "04386e767ea5cb716c9cd620ff7342129c892a6fccefe612140c80bff59e943468019dda16e5079b0c1d9001d23a624b6dd088d0c3826394194787403e8a7d07e5e22f7e9c0b8e80fa1faff5d28b4bb597b267f0b87023ca61fc8454bddefd2e0e",
            "044f2bda7fd2105f8467e21f45223ad58863ffa4c084832d9f6c64ffc47fdd519727ab53cb71f9c40de24b64acde61f02fc7dce130b612fa5dbcac94573a2354fd005d8e9caefdc5fde48304474708bbd82f77e1fd2c630bea236f6f8dccc1678e",
            "2ac3da23c114b5b1f3aa200cf3c57bebd1b3b880a0e68066ab5d00dda50dcfe6cd03410292346187a84b1f12d53569c0",
        ),
        (
            EcdsaCurve::NistP521,
            "001111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111",
            "002222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222",
            "0401294fe67bd435cb127f9a99ad0ddf48d246751d948d79a61e6aaf3af5d435c4898210f09208090c856dd0724b426f17c4d107396cbb4674d24bd5b118f0a94f3ded00afbac85de5d92e7b0554a8e573daef3e8e5105beda5028fa838b94ea8e84051b52a36fc2b5e736195acd8bc7cfd2f9741ea122200d9c7f602ad25c660235fd936c",
            "0401961c278756ab13b825bdbbf03ab16b456a343613a32374b2d4dcfd82b198c342616c61b69302ea59a9a8e13d3bcda03dba4c456a6a77831cdf783d3de7e775ab7d0142d929c7bb7a9d0274592e4992cba27fbdd91b3af0b3f2c731bfe1c519c4b916a9a56a47663d561fc10d6c386b04d72be3a3000fdccb324d054e5ebf0961be727d",
            "012a3654874219df7b5728f34d67a81e1ee353e8063b0564811f65651c1281931a8440b5720f517f765a40e8bc6e7e5164abc873ae856f2913cade7253da993338cd",
        ),
    ];
    for (curve, dc, ds, qc, qs, z) in cases {
        let (client, q_c) = EcdhSecret::from_scalar(curve, &h(dc)).unwrap();
        let (server, q_s) = EcdhSecret::from_scalar(curve, &h(ds)).unwrap();
        assert_eq!(q_c, h(qc));
        assert_eq!(q_s, h(qs));
        let k = client.agree(&q_s).unwrap();
        assert_eq!(k, server.agree(&q_c).unwrap());
        // K is the x-coordinate, all field bytes (RFC 5656 §4).
        assert_eq!(k.as_bytes(), h(z));
    }
}

const V_C: &[u8] = b"SSH-2.0-rssh_test";
const V_S: &[u8] = b"SSH-2.0-OpenSSH_9.2p1";

fn kexinit(first: u8, text: &[u8]) -> Vec<u8> {
    let mut v = vec![20];
    v.extend(first..first + 16);
    v.extend_from_slice(text);
    v
}

fn host_key() -> ssh_keys::PrivateKey {
    // RFC 8032 §7.1 TEST 1.
    ssh_keys::PrivateKey::from_ed25519_seed(
        &h("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .try_into()
            .unwrap(),
    )
}

/// One complete `curve25519-sha256` exchange: H, the host key signature
/// over H, and the derived keys.
#[test]
fn curve25519_exchange_hash_signature_and_keys() {
    let client = x25519_pair(ALICE);
    let server = x25519_pair(BOB);
    let k = client.agree(server.public()).unwrap();
    let (i_c, i_s) = (
        kexinit(0, b"client kexinit"),
        kexinit(16, b"server kexinit"),
    );
    let hk = host_key();
    let k_s = hk.public().to_blob();
    let input = ExchangeHashInput {
        client_version: V_C,
        server_version: V_S,
        client_kexinit: &i_c,
        server_kexinit: &i_s,
        host_key: &k_s,
        gex: None,
        client_public: client.public(),
        server_public: server.public(),
    };
    let hash = exchange_hash(KexAlgorithm::Curve25519Sha256, &input, &k);
    assert_eq!(
        hash,
        h("53df581178182046441ce6cda1f40c8ac0dae4af64be801e0c29b7212361a9c0")
    );
    // Ed25519 signatures are deterministic: the same bytes as Python's.
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let sig =
        sign_exchange_hash(&hk, ssh_keys::SignatureAlgorithm::Ed25519, &hash, &mut rng).unwrap();
    assert_eq!(
        sig,
        h(
            "0000000b7373682d6564323535313900000040d2ebb398bb4eea76742a697dfba704129c34c41e217ba9f9c7a408bd4cf5b6644dce92ea46d8b2d2b16a4ef3a89e3573119e2467fd54d16769ab81f7640f0609"
        )
    );
    let key = verify_exchange_hash(
        ssh_keys::SignatureAlgorithm::Ed25519,
        &k_s,
        &hash,
        &sig,
        &ssh_keys::VerifyPolicy::default(),
    )
    .unwrap();
    assert_eq!(&key, hk.public());

    // Key derivation (RFC 4253 §7.2), first exchange: session id = H.
    // 64 and 100 bytes need the K1 || K2 (|| K3 || K4) extension.
    let cases = [
        (b'A', 16, "4306a16004e75f5af3279699d1875331"),
        (
            b'C',
            32,
            "99396979847230b46fdedc218b2c1bdb11b15c485884389a40ba54eb93cc46cc",
        ),
        (
            b'E',
            64,
            "2ddbe9fb9b029b70e8b15741d0d23c56ec7e14d038391de92e49aa5bdccb71e654674cbf4e72b4b90f5d87207704938464315a4d7531e52534c3ad5de5580c12",
        ),
        (
            b'F',
            100,
            "c6bd330ea71cef14f529327772bc92091bfe203e4d0a2f2c782b91e935e08efcfc2c057fa9f177ae8a2cadfe107274c2a0122d5544213b9af8a82ba5662429cf4a480ec14283597bec12ca88252e635ea4391fbe5553e2ec4b2468473b1c317ef77d4093",
        ),
    ];
    for (letter, len, expected) in cases {
        let key = derive_key(HashAlg::Sha256, &k, &hash, letter, &hash, len);
        assert_eq!(key.as_slice(), h(expected).as_slice(), "{}", letter as char);
    }
    // SHA-512 and a session id other than H (a re-key).
    let key = derive_key(HashAlg::Sha512, &k, &hash, b'B', &[1; 32], 80);
    assert_eq!(
        key.as_slice(),
        h("cf9114246131f3f28c1b3d96f06b3a9f3c372f421361f6a3840f78dffb334b5929fb525605e6094cd5e42134cec574324300e611e442349761b7a60fb84e0ba98a0eb4894b2285af2716fa308dce9217").as_slice()
    );
}

const DH_X: &str = "800102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
const DH_Y: &str = "c06465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2";
const DH_E: &str = "29a4994c59681cfb9a2a109e9c36744b29ffe68ef8f09ba43c0517ff976bfbc617ebc61575669a34639100868e65753ff886140cfbe65843508341275ad1d7ddb233ea093718c9439308fa8566ac2b8f6ec72acff8df8eeaa4d2302fd4113d13079c0be5e9c6a4c56282d16a9996d2924cc6ce4ae23d323b97edd40fd2408ea13e098df8f0ae05963ad29e623b0c8ec59418cbdfecfae16dae8dd40468d8df29ffd4406c2dd2195accded8d6f57a8a0e846b1a8a83c98a5c42f47900eb7248519062533a4cdbc0ff75749006db1f4cc30bc96c2467d82ca71c7b3056dbb78ba335568f605442601841278cb0e787d443e029bb668dd75be1c309c5a1707724f6";
const DH_F: &str = "9f8c6ae00cf0fecb08115ca46e9428fb899e13aeb76aaa81e7ab1be8256ab153bd5312f5f2752f9402916808c1a2592b4ed6c5d0b6f8105781afd52c791770c38ec0e89c1a299d15b23b25d2967d3f5fa1cccdabf94a0ff01d29d0329ff5b5fefe6b9743ccf34ef53e8a67033701abadba8059f6f76a0ab8d67f6a9e90c363c64467faa1fbb1460647ce91c4d11a440bef9d46f23933f10383c7f91767efa334470fe1f5bc977145017ae5c77af7b85e942133b0c4f8c84384fc3cd88f10db100c240ddc434648105d560566c42e1b5891d9da0377d4a2c6d8ff01805a7e34fe4ec062cebc95089f4493923630f95478055da5a25736bfe238d9498e665d7b3e";
const DH_K: &str = "b102cd3783c35817e066e2775374ae77f5cacbe28da08222146c1d5d74cd276ac702cac668c8bdec5649f21b958af40c81eafd801e5d7d4bf5aa66db6324b7f9af1ae7a4fe336c6bdda69015117ae686a89a441b419e24c4c056e73f6800be556657ac4f8fbc1a9c410ecffee7260611475deecacbe718538103dd89cf54b244bc60e0fabc38338ef0e471b242953bda5ad13b4c669a81e54fbe7f3a99a4094350026c9718ada44fdd1cec550c847c0e9109a8f7424259f6b822054998c59e9d9127bbf9a8f3fbcafde5c53e65644f0a297075a866d7b5ed9f90053f55a7c95e6aded7e5be16d3e4f34b816ef45763411e64857eac9b029b6c03c0495aef9961";

/// `diffie-hellman-group14-sha256` and group exchange with fixed exponents:
/// e, f, K (whose mpint needs a leading zero byte) and both exchange
/// hashes.
#[test]
fn dh_group14_and_gex_fixed_exponents() {
    let client = DhKeyPair::from_exponent(DhGroup::group14(), &h(DH_X), 512).unwrap();
    let server = DhKeyPair::from_exponent(DhGroup::group14(), &h(DH_Y), 512).unwrap();
    assert_eq!(client.public(), mpint_body(&h(DH_E)));
    assert_eq!(server.public(), mpint_body(&h(DH_F)));
    // f has its top bit set: its mpint body starts with a zero byte.
    assert_eq!(server.public()[0], 0);
    let k = client.agree(server.public()).unwrap();
    assert_eq!(k, server.agree(client.public()).unwrap());
    assert_eq!(k.as_bytes(), h(DH_K));
    assert_eq!(&k.encoded()[..6], &[0, 0, 1, 1, 0, 0xb1]);

    let (i_c, i_s) = (
        kexinit(0, b"client kexinit"),
        kexinit(16, b"server kexinit"),
    );
    let k_s = host_key().public().to_blob();
    let mut input = ExchangeHashInput {
        client_version: V_C,
        server_version: V_S,
        client_kexinit: &i_c,
        server_kexinit: &i_s,
        host_key: &k_s,
        gex: None,
        client_public: client.public(),
        server_public: server.public(),
    };
    assert_eq!(
        exchange_hash(KexAlgorithm::DhGroup14Sha256, &input, &k),
        h("b06576b97534c915ebb0211061f1ccfc615bb0e7fc427d1553150112ec6754c1")
    );
    let group = DhGroup::group14();
    input.gex = Some((&GexRequest::DEFAULT, &group));
    assert_eq!(
        exchange_hash(KexAlgorithm::DhGexSha256, &input, &k),
        h("5cd7c880a3b8de2b051bdefd7b2756c0ab98adea2774ef160965407cd8fc258a")
    );
}
