//! Drawing for `shimon-fp show`: the image resampled to the engine's internal resolution, the
//! background outside the foreground mask tinted and the mask's edge outlined, optionally the ridge
//! skeleton, and each minutia as a small circle with a line along its direction.
//!
//! Colours: endings red, bifurcations blue, mask edge yellow, background tinted dark blue,
//! skeleton green, minutiae of the NBIS peer (when asked) orange squares.

use image::imageops::{resize, FilterType};
use image::{GrayImage, Rgb, RgbImage};
use shimon_matcher::params::INTERNAL_DPI;
use shimon_matcher::{Extraction, MinutiaKind};

use crate::engines::PeerMinutia;
use crate::load::GreyImage;

/// Colour of a ridge ending.
pub const ENDING_RGB: [u8; 3] = [230, 30, 30];
/// Colour of a bifurcation.
pub const BIFURCATION_RGB: [u8; 3] = [40, 110, 255];
/// Colour of the foreground mask's edge.
pub const MASK_EDGE_RGB: [u8; 3] = [255, 215, 0];
/// Colour mixed into the background (outside the mask).
pub const BACKGROUND_TINT_RGB: [u8; 3] = [20, 40, 110];
/// Share of the tint in a background pixel, 0 to 1.
pub const BACKGROUND_TINT_WEIGHT: f32 = 0.45;
/// Colour of the ridge skeleton.
pub const SKELETON_RGB: [u8; 3] = [0, 170, 60];
/// Colour of the peer's minutiae.
pub const PEER_RGB: [u8; 3] = [255, 140, 0];
/// Radius of a minutia's circle, pixels at the internal resolution.
pub const MINUTIA_RADIUS_PX: f32 = 4.0;
/// Length of a minutia's direction line, pixels at the internal resolution.
pub const MINUTIA_LINE_PX: f32 = 12.0;
/// Largest drawing scale accepted.
pub const MAX_SCALE: u32 = 8;

/// What to draw.
#[derive(Debug, Clone, Copy)]
pub struct ShowOptions {
    /// Output pixels per internal pixel (1 to [`MAX_SCALE`]).
    pub scale: u32,
    /// Overlay the ridge skeleton.
    pub skeleton: bool,
}

impl Default for ShowOptions {
    fn default() -> Self {
        Self {
            scale: 2,
            skeleton: false,
        }
    }
}

/// Resamples a grey image scanned at `dpi` to [`INTERNAL_DPI`] (bilinear).
pub fn to_internal_resolution(image: &GreyImage, dpi: u32) -> GrayImage {
    let grey = GrayImage::from_raw(image.width, image.height, image.pixels.clone())
        .unwrap_or_else(|| GrayImage::new(image.width, image.height));
    if dpi == INTERNAL_DPI {
        return grey;
    }
    let scale = INTERNAL_DPI as f64 / dpi as f64;
    let w = ((image.width as f64 * scale).round() as u32).max(1);
    let h = ((image.height as f64 * scale).round() as u32).max(1);
    resize(&grey, w, h, FilterType::Triangle)
}

