//! The operators' endpoints: `/healthz` and `/metrics`.

use std::time::{Duration, SystemTime};

use hyper::http::StatusCode;

use super::{Response, Site, State, response};
use crate::shared::Health;
use crate::state::Outcome;

/// `/healthz`: the set being served and the last reload. 200 while the files on disk are what
/// is served; 503 when the last reload failed (replyd still answers WeChat from the last good
/// set, but the files say something else). With several accounts: each under `accounts`, and
/// 200 only while every one serves what its files say.
pub(super) fn healthz(site: &Site) -> Response {
    let (status, body) = match site.accounts() {
        [one] if one.account.is_none() => account(one),
        accounts => {
            let mut failing = false;
            let list: Vec<serde_json::Value> = accounts
                .iter()
                .map(|a| {
                    let (status, mut v) = account(a);
                    failing |= status != StatusCode::OK;
                    v["name"] = a.account.as_deref().unwrap_or_default().into();
                    v
                })
                .collect();
            let redis = list.first().map(|a| a["redis"].clone()).unwrap_or_default();
            let body = serde_json::json!({
                "status": if failing { "reload_failed" } else { "ok" },
                "redis": redis,
                "accounts": list,
            });
            let status = if failing {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            (status, body)
        }
    };
    response::with_type(status, "application/json", body.to_string())
}

/// One account's health.
fn account(state: &State) -> (StatusCode, serde_json::Value) {
    let served = state.rules.load();
    let status = state.rules.status();
    let time = |t: SystemTime| humantime::format_rfc3339_seconds(t).to_string();
    let last_reload = status.last.as_ref().map(|(at, outcome)| {
        let mut v = match outcome {
            Outcome::Applied { generation } => {
                serde_json::json!({ "result": "applied", "generation": generation })
            }
            Outcome::Rejected { errors } => {
                serde_json::json!({ "result": "rejected", "errors": errors })
            }
            Outcome::Unreadable { error } => {
                serde_json::json!({ "result": "unreadable", "errors": [error] })
            }
            Outcome::Crashed { error } => {
                serde_json::json!({ "result": "crashed", "errors": [error] })
            }
        };
        v["at"] = time(*at).into();
        v
    });
    // Redis failing does not make replyd unhealthy either: each replica answers alone.
    let (redis, redis_since) = match state.shared.as_ref().map(|s| s.health()) {
        None => ("off", None),
        Some(Health::Ok) => ("ok", None),
        Some(Health::Degraded { since }) => (
            "degraded",
            Some(time(SystemTime::UNIX_EPOCH + Duration::from_secs(since))),
        ),
    };
    let body = serde_json::json!({
        "redis": redis,
        "redis_degraded_since": redis_since,
        "status": if status.is_failing() { "reload_failed" } else { "ok" },
        "serving": {
            "generation": served.generation,
            "loaded_at": time(served.loaded_at),
            "rules": served.ruleset.rules().len(),
            "enabled": served.ruleset.enabled_count(),
            "files": served.ruleset.files().len(),
            "dir": state.rules.dir().display().to_string(),
            "commit": served.commit,
        },
        "last_reload": last_reload,
        "failing_since": status.failing_since.map(time),
        "reloading_since": state.rules.reloading_since().map(time),
        // An upstream that fails does not make replyd unhealthy: it still answers (as if there
        // were no upstream); operators see here which upstream fails, since when and how.
        "upstreams": state.upstreams.all().iter().map(|u| {
            let health = u.health();
            serde_json::json!({
                "name": u.spec.name,
                "url": u.spec.url.to_string(),
                "last_success": health.last_success.map(time),
                "last_failure": health.last_failure.map(|(at, outcome, detail)| serde_json::json!({
                    "at": time(at), "outcome": outcome.as_str(), "error": detail,
                })),
            })
        }).collect::<Vec<_>>(),
    });
    let code = if status.is_failing() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, body)
}

/// `/metrics`: the Prometheus text format.
pub(super) fn metrics(state: &State) -> Response {
    response::with_type(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        state.metrics.render(),
    )
}
