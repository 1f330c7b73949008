//! The state every service shares ([`Shimon`]) and the two services of the login path:
//! `Enrollment` (officers at stations) and `Authentication` (terminals). Each call identifies its
//! client by its registered certificate and, for administrative calls, the signed-in person by
//! their session; asks `policy` whether that person may act; checks its input; does the engine
//! work on a blocking thread; and stores the result together with its audit entry in one durable
//! transaction. The administrative calls are in `admin`.

use crate::attempts::{self, Admission, AuthState, FailureOutcome};
use crate::audit::AuditEvent;
use crate::config::Config;
use crate::crypto::{self, DataKey, MasterKey, SigningKey, TemplateBinding};
use crate::images::{check_envelope, template_of};
use crate::policy::{allowed, Operation};
use crate::sessions::{Session, SessionError, Sessions, SESSION_METADATA};
use crate::store::{
    abort, ClientKind, ClientRecord, EnrollmentRecord, FingerRecord, IncidentRecord, IncidentState, Store, StoreError,
    Tx, TxResult, UserRecord,
};
use ring::rand::{SecureRandom, SystemRandom};
use shimon_matcher::{Probe, Template};
use shimon_proto::v1::{
    authentication_server::Authentication, enrollment_server::Enrollment, Assertion, Decision, EnrollRequest,
    EnrollResponse, EnrolledFinger, Finger, GetPublicKeyRequest, GetPublicKeyResponse, Image, IncidentKind,
    ListFingersRequest, ListFingersResponse, Purpose, RegisterUserRequest, RegisterUserResponse, SignedAssertion, User,
    VerifyRequest, VerifyResponse,
};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
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
/// Longest reason, note or incident description, characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// Where the time comes from: the system clock, or a clock a test moves.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now_unix_s(&self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_s(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }
}

/// Every service, sharing the store, the keys and the sessions.
#[derive(Clone)]
pub struct Shimon {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Held from the duplicate search to the store write of an enrollment: two stations enrolling
    /// the same finger to two people at once must not both pass the search.
    pub(crate) enrolling: Mutex<()>,
    pub(crate) store: Store,
    /// The master key in force; an erasure replaces it (see `keys`), holding it exclusively.
    pub(crate) master: RwLock<MasterKey>,
    pub(crate) master_path: PathBuf,
    pub(crate) signer: SigningKey,
    pub(crate) config: Config,
    pub(crate) sessions: Sessions,
    pub(crate) clock: Box<dyn Clock>,
    /// Certificates already raised as incidents since the start, so a client retrying does not
    /// flood the incident list.
    pub(crate) refused_certificates: Mutex<HashSet<[u8; 32]>>,
}

/// Who is calling: the registered client and, for a station call with a session, the signed-in
/// person as the store holds them now.
pub(crate) struct Caller {
    pub(crate) client: ClientRecord,
    pub(crate) person: Option<UserRecord>,
}

impl Caller {
    /// The signed-in person's id ("" for none).
    pub(crate) fn actor(&self) -> &str {
        self.person.as_ref().map_or("", |p| p.user_id.as_str())
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "internal error");
    Status::internal("internal error in the server; it has been logged")
}

pub(crate) fn check_user_id(user_id: &str) -> Result<(), Status> {
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

/// A name or department: one line.
pub(crate) fn check_text(field: &str, value: &str) -> Result<(), Status> {
    check_text_up_to(field, value, MAX_NAME_CHARS, false)
}

/// A reason, note or description: may run over several lines.
pub(crate) fn check_note(field: &str, value: &str) -> Result<(), Status> {
    check_text_up_to(field, value, MAX_NOTE_CHARS, true)
}

fn check_text_up_to(field: &str, value: &str, max: usize, lines: bool) -> Result<(), Status> {
    let bad_char = |c: char| c.is_control() && !(lines && c == '\n');
    if value.trim().is_empty() || value.chars().count() > max || value.chars().any(bad_char) {
        return Err(Status::invalid_argument(format!(
            "{field} must be 1 to {max} printable characters"
        )));
    }
    Ok(())
}

fn finger_name(finger: u8) -> &'static str {
    Finger::try_from(i32::from(finger)).map_or("unknown finger", Finger::cli_name)
}

pub(crate) fn purpose_name(purpose: u8) -> &'static str {
    Purpose::try_from(i32::from(purpose)).map_or("unknown purpose", Purpose::cli_name)
}

/// A finger of an enrollment request, checked and turned into templates.
struct NewFinger {
    finger: u8,
    templates: Vec<Template>,
    /// Each impression's best score against the others of the same finger.
    agreement: Vec<f32>,
}

