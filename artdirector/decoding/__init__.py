"""Decoding algorithms written against ``LanguageModel.next_token_logprobs`` (any backend)."""
