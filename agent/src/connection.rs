//! The connection to the shimon server, shared by both clients (the login agent and the
//! enrollment station): where the server is and which certificates to use ([`ClientConfig`],
//! from a TOML file that `shimon-server init` writes, overridden by command-line flags or
//! environment variables through [`ConnectionArgs`]), and opening a mutual-TLS gRPC channel to it
//! ([`connect`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// How long to wait for the TCP connection and the TLS handshake, seconds.
pub const CONNECT_TIMEOUT_S: u64 = 10;

/// Largest PEM file read (certificates and keys are a few kilobytes), bytes.
const MAX_PEM_FILE_BYTES: u64 = 1 << 20;

/// Largest client configuration file read, bytes.
const MAX_CONFIG_FILE_BYTES: u64 = 1 << 20;

/// Why a client configuration could not be read or completed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A file is larger than any sensible configuration or PEM file.
    #[error("{} is too large ({size} bytes) to be a {what}", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size, bytes.
        size: u64,
        /// What it should have been.
        what: &'static str,
    },
    /// The configuration file is not valid TOML of the expected shape.
    #[error("{} is not a valid client configuration: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A setting is given neither in the file nor by a flag.
    #[error("no {setting} is configured: give {flag} (or {env}) or a --config file that sets `{key}`")]
    Missing {
        /// What the setting is, in words.
        setting: &'static str,
        /// The key in the configuration file.
        key: &'static str,
        /// The command-line flag.
        flag: &'static str,
        /// The environment variable.
        env: &'static str,
    },
    /// The server address is not an `https://host:port` URL.
    #[error("server address {address:?} is not valid: {reason}")]
    BadServer {
        /// The address given.
        address: String,
        /// Why it is refused.
        reason: String,
    },
    /// A PEM file does not hold what it should.
    #[error("{} does not hold {what}", path.display())]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        what: &'static str,
    },
}

/// Why the channel to the server could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The configuration or one of its files is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server could not be reached, or the TLS handshake failed.
    #[error("cannot connect to {server}: {message}")]
    Transport {
        /// The server address.
        server: String,
        /// The transport error with its causes.
        message: String,
    },
}

/// Everything a client needs to reach the server over mutual TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The server's address, `https://host:port`.
    pub server: String,
    /// The name in the server's certificate (checked by the TLS handshake).
    pub server_name: String,
    /// The deployment CA's certificate, PEM.
    pub ca: PathBuf,
    /// This client's certificate, PEM.
    pub cert: PathBuf,
    /// This client's private key, PEM (PKCS#8).
    pub key: PathBuf,
}

/// The client configuration file as written (`DIR/clients/station.toml`, ...): every key optional
/// here, so that flags can fill in what it lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ClientConfigFile {
    /// See [`ClientConfig::server`].
    pub server: Option<String>,
    /// See [`ClientConfig::server_name`].
    pub server_name: Option<String>,
    /// See [`ClientConfig::ca`]; relative to the file's folder.
    pub ca: Option<PathBuf>,
    /// See [`ClientConfig::cert`]; relative to the file's folder.
    pub cert: Option<PathBuf>,
    /// See [`ClientConfig::key`]; relative to the file's folder.
    pub key: Option<PathBuf>,
}

impl ClientConfigFile {
    /// Reads and parses the file at `path`; relative certificate paths in it are taken relative to
    /// the file's folder.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let bytes = read_limited(path, MAX_CONFIG_FILE_BYTES, "client configuration")?;
        let text = String::from_utf8(bytes).map_err(|_| ConfigError::Parse {
            path: path.to_path_buf(),
            message: "it is not UTF-8 text".into(),
        })?;
        let mut file: ClientConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        for p in [&mut file.ca, &mut file.cert, &mut file.key].into_iter().flatten() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(file)
    }
}

/// Settings that override the configuration file, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// See [`ClientConfig::server`].
    pub server: Option<String>,
    /// See [`ClientConfig::server_name`].
    pub server_name: Option<String>,
    /// See [`ClientConfig::ca`].
    pub ca: Option<PathBuf>,
    /// See [`ClientConfig::cert`].
    pub cert: Option<PathBuf>,
    /// See [`ClientConfig::key`].
    pub key: Option<PathBuf>,
}

