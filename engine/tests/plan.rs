//! The instruction planner on a table of phrasings, with the real MiniLM embedder pack.
//!
//! Each row lists only the fields it checks: `key=value` must be equal, `key~value` must be among
//! a list field's entries. Accuracy per field over the table is printed; every row must pass.

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use counterpart_engine::plan::{self, Marker, PlannedJob, SongContext};

/// (prompt, song: "" unknown length, "16" a length, "m" the marked 40-bar song, expectations).
const TABLE: &[(&str, &str, &str)] = &[
    // Adding parts, by role, instrument and paraphrase.
    ("add a bassline in bars 9-16", "16", "action=add role=bass program=33 bars=9-16 density=0 register=0 unparsed="),
    ("give me some low end for bars 1 to 8", "16", "action=add role=bass bars=1-8 unparsed="),
    ("I want a sub bass under the last 4 bars", "16", "action=add role=bass bars=13-16"),
    ("write a bass line", "", "action=add role=bass program=33 bars=null"),
    ("add a walking upright bass", "", "action=add role=bass program=32 style~walking"),
    ("add a synth bass from bar 5 to bar 12", "16", "role=bass program=38 bars=5-12"),
    ("add a fretless bass in measures 3 through 6", "16", "role=bass program=35 bars=3-6"),
    ("add a warm pad in the chorus", "m", "action=add role=chords program=89 bars=13-20 section=chorus"),
    ("give me some chords on piano", "", "action=add role=chords program=0"),
    ("add strings for the second verse", "m", "action=add role=chords program=48 bars=21-28"),
    ("add a melody on flute", "", "action=add role=melody program=73"),
    ("write a catchy lead line for the hook", "", "action=add role=melody style~pop unparsed~hook"),
    ("add a cello counter-melody in bars 17-24", "32", "action=add role=counter-melody program=42 bars=17-24"),
    ("compose a countermelody for violin", "", "action=add role=counter-melody program=40"),
    ("add an arpeggio on harp over the last 8 bars", "32", "action=add role=arpeggio program=46 bars=25-32"),
    ("give me an arp", "", "action=add role=arpeggio"),
    ("add some drums", "", "action=add role=drums program=null"),
    ("put a beat under the intro", "m", "action=add role=drums program=null bars=1-4"),
    ("add percussion from bar 9", "16", "action=add role=drums bars=9-16"),
    ("add a jazzy walking bass", "", "role=bass style~jazz style~walking"),
    ("add dark cinematic strings", "", "action=add program=48 style~dark style~cinematic"),
    ("add a mellow rhodes part", "", "role=chords program=4 style~gentle"),
    ("add a staccato string section in bars 1-4", "16", "action=add program=48 articulation~staccato bars=1-4"),
    ("legato strings in the bridge", "m", "action=add program=48 articulation~legato bars=null errors=yes"),
    // Changing parts.
    ("the low end needs to be busier in bars 9-16", "16", "action=vary role=bass density=1 bars=9-16"),
    ("make the bassline sparser", "", "action=vary role=bass density=-1 program=null"),
    ("give me a counter-melody, sparser", "", "action=add role=counter-melody density=-1"),
    ("a busier bass line", "", "action=add role=bass density=1"),
    ("make the drums busier", "", "action=vary role=drums density=1"),
    ("make the bass less busy", "", "action=vary role=bass density=-1"),
    ("bass busier please", "", "action=vary role=bass density=1"),
    ("play the melody an octave higher", "", "action=vary role=melody register=1"),
    ("move the chords down an octave", "", "action=vary role=chords register=-1"),
    ("make the pad more staccato", "", "action=vary role=chords articulation~staccato"),
    ("thin out the drums in the outro", "m", "action=vary role=drums density=-1 bars=37-40"),
    ("vary the melody a bit", "", "action=vary role=melody"),
    ("add some variation to the arpeggio in the last two bars", "16", "action=vary role=arpeggio bars=15-16"),
    ("regenerate the drums", "", "action=regenerate role=drums"),
    ("redo the bass in bars 1-4", "16", "action=regenerate role=bass bars=1-4 program=null"),
    ("try another bassline", "", "action=regenerate role=bass"),
    // Removing, extracting, replacing.
    ("remove the drums", "", "action=remove role=drums"),
    ("get rid of the vocals in the chorus", "m", "action=remove role=vocals bars=13-20"),
    ("mute the guitar for bars 5-8", "16", "action=remove role=chords program=27 bars=5-8"),
    ("delete the piano", "", "action=remove role=chords program=0"),
    ("extract the vocals", "", "action=extract role=vocals program=null"),
    ("isolate the singer", "", "action=extract role=vocals"),
    ("pull out the bass guitar", "", "action=extract role=bass program=33"),
    ("separate the drums from the rest", "", "action=extract role=drums"),
    ("keep only the drums", "", "action=extract role=drums"),
    ("just the bass please", "", "action=extract role=bass"),
    ("take out the bass", "", "action=remove role=bass"),
    ("take the vocals out", "", "action=remove role=vocals warnings=no"),
    ("get rid of the drums", "", "action=remove role=drums"),
    ("the song without the drums", "", "action=remove role=drums"),
    ("make the vocals quieter", "", "action=vary role=vocals level=-1 warnings=no"),
    ("make the drums a bit louder", "", "action=vary role=drums level=1"),
    ("turn down the bass", "", "action=vary role=bass level=-1"),
    ("replace the bass with something busier", "", "action=replace replaces=bass density=1"),
    ("replace the piano with strings", "", "action=replace role=chords program=48 replaces=chords"),
    ("swap the guitar for a cello", "", "action=replace role=melody program=42 replaces=chords"),
    ("change the bass to a fretless", "", "action=replace role=bass program=35 replaces=bass"),
    ("use an organ instead of the piano", "", "action=replace role=chords program=16 replaces=chords"),
    // Typos.
    ("add a basline in bars 9-16", "16", "action=add role=bass bars=9-16"),
    ("remvoe the drumms", "", "action=remove role=drums"),
    ("make the melodie hihger", "", "action=vary role=melody register=1"),
    ("extrct the vocls", "", "action=extract role=vocals"),
    ("ad a countr melody", "", "action=add role=counter-melody"),
    // Other word orders.
    ("bars 9-16: bass, busier", "16", "action=vary role=bass bars=9-16 density=1"),
    ("in the last 4 bars add drums", "16", "action=add role=drums bars=13-16"),
    ("for measures five to eight I'd like a flute melody", "16", "action=add role=melody program=73 bars=5-8"),
    ("drums, remove them", "", "action=remove role=drums"),
    // Nonsense and partial nonsense.
    ("blorf zing quux", "", "action=null role=null unparsed~blorf unparsed~quux errors=yes"),
    ("the weather is lovely today", "", "action=null role=null unparsed~weather errors=yes"),
    ("asdfghjkl qwerty", "", "action=null role=null errors=yes"),
    ("", "", "action=null role=null errors=yes"),
    ("!!! ??? ...", "", "action=null errors=yes"),
    ("add a bassline and a purple elephant", "", "action=add role=bass unparsed~purple unparsed~elephant"),
    // Impossible or partial ranges.
    ("add a bassline in bars 90-80", "16", "role=bass bars=null errors=yes"),
    ("add drums at bar 500", "16", "role=drums bars=null errors=yes"),
    ("add a melody in bars 12-20", "16", "role=melody bars=12-16 warnings=yes errors=no"),
    ("add chords in bars 16-9", "16", "role=chords bars=9-16 warnings=yes errors=no"),
    ("add a bassline in the last 4 bars", "", "role=bass bars=null errors=yes"),
    ("add a bassline in bar 0", "16", "role=bass bars=null errors=yes"),
    ("add strings in the chorus", "16", "program=48 bars=null section=chorus warnings=yes"),
];

