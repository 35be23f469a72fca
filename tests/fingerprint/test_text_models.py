"""Text transformers as their owners ship them: token-id ONNX and Hugging Face folders."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from tests.fingerprint.text_models import (
    TEXTS,
    TokenMLP,
    build_tokenizer,
    export_token_mlp,
    export_token_onnx,
    tiny_bert,
    tiny_causal_lm,
    vocab_size,
)

from modelgif.cli import main
from modelgif.crypto.keys import generate_key
from modelgif.errors import InputError, ModelLoadError
from modelgif.fingerprint.create import open_secrets
from modelgif.fingerprint.record import load_fingerprint
from modelgif.fingerprint.text.fingerprint import (
    TextSettings,
    compare_text,
    create_text_fingerprint,
)
from modelgif.fingerprint.text.model import load_text_model
from modelgif.fingerprint.text.tokenizer import load_tokenizer

SMALL = ["--length", "12", "--anchors-count", "6", "--steps", "3", "--sketch-dim", "16"]
SETTINGS = TextSettings(length=12, n_anchors=6, n_steps=3, sketch_dim=16)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("text")
    tokenizer = build_tokenizer(root / "tokenizer.json")
    owner = tiny_bert(root / "owner", tokenizer, seed=0)
    files = {"root": root, "tokenizer": tokenizer, "owner": owner,
             "owner_onnx": export_token_onnx(owner, root / "owner_onnx" / "model.onnx"),
             "other": tiny_bert(root / "other", tokenizer, seed=1)}
    key = root / "owner"
    assert main(["keygen", "--out", str(key)]) == 0
    files["key"] = root / "owner.key"
    return files


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_cut_computes_the_original(shipped: dict[str, Path]) -> None:
    """input_ids/attention_mask/token_type_ids with dynamic batch and sequence -> one float
    input [batch, T, hidden]; on E[ids] it is the original on ids (checked on load, here on
    other ids and a batch of 3 through the normalized model)."""
    import onnxruntime as ort

    path = shipped["owner_onnx"]
    original = onnx.load(str(path))
    assert [i.name for i in original.graph.input] == ["input_ids", "attention_mask",
                                                      "token_type_ids"]
    model = load_text_model(path, 12)
    assert model.normalized.input_spec.shape == (None, 12, 32)
    assert model.constant_inputs == {"attention_mask": "ones", "token_type_ids": "zeros"}
    ids = np.random.default_rng(5).integers(0, model.table.shape[0], (3, 12))
    whole = ort.InferenceSession(path.read_bytes()).run(None, {
        "input_ids": ids, "attention_mask": np.ones_like(ids),
        "token_type_ids": np.zeros_like(ids)})[0]
    cut = ort.InferenceSession(model.normalized.to_bytes()).run(
        None, {"input": model.table[ids]})[0]
    assert np.allclose(whole, cut, atol=1e-5)


def test_hf_folder_and_its_onnx_export_through_the_cli(
        shipped: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, key = shipped["root"], shipped["key"]
    mgf = root / "owner.mgf"
    code, out, err = run(capsys, "fingerprint", str(shipped["owner"]) + "/", "--key", key,
                         "-o", mgf, *SMALL, "--json")
    assert code == 0, err
    assert json.loads(out)["bytes"] == mgf.stat().st_size
    made = load_fingerprint(mgf, _public(key))
    text = made.config["text"]
    assert text["length"] == 12 and text["hidden"] == 32 and text["scalar"] == "cosine"
    assert text["tokenizer"]["file_sha256"] == load_tokenizer(shipped["tokenizer"]).file_sha256
    assert made.arrays["sketch"].shape == (6, 3, 16)
    assert "anchors" not in out or "commitment" in out  # anchors never in public output
    code, out, err = run(capsys, "verify", mgf, shipped["owner_onnx"], "--key", key, "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["verdict"]["mean_similarity"] > 0.99  # the same function, exported by torch
    code, out, err = run(capsys, "verify", mgf, shipped["other"], "--key", key, "--json")
    assert code == 0, err
    assert json.loads(out)["verdict"]["mean_similarity"] < 0.9  # another random init


def _public(key: Path) -> object:
    from modelgif.crypto.keys import load_public_key

    return load_public_key(key.with_suffix(".pub"))


def test_token_onnx_fingerprinted_and_verified_with_a_calibration(
        shipped: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """A token-id .onnx as the owner (tokenizer.json beside it), five independent negatives,
    a derived verdict for a fine-tuned copy and not for a new independent model."""
    import transformers

    root, key = shipped["root"], shipped["key"]
    mgf, cal = root / "onnx.mgf", root / "cal.json"
    assert run(capsys, "fingerprint", shipped["owner_onnx"], "--key", key, "-o", mgf,
               *SMALL)[0] == 0
    negatives = root / "negatives"
    for seed in range(2, 7):
        tiny_bert(negatives / f"n{seed}", shipped["tokenizer"], seed=seed)
    code, _, err = run(capsys, "calibrate", mgf, "--negatives", negatives, "--key", key,
                       "-o", cal)
    assert code == 0, err
    tuned = root / "tuned"
    model = transformers.BertModel.from_pretrained(str(shipped["owner"]),
                                                   local_files_only=True).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    ids = torch.randint(5, 100, (4, 12), generator=torch.Generator().manual_seed(0))
    for _ in range(3):
        loss = model(input_ids=ids).last_hidden_state.pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval().save_pretrained(str(tuned), safe_serialization=True)
    shutil.copy(shipped["tokenizer"], tuned / "tokenizer.json")
    code, out, err = run(capsys, "verify", mgf, tuned, "--key", key, "--calibration", cal,
                         "--json")
    assert code == 0, err
    assert json.loads(out)["verdict"]["decision"] == "derived"
    fresh = tiny_bert(root / "fresh", shipped["tokenizer"], seed=11)
    code, out, err = run(capsys, "verify", mgf, fresh, "--key", key, "--calibration", cal,
                         "--json")
    assert code == 0, err
    assert json.loads(out)["verdict"]["decision"] != "derived"


def test_another_hidden_size_shares_the_space(shipped: dict[str, Path]) -> None:
    """The same function on token ids at hidden 24 and 40 (an isometric lift of the table):
    identical one-hot fields; an independent model of width 40 is far."""
    root, tokenizer = shipped["root"], shipped["tokenizer"]
    torch.manual_seed(3)
    narrow = TokenMLP(vocab_size(tokenizer), 24)
    owner = export_token_mlp(narrow, root / "narrow" / "m.onnx", tokenizer)
    wide = export_token_mlp(narrow.lifted(40), root / "wide" / "m.onnx", tokenizer)
    torch.manual_seed(4)
    other = export_token_mlp(TokenMLP(vocab_size(tokenizer), 40), root / "o40" / "m.onnx",
                             tokenizer)
    key = generate_key()
    made = create_text_fingerprint(owner, key, root / "narrow.mgf", settings=SETTINGS)
    secrets = open_secrets(made, key)
    same = compare_text(made, secrets, wide)
    assert load_text_model(wide, 12).table.shape[1] == 40
    assert same.cosines.min() > 0.98
    assert compare_text(made, secrets, other).cosines.mean() < 0.7


def test_text_anchors_from_the_owners_texts(shipped: dict[str, Path]) -> None:
    root = shipped["root"]
    texts = root / "texts.jsonl"
    texts.write_text("\n".join(json.dumps({"text": t}) for t in TEXTS))
    key = generate_key()
    made = create_text_fingerprint(shipped["owner"], key, root / "texts.mgf", texts=texts,
                                   settings=TextSettings(length=12, n_anchors=4, n_steps=2,
                                                         sketch_dim=8, source="augmented"))
    ids = open_secrets(made, key).anchors.astype(int)
    tokenizer = load_tokenizer(shipped["tokenizer"])
    assert ids.shape == (4, 12)
    assert (ids[:, 0] == tokenizer.prefix[0]).all() and (ids[:, -1] == tokenizer.suffix[0]).all()
    assert made.config["text"]["texts_sha256"] is not None
    with pytest.raises(InputError, match="windows"):
        create_text_fingerprint(shipped["owner"], key, root / "few.mgf", texts=TEXTS[:1],
                                settings=TextSettings(length=12, n_anchors=8,
                                                      source="subset"))


def test_refusals_are_one_line(shipped: dict[str, Path],
                               capsys: pytest.CaptureFixture[str]) -> None:
    root, key = shipped["root"], shipped["key"]
    mgf = root / "refuse.mgf"
    assert run(capsys, "fingerprint", shipped["owner"], "--key", key, "-o", mgf, *SMALL)[0] == 0
    other_tok = build_tokenizer(root / "other_tokenizer.json", extra=("zebra", "quartz"))
    stranger = tiny_bert(root / "stranger", other_tok, seed=0)
    pickled = root / "pickled"
    pickled.mkdir()
    shutil.copy(shipped["owner"] / "config.json", pickled / "config.json")
    (pickled / "pytorch_model.bin").write_bytes(b"not opened")
    remote = root / "remote"
    shutil.copytree(shipped["owner"], remote)
    config = json.loads((remote / "config.json").read_text())
    (remote / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "x.Y"}}))
    bare = root / "bare" / "model.onnx"
    bare.parent.mkdir()
    shutil.copy(shipped["owner_onnx"], bare)
    cases = [
        (["verify", mgf, stranger, "--key", key], "another tokenizer"),
        (["verify", mgf, pickled, "--key", key], "no model.safetensors (found pytorch_model.bin"),
        (["verify", mgf, remote, "--key", key], "never runs remote code"),
        (["fingerprint", bare, "--key", key, "-o", root / "bare.mgf", *SMALL],
         "no tokenizer.json"),
    ]
    for argv, expected in cases:
        code, out, err = run(capsys, *argv)
        assert code == 2, (argv, err)
        assert err.count("\n") == 1 and expected in err, err
        assert out == ""


@pytest.fixture(scope="module")
def int8(shipped: dict[str, Path]) -> Path:
    """onnxruntime's dynamic int8 of the owner's export, with its tokenizer.json."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = shipped["root"] / "int8" / "model.onnx"
    target.parent.mkdir()
    quantize_dynamic(str(shipped["owner_onnx"]), str(target), weight_type=QuantType.QInt8)
    shutil.copy(shipped["tokenizer"], target.parent / "tokenizer.json")
    return target


