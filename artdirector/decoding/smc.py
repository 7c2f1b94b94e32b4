"""Sequential Monte Carlo steering: many sampled answers, reweighted towards the user's constraints.

LaDi (§3.8) proposes SMC for what beam search does badly: soft preferences, and constraints without beam
search's collapse onto one repetitive high-likelihood answer. The method is Lew et al., "Sequential Monte
Carlo Steering of Large Language Models using Probabilistic Programs" (2023); genlm-control and llamppl
implement it over their own model wrappers (vLLM / llama.cpp builds of their own), not over our backend
interface, so this is a compact implementation against ``TokenLM.next_token_logprobs``.

Target: the LM's distribution over answers at temperature ``config.temperature`` (0.7 when 0 is given: a
135M model sampled at temperature 1 writes noise), restricted to the grammar (hard: masked out), times a
potential ``phi(text) = exp(reward * progress)`` and zero for text containing an excluded phrase (hard).
``progress`` counts the clauses met plus, for each unmet one, the share of an alternative's tokens the text
ends with: crediting a phrase as it is written keeps a particle that began "katsushika" alive through the
resampling that would otherwise cull it before "hokusai" pays. Proposal:
the LM's next-token distribution ``p`` restricted to the grammar's allowed tokens, mixed with a uniform draw
over the tokens that advance an unmet clause (``A``, as in ``neurologic``): ``q = (1 - eps) p / Z + eps / |A|``.
Without the mixture a small model almost never samples a rare required phrase ("ukiyo-e"), and no potential
can reweight a particle that was never proposed. Each step, for every live particle:

1. while a required clause is unmet, the end of the answer (a newline, end-of-text) is not in the target
   (as in NeuroLogic, an answer may end only once its constraints are met; at the token limit the particle
   simply stops, and the final penalty applies);
2. sample a token ``x`` from ``q``; multiply the particle's weight by ``p(x) / q(x)`` (importance correction;
   with ``A`` empty it is ``Z``, the LM mass of the allowed tokens) and by ``phi(new) / phi(old)``;
3. a particle that ends (newline, end-of-text, or the grammar's end) stops moving; one that writes an
   excluded phrase gets weight 0;
4. if the effective sample size ``(sum w)^2 / sum w^2`` falls below ``N / 2``, resample all particles
   (finished ones included) by **systematic resampling** (one uniform draw, N evenly spaced pointers: lower
   variance than multinomial), and reset weights to the mean.

At the end, particles that miss a required clause are multiplied by ``miss_penalty`` (a soft constraint: 0
makes it hard). Answers are returned by weight, distinct texts only, so ``n`` candidates are ``n`` different
directions. N particles cost one batched model call per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from artdirector.decoding.constraints import Constraints
from artdirector.decoding.dispatch import Decoded, Decoder
from artdirector.lm.base import GenerationConfig, TokenLM, adjust_scores, first_stop


@dataclass
class Particle:
    tokens: list[int]
    text: str
    logw: float = 0.0
    met: float = 0.0  # progress: clauses met + partial phrase credit
    done: bool = False
    matcher: object = None


@dataclass
class SMCResult:
    texts: list[str]  # distinct answers, best weight first
    weights: list[float]  # normalised weights of those answers
    satisfied: list[bool]
    resamples: int = 0
    steps: int = 0
    ess: list[float] = field(default_factory=list)


def systematic_resample(weights: np.ndarray, rng) -> np.ndarray:
    """Indices of the particles kept: N pointers ``(u + i) / N`` into the cumulative weights."""
    n = len(weights)
    positions = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(weights / weights.sum()), positions), n - 1)


def smc_generate(lm: TokenLM, prompt: str, *, prefix: str = "", constraints: Constraints | None = None,
                 grammar=None, particles: int = 8, reward: float = 20.0, miss_penalty: float = 1e-3,
                 eps: float = 0.3, config: GenerationConfig | None = None) -> SMCResult:
    from artdirector.decoding.grammar import allowed_tokens, end_tokens
    from artdirector.decoding.neurologic import _advancing, partway, phrase_token_ids

    config = config or GenerationConfig()
    constraints = constraints or Constraints()
    rng = np.random.default_rng(config.seed)
    base = lm.tokenize(prompt + prefix)
    head = lm.tokenize(prefix) if prefix else []
    phrase_ids = phrase_token_ids(lm, constraints)
    temperature = config.temperature if config.temperature > 0 else 0.7

    def progress(tokens: list[int], text: str) -> float:
        met = constraints.satisfied(text.lower())
        partial = max((partway(tokens, ids) / len(ids) for i in set(range(len(constraints.include))) - met
                       for ids in phrase_ids[i]), default=0.0)
        return len(met) + partial

    pool = [Particle([], "", matcher=grammar.matcher(lm) if grammar else None) for _ in range(particles)]
    eos = set(lm.eos_token_ids)
    resamples, ess_trace, steps = 0, [], 0
    for _ in range(config.max_new_tokens):
        live = [p for p in pool if not p.done]
        if not live:
            break
        steps += 1
        logprobs = lm.next_token_logprobs([base + p.tokens for p in live])
        enders = end_tokens(lm, logprobs.shape[1])
        for row, p in enumerate(live):
            scores = adjust_scores(np.array(logprobs[row], dtype=np.float64), head + p.tokens, config) / temperature
            if p.matcher is not None:
                scores[~allowed_tokens(p.matcher, len(scores))] = -np.inf
            if p.met < len(constraints.include):
                scores[enders] = -np.inf
            finite = np.isfinite(scores)
            if not finite.any():
                p.done, p.logw = True, -np.inf
                continue
            z = np.logaddexp.reduce(scores[finite])
            probs = np.where(finite, np.exp(scores - z), 0.0)
            met_now = constraints.satisfied((prefix + p.text).lower())
            moves = {t for i in range(len(constraints.include)) if i not in met_now
                     for t in _advancing(p.tokens, prefix + p.text, phrase_ids[i]) if finite[t]}
            proposal = probs
            if moves:
                proposal = (1 - eps) * probs
                proposal[list(moves)] += eps / len(moves)
            token = int(rng.choice(len(proposal), p=proposal / proposal.sum()))
            # Importance weight: unnormalised target mass of the token over its proposal probability.
            p.logw += float(scores[token]) - float(np.log(proposal[token]))
            if p.matcher is not None:
                p.matcher.consume_token(token)
            piece = lm.detokenize([token])
            ended = token in eos or (p.matcher is not None and p.matcher.is_stopped())
            if not ended:
                p.tokens.append(token)
                p.text += piece
            cut = first_stop(p.text, config.stop) if p.matcher is None else (
                len(p.text.rstrip("\n")) if p.text.endswith("\n") and p.matcher.is_accepting() else None)
            if cut is not None:
                p.text, ended = p.text[:cut], True
            low = (prefix + p.text).lower()
            if constraints.violated(low):
                p.logw, ended = -np.inf, True
            met = progress(p.tokens, prefix + p.text)
            p.logw += reward * (met - p.met)
            p.met, p.done = met, ended
        logw = np.array([p.logw for p in pool])
        if not np.isfinite(logw).any():
            break
        w = np.exp(logw - logw[np.isfinite(logw)].max())
        ess = w.sum() ** 2 / (w ** 2).sum()
        ess_trace.append(float(ess))
        if ess < particles / 2:
            keep = systematic_resample(w, rng)
            mean = float(np.log(w.mean()) + logw[np.isfinite(logw)].max())
            pool = [Particle(list(pool[k].tokens), pool[k].text, mean, pool[k].met, pool[k].done,
                             pool[k].matcher.deep_copy() if pool[k].matcher is not None else None) for k in keep]
            resamples += 1
    total = len(constraints.include)
    for p in pool:
        if p.met < total:
            p.logw += np.log(miss_penalty)
        if p.matcher is not None and not p.matcher.is_accepting():
            p.logw = -np.inf
    logw = np.array([p.logw for p in pool])
    finite = np.isfinite(logw)
    w = np.exp(logw - (logw[finite].max() if finite.any() else 0.0)) * finite
    by_text: dict[str, float] = {}
    for p, wi in zip(pool, w):
        text = p.text.strip()
        by_text[text] = by_text.get(text, 0.0) + float(wi)
    norm = sum(by_text.values()) or 1.0
    order = sorted(by_text, key=lambda t: -by_text[t])
    return SMCResult(texts=order, weights=[by_text[t] / norm for t in order],
                     satisfied=[constraints.met((prefix + t).lower()) for t in order],
                     resamples=resamples, steps=steps, ess=ess_trace)


class SMCDecoder(Decoder):
    """One SMC run per idea (greedy proposals); its distinct particles are the idea's candidates."""

    needs = frozenset({"logprobs"})
    takes_grammar = True

    def __init__(self, lm, **kw):
        super().__init__(lm, **kw)
        self._runs: dict[int, SMCResult] = {}

    def decode(self, k, prompts, prefixes, config):
        out = []
        for i, (prompt, prefix) in enumerate(zip(prompts, prefixes)):
            if i not in self._runs:
                self._runs[i] = smc_generate(self.lm, prompt, prefix=prefix, constraints=self.constraints,
                                             grammar=self.grammar, config=replace(
                                                 config, max_new_tokens=self.max_new_tokens + 16, temperature=0.0))
            res = self._runs[i]
            if not res.texts:
                out.append(Decoded("", "stop", False))
                continue
            j = min(k, len(res.texts) - 1)
            out.append(Decoded(" " + res.texts[j], "stop", res.satisfied[j]))
        return out
