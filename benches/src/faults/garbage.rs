//! An upstream that answers garbage: every other connection gets bytes that are not HTTP, the
//! others a 200 whose JSON body is broken. Either way the connection is closed afterwards.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Not HTTP at all.
const NOT_HTTP: &[u8] = b"\x16\x03\x01\x00\xffthis is not an HTTP answer\xfe\xfd\r\n\r\n";
/// A 200 whose body is cut-off, unparseable JSON.
const BROKEN_JSON: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
Content-Length: 36\r\n\r\n{\"choices\": [{\"message\": garbage \x00\x01}";

/// A running garbage upstream.
pub struct Garbage {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Garbage {
    /// Listens on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let served = AtomicU64::new(0);
            while let Ok((mut socket, _)) = listener.accept().await {
                let answer = if served.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
                    NOT_HTTP
                } else {
                    BROKEN_JSON
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket.write_all(answer).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Ok(Self { addr, task })
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Garbage {
    fn drop(&mut self) {
        self.task.abort();
    }
}
