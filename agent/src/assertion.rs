//! Offline verification of the server's signed assertions: the Ed25519 signature over the exact
//! encoded bytes, the key id, then the decoded assertion's validity period. Relying systems that
//! hold the server's public key use [`verify_assertion`] directly; the [`crate::Agent`] uses it on
//! every MATCH before handing the assertion on.

use prost::Message;
use ring::signature::{UnparsedPublicKey, ED25519};
use shimon_proto::v1::{Assertion, Purpose, SignedAssertion};

/// Length of an Ed25519 public key, bytes.
pub const PUBLIC_KEY_LEN_BYTES: usize = 32;

/// How far in the future an assertion's issue time may lie (clock skew between the server and
/// the relying system), seconds.
pub const MAX_CLOCK_SKEW_S: i64 = 60;

/// How many leading bytes of the SHA-256 of the public key make its key id.
const KEY_ID_LEN_BYTES: usize = 8;

/// Why an assertion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// The public key given to check with is not an Ed25519 public key.
    #[error("the public key is {0} bytes, not the 32 of an Ed25519 key")]
    InvalidPublicKey(usize),
    /// The assertion names another signing key than the one it is checked with.
    #[error("the assertion was signed by key {found:?}, not by the key {expected:?} it is checked with")]
    WrongKey {
        /// The key id of the public key checked with.
        expected: String,
        /// The key id the assertion carries.
        found: String,
    },
    /// The signature does not verify over the assertion's bytes.
    #[error("the assertion's signature does not verify")]
    BadSignature,
    /// The signed bytes are not a valid assertion.
    #[error("the assertion is malformed: {0}")]
    Malformed(String),
    /// The assertion's validity ended.
    #[error("the assertion expired at {expires_at_unix_s} (now {now_unix_s})")]
    Expired {
        /// When it expired, seconds since the Unix epoch.
        expires_at_unix_s: i64,
        /// The time it was checked at.
        now_unix_s: i64,
    },
    /// The assertion was issued further in the future than clock skew explains.
    #[error("the assertion is issued at {issued_at_unix_s}, more than {MAX_CLOCK_SKEW_S} s after now ({now_unix_s})")]
    NotYetValid {
        /// When it says it was issued, seconds since the Unix epoch.
        issued_at_unix_s: i64,
        /// The time it was checked at.
        now_unix_s: i64,
    },
}

/// The key id of an Ed25519 public key: the first 8 bytes of its SHA-256, in lower-case hex.
pub fn key_id(public_key: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, public_key);
    hex::encode(&digest.as_ref()[..KEY_ID_LEN_BYTES])
}

