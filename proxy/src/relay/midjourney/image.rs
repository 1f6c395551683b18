//! `GET /mj/image/{id}`: streams a task's image from the URL its upstream gave (no key, as in
//! new-api: the task id is the capability). The URL comes from the upstream, so it is fetched
//! only as the operator's `fetch_setting.*` allow (new-api's SSRF protection, on by default:
//! no loopback, private, link-local or unspecified address, only allowed ports and domains).
//! It is checked before the request, at every redirect, and at connect time by the client's
//! resolver (a name cannot pass the check with one address and be used with another). The
//! image is relayed chunk by chunk, never held whole, and bounded in size and time.

use super::super::Relay;
use super::super::snapshot::Snapshot;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pylon_shared::fetch_setting::{FetchSetting, Host, Verdict};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How long the image's upstream may take to answer with its headers.
const HEADERS_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the whole image may take to arrive.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest image relayed.
pub const MAX_IMAGE_BYTES: u64 = 32 << 20;
/// Redirects followed (each one checked).
const MAX_REDIRECTS: usize = 5;

/// The host and port `url` names (the scheme's default port when it names none).
fn target(url: &reqwest::Url) -> Result<(Host, u16), String> {
    let host = url
        .host_str()
        .ok_or_else(|| "the URL has no host".to_string())?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("unsupported protocol: {}", url.scheme()))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let host = match bare.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Domain(bare.to_string()),
    };
    Ok((host, port))
}

/// Whether `url` may be fetched under `setting`, resolving a name to check its addresses.
async fn vet(setting: &FetchSetting, url: &reqwest::Url) -> Result<(), String> {
    let (host, port) = target(url)?;
    if setting.check_target(url.scheme(), &host, port)? == Verdict::Allowed {
        return Ok(());
    }
    let Host::Domain(name) = host else {
        return Ok(());
    };
    let addrs = tokio::net::lookup_host((name.as_str(), port))
        .await
        .map_err(|error| format!("DNS resolution failed for {name}: {error}"))?;
    for addr in addrs {
        setting
            .check_ip(addr.ip())
            .map_err(|error| format!("{name} resolves to a refused address: {error}"))?;
    }
    Ok(())
}

/// Resolves names for the image client, refusing addresses the fetch settings refuse (at
/// connect time, whatever was checked before).
struct GuardedResolver {
    snapshot: Arc<Snapshot>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let setting = self.snapshot.fetch.load_full();
        let name = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if setting.apply_ip_filter_for_domain {
                for addr in &addrs {
                    if let Err(error) = setting.check_ip(addr.ip()) {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::PermissionDenied,
                            format!("request blocked: {name}: {error}"),
                        )
                        .into());
                    }
                }
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The client of `/mj/image/{id}`: names resolved through the fetch settings, each redirect
/// checked, no system proxy.
pub fn image_client(snapshot: Arc<Snapshot>) -> reqwest::Client {
    let for_redirects = Arc::clone(&snapshot);
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        let setting = for_redirects.fetch.load();
        let checked = target(attempt.url())
            .and_then(|(host, port)| setting.check_target(attempt.url().scheme(), &host, port));
        match checked {
            Ok(_) => attempt.follow(),
            Err(error) => attempt.error(format!("request blocked: {error}")),
        }
    });
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .redirect(redirects)
        .dns_resolver(Arc::new(GuardedResolver { snapshot }))
        .build()
        .unwrap_or_default()
}