def test_a_quantized_copy_is_checked_against_itself(shipped: dict[str, Path],
                                                    int8: Path) -> None:
    """onnxruntime's dynamic int8 of the export: cut and normalized (both checks run on the
    quantized graph itself, unfused), and compared with the owner."""
    root = shipped["root"]
    model = load_text_model(int8, 12)
    assert model.quantized_table
    key = generate_key()
    made = create_text_fingerprint(shipped["owner"], key, root / "q.mgf", settings=SETTINGS)
    compared = compare_text(made, open_secrets(made, key), model)
    assert compared.cosines.mean() > 0.9


def test_models_without_a_lookup_are_refused(shipped: dict[str, Path]) -> None:
    with pytest.raises(ModelLoadError, match="no integer input"):
        from modelgif.fingerprint.text.model import _cut_and_normalize

        proto = onnx.helper.make_model(onnx.helper.make_graph(
            [onnx.helper.make_node("Relu", ["x"], ["y"])], "g",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])]))
        _cut_and_normalize(Path("x.onnx"), proto.SerializeToString(), 8, None, "x.onnx")


def test_black_box_agrees_with_exact(shipped: dict[str, Path]) -> None:
    """A suspect run in onnxruntime by forward passes only (central differences along the
    sketch directions) is compared with the owner's exact sketch: the same model agrees."""
    root, tokenizer = shipped["root"], shipped["tokenizer"]
    torch.manual_seed(7)
    owner = export_token_mlp(TokenMLP(vocab_size(tokenizer), 24), root / "bb" / "m.onnx",
                             tokenizer)
    key = generate_key()
    made = create_text_fingerprint(owner, key, root / "bb.mgf", settings=SETTINGS)
    compared = compare_text(made, open_secrets(made, key), owner, backend="blackbox")
    assert compared.estimator["name"] == "blackbox"
    assert compared.cosines.min() > 0.99


