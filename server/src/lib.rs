//! shimon-server: the authentication server. It answers enrollment stations and terminal login
//! agents over gRPC with mutual TLS, keeps users, registered clients and encrypted templates in
//! an embedded sled store, and signs the assertions of successful verifications.
//!
//! - [`config`]: the TOML configuration.
//! - [`init`]: a new deployment (keys, development certificates, first clients).
//! - [`pki`]: development certificates; [`files`]: writing the deployment's files.
//! - [`crypto`]: master key, per-user data keys, sealed templates, the signing key.
//! - [`store`]: the sled store.
//! - [`images`]: received images to templates, with clear refusals.
//! - [`service`]: the gRPC services.
//! - [`server`]: TLS, health, reflection, and serving until shutdown; [`oversized`]: the status
//!   of a request over the size limit.

pub mod config;
pub mod crypto;
pub mod files;
pub mod images;
pub mod init;
pub mod oversized;
pub mod pki;
pub mod server;
pub mod service;
pub mod store;
