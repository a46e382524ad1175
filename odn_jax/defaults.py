"""The one place every config key is declared, with the reference's values.

Experiment files under `configs/` start from `base_config()` and change only what
differs, so `--config.KEY=VALUE` can override any key the project reads.
"""

import ml_collections


def base_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
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
  # The reference's split: train = first `num_train` of the train split, validation = the
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
  config.data.download = True  # TFDS: download and prepare a dataset not yet in data_dir
  config.data.drop_last = True  # drop each epoch's last partial training batch

  config.batch_size = 128
  config.eval_batch_size = 1000
  # 0: evaluate with BatchNorm's running averages (the reference); N: with statistics
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
  config.warmup.learning_rate = 0.001  # peak of a cosine decay over the warm-up
  # One pass through the full net, every head reading its block; False: the reference's
  # forward/backward per depth (same gradient, for comparisons).
  config.warmup.one_pass = True

  config.search = ml_collections.ConfigDict()
  # 'target': the paper's rule; 'saturation': grow while it gains min_gain points;
  # 'budget': the best depth within config.search.budget (0 = no limit on that measure).
  config.search.mode = 'target'
  config.search.min_gain = 0.1
  config.search.budget = ml_collections.ConfigDict({'params': 0, 'bytes': 0, 'flops': 0})
  # 'shallowest': grow from depth 1 (the paper); 'profile': from the shallowest head whose
  # warm-up validation accuracy is within start_margin points of the best head's.
  config.search.start = 'shallowest'
  config.search.start_margin = 2.0
  config.search.target = 99.5  # validation accuracy, percent
  config.search.tolerance = 0.5
  config.search.learning_rate = 0.01
  config.search.patience = 23  # epochs without improvement before a depth has converged
  # Points by which validation accuracy must beat the last improvement to count as one
  # (0: any gain at the rounding below, the reference).
  config.search.min_delta = 0.0
  # Target mode: fine-tune as soon as a depth reaches target - tolerance, instead of first
  # training it until it converges (the reference; the depth chosen is the same).
  config.search.finetune_at_target = False
  config.search.plateau_patience = 5  # epochs without improvement before lr *= factor
  config.search.plateau_factor = 0.6
  config.search.grow_decimals = 1  # the reference rounds val. accuracy while growing
  config.search.finetune_decimals = 2  # and while fine-tuning
  config.search.max_epochs_per_depth = 200
  config.search.max_epochs_total = 1000
  # None: fine-tuning continues from the rate growth ended with.
  config.search.finetune_learning_rate = ml_collections.config_dict.placeholder(float)

  config.grow = ml_collections.ConfigDict()
  config.grow.init = 'trained'  # 'trained' | 'warmup' | 'identity'

  # JAX's persistent compilation cache: each depth's programs are compiled once per
  # machine, not once per run ('' leaves JAX's own setting).
  config.compilation_cache_dir = '~/.cache/odn_jax/jax'

  config.checkpoint = ml_collections.ConfigDict()
  config.checkpoint.keep = 3
  return config
