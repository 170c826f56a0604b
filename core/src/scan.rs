//! Word-at-a-time byte scanning: the JSON reader and the token splitter pass over runs of
//! ordinary bytes eight at a time and stop at the first byte that matters.

/// `0x01` in every byte.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte.
pub(crate) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Eight bytes of `s` from `at`, little-endian (the first byte lowest), if there are eight.
pub(crate) fn word_at(s: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = s.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// The high bit of each byte of `w` that is zero, exact for the lowest such byte (a borrow only
/// runs upward from a zero byte, so bytes above the first may be flagged falsely). The position
/// of the first zero byte is therefore `trailing_zeros / 8`.
pub(crate) const fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGHS
}

/// The high bit of each byte of `w` below 0x20 (a control character), exact for the lowest:
/// such a byte borrows into its own high bit, and bytes of 0x80 and above (not ASCII) are
/// excluded by `!w`; exact for the lowest for the same reason as [`zero_bytes`].
pub(crate) const fn below_space(w: u64) -> u64 {
    w.wrapping_sub(ONES * 0x20) & !w & HIGHS
}

/// The position of the first `byte` in `s` at or after `from`.
pub(crate) fn find_byte(s: &[u8], from: usize, byte: u8) -> Option<usize> {
    let pattern = ONES * u64::from(byte);
    let mut pos = from;
    // Sixteen bytes a step while there are sixteen, then eight.
    while let (Some(a), Some(b)) = (word_at(s, pos), word_at(s, pos + 8)) {
        if zero_bytes(a ^ pattern) | zero_bytes(b ^ pattern) != 0 {
            break;
        }
        pos += 16;
    }
    while let Some(w) = word_at(s, pos) {
        let hits = zero_bytes(w ^ pattern);
        if hits != 0 {
            return Some(pos + (hits.trailing_zeros() / 8) as usize);
        }
        pos += 8;
    }
    s.get(pos..)?
        .iter()
        .position(|&b| b == byte)
        .map(|i| pos + i)
}

/// Whether `s` holds `byte`: a word at a time, the last word overlapping the one before it, and
/// a string shorter than a word padded to one (header names are mostly that short).
pub(crate) fn contains_byte(s: &[u8], byte: u8) -> bool {
    let pattern = ONES * u64::from(byte);
    // A zero byte of `w ^ pattern` is a `byte` of `w` (flags above the first may be false,
    // never all of them: whether there is one is exact).
    let holds = |w: u64| zero_bytes(w ^ pattern) != 0;
    if s.len() < 8 {
        let mut padded = [!byte; 8];
        if let Some(head) = padded.get_mut(..s.len()) {
            head.copy_from_slice(s);
        }
        return holds(u64::from_le_bytes(padded));
    }
    let mut pos = 0;
    while let Some(w) = word_at(s, pos) {
        if holds(w) {
            return true;
        }
        pos += 8;
    }
    pos != s.len() && word_at(s, s.len() - 8).is_some_and(holds)
}

/// Whether `s` holds an ASCII control character (`0x00`–`0x1F` or `0x7F`), eight bytes a step.
pub(crate) fn has_ascii_control(s: &[u8]) -> bool {
    let mut pos = 0;
    while let Some(w) = word_at(s, pos) {
        if below_space(w) | zero_bytes(w ^ (ONES * 0x7f)) != 0 {
            return true;
        }
        pos += 8;
    }
    s.get(pos..)
        .is_some_and(|rest| rest.iter().any(u8::is_ascii_control))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every position of strings up to 24 bytes long: the same answer as
    /// `is_ascii_control` byte by byte.
    #[test]
    fn finds_a_control_character_of_any_value_anywhere() {
        for len in 0..24 {
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = byte;
                    assert_eq!(
                        has_ascii_control(&s),
                        byte.is_ascii_control(),
                        "{byte:#04x} at {at} of {len}"
                    );
                    // With a non-ASCII byte (high bit set) before it, which must not mask it.
                    if at > 0 {
                        s[at - 1] = 0x80 | byte;
                        assert_eq!(has_ascii_control(&s), byte.is_ascii_control());
                    }
                }
            }
            assert!(!has_ascii_control(&vec![b' '; len]));
        }
    }

    #[test]
    fn finds_the_first_byte_in_every_position_and_alignment() {
        for len in 0..40 {
            for at in 0..len {
                let mut s = vec![b'a'; len];
                s[at] = b'.';
                if at + 3 < len {
                    s[at + 3] = b'.';
                }
                for from in 0..=len {
                    let want = s
                        .iter()
                        .skip(from)
                        .position(|&b| b == b'.')
                        .map(|i| from + i);
                    assert_eq!(
                        find_byte(&s, from, b'.'),
                        want,
                        "len {len} at {at} from {from}"
                    );
                }
            }
        }
        assert_eq!(find_byte(b"abc", 9, b'.'), None);
    }

    /// Every byte value at every position of strings up to 40 bytes long (the padding of short
    /// ones, the overlapping last word of long ones): the same answer as a byte-by-byte search.
    #[test]
    fn contains_byte_finds_any_value_anywhere() {
        for len in 0..40 {
            for target in [b'_', 0x00, 0xff, 0x80] {
                let plain = vec![b'a'; len];
                assert!(!contains_byte(&plain, target), "len {len}, {target:#04x}");
                for at in 0..len {
                    for byte in 0..=255u8 {
                        let mut s = plain.clone();
                        s[at] = byte;
                        assert_eq!(
                            contains_byte(&s, target),
                            byte == target,
                            "{byte:#04x} at {at} of {len}, looking for {target:#04x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn zero_bytes_is_exact_for_the_lowest() {
        // 0x01 above a zero byte is flagged falsely (the borrow), but never below it.
        let w = u64::from_le_bytes([7, 0, 1, 9, 9, 9, 9, 9]);
        assert_eq!(zero_bytes(w).trailing_zeros() / 8, 1);
        assert_eq!(zero_bytes(u64::from_le_bytes([0x80; 8])), 0);
        assert_eq!(zero_bytes(u64::MAX), 0);
    }
}
