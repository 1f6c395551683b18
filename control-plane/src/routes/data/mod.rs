//! `/api/data/*`: new-api's dashboard data (requests, quota and tokens per model and hour),
//! read from the per-hour usage aggregates.

pub(super) mod quota;
