"""SVHN (cropped digits), ResNet-34, target 96.0 / 0.5 (the paper: depth 5 of 16, 96.08 % test)."""

from odn_jax import defaults


def get_config():
  config = defaults.base_config()
  config.data.name = 'svhn_cropped'
  config.data.num_train = 68_257
  config.data.num_val = 5_000
  config.data.mean = (0.4377, 0.4438, 0.4728)
  config.data.std = (0.1980, 0.2010, 0.1970)
  config.model.arch = 'resnet34'
  config.warmup.learning_rate = 0.01
  config.search.learning_rate = 0.1
  config.search.target = 96.0
  config.search.tolerance = 0.5
  return config
