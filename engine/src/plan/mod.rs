//! Instruction understanding: a free-text request ("make the bass busier in bars 9-16") becomes a
//! structured [`PlannedJob`].
//!
//! Steps, each in its own module: [`grammar`] splits the prompt into words, fixes spelling and reads
//! numbers, bar ranges and section names exactly; the remaining phrases (one to three content
//! words) are matched against the prototype phrases of [`vocabulary`], first exactly, then by
//! cosine similarity of their [`embed`] sentence embeddings with a threshold per kind, so
//! paraphrases land and nonsense does not. Whatever is left is reported in `unparsed`.

pub mod embed;
pub mod grammar;
pub mod vocabulary;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

pub use embed::{Embed, Embedder};
use grammar::{BarSpec, Kind, Located, Token};
pub use vocabulary::{Action, CONCEPTS, Meaning, Role};

/// Content words in one phrase matched as a unit.
const MAX_SPAN_WORDS: usize = 3;
/// Tokens (stopwords included) one phrase may stretch over.
const MAX_SPAN_TOKENS: usize = 6;
/// Distinct phrases compared by meaning per prompt; later ones are matched exactly only.
const MAX_EMBEDDED_SPANS: usize = 256;
/// A longer phrase must beat its best sub-phrase by this much to be taken as one.
const SPAN_MARGIN: f32 = 0.03;
/// Unparsed words listed before the rest are summarised.
const MAX_UNPARSED: usize = 100;
/// Words that ask for a fresh take when no action verb is given.
const REGENERATE_CUES: &[&str] = &["again", "another", "new", "different", "fresh"];
/// Words that, with a part and no action verb, ask for the part alone ("keep only the drums").
const EXTRACT_CUES: &[&str] = &["only", "just", "alone", "acapella", "cappella"];
/// Words that, with a part and no action verb, ask for the song without it ("the song without drums").
const REMOVE_CUES: &[&str] = &["without", "minus", "except"];
/// Verbs that mean "remove" with "out" after the part ("take the vocals out").
const SPLIT_REMOVE_VERBS: &[&str] = &["take", "cut", "leave"];
/// Words after which the replacement part follows ("replace X with Y").
const REPLACE_PIVOTS: &[&str] = &["with", "for", "by", "to", "into"];

/// A named section of the song (from the host's markers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The marker's text, e.g. "Chorus 2".
    pub name: String,
    /// First bar, 1-based.
    pub first_bar: u32,
    /// Last bar, inclusive.
    pub last_bar: u32,
}

/// What the planner knows about the song.
#[derive(Debug, Clone, Default)]
pub struct SongContext {
    /// Length in bars, when known: needed for "the last 4 bars" and to refuse impossible ranges.
    pub bars: Option<u32>,
    /// Section markers in song order.
    pub markers: Vec<Marker>,
}

/// A part named in the prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartRef {
    /// Its role.
    pub role: Role,
    /// The General MIDI instrument name, when an instrument was named.
    pub instrument: Option<String>,
    /// General MIDI program (0-127); null for drums, vocals and parts that keep their sound.
    pub program: Option<u8>,
}

/// One phrase the planner used, for the UI and for debugging.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Understood {
    /// The words as written.
    pub words: String,
    /// What they were taken to mean.
    pub meaning: String,
    /// 1.0 for exact matches, else the cosine similarity.
    pub score: f32,
}

