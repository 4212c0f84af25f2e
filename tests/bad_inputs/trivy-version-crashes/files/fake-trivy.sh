#!/bin/sh
echo 'panic: runtime error' >&2
exit 3
