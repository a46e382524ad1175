"""SVHN (cropped digits), ResNet-34, target 96.0 / 0.5 (the paper: depth 5 of 16, 96.08 % test).

Reproduces Optimally_Deep_Networks_SVHN.ipynb and dataloaders/svhn.py (GitHub
saktx/Optimally_Deep_Networks): train = the first 68,257 training images, validation = the
last 5,000, last partial batch dropped, pixels / 255 with no normalisation; ResNet-34 with
PyTorch's default initialisation; 3 warm-up epochs at 0.01 (cosine, stepped per epoch);
growth at 0.1, every expansion reloading the warm-up weights with a new SGD at 0.05; 23 flat
epochs per depth, the rate x0.6 every 5th flat epoch; fine-tuning until 23 more flat
epochs. No epoch caps.
"""

from odn_jax.config import defaults


def get_config(schedule=None):
  config = defaults.base_config()
  config.data.name = 'svhn_cropped'
  config.data.num_train = 68_257
  config.data.num_val = 5_000
  config.data.mean = (0.0, 0.0, 0.0)  # pixels / 255 only
  config.data.std = (1.0, 1.0, 1.0)
  config.model.arch = 'resnet34'
  config.warmup.learning_rate = 0.01
  config.search.learning_rate = 0.1
  config.search.target = 96.0
  config.search.tolerance = 0.5
  return defaults.with_schedule(config, schedule)
