//! `/metrics`: what replyd does, in the Prometheus text format.
//!
//! One [`Metrics`] per daemon, with its own registry (no global state, so tests can run many).
//! A message is counted once: its first delivery counts in `replyd_messages_total` and the
//! reply metrics, a retry only in `replyd_retries_total`. Labels take values from a closed set
//! (message types, reply kinds, reasons) or from the rule files (rule ids, agent accounts), so
//! the number of series is bounded by the rules, never by what clients send; and rule ids by
//! [`MAX_RULE_SERIES`] too, since a catalogue has a rule per product.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::{
    Encoder as _, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};

/// The most rule ids the per-rule metrics name; answers of further rules are counted under
/// `rule="~other"` ([`OTHER_RULES`]). Without it a catalogue of 100,000 rules makes as many
/// series: about 50 MB of the daemon's memory and a `/metrics` page of as many lines.
pub const MAX_RULE_SERIES: usize = 1000;

/// The `rule` label of the answers of rules past [`MAX_RULE_SERIES`] (`~` starts no rule id).
pub const OTHER_RULES: &str = "~other";

/// The daemon's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// The rule ids named so far by `rule_answers` and `clipped`.
    rule_labels: Arc<Mutex<HashSet<Arc<str>>>>,
    /// Messages by `msg_type` (first deliveries).
    pub messages: IntCounterVec,
    /// Replies by `kind` (text, news, transfer_customer_service, …, success).
    pub replies: IntCounterVec,
    /// Answers by the `rule` that gave them (count with [`Metrics::rule_answered`]).
    pub rule_answers: IntCounterVec,
    /// Hand-overs to customer service, by `kf_account` (empty: any agent).
    pub transfers: IntCounterVec,
    /// Messages no rule answered, by what they got (`transfer` or `success`).
    pub fall_throughs: IntCounterVec,
    /// Requests refused for a bad `signature` or `msg_signature`.
    pub signature_failures: IntCounterVec,
    /// Requests refused with 4xx, by `reason`.
    pub bad_requests: IntCounterVec,
    /// Retries answered from the retry cache.
    pub retries: IntCounter,
    /// Text replies cut to WeChat's limit, by rule (count with [`Metrics::rule_clipped`]).
    pub clipped: IntCounterVec,
    /// Reloads by `result` (applied, rejected, unreadable).
    pub reloads: IntCounterVec,
    /// Rules in the served set.
    pub rules: IntGauge,
    /// Generation of the served set.
    pub generation: IntGauge,
    /// When the last reload finished (seconds since the epoch; 0 before the first).
    pub last_reload_time: IntGauge,
    /// 1 if the last reload was applied (or there was none yet), 0 if it failed.
    pub last_reload_success: IntGauge,
    /// Time to answer a webhook request, from the first byte of the handler to the reply.
    pub latency: Histogram,
    /// Forwards to upstreams, by `upstream` and `outcome` (ok, timeout, refused,
    /// error_status, invalid). Upstream names come from the config.
    pub upstream_requests: IntCounterVec,
    /// Time an upstream took to answer a forward, by `upstream`.
    pub upstream_latency: HistogramVec,
    /// Event copies, by `upstream` and `outcome` (sent, failed, dropped).
    pub upstream_copies: IntCounterVec,
    /// Redis calls that failed or took too long, by `op` (with `redis_url`).
    pub redis_errors: IntCounterVec,
    /// 1 while Redis answers (or no `redis_url` is set), 0 while replicas answer alone.
    pub redis_up: IntGauge,
    /// Deliveries that found the message answered, or being answered, by another replica, by
    /// `outcome` (answered: its answer was used; gave_up: it did not come within the bound, and
    /// this replica answered).
    pub redis_waits: IntCounterVec,
    /// WeChat API calls, by `api` and `result` (ok, an errcode, timeout, http, invalid).
    pub api_calls: IntCounterVec,
    /// Customer-service messages (`reply.all`'s follow-ups), by `outcome` (sent, failed,
    /// skipped, dropped).
    pub custom_messages: IntCounterVec,
    /// Agents online as last fetched; -1 while unknown.
    pub agents_online: IntGauge,
}

