"""CIFAR-10, ResNet-50, target 94.5 / 0.5 (the paper: depth 11 of 16, 93.35 % test).

Reproduces Optimally_Deep_Networks_CIFAR10.ipynb and dataloaders/cifar10.py (GitHub
saktx/Optimally_Deep_Networks): train = the first 45,000 training images with random crops
(4-pixel padding) and horizontal flips, validation = the last 5,000, last partial batch
dropped, pixels / 255 with no normalisation; ResNet-50 (bottleneck blocks) with PyTorch's
default initialisation; no warm-up, so every expansion reloads the random initial weights;
growth at 0.01, and every expansion keeps 0.01 with a new SGD; 23 flat epochs per depth,
the rate x0.6 every 5th flat epoch; fine-tuning until 23 more flat epochs. No epoch caps.
"""

from odn_jax.config import defaults


def get_config(schedule=None):
  config = defaults.base_config()
  config.data.name = 'cifar10'
  config.data.num_train = 45_000
  config.data.num_val = 5_000
  config.data.mean = (0.0, 0.0, 0.0)  # pixels / 255 only
  config.data.std = (1.0, 1.0, 1.0)
  config.data.augment = True  # random crop with 4-pixel padding, horizontal flip
  config.model.arch = 'resnet50'
  config.warmup.epochs = 0
  config.search.learning_rate = 0.01
  config.search.expansion_lr_scale = 1.0
  config.search.target = 94.5
  config.search.tolerance = 0.5
  return defaults.with_schedule(config, schedule)