impl Shimon {
    /// The services over an open store, with the master key from `master_path` (see
    /// `keys::load_master`) and the system clock.
    pub fn new(store: Store, master: MasterKey, master_path: PathBuf, config: Config) -> Result<Self, anyhow::Error> {
        Self::with_clock(store, master, master_path, config, Box::new(SystemClock))
    }

    /// As [`Shimon::new`], with another clock.
    pub fn with_clock(
        store: Store,
        master: MasterKey,
        master_path: PathBuf,
        config: Config,
        clock: Box<dyn Clock>,
    ) -> Result<Self, anyhow::Error> {
        let wrapped = store
            .meta(crate::init::SIGNING_KEY_META)?
            .ok_or_else(|| anyhow::anyhow!("the store holds no signing key; was `shimon-server init` run?"))?;
        let signer = SigningKey::unwrap(&master, &wrapped)
            .map_err(|_| anyhow::anyhow!("the signing key does not open with this master key"))?;
        store.meta_set_once(crate::init::SIGNING_PUBLIC_KEY_META, signer.public_key())?;
        Ok(Self {
            inner: Arc::new(Inner {
                enrolling: Mutex::new(()),
                store,
                master: RwLock::new(master),
                master_path,
                signer,
                config,
                sessions: Sessions::default(),
                clock,
                refused_certificates: Mutex::new(HashSet::new()),
            }),
        })
    }

    pub fn now(&self) -> i64 {
        self.inner.clock.now_unix_s()
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The signing key (for checkpoints and assertions).
    pub fn with_signer<T>(&self, f: impl FnOnce(&SigningKey) -> T) -> T {
        f(&self.inner.signer)
    }

    /// A store error as a status; storage failures are also raised as an incident (best effort:
    /// the store may be what fails).
    pub(crate) fn store_status(&self, e: StoreError) -> Status {
        match e {
            StoreError::AlreadyExists => Status::already_exists("already exists"),
            StoreError::NoSuchUser => Status::not_found("no such user"),
            StoreError::VersionConflict { .. } => {
                Status::aborted("the user's enrollment changed during this call; try again")
            }
            StoreError::Refused(message) => Status::failed_precondition(message),
            e => {
                let description = format!("the store failed: {e}");
                let raised = self.transact(|tx| {
                    raise_incident(tx, IncidentKind::StorageError, &description, "server", "server", "")?;
                    Ok(())
                });
                if raised.is_err() {
                    tracing::error!("the storage error could not be raised as an incident");
                }
                internal(e)
            }
        }
    }

    /// Runs a store transaction at the clock's time.
    pub fn transact<T>(&self, change: impl Fn(&Tx) -> TxResult<T>) -> Result<T, StoreError> {
        self.inner.store.transact(self.now(), change)
    }

    /// As [`Shimon::transact`], with a store error as a status.
    pub(crate) fn commit<T>(&self, change: impl Fn(&Tx) -> TxResult<T>) -> Result<T, Status> {
        self.transact(change).map_err(|e| self.store_status(e))
    }

    /// The registered client behind the request's certificate, which must be of `kind`.
    pub(crate) fn client<T>(
        &self,
        request: &Request<T>,
        kind: Option<ClientKind>,
    ) -> Result<(ClientRecord, [u8; 32]), Status> {
        let certs = request
            .peer_certs()
            .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
        let leaf = certs
            .first()
            .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
        let fingerprint = crypto::sha256(leaf.as_ref());
        let Some(client) = self
            .inner
            .store
            .client(&fingerprint)
            .map_err(|e| self.store_status(e))?
        else {
            self.refused_certificate(&fingerprint);
            return Err(Status::permission_denied(
                "this client certificate is not registered with the server",
            ));
        };
        if kind.is_some_and(|k| k != client.kind) {
            tracing::warn!(client = %client.name, "refused a call not meant for this kind of client");
            return Err(Status::permission_denied(format!(
                "{} may not make this call",
                client.name
            )));
        }
        Ok((client, fingerprint))
    }

    /// Raises an incident for a certificate from the deployment's CA that is not registered
    /// (once per certificate and run).
    fn refused_certificate(&self, fingerprint: &[u8; 32]) {
        let certificate = hex::encode(fingerprint);
        tracing::warn!(%certificate, "refused an unregistered client certificate");
        let first = self
            .inner
            .refused_certificates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(*fingerprint);
        if first {
            let description = format!("a client certificate that is not registered connected (SHA-256 {certificate})");
            if let Err(e) = self.transact(|tx| {
                raise_incident(
                    tx,
                    IncidentKind::RefusedCertificate,
                    &description,
                    "server",
                    "server",
                    "",
                )?;
                Ok(())
            }) {
                tracing::error!(error = %e, "cannot raise an incident for a refused certificate");
            }
        }
    }

    /// The caller of a station call that needs a signed-in person.
    pub(crate) fn signed_in<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let (client, certificate) = self.client(request, Some(ClientKind::Station))?;
        let person = self.session_person(request, &certificate)?;
        Ok(Caller {
            client,
            person: Some(person),
        })
    }

