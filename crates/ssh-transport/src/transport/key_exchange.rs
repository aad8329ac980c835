//! Driving one key exchange: KEXINIT, negotiation, the method's messages,
//! NEWKEYS, and switching keys (RFC 4253 §7-§9, strict kex).

use ssh_wire::messages::kex::KexMessage;
use ssh_wire::messages::transport::{ExtInfo, KexInit, NewKeys};
use ssh_wire::{Encode, NameList};

use crate::cipher::{CipherAlg, MacAlg, OpeningKey, SealingKey};
use crate::compress::{CompressAlg, Compressor, Decompressor};
use crate::error::Error;
use crate::event::Event;
use crate::host_key::{HostKeyAlgorithm, server_host_key, verify_server_host_key};
use crate::kex::{
    ClientKex, ExchangeHashInput, KexAlgorithm, KexFamily, ServerKex, SharedSecret, choose_group,
    derive_key, exchange_hash, sign_exchange_hash,
};
use crate::negotiate::{
    EXT_INFO_CLIENT, EXT_INFO_SERVER, KEX_STRICT_CLIENT, KEX_STRICT_SERVER, Negotiated, Offer,
    guess_is_right, negotiate,
};

use super::method::{self, MethodState};
use super::{Role, Transport};

/// One key exchange in progress.
pub(super) struct KexRun {
    /// Our KEXINIT payload, as sent (I_C or I_S).
    pub(super) ours: Vec<u8>,
    /// The peer's KEXINIT payload, as received.
    pub peer_kexinit: Option<Vec<u8>>,
    pub negotiated: Option<Negotiated>,
    alg: Option<KexAlgorithm>,
    host_key_alg: Option<HostKeyAlgorithm>,
    /// The peer guessed its first kex packet wrong: drop it.
    skip_guess: bool,
    /// Client: the ClientKex of a guess we sent with our KEXINIT.
    our_guess: Option<ClientKex>,
    method: Option<MethodState>,
    /// The exchange hash and the secret, once known.
    secret: Option<SharedSecret>,
    h: Option<Vec<u8>>,
    /// The host key blob and the signature of the exchange hash in the
    /// KEXDH_REPLY (kept from the first exchange: see
    /// [`super::Transport::session_binding`]).
    proof: Option<(Vec<u8>, Vec<u8>)>,
    pub sent_newkeys: bool,
    got_newkeys: bool,
}

impl KexRun {
    /// The method state of the running key exchange.
    pub(super) fn method_state(&self) -> Option<&MethodState> {
        self.method.as_ref()
    }

    /// The peer sent KEXINIT and not yet NEWKEYS.
    pub fn peer_in_kex(&self) -> bool {
        self.peer_kexinit.is_some() && !self.got_newkeys
    }
}

/// V_C, V_S, I_C, I_S of the exchange hash.
type HashParts = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

/// One direction's algorithms and its IV, encryption key and MAC key.
type DirectionKeys = (CipherAlg, MacAlg, [zeroize::Zeroizing<Vec<u8>>; 3]);

fn offer_of(k: &KexInit) -> Offer {
    Offer {
        kex: k.kex_algorithms.clone(),
        host_key: k.server_host_key_algorithms.clone(),
        cipher_c2s: k.encryption_client_to_server.clone(),
        cipher_s2c: k.encryption_server_to_client.clone(),
        mac_c2s: k.mac_client_to_server.clone(),
        mac_s2c: k.mac_server_to_client.clone(),
        comp_c2s: k.compression_client_to_server.clone(),
        comp_s2c: k.compression_server_to_client.clone(),
    }
}

fn is_aead(name: &str) -> bool {
    CipherAlg::from_name(name).is_some_and(CipherAlg::is_aead)
}

fn kex_err(e: crate::kex::KexError) -> Error {
    Error::kex(e.to_string())
}

