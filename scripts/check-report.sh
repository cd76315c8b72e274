#!/usr/bin/env bash
# Renders an HTML report (viz/report.h) with headless Chromium and checks that the screenshot is not blank.
#
#   scripts/check-report.sh <report.html> <out.png> [WIDTHxHEIGHT]     (default 1200x2400)
#
# Chromium: $CHROMIUM, else `chromium` or `chromium-browser` on the PATH (Debian 12: apt-get install chromium). Exit
# status: 0 the screenshot was written and looks like a page with content; 1 it is missing, too small, or nearly
# uniform (a blank or error page); 2 usage error; 77 Chromium is not installed (the test that calls this skips then).
# The check decodes the PNG with a small pure-Python decoder (python3 with zlib; no packages): at least 16 distinct
# colours, and at least 1% of the pixels differing from the most common colour (the background).
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 <report.html> <out.png> [WIDTHxHEIGHT]" >&2
  exit 2
fi
report=$1
png=$2
size=${3:-1200x2400}
if [[ ! "$size" =~ ^[0-9]+x[0-9]+$ ]]; then
  echo "check-report: size must be WIDTHxHEIGHT, got '$size'" >&2
  exit 2
fi
if [ ! -f "$report" ]; then
  echo "check-report: no such file: $report" >&2
  exit 1
fi

browser=${CHROMIUM:-}
if [ -z "$browser" ]; then
  for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then
      browser=$candidate
      break
    fi
  done
fi
if [ -z "$browser" ]; then
  echo "check-report: Chromium not found (install it: apt-get install chromium, or set CHROMIUM)" >&2
  exit 77
fi

abs_report=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
out_dir=$(dirname "$png")
mkdir -p "$out_dir"
abs_png=$(cd "$out_dir" && pwd)/$(basename "$png")
rm -f "$abs_png"
# A throw-away profile, so that runs do not share (or lock) one.
profile=$(mktemp -d "${TMPDIR:-/tmp}/check-report-profile.XXXXXX")
trap 'rm -rf "$profile"' EXIT

start=$(date +%s%N)
status=0
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
  --hide-scrollbars --force-device-scale-factor=1 --user-data-dir="$profile" \
  --window-size="${size/x/,}" --screenshot="$abs_png" "file://$abs_report" >"$profile/chromium.log" 2>&1 || status=$?
end=$(date +%s%N)
if [ "$status" -ne 0 ] || [ ! -s "$abs_png" ]; then
  echo "check-report: $browser failed (exit status $status); its output:" >&2
  cat "$profile/chromium.log" >&2
  exit 1
fi
echo "check-report: Chromium rendered $report in $(( (end - start) / 1000000 )) ms"

python3 - "$abs_png" <<'PY'
import struct, sys, zlib

path = sys.argv[1]
data = open(path, "rb").read()
if len(data) < 2000 or data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"check-report: {path}: not a PNG or too small ({len(data)} bytes)")
pos, idat, header = 8, [], None
while pos + 8 <= len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        header = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat.append(body)
    elif kind == b"IEND":
        break
    pos += 12 + length
if header is None:
    sys.exit(f"check-report: {path}: no IHDR chunk")
width, height, depth, color_type, _, _, interlace = header
channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color_type)
if depth != 8 or channels is None or interlace != 0:
    sys.exit(f"check-report: {path}: unsupported PNG (depth {depth}, colour type {color_type}, interlace {interlace})")
raw = zlib.decompress(b"".join(idat))
stride = width * channels
if len(raw) != height * (stride + 1):
    sys.exit(f"check-report: {path}: {len(raw)} bytes of image data, expected {height * (stride + 1)}")

# Undo the per-row filters (PNG spec section 9), then count colours on every other row and column.
prev = bytearray(stride)
counts = {}
bpp = channels
for y in range(height):
    kind = raw[y * (stride + 1)]
    row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if kind == 1:
        for i in range(bpp, stride):
            row[i] = (row[i] + row[i - bpp]) & 255
    elif kind == 2:
        row = bytearray((a + b) & 255 for a, b in zip(row, prev))
    elif kind == 3:
        for i in range(stride):
            left = row[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + ((left + prev[i]) >> 1)) & 255
    elif kind == 4:
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            row[i] = (row[i] + pred) & 255
    elif kind != 0:
        sys.exit(f"check-report: {path}: bad filter type {kind} in row {y}")
    if y % 2 == 0:
        step = 2 * bpp
        for x in range(0, stride, step):
            key = bytes(row[x:x + bpp])
            counts[key] = counts.get(key, 0) + 1
    prev = row

total = sum(counts.values())
background = max(counts.values())
content = 1 - background / total
print(f"check-report: {path}: {width}x{height}, {len(data)} bytes, {len(counts)} distinct colours, "
      f"{100 * content:.1f}% of pixels differ from the background")
if len(counts) < 16 or content < 0.01:
    sys.exit("check-report: the screenshot looks blank (fewer than 16 colours or under 1% non-background pixels)")
PY
