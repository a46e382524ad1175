"""Fashion-MNIST, ResNet-34, target 94.5 / 0.5 (the paper: depth 6 of 16, 93.54 % test)."""

from odn_jax import defaults


def get_config():
  config = defaults.base_config()
  config.data.name = 'fashion_mnist'
  config.data.mean = (0.2860,)
  config.data.std = (0.3530,)
  config.model.arch = 'resnet34'
  config.search.target = 94.5
  config.search.tolerance = 0.5
  return config
