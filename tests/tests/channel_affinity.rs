//! Channel affinity (new-api's `channel_affinity_setting`): among equal channels, the requests
//! of one session key (a `prompt_cache_key`, a `metadata.user_id`, a header) keep going to the
//! channel that served the session first, different sessions spread, a binding ends with its
//! rule's TTL, `skip_retry_on_failure` keeps a failed session off the other channels, and a
//! disabled setting routes as usual. new-api's routes show and clear the bindings and one key's
//! usage; the log row names the affinity for administrators only. With Redis, two proxy nodes
//! share the bindings.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const MODEL: &str = "gpt-affinity";
/// The sessions tried where they must spread: with three equal channels, all of them landing
/// on one channel by chance has a probability of 3 / 3^12 (about 6 in a million).
const SESSIONS: usize = 12;

struct Scene {
    pylon: Pylon,
    root: Console,
    key: String,
    /// One upstream per channel, in the order of `channels`.
    mocks: Vec<MockUpstream>,
    channels: Vec<i64>,
}

/// Three equal channels serving [`MODEL`], each its own upstream (which reports cached prompt
/// tokens), and a key.
async fn scene(backend: Backend) -> Scene {
    let mut mocks = Vec::new();
    for _ in 0..3 {
        let config = MockConfig {
            cached_tokens: 4,
            ..MockConfig::default()
        };
        mocks.push(MockUpstream::start(config).await.expect("mock"));
    }
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    set_option(&root, "ModelRatio", &json!({ MODEL: 1 }).to_string()).await;
    let mut channels = Vec::new();
    for (name, mock) in ["a", "b", "c"].iter().zip(&mocks) {
        let channel = openai_channel(name, &mock.base_url(), MODEL);
        channels.push(create_channel(&root, channel).await);
    }
    let (_, key) = create_key(&root, "affinity", 0, true).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    Scene {
        pylon,
        root,
        key,
        mocks,
        channels,
    }
}

/// A rule named `name` keying chat completions of [`MODEL`] by the `x-session` header or by
/// `metadata.user_id`, followed by new-api's default rules.
fn rules(name: &str, ttl_seconds: u64, skip_retry: bool) -> String {
    let mut rules: Vec<Value> =
        serde_json::from_str(pylon_shared::channel_affinity::setting::DEFAULT_RULES)
            .expect("default rules");
    rules.insert(
        0,
        json!({"name": name, "model_regex": [format!("^{MODEL}$")],
            "path_regex": ["^/v1/chat/completions$"],
            "key_sources": [{"type": "request_header", "key": "x-session"},
                            {"type": "gjson", "path": "metadata.user_id"}],
            "ttl_seconds": ttl_seconds, "skip_retry_on_failure": skip_retry,
            "include_using_group": true, "include_rule_name": true}),
    );
    Value::Array(rules).to_string()
}

/// Sets the rules and waits until the proxy applies them.
async fn use_rules(scene: &Scene, name: &str, ttl_seconds: u64, skip_retry: bool) {
    let rules = rules(name, ttl_seconds, skip_retry);
    set_option(&scene.root, "channel_affinity_setting.rules", &rules).await;
    wait_for_rule(&scene.root, name).await;
}

