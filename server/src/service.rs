//! The two gRPC services, `Enrollment` (stations) and `Authentication` (terminals): each call
//! identifies its client by its registered certificate, checks its input, does the engine work on
//! a blocking thread, and answers with a status that says what was wrong.

use crate::config::Config;
use crate::crypto::{self, DataKey, MasterKey, SigningKey, TemplateBinding};
use crate::images::{check_envelope, template_of};
use crate::store::{ClientKind, ClientRecord, EnrollmentRecord, FingerRecord, Store, StoreError, UserRecord};
use ring::rand::{SecureRandom, SystemRandom};
use shimon_matcher::{Probe, Template};
use shimon_proto::v1::{
    authentication_server::Authentication, enrollment_server::Enrollment, Assertion, Decision, EnrollRequest,
    EnrollResponse, EnrolledFinger, Finger, GetPublicKeyRequest, GetPublicKeyResponse, ListFingersRequest,
    ListFingersResponse, Purpose, RegisterUserRequest, RegisterUserResponse, SignedAssertion, User, VerifyRequest,
    VerifyResponse,
};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Fewest fingers an enrollment holds (a cut or bandaged finger has a backup).
pub const MIN_FINGERS: usize = 2;
/// Fewest impressions of each finger at enrollment.
pub const MIN_IMPRESSIONS: usize = 3;
/// Most impressions of one finger at enrollment.
pub const MAX_IMPRESSIONS: usize = 10;
/// A new finger is someone else's enrolled finger when at least this many of its impressions
/// match it.
pub const DUPLICATE_MIN_IMPRESSIONS: usize = 2;
/// Longest user id, characters.
pub const MAX_USER_ID_CHARS: usize = 64;
/// Longest name or department, characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Both services, sharing the store and keys.
#[derive(Clone)]
pub struct Shimon {
    inner: Arc<Inner>,
}

struct Inner {
    /// Held from the duplicate search to the store write of an enrollment: two stations enrolling
    /// the same finger to two people at once must not both pass the search.
    enrolling: std::sync::Mutex<()>,
    store: Store,
    master: MasterKey,
    signer: SigningKey,
    config: Config,
}

fn now_unix_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "internal error");
    Status::internal("internal error in the server; it has been logged")
}

fn store_status(e: StoreError) -> Status {
    match e {
        StoreError::AlreadyExists => Status::already_exists("already exists"),
        StoreError::NoSuchUser => Status::not_found("no such user"),
        StoreError::VersionConflict { .. } => {
            Status::aborted("the user's enrollment changed during this call; try again")
        }
        e => internal(e),
    }
}

fn check_user_id(user_id: &str) -> Result<(), Status> {
    let ok = !user_id.is_empty()
        && user_id.chars().count() <= MAX_USER_ID_CHARS
        && user_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "user_id must be 1 to {MAX_USER_ID_CHARS} letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

fn check_text(field: &str, value: &str) -> Result<(), Status> {
    if value.trim().is_empty() || value.chars().count() > MAX_NAME_CHARS || value.chars().any(char::is_control) {
        return Err(Status::invalid_argument(format!(
            "{field} must be 1 to {MAX_NAME_CHARS} printable characters"
        )));
    }
    Ok(())
}

fn finger_name(finger: u8) -> &'static str {
    Finger::try_from(i32::from(finger)).map_or("unknown finger", Finger::cli_name)
}

/// A finger of an enrollment request, checked and turned into templates.
struct NewFinger {
    finger: u8,
    templates: Vec<Template>,
}

