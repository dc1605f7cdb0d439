//! The message parser (`replyd::protocol::message::parse`) over the published sample messages:
//! a text message (what most of a follower's traffic is), an event with a nested detail
//! (`SendPicsInfo`), and the envelope of a safe-mode message (only its `Encrypt` is read).
//!
//! Run: `cargo bench --bench parse`. What a parse costs in instructions, under valgrind, is in
//! `benches/http/count.sh`'s figures for a whole request.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use replyd::protocol::message::{encrypted_part, parse};

fn sample(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/messages/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for name in ["text.xml", "event_pic_sysphoto.xml"] {
        let body = sample(name);
        parse(&body).expect("the sample parses");
        group.bench_function(name, |b| b.iter(|| parse(black_box(&body))));
    }
    let envelope = sample("encrypted_safe_mode.xml");
    encrypted_part(&envelope).expect("the envelope parses");
    group.bench_function("encrypted_safe_mode.xml (envelope)", |b| {
        b.iter(|| encrypted_part(black_box(&envelope)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