impl ClientConfig {
    /// Reads a complete configuration from the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::resolve(Some(path), &Overrides::default())
    }

    /// The configuration of the file at `file` (if any) with `overrides` taking precedence.
    /// Without `server_name`, the host of the server address is used.
    pub fn resolve(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let file = match file {
            Some(path) => ClientConfigFile::read(path)?,
            None => ClientConfigFile::default(),
        };
        let server = overrides.server.clone().or(file.server).ok_or(ConfigError::Missing {
            setting: "server address",
            key: "server",
            flag: "--server",
            env: "SHIMON_SERVER",
        })?;
        let host = check_server(&server)?;
        let server_name = overrides.server_name.clone().or(file.server_name).unwrap_or(host);
        let ca = overrides.ca.clone().or(file.ca).ok_or(ConfigError::Missing {
            setting: "CA certificate",
            key: "ca",
            flag: "--ca",
            env: "SHIMON_CA",
        })?;
        let cert = overrides.cert.clone().or(file.cert).ok_or(ConfigError::Missing {
            setting: "client certificate",
            key: "cert",
            flag: "--cert",
            env: "SHIMON_CERT",
        })?;
        let key = overrides.key.clone().or(file.key).ok_or(ConfigError::Missing {
            setting: "client private key",
            key: "key",
            flag: "--key",
            env: "SHIMON_KEY",
        })?;
        Ok(ClientConfig {
            server,
            server_name,
            ca,
            cert,
            key,
        })
    }
}

/// Checks that `server` is an `https://` URL with a host, and returns the host.
fn check_server(server: &str) -> Result<String, ConfigError> {
    let bad = |reason: &str| ConfigError::BadServer {
        address: server.to_string(),
        reason: reason.to_string(),
    };
    let uri: tonic::codegen::http::Uri = server.parse().map_err(|e| bad(&format!("{e}")))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some(_) => return Err(bad("the server is reached over TLS only: use https://")),
        None => return Err(bad("give it as https://host:port")),
    }
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("it names no host"))?;
    Ok(host.trim_start_matches('[').trim_end_matches(']').to_string())
}

/// The connection flags of both command-line clients (flatten into a clap parser).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct ConnectionArgs {
    /// Client configuration file (TOML: server, server_name, ca, cert, key).
    #[arg(long, env = "SHIMON_CLIENT_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Server address, https://host:port (overrides the file).
    #[arg(long, env = "SHIMON_SERVER", value_name = "URL", global = true)]
    pub server: Option<String>,
    /// Name in the server's certificate (overrides the file; default: the server's host).
    #[arg(long, env = "SHIMON_SERVER_NAME", value_name = "NAME", global = true)]
    pub server_name: Option<String>,
    /// Deployment CA certificate, PEM (overrides the file).
    #[arg(long, env = "SHIMON_CA", value_name = "FILE", global = true)]
    pub ca: Option<PathBuf>,
    /// This client's certificate, PEM (overrides the file).
    #[arg(long, env = "SHIMON_CERT", value_name = "FILE", global = true)]
    pub cert: Option<PathBuf>,
    /// This client's private key, PEM (overrides the file).
    #[arg(long, env = "SHIMON_KEY", value_name = "FILE", global = true)]
    pub key: Option<PathBuf>,
}

impl ConnectionArgs {
    /// The configuration these flags give: the file's, with the flags taking precedence.
    pub fn resolve(&self) -> Result<ClientConfig, ConfigError> {
        let overrides = Overrides {
            server: self.server.clone(),
            server_name: self.server_name.clone(),
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        };
        ClientConfig::resolve(self.config.as_deref(), &overrides)
    }
}

/// The PEM files of a configuration, read and checked.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate(s), PEM.
    pub ca_pem: Vec<u8>,
    /// The client certificate (chain), PEM.
    pub cert_pem: Vec<u8>,
    /// The client's private key, PEM.
    pub key_pem: Vec<u8>,
}

impl TlsFiles {
    /// Reads the files that `config` names, checking that each holds what it should.
    pub fn read(config: &ClientConfig) -> Result<Self, ConfigError> {
        let ca_pem = read_pem_certs(&config.ca, "a PEM CA certificate")?;
        let cert_pem = read_pem_certs(&config.cert, "a PEM client certificate")?;
        let key_pem = read_limited(&config.key, MAX_PEM_FILE_BYTES, "PEM private key")?;
        match rustls_pemfile::private_key(&mut key_pem.as_slice()) {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                return Err(ConfigError::BadPem {
                    path: config.key.clone(),
                    what: "a PEM private key",
                })
            }
        }
        Ok(TlsFiles {
            ca_pem,
            cert_pem,
            key_pem,
        })
    }
}

fn read_pem_certs(path: &Path, what: &'static str) -> Result<Vec<u8>, ConfigError> {
    let pem = read_limited(path, MAX_PEM_FILE_BYTES, what)?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut pem.as_slice()).collect();
    match certs {
        Ok(certs) if !certs.is_empty() => Ok(pem),
        _ => Err(ConfigError::BadPem {
            path: path.to_path_buf(),
            what,
        }),
    }
}

fn read_limited(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, ConfigError> {
    let read_err = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_err)?.len();
    if size > limit {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
            size,
            what,
        });
    }
    std::fs::read(path).map_err(read_err)
}

