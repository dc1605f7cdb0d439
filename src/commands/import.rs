//! `replyd import`: reads the console's auto-reply (a file, standard input, or WeChat with
//! `--fetch`), converts it (`crate::import`), writes the rule file and reports on stderr what
//! could not be carried over.

use std::io::{Read as _, Write as _};
use std::sync::Arc;

use anyhow::{Context as _, anyhow};

use super::Exit;
use crate::cli::ImportArgs;
use crate::clock::Clock;
use crate::import;
use crate::metrics::Metrics;
use crate::upstream::Client;
use crate::wechat_api::Api;

/// Runs `import`.
///
/// # Errors
///
/// An input that cannot be read or fetched or is not the API's answer, a config without the
/// API for `--fetch`, or an output that cannot be written.
pub fn run(args: ImportArgs) -> anyhow::Result<Exit> {
    let json = match (&args.file, args.fetch) {
        (_, true) => fetch(args.config.clone(), args.account.as_deref())?,
        (Some(path), false) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read standard input")?;
            text
        }
        (Some(path), false) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (None, false) => unreachable!("clap requires FILE or --fetch"),
    };
    let imported = import::convert(&json)?;
    match &args.out {
        Some(path) => std::fs::write(path, &imported.toml)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(imported.toml.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write the rule file to stdout")?;
        }
    }
    let mut err = std::io::stderr().lock();
    for n in &imported.notes {
        let _ = writeln!(
            err,
            "warning: {}: {}\n  = help: {}",
            n.rule, n.message, n.fix
        );
    }
    if imported.uses_all {
        let _ = writeln!(
            err,
            "note: the rules use reply.all, which sends through WeChat's API: set app_secret (and app_id) in replyd.toml"
        );
    }
    let _ = writeln!(
        err,
        "imported {} rules ({} disabled: nothing they could send), {} things to finish by hand{}",
        imported.rules,
        imported.disabled,
        imported.notes.len(),
        args.out
            .as_ref()
            .map(|p| format!("; wrote {}", p.display()))
            .unwrap_or_default()
    );
    Ok(Exit::Success)
}

/// `get_current_autoreply_info`, fetched with the config's credentials.
fn fetch(config: Option<std::path::PathBuf>, account: Option<&str>) -> anyhow::Result<String> {
    let config = super::config_of(config, account)?;
    let api = config.api.clone().ok_or_else(|| {
        anyhow!("--fetch needs WeChat's API: set app_id and app_secret (REPLYD_APP_SECRET) in the config")
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let value = runtime.block_on(async {
        let metrics = Arc::new(Metrics::new());
        let api = Api::new(
            api,
            Client::new(config.max_body_bytes),
            metrics,
            Clock::system(),
            None,
        );
        api.autoreply_info().await
    });
    let value =
        value.context("cannot fetch the console's auto-reply (get_current_autoreply_info)")?;
    Ok(value.to_string())
}