/// The structured job: what the arranger is asked to do, plus everything it could not use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedJob {
    /// What to do; null when nothing in the prompt was understood.
    pub action: Option<Action>,
    /// The part's role; null when none was named (e.g. "make it busier").
    pub role: Option<Role>,
    /// General MIDI instrument name of `program`.
    pub instrument: Option<String>,
    /// General MIDI program (0-127). A new part gets its role's default when no instrument is named;
    /// null for drums, vocals, and for existing parts whose instrument was not named.
    pub program: Option<u8>,
    /// First and last bar, 1-based inclusive; null for the whole song.
    pub bars: Option<[u32; 2]>,
    /// The section named, when the range came from one ("chorus", "verse 2").
    pub section: Option<String>,
    /// -1 sparser, 0 unchanged, +1 busier.
    pub density: i8,
    /// -1 lower, 0 unchanged, +1 higher.
    pub register: i8,
    /// -1 quieter, 0 unchanged, +1 louder: a gain change on the existing (separated) part.
    pub level: i8,
    /// Articulations asked for ("legato", "staccato", ...).
    pub articulation: Vec<String>,
    /// Style and mood words ("funk", "dark", ...).
    pub style: Vec<String>,
    /// For `replace`: the part being replaced.
    pub replaces: Option<PartRef>,
    /// Words the planner did not use, as written.
    pub unparsed: Vec<String>,
    /// Phrases it did use and what they meant.
    pub understood: Vec<Understood>,
    /// Spelling corrections applied ("basline -> bassline").
    pub corrections: Vec<String>,
    /// Things it guessed or ignored; the job is still usable.
    pub warnings: Vec<String>,
    /// Things it could not do as asked; a fallback was planned instead.
    pub errors: Vec<String>,
}

impl PlannedJob {
    /// One line for the editor: "add · bass · Acoustic Bass · bars 9-16 · busier".
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.push(self.action.map_or("?", Action::name).to_string());
        if let Some(role) = self.role {
            parts.push(role.name().to_string());
        }
        if let Some(instrument) = &self.instrument {
            parts.push(instrument.clone());
        }
        parts.push(match (self.bars, &self.section) {
            (Some([a, b]), _) if a == b => format!("bar {a}"),
            (Some([a, b]), Some(section)) => format!("{section} (bars {a}-{b})"),
            (Some([a, b]), None) => format!("bars {a}-{b}"),
            (None, _) => "whole song".to_string(),
        });
        let words = [
            (self.density, "sparser", "busier"),
            (self.register, "lower", "higher"),
            (self.level, "quieter", "louder"),
        ];
        parts.extend(
            words.iter().filter(|(v, ..)| *v != 0).map(|&(v, less, more)| if v < 0 { less } else { more }.into()),
        );
        parts.extend(self.articulation.iter().chain(&self.style).cloned());
        parts.join(" · ")
    }

    /// A job with nothing in it.
    fn empty() -> Self {
        PlannedJob {
            action: None,
            role: None,
            instrument: None,
            program: None,
            bars: None,
            section: None,
            density: 0,
            register: 0,
            level: 0,
            articulation: Vec::new(),
            style: Vec::new(),
            replaces: None,
            unparsed: Vec::new(),
            understood: Vec::new(),
            corrections: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    }
}

/// Turns `prompt` into a job. Never panics; problems end up in `warnings` and `errors`.
///
/// If the embedder fails, only exact (and spelling-corrected) vocabulary matches are used and the
/// failure is reported in `errors`.
pub fn plan(prompt: &str, song: &SongContext, embedder: &mut dyn Embed) -> PlannedJob {
    let mut job = PlannedJob::empty();
    let mut tokens = grammar::tokenize(prompt);
    if !tokens.iter().any(|t| t.kind == Kind::Word) {
        job.errors.push("the instruction is empty".into());
        return job;
    }
    let mut seen = HashSet::new();
    let in_phrase = |p: &str| lexicon().contains_key(&normalize(p));
    job.corrections = grammar::correct_spelling(&mut tokens, known_words(), spelling_targets(), &in_phrase);
    job.corrections.retain(|c| seen.insert(c.clone()));
    let bar_specs = grammar::find_bars(&mut tokens);
    let matches = match_phrases(&mut tokens, embedder, &mut job);
    for m in matches.iter().filter(|m| m.score < 1.0 && matches!(m.meaning(), Meaning::Part { .. })) {
        let meaning = m.meaning().describe();
        job.warnings.push(format!(
            "\"{}\" is not a name the planner knows; read as {meaning} (similarity {:.2})",
            m.words, m.score
        ));
    }
    resolve_parts_and_action(&tokens, &matches, &mut job);
    resolve_attributes(&tokens, &matches, &mut job);
    resolve_bars(&bar_specs, song, &mut job);
    job.understood = matches
        .iter()
        .map(|m| Understood { words: m.words.clone(), meaning: CONCEPTS[m.concept].meaning.describe(), score: m.score })
        .collect();
    seen.clear();
    let mut unparsed: Vec<String> = tokens
        .iter()
        .filter(|t| !t.used && t.is_content())
        .map(|t| t.raw.clone())
        .filter(|w| seen.insert(w.clone()))
        .collect();
    if unparsed.len() > MAX_UNPARSED {
        let more = unparsed.len() - MAX_UNPARSED;
        unparsed.truncate(MAX_UNPARSED);
        unparsed.push(format!("... ({more} more)"));
    }
    job.unparsed = unparsed;
    if job.action.is_none() && job.errors.is_empty() {
        job.errors.push("no action or part was understood; nothing to do".into());
    }
    job
}