/// Draws an image (scanned at `dpi`) with what shimon found in it and, optionally, the peer's
/// minutiae (already in the internal frame).
pub fn render(
    image: &GreyImage,
    dpi: u32,
    extraction: Option<&Extraction>,
    peer: &[PeerMinutia],
    options: ShowOptions,
) -> RgbImage {
    let mut grey = to_internal_resolution(image, dpi);
    if let Some(e) = extraction {
        // Draw on the template's canvas; the engine's rounding may differ from ours by a pixel.
        let (w, h) = (u32::from(e.template.width), u32::from(e.template.height));
        if (w, h) != grey.dimensions() && w > 0 && h > 0 {
            grey = resize(&grey, w, h, FilterType::Triangle);
        }
    }
    let (w, h) = grey.dimensions();
    let mut canvas = RgbImage::from_fn(w, h, |x, y| {
        let v = grey.get_pixel(x, y).0[0];
        Rgb([v, v, v])
    });

    if let Some(e) = extraction {
        let bs = e.block_size_px.max(1);
        let fg = |bx: i64, by: i64| foreground_block(e, bx, by);
        for (x, y, px) in canvas.enumerate_pixels_mut() {
            if !fg(i64::from(x / bs), i64::from(y / bs)) {
                for (c, t) in px.0.iter_mut().zip(BACKGROUND_TINT_RGB) {
                    *c = (*c as f32 * (1.0 - BACKGROUND_TINT_WEIGHT) + t as f32 * BACKGROUND_TINT_WEIGHT) as u8;
                }
            }
        }
        // The skeleton lies on its own, finer grid: each of its pixels goes to the one it falls in.
        let (sw, sh) = (e.skeleton_width, e.skeleton_height);
        if options.skeleton && sw > 0 && sh > 0 && e.skeleton.len() == (sw * sh) as usize {
            for (i, _) in e.skeleton.iter().enumerate().filter(|(_, on)| **on) {
                let (x, y) = (i as u32 % sw * w / sw, i as u32 / sw * h / sh);
                canvas.put_pixel(x.min(w - 1), y.min(h - 1), Rgb(SKELETON_RGB));
            }
        }
    }

    let s = options.scale.clamp(1, MAX_SCALE);
    let mut canvas = if s > 1 {
        resize(&canvas, w * s, h * s, FilterType::Nearest)
    } else {
        canvas
    };
    let sf = s as f32;

    if let Some(e) = extraction {
        // The mask's edge: each side of a foreground block that borders background.
        let bs = e.block_size_px.max(1) as f32 * sf;
        let is_fg = |bx: i64, by: i64| foreground_block(e, bx, by);
        for by in 0..i64::from(e.blocks_high) {
            for bx in 0..i64::from(e.blocks_wide) {
                if !is_fg(bx, by) {
                    continue;
                }
                let (x0, y0) = (bx as f32 * bs, by as f32 * bs);
                let (x1, y1) = (x0 + bs - 1.0, y0 + bs - 1.0);
                let edge = Rgb(MASK_EDGE_RGB);
                if !is_fg(bx, by - 1) {
                    line(&mut canvas, (x0, y0), (x1, y0), edge);
                }
                if !is_fg(bx, by + 1) {
                    line(&mut canvas, (x0, y1), (x1, y1), edge);
                }
                if !is_fg(bx - 1, by) {
                    line(&mut canvas, (x0, y0), (x0, y1), edge);
                }
                if !is_fg(bx + 1, by) {
                    line(&mut canvas, (x1, y0), (x1, y1), edge);
                }
            }
        }
    }

    for m in peer {
        let (x, y) = (m.x * sf, m.y * sf);
        let r = MINUTIA_RADIUS_PX * sf;
        let c = Rgb(PEER_RGB);
        line(&mut canvas, (x - r, y - r), (x + r, y - r), c);
        line(&mut canvas, (x + r, y - r), (x + r, y + r), c);
        line(&mut canvas, (x + r, y + r), (x - r, y + r), c);
        line(&mut canvas, (x - r, y + r), (x - r, y - r), c);
        let l = MINUTIA_LINE_PX * sf;
        line(&mut canvas, (x, y), (x + l * m.angle.cos(), y + l * m.angle.sin()), c);
    }

    if let Some(e) = extraction {
        for m in &e.template.minutiae {
            let c = Rgb(match m.kind {
                MinutiaKind::Ending => ENDING_RGB,
                MinutiaKind::Bifurcation => BIFURCATION_RGB,
            });
            let (x, y) = (f32::from(m.x) * sf, f32::from(m.y) * sf);
            let r = MINUTIA_RADIUS_PX * sf;
            circle(&mut canvas, (x, y), r, c);
            circle(&mut canvas, (x, y), r + 1.0, c);
            let l = MINUTIA_LINE_PX * sf;
            let end = (x + l * m.angle.cos(), y + l * m.angle.sin());
            line(&mut canvas, (x + r * m.angle.cos(), y + r * m.angle.sin()), end, c);
        }
    }
    canvas
}

fn plot(canvas: &mut RgbImage, x: f32, y: f32, c: Rgb<u8>) {
    let (x, y) = (x.round(), y.round());
    if x >= 0.0 && y >= 0.0 && (x as u32) < canvas.width() && (y as u32) < canvas.height() {
        canvas.put_pixel(x as u32, y as u32, c);
    }
}