    /// The person of the request's session, if it carries a valid one.
    pub(crate) fn session_person<T>(&self, request: &Request<T>, certificate: &[u8; 32]) -> Result<UserRecord, Status> {
        let token = request.metadata().get(SESSION_METADATA).and_then(|v| v.to_str().ok());
        let session = self
            .inner
            .sessions
            .check(token, certificate, self.now())
            .map_err(|e| Status::unauthenticated(e.to_string()))?;
        self.inner
            .store
            .user(&session.user_id)
            .map_err(|e| self.store_status(e))?
            .ok_or_else(|| Status::unauthenticated(SessionError::Unknown.to_string()))
    }

    /// Refuses (and audits the refusal) unless the caller may perform `operation`.
    pub(crate) fn require(
        &self,
        caller: &Caller,
        operation: Operation,
        action: &str,
        subject: &str,
    ) -> Result<(), Status> {
        let roles = caller.person.as_ref().map(|p| p.roles.as_slice()).unwrap_or_default();
        if allowed(roles, operation) {
            return Ok(());
        }
        let department = match operation {
            Operation::RegisterUser { department }
            | Operation::Enroll { department }
            | Operation::ListFingers { department }
            | Operation::SeeUser { department, .. }
            | Operation::LiftLockout { department }
            | Operation::SeeReregistration { department } => department,
            Operation::ReadAudit { department } => department.unwrap_or_default(),
            _ => "",
        };
        tracing::warn!(actor = caller.actor(), client = %caller.client.name, action, "refused: not allowed");
        let event = AuditEvent::new(action, caller.actor(), &caller.client.name)
            .subject(subject, department)
            .outcome("refused: not allowed for the caller's roles");
        self.commit(|tx| tx.audit(event.clone()))?;
        Err(Status::permission_denied(format!(
            "{} may not do this ({action})",
            caller.actor()
        )))
    }

    pub(crate) fn data_key(&self, master: &MasterKey, user: &UserRecord) -> Result<DataKey, Status> {
        crypto::unwrap_data_key(master, &user.user_id, &user.wrapped_data_key).map_err(internal)
    }

