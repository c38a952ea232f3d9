"""Aggregates results.json: mean and std over seeds per arm, the contrasts of PROTOCOL.md with
their seed-noise rule, a markdown table and the plot.

    python -m experiments.novel_class.report /tmp/novel_class    # rewrite results.md + png

Seed-noise rule (PROTOCOL.md): a difference of means between two arms is "outside seed noise"
when |delta| > 2 * SE (SE = sqrt(s_a^2 / n_a + s_b^2 / n_b), sample std over seeds) AND every
seed of one arm lies above every seed of the other (with 3 vs 3 seeds: an exact one-sided
permutation test at p = 1/20).
"""

import json
import math
import os
import sys

import numpy as np

METRICS = ("gt_seen_ap", "gt_unseen_ap", "seen_miou", "unseen_miou", "det_seen_ap",
           "det_unseen_ap", "gt_seen_ar", "gt_unseen_ar", "gt_seen_ap50", "gt_unseen_ap50")
PRIMARY = ("hourglass52", "resnet4", "gt_unseen_ap")
# (label, arm a, arm b, metric): delta = mean(a) - mean(b).
CONTRASTS = (
    ("P1 primary: hourglass52 vs resnet4, unseen AP@GT", "hourglass52", "resnet4",
     "gt_unseen_ap"),
    ("S1 same, unseen mIoU@GT", "hourglass52", "resnet4", "unseen_miou"),
    ("S2 same, seen AP@GT (should barely move)", "hourglass52", "resnet4", "gt_seen_ap"),
    ("S3 hourglass20 vs resnet4, unseen AP@GT", "hourglass20", "resnet4", "gt_unseen_ap"),
    ("S4 hourglass52 vs resnet8, unseen AP@GT", "hourglass52", "resnet8", "gt_unseen_ap"),
    ("S5 hourglass52 vs embedding_projection, unseen AP@GT", "hourglass52",
     "embedding_projection", "gt_unseen_ap"),
    ("S6 hourglass52 vs resnet4, unseen AP det", "hourglass52", "resnet4", "det_unseen_ap"),
    ("A1 GT vs predicted crops, resnet4, unseen AP@GT", "resnet4", "resnet4/predicted",
     "gt_unseen_ap"),
    ("A2 GT vs predicted crops, hourglass52, unseen AP@GT", "hourglass52",
     "hourglass52/predicted", "gt_unseen_ap"),
    ("A3 mask 32 vs 16, resnet4, unseen AP@GT", "resnet4", "resnet4/mask16", "gt_unseen_ap"),
    ("A4 mask 32 vs 16, hourglass20, unseen AP@GT", "hourglass20", "hourglass20/mask16",
     "gt_unseen_ap"),
    ("A5 all-class masks vs partial, resnet4, unseen AP@GT", "resnet4/all", "resnet4",
     "gt_unseen_ap"),
    ("A6 all-class masks vs partial, hourglass52, unseen AP@GT", "hourglass52/all",
     "hourglass52", "gt_unseen_ap"),
    ("A7 all-class masks: hourglass52 vs resnet4, unseen AP@GT", "hourglass52/all",
     "resnet4/all", "gt_unseen_ap"),
    ("B1 twice the steps: hourglass52 vs resnet4, unseen AP@GT", "hourglass52/x2steps",
     "resnet4/x2steps", "gt_unseen_ap"),
    ("B2 twice vs once the steps, hourglass52, unseen AP@GT", "hourglass52/x2steps",
     "hourglass52", "gt_unseen_ap"),
    ("B3 twice vs once the steps, resnet4, unseen AP@GT", "resnet4/x2steps", "resnet4",
     "gt_unseen_ap"),
)


def by_arm(results):
  """{arm: {"runs": [...], metric: [values over seeds]}} in the order arms first appear."""
  arms = {}
  for run in results["runs"]:
    entry = arms.setdefault(run["arm"], {"runs": []})
    entry["runs"].append(run)
    for m in METRICS:
      if m in run["metrics"]:
        entry.setdefault(m, []).append(float(run["metrics"][m]))
  return arms


def _mean_std(values):
  values = np.asarray(values, np.float64)
  std = float(values.std(ddof=1)) if values.size > 1 else float("nan")
  return float(values.mean()), std


