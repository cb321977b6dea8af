#!/usr/bin/env bash
# Carries a training run from one machine to the next through the repository: a run
# directory lives outside it (runs/ is ignored), and machines change between sessions.
#
#   bash scripts/carry_run.sh save    RUN  DIR   # RUN's config, vocabularies, metrics.jsonl and
#                                                # pretrain/latest.ckpt (in 40 MB parts) -> DIR
#   bash scripts/carry_run.sh restore DIR  RUN   # back into a fresh RUN; training resumes
#                                                # exactly where it stopped
#   bash scripts/carry_run.sh save-model    RUN DIR  # a finished run's models: config, vocabularies,
#                                                    # metrics.jsonl, pretrain/averaged.ckpt (a model
#                                                    # without optimizer state, in 40 MB parts) and
#                                                    # every quantized/NAME/{settings.json,model.bcq}
#   bash scripts/carry_run.sh restore-model DIR RUN  # back into a fresh RUN as pretrain/best.ckpt:
#                                                    # evaluate, translate, quantize and report work;
#                                                    # pretraining does not resume (no latest.ckpt)
#
# Saved only at an epoch end where best.ckpt is latest.ckpt (the script checks), so one
# checkpoint serves as both. Parts are verified against their sha256 on restore.
set -euo pipefail
usage() { echo "usage: bash scripts/carry_run.sh save RUN DIR | restore DIR RUN | save-model RUN DIR | restore-model DIR RUN" >&2; exit 2; }
[ $# -eq 3 ] || usage

# join_parts DIR NAME TARGET: DIR/NAME.part-* -> TARGET, verified against DIR/NAME.sha256.
join_parts() {
  cat "$1/$2".part-* > "$3.tmp"
  if [ "$(cut -d' ' -f1 "$1/$2.sha256")" != "$(sha256sum "$3.tmp" | cut -d' ' -f1)" ]; then
    rm -f "$3.tmp"
    echo "carry_run: the parts in $1 do not add up to the saved $2 (sha256 differs)" >&2
    exit 1
  fi
  mv "$3.tmp" "$3"
}
case "$1" in
  save)
    run=$2 dir=$3
    [ -f "$run/pretrain/latest.ckpt" ] || { echo "carry_run: $run/pretrain/latest.ckpt is missing" >&2; exit 1; }
    cmp -s "$run/pretrain/latest.ckpt" "$run/pretrain/best.ckpt" ||
      { echo "carry_run: $run's latest.ckpt is not its best.ckpt; save at an epoch end that improved" >&2; exit 1; }
    mkdir -p "$dir"
    rm -f "$dir"/latest.ckpt.part-*
    cp "$run"/config.json "$run"/vocab.pt.txt "$run"/vocab.en.txt "$run"/metrics.jsonl "$dir"/
    split -b 40M -d "$run/pretrain/latest.ckpt" "$dir/latest.ckpt.part-"
    (cd "$run/pretrain" && sha256sum latest.ckpt) > "$dir/latest.ckpt.sha256"
    echo "carry_run: saved $run to $dir ($(ls "$dir"/latest.ckpt.part-* | wc -l) parts)"
    ;;
  restore)
    dir=$2 run=$3
    [ ! -e "$run/pretrain/latest.ckpt" ] || { echo "carry_run: $run already has a checkpoint; not overwriting it" >&2; exit 1; }
    mkdir -p "$run/pretrain"
    cp "$dir"/config.json "$dir"/vocab.pt.txt "$dir"/vocab.en.txt "$dir"/metrics.jsonl "$run"/
    join_parts "$dir" latest.ckpt "$run/pretrain/latest.ckpt"
    cp "$run/pretrain/latest.ckpt" "$run/pretrain/best.ckpt"
    echo "carry_run: restored $dir into $run; continue with: ./build/bcqnmt pretrain --run $run --epochs N"
    ;;
  save-model)
    run=$2 dir=$3
    [ -f "$run/pretrain/averaged.ckpt" ] || { echo "carry_run: $run/pretrain/averaged.ckpt is missing (bcqnmt average)" >&2; exit 1; }
    mkdir -p "$dir"
    rm -f "$dir"/model.ckpt.part-*
    cp "$run"/config.json "$run"/vocab.pt.txt "$run"/vocab.en.txt "$run"/metrics.jsonl "$dir"/
    split -b 40M -d "$run/pretrain/averaged.ckpt" "$dir/model.ckpt.part-"
    (cd "$run/pretrain" && sha256sum averaged.ckpt) > "$dir/model.ckpt.sha256"
    for variant in "$run"/quantized/*/; do
      [ -f "$variant/model.bcq" ] || continue
      mkdir -p "$dir/quantized/$(basename "$variant")"
      cp "$variant/settings.json" "$variant/model.bcq" "$dir/quantized/$(basename "$variant")/"
    done
    echo "carry_run: saved $run's models to $dir"
    ;;
  restore-model)
    dir=$2 run=$3
    [ ! -e "$run/pretrain/best.ckpt" ] || { echo "carry_run: $run already has a model; not overwriting it" >&2; exit 1; }
    mkdir -p "$run/pretrain"
    cp "$dir"/config.json "$dir"/vocab.pt.txt "$dir"/vocab.en.txt "$dir"/metrics.jsonl "$run"/
    join_parts "$dir" model.ckpt "$run/pretrain/best.ckpt"
    [ -d "$dir/quantized" ] && cp -r "$dir/quantized" "$run/"
    echo "carry_run: restored $dir's models into $run"
    ;;
  *) usage ;;
esac
