//! Crash safety: the server is killed (SIGKILL) at random moments while a station streams
//! enrollments at it; after each restart, every enrollment the server had acknowledged is there,
//! and the audit log's chain is still whole.

use shimon_e2e::{admin_station, Deployment, DEPARTMENT};
use shimon_proto::v1::{EnrollRequest, Finger, FingerImpressions, Image, ListFingersRequest, RegisterUserRequest};
use std::time::Duration;

/// People enrolled over the whole test.
const PEOPLE: u64 = 16;
/// Times the server is killed.
const KILLS: usize = 4;

/// The enrollment request of simulated person `person` as user `user`: two fingers, three
/// impressions each.
fn enrollment(user: &str, person: u64) -> EnrollRequest {
    let fingers = [Finger::RightIndex, Finger::LeftIndex]
        .into_iter()
        .map(|finger| {
            let mut reader = shimon_agent::person::simulated_reader(person, finger);
            let cancel = shimon_hal::CancelHandle::new();
            let impressions = (0..3)
                .map(|_| {
                    let image = shimon_hal::Reader::capture(&mut reader, Duration::from_secs(5), &cancel).unwrap();
                    Image {
                        data: image.to_png().unwrap(),
                        dpi: image.dpi,
                    }
                })
                .collect();
            FingerImpressions {
                finger: finger as i32,
                impressions,
            }
        })
        .collect();
    EnrollRequest {
        user_id: user.into(),
        fingers,
    }
}

/// Whether a call failed because the server died under it (rather than refusing the request).
fn cut_by_kill(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
    )
}

/// A tiny xorshift for the kill times: the test is random in when it kills, but reproducible.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_enrollment_survives_a_kill() {
    let deployment = Deployment::with_admin();
    let requests: Vec<(String, EnrollRequest)> = (0..PEOPLE)
        .map(|k| {
            let user = format!("user{k}");
            let request = enrollment(&user, 9000 + k);
            (user, request)
        })
        .collect();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill schedule seed {seed}");
    let mut random = Xorshift(seed);
    // (user, record version) of every acknowledged enrollment.
    let mut acknowledged: Vec<(String, u64)> = Vec::new();
    let mut registered: Vec<String> = Vec::new();
    let mut next = 0usize;
    for round in 0..=KILLS {
        let server = deployment.start();
        // Sessions do not outlive the server: root signs in again after each restart.
        let station = admin_station(&deployment, &server).await;
        let mut client = station.enrollment();
        // Everything acknowledged before the last kill is still there.
        for (user, version) in &acknowledged {
            let listed = client
                .list_fingers(ListFingersRequest { user_id: user.clone() })
                .await
                .unwrap_or_else(|e| panic!("round {round}: {user} was acknowledged but is gone: {e}"))
                .into_inner();
            assert!(
                listed.record_version >= *version,
                "round {round}: {user} lost its enrollment"
            );
            assert_eq!(listed.fingers.len(), 2, "round {round}: {user}");
        }
        if round == KILLS {
            break;
        }
        // Stream enrollments and kill the server at a random moment among them.
        let stream = async {
            while next < requests.len() {
                let (user, request) = &requests[next];
                if !registered.contains(user) {
                    let registration = client
                        .register_user(RegisterUserRequest {
                            user_id: user.clone(),
                            name: format!("Person {user}"),
                            department: DEPARTMENT.into(),
                        })
                        .await;
                    match registration {
                        Ok(_) => registered.push(user.clone()),
                        Err(e) if e.code() == tonic::Code::AlreadyExists => registered.push(user.clone()),
                        Err(e) if cut_by_kill(&e) => return,
                        Err(e) => panic!("{user}: the server refused a registration: {e}"),
                    }
                }
                // Reenroll stores whether or not an earlier, unacknowledged call got through.
                match client.reenroll(request.clone()).await {
                    Ok(reply) => acknowledged.push((user.clone(), reply.into_inner().record_version)),
                    // A connection cut by the kill: not acknowledged, so nothing is owed.
                    Err(e) if cut_by_kill(&e) => return,
                    // The engine may judge two synthetic fingers alike and refuse the set: that
                    // is a refusal, not an acknowledgement, and this test is about durability.
                    Err(e) if matches!(e.code(), tonic::Code::InvalidArgument | tonic::Code::AlreadyExists) => {
                        eprintln!("{user}: refused ({})", e.message())
                    }
                    Err(e) => panic!("{user}: the enrollment failed: {e}"),
                }
                next += 1;
            }
        };
        let kill_after = Duration::from_millis(100 + random.below(1500));
        let _ = tokio::time::timeout(kill_after, stream).await;
        eprintln!("round {round}: {} acknowledged so far", acknowledged.len());
        server.kill();
    }
    assert!(
        acknowledged.len() >= 2,
        "the test must see enrollments acknowledged (saw {})",
        acknowledged.len()
    );
    // No kill broke the audit chain: each act and its entry were stored together or not at all.
    let verified = std::process::Command::new(shimon_e2e::server_binary())
        .args(["audit", "verify", "--data-dir"])
        .arg(&deployment.data)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success() && said.contains("intact"), "{said}");
}
