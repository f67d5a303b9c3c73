"""The OpenVINO backend: continuous batching on CPU, LoRA adapters applied at run time.

OpenVINO GenAI's `ContinuousBatchingPipeline` keeps many sequences in flight and admits a new one
as soon as another ends, so a batch never waits for its longest reply (the hf backend's does), and
the prompt of a problem sampled K times is computed once (prefix caching). Figures, CPU by CPU, in
docs/benchmarks.md.

* **Export.** The engine reads its own format. The model is exported once, with optimum-intel, into
  the cache beside the model's transformers folder (`<cache>/models/<folder>-openvino`), keyed by
  the source's hash, and reused. optimum-intel pins transformers < 5.6, older than the rest of
  laimark needs, so it lives in an environment of its own: `.venv-export` beside the active venv
  (scripts/setup.sh makes it), or the interpreter in `$LAIMARK_OPENVINO_EXPORTER`.
* **Same inputs and outputs as hf.** The transformers tokenizer applies the chat template and
  encodes; the engine receives and returns token ids; they are decoded the same way. The end-of-
  turn tokens and stop strings are the hf backend's.
* **Precision.** `--dtype auto` is bf16 on CPUs with native bf16 (AMX, AVX512-BF16), fp32
  elsewhere, as for hf; weights are stored in fp16 (exact for a bf16 source) or fp32.
* **Adapters** (one, or a chain from laimark-train's sidecar) are applied at run time, never merged
  into the weights: a small trained update is computed on its own and added, so it is not rounded
  away in bf16. Each adapter's B matrix is scaled by peft's lora_alpha / r first (the engine
  applies the adapter with weight 1); tests/test_openvino.py checks the result against peft.
* **Seeds.** Sample j of prompt i is its own request, seeded with `item_seed(seeds[i], j)`: the
  same item gets the same sample whatever the order of the items. Which other sequences share a
  step changes the shapes the kernels see, so, as with hf, floating-point noise can change a
  near-tie (measured: one of 4 greedy answers differed between alone and batched).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from laimark.core.seeds import item_seed
from laimark.core.solve import truncate_at_stop
from laimark.models.loading import (
    AdapterIdentity,
    ModelError,
    ResolvedModel,
    adapter_chain,
    adapter_sha256,
    cached_conversion,
    end_token_ids,
    identity_of,
    resolve_dtype,
    resolve_model,
    sha256_files,
)
from laimark.models.sampling import chat_template_kwargs, default_seeds

log = logging.getLogger(__name__)

EXPORTER_ENV = "LAIMARK_OPENVINO_EXPORTER"
SETUP_HINT = "bash scripts/setup.sh (it installs openvino-genai and makes .venv-export)"
# The engine's name for each resolved --dtype.
PRECISION = {"bf16": "bf16", "fp16": "f16", "fp32": "f32"}


def unavailable() -> str | None:
    """Why this backend cannot run here, or None if it can."""
    if importlib.util.find_spec("openvino_genai") is None:
        return f"openvino-genai is not installed ({SETUP_HINT})"
    if exporter() is None:
        return f"no optimum-intel to export models with ({SETUP_HINT}, or set ${EXPORTER_ENV})"
    return None


def exporter() -> str | None:
    """The Python interpreter that has optimum-intel, or None."""
    given = os.environ.get(EXPORTER_ENV)
    if given:
        return given
    prefix = Path(sys.prefix)
    beside = prefix.with_name(prefix.name + "-export") / "bin" / "python"
    if beside.is_file():
        return str(beside)
    if importlib.util.find_spec("optimum") and importlib.util.find_spec("optimum.intel"):
        return sys.executable
    return None


def exported_folder(resolved: ResolvedModel) -> Path:
    """The model in OpenVINO's format, exported once into the cache and reused.

    Keyed by the hash of the source's weights and config, so a retrained folder is exported
    again. A hub id is exported from the hub's files (optimum-intel downloads them).
    """
    source = Path(resolved.load_path)
    if not source.is_dir():
        raise ModelError(
            f"the openvino backend exports a local model folder; '{resolved.name}' resolved to "
            f"{source}, which is not one (download it first, or use --backend hf)"
        )
    files = sorted(
        p for p in source.iterdir() if p.suffix == ".safetensors" or p.name == "config.json"
    )
    if not any(p.suffix == ".safetensors" for p in files):
        raise ModelError(f"{source} has no .safetensors weights for the openvino backend to export")
    config = json.loads((source / "config.json").read_text())
    dtype = config.get("dtype") or config.get("torch_dtype") or "float32"
    weights = "fp16" if dtype in ("bfloat16", "float16") else "fp32"  # exact for the source
    sha256 = sha256_files(files)
    return cached_conversion(
        f"{source.name}-{sha256[:12]}-openvino-{weights}",
        files,
        sha256,
        lambda _first, dest: _export(source, dest, weights),
        join=False,
    )


def _export(source: Path, dest: Path, weights: str) -> None:
    python = exporter()
    if python is None:
        raise ModelError(f"cannot export {source} for OpenVINO: {unavailable()}")
    cmd = [python, "-m", "optimum.commands.optimum_cli", "export", "openvino", "--model"]
    cmd += [str(source), "--task", "text-generation-with-past", "--weight-format", weights]
    log.info("exporting %s for OpenVINO (once; later loads reuse it)", source)
    done = subprocess.run([*cmd, str(dest)], capture_output=True, text=True)
    if done.returncode != 0 or not (dest / "openvino_model.xml").is_file():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise ModelError(f"exporting {source} for OpenVINO failed ({' '.join(cmd)}):\n{tail}")


def lora_tensor(path: str | Path):
    """An adapter's weights as the engine takes them: safetensors bytes, B scaled by peft's factor.

    Raises:
        ModelError: an adapter kind the engine cannot apply (DoRA, extra trained modules).
    """
    import numpy as np
    import openvino as ov
    from safetensors.torch import load_file, save

    path = Path(path)
    config = json.loads((path / "adapter_config.json").read_text())
    if config.get("use_dora") or config.get("modules_to_save"):
        raise ModelError(
            f"{path}: DoRA adapters and modules_to_save cannot be applied by the openvino "
            "backend; use --backend hf"
        )
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise ModelError(f"{path}: per-module ranks or alphas are not supported; use --backend hf")
    rank, alpha = config["r"], config.get("lora_alpha", config["r"])
    scale = alpha / rank**0.5 if config.get("use_rslora") else alpha / rank
    weights = path / "adapter_model.safetensors"
    if not weights.is_file():
        raise ModelError(f"{path} has no adapter_model.safetensors")
    tensors = {
        name: (t.float() * scale if ".lora_B." in name else t.float()).contiguous()
        for name, t in load_file(str(weights)).items()
    }
    return ov.Tensor(np.frombuffer(save(tensors), dtype=np.uint8).copy())


def cache_gigabytes(config: dict, sequences: int, tokens: int = 4096) -> int:
    """KV cache to reserve: `sequences` of `tokens` each in 16-bit, at least 1 GB (at most 16)."""
    layers = config.get("num_hidden_layers", 24)
    heads = config.get("num_key_value_heads") or config.get("num_attention_heads", 16)
    head_dim = config.get("head_dim") or config.get("hidden_size", 1024) // config.get(
        "num_attention_heads", 16
    )
    per_token = 2 * layers * heads * head_dim * 2
    return max(1, min(16, -(-per_token * sequences * tokens // 2**30)))


class OpenVINOSampler:
    """OpenVINO GenAI on CPU: continuous batching of up to `batch_size` sequences."""

    def __init__(
        self,
        model: str,
        adapter: Sequence[str] = (),
        dtype: str = "auto",
        batch_size: int = 32,
        thinking: bool = False,
    ):
        why = unavailable()
        if why:
            raise ModelError(f"the openvino backend cannot run: {why}")
        import openvino_genai as og
        from transformers import AutoTokenizer

        resolved = resolve_model(model)
        chain = adapter_chain(adapter[0]) if len(adapter) == 1 else [str(a) for a in adapter]
        folder = exported_folder(resolved)
        self.tokenizer = AutoTokenizer.from_pretrained(resolved.load_path)
        self.template_kwargs = chat_template_kwargs(thinking)
        dtype = resolve_dtype(dtype, "cpu")
        threads = int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1
        props: dict = {
            "INFERENCE_PRECISION_HINT": PRECISION[dtype],
            "INFERENCE_NUM_THREADS": threads,
        }
        # The pipeline compiles the adapters in; each request names them too (`_config`): a
        # request without them runs the bare base model.
        self.adapters = (
            og.AdapterConfig([(og.Adapter(lora_tensor(p)), 1.0) for p in chain]) if chain else None
        )
        if self.adapters:
            props["adapters"] = self.adapters
        config = json.loads((folder / "config.json").read_text())
        scheduler = og.SchedulerConfig()
        scheduler.max_num_seqs = max(1, batch_size)
        scheduler.cache_size = cache_gigabytes(config, scheduler.max_num_seqs)
        scheduler.enable_prefix_caching = True  # K samples of one prompt share its prefill
        try:
            self.pipe = og.ContinuousBatchingPipeline(str(folder), scheduler, "CPU", props)
        except RuntimeError as e:
            raise ModelError(f"OpenVINO could not load {folder}: {e}") from e
        generation = folder / "generation_config.json"  # what hf's generate() reads, too
        configured = (json.loads(generation.read_text()) if generation.is_file() else config).get(
            "eos_token_id"
        )
        self.end_ids = end_token_ids(self.tokenizer, configured)
        if self.adapters:
            # Requests added one by one (`generate` below) run with the adapters the pipeline
            # last applied, and only its own generate() applies them (openvino-genai 2026.4):
            # one token through it sets them for good. tests/test_openvino.py checks the result.
            warm = og.GenerationConfig()
            warm.max_new_tokens, warm.adapters = 1, self.adapters
            self.pipe.generate([self._tensor(self.encode("x"))], [warm])
        self.batch_size = scheduler.max_num_seqs
        self.tokens_generated = 0
        self._in_flight = 0
        self.identity = identity_of(resolved, None, [resolved.name], dtype)
        for path in chain:
            self.identity["adapters"].append(
                AdapterIdentity(path=str(path), sha256=adapter_sha256(path))
            )
            self.identity["chain"].append(f"{path} (at run time)")
        self.identity["backend"] = f"openvino-genai {og.get_version().split('-')[0]}"

    @property
    def live_tokens(self) -> int:
        """Tokens generated so far, the call in progress included."""
        return self.tokens_generated + self._in_flight

    def encode(self, prompt) -> list[int]:
        """Token ids of one prompt: chat template for message lists, raw text otherwise."""
        if isinstance(prompt, str):
            return self.tokenizer(prompt)["input_ids"]
        text = self.tokenizer.apply_chat_template(
            prompt, add_generation_prompt=True, tokenize=False, **self.template_kwargs
        )
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @staticmethod
    def _tensor(ids: list[int]):
        import numpy as np
        import openvino as ov

        return ov.Tensor(np.array([ids], dtype=np.int64))

    def _config(self, seed: int, temperature, top_p, max_new_tokens, stop):
        import openvino_genai as og

        config = og.GenerationConfig()
        config.max_new_tokens = max_new_tokens
        config.stop_token_ids = set(self.end_ids)
        if self.adapters:
            config.adapters = self.adapters
        if stop:
            config.stop_strings = set(stop)
        if temperature > 0:
            config.do_sample = True
            config.temperature = temperature
            config.top_p = top_p
            config.rng_seed = seed % 2**32
        return config

    def generate(
        self, prompts, n=1, *, temperature=0.0, top_p=1.0, max_new_tokens=512, stop=(), seeds=None
    ):
        import openvino_genai as og
        from tqdm import tqdm

        seeds = default_seeds(prompts, seeds)
        draws = 1 if temperature == 0 else n  # greedy samples are identical: compute once
        ids = [self.encode(p) for p in prompts]
        jobs = [(i, j) for i in range(len(prompts)) for j in range(draws)]
        handles = [
            self.pipe.add_request(
                number,
                self._tensor(ids[i]),
                self._config(item_seed(seeds[i], j), temperature, top_p, max_new_tokens, stop),
            )
            for number, (i, j) in enumerate(jobs)
        ]
        generated: list[list[int]] = [[] for _ in jobs]
        open_jobs = set(range(len(jobs)))
        running, ignored = og.GenerationStatus.RUNNING, og.GenerationStatus.IGNORED
        with tqdm(total=len(jobs), desc="sampling", unit="seq", leave=False) as bar:
            try:
                while open_jobs:
                    self.pipe.step()
                    for k in list(open_jobs):
                        handle = handles[k]
                        while handle.can_read():
                            for out in handle.read().values():
                                generated[k].extend(out.generated_ids)
                                self._in_flight += len(out.generated_ids)
                        status = handle.get_status()
                        if status == ignored:
                            raise ModelError(
                                f"the OpenVINO engine dropped a request of {len(ids[jobs[k][0]])} "
                                "prompt tokens (longer than its KV cache?)"
                            )
                        if status != running and not handle.can_read():
                            open_jobs.discard(k)
                            bar.update(1)
                    if open_jobs and not self.pipe.has_non_finished_requests():
                        raise ModelError("the OpenVINO engine stopped with requests unfinished")
            finally:
                for k in open_jobs:  # an interrupted call must not leave requests in the engine
                    handles[k].cancel()
                self.tokens_generated += self._in_flight
                self._in_flight = 0
        texts = {
            job: truncate_at_stop(self._decode(tokens), stop)
            for job, tokens in zip(jobs, generated, strict=True)
        }
        return [[texts[(i, j if draws > 1 else 0)] for j in range(n)] for i in range(len(prompts))]

    def _decode(self, tokens: list[int]) -> str:
        while tokens and tokens[-1] in self.end_ids:  # the engine returns the end token itself
            tokens = tokens[:-1]
        return self.tokenizer.decode(tokens, skip_special_tokens=True)
