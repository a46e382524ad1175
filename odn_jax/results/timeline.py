"""report.md's timeline of a raced search: which depth trained on which slot when, and what
was cancelled (summary.json's `race`, from `odn_jax.search.race.Race.summary`)."""

import math

ENDED = {'short': 'fell short', 'done': 'finished', 'cancelled': 'cancelled',
         'training': 'training', 'committed': 'finishing'}
WIDTH = 100  # characters of the chart at most: longer races show one mark per few rounds


def mark(depth: int) -> str:
  return '0123456789abcdefghijklmnopqrstuvwxyz'[depth] if depth < 36 else '+'


def chart(race: dict) -> list[str]:
  """One line per slot, one character per round (or per `step` rounds): the depth it
  trained (0-9, then a-z), '.' idle; a cancelled depth's last round is 'x'."""
  rounds = max(race['rounds'], 1)
  step = math.ceil(rounds / WIDTH)
  lines = [f'rounds 1..{rounds}' + (f', one mark per {step} rounds' if step > 1 else '')]
  for slot in range(race['slots']):
    row = ['.'] * math.ceil(rounds / step)
    for run in race['runs']:
      if run['slot'] != slot:
        continue
      end = run['end_round'] or run['start_round'] + run['epochs'] - 1
      for r in range(run['start_round'], end + 1):
        row[(r - 1) // step] = mark(run['depth'])
      if run['state'] == 'cancelled':
        row[(end - 1) // step] = 'x'
    lines.append(f'slot {slot}  ' + ''.join(row))
  return lines


def markdown(s: dict) -> list[str]:
  """The section, or nothing for a sequential search."""
  race = s.get('race')
  if not race:
    return []
  sequential = s['epochs_total'] - s.get('speculative_epochs', 0) - s.get('warmup_epochs', 0)
  lines = ['', '## Race of depths', '',
           f'{race["slots"]} slots of {s["num_devices"] // s["parallel_depths"]} device(s) '
           f'each (search.parallel_depths={s["parallel_depths"]}, race_lookahead='
           f'{race["lookahead"]}): the search ended {s["critical_path_epochs"]} rounds of '
           f'epochs after the warm-up, where the sequential search trains {sequential} '
           f'epochs one after the other; {s.get("speculative_epochs", 0)} epochs went to '
           f'depths deeper than the answer, depth {race["answer"]}.', '',
           '| depth | slot | rounds | epochs | ended |', '|---|---|---|---|---|']
  for run in race['runs']:
    end = run['end_round'] or '…'
    answer = ' **(answer)**' if run['depth'] == race['answer'] else ''
    lines.append(f'| {run["depth"]}{answer} | {run["slot"]} | {run["start_round"]}-{end} | '
                 f'{run["epochs"]} | {ENDED.get(run["state"], run["state"])} |')
  return lines + ['', '```', *chart(race), '```']
