//! The control plane in the test's own process (its library, on a fresh database of each
//! backend, served on a free port): no proxy and no child process, for handler tests where a
//! process adds nothing.

use crate::Backend;
use crate::backend::{self, unique_name};
use pylon_shared::config::Config;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The control plane of this process on a fresh database, removed when dropped.
pub struct InProcess {
    /// Where it answers, `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// Its state: the database, cache and settings it serves from.
    pub state: pylon_control_plane::AppState,
    dir: PathBuf,
    mysql_database: Option<String>,
}

impl InProcess {
    /// Starts it on a fresh database of `backend`.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, Vec::new()).await
    }

    /// Starts it on a fresh database of `backend` with settings `extra` (`PYLON__...` pairs).
    pub async fn start_with(backend: Backend, extra: Vec<(String, String)>) -> Self {
        let name = unique_name();
        let dir = std::env::temp_dir().join(&name);
        let mut env = vec![("PYLON__DATA__DIR".to_string(), dir.display().to_string())];
        let mut mysql_database = None;
        match backend {
            Backend::Sqlite => env.push((
                "PYLON__DATABASE__URL".into(),
                format!("sqlite://{}/pylon.db", dir.display()),
            )),
            Backend::MySqlRedis => {
                backend::require_redis().await;
                let url = backend::create_mysql_database(&name).await;
                env.push(("PYLON__DATABASE__URL".into(), url));
                env.push(("PYLON__CACHE__REDIS_URL".into(), backend::redis_url()));
                env.push(("PYLON__CACHE__KEY_PREFIX".into(), format!("{name}:")));
                mysql_database = Some(name);
            }
        }
        env.extend(extra);
        let config = Config::load(None, env).expect("configuration");
        let state = pylon_control_plane::App::start(config)
            .await
            .expect("control plane starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("bound address");
        let service = pylon_control_plane::app(state.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await });
        Self {
            base_url: format!("http://{address}"),
            state,
            dir,
            mysql_database,
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(name) = &self.mysql_database {
            backend::drop_mysql_database(name);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
