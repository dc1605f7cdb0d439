//! `[[test]]` entries → [`RuleTest`]s: exactly one message, and an `expect` that names a rule
//! (one that exists, even if it has errors of its own), `transfer` or `none`.

use super::one_of::{OneOf, exactly_one};
use super::suggest::did_you_mean;
use crate::diag::{Code, Diagnostic};
use crate::protocol::MsgType;
use crate::ruleset::raw::{InputSpec, TestSpec};
use crate::ruleset::{Expect, Origin, RuleTest, TestInput};

const INPUT_HELP: &str = "give the test exactly one of `send = \"text\"`, `event = \"CLICK\"` (with an optional `key`), `msg_type = \"image\"` or `scene = \"store-1\"` (a follow by QR code)";

const ONE_INPUT: OneOf = OneOf {
    none: (Code::InvalidTest, "test has no message"),
    several: Code::InvalidTest,
    prefix: "",
    owner: "test",
    help_none: INPUT_HELP,
    help_several: INPUT_HELP,
};

/// Resolves every test against the ids written in the rule files (`known`, sorted).
pub(super) fn resolve(
    raw_tests: Vec<(Origin, TestSpec)>,
    known: &[&str],
    diags: &mut Vec<Diagnostic>,
) -> Vec<RuleTest> {
    raw_tests
        .into_iter()
        .filter_map(|(origin, spec)| test(origin, spec, known, diags))
        .collect()
}

fn test(
    origin: Origin,
    spec: TestSpec,
    known: &[&str],
    diags: &mut Vec<Diagnostic>,
) -> Option<RuleTest> {
    let TestSpec {
        inputs,
        key,
        at,
        expect,
        reply_contains,
    } = spec;
    let file = origin.location.file;
    let header = origin.location.span.clone();
    let d = |span, msg: String, help: &str| {
        Diagnostic::new(Code::InvalidTest, file, span, msg).with_help(help.to_owned())
    };
    let (input, problem) = exactly_one(file, &ONE_INPUT, header.clone(), inputs);
    let mut ok = problem.is_none();
    diags.extend(problem);
    let input = match input {
        Some(InputSpec::Send(s)) => Some(TestInput::Text(s.into_inner())),
        Some(InputSpec::Event(e)) => Some(TestInput::Event {
            name: e.into_inner(),
            key: key.as_ref().map(|k| k.get_ref().clone()),
        }),
        Some(InputSpec::MsgType(t)) => match MsgType::parse_ignore_case(t.get_ref().trim()) {
            Some(MsgType::Text) => {
                diags.push(d(
                    t.span(),
                    "a text test is written `send = \"…\"`, not msg_type".into(),
                    INPUT_HELP,
                ));
                None
            }
            Some(MsgType::Event) => {
                diags.push(d(
                    t.span(),
                    "an event test is written `event = \"…\"`, not msg_type".into(),
                    INPUT_HELP,
                ));
                None
            }
            _ => Some(TestInput::MsgType(t.into_inner())),
        },
        Some(InputSpec::Scene(v)) => Some(TestInput::Scene(v.into_inner())),
        None => None,
    };
    let at = match at.map(|a| (super::when::instant(a.get_ref()), a.span())) {
        None => None,
        Some((Ok(t), _)) => Some(t),
        Some((Err(why), span)) => {
            diags.push(d(
                span,
                format!("`at` {why}"),
                "write an offset date-time: `at = 2026-12-05T20:00:00+08:00`",
            ));
            ok = false;
            None
        }
    };
    if let (Some(key), Some(input)) = (&key, &input)
        && !matches!(input, TestInput::Event { .. })
    {
        diags.push(d(
            key.span(),
            "`key` only applies to an `event` test".into(),
            INPUT_HELP,
        ));
        ok = false;
    }
    let expected = match &expect {
        None => {
            diags.push(d(
                header,
                "test has no `expect`".into(),
                "add `expect = \"rule-id\"` (or \"transfer\" / \"none\" for the fall-through)",
            ));
            None
        }
        Some(e) => match e.get_ref().as_str() {
            "transfer" => Some(Expect::Transfer),
            "none" => Some(Expect::Nothing),
            id if known.binary_search(&id).is_ok() => Some(Expect::Rule(id.to_owned())),
            id => {
                let help = match did_you_mean(id, known) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "expect a rule id, `transfer` (handed to customer service) or `none` (answered `success`)".into(),
                };
                diags.push(d(e.span(), format!("no rule has the id `{id}`"), &help));
                None
            }
        },
    };
    let (input, expected, e) = (input?, expected?, expect?);
    ok.then(|| RuleTest {
        input,
        expect: expected,
        reply_contains: reply_contains.map(|r| r.into_inner()),
        at,
        expect_span: e.span(),
        origin,
    })
}
