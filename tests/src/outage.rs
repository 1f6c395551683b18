//! An outage on demand: the TCP gate between Pylon and MariaDB or Redis lives in the benches
//! library (the `pylon-faults` scenario cuts it under load); the tests use that one copy.

pub use pylon_benches::outage::Gate;
