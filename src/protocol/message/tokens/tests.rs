use proptest::prelude::*;

use super::*;

/// Every token of `text`, up to the end, a DOCTYPE or the first error.
fn all(text: &str) -> Result<Vec<Token<'_>>, ParseError> {
    let mut tokens = Tokens::new(text);
    let mut out = Vec::new();
    loop {
        let token = tokens.next()?;
        out.push(token);
        if matches!(token, Token::Eof | Token::Doctype) {
            return Ok(out);
        }
    }
}

#[test]
fn a_message_is_tags_cdata_and_text() {
    use Token::*;
    let body = "<?xml version=\"1.0\"?>\n<xml><A><![CDATA[x]]></A><B>1</B><C a='1'/>\r\n</xml>";
    assert_eq!(
        all(body).unwrap(),
        [
            Decl(Version::V1_0),
            Text("\n"),
            Start {
                name: "xml",
                empty: false
            },
            Start {
                name: "A",
                empty: false
            },
            CData("x"),
            End,
            Start {
                name: "B",
                empty: false
            },
            Text("1"),
            End,
            Start {
                name: "C",
                empty: true
            },
            Text("\r\n"),
            End,
            Eof,
        ]
    );
}

#[test]
fn references_are_resolved_and_markup_replyd_does_not_read_is_passed_over() {
    use Token::*;
    let body = "\u{feff}<!-- c --><?pi x?><?xml-stylesheet a?><x>a&lt;&#20320;&#x4F60;&amp;b</x >";
    assert_eq!(
        all(body).unwrap(),
        [
            Ignored,
            Ignored,
            Ignored,
            Start {
                name: "x",
                empty: false
            },
            Text("a"),
            Char('<'),
            Char('你'),
            Char('你'),
            Char('&'),
            Text("b"),
            End,
            Eof,
        ]
    );
    assert_eq!(
        all("<?xml version='1.1' encoding='UTF-8'?>").unwrap()[0],
        Decl(Version::V1_1)
    );
    assert_eq!(
        all("<!doctype x [<!ENTITY e 'v'>]><x/>").unwrap(),
        [Doctype]
    );
}

#[test]
fn what_is_not_well_formed_is_an_error_with_its_position() {
    let error = |body: &str| match all(body) {
        Err(ParseError::Xml(message)) => message,
        other => panic!("{body:?}: {other:?}"),
    };
    assert_eq!(error("<a></b>"), "</b> ends <a> (at byte 3)");
    assert_eq!(error("<a>x"), "the body ends inside <a>");
    for body in [
        "</a>",
        "<a",
        "<>",
        "< a/>",
        "<a/ >",
        "<a b>",
        "<a b=c>",
        "<a b='1'c='2'>",
        "<a b='1' b='2'>",
        "<a b='<'>",
        "<a b='1>",
        "<a>&bogus;</a>",
        "<a>&amp</a>",
        "<a>&#0;</a>",
        "<a>&#xD800;</a>",
        "<a>&#+1;</a>",
        "<a><!-- x</a>",
        "<a><![CDATA[x</a>",
        "<a><!x></a>",
        "<?pi",
        "<?xml?><a/>",
        "<?xml encoding='UTF-8' version='1.0'?><a/>",
        "<?xml version='2.0'?><a/>",
    ] {
        assert!(
            matches!(all(body), Err(ParseError::Xml(_))),
            "{body:?}: {:?}",
            all(body)
        );
    }
}

#[test]
fn skipping_an_element_passes_over_its_subtree_and_checks_it() {
    let mut tokens = Tokens::new("<a><b><c/>t<a>x</a></b></a><d/>");
    assert!(matches!(tokens.next(), Ok(Token::Start { name: "a", .. })));
    tokens.skip_element().unwrap();
    assert!(matches!(tokens.next(), Ok(Token::Start { name: "d", .. })));
    let mut tokens = Tokens::new("<a><b></c></a>");
    tokens.next().unwrap();
    assert!(matches!(tokens.skip_element(), Err(ParseError::Xml(_))));
}

/// A token, owned: what the comparison with quick-xml compares.
#[derive(Debug, Clone, PartialEq)]
enum Owned {
    Start(String, bool),
    End,
    Text(String),
    CData(String),
    Char(char),
    Decl(Version),
    Ignored,
    Doctype,
    Eof,
}

impl From<Token<'_>> for Owned {
    fn from(token: Token<'_>) -> Owned {
        match token {
            Token::Start { name, empty } => Owned::Start(name.to_owned(), empty),
            Token::End => Owned::End,
            Token::Text(t) => Owned::Text(t.to_owned()),
            Token::CData(t) => Owned::CData(t.to_owned()),
            Token::Char(c) => Owned::Char(c),
            Token::Decl(v) => Owned::Decl(v),
            Token::Ignored => Owned::Ignored,
            Token::Doctype => Owned::Doctype,
            Token::Eof => Owned::Eof,
        }
    }
}

