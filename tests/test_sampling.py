"""laimark.models.sampling: seeds, batching, stop strings, chat vs raw, the Ollama and vLLM backends, CLI flags."""

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from laimark.core.seeds import item_seed
from laimark.core.solve import truncate_at_stop
from laimark.models.hf import HFSampler
from laimark.models.loading import ModelError, load_model
from laimark.models.ollama import OllamaSampler
from laimark.models.sampling import add_model_args, make_sampler

PROMPTS = [
    "def add(a, b):\n",
    [{"role": "user", "content": "Write a function that reverses a string."}],
    "import json\n\nclass Decoder:\n    def __init__(self):",
    "x",
]


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(str(tiny_model_dir), dtype="fp32", device="cpu")


def sampler(loaded, batch_size=4):
    return HFSampler(loaded, batch_size=batch_size)


# --- seeds and stop strings -------------------------------------------------------------------------


def test_item_seed_is_a_stable_hash_of_the_keys():
    payload = json.dumps([7, "HumanEval/0", 3], separators=(",", ":")).encode()
    expected = int.from_bytes(hashlib.sha256(payload).digest()[:8], "big") >> 1
    assert item_seed(7, "HumanEval/0", 3) == expected
    assert item_seed(7, "HumanEval/0", 3) != item_seed(7, "HumanEval/0", 4)
    assert 0 <= item_seed(7, "x") < 2**63


def test_item_seed_is_the_same_in_another_process():
    code = "from laimark.core.seeds import item_seed; print(item_seed(1, 'task', 2))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == item_seed(1, "task", 2)  # hash() would differ (PYTHONHASHSEED)


@pytest.mark.parametrize(
    ("text", "stop", "expected"),
    [
        ("abc\ndef", ["\n"], "abc"),
        ("abcXYdef", ["def", "XY"], "abc"),  # the earliest occurrence wins, not the first listed
        ("abc", [], "abc"),
        ("abc", [""], "abc"),
    ],
)
def test_truncate_at_stop(text, stop, expected):
    assert truncate_at_stop(text, stop) == expected


# --- the seeded sampling processor ------------------------------------------------------------------


def _draw(scores_row, n, temperature=1.0, top_p=1.0):
    import torch

    from laimark.models.hf import SeededSampling

    scores = torch.tensor([scores_row] * n, dtype=torch.float32)
    forced = SeededSampling(range(n), temperature, top_p)(None, scores)
    assert (torch.isfinite(forced).sum(-1) == 1).all()  # exactly one token left per row
    return forced.argmax(-1).tolist()


def test_sampling_follows_the_distribution():
    import math

    picks = _draw([math.log(0.25), math.log(0.75), float("-inf")], 4000)
    assert 2 not in picks  # a token with no probability is never drawn
    assert abs(picks.count(1) / 4000 - 0.75) < 0.03


def test_top_p_drops_the_tail():
    import math

    picks = _draw([math.log(0.1), math.log(0.6), math.log(0.3)], 500, top_p=0.8)
    assert set(picks) == {1, 2}


def test_low_temperature_sharpens():
    import math

    picks = _draw([math.log(0.4), math.log(0.6)], 500, temperature=0.05)
    assert picks.count(1) > 490


# --- hf backend ---------------------------------------------------------------------------------


def test_batched_greedy_equals_one_at_a_time(loaded):
    batched = sampler(loaded, 4).generate(PROMPTS, max_new_tokens=16)
    alone = sampler(loaded, 1).generate(PROMPTS, max_new_tokens=16)
    assert batched == alone
    assert len({out[0] for out in batched}) == len(PROMPTS)


def test_same_seeds_give_identical_samples(loaded):
    kwargs = dict(n=3, temperature=1.0, max_new_tokens=16, seeds=[1, 2, 3, 4])
    assert sampler(loaded).generate(PROMPTS, **kwargs) == sampler(loaded).generate(
        PROMPTS, **kwargs
    )


def test_different_seeds_give_different_samples(loaded):
    a = sampler(loaded).generate(PROMPTS, temperature=1.0, max_new_tokens=16, seeds=[1, 2, 3, 4])
    b = sampler(loaded).generate(PROMPTS, temperature=1.0, max_new_tokens=16, seeds=[5, 6, 7, 8])
    assert a != b


