//! A pull reader over a message body's XML: walks an element's children, reads an element's
//! text, skips what replyd does not read. The parser ([`super::wire`]) says which elements
//! those are; this module knows only XML.
//!
//! A value is what an element holds: its text, CDATA sections and character or predefined
//! entity references (`&lt;`, `&#20320;`), joined in order, with comments and processing
//! instructions between them dropped and line ends normalized as XML says (`\r\n` → `\n`).
//! Nothing is trimmed here: whitespace inside `<Content>` is the follower's.
//!
//! Everything a client sends is bounded by the body: the reader borrows the body, allocates only
//! the values it keeps, and skips an unknown element's subtree without recursion.

use std::borrow::Cow;

use super::tokens::{Token, Tokens, Version};
use super::{ParseError, truncate};

/// The reader, positioned inside some element.
pub(super) struct Elements<'a> {
    tokens: Tokens<'a>,
    /// From the XML declaration, if any: how line ends are normalized.
    version: Version,
}

/// An element whose start tag was just read (its attributes were checked and are not read).
pub(super) struct Child<'a> {
    name: &'a str,
    /// `<Name/>`: no content and no end tag to read.
    empty: bool,
}

impl<'a> Child<'a> {
    /// The element's name as written.
    pub(super) fn name(&self) -> &'a str {
        self.name
    }
}

impl<'a> Elements<'a> {
    /// Reads up to the root element's start tag. What comes before it is checked: a DOCTYPE
    /// (the door to entity expansion and XXE) is refused, and the root must be `<xml>`.
    pub(super) fn open(text: &'a str) -> Result<(Elements<'a>, Child<'a>), ParseError> {
        let mut xml = Elements {
            tokens: Tokens::new(text),
            version: Version::default(),
        };
        let mut text_before = false;
        loop {
            let root = match xml.token()? {
                Token::Start { name, empty } => Child { name, empty },
                Token::Doctype => return Err(ParseError::Doctype),
                Token::Eof => return Err(ParseError::NoRoot),
                Token::Text(t) if t.trim().is_empty() => continue,
                Token::Text(_) | Token::CData(_) | Token::Char(_) => {
                    text_before = true;
                    continue;
                }
                Token::Ignored | Token::Decl(_) | Token::End => continue,
            };
            if text_before {
                return Err(ParseError::Xml("text before the root element".into()));
            }
            if root.name != "xml" {
                return Err(ParseError::WrongRoot(name_of(root.name)));
            }
            return Ok((xml, root));
        }
    }

    /// Calls `each` with every child element of `parent`, in order. `each` must read or skip
    /// the child it is given. Text between the children is layout, not a value: it is passed
    /// over.
    pub(super) fn children(
        &mut self,
        parent: &Child<'a>,
        mut each: impl FnMut(&mut Self, Child<'a>) -> Result<(), ParseError>,
    ) -> Result<(), ParseError> {
        if parent.empty {
            return Ok(());
        }
        loop {
            let child = match self.token()? {
                Token::Start { name, empty } => Child { name, empty },
                Token::End => return Ok(()),
                Token::Eof => return Err(ends_inside(parent)),
                Token::Doctype => return Err(ParseError::Doctype),
                Token::Text(_) | Token::CData(_) | Token::Char(_) => continue,
                Token::Ignored | Token::Decl(_) => continue,
            };
            each(self, child)?;
        }
    }

    /// The value of `child` (see the module's doc), read up to its end tag; an element inside
    /// it is an error. A value already read (`slot` is set) is refused: a body that says a
    /// field twice could be read two ways, by replyd and by a backend behind it.
    pub(super) fn text(
        &mut self,
        slot: &mut Option<String>,
        child: &Child<'a>,
    ) -> Result<(), ParseError> {
        if slot.is_some() {
            return Err(ParseError::Repeated(name_of(child.name)));
        }
        *slot = Some(self.value(child)?);
        Ok(())
    }

    /// The value of `child`, read up to its end tag.
    pub(super) fn value(&mut self, child: &Child<'a>) -> Result<String, ParseError> {
        if child.empty {
            return Ok(String::new());
        }
        // One piece (the usual `<![CDATA[…]]>` or plain text) is borrowed until the end.
        let mut value = Cow::Borrowed("");
        let add = |value: &mut Cow<'a, str>, piece: Cow<'a, str>| {
            if value.is_empty() {
                *value = piece;
            } else {
                value.to_mut().push_str(&piece);
            }
        };
        loop {
            match self.token()? {
                Token::Text(t) | Token::CData(t) => {
                    add(&mut value, normalize_eols(t, self.version))
                }
                Token::Char(c) => value.to_mut().push(c),
                Token::End => return Ok(value.into_owned()),
                Token::Start { name, .. } => {
                    return Err(ParseError::Xml(format!(
                        "<{}> holds an element, <{}>, where text belongs",
                        name_of(child.name),
                        name_of(name),
                    )));
                }
                Token::Eof => return Err(ends_inside(child)),
                Token::Doctype => return Err(ParseError::Doctype),
                Token::Ignored | Token::Decl(_) => {}
            }
        }
    }

    /// Passes over `child` and everything inside it.
    pub(super) fn skip(&mut self, child: &Child<'a>) -> Result<(), ParseError> {
        if child.empty {
            return Ok(());
        }
        self.tokens.skip_element()
    }

    fn token(&mut self) -> Result<Token<'a>, ParseError> {
        let token = self.tokens.next()?;
        if let Token::Decl(version) = token {
            self.version = version;
        }
        Ok(token)
    }
}

/// Reads a nested element whose parts are named children: `each` is given every child.
pub(super) fn once<'a, T: Default>(
    slot: &mut Option<T>,
    xml: &mut Elements<'a>,
    child: &Child<'a>,
    mut each: impl FnMut(&mut T, &mut Elements<'a>, Child<'a>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::Repeated(name_of(child.name)));
    }
    let mut value = T::default();
    xml.children(child, |xml, inner| each(&mut value, xml, inner))?;
    *slot = Some(value);
    Ok(())
}

fn ends_inside(element: &Child<'_>) -> ParseError {
    ParseError::Xml(format!("the body ends inside <{}>", name_of(element.name)))
}

/// An element's name, as an error quotes it.
fn name_of(name: &str) -> String {
    truncate(name)
}

/// Line ends as XML normalizes them: `\r\n` and a lone `\r` are `\n`; in XML 1.1 also NEL
/// (U+0085, alone or after `\r`) and LINE SEPARATOR (U+2028).
fn normalize_eols(text: &str, version: Version) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let found = match version {
        Version::V1_0 => memchr::memchr(b'\r', bytes),
        // 0xC2 and 0xE2 lead the UTF-8 of U+0085 and U+2028 (and of other characters).
        Version::V1_1 => memchr::memchr3(b'\r', 0xC2, 0xE2, bytes),
    };
    let Some(first) = found else {
        return Cow::Borrowed(text);
    };
    let v11 = version == Version::V1_1;
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..first]);
    let mut chars = text[first..].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                // `\r\n` (and in 1.1 `\r` NEL) is one line end.
                let _ = chars.next_if(|&n| n == '\n' || (v11 && n == '\u{85}'));
                out.push('\n');
            }
            '\u{85}' | '\u{2028}' if v11 => out.push('\n'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}
