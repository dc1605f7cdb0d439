//! How replyd logs: to stderr, one line per event, as text or as JSON.
//!
//! The text format is tracing-subscriber's familiar one,
//!
//! ```text
//! 2026-11-26T02:50:10.557841Z  INFO replyd::server::webhook: answered from=oFollower rule=flow-promo reply=text micros=7
//! ```
//!
//! written by [`TextLine`] rather than by tracing-subscriber's formatter, for two reasons. Safety:
//! field values come from clients (an OpenID, an unknown `MsgType`, a parse error quoting the
//! body), so a value that could break the line or forge a field (a line break, a control
//! character, a space, a quote) is written quoted and escaped, logfmt-style; tracing-subscriber
//! writes such values as they are. Cost: the access line is written for every message, and the
//! generic formatter (a `format_args!` per field, characters escaped one by one) was a tenth of
//! the CPU time of a request under load; this one writes plain values with a few `write_str`s.
//!
//! The JSON format is tracing-subscriber's own: its encoder already escapes everything.

use std::fmt::{self, Write as _};
use std::io::IsTerminal as _;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::LogFormat;

pub mod batch;

/// Sends logs to stderr in `format`, filtered by `RUST_LOG` (default `info`).
///
/// Lines are written by a thread of their own, in batches ([`batch`]): a request never waits
/// for a write to stderr, and no line is dropped. Keep the guard until the program ends:
/// dropping it writes the last lines.
///
/// # Errors
///
/// When the thread that writes the logs cannot be started.
pub fn init(format: LogFormat) -> std::io::Result<batch::Flush> {
    let (writer, guard) = batch::start(Box::new(std::io::stderr()), batch::LINGER, batch::CAP)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            builder.with_ansi(colour).event_format(TextLine).init();
        }
    }
    // A panic (a bug) is a log line like any other, in the chosen format, not text written
    // past the logger.
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        tracing::error!(thread = thread.name().unwrap_or("?"), "panic: {info}");
    }));
    Ok(guard)
}

/// The text line of an event: time, level, target, message, then `name=value` fields. Spans
/// are not written: replyd opens none.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextLine;

impl<S, N> FormatEvent<S, N> for TextLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // Events of the `log` crate (from dependencies) carry their real target in fields.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let time = humantime::format_rfc3339_micros(SystemTime::now());
        let level = meta.level();
        if writer.has_ansi_escapes() {
            write!(writer, "{time} \x1b[{}m{level:>5}\x1b[0m ", colour(level))?;
        } else {
            write!(writer, "{time} {level:>5} ")?;
        }
        writer.write_str(meta.target())?;
        writer.write_char(':')?;
        let mut fields = Fields {
            out: &mut writer,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

/// The ANSI colour of a level, as tracing-subscriber colours it.
fn colour(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 31,
        Level::WARN => 33,
        Level::INFO => 32,
        Level::DEBUG => 34,
        Level::TRACE => 35,
    }
}

/// Writes an event's fields: the message as text, every other field as ` name=value`.
struct Fields<'w, W> {
    out: &'w mut W,
    result: fmt::Result,
}

impl<W: fmt::Write> Fields<'_, W> {
    fn field(&mut self, field: &Field, value: &str) {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            // `log.target` and the like: already used for the target.
            return;
        }
        self.result = (|| {
            self.out.write_char(' ')?;
            if name == "message" {
                return write_escaped(self.out, value);
            }
            self.out
                .write_str(name.strip_prefix("r#").unwrap_or(name))?;
            self.out.write_char('=')?;
            write_value(self.out, value)
        })();
    }
}

impl<W: fmt::Write> Visit for Fields<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, itoa::Buffer::new().format(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, if value { "true" } else { "false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        if field.name() == "message" {
            // The message's format arguments, escaped as they are written.
            self.result = self
                .out
                .write_char(' ')
                .and_then(|()| write!(Escaping(&mut *self.out), "{value:?}"));
            return;
        }
        // `%value` and `?value`: rendered once, to know whether to quote them.
        let mut text = String::new();
        self.result = write!(text, "{value:?}");
        self.field(field, &text);
    }
}

