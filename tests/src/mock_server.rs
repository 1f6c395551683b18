//! A mock of an outside service on 127.0.0.1 and a free port, serving an axum router until it
//! is dropped.

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A port taken for a mock, not yet serving (its URL may go into the router's state first).
pub struct Bound {
    listener: TcpListener,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
}

/// Takes a free port for the mock of `what`.
pub async fn bind(what: &str) -> Bound {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind the mock {what}: {e}"));
    let base_url = format!("http://{}", listener.local_addr().expect("address"));
    Bound { listener, base_url }
}

impl Bound {
    /// Serves `router` on the port until the answer is dropped.
    pub fn serve(self, router: Router) -> MockServer {
        let listener = self.listener;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        MockServer { task }
    }
}

/// A serving mock; stops when dropped.
pub struct MockServer {
    task: JoinHandle<()>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
