"""EMNIST letters, ResNet-18, target 95.0 / 0.5 (the paper: depth 3 of 8, 95.04 % test)."""

from odn_jax import defaults


def get_config():
  config = defaults.base_config()
  config.data.name = 'emnist/letters'
  config.data.num_classes = 26
  config.data.label_offset = -1  # labels 1..26 -> 0..25
  config.data.num_train = 78_800  # of 88,800; the last 10,000 validate
  config.search.target = 95.0
  config.search.tolerance = 0.5
  return config
