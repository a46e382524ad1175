"""The search: where the run goes after every epoch, and what a deeper network starts from.

`controller` folds the history through the paper's rules (`rules`, a pure function of history
and config), asking the mode (`modes`) and odn_jax's options (`forecast`, `options`) at named
places; `growth` is what a deeper network starts from (weights and optimizer).
"""

from odn_jax.search.checks import BUDGET_KEYS, MODES, STARTS, depth_limit, max_depth
from odn_jax.search.controller import Fold, fold_history, per_depth, replay
from odn_jax.search.modes import target_goal
from odn_jax.search.plan import DONE, FINETUNE, GROW, WARMUP, Plan, Position, cosine
from odn_jax.search.rules import rounded_accuracy
from odn_jax.search.start import start_depth, start_plan, warmup_learning_rate, warmup_profile
