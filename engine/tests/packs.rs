//! Model packs built from the real basic-pitch pack, then damaged in a temp folder: every defect
//! must come back as a clear error naming the pack and the problem.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use counterpart_engine::packs::{Pack, PackError, PackRegistry, TaskKind};
use counterpart_engine::runtime::SessionSettings;

/// Copies the real pack into `dst` and returns the copy's folder.
fn copy_pack(src: &Pack, dst: &Path) -> PathBuf {
    let dir = dst.join("basic-pitch");
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(&src.dir).unwrap() {
        let p = entry.unwrap().path();
        fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    dir
}

/// Rewrites the manifest with a text substitution.
fn edit_manifest(dir: &Path, from: &str, to: &str) {
    let m = dir.join("model.toml");
    let text = fs::read_to_string(&m).unwrap();
    assert!(text.contains(from), "manifest lacks `{from}`");
    fs::write(&m, text.replacen(from, to, 1)).unwrap();
}

/// Replaces the model file and updates its digest in the manifest (so only the content is wrong).
fn replace_model(dir: &Path, bytes: &[u8]) {
    let old = counterpart_engine::packs::verify::sha256_file(&dir.join("nmp.onnx")).unwrap();
    fs::write(dir.join("nmp.onnx"), bytes).unwrap();
    let new = counterpart_engine::packs::verify::sha256_file(&dir.join("nmp.onnx")).unwrap();
    edit_manifest(dir, &old, &new);
}

/// Opens the pack and loads its model, returning the error text.
fn load_error(dir: &Path) -> String {
    let err = Pack::open(dir).and_then(|p| p.load_model("nmp", &SessionSettings::default()).map(|_| ()));
    let msg = err.expect_err("damaged pack must not load").to_string();
    println!("{msg}");
    msg
}

#[test]
fn real_pack_loads_and_matches_its_manifest() {
    let Some(pack) = common::basic_pitch() else {
        return;
    };
    assert_eq!(pack.manifest.task, TaskKind::Transcriber);
    assert_eq!(pack.manifest.sample_rate, Some(22050));
    let built = pack.load_model("nmp", &SessionSettings::default()).unwrap();
    assert_eq!(built.session.inputs().len(), 1);
    assert_eq!(built.session.outputs().len(), 3);
}

#[test]
fn damaged_packs_give_clear_errors() {
    let Some(pack) = common::basic_pitch() else {
        return;
    };
    let model = fs::read(pack.dir.join("nmp.onnx")).unwrap();
    type Case = (&'static str, Box<dyn Fn(&Path)>, &'static [&'static str]);
    let cases: Vec<Case> = vec![
        (
            "truncated model",
            Box::new(|d: &Path| {
                let m = fs::read(d.join("nmp.onnx")).unwrap();
                fs::write(d.join("nmp.onnx"), &m[..m.len() / 2]).unwrap();
            }),
            &["basic-pitch", "nmp.onnx", "corrupt or modified", "fetch-models"],
        ),
        (
            "truncated model with matching digest",
            Box::new({
                let half = model[..model.len() / 2].to_vec();
                move |d: &Path| replace_model(d, &half)
            }),
            &["basic-pitch", "nmp.onnx", "not a loadable ONNX model"],
        ),
        (
            "garbage model",
            Box::new(|d: &Path| replace_model(d, &[0x42u8; 4096])),
            &["basic-pitch", "not a loadable ONNX model"],
        ),
        (
            "wrong input shape",
            Box::new(|d: &Path| edit_manifest(d, "shape = [-1, 43844, 1]", "shape = [-1, 44100, 1]")),
            &["basic-pitch", "does not match its manifest", "serving_default_input_2:0", "44100"],
        ),
        (
            "wrong output name",
            Box::new(|d: &Path| edit_manifest(d, "\"StatefulPartitionedCall:0\"", "\"contour\"")),
            &["`contour` is not in the graph", "StatefulPartitionedCall:0` is not listed"],
        ),
        (
            "wrong dtype",
            Box::new(|d: &Path| edit_manifest(d, "dtype = \"f32\"", "dtype = \"i64\"")),
            &["Float32", "manifest says I64"],
        ),
        (
            "missing model file",
            Box::new(|d: &Path| fs::remove_file(d.join("nmp.onnx")).unwrap()),
            &["basic-pitch", "nmp.onnx", "is missing"],
        ),
        (
            "malformed toml",
            Box::new(|d: &Path| edit_manifest(d, "task = \"transcriber\"", "task = transcriber\"")),
            &["invalid model.toml", "basic-pitch"],
        ),
        (
            "unknown task",
            Box::new(|d: &Path| edit_manifest(d, "task = \"transcriber\"", "task = \"painter\"")),
            &["invalid model.toml", "painter"],
        ),
        (
            "missing field",
            Box::new(|d: &Path| edit_manifest(d, "license = \"Apache-2.0\"\n", "")),
            &["invalid model.toml", "license"],
        ),
        (
            "path outside the pack",
            Box::new(|d: &Path| edit_manifest(d, "file = \"nmp.onnx\"", "file = \"../nmp.onnx\"")),
            &["must be relative and stay inside the pack"],
        ),
        (
            "bad digest text",
            Box::new(|d: &Path| {
                let m = fs::read_to_string(d.join("model.toml")).unwrap();
                let line = m.lines().find(|l| l.starts_with("sha256") && m.contains("nmp.onnx")).unwrap().to_string();
                edit_manifest(d, &line, "sha256 = \"xyz\"");
            }),
            &["is not 64 hex digits"],
        ),
        (
            "no manifest",
            Box::new(|d: &Path| fs::remove_file(d.join("model.toml")).unwrap()),
            &["cannot read model.toml"],
        ),
    ];
    for (name, damage, expect) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = copy_pack(&pack, tmp.path());
        damage(&dir);
        let msg = load_error(&dir);
        for e in expect {
            assert!(msg.contains(e), "{name}: message lacks `{e}`: {msg}");
        }
    }
}

#[test]
fn registry_keeps_good_packs_reports_bad_ones_and_caches_sessions() {
    let Some(pack) = common::basic_pitch() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let good = copy_pack(&pack, tmp.path());
    let bad = tmp.path().join("broken");
    fs::create_dir_all(&bad).unwrap();
    fs::write(bad.join("model.toml"), "name = \"broken\"\n").unwrap();
    let _ = good;
    let mut reg = PackRegistry::discover(&[tmp.path().to_path_buf()], SessionSettings::default());
    assert_eq!(reg.packs().len(), 1);
    assert_eq!(reg.problems().len(), 1);
    assert!(matches!(reg.problems()[0], PackError::Manifest { .. }));
    let missing = reg.find(TaskKind::Embedder).unwrap_err().to_string();
    assert!(missing.contains("no usable model pack for task `Embedder`") && missing.contains("broken"), "{missing}");
    let first = reg.session("basic-pitch", "nmp").unwrap() as *const _;
    let second = reg.session("basic-pitch", "nmp").unwrap() as *const _;
    assert_eq!(first, second, "session is built once and cached");
    assert!(reg.session("basic-pitch", "nope").is_err());
}

#[test]
fn unavailable_provider_falls_back_to_cpu_with_a_notice() {
    use counterpart_engine::runtime::ExecutionProvider;
    let Some(pack) = common::basic_pitch() else {
        return;
    };
    let settings = SessionSettings { provider: ExecutionProvider::Cuda, intra_threads: 1 };
    let built = pack.load_model("nmp", &settings).unwrap();
    // The shipped CPU build has no CUDA provider: it must run on CPU and say so.
    if built.provider == ExecutionProvider::Cpu {
        let notice = built.notice.expect("fallback carries a notice");
        println!("{notice}");
        assert!(notice.contains("Cuda") && notice.contains("using CPU"));
    }
}
