#!/usr/bin/env bash
# Training step time of configs/small_bucketed.json at np 1 and np 2 (mpirun), one thread
# per rank, on the same global batches (the first TRAIN_PAIRS pairs of the TED train split,
# bucketed under the config's 4,096-token budget): what data parallelism buys on one
# machine, communication included. The figure is the progress bar's ms/step over one epoch
# of those pairs (training steps only, not start-up or validation). docs/scaling.md records it.
#
#   bench/data_parallel_step_time.sh BUILD_DIR VOCAB_DIR [TRAIN_PAIRS] [MATMULS]
#
# VOCAB_DIR holds vocab.pt.txt and vocab.en.txt (any run directory after `bcqnmt vocab`);
# TRAIN_PAIRS defaults to 2000 (about 20 steps), MATMULS (fp32 or bf16) to fp32. Needs
# BCQNMT_DATA (or the default corpus path) and mpirun; writes only into a temporary directory.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR VOCAB_DIR [TRAIN_PAIRS] [MATMULS]}
vocab=${2:?usage: $0 BUILD_DIR VOCAB_DIR [TRAIN_PAIRS] [MATMULS]}
pairs=${3:-2000}
matmuls=${4:-fp32}
here=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

python3 - "$here/configs/small_bucketed.json" "$scratch/config.json" "$pairs" "$matmuls" <<'EOF'
import json, sys
config = json.load(open(sys.argv[1]))
config["training"].update(train_limit=int(sys.argv[3]), validation_limit=64, matmul_precision=sys.argv[4])
json.dump(config, open(sys.argv[2], "w"), indent=2)
EOF

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ranks in 1 2; do
  run="$scratch/np$ranks"
  mkdir -p "$run"
  cp "$vocab/vocab.pt.txt" "$vocab/vocab.en.txt" "$run/"
  if ! mpirun --allow-run-as-root --oversubscribe -np "$ranks" "$build/bcqnmt" pretrain --threads 1 --epochs 1 \
    --run "$run" --config "$scratch/config.json" > "$scratch/np$ranks.log" 2>&1; then
    tail -5 "$scratch/np$ranks.log" >&2
    exit 1
  fi
  steps=$(grep -o '[0-9]*/[0-9]* \[=*\]' "$scratch/np$ranks.log" | tail -1 | cut -d/ -f1)
  per_step=$(grep -o '[0-9]*ms/step' "$scratch/np$ranks.log" | tail -1)
  echo "np $ranks: $steps steps, $per_step ($matmuls matmuls, 1 thread per rank)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