/// A phrase taken to mean a concept.
#[derive(Debug, Clone)]
struct Match {
    /// First token.
    start: usize,
    /// Last token (inclusive).
    end: usize,
    /// Index into [`CONCEPTS`].
    concept: usize,
    /// 1.0 for exact, else cosine similarity.
    score: f32,
    /// The words as written.
    words: String,
}

impl Match {
    /// The concept's meaning.
    fn meaning(&self) -> Meaning {
        CONCEPTS[self.concept].meaning
    }
}

/// A candidate phrase.
struct Span {
    /// First token.
    start: usize,
    /// Last token (inclusive).
    end: usize,
    /// Content words in it.
    words: usize,
    /// Corrected lowercase text.
    text: String,
    /// Best (concept, score).
    best: Option<(usize, f32)>,
}

/// Finds the best non-overlapping phrase matches among the unused tokens and marks them used.
fn match_phrases(tokens: &mut [Token], embedder: &mut dyn Embed, job: &mut PlannedJob) -> Vec<Match> {
    let mut spans: Vec<Span> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].used || !tokens[i].is_content() {
            i += 1;
            continue;
        }
        let mut words = 0;
        for end in i..tokens.len().min(i + MAX_SPAN_TOKENS) {
            let t = &tokens[end];
            if t.used || t.kind != Kind::Word {
                break;
            }
            if !t.is_content() {
                continue;
            }
            words += 1;
            if words > MAX_SPAN_WORDS {
                break;
            }
            let text = tokens[i..=end].iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(" ");
            let best = lexicon().get(&normalize(&text)).map(|&c| (c, 1.0));
            spans.push(Span { start: i, end, words, text, best });
        }
        i += 1;
    }
    // Meaning of the phrases that are not vocabulary entries.
    let mut to_embed: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut skipped = 0;
    for s in spans.iter().filter(|s| s.best.is_none()) {
        if index.contains_key(s.text.as_str()) {
            continue;
        }
        if to_embed.len() >= MAX_EMBEDDED_SPANS {
            skipped += 1;
            continue;
        }
        index.insert(&s.text, to_embed.len());
        to_embed.push(&s.text);
    }
    if skipped > 0 {
        job.warnings.push(format!(
            "the instruction is long: only its first {MAX_EMBEDDED_SPANS} distinct phrases were compared by \
             meaning ({skipped} more were matched by exact words only)"
        ));
    }
    let scored: Vec<Option<(usize, f32)>> = if to_embed.is_empty() {
        Vec::new()
    } else {
        match similarity(&to_embed, embedder) {
            Ok(s) => s,
            Err(e) => {
                job.errors.push(format!("the embedding model failed ({e}); only exact words were read"));
                Vec::new()
            }
        }
    };
    let mut bests: Vec<Option<(usize, f32)>> = spans
        .iter()
        .map(|s| s.best.or_else(|| index.get(s.text.as_str()).and_then(|&k| scored.get(k).copied().flatten())))
        .collect();
    // A longer phrase only counts when it means more than its parts do on their own.
    for (k, s) in spans.iter().enumerate() {
        if s.words < 2 || s.best.is_some() {
            continue;
        }
        let sub_best = spans
            .iter()
            .zip(&bests)
            .filter(|(o, _)| o.start >= s.start && o.end <= s.end && o.words < s.words)
            .filter_map(|(_, b)| b.map(|(_, sc)| sc))
            .fold(f32::MIN, f32::max);
        if bests[k].is_some_and(|(_, sc)| sc < sub_best + SPAN_MARGIN) {
            bests[k] = None;
        }
    }
    let mut candidates: Vec<(usize, usize, f32)> = spans
        .iter()
        .zip(&bests)
        .enumerate()
        .filter_map(|(k, (_, b))| b.map(|(c, sc)| (k, c, sc)))
        .filter(|&(k, c, sc)| sc >= 1.0 || (sc >= CONCEPTS[c].meaning.threshold() && begins_like(&spans[k], c)))
        .collect();
    candidates.sort_by(|a, b| b.2.total_cmp(&a.2).then(spans[b.0].words.cmp(&spans[a.0].words)).then(a.0.cmp(&b.0)));
    let mut matches: Vec<Match> = Vec::new();
    for (k, concept, score) in candidates {
        let s = &spans[k];
        if tokens[s.start..=s.end].iter().any(|t| t.used) {
            continue;
        }
        tokens[s.start..=s.end].iter_mut().for_each(|t| t.used = true);
        let words = tokens[s.start..=s.end].iter().map(|t| t.raw.as_str()).collect::<Vec<_>>().join(" ");
        matches.push(Match { start: s.start, end: s.end, concept, score, words });
    }
    matches.sort_by_key(|m| m.start);
    matches
}

