//! `DELETE /api/performance/disk_cache`: new-api removes its request-body files unused for 10
//! minutes. Pylon never writes request bodies to disk, so there is nothing to remove; the
//! answer says so, as new-api answers with its disk cache off.

use crate::auth::RootUser;
use crate::envelope;
use crate::error::ApiResult;

pub async fn clear(_: RootUser) -> ApiResult {
    Ok(envelope::ok_message(
        "Inactive disk cache cleared: Pylon keeps request bodies in memory, no files to remove",
    ))
}
