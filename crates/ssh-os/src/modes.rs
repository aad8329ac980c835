//! RFC 4254 §8 terminal modes to and from a `termios`.
//!
//! The opcode list is `ssh_wire`'s; the mapping follows OpenSSH's
//! `ttymodes.h` for the modes Linux has (no `VDSUSP`, `VFLUSH`, `VSTATUS`;
//! `VSWTCH` is `VSWTC` there and OpenSSH sends it from no Linux client, so it
//! is skipped too). A disabled control character (`_POSIX_VDISABLE`, 0 on
//! Linux) travels as 255, as OpenSSH sends it.

use rustix::termios::{
    ControlModes, InputModes, LocalModes, OutputModes, SpecialCodeIndex, Termios,
};
use ssh_wire::messages::channel_request::opcode;

/// The value a disabled control character travels as.
const VDISABLE_WIRE: u32 = 255;
/// `_POSIX_VDISABLE` on Linux.
const VDISABLE: u8 = 0;

const CHARS: &[(u8, SpecialCodeIndex)] = &[
    (opcode::VINTR, SpecialCodeIndex::VINTR),
    (opcode::VQUIT, SpecialCodeIndex::VQUIT),
    (opcode::VERASE, SpecialCodeIndex::VERASE),
    (opcode::VKILL, SpecialCodeIndex::VKILL),
    (opcode::VEOF, SpecialCodeIndex::VEOF),
    (opcode::VEOL, SpecialCodeIndex::VEOL),
    (opcode::VEOL2, SpecialCodeIndex::VEOL2),
    (opcode::VSTART, SpecialCodeIndex::VSTART),
    (opcode::VSTOP, SpecialCodeIndex::VSTOP),
    (opcode::VSUSP, SpecialCodeIndex::VSUSP),
    (opcode::VREPRINT, SpecialCodeIndex::VREPRINT),
    (opcode::VWERASE, SpecialCodeIndex::VWERASE),
    (opcode::VLNEXT, SpecialCodeIndex::VLNEXT),
    (opcode::VDISCARD, SpecialCodeIndex::VDISCARD),
];

const INPUT: &[(u8, InputModes)] = &[
    (opcode::IGNPAR, InputModes::IGNPAR),
    (opcode::PARMRK, InputModes::PARMRK),
    (opcode::INPCK, InputModes::INPCK),
    (opcode::ISTRIP, InputModes::ISTRIP),
    (opcode::INLCR, InputModes::INLCR),
    (opcode::IGNCR, InputModes::IGNCR),
    (opcode::ICRNL, InputModes::ICRNL),
    (opcode::IUCLC, InputModes::IUCLC),
    (opcode::IXON, InputModes::IXON),
    (opcode::IXANY, InputModes::IXANY),
    (opcode::IXOFF, InputModes::IXOFF),
    (opcode::IMAXBEL, InputModes::IMAXBEL),
    (opcode::IUTF8, InputModes::IUTF8),
];

const LOCAL: &[(u8, LocalModes)] = &[
    (opcode::ISIG, LocalModes::ISIG),
    (opcode::ICANON, LocalModes::ICANON),
    (opcode::XCASE, LocalModes::XCASE),
    (opcode::ECHO, LocalModes::ECHO),
    (opcode::ECHOE, LocalModes::ECHOE),
    (opcode::ECHOK, LocalModes::ECHOK),
    (opcode::ECHONL, LocalModes::ECHONL),
    (opcode::NOFLSH, LocalModes::NOFLSH),
    (opcode::TOSTOP, LocalModes::TOSTOP),
    (opcode::IEXTEN, LocalModes::IEXTEN),
    (opcode::ECHOCTL, LocalModes::ECHOCTL),
    (opcode::ECHOKE, LocalModes::ECHOKE),
    (opcode::PENDIN, LocalModes::PENDIN),
];

const OUTPUT: &[(u8, OutputModes)] = &[
    (opcode::OPOST, OutputModes::OPOST),
    (opcode::OLCUC, OutputModes::OLCUC),
    (opcode::ONLCR, OutputModes::ONLCR),
    (opcode::OCRNL, OutputModes::OCRNL),
    (opcode::ONOCR, OutputModes::ONOCR),
    (opcode::ONLRET, OutputModes::ONLRET),
];

const CONTROL: &[(u8, ControlModes)] = &[
    (opcode::PARENB, ControlModes::PARENB),
    (opcode::PARODD, ControlModes::PARODD),
];

