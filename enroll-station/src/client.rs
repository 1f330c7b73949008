//! The station's client: signing the officer in with their finger (a session the server binds to
//! this station's certificate), then the `Enrollment` service (registering users, sending the
//! captured impressions of their fingers as PNG with their resolution, listing what is enrolled)
//! and the `Administration` and `Reporting` services, every call carrying the session.

use shimon_agent::{connect, ClientConfig};
use shimon_hal::FingerImage;
use shimon_proto::v1::administration_client::AdministrationClient;
use shimon_proto::v1::enrollment_client::EnrollmentClient;
use shimon_proto::v1::reporting_client::ReportingClient;
use shimon_proto::v1::{
    Decision, EnrollRequest, EnrollResponse, FingerImpressions, Image, ListFingersRequest, ListFingersResponse,
    RegisterUserRequest, SignInRequest, SignInResponse, SignOutRequest, User,
};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The metadata key that carries the session token (the server's `sessions::SESSION_METADATA`).
pub const SESSION_METADATA: &str = "x-shimon-session";

/// Adds the session token, if any, to every request.
#[derive(Debug, Clone, Default)]
pub struct SessionHeader(Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for SessionHeader {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            request.metadata_mut().insert(SESSION_METADATA, token.clone());
        }
        Ok(request)
    }
}

/// A channel whose requests carry the session.
pub type SessionChannel = InterceptedService<Channel, SessionHeader>;

use crate::capture::CapturedFinger;
use crate::error::StationError;
use crate::plan::{check_fingers, MIN_IMPRESSIONS};

/// Whether the fingers are enrolled for the first time or replace what is enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollMode {
    /// `Enroll`: the user has no finger enrolled yet.
    Enroll,
    /// `Reenroll`: everything enrolled is replaced, in one step.
    Reenroll,
}

/// Builds the request that enrolls `fingers` for `user_id`: each impression as PNG with its dpi,
/// after checking the enrollment rules (at least 2 different fingers, 3 impressions each).
pub fn build_enroll_request(user_id: &str, fingers: &[CapturedFinger]) -> Result<EnrollRequest, StationError> {
    let list: Vec<_> = fingers.iter().map(|f| f.finger).collect();
    check_fingers(&list)?;
    let mut request = EnrollRequest {
        user_id: user_id.to_string(),
        fingers: Vec::with_capacity(fingers.len()),
    };
    for captured in fingers {
        let given = u32::try_from(captured.impressions.len()).unwrap_or(u32::MAX);
        if given < MIN_IMPRESSIONS {
            return Err(StationError::Impressions {
                given,
                min: MIN_IMPRESSIONS,
                max: crate::plan::MAX_IMPRESSIONS,
            });
        }
        let mut impressions = Vec::with_capacity(captured.impressions.len());
        for (i, kept) in captured.impressions.iter().enumerate() {
            let data = kept.image.to_png().map_err(|error| StationError::Encode {
                finger: captured.finger,
                impression: u32::try_from(i + 1).unwrap_or(u32::MAX),
                error,
            })?;
            impressions.push(Image {
                data,
                dpi: kept.image.dpi,
            });
        }
        request.fingers.push(FingerImpressions {
            finger: captured.finger as i32,
            impressions,
        });
    }
    Ok(request)
}

/// A registration officer's station connected to the server.
#[derive(Debug, Clone)]
pub struct Station {
    channel: Channel,
    session: SessionHeader,
    client: EnrollmentClient<SessionChannel>,
}

impl Station {
    /// Connects to the server of `config`.
    pub async fn connect(config: &ClientConfig) -> Result<Station, StationError> {
        Ok(Station::from_channel(connect(config).await?))
    }

    /// A station over an open channel.
    pub fn from_channel(channel: Channel) -> Station {
        let session = SessionHeader::default();
        Station {
            client: EnrollmentClient::with_interceptor(channel.clone(), session.clone()),
            channel,
            session,
        }
    }

    /// Signs `user_id` in with one capture of their finger; later calls carry the session.
    /// [`StationError::SignInRefused`] when the finger does not match.
    pub async fn sign_in(&mut self, user_id: &str, image: &FingerImage) -> Result<SignInResponse, StationError> {
        let data = image.to_png().map_err(StationError::SignInImage)?;
        let request = SignInRequest {
            user_id: user_id.to_string(),
            image: Some(Image { data, dpi: image.dpi }),
        };
        let response = self.administration().sign_in(request).await?.into_inner();
        if response.decision != Decision::Match as i32 {
            return Err(StationError::SignInRefused(user_id.to_string()));
        }
        self.use_session(&response.token)?;
        Ok(response)
    }

    /// Uses a session token obtained earlier.
    pub fn use_session(&mut self, token: &str) -> Result<(), StationError> {
        let value: MetadataValue<Ascii> = token.parse().map_err(|_| StationError::SessionToken)?;
        self.session = SessionHeader(Some(value));
        self.client = EnrollmentClient::with_interceptor(self.channel.clone(), self.session.clone());
        Ok(())
    }

