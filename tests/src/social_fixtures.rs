//! The scene of the built-in sign-in tests: a Pylon whose GitHub, Discord and LinuxDO servers
//! are [`MockSocial`], with `ServerAddress` set and every method's options filled in (each
//! test switches on what it uses), its root, and the flows as new-api's console drives them.

use crate::client::{Answer, Console};
use crate::fixtures::{database, root_console, scalar, set_option};
use crate::social_providers::{MockSocial, Site, SocialUser};
use crate::{Backend, Pylon};

pub const CLIENT_ID: &str = "social-client";
pub const CLIENT_SECRET: &str = "social-client-secret";
pub const WECHAT_TOKEN: &str = "wechat-server-token";
pub const BOT_TOKEN: &str = "123456789:telegram-bot-token";
pub const BOT_NAME: &str = "pylon_test_bot";

/// A Pylon, its root, the mocks and the database.
pub struct Scene {
    pub pylon: Pylon,
    pub root: Console,
    pub mock: MockSocial,
    pub pool: sqlx::AnyPool,
}

impl Scene {
    /// Pylon (with a generous per-IP budget) pointed at the mocks, every method configured and
    /// off.
    pub async fn start(backend: Backend) -> Self {
        let mock = MockSocial::start(CLIENT_ID, CLIENT_SECRET, WECHAT_TOKEN).await;
        let mut builder = Pylon::builder(backend).env("PYLON__AUTH__LOGIN_ATTEMPTS_PER_IP", "500");
        for (key, value) in mock.pylon_env() {
            builder = builder.env(key, value);
        }
        let pylon = builder.start().await;
        mock.expect_server(&pylon.base_url);
        let root = root_console(&pylon).await;
        for (key, value) in [
            ("ServerAddress", pylon.base_url.as_str()),
            ("GitHubClientId", CLIENT_ID),
            ("GitHubClientSecret", CLIENT_SECRET),
            ("discord.client_id", CLIENT_ID),
            ("discord.client_secret", CLIENT_SECRET),
            ("LinuxDOClientId", CLIENT_ID),
            ("LinuxDOClientSecret", CLIENT_SECRET),
            ("WeChatServerAddress", mock.base_url.as_str()),
            ("WeChatServerToken", WECHAT_TOKEN),
            ("WeChatAccountQRCodeImageURL", "https://example.com/qr.png"),
            ("TelegramBotName", BOT_NAME),
            ("TelegramBotToken", BOT_TOKEN),
        ] {
            set_option(&root, key, value).await;
        }
        let pool = database(&pylon).await;
        Self {
            pylon,
            root,
            mock,
            pool,
        }
    }

    /// Turns the switch `key` on or off.
    pub async fn switch(&self, key: &str, on: bool) {
        set_option(&self.root, key, if on { "true" } else { "false" }).await;
    }

    /// A fresh browser.
    pub fn console(&self) -> Console {
        Console::new(&self.pylon.base_url)
    }

    /// A state from `GET /api/oauth/state` in `console`.
    pub async fn state(&self, console: &Console) -> String {
        let answer = console.get("/api/oauth/state").await;
        assert!(answer.success(), "{answer:?}");
        answer.data().as_str().expect("the state").to_string()
    }

    /// A whole flow of `site` in `console` for `user` (a sign-in, or a binding when the
    /// console is signed in): the answer of `GET /api/oauth/{site}?code=&state=`.
    pub async fn flow(&self, console: &Console, site: Site, user: &SocialUser) -> Answer {
        let state = self.state(console).await;
        let code = self.mock.code(site, user);
        console
            .get(&format!("{}?code={code}&state={state}", path(site)))
            .await
    }

    /// A whole sign-in in a fresh console; asserts success, answers the signed-in console.
    pub async fn sign_in(&self, site: Site, user: &SocialUser) -> (Console, Answer) {
        let mut console = self.console();
        let answer = self.flow(&console, site, user).await;
        assert!(answer.success(), "sign-in failed: {answer:?}");
        console.user_id = answer.data()["id"].as_i64();
        (console, answer)
    }

    /// One integer from `sql`.
    pub async fn count(&self, sql: &'static str) -> i64 {
        scalar(&self.pool, sql).await
    }

    /// One text from `sql` about user `id`.
    pub async fn text_of(&self, sql: &'static str, id: i64) -> String {
        sqlx::query_scalar::<_, String>(sql)
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Users and sessions: what a refused flow must leave as it was.
    pub async fn footprint(&self) -> (i64, i64) {
        (
            self.count("SELECT COUNT(*) FROM users").await,
            self.count("SELECT COUNT(*) FROM sessions").await,
        )
    }
}

/// The callback path of `site`.
pub fn path(site: Site) -> &'static str {
    match site {
        Site::GitHub => "/api/oauth/github",
        Site::Discord => "/api/oauth/discord",
        Site::LinuxDo => "/api/oauth/linuxdo",
    }
}
