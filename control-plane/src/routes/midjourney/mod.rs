//! `/api/mj/*`: new-api's Midjourney tasks (the relay's `/mj/*` created them). Users read
//! their own (`/api/mj/self`), admins everyone's (`/api/mj/`), with new-api's filters and row
//! shape ([`list`]); the control plane's poller moves unfinished tasks forward at their
//! channel and refunds the failed ones ([`poll`]).

pub(super) mod list;
pub(super) mod poll;
