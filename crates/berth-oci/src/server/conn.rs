//! Connection budget of `berth registry serve`: a cap on connections in total and per
//! client address, taken before TLS or HTTP parsing starts, and an idle timeout on every
//! connection. With the header read timeout set on the HTTP builder, clients that open
//! sockets and never finish their headers cannot lock others out.

use axum_server::accept::Accept;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Connection limits.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Connections open at once, all clients together.
    pub max_total: usize,
    /// Connections open at once from one client address.
    pub max_per_client: usize,
    /// A connection with no byte read or written for this long is closed.
    pub idle_timeout: Duration,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// Counts shared by every connection of one server.
#[derive(Clone)]
pub struct Budget {
    counts: Arc<Mutex<Counts>>,
    limits: ConnLimits,
}

impl Budget {
    /// A budget with these limits.
    pub fn new(limits: ConnLimits) -> Self {
        Budget {
            counts: Arc::new(Mutex::new(Counts::default())),
            limits,
        }
    }

    /// Reserve a connection slot for `client`, or say which cap is reached.
    fn take(&self, client: IpAddr) -> Result<Slot, &'static str> {
        let mut c = self
            .counts
            .lock()
            .map_err(|_| "connection counter unusable")?;
        if c.total >= self.limits.max_total {
            return Err("total connection cap reached");
        }
        let n = c.per_client.entry(client).or_insert(0);
        if *n >= self.limits.max_per_client {
            return Err("per-client connection cap reached");
        }
        *n += 1;
        c.total += 1;
        Ok(Slot {
            counts: self.counts.clone(),
            client,
        })
    }

    /// Connections open now (for tests and logs).
    pub fn open(&self) -> usize {
        self.counts.lock().map_or(0, |c| c.total)
    }
}

/// A reserved slot, given back when the connection is dropped.
struct Slot {
    counts: Arc<Mutex<Counts>>,
    client: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut c) = self.counts.lock() {
            c.total = c.total.saturating_sub(1);
            if let Some(n) = c.per_client.get_mut(&self.client) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    c.per_client.remove(&self.client);
                }
            }
        }
    }
}

/// An acceptor that takes a slot from the budget before handing the stream to `inner`
/// (plain HTTP or TLS); a connection over a cap is closed at once.
#[derive(Clone)]
pub struct LimitAcceptor<A> {
    inner: A,
    budget: Budget,
}

impl<A> LimitAcceptor<A> {
    /// Wrap `inner`.
    pub fn new(inner: A, budget: Budget) -> Self {
        LimitAcceptor { inner, budget }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;

impl<A, S> Accept<TcpStream, S> for LimitAcceptor<A>
where
    A: Accept<Limited<TcpStream>, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = A::Stream;
    type Service = A::Service;
    type Future = BoxFuture<(A::Stream, A::Service)>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let client = match stream.peer_addr() {
            Ok(a) => a.ip(),
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let slot = match self.budget.take(client) {
            Ok(s) => s,
            Err(why) => {
                tracing::debug!(%client, "connection refused: {why}");
                return Box::pin(std::future::ready(Err(io::Error::other(why))));
            }
        };
        let idle = self.budget.limits.idle_timeout;
        let limited = Limited {
            inner: stream,
            _slot: slot,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        };
        Box::pin(self.inner.accept(limited, service))
    }
}

/// A stream that holds a budget slot and fails once idle for too long.
pub struct Limited<S> {
    inner: S,
    _slot: Slot,
    idle: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<S> Limited<S> {
    fn touch(&mut self) {
        let at = tokio::time::Instant::now() + self.idle;
        self.deadline.as_mut().reset(at);
    }

    /// A pending operation fails when the idle deadline has passed.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn idle_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long")
}

impl<S: AsyncRead + Unpin> AsyncRead for Limited<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Limited<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    self.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            r => r,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_client_and_in_total_and_given_back() {
        let b = Budget::new(ConnLimits {
            max_total: 3,
            max_per_client: 2,
            idle_timeout: Duration::from_secs(1),
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let c: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = b.take(a).unwrap();
        let _s2 = b.take(a).unwrap();
        assert!(b.take(a).is_err(), "third connection of one client");
        let _s3 = b.take(c).unwrap();
        assert_eq!(
            b.take("10.0.0.3".parse().unwrap()).err(),
            Some("total connection cap reached")
        );
        drop(s1);
        assert_eq!(b.open(), 2);
        assert!(b.take(a).is_ok());
    }
}
