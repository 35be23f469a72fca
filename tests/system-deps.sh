#!/bin/sh
# The programs the test suite drives that pip cannot install: Debian's Chromium and
# ChromeDriver (report pages rendered and printed to PDF) and poppler-utils (pdftoppm and
# pdftotext read the PDF back). Installs the missing ones with apt-get when run as root;
# otherwise names the command to run. Part of the README's test command.
set -eu
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
command -v pdftoppm >/dev/null 2>&1 || missing="$missing poppler-utils"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "the tests need:$missing (Debian: sudo apt-get install$missing)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