    /// Ends the session.
    pub async fn sign_out(&mut self) -> Result<(), StationError> {
        self.administration().sign_out(SignOutRequest {}).await?;
        self.session = SessionHeader::default();
        self.client = EnrollmentClient::with_interceptor(self.channel.clone(), self.session.clone());
        Ok(())
    }

    /// The `Administration` service, carrying the session.
    pub fn administration(&self) -> AdministrationClient<SessionChannel> {
        AdministrationClient::with_interceptor(self.channel.clone(), self.session.clone())
    }

    /// The `Enrollment` service, carrying the session (for requests built by hand).
    pub fn enrollment(&self) -> EnrollmentClient<SessionChannel> {
        self.client.clone()
    }

    /// The `Reporting` service, carrying the session (if any).
    pub fn reporting(&self) -> ReportingClient<SessionChannel> {
        ReportingClient::with_interceptor(self.channel.clone(), self.session.clone())
    }

    /// Registers a user.
    pub async fn register_user(&self, user_id: &str, name: &str, department: &str) -> Result<User, StationError> {
        let request = RegisterUserRequest {
            user_id: user_id.to_string(),
            name: name.to_string(),
            department: department.to_string(),
        };
        tracing::debug!(user = user_id, department, "register user");
        let response = self.client.clone().register_user(request).await?.into_inner();
        Ok(response.user.unwrap_or_default())
    }

    /// Enrolls (or, by `mode`, re-enrolls) the captured `fingers` of `user_id`.
    pub async fn enroll(
        &self,
        mode: EnrollMode,
        user_id: &str,
        fingers: &[CapturedFinger],
    ) -> Result<EnrollResponse, StationError> {
        let request = build_enroll_request(user_id, fingers)?;
        self.send_enroll(mode, request).await
    }

    /// Sends an enrollment request as built (see [`build_enroll_request`]).
    pub async fn send_enroll(&self, mode: EnrollMode, request: EnrollRequest) -> Result<EnrollResponse, StationError> {
        tracing::debug!(user = %request.user_id, fingers = request.fingers.len(), ?mode, "enroll");
        let mut client = self.client.clone();
        let response = match mode {
            EnrollMode::Enroll => client.enroll(request).await?,
            EnrollMode::Reenroll => client.reenroll(request).await?,
        };
        Ok(response.into_inner())
    }

    /// The enrolled fingers of `user_id`.
    pub async fn list_fingers(&self, user_id: &str) -> Result<ListFingersResponse, StationError> {
        let request = ListFingersRequest {
            user_id: user_id.to_string(),
        };
        Ok(self.client.clone().list_fingers(request).await?.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CapturedImpression;
    use shimon_hal::FingerImage;
    use shimon_proto::v1::Finger;

    fn captured(finger: Finger, n: usize) -> CapturedFinger {
        let image = FingerImage {
            width: 64,
            height: 80,
            dpi: 500,
            pixels: (0..64 * 80).map(|i| (i % 251) as u8).collect(),
        };
        CapturedFinger {
            finger,
            impressions: vec![
                CapturedImpression {
                    image,
                    quality: 50,
                    attempts: 1,
                };
                n
            ],
        }
    }

    #[test]
    fn the_request_carries_png_images_with_their_dpi() {
        let fingers = [captured(Finger::RightIndex, 3), captured(Finger::LeftIndex, 4)];
        let request = build_enroll_request("hanako", &fingers).unwrap();
        assert_eq!(request.user_id, "hanako");
        assert_eq!(request.fingers.len(), 2);
        assert_eq!(request.fingers[0].finger, Finger::RightIndex as i32);
        assert_eq!(request.fingers[1].finger, Finger::LeftIndex as i32);
        assert_eq!(request.fingers[1].impressions.len(), 4);
        let image = &request.fingers[0].impressions[0];
        assert_eq!(image.dpi, 500);
        let decoded = FingerImage::decode(&image.data, image.dpi).unwrap();
        assert_eq!(decoded, fingers[0].impressions[0].image);
    }

    #[test]
    fn a_request_that_breaks_the_rules_is_not_built() {
        assert!(matches!(
            build_enroll_request("u", &[captured(Finger::RightIndex, 3)]),
            Err(StationError::TooFewFingers { .. })
        ));
        assert!(matches!(
            build_enroll_request("u", &[captured(Finger::RightIndex, 3), captured(Finger::RightIndex, 3)]),
            Err(StationError::DuplicateFinger(Finger::RightIndex))
        ));
        assert!(matches!(
            build_enroll_request("u", &[captured(Finger::RightIndex, 3), captured(Finger::LeftIndex, 2)]),
            Err(StationError::Impressions { given: 2, .. })
        ));
    }
}
