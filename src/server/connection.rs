//! One client connection's socket, as hyper sees it: with a write timeout, and a lingering
//! close.
//!
//! - **Write timeout** (nginx's `send_timeout`): a write that makes no progress for
//!   `send_timeout` fails, and hyper closes the connection. A client that pipelines requests and
//!   never reads the answers can hold its slot no longer than that.
//! - **Lingering close** (nginx's `lingering_close`): when the connection ends, the socket is
//!   not simply closed when the client has sent more than was read. Its write side is shut
//!   (the answer is complete), and what the client still sends is read and thrown away, for at
//!   most [`LINGER_TIME`] and [`LINGER_BYTES`], before the socket closes. A client that sends a whole oversized body before it reads
//!   (Python's `http.client`, curl with a file) then reads the 413, instead of a reset that
//!   closing a socket with unread data causes.
//!
//! The connection's slot (its semaphore permit) is held until the lingering ends, so lingering
//! clients count against `max_connections` like any other.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;

/// The longest a closing connection is read from.
pub const LINGER_TIME: Duration = Duration::from_secs(5);
/// The most bytes read from a closing connection (the 413 of a 10 MB upload must be read).
pub const LINGER_BYTES: usize = 32 << 20;
/// A closing connection that sends nothing for this long is closed.
const LINGER_QUIET: Duration = Duration::from_secs(1);
/// How long a closing connection is watched for more data before it is closed as idle.
const LINGER_PROBE: Duration = Duration::from_millis(100);

/// A client's socket with a write timeout and a lingering close.
#[derive(Debug)]
pub struct ClientIo {
    stream: Option<TcpStream>,
    send_timeout: Duration,
    /// Armed while a write is waiting for the client to read.
    stalled: Option<Pin<Box<Sleep>>>,
    /// The connection's slot, given back when the lingering ends.
    permit: Option<OwnedSemaphorePermit>,
}

impl ClientIo {
    /// Wraps an accepted connection, holding its slot.
    pub fn new(stream: TcpStream, send_timeout: Duration, permit: OwnedSemaphorePermit) -> Self {
        ClientIo {
            stream: Some(stream),
            send_timeout,
            stalled: None,
            permit: Some(permit),
        }
    }

    fn stream(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        self.stream
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Polls a write-side operation; a pending one arms the timer, and fails once it rings.
    fn write_side<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let stream = match self.stream() {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        match op(stream, cx) {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.send_timeout;
                let timer = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client did not read its answer within send_timeout_secs",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncRead for ClientIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(s) => s.poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().write_side(cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_side(cx, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().write_side(cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().write_side(cx, |s, cx| s.poll_shutdown(cx))
    }
}

impl Drop for ClientIo {
    fn drop(&mut self) {
        let (Some(stream), permit) = (self.stream.take(), self.permit.take()) else {
            return;
        };
        // Outside a runtime (a test dropping it late) there is nothing to linger on.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                linger(stream).await;
                drop(permit);
            });
        }
    }
}

/// Shuts the write side and reads what the client still sends, within the bounds, so that
/// closing does not reset a client that has not read the answer yet.
async fn linger(mut stream: TcpStream) {
    let mut buf = vec![0u8; 16 << 10];
    // A client that sends nothing more within a moment (an idle keep-alive connection, a client
    // that sent its request and waits) is closed at once: that resets nothing, and its slot is
    // free for the next client.
    if tokio::time::timeout(LINGER_PROBE, stream.readable())
        .await
        .is_err()
    {
        return;
    }
    match stream.try_read(&mut buf) {
        Ok(0) | Err(_) => return,
        Ok(_) => {}
    }
    let _ = tokio::time::timeout(LINGER_TIME, async {
        let _ = stream.shutdown().await;
        let mut read = 0;
        while read < LINGER_BYTES {
            match tokio::time::timeout(LINGER_QUIET, stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => read += n,
                _ => break,
            }
        }
    })
    .await;
}
