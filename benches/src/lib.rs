//! Measuring Pylon: the mock LLM upstream that tests and benchmarks run against
//! ([`mock::MockUpstream`], also the `mock-upstream` binary), the load client that drives
//! them ([`load::run`], also the `pylon-load` binary), the fault scenarios under load
//! ([`faults`], the `pylon-faults` binary) and the TCP gate that cuts a server off
//! ([`outage::Gate`]).

pub mod bulk_indexes;
pub mod compare;
pub mod console;
pub mod faults;
pub mod fresh;
pub mod load;
pub mod log_rows;
pub mod mock;
pub mod outage;
pub mod retention_under_load;
