#!/usr/bin/env python3
"""Copies the samples' code into README's examples.

A ```swift block whose first line is `// Samples/<path>` is replaced by that file, whole. A block
whose first line is `// Samples/<path> (excerpt)` is left alone (the tests check that it still
appears verbatim in the file). Run after changing a sample: python3 Scripts/sync-readme-examples.py
"""
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
readme = root / "README.md"
text = readme.read_text()


def replace(match):
    marker = match.group(1)
    if marker.endswith("(excerpt)"):
        return match.group(0)
    code = (root / marker).read_text()
    return "```swift\n// " + marker + "\n" + code + "```"


text = re.sub(r"```swift\n// (Samples/[^\n]+)\n.*?```", replace, text, flags=re.S)
readme.write_text(text)
