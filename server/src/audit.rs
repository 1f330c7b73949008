//! The audit log: every administrative act, enrollment, Verify decision and incident, appended to
//! the store in the same transaction as the act itself, so an act is never stored without its
//! entry nor the other way round. Each entry holds the SHA-256 of the one before it, so changing,
//! removing or reordering an entry breaks the chain; the server signs a checkpoint (the sequence
//! number and hash of the newest entry) with its Ed25519 key at intervals, so even a rewritten
//! chain is caught against the checkpoints. [`verify`] checks all of it offline
//! (`shimon-server audit verify`) and names the first entry that is wrong.

use crate::crypto::{self, SigningKey};
use serde::{Deserialize, Serialize};

/// Domain separation of entry hashes.
const ENTRY_HASH_CONTEXT: &[u8] = b"shimon audit entry v1\0";
/// Domain separation of checkpoint signatures.
const CHECKPOINT_CONTEXT: &[u8] = b"shimon audit checkpoint v1\0";

/// What happened, as the service describes it; the store adds the position, time and chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEvent {
    /// E.g. "user.register", "verify", "incident.raise".
    pub action: String,
    /// The person who acted (empty for a terminal's Verify or the server itself).
    pub actor: String,
    /// The station or terminal the act came through ("server" for the server's own).
    pub client: String,
    /// The user it concerns, if any.
    pub subject: String,
    /// The department it concerns, if any.
    pub department: String,
    /// "ok", or "refused: ..." .
    pub outcome: String,
    pub detail: String,
}

impl AuditEvent {
    /// An event with its action, who acted and through which client.
    pub fn new(action: &str, actor: &str, client: &str) -> Self {
        Self {
            action: action.to_owned(),
            actor: actor.to_owned(),
            client: client.to_owned(),
            outcome: "ok".to_owned(),
            ..Self::default()
        }
    }

    pub fn subject(mut self, user_id: &str, department: &str) -> Self {
        self.subject = user_id.to_owned();
        self.department = department.to_owned();
        self
    }

    pub fn outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = outcome.into();
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

/// One stored entry of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1, with no gaps.
    pub seq: u64,
    pub at_unix_s: i64,
    pub action: String,
    pub actor: String,
    pub client: String,
    pub subject: String,
    pub department: String,
    pub outcome: String,
    pub detail: String,
    /// The hash of entry `seq - 1` (all zero for the first).
    pub previous_hash: [u8; 32],
}

impl AuditEntry {
    /// The entry that follows one with `previous` (sequence number and hash; (0, zero) for none).
    pub fn after(previous: (u64, [u8; 32]), at_unix_s: i64, event: AuditEvent) -> Self {
        Self {
            seq: previous.0 + 1,
            at_unix_s,
            action: event.action,
            actor: event.actor,
            client: event.client,
            subject: event.subject,
            department: event.department,
            outcome: event.outcome,
            detail: event.detail,
            previous_hash: previous.1,
        }
    }

    /// The entry's hash, over all of its fields.
    pub fn hash(&self) -> [u8; 32] {
        let body = postcard::to_allocvec(self).unwrap_or_default();
        crypto::sha256(&[ENTRY_HASH_CONTEXT, body.as_slice()].concat())
    }
}

/// A signed statement that the log held `seq` entries, the last with hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: [u8; 32],
    pub at_unix_s: i64,
    /// Identifies the signing key (see `crypto::key_id`).
    pub key_id: String,
    /// Ed25519 over [`Checkpoint::message`].
    pub signature: Vec<u8>,
}

impl Checkpoint {
    fn message(seq: u64, hash: &[u8; 32], at_unix_s: i64) -> Vec<u8> {
        [
            CHECKPOINT_CONTEXT,
            &seq.to_be_bytes(),
            hash.as_slice(),
            &at_unix_s.to_be_bytes(),
        ]
        .concat()
    }

    /// Signs the head of the log.
    pub fn sign(signer: &SigningKey, seq: u64, hash: [u8; 32], at_unix_s: i64) -> Self {
        Self {
            seq,
            hash,
            at_unix_s,
            key_id: signer.key_id().to_owned(),
            signature: signer.sign(&Self::message(seq, &hash, at_unix_s)),
        }
    }

