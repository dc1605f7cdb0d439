//! The WeChat wire format, and nothing else: XML bodies ↔ typed messages and replies, the
//! request signature, and safe mode's encryption.
//!
//! Pure functions over bytes and strings. This module does no IO, knows nothing of HTTP, and
//! nothing of rules: the engine decides *what* to answer, this module only says it in WeChat's
//! words.

pub mod crypto;
pub mod message;
pub mod reply;
pub mod signature;
pub mod vocab;

pub use message::{Body, Detail, Event, Message, ParseError, Subscription};
pub use reply::{Article, Reply, ReplyKind};
pub use vocab::{EventKind, MsgType};
