"""Grammar-constrained decoding: the director's answer always parses, and users can impose their own form.

At each step the grammar engine gives the set of tokens that keep the text inside the grammar; every other
token's log-probability is set to −∞ before the usual guards and the greedy or sampled pick. The answer
therefore always belongs to the grammar's language (no parser fallback), and it ends only where the grammar
accepts.

Engine: llguidance (Lark grammars with regular-expression terminals, JSON schema; an Earley parser over a
lexer, token masks from a token trie). Measured side by side on SmolLM2's 49,152-token vocabulary
(``bench/bench_grammar_engines.py``): llguidance 0.25 ms per mask, XGrammar 0.03 ms; a model step here is
about 9 ms, so both stay far under the 5% overhead budget, and both report syntax errors with line and
column. llguidance is the one shipped because (1) users write Lark with regex terminals (the notation of the
outlines/guidance ecosystem), where XGrammar's EBNF needs character classes spelled out; (2) it builds the
token table straight from llama.cpp's vocabulary (``llguidance.llamacpp``) as well as from a transformers
tokenizer, so both backends share it; (3) it is one self-contained wheel, where XGrammar also needs
``apache-tvm-ffi``. transformers-cfg was not measured: it is a transformers logits processor, so it could
not serve the llama.cpp fast path at all.

Grammars are written in llguidance's Lark dialect (https://github.com/guidance-ai/llguidance, docs/syntax.md):
``start`` is the answer after the idea and its comma. ``DIRECTION_GRAMMAR`` is the default: 2–12 lower-case
comma-separated phrases of one to five words, no sentences, no stray numbers. Users give their own with
``--grammar``, e.g. LaDi's colour pattern (bounded repetition, so every answer can reach the colour within
the token limit)::

    start: (phrase ", "){1,6} color
    phrase: /[a-z][a-z \\-]{1,30}/
    color: "red" | "teal" | "gold"

The user's ``start`` is wrapped as ``" " start "\n"``: the space that follows the idea's comma belongs to the
first word's token in BPE vocabularies (so the grammar need not mention it), and the answer ends with the
newline the model writes at the end of a prompt, which the grammar allows only once ``start`` is complete.
"""

from __future__ import annotations

import re
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from artdirector.decoding.dispatch import Decoded, Decoder
from artdirector.errors import GrammarError  # noqa: F401 - re-exported where it used to live
from artdirector.lm.base import GenerationConfig, TokenLM, adjust_scores
from artdirector.text import contains

# Words are lower-case letters; a phrase may also be one of the numbers prompt writers really use (the
# parser's ``_NUMERIC_OK``: resolutions, focal lengths, decades, "3d"), alone, as the parser requires.
DIRECTION_GRAMMAR = r"""start: phrase (", " phrase){1,11}
phrase: WORD (" " WORD){0,4} | NUMBER
WORD: /[a-z][a-z'\-]*/
NUMBER: /(4|8|16) ?k|[0-9]{2,3} ?mm|1080p|(19|20)[0-9]0s|[0-9] ?d/
"""


