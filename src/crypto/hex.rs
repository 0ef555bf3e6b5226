//! The one hex codec: lowercase out; in, lowercase only (CRAM-MD5 responses) or either case
//! (Dovecot `{CRAM-MD5}` secrets). Digests and keys are secret, so both directions work eight
//! digits at a time in a `u64` (SWAR) with no branch or table lookup on the data, and decoding
//! gives one verdict for the whole text (`tests/ct_valgrind.rs` checks this under valgrind).

const ONES: u64 = 0x0101_0101_0101_0101;
const TOP: u64 = 0x8080_8080_8080_8080;

/// Which letters [`decode`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Case {
    /// `a-f` only.
    Lower,
    /// `a-f` and `A-F`.
    Either,
}

/// Lowercase hex of `bytes` into `out` (which must be twice as long; extra room is left as it
/// was). A nibble `n` becomes `n + '0'`, plus 39 when it is over 9 (`n + 6` carries into bit
/// 4 exactly then, and no lane carries into the next).
pub(crate) fn encode(bytes: &[u8], out: &mut [u8]) {
    for (o, chunk) in out.chunks_mut(8).zip(bytes.chunks(4)) {
        let mut x = 0u64;
        for (i, &b) in chunk.iter().enumerate() {
            x |= u64::from(b >> 4) << (16 * i) | u64::from(b & 15) << (16 * i + 8);
        }
        let over_nine = ((x + 0x0606_0606_0606_0606) >> 4) & ONES;
        let digits = (x + 0x3030_3030_3030_3030 + over_nine * 39).to_le_bytes();
        for (d, h) in o.iter_mut().zip(digits.iter().take(2 * chunk.len())) {
            *d = *h;
        }
    }
}

/// Decode `hex` (exactly twice as long as `out`, else `false`). Each lane is checked to be a
/// digit or an accepted letter with carries into its top bit (lanes are ASCII, checked first,
/// so no lane carries into the next); a last partial word is padded with `0` digits. `out`
/// holds garbage when it returns `false`.
pub(crate) fn decode(hex: &[u8], out: &mut [u8], case: Case) -> bool {
    if hex.len() != 2 * out.len() {
        return false;
    }
    let upper_ok = u64::from(case == Case::Either) * TOP;
    let mut valid = true;
    for (c, o) in hex.chunks(8).zip(out.chunks_mut(4)) {
        let mut b = [b'0'; 8];
        for (d, s) in b.iter_mut().zip(c) {
            *d = *s;
        }
        let x = u64::from_le_bytes(b);
        // Wrapping: a non-ASCII top lane may carry out of the word (the text is refused then).
        let at_least = |n: u8| x.wrapping_add(u64::from(0x80 - n) * ONES) & TOP;
        let digit = at_least(b'0') & !at_least(b'9' + 1);
        let lower = at_least(b'a') & !at_least(b'f' + 1);
        let upper = at_least(b'A') & !at_least(b'F' + 1) & upper_ok;
        let alpha = lower | upper;
        valid &= (x & TOP == 0) & ((digit | alpha) == TOP);
        let nibbles = (x & 0x0f0f_0f0f_0f0f_0f0f) + (alpha >> 7) * 9;
        let pairs =
            ((nibbles & 0x00ff_00ff_00ff_00ff) << 4) | ((nibbles >> 8) & 0x00ff_00ff_00ff_00ff);
        for (d, p) in o.iter_mut().zip(pairs.to_le_bytes().iter().step_by(2)) {
            *d = *p;
        }
    }
    valid
}

/// The lowercase hex digit for a nibble (`n < 16`), without a branch or table lookup on it:
/// `subtle`'s comparison and selection keep the optimizer from turning the choice back into a
/// branch (plain arithmetic became `cmp; jae` on the nibble, which `tests/ct_valgrind.rs`
/// caught). Used where each digit becomes a `char` of a `String` (`CramMd5Keys::to_dovecot`):
/// there the word-at-a-time [`encode`] leaves valgrind unable to see that the digits are
/// ASCII, and `String::push` branches on that.
pub(crate) fn digit(n: u8) -> u8 {
    use subtle::{ConditionallySelectable, ConstantTimeGreater};
    let n = n & 15;
    u8::conditional_select(&(b'0' + n), &(b'a' - 10 + n), n.ct_gt(&9))
}

