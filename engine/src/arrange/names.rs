//! Chord and key names as producers type them ("Am F C G", "F#m7", "D minor", "Bb"), parsed into
//! [`Chord`] and [`KeySig`], and the pitch classes a chord holds.

use super::{Chord, KeySig};
use crate::analysis::{FLAT_NAMES, SHARP_NAMES};

/// Chord qualities: the vocabulary's suffix, the spellings accepted for it, its intervals.
const QUALITIES: [(&str, &[&str], &[u8]); 8] = [
    ("", &["", "maj", "major", "M"], &[0, 4, 7]),
    ("m", &["m", "min", "minor", "-"], &[0, 3, 7]),
    ("7", &["7", "dom7"], &[0, 4, 7, 10]),
    ("maj7", &["maj7", "M7", "Δ", "Δ7"], &[0, 4, 7, 11]),
    ("m7", &["m7", "min7", "-7"], &[0, 3, 7, 10]),
    ("dim", &["dim", "°", "o"], &[0, 3, 6]),
    ("aug", &["aug", "+"], &[0, 4, 8]),
    ("sus4", &["sus4", "sus"], &[0, 5, 7]),
];

impl Chord {
    /// Parses one chord name: a root (A-G with `#` or `b`) and a quality (none, m, 7, maj7, m7,
    /// dim, aug, sus4, or a common spelling of one).
    pub fn parse(name: &str) -> Result<Chord, String> {
        let (root, rest) =
            parse_root(name.trim()).ok_or_else(|| format!("`{name}` is not a chord: it must start with A-G"))?;
        let quality = QUALITIES
            .iter()
            .find(|(_, spellings, _)| spellings.contains(&rest))
            .map(|(suffix, ..)| *suffix)
            .ok_or_else(|| {
                format!("`{name}`: unknown chord quality `{rest}` (use none, m, 7, maj7, m7, dim, aug or sus4)")
            })?;
        Ok(Chord { root, quality })
    }

    /// Parses a chord list, one chord per bar: "Am F C G", "Am, F, C, G" or "Am | F | C | G".
    pub fn parse_list(text: &str) -> Result<Vec<Chord>, String> {
        let chords: Vec<Chord> = text
            .split(|c: char| c.is_whitespace() || c == ',' || c == '|')
            .filter(|w| !w.is_empty())
            .map(Chord::parse)
            .collect::<Result<_, _>>()?;
        if chords.is_empty() {
            return Err("the chord list is empty; give one chord per bar, e.g. \"Am F C G\"".into());
        }
        Ok(chords)
    }

    /// The chord's pitch classes, root first.
    pub fn pitch_classes(&self) -> Vec<u8> {
        let intervals = QUALITIES.iter().find(|q| q.0 == self.quality).map_or(&[0u8, 4, 7][..], |q| q.2);
        intervals.iter().map(|i| (self.root + i) % 12).collect()
    }

    /// The chord as the analysis labels it (score 1: it was given, not heard).
    pub fn label(&self) -> crate::analysis::ChordLabel {
        crate::analysis::ChordLabel { root: self.root % 12, quality: self.quality, score: 1.0 }
    }
}

impl KeySig {
    /// Parses a key: "D minor", "Dm", "d min", "F# major", "Bb" (major when no mode is given).
    pub fn parse(name: &str) -> Result<KeySig, String> {
        let bad = || format!("`{name}` is not a key; write e.g. \"D minor\" or \"Bb major\"");
        let (tonic, rest) = parse_root(name.trim()).ok_or_else(bad)?;
        let minor = match rest.trim().to_lowercase().as_str() {
            "" | "major" | "maj" | "dur" => false,
            "m" | "minor" | "min" | "moll" => true,
            _ => return Err(bad()),
        };
        Ok(KeySig { tonic, minor })
    }

    /// Whether names in this key read better with flats (F, Bb, Eb... and their minors).
    pub fn prefers_flats(&self) -> bool {
        let major_tonic = if self.minor { (self.tonic + 3) % 12 } else { self.tonic % 12 };
        matches!(major_tonic, 1 | 3 | 5 | 8 | 10)
    }

    /// "D minor", "Eb major": flats for the flat keys, sharps otherwise.
    pub fn name(&self) -> String {
        let names = if self.prefers_flats() { FLAT_NAMES } else { SHARP_NAMES };
        format!("{} {}", names[usize::from(self.tonic % 12)], if self.minor { "minor" } else { "major" })
    }

    /// The scale's pitch classes (natural minor plus the raised seventh for minor keys).
    pub fn scale(&self) -> Vec<u8> {
        let steps: &[u8] = if self.minor { &[0, 2, 3, 5, 7, 8, 10, 11] } else { &[0, 2, 4, 5, 7, 9, 11] };
        steps.iter().map(|s| (self.tonic + s) % 12).collect()
    }
}

/// The root pitch class at the start of `text` and the rest of it; letters in either case.
fn parse_root(text: &str) -> Option<(u8, &str)> {
    let mut chars = text.chars();
    let letter = chars.next()?.to_ascii_uppercase();
    let base = match letter {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let rest = &text[1..];
    let (shift, rest) = match rest.chars().next() {
        Some('#' | '♯') => (1, &rest[rest.chars().next()?.len_utf8()..]),
        Some('b' | '♭') => (11, &rest[rest.chars().next()?.len_utf8()..]),
        _ => (0, rest),
    };
    Some(((base + shift) % 12, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chord_names_parse() {
        let list = Chord::parse_list("Am F, C | G F#m7 Bbmaj7 Ebdim Caug Dsus4 G7").unwrap();
        let got: Vec<(u8, &str)> = list.iter().map(|c| (c.root, c.quality)).collect();
        assert_eq!(
            got,
            [
                (9, "m"),
                (5, ""),
                (0, ""),
                (7, ""),
                (6, "m7"),
                (10, "maj7"),
                (3, "dim"),
                (0, "aug"),
                (2, "sus4"),
                (7, "7")
            ]
        );
        assert_eq!(Chord::parse("Am").unwrap().pitch_classes(), [9, 0, 4]);
        assert!(Chord::parse("H7").unwrap_err().contains("A-G"));
        assert!(Chord::parse("Cxyz").unwrap_err().contains("quality"));
        assert!(Chord::parse_list(" , ").is_err());
    }

    #[test]
    fn key_names_parse() {
        assert_eq!(KeySig::parse("D minor").unwrap(), KeySig { tonic: 2, minor: true });
        assert_eq!(KeySig::parse("bb").unwrap(), KeySig { tonic: 10, minor: false });
        assert_eq!(KeySig::parse("F# major").unwrap(), KeySig { tonic: 6, minor: false });
        assert_eq!(KeySig::parse("Bbm").unwrap().name(), "Bb minor");
        assert_eq!(KeySig::parse("c# minor").unwrap().name(), "C# minor");
        assert!(KeySig::parse("D dorian").is_err());
        assert!(KeySig::parse("").is_err());
    }
}
