#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/, not committed) from the repository's own samples.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/parse_message corpus/compile_rules corpus/decrypt
for f in ../examples/messages/*.xml; do cp "$f" "corpus/parse_message/example-$(basename "$f")"; done
for f in ../tests/fixtures/messages/*.xml; do cp "$f" "corpus/parse_message/fixture-$(basename "$f")"; done
cp ../rules/*.toml corpus/compile_rules/
for f in ../tests/cmd/*.in/rules/*.toml; do cp "$f" "corpus/compile_rules/$(basename "$(dirname "$(dirname "$f")")")-$(basename "$f")"; done
grep -ho 'CDATA\[[A-Za-z0-9+/=]\{40,\}\]' ../tests/fixtures/messages/*.xml | sed 's/CDATA\[//; s/\]$//' | split -l 1 - corpus/decrypt/vector-
echo "seeded: $(ls corpus/parse_message | wc -l) messages, $(ls corpus/compile_rules | wc -l) rule files, $(ls corpus/decrypt | wc -l) ciphertexts"