def test_per_sample_batching_is_the_one_at_a_time_gradient(int8: Path) -> None:
    """A dynamically quantized graph differentiated per sample under vmap gives the gradients
    of running each sample alone (what one request computes), not of the batch as a whole;
    its outputs are onnxruntime's one request at a time."""
    from modelgif.fingerprint.backends.exact import ExactBackend
    from modelgif.fingerprint.sketch import Projection
    from modelgif.fingerprint.text.per_sample import PerSampleExact

    model = load_text_model(int8, 12)
    rng = np.random.default_rng(3)
    x = model.table[rng.integers(0, model.table.shape[0], (5, 12))].astype(np.float32)
    x[0] *= 4.0  # one sample of another range: batch-wide scales would move the others
    matrix = rng.standard_normal((12 * 32, 8)).astype(np.float32)
    projection = Projection(dim=12 * 32, k=8, kind="gaussian", matrix=matrix)
    classes = np.arange(5, dtype=np.int64)
    batched = PerSampleExact(model.normalized.model)
    batched.check(x)
    fast = batched.point_gradients(x, np.ones_like(x), projection, "class", classes)
    assert batched.vmapped  # the vmap path ran, no fallback
    alone = ExactBackend(model.normalized.model)
    assert alone.batch_size == 1
    slow = alone.point_gradients(x, np.ones_like(x), projection, "class", classes)
    assert np.allclose(fast.sketch, slow.sketch, rtol=1e-4, atol=1e-6)
    whole = ExactBackend(model.normalized.model)
    whole.batch_size = 5  # the batch as one request: another function
    coupled = whole.point_gradients(x, np.ones_like(x), projection, "class", classes)
    assert not np.allclose(coupled.sketch, slow.sketch, rtol=1e-3, atol=1e-5)


