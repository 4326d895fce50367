//! `counterpart`: the headless CLI.
//!
//! ```text
//! counterpart transcribe <audio> [--midi out.mid] [--json notes.json] [--batch N] [--sessions N] [--provider cpu|cuda|coreml|directml] [--no-bends]
//! counterpart analyze <audio>... [--tempo BPM] [--meter 4/4] --json out.json
//! counterpart plan --prompt "<text>" [--bars N] [--markers "verse=1-8,chorus=9-16"] [--json]
//! counterpart render --midi in.mid --out out.wav [--program N | --drums] [--tempo BPM] [--rate HZ]
//! counterpart edit --input <audio> --instruction "remove the drums" [--tempo BPM] [--seed S] [--segment-seconds S] --out <dir> [--provider ...]
//! counterpart generate [--context <audio>]... [--context-midi song.mid] --prompt "<text>" [--key "D minor"] [--chords "Am F C G"] [--from take.mid] [--tempo BPM] [--meter 4/4] [--takes N] [--seed S] --out <dir>
//! counterpart doctor      (runtime and model pack status)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use counterpart_engine::analysis::{self, AnalyzeOptions};
use counterpart_engine::generate;
use counterpart_engine::packs::PackRegistry;
use counterpart_engine::plan::{self, Embedder, SongContext};
use counterpart_engine::render::Renderer;
use counterpart_engine::runtime::{self, ExecutionProvider, SessionSettings};
use counterpart_engine::transcribe::{self, TranscribeOptions, midi_out};
use counterpart_engine::{midi, wav};

/// Parsed command line: positional arguments and `--key value` / `--flag` options.
struct Args {
    /// Positional arguments after the subcommand.
    positional: Vec<String>,
    /// Options in order.
    options: Vec<(String, Option<String>)>,
}

