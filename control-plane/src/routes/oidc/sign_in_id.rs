//! new-api's built-in sign-in providers keep the provider's id of a person in a `users` column
//! of their own (OIDC's `oidc_id`, GitHub's `github_id`, ...): a [`Slot`] names the provider
//! and its column, a [`Person`] is who the provider vouches for. Signing in, signing up and
//! binding ([`super::login`], [`super::signup`], [`super::bind`]) work on any slot, so that
//! OIDC and the built-in providers of `routes::social` share them.

use crate::routes::invitation::settings::METHOD_OIDC;
use pylon_shared::db::BindingColumn;

/// A built-in provider and the `users` column holding its ids.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// The provider as messages name it ("OIDC", "GitHub").
    pub name: &'static str,
    pub column: BindingColumn,
    /// new-api's registration method of the provider (for required invitation codes).
    pub method: &'static str,
}

impl Slot {
    /// The OIDC provider of the `oidc.*` options.
    pub const OIDC: Self = Self {
        name: "OIDC",
        column: BindingColumn::OIDC,
        method: METHOD_OIDC,
    };
}

/// Who a provider vouches for, and what their account is called should it be created.
#[derive(Debug, Clone, Default)]
pub struct Person {
    /// The provider's stable id of the person.
    pub id: String,
    /// An id an older release stored for the same person (new-api bound GitHub accounts by
    /// login name before it used GitHub's numeric id): an account holding it moves to `id`.
    /// Empty: none.
    pub legacy_id: String,
    /// Usernames to try for a new account, in order.
    pub usernames: Vec<String>,
    /// After them, usernames made of this stem and a random suffix are tried.
    pub username_stem: String,
    pub display_name: String,
    /// The address the provider gives, if any (stored only when nobody else has it).
    pub email: String,
}
