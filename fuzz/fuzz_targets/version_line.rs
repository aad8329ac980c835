//! The version exchange (`ssh-wire`'s `VersionReader` and `Version`):
//! arbitrary bytes read as a server's and as a client's lines. Every line
//! consumed is within the RFC 4253 bounds; a version line parses to a
//! `Version` whose wire form is the line read (with CR LF) and parses
//! back to itself; a client never gets a line before its version.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_wire::version::{
    MAX_PRE_BANNER_LINE, MAX_PRE_BANNER_LINES, MAX_VERSION_LINE, Peer, Version, VersionEvent,
    VersionReader,
};

fn read(peer: Peer, data: &[u8]) {
    let mut reader = VersionReader::new(peer);
    let mut pos = 0;
    let mut lines = 0;
    loop {
        let buf = &data[pos..];
        match reader.read(buf) {
            Ok(VersionEvent::Incomplete) => {
                assert!(!buf.contains(&b'\n') || buf.len() >= MAX_VERSION_LINE);
                break;
            }
            Ok(VersionEvent::PreBannerLine { text, consumed }) => {
                assert_eq!(peer, Peer::Server, "a client's line before its version");
                assert!(consumed > 0 && consumed <= MAX_PRE_BANNER_LINE);
                assert_eq!(buf[consumed - 1], b'\n');
                assert!(!buf.starts_with(b"SSH-"));
                assert!(text.len() <= 3 * consumed);
                lines += 1;
                assert!(lines <= MAX_PRE_BANNER_LINES);
                pos += consumed;
            }
            Ok(VersionEvent::Version { version, consumed }) => {
                assert!(consumed <= MAX_VERSION_LINE);
                let line = &buf[..consumed];
                let wire = version.to_wire();
                // CR LF or a bare LF ends the line.
                assert!(
                    wire == line
                        || (line.ends_with(b"\n")
                            && !line.ends_with(b"\r\n")
                            && wire[..wire.len() - 2] == line[..line.len() - 1]),
                    "{line:?} read as {wire:?}"
                );
                let again = Version::parse(version.as_str()).expect("a version re-parses");
                assert_eq!(again, version);
                assert!(version.proto() == "2.0" || version.proto() == "1.99");
                assert!(!version.software().is_empty());
                let rebuilt = Version::new(version.software(), version.comments());
                if version.proto() == "2.0" {
                    assert_eq!(rebuilt.expect("the parts rebuild the line"), version);
                }
                break;
            }
            Err(_) => break,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    read(Peer::Server, data);
    read(Peer::Client, data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(v) = Version::parse(text)
    {
        assert_eq!(v.as_str(), text);
        assert_eq!(v.to_string(), text);
    }
});