/// Checks `signed` against the server's `public_key` at time `now_unix_s` (seconds since the Unix
/// epoch) and returns the assertion it carries.
///
/// In order: the key is an Ed25519 key; the assertion's key id is that key's; the signature
/// verifies over the exact bytes `signed.assertion`; those bytes decode into an assertion with a
/// user, a purpose and an expiry after its issue; it has not expired (`expires_at_unix_s <= now`
/// is expired); it was not issued more than [`MAX_CLOCK_SKEW_S`] in the future.
pub fn verify_assertion(
    public_key: &[u8],
    signed: &SignedAssertion,
    now_unix_s: i64,
) -> Result<Assertion, AssertionError> {
    if public_key.len() != PUBLIC_KEY_LEN_BYTES {
        return Err(AssertionError::InvalidPublicKey(public_key.len()));
    }
    let expected = key_id(public_key);
    if signed.key_id != expected {
        return Err(AssertionError::WrongKey {
            expected,
            found: signed.key_id.clone(),
        });
    }
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&signed.assertion, &signed.signature)
        .map_err(|_| AssertionError::BadSignature)?;
    let assertion =
        Assertion::decode(signed.assertion.as_slice()).map_err(|e| AssertionError::Malformed(e.to_string()))?;
    if assertion.user_id.is_empty() {
        return Err(AssertionError::Malformed("it names no user".into()));
    }
    match Purpose::try_from(assertion.purpose) {
        Ok(Purpose::Unspecified) | Err(_) => {
            return Err(AssertionError::Malformed(format!(
                "its purpose {} is not a purpose of use",
                assertion.purpose
            )))
        }
        Ok(_) => {}
    }
    if assertion.expires_at_unix_s <= assertion.issued_at_unix_s {
        return Err(AssertionError::Malformed(format!(
            "it expires ({}) no later than it was issued ({})",
            assertion.expires_at_unix_s, assertion.issued_at_unix_s
        )));
    }
    if assertion.expires_at_unix_s <= now_unix_s {
        return Err(AssertionError::Expired {
            expires_at_unix_s: assertion.expires_at_unix_s,
            now_unix_s,
        });
    }
    if assertion.issued_at_unix_s > now_unix_s.saturating_add(MAX_CLOCK_SKEW_S) {
        return Err(AssertionError::NotYetValid {
            issued_at_unix_s: assertion.issued_at_unix_s,
            now_unix_s,
        });
    }
    Ok(assertion)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    const NOW: i64 = 1_750_000_000;

    fn key_pair() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    fn assertion(issued: i64, expires: i64) -> Assertion {
        Assertion {
            user_id: "hanako.yamada".into(),
            purpose: Purpose::Email as i32,
            terminal: "terminal-3f".into(),
            issued_at_unix_s: issued,
            expires_at_unix_s: expires,
            nonce: vec![7; 16],
        }
    }

    fn sign(keys: &Ed25519KeyPair, assertion: &Assertion) -> SignedAssertion {
        let bytes = assertion.encode_to_vec();
        SignedAssertion {
            signature: keys.sign(&bytes).as_ref().to_vec(),
            assertion: bytes,
            key_id: key_id(keys.public_key().as_ref()),
        }
    }

    #[test]
    fn a_good_assertion_verifies_and_decodes() {
        let keys = key_pair();
        let original = assertion(NOW - 5, NOW + 120);
        let signed = sign(&keys, &original);
        assert_eq!(verify_assertion(keys.public_key().as_ref(), &signed, NOW), Ok(original));
    }

    #[test]
    fn the_key_id_is_the_hex_of_the_first_8_bytes_of_the_sha256() {
        // SHA-256 of 32 zero bytes is 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925.
        assert_eq!(key_id(&[0; 32]), "66687aadf862bd77");
    }

    #[test]
    fn a_flipped_byte_in_the_assertion_or_signature_fails() {
        let keys = key_pair();
        let signed = sign(&keys, &assertion(NOW, NOW + 60));
        for i in 0..signed.assertion.len() {
            let mut bad = signed.clone();
            bad.assertion[i] ^= 0x01;
            assert_eq!(
                verify_assertion(keys.public_key().as_ref(), &bad, NOW),
                Err(AssertionError::BadSignature),
                "assertion byte {i}"
            );
        }
        for i in [0, 31, 32, 63] {
            let mut bad = signed.clone();
            bad.signature[i] ^= 0x80;
            assert_eq!(
                verify_assertion(keys.public_key().as_ref(), &bad, NOW),
                Err(AssertionError::BadSignature),
                "signature byte {i}"
            );
        }
        let mut short = signed.clone();
        short.signature.truncate(63);
        assert_eq!(
            verify_assertion(keys.public_key().as_ref(), &short, NOW),
            Err(AssertionError::BadSignature)
        );
    }

    #[test]
    fn a_wrong_key_fails() {
        let keys = key_pair();
        let other = key_pair();
        let signed = sign(&keys, &assertion(NOW, NOW + 60));
        let err = verify_assertion(other.public_key().as_ref(), &signed, NOW).unwrap_err();
        assert!(matches!(err, AssertionError::WrongKey { .. }), "{err}");

        // Signed by another key but claiming the server's key id: the signature gives it away.
        let mut forged = sign(&other, &assertion(NOW, NOW + 60));
        forged.key_id = key_id(keys.public_key().as_ref());
        assert_eq!(
            verify_assertion(keys.public_key().as_ref(), &forged, NOW),
            Err(AssertionError::BadSignature)
        );

        assert_eq!(
            verify_assertion(&[1; 31], &signed, NOW),
            Err(AssertionError::InvalidPublicKey(31))
        );
    }

    #[test]
    fn an_expired_assertion_fails() {
        let keys = key_pair();
        let signed = sign(&keys, &assertion(NOW - 120, NOW));
        assert_eq!(
            verify_assertion(keys.public_key().as_ref(), &signed, NOW),
            Err(AssertionError::Expired {
                expires_at_unix_s: NOW,
                now_unix_s: NOW
            })
        );
        assert!(verify_assertion(keys.public_key().as_ref(), &signed, NOW - 1).is_ok());
    }

    #[test]
    fn an_assertion_from_the_future_fails_beyond_the_clock_skew() {
        let keys = key_pair();
        let within = sign(&keys, &assertion(NOW + MAX_CLOCK_SKEW_S, NOW + 300));
        assert!(verify_assertion(keys.public_key().as_ref(), &within, NOW).is_ok());
        let beyond = sign(&keys, &assertion(NOW + MAX_CLOCK_SKEW_S + 1, NOW + 300));
        assert!(matches!(
            verify_assertion(keys.public_key().as_ref(), &beyond, NOW),
            Err(AssertionError::NotYetValid { .. })
        ));
    }

    #[test]
    fn signed_bytes_that_are_no_assertion_are_malformed() {
        let keys = key_pair();
        let public = keys.public_key().as_ref().to_vec();
        let signed_bytes = |bytes: Vec<u8>| SignedAssertion {
            signature: keys.sign(&bytes).as_ref().to_vec(),
            assertion: bytes,
            key_id: key_id(&public),
        };
        let garbage = signed_bytes(vec![0xff, 0xff, 0xff]);
        assert!(matches!(
            verify_assertion(&public, &garbage, NOW),
            Err(AssertionError::Malformed(_))
        ));
        let mut no_purpose = assertion(NOW, NOW + 60);
        no_purpose.purpose = 0;
        assert!(matches!(
            verify_assertion(&public, &signed_bytes(no_purpose.encode_to_vec()), NOW),
            Err(AssertionError::Malformed(_))
        ));
        let mut no_user = assertion(NOW, NOW + 60);
        no_user.user_id.clear();
        assert!(matches!(
            verify_assertion(&public, &signed_bytes(no_user.encode_to_vec()), NOW),
            Err(AssertionError::Malformed(_))
        ));
    }
}
