//! Retention cases: purges by age, watermarks and rules on a sealed store loaded with the
//! dataset. The expected survivors come from the reference model, rule by rule; afterwards the
//! chain must verify (over the purge's checkpoints) and reads must equal the reference model of
//! what is left, free-text search included.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::event::{AuditEntry, AuditEvent, AuditId};
use crate::integrity::{IntegrityKey, Keyring, verify};
use crate::query::{AuditQuery, Condition};
use crate::retention::{Retention, RetentionRule, purge, purge_in_chunks};
use crate::store::AuditStore;
use crate::testkit::dataset::{base_date, events as dataset_events};
use crate::testkit::reference::Reference;
use crate::testkit::{Report, cases, load, random, rng, walk};

/// The key the retention cases expect a sealed store to use: the factory passed to
/// [`check_retention`] must seal with `retention_keyring()`.
pub fn retention_keyring() -> Keyring {
    let key = IntegrityKey::new("kit-key", b"the conformance kit's test secret".to_vec());
    match key {
        Ok(key) => Keyring::new(key),
        // The id and secret above are valid; an invalid key would fail every case clearly.
        Err(error) => unreachable!("the kit's key is valid: {error}"),
    }
}

/// The instant the purges run at: ten days after the dataset's last possible date.
fn purge_time() -> DateTime<Utc> {
    base_date() + TimeDelta::days(70)
}

/// What should survive: the newest entry always, otherwise what the first matching rule keeps.
fn survivors(
    reference: &Reference,
    rules: &[(Vec<Condition>, TimeDelta)],
    now: DateTime<Utc>,
) -> Vec<AuditEntry> {
    let newest = reference.entries().iter().map(AuditEntry::id).max();
    let matched: Vec<BTreeSet<AuditId>> = rules
        .iter()
        .map(|(conditions, _)| {
            let query = conditions
                .iter()
                .cloned()
                .fold(AuditQuery::new(), AuditQuery::condition);
            reference
                .matching(&query, now)
                .iter()
                .map(|e| e.id())
                .collect()
        })
        .collect();
    reference
        .entries()
        .iter()
        .filter(|entry| {
            if Some(entry.id()) == newest {
                return true;
            }
            match matched.iter().position(|ids| ids.contains(&entry.id())) {
                Some(rule) => entry.date() >= now - rules[rule].1,
                None => true,
            }
        })
        .cloned()
        .collect()
}

/// Rules as the survivors are computed from: conditions and the age they keep entries for.
type Rules = Vec<(Vec<Condition>, TimeDelta)>;

/// The policies the cases run, with the rules the survivors are computed from.
fn policies() -> Vec<(&'static str, crate::Result<Retention>, Rules)> {
    let age = TimeDelta::days(40);
    let parse = |field: &str, value: &str| Condition::parse(field, value).ok().flatten();
    let failed = vec![Condition::Success(false)];
    let admins: Vec<Condition> = parse("administrator", "adm*").into_iter().collect();
    let rules = vec![
        (failed.clone(), TimeDelta::days(15)),
        (admins.clone(), TimeDelta::days(60)),
        (Vec::new(), TimeDelta::days(35)),
    ];
    let policy = (|| {
        Retention::rules(vec![
            RetentionRule::new(TimeDelta::days(15))?.matching(Condition::Success(false)),
            RetentionRule::new(TimeDelta::days(60))?.filter("administrator", "adm*")?,
            RetentionRule::new(TimeDelta::days(35))?,
        ])
    })();
    let only_failed = (|| {
        Retention::rules(vec![
            RetentionRule::new(TimeDelta::days(30))?.matching(Condition::Success(false)),
        ])
    })();
    vec![
        (
            "purge_by_age",
            Retention::max_age(age),
            vec![(Vec::new(), age)],
        ),
        ("purge_by_rules_first_match_wins", policy, rules),
        (
            "purge_by_rule_keeps_entries_no_rule_matches",
            only_failed,
            vec![(failed, TimeDelta::days(30))],
        ),
    ]
}

