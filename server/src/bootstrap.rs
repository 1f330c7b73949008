//! The first administrators of a new deployment (`shimon-server bootstrap`): nobody can sign in
//! at a station before someone holds a role, so on the server host, with the server stopped, a
//! reader enrolls the first general manager and system administrator (one person or two) straight
//! into the store. Each role can be bootstrapped only while nobody holds it; everything after
//! that goes through a station and the roles' own checks. The act is audited like any other.

use crate::config::Config;
use crate::keys;
use crate::policy::{Role, RoleGrant};
use crate::service::{check_text, check_user_id, Shimon};
use crate::store::Store;
use anyhow::{anyhow, bail, Context};
use shimon_hal::{CancelHandle, Reader};
use shimon_proto::v1::{EnrollRequest, Finger, FingerImpressions, Image};
use std::time::Duration;

/// Quality (0 to 100) an impression must reach, or it is captured again (as the station does).
pub const MIN_CAPTURE_QUALITY: u8 = 40;
/// Captures of one impression before giving up on a finger.
pub const MAX_CAPTURES_PER_IMPRESSION: u32 = 5;

/// Who to create, and how to capture their fingers.
pub struct BootstrapOptions {
    pub user_id: String,
    pub name: String,
    pub department: String,
    pub roles: Vec<Role>,
    pub fingers: Vec<Finger>,
    pub impressions: u32,
    pub source: FingerSource,
    /// How long each capture waits for a finger.
    pub timeout: Duration,
}

/// Where the fingers come from.
pub enum FingerSource {
    /// A reader by id (see `shimon-reader list`); the person is asked for each finger.
    Reader(String),
    /// Simulated person with this seed (the same people as the clients' `--simulated`).
    Simulated(u64),
}

/// The engine's quality of a capture (0 when no fingerprint can be read).
fn quality_of(image: &shimon_hal::FingerImage) -> u8 {
    shimon_matcher::FingerprintImage::new(image.width, image.height, image.dpi, image.pixels.clone())
        .ok()
        .and_then(|i| shimon_matcher::extract(&i).ok())
        .map_or(0, |t| t.quality)
}

/// Captures the person's fingers and stores them with their roles. Returns what was enrolled.
pub fn bootstrap(config: &Config, options: &BootstrapOptions) -> anyhow::Result<String> {
    check_user_id(&options.user_id).map_err(|s| anyhow!("{}", s.message()))?;
    check_text("name", &options.name).map_err(|s| anyhow!("{}", s.message()))?;
    check_text("department", &options.department).map_err(|s| anyhow!("{}", s.message()))?;
    if options.roles.is_empty() {
        bail!("name at least one role");
    }
    if options
        .roles
        .iter()
        .any(|r| !matches!(r, Role::GeneralManager | Role::SystemAdministrator))
    {
        bail!("only the general manager and the system administrator are bootstrapped; they name the others");
    }
    let store = Store::open(&config.store).with_context(|| {
        format!(
            "cannot open the store {} (stop the server first: it locks the store)",
            config.store.display()
        )
    })?;
    for user in store.users()? {
        if let Some(role) = options.roles.iter().find(|r| user.roles.iter().any(|g| g.role == **r)) {
            bail!(
                "{} holds the role {role:?} already; further administrators are named at a station",
                user.user_id
            );
        }
    }
    let master = keys::load_master(&config.master_key, &store)?;
    let shimon = Shimon::new(store, master, config.master_key.clone(), config.clone())?;

    let mut fingers = Vec::new();
    for &finger in &options.fingers {
        let mut reader: Box<dyn Reader> = match &options.source {
            FingerSource::Reader(id) => shimon_hal::open(id)?,
            FingerSource::Simulated(seed) => Box::new(shimon_hal::SimulatedReader::new(shimon_hal::sim::finger_seed(
                *seed,
                finger as i32 as u32,
            ))),
        };
        let mut impressions = Vec::new();
        for k in 1..=options.impressions {
            let mut captured = None;
            for attempt in 1..=MAX_CAPTURES_PER_IMPRESSION {
                eprintln!(
                    "place {} on the reader ({k} of {})",
                    finger.cli_name(),
                    options.impressions
                );
                let image = reader
                    .capture(options.timeout, &CancelHandle::new())
                    .with_context(|| format!("capturing {}", finger.cli_name()))?;
                let quality = quality_of(&image);
                if quality >= MIN_CAPTURE_QUALITY {
                    captured = Some(image);
                    break;
                }
                eprintln!("  quality {quality} is below {MIN_CAPTURE_QUALITY}; again ({attempt} of {MAX_CAPTURES_PER_IMPRESSION})");
            }
            let image = captured.ok_or_else(|| {
                anyhow!(
                    "{}: {MAX_CAPTURES_PER_IMPRESSION} captures were all poor; clean the finger and the reader, or choose another finger",
                    finger.cli_name()
                )
            })?;
            impressions.push(Image {
                data: image.to_png()?,
                dpi: image.dpi,
            });
        }
        fingers.push(FingerImpressions {
            finger: finger as i32,
            impressions,
        });
    }
    let request = EnrollRequest {
        user_id: options.user_id.clone(),
        fingers,
    };
    let roles: Vec<RoleGrant> = options.roles.iter().map(|&r| RoleGrant::unscoped(r)).collect();
    let user = {
        let master = shimon.master();
        shimon
            .new_user_record(&master, &options.user_id, &options.name, &options.department, roles)
            .map_err(|s| anyhow!("{}", s.message()))?
    };
    let enrolled = shimon
        .enroll_as("bootstrap", "server-host", &user, &request, false, true)
        .map_err(|s| anyhow!("{}", s.message()))?;
    Ok(format!(
        "{} enrolled with {} fingers as {:?}",
        options.user_id,
        enrolled.fingers.len(),
        options.roles
    ))
}
