#!/usr/bin/env bash
# Installs the pinned htmx and its SSE extension into static/vendor/ (git-ignored), integrity checked.
set -euo pipefail
cd "$(dirname "$0")/.."

dest=static/vendor
# name@version  sha512 integrity from the registry  file inside the tarball
packages=(
  "htmx.org@2.0.11 sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA== package/dist/htmx.min.js htmx.min.js"
  "htmx-ext-sse@2.2.4 sha512-LJmxVhykyflBWgh5PvbRidcyuqMHlgfajmmzumvKctv9puvsufeH6OaejSMZTNTnEI8O2wXXn4ZZtBdpEMqmEQ== package/dist/sse.min.js sse.min.js"
)

mkdir -p "$dest"
stamp="$dest/.installed"
want=$(printf '%s\n' "${packages[@]}" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed to install htmx (apt-get install npm)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for entry in "${packages[@]}"; do
  read -r spec integrity inner target <<<"$entry"
  tarball=$(cd "$work" && npm pack --silent "$spec" 2>/dev/null | tail -n 1)
  actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    echo "integrity check failed for $spec: expected $integrity, got $actual" >&2
    exit 1
  fi
  tar -xzf "$work/$tarball" -C "$work" "$inner"
  cp "$work/$inner" "$dest/$target"
  rm -rf "$work/package"
  echo "installed $spec -> $dest/$target"
done
echo "$want" >"$stamp"
