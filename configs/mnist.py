"""MNIST, ResNet-18, target 99.5 / 0.5 (the paper: depth 2 of 8, 99.31 % test)."""

from odn_jax import defaults


def get_config():
  config = defaults.base_config()
  config.data.name = 'mnist'
  config.search.target = 99.5
  config.search.tolerance = 0.5
  return config
