//! User roles and statuses, with new-api's numbers.

/// An ordinary user.
pub const ROLE_COMMON: i64 = 1;
/// An administrator.
pub const ROLE_ADMIN: i64 = 10;
/// The root user (created by setup).
pub const ROLE_ROOT: i64 = 100;

/// A user that may log in and use the API.
pub const STATUS_ENABLED: i64 = 1;
/// A user that has been disabled (banned).
pub const STATUS_DISABLED: i64 = 2;

/// Quota units per US dollar, as new-api counts them.
pub const QUOTA_PER_UNIT: i64 = 500_000;
