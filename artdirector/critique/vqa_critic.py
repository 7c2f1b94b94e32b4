"""A visual-question-answering model as the critic: each question answered as p(yes).

A BLIP VQA checkpoint (``Salesforce/blip-vqa-base`` or ``-capfilt-large``, any ``BlipForQuestionAnswering``
folder) reads the image and the question and decodes an answer; the critic reads the first answer token's
logits and keeps ``p(yes) = softmax(logit_yes, logit_no)[yes]`` — the TIFA/DSG way of turning a VQA model
into a probability, which ranks better than the decoded word (a 0.51 "yes" and a 0.99 "yes" are not the
same). Questions and images go through in batches on the chosen device.
"""

from __future__ import annotations

from collections.abc import Sequence

from artdirector.critique.base import Critic
from artdirector.critique.questions import Question
from artdirector.errors import ScorerError

DEFAULT_MODEL = "Salesforce/blip-vqa-base"
BATCH = 16


class VQACritic(Critic):
    name = "vqa"

    def __init__(self, model, processor, *, device: str = "cpu", name: str = DEFAULT_MODEL):
        self.model, self.processor, self.device, self.model_name = model.eval(), processor, device, name
        ids = processor.tokenizer.convert_tokens_to_ids(["yes", "no"])
        if processor.tokenizer.unk_token_id in ids:
            raise ScorerError(f"vqa: the tokenizer of {name} has no single 'yes'/'no' token; use a VQA checkpoint")
        self.yes, self.no = ids

    @classmethod
    def from_pretrained(cls, model: str = DEFAULT_MODEL, *, device: str | None = None) -> VQACritic:
        from transformers import BlipForQuestionAnswering

        from artdirector.scoring.base import load_pretrained

        vqa, processor, device, name = load_pretrained("vqa", model, DEFAULT_MODEL, BlipForQuestionAnswering,
                                                       device=device, kind="BLIP VQA model")
        return cls(vqa, processor, device=device, name=name)

    def answer(self, questions: Sequence[Question], images: Sequence, *, idea: str = "") -> list[list[float]]:
        import torch

        pairs = [(i, q.text) for i in range(len(images)) for q in questions]
        p_yes: list[float] = []
        for start in range(0, len(pairs), BATCH):
            chunk = pairs[start:start + BATCH]
            inputs = self.processor(images=[images[i].convert("RGB") for i, _ in chunk],
                                    text=[t for _, t in chunk], return_tensors="pt", padding=True).to(self.device)
            with torch.inference_mode():
                out = self.model.generate(**inputs, max_new_tokens=1, do_sample=False, output_logits=True,
                                          return_dict_in_generate=True)
            logits = out.logits[0][:, [self.yes, self.no]].float()
            p_yes += torch.softmax(logits, dim=-1)[:, 0].tolist()
        n = len(questions)
        return [p_yes[k * n:(k + 1) * n] for k in range(len(images))]

    def close(self) -> None:
        from artdirector.imaging.devices import free_memory

        self.model = None
        free_memory()
