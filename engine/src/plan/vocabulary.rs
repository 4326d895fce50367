//! What the planner can recognise by meaning: parts (roles and General MIDI instruments), actions,
//! density, register, articulation and style, each with a few prototype phrases.
//!
//! A phrase from the prompt means a concept when it equals one of the concept's prototypes (after
//! spelling correction) or when its sentence embedding is close enough to one of them. The
//! prototypes are short descriptions, not test sentences: add a prototype when a musician would
//! use the phrase, never to make one prompt pass.

use serde::{Deserialize, Serialize};

/// What the job does to its part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Write a new part.
    Add,
    /// Write the same part again from scratch.
    Regenerate,
    /// Keep the part's idea but change it (density, register, style...).
    Vary,
    /// Delete a part (or a separated stem).
    Remove,
    /// Separate a part into its own stem.
    Extract,
    /// Put a different part in the place of an existing one.
    Replace,
}

impl Action {
    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Regenerate => "regenerate",
            Action::Vary => "vary",
            Action::Remove => "remove",
            Action::Extract => "extract",
            Action::Replace => "replace",
        }
    }
}

/// The musical function of a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Bass line.
    Bass,
    /// Chords or pad.
    Chords,
    /// Melody or lead.
    Melody,
    /// A second line against the melody.
    CounterMelody,
    /// Broken chords.
    Arpeggio,
    /// Drum kit or percussion.
    Drums,
    /// Sung parts: only removed or extracted, never generated.
    Vocals,
}

impl Role {
    /// The name used in JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Bass => "bass",
            Role::Chords => "chords",
            Role::Melody => "melody",
            Role::CounterMelody => "counter-melody",
            Role::Arpeggio => "arpeggio",
            Role::Drums => "drums",
            Role::Vocals => "vocals",
        }
    }

    /// General MIDI program a new part of this role gets when no instrument is named.
    pub fn default_program(self) -> Option<u8> {
        match self {
            Role::Bass => Some(33),
            Role::Chords | Role::Melody | Role::CounterMelody | Role::Arpeggio => Some(0),
            Role::Drums | Role::Vocals => None,
        }
    }
}

/// What a recognised phrase means.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Meaning {
    /// A part: a role word (`program: None`) or an instrument (a program and the role it usually plays).
    Part {
        /// The role named, or the instrument's usual role.
        role: Role,
        /// Whether the phrase names the role itself ("bassline") rather than an instrument ("cello").
        names_role: bool,
        /// General MIDI program (0-127) of an instrument.
        program: Option<u8>,
        /// Display name (the General MIDI name for instruments).
        name: &'static str,
    },
    /// An action verb.
    Action(Action),
    /// -1 sparser, +1 busier.
    Density(i8),
    /// -1 lower, +1 higher.
    Register(i8),
    /// -1 quieter, +1 louder (a gain change on an existing part).
    Level(i8),
    /// How notes are played.
    Articulation(&'static str),
    /// A style or mood word.
    Style(&'static str),
}

impl Meaning {
    /// Minimum cosine similarity for an embedding match of this kind.
    pub fn threshold(&self) -> f32 {
        match self {
            Meaning::Part { .. } => 0.62,
            Meaning::Action(_) => 0.72,
            Meaning::Density(_) | Meaning::Register(_) | Meaning::Level(_) => 0.72,
            Meaning::Articulation(_) | Meaning::Style(_) => 0.72,
        }
    }

    /// Short description for the `understood` list.
    pub fn describe(&self) -> String {
        match self {
            Meaning::Part { role, names_role: true, .. } => format!("role {}", role.name()),
            Meaning::Part { name, program: Some(p), .. } => format!("instrument {name} (program {p})"),
            Meaning::Part { name, .. } => format!("instrument {name}"),
            Meaning::Action(a) => format!("action {}", a.name()),
            Meaning::Density(d) => format!("density {d:+}"),
            Meaning::Register(r) => format!("register {r:+}"),
            Meaning::Level(l) => format!("level {l:+}"),
            Meaning::Articulation(a) => format!("articulation {a}"),
            Meaning::Style(s) => format!("style {s}"),
        }
    }
}

/// One concept and its prototype phrases.
#[derive(Debug, Clone, Copy)]
pub struct Concept {
    /// What it means.
    pub meaning: Meaning,
    /// Phrases that mean it (lowercase).
    pub prototypes: &'static [&'static str],
}

/// A role word.
const fn role(role: Role, prototypes: &'static [&'static str]) -> Concept {
    Concept { meaning: Meaning::Part { role, names_role: true, program: None, name: role.name() }, prototypes }
}

/// An instrument with its General MIDI program and usual role.
const fn inst(name: &'static str, program: u8, role: Role, prototypes: &'static [&'static str]) -> Concept {
    Concept { meaning: Meaning::Part { role, names_role: false, program: Some(program), name }, prototypes }
}

/// A concept of another kind.
const fn other(meaning: Meaning, prototypes: &'static [&'static str]) -> Concept {
    Concept { meaning, prototypes }
}

