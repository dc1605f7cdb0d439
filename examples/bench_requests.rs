//! Writes the requests the HTTP benchmark (`benches/http.sh`) replays with wrk: one line per
//! request, `TARGET<TAB>BODY`, each a distinct message (its own MsgId) signed with the token,
//! and in safe mode encrypted, exactly as WeChat would post it.
//!
//! Run: `cargo run --release --example bench_requests -- TOKEN COUNT TEXT [AES_KEY APP_ID] > file`.

use std::io::Write as _;

use replyd::client::{Outgoing, message_xml, prepare};
use replyd::protocol::crypto::Cipher;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: bench_requests TOKEN COUNT TEXT [AES_KEY APP_ID]");
        std::process::exit(2);
    }
    let (token, count, text) = (&args[1], args[2].parse::<usize>().expect("COUNT"), &args[3]);
    let cipher = args
        .get(4)
        .map(|key| Cipher::new(key, args.get(5).expect("APP_ID")).expect("AES key"));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..count {
        let xml = message_xml(
            &Outgoing::Text(text.clone()),
            &format!("oBenchFollower{}", i % 1000),
            "gh_bench",
        );
        let p = prepare(&xml, token, cipher.as_ref());
        writeln!(
            out,
            "/wechat?{}\t{}",
            p.query,
            p.body.replace(['\n', '\t'], " ")
        )
        .expect("write");
    }
}
