//! Money on the relay path: reservations before a request goes upstream (no overdraft under
//! concurrency), settlement of the real cost when it ends, and the batched writer that makes
//! both durable.

mod balances;
mod journal;
mod ledger;
mod pending;
mod settler;

pub use balances::{Balances, Payer, Refusal, Reservation};
pub use journal::Journal;
pub use ledger::Ledger;
pub use settler::{Settlement, Settler, SettlerSettings};
