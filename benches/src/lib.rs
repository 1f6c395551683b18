//! Measuring Pylon: the mock LLM upstream that tests and benchmarks run against
//! ([`mock::MockUpstream`], also the `mock-upstream` binary), and the load client that drives
//! them ([`load::run`], also the `pylon-load` binary).

pub mod compare;
pub mod fresh;
pub mod load;
pub mod log_rows;
pub mod mock;
