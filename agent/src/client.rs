//! The login agent's client of the `Authentication` service: [`Agent::verify`] sends one capture of
//! a user's finger with the purpose of use and, on a match, checks the server's signed assertion
//! (with the server's public key, fetched once and cached, or pinned by the relying system) before
//! handing it on, so a caller never sees an assertion that does not verify.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use shimon_hal::{FingerImage, ReaderError};
use shimon_proto::v1::authentication_client::AuthenticationClient;
use shimon_proto::v1::reporting_client::ReportingClient;
use shimon_proto::v1::{Assertion, Decision, GetPublicKeyRequest, Image, Purpose, SignedAssertion, VerifyRequest};
use shimon_proto::v1::{IncidentKind, ReportIncidentRequest};
use tonic::transport::Channel;

use crate::assertion::{key_id, verify_assertion, AssertionError, PUBLIC_KEY_LEN_BYTES};
use crate::connection::{connect, ClientConfig, ConnectError};
use crate::rpc::RpcError;

/// Why a verification could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The server could not be reached.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The server refused the call.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The captured image could not be encoded.
    #[error("cannot encode the captured image: {0}")]
    Image(#[source] ReaderError),
    /// The server's public key is not a valid Ed25519 key, or its key id does not match it.
    #[error("the assertion-signing public key is unusable: {0}")]
    BadPublicKey(String),
    /// The server said MATCH but sent no assertion.
    #[error("the server answered MATCH without an assertion")]
    MissingAssertion,
    /// The server's decision is none the agent knows.
    #[error("the server answered with an unknown decision ({0})")]
    UnknownDecision(i32),
    /// The assertion did not verify.
    #[error("the server's assertion was refused: {0}")]
    Assertion(#[from] AssertionError),
    /// The assertion verified but is about another user or purpose than the one asked for.
    #[error("the server's assertion does not match the request: {0}")]
    AssertionMismatch(String),
}

impl From<tonic::Status> for AgentError {
    fn from(status: tonic::Status) -> Self {
        AgentError::Rpc(RpcError(status))
    }
}

/// The server's assertion-signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerKey {
    /// The Ed25519 public key.
    pub public_key: [u8; PUBLIC_KEY_LEN_BYTES],
    /// Its key id (see [`key_id`]).
    pub key_id: String,
}

impl ServerKey {
    /// The key with these 32 bytes.
    pub fn new(public_key: [u8; PUBLIC_KEY_LEN_BYTES]) -> Self {
        ServerKey {
            key_id: key_id(&public_key),
            public_key,
        }
    }

    /// The key as the server sent it, checked: 32 bytes, and `key_id` is the key's id.
    pub fn from_server(public_key: &[u8], sent_key_id: &str) -> Result<Self, AgentError> {
        let bytes: [u8; PUBLIC_KEY_LEN_BYTES] = public_key.try_into().map_err(|_| {
            AgentError::BadPublicKey(format!("{} bytes, not the 32 of an Ed25519 key", public_key.len()))
        })?;
        let key = ServerKey::new(bytes);
        if key.key_id != sent_key_id {
            return Err(AgentError::BadPublicKey(format!(
                "the server names it {sent_key_id:?} but its id is {:?}",
                key.key_id
            )));
        }
        Ok(key)
    }

    /// The key from its hex form (64 hex digits).
    pub fn from_hex(text: &str) -> Result<Self, AgentError> {
        let bytes = hex::decode(text.trim()).map_err(|e| AgentError::BadPublicKey(format!("not hex: {e}")))?;
        let bytes: [u8; PUBLIC_KEY_LEN_BYTES] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| AgentError::BadPublicKey(format!("{} bytes, not the 32 of an Ed25519 key", bytes.len())))?;
        Ok(ServerKey::new(bytes))
    }

    /// The key in hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.public_key)
    }
}

/// An assertion that verified, with the signed form to pass on to relying systems.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedAssertion {
    /// What the assertion states.
    pub assertion: Assertion,
    /// The assertion as the server signed it.
    pub signed: SignedAssertion,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    /// [`Decision::Match`] or [`Decision::NoMatch`].
    pub decision: Decision,
    /// On a match, the assertion, verified; `None` otherwise.
    pub assertion: Option<VerifiedAssertion>,
}

impl Verification {
    /// True on a match.
    pub fn is_match(&self) -> bool {
        self.decision == Decision::Match
    }
}

/// A terminal's login agent connected to the server.
#[derive(Debug)]
pub struct Agent {
    client: AuthenticationClient<Channel>,
    reporting: ReportingClient<Channel>,
    /// The signing key: pinned at construction, or fetched on first need.
    key: Mutex<Option<ServerKey>>,
    pinned: bool,
}

impl Agent {
    /// Connects to the server of `config`; the signing key is fetched from the server when first
    /// needed.
    pub async fn connect(config: &ClientConfig) -> Result<Agent, AgentError> {
        Ok(Agent::from_channel(connect(config).await?))
    }

    /// Connects to the server of `config`, trusting only the signing key `public_key` (for relying
    /// systems configured with it).
    pub async fn connect_pinned(
        config: &ClientConfig,
        public_key: [u8; PUBLIC_KEY_LEN_BYTES],
    ) -> Result<Agent, AgentError> {
        Ok(Agent::from_channel_pinned(connect(config).await?, public_key))
    }

    /// An agent over an open channel; the signing key is fetched when first needed.
    pub fn from_channel(channel: Channel) -> Agent {
        Agent {
            reporting: ReportingClient::new(channel.clone()),
            client: AuthenticationClient::new(channel),
            key: Mutex::new(None),
            pinned: false,
        }
    }

