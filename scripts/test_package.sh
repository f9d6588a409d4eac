#!/usr/bin/env bash
# The package as a user gets it: `npm pack` (which builds, through `prepare`), the tarball
# unpacked into a scratch project in a temporary directory, every entry point and the README's
# engine example type-checked there against the installed declarations (strict, no
# skipLibCheck) and run with node, and the colar-wgpu command started. Offline: the package's
# dependencies are linked from this repository's node_modules rather than fetched. Prints one
# PASS or FAIL line.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
log="$scratch/log"

fail() {
  cat "$log" >&2
  echo "test_package: FAIL: $1"
  exit 1
}

cd "$repo"
npm pack --silent --pack-destination "$scratch" >"$log" 2>&1 || fail "npm pack"
tarball="$(ls "$scratch"/*.tgz)"

app="$scratch/app"
mkdir -p "$app/node_modules/colar-wgpu"
tar -xzf "$tarball" -C "$app/node_modules/colar-wgpu" --strip-components=1
# The package's dependencies, plus what a TypeScript user of it has: @types/node.
for dep in $(node -p "Object.keys(require('./package.json').dependencies).join(' ')") @types/node; do
  mkdir -p "$(dirname "$app/node_modules/$dep")"
  ln -s "$repo/node_modules/$dep" "$app/node_modules/$dep"
done

# The first ```ts block of the README's "The engine as a library" section.
awk '/^## /{inside = ($0 ~ /^## The engine as a library/)} inside && /^```ts$/{code=1; next} code && /^```$/{exit} code' README.md >"$app/example.ts"
[ -s "$app/example.ts" ] || fail "no TypeScript example under README.md's \"## The engine as a library\""

cat >"$app/package.json" <<'JSON'
{ "name": "colar-wgpu-package-test", "private": true, "type": "module" }
JSON
cat >"$app/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext",
    "strict": true, "skipLibCheck": false, "types": ["node"], "outDir": "out"
  },
  "files": ["example.ts", "entries.ts"]
}
JSON

# Every entry point in "exports" resolves, with its declarations.
node -e '
  const entries = Object.keys(require("./package.json").exports).filter((e) => e !== "./package.json");
  for (const e of entries) {
    const name = e.slice(2).replace(/\W/g, "_");
    console.log(`import * as ${name} from "colar-wgpu/${e.slice(2)}";`);
    console.log(`console.log("colar-wgpu/${e.slice(2)}:", Object.keys(${name}).length, "exports");`);
  }' >"$app/entries.ts"

"$repo/node_modules/.bin/tsc" -p "$app/tsconfig.json" >"$log" 2>&1 || fail "the README's engine example or an entry point does not type-check against the packed package"
(cd "$app" && node out/entries.js && node out/example.js) >"$log" 2>"$scratch/stderr" || { cat "$scratch/stderr" >>"$log"; fail "the README's engine example or an entry point does not run from the packed package"; }
bin="$app/node_modules/colar-wgpu/$(node -p "require('./package.json').bin['colar-wgpu']")"
node "$bin" --version >>"$log" 2>&1 || fail "the colar-wgpu command does not run from the packed package"
(cd "$app" && node "$bin" train --preset small --print-config) | grep -q '^  layers: 3$' || fail "the packed package does not resolve its presets (configs/ missing?)"
cat "$log"
echo "test_package: PASS ($(basename "$tarball"): packed, installed; every entry point and the README's engine example type-checked and run; the command starts and reads its presets)"
