//! Answering WeChat's retries once.
//!
//! When WeChat gets no answer within 5 seconds it delivers the same message again, up to three
//! more times (Tencent's 接收普通消息: 微信服务器在五秒内收不到响应会断掉连接，并且重新发起请求，总共
//! 重试三次). A retry must get exactly the reply the first delivery got, even
//! if the rules were reloaded in between, and a retry that arrives while the first delivery is
//! still being answered must wait for that answer rather than compute another.
//!
//! So the cache maps a message's identity to a `OnceCell` holding its plaintext reply. The first
//! delivery inserts the cell and fills it; any other delivery of the same message finds the cell
//! and waits on it (tokio's `OnceCell::get_or_init` does exactly that). The identity is the
//! follower and `MsgId` for a user message (MsgId alone collides across followers, WxJava#333),
//! and the follower, `CreateTime`, event and `EventKey` for an event. Entries live for the window
//! and the cache holds at most `capacity` of them; the oldest go first.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher as _, Hasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use siphasher::sip128::{Hasher128 as _, SipHasher13};
use tokio::sync::OnceCell;

use crate::clock::Clock;
use crate::protocol::{Body, Message, ReplyKind};
use crate::upstream::Outcome;

/// A reply as it was first given: the plaintext answer, and what answered it, for logs and
/// metrics. Cloning it copies no text: every part is shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// What is sent back (before safe mode encrypts it).
    pub passive: Passive,
    /// The rule that answered (its id, shared with the rule set); `None` for the fall-through.
    pub rule: Option<Arc<str>>,
    /// For a transfer to one agent, the agent's account.
    pub kf_account: Option<Arc<str>>,
    /// The upstream the message was forwarded to, and how that went.
    pub upstream: Option<(Arc<str>, Outcome)>,
}

impl Answered {
    /// `passive`, given by `rule` (`None`: the fall-through), with no agent and no upstream.
    pub fn new(passive: Passive, rule: Option<Arc<str>>) -> Answered {
        Answered {
            passive,
            rule,
            kf_account: None,
            upstream: None,
        }
    }
}

/// The body of the HTTP answer to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passive {
    /// `success`: nothing to say (WeChat shows the follower nothing).
    Success,
    /// A passive reply.
    Reply {
        /// The reply XML, shared by the cache and every response.
        xml: Bytes,
        /// Its kind.
        kind: ReplyKind,
    },
    /// An upstream's answer, relayed unchanged (in safe mode the backend encrypted it).
    Relayed {
        /// The body: empty, `success` or a reply XML.
        body: Bytes,
    },
}

impl Passive {
    /// The plaintext body: the reply XML, or `success`.
    pub fn body(&self) -> &[u8] {
        match self {
            Passive::Success => b"success",
            Passive::Reply { xml, .. } => xml,
            Passive::Relayed { body } => body,
        }
    }

    /// The reply's `MsgType`, or `success`: the log's and the metrics' name for it.
    pub fn label(&self) -> &'static str {
        match self {
            Passive::Success => "success",
            Passive::Reply { kind, .. } => kind.msg_type(),
            Passive::Relayed { .. } => "upstream",
        }
    }
}

/// How an answer came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The first delivery: the engine answered it.
    First,
    /// A retry: answered from the cache (or by waiting for the first delivery's answer).
    Retry,
}

/// The retry cache.
#[derive(Debug)]
pub struct Dedup {
    window: Duration,
    capacity: usize,
    max_bytes: usize,
    clock: Clock,
    /// SipHash-1-3's 128-bit digest, keyed at random per process: a message's key is the
    /// digest of its identity and content, so a key costs 16 bytes whatever a client sends,
    /// and a client cannot make two messages share one without the key.
    digest: SipHasher13,
    inner: Mutex<Inner>,
}

type Cell = Arc<OnceCell<Answered>>;

/// A message's key in the cache: a digest of its identity and content.
type Key = u128;