impl Transport {
    /// Our KEXINIT for the next exchange.
    fn our_kexinit(&mut self) -> KexInit {
        let a = &self.config.algorithms;
        let mut kex: Vec<String> = a.kex.names().to_vec();
        if self.kex_count == 0 {
            // Markers go in the first KEXINIT only (OpenSSH 9.6 and later).
            match self.role {
                Role::Client => {
                    if self.config.ext_info {
                        kex.push(EXT_INFO_CLIENT.to_owned());
                    }
                    if self.config.strict_kex {
                        kex.push(KEX_STRICT_CLIENT.to_owned());
                    }
                }
                Role::Server => {
                    if self.config.ext_info {
                        kex.push(EXT_INFO_SERVER.to_owned());
                    }
                    if self.config.strict_kex {
                        kex.push(KEX_STRICT_SERVER.to_owned());
                    }
                }
            }
        }
        let host_key = match self.role {
            Role::Client => a.host_key.clone(),
            Role::Server => a
                .host_key
                .iter()
                .filter(|name| {
                    HostKeyAlgorithm::from_name(name)
                        .is_some_and(|alg| self.host_keys.iter().any(|k| alg.served_by(k)))
                })
                .collect(),
        };
        let mut cookie = [0u8; 16];
        self.rng.fill_bytes(&mut cookie);
        KexInit {
            cookie,
            kex_algorithms: NameList::from_names(kex).unwrap_or_default(),
            server_host_key_algorithms: host_key,
            encryption_client_to_server: a.ciphers.clone(),
            encryption_server_to_client: a.ciphers.clone(),
            mac_client_to_server: a.macs.clone(),
            mac_server_to_client: a.macs.clone(),
            compression_client_to_server: a.compression.clone(),
            compression_server_to_client: a.compression.clone(),
            languages_client_to_server: NameList::new(),
            languages_server_to_client: NameList::new(),
            first_kex_packet_follows: false,
            reserved: 0,
        }
    }

    /// Sends our KEXINIT and opens a new exchange.
    pub(super) fn start_kex(&mut self) -> Result<(), Error> {
        if self.kex.is_some() {
            return Ok(());
        }
        let mut init = self.our_kexinit();
        let guess = self.role == Role::Client && self.config.guess_kex;
        let guess_alg = init
            .kex_algorithms
            .iter()
            .next()
            .and_then(KexAlgorithm::from_name)
            .filter(|a| a.family() != KexFamily::GroupExchange);
        init.first_kex_packet_follows = guess && guess_alg.is_some();
        let ours = init.to_bytes();
        self.seal_payload(&ours)?;
        let mut our_guess = None;
        if let (true, Some(alg)) = (init.first_kex_packet_follows, guess_alg) {
            let (state, public) = ClientKex::start(alg, &mut *self.rng).map_err(kex_err)?;
            self.seal_payload(&method::client_init_payload(alg, &public))?;
            our_guess = Some(state);
        }
        self.kex = Some(Box::new(KexRun {
            ours,
            peer_kexinit: None,
            negotiated: None,
            alg: None,
            host_key_alg: None,
            skip_guess: false,
            our_guess,
            method: None,
            secret: None,
            h: None,
            proof: None,
            sent_newkeys: false,
            got_newkeys: false,
        }));
        Ok(())
    }

