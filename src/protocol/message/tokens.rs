//! The XML tokenizer under the pull reader ([`super::xml`]): splits a body into tags, text,
//! CDATA sections, references and the markup replyd passes over, and checks as it goes that
//! the body is well-formed: every tag closed, every end tag naming the element it ends, every
//! attribute quoted and named once, every reference one XML knows.
//!
//! Written for what a message body is — a few dozen tags around short texts, already known to
//! be UTF-8 — instead of using quick-xml's reader, which checks each event's bytes as UTF-8
//! again and cost two thirds of what parsing a message cost (about 10,000 instructions of a
//! 60,000-instruction request). The tests compare it with quick-xml token by token.
//!
//! A token borrows the body; the only allocation is the stack of open elements' names.

use memchr::{memchr, memchr2, memchr3};

use super::{ParseError, truncate};

/// One piece of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token<'a> {
    /// `<Name …>`, or `<Name …/>` when `empty` (no content, no end tag follows).
    Start { name: &'a str, empty: bool },
    /// The end tag of the innermost open element (its name was checked).
    End,
    /// Text between tags, up to a reference or a tag; line ends not yet normalized.
    Text(&'a str),
    /// What a `<![CDATA[…]]>` section holds; line ends not yet normalized.
    CData(&'a str),
    /// A character reference (`&#20320;`, `&#x4F60;`) or one of XML's five entities (`&lt;`).
    Char(char),
    /// `<?xml version="…"?>`: what the declaration says.
    Decl(Version),
    /// A comment or processing instruction: nothing replyd reads.
    Ignored,
    /// `<!DOCTYPE …`: the tokenizer stops here (replyd refuses DTDs).
    Doctype,
    /// The end of the body.
    Eof,
}

/// The XML version a body declares: it says which line ends are normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Version {
    /// XML 1.0, also when nothing is declared.
    #[default]
    V1_0,
    /// XML 1.1.
    V1_1,
}

/// The tokenizer: a position in the body and the elements open there.
pub(super) struct Tokens<'a> {
    text: &'a str,
    at: usize,
    open: Vec<&'a str>,
}

impl<'a> Tokens<'a> {
    /// A tokenizer at the start of `text`.
    pub(super) fn new(text: &'a str) -> Tokens<'a> {
        Tokens {
            text,
            // A byte order mark is not text before the root (quick-xml and browsers skip it).
            at: if text.starts_with('\u{feff}') { 3 } else { 0 },
            open: Vec::with_capacity(4),
        }
    }

    /// The next token.
    pub(super) fn next(&mut self) -> Result<Token<'a>, ParseError> {
        let rest = &self.text.as_bytes()[self.at..];
        match rest.first() {
            None if self.open.is_empty() => Ok(Token::Eof),
            None => Err(ParseError::Xml(format!(
                "the body ends inside <{}>",
                truncate(self.open[self.open.len() - 1])
            ))),
            Some(b'<') => self.markup(),
            Some(b'&') => self.reference(),
            Some(_) => {
                let len = memchr2(b'<', b'&', rest).unwrap_or(rest.len());
                Ok(Token::Text(self.take(len)))
            }
        }
    }

