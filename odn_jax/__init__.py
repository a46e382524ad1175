"""odn_jax: find the optimal depth of a ResNet for a dataset, and ship that subnet.

  import odn_jax
  summary = odn_jax.train_and_evaluate(odn_jax.get_config('quickstart'), '/tmp/odn_qs')
  net = odn_jax.load_subnet('/tmp/odn_qs')   # images (pixels 0..255) -> logits
  net.classify(images)                       # -> class names

`import odn_jax` loads none of these until they are used (no JAX, no TFDS).
"""

import importlib

__version__ = '0.1.0'

# name -> (module, attribute): imported on first use.
_LAZY = {
    'train_and_evaluate': ('odn_jax.train.loop', 'train_and_evaluate'),
    'get_config': ('odn_jax.config.files', 'get_config'),
    'load_subnet': ('odn_jax.deploy.subnet', 'load_subnet'),
    'Subnet': ('odn_jax.deploy.subnet', 'Subnet'),
    'compare_runs': ('odn_jax.results.compare', 'compare_runs'),
}

__all__ = ['__version__', 'describe', *_LAZY]


def describe(arch: str = 'resnet18', input_shape=(28, 28, 1), num_classes: int = 10,
             width: int = 64, flops: bool = True, throughput: bool = False,
             batch_sizes=(1, 256)) -> list[dict]:
  """One row per depth, without training: params, bytes, FLOPs, memory reduction (percent
  against the full network), as `odn-describe --json` prints them; with `throughput`, also
  the forward pass's images/s at each of `batch_sizes` measured here ('images_per_s_batch_B')."""
  from odn_jax.models import size  # pylint: disable=g-import-not-at-top
  from odn_jax.models import speed
  from odn_jax.models import ResNet  # pylint: disable=g-import-not-at-top
  model = ResNet(arch, num_classes, width)
  rows = size.depth_table(model, tuple(input_shape), flops=flops)
  if throughput:
    measured = speed.throughput(model, input_shape, [r['depth'] for r in rows], batch_sizes)
    rows = [{**r, **m} for r, m in zip(rows, measured)]
  return rows


def __getattr__(name: str):
  if name in _LAZY:
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
  return sorted(set(globals()) | set(_LAZY))
