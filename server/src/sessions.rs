//! Sessions of people who signed in at a station with their finger. A session is a random token,
//! known to the server only by its hash, bound to the certificate of the station it was granted
//! at and valid for a short time. Sessions live in memory only: a restart signs everyone out,
//! which is the safe direction. Roles are not kept in the session but read from the store on
//! every call, so taking a role away takes effect at once.

use crate::crypto;
use ring::rand::{SecureRandom, SystemRandom};
use std::collections::HashMap;
use std::sync::Mutex;

/// The metadata key that carries the session token.
pub const SESSION_METADATA: &str = "x-shimon-session";

/// Length of a token, random bytes (sent as hex).
const TOKEN_BYTES: usize = 32;

/// A signed-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: String,
    /// SHA-256 of the certificate of the station the session was granted at.
    pub station_certificate: [u8; 32],
    pub expires_at_unix_s: i64,
}

/// Why a token does not open a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("no session: sign in at this station first")]
    Missing,
    #[error("the session is unknown or has ended; sign in again")]
    Unknown,
    #[error("the session has expired; sign in again")]
    Expired,
    #[error("the session was granted at another station")]
    OtherStation,
}

/// Every live session.
#[derive(Default)]
pub struct Sessions {
    by_token_hash: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    /// Opens a session at `now` and returns its token; sessions that have ended are dropped.
    pub fn open(&self, session: Session, now_unix_s: i64) -> Result<String, crypto::CryptoError> {
        let mut token = [0u8; TOKEN_BYTES];
        SystemRandom::new()
            .fill(&mut token)
            .map_err(|_| crypto::CryptoError::Random)?;
        let token = hex::encode(token);
        let mut map = self.by_token_hash.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.expires_at_unix_s > now_unix_s);
        map.insert(crypto::sha256(token.as_bytes()), session);
        Ok(token)
    }

    /// The session of `token`, used from the station with certificate `station` at `now`.
    pub fn check(&self, token: Option<&str>, station: &[u8; 32], now_unix_s: i64) -> Result<Session, SessionError> {
        let token = token.ok_or(SessionError::Missing)?;
        let map = self.by_token_hash.lock().unwrap_or_else(|p| p.into_inner());
        let session = map
            .get(&crypto::sha256(token.as_bytes()))
            .ok_or(SessionError::Unknown)?;
        if session.station_certificate != *station {
            return Err(SessionError::OtherStation);
        }
        if now_unix_s >= session.expires_at_unix_s {
            return Err(SessionError::Expired);
        }
        Ok(session.clone())
    }

    /// Ends the session of `token`.
    pub fn close(&self, token: &str) {
        let mut map = self.by_token_hash.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&crypto::sha256(token.as_bytes()));
    }

    /// Ends every session of a user (erased, or lost a role).
    pub fn close_all_of(&self, user_id: &str) {
        let mut map = self.by_token_hash.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.user_id != user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_works_only_at_its_station_and_until_it_ends() {
        let sessions = Sessions::default();
        let token = sessions
            .open(
                Session {
                    user_id: "alice".into(),
                    station_certificate: [1; 32],
                    expires_at_unix_s: 100,
                },
                0,
            )
            .unwrap();
        assert_eq!(sessions.check(Some(&token), &[1; 32], 99).unwrap().user_id, "alice");
        assert_eq!(
            sessions.check(Some(&token), &[2; 32], 99),
            Err(SessionError::OtherStation)
        );
        assert_eq!(sessions.check(Some(&token), &[1; 32], 100), Err(SessionError::Expired));
        assert_eq!(sessions.check(None, &[1; 32], 1), Err(SessionError::Missing));
        assert_eq!(sessions.check(Some("00"), &[1; 32], 1), Err(SessionError::Unknown));
        sessions.close(&token);
        assert_eq!(sessions.check(Some(&token), &[1; 32], 1), Err(SessionError::Unknown));
    }
}