    /// Everything that starts with `<`.
    fn markup(&mut self) -> Result<Token<'a>, ParseError> {
        let rest = &self.text[self.at..];
        match rest.as_bytes().get(1) {
            Some(b'/') => self.end_tag(&rest[2..]),
            Some(b'!') => self.bang(rest),
            Some(b'?') => self.instruction(&rest[2..]),
            _ => self.start_tag(),
        }
    }

    /// `</Name>`, which must end the innermost open element.
    fn end_tag(&mut self, after: &'a str) -> Result<Token<'a>, ParseError> {
        let len = memchr(b'>', after.as_bytes())
            .ok_or_else(|| self.error("an end tag is not closed with '>'".into()))?;
        // Whitespace may follow the name; trimmed by bytes (`trim_end_matches` decodes chars).
        let mut end = len;
        while end > 0 && is_space(char::from(after.as_bytes()[end - 1])) {
            end -= 1;
        }
        let name = &after[..end];
        match self.open.pop() {
            Some(open) if open == name => {}
            Some(open) => {
                return Err(self.error(format!("</{}> ends <{}>", truncate(name), truncate(open))));
            }
            None => return Err(self.error(format!("</{}> ends nothing", truncate(name)))),
        }
        self.at += 2 + len + 1;
        Ok(Token::End)
    }

    /// `<!--…-->`, `<![CDATA[…]]>` or `<!DOCTYPE`.
    fn bang(&mut self, rest: &'a str) -> Result<Token<'a>, ParseError> {
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let len = find_end(after, b"]]>")
                .ok_or_else(|| self.error("a CDATA section is not closed with ']]>'".into()))?;
            self.at += 9 + len + 3;
            return Ok(Token::CData(&after[..len]));
        }
        if let Some(after) = rest.strip_prefix("<!--") {
            let len = find_end(after, b"-->")
                .ok_or_else(|| self.error("a comment is not closed with '-->'".into()))?;
            self.at += 4 + len + 3;
            return Ok(Token::Ignored);
        }
        if rest.len() >= 9 && rest.as_bytes()[..9].eq_ignore_ascii_case(b"<!DOCTYPE") {
            return Ok(Token::Doctype);
        }
        Err(self.error("'<!' starts no comment or CDATA section".into()))
    }

    /// `<?target …?>`: the XML declaration is read for its version, anything else passed over.
    fn instruction(&mut self, after: &'a str) -> Result<Token<'a>, ParseError> {
        let len = find_end(after, b"?>")
            .ok_or_else(|| self.error("a processing instruction is not closed with '?>'".into()))?;
        let inside = &after[..len];
        match inside.bytes().next() {
            Some(b) if b != b'?' && !is_space(char::from(b)) && !stops_a_name(b) => {}
            _ => return Err(self.error("a processing instruction has no target name".into())),
        }
        self.at += 2 + len + 2;
        let Some(declaration) = inside.strip_prefix("xml") else {
            return Ok(Token::Ignored);
        };
        if !declaration.is_empty() && !declaration.starts_with(is_space) {
            return Ok(Token::Ignored); // another target, such as `<?xml-stylesheet …?>`
        }
        let mut version = None;
        attributes(declaration, |name, value| {
            if version.is_none() {
                if name != "version" {
                    return Err("the XML declaration does not start with its version".into());
                }
                version = Some(match value {
                    "1.0" => Version::V1_0,
                    "1.1" => Version::V1_1,
                    _ => return Err(format!("unknown XML version {:?}", truncate(value))),
                });
            }
            Ok(())
        })
        .map_err(|e| self.error(e))?;
        let version =
            version.ok_or_else(|| self.error("the XML declaration has no version".into()))?;
        Ok(Token::Decl(version))
    }

    /// `<Name attribute="value" …>` or `…/>`.
    fn start_tag(&mut self) -> Result<Token<'a>, ParseError> {
        let rest = &self.text[self.at + 1..];
        let len = tag_end(rest.as_bytes())
            .ok_or_else(|| self.error("a start tag is not closed with '>'".into()))?;
        let (inside, empty) = match rest[..len].strip_suffix('/') {
            Some(inside) => (inside, true),
            None => (&rest[..len], false),
        };
        // The name ends at whitespace (attributes follow) or with the tag.
        let mut name_len = inside.len();
        for (i, b) in inside.bytes().enumerate() {
            if is_space(char::from(b)) {
                name_len = i;
                break;
            }
            if stops_a_name(b) {
                name_len = 0;
                break;
            }
        }
        let name = &inside[..name_len];
        if name.is_empty() {
            return Err(self.error(format!("<{}> is not an element name", truncate(inside))));
        }
        if name_len < inside.len() {
            attributes(&inside[name_len..], |_, _| Ok(())).map_err(|e| self.error(e))?;
        }
        if !empty {
            self.open.push(name);
        }
        self.at += 1 + len + 1;
        Ok(Token::Start { name, empty })
    }

    /// `&…;`.
    fn reference(&mut self) -> Result<Token<'a>, ParseError> {
        let after = &self.text[self.at + 1..];
        let len = memchr(b';', after.as_bytes())
            .ok_or_else(|| self.error("'&' starts no reference (write &amp;)".into()))?;
        let name = &after[..len];
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => match name.strip_prefix('#') {
                Some(number) => char_ref(number).ok_or_else(|| {
                    self.error(format!("&{}; is not a character", truncate(name)))
                })?,
                None => return Err(self.error(format!("unknown entity &{};", truncate(name)))),
            },
        };
        self.at += 1 + len + 1;
        Ok(Token::Char(c))
    }

    /// Passes over the current element's content and its end tag: what an element replyd does
    /// not read holds (still checked as it goes).
    pub(super) fn skip_element(&mut self) -> Result<(), ParseError> {
        let depth = self.open.len();
        loop {
            match self.next()? {
                Token::End if self.open.len() < depth => return Ok(()),
                Token::Doctype => return Err(ParseError::Doctype),
                _ => {}
            }
        }
    }

    fn take(&mut self, len: usize) -> &'a str {
        let piece = &self.text[self.at..self.at + len];
        self.at += len;
        piece
    }

    fn error(&self, message: String) -> ParseError {
        ParseError::Xml(format!("{message} (at byte {})", self.at))
    }
}