impl Shimon {
    /// The services over an open store, with the keys loaded from it.
    pub fn new(store: Store, master: MasterKey, config: Config) -> Result<Self, anyhow::Error> {
        let wrapped = store
            .meta(crate::init::SIGNING_KEY_META)?
            .ok_or_else(|| anyhow::anyhow!("the store holds no signing key; was `shimon-server init` run?"))?;
        let signer = SigningKey::unwrap(&master, &wrapped)
            .map_err(|_| anyhow::anyhow!("the signing key does not open with this master key"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                enrolling: std::sync::Mutex::new(()),
                store,
                master,
                signer,
                config,
            }),
        })
    }

    /// The registered client behind the request's certificate, which must be of `kind`.
    fn client<T>(&self, request: &Request<T>, kind: Option<ClientKind>) -> Result<ClientRecord, Status> {
        let certs = request
            .peer_certs()
            .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
        let leaf = certs
            .first()
            .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
        let fingerprint = crypto::sha256(leaf.as_ref());
        let client = self
            .inner
            .store
            .client(&fingerprint)
            .map_err(store_status)?
            .ok_or_else(|| {
                tracing::warn!(certificate = %hex::encode(fingerprint), "refused an unregistered client certificate");
                Status::permission_denied("this client certificate is not registered with the server")
            })?;
        if kind.is_some_and(|k| k != client.kind) {
            tracing::warn!(client = %client.name, "refused a call not meant for this kind of client");
            return Err(Status::permission_denied(format!(
                "{} may not make this call",
                client.name
            )));
        }
        Ok(client)
    }

    fn data_key(&self, user: &UserRecord) -> Result<DataKey, Status> {
        crypto::unwrap_data_key(&self.inner.master, &user.user_id, &user.wrapped_data_key).map_err(internal)
    }

    /// Opens every template of an enrollment.
    fn open_templates(&self, user: &UserRecord, record: &EnrollmentRecord) -> Result<Vec<(u8, Template)>, Status> {
        let key = self.data_key(user)?;
        let mut out = Vec::new();
        for finger in &record.fingers {
            let binding = TemplateBinding {
                user_id: &user.user_id,
                finger: finger.finger,
                record_version: record.record_version,
                template_version: finger.template_version,
            };
            for sealed in &finger.sealed_templates {
                let plain = crypto::open_template(&key, &binding, sealed).map_err(|e| {
                    tracing::error!(user = %user.user_id, "a stored template does not open: {e}");
                    Status::data_loss("a stored template of this user is damaged; re-enroll the user")
                })?;
                let template = Template::from_bytes(&plain).map_err(internal)?;
                out.push((finger.finger, template));
            }
        }
        Ok(out)
    }

    fn user(&self, user_id: &str) -> Result<UserRecord, Status> {
        check_user_id(user_id)?;
        self.inner
            .store
            .user(user_id)
            .map_err(store_status)?
            .ok_or_else(|| Status::not_found(format!("no user {user_id}")))
    }

    /// Checks an enrollment request and extracts its templates.
    fn new_fingers(&self, request: &EnrollRequest) -> Result<Vec<NewFinger>, Status> {
        let config = &self.inner.config;
        if request.fingers.len() < MIN_FINGERS {
            return Err(Status::invalid_argument(format!(
                "at least {MIN_FINGERS} different fingers are needed, {} were sent",
                request.fingers.len()
            )));
        }
        if request.fingers.len() > Finger::ALL.len() {
            return Err(Status::invalid_argument("more fingers than a person has"));
        }
        let mut fingers: Vec<NewFinger> = Vec::new();
        for f in &request.fingers {
            let finger = match Finger::try_from(f.finger) {
                Ok(Finger::Unspecified) | Err(_) => {
                    return Err(Status::invalid_argument(format!("unknown finger {}", f.finger)))
                }
                Ok(finger) => finger,
            };
            let name = finger.cli_name();
            if fingers.iter().any(|n| i32::from(n.finger) == f.finger) {
                return Err(Status::invalid_argument(format!("{name} is sent twice")));
            }
            if !(MIN_IMPRESSIONS..=MAX_IMPRESSIONS).contains(&f.impressions.len()) {
                return Err(Status::invalid_argument(format!(
                    "{name}: {MIN_IMPRESSIONS} to {MAX_IMPRESSIONS} impressions are needed, {} were sent",
                    f.impressions.len()
                )));
            }
            let mut templates = Vec::new();
            for (k, image) in f.impressions.iter().enumerate() {
                let template = template_of(&image.data, image.dpi)
                    .map_err(|e| Status::invalid_argument(format!("{name}, impression {}: {e}", k + 1)))?;
                if template.quality < config.min_enroll_quality {
                    return Err(Status::invalid_argument(format!(
                        "{name}, impression {}: quality {} is below the {} needed; capture it again",
                        k + 1,
                        template.quality,
                        config.min_enroll_quality
                    )));
                }
                templates.push(template);
            }
            // Each impression must agree with another one of the same finger.
            for (k, template) in templates.iter().enumerate() {
                let probe = Probe::new(template);
                let best = templates
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != k)
                    .map(|(_, other)| probe.score(other))
                    .fold(0.0f32, f32::max);
                if best < config.consistency_threshold {
                    return Err(Status::invalid_argument(format!(
                        "{name}, impression {}: it does not match the other impressions of {name}; capture the finger again",
                        k + 1
                    )));
                }
            }
            fingers.push(NewFinger {
                finger: f.finger as u8,
                templates,
            });
        }
        // Two "different" fingers of the request must not be the same finger twice (by the same
        // rule as the search over other users).
        for (a, first) in fingers.iter().enumerate() {
            for second in &fingers[a + 1..] {
                if impressions_matching(&first.templates, &second.templates, config.duplicate_threshold)
                    >= DUPLICATE_MIN_IMPRESSIONS
                {
                    return Err(Status::invalid_argument(format!(
                        "{} and {} look like the same finger",
                        finger_name(first.finger),
                        finger_name(second.finger)
                    )));
                }
            }
        }
        Ok(fingers)
    }

    /// Refuses fingers enrolled to anyone but `user_id` (a 1:N search over every enrollment). A
    /// new finger counts as someone else's when at least [`DUPLICATE_MIN_IMPRESSIONS`] of its
    /// impressions each match that person's same stored finger: one chance match in a search over
    /// many people is likely, two independent ones on the same finger are not.
    fn check_not_enrolled_elsewhere(&self, user_id: &str, fingers: &[NewFinger]) -> Result<(), Status> {
        let threshold = self.inner.config.duplicate_threshold;
        for entry in self.inner.store.enrollments() {
            let (other_id, record) = entry.map_err(store_status)?;
            if other_id == user_id {
                continue;
            }
            let Some(other) = self.inner.store.user(&other_id).map_err(store_status)? else {
                continue;
            };
            let stored = self.open_templates(&other, &record)?;
            for stored_finger in record.fingers.iter().map(|f| f.finger) {
                let theirs: Vec<Template> = stored
                    .iter()
                    .filter(|(f, _)| *f == stored_finger)
                    .map(|(_, t)| t.clone())
                    .collect();
                for new in fingers {
                    if impressions_matching(&new.templates, &theirs, threshold) >= DUPLICATE_MIN_IMPRESSIONS {
                        tracing::warn!(user = %user_id, "enrollment refused: a finger is enrolled to another user");
                        return Err(Status::already_exists(format!(
                            "{} is already enrolled to another user",
                            finger_name(new.finger)
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Enrolls (`replace` false) or re-enrolls a user's fingers.
    fn enroll_blocking(&self, request: EnrollRequest, replace: bool) -> Result<EnrollResponse, Status> {
        let user = self.user(&request.user_id)?;
        let old = self.inner.store.enrollment(&user.user_id).map_err(store_status)?;
        // The store write below fails if the record changed meanwhile.
        let old_version = old.as_ref().map_or(0, |r| r.record_version);
        if !replace && old.as_ref().is_some_and(|r| !r.fingers.is_empty()) {
            return Err(Status::failed_precondition(format!(
                "{} has fingers enrolled already; re-enroll to replace them",
                user.user_id
            )));
        }
        // Checking the images needs no lock; the search and the write do.
        let fingers = self.new_fingers(&request)?;
        let _enrolling = self
            .inner
            .enrolling
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.check_not_enrolled_elsewhere(&user.user_id, &fingers)?;
        let key = self.data_key(&user)?;
        let record_version = old_version + 1;
        let now = now_unix_s();
        let template_version = u16::from(Template::FORMAT_VERSION);
        let mut record = EnrollmentRecord {
            record_version,
            fingers: Vec::new(),
        };
        for f in &fingers {
            let binding = TemplateBinding {
                user_id: &user.user_id,
                finger: f.finger,
                record_version,
                template_version,
            };
            let sealed = f
                .templates
                .iter()
                .map(|t| crypto::seal_template(&key, &binding, &zeroize::Zeroizing::new(t.to_bytes())))
                .collect::<Result<Vec<_>, _>>()
                .map_err(internal)?;
            record.fingers.push(FingerRecord {
                finger: f.finger,
                qualities: f.templates.iter().map(|t| t.quality).collect(),
                enrolled_at_unix_s: now,
                sealed_templates: sealed,
                template_version,
            });
        }
        record.fingers.sort_by_key(|f| f.finger);
        self.inner
            .store
            .replace_enrollment(&user.user_id, old_version, &record)
            .map_err(store_status)?;
        tracing::info!(
            user = %user.user_id,
            fingers = record.fingers.len(),
            record_version,
            replaced = replace,
            "fingers enrolled"
        );
        Ok(EnrollResponse {
            fingers: enrolled_fingers(&record),
            record_version,
        })
    }

    fn verify_blocking(&self, request: VerifyRequest, terminal: &str) -> Result<VerifyResponse, Status> {
        let purpose = match Purpose::try_from(request.purpose) {
            Ok(Purpose::Unspecified) | Err(_) => return Err(Status::invalid_argument("a purpose of use is needed")),
            Ok(p) => p,
        };
        let image = request
            .image
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("an image is needed"))?;
        check_envelope(&image.data, image.dpi).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let user = self.user(&request.user_id)?;
        let record = self
            .inner
            .store
            .enrollment(&user.user_id)
            .map_err(store_status)?
            .filter(|r| !r.fingers.is_empty())
            .ok_or_else(|| Status::failed_precondition(format!("{} has no enrolled finger", user.user_id)))?;
        let template = template_of(&image.data, image.dpi).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let probe = Probe::new(&template);
        let best = self
            .open_templates(&user, &record)?
            .iter()
            .map(|(_, stored)| probe.score(stored))
            .fold(0.0f32, f32::max);
        let matched = best >= self.inner.config.match_threshold;
        tracing::info!(user = %user.user_id, terminal, purpose = purpose.cli_name(), matched, "verify");
        if !matched {
            return Ok(VerifyResponse {
                decision: Decision::NoMatch as i32,
                assertion: None,
            });
        }
        let issued = now_unix_s();
        let mut nonce = vec![0u8; 16];
        SystemRandom::new().fill(&mut nonce).map_err(internal)?;
        let assertion = Assertion {
            user_id: user.user_id.clone(),
            purpose: purpose as i32,
            terminal: terminal.to_owned(),
            issued_at_unix_s: issued,
            expires_at_unix_s: issued + i64::from(self.inner.config.assertion_lifetime_s),
            nonce,
        };
        let bytes = prost::Message::encode_to_vec(&assertion);
        let signer = &self.inner.signer;
        Ok(VerifyResponse {
            decision: Decision::Match as i32,
            assertion: Some(SignedAssertion {
                signature: signer.sign(&bytes),
                assertion: bytes,
                key_id: signer.key_id().to_owned(),
            }),
        })
    }
}

/// How many templates of `new` score at least `threshold` against one of `stored`.
fn impressions_matching(new: &[Template], stored: &[Template], threshold: f32) -> usize {
    new.iter()
        .filter(|t| {
            let probe = Probe::new(t);
            stored.iter().any(|s| probe.score(s) >= threshold)
        })
        .count()
}

fn enrolled_fingers(record: &EnrollmentRecord) -> Vec<EnrolledFinger> {
    record
        .fingers
        .iter()
        .map(|f| EnrolledFinger {
            finger: i32::from(f.finger),
            templates: f.sealed_templates.len() as u32,
            qualities: f.qualities.iter().map(|&q| u32::from(q)).collect(),
            enrolled_at_unix_s: f.enrolled_at_unix_s,
        })
        .collect()
}

/// Runs engine work off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, Status> + Send + 'static) -> Result<T, Status> {
    tokio::task::spawn_blocking(work).await.map_err(internal)?
}

#[tonic::async_trait]
impl Enrollment for Shimon {
    async fn register_user(
        &self,
        request: Request<RegisterUserRequest>,
    ) -> Result<Response<RegisterUserResponse>, Status> {
        let station = self.client(&request, Some(ClientKind::Station))?;
        let r = request.into_inner();
        check_user_id(&r.user_id)?;
        check_text("name", &r.name)?;
        check_text("department", &r.department)?;
        let key = DataKey::generate().map_err(internal)?;
        let record = UserRecord {
            wrapped_data_key: crypto::wrap_data_key(&self.inner.master, &r.user_id, &key).map_err(internal)?,
            user_id: r.user_id,
            name: r.name,
            department: r.department,
            registered_at_unix_s: now_unix_s(),
        };
        let this = self.clone();
        let stored = record.clone();
        blocking(move || {
            this.inner.store.register_user(&stored).map_err(|e| match e {
                StoreError::AlreadyExists => {
                    Status::already_exists(format!("a user {} is registered already", stored.user_id))
                }
                e => store_status(e),
            })
        })
        .await?;
        tracing::info!(user = %record.user_id, station = %station.name, "user registered");
        Ok(Response::new(RegisterUserResponse {
            user: Some(User {
                user_id: record.user_id,
                name: record.name,
                department: record.department,
            }),
        }))
    }

    async fn enroll(&self, request: Request<EnrollRequest>) -> Result<Response<EnrollResponse>, Status> {
        self.client(&request, Some(ClientKind::Station))?;
        let this = self.clone();
        let r = request.into_inner();
        Ok(Response::new(blocking(move || this.enroll_blocking(r, false)).await?))
    }

    async fn reenroll(&self, request: Request<EnrollRequest>) -> Result<Response<EnrollResponse>, Status> {
        self.client(&request, Some(ClientKind::Station))?;
        let this = self.clone();
        let r = request.into_inner();
        Ok(Response::new(blocking(move || this.enroll_blocking(r, true)).await?))
    }

    async fn list_fingers(
        &self,
        request: Request<ListFingersRequest>,
    ) -> Result<Response<ListFingersResponse>, Status> {
        self.client(&request, Some(ClientKind::Station))?;
        let user = self.user(&request.get_ref().user_id)?;
        let record = self.inner.store.enrollment(&user.user_id).map_err(store_status)?;
        Ok(Response::new(ListFingersResponse {
            fingers: record.as_ref().map(enrolled_fingers).unwrap_or_default(),
            record_version: record.map_or(0, |r| r.record_version),
        }))
    }
}

#[tonic::async_trait]
impl Authentication for Shimon {
    async fn verify(&self, request: Request<VerifyRequest>) -> Result<Response<VerifyResponse>, Status> {
        let terminal = self.client(&request, Some(ClientKind::Terminal))?;
        let this = self.clone();
        let r = request.into_inner();
        Ok(Response::new(
            blocking(move || this.verify_blocking(r, &terminal.name)).await?,
        ))
    }

    async fn get_public_key(
        &self,
        request: Request<GetPublicKeyRequest>,
    ) -> Result<Response<GetPublicKeyResponse>, Status> {
        self.client(&request, None)?;
        Ok(Response::new(GetPublicKeyResponse {
            public_key: self.inner.signer.public_key().to_vec(),
            key_id: self.inner.signer.key_id().to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_and_names_are_checked() {
        assert!(check_user_id("alice.smith@example-1").is_ok());
        for bad in ["", "a b", "robert'); drop", &"x".repeat(65), "ünï"] {
            assert_eq!(
                check_user_id(bad).unwrap_err().code(),
                tonic::Code::InvalidArgument,
                "{bad}"
            );
        }
        assert!(check_text("name", "Yamada Tarō").is_ok());
        assert!(check_text("name", "  ").is_err());
        assert!(check_text("name", "a\nb").is_err());
    }
}