def contrast(arms, a, b, metric):
  """-> dict(delta, se, separated, outside_noise) or None when an arm/metric is missing."""
  if a not in arms or b not in arms or metric not in arms[a] or metric not in arms[b]:
    return None
  va, vb = np.asarray(arms[a][metric]), np.asarray(arms[b][metric])
  delta = float(va.mean() - vb.mean())
  var_a = va.var(ddof=1) if va.size > 1 else float("nan")
  var_b = vb.var(ddof=1) if vb.size > 1 else float("nan")
  se = float(math.sqrt(var_a / va.size + var_b / vb.size))
  separated = bool(va.min() > vb.max() or vb.min() > va.max())
  outside = bool(separated and not math.isnan(se) and abs(delta) > 2.0 * se)
  return {"a": a, "b": b, "metric": metric, "delta": delta, "se": se,
          "relative": delta / float(vb.mean()) if vb.mean() else float("nan"),
          "separated": separated, "outside_noise": outside, "n": [int(va.size), int(vb.size)]}


def verdict(arms):
  """The claim's verdict by PROTOCOL.md's decision rule (a sentence), or None if incomplete."""
  p1 = contrast(arms, *PRIMARY)
  s1 = contrast(arms, "hourglass52", "resnet4", "unseen_miou")
  seen = contrast(arms, "hourglass52", "resnet4", "gt_seen_ap")
  if p1 is None or s1 is None or seen is None or min(p1["n"]) < 3:
    return None
  if p1["delta"] > 0 and p1["outside_noise"] and s1["delta"] > 0 and (
      abs(seen["delta"]) < p1["delta"]):
    return "REPRODUCES: the deep head segments unseen classes better, outside seed noise"
  if p1["delta"] < 0 and p1["outside_noise"]:
    return "OPPOSITE: the shallow head segments unseen classes better, outside seed noise"
  return "NOT DETECTED: no unseen-class difference outside seed noise at this scale"


def _fmt(values, scale=100.0):
  if not values:
    return "-"
  mean, std = _mean_std(values)
  if math.isnan(std):
    return f"{scale * mean:.1f}"
  return f"{scale * mean:.1f} ± {scale * std:.1f}"