    pub(super) fn handle_kexinit(&mut self, peer: KexInit, raw: Vec<u8>) -> Result<(), Error> {
        if self.kex.is_none() {
            // The peer starts a re-key: answer with ours (RFC 4253 §9).
            self.start_kex()?;
        }
        let role = self.role;
        let first = self.kex_count == 0;
        let Some(run) = self.kex.as_mut() else {
            return Err(Error::protocol("no key exchange"));
        };
        if run.peer_kexinit.is_some() {
            return Err(Error::protocol(
                "second SSH_MSG_KEXINIT in one key exchange",
            ));
        }
        let ours = KexInit::decode_exact_payload(&run.ours)?;
        let (client, server) = match role {
            Role::Client => (offer_of(&ours), offer_of(&peer)),
            Role::Server => (offer_of(&peer), offer_of(&ours)),
        };
        let neg = negotiate(&client, &server, is_aead, role == Role::Client)?;
        let alg = KexAlgorithm::from_name(&neg.kex)
            .ok_or_else(|| Error::kex(format!("unsupported kex {}", neg.kex)))?;
        let host_key_alg = HostKeyAlgorithm::from_name(&neg.host_key)
            .ok_or_else(|| Error::kex(format!("unsupported host key {}", neg.host_key)))?;
        // As OpenSSH's `debug1: kex: ...` lines: what the interop rows
        // check to know which algorithms a connection used.
        tracing::debug!(
            "kex: algorithm {}, host key {}, client->server {} MAC {} compression {}, \
             server->client {} MAC {} compression {}",
            neg.kex,
            neg.host_key,
            neg.cipher_c2s,
            neg.mac_c2s.as_deref().unwrap_or("<implicit>"),
            neg.comp_c2s,
            neg.cipher_s2c,
            neg.mac_s2c.as_deref().unwrap_or("<implicit>"),
            neg.comp_s2c
        );
        let right_guess = guess_is_right(&client, &server);
        run.skip_guess = peer.first_kex_packet_follows && !right_guess;
        if peer.first_kex_packet_follows {
            // What the interop rows of guessing clients (Dropbear) look for.
            tracing::debug!(
                "peer's KEXINIT: first_kex_packet_follows, guess {} (kex {}, host key {})",
                if right_guess { "right" } else { "wrong" },
                neg.kex,
                neg.host_key
            );
        }
        let our_guess = run.our_guess.take().filter(|_| right_guess);
        run.peer_kexinit = Some(raw);
        run.alg = Some(alg);
        run.host_key_alg = Some(host_key_alg);
        if first {
            self.strict = neg.strict_kex && self.config.strict_kex;
            if role == Role::Client {
                self.peer_ping = false;
                self.peer_agent_forward = false;
            }
        }
        run.negotiated = Some(neg);
        match role {
            Role::Client => {
                if let Some(state) = our_guess {
                    run.method = Some(MethodState::ClientAwaitReply(state, None));
                    return Ok(());
                }
                if alg.is_group_exchange() {
                    let (req, payload) = method::gex_request(&self.config.gex);
                    run.method = Some(MethodState::ClientAwaitGroup(req));
                    self.seal_payload(&payload)
                } else {
                    let (state, public) = ClientKex::start(alg, &mut *self.rng).map_err(kex_err)?;
                    let payload = method::client_init_payload(alg, &public);
                    if let Some(run) = self.kex.as_mut() {
                        run.method = Some(MethodState::ClientAwaitReply(state, None));
                    }
                    self.seal_payload(&payload)
                }
            }
            Role::Server => {
                run.method = Some(if alg.is_group_exchange() {
                    MethodState::ServerAwaitGexRequest
                } else {
                    MethodState::ServerAwaitInit
                });
                Ok(())
            }
        }
    }

    /// Whether the next method message is the peer's wrongly guessed one,
    /// to be ignored; the flag is cleared as the packet is taken.
    pub(super) fn take_skip_guess(&mut self) -> bool {
        self.kex
            .as_mut()
            .is_some_and(|run| core::mem::take(&mut run.skip_guess))
    }