    pub(crate) fn master(&self) -> std::sync::RwLockReadGuard<'_, MasterKey> {
        self.inner.master.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens every template of an enrollment.
    pub(crate) fn open_templates(
        &self,
        user: &UserRecord,
        record: &EnrollmentRecord,
    ) -> Result<Vec<(u8, Template)>, Status> {
        let key = self.data_key(&self.master(), user)?;
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

    pub(crate) fn user(&self, user_id: &str) -> Result<UserRecord, Status> {
        check_user_id(user_id)?;
        self.inner
            .store
            .user(user_id)
            .map_err(|e| self.store_status(e))?
            .ok_or_else(|| Status::not_found(format!("no user {user_id}")))
    }

    /// Compares a live finger with `user`'s enrolled fingers under the attempt limits, records the
    /// attempt and audits it as `action` (with `detail`); true on a match. Refusals before
    /// comparing (disabled, too early) are audited too and come back as errors.
    pub(crate) fn attempt(
        &self,
        user: &UserRecord,
        image: Option<&Image>,
        client: &ClientRecord,
        action: &str,
        detail: &str,
    ) -> Result<bool, Status> {
        let image = image.ok_or_else(|| Status::invalid_argument("an image is needed"))?;
        check_envelope(&image.data, image.dpi).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let record = self
            .inner
            .store
            .enrollment(&user.user_id)
            .map_err(|e| self.store_status(e))?
            .filter(|r| !r.fingers.is_empty())
            .ok_or_else(|| Status::failed_precondition(format!("{} has no enrolled finger", user.user_id)))?;
        let state = self
            .inner
            .store
            .auth_state(&user.user_id)
            .map_err(|e| self.store_status(e))?;
        self.admit(&state, user, client, action, detail)?;
        let template = template_of(&image.data, image.dpi).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let probe = Probe::new(&template);
        let score = self
            .open_templates(user, &record)?
            .iter()
            .map(|(_, stored)| probe.score(stored))
            .fold(0.0f32, f32::max);
        let matched = score >= self.inner.config.match_threshold;
        let quality = template.quality;
        let base = AuditEvent::new(action, "", &client.name)
            .subject(&user.user_id, &user.department)
            .detail(detail);
        let now = self.now();
        let refused_meanwhile = self.commit(|tx| {
            let mut state = tx.auth_state(&user.user_id)?;
            // Another terminal may have recorded a failure since the check above.
            if state.admission(now) != Admission::Allowed {
                tx.audit(base.clone().outcome("refused: another attempt came first"))?;
                return Ok(true);
            }
            if matched {
                state.record_success(score, quality);
                tx.put_auth_state(&user.user_id, &state)?;
                tx.audit(
                    base.clone()
                        .outcome("match")
                        .detail(format!("{detail} score {score:.1}")),
                )?;
            } else {
                let outcome = state.record_failure(now, quality);
                tx.put_auth_state(&user.user_id, &state)?;
                tx.audit(base.clone().outcome("no match").detail(format!(
                    "{detail} score {score:.1}, {} failures in a row",
                    state.consecutive_failures
                )))?;
                lockout_effects(tx, outcome, user, &state, &client.name)?;
            }
            Ok(false)
        })?;
        if refused_meanwhile {
            return Err(Status::resource_exhausted(
                "another attempt for this user failed a moment ago; wait and try again",
            ));
        }
        tracing::info!(user = %user.user_id, client = %client.name, action, matched, "attempt");
        Ok(matched)
    }

    /// Refuses an attempt that the attempt limits hold back (audited).
    fn admit(
        &self,
        state: &AuthState,
        user: &UserRecord,
        client: &ClientRecord,
        action: &str,
        detail: &str,
    ) -> Result<(), Status> {
        let refusal = match state.admission(self.now()) {
            Admission::Allowed => return Ok(()),
            Admission::Disabled => Status::permission_denied(format!(
                "biometric login of {} is disabled after {} failed attempts; a registration officer of their department must re-enroll them or lift it",
                user.user_id, state.consecutive_failures
            )),
            Admission::Wait { seconds } => Status::resource_exhausted(format!(
                "too many failed attempts for {}: wait {seconds} s before the next one",
                user.user_id
            )),
        };
        let event = AuditEvent::new(action, "", &client.name)
            .subject(&user.user_id, &user.department)
            .outcome(format!("refused: {}", refusal.message()))
            .detail(detail);
        self.commit(|tx| tx.audit(event.clone()))?;
        Err(refusal)
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
            let mut agreement = Vec::new();
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
                agreement.push(best);
            }
            fingers.push(NewFinger {
                finger: f.finger as u8,
                templates,
                agreement,
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
        let probes: Vec<Vec<Probe>> = fingers
            .iter()
            .map(|f| f.templates.iter().map(Probe::new).collect())
            .collect();
        for entry in self.inner.store.enrollments() {
            let (other_id, record) = entry.map_err(|e| self.store_status(e))?;
            if other_id == user_id {
                continue;
            }
            let Some(other) = self.inner.store.user(&other_id).map_err(|e| self.store_status(e))? else {
                continue;
            };
            let stored = self.open_templates(&other, &record)?;
            for stored_finger in record.fingers.iter().map(|f| f.finger) {
                let theirs: Vec<&Template> = stored
                    .iter()
                    .filter(|(f, _)| *f == stored_finger)
                    .map(|(_, t)| t)
                    .collect();
                for (new, probes) in fingers.iter().zip(&probes) {
                    let matching = probes
                        .iter()
                        .filter(|p| theirs.iter().any(|s| p.score(s) >= threshold))
                        .count();
                    if matching >= DUPLICATE_MIN_IMPRESSIONS {
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

    /// Enrolls (`replace` false) or re-enrolls a user's fingers, as `caller`.
    fn enroll_blocking(
        &self,
        caller: &Caller,
        request: EnrollRequest,
        replace: bool,
    ) -> Result<EnrollResponse, Status> {
        let action = if replace {
            "enrollment.reenroll"
        } else {
            "enrollment.enroll"
        };
        let user = self.user(&request.user_id)?;
        self.require(
            caller,
            Operation::Enroll {
                department: &user.department,
            },
            action,
            &user.user_id,
        )?;
        self.enroll_as(caller.actor(), &caller.client.name, &user, &request, replace, false)
    }

    /// Enrolls `user`'s fingers for `actor` at `client`, after the permission check. With
    /// `new_user`, the user record itself is stored in the same transaction (it must not exist
    /// yet): the first administrators are created this way (`bootstrap`).
    pub(crate) fn enroll_as(
        &self,
        actor: &str,
        client: &str,
        user: &UserRecord,
        request: &EnrollRequest,
        replace: bool,
        new_user: bool,
    ) -> Result<EnrollResponse, Status> {
        let action = if replace {
            "enrollment.reenroll"
        } else {
            "enrollment.enroll"
        };
        let old = self
            .inner
            .store
            .enrollment(&user.user_id)
            .map_err(|e| self.store_status(e))?;
        // The store write below fails if the record changed meanwhile.
        let old_version = old.as_ref().map_or(0, |r| r.record_version);
        if !replace && old.as_ref().is_some_and(|r| !r.fingers.is_empty()) {
            return Err(Status::failed_precondition(format!(
                "{} has fingers enrolled already; re-enroll to replace them",
                user.user_id
            )));
        }
        // Checking the images needs no lock; the search and the write do.
        let fingers = self.new_fingers(request)?;
        let _enrolling = self.inner.enrolling.lock().unwrap_or_else(|p| p.into_inner());
        self.check_not_enrolled_elsewhere(&user.user_id, &fingers)?;
        let master = self.master();
        let key = self.data_key(&master, user)?;
        let record_version = old_version + 1;
        let now = self.now();
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
        let agreement: Vec<f32> = fingers.iter().flat_map(|f| f.agreement.iter().copied()).collect();
        let fresh_state = AuthState::reset_for_enrollment(attempts::median_score(&agreement));
        let event = AuditEvent::new(action, actor, client)
            .subject(&user.user_id, &user.department)
            .detail(format!(
                "fingers {}; record version {record_version}",
                record
                    .fingers
                    .iter()
                    .map(|f| finger_name(f.finger))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        let registered = AuditEvent::new("user.register", actor, client)
            .subject(&user.user_id, &user.department)
            .detail(format!("name {}; roles {:?}", user.name, user.roles));
        self.commit(|tx| {
            if new_user {
                if tx.user(&user.user_id)?.is_some() {
                    return abort(StoreError::AlreadyExists);
                }
                tx.put_user(user)?;
                tx.audit(registered.clone())?;
            } else {
                tx.existing_user(&user.user_id)?;
            }
            let found = tx.enrollment(&user.user_id)?.map_or(0, |r| r.record_version);
            if found != old_version {
                return abort(StoreError::VersionConflict {
                    expected: old_version,
                    found,
                });
            }
            tx.put_enrollment(&user.user_id, &record)?;
            // A new enrollment clears failed attempts, a disabled login and the re-registration
            // signals (第5.2(2)).
            tx.put_auth_state(&user.user_id, &fresh_state)?;
            tx.audit(event.clone())?;
            Ok(())
        })?;
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

    /// A new user record with a fresh data key wrapped by `master`, the key in force (hold its
    /// lock until the record is stored).
    pub(crate) fn new_user_record(
        &self,
        master: &MasterKey,
        user_id: &str,
        name: &str,
        department: &str,
        roles: Vec<crate::policy::RoleGrant>,
    ) -> Result<UserRecord, Status> {
        let key = DataKey::generate().map_err(internal)?;
        Ok(UserRecord {
            wrapped_data_key: crypto::wrap_data_key(master, user_id, &key).map_err(internal)?,
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            department: department.to_owned(),
            registered_at_unix_s: self.now(),
            roles,
            rights: Vec::new(),
            restriction: None,
        })
    }

    fn register_blocking(&self, caller: &Caller, r: RegisterUserRequest) -> Result<RegisterUserResponse, Status> {
        check_user_id(&r.user_id)?;
        check_text("name", &r.name)?;
        check_text("department", &r.department)?;
        self.require(
            caller,
            Operation::RegisterUser {
                department: &r.department,
            },
            "user.register",
            &r.user_id,
        )?;
        // Held until the record is stored: the master key must not change in between.
        let master = self.master();
        let record = self.new_user_record(&master, &r.user_id, &r.name, &r.department, Vec::new())?;
        let event = AuditEvent::new("user.register", caller.actor(), &caller.client.name)
            .subject(&r.user_id, &r.department)
            .detail(format!("name {}", r.name));
        self.transact(|tx| {
            if tx.user(&record.user_id)?.is_some() {
                return abort(StoreError::AlreadyExists);
            }
            tx.put_user(&record)?;
            tx.audit(event.clone())?;
            Ok(())
        })
        .map_err(|e| match e {
            StoreError::AlreadyExists => Status::already_exists(format!("a user {} is registered already", r.user_id)),
            e => self.store_status(e),
        })?;
        tracing::info!(user = %record.user_id, station = %caller.client.name, "user registered");
        Ok(RegisterUserResponse {
            user: Some(User {
                user_id: record.user_id,
                name: record.name,
                department: record.department,
            }),
        })
    }

    fn verify_blocking(&self, request: VerifyRequest, terminal: &ClientRecord) -> Result<VerifyResponse, Status> {
        let purpose = match Purpose::try_from(request.purpose) {
            Ok(Purpose::Unspecified) | Err(_) => return Err(Status::invalid_argument("a purpose of use is needed")),
            Ok(p) => p,
        };
        // Malformed input is named as such before anything about the user is said.
        let image = request
            .image
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("an image is needed"))?;
        check_envelope(&image.data, image.dpi).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let user = self.user(&request.user_id)?;
        let detail = format!("purpose {}", purpose.cli_name());
        let refuse = |reason: String| -> Result<VerifyResponse, Status> {
            let event = AuditEvent::new("verify", "", &terminal.name)
                .subject(&user.user_id, &user.department)
                .outcome(format!("refused: {reason}"))
                .detail(detail.clone());
            self.commit(|tx| tx.audit(event.clone()))?;
            Err(Status::permission_denied(reason))
        };
        if let Some(restriction) = &user.restriction {
            return refuse(format!(
                "{} is restricted by the general manager: {}",
                user.user_id, restriction.reason
            ));
        }
        if !user.rights.contains(&(purpose as u8)) {
            return refuse(format!(
                "{} holds no right to the purpose {}",
                user.user_id,
                purpose.cli_name()
            ));
        }
        let matched = self.attempt(&user, request.image.as_ref(), terminal, "verify", &detail)?;
        if !matched {
            return Ok(VerifyResponse {
                decision: Decision::NoMatch as i32,
                assertion: None,
            });
        }
        let issued = self.now();
        let mut nonce = vec![0u8; 16];
        SystemRandom::new().fill(&mut nonce).map_err(internal)?;
        let assertion = Assertion {
            user_id: user.user_id.clone(),
            purpose: purpose as i32,
            terminal: terminal.name.clone(),
            issued_at_unix_s: issued,
            expires_at_unix_s: issued + i64::from(self.inner.config.assertion_lifetime_s),
            nonce,
        };
        let bytes = prost::Message::encode_to_vec(&assertion);
        let signed = self.with_signer(|signer| SignedAssertion {
            signature: signer.sign(&bytes),
            assertion: bytes.clone(),
            key_id: signer.key_id().to_owned(),
        });
        Ok(VerifyResponse {
            decision: Decision::Match as i32,
            assertion: Some(signed),
        })
    }

    /// Opens a session for `user` at the station with `certificate`.
    pub(crate) fn open_session(&self, user: &UserRecord, certificate: [u8; 32]) -> Result<(String, i64), Status> {
        let now = self.now();
        let expires = now + i64::from(self.inner.config.session_lifetime_s);
        let token = self
            .inner
            .sessions
            .open(
                Session {
                    user_id: user.user_id.clone(),
                    station_certificate: certificate,
                    expires_at_unix_s: expires,
                },
                now,
            )
            .map_err(internal)?;
        Ok((token, expires))
    }
}

/// Raises an incident inside a transaction, audited.
pub(crate) fn raise_incident(
    tx: &Tx,
    kind: IncidentKind,
    description: &str,
    raised_by: &str,
    client: &str,
    user_id: &str,
) -> TxResult<IncidentRecord> {
    let incident = tx.new_incident(IncidentRecord {
        id: 0,
        kind: kind as u8,
        state: IncidentState::Open,
        description: description.to_owned(),
        raised_by: raised_by.to_owned(),
        raised_at_unix_s: tx.now_unix_s(),
        user_id: user_id.to_owned(),
        notes: Vec::new(),
    })?;
    tx.audit(
        AuditEvent::new("incident.raise", raised_by, client)
            .subject(user_id, "")
            .detail(format!(
                "incident {}: {}: {description}",
                incident.id,
                kind.as_str_name()
            )),
    )?;
    Ok(incident)
}

/// A failure that started the delays or disabled the login is a lockout: audited and raised as
/// an incident to the system administrator.
fn lockout_effects(
    tx: &Tx,
    outcome: FailureOutcome,
    user: &UserRecord,
    state: &AuthState,
    client: &str,
) -> TxResult<()> {
    let what = match outcome {
        FailureOutcome::Counted => return Ok(()),
        FailureOutcome::DelayStarted => format!(
            "{} failed {} times in a row; further attempts are delayed",
            user.user_id, state.consecutive_failures
        ),
        FailureOutcome::Disabled => format!(
            "{} failed {} times in a row; biometric login is disabled",
            user.user_id, state.consecutive_failures
        ),
    };
    tx.audit(
        AuditEvent::new("user.lockout", "", client)
            .subject(&user.user_id, &user.department)
            .detail(what.clone()),
    )?;
    raise_incident(tx, IncidentKind::Lockout, &what, "server", client, &user.user_id)?;
    Ok(())
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

pub(crate) fn enrolled_fingers(record: &EnrollmentRecord) -> Vec<EnrolledFinger> {
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

/// Runs engine and store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(work).await.map_err(internal)?
}

#[tonic::async_trait]
impl Enrollment for Shimon {
    async fn register_user(
        &self,
        request: Request<RegisterUserRequest>,
    ) -> Result<Response<RegisterUserResponse>, Status> {
        let caller = self.signed_in(&request)?;
        let this = self.clone();
        let r = request.into_inner();
        Ok(Response::new(
            blocking(move || this.register_blocking(&caller, r)).await?,
        ))
    }

    async fn enroll(&self, request: Request<EnrollRequest>) -> Result<Response<EnrollResponse>, Status> {
        let caller = self.signed_in(&request)?;
        let this = self.clone();
        let r = request.into_inner();
        Ok(Response::new(
            blocking(move || this.enroll_blocking(&caller, r, false)).await?,
        ))
    }

    async fn reenroll(&self, request: Request<EnrollRequest>) -> Result<Response<EnrollResponse>, Status> {
        let caller = self.signed_in(&request)?;
        let this = self.clone();
        let r = request.into_inner();
        Ok(Response::new(
            blocking(move || this.enroll_blocking(&caller, r, true)).await?,
        ))
    }

    async fn list_fingers(
        &self,
        request: Request<ListFingersRequest>,
    ) -> Result<Response<ListFingersResponse>, Status> {
        let caller = self.signed_in(&request)?;
        let user = self.user(&request.get_ref().user_id)?;
        self.require(
            &caller,
            Operation::ListFingers {
                department: &user.department,
            },
            "enrollment.list",
            &user.user_id,
        )?;
        let record = self
            .inner
            .store
            .enrollment(&user.user_id)
            .map_err(|e| self.store_status(e))?;
        Ok(Response::new(ListFingersResponse {
            fingers: record.as_ref().map(enrolled_fingers).unwrap_or_default(),
            record_version: record.map_or(0, |r| r.record_version),
        }))
    }
}

#[tonic::async_trait]
impl Authentication for Shimon {
    async fn verify(&self, request: Request<VerifyRequest>) -> Result<Response<VerifyResponse>, Status> {
        let (terminal, _) = self.client(&request, Some(ClientKind::Terminal))?;
        let this = self.clone();
        let r = request.into_inner();
        Ok(Response::new(
            blocking(move || this.verify_blocking(r, &terminal)).await?,
        ))
    }

    async fn get_public_key(
        &self,
        request: Request<GetPublicKeyRequest>,
    ) -> Result<Response<GetPublicKeyResponse>, Status> {
        self.client(&request, None)?;
        Ok(Response::new(self.with_signer(|signer| GetPublicKeyResponse {
            public_key: signer.public_key().to_vec(),
            key_id: signer.key_id().to_owned(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Role, RoleGrant};
    use shimon_hal::{CancelHandle, Reader};
    use shimon_proto::v1::FingerImpressions;
    use std::sync::atomic::{AtomicI64, Ordering};

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
        assert!(check_note("reason", "left the organisation\non 1 April").is_ok());
        assert!(check_note("reason", "a\u{7}b").is_err());
    }

    /// A clock the test moves.
    struct TestClock(Arc<AtomicI64>);

    impl Clock for TestClock {
        fn now_unix_s(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// The services over the store in `dir` (made on first use), with a clock the test moves.
    fn services(dir: &std::path::Path, clock: &Arc<AtomicI64>) -> Shimon {
        let master_path = dir.join("master.key");
        let store = Store::open(&dir.join("store")).unwrap();
        if !master_path.exists() {
            let master = MasterKey::create_file(&master_path).unwrap();
            let (_, wrapped) = SigningKey::generate(&master).unwrap();
            store.meta_set_once(crate::init::SIGNING_KEY_META, &wrapped).unwrap();
        }
        let master = crate::keys::load_master(&master_path, &store).unwrap();
        let config = Config::new(
            "127.0.0.1:0".parse().unwrap(),
            dir.join("store"),
            master_path.clone(),
            crate::config::TlsFiles {
                ca: "ca.pem".into(),
                cert: "server.pem".into(),
                key: "server.key".into(),
            },
        );
        Shimon::with_clock(store, master, master_path, config, Box::new(TestClock(clock.clone()))).unwrap()
    }

    fn image(person: u64, finger: Finger, impression: u32) -> Image {
        let mut reader = shimon_hal::SimulatedReader::new(shimon_hal::sim::finger_seed(person, finger as i32 as u32));
        reader.set_next_impression(impression);
        let captured = reader
            .capture(std::time::Duration::from_secs(5), &CancelHandle::new())
            .unwrap();
        Image {
            data: captured.to_png().unwrap(),
            dpi: captured.dpi,
        }
    }

    fn terminal() -> ClientRecord {
        ClientRecord {
            name: "terminal".into(),
            kind: ClientKind::Terminal,
            department: "accounts".into(),
            registered_at_unix_s: 0,
        }
    }

    #[test]
    fn fifty_failures_disable_login_until_an_officer_lifts_it_even_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(AtomicI64::new(1_000_000));
        let shimon = services(dir.path(), &clock);
        let fingers = [Finger::RightIndex, Finger::LeftIndex]
            .into_iter()
            .map(|finger| FingerImpressions {
                finger: finger as i32,
                impressions: (1..=3).map(|k| image(101, finger, k)).collect(),
            })
            .collect();
        let request = EnrollRequest {
            user_id: "alice".into(),
            fingers,
        };
        let alice = shimon
            .new_user_record(&shimon.master(), "alice", "Alice", "accounts", Vec::new())
            .unwrap();
        shimon
            .enroll_as("test", "station", &alice, &request, false, true)
            .unwrap();
        let genuine = (9..20)
            .map(|k| image(101, Finger::RightIndex, k))
            .find(|i| shimon.attempt(&alice, Some(i), &terminal(), "verify", "").unwrap())
            .expect("a genuine capture matches");
        let impostor = image(202, Finger::RightIndex, 9);

        let mut shimon = shimon;
        for failure in 1..=attempts::FAILURES_BEFORE_DISABLE {
            if failure == 25 {
                // A restart keeps the count, and the wait.
                drop(shimon);
                shimon = services(dir.path(), &clock);
                let state = shimon.store().auth_state("alice").unwrap();
                assert_eq!(state.consecutive_failures, 24);
                assert!(matches!(
                    state.admission(clock.load(Ordering::SeqCst)),
                    Admission::Wait { .. }
                ));
            }
            let state = shimon.store().auth_state("alice").unwrap();
            if failure > attempts::FAILURES_BEFORE_DELAY {
                // Too early: refused without comparing, genuine finger or not.
                let early = shimon.attempt(&alice, Some(&genuine), &terminal(), "verify", "");
                assert_eq!(early.unwrap_err().code(), tonic::Code::ResourceExhausted, "{failure}");
                clock.fetch_add(state.required_wait_s(), Ordering::SeqCst);
            }
            assert!(!shimon
                .attempt(&alice, Some(&impostor), &terminal(), "verify", "")
                .unwrap());
            clock.fetch_add(1, Ordering::SeqCst);
        }
        let refused = shimon
            .attempt(&alice, Some(&genuine), &terminal(), "verify", "")
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert!(refused.message().contains("disabled"), "{}", refused.message());
        clock.fetch_add(i64::MAX / 4, Ordering::SeqCst);
        let still = shimon
            .attempt(&alice, Some(&genuine), &terminal(), "verify", "")
            .unwrap_err();
        assert_eq!(
            still.code(),
            tonic::Code::PermissionDenied,
            "time alone does not lift it"
        );

        let lockouts: Vec<_> = shimon
            .store()
            .incidents()
            .unwrap()
            .into_iter()
            .filter(|i| i.kind == IncidentKind::Lockout as u8)
            .collect();
        assert_eq!(
            lockouts.len(),
            2,
            "one when the delays start, one when login is disabled"
        );

        // Someone else's officer may not lift it; an officer of alice's department may.
        let officer = |department: &str| Caller {
            client: ClientRecord {
                kind: ClientKind::Station,
                name: "station".into(),
                ..terminal()
            },
            person: Some(UserRecord {
                roles: vec![RoleGrant::of_department(Role::RegistrationOfficer, department)],
                ..alice.clone()
            }),
        };
        let denied = shimon.lift_lockout_as(&officer("sales"), "alice", "asked").unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        let details = shimon
            .lift_lockout_as(&officer("accounts"), "alice", "identity checked in person")
            .unwrap();
        assert!(!details.login_disabled);
        assert!(shimon
            .attempt(&alice, Some(&genuine), &terminal(), "verify", "")
            .unwrap());
        assert_eq!(shimon.store().auth_state("alice").unwrap().consecutive_failures, 0);
    }
}
