//! `counterpart`: the headless CLI.
//!
//! ```text
//! counterpart transcribe <audio> [--midi out.mid] [--json notes.json] [--batch N] [--provider cpu|cuda|coreml|directml] [--no-bends]
//! counterpart analyze <audio> [--tempo BPM] [--meter 4/4] --json out.json
//! counterpart plan --prompt "<text>" [--bars N] [--markers "verse=1-8,chorus=9-16"] [--json]
//! counterpart render --midi in.mid --out out.wav [--program N | --drums] [--tempo BPM] [--rate HZ]
//! counterpart edit --input <audio> --instruction "remove the vocals" --out <dir> [--provider ...]
//! counterpart generate --context <audio>... --prompt "<text>" [--tempo BPM] [--meter 4/4] [--takes N] [--seed S] --out <dir>
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
use counterpart_engine::stem::StereoAudio;
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
    /// Splits `argv` (after the subcommand); `flags` are options that take no value.
    fn parse(argv: &[String], flags: &[&str]) -> Args {
        let mut positional = Vec::new();
        let mut options = Vec::new();
        let mut it = argv.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                if flags.contains(&name) {
                    options.push((name.to_string(), None));
                } else {
                    options.push((name.to_string(), it.next().cloned()));
                }
            } else {
                positional.push(a.clone());
            }
        }
        Args { positional, options }
    }

    /// The value of `--name`, if given.
    fn get(&self, name: &str) -> Option<&str> {
        self.options.iter().rev().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
    }

    /// Whether `--name` was given.
    fn has(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| n == name)
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = match argv.first().map(String::as_str) {
        Some("transcribe") => transcribe_cmd(&Args::parse(&argv[1..], &["no-bends"])),
        Some("analyze") => analyze_cmd(&Args::parse(&argv[1..], &[])),
        Some("plan") => plan_cmd(&Args::parse(&argv[1..], &["json"])),
        Some("generate") => generate_cmd(&Args::parse(&argv[1..], &[])),
        Some("render") => render_cmd(&Args::parse(&argv[1..], &["drums"])),
        Some("edit") => edit_cmd(&Args::parse(&argv[1..], &[])),
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
  counterpart transcribe <audio> [--midi out.mid] [--json notes.json] [--batch N] [--provider cpu|cuda|coreml|directml] [--no-bends]
  counterpart analyze <audio> [--tempo BPM] [--meter 4/4] --json out.json
  counterpart plan --prompt \"<text>\" [--bars N] [--markers \"verse=1-8,chorus=9-16\"] [--json]
  counterpart render --midi in.mid --out out.wav [--program N | --drums] [--tempo BPM] [--rate HZ]
  counterpart edit --input <audio> --instruction \"remove the vocals\" --out <dir> [--provider cpu|cuda|coreml|directml]
  counterpart generate --context <audio>... --prompt \"<text>\" [--tempo BPM] [--meter 4/4] [--takes N] [--seed S] --out <dir>
  counterpart doctor";

/// `counterpart generate`: a new stem against the context, as MIDI, audio and a mix per take.
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
    let tempo = match args.get("tempo") {
        Some(t) => Some(
            t.parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t > 0.0)
                .ok_or(format!("--tempo wants BPM, got `{t}`"))?,
        ),
        None => None,
    };
    let meter = match args.get("meter") {
        Some(m) => m.parse()?,
        None => Default::default(),
    };
    let opts = generate::GenerateOptions { contexts, prompt, tempo, meter, takes, seed, out: out.clone() };
    let started = Instant::now();
    let mut reg = registry(args)?;
    let report =
        generate::generate(&mut reg, &opts, |step| eprintln!("[{:5.1} s] {step}", started.elapsed().as_secs_f64()))?;
    for take in &report.takes {
        eprintln!(
            "take seed {}: {} notes, harmonic fit {:.2}, {:.1} notes/bar -> {}",
            take.seed,
            take.notes,
            take.harmonic_fit,
            take.notes_per_bar,
            take.midi.display()
        );
    }
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

