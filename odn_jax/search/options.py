"""odn_jax's options on top of the paper's rules, each off in the paper configs.

  epoch caps      (search.max_epochs_per_depth, max_epochs_total; 0: none): a depth counts
                  as converged after so many epochs; the search ends after so many in all;
  final schedule  (search.final_epochs; 0: off): a depth that reached the goal ends with a
                  fixed cosine decay of the rate to zero instead of waiting for the counter.
The third, the fast forecast (search.abandon_margin), has a module of its own: forecast.py.
"""

import dataclasses

from odn_jax.search.plan import cosine


def depth_cap(search, epochs_at_depth: int) -> str | None:
  """Why the depth counts as converged by its epoch cap, or None."""
  cap = search.max_epochs_per_depth
  return f'cap of {cap} epochs' if cap and epochs_at_depth >= cap else None


def total_cap(search, epochs: int) -> str | None:
  """Why the search ends after `epochs` epochs in all (warm-up included), or None."""
  cap = search.max_epochs_total
  return f'epoch cap reached ({cap} in total)' if cap and epochs >= cap else None


@dataclasses.dataclass
class FinalSchedule:
  """The fixed final schedule: `epochs` epochs of a cosine decay from `peak` to zero."""
  peak: float
  epochs: int
  done: int = 0  # epochs of it trained

  @classmethod
  def start(cls, search, reached: bool, rate: float) -> 'FinalSchedule | None':
    """The schedule a depth that has just set the fine-tune flag follows, if any: only one
    that reached the goal, from the rate it fine-tunes at."""
    return cls(rate, search.final_epochs) if search.final_epochs and reached else None

  def step(self) -> float | None:
    """After one of its epochs: the next epoch's rate, or None once the schedule is over."""
    self.done += 1
    return None if self.done >= self.epochs else cosine(self.peak, self.done, self.epochs)

  @property
  def reason(self) -> str:
    return f'final schedule of {self.epochs} epochs done'
