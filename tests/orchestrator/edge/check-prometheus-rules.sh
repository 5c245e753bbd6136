#!/bin/sh
# check-prometheus-rules.sh PROMTOOL DIR — the alert rules in DIR must pass
# `promtool check rules` and their unit tests `promtool test rules` (ctest tst_prometheus_rules).
set -eu
promtool=$1
dir=$2
cd "$dir"
"$promtool" check rules alerts.yml
"$promtool" test rules alerts_test.yml
