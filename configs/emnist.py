"""EMNIST letters, ResNet-18, target 95.0 / 0.5 (the paper: depth 3 of 8, 95.04 % test).

Reproduces Optimally_Deep_Networks_EMNIST.ipynb (GitHub saktx/Optimally_Deep_Networks):
labels 1..26 shifted to 0..25, last partial batch kept, normalised with MNIST's (0.1307,
0.3081); ResNet-18 with PyTorch's default initialisation; 3 warm-up epochs at 0.001 (cosine,
stepped per epoch); growth at 0.01, every expansion reloading the warm-up weights with a new
SGD at 0.005; 23 flat epochs per depth, the rate x0.6 every 5th flat epoch; fine-tuning
until 23 more flat epochs. No epoch caps.

Data: the notebook trains on the original NIST release (124,800 training / 20,800 test
images) and defines no validation split; odn_jax validates on the last 10,000 training
images. By default this config reads TFDS's `emnist/letters`, which holds only 88,800 /
14,800 (78,800 train + 10,000 validation here). For the paper's data, point the idx source
at NIST's gzip.zip or a folder of the original files
(emnist-letters-{train,test}-{images-idx3,labels-idx1}-ubyte.gz):
  --config.data.source=idx --config.data.path=PATH/gzip.zip --config.data.num_train=114800
"""

from odn_jax.config import defaults


def get_config(schedule=None):
  config = defaults.base_config()
  config.data.name = 'emnist/letters'
  config.data.num_classes = 26
  config.data.label_offset = -1  # labels 1..26 -> 0..25
  config.data.num_train = 78_800  # of TFDS's 88,800; the last 10,000 validate
  config.data.drop_last = False
  config.search.target = 95.0
  config.search.tolerance = 0.5
  return defaults.with_schedule(config, schedule)
