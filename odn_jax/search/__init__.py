"""The search: where the run goes after every epoch, and what a deeper network starts from.

`controller` folds the history through the paper's rules (a pure function of history and
config); `growth` builds the variables a new depth starts from.
"""

from odn_jax.search.controller import (BUDGET_KEYS, DONE, FINETUNE, GROW, MODES, STARTS, WARMUP,
                                       Fold, Plan, Position, check_config, cosine, depth_limit,
                                       fold_history, max_depth, next_plan, per_depth, replay,
                                       rounded_accuracy, start_depth, start_plan, target_goal,
                                       warmup_learning_rate, warmup_profile)
