//! `replyd serve`: resolve the config, load the rules (refusing to start on any error), bind,
//! and answer until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use tracing::{error, info, warn};

use super::{EXIT_FAILURE, EXIT_RULE_ERRORS};
use crate::cli::ServeArgs;
use crate::config::{Config, Overrides};
use crate::diag::Severity;
use crate::load::{self, Loaded};
use crate::server::{self, Served, State};

/// Runs the daemon.
///
/// # Errors
///
/// When the daemon cannot start (configuration, bind) or the runtime fails.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        config: args.config,
        listen: args.listen,
        rules: args.rules,
    };
    let config = match Config::resolve(&overrides, |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            error!("{e}");
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
    };
    if let Some(file) = &config.file {
        info!(config = %file.display(), "configuration read");
    }
    let loaded = load::load(&config.rules).with_context(|| "cannot load the rules".to_owned())?;
    log_diagnostics(&loaded);
    let Some(ruleset) = loaded.ruleset else {
        let errors = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity() == Severity::Error)
            .count();
        error!(
            rules = %config.rules.display(),
            "refusing to start: the rules have {errors} error{}; `replyd lint {}` shows them in detail",
            if errors == 1 { "" } else { "s" },
            config.rules.display()
        );
        return Ok(ExitCode::from(EXIT_RULE_ERRORS));
    };
    for f in ruleset.files() {
        info!(file = %f.path.display(), rules = f.rules, tests = f.tests, "rule file loaded");
    }
    info!(
        rules = ruleset.rules().len(),
        enabled = ruleset.enabled_count(),
        files = ruleset.files().len(),
        tests = ruleset.tests().len(),
        dir = %config.rules.display(),
        "loaded {} rules from {} files",
        ruleset.rules().len(),
        ruleset.files().len()
    );
    let state = Arc::new(State {
        rules: ArcSwap::from_pointee(Served {
            ruleset,
            loaded_at: SystemTime::now(),
            generation: 1,
        }),
        token: config.token.clone(),
        path: config.path.clone(),
        max_body_bytes: config.max_body_bytes,
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener
            .local_addr()
            .context("cannot read the bound address")?;
        info!("listening on http://{addr}{}", config.path);
        warp::serve(server::routes(state))
            .incoming(listener)
            .graceful(shutdown_signal())
            .run()
            .await;
        info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Logs every diagnostic of a load in the one-line `file:line:col` form.
fn log_diagnostics(loaded: &Loaded) {
    for d in &loaded.diagnostics {
        let line = d.short(&loaded.sources);
        match d.severity() {
            Severity::Error => error!("{line}"),
            Severity::Warning => warn!("{line}"),
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => info!("SIGINT received, shutting down"),
        () = term => info!("SIGTERM received, shutting down"),
    }
}
