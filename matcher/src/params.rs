//! Every tuning parameter of the engine, in one place, each with its unit.
//!
//! Distances are in pixels at [`INTERNAL_DPI`] unless the name says otherwise; the engine resamples
//! every image to that resolution first, so no parameter depends on the sensor.

/// Lowest input resolution accepted, dots per inch.
pub const MIN_DPI: u32 = 250;
/// Highest input resolution accepted, dots per inch.
pub const MAX_DPI: u32 = 1000;
/// The resolution every stage works at, dots per inch.
pub const INTERNAL_DPI: u32 = 500;
/// Smallest side an input image may have, millimetres (about 5 ridges).
pub const MIN_IMAGE_SIDE_MM: f32 = 4.0;
/// Largest side an input image may have, pixels (a 2.5 inch slap at 1000 dpi is 2,500 px).
pub const MAX_IMAGE_SIDE_PX: u32 = 4096;
/// Most minutiae a template may hold.
pub const MAX_MINUTIAE: usize = 255;

/// Side of the square blocks in which orientation, frequency and the foreground are estimated, px.
pub const BLOCK_SIZE_PX: usize = 8;

/// Segmentation: blocks whose gradient strength (RMS, grey levels per pixel, smoothed) is below
/// this fraction of the reference strength are background.
pub const SEGMENTATION_RELATIVE_THRESHOLD: f32 = 0.25;
/// Segmentation: the reference strength is this percentile of all blocks' strengths.
pub const SEGMENTATION_REFERENCE_PERCENTILE: f32 = 0.95;
/// Segmentation: an image whose reference strength (RMS gradient, grey levels) is below this is blank.
pub const SEGMENTATION_MIN_ENERGY: f32 = 8.0;
/// Segmentation: smoothing of the block strengths, in blocks.
pub const SEGMENTATION_SMOOTHING_SIGMA_BLOCKS: f32 = 1.0;
/// Segmentation: fewest foreground blocks that make a usable finger (about 5 mm x 5 mm).
pub const SEGMENTATION_MIN_FOREGROUND_BLOCKS: usize = 16;

/// Orientation: Gaussian smoothing of the structure tensor, in blocks.
pub const ORIENTATION_SMOOTHING_SIGMA_BLOCKS: f32 = 1.5;

/// Shortest ridge period accepted, px (about 0.2 mm).
pub const MIN_RIDGE_PERIOD_PX: f32 = 4.0;
/// Longest ridge period accepted, px (about 0.8 mm).
pub const MAX_RIDGE_PERIOD_PX: f32 = 16.0;
/// Period assumed where none can be measured, px.
pub const TYPICAL_RIDGE_PERIOD_PX: f32 = 9.0;
/// Frequency: length of the profile taken across the ridges, px.
pub const FREQUENCY_PROFILE_LENGTH_PX: usize = 40;
/// Frequency: width of the band summed along the ridges into each profile sample, px.
pub const FREQUENCY_PROFILE_WIDTH_PX: usize = 9;
/// Frequency: the autocorrelation peak must reach this fraction of the zero-lag value.
pub const FREQUENCY_MIN_PEAK_CORRELATION: f32 = 0.2;
/// Frequency: smoothing of the period map, in blocks.
pub const FREQUENCY_SMOOTHING_SIGMA_BLOCKS: f32 = 1.5;

/// Enhancement: orientations the filters are tuned to (over 180 degrees).
pub const ENHANCEMENT_ORIENTATION_BINS: usize = 24;
/// Enhancement: ridge periods the filters are tuned to are this far apart, px.
pub const ENHANCEMENT_PERIOD_STEP_PX: f32 = 0.5;
/// Enhancement: Gaussian smoothing along the ridge, px.
pub const ENHANCEMENT_ALONG_SIGMA_PX: f32 = 4.0;
/// Enhancement: width of the Gabor envelope across the ridge, in ridge periods.
pub const ENHANCEMENT_ACROSS_SIGMA_PERIODS: f32 = 0.5;

