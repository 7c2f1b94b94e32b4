"""Counting prompt tokens the way the diffusion model's text encoder will.

Stable Diffusion 1.x/2.x, SDXL (both encoders) and AnimateDiff read prompts through CLIP's byte-level BPE
and see at most 77 tokens, start and end markers included. Counting words instead is wrong by a wide margin
("8k" is two tokens, "rutkowski" three), so we count with the real tokenizer.

The original BPE table ``bpe_simple_vocab_16e6.txt.gz`` ships inside the open-clip-torch wheel (MIT; copied
to ``data/clip`` with its licence). CLIP's vocabulary follows from it by the rule in OpenAI's
``simple_tokenizer.py``: the 256 byte symbols, the same with the end-of-word marker ``</w>``, one entry per
merge (the first 48,894 merges), then ``<|startoftext|>`` and ``<|endoftext|>`` — 49,408 in all. The
tokenizer is the one transformers' ``CLIPTokenizer`` runs on, a ``tokenizers`` BPE, assembled here from the
same parts (normaliser, pre-tokeniser, start/end markers) without importing transformers, which costs a
cold ``direct`` about a second; ``tests/test_tokens.py`` checks the counts equal ``CLIPTokenizer``'s.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources

CLIP_MAX_TOKENS = 77  # including <|startoftext|> and <|endoftext|>
START, END = "<|startoftext|>", "<|endoftext|>"
_N_MERGES = 49152 - 256 - 2


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP's reversible map from the 256 byte values to printable characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = [], 0
    for b in range(256):
        if b in printable:
            codes.append(b)
        else:
            codes.append(256 + extra)
            extra += 1
    order = printable + [b for b in range(256) if b not in printable]
    return [chr(codes[b]) for b in order]


@lru_cache(maxsize=1)
def clip_vocabulary() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's vocabulary (token -> id) and its BPE merges, from the shipped table."""
    raw = resources.files("artdirector.data").joinpath("clip/bpe_simple_vocab_16e6.txt.gz").read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").split("\n")[1 : _N_MERGES + 1]
    merges = [tuple(line.split()) for line in lines]
    symbols = _bytes_to_unicode()
    vocab_list = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    vocab_list += [START, END]
    return {tok: i for i, tok in enumerate(vocab_list)}, merges


@lru_cache(maxsize=1)
def clip_tokenizer():
    """CLIP's tokenizer as a ``tokenizers.Tokenizer``; ``encode(text).ids`` includes the start and end."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab, merges = clip_vocabulary()
    tokenizer = Tokenizer(models.BPE(vocab, merges, unk_token=END, end_of_word_suffix="</w>",
                                     continuing_subword_prefix="", fuse_unk=False))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                                 normalizers.Lowercase()])
    words = Regex(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+")
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(words, behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tokenizer.post_processor = processors.RobertaProcessing((END, vocab[END]), (START, vocab[START]),
                                                            trim_offsets=False, add_prefix_space=False)
    tokenizer.add_special_tokens([START, END])
    return tokenizer


def clip_token_count(text: str) -> int:
    """Tokens CLIP's text encoder sees for ``text``, start and end markers included."""
    return len(clip_tokenizer().encode(text).ids)