def constraint_grammar(constraints, max_free: int = 8) -> Grammar:
    """The direction grammar with the user's required phrases compiled in: every answer holds one alternative
    of each clause, as a phrase of its own, in any order (one branch per order, so at most 4 clauses are
    reordered; more keep the order given), with up to ``max_free`` free phrases around them. Decoding under
    it meets every clause by construction; exclusions are enforced token by token (``grammar_generate``)."""
    from itertools import permutations

    clauses = constraints.include
    if not clauses:
        return Grammar(DIRECTION_GRAMMAR)
    orders = list(permutations(range(len(clauses)))) if len(clauses) <= 4 else [tuple(range(len(clauses)))]
    lines = ["start: " + " | ".join(f"order{k}" for k in range(len(orders)))]
    for k, order in enumerate(orders):
        lines.append(f"order{k}: free_head " + " sep ".join(f"req{i}" for i in order) + " free_tail")
    for i, clause in enumerate(clauses):
        alts = [a for alt in clause.alternatives for a in ((alt, f"by {alt}") if clause.category == "artist"
                                                          else (alt,))]
        lines.append(f"req{i}: " + " | ".join(_lark_string(a) for a in alts))
    per_gap = max(1, max_free // (len(clauses) + 1))
    lines += [f'free_head: (phrase ", "){{0,{per_gap}}}', f'sep: ", " (phrase ", "){{0,{per_gap}}}',
              f'free_tail: (", " phrase){{0,{per_gap}}}']
    rules = DIRECTION_GRAMMAR.split("\n", 1)[1]  # the phrase and word rules, without its start
    return Grammar("\n".join(lines) + "\n" + rules, source="the required phrases")


def _lark_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Grammar:
    text: str
    source: str = "built-in direction grammar"

    @classmethod
    def from_file(cls, path: str | Path) -> Grammar:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise GrammarError(f"cannot read grammar {path}: {e}") from None
        if not text.strip():
            raise GrammarError(f"grammar {path} is empty")
        return cls(text, source=str(path))

    def wrapped(self) -> str:
        """The user's grammar with its ``start`` renamed and wrapped (see the module docstring)."""
        if not re.search(r"^\s*start\s*:", self.text, re.M):
            raise GrammarError(f"{self.source}: the grammar has no 'start' rule (the answer after the idea)")
        return "start: \" \" _main \"\\n\"\n" + _rename_rule(self.text, "start", "_main")

    def matcher(self, lm: TokenLM):
        """A fresh llguidance matcher for ``lm``'s tokens; syntax errors become ``GrammarError``."""
        import llguidance

        tokenizer = lltokenizer(lm)
        compiled = llguidance.grammar_from("lark", self.wrapped())
        error = llguidance.LLMatcher.validate_grammar(compiled, tokenizer)
        if error:
            raise GrammarError(f"{self.source}: {_position(error)}")
        matcher = llguidance.LLMatcher(tokenizer, compiled, log_level=0)
        if matcher.is_error():
            raise GrammarError(f"{self.source}: {_position(matcher.get_error())}")
        return matcher


_LLTOKENIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def lltokenizer(lm: TokenLM):
    """llguidance's tokenizer for ``lm``, built once per model from its ``token_table()`` (the adapter between
    the models, which know nothing of llguidance, and the grammar engine)."""
    if lm in _LLTOKENIZERS:
        return _LLTOKENIZERS[lm]
    table = lm.token_table()
    import llguidance

    if table.kind == "hf":
        from llguidance.hf import from_tokenizer

        made = from_tokenizer(table.source, n_vocab=table.n_vocab)
    elif table.kind == "llamacpp":
        import warnings

        from llguidance.llamacpp import lltokenizer_from_vocab

        with warnings.catch_warnings():  # llguidance calls a llama.cpp function renamed upstream, per token
            warnings.simplefilter("ignore", DeprecationWarning)
            made = lltokenizer_from_vocab(table.source)
    elif table.kind == "bytes":
        tokens = list(table.source)

        class _Bytes:  # llguidance's TokenizerWrapper protocol over a plain token list
            eos_token_id = table.eos[0] if table.eos else len(tokens) - 1
            bos_token_id = None
            special_token_ids = list(table.eos)

            def __init__(self):
                self.tokens = tokens

            def __call__(self, s):
                return lm.tokenize(s.decode("utf-8") if isinstance(s, bytes) else s)

        made = llguidance.LLTokenizer(llguidance.TokenizerWrapper(_Bytes()), n_vocab=table.n_vocab)
    else:
        raise ValueError(f"unknown token table kind {table.kind!r}")
    _LLTOKENIZERS[lm] = made
    return made


# A Lark rule name outside string literals and /regex/ literals.
_LEXEME = re.compile(r'"(?:\\.|[^"\\])*"|/(?:\\.|[^/\\\n])+/[imslux]*|\b[A-Za-z_]\w*\b')


def _rename_rule(text: str, old: str, new: str) -> str:
    return _LEXEME.sub(lambda m: new if m.group(0) == old else m.group(0), text)


def _position(message: str) -> str:
    """llguidance writes ``LINE(COLUMN): msg`` about the wrapped grammar, one line above the user's; say it in
    words, in the user's line numbers."""
    m = re.match(r"\s*(\d+)\((\d+)\):\s*([^\n]*)", message)
    if not m:
        return message.strip().splitlines()[0]
    return f"line {int(m.group(1)) - 1}, column {m.group(2)}: {m.group(3).strip()}"


@lru_cache(maxsize=8)
def end_tokens(lm: TokenLM, n_vocab: int) -> np.ndarray:
    """Tokens that end an answer (end-of-text, or holding a newline) as a boolean mask over the vocabulary.
    Found once per model (detokenising the whole vocabulary takes ~0.1 s) and shared by every decode."""
    mask = np.zeros(n_vocab, dtype=bool)
    mask[[t for t in range(n_vocab) if t in lm.eos_token_ids or "\n" in lm.detokenize([t])]] = True
    mask.flags.writeable = False
    return mask


def allowed_tokens(matcher, n_vocab: int) -> np.ndarray:
    """The matcher's token bitmask as a boolean vector over the model's vocabulary."""
    bits = np.unpackbits(np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8), bitorder="little")
    out = np.zeros(n_vocab, dtype=bool)
    n = min(n_vocab, len(bits))
    out[:n] = bits[:n].astype(bool)
    return out


@dataclass
class GrammarResult:
    text: str
    tokens: list[int]
    accepted: bool  # the grammar accepts the answer (always, unless the token limit came first)
    logprob: float  # sum of the model's own (unmasked) log-probabilities of the chosen tokens
    mask_seconds: float = 0.0
    steps: int = 0