impl Args {
    /// Splits `argv` (after the subcommand); `flags` are options that take no value. An option
    /// that wants a value and has none is an error.
    fn parse(argv: &[String], flags: &[&str]) -> Result<Args, String> {
        let mut positional = Vec::new();
        let mut options = Vec::new();
        let mut it = argv.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                if flags.contains(&name) {
                    options.push((name.to_string(), None));
                } else {
                    let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                    options.push((name.to_string(), Some(value.clone())));
                }
            } else {
                positional.push(a.clone());
            }
        }
        Ok(Args { positional, options })
    }

    /// The value of `--name`, if given.
    fn get(&self, name: &str) -> Option<&str> {
        self.options.iter().rev().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
    }

    /// Whether `--name` was given.
    fn has(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| n == name)
    }

    /// `--tempo BPM`, if given: a positive finite number.
    fn tempo(&self) -> Result<Option<f64>, String> {
        self.get("tempo")
            .map(|t| {
                t.parse::<f64>()
                    .ok()
                    .filter(|t| t.is_finite() && *t > 0.0)
                    .ok_or(format!("--tempo wants BPM, got `{t}`"))
            })
            .transpose()
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = match argv.first().map(String::as_str) {
        Some("transcribe") => Args::parse(&argv[1..], &["no-bends"]).and_then(|a| transcribe_cmd(&a)),
        Some("analyze") => Args::parse(&argv[1..], &[]).and_then(|a| analyze_cmd(&a)),
        Some("plan") => Args::parse(&argv[1..], &["json"]).and_then(|a| plan_cmd(&a)),
        Some("generate") => Args::parse(&argv[1..], &[]).and_then(|a| generate_cmd(&a)),
        Some("render") => Args::parse(&argv[1..], &["drums"]).and_then(|a| render_cmd(&a)),
        Some("edit") => Args::parse(&argv[1..], &[]).and_then(|a| edit_cmd(&a)),
        Some("doctor") => doctor(),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Usage text.
const USAGE: &str = "usage:
  counterpart transcribe <audio> [--midi out.mid] [--json notes.json] [--batch N] [--sessions N] [--provider cpu|cuda|coreml|directml] [--no-bends]
  counterpart analyze <audio>... [--tempo BPM] [--meter 4/4] --json out.json
  counterpart plan --prompt \"<text>\" [--bars N] [--markers \"verse=1-8,chorus=9-16\"] [--json]
  counterpart render --midi in.mid --out out.wav [--program N | --drums] [--tempo BPM] [--rate HZ]
  counterpart edit --input <audio> --instruction \"remove the drums\" [--tempo BPM] [--seed S] [--segment-seconds S] --out <dir> [--provider cpu|cuda|coreml|directml]
  counterpart generate [--context <audio>]... [--context-midi song.mid] --prompt \"<text>\" [--key \"D minor\"] [--chords \"Am F C G\"] [--from take.mid] [--tempo BPM] [--meter 4/4] [--takes N] [--seed S] --out <dir>
  counterpart doctor";

/// `counterpart generate`: a new stem against the context, as MIDI, audio and a mix per take.
/// `--context-midi` reads the context's notes from MIDI instead of transcribing; `--key` and
/// `--chords` (one per bar, repeating) replace the analysed ones; `--from` takes an earlier take
/// to regenerate ("regenerate bars 3-4") or vary ("vary this take"), keeping its notes outside.
fn generate_cmd(args: &Args) -> Result<(), String> {
    let contexts: Vec<PathBuf> = args
        .options
        .iter()
        .filter(|(n, _)| n == "context")
        .filter_map(|(_, v)| v.as_ref().map(PathBuf::from))
        .collect();
    let prompt = args.get("prompt").ok_or("generate needs --prompt \"<instruction>\"")?.to_string();
    let out = PathBuf::from(args.get("out").ok_or("generate needs --out <dir>")?);
    let parse = |name: &str| {
        args.get(name).map(|v| v.parse::<u64>().map_err(|_| format!("--{name} wants a whole number, got `{v}`")))
    };
    let takes = parse("takes").transpose()?.unwrap_or(3).clamp(1, 16) as usize;
    let seed = parse("seed").transpose()?.unwrap_or(1);
    let tempo = args.tempo()?;
    let meter = match args.get("meter") {
        Some(m) => m.parse()?,
        None => Default::default(),
    };
    let key = args.get("key").map(counterpart_engine::arrange::KeySig::parse).transpose()?;
    let chords =
        args.get("chords").map(counterpart_engine::arrange::Chord::parse_list).transpose()?.unwrap_or_default();
    let opts = generate::GenerateOptions {
        contexts,
        context_midi: args.get("context-midi").map(PathBuf::from),
        key,
        chords,
        from: args.get("from").map(PathBuf::from),
        prompt,
        tempo,
        meter,
        takes,
        seed,
        out: out.clone(),
    };
    let started = Instant::now();
    let mut reg = registry(args)?;
    let report =
        generate::generate(&mut reg, &opts, |step| eprintln!("[{:5.1} s] {step}", started.elapsed().as_secs_f64()))?;
    for take in &report.takes {
        let fit = if take.harmonic_fit.is_nan() { "-".into() } else { format!("{:.2}", take.harmonic_fit) };
        eprintln!(
            "take seed {}: {} notes, harmonic fit {fit}, {:.1} notes/bar -> {}",
            take.seed,
            take.notes,
            take.notes_per_bar,
            take.midi.display()
        );
    }
    eprintln!("{} ({}): {}", report.role, report.edit, report.method);
    eprintln!("report -> {}", out.join("report.json").display());
    Ok(())
}

/// Renders a MIDI file to a WAV file with the General MIDI SoundFont.
fn render_cmd(args: &Args) -> Result<(), String> {
    let midi = args.get("midi").ok_or("render needs --midi <file.mid>")?;
    let out = args.get("out").ok_or("render needs --out <file.wav>")?;
    let number = |name: &str, default: f64| -> Result<f64, String> {
        match args.get(name) {
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or(format!("--{name} {v} is not a positive number")),
            None => Ok(default),
        }
    };
    let (notes, file_tempo) = midi::read_midi(std::path::Path::new(midi))?;
    let tempo = number("tempo", file_tempo.unwrap_or(120.0))?;
    let rate = number("rate", 44_100.0)? as u32;
    let program = match (args.has("drums"), args.get("program")) {
        (true, _) => None,
        (false, Some(p)) => {
            Some(p.parse::<u8>().ok().filter(|p| *p < 128).ok_or(format!("--program {p} is not 0-127"))?)
        }
        (false, None) => Some(0),
    };
    let renderer = Renderer::open_default()?;
    let audio = renderer.render(&notes, program, 0.0, tempo, rate, 1.0)?;
    wav::write_wav(std::path::Path::new(out), &audio)?;
    eprintln!(
        "{} notes -> {out} ({:.1} s at {rate} Hz, {})",
        notes.len(),
        audio.seconds(),
        renderer.source().display()
    );
    Ok(())
}

/// Loads the runtime and the packs with the requested provider.
fn registry(args: &Args) -> Result<PackRegistry, String> {
    runtime::init_default().map_err(|e| e.to_string())?;
    let provider = match args.get("provider") {
        Some(p) => p.parse::<ExecutionProvider>()?,
        None => ExecutionProvider::Cpu,
    };
    Ok(PackRegistry::discover_default(SessionSettings { provider, intra_threads: 0 }))
}

/// Transcription options from the command line.
fn transcribe_options(args: &Args) -> Result<TranscribeOptions, String> {
    let mut opts = TranscribeOptions::default();
    if let Some(b) = args.get("batch") {
        opts.batch = b.parse().map_err(|_| format!("--batch wants a number, got `{b}`"))?;
    }
    if let Some(n) = args.get("sessions") {
        opts.sessions = n.parse().map_err(|_| format!("--sessions wants a number (0: one per core), got `{n}`"))?;
    }
    opts.params.pitch_bends = !args.has("no-bends");
    Ok(opts)
}

/// `counterpart transcribe`.
fn transcribe_cmd(args: &Args) -> Result<(), String> {
    let input = PathBuf::from(args.positional.first().ok_or(USAGE)?);
    let opts = transcribe_options(args)?;
    let mut reg = registry(args)?;
    let started = Instant::now();
    let t = transcribe::transcribe_with_registry(&mut reg, &input, &opts).map_err(|e| e.to_string())?;
    let total = started.elapsed().as_secs_f64();
    let decode_started = Instant::now();
    let _ = transcribe::notes::decode(&t.posteriorgram, &opts.params);
    eprintln!(
        "{} notes from {:.1} s of audio in {:.2} s (note decoding {:.1} ms)",
        t.notes.len(),
        t.duration,
        total,
        decode_started.elapsed().as_secs_f64() * 1000.0
    );
    if let Some(m) = args.get("midi") {
        midi_out::write(m.as_ref(), &t.notes, 120.0).map_err(|e| format!("cannot write {m}: {e}"))?;
    }
    if let Some(j) = args.get("json") {
        let text = serde_json::to_string_pretty(&t.notes).map_err(|e| e.to_string())?;
        std::fs::write(j, text).map_err(|e| format!("cannot write {j}: {e}"))?;
    }
    if args.get("midi").is_none() && args.get("json").is_none() {
        for n in &t.notes {
            println!("{:8.3} {:8.3} {:3} {:3}", n.start, n.end, n.pitch, n.velocity());
        }
    }
    Ok(())
}

/// `counterpart analyze`: the files are the song's tracks, heard together; the report has one
/// feature block per file in `tracks`.
fn analyze_cmd(args: &Args) -> Result<(), String> {
    if args.positional.is_empty() {
        return Err(USAGE.into());
    }
    let out = args.get("json").ok_or("analyze needs --json <file>")?;
    let mut aopts = AnalyzeOptions { tempo: args.tempo()?, ..Default::default() };
    if let Some(m) = args.get("meter") {
        aopts.meter = m.parse()?;
    }
    let mut opts = transcribe_options(args)?;
    // The analysis reads no pitch bends, so the contour output (5.4 MB a minute) is not kept.
    opts.params.pitch_bends = false;
    let mut reg = registry(args)?;
    let (mut tracks, mut duration) = (Vec::new(), 0.0f64);
    for input in &args.positional {
        let t = transcribe::transcribe_with_registry(&mut reg, input.as_ref(), &opts).map_err(|e| e.to_string())?;
        duration = duration.max(t.duration);
        tracks.push((input.clone(), t.notes));
    }
    let report = analysis::analyze_tracks(&tracks, duration, &aopts);
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(out, text).map_err(|e| format!("cannot write {out}: {e}"))?;
    eprintln!(
        "{} notes in {} track(s), {:.1} BPM, key {}, {} bars -> {out}",
        report.notes.len(),
        report.tracks.len(),
        report.tempo.bpm,
        report.key.name,
        report.bars.len()
    );
    Ok(())
}

/// `counterpart plan`: the instruction as a structured job (JSON with `--json`).
fn plan_cmd(args: &Args) -> Result<(), String> {
    let prompt = args.get("prompt").ok_or("plan needs --prompt \"<instruction>\"")?;
    let mut song = SongContext::default();
    if let Some(b) = args.get("bars") {
        song.bars = Some(b.parse().map_err(|_| format!("--bars wants the song length in bars, got `{b}`"))?);
    }
    if let Some(m) = args.get("markers") {
        song.markers = plan::parse_markers(m)?;
    }
    let started = Instant::now();
    let reg = registry(args)?;
    let mut embedder = Embedder::from_registry(&reg, &SessionSettings::default()).map_err(|e| e.to_string())?;
    let loaded = started.elapsed().as_secs_f64() * 1000.0;
    let planned_at = Instant::now();
    let job = plan::plan(prompt, &song, &mut embedder);
    let planned = planned_at.elapsed().as_secs_f64() * 1000.0;
    eprintln!("model loaded in {loaded:.0} ms, planned in {planned:.0} ms");
    if args.has("json") {
        println!("{}", serde_json::to_string_pretty(&job).map_err(|e| e.to_string())?);
    } else {
        let or_none = |s: Option<String>| s.unwrap_or_else(|| "-".into());
        println!("action:   {}", or_none(job.action.map(|a| a.name().into())));
        println!("role:     {}", or_none(job.role.map(|r| r.name().into())));
        println!("program:  {} {}", or_none(job.program.map(|p| p.to_string())), job.instrument.unwrap_or_default());
        println!("bars:     {}", or_none(job.bars.map(|[a, b]| format!("{a}-{b}"))));
        println!("density:  {:+}  register: {:+}", job.density, job.register);
        println!("style:    {}", job.style.join(", "));
        println!("unparsed: {}", job.unparsed.join(" "));
        for w in &job.warnings {
            println!("warning:  {w}");
        }
        for e in &job.errors {
            println!("error:    {e}");
        }
    }
    Ok(())
}

/// `counterpart doctor`: where the runtime and packs were found, or why not.
fn doctor() -> Result<(), String> {
    println!("runtime search: {:?}", runtime::default_search_dirs());
    match runtime::init_default() {
        Ok(info) => println!("runtime: ONNX Runtime {} at {}", info.version, info.library.display()),
        Err(e) => println!("runtime: {e}"),
    }
    let reg = PackRegistry::discover_default(SessionSettings::default());
    println!("model search: {:?}", counterpart_engine::packs::default_search_dirs());
    for p in reg.packs() {
        println!(
            "pack: {} {} ({:?}, {}) at {}",
            p.name(),
            p.manifest.version,
            p.manifest.task,
            p.manifest.license,
            p.dir.display()
        );
    }
    for e in reg.problems() {
        println!("rejected: {e}");
    }
    Ok(())
}

/// `counterpart edit --input <audio> --instruction "<text>" [--tempo BPM] [--seed S] --out <dir>`:
/// instruction editing of audio. The planner reads the instruction (remove / extract / keep only /
/// make the X quieter or louder / replace); the part is separated by the method for its role
/// (vocals: Spleeter; drums: HPSS with onsets; bass: score-informed masks) and `extracted.wav`,
/// `remainder.wav` (exactly the input minus it), the result and `report.json` are written. Long
/// inputs are read, separated and written in segments (`--segment-seconds`, default 60).
fn edit_cmd(args: &Args) -> Result<(), String> {
    use counterpart_engine::separate::edit::{self, EditOptions};

    let input = args.get("input").ok_or("edit needs --input <audio file>")?;
    let instruction = args.get("instruction").ok_or("edit needs --instruction \"<text>\"")?;
    let out = PathBuf::from(args.get("out").ok_or("edit needs --out <folder>")?);
    let tempo = args.tempo()?;
    let seed = match args.get("seed") {
        Some(s) => s.parse::<u64>().map_err(|_| format!("--seed wants a whole number, got `{s}`"))?,
        None => 1,
    };
    let started = Instant::now();
    let mut reg = registry(args)?;
    let mut embedder = Embedder::from_registry(&reg, &SessionSettings::default()).map_err(|e| e.to_string())?;
    let job = plan::plan(instruction, &SongContext::default(), &mut embedder);
    let segment_s = match args.get("segment-seconds") {
        Some(s) => Some(
            s.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .ok_or_else(|| format!("--segment-seconds wants a positive number, got `{s}`"))?,
        ),
        None => None,
    };
    let opts = EditOptions {
        input: input.into(),
        instruction: instruction.to_string(),
        tempo,
        out: out.clone(),
        seed,
        segment_s,
    };
    let report =
        edit::run(&mut reg, &job, &opts, |step| eprintln!("[{:5.1} s] {step}", started.elapsed().as_secs_f64()))?;
    eprintln!(
        "{} the {}: {:.1} s of audio separated in {:.1} s -> {} (result: {})",
        report["job"]["edit"]["action"],
        report["job"]["edit"]["role"].as_str().unwrap_or("?"),
        report["audio"]["seconds"].as_f64().unwrap_or(0.0),
        report["timings_s"]["separate"].as_f64().unwrap_or(0.0),
        out.display(),
        report["result"].as_str().unwrap_or("?"),
    );
    Ok(())
}
