//! The guideline's administration (`Administration`) and reports of incidents (`Reporting`):
//! signing in with a finger, the user lifecycle (第4: erase, restrict, rights per purpose),
//! roles (第2), lifting lockouts, re-registration lists (第5.2(2)), incidents (第11.1(4), 第12) and
//! audit queries. Every call asks `policy` first and stores its change together with its audit
//! entry in one durable transaction.

use crate::audit::{AuditEntry as StoredEntry, AuditEvent};
use crate::keys;
use crate::policy::{Operation, Role, RoleGrant};
use crate::service::{blocking, check_note, check_text, internal, purpose_name, raise_incident, Caller, Shimon};
use crate::store::{
    abort, ClientKind, IncidentRecord, IncidentState, RequestState, Restriction, RightsRequestRecord, StoreError,
    UserRecord,
};
use shimon_proto::v1::{
    administration_server::Administration, reporting_server::Reporting, AuditEntry, Decision, EraseUserRequest,
    EraseUserResponse, GetUserRequest, Incident, IncidentActionRequest, IncidentKind, LiftLockoutRequest,
    LiftRestrictionRequest, ListIncidentsRequest, ListIncidentsResponse, ListReregistrationRequest,
    ListReregistrationResponse, ListRightRequestsRequest, ListRightRequestsResponse, ListUsersRequest,
    ListUsersResponse, Purpose, QueryAuditRequest, QueryAuditResponse, RefuseRightRequestRequest,
    ReportIncidentRequest, RequestRightRequest, RestrictUserRequest, RightRequest, RightsRequestInfo,
    RightsRequestState, RoleRequest, SignInRequest, SignInResponse, SignOutRequest, SignOutResponse, User, UserDetails,
};
use tonic::{Request, Response, Status};

/// Most audit entries one query returns.
pub const MAX_AUDIT_ENTRIES: usize = 1000;

fn role_to_proto(role: Role) -> shimon_proto::v1::Role {
    use shimon_proto::v1::Role as P;
    match role {
        Role::GeneralManager => P::GeneralManager,
        Role::SystemAdministrator => P::SystemAdministrator,
        Role::BusinessOwner => P::BusinessOwner,
        Role::OperationsManager => P::OperationsManager,
        Role::RegistrationOfficer => P::RegistrationOfficer,
    }
}

fn grant_to_proto(grant: &RoleGrant) -> shimon_proto::v1::RoleGrant {
    shimon_proto::v1::RoleGrant {
        role: role_to_proto(grant.role) as i32,
        department: grant.department.clone(),
        purpose: i32::from(grant.purpose),
    }
}

/// A role grant from the API, checked.
pub fn grant_from_proto(grant: Option<&shimon_proto::v1::RoleGrant>) -> Result<RoleGrant, Status> {
    use shimon_proto::v1::Role as P;
    let grant = grant.ok_or_else(|| Status::invalid_argument("a role is needed"))?;
    let role = match P::try_from(grant.role) {
        Ok(P::GeneralManager) => Role::GeneralManager,
        Ok(P::SystemAdministrator) => Role::SystemAdministrator,
        Ok(P::BusinessOwner) => Role::BusinessOwner,
        Ok(P::OperationsManager) => Role::OperationsManager,
        Ok(P::RegistrationOfficer) => Role::RegistrationOfficer,
        Ok(P::Unspecified) | Err(_) => return Err(Status::invalid_argument(format!("unknown role {}", grant.role))),
    };
    let purpose = match grant.purpose {
        0 => 0,
        p => purpose_from(p)?,
    };
    let out = RoleGrant {
        role,
        department: grant.department.clone(),
        purpose,
    };
    if !out.department.is_empty() {
        check_text("department", &out.department)?;
    }
    if !out.is_well_formed() {
        return Err(Status::invalid_argument(
            "an operations manager or registration officer needs a department, a business owner a purpose, and the other roles neither",
        ));
    }
    Ok(out)
}

