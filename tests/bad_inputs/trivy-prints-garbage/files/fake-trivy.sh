#!/bin/sh
if [ "$1" = "--version" ]; then echo "Version: 0.76.0"; exit 0; fi
echo 'this is not json'
exit 0