/// Shortest shared beginning that ties a single unknown word to a part's name ("glock" to
/// "glockenspiel", "synth" to "synth bass"); a shorter name must be shared whole ("sax").
const PART_STEM: usize = 4;

/// Whether a phrase matched to `concept` by meaning alone may stand: a part named by one unknown
/// word must also begin like one of the part's names, so an invented word that merely sounds like
/// an instrument ("zanzithophone", near "xylophone") is left unparsed instead of guessed.
fn begins_like(span: &Span, concept: usize) -> bool {
    if span.words > 1 || !matches!(CONCEPTS[concept].meaning, Meaning::Part { .. }) {
        return true;
    }
    CONCEPTS[concept].prototypes.iter().flat_map(|p| p.split([' ', '-'])).any(|name| {
        let shared = span.text.chars().zip(name.chars()).take_while(|(a, b)| a == b).count();
        let len = name.chars().count();
        len >= 3 && shared >= PART_STEM.min(len)
    })
}

/// Best concept and cosine similarity for each text (None when the prototypes are all far).
fn similarity(texts: &[&str], embedder: &mut dyn Embed) -> Result<Vec<Option<(usize, f32)>>, String> {
    let protos = prototypes(embedder)?;
    let vectors = embedder.embed(texts)?;
    Ok(vectors
        .iter()
        .map(|v| {
            protos
                .vectors
                .iter()
                .zip(&protos.concept)
                .map(|(p, &c)| (c, embed::cosine(v, p)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
        })
        .collect())
}

/// Embeddings of every prototype phrase, in [`CONCEPTS`] order.
struct Prototypes {
    /// Unit vectors.
    vectors: Vec<Vec<f32>>,
    /// The concept of each vector.
    concept: Vec<usize>,
}

/// Prototype embeddings, computed once per process and model.
fn prototypes(embedder: &mut dyn Embed) -> Result<Arc<Prototypes>, String> {
    static CACHE: Mutex<Option<(String, Arc<Prototypes>)>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((id, p)) = cache.as_ref()
        && id == embedder.model_id()
    {
        return Ok(p.clone());
    }
    let (texts, concept): (Vec<&str>, Vec<usize>) =
        CONCEPTS.iter().enumerate().flat_map(|(c, k)| k.prototypes.iter().map(move |p| (*p, c))).unzip();
    let vectors = embedder.embed(&texts)?;
    let p = Arc::new(Prototypes { vectors, concept });
    *cache = Some((embedder.model_id().to_string(), p.clone()));
    Ok(p)
}

/// Lowercase, hyphens as spaces, a plural "s" dropped from each word: the key for exact matches.
fn normalize(text: &str) -> String {
    text.to_lowercase()
        .replace('-', " ")
        .split_whitespace()
        .map(|w| if w.len() >= 4 && w.ends_with('s') && !w.ends_with("ss") { &w[..w.len() - 1] } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Normalised prototype phrase -> concept.
fn lexicon() -> &'static HashMap<String, usize> {
    static LEXICON: OnceLock<HashMap<String, usize>> = OnceLock::new();
    LEXICON.get_or_init(|| {
        let mut map = HashMap::new();
        for (c, k) in CONCEPTS.iter().enumerate() {
            for p in k.prototypes {
                map.entry(normalize(p)).or_insert(c);
            }
        }
        map
    })
}

/// Every word spelling correction may correct towards (and never away from).
fn known_words() -> &'static HashSet<String> {
    static KNOWN: OnceLock<HashSet<String>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let vocab = CONCEPTS.iter().flat_map(|k| k.prototypes.iter()).flat_map(|p| p.split([' ', '-']).chain([*p]));
        let extra = ["octave", "notes", "note", "chord", "melodies", "drum", "the", "lines", "line"];
        vocab.chain(grammar::grammar_words()).chain(extra).map(str::to_string).collect()
    })
}

