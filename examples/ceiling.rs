//! The ceiling of the HTTP benchmark (`benches/http.sh`): a bare hyper server on the same
//! runtime replyd uses, that answers every request with a fixed reply of the size of a text
//! reply, reading nothing and parsing nothing. replyd's requests per second are reported as a
//! share of this one's.
//!
//! Run: `cargo run --release --example ceiling -- 127.0.0.1:18090`.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const REPLY: &str = "<xml>\n<ToUserName><![CDATA[oFollower0123456789abcdefgh]]></ToUserName>\n<FromUserName><![CDATA[gh_0123456789ab]]></FromUserName>\n<CreateTime>1764115200</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[亲，送流量活动是……快点击【抢流量】来参加。]]></Content>\n</xml>";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("ceiling listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let service = service_fn(|_req: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                    REPLY.as_bytes(),
                ))))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
