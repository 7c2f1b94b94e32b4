"""Grammar engines side by side on the embedded model's vocabulary: set-up time, per-token mask time and the
error a syntax mistake gives. llguidance is the shipped engine; XGrammar is measured when importable
(``pip install xgrammar`` — not a dependency). The same language in each engine's syntax: the built-in
direction grammar (Lark for llguidance, EBNF for XGrammar). Mask times are medians over the tokens of a real
answer; compare them with a model step (``bench_constraints.py``'s ``lm_step_ms``).

    .venv/bin/python bench/bench_grammar_engines.py [--out bench/results/grammar_engines.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANSWER = " a storm at sea, oil painting, dramatic lighting, by ivan aivazovsky, highly detailed, 8k\n"
EBNF = r'''root ::= " " phrase (", " phrase){1,11} "\n"
phrase ::= word (" " word){0,4} | number
word ::= [a-z] [a-z'\-]*
number ::= ("4" | "8" | "16") " "? "k" | [0-9] [0-9] [0-9]? " "? "mm" | "1080p"
    | ("19" | "20") [0-9] "0s" | [0-9] " "? "d"
'''


def timed_masks(compute, consume, ids) -> float:
    times = []
    for i in ids:
        start = time.perf_counter()
        compute()
        times.append(time.perf_counter() - start)
        consume(i)
    return round(1000 * statistics.median(times), 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "grammar_engines.json"))
    args = parser.parse_args()
    import llguidance
    import llguidance.hf
    from transformers import AutoTokenizer

    from artdirector.decoding.grammar import DIRECTION_GRAMMAR, Grammar
    from artdirector.lm.embedded import ensure_converted

    tok = AutoTokenizer.from_pretrained(str(ensure_converted()))
    ids = tok(ANSWER, add_special_tokens=False)["input_ids"]
    out = {"answer_tokens": len(ids)}
    start = time.perf_counter()
    lt = llguidance.hf.from_tokenizer(tok)
    m = llguidance.LLMatcher(lt, llguidance.grammar_from("lark", Grammar(DIRECTION_GRAMMAR).wrapped()))
    out["llguidance"] = {"setup_s": round(time.perf_counter() - start, 3),
                         "mask_ms_p50": timed_masks(m.compute_bitmask, m.consume_token, ids),
                         "accepts": m.is_accepting(),
                         "syntax_error": llguidance.LLMatcher.validate_grammar(
                             llguidance.grammar_from("lark", 'start: "a" (\n'), lt).splitlines()[0]}
    try:
        import xgrammar as xgr
    except ImportError as e:
        out["xgrammar"] = {"skipped": f"{type(e).__name__}: {e}"}
    else:
        start = time.perf_counter()
        info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=len(tok))
        gm = xgr.GrammarMatcher(xgr.GrammarCompiler(info).compile_grammar(EBNF))
        setup = time.perf_counter() - start
        bitmask = xgr.allocate_token_bitmask(1, info.vocab_size)
        mask_ms = timed_masks(lambda: gm.fill_next_token_bitmask(bitmask), gm.accept_token, ids)
        try:
            xgr.GrammarCompiler(info).compile_grammar('root ::= "a" (\n')
            error = ""
        except Exception as e:  # noqa: BLE001 - whatever it raises is what a user would see
            error = str(e).splitlines()[0]
        out["xgrammar"] = {"setup_s": round(setup, 3), "mask_ms_p50": mask_ms,
                           "accepts": bool(gm.accept_token(tok.eos_token_id)),
                           "syntax_error": error}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
