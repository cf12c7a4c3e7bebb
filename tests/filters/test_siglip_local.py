"""A SigLIP-style open_clip model (bidirectional text tower, last-token pooling, logit bias, HF tokenizer)
loaded from local files only: config JSON, safetensors weights and a tokenizer directory made here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from mmcurate.filters.clip_model import ClipEmbedder, load_clip
from mmcurate.filters.clip_score import ClipScoreFilter
from mmcurate.pipeline.generate.shapes import make_scene
from mmcurate.pipeline.runner import apply_to_rows, run_stage

CAPTIONS = [make_scene(3_000_000_000 + i).caption for i in range(64)]


@pytest.fixture(scope="module")
def siglip_files(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    root = tmp_path_factory.mktemp("siglip")
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    bpe.train_from_iterator(CAPTIONS, trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<unk>", "</s>"]))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token="<pad>", unk_token="<unk>", eos_token="</s>")
    tok.save_pretrained(root / "tokenizer")
    config = {
        "embed_dim": 32, "init_logit_bias": -10, "custom_text": True,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
        "text_cfg": {"context_length": 16, "vocab_size": bpe.get_vocab_size(), "hf_tokenizer_name": "local-only",
                     "tokenizer_kwargs": {"clean": "canonicalize"}, "width": 32, "heads": 2, "layers": 2,
                     "no_causal_mask": True, "proj_bias": True, "pool_type": "last"},
    }
    (root / "tiny_siglip_test.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    model, _ = load_clip("tiny_siglip_test", None, root / "tiny_siglip_test.json", root / "tokenizer")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(root / "w.safetensors"))
    return root


def _stage(root, **kw) -> ClipScoreFilter:
    return ClipScoreFilter(arch="tiny_siglip_test", checkpoint=str(root / "w.safetensors"),
                           model_config=str(root / "tiny_siglip_test.json"), tokenizer_path=str(root / "tokenizer"),
                           device="cpu", **kw)


def test_siglip_style_model_scores_from_local_files(siglip_files, make_rows, make_table):
    stage = _stage(siglip_files)
    stage.ensure_setup()
    emb: ClipEmbedder = stage._embedder
    assert not emb.trim_padding  # a bidirectional text tower sees its padding: tokens keep the context length
    assert emb.tokenize(["a red circle"]).shape == (1, 16)
    scenes = [make_scene(3_000_000_000 + i) for i in range(6)]
    rows = make_rows([([s.image], s.caption) for s in scenes])
    batch = np.array(run_stage(stage, make_table(rows)).column("clip_score_v1_mean").to_pylist())
    single = np.array([apply_to_rows(stage, [r])[0]["clip_score_v1_mean"] for r in rows])
    assert np.all(np.abs(batch) <= 1.0) and np.ptp(batch) > 0
    np.testing.assert_allclose(single, batch, atol=1e-5)


def test_weights_really_come_from_the_checkpoint(siglip_files):
    from safetensors.torch import load_file

    torch.manual_seed(123)  # a different init than the one saved: only loading can make them equal
    model, _ = load_clip("tiny_siglip_test", siglip_files / "w.safetensors", siglip_files / "tiny_siglip_test.json",
                         siglip_files / "tokenizer")
    saved = load_file(str(siglip_files / "w.safetensors"))
    assert saved.keys() == model.state_dict().keys()
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    assert float(model.logit_bias.detach()) == -10.0  # SigLIP's sigmoid-loss bias survived the round trip


def test_siglip_style_model_requires_a_local_tokenizer(siglip_files):
    with pytest.raises(ValueError, match="tokenizer_path"):
        load_clip("tiny_siglip_test", None, siglip_files / "tiny_siglip_test.json", None)