    pub(super) fn handle_kex_message(&mut self, m: KexMessage) -> Result<(), Error> {
        let Some(run) = self.kex.as_mut() else {
            return Err(Error::protocol(
                "key exchange message outside a key exchange",
            ));
        };
        let (Some(alg), Some(state)) = (run.alg, run.method.take()) else {
            return Err(Error::protocol("key exchange message before KEXINIT"));
        };
        match (state, m) {
            (MethodState::ClientAwaitGroup(req), KexMessage::GexGroup(g)) => {
                let (p, generator) = (
                    g.p.positive_be().unwrap_or_default(),
                    g.g.positive_be().unwrap_or_default(),
                );
                let (state, public) = ClientKex::start_gex(alg, &req, p, generator, &mut *self.rng)
                    .map_err(kex_err)?;
                let group = state
                    .group()
                    .cloned()
                    .ok_or_else(|| Error::kex("group exchange without a group"))?;
                let payload = method::client_init_payload(alg, &public);
                if let Some(run) = self.kex.as_mut() {
                    run.method = Some(MethodState::ClientAwaitReply(state, Some((req, group))));
                }
                self.seal_payload(&payload)
            }
            (MethodState::ClientAwaitReply(state, gex), reply) => {
                let (host_key, server_public, signature) = match (alg.family(), reply) {
                    (KexFamily::Dh, KexMessage::DhReply(r)) => {
                        (r.host_key, r.f.as_bytes().to_vec(), r.signature)
                    }
                    (KexFamily::GroupExchange, KexMessage::GexReply(r)) => {
                        (r.host_key, r.f.as_bytes().to_vec(), r.signature)
                    }
                    (
                        KexFamily::Hybrid | KexFamily::Curve25519 | KexFamily::Ecdh(_),
                        KexMessage::EcdhReply(r),
                    ) => (r.host_key, r.q_s, r.signature),
                    (_, other) => {
                        return Err(Error::kex(format!(
                            "unexpected key exchange message {}",
                            other.number()
                        )));
                    }
                };
                let client_public = state.client_public().to_vec();
                let secret = state.finish(&server_public).map_err(kex_err)?;
                self.client_got_reply(
                    alg,
                    gex,
                    &host_key,
                    &client_public,
                    &server_public,
                    &signature,
                    secret,
                )
            }
            (MethodState::ServerAwaitGexRequest, m) => {
                let req = match m {
                    KexMessage::GexRequest(r) => crate::kex::GexRequest {
                        min: r.min,
                        n: r.n,
                        max: r.max,
                    },
                    KexMessage::GexRequestOld(r) => crate::kex::GexRequest {
                        min: r.n,
                        n: r.n,
                        max: r.n,
                    },
                    other => {
                        return Err(Error::kex(format!(
                            "unexpected key exchange message {}",
                            other.number()
                        )));
                    }
                };
                let group = choose_group(&req, self.config.gex.moduli.as_deref(), &mut *self.rng)
                    .map_err(kex_err)?;
                let payload = method::gex_group_payload(&group);
                if let Some(run) = self.kex.as_mut() {
                    run.method = Some(MethodState::ServerAwaitGexInit(req, group));
                }
                self.seal_payload(&payload)
            }
            (MethodState::ServerAwaitInit, m) => {
                let client_public = match (alg.family(), m) {
                    (KexFamily::Dh, KexMessage::DhInit(i)) => i.e.as_bytes().to_vec(),
                    (
                        KexFamily::Hybrid | KexFamily::Curve25519 | KexFamily::Ecdh(_),
                        KexMessage::EcdhInit(i),
                    ) => i.q_c,
                    (_, other) => {
                        return Err(Error::kex(format!(
                            "unexpected key exchange message {}",
                            other.number()
                        )));
                    }
                };
                let reply =
                    ServerKex::respond(alg, &client_public, &mut *self.rng).map_err(kex_err)?;
                self.server_reply(alg, None, &client_public, reply)
            }
            (MethodState::ServerAwaitGexInit(req, group), m) => {
                let KexMessage::GexInit(i) = m else {
                    return Err(Error::kex("expected SSH_MSG_KEX_DH_GEX_INIT"));
                };
                let client_public = i.e.as_bytes().to_vec();
                let reply = ServerKex::respond_gex(alg, &group, &client_public, &mut *self.rng)
                    .map_err(kex_err)?;
                self.server_reply(alg, Some((req, group)), &client_public, reply)
            }
            (MethodState::ClientAwaitGroup(_), m) => Err(Error::kex(format!(
                "expected SSH_MSG_KEX_DH_GEX_GROUP, got message {}",
                m.number()
            ))),
            (MethodState::ServerAwaitSignature(_), m) => Err(Error::kex(format!(
                "key exchange message {} before our reply",
                m.number()
            ))),
            (MethodState::Done, m) => Err(Error::kex(format!(
                "key exchange message {} after the exchange hash",
                m.number()
            ))),
        }
    }

