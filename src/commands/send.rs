//! `replyd send`: post one message to a running daemon the way WeChat does, and print the
//! reply (decrypted in safe mode). The reply goes to stdout; what was done goes to stderr.

use std::io::Write as _;
use std::process::ExitCode;

use super::EXIT_FAILURE;
use crate::cli::SendArgs;
use crate::client::{self, Outgoing};
use crate::config::{Config, Overrides};
use crate::protocol::reply::{self, Reply};

/// Runs `send`.
///
/// # Errors
///
/// When the async runtime cannot start or stdout cannot be written.
pub fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let config = match Config::resolve(
        &Overrides {
            config: args.config.clone(),
            ..Overrides::default()
        },
        |k| std::env::var(k).ok(),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
    };
    let url = args.url.clone().unwrap_or_else(|| {
        let mut listen = config.listen;
        if listen.ip().is_unspecified() {
            listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{listen}{}", config.path)
    });
    let outgoing = match (&args.text, &args.event) {
        (Some(t), _) => Outgoing::Text(t.clone()),
        (None, Some(name)) => Outgoing::Event {
            name: name.clone(),
            key: args.key.clone(),
        },
        (None, None) => {
            eprintln!("error: give a TEXT or --event");
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
    };
    let cipher = if args.plaintext {
        None
    } else {
        config.keys.as_ref().map(|k| &k.current)
    };
    let xml = client::message_xml(&outgoing, &args.from, &args.to);
    let prepared = client::prepare(&xml, config.token.expose(), cipher);
    let mode = if cipher.is_some() {
        "safe mode"
    } else {
        "plaintext"
    };
    eprintln!("→ POST {url} ({mode})");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let received = match runtime.block_on(client::post(&url, &prepared)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
    };
    eprintln!("← {}", received.status);
    let body = match cipher {
        Some(c) if received.status == 200 && received.body != "success" => {
            match client::open_reply(&received.body, config.token.expose(), c) {
                Ok(plain) => {
                    eprintln!("  (encrypted reply: MsgSignature verified, decrypted)");
                    plain
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    println!("{}", received.body);
                    return Ok(ExitCode::from(EXIT_FAILURE));
                }
            }
        }
        _ => received.body,
    };
    if let Ok(parsed) = reply::parse(&body) {
        eprintln!("  reply: {}", summary(&parsed.reply));
    }
    match writeln!(std::io::stdout().lock(), "{body}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    // 1: the daemon answered, with an error status (as `try` uses 1 for "no rule answered").
    Ok(ExitCode::from(if (200..300).contains(&received.status) {
        0
    } else {
        1
    }))
}

/// One line saying what a reply is.
fn summary(r: &Reply<'_>) -> String {
    match r {
        Reply::Text { content } => format!("text {content:?}"),
        Reply::News { articles } => {
            let titles: Vec<&str> = articles.iter().map(|a| a.title.as_ref()).collect();
            format!(
                "news, {} article(s): {}",
                articles.len(),
                titles.join(" | ")
            )
        }
        Reply::Transfer {
            kf_account: Some(kf),
        } => format!("to customer service, agent {kf}"),
        Reply::Transfer { kf_account: None } => "to customer service, any agent".to_owned(),
        other => other.msg_type().to_owned(),
    }
}
