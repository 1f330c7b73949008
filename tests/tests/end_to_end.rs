//! The system end to end: the real server (real mutual TLS, a real sled store in a temporary
//! folder), the real station and agent libraries, fingers from the simulated reader.

use shimon_agent::{verify_assertion, Agent, AgentError, ClientConfig};
use shimon_e2e::{
    admin_station, capture, enrollment_captures, grant_all_purposes, Deployment, Server, DEPARTMENT, FINGERS,
};
use shimon_hal::FingerImage;
use shimon_proto::v1::enrollment_client::EnrollmentClient;
use shimon_proto::v1::{EnrollRequest, Finger, FingerImpressions, Image, Purpose, RegisterUserRequest, VerifyRequest};
use shimon_station::client::{EnrollMode, Station};
use shimon_station::StationError;
use std::path::Path;

/// Registers `user`, enrolls the right and left index of simulated person `person` and grants
/// them every purpose (the station is root's, see `admin_station`).
async fn enroll(station: &Station, user: &str, person: u64) -> Result<(), StationError> {
    match station
        .register_user(user, &format!("Person {person}"), DEPARTMENT)
        .await
    {
        Ok(_) => {}
        Err(StationError::Rpc(e)) if e.code() == tonic::Code::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    station
        .enroll(EnrollMode::Enroll, user, &enrollment_captures(person))
        .await?;
    grant_all_purposes(station, user).await;
    Ok(())
}

/// The first capture of `finger` of person `person` from impression `from` on that is good enough
/// to enroll (quality at least 40, as the station asks): a login agent asks again for a poor one.
fn good_capture(person: u64, finger: Finger, from: u32) -> FingerImage {
    (from..from + 10)
        .map(|impression| capture(person, finger, impression))
        .find(|image| shimon_station::capture::measure_quality(image) >= 40)
        .expect("one of ten captures is good")
}

async fn station(deployment: &Deployment, server: &Server) -> Station {
    admin_station(deployment, server).await
}

async fn agent(deployment: &Deployment, server: &Server) -> Agent {
    Agent::connect(&deployment.client("terminal", server)).await.unwrap()
}

fn rpc_code(e: &AgentError) -> Option<tonic::Code> {
    match e {
        AgentError::Rpc(rpc) => Some(rpc.code()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genuine_finger_is_accepted_and_another_persons_is_refused() {
    let deployment = Deployment::with_admin();
    let server = deployment.start();
    enroll(&station(&deployment, &server).await, "alice", 101)
        .await
        .unwrap();
    let agent = agent(&deployment, &server).await;

    for finger in FINGERS {
        let result = agent
            .verify("alice", Purpose::Email, &good_capture(101, finger, 9))
            .await
            .unwrap();
        assert!(result.is_match(), "alice's own {finger:?} is accepted");
        let verified = result.assertion.expect("a match carries an assertion");
        assert_eq!(verified.assertion.user_id, "alice");
        assert_eq!(verified.assertion.purpose, Purpose::Email as i32);
        assert_eq!(verified.assertion.terminal, "terminal");
        // A relying system verifies it offline with the published key.
        let key = agent.fetch_public_key().await.unwrap();
        let now = shimon_agent::now_unix_s();
        assert_eq!(
            verify_assertion(&key.public_key, &verified.signed, now).unwrap(),
            verified.assertion
        );
        let mut forged = verified.signed.clone();
        forged.assertion[2] ^= 1;
        assert!(verify_assertion(&key.public_key, &forged, now).is_err());
    }

    for impostor in [202, 303] {
        let result = agent
            .verify("alice", Purpose::Email, &good_capture(impostor, Finger::RightIndex, 9))
            .await
            .unwrap();
        assert!(!result.is_match(), "person {impostor} is not alice");
        assert!(result.assertion.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_and_unregistered_clients_are_refused() {
    let deployment = Deployment::with_admin();
    let server = deployment.start();
    let agent = agent(&deployment, &server).await;
    let finger = capture(101, Finger::RightIndex, 9);
    let unknown = agent.verify("nobody", Purpose::Email, &finger).await.unwrap_err();
    assert_eq!(rpc_code(&unknown), Some(tonic::Code::NotFound), "{unknown}");

    // A certificate from the deployment's own CA that was never registered.
    let ca =
        shimon_server::pki::Authority::load(&deployment.data.join("tls/ca.pem"), &deployment.data.join("tls/ca.key"))
            .unwrap();
    let rogue_dir = deployment.dir.path().join("rogue");
    std::fs::create_dir_all(&rogue_dir).unwrap();
    ca.issue_client("rogue").unwrap().write(&rogue_dir, "rogue").unwrap();
    let rogue = ClientConfig {
        cert: rogue_dir.join("rogue.pem"),
        key: rogue_dir.join("rogue.key"),
        ..deployment.client("terminal", &server)
    };
    let refused = Agent::connect(&rogue)
        .await
        .unwrap()
        .verify("nobody", Purpose::Email, &finger)
        .await
        .unwrap_err();
    assert_eq!(rpc_code(&refused), Some(tonic::Code::PermissionDenied), "{refused}");

    // A certificate from another CA does not get through the handshake at all.
    let other_ca = shimon_server::pki::Authority::new().unwrap();
    let stranger_dir = deployment.dir.path().join("stranger");
    std::fs::create_dir_all(&stranger_dir).unwrap();
    other_ca
        .issue_client("terminal")
        .unwrap()
        .write(&stranger_dir, "terminal")
        .unwrap();
    let stranger = ClientConfig {
        cert: stranger_dir.join("terminal.pem"),
        key: stranger_dir.join("terminal.key"),
        ..deployment.client("terminal", &server)
    };
    let outcome = match Agent::connect(&stranger).await {
        Ok(agent) => agent.verify("nobody", Purpose::Email, &finger).await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(outcome.is_err(), "a foreign certificate must not be served");
    if let Err(e) = &outcome {
        assert_ne!(
            rpc_code(e),
            Some(tonic::Code::NotFound),
            "the server must not answer it: {e}"
        );
    }

    // A terminal may not enroll, and a station may not verify.
    let channel = shimon_agent::connect(&deployment.client("terminal", &server))
        .await
        .unwrap();
    let denied = EnrollmentClient::new(channel)
        .register_user(RegisterUserRequest {
            user_id: "mallory".into(),
            name: "Mallory".into(),
            department: "accounts".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let as_station = Agent::connect(&deployment.client("station", &server)).await.unwrap();
    let denied = as_station.verify("nobody", Purpose::Email, &finger).await.unwrap_err();
    assert_eq!(rpc_code(&denied), Some(tonic::Code::PermissionDenied), "{denied}");

    // The unregistered certificate was raised to the system administrator, once.
    let incidents = admin_station(&deployment, &server)
        .await
        .administration()
        .list_incidents(shimon_proto::v1::ListIncidentsRequest { open_only: true })
        .await
        .unwrap()
        .into_inner()
        .incidents;
    let refused: Vec<_> = incidents
        .iter()
        .filter(|i| i.kind == shimon_proto::v1::IncidentKind::RefusedCertificate as i32)
        .collect();
    assert_eq!(refused.len(), 1, "{incidents:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finger_enrolled_to_someone_else_is_refused() {
    let deployment = Deployment::with_admin();
    let server = deployment.start();
    let station = station(&deployment, &server).await;
    enroll(&station, "alice", 101).await.unwrap();
    match enroll(&station, "bob", 101).await {
        Err(StationError::Rpc(e)) => {
            assert_eq!(e.code(), tonic::Code::AlreadyExists, "{e}");
            assert!(e.message().contains("already enrolled to another user"), "{e}");
        }
        other => panic!("the same fingers were enrolled twice: {other:?}"),
    }
    assert!(station.list_fingers("bob").await.unwrap().fingers.is_empty());
    // Enrolling alice again is refused too: re-enrollment replaces, enrollment does not.
    match enroll(&station, "alice", 101).await {
        Err(StationError::Rpc(e)) => assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e}"),
        other => panic!("a second enrollment went through: {other:?}"),
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollments_survive_a_restart_and_are_stored_only_encrypted() {
    let deployment = Deployment::with_admin();
    let server = deployment.start();
    enroll(&station(&deployment, &server).await, "alice", 101)
        .await
        .unwrap();
    server.kill();

    let server = deployment.start();
    let listed = station(&deployment, &server).await.list_fingers("alice").await.unwrap();
    assert_eq!(listed.fingers.len(), 2);
    assert_eq!(listed.record_version, 1);
    let result = agent(&deployment, &server)
        .await
        .verify("alice", Purpose::Website, &capture(101, Finger::RightIndex, 9))
        .await
        .unwrap();
    assert!(result.is_match());
    drop(server);

    // Our templates begin with the magic "SHMT"; an enrolled impression's template, extracted
    // here the same way, must not appear in any file of the store either.
    let image = capture(101, Finger::RightIndex, 1);
    let template = shimon_matcher::extract(
        &shimon_matcher::FingerprintImage::new(image.width, image.height, image.dpi, image.pixels).unwrap(),
    )
    .unwrap()
    .to_bytes();
    let probe = &template[..template.len().min(64)];
    let store = deployment.data.join("store");
    let files = files_under(&store);
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == b"SHMT"),
            "{} holds a template in the clear",
            file.display()
        );
        assert!(!bytes.windows(probe.len()).any(|w| w == probe), "{}", file.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_copied_to_another_user_does_not_open() {
    let deployment = Deployment::with_admin();
    let server = deployment.start();
    let station = station(&deployment, &server).await;
    enroll(&station, "alice", 101).await.unwrap();
    station.register_user("bob", "Bob", DEPARTMENT).await.unwrap();
    grant_all_purposes(&station, "bob").await;
    server.kill();

    // Someone with access to the store copies alice's sealed templates to bob.
    {
        let store = shimon_server::store::Store::open(&deployment.data.join("store")).unwrap();
        let record = store.enrollment("alice").unwrap().unwrap();
        store.transact(0, |tx| tx.put_enrollment("bob", &record)).unwrap();
    }
    let server = deployment.start();
    let agent = agent(&deployment, &server).await;
    let alice_finger = capture(101, Finger::RightIndex, 9);
    let refused = agent.verify("bob", Purpose::Email, &alice_finger).await.unwrap_err();
    assert_eq!(rpc_code(&refused), Some(tonic::Code::DataLoss), "{refused}");
    assert!(agent
        .verify("alice", Purpose::Email, &alice_finger)
        .await
        .unwrap()
        .is_match());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_clear_invalid_argument() {
    let deployment = Deployment::with_admin();
    let server = deployment.start();
    let station = station(&deployment, &server).await;
    let mut enrollment = station.enrollment();
    enrollment
        .register_user(RegisterUserRequest {
            user_id: "alice".into(),
            name: "Alice".into(),
            department: DEPARTMENT.into(),
        })
        .await
        .unwrap();
    let impressions = |finger| -> Vec<Image> {
        (1..=3)
            .map(|k| {
                let image = capture(101, finger, k);
                Image {
                    data: image.to_png().unwrap(),
                    dpi: image.dpi,
                }
            })
            .collect()
    };
    let (good, other) = (impressions(Finger::RightIndex), impressions(Finger::LeftIndex));
    let request = |fingers: Vec<(i32, Vec<Image>)>| EnrollRequest {
        user_id: "alice".into(),
        fingers: fingers
            .into_iter()
            .map(|(finger, impressions)| FingerImpressions { finger, impressions })
            .collect(),
    };
    let right = Finger::RightIndex as i32;
    let left = Finger::LeftIndex as i32;
    let with = |k: usize, image: Image| {
        let mut images = good.clone();
        images[k] = image;
        images
    };
    let cases = [
        ("one finger", request(vec![(right, good.clone())]), "at least 2"),
        (
            "two impressions",
            request(vec![(right, good[..2].to_vec()), (left, other.clone())]),
            "3 to 10",
        ),
        (
            "unknown finger",
            request(vec![(42, good.clone()), (left, other.clone())]),
            "unknown finger",
        ),
        (
            "empty image",
            request(vec![
                (right, with(1, Image { data: vec![], dpi: 500 })),
                (left, other.clone()),
            ]),
            "empty",
        ),
        (
            "undecodable image",
            request(vec![
                (
                    right,
                    with(
                        0,
                        Image {
                            data: b"GIF89a nonsense".to_vec(),
                            dpi: 500,
                        },
                    ),
                ),
                (left, other.clone()),
            ]),
            "decoded",
        ),
        (
            "absurd resolution",
            request(vec![
                (
                    right,
                    with(
                        2,
                        Image {
                            data: good[2].data.clone(),
                            dpi: 7,
                        },
                    ),
                ),
                (left, other.clone()),
            ]),
            "dpi",
        ),
        (
            "another finger among the impressions",
            request(vec![(right, with(2, other[0].clone())), (left, other.clone())]),
            "does not match",
        ),
    ];
    for (what, request, says) in cases {
        let status = enrollment.enroll(request).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{what}: {status:?}");
        assert!(status.message().contains(says), "{what}: {}", status.message());
    }

    let channel = shimon_agent::connect(&deployment.client("terminal", &server))
        .await
        .unwrap();
    let mut authentication = shimon_proto::v1::authentication_client::AuthenticationClient::new(channel);
    let verify = |purpose: Purpose, image: Option<Image>| VerifyRequest {
        user_id: "alice".into(),
        purpose: purpose as i32,
        image,
    };
    let status = authentication
        .verify(verify(Purpose::Unspecified, Some(good[0].clone())))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let status = authentication.verify(verify(Purpose::Email, None)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    // An oversized request is refused before it is decoded.
    let huge = Image {
        data: vec![0u8; shimon_server::server::MAX_VERIFY_REQUEST_BYTES + 1],
        dpi: 500,
    };
    let status = authentication
        .verify(verify(Purpose::Email, Some(huge)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("too large"), "{status:?}");
    // An image over the engine's limit inside a request the transport accepts is ours to refuse.
    let big = Image {
        data: vec![0u8; shimon_server::images::MAX_IMAGE_BYTES + 1],
        dpi: 500,
    };
    let status = authentication
        .verify(verify(Purpose::Email, Some(big)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("at most"), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_are_served() {
    let deployment = Deployment::new();
    let server = deployment.start();
    let channel = shimon_agent::connect(&deployment.client("terminal", &server))
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in [
        "shimon.v1.Enrollment",
        "shimon.v1.Authentication",
        "shimon.v1.Administration",
        "shimon.v1.Reporting",
    ] {
        let reply = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            reply.status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{service}"
        );
    }
    use tonic_reflection::pb::v1::{
        server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
        server_reflection_response::MessageResponse, ServerReflectionRequest,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("no service list: {reply:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "shimon.v1.Enrollment",
        "shimon.v1.Authentication",
        "shimon.v1.Administration",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_json_and_holds_no_image_template_or_key() {
    let deployment = Deployment::with_admin();
    let log = deployment.dir.path().join("server.log");
    let server = deployment.start_logging_to(&log);
    enroll(&station(&deployment, &server).await, "alice", 101)
        .await
        .unwrap();
    let agent = agent(&deployment, &server).await;
    assert!(agent
        .verify("alice", Purpose::Email, &good_capture(101, Finger::RightIndex, 9))
        .await
        .unwrap()
        .is_match());
    let refused = agent
        .verify("alice", Purpose::Email, &good_capture(202, Finger::RightIndex, 9))
        .await
        .unwrap();
    assert!(!refused.is_match());
    server.kill();

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 4, "the server logged its work: {text}");
    for line in &lines {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(entry.get("level").is_some() && entry.get("fields").is_some(), "{line}");
    }
    assert!(
        text.contains("\"fingers enrolled\"") && text.contains("\"verify\""),
        "{text}"
    );
    let master = std::fs::read(deployment.data.join("master.key")).unwrap();
    let mut secrets: Vec<String> = vec![hex::encode(&master), "SHMT".into(), "IHDR".into(), "PNG".into()];
    for pem in [
        "tls/server.key",
        "tls/ca.key",
        "clients/station.key",
        "clients/terminal.key",
    ] {
        let body = std::fs::read_to_string(deployment.data.join(pem)).unwrap();
        secrets.extend(body.lines().filter(|l| !l.starts_with("-----")).map(str::to_owned));
    }
    for secret in secrets {
        assert!(!text.contains(&secret), "the log holds {secret}");
    }
    assert!(!text.as_bytes().windows(master.len()).any(|w| w == master.as_slice()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_added_after_init_is_served() {
    let deployment = Deployment::new();
    let add = |name: &str| {
        std::process::Command::new(shimon_e2e::server_binary())
            .args([
                "add-client",
                "--kind",
                "terminal",
                "--department",
                "sales",
                "--name",
                name,
                "--data-dir",
            ])
            .arg(&deployment.data)
            .output()
            .unwrap()
    };
    let added = add("terminal-2");
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let again = add("terminal-2");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("registered already"));
    let bad = add("Terminal 3");
    assert!(!bad.status.success());

    let server = deployment.start();
    let busy = add("terminal-3");
    assert!(!busy.status.success(), "the store is locked while the server runs");
    assert!(String::from_utf8_lossy(&busy.stderr).contains("stop it first"));

    let config = ClientConfig {
        cert: deployment.data.join("clients/terminal-2.pem"),
        key: deployment.data.join("clients/terminal-2.key"),
        ..deployment.client("terminal", &server)
    };
    let agent = Agent::connect(&config).await.unwrap();
    let unknown = agent
        .verify("nobody", Purpose::Email, &capture(101, Finger::RightIndex, 9))
        .await
        .unwrap_err();
    assert_eq!(
        rpc_code(&unknown),
        Some(tonic::Code::NotFound),
        "served as a terminal: {unknown}"
    );
}
