//! The operations guideline end to end, through the real server binary: who may call what (every
//! administrative call as every role, as no one, and from another department), the user
//! lifecycle (register, enroll, verify, restrict, lift, erase and the destroyed key), attempt
//! limits that survive a restart, and an audit log whose tampering `audit verify` names.

use shimon_e2e::{
    admin_station, capture, enrollment_captures, grant_all_purposes, signed_in_station, Deployment, Server, DEPARTMENT,
};
use shimon_proto::v1::*;
use shimon_station::client::{EnrollMode, Station};

/// Registers `user` in `department` and enrolls simulated person `person` (root's station, which
/// must be an officer of that department).
async fn enroll(station: &Station, user: &str, department: &str, person: u64) {
    station
        .register_user(user, &format!("Person {person}"), department)
        .await
        .unwrap();
    let captured = enrollment_captures(person);
    station.enroll(EnrollMode::Enroll, user, &captured).await.unwrap();
}

/// Registers `user` and enrolls the first simulated person from `first_person` on whose fingers
/// the server takes as new and as two fingers; returns that person. Synthetic fingers are more
/// alike than real ones (see the simulator's issue), and this test is about roles, not about the
/// duplicate search.
async fn enroll_someone(station: &Station, user: &str, department: &str, first_person: u64) -> u64 {
    station
        .register_user(user, &format!("Person {first_person}"), department)
        .await
        .unwrap();
    for person in first_person..first_person + 20 {
        let captured = enrollment_captures(person);
        match station.enroll(EnrollMode::Enroll, user, &captured).await {
            Ok(_) => return person,
            Err(shimon_station::StationError::Rpc(e)) if e.code() == tonic::Code::AlreadyExists => continue,
            Err(shimon_station::StationError::Rpc(e))
                if e.code() == tonic::Code::InvalidArgument && e.message().contains("look like the same finger") =>
            {
                continue
            }
            Err(e) => panic!("{user}: {e}"),
        }
    }
    panic!("no simulated person from {first_person} on could be enrolled as {user}")
}

fn grant(role: Role, department: &str, purpose: Purpose) -> RoleGrant {
    RoleGrant {
        role: role as i32,
        department: department.into(),
        purpose: purpose as i32,
    }
}

async fn assign(station: &Station, user: &str, role: RoleGrant) {
    station
        .administration()
        .assign_role(RoleRequest {
            user_id: user.into(),
            role: Some(role),
        })
        .await
        .unwrap();
}

async fn terminal(deployment: &Deployment, server: &Server) -> shimon_agent::Agent {
    shimon_agent::Agent::connect(&deployment.client("terminal", server))
        .await
        .unwrap()
}

fn code(e: &shimon_agent::AgentError) -> Option<tonic::Code> {
    match e {
        shimon_agent::AgentError::Rpc(rpc) => Some(rpc.code()),
        _ => None,
    }
}

/// The first capture of person `person`'s right index from impression `from` on that the server
/// accepts for `user` (a login agent asks again after a poor capture).
async fn verify_until_match(agent: &shimon_agent::Agent, user: &str, person: u64, purpose: Purpose) -> bool {
    for impression in 9..15 {
        if agent
            .verify(user, purpose, &capture(person, Finger::RightIndex, impression))
            .await
            .unwrap()
            .is_match()
        {
            return true;
        }
    }
    false
}

/// One administrative call, made by whoever holds the station.
type Call = Box<dyn Fn(Station) -> std::pin::Pin<Box<dyn std::future::Future<Output = tonic::Code> + Send>>>;

/// A call to make as the caller named by the argument.
type MakeCall = Box<dyn Fn(&str) -> Call>;

fn call<F, Fut>(f: F) -> Call
where
    F: Fn(Station) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    Box::new(move |station| {
        let fut = f(station);
        Box::pin(async move {
            match fut.await {
                Ok(()) => tonic::Code::Ok,
                Err(status) => status.code(),
            }
        })
    })
}

macro_rules! admin_call {
    ($method:ident, $request:expr) => {
        call(move |station: Station| {
            let request = $request;
            async move { station.administration().$method(request).await.map(|_| ()) }
        })
    };
}

