"""Depth-partitioned ResNets: shapes, locality of depth, reference parameter counts."""

import functools
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from odn_jax import models
from odn_jax.config import defaults
from odn_jax.errors import ConfigError
from odn_jax.models import ARCHS, block_key, head_key, partition, ResNet, size
from odn_jax.run import compilation

# One small network shared by the tests below, so its programs compile once.
MODEL = ResNet('resnet18', num_classes=4, width=4)
SHAPE = (8, 8, 1)


@pytest.fixture(scope='module')
def variables():
  return MODEL.init(jax.random.key(0), SHAPE)


@pytest.fixture(scope='module')
def images():
  return jax.random.normal(jax.random.key(1), (3, *SHAPE))


@pytest.mark.parametrize('arch', sorted(ARCHS))
@pytest.mark.parametrize('channels', [1, 3])
def test_output_shape_every_depth(arch, channels):
  model = ResNet(arch, num_classes=7, width=4)
  input_shape = (16, 12, channels)
  params, state = size.abstract_variables(model, input_shape)
  x = jax.ShapeDtypeStruct((2, *input_shape), jnp.float32)
  # Head d of the all-heads pass is exactly what `apply` at depth d returns (tested below).
  all_logits, _ = jax.eval_shape(
      functools.partial(model.apply_all_heads, depth=model.max_depth, train=True),
      params, state, x)
  assert len(all_logits) == model.max_depth
  chex.assert_shape(all_logits, (2, 7))
  assert all(logits.dtype == jnp.float32 for logits in all_logits)


