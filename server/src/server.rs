//! Serving: loads the keys and the store, checks the audit chain, sets up mutual TLS (clients must
//! present a certificate from the deployment CA; the services then check that it is registered),
//! adds the standard health and reflection services, signs audit checkpoints at intervals, and
//! serves until Ctrl-C or SIGTERM.

use crate::audit::{self, Checkpoint};
use crate::config::Config;
use crate::service::{raise_incident, Shimon};
use crate::store::Store;
use anyhow::Context;
use shimon_proto::v1::{
    administration_server::AdministrationServer, authentication_server::AuthenticationServer,
    enrollment_server::EnrollmentServer, reporting_server::ReportingServer, IncidentKind,
};
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
    let store =
        Store::open(&config.store).with_context(|| format!("cannot open the store {}", config.store.display()))?;
    let master = crate::keys::load_master(&config.master_key, &store)?;
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(read(&config.tls.cert)?, read(&config.tls.key)?))
        .client_ca_root(Certificate::from_pem(read(&config.tls.ca)?));
    let shimon = Shimon::new(store.clone(), master, config.master_key.clone(), config.clone())?;
    check_audit_chain(&shimon);
    sign_checkpoint(&shimon);
    let checkpoints = {
        let shimon = shimon.clone();
        let every = std::time::Duration::from_secs(u64::from(config.audit_checkpoint_interval_s));
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.tick().await;
            loop {
                interval.tick().await;
                let shimon = shimon.clone();
                let _ = tokio::task::spawn_blocking(move || sign_checkpoint(&shimon)).await;
            }
        })
    };

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<EnrollmentServer<Shimon>>().await;
    health_reporter.set_serving::<AuthenticationServer<Shimon>>().await;
    health_reporter.set_serving::<AdministrationServer<Shimon>>().await;
    health_reporter.set_serving::<ReportingServer<Shimon>>().await;
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
        .add_service(AuthenticationServer::new(shimon.clone()).max_decoding_message_size(MAX_VERIFY_REQUEST_BYTES))
        .add_service(AdministrationServer::new(shimon.clone()).max_decoding_message_size(MAX_VERIFY_REQUEST_BYTES))
        .add_service(ReportingServer::new(shimon.clone()))
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown)
        .await?;
    checkpoints.abort();
    sign_checkpoint(&shimon);
    store.flush()?;
    tracing::info!("stopped");
    Ok(())
}

/// Checks the whole audit chain; a break is logged and raised as an incident, and the server goes
/// on serving (availability matters too, 第13.2), the break stays on record.
fn check_audit_chain(shimon: &Shimon) {
    let public_key = shimon.with_signer(|s| s.public_key().to_vec());
    let result = audit::verify_store(shimon.store(), Some(&public_key));
    let problem = match result {
        Ok(Ok(report)) => {
            tracing::info!(
                entries = report.entries,
                signed_up_to = report.signed_up_to,
                "audit chain verified"
            );
            return;
        }
        Ok(Err(e)) => format!("the audit chain does not verify: {e}"),
        Err(e) => format!("the audit chain cannot be read: {e}"),
    };
    tracing::error!("{problem}");
    if let Err(e) = shimon.transact(|tx| {
        raise_incident(tx, IncidentKind::AuditChainBroken, &problem, "server", "server", "")?;
        Ok(())
    }) {
        tracing::error!(error = %e, "cannot raise the broken audit chain as an incident");
    }
}

/// Signs a checkpoint of the audit log's head if it moved since the last one.
pub fn sign_checkpoint(shimon: &Shimon) {
    let store = shimon.store();
    let result = (|| -> anyhow::Result<Option<u64>> {
        let Some((seq, hash)) = store.audit_head()? else {
            return Ok(None);
        };
        let last = store.checkpoints()?.last().map_or(0, |c| c.seq);
        if last >= seq {
            return Ok(None);
        }
        let checkpoint = shimon.with_signer(|signer| Checkpoint::sign(signer, seq, hash, shimon.now()));
        store.add_checkpoint(&checkpoint)?;
        Ok(Some(seq))
    })();
    match result {
        Ok(Some(seq)) => tracing::debug!(seq, "audit checkpoint signed"),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "cannot sign an audit checkpoint"),
    }
}
