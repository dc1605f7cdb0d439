//! `replyd send`: post one message to a running daemon the way WeChat does, and print the
//! reply (decrypted in safe mode). The reply goes to stdout; what was done goes to stderr.

use std::io::Write as _;

use anyhow::{Context as _, anyhow};

use super::Exit;
use crate::cli::SendArgs;
use crate::client::{self, Outgoing};
use crate::protocol::reply::{self, Reply};

/// Runs `send`.
///
/// # Errors
///
/// A config without a token, a daemon that cannot be reached, a reply that does not verify,
/// or stdout that cannot be written.
pub fn run(args: SendArgs) -> anyhow::Result<Exit> {
    if args.key.is_some() && args.event.is_none() {
        return Err(super::UsageError(
            "--key is the EventKey of an event: give --event NAME too".into(),
        )
        .into());
    }
    let config = super::config_of(args.config.clone(), args.account.as_deref())?;
    let token = config.token()?.expose();
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
        (None, None) => return Err(super::UsageError("give a TEXT or --event".into()).into()),
    };
    let cipher = if args.plaintext {
        None
    } else {
        config.keys.as_ref().map(|k| &k.current)
    };
    let xml = client::message_xml(&outgoing, &args.from, &args.to);
    let prepared = client::prepare(&xml, token, cipher);
    let mode = if cipher.is_some() {
        "safe mode"
    } else {
        "plaintext"
    };
    eprintln!("→ POST {url} ({mode})");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let received = runtime.block_on(client::post(&url, &prepared))?;
    eprintln!("← {}", received.status);
    let body = match cipher {
        Some(c) if received.status == 200 && received.body != "success" => {
            match client::open_reply(&received.body, token, c) {
                Ok(plain) => {
                    eprintln!("  (encrypted reply: MsgSignature verified, decrypted)");
                    plain
                }
                Err(e) => {
                    println!("{}", received.body);
                    return Err(anyhow!(e));
                }
            }
        }
        _ => received.body,
    };
    if let Ok(parsed) = reply::parse(&body) {
        eprintln!("  reply: {}", summary(&parsed.reply));
    }
    writeln!(std::io::stdout().lock(), "{body}").context("cannot write the reply")?;
    // 1: the daemon answered, with an error status (as `try` uses 1 for "no rule answered").
    Ok(Exit::success_if((200..300).contains(&received.status)))
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