/// The most bytes of answers the cache holds (besides its `capacity` in entries): a reply can
/// echo a client's text through a template, so entries are not all small.
pub const MAX_ANSWER_BYTES: usize = 64 << 20;

#[derive(Debug, Default)]
struct Inner {
    /// Key → (when it was inserted, on the clock's monotonic scale; the answer; its bytes).
    /// The keys are keyed digests a client cannot aim, so the map needs no SipHash of its own.
    map: HashMap<Key, (Duration, Cell, usize), foldhash::fast::RandomState>,
    /// Insertion order, for expiry and the caps.
    order: VecDeque<(Duration, Key)>,
    /// Bytes of the answers held.
    bytes: usize,
}

impl Dedup {
    /// A cache that remembers answers for `window` of `clock`'s time, at most `capacity` of
    /// them.
    pub fn new(window: Duration, capacity: usize, clock: Clock) -> Dedup {
        Dedup {
            window,
            capacity: capacity.max(1),
            max_bytes: MAX_ANSWER_BYTES,
            clock,
            digest: {
                // Two 64-bit halves of a random key, from std's per-process random keys.
                let half = || RandomState::new().hash_one(0_u8);
                SipHasher13::new_with_keys(half(), half())
            },
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The same cache holding at most `bytes` of answers instead of [`MAX_ANSWER_BYTES`].
    #[cfg(test)]
    fn with_max_answer_bytes(mut self, bytes: usize) -> Dedup {
        self.max_bytes = bytes;
        self
    }

    /// The answer to `message`: computed by `answer` on the first delivery, the same one on
    /// every retry within the window. A retry is the same message identity *and* the same
    /// content (`xml`, the message as parsed: decrypted in safe mode) arriving the same way
    /// (`encrypted` or not): a "retry" whose content differs is a new message, so nobody can
    /// decide a follower's answer by sending their MsgId first.
    ///
    /// `answer` may take time (a forward to an upstream): a retry that arrives meanwhile waits
    /// for it, so the answer is computed once. It also says whether the answer is a first
    /// delivery's: with replicas, another replica may have given it (the `shared` module).
    pub async fn answer<F>(
        &self,
        message: &Message,
        xml: &[u8],
        encrypted: bool,
        answer: impl FnOnce() -> F,
    ) -> (Answered, Delivery)
    where
        F: Future<Output = (Answered, Delivery)>,
    {
        let key = self.key(message, xml, encrypted);
        let now = self.clock.monotonic();
        let cell = self.cell(key, now);
        // `None` when another delivery in this process filled the cell.
        let mut computed = None;
        let answered = cell
            .get_or_init(|| async {
                let (answered, how) = answer().await;
                computed = Some(how);
                answered
            })
            .await
            .clone();
        // The cell this delivery filled holds the answer's bytes, whoever gave the answer.
        if computed.is_some() {
            self.account(key, now, answered.passive.body().len());
        }
        (answered, computed.unwrap_or(Delivery::Retry))
    }

    /// How long a retry gets the first answer.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The 128-bit keyed digest of a message's identity, its content and how it came.
    fn key(&self, message: &Message, xml: &[u8], encrypted: bool) -> Key {
        let mut h = self.digest;
        identity(message, &mut h);
        h.write_u8(u8::from(encrypted));
        h.write(xml);
        h.finish128().as_u128()
    }

    /// Records the size of a first delivery's answer, and forgets the oldest answers while the
    /// cache holds more than its byte cap.
    fn account(&self, key: Key, inserted: Duration, bytes: usize) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if let Some(entry) = inner.map.get_mut(&key)
            && entry.0 == inserted
        {
            entry.2 = bytes;
            inner.bytes += bytes;
        }
        while inner.bytes > self.max_bytes && inner.pop_oldest() {}
    }

    /// How many messages are remembered.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the map inconsistent (each operation is
        // a single insert or remove), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cell(&self, key: Key, now: Duration) -> Cell {
        let mut guard = self.lock();
        let inner = &mut *guard;
        // Forget what is past the window, and the oldest beyond the capacity.
        while let Some((at, _)) = inner.order.front() {
            let expired = now.saturating_sub(*at) > self.window;
            if !expired && inner.map.len() < self.capacity {
                break;
            }
            inner.pop_oldest();
        }
        match inner.map.entry(key) {
            Entry::Occupied(entry) => entry.get().1.clone(),
            Entry::Vacant(entry) => {
                inner.order.push_back((now, key));
                entry.insert((now, Cell::default(), 0)).1.clone()
            }
        }
    }
}

