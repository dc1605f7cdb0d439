//! The output formats of `lint`: rustc-style snippets for people, JSON for tools, and GitHub
//! workflow commands for CI annotations.
//!
//! The human format is codespan-reporting's: the `file:line:col` header, the source line with
//! the span underlined, related places as secondary labels, and the help as a note. Colour is
//! the caller's choice (a terminal without `NO_COLOR`); snapshots are taken without it.

use codespan_reporting::diagnostic::{Diagnostic as Report, Label, Severity as ReportSeverity};
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term::{self, termcolor::WriteColor};
use serde::Serialize;

use super::{Diagnostic, FileId, Severity, Sources};

/// Writes diagnostics in the human format.
///
/// # Errors
///
/// When the writer fails.
pub fn human(
    diagnostics: &[Diagnostic],
    sources: &Sources,
    out: &mut dyn WriteColor,
) -> std::io::Result<()> {
    let config = term::Config::default();
    for d in diagnostics {
        term::emit_to_write_style(out, &config, sources, &report(d)).map_err(|e| match e {
            FilesError::Io(io) => io,
            other => std::io::Error::other(other.to_string()),
        })?;
    }
    Ok(())
}

fn report(d: &Diagnostic) -> Report<usize> {
    let severity = match d.severity() {
        Severity::Error => ReportSeverity::Error,
        Severity::Warning => ReportSeverity::Warning,
    };
    let mut labels = Vec::new();
    if let Some(loc) = &d.location {
        labels.push(Label::primary(loc.file.0, loc.span.clone()));
    }
    for r in &d.related {
        labels.push(
            Label::secondary(r.location.file.0, r.location.span.clone()).with_message(&r.message),
        );
    }
    Report::new(severity)
        .with_code(d.code.as_str())
        .with_message(&d.message)
        .with_labels(labels)
        .with_notes(d.help.iter().map(|h| format!("help: {h}")).collect())
}

impl<'a> Files<'a> for Sources {
    type FileId = usize;
    type Name = String;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<String, FilesError> {
        Ok(self.file(id)?.path().display().to_string())
    }

    fn source(&'a self, id: usize) -> Result<&'a str, FilesError> {
        Ok(self.file(id)?.text())
    }

    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, FilesError> {
        Ok(self.file(id)?.line_index(byte_index))
    }

    fn line_range(
        &'a self,
        id: usize,
        line_index: usize,
    ) -> Result<std::ops::Range<usize>, FilesError> {
        let file = self.file(id)?;
        file.line_range(line_index).ok_or(FilesError::LineTooLarge {
            given: line_index,
            max: file.line_index(file.text().len()),
        })
    }
}

impl Sources {
    fn file(&self, id: usize) -> Result<&super::SourceFile, FilesError> {
        (id < self.len())
            .then(|| self.get(FileId(id)))
            .ok_or(FilesError::FileMissing)
    }
}

/// One diagnostic as `--format json` writes it.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    /// `error` or `warning`.
    pub severity: &'static str,
    /// The stable code.
    pub code: &'static str,
    /// What is wrong.
    pub message: &'a str,
    /// The file, when the problem is in one.
    pub file: Option<String>,
    /// 1-based line of the start.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the start.
    pub column: Option<usize>,
    /// 1-based line of the end.
    pub end_line: Option<usize>,
    /// 1-based column of the end (exclusive).
    pub end_column: Option<usize>,
    /// How to fix it.
    pub help: Option<&'a str>,
    /// Other places involved, as `file:line:col: message`.
    pub related: Vec<String>,
}

