//! The small grammar: words and numbers out of the prompt, spelling fixes, bar ranges and section
//! names. Everything here is exact and cheap; meanings of the remaining words come from embeddings.

use std::collections::HashSet;

/// Words that carry no instruction; never reported as unparsed.
pub const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "please",
    "pls",
    "plz",
    "me",
    "my",
    "some",
    "in",
    "on",
    "at",
    "for",
    "to",
    "of",
    "it",
    "its",
    "it's",
    "this",
    "that",
    "these",
    "those",
    "and",
    "or",
    "with",
    "can",
    "could",
    "would",
    "will",
    "you",
    "i",
    "i'd",
    "i'm",
    "we",
    "us",
    "our",
    "want",
    "wanna",
    "like",
    "just",
    "let's",
    "lets",
    "let",
    "also",
    "then",
    "there",
    "here",
    "is",
    "are",
    "be",
    "a",
    "bit",
    "little",
    "so",
    "too",
    "very",
    "really",
    "maybe",
    "kindly",
    "part",
    "song",
    "track",
    "song's",
    "track's",
    "one",
    "over",
    "into",
    "from",
    "by",
    "across",
    "during",
    "under",
    "underneath",
    "beneath",
    "all",
    "now",
    "do",
    "does",
    "should",
    "need",
    "needs",
    "get",
    "give",
    "use",
    "using",
    "have",
    "has",
    "ok",
    "okay",
    "hey",
    "hi",
    "thanks",
    "thank",
    "instead",
    "throughout",
    "bars",
    "bar",
    "measure",
    "measures",
    "section",
    "sections",
    "again",
    "new",
    "another",
    "different",
    "fresh",
    "make",
    "makes",
    "making",
    "while",
    "keep",
    "keeping",
    "same",
    "which",
    "what",
    "where",
    "when",
    "than",
    "but",
    "only",
    "something",
];

/// The word at the ends of a bar range: "bar", "measures", "mm".
pub const BAR_WORDS: &[&str] = &["bar", "bars", "measure", "measures", "mm", "m", "meas"];

/// Section names a song's markers may carry; the first of each row is the canonical name.
pub const SECTIONS: &[&[&str]] = &[
    &["intro", "introduction", "opening"],
    &["verse"],
    &["pre-chorus", "prechorus"],
    &["chorus", "refrain"],
    &["bridge", "middle-eight"],
    &["breakdown"],
    &["drop"],
    &["build-up", "buildup", "build"],
    &["outro", "coda", "ending"],
];

/// One word or number of the prompt.
#[derive(Debug, Clone)]
pub struct Token {
    /// Lowercased text after spelling correction.
    pub text: String,
    /// The text as written.
    pub raw: String,
    /// Kind of token.
    pub kind: Kind,
    /// Consumed by the grammar or by a recognised phrase.
    pub used: bool,
}

/// Kinds of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Letters (with inner hyphens and apostrophes) or a number written in digits.
    Word,
    /// A range dash between numbers.
    Dash,
    /// Sentence punctuation: phrases never cross it.
    Punct,
}

impl Token {
    /// Whether the token is a word that can carry meaning (not a stopword or punctuation).
    pub fn is_content(&self) -> bool {
        self.kind == Kind::Word && !STOPWORDS.contains(&self.text.as_str())
    }
}

/// Splits the prompt into lowercased words, numbers, dashes and punctuation.
pub fn tokenize(prompt: &str) -> Vec<Token> {
    let chars: Vec<char> = prompt.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let push = |tokens: &mut Vec<Token>, s: String, kind: Kind| {
        let text = s.to_lowercase();
        tokens.push(Token { text, raw: s, kind, used: false });
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() {
            let start = i;
            i += 1;
            while i < chars.len() {
                let d = chars[i];
                let joiner = (d == '-' || d == '\'' || d == '’')
                    && chars.get(i + 1).is_some_and(|n| n.is_alphabetic())
                    && chars[i - 1].is_alphabetic();
                if d.is_alphanumeric() || joiner {
                    i += 1;
                } else {
                    break;
                }
            }
            let word: String = chars[start..i].iter().map(|&c| if c == '’' { '\'' } else { c }).collect();
            push(&mut tokens, word, Kind::Word);
        } else if matches!(c, '-' | '–' | '—' | '~') {
            push(&mut tokens, "-".into(), Kind::Dash);
            i += 1;
        } else if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '(' | ')' | '"' | '/' | '&' | '+') {
            push(&mut tokens, c.to_string(), Kind::Punct);
            i += 1;
        } else {
            i += 1;
        }
    }
    tokens
}

/// Cardinal number words.
const CARDINALS: &[(&str, u32)] = &[
    ("zero", 0),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("sixty", 60),
    ("seventy", 70),
    ("eighty", 80),
    ("ninety", 90),
];

