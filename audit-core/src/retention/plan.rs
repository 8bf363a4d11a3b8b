//! What one chunk of a purge changes: which stored rows go, and which checkpoints replace the
//! ones that border them. Pure, so every backend deletes and signs the same way.

use chrono::{DateTime, Utc};

use crate::event::AuditId;
use crate::integrity::{Checkpoint, GENESIS, Gap, Keyring, Mac};

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
#[derive(Debug, Clone, Copy)]
pub struct ChunkRead<'a> {
    /// The stored row right before the first scanned row, if any.
    pub before: Option<(AuditId, Option<Mac>)>,
    /// Consecutive stored rows in id order (no stored row lies between two of them).
    pub rows: &'a [ScannedRow],
    /// The stored checkpoints that overlap or touch the ids from `before` to one past the last
    /// row: those a new checkpoint may have to absorb.
    pub checkpoints: &'a [Checkpoint],
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
/// checkpoint; forged checkpoints are never absorbed, so a purge cannot launder them.
pub fn plan_chunk(read: ChunkRead<'_>, sealing: Option<(&Keyring, DateTime<Utc>)>) -> ChunkPlan {
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
    let Some((keyring, now)) = sealing else {
        return plan;
    };
    if plan.deleted == 0 {
        return plan;
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

    let stored_mac = |id: AuditId| -> Option<Mac> {
        read.before
            .into_iter()
            .chain(read.rows.iter().map(|r| (r.id, r.mac)))
            .find(|(stored, _)| *stored == id)
            .map(|(_, mac)| mac.unwrap_or(GENESIS))
    };
    for run in runs.into_iter().filter(|r| r.has_doomed) {
        // A run that starts with a deleted row follows the stored row before it; when that row
        // is not stored either, the gap before was already unexplained and stays so.
        let before = run
            .before
            .or_else(|| stored_mac(run.first - 1))
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
    plan
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
            },
            Some((&keyring, Utc::now())),
        );
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
        let mut forged = later.clone();
        forged.first = 16;
        forged.last = 16;
        let rows = rows(&[(10, true), (11, true), (12, true), (15, true), (17, false)]);
        let plan = plan_chunk(
            ChunkRead {
                before: None,
                rows: &rows,
                checkpoints: &[earlier, later, forged],
            },
            Some((&keyring, now)),
        );
        assert_eq!(plan.delete, vec![(10, 15)]);
        assert_eq!(plan.replaced, vec![1, 13]);
        assert_eq!(plan.added.len(), 1);
        let merged = &plan.added[0];
        assert_eq!((merged.first, merged.last), (1, 15));
        assert_eq!(
            (merged.before, merged.last_mac, merged.purged),
            (GENESIS, [15; 32], 15)
        );

        // Verification steps from the genesis over the merged checkpoint to entry 16 only
        // through authentic checkpoints: the forged one at 16 is not one.
        let set = Checkpoints::authentic(&keyring, plan.added.clone());
        assert_eq!(set.cross(0, GENESIS, 16), Ok((15, [15; 32])));
        assert_eq!(set.cross(0, GENESIS, 17), Err(15));
    }

    #[test]
    fn a_store_without_integrity_only_deletes() {
        let rows = rows(&[(5, false), (6, true)]);
        let plan = plan_chunk(
            ChunkRead {
                before: Some((4, None)),
                rows: &rows,
                checkpoints: &[],
            },
            None,
        );
        assert_eq!(plan.delete, vec![(6, 6)]);
        assert!(plan.added.is_empty() && plan.replaced.is_empty());
    }
}
