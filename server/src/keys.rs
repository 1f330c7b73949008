//! The master key over time. Erasing a user (第4.3) must leave no way to decrypt their templates,
//! not even from a backup of the store, which holds their data key wrapped by the master key. So
//! an erasure replaces the master key: one store transaction removes the user and wraps every
//! other key (each user's data key, the signing key) under a new master key, and the key file is
//! then overwritten in place. A backup made before holds nothing the new key opens.
//!
//! A crash can stop a rotation anywhere; the new key waits in `master.key.next` until the key
//! file holds it, and the store records which key it is sealed with, so [`load_master`] always
//! finishes or forgets an interrupted rotation at the next start.

use crate::crypto::{self, MasterKey, SigningKey};
use crate::init::SIGNING_KEY_META;
use crate::store::{Store, StoreError, Tx, TxResult};
use anyhow::{anyhow, bail, Context};
use std::path::{Path, PathBuf};

/// Metadata key of the id of the master key the store is sealed with.
pub const MASTER_KEY_ID_META: &str = "master-key-id";

/// Where a new master key waits during a rotation.
pub fn next_key_path(master_path: &Path) -> PathBuf {
    let mut name = master_path.file_name().unwrap_or_default().to_os_string();
    name.push(".next");
    master_path.with_file_name(name)
}

fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
}