impl Inner {
    /// Forgets the oldest entry; `false` when there is none.
    fn pop_oldest(&mut self) -> bool {
        let Some((at, old)) = self.order.pop_front() else {
            return false;
        };
        if let Entry::Occupied(entry) = self.map.entry(old)
            && entry.get().0 == at
        {
            self.bytes -= entry.remove().2;
        }
        true
    }
}

/// The digest that names a message on every replica: SHA-1 of what [`Dedup`] keys it by (its
/// identity, how it came and its content), with no per-process key, so that replicas agree.
/// Only signed deliveries reach it, and a follower can only collide with their own messages.
pub fn shared_key(message: &Message, xml: &[u8], encrypted: bool) -> [u8; 20] {
    use sha1::Digest as _;
    /// Feeds a `Hasher`'s writes to SHA-1, lengths as 8 bytes whatever the platform.
    struct Sha1Writer(sha1::Sha1);
    impl Hasher for Sha1Writer {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn write_usize(&mut self, n: usize) {
            self.0.update((n as u64).to_le_bytes());
        }
        fn finish(&self) -> u64 {
            0
        }
    }
    let mut w = Sha1Writer(sha1::Sha1::new());
    identity(message, &mut w);
    w.write_u8(u8::from(encrypted));
    w.write_usize(xml.len());
    w.write(xml);
    w.0.finalize().into()
}