fn purpose_from(value: i32) -> Result<u8, Status> {
    match Purpose::try_from(value) {
        Ok(Purpose::Unspecified) | Err(_) => Err(Status::invalid_argument("a purpose of use is needed")),
        Ok(p) => Ok(p as u8),
    }
}

fn incident_to_proto(i: &IncidentRecord) -> Incident {
    Incident {
        id: i.id,
        kind: i32::from(i.kind),
        state: match i.state {
            IncidentState::Open => shimon_proto::v1::IncidentState::Open,
            IncidentState::Acknowledged => shimon_proto::v1::IncidentState::Acknowledged,
            IncidentState::Closed => shimon_proto::v1::IncidentState::Closed,
        } as i32,
        description: i.description.clone(),
        raised_by: i.raised_by.clone(),
        raised_at_unix_s: i.raised_at_unix_s,
        user_id: i.user_id.clone(),
        notes: i.notes.clone(),
    }
}

fn request_to_proto(r: &RightsRequestRecord) -> RightsRequestInfo {
    RightsRequestInfo {
        id: r.id,
        user_id: r.user_id.clone(),
        purpose: i32::from(r.purpose),
        reason: r.reason.clone(),
        requested_by: r.requested_by.clone(),
        requested_at_unix_s: r.requested_at_unix_s,
        state: match r.state {
            RequestState::Pending => RightsRequestState::Pending,
            RequestState::Granted => RightsRequestState::Granted,
            RequestState::Refused => RightsRequestState::Refused,
        } as i32,
        decided_by: r.decided_by.clone(),
        note: r.note.clone(),
    }
}

fn entry_to_proto(e: &StoredEntry) -> AuditEntry {
    AuditEntry {
        seq: e.seq,
        at_unix_s: e.at_unix_s,
        action: e.action.clone(),
        actor: e.actor.clone(),
        client: e.client.clone(),
        subject: e.subject.clone(),
        department: e.department.clone(),
        outcome: e.outcome.clone(),
        detail: e.detail.clone(),
        previous_hash: hex::encode(e.previous_hash),
        hash: hex::encode(e.hash()),
    }
}

impl Shimon {
    /// Everything about a user but their templates.
    fn details(&self, user: &UserRecord) -> Result<UserDetails, Status> {
        let state = self
            .store()
            .auth_state(&user.user_id)
            .map_err(|e| self.store_status(e))?;
        let enrolled = self
            .store()
            .enrollment(&user.user_id)
            .map_err(|e| self.store_status(e))?
            .map_or(0, |r| r.fingers.len() as u32);
        Ok(UserDetails {
            user: Some(User {
                user_id: user.user_id.clone(),
                name: user.name.clone(),
                department: user.department.clone(),
            }),
            roles: user.roles.iter().map(grant_to_proto).collect(),
            rights: user.rights.iter().map(|&p| i32::from(p)).collect(),
            restricted: user.restriction.is_some(),
            restriction_reason: user.restriction.as_ref().map(|r| r.reason.clone()).unwrap_or_default(),
            consecutive_failures: state.consecutive_failures,
            login_disabled: state.disabled,
            reregistration_reason: state.reregistration_reason().unwrap_or_default(),
            enrolled_fingers: enrolled,
            registered_at_unix_s: user.registered_at_unix_s,
        })
    }

    /// Changes one user's record in a transaction with its audit entry, and returns the details.
    fn change_user(
        &self,
        caller: &Caller,
        user_id: &str,
        action: &str,
        detail: String,
        change: impl Fn(&mut UserRecord) -> Result<(), String>,
    ) -> Result<UserDetails, Status> {
        let user = self.commit(|tx| {
            let mut user = tx.existing_user(user_id)?;
            if let Err(reason) = change(&mut user) {
                return abort(StoreError::Refused(reason));
            }
            tx.put_user(&user)?;
            tx.audit(
                AuditEvent::new(action, caller.actor(), &caller.client.name)
                    .subject(&user.user_id, &user.department)
                    .detail(detail.clone()),
            )?;
            Ok(user)
        })?;
        self.details(&user)
    }