/// A writer that escapes control characters ([`write_escaped`]) in what passes through it.
struct Escaping<'w, W>(&'w mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(self.0, s)
    }
}

/// A field's value: as it is when it is a plain word, otherwise in double quotes with `"`, `\`
/// and control characters escaped, so that a value cannot end the line or pose as a field.
fn write_value(out: &mut impl fmt::Write, value: &str) -> fmt::Result {
    // Ids, names and numbers are ASCII words: tell those apart without decoding characters.
    let plain_ascii = |b: &u8| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'=');
    let plain = !value.is_empty()
        && (value.bytes().all(|b| plain_ascii(&b))
            || !value
                .chars()
                .any(|c| c == '"' || c == '\\' || c == '=' || c.is_whitespace() || c.is_control()));
    if plain {
        return out.write_str(value);
    }
    out.write_char('"')?;
    let mut rest = value;
    while let Some(i) = rest.find(['"', '\\']) {
        write_escaped(out, &rest[..i])?;
        out.write_char('\\')?;
        out.write_str(&rest[i..=i])?;
        rest = &rest[i + 1..];
    }
    write_escaped(out, rest)?;
    out.write_char('"')
}

/// Text with its control characters (line breaks, tabs, terminal escapes, C1 codes) and the
/// Unicode line and paragraph separators written as escapes, so that it stays on one line and
/// cannot drive a terminal.
fn write_escaped(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    let breaks = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
    let mut rest = text;
    while let Some(i) = rest.find(breaks) {
        out.write_str(&rest[..i])?;
        let c = rest[i..].chars().next().unwrap_or_default();
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c => write!(out, "\\u{{{:x}}}", u32::from(c))?,
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.write_str(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(v: &str) -> String {
        let mut out = String::new();
        write_value(&mut out, v).unwrap();
        out
    }

    #[test]
    fn values_are_plain_words_or_quoted_and_escaped() {
        for (input, written) in [
            ("oFollower0123", "oFollower0123"),
            ("flow-promo", "flow-promo"),
            ("流量", "流量"),
            ("~1a2b3c", "~1a2b3c"),
            ("", r#""""#),
            ("two words", r#""two words""#),
            ("a=b", r#""a=b""#),
            (r#"say "hi""#, r#""say \"hi\"""#),
            (r"back\slash", r#""back\\slash""#),
            ("line\nbreak", r#""line\nbreak""#),
            ("x\r\ny", r#""x\r\ny""#),
            ("tab\there", r#""tab\there""#),
            ("\x1b[31mred", r#""\u{1b}[31mred""#),
            ("c1\u{85}", r#""c1\u{85}""#),
            ("a\u{3000}b", "\"a\u{3000}b\""),
            ("line\u{2028}separator", r#""line\u{2028}separator""#),
        ] {
            assert_eq!(value(input), written, "{input:?}");
        }
    }

    #[test]
    fn messages_stay_on_one_line() {
        let mut out = String::new();
        write_escaped(&mut out, "bad message: <xml>\n<Foo>\x07").unwrap();
        assert_eq!(out, r"bad message: <xml>\n<Foo>\u{7}");
    }

    /// The whole line, through a real subscriber.
    #[test]
    fn an_event_is_one_line_with_its_fields() {
        use std::sync::{Arc, Mutex};

        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .event_format(TextLine)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let reason = "not XML:\nfake line";
            tracing::info!(
                from = "oFollower",
                rule = "ping",
                retry = false,
                micros = 12_u64,
                "answered"
            );
            tracing::warn!(reason = %reason, "bad message {}", 400);
        });
        let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log}");
        let after_time = |line: &str| line.split_once("Z ").map(|(_, rest)| rest.to_owned());
        assert_eq!(
            after_time(lines[0]).as_deref(),
            Some(
                " INFO replyd::logging::tests: answered from=oFollower rule=ping retry=false micros=12"
            )
        );
        assert_eq!(
            after_time(lines[1]).as_deref(),
            Some(r#" WARN replyd::logging::tests: bad message 400 reason="not XML:\nfake line""#)
        );
        // The time is RFC 3339 in UTC, to the microsecond.
        assert!(humantime::parse_rfc3339(&lines[0][..27]).is_ok(), "{log}");
    }
}
