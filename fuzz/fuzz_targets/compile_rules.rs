//! Any rule file.
//!
//! Invariants: compiling never panics and always says why a file is refused; a set that
//! compiles answers texts and events without panicking, and every diagnostic renders.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replyd::protocol::{Body, Event, Message};
use replyd::ruleset::{compile, sources_from};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let sources = sources_from(&[("fuzz.toml", text)]);
    let compiled = compile(&sources);
    for d in &compiled.diagnostics {
        let _ = d.short(&sources);
    }
    let _ = replyd::diag::render::json(&compiled.diagnostics, &sources);
    match compiled.set.filter(|_| compiled.complete) {
        None => assert!(
            replyd::diag::has_errors(&compiled.diagnostics),
            "a refused set says why"
        ),
        Some(set) => {
            let _ = replyd::analysis::shadowing(&set);
            // A fixed instant: the same input always takes the same path.
            let now: jiff::Timestamp = "2026-12-06T12:00:00Z".parse().expect("an instant");
            let _ = replyd::analysis::run_tests(&set, now);
            for body in [
                Body::Text {
                    content: text.chars().take(64).collect(),
                },
                Body::Text {
                    content: "订单 123456".into(),
                },
                Body::Event(Event::Click {
                    key: "ABOUT_US".into(),
                }),
                Body::Event(Event::Subscribe {
                    key: None,
                    ticket: None,
                }),
                Body::of_type("image").expect("a known type"),
            ] {
                let m = Message {
                    to_user: "gh".into(),
                    from_user: "u".into(),
                    create_time: 1,
                    msg_id: None,
                    body,
                };
                let _ = replyd::engine::respond(&set, &m, &replyd::engine::Context::at(now));
            }
        }
    }
});
