//! `member_ids`: the builder's checks on member ids (see [`MemberIdsDef`]).

use serde::{Deserialize, Serialize};

/// `"member_ids": {"unicode": "nfc", "case_collisions": "warn"}`: the builder's checks on member
/// ids beyond the edge's own (1 to 512 bytes, no surrounding whitespace, no control or invisible
/// format characters — those are always refused). The edge fingerprints a request's id byte for
/// byte and never normalises it, so these are checks, not transformations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberIdsDef {
    /// `nfc` (default): an id not in Unicode NFC is refused. `as-is`: ids are taken as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicode: Option<IdUnicode>,
    /// Ids that are equal once NFC-normalised and lower-cased: `warn` (default, on stderr from
    /// `edgeseg build`), `error`, or `off`. See [`crate::text::fold_key`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_collisions: Option<CaseCollisions>,
}

/// The `member_ids.unicode` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdUnicode {
    /// Refuse ids that are not in NFC.
    #[default]
    Nfc,
    /// Take ids as given (requests carry exactly these bytes).
    AsIs,
}

/// The `member_ids.case_collisions` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseCollisions {
    /// Report them on stderr; build anyway.
    #[default]
    Warn,
    /// Refuse the member file.
    Error,
    /// Do not look.
    Off,
}

impl MemberIdsDef {
    /// The id rules the builder applies to every member.
    pub fn rules(&self) -> crate::text::IdRules {
        crate::text::IdRules { require_nfc: self.unicode.unwrap_or_default() == IdUnicode::Nfc }
    }

    /// What to do about ids that differ only by case or normalisation.
    pub fn case_collisions(&self) -> CaseCollisions {
        self.case_collisions.unwrap_or_default()
    }
}
