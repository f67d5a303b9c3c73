"""Build a tiny random causal LM with a real tokenizer and chat template, locally, in about a second.

Used by the test suite (see the `tiny_model_dir` fixture in conftest.py) wherever a real model
would be too slow or would need a download: sampling, adapters, GRPO training, evaluation.
The weights are random, so the text is gibberish, but every code path (tokenizer, chat template,
padding, generate, peft, save/load) is the real one.

    from tiny import build_tiny_model      # tests/ is on sys.path under pytest
    folder = build_tiny_model(tmp_path / "tiny")   # then AutoModelForCausalLM.from_pretrained(folder)
"""

from __future__ import annotations

import json
from pathlib import Path

# ChatML, the format Qwen models use, so chat-template code paths match the default model's.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _training_text() -> list[str]:
    """Python source from the standard library: present everywhere, stable for a Python version."""
    import json as json_module
    import textwrap as textwrap_module  # noqa: I001

    return [Path(m.__file__).read_text() for m in (json_module, textwrap_module)] + [
        Path(json_module.__file__).with_name("decoder.py").read_text()
    ]


def build_tokenizer(vocab_size: int = 384):
    """A byte-level BPE tokenizer with ChatML special tokens, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_training_text(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHATML_TEMPLATE,
    )


def build_tiny_model(
    dest: str | Path,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    vocab_size: int = 384,
    head_dim: int | None = None,
    seed: int = 0,
) -> Path:
    """Save a tiny random Qwen3-architecture model and its tokenizer to `dest`.

    Args:
        dest: folder to create (loadable with `from_pretrained(dest)` afterwards).
        hidden_size, num_layers, vocab_size: model sizes; change them to get a model an
            adapter of the default one does not fit.
        head_dim: attention head size (default hidden_size / 4 heads).
        seed: weight initialisation seed; the same arguments give the same weights.

    Returns:
        The folder, as a Path.
    """
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, Qwen3Config

    dest = Path(dest)
    tokenizer = build_tokenizer(vocab_size)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=head_dim or hidden_size // 4,
        max_position_embeddings=512,
        # Wide initialisation makes the logits peaky, so greedy decoding has no near-ties and
        # comparisons between batch shapes test the code, not the last bit of a float.
        initializer_range=0.3,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    (dest / "TINY_MODEL.json").write_text(
        json.dumps({"built_by": "tests/tiny.py", "seed": seed, "hidden_size": hidden_size}) + "\n"
    )
    return dest


def build_tiny_gguf(dest: str | Path, *, seed: int = 0) -> Path:
    """Write the tiny model as an F32 GGUF file (qwen3 architecture, gpt2-style BPE vocabulary).

    Lets the fast tests run the real GGUF-to-safetensors conversion. Needs the `gguf` package.
    """
    import tempfile

    import gguf
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dest = Path(dest)
    with tempfile.TemporaryDirectory() as tmp:
        # transformers reads no head size from a qwen3 GGUF and assumes Qwen3's 128.
        folder = build_tiny_model(Path(tmp) / "m", head_dim=128, seed=seed)
        model = AutoModelForCausalLM.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    cfg = model.config
    writer = gguf.GGUFWriter(str(dest), "qwen3")
    writer.add_name("laimark-tiny")
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_key_length(cfg.head_dim)
    writer.add_value_length(cfg.head_dim)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    _add_gguf_tokenizer(writer, tokenizer)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN3, cfg.num_hidden_layers)
    for name, tensor in model.state_dict().items():
        writer.add_tensor(names.get_name(name, try_suffixes=(".weight", ".bias")), tensor.numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dest


def _add_gguf_tokenizer(writer, tokenizer) -> None:
    import gguf

    spec = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    tokens = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    special = set(SPECIAL_TOKENS)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")  # the plain byte-level split the tiny BPE was trained with
    writer.add_token_list([t for t, _ in tokens])
    writer.add_token_types(
        [gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t, _ in tokens]
    )
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in spec["merges"]])
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_chat_template(CHATML_TEMPLATE)


if __name__ == "__main__":  # handy for poking at it by hand
    import sys
    import tempfile

    out = build_tiny_model(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
    print(out)


def make_random_adapter(base_dir, dest, seed: int):
    """A LoRA adapter on q/v with random (not zero) B weights, so that applying it changes the
    model's output: what the adapter tests need to tell base, adapter and chain apart."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    get_peft_model(base, config).save_pretrained(dest)
    return dest