    fn erase_blocking(&self, caller: &Caller, r: EraseUserRequest) -> Result<EraseUserResponse, Status> {
        let user = self.user(&r.user_id)?;
        self.require(caller, Operation::EraseUser, "user.erase", &user.user_id)?;
        check_note("reason", &r.reason)?;
        if caller.actor() == user.user_id {
            return Err(Status::failed_precondition("nobody may erase themself"));
        }
        if user.roles.iter().any(|g| g.role == Role::GeneralManager) && self.general_managers()? <= 1 {
            return Err(Status::failed_precondition(
                "this is the only general manager; name another one first",
            ));
        }
        let pending: Vec<u64> = self
            .store()
            .rights_requests()
            .map_err(|e| self.store_status(e))?
            .into_iter()
            .filter(|q| q.user_id == user.user_id && q.state == RequestState::Pending)
            .map(|q| q.id)
            .collect();
        let event = AuditEvent::new("user.erase", caller.actor(), &caller.client.name)
            .subject(&user.user_id, &user.department)
            .detail(format!("reason: {}; data key destroyed", r.reason));
        // Nothing else may wrap or unwrap a key while the master key is replaced.
        let _enrolling = self.inner.enrolling.lock().unwrap_or_else(|p| p.into_inner());
        let mut master = self.inner.master.write().unwrap_or_else(|p| p.into_inner());
        let actor = caller.actor().to_owned();
        let rotated = keys::rotate(&self.inner.master_path, &master, self.store(), self.now(), |tx| {
            tx.existing_user(&user.user_id)?;
            tx.remove_user(&user.user_id)?;
            for id in &pending {
                if let Some(mut q) = tx.request(*id)? {
                    q.state = RequestState::Refused;
                    q.decided_by = actor.clone();
                    q.note = "the user was erased".into();
                    tx.put_request(&q)?;
                }
            }
            tx.audit(event.clone())?;
            Ok(())
        });
        match rotated {
            Ok((new, ())) => *master = new,
            Err(keys::RotateError::Store(e)) => return Err(self.store_status(e)),
            Err(keys::RotateError::Other(e)) => return Err(internal(e)),
        }
        drop(master);
        self.inner.sessions.close_all_of(&user.user_id);
        tracing::info!(user = %user.user_id, actor = caller.actor(), "user erased; master key replaced");
        Ok(EraseUserResponse {})
    }

    /// Lifts a disabled login (or a running delay) of a user, as `caller`.
    pub(crate) fn lift_lockout_as(&self, caller: &Caller, user_id: &str, reason: &str) -> Result<UserDetails, Status> {
        let user = self.user(user_id)?;
        self.require(
            caller,
            Operation::LiftLockout {
                department: &user.department,
            },
            "user.lift-lockout",
            &user.user_id,
        )?;
        check_note("reason", reason)?;
        self.commit(|tx| {
            tx.existing_user(&user.user_id)?;
            let mut state = tx.auth_state(&user.user_id)?;
            let failures = state.consecutive_failures;
            state.lift();
            tx.put_auth_state(&user.user_id, &state)?;
            tx.audit(
                AuditEvent::new("user.lift-lockout", caller.actor(), &caller.client.name)
                    .subject(&user.user_id, &user.department)
                    .detail(format!("after {failures} failures; reason: {reason}")),
            )?;
            Ok(())
        })?;
        self.details(&user)
    }

    fn general_managers(&self) -> Result<usize, Status> {
        Ok(self
            .store()
            .users()
            .map_err(|e| self.store_status(e))?
            .iter()
            .filter(|u| u.roles.iter().any(|g| g.role == Role::GeneralManager))
            .count())
    }

    /// Users the caller may see, of `department` (empty: all they may see).
    fn visible_users(&self, caller: &Caller, department: &str, action: &str) -> Result<Vec<UserRecord>, Status> {
        if department.is_empty() {
            self.require(caller, Operation::SeeAllUsers, action, "")?;
        } else {
            self.require(caller, Operation::SeeUser { department, own: false }, action, "")?;
        }
        Ok(self
            .store()
            .users()
            .map_err(|e| self.store_status(e))?
            .into_iter()
            .filter(|u| department.is_empty() || u.department == department)
            .collect())
    }

