//! Issue 4's whole scenario in one flow, as seed 000's Apifox collection would drive it: a new
//! user registers with an invite code and an email code, turns on 2FA and logs in with it,
//! reads /api/user/self, checks in; the inviter sees aff_count/aff_quota change and transfers
//! invite quota; an admin finds, edits, disables and re-enables the new user.

use pylon_tests::registration_fixtures::{PASSWORD, pylon_with_mail, register};
use pylon_tests::user_admin_fixtures::{manage, put};
use pylon_tests::{Backend, Console, on_every_backend};
use serde_json::json;
use totp_rs::TOTP;

async fn a_new_users_whole_journey(backend: Backend) {
    let (pylon, sink, root) = pylon_with_mail(backend).await;
    for (key, value) in [
        ("QuotaForInviter", "600000"),
        ("QuotaForInvitee", "1000"),
        ("checkin_setting.enabled", "true"),
        ("checkin_setting.min_quota", "10"),
        ("checkin_setting.max_quota", "20"),
    ] {
        pylon_tests::fixtures::set_option(&root, key, value).await;
    }

    // The inviter registers and fetches their invite code.
    let mut inviter = Console::new(&pylon.base_url);
    assert!(
        register(
            &inviter,
            &sink,
            "inviter",
            PASSWORD,
            "inviter@example.com",
            ""
        )
        .await
        .success()
    );
    inviter.login("inviter", PASSWORD).await;
    let aff_code = inviter
        .get("/api/user/aff")
        .await
        .data()
        .as_str()
        .expect("aff code")
        .to_string();

    // The newcomer registers with the invite code and an emailed code.
    let mut newcomer = Console::new(&pylon.base_url);
    let registered = register(
        &newcomer,
        &sink,
        "newcomer",
        PASSWORD,
        "new@example.com",
        &aff_code,
    )
    .await;
    assert!(registered.success(), "{registered:?}");
    newcomer.login("newcomer", PASSWORD).await;
    let me = newcomer.get("/api/user/self").await;
    assert_eq!(
        me.data()["inviter_id"],
        inviter.get("/api/user/self").await.data()["id"]
    );
    assert_eq!(me.data()["quota"], json!(1000), "invitee reward");

    // 2FA on, then a login owes the second factor.
    let setup = newcomer.post("/api/user/2fa/setup", json!({})).await;
    assert!(setup.success(), "{setup:?}");
    let totp =
        TOTP::from_url(setup.data()["qr_code_data"].as_str().expect("otpauth uri")).expect("totp");
    let backup: Vec<String> = setup.data()["backup_codes"]
        .as_array()
        .expect("backup codes")
        .iter()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect();
    let code = totp.generate_current().expect("code");
    let enabled = newcomer
        .post("/api/user/2fa/enable", json!({ "code": code }))
        .await;
    assert!(enabled.success(), "{enabled:?}");
    let mut again = Console::new(&pylon.base_url);
    let first = again
        .post(
            "/api/user/login",
            json!({"username": "newcomer", "password": PASSWORD}),
        )
        .await;
    assert_eq!(first.data()["require_2fa"], json!(true), "{first:?}");
    assert!(
        !again.get("/api/user/self").await.success(),
        "no session before the second factor"
    );
    let second = again
        .post(
            "/api/user/login/2fa",
            json!({"code": backup[0], "flow_token": first.data()["flow_token"]}),
        )
        .await;
    assert!(second.success(), "{second:?}");
    again.user_id = second.data()["id"].as_i64();
    let me = again.get("/api/user/self").await;
    assert_eq!(me.data()["username"], json!("newcomer"));

    // Daily check-in: once.
    let checked = again.post("/api/user/check-in", json!({})).await;
    assert!(checked.success(), "{checked:?}");
    assert!(!again.post("/api/user/check-in", json!({})).await.success());
    let quota = again.get("/api/user/self").await.data()["quota"]
        .as_i64()
        .expect("quota");
    assert!((1010..=1020).contains(&quota), "{quota}");

    // The inviter sees the invite, and moves the reward into quota.
    let inviter_self = inviter.get("/api/user/self").await;
    assert_eq!(inviter_self.data()["aff_count"], json!(1));
    assert_eq!(inviter_self.data()["aff_quota"], json!(600_000));
    let quota_before = inviter_self.data()["quota"].as_i64().expect("quota");
    assert!(
        !inviter
            .post("/api/user/aff_transfer", json!({"quota": 700_000}))
            .await
            .success()
    );
    let moved = inviter
        .post("/api/user/aff_transfer", json!({"quota": 500_000}))
        .await;
    assert!(moved.success(), "{moved:?}");
    let inviter_self = inviter.get("/api/user/self").await;
    assert_eq!(inviter_self.data()["aff_quota"], json!(100_000));
    assert_eq!(inviter_self.data()["quota"], json!(quota_before + 500_000));

    // An admin finds, edits, disables and re-enables the newcomer.
    let found = root.get("/api/user/search?keyword=newcomer").await;
    let items = found.data()["items"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| found.data().as_array().cloned().unwrap_or_default());
    let id = items
        .iter()
        .find(|u| u["username"] == json!("newcomer"))
        .and_then(|u| u["id"].as_i64())
        .unwrap_or_else(|| panic!("newcomer not found: {found:?}"));
    let edited = put(
        &root,
        "/api/user/",
        json!({"id": id, "display_name": "New Comer", "quota": 50_000}),
    )
    .await;
    assert!(edited.success(), "{edited:?}");
    assert_eq!(
        again.get("/api/user/self").await.data()["quota"],
        json!(50_000)
    );
    assert!(manage(&root, id, "disable").await.success());
    assert!(
        !again.get("/api/user/self").await.success(),
        "a disabled user's session is over"
    );
    let refused = Console::new(&pylon.base_url)
        .post(
            "/api/user/login",
            json!({"username": "newcomer", "password": PASSWORD}),
        )
        .await;
    assert!(!refused.success());
    assert!(manage(&root, id, "enable").await.success());
    let back = Console::new(&pylon.base_url)
        .post(
            "/api/user/login",
            json!({"username": "newcomer", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        back.data()["require_2fa"],
        json!(true),
        "enabled again, still with 2FA: {back:?}"
    );
    // Every change to quota or role left an audit row.
    let audit = root.get("/api/log/?type=3&username=newcomer").await;
    assert!(
        audit.data()["total"].as_i64().unwrap_or(0) >= 2,
        "{audit:?}"
    );
}
on_every_backend!(a_new_users_whole_journey);
