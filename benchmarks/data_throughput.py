r"""Batches/s of the input pipeline against batches/s of the train step it feeds.

  python benchmarks/data_throughput.py --config=configs/fashion_mnist.py \
      --config.data.data_dir=/tmp/tfds --config.model.arch=resnet18 --depth=2

Prints one JSON line: the dataset's load time, loader batches/s (prefetch thread,
normalisation, augmentation if configured) and train-step batches/s at `--depth`.
"""

import itertools
import json
import time

import jax
from absl import app, flags
from ml_collections import config_flags

from odn_jax import data, models
from odn_jax.models import partition
from odn_jax.train import steps as steps_lib

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/fashion_mnist.py', 'Config file.')
_DEPTH = flags.DEFINE_integer('depth', 2, 'Depth of the train step to compare with.')
_BATCHES = flags.DEFINE_integer('batches', 200, 'Batches to time the loader over.')
_STEPS = flags.DEFINE_integer('steps', 20, 'Train steps to time (after one compiling step).')


def main(argv):
  del argv
  config = _CONFIG.value
  started = time.perf_counter()
  ds = data.load(config)
  load_s = time.perf_counter() - started

  batches = (b for epoch in itertools.count() for b in ds.train_batches(epoch))
  next(batches)  # the first batch waits for the prefetch thread to start
  started = time.perf_counter()
  for _ in range(_BATCHES.value):
    next(batches)
  loader = _BATCHES.value / (time.perf_counter() - started)

  model = models.from_config(config, ds.num_classes)
  tx = steps_lib.make_optimizer(config.optim)
  steps = steps_lib.make_steps(model, tx)
  params, state = model.init(jax.random.key(0), ds.input_shape)
  ts = steps_lib.create_train_state(tx, partition.prefix(params, _DEPTH.value),
                                    partition.prefix(state, _DEPTH.value))
  metrics = steps_lib.zero_metrics()
  batch = next(batches)
  ts, metrics = steps.train(ts, metrics, batch, 0.01, depth=_DEPTH.value)
  jax.block_until_ready(ts)
  started = time.perf_counter()
  for _ in range(_STEPS.value):
    ts, metrics = steps.train(ts, metrics, next(batches), 0.01, depth=_DEPTH.value)
  jax.block_until_ready(ts)
  step = _STEPS.value / (time.perf_counter() - started)
  print(json.dumps({'dataset': ds.name, 'batch_size': config.batch_size,
                    'load_s': round(load_s, 2), 'loader_batches_per_s': round(loader, 1),
                    'arch': config.model.arch, 'width': config.model.width,
                    'depth': _DEPTH.value,
                    'train_step_batches_per_s': round(step, 2),
                    'loader_over_step': round(loader / step, 1)}))


if __name__ == '__main__':
  app.run(main)
