//! The server's embedded store (sled, on disk under the data directory): registered users with
//! their roles, rights, restriction and wrapped data key; each user's enrollment (sealed templates
//! only) and attempt record; registered clients; incidents; requests for rights; the audit log
//! with its signed checkpoints; and server metadata such as the wrapped signing key.
//!
//! Records are encoded with postcard behind a one-byte record format version. Every change goes
//! through [`Store::transact`]: one sled transaction over every tree that changes the records and
//! appends the act's audit entries together, then is flushed to disk before the store returns, so
//! a crash leaves either all of an act and its entries or none of them.

use crate::attempts::AuthState;
use crate::audit::{AuditEntry, AuditEvent, Checkpoint};
use crate::policy::RoleGrant;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;
use std::path::Path;

/// Version of the encoding of every record, its first byte. Version 1 (before roles and the
/// audit log) is not read: such a store must be created again.
const RECORD_FORMAT: u8 = 2;

/// Metadata key of the audit log's head: the newest entry's sequence number and hash.
const AUDIT_HEAD_META: &str = "audit-head";

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("a stored record is corrupt ({0})")]
    Corrupt(String),
    #[error("already exists")]
    AlreadyExists,
    #[error("no such user")]
    NoSuchUser,
    #[error("the user's enrollment changed meanwhile (expected version {expected}, found {found})")]
    VersionConflict { expected: u64, found: u64 },
    /// A check inside a transaction refused the change; the message is for the caller.
    #[error("{0}")]
    Refused(String),
}

/// Why a user may not log in: set by the general manager (第4.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restriction {
    pub reason: String,
    pub by: String,
    pub at_unix_s: i64,
}

/// A registered person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub user_id: String,
    pub name: String,
    pub department: String,
    /// The user's data key, wrapped by the master key (see `crypto`).
    pub wrapped_data_key: Vec<u8>,
    pub registered_at_unix_s: i64,
    /// The roles of the guideline the person holds (第2).
    pub roles: Vec<RoleGrant>,
    /// The purposes of use (their numbers in the API) the user holds a right to (第4.1).
    pub rights: Vec<u8>,
    /// Set while the general manager restricts the user.
    pub restriction: Option<Restriction>,
}

/// The state of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IncidentState {
    Open,
    Acknowledged,
    Closed,
}

/// A security incident or failure, reported or raised by the server (第11.1(4), 第12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRecord {
    pub id: u64,
    /// The kind's number in the API (`IncidentKind`).
    pub kind: u8,
    pub state: IncidentState,
    pub description: String,
    pub raised_by: String,
    pub raised_at_unix_s: i64,
    pub user_id: String,
    pub notes: Vec<String>,
}

/// The state of a request for a right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestState {
    Pending,
    Granted,
    Refused,
}

/// A business owner's request that a user be granted the right to a purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RightsRequestRecord {
    pub id: u64,
    pub user_id: String,
    pub purpose: u8,
    pub reason: String,
    pub requested_by: String,
    pub requested_at_unix_s: i64,
    pub state: RequestState,
    pub decided_by: String,
    pub note: String,
}

/// One enrolled finger: one sealed template per accepted impression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerRecord {
    /// ISO finger position, 1 to 10.
    pub finger: u8,
    /// Quality of each impression, 0 to 100.
    pub qualities: Vec<u8>,
    pub enrolled_at_unix_s: i64,
    /// The templates, each sealed under the user's data key and bound to user, finger, record
    /// version and template format version.
    pub sealed_templates: Vec<Vec<u8>>,
    /// The template format version the templates were encoded with.
    pub template_version: u16,
}

/// Everything enrolled for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentRecord {
    /// Raised by one on each enrollment or re-enrollment; bound into every sealed template.
    pub record_version: u64,
    pub fingers: Vec<FingerRecord>,
}

/// What kind of client a certificate belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientKind {
    /// A registration officers' enrollment station.
    Station,
    /// A terminal's login agent.
    Terminal,
}

