"""ResNets cut after every residual block, one classifier head per cut.

The network is a `ResNet` description (hashable, so it can be a static argument of
`jax.jit`) plus two explicit pytrees: `params` and `state` (BatchNorm statistics).
Both are flat dicts keyed by piece: 'stem', 'block_01' .. 'block_NN', 'head_01' ..
'head_NN'. Depth d reads only 'stem', blocks 1..d and 'head_d', so a prefix or an
extracted subnet of the full tree is itself a valid tree for `apply` at depth d.
"""

import dataclasses
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from odn_jax.errors import ConfigError

# arch -> (block kind, blocks per stage)
ARCHS = {
    'resnet18': ('basic', (2, 2, 2, 2)),
    'resnet34': ('basic', (3, 4, 6, 3)),
    'resnet50': ('bottleneck', (3, 4, 6, 3)),
    'resnet101': ('bottleneck', (3, 4, 23, 3)),
    'resnet152': ('bottleneck', (3, 8, 36, 3)),
}
_EXPANSION = {'basic': 1, 'bottleneck': 4}

# PyTorch's default initialisation, which the paper's networks use: conv and dense kernels
# kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)), variance 1/(3 fan_in); dense biases
# U(+-1/sqrt(fan_in)). Behind BatchNorm the weight scale sets the effective learning rate.
_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, 'fan_in', 'uniform')


def _bias_init(fan_in: int):
  bound = 1.0 / fan_in**0.5
  return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound,
                                                                  bound)


def block_key(i: int) -> str:
  return f'block_{i:02d}'


def head_key(i: int) -> str:
  return f'head_{i:02d}'


def num_blocks(arch: str) -> int:
  return sum(_arch(arch)[1])


def _arch(arch: str):
  if arch not in ARCHS:
    raise ConfigError(f'unknown architecture {arch!r}; choose one of {sorted(ARCHS)}')
  return ARCHS[arch]


@dataclasses.dataclass(frozen=True)
class BlockSpec:
  kind: str  # 'basic' | 'bottleneck'
  features: int  # inner width; the block outputs features * expansion channels
  strides: int
  in_channels: int

  @property
  def out_channels(self) -> int:
    return self.features * _EXPANSION[self.kind]

  @property
  def projects(self) -> bool:
    return self.strides != 1 or self.in_channels != self.out_channels


class _Conv(nn.Conv):
  """nn.Conv that can materialise its input first.

  In training on XLA:CPU the weight gradient of a convolution reads its input through a
  transpose, and XLA fuses the producer (BatchNorm, ReLU) into that transpose, recomputing
  it there at a poor memory access pattern; a barrier keeps the input as computed. It
  lifts the ResNet-18 depth-2 train step by about a fifth (BENCHMARKS.md).
  """
  materialize_input: bool = False

  def __call__(self, x):
    if self.materialize_input:
      x = jax.lax.optimization_barrier(x)
    return super().__call__(x)


def _conv(features, kernel, strides, train, dtype, name):
  pad = (kernel - 1) // 2  # symmetric, as PyTorch's padding=1 (not XLA's 'SAME' for stride 2)
  return _Conv(features, (kernel, kernel), (strides, strides), padding=[(pad, pad)] * 2,
               use_bias=False, kernel_init=_kernel_init, dtype=dtype, name=name,
               materialize_input=train and jax.default_backend() == 'cpu')


# PyTorch's BatchNorm2d defaults: running stats updated with weight 0.1, eps 1e-5.
BN_MOMENTUM = 0.9


def _norm(train, dtype, name):
  return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=1e-5,
                      dtype=dtype, name=name)


class Stem(nn.Module):
  """The small-image stem: 3x3 conv, stride 1, BN, ReLU, no max-pool."""
  width: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    x = _conv(self.width, 3, 1, train, self.dtype, 'conv')(x)
    return nn.relu(_norm(train, self.dtype, 'bn')(x))


class Block(nn.Module):
  """A basic or bottleneck residual block; its last BatchNorm is always 'bn_out'."""
  spec: BlockSpec
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    s = self.spec
    conv = lambda f, k, st, name: _conv(f, k, st, train, self.dtype, name)
    norm = lambda name: _norm(train, self.dtype, name)
    if s.kind == 'basic':
      y = nn.relu(norm('bn1')(conv(s.features, 3, s.strides, 'conv1')(x)))
      y = norm('bn_out')(conv(s.features, 3, 1, 'conv2')(y))
    else:  # bottleneck, stride on the 3x3 convolution
      y = nn.relu(norm('bn1')(conv(s.features, 1, 1, 'conv1')(x)))
      y = nn.relu(norm('bn2')(conv(s.features, 3, s.strides, 'conv2')(y)))
      y = norm('bn_out')(conv(s.out_channels, 1, 1, 'conv3')(y))
    if s.projects:
      x = norm('proj_bn')(conv(s.out_channels, 1, s.strides, 'proj_conv')(x))
    return nn.relu(x + y)


