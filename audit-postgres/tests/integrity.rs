//! audit-postgres's integrity chain on a real server: two instances extending one chain at
//! once, and every kind of tampering with raw SQL found at the entry it touched.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

mod support;

use std::sync::Arc;

use audit_core::integrity::{BreakKind, IntegrityKey, Keyring, verify};
use audit_core::{AuditEvent, AuditStore};

use support::{Schema, admin};

fn keyring() -> Keyring {
    Keyring::new(IntegrityKey::new("k1", b"a-secret-of-sixteen-bytes".to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_with_four_writers_each_extend_one_chain() {
    let schema = Schema::new();
    let mut stores = Vec::new();
    for _ in 0..2 {
        stores.push(Arc::new(
            schema.builder().integrity(keyring()).open().await.unwrap(),
        ));
    }
    let mut writers = Vec::new();
    for (instance, store) in stores.iter().enumerate() {
        for writer in 0..4 {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for batch in 0..15 {
                    let events = vec![AuditEvent::new(format!("i{instance}-w{writer}-{batch}")); 4];
                    store.append(events).await.unwrap();
                }
            }));
        }
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let verification = verify(&*stores[0], &keyring()).await.unwrap();
    assert_eq!(verification.first_break, None);
    assert_eq!(verification.checked, 2 * 4 * 15 * 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_tampering_is_found_at_the_right_entry() {
    let cases: [(&str, &str, i64, BreakKind); 4] = [
        (
            "changed",
            "UPDATE {t} SET \"user\" = 'mallory' WHERE id = 37",
            37,
            BreakKind::Altered,
        ),
        (
            "deleted",
            "DELETE FROM {t} WHERE id = 50",
            51,
            BreakKind::Missing { previous: 49 },
        ),
        (
            "inserted",
            "INSERT INTO {t} (id, date, success, event, seal_key, seal_mac) \
             VALUES (101, 0, true, 'forged', 'k1', decode(repeat('00', 32), 'hex'))",
            101,
            BreakKind::Altered,
        ),
        (
            "swapped dates",
            "UPDATE {t} AS a SET date = b.date FROM {t} AS b \
             WHERE (a.id, b.id) IN ((20, 80), (80, 20))",
            20,
            BreakKind::Altered,
        ),
    ];
    for (name, sql, id, kind) in cases {
        let schema = Schema::new();
        let store = schema.builder().integrity(keyring()).open().await.unwrap();
        for batch in 0..10 {
            let events = (0..10)
                .map(|i| AuditEvent::new("POST /auth").user(format!("u{}", batch * 10 + i)))
                .collect();
            store.append(events).await.unwrap();
        }
        let table = format!("\"{}\".audit_entries", schema.name);
        admin()
            .await
            .batch_execute(&sql.replace("{t}", &table))
            .await
            .unwrap();
        let verification = verify(&store, &keyring()).await.unwrap();
        assert_eq!(
            verification.first_break.map(|b| (b.id, b.kind)),
            Some((id, kind)),
            "{name}"
        );
        store.close();
    }
}

const WRITER_CHILD: &str = "AUDIT_POSTGRES_CHAIN_WRITER";

/// In a child process: four writer tasks append sealed batches to the schema named by the
/// environment (`URL SCHEMA`). Does nothing in a normal test run.
#[test]
fn chain_writer_child() {
    let Ok(target) = std::env::var(WRITER_CHILD) else {
        return;
    };
    let (url, schema) = target.split_once(' ').unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let store = Arc::new(
            audit_postgres::PostgresStore::builder()
                .url(url)
                .schema(schema)
                .max_connections(4)
                .integrity(keyring())
                .open()
                .await
                .unwrap(),
        );
        let mut writers = Vec::new();
        for writer in 0..4 {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for batch in 0..20 {
                    let events =
                        vec![
                            AuditEvent::new(format!("p{}-w{writer}-{batch}", std::process::id()));
                            5
                        ];
                    store.append(events).await.unwrap();
                }
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_with_four_writers_each_extend_one_chain() {
    let schema = Schema::new();
    let store = schema.builder().integrity(keyring()).open().await.unwrap();
    let target = format!("{} {}", support::server().url, schema.name);
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "chain_writer_child", "--test-threads=1"])
                .env(WRITER_CHILD, &target)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer process failed");
    }
    let verification = verify(&store, &keyring()).await.unwrap();
    assert_eq!(verification.first_break, None);
    assert_eq!(verification.checked, 2 * 4 * 20 * 5);
    store.close();
}
