//! What one chunk of a purge changes: which stored rows go, and which checkpoints replace the
//! ones that border them. Pure, so every backend deletes and signs the same way.

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::event::AuditId;
use crate::integrity::{Break, Checkpoint, GENESIS, Gap, Keyring, Mac};

/// One stored row of the chunk, as the backend read it in id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedRow {
    /// Its id.
    pub id: AuditId,
    /// Its MAC, `None` when it carries no seal.
    pub mac: Option<Mac>,
    /// Whether the purge deletes it.
    pub doomed: bool,
}

/// What a backend read for one chunk, inside the transaction that will apply the plan.
#[derive(Debug, Clone)]
pub struct ChunkRead<'a> {
    /// The stored row right before the first scanned row, if any.
    pub before: Option<(AuditId, Option<Mac>)>,
    /// Consecutive stored rows in id order (no stored row lies between two of them).
    pub rows: &'a [ScannedRow],
    /// The stored checkpoints that overlap or touch the ids from `before` to one past the last
    /// row: those a new checkpoint may have to absorb.
    pub checkpoints: &'a [Checkpoint],
    /// On a sealed store, the first broken link among the rows, checked from `before` (see
    /// [`ChainChecker::resume`](crate::integrity::ChainChecker::resume)): a purge signs only
    /// what it has checked.
    pub first_break: Option<Break>,
}

/// The changes of one chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkPlan {
    /// Inclusive id ranges to delete; every stored row inside a range is doomed.
    pub delete: Vec<(AuditId, AuditId)>,
    /// How many rows the ranges hold.
    pub deleted: u64,
    /// The first ids of stored checkpoints to remove (absorbed by a new one).
    pub replaced: Vec<AuditId>,
    /// New checkpoints to store.
    pub added: Vec<Checkpoint>,
}

/// A run of deleted ids while the plan merges deleted rows with neighbouring checkpoints.
struct Run {
    first: AuditId,
    last: AuditId,
    /// Known when the run starts with a stored checkpoint.
    before: Option<Mac>,
    last_mac: Mac,
    purged: u64,
    absorbed: Vec<AuditId>,
    has_doomed: bool,
}

