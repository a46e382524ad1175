r"""The peer baseline: the same depth-partitioned ResNet and SGD in PyTorch eager.

Run by step_throughput.py in its own process (PyTorch's CPU build may live in another
Python than JAX's); prints one JSON object of images/s per depth.

  python benchmarks/torch_resnet.py --arch=resnet18 --depths=1,2,4,8 --batch_size=128
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn

ARCHS = {'resnet18': ('basic', (2, 2, 2, 2)), 'resnet34': ('basic', (3, 4, 6, 3)),
         'resnet50': ('bottleneck', (3, 4, 6, 3))}


class Block(nn.Module):

  def __init__(self, kind, cin, features, stride):
    super().__init__()
    expansion = 4 if kind == 'bottleneck' else 1
    cout = features * expansion
    bn = nn.BatchNorm2d
    if kind == 'basic':
      self.body = nn.Sequential(
          nn.Conv2d(cin, features, 3, stride, 1, bias=False), bn(features), nn.ReLU(inplace=True),
          nn.Conv2d(features, features, 3, 1, 1, bias=False), bn(features))
    else:
      self.body = nn.Sequential(
          nn.Conv2d(cin, features, 1, bias=False), bn(features), nn.ReLU(inplace=True),
          nn.Conv2d(features, features, 3, stride, 1, bias=False), bn(features),
          nn.ReLU(inplace=True), nn.Conv2d(features, cout, 1, bias=False), bn(cout))
    self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), bn(cout))
                     if stride != 1 or cin != cout else nn.Identity())
    self.out_channels = cout

  def forward(self, x):
    return torch.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
  """Stem (3x3, stride 1, no max-pool), blocks, and one head per block."""

  def __init__(self, arch, num_classes, width, channels):
    super().__init__()
    kind, stages = ARCHS[arch]
    self.stem = nn.Sequential(nn.Conv2d(channels, width, 3, 1, 1, bias=False),
                              nn.BatchNorm2d(width), nn.ReLU(inplace=True))
    blocks, heads, cin = [], [], width
    for stage, size in enumerate(stages):
      for i in range(size):
        block = Block(kind, cin, width * 2**stage, 2 if stage > 0 and i == 0 else 1)
        blocks.append(block)
        heads.append(nn.Linear(block.out_channels, num_classes))
        cin = block.out_channels
    self.blocks, self.heads = nn.ModuleList(blocks), nn.ModuleList(heads)

  def forward(self, x, depth, all_heads=False):
    x = self.stem(x)
    logits = []
    for d in range(depth):
      x = self.blocks[d](x)
      if all_heads or d == depth - 1:
        logits.append(self.heads[d](x.mean((2, 3))))
    return logits


def images_per_s(fn, batch_size, steps, warmup, repeats):
  """Median over `repeats` rounds of `steps` calls: shared CPUs make single rounds noisy."""
  for _ in range(warmup):
    fn()
  rates = []
  for _ in range(repeats):
    started = time.perf_counter()
    for _ in range(steps):
      fn()
    rates.append(batch_size * steps / (time.perf_counter() - started))
  return statistics.median(rates)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--arch', default='resnet18')
  parser.add_argument('--depths', default='1,2,4,8')
  parser.add_argument('--batch_size', type=int, default=128)
  parser.add_argument('--input_shape', default='28,28,1')
  parser.add_argument('--width', type=int, default=64)
  parser.add_argument('--steps', type=int, default=10)
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--threads', type=int, default=0)
  args = parser.parse_args()
  if args.threads:
    torch.set_num_threads(args.threads)
  h, w, c = (int(v) for v in args.input_shape.split(','))
  torch.manual_seed(0)
  model = ResNet(args.arch, 10, args.width, c)
  x = torch.randn(args.batch_size, c, h, w)
  y = torch.randint(0, 10, (args.batch_size,))
  loss_fn = nn.CrossEntropyLoss()
  rows = []
  for depth in (int(d) for d in args.depths.split(',')):
    # The optimizer holds only the active prefix, as the JAX train step does.
    active = (list(model.stem.parameters()) + list(model.blocks[:depth].parameters())
              + list(model.heads[depth - 1].parameters()))
    opt = torch.optim.SGD(active, lr=0.01, momentum=0.9, weight_decay=5e-4)

    def train():
      opt.zero_grad(set_to_none=True)
      loss_fn(model(x, depth)[0], y).backward()
      opt.step()

    def evaluate():
      with torch.no_grad():
        model(x, depth, all_heads=True)

    model.train()
    train_ips = images_per_s(train, args.batch_size, args.steps, 2, args.repeats)
    model.eval()
    eval_ips = images_per_s(evaluate, args.batch_size, args.steps, 2, args.repeats)
    model.train()
    rows.append({'depth': depth, 'train_images_per_s': round(train_ips, 1),
                 'eval_images_per_s': round(eval_ips, 1)})
  all_params = list(model.parameters())
  opt = torch.optim.SGD(all_params, lr=0.01, momentum=0.9, weight_decay=5e-4)

  def warmup_per_depth():  # the reference's warm-up: one forward/backward per depth
    opt.zero_grad(set_to_none=True)
    for depth in range(1, len(model.blocks) + 1):
      loss_fn(model(x, depth)[0], y).backward()
    opt.step()

  def warmup_one_pass():
    opt.zero_grad(set_to_none=True)
    sum(loss_fn(l, y) for l in model(x, len(model.blocks), all_heads=True)).backward()
    opt.step()

  warmup_timing = (args.batch_size, max(2, args.steps // 3), 1, args.repeats)
  print(json.dumps({
      'framework': 'torch', 'version': torch.__version__, 'threads': torch.get_num_threads(),
      'arch': args.arch, 'batch_size': args.batch_size, 'per_depth': rows,
      'warmup_one_pass_images_per_s': round(images_per_s(warmup_one_pass, *warmup_timing), 1),
      'warmup_per_depth_images_per_s': round(images_per_s(warmup_per_depth, *warmup_timing), 1)}))


if __name__ == '__main__':
  main()
