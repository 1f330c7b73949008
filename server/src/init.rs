//! `shimon-server init`: everything a new deployment needs in one data directory: the master
//! key, a development CA with the server's certificate, client certificates (with TOML client
//! configurations) for one station and one terminal, registered in a new store with a new
//! assertion signing key, and the server's configuration file.

use crate::config::{Config, TlsFiles};
use crate::crypto::{self, MasterKey, SigningKey};
use crate::pki::{self, Authority};
use crate::store::{ClientKind, ClientRecord, Store};
use anyhow::{bail, Context};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Store metadata key of the wrapped assertion signing key.
pub const SIGNING_KEY_META: &str = "assertion-signing-key";
/// Metadata key of the signing key's public half, for checking the audit log offline.
pub const SIGNING_PUBLIC_KEY_META: &str = "assertion-signing-public-key";

/// What `init` makes.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The data directory (created if missing; must not hold a deployment yet).
    pub data_dir: PathBuf,
    /// Where the server will listen.
    pub listen: SocketAddr,
    /// Names (DNS names or IP addresses) the server's certificate is valid for.
    pub server_names: Vec<String>,
    /// The department of the first station.
    pub station_department: String,
}

/// The paths `init` wrote.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub config_path: PathBuf,
    pub station_config: PathBuf,
    pub terminal_config: PathBuf,
}

/// The client configuration file that the station and the agent read.
fn client_toml(server: &str, server_name: &str, ca: &Path, cert: &Path, key: &Path) -> String {
    let mut table = toml::map::Map::new();
    for (k, v) in [
        ("server", server.to_owned()),
        ("server_name", server_name.to_owned()),
        ("ca", ca.display().to_string()),
        ("cert", cert.display().to_string()),
        ("key", key.display().to_string()),
    ] {
        table.insert(k.into(), toml::Value::String(v));
    }
    toml::to_string(&table).unwrap_or_default()
}

/// Issues a client certificate in `dir`, registers it in `store`, and writes its configuration.
pub fn add_client(
    store: &Store,
    authority: &Authority,
    dir: &Path,
    client: &ClientRecord,
    server: &str,
    server_name: &str,
    ca: &Path,
) -> anyhow::Result<PathBuf> {
    let pair = authority.issue_client(&client.name)?;
    let (cert, key) = pair.write(dir, &client.name)?;
    store.register_client(&crypto::sha256(&pair.cert_der), client)?;
    let config = dir.join(format!("{}.toml", client.name));
    pki::write_new(
        &config,
        client_toml(server, server_name, ca, &cert, &key).as_bytes(),
        false,
    )?;
    Ok(config)
}

/// What `add-client` adds.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// The deployment's data directory (made by [`init`]).
    pub data_dir: PathBuf,
    /// The client's name: 1 to 64 lowercase letters, digits, '-' or '_'.
    pub name: String,
    /// Station or terminal.
    pub kind: ClientKind,
    /// The department it serves.
    pub department: String,
    /// The name in the server's certificate that the client connects to.
    pub server_name: String,
}

/// Issues a certificate for one more station or terminal of a deployment, registers it, and
/// writes its client configuration to `DATA_DIR/clients/NAME.toml`. The store must not be in use:
/// stop the server first.
pub fn add_new_client(new: &NewClient) -> anyhow::Result<PathBuf> {
    let valid = !new.name.is_empty()
        && new.name.len() <= 64
        && new
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "a client name is 1 to 64 lowercase letters, digits, '-' or '_', not {:?}",
            new.name
        );
    }
    if new.department.trim().is_empty() {
        bail!("a client needs a department");
    }
    let config = Config::load(&new.data_dir.join("server.toml"))?;
    let store = Store::open(&config.store).map_err(|e| {
        anyhow::anyhow!(
            "cannot open the store {} ({e}); if the server is running, stop it first",
            config.store.display()
        )
    })?;
    if store.clients()?.iter().any(|c| c.name == new.name) {
        bail!("a client named {} is registered already", new.name);
    }
    let tls_dir = new.data_dir.join("tls");
    let authority = Authority::load(&tls_dir.join("ca.pem"), &tls_dir.join("ca.key"))?;
    let client = ClientRecord {
        name: new.name.clone(),
        kind: new.kind,
        department: new.department.clone(),
        registered_at_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    };
    let server = format!("https://{}:{}", new.server_name, config.listen.port());
    add_client(
        &store,
        &authority,
        &new.data_dir.join("clients"),
        &client,
        &server,
        &new.server_name,
        &config.tls.ca,
    )
}

/// Makes a new deployment.
pub fn init(options: &InitOptions) -> anyhow::Result<Deployment> {
    let dir = &options.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    let config_path = dir.join("server.toml");
    if config_path.exists() {
        bail!(
            "{} holds a deployment already ({} exists)",
            dir.display(),
            config_path.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let (tls_dir, clients_dir) = (dir.join("tls"), dir.join("clients"));
    std::fs::create_dir_all(&tls_dir)?;
    std::fs::create_dir_all(&clients_dir)?;

    let master_path = dir.join("master.key");
    let master = MasterKey::create_file(&master_path)?;
    let authority = Authority::new()?;
    let (ca, _) = authority.pair.write(&tls_dir, "ca")?;
    let names = if options.server_names.is_empty() {
        vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
    } else {
        options.server_names.clone()
    };
    let (cert, key) = authority.issue_server(&names)?.write(&tls_dir, "server")?;

    let store_path = dir.join("store");
    let store = Store::open(&store_path)?;
    let (signer, wrapped) = SigningKey::generate(&master)?;
    store.meta_set_once(SIGNING_KEY_META, &wrapped)?;
    store.meta_set_once(SIGNING_PUBLIC_KEY_META, signer.public_key())?;
    store.meta_set_once(crate::keys::MASTER_KEY_ID_META, master.id().as_bytes())?;

    let server = format!("https://{}:{}", names[0], options.listen.port());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let station = ClientRecord {
        name: "station".into(),
        kind: ClientKind::Station,
        department: options.station_department.clone(),
        registered_at_unix_s: now,
    };
    let terminal = ClientRecord {
        name: "terminal".into(),
        kind: ClientKind::Terminal,
        department: options.station_department.clone(),
        registered_at_unix_s: now,
    };
    let station_config = add_client(&store, &authority, &clients_dir, &station, &server, &names[0], &ca)?;
    let terminal_config = add_client(&store, &authority, &clients_dir, &terminal, &server, &names[0], &ca)?;
    store.flush()?;

    let config = Config::new(options.listen, store_path, master_path, TlsFiles { ca, cert, key });
    pki::write_new(&config_path, config.to_toml().as_bytes(), false)?;
    Ok(Deployment {
        config_path,
        station_config,
        terminal_config,
    })
}
