#!/bin/sh
if [ "$1" = "--version" ]; then echo "Version: 0.76.0"; exit 0; fi
echo 'FATAL scan error' >&2
exit 3
