"""Data parallelism on 4 simulated CPU devices (each check runs in a fresh process)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_with_devices(code: str, devices: int = 4, timeout: int = 600):
  env = {**os.environ, 'XLA_FLAGS': f'--xla_force_host_platform_device_count={devices}',
         'JAX_PLATFORMS': 'cpu'}
  return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout, check=False)


def test_sharded_train_step_equals_one_device_step():
  out = run_with_devices('''
      import chex, jax, jax.numpy as jnp, numpy as np
      from odn_jax.config import defaults
      from odn_jax.models import partition, ResNet
      from odn_jax.run import parallel
      from odn_jax.train import steps as steps_lib
      assert jax.device_count() == 4
      model = ResNet('resnet18', num_classes=5, width=4)
      params, state = model.init(jax.random.key(0), (8, 8, 1))
      tx = steps_lib.make_optimizer(defaults.base_config().optim)
      steps = steps_lib.make_steps(model, tx)
      rng = np.random.default_rng(0)
      batch = {'image': rng.normal(size=(8, 8, 8, 1)).astype(np.float32),
               'label': rng.integers(0, 5, size=8).astype(np.int32)}

      def one_step(ts, batch):
        ts, metrics = steps.train(ts, steps_lib.zero_metrics(), batch, 0.1, depth=2)
        return jax.device_get((ts, metrics))

      make = lambda: steps_lib.create_train_state(tx, partition.prefix(params, 2),
                                                  partition.prefix(state, 2))
      single = one_step(jax.device_put(make(), jax.devices()[0]),
                        jax.device_put(batch, jax.devices()[0]))
      mesh = parallel.make_mesh()
      sharded_batch = parallel.shard_batch(batch, mesh)
      assert len(sharded_batch['image'].sharding.device_set) == 4
      multi = one_step(parallel.replicate(make(), mesh), sharded_batch)
      # BatchNorm statistics of the global batch, the same update, the same metrics.
      chex.assert_trees_all_close(multi[0].batch_stats, single[0].batch_stats, rtol=1e-5, atol=1e-6)
      chex.assert_trees_all_close(multi[0].params, single[0].params, rtol=1e-5, atol=1e-6)
      chex.assert_trees_all_close(multi[1], single[1], rtol=1e-5, atol=1e-6)
      print('OK')
  ''')
  assert out.returncode == 0 and 'OK' in out.stdout, out.stderr[-3000:]


def test_batch_size_must_divide_over_devices():
  out = run_with_devices('''
      from odn_jax.config import defaults
      from odn_jax.train import loop
      config = defaults.base_config()
      config.batch_size = 6
      try:
        loop.check_config(config)
      except ValueError as e:
        print(e)
  ''')
  assert 'config.batch_size=6 does not divide evenly over 4 devices' in out.stdout, out.stderr


@pytest.mark.slow
def test_quickstart_search_on_four_devices(tmp_path):
  out = run_with_devices(f'''
      import sys
      sys.path.insert(0, 'tests')
      from conftest import quickstart_config
      from odn_jax.train import loop as trainer
      config = quickstart_config()
      config.measure_throughput = False  # seconds of timing, not read here
      summary = trainer.train_and_evaluate(config, {str(tmp_path)!r}, quiet=True)
      print('DEVICES', summary['num_devices'], 'DEPTH', summary['optimal_depth'],
            'TEST', summary['test_accuracy'])
  ''')
  assert out.returncode == 0, out.stderr[-3000:]
  fields = out.stdout.split()
  assert fields[fields.index('DEVICES') + 1] == '4'
  assert float(fields[fields.index('TEST') + 1]) >= 90.0


def test_checkpoint_manager_leaves_the_preemption_sync_point_to_the_trainer(tmp_path,
                                                                            monkeypatch):
  # JAX agrees on one past the largest of the steps the hosts asked its sync point last:
  # Orbax's own asks (the saved step, from its finalize thread after the trainer asked
  # later ones) would make a host agree on a step it has passed, and a job hang.
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  from odn_jax.run import checkpoint  # pylint: disable=g-import-not-at-top
  asked = []
  monkeypatch.setattr(multihost_utils, 'reached_preemption_sync_point',
                      lambda step: asked.append(step) or False)
  mngr = checkpoint.manager(tmp_path, keep=2)
  for step in (16, 32):
    checkpoint.save_epoch(mngr, step, {'w': jnp.ones(3) * step}, {'step': step})
  mngr.close()  # waits for the finalize thread
  assert mngr.all_steps() == [16, 32]
  assert asked == []
