"""Critics: look at the images of a direction and say what is wrong, behind one small interface.

A critic answers the direction's atomic questions (``questions.questions_for``) for each image with the
probability of "yes" — ``answer`` is the one abstract method. ``critique`` builds the rest on it the same way
for every critic: the DSG score (a child question counts only when its parents hold), a one-line feedback
naming what is missing, and the phrases that would fix it (``add``: the failed questions' phrases) or that
must go (``remove``: a critic that can say so, e.g. a VLM, fills it). Every critic is also a plain reward
callable ``(prompts, images, **kw) -> list[float]`` (the questions then come from the prompt itself), so
best-of-n, evaluation and RL can use it like any scorer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from artdirector.critique.questions import Question, dsg_score, questions_for

YES = 0.5  # p(yes) at or above this: the image shows it


@dataclass
class Critique:
    questions: list[Question]
    p_yes: list[float]  # per question, averaged over the images
    score: float  # DSG score in [0, 1]
    feedback: str
    add: list[str] = field(default_factory=list)  # phrases whose questions failed: require them, early
    remove: list[str] = field(default_factory=list)  # phrases the critic says must go: exclude them

    @property
    def failed(self) -> list[Question]:
        return [q for q, p in zip(self.questions, self.p_yes) if p < YES]

    def to_json(self) -> list[dict]:
        return [{"question": q.text, "element": q.element, "category": q.category, "p_yes": round(p, 4)}
                for q, p in zip(self.questions, self.p_yes)]


class Critic(ABC):
    name: str = "critic"

    @abstractmethod
    def answer(self, questions: Sequence[Question], images: Sequence, *, idea: str = "") -> list[list[float]]:
        """p(yes) of every question for each image: one row per image (PIL), one column per question
        (``idea``: the caption, for critics that read it)."""

    def critique(self, idea: str, parts: dict[str, list[str]], images: Sequence) -> Critique:
        """Judge ``images`` (all made from one prompt) against the idea and the direction's ``parts``."""
        questions = questions_for(idea, parts)
        rows = self.answer(questions, list(images), idea=idea) if questions and images else []
        p_yes = [sum(r[j] for r in rows) / len(rows) for j in range(len(questions))] if rows else [0.0] * len(
            questions)
        return self._critique(questions, p_yes)

    def _critique(self, questions: list[Question], p_yes: list[float]) -> Critique:
        score = dsg_score(questions, p_yes, YES)
        failed = [q for q, p in zip(questions, p_yes) if p < YES]
        # A failed parent explains its children: name and fix the parent only.
        roots = [q for q in failed if not any(p in {f.id for f in failed} for p in q.parents)]
        feedback = ("Everything asked is visible." if not failed else
                    "Missing or wrong: " + "; ".join(q.element for q in roots) + ".")
        return Critique(questions, p_yes, score, feedback, add=list(dict.fromkeys(q.phrase for q in roots)))

    def __call__(self, prompts: Sequence[str], images: Sequence, **kw) -> list[float]:
        """The DSG score of each (prompt, image) pair; a clip (a list of frames) scores the mean of its frames."""
        from artdirector.parse import split_prompt

        out = []
        for prompt, image in zip(prompts, images):
            idea, parts = split_prompt(prompt)
            frames = list(image) if isinstance(image, (list, tuple)) else [image]
            out.append(self.critique(idea, parts, frames).score)
        return out

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release the model's memory."""