/// Where `end` (`]]>`, `-->`, `?>`) first is in `text`: where a `>` follows the rest of it.
fn find_end(text: &str, end: &[u8]) -> Option<usize> {
    let bytes = text.as_bytes();
    let (last, before) = end.split_last()?;
    let mut from = 0;
    loop {
        let at = from + memchr(*last, &bytes[from..])?;
        if at >= before.len() && bytes[..at].ends_with(before) {
            return Some(at - before.len());
        }
        from = at + 1;
    }
}

/// Where the `>` that ends a start tag is, past any inside quoted attribute values.
fn tag_end(tag: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        at += memchr3(b'>', b'"', b'\'', &tag[at..])?;
        let quote = tag[at];
        if quote == b'>' {
            return Some(at);
        }
        at += 1 + memchr(quote, &tag[at + 1..])? + 1;
    }
}

/// Calls `each` with every `name="value"` of a tag (what follows its name), after checking that
/// each is written as XML says: whitespace before it, a quoted value without `<`; and then that
/// no name came twice (by sorting them: a tag with thousands of attributes costs n log n, not
/// n²).
fn attributes<'a>(
    mut rest: &'a str,
    mut each: impl FnMut(&'a str, &'a str) -> Result<(), String>,
) -> Result<(), String> {
    let mut names: Vec<&str> = Vec::new();
    loop {
        let trimmed = rest.trim_start_matches(is_space);
        if trimmed.is_empty() {
            break;
        }
        if trimmed.len() == rest.len() {
            return Err("attributes must be separated by whitespace".into());
        }
        let eq = trimmed
            .find('=')
            .ok_or_else(|| format!("the attribute {} has no value", truncate(trimmed)))?;
        let name = trimmed[..eq].trim_end_matches(is_space);
        if name.is_empty()
            || name
                .bytes()
                .any(|b| is_space(char::from(b)) || stops_a_name(b))
        {
            return Err(format!("{:?} is not an attribute name", truncate(name)));
        }
        let value = trimmed[eq + 1..].trim_start_matches(is_space);
        let quote = match value.chars().next() {
            Some(q @ ('"' | '\'')) => q,
            _ => return Err(format!("the value of {} is not quoted", truncate(name))),
        };
        let close = value[1..]
            .find(quote)
            .ok_or_else(|| format!("the value of {} is not closed", truncate(name)))?;
        let inner = &value[1..1 + close];
        if inner.contains('<') {
            return Err(format!("the value of {} holds '<'", truncate(name)));
        }
        names.push(name);
        each(name, inner)?;
        rest = &value[1 + close + 1..];
    }
    names.sort_unstable();
    match names.windows(2).find(|pair| pair[0] == pair[1]) {
        Some(pair) => Err(format!("the attribute {} appears twice", truncate(pair[0]))),
        None => Ok(()),
    }
}

/// The character `&#…;` stands for: decimal, or hexadecimal after `x`; never NUL.
fn char_ref(number: &str) -> Option<char> {
    let (digits, radix) = match number.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (number, 10),
    };
    if digits.starts_with(['+', '-']) {
        return None;
    }
    let code = u32::from_str_radix(digits, radix).ok()?;
    char::from_u32(code).filter(|&c| c != '\0')
}

/// XML's whitespace.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Markup characters no name (of an element, an attribute or a processing instruction's
/// target) may hold. XML allows fewer still; these are the ones that would let a name be read
/// two ways.
fn stops_a_name(b: u8) -> bool {
    matches!(b, b'/' | b'"' | b'\'' | b'=' | b'<' | b'>' | b'&')
}

#[cfg(test)]
mod tests;
