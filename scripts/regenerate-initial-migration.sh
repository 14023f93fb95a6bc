#!/usr/bin/env bash
# Until the first release, the schema is one migration (0001) regenerated from the models.
# After a release, add new revisions with `xyd db migrate` instead of running this.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f xinyidai/migrations/versions/0001_initial_schema.py
sed -i 's/^down_revision = .*/down_revision = None/' xinyidai/migrations/versions/0002_reference_data.py
mv xinyidai/migrations/versions/0002_reference_data.py "$tmp/"
XYD_INSTANCE_PATH="$tmp" .venv/bin/xyd db migrate -m "initial schema" --rev-id 0001
mv "$tmp/0002_reference_data.py" xinyidai/migrations/versions/
sed -i 's/^down_revision = .*/down_revision = "0001"/' xinyidai/migrations/versions/0002_reference_data.py
rm -rf "$tmp"
