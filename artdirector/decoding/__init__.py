"""Decoding algorithms written against ``TokenLM.next_token_logprobs`` (any backend)."""
