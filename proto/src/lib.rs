//! The shimon gRPC API, package `shimon.v1`: the messages and the two services, `Enrollment`
//! (registration officers' stations) and `Authentication` (terminals' login agents), generated
//! from `proto/shimon/v1/shimon.proto`, which documents every message and field. Nothing else
//! lives here but small conversions.

/// Generated code of package `shimon.v1`.
pub mod v1 {
    tonic::include_proto!("shimon.v1");

    /// The encoded descriptors of the API, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/shimon_descriptor.bin"));

    impl Finger {
        /// Every finger, in ISO position order.
        pub const ALL: [Finger; 10] = [
            Finger::RightThumb,
            Finger::RightIndex,
            Finger::RightMiddle,
            Finger::RightRing,
            Finger::RightLittle,
            Finger::LeftThumb,
            Finger::LeftIndex,
            Finger::LeftMiddle,
            Finger::LeftRing,
            Finger::LeftLittle,
        ];

        /// The finger's name on command lines: `right-index`, `left-thumb`, ...
        pub fn cli_name(self) -> &'static str {
            match self {
                Finger::Unspecified => "unspecified",
                Finger::RightThumb => "right-thumb",
                Finger::RightIndex => "right-index",
                Finger::RightMiddle => "right-middle",
                Finger::RightRing => "right-ring",
                Finger::RightLittle => "right-little",
                Finger::LeftThumb => "left-thumb",
                Finger::LeftIndex => "left-index",
                Finger::LeftMiddle => "left-middle",
                Finger::LeftRing => "left-ring",
                Finger::LeftLittle => "left-little",
            }
        }

        /// The finger named `name` on a command line (see [`Finger::cli_name`]).
        pub fn from_cli_name(name: &str) -> Option<Finger> {
            Finger::ALL.into_iter().find(|f| f.cli_name() == name)
        }

        /// As [`Finger::from_cli_name`], with an error that lists the names (for clap's
        /// `value_parser`).
        pub fn parse_cli(name: &str) -> Result<Finger, String> {
            Finger::from_cli_name(name).ok_or_else(|| {
                let names: Vec<_> = Finger::ALL.iter().map(|f| f.cli_name()).collect();
                format!("unknown finger {name:?}; the fingers are {}", names.join(", "))
            })
        }
    }

    impl Purpose {
        /// Every purpose of use.
        pub const ALL: [Purpose; 6] = [
            Purpose::EApplications,
            Purpose::Website,
            Purpose::Email,
            Purpose::WebSearch,
            Purpose::MailDistribution,
            Purpose::Other,
        ];

        /// The purpose's name on command lines: `e-applications`, `email`, ...
        pub fn cli_name(self) -> &'static str {
            match self {
                Purpose::Unspecified => "unspecified",
                Purpose::EApplications => "e-applications",
                Purpose::Website => "website",
                Purpose::Email => "email",
                Purpose::WebSearch => "web-search",
                Purpose::MailDistribution => "mail-distribution",
                Purpose::Other => "other",
            }
        }

        /// The purpose named `name` on a command line (see [`Purpose::cli_name`]).
        pub fn from_cli_name(name: &str) -> Option<Purpose> {
            Purpose::ALL.into_iter().find(|p| p.cli_name() == name)
        }

        /// As [`Purpose::from_cli_name`], with an error that lists the names (for clap's
        /// `value_parser`).
        pub fn parse_cli(name: &str) -> Result<Purpose, String> {
            Purpose::from_cli_name(name).ok_or_else(|| {
                let names: Vec<_> = Purpose::ALL.iter().map(|p| p.cli_name()).collect();
                format!("unknown purpose {name:?}; the purposes are {}", names.join(", "))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::v1::{Finger, Purpose};

    #[test]
    fn command_line_names_round_trip() {
        for f in Finger::ALL {
            assert_eq!(Finger::from_cli_name(f.cli_name()), Some(f));
        }
        for p in Purpose::ALL {
            assert_eq!(Purpose::from_cli_name(p.cli_name()), Some(p));
        }
        assert_eq!(Finger::from_cli_name("right-toe"), None);
    }

    #[test]
    fn the_descriptor_set_decodes() {
        let set = <prost_types_check::Set as prost::Message>::decode(super::v1::FILE_DESCRIPTOR_SET).unwrap();
        assert!(!set.file.is_empty());
    }

    /// Just enough of `google.protobuf.FileDescriptorSet` to check that the bytes decode.
    mod prost_types_check {
        #[derive(Clone, PartialEq, prost::Message)]
        pub struct Set {
            #[prost(bytes = "vec", repeated, tag = "1")]
            pub file: Vec<Vec<u8>>,
        }
    }
}
