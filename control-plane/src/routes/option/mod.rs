//! `/api/option/*`: the operator's settings as key/value text, for the root user only (new-api
//! guards them with `RootAuth`; an admin or common user gets "insufficient privileges").
//! Every change is announced on the change feed so that every process reloads its settings.

pub(super) mod channel_affinity;
pub(super) mod groups;
pub(super) mod list;
pub(super) mod migrate_console;
pub(super) mod pricing;
pub(super) mod update;