macro_rules! enrollment_call {
    ($method:ident, $request:expr) => {
        call(move |station: Station| {
            let request = $request;
            async move { station.enrollment().$method(request).await.map(|_| ()) }
        })
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_allowed_exactly_to_the_roles_of_the_guideline() {
    let deployment = Deployment::with_admin();
    let server = deployment.start();
    let root = admin_station(&deployment, &server).await;
    assign(
        &root,
        "root",
        grant(Role::RegistrationOfficer, "sales", Purpose::Unspecified),
    )
    .await;

    // One person per role, plus two of another department; alice is the user acted upon.
    let mut people: [(&str, &str, Option<RoleGrant>, u64); 8] = [
        (
            "gm",
            DEPARTMENT,
            Some(grant(Role::GeneralManager, "", Purpose::Unspecified)),
            500,
        ),
        (
            "sa",
            DEPARTMENT,
            Some(grant(Role::SystemAdministrator, "", Purpose::Unspecified)),
            520,
        ),
        (
            "bo",
            DEPARTMENT,
            Some(grant(Role::BusinessOwner, "", Purpose::Website)),
            540,
        ),
        (
            "om",
            DEPARTMENT,
            Some(grant(Role::OperationsManager, DEPARTMENT, Purpose::Unspecified)),
            560,
        ),
        (
            "ro",
            DEPARTMENT,
            Some(grant(Role::RegistrationOfficer, DEPARTMENT, Purpose::Unspecified)),
            580,
        ),
        (
            "om-sales",
            "sales",
            Some(grant(Role::OperationsManager, "sales", Purpose::Unspecified)),
            600,
        ),
        (
            "ro-sales",
            "sales",
            Some(grant(Role::RegistrationOfficer, "sales", Purpose::Unspecified)),
            620,
        ),
        ("alice", DEPARTMENT, None, 640),
    ];
    for (user, department, role, person) in &mut people {
        *person = enroll_someone(&root, user, department, *person).await;
        if let Some(role) = role {
            assign(&root, user, role.clone()).await;
        }
    }
    let alice_person = people[7].3;
    // A person without a role may not sign in at a station.
    let mut plain = Station::connect(&deployment.client("station", &server)).await.unwrap();
    match plain
        .sign_in("alice", &capture(alice_person, Finger::RightIndex, 9))
        .await
    {
        Err(shimon_station::StationError::Rpc(e)) => assert_eq!(e.code(), tonic::Code::PermissionDenied),
        other => panic!("alice signed in without a role: {other:?}"),
    }

    let mut stations: Vec<(String, Station)> = Vec::new();
    for (user, _, role, person) in &people {
        if role.is_some() {
            let station = signed_in_station(&deployment.client("station", &server), user, *person).await;
            stations.push((user.to_string(), station));
        }
    }
    // No one: the station without a session.
    let nobody = Station::connect(&deployment.client("station", &server)).await.unwrap();

    // Victims for the erasure, one per caller, so that each erasure has someone to erase.
    let callers: Vec<String> = stations.iter().map(|(u, _)| u.clone()).collect();
    for caller in callers.iter().chain(std::iter::once(&"nobody".to_string())) {
        root.register_user(&format!("victim-{caller}"), "Victim", DEPARTMENT)
            .await
            .unwrap();
    }
    root.administration()
        .restrict_user(RestrictUserRequest {
            user_id: "alice".into(),
            reason: "to be lifted".into(),
        })
        .await
        .unwrap();

    // (call, who may make it). Allowed calls may still fail for another reason (a user enrolled
    // already, a request that does not exist): what matters here is that the guideline let the
    // caller through, or refused them.
    let table: Vec<(&str, Vec<&str>, MakeCall)> = vec![
        (
            "RegisterUser",
            vec!["sa"],
            Box::new(|who: &str| {
                let id = format!("new-{who}");
                enrollment_call!(
                    register_user,
                    RegisterUserRequest {
                        user_id: id.clone(),
                        name: "New".into(),
                        department: DEPARTMENT.into(),
                    }
                )
            }),
        ),
        (
            "Enroll",
            vec!["ro"],
            Box::new(|_: &str| {
                enrollment_call!(
                    enroll,
                    EnrollRequest {
                        user_id: "alice".into(),
                        fingers: vec![],
                    }
                )
            }),
        ),
        (
            "Reenroll",
            vec!["ro"],
            Box::new(|_: &str| {
                enrollment_call!(
                    reenroll,
                    EnrollRequest {
                        user_id: "alice".into(),
                        fingers: vec![],
                    }
                )
            }),
        ),
        (
            "ListFingers",
            vec!["sa", "om", "ro"],
            Box::new(|_: &str| {
                enrollment_call!(
                    list_fingers,
                    ListFingersRequest {
                        user_id: "alice".into()
                    }
                )
            }),
        ),
        (
            "GetUser",
            vec!["gm", "sa", "om", "ro"],
            Box::new(|_: &str| {
                admin_call!(
                    get_user,
                    GetUserRequest {
                        user_id: "alice".into()
                    }
                )
            }),
        ),
        (
            "ListUsers (all)",
            vec!["gm", "sa"],
            Box::new(|_: &str| admin_call!(list_users, ListUsersRequest::default())),
        ),
        (
            "ListUsers (department)",
            vec!["gm", "sa", "om", "ro"],
            Box::new(|_: &str| {
                admin_call!(
                    list_users,
                    ListUsersRequest {
                        department: DEPARTMENT.into()
                    }
                )
            }),
        ),
        (
            "EraseUser",
            vec!["gm", "sa"],
            Box::new(|who: &str| {
                let id = format!("victim-{who}");
                admin_call!(
                    erase_user,
                    EraseUserRequest {
                        user_id: id.clone(),
                        reason: "left".into(),
                    }
                )
            }),
        ),
        (
            "RestrictUser",
            vec!["gm"],
            Box::new(|_: &str| {
                admin_call!(
                    restrict_user,
                    RestrictUserRequest {
                        user_id: "alice".into(),
                        reason: "breach".into(),
                    }
                )
            }),
        ),
        (
            "LiftRestriction",
            vec!["gm"],
            Box::new(|_: &str| {
                admin_call!(
                    lift_restriction,
                    LiftRestrictionRequest {
                        user_id: "alice".into(),
                        reason: "resolved".into(),
                    }
                )
            }),
        ),
        (
            "GrantRight",
            vec!["gm"],
            Box::new(|_: &str| {
                admin_call!(
                    grant_right,
                    RightRequest {
                        user_id: "alice".into(),
                        purpose: Purpose::Email as i32,
                    }
                )
            }),
        ),
        (
            "RevokeRight",
            vec!["gm"],
            Box::new(|_: &str| {
                admin_call!(
                    revoke_right,
                    RightRequest {
                        user_id: "alice".into(),
                        purpose: Purpose::WebSearch as i32,
                    }
                )
            }),
        ),
        (
            "RequestRight (website)",
            vec!["bo"],
            Box::new(|_: &str| {
                admin_call!(
                    request_right,
                    RequestRightRequest {
                        user_id: "alice".into(),
                        purpose: Purpose::Website as i32,
                        reason: "publishes notices".into(),
                    }
                )
            }),
        ),
        (
            "ListRightRequests",
            vec!["gm", "bo"],
            Box::new(|_: &str| admin_call!(list_right_requests, ListRightRequestsRequest::default())),
        ),
        (
            "RefuseRightRequest",
            vec!["gm"],
            Box::new(|_: &str| {
                admin_call!(
                    refuse_right_request,
                    RefuseRightRequestRequest {
                        id: 999,
                        note: "no".into(),
                    }
                )
            }),
        ),
        (
            "AssignRole",
            vec!["gm"],
            Box::new(|_: &str| {
                admin_call!(
                    assign_role,
                    RoleRequest {
                        user_id: "alice".into(),
                        role: Some(grant(Role::OperationsManager, "sales", Purpose::Unspecified)),
                    }
                )
            }),
        ),
        (
            "RevokeRole",
            vec!["gm"],
            Box::new(|_: &str| {
                admin_call!(
                    revoke_role,
                    RoleRequest {
                        user_id: "alice".into(),
                        role: Some(grant(Role::OperationsManager, "sales", Purpose::Unspecified)),
                    }
                )
            }),
        ),
        (
            "LiftLockout",
            vec!["ro"],
            Box::new(|_: &str| {
                admin_call!(
                    lift_lockout,
                    LiftLockoutRequest {
                        user_id: "alice".into(),
                        reason: "checked".into(),
                    }
                )
            }),
        ),
        (
            "ListReregistration",
            vec!["om", "ro"],
            Box::new(|_: &str| {
                admin_call!(
                    list_reregistration,
                    ListReregistrationRequest {
                        department: DEPARTMENT.into()
                    }
                )
            }),
        ),
        (
            "ListIncidents",
            vec!["sa"],
            Box::new(|_: &str| admin_call!(list_incidents, ListIncidentsRequest::default())),
        ),
        (
            "AcknowledgeIncident",
            vec!["sa"],
            Box::new(|_: &str| {
                admin_call!(
                    acknowledge_incident,
                    IncidentActionRequest {
                        id: 999,
                        note: String::new(),
                    }
                )
            }),
        ),
        (
            "CloseIncident",
            vec!["sa"],
            Box::new(|_: &str| {
                admin_call!(
                    close_incident,
                    IncidentActionRequest {
                        id: 999,
                        note: "done".into(),
                    }
                )
            }),
        ),
        (
            "QueryAudit (all)",
            vec!["gm", "sa"],
            Box::new(|_: &str| admin_call!(query_audit, QueryAuditRequest::default())),
        ),
        (
            "QueryAudit (department)",
            vec!["gm", "sa", "om"],
            Box::new(|_: &str| {
                admin_call!(
                    query_audit,
                    QueryAuditRequest {
                        department: DEPARTMENT.into(),
                        ..QueryAuditRequest::default()
                    }
                )
            }),
        ),
    ];

    let mut report = String::from("call | allowed to\n");
    let mut wrong = Vec::new();
    for (name, allowed, make) in &table {
        for (who, station) in stations
            .iter()
            .map(|(u, s)| (u.as_str(), s))
            .chain([("nobody", &nobody)])
        {
            let got = make(who)(station.clone()).await;
            let expected_allowed = allowed.contains(&who);
            let refused = matches!(got, tonic::Code::PermissionDenied | tonic::Code::Unauthenticated);
            let right_refusal = if who == "nobody" {
                got == tonic::Code::Unauthenticated
            } else {
                got == tonic::Code::PermissionDenied
            };
            if expected_allowed == refused || (!expected_allowed && !right_refusal) {
                wrong.push(format!("{name} as {who}: {got:?}"));
            }
        }
        report.push_str(&format!("{name} | {}\n", allowed.join(", ")));
    }
    eprintln!("{report}");
    assert!(
        wrong.is_empty(),
        "calls not as the guideline says:\n{}",
        wrong.join("\n")
    );

    // A terminal makes no administrative call at all, session or not.
    let channel = shimon_agent::connect(&deployment.client("terminal", &server))
        .await
        .unwrap();
    let denied = administration_client::AdministrationClient::new(channel)
        .list_incidents(ListIncidentsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_is_registered_enrolled_restricted_lifted_and_erased_for_good() {
    let deployment = Deployment::with_admin();
    let server = deployment.start();
    let root = admin_station(&deployment, &server).await;
    enroll(&root, "alice", DEPARTMENT, 101).await;
    let agent = terminal(&deployment, &server).await;

    // The system never loses its last general manager, nor lets anyone erase themself.
    let last = root
        .administration()
        .revoke_role(RoleRequest {
            user_id: "root".into(),
            role: Some(grant(Role::GeneralManager, "", Purpose::Unspecified)),
        })
        .await
        .unwrap_err();
    assert_eq!(last.code(), tonic::Code::FailedPrecondition, "{last:?}");
    let own = root
        .administration()
        .erase_user(EraseUserRequest {
            user_id: "root".into(),
            reason: "oops".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(own.code(), tonic::Code::FailedPrecondition, "{own:?}");
    let own = root
        .administration()
        .restrict_user(RestrictUserRequest {
            user_id: "root".into(),
            reason: "oops".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(own.code(), tonic::Code::FailedPrecondition, "{own:?}");

    // No right to a purpose yet: refused, and told why.
    let refused = agent
        .verify("alice", Purpose::Email, &capture(101, Finger::RightIndex, 9))
        .await
        .unwrap_err();
    assert_eq!(code(&refused), Some(tonic::Code::PermissionDenied));
    assert!(refused.to_string().contains("no right"), "{refused}");
    root.administration()
        .grant_right(RightRequest {
            user_id: "alice".into(),
            purpose: Purpose::Email as i32,
        })
        .await
        .unwrap();
    assert!(verify_until_match(&agent, "alice", 101, Purpose::Email).await);
    let other_purpose = agent
        .verify("alice", Purpose::WebSearch, &capture(101, Finger::RightIndex, 9))
        .await
        .unwrap_err();
    assert_eq!(code(&other_purpose), Some(tonic::Code::PermissionDenied));

    root.administration()
        .restrict_user(RestrictUserRequest {
            user_id: "alice".into(),
            reason: "under investigation".into(),
        })
        .await
        .unwrap();
    let restricted = agent
        .verify("alice", Purpose::Email, &capture(101, Finger::RightIndex, 9))
        .await
        .unwrap_err();
    assert_eq!(code(&restricted), Some(tonic::Code::PermissionDenied));
    assert!(restricted.to_string().contains("under investigation"), "{restricted}");
    root.administration()
        .lift_restriction(LiftRestrictionRequest {
            user_id: "alice".into(),
            reason: "cleared".into(),
        })
        .await
        .unwrap();
    assert!(verify_until_match(&agent, "alice", 101, Purpose::Email).await);

    // A backup of the store, taken with the server stopped, before alice leaves.
    drop(agent);
    drop(root);
    server.kill();
    let backup = deployment.dir.path().join("backup");
    copy_dir(&deployment.data.join("store"), &backup);
    let old_master = std::fs::read(deployment.data.join("master.key")).unwrap();
    let server = deployment.start();
    let root = admin_station(&deployment, &server).await;
    root.administration()
        .erase_user(EraseUserRequest {
            user_id: "alice".into(),
            reason: "left the organisation".into(),
        })
        .await
        .unwrap();
    let agent = terminal(&deployment, &server).await;
    let gone = agent
        .verify("alice", Purpose::Email, &capture(101, Finger::RightIndex, 9))
        .await
        .unwrap_err();
    assert_eq!(code(&gone), Some(tonic::Code::NotFound));
    // The erased user's fingers are free again: another person may be enrolled with them.
    enroll(&root, "alice2", DEPARTMENT, 101).await;
    drop(root);
    server.kill();

    // The backup still holds alice's wrapped key and sealed templates; the keys in force no longer
    // open them (and the master key of the time did: the test could fail).
    let copy = shimon_server::store::Store::open(&backup).unwrap();
    let user = copy.user("alice").unwrap().expect("the backup holds alice");
    let current = shimon_server::crypto::MasterKey::load(&deployment.data.join("master.key")).unwrap();
    assert!(shimon_server::crypto::unwrap_data_key(&current, "alice", &user.wrapped_data_key).is_err());
    let old_path = deployment.dir.path().join("old-master.key");
    shimon_server::files::write_new(&old_path, &old_master, true).unwrap();
    let old = shimon_server::crypto::MasterKey::load(&old_path).unwrap();
    assert!(shimon_server::crypto::unwrap_data_key(&old, "alice", &user.wrapped_data_key).is_ok());
    // And the store in force holds nothing of alice.
    let store = shimon_server::store::Store::open(&deployment.data.join("store")).unwrap();
    assert!(store.user("alice").unwrap().is_none());
    assert!(store.enrollment("alice").unwrap().is_none());
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_delay_the_next_attempt_even_after_a_restart_until_an_officer_lifts_it() {
    let deployment = Deployment::with_admin();
    let server = deployment.start();
    let root = admin_station(&deployment, &server).await;
    enroll(&root, "alice", DEPARTMENT, 101).await;
    grant_all_purposes(&root, "alice").await;
    let agent = terminal(&deployment, &server).await;
    for k in 0..5 {
        let result = agent
            .verify("alice", Purpose::Email, &capture(202, Finger::RightIndex, 9 + k))
            .await
            .unwrap();
        assert!(!result.is_match());
    }
    let early = agent
        .verify("alice", Purpose::Email, &capture(101, Finger::RightIndex, 9))
        .await
        .unwrap_err();
    assert_eq!(code(&early), Some(tonic::Code::ResourceExhausted), "{early}");
    let message = early.to_string();
    let wait_s: u32 = message
        .split("wait ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the refusal says how long to wait: {message}"));
    assert!((20..=30).contains(&wait_s), "the first wait is 30 s: {message}");

    drop(agent);
    drop(root);
    server.kill();
    let server = deployment.start();
    let agent = terminal(&deployment, &server).await;
    let still = agent
        .verify("alice", Purpose::Email, &capture(101, Finger::RightIndex, 9))
        .await
        .unwrap_err();
    assert_eq!(
        code(&still),
        Some(tonic::Code::ResourceExhausted),
        "a restart keeps the count"
    );

    let root = admin_station(&deployment, &server).await;
    let incidents = root
        .administration()
        .list_incidents(ListIncidentsRequest { open_only: true })
        .await
        .unwrap()
        .into_inner()
        .incidents;
    let lockout = incidents
        .iter()
        .find(|i| i.kind == IncidentKind::Lockout as i32 && i.user_id == "alice")
        .expect("the lockout is raised to the system administrator");
    let details = root
        .administration()
        .get_user(GetUserRequest {
            user_id: "alice".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(details.consecutive_failures, 5);
    assert!(!details.reregistration_reason.is_empty());
    let listed = root
        .administration()
        .list_reregistration(ListReregistrationRequest {
            department: DEPARTMENT.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .users;
    assert!(listed.iter().any(|u| u.user.as_ref().unwrap().user_id == "alice"));

    root.administration()
        .lift_lockout(LiftLockoutRequest {
            user_id: "alice".into(),
            reason: "the impostor was a test".into(),
        })
        .await
        .unwrap();
    assert!(verify_until_match(&agent, "alice", 101, Purpose::Email).await);
    // Three failures in a row put alice on her department's re-registration list; re-enrolling
    // her takes her off it.
    for k in 0..3 {
        let result = agent
            .verify("alice", Purpose::Email, &capture(303, Finger::RightIndex, 9 + k))
            .await
            .unwrap();
        assert!(!result.is_match());
    }
    let reregistration = || async {
        root.administration()
            .list_reregistration(ListReregistrationRequest {
                department: DEPARTMENT.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .users
    };
    let listed = reregistration().await;
    assert!(
        listed
            .iter()
            .any(|u| u.reregistration_reason.contains("failed attempts")),
        "{listed:?}"
    );
    root.enroll(EnrollMode::Reenroll, "alice", &enrollment_captures(101))
        .await
        .unwrap();
    assert!(reregistration().await.is_empty(), "re-enrollment clears the flag");
    root.administration()
        .close_incident(IncidentActionRequest {
            id: lockout.id,
            note: "explained".into(),
        })
        .await
        .unwrap();
    let audit = root
        .administration()
        .query_audit(QueryAuditRequest {
            user_id: "alice".into(),
            ..QueryAuditRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    for action in [
        "user.register",
        "enrollment.enroll",
        "verify",
        "user.lockout",
        "user.lift-lockout",
    ] {
        assert!(audit.iter().any(|e| e.action == action), "{action} is audited");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_names_the_entry_that_was_altered_removed_or_reordered() {
    let deployment = Deployment::with_admin();
    let server = deployment.start();
    let root = admin_station(&deployment, &server).await;
    for k in 0..3 {
        root.register_user(&format!("user{k}"), "Someone", DEPARTMENT)
            .await
            .unwrap();
    }
    let agent = terminal(&deployment, &server).await;
    agent
        .report_incident(IncidentKind::FailureReport, "the reader in room 3 is cracked")
        .await
        .unwrap();
    drop(agent);
    drop(root);
    // Killed: the checkpoint signed at start covers root's bootstrap; the entries since are
    // protected by the chain alone, which is what this test tampers with.
    server.kill();

    // A store this test has just closed can stay locked for a moment while sled's background
    // flusher lets go of it; `verify` then cannot open it, and says so on stderr with nothing on
    // stdout (seen once in CI, for one of the tampered copies). That is retried for a few seconds;
    // a chain report, good or bad, is taken as it is. Whatever stderr said goes with the result.
    let verify = |store: &std::path::Path| {
        let mut attempts = 0;
        loop {
            let out = std::process::Command::new(shimon_e2e::server_binary())
                .args(["audit", "verify", "--data-dir"])
                .arg(&deployment.data)
                .arg("--store")
                .arg(store)
                .output()
                .unwrap();
            attempts += 1;
            if out.status.success() || !out.stdout.is_empty() || attempts == 20 {
                let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
                return (out.status.success(), said);
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    };
    let original = deployment.data.join("store");
    let (ok, said) = verify(&original);
    assert!(ok && said.contains("intact"), "{said}");

    let entries = {
        let store = shimon_server::store::Store::open(&original).unwrap();
        store.audit_entries(1).count() as u64
    };
    assert!(entries >= 6, "{entries} entries");
    type Tamper = fn(&sled::Tree, u64);
    let cases: [(&str, Tamper, &str); 3] = [
        (
            "altered",
            |tree, seq| {
                let bytes = tree.get(seq.to_be_bytes()).unwrap().unwrap();
                let mut entry: shimon_server::audit::AuditEntry =
                    shimon_server::store::decode_record("audit entry", &bytes).unwrap();
                entry.outcome = "refused: not allowed".into();
                tree.insert(seq.to_be_bytes(), shimon_server::store::encode_record(&entry))
                    .unwrap();
            },
            "entry 3 was altered",
        ),
        (
            "removed",
            |tree, seq| {
                tree.remove(seq.to_be_bytes()).unwrap();
            },
            "entry 3 was removed",
        ),
        (
            "reordered",
            |tree, seq| {
                let a = tree.get(seq.to_be_bytes()).unwrap().unwrap();
                let b = tree.get((seq + 1).to_be_bytes()).unwrap().unwrap();
                tree.insert(seq.to_be_bytes(), b).unwrap();
                tree.insert((seq + 1).to_be_bytes(), a).unwrap();
            },
            "entry 3 is out of order",
        ),
    ];
    for (what, tamper, expected) in cases {
        let copy = deployment.dir.path().join(format!("copy-{what}"));
        copy_dir(&original, &copy);
        {
            let store = shimon_server::store::Store::open(&copy).unwrap();
            tamper(store.raw_audit_tree(), 3);
            store.flush().unwrap();
        }
        let (ok, said) = verify(&copy);
        assert!(!ok, "{what}: {said}");
        assert!(said.contains(expected), "{what}: {said}");
    }

    // The server checks the chain when it starts and raises a break as an incident.
    {
        let store = shimon_server::store::Store::open(&original).unwrap();
        store.raw_audit_tree().remove(4u64.to_be_bytes()).unwrap();
        store.flush().unwrap();
    }
    let server = deployment.start();
    let root = admin_station(&deployment, &server).await;
    let incidents = root
        .administration()
        .list_incidents(ListIncidentsRequest { open_only: true })
        .await
        .unwrap()
        .into_inner()
        .incidents;
    let broken = incidents
        .iter()
        .find(|i| i.kind == IncidentKind::AuditChainBroken as i32)
        .expect("the broken chain is raised");
    assert!(
        broken.description.contains("entry 4 was removed"),
        "{}",
        broken.description
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_works_only_at_the_station_it_was_granted_at() {
    let deployment = Deployment::with_admin();
    let added = std::process::Command::new(shimon_e2e::server_binary())
        .args([
            "add-client",
            "--kind",
            "station",
            "--department",
            "sales",
            "--name",
            "station-2",
        ])
        .arg("--data-dir")
        .arg(&deployment.data)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let server = deployment.start();
    let mut first = Station::connect(&deployment.client("station", &server)).await.unwrap();
    let signed = first
        .sign_in("root", &capture(shimon_e2e::ADMIN_SEED, Finger::RightIndex, 9))
        .await
        .unwrap();
    let second_config = shimon_agent::ClientConfig {
        cert: deployment.data.join("clients/station-2.pem"),
        key: deployment.data.join("clients/station-2.key"),
        ..deployment.client("station", &server)
    };
    let mut second = Station::connect(&second_config).await.unwrap();
    second.use_session(&signed.token).unwrap();
    let stolen = second
        .administration()
        .list_incidents(ListIncidentsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(stolen.code(), tonic::Code::Unauthenticated);
    assert!(stolen.message().contains("another station"), "{}", stolen.message());
    // At its own station it works, until signed out.
    first
        .administration()
        .list_incidents(ListIncidentsRequest::default())
        .await
        .unwrap();
    first.sign_out().await.unwrap();
    first.use_session(&signed.token).unwrap();
    let ended = first
        .administration()
        .list_incidents(ListIncidentsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(ended.code(), tonic::Code::Unauthenticated);
}

#[test]
fn bootstrap_makes_each_first_administrator_once_and_no_one_else() {
    let deployment = Deployment::new();
    // The general manager and the system administrator may be two people.
    deployment.bootstrap("gm", 9100, &["general-manager"]);
    let again = deployment.bootstrap_command("gm2", 9200, &["general-manager"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("holds the role"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    deployment.bootstrap("sa", 9300, &["system-administrator"]);
    let officer = deployment.bootstrap_command("ro", 9400, &["registration-officer"]);
    assert!(
        !officer.status.success(),
        "officers are named at a station, not bootstrapped"
    );
}