/// `counterpart analyze`.
fn analyze_cmd(args: &Args) -> Result<(), String> {
    let input = PathBuf::from(args.positional.first().ok_or(USAGE)?);
    let out = args.get("json").ok_or("analyze needs --json <file>")?;
    let mut aopts = AnalyzeOptions::default();
    if let Some(t) = args.get("tempo") {
        aopts.tempo = Some(t.parse().map_err(|_| format!("--tempo wants BPM, got `{t}`"))?);
    }
    if let Some(m) = args.get("meter") {
        aopts.meter = m.parse()?;
    }
    let opts = transcribe_options(args)?;
    let mut reg = registry(args)?;
    let t = transcribe::transcribe_with_registry(&mut reg, &input, &opts).map_err(|e| e.to_string())?;
    let report = analysis::analyze(&t.notes, t.duration, &aopts);
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(out, text).map_err(|e| format!("cannot write {out}: {e}"))?;
    eprintln!(
        "{} notes, {:.1} BPM, key {}, {} bars -> {out}",
        report.notes.len(),
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

/// `counterpart edit --input <audio> --instruction "<text>" --out <dir>`: instruction editing of
/// audio. So far the vocals only: "remove the vocals" / "extract the vocals" separate them with
/// the separator pack and write `extracted.wav` (the named part), `remainder.wav` (exactly the
/// input minus it) and `report.json`.
fn edit_cmd(args: &Args) -> Result<(), String> {
    use counterpart_engine::packs::TaskKind;
    use counterpart_engine::plan::{Action, Role};
    use counterpart_engine::separate;

    let input = args.get("input").ok_or("edit needs --input <audio file>")?;
    let instruction = args.get("instruction").ok_or("edit needs --instruction \"<text>\"")?;
    let out = PathBuf::from(args.get("out").ok_or("edit needs --out <folder>")?);
    let started = Instant::now();
    let mut reg = registry(args)?;
    let mut embedder = Embedder::from_registry(&reg, &SessionSettings::default()).map_err(|e| e.to_string())?;
    let job = plan::plan(instruction, &SongContext::default(), &mut embedder);
    // The planner knows "remove"/"extract"; phrasings it does not ("keep only the vocals", "take
    // the vocals out") leave it without an action, so read the named role and a few cues here.
    let words: Vec<String> =
        instruction.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let has = |cues: &[&str]| words.iter().any(|w| cues.contains(&w.as_str()));
    let action = match job.action {
        Some(a @ (Action::Remove | Action::Extract)) => a,
        _ if has(&["only", "solo", "isolate", "isolated", "acapella", "capella"]) => Action::Extract,
        _ if has(&["out", "without", "minus", "remove", "no"]) => Action::Remove,
        _ => {
            return Err(format!(
                "`{instruction}` does not ask to remove or extract a part; try \"remove the vocals\" or \"extract the vocals\""
            ));
        }
    };
    let named = job.understood.iter().find_map(|u| u.meaning.strip_prefix("role ").map(str::to_string));
    let role = match (job.action, job.role) {
        (Some(Action::Remove | Action::Extract), Some(r)) => r.name().to_string(),
        _ => named.ok_or_else(|| format!("`{instruction}` does not name a part (e.g. \"the vocals\")"))?,
    };
    if role != Role::Vocals.name() {
        return Err(format!(
            "{} the {role}: not yet supported; only the vocals can be separated so far",
            action.name()
        ));
    }
    let pack = reg.find(TaskKind::Separator).map_err(|e| e.to_string())?.manifest.clone();
    let setup = started.elapsed().as_secs_f64();

    let t = Instant::now();
    let audio = separate::decode::load_stereo(std::path::Path::new(input))?;
    let decode = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (vocals, _) = separate::separate_vocals(&mut reg, &audio)?;
    let separation = t.elapsed().as_secs_f64();
    let remainder = minus(&audio, &vocals);
    let t = Instant::now();
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    wav::write_wav(&out.join("extracted.wav"), &vocals)?;
    wav::write_wav(&out.join("remainder.wav"), &remainder)?;
    let write = t.elapsed().as_secs_f64();
    let result = if action == Action::Extract { "extracted.wav" } else { "remainder.wav" };
    let report = serde_json::json!({
        "instruction": instruction,
        "job": { "action": action.name(), "role": role, "planned": job },
        "result": result,
        "files": { "extracted": "extracted.wav", "remainder": "remainder.wav" },
        "method": "Spleeter 2stems U-Net ratio mask on the STFT (Hann 4096, hop 1024, 44.1 kHz); extracted = vocals stem (no energy above 11 kHz); remainder = input - extracted, sample by sample",
        "model": { "pack": pack.name, "version": pack.version, "license": pack.license },
        "audio": { "path": input, "sample_rate": audio.sample_rate, "seconds": audio.seconds() },
        "timings_s": { "setup": setup, "decode": decode, "separate": separation, "write": write },
        "separate_s_per_audio_minute": separation / audio.seconds().max(1e-9) * 60.0,
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(out.join("report.json"), text).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!(
        "{} the {role}: {:.1} s of audio separated in {separation:.1} s -> {} (result: {result})",
        action.name(),
        audio.seconds(),
        out.display()
    );
    Ok(())
}

/// `a - b` sample by sample, at `a`'s rate and length (so `b + (a - b)` gives `a` back).
fn minus(a: &StereoAudio, b: &StereoAudio) -> StereoAudio {
    let sub = |x: &[f32], y: &[f32]| x.iter().enumerate().map(|(i, v)| v - y.get(i).copied().unwrap_or(0.0)).collect();
    StereoAudio { sample_rate: a.sample_rate, left: sub(&a.left, &b.left), right: sub(&a.right, &b.right) }
}