/// Opens a mutual-TLS gRPC channel to the server that `config` names.
pub async fn connect(config: &ClientConfig) -> Result<Channel, ConnectError> {
    let files = TlsFiles::read(config)?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&files.ca_pem))
        .identity(Identity::from_pem(&files.cert_pem, &files.key_pem))
        .domain_name(config.server_name.clone());
    let transport = |e: tonic::transport::Error| ConnectError::Transport {
        server: config.server.clone(),
        message: error_chain(&e),
    };
    let endpoint = Endpoint::from_shared(config.server.clone())
        .map_err(transport)?
        .connect_timeout(Duration::from_secs(CONNECT_TIMEOUT_S))
        .tls_config(tls)
        .map_err(transport)?;
    tracing::debug!(server = %config.server, server_name = %config.server_name, "connecting");
    let channel = endpoint.connect().await.map_err(transport)?;
    tracing::debug!(server = %config.server, "connected");
    Ok(channel)
}

/// An error and its causes on one line, `outer: cause: cause`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        connection: ConnectionArgs,
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const FULL: &str = r#"
server = "https://localhost:50051"
server_name = "shimon.example"
ca = "/etc/shimon/ca.pem"
cert = "station.pem"
key = "station.key"
"#;

    #[test]
    fn a_file_loads_with_relative_paths_taken_from_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "station.toml", FULL);
        let config = ClientConfig::load(&path).unwrap();
        assert_eq!(config.server, "https://localhost:50051");
        assert_eq!(config.server_name, "shimon.example");
        assert_eq!(config.ca, PathBuf::from("/etc/shimon/ca.pem"));
        assert_eq!(config.cert, dir.path().join("station.pem"));
        assert_eq!(config.key, dir.path().join("station.key"));
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "station.toml", FULL);
        let cli = Cli::try_parse_from([
            "x",
            "--config",
            path.to_str().unwrap(),
            "--server",
            "https://10.0.0.5:7000",
            "--key",
            "other.key",
        ])
        .unwrap();
        let config = cli.connection.resolve().unwrap();
        assert_eq!(config.server, "https://10.0.0.5:7000");
        assert_eq!(config.server_name, "shimon.example", "kept from the file");
        assert_eq!(
            config.key,
            PathBuf::from("other.key"),
            "a flag's path is taken as given"
        );
        assert_eq!(config.cert, dir.path().join("station.pem"));
    }

    #[test]
    fn flags_alone_suffice_and_the_server_name_defaults_to_the_host() {
        let cli = Cli::try_parse_from([
            "x",
            "--server",
            "https://auth.example:50051",
            "--ca",
            "ca.pem",
            "--cert",
            "c.pem",
            "--key",
            "c.key",
        ])
        .unwrap();
        let config = cli.connection.resolve().unwrap();
        assert_eq!(config.server_name, "auth.example");
        assert_eq!(config.ca, PathBuf::from("ca.pem"));
    }

    #[test]
    fn a_missing_setting_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "t.toml",
            "server = \"https://localhost:1\"\nca = \"ca.pem\"\ncert = \"c.pem\"\n",
        );
        let err = ClientConfig::load(&path).unwrap_err();
        assert!(matches!(err, ConfigError::Missing { key: "key", .. }), "{err}");
        assert!(err.to_string().contains("--key"), "{err}");
        let err = ClientConfig::resolve(None, &Overrides::default()).unwrap_err();
        assert!(matches!(err, ConfigError::Missing { key: "server", .. }), "{err}");
    }

    #[test]
    fn a_missing_or_broken_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let err = ClientConfig::load(&missing).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
        assert!(err.to_string().contains("nope.toml"), "{err}");

        let broken = write(dir.path(), "broken.toml", "server = [1, 2");
        let err = ClientConfig::load(&broken).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }));
        assert!(err.to_string().contains("broken.toml"), "{err}");

        let wrong_type = write(dir.path(), "wrong.toml", "server = 5");
        assert!(matches!(
            ClientConfig::load(&wrong_type),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn only_https_server_addresses_are_accepted() {
        for bad in ["http://localhost:50051", "localhost:50051", "https://", "not a url"] {
            let overrides = Overrides {
                server: Some(bad.into()),
                ..Overrides::default()
            };
            let err = ClientConfig::resolve(None, &overrides).unwrap_err();
            assert!(matches!(err, ConfigError::BadServer { .. }), "{bad}: {err}");
        }
        assert_eq!(check_server("https://[::1]:50051").unwrap(), "::1");
    }

    #[test]
    fn tls_files_that_are_missing_or_not_pem_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = write(dir.path(), "ca.pem", "hello");
        let config = ClientConfig {
            server: "https://localhost:50051".into(),
            server_name: "localhost".into(),
            ca: not_pem.clone(),
            cert: dir.path().join("missing.pem"),
            key: dir.path().join("missing.key"),
        };
        let err = TlsFiles::read(&config).unwrap_err();
        assert!(
            matches!(&err, ConfigError::BadPem { path, .. } if *path == not_pem),
            "{err}"
        );
        assert!(err.to_string().contains("ca.pem"), "{err}");

        let config = ClientConfig {
            ca: dir.path().join("absent-ca.pem"),
            ..config
        };
        let err = TlsFiles::read(&config).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
        assert!(err.to_string().contains("absent-ca.pem"), "{err}");
    }
}
