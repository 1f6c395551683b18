//! Running as pylon-proxy's child: when the parent goes away (crash, kill -9), exit too, so no
//! orphaned control plane keeps the port.

/// Set by pylon-proxy when it starts this process.
pub const SUPERVISED_ENV: &str = "PYLON_SUPERVISED_BY";

/// If started by pylon-proxy, watches the parent and exits when it is gone.
pub fn exit_with_parent() {
    #[cfg(unix)]
    {
        let Ok(expected) = std::env::var(SUPERVISED_ENV) else {
            return;
        };
        let Ok(expected) = expected.parse::<u32>() else {
            return;
        };
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(std::time::Duration::from_millis(500));
            loop {
                ticker.tick().await;
                if std::os::unix::process::parent_id() != expected {
                    tracing::info!("parent pylon-proxy exited; stopping");
                    std::process::exit(0);
                }
            }
        });
    }
}
