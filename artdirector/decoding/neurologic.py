"""NeuroLogic decoding: beam search that satisfies lexical constraints in conjunctive normal form.

Lu et al., "NeuroLogic Decoding: (Un)supervised Neural Text Generation with Predicate Logic Constraints",
NAACL 2021 — the decoder NeuroPrompts uses to make a small LM honour the user's style, artist and format
choices. Transformers dropped its constrained beam search in v5, and NeuroLogic was never in it, so it is
written here, against ``TokenLM.next_token_logprobs`` (batched over the beam, prefix-cached by the
backend). One step, for a beam of hypotheses:

1. **Candidates.** For each hypothesis, its ``top_k`` next tokens, plus every token that *advances* an unmet
   clause: the first token of any alternative phrase, or the next token of a phrase the hypothesis has begun
   (tracked on token ids of the phrase's tokenisations with and without a leading space). The second set is
   what lets a constraint the model would never rank highly enter the beam at all.
2. **Prune.** Drop candidates whose text now contains an excluded phrase (irreversible). Keep the
   ``prune_factor × beam`` best by score (sum of log-probabilities, after the repetition guards), each
   hypothesis's own ``keep_own`` best continuations (else a hypothesis that paid for a constraint with a
   low score would lose all its children to the others' on the very next step) and its best move towards a
   constraint.
3. **Group and select.** Group the survivors by the set of clauses they satisfy; sort groups by how many they
   satisfy; fill the beam round-robin, the best remaining candidate of each group in turn. A hypothesis that
   has met more clauses keeps its place against higher-scoring ones that met fewer, and fluent candidates of
   every group survive (the paper's trade-off between constraint progress and likelihood).
4. **Budget forcing.** When a hypothesis has only as many tokens left as its unmet phrases need (their
   shortest tokenisations, plus a separator each), its only candidates are moves towards them — a comma
   first where no phrase can start. Without this a small model may spend the whole limit on fluent text and
   fail the constraint; with it, every constraint is written whenever it fits the limit at all.
5. **Finish.** A hypothesis that emits end-of-text or a stop string is complete only if every clause is met
   and it is at least ``min_new_tokens`` long; otherwise it is dropped (the model must satisfy the
   constraints before it may stop, and beam search's bias to short answers must not end it at once).
   The search ends when ``beam`` hypotheses are complete or at ``max_new_tokens``. The best complete one
   by length-normalised score wins (the other distinct complete ones are kept as alternatives); with none,
   the result says so (``satisfied=False``) and carries the partial hypothesis that met the most clauses:
   the caller decides, and says, what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from artdirector.decoding.constraints import Constraints
from artdirector.decoding.dispatch import Decoded, Decoder
from artdirector.lm.base import GenerationConfig, TokenLM, adjust_scores, first_stop


@dataclass
class Hypothesis:
    tokens: list[int]  # generated tokens (after the prompt and the answer's prefix)
    text: str  # the answer's prefix + the decoded generated tokens
    score: float = 0.0
    met: frozenset[int] = frozenset()


@dataclass
class ConstrainedResult:
    text: str  # generated text only (without the prefix)
    satisfied: bool
    unmet: list[tuple[str, ...]] = field(default_factory=list)
    score: float = 0.0
    steps: int = 0
    # The other complete answers of the beam, best first, distinct: candidates 2..n of ``direct --n`` (one
    # beam search gives n different answers instead of n copies of the same deterministic search).
    alternatives: list[str] = field(default_factory=list)


def phrase_token_ids(lm: TokenLM, constraints: Constraints) -> dict[int, list[tuple[int, ...]]]:
    """Each include clause's alternatives as token ids, in the two forms they take in running text (after a
    space and not)."""
    return {i: [ids for a in c.alternatives for ids in {tuple(lm.tokenize(" " + a)), tuple(lm.tokenize(a))} if ids]
            for i, c in enumerate(constraints.include)}


def partway(tokens: Sequence[int], ids: Sequence[int]) -> int:
    """How many leading tokens of phrase ``ids`` (short of all of them) ``tokens`` ends with; 0 if none."""
    return next((k for k in range(min(len(ids) - 1, len(tokens)), 0, -1)
                 if list(tokens[len(tokens) - k:]) == list(ids[:k])), 0)


def _advancing(tokens: list[int], text: str, phrases: Sequence[Sequence[int]]) -> set[int]:
    """Tokens that continue one of ``phrases`` that ``tokens`` ends partway through, or — at a phrase
    boundary (the text ends in a comma, or in "by" before a name) — start one, so constraints land as whole
    modifiers rather than inside another phrase."""
    out = set()
    tail = text.rstrip()
    at_boundary = tail.endswith(",") or tail.endswith(" by")
    for ids in phrases:
        if at_boundary:
            out.add(ids[0])
        k = partway(tokens, ids)
        if k:
            out.add(ids[k])
    return out


def neurologic_generate(lm: TokenLM, prompt: str, constraints: Constraints, *, prefix: str = "",
                        config: GenerationConfig | None = None, beam: int = 6, top_k: int = 8,
                        prune_factor: int = 4, keep_own: int = 2, length_alpha: float = 0.7,
                        min_new_tokens: int = 8) -> ConstrainedResult:
    config = config or GenerationConfig()
    base = lm.tokenize(prompt + prefix)
    head = lm.tokenize(prefix) if prefix else []
    phrase_ids = phrase_token_ids(lm, constraints)
    shortest = {i: min(len(ids) for ids in alts) for i, alts in phrase_ids.items()}
    comma = lm.tokenize(",")[0]
    pieces: dict[int, str] = {}

    def piece(token: int) -> str:
        if token not in pieces:
            pieces[token] = lm.detokenize([token])
        return pieces[token]

    start_text = prefix.lower()
    alive = [Hypothesis([], prefix, 0.0, constraints.satisfied(start_text))]
    finished: list[Hypothesis] = []
    all_clauses = frozenset(range(len(constraints.include)))
    steps = 0
    while steps < config.max_new_tokens:
        steps += 1
        logprobs = lm.next_token_logprobs([base + h.tokens for h in alive])
        candidates: list[tuple[float, int, int]] = []  # (score, hypothesis index, token)
        advancing: dict[tuple[int, int], tuple[float, int, int]] = {}  # best move per (row, clause)
        own: list[tuple[float, int, int]] = []  # each hypothesis's best continuations, whatever the others score
        left = config.max_new_tokens - steps + 1
        for row, hyp in enumerate(alive):
            scores = adjust_scores(np.array(logprobs[row], dtype=np.float64), head + hyp.tokens, config)
            unmet = all_clauses - hyp.met
            if unmet and left <= sum(shortest[i] + 2 for i in unmet):
                # Budget forcing: only just enough tokens left to write the unmet phrases, so only moves
                # towards them (a comma first, where no phrase can start) may be taken.
                forced = {t for i in unmet for t in _advancing(hyp.tokens, hyp.text, phrase_ids[i])} or {comma}
                own += [(hyp.score + float(scores[t] if np.isfinite(scores[t]) else logprobs[row][t]), row, t)
                        for t in forced]
                continue
            top = [int(t) for t in np.argpartition(-scores, top_k)[:top_k]]
            top.sort(key=lambda t: -scores[t])
            mine = [(hyp.score + float(scores[t]), row, t) for t in top if np.isfinite(scores[t])]
            candidates += mine
            own += mine[:keep_own]
            for i in all_clauses - hyp.met:
                for t in _advancing(hyp.tokens, hyp.text, phrase_ids[i]):
                    move = (hyp.score + float(scores[t]), row, t)
                    if np.isfinite(scores[t]) and move > advancing.get((row, i), (-np.inf,)):
                        advancing[row, i] = move
        candidates.sort(reverse=True)
        # Pruning keeps the best by likelihood, and every hypothesis's best move towards each unmet clause:
        # those would almost never rank in the top for a small model, and without them no constraint starts.
        moves = sorted(advancing.values(), reverse=True)
        groups: dict[tuple[frozenset[int], bool], list[Hypothesis]] = {}
        for score, row, token in dict.fromkeys(candidates[: prune_factor * beam] + own + moves):
            parent = alive[row]
            if token in lm.eos_token_ids:
                if parent.met == all_clauses and steps > min_new_tokens:
                    finished.append(Hypothesis(parent.tokens, parent.text, score, parent.met))
                continue
            text = parent.text + piece(token)
            cut = first_stop(text, config.stop)
            low = (text[:cut] if cut is not None else text).lower()
            if constraints.violated(low):
                continue
            # Recomputed, not inherited: "high poly" met at the end of the text is undone by "hedral" next.
            met = constraints.satisfied(low)
            child = Hypothesis(parent.tokens + [token], text if cut is None else text[:cut], score, met)
            if cut is not None:
                if met == all_clauses and steps > min_new_tokens:
                    finished.append(child)
                continue
            # Partway through a constraint phrase: its own group, so it keeps a place until the phrase is done.
            partway = met == parent.met and any(
                _advancing(child.tokens, "", phrase_ids[i]) for i in all_clauses - met)
            groups.setdefault((met, partway), []).append(child)
        for members in groups.values():
            members.sort(key=lambda h: -h.score)
        if len(finished) >= beam:
            break
        ordered = sorted(groups.items(), key=lambda kv: (-len(kv[0][0]), not kv[0][1]))
        alive = []
        for rank in range(beam):
            for _, members in ordered:
                if rank < len(members) and len(alive) < beam:
                    alive.append(members[rank])
        if not alive:
            break

    def normalised(h: Hypothesis) -> float:
        return h.score / max(1, len(h.tokens)) ** length_alpha

    if finished:
        ranked = sorted(finished, key=normalised, reverse=True)
        texts = list(dict.fromkeys(h.text[len(prefix):] for h in ranked))
        return ConstrainedResult(texts[0], True, [], normalised(ranked[0]), steps, alternatives=texts[1:])
    pool = alive or [Hypothesis([], prefix)]
    best = max(pool, key=lambda h: (len(h.met), normalised(h)))
    unmet = [c.alternatives for i, c in enumerate(constraints.include) if i not in best.met]
    return ConstrainedResult(best.text[len(prefix):], not unmet and not constraints.violated(best.text.lower()),
                             unmet, normalised(best), steps)


class NeuroLogicDecoder(Decoder):
    """NeuroLogic beam search with room for the required phrases and a ban on repeated trigrams (beam search
    loops more than greedy decoding does). One search per idea; candidate k is its k-th best distinct
    complete answer while there are any (a search run again would return the same answer), then a search on
    the k-th prompt."""

    needs = frozenset({"top_logprobs"})  # it ranks each hypothesis's top few; constraint tokens are forced in
    needs_constraints = True

    def __init__(self, lm, **kw):
        super().__init__(lm, **kw)
        self._found: dict[int, tuple[ConstrainedResult, list[str]]] = {}

    def decode(self, k, prompts, prefixes, config):
        from artdirector.parse import parse_modifiers

        out = []
        for i, (prompt, prefix) in enumerate(zip(prompts, prefixes)):
            if i not in self._found or k >= len(self._found[i][1]):
                found = neurologic_generate(self.lm, prompt, self.constraints or Constraints(), prefix=prefix,
                                            config=replace(config, max_new_tokens=self.max_new_tokens + 16,
                                                           no_repeat_ngram_size=3))
                # Distinct as directions, not as strings: answers that parse to the same phrases are one.
                seen, answers = set(), []
                for text in [found.text, *found.alternatives]:
                    phrases = tuple(parse_modifiers(text).phrases)
                    if phrases not in seen:
                        seen.add(phrases)
                        answers.append(text)
                self._found[i] = (found, answers)
            found, answers = self._found[i]
            text = answers[k] if k < len(answers) else found.text
            out.append(Decoded(text, "stop" if found.satisfied else "length", found.satisfied))
        return out


class BeamDecoder(NeuroLogicDecoder):
    """Plain beam search: NeuroLogic with no clauses."""

    needs_constraints = False
