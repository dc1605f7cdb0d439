//! Any body WeChat's URL might receive.
//!
//! Invariants: parsing never panics; a message that parses is answered by the engine without
//! panicking, and the reply it gets is XML that reads back as the same reply.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use replyd::protocol::{message, reply};
use replyd::ruleset::{RuleSet, compile, sources_from};

fn rules() -> &'static RuleSet {
    static SET: OnceLock<RuleSet> = OnceLock::new();
    SET.get_or_init(|| {
        let text = include_str!("../../rules/promo.toml").to_owned()
            + include_str!("../../rules/orders.toml")
            + include_str!("../../rules/menu.toml")
            + include_str!("../../rules/service.toml")
            + include_str!("../../rules/welcome.toml");
        compile(&sources_from(&[("rules.toml", text.as_str())]))
            .ruleset()
            .expect("shipped rules compile")
    })
}

fuzz_target!(|body: &[u8]| {
    let _ = message::encrypted_part(body);
    let Ok(m) = message::parse(body) else { return };
    let now: jiff::Timestamp = "2026-12-06T12:00:00Z".parse().expect("an instant");
    let answer = replyd::engine::respond(rules(), &m, &replyd::engine::Context::at(now));
    if let replyd::engine::Action::Reply(r) = answer.action {
        let xml = reply::render(&r, &m.from_user, &m.to_user, m.create_time);
        let parsed = reply::parse(&xml).expect("a rendered reply reads back");
        assert_eq!(
            parsed.to_user,
            m.from_user
                .chars()
                .filter(|&c| reply::is_xml_char(c))
                .collect::<String>()
        );
    }
});