    fn sign_in_blocking(
        &self,
        r: SignInRequest,
        client: crate::store::ClientRecord,
        certificate: [u8; 32],
    ) -> Result<SignInResponse, Status> {
        let user = self.user(&r.user_id)?;
        if user.roles.is_empty() {
            let event = AuditEvent::new("session.sign-in", &user.user_id, &client.name)
                .subject(&user.user_id, &user.department)
                .outcome("refused: holds no role");
            self.commit(|tx| tx.audit(event.clone()))?;
            return Err(Status::permission_denied(format!(
                "{} holds no role of the guideline and may not sign in at a station",
                user.user_id
            )));
        }
        if let Some(restriction) = &user.restriction {
            let reason = format!("{} is restricted: {}", user.user_id, restriction.reason);
            let event = AuditEvent::new("session.sign-in", &user.user_id, &client.name)
                .subject(&user.user_id, &user.department)
                .outcome(format!("refused: {reason}"));
            self.commit(|tx| tx.audit(event.clone()))?;
            return Err(Status::permission_denied(reason));
        }
        let matched = self.attempt(&user, r.image.as_ref(), &client, "session.sign-in", "")?;
        if !matched {
            return Ok(SignInResponse {
                decision: Decision::NoMatch as i32,
                ..SignInResponse::default()
            });
        }
        let (token, expires) = self.open_session(&user, certificate)?;
        Ok(SignInResponse {
            decision: Decision::Match as i32,
            token,
            expires_at_unix_s: expires,
            roles: user.roles.iter().map(grant_to_proto).collect(),
        })
    }
}

/// Runs `work` with the signed-in caller on a blocking thread.
async fn as_person<Q: Send + 'static, T: Send + 'static>(
    shimon: &Shimon,
    request: Request<Q>,
    work: impl FnOnce(&Shimon, &Caller, Q) -> Result<T, Status> + Send + 'static,
) -> Result<Response<T>, Status> {
    let caller = shimon.signed_in(&request)?;
    let this = shimon.clone();
    let r = request.into_inner();
    Ok(Response::new(blocking(move || work(&this, &caller, r)).await?))
}

#[tonic::async_trait]
impl Administration for Shimon {
    async fn sign_in(&self, request: Request<SignInRequest>) -> Result<Response<SignInResponse>, Status> {
        let (client, certificate) = self.client(&request, Some(ClientKind::Station))?;
        let this = self.clone();
        let r = request.into_inner();
        Ok(Response::new(
            blocking(move || this.sign_in_blocking(r, client, certificate)).await?,
        ))
    }

    async fn sign_out(&self, request: Request<SignOutRequest>) -> Result<Response<SignOutResponse>, Status> {
        let caller = self.signed_in(&request)?;
        if let Some(token) = request
            .metadata()
            .get(crate::sessions::SESSION_METADATA)
            .and_then(|v| v.to_str().ok())
        {
            self.inner.sessions.close(token);
        }
        let event = AuditEvent::new("session.sign-out", caller.actor(), &caller.client.name);
        self.commit(|tx| tx.audit(event.clone()))?;
        Ok(Response::new(SignOutResponse {}))
    }

    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<UserDetails>, Status> {
        as_person(self, request, |this, caller, r| {
            let user = this.user(&r.user_id)?;
            let own = caller.actor() == user.user_id;
            this.require(
                caller,
                Operation::SeeUser {
                    department: &user.department,
                    own,
                },
                "user.get",
                &user.user_id,
            )?;
            this.details(&user)
        })
        .await
    }

    async fn list_users(&self, request: Request<ListUsersRequest>) -> Result<Response<ListUsersResponse>, Status> {
        as_person(self, request, |this, caller, r| {
            let users = this.visible_users(caller, &r.department, "user.list")?;
            Ok(ListUsersResponse {
                users: users.iter().map(|u| this.details(u)).collect::<Result<_, _>>()?,
            })
        })
        .await
    }