/// A client (station or terminal) whose certificate may connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    pub name: String,
    pub kind: ClientKind,
    pub department: String,
    pub registered_at_unix_s: i64,
}

/// The store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    users: sled::Tree,
    enrollments: sled::Tree,
    clients: sled::Tree,
    meta: sled::Tree,
    auth: sled::Tree,
    incidents: sled::Tree,
    requests: sled::Tree,
    audit: sled::Tree,
    checkpoints: sled::Tree,
}

/// A change in progress (see [`Store::transact`]): reads see the transaction's own writes.
pub struct Tx<'a> {
    users: &'a TransactionalTree,
    enrollments: &'a TransactionalTree,
    meta: &'a TransactionalTree,
    auth: &'a TransactionalTree,
    incidents: &'a TransactionalTree,
    requests: &'a TransactionalTree,
    audit: &'a TransactionalTree,
    /// When the change happens, seconds since the Unix epoch (stamped on audit entries).
    now_unix_s: i64,
}

/// The result of one step inside a transaction.
pub type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// Ends a transaction without changing anything, with `error`.
pub fn abort<T>(error: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(error))
}

fn tx_get<T: DeserializeOwned>(tree: &TransactionalTree, what: &str, key: &[u8]) -> TxResult<Option<T>> {
    match tree.get(key)? {
        Some(bytes) => decode(what, &bytes)
            .map(Some)
            .map_err(ConflictableTransactionError::Abort),
        None => Ok(None),
    }
}

impl Tx<'_> {
    pub fn now_unix_s(&self) -> i64 {
        self.now_unix_s
    }

    pub fn user(&self, user_id: &str) -> TxResult<Option<UserRecord>> {
        tx_get(self.users, "user", user_id.as_bytes())
    }

    /// The user, or an abort with [`StoreError::NoSuchUser`].
    pub fn existing_user(&self, user_id: &str) -> TxResult<UserRecord> {
        match self.user(user_id)? {
            Some(user) => Ok(user),
            None => abort(StoreError::NoSuchUser),
        }
    }

    pub fn put_user(&self, user: &UserRecord) -> TxResult<()> {
        self.users.insert(user.user_id.as_bytes(), encode(user))?;
        Ok(())
    }

    pub fn enrollment(&self, user_id: &str) -> TxResult<Option<EnrollmentRecord>> {
        tx_get(self.enrollments, "enrollment", user_id.as_bytes())
    }

    pub fn put_enrollment(&self, user_id: &str, record: &EnrollmentRecord) -> TxResult<()> {
        self.enrollments.insert(user_id.as_bytes(), encode(record))?;
        Ok(())
    }

    pub fn auth_state(&self, user_id: &str) -> TxResult<AuthState> {
        Ok(tx_get(self.auth, "attempts", user_id.as_bytes())?.unwrap_or_default())
    }

    pub fn put_auth_state(&self, user_id: &str, state: &AuthState) -> TxResult<()> {
        self.auth.insert(user_id.as_bytes(), encode(state))?;
        Ok(())
    }

    /// Removes every record of a user (not their audit entries, which record that it happened).
    pub fn remove_user(&self, user_id: &str) -> TxResult<()> {
        self.users.remove(user_id.as_bytes())?;
        self.enrollments.remove(user_id.as_bytes())?;
        self.auth.remove(user_id.as_bytes())?;
        Ok(())
    }

    /// Rewraps every user's data key (a new master key, see `crypto`).
    pub fn rewrap_all(
        &self,
        user_ids: &[String],
        rewrap: &dyn Fn(&UserRecord) -> Result<Vec<u8>, StoreError>,
    ) -> TxResult<()> {
        for user_id in user_ids {
            if let Some(mut user) = self.user(user_id)? {
                user.wrapped_data_key = rewrap(&user).map_err(ConflictableTransactionError::Abort)?;
                self.put_user(&user)?;
            }
        }
        Ok(())
    }

    pub fn set_meta(&self, key: &str, value: &[u8]) -> TxResult<()> {
        self.meta.insert(key.as_bytes(), value)?;
        Ok(())
    }

    /// Raises a new incident, with its next id.
    pub fn new_incident(&self, mut incident: IncidentRecord) -> TxResult<IncidentRecord> {
        incident.id = self.incidents.generate_id()? + 1;
        self.put_incident(&incident)?;
        Ok(incident)
    }

    pub fn incident(&self, id: u64) -> TxResult<Option<IncidentRecord>> {
        tx_get(self.incidents, "incident", &id.to_be_bytes())
    }

    pub fn put_incident(&self, incident: &IncidentRecord) -> TxResult<()> {
        self.incidents.insert(&incident.id.to_be_bytes(), encode(incident))?;
        Ok(())
    }

    pub fn new_request(&self, mut request: RightsRequestRecord) -> TxResult<RightsRequestRecord> {
        request.id = self.requests.generate_id()? + 1;
        self.put_request(&request)?;
        Ok(request)
    }

    pub fn request(&self, id: u64) -> TxResult<Option<RightsRequestRecord>> {
        tx_get(self.requests, "rights request", &id.to_be_bytes())
    }

    pub fn put_request(&self, request: &RightsRequestRecord) -> TxResult<()> {
        self.requests.insert(&request.id.to_be_bytes(), encode(request))?;
        Ok(())
    }

    /// Appends an entry to the audit log, chained to the one before.
    pub fn audit(&self, event: AuditEvent) -> TxResult<AuditEntry> {
        let head: (u64, [u8; 32]) =
            tx_get(self.meta, "audit head", AUDIT_HEAD_META.as_bytes())?.unwrap_or((0, [0; 32]));
        let entry = AuditEntry::after(head, self.now_unix_s, event);
        self.audit.insert(&entry.seq.to_be_bytes(), encode(&entry))?;
        self.meta
            .insert(AUDIT_HEAD_META.as_bytes(), encode(&(entry.seq, entry.hash())))?;
        Ok(entry)
    }
}

