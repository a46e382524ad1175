"""The fast forecast (config.search.abandon_margin; None, as in the paper, turns it off).

A growing depth whose curve cannot reach the goal counts as converged, before the paper's
`patience` flat epochs. A saturating curve gains less from here on than it gained over the
second half of its epochs so far (true of a + b exp(-ct) once ct > 2 ln 2); so a depth whose
best, plus that recent gain, plus a margin for what decaying the rate adds, stays below the
goal is abandoned. The margin grows with the curve's epoch-to-epoch noise over that half
(`abandon_noise` standard deviations): at a rate high enough to make the curve swing, the
best says little about the level the depth settles at once the rate decays. The forecast
judges a depth only after `abandon_min_epochs` epochs and `abandon_min_decays` plateau decays
of its rate. Checked on the notebooks' logs and recorded runs (tests/test_forecast.py).
"""

import math
import statistics
from typing import Sequence


def forecast(search, curve: Sequence[float]) -> tuple[float, float]:
  """(the predicted plateau: best + the gain over the second half of the depth's epochs,
  the margin: abandon_margin + abandon_noise x the sd of one epoch's noise over that half).

  `curve`: the depth's rounded validation accuracy after each of its epochs so far.
  """
  k = len(curve)
  best, half = max(curve), max(curve[:k // 2])
  recent = curve[k // 2 - 1:]
  # A difference of two epochs carries the noise of both: sd(step) / sqrt(2).
  noise = statistics.pstdev(b - a for a, b in zip(recent, recent[1:])) / math.sqrt(2)
  return 2 * best - half, search.abandon_margin + search.abandon_noise * noise


def falls_short(search, curve: Sequence[float], decays: int, goal: float) -> str | None:
  """Why the depth being grown counts as converged by the forecast, or None if it does not
  (off, too early to judge, or its curve can still reach `goal`)."""
  k = len(curve)
  if (search.abandon_margin is None or k < search.abandon_min_epochs
      or decays < search.abandon_min_decays):
    return None
  plateau, margin = forecast(search, curve)
  if plateau + margin >= goal:
    return None
  return (f'forecast: plateau {plateau:.1f}% (best {max(curve):g}% + its gain over the last '
          f'{k - k // 2} epochs) + margin {margin:.1f} < {goal:g}%')