    async fn erase_user(&self, request: Request<EraseUserRequest>) -> Result<Response<EraseUserResponse>, Status> {
        as_person(self, request, |this, caller, r| this.erase_blocking(caller, r)).await
    }

    async fn restrict_user(&self, request: Request<RestrictUserRequest>) -> Result<Response<UserDetails>, Status> {
        as_person(self, request, |this, caller, r| {
            this.require(caller, Operation::Restrict, "user.restrict", &r.user_id)?;
            check_note("reason", &r.reason)?;
            if caller.actor() == r.user_id {
                // Nobody could lift it: the general manager would be locked out of their station.
                return Err(Status::failed_precondition("nobody may restrict themself"));
            }
            let restriction = Restriction {
                reason: r.reason.clone(),
                by: caller.actor().to_owned(),
                at_unix_s: this.now(),
            };
            this.change_user(
                caller,
                &r.user_id,
                "user.restrict",
                format!("reason: {}", r.reason),
                |u| {
                    u.restriction = Some(restriction.clone());
                    Ok(())
                },
            )
        })
        .await
    }

    async fn lift_restriction(
        &self,
        request: Request<LiftRestrictionRequest>,
    ) -> Result<Response<UserDetails>, Status> {
        as_person(self, request, |this, caller, r| {
            this.require(caller, Operation::Restrict, "user.lift-restriction", &r.user_id)?;
            check_note("reason", &r.reason)?;
            this.change_user(
                caller,
                &r.user_id,
                "user.lift-restriction",
                format!("reason: {}", r.reason),
                |u| match u.restriction.take() {
                    Some(_) => Ok(()),
                    None => Err(format!("{} is not restricted", u.user_id)),
                },
            )
        })
        .await
    }

    async fn grant_right(&self, request: Request<RightRequest>) -> Result<Response<UserDetails>, Status> {
        as_person(self, request, |this, caller, r| {
            this.require(caller, Operation::DecideRight, "right.grant", &r.user_id)?;
            let purpose = purpose_from(r.purpose)?;
            let pending: Vec<u64> = this
                .store()
                .rights_requests()
                .map_err(|e| this.store_status(e))?
                .into_iter()
                .filter(|q| q.user_id == r.user_id && q.purpose == purpose && q.state == RequestState::Pending)
                .map(|q| q.id)
                .collect();
            let actor = caller.actor().to_owned();
            let user = this.commit(|tx| {
                let mut user = tx.existing_user(&r.user_id)?;
                if !user.rights.contains(&purpose) {
                    user.rights.push(purpose);
                    user.rights.sort_unstable();
                }
                tx.put_user(&user)?;
                for id in &pending {
                    if let Some(mut q) = tx.request(*id)? {
                        q.state = RequestState::Granted;
                        q.decided_by = actor.clone();
                        tx.put_request(&q)?;
                    }
                }
                tx.audit(
                    AuditEvent::new("right.grant", &actor, &caller.client.name)
                        .subject(&user.user_id, &user.department)
                        .detail(format!("purpose {}", purpose_name(purpose))),
                )?;
                Ok(user)
            })?;
            this.details(&user)
        })
        .await
    }

    async fn revoke_right(&self, request: Request<RightRequest>) -> Result<Response<UserDetails>, Status> {
        as_person(self, request, |this, caller, r| {
            this.require(caller, Operation::DecideRight, "right.revoke", &r.user_id)?;
            let purpose = purpose_from(r.purpose)?;
            this.change_user(
                caller,
                &r.user_id,
                "right.revoke",
                format!("purpose {}", purpose_name(purpose)),
                |u| {
                    let before = u.rights.len();
                    u.rights.retain(|&p| p != purpose);
                    if u.rights.len() == before {
                        Err(format!("{} holds no right to {}", u.user_id, purpose_name(purpose)))
                    } else {
                        Ok(())
                    }
                },
            )
        })
        .await
    }