/// Runs the retention cases. `factory` gives a fresh, empty store that seals with
/// [`retention_keyring`].
pub async fn check_retention<F, Fut>(factory: F) -> Report
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = Arc<dyn AuditStore>> + Send,
{
    let mut report = Report::default();
    for (name, policy, rules) in policies() {
        for chunk_rows in [crate::retention::PURGE_CHUNK_ROWS, 7] {
            let outcome = match &policy {
                Ok(policy) => check_policy(&factory, policy, &rules, chunk_rows).await,
                Err(error) => Err(format!("the kit built an invalid policy: {error}")),
            };
            record(
                &mut report,
                &format!("{name}_in_chunks_of_{chunk_rows}"),
                outcome,
            );
        }
    }
    record(
        &mut report,
        "purge_by_watermarks",
        check_watermarks(&factory).await,
    );
    record(
        &mut report,
        "repeated_purges_and_appends_keep_the_chain",
        check_repeated(&factory).await,
    );
    record(
        &mut report,
        "bad_policies_are_refused",
        check_bad_policies(),
    );
    record(
        &mut report,
        "an_age_beyond_the_calendar_keeps_everything",
        check_endless_age(&factory).await,
    );
    report
}

fn record(report: &mut Report, name: &str, outcome: Result<(), String>) {
    match outcome {
        Ok(()) => report.pass(),
        Err(detail) => report.fail(name, detail),
    }
}

async fn loaded<F, Fut>(factory: &F) -> Result<(Arc<dyn AuditStore>, Reference), String>
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = Arc<dyn AuditStore>> + Send,
{
    let store = factory().await;
    let reference = load(&*store, dataset_events())
        .await
        .map_err(|f| f.detail)?;
    Ok((store, reference))
}

async fn check_policy<F, Fut>(
    factory: &F,
    policy: &Retention,
    rules: &[(Vec<Condition>, TimeDelta)],
    chunk_rows: u32,
) -> Result<(), String>
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = Arc<dyn AuditStore>> + Send,
{
    let (store, reference) = loaded(factory).await?;
    let now = purge_time();
    let expected = survivors(&reference, rules, now);
    let doomed = (reference.entries().len() - expected.len()) as u64;
    if doomed == 0 || expected.len() < 2 {
        return Err(format!(
            "the case purges {doomed} entries: it tests nothing"
        ));
    }

    let dry = purge(&*store, policy, now, true)
        .await
        .map_err(|e| format!("dry run failed: {e}"))?;
    if dry.purged != doomed || !dry.dry_run {
        return Err(format!("dry run counts {dry:?}, expected {doomed}"));
    }
    same_entries(&*store, &reference, "after the dry run").await?;

    // Small chunks put runs of deleted rows, kept rows and checkpoints across many chunk
    // boundaries; the result must not depend on where they fall.
    let done = purge_in_chunks(&*store, policy, now, false, chunk_rows)
        .await
        .map_err(|e| format!("purge failed: {e}"))?;
    if done.purged != doomed {
        return Err(format!("purge deleted {}, expected {doomed}", done.purged));
    }
    let left = Reference::new(expected);
    same_entries(&*store, &left, "after the purge").await?;
    chain_verifies(&*store, "after the purge").await?;
    reads_match(&*store, &left).await?;

    let again = purge(&*store, policy, now, false)
        .await
        .map_err(|e| format!("second purge failed: {e}"))?;
    if again.purged != 0 {
        return Err(format!("a second purge deleted {} more", again.purged));
    }
    Ok(())
}

async fn check_watermarks<F, Fut>(factory: &F) -> Result<(), String>
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = Arc<dyn AuditStore>> + Send,
{
    let (store, reference) = loaded(factory).await?;
    let stored = reference.entries().len() as u64;
    let now = purge_time();
    let policy = |high, low| Retention::watermarks(high, low).map_err(|e| e.to_string());

    let below = purge(&*store, &policy(stored, 10)?, now, false)
        .await
        .map_err(|e| format!("purge failed: {e}"))?;
    if below.purged != 0 {
        return Err(format!(
            "{} purged with the high watermark not exceeded",
            below.purged
        ));
    }
    let keep = 700;
    let done = purge(&*store, &policy(stored - 1, keep)?, now, false)
        .await
        .map_err(|e| format!("purge failed: {e}"))?;
    let expected: Vec<AuditEntry> =
        reference.entries()[reference.entries().len() - keep as usize..].to_vec();
    if done.purged != stored - keep {
        return Err(format!(
            "purged {}, expected {}",
            done.purged,
            stored - keep
        ));
    }
    let left = Reference::new(expected);
    same_entries(&*store, &left, "after the watermark purge").await?;
    chain_verifies(&*store, "after the watermark purge").await
}