/// Encodes `t` as RFC 4254 §8 `(opcode, argument)` pairs: speeds first,
/// then control characters, then flags (OpenSSH's order).
pub(crate) fn encode(t: &Termios) -> Vec<(u8, u32)> {
    let mut out = vec![
        (opcode::TTY_OP_ISPEED, t.input_speed()),
        (opcode::TTY_OP_OSPEED, t.output_speed()),
    ];
    for (op, index) in CHARS {
        let c = t.special_codes[*index];
        out.push((
            *op,
            if c == VDISABLE {
                VDISABLE_WIRE
            } else {
                u32::from(c)
            },
        ));
    }
    for (op, flag) in INPUT {
        out.push((*op, u32::from(t.input_modes.contains(*flag))));
    }
    for (op, flag) in LOCAL {
        out.push((*op, u32::from(t.local_modes.contains(*flag))));
    }
    for (op, flag) in OUTPUT {
        out.push((*op, u32::from(t.output_modes.contains(*flag))));
    }
    // CS7 and CS8 are values of the two-bit CSIZE field, not flags: say
    // which one is set (OpenSSH tests `c_cflag & CS7`, true for CS8 too).
    let size = t.control_modes & ControlModes::CSIZE;
    out.push((opcode::CS7, u32::from(size == ControlModes::CS7)));
    out.push((opcode::CS8, u32::from(size == ControlModes::CS8)));
    for (op, flag) in CONTROL {
        out.push((*op, u32::from(t.control_modes.contains(*flag))));
    }
    out
}

/// Applies RFC 4254 §8 pairs to `t`. Unknown opcodes, opcodes Linux has no
/// mode for, out-of-range characters and unsupported speeds are ignored
/// (RFC 4254 §8: "the server ... may ignore some or all of the modes").
/// `CS7 = 1` / `CS8 = 1` set the character size; a 0 for either leaves it.
pub(crate) fn apply(t: &mut Termios, modes: &[(u8, u32)]) {
    for &(op, value) in modes {
        let on = value != 0;
        if let Some((_, index)) = CHARS.iter().find(|(o, _)| *o == op) {
            let c = if value == VDISABLE_WIRE {
                Some(VDISABLE)
            } else {
                u8::try_from(value).ok()
            };
            if let Some(c) = c {
                t.special_codes[*index] = c;
            }
        } else if let Some((_, flag)) = INPUT.iter().find(|(o, _)| *o == op) {
            t.input_modes.set(*flag, on);
        } else if let Some((_, flag)) = LOCAL.iter().find(|(o, _)| *o == op) {
            t.local_modes.set(*flag, on);
        } else if let Some((_, flag)) = OUTPUT.iter().find(|(o, _)| *o == op) {
            t.output_modes.set(*flag, on);
        } else if let Some((_, flag)) = CONTROL.iter().find(|(o, _)| *o == op) {
            t.control_modes.set(*flag, on);
        } else if (op == opcode::CS7 || op == opcode::CS8) && on {
            let size = if op == opcode::CS7 {
                ControlModes::CS7
            } else {
                ControlModes::CS8
            };
            t.control_modes.remove(ControlModes::CSIZE);
            t.control_modes.insert(size);
        } else if op == opcode::TTY_OP_ISPEED {
            // A speed the kernel refuses is ignored, as OpenSSH does.
            let _ = t.set_input_speed(value);
        } else if op == opcode::TTY_OP_OSPEED {
            let _ = t.set_output_speed(value);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    /// A real termios to start from (only a terminal gives one).
    fn termios() -> Termios {
        let pty = crate::pty::Pty::open(crate::pty::WinSize::default(), &[]).unwrap();
        let mut pty = pty;
        let slave = pty.take_slave().unwrap();
        rustix::termios::tcgetattr(&slave).unwrap()
    }

    fn get(modes: &[(u8, u32)], op: u8) -> u32 {
        modes.iter().find(|(o, _)| *o == op).unwrap().1
    }

    #[test]
    fn character_size_and_parity_in_memory() {
        let mut t = termios();
        // What OpenSSH sends for a CS8 terminal: CS7 = 1 and CS8 = 1.
        apply(&mut t, &[(opcode::CS7, 1), (opcode::CS8, 1)]);
        assert_eq!(t.control_modes & ControlModes::CSIZE, ControlModes::CS8);
        let e = encode(&t);
        assert_eq!((get(&e, opcode::CS7), get(&e, opcode::CS8)), (0, 1));

        apply(
            &mut t,
            &[(opcode::CS7, 1), (opcode::CS8, 0), (opcode::PARENB, 1)],
        );
        assert_eq!(t.control_modes & ControlModes::CSIZE, ControlModes::CS7);
        assert!(t.control_modes.contains(ControlModes::PARENB));
        let e = encode(&t);
        assert_eq!((get(&e, opcode::CS7), get(&e, opcode::CS8)), (1, 0));
        assert_eq!(get(&e, opcode::PARENB), 1);

        let mut fresh = termios();
        apply(&mut fresh, &e);
        assert_eq!(encode(&fresh), e);
    }

    #[test]
    fn disabled_and_out_of_range_characters() {
        let mut t = termios();
        apply(
            &mut t,
            &[
                (opcode::VQUIT, 255),
                (opcode::VKILL, 256),
                (opcode::VEOF, 4),
            ],
        );
        assert_eq!(t.special_codes[SpecialCodeIndex::VQUIT], VDISABLE);
        // 256 is no character: VKILL keeps its ^U.
        assert_eq!(t.special_codes[SpecialCodeIndex::VKILL], 0x15);
        let e = encode(&t);
        assert_eq!(get(&e, opcode::VQUIT), 255);
        assert_eq!(get(&e, opcode::VEOF), 4);
    }
}
