"""The whole method in a few minutes on a laptop CPU: scikit-learn's 8x8 digits, narrow ResNet-18.

  python launch/train.py --config=configs/quickstart.py --workdir=/tmp/odn_quickstart
"""

from odn_jax.config import defaults


def get_config(schedule=None):
  config = defaults.base_config()
  config.data.source = 'digits'  # embedded: no download
  config.data.name = 'digits'
  config.data.mean = (0.3053,)
  config.data.std = (0.3759,)
  config.batch_size = 64
  config.eval_batch_size = 400
  config.precise_bn_batches = 8  # validation on recomputed BatchNorm statistics
  config.model.width = 16
  config.warmup.epochs = 2
  config.warmup.learning_rate = 0.1
  config.search.learning_rate = 0.1
  config.search.target = 98.0
  config.search.tolerance = 0.5
  config.search.patience = 3
  config.search.plateau_patience = 2
  config.search.max_epochs_per_depth = 15
  config.search.max_epochs_total = 60
  return defaults.with_schedule(config, schedule)