/// Plans one chunk. With `sealing` (the store keeps an integrity chain) every maximal run of
/// deleted ids, together with the authentic checkpoints it touches, becomes one new signed
/// checkpoint.
///
/// A purge vouches for what it deletes, so it refuses ([`Error::Integrity`]) rather than sign
/// over a broken link at or before the last row it would delete, over a checkpoint whose
/// signature fails, or, without a keyring, over sealed rows or existing checkpoints (they
/// would be left unexplained).
pub fn plan_chunk(
    read: ChunkRead<'_>,
    sealing: Option<(&Keyring, DateTime<Utc>)>,
) -> Result<ChunkPlan> {
    let mut plan = ChunkPlan::default();
    let mut open: Option<(AuditId, AuditId)> = None;
    for row in read.rows {
        match (&mut open, row.doomed) {
            (Some(range), true) => range.1 = row.id,
            (None, true) => open = Some((row.id, row.id)),
            (Some(_), false) => plan.delete.extend(open.take()),
            (None, false) => {}
        }
        plan.deleted += u64::from(row.doomed);
    }
    plan.delete.extend(open);
    let last_doomed = read.rows.iter().rev().find(|r| r.doomed).map(|r| r.id);
    let Some(last_doomed) = last_doomed else {
        return Ok(plan);
    };
    let Some((keyring, now)) = sealing else {
        if read.rows.iter().any(|r| r.mac.is_some()) || !read.checkpoints.is_empty() {
            return Err(Error::Integrity(
                "the store holds sealed entries: purge it with its keyring, so that the purge \
                 leaves checkpoints and the chain still verifies"
                    .into(),
            ));
        }
        return Ok(plan);
    };
    if let Some(broken) = read.first_break.as_ref().filter(|b| b.id <= last_doomed) {
        return Err(Error::Integrity(format!(
            "{broken}: a purge deletes only entries it can vouch for; verify the chain and \
             repair it before purging"
        )));
    }
    let first_doomed = read
        .rows
        .iter()
        .find(|r| r.doomed)
        .map_or(last_doomed, |r| r.id);
    if let Some(forged) = read
        .checkpoints
        .iter()
        .filter(|c| !c.is_authentic(keyring))
        .find(|c| {
            c.first <= last_doomed.saturating_add(1) && c.last.saturating_add(1) >= first_doomed
        })
    {
        return Err(Error::Integrity(format!(
            "the checkpoint of entries {} to {} fails its signature check; a purge does not \
             build on it",
            forged.first, forged.last
        )));
    }

    let mut pieces: Vec<Run> = read
        .checkpoints
        .iter()
        .filter(|c| c.is_authentic(keyring))
        .map(|c| Run {
            first: c.first,
            last: c.last,
            before: Some(c.before),
            last_mac: c.last_mac,
            purged: c.purged,
            absorbed: vec![c.first],
            has_doomed: false,
        })
        .chain(read.rows.iter().filter(|r| r.doomed).map(|r| Run {
            first: r.id,
            last: r.id,
            before: None,
            last_mac: r.mac.unwrap_or(GENESIS),
            purged: 1,
            absorbed: Vec::new(),
            has_doomed: true,
        }))
        .collect();
    pieces.sort_by_key(|p| p.first);

    let mut runs: Vec<Run> = Vec::new();
    for piece in pieces {
        match runs.last_mut() {
            Some(run) if piece.first <= run.last.saturating_add(1) => {
                if piece.last > run.last {
                    run.last = piece.last;
                    run.last_mac = piece.last_mac;
                }
                run.purged += piece.purged;
                run.absorbed.extend(piece.absorbed);
                run.has_doomed |= piece.has_doomed;
            }
            _ => runs.push(piece),
        }
    }

    // The rows are in id order, so a run's predecessor is found by binary search.
    let stored_mac = |id: AuditId| -> Option<Mac> {
        let mac = match read.before {
            Some((before, mac)) if before == id => mac,
            _ => {
                let at = read.rows.binary_search_by_key(&id, |r| r.id).ok()?;
                read.rows[at].mac
            }
        };
        Some(mac.unwrap_or(GENESIS))
    };
    for run in runs.into_iter().filter(|r| r.has_doomed) {
        // A run that starts with a deleted row follows the stored row before it; when that row
        // is not stored either, the gap before was already unexplained and stays so.
        let before = run
            .before
            .or_else(|| stored_mac(run.first.saturating_sub(1)))
            .unwrap_or(GENESIS);
        let gap = Gap {
            first: run.first,
            last: run.last,
            before,
            last_mac: run.last_mac,
            purged: run.purged,
        };
        plan.replaced.extend(run.absorbed);
        plan.added.push(Checkpoint::sign(gap, now, keyring));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::{Checkpoints, IntegrityKey};

    fn keyring() -> Keyring {
        Keyring::new(IntegrityKey::new("k1", vec![5; 32]).unwrap_or_else(|e| panic!("{e}")))
    }

    fn mac(id: AuditId) -> Option<Mac> {
        Some([id as u8; 32])
    }

    fn rows(doomed: &[(AuditId, bool)]) -> Vec<ScannedRow> {
        doomed
            .iter()
            .map(|(id, doomed)| ScannedRow {
                id: *id,
                mac: mac(*id),
                doomed: *doomed,
            })
            .collect()
    }

    #[test]
    fn runs_of_doomed_rows_become_ranges_and_checkpoints() {
        let keyring = keyring();
        let rows = rows(&[
            (1, true),
            (2, true),
            (3, false),
            (4, true),
            (6, true),
            (7, false),
        ]);
        let plan = plan_chunk(
            ChunkRead {
                before: None,
                rows: &rows,
                checkpoints: &[],
                first_break: None,
            },
            Some((&keyring, Utc::now())),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.delete, vec![(1, 2), (4, 6)]);
        assert_eq!(plan.deleted, 4);
        // 4 and 6 are not adjacent ids: 5 is an unexplained gap, so two checkpoints.
        let gaps: Vec<(AuditId, AuditId, Mac, Mac)> = plan
            .added
            .iter()
            .map(|c| (c.first, c.last, c.before, c.last_mac))
            .collect();
        assert_eq!(
            gaps,
            vec![
                (1, 2, GENESIS, [2; 32]),
                (4, 4, [3; 32], [4; 32]),
                (6, 6, GENESIS, [6; 32]),
            ]
        );
        assert!(plan.added.iter().all(|c| c.is_authentic(&keyring)));
    }

    #[test]
    fn neighbouring_checkpoints_are_absorbed_and_forged_ones_are_not() {
        let keyring = keyring();
        let now = Utc::now();
        let earlier = Checkpoint::sign(
            Gap {
                first: 1,
                last: 9,
                before: GENESIS,
                last_mac: [9; 32],
                purged: 9,
            },
            now,
            &keyring,
        );
        let later = Checkpoint::sign(
            Gap {
                first: 13,
                last: 14,
                before: [12; 32],
                last_mac: [14; 32],
                purged: 2,
            },
            now,
            &keyring,
        );
        let rows = rows(&[(10, true), (11, true), (12, true), (15, true), (17, false)]);
        let plan = plan_chunk(
            ChunkRead {
                before: None,
                rows: &rows,
                checkpoints: &[earlier, later],
                first_break: None,
            },
            Some((&keyring, now)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.delete, vec![(10, 15)]);
        assert_eq!(plan.replaced, vec![1, 13]);
        assert_eq!(plan.added.len(), 1);
        let merged = &plan.added[0];
        assert_eq!((merged.first, merged.last), (1, 15));
        assert_eq!(
            (merged.before, merged.last_mac, merged.purged),
            (GENESIS, [15; 32], 15)
        );

        // Verification steps from the genesis over the merged checkpoint to entry 16, and
        // no further: nothing explains a gap after it.
        let set = Checkpoints::authentic(&keyring, plan.added.clone());
        assert_eq!(set.cross(0, GENESIS, 16), Ok((15, [15; 32])));
        assert_eq!(set.cross(0, GENESIS, 17), Err(15));
    }

    #[test]
    fn a_purge_refuses_to_vouch_for_what_it_has_not_checked() {
        let keyring = keyring();
        let now = Utc::now();
        let scanned = rows(&[(10, true), (11, true), (12, false)]);
        let read = |first_break, checkpoints| ChunkRead {
            before: Some((9, mac(9))),
            rows: &scanned,
            checkpoints,
            first_break,
        };
        let broken = |id| {
            Some(Break {
                id,
                kind: crate::integrity::BreakKind::Altered,
            })
        };
        // A broken link among the rows it deletes, or before them.
        assert!(plan_chunk(read(broken(11), &[]), Some((&keyring, now))).is_err());
        // One after them is none of its business.
        assert!(plan_chunk(read(broken(12), &[]), Some((&keyring, now))).is_ok());
        // A checkpoint next to the deleted rows whose signature fails.
        let mut forged = Checkpoint::sign(
            Gap {
                first: 13,
                last: 20,
                before: [12; 32],
                last_mac: [20; 32],
                purged: 8,
            },
            now,
            &keyring,
        );
        forged.last = 21;
        let forged = [forged];
        assert!(plan_chunk(read(None, &forged), Some((&keyring, now))).is_ok());
        let rows_up_to_12 = rows(&[(10, true), (11, true), (12, true)]);
        let touching = ChunkRead {
            before: Some((9, mac(9))),
            rows: &rows_up_to_12,
            checkpoints: &forged,
            first_break: None,
        };
        assert!(plan_chunk(touching, Some((&keyring, now))).is_err());
        // Sealed rows without the keyring: no checkpoint could be left.
        assert!(plan_chunk(read(None, &[]), None).is_err());
    }

    #[test]
    fn a_store_without_integrity_only_deletes() {
        let rows: Vec<ScannedRow> = rows(&[(5, false), (6, true)])
            .into_iter()
            .map(|r| ScannedRow { mac: None, ..r })
            .collect();
        let plan = plan_chunk(
            ChunkRead {
                before: Some((4, None)),
                rows: &rows,
                checkpoints: &[],
                first_break: None,
            },
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.delete, vec![(6, 6)]);
        assert!(plan.added.is_empty() && plan.replaced.is_empty());
    }
}