impl Relay {
    /// `GET /mj/image/{id}`: streams task `id`'s image (errors are new-api's `{"error": ...}`).
    pub(super) async fn mj_image(
        &self,
        session: &mut Session,
        id: &str,
    ) -> Result<pingora::Result<()>, (u16, String)> {
        let task = self
            .db
            .midjourney_by_mj_id(id)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "reading a Midjourney task failed");
                (503, "task_read_failed".to_string())
            })?
            .ok_or_else(|| (400, "midjourney_task_not_found".to_string()))?;
        let url = reqwest::Url::parse(task.image_url.trim()).map_err(|_| {
            (
                403,
                "request blocked: the task has no image URL".to_string(),
            )
        })?;
        let setting = self.snapshot.fetch.load_full();
        if let Err(reason) = vet(&setting, &url).await {
            tracing::info!(task = %id, %reason, "a Midjourney image URL was refused");
            return Err((403, format!("request blocked: {reason}")));
        }
        let sent = self.image_http.get(url).timeout(TOTAL_TIMEOUT).send();
        let failed = || (500, "http_get_image_failed".to_string());
        let mut response = tokio::time::timeout(HEADERS_TIMEOUT, sent)
            .await
            .map_err(|_| failed())?
            .map_err(|error| {
                tracing::info!(%error, task = %id, "fetching a Midjourney image failed");
                failed()
            })?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = super::submit::read_answer(response)
                .await
                .unwrap_or_default();
            return Err((status, String::from_utf8_lossy(&body).into_owned()));
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_IMAGE_BYTES)
        {
            return Err((502, "image_too_large".to_string()));
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .unwrap_or("image/jpeg")
            .to_string();
        let build = || -> pingora::Result<ResponseHeader> {
            let mut header = ResponseHeader::build(200, Some(2))?;
            header.insert_header("Content-Type", content_type.as_str())?;
            if let Some(length) = response.content_length() {
                header.insert_header("Content-Length", length.to_string())?;
            }
            Ok(header)
        };
        let header = build().map_err(|_| failed())?;
        if let Err(error) = session.write_response_header(Box::new(header), false).await {
            return Ok(Err(error));
        }
        let mut relayed: u64 = 0;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    relayed += chunk.len() as u64;
                    if relayed > MAX_IMAGE_BYTES {
                        tracing::warn!(task = %id, "a Midjourney image passed the size bound; cut");
                        break;
                    }
                    if let Err(error) = session.write_response_body(Some(chunk), false).await {
                        return Ok(Err(error));
                    }
                }
                Ok(None) => return Ok(session.write_response_body(None, true).await),
                Err(error) => {
                    tracing::warn!(%error, task = %id, "the Midjourney image stream broke");
                    break;
                }
            }
        }
        // The client must not take a cut image for a whole one.
        session.set_keepalive(None);
        session.shutdown().await;
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::snapshot::KeyCacheSettings;
    use pylon_shared::fetch_setting::ALLOW_PRIVATE_IP;

    fn snapshot() -> Arc<Snapshot> {
        let settings = KeyCacheSettings {
            capacity: 1,
            unknown_ttl: Duration::from_secs(1),
        };
        Arc::new(Snapshot::new(settings, None))
    }

    /// The whole chain of an error's messages.
    fn chain(error: &reqwest::Error) -> String {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        text
    }

    #[tokio::test]
    async fn the_client_refuses_a_name_of_a_private_address_at_connect_time() {
        let snapshot = snapshot();
        let client = image_client(Arc::clone(&snapshot));
        // Past any earlier check: the resolver itself refuses.
        let error = client
            .get("http://localhost:9/x.png")
            .send()
            .await
            .expect_err("refused");
        assert!(
            chain(&error).contains("request blocked"),
            "{}",
            chain(&error)
        );
        // Allowed by the operator: the name resolves, and the connection is merely refused.
        let (allowed, _) = FetchSetting::from_options([(ALLOW_PRIVATE_IP, "true")]);
        snapshot.fetch.store(Arc::new(allowed));
        let error = client
            .get("http://localhost:9/x.png")
            .send()
            .await
            .expect_err("nothing listens");
        assert!(
            !chain(&error).contains("request blocked"),
            "{}",
            chain(&error)
        );
    }

    #[tokio::test]
    async fn urls_are_vetted_as_new_api_vets_them() {
        let setting = FetchSetting::default();
        let url = |text: &str| reqwest::Url::parse(text).expect("url");
        assert!(vet(&setting, &url("http://127.0.0.1/x.png")).await.is_err());
        assert!(vet(&setting, &url("http://[::1]/x.png")).await.is_err());
        assert!(vet(&setting, &url("http://0x7f.1/x.png")).await.is_err());
        assert!(vet(&setting, &url("http://localhost/x.png")).await.is_err());
        assert!(
            vet(&setting, &url("https://8.8.8.8:8443/x.png"))
                .await
                .is_ok()
        );
        assert!(
            vet(&setting, &url("https://8.8.8.8:22/x.png"))
                .await
                .is_err()
        );
        assert!(vet(&setting, &url("ftp://8.8.8.8/x.png")).await.is_err());
    }
}
