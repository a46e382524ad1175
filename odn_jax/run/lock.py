"""One run per workdir at a time: an exclusive lock held for the run's whole life.

  with lock.held(workdir):   # a WorkdirBusy naming the holder if another run has it
    ...

The lock is `flock` on DIR/run.lock, which the kernel releases when its process ends in
any way (kill -9 included): a lock file left by a dead process is stale by construction
and the next run simply takes it. The file names its holder (pid, host, start time,
command) for the message a second run prints. On a multi-host job process 0 holds it for
every host. A remote workdir (gs://...) has no flock: it is not locked (docs/resuming.md).
"""

import contextlib
import datetime
import errno
import fcntl
import os
import socket
import sys

from odn_jax.errors import UserError
from odn_jax.run import workdir as workdir_lib


class WorkdirBusy(UserError, RuntimeError):
  """Another run holds the workdir's lock."""


def _holder(path: str) -> str:
  try:
    with open(path, encoding='utf-8', errors='replace') as f:
      text = ' '.join(f.read().split())
  except OSError:
    text = ''
  return text or 'a process that has not written its name yet'


def acquire(workdir) -> tuple[int | None, str | None]:
  """(the open, locked file descriptor of DIR/run.lock, its path if this call created it);
  (None, None) where nothing is locked: a remote workdir, or a process other than 0. The
  workdir must exist."""
  root = workdir_lib.path(workdir)
  if workdir_lib.is_remote(root) or not workdir_lib.is_writer():
    return None, None
  path = os.fspath(root / workdir_lib.LOCK)
  created = not os.path.exists(path)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError as e:
    os.close(fd)
    if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
      raise
    raise WorkdirBusy(f'workdir {workdir} is in use by another run ({_holder(path)}); wait '
                      'for it to end or stop it, or pass another --workdir') from None
  started = datetime.datetime.now().isoformat(timespec='seconds')
  command = ' '.join(sys.argv)
  command = command if len(command) <= 100 else command[:97] + '...'
  os.ftruncate(fd, 0)
  os.write(fd, f'pid {os.getpid()} on {socket.gethostname()} since {started}: '
               f'{command}\n'.encode())
  return fd, (path if created else None)


def release(fd: int | None, created: str | None = None):
  """Unlocks; a lock file this run created in a folder it left without a run is removed."""
  if fd is None:
    return
  if created and not workdir_lib.holds_run(os.path.dirname(created)):
    os.unlink(created)  # before the unlock: no other run can hold this file yet
  fcntl.flock(fd, fcntl.LOCK_UN)
  os.close(fd)


@contextlib.contextmanager
def held(workdir):
  """The workdir's lock, for the block; every host agrees on whether process 0 got it."""
  from odn_jax.run import parallel  # pylint: disable=g-import-not-at-top
  with parallel.agreed():
    fd, created = acquire(workdir)
  try:
    yield
  finally:
    release(fd, created)
