"""all-MiniLM-L6-v2 through ONNX Runtime and the ``tokenizers`` library: no torch, no sentence-transformers.

The transformer is exported once (``ensure_exported``, run by ``models prepare`` at install: torch is there
for the export only) into ``assets/embedder/all-MiniLM-L6-v2``; what sentence-transformers adds on top —
truncation at the model's ``max_seq_length``, mean pooling over the attention mask, L2 normalisation — is
a few lines of numpy here, read from the same model folder, so the vectors match (cosine >= 0.9999 on real
prompts, ``tests/test_embed.py``). Texts are batched by length, as sentence-transformers does, so short
ideas are not padded to a long prompt's length.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from artdirector.config import assets_dir
from artdirector.embedding.base import Embedder
from artdirector.embedding.st_backend import EMBEDDED_NAME, embedded_path

MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE = "model.onnx", "tokenizer.json", "embedder.json"
BATCH = 16  # measured here: 16 texts a run embed real prompts 1.4-1.9x faster than 64 or 128 (less padding)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_dir() -> Path:
    return assets_dir() / "embedder" / EMBEDDED_NAME


def exported_dir() -> Path | None:
    """The embedded model's export, if ``models prepare`` has written it."""
    out = export_dir()
    return out if (out / CONFIG_FILE).is_file() else None


class OnnxEmbedder(Embedder):
    def __init__(self, session, tokenizer, name: str, dimension: int):
        self.session, self.tokenizer, self.name, self.dimension = session, tokenizer, name, dimension
        self._inputs = {i.name for i in session.get_inputs()}  # an export may leave token_type_ids out

    @classmethod
    def from_folder(cls, folder: str | Path) -> OnnxEmbedder:
        import onnxruntime
        from tokenizers import Tokenizer

        folder = Path(folder)
        config = json.loads((folder / CONFIG_FILE).read_text())
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        tokenizer.enable_truncation(config["max_seq_length"])
        tokenizer.enable_padding(pad_id=config["pad_id"], pad_token=config["pad_token"])
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # its warnings about unused initialisers are noise to a user
        # Idle threads sleep instead of spinning: the decoder runs next on the same cores (see artdirector.cpu)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(str(folder / MODEL_FILE), options,
                                               providers=["CPUExecutionProvider"])
        return cls(session, tokenizer, config["name"], config["dimension"])

    @classmethod
    def from_embedded(cls, *, device: str = "cpu") -> OnnxEmbedder:
        from artdirector.errors import ModelNotFound

        if device != "cpu":
            raise ModelNotFound("the ONNX embedder runs on the CPU; use the sentence-transformers one on a GPU")
        folder = exported_dir()
        if folder is None:
            raise ModelNotFound(f"{export_dir()} is missing: run 'artdirector models prepare' (the install does)")
        return cls.from_folder(folder)

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        order = np.argsort([-len(t) for t in texts], kind="stable")
        starts = range(0, len(texts), BATCH)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, unit="batch")
        for begin in starts:
            rows = order[begin: begin + BATCH]
            encoded = self.tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


def export(source: str | Path, out: Path, name: str) -> Path:
    """Export a sentence-transformers folder whose pooling is a plain mean (MiniLM's) to ``out``."""
    import shutil

    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    source = Path(source)
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens") or any(
            v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"):
        raise ValueError(f"{source}: only mean pooling is exported, this model pools {pooling}")
    max_len = json.loads((source / "sentence_bert_config.json").read_text())["max_seq_length"]
    model = AutoModel.from_pretrained(source).eval()

    class Hidden(torch.nn.Module):  # the last hidden state alone: pooling happens in numpy
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    tmp = out.with_name(out.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    example = tuple(torch.ones((2, 8), dtype=torch.long) for _ in INPUTS)
    axes = {k: {0: "batch", 1: "tokens"} for k in (*INPUTS, "hidden")}
    import warnings

    with warnings.catch_warnings():  # the TorchScript exporter's deprecation and tracer warnings
        warnings.simplefilter("ignore")
        torch.onnx.export(Hidden(model), example, str(tmp / MODEL_FILE), input_names=list(INPUTS),
                          output_names=["hidden"], dynamic_axes=axes, opset_version=17, dynamo=False)
    shutil.copy(source / TOKENIZER_FILE, tmp / TOKENIZER_FILE)
    pad = json.loads((source / "tokenizer_config.json").read_text()).get("pad_token", "[PAD]")
    from tokenizers import Tokenizer

    config = {"name": name, "dimension": model.config.hidden_size, "max_seq_length": max_len,
              "pad_token": pad, "pad_id": Tokenizer.from_file(str(source / TOKENIZER_FILE)).token_to_id(pad)}
    (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)  # atomic: a killed export leaves only the .partial folder behind
    return out


def ensure_exported(progress=None) -> Path:
    """Export the embedded MiniLM once; return its folder."""
    found = exported_dir()
    if found is not None:
        return found
    (progress or (lambda _msg: None))(f"exporting {EMBEDDED_NAME} to ONNX (once) in {export_dir()}")
    return export(embedded_path(), export_dir(), EMBEDDED_NAME)
