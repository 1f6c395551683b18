//! An outage on demand: a TCP gate between Pylon and MariaDB or Redis that can be cut (every
//! open connection dropped, new ones closed at once) and restored, the way a crashed or
//! unreachable server looks to its clients. The tests (`pylon_tests::outage`) and the
//! `pylon-faults` scenario share this one gate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::net::{TcpListener, TcpStream};

/// A running gate.
pub struct Gate {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    cut: AtomicBool,
    /// Bumped by each cut: connections of an older generation end.
    generation: AtomicU64,
    changed: tokio::sync::Notify,
}

impl Gate {
    /// Listens on a free loopback port and forwards to `target` (host:port).
    pub async fn start(target: String) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let state = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if state.cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let state = Arc::clone(&state);
                let target = target.clone();
                tokio::spawn(async move { forward(client, &target, &state).await });
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// `host:port` to give Pylon instead of the server's.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every connection and refuses new ones until [`Gate::restore`].
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        self.shared.changed.notify_waiters();
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

async fn forward(mut client: TcpStream, target: &str, shared: &Shared) {
    let generation = shared.generation.load(Ordering::SeqCst);
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    loop {
        let cut = shared.changed.notified();
        if shared.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
            _ = cut => {}
        }
    }
}