def test_samples_of_one_prompt_differ(loaded):
    [outs] = sampler(loaded).generate(
        PROMPTS[:1], n=4, temperature=1.0, max_new_tokens=16, seeds=[3]
    )
    assert len(set(outs)) == 4


def test_an_item_gets_the_same_sample_whatever_its_batch(loaded):
    seeds = [11, 12, 13, 14]
    kwargs = dict(n=2, temperature=1.0, max_new_tokens=16)
    together = sampler(loaded, 8).generate(PROMPTS, seeds=seeds, **kwargs)
    reversed_alone = sampler(loaded, 1).generate(PROMPTS[::-1], seeds=seeds[::-1], **kwargs)
    resumed = sampler(loaded, 3).generate(PROMPTS[2:], seeds=seeds[2:], **kwargs)
    assert together == reversed_alone[::-1]
    assert together[2:] == resumed


def test_greedy_samples_are_copies(loaded):
    [outs] = sampler(loaded).generate(PROMPTS[:1], n=3, max_new_tokens=8)
    assert outs[0] == outs[1] == outs[2]


def test_tiny_top_p_is_greedy(loaded):
    greedy = sampler(loaded).generate(PROMPTS, max_new_tokens=12)
    nucleus = sampler(loaded).generate(PROMPTS, temperature=1.0, top_p=1e-6, max_new_tokens=12)
    assert nucleus == greedy


def test_stop_string_cuts_the_completion(loaded):
    full = sampler(loaded).generate(PROMPTS, max_new_tokens=24)
    stop = next(c for out in full for c in out[0][3:] if c.isalnum())  # a char that does occur
    cut = sampler(loaded).generate(PROMPTS, max_new_tokens=24, stop=[stop])
    for [whole], [part] in zip(full, cut, strict=True):
        assert stop not in part
        assert part == whole[: len(part)] and part == truncate_at_stop(whole, [stop])


def test_chat_prompts_use_the_template_and_strings_do_not(loaded):
    s = sampler(loaded)
    tok = loaded.tokenizer
    chat_ids = s.encode([{"role": "user", "content": "hi"}])
    assert tok.decode(chat_ids) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert s.encode("hi") == tok("hi")["input_ids"]
    chat, raw = s.generate([[{"role": "user", "content": "hi"}], "hi"], max_new_tokens=12)
    assert chat != raw


# The part of Qwen3's chat template that --thinking reaches: with enable_thinking false it writes
# an empty think block, so the model answers at once.
QWEN3_TAIL = (
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}"
    "{{ '<think>\n\n</think>\n\n' }}{% endif %}{% endif %}"
)


@pytest.mark.parametrize("thinking", [False, True])
def test_thinking_reaches_templates_that_take_it(loaded, thinking):
    tok = loaded.tokenizer
    saved = tok.chat_template
    try:
        tok.chat_template = saved.split("{% if add_generation_prompt %}")[0] + QWEN3_TAIL
        text = tok.decode(
            HFSampler(loaded, thinking=thinking).encode([{"role": "user", "content": "hi"}])
        )
    finally:
        tok.chat_template = saved
    assert text.endswith("<think>\n\n</think>\n\n") is not thinking


def test_left_padding_is_used(loaded):
    sampler(loaded)
    assert loaded.tokenizer.padding_side == "left"


def test_max_new_tokens_bounds_the_output(loaded):
    # Greedy and random weights: the model never stops early, so the budget decides the length.
    [[short]], [[long]] = (sampler(loaded).generate(PROMPTS[:1], max_new_tokens=k) for k in (4, 16))
    assert 0 < len(short) < len(long)


def test_one_seed_per_prompt_is_required(loaded):
    with pytest.raises(ValueError, match="one per prompt"):
        sampler(loaded).generate(PROMPTS, seeds=[1])


def test_make_sampler_hf_merges_adapters_and_records_identity(tiny_model_dir):
    s = make_sampler("hf", str(tiny_model_dir), dtype="fp32", device="cpu", batch_size=2)
    assert s.identity["kind"] == "folder" and s.identity["chain"] == [str(tiny_model_dir)]
    assert len(s.generate(PROMPTS[:2], n=2, temperature=0.8, max_new_tokens=4)[1]) == 2


# --- ollama backend (real client, loopback stub server) ------------------------------------------


