"""MNIST, ResNet-18, target 99.5 / 0.5 (the paper: depth 2 of 8, 99.31 % test).

Reproduces Optimally_Deep_Networks_MNIST.ipynb (GitHub saktx/Optimally_Deep_Networks):
train = the first 50,000 training images, validation = the last 10,000, last partial batch
kept, normalised with (0.1307, 0.3081); ResNet-18 with PyTorch's default initialisation; the search
rules of the notebook's train_till_convergence (odn_jax/search/rules.py) with 3 warm-up epochs at
0.001, growth at 0.01 and every expansion at 0.005 from the warm-up weights. No epoch caps.
"""

from odn_jax.config import defaults


def get_config(schedule=None):
  config = defaults.base_config()
  config.data.name = 'mnist'
  config.data.drop_last = False
  config.search.target = 99.5
  config.search.tolerance = 0.5
  return defaults.with_schedule(config, schedule)
