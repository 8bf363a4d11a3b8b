//! The example audit server: privacyIDEA's and MetaDefender Vault's audit APIs over a SQLite
//! file (default `audit.db`), on axum.

use audit_examples::config::Config;
use audit_examples::{server, startup};

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn run(config: Config) -> Result<(), String> {
    let started = startup::prepare(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    startup::announce(address, &started);
    server::serve(
        listener,
        started.app,
        config.max_ingest_bytes,
        shutdown_signal(),
    )
    .await
    .map_err(|e| format!("the server failed: {e}"))?;
    Ok(())
}

#[tokio::main]
async fn main() {
    startup::finish(run(startup::config_or_exit()).await);
}
