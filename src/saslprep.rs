//! SASLprep (RFC 4013): the stringprep (RFC 3454) profile SCRAM applies to user names and
//! passwords.
//!
//! 1. Map: characters "commonly mapped to nothing" (table B.1) are removed; non-ASCII spaces
//!    (C.1.2) become U+0020.
//! 2. Normalize with Unicode NFKC.
//! 3. Prohibit: non-ASCII spaces (C.1.2), control characters (C.2.1, C.2.2), private use (C.3),
//!    non-characters (C.4), surrogates (C.5), characters inappropriate for plain text (C.6) or
//!    canonical representation (C.7), display-changing or deprecated characters (C.8) and
//!    tagging characters (C.9).
//! 4. Bidirectional text (RFC 3454 §6): a string with a right-to-left character (D.1) holds no
//!    left-to-right one (D.2) and starts and ends with a right-to-left character.
//! 5. Unassigned code points (A.1) are allowed in queries but rejected in stored strings.
//!
//! Printable ASCII needs none of this and is returned as it is, without allocating.
//!
//! The normalization is done here, over unicode-normalization's per-character functions
//! (decomposition, combining class, composition), rather than with its `nfkc()` iterator:
//! that iterator keeps up to four code points inline and moves to an ordinary heap buffer,
//! freed unwiped, for a character that expands further (U+334A ㍊ becomes six) or five
//! stacked combining marks. Here every code point of the string lives in one buffer of exactly
//! the decomposed length, wiped when dropped (`tests/heap_wipe.rs` scans for fragments).
//!
//! ```
//! use saslmech::saslprep::{saslprep, Mode};
//! assert_eq!(saslprep("user", Mode::Query).unwrap(), "user");
//! // RFC 4013 §3 examples.
//! assert_eq!(saslprep("I\u{AD}X", Mode::Stored).unwrap(), "IX");
//! assert_eq!(saslprep("\u{AA}", Mode::Stored).unwrap(), "a");
//! assert_eq!(saslprep("\u{2168}", Mode::Stored).unwrap(), "IX");
//! assert!(saslprep("\u{7}", Mode::Query).is_err());
//! assert!(saslprep("\u{627}1", Mode::Query).is_err());
//! ```

use std::borrow::Cow;

use core::fmt;
use stringprep::tables;
use unicode_normalization::char::{canonical_combining_class, compose, decompose_compatible};
use zeroize::{Zeroize, Zeroizing};

use crate::secret::SecretBuf;

/// Whether the string is a query (unassigned code points allowed) or to be stored (rejected),
/// as RFC 3454 §7 distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A string received for comparison, such as a password a client sends.
    Query,
    /// A string to be stored, such as a password a server derives its keys from.
    Stored,
}

/// Why a string cannot be prepared. Holds no part of the input (it may be a password).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaslprepError {
    /// A prohibited character (RFC 4013 §2.3).
    Prohibited,
    /// Right-to-left text breaking RFC 3454 §6.
    Bidi,
    /// An unassigned code point in a stored string.
    Unassigned,
}

impl fmt::Display for SaslprepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SaslprepError::Prohibited => "prohibited character",
            SaslprepError::Bidi => "prohibited bidirectional text",
            SaslprepError::Unassigned => "unassigned code point",
        })
    }
}

impl std::error::Error for SaslprepError {}

/// True if `s` is printable ASCII, which SASLprep leaves unchanged.
fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Prepare `input` with SASLprep.
///
/// Returns the input itself when it is printable ASCII. An owned result is an ordinary
/// `String`: callers preparing passwords should use the crate's SCRAM types, which prepare into
/// wiped memory.
pub fn saslprep(input: &str, mode: Mode) -> Result<Cow<'_, str>, SaslprepError> {
    if is_printable_ascii(input) {
        return Ok(Cow::Borrowed(input));
    }
    let mut out = SecretBuf::new();
    prepare_into(input, mode, &mut out)?;
    // `prepare_into` writes whole UTF-8 characters only; were that ever broken, the string
    // is refused rather than replaced by an empty one.
    core::str::from_utf8(out.as_slice())
        .map(|s| Cow::Owned(s.to_owned()))
        .map_err(|_| SaslprepError::Prohibited)
}

