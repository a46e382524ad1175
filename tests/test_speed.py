"""Measured inference speed: the structure of what is measured, never a speed threshold."""

import jax
import pytest

from odn_jax.models import ResNet, speed


def test_subnet_against_full_measures_both_at_every_batch_size():
  model = ResNet('resnet18', 10, 4)
  t = speed.subnet_against_full(model, (8, 8, 1), 2, batch_sizes=(1, 3), runs=2)
  assert (t['optimal']['depth'], t['full']['depth']) == (2, 8)
  assert t['batch_sizes'] == [1, 3] and t['runs'] == 2
  assert jax.default_backend() in t['device']
  for key in ('images_per_s_batch_1', 'images_per_s_batch_3'):
    assert t['optimal'][key] > 0 and t['full'][key] > 0
    assert t['speedup'][key] == pytest.approx(t['optimal'][key] / t['full'][key], abs=0.01)


def test_the_full_depth_is_measured_once():
  t = speed.subnet_against_full(ResNet('resnet18', 10, 4), (8, 8, 1), 8, batch_sizes=(2,), runs=1)
  assert t['optimal'] == t['full'] and t['speedup'] == {'images_per_s_batch_2': 1.0}


def test_images_per_second_counts_the_batch_and_times_the_median(monkeypatch):
  calls = []
  clock = iter([0.0, 1.0, 10.0, 12.0, 20.0, 24.0])  # timed calls of 1, 2 and 4 seconds
  monkeypatch.setattr(speed.time, 'perf_counter', lambda: next(clock))
  forward = lambda variables, images: calls.append(len(images)) or images
  assert speed.images_per_second(forward, {}, jax.numpy.zeros((6, 2)), runs=3) == 3.0
  assert calls == [6] * 5  # two untimed (compile, warm-up), then the three timed


def test_bad_arguments_are_refused():
  model = ResNet('resnet18', 10, 4)
  with pytest.raises(ValueError, match='batch sizes'):
    speed.throughput(model, (8, 8, 1), [1], batch_sizes=(0,))
  with pytest.raises(ValueError, match='depth'):
    speed.throughput(model, (8, 8, 1), [9])
