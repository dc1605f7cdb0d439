//! The compiler's checks, one line per case: the rule file, and the start of each diagnostic
//! it must give (`file:line:col: severity[code]: message`).

use super::*;
use crate::protocol::vocab::MAX_TEXT_BYTES;

/// Compiles one file and returns every diagnostic in the short form. The file is also compiled
/// cut into pieces at every entry (pieces.rs), which must change nothing.
fn diags(text: &str) -> Vec<String> {
    let sources = sources_from(&[("r.toml", text)]);
    let compiled = compile(&sources);
    assert_same_in_pieces(&sources, &compiled);
    let rule_errors = compiled
        .diagnostics
        .iter()
        .any(|d| d.severity() == Severity::Error && d.code != Code::InvalidTest);
    assert_eq!(compiled.complete, !rule_errors);
    compiled
        .diagnostics
        .iter()
        .map(|d| d.short(&sources))
        .collect()
}

/// (rule file, the start of each expected diagnostic): one line per check.
const CASES: &[(&str, &[&str])] = &[
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
        &[],
    ),
    ("", &["r.toml:1:1: warning[empty-file]"]),
    (
        "[[rule]\n",
        &["r.toml:1:8: error[toml-syntax]: unclosed array table"],
    ),
    (
        "[rules]\nx = 1\n",
        &[
            "r.toml:1:2: error[invalid-key]: unknown top-level key `rules` (help: did you mean `[[rule]]`?)",
        ],
    ),
    (
        "rule = 1\n",
        &["r.toml:1:1: error[invalid-key]: `rule` must be an array of tables"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreplay.text = \"y\"\n",
        &["r.toml:4:1: error[invalid-key]: unknown field `replay`"],
    ),
    (
        "[[rule]]\nid = \"a\"\npriority = \"high\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
        &["r.toml:3:12: error[invalid-key]: invalid type: string \"high\""],
    ),
    (
        "[[rule]]\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
        &["r.toml:1:1: error[missing-id]"],
    ),
    (
        "[[rule]]\nid = \"a b\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
        &["r.toml:2:6: error[invalid-id]"],
    ),
    (
        "[[rule]]\nid = \"transfer\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
        &["r.toml:2:6: error[invalid-id]: the id `transfer` is reserved"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n[[rule]]\nid = \"a\"\nmatch.exact = \"z\"\nreply.text = \"y\"\n",
        &["r.toml:6:6: error[duplicate-id]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nreply.text = \"y\"\n",
        &["r.toml:1:1: error[no-matcher]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.key = \"K\"\nreply.text = \"y\"\n",
        &["r.toml:3:1: error[no-matcher]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nmatch.prefix = \"x\"\nreply.text = \"y\"\n",
        &["r.toml:4:16: error[several-matchers]: rule has both match.exact and match.prefix"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\n",
        &["r.toml:1:1: error[no-reply]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"y\"\nreply.none = true\n",
        &["r.toml:5:14: error[several-replies]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = [\"x\", \"  \"]\nreply.text = \"y\"\n",
        &["r.toml:3:21: error[empty-value]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = []\nreply.text = \"y\"\n",
        &["r.toml:3:15: error[empty-value]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.prefix = \"x\"\nmatch.key = \"K\"\nreply.text = \"y\"\n",
        &["r.toml:4:13: error[misplaced-key]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.msg_type = \"event\"\nreply.text = \"y\"\n",
        &["r.toml:3:18: error[invalid-msg-type]"],
    ),
    // Schedules, windows, cooldowns.
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nduring = \"offce\"\nreply.text = \"y\"\n[[schedule]]\nname = \"office\"\nweekly = [\"mon-fri 09:00-18:00\"]\n",
        &["r.toml:4:10: error[unknown-schedule]"],
    ),
    (
        "[[schedule]]\nname = \"o\"\nweekly = [\"mon-fry 09:00-18:00\"]\ntimezone = \"Asia/Shangai\"\n[[schedule]]\nname = \"p\"\nweekly = [\"mon 18:00-09:00\"]\nclosed = [\"2026-13-01\"]\nopen = [\"2026-10-11\"]\n[[schedule]]\nname = \"p\"\nweekly = [\"mon 09:00-10:00\"]\n",
        &[
            "r.toml:3:16: error[invalid-schedule]",
            "r.toml:4:13: error[invalid-schedule]",
            "r.toml:7:16: error[invalid-schedule]",
            "r.toml:8:12: error[invalid-schedule]",
            "r.toml:9:10: error[invalid-schedule]",
            "r.toml:11:8: error[duplicate-schedule]",
        ],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nfrom = 2026-11-11T00:00:00+08:00\nuntil = 2026-11-10T00:00:00+08:00\nreply.text = \"y\"\n[[rule]]\nid = \"b\"\nmatch.exact = \"z\"\nfrom = 2026-11-11T00:00:00\nduring = \"o\"\noutside = \"o\"\ncooldown = \"soon\"\nreply.text = \"y\"\n",
        &[
            "r.toml:5:9: error[invalid-window]",
            "r.toml:10:8: error[invalid-window]",
            "r.toml:12:11: error[invalid-window]",
            "r.toml:13:12: error[invalid-cooldown]",
        ],
    ),
    // Random replies.
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.random = [{ text = \"y\" }]\n[[rule]]\nid = \"b\"\nmatch.exact = \"z\"\nreply.random = [{ text = \"y\" }, { transfer = {} }]\n",
        &[
            "r.toml:4:16: error[invalid-random]",
            "r.toml:8:46: error[invalid-random]",
        ],
    ),
    // Scenes and key families.
    (
        "[[rule]]\nid = \"a\"\nmatch.event = \"subscribe\"\nmatch.scene = \"s\"\nreply.text = \"y\"\n[[rule]]\nid = \"b\"\nmatch.event = \"CLICK\"\nmatch.key_regex = '(unclosed'\nreply.text = \"y\"\n[[rule]]\nid = \"c\"\nmatch.scene_regex = '^s(\\d+)$'\nreply.text = \"${2}\"\n[[rule]]\nid = \"d\"\nmatch.event = \"CLICK\"\nmatch.key = \"A\"\nmatch.key_prefix = \"B\"\nreply.text = \"y\"\n",
        &[
            "r.toml:3:15: error[misplaced-key]",
            "r.toml:9:19: error[invalid-regex]",
            "r.toml:14:15: error[invalid-template]",
            "r.toml:19:20: error[several-matchers]",
        ],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.event = \"unsubscribe\"\nreply.text = \"bye\"\n[[rule]]\nid = \"b\"\nmatch.event = \"CLICK\"\nmatch.key = \"MENU_*\"\nreply.text = \"y\"\n[[rule]]\nid = \"c\"\nmatch.event = \"CLICK\"\nvoice = true\nreply.none = true\n",
        &[
            "r.toml:4:14: warning[reply-not-shown]",
            "r.toml:8:19: warning[wildcard-key]",
            "r.toml:13:9: warning[ineffective-key]",
        ],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n[[test]]\nsend = \"x\"\nat = 2026-12-05T20:00:00\nexpect = \"a\"\n",
        &["r.toml:7:6: error[invalid-test]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.msg_type = \"imagee\"\nreply.text = \"y\"\n",
        &[
            "r.toml:3:18: warning[unknown-name]: WeChat is not known to send messages of type `imagee` (help: did you mean `image`?)",
        ],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.event = \"subscrib\"\nreply.text = \"y\"\n",
        &[
            "r.toml:3:15: warning[unknown-name]: WeChat is not known to send the event `subscrib` (help: did you mean `subscribe`?)",
        ],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.regex = '(x'\nreply.text = \"y\"\n",
        &["r.toml:3:15: error[invalid-regex]: invalid regex: unclosed group"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.regex = '(x)'\nreply.text = \"${2}\"\n",
        &[
            "r.toml:4:15: error[invalid-template]: `${2}` names a capture group that the regex \"(x)\" lacks",
        ],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.regex = '(?P<no>x)'\nreply.text = \"${no} ${nope}\"\n",
        &["r.toml:4:21: error[invalid-template]: `${nope}`"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"${1}\"\n",
        &[
            "r.toml:4:15: error[invalid-template]: `${1}` refers to a regex capture group, but the rule has no regex",
        ],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"a ${oops\"\n",
        &["r.toml:4:17: error[invalid-template]: `${` is not closed"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"  \"\n",
        &["r.toml:4:14: error[empty-reply]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.image = { media_id = \"\" }\n",
        &["r.toml:4:28: error[empty-reply]: media_id is empty"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.image = {}\n",
        &["r.toml:4:15: error[invalid-key]: missing field `media_id`"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.none = false\n",
        &["r.toml:4:14: error[invalid-key]: `reply.none` can only be `true`"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.news = []\n",
        &["r.toml:4:14: error[empty-reply]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.news = [{ title = \"1\" }, { title = \"2\" }]\n",
        &["r.toml:4:14: warning[news-articles]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.event = \"CLICK\"\nreply.transfer = {}\n",
        &["r.toml:4:18: warning[transfer-on-event]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nenabled = false\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
        &["r.toml:3:11: warning[disabled-rule]"],
    ),
    (
        "[[rule]]\nid = \"a\"\ncase_sensitive = true\nmatch.regex = \"x\"\nreply.text = \"y\"\n",
        &["r.toml:3:18: warning[ineffective-key]"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"Hi\"\nreply.text = \"y\"\n[[rule]]\nid = \"b\"\nmatch.exact = [\"x\", \"ＨＩ\"]\nreply.text = \"z\"\n",
        &[
            "r.toml:7:21: error[duplicate-keyword]: the exact keyword \"ＨＩ\" of rule `b` is also a keyword of rule `a` at the same priority (0)",
        ],
    ),
    // Different priorities, or both case-sensitive with different case: no clash.
    (
        "[[rule]]\nid = \"a\"\npriority = 1\nmatch.exact = \"hi\"\nreply.text = \"y\"\n[[rule]]\nid = \"b\"\nmatch.exact = \"hi\"\nreply.text = \"z\"\n",
        &[],
    ),
    (
        "[[rule]]\nid = \"a\"\ncase_sensitive = true\nmatch.exact = \"hi\"\nreply.text = \"y\"\n[[rule]]\nid = \"b\"\ncase_sensitive = true\nmatch.exact = \"HI\"\nreply.text = \"z\"\n",
        &[],
    ),
    (
        "[[test]]\nexpect = \"transfer\"\n",
        &["r.toml:1:1: error[invalid-test]: test has no message"],
    ),
    (
        "[[test]]\nsend = \"x\"\n",
        &["r.toml:1:1: error[invalid-test]: test has no `expect`"],
    ),
    (
        "[[test]]\nsend = \"x\"\nevent = \"CLICK\"\nexpect = \"none\"\n",
        &["r.toml:3:9: error[invalid-test]: test has both `send` and `event`"],
    ),
    (
        "[[test]]\nsend = \"x\"\nkey = \"K\"\nexpect = \"none\"\n",
        &["r.toml:3:7: error[invalid-test]: `key` only applies to an `event` test"],
    ),
    (
        "[[rule]]\nid = \"flow-promo\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n[[test]]\nsend = \"x\"\nexpect = \"flow-prmo\"\n",
        &[
            "r.toml:7:10: error[invalid-test]: no rule has the id `flow-prmo` (help: did you mean `flow-promo`?)",
        ],
    ),
    // A rule dropped for one bad key still has its id: the test naming it is not an error too.
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.txt = \"y\"\n[[test]]\nsend = \"x\"\nexpect = \"a\"\n",
        &["r.toml:4:7: error[invalid-key]: unknown field `txt`"],
    ),
    (
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n[[rule]]\nid = \"a\"\nmatch.exac = \"z\"\nreply.text = \"y\"\n",
        &[
            "r.toml:6:6: error[duplicate-id]",
            "r.toml:7:7: error[invalid-key]: unknown field `exac`",
        ],
    ),
    (
        "[[test]]\nmsg_type = \"text\"\nexpect = \"none\"\n",
        &["r.toml:2:12: error[invalid-test]: a text test is written `send = \"…\"`"],
    ),
    (
        "[[test]]\nsnd = \"x\"\nexpect = \"none\"\n",
        &["r.toml:2:1: error[invalid-key]: unknown field `snd`"],
    ),
];

#[test]
fn each_check_fires_at_the_right_place() {
    let mut failures = Vec::new();
    for (text, expected) in CASES {
        let got = diags(text);
        let ok = got.len() == expected.len()
            && got
                .iter()
                .zip(expected.iter())
                .all(|(g, e)| g.starts_with(e));
        if !ok {
            failures.push(format!(
                "for\n{text}expected {expected:#?}\n     got {got:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// "Did you mean" offers only the keys allowed where the misspelt one was written.
#[test]
fn suggestions_come_from_the_right_level() {
    let help = |text: &str| {
        let compiled = compile(&sources_from(&[("r.toml", text)]));
        compiled.diagnostics[0].help.clone().unwrap_or_default()
    };
    let rule = |m: &str, r: &str| format!("[[rule]]\nid = \"a\"\n{m}\n{r}\n");
    assert_eq!(
        help(&rule("match.txt = \"x\"", "reply.text = \"y\"")),
        "the keys allowed here are `exact`, `prefix`, `contains`, `regex`, `event`, `key`, `key_prefix`, `key_regex`, `scene`, `scene_prefix`, `scene_regex`, `msg_type`"
    );
    assert_eq!(
        help(&rule("match.exact = \"x\"", "reply.txt = \"y\"")),
        "did you mean `text`?"
    );
    assert_eq!(
        help(&rule("match.exat = \"x\"", "reply.text = \"y\"")),
        "did you mean `exact`?"
    );
    assert_eq!(
        help(&rule(
            "match.exact = \"x\"\npriorty = 1",
            "reply.text = \"y\""
        )),
        "did you mean `priority`?"
    );
    assert_eq!(
        help("[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.image = { media = \"m\" }\n"),
        "did you mean `media_id`?"
    );
}

#[test]
fn a_text_over_the_limit_is_an_error() {
    let long = "流".repeat(MAX_TEXT_BYTES / 3 + 1);
    let got = diags(&format!(
        "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"{long}\"\n"
    ));
    assert!(
        got[0].starts_with("r.toml:4:14: error[over-limit]: reply.text is 2049 bytes"),
        "{got:?}"
    );
    let nine = ["{ title = \"t\" }"; 9].join(", ");
    let got = diags(&format!(
        "[[rule]]\nid = \"a\"\nmatch.event = \"CLICK\"\nreply.news = [{nine}]\n"
    ));
    assert!(
        got[0].starts_with("r.toml:4:14: error[over-limit]: reply.news has 9 articles"),
        "{got:?}"
    );
}

#[test]
fn regexes_over_their_compile_budget_are_refused_at_the_one_that_crosses_it() {
    // Each regex fits its own limit; together they are over the budget, which is charged as
    // each is built: the diagnostic names the regex that crossed it, and the rest (and the set)
    // are not compiled at all.
    let rules: String = (0..60)
        .map(|i| {
            format!("[[rule]]\nid = \"r{i}\"\nmatch.regex = 'a{i}\\w{{150}}'\nreply.text = \"x\"\n")
        })
        .collect();
    let sources = sources_from(&[("r.toml", rules.as_str())]);
    let compiled = compile(&sources);
    assert!(compiled.set.is_none() && !compiled.complete);
    let over: Vec<_> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::InvalidRegex)
        .collect();
    assert_eq!(over.len(), 1, "{over:?}");
    let d = over[0];
    assert!(
        d.message.contains("compile budget of 64 MiB"),
        "{}",
        d.message
    );
    let at = d.short(&sources);
    assert!(at.starts_with("r.toml:"), "{at}");
    let line: usize = at.split(':').nth(1).unwrap().parse().unwrap();
    assert!(line > 4 && line < 60 * 4, "a regex in the middle: {at}");
    assert!(
        d.help.as_deref().is_some_and(|h| h.contains("simplify")),
        "{d:?}"
    );
}

#[test]
fn every_help_says_something() {
    for (text, _) in CASES {
        let sources = sources_from(&[("r.toml", *text)]);
        for d in compile(&sources).diagnostics {
            assert!(d.help.as_deref().is_some_and(|h| h.len() > 10), "{d:?}");
        }
    }
}

/// Compiling `sources` with every file cut at each entry gives what `whole` (compiled as one
/// piece per file) gave: the same rules, tests, spans and diagnostics.
fn assert_same_in_pieces(sources: &Sources, whole: &Compiled) {
    let none = Declared::default();
    let pieces = compile_in_pieces(sources, &none, Fingerprint::of(sources, &none), 1, None);
    assert_eq!(
        format!("{:?}", pieces.diagnostics),
        format!("{:?}", whole.diagnostics)
    );
    // The sets' parts, not the index: its hash maps list their keys in a random order. A file
    // read whole keeps no entry digests (reuse.rs): those are left out.
    let parts = |c: &Compiled| {
        c.set.as_ref().map(|s| {
            let text = format!(
                "{:?} {:?} {:?} {:?}",
                s.rules(),
                s.tests(),
                s.schedules(),
                s.files()
            );
            without_digests(&text)
        })
    };
    assert_eq!(parts(&pieces), parts(whole));
    assert_eq!(format!("{:?}", pieces.files), format!("{:?}", whole.files));
    assert_eq!(pieces.complete, whole.complete);
}

/// `debug` (of rules) with every `digest: Some(…)` written `digest: None`.
fn without_digests(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(at) = rest.find("digest: Some(EntryDigest(") {
        out.push_str(&rest[..at]);
        out.push_str("digest: None");
        let end = rest[at..].find("]))").expect("a digest's bytes end");
        rest = &rest[at + end + 3..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_shipped_rules_compile_the_same_in_pieces() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let files: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect();
    assert!(files.len() >= 3, "{files:?}");
    let cut = files
        .iter()
        .filter(|(_, text)| pieces::split(text, 1).is_some())
        .count();
    assert!(cut >= 2, "files cut into pieces: {cut}");
    for (path, text) in &files {
        let sources = sources_from(&[(path, text.as_str())]);
        assert_same_in_pieces(&sources, &compile(&sources));
    }
}

#[test]
fn a_piece_that_does_not_parse_sends_the_file_back_whole_with_nothing_kept_from_the_others() {
    // The second rule's piece is broken: the errors are the whole file's, and the first rule's
    // id and schedule are not left behind (no "already used" against a rule that is not there).
    let text = "[[schedule]]\nname = \"office\"\ntimezone = \"Asia/Shanghai\"\nweekly = [\"mon-fri 09:00-18:00\"]\n\n[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"y\"\nduring = \"office\"\n\n[[rule]]\nid = \"b\"\nmatch.exact = [\n";
    let valid = text.rsplit_once("[[rule]]\nid = \"b\"").unwrap().0;
    let sources = sources_from(&[("r.toml", text), ("s.toml", valid)]);
    let whole = compile(&sources);
    let codes: Vec<_> = whole.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::TomlSyntax], "{:?}", whole.diagnostics);
    assert_same_in_pieces(&sources, &whole);
}
