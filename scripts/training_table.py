#!/usr/bin/env python3
"""Per-epoch table of a run's training, as markdown, from its metrics.jsonl.

    python3 scripts/training_table.py RUN [--phase pretrain]

One row per validation record of the phase: epoch, step, train loss and masked accuracy
(epoch averages), validation loss and masked accuracy, the health signals of
docs/training.md, and the wall time (each record's `seconds` is the time of its epoch;
the last column sums them). docs/results.md quotes its output. Standard library only.
"""
import argparse
import json
import pathlib


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=pathlib.Path)
    parser.add_argument("--phase", default="pretrain")
    args = parser.parse_args()
    rows = []
    for line in (args.run / "metrics.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if r.get("phase") == args.phase and r.get("kind", "validation") == "validation":
            rows.append(r)
    print("| epoch | step | loss | masked_accuracy | val_loss | val_masked_accuracy "
          "| encoder share | cross-attn entropy | epoch time | total |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    total = 0.0
    for r in rows:
        total += r.get("seconds", 0.0)
        health = (f"{r['encoder_position_share']:.3f} | {r['cross_attention_entropy']:.3f}"
                  if "encoder_position_share" in r else "- | -")
        print(f"| {r['epoch']} | {r['step']} | {r['loss']:.4f} | {r['masked_accuracy']:.4f} "
              f"| {r['val_loss']:.4f} | {r['val_masked_accuracy']:.4f} | {health} "
              f"| {r.get('seconds', 0) / 60:.1f} min | {total / 3600:.2f} h |")


if __name__ == "__main__":
    main()