    /// An agent over an open channel that trusts only the signing key `public_key`.
    pub fn from_channel_pinned(channel: Channel, public_key: [u8; PUBLIC_KEY_LEN_BYTES]) -> Agent {
        Agent {
            reporting: ReportingClient::new(channel.clone()),
            client: AuthenticationClient::new(channel),
            key: Mutex::new(Some(ServerKey::new(public_key))),
            pinned: true,
        }
    }

    /// Reports a security incident (第11.1(4)) or a failure (第12) to the system administrator;
    /// returns the incident's id.
    pub async fn report_incident(&self, kind: IncidentKind, description: &str) -> Result<u64, AgentError> {
        let request = ReportIncidentRequest {
            kind: kind as i32,
            description: description.to_string(),
        };
        Ok(self.reporting.clone().report_incident(request).await?.into_inner().id)
    }

    /// Asks the server for its signing key (always a call; see [`Agent::server_key`] for the
    /// cached one).
    pub async fn fetch_public_key(&self) -> Result<ServerKey, AgentError> {
        let response = self
            .client
            .clone()
            .get_public_key(GetPublicKeyRequest {})
            .await?
            .into_inner();
        let key = ServerKey::from_server(&response.public_key, &response.key_id)?;
        tracing::debug!(key_id = %key.key_id, "fetched the server's public key");
        Ok(key)
    }

    /// The signing key assertions are checked with: the pinned one, or the server's, fetched on
    /// the first call and cached.
    pub async fn server_key(&self) -> Result<ServerKey, AgentError> {
        if let Some(key) = self.cached_key() {
            return Ok(key);
        }
        let key = self.fetch_public_key().await?;
        *self.key.lock().unwrap_or_else(|e| e.into_inner()) = Some(key.clone());
        Ok(key)
    }

    fn cached_key(&self) -> Option<ServerKey> {
        self.key.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Verifies that `image` is a finger of `user_id`, who logs in for `purpose`. On a match the
    /// returned assertion has been checked: signature, key, validity period, user and purpose.
    pub async fn verify(
        &self,
        user_id: &str,
        purpose: Purpose,
        image: &FingerImage,
    ) -> Result<Verification, AgentError> {
        let png = image.to_png().map_err(AgentError::Image)?;
        let request = VerifyRequest {
            user_id: user_id.to_string(),
            purpose: purpose as i32,
            image: Some(Image {
                data: png,
                dpi: image.dpi,
            }),
        };
        tracing::debug!(user = user_id, purpose = purpose.cli_name(), "verify");
        let response = self.client.clone().verify(request).await?.into_inner();
        let decision =
            Decision::try_from(response.decision).map_err(|_| AgentError::UnknownDecision(response.decision))?;
        match decision {
            Decision::Match => {
                let signed = response.assertion.ok_or(AgentError::MissingAssertion)?;
                let assertion = self.check_assertion(&signed).await?;
                if assertion.user_id != user_id {
                    return Err(AgentError::AssertionMismatch(format!(
                        "it is for user {:?}, not {user_id:?}",
                        assertion.user_id
                    )));
                }
                if assertion.purpose != purpose as i32 {
                    return Err(AgentError::AssertionMismatch(format!(
                        "it is for purpose {}, not {}",
                        assertion.purpose,
                        purpose.cli_name()
                    )));
                }
                tracing::info!(user = user_id, purpose = purpose.cli_name(), "match");
                Ok(Verification {
                    decision,
                    assertion: Some(VerifiedAssertion { assertion, signed }),
                })
            }
            Decision::NoMatch => {
                if response.assertion.is_some() {
                    tracing::warn!(user = user_id, "the server sent an assertion with NO_MATCH; ignored");
                }
                tracing::info!(user = user_id, purpose = purpose.cli_name(), "no match");
                Ok(Verification {
                    decision,
                    assertion: None,
                })
            }
            Decision::Unspecified => Err(AgentError::UnknownDecision(response.decision)),
        }
    }

    /// Checks `signed` with the signing key. When the key was fetched (not pinned) and the
    /// assertion names another key, the server may have rotated its key: it is fetched once more.
    async fn check_assertion(&self, signed: &SignedAssertion) -> Result<Assertion, AgentError> {
        let key = self.server_key().await?;
        match verify_assertion(&key.public_key, signed, now_unix_s()) {
            Err(AssertionError::WrongKey { .. }) if !self.pinned => {
                tracing::info!(old = %key.key_id, new = %signed.key_id, "assertion names another key; fetching it again");
                let fresh = self.fetch_public_key().await?;
                *self.key.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh.clone());
                Ok(verify_assertion(&fresh.public_key, signed, now_unix_s())?)
            }
            other => Ok(other?),
        }
    }
}

/// Now, seconds since the Unix epoch.
pub fn now_unix_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_key_is_checked_against_its_id() {
        let bytes = [9u8; 32];
        let id = key_id(&bytes);
        let key = ServerKey::from_server(&bytes, &id).unwrap();
        assert_eq!(key.public_key, bytes);
        assert_eq!(key.key_id, id);
        assert!(matches!(
            ServerKey::from_server(&bytes, "0000000000000000"),
            Err(AgentError::BadPublicKey(_))
        ));
        assert!(matches!(
            ServerKey::from_server(&bytes[..31], &id),
            Err(AgentError::BadPublicKey(_))
        ));
    }

    #[test]
    fn a_pinned_key_reads_from_hex() {
        let key = ServerKey::new([0xab; 32]);
        assert_eq!(ServerKey::from_hex(&key.to_hex()).unwrap(), key);
        assert!(ServerKey::from_hex("abcd").is_err());
        assert!(ServerKey::from_hex("zz").is_err());
    }
}