    /// Whether the signature is the one of `public_key` over this checkpoint.
    pub fn signature_holds(&self, public_key: &[u8]) -> bool {
        let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key);
        key.verify(&Self::message(self.seq, &self.hash, self.at_unix_s), &self.signature)
            .is_ok()
    }
}

/// The first thing found wrong with the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("entry {seq} is unreadable: {reason}")]
    Unreadable { seq: u64, reason: String },
    #[error("entry {seq} was removed (the log jumps from {before} to {after})")]
    Removed { seq: u64, before: u64, after: u64 },
    #[error("entry {seq} is out of order: the entry stored at position {seq} says it is number {found}")]
    Reordered { seq: u64, found: u64 },
    #[error("entry {seq} was altered: its hash is not the one entry {next} recorded")]
    Altered { seq: u64, next: u64 },
    #[error("entry {seq} was altered: its hash is not the one the signed checkpoint at {seq} holds")]
    AlteredAtCheckpoint { seq: u64 },
    #[error("entry {seq} was altered: its hash is not the one the log's head records")]
    AlteredAtHead { seq: u64 },
    #[error("entry {seq} was removed: the log's head records {head_seq} entries")]
    RemovedAtEnd { seq: u64, head_seq: u64 },
    #[error("the log's head record was changed: it says {head_seq} entries, the log holds {seq}")]
    HeadMismatch { seq: u64, head_seq: u64 },
    #[error("entries after {seq} were removed: a signed checkpoint covers up to {checkpoint}")]
    Truncated { seq: u64, checkpoint: u64 },
    #[error("the checkpoint at entry {seq} has a signature that does not verify with the key given")]
    BadCheckpoint { seq: u64 },
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub entries: u64,
    pub checkpoints: usize,
    /// The newest entry a valid signed checkpoint covers (0: none).
    pub signed_up_to: u64,
}

/// Checks a log: `entries` in store order as (position key, encoded entry); `head` as the store
/// records it; `checkpoints` in order; `public_key` of the server. Stops at the first fault.
pub fn verify(
    entries: impl Iterator<Item = (u64, Result<AuditEntry, String>)>,
    head: Option<(u64, [u8; 32])>,
    checkpoints: &[Checkpoint],
    public_key: &[u8],
) -> Result<ChainReport, ChainError> {
    for checkpoint in checkpoints {
        if !checkpoint.signature_holds(public_key) {
            return Err(ChainError::BadCheckpoint { seq: checkpoint.seq });
        }
    }
    let mut previous: (u64, [u8; 32]) = (0, [0; 32]);
    let mut next_checkpoint = checkpoints.iter().peekable();
    for (key, entry) in entries {
        let expected = previous.0 + 1;
        if key > expected {
            return Err(ChainError::Removed {
                seq: expected,
                before: previous.0,
                after: key,
            });
        }
        let entry = entry.map_err(|reason| ChainError::Unreadable { seq: key, reason })?;
        if entry.seq != key {
            return Err(ChainError::Reordered {
                seq: key,
                found: entry.seq,
            });
        }
        if entry.previous_hash != previous.1 {
            // This entry names its predecessor wrongly: either the predecessor was changed, or
            // (for the first entry) this one was.
            let seq = if previous.0 == 0 { key } else { previous.0 };
            return Err(ChainError::Altered { seq, next: key });
        }
        let hash = entry.hash();
        while let Some(c) = next_checkpoint.peek() {
            if c.seq < key {
                next_checkpoint.next();
                continue;
            }
            if c.seq == key && c.hash != hash {
                return Err(ChainError::AlteredAtCheckpoint { seq: key });
            }
            break;
        }
        previous = (key, hash);
    }
    if let Some(last) = checkpoints.iter().map(|c| c.seq).max() {
        if last > previous.0 {
            return Err(ChainError::Truncated {
                seq: previous.0,
                checkpoint: last,
            });
        }
    }
    let (head_seq, head_hash) = head.unwrap_or((0, [0; 32]));
    if head_seq > previous.0 {
        return Err(ChainError::RemovedAtEnd {
            seq: previous.0 + 1,
            head_seq,
        });
    }
    if head_seq < previous.0 {
        return Err(ChainError::HeadMismatch {
            seq: previous.0,
            head_seq,
        });
    }
    if head_hash != previous.1 {
        return Err(ChainError::AlteredAtHead { seq: previous.0 });
    }
    Ok(ChainReport {
        entries: previous.0,
        checkpoints: checkpoints.len(),
        signed_up_to: checkpoints.iter().map(|c| c.seq).max().unwrap_or(0),
    })
}