/// Prepare `input` into `out` (cleared first), in wiped-on-drop memory.
pub(crate) fn prepare_into(
    input: &str,
    mode: Mode,
    out: &mut SecretBuf,
) -> Result<(), SaslprepError> {
    out.clear();
    if is_printable_ascii(input) {
        out.extend(input.as_bytes());
        return Ok(());
    }
    let mapped = input
        .chars()
        .filter(|&c| !tables::commonly_mapped_to_nothing(c))
        .map(|c| {
            if tables::non_ascii_space_character(c) {
                ' '
            } else {
                c
            }
        });
    let normalized = nfkc(mapped);
    let mut first = None;
    let mut last = None;
    let mut has_ral = false;
    let mut has_l = false;
    let mut result = Ok(());
    out.reserve(normalized.iter().map(|c| c.len_utf8()).sum());
    for &c in normalized.iter() {
        if prohibited(c) {
            result = Err(SaslprepError::Prohibited);
            break;
        }
        if mode == Mode::Stored && tables::unassigned_code_point(c) {
            result = Err(SaslprepError::Unassigned);
            break;
        }
        let ral = tables::bidi_r_or_al(c);
        has_ral |= ral;
        has_l |= tables::bidi_l(c);
        first.get_or_insert(ral);
        last = Some(ral);
        let mut b = [0u8; 4];
        out.extend(c.encode_utf8(&mut b).as_bytes());
        b.zeroize();
    }
    if result.is_ok() && has_ral && (has_l || first != Some(true) || last != Some(true)) {
        result = Err(SaslprepError::Bidi);
    }
    if result.is_err() {
        out.clear();
    }
    result
}

/// Unicode NFKC (UAX #15) of `chars`, in one buffer that is wiped on drop and never grows:
/// its exact size is counted first.
fn nfkc(chars: impl Iterator<Item = char> + Clone) -> Zeroizing<Vec<char>> {
    // Full compatibility decomposition.
    let mut n = 0usize;
    for c in chars.clone() {
        decompose_compatible(c, |_| n = n.saturating_add(1));
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(n));
    for c in chars {
        decompose_compatible(c, |d| {
            // Never reallocates (the count above is exact); the guard keeps it so.
            if buf.len() < buf.capacity() {
                buf.push(d);
            }
        });
    }
    canonical_order(&mut buf);
    let len = canonical_compose(&mut buf);
    // The tail is wiped with the rest when the buffer is dropped.
    if let Some(tail) = buf.get_mut(len..) {
        tail.zeroize();
    }
    buf.truncate(len);
    buf
}