def test_apply_all_heads_matches_single_heads(variables, images):
  model, (params, state), x = MODEL, variables, images
  apply = jax.jit(model.apply, static_argnames=('depth', 'train'))
  all_logits, _ = jax.jit(model.apply_all_heads, static_argnames=('depth', 'train'))(
      params, state, x, depth=model.max_depth)
  for depth in (1, 4, model.max_depth):
    chex.assert_trees_all_close(all_logits[depth - 1], apply(params, state, x, depth=depth)[0],
                                rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('depth', [1, 3, 5])
def test_depth_reads_no_deeper_block(depth, variables, images):
  model, (params, state), x = MODEL, variables, images

  def loss(p):
    logits, _ = model.apply(p, state, x, depth, train=True)
    return jnp.sum(logits**2)

  grads = jax.grad(loss)(params)
  unread = [block_key(i) for i in range(depth + 1, model.max_depth + 1)]
  unread += [head_key(i) for i in range(1, model.max_depth + 1) if i != depth]
  for key in unread:
    chex.assert_trees_all_equal(grads[key], jax.tree.map(jnp.zeros_like, grads[key]))
  assert any(np.any(g != 0) for g in jax.tree.leaves(grads[block_key(depth)]))


def test_train_updates_only_active_batch_stats(variables, images):
  model, (params, state), x = MODEL, variables, images
  _, new_state = model.apply(params, state, x, 2, train=True)
  chex.assert_trees_all_equal(new_state[block_key(3)], state[block_key(3)])
  assert not np.allclose(new_state[block_key(2)]['bn_out']['mean'],
                         state[block_key(2)]['bn_out']['mean'])


@pytest.mark.parametrize('arch,input_shape,depth,params_depth,params_full,reduction', [
    ('resnet18', (28, 28, 1), 2, 149_322, 11_172_810, 98.66),
    ('resnet34', (32, 32, 3), 5, 750_666, 21_282_122, 96.47),
])
def test_reference_parameter_counts(arch, input_shape, depth, params_depth, params_full,
                                    reduction):
  rows = size.depth_table(ResNet(arch, num_classes=10), input_shape, flops=False)
  assert rows[-1]['params'] == params_full
  assert rows[depth - 1]['params'] == params_depth
  assert rows[depth - 1]['memory_reduction_pct'] == reduction


def test_bytes_count_parameters_and_batchnorm_statistics():
  model = ResNet('resnet18', num_classes=10, width=8)
  params, state = size.abstract_variables(model, (8, 8, 1))
  row = size.depth_table(model, (8, 8, 1), max_depth=1, flops=False)[0]
  p, s = partition.prefix(params, 1), partition.prefix(state, 1)
  assert row['bytes'] == 4 * (size.count_params(p) + size.count_params(s))


def test_flops_grow_with_depth_and_match_a_convolution():
  model = ResNet('resnet18', num_classes=10, width=8)
  flops = [size.forward_flops(model, (8, 8, 1), d) for d in (1, 2)]
  # Block 2 adds two 3x3 8->8 convolutions on 8x8: 2 * 64 positions * 9*8*8 MACs * 2.
  # XLA counts only the taps that land inside the image (22x22 of 24x24 with padding 1).
  assert flops[1] - flops[0] >= (22 / 24)**2 * 2 * 64 * 9 * 8 * 8 * 2
  assert flops[1] - flops[0] < 1.2 * 2 * 64 * 9 * 8 * 8 * 2


def test_prefix_merge_round_trip_leaves_the_rest_bit_identical(variables):
  params, _ = variables
  part = jax.tree.map(lambda x: x + 1.0, partition.prefix(params, 3))
  merged = partition.merge(params, part)
  assert set(merged) == set(params)
  for key in params:
    expected = part[key] if key in part else params[key]
    chex.assert_trees_all_equal(merged[key], expected)
  chex.assert_trees_all_equal(partition.merge(params, partition.prefix(params, 3)), params)
  with pytest.raises(KeyError):
    partition.merge(partition.prefix(params, 1), partition.prefix(params, 2))


@pytest.mark.parametrize('heads', ['last', 'all'])
def test_extracted_subnet_alone_gives_the_same_logits(heads, variables, images):
  model, (params, state), x = MODEL, variables, images
  depth = 5
  sub_params = partition.extract(params, depth, heads)
  sub_state = partition.extract(state, depth, heads)
  assert block_key(depth + 1) not in sub_params
  assert (head_key(1) in sub_params) == (heads == 'all')
  chex.assert_trees_all_close(model.apply(sub_params, sub_state, x, depth)[0],
                              model.apply(params, state, x, depth)[0])


def test_carry_over_keeps_matching_leaves_only():
  old = {'a': jnp.ones(3), 'b': jnp.ones(2)}
  new = {'a': jnp.zeros(3), 'b': jnp.zeros(4), 'c': jnp.zeros(1)}
  out = partition.carry_over(old, new)
  chex.assert_trees_all_equal(out, {'a': jnp.ones(3), 'b': jnp.zeros(4), 'c': jnp.zeros(1)})


def test_bad_architecture_and_depth_are_refused():
  with pytest.raises(ConfigError, match='unknown architecture'):
    ResNet('resnet19', 10)
  with pytest.raises(ValueError, match='depth must be in 1..8'):
    MODEL.check_depth(9)


def test_one_builder_and_model_json_round_trip():
  config = defaults.base_config()
  config.model.width = 8
  config.half_precision = True
  model = models.from_config(config, 26)
  assert model == models.build('resnet18', 26, 8, jnp.bfloat16)
  assert model.dtype == jnp.dtype('bfloat16')
  info = json.loads(json.dumps(models.spec(model)))  # as optimal/model.json holds it
  assert models.from_info(info) == model
  assert models.from_info({k: v for k, v in info.items() if k != 'dtype'}).dtype == jnp.float32
  # Equal descriptions are one static argument of jax.jit, however the dtype is spelled.
  assert hash(ResNet('resnet18', 10, 8, jnp.float32)) == hash(models.build('resnet18', 10, 8))


def test_flops_are_compiled_once_per_depth():
  model = models.build('resnet18', 10, 8)
  first = size.forward_flops(model, (8, 8, 1), 3)
  compiled = compilation.seconds()
  assert size.forward_flops(models.build('resnet18', 10, 8), [8, 8, 1], 3) == first
  assert compilation.seconds() == compiled
