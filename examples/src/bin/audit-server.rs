//! The example audit server: privacyIDEA's and MetaDefender Vault's audit APIs over a SQLite
//! file (default `audit.db`), on axum.

use std::sync::Arc;

use audit_core::{AuditQuery, AuditStore};
use audit_examples::accounts::{Account, Accounts, random_password};
use audit_examples::config::{Config, Storage};
use audit_examples::{App, demo, server};
use audit_memory::MemoryStore;
use audit_sqlite::SqliteStore;

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

async fn run(mut config: Config) -> Result<(), String> {
    let store: Arc<dyn AuditStore> = match &config.storage {
        Storage::Sqlite(path) => Arc::new(
            SqliteStore::open(path)
                .await
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?,
        ),
        Storage::Memory => Arc::new(MemoryStore::new()),
    };
    let existing = store
        .count(&AuditQuery::new())
        .await
        .map_err(|e| e.to_string())?
        .total_count;
    let demo_count = config
        .demo
        .unwrap_or(if existing == 0 { 10_000 } else { 0 });
    if existing == 0 && demo_count > 0 {
        for chunk in demo::events(demo_count, chrono::Utc::now()).chunks(1_000) {
            store
                .append(chunk.to_vec())
                .await
                .map_err(|e| format!("cannot append demo events: {e}"))?;
        }
        println!("appended {demo_count} demo events");
    }
    let mut generated = None;
    if config.admins.is_empty() {
        let password = random_password().ok_or("cannot generate a password")?;
        config.admins.push(Account::new("admin", password.clone()));
        generated = Some(password);
    }
    let names: Vec<String> = config.admins.iter().map(|a| a.name.clone()).collect();
    let app = Arc::new(App::new(
        store,
        Accounts::new(config.admins.clone()),
        config.self_audit,
    ));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    println!("audit server listening on http://{address}");
    println!("  privacyIDEA: GET http://{address}/audit/  (token from POST http://{address}/auth)");
    println!(
        "  Vault:       GET http://{address}/vault_rest/audit/0/100  (Authorization: Bearer <token>)"
    );
    match generated {
        Some(password) => println!("  log in as admin with password {password}"),
        None => println!("  log in as {}", names.join(", ")),
    }
    server::serve(listener, app, config.max_ingest_bytes, shutdown_signal())
        .await
        .map_err(|e| format!("the server failed: {e}"))?;
    println!("audit server stopped; every entry is written");
    Ok(())
}

#[tokio::main]
async fn main() {
    let config = match Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if let Err(message) = run(config).await {
        eprintln!("{message}");
        std::process::exit(1);
    }
}