/// Purges twice with appends between, then appends again: every state verifies, and the
/// checkpoints of the two purges join where they meet.
async fn check_repeated<F, Fut>(factory: &F) -> Result<(), String>
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = Arc<dyn AuditStore>> + Send,
{
    let (store, reference) = loaded(factory).await?;
    let now = purge_time();
    let mut entries = reference.entries().to_vec();
    for (round, days) in [(0, 45), (1, 25)] {
        let policy = Retention::max_age(TimeDelta::days(days)).map_err(|e| e.to_string())?;
        purge(&*store, &policy, now, false)
            .await
            .map_err(|e| format!("purge {round} failed: {e}"))?;
        let newest = entries.iter().map(AuditEntry::id).max();
        entries.retain(|e| Some(e.id()) == newest || e.date() >= now - TimeDelta::days(days));
        let more: Vec<AuditEvent> = (0..25)
            .map(|i| {
                AuditEvent::new("POST /retention")
                    .user(format!("after-purge-{round}-{i}"))
                    .date(now)
            })
            .collect();
        let ids = store
            .append(more.clone())
            .await
            .map_err(|e| format!("append after purge {round} failed: {e}"))?;
        entries.extend(
            ids.into_iter()
                .zip(more)
                .map(|(id, e)| AuditEntry::new(id, e)),
        );
        let left = Reference::new(entries.clone());
        same_entries(&*store, &left, &format!("after purge {round}")).await?;
        chain_verifies(&*store, &format!("after purge {round} and appends")).await?;
    }
    Ok(())
}

async fn check_endless_age<F, Fut>(factory: &F) -> Result<(), String>
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = Arc<dyn AuditStore>> + Send,
{
    let (store, reference) = loaded(factory).await?;
    for age in [TimeDelta::MAX, TimeDelta::days(365 * 300_000)] {
        let policy = Retention::max_age(age).map_err(|e| e.to_string())?;
        let done = purge(&*store, &policy, purge_time(), false)
            .await
            .map_err(|e| format!("purge failed: {e}"))?;
        if done.purged != 0 {
            return Err(format!("an age of {age} purged {} entries", done.purged));
        }
    }
    same_entries(&*store, &reference, "after purges by endless ages").await
}

fn check_bad_policies() -> Result<(), String> {
    let refused = [
        Retention::max_age(TimeDelta::zero()).is_err(),
        Retention::max_age(TimeDelta::days(-1)).is_err(),
        Retention::watermarks(0, 0).is_err(),
        Retention::watermarks(10, 0).is_err(),
        Retention::watermarks(10, 11).is_err(),
        Retention::rules(Vec::new()).is_err(),
        RetentionRule::new(TimeDelta::seconds(-5)).is_err(),
        RetentionRule::new(TimeDelta::days(1))
            .and_then(|r| r.filter("no_such_column", "x"))
            .is_err(),
    ];
    match refused.iter().position(|r| !r) {
        None => Ok(()),
        Some(index) => Err(format!("bad policy number {index} was accepted")),
    }
}

/// Every stored entry, in id order, equals the reference model's.
async fn same_entries(
    store: &dyn AuditStore,
    reference: &Reference,
    when: &str,
) -> Result<(), String> {
    walk(store, reference, &AuditQuery::new(), 500, true)
        .await
        .map_err(|e| format!("{when}: {e}"))?;
    let everything = crate::testkit::everything_by_id()
        .offset(0, 1)
        .map_err(|e| e.to_string())?;
    crate::testkit::check_query(store, reference, &everything)
        .await
        .map_err(|e| format!("{when}: {e}"))
}

async fn chain_verifies(store: &dyn AuditStore, when: &str) -> Result<(), String> {
    let verification = verify(store, &retention_keyring())
        .await
        .map_err(|e| format!("{when}: verification failed: {e}"))?;
    match verification.first_break {
        None => Ok(()),
        Some(broken) => Err(format!("{when}: the chain breaks: {broken}")),
    }
}

/// The named read cases and some random queries answer as the reference model of what is left
/// (pinned counts no longer hold after a purge and are not checked).
async fn reads_match(store: &dyn AuditStore, left: &Reference) -> Result<(), String> {
    for case in cases::read_cases(left) {
        let Ok(query) = case.query else { continue };
        crate::testkit::check_query(store, left, &query)
            .await
            .map_err(|e| format!("after the purge, {}: {e}", case.name))?;
    }
    for (name, request) in crate::testkit::stats_cases::named_requests() {
        let request = request.map_err(|e| format!("the kit built an invalid request: {e}"))?;
        crate::testkit::stats_cases::check_statistics(store, left, &request)
            .await
            .map_err(|e| format!("after the purge, {name}: {e}"))?;
    }
    let mut rng = rng::Rng::new(0xDE1E7E);
    for n in 0..200 {
        let query = random::random_query(&mut rng, left, Utc::now()).map_err(|e| e.to_string())?;
        crate::testkit::check_query(store, left, &query)
            .await
            .map_err(|e| format!("after the purge, random query {n}: {e}"))?;
    }
    Ok(())
}