    fn hash_input_parts(&self) -> Result<HashParts, Error> {
        let run = self
            .kex
            .as_ref()
            .ok_or_else(|| Error::protocol("no key exchange"))?;
        let peer_kexinit = run
            .peer_kexinit
            .clone()
            .ok_or_else(|| Error::protocol("no KEXINIT from the peer"))?;
        let peer_version = self
            .peer_version
            .as_ref()
            .map(|v| v.as_str().as_bytes().to_vec())
            .unwrap_or_default();
        let our_version = self.our_version.as_str().as_bytes().to_vec();
        Ok(match self.role {
            Role::Client => (our_version, peer_version, run.ours.clone(), peer_kexinit),
            Role::Server => (peer_version, our_version, peer_kexinit, run.ours.clone()),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn client_got_reply(
        &mut self,
        alg: KexAlgorithm,
        gex: Option<(crate::kex::GexRequest, crate::kex::DhGroup)>,
        host_key: &[u8],
        client_public: &[u8],
        server_public: &[u8],
        signature: &[u8],
        secret: SharedSecret,
    ) -> Result<(), Error> {
        let (v_c, v_s, i_c, i_s) = self.hash_input_parts()?;
        let input = ExchangeHashInput {
            client_version: &v_c,
            server_version: &v_s,
            client_kexinit: &i_c,
            server_kexinit: &i_s,
            host_key,
            gex: gex.as_ref().map(|(r, g)| (r, g)),
            client_public,
            server_public,
        };
        let h = exchange_hash(alg, &input, &secret);
        let host_key_alg = self
            .kex
            .as_ref()
            .and_then(|r| r.host_key_alg)
            .ok_or_else(|| Error::kex("no host key algorithm"))?;
        // The configured list is the policy: `ssh-rsa` is verified only
        // when the user enabled it there.
        let policy = ssh_keys::VerifyPolicy {
            allow_ssh_rsa: self
                .config
                .algorithms
                .host_key
                .contains(host_key_alg.name())
                && host_key_alg.uses_sha1(),
            ..ssh_keys::VerifyPolicy::DEFAULT
        };
        #[cfg(not(fuzzing))]
        let (key, certificate) =
            verify_server_host_key(host_key_alg, host_key, &h, signature, &policy)?;
        #[cfg(fuzzing)]
        let (key, certificate) = {
            let _ = (signature, &policy, verify_server_host_key);
            crate::fuzzing::unverified_host_key(host_key_alg, host_key)?
        };
        if let Some(run) = self.kex.as_mut() {
            run.method = Some(MethodState::Done);
            run.secret = Some(secret);
            run.h = Some(h);
            run.proof = Some((host_key.to_vec(), signature.to_vec()));
        }
        self.host_key_pending = true;
        self.events.push_back(Event::HostKey {
            key,
            algorithm: host_key_alg.signature(),
            certificate: certificate.map(Box::new),
        });
        Ok(())
    }

    fn server_reply(
        &mut self,
        alg: KexAlgorithm,
        gex: Option<(crate::kex::GexRequest, crate::kex::DhGroup)>,
        client_public: &[u8],
        reply: crate::kex::ServerReply,
    ) -> Result<(), Error> {
        let host_key_alg = self
            .kex
            .as_ref()
            .and_then(|r| r.host_key_alg)
            .ok_or_else(|| Error::kex("no host key algorithm"))?;
        let (signer, host_key) = server_host_key(&self.host_keys, host_key_alg)
            .ok_or_else(|| Error::kex("no host key for the negotiated algorithm"))?;
        let (v_c, v_s, i_c, i_s) = self.hash_input_parts()?;
        let input = ExchangeHashInput {
            client_version: &v_c,
            server_version: &v_s,
            client_kexinit: &i_c,
            server_kexinit: &i_s,
            host_key: &host_key,
            gex: gex.as_ref().map(|(r, g)| (r, g)),
            client_public,
            server_public: &reply.public,
        };
        let h = exchange_hash(alg, &input, &reply.secret);
        if signer.signs_remotely() {
            let request = crate::kex::ExchangeHashRequest {
                kex: alg,
                host_key_alg,
                client_version: v_c,
                server_version: v_s,
                client_kexinit: i_c,
                server_kexinit: i_s,
                host_key: host_key.clone(),
                gex,
                client_public: client_public.to_vec(),
                server_public: reply.public.clone(),
                secret: reply.secret.duplicate(),
                first: self.session_id.is_none(),
            };
            return self.ask_for_signature(super::remote_sign::PendingSignature {
                h,
                secret: reply.secret,
                server_public: reply.public,
                request,
            });
        }
        let signature = sign_exchange_hash(
            signer.as_ref(),
            host_key_alg.signature(),
            &h,
            &mut *self.rng,
        )
        .map_err(|e| Error::kex(format!("signing the exchange hash: {e}")))?;
        self.finish_server_reply(alg, h, reply.secret, host_key, &reply.public, signature)
    }

    /// Server: sends the reply with the signature of `h`, and NEWKEYS.
    pub(super) fn finish_server_reply(
        &mut self,
        alg: KexAlgorithm,
        h: Vec<u8>,
        secret: SharedSecret,
        host_key: Vec<u8>,
        server_public: &[u8],
        signature: Vec<u8>,
    ) -> Result<(), Error> {
        let proof = (host_key.clone(), signature.clone());
        let payload = method::server_reply_payload(alg, host_key, server_public, signature);
        self.seal_payload(&payload)?;
        if let Some(run) = self.kex.as_mut() {
            run.method = Some(MethodState::Done);
            run.secret = Some(secret);
            run.h = Some(h);
            run.proof = Some(proof);
        }
        self.send_newkeys()
    }

    /// The method state of the running key exchange, taken out.
    pub(super) fn take_method_state(&mut self) -> Option<MethodState> {
        self.kex.as_mut().and_then(|run| run.method.take())
    }

    /// Puts the method state of the running key exchange.
    pub(super) fn set_method_state(&mut self, state: MethodState) {
        if let Some(run) = self.kex.as_mut() {
            run.method = Some(state);
        }
    }

    /// Client: the application accepted the host key.
    pub(super) fn host_key_accepted(&mut self) -> Result<(), Error> {
        self.send_newkeys()
    }

    /// Derives one direction's keys: `c2s` selects the client-to-server
    /// letters (A, C, E), otherwise B, D, F.
    fn direction_keys(&self, c2s: bool) -> Result<DirectionKeys, Error> {
        let run = self
            .kex
            .as_ref()
            .ok_or_else(|| Error::protocol("no key exchange"))?;
        let (Some(neg), Some(alg), Some(secret), Some(h)) =
            (&run.negotiated, run.alg, &run.secret, &run.h)
        else {
            return Err(Error::protocol("NEWKEYS before the exchange hash"));
        };
        let session_id = self.session_id.as_deref().unwrap_or(h);
        let (cipher, mac) = if c2s {
            (&neg.cipher_c2s, &neg.mac_c2s)
        } else {
            (&neg.cipher_s2c, &neg.mac_s2c)
        };
        let cipher = CipherAlg::from_name(cipher)
            .ok_or_else(|| Error::kex(format!("unsupported cipher {cipher}")))?;
        let mac = match mac {
            Some(m) => {
                MacAlg::from_name(m).ok_or_else(|| Error::kex(format!("unsupported MAC {m}")))?
            }
            None => MacAlg::None,
        };
        #[cfg(fuzzing)]
        let (cipher, mac) = crate::fuzzing::packet_protection(cipher, mac);
        let (iv, enc, integ) = if c2s {
            (b'A', b'C', b'E')
        } else {
            (b'B', b'D', b'F')
        };
        let hash = alg.hash();
        Ok((
            cipher,
            mac,
            [
                derive_key(hash, secret, h, iv, session_id, cipher.iv_len()),
                derive_key(hash, secret, h, enc, session_id, cipher.key_len()),
                derive_key(hash, secret, h, integ, session_id, mac.key_len()),
            ],
        ))
    }

    /// Sends NEWKEYS and switches the sending direction to the new keys.
    fn send_newkeys(&mut self) -> Result<(), Error> {
        let c2s = self.role == Role::Client;
        let (cipher, mac, [iv, enc, integ]) = self.direction_keys(c2s)?;
        let key = SealingKey::new(cipher, mac, &enc, &iv, &integ)
            .map_err(|e| Error::kex(format!("keys: {e}")))?;
        self.seal_message(&NewKeys)?;
        self.tx.key = key;
        if self.strict {
            // "After sending or receiving a SSH2_MSG_NEWKEYS message, reset
            // the packet sequence number to zero."
            self.tx.seq = 0;
        }
        let comp = self.negotiated_compression(c2s);
        let authenticated = self.authenticated;
        next_compression(
            comp,
            authenticated,
            &mut self.tx.comp,
            &mut self.tx.delayed,
            Compressor::new,
        );
        let first = self.kex_count == 0;
        let server_ext_info = self.role == Role::Server
            && first
            && self.config.ext_info
            && self
                .kex
                .as_ref()
                .and_then(|r| r.negotiated.as_ref())
                .is_some_and(|n| n.peer_ext_info);
        if let Some(run) = self.kex.as_mut() {
            run.sent_newkeys = true;
        }
        if server_ext_info {
            // RFC 8308 §2.4: "as the next packet following the server's
            // first SSH_MSG_NEWKEYS".
            let mut ext = ExtInfo::default();
            if let Some(algs) = &self.config.server_sig_algs {
                ext.push(
                    ssh_wire::messages::transport::EXT_SERVER_SIG_ALGS,
                    algs.to_string().into_bytes(),
                );
            }
            ext.push(ssh_wire::messages::transport::EXT_PING, b"0".to_vec());
            ext.push(
                ssh_wire::messages::transport::EXT_AGENT_FORWARD,
                b"0".to_vec(),
            );
            self.seal_message(&ext)?;
        }
        self.flush_held()?;
        self.maybe_finish_kex()
    }

    pub(super) fn handle_newkeys(&mut self) -> Result<(), Error> {
        let Some(run) = self.kex.as_ref() else {
            return Err(Error::protocol("SSH_MSG_NEWKEYS outside a key exchange"));
        };
        if run.h.is_none() || run.got_newkeys {
            return Err(Error::protocol("unexpected SSH_MSG_NEWKEYS"));
        }
        let c2s = self.role == Role::Server;
        let (cipher, mac, [iv, enc, integ]) = self.direction_keys(c2s)?;
        let key = OpeningKey::new(cipher, mac, &enc, &iv, &integ)
            .map_err(|e| Error::kex(format!("keys: {e}")))?;
        self.rx.set_key(key);
        if self.strict {
            self.rx.seq = 0;
        }
        let comp = self.negotiated_compression(c2s);
        let authenticated = self.authenticated;
        next_compression(
            comp,
            authenticated,
            &mut self.rx.decomp,
            &mut self.rx.delayed,
            Decompressor::new,
        );
        if let Some(run) = self.kex.as_mut() {
            run.got_newkeys = true;
        }
        self.maybe_finish_kex()
    }

    fn negotiated_compression(&self, c2s: bool) -> CompressAlg {
        self.kex
            .as_ref()
            .and_then(|r| r.negotiated.as_ref())
            .and_then(|n| CompressAlg::from_name(if c2s { &n.comp_c2s } else { &n.comp_s2c }))
            .unwrap_or(CompressAlg::None)
    }

    fn maybe_finish_kex(&mut self) -> Result<(), Error> {
        let done = self
            .kex
            .as_ref()
            .is_some_and(|r| r.sent_newkeys && r.got_newkeys);
        if !done {
            return Ok(());
        }
        let Some(run) = self.kex.take() else {
            return Ok(());
        };
        let first = self.session_id.is_none();
        if first {
            self.session_id = run.h;
            self.session_proof = run.proof;
        }
        self.kex_count += 1;
        self.rekey_timer.last_kex = self.now;
        if let Some(neg) = run.negotiated {
            self.negotiated = Some(neg.clone());
            self.events.push_back(Event::KexDone {
                negotiated: neg,
                first,
            });
        }
        // What was held during the exchange may already have used up the
        // new keys' volume.
        self.maybe_rekey()
    }
}

/// Sets one direction's compression at NEWKEYS: off for `none`; for zlib a
/// context in force (kept if one already is: "the compression context ...
/// is maintained for the whole session", RFC 4253 §6.2), or waiting for
/// authentication for `zlib@openssh.com`.
fn next_compression<T>(
    alg: CompressAlg,
    authenticated: bool,
    active: &mut Option<T>,
    delayed: &mut Option<T>,
    new: fn() -> T,
) {
    if alg == CompressAlg::None {
        *active = None;
        *delayed = None;
    } else if active.is_none() {
        if alg.is_delayed() && !authenticated {
            *delayed = Some(new());
        } else {
            *active = Some(new());
        }
    }
}

trait DecodePayload: Sized {
    fn decode_exact_payload(payload: &[u8]) -> Result<Self, Error>;
}

impl DecodePayload for KexInit {
    fn decode_exact_payload(payload: &[u8]) -> Result<Self, Error> {
        use ssh_wire::Decode;
        Self::decode_exact(payload).map_err(|e| Error::protocol(format!("our KEXINIT: {e}")))
    }
}
