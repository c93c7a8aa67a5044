"""A flan-t5-small-shaped checkpoint with random weights, built in a temp dir for benchmarks.

The tokenizer is a word-level vocabulary of ``w0 .. wN`` so a text of k words is exactly
k tokens (+ EOS): the workload can ask for precise source lengths.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.checkpoints import save_t5

FLAN_T5_SMALL = dict(
    vocab_size=32128,
    d_model=512,
    d_kv=64,
    d_ff=1024,
    num_layers=8,
    num_decoder_layers=8,
    num_heads=6,
    relative_attention_num_buckets=32,
    relative_attention_max_distance=128,
    feed_forward_proj="gated-gelu",
    tie_word_embeddings=False,
    pad_token_id=0,
    eos_token_id=1,
    decoder_start_token_id=0,
)
SPECIALS = ["<pad>", "</s>", "<unk>"]


def words(ids: list[int]) -> str:
    """Text that tokenizes to exactly these (non-special) ids."""
    return " ".join(f"w{i - len(SPECIALS)}" for i in ids)


def build(path: Path, seed: int = 0) -> Path:
    """Write config, safetensors (untied head, like flan-T5) and tokenizer into ``path``."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    save_t5(path, FLAN_T5_SMALL, wide_init=False, head_gain=1.0)

    vocab_size = FLAN_T5_SMALL["vocab_size"]
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    vocab |= {f"w{i}": i + len(SPECIALS) for i in range(vocab_size - len(SPECIALS))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    tok.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "model_max_length": 512,
                "pad_token": "<pad>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
            }
        )
    )
    return path


def convert_ct2(model_dir: Path, out: Path, quantization: str | None) -> Path:
    """Convert for CTranslate2, without the output scaling T5 v1.1 does not have.

    transformers 5 always reports ``tie_word_embeddings=True`` for T5 and says whether
    to scale the decoder output by ``d_model**-0.5`` in ``scale_decoder_outputs``
    (False for v1.1 and flan-T5, whose head is untied). CTranslate2's converter (4.x)
    still reads ``tie_word_embeddings``, so it would scale flan-T5's logits by 1/22.6:
    the same argmax most of the time, nearly uniform log-probs, and a meaningless drift
    comparison. The spec is corrected here; the work per token is the same either way.
    """
    from ctranslate2.converters import transformers as ct2_transformers
    from ctranslate2.specs import model_spec

    loader = ct2_transformers._MODEL_LOADERS["T5Config"]
    original = type(loader).get_model_spec

    def get_model_spec(self: object, model: object) -> object:
        spec = original(self, model)
        if getattr(model.config, "scale_decoder_outputs", True) is False:  # type: ignore[attr-defined]
            spec.decoder.scale_outputs = model_spec.OPTIONAL
        return spec

    loader.get_model_spec = get_model_spec.__get__(loader)  # type: ignore[method-assign]
    try:
        converter = ct2_transformers.TransformersConverter(str(model_dir))
        converter.convert(str(out), quantization=quantization)
    finally:
        del loader.get_model_spec
    return out
