//! The bonuses of a sign-up made with someone's invitation code (new-api's `aff` code), the
//! same for every way of signing up (password registration, OAuth, OIDC, custom providers): the
//! inviter is recorded, gets one more `aff_count` and `QuotaForInviter` added to `aff_quota`,
//! and the new user gets `QuotaForInvitee`. Each bonus is one ledger movement (logged), keyed
//! by the new user so that it is paid once, and written in the transaction that creates the
//! user. An unknown or empty code is no invitation.

use super::quota_option;
use crate::app::App;
use crate::error::ApiError;
use pylon_shared::db::{LOG_TYPE_SYSTEM, Movement, MovementKind, quota_text};

/// The bonuses of an invitation (all 0 without one).
#[derive(Debug, Clone, Copy, Default)]
pub(in crate::routes) struct InvitationRewards {
    /// 0: no invitation.
    inviter_id: i64,
    /// `QuotaForInviter`, added to the inviter's invitation quota.
    inviter_aff_quota: i64,
    /// `QuotaForInvitee`, added to the new user's quota.
    invitee_bonus: i64,
}

impl InvitationRewards {
    /// The rewards of signing up with the invitation code `code` (none when it names nobody).
    pub(in crate::routes) async fn of_aff_code(app: &App, code: &str) -> Result<Self, ApiError> {
        let code = code.trim();
        if code.is_empty() {
            return Ok(Self::default());
        }
        let Some(inviter_id) = app.db.user_id_by_aff_code(code).await? else {
            return Ok(Self::default());
        };
        Ok(Self {
            inviter_id,
            inviter_aff_quota: quota_option(app, "QuotaForInviter").await?,
            invitee_bonus: quota_option(app, "QuotaForInvitee").await?,
        })
    }

    /// The inviter, if the code named one.
    pub(in crate::routes) fn inviter(self) -> Option<i64> {
        (self.inviter_id != 0).then_some(self.inviter_id)
    }

    /// The ledger movements of the rewards for the new user `user_id`.
    pub(in crate::routes) fn movements(self, user_id: i64) -> Vec<Movement> {
        let mut movements = Vec::new();
        if self.inviter_id == 0 {
            return movements;
        }
        if self.invitee_bonus > 0 {
            movements.push(
                Movement::new(
                    format!("invitee_bonus:{user_id}"),
                    MovementKind::InviteReward,
                    user_id,
                    self.invitee_bonus,
                )
                .with_log(
                    LOG_TYPE_SYSTEM,
                    format!("Invite code bonus {}", quota_text(self.invitee_bonus)),
                    self.invitee_bonus,
                ),
            );
        }
        if self.inviter_aff_quota > 0 {
            movements.push(
                Movement::new(
                    format!("inviter_reward:{user_id}"),
                    MovementKind::InviteReward,
                    self.inviter_id,
                    0,
                )
                .with_aff_delta(self.inviter_aff_quota)
                .with_log(
                    LOG_TYPE_SYSTEM,
                    format!(
                        "Invited user bonus {} (invitation quota)",
                        quota_text(self.inviter_aff_quota)
                    ),
                    self.inviter_aff_quota,
                ),
            );
        }
        movements
    }
}
