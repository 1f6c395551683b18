//! Pylon's proxy as a library: the Pingora service, the relay and its hot-path pieces, so that
//! the `pylon-proxy` binary and the benchmarks (`benches/`) use the same code.

pub mod context;
pub mod edge;
pub mod metrics;
pub mod relay;
pub mod route;
pub mod service;
pub mod shutdown;
pub mod state;
pub mod supervisor;