class Head(nn.Module):
  """Global average pool, then Dense; logits in float32 whatever the compute dtype."""
  num_classes: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    x = jnp.mean(x, axis=(1, 2))
    dense = nn.Dense(self.num_classes, dtype=self.dtype, kernel_init=_kernel_init,
                     bias_init=_bias_init(x.shape[-1]))
    return dense(x).astype(jnp.float32)


@dataclasses.dataclass(frozen=True)
class ResNet:
  """A depth-partitioned ResNet: what to build, never the weights themselves."""
  arch: str
  num_classes: int
  width: int = 64
  dtype: Any = jnp.float32  # compute dtype; parameters stay float32

  def __post_init__(self):
    _arch(self.arch)
    if self.width < 1 or self.num_classes < 1:
      raise ConfigError(f'width and num_classes must be >= 1, got {self.width}, {self.num_classes}')
    # One spelling of each dtype, so equal networks are equal static arguments of jax.jit.
    object.__setattr__(self, 'dtype', jnp.dtype(self.dtype))

  @functools.cached_property
  def blocks(self) -> tuple[BlockSpec, ...]:
    kind, stage_sizes = _arch(self.arch)
    specs, channels = [], self.width
    for stage, size in enumerate(stage_sizes):
      for i in range(size):
        spec = BlockSpec(kind, self.width * 2**stage, 2 if stage > 0 and i == 0 else 1, channels)
        specs.append(spec)
        channels = spec.out_channels
    return tuple(specs)

  @property
  def max_depth(self) -> int:
    return len(self.blocks)

  def _stem(self):
    return Stem(self.width, self.dtype)

  def _block(self, d):
    return Block(self.blocks[d - 1], self.dtype)

  def _head(self):
    return Head(self.num_classes, self.dtype)

  def check_depth(self, depth: int):
    if not 1 <= depth <= self.max_depth:
      raise ValueError(f'depth must be in 1..{self.max_depth} for {self.arch}, got {depth}')

  def init(self, rng: jax.Array, input_shape: Sequence[int]) -> tuple[dict, dict]:
    """Returns (params, state) of the full network for images of shape (H, W, C)."""
    return _jit_init(self, rng, tuple(input_shape))

  def _init(self, rng, input_shape):
    x = jnp.zeros((1, *input_shape), jnp.float32)
    rngs = jax.random.split(rng, 2 * self.max_depth + 1)
    params, state = {}, {}

    def add(key, module, rng, *args):
      variables = module.init(rng, *args)
      params[key] = variables['params']
      if 'batch_stats' in variables:
        state[key] = variables['batch_stats']
      return module.apply(variables, *args)

    x = add('stem', self._stem(), rngs[0], x, False)
    for d in range(1, self.max_depth + 1):
      x = add(block_key(d), self._block(d), rngs[d], x, False)
      add(head_key(d), self._head(), rngs[self.max_depth + d], x)
    return params, state

  def features(self, params, state, x, depth: int, train: bool):
    """Outputs of blocks 1..depth (a list) and the updated BatchNorm state."""
    self.check_depth(depth)
    new_state = {}

    def run(key, module, x):
      variables = {'params': params[key], 'batch_stats': state[key]}
      if not train:
        return module.apply(variables, x, train)
      x, updates = module.apply(variables, x, train, mutable=['batch_stats'])
      new_state[key] = updates['batch_stats']
      return x

    x = run('stem', self._stem(), x.astype(self.dtype))
    outputs = []
    for d in range(1, depth + 1):
      x = run(block_key(d), self._block(d), x)
      outputs.append(x)
    return outputs, ({**state, **new_state} if train else state)

  def head(self, params, d: int, x):
    return self._head().apply({'params': params[head_key(d)]}, x)

  def apply(self, params, state, x, depth: int, train: bool = False):
    """Logits of head `depth` and the new state; touches only stem, blocks 1..depth, head depth."""
    outputs, state = self.features(params, state, x, depth, train)
    return self.head(params, depth, outputs[-1]), state

  def apply_all_heads(self, params, state, x, depth: int, train: bool = False):
    """Logits of heads 1..depth from one pass (each head reads its block's output)."""
    outputs, state = self.features(params, state, x, depth, train)
    return [self.head(params, d, y) for d, y in enumerate(outputs, 1)], state


# One compiled program instead of hundreds of eager initialisations.
_jit_init = jax.jit(ResNet._init, static_argnums=(0, 2))