/// Ordinal number words.
const ORDINALS: &[(&str, u32)] = &[
    ("first", 1),
    ("second", 2),
    ("third", 3),
    ("fourth", 4),
    ("fifth", 5),
    ("sixth", 6),
    ("seventh", 7),
    ("eighth", 8),
    ("ninth", 9),
    ("tenth", 10),
];

/// The value of a cardinal: digits ("16"), a word ("sixteen") or a hyphenated word ("twenty-four").
pub fn cardinal(word: &str) -> Option<u32> {
    if !word.is_empty() && word.len() <= 9 && word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse().ok();
    }
    if let Some((tens, ones)) = word.split_once('-') {
        let t = cardinal(tens).filter(|t| *t >= 20 && t % 10 == 0)?;
        let o = cardinal(ones).filter(|o| (1..10).contains(o))?;
        return Some(t + o);
    }
    CARDINALS.iter().find(|(w, _)| *w == word).map(|&(_, v)| v)
}

/// The value of an ordinal: "second", "2nd".
pub fn ordinal(word: &str) -> Option<u32> {
    if let Some(&(_, v)) = ORDINALS.iter().find(|(w, _)| *w == word) {
        return Some(v);
    }
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &word[digits.len()..];
    if matches!(suffix, "st" | "nd" | "rd" | "th") { cardinal(digits) } else { None }
}

/// Optimal-string-alignment distance (Levenshtein plus swaps of neighbours), capped at `cap + 1`.
pub fn edit_distance(a: &str, b: &str, cap: usize) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > cap {
        return cap + 1;
    }
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    d.iter_mut().take(w).enumerate().for_each(|(j, x)| *x = j);
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1).min(d[i * w + j - 1] + 1).min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()].min(cap + 1)
}

