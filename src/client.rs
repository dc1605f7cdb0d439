//! Playing WeChat's server against a running daemon: build a message as WeChat would post it
//! (signed, and in safe mode encrypted), post it, and open the reply (check its signature and
//! decrypt it). `replyd send` is built on this, the way WeChat's online debugging tool tests a
//! server URL.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper::http::uri::{Scheme, Uri};
use hyper_util::rt::TokioIo;

use crate::protocol::crypto::{self, Cipher};
use crate::protocol::reply::push_cdata;
use crate::protocol::signature::{self, Signed};

/// What to send.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A text message.
    Text(String),
    /// An event, with an optional `EventKey`.
    Event {
        /// The event name (subscribe, CLICK, …).
        name: String,
        /// The `EventKey`.
        key: Option<String>,
    },
}

/// A request ready to post: the query string and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// `signature=…&timestamp=…&nonce=…[&encrypt_type=aes&msg_signature=…]`.
    pub query: String,
    /// The XML body.
    pub body: String,
}

/// The message XML, from follower `from` to account `to`, created now with a fresh `MsgId`.
pub fn message_xml(outgoing: &Outgoing, from: &str, to: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut xml = String::from("<xml><ToUserName>");
    push_cdata(&mut xml, to);
    xml.push_str("</ToUserName><FromUserName>");
    push_cdata(&mut xml, from);
    xml.push_str(&format!(
        "</FromUserName><CreateTime>{}</CreateTime>",
        now.as_secs()
    ));
    match outgoing {
        Outgoing::Text(text) => {
            xml.push_str("<MsgType><![CDATA[text]]></MsgType><Content>");
            push_cdata(&mut xml, text);
            // Unique enough for the retry cache: nanoseconds since the epoch.
            xml.push_str(&format!(
                "</Content><MsgId>{}</MsgId>",
                now.as_nanos() as u64
            ));
        }
        Outgoing::Event { name, key } => {
            xml.push_str("<MsgType><![CDATA[event]]></MsgType><Event>");
            push_cdata(&mut xml, name);
            xml.push_str("</Event>");
            if let Some(k) = key {
                xml.push_str("<EventKey>");
                push_cdata(&mut xml, k);
                xml.push_str("</EventKey>");
            }
        }
    }
    xml.push_str("</xml>");
    xml
}

/// Signs a message body as WeChat does, and in safe mode (`cipher`) encrypts it first.
pub fn prepare(message_xml: &str, token: &str, cipher: Option<&Cipher>) -> Prepared {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let timestamp = now.to_string();
    let nonce = crypto::random_nonce();
    let mut query = Signed::query(token, now, &nonce);
    let body = match cipher {
        None => message_xml.to_owned(),
        Some(c) => {
            let encrypt = c.encrypt(message_xml);
            let msg_sig = signature::sign(&[token, &timestamp, &nonce, &encrypt]);
            query.push_str(&format!("&encrypt_type=aes&msg_signature={msg_sig}"));
            format!("<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
        }
    };
    Prepared { query, body }
}

/// An HTTP response: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

/// Why sending failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The URL is not an `http://host:port/path` URL.
    #[error("{0}")]
    Url(String),
    /// Connecting or talking HTTP failed.
    #[error("{0}")]
    Http(String),
}

/// Posts a prepared request to `url` (plain HTTP).
///
/// # Errors
///
/// A URL that is not `http://…`, or a connection or protocol failure.
pub async fn post(url: &str, prepared: &Prepared) -> Result<Received, SendError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| SendError::Url(format!("{url:?} is not a URL: {e}")))?;
    if uri.scheme() != Some(&Scheme::HTTP) {
        return Err(SendError::Url(format!(
            "{url}: only http:// is supported; run replyd send against the daemon's own address (for example http://127.0.0.1:8080/wechat)"
        )));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| SendError::Url(format!("{url} has no host")))?
        .clone();
    let addr = format!(
        "{}:{}",
        authority.host(),
        authority.port_u16().unwrap_or(80)
    );
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| SendError::Http(format!("cannot connect to {addr}: {e}")))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| SendError::Http(e.to_string()))?;
    tokio::spawn(connection);
    let target = format!("{}?{}", uri.path(), prepared.query);
    let request = Request::post(target)
        .header(hyper::header::HOST, authority.as_str())
        .header(hyper::header::CONTENT_TYPE, "text/xml; charset=utf-8")
        .body(Full::new(Bytes::from(prepared.body.clone())))
        .map_err(|e| SendError::Http(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| SendError::Http(e.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| SendError::Http(e.to_string()))?
        .to_bytes();
    Ok(Received {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Opens an encrypted reply envelope: checks `MsgSignature` and decrypts `Encrypt`.
///
/// # Errors
///
/// A description of what does not check out.
pub fn open_reply(envelope: &str, token: &str, cipher: &Cipher) -> Result<String, String> {
    let field = |name: &str| {
        let open = format!("<{name}>");
        let start = envelope.find(&open)? + open.len();
        let end = envelope[start..].find(&format!("</{name}>"))? + start;
        let v = &envelope[start..end];
        Some(
            v.strip_prefix("<![CDATA[")
                .and_then(|v| v.strip_suffix("]]>"))
                .unwrap_or(v)
                .to_owned(),
        )
    };
    let (Some(encrypt), Some(sig), Some(ts), Some(nonce)) = (
        field("Encrypt"),
        field("MsgSignature"),
        field("TimeStamp"),
        field("Nonce"),
    ) else {
        return Err("the reply is not an encrypted envelope".to_owned());
    };
    if !signature::verify(&sig, &[token, &ts, &nonce, &encrypt]) {
        return Err("the reply's MsgSignature does not verify".to_owned());
    }
    cipher
        .decrypt(&encrypt)
        .map_err(|e| format!("the reply does not decrypt: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    #[test]
    fn a_prepared_safe_mode_request_verifies_and_decrypts() {
        let cipher = Cipher::new(KEY, "wx1").unwrap();
        let xml = message_xml(&Outgoing::Text("流量 ]]> <".into()), "oUser", "gh_1");
        assert!(
            crate::protocol::message::parse(xml.as_bytes()).is_ok(),
            "{xml}"
        );
        let p = prepare(&xml, "tok", Some(&cipher));
        let param = |k: &str| {
            form_urlencoded::parse(p.query.as_bytes())
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
                .unwrap()
        };
        let encrypt = crate::protocol::message::encrypted_part(p.body.as_bytes())
            .unwrap()
            .unwrap();
        assert!(signature::verify(
            &param("signature"),
            &["tok", &param("timestamp"), &param("nonce")]
        ));
        assert!(signature::verify(
            &param("msg_signature"),
            &["tok", &param("timestamp"), &param("nonce"), &encrypt]
        ));
        assert_eq!(cipher.decrypt(&encrypt).unwrap(), xml);
        // And a reply envelope opens.
        let envelope = cipher.seal("<xml>reply</xml>", "tok", 5, "n");
        assert_eq!(
            open_reply(&envelope, "tok", &cipher).unwrap(),
            "<xml>reply</xml>"
        );
        assert!(open_reply(&envelope, "other", &cipher).is_err());
    }
}
