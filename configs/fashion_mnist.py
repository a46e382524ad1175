"""Fashion-MNIST, ResNet-34, target 94.5 / 0.5 (the paper: depth 6 of 16, 93.54 % test).

Reproduces Optimally_Deep_Networks_FashionMNIST.ipynb (GitHub saktx/Optimally_Deep_Networks):
train = the first 50,000 training images, validation = the last 10,000, last partial batch
kept, normalised with (0.2860, 0.3530); ResNet-34 with PyTorch's default initialisation; the search
rules of the notebook's train_till_convergence (odn_jax/search/rules.py) with 3 warm-up epochs at
0.001, growth at 0.01 and every expansion at 0.005 from the warm-up weights. No epoch caps.
"""

from odn_jax.config import defaults


def get_config(schedule=None):
  config = defaults.base_config()
  config.data.name = 'fashion_mnist'
  config.data.mean = (0.2860,)
  config.data.std = (0.3530,)
  config.data.drop_last = False
  config.model.arch = 'resnet34'
  config.search.target = 94.5
  config.search.tolerance = 0.5
  return defaults.with_schedule(config, schedule)
