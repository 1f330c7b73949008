//! shimon-agent: the client that terminals' login agents use to verify a user's finger with the
//! shimon server, and the code both clients share.
//!
//! - [`connection`]: the client configuration (TOML file, flags, environment) and the mutual-TLS
//!   channel to the server; the enrollment station uses it too.
//! - [`client`]: [`Agent`], which calls `Verify` and checks the signed assertion of a match.
//! - [`assertion`]: offline verification of a signed assertion, for relying systems.
//! - [`person`]: simulated people (a seed per person, a synthetic finger per ISO finger position).
//! - [`rpc`]: how a gRPC status from the server reads (`CODE: message`).
//! - [`time`]: Unix times as UTC timestamps, for printing.
#![forbid(unsafe_code)]

pub mod assertion;
pub mod client;
pub mod connection;
pub mod person;
pub mod rpc;
pub mod time;

pub use assertion::{key_id, verify_assertion, AssertionError};
pub use client::{now_unix_s, Agent, AgentError, ServerKey, Verification, VerifiedAssertion};
pub use connection::{connect, ClientConfig, ConfigError, ConnectError, ConnectionArgs};
pub use rpc::RpcError;
