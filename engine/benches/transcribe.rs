//! Transcription speed: the Rust pipeline against basic-pitch's Python reference on the same 60 s
//! clip (the three transcription fixtures looped, 22050 Hz, 16-bit WAV), runs interleaved in the
//! same process pair, medians of wall and CPU time. Prints figures and never asserts them.
//!
//! ```sh
//! cargo bench -p counterpart-engine --bench transcribe
//! ```
//!
//! The reference is `scripts/bench_transcription.py --serve`, run by `COUNTERPART_PYTHON`, else
//! `.venv/bin/python` in the workspace, else `python3`; without basic-pitch it prints a SKIPPED
//! line and the Rust figures alone. "cores busy" is CPU over wall time: how much of the run kept
//! the cores working. `COUNTERPART_BENCH_RUNS` sets the runs (default 5);
//! `COUNTERPART_BENCH_SWEEP=1` adds the other session layouts and batch sizes.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use counterpart_engine::audio_io;
use counterpart_engine::packs::{Pack, PackRegistry, TaskKind};
use counterpart_engine::runtime::{self, SessionSettings};
use counterpart_engine::transcribe::constants::{AUDIO_N_SAMPLES, HOP_SIZE, SAMPLE_RATE};
use counterpart_engine::transcribe::{
    self, Graph, MODEL_KEY, Posteriorgram, TranscribeOptions, notes, sessions, window,
};
use ort::session::Session;

/// Length of the benchmark clip in seconds.
const SECONDS: usize = 60;

/// Wall and CPU seconds of one run, and its notes as sorted (start, end, pitch).
#[derive(Debug, Clone)]
struct Run {
    /// Wall-clock seconds.
    wall: f64,
    /// CPU seconds over all threads of the process.
    cpu: f64,
    /// Notes, sorted.
    notes: Vec<(f64, f64, u8)>,
}

/// One way of running the Rust pipeline.
struct Layout {
    /// What the line says.
    name: String,
    /// The sessions it runs on.
    sessions: Vec<Session>,
    /// Its options.
    opts: TranscribeOptions,
    /// Its runs.
    runs: Vec<Run>,
}

fn main() {
    if let Err(e) = bench() {
        println!("SKIPPED: {e}");
    }
}

