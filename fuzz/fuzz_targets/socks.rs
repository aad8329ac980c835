//! The SOCKS4/4a/5 request parser (`ssh-client-kit`'s `socks::Parser`):
//! the same bytes fed at once and one at a time give the same replies,
//! the same outcome and the same left-over bytes; a request found is
//! encoded again (canonically, here) and parses to the same request.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use ssh_client_kit::socks::{Parser, Request, SocksError, Step, Version};

type Outcome = (Vec<Vec<u8>>, Result<Option<Request>, SocksError>, Vec<u8>);

/// Runs a parser over `chunks` until a request or an error.
fn run<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut p = Parser::new();
    let mut replies = Vec::new();
    for chunk in chunks {
        p.feed(chunk);
        loop {
            match p.step() {
                Ok(Step::NeedMore) => break,
                Ok(Step::Reply(r)) => replies.push(r),
                Ok(Step::Request(req)) => {
                    assert!(req.host.len() <= 255 || req.version == Version::V5);
                    let rest = p.into_rest();
                    return (replies, Ok(Some(req)), rest);
                }
                Err(e) => {
                    // After an error the parser stays finished.
                    assert!(p.step().is_err());
                    return (replies, Err(e), Vec::new());
                }
            }
        }
    }
    (replies, Ok(None), Vec::new())
}

fn encode(r: &Request) -> Vec<u8> {
    let port = r.port.to_be_bytes();
    match r.version {
        Version::V4 => {
            let ip: Ipv4Addr = r.host.parse().expect("a SOCKS4 host is an IPv4 address");
            let mut v = vec![4, 1, port[0], port[1]];
            v.extend_from_slice(&ip.octets());
            v.push(0);
            v
        }
        Version::V4a => {
            let mut v = vec![4, 1, port[0], port[1], 0, 0, 0, 1, 0];
            v.extend_from_slice(r.host.as_bytes());
            v.push(0);
            v
        }
        Version::V5 => {
            let mut v = vec![5, 1, 0, 5, 1, 0];
            match (r.host.parse::<Ipv4Addr>(), r.host.parse::<Ipv6Addr>()) {
                (Ok(ip), _) if ip.to_string() == r.host => {
                    v.push(1);
                    v.extend_from_slice(&ip.octets());
                }
                (_, Ok(ip)) if ip.to_string() == r.host => {
                    v.push(4);
                    v.extend_from_slice(&ip.octets());
                }
                _ => {
                    v.push(3);
                    v.push(u8::try_from(r.host.len()).expect("a SOCKS5 name fits a byte"));
                    v.extend_from_slice(r.host.as_bytes());
                }
            }
            v.extend_from_slice(&port);
            v
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = run([data]);
    let bytewise = run(data.chunks(1));
    assert_eq!(whole.0, bytewise.0, "replies differ");
    assert_eq!(whole.1, bytewise.1, "outcomes differ");
    if let Ok(Some(req)) = &whole.1 {
        assert!(data.ends_with(&whole.2), "the rest is the input's tail");
        let enc = encode(req);
        let (_, again, rest) = run([&enc[..]]);
        assert_eq!(again, Ok(Some(req.clone())), "{enc:?}");
        assert!(rest.is_empty());
    }
});
