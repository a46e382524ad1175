"""The one place every config key is declared, with the paper's values.

Experiment files under `configs/` start from `base_config()` and change only what
differs, so `--config.KEY=VALUE` can override any key the project reads.
"""

import ml_collections

from odn_jax import errors


def base_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.schedule = 'paper'  # the name of the schedule below; set by with_schedule()
  config.seed = 0
  config.distributed = False  # multi-host: jax.distributed.initialize() before anything else

  config.data = ml_collections.ConfigDict()
  # 'tfds' | 'idx' | 'npz' | 'digits'
  config.data.source = 'tfds'
  # TFDS name ('mnist', 'emnist/letters', 'fashion_mnist', 'svhn_cropped', 'cifar10').
  config.data.name = 'mnist'
  # TFDS data_dir (None: TFDS's default) or the folder / file of an 'idx' / 'npz' source.
  config.data.data_dir = ml_collections.config_dict.placeholder(str)
  config.data.path = ''
  # The paper's split: train = first `num_train` of the train split, validation = the
  # next `num_val`; 0 means "all that remains".
  config.data.num_train = 50_000
  config.data.num_val = 10_000
  # None: that head/tail split; N: shuffle the training split with seed N before cutting it
  # (for files sorted by class, which the data checks refuse to cut by position).
  config.data.split_seed = ml_collections.config_dict.placeholder(int)
  # Train on only the first `train_subset` training examples (0: all); for benchmarks.
  config.data.train_subset = 0
  config.data.num_classes = 10
  config.data.label_offset = 0  # EMNIST letters: -1 maps 1..26 to 0..25.
  config.data.mean = (0.1307,)
  config.data.std = (0.3081,)
  config.data.augment = False  # random crop (4-pixel padding) + horizontal flip
  config.data.prefetch = 2  # batches prepared ahead by a background thread
  # TFDS: download and prepare a dataset that is not there yet (needs a network).
  config.data.download = True
  # Drop the last partial training batch of every epoch (False keeps it, as the paper's
  # MNIST, EMNIST and Fashion-MNIST loaders do).
  config.data.drop_last = True

  config.batch_size = 128
  config.eval_batch_size = 1000
  # 0: evaluate with BatchNorm's running averages (the paper); N: with statistics
  # recomputed after every epoch as the mean over the epoch's first N training batches.
  config.precise_bn_batches = 0

  config.model = ml_collections.ConfigDict()
  config.model.arch = 'resnet18'
  config.model.width = 64  # channels of the stem and first stage
  config.model.max_depth = 0  # 0: every residual block
  config.half_precision = False  # bfloat16 compute, float32 parameters

  config.optim = ml_collections.ConfigDict()
  config.optim.momentum = 0.9
  config.optim.weight_decay = 5e-4

  config.warmup = ml_collections.ConfigDict()
  config.warmup.epochs = 3
  config.warmup.learning_rate = 0.001  # cosine annealing over the epochs, stepped per epoch
  # One pass through the full net, every head reading its block; False: the notebooks'
  # forward/backward per depth (same gradient, for comparisons).
  config.warmup.one_pass = True

  config.search = ml_collections.ConfigDict()
  # 'target': the paper's rule; 'saturation': grow while a depth gains min_gain points on the
  # one before; 'budget': the target rule within config.search.budget (0 = no limit on that
  # measure), ending at the best depth that fits if the target is out of reach.
  config.search.mode = 'target'
  config.search.min_gain = 0.1
  config.search.budget = ml_collections.ConfigDict({'params': 0, 'bytes': 0, 'flops': 0})
  # 'shallowest': grow from depth 1 (the paper); 'profile': from the shallowest head whose
  # warm-up validation accuracy is within start_margin points of the best head's; 'deepest':
  # no search, the full network trained by the same rules (the baseline a search must beat).
  config.search.start = 'shallowest'
  config.search.start_margin = 2.0
  config.search.target = 99.5  # validation accuracy, percent
  config.search.tolerance = 0.5
  config.search.learning_rate = 0.01  # of the first depth's optimizer
  # Every expansion starts a new optimizer at learning_rate x this (the paper halves it for
  # MNIST, EMNIST, Fashion-MNIST and SVHN; CIFAR-10 keeps it).
  config.search.expansion_lr_scale = 0.5
  # The published notebooks reset the best accuracy on expansion; the runs behind the paper's
  # table did not (False reproduces their logs).
  config.search.reset_best_on_expansion = True
  config.search.patience = 23  # epochs without improvement before a depth has converged
  # Points by which validation accuracy must beat the best to count as an improvement (0:
  # any gain at the rounding below, as the paper).
  config.search.min_delta = 0.0
  config.search.plateau_patience = 5  # every this-many-th flat epoch: lr *= plateau_factor
  config.search.plateau_factor = 0.6
  config.search.grow_decimals = 1  # the paper rounds val. accuracy while growing
  config.search.finetune_decimals = 2  # and while fine-tuning
  # Caps on epochs (0: none, as the paper): per depth, counted like a converged depth; in total,
  # ending the search at the depth trained last.
  config.search.max_epochs_per_depth = 0
  config.search.max_epochs_total = 0
  # None: fine-tuning continues at the rate growth ended with (the paper).
  config.search.finetune_learning_rate = ml_collections.config_dict.placeholder(float)
  # None: a depth grows only after `patience` flat epochs (the paper). A margin M: a growing
  # depth is abandoned once best + (best - best at half its epochs so far) + M + Z x noise <
  # target - tolerance, after at least abandon_min_epochs epochs, where noise is the sd of
  # one epoch's validation noise over that half and Z = abandon_noise (odn_jax.search).
  config.search.abandon_margin = ml_collections.config_dict.placeholder(float)
  config.search.abandon_noise = 1.0
  config.search.abandon_min_epochs = 16
  # ... and not before the rate has decayed this many times at the depth: a noisy curve at
  # the starting rate says little about where the depth ends (BENCHMARKS.md).
  config.search.abandon_min_decays = 0
  # 0: fine-tune until `patience` flat epochs (the paper). N: a depth that reaches the goal
  # trains N more epochs, the rate annealed from where growth left it to zero (cosine), and
  # the search ends.
  config.search.final_epochs = 0
  # Race the depths: K > 1 splits the devices into K slots (device_count / K each), trains up
  # to K depths at once from the warm-up weights, and gives the sequential search's answer
  # exactly, in fewer rounds of epochs (odn_jax.search.race). Needs the paper's per-depth
  # rules: target mode, grow.init='warmup', reset_best_on_expansion, no max_epochs_total.
  # K larger than the depths left: the extra slots stay idle. 1: the sequential search.
  config.search.parallel_depths = 1
  # With K > 1: a free slot starts a depth at most this many depths deeper than the
  # shallowest depth that has not ended (fewer speculative epochs, a longer critical path);
  # None: no bound, every free slot takes the next untried depth.
  config.search.race_lookahead = ml_collections.config_dict.placeholder(int)

  config.grow = ml_collections.ConfigDict()
  # What a new depth starts from: 'warmup' (the paper: the warm-up weights reloaded, a new
  # optimizer), 'trained' (every piece as last trained, momentum carried) or 'identity'
  # ('trained' with the new block starting as the identity).
  config.grow.init = 'warmup'
  # With 'trained' / 'identity': the share of the trained weights kept, the rest taken from
  # the warm-up weights (1: all carried over; 0: the warm-up weights, as 'warmup').
  config.grow.carry = 1.0

  # The extracted subnet keeps heads 1..d*-1 as early exits. They last trained before the
  # blocks under them moved on, so after the search they train this many epochs more on the
  # final trunk (frozen: its blocks and head d* are unchanged) at search.learning_rate.
  # 0: the subnet keeps its last head only, and no early-exit numbers are reported.
  config.early_exit_epochs = 2

  # report.md and summary.json get the subnet's and the full network's inference speed
  # (images/s at batch 1 and 256) measured on the machine at hand, a few seconds at the end.
  config.measure_throughput = True

  # JAX's persistent compilation cache: each depth's programs are compiled once per
  # machine, not once per run ('' leaves JAX's own setting).
  config.compilation_cache_dir = '~/.cache/odn_jax/jax'

  config.checkpoint = ml_collections.ConfigDict()
  config.checkpoint.keep = 3
  return config


SCHEDULES = ('paper', 'fast')


def with_schedule(config: ml_collections.ConfigDict, schedule: str | None
                  ) -> ml_collections.ConfigDict:
  """Applies a named schedule: `--config=configs/NAME.py:fast` (the text after the colon).

  'paper' (or nothing) leaves the config as the notebooks run it; 'fast' is odn_jax's
  schedule (BENCHMARKS.md): the paper's rules, except that a depth whose validation curve
  cannot reach the goal is abandoned early, and a depth that reaches it ends with a fixed
  cosine decay instead of waiting out a plateau.
  Every lever stays a key that `--config.KEY=VALUE` overrides.
  """
  schedule = schedule or 'paper'
  if schedule not in SCHEDULES:
    raise errors.ConfigError(f'unknown schedule {schedule!r} after the config path; choose one of '
                     f'{SCHEDULES} (e.g. --config=configs/mnist.py:fast)')
  config.schedule = schedule
  if schedule == 'fast':
    config.search.abandon_margin = 0.5
    config.search.abandon_noise = 1.0
    config.search.abandon_min_epochs = 16
    # A curve still setting new bests at its first rate is still climbing, however noisy.
    config.search.abandon_min_decays = 1
    config.search.final_epochs = 12
  return config
