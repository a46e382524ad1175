"""CIFAR-10, ResNet-50, target 94.5 / 0.5 (the paper: depth 11 of 16, 93.35 % test)."""

from odn_jax import defaults


def get_config():
  config = defaults.base_config()
  config.data.name = 'cifar10'
  config.data.num_train = 45_000
  config.data.num_val = 5_000
  config.data.mean = (0.4914, 0.4822, 0.4465)
  config.data.std = (0.2470, 0.2435, 0.2616)
  config.data.augment = True  # random crop with 4-pixel padding, horizontal flip
  config.model.arch = 'resnet50'
  config.warmup.epochs = 0
  config.warmup.learning_rate = 0.01
  config.search.target = 94.5
  config.search.tolerance = 0.5
  return config
