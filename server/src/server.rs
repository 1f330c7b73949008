//! Serving: loads the keys and the store, sets up mutual TLS (clients must present a certificate
//! from the deployment CA; the services then check that it is registered), adds the standard
//! health and reflection services, and serves until Ctrl-C or SIGTERM.

use crate::config::Config;
use crate::crypto::MasterKey;
use crate::service::Shimon;
use crate::store::Store;
use anyhow::Context;
use shimon_proto::v1::{authentication_server::AuthenticationServer, enrollment_server::EnrollmentServer};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

/// Largest enrollment request, bytes (2 to 10 fingers of 3 to 10 images).
pub const MAX_ENROLL_REQUEST_BYTES: usize = 64 << 20;
/// Largest verification request, bytes (one image).
pub const MAX_VERIFY_REQUEST_BYTES: usize = 5 << 20;

fn read(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Serves on `listener` until `shutdown` completes, then flushes the store. `ready` is called with
/// the address once the keys and the store are open and the services are built, just before the
/// first connection is accepted.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    ready: impl FnOnce(std::net::SocketAddr),
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let master = MasterKey::load(&config.master_key)?;
    let store =
        Store::open(&config.store).with_context(|| format!("cannot open the store {}", config.store.display()))?;
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(read(&config.tls.cert)?, read(&config.tls.key)?))
        .client_ca_root(Certificate::from_pem(read(&config.tls.ca)?));
    let shimon = Shimon::new(store.clone(), master, config.clone())?;

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<EnrollmentServer<Shimon>>().await;
    health_reporter.set_serving::<AuthenticationServer<Shimon>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(shimon_proto::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;

    let address = listener.local_addr()?;
    tracing::info!(%address, store = %config.store.display(), "serving");
    ready(address);
    Server::builder()
        .tls_config(tls)?
        .layer(tower::util::MapResponseLayer::new(
            crate::oversized::as_invalid_argument,
        ))
        .add_service(health)
        .add_service(reflection)
        .add_service(EnrollmentServer::new(shimon.clone()).max_decoding_message_size(MAX_ENROLL_REQUEST_BYTES))
        .add_service(AuthenticationServer::new(shimon).max_decoding_message_size(MAX_VERIFY_REQUEST_BYTES))
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown)
        .await?;
    store.flush()?;
    tracing::info!("stopped");
    Ok(())
}
