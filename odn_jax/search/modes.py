"""The search modes (config.search.mode): what the search grows towards, and what it hands back.

  target     : grow until a depth reaches target - tolerance (the paper);
  saturation : grow while a depth gains at least `min_gain` points over the one before; no
               target (the fast forecast, which predicts a shortfall from the goal, is off);
  budget     : as target, within the deepest depth that fits config.search.budget; a search
               that ends below the goal hands back the best depth that fits.

Each mode is one object answering the same questions, asked by the paper's rules
(`odn_jax.search.rules.after_epoch`):
  limit(config, sizes)                           the deepest depth the search may train;
  expands(config, depth, best, best_by_depth)    a converged depth below the limit: does the
                                                 next depth follow? (step 3)
  reached(config, best)                          has the depth reached the goal? (step 4)
  final_depth(config, depth, best, best_by_depth)  the depth a finished search extracts, why;
  forecasts                                      may the fast forecast abandon a depth?
`best` is the current depth's best (rounded) validation accuracy, `best_by_depth` every
depth trained -> its best.
"""

import math

from odn_jax.search import checks


def target_goal(config) -> float:
  """The validation accuracy at which target mode stops growing: target - tolerance."""
  return config.search.target - config.search.tolerance


class Target:
  """The paper: grow until a depth reaches target - tolerance; hand back the last depth."""
  forecasts = True

  def limit(self, config, sizes=None) -> int:
    del sizes
    return checks.max_depth(config)

  def expands(self, config, depth: int, best: float, best_by_depth: dict) -> bool:
    del depth, best_by_depth
    return best <= target_goal(config)

  def reached(self, config, best: float) -> bool:
    return best >= target_goal(config)

  def final_depth(self, config, depth: int, best: float, best_by_depth: dict
                  ) -> tuple[int, str]:
    del config, best_by_depth
    return depth, f'best {best:g}%'


class Saturation:
  """Grow while depth pays: hand back the shallowest depth within `min_gain` of the best."""
  forecasts = False  # no goal to fall short of

  def limit(self, config, sizes=None) -> int:
    del sizes
    return checks.max_depth(config)

  def expands(self, config, depth: int, best: float, best_by_depth: dict) -> bool:
    del best
    gain = best_by_depth[depth] - best_by_depth.get(depth - 1, -math.inf)
    return gain >= config.search.min_gain

  def reached(self, config, best: float) -> bool:
    del config, best
    return False

  def final_depth(self, config, depth: int, best: float, best_by_depth: dict
                  ) -> tuple[int, str]:
    del depth, best
    min_gain, top = config.search.min_gain, max(best_by_depth.values())
    chosen = min(d for d, acc in best_by_depth.items() if acc >= top - min_gain)
    return chosen, f'depth {chosen} is the shallowest within {min_gain:g} points of the best'


class Budget(Target):
  """The target rule within the deepest depth that fits config.search.budget."""

  def limit(self, config, sizes=None) -> int:
    return checks.depth_limit(config, sizes)  # what fits: checked there

  def final_depth(self, config, depth: int, best: float, best_by_depth: dict
                  ) -> tuple[int, str]:
    if best >= target_goal(config):
      return super().final_depth(config, depth, best, best_by_depth)
    top = max(best_by_depth.values())
    chosen = min(d for d, acc in best_by_depth.items() if acc == top)
    return chosen, f'depth {chosen} is the best of those that fit the budget'


_BY_NAME = {'target': Target(), 'saturation': Saturation(), 'budget': Budget()}
assert tuple(_BY_NAME) == checks.MODES


def of(config):
  """The mode config.search.mode names (checked by `odn_jax.config.validate`)."""
  return _BY_NAME[config.search.mode]