/// Words a misspelling may be corrected to: the vocabulary's words and the bar words.
fn spelling_targets() -> &'static HashSet<String> {
    static TARGETS: OnceLock<HashSet<String>> = OnceLock::new();
    TARGETS.get_or_init(|| {
        let vocab = CONCEPTS.iter().flat_map(|k| k.prototypes.iter()).flat_map(|p| p.split([' ', '-']).chain([*p]));
        let sections = grammar::SECTIONS.iter().flat_map(|row| row.iter().copied());
        vocab.chain(sections).chain(["measure", "measures", "octave", "through"]).map(str::to_string).collect()
    })
}

/// Sets `action`, `role`, `instrument`, `program` and `replaces` from the matched phrases.
fn resolve_parts_and_action(tokens: &[Token], matches: &[Match], job: &mut PlannedJob) {
    let parts: Vec<&Match> = matches.iter().filter(|m| matches!(m.meaning(), Meaning::Part { .. })).collect();
    let actions: Vec<(&Match, Action)> =
        matches.iter().filter_map(|m| if let Meaning::Action(a) = m.meaning() { Some((m, a)) } else { None }).collect();
    // Relative words ("busier", "higher") change an existing part; descriptive ones ("staccato",
    // "funky") describe a new part unless the prompt says "make".
    let relative =
        matches.iter().any(|m| matches!(m.meaning(), Meaning::Density(_) | Meaning::Register(_) | Meaning::Level(_)));
    let descriptive = matches.iter().any(|m| matches!(m.meaning(), Meaning::Articulation(_) | Meaning::Style(_)));
    let says_make = tokens.iter().any(|t| matches!(t.text.as_str(), "make" | "makes" | "making"));
    let has_attributes = relative || (descriptive && says_make);
    let instead = tokens.windows(2).position(|w| w[0].text == "instead" && w[1].text == "of");
    // "add" is the weakest verb: "add some variation" varies, "add ... instead" replaces.
    let actions: Vec<(&Match, Action)> = if actions.iter().any(|(_, a)| *a != Action::Add) {
        actions.into_iter().filter(|(_, a)| *a != Action::Add).collect()
    } else {
        actions
    };
    let mut action = actions.first().map(|&(_, a)| a);
    if let Some(&(m, a)) = actions.iter().find(|(_, a)| *a == Action::Replace) {
        action = Some(a);
        if actions.len() > 1 && actions[0].0.start != m.start {
            job.warnings.push(format!("several actions named; planned `replace` (from \"{}\")", m.words));
        }
    } else if let Some(&(first, a)) = actions.first() {
        let others: Vec<&str> = actions.iter().filter(|(_, o)| *o != a).map(|(m, _)| m.words.as_str()).collect();
        if !others.is_empty() {
            job.warnings.push(format!(
                "several actions named; planned `{}` (from \"{}\"), ignored: {}",
                a.name(),
                first.words,
                others.join(", ")
            ));
        }
    }
    // "change the piano to strings", "use strings instead of the piano"
    let pivot = action_pivot(tokens, &actions, &parts);
    if (action == Some(Action::Vary) && pivot.is_some()) || (instead.is_some() && parts.len() >= 2) {
        action = Some(Action::Replace);
    }
    if action.is_none() {
        let cue = |cues: &[&str]| tokens.iter().any(|t| cues.contains(&t.text.as_str()));
        action = if cue(EXTRACT_CUES) && !parts.is_empty() {
            Some(Action::Extract)
        } else if (cue(REMOVE_CUES) || (cue(&["out"]) && cue(SPLIT_REMOVE_VERBS))) && !parts.is_empty() {
            Some(Action::Remove)
        } else if cue(REGENERATE_CUES) && !parts.is_empty() {
            Some(Action::Regenerate)
        } else if (has_attributes && !introduces_new_part(tokens, &parts)) || (descriptive && parts.is_empty()) {
            Some(Action::Vary)
        } else if !parts.is_empty() {
            Some(Action::Add)
        } else {
            None
        };
    }
    job.action = action;
    let (old, new): (Vec<&Match>, Vec<&Match>) = match (action, pivot, instead) {
        (Some(Action::Replace), _, Some(q)) if parts.len() >= 2 => parts.iter().partition(|m| m.start > q),
        (Some(Action::Replace), Some(p), _) => parts.iter().partition(|m| m.start < p),
        (Some(Action::Replace), None, _) if parts.len() >= 2 => (vec![parts[0]], parts[1..].to_vec()),
        // "replace the bass with something busier": a new part of the same kind.
        (Some(Action::Replace), None, _) => (parts.clone(), parts.clone()),
        _ => (Vec::new(), parts.clone()),
    };
    if action == Some(Action::Replace) {
        if old.is_empty() || new.is_empty() {
            job.warnings
                .push("`replace` needs the old part and the new one (\"replace the piano with strings\")".into());
        }
        if let Some(o) = combine(&old, false, &mut job.warnings) {
            job.replaces = Some(o);
        }
    }
    let creates = matches!(action, Some(Action::Add | Action::Replace));
    if let Some(mut target) = combine(&new, creates, &mut job.warnings) {
        let level = matches.iter().any(|m| matches!(m.meaning(), Meaning::Level(_)));
        let edits_audio =
            matches!(action, Some(Action::Remove | Action::Extract)) || (level && action == Some(Action::Vary));
        if target.role == Role::Vocals && !edits_audio {
            job.warnings
                .push("vocals can only be removed or extracted, not written; planned a choir melody instead".into());
            target = PartRef { role: Role::Melody, instrument: Some("Choir Aahs".into()), program: Some(52) };
        }
        job.role = Some(target.role);
        job.instrument = target.instrument;
        job.program = target.program;
    }
}

