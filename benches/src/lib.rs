//! Measuring Pylon: the mock LLM upstream that tests and benchmarks run against
//! ([`mock::MockUpstream`], also the `mock-upstream` binary).

pub mod mock;
