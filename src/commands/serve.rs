//! `replyd serve`: resolve the config, load the rules (refusing to start on any error), bind,
//! and answer until SIGINT or SIGTERM.

use std::sync::Arc;

use anyhow::Context as _;
use tracing::{error, info};

use super::Exit;
use crate::cli::ServeArgs;
use crate::clock::Clock;
use crate::config::{Config, Overrides};
use crate::diag::Severity;
use crate::load;
use crate::metrics::Metrics;
use crate::reload::Reloader;
use crate::server::{self, Site, State};
use crate::state::Rules;

/// Runs the daemon.
///
/// # Errors
///
/// When the daemon cannot start (configuration, bind) or the runtime fails.
pub fn run(args: ServeArgs) -> anyhow::Result<Exit> {
    let overrides = Overrides {
        config: args.config,
        listen: args.listen,
        rules: args.rules,
    };
    let config = Config::resolve(&overrides, |k| std::env::var(k).ok())?;
    // One account, or each of the [[account]]s.
    let accounts: Vec<&Config> = if config.accounts.is_empty() {
        vec![&config]
    } else {
        config.accounts.iter().collect()
    };
    let mut tokens = Vec::new();
    for a in &accounts {
        let token = a.token().map_err(|e| match &a.account {
            Some(name) => anyhow::Error::new(e).context(format!("account `{name}`")),
            None => anyhow::Error::new(e),
        })?;
        tokens.push(token.clone());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // SIGHUP is listened for before the first load, so that one sent while the rules load
    // (a deploy that signals too early) is a reload once they are served, not the end of the
    // daemon (SIGHUP's default action).
    // SIGINT and SIGTERM too: one sent while the rules load or the listeners bind is a
    // shutdown as soon as the daemon serves, not lost (a background process ignores SIGINT
    // until it listens for it) nor the end of a half-started process.
    let (hangups, stops) = {
        let _in_runtime = runtime.enter();
        (Hangups::listen(), Stops::listen())
    };
    // Logged once SIGHUP is listened for: from here on a SIGHUP is a reload.
    if let Some(file) = &config.file {
        info!(config = %file.display(), "configuration read");
    }
    let metrics: Vec<Arc<Metrics>> = if config.accounts.is_empty() {
        vec![Arc::new(Metrics::new())]
    } else {
        Metrics::for_accounts(&config.account_names())
            .into_iter()
            .map(Arc::new)
            .collect()
    };
    let mut states: Vec<Arc<State>> = Vec::new();
    let mut served = Vec::new();
    for ((account, token), metrics) in accounts.iter().zip(tokens).zip(metrics) {
        let redis = states.first().and_then(|s| s.shared.as_deref());
        let Some((state, rules)) = prepare(account, token, metrics, redis)? else {
            return Ok(Exit::Problems);
        };
        states.push(state);
        served.push(rules);
    }
    let site = Arc::new(Site::new(states));

    runtime.block_on(async move {
        let reloaders: Vec<Arc<Reloader>> = served
            .into_iter()
            .map(|rules| Arc::new(Reloader::start(rules, config.reload_settle)))
            .collect();
        hangups.reload_with(reloaders.clone());
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener
            .local_addr()
            .context("cannot read the bound address")?;
        let admin = match config.admin_listen {
            Some(a) => {
                let l = tokio::net::TcpListener::bind(a)
                    .await
                    .with_context(|| format!("cannot listen on {a} (admin_listen)"))?;
                let bound = l.local_addr().context("cannot read the bound address")?;
                info!("admin endpoints on http://{bound}/healthz and http://{bound}/metrics");
                Some(l)
            }
            None => None,
        };
        for state in site.accounts() {
            info!(
                account = state.account.as_deref(),
                "listening on http://{addr}{}", state.path
            );
        }
        server::serve(
            site,
            listener,
            admin,
            stops.wait(),
            server::Limits::of(&config),
        )
        .await;
        drop(reloaders);
        info!("stopped");
        Ok(Exit::Success)
    })
}

/// Loads one account's rules (refusing on any error: `None`) and builds what serves it.
fn prepare(
    config: &Config,
    token: crate::config::Secret,
    metrics: Arc<Metrics>,
    redis: Option<&crate::shared::Shared>,
) -> anyhow::Result<Option<(Arc<State>, Arc<Rules>)>> {
    let account = config.account.as_deref();
    // Absolute, so that logs, /healthz and the watcher all name the same directory.
    let dir = std::path::absolute(&config.rules).unwrap_or_else(|_| config.rules.clone());
    let declared = config.declared();
    let loaded =
        load::load_paths(std::slice::from_ref(&dir), &declared).with_context(|| match account {
            Some(name) => format!("cannot load the rules of account `{name}`"),
            None => "cannot load the rules".to_owned(),
        })?;
    loaded.log_diagnostics();
    let Some(ruleset) = loaded.ruleset else {
        let errors = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity() == Severity::Error)
            .count();
        error!(
            account,
            rules = %config.rules.display(),
            "refusing to start: the rules have {errors} error{}; `replyd lint {}` shows them in detail",
            if errors == 1 { "" } else { "s" },
            config.rules.display()
        );
        return Ok(None);
    };
    for f in ruleset.files() {
        info!(account, file = %f.path.display(), rules = f.rules, tests = f.tests, "rule file loaded");
    }
    info!(
        account,
        rules = ruleset.rules().len(),
        enabled = ruleset.enabled_count(),
        files = ruleset.files().len(),
        tests = ruleset.tests().len(),
        dir = %config.rules.display(),
        "loaded {} rules from {} files",
        ruleset.rules().len(),
        ruleset.files().len()
    );
    let commit = crate::git::head_commit(&dir);
    let rules = Arc::new(Rules::new(dir, ruleset, commit, metrics.clone()).with_declared(declared));
    for u in &config.forwarding.upstreams {
        info!(
            account,
            upstream = %u.name,
            url = %u.url,
            timeout_ms = u.timeout.as_millis() as u64,
            "upstream configured"
        );
    }
    let state = Arc::new(State::sharing(
        config,
        token,
        rules.clone(),
        metrics,
        Clock::system(),
        redis,
    ));
    if config.keys.is_some() {
        info!(
            account,
            require_encryption = config.require_encryption,
            "safe and compatible mode are on{}",
            if config.require_encryption {
                "; plaintext messages are refused"
            } else {
                ""
            }
        );
    }
    Ok(Some((state, rules)))
}

