//! Records with descriptors between two ends of a socket pair: the
//! descriptor that arrives is the one sent (a pipe written through it),
//! record boundaries hold, oversized records are refused on both sides.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::os::fd::AsFd;

use ssh_os::fdpass::{RecordChannel, seqpacket_pair};

#[test]
fn a_descriptor_travels_with_its_record() {
    async_io::block_on(async {
        let (a, b) = seqpacket_pair().unwrap();
        let (a, b) = (
            RecordChannel::new(a, 1024).unwrap(),
            RecordChannel::new(b, 1024).unwrap(),
        );
        let (mut reader, writer) = std::io::pipe().unwrap();
        a.send(b"first", &[writer.as_fd()]).await.unwrap();
        drop(writer);
        a.send(b"second", &[]).await.unwrap();
        let (data, fds) = b.recv().await.unwrap().unwrap();
        assert_eq!(data, b"first");
        assert_eq!(fds.len(), 1);
        let mut passed = std::fs::File::from(fds.into_iter().next().unwrap());
        passed.write_all(b"through the passed end").unwrap();
        drop(passed);
        let mut got = String::new();
        reader.read_to_string(&mut got).unwrap();
        assert_eq!(got, "through the passed end");
        let (data, fds) = b.recv().await.unwrap().unwrap();
        assert_eq!((data.as_slice(), fds.len()), (&b"second"[..], 0));
        drop(a);
        assert!(b.recv().await.unwrap().is_none(), "end of file");
    });
}

#[test]
fn oversized_records_are_refused() {
    async_io::block_on(async {
        let (a, b) = seqpacket_pair().unwrap();
        let big = RecordChannel::new(a, 4096).unwrap();
        let small = RecordChannel::new(b, 100).unwrap();
        assert!(small.send(&[0; 101], &[]).await.is_err(), "refused to send");
        big.send(&[0; 200], &[]).await.unwrap();
        let err = small.recv().await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    });
}

#[test]
fn a_shut_down_sender_ends_the_other_side_but_still_hears_it() {
    async_io::block_on(async {
        let (a, b) = seqpacket_pair().unwrap();
        let (a, b) = (
            RecordChannel::new(a, 1024).unwrap(),
            RecordChannel::new(b, 1024).unwrap(),
        );
        a.send(b"last", &[]).await.unwrap();
        a.shutdown_send().unwrap();
        let (data, _) = b.recv().await.unwrap().unwrap();
        assert_eq!(data, b"last");
        assert!(
            b.recv().await.unwrap().is_none(),
            "end of file after the last"
        );
        // The other direction stays open.
        b.send(b"reply", &[]).await.unwrap();
        assert_eq!(a.recv().await.unwrap().unwrap().0, b"reply");
    });
}

#[test]
fn records_of_every_size_up_to_the_limit_arrive_whole() {
    async_io::block_on(async {
        let (a, b) = seqpacket_pair().unwrap();
        let max = 200_000;
        let (a, b) = (
            RecordChannel::new(a, max).unwrap(),
            RecordChannel::new(b, max).unwrap(),
        );
        let record = |n: usize| (0..n).map(|i| (i * 7 + n) as u8).collect::<Vec<u8>>();
        // Small after large and large after small: each arrives as sent,
        // with no byte of the one before.
        for n in [1, 150_000, 3, max, 10, 64 * 1024, 1] {
            a.send(&record(n), &[]).await.unwrap();
            let (data, fds) = b.recv().await.unwrap().unwrap();
            assert_eq!(data.len(), n);
            assert!(data == record(n), "record of {n} bytes changed");
            assert!(fds.is_empty());
        }
        // An empty record with a descriptor is a record, not the end.
        let (_reader, writer) = std::io::pipe().unwrap();
        a.send(b"", &[writer.as_fd()]).await.unwrap();
        let (data, fds) = b.recv().await.unwrap().unwrap();
        assert_eq!((data.len(), fds.len()), (0, 1));
        drop(a);
        assert!(b.recv().await.unwrap().is_none(), "end of file");
    });
}
