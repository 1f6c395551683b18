//! Slow clients by the thousand: each opens a connection from an address of its own
//! (127.200.0.0 onwards), sends a request line and then one header line per interval, never
//! finishing its header, and notes when the proxy closes on it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::task::JoinSet;

const FIRST_IP: Ipv4Addr = Ipv4Addr::new(127, 200, 0, 0);

/// What became of the slow connections.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Connections that opened.
    pub opened: usize,
    /// Connections refused (or reset) at once.
    pub refused: usize,
    /// For each connection the proxy closed: how long after it opened.
    pub cut_after: Vec<Duration>,
}

impl Tally {
    /// Connections still open (neither refused nor cut).
    pub fn still_open(&self) -> usize {
        self.opened - self.cut_after.len()
    }
}

/// The attack under way.
pub struct Attack {
    tally: Arc<Mutex<Tally>>,
    tasks: JoinSet<()>,
}

impl Attack {
    /// Opens `count` slow connections to `addr` (spread over about a second), each trickling a
    /// header line every `interval`.
    pub async fn start(addr: SocketAddr, count: usize, interval: Duration) -> Self {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let mut tasks = JoinSet::new();
        let pause = Duration::from_secs(1) / u32::try_from(count.max(1)).unwrap_or(u32::MAX);
        for n in 0..count {
            let ip = Ipv4Addr::from(u32::from(FIRST_IP) + u32::try_from(n).unwrap_or(0));
            let tally = Arc::clone(&tally);
            tasks.spawn(async move { trickle(addr, ip, interval, &tally).await });
            tokio::time::sleep(pause).await;
        }
        Self { tally, tasks }
    }

    /// Ends the attack (closing what is still open) and returns the tally.
    pub async fn stop(mut self) -> Tally {
        self.tasks.shutdown().await;
        let tally = self
            .tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tally.clone()
    }
}

fn note(tally: &Mutex<Tally>, change: impl FnOnce(&mut Tally)) {
    change(
        &mut tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
}

async fn trickle(addr: SocketAddr, ip: Ipv4Addr, interval: Duration, tally: &Mutex<Tally>) {
    let connected = async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(ip.into(), 0))?;
        socket.connect(addr).await
    };
    let Ok(mut stream) = connected.await else {
        note(tally, |t| t.refused += 1);
        return;
    };
    let opened = Instant::now();
    note(tally, |t| t.opened += 1);
    let head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if stream.write_all(head).await.is_err() {
        note(tally, |t| t.cut_after.push(opened.elapsed()));
        return;
    }
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                // An answer (e.g. 408) may come first; the close is what counts.
                Ok(n) if n > 0 => continue,
                _ => break,
            },
            () = tokio::time::sleep(interval) => {
                if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    break;
                }
            }
        }
    }
    note(tally, |t| t.cut_after.push(opened.elapsed()));
}