/// SIGHUP, listened for from start-up on.
struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    /// Starts listening (within a runtime); from now on SIGHUP no longer ends the process.
    fn listen() -> Hangups {
        #[cfg(unix)]
        {
            let signal = listen_for(tokio::signal::unix::SignalKind::hangup(), "SIGHUP");
            Hangups { signal }
        }
        #[cfg(not(unix))]
        Hangups {}
    }

    /// Each SIGHUP (including one received before this call) reloads every account's rules
    /// now.
    fn reload_with(self, reloaders: Vec<Arc<Reloader>>) {
        #[cfg(unix)]
        if let Some(mut hup) = self.signal {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    info!("SIGHUP received, reloading the rules");
                    for r in &reloaders {
                        r.trigger();
                    }
                }
            });
        }
        #[cfg(not(unix))]
        drop(reloaders);
    }
}

/// Starts listening for `kind` (within a runtime): from now on it no longer has its default
/// action, and one received is kept until it is waited for. `None` (logged) if it cannot be.
#[cfg(unix)]
fn listen_for(
    kind: tokio::signal::unix::SignalKind,
    name: &str,
) -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind)
        .inspect_err(|e| error!("cannot listen for {name}: {e}"))
        .ok()
}

/// SIGINT (Ctrl-C) and SIGTERM, listened for from start-up on.
struct Stops {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Stops {
    /// Starts listening (within a runtime); from now on either signal is kept until
    /// [`Stops::wait`] takes it.
    fn listen() -> Stops {
        #[cfg(unix)]
        {
            use tokio::signal::unix::SignalKind;
            Stops {
                interrupt: listen_for(SignalKind::interrupt(), "SIGINT"),
                terminate: listen_for(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        Stops {}
    }

    /// Resolves on the first SIGINT or SIGTERM, including one received before this call.
    async fn wait(self) {
        #[cfg(unix)]
        {
            async fn next(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = next(self.interrupt) => info!("SIGINT received, shutting down"),
                () = next(self.terminate) => info!("SIGTERM received, shutting down"),
            }
        }
        #[cfg(not(unix))]
        match tokio::signal::ctrl_c().await {
            Ok(()) => info!("Ctrl-C received, shutting down"),
            Err(e) => {
                error!("cannot listen for Ctrl-C: {e}");
                std::future::pending::<()>().await;
            }
        }
    }
}
