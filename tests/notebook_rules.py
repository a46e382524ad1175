"""The authors' notebooks' decision loop, transcribed as a pure function for the tests.

`train_till_convergence` in every notebook of GitHub saktx/Optimally_Deep_Networks runs,
after each epoch, in this order: round the validation accuracy (1 decimal while growing, 2
once fine-tuning), compare with the best (every 5th flat epoch multiplies the rate by 0.6),
expand (depth + 1, best 0, counter 0, warm-up weights, a new SGD at learning_rate * scale),
set the fine-tune flag, stop. Only the decisions are transcribed here; training is replaced
by `val_correct(epoch, depth, epochs_at_depth)`, the number of correct validation answers.
"""

STOPPING_EPOCHS = 23


def notebook_search(val_correct, val_total: int, target: float, tolerance: float,
                    max_depth: int, learning_rate: float, expansion_lr_scale: float = 0.5,
                    reset_best: bool = True, initial_depth: int = 1, max_epochs: int = 5000):
  """One record per epoch: what the notebook trained it with and what it decided after it."""
  depth, fine_tune_flag, no_improvement = initial_depth, 0, 0
  best_val_acc = 0.0
  lr = learning_rate
  epochs_at_depth = 0
  records = []
  for epoch in range(max_epochs):
    correct = val_correct(epoch, depth, epochs_at_depth)
    record = {'depth': depth, 'fine_tune': bool(fine_tune_flag), 'learning_rate': lr,
              'lr_decayed': False, 'expanded': False, 'flag_set': False, 'stop': False,
              'improved': False}
    epochs_at_depth += 1
    if fine_tune_flag == 0:
      val_acc = round((correct / val_total) * 100, 1)
    else:
      val_acc = round((correct / val_total) * 100, 2)
    if val_acc > best_val_acc:
      best_val_acc = val_acc
      no_improvement = 0
      record['improved'] = True
    else:
      no_improvement += 1
      if no_improvement % 5 == 0:
        lr *= 0.6
        record['lr_decayed'] = True
    if (no_improvement >= STOPPING_EPOCHS and best_val_acc <= target - tolerance
        and fine_tune_flag == 0):
      depth += 1
      if reset_best:
        best_val_acc = 0.0
      no_improvement = 0
      if depth > max_depth:
        depth = max_depth
      lr = learning_rate * expansion_lr_scale
      epochs_at_depth = 0
      record['expanded'] = True
    if fine_tune_flag == 0:
      if (no_improvement >= STOPPING_EPOCHS or best_val_acc >= target - tolerance
          or depth == max_depth):
        fine_tune_flag = 1
        record['flag_set'] = True
    records.append(record)
    if fine_tune_flag == 1 and no_improvement >= STOPPING_EPOCHS:
      record['stop'] = True
      return records
  raise RuntimeError(f'no stop within {max_epochs} epochs')