@pytest.fixture
def ollama_stub():
    from ollama_stub import start_stub

    server, url = start_stub()
    yield server, url
    server.shutdown()


def test_ollama_chat_and_raw_prompts(ollama_stub):
    server, url = ollama_stub
    s = OllamaSampler("tiny", host=url, concurrency=2)
    outs = s.generate(
        [[{"role": "user", "content": "hi"}], "def f():"],
        n=2,
        temperature=0.5,
        max_new_tokens=7,
        stop=["|STOP"],
        seeds=[1, 2],
    )
    assert outs[0][0] == f"chat:hi|seed={item_seed(1, 0) % 2**31}|t=0.5"
    assert outs[1][1] == f"raw:def f():|seed={item_seed(2, 1) % 2**31}|t=0.5"
    paths = sorted(p for p, _ in server.requests if p != "/api/show")
    assert paths == ["/api/chat"] * 2 + ["/api/generate"] * 2
    chats = [r for p, r in server.requests if p == "/api/chat"]
    assert all("think" not in r for r in chats)  # the model cannot think: nothing to turn off
    options = chats[0]["options"]
    assert options["num_predict"] == 7 and options["stop"] == ["|STOP"] and options["top_p"] == 1.0


@pytest.mark.parametrize("thinking", [False, True])
def test_ollama_thinking_is_sent_to_models_that_can_think(ollama_stub, thinking):
    server, url = ollama_stub
    s = make_sampler("ollama", "thinker", ollama_host=url, thinking=thinking)
    s.generate([[{"role": "user", "content": "hi"}]])
    [chat] = [r for p, r in server.requests if p == "/api/chat"]
    assert chat["think"] is thinking


def test_ollama_thinking_on_for_a_model_that_cannot_says_so(ollama_stub):
    with pytest.raises(ModelError, match="no thinking capability.*--thinking off"):
        make_sampler("ollama", "tiny", ollama_host=ollama_stub[1], thinking=True)


def test_ollama_identity_records_the_digest(ollama_stub):
    _, url = ollama_stub
    s = make_sampler("ollama", "tiny", ollama_host=url)
    assert s.identity["kind"] == "ollama" and s.identity["revision"] == "sha256:" + "ab" * 32
    assert s.identity["path"] == url


def test_ollama_missing_model_says_pull(ollama_stub):
    _, url = ollama_stub
    with pytest.raises(ModelError, match="ollama pull qwen2.5-coder:0.5b"):
        OllamaSampler("qwen2.5-coder-0.5b-instruct", host=url)  # embedded name -> Ollama tag


def test_ollama_unreachable_says_how_to_fix():
    with pytest.raises(ModelError, match="ollama serve"):
        OllamaSampler("tiny", host="http://127.0.0.1:9")  # discard port: nothing listens


def test_ollama_rejects_adapters(ollama_stub):
    with pytest.raises(ModelError, match="--backend hf"):
        make_sampler("ollama", "tiny", adapter="some/adapter", ollama_host=ollama_stub[1])


# --- vllm, factory, flags ------------------------------------------------------------------------------


def test_vllm_missing_is_explained():
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401

        pytest.skip("vllm is installed here")
    except ImportError:
        pass
    with pytest.raises(ModelError, match=r"pip install -e '\.\[vllm\]'"):
        make_sampler("vllm", "smollm2-135m-instruct")


def test_unknown_backend():
    with pytest.raises(ModelError, match="unknown backend"):
        make_sampler("llamacpp", "x")


def test_model_flags_defaults_and_adapter_chain():
    parser = add_model_args(argparse.ArgumentParser())
    args = parser.parse_args([])
    assert (args.model, args.backend, args.dtype, args.adapter) == (
        "qwen2.5-coder-0.5b-instruct",
        "auto",
        "auto",
        None,
    )
    args = parser.parse_args(["--adapter", "r1", "r2", "--adapter", "r3", "--batch_size", "4"])
    assert args.adapter == ["r1", "r2", "r3"] and args.batch_size == 4


def test_importing_sampling_does_not_import_torch():
    code = "import sys, laimark.models.sampling; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_bench_generation_help_is_fast_and_works():
    script = str(Path(__file__).resolve().parents[1] / "scripts" / "bench_generation.py")
    out = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--max_new_tokens" in out.stdout