def markdown(results):
  """The results table (AP and IoU in %), the contrasts and the verdict, as markdown."""
  arms = by_arm(results)
  lines = ["| arm | head | mask size | crops | masks for | steps | mask-net params "
           "| seen AP@GT | unseen AP@GT | seen mIoU@GT | unseen mIoU@GT | seen AP det "
           "| unseen AP det | seeds | CPU s / run |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
  steps = results.get("settings", {}).get("head_steps", 0)
  for name, entry in arms.items():
    r0 = entry["runs"][0]
    cpu = np.mean([r["total"]["cpu_s"] for r in entry["runs"]])
    lines.append(
        f"| {name} | {r0['head']} | {r0['mask_size']} | {r0['crops']} | "
        f"{'seen classes' if r0['supervision'] == 'partial' else 'all classes'} | "
        f"{steps * r0.get('budget', 1)} | {r0['mask_net_params']:,} | "
        f"{_fmt(entry.get('gt_seen_ap'))} | {_fmt(entry.get('gt_unseen_ap'))} | "
        f"{_fmt(entry.get('seen_miou'))} | {_fmt(entry.get('unseen_miou'))} | "
        f"{_fmt(entry.get('det_seen_ap'))} | {_fmt(entry.get('det_unseen_ap'))} | "
        f"{len(entry['runs'])} | {cpu:.0f} |")
  nan = float("nan")
  for name, base in sorted(results.get("baselines", {}).items()):
    values = " | ".join(f"{100 * base.get(k, nan):.1f}"
                        for k in ("gt_seen_ap", "gt_unseen_ap", "seen_miou", "unseen_miou",
                                  "det_seen_ap", "det_unseen_ap"))
    lines.append(f"| baseline: {name} | - | - | - | - | - | 0 | {values} | - | - |")
  lines += ["", "AP@GT: COCO mask AP (IoU 0.5:0.95, pycocotools) of box-prompted masks at the "
            "ground-truth boxes and classes (score: mean foreground probability); mIoU@GT: mean "
            "mask IoU of the same masks; AP det: COCO mask AP of the model's own detections. "
            "Each is the mean over the 12 classes of the split; mean ± std over seeds, in %. "
            "Baselines: one constant mask per box (their AP@GT ranks ties arbitrarily).", ""]
  det = results.get("detector")
  if det:
    lines.append(f"Shared detector: box AP {100 * det.get('box_ap', nan):.1f} (seen "
                 f"{100 * det.get('seen_box_ap', nan):.1f}, unseen "
                 f"{100 * det.get('unseen_box_ap', nan):.1f}), final loss "
                 f"{det.get('loss', nan):.3f}, {det.get('cpu_s', 0):.0f} CPU s.")
    lines.append("")
  lines += ["| contrast | delta (points) | 2·SE | relative | seeds separated "
            "| outside seed noise |",
            "|---|---|---|---|---|---|"]
  for label, a, b, metric in CONTRASTS:
    c = contrast(arms, a, b, metric)
    if c is None:
      continue
    lines.append(f"| {label} | {100 * c['delta']:+.1f} | {200 * c['se']:.1f} | "
                 f"{100 * c['relative']:+.0f} % | {'yes' if c['separated'] else 'no'} | "
                 f"{'**yes**' if c['outside_noise'] else 'no'} |")
  v = verdict(arms)
  if v:
    lines += ["", f"Verdict (PROTOCOL.md decision rule): **{v}**."]
  elapsed = results.get("elapsed")
  if elapsed:
    start = results.get("machine_start", {}).get("load_avg")
    end = results.get("machine_end", {}).get("load_avg")
    lines += ["", f"Elapsed: {elapsed['wall_s'] / 60:.1f} min wall, {elapsed['cpu_s'] / 60:.1f} "
              f"CPU-min; load average at start {start}, at end {end}."]
  return "\n".join(lines) + "\n"


def plot(results, path):
  """Unseen (and seen) mask AP and mIoU@GT against mask-network parameters (PNG)."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

  arms = by_arm(results)
  zero_x = 3e3  # where the parameter-free head sits on the log axis
  fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
  for ax, (metric, title) in zip(axes, (("gt_{}_ap", "mask AP at ground-truth boxes"),
                                         ("{}_miou", "mask IoU at ground-truth boxes"))):
    for split, style in (("unseen", dict(color="tab:red", marker="o", ms=7)),
                         ("seen", dict(color="tab:gray", marker="s", ms=5))):
      key = metric.format(split)
      xs, ys, es, names = [], [], [], []
      for name, entry in arms.items():
        r0 = entry["runs"][0]
        if (r0["crops"], r0["supervision"], r0["mask_size"], r0.get("budget", 1)) != (
            "gt", "partial", 32, 1):
          continue
        if key not in entry:
          continue
        mean, std = _mean_std(entry[key])
        xs.append(r0["mask_net_params"] or zero_x)
        ys.append(100 * mean)
        es.append(0.0 if math.isnan(std) else 100 * std)
        names.append(name)
      if not xs:
        continue
      order = np.argsort(xs)
      ax.errorbar(np.array(xs)[order], np.array(ys)[order], yerr=np.array(es)[order], capsize=3,
                  label=f"{split} classes (masks for seen only)", **style)
      if split == "unseen":
        for x, y, n in zip(xs, ys, names):
          ax.annotate(n, (x, y), textcoords="offset points", xytext=(5, -12), fontsize=8)
      for name, entry in arms.items():
        r0 = entry["runs"][0]
        if r0["supervision"] == "all" and key in entry and split == "unseen":
          mean, std = _mean_std(entry[key])
          ax.errorbar([r0["mask_net_params"] or zero_x], [100 * mean],
                      yerr=[0.0 if math.isnan(std) else 100 * std], marker="^", mfc="none",
                      color="tab:blue", capsize=3, ls="none",
                      label="unseen, all classes' masks (upper bound)" if name.startswith(
                          "resnet4") else None)
    for name, base in sorted(results.get("baselines", {}).items()):
      if metric.format("unseen") in base:
        ax.axhline(100 * base[metric.format("unseen")], ls="--", lw=1,
                   color="tab:green" if name == "filled_box" else "tab:purple",
                   label=f"unseen, {name.replace('_', ' ')} baseline")
    ax.set_xscale("log")
    ax.set_xlabel("mask-network parameters (embedding_projection: 0, drawn at 3e3)")
    ax.set_ylabel(f"{title}, %")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
  seeds = results.get("settings", {}).get("seeds")
  fig.suptitle(f"Novel-class segmentation vs mask-head size (mean ± std over seeds {seeds})")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def write(results, out):
  """Writes results.md and novel_class.png into `out`."""
  with open(os.path.join(out, "results.md"), "w") as f:
    f.write(markdown(results))
  if results.get("runs"):
    plot(results, os.path.join(out, "novel_class.png"))


if __name__ == "__main__":
  folder = sys.argv[1]
  with open(os.path.join(folder, "results.json")) as f:
    write(json.load(f), folder)
  print(open(os.path.join(folder, "results.md")).read())
