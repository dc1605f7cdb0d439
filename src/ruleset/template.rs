//! Reply templates: `${1}` and `${name}` insert a regex capture group, `$$` is a `$`.
//!
//! Every string of a reply is a template. A `$` that starts neither `${` nor `$$` is an
//! ordinary character, so prices like `$5` need no escaping. A template that refers to a
//! capture group is only valid on a rule whose regexes all have that group; the compiler checks
//! that with [`Template::group_refs`].

use std::borrow::Cow;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Exactly sized: a rule set of 100,000 texts keeps 100,000 of these.
    parts: Box<[Part]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Box<str>),
    /// A group reference, and the byte range of its `${…}` in the template string.
    Group(GroupRef, std::ops::Range<usize>),
}

/// A reference to a capture group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    /// `${1}`.
    Index(usize),
    /// `${name}`.
    Name(String),
}

impl std::fmt::Display for GroupRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupRef::Index(i) => write!(f, "${{{i}}}"),
            GroupRef::Name(n) => write!(f, "${{{n}}}"),
        }
    }
}

/// A malformed template, with the byte range of the offending part within the template string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// What is wrong.
    pub message: String,
    /// Byte range in the template string.
    pub span: std::ops::Range<usize>,
}

impl Template {
    /// Parses a template.
    ///
    /// # Errors
    ///
    /// An unclosed `${`, an empty `${}`, or a group name with characters other than ASCII
    /// letters, digits and `_`.
    pub fn parse(s: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = s;
        let mut offset = 0;
        while let Some(i) = rest.find('$') {
            literal.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(after_dollar) = after.strip_prefix('$') {
                literal.push('$');
                rest = after_dollar;
                offset += i + 2;
            } else if let Some(inner) = after.strip_prefix('{') {
                let start = offset + i;
                let Some(close) = inner.find('}') else {
                    return Err(TemplateError {
                        message: "`${` is not closed by `}`".into(),
                        span: start..s.len(),
                    });
                };
                let name = &inner[..close];
                let span = start..start + close + 3;
                let group = if name.is_empty() {
                    return Err(TemplateError {
                        message: "`${}` names no capture group".into(),
                        span,
                    });
                } else if let Ok(n) = name.parse::<usize>() {
                    GroupRef::Index(n)
                } else if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    GroupRef::Name(name.to_owned())
                } else {
                    return Err(TemplateError {
                        message: format!("`${{{name}}}` is not a capture group name"),
                        span,
                    });
                };
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal).into_boxed_str()));
                }
                parts.push(Part::Group(group, span.clone()));
                rest = &inner[close + 1..];
                offset = span.end;
            } else {
                literal.push('$');
                rest = after;
                offset += i + 1;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() || parts.is_empty() {
            parts.push(Part::Literal(literal.into_boxed_str()));
        }
        Ok(Template {
            parts: parts.into_boxed_slice(),
        })
    }

    /// The capture groups the template refers to, each with the byte range of its `${…}` in
    /// the template string.
    pub fn group_refs(&self) -> impl Iterator<Item = (&GroupRef, std::ops::Range<usize>)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Group(g, span) => Some((g, span.clone())),
            Part::Literal(_) => None,
        })
    }

    /// The text without its group references: what the template says before any capture is
    /// inserted. Its length is the least the rendered text can be.
    pub fn literal_text(&self) -> Cow<'_, str> {
        match &*self.parts {
            [Part::Literal(s)] => Cow::Borrowed(s),
            parts => Cow::Owned(
                parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::Literal(s) => Some(&**s),
                        Part::Group(..) => None,
                    })
                    .collect(),
            ),
        }
    }

    /// Whether the template can render as blank text: it refers to capture groups and its
    /// own text is only whitespace (`${1}`), so an empty capture leaves nothing to send.
    pub fn can_render_empty(&self) -> bool {
        self.group_refs().next().is_some() && self.literal_text().trim().is_empty()
    }

    /// Fills the template in. A group that did not take part in the match, or that the regex
    /// lacks, inserts nothing. Borrows when the template has no group references.
    pub fn render<'a>(&'a self, captures: Option<&regex::Captures<'_>>) -> Cow<'a, str> {
        if let [Part::Literal(s)] = &*self.parts {
            return Cow::Borrowed(s);
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Group(g, _) => {
                    let m = captures.and_then(|c| match g {
                        GroupRef::Index(i) => c.get(*i),
                        GroupRef::Name(n) => c.name(n),
                    });
                    if let Some(m) = m {
                        out.push_str(m.as_str());
                    }
                }
            }
        }
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line_per_case() {
        let re = regex::Regex::new(r"^订单\s*(?P<no>\d+)(x)?$").unwrap();
        let caps = re.captures("订单 123456").unwrap();
        // (template, rendered)
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("", ""),
            ("订单 ${no} 正在处理中", "订单 123456 正在处理中"),
            ("${1}", "123456"),
            ("${0}", "订单 123456"),
            ("[${2}]", "[]"),
            ("$$${1}$$", "$123456$"),
            ("$5 off", "$5 off"),
            ("costs $", "costs $"),
            ("$ {1}", "$ {1}"),
            ("${no}${no}", "123456123456"),
        ];
        for &(template, expected) in cases {
            let t = Template::parse(template).unwrap();
            assert_eq!(t.render(Some(&caps)), expected, "{template:?}");
        }
    }

    #[test]
    fn malformed_templates_point_at_the_problem() {
        // (template, span of the error)
        let cases: &[(&str, std::ops::Range<usize>)] = &[
            ("a ${no", 2..6),
            ("a ${} b", 2..5),
            ("${x-y}", 0..6),
            ("$$ ${ b", 3..7),
        ];
        for (template, span) in cases {
            let err = Template::parse(template).unwrap_err();
            assert_eq!(&err.span, span, "{template:?}: {}", err.message);
        }
    }

    #[test]
    fn group_refs_and_literal_text() {
        let t = Template::parse("订单 ${no} / ${2}").unwrap();
        assert_eq!(
            t.group_refs()
                .map(|(g, span)| (g.clone(), span))
                .collect::<Vec<_>>(),
            vec![
                (GroupRef::Name("no".into()), 7..12),
                (GroupRef::Index(2), 15..19)
            ]
        );
        assert_eq!(t.literal_text(), "订单  / ");
        assert!(matches!(
            Template::parse("no refs").unwrap().render(None),
            Cow::Borrowed("no refs")
        ));
    }
}
