//! `counterpart`: the headless CLI.
//!
//! ```text
//! counterpart transcribe <audio> [--midi out.mid] [--json notes.json] [--batch N] [--provider cpu|cuda|coreml|directml] [--no-bends]
//! counterpart analyze <audio> [--tempo BPM] [--meter 4/4] --json out.json
//! counterpart plan --prompt "<text>" [--bars N] [--markers "verse=1-8,chorus=9-16"] [--json]
//! counterpart doctor      (runtime and model pack status)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use counterpart_engine::analysis::{self, AnalyzeOptions};
use counterpart_engine::packs::PackRegistry;
use counterpart_engine::plan::{self, Embedder, SongContext};
use counterpart_engine::runtime::{self, ExecutionProvider, SessionSettings};
use counterpart_engine::transcribe::{self, TranscribeOptions, midi_out};

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
  counterpart doctor";

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
