//! Property tests (issue 10's fuzzers): the relay's request parser, the usage stream scanners
//! and the format converters take arbitrary bodies and byte streams, split anywhere, and never
//! panic; what they read does not depend on how the bytes were split; a valid request converted
//! to another format and back keeps its model, messages and stream flag.
//!
//! Each property runs 256 cases on bounded inputs (a few KiB at most), so the suite stays fast;
//! `PROPTEST_CASES` raises the count for a longer hunt.

mod converters;
mod request_parser;
mod strategies;
mod stream_scanners;
