"""The learning-rate schedule of a training run: cosine, or warmup-stable-decay (wsd).

Cosine decays over the whole run. Wsd holds the peak and decays over the last
`decay_fraction` of the run: of its steps, or of its `--minutes` budget, whose length in
steps then comes from the speed measured in the stable phase (`Schedule.start_decay_if_due`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from codewm.model.presets import Preset


def cosine_lr(step: int, steps: int, peak: float, warmup: int, min_ratio: float = 0.1) -> float:
    """Linear warmup over `warmup` steps, then cosine decay to `peak * min_ratio`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def wsd_lr(step: int, peak: float, warmup: int, decay_start: int | None, decay_steps: int | None, min_ratio: float = 0.1) -> float:
    """Warmup-stable-decay: linear warmup, the peak until `decay_start`, then a 1 - sqrt
    decay to `peak * min_ratio` over `decay_steps` (Hägele et al. 2024; the shape that matched
    cosine in their runs). `decay_start` None: still in the stable phase."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if decay_start is None or step < decay_start:
        return peak
    progress = min(1.0, (step - decay_start + 1) / max(1, decay_steps or 1))
    return peak * (min_ratio + (1 - min_ratio) * (1 - math.sqrt(progress)))


def lr_at(preset: Preset, step: int, decay_start: int | None = None, decay_steps: int | None = None) -> float:
    if preset.schedule == "wsd":
        return wsd_lr(step, preset.lr, preset.warmup, decay_start, decay_steps, preset.min_lr_ratio)
    return cosine_lr(step, preset.steps, preset.lr, preset.warmup, preset.min_lr_ratio)


@dataclass
class Schedule:
    """Where one run's decay starts, how long it is, and where the run ends.

    `end_step` is the preset's steps, or, with a time budget, unknown (a huge number) until
    the decay starts; `decay_start` is None while a wsd run with a time budget is still in its
    stable phase.
    """

    preset: Preset
    budget: float | None  # seconds of training (--minutes), or None
    end_step: int
    decay_start: int | None = None
    decay_steps: int | None = None

    @classmethod
    def plan(cls, preset: Preset, minutes: float | None) -> "Schedule":
        if minutes is not None:  # time ends the run
            return cls(preset, minutes * 60, 1 << 62)
        schedule = cls(preset, None, preset.steps)
        if schedule.wsd:
            schedule.decay_steps = max(1, round(preset.decay_fraction * preset.steps))
            schedule.decay_start = preset.steps - schedule.decay_steps
        return schedule

    @property
    def wsd(self) -> bool:
        return self.preset.schedule == "wsd"

    def lr(self, step: int) -> float:
        return lr_at(self.preset, step, self.decay_start, self.decay_steps)

    def start_decay_if_due(self, step: int, steps_done: int, elapsed: float) -> bool:
        """With a time budget whose stable part is spent (`elapsed` seconds for `steps_done`
        steps this session): the decay starts at `step`, as many steps long as its share
        of the budget allows at the speed so far, and the run ends after it. True when it
        starts now."""
        preset = self.preset
        if not self.wsd or self.decay_start is not None or self.budget is None or elapsed < (1 - preset.decay_fraction) * self.budget:
            return False
        seconds_per_step = elapsed / max(1, steps_done)
        self.decay_start = step
        self.decay_steps = max(1, round(preset.decay_fraction * self.budget / seconds_per_step))
        self.end_step = step + self.decay_steps
        return True

    def decaying_after(self, step: int) -> bool:
        """Whether the steps after `step` are in the decay phase."""
        return self.decay_start is not None and step > self.decay_start

    def of_steps(self) -> str:
        """"/N" once the run's last step is known, for progress lines."""
        return f"/{self.end_step}" if self.budget is None or self.decay_start is not None else ""

    def record(self) -> dict | None:
        """The decay as a checkpoint records it (None for cosine)."""
        return {"start": self.decay_start, "steps": self.decay_steps} if self.wsd else None