/// The diagnostics as a JSON array.
pub fn json(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let items: Vec<JsonDiagnostic<'_>> = diagnostics
        .iter()
        .map(|d| {
            let (file, start, end) = match &d.location {
                Some(loc) => {
                    let f = sources.get(loc.file);
                    (
                        Some(f.path().display().to_string()),
                        Some(f.line_col(loc.span.start)),
                        Some(f.line_col(loc.span.end)),
                    )
                }
                None => (None, None, None),
            };
            JsonDiagnostic {
                severity: d.severity().as_str(),
                code: d.code.as_str(),
                message: &d.message,
                file,
                line: start.map(|p| p.0),
                column: start.map(|p| p.1),
                end_line: end.map(|p| p.0),
                end_column: end.map(|p| p.1),
                help: d.help.as_deref(),
                related: d
                    .related
                    .iter()
                    .map(|r| format!("{}: {}", sources.position(&r.location), r.message))
                    .collect(),
            }
        })
        .collect();
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_owned())
}

/// The diagnostics as GitHub Actions workflow commands (`::error file=…,line=…::message`),
/// which GitHub shows as annotations on the pull request's diff.
pub fn github(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let level = match d.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = vec![format!("title={}", property(&format!("replyd {}", d.code)))];
        if let Some(loc) = &d.location {
            let f = sources.get(loc.file);
            let (line, col) = f.line_col(loc.span.start);
            let (end_line, end_col) = f.line_col(loc.span.end);
            props.insert(
                0,
                format!("file={}", property(&f.path().display().to_string())),
            );
            props.insert(
                1,
                format!("line={line},col={col},endLine={end_line},endColumn={end_col}"),
            );
        }
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::{level} {}::{}\n",
            props.join(","),
            data(&message)
        ));
    }
    out
}

/// Escapes a workflow command's message.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Code, SourceFile};
    use codespan_reporting::term::termcolor::NoColor;

    fn sample() -> (Vec<Diagnostic>, Sources) {
        let mut sources = Sources::new();
        let id = sources.add(SourceFile::new(
            "rules/a.toml",
            "[[rule]]\nid = \"a b\"\nmatch.exact = \"x,y\"\n",
        ));
        let d = vec![
            Diagnostic::new(Code::InvalidId, id, 14..19, "invalid rule id \"a b\"")
                .with_help("an id is letters, digits: and so on")
                .with_related(id, 0..8, "the rule"),
            Diagnostic::global(Code::NoRuleFiles, "rules/x holds 100% nothing"),
        ];
        (d, sources)
    }

    #[test]
    fn human_underlines_the_span_and_prints_the_help() {
        let (d, sources) = sample();
        let mut out = NoColor::new(Vec::new());
        human(&d, &sources, &mut out).unwrap();
        let text = String::from_utf8(out.into_inner()).unwrap();
        assert!(
            text.contains("error[invalid-id]: invalid rule id \"a b\""),
            "{text}"
        );
        assert!(text.contains("┌─ rules/a.toml:2:6"), "{text}");
        assert!(text.contains("2 │ id = \"a b\""), "{text}");
        assert!(text.contains("^^^^^"), "{text}");
        assert!(text.contains("= help: an id is letters"), "{text}");
        assert!(
            text.contains("warning[no-rule-files]: rules/x holds 100% nothing"),
            "{text}"
        );
    }

    #[test]
    fn json_has_positions() {
        let (d, sources) = sample();
        let v: serde_json::Value = serde_json::from_str(&json(&d, &sources)).unwrap();
        assert_eq!(v[0]["file"], "rules/a.toml");
        assert_eq!(
            (v[0]["line"].as_u64(), v[0]["column"].as_u64()),
            (Some(2), Some(6))
        );
        assert_eq!(
            (v[0]["end_line"].as_u64(), v[0]["end_column"].as_u64()),
            (Some(2), Some(11))
        );
        assert_eq!(v[0]["severity"], "error");
        assert_eq!(v[0]["related"][0], "rules/a.toml:1:1: the rule");
        assert!(v[1]["file"].is_null());
    }

    #[test]
    fn github_escapes_what_it_must() {
        let (d, sources) = sample();
        assert_eq!(
            github(&d, &sources),
            "::error file=rules/a.toml,line=2,col=6,endLine=2,endColumn=11,title=replyd invalid-id::invalid rule id \"a b\"%0Ahelp: an id is letters, digits: and so on\n\
             ::warning title=replyd no-rule-files::rules/x holds 100%25 nothing\n"
        );
    }
}
