//! The server's configuration: a TOML file (written by `shimon-server init`), over which command
//! line flags and environment variables take precedence (see `main.rs`). Every tunable with a
//! unit says so in its name.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// What can go wrong reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the configuration file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("the configuration is not valid: {0}")]
    Invalid(String),
}

/// The server's certificate, key and the CA that client certificates must chain to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The CA that issues client certificates (PEM).
    pub ca: PathBuf,
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
}

/// Everything the server needs to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Directory of the embedded store.
    pub store: PathBuf,
    /// The master key file (32 bytes, readable by the server's user only).
    pub master_key: PathBuf,
    /// TLS files.
    pub tls: TlsFiles,
    /// Log as JSON lines instead of text.
    #[serde(default)]
    pub log_json: bool,
    /// A Verify matches when the probe scores at least this against one of the user's templates
    /// (see the threshold table in shimon-matcher's documentation).
    #[serde(default = "default_match_threshold")]
    pub match_threshold: f32,
    /// At enrollment, a finger counts as already enrolled to someone else when two of its
    /// impressions each score at least this against their same finger.
    #[serde(default = "default_duplicate_threshold")]
    pub duplicate_threshold: f32,
    /// At enrollment, every impression of a finger must score at least this against another
    /// impression of the same finger.
    #[serde(default = "default_consistency_threshold")]
    pub consistency_threshold: f32,
    /// Impressions below this quality (0 to 100) are refused at enrollment.
    #[serde(default = "default_min_enroll_quality")]
    pub min_enroll_quality: u8,
    /// How long a signed assertion stays valid, seconds.
    #[serde(default = "default_assertion_lifetime_s")]
    pub assertion_lifetime_s: u32,
    /// How long an officer's or administrator's session at a station lasts, seconds.
    #[serde(default = "default_session_lifetime_s")]
    pub session_lifetime_s: u32,
    /// How often the server signs a checkpoint of the audit log when it has grown, seconds.
    #[serde(default = "default_audit_checkpoint_interval_s")]
    pub audit_checkpoint_interval_s: u32,
}

/// 0.006% FMR per template on the FVC databases (shimon-matcher's table). A Verify compares with
/// every stored template of the user: with the usual 2 fingers of 3 impressions a stranger passes
/// about 6 x 0.006% = 0.04% of attempts, under NIST SP 800-63B's ceiling of 0.1%; each further
/// stored template adds about 0.006%.
fn default_match_threshold() -> f32 {
    9.8
}
fn default_duplicate_threshold() -> f32 {
    9.8
}
/// About 1% FMR per template: impressions of one finger taken one after another agree easily.
fn default_consistency_threshold() -> f32 {
    5.65
}
fn default_min_enroll_quality() -> u8 {
    30
}
fn default_assertion_lifetime_s() -> u32 {
    300
}
/// Fifteen minutes: long enough to enroll a few people, short enough that a station left alone
/// is not left open for long.
fn default_session_lifetime_s() -> u32 {
    900
}
fn default_audit_checkpoint_interval_s() -> u32 {
    300
}

impl Config {
    /// A configuration with the defaults for everything but the paths and address.
    pub fn new(listen: SocketAddr, store: PathBuf, master_key: PathBuf, tls: TlsFiles) -> Self {
        Self {
            listen,
            store,
            master_key,
            tls,
            log_json: false,
            match_threshold: default_match_threshold(),
            duplicate_threshold: default_duplicate_threshold(),
            consistency_threshold: default_consistency_threshold(),
            min_enroll_quality: default_min_enroll_quality(),
            assertion_lifetime_s: default_assertion_lifetime_s(),
            session_lifetime_s: default_session_lifetime_s(),
            audit_checkpoint_interval_s: default_audit_checkpoint_interval_s(),
        }
    }

    /// Reads the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.check()?;
        Ok(config)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Refuses values that make no sense.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("match_threshold", self.match_threshold),
            ("duplicate_threshold", self.duplicate_threshold),
            ("consistency_threshold", self.consistency_threshold),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be a positive number, not {value}"
                )));
            }
        }
        if self.min_enroll_quality > 100 {
            return Err(ConfigError::Invalid("min_enroll_quality must be 0 to 100".into()));
        }
        if !(10..=86_400).contains(&self.assertion_lifetime_s) {
            return Err(ConfigError::Invalid(
                "assertion_lifetime_s must be 10 to 86400 seconds".into(),
            ));
        }
        if !(60..=86_400).contains(&self.session_lifetime_s) {
            return Err(ConfigError::Invalid(
                "session_lifetime_s must be 60 to 86400 seconds".into(),
            ));
        }
        if !(1..=86_400).contains(&self.audit_checkpoint_interval_s) {
            return Err(ConfigError::Invalid(
                "audit_checkpoint_interval_s must be 1 to 86400 seconds".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        Config::new(
            "127.0.0.1:50051".parse().unwrap(),
            "/d/store".into(),
            "/d/master.key".into(),
            TlsFiles {
                ca: "/d/tls/ca.pem".into(),
                cert: "/d/tls/server.pem".into(),
                key: "/d/tls/server.key".into(),
            },
        )
    }

    #[test]
    fn a_written_configuration_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        std::fs::write(&path, sample().to_toml()).unwrap();
        assert_eq!(Config::load(&path).unwrap(), sample());
    }

    #[test]
    fn mistakes_in_the_file_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        std::fs::write(&path, sample().to_toml() + "listen_port = 3\n").unwrap();
        let message = Config::load(&path).unwrap_err().to_string();
        assert!(message.contains("listen_port"), "{message}");
        std::fs::write(
            &path,
            sample()
                .to_toml()
                .replace("match_threshold = 9.8", "match_threshold = -1.0"),
        )
        .unwrap();
        let message = Config::load(&path).unwrap_err().to_string();
        assert!(message.contains("match_threshold"), "{message}");
        let missing = Config::load(&dir.path().join("none.toml")).unwrap_err().to_string();
        assert!(missing.contains("none.toml"), "{missing}");
    }
}