    async fn request_right(
        &self,
        request: Request<RequestRightRequest>,
    ) -> Result<Response<RightsRequestInfo>, Status> {
        as_person(self, request, |this, caller, r| {
            let purpose = purpose_from(r.purpose)?;
            this.require(caller, Operation::RequestRight { purpose }, "right.request", &r.user_id)?;
            check_note("reason", &r.reason)?;
            let user = this.user(&r.user_id)?;
            if user.rights.contains(&purpose) {
                return Err(Status::failed_precondition(format!(
                    "{} holds the right to {} already",
                    user.user_id,
                    purpose_name(purpose)
                )));
            }
            let record = RightsRequestRecord {
                id: 0,
                user_id: user.user_id.clone(),
                purpose,
                reason: r.reason.clone(),
                requested_by: caller.actor().to_owned(),
                requested_at_unix_s: this.now(),
                state: RequestState::Pending,
                decided_by: String::new(),
                note: String::new(),
            };
            let stored = this.commit(|tx| {
                tx.existing_user(&user.user_id)?;
                let stored = tx.new_request(record.clone())?;
                tx.audit(
                    AuditEvent::new("right.request", caller.actor(), &caller.client.name)
                        .subject(&user.user_id, &user.department)
                        .detail(format!(
                            "request {} for purpose {}: {}",
                            stored.id,
                            purpose_name(purpose),
                            r.reason
                        )),
                )?;
                Ok(stored)
            })?;
            Ok(request_to_proto(&stored))
        })
        .await
    }

    async fn list_right_requests(
        &self,
        request: Request<ListRightRequestsRequest>,
    ) -> Result<Response<ListRightRequestsResponse>, Status> {
        as_person(self, request, |this, caller, r| {
            let roles = caller.person.as_ref().map(|p| p.roles.as_slice()).unwrap_or_default();
            let may_see_some = crate::policy::allowed(roles, Operation::DecideRight)
                || roles.iter().any(|g| g.role == Role::BusinessOwner);
            if !may_see_some {
                this.require(caller, Operation::DecideRight, "right.list", "")?;
            }
            let requests = this
                .store()
                .rights_requests()
                .map_err(|e| this.store_status(e))?
                .into_iter()
                .filter(|q| !r.pending_only || q.state == RequestState::Pending)
                .filter(|q| crate::policy::allowed(roles, Operation::SeeRightRequests { purpose: q.purpose }))
                .map(|q| request_to_proto(&q))
                .collect();
            Ok(ListRightRequestsResponse { requests })
        })
        .await
    }

    async fn refuse_right_request(
        &self,
        request: Request<RefuseRightRequestRequest>,
    ) -> Result<Response<RightsRequestInfo>, Status> {
        as_person(self, request, |this, caller, r| {
            this.require(caller, Operation::DecideRight, "right.refuse", "")?;
            check_note("note", &r.note)?;
            let decided = this.commit(|tx| {
                let Some(mut q) = tx.request(r.id)? else {
                    return abort(StoreError::Refused(format!("there is no request {}", r.id)));
                };
                if q.state != RequestState::Pending {
                    return abort(StoreError::Refused(format!("request {} was decided already", r.id)));
                }
                q.state = RequestState::Refused;
                q.decided_by = caller.actor().to_owned();
                q.note = r.note.clone();
                tx.put_request(&q)?;
                tx.audit(
                    AuditEvent::new("right.refuse", caller.actor(), &caller.client.name)
                        .subject(&q.user_id, "")
                        .detail(format!("request {} for {}: {}", q.id, purpose_name(q.purpose), r.note)),
                )?;
                Ok(q)
            })?;
            Ok(request_to_proto(&decided))
        })
        .await
    }