/// Writes what identifies a delivery of a message, the same for every retry of it, into a
/// hasher. Each part is prefixed with its length, so that no choice of field values can make
/// two different messages write the same bytes.
fn identity(m: &Message, h: &mut impl Hasher) {
    let mut push = |part: &str| {
        h.write_usize(part.len());
        h.write(part.as_bytes());
    };
    push(&m.to_user);
    push(&m.from_user);
    match (&m.msg_id, m.event()) {
        (Some(id), None) => {
            push("m");
            push(id);
        }
        (_, Some(e)) => {
            push("e");
            push(itoa::Buffer::new().format(m.create_time));
            push(e.name());
            push(e.key().unwrap_or(""));
        }
        (None, None) => {
            // No MsgId (WeChat always sends one with a user message): the time and type, and
            // for a text its content, so that two texts of the same second stay apart.
            push("t");
            push(itoa::Buffer::new().format(m.create_time));
            push(m.msg_type());
            if let Body::Text { content } = &m.body {
                push(content);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Event;

    fn text(from: &str, msg_id: &str) -> Message {
        Message {
            to_user: "gh".into(),
            from_user: from.into(),
            create_time: 1,
            msg_id: Some(msg_id.into()),
            body: Body::Text {
                content: "x".into(),
            },
        }
    }

    fn event(from: &str, create_time: u64, key: &str) -> Message {
        Message {
            to_user: "gh".into(),
            from_user: from.into(),
            create_time,
            msg_id: None,
            body: Body::Event(Event::Click { key: key.into() }),
        }
    }

    /// Asks the cache about `m`, its content standing in as its debug form.
    async fn ask(
        d: &Dedup,
        m: &Message,
        answer: impl FnOnce() -> Answered,
    ) -> (Answered, Delivery) {
        d.answer(m, format!("{m:?}").as_bytes(), false, || {
            std::future::ready((answer(), Delivery::First))
        })
        .await
    }

    #[tokio::test]
    async fn the_answers_held_are_capped_in_bytes_too() {
        let d = Dedup::new(Duration::from_secs(60), 1_000, Clock::system())
            .with_max_answer_bytes(10_000);
        let big = "x".repeat(4_000);
        for i in 0..10 {
            ask(&d, &text("u", &i.to_string()), || answered(&big)).await;
        }
        // 10 answers of 4,000 bytes: only the last two fit in 10,000.
        assert_eq!(d.len(), 2);
        assert_eq!(
            ask(&d, &text("u", "9"), || answered("?")).await.1,
            Delivery::Retry
        );
        assert_eq!(
            ask(&d, &text("u", "0"), || answered("?")).await.1,
            Delivery::First
        );
    }

    #[tokio::test]
    async fn a_retry_must_match_the_content_and_the_way_it_came() {
        let d = Dedup::new(Duration::from_secs(60), 100, Clock::system());
        let m = text("victim", "7");
        let first = d
            .answer(&m, b"<xml>attacker's text</xml>", false, || {
                std::future::ready((answered("A"), Delivery::First))
            })
            .await;
        assert_eq!(first.1, Delivery::First);
        // The victim's real message: the same follower and MsgId, other content.
        let (a, delivery) = d
            .answer(&m, b"<xml>real text</xml>", false, || {
                std::future::ready((answered("R"), Delivery::First))
            })
            .await;
        assert_eq!((a.passive.body(), delivery), (&b"R"[..], Delivery::First));
        // The same content, but encrypted this time: not a retry of the plaintext one.
        let (a, delivery) = d
            .answer(&m, b"<xml>real text</xml>", true, || {
                std::future::ready((answered("S"), Delivery::First))
            })
            .await;
        assert_eq!((a.passive.body(), delivery), (&b"S"[..], Delivery::First));
        // A real retry.
        let (a, delivery) = d
            .answer(&m, b"<xml>real text</xml>", true, || {
                std::future::ready((answered("?"), Delivery::First))
            })
            .await;
        assert_eq!((a.passive.body(), delivery), (&b"S"[..], Delivery::Retry));
    }

    fn answered(body: &str) -> Answered {
        Answered {
            passive: Passive::Reply {
                xml: Bytes::copy_from_slice(body.as_bytes()),
                kind: ReplyKind::Text,
            },
            rule: None,
            kf_account: None,
            upstream: None,
        }
    }

    #[tokio::test]
    async fn an_answer_another_replica_gave_is_a_retry_and_is_kept() {
        let d = Dedup::new(Duration::from_secs(60), 100, Clock::system()).with_max_answer_bytes(10);
        let m = text("u", "1");
        let (a, delivery) = d
            .answer(&m, b"x", false, || {
                std::future::ready((answered("theirs"), Delivery::Retry))
            })
            .await;
        assert_eq!(
            (a.passive.body(), delivery),
            (&b"theirs"[..], Delivery::Retry)
        );
        // Kept for the next delivery here, and counted against the byte cap like any answer.
        assert_eq!(d.len(), 1);
        ask(&d, &text("u", "2"), || answered("0123456789")).await;
        assert_eq!(d.len(), 1, "the cap made room by forgetting the oldest");
    }

    #[tokio::test]
    async fn a_retry_gets_the_first_answer() {
        let d = Dedup::new(Duration::from_secs(60), 100, Clock::system());
        let (a, first) = ask(&d, &text("u1", "1"), || answered("first")).await;
        assert_eq!((a.passive.body(), first), (&b"first"[..], Delivery::First));
        let (a, again) = ask(&d, &text("u1", "1"), || answered("second")).await;
        assert_eq!((a.passive.body(), again), (&b"first"[..], Delivery::Retry));
        // The same MsgId from another follower is another message.
        let (a, other) = ask(&d, &text("u2", "1"), || answered("other")).await;
        assert_eq!((a.passive.body(), other), (&b"other"[..], Delivery::First));
    }

    #[tokio::test]
    async fn events_are_identified_by_follower_time_name_and_key() {
        let d = Dedup::new(Duration::from_secs(60), 100, Clock::system());
        assert_eq!(
            ask(&d, &event("u", 5, "A"), || answered("1")).await.1,
            Delivery::First
        );
        assert_eq!(
            ask(&d, &event("u", 5, "A"), || answered("2")).await.1,
            Delivery::Retry
        );
        assert_eq!(
            ask(&d, &event("u", 6, "A"), || answered("3")).await.1,
            Delivery::First
        );
        assert_eq!(
            ask(&d, &event("u", 5, "B"), || answered("4")).await.1,
            Delivery::First
        );
    }

    #[tokio::test]
    async fn the_window_and_the_capacity_bound_what_is_remembered() {
        let d = Dedup::new(Duration::from_secs(60), 3, Clock::system());
        for i in 0..10 {
            ask(&d, &text("u", &i.to_string()), || answered("x")).await;
        }
        assert!(d.len() <= 3, "{}", d.len());
        // The newest are kept, the oldest forgotten.
        assert_eq!(
            ask(&d, &text("u", "9"), || answered("y")).await.1,
            Delivery::Retry
        );
        assert_eq!(
            ask(&d, &text("u", "0"), || answered("y")).await.1,
            Delivery::First
        );

        // The window, on a clock the test moves: a retry at its end is still a retry, one
        // after it is a new message.
        let (clock, hand) = Clock::manual(1_700_000_000);
        let d = Dedup::new(Duration::from_secs(60), 100, clock);
        ask(&d, &text("u", "1"), || answered("x")).await;
        hand.advance(Duration::from_secs(60));
        assert_eq!(
            ask(&d, &text("u", "1"), || answered("y")).await.1,
            Delivery::Retry
        );
        hand.advance(Duration::from_millis(1));
        assert_eq!(
            ask(&d, &text("u", "1"), || answered("y")).await.1,
            Delivery::First
        );
    }

    #[tokio::test]
    async fn messages_without_a_msg_id_are_told_apart_by_their_text() {
        let d = Dedup::new(Duration::from_secs(60), 100, Clock::system());
        let without_id = |content: &str| Message {
            msg_id: None,
            body: Body::Text {
                content: content.into(),
            },
            ..text("u", "1")
        };
        let (a, _) = ask(&d, &without_id("a"), || answered("A")).await;
        let (b, _) = ask(&d, &without_id("b"), || answered("B")).await;
        let (again, delivery) = ask(&d, &without_id("a"), || answered("?")).await;
        assert_eq!((a.passive.body(), b.passive.body()), (&b"A"[..], &b"B"[..]));
        assert_eq!(
            (again.passive.body(), delivery),
            (&b"A"[..], Delivery::Retry)
        );
    }

    #[test]
    fn identities_cannot_be_forged_by_shifting_separators() {
        let mut a = text("u", "1");
        a.from_user = "u1:m".into();
        let mut b = text("u1", "1");
        b.from_user = "u1".into();
        b.msg_id = Some("m1:1".into());
        /// Keeps what is written, to compare the identities themselves.
        #[derive(Default)]
        struct Written(Vec<u8>);
        impl Hasher for Written {
            fn write(&mut self, bytes: &[u8]) {
                self.0.extend_from_slice(bytes);
            }
            fn finish(&self) -> u64 {
                0
            }
        }
        let written = |m: &Message| {
            let mut w = Written::default();
            identity(m, &mut w);
            w.0
        };
        assert_ne!(written(&a), written(&b));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_duplicates_are_answered_once() {
        let d = Arc::new(Dedup::new(Duration::from_secs(60), 100, Clock::system()));
        let computed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (d, computed) = (d.clone(), computed.clone());
                tokio::spawn(async move {
                    ask(&d, &text("u", "42"), || {
                        computed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(50));
                        answered(&format!("answer {i}"))
                    })
                    .await
                })
            })
            .collect();
        let mut bodies = Vec::new();
        for t in tasks {
            bodies.push(t.await.unwrap().0.passive);
        }
        assert_eq!(computed.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(bodies.iter().all(|b| *b == bodies[0]), "{bodies:?}");
    }
}