fn remove_next(next: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(next) {
        Ok(()) => {
            sync_parent(next);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The master key the store is sealed with, finishing or forgetting a rotation a crash
/// interrupted. A key file that is not the store's key is an error, never a silent start.
pub fn load_master(master_path: &Path, store: &Store) -> anyhow::Result<MasterKey> {
    let recorded = store
        .meta(MASTER_KEY_ID_META)?
        .map(|id| String::from_utf8_lossy(&id).into_owned());
    let next = next_key_path(master_path);
    if next.exists() {
        let next_key = MasterKey::load(&next)?;
        if recorded.as_deref() == Some(next_key.id().as_str()) {
            tracing::warn!("finishing a master key rotation that was interrupted");
            next_key.overwrite_file(master_path)?;
            remove_next(&next).with_context(|| format!("cannot remove {}", next.display()))?;
            return Ok(next_key);
        }
        tracing::warn!("forgetting a master key rotation that never reached the store");
        remove_next(&next).with_context(|| format!("cannot remove {}", next.display()))?;
    }
    let master = MasterKey::load(master_path)?;
    match recorded {
        Some(id) if id != master.id() => bail!(
            "the master key in {} is not the key this store is sealed with",
            master_path.display()
        ),
        Some(_) => {}
        None => {
            store.meta_set_once(MASTER_KEY_ID_META, master.id().as_bytes())?;
        }
    }
    Ok(master)
}

/// Replaces the master key `current` by a new one, in the same store transaction as `change`:
/// every user's data key and the signing key are wrapped again under the new key. The caller
/// must hold the master key exclusively (no key is wrapped or unwrapped meanwhile). Returns the
/// new key and what `change` returned.
pub fn rotate<T>(
    master_path: &Path,
    current: &MasterKey,
    store: &Store,
    now_unix_s: i64,
    change: impl Fn(&Tx) -> TxResult<T>,
) -> Result<(MasterKey, T), RotateError> {
    let new = MasterKey::generate().map_err(|e| RotateError::Other(e.into()))?;
    let next = next_key_path(master_path);
    remove_next(&next).map_err(|e| RotateError::Other(e.into()))?;
    new.write_new_file(&next).map_err(|e| RotateError::Other(e.into()))?;
    let prepared = (|| -> anyhow::Result<(Vec<u8>, Vec<String>)> {
        let wrapped = store
            .meta(SIGNING_KEY_META)?
            .ok_or_else(|| anyhow!("the store holds no signing key"))?;
        let signing = SigningKey::rewrap(current, &new, &wrapped)?;
        let users = store.users()?.into_iter().map(|u| u.user_id).collect();
        Ok((signing, users))
    })();
    let (signing, user_ids) = match prepared {
        Ok(p) => p,
        Err(e) => {
            let _ = remove_next(&next);
            return Err(RotateError::Other(e));
        }
    };
    let rewrap = |user: &crate::store::UserRecord| -> Result<Vec<u8>, StoreError> {
        let key = crypto::unwrap_data_key(current, &user.user_id, &user.wrapped_data_key)
            .map_err(|e| StoreError::Corrupt(format!("the data key of {}: {e}", user.user_id)))?;
        crypto::wrap_data_key(&new, &user.user_id, &key).map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    let result = store.transact(now_unix_s, |tx| {
        let value = change(tx)?;
        tx.rewrap_all(&user_ids, &rewrap)?;
        tx.set_meta(SIGNING_KEY_META, &signing)?;
        tx.set_meta(MASTER_KEY_ID_META, new.id().as_bytes())?;
        Ok(value)
    });
    match result {
        Err(e) => {
            let _ = remove_next(&next);
            Err(RotateError::Store(e))
        }
        Ok(value) => {
            // The store is sealed with the new key now: whatever happens to the files below, the
            // next start finishes the rotation from `next`.
            match new.overwrite_file(master_path) {
                Ok(()) => {
                    if let Err(e) = remove_next(&next) {
                        tracing::error!(error = %e, "cannot remove the rotated master key's temporary file");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "the master key file was not replaced; the next start will finish it")
                }
            }
            Ok((new, value))
        }
    }
}

/// Why a rotation did not happen (nothing changed in the store then).
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Other(anyhow::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::DataKey;
    use crate::store::UserRecord;

    fn deployment() -> (tempfile::TempDir, PathBuf, Store, MasterKey) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let master = MasterKey::create_file(&path).unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let (_, wrapped) = SigningKey::generate(&master).unwrap();
        store.meta_set_once(SIGNING_KEY_META, &wrapped).unwrap();
        let master = load_master(&path, &store).unwrap();
        (dir, path, store, master)
    }

    fn add_user(store: &Store, master: &MasterKey, id: &str) {
        let key = DataKey::generate().unwrap();
        let user = UserRecord {
            user_id: id.into(),
            name: id.into(),
            department: "d".into(),
            wrapped_data_key: crypto::wrap_data_key(master, id, &key).unwrap(),
            registered_at_unix_s: 0,
            roles: vec![],
            rights: vec![],
            restriction: None,
        };
        store.transact(0, |tx| tx.put_user(&user)).unwrap();
    }

    #[test]
    fn a_rotation_rewraps_every_key_and_the_old_key_opens_nothing_new() {
        let (_dir, path, store, old) = deployment();
        add_user(&store, &old, "alice");
        add_user(&store, &old, "bob");
        let bob_before = store.user("bob").unwrap().unwrap().wrapped_data_key;
        let (new, ()) = rotate(&path, &old, &store, 1, |tx| tx.remove_user("bob")).unwrap();
        assert_eq!(store.user("bob").unwrap(), None);
        let alice = store.user("alice").unwrap().unwrap();
        assert!(crypto::unwrap_data_key(&new, "alice", &alice.wrapped_data_key).is_ok());
        // bob's key from a backup made before does not open with the key in force.
        assert!(crypto::unwrap_data_key(&new, "bob", &bob_before).is_err());
        let reloaded = load_master(&path, &store).unwrap();
        assert_eq!(reloaded.id(), new.id());
        assert!(!next_key_path(&path).exists());
        let signing = store.meta(SIGNING_KEY_META).unwrap().unwrap();
        assert!(SigningKey::unwrap(&reloaded, &signing).is_ok());
    }

    #[test]
    fn a_rotation_interrupted_after_the_store_commit_is_finished_at_start() {
        let (_dir, path, store, old) = deployment();
        add_user(&store, &old, "alice");
        let (new, ()) = rotate(&path, &old, &store, 1, |_| Ok(())).unwrap();
        // Simulate a crash before the key file was replaced: the old key is back in the file and
        // the new one still waits beside it.
        new.write_new_file(&next_key_path(&path)).unwrap();
        old.overwrite_file(&path).unwrap();
        let loaded = load_master(&path, &store).unwrap();
        assert_eq!(loaded.id(), new.id());
        assert_eq!(MasterKey::load(&path).unwrap().id(), new.id());
    }

    #[test]
    fn a_rotation_that_never_reached_the_store_is_forgotten() {
        let (_dir, path, store, old) = deployment();
        MasterKey::generate()
            .unwrap()
            .write_new_file(&next_key_path(&path))
            .unwrap();
        assert_eq!(load_master(&path, &store).unwrap().id(), old.id());
        assert!(!next_key_path(&path).exists());
    }

    #[test]
    fn a_key_file_that_is_not_the_stores_key_is_refused() {
        let (_dir, path, store, _) = deployment();
        MasterKey::generate().unwrap().overwrite_file(&path).unwrap();
        assert!(load_master(&path, &store).is_err());
    }
}
