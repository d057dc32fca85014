#!/usr/bin/env bash
# Installs the pinned browser assets into static/vendor/ (git-ignored), integrity checked:
# htmx and its SSE extension (every page), Swagger UI (the API docs at /schema), so no page
# loads anything from another host, and axe-core (tests/test_axe.py injects it; no page loads it).
set -euo pipefail
cd "$(dirname "$0")/.."

dest=static/vendor
# name@version  sha512 integrity from the registry (`npm view NAME@VER dist.integrity`)
#   then one or more  file-inside-the-tarball=target-under-static/vendor
packages=(
  "htmx.org@2.0.11 sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA== package/dist/htmx.min.js=htmx.min.js"
  "htmx-ext-sse@2.2.4 sha512-LJmxVhykyflBWgh5PvbRidcyuqMHlgfajmmzumvKctv9puvsufeH6OaejSMZTNTnEI8O2wXXn4ZZtBdpEMqmEQ== package/dist/sse.min.js=sse.min.js"
  "axe-core@4.11.0 sha512-ilYanEU8vxxBexpJd8cWM4ElSQq4QctCLKih0TSfjIfCQTeyH/6zVrmIJfLPrKTKJRbiG+cfnZbQIjAlJmF1jQ== package/axe.min.js=axe/axe.min.js package/LICENSE=axe/LICENSE"
  "swagger-ui-dist@5.35.0 sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ== package/swagger-ui-bundle.js=swagger-ui/swagger-ui-bundle.js package/swagger-ui-standalone-preset.js=swagger-ui/swagger-ui-standalone-preset.js package/swagger-ui.css=swagger-ui/swagger-ui.css package/favicon-32x32.png=swagger-ui/favicon-32x32.png package/LICENSE=swagger-ui/LICENSE package/NOTICE=swagger-ui/NOTICE"
)

mkdir -p "$dest"
stamp="$dest/.installed"
want=$(printf '%s\n' "${packages[@]}" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed to install the browser assets (apt-get install npm)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for entry in "${packages[@]}"; do
  read -r spec integrity files <<<"$entry"
  tarball=$(cd "$work" && npm pack --silent "$spec" 2>/dev/null | tail -n 1)
  actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    echo "integrity check failed for $spec: expected $integrity, got $actual" >&2
    exit 1
  fi
  for pair in $files; do
    inner=${pair%%=*}
    target=${pair#*=}
    tar -xzf "$work/$tarball" -C "$work" "$inner"
    mkdir -p "$(dirname "$dest/$target")"
    cp "$work/$inner" "$dest/$target"
    echo "installed $spec $inner -> $dest/$target"
  done
  rm -rf "$work/package" "${work:?}/$tarball"
done
echo "$want" >"$stamp"
