from artdirector.tokens import CLIP_MAX_TOKENS, clip_token_count, clip_tokenizer, clip_vocabulary


def test_vocabulary_has_clips_size_and_special_tokens():
    tok = clip_tokenizer()
    assert tok.get_vocab_size() == len(clip_vocabulary()[0]) == 49408
    assert [tok.token_to_id(t) for t in ("<|startoftext|>", "<|endoftext|>")] == [49406, 49407]


def test_ids_match_openai_clip():
    # Reference ids from OpenAI CLIP's tokenizer for this well-known prompt.
    assert clip_tokenizer().encode("a photo of a cat").ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_counts_tokens_not_words():
    assert clip_token_count("8k") == 4  # "8" and "k" plus start/end markers
    assert clip_token_count("greg rutkowski") == 5  # rutkowski is two BPE pieces
    assert clip_token_count("") == 2
    assert CLIP_MAX_TOKENS == 77


def test_counts_equal_transformers_clip_tokenizer_on_real_prompts():
    """The tokenizer is assembled by hand from the parts transformers' CLIPTokenizer uses; on real prompts
    (and awkward text) it must give the very same ids."""
    from pathlib import Path

    from artdirector.evaluation.harness import read_prompts
    from artdirector.imaging.testing import _clip_tokenizer

    reference = _clip_tokenizer()
    texts = read_prompts(Path(__file__).parents[1] / "data" / "splits" / "validation.tsv")[:1000]
    texts += ["", "Émile's 8K,  ARTSTATION!!\tby Rutkowski", "don't", "<|endoftext|> twice", "word " * 90]
    for text in texts:
        assert clip_tokenizer().encode(text).ids == reference(text, truncation=False)["input_ids"], text
