from artdirector.tokens import CLIP_MAX_TOKENS, clip_token_count, clip_tokenizer


def test_vocabulary_has_clips_size_and_special_tokens():
    tok = clip_tokenizer()
    assert len(tok) == 49408
    assert tok.convert_tokens_to_ids(["<|startoftext|>", "<|endoftext|>"]) == [49406, 49407]


def test_ids_match_openai_clip():
    # Reference ids from OpenAI CLIP's tokenizer for this well-known prompt.
    assert clip_tokenizer()("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_counts_tokens_not_words():
    assert clip_token_count("8k") == 4  # "8" and "k" plus start/end markers
    assert clip_token_count("greg rutkowski") == 5  # rutkowski is two BPE pieces
    assert clip_token_count("") == 2
    assert CLIP_MAX_TOKENS == 77