fn ours(text: &str) -> Result<Vec<Owned>, ParseError> {
    Ok(all(text)?.into_iter().map(Owned::from).collect())
}

/// The tokens quick-xml's reader finds in `text` (its references resolved, its attributes and
/// declaration checked), up to the end, a DOCTYPE or its first error.
fn quick_xml(text: &str) -> Result<Vec<Owned>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = Vec::new();
    loop {
        let token = match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) | Event::Empty(e) if e.attributes().any(|a| a.is_err()) => {
                return Err("attribute".into());
            }
            Event::Start(e) => Owned::Start(e.name().into_inner().to_owned(), false),
            Event::Empty(e) => Owned::Start(e.name().into_inner().to_owned(), true),
            Event::End(_) => Owned::End,
            Event::Text(t) => Owned::Text(t.to_string()),
            Event::CData(c) => Owned::CData(c.to_string()),
            Event::GeneralRef(r) => match r.resolve_char_ref().map_err(|e| e.to_string())? {
                Some(c) => Owned::Char(c),
                None => match quick_xml::escape::resolve_predefined_entity(&r) {
                    Some(s) => Owned::Char(s.chars().next().unwrap()),
                    None => return Err("entity".into()),
                },
            },
            Event::Decl(d) => match d.xml_version().map_err(|e| e.to_string())? {
                quick_xml::XmlVersion::Explicit1_1 => Owned::Decl(Version::V1_1),
                _ => Owned::Decl(Version::V1_0),
            },
            Event::Comment(_) | Event::PI(_) => Owned::Ignored,
            Event::DocType(_) => Owned::Doctype,
            Event::Eof => Owned::Eof,
        };
        let last = matches!(token, Owned::Eof | Owned::Doctype);
        out.push(token);
        if last {
            return Ok(out);
        }
    }
}

/// Pieces of XML, well-formed and not, that random bodies are made of.
const PIECES: &[&str] = &[
    "<xml>",
    "</xml>",
    "<a>",
    "</a>",
    "<b x=\"1\">",
    "</b>",
    "<b/>",
    "<a y='2' z=\"3\"/>",
    "<c\n/>",
    "</a >",
    "text",
    "流量",
    " ",
    "\r\n",
    "\r",
    "\n",
    "&amp;",
    "&lt;",
    "&#20320;",
    "&#x4F60;",
    "&bogus;",
    "&",
    ";",
    "&#0;",
    "<![CDATA[c\r\nd]]>",
    "<![CDATA[]]>",
    "<!-- c -->",
    "<?pi x?>",
    "<?xml version=\"1.0\"?>",
    "<?xml version='1.1'?>",
    "\u{85}",
    "\u{2028}",
    "<",
    ">",
    "/",
    "/>",
    "\"",
    "'",
    "=",
    "<!DOCTYPE x>",
    "]]>",
    "<!",
    "<?",
    "?>",
    "-->",
    "<a b>",
    "<a b=c>",
    "< a>",
    "</ a>",
    "\u{feff}",
    "<a b='>'>",
    "<a b='1'b='2'>",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// Whatever the tokenizer reads, quick-xml reads the same way, and whatever quick-xml
    /// refuses, it refuses. It is stricter in three ways only: a name with `<` or a quote in it
    /// (which XML does not allow), a processing instruction without a target, and a body that
    /// ends inside an element (which the reader above refused anyway).
    #[test]
    fn reads_bodies_as_quick_xml_does(
        pieces in prop::collection::vec(prop::sample::select(PIECES), 0..24),
    ) {
        let body = pieces.concat();
        match (ours(&body), quick_xml(&body)) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{:?}", body),
            (Ok(a), Err(e)) => {
                prop_assert!(false, "{body:?}: quick-xml refuses ({e}), we read {a:?}");
            }
            (Err(ParseError::Xml(ours)), Ok(_)) => prop_assert!(
                ["is not an element name", "has no target name", "the body ends inside"]
                    .iter()
                    .any(|allowed| ours.contains(allowed)),
                "{body:?}: quick-xml reads it, we refuse: {ours}"
            ),
            (Err(ours), Ok(_)) => prop_assert!(false, "{body:?}: {ours}"),
            (Err(_), Err(_)) => {}
        }
    }
}

#[test]
fn a_tag_may_have_many_attributes_but_none_twice() {
    // Checked by sorting the names, so thousands cost n log n, not n².
    let attributes: String = (0..9000).map(|i| format!(" a{i}=''")).collect();
    assert!(all(&format!("<xml{attributes}/>")).is_ok());
    let repeated = format!("<xml{attributes} a4500='x'/>");
    match all(&repeated) {
        Err(ParseError::Xml(message)) => assert!(message.contains("a4500 appears twice")),
        other => panic!("{other:?}"),
    }
}