/// The 40-bar song with markers used by rows marked "m".
fn marked_song() -> SongContext {
    let markers = [("Intro", 1, 4), ("Verse", 5, 12), ("Chorus", 13, 20), ("Verse 2", 21, 28), ("Chorus 2", 29, 36)];
    let mut markers: Vec<Marker> =
        markers.iter().map(|&(n, a, b)| Marker { name: n.into(), first_bar: a, last_bar: b }).collect();
    markers.push(Marker { name: "Outro".into(), first_bar: 37, last_bar: 40 });
    SongContext { bars: Some(40), markers }
}

/// The song of a row.
fn song(spec: &str) -> SongContext {
    match spec {
        "" => SongContext::default(),
        "m" => marked_song(),
        n => SongContext { bars: Some(n.parse().unwrap()), markers: Vec::new() },
    }
}

/// A field of the job as text ("null" when absent).
fn field(job: &PlannedJob, key: &str) -> Vec<String> {
    let opt = |v: Option<String>| vec![v.unwrap_or_else(|| "null".into())];
    let yes = |b: bool| vec![if b { "yes" } else { "no" }.to_string()];
    match key {
        "action" => opt(job.action.map(|a| a.name().into())),
        "role" => opt(job.role.map(|r| r.name().into())),
        "program" => opt(job.program.map(|p| p.to_string())),
        "bars" => opt(job.bars.map(|[a, b]| format!("{a}-{b}"))),
        "section" => opt(job.section.clone()),
        "density" => vec![job.density.to_string()],
        "register" => vec![job.register.to_string()],
        "level" => vec![job.level.to_string()],
        "style" => job.style.clone(),
        "articulation" => job.articulation.clone(),
        "unparsed" => job.unparsed.iter().map(|w| w.to_lowercase()).collect(),
        "replaces" => opt(job.replaces.as_ref().map(|p| p.role.name().into())),
        "errors" => yes(!job.errors.is_empty()),
        "warnings" => yes(!job.warnings.is_empty()),
        other => panic!("unknown field `{other}` in the table"),
    }
}

