//! Keys and encryption (ring): the master key file, each user's data key wrapped by the master
//! key, templates sealed with AES-256-GCM under the data key, and the Ed25519 key that signs
//! assertions. The associated data of a sealed template binds it to its user, finger, record
//! version and template format version, so a record copied to another user, another finger or
//! an older version does not open. Every key lives in a buffer that is wiped when dropped.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Length of every symmetric key, bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// What can go wrong with keys and encryption.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("cannot read the master key file {path}: {source}")]
    ReadKey { path: PathBuf, source: std::io::Error },
    #[error("cannot create the master key file {path}: {source}")]
    WriteKey { path: PathBuf, source: std::io::Error },
    #[error("the master key file {path} may be read by other users (mode {mode:o}); it must be readable by its owner only (chmod 600)")]
    KeyFileOpen { path: PathBuf, mode: u32 },
    #[error("the master key file {path} holds {len} bytes, not {KEY_LEN}")]
    KeyFileLength { path: PathBuf, len: usize },
    #[error("the system's random number generator failed")]
    Random,
    #[error("a sealed record is malformed or does not belong where it was found")]
    Open,
    #[error("the assertion signing key is malformed")]
    SigningKey,
}

/// The deployment's master key: wraps every user's data key and the signing key.
pub struct MasterKey(Zeroizing<[u8; KEY_LEN]>);

/// One user's data key: seals that user's templates. Destroying it (erasing the user) makes every
/// copy of their sealed templates unreadable.
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

fn random_key() -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    SystemRandom::new()
        .fill(key.as_mut())
        .map_err(|_| CryptoError::Random)?;
    Ok(key)
}

impl MasterKey {
    /// Creates a new random master key in a new file at `path` that only its owner may read
    /// (never overwriting an existing file), written through to disk.
    pub fn create_file(path: &Path) -> Result<Self, CryptoError> {
        let key = random_key()?;
        crate::files::write_new(path, key.as_ref(), true).map_err(|source| CryptoError::WriteKey {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self(key))
    }

    /// Reads the master key from `path`, refusing a file that others than its owner may read.
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let fail = |source| CryptoError::ReadKey {
            path: path.to_owned(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(fail)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(CryptoError::KeyFileOpen {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        let bytes = Zeroizing::new(std::fs::read(path).map_err(fail)?);
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::KeyFileLength {
                path: path.to_owned(),
                len: bytes.len(),
            });
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&bytes);
        Ok(Self(key))
    }

    /// A new random master key, in memory only (see [`MasterKey::overwrite_file`]).
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self(random_key()?))
    }

    /// Identifies the key without revealing it: the first 8 bytes of a SHA-256 of it, in hex.
    pub fn id(&self) -> String {
        let digest = sha256(&[b"shimon master key id v1\0".as_slice(), self.0.as_ref()].concat());
        hex::encode(&digest[..8])
    }

    /// Writes this key over the existing key file at `path`, in place (the same blocks, so the
    /// old key does not linger in a file the filesystem keeps), through to disk.
    pub fn overwrite_file(&self, path: &Path) -> Result<(), CryptoError> {
        use std::io::Write;
        let fail = |source| CryptoError::WriteKey {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::OpenOptions::new().write(true).open(path).map_err(fail)?;
        file.write_all(self.0.as_ref()).map_err(fail)?;
        file.set_len(KEY_LEN as u64).map_err(fail)?;
        file.sync_all().map_err(fail)
    }

    /// Writes this key to a new file at `path`, readable by its owner only, through to disk.
    pub fn write_new_file(&self, path: &Path) -> Result<(), CryptoError> {
        crate::files::write_new(path, self.0.as_ref(), true).map_err(|source| CryptoError::WriteKey {
            path: path.to_owned(),
            source,
        })
    }

    #[cfg(test)]
    pub fn random_for_tests() -> Self {
        Self(random_key().unwrap())
    }
}

impl DataKey {
    /// A new random data key.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self(random_key()?))
    }
}