/// The token where "to/with/for/into" splits the old part from the new one, when there are parts
/// on both sides of it after the action word.
fn action_pivot(tokens: &[Token], actions: &[(&Match, Action)], parts: &[&Match]) -> Option<usize> {
    let (m, _) = actions.iter().find(|(_, a)| matches!(a, Action::Replace | Action::Vary))?;
    let p = (m.end + 1..tokens.len()).find(|&k| REPLACE_PIVOTS.contains(&tokens[k].text.as_str()))?;
    let before = parts.iter().any(|q| q.start < p);
    let after = parts.iter().any(|q| q.start > p);
    (before && after).then_some(p)
}

/// Merges role words and instruments into one part; warns about extra ones.
fn combine(parts: &[&Match], creates: bool, warnings: &mut Vec<String>) -> Option<PartRef> {
    let mut role: Option<(Role, &str)> = None;
    let mut inst: Option<(Role, u8, &'static str, &str)> = None;
    let mut kit = false;
    for m in parts {
        let Meaning::Part { role: r, names_role, program, name } = m.meaning() else { continue };
        if names_role {
            match role {
                None => role = Some((r, &m.words)),
                Some((first, w)) if first != r => warnings.push(format!(
                    "one part per job: planned {} (from \"{w}\"), ignored \"{}\"",
                    first.name(),
                    m.words
                )),
                _ => {}
            }
        } else if let Some(p) = program {
            match inst {
                None => inst = Some((r, p, name, &m.words)),
                Some((_, q, _, w)) if q != p => {
                    warnings.push(format!("one instrument per job: planned \"{w}\", ignored \"{}\"", m.words))
                }
                _ => {}
            }
        } else {
            kit |= r == Role::Drums;
        }
    }
    let role = role.map(|(r, _)| r).or(inst.map(|(r, ..)| r)).or(kit.then_some(Role::Drums))?;
    if matches!(role, Role::Drums | Role::Vocals) {
        if let Some((_, _, _, w)) = inst {
            warnings.push(format!("\"{w}\" is not a {} sound; ignored", role.name()));
        }
        return Some(PartRef { role, instrument: None, program: None });
    }
    Some(match inst {
        Some((_, p, name, _)) => PartRef { role, instrument: Some(name.into()), program: Some(p) },
        None if creates => {
            PartRef { role, instrument: role.default_program().map(gm_name), program: role.default_program() }
        }
        None => PartRef { role, instrument: None, program: None },
    })
}

/// The General MIDI name of a program used as a role default.
fn gm_name(program: u8) -> String {
    CONCEPTS
        .iter()
        .find_map(|k| match k.meaning {
            Meaning::Part { program: Some(p), name, .. } if p == program => Some(name.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| format!("GM program {program}"))
}

/// Sets `density`, `register`, `articulation` and `style`; "less"/"not" before a density or register
/// word turns it around.
fn resolve_attributes(tokens: &[Token], matches: &[Match], job: &mut PlannedJob) {
    let (mut density, mut register, mut level) = (Vec::new(), Vec::new(), Vec::new());
    for m in matches {
        let negated = m.start > 0 && matches!(tokens[m.start - 1].text.as_str(), "less" | "not" | "no" | "never");
        let sign = if negated { -1 } else { 1 };
        match m.meaning() {
            Meaning::Density(d) => density.push(d * sign),
            Meaning::Register(r) => register.push(r * sign),
            Meaning::Level(l) => level.push(l * sign),
            Meaning::Articulation(a) if !job.articulation.iter().any(|x| x == a) => job.articulation.push(a.into()),
            Meaning::Style(s) if !job.style.iter().any(|x| x == s) => job.style.push(s.into()),
            _ => {}
        }
    }
    job.density = settle("density", &density, &mut job.warnings);
    job.register = settle("register", &register, &mut job.warnings);
    job.level = settle("level", &level, &mut job.warnings);
}

/// One direction out of several requests; contradictions cancel with a warning.
fn settle(what: &str, asks: &[i8], warnings: &mut Vec<String>) -> i8 {
    let up = asks.iter().any(|&a| a > 0);
    let down = asks.iter().any(|&a| a < 0);
    match (up, down) {
        (true, true) => {
            warnings.push(format!("both more and less {what} asked for; left unchanged"));
            0
        }
        (true, false) => 1,
        (false, true) => -1,
        _ => 0,
    }
}

/// Sets `bars` and `section`, checking them against the song's length and markers.
fn resolve_bars(specs: &[Located], song: &SongContext, job: &mut PlannedJob) {
    let Some(first) = specs.first() else { return };
    for other in &specs[1..] {
        job.warnings.push(format!("one bar range per job: used \"{}\", ignored \"{}\"", first.phrase, other.phrase));
    }
    let n = song.bars.filter(|&n| n > 0);
    let phrase = &first.phrase;
    let need_length = |job: &mut PlannedJob| {
        job.errors.push(format!("\"{phrase}\" needs the song's length (--bars); planned the whole song"));
    };
    let range = match first.spec {
        BarSpec::Whole => None,
        BarSpec::Range(a, b) => Some((a, b)),
        BarSpec::First(k) => Some((1, k)),
        BarSpec::Until(k) => Some((1, k)),
        BarSpec::Last(k) => match n {
            Some(n) => Some((n.saturating_sub(k.saturating_sub(1)).max(1), n)),
            None => {
                need_length(job);
                return;
            }
        },
        BarSpec::From(k) => match n {
            Some(n) => Some((k, n.max(k))),
            None => {
                need_length(job);
                return;
            }
        },
        BarSpec::Half(first_half) => match n {
            Some(n) if n >= 2 => Some(if first_half { (1, n / 2) } else { (n / 2 + 1, n) }),
            Some(_) => {
                job.errors.push(format!("a one-bar song has no halves (\"{phrase}\"); planned the whole song"));
                return;
            }
            None => {
                need_length(job);
                return;
            }
        },
        BarSpec::Section(name, index) => {
            section_bars(name, index, song, job);
            return;
        }
    };
    if let Some((a, b)) = range {
        job.bars = check_range(a, b, phrase, n, job);
    }
}

/// Validates a range: zero-based, backwards, past the end. Returns the range to use (None = whole).
fn check_range(a: u32, b: u32, phrase: &str, n: Option<u32>, job: &mut PlannedJob) -> Option<[u32; 2]> {
    if b == 0 {
        job.errors.push(format!("\"{phrase}\": bars are counted from 1; planned the whole song"));
        return None;
    }
    let (mut a, mut b) = (a.max(1), b);
    if a > b {
        if n.is_some_and(|n| b > n) || n.is_none() && a - b > 64 {
            job.errors.push(format!("\"{phrase}\" runs backwards and lies outside the song; planned the whole song"));
            return None;
        }
        job.warnings.push(format!("\"{phrase}\" runs backwards; read as bars {b}-{a}"));
        std::mem::swap(&mut a, &mut b);
    }
    if let Some(n) = n {
        if a > n {
            let what = if a == b { format!("bar {a}") } else { format!("bars {a}-{b}") };
            job.errors
                .push(format!("{what} is past the end of the {n}-bar song (\"{phrase}\"); planned the whole song"));
            return None;
        }
        if b > n {
            job.warnings.push(format!("\"{phrase}\" goes past the end of the {n}-bar song; cut to bars {a}-{n}"));
            b = n;
        }
    }
    Some([a, b])
}

/// Finds a section in the song's markers.
fn section_bars(name: &'static str, index: Option<u32>, song: &SongContext, job: &mut PlannedJob) {
    let label = match index {
        Some(0) => format!("last {name}"),
        Some(k) => format!("{name} {k}"),
        None => name.to_string(),
    };
    job.section = Some(label.clone());
    if song.markers.is_empty() {
        job.warnings
            .push(format!("the song has no section markers, so \"{label}\" cannot be placed; planned the whole song"));
        return;
    }
    let of_kind: Vec<&Marker> = song
        .markers
        .iter()
        .filter(|m| grammar::tokenize(&m.name).iter().any(|t| grammar::section_name(&t.text) == Some(name)))
        .collect();
    let number = |m: &Marker| grammar::tokenize(&m.name).iter().find_map(|t| grammar::cardinal(&t.text));
    let chosen = match index {
        None => of_kind.first().copied(),
        Some(0) => of_kind.last().copied(),
        Some(k) => of_kind.iter().copied().find(|m| number(m) == Some(k)).or(of_kind.get(k as usize - 1).copied()),
    };
    let Some(m) = chosen else {
        let names: Vec<&str> = song.markers.iter().map(|m| m.name.as_str()).collect();
        job.errors.push(format!("the song has no \"{label}\" (markers: {}); planned the whole song", names.join(", ")));
        return;
    };
    if index.is_none() && of_kind.len() > 1 {
        job.warnings.push(format!(
            "the song has {} {name} sections; planned the first (\"{}\", bars {}-{}); name one, e.g. \"{name} 2\"",
            of_kind.len(),
            m.name,
            m.first_bar,
            m.last_bar
        ));
    }
    let phrase = format!("{} (bars {}-{})", m.name, m.first_bar, m.last_bar);
    job.bars = check_range(m.first_bar, m.last_bar, &phrase, song.bars, job);
}

/// Parses `--markers "intro=1-4,verse=5-12,chorus=13-20"`.
pub fn parse_markers(text: &str) -> Result<Vec<Marker>, String> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|item| {
            let bad = || format!("marker `{item}` should look like `chorus=13-20`");
            let (name, range) = item.split_once('=').ok_or_else(bad)?;
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            let first_bar = a.trim().parse().map_err(|_| bad())?;
            let last_bar = b.trim().parse().map_err(|_| bad())?;
            Ok(Marker { name: name.trim().to_string(), first_bar, last_bar })
        })
        .collect()
}

/// Whether the first named part comes with an indefinite article ("a counter-melody, sparser",
/// "some busier drums"): a request for a new part, not a change to one the song has.
fn introduces_new_part(tokens: &[Token], parts: &[&Match]) -> bool {
    const NEW: [&str; 6] = ["a", "an", "some", "another", "new", "extra"];
    parts.first().is_some_and(|part| {
        tokens[..part.start.min(tokens.len())].iter().rev().take(3).any(|t| NEW.contains(&t.text.as_str()))
    })
}
