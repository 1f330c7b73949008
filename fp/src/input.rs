//! What a command-line argument names: an image, a shimon template or an ISO/IEC 19794-2 record,
//! told apart by content (magic bytes), never by file name.

use std::path::{Path, PathBuf};

use shimon_matcher::{iso, Template};

use crate::load::{self, GreyImage};

/// First four bytes of an ISO/IEC 19794-2 finger minutiae record.
pub const ISO_MAGIC: [u8; 4] = *b"FMR\0";

/// What kind of file some bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A shimon template ([`Template::to_bytes`]).
    Template,
    /// An ISO/IEC 19794-2 record.
    Iso,
    /// A PNG, TIFF, BMP or PGM image.
    Image,
    /// None of those.
    Unknown,
}

/// Tells what kind of file some bytes are, from their first bytes.
pub fn sniff(bytes: &[u8]) -> Kind {
    if bytes.starts_with(&Template::MAGIC) {
        Kind::Template
    } else if bytes.starts_with(&ISO_MAGIC) {
        Kind::Iso
    } else if load::looks_like_image(bytes) {
        Kind::Image
    } else {
        Kind::Unknown
    }
}

/// A loaded input.
#[derive(Debug, Clone)]
pub enum Input {
    /// An image, still to be extracted.
    Image(GreyImage),
    /// A template, from either encoding.
    Template(Template),
}

/// Why an input could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Unreadable or undecodable image.
    #[error(transparent)]
    Load(#[from] load::LoadError),
    /// A template file that does not decode.
    #[error("cannot decode {} as a {what}: {reason}", path.display())]
    Template {
        /// The file.
        path: PathBuf,
        /// "shimon template" or "ISO/IEC 19794-2 record".
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// Neither an image nor a template.
    #[error(
        "{} is neither an image (PNG, TIFF, BMP, PGM) nor a template (shimon or ISO/IEC 19794-2): its first bytes match none of them",
        path.display()
    )]
    Unknown {
        /// The file.
        path: PathBuf,
    },
}

/// Reads a file and decodes it as what its content says it is.
pub fn load_input(path: &Path) -> Result<Input, InputError> {
    let bytes = std::fs::read(path).map_err(|error| load::LoadError::Io {
        path: path.to_owned(),
        error,
    })?;
    match sniff(&bytes) {
        Kind::Template => Template::from_bytes(&bytes)
            .map(Input::Template)
            .map_err(|e| InputError::Template {
                path: path.to_owned(),
                what: "shimon template",
                reason: e.to_string(),
            }),
        Kind::Iso => iso::from_iso(&bytes)
            .map(Input::Template)
            .map_err(|e| InputError::Template {
                path: path.to_owned(),
                what: "ISO/IEC 19794-2 record",
                reason: e.to_string(),
            }),
        Kind::Image => load::decode_grey(&bytes).map(Input::Image).map_err(|reason| {
            load::LoadError::Decode {
                path: path.to_owned(),
                reason,
            }
            .into()
        }),
        Kind::Unknown => Err(InputError::Unknown { path: path.to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shimon_matcher::{Minutia, MinutiaKind};

    fn template() -> Template {
        Template {
            width: 300,
            height: 400,
            quality: 70,
            minutiae: vec![
                Minutia {
                    x: 10,
                    y: 20,
                    angle: 1.0,
                    kind: MinutiaKind::Ending,
                    quality: 50,
                },
                Minutia {
                    x: 200,
                    y: 300,
                    angle: 4.0,
                    kind: MinutiaKind::Bifurcation,
                    quality: 90,
                },
            ],
            flow: None,
        }
    }

    #[test]
    fn tells_inputs_apart_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("a.png"); // misleading names on purpose
        std::fs::write(&ours, template().to_bytes()).unwrap();
        let isofile = dir.path().join("b.tif");
        std::fs::write(&isofile, iso::to_iso(&template())).unwrap();
        let img = dir.path().join("c.tmpl");
        image::GrayImage::from_pixel(20, 20, image::Luma([7]))
            .save_with_format(&img, image::ImageFormat::Png)
            .unwrap();
        let junk = dir.path().join("d.bin");
        std::fs::write(&junk, b"\x00\x01\x02\x03 nothing at all").unwrap();

        match load_input(&ours).unwrap() {
            // The encoding rounds angles, so compare the rest.
            Input::Template(t) => {
                let xy: Vec<(u16, u16)> = t.minutiae.iter().map(|m| (m.x, m.y)).collect();
                assert_eq!(xy, [(10, 20), (200, 300)]);
                assert_eq!((t.width, t.height, t.quality), (300, 400, 70));
            }
            other => panic!("shimon template read as {other:?}"),
        }
        match load_input(&isofile).unwrap() {
            Input::Template(t) => assert_eq!(t.minutiae.len(), 2),
            other => panic!("ISO record read as {other:?}"),
        }
        assert!(matches!(load_input(&img).unwrap(), Input::Image(g) if g.width == 20));
        let e = load_input(&junk).unwrap_err().to_string();
        assert!(e.contains("d.bin") && e.contains("neither"), "{e}");

        let mut broken = template().to_bytes();
        broken.truncate(broken.len() - 3);
        std::fs::write(&ours, broken).unwrap();
        let e = load_input(&ours).unwrap_err().to_string();
        assert!(e.contains("a.png") && e.contains("shimon template"), "{e}");
    }
}
