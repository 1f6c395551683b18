//! `/api/mj/*`: new-api's Midjourney tasks (the relay's `/mj/*` created them). Users read
//! their own (`/api/mj/self`), admins everyone's (`/api/mj/`), with new-api's filters and row
//! shape ([`list`]); the control plane's poller moves unfinished tasks forward at their
//! channel and refunds the failed ones ([`poll`]), and midjourney-proxy's callback
//! (`/mj/notify`) has a task asked about at once, through the poller's path ([`notify`]).

pub(super) mod list;
pub(super) mod notify;
pub(super) mod poll;
