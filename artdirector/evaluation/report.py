"""Writing an evaluation: ``report.json``, ``report.md`` (table and examples side by side) and PNG plots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

TABLE_METRICS = (
    "modifier_precision", "modifier_recall", "modifier_f1", "soft_modifier_f1", "category_coverage", "fidelity",
    "distinct_2", "self_similarity", "over_budget_rate", "modifiers_per_prompt", "constraint_satisfaction",
    "latency_p50_s", "latency_p95_s",
)
TRUST_METRICS = (  # evaluation.quality
    "redundant_rate", "top10_share", "distinct_added", "invented_rate", "colour_contradictions",
    "time_contradictions", "weather_contradictions", "medium_consistency", "mixed_media_rate", "malformed_joins",
)
PLOT_METRICS = ("modifier_f1", "soft_modifier_f1", "category_coverage", "fidelity", "distinct_2", "over_budget_rate",
                "redundant_rate", "top10_share", "distinct_added", "invented_rate", "medium_consistency",
                "mixed_media_rate", "malformed_joins")


def _fmt(value) -> str:
    return "–" if value is None else str(value) if isinstance(value, int) else f"{value:.3f}"


def markdown_table(names, table, metrics) -> list[str]:
    metrics = [m for m in metrics if any(table[n].get(m) is not None for n in names)]
    lines = ["| system | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    return lines + [f"| {n} | " + " | ".join(_fmt(table[n].get(m)) for m in metrics) + " |" for n in names]


def write_report(out: Path, table: dict[str, dict], *, items: Sequence, results: dict[str, list[dict]],
                 skipped: int, config: dict, examples: int = 5) -> dict:
    report = {"n": len(items), "skipped": skipped, "systems": table, "config": config}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    names = list(table)
    protocol = config.get("protocol", "prefix")
    lines = [f"# {protocol.capitalize()} evaluation: {len(items)} ideas ({skipped} rows skipped)", "",
             *markdown_table(names, table, TABLE_METRICS), "", "## Trust", "",
             *markdown_table(names, table, TRUST_METRICS)]
    lines += ["", "Metric definitions: `artdirector/evaluation/metrics.py`, `artdirector/evaluation/quality.py`. "
              "Config:", "", "```json", json.dumps(config, indent=2), "```", "", "## Examples", ""]
    for i, item in enumerate(items[:examples]):
        lines += [f"**{item.idea}**", ""] + ([f"- human: {item.prompt}"] if item.prompt else [])
        lines += [f"- {name}: {results[name][i]['prompts'][0]}" for name in results]
        lines.append("")
    (out / "report.md").write_text("\n".join(lines))
    _plots(out, table)
    return report


def bar_charts(path: Path, table: dict[str, dict], metrics: Sequence[str], reference: str = "human") -> None:
    """One bar chart per metric that any system has, the ``reference`` row in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(table)
    metrics = [m for m in metrics if any(table[n].get(m) is not None for n in names)]
    rows = (len(metrics) + 3) // 4
    fig, axes = plt.subplots(rows, 4, figsize=(18, 4 * rows), squeeze=False)
    for ax in axes.flat[len(metrics):]:
        ax.axis("off")
    for ax, metric in zip(axes.flat, metrics):
        values = [table[n].get(metric) or 0.0 for n in names]
        ax.bar(range(len(names)), values, color=["#888" if n == reference else "#3b6ea5" for n in names])
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
        ax.set_title(metric)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plots(out: Path, table: dict[str, dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bar_charts(out / "metrics.png", table, PLOT_METRICS)
    names = list(table)
    fig, ax = plt.subplots(figsize=(7, 5))
    for name in names:
        quality = "soft_modifier_f1" if table[name].get("soft_modifier_f1") is not None else "fidelity"
        if table[name].get("latency_p50_s") is None or table[name].get(quality) is None:
            continue
        x, y = max(table[name]["latency_p50_s"], 1e-4), table[name][quality]
        ax.scatter(x, y)
        ax.annotate(name, (x, y), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("seconds per idea (p50, log scale)")
    ax.set_ylabel("soft modifier F1 (fidelity for ideas without a human prompt)")
    ax.set_title("quality vs latency")
    fig.tight_layout()
    fig.savefig(out / "quality_vs_latency.png", dpi=110)
    plt.close(fig)