/// Corrects misspelt words to one of `targets`: one edit for words of 4+ letters, two for 7+. When
/// several targets are equally close, the one that forms a known phrase with a neighbouring word
/// (`in_phrase`) wins, else the word is left alone. Words in `known` are never changed. Returns
/// "was -> now" for every change.
pub fn correct_spelling(
    tokens: &mut [Token],
    known: &HashSet<String>,
    targets: &HashSet<String>,
    in_phrase: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    let mut memo: std::collections::HashMap<String, Option<String>> = std::collections::HashMap::new();
    let mut changes = Vec::new();
    for i in 0..tokens.len() {
        let neighbour = |k: Option<usize>| k.and_then(|k| tokens.get(k)).map(|t| t.text.clone()).unwrap_or_default();
        let (before, after) = (neighbour(i.checked_sub(1)), neighbour(Some(i + 1)));
        let t = &mut tokens[i];
        if t.kind != Kind::Word {
            continue;
        }
        let len = t.text.chars().count();
        if len < 4 || known.contains(&t.text) || cardinal(&t.text).is_some() || ordinal(&t.text).is_some() {
            continue;
        }
        if t.text.bytes().any(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Some(fix) = memo.get(&t.text) {
            if let Some(k) = fix {
                changes.push(format!("{} -> {k}", t.text));
                t.text = k.clone();
            }
            continue;
        }
        let cap = if len >= 7 { 2 } else { 1 };
        let mut best: Vec<&String> = Vec::new();
        let mut best_d = cap + 1;
        for k in targets.iter().filter(|k| k.chars().count() >= 4) {
            let d = edit_distance(&t.text, k, cap);
            if d < best_d {
                best_d = d;
                best.clear();
            }
            if d == best_d && d <= cap {
                best.push(k);
            }
        }
        let fix = match best.len() {
            1 => Some(best[0].clone()),
            _ => {
                let fits = |k: &&String| in_phrase(&format!("{before} {k}")) || in_phrase(&format!("{k} {after}"));
                let fitting: Vec<&String> = best.iter().copied().filter(fits).collect();
                (fitting.len() == 1).then(|| fitting[0].clone())
            }
        };
        // A fix chosen by its neighbours is not reused for the same word elsewhere.
        if best.len() > 1 {
            if let Some(k) = fix {
                changes.push(format!("{} -> {k}", t.text));
                t.text = k;
            }
            continue;
        }
        memo.insert(t.text.clone(), fix.clone());
        if let Some(k) = fix {
            changes.push(format!("{} -> {k}", t.text));
            t.text = k;
        }
    }
    changes
}

/// Where the prompt says the job applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BarSpec {
    /// First and last bar as written (may be backwards or out of range; checked later).
    Range(u32, u32),
    /// The last N bars.
    Last(u32),
    /// The first N bars.
    First(u32),
    /// From this bar to the end.
    From(u32),
    /// From the start to this bar.
    Until(u32),
    /// First (true) or second (false) half of the song.
    Half(bool),
    /// The whole song, said explicitly.
    Whole,
    /// A named section, optionally the n-th (0 = the last one).
    Section(&'static str, Option<u32>),
}

/// A bar request and the words it came from.
#[derive(Debug, Clone)]
pub struct Located {
    /// What was asked.
    pub spec: BarSpec,
    /// The words, as written, for messages.
    pub phrase: String,
}

/// Finds bar ranges, "last/first N bars", halves, "the whole song" and section names, marking
/// their tokens used.
pub fn find_bars(tokens: &mut [Token]) -> Vec<Located> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].used {
            i += 1;
            continue;
        }
        if let Some((spec, end)) = match_at(tokens, i) {
            let start = lead_in(tokens, i);
            let phrase = tokens[start..end].iter().map(|t| t.raw.as_str()).collect::<Vec<_>>().join(" ");
            tokens[start..end].iter_mut().for_each(|t| t.used = true);
            found.push(Located { spec, phrase });
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// Index of the first of the words "from/in/the/after..." just before `i` that belong to the phrase.
fn lead_in(tokens: &[Token], i: usize) -> usize {
    let mut s = i;
    while s > 0
        && !tokens[s - 1].used
        && matches!(
            tokens[s - 1].text.as_str(),
            "the" | "in" | "on" | "for" | "at" | "during" | "over" | "of" | "from" | "between" | "only"
        )
    {
        s -= 1;
    }
    s
}

/// The text of token `i`, or "".
fn word(tokens: &[Token], i: usize) -> &str {
    tokens.get(i).filter(|t| !t.used).map_or("", |t| t.text.as_str())
}

/// A number (digits or a cardinal word) at `i`.
fn number(tokens: &[Token], i: usize) -> Option<u32> {
    tokens.get(i).filter(|t| t.kind == Kind::Word && !t.used).and_then(|t| cardinal(&t.text))
}

/// Whether token `i` is a bar word.
fn is_bar(tokens: &[Token], i: usize) -> bool {
    BAR_WORDS.contains(&word(tokens, i))
}

/// Whether token `i` joins the two ends of a range.
fn is_range_joiner(tokens: &[Token], i: usize) -> bool {
    tokens.get(i).is_some_and(|t| !t.used && (t.kind == Kind::Dash))
        || matches!(word(tokens, i), "to" | "through" | "thru" | "till" | "until" | "and")
}

/// Tries every pattern at `i`; returns the request and the index after its last token.
fn match_at(tokens: &[Token], i: usize) -> Option<(BarSpec, usize)> {
    let w = word(tokens, i);
    // "from/after/until/before bar 9 (on/onwards/to the end)"
    let bound = match w {
        "from" | "after" | "starting" | "since" | "until" | "till" | "before" | "up" | "through" => Some(w),
        _ => None,
    };
    if let Some(b) = bound {
        let mut j = i + 1;
        if matches!(word(tokens, j), "at" | "from" | "to" | "with") {
            j += 1;
        }
        if is_bar(tokens, j)
            && let Some(n) = number(tokens, j + 1)
            && !(is_range_joiner(tokens, j + 2) && (number(tokens, j + 3).is_some() || is_bar(tokens, j + 3)))
        {
            let mut end = j + 2;
            let spec = match b {
                "from" | "starting" | "since" => BarSpec::From(n),
                "after" => BarSpec::From(n + 1),
                "before" => BarSpec::Until(n.saturating_sub(1)),
                _ => BarSpec::Until(n),
            };
            if matches!(spec, BarSpec::From(_)) {
                if matches!(word(tokens, end), "on" | "onward" | "onwards") {
                    end += 1;
                } else if word(tokens, end) == "to" && word(tokens, end + 1) == "the" && word(tokens, end + 2) == "end"
                {
                    end += 3;
                }
            }
            return Some((spec, end));
        }
    }
    // "bar(s) 9(-| to | through )(bar )16" and "bar 9"
    if is_bar(tokens, i)
        && let Some(a) = number(tokens, i + 1)
    {
        if is_range_joiner(tokens, i + 2) {
            let k = if is_bar(tokens, i + 3) { i + 4 } else { i + 3 };
            if let Some(b) = number(tokens, k) {
                return Some((BarSpec::Range(a, b), k + 1));
            }
        }
        return Some((BarSpec::Range(a, a), i + 2));
    }
    // "9-16" or "from 9 to 16" without a bar word
    if let Some(a) = number(tokens, i).filter(|_| w != "one")
        && tokens.get(i + 1).is_some_and(|t| t.kind == Kind::Dash || t.text == "to" || t.text == "through")
        && let Some(b) = number(tokens, i + 2)
    {
        let end = if is_bar(tokens, i + 3) { i + 4 } else { i + 3 };
        return Some((BarSpec::Range(a, b), end));
    }
    // "(the) last/first (4|four) bars", "the final bar"
    let edge = match w {
        "last" | "final" | "closing" | "ending" => Some(false),
        "first" | "opening" | "starting" => Some(true),
        _ => None,
    };
    if let Some(first) = edge {
        let (n, k) = match number(tokens, i + 1) {
            Some(n) => (n, i + 2),
            None => (1, i + 1),
        };
        if is_bar(tokens, k) {
            return Some((if first { BarSpec::First(n) } else { BarSpec::Last(n) }, k + 1));
        }
        if matches!(word(tokens, i + 1), "half") {
            return Some((BarSpec::Half(first), i + 2));
        }
    }
    if w == "second" && word(tokens, i + 1) == "half" {
        return Some((BarSpec::Half(false), i + 2));
    }
    // "the whole song", "throughout", "everywhere"
    if matches!(w, "whole" | "entire" | "full") && matches!(word(tokens, i + 1), "song" | "track" | "thing" | "piece") {
        return Some((BarSpec::Whole, i + 2));
    }
    if matches!(w, "throughout" | "everywhere") {
        return Some((BarSpec::Whole, i + 1));
    }
    section_at(tokens, i)
}

/// "the (second|last) chorus", "verse 2", "the drop".
fn section_at(tokens: &[Token], i: usize) -> Option<(BarSpec, usize)> {
    let (index, k) = match word(tokens, i) {
        "last" | "final" => (Some(0), i + 1),
        w => match ordinal(w) {
            Some(n) => (Some(n), i + 1),
            None => (None, i),
        },
    };
    let name = section_name(word(tokens, k))?;
    // "drop", "build" and "ending" are verbs or common words too: only sections after "the" etc.
    if matches!(name, "drop" | "build-up" | "outro") && word(tokens, k) != "outro" && index.is_none() {
        let before = if k > 0 { tokens[k - 1].text.as_str() } else { "" };
        if !matches!(before, "the" | "in" | "at" | "during" | "before" | "after" | "into") {
            return None;
        }
    }
    if index.is_none()
        && let Some(n) = number(tokens, k + 1)
    {
        return Some((BarSpec::Section(name, Some(n)), k + 2));
    }
    Some((BarSpec::Section(name, index), k + 1))
}

/// The canonical section name of a word.
pub fn section_name(w: &str) -> Option<&'static str> {
    SECTIONS.iter().find(|row| row.contains(&w)).map(|row| row[0])
}