def _pick(scores: np.ndarray, mask: np.ndarray, answer: Sequence[int], config: GenerationConfig, rng,
          veto=None) -> int:
    """Greedy or nucleus pick among the grammar's tokens; a token ``veto`` refuses (it would complete an
    excluded phrase) is passed over for the next best."""
    guarded = adjust_scores(np.array(scores, dtype=np.float64, copy=True), answer, config)
    guarded[~mask] = -np.inf
    if not np.isfinite(guarded).any():  # the repetition guards banned every token the grammar allows
        guarded = np.where(mask, scores, -np.inf)
    for _ in range(64):
        if config.temperature <= 0:
            token = int(np.argmax(guarded))
        else:
            z = guarded / config.temperature
            p = np.exp(z - z.max())
            p /= p.sum()
            order = np.argsort(-p)
            keep = order[: int(np.searchsorted(np.cumsum(p[order]), config.top_p)) + 1]
            token = int(rng.choice(keep, p=p[keep] / p[keep].sum()))
        if veto is None or not veto(token) or not np.isfinite(guarded).sum() > 1:
            return token
        guarded[token] = -np.inf
    return token


def grammar_generate(lm: TokenLM, prompts: Sequence[str], grammar: Grammar, config: GenerationConfig,
                     *, prefixes: Sequence[str] | None = None, end_reserve: int = 6,
                     exclude: Sequence[str] = ()) -> list[GrammarResult]:
    """Decode every prompt under ``grammar``, all prompts advancing together (one batched call per step).

    In the last ``end_reserve`` steps an answer the grammar could end is ended, so that the token limit cuts
    no answer off mid-phrase; an answer that cannot end by the limit is reported unaccepted."""
    rng = np.random.default_rng(config.seed)
    prefixes = list(prefixes or [""] * len(prompts))
    matchers = [grammar.matcher(lm) for _ in prompts]
    seqs = [lm.tokenize(p + x) for p, x in zip(prompts, prefixes)]
    starts = [len(s) for s in seqs]
    results = [GrammarResult("", [], False, 0.0) for _ in prompts]
    eos = set(lm.eos_token_ids)
    live = list(range(len(prompts)))
    for step in range(config.max_new_tokens):
        if not live:
            break
        logprobs = lm.next_token_logprobs([seqs[i] for i in live])
        enders = end_tokens(lm, logprobs.shape[1])
        still = []
        for row, i in enumerate(live):
            t0 = time.perf_counter()
            mask = allowed_tokens(matchers[i], logprobs.shape[1])
            if config.max_new_tokens - step <= end_reserve and (mask & enders).any():
                mask &= enders  # close the answer while it is complete, rather than run out mid-phrase
            results[i].mask_seconds += time.perf_counter() - t0
            results[i].steps += 1
            if not mask.any():
                raise GrammarError(f"{grammar.source}: the grammar allows no token after "
                                   f"{lm.detokenize(seqs[i][starts[i]:])!r}")
            veto = None
            if exclude:  # the answer so far, decoded only when there is something to veto
                answer = lm.detokenize(seqs[i][starts[i]:]).lower()

                def veto(t, a=answer):
                    return any(contains(a + lm.detokenize([t]).lower(), b) for b in exclude)
            token = _pick(logprobs[row], mask, seqs[i][starts[i]:], config, rng, veto=veto)
            results[i].logprob += float(logprobs[row, token])
            t0 = time.perf_counter()
            matchers[i].consume_token(token)
            results[i].mask_seconds += time.perf_counter() - t0
            if token in eos or matchers[i].is_stopped() or (matchers[i].is_accepting()
                                                            and lm.detokenize([token]).endswith("\n")):
                results[i].accepted = matchers[i].is_accepting()
                continue
            seqs[i].append(token)
            still.append(i)
        live = still
    for i, r in enumerate(results):
        r.tokens = seqs[i][starts[i]:]
        r.text = lm.detokenize(r.tokens).strip()
        if i in live:
            r.accepted = matchers[i].is_accepting()
    if not any(r.accepted for r in results) and results:
        raise GrammarError(f"{grammar.source}: no answer of at most {config.max_new_tokens} tokens completes "
                           "the grammar (does every rule have a way to end?)")
    return results


class GrammarDecoder(Decoder):
    """Decoding under the user's grammar, or the built-in direction grammar with any required phrases
    compiled into it; excluded phrases are vetoed token by token."""

    needs = frozenset({"logprobs", "token_table"})
    takes_grammar = True

    def decode(self, k, prompts, prefixes, config):
        c = self.constraints
        grammar = self.grammar or (constraint_grammar(c) if c else Grammar(DIRECTION_GRAMMAR))
        found = grammar_generate(self.lm, prompts, grammar, replace(config, max_new_tokens=self.max_new_tokens + 32,
                                                                    stop=()),
                                 prefixes=prefixes, exclude=c.exclude if c else ())
        out = []
        for prefix, r in zip(prefixes, found):
            met = r.accepted and c.met((prefix + " " + r.text).lower()) if c else None
            out.append(Decoded(" " + r.text, "stop" if r.accepted else "length", met))
        return out
