#!/usr/bin/env bash
# Renders the demo bot's prompts (examples/demo-bot.json) to 8 kHz μ-law WAV files under
# assets/prompts/. Needs espeak-ng, sox and node.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node -e '
  const bot = require("./examples/demo-bot.json");
  for (const node of Object.values(bot.config.nodes)) {
    if (node.prompt?.audio) console.log(node.prompt.audio + "\t" + node.prompt.text);
  }
' | sort -u | while IFS=$'\t' read -r file text; do
  espeak-ng -v "$(node -p 'require("./examples/demo-bot.json").config.voice')" -s 160 \
    -w "$tmp/prompt.wav" "$text"
  mkdir -p "assets/prompts/$(dirname "$file")"
  sox "$tmp/prompt.wav" -r 8000 -c 1 -e mu-law "assets/prompts/$file"
  echo "rendered assets/prompts/$file"
done