def test_text_verdicts_become_reports_and_scan_names_verify(
        shipped: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """A text verdict record (a folder suspect and an .onnx one) goes into a signed report
    that `report verify` checks, the suspect files re-hashed; `scan` of a text fingerprint
    names `modelgif verify` in one line."""
    root, key = shipped["root"], shipped["key"]
    mgf, folder = root / "report.mgf", root / "report"
    assert run(capsys, "fingerprint", shipped["owner"], "--key", key, "-o", mgf, *SMALL)[0] == 0
    for name, suspect, backend in (("onnx", shipped["owner_onnx"], "auto"),
                                   ("other", shipped["other"], "blackbox")):
        code, _, err = run(capsys, "verify", mgf, suspect, "--key", key, "--backend", backend,
                           "-o", root / f"{name}.verdict.json")
        assert code == 0, err
    envelope = json.loads((root / "other.verdict.json").read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert '"name": "blackbox"' in json.dumps(statement)  # forward passes only, recorded
    code, _, err = run(capsys, "report", root / "onnx.verdict.json", root / "other.verdict.json",
                       "--key", key, "-o", folder)
    assert code == 0, err
    html = (folder / "report.html").read_text()
    assert "model.onnx" in html and "model.safetensors" in html
    code, out, err = run(capsys, "report", "verify", folder, "--pub", key.with_suffix(".pub"),
                         "--files", shipped["owner_onnx"], shipped["other"] / "model.safetensors")
    assert code == 0, out + err
    code, out, err = run(capsys, "scan", "--fingerprints", mgf, "--suspects", shipped["other"],
                         "--key", key, "-o", root / "scan.jsonl")
    assert code == 2 and err.count("\n") == 1 and "modelgif verify" in err, err
    assert not (root / "scan.jsonl").exists()


def test_a_causal_lm_is_fingerprinted_by_its_next_token(shipped: dict[str, Path]) -> None:
    """A GPT-2 trained here on Python's own docstrings (real text): the scalar is its own
    top-1 next-token logit at the last position, signed; a fine-tuned copy keeps the field,
    a model of the same shape trained on other docstrings from another seed does not. (One
    trained on the same docstrings scores about as high as the copy: at this size a next-token
    model is close to the texts' bigram table, the same function whoever trains it.)"""
    from modelgif.zoo.text_models import stdlib_texts

    root, tokenizer = shipped["root"], shipped["tokenizer"]
    # letters only: the test tokenizer spells any lowercase word, and has no digits
    texts = [re.sub("[^a-z]+", " ", t.lower()) for t in stdlib_texts()[:400]]
    owner = tiny_causal_lm(root / "lm-owner", tokenizer, texts[:300], seed=0, steps=100)
    tuned = tiny_causal_lm(root / "lm-tuned", tokenizer, texts[300:], seed=2, steps=10,
                           start=owner, lr=1e-4)
    other = tiny_causal_lm(root / "lm-other", tokenizer, texts[300:], seed=1, steps=100)
    key = generate_key()
    settings = TextSettings(length=12, n_anchors=16, n_steps=3, sketch_dim=16)
    made = create_text_fingerprint(owner, key, root / "lm.mgf", settings=settings)
    text = made.config["text"]
    assert text["scalar"] == "next-token" and "last" in text["position"]
    secrets = open_secrets(made, key)
    same = compare_text(made, secrets, owner).cosines.mean()
    kept = compare_text(made, secrets, tuned).cosines.mean()
    apart = compare_text(made, secrets, other).cosines.mean()
    assert same > 0.999
    assert kept > 0.5 > apart, (kept, apart)
    assert len(set(made.arrays["classes"].tolist())) > 1  # not one token predicted everywhere
