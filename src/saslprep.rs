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
use unicode_normalization::UnicodeNormalization;

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
    // `prepare_into` writes whole UTF-8 characters only.
    Ok(Cow::Owned(
        String::from_utf8(out.as_slice().to_vec()).unwrap_or_default(),
    ))
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
    out.reserve(input.len());
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
    let mut first = None;
    let mut last = None;
    let mut has_ral = false;
    let mut has_l = false;
    let mut result = Ok(());
    for c in mapped.nfkc() {
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
    }
    if result.is_ok() && has_ral && (has_l || first != Some(true) || last != Some(true)) {
        result = Err(SaslprepError::Bidi);
    }
    if result.is_err() {
        out.clear();
    }
    result
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
