//! Which customer-service agents are online, as far as replyd knows: a hand-over to an agent
//! who is offline (or, with no agent named, when nobody is online) leaves the follower waiting,
//! so a rule's `offline` reply answers instead.
//!
//! The engine asks through [`Agents`], a small trait, so that dry runs use [`Unknown`] (every
//! hand-over goes ahead) and the daemon the list it fetches from WeChat's API in the
//! background. A lookup never waits on IO.

/// Who is online.
pub trait Agents: Send + Sync + std::fmt::Debug {
    /// Whether a hand-over to `kf_account` (or, for `None`, to any agent) is known to find
    /// nobody: `false` whenever replyd does not know.
    fn offline(&self, kf_account: Option<&str>) -> bool;
}

/// Nothing is known: every hand-over goes ahead (`try`, `[[test]]`s, and the daemon before its
/// first fetch).
#[derive(Debug, Default, Clone, Copy)]
pub struct Unknown;

impl Agents for Unknown {
    fn offline(&self, _: Option<&str>) -> bool {
        false
    }
}

/// The accounts of the agents online, as last fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Online(pub Vec<String>);

impl Agents for Online {
    fn offline(&self, kf_account: Option<&str>) -> bool {
        match kf_account {
            None => self.0.is_empty(),
            Some(kf) => !self.0.iter().any(|a| a == kf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_is_offline_only_when_the_list_says_so() {
        assert!(!Unknown.offline(None) && !Unknown.offline(Some("a@gh")));
        let online = Online(vec!["a@gh".into()]);
        assert!(!online.offline(None));
        assert!(!online.offline(Some("a@gh")));
        assert!(online.offline(Some("b@gh")));
        assert!(Online::default().offline(None));
    }
}