/// Binarisation, thinning and the skeleton graph work on a grid this many times finer than the
/// internal resolution (750 dpi): ridges then are about 7 px wide, and thinning them keeps their
/// shape and joins far better than at 4-5 px. The lengths of those stages, from here down to
/// [`FRAGMENT_MAX_LENGTH_PX`], are in pixels of that finer grid.
pub const SKELETON_UPSAMPLING: f32 = 1.5;

/// Binarisation: ridge or valley regions smaller than this many pixels are noise and are flipped,
/// skeleton grid px.
pub const BINARY_MIN_REGION_PX: usize = 40;

/// Minutiae: a minutia's direction is taken towards the point this far along its ridge, skeleton
/// grid px.
pub const DIRECTION_TRACE_PX: f32 = 10.0;
/// Minutiae: a traced direction within this of the ridge orientation is replaced by it, radians.
pub const DIRECTION_SNAP_MAX_RAD: f32 = 0.8;

/// Filtering: a ridge from a fork to a free end no longer than this is a spur, px of ridge.
pub const SPUR_MAX_LENGTH_PX: usize = 12;
/// Filtering: two forks joined by two ridges no longer than this enclose a lake (or pore), px.
pub const LAKE_MAX_LENGTH_PX: usize = 20;
/// Filtering: a ridge joining two forks no longer than this may be a bridge, px.
pub const BRIDGE_MAX_LENGTH_PX: usize = 12;
/// Filtering: ... if it crosses the ridge flow at least at this angle, radians (45 degrees).
pub const BRIDGE_MIN_ANGLE_RAD: f32 = std::f32::consts::FRAC_PI_4;
/// Filtering: two free ends at most this far apart, facing each other, are a broken ridge, px.
pub const BREAK_MAX_GAP_PX: f32 = 20.0;
/// Filtering: how far a free end may point away from the other end of a break, radians (40 degrees).
pub const BREAK_ANGLE_TOLERANCE_RAD: f32 = 0.7;
/// Filtering: a ridge with two free ends no longer than this is a fragment, px.
pub const FRAGMENT_MAX_LENGTH_PX: usize = 20;
/// Filtering: minutiae closer than this to the edge of the finger are dropped, px (internal
/// resolution again, as for everything below).
pub const BORDER_MARGIN_PX: f32 = 14.0;
/// Filtering: a minutia with more than [`CLUSTER_MAX_NEIGHBOURS`] others within this radius is
/// noise, px.
pub const CLUSTER_RADIUS_PX: f32 = 12.0;
/// Filtering: see [`CLUSTER_RADIUS_PX`].
pub const CLUSTER_MAX_NEIGHBOURS: usize = 2;

/// Quality: orientation coherence at or below which ridges count as unreadable.
pub const QUALITY_POOR_COHERENCE: f32 = 0.2;
/// Quality: orientation coherence at or above which ridges count as perfectly clear.
pub const QUALITY_GOOD_COHERENCE: f32 = 0.7;
/// Quality: foreground blocks for full marks on area (about 12 mm x 12 mm).
pub const QUALITY_FULL_AREA_BLOCKS: usize = 576;