/// A hex digit of secret text, either case, without a branch: the value (0 if invalid) and
/// validity. Decodes Dovecot's `{CRAM-MD5}` text digit by digit (`CramMd5Keys::from_dovecot`),
/// where the verdict must be the only branch valgrind sees.
pub(crate) fn value_ct(c: u8) -> (u8, subtle::Choice) {
    use subtle::{ConditionallySelectable, ConstantTimeGreater};
    let digit = c.ct_gt(&(b'0' - 1)) & (b'9' + 1).ct_gt(&c);
    let lower = c.ct_gt(&(b'a' - 1)) & (b'f' + 1).ct_gt(&c);
    let upper = c.ct_gt(&(b'A' - 1)) & (b'F' + 1).ct_gt(&c);
    let v = u8::conditional_select(&0, &c.wrapping_sub(b'0'), digit)
        | u8::conditional_select(&0, &c.wrapping_sub(b'a' - 10), lower)
        | u8::conditional_select(&0, &c.wrapping_sub(b'A' - 10), upper);
    (v, digit | lower | upper)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain, branching decoder the SWAR one must agree with.
    fn reference(hex: &[u8], case: Case) -> Option<Vec<u8>> {
        let value = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' if case == Case::Either => Some(c - b'A' + 10),
            _ => None,
        };
        if !hex.len().is_multiple_of(2) {
            return None;
        }
        hex.chunks(2)
            .map(|p| Some(value(p[0])? << 4 | value(p[1])?))
            .collect()
    }

    proptest! {
        #[test]
        fn encode_is_lowercase_hex(bytes in proptest::collection::vec(any::<u8>(), 0..70)) {
            let mut out = vec![b'?'; 2 * bytes.len() + 1];
            encode(&bytes, &mut out);
            let want: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert_eq!(&out[..2 * bytes.len()], want.as_bytes());
            prop_assert_eq!(out[2 * bytes.len()], b'?');
            let mut back = vec![0u8; bytes.len()];
            prop_assert!(decode(&out[..2 * bytes.len()], &mut back, Case::Lower));
            prop_assert_eq!(back, bytes);
        }

        #[test]
        fn decode_agrees_with_the_plain_one(
            text in proptest::collection::vec(
                prop_oneof![
                    4 => prop::sample::select(b"0123456789abcdefABCDEF".to_vec()),
                    1 => any::<u8>(),
                ],
                0..70,
            ),
        ) {
            for case in [Case::Lower, Case::Either] {
                let mut out = vec![0u8; text.len() / 2];
                let ok = decode(&text, &mut out, case);
                let want = reference(&text, case);
                prop_assert_eq!(ok, want.is_some());
                if let Some(w) = want {
                    prop_assert_eq!(out, w);
                }
            }
        }
    }

    #[test]
    fn digit_by_digit_agrees_with_the_plain_one() {
        for n in 0..16u8 {
            assert_eq!(digit(n), b"0123456789abcdef"[n as usize]);
        }
        for c in 0..=255u8 {
            let (v, ok) = value_ct(c);
            let want = reference(&[b'0', c], Case::Either).map(|v| v[0]);
            assert_eq!(bool::from(ok).then_some(v), want, "{c}");
        }
    }

    #[test]
    fn decode_refuses_every_non_digit_in_every_position() {
        // 32 digits (four SWAR words, as CRAM-MD5 has) and 34 (with a partial word).
        for len in [32usize, 34] {
            for pos in 0..len {
                for c in 0..=255u8 {
                    let mut text = vec![b'7'; len];
                    text[pos] = c;
                    for case in [Case::Lower, Case::Either] {
                        let mut out = vec![0u8; len / 2];
                        let ok = decode(&text, &mut out, case);
                        let want = reference(&text, case);
                        assert_eq!(ok, want.is_some(), "len {len} pos {pos} byte {c:#x}");
                        if let Some(w) = want {
                            assert_eq!(out, w);
                        }
                    }
                }
            }
        }
        assert!(!decode(b"abc", &mut [0u8; 1], Case::Lower));
        assert!(!decode(b"ab", &mut [0u8; 2], Case::Lower));
    }
}
