"""What the controller answers after every epoch (`Plan`), and where a replay stands."""

import dataclasses
import math

WARMUP, GROW, FINETUNE, DONE = 'warmup', 'grow', 'finetune', 'done'


@dataclasses.dataclass(frozen=True)
class Plan:
  """What to do next: train `phase` at `depth` with `learning_rate`, and why."""
  phase: str
  depth: int
  learning_rate: float
  reason: str = ''

  @property
  def done(self) -> bool:
    return self.phase == DONE

  @property
  def heads(self) -> str:
    """The heads that train: every head up to `depth` in the warm-up ('all'), else 'last'."""
    return 'all' if self.phase == WARMUP else 'last'

  @property
  def num_heads(self) -> int:
    return self.depth if self.heads == 'all' else 1


@dataclasses.dataclass(frozen=True)
class Position:
  """Where the search stands after the history it was replayed from."""
  plan: Plan  # the next epoch
  best_val_accuracy: float  # of the current depth, at the controller's rounding
  kept: dict  # depth -> index of the epoch whose weights that depth keeps
  left: dict  # depth -> why the search left it (grew past it, or ended there)


def cosine(peak: float, step: int, total: int) -> float:
  """The rate `step` of `total` of a cosine decay from `peak` to zero."""
  return peak * 0.5 * (1.0 + math.cos(math.pi * step / total))