fn bench() -> Result<(), String> {
    runtime::init_default().map_err(|e| format!("ONNX Runtime not available ({e}); run `cargo xtask setup`"))?;
    let registry = PackRegistry::discover_default(SessionSettings::default());
    let pack = registry
        .find(TaskKind::Transcriber)
        .map_err(|e| format!("basic-pitch pack not available ({e}); run `cargo xtask setup`"))?
        .clone();
    let runs: usize = std::env::var("COUNTERPART_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5).max(1);
    let sweep = std::env::var("COUNTERPART_BENCH_SWEEP").is_ok_and(|v| v == "1");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-transcribe");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let wav = dir.join(format!("clip{SECONDS}.wav"));
    write_clip(&wav)?;

    let mut layouts = layouts(&pack, sweep)?;
    let mut python = Reference::start(&wav, &pack);
    println!(
        "transcription of a {SECONDS} s clip ({}), {runs} interleaved runs, medians; {cores} cores, load {}",
        wav.display(),
        load_average()
    );
    for layout in &mut layouts {
        run_rust(layout, &wav)?; // warm-up: first-run allocations and page faults
    }
    let mut py_runs = Vec::new();
    for r in 0..runs {
        // Alternate who goes first, so neither side always follows the other's cache state.
        if r % 2 == 0
            && let Some(p) = python.as_mut().ok()
        {
            py_runs.push(p.run()?);
        }
        for layout in &mut layouts {
            let run = run_rust(layout, &wav)?;
            layout.runs.push(run);
        }
        if r % 2 == 1
            && let Some(p) = python.as_mut().ok()
        {
            py_runs.push(p.run()?);
        }
    }

    let secs = SECONDS as f64;
    let line = |name: &str, runs: &[Run]| {
        let (wall, cpu) = (median(runs.iter().map(|r| r.wall)), median(runs.iter().map(|r| r.cpu)));
        println!(
            "{name:52} wall {wall:6.3} s  cpu {cpu:6.3} s  {:5.1}x real time  {:4.2} cores busy  {} notes",
            secs / wall,
            cpu / wall,
            runs[0].notes.len()
        );
        (wall, cpu)
    };
    let reference = match &python {
        Ok(p) => Some(line(&format!("python reference ({})", p.info), &py_runs)),
        Err(reason) => {
            println!("SKIPPED: Python reference not available ({reason}); Rust figures only");
            None
        }
    };
    let mut results = Vec::new();
    for layout in &layouts {
        results.push(line(&format!("rust, {}", layout.name), &layout.runs));
    }
    let default = &layouts[0];
    if let Some((py_wall, py_cpu)) = reference {
        for (layout, (wall, cpu)) in layouts.iter().zip(&results) {
            println!("ratio python / rust, {:40} wall {:.2}x  cpu {:.2}x", layout.name, py_wall / wall, py_cpu / cpu);
        }
        let same = default.runs[0].notes == py_runs[0].notes;
        println!(
            "notes of the default against the reference: {} ({} vs {})",
            if same { "identical" } else { "DIFFERENT" },
            default.runs[0].notes.len(),
            py_runs[0].notes.len()
        );
    }
    for layout in &layouts[1..] {
        let same = layout.runs[0].notes == default.runs[0].notes;
        println!("notes of `{}` against the default: {}", layout.name, if same { "identical" } else { "DIFFERENT" });
    }
    stages(&mut layouts[0], &wav)?;
    println!("load at the end {}", load_average());
    Ok(())
}

/// The Rust layouts to time: the default first, then the same sessions on the pack's graph as it
/// is (bit-identical to the reference), then the one-session layout it replaced.
fn layouts(pack: &Pack, sweep: bool) -> Result<Vec<Layout>, String> {
    let one = |settings: &SessionSettings| -> Result<Vec<Session>, String> {
        Ok(vec![pack.load_model(MODEL_KEY, settings).map_err(|e| e.to_string())?.session])
    };
    let default = TranscribeOptions::default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (n, threads) = sessions::cpu_layout(default.sessions, cores);
    let started = Instant::now();
    let (pool, graph) =
        sessions::cpu_sessions_with(pack, default.sessions, default.graph).map_err(|e| e.to_string())?;
    let build_ms = started.elapsed().as_secs_f64() * 1e3;
    let exact = TranscribeOptions { graph: Graph::Reference, ..default.clone() };
    let mut out = vec![
        Layout {
            name: format!("default: {n} sessions x {threads} thread, {graph:?} graph"),
            sessions: pool,
            opts: default.clone(),
            runs: Vec::new(),
        },
        Layout {
            name: format!("{n} sessions x {threads} thread, Reference graph"),
            sessions: sessions::cpu_sessions(pack, default.sessions).map_err(|e| e.to_string())?,
            opts: exact,
            runs: Vec::new(),
        },
        Layout {
            name: "before: 1 session, ORT's threads, batch 1".into(),
            sessions: one(&SessionSettings::default())?,
            opts: default.clone(),
            runs: Vec::new(),
        },
    ];
    println!("building the default's {n} sessions took {build_ms:.0} ms (outside the timings, like the reference's)");
    if sweep {
        let batch4 = TranscribeOptions { batch: 4, ..default.clone() };
        let single = SessionSettings { intra_threads: 1, ..SessionSettings::default() };
        out.push(Layout {
            name: "1 session, ORT's threads, batch 4".into(),
            sessions: one(&SessionSettings::default())?,
            opts: batch4.clone(),
            runs: Vec::new(),
        });
        out.push(Layout {
            name: "1 session x 1 thread, batch 1".into(),
            sessions: one(&single)?,
            opts: default.clone(),
            runs: Vec::new(),
        });
        out.push(Layout {
            name: format!("{n} sessions x {threads} thread, batch 4"),
            sessions: sessions::cpu_sessions(pack, default.sessions).map_err(|e| e.to_string())?,
            opts: batch4,
            runs: Vec::new(),
        });
    }
    Ok(out)
}

/// Times one transcription of the file (decode, windows, model, stitching, notes).
fn run_rust(layout: &mut Layout, wav: &Path) -> Result<Run, String> {
    let (w0, c0) = (Instant::now(), cpu_seconds());
    let t = transcribe::transcribe_file_on(&mut layout.sessions, wav, &layout.opts).map_err(|e| e.to_string())?;
    let (wall, cpu) = (w0.elapsed().as_secs_f64(), cpu_seconds() - c0);
    let mut notes: Vec<_> = t.notes.iter().map(|n| (n.start, n.end, n.pitch)).collect();
    notes.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
    Ok(Run { wall, cpu, notes })
}

/// Where the default spends its time, stage by stage, on one run.
fn stages(layout: &mut Layout, wav: &Path) -> Result<(), String> {
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let (samples, _) = audio_io::load_mono(wav).map_err(|e| e.to_string())?;
    let decode = ms(t);
    let at_44k = audio_io::resample(&samples, SAMPLE_RATE, 44_100).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let _ = audio_io::resample(&at_44k, 44_100, SAMPLE_RATE).map_err(|e| e.to_string())?;
    let resample = ms(t);

    let t = Instant::now();
    let mut windows = Vec::new();
    let mut windower = window::Windower::new();
    for piece in samples.chunks(HOP_SIZE) {
        windower.push(piece, |w| windows.extend_from_slice(w));
    }
    windower.finish(|w| windows.extend_from_slice(w));
    let windowing = ms(t);
    let n_windows = windows.len() / AUDIO_N_SAMPLES;

    let t = Instant::now();
    let outputs = sessions::run_round(&mut layout.sessions, &windows, layout.opts.batch)?;
    let model = ms(t);

    let t = Instant::now();
    let mut pg = Posteriorgram::default();
    for out in &outputs {
        pg.append_window(&out.onset, &out.note, Some(&out.contour));
    }
    pg.trim(samples.len());
    let stitching = ms(t);

    let t = Instant::now();
    let found = notes::decode(&pg, &layout.opts.params);
    let decoding = ms(t);

    let total = decode + windowing + model + stitching + decoding;
    println!("stages of the default on one run ({n_windows} windows, {} notes):", found.len());
    for (name, v) in [
        ("decode the WAV file", decode),
        ("windowing", windowing),
        ("model calls", model),
        ("stitching", stitching),
        ("note decoding", decoding),
    ] {
        println!("  {name:24} {v:8.1} ms  {:5.1} %", 100.0 * v / total);
    }
    println!("  (not in this clip: resampling {SECONDS} s from 44.1 kHz with rubato: {resample:.1} ms)");
    Ok(())
}

/// The Python reference, serving `predict` runs over a pipe.
struct Reference {
    /// The Python process.
    child: Child,
    /// Its stdin (commands).
    stdin: ChildStdin,
    /// Its stdout (one JSON line per run).
    stdout: BufReader<ChildStdout>,
    /// Versions it reported.
    info: String,
}

impl Reference {
    /// Starts the reference; `Err` says why it is not available.
    fn start(wav: &Path, pack: &Pack) -> Result<Self, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("engine/ has a parent");
        let python = match std::env::var_os("COUNTERPART_PYTHON").filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None if root.join(".venv/bin/python").is_file() => root.join(".venv/bin/python"),
            None => PathBuf::from("python3"),
        };
        let model = pack.dir.join(&pack.manifest.model(MODEL_KEY).ok_or("the pack has no `nmp` model")?.file);
        let mut child = Command::new(&python)
            .arg(root.join("scripts/bench_transcription.py"))
            .arg("--serve")
            .arg("--wav")
            .arg(wav)
            .arg("--model")
            .arg(model)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut first = String::new();
        let _ = stdout.read_line(&mut first);
        match first.trim().split_once(' ') {
            Some(("ready", info)) => {
                let info: serde_json::Value = serde_json::from_str(info).map_err(|e| e.to_string())?;
                let info = format!(
                    "basic-pitch {}, onnxruntime {}",
                    info["basic_pitch"].as_str().unwrap_or("?"),
                    info["onnxruntime"].as_str().unwrap_or("?")
                );
                Ok(Reference { child, stdin, stdout, info })
            }
            Some(("skip", reason)) => Err(format!("{reason}; with {}", python.display())),
            _ => Err(format!("{} {} gave no answer", python.display(), "scripts/bench_transcription.py --serve")),
        }
    }

    /// One timed `predict` in the Python process.
    fn run(&mut self) -> Result<Run, String> {
        writeln!(self.stdin, "run").and_then(|_| self.stdin.flush()).map_err(|e| format!("python reference: {e}"))?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).map_err(|e| format!("python reference: {e}"))?;
        let v: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("python reference answered `{}`: {e}", line.trim()))?;
        let notes = v["notes"]
            .as_array()
            .ok_or("python reference sent no notes")?
            .iter()
            .map(|n| {
                (n[0].as_f64().unwrap_or(f64::NAN), n[1].as_f64().unwrap_or(f64::NAN), n[2].as_u64().unwrap_or(0) as u8)
            })
            .collect();
        Ok(Run { wall: v["wall"].as_f64().unwrap_or(f64::NAN), cpu: v["cpu"].as_f64().unwrap_or(f64::NAN), notes })
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

/// Writes the clip: the three fixtures looped to `SECONDS` at 22050 Hz, 16-bit (as the Python
/// script's `make_clip` does).
fn write_clip(path: &Path) -> Result<(), String> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcription");
    let mut looped = Vec::new();
    for clip in ["piano_melody", "piano_chords", "bass_flute"] {
        let (samples, info) = audio_io::load_mono(&fixtures.join(format!("{clip}.wav"))).map_err(|e| e.to_string())?;
        if info.sample_rate != SAMPLE_RATE {
            return Err(format!("fixture {clip} is not at {SAMPLE_RATE} Hz"));
        }
        looped.extend(samples);
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(|e| e.to_string())?;
    for &x in looped.iter().cycle().take(SECONDS * SAMPLE_RATE as usize) {
        w.write_sample((x * 32768.0).round().clamp(-32768.0, 32767.0) as i16).map_err(|e| e.to_string())?;
    }
    w.finalize().map_err(|e| e.to_string())
}

/// User + system CPU seconds of this process, all threads.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

/// The 1-minute load average, for reading the figures on a shared machine.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split(' ').next().map(str::to_string))
        .unwrap_or_default()
}

/// Median of a few values.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