/// Words the grammar itself reads (kept out of spelling correction so they are never "fixed").
pub fn grammar_words() -> impl Iterator<Item = &'static str> {
    let numbers = CARDINALS.iter().chain(ORDINALS).map(|(w, _)| *w);
    let sections = SECTIONS.iter().flat_map(|row| row.iter().copied());
    let extra = ["from", "after", "starting", "since", "until", "till", "before", "through", "thru", "last"];
    let extra2 = ["final", "closing", "ending", "first", "opening", "half", "whole", "entire", "full", "everywhere"];
    STOPWORDS.iter().copied().chain(BAR_WORDS.iter().copied()).chain(numbers).chain(sections).chain(extra).chain(extra2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(prompt: &str) -> Vec<BarSpec> {
        find_bars(&mut tokenize(prompt)).into_iter().map(|l| l.spec).collect()
    }

    #[test]
    fn ranges_and_sections() {
        assert_eq!(bars("bass in bars 9-16"), [BarSpec::Range(9, 16)]);
        assert_eq!(bars("from bar nine to bar sixteen"), [BarSpec::Range(9, 16)]);
        assert_eq!(bars("measures 3 through 4"), [BarSpec::Range(3, 4)]);
        assert_eq!(bars("the last four bars"), [BarSpec::Last(4)]);
        assert_eq!(bars("the final bar"), [BarSpec::Last(1)]);
        assert_eq!(bars("after bar 8"), [BarSpec::From(9)]);
        assert_eq!(bars("the second chorus"), [BarSpec::Section("chorus", Some(2))]);
        assert_eq!(bars("verse 2"), [BarSpec::Section("verse", Some(2))]);
        assert_eq!(bars("drop the drums"), []);
        assert_eq!(bars("in the drop"), [BarSpec::Section("drop", None)]);
    }

    #[test]
    fn numbers_and_typos() {
        assert_eq!(cardinal("twenty-four"), Some(24));
        assert_eq!(ordinal("3rd"), Some(3));
        assert_eq!(edit_distance("basline", "bassline", 2), 1);
        assert_eq!(edit_distance("remvoe", "remove", 2), 1);
        let known: HashSet<String> = ["bassline", "remove", "bass"].iter().map(|s| s.to_string()).collect();
        let mut t = tokenize("remvoe the basline");
        correct_spelling(&mut t, &HashSet::new(), &known, &|_| false);
        assert_eq!(t[0].text, "remove");
        assert_eq!(t[2].text, "bassline");
    }
}
