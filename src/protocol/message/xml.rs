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

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::{ParseError, clip, truncate};

/// The reader, positioned inside some element.
pub(super) struct Elements<'a> {
    reader: Reader<&'a [u8]>,
    /// From the XML declaration, if any: how line ends are normalized.
    version: XmlVersion,
}

/// An element whose start tag was just read.
pub(super) struct Child<'a> {
    start: BytesStart<'a>,
    /// `<Name/>`: no content and no end tag to read.
    empty: bool,
}

impl<'a> Child<'a> {
    /// An element just opened. Its attributes are not read, but must be well-formed.
    fn new(start: BytesStart<'a>, empty: bool) -> Result<Child<'a>, ParseError> {
        for attribute in start.attributes() {
            attribute.map_err(xml_error)?;
        }
        Ok(Child { start, empty })
    }

    /// The element's name as written.
    pub(super) fn name(&self) -> &str {
        self.start.name().into_inner()
    }
}

impl<'a> Elements<'a> {
    /// Reads up to the root element's start tag. What comes before it is checked: a DOCTYPE
    /// (the door to entity expansion and XXE) is refused, and the root must be `<xml>`.
    pub(super) fn open(text: &'a str) -> Result<(Elements<'a>, Child<'a>), ParseError> {
        let mut xml = Elements {
            reader: Reader::from_str(text),
            version: XmlVersion::default(),
        };
        let mut text_before = false;
        loop {
            let (start, empty) = match xml.event()? {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::DocType(_) => return Err(ParseError::Doctype),
                Event::Eof => return Err(ParseError::NoRoot),
                Event::Text(t) if t.xml10_content().trim().is_empty() => continue,
                Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                    text_before = true;
                    continue;
                }
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::End(_) => continue,
            };
            if text_before {
                return Err(ParseError::Xml("text before the root element".into()));
            }
            let root = Child::new(start, empty)?;
            if root.name() != "xml" {
                return Err(ParseError::WrongRoot(name_of(root.name())));
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
            let child = match self.event()? {
                Event::Start(start) => Child::new(start, false)?,
                Event::Empty(start) => Child::new(start, true)?,
                Event::End(_) => return Ok(()),
                Event::Eof => return Err(ends_inside(parent)),
                Event::DocType(_) => return Err(ParseError::Doctype),
                // A reference must still be one XML knows.
                Event::GeneralRef(r) => {
                    resolve(&r)?;
                    continue;
                }
                Event::Text(_) | Event::CData(_) | Event::Comment(_) | Event::PI(_) => continue,
                Event::Decl(_) => continue,
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
            return Err(ParseError::Repeated(name_of(child.name())));
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
            match self.event()? {
                Event::Text(t) => add(&mut value, t.xml_content(self.version)),
                Event::CData(c) => add(&mut value, c.xml_content(self.version)),
                Event::GeneralRef(r) => add(&mut value, resolve(&r)?),
                Event::End(_) => return Ok(value.into_owned()),
                Event::Start(inner) | Event::Empty(inner) => {
                    return Err(ParseError::Xml(format!(
                        "<{}> holds an element, <{}>, where text belongs",
                        name_of(child.name()),
                        name_of(inner.name().into_inner()),
                    )));
                }
                Event::Eof => return Err(ends_inside(child)),
                Event::DocType(_) => return Err(ParseError::Doctype),
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            }
        }
    }

    /// Passes over `child` and everything inside it.
    pub(super) fn skip(&mut self, child: &Child<'a>) -> Result<(), ParseError> {
        if !child.empty {
            self.reader
                .read_to_end(child.start.name())
                .map_err(xml_error)?;
        }
        Ok(())
    }

    fn event(&mut self) -> Result<Event<'a>, ParseError> {
        let event = self.reader.read_event().map_err(xml_error)?;
        if let Event::Decl(d) = &event {
            self.version = d.xml_version().map_err(xml_error)?;
        }
        Ok(event)
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
        return Err(ParseError::Repeated(name_of(child.name())));
    }
    let mut value = T::default();
    xml.children(child, |xml, inner| each(&mut value, xml, inner))?;
    *slot = Some(value);
    Ok(())
}

/// What a character reference (`&#20320;`) or one of XML's five entities (`&lt;`) stands for;
/// any other entity is an error (there is no DTD to declare one).
fn resolve(r: &BytesRef<'_>) -> Result<Cow<'static, str>, ParseError> {
    if let Some(c) = r.resolve_char_ref().map_err(xml_error)? {
        return Ok(Cow::Owned(c.to_string()));
    }
    match quick_xml::escape::resolve_predefined_entity(r) {
        Some(s) => Ok(Cow::Borrowed(s)),
        None => Err(ParseError::Xml(format!("unknown entity &{};", truncate(r)))),
    }
}

fn ends_inside(element: &Child<'_>) -> ParseError {
    ParseError::Xml(format!(
        "the body ends inside <{}>",
        name_of(element.name())
    ))
}

fn xml_error(e: impl std::fmt::Display) -> ParseError {
    ParseError::Xml(clip(&e.to_string(), 200).into_owned())
}

/// An element's name, as an error quotes it.
fn name_of(name: &str) -> String {
    truncate(name)
}
