//! Start-up shared by every server binary: open the store, add demo data, set up accounts,
//! and tell the operator how to log in.

use std::net::SocketAddr;
use std::sync::Arc;

use audit_core::{AuditQuery, AuditStore};
use audit_memory::MemoryStore;
use audit_postgres::PostgresStore;
use audit_sqlite::SqliteStore;

use crate::App;
use crate::accounts::{Account, Accounts, random_password};
use crate::config::{Config, Storage};
use crate::demo;

/// A prepared application and what the operator must be told.
#[derive(Debug)]
pub struct Started {
    /// The application.
    pub app: Arc<App>,
    /// The account names.
    pub admins: Vec<String>,
    /// The generated password of `admin`, when no account was given.
    pub generated_password: Option<String>,
}

/// Opens the store, appends demo events to an empty one and builds the application. Must run
/// inside a Tokio runtime.
pub async fn prepare(config: &Config) -> Result<Started, String> {
    let store: Arc<dyn AuditStore> = match &config.storage {
        Storage::Sqlite(path) => {
            let mut builder = SqliteStore::builder().path(path);
            if let Some(keyring) = &config.integrity {
                builder = builder.integrity(keyring.clone());
            }
            Arc::new(
                builder
                    .open()
                    .await
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?,
            )
        }
        Storage::Memory => Arc::new(match &config.integrity {
            Some(keyring) => MemoryStore::with_integrity(keyring.clone()),
            None => MemoryStore::new(),
        }),
        Storage::Postgres(url) => Arc::new(
            {
                let mut builder = PostgresStore::builder().url(url);
                if let Some(keyring) = &config.integrity {
                    builder = builder.integrity(keyring.clone());
                }
                builder
            }
            .open()
            .await
            .map_err(|e| format!("cannot open the PostgreSQL store: {e}"))?,
        ),
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
    let mut admins = config.admins.clone();
    let mut generated_password = None;
    if admins.is_empty() {
        let password = random_password().ok_or("cannot generate a password")?;
        admins.push(Account::new("admin", password.clone()));
        generated_password = Some(password);
    }
    let names = admins
        .iter()
        .chain(&config.users)
        .map(|a| a.name.clone())
        .collect();
    let mut accounts = admins;
    accounts.extend(config.users.iter().cloned());
    for account in &mut accounts {
        if let Some(limit) = config.max_age {
            account.scope = account.scope.clone().max_age(limit);
        }
        for column in &config.hidden {
            account.scope = account.scope.clone().hide(*column);
        }
    }
    let mut app = App::new(store, Accounts::new(accounts), config.self_audit);
    if let Some(keyring) = &config.integrity {
        app = app.integrity(keyring.clone());
    }
    let app = Arc::new(app);
    Ok(Started {
        app,
        admins: names,
        generated_password,
    })
}

/// Prints where the server listens and how to log in.
pub fn announce(address: SocketAddr, started: &Started) {
    println!("audit server listening on http://{address}");
    println!("  viewer:      http://{address}/  (open it in a browser)");
    println!("  privacyIDEA: GET http://{address}/audit/  (token from POST http://{address}/auth)");
    println!("  statistics:  GET http://{address}/audit/statistics?days=30  (charts as data URIs)");
    println!(
        "  Vault:       GET http://{address}/vault_rest/audit/0/100  (Authorization: Bearer <token>)"
    );
    match &started.generated_password {
        Some(password) => println!("  log in as admin with password {password}"),
        None => println!("  log in as {}", started.admins.join(", ")),
    }
}

/// Parses the command line, or prints the problem and exits with status 2.
pub fn config_or_exit() -> Config {
    match Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    }
}

/// Reports how a server run ended: prints the problem and exits with status 1 on failure.
pub fn finish(outcome: Result<(), String>) {
    match outcome {
        Ok(()) => println!("audit server stopped; every entry is written"),
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(1);
        }
    }
}