/// Seals `plaintext` under `key` with `aad`: a random 96-bit nonce, then the ciphertext and tag.
fn seal(key: &[u8; KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Random)?);
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| CryptoError::Random)?;
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[NONCE_LEN..],
        )
        .map_err(|_| CryptoError::Random)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens what [`seal`] sealed under the same key and `aad`.
fn open(key: &[u8; KEY_LEN], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(CryptoError::Open);
    }
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Open)?);
    let nonce = Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN]).map_err(|_| CryptoError::Open)?;
    let mut buffer = Zeroizing::new(sealed[NONCE_LEN..].to_vec());
    let plain_len = key
        .open_in_place(nonce, Aad::from(aad), buffer.as_mut_slice())
        .map_err(|_| CryptoError::Open)?
        .len();
    buffer.truncate(plain_len);
    Ok(buffer)
}

fn data_key_aad(user_id: &str) -> Vec<u8> {
    [b"shimon data key v1\0".as_slice(), user_id.as_bytes()].concat()
}

/// Wraps a user's data key under the master key, bound to the user.
pub fn wrap_data_key(master: &MasterKey, user_id: &str, key: &DataKey) -> Result<Vec<u8>, CryptoError> {
    seal(&master.0, &data_key_aad(user_id), key.0.as_ref())
}

/// Unwraps what [`wrap_data_key`] wrapped for the same user.
pub fn unwrap_data_key(master: &MasterKey, user_id: &str, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
    let plain = open(&master.0, &data_key_aad(user_id), wrapped)?;
    let bytes: [u8; KEY_LEN] = plain.as_slice().try_into().map_err(|_| CryptoError::Open)?;
    Ok(DataKey(Zeroizing::new(bytes)))
}

/// Where a sealed template belongs; all of it is bound into the encryption.
#[derive(Debug, Clone, Copy)]
pub struct TemplateBinding<'a> {
    pub user_id: &'a str,
    /// ISO finger position, 1 to 10.
    pub finger: u8,
    /// The version of the user's enrollment the template was stored with.
    pub record_version: u64,
    /// The template format version (`shimon_matcher::template::FORMAT_VERSION`).
    pub template_version: u16,
}

impl TemplateBinding<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = b"shimon template v1\0".to_vec();
        aad.extend_from_slice(&(self.user_id.len() as u32).to_be_bytes());
        aad.extend_from_slice(self.user_id.as_bytes());
        aad.push(self.finger);
        aad.extend_from_slice(&self.record_version.to_be_bytes());
        aad.extend_from_slice(&self.template_version.to_be_bytes());
        aad
    }
}

/// Seals an encoded template under the user's data key.
pub fn seal_template(key: &DataKey, binding: &TemplateBinding, template: &[u8]) -> Result<Vec<u8>, CryptoError> {
    seal(&key.0, &binding.aad(), template)
}

/// Opens a template sealed by [`seal_template`] with the same binding.
pub fn open_template(
    key: &DataKey,
    binding: &TemplateBinding,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    open(&key.0, &binding.aad(), sealed)
}

const SIGNING_KEY_AAD: &[u8] = b"shimon assertion signing key v1";

/// The Ed25519 key that signs assertions.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    key_id: String,
}

impl SigningKey {
    /// A new key, and its PKCS#8 document wrapped by the master key for storing.
    pub fn generate(master: &MasterKey) -> Result<(Self, Vec<u8>), CryptoError> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| CryptoError::Random)?;
        let wrapped = seal(&master.0, SIGNING_KEY_AAD, document.as_ref())?;
        Ok((Self::from_pkcs8(document.as_ref())?, wrapped))
    }

    /// The key that [`SigningKey::generate`] wrapped.
    pub fn unwrap(master: &MasterKey, wrapped: &[u8]) -> Result<Self, CryptoError> {
        let document = open(&master.0, SIGNING_KEY_AAD, wrapped)?;
        Self::from_pkcs8(&document)
    }

    /// The wrapped key of [`SigningKey::generate`], wrapped again under a new master key.
    pub fn rewrap(old: &MasterKey, new: &MasterKey, wrapped: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let document = open(&old.0, SIGNING_KEY_AAD, wrapped)?;
        seal(&new.0, SIGNING_KEY_AAD, &document)
    }

    fn from_pkcs8(document: &[u8]) -> Result<Self, CryptoError> {
        let pair = Ed25519KeyPair::from_pkcs8(document).map_err(|_| CryptoError::SigningKey)?;
        let key_id = key_id(pair.public_key().as_ref());
        Ok(Self { pair, key_id })
    }

    /// The public key, 32 bytes.
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The first 8 bytes of the SHA-256 of the public key, in hex.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