impl Metrics {
    /// Registers every metric in a new registry.
    ///
    /// # Panics
    ///
    /// Never in practice: registering fixed, distinct names in a fresh registry cannot fail.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        Metrics::process(&registry);
        Metrics::in_registry(registry, None)
    }

    /// One account's metrics each, in one registry (`/metrics` shows them all): every series
    /// carries the label `account`.
    pub fn for_accounts(names: &[&str]) -> Vec<Metrics> {
        let registry = Registry::new();
        Metrics::process(&registry);
        names
            .iter()
            .map(|name| Metrics::in_registry(registry.clone(), Some(name)))
            .collect()
    }

    /// Resident memory, CPU and open files of the process, as operators expect.
    fn process(registry: &Registry) {
        #[cfg(target_os = "linux")]
        {
            let _ = registry.register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ));
        }
        #[cfg(not(target_os = "linux"))]
        let _ = registry;
    }

    fn in_registry(registry: Registry, account: Option<&str>) -> Metrics {
        let opts = |name: &str, help: &str| {
            let o = Opts::new(name, help);
            match account {
                Some(a) => o.const_label("account", a),
                None => o,
            }
        };
        let counter_vec_of = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(opts(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let counter_vec =
            |name: &str, help: &str, label: &str| counter_vec_of(name, help, &[label]);
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::with_opts(opts(name, help)).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let retries = IntCounter::with_opts(opts(
            "replyd_retries_total",
            "Retried deliveries answered from the retry cache",
        ))
        .expect("valid metric");
        registry
            .register(Box::new(retries.clone()))
            .expect("unique metric");
        let latency = Histogram::with_opts(
            HistogramOpts::from(opts(
                "replyd_request_duration_seconds",
                "Time to answer a webhook request",
            ))
            .buckets(vec![
                0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
                0.1, 0.25, 1.0,
            ]),
        )
        .expect("valid metric");
        registry
            .register(Box::new(latency.clone()))
            .expect("unique metric");
        let upstream_latency = HistogramVec::new(
            HistogramOpts::from(opts(
                "replyd_upstream_duration_seconds",
                "Time an upstream took to answer a forwarded message",
            ))
            .buckets(vec![
                0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["upstream"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(upstream_latency.clone()))
            .expect("unique metric");
        let upstream_requests = counter_vec_of(
            "replyd_upstream_requests_total",
            "Messages forwarded to an upstream, by upstream and outcome",
            &["upstream", "outcome"],
        );
        let upstream_copies = counter_vec_of(
            "replyd_upstream_copies_total",
            "Event copies sent to an upstream, by upstream and outcome",
            &["upstream", "outcome"],
        );
        let m = Metrics {
            messages: counter_vec(
                "replyd_messages_total",
                "Messages received (first deliveries), by type",
                "msg_type",
            ),
            replies: counter_vec(
                "replyd_replies_total",
                "Replies sent (first deliveries), by kind",
                "kind",
            ),
            rule_answers: counter_vec(
                "replyd_rule_answers_total",
                "Messages answered, by rule id",
                "rule",
            ),
            transfers: counter_vec(
                "replyd_transfers_total",
                "Messages handed to customer service, by agent account (empty: any agent)",
                "kf_account",
            ),
            fall_throughs: counter_vec(
                "replyd_fall_throughs_total",
                "Messages no rule answered, by what they got (transfer or success)",
                "to",
            ),
            signature_failures: counter_vec(
                "replyd_signature_failures_total",
                "Requests refused for a bad signature",
                "signature",
            ),
            bad_requests: counter_vec(
                "replyd_bad_requests_total",
                "Requests refused with a 4xx, by reason",
                "reason",
            ),
            clipped: counter_vec(
                "replyd_replies_clipped_total",
                "Text replies that rendered over WeChat's 2047 bytes and were cut, by rule",
                "rule",
            ),
            reloads: counter_vec("replyd_reloads_total", "Rule reloads, by result", "result"),
            rules: gauge("replyd_rules", "Rules in the served set"),
            generation: gauge(
                "replyd_rules_generation",
                "Generation of the served rule set",
            ),
            last_reload_time: gauge(
                "replyd_last_reload_timestamp_seconds",
                "When the last reload finished (0 before the first)",
            ),
            last_reload_success: gauge(
                "replyd_last_reload_success",
                "1 if the last reload was applied (or none happened yet), 0 if it failed",
            ),
            redis_errors: counter_vec(
                "replyd_redis_errors_total",
                "Redis calls that failed or timed out, by operation",
                "op",
            ),
            redis_up: gauge(
                "replyd_redis_up",
                "1 while the shared Redis answers (or none is configured), 0 while degraded",
            ),
            redis_waits: counter_vec(
                "replyd_redis_waits_total",
                "Deliveries that found another replica's answer (or claim), by outcome",
                "outcome",
            ),
            api_calls: counter_vec_of(
                "replyd_wechat_api_calls_total",
                "Calls to WeChat's API, by endpoint and result (ok, an errcode, timeout, http, invalid)",
                &["api", "result"],
            ),
            custom_messages: counter_vec(
                "replyd_custom_messages_total",
                "Customer-service messages of reply.all, by outcome",
                "outcome",
            ),
            agents_online: gauge(
                "replyd_agents_online",
                "Customer-service agents online as last fetched; -1 while unknown",
            ),
            retries,
            latency,
            upstream_requests,
            upstream_latency,
            upstream_copies,
            registry,
            rule_labels: Arc::default(),
        };
        m.last_reload_success.set(1);
        m.redis_up.set(1);
        m.agents_online.set(-1);
        m
    }

    /// Counts an answer of `rule`.
    pub fn rule_answered(&self, rule: &Arc<str>) {
        self.rule_answers
            .with_label_values(&[self.rule_label(rule)])
            .inc();
    }

    /// Counts a text reply of `rule` cut to WeChat's limit.
    pub fn rule_clipped(&self, rule: &Arc<str>) {
        self.clipped
            .with_label_values(&[self.rule_label(rule)])
            .inc();
    }

    /// `rule` itself while fewer than [`MAX_RULE_SERIES`] ids are named, else [`OTHER_RULES`].
    fn rule_label<'a>(&self, rule: &'a Arc<str>) -> &'a str {
        let mut named = self
            .rule_labels
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if named.contains(&**rule) || (named.len() < MAX_RULE_SERIES && named.insert(rule.clone()))
        {
            rule
        } else {
            OTHER_RULES
        }
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding the registry's own families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_in_the_readme() {
        let dir = env!("CARGO_MANIFEST_DIR");
        let readme = std::fs::read_to_string(format!("{dir}/README.md")).unwrap();
        let source = std::fs::read_to_string(format!("{dir}/src/metrics.rs")).unwrap();
        let names: Vec<&str> = source
            .split('"')
            .filter(|s| {
                s.len() > "replyd_".len()
                    && s.starts_with("replyd_")
                    && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
            .collect();
        assert!(names.len() > 20, "{names:?}");
        for name in names {
            let quoted = format!("`{name}`");
            assert!(
                readme
                    .lines()
                    .any(|l| l.starts_with("| `") && l.contains(&quoted)),
                "{name} is not in README's metrics table"
            );
        }
    }

    #[test]
    fn renders_every_family_in_text_format() {
        let m = Metrics::new();
        m.messages.with_label_values(&["text"]).inc();
        m.bad_requests.with_label_values(&["not_xml"]).inc_by(2);
        m.latency.observe(0.0002);
        let text = m.render();
        assert!(
            text.contains("# TYPE replyd_messages_total counter"),
            "{text}"
        );
        assert!(
            text.contains("replyd_messages_total{msg_type=\"text\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("replyd_bad_requests_total{reason=\"not_xml\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("replyd_request_duration_seconds_bucket{le=\"0.00025\"} 1"),
            "{text}"
        );
        assert!(text.contains("replyd_last_reload_success 1"), "{text}");
    }

    #[test]
    fn rule_ids_past_the_cap_are_counted_together() {
        let m = Metrics::new();
        for i in 0..MAX_RULE_SERIES + 10 {
            m.rule_answered(&Arc::from(format!("sku-{i}")));
        }
        // A rule named before the cap keeps its series.
        m.rule_answered(&Arc::from("sku-0"));
        m.rule_clipped(&Arc::from("sku-5000"));
        let text = m.render();
        assert!(
            text.contains("replyd_rule_answers_total{rule=\"sku-0\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("replyd_rule_answers_total{rule=\"~other\"} 10"),
            "{text}"
        );
        assert!(
            text.contains("replyd_replies_clipped_total{rule=\"~other\"} 1"),
            "{text}"
        );
        let series = text
            .lines()
            .filter(|l| l.starts_with("replyd_rule_answers_total{"))
            .count();
        assert_eq!(series, MAX_RULE_SERIES + 1);
    }
}