/// Canonical ordering: each run of non-starters is sorted by combining class, stably
/// (insertion sort in place: no scratch memory).
fn canonical_order(s: &mut [char]) {
    for i in 1..s.len() {
        let mut j = i;
        while let (Some(prev), Some(cur)) = (
            j.checked_sub(1).and_then(|p| s.get(p)).copied(),
            s.get(j).copied(),
        ) {
            let (pc, cc) = (
                canonical_combining_class(prev),
                canonical_combining_class(cur),
            );
            if cc == 0 || pc <= cc {
                break;
            }
            s.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Canonical composition in place; returns the composed length. A character combines with
/// the last starter unless something between them blocks it (a character of a combining
/// class not below its own; a starter is never skipped).
fn canonical_compose(s: &mut [char]) -> usize {
    let mut written = 0usize;
    let mut starter: Option<usize> = None;
    // The class of the last character kept since the starter (`None`: nothing in between).
    let mut last_class: Option<u8> = None;
    for read in 0..s.len() {
        let Some(ch) = s.get(read).copied() else {
            break;
        };
        let class = canonical_combining_class(ch);
        let blocked = matches!(last_class, Some(l) if l >= class);
        if let Some(at) = starter
            && !blocked
            && let Some(slot) = s.get_mut(at)
            && let Some(composed) = compose(*slot, ch)
        {
            *slot = composed;
            continue;
        }
        if class == 0 {
            starter = Some(written);
            last_class = None;
        } else {
            last_class = Some(class);
        }
        if let Some(slot) = s.get_mut(written) {
            *slot = ch;
        }
        written += 1;
    }
    written
}

/// RFC 4013 §2.3: tables C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9.
fn prohibited(c: char) -> bool {
    tables::non_ascii_space_character(c)
        || tables::ascii_control_character(c)
        || tables::non_ascii_control_character(c)
        || tables::private_use(c)
        || tables::non_character_code_point(c)
        || tables::surrogate_code(c)
        || tables::inappropriate_for_plain_text(c)
        || tables::inappropriate_for_canonical_representation(c)
        || tables::change_display_properties_or_deprecated(c)
        || tables::tagging_character(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Result<String, SaslprepError> {
        saslprep(s, Mode::Query).map(|c| c.into_owned())
    }

    #[test]
    fn rfc4013_examples() {
        // RFC 4013 §3.
        assert_eq!(q("I\u{AD}X").unwrap(), "IX"); // soft hyphen mapped to nothing
        assert_eq!(q("user").unwrap(), "user");
        assert_eq!(q("USER").unwrap(), "USER"); // case preserved
        assert_eq!(q("\u{AA}").unwrap(), "a"); // NFKC
        assert_eq!(q("\u{2168}").unwrap(), "IX"); // NFKC
        assert_eq!(q("\u{7}"), Err(SaslprepError::Prohibited));
        assert_eq!(q("\u{627}\u{31}"), Err(SaslprepError::Bidi));
    }

    #[test]
    fn mapping_and_prohibition() {
        // Non-ASCII space (C.1.2) maps to U+0020.
        assert_eq!(q("a\u{A0}b").unwrap(), "a b");
        assert_eq!(q("a\u{3000}b").unwrap(), "a b");
        // Zero-width joiner and variation selector: B.1, mapped to nothing.
        assert_eq!(q("a\u{200D}b\u{FE0F}").unwrap(), "ab");
        // Prohibited: C.2.1, C.2.2, C.3, C.4, C.5 (cannot occur in str), C.6, C.7, C.8, C.9.
        for bad in [
            "a\u{0}b",
            "a\u{7F}",
            "\u{80}",
            "\u{E000}",
            "\u{FDD0}",
            "\u{FFFD}",
            "\u{2FF0}",
            "\u{200E}",
            "\u{E0001}",
        ] {
            assert_eq!(q(bad), Err(SaslprepError::Prohibited), "{bad:?}");
        }
        // Right-to-left text: all RandALCat is fine; mixing with L, or not ending in R, is not.
        assert_eq!(q("\u{5D0}\u{5D1}").unwrap(), "\u{5D0}\u{5D1}");
        assert_eq!(q("\u{5D0}1\u{5D1}").unwrap(), "\u{5D0}1\u{5D1}");
        assert_eq!(q("\u{5D0}a\u{5D1}"), Err(SaslprepError::Bidi));
        assert_eq!(q("1\u{5D0}"), Err(SaslprepError::Bidi));
    }

    #[test]
    fn unassigned_only_in_stored_strings() {
        // U+0221 is unassigned in Unicode 3.2 (RFC 3454 table A.1).
        assert_eq!(q("a\u{221}").unwrap(), "a\u{221}");
        assert_eq!(
            saslprep("a\u{221}", Mode::Stored),
            Err(SaslprepError::Unassigned)
        );
    }

    /// The normalization here agrees with unicode-normalization's own `nfkc()` iterator: on
    /// every code point alone, after a starter and before a combining mark, and on
    /// pseudo-random mixes of starters, compatibility characters and combining marks of
    /// different classes (reordering, blocking, Hangul, composition exclusions).
    #[test]
    fn nfkc_matches_unicode_normalization() {
        use unicode_normalization::UnicodeNormalization;
        let ours = |s: &str| -> String { nfkc(s.chars()).iter().collect() };
        let theirs = |s: &str| -> String { s.nfkc().collect() };
        for c in (0..0x3_0000u32)
            .chain(0xE_0000..0xE_0200)
            .filter_map(char::from_u32)
        {
            for s in [
                c.to_string(),
                format!("a{c}\u{301}"),
                format!("\u{1100}{c}\u{316}"),
            ] {
                assert_eq!(ours(&s), theirs(&s), "{}", s.escape_unicode());
            }
        }
        let alphabet: Vec<char> = "aeAEouC\u{301}\u{300}\u{316}\u{327}\u{302}\u{308}\u{31B}\u{345}\u{5B0}\u{5B4}\u{3099}\u{309A}\u{30AB}\u{30CF}\u{1100}\u{1161}\u{11A8}\u{AC00}\u{334A}\u{FDFA}\u{2168}\u{AA}\u{1E9B}\u{F900}\u{0F73}\u{0F71}\u{0F72}\u{0344}\u{0958}\u{093C}\u{0B47}\u{0B3E}\u{0B57}"
            .chars()
            .collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 12) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((seed >> (5 * i % 60)) as usize) % alphabet.len()])
                .collect();
            assert_eq!(ours(&s), theirs(&s), "{}", s.escape_unicode());
        }
        // Long runs of marks (more than any inline buffer holds), in reverse class order.
        let marks: String = "\u{301}\u{316}".repeat(40);
        let s = format!("o{marks}x\u{334A}\u{334A}");
        assert_eq!(ours(&s), theirs(&s));
    }

    #[test]
    fn ascii_fast_path_borrows() {
        assert!(matches!(
            saslprep("pencil", Mode::Stored),
            Ok(Cow::Borrowed("pencil"))
        ));
        assert_eq!(q("").unwrap(), "");
        let mut out = SecretBuf::new();
        prepare_into("\u{2168}", Mode::Query, &mut out).unwrap();
        assert_eq!(out.as_slice(), b"IX");
        assert_eq!(
            prepare_into("\u{7}", Mode::Query, &mut out),
            Err(SaslprepError::Prohibited)
        );
        assert!(out.is_empty());
    }
}