    async fn assign_role(&self, request: Request<RoleRequest>) -> Result<Response<UserDetails>, Status> {
        as_person(self, request, |this, caller, r| {
            this.require(caller, Operation::AssignRole, "role.assign", &r.user_id)?;
            let grant = grant_from_proto(r.role.as_ref())?;
            let detail = format!("{:?} {}{}", grant.role, grant.department, purpose_label(grant.purpose));
            this.change_user(caller, &r.user_id, "role.assign", detail, |u| {
                if u.roles.contains(&grant) {
                    return Err(format!("{} holds this role already", u.user_id));
                }
                u.roles.push(grant.clone());
                Ok(())
            })
        })
        .await
    }

    async fn revoke_role(&self, request: Request<RoleRequest>) -> Result<Response<UserDetails>, Status> {
        as_person(self, request, |this, caller, r| {
            this.require(caller, Operation::AssignRole, "role.revoke", &r.user_id)?;
            let grant = grant_from_proto(r.role.as_ref())?;
            let target = this.user(&r.user_id)?;
            if grant.role == Role::GeneralManager && target.roles.contains(&grant) && this.general_managers()? <= 1 {
                return Err(Status::failed_precondition(
                    "this is the only general manager; name another one first",
                ));
            }
            let detail = format!("{:?} {}{}", grant.role, grant.department, purpose_label(grant.purpose));
            this.change_user(caller, &r.user_id, "role.revoke", detail, |u| {
                let before = u.roles.len();
                u.roles.retain(|g| *g != grant);
                if u.roles.len() == before {
                    Err(format!("{} does not hold this role", u.user_id))
                } else {
                    Ok(())
                }
            })
        })
        .await
    }

    async fn lift_lockout(&self, request: Request<LiftLockoutRequest>) -> Result<Response<UserDetails>, Status> {
        as_person(self, request, |this, caller, r| {
            this.lift_lockout_as(caller, &r.user_id, &r.reason)
        })
        .await
    }

    async fn list_reregistration(
        &self,
        request: Request<ListReregistrationRequest>,
    ) -> Result<Response<ListReregistrationResponse>, Status> {
        as_person(self, request, |this, caller, r| {
            check_text("department", &r.department)?;
            this.require(
                caller,
                Operation::SeeReregistration {
                    department: &r.department,
                },
                "user.list-reregistration",
                "",
            )?;
            let mut users = Vec::new();
            for user in this.store().users().map_err(|e| this.store_status(e))? {
                if user.department != r.department {
                    continue;
                }
                let details = this.details(&user)?;
                if !details.reregistration_reason.is_empty() {
                    users.push(details);
                }
            }
            Ok(ListReregistrationResponse { users })
        })
        .await
    }

    async fn list_incidents(
        &self,
        request: Request<ListIncidentsRequest>,
    ) -> Result<Response<ListIncidentsResponse>, Status> {
        as_person(self, request, |this, caller, r| {
            this.require(caller, Operation::HandleIncidents, "incident.list", "")?;
            let incidents = this
                .store()
                .incidents()
                .map_err(|e| this.store_status(e))?
                .iter()
                .filter(|i| !r.open_only || i.state != IncidentState::Closed)
                .map(incident_to_proto)
                .collect();
            Ok(ListIncidentsResponse { incidents })
        })
        .await
    }

    async fn acknowledge_incident(
        &self,
        request: Request<IncidentActionRequest>,
    ) -> Result<Response<Incident>, Status> {
        as_person(self, request, |this, caller, r| {
            this.require(caller, Operation::HandleIncidents, "incident.acknowledge", "")?;
            if !r.note.is_empty() {
                check_note("note", &r.note)?;
            }
            update_incident(
                this,
                caller,
                r.id,
                "incident.acknowledge",
                &r.note,
                IncidentState::Acknowledged,
            )
        })
        .await
    }

    async fn close_incident(&self, request: Request<IncidentActionRequest>) -> Result<Response<Incident>, Status> {
        as_person(self, request, |this, caller, r| {
            this.require(caller, Operation::HandleIncidents, "incident.close", "")?;
            check_note("note", &r.note)?;
            update_incident(this, caller, r.id, "incident.close", &r.note, IncidentState::Closed)
        })
        .await
    }