/// Waits until the proxy `console` talks through applies rule `name` (its statistics list it).
async fn wait_for_rule(console: &Console, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while stats(console).await["by_rule_name"].get(name).is_none() {
        assert!(
            Instant::now() < deadline,
            "the proxy never applied rule {name}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// new-api's statistics of the bindings.
async fn stats(root: &Console) -> Value {
    let answer = root.get("/api/option/channel_affinity_cache").await;
    assert!(answer.success(), "{answer:?}");
    answer.data().clone()
}

/// The statistics once `ready` holds of them, or after 5 s: with Redis the proxy writes a
/// binding and its counters after the answer, so they may trail it.
async fn stats_when(root: &Console, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = stats(root).await;
        if ready(&stats) || Instant::now() >= deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `request` with the scene's key: its status and the index of the upstream that
/// received it, if exactly one did.
async fn sent(scene: &Scene, request: reqwest::RequestBuilder) -> (u16, Option<usize>) {
    let before = counts(scene);
    let answer = request
        .bearer_auth(&scene.key)
        .send()
        .await
        .expect("relay reachable");
    let status = answer.status().as_u16();
    let _ = answer.bytes().await;
    let after = counts(scene);
    let reached: Vec<usize> = (0..after.len()).filter(|&i| after[i] > before[i]).collect();
    (status, (reached.len() == 1).then(|| reached[0]))
}

/// How many requests each upstream received so far.
fn counts(scene: &Scene) -> Vec<usize> {
    scene
        .mocks
        .iter()
        .map(MockUpstream::request_count)
        .collect()
}

/// A chat completion of `session` (keyed by `metadata.user_id`) at `base_url`.
async fn chat_at(scene: &Scene, base_url: &str, session: &str) -> (u16, Option<usize>) {
    let request = reqwest::Client::new()
        .post(format!("{base_url}/v1/chat/completions"))
        .json(&json!({"model": MODEL, "metadata": {"user_id": session},
            "messages": [{"role": "user", "content": "hello"}]}));
    sent(scene, request).await
}

async fn chat(scene: &Scene, session: &str) -> (u16, Option<usize>) {
    chat_at(scene, &scene.pylon.base_url, session).await
}

/// Sends `requests` requests of `session`; answers the upstreams that served them.
async fn served(scene: &Scene, session: &str, requests: usize) -> HashSet<usize> {
    let mut upstreams = HashSet::new();
    for _ in 0..requests {
        let (status, upstream) = chat(scene, session).await;
        assert_eq!(status, 200, "session {session}");
        upstreams.insert(upstream.expect("one upstream served"));
    }
    upstreams
}

async fn sessions_stick_and_spread(backend: Backend) {
    let scene = scene(backend).await;
    use_rules(&scene, "session", 600, true).await;

    // By metadata.user_id (the field the relay's own parse keeps).
    let mut first = HashSet::new();
    for session in 0..SESSIONS {
        let upstreams = served(&scene, &format!("user-{session}"), 4).await;
        assert_eq!(upstreams.len(), 1, "session {session} moved: {upstreams:?}");
        first.extend(upstreams);
    }
    assert!(first.len() >= 2, "sessions did not spread: {first:?}");

    // By a header, which comes first in the rule: the body's key is then not used.
    let mut by_header = HashSet::new();
    for n in 0..4 {
        let request = reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", scene.pylon.base_url))
            .header("x-session", "header-session")
            .json(
                &json!({"model": MODEL, "metadata": {"user_id": format!("varies-{n}")},
                "messages": []}),
            );
        let (status, upstream) = sent(&scene, request).await;
        assert_eq!(status, 200);
        by_header.insert(upstream.expect("one upstream served"));
    }
    assert_eq!(
        by_header.len(),
        1,
        "the header session moved: {by_header:?}"
    );

    // new-api's default Codex rule: /v1/responses keyed by prompt_cache_key.
    let mut by_cache_key = HashSet::new();
    for session in 0..SESSIONS {
        let mut upstreams = HashSet::new();
        for _ in 0..3 {
            let request = reqwest::Client::new()
                .post(format!("{}/v1/responses", scene.pylon.base_url))
                .json(&json!({"model": MODEL, "input": "hello",
                    "prompt_cache_key": format!("codex-{session}")}));
            let (status, upstream) = sent(&scene, request).await;
            assert_eq!(status, 200);
            upstreams.insert(upstream.expect("one upstream served"));
        }
        assert_eq!(upstreams.len(), 1, "codex session {session} moved");
        by_cache_key.extend(upstreams);
    }
    assert!(by_cache_key.len() >= 2, "codex sessions did not spread");
    let stats = stats_when(&scene.root, |s| {
        s["by_rule_name"]["session"] == json!(SESSIONS + 1)
            && s["by_rule_name"]["codex cli trace"] == json!(SESSIONS)
    })
    .await;
    assert_eq!(
        stats["by_rule_name"]["session"],
        json!(SESSIONS + 1),
        "{stats}"
    );
    assert_eq!(
        stats["by_rule_name"]["codex cli trace"],
        json!(SESSIONS),
        "{stats}"
    );
}
on_every_backend!(sessions_stick_and_spread);

async fn a_binding_ends_with_its_ttl(backend: Backend) {
    let scene = scene(backend).await;
    use_rules(&scene, "short", 1, true).await;
    let (status, _) = chat(&scene, "brief").await;
    assert_eq!(status, 200);
    let counted = stats_when(&scene.root, |s| s["by_rule_name"]["short"] == json!(1)).await;
    assert_eq!(counted["by_rule_name"]["short"], json!(1));
    // Gone once its second has passed, whatever the store.
    let deadline = Instant::now() + Duration::from_secs(5);
    while stats(&scene.root).await["total"] != json!(0) {
        assert!(Instant::now() < deadline, "the binding outlived its TTL");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
on_every_backend!(a_binding_ends_with_its_ttl);

async fn a_failed_session_stays_on_its_channel(backend: Backend) {
    let scene = scene(backend).await;
    use_rules(&scene, "strict", 600, true).await;
    let (_, bound) = chat(&scene, "pinned").await;
    let bound = bound.expect("served");
    scene.mocks[bound].set_config(MockConfig {
        status: Some(500),
        ..MockConfig::default()
    });
    let others = |counts: Vec<usize>| -> usize {
        (0..counts.len())
            .filter(|&i| i != bound)
            .map(|i| counts[i])
            .sum()
    };
    let before = others(counts(&scene));
    let (status, reached) = chat(&scene, "pinned").await;
    assert!(status >= 500, "the failure reached the client: {status}");
    assert_eq!(reached, Some(bound), "only the bound channel was tried");
    assert_eq!(others(counts(&scene)), before, "another channel was tried");
    scene.mocks[bound].set_config(MockConfig::default());

    // Without skip_retry_on_failure the session fails over, and the binding follows the
    // channel that served (switch_on_success).
    use_rules(&scene, "lenient", 600, false).await;
    let (status, moved) = chat(&scene, "pinned-too").await;
    assert_eq!(status, 200);
    let moved = moved.expect("served");
    scene.mocks[moved].set_config(MockConfig {
        status: Some(500),
        ..MockConfig::default()
    });
    let (status, _) = chat(&scene, "pinned-too").await;
    assert_eq!(status, 200, "the lenient session failed over");
    scene.mocks[moved].set_config(MockConfig::default());
    let (status, now) = chat(&scene, "pinned-too").await;
    assert_eq!(status, 200);
    assert_ne!(
        now,
        Some(moved),
        "the binding did not follow the channel that served"
    );

    // A bound channel that is disabled loses its bindings: the session is routed as usual.
    use_rules(&scene, "strict-again", 600, true).await;
    let (_, bound) = chat(&scene, "disabled").await;
    let bound = bound.expect("served");
    let answer = scene
        .root
        .post(
            &format!("/api/channel/{}/status", scene.channels[bound]),
            json!({"status": 2}),
        )
        .await;
    assert!(answer.success(), "{answer:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, reached) = chat(&scene, "disabled").await;
        assert_eq!(status, 200, "a disabled bound channel failed the session");
        if reached != Some(bound) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the disabled channel kept serving"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
on_every_backend!(a_failed_session_stays_on_its_channel);

async fn disabled_affinity_routes_as_usual(backend: Backend) {
    let scene = scene(backend).await;
    use_rules(&scene, "off", 600, true).await;
    set_option(&scene.root, "channel_affinity_setting.enabled", "false").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while stats(&scene.root).await["enabled"] != json!(false) {
        assert!(
            Instant::now() < deadline,
            "the proxy never disabled affinity"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let upstreams = served(&scene, "anyone", 3 * SESSIONS).await;
    assert!(upstreams.len() >= 2, "one session stuck to one channel");
    assert_eq!(stats(&scene.root).await["total"], json!(0));
}
on_every_backend!(disabled_affinity_routes_as_usual);

async fn routes_show_and_clear_bindings_and_usage(backend: Backend) {
    let scene = scene(backend).await;
    use_rules(&scene, "session", 600, true).await;
    for session in ["s-1", "s-2", "s-3"] {
        for _ in 0..2 {
            assert_eq!(chat(&scene, session).await.0, 200);
        }
    }
    let stats_now = stats_when(&scene.root, |s| {
        s["total"] == json!(3) && s["by_rule_name"]["session"] == json!(3)
    })
    .await;
    assert_eq!(stats_now["enabled"], json!(true));
    assert_eq!(stats_now["total"], json!(3));
    assert_eq!(stats_now["unknown"], json!(0));
    assert_eq!(stats_now["by_rule_name"]["session"], json!(3));
    assert_eq!(stats_now["by_rule_name"]["codex cli trace"], json!(0));
    assert_eq!(stats_now["cache_capacity"], json!(100_000));

    // The second request of a session was routed by its binding: the administrator's log
    // row says so, the user's does not.
    let affinity = logged_affinity(&scene.root).await;
    assert_eq!(affinity["rule_name"], "session");
    assert_eq!(affinity["using_group"], "default");
    assert_eq!(affinity["key_source"], "gjson");
    assert_eq!(affinity["key_path"], "metadata.user_id");
    assert!(
        scene
            .channels
            .contains(&affinity["channel_id"].as_i64().expect("id"))
    );
    let key_fp = affinity["key_fp"].as_str().expect("key_fp").to_string();
    let own = scene.root.get("/api/log/self?p=1&page_size=10").await;
    assert!(
        !own.data().to_string().contains("admin_info"),
        "a user sees admin_info: {own:?}"
    );

    // That key's usage: both requests, their tokens and prompt cache hits.
    let path = format!(
        "/api/log/channel_affinity_usage_cache?rule_name=session&using_group=default&key_fp={key_fp}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let usage = loop {
        let usage = scene.root.get(&path).await;
        assert!(usage.success(), "{usage:?}");
        if usage.data()["total"] == json!(2) || Instant::now() > deadline {
            break usage.data().clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(usage["rule_name"], "session");
    assert_eq!(usage["key_fp"], json!(key_fp));
    assert_eq!(usage["total"], json!(2), "{usage}");
    assert_eq!(usage["hit"], json!(2), "{usage}");
    assert_eq!(usage["cached_tokens"], json!(8), "{usage}");
    assert_eq!(usage["prompt_tokens"], json!(20), "{usage}");
    assert_eq!(usage["window_seconds"], json!(600), "{usage}");
    assert_eq!(usage["cached_token_rate_mode"], "cached_over_prompt");
    let unknown = scene
        .root
        .get("/api/log/channel_affinity_usage_cache?rule_name=session&key_fp=00000000")
        .await;
    assert!(unknown.success());
    assert_eq!(unknown.data()["total"], json!(0));
    for missing in ["key_fp=x", "rule_name=session"] {
        let refused = scene
            .root
            .get(&format!("/api/log/channel_affinity_usage_cache?{missing}"))
            .await;
        assert!(!refused.success(), "{missing}: {refused:?}");
    }

    // Clearing: refused without a rule or for an unknown one; by rule; all.
    for query in ["", "?rule_name=nobody", "?all=yes"] {
        let refused = scene
            .root
            .send(
                Method::DELETE,
                &format!("/api/option/channel_affinity_cache{query}"),
                None,
            )
            .await;
        assert!(!refused.success(), "{query}: {refused:?}");
    }
    assert_eq!(stats(&scene.root).await["total"], json!(3));
    let cleared = scene
        .root
        .send(
            Method::DELETE,
            "/api/option/channel_affinity_cache?rule_name=session",
            None,
        )
        .await;
    assert!(cleared.success(), "{cleared:?}");
    assert_eq!(cleared.data()["deleted"], json!(3));
    assert_eq!(stats(&scene.root).await["total"], json!(0));
    assert_eq!(chat(&scene, "s-4").await.0, 200);
    let bound = stats_when(&scene.root, |s| s["total"] == json!(1)).await;
    assert_eq!(bound["total"], json!(1));
    let cleared = scene
        .root
        .send(
            Method::DELETE,
            "/api/option/channel_affinity_cache?all=true",
            None,
        )
        .await;
    assert_eq!(cleared.data()["deleted"], json!(1), "{cleared:?}");
    assert_eq!(stats(&scene.root).await["total"], json!(0));

    // Bad rules are refused and change nothing.
    let refused = scene
        .root
        .send(
            Method::PUT,
            "/api/option/",
            Some(
                json!({"key": "channel_affinity_setting.rules",
                    "value": r#"[{"name": "x", "model_regex": ["("], "key_sources": [{"type": "gjson", "path": "a"}]}]"#})
                .to_string(),
            ),
        )
        .await;
    assert!(!refused.success(), "{refused:?}");
    assert!(
        stats(&scene.root).await["by_rule_name"]
            .get("session")
            .is_some()
    );
}
on_every_backend!(routes_show_and_clear_bindings_and_usage);

/// The newest log row's `other.admin_info.channel_affinity` (rows are written in batches).
async fn logged_affinity(root: &Console) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logs = root.get("/api/log/?p=1&page_size=10").await;
        let found = logs.data()["items"]
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|row| serde_json::from_str::<Value>(row["other"].as_str()?).ok())
            .find_map(|other| other["admin_info"].get("channel_affinity").cloned());
        if let Some(found) = found {
            return found;
        }
        assert!(Instant::now() < deadline, "no log row names the affinity");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two proxy nodes on one Redis: a session bound through one node is routed to the same
/// channel by the other, which never saw it; the binding is in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_bindings_through_redis() {
    let scene = scene(Backend::MySqlRedis).await;
    let node = scene.pylon.start_node().await;
    wait_until_routable_at(&node.base_url, &scene.key, MODEL).await;
    use_rules(&scene, "shared", 600, true).await;
    let mut root_two = Console::new(&node.base_url);
    root_two.login("root", ROOT_PASSWORD).await;
    wait_for_rule(&root_two, "shared").await;
    let mut used = HashSet::new();
    for session in 0..SESSIONS {
        let session = format!("node-{session}");
        let (status, first) = chat(&scene, &session).await;
        assert_eq!(status, 200);
        let first = first.expect("served");
        used.insert(first);
        // Written after the answer: waited for, within a bound.
        let key = format!("aff:b:shared:default:{session}");
        let deadline = Instant::now() + Duration::from_secs(5);
        let bound = loop {
            let bound = redis_value(&scene.pylon, &key).await;
            if bound.is_some() || Instant::now() >= deadline {
                break bound;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(bound, Some(scene.channels[first]), "not bound in Redis");
        for _ in 0..2 {
            let (status, there) = chat_at(&scene, &node.base_url, &session).await;
            assert_eq!(status, 200);
            assert_eq!(
                there,
                Some(first),
                "node two ignored the binding of {session}"
            );
        }
    }
    // Both nodes' statistics are Redis's.
    let shared = stats_when(&root_two, |s| {
        s["by_rule_name"]["shared"] == json!(SESSIONS)
    })
    .await;
    assert_eq!(shared["by_rule_name"]["shared"], json!(SESSIONS));
    assert!(used.len() >= 2, "sessions did not spread: {used:?}");
}
