#!/usr/bin/env bash
# Downloads the TED hrlr pt->en corpus (Qi et al. 2018, qi18naacl-dataset.tar.gz layout),
# checks its sha256 and extracts it to DEST/datasets/pt_to_en/{pt,en}.{train,dev,test}.
#
#   scripts/fetch_data.sh [--if-missing] [--sha256 HEX] [URL] [DEST]
#
# URL   default: the Holberton School course mirror of the authors' qi18naacl-dataset.tar.gz
#       (the upstream tarball is offline; see data/README.md). file:// URLs work too.
# DEST  default: ./ted_hrlr_pt_to_en, where bcqnmt looks by default; elsewhere, pass it to
#       bcqnmt as --data DEST or BCQNMT_DATA=DEST.
# --if-missing: do nothing when bcqnmt would already find a corpus ($BCQNMT_DATA,
#       ../shared/data/ted_hrlr_pt_to_en or DEST, as data/corpus.h default_data_dirs says).
# --sha256 HEX (or env BCQNMT_DATA_SHA256): the expected checksum, for another mirror.
# Nothing is extracted unless the checksum matches; DEST/datasets must not exist yet.
set -euo pipefail

default_url="https://github.com/zeynabmirzazada/holbertonschool-machine_learning/raw/161fa8bf98852d1578a545523d56d57f4c69c738/supervised_learning/transformer_apps/ted_hrlr_pt_to_en.tar.gz"
expected="${BCQNMT_DATA_SHA256:-e753eac6bbc55e513146ee6994ebe9de45d977187f34b510cad5f00400c228c5}"

die() { echo "fetch_data: $*" >&2; exit 1; }

args=()
if_missing=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sha256) [ $# -ge 2 ] || die "--sha256 needs a value"; expected="$2"; shift 2 ;;
    --sha256=*) expected="${1#--sha256=}"; shift ;;
    --if-missing) if_missing=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -le 2 ] || die "too many arguments (usage: fetch_data.sh [--if-missing] [--sha256 HEX] [URL] [DEST])"
url="${args[0]:-$default_url}"
dest="${args[1]:-ted_hrlr_pt_to_en}"
expected="$(echo "$expected" | tr 'A-F' 'a-f')"
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die "expected sha256 '$expected' is not 64 hex digits"
if [ "$if_missing" -eq 1 ]; then
  # The places bcqnmt looks in, in its order (data/corpus.cpp resolve_data_dir).
  for found in "${BCQNMT_DATA:-}" ../shared/data/ted_hrlr_pt_to_en "$dest"; do
    if [ -n "$found" ] && [ -d "$found" ]; then
      echo "fetch_data: corpus found in $found; nothing to fetch"
      exit 0
    fi
  done
fi
[ ! -e "$dest/datasets" ] || die "$dest/datasets already exists; remove it or choose another DEST"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
archive="$work/corpus.tar.gz"

echo "fetch_data: downloading $url"
if command -v curl >/dev/null 2>&1; then
  curl --fail --location --silent --show-error --output "$archive" "$url" || die "download of $url failed"
elif command -v wget >/dev/null 2>&1; then
  wget --quiet --output-document="$archive" "$url" || die "download of $url failed"
else
  die "neither curl nor wget is installed"
fi

actual="$(sha256sum "$archive" | cut -d' ' -f1)"
if [ "$actual" != "$expected" ]; then
  die "checksum mismatch for $url: got $actual, expected $expected (another mirror? pass --sha256 HEX); nothing extracted"
fi

# macOS AppleDouble entries (._*) carry no data.
mkdir -p "$work/extract"
tar -xzf "$archive" -C "$work/extract" --exclude='._*' || die "cannot extract $url (not a .tar.gz?)"
source_dir="$(find "$work/extract" -type d -name pt_to_en -print -quit)"
[ -n "$source_dir" ] || die "the archive has no pt_to_en directory (expected datasets/pt_to_en/{pt,en}.{train,dev,test})"
for split in train dev test; do
  for lang in pt en; do
    [ -f "$source_dir/$lang.$split" ] || die "the archive lacks pt_to_en/$lang.$split"
  done
done

mkdir -p "$dest/datasets"
mv "$source_dir" "$dest/datasets/pt_to_en"
echo "fetch_data: corpus in $dest/datasets/pt_to_en (use --data $dest or BCQNMT_DATA=$dest)"
