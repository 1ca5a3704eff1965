"""Parses the gateway's /metrics with the Prometheus Python client's own text-format parser
(prometheus_client.parser.text_string_to_metric_families) and prints every sample as JSON:
[{"family": ..., "type": ..., "name": ..., "labels": {...}, "value": ...}, ...].
Usage: metrics_parse.py URL"""

import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main() -> None:
    with urllib.request.urlopen(sys.argv[1]) as response:
        content_type = response.headers.get("content-type", "")
        assert content_type.startswith("text/plain"), content_type
        text = response.read().decode("utf-8")
    samples = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.append(
                {
                    "family": family.name,
                    "type": family.type,
                    "name": sample.name,
                    "labels": sample.labels,
                    "value": sample.value,
                }
            )
    print(json.dumps(samples))


if __name__ == "__main__":
    main()
