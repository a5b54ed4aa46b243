#!/bin/bash
# End-to-end tests in booted kernels (see e2e/README.md). Placeholder until the harness lands.
echo "e2e: harness not yet implemented (issue 5)"