/// Comparison: edges are drawn from each minutia to at most this many nearest neighbours.
pub const NEIGHBOURS_PER_MINUTIA: usize = 12;
/// Comparison: edges longer than this are not drawn, px.
pub const MAX_EDGE_LENGTH_PX: f32 = 150.0;
/// Comparison: two edges match if their lengths differ by at most this many px ...
pub const EDGE_LENGTH_TOLERANCE_PX: f32 = 6.0;
/// ... plus this fraction of their length (skin stretches).
pub const EDGE_LENGTH_TOLERANCE_FRACTION: f32 = 0.08;
/// Comparison: and each minutia's direction relative to the edge differs by at most this, radians
/// (about 25 degrees).
pub const EDGE_ANGLE_TOLERANCE_RAD: f32 = 0.33;
/// Comparison: roots are found from the edges to this many nearest neighbours of each minutia.
/// (8 gave the same accuracy on the six FVC databases at about 10% more time a comparison; 5 lost
/// true roots: mean EER 4.04% -> 4.35%.)
pub const ROOT_NEIGHBOURS: usize = 6;
/// Comparison: width of the length bins in which a probe's edges are filed, px.
pub const EDGE_INDEX_LENGTH_BIN_PX: f32 = 10.0;
/// Comparison: pairings are grown from this many of the best root pairs.
pub const ROOT_CANDIDATES: usize = 30;
/// Comparison: after growing pairings from this many roots, ...
pub const EARLY_ROOTS: usize = 4;
/// ... the comparison stops if none of them has at least this much evidence (see `scoring`).
pub const EARLY_MIN_EVIDENCE: f32 = 3.0;
/// Comparison: once a pairing holds this many pairs, ...
pub const MIN_PAIRS_BEFORE_CONFIRMATION: usize = 3;
/// ... a new pair needs at least this many of its own edges agreeing with paired neighbours.
pub const MIN_AGREEING_EDGES: u32 = 1;
/// Comparison: a pairing of at least this many pairs grown elsewhere on the prints may join the best
/// one (where distortion or a gap in the ridges stopped the best one from growing there) ...
pub const JOIN_MIN_PAIRS: usize = 3;
/// ... when its rigid rotation differs from the best one's by at most this, radians (17 degrees) ...
pub const JOIN_ROTATION_TOLERANCE_RAD: f32 = 0.3;
/// ... and the best one's rigid placement puts its centre at most this far from where it lies, px.
pub const JOIN_POSITION_TOLERANCE_PX: f32 = 40.0;
/// Scoring: a minutia counts as inside the area both prints cover when it lies this close to a
/// minutia of the other print after alignment, px.
pub const OVERLAP_RADIUS_PX: f32 = 30.0;
/// Scoring: an agreeing edge counts `(1 - mismatch / worst) ^ this`: 0 counts every agreeing edge
/// fully, higher values favour close agreement.
pub const SUPPORT_CLOSENESS_EXPONENT: f32 = 2.0;
/// Scoring: the score is weighed by (paired share of the overlap) ^ this.
pub const SCORE_OVERLAP_EXPONENT: f32 = 0.5;
/// Scoring: a pair counts as aligned when its two minutiae land this close after rigid alignment, px.
pub const ALIGNED_PAIR_RADIUS_PX: f32 = 25.0;
/// Scoring: the score is weighed by (share of aligned pairs) ^ this.
pub const SCORE_ALIGNMENT_EXPONENT: f32 = 2.0;

/// Ridge flow: side of the square cells in which a template keeps the ridge orientation, px (a
/// whole number of [`BLOCK_SIZE_PX`] blocks; 16 px is about two ridges). 8 px cells scored no
/// better on the six FVC databases at four times the work; 24 and 32 px lost accuracy.
pub const FLOW_CELL_PX: usize = 16;
/// Scoring: ridge flows that agree with a closeness (coherence-weighted mean cosine of twice the
/// orientation gap, 1 for identical flow; see `flow`) above this earn a bonus, growing linearly
/// to [`FLOW_BONUS_MAX`] at full agreement. On the six FVC databases two different fingers
/// average 0.45-0.55 and two impressions of one finger 0.89-0.97 (each database's mean).
pub const FLOW_AGREEMENT_FLOOR: f32 = 0.9;
/// Scoring: the largest bonus that agreeing ridge flow adds to the minutiae score.
pub const FLOW_BONUS_MAX: f32 = 6.0;
/// Scoring: the bonus is scaled down where the prints share fewer cells than this (about 6 x 6
/// mm), so that a small overlap cannot earn it by chance.
pub const FLOW_FULL_OVERLAP_CELLS: u32 = 50;
