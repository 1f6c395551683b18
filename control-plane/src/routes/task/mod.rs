//! `/api/task/*`: new-api's asynchronous tasks (OpenAI videos and Suno music the relay created). Users read
//! their own (`/api/task/self`), admins everyone's (`/api/task/`), with new-api's filters and
//! row shape ([`list`]); the control plane's poller moves unfinished tasks forward at their
//! upstream and refunds the failed ones ([`poll`], Suno's in batches: [`suno_poll`]).

pub(super) mod list;
pub(super) mod poll;
pub(super) mod suno_poll;
