//! shimon-server: the authentication server. It answers enrollment stations and terminal login
//! agents over gRPC with mutual TLS, keeps users, registered clients and encrypted templates in
//! an embedded sled store, enforces the operations guideline's roles, lifecycle, rights and
//! attempt limits, keeps a tamper-evident audit log, and signs the assertions of successful
//! verifications.
//!
//! - [`config`]: the TOML configuration.
//! - [`init`]: a new deployment (keys, development certificates, first clients).
//! - [`pki`]: development certificates; [`files`]: writing the deployment's files.
//! - [`crypto`]: master key, per-user data keys, sealed templates, the signing key;
//!   [`keys`]: replacing the master key when a user is erased.
//! - [`store`]: the sled store.
//! - [`images`]: received images to templates, with clear refusals.
//! - [`policy`]: who may do what (the roles of 第2); [`sessions`]: people signed in at stations;
//!   [`attempts`]: attempt limits and re-registration signals; [`audit`]: the hash-chained log.
//! - [`service`]: the shared state and the Enrollment and Authentication services; [`admin`]:
//!   the Administration and Reporting services; [`bootstrap`]: the first administrators.
//! - [`server`]: TLS, health, reflection, and serving until shutdown; [`oversized`]: the status
//!   of a request over the size limit.

pub mod admin;
pub mod attempts;
pub mod audit;
pub mod bootstrap;
pub mod config;
pub mod crypto;
pub mod files;
pub mod images;
pub mod init;
pub mod keys;
pub mod oversized;
pub mod pki;
pub mod policy;
pub mod server;
pub mod service;
pub mod sessions;
pub mod store;
