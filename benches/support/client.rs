//! A keep-alive HTTP/1.1 client for the load benchmarks: posts signed text messages (each a new
//! message with its own MsgId) and reads the reply's Content.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::util::{TOKEN, signed_query, text_message};

/// A keep-alive HTTP/1.1 client posting signed text messages.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).ok();
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
        Client {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        }
    }

    pub fn ask(&mut self, text: &str) -> String {
        self.try_ask(text).expect("an answer")
    }

    /// The reply's Content, or `None` when the request failed in any way.
    pub fn try_ask(&mut self, text: &str) -> Option<String> {
        let body = text_message(text);
        let head = format!(
            "POST /wechat?{} HTTP/1.1\r\nHost: bench\r\nContent-Length: {}\r\n\r\n",
            signed_query(TOKEN),
            body.len()
        );
        self.writer.write_all(head.as_bytes()).ok()?;
        self.writer.write_all(body.as_bytes()).ok()?;
        let mut status = String::new();
        self.reader.read_line(&mut status).ok()?;
        if !status.starts_with("HTTP/1.1 200") {
            return None;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).ok()?;
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().ok()?;
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).ok()?;
        let body = String::from_utf8(body).ok()?;
        let start = body.find("<Content><![CDATA[")? + "<Content><![CDATA[".len();
        let end = body[start..].find("]]>")? + start;
        Some(body[start..end].to_owned())
    }
}
