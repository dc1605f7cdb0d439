//! The agents online, refreshed in the background and read from memory on the request path.
//! Until the first fetch succeeds, and whenever a fetch fails, nothing is known and every
//! hand-over goes ahead as without `offline` replies.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::Api;
use crate::agents::{Agents, Online};
use crate::metrics::Metrics;

/// What replyd knows of who is online.
#[derive(Debug, Default)]
pub struct OnlineAgents {
    current: ArcSwapOption<Online>,
}

impl Agents for OnlineAgents {
    fn offline(&self, kf_account: Option<&str>) -> bool {
        self.current
            .load()
            .as_ref()
            .is_some_and(|o| o.offline(kf_account))
    }
}

impl OnlineAgents {
    /// Fetches the list now, and every `api.online_refresh()` after, while `needed` says an
    /// offline reply could use it (within a tokio runtime).
    pub fn start(
        self: &Arc<Self>,
        api: Arc<Api>,
        metrics: Arc<Metrics>,
        needed: impl Fn() -> bool + Send + 'static,
    ) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(api.online_refresh());
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(me) = me.upgrade() else { break };
                if !needed() {
                    continue;
                }
                match api.online_agents().await {
                    Ok(list) => {
                        metrics.agents_online.set(list.len() as i64);
                        me.current.store(Some(Arc::new(Online(list))));
                    }
                    Err(_) => {
                        // Logged and counted by the call; hand-overs go ahead meanwhile.
                        metrics.agents_online.set(-1);
                        me.current.store(None);
                    }
                }
            }
        });
    }
}
