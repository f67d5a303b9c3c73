"""Did training move the policy? Measured after `laimark-train`, written to the sidecar, printed.

Three measurements, cheapest first:
* **weights** (`weight_change`): for every LoRA layer, delta W = B A * scaling against W: the
  largest and mean |delta W|, its size relative to |W|, and the share of delta W entries at least
  half a unit in the last place (ulp) of their weight in the dtype evaluation will use (and in
  bf16): below that, merging the adapter into weights of that dtype rounds the entry away.
* **behaviour on held-out problems** (`heldout_change`): problems made by the same pipeline but
  kept out of training. Each is answered greedily by the base policy (adapter disabled) and the
  trained one; reported: the mean per-token KL(base || trained) along the base's answers (exact
  over the vocabulary at each position, teacher-forced), the share of answers that changed, and
  the reward (all tests pass, and share of tests passed) before and after.
* **warnings** (`movement_warnings`) when the update is below what an evaluation can see, with
  the likely cause (learning rate x steps, LoRA targets, dtype).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from laimark.core.config import check, nested
from laimark.core.solve import SolveFormat, solve_format_of
from laimark.execution.sandbox import SandboxConfig
from laimark.models.loading import DEFAULT_MODEL
from laimark.tasks import judge_by_type, task_type

log = logging.getLogger(__name__)

MANTISSA_BITS = {"fp32": 23, "bf16": 7, "fp16": 10}
# Below this mean KL per token, no benchmark of a few hundred tasks can tell the policies apart
# (the bar for "moved"; a greedy answer rarely changes below it).
KL_VISIBLE = 1e-3
# Below this share of delta W entries surviving a merge, the merged model is mostly the base.
VISIBLE_SHARE = 0.5


def lora_layers(model):
    """(name, layer) of every LoRA layer with an active adapter."""
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and hasattr(module, "base_layer"):
            active = [
                a for a in getattr(module, "active_adapters", ["default"]) if a in module.lora_A
            ]
            if active:
                yield name, module, active


def delta_weight(layer, adapter: str):
    """delta W of one LoRA layer in fp32, shaped like the base weight."""
    a = layer.lora_A[adapter].weight.float()
    b = layer.lora_B[adapter].weight.float()
    delta = (b @ a) * layer.scaling[adapter]
    if getattr(layer, "fan_in_fan_out", False):
        delta = delta.T
    return delta


def half_ulp(weight, dtype: str):
    """Half the spacing of `dtype` numbers around each entry of `weight` (fp32 tensor)."""
    import torch

    _, exponent = torch.frexp(weight)  # |w| = m 2^e with 0.5 <= m < 1
    return torch.ldexp(torch.full_like(weight, 0.5), exponent - 1 - MANTISSA_BITS[dtype])


def weight_change(model, eval_dtype: str) -> dict:
    """Size of the trained update against the weights and the resolution of `eval_dtype`."""
    import torch

    total = changed = visible_eval = visible_bf16 = 0
    sum_abs_delta = sum_abs_weight = 0.0
    max_abs = 0.0
    norms: dict[str, float] = {}
    with torch.no_grad():
        for name, layer, active in lora_layers(model):
            w = layer.base_layer.weight.float()
            for adapter in active:
                d = delta_weight(layer, adapter)
                total += d.numel()
                changed += int((d != 0).sum())
                sum_abs_delta += float(d.abs().sum())
                sum_abs_weight += float(w.abs().sum())
                max_abs = max(max_abs, float(d.abs().max()))
                nonzero = w != 0  # a zero weight has no ulp of its own: any change shows
                visible_eval += int(((d.abs() >= half_ulp(w, eval_dtype)) | ~nonzero).sum())
                visible_bf16 += int(((d.abs() >= half_ulp(w, "bf16")) | ~nonzero).sum())
                kind = name.rsplit(".", 1)[-1]
                norms[kind] = norms.get(kind, 0.0) + float(layer.lora_B[adapter].weight.norm()) ** 2
    if not total:
        return {"lora_layers": 0}
    return {
        "lora_entries": total,
        "max_abs_delta": max_abs,
        "mean_abs_delta": sum_abs_delta / total,
        "relative_change": sum_abs_delta / sum_abs_weight if sum_abs_weight else None,
        "eval_dtype": eval_dtype,
        "visible_share_eval_dtype": visible_eval / total,
        "visible_share_bf16": visible_bf16 / total,
        "nonzero_share": changed / total,
        "lora_B_norm": {k: math.sqrt(v) for k, v in sorted(norms.items())},
    }


def heldout_change(
    model,
    tokenizer,
    problems: Sequence,
    fmt: SolveFormat,
    sandbox,
    *,
    max_new_tokens: int,
    batch_size: int = 8,
    thinking: bool = False,
) -> dict:
    """Greedy answers of base and trained policy on held-out problems; KL along the base's.

    `model` is the trained PeftModel (its adapter is disabled for the base policy).
    """
    import torch

    from laimark.models.hf import HFSampler
    from laimark.models.loading import LoadedModel

    problems = [p for _, p in problems]
    sampler = HFSampler(LoadedModel(model, tokenizer, {}), batch_size, thinking=thinking)
    prompts = [task_type(p.problem_type).prompt(p, fmt) for p in problems]
    model.eval()

    def answers():
        outs = sampler.generate(
            prompts, 1, temperature=0.0, max_new_tokens=max_new_tokens, stop=fmt.stop
        )
        return [o[0] for o in outs]

    with model.disable_adapter():
        base = answers()
    trained = answers()
    kl_sum, tokens = 0.0, 0
    with torch.no_grad():
        for prompt, answer in zip(prompts, base, strict=True):
            head = sampler.encode(prompt)
            tail = tokenizer(answer, add_special_tokens=False)["input_ids"]
            if not tail:
                continue
            ids = torch.tensor([head + tail], device=model.device)
            with model.disable_adapter():
                logp_base = torch.log_softmax(model(ids).logits[0, len(head) - 1 : -1].float(), -1)
            logp_trained = torch.log_softmax(model(ids).logits[0, len(head) - 1 : -1].float(), -1)
            kl = (logp_base.exp() * (logp_base - logp_trained)).sum(-1)
            kl_sum += float(kl.sum())
            tokens += len(tail)
    judged = {
        label: judge_by_type(sandbox, list(zip(problems, texts, strict=True)), fmt)
        for label, texts in (("base", base), ("trained", trained))
    }
    n = len(problems)
    reward = [task_type(p.problem_type).reward for p in problems]

    def rates(verdicts):
        return {
            "passed": sum(r(v) for r, v in zip(reward, verdicts, strict=True)) / n,
            "test_share": sum(r(v, True) for r, v in zip(reward, verdicts, strict=True)) / n,
        }

    return {
        "problems": n,
        "kl_per_token": kl_sum / tokens if tokens else None,
        "kl_tokens": tokens,
        "answers_changed": sum(a != b for a, b in zip(base, trained, strict=True)) / n,
        "reward_base": rates(judged["base"]),
        "reward_trained": rates(judged["trained"]),
        "verdicts_changed": sum(  # problems that went from fail to pass or back
            r(a) != r(b) for r, a, b in zip(reward, judged["base"], judged["trained"], strict=True)
        ),
    }


def movement_warnings(
    diag: dict, *, learning_rate: float, steps: int, targets, recipe: str
) -> list[str]:
    """Plain-language warnings when the update is below what an evaluation can see."""
    from laimark.training.recipes import recipe_values

    small = recipe_values("small")
    cause = (
        f"likely causes: learning rate x steps = {learning_rate:g} x {steps} = "
        f"{learning_rate * steps:.1e} (the small recipe's lr: {small['learning_rate']:g})"
        + (
            f"; LoRA on {', '.join(targets)} only (all linear layers learn more)"
            if "all-linear" not in targets
            else ""
        )
        + (f"; recipe '{recipe}'" if recipe != "small" else "")
    )
    out = []
    weights = diag.get("weights") or {}
    held = diag.get("heldout") or {}
    if weights.get("max_abs_delta") == 0:
        return [
            "the adapter is unchanged: no step had a learning signal (every group's rewards "
            "were equal, or every completion was masked); check the rewards in train_log.jsonl"
        ]
    kl = held.get("kl_per_token")
    if kl is not None and kl < KL_VISIBLE:
        out.append(
            f"the policy barely moved: held-out KL(base || trained) is {kl:.1e} nats/token, "
            f"below {KL_VISIBLE:g}; an evaluation will not see this update ({cause})"
        )
    share = weights.get("visible_share_eval_dtype")
    dtype = weights.get("eval_dtype")
    if share is not None and share < VISIBLE_SHARE:
        # Evaluation does not merge below fp32 (models.loading), but the adapter's output is
        # added to activations of this dtype, where an update this small rounds away as well.
        out.append(
            f"{100 * (1 - share):.0f}% of the update's entries are below half the resolution of "
            f"{dtype}, the dtype evaluation uses here: added to {dtype} weights or activations "
            f"most of it rounds away; evaluate with --dtype fp32 ({cause})"
        )
    bf16 = weights.get("visible_share_bf16")
    if bf16 is not None and bf16 < VISIBLE_SHARE and dtype != "bf16":
        out.append(
            f"{100 * (1 - bf16):.0f}% of the update's entries are below bf16 resolution: "
            "do not merge this adapter into bf16 weights (vLLM, a GGUF export) or evaluate it "
            "in bf16"
        )
    if (
        kl is None
        and weights.get("relative_change") is not None
        and weights["relative_change"] < 2**-9
    ):
        out.append(
            f"the update is {weights['relative_change']:.1e} of the weights' size, below bf16's "
            f"resolution (2^-9); give --heldout to measure whether the policy moved ({cause})"
        )
    return out


def measure(
    model,
    tokenizer,
    heldout: Sequence,
    fmt: SolveFormat,
    sandbox,
    *,
    eval_dtype: str,
    max_new_tokens: int,
    thinking: bool,
    trained_with: dict,
) -> dict:
    """All the diagnostics of a PEFT model: weights, held-out behaviour (if `heldout`), warnings.

    `trained_with` says how the adapter was trained, for the warnings' causes: learning_rate,
    steps, targets (LoRA target modules) and recipe.
    """
    out: dict = {"weights": weight_change(model, eval_dtype), "heldout": None}
    if heldout:
        out["heldout"] = heldout_change(
            model,
            tokenizer,
            heldout,
            fmt,
            sandbox,
            max_new_tokens=max_new_tokens,
            thinking=thinking,
        )
        out["heldout"]["origins"] = [o for o, _ in heldout]
    out["warnings"] = movement_warnings(out, **trained_with)
    for w in out["warnings"]:
        log.warning("%s", w)
    return out


# ---------------------------------------------------------------- laimark-diagnose
@dataclass(frozen=True)
class DiagnoseConfig:
    """laimark-diagnose: the diagnostics of `laimark-train`, for an adapter already trained."""

    adapter: str = ""
    heldout: str | None = None
    heldout_limit: int = 16
    model: str | None = None  # default: the model the adapter's sidecar names
    dtype: str = "auto"
    device: str = "auto"
    max_new_tokens: int = 512
    thinking: str = "off"
    output: str | None = None  # default <adapter>/diagnostics.json
    solve: SolveFormat = nested(solve_format_of, SolveFormat)
    sandbox: SandboxConfig = nested(SandboxConfig)

    def __post_init__(self) -> None:
        check(bool(self.adapter), "--adapter DIR is required")
        check(
            (Path(self.adapter) / "adapter_config.json").is_file(),
            f"--adapter {self.adapter}: not a PEFT adapter folder (no adapter_config.json)",
        )
        check(self.heldout_limit >= 1, "--heldout_limit must be at least 1")


def trained_on(meta: dict) -> list:
    """The self-generated problems an adapter was trained on (its curriculum, and its reserve),
    from its sidecar; a file no longer here is skipped with a warning."""
    from laimark.core.records import CalibratedProblem, load_records

    sources = (meta.get("data") or {}).get("sources") or {}
    paths = [(sources.get("curriculum") or {}).get("path")]
    paths += [i.get("path") for i in meta.get("inputs") or [] if i.get("role") == "reserve"]
    out = []
    for path in filter(None, paths):
        if not Path(path).is_file():
            log.warning("%s (trained on) is not here: held-out problems not filtered by it", path)
            continue
        out += [(f"{path}:{line}", p) for line, p in load_records(path, CalibratedProblem)]
    return out


def diagnose_adapter(config: DiagnoseConfig) -> int:
    """Load base + adapter (unmerged), measure, write `<output>` and its sidecar, print."""
    from laimark.core.cli import EXIT_OK
    from laimark.core.records import write_json_atomic
    from laimark.core.runs import Run
    from laimark.models.loading import load_model, read_adapter_meta
    from laimark.training.data import load_problem_file

    meta = read_adapter_meta(config.adapter)
    train_config = meta.get("config") or meta.get("args") or {}  # "args": laimark 0.1
    heldout = []
    if config.heldout:
        heldout = load_problem_file(config.heldout, trained_on(meta), "held-out problems")
        heldout = heldout[: config.heldout_limit]
    output = Path(config.output or Path(config.adapter) / "diagnostics.json")
    run = Run("laimark-diagnose", output, config, overwrite=True)
    run.add_input(Path(config.adapter) / "adapter_model.safetensors", role="adapter")
    if config.heldout:
        run.add_input(config.heldout, role="heldout")
    model = config.model or train_config.get("model") or DEFAULT_MODEL
    loaded = load_model(model, config.adapter, dtype=config.dtype, device=config.device)
    run.check_model(loaded.identity)
    lora = json.loads((Path(config.adapter) / "adapter_config.json").read_text())
    targets = train_config.get("lora_target_modules") or lora.get("target_modules") or []
    trained_with = {
        "learning_rate": train_config.get("learning_rate") or float("nan"),
        "steps": (meta.get("counts") or meta.get("summary") or {}).get("steps") or 0,
        "targets": [targets] if isinstance(targets, str) else sorted(targets),
        "recipe": train_config.get("recipe", "unknown (trained before recipes)"),
    }
    with config.sandbox.open() as sandbox:
        run.record(sandbox=sandbox.describe(), solve_format=config.solve.to_dict())
        diag = measure(
            loaded.model,
            loaded.tokenizer,
            heldout,
            config.solve,
            sandbox,
            eval_dtype=loaded.identity["dtype"],
            max_new_tokens=config.max_new_tokens,
            thinking=config.thinking == "on",
            trained_with=trained_with,
        )
    write_json_atomic(output, diag)
    run.record(counts={"heldout_problems": len(heldout), "warnings": len(diag["warnings"])})
    run.finish()
    print(diagnostics_report(diag))
    return EXIT_OK


def diagnostics_report(diag: dict) -> str:
    """The diagnostics as a few lines for the terminal."""
    w = diag["weights"]
    lines = ["did the policy move?"]
    if w.get("lora_entries"):
        lines.append(
            f"  weights: mean |dW| {w['mean_abs_delta']:.2e} ({w['relative_change']:.1e} of |W|), "
            f"max {w['max_abs_delta']:.2e}; {100 * w['visible_share_eval_dtype']:.0f}% of entries "
            f"survive {w['eval_dtype']}, {100 * w['visible_share_bf16']:.0f}% survive bf16"
        )
    h = diag.get("heldout")
    if h:
        kl = h["kl_per_token"]
        lines.append(
            f"  held-out ({h['problems']} problems): KL(base || trained) "
            f"{'n/a' if kl is None else f'{kl:.2e}'} nats/token; "
            f"{100 * h['answers_changed']:.0f}% of greedy answers changed; passed "
            f"{h['reward_base']['passed']:.3f} -> {h['reward_trained']['passed']:.3f}, tests "
            f"{h['reward_base']['test_share']:.3f} -> {h['reward_trained']['test_share']:.3f}"
        )
    else:
        lines.append("  held-out: not measured (give --heldout FILE)")
    lines += [f"  WARNING: {x}" for x in diag["warnings"]]
    return "\n".join(lines)
