//! Development certificates (rcgen): a deployment CA, the server's certificate, and client
//! certificates for stations and terminals, all written as PEM files. A production deployment
//! brings certificates from its own CA instead; the server only needs the CA, its own pair, and
//! the fingerprints of the client certificates it registers.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};

/// What can go wrong making certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot make a certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// A certificate and its private key, PEM-encoded, with the certificate's DER bytes.
pub struct Pair {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: Vec<u8>,
}

/// The deployment CA, able to issue certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pub pair: Pair,
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "shimon");
    dn.push(DnType::CommonName, common_name);
    dn
}

/// The common name of the development CA.
pub const CA_NAME: &str = "shimon development CA";

fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = name(CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

impl Authority {
    /// A new self-signed development CA.
    pub fn new() -> Result<Self, PkiError> {
        let params = ca_params()?;
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let pair = Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
        };
        Ok(Self {
            issuer: Issuer::new(params, key),
            pair,
        })
    }

    /// The development CA that [`Authority::new`] made, from its certificate and key files, to
    /// issue more certificates.
    pub fn load(cert_pem_path: &Path, key_pem_path: &Path) -> Result<Self, PkiError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| PkiError::Read {
                path: path.to_owned(),
                source,
            })
        };
        let (cert_pem, key_pem) = (read(cert_pem_path)?, read(key_pem_path)?);
        let key = KeyPair::from_pem(&key_pem)?;
        let cert_der = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .next()
            .and_then(Result::ok)
            .map(|der| der.to_vec())
            .unwrap_or_default();
        Ok(Self {
            issuer: Issuer::new(ca_params()?, key),
            pair: Pair {
                cert_pem,
                key_pem,
                cert_der,
            },
        })
    }

    /// A server certificate for these DNS names and IP addresses.
    pub fn issue_server(&self, names: &[String]) -> Result<Pair, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(names.first().map_or("shimon-server", |n| n.as_str()));
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(n.clone().try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.issue(params)
    }

    /// A client certificate for a station or terminal called `client_name`.
    pub fn issue_client(&self, client_name: &str) -> Result<Pair, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(client_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.issue(params)
    }

    fn issue(&self, params: CertificateParams) -> Result<Pair, PkiError> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
        })
    }
}

/// Writes `contents` to a new file at `path` (see [`crate::files::write_new`]).
pub fn write_new(path: &Path, contents: &[u8], private: bool) -> Result<(), PkiError> {
    crate::files::write_new(path, contents, private).map_err(|source| PkiError::Write {
        path: path.to_owned(),
        source,
    })
}

impl Pair {
    /// Writes the certificate to `<stem>.pem` and the key to `<stem>.key` (owner only) in `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<(PathBuf, PathBuf), PkiError> {
        let (cert, key) = (dir.join(format!("{stem}.pem")), dir.join(format!("{stem}.key")));
        write_new(&cert, self.cert_pem.as_bytes(), false)?;
        write_new(&key, self.key_pem.as_bytes(), true)?;
        Ok((cert, key))
    }
}