/// The id of an Ed25519 public key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&ring::digest::digest(&ring::digest::SHA256, public_key).as_ref()[..8])
}

/// SHA-256 of `bytes` (certificate fingerprints).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(user_id: &str) -> TemplateBinding<'_> {
        TemplateBinding {
            user_id,
            finger: 2,
            record_version: 1,
            template_version: 1,
        }
    }

    #[test]
    fn a_template_opens_only_where_it_was_sealed() {
        let key = DataKey::generate().unwrap();
        let sealed = seal_template(&key, &binding("alice"), b"minutiae").unwrap();
        assert_eq!(
            open_template(&key, &binding("alice"), &sealed).unwrap().as_slice(),
            b"minutiae"
        );
        assert!(
            !sealed.windows(8).any(|w| w == b"minutiae"),
            "ciphertext holds no plaintext"
        );
        let moved = [
            binding("bob"),
            TemplateBinding {
                finger: 7,
                ..binding("alice")
            },
            TemplateBinding {
                record_version: 2,
                ..binding("alice")
            },
            TemplateBinding {
                template_version: 2,
                ..binding("alice")
            },
        ];
        for other in moved {
            assert!(open_template(&key, &other, &sealed).is_err(), "{other:?}");
        }
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert!(open_template(&key, &binding("alice"), &flipped).is_err());
        assert!(open_template(&key, &binding("alice"), &sealed[..10]).is_err());
        let other_key = DataKey::generate().unwrap();
        assert!(open_template(&other_key, &binding("alice"), &sealed).is_err());
    }

    #[test]
    fn a_data_key_unwraps_only_for_its_user() {
        let master = MasterKey::random_for_tests();
        let key = DataKey::generate().unwrap();
        let wrapped = wrap_data_key(&master, "alice", &key).unwrap();
        let back = unwrap_data_key(&master, "alice", &wrapped).unwrap();
        assert_eq!(back.0.as_ref(), key.0.as_ref());
        assert!(unwrap_data_key(&master, "bob", &wrapped).is_err());
        assert!(unwrap_data_key(&MasterKey::random_for_tests(), "alice", &wrapped).is_err());
    }

    #[test]
    fn the_master_key_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let created = MasterKey::create_file(&path).unwrap();
        assert_eq!(MasterKey::load(&path).unwrap().0.as_ref(), created.0.as_ref());
        assert!(matches!(
            MasterKey::create_file(&path),
            Err(CryptoError::WriteKey { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(MasterKey::load(&path), Err(CryptoError::KeyFileOpen { .. })));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(MasterKey::load(&path), Err(CryptoError::KeyFileLength { .. })));
    }

    #[test]
    fn the_signing_key_survives_wrapping_and_signs_verifiably() {
        let master = MasterKey::random_for_tests();
        let (key, wrapped) = SigningKey::generate(&master).unwrap();
        let again = SigningKey::unwrap(&master, &wrapped).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        assert_eq!(key.key_id().len(), 16);
        let signature = again.sign(b"assertion");
        let public = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key.public_key());
        assert!(public.verify(b"assertion", &signature).is_ok());
        assert!(public.verify(b"assertioN", &signature).is_err());
        assert!(SigningKey::unwrap(&MasterKey::random_for_tests(), &wrapped).is_err());
    }
}