/// Checks one expectation; returns (field, passed).
fn check(job: &PlannedJob, expectation: &str) -> (String, bool) {
    if let Some((key, value)) = expectation.split_once('~') {
        return (key.into(), field(job, key).iter().any(|v| v == value));
    }
    let (key, value) = expectation.split_once('=').expect("key=value or key~value");
    let got = field(job, key);
    let ok = if value.is_empty() { got.is_empty() } else { got.len() == 1 && got[0] == value };
    (key.into(), ok)
}

/// Checks each of the space-separated `expected` on the job, counting (met, checked) per field, and
/// returns the ones it misses.
fn tally<'a>(job: &PlannedJob, expected: &'a str, per_field: &mut BTreeMap<String, (usize, usize)>) -> Vec<&'a str> {
    let mut missed = Vec::new();
    for e in expected.split_whitespace() {
        let (key, ok) = check(job, e);
        let entry = per_field.entry(key).or_default();
        entry.1 += 1;
        if ok {
            entry.0 += 1;
        } else {
            missed.push(e);
        }
    }
    missed
}

/// A 10 kB prompt: an instruction followed by filler.
fn long_prompt(head: &str, filler: &str) -> String {
    let mut s = String::from(head);
    while s.len() < 10_240 {
        s.push(' ');
        s.push_str(filler);
    }
    s
}

#[test]
fn planner_table_with_the_real_model() {
    let Some(mut embedder) = common::embedder() else { return };
    let started = Instant::now();
    let warm = plan::plan("add a bassline", &SongContext::default(), &mut embedder);
    let setup_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(warm.role.map(|r| r.name()), Some("bass"));

    let mut per_field: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let started = Instant::now();
    for &(prompt, song_spec, expected) in TABLE {
        let job = plan::plan(prompt, &song(song_spec), &mut embedder);
        for e in tally(&job, expected, &mut per_field) {
            failures.push(format!(
                "{prompt:?}: expected {e}, job: {}",
                serde_json::to_string(&job).unwrap().chars().take(900).collect::<String>()
            ));
        }
    }
    let per_prompt_ms = started.elapsed().as_secs_f64() * 1000.0 / TABLE.len() as f64;

    // 10 kB prompts: filler that repeats, filler that does not, and a repeated instruction.
    let words = "quartz lantern meadow vivid orbit pickle sonnet harbor velvet ember glacier tundra \
                 whisper cobalt saffron pylon marble zephyr lattice nimbus prairie citadel ferry";
    let mut varied = String::from("remove the drums from bar 3 to bar 6.");
    let mut k = 7usize;
    while varied.len() < 10_240 {
        let w: Vec<&str> = words.split_whitespace().collect();
        k = (k * 31 + 17) % 9973;
        varied.push(' ');
        varied.push_str(w[k % w.len()]);
        varied.push_str(&format!("{}", k % 13));
    }
    let long = [
        (
            long_prompt("add a funky bassline in bars 9-16.", "la"),
            "action=add role=bass bars=9-16 style~funk unparsed~la",
        ),
        (varied, "action=remove role=drums bars=3-6"),
        (long_prompt("", "make the bass busier."), "action=vary role=bass density=1"),
    ];
    let mut long_ms: f64 = 0.0;
    for (prompt, expected) in &long {
        let t = Instant::now();
        let job = plan::plan(prompt, &song("16"), &mut embedder);
        long_ms = long_ms.max(t.elapsed().as_secs_f64() * 1000.0);
        assert!(prompt.len() >= 10_240);
        for e in tally(&job, expected, &mut per_field) {
            failures.push(format!("10 kB prompt {:?}...: expected {e}, warnings {:?}", &prompt[..40], job.warnings));
        }
    }

    println!("planner table: {} prompts + {} of 10 kB", TABLE.len(), long.len());
    for (key, (ok, n)) in &per_field {
        println!("  {key:<13} {ok:>3}/{n:<3} {:6.1}%", 100.0 * *ok as f64 / *n as f64);
    }
    println!(
        "first prompt (prototype embeddings) {setup_ms:.0} ms, then {per_prompt_ms:.1} ms per prompt, \
         slowest 10 kB prompt {long_ms:.0} ms"
    );
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(failures.is_empty(), "{} expectations failed (listed above)", failures.len());
}

#[test]
fn example_jobs_serialise_with_the_documented_fields() {
    let Some(mut embedder) = common::embedder() else { return };
    let job = plan::plan("make the low end busier in the last 4 bars", &song("16"), &mut embedder);
    let v = serde_json::to_value(&job).unwrap();
    for key in ["action", "role", "program", "bars", "density", "register", "unparsed", "errors", "warnings"] {
        assert!(v.get(key).is_some(), "`{key}` missing from {v}");
    }
    assert_eq!(v["action"], "vary");
    assert_eq!(v["role"], "bass");
    assert_eq!(v["bars"], serde_json::json!([13, 16]));
    assert_eq!(v["density"], 1);
}
