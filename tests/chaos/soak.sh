#!/usr/bin/env bash
# soak.sh [HOURS]: the long version of the chaos scenarios, outside CI: each scenario runs
# for HOURS / 4 (default 1 hour in all) with a fault every ~20 s, then report.sh writes the
# table into docs/reliability.md.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hours=${1:-1}
per=$(python3 -c "print(int(float('$hours') * 3600 / 4))")
export MT_CHAOS_SECONDS=$per
export MT_CHAOS_ROUNDS=$((per / 20 > 1 ? per / 20 : 1))
exec bash "$here/report.sh"
