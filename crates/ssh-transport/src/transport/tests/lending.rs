//! The input buffer lent to the caller's read (`input_buffer` /
//! `commit_input`): the same packets as `handle_input`, in any chunking,
//! and a lent part never committed holds no input; buffers given back
//! when idle (`release_buffers`), never with input in them.

use super::*;

/// Moves each side's output into the other through lent buffers, in
/// chunks of `chunk` bytes at the most.
fn drive_lending(p: &mut Pair, chunk: usize) {
    for _ in 0..10_000 {
        p.collect();
        if p.c_to_s.is_empty() && p.s_to_c.is_empty() {
            return;
        }
        let data = core::mem::take(&mut p.c_to_s);
        let mut at = 0;
        while at < data.len() {
            let buf = p.s.input_buffer(chunk);
            let n = buf.len().min(data.len() - at);
            buf[..n].copy_from_slice(&data[at..at + n]);
            p.s.commit_input(p.now, n).unwrap();
            at += n;
            p.pump_server().unwrap();
        }
        let data = core::mem::take(&mut p.s_to_c);
        let mut at = 0;
        while at < data.len() {
            let buf = p.c.input_buffer(chunk);
            let n = buf.len().min(data.len() - at);
            buf[..n].copy_from_slice(&data[at..at + n]);
            p.c.commit_input(p.now, n).unwrap();
            at += n;
            p.pump_client().unwrap();
        }
    }
    panic!("the pair does not settle");
}

#[test]
fn lent_input_buffers_carry_handshake_data_and_rekeys() {
    for chunk in [1, 7, 4096, 64 * 1024] {
        let mut p = Pair::default_pair();
        drive_lending(&mut p, chunk);
        assert!(p.c.is_established(), "client: {:?}", p.c.error());
        assert!(p.s.is_established(), "server: {:?}", p.s.error());
        for i in 0..20u32 {
            p.c.send_payload(&payload(i, 3000)).unwrap();
            p.s.send_payload(&payload(i + 1000, 3000)).unwrap();
        }
        p.c.force_rekey().unwrap();
        drive_lending(&mut p, chunk);
        assert_eq!(p.s_got.len(), 20, "chunk {chunk}");
        assert_eq!(p.c_got.len(), 20, "chunk {chunk}");
        for i in 0..20u32 {
            assert_eq!(p.s_got[i as usize], payload(i, 3000));
            assert_eq!(p.c_got[i as usize], payload(i + 1000, 3000));
        }
        assert!(p.c.kex_count() >= 2, "chunk {chunk}");
    }
}

#[test]
fn a_lent_part_never_committed_is_not_input() {
    let mut p = Pair::default_pair();
    p.handshake();
    // Lent and dropped: the zeros in it must not be read as a packet.
    let lent = p.s.input_buffer(1024).len();
    assert!(lent > 0);
    p.c.send_payload(&payload(1, 100)).unwrap();
    p.drive().unwrap();
    assert_eq!(p.s_got, vec![payload(1, 100)]);
    // Committing without a loan is the caller's mistake.
    assert!(matches!(p.s.commit_input(p.now, 1), Err(Error::Misuse(_))));
    assert!(p.s.error().is_none());
}

#[test]
fn released_buffers_are_freed_when_empty_and_kept_with_a_packet_half_read() {
    let mut p = Pair::default_pair();
    p.handshake();
    for i in 0..4u32 {
        p.c.send_payload(&payload(i, 3000)).unwrap();
        p.s.send_payload(&payload(i + 100, 3000)).unwrap();
    }
    drive_lending(&mut p, 4096);
    assert_eq!(p.s_got.len(), 4);
    let (rx, _) = p.s.buffer_capacity();
    assert!(rx > 0, "the input buffer was used");
    p.s.release_buffers();
    assert_eq!(
        p.s.buffer_capacity(),
        (0, 0),
        "an idle transport holds no buffer"
    );

    // Half a packet in: it stays through a release, and completes after.
    p.c.send_payload(&payload(7, 5000)).unwrap();
    p.collect();
    let data = core::mem::take(&mut p.c_to_s);
    let half = data.len() / 2;
    let buf = p.s.input_buffer(half);
    buf[..half].copy_from_slice(&data[..half]);
    p.s.commit_input(p.now, half).unwrap();
    p.pump_server().unwrap();
    p.s.release_buffers();
    assert!(p.s.buffer_capacity().0 >= half, "unprocessed input is kept");
    let rest = data.len() - half;
    let buf = p.s.input_buffer(rest);
    buf[..rest].copy_from_slice(&data[half..]);
    p.s.commit_input(p.now, rest).unwrap();
    p.pump_server().unwrap();
    assert_eq!(p.s_got.last(), Some(&payload(7, 5000)));

    // Output sealed but not yet taken is kept too.
    p.s.release_buffers();
    p.s.send_payload(&payload(8, 2000)).unwrap();
    p.s.release_buffers();
    assert!(p.s.buffer_capacity().1 > 2000, "sealed output is kept");
    drive_lending(&mut p, 4096);
    assert_eq!(p.c_got.last(), Some(&payload(8, 2000)));
    assert!(p.s.error().is_none() && p.c.error().is_none());
}

#[test]
fn input_room_is_what_a_loan_would_be_and_grows_nothing() {
    let mut p = Pair::default_pair();
    p.handshake();
    p.s.release_buffers();
    assert_eq!(p.s.buffer_capacity().0, 0);
    // Asked for, the room costs no memory; it is what a loan would be.
    assert_eq!(p.s.input_room(4096), 4096);
    assert_eq!(p.s.buffer_capacity().0, 0, "input_room allocates nothing");
    assert_eq!(
        p.s.input_room(usize::MAX),
        p.s.input_buffer(usize::MAX).len()
    );

    // A small packet offered whole grows the buffer by about its size.
    p.s.release_buffers();
    p.c.send_payload(&payload(1, 50)).unwrap();
    p.collect();
    let data = core::mem::take(&mut p.c_to_s);
    assert!(data.len() <= p.s.input_room(4096));
    assert_eq!(p.s.handle_input(p.now, &data).unwrap(), data.len());
    p.pump_server().unwrap();
    assert_eq!(p.s_got.last(), Some(&payload(1, 50)));
    let rx = p.s.buffer_capacity().0;
    assert!(
        rx < 2 * data.len(),
        "{rx} bytes held for a {}-byte packet",
        data.len()
    );

    // Unprocessed input counts against the room.
    p.c.send_payload(&payload(2, 5000)).unwrap();
    p.collect();
    let data = core::mem::take(&mut p.c_to_s);
    let before = p.s.input_room(usize::MAX);
    let half = data.len() / 2;
    assert_eq!(p.s.handle_input(p.now, &data[..half]).unwrap(), half);
    p.pump_server().unwrap();
    assert_eq!(p.s.input_room(usize::MAX), before - half);
}