/// A straight line, stepped one pixel at a time along its longer axis.
fn line(canvas: &mut RgbImage, from: (f32, f32), to: (f32, f32), c: Rgb<u8>) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let steps = dx.abs().max(dy.abs()).ceil().clamp(1.0, 100_000.0) as u32;
    for i in 0..=steps {
        let t = i as f32 / steps as f32;
        plot(canvas, from.0 + t * dx, from.1 + t * dy, c);
    }
}

/// A circle outline, stepped finely enough to leave no gaps.
fn circle(canvas: &mut RgbImage, centre: (f32, f32), r: f32, c: Rgb<u8>) {
    let steps = ((2.0 * std::f32::consts::PI * r).ceil() as u32 * 2).clamp(8, 100_000);
    for i in 0..steps {
        let a = i as f32 / steps as f32 * 2.0 * std::f32::consts::PI;
        plot(canvas, centre.0 + r * a.cos(), centre.1 + r * a.sin(), c);
    }
}

/// Whether block (`bx`, `by`) of the extraction's mask holds finger (`false` outside the mask).
fn foreground_block(e: &Extraction, bx: i64, by: i64) -> bool {
    bx >= 0
        && by >= 0
        && (bx as u32) < e.blocks_wide
        && (by as u32) < e.blocks_high
        && e.foreground
            .get((by as u32 * e.blocks_wide + bx as u32) as usize)
            .copied()
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shimon_matcher::{Minutia, Template};

    #[test]
    fn resamples_to_internal_resolution() {
        let img = GreyImage {
            width: 200,
            height: 100,
            pixels: vec![128; 20_000],
        };
        assert_eq!(to_internal_resolution(&img, 1000).dimensions(), (100, 50));
        assert_eq!(to_internal_resolution(&img, 500).dimensions(), (200, 100));
    }

    #[test]
    fn draws_mask_and_minutiae_in_their_colours() {
        let img = GreyImage {
            width: 64,
            height: 64,
            pixels: vec![200; 64 * 64],
        };
        let template = Template {
            width: 64,
            height: 64,
            quality: 50,
            minutiae: vec![
                Minutia {
                    x: 20,
                    y: 20,
                    angle: 0.0,
                    kind: MinutiaKind::Ending,
                    quality: 80,
                },
                Minutia {
                    x: 40,
                    y: 40,
                    angle: 0.0,
                    kind: MinutiaKind::Bifurcation,
                    quality: 80,
                },
            ],
            flow: None,
        };
        let extraction = Extraction {
            template,
            block_size_px: 16,
            blocks_wide: 4,
            blocks_high: 4,
            // Only the middle 2x2 blocks are finger.
            foreground: (0..16)
                .map(|i| (1..3).contains(&(i % 4)) && (1..3).contains(&(i / 4)))
                .collect(),
            skeleton: vec![false; 64 * 64],
            skeleton_width: 64,
            skeleton_height: 64,
        };
        let peer = [PeerMinutia {
            x: 10.0,
            y: 50.0,
            angle: 0.0,
        }];
        let out = render(
            &img,
            500,
            Some(&extraction),
            &peer,
            ShowOptions {
                scale: 1,
                skeleton: true,
            },
        );
        assert_eq!(out.dimensions(), (64, 64));
        // Background is tinted, foreground is not.
        assert_ne!(out.get_pixel(2, 2).0, [200, 200, 200]);
        assert_eq!(out.get_pixel(30, 30).0, [200, 200, 200]);
        // Mask edge at the top of block (1, 1).
        assert_eq!(out.get_pixel(28, 16).0, MASK_EDGE_RGB);
        // Direction lines (angle 0 points right) in each kind's colour.
        assert_eq!(out.get_pixel(20 + 8, 20).0, ENDING_RGB);
        assert_eq!(out.get_pixel(40 + 8, 40).0, BIFURCATION_RGB);
        assert_eq!(out.get_pixel(18, 50).0, PEER_RGB);
        let big = render(
            &img,
            500,
            Some(&extraction),
            &[],
            ShowOptions {
                scale: 3,
                skeleton: false,
            },
        );
        assert_eq!(big.dimensions(), (192, 192));
    }
}
