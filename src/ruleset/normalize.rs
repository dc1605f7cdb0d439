//! Text normalisation, applied the same way to keywords when rules are compiled and to a
//! message's text when it is matched (README, "How a message is matched", step 1).
//!
//! 1. Unicode NFKC: full-width letters, digits and punctuation become half-width (`ＶＩＰ１` →
//!    `VIP1`, `？` → `?`), compatibility forms fold (`①` → `1`).
//! 2. Surrounding whitespace is trimmed (after NFKC, so the ideographic space U+3000 goes too).
//! 3. For case-insensitive comparison only: [`fold`] lower-cases character by character.
//!    Character by character, not `str::to_lowercase`, because the latter lowers a Greek final
//!    sigma by context; folding must map a keyword the same way whether it stands alone or
//!    inside a longer text, or `prefix` and `contains` would miss.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// NFKC, then trim. Borrows when the text is already normal (the common case: ASCII or
/// plain Chinese without surrounding spaces).
pub fn normalize(text: &str) -> Cow<'_, str> {
    let trimmed = text.trim();
    // ASCII and the CJK Unified Ideographs are NFKC already (a test checks every one of
    // them); asking is_nfkc_quick costs two table searches per character.
    if trimmed.is_ascii()
        || trimmed.chars().all(is_ascii_or_unified_ideograph)
        || is_nfkc_quick(trimmed.chars()) == IsNormalized::Yes
    {
        return Cow::Borrowed(trimmed);
    }
    let nfkc: String = trimmed.nfkc().collect();
    let t = nfkc.trim();
    if t.len() == nfkc.len() {
        Cow::Owned(nfkc)
    } else {
        Cow::Owned(t.to_owned())
    }
}

/// Whether a character is ASCII or in the CJK Unified Ideographs block (U+4E00–U+9FFF): both
/// are their own NFKC with combining class 0, so a text of them alone is normalized.
fn is_ascii_or_unified_ideograph(c: char) -> bool {
    c.is_ascii() || ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// Case folding for the case-insensitive matchers: each character lower-cased on its own.
/// Borrows when nothing changes.
pub fn fold(normalized: &str) -> Cow<'_, str> {
    if normalized.is_ascii() {
        return if normalized.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(normalized.to_ascii_lowercase())
        } else {
            Cow::Borrowed(normalized)
        };
    }
    let unchanged = |c: char| {
        if c.is_ascii() {
            !c.is_ascii_uppercase()
        } else {
            let mut lower = c.to_lowercase();
            lower.next() == Some(c) && lower.next().is_none()
        }
    };
    if normalized.chars().all(unchanged) {
        Cow::Borrowed(normalized)
    } else {
        Cow::Owned(normalized.chars().flat_map(char::to_lowercase).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcut in `normalize` answers what `is_nfkc_quick` would.
    #[test]
    fn ascii_and_unified_ideographs_are_their_own_nfkc() {
        let shortcut = (0..=0x7F_u32)
            .chain(0x4E00..=0x9FFF)
            .filter_map(char::from_u32);
        for c in shortcut {
            assert!(is_ascii_or_unified_ideograph(c));
            assert_eq!(
                is_nfkc_quick(std::iter::once(c)),
                IsNormalized::Yes,
                "{c:?}"
            );
            assert_eq!(unicode_normalization::char::canonical_combining_class(c), 0);
        }
        for c in [
            '\u{3000}', '\u{4DFF}', '\u{A000}', '\u{F900}', '\u{FF01}', 'é',
        ] {
            assert!(!is_ascii_or_unified_ideograph(c), "{c:?}");
        }
    }

    /// (input, normalized, folded): one line per case.
    const CASES: &[(&str, &str, &str)] = &[
        ("流量", "流量", "流量"),
        ("  流量 \n", "流量", "流量"),
        ("\u{3000}流量\u{3000}", "流量", "流量"),
        ("ＶＩＰ１２３", "VIP123", "vip123"),
        ("Hello World", "Hello World", "hello world"),
        ("订单？", "订单?", "订单?"),
        ("①②", "12", "12"),
        ("ﬁ", "fi", "fi"),
        ("ΣΑΣ", "ΣΑΣ", "σασ"),
        ("ß", "ß", "ß"),
        ("İ", "İ", "i\u{307}"),
        ("", "", ""),
        ("   ", "", ""),
        ("a\u{0301}", "\u{e1}", "\u{e1}"),
    ];

    #[test]
    fn table() {
        for &(input, normalized, folded) in CASES {
            assert_eq!(normalize(input), normalized, "normalize({input:?})");
            assert_eq!(fold(&normalize(input)), folded, "fold({input:?})");
        }
    }

    #[test]
    fn folding_a_part_gives_a_part_of_the_folded_whole() {
        // The property prefix and contains rely on.
        let whole = "ΟΔΟΣ ΣΑΣ Straße İstanbul";
        for (i, _) in whole.char_indices() {
            let (head, tail) = whole.split_at(i);
            assert_eq!(format!("{}{}", fold(head), fold(tail)), fold(whole));
        }
    }

    proptest::proptest! {
        /// The ASCII shortcuts give what the general path gives.
        #[test]
        fn shortcuts_agree_with_the_general_path(s in "[ -~\\t\\n]{0,16}|\\PC{0,8}") {
            let nfkc: String = s.trim().nfkc().collect();
            proptest::prop_assert_eq!(normalize(&s).into_owned(), nfkc.trim());
            let lowered: String = s.chars().flat_map(char::to_lowercase).collect();
            proptest::prop_assert_eq!(fold(&s).into_owned(), lowered);
        }
    }

    #[test]
    fn already_normal_text_is_borrowed() {
        assert!(matches!(normalize("流量 promo"), Cow::Borrowed(_)));
        assert!(matches!(fold("流量 promo"), Cow::Borrowed(_)));
    }
}