    async fn query_audit(&self, request: Request<QueryAuditRequest>) -> Result<Response<QueryAuditResponse>, Status> {
        as_person(self, request, |this, caller, r| {
            let department = (!r.department.is_empty()).then_some(r.department.as_str());
            this.require(caller, Operation::ReadAudit { department }, "audit.query", &r.user_id)?;
            let limit = match r.limit {
                0 => MAX_AUDIT_ENTRIES,
                n => (n as usize).min(MAX_AUDIT_ENTRIES),
            };
            let prefix = r.action.ends_with('.');
            let mut entries: Vec<AuditEntry> = Vec::new();
            for item in this.store().audit_entries(1) {
                let (_, entry) = item.map_err(|e| this.store_status(e))?;
                let Ok(entry) = entry else { continue };
                let wanted = (r.user_id.is_empty() || entry.subject == r.user_id || entry.actor == r.user_id)
                    && department.is_none_or(|d| entry.department == d)
                    && (r.action.is_empty()
                        || if prefix {
                            entry.action.starts_with(&r.action)
                        } else {
                            entry.action == r.action
                        })
                    && entry.at_unix_s >= r.from_unix_s
                    && (r.to_unix_s == 0 || entry.at_unix_s <= r.to_unix_s);
                if wanted {
                    entries.push(entry_to_proto(&entry));
                }
            }
            let skip = entries.len().saturating_sub(limit);
            Ok(QueryAuditResponse {
                entries: entries.split_off(skip),
            })
        })
        .await
    }
}

fn purpose_label(purpose: u8) -> String {
    if purpose == 0 {
        String::new()
    } else {
        format!("purpose {}", purpose_name(purpose))
    }
}

fn update_incident(
    this: &Shimon,
    caller: &Caller,
    id: u64,
    action: &str,
    note: &str,
    state: IncidentState,
) -> Result<Incident, Status> {
    let incident = this.commit(|tx| {
        let Some(mut incident) = tx.incident(id)? else {
            return abort(StoreError::Refused(format!("there is no incident {id}")));
        };
        if incident.state == IncidentState::Closed {
            return abort(StoreError::Refused(format!("incident {id} is closed already")));
        }
        incident.state = state;
        if !note.is_empty() {
            incident.notes.push(format!("{}: {note}", caller.actor()));
        }
        tx.put_incident(&incident)?;
        tx.audit(
            AuditEvent::new(action, caller.actor(), &caller.client.name)
                .subject(&incident.user_id, "")
                .detail(format!("incident {id}: {note}")),
        )?;
        Ok(incident)
    })?;
    Ok(incident_to_proto(&incident))
}

#[tonic::async_trait]
impl Reporting for Shimon {
    async fn report_incident(&self, request: Request<ReportIncidentRequest>) -> Result<Response<Incident>, Status> {
        let (client, certificate) = self.client(&request, None)?;
        // A person signed in at a station is named; otherwise the client reports.
        let person = if client.kind == ClientKind::Station
            && request.metadata().contains_key(crate::sessions::SESSION_METADATA)
        {
            Some(self.session_person(&request, &certificate)?)
        } else {
            None
        };
        let r = request.into_inner();
        let kind = match IncidentKind::try_from(r.kind) {
            Ok(k @ (IncidentKind::SecurityReport | IncidentKind::FailureReport)) => k,
            _ => {
                return Err(Status::invalid_argument(
                    "a report is a SECURITY_REPORT or a FAILURE_REPORT",
                ))
            }
        };
        check_note("description", &r.description)?;
        let reporter = person.as_ref().map_or(client.name.clone(), |p| p.user_id.clone());
        let client_name = client.name.clone();
        let this = self.clone();
        let incident = blocking(move || {
            this.commit(|tx| {
                let incident = raise_incident(tx, kind, &r.description, &reporter, &client_name, "")?;
                Ok(incident)
            })
        })
        .await?;
        tracing::warn!(id = incident.id, kind = kind.as_str_name(), "incident reported");
        Ok(Response::new(incident_to_proto(&incident)))
    }
}
