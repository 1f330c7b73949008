//! The server's embedded store (sled, on disk under the data directory): registered users with
//! their wrapped data keys, each user's enrollment (sealed templates only), registered clients,
//! and server metadata such as the wrapped signing key.
//!
//! Records are encoded with postcard behind a one-byte record format version. Every write that an
//! RPC acknowledges is flushed to disk before the store returns, and an enrollment replaces what
//! was stored for a user in one transaction, so a crash leaves either the old or the new one.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::path::Path;

/// Version of the encoding of every record, its first byte.
const RECORD_FORMAT: u8 = 1;

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
            db,
        })
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Registers a user, durably. [`StoreError::AlreadyExists`] if the id is taken.
    pub fn register_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let taken = self
            .users
            .compare_and_swap(user.user_id.as_bytes(), None::<&[u8]>, Some(encode(user)))?;
        if taken.is_err() {
            return Err(StoreError::AlreadyExists);
        }
        self.flush()
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

    /// Replaces a user's enrollment by `record` in one transaction, durably, provided the stored
    /// enrollment still has version `expected_version` (0: none stored) and the user exists.
    pub fn replace_enrollment(
        &self,
        user_id: &str,
        expected_version: u64,
        record: &EnrollmentRecord,
    ) -> Result<(), StoreError> {
        let encoded = encode(record);
        let result = (&self.users, &self.enrollments).transaction(|(users, enrollments)| {
            if users.get(user_id.as_bytes())?.is_none() {
                return Err(ConflictableTransactionError::Abort(StoreError::NoSuchUser));
            }
            let found = match enrollments.get(user_id.as_bytes())? {
                Some(bytes) => {
                    decode::<EnrollmentRecord>("enrollment", &bytes)
                        .map_err(ConflictableTransactionError::Abort)?
                        .record_version
                }
                None => 0,
            };
            if found != expected_version {
                return Err(ConflictableTransactionError::Abort(StoreError::VersionConflict {
                    expected: expected_version,
                    found,
                }));
            }
            enrollments.insert(user_id.as_bytes(), encoded.as_slice())?;
            Ok(())
        });
        match result {
            Ok(()) => self.flush(),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
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
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.register_user(&user("alice")).unwrap();
            store.replace_enrollment("alice", 0, &enrollment(1)).unwrap();
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
    }

    #[test]
    fn a_user_id_is_registered_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.register_user(&user("alice")).unwrap();
        assert!(matches!(
            store.register_user(&user("alice")),
            Err(StoreError::AlreadyExists)
        ));
    }

    #[test]
    fn an_enrollment_replaces_only_the_version_it_expects() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(matches!(
            store.replace_enrollment("nobody", 0, &enrollment(1)),
            Err(StoreError::NoSuchUser)
        ));
        store.register_user(&user("alice")).unwrap();
        store.replace_enrollment("alice", 0, &enrollment(1)).unwrap();
        assert!(matches!(
            store.replace_enrollment("alice", 0, &enrollment(1)),
            Err(StoreError::VersionConflict { expected: 0, found: 1 })
        ));
        store.replace_enrollment("alice", 1, &enrollment(2)).unwrap();
        assert_eq!(store.enrollment("alice").unwrap().unwrap().record_version, 2);
    }

    #[test]
    fn corrupt_records_are_errors_not_panics() {
        assert!(decode::<UserRecord>("user", &[]).is_err());
        assert!(decode::<UserRecord>("user", &[9, 1, 2]).is_err());
        assert!(decode::<UserRecord>("user", &[RECORD_FORMAT, 200, 200]).is_err());
    }
}