use Meaning::{Articulation as Art, Density, Level, Register, Style};
use Role::*;

/// Everything the planner recognises by meaning.
pub const CONCEPTS: &[Concept] = &[
    // Roles.
    role(Bass, &["bass", "bassline", "bass line", "bass part", "low end"]),
    role(Chords, &["chords", "chord progression", "harmony", "comping", "accompaniment", "chord part"]),
    role(Melody, &["melody", "lead", "lead line", "main melody", "tune", "topline"]),
    role(
        CounterMelody,
        &["counter-melody", "countermelody", "counter melody", "second melody", "answering line", "descant"],
    ),
    role(Arpeggio, &["arpeggio", "arp", "arpeggiated line", "broken chords"]),
    role(Drums, &["drums", "drum beat", "beat", "percussion", "drum pattern", "drum kit", "drum machine"]),
    role(Vocals, &["vocals", "vocal", "voice", "singer", "singing", "vox", "lead vocal"]),
    // General MIDI instruments.
    inst("Acoustic Grand Piano", 0, Chords, &["piano", "grand piano", "acoustic piano", "keys"]),
    inst("Electric Piano 1", 4, Chords, &["electric piano", "rhodes", "wurlitzer"]),
    inst("Harpsichord", 6, Chords, &["harpsichord"]),
    inst("Clavinet", 7, Chords, &["clavinet", "clav"]),
    inst("Glockenspiel", 9, Melody, &["glockenspiel", "bells"]),
    inst("Vibraphone", 11, Melody, &["vibraphone", "vibes"]),
    inst("Marimba", 12, Melody, &["marimba", "xylophone"]),
    inst("Drawbar Organ", 16, Chords, &["organ", "hammond organ"]),
    inst("Church Organ", 19, Chords, &["church organ", "pipe organ"]),
    inst("Accordion", 21, Chords, &["accordion"]),
    inst("Harmonica", 22, Melody, &["harmonica"]),
    inst("Acoustic Guitar (nylon)", 24, Chords, &["acoustic guitar", "nylon guitar", "classical guitar"]),
    inst("Acoustic Guitar (steel)", 25, Chords, &["steel string guitar", "folk guitar"]),
    inst("Electric Guitar (jazz)", 26, Chords, &["jazz guitar"]),
    inst("Electric Guitar (clean)", 27, Chords, &["electric guitar", "clean guitar", "guitar"]),
    inst("Overdriven Guitar", 29, Chords, &["overdriven guitar", "crunchy guitar"]),
    inst("Distortion Guitar", 30, Chords, &["distorted guitar", "distortion guitar", "heavy guitar"]),
    inst("Acoustic Bass", 32, Bass, &["upright bass", "double bass", "acoustic bass"]),
    inst("Electric Bass (finger)", 33, Bass, &["electric bass", "bass guitar"]),
    inst("Electric Bass (pick)", 34, Bass, &["picked bass"]),
    inst("Fretless Bass", 35, Bass, &["fretless bass", "fretless"]),
    inst("Slap Bass 1", 36, Bass, &["slap bass"]),
    inst("Synth Bass 1", 38, Bass, &["synth bass", "synthesizer bass", "808 bass"]),
    inst("Violin", 40, Melody, &["violin"]),
    inst("Viola", 41, Melody, &["viola"]),
    inst("Cello", 42, Melody, &["cello"]),
    inst("Contrabass", 43, Bass, &["contrabass", "bowed bass"]),
    inst("Pizzicato Strings", 45, Chords, &["pizzicato strings", "plucked strings"]),
    inst("Orchestral Harp", 46, Arpeggio, &["harp"]),
    inst("String Ensemble 1", 48, Chords, &["strings", "string section", "string ensemble", "orchestral strings"]),
    inst("Synth Strings 1", 50, Chords, &["synth strings"]),
    inst("Choir Aahs", 52, Chords, &["choir", "choir aahs"]),
    inst("Trumpet", 56, Melody, &["trumpet"]),
    inst("Trombone", 57, Melody, &["trombone"]),
    inst("Tuba", 58, Bass, &["tuba"]),
    inst("French Horn", 60, Melody, &["french horn"]),
    inst("Brass Section", 61, Chords, &["brass", "brass section", "horn section", "horns"]),
    inst("Synth Brass 1", 62, Chords, &["synth brass"]),
    inst("Alto Sax", 65, Melody, &["alto sax", "saxophone", "sax"]),
    inst("Tenor Sax", 66, Melody, &["tenor sax"]),
    inst("Oboe", 68, Melody, &["oboe"]),
    inst("Bassoon", 70, CounterMelody, &["bassoon"]),
    inst("Clarinet", 71, Melody, &["clarinet"]),
    inst("Piccolo", 72, Melody, &["piccolo"]),
    inst("Flute", 73, Melody, &["flute"]),
    inst("Recorder", 74, Melody, &["recorder"]),
    inst("Pan Flute", 75, Melody, &["pan flute", "pan pipes"]),
    inst("Whistle", 78, Melody, &["whistle", "tin whistle"]),
    inst("Lead 1 (square)", 80, Melody, &["square lead", "chiptune lead"]),
    inst("Lead 2 (sawtooth)", 81, Melody, &["synth lead", "saw lead", "lead synth"]),
    inst("Pad 2 (warm)", 89, Chords, &["pad", "synth pad", "warm pad"]),
    inst("Sitar", 104, Melody, &["sitar"]),
    inst("Banjo", 105, Chords, &["banjo"]),
    inst("Kalimba", 108, Melody, &["kalimba"]),
    inst("Bag pipe", 109, Melody, &["bagpipes", "bagpipe"]),
    inst("Fiddle", 110, Melody, &["fiddle"]),
    inst("Steel Drums", 114, Melody, &["steel drums", "steel pan"]),
    // Actions.
    other(Meaning::Action(Action::Add), &["add", "create", "write", "compose", "generate", "put in", "insert"]),
    other(
        Meaning::Action(Action::Regenerate),
        &["regenerate", "redo", "re-do", "rewrite", "try again", "reroll", "remake", "recompose"],
    ),
    other(
        Meaning::Action(Action::Vary),
        &["vary", "variation", "tweak", "change", "alter", "modify", "embellish", "change it up", "spice up"],
    ),
    other(
        Meaning::Action(Action::Remove),
        &["remove", "delete", "get rid of", "mute", "take out", "drop", "cut", "kill", "erase", "ditch"],
    ),
    other(Meaning::Action(Action::Extract), &["extract", "isolate", "separate", "pull out", "split out", "solo"]),
    other(Meaning::Action(Action::Replace), &["replace", "swap", "substitute", "exchange", "switch"]),
    // Density.
    other(
        Density(-1),
        &["sparser", "sparse", "fewer notes", "less notes", "less busy", "simpler", "more space", "minimal", "thinner"],
    ),
    other(Density(1), &["busier", "busy", "more notes", "denser", "dense", "more active", "more complex", "fuller"]),
    // Register.
    other(Register(1), &["higher", "high", "up an octave", "an octave higher", "higher register", "higher pitched"]),
    other(Register(-1), &["lower", "low", "down an octave", "an octave lower", "lower register", "lower pitched"]),
    // Level.
    other(Level(-1), &["quieter", "softer", "less loud", "turn down", "lower the volume", "attenuate", "duck"]),
    other(Level(1), &["louder", "more prominent", "turn up", "boost", "raise the volume", "bring up"]),
    // Articulation.
    other(Art("legato"), &["legato", "smooth", "connected", "slurred", "flowing"]),
    other(Art("staccato"), &["staccato", "short notes", "detached", "choppy", "plucky"]),
    other(Art("sustained"), &["sustained", "long notes", "held notes"]),
    other(Art("accented"), &["accented", "punchy", "accents"]),
    other(Art("muted"), &["palm muted", "muted", "damped"]),
    other(Art("glide"), &["glide", "slides", "portamento", "pitch bends"]),
    // Styles and moods.
    other(Style("funk"), &["funky", "funk", "groovy"]),
    other(Style("jazz"), &["jazzy", "jazz", "bebop"]),
    other(Style("swing"), &["swing", "swung", "shuffle"]),
    other(Style("rock"), &["rock", "rocking"]),
    other(Style("latin"), &["latin", "salsa", "bossa nova", "samba"]),
    other(Style("reggae"), &["reggae", "ska", "dub"]),
    other(Style("blues"), &["blues", "bluesy"]),
    other(Style("classical"), &["classical", "baroque", "orchestral"]),
    other(Style("cinematic"), &["cinematic", "epic", "film score"]),
    other(Style("ambient"), &["ambient", "dreamy", "atmospheric", "ethereal"]),
    other(Style("lo-fi"), &["lo-fi", "lofi", "chill"]),
    other(Style("hip-hop"), &["hip hop", "hip-hop", "trap", "boom bap"]),
    other(Style("electronic"), &["edm", "electronic", "techno", "house music", "dance"]),
    other(Style("disco"), &["disco"]),
    other(Style("country"), &["country", "bluegrass"]),
    other(Style("gospel"), &["gospel"]),
    other(Style("metal"), &["metal", "heavy metal"]),
    other(Style("pop"), &["pop", "catchy"]),
    other(Style("folk"), &["folk", "folky"]),
    other(Style("happy"), &["happy", "uplifting", "cheerful"]),
    other(Style("sad"), &["sad", "melancholic", "melancholy", "mournful"]),
    other(Style("dark"), &["dark", "moody", "ominous", "sinister"]),
    other(Style("energetic"), &["energetic", "driving", "aggressive", "intense"]),
    other(Style("gentle"), &["gentle", "soft", "mellow", "relaxed", "laid back"]),
    other(Style("syncopated"), &["syncopated", "offbeat", "off-beat"]),
    other(Style("walking"), &["walking"]),
];
