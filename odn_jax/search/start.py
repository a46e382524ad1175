"""Where the search starts: the warm-up of every head, then the first depth to grow."""

from typing import Sequence

from odn_jax.search.checks import max_depth
from odn_jax.search.plan import GROW, WARMUP, Plan, cosine


def warmup_learning_rate(config, epoch: int) -> float:
  """Cosine annealing over the warm-up, stepped once per epoch (3 epochs: 1, 0.75, 0.25 x)."""
  return cosine(config.warmup.learning_rate, epoch, config.warmup.epochs)


def start_depth(warmup_profile: Sequence[float], config, limit: int) -> tuple[int, str]:
  """Where growth starts after warm-up: depth 1, or where the warm-up profile says."""
  if config.search.start == 'deepest':
    return limit, f'start at the deepest depth, {limit}'
  if config.search.start == 'shallowest' or not warmup_profile:
    return 1, 'start at depth 1'
  profile = list(warmup_profile)[:limit]
  best = max(profile)
  depth = next(d for d, acc in enumerate(profile, 1) if acc >= best - config.search.start_margin)
  return depth, (f'warm-up profile: depth {depth} is within {config.search.start_margin:g} '
                 f'points of the best head ({best:.2f}%)')


def warmup_profile(history: Sequence[dict]) -> list[float]:
  """Validation accuracy of every head at the end of warm-up (empty without warm-up)."""
  warmups = [h for h in history if h['phase'] == WARMUP]
  return list(warmups[-1].get('val_accuracy_per_head', [])) if warmups else []


def start_plan(config) -> Plan:
  if config.warmup.epochs > 0:
    return Plan(WARMUP, max_depth(config), warmup_learning_rate(config, 0),
                'warm-up of every head')
  depth = max_depth(config) if config.search.start == 'deepest' else 1
  return Plan(GROW, depth, config.search.learning_rate, 'no warm-up configured')


def after_warmup(config, history: Sequence[dict], plan: Plan, limit: int) -> Plan:
  """The plan after warm-up epoch len(history): the next warm-up epoch, or the first depth."""
  if len(history) < config.warmup.epochs:
    return Plan(WARMUP, plan.depth, warmup_learning_rate(config, len(history)))
  depth, why = start_depth(warmup_profile(history), config, limit)
  return Plan(GROW, depth, config.search.learning_rate, f'warm-up finished; {why}')
