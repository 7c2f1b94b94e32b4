"""What ``ArtDirector.direct`` returns, and its JSON form (the ``direct --json`` object)."""

from __future__ import annotations

from dataclasses import dataclass, field

from artdirector.brief import Direction
from artdirector.render import Rendered


@dataclass
class DirectionResult:
    idea: str
    target: str
    direction: Direction
    rendered: Rendered
    model: str
    seconds: float = 0.0  # the direction (stages 2-7), per idea; the parts in ``timings``
    timings: dict = field(default_factory=dict)  # seconds per stage: retrieve, decode, select (+ load in the CLI)
    fallback: bool = False
    rejected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    candidates: list[DirectionResult] = field(default_factory=list)
    retrieved: list = field(default_factory=list)  # library hits used as examples (``library.Hit``)
    constraints: list | None = None  # each clause, whether the prompt meets it and whether the decoder did
    decoding: str = "greedy"  # greedy | sample | beam | neurologic | grammar | smc

    @property
    def prompt(self) -> str:
        return self.rendered.prompt

    @property
    def added(self) -> list[str]:
        """Phrases the director added that made it into the rendered prompt."""
        dropped = set(self.rendered.dropped)
        return [p for p in self.direction.phrases() if p not in dropped]

    def to_json(self) -> dict:
        out = {
            "idea": self.idea,
            "target": self.target,
            "prompt": self.rendered.prompt,
            "negative_prompt": self.rendered.negative_prompt,
            "parts": {k: list(v) for k, v in self.direction.parts.items() if v},
            "added": self.added,
            "dropped": list(self.rendered.dropped),
            "tokens": self.rendered.tokens,
            "budget": self.rendered.budget,
            "fallback": self.fallback,
            "notes": [*self.notes, *self.rendered.notes],
            "model": self.model,
            "seconds": round(self.seconds, 4),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "retrieved": [h.to_json() for h in self.retrieved],
            "decoding": self.decoding,
        }
        if self.constraints is not None:
            out["constraints"] = self.constraints
        if self.candidates:
            out["candidates"] = [c.to_json() for c in self.candidates]
        return out
