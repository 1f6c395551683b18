//! Which part of Pylon answers a request, decided from the path alone.

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Route {
    /// `/health`, answered by the proxy itself.
    Health,
    /// `/v1/*` and `/v1beta/*`, new-api's playground (`/pg/chat/completions`, for a
    /// signed-in console user), Midjourney relay (`/mj/*`, `/mj-fast/mj/*`, ...) and Suno relay
    /// (`/suno/*`): the relay.
    Relay,
    /// Everything else, and midjourney-proxy's callback `POST /mj/notify` (the control plane
    /// moves and refunds tasks as its poller does): forwarded to the control plane.
    #[default]
    ControlPlane,
}

impl Route {
    /// Classifies a request path.
    pub fn of_path(path: &str) -> Self {
        if path == "/health" {
            Route::Health
        } else if path.trim_end_matches('/') == MJ_NOTIFY {
            Route::ControlPlane
        } else if is_under(path, "/v1")
            || is_under(path, "/v1beta")
            || path.trim_end_matches('/') == crate::relay::playground::PATH
            || crate::relay::is_midjourney_path(path)
            || is_under(path, "/suno")
        {
            Route::Relay
        } else {
            Route::ControlPlane
        }
    }

    /// The metric label of the route.
    pub fn label(self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::Relay => "relay",
            Route::ControlPlane => "control_plane",
        }
    }
}

/// midjourney-proxy's callback, served by the control plane.
const MJ_NOTIFY: &str = "/mj/notify";

/// `path` is `prefix` or lies below it (`/v1x` is not under `/v1`).
fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        assert_eq!(Route::of_path("/health"), Route::Health);
        assert_eq!(Route::of_path("/v1/chat/completions"), Route::Relay);
        assert_eq!(Route::of_path("/v1"), Route::Relay);
        assert_eq!(
            Route::of_path("/v1beta/models/gemini:generateContent"),
            Route::Relay
        );
        assert_eq!(Route::of_path("/pg/chat/completions"), Route::Relay);
        assert_eq!(Route::of_path("/pg/other"), Route::ControlPlane);
        assert_eq!(Route::of_path("/mj/submit/imagine"), Route::Relay);
        assert_eq!(Route::of_path("/mj-relax/mj/task/1/fetch"), Route::Relay);
        assert_eq!(Route::of_path("/api/mj/self"), Route::ControlPlane);
        assert_eq!(Route::of_path("/mj/notify"), Route::ControlPlane);
        assert_eq!(Route::of_path("/suno/submit/music"), Route::Relay);
        assert_eq!(Route::of_path("/sunox"), Route::ControlPlane);
        assert_eq!(Route::of_path("/v1x"), Route::ControlPlane);
        assert_eq!(Route::of_path("/api/status"), Route::ControlPlane);
        assert_eq!(Route::of_path("/"), Route::ControlPlane);
    }
}
