//! The X11 connection setup prefix (`ssh-client-kit`'s `x11::Setup`),
//! which the client reads from a forwarded channel to swap the fake
//! cookie for the real one. A setup parsed takes no more than the input,
//! no less than its header; a shorter prefix needs more bytes; encoding
//! it gives the same length and parses back to the same setup.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_client_kit::x11::Setup;

fuzz_target!(|data: &[u8]| {
    let Ok(Some((setup, used))) = Setup::parse(data) else {
        return;
    };
    assert!((12..=data.len()).contains(&used));
    assert!(matches!(Setup::parse(&data[..used - 1]), Ok(None)));
    let enc = setup.encode(&setup.data);
    assert_eq!(enc.len(), used);
    let (again, n) = Setup::parse(&enc)
        .expect("an encoded setup parses")
        .expect("an encoded setup is complete");
    assert_eq!(n, enc.len());
    assert_eq!(again, setup);
    assert_eq!(again.encode(&again.data), enc);
    // Swapping the cookie keeps everything but the data.
    let swapped = setup.encode(b"0123456789abcdef");
    let (s, _) = Setup::parse(&swapped).unwrap().unwrap();
    assert_eq!(
        (s.byte_order, s.major, s.minor, &s.name),
        (setup.byte_order, setup.major, setup.minor, &setup.name)
    );
    assert_eq!(&s.data[..], b"0123456789abcdef");
});