/// Checks the audit log of a store (see [`verify`]) against `public_key`, or against the key the
/// store records when none is given (which someone able to rewrite the store could replace too:
/// pin the key where it matters).
pub fn verify_store(
    store: &crate::store::Store,
    public_key: Option<&[u8]>,
) -> Result<Result<ChainReport, ChainError>, crate::store::StoreError> {
    let recorded = store.meta(crate::init::SIGNING_PUBLIC_KEY_META)?.unwrap_or_default();
    let key = public_key.unwrap_or(&recorded);
    let entries: Vec<_> = store.audit_entries(1).collect::<Result<_, _>>()?;
    Ok(verify(
        entries.into_iter(),
        store.audit_head()?,
        &store.checkpoints()?,
        key,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        let mut previous = (0, [0; 32]);
        for k in 0..n {
            let e = AuditEntry::after(previous, 100 + k as i64, AuditEvent::new("verify", "", "terminal"));
            previous = (e.seq, e.hash());
            out.push(e);
        }
        out
    }

    fn check(entries: &[AuditEntry], checkpoints: &[Checkpoint], key: &[u8]) -> Result<ChainReport, ChainError> {
        let head = entries.last().map(|e| (e.seq, e.hash()));
        verify(
            entries.iter().enumerate().map(|(k, e)| (k as u64 + 1, Ok(e.clone()))),
            head,
            checkpoints,
            key,
        )
    }

    #[test]
    fn an_intact_chain_verifies_and_each_kind_of_tampering_is_named() {
        let master = MasterKey::random_for_tests();
        let (signer, _) = SigningKey::generate(&master).unwrap();
        let entries = chain(6);
        let checkpoint = Checkpoint::sign(&signer, 6, entries[5].hash(), 1);
        let key = signer.public_key().to_vec();
        assert_eq!(
            check(&entries, std::slice::from_ref(&checkpoint), &key)
                .unwrap()
                .entries,
            6
        );

        let mut altered = entries.clone();
        altered[2].outcome = "refused".into();
        assert_eq!(
            check(&altered, &[], &key).unwrap_err(),
            ChainError::Altered { seq: 3, next: 4 }
        );
        let mut last_altered = entries.clone();
        last_altered[5].detail = "x".into();
        let with_head = |entries: &[AuditEntry], head| {
            verify(entries.iter().map(|e| (e.seq, Ok(e.clone()))), Some(head), &[], &key)
        };
        let head = (6, entries[5].hash());
        assert_eq!(
            with_head(&last_altered, head).unwrap_err(),
            ChainError::AlteredAtHead { seq: 6 }
        );
        assert_eq!(
            with_head(&entries[..5], head).unwrap_err(),
            ChainError::RemovedAtEnd { seq: 6, head_seq: 6 }
        );
        assert_eq!(
            check(&last_altered, std::slice::from_ref(&checkpoint), &key).unwrap_err(),
            ChainError::AlteredAtCheckpoint { seq: 6 }
        );
        let mut swapped = entries.clone();
        swapped.swap(1, 2);
        assert_eq!(
            check(&swapped, &[], &key).unwrap_err(),
            ChainError::Reordered { seq: 2, found: 3 }
        );
        let removed: Vec<(u64, Result<AuditEntry, String>)> = entries
            .iter()
            .filter(|e| e.seq != 4)
            .map(|e| (e.seq, Ok(e.clone())))
            .collect();
        assert_eq!(
            verify(removed.into_iter(), Some((6, entries[5].hash())), &[], &key).unwrap_err(),
            ChainError::Removed {
                seq: 4,
                before: 3,
                after: 5
            }
        );
        assert_eq!(
            check(&entries[..4], std::slice::from_ref(&checkpoint), &key).unwrap_err(),
            ChainError::Truncated { seq: 4, checkpoint: 6 }
        );
        let (other, _) = SigningKey::generate(&master).unwrap();
        assert_eq!(
            check(&entries, &[checkpoint], other.public_key()).unwrap_err(),
            ChainError::BadCheckpoint { seq: 6 }
        );
    }
}