/// A record as the store writes it (for tools that read or repair a copy of a store).
pub fn encode_record<T: Serialize>(record: &T) -> Vec<u8> {
    encode(record)
}

/// A record the store wrote, read back (see [`encode_record`]).
pub fn decode_record<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    decode(what, bytes)
}

fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    let mut bytes = vec![RECORD_FORMAT];
    // Serialising our own plain structs into a Vec cannot fail.
    bytes.extend(postcard::to_allocvec(record).unwrap_or_default());
    bytes
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&RECORD_FORMAT, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
        }
        Some((version, _)) => Err(StoreError::Corrupt(format!("{what}: unknown record format {version}"))),
        None => Err(StoreError::Corrupt(format!("{what}: empty record"))),
    }
}

impl Store {
    /// Opens (or creates) the store in directory `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(path).open()?;
        Ok(Self {
            users: db.open_tree("users")?,
            enrollments: db.open_tree("enrollments")?,
            clients: db.open_tree("clients")?,
            meta: db.open_tree("meta")?,
            auth: db.open_tree("attempts")?,
            incidents: db.open_tree("incidents")?,
            requests: db.open_tree("rights-requests")?,
            audit: db.open_tree("audit")?,
            checkpoints: db.open_tree("audit-checkpoints")?,
            db,
        })
    }

    /// Runs `change` as one transaction over every tree, then flushes it to disk. `change` may
    /// run more than once (when another transaction touched the same records) and must only act
    /// through the [`Tx`]. An abort inside it comes back as its error, with nothing changed.
    pub fn transact<T>(&self, now_unix_s: i64, change: impl Fn(&Tx) -> TxResult<T>) -> Result<T, StoreError> {
        let trees = (
            &self.users,
            &self.enrollments,
            &self.meta,
            &self.auth,
            &self.incidents,
            &self.requests,
            &self.audit,
        );
        let result = trees.transaction(|(users, enrollments, meta, auth, incidents, requests, audit)| {
            change(&Tx {
                users,
                enrollments,
                meta,
                auth,
                incidents,
                requests,
                audit,
                now_unix_s,
            })
        });
        match result {
            Ok(value) => {
                self.flush()?;
                Ok(value)
            }
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    /// Every registered user, in id order.
    pub fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.users.iter().map(|entry| decode("user", &entry?.1)).collect()
    }

    /// A user's attempt record (empty if none).
    pub fn auth_state(&self, user_id: &str) -> Result<AuthState, StoreError> {
        Ok(self
            .auth
            .get(user_id.as_bytes())?
            .map(|bytes| decode("attempts", &bytes))
            .transpose()?
            .unwrap_or_default())
    }

    /// Every incident, oldest first.
    pub fn incidents(&self) -> Result<Vec<IncidentRecord>, StoreError> {
        self.incidents
            .iter()
            .map(|entry| decode("incident", &entry?.1))
            .collect()
    }

    /// Every request for a right, oldest first.
    pub fn rights_requests(&self) -> Result<Vec<RightsRequestRecord>, StoreError> {
        self.requests
            .iter()
            .map(|entry| decode("rights request", &entry?.1))
            .collect()
    }

    /// The audit log's entries from position `from` on, in order, each with the position it is
    /// stored at (decoding errors are given per entry, for verification).
    pub fn audit_entries(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, Result<AuditEntry, String>), StoreError>> + '_ {
        self.audit.range(from.to_be_bytes()..).map(|entry| {
            let (key, bytes) = entry?;
            let seq = <[u8; 8]>::try_from(key.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt("audit key".into()))?;
            Ok((
                seq,
                decode::<AuditEntry>("audit entry", &bytes).map_err(|e| e.to_string()),
            ))
        })
    }

    /// The audit log's head as recorded: the newest entry's position and hash.
    pub fn audit_head(&self) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        self.meta
            .get(AUDIT_HEAD_META.as_bytes())?
            .map(|bytes| decode("audit head", &bytes))
            .transpose()
    }

    /// Every signed checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.checkpoints
            .iter()
            .map(|entry| decode("checkpoint", &entry?.1))
            .collect()
    }

    /// Stores a signed checkpoint, durably.
    pub fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        self.checkpoints
            .insert(checkpoint.seq.to_be_bytes(), encode(checkpoint))?;
        self.flush()
    }

    /// The audit log's tree as stored (position, big-endian, to encoded entry), for tests and
    /// tools that examine a copy of a store. The server only appends through [`Tx::audit`].
    pub fn raw_audit_tree(&self) -> &sled::Tree {
        &self.audit
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// The user with this id.
    pub fn user(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.users
            .get(user_id.as_bytes())?
            .map(|bytes| decode("user", &bytes))
            .transpose()
    }

    /// Everything enrolled for a user (`None` if nothing ever was).
    pub fn enrollment(&self, user_id: &str) -> Result<Option<EnrollmentRecord>, StoreError> {
        self.enrollments
            .get(user_id.as_bytes())?
            .map(|bytes| decode("enrollment", &bytes))
            .transpose()
    }

    /// Every user's enrollment, for duplicate checks (1:N).
    pub fn enrollments(&self) -> impl Iterator<Item = Result<(String, EnrollmentRecord), StoreError>> + '_ {
        self.enrollments.iter().map(|entry| {
            let (key, bytes) = entry?;
            let user_id = String::from_utf8(key.to_vec()).map_err(|_| StoreError::Corrupt("user id".into()))?;
            Ok((user_id, decode("enrollment", &bytes)?))
        })
    }

    /// Registers a client certificate by its SHA-256 fingerprint, durably (replacing an earlier
    /// registration of the same certificate).
    pub fn register_client(&self, cert_sha256: &[u8; 32], client: &ClientRecord) -> Result<(), StoreError> {
        self.clients.insert(cert_sha256, encode(client))?;
        self.flush()
    }

    /// The registered client holding the certificate with this SHA-256 fingerprint.
    pub fn client(&self, cert_sha256: &[u8; 32]) -> Result<Option<ClientRecord>, StoreError> {
        self.clients
            .get(cert_sha256)?
            .map(|bytes| decode("client", &bytes))
            .transpose()
    }

    /// Every registered client.
    pub fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        self.clients.iter().map(|entry| decode("client", &entry?.1)).collect()
    }

    /// A metadata value.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.meta.get(key.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Sets a metadata value, durably, unless it is already set; returns the value in force.
    pub fn meta_set_once(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let result = self.meta.compare_and_swap(key.as_bytes(), None::<&[u8]>, Some(value))?;
        self.flush()?;
        Ok(match result {
            Ok(()) => value.to_vec(),
            Err(existing) => existing.current.map(|v| v.to_vec()).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserRecord {
        UserRecord {
            user_id: id.into(),
            name: "A. Person".into(),
            department: "accounts".into(),
            wrapped_data_key: vec![1, 2, 3],
            registered_at_unix_s: 1,
            roles: Vec::new(),
            rights: vec![1],
            restriction: None,
        }
    }

    fn enrollment(version: u64) -> EnrollmentRecord {
        EnrollmentRecord {
            record_version: version,
            fingers: vec![FingerRecord {
                finger: 2,
                qualities: vec![80, 70, 90],
                enrolled_at_unix_s: 5,
                sealed_templates: vec![vec![9; 40]; 3],
                template_version: 1,
            }],
        }
    }

    #[test]
    fn records_and_their_audit_entries_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .transact(10, |tx| {
                    tx.put_user(&user("alice"))?;
                    tx.put_enrollment("alice", &enrollment(1))?;
                    tx.audit(AuditEvent::new("user.register", "root", "station").subject("alice", "accounts"))
                })
                .unwrap();
            let client = ClientRecord {
                name: "station-1".into(),
                kind: ClientKind::Station,
                department: "accounts".into(),
                registered_at_unix_s: 3,
            };
            store.register_client(&[7; 32], &client).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.user("alice").unwrap(), Some(user("alice")));
        assert_eq!(store.enrollment("alice").unwrap(), Some(enrollment(1)));
        assert_eq!(store.client(&[7; 32]).unwrap().unwrap().name, "station-1");
        assert_eq!(store.client(&[8; 32]).unwrap(), None);
        assert_eq!(store.enrollments().count(), 1);
        let entries: Vec<_> = store.audit_entries(1).map(|e| e.unwrap()).collect();
        assert_eq!(entries.len(), 1);
        let entry = entries[0].1.clone().unwrap();
        assert_eq!((entry.seq, entry.at_unix_s, entry.subject.as_str()), (1, 10, "alice"));
        assert_eq!(store.audit_head().unwrap(), Some((1, entry.hash())));
    }

    #[test]
    fn an_aborted_change_leaves_nothing_behind_not_even_its_audit_entry() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let result: Result<(), _> = store.transact(1, |tx| {
            tx.put_user(&user("alice"))?;
            tx.audit(AuditEvent::new("user.register", "root", "station"))?;
            abort(StoreError::Refused("no".into()))
        });
        assert!(matches!(result, Err(StoreError::Refused(_))));
        assert_eq!(store.user("alice").unwrap(), None);
        assert_eq!(store.audit_entries(1).count(), 0);
        assert_eq!(store.audit_head().unwrap(), None);
    }

    #[test]
    fn audit_entries_chain_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for k in 0..3 {
            store
                .transact(k, |tx| tx.audit(AuditEvent::new("verify", "", "terminal")))
                .unwrap();
        }
        let entries: Vec<AuditEntry> = store.audit_entries(1).map(|e| e.unwrap().1.unwrap()).collect();
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(entries[1].previous_hash, entries[0].hash());
        assert_eq!(entries[2].previous_hash, entries[1].hash());
    }

    #[test]
    fn corrupt_records_are_errors_not_panics() {
        assert!(decode::<UserRecord>("user", &[]).is_err());
        assert!(decode::<UserRecord>("user", &[9, 1, 2]).is_err());
        assert!(decode::<UserRecord>("user", &[RECORD_FORMAT, 200, 200]).is_err());
    }
}
