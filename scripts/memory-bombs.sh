#!/usr/bin/env bash
# Issue 14, finding 4: hostile inputs must be refused with exit 1 (never a
# Go out-of-memory crash, exit 2) and a maximum RSS under 500 MB. Builds
# vaec, makes each input in a temporary directory, runs the command under
# /usr/bin/time -v and prints exit code and peak RSS. Usage:
#   scripts/memory-bombs.sh            # from the repository root
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/vaec" "$root/cmd/vaec" || exit 1
vaec="$tmp/vaec"
mnist="$root/testdata/mnist/t10k-images-idx3-ubyte.gz"
cd "$tmp"

spec() { # name data-path shape [encoder units]
	cat > "$1.yaml" <<YAML
vaec: 1
name: $1
input: {shape: $3, scale: 1}
latent: 2
encoder: [{units: ${4:-16}}]
decoder: [{units: 16}]
likelihood: gaussian
data: {train: {path: $2${5:+, format: $5}}}
YAML
}

# One 1 GB line (no newline) in a 1 MB .csv.gz.
head -c 1000000000 /dev/zero | tr '\0' '1' | gzip -1 > line.csv.gz
spec csvline line.csv.gz '[3]'
# A 2-image IDX header followed by 1 GB of zeros, gzip (1 MB).
{ printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c 1000000000 /dev/zero; } | gzip -1 > trailing-idx3-ubyte.gz
spec trailing trailing-idx3-ubyte.gz '[1, 28, 28]'
# An IDX header declaring 100 million images (78 GB) over 1 MB of zeros.
{ printf '\x00\x00\x08\x03\x05\xf5\xe1\x00\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c 1000000 /dev/zero; } | gzip -1 > declared-idx3-ubyte.gz
spec declared declared-idx3-ubyte.gz '[1, 28, 28]'
# /dev/zero as the data file.
spec devzero /dev/zero '[3]' 16 csv
# A model of 270 billion parameters.
spec huge "$mnist" '[784]' '65536}, {units: 65536}, {units: 65536}, {units: 65536'
# 800,000 unknown keys (10 MB), and 300,000 (3.7 MB, under the spec cap).
{ echo 'vaec: 1'; seq -f 'k%.0f: 1' 800000; } > keys.yaml

run() { # label args...
	label=$1; shift
	/usr/bin/time -v -o time.txt "$vaec" "$@" > out.txt 2> err.txt
	code=$?
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' time.txt)
	printf '%-42s exit %d  max RSS %7d KB  %s\n' "$label" "$code" "$rss" "$(head -c 110 err.txt | tr '\n' ' ')"
}
run "build: 1 GB CSV line in .csv.gz"      build csvline.yaml --dir b1
run "build: IDX.gz, 1 GB past its header"  build trailing.yaml --dir b2
run "build: IDX header declaring 78 GB"    build declared.yaml --dir b3
run "build: /dev/zero as data"             build devzero.yaml --dir b4
run "build: /dev/zero as spec"             build /dev/zero --dir b5
run "build: 270e9-parameter model"         build huge.yaml --dir b6
run "build: 800,000 unknown keys"          build keys.yaml --dir b7
run "export: /dev/zero as checkpoint"      export --dir "$root/testdata/round1/build" --checkpoint /dev/zero --out b8
run "verify: /dev/zero as ONNX"            verify --dir "$root/testdata/round1/build" --encoder /dev/zero --decoder /dev/zero
run "inspect: /dev/zero as ONNX"           inspect /dev/zero
{ echo 'vaec: 1'; seq -f 'k%.0f: 1' 300000; } > keys300k.yaml
run "build: 300,000 unknown keys"          build keys300k.yaml --dir b9
"$vaec" build keys300k.yaml --dir b7 2>&1 | wc -l | sed 's/^/lines printed for 300,000 unknown keys: /'
